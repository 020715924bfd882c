//! Model providers besides Ollama, on SQLite and PostgreSQL, against fakes of the OpenAI and
//! Anthropic wire formats: an admin adds one (its key sealed, never shown), its models are
//! listed as `<name>/<model>`, chats stream and are stored, agents call tools through it, and
//! its errors (a refused key, a rate limit, an error in mid-stream) reach the person as
//! errors with what was written kept. The secret key that seals keys must stay the same.

mod common;

use common::{Backend, TestApp};
use ollamastack::testing::fake_ollama::expected_answer;
use ollamastack::testing::fake_providers::{FakeApi, FakeProvider, FakeProviderConfig};
use serde_json::{json, Value};

const KEY: &str = "sk-test-0123456789abcdef";

async fn fake(api: FakeApi, models: &[&str]) -> FakeProvider {
    FakeProvider::start(FakeProviderConfig {
        api,
        models: models.iter().map(|m| m.to_string()).collect(),
        api_key: Some(KEY.into()),
    })
    .await
    .unwrap()
}

/// Adds a provider through the API (the single-user mode's person is the admin).
async fn add(app: &TestApp, name: &str, api: FakeApi, fake: &FakeProvider, key: &str) -> Value {
    let kind = match api {
        FakeApi::OpenAi => "openai",
        FakeApi::Anthropic => "anthropic",
    };
    let (status, body) = app
        .post(
            "/api/v1/admin/providers",
            json!({ "name": name, "kind": kind, "base_url": fake.base_url(api), "api_key": key }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn model_names(app: &TestApp) -> Vec<String> {
    let (status, body) = app.get("/api/v1/models").await;
    assert_eq!(status, 200, "{body}");
    let list = body
        .as_array()
        .or_else(|| body["models"].as_array())
        .cloned()
        .unwrap_or_default();
    list.iter()
        .filter_map(|m| m["name"].as_str().map(str::to_string))
        .collect()
}

async fn chats_stream_and_agents_call_tools(backend: Backend, api: FakeApi) {
    let app = TestApp::start(backend).await;
    let model = match api {
        FakeApi::OpenAi => "gpt-4o-mini",
        FakeApi::Anthropic => "claude-sonnet-4-5",
    };
    let provider = fake(api, &[model, "other-model"]).await;
    let added = add(&app, "cloud", api, &provider, KEY).await;
    assert_eq!(added["has_key"], true);
    assert!(
        !added.to_string().contains(KEY),
        "the key is never shown: {added}"
    );

    // Listed beside Ollama's models, with the provider's name before them.
    let names = model_names(&app).await;
    assert!(names.contains(&format!("cloud/{model}")), "{names:?}");
    assert!(names.contains(&"llama3.2:latest".to_string()), "{names:?}");
    let (_, listed) = app.get("/api/v1/admin/providers").await;
    assert_eq!(listed[0]["up"], true, "{listed}");
    assert!(!listed.to_string().contains(KEY));

    // A streamed chat: every token arrives (cut into reads of a few bytes), and is stored.
    let (conversation, answer) = app
        .send_new_with(json!({ "content": "Hello [tokens=30]", "model": format!("cloud/{model}") }))
        .await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "complete", "{done}");
    assert_eq!(done["content"], expected_answer(30));
    assert_eq!(
        app.message(&conversation, &answer).await["content"],
        expected_answer(30)
    );
    let sent = provider.seen.last_chat();
    assert_eq!(sent["model"], model, "sent without the prefix");
    assert_eq!(sent["stream"], true);

    // An agent: the call comes back in fragments, the tool runs, its result goes back in the
    // provider's shape (the fake refuses a result that answers no call), and the model answers.
    let (_, first) = app
        .send_new_with(json!({
            "content": r#"What is 6*7? [call=calculator {"expression":"6*7"}]"#,
            "model": format!("cloud/{model}"),
            "tools": ["calculator"],
        }))
        .await;
    let rows = app.follow_run(&first).await;
    assert_eq!(rows.len(), 3, "{rows:#?}");
    assert_eq!(rows[0]["tool_calls"][0]["function"]["name"], "calculator");
    assert_eq!(
        rows[0]["tool_calls"][0]["function"]["arguments"],
        json!({"expression": "6*7"})
    );
    assert_eq!(rows[1]["content"], "42");
    assert_eq!(rows[2]["content"], "Results: calculator=42", "{:#?}", rows);
    assert!(
        provider.seen.refusals.lock().unwrap().is_empty(),
        "{:?}",
        provider.seen.refusals
    );
    if api == FakeApi::Anthropic {
        let sent = provider.seen.last_chat();
        assert!(sent["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["role"] != "system"));
    }

    // The stored key is sealed: neither the database nor a dump of it holds it.
    let rows = app.state.store.list_providers().await.unwrap();
    let sealed = rows[0].api_key.clone().unwrap();
    assert!(sealed.starts_with("sealed:v1:"), "{sealed}");
    assert!(!sealed.contains(KEY));
}

async fn provider_errors_reach_the_person(backend: Backend, api: FakeApi) {
    let app = TestApp::start(backend).await;
    let model = "m1";
    let provider = fake(api, &[model]).await;
    add(&app, "cloud", api, &provider, KEY).await;
    let chat = |content: &str| json!({ "content": content, "model": "cloud/m1" });

    // An error event in mid-stream: the answer ends as an error, with what came kept.
    let (_, answer) = app.send_new_with(chat("Hi [error]")).await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "error", "{done}");
    assert_eq!(done["content"], expected_answer(3), "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(error.contains("cloud"), "{error}");

    // A rate limit before any token.
    let (_, answer) = app.send_new_with(chat("Hi [http429]")).await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "error", "{done}");
    assert!(done["error"].as_str().unwrap().contains("429"), "{done}");

    // A stream cut before its end is not a whole answer.
    let (_, answer) = app.send_new_with(chat("Hi [cut]")).await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "error", "{done}");

    // A model the provider does not have.
    let (_, answer) = app
        .send_new_with(json!({ "content": "Hi", "model": "cloud/nosuch" }))
        .await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "error", "{done}");

    // A wrong key: the provider refuses it, the admin sees it down, the key is not shown.
    let (_, listed) = app.get("/api/v1/admin/providers").await;
    let id = listed[0]["provider"]["id"].as_str().unwrap().to_string();
    let kind = match api {
        FakeApi::OpenAi => "openai",
        FakeApi::Anthropic => "anthropic",
    };
    let status = app
        .at(
            reqwest::Method::PUT,
            &format!("/api/v1/admin/providers/{id}"),
        )
        .json(
            &json!({ "name": "cloud", "kind": kind, "base_url": provider.base_url(api),
                       "api_key": "sk-wrong-key" }),
        )
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let (_, listed) = app.get("/api/v1/admin/providers").await;
    assert_eq!(listed[0]["up"], false, "{listed}");
    assert!(!listed.to_string().contains("sk-wrong-key"));
    let (_, answer) = app.send_new_with(chat("Hi")).await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "error", "{done}");
    assert!(done["error"].as_str().unwrap().contains("401"), "{done}");
}

