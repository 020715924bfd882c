//! The embedded default: a SQLite file in WAL mode, created on first start.

use super::BeginWrite;
use super::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::{str::FromStr, sync::Arc, time::Duration};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub(super) async fn open_default(settings: &DatabaseSettings) -> Result<SharedStore, StoreError> {
    let dir = &settings.data_dir;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|source| StoreError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
    let path = dir.join("ollamastack.db");
    let options = SqliteConnectOptions::new().filename(&path);
    open(options, &path.display().to_string(), settings).await
}

pub(super) async fn open_url(
    url: &str,
    settings: &DatabaseSettings,
) -> Result<SharedStore, StoreError> {
    let options = SqliteConnectOptions::from_str(url).map_err(|source| StoreError::Connect {
        backend: "sqlite",
        url: url.to_string(),
        source,
    })?;
    open(options, url, settings).await
}

async fn open(
    options: SqliteConnectOptions,
    shown: &str,
    settings: &DatabaseSettings,
) -> Result<SharedStore, StoreError> {
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable in WAL mode across application crashes; only power loss can lose the
        // last commits.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .acquire_timeout(Duration::from_millis(settings.connect_timeout_ms))
        // sqlx pings every connection before handing it out, by default: on SQLite that is a
        // round trip to the connection's thread before each query or transaction (measured:
        // about 0.1-0.3 ms of each sent message), and it can find nothing wrong, as there is
        // no server or network between us and the file to break the connection.
        .test_before_acquire(false)
        .connect_with(options.clone())
        .await
        .map_err(|source| StoreError::Connect {
            backend: "sqlite",
            url: shown.to_string(),
            source,
        })?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate {
            backend: "sqlite",
            source,
        })?;
    admit_image_files(&options)
        .await
        .map_err(|source| StoreError::Migrate {
            backend: "sqlite",
            source: sqlx::migrate::MigrateError::Execute(source),
        })?;
    Ok(Arc::new(SqliteStore {
        pool,
        outbox: super::OutboxSignal::new(),
    }))
}

/// The `files` table as images need it: `kind` may be png, jpeg, gif or webp. SQLite cannot
/// alter a CHECK constraint, so the table is rebuilt once, the way SQLite documents it: on a
/// connection of its own with foreign keys off (a migration's transaction cannot switch them
/// off, and with them on, dropping the old table would cascade to chunks, blobs and
/// attachments), in one immediate transaction that checks the foreign keys before it commits.
pub(crate) async fn admit_image_files(options: &SqliteConnectOptions) -> Result<(), sqlx::Error> {
    use sqlx::{Connection, Executor};
    const ADMITTED: &str = "'webp'";
    const CURRENT: &str =
        "SELECT COALESCE((SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'files'), '')";
    let mut connection =
        sqlx::SqliteConnection::connect_with(&options.clone().foreign_keys(false)).await?;
    let current: String = sqlx::query_scalar(CURRENT)
        .fetch_one(&mut connection)
        .await?;
    if current.is_empty() || current.contains(ADMITTED) {
        return connection.close().await;
    }
    connection.execute("BEGIN IMMEDIATE").await?;
    let rebuilt = async {
        // Another instance may have rebuilt it while this one waited for the lock.
        let current: String = sqlx::query_scalar(CURRENT)
            .fetch_one(&mut connection)
            .await?;
        if !current.contains(ADMITTED) {
            connection.execute(REBUILD_FILES).await?;
            let broken: Vec<(String,)> =
                sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
                    .fetch_all(&mut connection)
                    .await?;
            if !broken.is_empty() {
                return Err(sqlx::Error::Protocol(format!(
                    "rebuilding files would break the foreign keys of {broken:?}"
                )));
            }
        }
        Ok(())
    }
    .await;
    match rebuilt {
        Ok(()) => {
            connection.execute("COMMIT").await?;
            tracing::info!("the files table now admits images");
            connection.close().await
        }
        Err(error) => {
            let _ = connection.execute("ROLLBACK").await;
            Err(error)
        }
    }
}

