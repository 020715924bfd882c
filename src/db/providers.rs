//! Model providers (admin-managed, for the whole instance) and the secret key's check value.
//! The API key column holds a sealed value (src/secrets.rs); this layer never sees it in plain
//! text. One text of each query serves both databases.

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub const PROVIDER_COLUMNS: &str =
    "id, created_by, name, kind, base_url, api_key, models, enabled, created_at, updated_at";

/// A provider's row; `api_key` is sealed.
#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct StoredProvider {
    pub id: Uuid,
    /// The admin who added it (kept as none when their account is deleted).
    pub created_by: Option<Uuid>,
    pub name: String,
    pub kind: String,
    pub base_url: String,
    pub api_key: Option<String>,
    /// The models offered, one per line; empty: all the provider lists.
    pub models: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for StoredProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredProvider")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &crate::config::redact_url(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("enabled", &self.enabled)
            .finish()
    }
}

#[async_trait::async_trait]
pub trait ProviderStore: Send + Sync {
    /// Every provider, by name.
    async fn list_providers(&self) -> Result<Vec<StoredProvider>, sqlx::Error>;

    async fn get_provider(&self, id: Uuid) -> Result<Option<StoredProvider>, sqlx::Error>;

    /// Adds a provider; a unique violation when its name is taken.
    async fn insert_provider(&self, provider: &StoredProvider) -> Result<(), sqlx::Error>;

    /// Saves everything but `id`, `created_by` and `created_at`; false when it is gone.
    async fn update_provider(&self, provider: &StoredProvider) -> Result<bool, sqlx::Error>;

    async fn delete_provider(&self, id: Uuid) -> Result<bool, sqlx::Error>;

    /// The value sealed with the instance's key at the first start, if any.
    async fn key_check(&self) -> Result<Option<String>, sqlx::Error>;

    /// Stores the check value unless one is there (another instance may have been first).
    async fn insert_key_check(&self, sealed: &str) -> Result<(), sqlx::Error>;
}

macro_rules! portable_providers {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::db::providers::ProviderStore for $backend {
            async fn list_providers(
                &self,
            ) -> Result<Vec<$crate::db::providers::StoredProvider>, sqlx::Error> {
                let sql = format!(
                    "SELECT {} FROM model_providers ORDER BY name",
                    $crate::db::providers::PROVIDER_COLUMNS
                );
                sqlx::query_as(&sql).fetch_all(&self.pool).await
            }

            async fn get_provider(
                &self,
                id: Uuid,
            ) -> Result<Option<$crate::db::providers::StoredProvider>, sqlx::Error> {
                let sql = format!(
                    "SELECT {} FROM model_providers WHERE id = $1",
                    $crate::db::providers::PROVIDER_COLUMNS
                );
                sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await
            }

            async fn insert_provider(
                &self,
                p: &$crate::db::providers::StoredProvider,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO model_providers (id, created_by, name, kind, base_url, api_key, models, enabled, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(p.id).bind(p.created_by).bind(&p.name).bind(&p.kind).bind(&p.base_url)
                .bind(&p.api_key).bind(&p.models).bind(p.enabled).bind(p.created_at).bind(p.updated_at)
                .execute(&self.pool)
                .await
                .map(|_| ())
            }

            async fn update_provider(
                &self,
                p: &$crate::db::providers::StoredProvider,
            ) -> Result<bool, sqlx::Error> {
                sqlx::query(
                    "UPDATE model_providers SET name = $1, kind = $2, base_url = $3, api_key = $4, models = $5, \
                     enabled = $6, updated_at = $7 WHERE id = $8",
                )
                .bind(&p.name).bind(&p.kind).bind(&p.base_url).bind(&p.api_key).bind(&p.models)
                .bind(p.enabled).bind(p.updated_at).bind(p.id)
                .execute(&self.pool)
                .await
                .map(|r| r.rows_affected() == 1)
            }

            async fn delete_provider(&self, id: Uuid) -> Result<bool, sqlx::Error> {
                sqlx::query("DELETE FROM model_providers WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map(|r| r.rows_affected() == 1)
            }

            async fn key_check(&self) -> Result<Option<String>, sqlx::Error> {
                sqlx::query_scalar("SELECT sealed FROM secret_key_checks WHERE id = 'v1'")
                    .fetch_optional(&self.pool)
                    .await
            }

            async fn insert_key_check(&self, sealed: &str) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO secret_key_checks (id, sealed, created_at) VALUES ('v1', $1, $2) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(sealed)
                .bind(now())
                .execute(&self.pool)
                .await
                .map(|_| ())
            }
        }
    };
}
pub(super) use portable_providers;
