//! Two instances behind one address on one PostgreSQL, as separate processes of the server
//! binary (the same secret key, their own data folders), with a round-robin TCP proxy in front
//! that skips an instance that refuses connections (what a load balancer does).
//!
//!     cargo bench --features ssr --bench two_instances [-- RUNS]
//!
//! 1. Followed on the other instance: answers written by A (60 tokens, 10 ms apart, from the
//!    fake Ollama) are followed at once on A and on B; B's events come through PostgreSQL
//!    LISTEN/NOTIFY. Prints when each saw its first text and the end (p50/p95), and whether B
//!    got every answer whole.
//! 2. One killed mid-answer: a long answer written by A is followed on A; A is killed
//!    (SIGKILL, no shutdown) 1.5 s in. The follower reconnects through the proxy (which now
//!    sends it to B) and follows on. Prints the time to a live stream again, the characters it had seen that
//!    the database did not have (lost with A's last flush interval), and the time until B marks
//!    the answer interrupted (heartbeat timeout 2 s, sweep every 250 ms), with its text kept.
//!
//! PostgreSQL is `postgres://postgres@127.0.0.1:5432` (BENCH_POSTGRES_URL), a fresh database.

mod common;

use ollamastack::testing::fake_ollama::{expected_answer, FakeConfig, FakeOllama};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET_KEY: &str = "a-benchmark-secret-key-shared-by-both-instances";

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let fake = FakeOllama::start(FakeConfig::default())
        .await
        .expect("fake ollama");
    let (database, name) = common::fresh_postgres().await;
    let data = tempfile::tempdir().unwrap();
    let mut a = Instance::start("a", &database, &fake.url(), data.path()).await;
    let b = Instance::start("b", &database, &fake.url(), data.path()).await;
    let proxy = Proxy::start(vec![a.addr.clone(), b.addr.clone()]).await;
    let http = reqwest::Client::new();

    println!("two instances on one PostgreSQL, separate processes, a round-robin proxy in front");
    followed_on_the_other(&http, &a, &b, runs).await;
    let kills = 10;
    let mut reconnect = Vec::new();
    let mut lost = Vec::new();
    let mut interrupted = Vec::new();
    for _ in 0..kills {
        let (again, l, i) =
            killed_mid_answer(&http, &mut a, &proxy, &fake.url(), &database, data.path()).await;
        reconnect.extend(again);
        lost.push(l);
        interrupted.push(i);
    }
    reconnect.sort();
    interrupted.sort();
    println!(
        "one killed mid-answer ({kills} runs, the follower on A, reconnecting through the proxy):"
    );
    let n = reconnect.len();
    assert_eq!(n, kills, "every follower lost A and reconnected");
    println!(
        "  live again (a snapshot from B) after {} p50, {} max",
        ms(reconnect[n / 2]),
        ms(reconnect[n - 1])
    );
    println!("  characters seen live but not yet stored when A died, per run: {lost:?}");
    println!(
        "  marked interrupted by B, text kept, after {} p50, {} max (heartbeat timeout 2 s, sweep 250 ms)",
        ms(interrupted[kills / 2]),
        ms(interrupted[kills - 1]),
    );
    println!(
        "memory after the runs: B {} MB RSS (peak {} MB)",
        b.rss_kb("VmRSS") / 1024,
        b.rss_kb("VmHWM") / 1024
    );
    drop(a);
    drop(b);
    common::drop_postgres(&name).await;
}

