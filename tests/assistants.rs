//! Assistants on SQLite and PostgreSQL: the shipped presets, create/edit/duplicate/delete with
//! clear errors, and turns that run with one (model, sampling, system prompt, tools), remembered
//! by the conversation; a missing model falls back with a notice.

mod common;

use common::{Backend, TestApp};
use ollamastack::testing::fake_ollama::FakeConfig;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

async fn assistants(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.get("/api/v1/assistants").await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn named<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no assistant {name} in {list:#?}"))
}

async fn the_presets_are_there_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let list = assistants(&app).await;
    assert_eq!(list.len(), 3, "{list:#?}");
    let writer = named(&list, "Creative writer");
    assert_eq!(writer["model"], "llama3.2");
    assert_eq!(writer["temperature"].as_f64().unwrap() as f32, 0.9);
    assert_eq!(writer["max_tokens"], 2000);
    assert_eq!(writer["tools_enabled"], false);
    let coder = named(&list, "Code assistant");
    assert_eq!(coder["model"], "codellama");
    assert_eq!(coder["temperature"].as_f64().unwrap() as f32, 0.1);
    assert_eq!(coder["max_tokens"], 1500);
    let analyst = named(&list, "Data analyst");
    assert_eq!(analyst["model"], "llama3.2");
    assert_eq!(analyst["temperature"].as_f64().unwrap() as f32, 0.3);
    assert_eq!(analyst["max_tokens"], 1000);
    assert_eq!(analyst["tools_enabled"], true);
    assert_eq!(
        analyst["tools"],
        json!(["calculator", "csv_summary", "csv_chart", "query_database"])
    );
    for assistant in &list {
        assert!(
            assistant["system_prompt"].as_str().unwrap().len() > 100,
            "{assistant}"
        );
        assert!(assistant.get("owner_id").is_none(), "{assistant}");
    }
    // A deleted preset stays deleted.
    let id = writer["id"].as_str().unwrap();
    let response = app
        .at(reqwest::Method::DELETE, &format!("/api/v1/assistants/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let list = assistants(&app).await;
    assert_eq!(list.len(), 2, "{list:#?}");
    let (status, _) = app.get(&format!("/api/v1/assistants/{id}")).await;
    assert_eq!(status, 404);
}

async fn create_edit_duplicate_delete_with_clear_errors(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, created) = app
        .post(
            "/api/v1/assistants",
            json!({
                "name": "Planner", "description": "Plans trips", "model": "qwen2.5:0.5b",
                "temperature": 0.5, "max_tokens": 300, "system_prompt": "You plan trips.",
                "toolset": "general", "tools_enabled": true
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["tools"],
        json!(["calculator", "current_time", "weather"])
    );
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/assistants/{id}");

    let refused = [
        (
            json!({"name": "planner", "model": "x"}),
            409,
            "already have an assistant named",
        ),
        (json!({"model": "x"}), 422, "needs a name"),
        (json!({"name": "A"}), 422, "needs a model"),
        (
            json!({"name": "  ", "model": "x"}),
            422,
            "1 to 60 characters",
        ),
        (
            json!({"name": "B", "model": "x", "temperature": 3.0}),
            422,
            "between 0 and 2",
        ),
        (
            json!({"name": "B", "model": "x", "max_tokens": 0}),
            422,
            "max_tokens",
        ),
        (
            json!({"name": "B", "model": "bad model"}),
            422,
            "not a valid model name",
        ),
        (
            json!({"name": "B", "model": "x", "tools": ["rm"]}),
            422,
            "unknown tool 'rm'",
        ),
        (
            json!({"name": "B", "model": "x", "toolset": "hacking"}),
            422,
            "unknown toolset",
        ),
        (
            json!({"name": "B", "model": "x", "tools": [], "toolset": "general"}),
            422,
            "not both",
        ),
        (json!({"name": "B", "model": "x", "owner_id": "x"}), 422, ""),
    ];
    for (body, status, message) in refused {
        let (got, error) = app.post("/api/v1/assistants", body.clone()).await;
        assert_eq!(got, status, "{body}: {error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(message),
            "{body}: {error}"
        );
    }

    let (status, edited) = app
        .patch(&path, json!({"temperature": 1.1, "tools": ["calculator"]}))
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["temperature"].as_f64().unwrap() as f32, 1.1);
    assert_eq!(edited["tools"], json!(["calculator"]));
    assert_eq!(edited["name"], "Planner", "absent fields are kept");
    let (status, _) = app.patch(&path, json!({"name": "Data analyst"})).await;
    assert_eq!(status, 409, "names are unique per person");

    let (status, copy) = app.post(&format!("{path}/duplicate"), json!({})).await;
    assert_eq!(status, 201, "{copy}");
    assert_eq!(copy["name"], "Planner (copy)");
    assert_eq!(copy["tools"], json!(["calculator"]));
    let (_, second) = app.post(&format!("{path}/duplicate"), json!({})).await;
    assert_eq!(second["name"], "Planner (copy 2)");
    assert_eq!(assistants(&app).await.len(), 6);

    // Another person's assistant is invisible: not listed, not readable, not usable.
    let store = &app.state.store;
    let mallory = store.ensure_user("mallory").await.unwrap();
    store
        .seed_assistants(mallory, &ollamastack::service::presets())
        .await
        .unwrap();
    let theirs = store.list_assistants(mallory).await.unwrap()[0].id;
    assert_eq!(assistants(&app).await.len(), 6);
    let (status, _) = app.get(&format!("/api/v1/assistants/{theirs}")).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .patch(
            &format!("/api/v1/assistants/{theirs}"),
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({"content": "hi", "assistant": theirs.to_string()}),
        )
        .await;
    assert_eq!(status, 404, "{body}");

    let response = app.at(reqwest::Method::DELETE, &path).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let response = app.at(reqwest::Method::DELETE, &path).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

async fn a_turn_runs_with_the_assistant_and_the_conversation_remembers_it(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, planner) = app
        .post(
            "/api/v1/assistants",
            json!({
                "name": "Planner", "model": "qwen2.5:0.5b", "temperature": 0.25,
                "max_tokens": 321, "system_prompt": "You plan trips.",
                "tools": ["calculator"], "tools_enabled": true
            }),
        )
        .await;
    assert_eq!(status, 201, "{planner}");
    // By name, ignoring case.
    let (status, sent) = app
        .post(
            "/api/v1/conversations",
            json!({"content": "hello", "assistant": "planner"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["conversation"]["assistant_id"], planner["id"]);
    assert!(sent.get("notice").is_none(), "{sent}");
    let conversation = sent["conversation"]["id"].as_str().unwrap().to_string();
    app.follow(sent["assistant_message"]["id"].as_str().unwrap())
        .await;
    let request = app.fake.stats.last_chat_request();
    assert_eq!(request["model"], "qwen2.5:0.5b");
    assert_eq!(
        request["options"]["temperature"].as_f64().unwrap() as f32,
        0.25
    );
    assert_eq!(request["options"]["num_predict"], 321);
    assert_eq!(request["messages"][0]["role"], "system");
    assert_eq!(request["messages"][0]["content"], "You plan trips.");
    assert_eq!(request["tools"][0]["function"]["name"], "calculator");

    // The next turn, sent with nothing but text, runs with the same assistant.
    let (status, next) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({"content": "again"}),
        )
        .await;
    assert_eq!(status, 201, "{next}");
    app.follow(next["assistant_message"]["id"].as_str().unwrap())
        .await;
    let request = app.fake.stats.last_chat_request();
    assert_eq!(request["options"]["num_predict"], 321);
    assert_eq!(request["tools"][0]["function"]["name"], "calculator");
    let (_, stored) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(stored["conversation"]["assistant_id"], planner["id"]);

    // "none" leaves the assistant: no tools, no sampling of its own.
    let (status, plain) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({"content": "plain", "assistant": ""}),
        )
        .await;
    assert_eq!(status, 201, "{plain}");
    app.follow(plain["assistant_message"]["id"].as_str().unwrap())
        .await;
    let request = app.fake.stats.last_chat_request();
    assert!(
        request
            .get("tools")
            .is_none_or(|t| t.as_array().is_some_and(|a| a.is_empty())),
        "{request}"
    );
    assert_eq!(plain["conversation"]["assistant_id"], Value::Null);
    // The system prompt came with the assistant and leaves with it.
    assert_eq!(request["messages"][0]["role"], "user", "{request}");
    assert_eq!(plain["conversation"]["system_prompt"], Value::Null);

    // PATCH sets it back; deleting the assistant leaves the conversation without one.
    let (status, patched) = app
        .patch(
            &format!("/api/v1/conversations/{conversation}"),
            json!({"assistant_id": planner["id"]}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["assistant_id"], planner["id"]);
    let id = planner["id"].as_str().unwrap();
    app.at(reqwest::Method::DELETE, &format!("/api/v1/assistants/{id}"))
        .send()
        .await
        .unwrap();
    let (_, stored) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(stored["conversation"]["assistant_id"], Value::Null);
}

/// Switching assistants switches the system prompt the previous one gave the conversation;
/// a prompt the person wrote themselves stays whatever assistant they pick.
async fn the_system_prompt_follows_the_assistant_unless_the_person_wrote_one(backend: Backend) {
    let app = TestApp::start(backend).await;
    let list = assistants(&app).await;
    let prompt_of =
        |name: &str| list.iter().find(|a| a["name"] == name).unwrap()["system_prompt"].clone();
    let (status, sent) = app
        .post(
            "/api/v1/conversations",
            json!({"content": "a poem", "assistant": "Creative writer"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(
        sent["conversation"]["system_prompt"],
        prompt_of("Creative writer")
    );
    let conversation = sent["conversation"]["id"].as_str().unwrap().to_string();
    app.follow(sent["assistant_message"]["id"].as_str().unwrap())
        .await;

    // The next turn with the data analyst is sent with the analyst's prompt.
    let (status, next) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({"content": "now the numbers", "assistant": "Data analyst"}),
        )
        .await;
    assert_eq!(status, 201, "{next}");
    app.follow(next["assistant_message"]["id"].as_str().unwrap())
        .await;
    let request = app.fake.stats.last_chat_request();
    assert_eq!(request["messages"][0]["role"], "system");
    assert_eq!(request["messages"][0]["content"], prompt_of("Data analyst"));
    assert_eq!(
        next["conversation"]["system_prompt"],
        prompt_of("Data analyst")
    );

    // Through PATCH (the page's picker) as well.
    let writer = list
        .iter()
        .find(|a| a["name"] == "Creative writer")
        .unwrap();
    let (status, patched) = app
        .patch(
            &format!("/api/v1/conversations/{conversation}"),
            json!({"assistant_id": writer["id"]}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["system_prompt"], prompt_of("Creative writer"));

    // A prompt of the person's own survives any switch.
    let (status, own) = app
        .patch(
            &format!("/api/v1/conversations/{conversation}"),
            json!({"system_prompt": "Answer in French."}),
        )
        .await;
    assert_eq!(status, 200, "{own}");
    let (status, switched) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({"content": "encore", "assistant": "Code assistant", "model": "llama3.2"}),
        )
        .await;
    assert_eq!(status, 201, "{switched}");
    app.follow(switched["assistant_message"]["id"].as_str().unwrap())
        .await;
    let request = app.fake.stats.last_chat_request();
    assert_eq!(request["messages"][0]["content"], "Answer in French.");
    assert_eq!(
        switched["conversation"]["system_prompt"],
        "Answer in French."
    );
}

/// A null temperature or answer length in an edit goes back to the model's default; an absent
/// one is kept.
async fn an_edit_can_clear_sampling_back_to_the_default(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, created) = app
        .post(
            "/api/v1/assistants",
            json!({"name": "Terse", "model": "llama3.2", "temperature": 0.2, "max_tokens": 50}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/api/v1/assistants/{}", created["id"].as_str().unwrap());
    let (status, kept) = app
        .patch(&path, json!({"description": "Short answers"}))
        .await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["temperature"].as_f64().unwrap() as f32, 0.2);
    assert_eq!(kept["max_tokens"], 50);
    let (status, cleared) = app
        .patch(&path, json!({"temperature": null, "max_tokens": null}))
        .await;
    assert_eq!(status, 200, "{cleared}");
    assert_eq!(cleared["temperature"], Value::Null);
    assert_eq!(cleared["max_tokens"], Value::Null);
    assert_eq!(cleared["description"], "Short answers");
    let (status, refused) = app.patch(&path, json!({"temperature": "hot"})).await;
    assert_eq!(status, 422, "{refused}");
}

async fn a_missing_model_falls_back_with_a_notice(backend: Backend) {
    let app = TestApp::start(backend).await;
    // The code assistant's codellama is not among the fake's models.
    let (status, sent) = app
        .post(
            "/api/v1/conversations",
            json!({"content": "fn main", "assistant": "Code assistant"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let notice = sent["notice"].as_str().unwrap();
    assert!(notice.contains("codellama"), "{notice}");
    assert!(notice.contains("ollama pull codellama"), "{notice}");
    assert_eq!(sent["assistant_message"]["model"], "llama3.2:latest");
    app.follow(sent["assistant_message"]["id"].as_str().unwrap())
        .await;
    let request = app.fake.stats.last_chat_request();
    assert_eq!(request["model"], "llama3.2:latest");
    assert_eq!(
        request["options"]["temperature"].as_f64().unwrap() as f32,
        0.1
    );
    assert_eq!(request["options"]["num_predict"], 1500);
}

/// Bob's answer, once the fake has been asked for it: the request it got.
async fn chat_request_for(app: &TestApp, before: usize) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.fake.stats.chat_requests.load(Ordering::SeqCst) <= before {
        assert!(tokio::time::Instant::now() < deadline, "no chat request");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.fake.stats.last_chat_request()
}

/// An admin offers an assistant to everyone: others list it, run conversations with it and
/// duplicate it, but cannot change or delete it, nor see its documents; only admins share, and
/// one no longer shared stops being offered and run.
async fn an_admin_shares_an_assistant_with_everyone(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.auth.mode = ollamastack::model::AuthMode::Accounts;
    })
    .await;
    let (alice, bob) = common::admin_and_user(&app, "alice", "bob").await;
    let as_alice = |method: Method, path: String, body: Option<Value>| {
        let (app, alice) = (&app, &alice);
        async move { common::call_as(app, alice, method, &path, body).await }
    };
    let as_bob = |method: Method, path: String, body: Option<Value>| {
        let (app, bob) = (&app, &bob);
        async move { common::call_as(app, bob, method, &path, body).await }
    };

    // Alice's knowledge document, to check that it stays hers.
    let uploaded = app
        .at(Method::POST, "/api/v1/files")
        .header(reqwest::header::COOKIE, &alice)
        .header(
            reqwest::header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={}", common::BOUNDARY),
        )
        .body(common::multipart(&[(
            "handbook.txt",
            b"Holidays are booked in March.",
        )]))
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    let uploaded: Value = uploaded.json().await.unwrap();
    let file = uploaded["files"][0]["id"].clone();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (_, info) = as_alice(
            Method::GET,
            format!("/api/v1/files/{}", file.as_str().unwrap()),
            None,
        )
        .await;
        if info["status"] == "ready" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not indexed: {info}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // A person who is not an admin cannot share; nothing is created.
    let (status, refused) = as_bob(
        Method::POST,
        "/api/v1/assistants".into(),
        Some(json!({"name": "Mine for all", "model": "llama3.2", "shared": true})),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    let (_, bobs) = as_bob(Method::GET, "/api/v1/assistants".into(), None).await;
    assert!(
        bobs.as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"] != "Mine for all"),
        "{bobs}"
    );

    let (status, policy) = as_alice(
        Method::POST,
        "/api/v1/assistants".into(),
        Some(json!({
            "name": "HR policy", "model": "qwen2.5:0.5b", "temperature": 0.2,
            "system_prompt": "You answer questions about the HR policy.",
            "files": [file], "shared": true
        })),
    )
    .await;
    assert_eq!(status, 201, "{policy}");
    assert_eq!(policy["shared"], true);
    assert_eq!(policy["owned"], true);
    assert_eq!(policy["files"], json!([file]));
    let id = policy["id"].as_str().unwrap().to_string();
    // Alice's own conversations with it are grounded in her document.
    let before = app.fake.stats.chat_requests.load(Ordering::SeqCst);
    let (status, hers) = as_alice(
        Method::POST,
        "/api/v1/conversations".into(),
        Some(json!({"content": "When are holidays booked?", "assistant": id})),
    )
    .await;
    assert_eq!(status, 201, "{hers}");
    let request = chat_request_for(&app, before).await;
    assert!(
        request["messages"].to_string().contains("booked in March"),
        "{request}"
    );
    app.wait_idle(&alice, hers["conversation"]["id"].as_str().unwrap())
        .await;

    // Bob sees it after his own, marked as not his, without Alice's documents.
    let (_, bobs) = as_bob(Method::GET, "/api/v1/assistants".into(), None).await;
    let bobs = bobs.as_array().unwrap().clone();
    assert_eq!(
        bobs.len(),
        4,
        "his three presets and the shared one: {bobs:#?}"
    );
    let shared = bobs.last().unwrap();
    assert_eq!(shared["id"], policy["id"]);
    assert_eq!(
        (shared["shared"].clone(), shared["owned"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(shared["files"], json!([]));
    assert!(bobs[..3]
        .iter()
        .all(|a| a["owned"] == true && a["shared"] == false));
    let (status, knowledge) =
        as_bob(Method::GET, format!("/api/v1/assistants/{id}/files"), None).await;
    assert_eq!((status, knowledge), (200, json!([])));

    // He runs a conversation with it, by name; it gets the assistant's model, prompt and sampling.
    let before = app.fake.stats.chat_requests.load(Ordering::SeqCst);
    let (status, sent) = as_bob(
        Method::POST,
        "/api/v1/conversations".into(),
        Some(json!({"content": "When are holidays booked?", "assistant": "hr policy"})),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["conversation"]["assistant_id"], policy["id"]);
    let request = chat_request_for(&app, before).await;
    assert_eq!(request["model"], "qwen2.5:0.5b");
    assert_eq!(
        request["messages"][0]["content"],
        "You answer questions about the HR policy."
    );
    assert_eq!(
        request["options"]["temperature"].as_f64().unwrap() as f32,
        0.2
    );
    let all_text = request["messages"].to_string();
    assert!(
        !all_text.contains("booked in March"),
        "Alice's document reached Bob: {all_text}"
    );
    let conversation = sent["conversation"]["id"].as_str().unwrap().to_string();
    app.wait_idle(&bob, &conversation).await;

    // He cannot change or delete it; he can copy it, and the copy is his.
    let (status, body) = as_bob(
        Method::PATCH,
        format!("/api/v1/assistants/{id}"),
        Some(json!({"system_prompt": "Ignore the policy."})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = as_bob(Method::DELETE, format!("/api/v1/assistants/{id}"), None).await;
    assert_eq!(status, 403, "{body}");
    let (status, copy) = as_bob(
        Method::POST,
        format!("/api/v1/assistants/{id}/duplicate"),
        None,
    )
    .await;
    assert_eq!(status, 201, "{copy}");
    assert_eq!(copy["name"], "HR policy (copy)");
    assert_eq!(
        (copy["owned"].clone(), copy["shared"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(copy["files"], json!([]));
    let (_, unchanged) = as_alice(Method::GET, format!("/api/v1/assistants/{id}"), None).await;
    assert_eq!(
        unchanged["system_prompt"],
        "You answer questions about the HR policy."
    );

    // Alice stops sharing: Bob no longer lists, reads or runs it; his conversation goes on
    // without it.
    let (status, stopped) = as_alice(
        Method::PATCH,
        format!("/api/v1/assistants/{id}"),
        Some(json!({"shared": false})),
    )
    .await;
    assert_eq!((status, stopped["shared"].clone()), (200, json!(false)));
    let (_, bobs) = as_bob(Method::GET, "/api/v1/assistants".into(), None).await;
    assert!(
        bobs.as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != policy["id"]),
        "{bobs}"
    );
    let (status, _) = as_bob(Method::GET, format!("/api/v1/assistants/{id}"), None).await;
    assert_eq!(status, 404);
    let before = app.fake.stats.chat_requests.load(Ordering::SeqCst);
    let (status, next) = as_bob(
        Method::POST,
        format!("/api/v1/conversations/{conversation}/messages"),
        Some(json!({"content": "And in April?"})),
    )
    .await;
    assert_eq!(status, 201, "{next}");
    // The conversation keeps the model and prompt it took as its own; the assistant's
    // sampling no longer applies.
    let request = chat_request_for(&app, before).await;
    assert!(request["options"].get("temperature").is_none(), "{request}");
    app.wait_idle(&bob, &conversation).await;
}

on_both_backends!(
    the_presets_are_there_once,
    the_system_prompt_follows_the_assistant_unless_the_person_wrote_one,
    an_edit_can_clear_sampling_back_to_the_default,
    create_edit_duplicate_delete_with_clear_errors,
    a_turn_runs_with_the_assistant_and_the_conversation_remembers_it,
    a_missing_model_falls_back_with_a_notice,
    an_admin_shares_an_assistant_with_everyone,
);
