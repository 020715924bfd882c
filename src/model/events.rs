//! What a person's event stream (`GET /api/v1/events`) tells their pages and API clients.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A change to one of the person's conversations, or word about the stream itself. Each is
/// sent as one server-sent event whose `id` is the event's (send it back as `Last-Event-ID`
/// to receive what was missed) and whose data is this object, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum PersonEvent {
    /// The stream is open: read again what is shown (it may have changed before).
    Ready,
    /// Events were missed (the client fell behind): read again what is shown.
    Resync,
    /// A conversation was started (from any page, device or API client) or imported.
    ConversationCreated {
        conversation_id: Uuid,
    },
    /// The person renamed a conversation.
    ConversationRenamed {
        conversation_id: Uuid,
    },
    /// The model named a conversation after its first exchange.
    ConversationTitled {
        conversation_id: Uuid,
    },
    ConversationDeleted {
        conversation_id: Uuid,
    },
    /// The person sent a message (or edited one and sent it again): an answer is being
    /// written after it.
    MessageSent {
        conversation_id: Uuid,
        message_id: Uuid,
    },
    /// An answer (or a step of an agent run) reached its end: `status` is `complete`,
    /// `stopped` or `error`.
    AnswerFinished {
        conversation_id: Uuid,
        message_id: Uuid,
        status: String,
    },
    /// Another version of the answer to the person's message `message_id` is shown: what
    /// followed that message changed (read the conversation again).
    AnswerVersionShown {
        conversation_id: Uuid,
        message_id: Uuid,
    },
}

impl PersonEvent {
    /// The conversation it is about, if any.
    pub fn conversation_id(&self) -> Option<Uuid> {
        match self {
            PersonEvent::Ready | PersonEvent::Resync => None,
            PersonEvent::ConversationCreated { conversation_id }
            | PersonEvent::ConversationRenamed { conversation_id }
            | PersonEvent::ConversationTitled { conversation_id }
            | PersonEvent::ConversationDeleted { conversation_id }
            | PersonEvent::MessageSent {
                conversation_id, ..
            }
            | PersonEvent::AnswerFinished {
                conversation_id, ..
            }
            | PersonEvent::AnswerVersionShown {
                conversation_id, ..
            } => Some(*conversation_id),
        }
    }
}
