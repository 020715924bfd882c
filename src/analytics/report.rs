//! A person's figures over a timeframe, read from the hourly rollups.

use super::{
    bucket_value, day_of, hour_of, CONVERSATION_CREATED, FILE_UPLOADED, GENERATION_FINISHED,
};
use super::{MESSAGE_SENT, RESPONSE, TOOL_FINISHED, TTFT};
use crate::db::analytics::{BucketCount, BucketTotals, KindTotals};
use crate::db::SharedStore;
use crate::model::{
    AnalyticsReport, Bucket, Count, Latency, ModelShare, SeriesPoint, Timeframe, Totals,
};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Most models listed.
const TOP_MODELS: usize = 10;

/// The start of the window: whole buckets, the current one included.
pub fn window_start(timeframe: Timeframe, now: DateTime<Utc>) -> DateTime<Utc> {
    let span = timeframe.buckets() - 1;
    match timeframe.bucket() {
        Bucket::Hour => hour_of(now) - TimeDelta::hours(span),
        Bucket::Day => day_of(now) - TimeDelta::days(span),
    }
}

pub async fn report(
    store: &SharedStore,
    whose: crate::db::analytics::ReportScope,
    timeframe: Timeframe,
    now: DateTime<Utc>,
) -> Result<AnalyticsReport, sqlx::Error> {
    let from = window_start(timeframe, now);
    // The window is whole buckets: the rollups of that size hold it exactly.
    let size = timeframe.bucket();
    let (totals, hours, latency) = tokio::try_join!(
        store.totals_since(whose, size, from),
        store.buckets_since(whose, size, from),
        store.latency_since(whose, size, from),
    )?;
    Ok(build(timeframe, from, now, &totals, &hours, &latency))
}

