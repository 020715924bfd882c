//! What the app does, independent of transport: the REST API and the server functions both call
//! these. Input is validated here, at the edge, into typed errors. One module per domain, so that
//! agents, documents, analytics, accounts and webhooks become siblings.

pub mod accounts;
mod analytics;
mod assistants;
mod chat;
mod conversations;
pub mod custom_actions;
pub mod model_admin;
mod models;
pub mod preferences;
mod prompt;
pub mod providers;
pub mod transfer;
mod validation;
pub mod webhooks;

pub use analytics::*;
pub use assistants::*;
pub use chat::*;
pub use conversations::*;
pub use models::*;
pub use validation::*;

use crate::error::{AppError, AppResult};
use crate::model::{Conversation, Message};
use crate::state::AppState;
use uuid::Uuid;

/// The owner's conversation, or NotFound (also for another owner's: its existence is not revealed).
pub(crate) async fn owned_conversation(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
) -> AppResult<Conversation> {
    state
        .store
        .get_conversation(owner, id)
        .await?
        .ok_or_else(|| AppError::NotFound("conversation".into()))
}

/// The owner's message, or NotFound.
pub(crate) async fn owned_message(state: &AppState, owner: Uuid, id: Uuid) -> AppResult<Message> {
    state
        .store
        .get_message(owner, id)
        .await?
        .ok_or_else(|| AppError::NotFound("message".into()))
}
