//! Rate limits, client addresses and CORS on SQLite and PostgreSQL: requests past the limit get
//! 429 with Retry-After and the RateLimit headers; a forged X-Forwarded-For changes nothing
//! unless a trusted proxy sent it; each person has their own count; live streams per person are
//! capped; CORS is off by default and, when listed, admits an origin's token-carrying calls
//! to the REST API only.

mod common;

use common::{Backend, TestApp};
use ollamastack::model::AuthMode;
use ollamastack::testing::fake_ollama::FakeConfig;
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

async fn limited_app(backend: Backend, per_minute: u32, trusted: &[&str]) -> TestApp {
    let trusted: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
    TestApp::start_with(backend, FakeConfig::default(), move |settings| {
        settings.auth.mode = AuthMode::Accounts;
        settings.limits.per_minute = per_minute;
        settings.limits.per_hour = 1_000;
        settings.limits.trusted_proxies = trusted;
    })
    .await
}

/// Signs up (the first account is the admin) and returns a read-write token.
async fn admin_token(app: &TestApp, name: &str) -> String {
    let response = app
        .at(Method::POST, "/api/v1/auth/signup")
        .json(&json!({"username": name, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = session_cookie(&response);
    let made: Value = app
        .at(Method::POST, "/api/v1/tokens")
        .header(header::COOKIE, cookie)
        .json(&json!({"name": "script"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    made["token"].as_str().unwrap().to_string()
}

fn session_cookie(response: &reqwest::Response) -> String {
    response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn header_number(response: &reqwest::Response, name: &str) -> u64 {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn requests_past_the_limit_wait(backend: Backend) {
    let app = limited_app(backend, 5, &[]).await;
    // One request of this address: the sign-up. The token's requests are Alice's own.
    let token = admin_token(&app, "alice").await;

    // Without a person, the address counts; inventing addresses does not help.
    let mut answered = Vec::new();
    for i in 0..10 {
        let response = app
            .at(Method::GET, "/api/v1/conversations")
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(header_number(&response, "retry-after") >= 1);
            assert_eq!(header_number(&response, "ratelimit-remaining"), 0);
            assert_eq!(header_number(&response, "ratelimit-limit"), 5);
            assert_eq!(
                response.headers()["ratelimit-policy"],
                "5;w=60, 1000;w=3600"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited", "{body}");
            break;
        }
        assert_eq!(response.status(), 401);
        answered.push(header_number(&response, "ratelimit-remaining"));
    }
    assert_eq!(
        answered,
        [3, 2, 1, 0],
        "the sign-up and four more, then 429"
    );
    // A wrong token from here is refused as too many too, not checked again and again.
    let guess = app
        .at(Method::GET, "/api/v1/conversations")
        .bearer_auth("osk_made_up")
        .send()
        .await
        .unwrap();
    assert_eq!(guess.status(), 429);
    // Health checks and the site's files are not counted.
    for path in ["/healthz", "/readyz", "/favicon.svg"] {
        let response = app.at(Method::GET, path).send().await.unwrap();
        assert_ne!(response.status(), 429, "{path}");
        assert!(
            response.headers().get("ratelimit-limit").is_none(),
            "{path}"
        );
    }

    // Alice, from the same address, has her own five (the token's creation took one).
    let mut remaining = Vec::new();
    loop {
        let response = app
            .at(Method::GET, "/api/v1/conversations")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            break;
        }
        assert_eq!(response.status(), 200);
        remaining.push(header_number(&response, "ratelimit-remaining"));
        assert!(remaining.len() <= 5, "no limit: {remaining:?}");
    }
    assert_eq!(remaining, [3, 2, 1, 0]);
    // Sending a message is refused too, and nothing is stored.
    let refused = app
        .at(Method::POST, "/api/v1/conversations")
        .bearer_auth(&token)
        .json(&json!({"content": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let alice = app.state.store.ensure_user("alice").await.unwrap();
    let stored = app.state.store.list_conversations(alice).await.unwrap();
    assert!(stored.is_empty(), "{stored:?}");
}

async fn a_trusted_proxy_names_the_client(backend: Backend) {
    let app = limited_app(backend, 3, &["127.0.0.1"]).await;
    let ask = |client: &'static str| {
        app.at(Method::GET, "/api/v1/conversations")
            .header("x-forwarded-for", format!("{client}, 10.0.0.1"))
            .send()
    };
    // 10.0.0.1 is not a proxy of ours: it is the client as far as we can tell.
    for _ in 0..3 {
        assert_eq!(ask("203.0.113.1").await.unwrap().status(), 401);
    }
    assert_eq!(ask("203.0.113.1").await.unwrap().status(), 429);
    assert_eq!(
        ask("203.0.113.2").await.unwrap().status(),
        429,
        "the client is the last address no trusted proxy wrote: 10.0.0.1"
    );

    let app2 = limited_app(backend, 3, &["127.0.0.1", "10.0.0.0/8"]).await;
    let ask = |client: &'static str| {
        app2.at(Method::GET, "/api/v1/conversations")
            .header("x-forwarded-for", format!("{client}, 10.0.0.1"))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(ask("203.0.113.1").await.unwrap().status(), 401);
    }
    assert_eq!(ask("203.0.113.1").await.unwrap().status(), 429);
    assert_eq!(
        ask("203.0.113.2").await.unwrap().status(),
        401,
        "another client behind the same proxies counts on its own"
    );
}

async fn live_streams_per_person_are_capped(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.limits.max_streams_per_person = 2;
    })
    .await;
    let (_, message) = app.send_new("A long one [tokens=400] [delay=50]").await;
    let open = || {
        app.at(Method::GET, &format!("/api/v1/messages/{message}/events"))
            .send()
    };
    let first = open().await.unwrap();
    let second = open().await.unwrap();
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open().await.unwrap();
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key(header::RETRY_AFTER));
    let body: Value = third.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("live streams"),
        "{body}"
    );
    // Closing one frees its place.
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        let response = open().await.unwrap();
        if response.status() == 200 {
            reopened = Some(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(reopened.is_some(), "a closed stream's place came back");
    drop(second);
    drop(reopened);
    app.post(&format!("/api/v1/messages/{message}/stop"), json!({}))
        .await;
}

async fn cors_follows_the_allow_list(backend: Backend) {
    // Off by default: no CORS headers for anyone.
    let closed = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.auth.mode = AuthMode::Accounts;
    })
    .await;
    let preflight = closed
        .at(Method::OPTIONS, "/api/v1/conversations")
        .header(header::ORIGIN, "https://tools.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());

    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.auth.mode = AuthMode::Accounts;
        settings.server.cors_origins = vec!["https://tools.example.com".into()];
    })
    .await;
    let token = admin_token(&app, "alice").await;
    let listed = "https://tools.example.com";
    let preflight = |origin: &'static str, path: &'static str| {
        app.at(Method::OPTIONS, path)
            .header(header::ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight(listed, "/api/v1/conversations").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        listed
    );
    let allowed_headers = allowed.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );
    assert!(
        allowed
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
            .is_none(),
        "never cookies across origins"
    );
    for (origin, path) in [
        ("https://evil.example", "/api/v1/conversations"),
        (listed, "/api/send_message"),
    ] {
        let refused = preflight(origin, path).await.unwrap();
        assert!(
            refused
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none(),
            "{origin} {path}"
        );
    }

    // The listed origin's script with a token may read and write.
    let sent = app
        .at(Method::POST, "/api/v1/conversations")
        .header(header::ORIGIN, listed)
        .header("sec-fetch-site", "cross-site")
        .bearer_auth(&token)
        .json(&json!({"content": "From the tools page [tokens=2]"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);
    assert_eq!(sent.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], listed);
    // A refusal is readable by that page too.
    let unauthorized = app
        .at(Method::GET, "/api/v1/conversations")
        .header(header::ORIGIN, listed)
        .bearer_auth("osk_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(
        unauthorized.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        listed
    );
    // Another origin, or the listed one riding on a session cookie, changes nothing.
    let login = app
        .at(Method::POST, "/api/v1/auth/login")
        .json(&json!({"username": "alice", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&login);
    for request in [
        app.at(Method::POST, "/api/v1/conversations")
            .header(header::ORIGIN, "https://evil.example")
            .bearer_auth(&token),
        app.at(Method::POST, "/api/v1/conversations")
            .header(header::ORIGIN, listed)
            .header(header::COOKIE, &cookie),
    ] {
        let response = request
            .json(&json!({"content": "forged"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
    }
    let (_, listed_conversations) = {
        let response = app
            .at(Method::GET, "/api/v1/conversations")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(
        listed_conversations.as_array().unwrap().len(),
        1,
        "{listed_conversations}"
    );
}

on_both_backends!(
    requests_past_the_limit_wait,
    a_trusted_proxy_names_the_client,
    live_streams_per_person_are_capped,
    cors_follows_the_allow_list,
);
