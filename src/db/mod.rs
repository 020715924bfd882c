//! Storage. The `Store` trait is the one interface the rest of the server uses, with one
//! implementation per database chosen from the URL at start (`sqlite.rs`, `postgres.rs`, each
//! with its own migrations folder). Queries both databases accept are written once
//! (`portable_store!`); what differs (full-text and vector search, date arithmetic, LISTEN) is
//! written in the backend's own module. Every query on a person's rows is scoped by `owner_id`.

use crate::config::DatabaseSettings;
use crate::model::{
    Assistant, Attachments, Charts, Conversation, GenerationMetrics, GenerationOptions, Message,
    MessageStatus, Role, ToolCalls,
};
use crate::text::storable;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{PgPool, SqlitePool};
use uuid::Uuid;

/// Runs `$body` with `$pool` bound to the backend's pool (in `portable_store!`).
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {{
        let $pool = &$store.pool;
        $body
    }};
}

/// A transaction that writes. SQLite's is `BEGIN IMMEDIATE`: it takes the write lock at once,
/// waiting (the busy timeout) for a writer in progress. A deferred one that reads before it
/// writes cannot wait: when another connection commits meanwhile, its write fails at once with
/// "database is locked" (seen as a rare 500 under concurrent requests).
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>>
           + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        let pool = self.clone();
        begin_to_the_end(async move { pool.begin_with("BEGIN IMMEDIATE").await }).await
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        let pool = self.clone();
        begin_to_the_end(async move { pool.begin().await }).await
    }
}

/// Runs `begin` in a task of its own, so that it finishes even when the caller is dropped
/// halfway (a request whose client went away). sqlx does not survive that: when the future is
/// dropped after the database has begun the transaction but before the answer is read, no
/// `Transaction` exists to roll it back, and the connection goes back to the pool inside it
/// (on SQLite holding the write lock: every later write failed with "database is locked" until
/// a restart, seen in an end-to-end run). Finished here, a transaction nobody waits for any
/// more is dropped, which rolls it back.
async fn begin_to_the_end<Db: sqlx::Database>(
    begin: impl std::future::Future<Output = Result<sqlx::Transaction<'static, Db>, sqlx::Error>>
        + Send
        + 'static,
) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
    run_to_the_end(begin)
        .await
        .unwrap_or(Err(sqlx::Error::PoolClosed))
}

/// Runs `work` in a task of its own and waits for it: dropping the caller does not stop the
/// work halfway, so database work that must clean up after itself (roll back, reset a
/// connection) always does. A panic in `work` is resumed in the caller. `None` only when the
/// runtime shuts down.
pub(crate) async fn run_to_the_end<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> Option<T> {
    match tokio::spawn(work).await {
        Ok(done) => Some(done),
        Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
        Err(_) => None,
    }
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
    #[error("cannot prepare the files folder {path}: {source}")]
    Files {
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
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretError),
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
    /// On a tool message: the call it answers.
    pub tool_calls: ToolCalls,
    /// On a tool message: the tool that runs.
    pub tool_name: Option<&'a str>,
    /// On a person's message: the files sent with it.
    pub attachments: Option<&'a Attachments>,
}

/// The end of a generation: final text, status and metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Finish {
    pub content: String,
    pub status: Option<MessageStatus>,
    pub error: Option<String>,
    pub metrics: GenerationMetrics,
    /// An assistant step's tool calls (kept as they are when empty).
    pub tool_calls: ToolCalls,
    /// What a thinking model thought (kept as it is when `None`).
    pub thinking: Option<String>,
    /// The charts a tool drew (kept as they are when empty).
    pub charts: Charts,
}

/// Timestamps are kept to the microsecond, the precision PostgreSQL stores, so that what is read
/// back equals what was written on both databases.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

const CONVERSATION_COLUMNS: &str =
    "id, owner_id, title, model, system_prompt, temperature, num_predict, num_ctx, created_at, updated_at, assistant_id, title_source, branched_from";
/// The columns an insert writes (`shared` starts false).
const ASSISTANT_INSERT_COLUMNS: &str =
    "id, owner_id, name, description, model, temperature, max_tokens, \
     system_prompt, tools, tools_enabled, created_at, updated_at";
const ASSISTANT_COLUMNS: &str = "id, owner_id, name, description, model, temperature, max_tokens, \
     system_prompt, tools, tools_enabled, created_at, updated_at, shared";

/// Binds an assistant's fields as $3..$10 (after its id and owner).
macro_rules! bind_assistant {
    ($query:expr, $fields:expr) => {
        $query
            .bind(storable(&$fields.name))
            .bind(storable(&$fields.description))
            .bind(storable(&$fields.model))
            .bind($fields.temperature)
            .bind($fields.max_tokens)
            .bind(storable(&$fields.system_prompt))
            .bind(serde_json::to_string(&$fields.tools).unwrap_or_else(|_| "[]".into()))
            .bind($fields.tools_enabled)
    };
}

/// A person's note: the knowledge base the support agent searches.
#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct Note {
    pub id: Uuid,
    #[serde(skip)]
    pub owner_id: Uuid,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A support ticket; `number` counts from 1 per person.
#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct Ticket {
    pub id: Uuid,
    #[serde(skip)]
    pub owner_id: Uuid,
    pub number: i64,
    pub subject: String,
    pub description: String,
    pub customer: Option<String>,
    pub priority: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Something flagged for an administrator.
#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct Escalation {
    pub id: Uuid,
    #[serde(skip)]
    pub owner_id: Uuid,
    pub ticket_id: Option<Uuid>,
    pub reason: String,
    pub severity: String,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

const TICKET_COLUMNS: &str = "id, owner_id, number, subject, description, customer, priority, status, created_at, updated_at";

/// How a conversation's system prompt follows a change of assistant: it becomes `to` when it
/// is empty or still `from` (what the previous assistant, or the instance default, gave it). A
/// prompt the person wrote themselves stays.
#[derive(Clone, Copy, Debug)]
pub struct PromptSwitch<'a> {
    pub from: &'a str,
    pub to: Option<&'a str>,
}

/// An assistant's settings, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct AssistantFields {
    pub name: String,
    pub description: String,
    pub model: String,
    pub temperature: Option<f32>,
    pub max_tokens: Option<i32>,
    pub system_prompt: String,
    pub tools: Vec<String>,
    pub tools_enabled: bool,
}

const MESSAGE_COLUMNS: &str =
    "id, conversation_id, owner_id, role, content, model, status, error, tool_calls, tool_name, thinking, charts, \
     sources, attachments, prompt_tokens, completion_tokens, ttft_ms, duration_ms, done_reason, created_at, updated_at";

/// Inserts a message inside an open transaction `$tx` (a macro, so one text serves both drivers).
macro_rules! insert_message_in {
    ($tx:ident, $new:expr, $instance:expr, $at:expr) => {{
        let new = &$new;
        let sql = format!(
            "INSERT INTO messages ({MESSAGE_COLUMNS}, instance_id, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $10, $11, NULL, NULL, NULL, $12, NULL, NULL, NULL, NULL, NULL, $8, $8, $9, $8) RETURNING {MESSAGE_COLUMNS}"
        );
        sqlx::query_as::<_, Message>(&sql)
            .bind(Uuid::now_v7())
            .bind(new.conversation_id)
            .bind(new.owner_id)
            .bind(new.role.as_str())
            .bind(storable(new.content))
            .bind(new.model.map(storable))
            .bind(new.status.as_str())
            .bind($at)
            .bind($instance)
            .bind(new.tool_calls.to_column())
            .bind(new.tool_name.map(storable))
            .bind(new.attachments.and_then(|a| a.to_column()).as_deref().map(storable))
            .fetch_one(&mut *$tx)
            .await
    }};
}

/// Finalises a streaming row inside an open transaction `$tx`, with its outbox event;
/// `None` when the row was not streaming (any more).
macro_rules! finish_in {
    ($tx:ident, $owner:expr, $id:expr, $finish:expr, $at:expr) => {{
        let finish: &Finish = $finish;
        let sql = format!(
            "UPDATE messages SET content = $1, status = $2, error = $3, prompt_tokens = $4, completion_tokens = $5, \
             ttft_ms = $6, duration_ms = $7, done_reason = $8, updated_at = $9, heartbeat_at = NULL, \
             tool_calls = COALESCE($12, tool_calls), thinking = COALESCE($13, thinking), \
             charts = COALESCE($14, charts) WHERE id = $10 AND owner_id = $11 \
             AND status = 'streaming' RETURNING {MESSAGE_COLUMNS}"
        );
        let status = finish.status.unwrap_or(MessageStatus::Complete);
        let message = sqlx::query_as::<_, Message>(&sql)
            .bind(storable(&finish.content)).bind(status.as_str()).bind(finish.error.as_deref().map(storable))
            .bind(finish.metrics.prompt_tokens).bind(finish.metrics.completion_tokens).bind(finish.metrics.ttft_ms)
            .bind(finish.metrics.duration_ms).bind(finish.metrics.done_reason.as_deref().map(storable)).bind($at)
            .bind($id).bind($owner).bind(finish.tool_calls.to_column())
            .bind(finish.thinking.as_deref().filter(|t| !t.is_empty()).map(storable))
            .bind(finish.charts.to_column().as_deref().map(storable))
            .fetch_optional(&mut *$tx).await?;
        if let Some(message) = &message {
            insert_outbox_in!($tx, $owner, finished_kind(message), message.id, finished_payload(message), $at)?;
        }
        message
    }};
}

