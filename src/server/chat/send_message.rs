use crate::error::AppError;
use crate::model::SendOutcome;
use leptos::prelude::*;
use uuid::Uuid;

/// Stores a message and starts its answer as a server task; the page then follows the answer
/// at /api/v1/messages/{id}/events. Without a conversation id, a new conversation is created.
#[server]
pub async fn send_message(
    conversation_id: Option<Uuid>,
    content: String,
    model: Option<String>,
) -> Result<SendOutcome, AppError> {
    let state = super::super::app_state()?;
    let input = crate::service::SendMessage {
        conversation_id,
        content,
        model,
        options: Default::default(),
    };
    crate::service::send_message(&state, state.current_user(), input).await
}
