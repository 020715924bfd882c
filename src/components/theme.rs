//! Light, dark, or whatever the system says until the person chooses. The choice lives in a
//! cookie, read while rendering on the server, so a reload never flashes the wrong colours.

use leptos::prelude::*;

pub const THEME_COOKIE: &str = "theme";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    System,
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(value: &str) -> Theme {
        match value.trim() {
            "light" => Theme::Light,
            "dark" => Theme::Dark,
            _ => Theme::System,
        }
    }

    /// The theme cookie of a `Cookie` header value.
    pub fn from_cookie_header(header: &str) -> Theme {
        header
            .split(';')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| name.trim() == THEME_COOKIE)
            .map(|(_, value)| Theme::parse(value))
            .unwrap_or(Theme::System)
    }

    /// On the server: from the request's cookie. In the browser: from the page as rendered.
    pub fn from_request() -> Theme {
        #[cfg(feature = "ssr")]
        {
            use_context::<http::request::Parts>()
                .and_then(|parts| {
                    parts
                        .headers
                        .get(http::header::COOKIE)
                        .and_then(|h| h.to_str().ok())
                        .map(Theme::from_cookie_header)
                })
                .unwrap_or(Theme::System)
        }
        #[cfg(not(feature = "ssr"))]
        {
            current_document_theme()
        }
    }
}

#[cfg(not(feature = "ssr"))]
fn current_document_theme() -> Theme {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.get_attribute("data-theme"))
            .map(|v| Theme::parse(&v))
            .unwrap_or(Theme::System)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        Theme::System
    }
}

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let preference = RwSignal::new(Theme::from_request());
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
    let effective_dark = move || match preference.get() {
        Theme::Dark => true,
        Theme::Light => false,
        Theme::System => system_dark.get(),
    };
    let toggle = move |_| {
        let next = if effective_dark() {
            Theme::Light
        } else {
            Theme::Dark
        };
        preference.set(next);
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            if let Some(document) = web_sys::window().and_then(|w| w.document()) {
                if let Some(root) = document.document_element() {
                    let _ = root.set_attribute("data-theme", next.as_str());
                }
                if let Ok(html_document) = document.dyn_into::<web_sys::HtmlDocument>() {
                    let _ = html_document.set_cookie(&format!(
                        "{THEME_COOKIE}={}; path=/; max-age=31536000; SameSite=Lax",
                        next.as_str()
                    ));
                }
            }
        }
    };
    view! {
        <button
            type="button"
            data-testid="theme-toggle"
            class="rounded-md p-2 text-zinc-600 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
            title=move || if effective_dark() { "Switch to light theme" } else { "Switch to dark theme" }
            aria-label="Toggle light and dark theme"
            on:click=toggle
        >
            {move || if effective_dark() { "☀" } else { "☾" }}
        </button>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theme_is_read_from_the_cookie_header() {
        assert_eq!(
            Theme::from_cookie_header("a=1; theme=dark; b=2"),
            Theme::Dark
        );
        assert_eq!(Theme::from_cookie_header("theme=light"), Theme::Light);
        assert_eq!(Theme::from_cookie_header("theme=<script>"), Theme::System);
        assert_eq!(Theme::from_cookie_header(""), Theme::System);
    }
}
