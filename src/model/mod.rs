//! Data shared by the server and the browser: what is stored, sent over server functions and
//! streamed to the page.

mod accounts;
mod analytics;
mod documents;
mod events;
mod preferences;
mod providers;
mod webhooks;
pub use accounts::*;
pub use analytics::*;
pub use documents::*;
pub use events::*;
pub use preferences::*;
pub use providers::*;
pub use webhooks::*;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest message a person may send, in characters; longer input is refused with a clear error.
pub const MAX_MESSAGE_CHARS: usize = 100_000;
/// Longest conversation title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest system prompt (of a conversation or an assistant), in characters.
pub const MAX_SYSTEM_PROMPT_CHARS: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

/// A tool call as Ollama sends it (`message.tool_calls[]`): `id` (Ollama 0.12.10+) and
/// `function.index` (0.4.7+) may be absent; `arguments` is a JSON object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ToolCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub function: ToolCallFunction,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ToolCallFunction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    pub name: String,
    #[serde(default)]
    pub arguments: serde_json::Value,
}

/// The tool calls of a message, stored as JSON text (NULL when there are none).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ToolCalls(pub Vec<ToolCall>);

impl ToolCalls {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The column's value: JSON, or NULL for none.
    pub fn to_column(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| serde_json::to_string(&self.0).unwrap_or_default())
    }
}

impl TryFrom<Option<String>> for ToolCalls {
    type Error = serde_json::Error;
    fn try_from(value: Option<String>) -> Result<Self, Self::Error> {
        match value {
            None => Ok(ToolCalls::default()),
            Some(text) => serde_json::from_str(&text).map(ToolCalls),
        }
    }
}

/// A chart a tool drew: data, never markup. The page draws it as SVG with escaped text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Chart {
    pub kind: ChartKind,
    pub title: String,
    /// What the points are (the label column, or the bins of a histogram).
    pub x_label: String,
    /// What the values measure.
    pub y_label: String,
    pub points: Vec<ChartPoint>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ChartKind {
    /// One bar per point (counts of a text column, or a value per label).
    Bar,
    /// Bars that touch: counts of a number column per bin.
    Histogram,
    /// Points joined in order.
    Line,
}

/// One point of a chart: its label on the x axis and its (finite) value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChartPoint {
    pub label: String,
    pub value: f64,
}

/// The round step (1, 2 or 5 times a power of ten) nearest to `raw`, as d3's tickIncrement: for
/// histogram bins and chart axes.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let error = raw / power;
    let factor = if error >= 50f64.sqrt() {
        10.0
    } else if error >= 10f64.sqrt() {
        5.0
    } else if error >= 2f64.sqrt() {
        2.0
    } else {
        1.0
    };
    factor * power
}

/// The charts of a tool message, stored as JSON text (NULL when there are none).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Charts(pub Vec<Chart>);

impl Charts {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The column's value: JSON, or NULL for none.
    pub fn to_column(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| serde_json::to_string(&self.0).unwrap_or_default())
    }
}

impl TryFrom<Option<String>> for Charts {
    type Error = serde_json::Error;
    fn try_from(value: Option<String>) -> Result<Self, Self::Error> {
        match value {
            None => Ok(Charts::default()),
            Some(text) => serde_json::from_str(&text).map(Charts),
        }
    }
}

/// A tool the agent may call, as the page lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ToolSummary {
    pub name: String,
    pub description: String,
}

/// Where a message is in its life. Only `Streaming` changes later; the others are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
    /// The assistant the conversation runs with, if any.
    #[serde(default)]
    pub assistant_id: Option<Uuid>,
    /// Where the title comes from: whether the model may still name the conversation.
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    #[serde(default)]
    pub title_source: TitleSource,
    /// The conversation this one was branched from, while it exists.
    #[serde(default)]
    pub branched_from: Option<Uuid>,
}

/// Where a conversation's title comes from. A new conversation is called after its first
/// message until the model names it (once, after its first complete answer, when the owner's
/// `ai.auto_titles` is on); a title a person gave is never replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum TitleSource {
    /// The first message's text; the model may still name it.
    Message,
    /// The model is being asked for a title now.
    Titling,
    /// Named by the model.
    Model,
    /// Given by a person: renamed, or imported with its title.
    Person,
    /// The first message's text, kept for good (the model could not name it, or the
    /// conversation is older than titles by the model).
    #[default]
    Kept,
}

