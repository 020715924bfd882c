//! Webhooks and their deliveries. Deliveries are made from the outbox (each event fanned out
//! once, whichever instance does it) and taken by one instance at a time under a lease, so
//! several instances on one PostgreSQL share the work without sending anything twice at once.
//! One text of each query serves both databases.

use crate::db::OutboxEvent;
use crate::model::{Webhook, WebhookDelivery, WebhookEvent};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub const WEBHOOK_COLUMNS: &str =
    "id, owner_id, url, events, description, enabled, instance_wide, created_at, updated_at";
pub const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event, status, attempts, \
     response_status, error, duration_ms, next_attempt_at, created_at, updated_at, delivered_at";

/// A delivery to make now: where, with which secret, and the body.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DueDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event: String,
    pub payload: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub url: String,
    pub secret: String,
}

/// A delivery to create.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub webhook_id: Uuid,
    pub owner_id: Uuid,
    pub event_id: Uuid,
    pub event: WebhookEvent,
    pub payload: String,
}

/// How an attempt ended.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub response_status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// `None`: delivered. Else when to try again, or `None` inside: given up.
    pub retry_at: Option<Option<DateTime<Utc>>>,
}

/// How far back from the newest fanned-out event to look again: events committed late (their
/// transaction began earlier) are not missed.
pub const FANOUT_OVERLAP_SECS: i64 = 300;

#[async_trait::async_trait]
pub trait WebhookStore: Send + Sync {
    async fn insert_webhook(&self, webhook: &Webhook, secret: &str)
        -> Result<Webhook, sqlx::Error>;

    /// A person's webhooks, oldest first.
    async fn list_webhooks(&self, owner: Uuid) -> Result<Vec<Webhook>, sqlx::Error>;

    async fn get_webhook(&self, owner: Uuid, id: Uuid) -> Result<Option<Webhook>, sqlx::Error>;

    /// Saves url, events, description and enabled.
    async fn update_webhook(&self, webhook: &Webhook) -> Result<Option<Webhook>, sqlx::Error>;

    async fn set_webhook_secret(
        &self,
        owner: Uuid,
        id: Uuid,
        secret: &str,
    ) -> Result<bool, sqlx::Error>;

    async fn delete_webhook(&self, owner: Uuid, id: Uuid) -> Result<bool, sqlx::Error>;

    /// Webhooks whose secret was stored before secrets were sealed: (id, secret).
    async fn unsealed_webhook_secrets(&self) -> Result<Vec<(Uuid, String)>, sqlx::Error>;

    /// Replaces a secret stored in plain text by its sealed value, unless it changed since.
    async fn seal_webhook_secret(
        &self,
        id: Uuid,
        plain: &str,
        sealed: &str,
    ) -> Result<bool, sqlx::Error>;

    /// Enabled webhooks of people who are not disabled.
    async fn active_webhooks(&self) -> Result<Vec<Webhook>, sqlx::Error>;

