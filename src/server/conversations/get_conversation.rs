use crate::error::AppError;
use crate::model::ConversationWithMessages;
use leptos::prelude::*;
use uuid::Uuid;

/// A conversation with its messages, oldest first (an answer being written included).
#[server]
pub async fn get_conversation(id: Uuid) -> Result<ConversationWithMessages, AppError> {
    let state = super::super::app_state()?;
    crate::service::get_conversation(&state, state.current_user(), id).await
}
