//! Documents attached to a conversation (or to the first message of a new one), and images
//! waiting to go with the next message: chips with each document's indexing status or the
//! image's thumbnail, a button to attach more (upload, or one already uploaded), and the
//! uploads in progress. The answers of the conversation are grounded in the documents.

use super::upload::{status_label, PickFiles, UploadList, Uploads};
use crate::model::{FileInfo, FileStatus};
use crate::server_fns::documents::list_files;
use leptos::prelude::*;
use uuid::Uuid;

/// The knowledge of the assistant `selected`, starting from `initial` (what the server rendered
/// for it), read again whenever another assistant is picked.
pub fn follow_knowledge(
    selected: RwSignal<Option<Uuid>>,
    initial: Vec<FileInfo>,
) -> RwSignal<Vec<FileInfo>> {
    let knowledge = RwSignal::new(initial);
    Effect::new(move |previous: Option<Option<Uuid>>| {
        let assistant = selected.get();
        // The first run has what the server rendered, unless nothing was rendered for it.
        let stale = match previous {
            Some(previous) => previous != assistant,
            None => assistant.is_some() && knowledge.with_untracked(Vec::is_empty),
        };
        if stale {
            leptos::task::spawn_local(async move {
                let files = match assistant {
                    Some(id) => crate::server_fns::assistants::assistant_knowledge(id)
                        .await
                        .unwrap_or_default(),
                    None => Vec::new(),
                };
                knowledge.try_set(files);
            });
        }
        assistant
    });
    knowledge
}

