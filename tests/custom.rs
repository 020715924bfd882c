//! Routes for other programs, on SQLite and PostgreSQL: named custom actions with hostile
//! parameters, conversations exported (JSON and markdown) and imported back losslessly, and
//! the configured response headers.

mod common;

use common::{Backend, TestApp};
use ollamastack::testing::fake_ollama::FakeConfig;
use reqwest::Method;
use serde_json::{json, Value};

async fn act(app: &TestApp, body: Value) -> (u16, Value) {
    app.post("/api/v1/custom/action", body).await
}

/// Every answer has `success`, `data` and `message`, failures included.
fn assert_shape(status: u16, body: &Value) {
    assert!(body["success"].is_boolean(), "{status}: {body}");
    assert!(body.get("data").is_some(), "{status}: {body}");
    assert!(body["message"].is_string(), "{status}: {body}");
}

async fn custom_actions_check_their_parameters(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, body) = act(&app, json!({ "action": "list_actions" })).await;
    assert_eq!(status, 200, "{body}");
    assert_shape(status, &body);
    let names: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "list_actions",
            "run_tool",
            "summarize_conversation",
            "export_conversation"
        ]
    );

    let (status, body) = act(
        &app,
        json!({ "action": "run_tool", "parameters": { "tool": "calculator", "arguments": { "expression": "6*7" } } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert!(
        body["data"]["result"].as_str().unwrap().contains("42"),
        "{body}"
    );

    // Hostile and wrong input: a clear status and message, always in the same shape.
    let cases = [
        (
            json!({ "action": "format_disk" }),
            404,
            "action 'format_disk'",
        ),
        (
            json!({ "action": "run_tool", "parameters": { "tool": "calculator", "argz": {} } }),
            422,
            "run_tool: parameters: unknown field `argz`",
        ),
        (
            json!({ "action": "run_tool", "parameters": ["calculator"] }),
            422,
            "run_tool: parameters: invalid type",
        ),
        (
            json!({ "action": "run_tool", "parameters": { "tool": "rm -rf /" } }),
            422,
            "no tool named",
        ),
        (json!({ "action": "run_tool" }), 422, "missing field `tool`"),
        (
            json!({ "action": "summarize_conversation", "parameters": { "conversation_id": "../etc" } }),
            422,
            "summarize_conversation: parameters",
        ),
        (
            json!({ "action": "summarize_conversation", "parameters": { "conversation_id": uuid::Uuid::now_v7() } }),
            404,
            "conversation not found",
        ),
        (
            json!({ "action": "export_conversation", "parameters": { "conversation_id": uuid::Uuid::now_v7(), "format": "pdf" } }),
            422,
            "format must be json or markdown",
        ),
        (json!({ "parameters": {} }), 422, "missing field `action`"),
        (
            json!({ "action": "list_actions", "parameters": { "all": true } }),
            422,
            "unknown field `all`",
        ),
        (
            json!({ "action": "list_actions", "extra": 1 }),
            422,
            "unknown field `extra`",
        ),
    ];
    for (request, expected_status, expected) in cases {
        let (status, body) = act(&app, request.clone()).await;
        assert_eq!(status, expected_status, "{request}: {body}");
        assert_shape(status, &body);
        assert_eq!(body["success"], false);
        assert!(
            body["message"].as_str().unwrap().contains(expected),
            "{request}: {body}"
        );
    }
    let response = app
        .at(Method::POST, "/api/v1/custom/action")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_shape(422, &response.json().await.unwrap());

    // A tool that refuses its arguments: the action ran, and says why it did not succeed.
    let (status, body) = act(
        &app,
        json!({ "action": "run_tool", "parameters": { "tool": "calculator", "arguments": { "expression": "2+" } } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], false);
    assert!(!body["message"].as_str().unwrap().is_empty());

    // Summaries and exports of a real conversation.
    let (conversation, answer) = app.send_new("Plan a picnic for Saturday [tokens=10]").await;
    app.follow(&answer).await;
    let (status, body) = act(
        &app,
        json!({ "action": "summarize_conversation", "parameters": { "conversation_id": conversation } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body["data"]["summary"].as_str().unwrap().is_empty(),
        "{body}"
    );
    let sent = app.fake.stats.last_chat_request();
    assert!(
        sent["messages"][0]["content"]
            .as_str()
            .unwrap()
            .starts_with("Summarise"),
        "{sent}"
    );
    assert!(
        sent["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("Plan a picnic for Saturday"),
        "{sent}"
    );
    let (status, body) = act(
        &app,
        json!({ "action": "export_conversation", "parameters": { "conversation_id": conversation, "format": "markdown" } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let content = body["data"]["content"].as_str().unwrap();
    assert!(content.starts_with("# Plan a picnic"), "{content}");
    assert!(content.contains("## You · "), "{content}");

    // Tools switched off: run_tool goes with them.
    let response = app
        .at(Method::PUT, "/api/v1/settings/features.custom_tools")
        .json(&json!({ "value": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = act(
        &app,
        json!({ "action": "run_tool", "parameters": { "tool": "calculator", "arguments": { "expression": "1" } } }),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("feature_off")),
        "{body}"
    );
}

/// The fields of a message that an export must keep (ids and the conversation change).
fn kept(message: &Value) -> Value {
    let mut message = message.clone();
    let object = message.as_object_mut().unwrap();
    object.remove("id");
    object.remove("conversation_id");
    message
}

async fn get_text(app: &TestApp, path: &str) -> (u16, String, String, String) {
    let response = app.at(Method::GET, path).send().await.unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (kind, disposition) = (header("content-type"), header("content-disposition"));
    (status, kind, disposition, response.text().await.unwrap())
}

async fn conversations_export_and_import_losslessly(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (first, answer) = app
        .send_new_with(json!({
            "content": r#"What is 6*7? [call=calculator {"expression":"6*7"}]"#,
            "model": "llama3.2",
            "tools": ["calculator"],
        }))
        .await;
    app.follow_run(&answer).await;
    let outcome = app
        .send_in(&first, json!({ "content": "Thanks! [think][tokens=5]" }))
        .await;
    app.follow(outcome["assistant_message"]["id"].as_str().unwrap())
        .await;
    let (_, original) = app.get(&format!("/api/v1/conversations/{first}")).await;
    let original_messages = original["messages"].as_array().unwrap().clone();
    assert!(original_messages.len() >= 5, "{original}");

    let (status, kind, disposition, json_text) = get_text(
        &app,
        &format!("/api/v1/conversations/{first}/export?format=json"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(kind, "application/json");
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    let export: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(export["format"], "ollamastack.conversation");
    assert!(
        export["conversation"].get("owner_id").is_none(),
        "no owner in an export"
    );

    // Imported twice: two new conversations, each the same as the original.
    for _ in 0..2 {
        let (status, body) = app
            .post("/api/v1/conversations/import", export.clone())
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["messages"], original_messages.len());
        let id = body["conversations"][0]["id"].as_str().unwrap().to_string();
        assert_ne!(id, first);
        let (_, copy) = app.get(&format!("/api/v1/conversations/{id}")).await;
        assert_eq!(
            copy["conversation"]["title"],
            original["conversation"]["title"]
        );
        assert_eq!(
            copy["conversation"]["created_at"],
            original["conversation"]["created_at"]
        );
        let copied: Vec<Value> = copy["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(kept)
            .collect();
        let expected: Vec<Value> = original_messages.iter().map(kept).collect();
        assert_eq!(copied, expected, "lossless");
    }

    // Markdown, to read.
    let (status, kind, _, markdown) = get_text(
        &app,
        &format!("/api/v1/conversations/{first}/export?format=markdown"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/markdown"), "{kind}");
    assert!(
        markdown.contains("## Assistant calls calculator"),
        "{markdown}"
    );
    assert!(markdown.contains("## Tool calculator"), "{markdown}");

    // All at once, and back.
    let (_, list) = app.get("/api/v1/conversations").await;
    let before = list.as_array().unwrap().len();
    assert_eq!(before, 3);
    let (status, _, _, all) = get_text(&app, "/api/v1/conversations/export?format=json").await;
    assert_eq!(status, 200);
    let all: Value = serde_json::from_str(&all).unwrap();
    assert_eq!(all["conversations"].as_array().unwrap().len(), 3);
    let (status, body) = app.post("/api/v1/conversations/import", all).await;
    assert_eq!(status, 201, "{body}");
    let (_, list) = app.get("/api/v1/conversations").await;
    assert_eq!(list.as_array().unwrap().len(), 6);

    // Hostile imports: refused whole, nothing stored.
    let mut long_title = export.clone();
    long_title["conversation"]["title"] = json!("x".repeat(500));
    let mut streaming = export.clone();
    streaming["messages"][1]["status"] = json!("streaming");
    let mut strange_role = export.clone();
    strange_role["messages"][0]["role"] = json!("root");
    let mut future = export.clone();
    future["version"] = json!(2);
    for (body, expected) in [
        (json!({ "format": "chatgpt" }), "format must be"),
        (json!([1, 2]), "format must be"),
        (future, "version 2 is not known"),
        (long_title, "a title has at most"),
        (strange_role, "not an export"),
        (
            json!({ "format": "ollamastack.conversations", "version": 1, "exported_at": "2026-12-01T00:00:00Z", "conversations": [] }),
            "no conversation",
        ),
    ] {
        let (status, response) = app.post("/api/v1/conversations/import", body).await;
        assert_eq!(status, 422, "{response}");
        assert!(
            response["error"]["message"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{response}"
        );
    }
    let (_, list) = app.get("/api/v1/conversations").await;
    assert_eq!(list.as_array().unwrap().len(), 6);
    // An answer exported while it was being written comes back interrupted.
    let (status, body) = app.post("/api/v1/conversations/import", streaming).await;
    assert_eq!(status, 201, "{body}");
    let id = body["conversations"][0]["id"].as_str().unwrap();
    let (_, copy) = app.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(copy["messages"][1]["status"], "interrupted");
    // Another server's assistant id is not linked.
    let mut foreign = export.clone();
    foreign["conversation"]["assistant_id"] = json!(uuid::Uuid::now_v7());
    let (status, body) = app.post("/api/v1/conversations/import", foreign).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["conversations"][0]["assistant_id"], Value::Null);
    // Unknown ids and formats.
    assert_eq!(
        get_text(
            &app,
            &format!("/api/v1/conversations/{}/export", uuid::Uuid::now_v7())
        )
        .await
        .0,
        404
    );
    assert_eq!(
        get_text(
            &app,
            &format!("/api/v1/conversations/{first}/export?format=pdf")
        )
        .await
        .0,
        422
    );
}

/// Every response carries the configured headers (pages, API, errors, files).
async fn configured_headers_are_on_every_response(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings
            .server
            .response_headers
            .insert("X-Served-By".into(), "acme-chat".into());
    })
    .await;
    for path in [
        "/",
        "/api/v1/conversations",
        "/api/v1/nope",
        "/healthz",
        "/favicon.svg",
    ] {
        let response = app.at(Method::GET, path).send().await.unwrap();
        assert_eq!(
            response
                .headers()
                .get("x-served-by")
                .map(|v| v.to_str().unwrap()),
            Some("acme-chat"),
            "{path}"
        );
        assert!(response.headers().contains_key("x-response-time"), "{path}");
    }
    // An unknown API path answers the API's JSON error, not the app's page.
    let (status, body) = app.get("/api/v1/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found", "{body}");
}

on_both_backends!(
    custom_actions_check_their_parameters,
    conversations_export_and_import_losslessly,
    configured_headers_are_on_every_response,
);