impl TitleSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TitleSource::Message => "message",
            TitleSource::Titling => "titling",
            TitleSource::Model => "model",
            TitleSource::Person => "person",
            TitleSource::Kept => "kept",
        }
    }

    /// Whether the model may still give the conversation a new title.
    pub fn may_change(self) -> bool {
        matches!(self, TitleSource::Message | TitleSource::Titling)
    }
}

impl TryFrom<String> for TitleSource {
    type Error = UnknownVariant;
    fn try_from(value: String) -> Result<Self, UnknownVariant> {
        Ok(match value.as_str() {
            "message" => TitleSource::Message,
            "titling" => TitleSource::Titling,
            "model" => TitleSource::Model,
            "person" => TitleSource::Person,
            "kept" => TitleSource::Kept,
            _ => return Err(UnknownVariant(value)),
        })
    }
}

/// A preset: model, sampling, system prompt and the tools it may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Assistant {
    pub id: Uuid,
    #[serde(skip)]
    pub owner_id: Uuid,
    pub name: String,
    pub description: String,
    pub model: String,
    pub temperature: Option<f32>,
    /// Longest answer in tokens (Ollama's `num_predict`).
    pub max_tokens: Option<i32>,
    pub system_prompt: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub tools: ToolNames,
    /// Whether it may call its tools.
    pub tools_enabled: bool,
    /// Its knowledge: the person's documents that every conversation with it is grounded in
    /// (empty in an assistant someone else shares: the documents stay theirs).
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    #[serde(default)]
    pub files: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Offered by an admin to everyone on the instance.
    #[serde(default)]
    pub shared: bool,
    /// The asking person's own (false for one another person shares: use or duplicate it,
    /// but only its owner changes it).
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    #[serde(default)]
    pub owned: bool,
}

/// Toolsets from the customization guide: tools chosen together for a kind of assistant, by
/// name (shared with the page, which offers them in the assistant form).
pub const TOOLSETS: &[(&str, &[&str])] = &[
    ("general", &["calculator", "current_time", "weather"]),
    (
        "data_analysis",
        &["calculator", "csv_summary", "csv_chart", "query_database"],
    ),
    (
        "web_development",
        &["format_code", "package_info", "calculator"],
    ),
    (
        "research",
        &["search_documents", "calculator", "current_time"],
    ),
    (
        "customer_support",
        &[
            "search_notes",
            "save_note",
            "create_ticket",
            "lookup_ticket",
            "escalate",
            "current_time",
        ],
    ),
];

/// Tool names, stored as a JSON array.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ToolNames(pub Vec<String>);

impl TryFrom<String> for ToolNames {
    type Error = serde_json::Error;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        serde_json::from_str(&value).map(ToolNames)
    }
}

/// A field that is present, possibly `null` (`Some(None)`); with `default`, an absent field is
/// `None`. For changes where "absent" keeps a value and `null` clears it.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// What a person sets when creating an assistant, or changes when editing one (absent fields
/// are kept; `null` temperature or max_tokens goes back to the model's default).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AssistantInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub temperature: Option<Option<f32>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_tokens: Option<Option<i32>>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// Tool names; or `toolset` to take a toolset's tools.
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    #[serde(default)]
    pub toolset: Option<String>,
    #[serde(default)]
    pub tools_enabled: Option<bool>,
    /// Its knowledge (file ids), replacing what it had.
    #[serde(default)]
    pub files: Option<Vec<Uuid>>,
    /// Offer it to everyone on the instance (admins only), or stop.
    #[serde(default)]
    pub shared: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
    /// An assistant step's calls; on a tool message, the one call it answers.
    #[cfg_attr(feature = "ssr", sqlx(try_from = "Option<String>"))]
    #[serde(default, skip_serializing_if = "ToolCalls::is_empty")]
    pub tool_calls: ToolCalls,
    /// On a tool message: the tool that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// What a thinking model thought before this answer (kept apart from `content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// On a tool message: the charts the tool drew, shown with the answer.
    #[cfg_attr(feature = "ssr", sqlx(try_from = "Option<String>"))]
    #[serde(default, skip_serializing_if = "Charts::is_empty")]
    pub charts: Charts,
    /// On an answer: the passages of the person's documents it was given (its citations).
    #[cfg_attr(feature = "ssr", sqlx(try_from = "Option<String>"))]
    #[serde(default, skip_serializing_if = "Sources::is_empty")]
    pub sources: Sources,
    /// On a person's message: the images and documents sent with it.
    #[cfg_attr(feature = "ssr", sqlx(try_from = "Option<String>"))]
    #[serde(default, skip_serializing_if = "Attachments::is_empty")]
    pub attachments: Attachments,
    /// Flattened: in JSON and in the table they are columns of the message.
    #[cfg_attr(feature = "ssr", sqlx(flatten))]
    #[serde(flatten)]
    pub metrics: GenerationMetrics,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// An answer's text as sanitised HTML, rendered on the server for the page (which carries
    /// no markdown renderer): filled by the page's server functions and by the event stream
    /// with `?render=html`; absent elsewhere in the API.
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<AnswerHtml>,
    /// On the first message of an answer that was regenerated: which of its versions this is,
    /// and the others to show instead. Absent when the answer has one version.
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<AnswerVersions>,
}

