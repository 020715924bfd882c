use super::chart::ChartFigure;
use super::time::MessageTime;
use crate::model::{AnswerVersions, Message, MessageStatus, Role};
use leptos::prelude::*;

/// One message. Assistant text is shown as sanitised markdown (rendered on the server), live
/// while it streams; the person's own text is shown exactly as typed.
#[component]
pub fn MessageBubble(
    message: RwSignal<Message>,
    /// Whether this is the last message (Regenerate and Retry apply to it).
    #[prop(into)]
    is_last: Signal<bool>,
    #[prop(into)] busy: Signal<bool>,
    on_regenerate: Callback<()>,
    /// Edit and resend one of the person's messages: (its id, the new text).
    on_edit: Callback<(uuid::Uuid, String)>,
    /// Under the last message of an answer that has other versions: where it stands.
    #[prop(into)]
    versions: Signal<Option<AnswerVersions>>,
    /// Show another version of an answer (its id).
    on_show_version: Callback<uuid::Uuid>,
) -> impl IntoView {
    let (role, created_at, message_id, conversation_id) =
        message.with_untracked(|m| (m.role, m.created_at, m.id, m.conversation_id));
    if role == Role::Tool {
        return view! { <ToolStep message/> }.into_any();
    }
    let editing = RwSignal::new(false);
    let branching = StoredValue::new(false);
    let draft = RwSignal::new(String::new());
    let is_user = role == Role::User;
    let status = move || message.with(|m| m.status);
    let content = move || message.with(|m| m.content.clone());
    let error = move || message.with(|m| m.error.clone());
    let copied = RwSignal::new(false);
    let copy = move |_| {
        copy_to_clipboard(&message.with_untracked(|m| m.content.clone()));
        copied.set(true);
    };
    let metrics = move || {
        message.with(|m| {
            let mut parts = Vec::new();
            if let Some(model) = &m.model {
                parts.push(model.clone());
            }
            if let Some(ms) = m.metrics.ttft_ms {
                parts.push(if ms < 1000 {
                    format!("first token {ms} ms")
                } else {
                    format!("first token {:.1} s", ms as f64 / 1000.0)
                });
            }
            if let Some(rate) = m.metrics.tokens_per_second() {
                parts.push(format!("{rate:.1} tok/s"));
            }
            if let Some(tokens) = m.metrics.completion_tokens {
                parts.push(format!("{tokens} tokens"));
            }
            parts.join(" · ")
        })
    };
    let cut_off = move || {
        message.with(|m| {
            m.status == MessageStatus::Complete
                && m.metrics.done_reason.as_deref() == Some("length")
        })
    };
    let status_label = move || match status() {
        MessageStatus::Stopped => Some("Stopped"),
        MessageStatus::Interrupted => Some("Interrupted"),
        _ if cut_off() => Some("Cut off"),
        _ => None,
    };
    // Why an answer that did not fail ended early: a server limit or a shutdown (its stored
    // reason), or the model's own length limit. A stop by the person has no reason to give.
    let ended_early = move || {
        if cut_off() {
            return Some(CUT_OFF_NOTE.to_string());
        }
        match status() {
            MessageStatus::Stopped | MessageStatus::Interrupted => error()
                .filter(|why| !why.trim().is_empty())
                .map(|why| as_sentence(&why)),
            _ => None,
        }
    };

    view! {
        <article
            data-testid="message"
            data-message-id=move || message.with(|m| m.id.to_string())
            data-role=role.as_str()
            data-status=move || status().as_str()
            class="flex w-full"
            class:justify-end=is_user
        >
            <div class=if is_user {
                "bubble-user max-w-[85%] rounded-2xl bg-primary px-4 py-2 text-on-primary"
            } else {
                "w-full max-w-none rounded-2xl px-1 py-2"
            }>
                {if is_user {
                    view! {
                        {move || message.with(|m| (!m.attachments.is_empty()).then(|| m.attachments.clone()))
                            .map(|attachments| view! { <MessageFiles attachments/> })}
                        <div data-testid="message-content" class="whitespace-pre-wrap break-words">{content}</div>
                    }.into_any()
                } else {
                    view! {
                        {move || message.with(|m| m.thinking.is_some()).then(|| view! {
                            <details data-testid="thinking" class="mb-2 rounded-lg border border-line px-3 py-1.5 text-sm">
                                <summary class="cursor-pointer select-none text-muted">
                                    {move || if message.with(|m| m.status == MessageStatus::Streaming && m.content.is_empty()) { "Thinking…" } else { "Thought" }}
                                </summary>
                                <div data-testid="thinking-text" class="mt-1 whitespace-pre-wrap break-words text-muted">
                                    {move || message.with(|m| m.thinking.clone().unwrap_or_default())}
                                </div>
                            </details>
                        })}
                        {move || message.with(|m| (!m.tool_calls.is_empty()).then(|| {
                            let names = m.tool_calls.0.iter().map(|c| c.function.name.clone()).collect::<Vec<_>>().join(", ");
                            view! { <p data-testid="step-calls" class="text-xs text-muted">"Calling " {names}</p> }
                        }))}
                        <AnswerBody message/>
                        {move || message.with(|m| (!m.sources.is_empty()).then(|| (m.id, m.sources.clone())))
                            .map(|(id, sources)| view! { <SourceList message_id=id sources/> })}
                    }.into_any()
                }}
                <Show when=move || status() == MessageStatus::Streaming>
                    <span data-testid="streaming-indicator" class="inline-block animate-pulse text-muted" aria-label="Writing">"▍"</span>
                </Show>
                {move || (status() == MessageStatus::Error).then(|| view! {
                    <div role="alert" data-testid="message-error" class="mt-2 rounded-md border border-danger bg-danger-soft px-3 py-2 text-sm text-danger">
                        {error().unwrap_or_else(|| "The answer failed.".into())}
                    </div>
                })}
                {move || ended_early().map(|note| view! {
                    <p data-testid="message-note" class="mt-2 text-sm text-muted">{note}</p>
                })}
                <Show when=move || editing.get()>
                    // "Send as a branch" lets the form post itself (to `edit_in_branch`, which
                    // sends the browser to the new conversation); "Save and send" edits here.
                    <form
                        data-testid="edit-form"
                        class="mt-2 grid gap-2"
                        method="post"
                        action=edit_in_branch_path()
                        on:submit=move |ev: leptos::ev::SubmitEvent| {
                            if branching.get_value() {
                                return;
                            }
                            ev.prevent_default();
                            let text = draft.get_untracked();
                            if !text.trim().is_empty() {
                                editing.set(false);
                                on_edit.run((message.with_untracked(|m| m.id), text));
                            }
                        }
                    >
                        <label class="sr-only" for="edit-message-text">"Edited message"</label>
                        <input type="hidden" name="conversation_id" value=conversation_id.to_string()/>
                        <input type="hidden" name="id" value=message_id.to_string()/>
                        <textarea
                            id="edit-message-text"
                            name="content"
                            required
                            data-testid="edit-text"
                            class="w-full rounded-md border border-primary bg-app px-2 py-1.5 text-fg"
                            rows="3"
                            prop:value=move || draft.get()
                            on:input=move |ev| draft.set(event_target_value(&ev))
                            on:keydown=move |ev| if ev.key() == "Escape" { ev.stop_propagation(); editing.set(false) }
                        ></textarea>
                        <div class="flex flex-wrap gap-2 text-sm">
                            <button type="submit" data-testid="edit-send" class="rounded bg-app px-2 py-1 font-medium text-primary"
                                title="Replaces what follows this message"
                                on:click=move |_| branching.set_value(false)>"Save and send"</button>
                            <button type="submit" data-testid="edit-branch" class="rounded border border-current px-2 py-1"
                                title="Keeps this conversation as it is and answers the new text in a new one"
                                on:click=move |_| branching.set_value(true)>"Send as a branch"</button>
                            <button type="button" data-testid="edit-cancel" class="rounded px-2 py-1" on:click=move |_| editing.set(false)>"Cancel"</button>
                        </div>
                        <p class="text-xs">"Save and send replaces what follows this message; a branch keeps this conversation as it is."</p>
                    </form>
                </Show>
                <div class="mt-1 flex flex-wrap items-center gap-2 text-xs" class=("text-on-primary", is_user) class=("text-muted", !is_user)>
                    <MessageTime at=created_at/>
                    {move || status_label().map(|label| view! { <span data-testid="message-status" class="rounded bg-surface px-1.5 text-fg">{label}</span> })}
                    {(!is_user).then(|| view! { <span data-testid="message-metrics">{metrics}</span> })}
                    <button type="button" data-testid="copy-message" class="hover:underline noscript:hidden" on:click=copy>
                        {move || if copied.get() { "Copied" } else { "Copy" }}
                    </button>
                    {is_user.then(|| view! {
                        <Show when=move || !busy.get() && !editing.get()>
                            <button
                                type="button"
                                data-testid="edit-message"
                                class="hover:underline noscript:hidden"
                                on:click=move |_| {
                                    draft.set(content());
                                    editing.set(true);
                                }
                            >
                                "Edit"
                            </button>
                        </Show>
                    })}
                    {move || versions.get().map(|v| view! {
                        <span data-testid="answer-versions" class="inline-flex items-center gap-1">
                            <ShowVersion conversation_id target=v.previous busy on_show_version label="‹" title="Previous answer" testid="previous-version"/>
                            <span data-testid="answer-version" aria-label=format!("Answer {} of {}", v.current, v.count)>
                                {format!("{}/{}", v.current, v.count)}
                            </span>
                            <ShowVersion conversation_id target=v.next busy on_show_version label="›" title="Next answer" testid="next-version"/>
                        </span>
                    })}
                    {(!is_user).then(|| view! {
                        // A plain form, with JavaScript too: the browser goes to the new
                        // conversation as to any page.
                        <Show when=move || status().is_final()>
                            <form method="post" action=branch_path() class="contents">
                                <input type="hidden" name="conversation_id" value=conversation_id.to_string()/>
                                <input type="hidden" name="message_id" value=message_id.to_string()/>
                                <button type="submit" data-testid="branch-message" class="hover:underline"
                                    title="Continue from this answer in a new conversation; this one stays as it is">
                                    "Branch"
                                </button>
                            </form>
                        </Show>
                    })}
                    {(!is_user).then(|| view! {
                        <Show when=move || is_last.get() && status().is_final() && !busy.get()>
                            // A form, so that Retry works without JavaScript too.
                            <form
                                method="post"
                                action=regenerate_path()
                                class="contents"
                                on:submit=move |ev| {
                                    ev.prevent_default();
                                    on_regenerate.run(());
                                }
                            >
                                <input type="hidden" name="conversation_id" value=conversation_id.to_string()/>
                                <button
                                    type="submit"
                                    data-testid=move || if status() == MessageStatus::Error { "retry" } else { "regenerate" }
                                    class="hover:underline"
                                >
                                    {move || if status() == MessageStatus::Error { "Retry" } else { "Regenerate" }}
                                </button>
                            </form>
                        </Show>
                    })}
                </div>
            </div>
        </article>
    }
    .into_any()
}

