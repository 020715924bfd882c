//! What the app does, independent of transport: the REST API and the server functions both call
//! these. Input is validated here, at the edge, into typed errors.

use crate::db::NewMessage;
use crate::error::{AppError, AppResult};
use crate::generation::{GenerationJob, Subscription};
use crate::llm::{ChatMessage, ChatRequest};
use crate::model::{
    Conversation, ConversationWithMessages, GenerationOptions, Message, MessageStatus,
    OllamaStatus, Role, SendOutcome, StreamEvent, MAX_MESSAGE_CHARS, MAX_TITLE_CHARS,
};
use crate::state::AppState;
use futures::Stream;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

/// How often a watcher polls the database for a generation running on another instance.
const REMOTE_POLL: Duration = Duration::from_millis(250);

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
    let messages = state.store.list_messages(owner, id).await?;
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
            state.generations.wait_finished(message.id).await;
        }
    }
    if state.store.delete_conversation(owner, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("conversation".into()))
    }
}

/// Stores the person's message, then starts the answer as a server task. The user message is
/// committed before Ollama is called, so nothing typed is lost if Ollama or the browser fails.
pub async fn send_message(
    state: &AppState,
    owner: Uuid,
    input: SendMessage,
) -> AppResult<SendOutcome> {
    let content = validate_content(&input.content)?;
    validate_options(&input.options)?;
    let requested_model = input.model.as_deref().map(validate_model).transpose()?;
    ensure_accepting(state)?;

    let conversation = match input.conversation_id {
        Some(id) => {
            let conversation = owned_conversation(state, owner, id).await?;
            ensure_idle(state, owner, id).await?;
            conversation
        }
        None => {
            let model = match &requested_model {
                Some(model) => model.clone(),
                None => default_model(state).await?,
            };
            let system_prompt = state.settings.generation.default_system_prompt.as_deref();
            state
                .store
                .create_conversation(owner, &title_from(&content), &model, system_prompt)
                .await?
        }
    };
    let model = requested_model.unwrap_or_else(|| conversation.model.clone());
    let user_message = state
        .store
        .insert_message(NewMessage {
            conversation_id: conversation.id,
            owner_id: owner,
            role: Role::User,
            content: &content,
            model: None,
            status: MessageStatus::Complete,
        })
        .await?;
    let (conversation, assistant_message) =
        start_answer(state, owner, conversation, &model, input.options).await?;
    Ok(SendOutcome {
        conversation,
        user_message,
        assistant_message,
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
    validate_options(&options)?;
    let model = model.as_deref().map(validate_model).transpose()?;
    ensure_accepting(state)?;
    let ConversationWithMessages {
        conversation,
        messages,
    } = get_conversation(state, owner, conversation_id).await?;
    ensure_idle(state, owner, conversation_id).await?;
    if let Some(last) = messages.last().filter(|m| m.role == Role::Assistant) {
        state.store.delete_message(owner, last.id).await?;
    }
    if !messages.iter().any(|m| m.role == Role::User) {
        return Err(AppError::InvalidInput(
            "there is no message to answer yet".into(),
        ));
    }
    let model = model.unwrap_or_else(|| conversation.model.clone());
    let (_, assistant) = start_answer(state, owner, conversation, &model, options).await?;
    Ok(assistant)
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
        state.generations.wait_finished(message_id).await;
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
/// For a message that is already final, only `Done`.
pub async fn message_events(
    state: &AppState,
    owner: Uuid,
    message_id: Uuid,
) -> AppResult<impl Stream<Item = StreamEvent> + Send + 'static> {
    let message = owned_message(state, owner, message_id).await?;
    let generations = state.generations.clone();
    let store = state.store.clone();
    let shutdown = generations.shutdown_token();
    Ok(async_stream::stream! {
        if message.status.is_final() {
            yield StreamEvent::Done { message: Box::new(message) };
            return;
        }
        let mut last_content: Option<String> = None;
        loop {
            // Running here: follow it live.
            if let Some(live) = generations.get(message_id).filter(|g| g.owner_id == owner) {
                let mut subscription = live.subscribe();
                loop {
                    match subscription {
                        Subscription::Finished(message) => {
                            yield StreamEvent::Done { message: Box::new(message) };
                            return;
                        }
                        Subscription::Live { snapshot, mut events } => {
                            yield StreamEvent::Snapshot { content: snapshot };
                            loop {
                                match events.recv().await {
                                    Ok(event @ StreamEvent::Done { .. }) => {
                                        yield event;
                                        return;
                                    }
                                    Ok(event) => yield event,
                                    // Fell behind: start again from a fresh snapshot.
                                    Err(RecvError::Lagged(_)) => break,
                                    Err(RecvError::Closed) => {
                                        if let Ok(Some(message)) = store.get_message(owner, message_id).await {
                                            yield StreamEvent::Done { message: Box::new(message) };
                                        }
                                        return;
                                    }
                                }
                            }
                            subscription = live.subscribe();
                        }
                    }
                }
            }
            // Not running here (another instance, or just finished): follow the database.
            match store.get_message(owner, message_id).await {
                Ok(Some(message)) if message.status.is_final() => {
                    yield StreamEvent::Done { message: Box::new(message) };
                    return;
                }
                Ok(Some(message)) => {
                    match &last_content {
                        Some(previous) if message.content.starts_with(previous.as_str()) => {
                            if message.content.len() > previous.len() {
                                yield StreamEvent::Delta { content: message.content[previous.len()..].to_string() };
                            }
                        }
                        _ => yield StreamEvent::Snapshot { content: message.content.clone() },
                    }
                    last_content = Some(message.content);
                }
                Ok(None) => return,
                Err(error) => tracing::warn!(%error, %message_id, "could not poll a message"),
            }
            tokio::select! {
                _ = tokio::time::sleep(REMOTE_POLL) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    })
}

/// Whether Ollama answers, its version and its models. Never fails: an unreachable Ollama is a
/// state the page explains, not an error.
pub async fn ollama_status(state: &AppState) -> OllamaStatus {
    let (version, models) = tokio::join!(state.ollama.version(), state.ollama.list_models());
    let url = state.ollama.base_url().to_string();
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
            error: Some(error.to_string()),
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

async fn start_answer(
    state: &AppState,
    owner: Uuid,
    conversation: Conversation,
    model: &str,
    options: GenerationOptions,
) -> AppResult<(Conversation, Message)> {
    let history = state.store.list_messages(owner, conversation.id).await?;
    let assistant = state
        .store
        .insert_message(NewMessage {
            conversation_id: conversation.id,
            owner_id: owner,
            role: Role::Assistant,
            content: "",
            model: Some(model),
            status: MessageStatus::Streaming,
        })
        .await?;
    state
        .store
        .touch_conversation(owner, conversation.id, model)
        .await?;
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
    let started = state.generations.start(GenerationJob {
        owner_id: owner,
        conversation_id: conversation.id,
        message_id: assistant.id,
        request: ChatRequest {
            model: model.to_string(),
            messages,
            options,
        },
    });
    if !started {
        // Shutdown began between the check and now: leave no row streaming.
        let finish = crate::db::Finish {
            status: Some(MessageStatus::Interrupted),
            error: Some("the server is shutting down".into()),
            ..Default::default()
        };
        state
            .store
            .finish_message(owner, assistant.id, &finish)
            .await?;
        return Err(AppError::Unavailable(
            "the server is shutting down; try again in a moment".into(),
        ));
    }
    let conversation = state
        .store
        .get_conversation(owner, conversation.id)
        .await?
        .unwrap_or(conversation);
    Ok((conversation, assistant))
}

fn ensure_accepting(state: &AppState) -> AppResult<()> {
    if state.generations.is_shutting_down() {
        Err(AppError::Unavailable(
            "the server is shutting down; try again in a moment".into(),
        ))
    } else {
        Ok(())
    }
}

/// One answer at a time per conversation.
async fn ensure_idle(state: &AppState, owner: Uuid, conversation_id: Uuid) -> AppResult<()> {
    let messages = state.store.list_messages(owner, conversation_id).await?;
    if messages
        .iter()
        .any(|m| m.status == MessageStatus::Streaming)
    {
        return Err(AppError::InvalidInput(
            "an answer is still being written in this conversation; stop it or wait for it".into(),
        ));
    }
    Ok(())
}

pub fn validate_content(content: &str) -> AppResult<String> {
    if content.trim().is_empty() {
        return Err(AppError::InvalidInput("a message cannot be empty".into()));
    }
    if content.chars().count() > MAX_MESSAGE_CHARS {
        return Err(AppError::InvalidInput(format!(
            "a message can be at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    // NUL is refused by PostgreSQL text columns; it has no place in a chat message.
    Ok(content.replace('\0', ""))
}

pub fn validate_title(title: &str) -> AppResult<String> {
    let title: String = title.split_whitespace().collect::<Vec<_>>().join(" ");
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

fn validate_options(options: &GenerationOptions) -> AppResult<()> {
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
        assert!(validate_model("llama3.2:latest").is_ok());
        assert!(validate_model("bad name").is_err());
        assert!(validate_title("  ").is_err());
        assert!(validate_options(&GenerationOptions {
            temperature: Some(-1.0),
            ..Default::default()
        })
        .is_err());
    }
}