/// Where an answer stands among the versions of the answer to the same message of the person
/// (regenerating keeps the earlier ones): "‹ 2/3 ›".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AnswerVersions {
    /// This answer's place, from 1, oldest first.
    pub current: u32,
    pub count: u32,
    /// The version before this one, to show with `POST /api/v1/answer-versions/{id}/show`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Uuid>,
    /// The version after this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

/// An answer rendered as the page shows it: the finished blocks, which only ever grow at their
/// end while the answer streams, and the last block, which may still change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AnswerHtml {
    pub settled: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub live: String,
}

impl AnswerHtml {
    /// Applies an `html` event of the answer's stream (see [`StreamEvent::Html`]); other events
    /// change nothing. Returns false when the event does not fit what is shown (a `live_keep`
    /// past its end), which a correct server never sends.
    pub fn apply(&mut self, event: &StreamEvent) -> bool {
        let StreamEvent::Html {
            reset,
            settled,
            live,
            live_keep,
        } = event
        else {
            return true;
        };
        if *reset {
            self.settled.clone_from(settled);
        } else {
            self.settled.push_str(settled);
        }
        let Some(live) = live else { return true };
        match live_keep {
            None => self.live.clone_from(live),
            Some(keep) if self.live.is_char_boundary(*keep) => {
                self.live.truncate(*keep);
                self.live.push_str(live);
            }
            Some(_) => return false,
        }
        true
    }
}

/// What a generation measured: one struct for the stored row, the call that finishes it and
/// the event that tells watchers (which carries the row).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GenerationMetrics {
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    /// Milliseconds from the request to Ollama until its first token.
    pub ttft_ms: Option<i64>,
    /// Milliseconds from the request to Ollama until the end of the generation.
    pub duration_ms: Option<i64>,
    /// Ollama's `done_reason`: `stop`, `length`, … (`limit` when our own caps ended it).
    pub done_reason: Option<String>,
}

