//! OllamaStack: chat with, and run agents on, the local models that Ollama serves.
//!
//! One crate, two builds: with `ssr` it is the server (axum, sqlx, reqwest), with `hydrate` it is
//! the page's WebAssembly. Shared: the DTOs (`model`), the error type, the UI. Markdown is
//! rendered on the server only: the page receives sanitised HTML.

// Leptos views are deeply nested types; the optimised WASM build needs more than the default 128.
#![recursion_limit = "256"]

pub mod app;
pub mod components;
pub mod context;
pub mod error;
pub mod model;
pub mod pages;
pub mod server_fns;
pub mod text;

#[cfg(feature = "ssr")]
pub mod analytics;
#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod documents;
#[cfg(feature = "ssr")]
pub mod events;
#[cfg(feature = "ssr")]
pub mod generation;
#[cfg(feature = "ssr")]
pub mod limits;
#[cfg(feature = "ssr")]
pub mod llm;
#[cfg(feature = "ssr")]
pub mod markdown;
#[cfg(feature = "ssr")]
pub mod net;
#[cfg(feature = "ssr")]
pub mod observability;
#[cfg(feature = "ssr")]
pub mod periodic;
#[cfg(feature = "ssr")]
pub mod secrets;
#[cfg(feature = "ssr")]
pub mod security;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod site;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod telemetry;
#[cfg(feature = "ssr")]
pub mod testing;
#[cfg(feature = "ssr")]
pub mod titles;
#[cfg(feature = "ssr")]
pub mod tools;
#[cfg(feature = "ssr")]
pub mod web;
#[cfg(feature = "ssr")]
pub mod webhooks;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Asynchronous hydration: a page split off the main bundle (a lazy route, see `app.rs`)
    // is hydrated once its code has arrived, before this resolves.
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document()
            .body()
            .expect("a page has a body");
        leptos::mount::hydrate_from_async(body, app::App)
            .await
            .forget();
        // A marker for the end-to-end tests: event handlers are attached from here on.
        if let Some(window) = web_sys::window() {
            let _ = js_sys::Reflect::set(&window, &"__ollamastack_hydrated".into(), &true.into());
        }
    });
}
