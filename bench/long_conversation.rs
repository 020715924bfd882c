//! Opening a conversation of 5,000 messages, on SQLite and PostgreSQL: the server's time to
//! answer `GET /api/v1/conversations/{id}` (JSON: whole, and its latest 50), a page of earlier
//! messages (`…/messages?before=`), and the server-rendered page `/c/{id}`; their sizes, and
//! how many messages the page puts in the DOM (`server.messages_per_page`, 50); a branch at
//! its last message (`POST /api/v1/messages/{id}/branch`), which copies every message; and
//! another version of its first answer shown (`POST /api/v1/answer-versions/{id}/show`), which
//! sets aside (or brings back) every message after it.
//!
//!     cargo bench --features ssr --bench long_conversation [-- MESSAGES [sqlite|postgres|both]]
//!
//! The conversation is imported (the export format) from one real chat, repeated: questions of
//! about 100 characters, answers of about 700 in markdown (a heading, a list, a code block).
//! Each figure is over 20 requests after 2 warm-ups. PostgreSQL is BENCH_POSTGRES_URL or
//! `postgres://postgres@127.0.0.1:5432/postgres`, a fresh database per run.

mod common;

use ollamastack::testing::fake_ollama::{FakeConfig, FakeOllama};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const RUNS: usize = 20;
/// Each branch of the whole conversation stores as many rows again: fewer runs.
const BRANCH_RUNS: usize = 5;

const QUESTION: &str =
    "How do I keep a long-running Rust service's memory flat when it streams many answers at once?";
const ANSWER: &str = "## Keep memory flat\n\nA few habits help:\n\n- **Bound every queue**: a channel with a capacity, not an unbounded one.\n- Stream bodies instead of collecting them; read error bodies with a cap.\n- Reuse buffers (`Vec::clear` keeps the allocation).\n\n```rust\nlet (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);\n```\n\nMeasure before and after with the process's resident memory, under the load you expect, and keep the figure in a benchmark so that a regression shows.";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let messages: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5_000);
    let backends = common::backends(&args);
    println!("long conversation: {messages} messages, {RUNS} requests each after 2 warm-ups");
    println!(
        "{:<10} {:<28} {:>10} {:>10} {:>12} {:>16}",
        "backend", "request", "p50", "p95", "bytes", "messages in page"
    );
    for backend in backends {
        run(backend, messages).await;
    }
}

