mod get_ollama_status;

pub use get_ollama_status::*;