async fn bad_provider_input_is_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    for (body, why) in [
        (json!({ "name": "Has Spaces", "kind": "openai" }), "name"),
        (
            json!({ "name": "ok", "kind": "openai", "base_url": "ftp://x" }),
            "scheme",
        ),
        (
            json!({ "name": "ok", "kind": "openai", "base_url": "https://u:p@api.example.com/v1" }),
            "credentials in URL",
        ),
        (
            json!({ "name": "ok", "kind": "anthropic" }),
            "Anthropic without a key",
        ),
        (json!({ "name": "ok" }), "no kind"),
    ] {
        let (status, body) = app.post("/api/v1/admin/providers", body).await;
        assert_eq!(status, 422, "{why}: {body}");
    }
    let provider = fake(FakeApi::OpenAi, &["m"]).await;
    add(&app, "dup", FakeApi::OpenAi, &provider, KEY).await;
    let (status, _) = app
        .post(
            "/api/v1/admin/providers",
            json!({ "name": "dup", "kind": "openai", "base_url": provider.base_url(FakeApi::OpenAi) }),
        )
        .await;
    assert_eq!(status, 409);
    // Pulling a provider's model is refused before Ollama is asked.
    let (status, body) = app
        .post("/api/v1/admin/models/pull", json!({ "model": "dup/m" }))
        .await;
    assert_eq!(status, 422, "{body}");
}

