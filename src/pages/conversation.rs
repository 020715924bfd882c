use crate::components::{
    attachments::{follow_knowledge, on_drop_files, AttachWithoutScript, Attachments},
    composer::Composer,
    conversation_settings::ConversationSettings,
    message::MessageBubble,
    upload::Uploads,
};
use crate::context::use_chat;
use crate::error::AppError;
use crate::model::FileInfo;
use crate::model::{AnswerVersions, ConversationWithMessages, Message, MessageStatus, Role};
use crate::pages::documents::poll_while_indexing;
use crate::server_fns::chat::{
    edit_message, regenerate_answer, send_message, show_answer_version, stop_generation,
};
use crate::server_fns::conversations::{get_conversation, older_messages};
use crate::server_fns::documents::{attach_file, conversation_files, get_upload_limits};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_query_map};
use uuid::Uuid;

/// The conversation in view (`/c/:id`, `?before=`), read once for its page and for the
/// header's model picker. The header comes first in the page, so a picker waiting for the page
/// to set the model rendered the default model instead of the conversation's (without
/// JavaScript, the next message then went to that model).
#[derive(Clone, Copy)]
pub struct ConversationInView(pub Resource<Result<ConversationWithMessages, AppError>>);

/// Provided by the frame around every page; on other pages it reads nothing.
pub fn provide_conversation_in_view() {
    let location = use_location();
    let query = use_query_map();
    let key = move || {
        let id = location.pathname.with(|path| {
            let id = path.strip_prefix("/c/")?.trim_end_matches('/');
            Uuid::parse_str(id).ok()
        })?;
        Some((id, earlier_than(query)))
    };
    let data = Resource::new(key, |key| async move {
        match key {
            Some((id, before)) => get_conversation(id, before).await,
            None => Err(AppError::NotFound("conversation".into())),
        }
    });
    provide_context(ConversationInView(data));
}

/// `?before=<message>`: the messages just before that one (how earlier messages are read
/// without JavaScript); otherwise the latest.
fn earlier_than(query: Memo<leptos_router::params::ParamsMap>) -> Option<Uuid> {
    query
        .read()
        .get("before")
        .and_then(|s| Uuid::parse_str(&s).ok())
}