async fn run(backend: &str, count: usize) {
    let fake = FakeOllama::start(FakeConfig::default())
        .await
        .expect("fake");
    let data = tempfile::tempdir().unwrap();
    let mut settings = common::settings(data.path(), &fake.url());
    settings.server.max_body_bytes = 64 * 1024 * 1024;
    let mut database = None;
    if backend == "postgres" {
        let (url, name) = common::fresh_postgres().await;
        settings.database.url = Some(url);
        database = Some(name);
    }
    let served = common::serve(settings).await;
    let app = served.url.clone();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();

    // One real chat, exported, its pair repeated.
    let created: Value = http
        .post(format!("{app}/api/v1/conversations"))
        .json(&json!({ "content": "hello [tokens=3]", "model": "llama3.2" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seed = created["conversation"]["id"].as_str().unwrap().to_string();
    let mut export: Value = loop {
        let export = get_json(&http, &format!("{app}/api/v1/conversations/{seed}/export")).await;
        if export["messages"][1]["status"] == "complete" {
            break export;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let pair = export["messages"].as_array().unwrap().clone();
    let started_at = chrono::Utc::now() - chrono::Duration::hours(count as i64);
    let mut messages = Vec::with_capacity(count);
    for i in 0..count {
        let mut message = pair[i % 2].clone();
        message["content"] = json!(if i % 2 == 0 { QUESTION } else { ANSWER });
        let at = started_at + chrono::Duration::seconds(i as i64 * 30);
        message["created_at"] = json!(at);
        message["updated_at"] = json!(at);
        messages.push(message);
    }
    export["messages"] = Value::Array(messages);
    export["conversation"]["title"] = json!("A very long conversation");
    let imported = http
        .post(format!("{app}/api/v1/conversations/import"))
        .json(&export)
        .send()
        .await
        .unwrap();
    let status = imported.status();
    let imported: Value = imported.json().await.unwrap();
    assert_eq!(status, 201, "{imported}");
    let id = imported["conversations"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the imported id in {imported}"))
        .to_string();

    // The cursor of the page before the latest one.
    let latest = get_json(&http, &format!("{app}/api/v1/conversations/{id}/messages")).await;
    let cursor = latest["messages"][0]["id"].as_str().unwrap().to_string();
    for (label, path) in [
        (
            "GET conversation (whole)",
            format!("/api/v1/conversations/{id}"),
        ),
        (
            "GET conversation ?limit=50",
            format!("/api/v1/conversations/{id}?limit=50"),
        ),
        (
            "GET messages?before= (50)",
            format!("/api/v1/conversations/{id}/messages?before={cursor}"),
        ),
        ("GET /c/{id} (server-rendered)", format!("/c/{id}")),
    ] {
        let mut times = Vec::new();
        let mut bytes = 0;
        let mut in_page = None;
        for run in 0..RUNS + 2 {
            let started = Instant::now();
            let response = http.get(format!("{app}{path}")).send().await.unwrap();
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            let body = response.text().await.unwrap();
            let elapsed = started.elapsed();
            if run >= 2 {
                times.push(elapsed);
            }
            bytes = body.len();
            if path.starts_with("/c/") {
                in_page = Some(body.matches("data-testid=\"message\"").count());
            }
        }
        print_row(backend, label, &mut times, bytes, in_page);
    }

    // A branch at the last message: every message copied in one transaction.
    let last = latest["messages"].as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut times = Vec::new();
    let mut bytes = 0;
    for run in 0..BRANCH_RUNS + 1 {
        let started = Instant::now();
        let response = http
            .post(format!("{app}/api/v1/messages/{last}/branch"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "branch");
        let body = response.text().await.unwrap();
        if run >= 1 {
            times.push(started.elapsed());
        }
        bytes = body.len();
    }
    print_row(
        backend,
        &format!("POST branch ({count} copied)"),
        &mut times,
        bytes,
        None,
    );
    versions_of_the_first_answer(&http, &served, backend, count).await;
    served.stop().await;
    if let Some(name) = database {
        common::drop_postgres(&name).await;
    }
}

/// A conversation whose first answer was regenerated, then `count` messages after it: showing
/// the first answer again sets all of them aside, and showing the second brings them back.
async fn versions_of_the_first_answer(
    http: &reqwest::Client,
    served: &common::Served,
    backend: &str,
    count: usize,
) {
    use ollamastack::db::NewMessage;
    use ollamastack::model::{MessageStatus, Role};
    let app = &served.url;
    let created = common::post_json(
        http,
        &format!("{app}/api/v1/conversations"),
        json!({ "content": "first [tokens=3]", "model": "llama3.2" }),
    )
    .await;
    let id = created["conversation"]["id"].as_str().unwrap().to_string();
    wait_idle(http, app, &id).await;
    let again = common::post_json(
        http,
        &format!("{app}/api/v1/conversations/{id}/regenerate"),
        json!({}),
    )
    .await;
    wait_idle(http, app, &id).await;
    let mut to_show = again["versions"]["previous"]
        .as_str()
        .expect("the first answer kept")
        .to_string();
    let store = &served.state.store;
    let owner = store
        .ensure_user(ollamastack::db::accounts::LOCAL_USERNAME)
        .await
        .unwrap();
    let conversation_id = id.parse().unwrap();
    for i in 0..count {
        let (role, content) = if i % 2 == 0 {
            (Role::User, QUESTION)
        } else {
            (Role::Assistant, ANSWER)
        };
        store
            .insert_message(NewMessage {
                conversation_id,
                owner_id: owner,
                role,
                content,
                model: (role == Role::Assistant).then_some("llama3.2"),
                status: MessageStatus::Complete,
                tool_calls: Default::default(),
                tool_name: None,
                attachments: None,
            })
            .await
            .unwrap();
    }
    let mut times = Vec::new();
    let mut bytes = 0;
    for run in 0..BRANCH_RUNS * 2 + 2 {
        let started = Instant::now();
        let response = http
            .post(format!("{app}/api/v1/answer-versions/{to_show}/show"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "show a version");
        let body: Value = response.json().await.unwrap();
        if run >= 2 {
            times.push(started.elapsed());
        }
        bytes = body.to_string().len();
        // The other version: in the page when the first answer is shown alone; otherwise the
        // first answer is before the page's 50 messages (read whole, not timed).
        let shown = body["messages"].as_array().unwrap().len();
        to_show = match shown {
            2 => body["messages"][1]["versions"]["next"].clone(),
            50 => {
                let whole = get_json(http, &format!("{app}/api/v1/conversations/{id}")).await;
                assert_eq!(whole["messages"].as_array().unwrap().len(), count + 2);
                whole["messages"][1]["versions"]["previous"].clone()
            }
            other => panic!("{other} messages in the page"),
        }
        .as_str()
        .expect("the other version")
        .to_string();
    }
    print_row(
        backend,
        &format!("POST show ({count} moved)"),
        &mut times,
        bytes,
        None,
    );
}

/// One line of the table: the request's p50 and p95, its size, the messages in the page.
fn print_row(
    backend: &str,
    label: &str,
    times: &mut [Duration],
    bytes: usize,
    in_page: Option<usize>,
) {
    println!(
        "{:<10} {:<28} {:>7.1} ms {:>7.1} ms {:>12} {:>16}",
        backend,
        label,
        common::percentile(times, 0.5).as_secs_f64() * 1000.0,
        common::percentile(times, 0.95).as_secs_f64() * 1000.0,
        bytes,
        in_page.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
    );
}

/// Waits until no answer of the conversation is being written.
async fn wait_idle(http: &reqwest::Client, app: &str, id: &str) {
    for _ in 0..400 {
        let body = get_json(http, &format!("{app}/api/v1/conversations/{id}")).await;
        if !body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["status"] == "streaming")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the answer did not end");
}

/// A JSON answer of a GET.
async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    http.get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}
