//! State every part of the page shares, provided once by `App` and read by the components.
//! (Kept apart from app.rs, which uses the components: no module cycle.)

use crate::error::AppError;
use crate::model::{Conversation, OllamaStatus};
use crate::server_fns::{conversations::list_conversations, ollama::get_ollama_status};
use leptos::prelude::*;

/// State every part of the page shares.
#[derive(Clone, Copy)]
pub struct ChatContext {
    pub conversations: Resource<Result<Vec<Conversation>, AppError>>,
    pub ollama: Resource<Result<OllamaStatus, AppError>>,
    /// Bumped to reload the conversation list.
    conversations_version: RwSignal<u32>,
    ollama_version: RwSignal<u32>,
    /// The model the next message goes to.
    pub selected_model: RwSignal<Option<String>>,
    /// The tools the next message's answer may call (none: a plain answer).
    pub enabled_tools: RwSignal<Vec<String>>,
    /// How the last agent run's model called its tools (natively, or by prompt).
    pub tool_mode: RwSignal<Option<crate::model::ToolMode>>,
    pub sidebar_open: RwSignal<bool>,
}

impl ChatContext {
    pub fn create() -> ChatContext {
        let conversations_version = RwSignal::new(0u32);
        let ollama_version = RwSignal::new(0u32);
        ChatContext {
            conversations: Resource::new(
                move || conversations_version.get(),
                |_| list_conversations(),
            ),
            ollama: Resource::new(move || ollama_version.get(), |_| get_ollama_status()),
            conversations_version,
            ollama_version,
            selected_model: RwSignal::new(None),
            enabled_tools: RwSignal::new(Vec::new()),
            tool_mode: RwSignal::new(None),
            sidebar_open: RwSignal::new(true),
        }
    }

    pub fn refresh_conversations(&self) {
        self.conversations_version.update(|v| *v += 1);
    }

    pub fn refresh_ollama(&self) {
        self.ollama_version.update(|v| *v += 1);
    }
}

pub fn use_chat() -> ChatContext {
    expect_context::<ChatContext>()
}
