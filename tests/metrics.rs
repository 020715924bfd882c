//! Prometheus metrics at /metrics on SQLite and PostgreSQL: what a scrape shows after a chat,
//! and who may scrape.

mod common;

use common::{Backend, TestApp};
use ollamastack::testing::fake_ollama::FakeConfig;

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut request = app.at(reqwest::Method::GET, "/metrics");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A value of a series: the first line starting with `series` (name and labels as written).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// After a chat, a scrape from this machine shows the request by its route template, the
/// finished generation by model and status with its timings, the pool and Ollama's health.
async fn a_scrape_shows_requests_generations_pool_and_ollama(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("hello metrics").await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "complete");
    app.message(&conversation, &answer).await;

    let (status, text) = scrape(&app, None).await;
    assert_eq!(status, 200, "{text}");
    let finished = value(
        &text,
        "ollamastack_generations_total{model=\"llama3.2\",status=\"complete\"}",
    );
    assert!(finished.is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        text.contains("ollamastack_generation_first_token_seconds_bucket{model=\"llama3.2\""),
        "{text}"
    );
    assert!(
        text.contains("ollamastack_generation_duration_seconds_count{model=\"llama3.2\"}"),
        "{text}"
    );
    // The conversation's first model call started while its turn was stored, and served.
    let early = value(
        &text,
        "ollamastack_early_model_calls_total{outcome=\"used\"}",
    );
    assert!(early.is_some_and(|n| n >= 1.0), "{text}");
    // Requests by template, never by id.
    let created = value(
        &text,
        "ollamastack_http_requests_total{route=\"/api/v1/conversations\",method=\"POST\",status=\"201\"}",
    );
    assert!(created.is_some_and(|n| n >= 1.0), "{text}");
    let read = value(
        &text,
        "ollamastack_http_requests_total{route=\"/api/v1/conversations/{id}\",method=\"GET\",status=\"200\"}",
    );
    assert!(read.is_some_and(|n| n >= 1.0), "{text}");
    assert!(!text.contains(&conversation), "no raw ids in labels");
    // Each server of the pool by its URL (other tests' servers may be in the same registry).
    let up = format!("ollamastack_ollama_up{{server=\"{}\"}}", app.fake.url());
    assert_eq!(value(&text, &up), Some(1.0), "{text}");
    let busy = format!("ollamastack_ollama_busy{{server=\"{}\"}}", app.fake.url());
    assert_eq!(value(&text, &busy), Some(0.0), "{text}");
    let max = value(&text, "ollamastack_db_pool_max_connections").unwrap();
    assert!(max >= 1.0, "{text}");
    assert!(
        text.contains("ollamastack_db_pool_connections{state=\"idle\"}"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE ollamastack_generations_total counter"),
        "{text}"
    );
}

/// With a token set, a scrape needs it, also from this machine; switched off, 404.
async fn a_token_guards_the_metrics(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.observability.metrics_token = Some("scrape-secret".into());
    })
    .await;
    assert_eq!(scrape(&app, None).await.0, 403);
    assert_eq!(scrape(&app, Some("wrong")).await.0, 403);
    let (status, text) = scrape(&app, Some("scrape-secret")).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("ollamastack_db_pool_max_connections"),
        "{text}"
    );

    // With sign-in (the default mode) the scraper's token is not taken for a person's.
    let accounts = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.auth.mode = ollamastack::model::AuthMode::Accounts;
        settings.observability.metrics_token = Some("scrape-secret".into());
    })
    .await;
    assert_eq!(scrape(&accounts, Some("scrape-secret")).await.0, 200);
    assert_eq!(scrape(&accounts, Some("wrong")).await.0, 403);

    let off = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.observability.metrics = false;
    })
    .await;
    assert_eq!(scrape(&off, None).await.0, 404);
}

on_both_backends!(
    a_scrape_shows_requests_generations_pool_and_ollama,
    a_token_guards_the_metrics,
);

/// What a log writer received, shared with the test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// JSON logs say which request a line belongs to and whose it is: the request id the answer
/// carries in `x-request-id`, and the person's id.
#[tokio::test(flavor = "current_thread")]
async fn json_log_lines_name_the_request_and_the_person() {
    use tower::ServiceExt;
    let app = TestApp::start(Backend::Sqlite).await;
    let captured = Captured::default();
    let settings = ollamastack::config::LogSettings {
        filter: "info,tower_http=debug".into(),
        json: true,
    };
    let writer = captured.clone();
    let subscriber = ollamastack::telemetry::subscriber(&settings, move || writer.clone());
    // This thread's logging while the request runs (a current-thread runtime runs it here).
    let _logging = tracing::subscriber::set_default(subscriber);
    let response = ollamastack::web::app(app.state.clone())
        .oneshot(
            axum::http::Request::get("/api/v1/conversations")
                .header("host", "localhost")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let person = app.state.local_person().id.to_string();
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let finished: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .filter(|line: &serde_json::Value| {
            line["fields"]["message"] == "finished processing request"
        })
        .collect();
    assert_eq!(finished.len(), 1, "{text}");
    let span = &finished[0]["span"];
    assert_eq!(span["name"], "request", "{text}");
    assert_eq!(span["id"], request_id.as_str(), "{text}");
    assert_eq!(span["person"], person.as_str(), "{text}");
    assert_eq!(span["path"], "/api/v1/conversations", "{text}");
}
