//! What the app does, independent of transport: the REST API and the server functions both call
//! these. Input is validated here, at the edge, into typed errors.

use crate::db::{Turn, TurnConversation, TurnError, TurnStarted};
use crate::error::{AppError, AppResult};
use crate::generation::{Admission, GenerationJob, Refusal};
use crate::llm::{ChatMessage, ChatRequest};
use crate::model::{
    Conversation, ConversationWithMessages, GenerationOptions, Message, MessageStatus,
    OllamaStatus, Role, SendOutcome, StreamEvent, MAX_MESSAGE_CHARS, MAX_TITLE_CHARS,
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

pub async fn list_conversations(state: &AppState, owner: Uuid) -> AppResult<Vec<Conversation>> {
    Ok(state.store.list_conversations(owner).await?)
}

pub async fn get_conversation(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
) -> AppResult<ConversationWithMessages> {
    let conversation = owned_conversation(state, owner, id).await?;
    let mut messages = state.store.list_messages(owner, id).await?;
    // An answer being written here shows its text so far, not only what was last flushed.
    for message in messages
        .iter_mut()
        .filter(|m| m.status == MessageStatus::Streaming)
    {
        if let Some(live) = state
            .generations
            .get(message.id)
            .filter(|g| g.owner_id == owner)
        {
            if let crate::generation::Subscription::Live { snapshot, .. } = live.subscribe() {
                message.content = snapshot;
            }
        }
    }
    Ok(ConversationWithMessages {
        conversation,
        messages,
    })
}

pub async fn rename_conversation(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
    title: &str,
) -> AppResult<Conversation> {
    let title = validate_title(title)?;
    state
        .store
        .rename_conversation(owner, id, &title)
        .await?
        .ok_or_else(|| AppError::NotFound("conversation".into()))
}

pub async fn delete_conversation(state: &AppState, owner: Uuid, id: Uuid) -> AppResult<()> {
    // Stop what is still being written here first, so no task writes into a deleted conversation.
    for message in state.store.list_messages(owner, id).await? {
        if message.status == MessageStatus::Streaming && state.generations.stop(owner, message.id) {
            state
                .generations
                .wait_finished(message.id, finish_wait(state))
                .await;
        }
    }
    if state.store.delete_conversation(owner, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("conversation".into()))
    }
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
    let options = validate_options(state, input.options)?;
    let requested_model = input.model.as_deref().map(validate_model).transpose()?;
    let admission = admit(state, owner)?;

    let (conversation, model) = match input.conversation_id {
        Some(id) => {
            let conversation = owned_conversation(state, owner, id).await?;
            let model = requested_model.unwrap_or_else(|| conversation.model.clone());
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
            model: &model,
            instance_id: state.generations.instance_id,
        },
        options,
        admission,
    )
    .await?;
    let user_message = turn.user_message.ok_or(AppError::Internal)?;
    Ok(SendOutcome {
        conversation: turn.conversation,
        user_message,
        assistant_message: turn.assistant,
    })
}

/// Answers the last message again: the last answer (if any) is replaced by a new one.
pub async fn regenerate(
    state: &AppState,
    owner: Uuid,
    conversation_id: Uuid,
    model: Option<String>,
    options: GenerationOptions,
) -> AppResult<Message> {
    let options = validate_options(state, options)?;
    let model = model.as_deref().map(validate_model).transpose()?;
    let ConversationWithMessages {
        conversation,
        messages,
    } = get_conversation(state, owner, conversation_id).await?;
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
            model: &model,
            instance_id: state.generations.instance_id,
        },
        options,
        admission,
    )
    .await?;
    Ok(turn.assistant)
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

/// Whether Ollama answers, its version and its models. Never fails: an unreachable Ollama is a
/// state the page explains, not an error.
pub async fn ollama_status(state: &AppState) -> OllamaStatus {
    let (version, models) = tokio::join!(state.ollama.version(), state.ollama.list_models());
    // What browsers see: no credentials in the URL, no OS detail in the error.
    let url = crate::config::public_url(state.ollama.base_url());
    match models {
        Ok(models) => {
            let default_model =
                pick_default(state.settings.ollama.default_model.as_deref(), &models);
            OllamaStatus {
                url,
                reachable: true,
                version: version.ok(),
                models,
                error: None,
                default_model,
            }
        }
        Err(error) => OllamaStatus {
            url,
            reachable: false,
            version: None,
            models: Vec::new(),
            error: Some({
                tracing::warn!(%error, "Ollama is not reachable");
                AppError::from(error).to_string()
            }),
            default_model: state.settings.ollama.default_model.clone(),
        },
    }
}

fn pick_default(configured: Option<&str>, models: &[crate::model::ModelInfo]) -> Option<String> {
    if let Some(configured) = configured {
        return Some(configured.to_string());
    }
    models.first().map(|m| m.name.clone())
}

async fn default_model(state: &AppState) -> AppResult<String> {
    if let Some(model) = &state.settings.ollama.default_model {
        return Ok(model.clone());
    }
    let models = state.ollama.list_models().await?;
    pick_default(None, &models).ok_or_else(|| {
        AppError::InvalidInput(
            "Ollama has no models yet: pull one with `ollama pull llama3.2`".into(),
        )
    })
}

