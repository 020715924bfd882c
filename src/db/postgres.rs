//! PostgreSQL, for production and for several instances sharing one database.

use super::{Store, StoreError};
use crate::config::{redact_url, DatabaseSettings};
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub(super) async fn open(url: &str, settings: &DatabaseSettings) -> Result<Store, StoreError> {
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
    Ok(Store::Postgres(pool))
}