/// Writes several outbox events, `(kind, subject, payload)`, in one statement inside an open
/// transaction `$tx` (one round trip to the database instead of one per event).
macro_rules! insert_outbox_rows_in {
    ($tx:ident, $owner:expr, $events:expr, $at:expr) => {{
        let events: &[(&str, Uuid, String)] = $events;
        let rows: Vec<String> = (0..events.len())
            .map(|i| {
                let n = i * 6;
                format!("(${}, ${}, ${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4, n + 5, n + 6)
            })
            .collect();
        let sql = format!(
            "INSERT INTO outbox (id, owner_id, kind, subject_id, payload, created_at) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (kind, subject, payload) in events {
            query = query
                .bind(Uuid::now_v7())
                .bind($owner)
                .bind(*kind)
                .bind(*subject)
                .bind(payload.as_str())
                .bind($at);
        }
        query.execute(&mut *$tx).await
    }};
}

/// Commits `$tx`, which wrote outbox events, and announces them (`$store.announce_outbox()`).
macro_rules! commit_announced {
    ($store:expr, $tx:ident) => {{
        let committed = $tx.commit().await;
        if committed.is_ok() {
            $store.announce_outbox();
        }
        committed
    }};
}

/// Writes an outbox event inside an open transaction `$tx`.
macro_rules! insert_outbox_in {
    ($tx:ident, $owner:expr, $kind:expr, $subject:expr, $payload:expr, $at:expr) => {
        insert_outbox_rows_in!($tx, $owner, &[($kind, $subject, $payload)], $at)
    };
}

/// The messages that follow the person's message `$after` in its conversation: its answer
/// (every step of an agent run) and whatever came after it (`$1` conversation, `$2` owner,
/// `$3` and `$4` the message's time and id).
const FOLLOWING: &str =
    "conversation_id = $1 AND owner_id = $2 AND (created_at > $3 OR (created_at = $3 AND id > $4))";

/// Sets aside what follows the person's message `$after` as a version of its answer, inside an
/// open transaction `$tx` that holds the conversation's lock: the rows move, with their ids and
/// times, to `answer_version_messages`. What holds nothing to keep (no text and no tool run: an
/// answer that failed before its first token) is deleted instead. Evaluates to the version's id
/// when one was kept.
macro_rules! set_aside_answer_in {
    ($tx:ident, $owner:expr, $after:expr) => {{
        let after: &Message = $after;
        let owner: Uuid = $owner;
        let first: Option<DateTime<Utc>> = sqlx::query_scalar(&format!(
            "SELECT created_at FROM messages WHERE {FOLLOWING} ORDER BY created_at, id LIMIT 1"
        ))
        .bind(after.conversation_id).bind(owner).bind(after.created_at).bind(after.id)
        .fetch_optional(&mut *$tx).await?;
        let mut kept: Option<Uuid> = None;
        if let Some(first) = first {
            let worth_keeping: bool = sqlx::query_scalar(&format!(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE {FOLLOWING} AND (content <> '' OR role = 'tool'))"
            ))
            .bind(after.conversation_id).bind(owner).bind(after.created_at).bind(after.id)
            .fetch_one(&mut *$tx).await?;
            if worth_keeping {
                let id = Uuid::now_v7();
                sqlx::query("INSERT INTO answer_versions (id, conversation_id, owner_id, answers_id, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id).bind(after.conversation_id).bind(owner).bind(after.id).bind(first)
                    .execute(&mut *$tx).await?;
                sqlx::query(&format!(
                    "INSERT INTO answer_version_messages (version_id, {MESSAGE_COLUMNS}) SELECT $5, {MESSAGE_COLUMNS} FROM messages WHERE {FOLLOWING}"
                ))
                .bind(after.conversation_id).bind(owner).bind(after.created_at).bind(after.id).bind(id)
                .execute(&mut *$tx).await?;
                kept = Some(id);
            }
            sqlx::query(&format!("DELETE FROM messages WHERE {FOLLOWING}"))
                .bind(after.conversation_id).bind(owner).bind(after.created_at).bind(after.id)
                .execute(&mut *$tx).await?;
        }
        kept
    }};
}

/// Deletes, inside an open transaction `$tx`, the answer versions of a conversation whose
/// person's message is gone (neither shown nor inside another version); their messages go by
/// the foreign key's cascade. A version inside a version that goes is orphaned by it: one
/// level of nesting a statement.
macro_rules! drop_orphan_versions_in {
    ($tx:ident, $owner:expr, $conversation:expr) => {{
        let (owner, conversation): (Uuid, Uuid) = ($owner, $conversation);
        while sqlx::query(
            "DELETE FROM answer_versions WHERE conversation_id = $1 AND owner_id = $2 \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = answer_versions.answers_id) \
             AND NOT EXISTS (SELECT 1 FROM answer_version_messages a WHERE a.id = answer_versions.answers_id)",
        )
        .bind(conversation)
        .bind(owner)
        .execute(&mut *$tx)
        .await?
        .rows_affected()
            > 0
        {}
    }};
}

/// Tells this instance's waiters that outbox events were committed, so that what reads them
/// for people's live streams reads at once instead of at its next timed read. Wakes of a
/// waiter that is busy are folded into one.
#[derive(Debug)]
pub struct OutboxSignal(tokio::sync::watch::Sender<()>);

impl OutboxSignal {
    pub fn new() -> OutboxSignal {
        OutboxSignal(tokio::sync::watch::channel(()).0)
    }

    /// New outbox events were committed.
    pub fn wake(&self) {
        self.0.send_replace(());
    }

    /// A waiter: `changed()` returns once after each wake (or after several, folded) that
    /// happened since it last returned.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<()> {
        self.0.subscribe()
    }
}

impl Default for OutboxSignal {
    fn default() -> Self {
        OutboxSignal::new()
    }
}

/// The kind of the outbox event written when a generation reaches a final status.
pub const OUTBOX_GENERATION_FINISHED: &str = "generation.finished";

/// The kinds of the outbox events a turn writes: a new conversation, a person's message.
pub const OUTBOX_CONVERSATION_CREATED: &str = "conversation.created";
pub const OUTBOX_MESSAGE_SENT: &str = "message.sent";

/// The kinds of the outbox events written when a conversation is renamed by its owner, named
/// by its model, or deleted.
pub const OUTBOX_CONVERSATION_RENAMED: &str = "conversation.renamed";
pub const OUTBOX_CONVERSATION_TITLED: &str = "conversation.titled";
pub const OUTBOX_CONVERSATION_DELETED: &str = "conversation.deleted";

/// The kind of the outbox event written when a person shows another version of an answer.
pub const OUTBOX_ANSWER_VERSION_SHOWN: &str = "answer.version_shown";

/// The kind of the outbox event written when a tool call of an agent run ends.
pub const OUTBOX_TOOL_FINISHED: &str = "tool.finished";

fn finished_kind(message: &Message) -> &'static str {
    if message.role == Role::Tool {
        OUTBOX_TOOL_FINISHED
    } else {
        OUTBOX_GENERATION_FINISHED
    }
}

/// The payload of a `generation.finished` event: what analytics and webhooks need.
fn finished_payload(message: &Message) -> String {
    serde_json::json!({
        "message_id": message.id,
        "conversation_id": message.conversation_id,
        "model": message.model,
        "status": message.status,
        "error": message.error,
        "prompt_tokens": message.metrics.prompt_tokens,
        "completion_tokens": message.metrics.completion_tokens,
        "ttft_ms": message.metrics.ttft_ms,
        "duration_ms": message.metrics.duration_ms,
        "done_reason": message.metrics.done_reason,
        "chars": message.content.chars().count(),
        "role": message.role,
        "tool_name": message.tool_name,
        // An agent step that asked for tools is not an answer (webhooks tell them apart).
        "tool_calls": message.tool_calls.0.len(),
    })
    .to_string()
}

/// An event for later features, written with the change it describes.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub kind: String,
    pub subject_id: Uuid,
    /// JSON.
    pub payload: String,
    pub created_at: DateTime<Utc>,
}

/// A watcher's view of a message it follows: status, length in characters, text after a point.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageTail {
    pub status: MessageStatus,
    pub chars: i64,
    pub tail: String,
}

