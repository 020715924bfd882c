use crate::components::quick_actions::{ActionList, QUICK_ACTIONS};
use crate::context::use_chat;
use crate::model::Conversation;
use crate::server_fns::conversations::{delete_conversation, rename_conversation};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_location, use_navigate};

/// New chat, then the conversations, most recently active first, then quick actions. Beside
/// the page on wide screens (its edge drags to resize it, remembered), a drawer over the page
/// on phones.
#[component]
pub fn Sidebar() -> impl IntoView {
    let chat = use_chat();
    let location = use_location();
    // A drawer closes once the person went somewhere.
    Effect::new(move |previous: Option<String>| {
        let path = location.pathname.get();
        if previous.is_some_and(|p| p != path) {
            chat.drawer_open.set(false);
        }
        path
    });
    view! {
        <div
            class="drawer-backdrop"
            class:drawer-open=move || chat.drawer_open.get()
            aria-hidden="true"
            on:click=move |_| chat.drawer_open.set(false)
        ></div>
        <aside
            id="sidebar"
            data-testid="sidebar"
            class="sidebar relative shrink-0 flex-col border-line bg-surface"
            class:flex=move || chat.sidebar_open.get()
            class:hidden=move || !chat.sidebar_open.get()
            class:drawer-open=move || chat.drawer_open.get()
        >
            <noscript inner_html=CLOSE_DRAWER_WITHOUT_SCRIPT/>
            <div class="p-3">
                <a
                    href="/"
                    data-testid="new-chat"
                    class="block rounded-md border border-line px-3 py-2 text-center text-sm font-medium hover:bg-app"
                >
                    "+ New chat"
                </a>
            </div>
            <nav class="min-h-0 flex-1 overflow-y-auto px-2 pb-3" aria-label="Conversations">
                <Transition fallback=|| view! { <p class="px-2 text-sm text-muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match chat.conversations.await {
                            Ok(list) => view! { <ConversationList initial=list/> }.into_any(),
                            Err(error) => view! {
                                <p class="px-2 text-sm text-danger">{error.to_string()}</p>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </nav>
            <div class="border-t border-line p-2">
                <ActionList title="Quick actions" actions=QUICK_ACTIONS test_id="quick-actions"/>
            </div>
            <ResizeHandle/>
        </aside>
    }
}

/// Without JavaScript a phone's drawer is open while the address ends in `#sidebar` (see the
/// header): this link leaves that address. Server-rendered only.
#[cfg(feature = "ssr")]
const CLOSE_DRAWER_WITHOUT_SCRIPT: &str = r##"<a href="#" data-testid="sidebar-close-without-script" class="mx-3 mt-3 block rounded-md px-3 py-2 text-right text-sm text-muted hover:bg-app md:hidden">Close ✕</a>"##;
#[cfg(not(feature = "ssr"))]
const CLOSE_DRAWER_WITHOUT_SCRIPT: &str = "";

/// The sidebar's edge: dragging it sets the width live (a CSS variable), letting go saves it.
#[component]
fn ResizeHandle() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    let preferences = crate::components::preferences::use_preferences();
    #[cfg(feature = "hydrate")]
    let start = move |ev: leptos::ev::PointerEvent| {
        use wasm_bindgen::JsCast;
        ev.prevent_default();
        let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        else {
            return;
        };
        let right = preferences
            .current
            .with_untracked(|p| p.ui.sidebar_position == crate::model::Side::Right);
        let width = std::rc::Rc::new(std::cell::Cell::new(
            preferences.current.with_untracked(|p| p.ui.sidebar_width),
        ));
        let width_moving = width.clone();
        let moving = {
            let root = root.clone();
            window_event_listener(leptos::ev::pointermove, move |ev| {
                let viewport = web_sys::window()
                    .and_then(|w| w.inner_width().ok())
                    .and_then(|w| w.as_f64())
                    .unwrap_or(1024.0);
                let x = ev.client_x() as f64;
                let wanted = if right { viewport - x } else { x };
                let clamped = wanted.clamp(180.0, 560.0) as u32;
                width_moving.set(clamped);
                let _ = root
                    .style()
                    .set_property("--sidebar-width", &format!("{clamped}px"));
            })
        };
        let moving = std::cell::RefCell::new(Some(moving));
        let ended = std::rc::Rc::new(std::cell::RefCell::new(None::<WindowListenerHandle>));
        let ended_inner = ended.clone();
        *ended.borrow_mut() = Some(window_event_listener(leptos::ev::pointerup, move |_| {
            if let Some(handle) = moving.borrow_mut().take() {
                handle.remove();
            }
            if let Some(handle) = ended_inner.borrow_mut().take() {
                handle.remove();
            }
            let chosen = width.get();
            preferences.current.update(|p| p.ui.sidebar_width = chosen);
            spawn_local(async move {
                let _ = crate::server_fns::settings::save_preferences(
                    vec![("ui.sidebar_width".into(), serde_json::Value::from(chosen))],
                    false,
                )
                .await;
            });
        }));
    };
    #[cfg(not(feature = "hydrate"))]
    let start = move |_: leptos::ev::PointerEvent| {};
    view! {
        <div
            class="sidebar-resize"
            data-testid="sidebar-resize"
            role="separator"
            aria-orientation="vertical"
            aria-label="Drag to resize the sidebar"
            on:pointerdown=start
        ></div>
    }
}

/// The conversations, keyed by id and title: when the list is read again (an answer ended,
/// another tab renamed one), items that did not change stay as they are, so a rename or a
/// delete being confirmed is not lost.
#[component]
fn ConversationList(initial: Vec<Conversation>) -> impl IntoView {
    let chat = use_chat();
    let empty_at_first = initial.is_empty();
    let list = move || {
        chat.conversations_now
            .with(|now| now.clone())
            .unwrap_or_else(|| initial.clone())
    };
    // Whether there is any, without copying the list to find out.
    let empty = move || {
        chat.conversations_now
            .with(|now| now.as_ref().map_or(empty_at_first, Vec::is_empty))
    };
    view! {
        <Show when=move || !empty() fallback=|| view! {
            <p class="px-2 text-sm text-muted">"No conversations yet."</p>
        }>
            <ul data-testid="conversation-list" class="space-y-0.5">
                <For each=list.clone() key=|c| (c.id, c.title.clone()) let:conversation>
                    <ConversationItem conversation/>
                </For>
            </ul>
        </Show>
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
                        class="group flex items-center rounded-md hover:bg-app"
                        class=("bg-app", active.clone())
                    >
                        <a href=href.clone() class="min-w-0 flex-1 truncate px-2 py-1.5 text-sm" title=move || title.get()>
                            {move || title.get()}
                        </a>
                        <button
                            type="button"
                            data-testid="rename-conversation"
                            class="px-1 text-xs text-muted opacity-60 hover:opacity-100 group-hover:opacity-100"
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
                            class="px-1 pr-2 text-xs text-muted opacity-60 hover:text-danger hover:opacity-100 group-hover:opacity-100"
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
                            class="min-w-0 flex-1 rounded border border-line bg-app px-2 py-1 text-sm"
                            prop:value=move || draft.get()
                            on:input=move |ev| draft.set(event_target_value(&ev))
                            on:keydown=move |ev| if ev.key() == "Escape" { mode.set(Mode::View) }
                            maxlength="200"
                            autofocus
                        />
                        <button type="submit" data-testid="rename-save" class="rounded px-2 text-sm font-medium text-primary">"Save"</button>
                    </form>
                }.into_any(),
                Mode::ConfirmDelete => view! {
                    <div class="rounded-md bg-danger-soft p-2 text-sm">
                        <p>"Delete “" {move || title.get()} "”?"</p>
                        <div class="mt-1 flex gap-2">
                            <button type="button" data-testid="confirm-delete" class="rounded bg-danger px-2 py-0.5 text-on-primary" on:click=delete.clone()>"Delete"</button>
                            <button type="button" class="rounded px-2 py-0.5" on:click=move |_| mode.set(Mode::View)>"Cancel"</button>
                        </div>
                    </div>
                }.into_any(),
            }}
            {move || error.get().map(|e| view! { <p role="alert" class="px-2 text-xs text-danger">{e}</p> })}
        </li>
    }
}
