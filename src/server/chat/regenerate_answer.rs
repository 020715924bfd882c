use crate::error::AppError;
use crate::model::Message;
use leptos::prelude::*;
use uuid::Uuid;

/// Replaces the last answer of a conversation with a new one (also: Retry after an error).
#[server]
pub async fn regenerate_answer(
    conversation_id: Uuid,
    model: Option<String>,
) -> Result<Message, AppError> {
    let state = super::super::app_state()?;
    crate::service::regenerate(
        &state,
        state.current_user(),
        conversation_id,
        model,
        Default::default(),
    )
    .await
}
