//! Runtime settings on SQLite and PostgreSQL: dotted keys read and changed through the API,
//! typed and checked, layered over the configuration, kept across restarts, seen by another
//! instance without a restart; feature flags that take their routes away; and the `ai.*`
//! settings shaping what the model is sent.

mod common;

use common::{Backend, TestApp};
use ollamastack::testing::fake_ollama::{FakeConfig, FakeOllama};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

async fn put(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    let response = app
        .at(Method::PUT, &format!("/api/v1/settings/{key}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn set(app: &TestApp, key: &str, value: Value) {
    let (status, body) = put(app, key, json!({ "value": value })).await;
    assert_eq!(status, 200, "{key}: {body}");
    assert_eq!(body["value"], value, "{body}");
}

async fn reset(app: &TestApp, key: &str) -> Value {
    let response = app
        .at(Method::DELETE, &format!("/api/v1/settings/{key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn find<'a>(list: &'a Value, key: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("{key} in {list}"))
}

/// Every key is listed with its value, scope and source; values are typed and checked (422
/// with the key and the reason, nothing changed); unknown keys are 404; a PATCH of several is
/// all or nothing; a reset goes back to the configured value; saved values survive a restart.
async fn settings_are_typed_layered_and_kept(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.ui.sidebar_width = 300;
    })
    .await;
    let (status, list) = app.get("/api/v1/settings").await;
    assert_eq!(status, 200, "{list}");
    let theme = find(&list, "ui.theme");
    assert_eq!(
        (&theme["value"], &theme["scope"], &theme["source"]),
        (&json!("system"), &json!("person"), &json!("default"))
    );
    let width = find(&list, "ui.sidebar_width");
    assert_eq!(
        (&width["value"], &width["source"]),
        (&json!(300), &json!("configuration"))
    );
    assert_eq!(find(&list, "features.analytics")["scope"], "instance");
    for key in [
        "ui.show_timestamps",
        "ai.default_model",
        "ai.temperature",
        "ai.max_history",
        "features.file_upload",
        "features.webhooks",
        "features.custom_tools",
        "ui.brand.primary",
    ] {
        find(&list, key);
    }

    set(&app, "ui.theme", json!("dark")).await;
    let (status, theme) = app.get("/api/v1/settings/ui.theme").await;
    assert_eq!(status, 200);
    assert_eq!(
        (&theme["value"], &theme["source"]),
        (&json!("dark"), &json!("person"))
    );

    // Wrong types and ranges: 422 naming the key and why; nothing changes.
    for (key, value, expected) in [
        (
            "ui.sidebar_width",
            json!("wide"),
            "ui.sidebar_width: invalid type: string \"wide\"",
        ),
        (
            "ui.sidebar_width",
            json!(5000),
            "ui.sidebar_width: must be between 180 and 560",
        ),
        (
            "ui.theme",
            json!("sepia"),
            "ui.theme: unknown variant `sepia`",
        ),
        (
            "ui.show_timestamps",
            json!("yes"),
            "ui.show_timestamps: invalid type",
        ),
        (
            "ai.temperature",
            json!(9),
            "ai.temperature: must be between 0 and 2",
        ),
        (
            "ui.brand.primary",
            json!("javascript:alert(1)"),
            "ui.brand.primary: must be a colour",
        ),
        (
            "features.analytics",
            json!(1),
            "features.analytics: invalid type",
        ),
    ] {
        let (status, body) = put(&app, key, json!({ "value": value })).await;
        assert_eq!(status, 422, "{key}={value}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(expected), "{message}");
    }
    let (status, body) = put(&app, "ui.nope", json!({ "value": 1 })).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'ui.nope'"),
        "{body}"
    );
    assert_eq!(app.get("/api/v1/settings/ui.nope").await.0, 404);
    let (status, _) = put(&app, "ui.theme", json!({ "colour": "dark" })).await;
    assert_eq!(status, 422, "a body without `value`");
    assert_eq!(
        app.get("/api/v1/settings/ui.sidebar_width").await.1["value"],
        300
    );

    // Several at once: all or none.
    let (status, body) = app
        .patch(
            "/api/v1/settings",
            json!({ "ui.theme": "light", "ai.max_history": "many" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        app.get("/api/v1/settings/ui.theme").await.1["value"],
        "dark"
    );
    let (status, list) = app
        .patch(
            "/api/v1/settings",
            json!({ "ui.theme": "custom", "ui.brand.primary": "#0F766E", "ai.max_history": 12 }),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(find(&list, "ui.theme")["value"], "custom");
    assert_eq!(find(&list, "ui.brand.primary")["value"], "#0F766E");
    assert_eq!(find(&list, "ai.max_history")["value"], 12);

    // Reset: back to the configured value, or the default.
    let width = {
        set(&app, "ui.sidebar_width", json!(400)).await;
        reset(&app, "ui.sidebar_width").await
    };
    assert_eq!(
        (&width["value"], &width["source"]),
        (&json!(300), &json!("configuration"))
    );

    // Kept across a restart.
    let (db, fake) = app.shutdown().await;
    let mut settings = common::test_settings(&db, &fake.url());
    settings.ui.sidebar_width = 300;
    let app = TestApp::serve(db, fake, settings).await;
    let (_, list) = app.get("/api/v1/settings").await;
    assert_eq!(find(&list, "ui.theme")["value"], "custom");
    assert_eq!(find(&list, "ai.max_history")["value"], 12);
    let theme = reset(&app, "ui.theme").await;
    assert_eq!(
        (&theme["value"], &theme["source"]),
        (&json!("system"), &json!("default"))
    );
}

/// Turning a feature off takes its routes away (404, as for a route that does not exist, on the
/// REST API and the page's server functions), and back on brings them back, without a restart;
/// another instance on the same database follows within its refresh time.
async fn feature_flags_take_their_routes_away(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.server.settings_refresh_ms = 200;
    })
    .await;
    let other = {
        let fake = FakeOllama::start(FakeConfig::default()).await.unwrap();
        let db = app.db.alias();
        let mut settings = common::test_settings(&db, &fake.url());
        settings.server.settings_refresh_ms = 200;
        TestApp::serve(db, fake, settings).await
    };
    let status = |app: &TestApp, method: Method, path: &'static str, body: Option<Value>| {
        let request = app
            .at(method, path)
            .header("content-type", "application/json");
        let request = match body {
            Some(body) => request.body(body.to_string()),
            None => request,
        };
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let invoke = json!({ "arguments": { "expression": "2+2" } });

    // custom_tools: the tools list and invocation, the page's tools list, tools in a turn.
    assert_eq!(status(&app, Method::GET, "/api/v1/tools", None).await, 200);
    assert_eq!(
        status(
            &app,
            Method::POST,
            "/api/v1/tools/calculator/invoke",
            Some(invoke.clone())
        )
        .await,
        200
    );
    assert_eq!(
        status(&app, Method::POST, "/api/list_tools", Some(json!({}))).await,
        200
    );
    set(&app, "features.custom_tools", json!(false)).await;
    let (code, body) = app.get("/api/v1/tools").await;
    assert_eq!(
        (code, &body["error"]["code"]),
        (404, &json!("feature_off")),
        "{body}"
    );
    assert_eq!(
        status(
            &app,
            Method::POST,
            "/api/v1/tools/calculator/invoke",
            Some(invoke.clone())
        )
        .await,
        404
    );
    assert_eq!(
        status(&app, Method::POST, "/api/list_tools", Some(json!({}))).await,
        404
    );
    let (code, body) = app
        .post(
            "/api/v1/conversations",
            json!({ "content": "what is 2+2", "model": "llama3.2", "tools": ["calculator"] }),
        )
        .await;
    assert_eq!(
        (code, &body["error"]["code"]),
        (404, &json!("feature_off")),
        "{body}"
    );
    // An assistant that calls tools answers plainly meanwhile.
    let (code, _) = app
        .post(
            "/api/v1/assistants",
            json!({ "name": "Counter", "model": "llama3.2", "tools": ["calculator"], "tools_enabled": true }),
        )
        .await;
    assert_eq!(code, 201);
    let (_, answer) = app
        .send_new_with(json!({ "content": "hello", "model": "llama3.2", "assistant": "Counter" }))
        .await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "complete", "{done}");
    let sent = app.fake.stats.last_chat_request();
    assert!(
        sent.get("tools")
            .is_none_or(|t| t.as_array().is_some_and(Vec::is_empty)),
        "{sent}"
    );

    // The other instance follows without a restart.
    let mut followed = false;
    for _ in 0..50 {
        if status(&other, Method::GET, "/api/v1/tools", None).await == 404 {
            followed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        followed,
        "the other instance saw the flag within its refresh time"
    );
    set(&app, "features.custom_tools", json!(true)).await;
    assert_eq!(status(&app, Method::GET, "/api/v1/tools", None).await, 200);

    // file_upload: uploads go (API and server function); the files kept stay readable.
    set(&app, "features.file_upload", json!(false)).await;
    assert_eq!(app.upload_text("a.txt", "hello").await, 404);
    assert_eq!(
        status(&app, Method::POST, "/api/upload_files", Some(json!({}))).await,
        404
    );
    assert_eq!(status(&app, Method::GET, "/api/v1/files", None).await, 200);
    set(&app, "features.file_upload", json!(true)).await;
    assert_eq!(app.upload_text("a.txt", "hello").await, 201);

    // The flags are the instance's: a person's listing shows where they come from.
    let (_, list) = app.get("/api/v1/settings").await;
    assert_eq!(find(&list, "features.file_upload")["source"], "instance");
    assert_eq!(find(&list, "features.webhooks")["source"], "default");
}

/// `ai.temperature` applies when nothing closer sets one; `ai.max_history` bounds the earlier
/// messages sent; `ai.default_model` answers when no model is named.
async fn ai_settings_shape_what_the_model_is_sent(backend: Backend) {
    let app = TestApp::start(backend).await;
    set(&app, "ai.temperature", json!(0.25)).await;
    let (conversation, answer) = app.send_new("first").await;
    app.follow(&answer).await;
    let sent = app.fake.stats.last_chat_request();
    assert_eq!(sent["options"]["temperature"], json!(0.25), "{sent}");
    // A turn's own temperature wins.
    let outcome = app
        .send_in(
            &conversation,
            json!({ "content": "second", "options": { "temperature": 0.9 } }),
        )
        .await;
    app.follow(outcome["assistant_message"]["id"].as_str().unwrap())
        .await;
    let sent = app.fake.stats.last_chat_request();
    assert_eq!(sent["options"]["temperature"], json!(0.9), "{sent}");

    // Four exchanges so far after this one; two earlier messages go with the next turn.
    for content in ["third", "fourth"] {
        let outcome = app
            .send_in(&conversation, json!({ "content": content }))
            .await;
        app.follow(outcome["assistant_message"]["id"].as_str().unwrap())
            .await;
    }
    set(&app, "ai.max_history", json!(2)).await;
    let outcome = app
        .send_in(&conversation, json!({ "content": "fifth" }))
        .await;
    app.follow(outcome["assistant_message"]["id"].as_str().unwrap())
        .await;
    let sent = app.fake.stats.last_chat_request();
    let roles_and_text: Vec<(String, String)> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().chars().take(6).collect(),
            )
        })
        .collect();
    assert_eq!(roles_and_text.len(), 3, "{roles_and_text:?}");
    assert_eq!(
        roles_and_text[0],
        ("user".to_string(), "fourth".to_string())
    );
    assert_eq!(roles_and_text[1].0, "assistant");
    assert_eq!(roles_and_text[2], ("user".to_string(), "fifth".to_string()));

    // The default model: the person's setting, when a turn names none.
    set(&app, "ai.default_model", json!("qwen2.5:0.5b")).await;
    let (_, status) = app.get("/api/v1/models").await;
    assert_eq!(status["default_model"], "qwen2.5:0.5b", "{status}");
    let (_, answer) = app
        .send_new_with(json!({ "content": "which model?" }))
        .await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["model"], "qwen2.5:0.5b", "{done}");
    assert_eq!(app.fake.stats.last_chat_request()["model"], "qwen2.5:0.5b");
}

