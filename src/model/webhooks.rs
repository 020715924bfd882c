//! Webhooks as the page and the API see them.

use super::UnknownVariant;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a webhook can be told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum WebhookEvent {
    /// A person sent a message (or edited one and sent it again).
    MessageSent,
    /// An answer reached its end (complete, stopped or failed: `status` says which).
    AnswerCompleted,
    ConversationCreated,
    /// A conversation got a new title: `by` says whether its owner or its model gave it.
    ConversationRenamed,
    ConversationDeleted,
    FileUploaded,
    /// A file's indexing ended (`status` ready or failed).
    FileIndexed,
    /// A tool call of an agent ended.
    ToolCalled,
    /// Sent on request, to try a webhook out.
    Ping,
}

impl WebhookEvent {
    /// The events a webhook may subscribe to (ping is always possible).
    pub const ALL: [WebhookEvent; 8] = [
        WebhookEvent::MessageSent,
        WebhookEvent::AnswerCompleted,
        WebhookEvent::ConversationCreated,
        WebhookEvent::ConversationRenamed,
        WebhookEvent::ConversationDeleted,
        WebhookEvent::FileUploaded,
        WebhookEvent::FileIndexed,
        WebhookEvent::ToolCalled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::MessageSent => "message_sent",
            WebhookEvent::AnswerCompleted => "answer_completed",
            WebhookEvent::ConversationCreated => "conversation_created",
            WebhookEvent::ConversationRenamed => "conversation_renamed",
            WebhookEvent::ConversationDeleted => "conversation_deleted",
            WebhookEvent::FileUploaded => "file_uploaded",
            WebhookEvent::FileIndexed => "file_indexed",
            WebhookEvent::ToolCalled => "tool_called",
            WebhookEvent::Ping => "ping",
        }
    }

    /// What the page says about it.
    pub fn label(self) -> &'static str {
        match self {
            WebhookEvent::MessageSent => "A message is sent",
            WebhookEvent::AnswerCompleted => "An answer is finished",
            WebhookEvent::ConversationCreated => "A conversation is started",
            WebhookEvent::ConversationRenamed => "A conversation is renamed, or named by its model",
            WebhookEvent::ConversationDeleted => "A conversation is deleted",
            WebhookEvent::FileUploaded => "A file is uploaded",
            WebhookEvent::FileIndexed => "A file is indexed",
            WebhookEvent::ToolCalled => "An agent calls a tool",
            WebhookEvent::Ping => "Test",
        }
    }
}

impl TryFrom<String> for WebhookEvent {
    type Error = UnknownVariant;
    fn try_from(value: String) -> Result<Self, UnknownVariant> {
        WebhookEvent::ALL
            .into_iter()
            .chain([WebhookEvent::Ping])
            .find(|e| e.as_str() == value)
            .ok_or(UnknownVariant(value))
    }
}

/// The events of a webhook, stored as a JSON array.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookEvents(pub Vec<WebhookEvent>);

impl TryFrom<String> for WebhookEvents {
    type Error = serde_json::Error;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        serde_json::from_str(&value).map(WebhookEvents)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Webhook {
    pub id: Uuid,
    #[serde(skip)]
    pub owner_id: Uuid,
    pub url: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub events: WebhookEvents,
    pub description: String,
    pub enabled: bool,
    /// An admin's webhook that is told about everyone's events.
    pub instance_wide: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A webhook just made (or its secret just replaced): `secret` is shown this once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewWebhookSecret {
    pub secret: String,
    #[serde(flatten)]
    pub webhook: Webhook,
}

/// What a person sets when registering a webhook, or changes (absent fields are kept).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookInput {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<WebhookEvent>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Admins only, when registering.
    #[serde(default)]
    pub instance_wide: Option<bool>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    #[default]
    Pending,
    Delivered,
    /// Given up on (retried for the whole retry window).
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

impl TryFrom<String> for DeliveryStatus {
    type Error = UnknownVariant;
    fn try_from(value: String) -> Result<Self, UnknownVariant> {
        match value.as_str() {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(UnknownVariant(value)),
        }
    }
}

/// One event sent (or to be sent) to one webhook: the delivery log's row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The event's id (the same in every attempt: receivers use it to ignore repeats).
    pub event_id: Uuid,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub event: WebhookEvent,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// The HTTP status of the last attempt's answer.
    pub response_status: Option<i32>,
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
    /// How long the last attempt took.
    pub duration_ms: Option<i64>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}
