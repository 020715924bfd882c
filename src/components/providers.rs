//! The models page's providers besides Ollama (admins): each with its state and models, a form
//! to add or change one, a check and a delete. The API key field is write-only: the page is
//! only told whether a key is set.

use crate::model::{ModelProvider, ProviderInput, ProviderKind, ProviderStatus};
use crate::server_fns::ollama::{check_model_provider, delete_model_provider, save_model_provider};
use leptos::prelude::*;
use leptos::task::spawn_local;
use uuid::Uuid;

#[component]
pub fn ProvidersSection(
    providers: RwSignal<Vec<ProviderStatus>>,
    error: RwSignal<Option<String>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // The provider being changed (none: the form adds one).
    let editing = RwSignal::new(None::<ModelProvider>);
    let check = move |id: Uuid| {
        spawn_local(async move {
            match check_model_provider(id).await {
                Ok(status) => providers.update(|list| {
                    if let Some(p) = list.iter_mut().find(|p| p.provider.id == id) {
                        *p = status;
                    }
                }),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    let confirming = RwSignal::new(None::<Uuid>);
    let remove = move |id: Uuid| {
        if confirming.get_untracked() != Some(id) {
            confirming.set(Some(id));
            return;
        }
        confirming.set(None);
        spawn_local(async move {
            match delete_model_provider(id).await {
                Ok(()) => reload(),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    view! {
        <p class="mb-2 text-sm text-muted">
            "Models of an OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, LM Studio, OpenRouter…) or of Anthropic, offered as provider/model. API keys are stored sealed and never shown again."
        </p>
        <ul class="mb-3 space-y-2" data-testid="providers">
            {move || providers.get().into_iter().map(|status| {
                let provider = status.provider.clone();
                let id = provider.id;
                let (label, class) = match (provider.enabled, status.up) {
                    (false, _) => ("Off", "text-muted"),
                    (true, Some(true)) => ("Up", "text-success"),
                    (true, Some(false)) => ("Down", "text-danger"),
                    (true, None) => ("Not checked yet", "text-muted"),
                };
                let shown = provider.clone();
                view! {
                    <li data-testid="provider" data-name=provider.name.clone() class="rounded-md border border-line p-2 text-sm">
                        <div class="flex flex-wrap items-center gap-2">
                            <span class="font-medium">{provider.name.clone()}</span>
                            <span class="text-muted">{provider.kind.label()}</span>
                            <span class="font-mono text-xs text-muted">{provider.base_url.clone()}</span>
                            <span class=format!("mr-auto {class}") data-testid="provider-state">{label}</span>
                            <span class="text-xs text-muted">{if provider.has_key { "key set" } else { "no key" }}</span>
                            <button type="button" class="rounded border border-line px-2 py-0.5" data-testid="provider-check" on:click=move |_| check(id)>"Check"</button>
                            <button type="button" class="rounded border border-line px-2 py-0.5" data-testid="provider-edit" on:click=move |_| editing.set(Some(shown.clone()))>"Change"</button>
                            <button type="button" class="rounded border border-line px-2 py-0.5" data-testid="provider-delete"
                                class=("text-danger", move || confirming.get() == Some(id))
                                on:click=move |_| remove(id)>
                                {move || if confirming.get() == Some(id) { "Really delete?" } else { "Delete" }}
                            </button>
                        </div>
                        {status.error.clone().map(|e| view! { <p role="alert" class="text-xs text-danger">{e}</p> })}
                        <p class="text-xs text-muted" data-testid="provider-models">{status.models.join(", ")}</p>
                    </li>
                }
            }).collect_view()}
        </ul>
        <ProviderForm editing error reload/>
    }
}

#[component]
fn ProviderForm(
    editing: RwSignal<Option<ModelProvider>>,
    error: RwSignal<Option<String>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new(ProviderKind::OpenAi);
    let base_url = RwSignal::new(String::new());
    let api_key = RwSignal::new(String::new());
    let models = RwSignal::new(String::new());
    let enabled = RwSignal::new(true);
    // Changing a provider fills the form with what it has (never its key).
    Effect::new(move |_| {
        if let Some(p) = editing.get() {
            name.set(p.name);
            kind.set(p.kind);
            base_url.set(p.base_url);
            api_key.set(String::new());
            models.set(p.models.join(", "));
            enabled.set(p.enabled);
        }
    });
    let clear = move || {
        editing.set(None);
        name.set(String::new());
        base_url.set(String::new());
        api_key.set(String::new());
        models.set(String::new());
        enabled.set(true);
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let id = editing.get_untracked().map(|p| p.id);
        let key = api_key.get_untracked();
        let input = ProviderInput {
            name: name.get_untracked(),
            kind: Some(kind.get_untracked()),
            base_url: Some(base_url.get_untracked()),
            // When changing, an empty field keeps the key.
            api_key: (!key.trim().is_empty() || id.is_none()).then_some(key),
            models: models
                .get_untracked()
                .split([',', '\n'])
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect(),
            enabled: enabled.get_untracked(),
        };
        spawn_local(async move {
            match save_model_provider(id, input).await {
                Ok(_) => {
                    error.set(None);
                    clear();
                    reload();
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let field = "rounded-md border border-line bg-surface px-2 py-1.5";
    view! {
        <form class="grid gap-2 rounded-md border border-line p-3 text-sm sm:grid-cols-2" on:submit=submit data-testid="provider-form">
            <h3 class="font-medium sm:col-span-2">
                {move || match editing.get() {
                    Some(p) => format!("Change {}", p.name),
                    None => "Add a provider".to_string(),
                }}
            </h3>
            <label class="flex flex-col">
                <span class="text-muted">"Name (prefix of its models)"</span>
                <input type="text" required pattern="[a-z0-9][a-z0-9\\-]{0,31}" data-testid="provider-name" class=field
                    placeholder="openai"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            </label>
            <label class="flex flex-col">
                <span class="text-muted">"Kind"</span>
                <select data-testid="provider-kind" class=field
                    on:change=move |ev| kind.set(ProviderKind::parse(&event_target_value(&ev)).unwrap_or(ProviderKind::OpenAi))>
                    {[ProviderKind::OpenAi, ProviderKind::Anthropic].into_iter().map(|k| view! {
                        <option value=k.as_str() selected=move || kind.get() == k>{k.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="flex flex-col">
                <span class="text-muted">"Base URL"</span>
                <input type="url" data-testid="provider-url" class=field
                    placeholder=move || kind.get().default_base_url()
                    prop:value=move || base_url.get() on:input=move |ev| base_url.set(event_target_value(&ev))/>
            </label>
            <label class="flex flex-col">
                <span class="text-muted">{move || if editing.get().is_some() { "API key (empty: keep the one set)" } else { "API key" }}</span>
                <input type="password" autocomplete="off" data-testid="provider-key" class=field
                    prop:value=move || api_key.get() on:input=move |ev| api_key.set(event_target_value(&ev))/>
            </label>
            <label class="flex flex-col sm:col-span-2">
                <span class="text-muted">"Models to offer, comma-separated (empty: all it lists)"</span>
                <input type="text" data-testid="provider-models-input" class=field
                    prop:value=move || models.get() on:input=move |ev| models.set(event_target_value(&ev))/>
            </label>
            <label class="flex items-center gap-2">
                <input type="checkbox" prop:checked=move || enabled.get() on:change=move |ev| enabled.set(event_target_checked(&ev))/>
                "On"
            </label>
            <div class="flex justify-end gap-2">
                {move || editing.get().is_some().then(|| view! {
                    <button type="button" class="rounded-md border border-line px-3 py-1.5" on:click=move |_| clear()>"Cancel"</button>
                })}
                <button type="submit" data-testid="provider-save" class="rounded-md bg-primary px-3 py-1.5 font-medium text-on-primary">"Save"</button>
            </div>
        </form>
    }
}
