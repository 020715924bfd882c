use super::preferences::use_preferences;
use super::quick_actions::{ActionList, QUICK_ACTIONS};
use super::theme::ThemeToggle;
use crate::context::use_chat;
use leptos::prelude::*;

#[component]
pub fn Header() -> impl IntoView {
    let chat = use_chat();
    let preferences = use_preferences();
    let ui = move || preferences.current.with(|p| p.ui.clone());
    view! {
        // On a phone (390 px) the gaps and the pickers' text are smaller, so that "No assistant"
        // and a model's name such as llama3.2:latest are read whole.
        <header class="app-header flex shrink-0 items-center gap-1 border-b border-line px-3 sm:gap-2">
            // On a phone it opens the drawer, whatever the setting.
            <button
                    type="button"
                    data-testid="sidebar-toggle"
                    class="rounded-md p-2 text-muted hover:bg-surface noscript:hidden"
                    class=("md:hidden", move || !ui().sidebar_collapsible)
                    aria-label="Show or hide the conversation list"
                    aria-controls="sidebar"
                    aria-expanded=move || if chat.sidebar_shown() { "true" } else { "false" }
                    on:click=move |_| chat.toggle_sidebar()
                >
                    "☰"
            </button>
            <noscript inner_html=OPEN_DRAWER_WITHOUT_SCRIPT/>
            <a href="/" class="mr-auto flex min-w-0 items-center gap-2 text-lg font-semibold tracking-tight" data-testid="app-name">
                {move || {
                    let ui = ui();
                    (ui.show_logo).then(|| match ui.brand.logo {
                        Some(logo) => view! { <img src=logo alt="" class="h-7 w-7 rounded object-contain" data-testid="app-logo"/> }.into_any(),
                        None => view! { <img src="/favicon.svg" alt="" class="h-6 w-6" data-testid="app-logo"/> }.into_any(),
                    })
                }}
                // On a phone the logo alone, when there is one: the pickers need the width
                // (the name stays for screen readers, as the link's name).
                <span class="truncate" class=("max-sm:sr-only", move || ui().show_logo)>{move || ui().brand.app_name}</span>
            </a>
            <AssistantPicker/>
            <ModelPicker/>
            <ThemeToggle/>
            <Show when=move || ui().show_user_menu>
                // A <details> opens without JavaScript too.
                <details data-menu class="relative" data-testid="user-menu">
                    <summary class="cursor-pointer list-none rounded-md p-2 text-muted hover:bg-surface" aria-label="Quick actions">"⋯"</summary>
                    <div class="absolute right-0 z-30 mt-1 w-48 rounded-lg border border-line bg-surface p-2 shadow-lg">
                        <SignedIn/>
                        <ActionList title="Go to" actions=QUICK_ACTIONS test_id="user-menu-actions"/>
                    </div>
                </details>
            </Show>
        </header>
    }
}

/// The model the next message goes to, from the models Ollama serves.
#[component]
fn ModelPicker() -> impl IntoView {
    let chat = use_chat();
    let in_view = use_context::<crate::pages::conversation::ConversationInView>();
    view! {
        <Transition fallback=|| view! { <span class="text-sm text-muted">"Loading models…"</span> }>
            {move || Suspend::new(async move {
                let status = chat.ollama.await.ok();
                // A conversation's page picks its model, here as well as in the page: the
                // header may be rendered before the page is.
                if let Some(in_view) = in_view {
                    if let Ok(data) = in_view.0.await {
                        chat.selected_model.set(Some(data.conversation.model));
                    }
                }
                let mut models: Vec<String> = status
                    .as_ref()
                    .map(|s| s.models.iter().map(|m| m.name.clone()).collect())
                    .unwrap_or_default();
                if chat.selected_model.get_untracked().is_none() {
                    chat.selected_model.set(status.as_ref().and_then(|s| s.default_model.clone()));
                }
                // Picked as Ollama lists it: `llama3.2` matched no option, so the picker
                // showed blank and a form sent without JavaScript the first model listed.
                // A conversation's model that Ollama no longer serves is still shown.
                if let Some(current) = chat.selected_model.get_untracked() {
                    let listed = chat.listed_model(current.clone());
                    if !models.contains(&listed) {
                        models.insert(0, current);
                    } else if listed != current {
                        chat.selected_model.set(Some(listed));
                    }
                }
                let empty = models.is_empty();
                view! {
                    <label class="sr-only" for="model-picker">"Model"</label>
                    // Without JavaScript it goes with the composer's form (the `form` attribute):
                    // the model picked here answers the message sent there.
                    <select
                        id="model-picker"
                        name="model"
                        form=crate::components::composer::COMPOSER_FORM_ID
                        data-testid="model-picker"
                        class="min-w-0 max-w-[14rem] rounded-md border border-line bg-app px-1 py-1 text-xs sm:px-2 sm:text-sm"
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
            chat.selected_model
                .set(Some(chat.listed_model(assistant.model)));
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
                        class="min-w-0 max-w-[12rem] rounded-md border border-line bg-app px-1 py-1 text-xs sm:px-2 sm:text-sm"
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

/// Who is signed in, the admin's page, and signing out (forms: they work without JavaScript).
#[component]
fn SignedIn() -> impl IntoView {
    let status = Resource::new(|| (), |_| crate::server_fns::accounts::get_auth_status());
    view! {
        <Transition>
            {move || Suspend::new(async move {
                let status = status.await.ok()?;
                let person = status.person?;
                let accounts = status.mode == crate::model::AuthMode::Accounts;
                Some(view! {
                    <div class="mb-2 grid gap-1 border-b border-line pb-2 text-sm">
                        <span class="truncate font-medium" data-testid="signed-in-as">{person.username.clone()}</span>
                        {(accounts && person.is_admin()).then(|| view! {
                            <a href="/admin" data-testid="admin-link" class="text-primary hover:underline">"People"</a>
                        })}
                        {accounts.then(|| view! {
                            <form method="post" action="/api/v1/auth/logout">
                                <button type="submit" data-testid="sign-out" class="hover:underline">"Sign out"</button>
                            </form>
                            <form method="post" action="/api/v1/auth/logout-everywhere">
                                <button type="submit" data-testid="sign-out-everywhere" class="text-muted hover:underline">"Sign out everywhere"</button>
                            </form>
                        })}
                    </div>
                })
            })}
        </Transition>
    }
}

/// Without JavaScript the menu button cannot open the drawer on a phone: this link does, by
/// the address `#sidebar`, which the stylesheet's `.sidebar:target` shows. Server-rendered
/// only (a browser running scripts keeps `<noscript>` as inert text).
#[cfg(feature = "ssr")]
const OPEN_DRAWER_WITHOUT_SCRIPT: &str = r##"<a href="#sidebar" data-testid="sidebar-open-without-script" class="rounded-md p-2 text-muted hover:bg-surface md:hidden" aria-label="Show the conversation list">☰</a>"##;
#[cfg(not(feature = "ssr"))]
const OPEN_DRAWER_WITHOUT_SCRIPT: &str = "";
