//! The analytics dashboard's query at 1,000,000 recorded events, on SQLite and PostgreSQL:
//! events recorded through the same code as the recorder (rows and hourly rollups), in time
//! order over 30 days, then each timeframe's report timed (what `GET /api/v1/analytics` does:
//! catch up on the outbox, read the rollups, build the figures).
//!
//! Run: `cargo bench --features ssr --bench analytics_report` (PostgreSQL at
//! `TEST_POSTGRES_URL`, default postgres://postgres@127.0.0.1:5432/postgres; a database is
//! created for the run and dropped after). `EVENTS=100000` for a shorter run.

use chrono::{TimeDelta, Utc};
use ollamastack::analytics::{self, AnalyticsEvent};
use ollamastack::config::DatabaseSettings;
use ollamastack::db::SharedStore;
use ollamastack::model::Timeframe;
use sqlx::Connection;
use std::time::Instant;
use uuid::Uuid;

const MODELS: &[&str] = &["llama3.2", "qwen3:4b", "gemma3:12b", "mistral-small"];
const RUNS: usize = 30;

/// A small deterministic generator (xorshift64*): the same events on every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn event(random: &mut Random, owner: Uuid, at: chrono::DateTime<Utc>) -> AnalyticsEvent {
    let roll = random.below(100);
    let kind = match roll {
        0..=29 => "message.sent",
        30..=34 => "conversation.created",
        35..=74 => "generation.finished",
        75..=89 => "tool.finished",
        90..=94 => "file.uploaded",
        _ => "file.indexed",
    };
    let answer = kind == "generation.finished";
    let status = match random.below(100) {
        0..=89 => "complete",
        90..=94 => "error",
        95..=97 => "stopped",
        _ => "interrupted",
    };
    let ttft = 50 + random.below(2_000) as i64;
    let tokens = 20 + random.below(800) as i64;
    AnalyticsEvent {
        id: Uuid::now_v7(),
        owner_id: owner,
        kind: kind.into(),
        at,
        model: answer.then(|| MODELS[random.below(MODELS.len() as u64) as usize].into()),
        status: answer.then(|| status.into()),
        prompt_tokens: answer.then(|| 30 + random.below(3_000) as i64),
        completion_tokens: answer.then_some(tokens),
        ttft_ms: answer.then_some(ttft),
        duration_ms: answer.then(|| ttft + tokens * (15 + random.below(30) as i64)),
    }
}

async fn fill(store: &SharedStore, owner: Uuid, events: usize) -> f64 {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let start = Utc::now() - TimeDelta::days(30);
    let step_ms = (30 * 24 * 3_600_000 / events as i64).max(1);
    let started = Instant::now();
    let batch = 5_000;
    let mut made = 0;
    while made < events {
        let n = batch.min(events - made);
        let chunk: Vec<AnalyticsEvent> = (0..n)
            .map(|i| {
                let at = start + TimeDelta::milliseconds(step_ms * (made + i) as i64);
                event(&mut random, owner, at)
            })
            .collect();
        store.record_events(&chunk).await.expect("record events");
        made += n;
    }
    started.elapsed().as_secs_f64()
}

async fn measure(name: &str, store: SharedStore, events: usize) {
    let owner = store.ensure_user("bench").await.expect("user");
    let seconds = fill(&store, owner, events).await;
    println!(
        "{name}: recorded {events} events in {seconds:.1} s ({:.0} events/s, rows and rollups)",
        events as f64 / seconds
    );
    for timeframe in Timeframe::ALL {
        let mut times = Vec::with_capacity(RUNS);
        let mut answers = 0;
        // One unmeasured run warms the caches, as a dashboard that is open would.
        for run in 0..=RUNS {
            let started = Instant::now();
            analytics::catch_up(&store).await.expect("catch up");
            let report = analytics::report::report(
                &store,
                ollamastack::db::analytics::ReportScope::Person(owner),
                timeframe,
                Utc::now(),
            )
            .await
            .expect("report");
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            answers = report.totals.answers;
            if run > 0 {
                times.push(ms);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name}: report {:>3}: median {:.2} ms, p95 {:.2} ms, max {:.2} ms ({answers} answers in the window)",
            timeframe.as_str(),
            times[times.len() / 2],
            times[(times.len() * 95).div_ceil(100) - 1],
            times[times.len() - 1],
        );
    }
    store.close().await;
}

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);

    let dir = tempfile::tempdir().expect("temporary folder");
    let sqlite = ollamastack::db::connect(&DatabaseSettings {
        url: None,
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    })
    .await
    .expect("SQLite");
    measure("sqlite", sqlite, events).await;

    let admin = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("bench_analytics_{}", std::process::id());
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL (set TEST_POSTGRES_URL)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .expect("create the bench database");
    let url = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("a PostgreSQL URL ending in a database name"),
    };
    let postgres = ollamastack::db::connect(&DatabaseSettings {
        url: Some(url),
        ..Default::default()
    })
    .await
    .expect("PostgreSQL");
    measure("postgres", postgres, events).await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut connection)
        .await
        .expect("drop the bench database");
}