async fn followed_on_the_other(http: &reqwest::Client, a: &Instance, b: &Instance, runs: usize) {
    let mut first = (Vec::new(), Vec::new());
    let mut end = (Vec::new(), Vec::new());
    let mut whole_on_b = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let id = send(http, &a.url(), "followed elsewhere [tokens=60][delay=10]").await;
        let (url_a, url_b) = (a.url(), b.url());
        let (on_a, on_b) = tokio::join!(
            follow(http, &url_a, &id, started),
            follow(http, &url_b, &id, started)
        );
        first.0.push(on_a.first_text.unwrap());
        first.1.push(on_b.first_text.unwrap());
        end.0.push(on_a.done.unwrap());
        end.1.push(on_b.done.unwrap());
        if on_b.text == expected_answer(60) && on_b.status == "complete" {
            whole_on_b += 1;
        }
    }
    for list in [&mut first.0, &mut first.1, &mut end.0, &mut end.1] {
        list.sort();
    }
    let p = |l: &Vec<Duration>, q: f64| ms(l[((l.len() - 1) as f64 * q).round() as usize]);
    println!(
        "followed on the other instance ({runs} answers of 60 tokens 10 ms apart, written by A):"
    );
    println!(
        "  first text seen: on A {} p50 / {} p95, on B {} p50 / {} p95",
        p(&first.0, 0.5),
        p(&first.0, 0.95),
        p(&first.1, 0.5),
        p(&first.1, 0.95)
    );
    println!(
        "  end seen:        on A {} p50 / {} p95, on B {} p50 / {} p95",
        p(&end.0, 0.5),
        p(&end.0, 0.95),
        p(&end.1, 0.5),
        p(&end.1, 0.95)
    );
    println!("  whole and complete on B: {whole_on_b} of {runs}");
}

/// One answer whose writer is killed: (time until the follower had a live stream again, when it
/// had to reconnect; characters it had seen that the database did not have; time until the
/// answer was marked interrupted).
async fn killed_mid_answer(
    http: &reqwest::Client,
    a: &mut Instance,
    proxy: &Proxy,
    ollama: &str,
    database: &str,
    data: &std::path::Path,
) -> (Option<Duration>, usize, Duration) {
    let id = send(http, &a.url(), "a long answer [tokens=3000][delay=5]").await;
    // The follower is on A (the proxy had sent its browser there); it reconnects through the
    // proxy.
    let mut seen = String::new();
    let mut events = Events::open(http, &a.url(), &id).await;
    let until = Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(event)) = tokio::time::timeout(
        until.saturating_duration_since(Instant::now()),
        events.next(),
    )
    .await
    {
        apply(&mut seen, &event);
    }
    let killed = Instant::now();
    a.kill();
    let mut live_again = None;
    let mut lost = 0;
    let mut reconnected = false;
    loop {
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no end after the kill"
        );
        let event = match tokio::time::timeout(Duration::from_millis(500), events.next()).await {
            Ok(Some(event)) => event,
            // Quiet: the answer is not growing any more; its end comes when B sweeps it.
            Err(_) => continue,
            // The stream broke with A: as EventSource does, connect again (through the
            // proxy, which skips the dead instance) after a short wait.
            Ok(None) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                events = Events::open(http, &proxy.url(), &id).await;
                reconnected = true;
                continue;
            }
        };
        if event["type"] == "snapshot" && reconnected && live_again.is_none() {
            let stored = event["content"].as_str().unwrap_or_default();
            lost = seen.chars().count().saturating_sub(stored.chars().count());
            live_again = Some(killed.elapsed());
        }
        apply(&mut seen, &event);
        if event["type"] == "done" {
            assert_eq!(event["message"]["status"], "interrupted", "{event}");
            let kept = event["message"]["content"].as_str().unwrap_or_default();
            assert!(!kept.is_empty() && seen.starts_with(kept), "text kept");
            let interrupted = killed.elapsed();
            // A again, for the next run.
            *a = Instance::start("a", database, ollama, data).await;
            proxy.set(0, a.addr.clone());
            return (live_again, lost, interrupted);
        }
    }
}

fn apply(text: &mut String, event: &Value) {
    match event["type"].as_str() {
        Some("snapshot") => *text = event["content"].as_str().unwrap_or_default().to_string(),
        Some("delta") => text.push_str(event["content"].as_str().unwrap_or_default()),
        _ => {}
    }
}

