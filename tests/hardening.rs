//! Hostile input and faults, through the real router on SQLite and PostgreSQL: characters a
//! database refuses, oversized bodies, concurrent sends, limits, cross-origin requests, headers.

mod common;

use common::{text_of, Backend, TestApp};
use futures::StreamExt;
use ollamastack::testing::fake_ollama::{expected_answer, FakeConfig, CONTROLS_ANSWER};
use serde_json::{json, Value};
use std::time::Duration;

/// Whatever characters a model streams, the answer is stored, and a reload shows exactly what
/// was streamed (NUL, which PostgreSQL refuses, is removed on both databases).
async fn odd_characters_from_the_model_are_stored(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("[controls]").await;
    let (events, done) = app.follow(&answer).await;
    let expected: String = CONTROLS_ANSWER.concat().replace('\0', "");
    assert_eq!(done["status"], "complete", "{done}");
    assert_eq!(done["content"], expected);
    assert_eq!(text_of(&events), expected, "streamed = stored");
    let stored = app.message(&conversation, &answer).await;
    assert_eq!(stored["content"], expected);
}

/// A message that is empty once control characters are removed is refused; nothing is stored.
async fn a_message_of_control_characters_is_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    for content in ["\u{0}\u{0}", "\u{1}\u{7f}\u{9f}", " \u{0}\n\t\u{1b}"] {
        let (status, body) = app
            .post(
                "/api/v1/conversations",
                json!({ "content": content, "model": "llama3.2" }),
            )
            .await;
        assert_eq!(status, 422, "{content:?}: {body}");
    }
    let (_, list) = app.get("/api/v1/conversations").await;
    assert_eq!(list, json!([]), "nothing stored");
    // Control characters inside real text are dropped, the text is kept.
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({ "content": "hel\u{0}lo\u{7}", "model": "llama3.2" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user_message"]["content"], "hello");
    app.follow(body["assistant_message"]["id"].as_str().unwrap())
        .await;
}

/// Two sends at the same moment in one conversation: one answer starts (201), the other is a
/// conflict (409), and the refused message is not stored.
async fn simultaneous_sends_start_one_answer(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, first) = app.send_new("hello").await;
    app.follow(&first).await;
    let path = format!("/api/v1/conversations/{conversation}/messages");
    for round in 0..5 {
        let body_a = json!({ "content": format!("a{round} [delay=20]") });
        let body_b = json!({ "content": format!("b{round} [delay=20]") });
        let ((status_a, a), (status_b, b)) =
            tokio::join!(app.post(&path, body_a), app.post(&path, body_b));
        let mut statuses = [status_a, status_b];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "round {round}: {a} {b}");
        let started = if status_a == 201 { a } else { b };
        app.follow(started["assistant_message"]["id"].as_str().unwrap())
            .await;
    }
    let (_, body) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(
        body["messages"].as_array().unwrap().len(),
        2 + 5 * 2,
        "only the accepted turns are stored"
    );
}

