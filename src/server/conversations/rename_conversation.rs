use crate::error::AppError;
use crate::model::Conversation;
use leptos::prelude::*;
use uuid::Uuid;

#[server]
pub async fn rename_conversation(id: Uuid, title: String) -> Result<Conversation, AppError> {
    let state = super::super::app_state()?;
    crate::service::rename_conversation(&state, state.current_user(), id, &title).await
}
