//! Documents on SQLite and PostgreSQL: uploads of every accepted type (real PDF and DOCX files
//! written by the tests), extraction asserted on their content, indexing to `ready`, hybrid
//! search with highlights, download, delete; hostile uploads refused with nothing left behind;
//! a missing embedding model; indexing resumed after a restart; re-embedding on a model change.

mod common;

use common::{multipart, Backend, TestApp, BOUNDARY};
use ollamastack::db::Scope;
use ollamastack::testing::fake_ollama::FakeConfig;
use ollamastack::testing::sample_files;
use serde_json::Value;
use std::time::Duration;

async fn upload_body(app: &TestApp, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .at(reqwest::Method::POST, "/api/v1/files")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn upload(app: &TestApp, files: &[(&str, &[u8])]) -> (u16, Value) {
    upload_body(app, multipart(files)).await
}

/// Polls a file until its indexing ends.
async fn indexed(app: &TestApp, id: &str) -> Value {
    for _ in 0..300 {
        let (status, file) = app.get(&format!("/api/v1/files/{id}")).await;
        assert_eq!(status, 200, "{file}");
        if matches!(file["status"].as_str(), Some("ready" | "failed")) {
            return file;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("file {id} was not indexed in time");
}

async fn file_count(app: &TestApp) -> usize {
    let (_, files) = app.get("/api/v1/files").await;
    files.as_array().unwrap().len()
}

/// Files on disk (outside the incoming folder) and files still incoming.
fn disk_files(app: &TestApp) -> (usize, usize) {
    let count = |dir: std::path::PathBuf| {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .count()
            })
            .unwrap_or(0)
    };
    (
        count(app.db.files_dir.clone()),
        count(app.db.files_dir.join(".incoming")),
    )
}

const HANDBOOK: &str = "# Staff handbook\n\n## Holidays\n\nEvery employee gets twenty-five days of paid holiday a year. \
Unused holiday days carry over until the end of March.\n\n## Expenses\n\nTravel expenses are reimbursed within thirty days \
when the receipt is attached to the claim.\n";

/// Every accepted type goes in, is indexed, is found by its words, downloads as it was, and
/// leaves nothing behind when deleted.
async fn every_type_is_indexed_found_downloaded_and_deleted(backend: Backend) {
    // Small chunks, so that the handbook's sections are chunks of their own.
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.documents.chunk_chars = 200;
        settings.documents.chunk_overlap = 20;
    })
    .await;
    let pdf = sample_files::pdf(
        "Warranty terms.\nThe kettle warranty lasts two years from the date of purchase.",
    );
    let docx = sample_files::docx(&[
        ("Title", "Returns policy"),
        (
            "",
            "Customers may return unopened parcels within fourteen days for a refund.",
        ),
        ("Heading1", "Damaged goods"),
        ("", "Damaged goods are replaced free of charge."),
    ]);
    let csv = b"city,population\nLyon,522000\nNantes,320000\n".to_vec();
    let files: [(&str, &[u8]); 5] = [
        ("handbook.md", HANDBOOK.as_bytes()),
        ("notes.txt", b"The wifi password changes every Monday."),
        ("warranty.pdf", &pdf),
        ("returns.docx", &docx),
        ("cities.csv", &csv),
    ];
    let (status, body) = upload(&app, &files).await;
    assert_eq!(status, 201, "{body}");
    let stored = body["files"].as_array().unwrap();
    assert_eq!(stored.len(), 5, "{body}");
    assert_eq!(body["refused"], Value::Array(vec![]));
    let kinds: Vec<&str> = stored.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["md", "txt", "pdf", "docx", "csv"]);
    assert!(stored.iter().all(|f| f.get("owner_id").is_none()));
    let mut ids = Vec::new();
    for file in stored {
        let id = file["id"].as_str().unwrap().to_string();
        let done = indexed(&app, &id).await;
        assert_eq!(done["status"], "ready", "{done}");
        assert!(done["chunk_count"].as_i64().unwrap() >= 1, "{done}");
        assert_eq!(done["embedded_count"], done["chunk_count"], "{done}");
        assert_eq!(done["embedding_model"], "nomic-embed-text");
        ids.push(id);
    }
    let (_, pdf_file) = app.get(&format!("/api/v1/files/{}", ids[2])).await;
    assert_eq!(pdf_file["pages"], 1);

    // Each file's content is found by its own words, with page or section and highlights.
    for (query, file_name, expected) in [
        (
            "how long does the kettle warranty last",
            "warranty.pdf",
            "two years",
        ),
        (
            "refund for unopened parcels",
            "returns.docx",
            "fourteen days",
        ),
        (
            "when are travel expenses reimbursed",
            "handbook.md",
            "thirty days",
        ),
        ("population of Nantes", "cities.csv", "Nantes"),
        ("wifi password", "notes.txt", "Monday"),
    ] {
        let (status, results) = app
            .get(&format!("/api/v1/search?q={}&limit=3", urlencode(query)))
            .await;
        assert_eq!(status, 200, "{results}");
        assert_eq!(results["mode"], "hybrid", "{results}");
        let best = &results["hits"][0];
        assert_eq!(best["file_name"], file_name, "{query}: {results:#}");
        assert!(best["text"].as_str().unwrap().contains(expected), "{best}");
        assert!(best["score"].as_f64().unwrap() > 0.0);
        assert!(!best["highlights"].as_array().unwrap().is_empty(), "{best}");
    }
    let (_, expenses) = app.get("/api/v1/search?q=travel%20expenses").await;
    assert_eq!(expenses["hits"][0]["section"], "Expenses", "{expenses:#}");
    let (_, warranty) = app.get("/api/v1/search?q=kettle%20warranty").await;
    assert_eq!(warranty["hits"][0]["page"], 1, "{warranty:#}");
    // Limited to one file.
    let (_, only) = app
        .get(&format!("/api/v1/search?q=days&file={}", ids[0]))
        .await;
    assert!(only["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["file_name"] == "handbook.md"));

    // Downloads are the bytes as uploaded, as attachments, never sniffed.
    let response = app
        .at(
            reqwest::Method::GET,
            &format!("/api/v1/files/{}/content", ids[2]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"warranty.pdf\""));
    assert_eq!(response.bytes().await.unwrap().as_ref(), pdf.as_slice());

    // Delete: the row, the bytes, the chunks; search no longer finds it.
    let response = app
        .at(
            reqwest::Method::DELETE,
            &format!("/api/v1/files/{}", ids[2]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(app.get(&format!("/api/v1/files/{}", ids[2])).await.0, 404);
    let (_, after) = app.get("/api/v1/search?q=kettle%20warranty").await;
    assert!(after["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["file_name"] != "warranty.pdf"));
    assert_eq!(file_count(&app).await, 4);
    let on_disk = disk_files(&app).0;
    match backend {
        // SQLite keeps the bytes on disk, PostgreSQL in the database (every instance reads them).
        Backend::Sqlite => assert_eq!(on_disk, 4),
        Backend::Postgres => assert_eq!(on_disk, 0),
    }
    let (status, _) = app.get(&format!("/api/v1/files/{}/content", ids[2])).await;
    assert_eq!(status, 404);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Hostile uploads are refused with a clear reason, and nothing of them is kept anywhere.
async fn hostile_uploads_leave_nothing_behind(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.documents.max_file_bytes = 64 * 1024;
        settings.documents.max_archive_bytes = 1024 * 1024;
    })
    .await;
    let refused = |body: &Value| {
        body["refused"][0]["error"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };

    // A name with a path and a reserved name: stored under an id, shown cleaned.
    let (status, body) = upload(&app, &[("../../../etc/CON.txt", b"harmless")]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["files"][0]["name"], "_CON.txt");
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "invoice.pdf",
            b"<!doctype html><script>alert(1)</script>".to_vec(),
            422,
            "content is text",
        ),
        (
            "notes.txt",
            sample_files::pdf("hello"),
            422,
            "content is a PDF",
        ),
        (
            "report.docx",
            sample_files::docx_bomb(8 * 1024 * 1024),
            422,
            "expands to more than 1 MB",
        ),
        (
            "program.exe",
            b"MZ\x90\x00".to_vec(),
            422,
            "only .txt, .md, .pdf, .docx and .csv",
        ),
        (
            "big.txt",
            vec![b'a'; 64 * 1024 + 1],
            413,
            "larger than 64 KB",
        ),
        ("empty.md", Vec::new(), 422, "empty"),
    ];
    for (name, bytes, expected_status, reason) in &cases {
        let (status, body) = upload(&app, &[(name, bytes)]).await;
        assert_eq!(status, *expected_status, "{name}: {body}");
        assert!(refused(&body).contains(reason), "{name}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(name),
            "{body}"
        );
    }
    // Too many files at once: nothing of the upload is kept.
    let six: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| (format!("f{i}.txt"), b"x".to_vec()))
        .collect();
    let six: Vec<(&str, &[u8])> = six
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let (status, body) = upload(&app, &six).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 5 files"));
    // A good file and a bad one: the good one is kept, the bad one is listed with its reason.
    let (status, body) = upload(&app, &[("ok.md", b"# fine"), ("bad.pdf", b"nope")]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["files"].as_array().unwrap().len(), 1);
    assert_eq!(body["refused"][0]["name"], "bad.pdf");
    // An upload cut halfway (the body ends inside a file): refused, nothing kept.
    let mut cut = multipart(&[("first.txt", b"complete"), ("second.txt", &[b'z'; 4000])]);
    cut.truncate(cut.len() - 2000);
    let (status, body) = upload_body(&app, cut).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cut off"),
        "{body}"
    );
    // From another site's page: refused before anything is read.
    let response = app
        .at(reqwest::Method::POST, "/api/v1/files")
        .header("origin", "https://evil.example")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&[("evil.txt", b"planted")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // Not multipart at all.
    let (status, body) = app
        .post("/api/v1/files", serde_json::json!({"file": "x"}))
        .await;
    assert_eq!(status, 422, "{body}");

    // Only the two files accepted above exist, in the database and on disk.
    assert_eq!(file_count(&app).await, 2);
    let (kept, incoming) = disk_files(&app);
    assert_eq!(incoming, 0, "no temporary file is left");
    match backend {
        Backend::Sqlite => assert_eq!(kept, 2),
        Backend::Postgres => assert_eq!(kept, 0),
    }
    // Files on disk are named by id only.
    for entry in std::fs::read_dir(&app.db.files_dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_file() {
            let name = entry.file_name().into_string().unwrap();
            assert!(uuid::Uuid::parse_str(&name).is_ok(), "{name}");
        }
    }
    // Another id, or no id at all, is not found.
    let (status, _) = app
        .get(&format!("/api/v1/files/{}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/api/v1/files/..%2F..%2Fetc").await;
    assert_eq!(status, 404);
}

/// Without the embedding model a file still becomes searchable by keywords; it says how to
/// fix it, and indexing it again after the pull makes it whole.
async fn a_missing_embedding_model_is_explained(backend: Backend) {
    let app = TestApp::start_with(
        backend,
        FakeConfig {
            embedding_models: Vec::new(),
            ..FakeConfig::default()
        },
        |_| {},
    )
    .await;
    let (status, body) = upload(&app, &[("handbook.md", HANDBOOK.as_bytes())]).await;
    assert_eq!(status, 201, "{body}");
    let id = body["files"][0]["id"].as_str().unwrap().to_string();
    let file = indexed(&app, &id).await;
    assert_eq!(file["status"], "failed", "{file}");
    assert!(
        file["error"]
            .as_str()
            .unwrap()
            .contains("run `ollama pull nomic-embed-text`"),
        "{file}"
    );
    assert_eq!(file["embedded_count"], 0);
    let (status, results) = app.get("/api/v1/search?q=holiday%20days").await;
    assert_eq!(status, 200, "{results}");
    assert_eq!(results["mode"], "keyword");
    assert!(
        results["note"]
            .as_str()
            .unwrap()
            .contains("keyword results only"),
        "{results}"
    );
    assert_eq!(results["hits"][0]["file_name"], "handbook.md");
    // Bad searches are clear errors.
    for (query, reason) in [("", "empty"), ("q=x&limit=0", "limit")] {
        let (status, body) = app.get(&format!("/api/v1/search?{query}")).await;
        assert_eq!(status, 422, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(reason),
            "{body}"
        );
    }
    // A finished file can be indexed again (after `ollama pull`).
    let (status, again) = app
        .post(&format!("/api/v1/files/{id}/reindex"), Value::Null)
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["status"], "queued");
}

/// A file an instance was indexing when it stopped is finished by the next start; a change of
/// embedding model re-embeds every file (the chunks stay).
async fn indexing_resumes_and_follows_the_embedding_model(backend: Backend) {
    let fake = FakeConfig {
        embedding_models: vec![
            "nomic-embed-text:latest".into(),
            "mxbai-embed-large:latest".into(),
        ],
        ..FakeConfig::default()
    };
    let app = TestApp::start_with(backend, fake, |_| {}).await;
    let (status, body) = upload(&app, &[("handbook.md", HANDBOOK.as_bytes())]).await;
    assert_eq!(status, 201, "{body}");
    let id = body["files"][0]["id"].as_str().unwrap().to_string();
    let first = indexed(&app, &id).await;
    assert_eq!(first["status"], "ready");
    let embedded_before = app
        .fake
        .stats
        .embedded_inputs
        .load(std::sync::atomic::Ordering::SeqCst);
    // A stopped instance's claim: the row says extracting, with an old heartbeat.
    let (db, fake) = app.shutdown().await;
    let store = db.store().await;
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    leave_claimed(&store, uuid).await;
    store.close().await;
    let mut settings = common::test_settings(&db, &fake.url());
    settings.documents.embedding_model = "mxbai-embed-large".into();
    let app = TestApp::serve(db, fake, settings).await;
    let done = indexed(&app, &id).await;
    assert_eq!(done["status"], "ready", "{done}");
    assert_eq!(done["embedding_model"], "mxbai-embed-large");
    assert_eq!(done["embedded_count"], done["chunk_count"]);
    let embedded_after = app
        .fake
        .stats
        .embedded_inputs
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        embedded_after > embedded_before,
        "the chunks were embedded again"
    );
    let (_, results) = app.get("/api/v1/search?q=holiday").await;
    assert_eq!(results["mode"], "hybrid");
    assert_eq!(results["hits"][0]["file_name"], "handbook.md");
}

/// Marks a file as being indexed by an instance that stopped a minute ago.
async fn leave_claimed(store: &ollamastack::db::SharedStore, id: uuid::Uuid) {
    let stale = chrono::Utc::now() - chrono::Duration::seconds(60);
    let sql = "UPDATE files SET status = 'extracting', extracted = $1, instance_id = $2, heartbeat_at = $3 WHERE id = $4";
    if let Some(pool) = store.postgres_pool() {
        sqlx::query(sql)
            .bind(false)
            .bind(uuid::Uuid::now_v7())
            .bind(stale)
            .bind(id)
            .execute(pool)
            .await
            .unwrap();
    } else if let Some(pool) = store.sqlite_pool() {
        sqlx::query(sql)
            .bind(false)
            .bind(uuid::Uuid::now_v7())
            .bind(stale)
            .bind(id)
            .execute(pool)
            .await
            .unwrap();
    }
}

/// One person's files are invisible to another, in every store call.
async fn files_belong_to_their_owner(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, body) = upload(&app, &[("handbook.md", HANDBOOK.as_bytes())]).await;
    let id = uuid::Uuid::parse_str(body["files"][0]["id"].as_str().unwrap()).unwrap();
    indexed(&app, &id.to_string()).await;
    let store = &app.state.store;
    let me = app.state.local_user.0;
    let them = store.ensure_user("someone-else").await.unwrap();
    assert!(store.get_file(them, id).await.unwrap().is_none());
    assert!(store.file_bytes(them, id).await.unwrap().is_none());
    assert!(store.list_files(them).await.unwrap().is_empty());
    assert!(store.requeue_file(them, id).await.unwrap().is_none());
    let words = vec!["holiday".to_string()];
    assert!(store
        .keyword_search(them, &words, Scope::All, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(!store
        .keyword_search(me, &words, Scope::All, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .chunk_vectors(them, "nomic-embed-text", Scope::All)
        .await
        .unwrap()
        .is_empty());
    let mine = store
        .keyword_search(me, &words, Scope::All, 10)
        .await
        .unwrap();
    assert!(store.chunks_by_ids(them, &mine).await.unwrap().is_empty());
    assert!(store.delete_file(them, id).await.unwrap().is_none());
    assert!(store.get_file(me, id).await.unwrap().is_some());
}

/// A conversation with attached documents: each answer gets the best passages of those files
/// (and of no other), numbered, within the context window; the answer stores them for its
/// citations; what did not fit is counted.
async fn answers_are_grounded_in_the_attached_documents(backend: Backend) {
    let app = TestApp::start(backend).await;
    let paragraph = |topic: &str| {
        format!("Holiday rules for {topic}: ").to_string()
            + &"every holiday request goes to the manager first. ".repeat(18)
    };
    let long = (1..=5)
        .map(|i| paragraph(&format!("team {i}")))
        .collect::<Vec<_>>()
        .join("\n\n");
    let (status, body) = upload(
        &app,
        &[
            ("handbook.md", HANDBOOK.as_bytes()),
            ("other.txt", b"Holiday cottage bookings open in May."),
            ("rules.txt", long.as_bytes()),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let ids: Vec<String> = body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    for id in &ids {
        assert_eq!(indexed(&app, id).await["status"], "ready");
    }
    let (status, sent) = app
        .post(
            "/api/v1/conversations",
            serde_json::json!({"content": "How many days of paid holiday do I get?", "files": [ids[0]]}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"]["id"].as_str().unwrap().to_string();
    let passages = &sent["assistant_message"]["sources"]["passages"];
    assert_eq!(passages[0]["n"], 1, "{sent}");
    assert_eq!(passages[0]["file_name"], "handbook.md");
    let (_, done) = app
        .follow(sent["assistant_message"]["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "complete", "{done}");
    assert_eq!(
        done["sources"]["passages"][0]["file_name"], "handbook.md",
        "{done}"
    );
    let request = app.fake.stats.last_chat_request();
    let messages = request["messages"].as_array().unwrap();
    let grounding = &messages[messages.len() - 2];
    assert_eq!(grounding["role"], "system", "{request:#}");
    let text = grounding["content"].as_str().unwrap();
    assert!(text.contains("[1] handbook.md"), "{text}");
    assert!(text.contains("twenty-five days of paid holiday"), "{text}");
    assert!(
        !text.contains("cottage"),
        "only attached files are used: {text}"
    );
    assert_eq!(
        messages.last().unwrap()["content"],
        "How many days of paid holiday do I get?"
    );
    assert_eq!(
        request["options"]["num_ctx"], 8192,
        "the window budgeted is asked for"
    );
    let (_, stored) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(stored["files"][0]["name"], "handbook.md");
    assert_eq!(stored["messages"][1]["sources"]["passages"][0]["n"], 1);

    // A small window: what does not fit is left out and counted.
    let (status, _) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/files"),
            serde_json::json!({"file_id": ids[2]}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .patch(
            &format!("/api/v1/conversations/{conversation}"),
            serde_json::json!({"options": {"num_ctx": 1024}}),
        )
        .await;
    assert_eq!(status, 200);
    let next = app
        .send_in(
            &conversation,
            serde_json::json!({"content": "Who approves a holiday request?"}),
        )
        .await;
    let sources = &next["assistant_message"]["sources"];
    let taken = sources["passages"].as_array().unwrap().len();
    assert!(taken >= 1, "{sources}");
    assert!(sources["omitted"].as_u64().unwrap() >= 1, "{sources}");
    assert_eq!(sources["window_tokens"], 1024);
    app.follow(next["assistant_message"]["id"].as_str().unwrap())
        .await;
    let request = app.fake.stats.last_chat_request();
    assert_eq!(request["options"]["num_ctx"], 1024);
    let prompt: usize = request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().chars().count())
        .sum();
    assert!(
        prompt / 4 < 1024,
        "the prompt fits the window ({prompt} characters)"
    );

    // Detached: the next answer has no passages. Someone else's file cannot be attached.
    for id in [&ids[0], &ids[2]] {
        let response = app
            .at(
                reqwest::Method::DELETE,
                &format!("/api/v1/conversations/{conversation}/files/{id}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
    let plain = app
        .send_in(
            &conversation,
            serde_json::json!({"content": "And sick days?"}),
        )
        .await;
    assert!(
        plain["assistant_message"].get("sources").is_none(),
        "{plain}"
    );
    app.follow(plain["assistant_message"]["id"].as_str().unwrap())
        .await;
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/files"),
            serde_json::json!({"file_id": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            serde_json::json!({"content": "hi", "files": [uuid::Uuid::now_v7()]}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
}

/// The agent's document search, directly and through the support knowledge base.
async fn tools_search_the_documents(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, body) = upload(&app, &[("handbook.md", HANDBOOK.as_bytes())]).await;
    indexed(&app, body["files"][0]["id"].as_str().unwrap()).await;
    let (status, found) = app
        .post(
            "/api/v1/tools/search_documents/invoke",
            serde_json::json!({"arguments": {"query": "how are travel expenses reimbursed", "limit": 2}}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["ok"], true, "{found}");
    let result = found["result"].as_str().unwrap();
    assert!(result.starts_with("[1] handbook.md"), "{result}");
    assert!(result.contains("thirty days"), "{result}");
    let (_, nothing) = app
        .post(
            "/api/v1/tools/search_documents/invoke",
            serde_json::json!({"arguments": {"query": "zeppelin"}}),
        )
        .await;
    assert!(
        nothing["result"]
            .as_str()
            .unwrap()
            .starts_with("No passage"),
        "{nothing}"
    );
    let (_, bad) = app
        .post(
            "/api/v1/tools/search_documents/invoke",
            serde_json::json!({"arguments": {"query": ""}}),
        )
        .await;
    assert_eq!(bad["ok"], false, "{bad}");
    // Ollama failing while it embeds (an error on every try): the file fails with the reason,
    // and stays searchable by keywords.
    let (status, body) = upload(&app, &[("broken.txt", b"Zeppelin hangar notes [embed500]")]).await;
    assert_eq!(status, 201, "{body}");
    let broken = indexed(&app, body["files"][0]["id"].as_str().unwrap()).await;
    assert_eq!(broken["status"], "failed", "{broken}");
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .contains("embedding failed"),
        "{broken}"
    );
    let (_, found) = app.get("/api/v1/search?q=zeppelin").await;
    assert_eq!(found["hits"][0]["file_name"], "broken.txt", "{found}");
    // The support knowledge base reads the documents too.
    let (_, kb) = app
        .post(
            "/api/v1/tools/search_notes/invoke",
            serde_json::json!({"arguments": {"query": "holiday carry over"}}),
        )
        .await;
    let result = kb["result"].as_str().unwrap();
    assert!(result.contains("From the documents:"), "{result}");
    assert!(
        result.contains("carry over until the end of March"),
        "{result}"
    );
}

/// Uploads at the same moment are all kept (no "database is locked"); the quota holds; the
/// default limit refuses 10 MB + 1 byte.
async fn concurrent_uploads_and_the_quota(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.documents.quota_bytes = 4_000;
    })
    .await;
    let texts: Vec<String> = (0..6).map(|i| format!("note {i} ").repeat(80)).collect();
    let uploads = texts.iter().enumerate().map(|(i, text)| {
        let app = &app;
        async move { upload(app, &[(&format!("n{i}.txt"), text.as_bytes())]).await }
    });
    let results = futures::future::join_all(uploads).await;
    let kept = results.iter().filter(|(status, _)| *status == 201).count();
    // 6 files of 560 bytes: 7 would pass 4,000 bytes, 6 do not.
    assert_eq!(kept, 6, "{results:?}");
    let (status, body) = upload(&app, &[("big.txt", "x".repeat(1_000).as_bytes())]).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["refused"][0]["error"]
            .as_str()
            .unwrap()
            .contains("quota of 3.9 KB"),
        "{body}"
    );
    assert_eq!(file_count(&app).await, 6);
    let (kept_on_disk, incoming) = disk_files(&app);
    assert_eq!(incoming, 0);
    if backend == Backend::Sqlite {
        assert_eq!(kept_on_disk, 6, "the refused file's bytes are gone");
    }
    let (status, body) = upload(&app, &[("huge.txt", &vec![b'a'; 10 * 1024 * 1024 + 1])]).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["refused"][0]["error"]
            .as_str()
            .unwrap()
            .contains("larger than 10 MB"),
        "{body}"
    );
}

/// Posts `body` as a browser's own form submission (it asks for a page back) and follows the
/// redirect by hand: where it was sent, and that page.
async fn post_form(app: &TestApp, path: &str, body: Vec<u8>) -> (String, String) {
    let response = common::plain_form_post(app, path)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let page = app
        .at(reqwest::Method::GET, &location)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (location, page)
}

/// Attaches or detaches a file as a browser without JavaScript posts the form (from the
/// conversation page, or the documents page with `from_documents`): where it is sent next.
async fn attach_by_form(
    app: &TestApp,
    conversation: String,
    file: String,
    attach: bool,
    from_documents: bool,
) -> String {
    use leptos::server_fn::ServerFn;
    let fields = [
        ("conversation_id", conversation),
        ("file_id", file),
        ("attach", attach.to_string()),
        ("from_documents", from_documents.to_string()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, _) = common::post_plain_form(
        app,
        ollamastack::server_fns::documents::AttachFile::PATH,
        &fields,
        None,
    )
    .await;
    assert_eq!(status, 302);
    location
}

/// The page's upload server function: with JavaScript it answers the XMLHttpRequest with what
/// was kept and refused; a plain form post (no JavaScript) comes back to the documents page,
/// which says how it went; bodies that are not multipart or are too large are refused before
/// anything is read.
async fn the_page_uploads_through_its_server_function(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.documents.max_file_bytes = 64 * 1024;
    })
    .await;
    let path = "/api/upload_files";
    let post = |accept: &'static str, body: Vec<u8>| {
        app.at(reqwest::Method::POST, path)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header("accept", accept)
            .header("origin", app.url.clone())
            .header("referer", format!("{}/documents", app.url))
            .body(body)
    };

    // As the page's XMLHttpRequest sends it.
    let response = post(
        "*/*",
        multipart(&[("notes.txt", b"The boiler is serviced in May.")]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(outcome["files"][0]["name"], "notes.txt", "{outcome}");
    assert_eq!(outcome["refused"], serde_json::json!([]), "{outcome}");
    let id = outcome["files"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(indexed(&app, &id).await["status"], "ready");
    let pdf = sample_files::pdf("hello");
    let response = post("*/*", multipart(&[("notes.txt", &pdf)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(outcome["files"], serde_json::json!([]), "{outcome}");
    assert!(
        outcome["refused"][0]["error"]
            .as_str()
            .unwrap()
            .contains("content is a PDF"),
        "{outcome}"
    );

    // As a browser without JavaScript posts the documents page's form: sent back to the page,
    // which says how it went.
    let (location, page) = post_form(
        &app,
        path,
        multipart(&[
            ("policy.md", b"# Policy\n\nVisitors sign in at the desk."),
            ("<img src=x onerror=alert(1)>.exe", b"MZ\x90\x00"),
        ]),
    )
    .await;
    assert!(
        location.starts_with("/documents?uploaded=1&refused="),
        "{location}"
    );
    assert!(page.contains("1 file uploaded"), "{page}");
    assert!(
        page.contains(
            "&lt;img src=x onerror=alert(1)&gt;.exe: only .txt, .md, .pdf, .docx and .csv"
        ),
        "the refused name is shown as text: {page}"
    );
    assert!(page.contains("policy.md"), "the new file is listed");
    assert_eq!(file_count(&app).await, 2);

    // Six files where five are allowed: nothing kept, and the page says why.
    let six: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| (format!("n{i}.txt"), format!("note {i}").into_bytes()))
        .collect();
    let six: Vec<(&str, &[u8])> = six
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    let (location, page) = post_form(&app, path, multipart(&six)).await;
    assert!(
        location.contains("upload_error=at%20most%205%20files"),
        "{location}"
    );
    assert!(
        page.contains("The upload failed: at most 5 files at once"),
        "{page}"
    );
    assert_eq!(file_count(&app).await, 2);

    // Not multipart: a clear refusal, not a crash; the server answers on.
    let response = app
        .at(reqwest::Method::POST, path)
        .header("content-type", "application/json")
        .header("origin", app.url.clone())
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    // Declared larger than five files at their limit: refused before it is read (on a
    // connection of its own: the server closes it).
    let response = reqwest::Client::new()
        .post(format!("{}{path}", app.url))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("origin", app.url.clone())
        .body(vec![b'a'; 5 * 64 * 1024 + 1024 * 1024 + 1])
        .send()
        .await;
    match response {
        Ok(response) => assert_eq!(response.status(), 413),
        // The server answered and hung up before the client had sent it all: also refused.
        Err(error) => assert!(error.is_request(), "{error}"),
    }
    assert_eq!(file_count(&app).await, 2);
    assert_eq!(disk_files(&app).1, 0, "nothing left incoming");
}

/// An assistant's knowledge: documents set on the assistant ground every conversation with it
/// (beside the conversation's own files), another person's or an unknown file is refused with
/// nothing changed, a copy keeps the knowledge, and deleting a document removes it from it.
async fn an_assistants_knowledge_grounds_its_conversations(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, body) = upload(
        &app,
        &[
            ("handbook.md", HANDBOOK.as_bytes()),
            ("cottage.txt", b"Holiday cottage bookings open in May."),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let handbook = body["files"][0]["id"].as_str().unwrap().to_string();
    let cottage = body["files"][1]["id"].as_str().unwrap().to_string();
    for id in [&handbook, &cottage] {
        assert_eq!(indexed(&app, id).await["status"], "ready");
    }
    let (status, assistant) = app
        .post(
            "/api/v1/assistants",
            serde_json::json!({"name": "HR helper", "model": "llama3.2", "files": [handbook]}),
        )
        .await;
    assert_eq!(status, 201, "{assistant}");
    assert_eq!(assistant["files"], serde_json::json!([handbook]));
    let assistant_id = assistant["id"].as_str().unwrap().to_string();
    let (status, files) = app
        .get(&format!("/api/v1/assistants/{assistant_id}/files"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(files[0]["name"], "handbook.md", "{files}");

    // Unknown files: refused, and the knowledge is what it was.
    let (status, refused) = app
        .patch(
            &format!("/api/v1/assistants/{assistant_id}"),
            serde_json::json!({"files": [cottage, uuid::Uuid::new_v4()], "name": "Renamed"}),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    let (_, unchanged) = app.get(&format!("/api/v1/assistants/{assistant_id}")).await;
    assert_eq!(unchanged["files"], serde_json::json!([handbook]));
    assert_eq!(unchanged["name"], "HR helper");

    // A conversation with the assistant is grounded in its knowledge.
    let (status, sent) = app
        .post(
            "/api/v1/conversations",
            serde_json::json!({"content": "How many days of paid holiday do I get?", "assistant": assistant_id}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        sent["assistant_message"]["sources"]["passages"][0]["file_name"], "handbook.md",
        "{sent}"
    );
    let (_, done) = app
        .follow(sent["assistant_message"]["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "complete", "{done}");
    let request = app.fake.stats.last_chat_request();
    let text = request.to_string();
    assert!(text.contains("twenty-five days of paid holiday"), "{text}");
    assert!(
        !text.contains("cottage"),
        "only the knowledge is used: {text}"
    );
    let (_, stored) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(stored["files"], serde_json::json!([]), "{stored}");
    assert_eq!(stored["knowledge"][0]["name"], "handbook.md", "{stored}");

    // The conversation's own file and the knowledge together.
    let (status, _) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/files"),
            serde_json::json!({"file_id": cottage}),
        )
        .await;
    assert_eq!(status, 200);
    let next = app
        .send_in(
            &conversation,
            serde_json::json!({"content": "When do holiday cottage bookings open, and how many holiday days are paid?"}),
        )
        .await;
    let names: Vec<&str> = next["assistant_message"]["sources"]["passages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file_name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"handbook.md") && names.contains(&"cottage.txt"),
        "{next}"
    );
    app.follow(next["assistant_message"]["id"].as_str().unwrap())
        .await;

    // A copy keeps the knowledge; a deleted document leaves it.
    let (status, copy) = app
        .post(
            &format!("/api/v1/assistants/{assistant_id}/duplicate"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 201, "{copy}");
    assert_eq!(copy["files"], serde_json::json!([handbook]));
    let response = app
        .at(
            reqwest::Method::DELETE,
            &format!("/api/v1/files/{handbook}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (_, listed) = app.get("/api/v1/assistants").await;
    for assistant in listed.as_array().unwrap() {
        assert_eq!(assistant["files"], serde_json::json!([]), "{assistant}");
    }

    // Someone else cannot read the knowledge, nor give the assistant their files.
    let stranger = app.state.store.ensure_user("stranger").await.unwrap();
    let theirs = ollamastack::model::AssistantInput {
        name: Some("Theirs".into()),
        model: Some("llama3.2".into()),
        files: Some(vec![cottage.parse().unwrap()]),
        ..Default::default()
    };
    let refused = ollamastack::service::create_assistant(&app.state, stranger, theirs).await;
    assert!(
        matches!(refused, Err(ollamastack::error::AppError::InvalidInput(_))),
        "{refused:?}"
    );
    let read = ollamastack::service::assistant_knowledge(
        &app.state,
        stranger,
        assistant_id.parse().unwrap(),
    )
    .await;
    assert!(
        matches!(read, Err(ollamastack::error::AppError::NotFound(_))),
        "{read:?}"
    );
}

/// Text is extracted in a child process of the server's binary: a reader that runs past the
/// time limit is killed, one that runs out of memory dies alone; either way the file fails
/// with its reason and the server goes on. On a thread (the other setting) it works too.
async fn a_failing_reader_takes_only_its_child_process(backend: Backend) {
    let pdf = sample_files::pdf("Warranty terms.\nThe kettle warranty lasts two years.");
    // A child held to 1 MB of address space cannot even read its input: it aborts.
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.documents.extract_memory_bytes = 1024 * 1024;
    })
    .await;
    let (status, body) = upload(&app, &[("warranty.pdf", &pdf)]).await;
    assert_eq!(status, 201, "{body}");
    let file = indexed(&app, body["files"][0]["id"].as_str().unwrap()).await;
    assert_eq!(file["status"], "failed", "{file}");
    assert!(
        file["error"]
            .as_str()
            .unwrap()
            .contains("its reader failed"),
        "{file}"
    );
    let (status, _) = app.get("/api/v1/conversations").await;
    assert_eq!(status, 200, "the server goes on");
    drop(app);

    // A reader that takes too long is stopped at the limit.
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.documents.extract_timeout_ms = 1;
    })
    .await;
    let (_, body) = upload(&app, &[("warranty.pdf", &pdf)]).await;
    let file = indexed(&app, body["files"][0]["id"].as_str().unwrap()).await;
    assert_eq!(file["status"], "failed", "{file}");
    assert!(
        file["error"]
            .as_str()
            .unwrap()
            .contains("reading the file took more than 1 ms"),
        "{file}"
    );
    drop(app);

    // On a thread of the server.
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.documents.extract_in = ollamastack::config::ExtractIn::Thread;
    })
    .await;
    let (_, body) = upload(&app, &[("warranty.pdf", &pdf)]).await;
    let file = indexed(&app, body["files"][0]["id"].as_str().unwrap()).await;
    assert_eq!(file["status"], "ready", "{file}");
    let (_, results) = app.get("/api/v1/search?q=kettle%20warranty").await;
    assert_eq!(results["hits"][0]["file_name"], "warranty.pdf", "{results}");
}

/// Images: uploaded like documents (by their bytes, ready at once, never indexed), sent with a
/// message to a model that sees (in Ollama's `images`, base64), refused for one that does not,
/// kept in the history for later turns of a seeing model only; thumbnails served inline with a
/// sandbox; documents sent with a message attached to the conversation and shown as file cards.
async fn images_and_files_go_with_their_message(backend: Backend) {
    use ollamastack::testing::sample_files::{PIXEL_PNG, PIXEL_PNG_BASE64};
    let fake = FakeConfig {
        models: vec!["llama3.2:latest".into(), "llava:latest".into()],
        ..FakeConfig::default()
    };
    let app = TestApp::start_with(backend, fake, |_| {}).await;
    let (status, body) = upload(
        &app,
        &[
            ("pixel.png", PIXEL_PNG),
            ("notes.txt", b"Zebra crossings are striped."),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let image = body["files"][0].clone();
    let notes = body["files"][1]["id"].as_str().unwrap().to_string();
    assert_eq!(image["kind"], "png", "{body}");
    assert_eq!(image["status"], "ready", "an image is not indexed: {body}");
    assert_eq!(image["chunk_count"], 0);
    let image_id = image["id"].as_str().unwrap().to_string();
    indexed(&app, &notes).await;

    // The thumbnail: inline, typed, sandboxed. Without `inline`, or for a document, a download.
    let content = |path: String| {
        let request = app.at(reqwest::Method::GET, &path);
        async move { request.send().await.unwrap() }
    };
    let shown = content(format!("/api/v1/files/{image_id}/content?inline=true")).await;
    assert_eq!(shown.status(), 200);
    let header =
        |r: &reqwest::Response, name: &str| r.headers()[name].to_str().unwrap().to_string();
    assert_eq!(header(&shown, "content-type"), "image/png");
    assert!(header(&shown, "content-disposition").starts_with("inline;"));
    assert!(header(&shown, "content-security-policy").contains("sandbox"));
    assert_eq!(header(&shown, "x-content-type-options"), "nosniff");
    assert_eq!(shown.bytes().await.unwrap().as_ref(), PIXEL_PNG);
    let downloaded = content(format!("/api/v1/files/{image_id}/content")).await;
    assert!(header(&downloaded, "content-disposition").starts_with("attachment;"));
    let document = content(format!("/api/v1/files/{notes}/content?inline=true")).await;
    assert!(
        header(&document, "content-disposition").starts_with("attachment;"),
        "only images are ever shown inline"
    );
    let (status, refused) = app
        .post(&format!("/api/v1/files/{image_id}/reindex"), Value::Null)
        .await;
    assert_eq!(status, 422, "{refused}");

    // A model that cannot see: refused before anything is stored.
    let (status, refused) = app
        .post(
            "/api/v1/conversations",
            serde_json::json!({"content": "What is this?", "model": "llama3.2", "files": [image_id]}),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    let reason = refused["error"]["message"].as_str().unwrap();
    assert!(reason.contains("llama3.2 cannot see images"), "{reason}");
    let (_, conversations) = app.get("/api/v1/conversations").await;
    assert_eq!(
        conversations.as_array().unwrap().len(),
        0,
        "{conversations}"
    );

    // A model that sees: the picture alone is a question; the document goes along.
    let (status, sent) = app
        .post(
            "/api/v1/conversations",
            serde_json::json!({"content": "  ", "model": "llava", "files": [image_id, notes]}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"]["id"].as_str().unwrap().to_string();
    assert_eq!(sent["conversation"]["title"], "pixel.png");
    let attachments = &sent["user_message"]["attachments"];
    assert_eq!(attachments[0]["file_id"], image_id.as_str(), "{sent}");
    assert_eq!(attachments[0]["kind"], "png");
    assert_eq!(attachments[0]["size_bytes"], PIXEL_PNG.len());
    assert_eq!(attachments[1]["name"], "notes.txt");
    assert_eq!(sent["user_message"]["content"], "");
    let (_, done) = app
        .follow(sent["assistant_message"]["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "complete", "{done}");
    assert!(
        done["content"]
            .as_str()
            .unwrap()
            .starts_with("I see 1 image(s): png 70 bytes."),
        "{done}"
    );
    let request = app.fake.stats.last_chat_request();
    let asked = request["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        asked["images"],
        serde_json::json!([PIXEL_PNG_BASE64]),
        "{request:#}"
    );
    let (_, stored) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(
        stored["files"][0]["name"], "notes.txt",
        "a document is attached: {stored}"
    );
    assert_eq!(
        stored["files"].as_array().unwrap().len(),
        1,
        "an image is not: {stored}"
    );
    assert_eq!(
        stored["messages"][0]["attachments"][0]["file_id"],
        image_id.as_str()
    );

    // The page: a thumbnail that opens full size, and a file card.
    let page = app
        .at(reqwest::Method::GET, &format!("/c/{conversation}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            "src=\"/api/v1/files/{image_id}/content?inline=true\""
        )),
        "{page}"
    );
    assert!(page.contains("data-testid=\"message-image\""), "{page}");
    assert!(page.contains("data-testid=\"file-card\""), "{page}");

    // A later turn of a seeing model sees the earlier picture again; a blind model gets text.
    let images_sent = |request: &Value| -> Vec<Value> {
        request["messages"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|m| m["images"].as_array().cloned().unwrap_or_default())
            .collect()
    };
    let next = app
        .send_in(
            &conversation,
            serde_json::json!({"content": "And the colour?", "model": "llava"}),
        )
        .await;
    app.follow(next["assistant_message"]["id"].as_str().unwrap())
        .await;
    assert_eq!(images_sent(&app.fake.stats.last_chat_request()).len(), 1);
    let blind = app
        .send_in(
            &conversation,
            serde_json::json!({"content": "Summarise.", "model": "llama3.2"}),
        )
        .await;
    let (_, done) = app
        .follow(blind["assistant_message"]["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "complete", "{done}");
    assert!(images_sent(&app.fake.stats.last_chat_request()).is_empty());

    // A deleted image leaves its message as text; the card still names it.
    let deleted = app
        .at(
            reqwest::Method::DELETE,
            &format!("/api/v1/files/{image_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let again = app
        .send_in(
            &conversation,
            serde_json::json!({"content": "Still there?", "model": "llava"}),
        )
        .await;
    let (_, done) = app
        .follow(again["assistant_message"]["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "complete", "{done}");
    assert!(images_sent(&app.fake.stats.last_chat_request()).is_empty());
    let (_, stored) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(stored["messages"][0]["attachments"][0]["name"], "pixel.png");

    // Another person's image cannot be sent.
    let (status, _) = app
        .post(
            "/api/v1/conversations",
            serde_json::json!({"content": "x", "model": "llava", "files": [uuid::Uuid::now_v7()]}),
        )
        .await;
    assert_eq!(status, 404);
}

/// Without JavaScript a conversation page's own forms upload into it (documents attached and
/// indexed, images left for the next message, which the composer's form sends with them) and
/// remove a document. A conversation that is not the person's is refused before anything is
/// kept.
async fn a_conversation_takes_files_without_javascript(backend: Backend) {
    use leptos::server_fn::ServerFn;
    use ollamastack::server_fns::chat::SendMessage;
    use ollamastack::server_fns::documents::UploadFiles;
    use ollamastack::testing::sample_files::PIXEL_PNG;
    let fake = FakeConfig {
        models: vec!["llama3.2:latest".into(), "llava:latest".into()],
        ..FakeConfig::default()
    };
    let app = TestApp::start_with(backend, fake, |_| {}).await;
    let (conversation, _) = app.send_new("Hello [tokens=2]").await;
    app.wait_idle("", &conversation).await;
    let page_path = format!("/c/{conversation}");
    let upload_path = format!("{}?conversation_id={conversation}", UploadFiles::PATH);
    let page = app.page(&page_path).await;
    assert!(
        page.contains(&format!(r#"action="{upload_path}""#)),
        "the page has the form: {page}"
    );

    let (location, page) = post_form(
        &app,
        &upload_path,
        multipart(&[
            ("notes.md", b"# Notes\n\nZebra crossings are striped."),
            ("pixel.png", PIXEL_PNG),
            ("<b>tool.exe", b"MZ"),
        ]),
    )
    .await;
    let (_, rest) = location
        .split_once(&format!("{page_path}?uploaded=2&refused="))
        .unwrap_or_else(|| panic!("back to the conversation: {location}"));
    let image = rest.rsplit_once("&image=").expect("the image waits").1;
    assert!(page.contains("1 document attached"), "{page}");
    assert!(
        page.contains("1 image goes with your next message."),
        "{page}"
    );
    assert!(
        page.contains("&lt;b&gt;tool.exe: only"),
        "the refused file is named, as text: {page}"
    );
    assert!(
        page.contains(&format!(
            r#"<input type="hidden" name="files[0]" value="{image}">"#
        )),
        "the composer's form carries the image: {page}"
    );
    assert!(
        page.contains(r#"data-testid="attached-without-script""#) && page.contains("notes.md"),
        "{page}"
    );
    let (_, stored) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    let attached = stored["files"].as_array().unwrap();
    assert_eq!(attached.len(), 1, "the document only: {stored}");
    assert_eq!(attached[0]["name"], "notes.md");
    let notes = attached[0]["id"].as_str().unwrap().to_string();
    indexed(&app, &notes).await;

    // Refused (this model cannot see): back with the reason, the image still waiting.
    let send_with_image = |model: &'static str| {
        let fields = [
            ("conversation_id", conversation.clone()),
            ("content", "What is this?".to_string()),
            ("model", model.to_string()),
            ("files[0]", image.to_string()),
        ];
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, location, _) =
                common::post_plain_form(app, SendMessage::PATH, &fields, None).await;
            assert_eq!(status, 302);
            location
        }
    };
    let location = send_with_image("llama3.2:latest").await;
    assert!(
        location.starts_with(&format!("{page_path}?send_error="))
            && location.ends_with(&format!("&image={image}")),
        "{location}"
    );
    let page = app.page(&location).await;
    assert!(page.contains("cannot see images"), "{page}");
    assert!(
        page.contains(&format!(
            r#"<input type="hidden" name="files[0]" value="{image}">"#
        )),
        "{page}"
    );

    // The composer's form sends the image with the message, to a model that sees.
    assert_eq!(send_with_image("llava:latest").await, page_path);
    app.wait_idle("", &conversation).await;
    let messages = app.messages(&conversation).await;
    let asked = &messages[messages.len() - 2];
    assert_eq!(asked["content"], "What is this?", "{asked}");
    assert_eq!(asked["attachments"][0]["file_id"], image, "{asked}");
    let answer = messages.last().unwrap();
    assert!(
        answer["content"]
            .as_str()
            .unwrap()
            .starts_with("I see 1 image(s)"),
        "{answer}"
    );

    // Removed by its own form: back to the conversation, the document no longer attached
    // (still among the person's documents).
    let detach =
        |conversation: String| attach_by_form(&app, conversation, notes.clone(), false, false);
    assert_eq!(detach(conversation.clone()).await, page_path);
    let (_, stored) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(stored["files"], serde_json::json!([]), "{stored}");
    assert_eq!(indexed(&app, &notes).await["name"], "notes.md");
    let page = app.page(&page_path).await;
    assert!(!page.contains(r#"data-testid="attached-without-script""#));

    // Another conversation's id: said so on its page, nothing kept.
    let before = file_count(&app).await;
    let missing = uuid::Uuid::new_v4();
    let elsewhere = format!("{}?conversation_id={missing}", UploadFiles::PATH);
    let response = common::plain_form_post(&app, &elsewhere)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&[("more.md", b"more")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!(
            "/c/{missing}?upload_error=conversation%20not%20found"
        )),
        "{location}"
    );
    assert_eq!(file_count(&app).await, before);
    // Detaching from it: refused the same way.
    let location = detach(missing.to_string()).await;
    assert!(
        location.contains("attach_error=conversation%20not%20found"),
        "{location}"
    );
}

/// Without JavaScript: the conversation page links to the documents page, which then has an
/// Attach form for each of the person's documents (and a Remove form for those attached), each
/// coming back to that page; Delete and "Index again" are forms too. An unknown conversation
/// gets no forms and a clear refusal.
async fn documents_are_picked_for_a_conversation_without_javascript(backend: Backend) {
    use leptos::server_fn::ServerFn;
    use ollamastack::server_fns::documents::{AttachFile, DeleteFile, ReindexFile};
    let app = TestApp::start(backend).await;
    let (conversation, _) = app.send_new("Hello [tokens=2]").await;
    app.wait_idle("", &conversation).await;
    let (status, kept) = upload(
        &app,
        &[
            ("menu.md", b"# Menu\n\nSoup on Mondays."),
            ("<i>rota.txt", b"Anna cooks on Tuesdays."),
        ],
    )
    .await;
    assert_eq!(status, 201, "{kept}");
    let id_of = |name: &str| {
        kept["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} kept: {kept}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (menu, rota) = (id_of("menu.md"), id_of("<i>rota.txt"));
    indexed(&app, &menu).await;
    indexed(&app, &rota).await;

    let picking = format!("/documents?attach_to={conversation}");
    let page = app.page(&format!("/c/{conversation}")).await;
    assert!(
        page.contains(&format!(
            r#"<a href="{picking}" data-testid="attach-existing-without-script""#
        )),
        "the conversation page links to the documents: {page}"
    );
    let page = app.page(&picking).await;
    assert!(page.contains(r#"data-testid="attach-mode""#), "{page}");
    assert!(
        page.contains(&format!(
            r#"href="/c/{conversation}" data-testid="back-to-conversation""#
        )),
        "{page}"
    );
    assert_eq!(
        page.matches(r#"data-testid="attach-from-documents""#)
            .count(),
        2,
        "a form for each document: {page}"
    );
    assert!(
        page.contains(&format!(r#"action="{}""#, AttachFile::PATH))
            && page.contains(r#"name="from_documents" value="true""#),
        "{page}"
    );
    assert!(page.contains("&lt;i&gt;rota.txt"), "names are text: {page}");
    // Its upload form attaches what it uploads (the conversation page's own path).
    assert!(
        page.contains(&format!(
            r#"action="{}?conversation_id={conversation}""#,
            ollamastack::server_fns::documents::UploadFiles::PATH
        )),
        "{page}"
    );

    // Attached from the list: back to it, at the document's row, which says so.
    let attach = |conversation: String, file: String, attach: bool| {
        attach_by_form(&app, conversation, file, attach, true)
    };
    assert_eq!(
        attach(conversation.clone(), menu.clone(), true).await,
        format!("{picking}#file-{menu}")
    );
    let (_, stored) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(stored["files"].as_array().unwrap().len(), 1, "{stored}");
    assert_eq!(stored["files"][0]["id"], menu.as_str(), "{stored}");
    let page = app.page(&picking).await;
    assert_eq!(
        page.matches(r#"data-testid="attach-from-documents""#)
            .count(),
        1,
        "{page}"
    );
    assert_eq!(
        page.matches(r#"data-testid="detach-from-documents""#)
            .count(),
        1,
        "{page}"
    );
    assert!(page.contains(&format!(r#"id="file-{menu}""#)), "{page}");
    // The conversation shows it, with its own Remove form.
    let page = app.page(&format!("/c/{conversation}")).await;
    assert!(
        page.contains(r#"data-testid="attached-without-script""#) && page.contains("menu.md"),
        "{page}"
    );

    // Removed from the list: back to it, no longer attached, still a document.
    assert_eq!(
        attach(conversation.clone(), menu.clone(), false).await,
        format!("{picking}#file-{menu}")
    );
    let (_, stored) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(stored["files"], serde_json::json!([]), "{stored}");
    assert_eq!(file_count(&app).await, 2);

    // An unknown conversation: no forms on the page, and a post is refused with the reason.
    let missing = uuid::Uuid::new_v4().to_string();
    let page = app.page(&format!("/documents?attach_to={missing}")).await;
    assert!(page.contains(r#"data-testid="attach-refused""#), "{page}");
    assert!(page.contains("conversation not found"), "{page}");
    assert!(!page.contains(r#"data-testid="attach-from-documents""#));
    let location = attach(missing.clone(), rota.clone(), true).await;
    assert_eq!(
        location,
        format!("/documents?attach_to={missing}&attach_error=conversation%20not%20found")
    );
    // Said once: the post's outcome, not the page's own check again.
    let page = app.page(&location).await;
    assert_eq!(page.matches("conversation not found").count(), 1, "{page}");

    // Index again and delete, as forms: back to the list.
    let post = |path: &'static str, id: String| {
        let app = &app;
        async move {
            let (status, location, _) =
                common::post_plain_form(app, path, &[("id", id.as_str())], None).await;
            assert_eq!(status, 302);
            location
        }
    };
    assert_eq!(post(ReindexFile::PATH, rota.clone()).await, "/documents");
    assert_eq!(indexed(&app, &rota).await["status"], "ready");
    assert_eq!(post(DeleteFile::PATH, rota.clone()).await, "/documents");
    assert_eq!(file_count(&app).await, 1);
    let (status, _) = app.get(&format!("/api/v1/files/{rota}")).await;
    assert_eq!(status, 404);
    // Deleted already: the page says why.
    let location = post(DeleteFile::PATH, rota.clone()).await;
    assert!(location.starts_with("/documents?file_error="), "{location}");
    let page = app.page(&location).await;
    assert!(
        page.contains(r#"role="alert""#) && page.contains("not found"),
        "{page}"
    );
    let page = app.page("/documents").await;
    assert!(
        page.contains(&format!(r#"action="{}""#, DeleteFile::PATH))
            && page.contains(&format!(r#"action="{}""#, ReindexFile::PATH))
            && page.contains(&format!(r#"name="id" value="{menu}""#)),
        "{page}"
    );
    assert!(!page.contains(r#"data-testid="attach-mode""#));
}

on_both_backends!(
    every_type_is_indexed_found_downloaded_and_deleted,
    hostile_uploads_leave_nothing_behind,
    a_missing_embedding_model_is_explained,
    indexing_resumes_and_follows_the_embedding_model,
    files_belong_to_their_owner,
    answers_are_grounded_in_the_attached_documents,
    tools_search_the_documents,
    concurrent_uploads_and_the_quota,
    the_page_uploads_through_its_server_function,
    an_assistants_knowledge_grounds_its_conversations,
    a_failing_reader_takes_only_its_child_process,
    images_and_files_go_with_their_message,
    a_conversation_takes_files_without_javascript,
    documents_are_picked_for_a_conversation_without_javascript,
);