/// One of an answer's "‹" and "›": a form, so that it works without JavaScript too (the
/// browser is sent back to the conversation); with JavaScript the page shows the version in
/// place. Disabled at either end, and while an answer is being written.
#[component]
fn ShowVersion(
    conversation_id: uuid::Uuid,
    target: Option<uuid::Uuid>,
    busy: Signal<bool>,
    on_show_version: Callback<uuid::Uuid>,
    label: &'static str,
    title: &'static str,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <form
            method="post"
            action=show_version_path()
            class="contents"
            on:submit=move |ev| {
                ev.prevent_default();
                if let Some(id) = target {
                    on_show_version.run(id);
                }
            }
        >
            <input type="hidden" name="conversation_id" value=conversation_id.to_string()/>
            <input type="hidden" name="version_id" value=target.map(|id| id.to_string()).unwrap_or_default()/>
            <button
                type="submit"
                data-testid=testid
                title=title
                aria-label=title
                disabled=move || target.is_none() || busy.get()
                // 24 px at least: a finger's target on a phone (WCAG 2.5.8).
                class="inline-flex h-6 min-w-6 items-center justify-center rounded hover:bg-surface disabled:opacity-40"
            >
                {label}
            </button>
        </form>
    }
}

/// Shown under an answer the model ended at its length limit (Ollama's `done_reason: length`).
const CUT_OFF_NOTE: &str = "The answer reached the model's length limit: raise Max tokens (or the context length) in the conversation's settings for longer answers.";

