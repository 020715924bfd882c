//! Test support shipped with the server build: a fake Ollama (and fakes of the OpenAI and
//! Anthropic APIs) used by the integration tests, the
//! end-to-end tests and the relay benchmark.

pub mod fake_ollama;
pub mod fake_providers;
pub mod fake_registry;
pub mod fake_weather;
pub mod sample_files;

/// Waits until `check` holds, polling every 10 ms for at most 3 s; panics naming `what`
/// otherwise (for tests that wait on a fake's counters).
pub async fn wait_until(check: impl Fn() -> bool, what: &str) {
    for _ in 0..300 {
        if check() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("timed out waiting: {what}");
}
