//! Talking to Ollama: the wire format, one server's HTTP client, and the pool of servers that
//! the rest of the app calls.

pub mod ndjson;
pub mod ollama;
pub mod pool;

pub use ollama::{
    ChatEvent, ChatMessage, ChatRequest, ChatStream, DoneInfo, ModelShow, OllamaError,
    OllamaServer, PullProgress, ToolSpec,
};
pub use pool::OllamaClient;
