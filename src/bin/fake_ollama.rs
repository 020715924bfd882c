//! Runs the fake Ollama on its own, for the end-to-end tests and for trying the app without a
//! model: `cargo run --features ssr --bin fake-ollama` (FAKE_OLLAMA_ADDR, default 127.0.0.1:11435;
//! FAKE_OLLAMA_TOKEN_DELAY_MS, default 40).

use ollamastack::testing::fake_ollama::{FakeConfig, FakeOllama};
use std::time::Duration;

#[tokio::main]
async fn main() {
    let addr = std::env::var("FAKE_OLLAMA_ADDR").unwrap_or_else(|_| "127.0.0.1:11435".into());
    let Ok(addr) = addr.parse() else {
        eprintln!("fake-ollama: FAKE_OLLAMA_ADDR={addr:?} is not an address");
        std::process::exit(2);
    };
    let delay = std::env::var("FAKE_OLLAMA_TOKEN_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let mut config = FakeConfig {
        token_delay: Duration::from_millis(delay),
        ..FakeConfig::default()
    };
    // A model that sees, for images in the browser.
    config.models.push("llava:latest".into());
    match FakeOllama::start_on(addr, config).await {
        Ok(fake) => {
            eprintln!("fake-ollama listening on {}", fake.url());
            let _ = tokio::signal::ctrl_c().await;
        }
        Err(error) => {
            eprintln!("fake-ollama: cannot listen on {addr}: {error}");
            std::process::exit(1);
        }
    }
}
