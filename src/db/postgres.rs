//! PostgreSQL, for production and for several instances sharing one database.

use super::BeginWrite;
use super::*;
use crate::config::redact_url;
use sqlx::postgres::PgPoolOptions;
use std::{sync::Arc, time::Duration};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub(super) async fn open(
    url: &str,
    settings: &DatabaseSettings,
) -> Result<SharedStore, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .acquire_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .connect(url)
        .await
        .map_err(|source| StoreError::Connect {
            backend: "postgres",
            url: redact_url(url),
            source,
        })?;
    // Migrations take an advisory lock, so instances starting together apply them once.
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate {
            backend: "postgres",
            source,
        })?;
    Ok(Arc::new(PostgresStore {
        pool,
        outbox: super::OutboxSignal::new(),
    }))
}

/// PostgreSQL: several instances may share it.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// Woken by the LISTEN connection (`generation::watch::Notifier`).
    outbox: super::OutboxSignal,
}

impl PostgresStore {
    /// Outbox events were committed: the trigger's NOTIFY tells every instance, this one
    /// included (see migrations/postgres), so nothing more is done here.
    fn announce_outbox(&self) {}
}

portable_store!(PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn pool_use(&self) -> super::PoolUse {
        super::PoolUse {
            size: self.pool.size(),
            idle: self.pool.num_idle() as u32,
            max: self.pool.options().get_max_connections(),
        }
    }

    fn shared_by_instances(&self) -> bool {
        true
    }

    fn outbox_signal(&self) -> &super::OutboxSignal {
        &self.outbox
    }

    fn postgres_pool(&self) -> Option<&PgPool> {
        Some(&self.pool)
    }
});

portable_settings!(PostgresStore);
portable_accounts!(PostgresStore);
portable_tokens!(PostgresStore);
portable_webhooks!(PostgresStore);
portable_providers!(PostgresStore);

portable_transfer!(PostgresStore, sqlx::Postgres);
portable_titles!(PostgresStore);

portable_analytics!(PostgresStore, sqlx::Postgres);

portable_documents!(PostgresStore, lock = "FOR UPDATE SKIP LOCKED" {
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
        // Any of the words (letters and digits only, so nothing in them is tsquery syntax),
        // stemmed and without stop words by the `english` configuration, by cover density.
        let query = words
            .iter()
            .map(|w| w.chars().filter(|c| c.is_alphanumeric()).collect::<String>())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" | ");
        sqlx::query_scalar(
            "SELECT c.id FROM chunks c, to_tsquery('english', $1) query \
             WHERE c.owner_id = $2 AND ($3::uuid IS NULL OR c.file_id = $3) AND c.tsv @@ query \
             AND ($5::uuid IS NULL OR c.file_id IN (SELECT file_id FROM conversation_knowledge WHERE conversation_id = $5 AND owner_id = $2)) \
             ORDER BY ts_rank_cd(c.tsv, query) DESC, c.id LIMIT $4",
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
