//! The page shell and the application: header, sidebar, routes.

use crate::components::preferences::{
    initial_preferences, preferences_json, root_attributes, root_style, PreferencesContext,
    PREFERENCES_ELEMENT_ID,
};
use crate::components::{banner::OllamaBanner, header::Header, sidebar::Sidebar};
use crate::context::ChatContext;
use crate::pages::{
    account::{AdminPage, LoginPage, SignupPage},
    analytics::AnalyticsPage,
    assistants::AssistantsPage,
    conversation::ConversationPage,
    documents::{DocumentsPage, SearchPage},
    home::HomePage,
    integrations::IntegrationsPage,
    models::ModelsPage,
    settings::{InstanceDefaultsPage, SettingsPage},
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    lazy_route, path, Lazy, LazyRoute, SsrMode,
};

/// The HTML document, rendered on the server only. The person's settings (loaded for the
/// request by `web::load_preferences`) set the theme, brand colours and layout on `<html>`, so
/// the page is painted right from the first byte ("system" leaves it to the CSS media query),
/// and go into the page as JSON for hydration.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let preferences = initial_preferences();
    let [theme, sidebar_position, sidebar_style, bubbles, header_fixed, timestamps, logo] =
        root_attributes(&preferences).map(|(_, value)| value);
    let style = root_style(&preferences);
    let json = preferences_json(&preferences);
    // The page's Content-Security-Policy allows exactly the scripts carrying this response's
    // nonce, which Leptos puts on its own (hydration, streamed resources).
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(value) = http::HeaderValue::from_str(&crate::security::page_csp(&nonce)) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html
            lang="en"
            data-theme=theme
            data-sidebar-position=sidebar_position
            data-sidebar-style=sidebar_style
            data-bubbles=bubbles
            data-header-fixed=header_fixed
            data-timestamps=timestamps
            data-logo=logo
            style=style
        >
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <link rel="stylesheet" id="leptos" href=stylesheet_href()/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
                // Data, not code: `<` is escaped, and the CSP never runs a JSON script.
                <script type="application/json" id=PREFERENCES_ELEMENT_ID inner_html=json></script>
            </head>
            <body class="h-full bg-app text-fg antialiased">
                <App/>
            </body>
        </html>
    }
}

/// The formatter of every page's `<title>`. leptos_meta writes the title into the server's
/// HTML as it is, and titles hold what people and models wrote (a conversation's title), so
/// on the server it is escaped: `</title><script>` stays text. In the browser the title is
/// set through `document.title`, which takes text, so it is left alone there.
fn title_as_html_text(title: String) -> String {
    #[cfg(feature = "ssr")]
    return crate::markdown::escape_html(&title);
    #[cfg(not(feature = "ssr"))]
    return title;
}

/// A page's title: what it shows, then the app's (brand) name.
pub fn page_title(page: &str) -> String {
    let app_name = crate::components::preferences::use_preferences()
        .current
        .with_untracked(|p| p.ui.brand.app_name.clone());
    format!("{page} · {app_name}")
}

/// The stylesheet's address: named by its content's hash when the build hashed it.
fn stylesheet_href() -> String {
    #[cfg(feature = "ssr")]
    return crate::site::site().stylesheet_href();
    #[cfg(not(feature = "ssr"))]
    return "/pkg/ollamastack.css".into();
}

