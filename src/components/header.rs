use super::theme::ThemeToggle;
use crate::context::use_chat;
use leptos::prelude::*;

#[component]
pub fn Header() -> impl IntoView {
    let chat = use_chat();
    view! {
        <header class="flex items-center gap-2 border-b border-zinc-200 px-3 py-2 dark:border-zinc-800">
            <button
                type="button"
                data-testid="sidebar-toggle"
                class="rounded-md p-2 text-zinc-600 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
                aria-label="Show or hide the conversation list"
                aria-controls="sidebar"
                aria-expanded=move || if chat.sidebar_open.get() { "true" } else { "false" }
                on:click=move |_| chat.sidebar_open.update(|open| *open = !*open)
            >
                "☰"
            </button>
            <a href="/" class="mr-auto text-lg font-semibold tracking-tight">"OllamaStack"</a>
            <a href="/documents" data-testid="documents-link" class="rounded-md px-2 py-1 text-sm text-zinc-600 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800">"Documents"</a>
            <a href="/assistants" data-testid="assistants-link" class="rounded-md px-2 py-1 text-sm text-zinc-600 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800">"Assistants"</a>
            <AssistantPicker/>
            <ModelPicker/>
            <ThemeToggle/>
        </header>
    }
}

/// The model the next message goes to, from the models Ollama serves.
#[component]
fn ModelPicker() -> impl IntoView {
    let chat = use_chat();
    view! {
        <Transition fallback=|| view! { <span class="text-sm text-zinc-400">"Loading models…"</span> }>
            {move || Suspend::new(async move {
                let status = chat.ollama.await.ok();
                let mut models: Vec<String> = status
                    .as_ref()
                    .map(|s| s.models.iter().map(|m| m.name.clone()).collect())
                    .unwrap_or_default();
                if chat.selected_model.get_untracked().is_none() {
                    chat.selected_model.set(status.as_ref().and_then(|s| s.default_model.clone()));
                }
                // A conversation's model that Ollama no longer serves is still shown.
                if let Some(current) = chat.selected_model.get_untracked() {
                    if !models.iter().any(|m| crate::model::same_model(m, &current)) {
                        models.insert(0, current);
                    }
                }
                let empty = models.is_empty();
                view! {
                    <label class="sr-only" for="model-picker">"Model"</label>
                    <select
                        id="model-picker"
                        data-testid="model-picker"
                        class="max-w-[14rem] rounded-md border border-zinc-300 bg-white px-2 py-1 text-sm dark:border-zinc-700 dark:bg-zinc-900"
                        disabled=empty
                        prop:value=move || chat.selected_model.get().unwrap_or_default()
                        on:change=move |ev| chat.selected_model.set(Some(event_target_value(&ev)))
                    >
                        {if empty {
                            view! { <option value="">"No models"</option> }.into_any()
                        } else {
                            models
                                .into_iter()
                                .map(|name| {
                                    let value = name.clone();
                                    let is_selected = name.clone();
                                    view! {
                                        <option
                                            value=value
                                            selected=move || chat.selected_model.get().as_deref() == Some(is_selected.as_str())
                                        >
                                            {name}
                                        </option>
                                    }
                                })
                                .collect_view()
                                .into_any()
                        }}
                    </select>
                }
            })}
        </Transition>
    }
}

/// The assistant the next message is answered by. Picking one shows its model in the model
/// picker; its tools and sampling apply unless the person picks others.
#[component]
fn AssistantPicker() -> impl IntoView {
    let chat = use_chat();
    let on_change = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let id = value.parse::<uuid::Uuid>().ok();
        chat.selected_assistant.set(id);
        chat.enabled_tools.set(Vec::new());
        let assistant = id.and_then(|id| {
            chat.assistants
                .get_untracked()
                .and_then(|list| list.ok())
                .and_then(|list| list.into_iter().find(|a| a.id == id))
        });
        if let Some(assistant) = assistant {
            // `llama3.2` is served as `llama3.2:latest`: show the name the picker lists.
            let served = chat
                .ollama
                .get_untracked()
                .and_then(|status| status.ok())
                .and_then(|status| {
                    status
                        .models
                        .into_iter()
                        .map(|m| m.name)
                        .find(|name| crate::model::same_model(name, &assistant.model))
                });
            chat.selected_model
                .set(Some(served.unwrap_or(assistant.model)));
        }
    };
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let assistants = chat.assistants.await.unwrap_or_default();
                view! {
                    <label class="sr-only" for="assistant-picker">"Assistant"</label>
                    <select
                        id="assistant-picker"
                        data-testid="assistant-picker"
                        class="max-w-[12rem] rounded-md border border-zinc-300 bg-white px-2 py-1 text-sm dark:border-zinc-700 dark:bg-zinc-900"
                        prop:value=move || chat.selected_assistant.get().map(|id| id.to_string()).unwrap_or_default()
                        on:change=on_change
                    >
                        <option value="">"No assistant"</option>
                        {assistants
                            .into_iter()
                            .map(|assistant| {
                                let id = assistant.id;
                                view! {
                                    <option
                                        value=id.to_string()
                                        title=assistant.description.clone()
                                        selected=move || chat.selected_assistant.get() == Some(id)
                                    >
                                        {assistant.name}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                }
            })}
        </Transition>
    }
}
