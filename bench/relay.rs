//! What the server adds between Ollama and the browser.
//!
//! For a 200-token answer from the fake Ollama, measures time to first token and total time,
//! (a) read directly from the fake Ollama and (b) through OllamaStack: POST the message, then
//! follow its server-sent events, as the page does. Prints median and 90th percentile.
//! Then a 20,000-token answer (about 120,000 characters), the same two ways, with the CPU time
//! the whole process used: what storing a long answer costs (flushes append, so it stays linear).
//!
//!     cargo bench --features ssr --bench relay [-- RUNS]

mod common;

use ollamastack::llm::{ChatEvent, ChatMessage, ChatRequest, OllamaClient};
use ollamastack::testing::fake_ollama::{FakeConfig, FakeOllama};
use std::time::{Duration, Instant};

const PROMPT: &str = "benchmark [tokens=200][delay=1]";
const LONG_PROMPT: &str = "long benchmark [tokens=20000][delay=1]";
const LONG_RUNS: usize = 3;

// The client (the measurer) on this thread; Ollama and the server each on a runtime of their
// own, as the separate processes they are in production, so that one's tasks and timers never
// wait for another's turn on a shared worker (the measurement before 2026-12-04 shared one).
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    // `RELAY_LOG=sqlx::query=debug,ollamastack=debug` (say): what the server did, with
    // microsecond timestamps, to see where the added time goes. Off by default: logging costs.
    if let Ok(filter) = std::env::var("RELAY_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_timer(tracing_subscriber::fmt::time::uptime())
            .with_writer(std::io::stderr)
            .init();
    }
    let fake = on_own_runtime(1, || async {
        FakeOllama::start(FakeConfig::default())
            .await
            .expect("fake ollama")
    });
    let data = tempfile::tempdir().unwrap();
    let mut settings = common::settings(data.path(), &fake.url());
    settings.log.filter = "warn".into();
    settings.generation.max_answer_tokens = 20_000;
    let served = on_own_runtime(2, {
        let settings = settings.clone();
        move || common::serve(settings)
    });
    let app_url = served.url.clone();
    let http = reqwest::Client::new();
    let ollama = OllamaClient::new(&settings.ollama);

    // Warm up both paths.
    for _ in 0..3 {
        direct(&ollama, PROMPT).await;
        relayed(&http, &app_url, PROMPT).await;
    }
    let mut direct_runs = Vec::with_capacity(runs);
    let mut relayed_times = Vec::with_capacity(runs);
    for _ in 0..runs {
        direct_runs.push(direct(&ollama, PROMPT).await);
        relayed_times.push(relayed_timed(&http, &app_url, PROMPT).await);
    }
    let relayed_runs: Vec<(Duration, Duration)> = relayed_times
        .iter()
        .map(|t| (t.first_text, t.done))
        .collect();
    println!("relay benchmark: 200-token answers, {runs} runs each, fake Ollama with 1 ms between tokens (SQLite)");
    println!(
        "{:<28} {:>12} {:>12} {:>12} {:>12}",
        "", "TTFT p50", "TTFT p90", "total p50", "total p90"
    );
    report("direct from Ollama", &direct_runs);
    report("through OllamaStack (SSE)", &relayed_runs);
    let added = |f: fn(&(Duration, Duration)) -> Duration, q: f64| {
        percentile(relayed_runs.iter().map(f).collect(), q).as_secs_f64() * 1000.0
            - percentile(direct_runs.iter().map(f).collect(), q).as_secs_f64() * 1000.0
    };
    println!(
        "added by the server: first token {:+.2} ms (p50), {:+.2} ms (p90); total {:+.2} ms (p50), {:+.2} ms (p90)",
        added(|r| r.0, 0.5),
        added(|r| r.0, 0.9),
        added(|r| r.1, 0.5),
        added(|r| r.1, 0.9)
    );
    // Where the first token's time goes, each part's median.
    let median = |part: fn(&common::ChatTimes) -> Duration| {
        percentile(relayed_times.iter().map(part).collect(), 0.5).as_secs_f64() * 1000.0
    };
    println!(
        "first token through OllamaStack, medians: POST answered {:.2} ms (server's own time {:.2} ms), event stream open +{:.2} ms, first text +{:.2} ms",
        median(|t| t.posted),
        median(|t| t.post_server),
        median(|t| t.events_open.saturating_sub(t.posted)),
        median(|t| t.first_text.saturating_sub(t.events_open)),
    );

    // A long answer: 20,000 tokens, 1 ms apart.
    let mut long_direct = Vec::new();
    let mut long_relayed = Vec::new();
    let mut cpu_direct = Duration::ZERO;
    let mut cpu_relayed = Duration::ZERO;
    for _ in 0..LONG_RUNS {
        let cpu = common::cpu_time();
        long_direct.push(direct(&ollama, LONG_PROMPT).await);
        cpu_direct += common::cpu_time() - cpu;
        let cpu = common::cpu_time();
        long_relayed.push(relayed(&http, &app_url, LONG_PROMPT).await);
        cpu_relayed += common::cpu_time() - cpu;
    }
    println!();
    println!("long answer: 20,000 tokens, {LONG_RUNS} runs each, 1 ms between tokens (SQLite, flush every 500 ms)");
    println!(
        "{:<28} {:>12} {:>12} {:>12} {:>12}",
        "", "TTFT p50", "TTFT p90", "total p50", "total p90"
    );
    report("direct from Ollama", &long_direct);
    report("through OllamaStack (SSE)", &long_relayed);
    println!(
        "CPU time of the whole process per answer (fake Ollama included): direct {:.0} ms, through OllamaStack {:.0} ms",
        cpu_direct.as_secs_f64() * 1000.0 / LONG_RUNS as f64,
        cpu_relayed.as_secs_f64() * 1000.0 / LONG_RUNS as f64
    );
}