/// The key that sealed the database's secrets must open them at every start.
async fn another_secret_key_refuses_to_start(backend: Backend) {
    let first_key = "a-first-secret-key-of-forty-characters!!";
    let app = TestApp::start_with(backend, Default::default(), |s| {
        s.security.secret_key = Some(first_key.into())
    })
    .await;
    let provider = fake(FakeApi::OpenAi, &["m"]).await;
    add(&app, "cloud", FakeApi::OpenAi, &provider, KEY).await;
    let (db, fake_ollama) = app.shutdown().await;

    let mut settings = common::test_settings(&db, &fake_ollama.url());
    settings.security.secret_key = Some("another-secret-key-of-forty-characters!!".into());
    let options = leptos::config::LeptosOptions::builder()
        .output_name("ollamastack")
        .build();
    let Err(error) = ollamastack::state::AppState::build(settings, options).await else {
        panic!("another key must not start");
    };
    assert!(error.to_string().contains("another secret key"), "{error}");

    let mut settings = common::test_settings(&db, &fake_ollama.url());
    settings.security.secret_key = Some(first_key.into());
    let app = TestApp::serve(db, fake_ollama, settings).await;
    let names = model_names(&app).await;
    assert!(names.contains(&"cloud/m".to_string()), "{names:?}");
    let (_, answer) = app
        .send_new_with(json!({ "content": "Hi [tokens=5]", "model": "cloud/m" }))
        .await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(
        done["content"],
        expected_answer(5),
        "the key opened again: {done}"
    );
}

/// A deployment that uses only a provider is ready while that provider answers, even with no
/// Ollama; /readyz names each provider and its state, never its address or key.
async fn ready_with_a_provider_and_no_ollama(backend: Backend) {
    let app = TestApp::start(backend).await;
    let provider = fake(FakeApi::OpenAi, &["m"]).await;
    let added = add(&app, "cloud", FakeApi::OpenAi, &provider, KEY).await;
    app.fake.kill().await;
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["ollama"]["ok"], false, "{ready}");
    assert_eq!(ready["providers"][0]["name"], "cloud", "{ready}");
    assert_eq!(ready["providers"][0]["up"], true, "{ready}");
    let shown = ready.to_string();
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!shown.contains(&provider.addr.to_string()), "{shown}");

    // A refused key makes it down, and the instance not ready.
    let changed = app
        .at(
            reqwest::Method::PUT,
            &format!("/api/v1/admin/providers/{}", added["id"].as_str().unwrap()),
        )
        .json(&json!({ "name": "cloud", "kind": "openai", "base_url": provider.base_url(FakeApi::OpenAi), "api_key": "sk-wrong-key-0000" }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["providers"][0]["up"], false, "{ready}");
    assert!(ready["providers"][0]["error"].is_string(), "{ready}");
}

