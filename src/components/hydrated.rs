//! `window.__ollamastack_hydrated` turns true once every event handler of the page first
//! loaded is attached (the end-to-end tests wait for it before they click). A page split off
//! the main bundle (a lazy route, see `app.rs`) hydrates when its code has arrived, after the
//! rest of the page: the marker waits for it.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
thread_local! {
    /// Lazy pages chosen by the router whose view has not hydrated yet.
    static PENDING_LAZY_PAGES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

#[cfg(feature = "hydrate")]
fn mark_if_nothing_pending() {
    if PENDING_LAZY_PAGES.get() == 0 {
        if let Some(window) = web_sys::window() {
            let _ = js_sys::Reflect::set(&window, &"__ollamastack_hydrated".into(), &true.into());
        }
    }
}

/// The router chose a lazy page (its data is being set up; its code may still be loading).
pub fn lazy_page_chosen() {
    #[cfg(feature = "hydrate")]
    PENDING_LAZY_PAGES.set(PENDING_LAZY_PAGES.get() + 1);
}

/// The app's eager part has hydrated.
pub fn app_hydrated() {
    #[cfg(feature = "hydrate")]
    mark_if_nothing_pending();
}

/// Placed in a lazy page's view: its effect runs once that view is hydrated (or rendered).
#[component]
pub fn LazyPageReady() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        PENDING_LAZY_PAGES.set(PENDING_LAZY_PAGES.get().saturating_sub(1));
        mark_if_nothing_pending();
    });
}
