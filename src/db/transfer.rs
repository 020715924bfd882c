//! Storage of imported and branched conversations: a conversation with all its messages, in
//! one transaction. One text of each query serves both databases.

use crate::model::{Conversation, Message};
use uuid::Uuid;

/// A conversation branched from another: the new conversation and the messages copied into it
/// (oldest first; the last is the copy of the message it was branched at).
#[derive(Clone, Debug)]
pub struct Branch {
    pub conversation: Conversation,
    pub messages: Vec<Message>,
}

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

    /// Copies the conversation of `through` (a message of `owner_id`'s) into a new one titled
    /// `name(its title)`: its model, instructions, settings, assistant and attached documents,
    /// and its messages up to and including `through` (new ids, the same times), with a
    /// `conversation.created` event. The source is left as it is. `NotFound` when the message
    /// is not the owner's; `Busy` when it is an answer still being written.
    async fn branch_conversation(
        &self,
        owner_id: Uuid,
        through: Uuid,
        name: for<'t> fn(&'t str) -> String,
    ) -> Result<Branch, super::TurnError>;
}

/// Messages copied in one statement: 21 values each, within SQLite's limit of 32,766 values
/// a statement (PostgreSQL allows 65,535). A branch of 5,000 messages took 340 ms on SQLite and
/// 725 ms on PostgreSQL with a statement a message, 104 and 109 ms so
/// (`bench/long_conversation.rs`); SQLite's write lock is held that long.
pub const COPY_CHUNK: usize = 500;

/// Inserts copies of messages (their ids already new) into `$conversation` inside an open
/// transaction, a chunk a statement: imports and branches.
macro_rules! insert_copied_messages_in {
    ($tx:ident, $database:ty, $owner:expr, $conversation:expr, $messages:expr) => {{
        let messages: &[Message] = $messages;
        let mut inserted: Result<(), sqlx::Error> = Ok(());
        for chunk in messages.chunks($crate::db::transfer::COPY_CHUNK) {
            let mut insert = sqlx::QueryBuilder::<$database>::new(format!(
                "INSERT INTO messages ({MESSAGE_COLUMNS}) "
            ));
            insert.push_values(chunk, |mut row, m| {
                row.push_bind(m.id)
                    .push_bind($conversation)
                    .push_bind($owner)
                    .push_bind(m.role.as_str())
                    .push_bind(storable(&m.content))
                    .push_bind(m.model.as_deref().map(storable))
                    .push_bind(m.status.as_str())
                    .push_bind(m.error.as_deref().map(storable))
                    .push_bind(m.tool_calls.to_column())
                    .push_bind(m.tool_name.as_deref().map(storable))
                    .push_bind(m.thinking.as_deref().map(storable))
                    .push_bind(m.charts.to_column())
                    .push_bind(m.sources.to_column())
                    .push_bind(m.attachments.to_column().map(|a| storable(&a).into_owned()))
                    .push_bind(m.metrics.prompt_tokens)
                    .push_bind(m.metrics.completion_tokens)
                    .push_bind(m.metrics.ttft_ms)
                    .push_bind(m.metrics.duration_ms)
                    .push_bind(m.metrics.done_reason.as_deref().map(storable))
                    .push_bind(m.created_at)
                    .push_bind(m.updated_at);
            });
            if let Err(error) = insert.build().execute(&mut *$tx).await {
                inserted = Err(error);
                break;
            }
        }
        inserted
    }};
}
pub(super) use insert_copied_messages_in;

/// Inserts a conversation (its id already new) for `$owner` inside an open transaction, and
/// returns it as stored: imports and branches.
macro_rules! insert_conversation_copy_in {
    ($tx:ident, $owner:expr, $conversation:expr) => {{
        let conversation: &Conversation = $conversation;
        let conversation_sql = format!(
            "INSERT INTO conversations ({CONVERSATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING {CONVERSATION_COLUMNS}"
        );
        sqlx::query_as::<_, Conversation>(&conversation_sql)
            .bind(conversation.id)
            .bind($owner)
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
            .bind(conversation.branched_from)
            .fetch_one(&mut *$tx)
            .await
    }};
}
pub(super) use insert_conversation_copy_in;

