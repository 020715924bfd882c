//! Sending, regenerating and stopping answers, and showing an answer's other versions.

use super::codec::JsonText;
use crate::error::AppError;
use crate::model::Message;
use crate::model::SendOutcome;
use leptos::prelude::*;
use uuid::Uuid;

/// Replaces the last answer of a conversation with a new one (also: Retry after an error).
/// Without JavaScript, the answer's Regenerate or Retry form posts here; that browser is sent
/// back to the conversation, where the new answer is followed.
#[server(output = JsonText)]
pub async fn regenerate_answer(
    conversation_id: Uuid,
    model: Option<String>,
    /// Tools the new answer may call.
    #[server(default)]
    tools: Vec<String>,
) -> Result<Message, AppError> {
    let result = async {
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
    .await;
    let page = format!("/c/{conversation_id}");
    super::answer_plain_form(&result, |_| page.clone(), &page, SEND_ERROR);
    result
}

/// Shows another version of an answer (`version_id`, from a message's `versions`) instead of
/// the one shown, which is kept as a version in turn. Answers with the conversation's page of
/// latest messages. Without JavaScript, the answer's "‹" and "›" forms post here; that browser
/// is sent back to the conversation (`conversation_id`), with the reason when it was refused.
#[server(output = JsonText)]
pub async fn show_answer_version(
    conversation_id: Uuid,
    version_id: Uuid,
) -> Result<crate::model::ConversationWithMessages, AppError> {
    let result = async {
        let state = super::app_state()?;
        let limit = state.settings.server.messages_per_page;
        let mut page =
            crate::service::show_answer_version(&state, super::me()?.id, version_id, limit).await?;
        page.messages = super::with_html(page.messages);
        Ok(page)
    }
    .await;
    let page = format!("/c/{conversation_id}");
    super::answer_plain_form(&result, |_| page.clone(), &page, SEND_ERROR);
    result
}

/// The query parameter that brings a plain form's refused message (or Regenerate, or Stop)
/// back to the page, which shows it beside the message box.
pub const SEND_ERROR: &str = "send_error";

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
    // Without JavaScript the files are the images a conversation page's upload form left
    // waiting: a refused message brings them back with its text.
    let waiting_images = if plain_form {
        files.clone()
    } else {
        Vec::new()
    };
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
        Ok(outcome) => {
            keep_unsent_draft(None);
            super::redirect_form::<&str>(&format!("/c/{}", outcome.conversation.id), &[]);
        }
        Err(error) => {
            // A conversation that is gone has no message box: the text goes to a new one.
            let gone = matches!(error, AppError::NotFound(what) if what == "conversation");
            let page = match conversation_id {
                Some(id) if !gone => format!("/c/{id}"),
                _ => "/".to_string(),
            };
            let mut error = error.to_string();
            if !keep_unsent_draft(Some(&draft)) {
                error.push_str(" (the text was too long to bring back here)");
            }
            let mut query = vec![(SEND_ERROR, error)];
            if !gone {
                query.extend(
                    waiting_images
                        .iter()
                        .map(|id| (crate::server_fns::documents::PENDING_IMAGE, id.to_string())),
                );
            }
            super::redirect_form(&page, &query);
        }
    }
    result
}

/// The cookie that brings a message a plain form could not send back into the message box.
/// Not the page's address: browser history and proxies' access logs keep addresses, and a
/// message may hold what its author would not have written down there.
#[cfg(feature = "ssr")]
const UNSENT_COOKIE: &str = "ollamastack_unsent";

/// How long a refused message waits in its cookie for the page that shows it.
#[cfg(feature = "ssr")]
const UNSENT_COOKIE_SECONDS: u32 = 600;

/// The longest cookie value kept: browsers keep a cookie up to 4,096 bytes, name included.
#[cfg(feature = "ssr")]
const MAX_UNSENT_COOKIE_VALUE: usize = 4_000;

/// Keeps a refused message in its cookie (HttpOnly, this site only, for ten minutes), and
/// removes one kept before when there is none (`None`) or it is too long for a cookie.
/// False when the text was too long to keep.
#[cfg(feature = "ssr")]
fn keep_unsent_draft(draft: Option<&str>) -> bool {
    use base64::Engine;
    let encoded = draft.map(|draft| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(draft));
    let fits = encoded
        .as_ref()
        .is_none_or(|value| value.len() <= MAX_UNSENT_COOKIE_VALUE);
    let kept = encoded.filter(|value| fits && !value.is_empty());
    // Nothing to keep, and nothing kept before: no cookie at all.
    if kept.is_none() && unsent_draft().is_none() {
        return fits;
    }
    let (value, max_age) = match kept {
        Some(value) => (value, UNSENT_COOKIE_SECONDS),
        None => (String::new(), 0),
    };
    let secure = super::app_state()
        .map(|state| crate::service::accounts::secure_cookie_flag(&state))
        .unwrap_or("");
    let cookie = format!(
        "{UNSENT_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    if let (Some(response), Ok(cookie)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&cookie),
    ) {
        response.append_header(http::header::SET_COOKIE, cookie);
    }
    fits
}

/// The refused message this request's cookie brings back (see `keep_unsent_draft`).
#[cfg(feature = "ssr")]
pub fn unsent_draft() -> Option<String> {
    use base64::Engine;
    let parts = use_context::<http::request::Parts>()?;
    let value = crate::service::accounts::cookie_value(&parts.headers, UNSENT_COOKIE)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()?;
    String::from_utf8(bytes)
        .ok()
        .filter(|draft| !draft.is_empty())
}

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
    super::answer_plain_form(
        &result,
        |message| format!("/c/{}", message.conversation_id),
        "/",
        SEND_ERROR,
    );
    result
}

/// Gives one of the person's messages new text in a branch (`service::edit_in_branch`): the
/// conversation keeps the message and what follows it. The edit form's "Send as a branch"
/// posts here as a plain form; its browser is sent to the new conversation, where the answer
/// is followed, or back to `conversation_id` with the error.
#[server(output = JsonText)]
pub async fn edit_in_branch(
    conversation_id: Uuid,
    id: Uuid,
    content: String,
) -> Result<SendOutcome, AppError> {
    let result = async {
        let state = super::app_state()?;
        crate::service::edit_in_branch(&state, super::me()?.id, id, &content, None)
            .await
            .map(super::outcome_with_html)
    }
    .await;
    super::answer_plain_form(
        &result,
        |outcome| format!("/c/{}", outcome.conversation.id),
        &format!("/c/{conversation_id}"),
        SEND_ERROR,
    );
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