/// Above the cap on concurrent answers: 429 with Retry-After, and nothing stored.
async fn too_many_answers_at_once_get_429(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |s| {
        s.generation.max_concurrent_per_owner = 1;
    })
    .await;
    let (_, running) = app.send_new("[stall]").await;
    let response = app
        .at(reqwest::Method::POST, "/api/v1/conversations")
        .json(&json!({ "content": "another", "model": "llama3.2" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_busy");
    let (_, list) = app.get("/api/v1/conversations").await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "the refused turn left nothing"
    );
    // Once the running answer ends, there is room again.
    app.post(&format!("/api/v1/messages/{running}/stop"), json!({}))
        .await;
    let (_, next) = app.send_new("now").await;
    app.follow(&next).await;
}

/// The answer length is capped: `num_predict` absent or -1 becomes the server's limit, and an
/// answer longer than the character limit stops there, keeping its text.
async fn answers_are_capped_in_tokens_and_characters(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |s| {
        s.generation.max_answer_tokens = 500;
        s.generation.max_answer_chars = 30;
    })
    .await;
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({ "content": "long [tokens=200]", "model": "llama3.2", "options": { "num_predict": -1 } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, done) = app
        .follow(body["assistant_message"]["id"].as_str().unwrap())
        .await;
    assert_eq!(
        app.fake.stats.last_chat_request()["options"]["num_predict"],
        500
    );
    assert_eq!(done["status"], "stopped", "{done}");
    assert_eq!(done["done_reason"], "limit");
    let chars = done["content"].as_str().unwrap().chars().count();
    assert!((30..60).contains(&chars), "stopped near the limit: {chars}");
    assert!(
        done["error"].as_str().unwrap().contains("30 characters"),
        "{done}"
    );
    // The conversation's page says why, under the answer, not only "Stopped".
    let page = app
        .page(&format!(
            "/c/{}",
            body["conversation"]["id"].as_str().unwrap()
        ))
        .await;
    assert!(page.contains(r#"data-testid="message-note""#), "{page}");
    assert!(
        page.contains("The answer reached the longest length this server allows (30 characters)."),
        "{page}"
    );

    let (_, answer) = app.send_new("short").await;
    app.follow(&answer).await;
    assert_eq!(
        app.fake.stats.last_chat_request()["options"]["num_predict"],
        500
    );

    // A smaller num_predict is kept, and Ollama stops there.
    let (_, body) = app
        .post(
            "/api/v1/conversations",
            json!({ "content": "[tokens=50]", "model": "llama3.2", "options": { "num_predict": 5 } }),
        )
        .await;
    let (_, done) = app
        .follow(body["assistant_message"]["id"].as_str().unwrap())
        .await;
    assert_eq!(
        app.fake.stats.last_chat_request()["options"]["num_predict"],
        5
    );
    // (Five tokens stay under this test's 30-character limit.)
    assert_eq!(done["content"], expected_answer(5));
    assert_eq!(done["done_reason"], "length");
    assert_eq!(done["status"], "complete");
    // Complete, yet cut off: the page says so and how to allow longer answers.
    let page = app
        .page(&format!(
            "/c/{}",
            body["conversation"]["id"].as_str().unwrap()
        ))
        .await;
    assert!(page.contains(">Cut off<"), "{page}");
    assert!(page.contains(r#"data-testid="message-note""#), "{page}");
    assert!(page.contains("length limit: raise Max tokens"), "{page}");
    // An answer that ended on its own has neither.
    let (conversation, answer) = app.send_new("short again [tokens=3]").await;
    app.follow(&answer).await;
    let page = app.page(&format!("/c/{conversation}")).await;
    assert!(!page.contains(r#"data-testid="message-note""#), "{page}");
    assert!(!page.contains(">Cut off<"), "{page}");
}

/// Bodies larger than the limit are refused before they are read, on the REST API and on
/// server functions, whether their size is declared or not.
async fn oversized_bodies_are_refused(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |s| {
        s.server.max_body_bytes = 64 * 1024;
    })
    .await;
    let big = "x".repeat(200 * 1024);
    // A connection the server refused a body on is closed: never reuse one for the next request.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let json_body = json!({ "content": big, "model": "llama3.2" }).to_string();
    for path in ["/api/v1/conversations", send_message_path()] {
        let response = http
            .post(format!("{}{path}", app.url))
            .header("content-type", "application/json")
            .body(json_body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{path} with Content-Length");
        // Streamed without a declared length: refused once it passes the limit.
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = json_body
            .as_bytes()
            .chunks(8 * 1024)
            .map(|c| Ok(c.to_vec()))
            .collect();
        let response = http
            .post(format!("{}{path}", app.url))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await;
        match response {
            // 413 once past the limit; 411 where a length must be declared (server functions).
            Ok(response) => assert!(
                [411, 413].contains(&response.status().as_u16()),
                "{path} streamed: {}",
                response.status()
            ),
            // The server answered and hung up before the client had sent it all: also refused.
            Err(error) => assert!(error.is_request(), "{path} streamed: {error}"),
        }
    }
    let (_, list) = app.get("/api/v1/conversations").await;
    assert_eq!(list, json!([]));
}

/// A page on another site cannot change anything: cross-origin POSTs are refused and store
/// nothing; requests for an unknown host (DNS rebinding) are refused; the page itself works.
async fn cross_origin_and_unknown_hosts_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let body = json!({ "content": "from evil", "model": "llama3.2" });
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = app
            .at(reqwest::Method::POST, "/api/v1/conversations")
            .header(name, value)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{name}: {value}");
        let form = app
            .http
            .post(format!("{}{}", app.url, send_message_path()))
            .header(name, value)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("content=from+evil")
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), 403, "server function, {name}: {value}");
    }
    let (_, list) = app.get("/api/v1/conversations").await;
    assert_eq!(list, json!([]), "nothing was stored");

    let rebinding = app
        .at(reqwest::Method::GET, "/api/v1/conversations")
        .header("host", "attacker.example:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(rebinding.status(), 403);

    // The page's own requests pass.
    let host = app.url.trim_start_matches("http://").to_string();
    let response = app
        .at(reqwest::Method::POST, "/api/v1/conversations")
        .header("origin", format!("http://{host}"))
        .header("sec-fetch-site", "same-origin")
        .json(&json!({ "content": "from the page", "model": "llama3.2" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    app.follow(created["assistant_message"]["id"].as_str().unwrap())
        .await;
}

/// Every response carries the security headers; a page's CSP names the nonce its scripts carry.
/// Nothing the server sends shows owner ids or the credentials of the Ollama URL.
async fn security_headers_and_redaction(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("hello").await;
    app.follow(&answer).await;

    let page = app
        .at(reqwest::Method::GET, &format!("/c/{conversation}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("img-src 'self' data:"), "{csp}");
    let html = page.text().await.unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the CSP");
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        html.matches("<script").count() - html.matches("<script type=\"application/json").count(),
        "every script carries the nonce: {html}"
    );

    let api = app
        .at(
            reqwest::Method::GET,
            &format!("/api/v1/conversations/{conversation}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert!(api.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let body = api.text().await.unwrap();
    assert!(!body.contains("owner_id"), "{body}");
    assert!(
        !body.contains(&app.state.local_user.0.to_string()),
        "{body}"
    );
}

/// Ollama's address is shown without its credentials, and its errors without OS detail.
async fn what_browsers_see_of_ollama_is_redacted(backend: Backend) {
    let db = common::TestDb::new(backend).await;
    let fake = ollamastack::testing::fake_ollama::FakeOllama::start(FakeConfig::default())
        .await
        .unwrap();
    let mut settings = common::test_settings(&db, "http://admin:s3cret@127.0.0.1:9");
    settings.ollama.connect_timeout_ms = 500;
    let app = TestApp::serve(db, fake, settings).await;
    let (status, body) = app.get("/api/v1/models").await;
    assert_eq!(status, 200);
    let text = body.to_string();
    assert!(
        !text.contains("s3cret") && !text.contains("admin"),
        "{text}"
    );
    assert!(!text.contains("os error"), "{text}");
    assert_eq!(body["url"], "http://127.0.0.1:9");
}

/// A page that cannot be rendered in time is a 503 with Retry-After, not a request that hangs;
/// the API is not held to the page deadline.
async fn a_page_that_cannot_render_in_time_is_a_503(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        // No render finishes on its first poll: every page misses this deadline.
        settings.server.page_timeout_ms = 0;
    })
    .await;
    let page = app.at(reqwest::Method::GET, "/").send().await.unwrap();
    assert_eq!(page.status(), 503);
    assert_eq!(page.headers()["retry-after"], "1");
    assert!(page.text().await.unwrap().contains("Please reload it"));
    let (status, _) = app.get("/api/v1/conversations").await;
    assert_eq!(status, 200);
}

/// Pages always finish under load, and each shows only its own person's data: two people load
/// their pages many at a time (the conversation page and the home page, each reading several
/// resources), and every page ends whole, names the person it was rendered for and holds none of
/// the other's conversations. Leptos once let a page's render create signals under, and read
/// contexts of, another page's render running on the same thread (see `web::RenderOwner`).
async fn pages_finish_under_concurrent_load(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.auth.mode = ollamastack::model::AuthMode::Accounts;
    })
    .await;
    let (alice, bob) = common::admin_and_user(&app, "alice", "bob").await;
    let mut people = Vec::new();
    for (name, cookie) in [("alice", alice), ("bob", bob)] {
        let secret = format!("{name} keeps this to {name}self");
        let (status, body) = common::call_as(
            &app,
            &cookie,
            reqwest::Method::POST,
            "/api/v1/conversations",
            Some(json!({"content": secret, "model": "llama3.2"})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let conversation = body["conversation"]["id"].as_str().unwrap().to_string();
        let answer = body["assistant_message"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        people.push((name, cookie, conversation, answer, secret));
    }
    for (_, cookie, conversation, _, _) in &people {
        app.wait_idle(cookie, conversation).await;
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let people = &people;
    let renders = futures::stream::iter(0..400usize)
        .map(|round| {
            let http = http.clone();
            let (name, cookie, conversation, _, secret) = &people[round % 2];
            let (_, _, _, _, other_secret) = &people[(round + 1) % 2];
            let path = if round % 4 < 2 {
                format!("/c/{conversation}")
            } else {
                "/".to_string()
            };
            let url = format!("{}{path}", app.url);
            async move {
                let page = http
                    .get(&url)
                    .header(reqwest::header::COOKIE, cookie)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("page {round} ({path}): {e}"));
                assert_eq!(page.status(), 200, "page {round} ({path})");
                let html = page
                    .text()
                    .await
                    .unwrap_or_else(|e| panic!("page {round} ({path}) never ended: {e}"));
                // A whole page: the document, then every resource's data, then the closing
                // list of chunks that did not resolve (none).
                let tail = &html[html.len().saturating_sub(200)..];
                assert!(html.contains("</html>"), "page {round}: ...{tail}");
                assert!(
                    html.trim_end()
                        .ends_with("__INCOMPLETE_CHUNKS=[];</script>"),
                    "page {round}: ...{tail}"
                );
                let signed_in =
                    format!(r#"data-testid="signed-in-as" class="truncate font-medium">{name}<"#);
                assert!(
                    html.contains(&signed_in),
                    "page {round} ({path}) is not {name}'s"
                );
                // Their own conversation (in the list, and on its page), never the other's.
                assert!(html.contains(secret.as_str()), "page {round} ({path})");
                assert!(
                    !html.contains(other_secret.as_str()),
                    "page {round} ({path}) shows another person's conversation"
                );
            }
        })
        .buffer_unordered(16);
    renders.collect::<Vec<()>>().await;
}

on_both_backends!(
    pages_finish_under_concurrent_load,
    a_page_that_cannot_render_in_time_is_a_503,
    odd_characters_from_the_model_are_stored,
    a_message_of_control_characters_is_refused,
    simultaneous_sends_start_one_answer,
    too_many_answers_at_once_get_429,
    answers_are_capped_in_tokens_and_characters,
    oversized_bodies_are_refused,
    cross_origin_and_unknown_hosts_are_refused,
    security_headers_and_redaction,
    what_browsers_see_of_ollama_is_redacted,
);

/// Where the page's `send_message` server function is served.
fn send_message_path() -> &'static str {
    <ollamastack::server_fns::chat::SendMessage as leptos::server_fn::ServerFn>::PATH
}