macro_rules! portable_transfer {
    ($backend:ty, $database:ty) => {
        #[async_trait::async_trait]
        impl $crate::db::transfer::TransferStore for $backend {
            async fn import_conversation(
                &self,
                owner_id: Uuid,
                conversation: &Conversation,
                messages: &[Message],
            ) -> Result<Conversation, sqlx::Error> {
                let mut tx = self.pool.begin_write().await?;
                let stored = $crate::db::transfer::insert_conversation_copy_in!(tx, owner_id, conversation)?;
                $crate::db::transfer::insert_copied_messages_in!(tx, $database, owner_id, stored.id, messages)?;
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

            async fn branch_conversation(
                &self,
                owner_id: Uuid,
                through: Uuid,
                name: for<'t> fn(&'t str) -> String,
            ) -> Result<$crate::db::transfer::Branch, $crate::db::TurnError> {
                use $crate::db::TurnError;
                let mut tx = self.pool.begin_write().await?;
                // A write first: SQLite's write lock, and on PostgreSQL the source
                // conversation's row lock, so that no turn, edit or delete changes its messages
                // while they are copied (those take the same lock).
                let source_sql = format!(
                    "UPDATE conversations SET updated_at = updated_at WHERE owner_id = $1 AND id = (SELECT conversation_id FROM messages WHERE id = $2 AND owner_id = $1) RETURNING {CONVERSATION_COLUMNS}"
                );
                let source = sqlx::query_as::<_, Conversation>(&source_sql)
                    .bind(owner_id)
                    .bind(through)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(TurnError::NotFound)?;
                let target_sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND owner_id = $2 AND conversation_id = $3"
                );
                let target = sqlx::query_as::<_, Message>(&target_sql)
                    .bind(through)
                    .bind(owner_id)
                    .bind(source.id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(TurnError::NotFound)?;
                if target.status == $crate::model::MessageStatus::Streaming {
                    return Err(TurnError::Busy);
                }
                let history_sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND owner_id = $2 \
                     AND (created_at < $3 OR (created_at = $3 AND id <= $4)) ORDER BY created_at, id"
                );
                let mut messages = sqlx::query_as::<_, Message>(&history_sql)
                    .bind(source.id)
                    .bind(owner_id)
                    .bind(target.created_at)
                    .bind(target.id)
                    .fetch_all(&mut *tx)
                    .await?;
                let at = now();
                let branch = Conversation {
                    id: Uuid::now_v7(),
                    title: name(&source.title),
                    created_at: at,
                    updated_at: at,
                    // Its title came with it: the model does not name a branch again.
                    title_source: $crate::model::TitleSource::Kept,
                    branched_from: Some(source.id),
                    ..source
                };
                let stored = $crate::db::transfer::insert_conversation_copy_in!(tx, owner_id, &branch)?;
                for m in &mut messages {
                    // New ids in the same order (v7 ids only grow), so that messages of the
                    // same time keep their order.
                    m.id = Uuid::now_v7();
                    m.conversation_id = stored.id;
                }
                $crate::db::transfer::insert_copied_messages_in!(tx, $database, owner_id, stored.id, &messages)?;
                sqlx::query(
                    "INSERT INTO conversation_files (conversation_id, file_id, owner_id, created_at) \
                     SELECT $1, file_id, owner_id, created_at FROM conversation_files WHERE conversation_id = $2 AND owner_id = $3",
                )
                .bind(stored.id)
                .bind(source.id)
                .bind(owner_id)
                .execute(&mut *tx)
                .await?;
                let payload = serde_json::json!({
                    "conversation_id": stored.id,
                    "model": stored.model,
                    "branched_from": source.id,
                    "messages": messages.len(),
                })
                .to_string();
                insert_outbox_in!(tx, owner_id, OUTBOX_CONVERSATION_CREATED, stored.id, payload, at)?;
                commit_announced!(self, tx)?;
                Ok($crate::db::transfer::Branch {
                    conversation: stored,
                    messages,
                })
            }
        }
    };
}
pub(super) use portable_transfer;
