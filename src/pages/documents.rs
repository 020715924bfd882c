//! Documents: upload (drop or pick, with progress), the list with each file's indexing status
//! (followed live until it ends), download, index again, delete; and the search page. With
//! `?attach_to=<conversation>` (the conversation page's "From my documents" without
//! JavaScript), each document also has a form that attaches it to that conversation, and what
//! is uploaded there is attached to it (by the form, or once uploaded when the page is live).

use crate::components::upload::{status_label, PickFiles, UploadList, Uploads};
use crate::model::{FileInfo, FileStatus, SearchHit};
use crate::server_fns::documents::{
    attach_file, conversation_files, delete_file, get_upload_limits, list_files, reindex_file,
    search_documents, AttachFile, DeleteFile, ReindexFile, ATTACH_ERROR, ATTACH_TO, FILE_ERROR,
    UPLOAD_FOR_CONVERSATION,
};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

/// The conversation the documents page picks documents for, and what it already has.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct AttachTarget {
    conversation: Uuid,
    attached: Vec<Uuid>,
}

/// While a file is being indexed, how often its status is read again.
#[cfg(feature = "hydrate")]
const POLL_MS: u64 = 1_000;

/// Reads the list again every second while a file's indexing is under way.
pub fn poll_while_indexing(files: Signal<Vec<FileInfo>>, refresh: impl Fn() + Copy + 'static) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let pending = files.with(|files| files.iter().any(|f| !f.status.is_final()));
        if pending {
            set_timeout(refresh, std::time::Duration::from_millis(POLL_MS));
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (files, refresh);
}

#[component]
pub fn DocumentsPage() -> impl IntoView {
    // The list as the server renders it; later reads replace it in place (no refetch that
    // would rebuild the list under the person's pointer).
    let listed = Resource::new(|| (), |_| list_files());
    let reload = RwSignal::new(0u32);
    let limits_resource = Resource::new(|| (), |_| get_upload_limits());
    // Uploads read the limits only when a file is picked (untracked); the hint below reads them
    // inside a Suspense, so server rendering waits for them in one place and hydration matches.
    let limits = Signal::derive(move || limits_resource.get().and_then(Result::ok));
    let error = RwSignal::new(None::<String>);
    let query = use_query_map();
    let attach_to = Memo::new(move |_| {
        query.with(|q| q.get_str(ATTACH_TO).and_then(|id| id.parse::<Uuid>().ok()))
    });
    // Also checks that the conversation is the person's: no forms for someone else's.
    let attached = Resource::new(
        move || attach_to.get(),
        |conversation| async move {
            match conversation {
                Some(id) => Some(conversation_files(id).await.map(|files| AttachTarget {
                    conversation: id,
                    attached: files.into_iter().map(|f| f.id).collect(),
                })),
                None => None,
            }
        },
    );

    // Documents uploaded and attached here since the page was rendered.
    let attached_here = RwSignal::new(Vec::<Uuid>::new());
    let uploads = Uploads::new(
        limits,
        Callback::new(move |file: FileInfo| {
            // Picking for a conversation: what is uploaded here is attached to it, as the
            // form upload without JavaScript does.
            if let Some(conversation) = attach_to.get_untracked() {
                spawn_local(async move {
                    match attach_file(conversation, file.id, true, false).await {
                        Ok(_) => attached_here.update(|ids| ids.push(file.id)),
                        Err(e) => error.set(Some(e.to_string())),
                    }
                });
            }
            reload.try_update(|v| *v += 1);
        }),
    );
    let dragging = RwSignal::new(false);
    // Without JavaScript the form posts to the server function and comes back here; with it,
    // files upload as soon as they are picked, so the button goes once the page is live.
    let live = RwSignal::new(false);
    Effect::new(move |_| live.set(true));
    let preferences = crate::components::preferences::use_preferences();
    let uploads_on = move || preferences.current.with(|p| p.features.file_upload);
    view! {
        <leptos_meta::Title text=crate::app::page_title("Documents")/>
        <div class="mx-auto w-full max-w-3xl flex-1 overflow-y-auto p-4" data-testid="documents-page">
            <div class="mb-4 flex items-center gap-2">
                <h1 class="mr-auto text-xl font-semibold">"Documents"</h1>
                <a href="/search" data-testid="search-link" class="rounded-md px-2 py-1 text-sm text-muted hover:bg-surface">"Search"</a>
            </div>
            <p class="mb-3 text-sm text-muted">
                "Upload .txt, .md, .pdf, .docx and .csv files. Once indexed, they can be searched, and attached to a conversation so that its answers cite them."
            </p>
            {move || attach_to.get().map(|id| view! {
                <div data-testid="attach-mode" class="mb-3 flex flex-wrap items-center gap-2 rounded-lg border border-line bg-surface p-3 text-sm">
                    <span class="mr-auto">"Choose the documents to attach to the conversation."</span>
                    <a href=format!("/c/{id}") data-testid="back-to-conversation" class="font-medium hover:underline">"Back to the conversation"</a>
                </div>
            })}
            <FormOutcome/>
            <form
                method="post"
                // Picking for a conversation, a form upload (without JavaScript) attaches the
                // new documents to it and goes back there, as the conversation's own form does.
                action=move || match attach_to.get() {
                    Some(id) => format!("{}?{UPLOAD_FOR_CONVERSATION}={id}", crate::components::upload::upload_path()),
                    None => crate::components::upload::upload_path().to_string(),
                }
                enctype="multipart/form-data"
                data-testid="drop-zone"
                class="mb-3 flex flex-col items-center gap-2 rounded-xl border-2 border-dashed p-6 text-sm"
                style=move || if uploads_on() { "" } else { "display: none" }
                class=("border-primary", move || dragging.get())
                class=("bg-primary-soft", move || dragging.get())
                class=("border-line", move || !dragging.get())
                on:dragover=move |ev: leptos::ev::DragEvent| {
                    ev.prevent_default();
                    dragging.set(true);
                }
                on:dragleave=move |_| dragging.set(false)
                on:drop=move |ev: leptos::ev::DragEvent| {
                    dragging.set(false);
                    crate::components::attachments::on_drop_files(uploads)(ev);
                }
                on:submit=move |ev: leptos::ev::SubmitEvent| ev.prevent_default()
            >
                <span class="text-muted">"Drop files here, or"</span>
                <PickFiles uploads label="Choose files"/>
                <Suspense>
                    {move || Suspend::new(async move {
                        limits_resource.await.ok().map(|l| view! {
                            <span class="text-xs text-muted">
                                {format!("Up to {} files at once, {} each.", l.max_files, crate::text::human_size(l.max_file_bytes))}
                            </span>
                        })
                    })}
                </Suspense>
                <button
                    type="submit"
                    data-testid="upload-submit"
                    hidden=move || live.get()
                    class="rounded-lg bg-primary px-3 py-1.5 text-sm text-on-primary"
                >
                    "Upload"
                </button>
            </form>
            <UploadList uploads/>
            {move || error.get().map(|e| view! { <p role="alert" class="my-2 text-sm text-danger">{e}</p> })}
            <Suspense fallback=|| view! { <p class="text-muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let (attach, attach_refused) = match attached.await {
                        Some(Ok(target)) => (Some(target), None),
                        Some(Err(e)) => (None, Some(e.to_string())),
                        None => (None, None),
                    };
                    // A refused post of the same page has said it already (FormOutcome).
                    let said = query.with_untracked(|q| q.get(ATTACH_ERROR));
                    let attach_refused = attach_refused.filter(|reason| said.as_ref() != Some(reason));
                    match listed.await {
                        Err(e) => view! { <p role="alert" class="text-danger">{e.to_string()}</p> }.into_any(),
                        Ok(initial) => view! {
                            {attach_refused.map(|e| view! { <p role="alert" data-testid="attach-refused" class="text-sm text-danger">{e}</p> })}
                            <FileList initial reload error attach attached_here/>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

/// How a form sent without JavaScript went (an upload, a delete, an attach): the server
/// function sends the browser back here with it in the address.
#[component]
fn FormOutcome() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    move || {
        query.with(|query| {
            let uploaded = query
                .get_str("uploaded")
                .and_then(|n| n.parse::<usize>().ok());
            let refused = query.get_all("refused").unwrap_or_default();
            let failed = query.get("upload_error");
            let other_failures: Vec<String> = [query.get(FILE_ERROR), query.get(ATTACH_ERROR)]
                .into_iter()
                .flatten()
                .collect();
            if uploaded.is_none() && failed.is_none() && other_failures.is_empty() {
                return None;
            }
            Some(view! {
                <div data-testid="form-upload-outcome" class="mb-3 space-y-1 text-sm">
                    {uploaded.filter(|n| *n > 0).map(|n| view! {
                        <p role="status" class="text-success">
                            {if n == 1 { "1 file uploaded; it is being indexed.".to_string() } else { format!("{n} files uploaded; they are being indexed.") }}
                        </p>
                    })}
                    {failed.map(|reason| view! { <p role="alert" class="text-danger">{format!("The upload failed: {reason}")}</p> })}
                    {refused.into_iter().chain(other_failures).map(|reason| view! { <p role="alert" class="text-danger">{reason}</p> }).collect_view()}
                </div>
            })
        })
    }
}

#[component]
fn FileList(
    initial: Vec<FileInfo>,
    /// Bumped when the list changed elsewhere (an upload ended).
    reload: RwSignal<u32>,
    error: RwSignal<Option<String>>,
    /// The conversation documents are being picked for, if any.
    attach: Option<AttachTarget>,
    /// Documents attached to it from this page since it was rendered (uploads).
    attached_here: RwSignal<Vec<Uuid>>,
) -> impl IntoView {
    let files = RwSignal::new(initial);
    let attach = StoredValue::new(attach);
    // Also from a timer or a request that ends after the page is gone: `try_`.
    let refresh = move || {
        spawn_local(async move {
            if let Ok(list) = list_files().await {
                files.try_set(list);
            }
        })
    };
    Effect::new(move |seen: Option<u32>| {
        let now = reload.get();
        if seen.is_some_and(|seen| seen != now) {
            refresh();
        }
        now
    });
    poll_while_indexing(files.into(), refresh);
    let act =
        move |work: std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>>>>| {
            error.set(None);
            spawn_local(async move {
                if let Err(message) = work.await {
                    error.try_set(Some(message));
                }
                refresh();
            });
        };
    view! {
        <Show
            when=move || files.with(|f| !f.is_empty())
            fallback=|| view! { <p class="mt-4 text-sm text-muted" data-testid="no-files">"No documents yet."</p> }
        >
            <ul class="mt-4 divide-y divide-line" data-testid="file-list">
                <For each=move || files.get() key=|f| (f.id, f.status, f.embedded_count) let:file>
                    {
                        let id = file.id;
                        let failed = file.status == FileStatus::Failed;
                        let finished = file.status.is_final();
                        // Plain forms, so that they also work without JavaScript; with it the
                        // delete and re-index are made in place.
                        let on_reindex = move |ev: leptos::ev::SubmitEvent| {
                            ev.prevent_default();
                            act(Box::pin(async move { reindex_file(id).await.map(|_| ()).map_err(|e| e.to_string()) }))
                        };
                        let on_delete = move |ev: leptos::ev::SubmitEvent| {
                            ev.prevent_default();
                            act(Box::pin(async move { delete_file(id).await.map_err(|e| e.to_string()) }))
                        };
                        let attach_form = attach.with_value(|attach| attach.as_ref().map(|target| {
                            let (conversation, at_render) = (target.conversation, target.attached.contains(&id));
                            // Reactive: an upload attaches its document after the row is drawn.
                            move || {
                                let attached = at_render || attached_here.with(|ids| ids.contains(&id));
                                view! {
                                    {attached.then(|| view! { <span data-testid="file-attached" class="rounded bg-primary-soft px-1.5 text-xs">"Attached"</span> })}
                                    <form method="post" action=AttachFile::PATH>
                                        <input type="hidden" name="conversation_id" value=conversation.to_string()/>
                                        <input type="hidden" name="file_id" value=id.to_string()/>
                                        <input type="hidden" name="attach" value=(!attached).to_string()/>
                                        <input type="hidden" name="from_documents" value="true"/>
                                        <button type="submit" data-testid=if attached { "detach-from-documents" } else { "attach-from-documents" }
                                            class="rounded border border-line px-2 py-0.5 text-xs font-medium hover:bg-surface">
                                            {if attached { "Remove from the conversation" } else { "Attach" }}
                                        </button>
                                    </form>
                                }
                            }
                        }));
                        view! {
                            <li id=format!("file-{id}") class="flex flex-wrap items-center gap-x-3 gap-y-1 py-2 text-sm" data-testid="file-item" data-status=file.status.as_str()>
                                <a class="font-medium hover:underline" data-testid="file-name" href=format!("/api/v1/files/{id}/content")>{file.name.clone()}</a>
                                <span class="text-xs uppercase text-muted">{file.kind.as_str()}</span>
                                <span class="text-xs text-muted">{crate::text::human_size(file.size_bytes.max(0) as u64)}</span>
                                <span data-testid="file-status" class="rounded bg-surface px-1.5 text-xs" class:text-danger=failed>{status_label(&file)}</span>
                                {attach_form}
                                <span class="ml-auto flex gap-2 text-xs">
                                    {finished.then(|| view! {
                                        <form method="post" action=ReindexFile::PATH on:submit=on_reindex>
                                            <input type="hidden" name="id" value=id.to_string()/>
                                            <button type="submit" data-testid="reindex-file" class="hover:underline">"Index again"</button>
                                        </form>
                                    })}
                                    <form method="post" action=DeleteFile::PATH on:submit=on_delete>
                                        <input type="hidden" name="id" value=id.to_string()/>
                                        <button type="submit" data-testid="delete-file" class="text-danger hover:underline">
                                            "Delete"<span class="sr-only">{format!(" {}", file.name)}</span>
                                        </button>
                                    </form>
                                </span>
                                {file.error.clone().map(|e| view! { <p data-testid="file-error" class="w-full text-xs" class:text-danger=failed class:text-muted=!failed>{e}</p> })}
                            </li>
                        }
                    }
                </For>
            </ul>
        </Show>
    }
}

/// The search page: a plain GET form (works before the page is interactive), results with
/// their file, page or section, and the searched words marked.
#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.with(|q| q.get("q").unwrap_or_default());
    let results = Resource::new(q, |q| async move {
        if q.trim().is_empty() {
            None
        } else {
            Some(search_documents(q).await)
        }
    });
    view! {
        <leptos_meta::Title text=crate::app::page_title("Search")/>
        <div class="mx-auto w-full max-w-3xl flex-1 overflow-y-auto p-4" data-testid="search-page">
            <div class="mb-4 flex items-center gap-2">
                <h1 class="mr-auto text-xl font-semibold">"Search documents"</h1>
                <a href="/documents" class="rounded-md px-2 py-1 text-sm text-muted hover:bg-surface">"Documents"</a>
            </div>
            <form method="get" action="/search" class="mb-4 flex gap-2" role="search">
                <label for="search-query" class="sr-only">"Search"</label>
                <input id="search-query" name="q" type="search" data-testid="search-input" prop:value=q
                    class="flex-1 rounded-lg border border-line bg-app px-3 py-1.5"
                    placeholder="A question or words from your documents"/>
                <button type="submit" data-testid="search-submit" class="rounded-lg bg-primary px-3 py-1.5 text-sm font-medium text-on-primary hover:opacity-90">"Search"</button>
            </form>
            <Transition fallback=|| view! { <p class="text-muted">"Searching…"</p> }>
                {move || Suspend::new(async move {
                    match results.await {
                        None => view! { <p class="text-sm text-muted">"Search what you uploaded."</p> }.into_any(),
                        Some(Err(e)) => view! { <p role="alert" class="text-danger">{e.to_string()}</p> }.into_any(),
                        Some(Ok(found)) => view! {
                            {found.note.clone().map(|note| view! { <p data-testid="search-note" class="mb-2 text-xs text-warning">{note}</p> })}
                            {if found.hits.is_empty() {
                                view! { <p data-testid="no-results" class="text-sm text-muted">"Nothing found."</p> }.into_any()
                            } else {
                                view! {
                                    <ol class="space-y-3" data-testid="search-results">
                                        {found.hits.into_iter().map(|hit| view! { <SearchResult hit/> }).collect_view()}
                                    </ol>
                                }.into_any()
                            }}
                        }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn SearchResult(hit: SearchHit) -> impl IntoView {
    let place = match (&hit.page, &hit.section) {
        (Some(page), _) => format!("page {page}"),
        (None, Some(section)) => section.clone(),
        (None, None) => String::new(),
    };
    view! {
        <li class="rounded-lg border border-line p-3" data-testid="search-result">
            <div class="mb-1 flex flex-wrap items-baseline gap-2 text-sm">
                <a class="font-medium hover:underline" data-testid="result-file" href=format!("/api/v1/files/{}/content", hit.file_id)>{hit.file_name.clone()}</a>
                <span class="text-xs text-muted" data-testid="result-place">{place}</span>
                <span class="ml-auto text-xs text-muted">{format!("score {:.3}", hit.score)}</span>
            </div>
            <p class="text-sm" data-testid="result-snippet"><Marked text=hit.snippet.clone() ranges=hit.highlights.clone()/></p>
            <details class="mt-1 text-xs text-muted">
                <summary class="cursor-pointer select-none">"Whole passage"</summary>
                <p class="mt-1 whitespace-pre-wrap">{hit.text.clone()}</p>
            </details>
        </li>
    }
}

/// Text with some character ranges marked; every part stays text.
#[component]
pub fn Marked(text: String, ranges: Vec<(u32, u32)>) -> impl IntoView {
    let chars: Vec<char> = text.chars().collect();
    let mut parts = Vec::new();
    let mut at = 0usize;
    for (start, end) in ranges {
        let (start, end) = (start as usize, (end as usize).min(chars.len()));
        if start < at || start >= end {
            continue;
        }
        parts.push((chars[at..start].iter().collect::<String>(), false));
        parts.push((chars[start..end].iter().collect::<String>(), true));
        at = end;
    }
    parts.push((
        chars[at.min(chars.len())..].iter().collect::<String>(),
        false,
    ));
    parts
        .into_iter()
        .map(|(part, marked)| {
            if marked {
                view! { <mark class="rounded bg-highlight px-0.5">{part}</mark> }.into_any()
            } else {
                part.into_any()
            }
        })
        .collect_view()
}
