//! Test harness: a fresh database per test (SQLite file or a new PostgreSQL database), the fake
//! Ollama, and the real application router served on port 0.
#![allow(dead_code)]

use ollamastack::config::Settings;
use ollamastack::db::SharedStore;
use ollamastack::model::StreamEvent;
use ollamastack::state::AppState;
use ollamastack::testing::fake_ollama::{FakeConfig, FakeOllama};
use serde_json::Value;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where PostgreSQL tests connect to create their databases. They fail when it is missing.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    /// Where uploaded files are kept on disk (a temporary folder of the test's own).
    pub files_dir: std::path::PathBuf,
    _dir: Option<tempfile::TempDir>,
    _files: Option<std::sync::Arc<tempfile::TempDir>>,
    postgres_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                let files = tempfile::tempdir().expect("temp dir");
                TestDb {
                    url,
                    files_dir: files.path().to_path_buf(),
                    _dir: Some(dir),
                    _files: Some(std::sync::Arc::new(files)),
                    postgres_name: None,
                }
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let admin = postgres_admin_url();
                let name = format!("ollamastack_test_{}", uuid::Uuid::now_v7().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("PostgreSQL is required for these tests ({admin}): {e}")
                    });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let base = admin
                    .rsplit_once('/')
                    .map(|(base, _)| base)
                    .unwrap_or(&admin);
                let files = tempfile::tempdir().expect("temp dir");
                TestDb {
                    url: format!("{base}/{name}"),
                    files_dir: files.path().to_path_buf(),
                    _dir: None,
                    _files: Some(std::sync::Arc::new(files)),
                    postgres_name: Some(name),
                }
            }
        }
    }

    /// The same database, for a second instance; dropping it leaves the database in place.
    pub fn alias(&self) -> TestDb {
        TestDb {
            url: self.url.clone(),
            files_dir: self.files_dir.clone(),
            _dir: None,
            _files: self._files.clone(),
            postgres_name: None,
        }
    }

    pub fn settings(&self) -> ollamastack::config::DatabaseSettings {
        ollamastack::config::DatabaseSettings {
            url: Some(self.url.clone()),
            // The secret key file: the test's own, shared by its instances (as a deployment's
            // instances share one key).
            data_dir: self.files_dir.join("data"),
            ..Default::default()
        }
    }

    pub async fn store(&self) -> SharedStore {
        ollamastack::db::connect(&self.settings())
            .await
            .expect("open store")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        let admin = postgres_admin_url();
        // Drop runs outside async; a short-lived runtime on its own thread removes the database.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

pub const BOUNDARY: &str = "----ollamastack-test-7d9a";

/// A multipart body with one `file` field per (name, bytes).
pub fn multipart(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub struct TestApp {
    pub url: String,
    pub fake: FakeOllama,
    pub state: AppState,
    pub db: TestDb,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub fn test_settings(db: &TestDb, ollama_url: &str) -> Settings {
    let mut settings = Settings::default();
    settings.database = db.settings();
    settings.documents.files_dir = Some(db.files_dir.clone());
    // Text is extracted by a child process of the server's own binary (a test's is not it).
    settings.documents.extractor_program = Some(env!("CARGO_BIN_EXE_ollamastack").into());
    settings.ollama.url = ollama_url.to_string();
    settings.ollama.idle_timeout_ms = 5_000;
    settings.ollama.first_token_timeout_ms = 5_000;
    settings.ollama.request_timeout_ms = 2_000;
    settings.generation.flush_interval_ms = 50;
    settings.generation.shutdown_grace_ms = 3_000;
    // One person, no sign-in: what every test but the accounts tests needs.
    settings.auth.mode = ollamastack::model::AuthMode::SingleUser;
    // No titles by the model (on by default): other suites count and read the model calls an
    // answer makes, and see a conversation called after its first message. tests/titles.rs
    // switches it on.
    settings.ai.auto_titles = false;
    // No rate limits: the tests that check them set their own.
    settings.limits.per_minute = 0;
    settings.limits.per_hour = 0;
    settings
}

impl TestApp {
    pub async fn start(backend: Backend) -> TestApp {
        Self::start_with(backend, FakeConfig::default(), |_| {}).await
    }

    pub async fn start_with(
        backend: Backend,
        fake: FakeConfig,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let db = TestDb::new(backend).await;
        let fake = FakeOllama::start(fake).await.expect("fake ollama");
        let mut settings = test_settings(&db, &fake.url());
        tweak(&mut settings);
        Self::serve(db, fake, settings).await
    }

    /// Serves the app on an existing database (as after a restart).
    pub async fn serve(db: TestDb, fake: FakeOllama, settings: Settings) -> TestApp {
        Self::serve_with_tools(db, fake, settings, ollamastack::tools::Toolbox::default()).await
    }

    /// `serve` with these tools for agents.
    pub async fn serve_with_tools(
        db: TestDb,
        fake: FakeOllama,
        settings: Settings,
        tools: ollamastack::tools::Toolbox,
    ) -> TestApp {
        let options = leptos::config::LeptosOptions::builder()
            .output_name("ollamastack")
            .build();
        let state = AppState::build_with_tools(settings, options, tools)
            .await
            .expect("app state");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(ollamastack::web::serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let app = TestApp {
            url,
            fake,
            state,
            db,
            http,
            stop: Some(stop),
            server: Some(server),
        };
        // Wait until it answers.
        for _ in 0..100 {
            if app
                .http
                .get(format!("{}/healthz", app.url))
                .send()
                .await
                .is_ok()
            {
                return app;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the app did not answer");
    }

    /// Graceful shutdown, as on SIGTERM; returns the database and fake for a restart.
    pub async fn shutdown(mut self) -> (TestDb, FakeOllama) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.server.take().unwrap())
            .await
            .expect("shutdown in time")
            .unwrap()
            .unwrap();
        // Move the fields out; Drop of TestApp has nothing left to do.
        let TestApp { db, fake, .. } = self;
        (db, fake)
    }

    /// A request to the app, for the cases the JSON helpers below do not cover (headers, bodies).
    pub fn at(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.url))
    }

    /// Uploads one text file through `POST /api/v1/files`; the status.
    pub async fn upload_text(&self, name: &str, text: &str) -> u16 {
        self.at(reqwest::Method::POST, "/api/v1/files")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart(&[(name, text.as_bytes())]))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A page's whole HTML (status 200 expected).
    pub async fn page(&self, path: &str) -> String {
        let response = self.at(reqwest::Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.unwrap()
    }

    /// A conversation's stored messages (status 200 expected), as the API returns them.
    pub async fn messages(&self, conversation: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&format!("/api/v1/conversations/{conversation}"))
            .await;
        assert_eq!(status, 200, "{body}");
        body["messages"].as_array().unwrap().clone()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .at(reqwest::Method::PATCH, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Starts a new conversation with a first message; returns (conversation id, assistant message id).
    pub async fn send_new(&self, content: &str) -> (String, String) {
        self.send_new_with(serde_json::json!({ "content": content, "model": "llama3.2" }))
            .await
    }

    /// `send_new` with a whole request body (tools, options, another model).
    pub async fn send_new_with(&self, body: Value) -> (String, String) {
        let (status, body) = self.post("/api/v1/conversations", body).await;
        assert_eq!(status, 201, "{body}");
        (
            body["conversation"]["id"].as_str().unwrap().to_string(),
            body["assistant_message"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    }

    /// Sends a message in an existing conversation (201 expected); returns the outcome.
    pub async fn send_in(&self, conversation_id: &str, body: Value) -> Value {
        let (status, outcome) = self
            .post(
                &format!("/api/v1/conversations/{conversation_id}/messages"),
                body,
            )
            .await;
        assert_eq!(status, 201, "{outcome}");
        outcome
    }

    /// Follows a message's events to the end: (events, final message).
    pub async fn follow(&self, message_id: &str) -> (Vec<StreamEvent>, Value) {
        let mut events = EventReader::open(self, message_id).await;
        let mut seen = Vec::new();
        loop {
            let event = tokio::time::timeout(Duration::from_secs(20), events.next())
                .await
                .expect("an event in time")
                .expect("the stream ended before done");
            let done = matches!(event, StreamEvent::Done { .. });
            seen.push(event);
            if done {
                break;
            }
        }
        let final_message = match seen.last() {
            Some(StreamEvent::Done { message, .. }) => serde_json::to_value(message).unwrap(),
            _ => unreachable!(),
        };
        (seen, final_message)
    }

    /// Follows an agent run from its first row through each `next` to the row that ends it:
    /// every row's final state, in order.
    pub async fn follow_run(&self, first_id: &str) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut id = first_id.to_string();
        loop {
            let (events, done) = self.follow(&id).await;
            rows.push(done);
            match events.last() {
                Some(StreamEvent::Done {
                    next: Some(next), ..
                }) => id = next.id.to_string(),
                _ => return rows,
            }
            assert!(rows.len() < 100, "a run without end");
        }
    }

    /// The stored message, read through the API.
    pub async fn message(&self, conversation_id: &str, message_id: &str) -> Value {
        let (status, body) = self
            .get(&format!("/api/v1/conversations/{conversation_id}"))
            .await;
        assert_eq!(status, 200, "{body}");
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == message_id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Polls until `check` holds for the stored message, or fails after `seconds`.
    /// Waits until no answer in the conversation is being written, reading it as the person
    /// of the session `cookie`.
    pub async fn wait_idle(&self, cookie: &str, conversation_id: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let (status, body) = call_as(
                self,
                cookie,
                reqwest::Method::GET,
                &format!("/api/v1/conversations/{conversation_id}"),
                None,
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let streaming = body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["status"] == "streaming");
            if !streaming {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still streaming: {body}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn wait_for_message(
        &self,
        conversation_id: &str,
        message_id: &str,
        seconds: u64,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let message = self.message(conversation_id, message_id).await;
            if check(&message) {
                return message;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "condition not met in time; last: {message}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Stores an assistant answer marked streaming, as a generation starts it (or a crash leaves it).
pub async fn insert_streaming_answer(
    store: &SharedStore,
    owner_id: uuid::Uuid,
    conversation_id: uuid::Uuid,
) -> ollamastack::model::Message {
    store
        .insert_message(ollamastack::db::NewMessage {
            conversation_id,
            owner_id,
            role: ollamastack::model::Role::Assistant,
            content: "",
            model: Some("llama3.2"),
            status: ollamastack::model::MessageStatus::Streaming,
            tool_calls: Default::default(),
            tool_name: None,
            attachments: None,
        })
        .await
        .unwrap()
}

/// Makes a streaming row look as if its writer had not shown signs of life for `seconds`.
pub async fn age_heartbeat(store: &SharedStore, message_id: uuid::Uuid, seconds: i64) {
    let at = chrono::Utc::now() - chrono::Duration::seconds(seconds);
    let sql = "UPDATE messages SET heartbeat_at = $1 WHERE id = $2";
    assert_eq!(set_time(store, sql, at, message_id).await, 1);
}

/// Runs an UPDATE whose `$1` is a time and `$2` a row's id, on whichever database `store` is
/// (to make a row look older than it is); how many rows changed.
pub async fn set_time(
    store: &SharedStore,
    sql: &str,
    at: chrono::DateTime<chrono::Utc>,
    id: uuid::Uuid,
) -> u64 {
    match (store.sqlite_pool(), store.postgres_pool()) {
        (Some(pool), _) => sqlx::query(sql)
            .bind(at)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        (None, Some(pool)) => sqlx::query(sql)
            .bind(at)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        (None, None) => unreachable!("a store is SQLite or PostgreSQL"),
    }
    .unwrap()
}

/// Counts rows with a query whose `$1` is an id, on whichever database `store` is (what the
/// API does not show, such as rows that must be gone).
pub async fn count_rows(store: &SharedStore, sql: &str, id: uuid::Uuid) -> i64 {
    match (store.sqlite_pool(), store.postgres_pool()) {
        (Some(pool), _) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await,
        (None, Some(pool)) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await,
        (None, None) => unreachable!("a store is SQLite or PostgreSQL"),
    }
    .unwrap()
}

/// Reads the frames of a server-sent event stream.
pub struct SseReader {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

/// One server-sent event: its `id`, if any, and its data.
#[derive(Debug)]
pub struct SseFrame {
    pub id: Option<String>,
    pub data: String,
}

impl SseReader {
    /// Opens the stream (200, `text/event-stream`, or the test fails).
    pub async fn open(request: reqwest::RequestBuilder) -> SseReader {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        SseReader {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next event with data, or None when the server closed the stream.
    pub async fn next(&mut self) -> Option<SseFrame> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let frame = String::from_utf8(frame).expect("SSE frames are UTF-8");
                let field = |name: &str| -> Vec<String> {
                    frame
                        .lines()
                        .filter_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim_start().to_string())
                        .collect()
                };
                let data = field("data:");
                if data.is_empty() {
                    continue; // keep-alive comment
                }
                return Some(SseFrame {
                    id: field("id:").pop(),
                    data: data.join("\n"),
                });
            }
            match self.response.chunk().await.unwrap() {
                Some(bytes) => self.buffer.extend_from_slice(&bytes),
                None => return None,
            }
        }
    }
}

/// Reads server-sent events from /api/v1/messages/{id}/events.
pub struct EventReader(SseReader);

impl EventReader {
    pub async fn open(app: &TestApp, message_id: &str) -> EventReader {
        EventReader::open_with(app, message_id, "").await
    }

    /// The stream as the page reads it, with the answer's HTML (`?render=html`).
    pub async fn open_rendered(app: &TestApp, message_id: &str) -> EventReader {
        EventReader::open_with(app, message_id, "?render=html").await
    }

    async fn open_with(app: &TestApp, message_id: &str, query: &str) -> EventReader {
        EventReader(
            SseReader::open(app.http.get(format!(
                "{}/api/v1/messages/{message_id}/events{query}",
                app.url
            )))
            .await,
        )
    }

    /// The next event, or None when the server closed the stream.
    pub async fn next(&mut self) -> Option<StreamEvent> {
        let frame = self.0.next().await?;
        Some(serde_json::from_str(&frame.data).expect("a StreamEvent"))
    }
}

/// The text a sequence of events builds: snapshots replace, deltas append.
pub fn text_of(events: &[StreamEvent]) -> String {
    let mut text = String::new();
    for event in events {
        match event {
            StreamEvent::Snapshot { content, .. } => text = content.clone(),
            StreamEvent::Delta { content } => text.push_str(content),
            StreamEvent::Thinking { .. } | StreamEvent::Done { .. } | StreamEvent::Html { .. } => {}
        }
    }
    text
}

/// Generates one test per backend for each scenario function `async fn name(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}

/// A POST as a browser's own form sends it (JavaScript off: it asks for a page back, from this
/// site), on a client that does not follow the redirect it gets, so a test reads where it leads.
pub fn plain_form_post(app: &TestApp, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}{path}", app.url))
        .header("accept", "text/html,application/xhtml+xml")
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
}

/// A form post as a browser without JavaScript sends it (`Accept: text/html`, same origin):
/// the status, where it is sent on to, and the cookie set with it.
pub async fn post_plain_form(
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
    cookie: Option<&str>,
) -> (u16, String, Option<String>) {
    let mut request = plain_form_post(app, path).form(fields);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default();
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .map(|value| value.to_str().unwrap().to_string());
    (response.status().as_u16(), location, set_cookie)
}

/// The session cookie a sign-up or sign-in answer sets (`name=value`).
pub fn session_cookie(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// With accounts: signs up `admin` (the first account is the admin) and `user` by the admin's
/// invitation; their session cookies.
pub async fn admin_and_user(app: &TestApp, admin: &str, user: &str) -> (String, String) {
    let sign_up = |name: &str, invitation: Option<String>| {
        app.at(reqwest::Method::POST, "/api/v1/auth/signup")
            .json(&serde_json::json!({"username": name, "password": "correct horse battery", "invitation": invitation}))
            .send()
    };
    let first = sign_up(admin, None).await.unwrap();
    assert_eq!(first.status(), 201);
    let admin_cookie = session_cookie(&first);
    let invitation: Value = app
        .at(reqwest::Method::POST, "/api/v1/admin/invitations")
        .header(reqwest::header::COOKIE, &admin_cookie)
        .json(&serde_json::json!({"role": "user"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = invitation["link"]
        .as_str()
        .unwrap()
        .trim_start_matches("/signup?invite=")
        .to_string();
    let second = sign_up(user, Some(token)).await.unwrap();
    assert_eq!(second.status(), 201);
    (admin_cookie, session_cookie(&second))
}

/// A JSON request with a session cookie: (status, body).
pub async fn call_as(
    app: &TestApp,
    cookie: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.at(method, path).header(reqwest::header::COOKIE, cookie);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
