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
/// The composer's form also posts here without JavaScript; that browser gets a redirect back.
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
    let plain_form = super::from_plain_form();
    // A browser's form sends its line breaks as CR LF.
    let content = if plain_form {
        content.replace("\r\n", "\n")
    } else {
        content
    };
    let draft = plain_form.then(|| content.clone());
    let result = async {
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
    .await;
    let Some(draft) = draft else {
        return result;
    };
    // Without JavaScript: on to the conversation, where the answer is followed; or back to
    // the page it was sent from with the error, and the text to send again.
    match &result {
        Ok(outcome) => super::redirect_form(&format!("/c/{}", outcome.conversation.id), &[]),
        Err(error) => {
            let page = conversation_id.map_or_else(|| "/".to_string(), |id| format!("/c/{id}"));
            let error = error.to_string();
            if crate::auth::encode_query(&draft).len() <= MAX_DRAFT_IN_ADDRESS {
                super::redirect_form(&page, &[("send_error", &error), ("draft", &draft)]);
            } else {
                let error = format!("{error} (the text was too long to bring back here)");
                super::redirect_form(&page, &[("send_error", &error)]);
            }
        }
    }
    result
}

/// How much of an unsent message (percent-encoded) a plain form's redirect carries back in
/// the page's address: proxies commonly refuse request lines over 8 KB.
#[cfg(feature = "ssr")]
const MAX_DRAFT_IN_ADDRESS: usize = 6_000;

/// Stops an answer being written; its text so far is kept with status `stopped`. Without
/// JavaScript, the conversation page's Stop form posts here.
#[server(output = JsonText)]
pub async fn stop_generation(message_id: Uuid) -> Result<Message, AppError> {
    let result = async {
        let state = super::app_state()?;
        crate::service::stop_generation(&state, super::me()?.id, message_id)
            .await
            .map(crate::markdown::with_html)
    }
    .await;
    // Without JavaScript (the conversation page's Stop form): back to the conversation.
    if super::from_plain_form() {
        match &result {
            Ok(message) => super::redirect_form(&format!("/c/{}", message.conversation_id), &[]),
            Err(error) => super::redirect_form("/", &[("send_error", &error.to_string())]),
        }
    }
    result
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
