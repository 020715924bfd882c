use crate::components::attachments::{on_drop_files, Attachments};
use crate::components::composer::Composer;
use crate::components::upload::Uploads;
use crate::context::use_chat;
use crate::model::FileInfo;
use crate::pages::documents::poll_while_indexing;
use crate::server_fns::chat::send_message;
use crate::server_fns::documents::{get_upload_limits, list_files};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

/// The first screen: no conversation yet. Sending creates one and opens it.
#[component]
pub fn HomePage() -> impl IntoView {
    let chat = use_chat();
    let (draft, send_error) = crate::components::composer::unsent_message();
    let text = RwSignal::new(draft);
    let sending = RwSignal::new(false);
    let error = RwSignal::new(send_error);
    let navigate = use_navigate();
    // Files for the first message: uploaded (or chosen) now, attached when it is sent.
    let pending = RwSignal::new(Vec::<FileInfo>::new());
    let refresh = move || {
        spawn_local(async move {
            if let Ok(all) = list_files().await {
                pending.try_update(|files| {
                    for file in files.iter_mut() {
                        if let Some(fresh) = all.iter().find(|f| f.id == file.id) {
                            *file = fresh.clone();
                        }
                    }
                });
            }
        })
    };
    poll_while_indexing(pending.into(), refresh);
    let limits = Resource::new(|| (), |_| get_upload_limits());
    let limits = Signal::derive(move || limits.get().and_then(Result::ok));
    let add = Callback::new(move |file: FileInfo| {
        pending.update(|files| {
            if !files.iter().any(|f| f.id == file.id) {
                files.push(file);
            }
        })
    });
    let uploads = Uploads::new(limits, add);
    let knowledge =
        crate::components::attachments::follow_knowledge(chat.selected_assistant, Vec::new());
    let remove =
        Callback::new(move |id: uuid::Uuid| pending.update(|files| files.retain(|f| f.id != id)));
    let on_send = Callback::new(move |content: String| {
        let navigate = navigate.clone();
        sending.set(true);
        error.set(None);
        let model = chat.model_to_send();
        let assistant = chat.assistant_to_send();
        spawn_local(async move {
            let tools = chat.enabled_tools.get_untracked();
            let files = pending.with_untracked(|files| files.iter().map(|f| f.id).collect());
            match send_message(None, content, model, tools, assistant, files).await {
                Ok(outcome) => {
                    crate::components::composer::draft::forget(None);
                    text.set(String::new());
                    pending.set(Vec::new());
                    chat.tool_mode.set(outcome.tool_mode);
                    chat.notice.set(outcome.notice.clone());
                    chat.selected_model
                        .set(outcome.assistant_message.model.clone());
                    chat.refresh_conversations();
                    navigate(
                        &format!("/c/{}", outcome.conversation.id),
                        Default::default(),
                    );
                }
                // The text stays in the box: nothing typed is lost.
                Err(e) => error.set(Some(e.to_string())),
            }
            sending.set(false);
        });
    });
    view! {
        <div class="flex min-h-0 flex-1 flex-col"
            on:dragover=|ev: leptos::ev::DragEvent| ev.prevent_default()
            on:drop=on_drop_files(uploads)>
            <div class="flex flex-1 flex-col items-center justify-center px-6 text-center" data-testid="empty-state">
                <h1 class="text-2xl font-semibold">"What can I help with?"</h1>
                <p class="mt-2 max-w-md text-sm text-muted">
                    "Pick a model at the top, then write below. Answers stream in as the model writes them, and every conversation is kept in the list on the left."
                </p>
            </div>
            {move || error.get().map(|e| view! {
                <p role="alert" data-testid="send-error" class="mx-auto w-full max-w-(--chat-max-width) px-3 text-sm text-danger">{e}</p>
            })}
            <Attachments files=pending knowledge uploads on_add=add on_remove=remove/>
            <Composer text streaming=Signal::derive(|| false) sending on_send on_stop=Callback::new(|_| ())
                uploads has_images=Signal::derive(move || pending.with(|files| files.iter().any(|f| f.kind.is_image())))/>
        </div>
    }
}
