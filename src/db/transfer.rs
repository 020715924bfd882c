//! Storage of imported conversations: a conversation with all its messages, in one
//! transaction. One text of each query serves both databases.

use crate::model::{Conversation, Message};
use uuid::Uuid;

/// The kind of the outbox event an import writes.
pub const OUTBOX_CONVERSATION_IMPORTED: &str = "conversation.imported";

#[async_trait::async_trait]
pub trait TransferStore: Send + Sync {
    /// Stores `conversation` (its id already new) and `messages` (theirs too) for `owner_id`,
    /// with a `conversation.imported` event: all of it, or nothing.
    async fn import_conversation(
        &self,
        owner_id: Uuid,
        conversation: &Conversation,
        messages: &[Message],
    ) -> Result<Conversation, sqlx::Error>;
}

macro_rules! portable_transfer {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::db::transfer::TransferStore for $backend {
            async fn import_conversation(
                &self,
                owner_id: Uuid,
                conversation: &Conversation,
                messages: &[Message],
            ) -> Result<Conversation, sqlx::Error> {
                let mut tx = self.pool.begin_write().await?;
                let conversation_sql = format!(
                    "INSERT INTO conversations ({CONVERSATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {CONVERSATION_COLUMNS}"
                );
                let stored = sqlx::query_as::<_, Conversation>(&conversation_sql)
                    .bind(conversation.id)
                    .bind(owner_id)
                    .bind(storable(&conversation.title))
                    .bind(storable(&conversation.model))
                    .bind(conversation.system_prompt.as_deref().map(storable))
                    .bind(conversation.options.temperature)
                    .bind(conversation.options.num_predict)
                    .bind(conversation.options.num_ctx)
                    .bind(conversation.created_at)
                    .bind(conversation.updated_at)
                    .bind(conversation.assistant_id)
                    .bind(conversation.title_source.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                let message_sql = format!(
                    "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
                );
                for m in messages {
                    sqlx::query(&message_sql)
                        .bind(m.id)
                        .bind(stored.id)
                        .bind(owner_id)
                        .bind(m.role.as_str())
                        .bind(storable(&m.content))
                        .bind(m.model.as_deref().map(storable))
                        .bind(m.status.as_str())
                        .bind(m.error.as_deref().map(storable))
                        .bind(m.tool_calls.to_column())
                        .bind(m.tool_name.as_deref().map(storable))
                        .bind(m.thinking.as_deref().map(storable))
                        .bind(m.charts.to_column())
                        .bind(m.sources.to_column())
                        .bind(m.attachments.to_column().as_deref().map(storable))
                        .bind(m.metrics.prompt_tokens)
                        .bind(m.metrics.completion_tokens)
                        .bind(m.metrics.ttft_ms)
                        .bind(m.metrics.duration_ms)
                        .bind(m.metrics.done_reason.as_deref().map(storable))
                        .bind(m.created_at)
                        .bind(m.updated_at)
                        .execute(&mut *tx)
                        .await?;
                }
                let payload = serde_json::json!({
                    "conversation_id": stored.id,
                    "model": stored.model,
                    "messages": messages.len(),
                })
                .to_string();
                insert_outbox_in!(
                    tx,
                    owner_id,
                    $crate::db::transfer::OUTBOX_CONVERSATION_IMPORTED,
                    stored.id,
                    payload,
                    now()
                )?;
                commit_announced!(self, tx)?;
                Ok(stored)
            }
        }
    };
}
pub(super) use portable_transfer;
