//! Storage of analytics: events recorded from the outbox and their rollups by hour and by day. One text of
//! each query serves both databases.

use crate::analytics::AnalyticsEvent;
use crate::model::Bucket;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// How far before the newest recorded event the outbox is searched again for events not yet
/// recorded: an outbox row becomes visible when its transaction commits, a little after its
/// time was taken.
pub const RECORDING_OVERLAP_SECS: i64 = 300;

/// Rollup sums of one kind, model and status over a window.
#[derive(Clone, Debug, Default, PartialEq, sqlx::FromRow)]
pub struct KindTotals {
    pub kind: String,
    pub model: String,
    pub status: String,
    pub events: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub duration_ms_sum: i64,
    pub duration_count: i64,
    pub ttft_ms_sum: i64,
    pub ttft_count: i64,
    pub rate_tokens: i64,
    pub rate_ms: i64,
}

/// The tables of a bucket size: rollups, latency histogram, and their time column.
pub fn rollup_tables(bucket: Bucket) -> (&'static str, &'static str, &'static str) {
    match bucket {
        Bucket::Hour => ("analytics_hourly", "analytics_latency", "hour"),
        Bucket::Day => ("analytics_daily", "analytics_latency_daily", "day"),
    }
}

/// Rollup sums of one bucket and kind (status kept apart: errors).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct BucketTotals {
    pub start: DateTime<Utc>,
    pub kind: String,
    pub status: String,
    pub events: i64,
    pub completion_tokens: i64,
}

/// Complete answers in one latency bucket over a window.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct BucketCount {
    pub metric: String,
    pub bucket: i32,
    pub count: i64,
}

#[async_trait::async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Outbox events analytics has not recorded, oldest first.
    async fn unrecorded_events(
        &self,
        limit: i64,
    ) -> Result<Vec<crate::db::OutboxEvent>, sqlx::Error>;

    /// Records events and adds those not recorded before to the rollups, in one transaction;
    /// how many were new.
    async fn record_events(&self, events: &[AnalyticsEvent]) -> Result<usize, sqlx::Error>;

    /// The owner's rollups of `bucket` size from `since`, by kind, model and status.
    async fn totals_since(
        &self,
        whose: ReportScope,
        bucket: Bucket,
        since: DateTime<Utc>,
    ) -> Result<Vec<KindTotals>, sqlx::Error>;

    /// The owner's rollups of `bucket` size from `since`, by bucket, kind and status.
    async fn buckets_since(
        &self,
        whose: ReportScope,
        bucket: Bucket,
        since: DateTime<Utc>,
    ) -> Result<Vec<BucketTotals>, sqlx::Error>;

    /// The owner's latency histogram from `since` (rolled up by `bucket`).
    async fn latency_since(
        &self,
        whose: ReportScope,
        bucket: Bucket,
        since: DateTime<Utc>,
    ) -> Result<Vec<BucketCount>, sqlx::Error>;
}

/// Rows per multi-row INSERT: within both databases' limits on bound parameters.
pub const INSERT_CHUNK: usize = 500;

/// Whose figures a report reads: one person's, or (for admins) the whole instance's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportScope {
    Person(Uuid),
    Instance,
}

impl ReportScope {
    /// The condition on a rollup table's `owner_id` (its parameter is `$2`), and the id to bind.
    pub fn owner_filter(self) -> (&'static str, Option<Uuid>) {
        match self {
            ReportScope::Person(owner) => ("owner_id = $2 AND", Some(owner)),
            ReportScope::Instance => ("", None),
        }
    }
}

