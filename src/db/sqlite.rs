//! The embedded default: a SQLite file in WAL mode, created on first start.

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
        .connect_with(options)
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
    Ok(Arc::new(SqliteStore { pool }))
}

/// A SQLite file: one server uses it.
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

portable_store!(SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn shared_by_instances(&self) -> bool {
        false
    }

    fn sqlite_pool(&self) -> Option<&SqlitePool> {
        Some(&self.pool)
    }
});

portable_settings!(SqliteStore);

portable_transfer!(SqliteStore);

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
