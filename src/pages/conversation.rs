use crate::app::use_chat;
use crate::components::{composer::Composer, message::MessageBubble};
use crate::error::AppError;
use crate::model::{ConversationWithMessages, Message, MessageStatus, Role};
use crate::server::chat::{regenerate_answer, send_message, stop_generation};
use crate::server::conversations::get_conversation;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

#[component]
pub fn ConversationPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| Uuid::parse_str(&s).ok())
    };
    let data = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_conversation(id).await,
            None => Err(AppError::NotFound("conversation".into())),
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="p-8 text-center text-zinc-400">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(conversation) => view! { <ChatView data=conversation/> }.into_any(),
                    Err(AppError::NotFound(_)) => view! {
                        <div class="p-8 text-center" data-testid="not-found">
                            <p>"This conversation does not exist (any more)."</p>
                            <a class="text-blue-600 underline" href="/">"Start a new chat"</a>
                        </div>
                    }.into_any(),
                    Err(error) => view! {
                        <p role="alert" class="p-8 text-center text-red-600">{error.to_string()}</p>
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

#[component]
fn ChatView(data: ConversationWithMessages) -> impl IntoView {
    let chat = use_chat();
    let conversation_id = data.conversation.id;
    chat.selected_model
        .set(Some(data.conversation.model.clone()));
    let title = data.conversation.title.clone();
    let messages = RwSignal::new(data.messages.into_iter().map(Row::new).collect::<Vec<_>>());
    let text = RwSignal::new(String::new());
    let sending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let streaming = Memo::new(move |_| {
        messages.with(|rows| {
            rows.iter()
                .any(|r| r.data.with(|m| m.status == MessageStatus::Streaming))
        })
    });
    let last_id = Memo::new(move |_| messages.with(|rows| rows.last().map(|r| r.id)));
    let followers = live::Followers::new();

    // Answers still being written (this page was opened or reloaded mid-answer) continue live.
    Effect::new(move |_| {
        for row in messages.get_untracked() {
            if row
                .data
                .with_untracked(|m| m.status == MessageStatus::Streaming)
            {
                followers.follow(row.id, row.data, chat);
            }
        }
    });

    // Keep the newest text in view, unless the person scrolled up to read.
    let scroller = NodeRef::<leptos::html::Div>::new();
    let pinned = RwSignal::new(true);
    Effect::new(move |_| {
        messages.with(|rows| {
            if let Some(last) = rows.last() {
                last.data.track();
            }
        });
        if pinned.get_untracked() {
            if let Some(el) = scroller.get_untracked() {
                el.set_scroll_top(el.scroll_height());
            }
        }
    });
    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            pinned.set(el.scroll_height() - el.scroll_top() - el.client_height() < 48);
        }
    };

    let on_send = Callback::new(move |content: String| {
        sending.set(true);
        error.set(None);
        let model = chat.selected_model.get_untracked();
        spawn_local(async move {
            match send_message(Some(conversation_id), content, model).await {
                Ok(outcome) => {
                    text.set(String::new());
                    let answer = Row::new(outcome.assistant_message);
                    messages.update(|rows| {
                        rows.push(Row::new(outcome.user_message));
                        rows.push(answer);
                    });
                    pinned.set(true);
                    followers.follow(answer.id, answer.data, chat);
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
                    Ok(message) => row.data.set(message),
                    Err(e) => error.set(Some(e.to_string())),
                }
            });
        }
    });

    let on_regenerate = Callback::new(move |_| {
        error.set(None);
        sending.set(true);
        let model = chat.selected_model.get_untracked();
        spawn_local(async move {
            match regenerate_answer(conversation_id, model).await {
                Ok(message) => {
                    let answer = Row::new(message);
                    messages.update(|rows| {
                        if rows
                            .last()
                            .is_some_and(|r| r.data.with_untracked(|m| m.role == Role::Assistant))
                        {
                            rows.pop();
                        }
                        rows.push(answer);
                    });
                    pinned.set(true);
                    followers.follow(answer.id, answer.data, chat);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            sending.set(false);
        });
    });

    view! {
        <Title text=format!("{title} · OllamaStack")/>
        <div
            node_ref=scroller
            on:scroll=on_scroll
            on:click=live::copy_code_on_click
            data-testid="messages"
            class="min-h-0 flex-1 overflow-y-auto"
        >
            <div class="mx-auto flex w-full max-w-3xl flex-col gap-4 px-4 py-6">
                <For each=move || messages.get() key=|row| row.id let:row>
                    <MessageBubble
                        message=row.data
                        is_last=Signal::derive(move || last_id.get() == Some(row.id))
                        busy=Signal::derive(move || sending.get() || streaming.get())
                        on_regenerate
                    />
                </For>
            </div>
        </div>
        {move || error.get().map(|e| view! {
            <p role="alert" data-testid="send-error" class="mx-auto w-full max-w-3xl px-3 text-sm text-red-600">{e}</p>
        })}
        <Composer text streaming sending on_send on_stop/>
    }
}

/// Following answers live in the browser, over server-sent events.
mod live {
    use crate::app::ChatContext;
    use crate::model::Message;
    use leptos::prelude::*;
    use uuid::Uuid;

    /// The live streams of one page; all are closed when the page goes away.
    #[derive(Clone, Copy)]
    pub struct Followers {
        #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
        cancels: StoredValue<Vec<futures::channel::oneshot::Sender<()>>>,
    }

    impl Followers {
        pub fn new() -> Followers {
            let cancels = StoredValue::new(Vec::<futures::channel::oneshot::Sender<()>>::new());
            on_cleanup(move || {
                if let Some(senders) = cancels.try_update_value(std::mem::take) {
                    for sender in senders {
                        let _ = sender.send(());
                    }
                }
            });
            Followers { cancels }
        }

        /// Streams the answer `id` into `data` until it is final: a snapshot of the text, then
        /// each piece as the model writes it. The browser reconnects by itself after a network
        /// error, and the server then starts again from a snapshot.
        #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
        pub fn follow(&self, id: Uuid, data: RwSignal<Message>, chat: ChatContext) {
            #[cfg(feature = "hydrate")]
            {
                use crate::model::StreamEvent;
                use futures::{FutureExt, StreamExt};
                use gloo_net::eventsource::futures::EventSource;

                let (cancel_tx, cancel_rx) = futures::channel::oneshot::channel::<()>();
                self.cancels.update_value(|c| c.push(cancel_tx));
                leptos::task::spawn_local(async move {
                    let Ok(mut source) = EventSource::new(&format!("/api/v1/messages/{id}/events"))
                    else {
                        return;
                    };
                    let Ok(mut events) = source.subscribe("message") else {
                        source.close();
                        return;
                    };
                    let mut cancel = cancel_rx.fuse();
                    loop {
                        futures::select! {
                            _ = cancel => break,
                            item = events.next().fuse() => match item {
                                Some(Ok((_, event))) => {
                                    let Some(json) = event.data().as_string() else { continue };
                                    match serde_json::from_str::<StreamEvent>(&json) {
                                        Ok(StreamEvent::Snapshot { content }) => {
                                            let _ = data.try_update(|m| m.content = content);
                                        }
                                        Ok(StreamEvent::Delta { content }) => {
                                            let _ = data.try_update(|m| m.content.push_str(&content));
                                        }
                                        Ok(StreamEvent::Done { message }) => {
                                            let _ = data.try_set(*message);
                                            chat.refresh_conversations();
                                            break;
                                        }
                                        Err(_) => {}
                                    }
                                }
                                // A connection error: EventSource retries on its own.
                                Some(Err(_)) => {}
                                None => break,
                            }
                        }
                    }
                    source.close();
                });
            }
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