/// A stored version of an answer whose person's message is shown (not inside another
/// version), with the first message that now follows that person's message (the answer shown
/// instead, if any).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct StoredVersion {
    pub id: Uuid,
    pub answers_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub shown_first: Option<Uuid>,
}

/// Where a turn happens.
#[derive(Clone, Copy, Debug)]
pub enum TurnConversation<'a> {
    Existing(Uuid),
    New {
        title: &'a str,
        system_prompt: Option<&'a str>,
    },
}

/// A turn: optionally the person's message, then an assistant answer that starts streaming.
#[derive(Clone, Copy, Debug)]
pub struct Turn<'a> {
    pub owner_id: Uuid,
    pub conversation: TurnConversation<'a>,
    /// The person's message; `None` to answer the last one again (regenerate).
    pub user_content: Option<&'a str>,
    /// Set aside what follows the person's last message first (the answer, or every step of
    /// an agent run), as an earlier version of the answer: regenerate.
    pub replace_last_answer: bool,
    /// Edit and resend: this person's message gets the new text and everything after it is
    /// deleted (in the same transaction), with the other versions of its answer, before the
    /// answer starts.
    pub edit_message: Option<(Uuid, &'a str)>,
    pub model: &'a str,
    /// The instance that will write the answer.
    pub instance_id: Uuid,
    /// The files sent with the person's message.
    pub attachments: &'a Attachments,
}

/// What a turn stored, and the history to send to the model (without the new answer row).
#[derive(Clone, Debug)]
pub struct TurnStarted {
    pub conversation: Conversation,
    pub user_message: Option<Message>,
    pub assistant: Message,
    pub history: Vec<Message>,
}

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error("an answer is still being written in this conversation")]
    Busy,
    #[error("conversation not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl TurnError {
    fn from_insert(error: sqlx::Error) -> TurnError {
        match &error {
            sqlx::Error::Database(e) if e.is_unique_violation() => TurnError::Busy,
            _ => TurnError::Db(error),
        }
    }
}

