//! What the server adds between Ollama and the browser.
//!
//! For a 200-token answer from the fake Ollama, measures time to first token and total time,
//! (a) read directly from the fake Ollama and (b) through OllamaStack: POST the message, then
//! follow its server-sent events, as the page does. Prints median and 90th percentile.
//!
//!     cargo bench --features ssr --bench relay [-- RUNS]

use ollamastack::config::Settings;
use ollamastack::llm::{ChatEvent, ChatMessage, ChatRequest, OllamaClient};
use ollamastack::state::AppState;
use ollamastack::testing::fake_ollama::{FakeConfig, FakeOllama};
use std::time::{Duration, Instant};

const PROMPT: &str = "benchmark [tokens=200][delay=1]";

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    let fake = FakeOllama::start(FakeConfig::default())
        .await
        .expect("fake ollama");
    let data = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.database.data_dir = data.path().to_path_buf();
    settings.ollama.url = fake.url();
    settings.log.filter = "warn".into();
    let options = leptos::config::LeptosOptions::builder()
        .output_name("ollamastack")
        .build();
    let state = AppState::build(settings.clone(), options)
        .await
        .expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(ollamastack::web::serve(
        listener,
        state,
        std::future::pending(),
    ));
    let http = reqwest::Client::new();
    let ollama = OllamaClient::new(&settings.ollama);

    // Warm up both paths.
    for _ in 0..3 {
        direct(&ollama).await;
        relayed(&http, &app_url).await;
    }
    let mut direct_runs = Vec::with_capacity(runs);
    let mut relayed_runs = Vec::with_capacity(runs);
    for _ in 0..runs {
        direct_runs.push(direct(&ollama).await);
        relayed_runs.push(relayed(&http, &app_url).await);
    }
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
}

async fn direct(ollama: &OllamaClient) -> (Duration, Duration) {
    let started = Instant::now();
    let request = ChatRequest {
        model: "llama3.2".into(),
        messages: vec![ChatMessage {
            role: "user".into(),
            content: PROMPT.into(),
        }],
        options: Default::default(),
    };
    let mut stream = ollama.chat_stream(&request).await.expect("chat");
    let mut first = None;
    while let Some(event) = stream.next().await.expect("stream") {
        match event {
            ChatEvent::Delta(_) => {
                first.get_or_insert_with(|| started.elapsed());
            }
            ChatEvent::Done(_) => break,
        }
    }
    (first.expect("a token"), started.elapsed())
}

async fn relayed(http: &reqwest::Client, app: &str) -> (Duration, Duration) {
    let started = Instant::now();
    let created: serde_json::Value = http
        .post(format!("{app}/api/v1/conversations"))
        .json(&serde_json::json!({ "content": PROMPT, "model": "llama3.2" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["assistant_message"]["id"]
        .as_str()
        .expect("an answer id")
        .to_string();
    let mut response = http
        .get(format!("{app}/api/v1/messages/{id}/events"))
        .send()
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let mut first = None;
    while let Some(chunk) = response.chunk().await.unwrap() {
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let frame: Vec<u8> = buffer.drain(..end + 2).collect();
            let frame = String::from_utf8_lossy(&frame);
            let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data:")) else {
                continue;
            };
            let event: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
            match event["type"].as_str() {
                Some("snapshot") | Some("delta")
                    if event["content"].as_str().is_some_and(|c| !c.is_empty()) =>
                {
                    first.get_or_insert_with(|| started.elapsed());
                }
                Some("done") => {
                    assert_eq!(event["message"]["status"], "complete");
                    return (
                        first.unwrap_or_else(|| started.elapsed()),
                        started.elapsed(),
                    );
                }
                _ => {}
            }
        }
    }
    panic!("the event stream ended before done");
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
