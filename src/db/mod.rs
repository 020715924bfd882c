//! Storage. `Store` is the one interface the rest of the server uses; it holds a SQLite or a
//! PostgreSQL pool, chosen from the URL at start (see `sqlite.rs` and `postgres.rs`, each with its
//! own migrations folder). Each query is written once, in SQL both databases accept (`$n`
//! placeholders, timestamps and ids bound from Rust), and compiled for both drivers.
//! Every query on a person's rows is scoped by `owner_id`.

mod postgres;
mod sqlite;

use crate::config::DatabaseSettings;
use crate::model::{Conversation, Message, MessageStatus, Role};
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{PgPool, SqlitePool};
use uuid::Uuid;

#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool, so one query text serves both databases.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

/// Why the store could not be opened; the server refuses to start and says so.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported DATABASE_URL {0:?}: use postgres://… or sqlite://…")]
    UnsupportedUrl(String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to the {backend} database at {url}: {source}")]
    Connect {
        backend: &'static str,
        url: String,
        source: sqlx::Error,
    },
    #[error("the {backend} database migration failed: {source}")]
    Migrate {
        backend: &'static str,
        source: sqlx::migrate::MigrateError,
    },
    #[error(transparent)]
    Query(#[from] sqlx::Error),
}

/// A new message to store.
#[derive(Clone, Debug)]
pub struct NewMessage<'a> {
    pub conversation_id: Uuid,
    pub owner_id: Uuid,
    pub role: Role,
    pub content: &'a str,
    pub model: Option<&'a str>,
    pub status: MessageStatus,
}

/// The end of a generation: final text, status and metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Finish {
    pub content: String,
    pub status: Option<MessageStatus>,
    pub error: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub done_reason: Option<String>,
}

/// Timestamps are kept to the microsecond, the precision PostgreSQL stores, so that what is read
/// back equals what was written on both databases.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

const CONVERSATION_COLUMNS: &str =
    "id, owner_id, title, model, system_prompt, created_at, updated_at";
const MESSAGE_COLUMNS: &str =
    "id, conversation_id, owner_id, role, content, model, status, error, \
     prompt_tokens, completion_tokens, ttft_ms, duration_ms, done_reason, created_at, updated_at";

