use crate::context::use_chat;
use crate::model::Conversation;
use crate::server_fns::conversations::{delete_conversation, rename_conversation};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_location, use_navigate};

/// New chat, then the conversations, most recently active first.
#[component]
pub fn Sidebar() -> impl IntoView {
    let chat = use_chat();
    view! {
        <aside
            id="sidebar"
            data-testid="sidebar"
            class="w-72 shrink-0 flex-col border-r border-zinc-200 bg-zinc-50 dark:border-zinc-800 dark:bg-zinc-900"
            class:flex=move || chat.sidebar_open.get()
            class:hidden=move || !chat.sidebar_open.get()
        >
            <div class="p-3">
                <a
                    href="/"
                    data-testid="new-chat"
                    class="block rounded-md border border-zinc-300 px-3 py-2 text-center text-sm font-medium hover:bg-zinc-100 dark:border-zinc-700 dark:hover:bg-zinc-800"
                >
                    "+ New chat"
                </a>
            </div>
            <nav class="min-h-0 flex-1 overflow-y-auto px-2 pb-3" aria-label="Conversations">
                <Transition fallback=|| view! { <p class="px-2 text-sm text-zinc-400">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match chat.conversations.await {
                            Ok(list) if list.is_empty() => view! {
                                <p class="px-2 text-sm text-zinc-500">"No conversations yet."</p>
                            }.into_any(),
                            Ok(list) => view! {
                                <ul data-testid="conversation-list" class="space-y-0.5">
                                    {list.into_iter().map(|c| view! { <ConversationItem conversation=c/> }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(error) => view! {
                                <p class="px-2 text-sm text-red-600">{error.to_string()}</p>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </nav>
        </aside>
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    View,
    Rename,
    ConfirmDelete,
}

#[component]
fn ConversationItem(conversation: Conversation) -> impl IntoView {
    let chat = use_chat();
    let id = conversation.id;
    let href = format!("/c/{id}");
    let title = RwSignal::new(conversation.title.clone());
    let draft = RwSignal::new(String::new());
    let mode = RwSignal::new(Mode::View);
    let error = RwSignal::new(None::<String>);
    let location = use_location();
    let active = {
        let href = href.clone();
        move || location.pathname.get() == href
    };

    let save = move || {
        let new_title = draft.get_untracked();
        spawn_local(async move {
            match rename_conversation(id, new_title).await {
                Ok(renamed) => {
                    title.set(renamed.title);
                    mode.set(Mode::View);
                    error.set(None);
                    chat.refresh_conversations();
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let navigate = use_navigate();
    let delete = move |_| {
        let navigate = navigate.clone();
        let viewing = location.pathname.get_untracked() == format!("/c/{id}");
        spawn_local(async move {
            match delete_conversation(id).await {
                Ok(()) => {
                    if viewing {
                        navigate("/", Default::default());
                    }
                    chat.refresh_conversations();
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };

    view! {
        <li data-testid="conversation-item" data-id=id.to_string()>
            {move || match mode.get() {
                Mode::View => view! {
                    <div
                        class="group flex items-center rounded-md hover:bg-zinc-200/70 dark:hover:bg-zinc-800"
                        class=("bg-zinc-200", active.clone())
                        class=("dark:bg-zinc-800", active.clone())
                    >
                        <a href=href.clone() class="min-w-0 flex-1 truncate px-2 py-1.5 text-sm" title=move || title.get()>
                            {move || title.get()}
                        </a>
                        <button
                            type="button"
                            data-testid="rename-conversation"
                            class="px-1 text-xs text-zinc-500 opacity-60 hover:opacity-100 group-hover:opacity-100"
                            title="Rename"
                            aria-label="Rename conversation"
                            on:click=move |_| {
                                draft.set(title.get_untracked());
                                mode.set(Mode::Rename);
                            }
                        >
                            "✎"
                        </button>
                        <button
                            type="button"
                            data-testid="delete-conversation"
                            class="px-1 pr-2 text-xs text-zinc-500 opacity-60 hover:text-red-600 hover:opacity-100 group-hover:opacity-100"
                            title="Delete"
                            aria-label="Delete conversation"
                            on:click=move |_| mode.set(Mode::ConfirmDelete)
                        >
                            <svg viewBox="0 0 20 20" class="h-3.5 w-3.5" fill="none" stroke="currentColor" stroke-width="1.6" aria-hidden="true">
                                <path d="M4 6h12M8 6V4h4v2M6 6l1 10h6l1-10" stroke-linecap="round" stroke-linejoin="round"/>
                            </svg>
                        </button>
                    </div>
                }.into_any(),
                Mode::Rename => view! {
                    <form
                        class="flex gap-1 p-1"
                        on:submit=move |ev| {
                            ev.prevent_default();
                            save();
                        }
                    >
                        <input
                            data-testid="rename-input"
                            aria-label="New title"
                            class="min-w-0 flex-1 rounded border border-zinc-300 bg-white px-2 py-1 text-sm dark:border-zinc-700 dark:bg-zinc-950"
                            prop:value=move || draft.get()
                            on:input=move |ev| draft.set(event_target_value(&ev))
                            on:keydown=move |ev| if ev.key() == "Escape" { mode.set(Mode::View) }
                            maxlength="200"
                            autofocus
                        />
                        <button type="submit" data-testid="rename-save" class="rounded px-2 text-sm font-medium text-blue-700 dark:text-blue-400">"Save"</button>
                    </form>
                }.into_any(),
                Mode::ConfirmDelete => view! {
                    <div class="rounded-md bg-red-50 p-2 text-sm dark:bg-red-950">
                        <p>"Delete “" {move || title.get()} "”?"</p>
                        <div class="mt-1 flex gap-2">
                            <button type="button" data-testid="confirm-delete" class="rounded bg-red-600 px-2 py-0.5 text-white" on:click=delete.clone()>"Delete"</button>
                            <button type="button" class="rounded px-2 py-0.5" on:click=move |_| mode.set(Mode::View)>"Cancel"</button>
                        </div>
                    </div>
                }.into_any(),
            }}
            {move || error.get().map(|e| view! { <p role="alert" class="px-2 text-xs text-red-600">{e}</p> })}
        </li>
    }
}
