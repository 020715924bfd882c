//! Listing, reading, renaming, branching and deleting conversations.

use super::codec::JsonText;
use crate::error::AppError;
use crate::model::Conversation;
use crate::model::ConversationWithMessages;
use crate::model::MessagePage;
use leptos::prelude::*;
use uuid::Uuid;

/// Deletes a conversation and its messages, stopping an answer still being written. Without
/// JavaScript, the conversation page's form posts here (its checkbox `confirm` is required in
/// the form, and ignored here); that browser is sent on to the first screen.
#[server(output = JsonText)]
pub async fn delete_conversation(id: Uuid) -> Result<(), AppError> {
    let result = async {
        let state = super::app_state()?;
        crate::service::delete_conversation(&state, super::me()?.id, id).await
    }
    .await;
    super::answer_plain_form(&result, |_| "/".into(), &format!("/c/{id}"), MANAGE_ERROR);
    result
}

/// The query parameter that brings a plain form's refused rename or delete back to the
/// conversation page, which shows it beside those forms.
pub const MANAGE_ERROR: &str = "manage_error";

/// A conversation with its latest messages (`server.messages_per_page` of them, or those just
/// before the message `before`), oldest first, an answer being written included.
#[server(output = JsonText)]
pub async fn get_conversation(
    id: Uuid,
    before: Option<Uuid>,
) -> Result<ConversationWithMessages, AppError> {
    let state = super::app_state()?;
    let limit = state.settings.server.messages_per_page;
    let mut page =
        crate::service::conversation_page(&state, super::me()?.id, id, before, limit).await?;
    page.messages = super::with_html(page.messages);
    Ok(page)
}

/// The messages of a conversation just before the message `before` (a page of them).
#[server(output = JsonText)]
pub async fn older_messages(conversation_id: Uuid, before: Uuid) -> Result<MessagePage, AppError> {
    let state = super::app_state()?;
    let limit = state.settings.server.messages_per_page;
    let mut page = crate::service::message_page(
        &state,
        super::me()?.id,
        conversation_id,
        Some(before),
        limit,
    )
    .await?;
    page.messages = super::with_html(page.messages);
    Ok(page)
}

/// The person's conversations, most recently active first.
#[server(output = JsonText)]
pub async fn list_conversations() -> Result<Vec<Conversation>, AppError> {
    let state = super::app_state()?;
    crate::service::list_conversations(&state, super::me()?.id).await
}

/// Gives a conversation a new title. Without JavaScript, the conversation page's form posts
/// here; that browser is sent back to the conversation.
#[server(output = JsonText)]
pub async fn rename_conversation(id: Uuid, title: String) -> Result<Conversation, AppError> {
    let result = async {
        let state = super::app_state()?;
        crate::service::rename_conversation(&state, super::me()?.id, id, &title).await
    }
    .await;
    let page = format!("/c/{id}");
    super::answer_plain_form(&result, |_| page.clone(), &page, MANAGE_ERROR);
    result
}

/// Branches a conversation at one of its messages (`service::branch_conversation`): a new
/// conversation holding it up to and including that message. A message's Branch button is a
/// plain form that posts here, with JavaScript or without; its browser is sent to the new
/// conversation, or back to `conversation_id` (the page it came from) with the error.
#[server(output = JsonText)]
pub async fn branch_conversation(
    conversation_id: Uuid,
    message_id: Uuid,
) -> Result<Conversation, AppError> {
    let result = async {
        let state = super::app_state()?;
        crate::service::branch_conversation(&state, super::me()?.id, message_id)
            .await
            .map(|branch| branch.conversation)
    }
    .await;
    super::answer_plain_form(
        &result,
        |branch| format!("/c/{}", branch.id),
        &format!("/c/{conversation_id}"),
        super::chat::SEND_ERROR,
    );
    result
}

/// After the settings form's own post (no JavaScript), the conversation page is opened with
/// the outcome under one of these query parameters: `settings=saved`, or the error.
pub const SETTINGS_OUTCOME: &str = "settings";
pub const SETTINGS_ERROR: &str = "settings_error";

/// Sets a conversation's system prompt and sampling options, as its settings form sends them:
/// each number as typed, empty for the model's default. Without JavaScript the form posts
/// here, and that browser is sent back to the conversation with the outcome.
#[server(output = JsonText)]
pub async fn update_conversation_settings(
    id: Uuid,
    #[server(default)] system_prompt: String,
    #[server(default)] temperature: String,
    #[server(default)] num_predict: String,
    #[server(default)] num_ctx: String,
) -> Result<Conversation, AppError> {
    let result = async {
        let state = super::app_state()?;
        let owner = super::me()?.id;
        let options =
            crate::model::GenerationOptions::from_form(&temperature, &num_predict, &num_ctx)
                .map_err(AppError::InvalidInput)?;
        // A browser's form sends its line breaks as CR LF (JavaScript's form data too).
        let system_prompt = system_prompt.replace("\r\n", "\n");
        crate::service::update_conversation_settings(
            &state,
            owner,
            id,
            Some(system_prompt.as_str()),
            options,
        )
        .await
    }
    .await;
    let page = format!("/c/{id}");
    super::answer_plain_form(
        &result,
        |_| format!("{page}?{SETTINGS_OUTCOME}=saved"),
        &page,
        SETTINGS_ERROR,
    );
    result
}
