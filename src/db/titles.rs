//! Conversations named by their model (src/titles.rs): finding the ones a finished answer made
//! ready, taking one (so that one instance names it), and storing the name unless a person
//! renamed it meanwhile. One text of each query serves both databases.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A conversation a complete answer made ready to be named.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct TitleCandidate {
    pub conversation_id: Uuid,
    pub owner_id: Uuid,
    /// The model that answered (the conversation's when the answer names none).
    pub model: String,
}

/// What the model is shown to name a conversation: its first message and first answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TitleSeed {
    pub question: String,
    pub answer: String,
}

#[async_trait::async_trait]
pub trait TitleStore: Send + Sync {
    /// Conversations still called after their first message (`title_source = 'message'`, or
    /// `titling` taken before `stale`: its instance died asking) with a complete answer that
    /// finished since `since` (outbox `generation.finished` events), oldest first, each once.
    async fn untitled_conversations(
        &self,
        since: DateTime<Utc>,
        stale: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<TitleCandidate>, sqlx::Error>;

    /// Takes the conversation for naming (`message`, or `titling` taken before `stale`, →
    /// `titling`) and reads what the model is shown; `None` when another instance took it, a
    /// person renamed it, or it is gone.
    async fn take_for_title(
        &self,
        owner_id: Uuid,
        conversation_id: Uuid,
        stale: DateTime<Utc>,
    ) -> Result<Option<TitleSeed>, sqlx::Error>;

    /// Ends the naming: the model's title, or `None` to keep the first message's text for
    /// good. Only a conversation still being named changes (a rename meanwhile wins); whether
    /// it did.
    async fn finish_title(
        &self,
        owner_id: Uuid,
        conversation_id: Uuid,
        title: Option<&str>,
    ) -> Result<bool, sqlx::Error>;
}

macro_rules! portable_titles {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::db::titles::TitleStore for $backend {
            async fn untitled_conversations(
                &self,
                since: chrono::DateTime<chrono::Utc>,
                stale: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::db::titles::TitleCandidate>, sqlx::Error> {
                let found: Vec<$crate::db::titles::TitleCandidate> = sqlx::query_as(
                    "SELECT c.id AS conversation_id, c.owner_id, COALESCE(m.model, c.model) AS model \
                     FROM outbox o \
                     JOIN messages m ON m.id = o.subject_id AND m.owner_id = o.owner_id \
                     JOIN conversations c ON c.id = m.conversation_id AND c.owner_id = m.owner_id \
                     WHERE o.kind = $1 AND o.created_at >= $2 \
                       AND (c.title_source = 'message' OR (c.title_source = 'titling' AND c.title_asked_at < $3)) \
                       AND m.role = 'assistant' AND m.status = 'complete' AND m.content <> '' \
                     ORDER BY o.created_at, o.id LIMIT $4",
                )
                .bind($crate::db::OUTBOX_GENERATION_FINISHED)
                .bind(since)
                .bind(stale)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                // Two answers of one conversation: it is named once.
                let mut seen = std::collections::HashSet::new();
                Ok(found
                    .into_iter()
                    .filter(|c| seen.insert(c.conversation_id))
                    .collect())
            }

            async fn take_for_title(
                &self,
                owner_id: Uuid,
                conversation_id: Uuid,
                stale: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::db::titles::TitleSeed>, sqlx::Error> {
                let taken = sqlx::query(
                    "UPDATE conversations SET title_source = 'titling', title_asked_at = $3 \
                     WHERE id = $1 AND owner_id = $2 \
                       AND (title_source = 'message' OR (title_source = 'titling' AND title_asked_at < $4))",
                )
                .bind(conversation_id)
                .bind(owner_id)
                .bind($crate::db::now())
                .bind(stale)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if taken == 0 {
                    return Ok(None);
                }
                let first = |condition: &str| {
                    format!(
                        "SELECT content FROM messages WHERE conversation_id = $1 AND owner_id = $2 AND {condition} \
                         ORDER BY created_at, id LIMIT 1"
                    )
                };
                let question: Option<String> = sqlx::query_scalar(&first("role = 'user'"))
                    .bind(conversation_id)
                    .bind(owner_id)
                    .fetch_optional(&self.pool)
                    .await?;
                let answer: Option<String> = sqlx::query_scalar(&first(
                    "role = 'assistant' AND status = 'complete' AND content <> ''",
                ))
                .bind(conversation_id)
                .bind(owner_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(Some($crate::db::titles::TitleSeed {
                    question: question.unwrap_or_default(),
                    answer: answer.unwrap_or_default(),
                }))
            }

            async fn finish_title(
                &self,
                owner_id: Uuid,
                conversation_id: Uuid,
                title: Option<&str>,
            ) -> Result<bool, sqlx::Error> {
                let Some(title) = title else {
                    let kept = sqlx::query(
                        "UPDATE conversations SET title_source = 'kept' \
                         WHERE id = $1 AND owner_id = $2 AND title_source = 'titling'",
                    )
                    .bind(conversation_id)
                    .bind(owner_id)
                    .execute(&self.pool)
                    .await?;
                    return Ok(kept.rows_affected() == 1);
                };
                // With its event: the owner's other tabs and devices show the title at once.
                let mut tx = self.pool.begin_write().await?;
                let named = sqlx::query(
                    "UPDATE conversations SET title = $3, title_source = 'model' \
                     WHERE id = $1 AND owner_id = $2 AND title_source = 'titling'",
                )
                .bind(conversation_id)
                .bind(owner_id)
                .bind($crate::text::storable(title))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if named {
                    let payload = serde_json::json!({ "conversation_id": conversation_id, "by": "model" })
                        .to_string();
                    insert_outbox_in!(
                        tx,
                        owner_id,
                        $crate::db::OUTBOX_CONVERSATION_TITLED,
                        conversation_id,
                        payload,
                        $crate::db::now()
                    )?;
                }
                commit_announced!(self, tx)?;
                Ok(named)
            }
        }
    };
}
pub(super) use portable_titles;