#[component]
pub fn Attachments(
    #[prop(into)] files: Signal<Vec<FileInfo>>,
    /// The knowledge of the conversation's assistant: shown, not removable here.
    knowledge: RwSignal<Vec<FileInfo>>,
    uploads: Uploads,
    /// Attach a file the person uploaded before.
    on_add: Callback<FileInfo>,
    on_remove: Callback<Uuid>,
) -> impl IntoView {
    let choosing = RwSignal::new(false);
    let library = Resource::new(
        move || choosing.get(),
        |open| async move {
            if open {
                list_files().await.unwrap_or_default()
            } else {
                Vec::new()
            }
        },
    );
    view! {
        <div class="mx-auto w-full max-w-(--chat-max-width) px-3 noscript:hidden" data-testid="attachments">
            <div class="flex flex-wrap items-center gap-2 py-1">
                <For each=move || files.get() key=|f| (f.id, f.status, f.embedded_count) let:file>
                    {
                        let id = file.id;
                        let failed = file.status == FileStatus::Failed;
                        let image = file.kind.is_image();
                        let thumbnail = image.then(|| crate::model::Attachment::of(&file).content_url());
                        view! {
                            <span data-testid=if image { "pending-image" } else { "attached-file" } data-status=file.status.as_str()
                                class="inline-flex items-center gap-1 rounded-full border border-line px-2 py-0.5 text-xs"
                                title=file.error.clone().unwrap_or_default()>
                                {thumbnail.map(|src| view! { <img src=src alt="" class="h-6 w-6 rounded object-cover"/> })}
                                <span class="max-w-48 truncate">{file.name.clone()}</span>
                                <span class="text-muted" class:text-danger=failed data-testid="attached-status">
                                    {if image { "image".to_string() } else { status_label(&file) }}
                                </span>
                                <button type="button" data-testid="detach-file" aria-label=format!("Remove {}", file.name)
                                    class="text-muted hover:text-fg"
                                    on:click=move |_| on_remove.run(id)>"×"</button>
                            </span>
                        }
                    }
                </For>
                <For each=move || knowledge.get() key=|f| (f.id, f.status) let:file>
                    <span data-testid="knowledge-file" data-status=file.status.as_str()
                        title="Knowledge of this conversation's assistant"
                        class="inline-flex items-center gap-1 rounded-full border border-dashed border-line px-2 py-0.5 text-xs text-muted">
                        <span class="max-w-48 truncate">{file.name.clone()}</span>
                        <span class="text-muted">"assistant"</span>
                    </span>
                </For>
                <PickFiles uploads label="Attach files"/>
                <button type="button" data-testid="attach-existing" class="text-xs text-muted hover:underline"
                    on:click=move |_| choosing.update(|c| *c = !*c)>
                    "From my documents"
                </button>
            </div>
            <Show when=move || choosing.get()>
                <Suspense fallback=|| view! { <p class="text-xs text-muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        let attached: Vec<Uuid> = files.with_untracked(|f| f.iter().map(|f| f.id).collect());
                        let offered: Vec<FileInfo> = library.await.into_iter().filter(|f| !attached.contains(&f.id)).collect();
                        if offered.is_empty() {
                            view! { <p class="text-xs text-muted">"No other documents: upload some."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="mb-1 flex flex-wrap gap-1 text-xs" data-testid="document-choices">
                                    {offered.into_iter().map(|file| {
                                        let chosen = file.clone();
                                        view! {
                                            <li>
                                                <button type="button" data-testid="choose-document" class="rounded border border-line px-2 py-0.5 hover:bg-surface"
                                                    on:click=move |_| { choosing.set(false); on_add.run(chosen.clone()) }>
                                                    {file.name.clone()}
                                                </button>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }
                    })}
                </Suspense>
            </Show>
            <UploadList uploads/>
        </div>
    }
}

/// Drag-and-drop of files onto an area: the handlers to put on it.
pub fn on_drop_files(uploads: Uploads) -> impl Fn(leptos::ev::DragEvent) + Copy + 'static {
    let preferences = super::preferences::use_preferences();
    move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        if !preferences
            .current
            .with_untracked(|p| p.features.file_upload)
        {
            return;
        }
        #[cfg(feature = "hydrate")]
        uploads.start(super::upload::files_of(
            ev.data_transfer().and_then(|d| d.files()),
        ));
        #[cfg(not(feature = "hydrate"))]
        let _ = uploads;
    }
}

/// Without JavaScript the chips' buttons and the picker do nothing (they are hidden then): the
/// conversation's documents are listed here instead, each with a Remove form, with a form that
/// uploads more (documents are attached, images wait for the next message), except while an
/// answer is written: the page then reloads every 2 seconds, which would drop the files
/// picked. Rendered by the
/// server only, inside `<noscript>`: a browser running scripts keeps it as inert text, so the
/// WASM carries none of it.
#[component]
pub fn AttachWithoutScript(
    conversation: Uuid,
    files: Vec<FileInfo>,
    knowledge: Vec<FileInfo>,
    /// The answer being written, if any.
    running: Memo<Option<Uuid>>,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let html = {
        let uploads_on = super::preferences::use_preferences()
            .current
            .with_untracked(|p| p.features.file_upload)
            && running.get_untracked().is_none();
        let query = leptos_router::hooks::use_query_map().get_untracked();
        attach_without_script_html(conversation, &files, &knowledge, uploads_on, &query)
    };
    #[cfg(not(feature = "ssr"))]
    let html = {
        let _ = (conversation, files, knowledge, running);
        String::new()
    };
    view! { <noscript inner_html=html/> }
}

#[cfg(feature = "ssr")]
fn attach_without_script_html(
    conversation: Uuid,
    files: &[FileInfo],
    knowledge: &[FileInfo],
    uploads_on: bool,
    query: &leptos_router::params::ParamsMap,
) -> String {
    use crate::markdown::escape_html;
    use crate::server_fns::documents::{
        attach_page, AttachFile, UploadFiles, ATTACH_ERROR, PENDING_IMAGE, UPLOAD_FOR_CONVERSATION,
    };
    use leptos::server_fn::ServerFn;
    use std::fmt::Write;

    let mut html = String::from(
        r#"<div data-testid="attach-without-script" class="mx-auto w-full max-w-(--chat-max-width) px-3 py-1 text-sm">"#,
    );
    // How the last form went (the server sent the browser back here with it).
    let uploaded = query
        .get_str("uploaded")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let images = query.get_all(PENDING_IMAGE).unwrap_or_default().len();
    let documents = uploaded.saturating_sub(images);
    if documents > 0 {
        let what = if documents == 1 {
            "1 document attached; it is being indexed (reload to follow).".to_string()
        } else {
            format!("{documents} documents attached; they are being indexed (reload to follow).")
        };
        let _ = write!(html, r#"<p role="status" class="text-success">{what}</p>"#);
    }
    if images > 0 {
        let what = if images == 1 {
            "1 image goes with your next message.".to_string()
        } else {
            format!("{images} images go with your next message.")
        };
        let _ = write!(
            html,
            r#"<p role="status" data-testid="pending-images-without-script" class="text-success">{what}</p>"#
        );
    }
    let failures = query
        .get("upload_error")
        .map(|reason| format!("The upload failed: {reason}"))
        .into_iter()
        .chain(query.get_all("refused").unwrap_or_default())
        .chain(query.get(ATTACH_ERROR));
    for reason in failures {
        let _ = write!(
            html,
            r#"<p role="alert" class="text-danger">{}</p>"#,
            escape_html(&reason)
        );
    }
    if !files.is_empty() || !knowledge.is_empty() {
        html.push_str(r#"<ul class="flex flex-wrap gap-2 py-1">"#);
        for file in files {
            let _ = write!(
                html,
                r#"<li data-testid="attached-without-script" class="inline-flex items-center gap-2 rounded-full border border-line px-2 py-0.5 text-xs"><span class="max-w-48 truncate">{name}</span><span class="text-muted">{status}</span><form method="post" action="{detach}"><input type="hidden" name="conversation_id" value="{conversation}"><input type="hidden" name="file_id" value="{id}"><input type="hidden" name="attach" value="false"><button type="submit" data-testid="detach-without-script" class="text-muted underline">Remove<span class="sr-only"> {name}</span></button></form></li>"#,
                name = escape_html(&file.name),
                status = escape_html(&status_label(file)),
                detach = AttachFile::PATH,
                id = file.id,
            );
        }
        for file in knowledge {
            let _ = write!(
                html,
                r#"<li data-testid="knowledge-without-script" title="Knowledge of this conversation's assistant" class="inline-flex items-center gap-2 rounded-full border border-dashed border-line px-2 py-0.5 text-xs text-muted"><span class="max-w-48 truncate">{}</span><span>assistant</span></li>"#,
                escape_html(&file.name),
            );
        }
        html.push_str("</ul>");
    }
    // Documents already uploaded are picked on the documents page, which lists them.
    let from_documents = format!(
        r#"<a href="{}" data-testid="attach-existing-without-script" class="text-muted underline">From my documents</a>"#,
        attach_page(conversation)
    );
    if uploads_on {
        let _ = write!(
            html,
            r#"<form method="post" action="{upload}?{UPLOAD_FOR_CONVERSATION}={conversation}" enctype="multipart/form-data" class="flex flex-wrap items-center gap-2 py-1"><label class="text-muted">Attach files <input type="file" name="file" multiple accept="{accepted}" data-testid="attach-file-without-script"></label><button type="submit" data-testid="attach-upload-without-script" class="rounded border border-line px-3 py-1 font-medium">Upload</button>{from_documents}</form>"#,
            upload = UploadFiles::PATH,
            accepted = crate::model::ACCEPTED_EXTENSIONS,
        );
    } else {
        let _ = write!(html, r#"<p class="py-1">{from_documents}</p>"#);
    }
    html.push_str("</div>");
    html
}