impl Message {
    /// A step of an agent run that is not its answer: a tool call, or a model call that asked
    /// for tools. More rows follow it in the run.
    pub fn is_agent_step(&self) -> bool {
        self.role == Role::Tool || (self.role == Role::Assistant && !self.tool_calls.is_empty())
    }
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

impl GenerationMetrics {
    /// Tokens per second of the generation, when Ollama reported enough to tell.
    pub fn tokens_per_second(&self) -> Option<f64> {
        let tokens = self.completion_tokens? as f64;
        let generating_ms = (self.duration_ms? - self.ttft_ms.unwrap_or(0)) as f64;
        (generating_ms > 0.0 && tokens > 0.0).then(|| tokens * 1000.0 / generating_ms)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConversationWithMessages {
    pub conversation: Conversation,
    /// Oldest first: all of them, or a page of them (see `has_older`).
    pub messages: Vec<Message>,
    /// More messages come before these: ask for them with `before` = the first one's id.
    #[serde(default)]
    pub has_older: bool,
    /// Documents attached to the conversation: its answers are grounded in them.
    #[serde(default)]
    pub files: Vec<FileInfo>,
    /// The knowledge of its assistant: its answers are grounded in these too.
    #[serde(default)]
    pub knowledge: Vec<FileInfo>,
    /// The title of the conversation this one was branched from (`conversation.branched_from`).
    #[serde(default)]
    pub branched_from_title: Option<String>,
}

/// Some of a conversation's messages, oldest first, and whether more come before them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub has_older: bool,
}

/// What sending a message started: the stored user message and the assistant message being written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SendOutcome {
    pub conversation: Conversation,
    pub user_message: Message,
    pub assistant_message: Message,
    /// With tools: how the model calls them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_mode: Option<ToolMode>,
    /// Something the person should know about this turn (an assistant's model is missing and
    /// another answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// How an agent run's model calls its tools.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ToolMode {
    /// Ollama's native tool calling (`tools` in the request, `tool_calls` in the answer).
    #[default]
    Native,
    /// For models without native tool calling (/api/show lists no `tools`): one JSON object
    /// per model call, results sent back as user messages.
    Prompted,
}

/// Sampling options passed to Ollama; `None` leaves the model's own default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GenerationOptions {
    pub temperature: Option<f32>,
    pub num_predict: Option<i32>,
    pub num_ctx: Option<i32>,
}

impl GenerationOptions {
    /// The options as a settings form sends them: each number as typed, empty for the
    /// model's default. Ranges are checked where they are stored (`service::check_options`).
    pub fn from_form(temperature: &str, num_predict: &str, num_ctx: &str) -> Result<Self, String> {
        Ok(GenerationOptions {
            temperature: parse_optional(temperature, "Temperature")?,
            num_predict: parse_optional(num_predict, "Max tokens")?,
            num_ctx: parse_optional(num_ctx, "Context length")?,
        })
    }
}

/// A number field's text: empty means "not set" (the model's default).
pub fn parse_optional<T: std::str::FromStr>(text: &str, what: &str) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{what} must be a number"))
}

/// Whether two names are the same model: `llama3.2` names `llama3.2:latest`; a name with a
/// tag names only that tag (a registry's port, `host:5000/name`, is not a tag).
pub fn same_model(installed: &str, wanted: &str) -> bool {
    fn tagged(name: &str) -> std::borrow::Cow<'_, str> {
        if name.rsplit('/').next().unwrap_or(name).contains(':') {
            name.into()
        } else {
            format!("{name}:latest").into()
        }
    }
    installed == wanted || tagged(installed) == tagged(wanted)
}

/// A model that Ollama serves (`/api/tags`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelInfo {
    pub name: String,
    pub size: u64,
    pub family: Option<String>,
    pub parameter_size: Option<String>,
    pub quantization_level: Option<String>,
}

/// Whether Ollama answers, and what it serves; the page shows a banner when it does not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

/// One Ollama server of the pool as this instance last saw it (the admin page, /readyz).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OllamaServerStatus {
    /// Its URL without credentials.
    pub url: String,
    /// Whether its last check or call got an answer; unknown before the first.
    pub up: Option<bool>,
    pub version: Option<String>,
    /// Every model it has (chat and embedding).
    pub models: Vec<String>,
    /// Calls this instance has running on it.
    pub busy: u32,
    /// Why it is down.
    pub error: Option<String>,
    pub checked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A model with what `/api/show` says of it (the admin's models page, `GET /api/v1/models/{name}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelDetails {
    pub name: String,
    /// Bytes on disk.
    pub size: u64,
    pub family: Option<String>,
    pub parameter_size: Option<String>,
    pub quantization_level: Option<String>,
    /// The longest context it was trained for.
    pub context_length: Option<u32>,
    /// `completion`, `tools`, `vision`, `thinking`, `embedding`…
    pub capabilities: Vec<String>,
    /// Its Modelfile's PARAMETER lines.
    pub parameters: String,
    /// The servers of the pool that have it.
    pub servers: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum PullState {
    Running,
    Done,
    Failed,
    Cancelled,
}

/// A model being pulled onto the servers of the pool (kept a while after it ends).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelPull {
    pub model: String,
    pub state: PullState,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// One per server asked.
    pub servers: Vec<ServerPull>,
}