/// A stored reason (`the server shut down before …`, written by the server in English) as a
/// sentence of its own. ASCII capitals only: Unicode's case tables would cost the browser's
/// bundle kilobytes for reasons that never start with another letter.
fn as_sentence(reason: &str) -> String {
    let mut sentence = reason.trim().to_string();
    if let Some(first) = sentence.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    if !sentence.is_empty() && !sentence.ends_with(['.', '!', '?']) {
        sentence.push('.');
    }
    sentence
}

/// Where an answer's Branch button posts: the `branch_conversation` server function.
fn branch_path() -> &'static str {
    use leptos::server_fn::ServerFn;
    crate::server_fns::conversations::BranchConversation::PATH
}

/// Where the edit form's "Send as a branch" posts: the `edit_in_branch` server function.
fn edit_in_branch_path() -> &'static str {
    use leptos::server_fn::ServerFn;
    crate::server_fns::chat::EditInBranch::PATH
}

/// Where an answer's "‹" and "›" post: the `show_answer_version` server function.
fn show_version_path() -> &'static str {
    use leptos::server_fn::ServerFn;
    crate::server_fns::chat::ShowAnswerVersion::PATH
}

/// Where Regenerate and Retry post without JavaScript: the `regenerate_answer` server function.
fn regenerate_path() -> &'static str {
    use leptos::server_fn::ServerFn;
    crate::server_fns::chat::RegenerateAnswer::PATH
}