/// Starts an answer on `url`; the assistant message's id.
async fn send(http: &reqwest::Client, url: &str, content: &str) -> String {
    let body: Value = http
        .post(format!("{url}/api/v1/conversations"))
        .json(&serde_json::json!({ "content": content, "model": "llama3.2" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["assistant_message"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_string()
}

struct Followed {
    first_text: Option<Duration>,
    done: Option<Duration>,
    text: String,
    status: String,
}

async fn follow(http: &reqwest::Client, url: &str, id: &str, started: Instant) -> Followed {
    let mut events = Events::open(http, url, id).await;
    let mut followed = Followed {
        first_text: None,
        done: None,
        text: String::new(),
        status: String::new(),
    };
    while let Some(event) = events.next().await {
        apply(&mut followed.text, &event);
        if !followed.text.is_empty() {
            followed.first_text.get_or_insert(started.elapsed());
        }
        if event["type"] == "done" {
            followed.done = Some(started.elapsed());
            followed.status = event["message"]["status"]
                .as_str()
                .unwrap_or_default()
                .into();
            break;
        }
    }
    followed
}

/// Server-sent events of one message, as JSON.
struct Events {
    response: Option<reqwest::Response>,
    buffer: Vec<u8>,
}

impl Events {
    async fn open(http: &reqwest::Client, url: &str, id: &str) -> Events {
        let response = http
            .get(format!("{url}/api/v1/messages/{id}/events"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success());
        Events {
            response,
            buffer: Vec::new(),
        }
    }

    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let frame = String::from_utf8_lossy(&frame).to_string();
                let data: Vec<&str> = frame
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if data.is_empty() {
                    continue;
                }
                return serde_json::from_str(&data.join("\n")).ok();
            }
            match self.response.as_mut()?.chunk().await {
                Ok(Some(bytes)) => self.buffer.extend_from_slice(&bytes),
                _ => return None,
            }
        }
    }
}

/// One server process.
struct Instance {
    addr: String,
    child: Child,
}

impl Instance {
    async fn start(name: &str, database: &str, ollama: &str, data: &std::path::Path) -> Instance {
        let addr = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().to_string()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_ollamastack"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database)
            .env("OLLAMASTACK_ADDR", &addr)
            .env("OLLAMA_URL", ollama)
            .env("OLLAMASTACK_DATA_DIR", data.join(name))
            .env("OLLAMASTACK_FILES_DIR", data.join("files"))
            .env("OLLAMASTACK_SECRET_KEY", SECRET_KEY)
            .env("OLLAMASTACK_AUTH_MODE", "single_user")
            .env("OLLAMASTACK_RATE_PER_MINUTE", "0")
            .env("OLLAMASTACK_RATE_PER_HOUR", "0")
            .env("OLLAMASTACK_MAX_STREAMS_PER_PERSON", "100")
            .env("OLLAMASTACK_FLUSH_INTERVAL_MS", "100")
            .env("OLLAMASTACK_HEARTBEAT_TIMEOUT_MS", "2000")
            .env("OLLAMASTACK_SWEEP_INTERVAL_MS", "250")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server binary");
        let instance = Instance { addr, child };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client
                .get(format!("{}/healthz", instance.url()))
                .send()
                .await
                .is_ok()
            {
                return instance;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("instance {name} did not answer");
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGKILL: no shutdown, no last flush.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn rss_kb(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A round-robin TCP proxy; a backend that refuses the connection is skipped.
struct Proxy {
    addr: String,
    backends: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Proxy {
    async fn start(backends: Vec<String>) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let backends = Arc::new(std::sync::Mutex::new(backends));
        let next = Arc::new(AtomicUsize::new(0));
        let shared = backends.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let list = shared.lock().unwrap().clone();
                let start = next.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    for i in 0..list.len() {
                        let backend = &list[(start + i) % list.len()];
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(backend).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            return;
                        }
                    }
                });
            }
        });
        Proxy { addr, backends }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set(&self, index: usize, addr: String) {
        self.backends.lock().unwrap()[index] = addr;
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}
