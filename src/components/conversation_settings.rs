//! A conversation's system prompt and sampling options, sent with each of its next turns.
//!
//! One form for both kinds of browser: a `<details>` opens without scripts, and the form posts
//! to the `update_conversation_settings` server function itself, which sends a browser without
//! JavaScript back to the conversation with the outcome in the query. With JavaScript the
//! post is made in place and the outcome shown beside Save.

use crate::model::{Conversation, MAX_SYSTEM_PROMPT_CHARS};
use crate::server_fns::conversations::{
    UpdateConversationSettings, SETTINGS_ERROR, SETTINGS_OUTCOME,
};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_query_map;

const SAVED: &str = "Saved: the next answers use these settings.";

fn shown<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

#[component]
pub fn ConversationSettings(conversation: Conversation) -> impl IntoView {
    let id = conversation.id;
    // The outcome of the form's own post, when the server sent the browser back here.
    let posted = use_query_map().with_untracked(|query| match query.get(SETTINGS_ERROR) {
        Some(error) => Some(Err(error)),
        None => (query.get(SETTINGS_OUTCOME).as_deref() == Some("saved")).then_some(Ok(SAVED)),
    });
    let open = posted.is_some();
    let status = RwSignal::new(posted);
    let saving = RwSignal::new(false);

    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            // The fields as the form holds them (typed before the page went live included).
            let Some(data) = ev
                .target()
                .and_then(|target| target.dyn_into::<web_sys::HtmlFormElement>().ok())
                .and_then(|form| web_sys::FormData::new_with_form(&form).ok())
            else {
                return;
            };
            let field = |name: &str| data.get(name).as_string().unwrap_or_default();
            let (prompt, temperature) = (field("system_prompt"), field("temperature"));
            let (num_predict, num_ctx) = (field("num_predict"), field("num_ctx"));
            saving.set(true);
            leptos::task::spawn_local(async move {
                let saved = crate::server_fns::conversations::update_conversation_settings(
                    id,
                    prompt,
                    temperature,
                    num_predict,
                    num_ctx,
                )
                .await;
                status.set(Some(saved.map(|_| SAVED).map_err(|e| e.to_string())));
                saving.set(false);
            });
        }
    };

    // The prompt as the box's own content, escaped: a textarea shows its text as it is.
    #[cfg(feature = "ssr")]
    let prompt_html =
        crate::markdown::escape_html(conversation.system_prompt.as_deref().unwrap_or_default());
    #[cfg(not(feature = "ssr"))]
    let prompt_html = String::new();
    let options = &conversation.options;
    let field = "w-full rounded-md border border-line bg-app px-2 py-1.5 text-sm";
    view! {
        <details
            data-testid="settings-panel"
            class="mx-auto w-full max-w-(--chat-max-width) px-4 pt-2 text-sm"
            open=open
        >
            <summary
                data-testid="settings-toggle"
                class="w-fit cursor-pointer rounded-md px-2 py-1 text-muted hover:bg-surface"
            >
                "⚙ Conversation settings"
            </summary>
            <form
                id="conversation-settings"
                data-testid="conversation-settings"
                method="post"
                action=UpdateConversationSettings::PATH
                class="mt-2 grid gap-3 rounded-lg border border-line p-3"
                on:submit=save
            >
                <input type="hidden" name="id" value=id.to_string()/>
                <label class="grid gap-1">
                    <span class="font-medium">"System prompt"</span>
                    <textarea
                        name="system_prompt"
                        data-testid="system-prompt"
                        class=field
                        rows="3"
                        maxlength=MAX_SYSTEM_PROMPT_CHARS
                        placeholder="How the model should behave in this conversation"
                        inner_html=prompt_html
                    ></textarea>
                </label>
                <div class="grid grid-cols-3 gap-2">
                    // Any step: a temperature set elsewhere (0.75 through the API) must not
                    // stop the browser from sending the form.
                    <NumberField label="Temperature" name="temperature" test_id="temperature"
                        step="any" min="0" max="5" placeholder="default"
                        value=shown(options.temperature) class=field/>
                    <NumberField label="Max tokens" name="num_predict" test_id="num-predict"
                        step="1" min="1" placeholder="server limit"
                        value=shown(options.num_predict) class=field/>
                    <NumberField label="Context length" name="num_ctx" test_id="num-ctx"
                        step="1" min="1" max="2097152" placeholder="default"
                        value=shown(options.num_ctx) class=field/>
                </div>
                <div class="flex items-center gap-3">
                    <button type="submit" data-testid="settings-save"
                        class="rounded-md bg-primary px-3 py-1.5 font-medium text-on-primary hover:opacity-90 disabled:opacity-50"
                        disabled=move || saving.get()>
                        "Save"
                    </button>
                    {move || status.get().map(|s| match s {
                        Ok(text) => view! { <span data-testid="settings-status" role="status" class="text-success">{text}</span> }.into_any(),
                        Err(text) => view! { <span data-testid="settings-status" role="alert" class="text-danger">{text}</span> }.into_any(),
                    })}
                </div>
            </form>
        </details>
    }
}

/// A labelled number input of the settings form (empty means "not set").
#[component]
fn NumberField(
    label: &'static str,
    name: &'static str,
    test_id: &'static str,
    step: &'static str,
    min: &'static str,
    #[prop(optional)] max: Option<&'static str>,
    placeholder: &'static str,
    value: String,
    class: &'static str,
) -> impl IntoView {
    view! {
        <label class="grid gap-1">
            <span>{label}</span>
            <input name=name data-testid=test_id class=class type="number" step=step min=min max=max
                placeholder=placeholder value=value/>
        </label>
    }
}
