//! Uploading files from the page: a drop zone and a picker, one request per file to the
//! `upload_files` server function (through XMLHttpRequest, whose upload progress events neither
//! fetch nor the server function client has),
//! each with a progress bar, a cancel button and its own error. Checks the server would make
//! (type by extension, size, count) are made first, so a refusal is immediate; the server
//! checks again, by content.

use crate::model::{FileInfo, UploadLimits};
use leptos::prelude::*;

/// Where one file's upload is.
#[derive(Clone, Debug, PartialEq)]
pub enum UploadState {
    Uploading,
    Done,
    Failed(String),
    Cancelled,
}

/// One file being uploaded.
#[derive(Clone, Copy)]
pub struct UploadItem {
    pub key: u64,
    pub name: StoredValue<String>,
    /// 0.0 to 1.0.
    pub progress: RwSignal<f64>,
    pub state: RwSignal<UploadState>,
    /// The request, to cancel it.
    #[cfg(feature = "hydrate")]
    request: StoredValue<Option<web_sys::XmlHttpRequest>, LocalStorage>,
}

impl UploadItem {
    pub fn cancel(&self) {
        #[cfg(feature = "hydrate")]
        self.request.with_value(|request| {
            if let Some(request) = request {
                let _ = request.abort();
            }
        });
    }
}

/// The uploads of one place in the page (the documents page, a conversation).
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub struct Uploads {
    pub items: RwSignal<Vec<UploadItem>>,
    /// The owner of the place the uploads belong to: each upload's signals are created under
    /// it (an event handler has no owner of its own) and go away with it.
    owner: StoredValue<Option<Owner>>,
    next_key: StoredValue<u64>,
    limits: Signal<Option<UploadLimits>>,
    on_done: Callback<FileInfo>,
}

impl Uploads {
    /// `on_done` runs for each file the server kept.
    pub fn new(limits: Signal<Option<UploadLimits>>, on_done: Callback<FileInfo>) -> Uploads {
        Uploads {
            items: RwSignal::new(Vec::new()),
            owner: StoredValue::new(Owner::current()),
            next_key: StoredValue::new(0),
            limits,
            on_done,
        }
    }

    /// Starts uploading these files (from a drop or the picker).
    #[cfg(feature = "hydrate")]
    pub fn start(&self, files: Vec<web_sys::File>) {
        let limits = self.limits.get_untracked().unwrap_or(UploadLimits {
            max_file_bytes: 10 * 1024 * 1024,
            max_files: 5,
        });
        let running = self.items.with_untracked(|items| {
            items
                .iter()
                .filter(|i| i.state.get_untracked() == UploadState::Uploading)
                .count()
        });
        for (index, file) in files.into_iter().enumerate() {
            let key = self.next_key.get_value();
            self.next_key.set_value(key + 1);
            let name = file.name();
            let size = file.size() as u64;
            let make = || UploadItem {
                key,
                name: StoredValue::new(name.clone()),
                progress: RwSignal::new(0.0),
                state: RwSignal::new(UploadState::Uploading),
                request: StoredValue::new_local(None),
            };
            let item = match self.owner.get_value() {
                Some(owner) => owner.with(make),
                None => make(),
            };
            self.items.update(|items| items.push(item));
            let refused = if running + index >= limits.max_files {
                Some(format!("at most {} files at once", limits.max_files))
            } else if crate::model::FileKind::from_name(&name).is_none() {
                Some(crate::model::ACCEPTED_KINDS.to_string())
            } else if size > limits.max_file_bytes {
                Some(crate::model::too_large_message(limits.max_file_bytes))
            } else {
                None
            };
            match refused {
                Some(reason) => {
                    item.state.set(UploadState::Failed(reason));
                }
                None => send(item, file, self.on_done),
            }
        }
    }
}

/// Where uploads go: the `upload_files` server function.
pub fn upload_path() -> &'static str {
    use leptos::server_fn::ServerFn;
    crate::server_fns::documents::UploadFiles::PATH
}

