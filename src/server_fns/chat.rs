//! Sending, regenerating and stopping answers.

use super::codec::JsonText;
use crate::error::AppError;
use crate::model::Message;
use crate::model::SendOutcome;
use leptos::prelude::*;
use uuid::Uuid;

/// Replaces the last answer of a conversation with a new one (also: Retry after an error).
#[server(output = JsonText)]
pub async fn regenerate_answer(
    conversation_id: Uuid,
    model: Option<String>,
    /// Tools the new answer may call.
    #[server(default)]
    tools: Vec<String>,
) -> Result<Message, AppError> {
    let state = super::app_state()?;
    crate::service::regenerate(
        &state,
        super::me()?.id,
        conversation_id,
        model,
        Default::default(),
        &tools,
    )
    .await
    .map(crate::markdown::with_html)
}

/// Stores a message and starts its answer as a server task; the page then follows the answer
/// at /api/v1/messages/{id}/events. Without a conversation id, a new conversation is created.
#[server(output = JsonText)]
pub async fn send_message(
    conversation_id: Option<Uuid>,
    content: String,
    model: Option<String>,
    /// Tools the answer may call (an agent run); none: a plain answer.
    #[server(default)]
    tools: Vec<String>,
    /// The assistant to answer as (id); `""`: none; absent: the conversation's.
    #[server(default)]
    assistant: Option<String>,
    /// Files to attach to the conversation with this message.
    #[server(default)]
    files: Vec<Uuid>,
) -> Result<SendOutcome, AppError> {
    let state = super::app_state()?;
    let input = crate::service::SendMessage {
        conversation_id,
        content,
        model,
        options: Default::default(),
        tools,
        assistant,
        files,
    };
    crate::service::send_message(&state, super::me()?.id, input)
        .await
        .map(super::outcome_with_html)
}

/// Stops an answer being written; its text so far is kept with status `stopped`.
#[server(output = JsonText)]
pub async fn stop_generation(message_id: Uuid) -> Result<Message, AppError> {
    let state = super::app_state()?;
    crate::service::stop_generation(&state, super::me()?.id, message_id)
        .await
        .map(crate::markdown::with_html)
}

/// Gives one of the person's messages new text and answers it again; later messages are replaced.
#[server(output = JsonText)]
pub async fn edit_message(
    id: Uuid,
    content: String,
    model: Option<String>,
) -> Result<SendOutcome, AppError> {
    let state = super::app_state()?;
    crate::service::edit_and_resend(&state, super::me()?.id, id, &content, model)
        .await
        .map(super::outcome_with_html)
}