#[component]
pub fn ConversationPage() -> impl IntoView {
    let query = use_query_map();
    let data = expect_context::<ConversationInView>().0;
    view! {
        <Suspense fallback=|| view! { <p class="p-8 text-center text-muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(conversation) => {
                        let earlier_window = earlier_than(query).is_some();
                        view! { <ChatView data=conversation earlier_window/> }.into_any()
                    }
                    Err(AppError::NotFound(_)) => view! {
                        <div class="p-8 text-center" data-testid="not-found">
                            <p>"This conversation does not exist (any more)."</p>
                            <a class="text-primary underline" href="/">"Start a new chat"</a>
                        </div>
                    }.into_any(),
                    Err(error) => view! {
                        <p role="alert" class="p-8 text-center text-danger">{error.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A message on the page; its data is a signal of its own so a streaming answer re-renders alone.
#[derive(Clone, Copy)]
struct Row {
    id: Uuid,
    data: RwSignal<Message>,
}

impl Row {
    fn new(message: Message) -> Row {
        Row {
            id: message.id,
            data: RwSignal::new(message),
        }
    }
}

/// `earlier_window`: the page shows messages before a given one (`?before=`), not the latest.
#[component]
fn ChatView(data: ConversationWithMessages, earlier_window: bool) -> impl IntoView {
    let chat = use_chat();
    let conversation_id = data.conversation.id;
    let has_older = RwSignal::new(data.has_older);
    chat.selected_model
        .set(Some(chat.listed_model(data.conversation.model.clone())));
    // The conversation remembers its assistant; its tools apply unless others are picked.
    chat.selected_assistant.set(data.conversation.assistant_id);
    chat.enabled_tools.set(Vec::new());
    let title = data.conversation.title.clone();
    // A branch links back to the conversation it came from, while that exists.
    let branched_from = data.conversation.branched_from.map(|source| {
        let source_title = data
            .branched_from_title
            .clone()
            .unwrap_or_else(|| "another conversation".into());
        view! {
            <p data-testid="branched-from" class="self-center text-sm text-muted">
                "Branched from "
                <a href=format!("/c/{source}") class="underline hover:text-fg">{source_title}</a>
            </p>
        }
    });
    let settings_for = data.conversation.clone();
    let (attached_at_start, knowledge_at_start) = (data.files.clone(), data.knowledge.clone());
    let attached = RwSignal::new(data.files.clone());
    let knowledge = follow_knowledge(chat.selected_assistant, data.knowledge.clone());
    let messages = RwSignal::new(data.messages.into_iter().map(Row::new).collect::<Vec<_>>());
    // A message the composer's form could not send without JavaScript comes back, with
    // the reason.
    let (draft, send_error) = crate::components::composer::unsent_message();
    let text = RwSignal::new(draft);
    let sending = RwSignal::new(false);
    let error = RwSignal::new(send_error);
    // Documents: attached at once (uploaded here, or chosen among the person's), followed
    // while they are indexed.
    poll_while_indexing(attached.into(), move || {
        spawn_local(async move {
            if let Ok(list) = conversation_files(conversation_id).await {
                attached.try_set(list);
            }
        })
    });
    let attach = move |file_id: Uuid, attach: bool| {
        spawn_local(async move {
            match attach_file(conversation_id, file_id, attach, false).await {
                Ok(list) => {
                    attached.try_set(list);
                }
                Err(e) => {
                    error.try_set(Some(e.to_string()));
                }
            }
        })
    };
    let limits = Resource::new(|| (), |_| get_upload_limits());
    let limits = Signal::derive(move || limits.get().and_then(Result::ok));
    // Images go with the next message (to a model that can see), not to the conversation.
    let pending_images = RwSignal::new(Vec::<FileInfo>::new());
    let on_add = Callback::new(move |file: FileInfo| {
        if file.kind.is_image() {
            pending_images.update(|images| {
                if !images.iter().any(|i| i.id == file.id) {
                    images.push(file);
                }
            });
        } else {
            attach(file.id, true)
        }
    });
    let uploads = Uploads::new(limits, on_add);
    let on_remove = Callback::new(move |id: Uuid| {
        if pending_images.with_untracked(|images| images.iter().any(|i| i.id == id)) {
            pending_images.update(|images| images.retain(|i| i.id != id));
        } else {
            attach(id, false)
        }
    });
    let chips = Signal::derive(move || {
        let mut files = attached.get();
        files.extend(pending_images.get());
        files
    });
    let has_images = Signal::derive(move || pending_images.with(|images| !images.is_empty()));
    // The message cards show the indexing status of the documents they sent.
    provide_context(crate::components::message::ConversationFiles(
        attached.into(),
    ));
    // The answer being written, if any (the latest step of an agent run).
    let running = Memo::new(move |_| {
        messages.with(|rows| {
            rows.iter()
                .rev()
                .find(|r| r.data.with(|m| m.status == MessageStatus::Streaming))
                .map(|r| r.id)
        })
    });
    let streaming = Memo::new(move |_| running.get().is_some());
    let last_id = Memo::new(move |_| messages.with(|rows| rows.last().map(|r| r.id)));
    let followers = live::Followers::new(messages, chat);

    // What other tabs and devices do here shows here too: messages sent, answers ended, the
    // conversation deleted (its text stays readable here, with nothing to send it to).
    let deleted_elsewhere = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |seen: Option<u64>| {
        chat.heard.track();
        let (version, message, deleted) = chat.activity.with_value(|a| {
            let (version, message) = a.messages_of(conversation_id);
            (version, message, a.deleted.contains(&conversation_id))
        });
        if deleted {
            deleted_elsewhere.set(true);
        }
        let known = message.is_some_and(|message| {
            messages.with_untracked(|rows| rows.iter().any(|r| r.id == message))
        });
        // Heard since this page last looked, not its own message or answer (it shows it
        // already), not in an earlier window of the history.
        if seen.is_some_and(|seen| version > seen) && !known && !deleted && !earlier_window {
            spawn_local(async move { followers.catch_up(conversation_id).await });
        }
        version
    });

    // Answers still being written (this page was opened or reloaded mid-answer) continue live.
    Effect::new(move |_| {
        for row in messages.get_untracked() {
            if row
                .data
                .with_untracked(|m| m.status == MessageStatus::Streaming)
            {
                followers.follow(row);
            }
        }
    });

    // Keep the newest text in view, unless the person scrolled up to read.
    let scroller = NodeRef::<leptos::html::Div>::new();
    let pinned = RwSignal::new(true);
    // Where this code last scrolled the list to. A scroll event comes a frame after the person
    // scrolls, and a token can come first: the list must not be pulled back down then.
    let followed_to = StoredValue::new(0);
    let scroll_to_end = move |el: &leptos::web_sys::HtmlDivElement| {
        el.set_scroll_top(el.scroll_height());
        followed_to.set_value(el.scroll_top());
    };
    Effect::new(move |_| {
        messages.with(|rows| {
            if let Some(last) = rows.last() {
                last.data.track();
            }
        });
        if !pinned.get_untracked() {
            return;
        }
        let Some(el) = scroller.get_untracked() else {
            return;
        };
        let top = el.scroll_top();
        // Higher than where it was left, and not because the text got shorter (the browser
        // then moves the list up itself, to its new end): the person scrolled up.
        let at_end = top >= el.scroll_height() - el.client_height() - 1;
        if top + 2 < followed_to.get_value() && !at_end {
            pinned.set(false);
            return;
        }
        scroll_to_end(&el);
    });
    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            pinned.set(el.scroll_height() - el.scroll_top() - el.client_height() < 48);
        }
    };
    // Scrolled up to read: one click back to the newest text, which is then followed again.
    let to_latest = move |_| {
        if let Some(el) = scroller.get_untracked() {
            scroll_to_end(&el);
        }
        pinned.set(true);
    };

    let on_send = Callback::new(move |content: String| {
        sending.set(true);
        error.set(None);
        let model = chat.model_to_send();
        let assistant = chat.assistant_to_send();
        spawn_local(async move {
            let tools = chat.enabled_tools.get_untracked();
            let images =
                pending_images.with_untracked(|images| images.iter().map(|i| i.id).collect());
            match send_message(
                Some(conversation_id),
                content,
                model,
                tools,
                assistant,
                images,
            )
            .await
            {
                Ok(outcome) => {
                    crate::components::composer::draft::forget(Some(conversation_id));
                    text.set(String::new());
                    pending_images.set(Vec::new());
                    if earlier_window {
                        // The answer goes under the latest messages, not under this window:
                        // open them (the answer is followed there as it is written).
                        #[cfg(feature = "hydrate")]
                        let _ = window()
                            .location()
                            .set_href(&format!("/c/{conversation_id}"));
                        return;
                    }
                    chat.tool_mode.set(outcome.tool_mode);
                    chat.notice.set(outcome.notice.clone());
                    chat.selected_model
                        .set(outcome.assistant_message.model.clone());
                    let answer = Row::new(outcome.assistant_message);
                    // This page may have heard of them already (and follows the answer then).
                    let mut added = false;
                    messages.update(|rows| {
                        if !rows.iter().any(|r| r.id == answer.id) {
                            rows.retain(|r| r.id != outcome.user_message.id);
                            rows.push(Row::new(outcome.user_message));
                            rows.push(answer);
                            added = true;
                        }
                    });
                    pinned.set(true);
                    if added {
                        followers.follow(answer);
                    }
                    chat.refresh_conversations();
                }
                // The text stays in the box: nothing typed is lost.
                Err(e) => error.set(Some(e.to_string())),
            }
            sending.set(false);
        });
    });

    let on_stop = Callback::new(move |_| {
        let running = messages.with_untracked(|rows| {
            rows.iter()
                .rev()
                .find(|r| {
                    r.data
                        .with_untracked(|m| m.status == MessageStatus::Streaming)
                })
                .copied()
        });
        if let Some(row) = running {
            spawn_local(async move {
                match stop_generation(row.id).await {
                    Ok(message) => row.data.set(keep_versions(row.data, message)),
                    Err(e) => error.set(Some(e.to_string())),
                }
            });
        }
    });

    let on_edit = Callback::new(move |(edited, content): (Uuid, String)| {
        error.set(None);
        sending.set(true);
        let model = chat.selected_model.get_untracked();
        spawn_local(async move {
            match edit_message(edited, content, model).await {
                Ok(outcome) => {
                    let answer = Row::new(outcome.assistant_message);
                    messages.update(|rows| {
                        // What came after the edited message is replaced by the new answer.
                        if let Some(at) = rows.iter().position(|r| r.id == edited) {
                            rows.truncate(at + 1);
                            rows[at].data.set(outcome.user_message);
                        }
                        rows.push(answer);
                    });
                    pinned.set(true);
                    followers.follow(answer);
                    chat.refresh_conversations();
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            sending.set(false);
        });
    });

    let on_regenerate = Callback::new(move |_| {
        error.set(None);
        sending.set(true);
        let model = chat.selected_model.get_untracked();
        spawn_local(async move {
            let tools = chat.enabled_tools.get_untracked();
            match regenerate_answer(conversation_id, model, tools).await {
                Ok(message) => {
                    let answer = Row::new(message);
                    messages.update(|rows| {
                        // The answer (every step of an agent run) was set aside as a version.
                        if let Some(person) = rows
                            .iter()
                            .rposition(|r| r.data.with_untracked(|m| m.role == Role::User))
                        {
                            rows.truncate(person + 1);
                        }
                        rows.push(answer);
                    });
                    pinned.set(true);
                    followers.follow(answer);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            sending.set(false);
        });
    });

    // Another version of an answer: the page takes in the conversation as it now stands.
    let on_show_version = Callback::new(move |version_id: Uuid| {
        error.set(None);
        sending.set(true);
        #[cfg(feature = "hydrate")]
        let shown_before = followers.shown();
        spawn_local(async move {
            match show_answer_version(conversation_id, version_id).await {
                #[cfg(feature = "hydrate")]
                Ok(page) => followers.merge(page.messages, &shown_before),
                #[cfg(not(feature = "hydrate"))]
                Ok(_) => {}
                Err(e) => error.set(Some(e.to_string())),
            }
            sending.set(false);
        });
    });
    // An answer's "‹ 2/3 ›" goes under its last message (an agent run's final step), from
    // its first message's `versions`. Roles and versions are read untracked: they change
    // only with the rows, and the memo is not run again for every streamed token.
    let version_marks = Memo::new(move |_| {
        messages.with(|rows| {
            let mut marks: Vec<(Uuid, AnswerVersions)> = Vec::new();
            let mut open: Option<AnswerVersions> = None;
            // A tool's step shows no footer: the mark goes on the answer's last bubble.
            let mut last_bubble: Option<Uuid> = None;
            for (at, row) in rows.iter().enumerate() {
                let (role, versions) = row.data.with_untracked(|m| (m.role, m.versions.clone()));
                if role == Role::User {
                    (open, last_bubble) = (None, None);
                    continue;
                }
                open = versions.or(open);
                if role != Role::Tool {
                    last_bubble = Some(row.id);
                }
                let ends_answer = rows
                    .get(at + 1)
                    .is_none_or(|next| next.data.with_untracked(|m| m.role == Role::User));
                if ends_answer {
                    if let (Some(versions), Some(id)) = (open.take(), last_bubble) {
                        marks.push((id, versions));
                    }
                }
            }
            marks
        })
    });

    // Earlier messages go on top, and what the person was reading stays where it was.
    let loading_older = RwSignal::new(false);
    let show_older = move |ev: leptos::ev::MouseEvent| {
        let Some(first) = messages.with_untracked(|rows| rows.first().map(|r| r.id)) else {
            return;
        };
        ev.prevent_default();
        if loading_older.get_untracked() {
            return;
        }
        loading_older.set(true);
        spawn_local(async move {
            match older_messages(conversation_id, first).await {
                Ok(page) => {
                    let height = scroller.get_untracked().map(|el| el.scroll_height());
                    messages.update(|rows| {
                        let known: std::collections::HashSet<Uuid> =
                            rows.iter().map(|r| r.id).collect();
                        let older = page
                            .messages
                            .into_iter()
                            .filter(|m| !known.contains(&m.id))
                            .map(Row::new);
                        rows.splice(0..0, older);
                    });
                    has_older.set(page.has_older);
                    if let Some(height) = height {
                        keep_reading_position(scroller, height);
                    }
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            loading_older.set(false);
        });
    };
    let older_href = move || {
        messages.with(|rows| {
            rows.first()
                .map(|r| format!("/c/{conversation_id}?before={}", r.id))
                .unwrap_or_default()
        })
    };

    // Escape stops the answer being written, wherever the focus is.
    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            // Not an Escape that closed a menu (it marks itself handled: see `App`).
            if ev.key() == "Escape" && !ev.default_prevented() && streaming.get_untracked() {
                on_stop.run(());
            }
        });
        on_cleanup(move || handle.remove());
    }

    view! {
        <Title text={
            // The model may name the conversation after its first answer: the tab follows.
            let rendered = title.clone();
            move || crate::app::page_title(&chat.known_title(conversation_id).unwrap_or_else(|| rendered.clone()))
        }/>
        <ConversationSettings conversation=settings_for/>
        <ManageWithoutScript id=conversation_id title=title.clone()/>
        <div
            node_ref=scroller
            on:scroll=on_scroll
            on:click=live::copy_code_on_click
            data-testid="messages"
            on:dragover=|ev: leptos::ev::DragEvent| ev.prevent_default()
            on:drop=on_drop_files(uploads)
            role="log"
            aria-live="polite"
            aria-label="Messages"
            // Without JavaScript nothing scrolls to the newest message: the list starts at
            // its end instead (the one child, in reverse).
            class="min-h-0 flex-1 overflow-y-auto noscript:flex noscript:flex-col-reverse"
        >
            <div class="mx-auto flex w-full max-w-(--chat-max-width) flex-col gap-4 px-4 py-6">
                {branched_from}
                <Show when=move || has_older.get()>
                    <a
                        href=older_href
                        on:click=show_older
                        data-testid="earlier-messages"
                        aria-busy=move || loading_older.get().to_string()
                        class="self-center rounded-full border border-line px-3 py-1 text-sm text-muted hover:text-fg"
                    >
                        {move || if loading_older.get() { "Loading…" } else { "Earlier messages" }}
                    </a>
                </Show>
                <For each=move || messages.get() key=|row| row.id let:row>
                    <MessageBubble
                        message=row.data
                        is_last=Signal::derive(move || last_id.get() == Some(row.id))
                        busy=Signal::derive(move || sending.get() || streaming.get())
                        versions=Signal::derive(move || version_marks.with(|marks| {
                            marks.iter().find(|(id, _)| *id == row.id).map(|(_, v)| v.clone())
                        }))
                        on_regenerate
                        on_edit
                        on_show_version
                    />
                </For>
                {earlier_window.then(|| view! {
                    <a
                        href=format!("/c/{conversation_id}")
                        data-testid="latest-messages"
                        class="self-center rounded-full border border-line px-3 py-1 text-sm text-muted hover:text-fg"
                    >
                        "Latest messages"
                    </a>
                })}
            </div>
        </div>
        <div class="relative h-0">
            <Show when=move || !pinned.get()>
                <button
                    type="button"
                    data-testid="to-latest"
                    on:click=to_latest
                    class="absolute bottom-3 left-1/2 -translate-x-1/2 rounded-full border border-line bg-app px-3 py-1 text-sm text-fg shadow-md hover:bg-surface"
                >
                    {move || if streaming.get() { "↓ Follow the answer" } else { "↓ Latest" }}
                </button>
            </Show>
        </div>
        {move || error.get().map(|e| view! {
            <p role="alert" data-testid="send-error" class="mx-auto w-full max-w-(--chat-max-width) px-3 text-sm text-danger">{e}</p>
        })}
        {move || (chat.tool_mode.get() == Some(crate::model::ToolMode::Prompted)).then(|| view! {
            <p data-testid="tool-mode" class="mx-auto w-full max-w-(--chat-max-width) px-3 text-xs text-muted">
                "Tools by prompt: this model has no native tool calling, so each step asks it for one JSON reply."
            </p>
        })}
        {move || chat.notice.get().map(|notice| view! {
            <p data-testid="turn-notice" role="status" class="mx-auto w-full max-w-(--chat-max-width) px-3 text-xs text-warning">
                {notice}
            </p>
        })}
        {move || deleted_elsewhere.get().then(|| view! {
            <p data-testid="deleted-elsewhere" role="status" class="mx-auto w-full max-w-(--chat-max-width) p-3 text-sm text-muted">
                "This conversation was deleted in another tab or on another device. "
                <a class="text-primary underline" href="/">"Start a new chat"</a>
            </p>
        })}
        // Kept (hidden) rather than dropped: what was typed is not lost with it.
        <div class=move || if deleted_elsewhere.get() { "hidden" } else { "contents" }>
            <Attachments files=chips knowledge uploads on_add on_remove/>
            <AttachWithoutScript conversation=conversation_id files=attached_at_start knowledge=knowledge_at_start running/>
            <FollowWithoutScript running/>
            <Composer text streaming sending on_send on_stop uploads has_images conversation=conversation_id/>
        </div>
    }
}

/// Without JavaScript, the answer being written is followed by reloading the page every two
/// seconds, with a Stop form beside the notice. It is all inside `<noscript>`, which a browser
/// running scripts keeps as inert text: the live page follows the answer itself.
#[component]
fn FollowWithoutScript(running: Memo<Option<Uuid>>) -> impl IntoView {
    move || {
        running.get().map(|id| {
            use leptos::server_fn::ServerFn;
            let stop = crate::server_fns::chat::StopGeneration::PATH;
            let html = format!(
                r#"<meta http-equiv="refresh" content="2"><div data-testid="follow-without-script" class="mx-auto flex w-full max-w-(--chat-max-width) items-center gap-3 p-3 text-sm text-muted"><p role="status" class="flex-1">The answer is being written. This page reloads every 2 seconds until it is done.</p><form method="post" action="{stop}"><input type="hidden" name="message_id" value="{id}"><button type="submit" data-testid="stop-without-script" class="rounded-xl border border-line bg-surface px-4 py-2.5 font-medium text-fg hover:opacity-90">Stop</button></form></div>"#
            );
            view! { <noscript inner_html=html/> }
        })
    }
}

/// Without JavaScript the sidebar's rename and delete buttons do nothing: the conversation in
/// view is renamed or deleted through these forms instead (a `<details>` opens without
/// scripts; Delete needs its box ticked). Rendered by the server only: a browser running
/// scripts keeps `<noscript>` as inert text, so the WASM carries none of it.
#[component]
fn ManageWithoutScript(id: Uuid, title: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let html = {
        use crate::markdown::escape_html;
        use crate::server_fns::conversations::{
            DeleteConversation, RenameConversation, MANAGE_ERROR,
        };
        use leptos::server_fn::ServerFn;
        let error = use_query_map().with_untracked(|query| query.get(MANAGE_ERROR));
        let (open, error) = match error {
            Some(error) => (
                " open",
                format!(
                    r#"<p role="alert" data-testid="manage-error" class="mt-1 text-danger">{}</p>"#,
                    escape_html(&error)
                ),
            ),
            None => ("", String::new()),
        };
        format!(
            r#"<details data-testid="manage-without-script" class="mx-auto w-full max-w-(--chat-max-width) px-4 pt-2 text-sm"{open}><summary class="cursor-pointer text-muted">Rename or delete this conversation</summary>{error}<form method="post" action="{rename}" class="mt-2 flex gap-2"><input type="hidden" name="id" value="{id}"><label for="rename-without-script" class="sr-only">New title</label><input id="rename-without-script" name="title" value="{title}" required maxlength="{max}" class="min-w-0 flex-1 rounded border border-line bg-app px-2 py-1"><button type="submit" data-testid="rename-without-script" class="rounded border border-line px-3 py-1 font-medium">Rename</button></form><form method="post" action="{delete}" class="mt-2 flex flex-wrap items-center gap-2"><input type="hidden" name="id" value="{id}"><label class="flex items-center gap-1"><input type="checkbox" name="confirm" required data-testid="confirm-delete-without-script"> Delete this conversation and all its messages</label><button type="submit" data-testid="delete-without-script" class="rounded bg-danger px-3 py-1 font-medium text-on-primary">Delete</button></form></details>"#,
            rename = RenameConversation::PATH,
            delete = DeleteConversation::PATH,
            title = escape_html(&title),
            max = crate::model::MAX_TITLE_CHARS,
        )
    };
    #[cfg(not(feature = "ssr"))]
    let html = {
        let _ = (id, title);
        String::new()
    };
    view! { <noscript inner_html=html/> }
}

/// After rows were put above what the person reads, scrolls by their height (once the list
/// has been redrawn), so the same text stays in view.
fn keep_reading_position(scroller: NodeRef<leptos::html::Div>, height_before: i32) {
    request_animation_frame(move || {
        if let Some(el) = scroller.get_untracked() {
            el.set_scroll_top(el.scroll_top() + el.scroll_height() - height_before);
        }
    });
}

/// `message` as the row shows it: an answer's final form (from its stream, or from Stop) does
/// not say where it stands among its versions, which only change with the rows themselves.
fn keep_versions(shown: RwSignal<Message>, mut message: Message) -> Message {
    if message.versions.is_none() {
        message.versions = shown.try_with_untracked(|m| m.versions.clone()).flatten();
    }
    message
}

/// Following answers live in the browser, over server-sent events.
mod live {
    use super::Row;
    use crate::context::ChatContext;
    #[cfg(feature = "hydrate")]
    use crate::model::Message;
    use leptos::prelude::*;

    /// The live streams of one page; all are closed when the page goes away.
    #[derive(Clone, Copy)]
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub struct Followers {
        cancels: StoredValue<Vec<futures::channel::oneshot::Sender<()>>>,
        /// The page's rows: an agent run adds its next steps here as they start.
        rows: RwSignal<Vec<Row>>,
        chat: ChatContext,
    }

    impl Followers {
        pub fn new(rows: RwSignal<Vec<Row>>, chat: ChatContext) -> Followers {
            let cancels = StoredValue::new(Vec::<futures::channel::oneshot::Sender<()>>::new());
            on_cleanup(move || {
                if let Some(senders) = cancels.try_update_value(std::mem::take) {
                    for sender in senders {
                        let _ = sender.send(());
                    }
                }
            });
            Followers {
                cancels,
                rows,
                chat,
            }
        }

        /// Adds a row the page does not show yet (the next step of an agent run) and follows
        /// it while it streams.
        #[cfg(feature = "hydrate")]
        fn add(&self, message: Message) {
            // A step that already ended is followed too: its `done` event names the row after
            // it, and so on to the answer (tool calls end in microseconds).
            let follow =
                message.status == crate::model::MessageStatus::Streaming || message.is_agent_step();
            let row = Row::new(message);
            let mut added = false;
            let _ = self.rows.try_update(|rows| {
                if !rows.iter().any(|r| r.id == row.id) {
                    rows.push(row);
                    added = true;
                }
            });
            if added && follow {
                self.follow(row);
            }
        }

        /// Brings the page up to date with the stored conversation: an agent run went on
        /// while this page could not hear it, or another tab or device sent a message, edited
        /// one (its text changed, what followed it is gone), had an answer written again or
        /// showed another version of one.
        #[cfg(feature = "hydrate")]
        pub async fn catch_up(&self, conversation_id: uuid::Uuid) {
            let shown_before = self.shown();
            if let Ok(stored) =
                crate::server_fns::conversations::get_conversation(conversation_id, None).await
            {
                self.merge(stored.messages, &shown_before);
            }
        }

        /// The ids of the rows shown now (before a read of the stored conversation).
        #[cfg(feature = "hydrate")]
        pub fn shown(&self) -> Vec<uuid::Uuid> {
            self.rows
                .try_with_untracked(|rows| rows.iter().map(|r| r.id).collect())
                .unwrap_or_default()
        }

        /// Takes in the conversation's latest page as stored, read after the rows
        /// `shown_before` were shown: rows it no longer holds go, changed ones are updated,
        /// new ones are added and followed.
        #[cfg(feature = "hydrate")]
        pub fn merge(&self, stored: Vec<Message>, shown_before: &[uuid::Uuid]) {
            let span = stored
                .first()
                .zip(stored.last())
                .map(|(first, last)| ((first.created_at, first.id), (last.created_at, last.id)));
            if let Some((oldest, newest)) = span {
                // A page of messages at most: a search through it is cheap.
                let by_id = |id: uuid::Uuid| stored.iter().find(|m| m.id == id);
                let _ = self.rows.try_update(|rows| {
                    // Gone: a row the stored page does not hold, unless it is older than the
                    // page (not in it) or was added while the page was read. An answer set
                    // aside for another version goes too, though it is newer than the page.
                    rows.retain(|row| {
                        let at = row.data.with_untracked(|m| (m.created_at, m.id));
                        by_id(row.id).is_some()
                            || at < oldest
                            || (at > newest && !shown_before.contains(&row.id))
                    });
                    for row in rows.iter() {
                        let Some(message) = by_id(row.id) else {
                            continue;
                        };
                        let changed = row.data.with_untracked(|shown| {
                            shown.status != message.status
                                || shown.content != message.content
                                || shown.versions != message.versions
                        });
                        if message.status.is_final() && changed {
                            row.data.set(message.clone());
                        }
                    }
                });
            }
            for message in stored {
                self.add(message);
            }
        }

        /// Streams the answer `id` into `data` until it is final: a snapshot of the text, then
        /// each piece as the model writes it. The browser reconnects by itself after a network
        /// error, and the server then starts again from a snapshot.
        #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
        pub fn follow(&self, row: Row) {
            #[cfg(feature = "hydrate")]
            {
                let (id, data, chat, followers) = (row.id, row.data, self.chat, *self);
                use crate::model::StreamEvent;
                use futures::{FutureExt, StreamExt};
                use gloo_net::eventsource::futures::EventSource;

                let (cancel_tx, cancel_rx) = futures::channel::oneshot::channel::<()>();
                self.cancels.update_value(|c| c.push(cancel_tx));
                leptos::task::spawn_local(async move {
                    let mut cancel = cancel_rx.fuse();
                    let batch = FrameBatch::new(data);
                    let mut backoff_ms = 500u32;
                    'connect: loop {
                        let Ok(mut source) =
                            EventSource::new(&format!("/api/v1/messages/{id}/events?render=html"))
                        else {
                            break;
                        };
                        let Ok(mut events) = source.subscribe("message") else {
                            source.close();
                            break;
                        };
                        loop {
                            futures::select! {
                                _ = cancel => {
                                    source.close();
                                    break 'connect;
                                }
                                item = events.next().fuse() => match item {
                                    Some(Ok((_, event))) => {
                                        backoff_ms = 500;
                                        let Some(json) = event.data().as_string() else { continue };
                                        match StreamEvent::from_json(&json) {
                                            Ok(StreamEvent::Snapshot { content, thinking }) => {
                                                batch.replace(content);
                                                let _ = data.try_update(|m| {
                                                    m.thinking = (!thinking.is_empty()).then_some(thinking)
                                                });
                                            }
                                            Ok(StreamEvent::Thinking { content }) => {
                                                let _ = data.try_update(|m| {
                                                    m.thinking.get_or_insert_default().push_str(&content)
                                                });
                                            }
                                            Ok(StreamEvent::Delta { content }) => batch.push(&content),
                                            Ok(event @ StreamEvent::Html { .. }) => {
                                                let fits = data.try_update(|m| {
                                                    m.html.get_or_insert_default().apply(&event)
                                                });
                                                // Out of step with the server: start again
                                                // from a snapshot and a whole render.
                                                if fits == Some(false) {
                                                    break;
                                                }
                                            }
                                            Ok(StreamEvent::Done { message, next }) => {
                                                batch.discard();
                                                let step = message.is_agent_step();
                                                let conversation_id = message.conversation_id;
                                                let _ = data.try_set(super::keep_versions(data, *message));
                                                source.close();
                                                match next {
                                                    Some(next) => followers.add(*next),
                                                    // A step finished elsewhere: read what followed.
                                                    None if step => followers.catch_up(conversation_id).await,
                                                    None => chat.refresh_conversations_until_titled(conversation_id),
                                                }
                                                break 'connect;
                                            }
                                            Err(_) => {}
                                        }
                                    }
                                    // 404, 5xx or the network: handled below, not by the
                                    // browser's own endless retries.
                                    Some(Err(_)) | None => break,
                                }
                            }
                        }
                        source.close();
                        batch.flush();
                        // The stream failed: the stored row says whether the answer is over.
                        let conversation_id = data.with_untracked(|m| m.conversation_id);
                        // The latest page: an answer being written is among the last messages.
                        match crate::server_fns::conversations::get_conversation(
                            conversation_id,
                            None,
                        )
                        .await
                        {
                            Ok(stored) => match stored.messages.into_iter().find(|m| m.id == id) {
                                Some(message) if message.status.is_final() => {
                                    let step = message.is_agent_step();
                                    let _ = data.try_set(message);
                                    chat.refresh_conversations_until_titled(conversation_id);
                                    if step {
                                        followers.catch_up(conversation_id).await;
                                    }
                                    break 'connect;
                                }
                                Some(message) => {
                                    let _ = data.try_update(|m| {
                                        m.content = message.content;
                                        m.html = message.html;
                                    });
                                }
                                None => {
                                    gone(data);
                                    break 'connect;
                                }
                            },
                            Err(crate::error::AppError::NotFound(_)) => {
                                gone(data);
                                break 'connect;
                            }
                            // The server does not answer: try again later.
                            Err(_) => {}
                        }
                        let woken = crate::components::time::sleep(
                            std::time::Duration::from_millis(backoff_ms.into()),
                        );
                        futures::select! {
                            _ = cancel => break 'connect,
                            _ = woken.fuse() => {}
                        }
                        backoff_ms = (backoff_ms * 2).min(15_000);
                    }
                });
            }
        }
    }

    /// The answer was deleted while the page followed it: it is not streaming any more.
    #[cfg(feature = "hydrate")]
    fn gone(data: RwSignal<Message>) {
        let _ = data.try_update(|m| {
            m.status = crate::model::MessageStatus::Error;
            m.error = Some("this answer no longer exists".into());
        });
    }

    /// Deltas are applied once per animation frame, not once per token: a fast model's many
    /// small pieces cost one re-render per frame.
    #[cfg(feature = "hydrate")]
    struct FrameBatch {
        data: RwSignal<Message>,
        pending: std::rc::Rc<std::cell::RefCell<String>>,
        scheduled: std::rc::Rc<std::cell::Cell<bool>>,
    }

    #[cfg(feature = "hydrate")]
    impl FrameBatch {
        fn new(data: RwSignal<Message>) -> FrameBatch {
            FrameBatch {
                data,
                pending: Default::default(),
                scheduled: Default::default(),
            }
        }

        fn push(&self, text: &str) {
            self.pending.borrow_mut().push_str(text);
            if self.scheduled.replace(true) {
                return;
            }
            let (data, pending, scheduled) =
                (self.data, self.pending.clone(), self.scheduled.clone());
            request_animation_frame(move || {
                scheduled.set(false);
                let text = std::mem::take(&mut *pending.borrow_mut());
                if !text.is_empty() {
                    let _ = data.try_update(|m| m.content.push_str(&text));
                }
            });
        }

        /// A snapshot replaces the text; deltas not yet shown belong to the text it replaces.
        fn replace(&self, content: String) {
            self.discard();
            let _ = self.data.try_update(|m| m.content = content);
        }

        fn flush(&self) {
            let text = std::mem::take(&mut *self.pending.borrow_mut());
            if !text.is_empty() {
                let _ = self.data.try_update(|m| m.content.push_str(&text));
            }
        }

        fn discard(&self) {
            self.pending.borrow_mut().clear();
        }
    }

    /// Copy buttons of code blocks: one listener for the whole list, since the markdown is
    /// inserted as HTML.
    pub fn copy_code_on_click(ev: leptos::ev::MouseEvent) {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(target) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            else {
                return;
            };
            // A citation opens its passage under the answer.
            if target.has_attribute("data-citation") {
                let passage = target
                    .get_attribute("href")
                    .and_then(|href| href.strip_prefix('#').map(str::to_string))
                    .and_then(|id| web_sys::window()?.document()?.get_element_by_id(&id));
                if let Some(passage) = passage {
                    let _ = passage.set_attribute("open", "");
                }
                return;
            }
            if !target.has_attribute("data-copy-code") {
                return;
            }
            let code = target
                .closest(".code-block")
                .ok()
                .flatten()
                .and_then(|block| block.query_selector("code").ok().flatten())
                .and_then(|code| code.text_content());
            if let Some(code) = code {
                crate::components::message::copy_to_clipboard(&code);
                target.set_text_content(Some("Copied"));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    }
}