/// The storage the server uses, one implementation per database (`sqlite.rs`, `postgres.rs`).
/// Every query on a person's rows is scoped by `owner_id`.
#[async_trait::async_trait]
pub trait Store:
    DocumentStore
    + SettingStore
    + AnalyticsStore
    + TransferStore
    + AccountStore
    + TokenStore
    + WebhookStore
    + ProviderStore
    + TitleStore
    + Send
    + Sync
    + std::fmt::Debug
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// The connection pool's use now (for metrics).
    fn pool_use(&self) -> PoolUse;

    /// Whether other instances may use this database too (then rows another instance is
    /// writing must be left alone unless their heartbeat is stale).
    fn shared_by_instances(&self) -> bool;

    /// Announces to this instance that outbox events were committed: by this store itself on
    /// SQLite, and on PostgreSQL by the LISTEN connection, for the commits of every instance.
    fn outbox_signal(&self) -> &OutboxSignal;

    /// The PostgreSQL pool, for what only PostgreSQL offers (LISTEN/NOTIFY).
    fn postgres_pool(&self) -> Option<&PgPool> {
        None
    }

    /// The SQLite pool, for tests that look at the file's settings.
    fn sqlite_pool(&self) -> Option<&SqlitePool> {
        None
    }

    async fn close(&self);

    async fn ping(&self) -> Result<(), sqlx::Error>;

    /// The one local user that owns everything until accounts arrive; created on first start.
    async fn ensure_user(&self, username: &str) -> Result<Uuid, sqlx::Error>;

    async fn create_conversation(
        &self,
        owner_id: Uuid,
        title: &str,
        model: &str,
        system_prompt: Option<&str>,
    ) -> Result<Conversation, sqlx::Error>;

    /// One owner's conversations, most recently active first.
    async fn list_conversations(&self, owner_id: Uuid) -> Result<Vec<Conversation>, sqlx::Error>;

    async fn get_conversation(
        &self,
        owner_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Conversation>, sqlx::Error>;

    /// Renames a conversation; `None` when the owner has no such conversation.
    async fn rename_conversation(
        &self,
        owner_id: Uuid,
        id: Uuid,
        title: &str,
    ) -> Result<Option<Conversation>, sqlx::Error>;

    /// Sets a conversation's system prompt and sampling options; `None` when the owner has no
    /// such conversation.
    async fn update_conversation_settings(
        &self,
        owner_id: Uuid,
        id: Uuid,
        system_prompt: Option<&str>,
        options: &GenerationOptions,
    ) -> Result<Option<Conversation>, sqlx::Error>;

    /// Deletes a conversation and its messages; false when the owner has no such conversation.
    async fn delete_conversation(&self, owner_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error>;

    /// A conversation's messages, oldest first.
    async fn list_messages(
        &self,
        owner_id: Uuid,
        conversation_id: Uuid,
    ) -> Result<Vec<Message>, sqlx::Error>;

    /// At most `limit` of a conversation's messages, oldest first: its latest, or with `before`
    /// the ones just before that message of the conversation (none when it is not one of them).
    async fn message_page(
        &self,
        owner_id: Uuid,
        conversation_id: Uuid,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Message>, sqlx::Error>;

    async fn get_message(&self, owner_id: Uuid, id: Uuid) -> Result<Option<Message>, sqlx::Error>;

    /// The status of a message and its text from character `from_char` on (0-based), for
    /// watchers that follow an answer written elsewhere without re-reading what they have.
    async fn message_tail(
        &self,
        owner_id: Uuid,
        id: Uuid,
        from_char: i64,
    ) -> Result<Option<MessageTail>, sqlx::Error>;

    /// Stores a message and marks its conversation active, in one transaction.
    async fn insert_message(&self, new: NewMessage<'_>) -> Result<Message, sqlx::Error>;

    /// Starts a turn in one transaction: the conversation (new, or an existing one of the owner),
    /// the person's message, the assistant row `streaming`, and the conversation marked active.
    /// The database allows one streaming answer per conversation: a second is `TurnError::Busy`.
    async fn start_turn(&self, turn: Turn<'_>) -> Result<TurnStarted, TurnError>;

    /// Appends newly streamed text and thinking (either possibly none) and refreshes the
    /// heartbeat, in one statement; only while the message is still streaming, so a late flush
    /// never changes a final row. Appending keeps a long answer's flushes linear instead of
    /// rewriting the whole text each time.
    async fn append_partial(
        &self,
        owner_id: Uuid,
        id: Uuid,
        appended: &str,
        appended_thinking: &str,
    ) -> Result<bool, sqlx::Error>;

    /// Writes the final text, status and metrics of a generation, with a `generation.finished`
    /// event in the outbox, in one transaction. Only a streaming row changes: `None` when it was
    /// already finalised (stopped through another instance, or swept as stale) or is gone.
    async fn finish_message(
        &self,
        owner_id: Uuid,
        id: Uuid,
        finish: &Finish,
    ) -> Result<Option<Message>, sqlx::Error>;

    /// The message after `message` in its conversation (the next step of an agent run).
    async fn next_message(
        &self,
        owner_id: Uuid,
        message: &Message,
    ) -> Result<Option<Message>, sqlx::Error>;

    /// An agent's next step, in one transaction: the streaming row `id` is finalised (with its
    /// tool calls, if any) and `next` starts streaming, so the conversation always has exactly
    /// one streaming row while the run goes on. `None` when `id` was no longer streaming
    /// (stopped through another instance, swept, deleted): the run must end.
    async fn advance_step(
        &self,
        owner_id: Uuid,
        id: Uuid,
        finish: &Finish,
        next: NewMessage<'_>,
        instance_id: Uuid,
    ) -> Result<Option<(Message, Message)>, sqlx::Error>;

    async fn delete_message(&self, owner_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error>;

    /// The conversation's stored answer versions that can be shown, oldest first.
    async fn answer_versions(
        &self,
        owner_id: Uuid,
        conversation_id: Uuid,
    ) -> Result<Vec<StoredVersion>, sqlx::Error>;

    /// Shows the stored version `id` of an answer instead of the one shown now, in one
    /// transaction under the conversation's lock: what follows the person's message is set aside
    /// as a version of its own, and the version's messages come back, with their ids and times.
    /// Returns the conversation's id. `NotFound` for a version that is not the owner's or whose
    /// person's message is inside another version; `Busy` while an answer is being written.
    async fn show_answer_version(&self, owner_id: Uuid, id: Uuid) -> Result<Uuid, TurnError>;

    /// Rows still streaming whose writer stopped showing signs of life (no heartbeat since
    /// `stale_before`; `None`: every streaming row, for a database no other instance can use)
    /// become interrupted, keeping their text, with a `generation.finished` event each.
    /// Returns how many there were.
    async fn interrupt_stale(
        &self,
        stale_before: Option<DateTime<Utc>>,
    ) -> Result<u64, sqlx::Error>;

    /// A person's assistants and those an admin shares with everyone, by name.
    async fn list_assistants(&self, owner_id: Uuid) -> Result<Vec<Assistant>, sqlx::Error>;

    /// Gives a person the shipped presets, once in their life (deleted presets stay deleted).
    async fn seed_assistants(
        &self,
        owner_id: Uuid,
        presets: &[AssistantFields],
    ) -> Result<(), sqlx::Error>;

    async fn get_assistant(
        &self,
        owner_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Assistant>, sqlx::Error>;

    /// By name, ignoring case.
    async fn assistant_by_name(
        &self,
        owner_id: Uuid,
        name: &str,
    ) -> Result<Option<Assistant>, sqlx::Error>;

    /// One the person may run a conversation with: their own, or one an admin shares.
    async fn usable_assistant(
        &self,
        owner_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Assistant>, sqlx::Error>;

    /// By name, ignoring case, among those the person may use; their own comes first.
    async fn usable_assistant_by_name(
        &self,
        owner_id: Uuid,
        name: &str,
    ) -> Result<Option<Assistant>, sqlx::Error>;

    /// Offers one of the owner's assistants to everyone (or stops). `None`: not the owner's.
    async fn set_assistant_shared(
        &self,
        owner_id: Uuid,
        id: Uuid,
        shared: bool,
    ) -> Result<Option<Assistant>, sqlx::Error>;

    async fn insert_assistant(
        &self,
        owner_id: Uuid,
        fields: &AssistantFields,
    ) -> Result<Assistant, sqlx::Error>;

    async fn update_assistant(
        &self,
        owner_id: Uuid,
        id: Uuid,
        fields: &AssistantFields,
    ) -> Result<Option<Assistant>, sqlx::Error>;

    async fn delete_assistant(&self, owner_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error>;

    /// Remembers the assistant a conversation runs with.
    /// Sets the assistant a conversation runs with (one of the owner's, one shared, or none); with
    /// `prompt`, its system prompt follows (see [`PromptSwitch`]), in the same statement.
    async fn set_conversation_assistant(
        &self,
        owner_id: Uuid,
        conversation_id: Uuid,
        assistant_id: Option<Uuid>,
        prompt: Option<PromptSwitch<'_>>,
    ) -> Result<bool, sqlx::Error>;

    async fn insert_note(
        &self,
        owner_id: Uuid,
        title: &str,
        body: &str,
    ) -> Result<Note, sqlx::Error>;

    /// A person's notes, most recently changed first.
    async fn recent_notes(&self, owner_id: Uuid, limit: i64) -> Result<Vec<Note>, sqlx::Error>;

    /// A new ticket with the person's next number.
    async fn create_ticket(
        &self,
        owner_id: Uuid,
        subject: &str,
        description: &str,
        customer: Option<&str>,
        priority: &str,
    ) -> Result<Ticket, sqlx::Error>;

    async fn get_ticket(&self, owner_id: Uuid, number: i64) -> Result<Option<Ticket>, sqlx::Error>;

    /// Tickets whose subject, description or customer contains `text` (ignoring case), newest
    /// first.
    async fn find_tickets(
        &self,
        owner_id: Uuid,
        text: &str,
        limit: i64,
    ) -> Result<Vec<Ticket>, sqlx::Error>;

    /// Flags an item for an administrator (and its ticket as escalated), with an
    /// `escalation.created` outbox event, in one transaction. `None`: no such ticket.
    async fn escalate(
        &self,
        owner_id: Uuid,
        ticket_number: Option<i64>,
        reason: &str,
        severity: &str,
    ) -> Result<Option<(Escalation, Option<Ticket>)>, sqlx::Error>;

    /// Outbox events of one kind after `after` (an event id), oldest first.
    async fn outbox_events(
        &self,
        kind: &str,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>, sqlx::Error>;

    /// Outbox events of `kinds` written at `since` or later (of `owner` only, when given),
    /// oldest first.
    async fn outbox_since(
        &self,
        since: DateTime<Utc>,
        owner: Option<Uuid>,
        kinds: &[&str],
        limit: i64,
    ) -> Result<Vec<OutboxEvent>, sqlx::Error>;

    /// When the owner's outbox event `id` was written, if it is still kept.
    async fn outbox_event_time(
        &self,
        owner: Uuid,
        id: Uuid,
    ) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
}

/// The queries both databases accept, written once (`$n` placeholders, timestamps and ids bound
/// from Rust) and expanded into each backend's `impl Store`, beside what is its own.
macro_rules! portable_store {
    ($backend:ty { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl Store for $backend {
            $($own)*

            async fn close(&self) {
                with_pool!(self, pool => pool.close().await)
            }

            async fn ping(&self) -> Result<(), sqlx::Error> {
                with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
            }

            async fn ensure_user(&self, username: &str) -> Result<Uuid, sqlx::Error> {
                let id = Uuid::now_v7();
                with_pool!(self, pool => {
                    sqlx::query("INSERT INTO users (id, username, created_at) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING")
                        .bind(id).bind(username).bind(now())
                        .execute(pool).await?;
                    sqlx::query_scalar::<_, Uuid>("SELECT id FROM users WHERE username = $1")
                        .bind(username).fetch_one(pool).await
                })
            }

            async fn create_conversation(
                &self,
                owner_id: Uuid,
                title: &str,
                model: &str,
                system_prompt: Option<&str>,
            ) -> Result<Conversation, sqlx::Error> {
                let sql = format!(
                    "INSERT INTO conversations ({CONVERSATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL, NULL, NULL, $6, $6, NULL, 'kept', NULL) RETURNING {CONVERSATION_COLUMNS}"
                );
                with_pool!(self, pool => sqlx::query_as::<_, Conversation>(&sql)
                    .bind(Uuid::now_v7()).bind(owner_id).bind(storable(title)).bind(storable(model))
                    .bind(system_prompt.map(storable)).bind(now())
                    .fetch_one(pool).await)
            }

            async fn list_conversations(
                &self,
                owner_id: Uuid,
            ) -> Result<Vec<Conversation>, sqlx::Error> {
                let sql = format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE owner_id = $1 ORDER BY updated_at DESC, id DESC"
                );
                with_pool!(self, pool => sqlx::query_as::<_, Conversation>(&sql).bind(owner_id).fetch_all(pool).await)
            }

            async fn get_conversation(
                &self,
                owner_id: Uuid,
                id: Uuid,
            ) -> Result<Option<Conversation>, sqlx::Error> {
                let sql = format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 AND owner_id = $2"
                );
                with_pool!(self, pool => sqlx::query_as::<_, Conversation>(&sql).bind(id).bind(owner_id).fetch_optional(pool).await)
            }

            async fn rename_conversation(
                &self,
                owner_id: Uuid,
                id: Uuid,
                title: &str,
            ) -> Result<Option<Conversation>, sqlx::Error> {
                let sql = format!(
                    "UPDATE conversations SET title = $1, title_source = 'person' WHERE id = $2 AND owner_id = $3 RETURNING {CONVERSATION_COLUMNS}"
                );
                with_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    let renamed = sqlx::query_as::<_, Conversation>(&sql)
                        .bind(storable(title)).bind(id).bind(owner_id).fetch_optional(&mut *tx).await?;
                    if renamed.is_some() {
                        let payload = serde_json::json!({ "conversation_id": id, "by": "person" }).to_string();
                        insert_outbox_in!(tx, owner_id, OUTBOX_CONVERSATION_RENAMED, id, payload, now())?;
                    }
                    commit_announced!(self, tx)?;
                    Ok(renamed)
                })
            }

            async fn update_conversation_settings(
                &self,
                owner_id: Uuid,
                id: Uuid,
                system_prompt: Option<&str>,
                options: &GenerationOptions,
            ) -> Result<Option<Conversation>, sqlx::Error> {
                let sql = format!(
                    "UPDATE conversations SET system_prompt = $1, temperature = $2, num_predict = $3, num_ctx = $4 \
                     WHERE id = $5 AND owner_id = $6 RETURNING {CONVERSATION_COLUMNS}"
                );
                with_pool!(self, pool => sqlx::query_as::<_, Conversation>(&sql)
                    .bind(system_prompt.map(storable)).bind(options.temperature).bind(options.num_predict)
                    .bind(options.num_ctx).bind(id).bind(owner_id).fetch_optional(pool).await)
            }

            async fn delete_conversation(&self, owner_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
                with_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    sqlx::query("DELETE FROM messages WHERE conversation_id = $1 AND owner_id = $2")
                        .bind(id).bind(owner_id).execute(&mut *tx).await?;
                    let deleted = sqlx::query("DELETE FROM conversations WHERE id = $1 AND owner_id = $2")
                        .bind(id).bind(owner_id).execute(&mut *tx).await?.rows_affected() == 1;
                    if deleted {
                        let payload = serde_json::json!({ "conversation_id": id }).to_string();
                        insert_outbox_in!(tx, owner_id, OUTBOX_CONVERSATION_DELETED, id, payload, now())?;
                    }
                    commit_announced!(self, tx)?;
                    Ok(deleted)
                })
            }

            async fn list_messages(
                &self,
                owner_id: Uuid,
                conversation_id: Uuid,
            ) -> Result<Vec<Message>, sqlx::Error> {
                let sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND owner_id = $2 ORDER BY created_at, id"
                );
                with_pool!(self, pool => sqlx::query_as::<_, Message>(&sql).bind(conversation_id).bind(owner_id).fetch_all(pool).await)
            }

            async fn message_page(
                &self,
                owner_id: Uuid,
                conversation_id: Uuid,
                before: Option<Uuid>,
                limit: i64,
            ) -> Result<Vec<Message>, sqlx::Error> {
                // Newest first through the (conversation_id, created_at, id) index, then turned
                // round. The cursor is compared as stored, never re-encoded from a bound time.
                let mut page = match before {
                    None => {
                        let sql = format!(
                            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND owner_id = $2 \
                             ORDER BY created_at DESC, id DESC LIMIT $3"
                        );
                        with_pool!(self, pool => sqlx::query_as::<_, Message>(&sql)
                            .bind(conversation_id).bind(owner_id).bind(limit).fetch_all(pool).await)?
                    }
                    Some(before) => {
                        let sql = format!(
                            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND owner_id = $2 \
                             AND (created_at, id) < (SELECT created_at, id FROM messages \
                                 WHERE id = $3 AND conversation_id = $1 AND owner_id = $2) \
                             ORDER BY created_at DESC, id DESC LIMIT $4"
                        );
                        with_pool!(self, pool => sqlx::query_as::<_, Message>(&sql)
                            .bind(conversation_id).bind(owner_id).bind(before).bind(limit).fetch_all(pool).await)?
                    }
                };
                page.reverse();
                Ok(page)
            }

            async fn get_message(
                &self,
                owner_id: Uuid,
                id: Uuid,
            ) -> Result<Option<Message>, sqlx::Error> {
                let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND owner_id = $2");
                with_pool!(self, pool => sqlx::query_as::<_, Message>(&sql).bind(id).bind(owner_id).fetch_optional(pool).await)
            }

            async fn message_tail(
                &self,
                owner_id: Uuid,
                id: Uuid,
                from_char: i64,
            ) -> Result<Option<MessageTail>, sqlx::Error> {
                // substr() counts characters, from 1, on both databases.
                with_pool!(self, pool => sqlx::query_as::<_, (String, i64, String)>(
                    "SELECT status, CAST(length(content) AS BIGINT), substr(content, CAST($1 AS INTEGER)) FROM messages WHERE id = $2 AND owner_id = $3")
                    .bind(i32::try_from(from_char + 1).unwrap_or(i32::MAX)).bind(id).bind(owner_id)
                    .fetch_optional(pool).await)
                .map(|row| row.map(|(status, chars, tail)| MessageTail {
                    status: MessageStatus::try_from(status).unwrap_or(MessageStatus::Error),
                    chars,
                    tail,
                }))
            }

            async fn insert_message(&self, new: NewMessage<'_>) -> Result<Message, sqlx::Error> {
                let at = now();
                with_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    // The conversation first: on SQLite this takes the write lock at once.
                    sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2 AND owner_id = $3")
                        .bind(at).bind(new.conversation_id).bind(new.owner_id)
                        .execute(&mut *tx).await?;
                    let message = insert_message_in!(tx, new, None::<Uuid>, at)?;
                    tx.commit().await?;
                    Ok(message)
                })
            }

            async fn start_turn(&self, turn: Turn<'_>) -> Result<TurnStarted, TurnError> {
                let owner = turn.owner_id;
                let conversation_sql = format!(
                    "UPDATE conversations SET model = $1, updated_at = $2 WHERE id = $3 AND owner_id = $4 RETURNING {CONVERSATION_COLUMNS}"
                );
                let create_sql = format!(
                    "INSERT INTO conversations ({CONVERSATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL, NULL, NULL, $6, $6, NULL, 'message', NULL) RETURNING {CONVERSATION_COLUMNS}"
                );
                let last_user_sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND owner_id = $2 AND role = 'user' ORDER BY created_at DESC, id DESC LIMIT 1"
                );
                let history_sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND owner_id = $2 ORDER BY created_at, id"
                );
                let target_sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND owner_id = $2 AND conversation_id = $3"
                );
                let edit_sql = format!(
                    "UPDATE messages SET content = $1, updated_at = $2 WHERE id = $3 AND owner_id = $4 RETURNING {MESSAGE_COLUMNS}"
                );
                let result: Result<TurnStarted, TurnError> = with_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    // Dated once the transaction began (on SQLite, once the write lock is held, which
                    // may take a while under load), so that outbox events are dated about in commit
                    // order: people's event streams look back only a second at once (`crate::events`).
                    let at = now();
                    let mut edited_message: Option<Message> = None;
                    // A write first: it takes SQLite's write lock (concurrent turns wait instead of
                    // failing to upgrade a read lock) and PostgreSQL's row lock on the conversation.
                    let created = matches!(turn.conversation, TurnConversation::New { .. });
                    let conversation = match turn.conversation {
                        TurnConversation::Existing(id) => sqlx::query_as::<_, Conversation>(&conversation_sql)
                            .bind(storable(turn.model)).bind(at).bind(id).bind(owner)
                            .fetch_optional(&mut *tx).await?
                            .ok_or(TurnError::NotFound)?,
                        TurnConversation::New { title, system_prompt } => sqlx::query_as::<_, Conversation>(&create_sql)
                            .bind(Uuid::now_v7()).bind(owner).bind(storable(title)).bind(storable(turn.model))
                            .bind(system_prompt.map(storable)).bind(at)
                            .fetch_one(&mut *tx).await?,
                    };
                    if let Some((edited, content)) = turn.edit_message {
                        let target = sqlx::query_as::<_, Message>(&target_sql)
                            .bind(edited).bind(owner).bind(conversation.id)
                            .fetch_optional(&mut *tx).await?
                            .filter(|m| m.role == Role::User)
                            .ok_or(TurnError::NotFound)?;
                        let streaming: bool = sqlx::query_scalar(
                            "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1 AND owner_id = $2 AND status = 'streaming')")
                            .bind(conversation.id).bind(owner).fetch_one(&mut *tx).await?;
                        if streaming {
                            return Err(TurnError::Busy);
                        }
                        sqlx::query(&format!("DELETE FROM messages WHERE {FOLLOWING}"))
                            .bind(conversation.id).bind(owner).bind(target.created_at).bind(target.id)
                            .execute(&mut *tx).await?;
                        // The other answers to the old text go too (their messages by the
                        // cascade), and those inside them.
                        sqlx::query("DELETE FROM answer_versions WHERE conversation_id = $1 AND owner_id = $2 AND answers_id = $3")
                            .bind(conversation.id).bind(owner).bind(target.id).execute(&mut *tx).await?;
                        drop_orphan_versions_in!(tx, owner, conversation.id);
                        edited_message = Some(sqlx::query_as::<_, Message>(&edit_sql)
                            .bind(storable(content)).bind(at).bind(target.id).bind(owner)
                            .fetch_one(&mut *tx).await?);
                    }
                    if turn.replace_last_answer {
                        // The answer is everything after the person's last message: one row,
                        // or every step of an agent run.
                        let last_user = sqlx::query_as::<_, Message>(&last_user_sql)
                            .bind(conversation.id).bind(owner).fetch_optional(&mut *tx).await?;
                        if let Some(last_user) = last_user {
                            let streaming: bool = sqlx::query_scalar(
                                "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1 AND owner_id = $2 AND status = 'streaming')")
                                .bind(conversation.id).bind(owner).fetch_one(&mut *tx).await?;
                            if streaming {
                                return Err(TurnError::Busy);
                            }
                            // Kept as an earlier version of the answer, which the page can show again.
                            set_aside_answer_in!(tx, owner, &last_user);
                        }
                    }
                    let user_message = match turn.user_content {
                        None if edited_message.is_some() => edited_message.take(),
                        Some(content) => {
                            let new = NewMessage {
                                conversation_id: conversation.id,
                                owner_id: owner,
                                role: Role::User,
                                content,
                                model: None,
                                status: MessageStatus::Complete,
                                tool_calls: Default::default(),
                                tool_name: None,
                                attachments: Some(turn.attachments),
                            };
                            Some(insert_message_in!(tx, new, None::<Uuid>, at)?)
                        },
                        None => None,
                    };
                    // For analytics and webhooks, with the turn itself.
                    let mut events: Vec<(&str, Uuid, String)> = Vec::with_capacity(2);
                    if created {
                        let payload = serde_json::json!({ "conversation_id": conversation.id, "model": turn.model }).to_string();
                        events.push((OUTBOX_CONVERSATION_CREATED, conversation.id, payload));
                    }
                    if let Some(sent) = user_message.as_ref().or(edited_message.as_ref()) {
                        let payload = serde_json::json!({
                            "conversation_id": conversation.id,
                            "message_id": sent.id,
                            "model": turn.model,
                            "chars": sent.content.chars().count(),
                        })
                        .to_string();
                        events.push((OUTBOX_MESSAGE_SENT, sent.id, payload));
                    }
                    if !events.is_empty() {
                        insert_outbox_rows_in!(tx, owner, &events, at)?;
                    }
                    // A conversation created here holds only the message just stored.
                    let history = if created {
                        user_message.iter().cloned().collect()
                    } else {
                        sqlx::query_as::<_, Message>(&history_sql)
                            .bind(conversation.id).bind(owner).fetch_all(&mut *tx).await?
                    };
                    let new = NewMessage {
                        conversation_id: conversation.id,
                        owner_id: owner,
                        role: Role::Assistant,
                        content: "",
                        model: Some(turn.model),
                        status: MessageStatus::Streaming,
                        tool_calls: Default::default(),
                        tool_name: None,
                        attachments: None,
                    };
                    let assistant = insert_message_in!(tx, new, Some(turn.instance_id), at).map_err(TurnError::from_insert)?;
                    commit_announced!(self, tx)?;
                    Ok(TurnStarted { conversation, user_message, assistant, history })
                });
                result
            }

            async fn append_partial(
                &self,
                owner_id: Uuid,
                id: Uuid,
                appended: &str,
                appended_thinking: &str,
            ) -> Result<bool, sqlx::Error> {
                let at = now();
                // Thinking stays NULL until a thinking model writes some.
                with_pool!(self, pool => sqlx::query("UPDATE messages SET content = content || $1, \
                    thinking = CASE WHEN $2 = '' THEN thinking ELSE COALESCE(thinking, '') || $2 END, \
                    heartbeat_at = $3, updated_at = $3 WHERE id = $4 AND owner_id = $5 AND status = 'streaming'")
                    .bind(storable(appended)).bind(storable(appended_thinking)).bind(at).bind(id).bind(owner_id)
                    .execute(pool).await.map(|r| r.rows_affected() == 1))
            }

            async fn finish_message(
                &self,
                owner_id: Uuid,
                id: Uuid,
                finish: &Finish,
            ) -> Result<Option<Message>, sqlx::Error> {
                with_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    // Dated once the transaction began (see `start_turn`).
                    let at = now();
                    let message = finish_in!(tx, owner_id, id, finish, at);
                    commit_announced!(self, tx)?;
                    Ok(message)
                })
            }

            async fn next_message(
                &self,
                owner_id: Uuid,
                message: &Message,
            ) -> Result<Option<Message>, sqlx::Error> {
                let sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND owner_id = $2 \
                     AND (created_at > $3 OR (created_at = $3 AND id > $4)) ORDER BY created_at, id LIMIT 1"
                );
                with_pool!(self, pool => sqlx::query_as::<_, Message>(&sql)
                    .bind(message.conversation_id).bind(owner_id).bind(message.created_at).bind(message.id)
                    .fetch_optional(pool).await)
            }

            async fn advance_step(
                &self,
                owner_id: Uuid,
                id: Uuid,
                finish: &Finish,
                next: NewMessage<'_>,
                instance_id: Uuid,
            ) -> Result<Option<(Message, Message)>, sqlx::Error> {
                with_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    // Dated once the transaction began (see `start_turn`).
                    let at = now();
                    let Some(finished) = finish_in!(tx, owner_id, id, finish, at) else {
                        return Ok(None);
                    };
                    let next = insert_message_in!(tx, next, Some(instance_id), at)?;
                    commit_announced!(self, tx)?;
                    Ok(Some((finished, next)))
                })
            }

            async fn delete_message(&self, owner_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
                with_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    let conversation: Option<Uuid> = sqlx::query_scalar(
                        "DELETE FROM messages WHERE id = $1 AND owner_id = $2 RETURNING conversation_id")
                        .bind(id).bind(owner_id).fetch_optional(&mut *tx).await?;
                    if let Some(conversation) = conversation {
                        // Other answers to a person's message go with it.
                        drop_orphan_versions_in!(tx, owner_id, conversation);
                    }
                    tx.commit().await?;
                    Ok(conversation.is_some())
                })
            }

            async fn answer_versions(
                &self,
                owner_id: Uuid,
                conversation_id: Uuid,
            ) -> Result<Vec<StoredVersion>, sqlx::Error> {
                // Through the person's message as shown: a version inside another is left out.
                with_pool!(self, pool => sqlx::query_as::<_, StoredVersion>(
                    "SELECT v.id, v.answers_id, v.created_at, \
                        (SELECT m.id FROM messages m WHERE m.conversation_id = u.conversation_id AND m.owner_id = u.owner_id \
                         AND (m.created_at > u.created_at OR (m.created_at = u.created_at AND m.id > u.id)) \
                         ORDER BY m.created_at, m.id LIMIT 1) AS shown_first \
                     FROM answer_versions v JOIN messages u ON u.id = v.answers_id AND u.owner_id = v.owner_id \
                     WHERE v.conversation_id = $1 AND v.owner_id = $2 ORDER BY v.created_at, v.id")
                    .bind(conversation_id).bind(owner_id).fetch_all(pool).await)
            }

            async fn show_answer_version(&self, owner_id: Uuid, id: Uuid) -> Result<Uuid, TurnError> {
                let answered_sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND conversation_id = $2 AND owner_id = $3"
                );
                let restore_sql = format!(
                    "INSERT INTO messages ({MESSAGE_COLUMNS}) SELECT {MESSAGE_COLUMNS} FROM answer_version_messages WHERE version_id = $1"
                );
                let result: Result<Uuid, TurnError> = with_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    let at = now();
                    let version = || sqlx::query_as::<_, (Uuid, Uuid)>(
                        "SELECT conversation_id, answers_id FROM answer_versions WHERE id = $1 AND owner_id = $2")
                        .bind(id).bind(owner_id);
                    let (conversation, _) = version().fetch_optional(&mut *tx).await?.ok_or(TurnError::NotFound)?;
                    // The conversation's lock (see `start_turn`), then the version again: a turn
                    // or an edit that held the lock before may have changed it.
                    sqlx::query("UPDATE conversations SET updated_at = updated_at WHERE id = $1 AND owner_id = $2")
                        .bind(conversation).bind(owner_id).execute(&mut *tx).await?;
                    let (conversation, answers) = version().fetch_optional(&mut *tx).await?.ok_or(TurnError::NotFound)?;
                    let streaming: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1 AND owner_id = $2 AND status = 'streaming')")
                        .bind(conversation).bind(owner_id).fetch_one(&mut *tx).await?;
                    if streaming {
                        return Err(TurnError::Busy);
                    }
                    let answered = sqlx::query_as::<_, Message>(&answered_sql)
                        .bind(answers).bind(conversation).bind(owner_id)
                        .fetch_optional(&mut *tx).await?
                        .ok_or(TurnError::NotFound)?;
                    let set_aside = set_aside_answer_in!(tx, owner_id, &answered);
                    sqlx::query(&restore_sql).bind(id).execute(&mut *tx).await?;
                    // Its messages, now shown again, leave it by the cascade.
                    sqlx::query("DELETE FROM answer_versions WHERE id = $1").bind(id).execute(&mut *tx).await?;
                    let payload = serde_json::json!({
                        "conversation_id": conversation,
                        "message_id": answers,
                        "version_id": id,
                        "set_aside": set_aside,
                    })
                    .to_string();
                    insert_outbox_in!(tx, owner_id, OUTBOX_ANSWER_VERSION_SHOWN, answers, payload, at)?;
                    commit_announced!(self, tx)?;
                    Ok(conversation)
                });
                result
            }

            async fn interrupt_stale(
                &self,
                stale_before: Option<DateTime<Utc>>,
            ) -> Result<u64, sqlx::Error> {
                let sql = format!(
                    "UPDATE messages SET status = 'interrupted', error = $1, updated_at = $2, heartbeat_at = NULL \
                     WHERE status = 'streaming' AND ($3 OR heartbeat_at IS NULL OR heartbeat_at < $4) RETURNING {MESSAGE_COLUMNS}"
                );
                with_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    // Dated once the transaction began (see `start_turn`).
                    let at = now();
                    let rows = sqlx::query_as::<_, Message>(&sql)
                        .bind("the server stopped before this answer was complete").bind(at)
                        .bind(stale_before.is_none()).bind(stale_before.unwrap_or(at))
                        .fetch_all(&mut *tx).await?;
                    for message in &rows {
                        insert_outbox_in!(tx, message.owner_id, finished_kind(message), message.id, finished_payload(message), at)?;
                    }
                    commit_announced!(self, tx)?;
                    Ok(rows.len() as u64)
                })
            }

            async fn list_assistants(&self, owner_id: Uuid) -> Result<Vec<Assistant>, sqlx::Error> {
                // The person's own first, then those shared with everyone.
                let sql = format!(
                    "SELECT {ASSISTANT_COLUMNS} FROM assistants WHERE owner_id = $1 OR shared = $2 \
                     ORDER BY CASE WHEN owner_id = $1 THEN 0 ELSE 1 END, lower(name), id"
                );
                with_pool!(self, pool => sqlx::query_as::<_, Assistant>(&sql).bind(owner_id).bind(true).fetch_all(pool).await)
            }

            async fn seed_assistants(
                &self,
                owner_id: Uuid,
                presets: &[AssistantFields],
            ) -> Result<(), sqlx::Error> {
                let sql = format!(
                    "INSERT INTO assistants ({ASSISTANT_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
                     ON CONFLICT DO NOTHING"
                );
                with_pool!(self, pool => {
                    // Read first: after the first time (every later call) no write lock is taken.
                    let seeded: Option<bool> = sqlx::query_scalar("SELECT assistants_seeded FROM users WHERE id = $1")
                        .bind(owner_id).fetch_optional(pool).await?;
                    if seeded != Some(false) {
                        return Ok(());
                    }
                    let mut tx = pool.begin_write().await?;
                    // Whoever flips the flag seeds; a second caller at the same time does nothing.
                    let first = sqlx::query("UPDATE users SET assistants_seeded = $1 WHERE id = $2 AND assistants_seeded = $3")
                        .bind(true).bind(owner_id).bind(false)
                        .execute(&mut *tx).await?.rows_affected() == 1;
                    if first {
                        for fields in presets {
                            bind_assistant!(sqlx::query(&sql).bind(Uuid::now_v7()).bind(owner_id), fields)
                                .bind(now())
                                .execute(&mut *tx).await?;
                        }
                    }
                    tx.commit().await
                })
            }

            async fn get_assistant(&self, owner_id: Uuid, id: Uuid) -> Result<Option<Assistant>, sqlx::Error> {
                let sql = format!("SELECT {ASSISTANT_COLUMNS} FROM assistants WHERE id = $1 AND owner_id = $2");
                with_pool!(self, pool => sqlx::query_as::<_, Assistant>(&sql).bind(id).bind(owner_id).fetch_optional(pool).await)
            }

            async fn assistant_by_name(
                &self,
                owner_id: Uuid,
                name: &str,
            ) -> Result<Option<Assistant>, sqlx::Error> {
                let sql = format!("SELECT {ASSISTANT_COLUMNS} FROM assistants WHERE owner_id = $1 AND lower(name) = lower($2)");
                with_pool!(self, pool => sqlx::query_as::<_, Assistant>(&sql).bind(owner_id).bind(name).fetch_optional(pool).await)
            }

            async fn usable_assistant(&self, owner_id: Uuid, id: Uuid) -> Result<Option<Assistant>, sqlx::Error> {
                let sql = format!("SELECT {ASSISTANT_COLUMNS} FROM assistants WHERE id = $1 AND (owner_id = $2 OR shared = $3)");
                with_pool!(self, pool => sqlx::query_as::<_, Assistant>(&sql).bind(id).bind(owner_id).bind(true).fetch_optional(pool).await)
            }

            async fn usable_assistant_by_name(
                &self,
                owner_id: Uuid,
                name: &str,
            ) -> Result<Option<Assistant>, sqlx::Error> {
                let sql = format!(
                    "SELECT {ASSISTANT_COLUMNS} FROM assistants WHERE (owner_id = $1 OR shared = $3) AND lower(name) = lower($2) \
                     ORDER BY CASE WHEN owner_id = $1 THEN 0 ELSE 1 END, id LIMIT 1"
                );
                with_pool!(self, pool => sqlx::query_as::<_, Assistant>(&sql).bind(owner_id).bind(name).bind(true).fetch_optional(pool).await)
            }

            async fn set_assistant_shared(&self, owner_id: Uuid, id: Uuid, shared: bool) -> Result<Option<Assistant>, sqlx::Error> {
                let sql = format!(
                    "UPDATE assistants SET shared = $3, updated_at = $4 WHERE id = $1 AND owner_id = $2 RETURNING {ASSISTANT_COLUMNS}"
                );
                with_pool!(self, pool => sqlx::query_as::<_, Assistant>(&sql).bind(id).bind(owner_id).bind(shared).bind(now())
                    .fetch_optional(pool).await)
            }

            async fn insert_assistant(
                &self,
                owner_id: Uuid,
                fields: &AssistantFields,
            ) -> Result<Assistant, sqlx::Error> {
                let sql = format!(
                    "INSERT INTO assistants ({ASSISTANT_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING {ASSISTANT_COLUMNS}"
                );
                with_pool!(self, pool => bind_assistant!(sqlx::query_as::<_, Assistant>(&sql).bind(Uuid::now_v7()).bind(owner_id), fields)
                    .bind(now()).fetch_one(pool).await)
            }

            async fn update_assistant(
                &self,
                owner_id: Uuid,
                id: Uuid,
                fields: &AssistantFields,
            ) -> Result<Option<Assistant>, sqlx::Error> {
                let sql = format!(
                    "UPDATE assistants SET name = $3, description = $4, model = $5, temperature = $6, max_tokens = $7, \
                     system_prompt = $8, tools = $9, tools_enabled = $10, updated_at = $11 \
                     WHERE id = $1 AND owner_id = $2 RETURNING {ASSISTANT_COLUMNS}"
                );
                with_pool!(self, pool => bind_assistant!(sqlx::query_as::<_, Assistant>(&sql).bind(id).bind(owner_id), fields)
                    .bind(now()).fetch_optional(pool).await)
            }

            async fn delete_assistant(&self, owner_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
                with_pool!(self, pool => sqlx::query("DELETE FROM assistants WHERE id = $1 AND owner_id = $2")
                    .bind(id).bind(owner_id).execute(pool).await.map(|r| r.rows_affected() == 1))
            }

            async fn set_conversation_assistant(
                &self,
                owner_id: Uuid,
                conversation_id: Uuid,
                assistant_id: Option<Uuid>,
                prompt: Option<PromptSwitch<'_>>,
            ) -> Result<bool, sqlx::Error> {
                // The assistant must be the same person's (or shared): checked in the statement itself. The
                // prompt is compared in the statement too, so a prompt the person saves at the
                // same moment is never overwritten.
                let (switch, from, to) = match &prompt {
                    Some(p) => (true, storable(p.from), p.to.map(storable)),
                    None => (false, std::borrow::Cow::Borrowed(""), None),
                };
                with_pool!(self, pool => sqlx::query(
                    "UPDATE conversations SET assistant_id = $1, system_prompt = CASE \
                     WHEN $4 AND COALESCE(system_prompt, '') IN ('', $5) THEN $6 ELSE system_prompt END \
                     WHERE id = $2 AND owner_id = $3 \
                     AND ($1 IS NULL OR EXISTS (SELECT 1 FROM assistants a WHERE a.id = $1 AND (a.owner_id = $3 OR a.shared = $7)))")
                    .bind(assistant_id).bind(conversation_id).bind(owner_id)
                    .bind(switch).bind(from).bind(to).bind(true)
                    .execute(pool).await.map(|r| r.rows_affected() == 1))
            }

            async fn insert_note(&self, owner_id: Uuid, title: &str, body: &str) -> Result<Note, sqlx::Error> {
                let at = now();
                with_pool!(self, pool => sqlx::query_as::<_, Note>(
                    "INSERT INTO notes (id, owner_id, title, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
                     RETURNING id, owner_id, title, body, created_at, updated_at")
                    .bind(Uuid::now_v7()).bind(owner_id).bind(storable(title)).bind(storable(body)).bind(at)
                    .fetch_one(pool).await)
            }

            async fn recent_notes(&self, owner_id: Uuid, limit: i64) -> Result<Vec<Note>, sqlx::Error> {
                with_pool!(self, pool => sqlx::query_as::<_, Note>(
                    "SELECT id, owner_id, title, body, created_at, updated_at FROM notes WHERE owner_id = $1 \
                     ORDER BY updated_at DESC, id DESC LIMIT $2")
                    .bind(owner_id).bind(limit).fetch_all(pool).await)
            }

            async fn create_ticket(
                &self,
                owner_id: Uuid,
                subject: &str,
                description: &str,
                customer: Option<&str>,
                priority: &str,
            ) -> Result<Ticket, sqlx::Error> {
                let sql = format!(
                    "INSERT INTO tickets ({TICKET_COLUMNS}) \
                     SELECT $1, $2, COALESCE(MAX(number), 0) + 1, $3, $4, $5, $6, 'open', $7, $7 FROM tickets WHERE owner_id = $2 \
                     RETURNING {TICKET_COLUMNS}"
                );
                // Two tickets at once may pick the same number: the unique index refuses one,
                // which tries again.
                let mut attempt = 0;
                loop {
                    let inserted = with_pool!(self, pool => sqlx::query_as::<_, Ticket>(&sql)
                        .bind(Uuid::now_v7()).bind(owner_id).bind(storable(subject)).bind(storable(description))
                        .bind(customer.map(storable)).bind(priority).bind(now())
                        .fetch_one(pool).await);
                    match inserted {
                        Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempt < 5 => attempt += 1,
                        other => return other,
                    }
                }
            }

            async fn get_ticket(&self, owner_id: Uuid, number: i64) -> Result<Option<Ticket>, sqlx::Error> {
                let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE owner_id = $1 AND number = $2");
                with_pool!(self, pool => sqlx::query_as::<_, Ticket>(&sql).bind(owner_id).bind(number).fetch_optional(pool).await)
            }

            async fn find_tickets(
                &self,
                owner_id: Uuid,
                text: &str,
                limit: i64,
            ) -> Result<Vec<Ticket>, sqlx::Error> {
                let pattern = format!(
                    "%{}%",
                    text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
                );
                let sql = format!(
                    "SELECT {TICKET_COLUMNS} FROM tickets WHERE owner_id = $1 AND (lower(subject) LIKE $2 ESCAPE '\\' \
                     OR lower(description) LIKE $2 ESCAPE '\\' OR lower(COALESCE(customer, '')) LIKE $2 ESCAPE '\\') \
                     ORDER BY number DESC LIMIT $3"
                );
                with_pool!(self, pool => sqlx::query_as::<_, Ticket>(&sql).bind(owner_id).bind(pattern).bind(limit).fetch_all(pool).await)
            }

            async fn escalate(
                &self,
                owner_id: Uuid,
                ticket_number: Option<i64>,
                reason: &str,
                severity: &str,
            ) -> Result<Option<(Escalation, Option<Ticket>)>, sqlx::Error> {
                let at = now();
                let update = format!(
                    "UPDATE tickets SET status = 'escalated', updated_at = $1 WHERE owner_id = $2 AND number = $3 RETURNING {TICKET_COLUMNS}"
                );
                with_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    let ticket = match ticket_number {
                        None => None,
                        Some(number) => match sqlx::query_as::<_, Ticket>(&update)
                            .bind(at).bind(owner_id).bind(number).fetch_optional(&mut *tx).await? {
                            None => return Ok(None),
                            found => found,
                        },
                    };
                    let escalation = sqlx::query_as::<_, Escalation>(
                        "INSERT INTO escalations (id, owner_id, ticket_id, reason, severity, created_at, resolved_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, NULL) RETURNING id, owner_id, ticket_id, reason, severity, created_at, resolved_at")
                        .bind(Uuid::now_v7()).bind(owner_id).bind(ticket.as_ref().map(|t| t.id))
                        .bind(storable(reason)).bind(severity).bind(at)
                        .fetch_one(&mut *tx).await?;
                    let payload = serde_json::json!({
                        "escalation_id": escalation.id, "ticket_number": ticket.as_ref().map(|t| t.number),
                        "severity": severity,
                    }).to_string();
                    insert_outbox_in!(tx, owner_id, "escalation.created", escalation.id, payload, at)?;
                    commit_announced!(self, tx)?;
                    Ok(Some((escalation, ticket)))
                })
            }

            async fn outbox_events(
                &self,
                kind: &str,
                after: Option<Uuid>,
                limit: i64,
            ) -> Result<Vec<OutboxEvent>, sqlx::Error> {
                let after = after.unwrap_or(Uuid::nil());
                with_pool!(self, pool => sqlx::query_as::<_, OutboxEvent>(
                    "SELECT id, owner_id, kind, subject_id, payload, created_at FROM outbox WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3")
                    .bind(kind).bind(after).bind(limit).fetch_all(pool).await)
            }

            async fn outbox_since(
                &self,
                since: DateTime<Utc>,
                owner: Option<Uuid>,
                kinds: &[&str],
                limit: i64,
            ) -> Result<Vec<OutboxEvent>, sqlx::Error> {
                if kinds.is_empty() {
                    return Ok(Vec::new());
                }
                let kinds_in: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 4)).collect();
                let sql = format!(
                    "SELECT id, owner_id, kind, subject_id, payload, created_at FROM outbox \
                     WHERE created_at >= $1 AND ($2 OR owner_id = $3) AND kind IN ({}) \
                     ORDER BY created_at, id LIMIT {}",
                    kinds_in.join(", "),
                    limit.max(1)
                );
                let mut query = sqlx::query_as::<_, OutboxEvent>(&sql)
                    .bind(since)
                    .bind(owner.is_none())
                    .bind(owner.unwrap_or(Uuid::nil()));
                for kind in kinds {
                    query = query.bind(*kind);
                }
                with_pool!(self, pool => query.fetch_all(pool).await)
            }

            async fn outbox_event_time(
                &self,
                owner: Uuid,
                id: Uuid,
            ) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
                with_pool!(self, pool => sqlx::query_scalar(
                    "SELECT created_at FROM outbox WHERE id = $1 AND owner_id = $2")
                    .bind(id).bind(owner).fetch_optional(pool).await)
            }
        }
    };
}