/// Menus (a `<details data-menu>`: the header's quick actions, the composer's tools) close on a
/// click outside them and on Escape, as menus do: a `<details>` alone stays open until its
/// summary is clicked again. An Escape that closes a menu is marked handled (default
/// prevented), so that the conversation page does not also stop the answer being written.
#[cfg(feature = "hydrate")]
fn close_menus_like_menus() {
    use wasm_bindgen::JsCast;
    const MENU: &str = "details[data-menu]";
    fn open_menus() -> Vec<web_sys::Element> {
        let Ok(list) = document().query_selector_all("details[data-menu][open]") else {
            return Vec::new();
        };
        (0..list.length())
            .filter_map(|at| list.item(at)?.dyn_into::<web_sys::Element>().ok())
            .collect()
    }
    // Listening for the page's lifetime: the handles are never removed.
    let _ = window_event_listener(leptos::ev::click, |ev| {
        let inside = ev
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|element| element.closest(MENU).ok().flatten());
        for menu in open_menus() {
            if inside.as_ref() != Some(&menu) {
                let _ = menu.remove_attribute("open");
            }
        }
    });
    let _ = window_event_listener(leptos::ev::keydown, |ev| {
        if ev.key() != "Escape" {
            return;
        }
        let menus = open_menus();
        for menu in &menus {
            let _ = menu.remove_attribute("open");
            if let Some(summary) = menu
                .query_selector("summary")
                .ok()
                .flatten()
                .and_then(|summary| summary.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = summary.focus();
            }
        }
        if !menus.is_empty() {
            ev.prevent_default();
        }
    });
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let preferences = PreferencesContext {
        current: RwSignal::new(initial_preferences()),
    };
    provide_context(preferences);
    provide_context(ChatContext::create());
    #[cfg(feature = "hydrate")]
    close_menus_like_menus();
    // A plain value: the head is rendered after the body, when the app's signals may be gone
    // (a reactive title read them then). A save sets the live page's title itself.
    let app_name = preferences
        .current
        .with_untracked(|p| p.ui.brand.app_name.clone());

    view! {
        <Title text=app_name formatter=title_as_html_text/>
        <Router>
            <Frame>
                        <Routes fallback=|| view! { <p class="p-8 text-center">"Page not found."</p> }>
                            // In order: the conversation list and the history are plain HTML,
                            // readable before (and without) the WebAssembly. The pages few
                            // people open are lazy: their code is split off the main bundle
                            // (`cargo leptos build --split`) and loaded when one is opened.
                            <Route path=path!("/") view=HomePage ssr=SsrMode::InOrder/>
                            // Whole (`Async`): the head is written after every resource is
                            // read, so the conversation's `<Title>` is in it (without
                            // JavaScript the tab names the conversation). In order, the head
                            // went out before the conversation had been read, most times.
                            // Pages are sent whole anyway (`page_deadline` in web.rs).
                            <Route path=path!("/c/:id") view=ConversationPage ssr=SsrMode::Async/>
                            <Route path=path!("/assistants") view={Lazy::<AssistantsRoute>::new()} ssr=SsrMode::InOrder/>
                            <Route path=path!("/documents") view={Lazy::<DocumentsRoute>::new()} ssr=SsrMode::InOrder/>
                            <Route path=path!("/search") view={Lazy::<SearchRoute>::new()} ssr=SsrMode::InOrder/>
                            <Route path=path!("/settings") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::InOrder/>
                            <Route path=path!("/analytics") view={Lazy::<AnalyticsRoute>::new()} ssr=SsrMode::InOrder/>
                            <Route path=path!("/admin") view={Lazy::<AdminRoute>::new()} ssr=SsrMode::InOrder/>
                            <Route path=path!("/admin/defaults") view={Lazy::<InstanceDefaultsRoute>::new()} ssr=SsrMode::InOrder/>
                            <Route path=path!("/admin/models") view={Lazy::<ModelsRoute>::new()} ssr=SsrMode::InOrder/>
                            <Route path=path!("/integrations") view={Lazy::<IntegrationsRoute>::new()} ssr=SsrMode::InOrder/>
                            <Route path=path!("/login") view=LoginPage/>
                            <Route path=path!("/signup") view=SignupPage/>
                        </Routes>
            </Frame>
        </Router>
    }
}

/// A page whose code is split off the main bundle with `cargo leptos build --split` (without
/// it, the page is in the bundle and the route works the same). Its server render is the
/// same as an eager page's; in the browser it hydrates once its code has arrived.
macro_rules! lazy_page {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    )*};
}

lazy_page! {
    AssistantsRoute => AssistantsPage,
    DocumentsRoute => DocumentsPage,
    SearchRoute => SearchPage,
    SettingsRoute => SettingsPage,
    AnalyticsRoute => AnalyticsPage,
    AdminRoute => AdminPage,
    InstanceDefaultsRoute => InstanceDefaultsPage,
    ModelsRoute => ModelsPage,
    IntegrationsRoute => IntegrationsPage,
}

/// The sidebar, header and banner around the pages; the sign-in pages stand alone (no one is
/// signed in yet to have conversations).
#[component]
fn Frame(children: Children) -> impl IntoView {
    crate::pages::conversation::provide_conversation_in_view();
    let location = leptos_router::hooks::use_location();
    let signed_in_page = move || !matches!(location.pathname.get().as_str(), "/login" | "/signup");
    // The person's events, for the page's lifetime (here, not in an effect: what an effect
    // makes is dropped when it runs again, at the next navigation).
    #[cfg(feature = "hydrate")]
    crate::components::live_events::listen(crate::context::use_chat());
    view! {
        <div class="app-frame flex h-dvh overflow-hidden">
            <Show when=signed_in_page>
                <Sidebar/>
            </Show>
            <div class="app-column flex min-w-0 flex-1 flex-col">
                <Show when=signed_in_page>
                    <Header/>
                    <OllamaBanner/>
                </Show>
                <main class="flex min-h-0 flex-1 flex-col">
                    {children()}
                </main>
            </div>
        </div>
    }
}