/// The owner's conversation, or NotFound (also for another owner's: its existence is not revealed).
async fn owned_conversation(state: &AppState, owner: Uuid, id: Uuid) -> AppResult<Conversation> {
    state
        .store
        .get_conversation(owner, id)
        .await?
        .ok_or_else(|| AppError::NotFound("conversation".into()))
}

/// The owner's message, or NotFound.
async fn owned_message(state: &AppState, owner: Uuid, id: Uuid) -> AppResult<Message> {
    state
        .store
        .get_message(owner, id)
        .await?
        .ok_or_else(|| AppError::NotFound("message".into()))
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

/// The conversation as Ollama reads it: the system prompt, then the exchanges so far.
fn prompt_messages(conversation: &Conversation, history: &[Message]) -> Vec<ChatMessage> {
    let mut messages = Vec::with_capacity(history.len() + 1);
    if let Some(system) = conversation
        .system_prompt
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        messages.push(ChatMessage {
            role: "system".into(),
            content: system.to_string(),
        });
    }
    messages.extend(
        history
            .iter()
            .filter(|m| {
                m.role == Role::User || (m.role == Role::Assistant && !m.content.is_empty())
            })
            .map(|m| ChatMessage {
                role: m.role.as_str().into(),
                content: m.content.clone(),
            }),
    );
    messages
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
fn finish_wait(state: &AppState) -> Duration {
    Duration::from_millis(state.settings.generation.finish_wait_ms)
}

/// A person's message as it will be kept: control characters removed (see `text::clean_input`);
/// refused when nothing but blanks is left, or when it is too long.
pub fn validate_content(content: &str) -> AppResult<String> {
    let content = crate::text::clean_input(content);
    if content.trim().is_empty() {
        return Err(AppError::InvalidInput("a message cannot be empty".into()));
    }
    if content.chars().count() > MAX_MESSAGE_CHARS {
        return Err(AppError::InvalidInput(format!(
            "a message can be at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    Ok(content)
}

pub fn validate_title(title: &str) -> AppResult<String> {
    let title: String = crate::text::clean_input(title)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if title.is_empty() {
        return Err(AppError::InvalidInput("a title cannot be empty".into()));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(AppError::InvalidInput(format!(
            "a title can be at most {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(title)
}

pub fn validate_model(model: &str) -> AppResult<String> {
    let model = model.trim();
    if model.is_empty()
        || model.len() > 200
        || model.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(AppError::InvalidInput(format!(
            "{model:?} is not a valid model name"
        )));
    }
    Ok(model.to_string())
}

/// Checks the sampling options and caps the answer length at the server's limit: `num_predict`
/// absent, -1 (no limit) or -2 (fill the context) becomes the limit.
fn validate_options(state: &AppState, options: GenerationOptions) -> AppResult<GenerationOptions> {
    check_options(&options)?;
    let cap = state.settings.generation.max_answer_tokens.max(1);
    let mut options = options;
    options.num_predict = Some(match options.num_predict {
        Some(n) if n > 0 => n.min(cap),
        _ => cap,
    });
    Ok(options)
}

fn check_options(options: &GenerationOptions) -> AppResult<()> {
    if let Some(t) = options.temperature {
        if !(0.0..=5.0).contains(&t) {
            return Err(AppError::InvalidInput(
                "temperature must be between 0 and 5".into(),
            ));
        }
    }
    if let Some(n) = options.num_predict {
        if n < -2 || n == 0 {
            return Err(AppError::InvalidInput(
                "num_predict must be positive, -1 (no limit) or -2 (fill the context)".into(),
            ));
        }
    }
    if let Some(n) = options.num_ctx {
        if !(1..=1 << 21).contains(&n) {
            return Err(AppError::InvalidInput(
                "num_ctx must be between 1 and 2097152".into(),
            ));
        }
    }
    Ok(())
}

/// A title from the first line of the first message.
pub fn title_from(content: &str) -> String {
    let line = content
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("New chat");
    let line: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
    const MAX: usize = 60;
    if line.chars().count() > MAX {
        format!(
            "{}…",
            line.chars().take(MAX - 1).collect::<String>().trim_end()
        )
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_line_and_are_short() {
        assert_eq!(title_from("\n  Hello   there \nsecond"), "Hello there");
        let long = "word ".repeat(40);
        let title = title_from(&long);
        assert!(
            title.chars().count() <= 60 && title.ends_with('…'),
            "{title}"
        );
    }

    #[test]
    fn bad_input_is_refused_with_a_clear_error() {
        assert!(matches!(
            validate_content("   \n"),
            Err(AppError::InvalidInput(_))
        ));
        assert!(matches!(
            validate_content(&"x".repeat(MAX_MESSAGE_CHARS + 1)),
            Err(AppError::InvalidInput(_))
        ));
        assert_eq!(validate_content("a\0b").unwrap(), "ab");
        assert!(matches!(
            validate_content("\0\u{1}\u{7f} \u{9f}\n"),
            Err(AppError::InvalidInput(_))
        ));
        assert!(validate_model("llama3.2:latest").is_ok());
        assert!(validate_model("bad name").is_err());
        assert!(validate_title("  ").is_err());
        assert!(check_options(&GenerationOptions {
            temperature: Some(-1.0),
            ..Default::default()
        })
        .is_err());
    }
}
