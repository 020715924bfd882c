//! PostgreSQL, for production and for several instances sharing one database.

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
    Ok(Arc::new(PostgresStore { pool }))
}

/// PostgreSQL: several instances may share it.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

portable_store!(PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn shared_by_instances(&self) -> bool {
        true
    }

    fn postgres_pool(&self) -> Option<&PgPool> {
        Some(&self.pool)
    }
});
