//! Conversations named by their model, on SQLite and PostgreSQL: after the first complete
//! answer the same model is asked for a title in the background (the fake Ollama answers that
//! request as it answers any: with the words its switches ask for), once; a rename is never
//! replaced, a failing or slow model leaves the first message's text, and a person who
//! switched `ai.auto_titles` off is never asked for.

mod common;

use common::{Backend, TestApp};
use ollamastack::testing::fake_ollama::{expected_answer, FakeConfig};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

async fn start(backend: Backend, timeout_ms: u64) -> TestApp {
    TestApp::start_with(backend, FakeConfig::default(), |settings| {
        // The product's default (the other suites switch it off to count model calls).
        settings.ai.auto_titles = true;
        // Longer than any wait here: the titler looks when an answer's end is announced.
        settings.generation.title_poll_ms = 60_000;
        settings.generation.title_timeout_ms = timeout_ms;
    })
    .await
}

async fn conversation(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body["conversation"].clone()
}

/// Waits until the conversation's title is settled (no longer waiting for the model).
async fn settled(app: &TestApp, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let conversation = conversation(app, id).await;
        if !matches!(
            conversation["title_source"].as_str(),
            Some("message" | "titling")
        ) {
            return conversation;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still waiting for a title: {conversation}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Saves one of the person's settings.
async fn set(app: &TestApp, key: &str, value: Value) {
    let (status, body) = app.patch("/api/v1/settings", json!({ key: value })).await;
    assert_eq!(status, 200, "{key}: {body}");
}

/// Sends a message in a conversation and follows its answer to the end.
async fn answer_in(app: &TestApp, conversation: &str, content: &str) {
    let outcome = app
        .send_in(conversation, json!({ "content": content }))
        .await;
    app.follow(outcome["assistant_message"]["id"].as_str().unwrap())
        .await;
}

fn chat_requests(app: &TestApp) -> usize {
    app.fake.stats.chat_requests.load(Ordering::SeqCst)
}

/// Waits until the fake has answered every stream it was asked for.
async fn fake_idle(app: &TestApp) {
    for _ in 0..400 {
        if app.fake.stats.active_streams.load(Ordering::SeqCst) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the fake is still streaming");
}

async fn a_new_conversation_is_named_once_by_its_model(backend: Backend) {
    let app = start(backend, 10_000).await;
    let (id, answer) = app.send_new("Plan my trip to Lisbon [tokens=4]").await;
    let before = conversation(&app, &id).await;
    assert_eq!(before["title"], "Plan my trip to Lisbon [tokens=4]");
    app.follow(&answer).await;
    let named = settled(&app, &id).await;
    // What the fake's model replied (four of its words), as the title.
    assert_eq!(named["title_source"], "model", "{named}");
    assert_eq!(named["title"], expected_answer(4), "{named}");
    assert_eq!(expected_answer(4), "The quick brown fox");
    // It was asked with the first message and answer, and no tools, of the same model.
    let asked = app.fake.stats.last_chat_request();
    assert_eq!(asked["model"], "llama3.2");
    assert!(asked
        .get("tools")
        .is_none_or(|t| t.as_array().is_none_or(Vec::is_empty)));
    assert_eq!(asked["messages"][0]["role"], "system");
    assert_eq!(
        asked["messages"][1]["content"],
        format!(
            "Person: Plan my trip to Lisbon [tokens=4]\n\nAssistant: {}",
            expected_answer(4)
        ),
        "{asked}"
    );
    // The list says so too, and the sidebar of a page rendered now shows it.
    let (_, list) = app.get("/api/v1/conversations").await;
    assert_eq!(list[0]["title"], expected_answer(4), "{list}");
    assert_eq!(list[0]["title_source"], "model", "{list}");
    let page = app.page(&format!("/c/{id}")).await;
    assert!(page.contains("The quick brown fox · "), "tab title");

    // Later answers do not name it again: one model call each.
    let calls = chat_requests(&app);
    answer_in(&app, &id, "And Porto? [tokens=6]").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(chat_requests(&app), calls + 1);
    assert_eq!(conversation(&app, &id).await["title"], expected_answer(4));

    // A rename is the person's: recorded as such.
    let (status, renamed) = app
        .patch(
            &format!("/api/v1/conversations/{id}"),
            json!({ "title": "Lisbon in May" }),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["title_source"], "person", "{renamed}");
}

/// The person renames the conversation while the model is still thinking of a title: the
/// rename stays.
async fn a_rename_while_the_model_names_it_wins(backend: Backend) {
    let app = start(backend, 10_000).await;
    // `[first=…]` holds the first token of every answer to this text: the title's too.
    let (id, answer) = app.send_new("Slow thinker [first=1200] [tokens=3]").await;
    app.follow(&answer).await;
    let calls = chat_requests(&app);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while conversation(&app, &id).await["title_source"] != "titling" {
        assert!(tokio::time::Instant::now() < deadline, "never asked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, renamed) = app
        .patch(
            &format!("/api/v1/conversations/{id}"),
            json!({ "title": "Mine, not the model's" }),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    // The model's reply arrives after the rename.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while chat_requests(&app) == calls {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the model was never asked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fake_idle(&app).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = conversation(&app, &id).await;
    assert_eq!(after["title"], "Mine, not the model's", "{after}");
    assert_eq!(after["title_source"], "person", "{after}");
}

/// A failed answer names nothing; a model that fails or is too slow to name it leaves the
/// first message's text for good (and is not asked again at every answer).
async fn a_model_that_cannot_name_it_leaves_the_first_message(backend: Backend) {
    let app = start(backend, 400).await;
    // The answer fails: nothing to name the conversation after.
    let (failing, answer) = app.send_new("Broken at first [error]").await;
    app.follow(&answer).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        conversation(&app, &failing).await["title_source"],
        "message"
    );
    // A complete answer then: the title request (the first message, with its `[error]`)
    // fails mid-stream.
    answer_in(&app, &failing, "Better now [tokens=2]").await;
    let kept = settled(&app, &failing).await;
    assert_eq!(kept["title_source"], "kept", "{kept}");
    assert_eq!(kept["title"], "Broken at first [error]", "{kept}");
    let asked = app.fake.stats.last_chat_request();
    assert!(
        asked["messages"][1]["content"]
            .as_str()
            .unwrap()
            .starts_with("Person: Broken at first [error]\n\nAssistant: "),
        "{asked}"
    );
    let calls = chat_requests(&app);
    answer_in(&app, &failing, "Once more [tokens=2]").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(chat_requests(&app), calls + 1, "not asked again");

    // Slower than `title_timeout_ms` (400 ms): the first message stays.
    let (slow, answer) = app.send_new("Take your time [first=900] [tokens=2]").await;
    app.follow(&answer).await;
    let kept = settled(&app, &slow).await;
    assert_eq!(kept["title_source"], "kept", "{kept}");
    assert_eq!(kept["title"], "Take your time [first=900] [tokens=2]");
}

/// `ai.auto_titles` off: the model is not asked, and the title stays the first message until
/// the person switches it on again (their next answer names it).
async fn people_can_switch_it_off(backend: Backend) {
    let app = start(backend, 10_000).await;
    set(&app, "ai.auto_titles", json!(false)).await;
    let (id, answer) = app.send_new("Private musings [tokens=3]").await;
    app.follow(&answer).await;
    let calls = chat_requests(&app);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(chat_requests(&app), calls, "no title asked for");
    let still = conversation(&app, &id).await;
    assert_eq!(
        (&still["title"], &still["title_source"]),
        (&json!("Private musings [tokens=3]"), &json!("message"))
    );

    set(&app, "ai.auto_titles", json!(true)).await;
    answer_in(&app, &id, "More [tokens=5]").await;
    let named = settled(&app, &id).await;
    assert_eq!(named["title_source"], "model", "{named}");
    // Named after the first message and answer, not the latest.
    assert_eq!(named["title"], expected_answer(3), "{named}");
}

/// `ai.title_model` names conversations with another model (a small one keeps the person's
/// free); one that is not there leaves the first message.
async fn another_model_can_name_them(backend: Backend) {
    let app = start(backend, 10_000).await;
    set(&app, "ai.title_model", json!("qwen2.5:0.5b")).await;
    let (id, answer) = app.send_new("Named by a small model [tokens=3]").await;
    let (_, answered) = app.follow(&answer).await;
    assert_eq!(answered["model"], "llama3.2");
    let named = settled(&app, &id).await;
    assert_eq!(named["title_source"], "model", "{named}");
    assert_eq!(app.fake.stats.last_chat_request()["model"], "qwen2.5:0.5b");

    set(&app, "ai.title_model", json!("nosuch-model")).await;
    let (id, answer) = app.send_new("Nobody to name it [tokens=3]").await;
    app.follow(&answer).await;
    let kept = settled(&app, &id).await;
    assert_eq!(
        (&kept["title"], &kept["title_source"]),
        (&json!("Nobody to name it [tokens=3]"), &json!("kept"))
    );
}

/// A provider's model as `ai.title_model` names conversations already on a provider, never
/// one with an Ollama model: that person's words stay on Ollama.
async fn a_remote_title_model_never_names_a_local_conversation(backend: Backend) {
    use ollamastack::testing::fake_providers::{FakeApi, FakeProvider, FakeProviderConfig};
    let app = start(backend, 10_000).await;
    let cloud = FakeProvider::start(FakeProviderConfig {
        api: FakeApi::OpenAi,
        models: vec!["gpt-4o-mini".into(), "gpt-4o".into()],
        api_key: None,
    })
    .await
    .unwrap();
    let (status, body) = app
        .post(
            "/api/v1/admin/providers",
            json!({ "name": "cloud", "kind": "openai", "base_url": cloud.base_url(FakeApi::OpenAi) }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    set(&app, "ai.title_model", json!("cloud/gpt-4o-mini")).await;
    let sent_to_cloud = || cloud.seen.chat_bodies.lock().unwrap().len();

    let (local, answer) = app.send_new("Kept at home [tokens=3]").await;
    app.follow(&answer).await;
    let named = settled(&app, &local).await;
    assert_eq!(named["title_source"], "model", "{named}");
    assert_eq!(app.fake.stats.last_chat_request()["model"], "llama3.2");
    assert_eq!(sent_to_cloud(), 0, "nothing of it went to the provider");

    let (remote, answer) = app
        .send_new_with(
            json!({ "content": "Already in the cloud [tokens=3]", "model": "cloud/gpt-4o" }),
        )
        .await;
    app.follow(&answer).await;
    let named = settled(&app, &remote).await;
    assert_eq!(named["title_source"], "model", "{named}");
    assert_eq!(sent_to_cloud(), 2, "the answer, then the title");
    assert_eq!(cloud.seen.last_chat()["model"], "gpt-4o-mini");
}

/// Marks a conversation as taken for naming `seconds` ago by an instance that never finished.
async fn left_titling(app: &TestApp, id: &str, seconds: i64) {
    let at = chrono::Utc::now() - chrono::Duration::seconds(seconds);
    let id: uuid::Uuid = id.parse().unwrap();
    let sql =
        "UPDATE conversations SET title_source = 'titling', title_asked_at = $1 WHERE id = $2";
    assert_eq!(common::set_time(&app.state.store, sql, at, id).await, 1);
}

/// An instance that died while asking leaves the conversation taken: another takes it again at
/// its next answer once the taking is older than a title may take, and not before.
async fn a_title_left_half_asked_is_asked_again(backend: Backend) {
    let app = start(backend, 2_000).await;
    set(&app, "ai.auto_titles", json!(false)).await;
    let (id, answer) = app.send_new("Half asked [tokens=2]").await;
    app.follow(&answer).await;
    // Taken a moment ago: another instance may be asking right now. Marked before titles are
    // switched on, or this instance could take it from the first answer in between.
    left_titling(&app, &id, 1).await;
    set(&app, "ai.auto_titles", json!(true)).await;
    answer_in(&app, &id, "Still there? [tokens=3]").await;
    let calls = chat_requests(&app);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(chat_requests(&app), calls, "not taken from a live instance");
    assert_eq!(conversation(&app, &id).await["title_source"], "titling");

    // Taken long ago: its instance is gone.
    left_titling(&app, &id, 3_600).await;
    answer_in(&app, &id, "And now? [tokens=3]").await;
    let named = settled(&app, &id).await;
    assert_eq!(
        (&named["title"], &named["title_source"]),
        (&json!(expected_answer(2)), &json!("model")),
        "{named}"
    );
}

/// An imported conversation keeps the title it came with.
async fn an_imported_conversation_keeps_its_title(backend: Backend) {
    let app = start(backend, 10_000).await;
    let (id, answer) = app.send_new("To export [tokens=2]").await;
    app.follow(&answer).await;
    settled(&app, &id).await;
    let (status, exported) = app.get(&format!("/api/v1/conversations/{id}/export")).await;
    assert_eq!(status, 200, "{exported}");
    let mut exported = exported;
    exported["conversation"]["title"] = json!("Brought from elsewhere");
    exported["conversation"]["title_source"] = json!("message");
    let (status, imported) = app.post("/api/v1/conversations/import", exported).await;
    assert_eq!(status, 201, "{imported}");
    let new_id = imported["conversations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    answer_in(&app, &new_id, "Continue [tokens=2]").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = conversation(&app, &new_id).await;
    assert_eq!(
        (&after["title"], &after["title_source"]),
        (&json!("Brought from elsewhere"), &json!("person"))
    );
}

on_both_backends!(
    a_new_conversation_is_named_once_by_its_model,
    a_rename_while_the_model_names_it_wins,
    a_model_that_cannot_name_it_leaves_the_first_message,
    people_can_switch_it_off,
    another_model_can_name_them,
    a_remote_title_model_never_names_a_local_conversation,
    a_title_left_half_asked_is_asked_again,
    an_imported_conversation_keeps_its_title,
);