    /// Outbox events not fanned out yet, from `since` on, oldest first.
    async fn unfanned_events(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>, sqlx::Error>;

    /// The newest fanned-out event's time.
    async fn newest_fanned(&self) -> Result<Option<DateTime<Utc>>, sqlx::Error>;

    /// Creates the deliveries and marks the events fanned out, in one transaction (a delivery
    /// that exists already is left as it is).
    async fn fan_out(
        &self,
        deliveries: &[NewDelivery],
        events: &[(Uuid, DateTime<Utc>)],
    ) -> Result<usize, sqlx::Error>;

    /// Takes up to `limit` deliveries that are due, for this instance until `lease_until`.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, sqlx::Error>;

    /// Records an attempt and frees the lease.
    async fn finish_attempt(&self, id: Uuid, attempt: &Attempt) -> Result<(), sqlx::Error>;

    /// A webhook's deliveries, newest first (the delivery log).
    async fn list_deliveries(
        &self,
        owner: Uuid,
        webhook: Uuid,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>, sqlx::Error>;

    /// Sends a delivery again soon ("send again"): pending from now, whatever it came to.
    async fn redeliver(
        &self,
        owner: Uuid,
        id: Uuid,
    ) -> Result<Option<WebhookDelivery>, sqlx::Error>;

    /// Queues a delivery outside the outbox (a ping).
    async fn insert_delivery(&self, delivery: &NewDelivery)
        -> Result<WebhookDelivery, sqlx::Error>;
}

macro_rules! portable_webhooks {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::db::webhooks::WebhookStore for $backend {
            async fn insert_webhook(
                &self,
                webhook: &$crate::model::Webhook,
                secret: &str,
            ) -> Result<$crate::model::Webhook, sqlx::Error> {
                let sql = format!(
                    "INSERT INTO webhooks (id, owner_id, url, events, description, secret, enabled, instance_wide, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {}",
                    $crate::db::webhooks::WEBHOOK_COLUMNS
                );
                sqlx::query_as(&sql)
                    .bind(webhook.id).bind(webhook.owner_id).bind(&webhook.url)
                    .bind(serde_json::to_string(&webhook.events).unwrap_or_else(|_| "[]".into()))
                    .bind($crate::text::storable(&webhook.description)).bind(secret)
                    .bind(webhook.enabled).bind(webhook.instance_wide).bind(now())
                    .fetch_one(&self.pool)
                    .await
            }

            async fn list_webhooks(&self, owner: Uuid) -> Result<Vec<$crate::model::Webhook>, sqlx::Error> {
                let sql = format!(
                    "SELECT {} FROM webhooks WHERE owner_id = $1 ORDER BY created_at, id",
                    $crate::db::webhooks::WEBHOOK_COLUMNS
                );
                sqlx::query_as(&sql).bind(owner).fetch_all(&self.pool).await
            }

            async fn get_webhook(&self, owner: Uuid, id: Uuid) -> Result<Option<$crate::model::Webhook>, sqlx::Error> {
                let sql = format!(
                    "SELECT {} FROM webhooks WHERE id = $1 AND owner_id = $2",
                    $crate::db::webhooks::WEBHOOK_COLUMNS
                );
                sqlx::query_as(&sql).bind(id).bind(owner).fetch_optional(&self.pool).await
            }

            async fn update_webhook(
                &self,
                webhook: &$crate::model::Webhook,
            ) -> Result<Option<$crate::model::Webhook>, sqlx::Error> {
                let sql = format!(
                    "UPDATE webhooks SET url = $1, events = $2, description = $3, enabled = $4, updated_at = $5 \
                     WHERE id = $6 AND owner_id = $7 RETURNING {}",
                    $crate::db::webhooks::WEBHOOK_COLUMNS
                );
                sqlx::query_as(&sql)
                    .bind(&webhook.url)
                    .bind(serde_json::to_string(&webhook.events).unwrap_or_else(|_| "[]".into()))
                    .bind($crate::text::storable(&webhook.description)).bind(webhook.enabled).bind(now())
                    .bind(webhook.id).bind(webhook.owner_id)
                    .fetch_optional(&self.pool)
                    .await
            }

            async fn set_webhook_secret(&self, owner: Uuid, id: Uuid, secret: &str) -> Result<bool, sqlx::Error> {
                sqlx::query("UPDATE webhooks SET secret = $1, updated_at = $2 WHERE id = $3 AND owner_id = $4")
                    .bind(secret).bind(now()).bind(id).bind(owner)
                    .execute(&self.pool).await
                    .map(|r| r.rows_affected() == 1)
            }

            async fn unsealed_webhook_secrets(&self) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
                sqlx::query_as("SELECT id, secret FROM webhooks WHERE secret NOT LIKE 'sealed:v1:%'")
                    .fetch_all(&self.pool).await
            }

            async fn seal_webhook_secret(&self, id: Uuid, plain: &str, sealed: &str) -> Result<bool, sqlx::Error> {
                sqlx::query("UPDATE webhooks SET secret = $1 WHERE id = $2 AND secret = $3")
                    .bind(sealed).bind(id).bind(plain)
                    .execute(&self.pool).await
                    .map(|r| r.rows_affected() == 1)
            }

            async fn delete_webhook(&self, owner: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
                sqlx::query("DELETE FROM webhooks WHERE id = $1 AND owner_id = $2")
                    .bind(id).bind(owner)
                    .execute(&self.pool).await
                    .map(|r| r.rows_affected() == 1)
            }

            async fn active_webhooks(&self) -> Result<Vec<$crate::model::Webhook>, sqlx::Error> {
                sqlx::query_as(
                    "SELECT w.id, w.owner_id, w.url, w.events, w.description, w.enabled, w.instance_wide, w.created_at, w.updated_at \
                     FROM webhooks w JOIN users u ON u.id = w.owner_id WHERE w.enabled AND NOT u.disabled",
                )
                .fetch_all(&self.pool)
                .await
            }

            async fn unfanned_events(
                &self,
                since: DateTime<Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::db::OutboxEvent>, sqlx::Error> {
                sqlx::query_as(
                    "SELECT o.id, o.owner_id, o.kind, o.subject_id, o.payload, o.created_at FROM outbox o \
                     WHERE o.created_at >= $1 AND NOT EXISTS (SELECT 1 FROM webhook_fanout f WHERE f.event_id = o.id) \
                     ORDER BY o.created_at, o.id LIMIT $2",
                )
                .bind(since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }

            async fn newest_fanned(&self) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
                sqlx::query_scalar("SELECT created_at FROM webhook_fanout ORDER BY created_at DESC LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await
            }

            async fn fan_out(
                &self,
                deliveries: &[$crate::db::webhooks::NewDelivery],
                events: &[(Uuid, DateTime<Utc>)],
            ) -> Result<usize, sqlx::Error> {
                let mut tx = self.pool.begin_write().await?;
                let at = now();
                let mut made = 0;
                for delivery in deliveries {
                    made += sqlx::query(
                        "INSERT INTO webhook_deliveries (id, webhook_id, owner_id, event_id, event, payload, status, attempts, next_attempt_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7) ON CONFLICT (webhook_id, event_id) DO NOTHING",
                    )
                    .bind(Uuid::now_v7()).bind(delivery.webhook_id).bind(delivery.owner_id)
                    .bind(delivery.event_id).bind(delivery.event.as_str()).bind(&delivery.payload).bind(at)
                    .execute(&mut *tx).await?
                    .rows_affected() as usize;
                }
                for (event_id, created_at) in events {
                    sqlx::query("INSERT INTO webhook_fanout (event_id, created_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING")
                        .bind(event_id).bind(created_at)
                        .execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(made)
            }

            async fn claim_due(
                &self,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::db::webhooks::DueDelivery>, sqlx::Error> {
                // The lease is checked again on the row being updated: two instances racing for
                // the same row cannot both take it.
                let claimed: Vec<Uuid> = sqlx::query_scalar(
                    "UPDATE webhook_deliveries SET lease_until = $1 \
                     WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $2 \
                                  AND (lease_until IS NULL OR lease_until < $2) ORDER BY next_attempt_at LIMIT $3) \
                     AND status = 'pending' AND (lease_until IS NULL OR lease_until < $2) RETURNING id",
                )
                .bind(lease_until).bind(now).bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut due = Vec::with_capacity(claimed.len());
                for id in claimed {
                    if let Some(delivery) = sqlx::query_as(
                        "SELECT d.id, d.webhook_id, d.event_id, d.event, d.payload, d.attempts, d.created_at, w.url, w.secret \
                         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    {
                        due.push(delivery);
                    }
                }
                Ok(due)
            }

            async fn finish_attempt(
                &self,
                id: Uuid,
                attempt: &$crate::db::webhooks::Attempt,
            ) -> Result<(), sqlx::Error> {
                let at = now();
                let (status, next, delivered) = match attempt.retry_at {
                    None => ("delivered", at, Some(at)),
                    Some(Some(retry)) => ("pending", retry, None),
                    Some(None) => ("failed", at, None),
                };
                sqlx::query(
                    "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, response_status = $2, error = $3, \
                     duration_ms = $4, next_attempt_at = $5, delivered_at = $6, lease_until = NULL, updated_at = $7 WHERE id = $8",
                )
                .bind(status).bind(attempt.response_status).bind(attempt.error.as_deref().map($crate::text::storable))
                .bind(attempt.duration_ms).bind(next).bind(delivered).bind(at).bind(id)
                .execute(&self.pool)
                .await
                .map(|_| ())
            }

            async fn list_deliveries(
                &self,
                owner: Uuid,
                webhook: Uuid,
                limit: i64,
            ) -> Result<Vec<$crate::model::WebhookDelivery>, sqlx::Error> {
                let sql = format!(
                    "SELECT {} FROM webhook_deliveries WHERE webhook_id = $1 AND owner_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3",
                    $crate::db::webhooks::DELIVERY_COLUMNS
                );
                sqlx::query_as(&sql).bind(webhook).bind(owner).bind(limit).fetch_all(&self.pool).await
            }

            async fn redeliver(
                &self,
                owner: Uuid,
                id: Uuid,
            ) -> Result<Option<$crate::model::WebhookDelivery>, sqlx::Error> {
                let sql = format!(
                    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, lease_until = NULL, updated_at = $1 \
                     WHERE id = $2 AND owner_id = $3 RETURNING {}",
                    $crate::db::webhooks::DELIVERY_COLUMNS
                );
                sqlx::query_as(&sql).bind(now()).bind(id).bind(owner).fetch_optional(&self.pool).await
            }

            async fn insert_delivery(
                &self,
                delivery: &$crate::db::webhooks::NewDelivery,
            ) -> Result<$crate::model::WebhookDelivery, sqlx::Error> {
                let sql = format!(
                    "INSERT INTO webhook_deliveries (id, webhook_id, owner_id, event_id, event, payload, status, attempts, next_attempt_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7) RETURNING {}",
                    $crate::db::webhooks::DELIVERY_COLUMNS
                );
                sqlx::query_as(&sql)
                    .bind(Uuid::now_v7()).bind(delivery.webhook_id).bind(delivery.owner_id)
                    .bind(delivery.event_id).bind(delivery.event.as_str()).bind(&delivery.payload).bind(now())
                    .fetch_one(&self.pool)
                    .await
            }
        }
    };
}

pub(super) use portable_webhooks;