/// The rebuild of `files` with image kinds (SQLite's "12 steps": new table, copy, drop, rename,
/// indexes). The other tables refer to `files` by name, so they refer to the new one.
const REBUILD_FILES: &str = "
CREATE TABLE files_new (
    id               BLOB PRIMARY KEY NOT NULL,
    owner_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('txt', 'md', 'pdf', 'docx', 'csv', 'png', 'jpeg', 'gif', 'webp')),
    media_type       TEXT NOT NULL,
    size_bytes       INTEGER NOT NULL,
    stored_in        TEXT NOT NULL CHECK (stored_in IN ('disk', 'database')),
    status           TEXT NOT NULL CHECK (status IN ('queued', 'extracting', 'embedding', 'ready', 'failed')),
    error            TEXT,
    pages            INTEGER,
    chunk_count      INTEGER NOT NULL DEFAULT 0,
    embedded_count   INTEGER NOT NULL DEFAULT 0,
    embedding_model  TEXT,
    extracted        INTEGER NOT NULL DEFAULT 0,
    instance_id      BLOB,
    heartbeat_at     TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
INSERT INTO files_new (id, owner_id, name, kind, media_type, size_bytes, stored_in, status, error, pages,
                       chunk_count, embedded_count, embedding_model, extracted, instance_id, heartbeat_at,
                       created_at, updated_at)
SELECT id, owner_id, name, kind, media_type, size_bytes, stored_in, status, error, pages,
       chunk_count, embedded_count, embedding_model, extracted, instance_id, heartbeat_at,
       created_at, updated_at
FROM files;
DROP TABLE files;
ALTER TABLE files_new RENAME TO files;
CREATE INDEX files_owner ON files (owner_id, created_at DESC);
CREATE INDEX files_pending ON files (created_at) WHERE status IN ('queued', 'extracting', 'embedding');
";

/// A SQLite file: one server uses it.
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    outbox: super::OutboxSignal,
}

impl SqliteStore {
    /// Outbox events were committed: one instance uses the file, so this store's own commits
    /// are all there are.
    fn announce_outbox(&self) {
        self.outbox.wake();
    }
}

portable_store!(SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn pool_use(&self) -> super::PoolUse {
        super::PoolUse {
            size: self.pool.size(),
            idle: self.pool.num_idle() as u32,
            max: self.pool.options().get_max_connections(),
        }
    }

    fn shared_by_instances(&self) -> bool {
        false
    }

    fn outbox_signal(&self) -> &super::OutboxSignal {
        &self.outbox
    }

    fn sqlite_pool(&self) -> Option<&SqlitePool> {
        Some(&self.pool)
    }
});

portable_settings!(SqliteStore);
portable_accounts!(SqliteStore);
portable_tokens!(SqliteStore);
portable_webhooks!(SqliteStore);
portable_providers!(SqliteStore);

portable_transfer!(SqliteStore, sqlx::Sqlite);
portable_titles!(SqliteStore);

portable_analytics!(SqliteStore, sqlx::Sqlite);

portable_documents!(SqliteStore, lock = "" {
    async fn keyword_search(
        &self,
        owner_id: Uuid,
        words: &[String],
        scope: Scope,
        limit: i64,
    ) -> Result<Vec<Uuid>, sqlx::Error> {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let (file, conversation) = scope.params();
        // Any of the words (each quoted: FTS5 reads nothing in them as syntax), by BM25.
        let query = words
            .iter()
            .map(|w| format!("\"{}\"", w.replace('"', "")))
            .collect::<Vec<_>>()
            .join(" OR ");
        sqlx::query_scalar(
            "SELECT c.id FROM chunks_fts JOIN chunks c ON c.seq = chunks_fts.rowid \
             WHERE chunks_fts MATCH $1 AND c.owner_id = $2 AND ($3 IS NULL OR c.file_id = $3) \
             AND ($5 IS NULL OR c.file_id IN (SELECT file_id FROM conversation_knowledge WHERE conversation_id = $5 AND owner_id = $2)) \
             ORDER BY bm25(chunks_fts), c.seq LIMIT $4",
        )
        .bind(query)
        .bind(owner_id)
        .bind(file)
        .bind(limit)
        .bind(conversation)
        .fetch_all(&self.pool)
        .await
    }
});