impl ModelPull {
    /// Bytes done and to do, over every server and layer.
    pub fn bytes(&self) -> (u64, u64) {
        self.servers.iter().fold((0, 0), |(done, total), s| {
            (done + s.completed, total + s.total)
        })
    }

    /// How far it is, 0 to 100, once Ollama has said how big it is.
    pub fn percent(&self) -> Option<u8> {
        if self.state == PullState::Done {
            return Some(100);
        }
        let (done, total) = self.bytes();
        (total > 0).then(|| (done.min(total) * 100 / total) as u8)
    }
}

/// One server's part of a pull.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerPull {
    pub url: String,
    /// Ollama's last status line (`pulling manifest`, `pulling 8eeb52dfb3bb`, `success`…).
    pub status: String,
    pub completed: u64,
    pub total: u64,
    pub state: PullState,
    pub error: Option<String>,
}

/// The admin's models page: the servers, their models in detail, and pulls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelsOverview {
    pub servers: Vec<OllamaServerStatus>,
    pub models: Vec<ModelDetails>,
    pub pulls: Vec<ModelPull>,
    /// Providers besides Ollama (OpenAI-compatible, Anthropic) and their models.
    #[serde(default)]
    pub providers: Vec<ProviderStatus>,
}

/// One event of a generation's live stream (the `data` of a server-sent event).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum StreamEvent {
    /// All the text so far; sent first on every connection, and again after a receiver lagged.
    Snapshot {
        content: String,
        /// What the model thought so far (thinking models).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        thinking: String,
    },
    /// New thinking to append (thinking models think before they answer).
    Thinking { content: String },
    /// New text to append.
    Delta { content: String },
    /// Only with `?render=html`: the answer's sanitised HTML changed (at most every 50 ms, and
    /// once at the start of every connection, with `reset`). With `reset`, show `settled` and
    /// `live` instead of what is shown; else append `settled` to the finished part and, when
    /// `live` is given, show it as the part still being written: after the first `live_keep`
    /// bytes (UTF-8) of the live part shown, when given, since the part still being written
    /// mostly grows at its end and is not sent again whole.
    Html {
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reset: bool,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        settled: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        live: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        live_keep: Option<usize>,
    },
    /// The message reached a final status; the stored row, metrics included.
    Done {
        message: Box<Message>,
        /// In an agent run, the row the run goes on with (a tool call, the next model call).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<Box<Message>>,
    },
}