/// Model names are `<provider>/<model>` and Ollama's `<namespace>/<model>`: a provider cannot
/// take the name of a namespace Ollama has, and a model pulled into a provider's namespace
/// outside the app (`ollama pull cloud/shared`) still answers from Ollama, listed once.
async fn ollama_namespaces_are_not_hidden_by_providers(backend: Backend) {
    let app = TestApp::start_with(
        backend,
        ollamastack::testing::fake_ollama::FakeConfig {
            models: vec!["llama3.2:latest".into(), "someone/tiny:latest".into()],
            ..Default::default()
        },
        |_| {},
    )
    .await;
    app.get("/readyz").await;
    let provider = fake(FakeApi::OpenAi, &["m", "shared"]).await;
    for taken in ["someone", "library"] {
        let (status, body) = app
            .post(
                "/api/v1/admin/providers",
                json!({ "name": taken, "kind": "openai", "base_url": provider.base_url(FakeApi::OpenAi), "api_key": KEY }),
            )
            .await;
        assert_eq!(status, 409, "{taken}: {body}");
        assert!(body.to_string().contains("pick another name"), "{body}");
    }
    add(&app, "cloud", FakeApi::OpenAi, &provider, KEY).await;

    // Pulled on the Ollama server itself, as its command line does.
    let pulled = reqwest::Client::new()
        .post(format!("{}/api/pull", app.fake.url()))
        .json(&json!({ "model": "cloud/shared" }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(pulled.contains("success"), "{pulled}");
    app.get("/readyz").await;

    let names = model_names(&app).await;
    assert!(
        names.contains(&"someone/tiny:latest".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"cloud/m".to_string()), "{names:?}");
    let shared: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("cloud/shared"))
        .collect();
    assert_eq!(
        shared,
        ["cloud/shared:latest"],
        "listed once, as Ollama's: {names:?}"
    );

    for (model, from_ollama) in [
        ("cloud/shared", true),
        ("cloud/m", false),
        ("someone/tiny", true),
    ] {
        let ollama_before = app
            .fake
            .stats
            .chat_requests
            .load(std::sync::atomic::Ordering::SeqCst);
        let provider_before = provider.seen.chat_bodies.lock().unwrap().len();
        let (_, answer) = app
            .send_new_with(json!({ "content": "Hi [tokens=3]", "model": model }))
            .await;
        let (_, done) = app.follow(&answer).await;
        assert_eq!(done["status"], "complete", "{model}: {done}");
        let ollama_asked = app
            .fake
            .stats
            .chat_requests
            .load(std::sync::atomic::Ordering::SeqCst)
            > ollama_before;
        let provider_asked = provider.seen.chat_bodies.lock().unwrap().len() > provider_before;
        assert_eq!(
            (ollama_asked, provider_asked),
            (from_ollama, !from_ollama),
            "{model}"
        );
    }
    // Ollama's model can be managed as any other; the provider's stays refused.
    let (status, body) = app
        .post("/api/v1/admin/models/pull", json!({ "model": "cloud/m" }))
        .await;
    assert_eq!(status, 422, "{body}");
}

async fn openai_chats_stream_and_agents_call_tools(backend: Backend) {
    chats_stream_and_agents_call_tools(backend, FakeApi::OpenAi).await
}
async fn anthropic_chats_stream_and_agents_call_tools(backend: Backend) {
    chats_stream_and_agents_call_tools(backend, FakeApi::Anthropic).await
}
async fn openai_errors_reach_the_person(backend: Backend) {
    provider_errors_reach_the_person(backend, FakeApi::OpenAi).await
}
async fn anthropic_errors_reach_the_person(backend: Backend) {
    provider_errors_reach_the_person(backend, FakeApi::Anthropic).await
}

on_both_backends!(
    openai_chats_stream_and_agents_call_tools,
    anthropic_chats_stream_and_agents_call_tools,
    openai_errors_reach_the_person,
    anthropic_errors_reach_the_person,
    bad_provider_input_is_refused,
    another_secret_key_refuses_to_start,
    ready_with_a_provider_and_no_ollama,
    ollama_namespaces_are_not_hidden_by_providers,
);