macro_rules! portable_analytics {
    ($backend:ty, $database:ty) => {
        #[async_trait::async_trait]
        impl $crate::db::analytics::AnalyticsStore for $backend {
            async fn unrecorded_events(
                &self,
                limit: i64,
            ) -> Result<Vec<OutboxEvent>, sqlx::Error> {
                let newest: Option<DateTime<Utc>> =
                    sqlx::query_scalar("SELECT at FROM analytics_events ORDER BY at DESC LIMIT 1")
                        .fetch_optional(&self.pool)
                        .await?;
                let since = newest
                    .map(|at| at - chrono::TimeDelta::seconds($crate::db::analytics::RECORDING_OVERLAP_SECS))
                    .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
                sqlx::query_as(
                    "SELECT o.id, o.owner_id, o.kind, o.subject_id, o.payload, o.created_at FROM outbox o \
                     WHERE o.created_at >= $1 AND NOT EXISTS (SELECT 1 FROM analytics_events a WHERE a.id = o.id) \
                     ORDER BY o.created_at, o.id LIMIT $2",
                )
                .bind(since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }

            async fn record_events(
                &self,
                events: &[$crate::analytics::AnalyticsEvent],
            ) -> Result<usize, sqlx::Error> {
                if events.is_empty() {
                    return Ok(0);
                }
                let mut tx = self.pool.begin_write().await?;
                let mut new_ids = std::collections::HashSet::new();
                for chunk in events.chunks($crate::db::analytics::INSERT_CHUNK) {
                    let mut insert = sqlx::QueryBuilder::<$database>::new(
                        "INSERT INTO analytics_events (id, owner_id, kind, at, model, status, prompt_tokens, completion_tokens, ttft_ms, duration_ms) ",
                    );
                    insert.push_values(chunk, |mut row, e| {
                        row.push_bind(e.id)
                            .push_bind(e.owner_id)
                            .push_bind(e.kind.clone())
                            .push_bind(e.at)
                            .push_bind(e.model.clone())
                            .push_bind(e.status.clone())
                            .push_bind(e.prompt_tokens)
                            .push_bind(e.completion_tokens)
                            .push_bind(e.ttft_ms)
                            .push_bind(e.duration_ms);
                    });
                    insert.push(" ON CONFLICT (id) DO NOTHING RETURNING id");
                    let ids: Vec<Uuid> = insert.build_query_scalar().fetch_all(&mut *tx).await?;
                    new_ids.extend(ids);
                }
                let new: Vec<$crate::analytics::AnalyticsEvent> = events
                    .iter()
                    .filter(|e| new_ids.contains(&e.id))
                    .cloned()
                    .collect();
                for size in [$crate::model::Bucket::Hour, $crate::model::Bucket::Day] {
                    let (rollups, latency) = $crate::analytics::rollups_of(&new, size);
                    let (table, latency_table, column) = $crate::db::analytics::rollup_tables(size);
                    let rollup_sql = format!(
                        "INSERT INTO {table} (owner_id, {column}, kind, model, status, events, prompt_tokens, completion_tokens, \
                         duration_ms_sum, duration_count, ttft_ms_sum, ttft_count, rate_tokens, rate_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                         ON CONFLICT (owner_id, {column}, kind, model, status) DO UPDATE SET \
                         events = {table}.events + excluded.events, \
                         prompt_tokens = {table}.prompt_tokens + excluded.prompt_tokens, \
                         completion_tokens = {table}.completion_tokens + excluded.completion_tokens, \
                         duration_ms_sum = {table}.duration_ms_sum + excluded.duration_ms_sum, \
                         duration_count = {table}.duration_count + excluded.duration_count, \
                         ttft_ms_sum = {table}.ttft_ms_sum + excluded.ttft_ms_sum, \
                         ttft_count = {table}.ttft_count + excluded.ttft_count, \
                         rate_tokens = {table}.rate_tokens + excluded.rate_tokens, \
                         rate_ms = {table}.rate_ms + excluded.rate_ms"
                    );
                    for r in &rollups {
                        sqlx::query(&rollup_sql)
                            .bind(r.owner_id).bind(r.start).bind(&r.kind).bind(&r.model).bind(&r.status)
                            .bind(r.events).bind(r.prompt_tokens).bind(r.completion_tokens)
                            .bind(r.duration_ms_sum).bind(r.duration_count).bind(r.ttft_ms_sum).bind(r.ttft_count)
                            .bind(r.rate_tokens).bind(r.rate_ms)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let latency_sql = format!(
                        "INSERT INTO {latency_table} (owner_id, {column}, metric, bucket, count) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (owner_id, {column}, metric, bucket) DO UPDATE SET count = {latency_table}.count + excluded.count"
                    );
                    for l in &latency {
                        sqlx::query(&latency_sql)
                            .bind(l.owner_id).bind(l.start).bind(&l.metric).bind(l.bucket).bind(l.count)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(new.len())
            }

            async fn totals_since(
                &self,
                whose: $crate::db::analytics::ReportScope,
                bucket: $crate::model::Bucket,
                since: DateTime<Utc>,
            ) -> Result<Vec<$crate::db::analytics::KindTotals>, sqlx::Error> {
                let (table, _, column) = $crate::db::analytics::rollup_tables(bucket);
                let (filter, owner) = whose.owner_filter();
                let sql = format!(
                    "SELECT kind, model, status, CAST(SUM(events) AS BIGINT) AS events, \
                     CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens, \
                     CAST(SUM(duration_ms_sum) AS BIGINT) AS duration_ms_sum, CAST(SUM(duration_count) AS BIGINT) AS duration_count, \
                     CAST(SUM(ttft_ms_sum) AS BIGINT) AS ttft_ms_sum, CAST(SUM(ttft_count) AS BIGINT) AS ttft_count, \
                     CAST(SUM(rate_tokens) AS BIGINT) AS rate_tokens, CAST(SUM(rate_ms) AS BIGINT) AS rate_ms \
                     FROM {table} WHERE {filter} {column} >= $1 GROUP BY kind, model, status"
                );
            let query = sqlx::query_as(&sql).bind(since);
            match owner {
                Some(owner) => query.bind(owner).fetch_all(&self.pool).await,
                None => query.fetch_all(&self.pool).await,
            }
            }

            async fn buckets_since(
                &self,
                whose: $crate::db::analytics::ReportScope,
                bucket: $crate::model::Bucket,
                since: DateTime<Utc>,
            ) -> Result<Vec<$crate::db::analytics::BucketTotals>, sqlx::Error> {
                let (table, _, column) = $crate::db::analytics::rollup_tables(bucket);
                let (filter, owner) = whose.owner_filter();
                let sql = format!(
                    "SELECT {column} AS start, kind, status, CAST(SUM(events) AS BIGINT) AS events, \
                     CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens \
                     FROM {table} WHERE {filter} {column} >= $1 GROUP BY {column}, kind, status"
                );
            let query = sqlx::query_as(&sql).bind(since);
            match owner {
                Some(owner) => query.bind(owner).fetch_all(&self.pool).await,
                None => query.fetch_all(&self.pool).await,
            }
            }

            async fn latency_since(
                &self,
                whose: $crate::db::analytics::ReportScope,
                bucket: $crate::model::Bucket,
                since: DateTime<Utc>,
            ) -> Result<Vec<$crate::db::analytics::BucketCount>, sqlx::Error> {
                let (_, table, column) = $crate::db::analytics::rollup_tables(bucket);
                let (filter, owner) = whose.owner_filter();
                let sql = format!(
                    "SELECT metric, bucket, CAST(SUM(count) AS BIGINT) AS count FROM {table} \
                     WHERE {filter} {column} >= $1 GROUP BY metric, bucket"
                );
            let query = sqlx::query_as(&sql).bind(since);
            match owner {
                Some(owner) => query.bind(owner).fetch_all(&self.pool).await,
                None => query.fetch_all(&self.pool).await,
            }
            }
        }
    };
}
pub(super) use portable_analytics;
