//! The light/dark switch of the header: it saves `ui.theme` for the person (the server renders
//! every later page with it, so a reload never flashes the wrong colours).

use super::preferences::{apply_to_document, use_preferences};
use crate::model::ThemeChoice;
use leptos::prelude::*;

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let preferences = use_preferences();
    // What the system prefers; known only in the browser, after hydration.
    let system_dark = RwSignal::new(false);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(query) = web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        {
            system_dark.set(query.matches());
        }
    });
    let effective_dark = move || match preferences.current.with(|p| p.ui.theme) {
        ThemeChoice::Dark => true,
        ThemeChoice::Light => false,
        ThemeChoice::System => system_dark.get(),
        // A brand is as dark as its background.
        ThemeChoice::Custom => preferences
            .current
            .with(|p| super::preferences::is_dark(&p.ui.brand.background)),
    };
    let toggle = move |_| {
        let next = if effective_dark() {
            ThemeChoice::Light
        } else {
            ThemeChoice::Dark
        };
        preferences.current.update(|p| p.ui.theme = next);
        preferences.current.with_untracked(apply_to_document);
        leptos::task::spawn_local(async move {
            let saved = crate::server_fns::settings::save_preferences(
                vec![(
                    "ui.theme".into(),
                    serde_json::Value::String(next.as_str().into()),
                )],
                false,
            )
            .await;
            if let Err(error) = saved {
                leptos::logging::warn!("the theme was not saved: {error}");
            }
        });
    };
    view! {
        <button
            type="button"
            data-testid="theme-toggle"
            class="rounded-md p-2 text-muted hover:bg-surface"
            title=move || if effective_dark() { "Switch to light theme" } else { "Switch to dark theme" }
            aria-label="Toggle light and dark theme"
            on:click=toggle
        >
            {move || if effective_dark() { "☀" } else { "☾" }}
        </button>
    }
}
