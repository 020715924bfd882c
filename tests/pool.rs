//! A pool of Ollama servers and model management, on SQLite and PostgreSQL: chats go to a
//! server that has their model and to the least busy one, a chat that fails before its first
//! token is answered by another server, each server's state is in /readyz and for admins; and
//! admins pull (with progress), cancel, inspect and delete models.

mod common;

use common::{admin_and_user, call_as, Backend, TestApp};
use ollamastack::testing::fake_ollama::{expected_answer, FakeConfig, FakeOllama};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn config(models: &[&str]) -> FakeConfig {
    FakeConfig {
        models: models.iter().map(|m| m.to_string()).collect(),
        ..FakeConfig::default()
    }
}

/// The app on `first` (the harness's fake) and `others`, once every server has been checked.
async fn pool(backend: Backend, first: FakeConfig, others: &[&FakeOllama]) -> TestApp {
    let urls: Vec<String> = others.iter().map(|f| f.url()).collect();
    let app = TestApp::start_with(backend, first, |settings| {
        settings.ollama.servers = std::iter::once(settings.ollama.url.clone())
            .chain(urls)
            .collect();
        settings.ollama.health_interval_ms = 200;
    })
    .await;
    for _ in 0..100 {
        if app.state.ollama.servers().iter().all(|s| s.up.is_some()) {
            return app;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the servers were not checked: {:?}",
        app.state.ollama.servers()
    );
}

fn chats(fake: &FakeOllama) -> usize {
    fake.stats.chat_requests.load(Ordering::SeqCst)
}

async fn answer(app: &TestApp, content: &str, model: &str) -> Value {
    let (_, answer) = app
        .send_new_with(json!({ "content": content, "model": model }))
        .await;
    app.follow(&answer).await.1
}

/// Each chat goes to the server that has its model; the model list is every server's.
async fn chats_go_to_a_server_that_has_their_model(backend: Backend) {
    let qwen = FakeOllama::start(config(&["qwen2.5:0.5b"])).await.unwrap();
    let app = pool(backend, config(&["llama3.2:latest"]), &[&qwen]).await;

    let (status, models) = app.get("/api/v1/models").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["llama3.2:latest", "qwen2.5:0.5b"], "{models}");

    for _ in 0..3 {
        let done = answer(&app, "small one [tokens=4]", "qwen2.5:0.5b").await;
        assert_eq!(done["status"], "complete", "{done}");
        assert_eq!(done["content"], expected_answer(4));
        let done = answer(&app, "big one [tokens=5]", "llama3.2").await;
        assert_eq!(done["status"], "complete", "{done}");
        assert_eq!(done["content"], expected_answer(5));
    }
    assert_eq!(chats(&qwen), 3, "every qwen chat on the qwen server");
    assert_eq!(chats(&app.fake), 3, "every llama chat on the llama server");

    // A model no server has is still the clear error it was with one server.
    let done = answer(&app, "hello", "mistral").await;
    assert_eq!(done["status"], "error");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("ollama pull mistral"),
        "{done}"
    );
}