impl StreamEvent {
    /// Decodes one event's JSON exactly as the derived `Deserialize` does (the page's reader).
    /// serde decodes an internally tagged enum by buffering the whole object first, which
    /// builds a second decoder for every field type (the whole `Message` included: about
    /// 80 KB of the page's WASM); reading the tag, then the variant's own fields from the same
    /// text, reuses the decoders the page already has.
    pub fn from_json(json: &str) -> serde_json::Result<StreamEvent> {
        #[derive(Deserialize)]
        struct Tag<'a> {
            #[serde(rename = "type", borrow)]
            kind: std::borrow::Cow<'a, str>,
        }
        #[derive(Deserialize)]
        struct Text {
            content: String,
            #[serde(default)]
            thinking: String,
        }
        #[derive(Deserialize)]
        struct Html {
            #[serde(default)]
            reset: bool,
            #[serde(default)]
            settled: String,
            #[serde(default)]
            live: Option<String>,
            #[serde(default)]
            live_keep: Option<usize>,
        }
        #[derive(Deserialize)]
        struct Done {
            message: Box<Message>,
            #[serde(default)]
            next: Option<Box<Message>>,
        }
        let Tag { kind } = serde_json::from_str(json)?;
        Ok(match &*kind {
            "snapshot" => {
                let Text { content, thinking } = serde_json::from_str(json)?;
                StreamEvent::Snapshot { content, thinking }
            }
            "thinking" => StreamEvent::Thinking {
                content: serde_json::from_str::<Text>(json)?.content,
            },
            "delta" => StreamEvent::Delta {
                content: serde_json::from_str::<Text>(json)?.content,
            },
            "html" => {
                let Html {
                    reset,
                    settled,
                    live,
                    live_keep,
                } = serde_json::from_str(json)?;
                StreamEvent::Html {
                    reset,
                    settled,
                    live,
                    live_keep,
                }
            }
            "done" => {
                let Done { message, next } = serde_json::from_str(json)?;
                StreamEvent::Done { message, next }
            }
            other => {
                return Err(serde::de::Error::unknown_variant(
                    other,
                    &["snapshot", "thinking", "delta", "html", "done"],
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{same_model, AnswerHtml, Message, StreamEvent};

    fn message(content: &str) -> Message {
        let mut message: Message = serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::now_v7(), "conversation_id": uuid::Uuid::now_v7(),
            "role": "assistant", "content": content, "model": "llama3.2", "status": "complete",
            "error": null, "created_at": "2026-12-04T00:00:00Z",
            "updated_at": "2026-12-04T00:00:01.5Z", "thinking": "hmm",
            "tool_calls": [{"function": {"name": "calculator", "arguments": {"expression": "1+1"}}}],
        }))
        .unwrap();
        message.html = Some(AnswerHtml {
            settled: "<p>done</p>".into(),
            live: String::new(),
        });
        message
    }

    /// The page's reader of the event stream gives what serde's derived decoder gives, for
    /// every event, and refuses what it refuses.
    #[test]
    fn the_pages_event_reader_reads_what_the_derived_one_does() {
        let events = [
            StreamEvent::Snapshot {
                content: "so far — 日本".into(),
                thinking: String::new(),
            },
            StreamEvent::Snapshot {
                content: String::new(),
                thinking: "first, \"quoted\"".into(),
            },
            StreamEvent::Thinking {
                content: "x".into(),
            },
            StreamEvent::Delta {
                content: "\u{1f600} ".into(),
            },
            StreamEvent::Html {
                reset: true,
                settled: "<p>a</p>".into(),
                live: Some("<p>b".into()),
                live_keep: None,
            },
            StreamEvent::Html {
                reset: false,
                settled: String::new(),
                live: Some("c".into()),
                live_keep: Some(3),
            },
            StreamEvent::Done {
                message: Box::new(message("**answer**")),
                next: None,
            },
            StreamEvent::Done {
                message: Box::new(message("calling a tool")),
                next: Some(Box::new(message(""))),
            },
        ];
        for event in events {
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(StreamEvent::from_json(&json).unwrap(), event, "{json}");
            assert_eq!(
                serde_json::from_str::<StreamEvent>(&json).unwrap(),
                event,
                "{json}"
            );
        }
        // The tag anywhere in the object, escaped or not; fields left out take their defaults.
        let moved = r#"{"content":"hi","type":"delta"}"#;
        let escaped = r#"{"type":"d\u0065lta","content":"hi"}"#;
        for json in [moved, escaped] {
            assert_eq!(
                StreamEvent::from_json(json).unwrap(),
                StreamEvent::Delta {
                    content: "hi".into()
                }
            );
        }
        assert_eq!(
            StreamEvent::from_json(r#"{"type":"html"}"#).unwrap(),
            serde_json::from_str::<StreamEvent>(r#"{"type":"html"}"#).unwrap()
        );
        for bad in [
            r#"{"type":"shout","content":"hi"}"#,
            r#"{"content":"hi"}"#,
            r#"{"type":"delta"}"#,
            r#"{"type":"done","message":{"id":"not a uuid"}}"#,
            r#"{"type":"delta","content":"cut"#,
            "[]",
        ] {
            assert!(StreamEvent::from_json(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<StreamEvent>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_untagged_name_names_the_latest_tag_only() {
        assert!(same_model("llama3.2:latest", "llama3.2"));
        assert!(same_model("llama3.2:latest", "llama3.2:latest"));
        assert!(same_model("qwen2.5:0.5b", "qwen2.5:0.5b"));
        assert!(!same_model("qwen2.5:0.5b", "qwen2.5"));
        assert!(!same_model("llama3.2:latest", "llama3"));
        assert!(!same_model("codellama:latest", "llama3.2"));
        // A registry's port is not a tag.
        assert!(same_model(
            "registry.local:5000/team/m:latest",
            "registry.local:5000/team/m"
        ));
        assert!(!same_model(
            "registry.local:5000/team/m:v1",
            "registry.local:5000/team/m"
        ));
    }
}
