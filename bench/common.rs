//! What the benchmarks share: a fresh PostgreSQL database per run, and the app served on a free
//! port with settings fit for load (one person, no rate limits).
#![allow(dead_code)]

use ollamastack::config::Settings;
use ollamastack::state::AppState;
use std::time::Duration;

/// Settings for a benchmark run against `ollama_url`, with data in `data`: single user, no
/// rate limits, quiet logs.
pub fn settings(data: &std::path::Path, ollama_url: &str) -> Settings {
    let mut settings = Settings::default();
    settings.auth.mode = ollamastack::model::AuthMode::SingleUser;
    settings.limits.per_minute = 0;
    settings.limits.per_hour = 0;
    settings.database.data_dir = data.to_path_buf();
    settings.documents.files_dir = Some(data.join("files"));
    settings.ollama.url = ollama_url.to_string();
    settings.log.filter = "error".into();
    // No titles by the model: the figures are the relay's and the store's, as in earlier runs
    // (a title is one more model call after each new conversation's first answer).
    settings.ai.auto_titles = false;
    settings
}

/// The app, served until `stop` is sent.
pub struct Served {
    pub url: String,
    /// The app's state: its store, for rows the API has no quick way to make.
    pub state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub async fn serve(settings: Settings) -> Served {
    let options = leptos::config::LeptosOptions::builder()
        .output_name("ollamastack")
        .build();
    let state = AppState::build(settings, options).await.expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ollamastack::web::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Served {
        url,
        state,
        stop,
        server,
    }
}

impl Served {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.server).await;
    }
}

fn postgres_admin() -> String {
    std::env::var("BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A new, empty database: (its URL, its name for `drop_postgres`).
pub async fn fresh_postgres() -> (String, String) {
    use sqlx::Connection;
    let admin = postgres_admin();
    let name = format!("ollamastack_bench_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is needed for this run ({admin}): {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create the benchmark database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    (format!("{base}/{name}"), name)
}

pub async fn drop_postgres(name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

/// The `q` quantile (0 to 1) of `values`, sorting them.
pub fn percentile(values: &mut [Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort();
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// Which databases the command line names (`sqlite`, `postgres`, or both by default).
pub fn backends(args: &[String]) -> Vec<&'static str> {
    match args
        .iter()
        .map(String::as_str)
        .find(|a| matches!(*a, "sqlite" | "postgres" | "both"))
    {
        Some("sqlite") => vec!["sqlite"],
        Some("postgres") => vec!["postgres"],
        _ => vec!["sqlite", "postgres"],
    }
}

/// Starts a chat with `prompt` (POST) and follows its server-sent events to the end, as the
/// page does: (time to the first text, time to done), or why it did not complete.
pub async fn follow_chat(
    http: &reqwest::Client,
    app: &str,
    prompt: &str,
) -> Result<(Duration, Duration), String> {
    follow_chat_timed(http, app, prompt)
        .await
        .map(|timed| (timed.first_text, timed.done))
}

/// When each part of one followed chat ended, from the moment the POST was sent.
#[derive(Clone, Copy, Debug)]
pub struct ChatTimes {
    /// The POST's answer read whole (the turn stored, the generation started).
    pub posted: Duration,
    /// The server's own time for the POST (its `X-Response-Time`).
    pub post_server: Duration,
    /// The event stream's head received.
    pub events_open: Duration,
    pub first_text: Duration,
    pub done: Duration,
}

/// [`follow_chat`], with the time each part took.
pub async fn follow_chat_timed(
    http: &reqwest::Client,
    app: &str,
    prompt: &str,
) -> Result<ChatTimes, String> {
    let started = std::time::Instant::now();
    let response = http
        .post(format!("{app}/api/v1/conversations"))
        .json(&serde_json::json!({ "content": prompt, "model": "llama3.2" }))
        .send()
        .await
        .map_err(|e| format!("POST: {e}"))?;
    let status = response.status();
    let post_server = response
        .headers()
        .get("x-response-time")
        .and_then(|v| v.to_str().ok())
        .and_then(server_time)
        .unwrap_or_default();
    let created: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    let posted = started.elapsed();
    if status != 201 {
        return Err(format!(
            "POST answered {status}: {}",
            created["error"]["code"]
        ));
    }
    let id = created["assistant_message"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let response = http
        .get(format!("{app}/api/v1/messages/{id}/events"))
        .send()
        .await
        .map_err(|e| format!("events: {e}"))?;
    let events_open = started.elapsed();
    if !response.status().is_success() {
        return Err(format!("events answered {}", response.status()));
    }
    let mut events = SseEvents::new(response);
    let mut first = None;
    while let Some(event) = events.next().await? {
        match event["type"].as_str() {
            Some("snapshot") | Some("delta")
                if event["content"].as_str().is_some_and(|c| !c.is_empty()) =>
            {
                first.get_or_insert_with(|| started.elapsed());
            }
            Some("done") => {
                let status = event["message"]["status"].as_str().unwrap_or_default();
                if status != "complete" {
                    return Err(format!(
                        "ended {status}: {}",
                        event["message"]["error"].as_str().unwrap_or_default()
                    ));
                }
                let done = started.elapsed();
                return Ok(ChatTimes {
                    posted,
                    post_server,
                    events_open,
                    first_text: first.unwrap_or(done),
                    done,
                });
            }
            _ => {}
        }
    }
    Err("the event stream ended before done".into())
}

/// The JSON events of a server-sent event stream, read frame by frame (comments skipped).
pub struct SseEvents {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl SseEvents {
    pub fn new(response: reqwest::Response) -> SseEvents {
        SseEvents {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next event's data, or `None` once the stream ended.
    pub async fn next(&mut self) -> Result<Option<serde_json::Value>, String> {
        loop {
            while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let frame = String::from_utf8_lossy(&frame);
                let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data:")) else {
                    continue;
                };
                return serde_json::from_str(data.trim())
                    .map(Some)
                    .map_err(|_| "an event that is not JSON".to_string());
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.buffer.extend_from_slice(&chunk),
                Ok(None) => return Ok(None),
                Err(e) => return Err(format!("events: {e}")),
            }
        }
    }
}

/// `X-Response-Time`'s value ("1.234ms") as a duration.
fn server_time(value: &str) -> Option<Duration> {
    let ms: f64 = value.strip_suffix("ms")?.parse().ok()?;
    Some(Duration::from_secs_f64(ms / 1000.0))
}

/// CPU time (user + system) this process has used, from /proc/self/stat (Linux).
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat; here indices 11 and 12. Linux uses 100 Hz.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// POSTs `body` as JSON; the JSON answer.
pub async fn post_json(
    http: &reqwest::Client,
    url: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    http.post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}
