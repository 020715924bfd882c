//! Assistants for the page: list, pick one for a conversation, create, edit, duplicate, delete.

use super::codec::JsonText;
use crate::error::AppError;
use crate::model::{Assistant, AssistantInput, Conversation, FileInfo};
use leptos::prelude::*;
use uuid::Uuid;

/// The person's assistants (the shipped presets the first time).
#[server(output = JsonText)]
pub async fn list_assistants() -> Result<Vec<Assistant>, AppError> {
    let state = super::app_state()?;
    crate::service::list_assistants(&state, super::me()?.id).await
}

/// The assistant a conversation runs with from its next turn; `None`: none.
#[server(output = JsonText)]
pub async fn set_conversation_assistant(
    conversation_id: Uuid,
    assistant_id: Option<Uuid>,
) -> Result<Conversation, AppError> {
    let state = super::app_state()?;
    crate::service::set_conversation_assistant(
        &state,
        super::me()?.id,
        conversation_id,
        assistant_id,
    )
    .await
}

/// Creates an assistant (`id` absent) or changes one. JSON, so that a cleared temperature or
/// answer length (`null`) reaches the server as such.
#[server(input = JsonText, output = JsonText)]
pub async fn save_assistant(
    id: Option<Uuid>,
    input: AssistantInput,
) -> Result<Assistant, AppError> {
    let state = super::app_state()?;
    crate::service::save_assistant(&state, &super::me()?, id, input).await
}

#[server(output = JsonText)]
pub async fn duplicate_assistant(id: Uuid) -> Result<Assistant, AppError> {
    let state = super::app_state()?;
    crate::service::duplicate_assistant(&state, super::me()?.id, id).await
}

#[server(output = JsonText)]
pub async fn delete_assistant(id: Uuid) -> Result<(), AppError> {
    let state = super::app_state()?;
    crate::service::delete_assistant(&state, super::me()?.id, id).await
}

/// The documents of an assistant's knowledge.
#[server(output = JsonText)]
pub async fn assistant_knowledge(id: Uuid) -> Result<Vec<FileInfo>, AppError> {
    let state = super::app_state()?;
    crate::service::assistant_knowledge(&state, super::me()?.id, id).await
}
