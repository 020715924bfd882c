//! State every part of the page shares, provided once by `App` and read by the components.
//! (Kept apart from app.rs, which uses the components: no module cycle.)

use crate::error::AppError;
use crate::model::{Assistant, Conversation, OllamaStatus};
use crate::server_fns::{
    assistants::list_assistants, conversations::list_conversations, ollama::get_ollama_status,
};
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
    pub assistants: Resource<Result<Vec<Assistant>, AppError>>,
    assistants_version: RwSignal<u32>,
    /// The assistant the next message is answered by (none: the model alone).
    pub selected_assistant: RwSignal<Option<uuid::Uuid>>,
    /// What the server said about the last turn (an assistant's model was missing…).
    pub notice: RwSignal<Option<String>>,
}

impl ChatContext {
    pub fn create() -> ChatContext {
        let conversations_version = RwSignal::new(0u32);
        let ollama_version = RwSignal::new(0u32);
        let assistants_version = RwSignal::new(0u32);
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
            assistants: Resource::new(move || assistants_version.get(), |_| list_assistants()),
            assistants_version,
            selected_assistant: RwSignal::new(None),
            notice: RwSignal::new(None),
        }
    }

    pub fn refresh_assistants(&self) {
        self.assistants_version.update(|v| *v += 1);
    }

    /// The model to send: none when it is the picked assistant's own, so that the server
    /// chooses it (or, when Ollama lacks it, the default, with a notice).
    pub fn model_to_send(&self) -> Option<String> {
        let model = self.selected_model.get_untracked();
        let assistant_model = self.selected_assistant.get_untracked().and_then(|id| {
            self.assistants
                .get_untracked()
                .and_then(|list| list.ok())
                .and_then(|list| list.into_iter().find(|a| a.id == id))
                .map(|a| a.model)
        });
        match (model, assistant_model) {
            (Some(model), Some(own)) if model == own => None,
            (model, _) => model,
        }
    }

    /// The assistant to send: its id, or "" for none.
    pub fn assistant_to_send(&self) -> Option<String> {
        Some(
            self.selected_assistant
                .get_untracked()
                .map(|id| id.to_string())
                .unwrap_or_default(),
        )
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