/// One tool call of an agent run: the tool, its arguments, its result and its time, folded
/// into one line until opened. Arguments and results are shown as text, never as markup.
#[component]
fn ToolStep(message: RwSignal<Message>) -> impl IntoView {
    let status = move || message.with(|m| m.status);
    let name = move || message.with(|m| m.tool_name.clone().unwrap_or_default());
    let arguments = move || {
        message.with(|m| {
            m.tool_calls
                .0
                .first()
                .map(|call| {
                    serde_json::to_string_pretty(&call.function.arguments).unwrap_or_default()
                })
                .unwrap_or_default()
        })
    };
    let outcome = move || match status() {
        MessageStatus::Streaming => "running…".to_string(),
        MessageStatus::Complete => message.with(|m| match m.metrics.duration_ms {
            Some(ms) => format!("done in {ms} ms"),
            None => "done".into(),
        }),
        MessageStatus::Error => "failed".into(),
        MessageStatus::Stopped => "stopped".into(),
        MessageStatus::Interrupted => "interrupted".into(),
    };
    view! {
        <article
            data-testid="message"
            data-message-id=move || message.with(|m| m.id.to_string())
            data-role="tool"
            data-status=move || status().as_str()
            class="flex w-full"
        >
            <details data-testid="tool-step" class="w-full rounded-lg border border-line bg-surface px-3 py-1.5 text-sm">
                <summary class="cursor-pointer select-none">
                    <span class="font-mono font-medium" data-testid="tool-name">{name}</span>
                    " · "
                    <span data-testid="tool-outcome" class:text-danger=move || status() == MessageStatus::Error>{outcome}</span>
                </summary>
                <div class="mt-2 grid gap-2">
                    <div>
                        <div class="text-xs font-semibold text-muted">"Arguments"</div>
                        <pre data-testid="tool-arguments" class="overflow-x-auto whitespace-pre-wrap break-words font-mono text-xs">{arguments}</pre>
                    </div>
                    <div>
                        <div class="text-xs font-semibold text-muted">"Result"</div>
                        <pre data-testid="tool-result" class="overflow-x-auto whitespace-pre-wrap break-words font-mono text-xs">{move || message.with(|m| m.content.clone())}</pre>
                    </div>
                </div>
            </details>
        </article>
        // What the tool drew is part of the answer: shown open, under its step.
        {move || message.with(|m| m.charts.0.clone()).into_iter().map(|chart| view! { <ChartFigure chart/> }).collect_view()}
    }
}

/// The documents attached to the conversation shown (their indexing status for the file cards
/// of the messages that sent them).
#[derive(Clone, Copy)]
pub struct ConversationFiles(pub Signal<Vec<crate::model::FileInfo>>);

/// The files a person sent with a message: images as thumbnails that open full size, documents
/// as cards (name, type, size and, while the conversation has it, its indexing status).
#[component]
fn MessageFiles(attachments: crate::model::Attachments) -> impl IntoView {
    let files = use_context::<ConversationFiles>();
    let (images, documents): (Vec<_>, Vec<_>) =
        attachments.0.into_iter().partition(|a| a.kind.is_image());
    view! {
        {(!images.is_empty()).then(|| view! {
            <div class="mb-2 flex flex-wrap gap-2" data-testid="message-images">
                {images.into_iter().map(|image| {
                    let (url, src) = (image.content_url(), image.content_url());
                    view! {
                        <a href=url target="_blank" rel="noopener" data-testid="message-image"
                            title=format!("{} · open full size", image.name)>
                            <img src=src alt=image.name.clone() loading="lazy"
                                class="h-32 max-w-48 rounded-lg border border-line bg-app object-cover"/>
                        </a>
                    }
                }).collect_view()}
            </div>
        })}
        {(!documents.is_empty()).then(|| view! {
            <div class="mb-2 grid gap-1" data-testid="message-files">
                {documents.into_iter().map(|document| {
                    let id = document.file_id;
                    let status = move || files.and_then(|files| files.0.with(|list| {
                        list.iter().find(|f| f.id == id).map(super::upload::status_label)
                    }));
                    view! {
                        <a href=document.content_url() data-testid="file-card"
                            class="flex items-center gap-2 rounded-lg border border-line bg-app px-2 py-1 text-xs text-fg no-underline">
                            <span class="rounded bg-surface px-1 font-mono uppercase" data-testid="file-card-kind">{document.kind.as_str()}</span>
                            <span class="min-w-0 flex-1 truncate" data-testid="file-card-name">{document.name.clone()}</span>
                            <span class="text-muted">{crate::text::human_size(document.size_bytes.max(0) as u64)}</span>
                            {move || status().map(|status| view! { <span class="text-muted" data-testid="file-card-status">{status}</span> })}
                        </a>
                    }
                }).collect_view()}
            </div>
        })}
    }
}