impl Store {
    /// Opens the database named by the settings (SQLite file by default) and applies migrations.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Store, StoreError> {
        match settings.url.as_deref() {
            None => sqlite::open_default(settings).await,
            Some(url) if url.starts_with("sqlite:") => sqlite::open_url(url, settings).await,
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                postgres::open(url, settings).await
            }
            Some(url) => Err(StoreError::UnsupportedUrl(crate::config::redact_url(url))),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    /// The one local user that owns everything until accounts arrive; created on first start.
    pub async fn ensure_user(&self, username: &str) -> Result<Uuid, sqlx::Error> {
        let id = Uuid::now_v7();
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO users (id, username, created_at) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING")
                .bind(id).bind(username).bind(now())
                .execute(pool).await?;
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM users WHERE username = $1")
                .bind(username).fetch_one(pool).await
        })
    }

    pub async fn create_conversation(
        &self,
        owner_id: Uuid,
        title: &str,
        model: &str,
        system_prompt: Option<&str>,
    ) -> Result<Conversation, sqlx::Error> {
        let sql = format!(
            "INSERT INTO conversations ({CONVERSATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {CONVERSATION_COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as::<_, Conversation>(&sql)
            .bind(Uuid::now_v7()).bind(owner_id).bind(title).bind(model).bind(system_prompt).bind(now())
            .fetch_one(pool).await)
    }

    /// One owner's conversations, most recently active first.
    pub async fn list_conversations(
        &self,
        owner_id: Uuid,
    ) -> Result<Vec<Conversation>, sqlx::Error> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE owner_id = $1 ORDER BY updated_at DESC, id DESC"
        );
        with_pool!(self, pool => sqlx::query_as::<_, Conversation>(&sql).bind(owner_id).fetch_all(pool).await)
    }

    pub async fn get_conversation(
        &self,
        owner_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Conversation>, sqlx::Error> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 AND owner_id = $2"
        );
        with_pool!(self, pool => sqlx::query_as::<_, Conversation>(&sql).bind(id).bind(owner_id).fetch_optional(pool).await)
    }

    /// Renames a conversation; `None` when the owner has no such conversation.
    pub async fn rename_conversation(
        &self,
        owner_id: Uuid,
        id: Uuid,
        title: &str,
    ) -> Result<Option<Conversation>, sqlx::Error> {
        let sql = format!(
            "UPDATE conversations SET title = $1 WHERE id = $2 AND owner_id = $3 RETURNING {CONVERSATION_COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as::<_, Conversation>(&sql)
            .bind(title).bind(id).bind(owner_id).fetch_optional(pool).await)
    }

    /// Sets the model used for the next answers and marks the conversation active.
    pub async fn touch_conversation(
        &self,
        owner_id: Uuid,
        id: Uuid,
        model: &str,
    ) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("UPDATE conversations SET model = $1, updated_at = $2 WHERE id = $3 AND owner_id = $4")
            .bind(model).bind(now()).bind(id).bind(owner_id)
            .execute(pool).await.map(|r| r.rows_affected() == 1))
    }

    /// Deletes a conversation and its messages; false when the owner has no such conversation.
    pub async fn delete_conversation(&self, owner_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM messages WHERE conversation_id = $1 AND owner_id = $2")
                .bind(id).bind(owner_id).execute(&mut *tx).await?;
            let deleted = sqlx::query("DELETE FROM conversations WHERE id = $1 AND owner_id = $2")
                .bind(id).bind(owner_id).execute(&mut *tx).await?.rows_affected() == 1;
            tx.commit().await?;
            Ok(deleted)
        })
    }

    /// A conversation's messages, oldest first.
    pub async fn list_messages(
        &self,
        owner_id: Uuid,
        conversation_id: Uuid,
    ) -> Result<Vec<Message>, sqlx::Error> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND owner_id = $2 ORDER BY created_at, id"
        );
        with_pool!(self, pool => sqlx::query_as::<_, Message>(&sql).bind(conversation_id).bind(owner_id).fetch_all(pool).await)
    }

    pub async fn get_message(
        &self,
        owner_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Message>, sqlx::Error> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND owner_id = $2");
        with_pool!(self, pool => sqlx::query_as::<_, Message>(&sql).bind(id).bind(owner_id).fetch_optional(pool).await)
    }

    /// Stores a message and marks its conversation active, in one transaction.
    pub async fn insert_message(&self, new: NewMessage<'_>) -> Result<Message, sqlx::Error> {
        let sql = format!(
            "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL, NULL, NULL, NULL, $8, $8) RETURNING {MESSAGE_COLUMNS}"
        );
        let at = now();
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let message = sqlx::query_as::<_, Message>(&sql)
                .bind(Uuid::now_v7()).bind(new.conversation_id).bind(new.owner_id)
                .bind(new.role.as_str()).bind(new.content).bind(new.model).bind(new.status.as_str()).bind(at)
                .fetch_one(&mut *tx).await?;
            sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2 AND owner_id = $3")
                .bind(at).bind(new.conversation_id).bind(new.owner_id)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(message)
        })
    }

    /// Saves the text streamed so far; only while the message is still streaming, so a late
    /// flush never overwrites a final row.
    pub async fn save_partial(
        &self,
        owner_id: Uuid,
        id: Uuid,
        content: &str,
    ) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("UPDATE messages SET content = $1, updated_at = $2 WHERE id = $3 AND owner_id = $4 AND status = 'streaming'")
            .bind(content).bind(now()).bind(id).bind(owner_id)
            .execute(pool).await.map(|r| r.rows_affected() == 1))
    }

    /// Writes the final text, status and metrics of a generation. Only a streaming row changes:
    /// `None` when it was already finalised (stopped through another instance) or is gone.
    pub async fn finish_message(
        &self,
        owner_id: Uuid,
        id: Uuid,
        finish: &Finish,
    ) -> Result<Option<Message>, sqlx::Error> {
        let sql = format!(
            "UPDATE messages SET content = $1, status = $2, error = $3, prompt_tokens = $4, completion_tokens = $5, \
             ttft_ms = $6, duration_ms = $7, done_reason = $8, updated_at = $9 WHERE id = $10 AND owner_id = $11 \
             AND status = 'streaming' RETURNING {MESSAGE_COLUMNS}"
        );
        let status = finish.status.unwrap_or(MessageStatus::Complete);
        with_pool!(self, pool => sqlx::query_as::<_, Message>(&sql)
            .bind(&finish.content).bind(status.as_str()).bind(&finish.error)
            .bind(finish.prompt_tokens).bind(finish.completion_tokens).bind(finish.ttft_ms)
            .bind(finish.duration_ms).bind(&finish.done_reason).bind(now()).bind(id).bind(owner_id)
            .fetch_optional(pool).await)
    }

    pub async fn delete_message(&self, owner_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("DELETE FROM messages WHERE id = $1 AND owner_id = $2")
            .bind(id).bind(owner_id).execute(pool).await.map(|r| r.rows_affected() == 1))
    }

    /// At start: rows still marked streaming belong to a server that died; they become
    /// interrupted, keeping their text. Returns how many there were.
    pub async fn interrupt_streaming(&self) -> Result<u64, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("UPDATE messages SET status = 'interrupted', error = $1, updated_at = $2 WHERE status = 'streaming'")
            .bind("the server stopped before this answer was complete").bind(now())
            .execute(pool).await.map(|r| r.rows_affected()))
    }
}
