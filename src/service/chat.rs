//! A turn of the chat: sending, regenerating, stopping, and following answers.

use super::prompt::prompt_messages;
use super::{
    check_options, default_model, get_conversation, owned_conversation, owned_message, title_from,
    validate_content, validate_model, validate_options,
};
use crate::db::{Turn, TurnConversation, TurnError, TurnStarted};
use crate::error::{AppError, AppResult};
use crate::generation::{Admission, GenerationJob, Refusal};
use crate::llm::ChatRequest;
use crate::model::{
    ConversationWithMessages, GenerationOptions, Message, MessageStatus, Role, SendOutcome,
    StreamEvent,
};
use crate::state::AppState;
use futures::Stream;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SendMessage {
    /// Continue this conversation; a new one is created when absent.
    #[serde(default)]
    pub conversation_id: Option<Uuid>,
    pub content: String,
    /// The model to answer with; the conversation's, else the default, when absent.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub options: GenerationOptions,
}

/// Stores the person's message and starts the answer as a server task, the whole turn in one
/// transaction, so nothing typed is lost if Ollama or the browser fails later, and two sends at
/// once cannot both start an answer (the database allows one streaming answer per conversation).
pub async fn send_message(
    state: &AppState,
    owner: Uuid,
    input: SendMessage,
) -> AppResult<SendOutcome> {
    let content = validate_content(&input.content)?;
    check_options(&input.options)?;
    let requested_model = input.model.as_deref().map(validate_model).transpose()?;
    let admission = admit(state, owner)?;

    let mut options = input.options;
    let (conversation, model) = match input.conversation_id {
        Some(id) => {
            let conversation = owned_conversation(state, owner, id).await?;
            let model = requested_model.unwrap_or_else(|| conversation.model.clone());
            // The turn's own options first, then the conversation's.
            options = options.or(&conversation.options);
            (TurnConversation::Existing(id), model)
        }
        None => {
            let model = match requested_model {
                Some(model) => model,
                None => default_model(state).await?,
            };
            (
                TurnConversation::New {
                    title: "",
                    system_prompt: state.settings.generation.default_system_prompt.as_deref(),
                },
                model,
            )
        }
    };
    let options = validate_options(state, options)?;
    let title = title_from(&content);
    let conversation = match conversation {
        TurnConversation::New { system_prompt, .. } => TurnConversation::New {
            title: &title,
            system_prompt,
        },
        existing => existing,
    };
    let turn = start_turn(
        state,
        Turn {
            owner_id: owner,
            conversation,
            user_content: Some(&content),
            replace_last_answer: false,
            edit_message: None,
            model: &model,
            instance_id: state.generations.instance_id,
        },
        options,
        admission,
    )
    .await?;
    send_outcome(turn)
}

/// Answers the last message again: the last answer (if any) is replaced by a new one.
pub async fn regenerate(
    state: &AppState,
    owner: Uuid,
    conversation_id: Uuid,
    model: Option<String>,
    options: GenerationOptions,
) -> AppResult<Message> {
    check_options(&options)?;
    let model = model.as_deref().map(validate_model).transpose()?;
    let ConversationWithMessages {
        conversation,
        messages,
    } = get_conversation(state, owner, conversation_id).await?;
    let options = validate_options(state, options.or(&conversation.options))?;
    if messages
        .iter()
        .any(|m| m.status == MessageStatus::Streaming)
    {
        return Err(busy_conversation());
    }
    if !messages.iter().any(|m| m.role == Role::User) {
        return Err(AppError::InvalidInput(
            "there is no message to answer yet".into(),
        ));
    }
    let admission = admit(state, owner)?;
    let model = model.unwrap_or_else(|| conversation.model.clone());
    let turn = start_turn(
        state,
        Turn {
            owner_id: owner,
            conversation: TurnConversation::Existing(conversation_id),
            user_content: None,
            replace_last_answer: true,
            edit_message: None,
            model: &model,
            instance_id: state.generations.instance_id,
        },
        options,
        admission,
    )
    .await?;
    Ok(turn.assistant)
}

/// Edits one of the person's messages and answers it again: the messages after it are
/// replaced (deleted in the same transaction that starts the new answer).
pub async fn edit_and_resend(
    state: &AppState,
    owner: Uuid,
    message_id: Uuid,
    content: &str,
    model: Option<String>,
) -> AppResult<SendOutcome> {
    let content = validate_content(content)?;
    let model = model.as_deref().map(validate_model).transpose()?;
    let message = owned_message(state, owner, message_id).await?;
    if message.role != Role::User {
        return Err(AppError::InvalidInput(
            "only your own messages can be edited".into(),
        ));
    }
    let conversation = owned_conversation(state, owner, message.conversation_id).await?;
    let options = validate_options(state, conversation.options.clone())?;
    let admission = admit(state, owner)?;
    let model = model.unwrap_or_else(|| conversation.model.clone());
    let turn = start_turn(
        state,
        Turn {
            owner_id: owner,
            conversation: TurnConversation::Existing(conversation.id),
            user_content: None,
            replace_last_answer: false,
            edit_message: Some((message_id, &content)),
            model: &model,
            instance_id: state.generations.instance_id,
        },
        options,
        admission,
    )
    .await?;
    send_outcome(turn)
}

