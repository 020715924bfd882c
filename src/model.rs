//! Data shared by the server and the browser: what is stored, sent over server functions and
//! streamed to the page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest message a person may send, in characters; longer input is refused with a clear error.
pub const MAX_MESSAGE_CHARS: usize = 100_000;
/// Longest conversation title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

impl TryFrom<String> for Role {
    type Error = UnknownVariant;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Ok(match value.as_str() {
            "system" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            _ => return Err(UnknownVariant(value)),
        })
    }
}

/// Where a message is in its life. Only `Streaming` changes later; the others are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// The model is still producing it.
    Streaming,
    /// The model finished.
    Complete,
    /// The person pressed Stop; the partial text is kept.
    Stopped,
    /// The server stopped (crash or shutdown) while it was streaming; the partial text is kept.
    Interrupted,
    /// Ollama or the connection to it failed; the partial text and the error are kept.
    Error,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Streaming => "streaming",
            MessageStatus::Complete => "complete",
            MessageStatus::Stopped => "stopped",
            MessageStatus::Interrupted => "interrupted",
            MessageStatus::Error => "error",
        }
    }

    pub fn is_final(self) -> bool {
        self != MessageStatus::Streaming
    }
}

impl TryFrom<String> for MessageStatus {
    type Error = UnknownVariant;
    fn try_from(value: String) -> Result<Self, UnknownVariant> {
        Ok(match value.as_str() {
            "streaming" => MessageStatus::Streaming,
            "complete" => MessageStatus::Complete,
            "stopped" => MessageStatus::Stopped,
            "interrupted" => MessageStatus::Interrupted,
            "error" => MessageStatus::Error,
            _ => return Err(UnknownVariant(value)),
        })
    }
}

/// A stored value that names no known variant (a newer schema, or a hand-edited row).
#[derive(Debug, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownVariant(pub String);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Conversation {
    pub id: Uuid,
    /// Never sent to browsers or API clients: it is the server's business.
    #[serde(skip)]
    pub owner_id: Uuid,
    pub title: String,
    pub model: String,
    pub system_prompt: Option<String>,
    /// Sent with each turn, unless the turn sets its own.
    #[cfg_attr(feature = "ssr", sqlx(flatten))]
    #[serde(default)]
    pub options: GenerationOptions,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// Never sent to browsers or API clients: it is the server's business.
    #[serde(skip)]
    pub owner_id: Uuid,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub role: Role,
    pub content: String,
    pub model: Option<String>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: MessageStatus,
    pub error: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    /// Milliseconds from the request to Ollama until its first token.
    pub ttft_ms: Option<i64>,
    /// Milliseconds from the request to Ollama until the end of the generation.
    pub duration_ms: Option<i64>,
    /// Ollama's `done_reason`: `stop`, `length`, …
    pub done_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl GenerationOptions {
    /// These options, each one that is unset taken from `defaults`.
    pub fn or(&self, defaults: &GenerationOptions) -> GenerationOptions {
        GenerationOptions {
            temperature: self.temperature.or(defaults.temperature),
            num_predict: self.num_predict.or(defaults.num_predict),
            num_ctx: self.num_ctx.or(defaults.num_ctx),
        }
    }
}

impl Message {
    /// Tokens per second of the generation, when Ollama reported enough to tell.
    pub fn tokens_per_second(&self) -> Option<f64> {
        let tokens = self.completion_tokens? as f64;
        let generating_ms = (self.duration_ms? - self.ttft_ms.unwrap_or(0)) as f64;
        (generating_ms > 0.0 && tokens > 0.0).then(|| tokens * 1000.0 / generating_ms)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationWithMessages {
    pub conversation: Conversation,
    pub messages: Vec<Message>,
}

/// What sending a message started: the stored user message and the assistant message being written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SendOutcome {
    pub conversation: Conversation,
    pub user_message: Message,
    pub assistant_message: Message,
}

/// Sampling options passed to Ollama; `None` leaves the model's own default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct GenerationOptions {
    pub temperature: Option<f32>,
    pub num_predict: Option<i32>,
    pub num_ctx: Option<i32>,
}

/// A model that Ollama serves (`/api/tags`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    pub size: u64,
    pub family: Option<String>,
    pub parameter_size: Option<String>,
    pub quantization_level: Option<String>,
}

/// Whether Ollama answers, and what it serves; the page shows a banner when it does not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OllamaStatus {
    /// Where the server looked for Ollama.
    pub url: String,
    pub reachable: bool,
    pub version: Option<String>,
    pub models: Vec<ModelInfo>,
    /// Why Ollama could not be reached, when it could not.
    pub error: Option<String>,
    /// The model the server proposes when the person has not picked one.
    pub default_model: Option<String>,
}

/// One event of a generation's live stream (the `data` of a server-sent event).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// All the text so far; sent first on every connection, and again after a receiver lagged.
    Snapshot { content: String },
    /// New text to append.
    Delta { content: String },
    /// The message reached a final status; the stored row, metrics included.
    Done { message: Box<Message> },
}
