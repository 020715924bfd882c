//! Many chats at once: N people's worth of chats started together against one server, each
//! followed to its end over server-sent events as the page does, on SQLite and on PostgreSQL.
//! Prints, per backend and N: wall time, failures, time to first token and to the end
//! (p50/p95), and the memory of the process (server, fake Ollama and clients together: peak
//! RSS and its growth over the idle server) and the CPU time it used for the N chats (user and
//! system; PostgreSQL's own processes are not counted).
//!
//!     cargo bench --features ssr --bench concurrency [-- 50,500 [sqlite|postgres|both]]
//!
//! Each answer is 40 tokens 25 ms apart (about 1 s, a small model on a fast GPU) from the fake
//! Ollama, whose lines are cut at random bytes. Admission caps and stream slots are set to N
//! (the defaults, 16 generations and 4 per person, would queue most of them with 429: that is
//! admission control working, not what this measures); rate limits are off. PostgreSQL is
//! `postgres://postgres@127.0.0.1:5432` (BENCH_POSTGRES_URL), a fresh database per run.

mod common;

use ollamastack::testing::fake_ollama::{FakeConfig, FakeOllama};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROMPT: &str = "a chat among many [tokens=40][delay=25]";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let counts: Vec<usize> = args
        .iter()
        .find(|a| a.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|a| a.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![50, 500]);
    let backends = common::backends(&args);

    println!("concurrency benchmark: N chats started at once, 40 tokens 25 ms apart each, followed over SSE");
    println!(
        "{:<10} {:>5} {:>9} {:>8} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9}",
        "backend",
        "N",
        "wall",
        "failed",
        "TTFT p50",
        "TTFT p95",
        "end p50",
        "end p95",
        "peak RSS",
        "growth",
        "CPU"
    );
    for backend in backends {
        for &n in &counts {
            run(backend, n).await;
        }
    }
}

async fn run(backend: &str, n: usize) {
    let fake = FakeOllama::start(FakeConfig::default())
        .await
        .expect("fake ollama");
    let data = tempfile::tempdir().unwrap();
    let mut settings = common::settings(data.path(), &fake.url());
    settings.limits.max_streams_per_person = n + 8;
    settings.generation.max_concurrent = n;
    settings.generation.max_concurrent_per_owner = n;
    let mut dropped_database = None;
    if backend == "postgres" {
        let (url, name) = common::fresh_postgres().await;
        settings.database.url = Some(url);
        dropped_database = Some(name);
    }
    let served = common::serve(settings).await;
    let app = served.url.clone();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(n)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    // Warm: one chat, so that pages of code and the database are in memory.
    let _ = common::follow_chat(&http, &app, PROMPT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_kb("VmRSS");

    let peak = Arc::new(AtomicU64::new(idle));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kb("VmRSS"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let cpu = common::cpu_time();
    let chats: Vec<_> = (0..n)
        .map(|_| {
            let (http, app) = (http.clone(), app.clone());
            tokio::spawn(async move { common::follow_chat(&http, &app, PROMPT).await })
        })
        .collect();
    let mut firsts = Vec::new();
    let mut ends = Vec::new();
    let mut failed = 0;
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for handle in chats {
        match handle.await.expect("chat task") {
            Ok((first, end)) => {
                firsts.push(first);
                ends.push(end);
            }
            Err(reason) => {
                failed += 1;
                *reasons.entry(reason).or_default() += 1;
            }
        }
    }
    let wall = started.elapsed();
    let cpu = common::cpu_time() - cpu;
    sampling.abort();
    let peak = peak.load(Ordering::Relaxed);
    println!(
        "{:<10} {:>5} {:>7.2} s {:>8} {:>10} {:>10} {:>10} {:>10} {:>6} MB {:>6} MB {:>7.2} s",
        backend,
        n,
        wall.as_secs_f64(),
        failed,
        ms(common::percentile(&mut firsts, 0.5)),
        ms(common::percentile(&mut firsts, 0.95)),
        ms(common::percentile(&mut ends, 0.5)),
        ms(common::percentile(&mut ends, 0.95)),
        peak / 1024,
        peak.saturating_sub(idle) / 1024,
        cpu.as_secs_f64(),
    );
    for (reason, count) in reasons {
        println!("    {count} failed: {reason}");
    }
    served.stop().await;
    if let Some(name) = dropped_database {
        common::drop_postgres(&name).await;
    }
}

/// A line of /proc/self/status in kB (VmRSS now, VmHWM the peak).
fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}
