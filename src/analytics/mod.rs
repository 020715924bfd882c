//! Analytics: every outbox event becomes an analytics event, recorded by a background task (or
//! by a report catching up), never inside a request's or a generation's own work. Events are
//! rolled up by hour as they are recorded (counts, sums and a latency histogram), so that a
//! report reads a few thousand rows whatever the number of events.

pub mod report;

use crate::db::{OutboxEvent, SharedStore};
use crate::model::Bucket;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

/// Outbox kinds that analytics reads specially.
pub const MESSAGE_SENT: &str = crate::db::OUTBOX_MESSAGE_SENT;
pub const CONVERSATION_CREATED: &str = crate::db::OUTBOX_CONVERSATION_CREATED;
pub const GENERATION_FINISHED: &str = crate::db::OUTBOX_GENERATION_FINISHED;
pub const TOOL_FINISHED: &str = crate::db::OUTBOX_TOOL_FINISHED;
pub const FILE_UPLOADED: &str = crate::db::documents::OUTBOX_FILE_UPLOADED;

/// One recorded event, with what reports read from its payload.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct AnalyticsEvent {
    /// The outbox event's id: recording twice is recording once.
    pub id: Uuid,
    pub owner_id: Uuid,
    pub kind: String,
    pub at: DateTime<Utc>,
    pub model: Option<String>,
    pub status: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub duration_ms: Option<i64>,
}

impl AnalyticsEvent {
    pub fn from_outbox(event: &OutboxEvent) -> AnalyticsEvent {
        let payload: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
        let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_string);
        let number = |key: &str| payload.get(key).and_then(Value::as_i64);
        AnalyticsEvent {
            id: event.id,
            owner_id: event.owner_id,
            kind: event.kind.clone(),
            at: event.created_at,
            model: text("model"),
            status: text("status"),
            prompt_tokens: number("prompt_tokens"),
            completion_tokens: number("completion_tokens"),
            ttft_ms: number("ttft_ms"),
            duration_ms: number("duration_ms"),
        }
    }
}

/// The start of the hour `at` falls in.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

/// The start of the UTC day `at` falls in.
pub fn day_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::days(1)).unwrap_or(at)
}

/// The start of the bucket `at` falls in.
pub fn bucket_of(bucket: Bucket, at: DateTime<Utc>) -> DateTime<Utc> {
    match bucket {
        Bucket::Hour => hour_of(at),
        Bucket::Day => day_of(at),
    }
}

/// Latency histogram buckets grow by 2%: a percentile read from them is within 1% of the
/// true value (bucket 0 holds 0 ms).
const BUCKET_GROWTH: f64 = 1.02;

pub fn latency_bucket(ms: i64) -> i32 {
    let ms = ms.max(0) as f64;
    ((ms + 1.0).ln() / BUCKET_GROWTH.ln()).round() as i32
}

/// The value a bucket stands for.
pub fn bucket_value(bucket: i32) -> f64 {
    (BUCKET_GROWTH.powi(bucket) - 1.0).max(0.0)
}

/// Counts and sums of one bucket (hour or day), kind, model and status.
#[derive(Clone, Debug, Default, PartialEq, sqlx::FromRow)]
pub struct Rollup {
    pub owner_id: Uuid,
    pub start: DateTime<Utc>,
    pub kind: String,
    /// "" when the event has none.
    pub model: String,
    pub status: String,
    pub events: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub duration_ms_sum: i64,
    pub duration_count: i64,
    pub ttft_ms_sum: i64,
    pub ttft_count: i64,
    /// Completion tokens and generating time (duration less time to first token) of answers
    /// reporting all three: tokens per second.
    pub rate_tokens: i64,
    pub rate_ms: i64,
}

/// How many complete answers of one bucket (hour or day) fell in one latency bucket.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct LatencyCount {
    pub owner_id: Uuid,
    pub start: DateTime<Utc>,
    /// `response` or `ttft`.
    pub metric: String,
    pub bucket: i32,
    pub count: i64,
}

pub const RESPONSE: &str = "response";
pub const TTFT: &str = "ttft";