/// What `start` makes, made and then served on a tokio runtime of its own (`workers` threads;
/// one: a current-thread runtime) that lives as long as the process.
fn on_own_runtime<T, F>(workers: usize, start: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: std::future::Future<Output = T>,
{
    let (made, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = if workers == 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
        }
        .expect("a runtime");
        runtime.block_on(async move {
            let _ = made.send(start().await);
            std::future::pending::<()>().await
        })
    });
    receive.recv().expect("started")
}

async fn direct(ollama: &OllamaClient, prompt: &str) -> (Duration, Duration) {
    let started = Instant::now();
    let request = ChatRequest {
        model: "llama3.2".into(),
        messages: vec![ChatMessage::new("user", prompt)],
        options: Default::default(),
        tools: Vec::new(),
        format: None,
    };
    let mut stream = ollama.chat_stream(&request).await.expect("chat");
    let mut first = None;
    while let Some(event) = stream.next().await.expect("stream") {
        match event {
            ChatEvent::Delta(_) | ChatEvent::ToolCalls(_) | ChatEvent::Thinking(_) => {
                first.get_or_insert_with(|| started.elapsed());
            }
            ChatEvent::Done(_) => break,
        }
    }
    (first.expect("a token"), started.elapsed())
}

async fn relayed(http: &reqwest::Client, app: &str, prompt: &str) -> (Duration, Duration) {
    let times = relayed_timed(http, app, prompt).await;
    (times.first_text, times.done)
}

async fn relayed_timed(http: &reqwest::Client, app: &str, prompt: &str) -> common::ChatTimes {
    common::follow_chat_timed(http, app, prompt)
        .await
        .unwrap_or_else(|reason| panic!("the relayed answer: {reason}"))
}

fn percentile(mut values: Vec<Duration>, q: f64) -> Duration {
    values.sort();
    values[((values.len() as f64 - 1.0) * q).round() as usize]
}

fn report(name: &str, runs: &[(Duration, Duration)]) {
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    let ttft: Vec<_> = runs.iter().map(|r| r.0).collect();
    let total: Vec<_> = runs.iter().map(|r| r.1).collect();
    println!(
        "{:<28} {:>12} {:>12} {:>12} {:>12}",
        name,
        ms(percentile(ttft.clone(), 0.5)),
        ms(percentile(ttft, 0.9)),
        ms(percentile(total.clone(), 0.5)),
        ms(percentile(total, 0.9))
    );
}