/// Nearest-rank percentile `p` (0 to 1) of a histogram, as the value its bucket stands for.
fn percentile(buckets: &[(i32, i64)], p: f64) -> Option<f64> {
    let total: i64 = buckets.iter().map(|(_, c)| c).sum();
    if total == 0 {
        return None;
    }
    let rank = ((p * total as f64).ceil() as i64).max(1);
    let mut seen = 0;
    for (bucket, count) in buckets {
        seen += count;
        if seen >= rank {
            return Some(round1(bucket_value(*bucket)));
        }
    }
    None
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn latency(
    totals: &[&KindTotals],
    histogram: &[(i32, i64)],
    sum: fn(&KindTotals) -> (i64, i64),
) -> Latency {
    let (ms, count) = totals
        .iter()
        .map(|t| sum(t))
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    Latency {
        count,
        avg_ms: (count > 0).then(|| round1(ms as f64 / count as f64)),
        p50_ms: percentile(histogram, 0.50),
        p95_ms: percentile(histogram, 0.95),
    }
}

fn build(
    timeframe: Timeframe,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
    totals: &[KindTotals],
    hours: &[BucketTotals],
    latency_counts: &[BucketCount],
) -> AnalyticsReport {
    let count_of = |kind: &str| -> i64 {
        totals
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.events)
            .sum()
    };
    let answers: Vec<&KindTotals> = totals
        .iter()
        .filter(|t| t.kind == GENERATION_FINISHED)
        .collect();
    let answer_count: i64 = answers.iter().map(|t| t.events).sum();
    let complete: Vec<&KindTotals> = answers
        .iter()
        .copied()
        .filter(|t| t.status == "complete")
        .collect();

    let mut by_kind: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_status: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_model: HashMap<&str, i64> = HashMap::new();
    for t in totals {
        *by_kind.entry(&t.kind).or_default() += t.events;
    }
    for t in &answers {
        *by_status.entry(&t.status).or_default() += t.events;
        *by_model.entry(&t.model).or_default() += t.events;
    }
    let mut top_models: Vec<ModelShare> = by_model
        .into_iter()
        .map(|(model, answers)| ModelShare {
            model: if model.is_empty() {
                "unknown".into()
            } else {
                model.to_string()
            },
            answers,
            share: if answer_count > 0 {
                answers as f64 / answer_count as f64
            } else {
                0.0
            },
        })
        .collect();
    top_models.sort_by(|a, b| {
        b.answers
            .cmp(&a.answers)
            .then_with(|| a.model.cmp(&b.model))
    });
    top_models.truncate(TOP_MODELS);
    let mut events_by_type: Vec<Count> = by_kind
        .into_iter()
        .map(|(name, count)| Count {
            name: name.to_string(),
            count,
        })
        .collect();
    events_by_type.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));

    let histogram = |metric: &str| -> Vec<(i32, i64)> {
        let mut buckets: Vec<(i32, i64)> = latency_counts
            .iter()
            .filter(|b| b.metric == metric)
            .map(|b| (b.bucket, b.count))
            .collect();
        buckets.sort_unstable();
        buckets
    };
    let (rate_tokens, rate_ms) = answers
        .iter()
        .fold((0i64, 0i64), |(t, m), a| (t + a.rate_tokens, m + a.rate_ms));
    let errors = by_status.get("error").copied().unwrap_or(0);

    // The series: every bucket of the window, empty ones included.
    let bucket = timeframe.bucket();
    let step = match bucket {
        Bucket::Hour => TimeDelta::hours(1),
        Bucket::Day => TimeDelta::days(1),
    };
    let mut series: BTreeMap<DateTime<Utc>, SeriesPoint> = BTreeMap::new();
    let mut start = from;
    while start <= now {
        series.insert(
            start,
            SeriesPoint {
                start,
                messages: 0,
                answers: 0,
                errors: 0,
                completion_tokens: 0,
            },
        );
        start += step;
    }
    let mut active_days = BTreeSet::new();
    for h in hours {
        if h.events > 0 {
            active_days.insert(day_of(h.start));
        }
        let key = h.start;
        let Some(point) = series.get_mut(&key) else {
            continue;
        };
        if h.kind == MESSAGE_SENT {
            point.messages += h.events;
        } else if h.kind == GENERATION_FINISHED {
            point.answers += h.events;
            point.completion_tokens += h.completion_tokens;
            if h.status == "error" {
                point.errors += h.events;
            }
        }
    }

    AnalyticsReport {
        timeframe,
        from,
        to: now,
        bucket,
        totals: Totals {
            messages: count_of(MESSAGE_SENT),
            conversations: count_of(CONVERSATION_CREATED),
            answers: answer_count,
            tool_calls: count_of(TOOL_FINISHED),
            uploads: count_of(FILE_UPLOADED),
            active_days: active_days.len() as i64,
            prompt_tokens: answers.iter().map(|t| t.prompt_tokens).sum(),
            completion_tokens: answers.iter().map(|t| t.completion_tokens).sum(),
        },
        response_time: latency(&complete, &histogram(RESPONSE), |t| {
            (t.duration_ms_sum, t.duration_count)
        }),
        time_to_first_token: latency(&complete, &histogram(TTFT), |t| {
            (t.ttft_ms_sum, t.ttft_count)
        }),
        tokens_per_second: (rate_ms > 0)
            .then(|| round1(rate_tokens as f64 * 1000.0 / rate_ms as f64)),
        error_rate: if answer_count > 0 {
            errors as f64 / answer_count as f64
        } else {
            0.0
        },
        statuses: by_status
            .into_iter()
            .map(|(name, count)| Count {
                name: name.to_string(),
                count,
            })
            .collect(),
        top_models,
        events_by_type,
        series: series.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_whole_buckets_ending_now() {
        let now = "2026-12-01T15:47:41Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            window_start(Timeframe::Day, now),
            "2026-11-30T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            window_start(Timeframe::Week, now),
            "2026-11-25T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            window_start(Timeframe::Month, now),
            "2026-11-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let report = build(
            Timeframe::Week,
            window_start(Timeframe::Week, now),
            now,
            &[],
            &[],
            &[],
        );
        assert_eq!(report.series.len(), 7);
        assert!(report.is_empty());
        assert_eq!(report.response_time.p50_ms, None);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values = [100i64, 200, 300, 400, 1_000];
        let mut buckets: Vec<(i32, i64)> = values
            .iter()
            .map(|&v| (super::super::latency_bucket(v), 1))
            .collect();
        buckets.sort_unstable();
        let p50 = percentile(&buckets, 0.5).unwrap();
        let p95 = percentile(&buckets, 0.95).unwrap();
        assert!((p50 - 300.0).abs() <= 3.0, "{p50}");
        assert!((p95 - 1_000.0).abs() <= 10.0, "{p95}");
    }
}
