//! Assistants: the person's presets, each editable, duplicable and deletable, those an admin
//! shares with everyone (usable and duplicable), and a form for a new one.

use crate::context::use_chat;
use crate::model::parse_optional;
use crate::model::{Assistant, AssistantInput};
use crate::server_fns::assistants::{delete_assistant, duplicate_assistant, save_assistant};
use crate::server_fns::tools::list_tools;
use leptos::prelude::*;
use leptos::task::spawn_local;
use uuid::Uuid;

#[component]
pub fn AssistantsPage() -> impl IntoView {
    let chat = use_chat();
    // Admins of an instance with accounts may offer an assistant to everyone.
    let status = Resource::new(|| (), |_| crate::server_fns::accounts::get_auth_status());
    let can_share = Signal::derive(move || {
        status.get().and_then(|s| s.ok()).is_some_and(|s| {
            s.mode == crate::model::AuthMode::Accounts && s.person.is_some_and(|p| p.is_admin())
        })
    });
    // The assistant being edited (None with `editing` on: a new one).
    let editing = RwSignal::new(None::<Option<Assistant>>);
    let error = RwSignal::new(None::<String>);
    let act =
        move |work: std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>>>>| {
            error.set(None);
            spawn_local(async move {
                match work.await {
                    Ok(()) => chat.refresh_assistants(),
                    Err(message) => error.set(Some(message)),
                }
            });
        };
    view! {
        <leptos_meta::Title text=crate::app::page_title("Assistants")/>
        <div class="mx-auto w-full max-w-3xl flex-1 overflow-y-auto p-4" data-testid="assistants-page">
            <div class="mb-4 flex items-center gap-2">
                <h1 class="mr-auto text-xl font-semibold">"Assistants"</h1>
                <button
                    type="button"
                    data-testid="new-assistant"
                    class="rounded-lg bg-primary px-3 py-1.5 text-sm font-medium text-on-primary hover:opacity-90"
                    on:click=move |_| editing.set(Some(None))
                >
                    "New assistant"
                </button>
            </div>
            <p class="mb-4 text-sm text-muted">
                "An assistant is a model with its own temperature, answer length, system prompt and tools. Pick one next to the model picker; a conversation remembers it."
            </p>
            {move || error.get().map(|e| view! { <p role="alert" data-testid="assistant-error" class="mb-3 text-sm text-danger">{e}</p> })}
            {move || editing.get().map(|assistant| view! {
                <AssistantForm
                    assistant
                    can_share
                    on_done=Callback::new(move |saved: bool| {
                        editing.set(None);
                        if saved {
                            chat.refresh_assistants();
                        }
                    })
                />
            })}
            <Transition fallback=|| view! { <p class="text-muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match chat.assistants.await {
                        Err(e) => view! { <p role="alert" class="text-danger">{e.to_string()}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="text-muted">"No assistants yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="space-y-2" data-testid="assistant-list">
                                {list.into_iter().map(|assistant| {
                                    let id = assistant.id;
                                    let for_edit = assistant.clone();
                                    let tools = if assistant.tools_enabled && !assistant.tools.0.is_empty() {
                                        format!(" · tools: {}", assistant.tools.0.join(", "))
                                    } else {
                                        String::new()
                                    };
                                    let summary = format!(
                                        "{} · temperature {} · {} tokens{}",
                                        assistant.model,
                                        assistant.temperature.map(|t| t.to_string()).unwrap_or_else(|| "default".into()),
                                        assistant.max_tokens.map(|t| t.to_string()).unwrap_or_else(|| "default".into()),
                                        tools
                                    );
                                    let name = assistant.name.clone();
                                    let owned = assistant.owned;
                                    let badge = match (assistant.shared, owned) {
                                        (true, true) => Some("Shared with everyone"),
                                        (true, false) => Some("Shared by an admin"),
                                        _ => None,
                                    };
                                    view! {
                                        <li class="rounded-lg border border-line p-3" data-testid="assistant-item">
                                            <div class="flex items-start gap-2">
                                                <div class="mr-auto min-w-0">
                                                    <p class="font-medium">
                                                        <span data-testid="assistant-name">{assistant.name.clone()}</span>
                                                        {badge.map(|b| view! {
                                                            <span data-testid="assistant-shared" class="ml-2 rounded bg-surface px-1.5 py-0.5 text-xs font-normal text-muted">{b}</span>
                                                        })}
                                                    </p>
                                                    <p class="text-sm text-muted">{assistant.description.clone()}</p>
                                                    <p class="mt-1 text-xs text-muted">{summary}</p>
                                                </div>
                                                {owned.then(|| view! {
                                                    <button type="button" data-testid="edit-assistant" class="rounded px-2 py-1 text-sm hover:bg-surface"
                                                        on:click=move |_| editing.set(Some(Some(for_edit.clone())))>"Edit"</button>
                                                })}
                                                <button type="button" data-testid="duplicate-assistant" class="rounded px-2 py-1 text-sm hover:bg-surface"
                                                    on:click=move |_| act(Box::pin(async move {
                                                        duplicate_assistant(id).await.map(|_| ()).map_err(|e| e.to_string())
                                                    }))>"Duplicate"</button>
                                                {owned.then(|| view! {
                                                    <button type="button" data-testid="delete-assistant" class="rounded px-2 py-1 text-sm text-danger hover:bg-danger-soft"
                                                        aria-label=format!("Delete {name}")
                                                        on:click=move |_| act(Box::pin(async move {
                                                            delete_assistant(id).await.map_err(|e| e.to_string())
                                                        }))>"Delete"</button>
                                                })}
                                            </div>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

/// Create (no assistant) or edit form; `on_done(true)` once saved.
#[component]
fn AssistantForm(
    assistant: Option<Assistant>,
    /// Whether the "offer to everyone" box is shown (admins with accounts).
    can_share: Signal<bool>,
    on_done: Callback<bool>,
) -> impl IntoView {
    let id: Option<Uuid> = assistant.as_ref().map(|a| a.id);
    let field = |f: fn(&Assistant) -> String| assistant.as_ref().map(f).unwrap_or_default();
    let name = RwSignal::new(field(|a| a.name.clone()));
    let description = RwSignal::new(field(|a| a.description.clone()));
    let model = RwSignal::new(field(|a| a.model.clone()));
    let temperature = RwSignal::new(field(|a| {
        a.temperature.map(|t| t.to_string()).unwrap_or_default()
    }));
    let max_tokens = RwSignal::new(field(|a| {
        a.max_tokens.map(|t| t.to_string()).unwrap_or_default()
    }));
    let system_prompt = RwSignal::new(field(|a| a.system_prompt.clone()));
    let tools = RwSignal::new(
        assistant
            .as_ref()
            .map(|a| a.tools.0.clone())
            .unwrap_or_default(),
    );
    let tools_enabled = RwSignal::new(assistant.as_ref().is_some_and(|a| a.tools_enabled));
    let shared = RwSignal::new(assistant.as_ref().is_some_and(|a| a.shared));
    let knowledge = RwSignal::new(
        assistant
            .as_ref()
            .map(|a| a.files.clone())
            .unwrap_or_default(),
    );
    let documents = Resource::new(|| (), |_| crate::server_fns::documents::list_files());
    let status = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let available = Resource::new(|| (), |_| list_tools());

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parsed = (|| {
            let temperature = parse_optional::<f32>(&temperature.get_untracked(), "Temperature")?;
            let max_tokens = parse_optional::<i32>(&max_tokens.get_untracked(), "Max tokens")?;
            Ok::<_, String>(AssistantInput {
                name: Some(name.get_untracked()),
                description: Some(description.get_untracked()),
                model: Some(model.get_untracked()),
                // An empty field: the model's default.
                temperature: Some(temperature),
                max_tokens: Some(max_tokens),
                system_prompt: Some(system_prompt.get_untracked()),
                tools: Some(tools.get_untracked()),
                toolset: None,
                tools_enabled: Some(tools_enabled.get_untracked()),
                files: Some(knowledge.get_untracked()),
                // Sent only where it can be set, so that others' saves are never refused.
                shared: can_share.get_untracked().then(|| shared.get_untracked()),
            })
        })();
        let input = match parsed {
            Ok(input) => input,
            Err(message) => {
                status.set(Some(message));
                return;
            }
        };
        saving.set(true);
        spawn_local(async move {
            match save_assistant(id, input).await {
                Ok(_) => on_done.run(true),
                Err(e) => status.set(Some(e.to_string())),
            }
            saving.set(false);
        });
    };
    let input_class = "w-full rounded-md border border-line bg-app px-2 py-1.5 text-sm";
    view! {
        <form class="mb-6 space-y-3 rounded-lg border border-line p-4" data-testid="assistant-form" on:submit=submit>
            <h2 class="font-medium">{if id.is_some() { "Edit assistant" } else { "New assistant" }}</h2>
            <label class="block text-sm">"Name"
                <input class=input_class data-testid="assistant-name-input" required maxlength="60"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            </label>
            <label class="block text-sm">"Description"
                <input class=input_class data-testid="assistant-description-input" maxlength="500"
                    prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))/>
            </label>
            <div class="grid grid-cols-3 gap-3">
                <label class="block text-sm">"Model"
                    <input class=input_class data-testid="assistant-model-input" required placeholder="llama3.2"
                        prop:value=move || model.get() on:input=move |ev| model.set(event_target_value(&ev))/>
                </label>
                <label class="block text-sm">"Temperature"
                    <input class=input_class data-testid="assistant-temperature-input" type="number" min="0" max="2" step="0.05"
                        prop:value=move || temperature.get() on:input=move |ev| temperature.set(event_target_value(&ev))/>
                </label>
                <label class="block text-sm">"Max tokens"
                    <input class=input_class data-testid="assistant-max-tokens-input" type="number" min="1" step="1"
                        prop:value=move || max_tokens.get() on:input=move |ev| max_tokens.set(event_target_value(&ev))/>
                </label>
            </div>
            <label class="block text-sm">"System prompt"
                <textarea class=input_class data-testid="assistant-prompt-input" rows="4" maxlength="20000"
                    prop:value=move || system_prompt.get() on:input=move |ev| system_prompt.set(event_target_value(&ev))></textarea>
            </label>
            <label class="flex items-center gap-2 text-sm">
                <input type="checkbox" data-testid="assistant-tools-enabled" prop:checked=move || tools_enabled.get()
                    on:change=move |ev| tools_enabled.set(event_target_checked(&ev))/>
                "May call tools"
            </label>
            <fieldset class="text-sm" disabled=move || !tools_enabled.get()>
                <legend class="mb-1">"Tools"</legend>
                <p class="mb-1 flex flex-wrap items-center gap-1 text-xs text-muted">
                    "Toolsets:"
                    {crate::model::TOOLSETS.iter().map(|(set, members)| {
                        let members: Vec<String> = members.iter().map(|m| m.to_string()).collect();
                        view! {
                            <button type="button" data-testid=format!("toolset-{set}")
                                class="rounded border border-line px-1.5 py-0.5 hover:bg-surface"
                                on:click=move |_| tools.set(members.clone())>
                                {set.replace('_', " ")}
                            </button>
                        }
                    }).collect_view()}
                </p>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        available.await.unwrap_or_default().into_iter().map(|tool| {
                            let name = tool.name.clone();
                            let checked = { let name = name.clone(); move || tools.with(|t| t.contains(&name)) };
                            let toggle = { let name = name.clone(); move |_| tools.update(|t| {
                                if let Some(i) = t.iter().position(|n| *n == name) { t.remove(i); } else { t.push(name.clone()); }
                            }) };
                            view! {
                                <label class="mr-3 inline-flex items-center gap-1">
                                    <input type="checkbox" data-testid=format!("assistant-tool-{name}") prop:checked=checked on:change=toggle/>
                                    <span class="font-mono">{tool.name}</span>
                                </label>
                            }
                        }).collect_view()
                    })}
                </Suspense>
            </fieldset>
            <fieldset class="text-sm" data-testid="assistant-knowledge">
                <legend class="mb-1">"Knowledge"</legend>
                <p class="mb-1 text-xs text-muted">"Documents every conversation with this assistant answers from, with citations."</p>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let files = documents.await.unwrap_or_default();
                        if files.is_empty() {
                            return view! {
                                <p class="text-xs text-muted">"No documents yet: upload some on the " <a class="underline" href="/documents">"documents page"</a> "."</p>
                            }.into_any();
                        }
                        files.into_iter().map(|file| {
                            let id = file.id;
                            let checked = move || knowledge.with(|k| k.contains(&id));
                            let toggle = move |_| knowledge.update(|k| {
                                if let Some(i) = k.iter().position(|f| *f == id) { k.remove(i); } else { k.push(id); }
                            });
                            view! {
                                <label class="mr-3 inline-flex items-center gap-1">
                                    <input type="checkbox" data-testid="assistant-knowledge-file" prop:checked=checked on:change=toggle/>
                                    <span>{file.name}</span>
                                </label>
                            }
                        }).collect_view().into_any()
                    })}
                </Suspense>
            </fieldset>
            {move || can_share.get().then(|| view! {
                <label class="flex items-start gap-2 text-sm">
                    <input type="checkbox" class="mt-1" data-testid="assistant-shared-input" prop:checked=move || shared.get()
                        on:change=move |ev| shared.set(event_target_checked(&ev))/>
                    <span>
                        "Offer to everyone on this instance"
                        <span class="block text-xs text-muted">"Others can use and duplicate it, not change it. Its knowledge documents stay yours and are not searched for them."</span>
                    </span>
                </label>
            })}
            {move || status.get().map(|s| view! { <p role="alert" data-testid="assistant-form-error" class="text-sm text-danger">{s}</p> })}
            <div class="flex gap-2">
                <button type="submit" data-testid="save-assistant" class="rounded-lg bg-primary px-3 py-1.5 text-sm font-medium text-on-primary hover:opacity-90 disabled:opacity-50"
                    disabled=move || saving.get()>"Save"</button>
                <button type="button" class="rounded-lg px-3 py-1.5 text-sm hover:bg-surface"
                    on:click=move |_| on_done.run(false)>"Cancel"</button>
            </div>
        </form>
    }
}