/// The next chat goes to the server with fewer chats running.
async fn the_least_busy_server_takes_the_next_chat(backend: Backend) {
    let second = FakeOllama::start(FakeConfig::default()).await.unwrap();
    let app = pool(backend, FakeConfig::default(), &[&second]).await;
    let active = |f: &FakeOllama| f.stats.active_streams.load(Ordering::SeqCst);

    let (_, first) = app.send_new("a long one [tokens=60] [delay=40]").await;
    for _ in 0..200 {
        if active(&app.fake) + active(&second) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(active(&app.fake) + active(&second), 1);
    let (_, next) = app.send_new("another [tokens=60] [delay=40]").await;
    for _ in 0..200 {
        if active(&app.fake) + active(&second) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!((active(&app.fake), active(&second)), (1, 1), "one on each");
    let busy: Vec<u32> = app.state.ollama.servers().iter().map(|s| s.busy).collect();
    assert_eq!(busy, [1, 1], "the pool counts each server's running calls");
    for id in [first, next] {
        assert_eq!(app.follow(&id).await.1["status"], "complete");
    }
    // Released when the streams end.
    for _ in 0..100 {
        if app.state.ollama.servers().iter().all(|s| s.busy == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(app.state.ollama.servers().iter().all(|s| s.busy == 0));
}

/// A server that cannot load the model (500 before any token) or has died: the chat is answered
/// by another server, and the person never sees the failure. /readyz shows each server.
async fn a_chat_fails_over_before_its_first_token(backend: Backend) {
    let healthy = FakeOllama::start(FakeConfig::default()).await.unwrap();
    let failing = FakeConfig {
        chat_failure: Some(
            "model requires more system memory (5.6 GiB) than is available (1.9 GiB)".into(),
        ),
        ..FakeConfig::default()
    };
    let app = pool(backend, failing, &[&healthy]).await;
    for i in 0..4 {
        let done = answer(&app, &format!("question {i} [tokens=6]"), "llama3.2").await;
        assert_eq!(done["status"], "complete", "{done}");
        assert_eq!(done["content"], expected_answer(6));
    }
    assert_eq!(
        chats(&healthy),
        4,
        "every chat answered by the healthy server"
    );
    assert!(
        chats(&app.fake) >= 1,
        "the failing server was tried (ties go in turn)"
    );

    // The first server dies: chats go on, it is shown down, and the instance stays ready.
    let (db, dead, settings) = {
        let settings = (*app.state.settings).clone();
        let (db, fake) = app.shutdown().await;
        (db, fake, settings)
    };
    dead.kill().await;
    let app = TestApp::serve(db, dead, settings).await;
    let done = answer(&app, "still there? [tokens=3]", "llama3.2").await;
    assert_eq!(done["status"], "complete", "{done}");
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    let servers = ready["ollama"]["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2, "{ready}");
    assert_eq!(servers[0]["up"], false, "{ready}");
    assert!(
        servers[0]["error"]
            .as_str()
            .unwrap()
            .contains("not reachable"),
        "{ready}"
    );
    assert_eq!(servers[1]["up"], true, "{ready}");
    assert_eq!(servers[1]["url"], healthy.url());
    assert_eq!(ready["ollama"]["version"], "0.12.0");

    // Both down: not ready, and a chat says Ollama cannot be reached.
    healthy.kill().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["ollama"]["ok"], false);
    let done = answer(&app, "anyone?", "llama3.2").await;
    assert_eq!(done["status"], "error");
    assert!(
        done["error"].as_str().unwrap().contains("not reachable"),
        "{done}"
    );
    // Once the health checks have taken every server out, the page is still told that Ollama
    // cannot be reached (not that it has no models).
    for _ in 0..100 {
        if app
            .state
            .ollama
            .servers()
            .iter()
            .all(|s| s.up == Some(false))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(app
        .state
        .ollama
        .servers()
        .iter()
        .all(|s| s.up == Some(false)));
    let (status, models) = app.get("/api/v1/models").await;
    assert_eq!(status, 200);
    assert_eq!(models["reachable"], false, "{models}");
    assert!(
        models["error"].as_str().unwrap().contains("not reachable"),
        "{models}"
    );
}

async fn pulls(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.get("/api/v1/admin/models/pulls").await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

/// Polls until the pull of `model` ends; every state seen on the way.
async fn until_pulled(app: &TestApp, model: &str) -> (Value, Vec<Value>) {
    let mut seen = Vec::new();
    for _ in 0..500 {
        let list = pulls(app).await;
        let pull = list
            .into_iter()
            .find(|p| p["model"] == model)
            .unwrap_or_else(|| panic!("no pull of {model}"));
        if pull["state"] != "running" {
            return (pull, seen);
        }
        seen.push(pull);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the pull of {model} did not end");
}

/// An admin pulls a model onto both servers with progress, reads its details, deletes it; a
/// pull of a model the registry lacks fails with Ollama's reason; a cancelled pull stops.
async fn admins_pull_inspect_and_delete_models(backend: Backend) {
    let slow = |models: &[&str]| FakeConfig {
        pull_step: Duration::from_millis(30),
        ..config(models)
    };
    let second = FakeOllama::start(slow(&["llama3.2:latest"])).await.unwrap();
    let app = pool(backend, slow(&["llama3.2:latest"]), &[&second]).await;

    let (status, pull) = app
        .post("/api/v1/admin/models/pull", json!({"model": "mistral:7b"}))
        .await;
    assert_eq!(status, 202, "{pull}");
    assert_eq!(pull["state"], "running");
    assert_eq!(
        pull["servers"].as_array().unwrap().len(),
        2,
        "onto both servers"
    );
    let (status, again) = app
        .post("/api/v1/admin/models/pull", json!({"model": "mistral:7b"}))
        .await;
    assert_eq!(status, 409, "{again}");
    let (done, seen) = until_pulled(&app, "mistral:7b").await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(
        seen.iter().any(|p| {
            let (completed, total) = (&p["servers"][0]["completed"], &p["servers"][0]["total"]);
            total.as_u64() > Some(0) && completed.as_u64() < total.as_u64()
        }),
        "progress was seen on the way: {seen:?}"
    );
    for server in done["servers"].as_array().unwrap() {
        assert_eq!(server["state"], "done");
        assert_eq!(server["status"], "success");
        assert_eq!(server["completed"], 4_001_429u64);
        assert_eq!(server["total"], 4_001_429u64);
    }

    let (status, details) = app.get("/api/v1/models/mistral:7b").await;
    assert_eq!(status, 200, "{details}");
    assert_eq!(details["name"], "mistral:7b");
    assert_eq!(details["context_length"], 131072);
    assert!(details["capabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("tools")));
    assert_eq!(details["servers"], json!([app.fake.url(), second.url()]));
    let done = answer(&app, "hi [tokens=3]", "mistral:7b").await;
    assert_eq!(done["status"], "complete", "{done}");

    // The whole page in one read.
    let (status, overview) = app.get("/api/v1/admin/ollama").await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["servers"].as_array().unwrap().len(), 2);
    assert!(overview["models"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "mistral:7b" && m["servers"].as_array().unwrap().len() == 2));

    // A model the registry lacks: Ollama's own reason, per server.
    let (status, _) = app
        .post(
            "/api/v1/admin/models/pull",
            json!({"model": "nosuch-model"}),
        )
        .await;
    assert_eq!(status, 202);
    let (failed, _) = until_pulled(&app, "nosuch-model").await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(
        failed["servers"][0]["error"],
        "pull model manifest: file does not exist"
    );

    // Cancelled: it stops, and the model is not listed.
    let (status, _) = app
        .post("/api/v1/admin/models/pull", json!({"model": "phi3"}))
        .await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let (status, cancelled) = app
        .post("/api/v1/admin/models/pull/cancel", json!({"model": "phi3"}))
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.get("/api/v1/models/phi3").await.0, 404);
    let (status, _) = app
        .post("/api/v1/admin/models/pull/cancel", json!({"model": "phi3"}))
        .await;
    assert_eq!(status, 404, "nothing running to cancel");

    // Bad names are refused before anything is sent.
    for bad in ["", "../../etc/passwd", "a b", "x\ny"] {
        let (status, body) = app
            .post("/api/v1/admin/models/pull", json!({"model": bad}))
            .await;
        assert_eq!(status, 422, "{bad:?}: {body}");
    }

    // Deleted from both servers.
    let deleted = app
        .at(Method::DELETE, "/api/v1/admin/models/mistral:7b")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.get("/api/v1/models/mistral:7b").await.0, 404);
    let after = app.state.ollama.servers();
    assert!(
        after
            .iter()
            .all(|s| !s.models.iter().any(|m| m == "mistral:7b")),
        "{after:?}"
    );
    let again = app
        .at(Method::DELETE, "/api/v1/admin/models/mistral:7b")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
}

/// With accounts, only admins see servers and manage models; anyone signed in reads a model's
/// details.
async fn only_admins_manage_models(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.auth.mode = ollamastack::model::AuthMode::Accounts;
    })
    .await;
    let (admin, user) = admin_and_user(&app, "ada", "bob").await;
    for (method, path, body) in [
        (Method::GET, "/api/v1/admin/ollama", None),
        (Method::GET, "/api/v1/admin/models/pulls", None),
        (
            Method::POST,
            "/api/v1/admin/models/pull",
            Some(json!({"model": "phi3"})),
        ),
        (
            Method::POST,
            "/api/v1/admin/models/pull/cancel",
            Some(json!({"model": "phi3"})),
        ),
        (Method::DELETE, "/api/v1/admin/models/llama3.2", None),
    ] {
        let (status, _) = call_as(&app, &user, method.clone(), path, body).await;
        assert_eq!(
            status, 404,
            "{method} {path} for someone who is not an admin"
        );
    }
    assert!(
        app.get("/api/v1/models/llama3.2").await.0 == 401,
        "signed out"
    );
    let (status, details) =
        call_as(&app, &user, Method::GET, "/api/v1/models/llama3.2", None).await;
    assert_eq!(status, 200, "{details}");
    assert_eq!(details["name"], "llama3.2:latest");
    assert_eq!(chats(&app.fake), 0);
    // Nothing was deleted or pulled by the refused calls.
    let (status, overview) = call_as(&app, &admin, Method::GET, "/api/v1/admin/ollama", None).await;
    assert_eq!(status, 200);
    assert_eq!(overview["pulls"], json!([]));
    assert!(overview["models"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "llama3.2:latest"));
}

on_both_backends!(
    chats_go_to_a_server_that_has_their_model,
    the_least_busy_server_takes_the_next_chat,
    a_chat_fails_over_before_its_first_token,
    admins_pull_inspect_and_delete_models,
    only_admins_manage_models,
);
