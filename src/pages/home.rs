use crate::components::composer::Composer;
use crate::context::use_chat;
use crate::server_fns::chat::send_message;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

/// The first screen: no conversation yet. Sending creates one and opens it.
#[component]
pub fn HomePage() -> impl IntoView {
    let chat = use_chat();
    let text = RwSignal::new(String::new());
    let sending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let on_send = Callback::new(move |content: String| {
        let navigate = navigate.clone();
        sending.set(true);
        error.set(None);
        let model = chat.model_to_send();
        let assistant = chat.assistant_to_send();
        spawn_local(async move {
            let tools = chat.enabled_tools.get_untracked();
            match send_message(None, content, model, tools, assistant, Vec::new()).await {
                Ok(outcome) => {
                    text.set(String::new());
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
        <div class="flex min-h-0 flex-1 flex-col">
            <div class="flex flex-1 flex-col items-center justify-center px-6 text-center" data-testid="empty-state">
                <h1 class="text-2xl font-semibold">"What can I help with?"</h1>
                <p class="mt-2 max-w-md text-sm text-zinc-500">
                    "Pick a model at the top, then write below. Answers stream in as the model writes them, and every conversation is kept in the list on the left."
                </p>
            </div>
            {move || error.get().map(|e| view! {
                <p role="alert" data-testid="send-error" class="mx-auto w-full max-w-3xl px-3 text-sm text-red-600">{e}</p>
            })}
            <Composer text streaming=Signal::derive(|| false) sending on_send on_stop=Callback::new(|_| ())/>
        </div>
    }
}
