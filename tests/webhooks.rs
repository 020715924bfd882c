//! Webhooks on SQLite and PostgreSQL: deliveries from the outbox to a local receiver that
//! checks each signature, fails twice and then accepts; the delivery log and "send again";
//! pings; each person's webhooks their own; instance-wide webhooks for admins; and the outbound
//! guard refusing private destinations however they are written.

mod common;

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
    Router,
};
use common::{Backend, TestApp};
use ollamastack::model::AuthMode;
use ollamastack::net::{OutboundError, OutboundPolicy};
use ollamastack::testing::fake_ollama::FakeConfig;
use reqwest::{header, Method};
use serde_json::{json, Value};
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex,
};
use std::time::Duration;

/// What the receiver was sent.
#[derive(Clone, Debug)]
struct Received {
    event: String,
    signature_ok: bool,
    body: Value,
}

#[derive(Default)]
struct ReceiverState {
    secret: Mutex<String>,
    received: Mutex<Vec<Received>>,
    /// Requests to refuse (500) before accepting.
    fail_first: AtomicUsize,
    requests: AtomicUsize,
}

struct Receiver {
    port: u16,
    state: Arc<ReceiverState>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Receiver {
        let state = Arc::new(ReceiverState {
            fail_first: AtomicUsize::new(fail_first),
            ..Default::default()
        });
        async fn hook(
            State(state): State<Arc<ReceiverState>>,
            headers: HeaderMap,
            body: axum::body::Bytes,
        ) -> StatusCode {
            state.requests.fetch_add(1, Ordering::SeqCst);
            let failing = state
                .fail_first
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
            let signature = headers
                .get("ollamastack-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let secret = state.secret.lock().unwrap().clone();
            let now = chrono::Utc::now().timestamp();
            let received = Received {
                event: headers
                    .get("ollamastack-event")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string(),
                signature_ok: ollamastack::webhooks::verify(&secret, signature, &body, now, 300),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            };
            state.received.lock().unwrap().push(received);
            StatusCode::NO_CONTENT
        }
        async fn redirect() -> (StatusCode, [(header::HeaderName, &'static str); 1]) {
            (
                StatusCode::FOUND,
                [(
                    header::LOCATION,
                    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                )],
            )
        }
        let app = Router::new()
            .route("/hook", post(hook))
            .route("/redirect", post(redirect))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { port, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the receiver got {} of {count} deliveries",
            self.received().len()
        );
    }
}

/// Quick retries, a quick poll, and `localhost` allowed (the receiver runs there).
async fn webhook_app(backend: Backend, mode: AuthMode) -> TestApp {
    TestApp::start_with(backend, FakeConfig::default(), move |settings| {
        settings.auth.mode = mode;
        settings.outbound.allowed_hosts = vec!["localhost".into()];
        settings.webhooks.first_retry_ms = 100;
        settings.webhooks.max_retry_ms = 200;
        settings.webhooks.poll_interval_ms = 50;
    })
    .await
}

/// A delivery leaves as soon as its event is committed, not at the deliverer's next look
/// (a minute away here, longer than any wait of the test).
async fn a_delivery_leaves_as_soon_as_its_event_is_committed(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.outbound.allowed_hosts = vec!["localhost".into()];
        settings.webhooks.poll_interval_ms = 60_000;
    })
    .await;
    let receiver = Receiver::start(0).await;
    register(&app, &receiver.url("/hook"), json!(["answer_completed"])).await;
    let (_, answer) = app.send_new("Tell the hook [tokens=2]").await;
    app.follow(&answer).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].event, "answer_completed");
    assert_eq!(received[0].body["data"]["message_id"], answer.as_str());
}

async fn register(app: &TestApp, url: &str, events: Value) -> Value {
    let (status, made) = app
        .post("/api/v1/webhooks", json!({"url": url, "events": events}))
        .await;
    assert_eq!(status, 201, "{made}");
    made
}