/// The passages an answer was given, numbered as it cites them; each opens to the exact
/// passage. Shown as text.
#[component]
fn SourceList(message_id: uuid::Uuid, sources: crate::model::Sources) -> impl IntoView {
    let note = sources.note();
    view! {
        <div data-testid="sources" class="mt-2 text-xs">
            <div class="font-semibold text-muted">"Sources"</div>
            <ol class="mt-1 space-y-1">
                {sources.passages.into_iter().map(|passage| view! {
                    <li>
                        <details id=format!("cite-{message_id}-{}", passage.n) data-testid="citation"
                            class="rounded border border-line px-2 py-1">
                            <summary class="cursor-pointer select-none">
                                <span class="font-mono">{format!("[{}]", passage.n)}</span>" "{passage.place()}
                            </summary>
                            <blockquote data-testid="citation-passage" class="mt-1 whitespace-pre-wrap border-l-2 border-line pl-2 text-muted">
                                {passage.text.clone()}
                            </blockquote>
                            <a class="text-primary hover:underline" href=format!("/api/v1/files/{}/content", passage.file_id)>"Download the file"</a>
                        </details>
                    </li>
                }).collect_view()}
            </ol>
            {note.map(|note| view! { <p data-testid="sources-note" class="mt-1 text-warning">{note}</p> })}
        </div>
    }
}

/// An answer as sanitised HTML, rendered on the server (`Message::html`). Finished blocks live
/// in one element that is only ever appended to, so their nodes (and any text the person
/// selected in them) stay while the answer streams; the last block, the only one that can
/// still change, is replaced in a second element as the server sends it again.
#[component]
fn AnswerBody(message: RwSignal<Message>) -> impl IntoView {
    let initial = message.with_untracked(|m| m.html.clone().unwrap_or_default());
    let (settled_html, live_html) = (initial.settled.clone(), initial.live.clone());
    let settled_part = NodeRef::<leptos::html::Div>::new();
    let live_part = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    {
        // What the two elements show.
        let mut shown = initial;
        Effect::new(move |_| {
            let (Some(settled_part), Some(live_part)) = (settled_part.get(), live_part.get())
            else {
                return;
            };
            message.with(|m| {
                let Some(html) = &m.html else { return };
                match html.settled.strip_prefix(shown.settled.as_str()) {
                    Some("") => {}
                    Some(added) => {
                        let _ = settled_part.insert_adjacent_html("beforeend", added);
                        shown.settled.push_str(added);
                    }
                    None => {
                        settled_part.set_inner_html(&html.settled);
                        shown.settled.clone_from(&html.settled);
                    }
                }
                if html.live != shown.live {
                    live_part.set_inner_html(&html.live);
                    shown.live.clone_from(&html.live);
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = initial;
    view! {
        <div data-testid="message-content" class="markdown break-words">
            <div class="md-part" node_ref=settled_part inner_html=settled_html></div>
            <div class="md-part" node_ref=live_part inner_html=live_html></div>
        </div>
    }
}

/// Copies text with the asynchronous Clipboard API (needs a secure context: https or localhost).
pub fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsValue;
        let Some(window) = web_sys::window() else {
            return;
        };
        let clipboard = js_sys::Reflect::get(&window.navigator(), &JsValue::from_str("clipboard"));
        if let Ok(clipboard) = clipboard {
            if let Ok(write) = js_sys::Reflect::get(&clipboard, &JsValue::from_str("writeText")) {
                if let Ok(write) = wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(write) {
                    let _ = write.call1(&clipboard, &JsValue::from_str(text));
                }
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

#[cfg(test)]
mod tests {
    use super::as_sentence;

    #[test]
    fn a_stored_reason_reads_as_a_sentence() {
        assert_eq!(
            as_sentence("the server shut down before this answer was complete"),
            "The server shut down before this answer was complete."
        );
        assert_eq!(as_sentence(" ended!"), "Ended!");
        assert_eq!(as_sentence("éclair"), "éclair.");
        assert_eq!(as_sentence(""), "");
        assert_eq!(
            as_sentence("limit (30 characters)."),
            "Limit (30 characters)."
        );
    }
}