/// Opens the database named by the settings (SQLite file by default) and applies migrations.
pub async fn connect(settings: &DatabaseSettings) -> Result<SharedStore, StoreError> {
    match settings.url.as_deref() {
        None => sqlite::open_default(settings).await,
        Some(url) if url.starts_with("sqlite:") => sqlite::open_url(url, settings).await,
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            postgres::open(url, settings).await
        }
        Some(url) => Err(StoreError::UnsupportedUrl(crate::config::redact_url(url))),
    }
}

/// A connection pool's connections: open, idle among them, and the most it opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolUse {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// The store as the server holds it.
pub type SharedStore = std::sync::Arc<dyn Store>;

// After the macros, which the backends use.
pub mod accounts;
pub mod analytics;
pub mod documents;
mod postgres;
pub mod providers;
pub mod settings;
mod sqlite;
pub mod titles;
pub mod transfer;
pub mod webhooks;

use accounts::{portable_accounts, portable_tokens};
pub use accounts::{AccountStore, TokenStore};
use analytics::portable_analytics;
pub use analytics::AnalyticsStore;
pub use documents::{
    decode_vector, encode_vector, DocumentStore, FoundChunk, Inserted, NewFile, Scope, StoredFile,
};
use documents::{linked_files_sql, portable_documents, FILE_COLUMNS};
use providers::portable_providers;
pub use providers::ProviderStore;
use settings::portable_settings;
pub use settings::{SavedSetting, SettingStore};
use titles::portable_titles;
pub use titles::TitleStore;
use transfer::portable_transfer;
pub use transfer::TransferStore;
use webhooks::portable_webhooks;
pub use webhooks::WebhookStore;
#[allow(unused_imports)] // used by the backends' `portable_documents!`
use {
    crate::documents::chunk::ChunkDraft,
    crate::model::{FileInfo, FileStatus},
};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[cfg(test)]
mod begin_write_tests {
    use super::BeginWrite;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use std::time::Duration;