/// What `events` add to the rollups of `bucket` size.
pub fn rollups_of(events: &[AnalyticsEvent], bucket: Bucket) -> (Vec<Rollup>, Vec<LatencyCount>) {
    let mut hourly: HashMap<(Uuid, DateTime<Utc>, &str, &str, &str), Rollup> = HashMap::new();
    let mut latency: HashMap<(Uuid, DateTime<Utc>, &str, i32), i64> = HashMap::new();
    for event in events {
        let hour = bucket_of(bucket, event.at);
        let model = event.model.as_deref().unwrap_or("");
        let status = event.status.as_deref().unwrap_or("");
        let row = hourly
            .entry((event.owner_id, hour, &event.kind, model, status))
            .or_insert_with(|| Rollup {
                owner_id: event.owner_id,
                start: hour,
                kind: event.kind.clone(),
                model: model.to_string(),
                status: status.to_string(),
                ..Default::default()
            });
        row.events += 1;
        row.prompt_tokens += event.prompt_tokens.unwrap_or(0);
        row.completion_tokens += event.completion_tokens.unwrap_or(0);
        if let Some(ms) = event.duration_ms {
            row.duration_ms_sum += ms;
            row.duration_count += 1;
        }
        if let Some(ms) = event.ttft_ms {
            row.ttft_ms_sum += ms;
            row.ttft_count += 1;
        }
        if let (Some(tokens), Some(duration), Some(ttft)) =
            (event.completion_tokens, event.duration_ms, event.ttft_ms)
        {
            if tokens > 0 && duration > ttft {
                row.rate_tokens += tokens;
                row.rate_ms += duration - ttft;
            }
        }
        if event.kind == GENERATION_FINISHED && status == "complete" {
            for (metric, value) in [(RESPONSE, event.duration_ms), (TTFT, event.ttft_ms)] {
                if let Some(ms) = value {
                    *latency
                        .entry((event.owner_id, hour, metric, latency_bucket(ms)))
                        .or_default() += 1;
                }
            }
        }
    }
    let latency = latency
        .into_iter()
        .map(|((owner_id, start, metric, bucket), count)| LatencyCount {
            owner_id,
            start,
            metric: metric.to_string(),
            bucket,
            count,
        })
        .collect();
    (hourly.into_values().collect(), latency)
}

/// Outbox events read at once.
const BATCH: i64 = 500;

/// Records what the outbox holds and analytics does not yet: batches until none is left.
/// Safe to run on several instances at once (an event is recorded once, whoever records it).
pub async fn catch_up(store: &SharedStore) -> Result<usize, sqlx::Error> {
    let mut recorded = 0;
    loop {
        let pending = store.unrecorded_events(BATCH).await?;
        let events: Vec<AnalyticsEvent> = pending.iter().map(AnalyticsEvent::from_outbox).collect();
        recorded += store.record_events(&events).await?;
        if (pending.len() as i64) < BATCH {
            return Ok(recorded);
        }
    }
}

/// Records outbox events every `interval` until `shutdown`.
pub fn spawn_recorder(
    store: SharedStore,
    interval: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    crate::periodic::every(interval, shutdown, move || {
        let store = store.clone();
        async move {
            if let Err(error) = catch_up(&store).await {
                tracing::warn!(%error, "analytics: recording events failed; trying again");
            }
            std::ops::ControlFlow::Continue(())
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_are_within_one_percent() {
        for ms in [0i64, 1, 2, 7, 35, 120, 999, 1_234, 45_678, 1_800_000] {
            let value = bucket_value(latency_bucket(ms));
            let error = (value - ms as f64).abs();
            assert!(error <= 0.01 * ms as f64 + 0.5, "{ms} ms reads as {value}");
        }
        assert!(latency_bucket(10) < latency_bucket(11));
    }

    #[test]
    fn rollups_sum_what_each_hour_saw() {
        let owner = Uuid::now_v7();
        let at = "2026-12-01T10:15:00Z".parse::<DateTime<Utc>>().unwrap();
        let answer = |status: &str, duration: i64, ttft: i64, tokens: i64| AnalyticsEvent {
            id: Uuid::now_v7(),
            owner_id: owner,
            kind: GENERATION_FINISHED.into(),
            at,
            model: Some("llama3.2".into()),
            status: Some(status.into()),
            prompt_tokens: Some(10),
            completion_tokens: Some(tokens),
            ttft_ms: Some(ttft),
            duration_ms: Some(duration),
        };
        let (hourly, latency) = rollups_of(
            &[
                answer("complete", 1_000, 200, 40),
                answer("complete", 3_000, 1_000, 100),
                answer("error", 500, 100, 0),
            ],
            Bucket::Hour,
        );
        let complete = hourly.iter().find(|r| r.status == "complete").unwrap();
        assert_eq!(
            complete.start,
            "2026-12-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let (daily, _) = rollups_of(&[answer("complete", 1, 1, 1)], Bucket::Day);
        assert_eq!(
            daily[0].start,
            "2026-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            (
                complete.events,
                complete.prompt_tokens,
                complete.completion_tokens
            ),
            (2, 20, 140)
        );
        assert_eq!(
            (complete.duration_ms_sum, complete.ttft_ms_sum),
            (4_000, 1_200)
        );
        assert_eq!((complete.rate_tokens, complete.rate_ms), (140, 2_800));
        assert_eq!(
            hourly.iter().find(|r| r.status == "error").unwrap().events,
            1
        );
        // Only complete answers go in the latency histogram: two of each metric.
        assert_eq!(latency.iter().map(|l| l.count).sum::<i64>(), 4);
    }
}