/// One setting as the person of the session `cookie` sees it.
async fn setting_as(app: &TestApp, cookie: &str, key: &str) -> Value {
    let path = format!("/api/v1/settings/{key}");
    let (status, body) = common::call_as(app, cookie, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// An admin sets defaults for everyone (`?scope=instance`); a person's own value still wins, and
/// only admins may do it.
async fn an_admin_sets_the_defaults_for_everyone(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.auth.mode = ollamastack::model::AuthMode::Accounts;
    })
    .await;
    let (alice, bob) = common::admin_and_user(&app, "alice", "bob").await;
    let (status, _) = common::call_as(
        &app,
        &alice,
        Method::PUT,
        "/api/v1/settings/ui.theme",
        Some(json!({"value": "light"})),
    )
    .await;
    assert_eq!(status, 200, "Alice's own");
    let (status, _) = common::call_as(
        &app,
        &alice,
        Method::PUT,
        "/api/v1/settings/ui.theme?scope=instance",
        Some(json!({"value": "dark"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = common::call_as(
        &app,
        &alice,
        Method::PATCH,
        "/api/v1/settings?scope=instance",
        Some(json!({"ui.bubble_style": "classic", "ai.max_history": 12})),
    )
    .await;
    assert_eq!(status, 200);
    let theme = setting_as(&app, &bob, "ui.theme").await;
    assert_eq!(
        (theme["value"].as_str(), theme["source"].as_str()),
        (Some("dark"), Some("instance")),
        "{theme}"
    );
    let history = setting_as(&app, &bob, "ai.max_history").await;
    assert_eq!(history["value"], 12, "{history}");
    let own = setting_as(&app, &alice, "ui.theme").await;
    assert_eq!(own["value"], "light", "her own value wins: {own}");
    // Bob's own wins over the default; he cannot change the default.
    let (status, _) = common::call_as(
        &app,
        &bob,
        Method::PUT,
        "/api/v1/settings/ui.theme",
        Some(json!({"value": "system"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = common::call_as(
        &app,
        &bob,
        Method::PUT,
        "/api/v1/settings/ui.theme?scope=instance",
        Some(json!({"value": "light"})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = common::call_as(
        &app,
        &bob,
        Method::DELETE,
        "/api/v1/settings/ui.theme?scope=instance",
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = common::call_as(
        &app,
        &alice,
        Method::PUT,
        "/api/v1/settings/ui.theme?scope=everyone",
        Some(json!({"value": "light"})),
    )
    .await;
    assert_eq!(status, 422);
    // A wrong value is refused for the instance too.
    let (status, _) = common::call_as(
        &app,
        &alice,
        Method::PUT,
        "/api/v1/settings/ui.theme?scope=instance",
        Some(json!({"value": "neon"})),
    )
    .await;
    assert_eq!(status, 422);
    // Back to the configured default.
    let (status, _) = common::call_as(
        &app,
        &alice,
        Method::DELETE,
        "/api/v1/settings/ai.max_history?scope=instance",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let history = setting_as(&app, &bob, "ai.max_history").await;
    assert_ne!(history["source"], "instance", "{history}");
    // The page is rendered with the default for someone who has none of their own.
    let (status, _) = common::call_as(
        &app,
        &bob,
        Method::DELETE,
        "/api/v1/settings/ui.theme",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let page = app
        .at(Method::GET, "/")
        .header(reqwest::header::COOKIE, &bob)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-theme=\"dark\""), "the instance's theme");

    // The page's form for the defaults (server functions): admins only.
    // As a browser sends it: an empty form.
    let instance_defaults = |cookie: &str| {
        app.at(Method::POST, "/api/get_instance_preferences")
            .header(reqwest::header::COOKIE, cookie)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body("")
            .send()
    };
    let refused = instance_defaults(&bob).await.unwrap();
    assert_eq!(refused.status(), 403, "{:?}", refused.text().await);
    let save = |changes: Value| json!({"changes": changes, "instance": true});
    let (status, body) = common::call_as(
        &app,
        &bob,
        Method::POST,
        "/api/save_preferences",
        Some(save(json!([["ui.theme", "light"]]))),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, saved) = common::call_as(
        &app,
        &alice,
        Method::POST,
        "/api/save_preferences",
        Some(save(json!([["ui.bubble_style", "minimal"]]))),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    // The instance's values come back (her own theme is light; the instance's is dark).
    assert_eq!(
        (
            saved["ui"]["bubble_style"].as_str(),
            saved["ui"]["theme"].as_str()
        ),
        (Some("minimal"), Some("dark")),
        "{saved}"
    );
    let defaults = instance_defaults(&alice).await.unwrap();
    assert_eq!(defaults.status(), 200);
    let defaults: Value = defaults.json().await.unwrap();
    assert_eq!(defaults["ui"]["bubble_style"], "minimal", "{defaults}");
    let bubbles = setting_as(&app, &bob, "ui.bubble_style").await;
    assert_eq!(bubbles["value"], "minimal", "{bubbles}");
    let (status, reset) = common::call_as(
        &app,
        &alice,
        Method::POST,
        "/api/reset_preferences",
        Some(json!({"keys": ["ui.bubble_style"], "instance": true})),
    )
    .await;
    assert_eq!(status, 200, "{reset}");
    let bubbles = setting_as(&app, &bob, "ui.bubble_style").await;
    assert_ne!(bubbles["source"], "instance", "{bubbles}");
}

on_both_backends!(
    an_admin_sets_the_defaults_for_everyone,
    settings_are_typed_layered_and_kept,
    feature_flags_take_their_routes_away,
    ai_settings_shape_what_the_model_is_sent,
);
