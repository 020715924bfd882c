use crate::error::AppError;
use crate::model::Message;
use leptos::prelude::*;
use uuid::Uuid;

/// Stops an answer being written; its text so far is kept with status `stopped`.
#[server]
pub async fn stop_generation(message_id: Uuid) -> Result<Message, AppError> {
    let state = super::super::app_state()?;
    crate::service::stop_generation(&state, state.current_user(), message_id).await
}