/// Stops an answer being written, keeping its text; returns the saved message.
pub async fn stop_generation(
    state: &AppState,
    owner: Uuid,
    message_id: Uuid,
) -> AppResult<Message> {
    let message = owned_message(state, owner, message_id).await?;
    if message.status.is_final() {
        return Ok(message);
    }
    if state.generations.stop(owner, message_id) {
        state
            .generations
            .wait_finished(message_id, finish_wait(state))
            .await;
    } else {
        // Running on another instance (or orphaned): finalise the row; the instance that runs it
        // sees at its next flush that the row is no longer streaming and stops.
        let finish = crate::db::Finish {
            content: message.content.clone(),
            status: Some(MessageStatus::Stopped),
            ..Default::default()
        };
        state
            .store
            .finish_message(owner, message_id, &finish)
            .await?;
    }
    owned_message(state, owner, message_id).await
}

/// The live events of a message: a snapshot of its text, deltas as they arrive, then `Done`.
pub async fn message_events(
    state: &AppState,
    owner: Uuid,
    message_id: Uuid,
) -> AppResult<impl Stream<Item = StreamEvent> + Send + 'static> {
    let message = owned_message(state, owner, message_id).await?;
    Ok(crate::generation::watch::message_events(
        state.generations.clone(),
        state.store.clone(),
        state.notifier.clone(),
        owner,
        message,
    ))
}

/// Stores the turn, then starts its generation with the conversation so far.
async fn start_turn(
    state: &AppState,
    turn: Turn<'_>,
    options: GenerationOptions,
    admission: Admission,
) -> AppResult<TurnStarted> {
    let owner = turn.owner_id;
    let started = state.store.start_turn(turn).await.map_err(|e| match e {
        TurnError::Busy => busy_conversation(),
        TurnError::NotFound => AppError::NotFound("conversation".into()),
        TurnError::Db(error) => AppError::from(error),
    })?;
    let messages = prompt_messages(&started.conversation, &started.history);
    let job = GenerationJob {
        owner_id: owner,
        conversation_id: started.conversation.id,
        message_id: started.assistant.id,
        request: ChatRequest {
            model: turn.model.to_string(),
            messages,
            options,
        },
    };
    if !state.generations.start(job, admission) {
        // Shutdown began between admission and now: leave no row streaming.
        let finish = crate::db::Finish {
            status: Some(MessageStatus::Interrupted),
            error: Some("the server is shutting down".into()),
            ..Default::default()
        };
        state
            .store
            .finish_message(owner, started.assistant.id, &finish)
            .await?;
        return Err(shutting_down());
    }
    Ok(started)
}

/// What a turn with a message of the person's started, as the API and the page receive it.
fn send_outcome(turn: TurnStarted) -> AppResult<SendOutcome> {
    Ok(SendOutcome {
        conversation: turn.conversation,
        user_message: turn.user_message.ok_or(AppError::Internal)?,
        assistant_message: turn.assistant,
    })
}

/// A place for one more generation, or 429 / 503 saying when to try again.
fn admit(state: &AppState, owner: Uuid) -> AppResult<Admission> {
    state.generations.admit(owner).map_err(|refusal| match refusal {
        Refusal::ShuttingDown => shutting_down(),
        Refusal::ServerBusy { limit } => AppError::TooBusy {
            message: format!(
                "the server is already writing {limit} answers, its limit; try again in a moment"
            ),
            retry_after_secs: 5,
        },
        Refusal::OwnerBusy { limit } => AppError::TooBusy {
            message: format!(
                "you already have {limit} answers being written, the limit per person; wait for one to finish or stop it"
            ),
            retry_after_secs: 5,
        },
    })
}

fn shutting_down() -> AppError {
    AppError::Unavailable("the server is shutting down; try again in a moment".into())
}

fn busy_conversation() -> AppError {
    AppError::Conflict(
        "an answer is still being written in this conversation; stop it or wait for it".into(),
    )
}

/// How long Stop and Delete wait for a running generation to save itself.
pub(crate) fn finish_wait(state: &AppState) -> Duration {
    Duration::from_millis(state.settings.generation.finish_wait_ms)
}
