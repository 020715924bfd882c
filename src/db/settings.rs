//! Storage of runtime settings: values saved for the instance and for each person, as JSON
//! text. One text of each query serves both databases.

use uuid::Uuid;

/// A saved value: for everyone (`owner_id` none) or for one person.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct SavedSetting {
    pub owner_id: Option<Uuid>,
    pub key: String,
    pub value: String,
}

#[async_trait::async_trait]
pub trait SettingStore: Send + Sync {
    /// The instance's saved values, and the person's when `owner_id` is given.
    async fn saved_settings(
        &self,
        owner_id: Option<Uuid>,
    ) -> Result<Vec<SavedSetting>, sqlx::Error>;

    /// Saves values (each for the instance or for a person) in one transaction: all or none.
    async fn save_settings(&self, values: &[SavedSetting]) -> Result<(), sqlx::Error>;

    /// Forgets saved values (they fall back to what is configured); how many there were.
    async fn delete_settings(&self, keys: &[(Option<Uuid>, String)]) -> Result<u64, sqlx::Error>;
}

macro_rules! portable_settings {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::db::settings::SettingStore for $backend {
            async fn saved_settings(
                &self,
                owner_id: Option<Uuid>,
            ) -> Result<Vec<$crate::db::settings::SavedSetting>, sqlx::Error> {
                // The instance's first: the person's are applied over them.
                sqlx::query_as(
                    "SELECT NULL AS owner_id, key, value FROM instance_settings \
                     UNION ALL SELECT owner_id, key, value FROM person_settings WHERE owner_id = $1 \
                     ORDER BY owner_id NULLS FIRST, key",
                )
                .bind(owner_id)
                .fetch_all(&self.pool)
                .await
            }

            async fn save_settings(
                &self,
                values: &[$crate::db::settings::SavedSetting],
            ) -> Result<(), sqlx::Error> {
                let mut tx = self.pool.begin_write().await?;
                let at = now();
                for saved in values {
                    let (key, value) = (&saved.key, &saved.value);
                    match saved.owner_id {
                        None => sqlx::query(
                            "INSERT INTO instance_settings (key, value, updated_at) VALUES ($1, $2, $3) \
                             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                        )
                        .bind(key)
                        .bind(value)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?,
                        Some(owner) => sqlx::query(
                            "INSERT INTO person_settings (owner_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (owner_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                        )
                        .bind(owner)
                        .bind(key)
                        .bind(value)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?,
                    };
                }
                tx.commit().await
            }

            async fn delete_settings(
                &self,
                keys: &[(Option<Uuid>, String)],
            ) -> Result<u64, sqlx::Error> {
                let mut tx = self.pool.begin_write().await?;
                let mut deleted = 0;
                for (owner_id, key) in keys {
                    deleted += match *owner_id {
                        None => sqlx::query("DELETE FROM instance_settings WHERE key = $1")
                            .bind(key)
                            .execute(&mut *tx)
                            .await?,
                        Some(owner) => {
                            sqlx::query("DELETE FROM person_settings WHERE owner_id = $1 AND key = $2")
                                .bind(owner)
                                .bind(key)
                                .execute(&mut *tx)
                                .await?
                        }
                    }
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(deleted)
            }
        }
    };
}
pub(super) use portable_settings;
