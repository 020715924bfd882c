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
        <div class="mx-auto w-full max-w-(--chat-max-width) px-3" data-testid="attachments">
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
