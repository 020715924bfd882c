//! The page shell and the application: header, sidebar, routes.

use crate::components::{banner::OllamaBanner, header::Header, sidebar::Sidebar, theme::Theme};
use crate::context::ChatContext;
use crate::pages::{
    assistants::AssistantsPage,
    conversation::ConversationPage,
    documents::{DocumentsPage, SearchPage},
    home::HomePage,
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

/// The HTML document, rendered on the server only. The theme comes from a cookie so the page is
/// painted in the right colours from the first byte; "system" leaves it to the CSS media query.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let theme = Theme::from_request();
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
        <html lang="en" data-theme=theme.as_str()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="h-full bg-white text-zinc-900 antialiased dark:bg-zinc-950 dark:text-zinc-100">
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(ChatContext::create());

    view! {
        <Stylesheet id="leptos" href="/pkg/ollamastack.css"/>
        <Title text="OllamaStack"/>
        <Router>
            <div class="flex h-dvh overflow-hidden">
                <Sidebar/>
                <div class="flex min-w-0 flex-1 flex-col">
                    <Header/>
                    <OllamaBanner/>
                    <main class="flex min-h-0 flex-1 flex-col">
                        <Routes fallback=|| view! { <p class="p-8 text-center">"Page not found."</p> }>
                            // In order: the conversation list and the history are plain HTML,
                            // readable before (and without) the WebAssembly.
                            <Route path=path!("/") view=HomePage ssr=SsrMode::InOrder/>
                            <Route path=path!("/c/:id") view=ConversationPage ssr=SsrMode::InOrder/>
                            <Route path=path!("/assistants") view=AssistantsPage ssr=SsrMode::InOrder/>
                            <Route path=path!("/documents") view=DocumentsPage ssr=SsrMode::InOrder/>
                            <Route path=path!("/search") view=SearchPage ssr=SsrMode::InOrder/>
                        </Routes>
                    </main>
                </div>
            </div>
        </Router>
    }
}
