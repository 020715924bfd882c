//! The OpenAI-compatible API on SQLite and PostgreSQL, as an OpenAI SDK uses it: a completion
//! streamed and not, its history and system prompt sent to Ollama and stored as a conversation,
//! usage and finish reasons, errors in OpenAI's shape, tokens as API keys, and an answer that
//! is kept when the client hangs up.

mod common;

use common::{Backend, TestApp};
use ollamastack::model::AuthMode;
use ollamastack::testing::fake_ollama::FakeConfig;
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// Reads an SSE body to its end: the `data` of each event.
async fn sse_data(response: reqwest::Response) -> Vec<String> {
    let text = tokio::time::timeout(Duration::from_secs(30), response.text())
        .await
        .expect("the stream ended in time")
        .unwrap();
    text.split("\n\n")
        .filter_map(|frame| {
            let data: Vec<&str> = frame
                .lines()
                .filter_map(|line| line.strip_prefix("data: "))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

fn conversation_of(response: &reqwest::Response) -> String {
    response.headers()["x-ollamastack-conversation"]
        .to_str()
        .unwrap()
        .to_string()
}

async fn a_completion_is_answered_and_stored(backend: Backend) {
    let app = TestApp::start(backend).await;
    let response = app
        .at(Method::POST, "/v1/chat/completions")
        .json(&json!({
            "model": "llama3.2",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Hi! How can I help?"},
                {"role": "user", "content": "Count for me [tokens=6]"},
            ],
            "temperature": 0.3,
            "max_tokens": 64,
            "top_p": 0.9,
            "user": "sdk-user-1",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let conversation = conversation_of(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion", "{body}");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["model"], "llama3.2");
    assert!(body["created"].as_i64().unwrap() > 1_700_000_000);
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["finish_reason"], "stop");
    let content = choice["message"]["content"].as_str().unwrap();
    assert!(!content.is_empty());
    let usage = &body["usage"];
    assert!(usage["completion_tokens"].as_i64().unwrap() > 0, "{usage}");
    assert_eq!(
        usage["total_tokens"].as_i64().unwrap(),
        usage["prompt_tokens"].as_i64().unwrap() + usage["completion_tokens"].as_i64().unwrap()
    );

    // Ollama was sent the system prompt, the history and the question, with the options.
    let sent = app.fake.stats.last_chat_request();
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"], "{sent}");
    assert_eq!(sent["messages"][0]["content"], "You are terse.");
    assert_eq!(sent["messages"][2]["content"], "Hi! How can I help?");
    assert_eq!(sent["options"]["num_predict"], 64, "{sent}");
    assert!((sent["options"]["temperature"].as_f64().unwrap() - 0.3).abs() < 1e-6);

    // Stored like any other conversation, with the same answer.
    let (status, stored) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["conversation"]["system_prompt"], "You are terse.");
    let messages = stored["messages"].as_array().unwrap();
    let texts: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert_eq!(texts[0], ("user", "Hello"));
    assert_eq!(texts[1], ("assistant", "Hi! How can I help?"));
    assert_eq!(texts[2], ("user", "Count for me [tokens=6]"));
    assert_eq!(texts[3], ("assistant", content));
    assert_eq!(messages[3]["status"], "complete");

    // A cut answer says so.
    let cut = app
        .at(Method::POST, "/v1/chat/completions")
        .json(&json!({"model": "llama3.2", "messages": [{"role": "user", "content": "Long [length]"}]}))
        .send()
        .await
        .unwrap();
    let cut: Value = cut.json().await.unwrap();
    assert_eq!(cut["choices"][0]["finish_reason"], "length", "{cut}");

    // The models, as OpenAI lists them.
    let (status, models) = app.get("/v1/models").await;
    assert_eq!(status, 200);
    assert_eq!(models["object"], "list");
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"llama3.2:latest"), "{ids:?}");
    assert!(
        !ids.iter().any(|id| id.contains("embed")),
        "embedding models do not chat: {ids:?}"
    );
    let (status, one) = app.get("/v1/models/qwen2.5:0.5b").await;
    assert_eq!((status, one["id"].as_str()), (200, Some("qwen2.5:0.5b")));
    let (status, missing) = app.get("/v1/models/nope:1b").await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["type"], "not_found_error");
}

async fn a_streamed_completion_sends_chunks_then_done(backend: Backend) {
    let app = TestApp::start(backend).await;
    let response = app
        .at(Method::POST, "/v1/chat/completions")
        .json(&json!({
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "Stream it [tokens=20] ünïcödé"}],
            "stream": true,
            "stream_options": {"include_usage": true},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let conversation = conversation_of(&response);
    let data = sse_data(response).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(chunks.len() > 5, "token by token: {chunks:?}");
    let id = chunks[0]["id"].as_str().unwrap();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let mut text = String::new();
    let mut finish = None;
    let mut usage = None;
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], id, "one id for the whole answer");
        if let Some(choice) = chunk["choices"].get(0) {
            if let Some(piece) = choice["delta"]["content"].as_str() {
                text.push_str(piece);
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                finish = Some(reason.to_string());
            }
        } else {
            usage = Some(chunk["usage"].clone());
        }
    }
    assert_eq!(finish.as_deref(), Some("stop"));
    assert!(usage.unwrap()["completion_tokens"].as_i64().unwrap() > 0);
    let (_, stored) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(
        stored["messages"][1]["content"].as_str().unwrap(),
        text,
        "the chunks add up to the stored answer"
    );

    // An answer that fails midway says so in the stream, then ends.
    let failing = app
        .at(Method::POST, "/v1/chat/completions")
        .json(&json!({"model": "llama3.2", "stream": true, "messages": [{"role": "user", "content": "Fail [error]"}]}))
        .send()
        .await
        .unwrap();
    let data = sse_data(failing).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let error: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(error["error"]["type"], "api_error", "{error}");
}

