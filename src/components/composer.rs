use crate::context::use_chat;
use crate::server_fns::tools::list_tools;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// How the box's keys work (with JavaScript; without it Enter breaks the line).
const KEYS_HINT: &str = "Enter sends, Shift+Enter starts a new line";

/// The message box: Enter sends, Shift+Enter breaks the line, Stop while an answer streams.
/// The text belongs to the parent, which clears it only once the message is stored.
///
/// Without JavaScript (turned off, or the page not live yet) the form posts to the
/// `send_message` server function itself, which answers with a redirect to the conversation.
/// While an answer is written, that page follows it by reloading (see `FollowWithoutScript`),
/// so the box is hidden there: a reload would take away what is being typed.
#[component]
pub fn Composer(
    text: RwSignal<String>,
    #[prop(into)] streaming: Signal<bool>,
    #[prop(into)] sending: Signal<bool>,
    on_send: Callback<String>,
    on_stop: Callback<()>,
    /// The conversation a message goes to (none: a new one).
    #[prop(optional)]
    conversation: Option<uuid::Uuid>,
    /// Where pasted files (a screenshot, a copied image) are uploaded.
    #[prop(optional)]
    uploads: Option<crate::components::upload::Uploads>,
    /// Images wait to be sent: a message may then be sent without text.
    #[prop(optional, into)]
    has_images: Signal<bool>,
) -> impl IntoView {
    let preferences = crate::components::preferences::use_preferences();
    // Tools switched off on this server (`features.custom_tools`): no menu.
    let tools_on = move || preferences.current.with(|p| p.features.custom_tools);
    let submit = move || {
        let value = text.get_untracked();
        let has_content = !value.trim().is_empty() || has_images.get_untracked();
        if has_content && !sending.get_untracked() && !streaming.get_untracked() {
            on_send.run(value);
        }
    };
    let rows = move || text.with(|t| t.lines().count().clamp(1, 8));
    // Server-rendered, Send is enabled: the form then works before (or without) the WASM.
    let live = RwSignal::new(false);
    Effect::new(move |_| live.set(true));
    keep_text_typed_before_live(text);
    // A draft this tab kept (the page reloaded, or the browser crashed and restored the tab)
    // comes back once the page is live, unless the box already holds text.
    Effect::new(move |_| {
        if text.with_untracked(|t| t.trim().is_empty()) {
            if let Some(saved) = draft::saved(conversation) {
                text.set(saved);
            }
        }
    });
    // The text the page opens with (a message a form could not send, given back), as the
    // box's own content: without JavaScript nothing else would show it.
    #[cfg(feature = "ssr")]
    let initial_html = crate::markdown::escape_html(&text.get_untracked());
    #[cfg(not(feature = "ssr"))]
    let initial_html = String::new();
    #[cfg(feature = "ssr")]
    let pending_images_html = pending_images_html();
    #[cfg(not(feature = "ssr"))]
    let pending_images_html = String::new();
    view! {
        <form
            id=COMPOSER_FORM_ID
            method="post"
            action=send_path()
            data-testid="composer-form"
            class="mx-auto flex w-full max-w-(--chat-max-width) items-end gap-2 p-3"
            class=("noscript:hidden", move || streaming.get())
            on:submit=move |ev| {
                ev.prevent_default();
                submit();
            }
        >
            {conversation.map(|id| view! { <input type="hidden" name="conversation_id" value=id.to_string()/> })}
            // Images uploaded by the conversation page's form without JavaScript go with the
            // message; in a browser running scripts this is inert text.
            <noscript inner_html=pending_images_html/>
            {move || tools_on().then(|| view! { <ToolPicker/> })}
            <label for="composer" class="sr-only">"Message"</label>
            <span id="composer-keys" class="sr-only">{KEYS_HINT}</span>
            <textarea
                id="composer"
                name="content"
                data-testid="composer"
                class="min-h-[2.75rem] flex-1 resize-none rounded-xl border border-line bg-app px-3 py-2.5 shadow-sm focus:border-primary focus:outline-none"
                // Short: on a phone a longer one was cut off mid-sentence. The keys are
                // told to screen readers below and shown to the mouse as a tooltip.
                placeholder="Send a message"
                title=KEYS_HINT
                aria-describedby="composer-keys"
                rows=rows
                inner_html=initial_html
                prop:value=move || text.get()
                on:input=move |ev| {
                    let typed = event_target_value(&ev);
                    draft::save(conversation, &typed);
                    text.set(typed);
                }
                on:paste=move |ev: leptos::ev::ClipboardEvent| {
                    // Files on the clipboard are uploaded like dropped ones; text pastes as text.
                    #[cfg(feature = "hydrate")]
                    if let Some(uploads) = uploads {
                        let files = crate::components::upload::files_of(
                            ev.clipboard_data().and_then(|data| data.files()),
                        );
                        if !files.is_empty() {
                            ev.prevent_default();
                            uploads.start(files);
                        }
                    }
                    #[cfg(not(feature = "hydrate"))]
                    let _ = (&ev, uploads);
                }
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            <Show
                when=move || streaming.get()
                fallback=move || view! {
                    <button
                        type="submit"
                        data-testid="send"
                        class="rounded-xl bg-primary px-4 py-2.5 font-medium text-on-primary hover:opacity-90 disabled:opacity-50"
                        disabled=move || {
                            sending.get()
                                || (live.get() && text.with(|t| t.trim().is_empty()) && !has_images.get())
                        }
                    >
                        {move || if sending.get() { "Sending…" } else { "Send" }}
                    </button>
                }
            >
                <button
                    type="button"
                    data-testid="stop"
                    // As the page's Stop without JavaScript: text on the surface colour (the
                    // primary's text colour there was white on near-white in the light theme).
                    class="rounded-xl border border-line bg-surface px-4 py-2.5 font-medium text-fg hover:opacity-90"
                    on:click=move |_| on_stop.run(())
                >
                    "Stop"
                </button>
            </Show>
        </form>
    }
}

