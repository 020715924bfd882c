use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

/// Deletes a conversation and its messages, stopping an answer still being written.
#[server]
pub async fn delete_conversation(id: Uuid) -> Result<(), AppError> {
    let state = super::super::app_state()?;
    crate::service::delete_conversation(&state, state.current_user(), id).await
}