async fn a_client_that_hangs_up_loses_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let response = app
        .at(Method::POST, "/v1/chat/completions")
        .json(&json!({"model": "llama3.2", "stream": true, "messages": [{"role": "user", "content": "Slowly [tokens=30] [delay=20]"}]}))
        .send()
        .await
        .unwrap();
    let conversation = conversation_of(&response);
    let message = response.headers()["x-ollamastack-message"]
        .to_str()
        .unwrap()
        .to_string();
    let mut body = response.bytes_stream();
    use futures::StreamExt;
    let _first = body.next().await;
    drop(body);
    let answer = app
        .wait_for_message(&conversation, &message, 20, |m| m["status"] != "streaming")
        .await;
    assert_eq!(answer["status"], "complete", "{answer}");
    assert!(!answer["content"].as_str().unwrap().is_empty());
}

async fn errors_have_openai_shape_and_store_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ask = |body: Value| {
        app.at(Method::POST, "/v1/chat/completions")
            .json(&body)
            .send()
    };
    let missing = ask(json!({"model": "nope:7b", "messages": [{"role": "user", "content": "Hi"}]}))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["type"], "not_found_error", "{body}");
    assert_eq!(body["error"]["code"], "model_not_found");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("ollama pull nope:7b"));
    for bad in [
        json!({"model": "llama3.2", "messages": []}),
        json!({"model": "llama3.2", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f"}}]}),
        json!({"messages": [{"role": "user", "content": "no model"}]}),
        json!({"model": "llama3.2", "messages": "not a list"}),
    ] {
        let response = ask(bad.clone()).await.unwrap();
        assert_eq!(response.status(), 422, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 5);
    }
    let (_, conversations) = app.get("/api/v1/conversations").await;
    assert_eq!(
        conversations.as_array().unwrap().len(),
        0,
        "nothing stored for a refused request: {conversations}"
    );
    let unknown = app.at(Method::GET, "/v1/embeddings").send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["type"], "not_found_error");
}

async fn tokens_are_the_api_keys(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.auth.mode = AuthMode::Accounts;
    })
    .await;
    let signup = app
        .at(Method::POST, "/api/v1/auth/signup")
        .json(&json!({"username": "alice", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let cookie = signup.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let make = |scope: &'static str| {
        app.at(Method::POST, "/api/v1/tokens")
            .header(header::COOKIE, &cookie)
            .json(&json!({"name": scope, "scope": scope}))
            .send()
    };
    let writer: Value = make("read_write").await.unwrap().json().await.unwrap();
    let reader: Value = make("read").await.unwrap().json().await.unwrap();
    let completion =
        json!({"model": "llama3.2", "messages": [{"role": "user", "content": "Hi [tokens=3]"}]});

    let anonymous = app
        .at(Method::POST, "/v1/chat/completions")
        .json(&completion)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = app
        .at(Method::GET, "/v1/models")
        .bearer_auth("sk-not-ours")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let read_only = app
        .at(Method::POST, "/v1/chat/completions")
        .bearer_auth(reader["token"].as_str().unwrap())
        .json(&completion)
        .send()
        .await
        .unwrap();
    assert_eq!(read_only.status(), StatusCode::FORBIDDEN);
    let models = app
        .at(Method::GET, "/v1/models")
        .bearer_auth(reader["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    let answered = app
        .at(Method::POST, "/v1/chat/completions")
        .bearer_auth(writer["token"].as_str().unwrap())
        .json(&completion)
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    // Alice sees it among her conversations.
    let listed: Value = app
        .at(Method::GET, "/api/v1/conversations")
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["title"], "Hi [tokens=3]", "{listed}");
}

/// The REST API describes itself: an OpenAPI document anyone may read, and a page of it that
/// needs nothing from elsewhere.
async fn the_api_is_described(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.auth.mode = AuthMode::Accounts;
    })
    .await;
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200, "public, like the sign-in routes");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/conversations",
        "/api/v1/conversations/{id}",
        "/api/v1/webhooks/{id}/deliveries",
        "/v1/chat/completions",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
    assert_eq!(
        doc["paths"]["/api/v1/conversations"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/SendMessage"
    );
    let page = app.at(Method::GET, "/api/docs").send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("<code>/api/v1/conversations/{id}</code>"));
    assert!(!html.contains("<script"), "no script");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from elsewhere"
    );
}

on_both_backends!(
    the_api_is_described,
    a_completion_is_answered_and_stored,
    a_streamed_completion_sends_chunks_then_done,
    a_client_that_hangs_up_loses_nothing,
    errors_have_openai_shape_and_store_nothing,
    tokens_are_the_api_keys,
);