/// Hidden fields naming the images that the conversation page's upload form (without
/// JavaScript) left waiting in the address, as the `files` of `send_message`.
#[cfg(feature = "ssr")]
fn pending_images_html() -> String {
    use crate::server_fns::documents::PENDING_IMAGE;
    let images = use_query_map().with_untracked(|q| q.get_all(PENDING_IMAGE).unwrap_or_default());
    images
        .iter()
        .filter_map(|id| id.parse::<uuid::Uuid>().ok())
        .enumerate()
        .map(|(at, id)| format!(r#"<input type="hidden" name="files[{at}]" value="{id}">"#))
        .collect()
}

/// What was typed into the server-rendered box before the page went live stays: hydration
/// would otherwise set the box to the (empty) text it knows.
fn keep_text_typed_before_live(text: RwSignal<String>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let hydrating = Owner::current_shared_context().is_some_and(|c| c.during_hydration());
        let typed = document()
            .get_element_by_id("composer")
            .and_then(|el| el.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
            .map(|el| el.value())
            .filter(|typed| !typed.trim().is_empty());
        if let (true, Some(typed)) = (hydrating, typed) {
            text.set(typed);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// The text and the error the composer's form came back with when a message could not be
/// sent without JavaScript: the error in the address (`?send_error=…`), the text from the
/// cookie the server keeps it in (see `send_message`). The browser's own code never sees the
/// cookie: while the page hydrates, the box keeps the text the server rendered into it.
pub fn unsent_message() -> (String, Option<String>) {
    let send_error =
        use_query_map().with_untracked(|query| query.get(crate::server_fns::chat::SEND_ERROR));
    #[cfg(feature = "ssr")]
    let draft = send_error
        .as_ref()
        .and_then(|_| crate::server_fns::chat::unsent_draft())
        .unwrap_or_default();
    #[cfg(not(feature = "ssr"))]
    let draft = String::new();
    (draft, send_error)
}

/// What is typed but not sent yet, kept in the tab's session storage (one per conversation,
/// one for a new chat) so that a reload or a crash of the tab does not lose it. Session
/// storage, not local: it goes with the tab, so a person who uses the browser after this
/// tab is closed never sees it. The page that sends forgets it once the message is stored.
pub mod draft {
    use uuid::Uuid;

    #[cfg(feature = "hydrate")]
    fn storage() -> Option<web_sys::Storage> {
        leptos::prelude::window().session_storage().ok().flatten()
    }

    #[cfg(feature = "hydrate")]
    fn key(conversation: Option<Uuid>) -> String {
        match conversation {
            Some(id) => format!("ollamastack.draft.{id}"),
            None => "ollamastack.draft.new".to_string(),
        }
    }

    /// Keeps `text` as the draft (a blank one is forgotten). Full or blocked storage is
    /// ignored: the box itself still holds the text.
    pub fn save(conversation: Option<Uuid>, text: &str) {
        #[cfg(feature = "hydrate")]
        if let Some(storage) = storage() {
            let key = key(conversation);
            let _ = if text.trim().is_empty() {
                storage.remove_item(&key)
            } else {
                storage.set_item(&key, text)
            };
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (conversation, text);
    }

    /// Called once the message is stored.
    pub fn forget(conversation: Option<Uuid>) {
        save(conversation, "");
    }

    #[cfg(feature = "hydrate")]
    pub(super) fn saved(conversation: Option<Uuid>) -> Option<String> {
        storage()
            .and_then(|storage| storage.get_item(&key(conversation)).ok().flatten())
            .filter(|text| !text.trim().is_empty())
    }

    /// On the server there is no draft: the page is rendered with an empty box.
    #[cfg(not(feature = "hydrate"))]
    pub(super) fn saved(_conversation: Option<Uuid>) -> Option<String> {
        None
    }
}

/// The composer's form, which the header's model picker belongs to as well (its `form`
/// attribute): without JavaScript, the picked model is sent with the message.
pub const COMPOSER_FORM_ID: &str = "composer-form";

/// Where the composer's form posts without JavaScript: the `send_message` server function.
pub fn send_path() -> &'static str {
    use leptos::server_fn::ServerFn;
    crate::server_fns::chat::SendMessage::PATH
}

/// Which tools the next answer may call. With none picked, the model answers plainly; with
/// some, the answer is an agent run whose steps show as they happen.
#[component]
fn ToolPicker() -> impl IntoView {
    let chat = use_chat();
    let tools = Resource::new(|| (), |_| list_tools());
    let count = move || chat.enabled_tools.with(Vec::len);
    view! {
        <details data-menu data-testid="tool-picker" class="relative self-center text-sm">
            <summary class="cursor-pointer select-none rounded-lg border border-line px-2 py-1.5">
                "Tools" {move || (count() > 0).then(|| format!(" ({})", count()))}
            </summary>
            <div class="absolute bottom-full left-0 z-10 mb-2 max-h-[60vh] w-72 overflow-y-auto rounded-lg border border-line bg-app p-2 shadow-lg">
                <Suspense fallback=|| view! { <p class="text-muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match tools.await {
                            Ok(tools) => tools.into_iter().map(|tool| {
                                let name = tool.name.clone();
                                let checked = {
                                    let name = name.clone();
                                    move || chat.enabled_tools.with(|enabled| enabled.contains(&name))
                                };
                                let toggle = {
                                    let name = name.clone();
                                    move |_| chat.enabled_tools.update(|enabled| {
                                        if let Some(i) = enabled.iter().position(|n| *n == name) {
                                            enabled.remove(i);
                                        } else {
                                            enabled.push(name.clone());
                                        }
                                    })
                                };
                                view! {
                                    <label class="flex cursor-pointer gap-2 rounded p-1 hover:bg-surface">
                                        <input type="checkbox" data-testid=format!("tool-{name}") prop:checked=checked on:change=toggle/>
                                        <span>
                                            <span class="font-mono font-medium">{tool.name}</span>
                                            <span class="block text-xs text-muted">{tool.description}</span>
                                        </span>
                                    </label>
                                }
                            }).collect_view().into_any(),
                            Err(error) => view! { <p role="alert" class="text-danger">{error.to_string()}</p> }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </details>
    }
}
