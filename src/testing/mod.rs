//! Test support shipped with the server build: a fake Ollama (and fakes of the OpenAI and
//! Anthropic APIs) used by the integration tests, the
//! end-to-end tests and the relay benchmark.

pub mod fake_ollama;
pub mod fake_providers;
pub mod fake_registry;
pub mod fake_weather;
pub mod sample_files;
