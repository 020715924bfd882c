//! A conversation's system prompt and sampling options, sent with each of its next turns.

use crate::model::{Conversation, GenerationOptions};
use crate::server_fns::conversations::update_conversation_settings;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// A number field's text: empty means "the model's default".
pub(crate) fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{what} must be a number"))
}

fn shown<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

#[component]
pub fn ConversationSettings(conversation: Conversation) -> impl IntoView {
    let id = conversation.id;
    let open = RwSignal::new(false);
    let prompt = RwSignal::new(conversation.system_prompt.clone().unwrap_or_default());
    let temperature = RwSignal::new(shown(conversation.options.temperature));
    let num_predict = RwSignal::new(shown(conversation.options.num_predict));
    let num_ctx = RwSignal::new(shown(conversation.options.num_ctx));
    let status = RwSignal::new(None::<Result<&'static str, String>>);
    let saving = RwSignal::new(false);

    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let options = (|| {
            Ok::<_, String>(GenerationOptions {
                temperature: parse(&temperature.get_untracked(), "Temperature")?,
                num_predict: parse(&num_predict.get_untracked(), "Max tokens")?,
                num_ctx: parse(&num_ctx.get_untracked(), "Context length")?,
            })
        })();
        let options = match options {
            Ok(options) => options,
            Err(message) => {
                status.set(Some(Err(message)));
                return;
            }
        };
        let system_prompt = Some(prompt.get_untracked()).filter(|p| !p.trim().is_empty());
        saving.set(true);
        spawn_local(async move {
            match update_conversation_settings(id, system_prompt, options).await {
                Ok(_) => status.set(Some(Ok("Saved: the next answers use these settings."))),
                Err(error) => status.set(Some(Err(error.to_string()))),
            }
            saving.set(false);
        });
    };

    let field = "w-full rounded-md border border-line bg-app px-2 py-1.5 text-sm";
    view! {
        <div class="mx-auto w-full max-w-(--chat-max-width) px-4 pt-2 text-sm">
            <button
                type="button"
                data-testid="settings-toggle"
                class="rounded-md px-2 py-1 text-muted hover:bg-surface"
                aria-controls="conversation-settings"
                aria-expanded=move || if open.get() { "true" } else { "false" }
                on:click=move |_| open.update(|o| *o = !*o)
            >
                "⚙ Conversation settings"
            </button>
            <Show when=move || open.get()>
                <form
                    id="conversation-settings"
                    data-testid="conversation-settings"
                    class="mt-2 grid gap-3 rounded-lg border border-line p-3"
                    on:submit=save
                >
                    <label class="grid gap-1">
                        <span class="font-medium">"System prompt"</span>
                        <textarea
                            data-testid="system-prompt"
                            class=field
                            rows="3"
                            placeholder="How the model should behave in this conversation"
                            prop:value=move || prompt.get()
                            on:input=move |ev| prompt.set(event_target_value(&ev))
                        ></textarea>
                    </label>
                    <div class="grid grid-cols-3 gap-2">
                        <NumberField label="Temperature" test_id="temperature" step="0.1" max="5" min="0"
                            placeholder="default" value=temperature class=field/>
                        <NumberField label="Max tokens" test_id="num-predict" step="1" min="1"
                            placeholder="server limit" value=num_predict class=field/>
                        <NumberField label="Context length" test_id="num-ctx" step="1" min="1"
                            placeholder="default" value=num_ctx class=field/>
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
            </Show>
        </div>
    }
}

/// A labelled number input bound to a text signal (empty means "not set").
#[component]
fn NumberField(
    label: &'static str,
    test_id: &'static str,
    step: &'static str,
    min: &'static str,
    #[prop(optional)] max: Option<&'static str>,
    placeholder: &'static str,
    value: RwSignal<String>,
    class: &'static str,
) -> impl IntoView {
    view! {
        <label class="grid gap-1">
            <span>{label}</span>
            <input data-testid=test_id class=class type="number" step=step min=min max=max
                placeholder=placeholder
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))/>
        </label>
    }
}
