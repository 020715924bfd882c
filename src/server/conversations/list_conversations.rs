use crate::error::AppError;
use crate::model::Conversation;
use leptos::prelude::*;

/// The person's conversations, most recently active first.
#[server]
pub async fn list_conversations() -> Result<Vec<Conversation>, AppError> {
    let state = super::super::app_state()?;
    crate::service::list_conversations(&state, state.current_user()).await
}