async fn deliveries_are_signed_retried_logged_and_sent_again(backend: Backend) {
    let app = webhook_app(backend, AuthMode::SingleUser).await;
    let receiver = Receiver::start(2).await;
    let made = register(
        &app,
        &receiver.url("/hook"),
        json!(["answer_completed", "message_sent", "conversation_created"]),
    )
    .await;
    let secret = made["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{made}");
    *receiver.state.secret.lock().unwrap() = secret.to_string();
    let id = made["id"].as_str().unwrap().to_string();
    let (_, listed) = app.get("/api/v1/webhooks").await;
    assert_eq!(listed[0]["id"], made["id"]);
    assert!(listed[0].get("secret").is_none(), "shown once: {listed}");

    let (conversation, message) = app.send_new("Hello hooks [tokens=3]").await;
    app.follow(&message).await;
    let received = receiver.wait_for(3).await;
    assert!(received.iter().all(|r| r.signature_ok), "{received:?}");
    let mut kinds: Vec<&str> = received.iter().map(|r| r.event.as_str()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["answer_completed", "conversation_created", "message_sent"]
    );
    let answer = received
        .iter()
        .find(|r| r.event == "answer_completed")
        .unwrap();
    assert_eq!(answer.body["type"], "answer_completed");
    assert_eq!(answer.body["data"]["message_id"], message.as_str());
    assert_eq!(
        answer.body["data"]["conversation_id"],
        conversation.as_str()
    );
    assert_eq!(answer.body["data"]["status"], "complete");
    assert!(
        answer.body["data"].get("content").is_none(),
        "ids and figures, never the text: {}",
        answer.body
    );
    assert_eq!(
        receiver.state.requests.load(Ordering::SeqCst),
        5,
        "two refused, then three accepted"
    );

    // The log: every delivery delivered, the retried ones with their attempts.
    let (status, log) = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(status, 200, "{log}");
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|d| d["status"] == "delivered"), "{log:?}");
    assert!(log.iter().all(|d| d["response_status"] == 204));
    let attempts: i64 = log.iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
    assert_eq!(attempts, 5, "{log:?}");
    assert!(log.iter().all(|d| d["duration_ms"].as_i64().is_some()));

    // Send again: the same event, with the same id.
    let first = &log[0];
    let (status, queued) = app
        .post(
            &format!(
                "/api/v1/webhooks/deliveries/{}/redeliver",
                first["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    let received = receiver.wait_for(4).await;
    assert_eq!(received[3].body["id"], first["event_id"]);
    assert!(received[3].signature_ok);

    // A ping; then a new secret, which signs from now on.
    let (status, _) = app
        .post(&format!("/api/v1/webhooks/{id}/ping"), json!({}))
        .await;
    assert_eq!(status, 202);
    let received = receiver.wait_for(5).await;
    assert_eq!(received[4].event, "ping");
    let (_, rotated) = app
        .post(&format!("/api/v1/webhooks/{id}/secret"), json!({}))
        .await;
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    app.post(&format!("/api/v1/webhooks/{id}/ping"), json!({}))
        .await;
    let received = receiver.wait_for(6).await;
    assert!(!received[5].signature_ok, "signed with the new secret");
    assert!(ollamastack::webhooks::verify(
        new_secret,
        &ollamastack::webhooks::signature(new_secret, 1, b"x"),
        b"x",
        1,
        300
    ));

    // Switched off, then deleted: nothing more is sent.
    let (status, _) = app
        .patch(&format!("/api/v1/webhooks/{id}"), json!({"enabled": false}))
        .await;
    assert_eq!(status, 200);
    let (_, message) = app.send_new("Quiet now [tokens=2]").await;
    app.follow(&message).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 6);
    let deleted = app
        .at(Method::DELETE, &format!("/api/v1/webhooks/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (status, _) = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(status, 404);
}

async fn a_receiver_that_keeps_failing_is_given_up_on(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.auth.mode = AuthMode::SingleUser;
        settings.outbound.allowed_hosts = vec!["localhost".into()];
        settings.webhooks.first_retry_ms = 100;
        settings.webhooks.max_retry_ms = 100;
        settings.webhooks.poll_interval_ms = 50;
        // Given up after a second.
        settings.webhooks.retry_for_secs = 1;
    })
    .await;
    let failing = Receiver::start(usize::MAX).await;
    let redirecting = Receiver::start(0).await;
    let hook = register(&app, &failing.url("/hook"), json!(["message_sent"])).await;
    let redirect = register(&app, &redirecting.url("/redirect"), json!(["message_sent"])).await;
    let (_, message) = app.send_new("Anyone there? [tokens=2]").await;
    app.follow(&message).await;
    let log_of = |hook: &Value| {
        format!(
            "/api/v1/webhooks/{}/deliveries",
            hook["id"].as_str().unwrap()
        )
    };
    let mut last = Value::Null;
    for _ in 0..100 {
        let (_, log) = app.get(&log_of(&hook)).await;
        last = log[0].clone();
        if last["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["status"], "failed", "{last}");
    assert!(last["attempts"].as_i64().unwrap() >= 3, "{last}");
    assert_eq!(last["response_status"], 500);
    // A redirect is not followed, to a metadata address or anywhere.
    let (_, log) = app.get(&log_of(&redirect)).await;
    assert_eq!(log[0]["response_status"], 302, "{log}");
    assert!(
        log[0]["error"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed"),
        "{log}"
    );
    assert_ne!(log[0]["status"], "delivered");
}

async fn private_destinations_are_refused(backend: Backend) {
    // Without the allow-list: localhost is as private as it sounds.
    let app = TestApp::start(backend).await;
    let receiver = Receiver::start(0).await;
    let port = receiver.port;
    for url in [
        format!("http://localhost:{port}/hook"),
        format!("http://127.0.0.1:{port}/hook"),
        "http://2130706433/".to_string(),
        "http://0x7f000001/".to_string(),
        "http://0177.0.0.1/".to_string(),
        "http://0x7f.1/".to_string(),
        "http://127.1/".to_string(),
        "http://[::1]/".to_string(),
        "http://[::ffff:127.0.0.1]/".to_string(),
        "http://[::ffff:169.254.169.254]/".to_string(),
        "http://[0:0:0:0:0:ffff:7f00:1]/".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[fe80::1]/".to_string(),
        "http://[fd00:ec2::254]/".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://172.16.5.4/".to_string(),
        "http://192.168.1.1/".to_string(),
        "http://100.64.0.1/".to_string(),
        "http://0.0.0.0/".to_string(),
        "http://224.0.0.1/".to_string(),
        "ftp://example.com/".to_string(),
        "file:///etc/passwd".to_string(),
        "http://user:password@example.com/".to_string(),
        "not a url".to_string(),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/webhooks",
                json!({"url": url, "events": ["message_sent"]}),
            )
            .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["error"]["code"], "invalid_input");
    }
    let (_, listed) = app.get("/api/v1/webhooks").await;
    assert_eq!(listed.as_array().unwrap().len(), 0);
    assert_eq!(receiver.state.requests.load(Ordering::SeqCst), 0);

    // At sending time the resolver checks too: a name that resolves to loopback is refused
    // before anything is sent.
    let guarded = OutboundPolicy::new(Vec::<String>::new()).client(Duration::from_secs(2));
    for host in ["localhost", "127.0.0.1", "[::ffff:7f00:1]"] {
        let url = reqwest::Url::parse(&format!("http://{host}:{port}/hook")).unwrap();
        let refused = guarded.send(guarded.request(Method::POST, url)).await;
        assert!(
            matches!(refused, Err(OutboundError::Refused(_))),
            "{host}: {refused:?}"
        );
    }
    assert_eq!(receiver.state.requests.load(Ordering::SeqCst), 0);
    // Allowed by name, it goes through.
    let allowed = OutboundPolicy::new(["localhost"]).client(Duration::from_secs(2));
    let url = reqwest::Url::parse(&receiver.url("/hook")).unwrap();
    let sent = allowed
        .send(allowed.request(Method::POST, url))
        .await
        .unwrap();
    assert_eq!(sent.status(), 204);
}

async fn each_person_has_their_own_webhooks(backend: Backend) {
    let app = webhook_app(backend, AuthMode::Accounts).await;
    let receiver = Receiver::start(0).await;
    let sign_up = |name: &'static str, invitation: Option<String>| {
        app.at(Method::POST, "/api/v1/auth/signup")
            .json(&json!({"username": name, "password": "correct horse battery", "invitation": invitation}))
            .send()
    };
    let cookie_of = |response: &reqwest::Response| {
        response.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    };
    let admin = cookie_of(&sign_up("alice", None).await.unwrap());
    let call = |cookie: &str, method: Method, path: &str, body: Option<Value>| {
        let mut request = app.at(method, path).header(header::COOKIE, cookie);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (_, invitation) = call(
        &admin,
        Method::POST,
        "/api/v1/admin/invitations",
        Some(json!({"role": "user"})),
    )
    .await;
    let token = invitation["link"]
        .as_str()
        .unwrap()
        .trim_start_matches("/signup?invite=")
        .to_string();
    let bob = cookie_of(&sign_up("bob", Some(token)).await.unwrap());

    // Alice's own, and one for the whole instance.
    let (status, alices) = call(
        &admin,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": receiver.url("/hook"), "events": ["message_sent"]})),
    )
    .await;
    assert_eq!(status, 201, "{alices}");
    let (status, wide) = call(
        &admin,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": receiver.url("/hook"), "events": ["message_sent"], "instance_wide": true})),
    )
    .await;
    assert_eq!(status, 201, "{wide}");
    *receiver.state.secret.lock().unwrap() = wide["secret"].as_str().unwrap().to_string();
    let (status, _) = call(
        &bob,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": receiver.url("/hook"), "events": ["message_sent"], "instance_wide": true})),
    )
    .await;
    assert_eq!(status, 403, "only admins hear everyone");

    // Bob cannot see, change, try, rotate, log or delete Alice's.
    let alices_id = alices["id"].as_str().unwrap();
    let (_, listed) = call(&bob, Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(listed.as_array().unwrap().len(), 0);
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/webhooks/{alices_id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/webhooks/{alices_id}"),
            Some(json!({"url": "https://evil.example/"})),
        ),
        (
            Method::POST,
            format!("/api/v1/webhooks/{alices_id}/ping"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/webhooks/{alices_id}/secret"),
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("/api/v1/webhooks/{alices_id}/deliveries"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/webhooks/{alices_id}"),
            None,
        ),
    ] {
        let (status, _) = call(&bob, method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path}");
    }

    // Bob's message reaches the instance-wide webhook only, which is told it was Bob's.
    let (status, _) = call(
        &bob,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({"content": "Bob here [tokens=2]"})),
    )
    .await;
    assert_eq!(status, 201);
    let received = receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "{received:?}");
    assert!(received[0].signature_ok);
    assert!(
        received[0].body["person_id"].is_string(),
        "{:?}",
        received[0]
    );
    // A delivery of Alice's cannot be sent again by Bob.
    let (_, log) = call(
        &admin,
        Method::GET,
        &format!(
            "/api/v1/webhooks/{}/deliveries",
            wide["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    let delivery = log[0]["id"].as_str().unwrap();
    let (status, _) = call(
        &bob,
        Method::POST,
        &format!("/api/v1/webhooks/deliveries/{delivery}/redeliver"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 404);
}

/// Secrets are stored sealed; one stored in plain text by an older version still signs, and is
/// sealed at the next start.
async fn webhook_secrets_are_sealed_at_rest(backend: Backend) {
    let app = webhook_app(backend, AuthMode::SingleUser).await;
    let receiver = Receiver::start(0).await;
    let made = register(&app, &receiver.url("/hook"), json!(["message_sent"])).await;
    let id: uuid::Uuid = made["id"].as_str().unwrap().parse().unwrap();
    assert!(
        app.state
            .store
            .unsealed_webhook_secrets()
            .await
            .unwrap()
            .is_empty(),
        "a new secret is stored sealed"
    );

    // As an older version stored it.
    let plain = "whsec_stored_in_plain_text_by_an_older_version";
    let owner = app.state.local_user.0;
    assert!(app
        .state
        .store
        .set_webhook_secret(owner, id, plain)
        .await
        .unwrap());
    *receiver.state.secret.lock().unwrap() = plain.to_string();
    let (_, message) = app.send_new("Before [tokens=2]").await;
    app.follow(&message).await;
    let received = receiver.wait_for(1).await;
    assert!(received[0].signature_ok, "{received:?}");

    let (db, fake) = app.shutdown().await;
    let mut settings = common::test_settings(&db, &fake.url());
    settings.outbound.allowed_hosts = vec!["localhost".into()];
    settings.webhooks.poll_interval_ms = 50;
    let app = TestApp::serve(db, fake, settings).await;
    assert!(
        app.state
            .store
            .unsealed_webhook_secrets()
            .await
            .unwrap()
            .is_empty(),
        "sealed at the start"
    );
    let (_, message) = app.send_new("After [tokens=2]").await;
    app.follow(&message).await;
    let received = receiver.wait_for(2).await;
    assert!(
        received[1].signature_ok,
        "the same secret signs: {received:?}"
    );
}

on_both_backends!(
    webhook_secrets_are_sealed_at_rest,
    a_delivery_leaves_as_soon_as_its_event_is_committed,
    deliveries_are_signed_retried_logged_and_sent_again,
    a_receiver_that_keeps_failing_is_given_up_on,
    private_destinations_are_refused,
    each_person_has_their_own_webhooks,
);