    /// A request dropped while its transaction begins (a page closed or reloaded mid-request)
    /// must not leave that transaction open on a pooled connection: on SQLite it would hold the
    /// write lock, and every later write would fail with "database is locked" until a restart.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_begin_dropped_halfway_leaves_no_transaction_open() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("begin.db"))
            .create_if_missing(true)
            .busy_timeout(Duration::from_millis(200));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        for attempt in 0..3_000u64 {
            let pool = pool.clone();
            let begin = tokio::spawn(async move { pool.begin_write().await.map(drop) });
            // Dropped at a varying moment: before, during or just after BEGIN's round trip to
            // the connection's thread.
            std::thread::sleep(Duration::from_micros(attempt % 120));
            begin.abort();
            let _ = begin.await;
        }
        // The connections dropped with the requests are back in the pool once their release
        // (a task of sqlx's) has run.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut first = pool.acquire().await.unwrap();
        let mut second = pool.acquire().await.unwrap();
        for connection in [&mut first, &mut second] {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut **connection)
                .await
                .expect("a connection came back from the pool inside a transaction");
            sqlx::query("INSERT INTO t VALUES (1)")
                .execute(&mut **connection)
                .await
                .unwrap();
            sqlx::query("COMMIT")
                .execute(&mut **connection)
                .await
                .unwrap();
        }
    }
}
