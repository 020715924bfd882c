//! The agent's tools through the REST API, on SQLite and PostgreSQL: listed with their schemas,
//! invoked directly; whatever the arguments, a clear error and never a crash.

mod common;

use common::{Backend, TestApp};
use serde_json::{json, Value};

async fn tools_are_listed_with_their_schemas(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, tools) = app.get("/api/v1/tools").await;
    assert_eq!(status, 200, "{tools}");
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"calculator") && names.contains(&"current_time"),
        "{names:?}"
    );
    for tool in tools.as_array().unwrap() {
        assert!(
            tool["description"].as_str().is_some_and(|d| d.len() > 20),
            "{tool}"
        );
        assert_eq!(tool["parameters"]["type"], "object", "{tool}");
    }
}

async fn invoke(app: &TestApp, name: &str, arguments: Value) -> (u16, Value) {
    app.post(
        &format!("/api/v1/tools/{name}/invoke"),
        json!({ "arguments": arguments }),
    )
    .await
}

async fn a_tool_runs_directly(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, body) = invoke(&app, "calculator", json!({"expression": "(2 + 3) * 7^2"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["result"], "245");
    assert!(body["duration_ms"].as_u64().is_some(), "{body}");
    let (status, body) = invoke(&app, "current_time", json!({"timezone": "Asia/Tokyo"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["result"].as_str().unwrap().contains("+09:00"),
        "{body}"
    );
}

async fn hostile_arguments_get_clear_errors(backend: Backend) {
    let app = TestApp::start(backend).await;
    let deep = "(".repeat(10_000) + "1" + &")".repeat(10_000);
    let cases = [
        ("calculator", json!({}), "missing field"),
        ("calculator", json!({"expression": 7}), "invalid type"),
        (
            "calculator",
            json!({"expression": "1", "x": 1}),
            "unknown field",
        ),
        ("calculator", json!("not an object"), "not a JSON object"),
        (
            "calculator",
            json!({"expression": "exec('rm -rf /')"}),
            "cannot read",
        ),
        ("calculator", json!({"expression": deep}), "longer than"),
        (
            "calculator",
            json!({"expression": "1/0"}),
            "not a finite number",
        ),
        ("calculator", json!({"expression": "a * b"}), "unknown name"),
        (
            "current_time",
            json!({"timezone": "../../etc/passwd"}),
            "unknown time zone",
        ),
        (
            "current_time",
            json!({"format": "%"}),
            "not a valid strftime",
        ),
    ];
    for (tool, arguments, expected) in cases {
        let (status, body) = invoke(&app, tool, arguments.clone()).await;
        assert_eq!(status, 200, "{tool} {arguments}: {body}");
        assert_eq!(body["ok"], false, "{tool} {arguments}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(expected), "{tool} {arguments}: {error}");
    }
    let (status, body) = invoke(&app, "rm", json!({})).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = app
        .post("/api/v1/tools/calculator/invoke", json!({"args": {}}))
        .await;
    assert_eq!(status, 422, "unknown body fields are refused: {body}");
}

on_both_backends!(
    tools_are_listed_with_their_schemas,
    a_tool_runs_directly,
    hostile_arguments_get_clear_errors,
);
