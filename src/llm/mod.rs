//! Talking to Ollama: the wire format and the HTTP client.

pub mod ndjson;
pub mod ollama;

pub use ollama::{
    ChatEvent, ChatMessage, ChatRequest, ChatStream, DoneInfo, ModelShow, OllamaClient,
    OllamaError, ToolSpec,
};