/// Sends one file; the item follows its progress and its end.
#[cfg(feature = "hydrate")]
fn send(item: UploadItem, file: web_sys::File, on_done: Callback<FileInfo>) {
    use wasm_bindgen::{closure::Closure, JsCast};
    // The page may be gone when the request ends: every write here tolerates that.
    let fail = move |reason: &str| {
        item.state.try_set(UploadState::Failed(reason.to_string()));
    };
    let (Ok(request), Ok(form)) = (web_sys::XmlHttpRequest::new(), web_sys::FormData::new()) else {
        fail("this browser cannot upload files");
        return;
    };
    if form
        .append_with_blob_and_filename("file", &file, &file.name())
        .is_err()
        || request.open("POST", upload_path()).is_err()
    {
        fail("the file cannot be read");
        return;
    }
    if let Ok(upload) = request.upload() {
        let progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(
            move |event: web_sys::ProgressEvent| {
                if event.length_computable() && event.total() > 0.0 {
                    item.progress.try_set(event.loaded() / event.total());
                }
            },
        );
        upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
        progress.forget();
    }
    let finished = {
        let request = request.clone();
        Closure::<dyn FnMut()>::new(move || {
            let status = request.status().unwrap_or(0);
            let body = request.response_text().ok().flatten().unwrap_or_default();
            if status != 200 {
                let reason = serde_json::from_str::<crate::error::AppError>(&body)
                    .map(|error| error.to_string())
                    .unwrap_or_else(|_| format!("the upload failed ({status})"));
                fail(&reason);
                return;
            }
            match serde_json::from_str::<crate::model::UploadOutcome>(&body) {
                Ok(mut outcome) if !outcome.files.is_empty() => {
                    item.progress.try_set(1.0);
                    item.state.try_set(UploadState::Done);
                    on_done.try_run(outcome.files.remove(0));
                }
                Ok(outcome) => fail(
                    outcome
                        .refused
                        .first()
                        .map(|refused| refused.error.as_str())
                        .unwrap_or("the server did not keep the file"),
                ),
                Err(_) => fail("the server did not keep the file"),
            }
        })
    };
    request.set_onload(Some(finished.as_ref().unchecked_ref()));
    finished.forget();
    let lost = Closure::<dyn FnMut()>::new(move || {
        item.state.set(UploadState::Failed(
            "the connection was lost during the upload".into(),
        ))
    });
    request.set_onerror(Some(lost.as_ref().unchecked_ref()));
    lost.forget();
    let aborted = Closure::<dyn FnMut()>::new(move || {
        item.state.try_set(UploadState::Cancelled);
    });
    request.set_onabort(Some(aborted.as_ref().unchecked_ref()));
    aborted.forget();
    item.request.set_value(Some(request.clone()));
    if request.send_with_opt_form_data(Some(&form)).is_err() {
        fail("the upload could not start");
    }
}

/// The files of a drop or of the picker.
#[cfg(feature = "hydrate")]
pub fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// A button that opens the file picker.
#[component]
pub fn PickFiles(uploads: Uploads, #[prop(into)] label: String) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let on_change = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(input) = input.get_untracked() {
            uploads.start(files_of(input.files()));
            input.set_value("");
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = uploads;
    };
    let preferences = super::preferences::use_preferences();
    // Uploads switched off on this server (`features.file_upload`): no picker.
    let uploads_on = move || preferences.current.with(|p| p.features.file_upload);
    view! {
        <label
            class="inline-flex cursor-pointer items-center gap-1 rounded-lg border border-line px-3 py-1.5 text-sm hover:bg-surface"
            style=move || if uploads_on() { "" } else { "display: none" }
        >
            <input
                node_ref=input
                type="file"
                name="file"
                multiple
                accept=crate::model::ACCEPTED_EXTENSIONS
                data-testid="file-input"
                class="sr-only"
                on:change=on_change
            />
            {label}
        </label>
    }
}

/// The uploads in progress and their ends: a bar each, Cancel while it runs, the reason when
/// a file was refused.
#[component]
pub fn UploadList(uploads: Uploads) -> impl IntoView {
    view! {
        <Show when=move || uploads.items.with(|items| !items.is_empty())>
            <ul class="space-y-1 text-sm" data-testid="upload-list">
                <For each=move || uploads.items.get() key=|item| item.key let:item>
                    <li data-testid="upload-item" class="flex items-center gap-2">
                        <span class="max-w-[40%] truncate" title=move || item.name.get_value()>{move || item.name.get_value()}</span>
                        {move || match item.state.get() {
                            UploadState::Uploading => view! {
                                <progress
                                    data-testid="upload-progress"
                                    class="h-2 flex-1"
                                    max="1"
                                    value=move || item.progress.get().to_string()
                                ></progress>
                                <button type="button" data-testid="cancel-upload" class="text-xs hover:underline" on:click=move |_| item.cancel()>"Cancel"</button>
                            }.into_any(),
                            UploadState::Done => view! { <span data-testid="upload-done" class="text-xs text-success">"Uploaded"</span> }.into_any(),
                            UploadState::Cancelled => view! { <span data-testid="upload-cancelled" class="text-xs text-muted">"Cancelled"</span> }.into_any(),
                            UploadState::Failed(reason) => view! { <span role="alert" data-testid="upload-error" class="text-xs text-danger">{reason}</span> }.into_any(),
                        }}
                    </li>
                </For>
            </ul>
        </Show>
    }
}

/// The status of a file as the page shows it, with the embedding progress.
pub fn status_label(file: &FileInfo) -> String {
    use crate::model::FileStatus;
    match file.status {
        FileStatus::Queued => "queued".into(),
        FileStatus::Extracting => "reading text…".into(),
        FileStatus::Embedding => format!("indexing {}/{}", file.embedded_count, file.chunk_count),
        FileStatus::Ready => "ready".into(),
        FileStatus::Failed => "failed".into(),
    }
}
