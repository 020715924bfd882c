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
                    if !models.iter().any(|m| *m == current || m.strip_suffix(":latest") == Some(current.as_str())) {
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
