//! The chat through the real router and a fake Ollama, on SQLite and on PostgreSQL.

mod common;

use common::{post_plain_form, text_of, Backend, EventReader, TestApp};
use ollamastack::model::StreamEvent;
use ollamastack::testing::fake_ollama::{expected_answer, FakeConfig};
use ollamastack::testing::wait_until;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

async fn answer_streams_in_pieces_and_is_stored(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("Tell me something [tokens=40]").await;
    let (events, done) = app.follow(&answer).await;
    let expected = expected_answer(40);
    // Lines were cut at random bytes, inside multi-byte characters too: the text is intact.
    assert!(expected.contains("日本語") && expected.contains("🦀"));
    assert_eq!(text_of(&events), expected);
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, StreamEvent::Delta { .. }))
            .count()
            >= 2,
        "streamed in steps"
    );
    assert_eq!(done["status"], "complete");
    assert_eq!(done["content"], expected);
    assert_eq!(done["completion_tokens"], 40);
    assert_eq!(done["done_reason"], "stop");
    assert!(done["ttft_ms"].as_i64().is_some() && done["duration_ms"].as_i64().is_some());

    let (status, body) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(status, 200);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"], "Tell me something [tokens=40]");
    assert_eq!(messages[1]["content"], expected);
    assert_eq!(
        body["conversation"]["title"],
        "Tell me something [tokens=40]"
    );

    // The model got the conversation so far.
    let request = app.fake.stats.last_chat_request();
    assert_eq!(request["model"], "llama3.2");
    assert_eq!(request["stream"], true);
    assert_eq!(
        request["messages"][0]["content"],
        "Tell me something [tokens=40]"
    );
    // Traces are not exported here: no trace context leaves the server.
    assert_eq!(*app.fake.stats.last_chat_traceparent.lock().unwrap(), None);
    // Asked once: the call started while the turn was stored is the one that answered.
    assert_eq!(app.fake.stats.chat_requests.load(Ordering::SeqCst), 1);

    // A second turn carries the history.
    let (status, second) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "content": "and more [tokens=3]" }),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    let (_, done) = app
        .follow(second["assistant_message"]["id"].as_str().unwrap())
        .await;
    assert_eq!(done["content"], expected_answer(3));
    let request = app.fake.stats.last_chat_request();
    let roles: Vec<&str> = request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(app.fake.stats.chat_requests.load(Ordering::SeqCst), 2);
}

/// A new conversation's model call starts while its turn is stored: Ollama is asked once, with
/// what the stored turn asks (the instance's system prompt, the person's temperature), and an
/// answer stopped before its first token leaves no request running.
async fn a_first_message_is_asked_once_and_stops_cleanly(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |s| {
        s.generation.default_system_prompt = Some("Answer briefly.".into())
    })
    .await;
    let response = app
        .at(reqwest::Method::PUT, "/api/v1/settings/ai.temperature")
        .json(&json!({ "value": 0.3 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, answer) = app.send_new("Hi [tokens=5]").await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "complete");
    assert_eq!(done["content"], expected_answer(5));
    let sent = app.fake.stats.last_chat_request();
    assert_eq!(sent["messages"][0]["role"], "system", "{sent}");
    assert_eq!(sent["messages"][0]["content"], "Answer briefly.");
    assert_eq!(sent["messages"][1]["content"], "Hi [tokens=5]");
    assert_eq!(sent["options"]["temperature"], json!(0.3), "{sent}");
    assert_eq!(app.fake.stats.chat_requests.load(Ordering::SeqCst), 1);

    // Stopped while Ollama is still loading the model: the request is closed, the question kept.
    let (conversation, answer) = app.send_new("wait [first=5000]").await;
    let (status, stopped) = app
        .post(&format!("/api/v1/messages/{answer}/stop"), json!({}))
        .await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["status"], "stopped", "{stopped}");
    wait_until(
        || app.fake.stats.cancelled_streams.load(Ordering::SeqCst) == 1,
        "the request is closed",
    )
    .await;
    assert_eq!(app.fake.stats.active_streams.load(Ordering::SeqCst), 0);
    assert_eq!(app.fake.stats.chat_requests.load(Ordering::SeqCst), 2);
    let (_, body) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(body["messages"][0]["content"], "wait [first=5000]");
}

async fn error_line_mid_stream_keeps_the_partial_text(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("[error] please").await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "error");
    assert_eq!(
        done["content"],
        expected_answer(3),
        "the text before the error is kept"
    );
    assert!(
        done["error"].as_str().unwrap().contains("unexpected EOF"),
        "{done}"
    );
    let stored = app.message(&conversation, &answer).await;
    assert_eq!(stored["status"], "error");
    assert_eq!(stored["content"], expected_answer(3));
}

async fn unknown_model_is_a_clear_error_and_the_question_is_kept(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({ "content": "hello?", "model": "nope" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let answer = body["assistant_message"]["id"].as_str().unwrap();
    let (_, done) = app.follow(answer).await;
    assert_eq!(done["status"], "error");
    let error = done["error"].as_str().unwrap();
    assert!(
        error.contains("'nope' is not available") && error.contains("ollama pull nope"),
        "{error}"
    );
    let stored = app
        .get(&format!(
            "/api/v1/conversations/{}",
            body["conversation"]["id"].as_str().unwrap()
        ))
        .await
        .1;
    assert_eq!(stored["messages"][0]["content"], "hello?");
}

async fn ollama_dying_mid_stream_keeps_the_partial_text(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("[die]").await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "error");
    assert_eq!(done["content"], expected_answer(3));
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("connection to Ollama failed"),
        "{done}"
    );
    assert_eq!(
        app.message(&conversation, &answer).await["content"],
        expected_answer(3)
    );
}

async fn a_broken_line_mid_stream_is_an_error_not_a_crash(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, answer) = app.send_new("[garbage]").await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "error");
    assert_eq!(done["content"], expected_answer(3));
    // One sentence that names Ollama once, as the page shows it.
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .starts_with("Ollama sent something unreadable: "),
        "{done}"
    );
    assert_eq!(done["error"].as_str().unwrap().matches("Ollama").count(), 1);
    // The server is fine afterwards.
    let (_, next) = app.send_new("[tokens=2]").await;
    assert_eq!(app.follow(&next).await.1["status"], "complete");
}

async fn http_error_from_ollama_is_reported(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, answer) = app.send_new("[http500]").await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "error");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("llama runner process has terminated"),
        "{done}"
    );
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .starts_with("Ollama answered 500: "),
        "{done}"
    );
}

async fn a_stall_trips_the_idle_timeout_and_closes_upstream(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |s| {
        s.ollama.idle_timeout_ms = 300
    })
    .await;
    let (_, answer) = app.send_new("[stall]").await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "error");
    assert_eq!(done["content"], expected_answer(3));
    assert!(
        done["error"].as_str().unwrap().contains("stopped sending"),
        "{done}"
    );
    wait_until(
        || app.fake.stats.cancelled_streams.load(Ordering::SeqCst) == 1,
        "the upstream request is closed",
    )
    .await;
}

async fn a_slow_first_token_trips_the_first_token_timeout(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |s| {
        s.ollama.first_token_timeout_ms = 300
    })
    .await;
    let (_, answer) = app.send_new("[first=3000]").await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "error");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("no answer from Ollama"),
        "{done}"
    );
}

async fn the_generation_outlives_the_browser(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("[tokens=30][delay=20]").await;
    {
        let mut events = EventReader::open(&app, &answer).await;
        let first = events.next().await.unwrap();
        assert!(matches!(first, StreamEvent::Snapshot { .. }));
        // The browser goes away here.
    }
    let stored = app
        .wait_for_message(&conversation, &answer, 10, |m| m["status"] != "streaming")
        .await;
    assert_eq!(stored["status"], "complete");
    assert_eq!(stored["content"], expected_answer(30));
    assert_eq!(app.fake.stats.completed_streams.load(Ordering::SeqCst), 1);
    assert_eq!(app.fake.stats.cancelled_streams.load(Ordering::SeqCst), 0);
}

async fn reconnecting_mid_answer_shows_the_text_so_far_then_the_rest(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("[tokens=60][delay=15]").await;
    // Text is flushed to the database while streaming, not only at the end.
    let partial = app
        .wait_for_message(&conversation, &answer, 10, |m| {
            m["content"].as_str().is_some_and(|c| !c.is_empty())
        })
        .await;
    assert_eq!(partial["status"], "streaming");
    let mut events = EventReader::open(&app, &answer).await;
    let mut seen = Vec::new();
    while let Some(event) = events.next().await {
        let done = matches!(event, StreamEvent::Done { .. });
        seen.push(event);
        if done {
            break;
        }
    }
    match &seen[0] {
        StreamEvent::Snapshot { content, .. } => {
            assert!(!content.is_empty(), "the snapshot carries the text so far")
        }
        other => panic!("expected a snapshot first, got {other:?}"),
    }
    assert!(seen.len() > 2, "then live deltas");
    assert_eq!(text_of(&seen), expected_answer(60));
}

/// The page renders no markdown: with `?render=html` the stream carries the answer's sanitised
/// HTML as it grows, each `html` event showing exactly the server's render of the text received
/// so far, and the final message carries the whole render in the parts the page already shows.
async fn the_page_stream_carries_the_answers_html_as_it_grows(backend: Backend) {
    use ollamastack::markdown::render_markdown;
    let app = TestApp::start(backend).await;
    let (_, answer) = app.send_new("[markdown][delay=25]").await;
    // Opened together: the page's stream and an API client's.
    let mut page_events = EventReader::open_rendered(&app, &answer).await;
    let api = EventReader::open(&app, &answer).await;
    let api_events = tokio::spawn(async move {
        let mut api = api;
        let mut seen = Vec::new();
        while let Some(event) = api.next().await {
            seen.push(event);
        }
        seen
    });
    let mut page = ollamastack::model::AnswerHtml::default();
    let mut text = String::new();
    let (mut renders, mut first) = (0, None);
    let done = loop {
        let event = tokio::time::timeout(Duration::from_secs(20), page_events.next())
            .await
            .expect("an event in time")
            .expect("the stream ended before done");
        match &event {
            StreamEvent::Snapshot { content, .. } => text.clone_from(content),
            StreamEvent::Delta { content } => text.push_str(content),
            StreamEvent::Html { reset, .. } => {
                first.get_or_insert(*reset);
                renders += 1;
                assert!(page.apply(&event), "each event fits what the page shows");
                assert_eq!(
                    format!("{}{}", page.settled, page.live),
                    render_markdown(&text),
                    "the page shows the render of the text so far"
                );
            }
            StreamEvent::Done { message, .. } => break message.clone(),
            StreamEvent::Thinking { .. } => {}
        }
    };
    assert_eq!(
        first,
        Some(true),
        "a connection's first render replaces the page's"
    );
    assert!(
        renders >= 3,
        "the HTML grows while the answer streams ({renders} renders)"
    );
    let final_html = done
        .html
        .clone()
        .expect("the final message carries its HTML");
    assert_eq!(
        done.content,
        ollamastack::testing::fake_ollama::MARKDOWN_ANSWER
    );
    assert_eq!(
        format!("{}{}", final_html.settled, final_html.live),
        render_markdown(&done.content)
    );
    assert!(
        final_html.settled.starts_with(&page.settled),
        "the finished blocks on the page stay where they are"
    );
    for rendered in [&final_html.settled, &final_html.live] {
        assert!(
            !rendered.contains("<script") && !rendered.contains("<img"),
            "{rendered}"
        );
    }
    assert!(final_html.settled.contains("<table>") && final_html.settled.contains("code-block"));
    // An API client gets text only, as before.
    let api_events = api_events.await.unwrap();
    assert!(api_events
        .iter()
        .all(|e| !matches!(e, StreamEvent::Html { .. })));
    assert_eq!(text_of(&api_events), done.content);
    match api_events.last() {
        Some(StreamEvent::Done { message, .. }) => assert_eq!(message.html, None),
        other => panic!("expected done, got {other:?}"),
    }
    // Following the finished answer again: only `done`, with the whole render.
    let mut again = EventReader::open_rendered(&app, &answer).await;
    match again.next().await {
        Some(StreamEvent::Done { message, .. }) => {
            let html = message.html.expect("its HTML");
            assert_eq!(html.settled, render_markdown(&done.content));
            assert_eq!(html.live, "");
        }
        other => panic!("expected done, got {other:?}"),
    }
    assert_eq!(
        app.get(&format!("/api/v1/messages/{answer}/events?render=markdown"))
            .await
            .0,
        422,
        "an unknown rendering is refused"
    );
}

async fn stop_keeps_the_partial_text_and_cancels_upstream(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("[stall]").await;
    app.wait_for_message(&conversation, &answer, 10, |m| {
        m["content"] == expected_answer(3)
    })
    .await;
    assert_eq!(app.fake.stats.active_streams.load(Ordering::SeqCst), 1);
    let (status, stopped) = app
        .post(&format!("/api/v1/messages/{answer}/stop"), json!({}))
        .await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(stopped["content"], expected_answer(3));
    wait_until(
        || app.fake.stats.cancelled_streams.load(Ordering::SeqCst) == 1,
        "the upstream request is cancelled",
    )
    .await;
    assert_eq!(app.fake.stats.active_streams.load(Ordering::SeqCst), 0);
    // Stopping again is harmless; the conversation accepts a new message.
    assert_eq!(
        app.post(&format!("/api/v1/messages/{answer}/stop"), json!({}))
            .await
            .0,
        200
    );
    let (status, _) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "content": "next [tokens=2]" }),
        )
        .await;
    assert_eq!(status, 201);
}

async fn one_answer_at_a_time_per_conversation(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("[stall]").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "content": "again" }),
        )
        .await;
    assert_eq!(status, 409, "a state conflict, not bad input: {body}");
    assert_eq!(body["error"]["code"], "conflict");
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/regenerate"),
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    app.post(&format!("/api/v1/messages/{answer}/stop"), json!({}))
        .await;
}

async fn regenerate_replaces_the_last_answer(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("[error] first try").await;
    app.follow(&answer).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/regenerate"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let new_answer = body["id"].as_str().unwrap().to_string();
    assert_ne!(new_answer, answer);
    app.follow(&new_answer).await;
    let (_, body) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "the failed answer was replaced: {body}");
    assert_eq!(messages[1]["id"], new_answer.as_str());
}

async fn restart_turns_a_streaming_row_into_interrupted(backend: Backend) {
    let app = TestApp::start(backend).await;
    // What a crashed server leaves behind: an answer marked streaming with some text.
    let store = app.db.store().await;
    let owner = app.state.local_user.0;
    let conversation = store
        .create_conversation(owner, "crashed", "llama3.2", None)
        .await
        .unwrap();
    let answer = common::insert_streaming_answer(&store, owner, conversation.id).await;
    store
        .append_partial(owner, answer.id, "half of it", "")
        .await
        .unwrap();
    // Its writer is gone: the heartbeat is older than any live instance's.
    common::age_heartbeat(&store, answer.id, 3600).await;
    store.close().await;
    let (db, fake) = app.shutdown().await;
    let settings = common::test_settings(&db, &fake.url());
    let app = TestApp::serve(db, fake, settings).await;
    let stored = app
        .message(&conversation.id.to_string(), &answer.id.to_string())
        .await;
    assert_eq!(stored["status"], "interrupted");
    assert_eq!(stored["content"], "half of it");
    // Watching it now just reports the final row.
    let (events, done) = app.follow(&answer.id.to_string()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(done["status"], "interrupted");
}

async fn shutdown_saves_in_flight_generations(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("[stall]").await;
    app.wait_for_message(&conversation, &answer, 10, |m| {
        m["content"] == expected_answer(3)
    })
    .await;
    let owner = app.state.local_user.0;
    let (db, _fake) = app.shutdown().await;
    let store = db.store().await;
    let row = store
        .get_message(owner, answer.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, ollamastack::model::MessageStatus::Interrupted);
    assert_eq!(row.content, expected_answer(3));
}

async fn ollama_down_is_explained(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.fake.kill().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, models) = app.get("/api/v1/models").await;
    assert_eq!(status, 200);
    assert_eq!(models["reachable"], false);
    assert_eq!(models["url"], app.fake.url());
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(ready["database"]["ok"], true);
    assert_eq!(ready["ollama"]["ok"], false);
    assert_eq!(app.get("/healthz").await.0, 200);
    // The message is kept; the answer says where Ollama was expected.
    let (conversation, answer) = app.send_new("are you there?").await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "error");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains(&format!("not reachable at {}", app.fake.url())),
        "{done}"
    );
    let (_, body) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(body["messages"][0]["content"], "are you there?");
}

async fn ready_when_database_and_ollama_answer(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["ollama"]["version"], "0.12.0");
    let (_, models) = app.get("/api/v1/models").await;
    assert_eq!(models["reachable"], true);
    assert_eq!(models["models"][0]["name"], "llama3.2:latest");
}

async fn bad_input_gets_a_clear_error_and_stores_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({ "content": "   ", "model": "llama3.2" }),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["message"], "a message cannot be empty");
    let (status, _) = app
        .post(
            "/api/v1/conversations",
            json!({ "content": "x".repeat(100_001) }),
        )
        .await;
    assert_eq!(status, 422);
    let response = app
        .at(reqwest::Method::POST, "/api/v1/conversations")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_input");
    let (status, _) = app
        .post(
            "/api/v1/conversations",
            json!({ "content": "hi", "model": "bad model name" }),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(app.get("/api/v1/conversations/not-a-uuid").await.0, 404);
    assert_eq!(
        app.get(&format!("/api/v1/conversations/{}", uuid::Uuid::now_v7()))
            .await
            .0,
        404
    );
    let (_, list) = app.get("/api/v1/conversations").await;
    assert_eq!(list, json!([]), "nothing was stored");
}

async fn another_owners_rows_are_not_found(backend: Backend) {
    let app = TestApp::start(backend).await;
    let store = app.db.store().await;
    let stranger = store.ensure_user("stranger").await.unwrap();
    let theirs = store
        .create_conversation(stranger, "private", "llama3.2", None)
        .await
        .unwrap();
    let message = store
        .insert_message(ollamastack::db::NewMessage {
            conversation_id: theirs.id,
            owner_id: stranger,
            role: ollamastack::model::Role::User,
            content: "secret",
            model: None,
            status: ollamastack::model::MessageStatus::Complete,
            tool_calls: Default::default(),
            tool_name: None,
            attachments: None,
        })
        .await
        .unwrap();
    let id = theirs.id;
    assert_eq!(app.get(&format!("/api/v1/conversations/{id}")).await.0, 404);
    assert_eq!(app.get("/api/v1/conversations").await.1, json!([]));
    assert_eq!(
        app.post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({ "content": "hi" })
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.post(&format!("/api/v1/messages/{}/stop", message.id), json!({}))
            .await
            .0,
        404
    );
    assert_eq!(
        app.get(&format!("/api/v1/messages/{}/events", message.id))
            .await
            .0,
        404
    );
    let response = app
        .at(
            reqwest::Method::DELETE,
            &format!("/api/v1/conversations/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(
        store
            .get_conversation(stranger, id)
            .await
            .unwrap()
            .is_some(),
        "still there"
    );
}

async fn rename_and_delete(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("[tokens=2] a title").await;
    app.follow(&answer).await;
    let response = app
        .at(
            reqwest::Method::PATCH,
            &format!("/api/v1/conversations/{conversation}"),
        )
        .json(&json!({ "title": "  Renamed\nchat " }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["title"], "Renamed chat");
    let response = app
        .at(
            reqwest::Method::PATCH,
            &format!("/api/v1/conversations/{conversation}"),
        )
        .json(&json!({ "title": " " }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let response = app
        .at(
            reqwest::Method::DELETE,
            &format!("/api/v1/conversations/{conversation}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.get(&format!("/api/v1/conversations/{conversation}"))
            .await
            .0,
        404
    );
    assert_eq!(
        app.get(&format!("/api/v1/messages/{answer}/events"))
            .await
            .0,
        404
    );
}

async fn deleting_a_conversation_stops_its_answer(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("[stall]").await;
    app.wait_for_message(&conversation, &answer, 10, |m| {
        m["content"] == expected_answer(3)
    })
    .await;
    let response = app
        .at(
            reqwest::Method::DELETE,
            &format!("/api/v1/conversations/{conversation}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    wait_until(
        || app.fake.stats.cancelled_streams.load(Ordering::SeqCst) == 1,
        "the upstream request is cancelled",
    )
    .await;
    assert_eq!(app.state.generations.running(), 0);
}

async fn pages_are_server_rendered_with_history_and_safe_markdown(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("[markdown] show me").await;
    app.follow(&answer).await;
    let response = app
        .at(reqwest::Method::GET, &format!("/c/{conversation}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    assert!(response.headers()["x-response-time"]
        .to_str()
        .unwrap()
        .ends_with("ms"));
    let html = response.text().await.unwrap();
    assert!(
        html.contains("[markdown] show me"),
        "the conversation list and history are in the HTML"
    );
    // As plain HTML, not in a <template> that only script would swap in.
    let first_template = html.find("<template").unwrap_or(usize::MAX);
    assert!(
        html.find("<h1>Heading</h1>").unwrap() < first_template,
        "history readable without JS"
    );
    assert!(
        html.contains("<h1>Heading</h1>"),
        "markdown is rendered on the server"
    );
    assert!(html.contains("<table>"));
    assert!(html.contains("class=\"code-lang\">rust<"));
    assert!(
        !html.contains("<script>window.__pwned"),
        "raw HTML from the model never becomes markup"
    );
    assert!(!html.contains("<img src=x"));
    assert!(html.contains("&lt;script&gt;window.__pwned"));
    let home = app
        .http
        .get(&app.url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("[markdown] show me"));
    assert!(home.contains("data-theme=\"system\""));
    let saved = app
        .at(reqwest::Method::PUT, "/api/v1/settings/ui.theme")
        .json(&serde_json::json!({ "value": "dark" }))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let dark = app
        .http
        .get(&app.url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        dark.contains("data-theme=\"dark\""),
        "the person's theme is rendered by the server, so no flash"
    );
    assert!(
        dark.contains("id=\"ollamastack-preferences\""),
        "the settings travel with the page for hydration"
    );
}

async fn pages_are_compressed_but_event_streams_are_not(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, answer) = app.send_new("[tokens=30][delay=20]").await;
    let page = app
        .http
        .get(&app.url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["content-encoding"], "gzip");
    let events = app
        .at(
            reqwest::Method::GET,
            &format!("/api/v1/messages/{answer}/events"),
        )
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    assert!(
        events.headers().get("content-encoding").is_none(),
        "SSE must reach the browser unbuffered"
    );
}

/// A conversation's system prompt and options are stored and sent with its next turns; a turn's
/// own options win; bad values are refused.
async fn conversation_settings_are_sent_with_each_turn(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app.send_new("first").await;
    app.follow(&answer).await;
    let patch = |body: Value| {
        app.at(
            reqwest::Method::PATCH,
            &format!("/api/v1/conversations/{conversation}"),
        )
        .json(&body)
        .send()
    };
    let response = patch(json!({
        "system_prompt": "Answer like a pirate.",
        "options": { "temperature": 0.25, "num_predict": 64, "num_ctx": 4096 }
    }))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["system_prompt"], "Answer like a pirate.");
    assert_eq!(updated["options"]["num_ctx"], 4096);

    let (_, second) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "content": "second" }),
        )
        .await;
    app.follow(second["assistant_message"]["id"].as_str().unwrap())
        .await;
    let request = app.fake.stats.last_chat_request();
    assert_eq!(request["messages"][0]["role"], "system");
    assert_eq!(request["messages"][0]["content"], "Answer like a pirate.");
    assert_eq!(request["options"]["temperature"], 0.25);
    assert_eq!(request["options"]["num_predict"], 64);
    assert_eq!(request["options"]["num_ctx"], 4096);

    // A turn's own option wins over the conversation's; the others stay.
    let (_, third) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "content": "third", "options": { "temperature": 1.5 } }),
        )
        .await;
    app.follow(third["assistant_message"]["id"].as_str().unwrap())
        .await;
    let request = app.fake.stats.last_chat_request();
    assert_eq!(request["options"]["temperature"], 1.5);
    assert_eq!(request["options"]["num_ctx"], 4096);

    // Bad values are refused and change nothing; null removes the prompt.
    let refused = patch(json!({ "options": { "temperature": 9.0 } }))
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let cleared: Value = patch(json!({ "system_prompt": null }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["system_prompt"], Value::Null);
    assert_eq!(cleared["options"]["temperature"], 0.25, "{cleared}");
}

/// Editing a sent message replaces what came after it with a new answer to the new text.
async fn editing_a_message_resends_from_there(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, first_answer) = app.send_new("first question").await;
    app.follow(&first_answer).await;
    let (_, second) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "content": "second question" }),
        )
        .await;
    app.follow(second["assistant_message"]["id"].as_str().unwrap())
        .await;
    let (_, body) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    let first_question = body["messages"][0]["id"].as_str().unwrap().to_string();

    // Not an answer, not empty, not someone else's.
    let (status, _) = app
        .post(
            &format!("/api/v1/messages/{first_answer}/edit"),
            json!({ "content": "x" }),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .post(
            &format!("/api/v1/messages/{first_question}/edit"),
            json!({ "content": "\u{0} " }),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .post(
            &format!("/api/v1/messages/{}/edit", uuid::Uuid::now_v7()),
            json!({ "content": "x" }),
        )
        .await;
    assert_eq!(status, 404);

    let (status, edited) = app
        .post(
            &format!("/api/v1/messages/{first_question}/edit"),
            json!({ "content": "first question, better [tokens=7]" }),
        )
        .await;
    assert_eq!(status, 201, "{edited}");
    assert_eq!(edited["user_message"]["id"], first_question.as_str());
    let (_, done) = app
        .follow(edited["assistant_message"]["id"].as_str().unwrap())
        .await;
    assert_eq!(done["content"], expected_answer(7));
    let (_, body) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "later messages replaced: {body}");
    assert_eq!(messages[0]["content"], "first question, better [tokens=7]");
    let request = app.fake.stats.last_chat_request();
    assert_eq!(request["messages"].as_array().unwrap().len(), 1);
    assert_eq!(
        request["messages"][0]["content"],
        "first question, better [tokens=7]"
    );

    // While an answer is being written, editing is a conflict and changes nothing.
    let (_, running) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "content": "[stall]" }),
        )
        .await;
    let (status, _) = app
        .post(
            &format!("/api/v1/messages/{first_question}/edit"),
            json!({ "content": "again" }),
        )
        .await;
    assert_eq!(status, 409);
    let running = running["assistant_message"]["id"].as_str().unwrap();
    app.post(&format!("/api/v1/messages/{running}/stop"), json!({}))
        .await;
    let (_, body) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(body["messages"].as_array().unwrap().len(), 4);
}

/// A branch copies a conversation up to one of its messages (settings, documents, the messages
/// with their times) into a new conversation that continues apart; the conversation itself is
/// unchanged. Editing in a branch does the same with the new text. The Branch button's plain
/// form lands on the new conversation.
async fn a_branch_continues_apart_and_leaves_the_conversation_as_it_was(backend: Backend) {
    use leptos::server_fn::ServerFn;
    use ollamastack::server_fns::conversations::BranchConversation;
    let app = TestApp::start(backend).await;
    assert_eq!(app.upload_text("menu.txt", "Soup on Mondays.").await, 201);
    let (_, files) = app.get("/api/v1/files").await;
    let file = files.as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (trunk, first_answer) = app
        .send_new_with(
            json!({ "content": "first question [tokens=3]", "model": "llama3.2", "files": [file] }),
        )
        .await;
    app.follow(&first_answer).await;
    let (status, _) = app
        .patch(
            &format!("/api/v1/conversations/{trunk}"),
            json!({ "system_prompt": "Answer briefly.", "options": { "temperature": 0.25 } }),
        )
        .await;
    assert_eq!(status, 200);
    let second = app
        .send_in(&trunk, json!({ "content": "second question [tokens=4]" }))
        .await;
    app.follow(second["assistant_message"]["id"].as_str().unwrap())
        .await;
    let before = app.messages(&trunk).await;
    assert_eq!(before.len(), 4);

    // Not found: no such message, nor a branch of it.
    let (status, _) = app
        .post(
            &format!("/api/v1/messages/{}/branch", uuid::Uuid::now_v7()),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);

    let (status, branch) = app
        .post(
            &format!("/api/v1/messages/{first_answer}/branch"),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{branch}");
    let branch_id = branch["id"].as_str().unwrap().to_string();
    assert_ne!(branch_id, trunk);
    assert_eq!(branch["title"], "first question [tokens=3] (branch)");
    assert_eq!(branch["model"], "llama3.2");
    assert_eq!(branch["system_prompt"], "Answer briefly.");
    assert_eq!(branch["options"]["temperature"], 0.25);
    assert_eq!(branch["branched_from"], trunk.as_str());
    let (_, read) = app.get(&format!("/api/v1/conversations/{branch_id}")).await;
    assert_eq!(read["branched_from_title"], "first question [tokens=3]");
    let page = app.page(&format!("/c/{branch_id}")).await;
    let at = page.find("data-testid=\"branched-from\"").expect(&page);
    let link = &page[at..at + page[at..].find("</p>").unwrap()];
    assert!(link.contains(&format!("href=\"/c/{trunk}\"")), "{link}");
    assert!(link.contains(">first question [tokens=3]<"), "{link}");
    let copied = app.messages(&branch_id).await;
    assert_eq!(copied.len(), 2, "{copied:?}");
    for (copy, original) in copied.iter().zip(&before) {
        assert_ne!(copy["id"], original["id"]);
        for field in [
            "role",
            "content",
            "status",
            "model",
            "created_at",
            "completion_tokens",
        ] {
            assert_eq!(copy[field], original[field], "{field}");
        }
    }
    let (_, files) = app
        .get(&format!("/api/v1/conversations/{branch_id}/files"))
        .await;
    assert_eq!(files.as_array().unwrap().len(), 1, "{files}");
    assert_eq!(files[0]["id"].as_str().unwrap(), file);
    // The conversation itself is as it was; both are listed.
    assert_eq!(app.messages(&trunk).await, before);
    let (_, listed) = app.get("/api/v1/conversations").await;
    assert_eq!(listed.as_array().unwrap().len(), 2);

    // The branch continues with its own history only.
    let third = app
        .send_in(
            &branch_id,
            json!({ "content": "third question [tokens=2]" }),
        )
        .await;
    app.follow(third["assistant_message"]["id"].as_str().unwrap())
        .await;
    let request = app.fake.stats.last_chat_request();
    let sent: Vec<&str> = request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] != "system")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        sent,
        [
            "first question [tokens=3]",
            &expected_answer(3),
            "third question [tokens=2]"
        ]
    );
    assert_eq!(app.messages(&trunk).await, before);

    // Editing the first question in a branch: a third conversation, the trunk unchanged.
    let first_question = before[0]["id"].as_str().unwrap();
    let (status, edited) = app
        .post(
            &format!("/api/v1/messages/{first_question}/edit"),
            json!({ "content": "first question, again [tokens=5]", "branch": true }),
        )
        .await;
    assert_eq!(status, 201, "{edited}");
    let edited_branch = edited["conversation"]["id"].as_str().unwrap();
    assert!(edited_branch != trunk && edited_branch != branch_id);
    app.follow(edited["assistant_message"]["id"].as_str().unwrap())
        .await;
    let messages = app.messages(edited_branch).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["content"], "first question, again [tokens=5]");
    assert_eq!(messages[1]["content"], expected_answer(5));
    assert_eq!(app.messages(&trunk).await, before);
    // An answer is not edited, in a branch or not; nothing is created for it.
    let (status, _) = app
        .post(
            &format!("/api/v1/messages/{first_answer}/edit"),
            json!({ "content": "x", "branch": true }),
        )
        .await;
    assert_eq!(status, 422);
    let (_, listed) = app.get("/api/v1/conversations").await;
    assert_eq!(listed.as_array().unwrap().len(), 3);

    // An answer still being written is not branched from.
    let running = app.send_in(&trunk, json!({ "content": "[stall]" })).await;
    let running = running["assistant_message"]["id"].as_str().unwrap();
    let (status, _) = app
        .post(&format!("/api/v1/messages/{running}/branch"), json!({}))
        .await;
    assert_eq!(status, 409);
    app.post(&format!("/api/v1/messages/{running}/stop"), json!({}))
        .await;

    // The Branch button's form (with JavaScript or without) lands on the new conversation.
    let (status, location, _) = post_plain_form(
        &app,
        BranchConversation::PATH,
        &[("conversation_id", &trunk), ("message_id", &first_answer)],
        None,
    )
    .await;
    assert_eq!(status, 302);
    let landed = location.strip_prefix("/c/").expect(&location);
    assert_eq!(app.messages(landed).await.len(), 2);
    // A refused branch goes back to the conversation with the reason.
    let (status, location, _) = post_plain_form(
        &app,
        BranchConversation::PATH,
        &[
            ("conversation_id", &trunk),
            ("message_id", &uuid::Uuid::now_v7().to_string()),
        ],
        None,
    )
    .await;
    assert_eq!(status, 302);
    assert!(
        location.starts_with(&format!("/c/{trunk}?send_error=")),
        "{location}"
    );

    // An export of a branch imports as a conversation of its own, linked to nothing.
    let (status, export) = app
        .get(&format!(
            "/api/v1/conversations/{branch_id}/export?format=json"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(export["conversation"]["branched_from"], trunk.as_str());
    let (status, imported) = app.post("/api/v1/conversations/import", export).await;
    assert_eq!(status, 201, "{imported}");
    assert_eq!(imported["conversations"][0]["branched_from"], Value::Null);

    // Once the conversation it came from is deleted, a branch stays, without the link.
    let status = app
        .at(
            reqwest::Method::DELETE,
            &format!("/api/v1/conversations/{trunk}"),
        )
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let (status, read) = app.get(&format!("/api/v1/conversations/{branch_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(read["conversation"]["branched_from"], Value::Null);
    assert_eq!(read["branched_from_title"], Value::Null);
    assert_eq!(read["messages"].as_array().unwrap().len(), 4);
    assert!(!app
        .page(&format!("/c/{branch_id}"))
        .await
        .contains("branched-from"));
}

/// Regenerating keeps the earlier answers as versions of the answer: any of them can be shown
/// again, with what followed it, on the API, the page and its plain forms; the model is sent
/// the version shown. Editing the person's message drops its other answers; deleting the
/// conversation drops every version.
async fn regenerated_answers_are_kept_as_versions(backend: Backend) {
    use common::count_rows;
    use leptos::server_fn::ServerFn;
    use ollamastack::server_fns::chat::ShowAnswerVersion;
    let app = TestApp::start(backend).await;
    let (conversation, first) = app.send_new("question [tokens=4]").await;
    let (_, first_done) = app.follow(&first).await;
    let regenerate = format!("/api/v1/conversations/{conversation}/regenerate");

    let (status, second) = app.post(&regenerate, Value::Null).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["versions"]["current"], 2, "{second}");
    assert_eq!(second["versions"]["count"], 2);
    assert!(second["versions"].get("next").is_none());
    let second = second["id"].as_str().unwrap().to_string();
    app.follow(&second).await;
    let (_, third) = app.post(&regenerate, Value::Null).await;
    let third = third["id"].as_str().unwrap().to_string();
    app.follow(&third).await;
    // The model was asked the question alone each time, not shown the earlier answers.
    let asked = app.fake.stats.last_chat_request();
    assert_eq!(asked["messages"].as_array().unwrap().len(), 1, "{asked}");

    let messages = app.messages(&conversation).await;
    assert_eq!(messages.len(), 2, "one answer shown: {messages:?}");
    assert_eq!(messages[1]["id"], third.as_str());
    let versions = &messages[1]["versions"];
    assert_eq!(
        (&versions["current"], &versions["count"]),
        (&json!(3), &json!(3))
    );
    let to_second = versions["previous"].as_str().unwrap().to_string();
    assert!(messages[0].get("versions").is_none());

    // The first answer again: the same message (id, text, time), first of three.
    let show = |id: &str| format!("/api/v1/answer-versions/{id}/show");
    let (status, page) = app.post(&show(&to_second), Value::Null).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["messages"][1]["id"], second.as_str());
    assert_eq!(page["messages"][1]["versions"]["current"], 2);
    let to_first = page["messages"][1]["versions"]["previous"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, page) = app.post(&show(&to_first), Value::Null).await;
    let shown = &page["messages"][1];
    assert_eq!(shown["id"], first.as_str());
    assert_eq!(shown["content"], first_done["content"]);
    assert_eq!(shown["created_at"], first_done["created_at"]);
    assert_eq!(
        shown["versions"],
        json!({ "current": 1, "count": 3, "next": shown["versions"]["next"] })
    );
    let to_second = shown["versions"]["next"].as_str().unwrap().to_string();
    // A version shown is no version any more.
    let (status, _) = app.post(&show(&to_first), Value::Null).await;
    assert_eq!(status, 404);

    // The conversation goes on from the answer shown, and the model is sent that one.
    let next = app
        .send_in(&conversation, json!({ "content": "and then? [tokens=2]" }))
        .await;
    app.follow(next["assistant_message"]["id"].as_str().unwrap())
        .await;
    let asked = app.fake.stats.last_chat_request();
    let history = asked["messages"].as_array().unwrap();
    assert_eq!(history.len(), 3, "{asked}");
    assert_eq!(history[1]["content"], first_done["content"]);
    assert_eq!(app.messages(&conversation).await.len(), 4);
    // The follow-up answered twice too: its own versions.
    let (status, follow_again) = app.post(&regenerate, Value::Null).await;
    assert_eq!(status, 201, "{follow_again}");
    app.follow(follow_again["id"].as_str().unwrap()).await;
    let follow_first = follow_again["versions"]["previous"]
        .as_str()
        .unwrap()
        .to_string();

    // Another answer of the first question sets aside what followed it too (the follow-up's
    // versions inside it: none of them can be shown then), and showing the first answer
    // again brings it all back.
    let (_, page) = app.post(&show(&to_second), Value::Null).await;
    let ids: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{page}");
    assert_eq!(ids[1], second);
    let (status, _) = app.post(&show(&follow_first), Value::Null).await;
    assert_eq!(status, 404, "a version inside another is not shown");
    let to_first = page["messages"][1]["versions"]["previous"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, page) = app.post(&show(&to_first), Value::Null).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 4, "{page}");
    assert_eq!(page["messages"][1]["id"], first.as_str());
    assert_eq!(page["messages"][2]["content"], "and then? [tokens=2]");
    assert_eq!(page["messages"][3]["id"], follow_again["id"]);
    assert_eq!(page["messages"][3]["versions"]["current"], 2);
    let (status, page) = app.post(&show(&follow_first), Value::Null).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["messages"][3]["versions"]["current"], 1);
    assert_eq!(page["messages"][3]["content"], expected_answer(2));

    // The page shows where the answer stands, with forms for the others.
    let html = app.page(&format!("/c/{conversation}")).await;
    assert!(html.contains(r#"data-testid="answer-version""#), "{html}");
    assert!(html.contains(">1/3<") || html.contains(">1/3<!>"), "{html}");
    assert!(html.contains(ShowAnswerVersion::PATH));

    // The plain form sends the browser back to the conversation, with the version shown, or
    // with the reason it was refused.
    let to_second = page["messages"][1]["versions"]["next"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, location, _) = post_plain_form(
        &app,
        ShowAnswerVersion::PATH,
        &[
            ("conversation_id", &conversation),
            ("version_id", &to_second),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (302, format!("/c/{conversation}").as_str())
    );
    assert_eq!(app.messages(&conversation).await[1]["id"], second.as_str());
    let (status, location, _) = post_plain_form(
        &app,
        ShowAnswerVersion::PATH,
        &[
            ("conversation_id", &conversation),
            ("version_id", &to_second),
        ],
        None,
    )
    .await;
    assert_eq!(status, 302);
    assert!(
        location.starts_with(&format!("/c/{conversation}?send_error=")),
        "{location}"
    );

    // Not while an answer is being written (nothing changes), and not a version nobody has.
    let running = app
        .send_in(&conversation, json!({ "content": "[stall]" }))
        .await;
    let messages = app.messages(&conversation).await;
    let to_other = messages[1]["versions"]["previous"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = app.post(&show(&to_other), Value::Null).await;
    assert_eq!(status, 409);
    assert_eq!(app.messages(&conversation).await.len(), messages.len());
    let running = running["assistant_message"]["id"].as_str().unwrap();
    app.post(&format!("/api/v1/messages/{running}/stop"), json!({}))
        .await;
    let (status, _) = app
        .post(&show(&uuid::Uuid::now_v7().to_string()), Value::Null)
        .await;
    assert_eq!(status, 404);

    // Editing the question drops its other answers, and what they held: the follow-up's own
    // version, inside one of them, too.
    let store = app.db.store().await;
    let conversation_id: uuid::Uuid = conversation.parse().unwrap();
    let stored_versions = "SELECT COUNT(*) FROM answer_versions WHERE conversation_id = $1";
    let stored_messages = "SELECT COUNT(*) FROM answer_version_messages WHERE conversation_id = $1";
    assert_eq!(
        count_rows(&store, stored_versions, conversation_id).await,
        3
    );
    let question = messages[0]["id"].as_str().unwrap();
    let (status, edited) = app
        .post(
            &format!("/api/v1/messages/{question}/edit"),
            json!({ "content": "question, again" }),
        )
        .await;
    assert_eq!(status, 201, "{edited}");
    app.follow(edited["assistant_message"]["id"].as_str().unwrap())
        .await;
    assert!(edited["assistant_message"].get("versions").is_none());
    assert_eq!(
        count_rows(&store, stored_versions, conversation_id).await,
        0
    );
    assert_eq!(
        count_rows(&store, stored_messages, conversation_id).await,
        0
    );
    let (status, _) = app.post(&show(&to_other), Value::Null).await;
    assert_eq!(status, 404);

    // An answer that failed before its first word is not kept as a version.
    let (failed, failed_answer) = app.send_new("[http500]").await;
    app.follow(&failed_answer).await;
    let (_, retried) = app
        .post(
            &format!("/api/v1/conversations/{failed}/regenerate"),
            Value::Null,
        )
        .await;
    assert!(retried.get("versions").is_none(), "{retried}");

    // Deleting the conversation deletes its versions.
    app.post(&regenerate, Value::Null).await;
    let last = app.messages(&conversation).await;
    app.follow(last[1]["id"].as_str().unwrap()).await;
    assert_eq!(
        count_rows(&store, stored_versions, conversation_id).await,
        1
    );
    let status = app
        .at(
            reqwest::Method::DELETE,
            &format!("/api/v1/conversations/{conversation}"),
        )
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    assert_eq!(
        count_rows(&store, stored_versions, conversation_id).await,
        0
    );
    assert_eq!(
        count_rows(&store, stored_messages, conversation_id).await,
        0
    );
}

/// Copies are inserted in chunks (`db::transfer::COPY_CHUNK`): an import and a branch of more
/// messages than two chunks keep every message, in order, with its times.
async fn a_long_conversation_is_imported_and_branched_whole(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.server.max_body_bytes = 16 * 1024 * 1024;
    })
    .await;
    let (seed, answer) = app.send_new("seed [tokens=3]").await;
    app.follow(&answer).await;
    let (_, mut export) = app
        .get(&format!("/api/v1/conversations/{seed}/export?format=json"))
        .await;
    let pair = export["messages"].as_array().unwrap().clone();
    let count = 2 * ollamastack::db::transfer::COPY_CHUNK + 203;
    let start = chrono::Utc::now() - chrono::Duration::hours(24);
    let messages: Vec<Value> = (0..count)
        .map(|i| {
            let mut message = pair[i % 2].clone();
            message["content"] = json!(format!("message {i}"));
            // Every pair shares its time: the order within a time is the ids'.
            let at = start + chrono::Duration::seconds((i / 2) as i64);
            message["created_at"] = json!(at);
            message["updated_at"] = json!(at);
            message
        })
        .collect();
    export["messages"] = Value::Array(messages);
    let (status, imported) = app.post("/api/v1/conversations/import", export).await;
    assert_eq!(status, 201, "{imported}");
    let id = imported["conversations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stored = app.messages(&id).await;
    let contents = |messages: &[Value]| -> Vec<String> {
        messages
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_string())
            .collect()
    };
    let expected: Vec<String> = (0..count).map(|i| format!("message {i}")).collect();
    assert_eq!(contents(&stored), expected);

    let at = count - 1 - 200;
    for (through, copied) in [(count - 1, count), (at, at + 1)] {
        let message = stored[through]["id"].as_str().unwrap();
        let (status, branch) = app
            .post(&format!("/api/v1/messages/{message}/branch"), json!({}))
            .await;
        assert_eq!(status, 201, "{branch}");
        let branched = app.messages(branch["id"].as_str().unwrap()).await;
        assert_eq!(contents(&branched), expected[..copied]);
        for (copy, original) in branched.iter().zip(&stored) {
            assert_eq!(copy["created_at"], original["created_at"]);
        }
    }
}

/// A long conversation is read in pages: the page and `?limit` show only the latest messages,
/// `GET …/messages?before=` goes back page by page to the first, and the pages together are the
/// whole conversation in order. Cursors of another conversation, and bad limits, are refused.
async fn a_long_conversation_is_read_in_pages(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.server.messages_per_page = 5;
    })
    .await;
    let (conversation, answer) = app.send_new("turn 0").await;
    app.follow(&answer).await;
    for turn in 1..6 {
        let outcome = app
            .send_in(&conversation, json!({"content": format!("turn {turn}")}))
            .await;
        app.follow(outcome["assistant_message"]["id"].as_str().unwrap())
            .await;
    }
    let (status, whole) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(status, 200);
    let all: Vec<Value> = whole["messages"].as_array().unwrap().clone();
    assert_eq!(all.len(), 12);
    assert_eq!(whole["has_older"], false);
    let ids = |messages: &[Value]| -> Vec<String> {
        messages
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };

    // Backwards, five at a time (the setting), to the first message.
    let mut pages = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(id) => format!("/api/v1/conversations/{conversation}/messages?before={id}"),
            None => format!("/api/v1/conversations/{conversation}/messages"),
        };
        let (status, page) = app.get(&path).await;
        assert_eq!(status, 200, "{page}");
        let messages = page["messages"].as_array().unwrap().clone();
        assert!(!messages.is_empty() && messages.len() <= 5, "{page}");
        before = Some(messages[0]["id"].as_str().unwrap().to_string());
        pages.insert(0, messages);
        if page["has_older"] == false {
            break;
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 5, 5]);
    assert_eq!(
        ids(&pages.concat()),
        ids(&all),
        "the pages are the conversation, in order"
    );

    // The conversation with only its latest messages.
    let (status, latest) = app
        .get(&format!("/api/v1/conversations/{conversation}?limit=3"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(latest["messages"].as_array().unwrap()), ids(&all[9..]));
    assert_eq!(latest["has_older"], true);
    let (_, page) = app
        .get(&format!(
            "/api/v1/conversations/{conversation}/messages?before={}&limit=100",
            all[1]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ids(page["messages"].as_array().unwrap()), ids(&all[..1]));
    assert_eq!(page["has_older"], false);

    // Refused: limits out of range, a cursor that is not a message of this conversation.
    for query in [
        "limit=0",
        "limit=501",
        "limit=many",
        "before=nope",
        "color=red",
    ] {
        let (status, body) = app
            .get(&format!(
                "/api/v1/conversations/{conversation}/messages?{query}"
            ))
            .await;
        assert_eq!(status, 422, "{query}: {body}");
    }
    let (other, other_answer) = app.send_new("elsewhere").await;
    app.follow(&other_answer).await;
    for cursor in [other_answer.clone(), uuid::Uuid::now_v7().to_string()] {
        let (status, _) = app
            .get(&format!(
                "/api/v1/conversations/{conversation}/messages?before={cursor}"
            ))
            .await;
        assert_eq!(status, 404, "a cursor from {other} or nowhere");
    }

    // The page: the latest five messages, and a way back that works without JavaScript.
    let html = app.page(&format!("/c/{conversation}")).await;
    assert!(html.contains("turn 5") && html.contains("turn 4"));
    assert!(
        !html.contains("turn 3"),
        "only the latest messages are rendered"
    );
    let earlier = format!(
        "/c/{conversation}?before={}",
        all[7]["id"].as_str().unwrap()
    );
    assert!(html.contains(&format!("href=\"{earlier}\"")), "{html}");
    let html = app.page(&earlier).await;
    assert!(html.contains("turn 3") && html.contains("turn 1"));
    // ("turn 0" is the conversation's title, in the sidebar.)
    assert!(!html.contains("turn 4"));
    assert!(html.contains("data-testid=\"latest-messages\""));
}

/// A page as the browser opens it after a redirect, with the cookie it was given.
async fn page_with_cookie(app: &TestApp, path: &str, set_cookie: Option<&str>) -> String {
    let mut request = app.at(reqwest::Method::GET, path);
    if let Some(set_cookie) = set_cookie {
        let pair = set_cookie.split(';').next().unwrap();
        request = request.header("cookie", pair);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// The messages of a conversation once no answer in it is being written.
async fn settled_messages(app: &TestApp, conversation: &str) -> Vec<Value> {
    // One person, no sign-in: no session cookie is needed.
    app.wait_idle("", conversation).await;
    app.messages(conversation).await
}

/// Each page names itself in the tab (and history, bookmarks), from the server's answer.
async fn every_page_has_its_title(backend: Backend) {
    let app = TestApp::start(backend).await;
    for (path, title) in [
        ("/", "OllamaStack"),
        ("/settings", "Settings · OllamaStack"),
        ("/documents", "Documents · OllamaStack"),
        ("/search?q=x", "Search · OllamaStack"),
        ("/assistants", "Assistants · OllamaStack"),
        ("/analytics", "Analytics · OllamaStack"),
        ("/integrations", "Integrations · OllamaStack"),
        ("/admin", "People · OllamaStack"),
        ("/admin/defaults", "Defaults for everyone · OllamaStack"),
        ("/admin/models", "Models · OllamaStack"),
    ] {
        let page = app.page(path).await;
        let head = &page[..page.find("</head>").expect("a head")];
        assert!(
            head.contains(&format!("<title>{title}</title>")),
            "{path}: {head}"
        );
    }
}

/// A conversation started as `llama3.2` (how API clients name it) opens with
/// `llama3.2:latest`, the name Ollama lists, picked in the header: not a blank picker, and not
/// the first model listed going with a message sent without JavaScript.
async fn a_conversation_opens_with_its_model_picked(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (first, _) = app
        .send_new_with(serde_json::json!({ "content": "Hi [tokens=2]", "model": "qwen2.5:0.5b" }))
        .await;
    let (second, _) = app.send_new("Hi [tokens=2]").await;
    for (conversation, picked, other) in [
        (&first, "qwen2.5:0.5b", "llama3.2:latest"),
        (&second, "llama3.2:latest", "qwen2.5:0.5b"),
    ] {
        settled_messages(&app, conversation).await;
        // Every time: the header is rendered before or beside the page, as its data comes.
        for _ in 0..10 {
            let page = app.page(&format!("/c/{conversation}")).await;
            assert!(
                page.contains(&format!(r#"<option value="{picked}" selected"#)),
                "{picked} picked: {page}"
            );
            assert!(
                page.contains(&format!(r#"<option value="{other}">"#)),
                "{other} listed, not picked: {page}"
            );
        }
    }
}

/// Without JavaScript the composer's form posts to `send_message` and `stop_generation`,
/// which answer with redirects: on to the conversation, or back with the reason, the text
/// kept in a cookie (never in the address) and given back in the box as text.
async fn the_composer_form_works_without_javascript(backend: Backend) {
    use leptos::server_fn::ServerFn;
    use ollamastack::server_fns::chat::{RegenerateAnswer, SendMessage, StopGeneration};
    let app = TestApp::start(backend).await;
    let send = SendMessage::PATH;

    // A first message from the home page: on to its new conversation; CR LF stored as LF.
    let (status, location, set_cookie) = post_plain_form(
        &app,
        send,
        &[("content", "From a form\r\nline two [tokens=3]")],
        None,
    )
    .await;
    assert_eq!(status, 302);
    let conversation = location.strip_prefix("/c/").expect(&location).to_string();
    uuid::Uuid::parse_str(&conversation).expect("a conversation id");
    assert_eq!(set_cookie, None, "nothing to keep, nothing kept before");
    let messages = settled_messages(&app, &conversation).await;
    assert_eq!(messages[0]["content"], "From a form\nline two [tokens=3]");
    assert_eq!(messages[1]["status"], "complete");
    assert_eq!(messages[1]["content"], expected_answer(3));

    // The header's model picker belongs to the form: the model picked there answers.
    let page = app.page("/").await;
    assert!(
        page.contains(r#"name="model" form="composer-form""#)
            && page.contains(r#"id="composer-form""#),
        "{page}"
    );
    let picked = [
        ("content", "Which model? [tokens=2]"),
        ("model", "qwen2.5:0.5b"),
    ];
    let (status, location, _) = post_plain_form(&app, send, &picked, None).await;
    assert_eq!(status, 302);
    let other = location.strip_prefix("/c/").expect(&location);
    let (_, body) = app.get(&format!("/api/v1/conversations/{other}")).await;
    assert_eq!(body["conversation"]["model"], "qwen2.5:0.5b", "{body}");
    settled_messages(&app, other).await;

    // Regenerate is a form as well: the last answer is replaced by a new one.
    let page = app.page(&format!("/c/{conversation}")).await;
    assert!(
        page.contains(&format!(r#"action="{}""#, RegenerateAnswer::PATH))
            && page.contains(&format!(r#"name="conversation_id" value="{conversation}""#)),
        "{page}"
    );
    let regenerate = [("conversation_id", conversation.as_str())];
    let (status, location, _) =
        post_plain_form(&app, RegenerateAnswer::PATH, &regenerate, None).await;
    assert_eq!(
        (status, location.as_str()),
        (302, format!("/c/{conversation}").as_str())
    );
    let regenerated = settled_messages(&app, &conversation).await;
    assert_eq!(regenerated.len(), 2, "replaced, not added");
    assert_ne!(regenerated[1]["id"], messages[1]["id"]);
    assert_eq!(regenerated[1]["status"], "complete");

    // A reply in the conversation.
    let reply = [
        ("conversation_id", conversation.as_str()),
        ("content", "Second [tokens=2]"),
    ];
    let (status, location, _) = post_plain_form(&app, send, &reply, None).await;
    assert_eq!(
        (status, location.as_str()),
        (302, format!("/c/{conversation}").as_str())
    );
    assert_eq!(settled_messages(&app, &conversation).await.len(), 4);

    // Empty: back with the reason.
    let empty = [
        ("conversation_id", conversation.as_str()),
        ("content", "  "),
    ];
    let (status, location, _) = post_plain_form(&app, send, &empty, None).await;
    assert_eq!(status, 302);
    assert!(
        location.starts_with(&format!("/c/{conversation}?send_error=")),
        "{location}"
    );
    let page = app.page(&location).await;
    assert!(page.contains("a message cannot be empty"), "{page}");

    // Refused while another answer is written: back with the reason, the text in a cookie.
    let busy = app
        .send_in(&conversation, json!({ "content": "Busy [stall]" }))
        .await;
    let running = busy["assistant_message"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let typed = "Kept <b>as text</b> & ünïcödé\r\nline two";
    let refused = [
        ("conversation_id", conversation.as_str()),
        ("content", typed),
    ];
    let (status, location, set_cookie) = post_plain_form(&app, send, &refused, None).await;
    assert_eq!(status, 302);
    assert!(
        location.starts_with(&format!("/c/{conversation}?send_error=")),
        "{location}"
    );
    assert!(
        !location.contains("Kept"),
        "the text is not in the address: {location}"
    );
    let set_cookie = set_cookie.expect("the text is kept in a cookie");
    for attribute in [
        "ollamastack_unsent=",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=600",
    ] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let page = page_with_cookie(&app, &location, Some(&set_cookie)).await;
    assert!(page.contains("an answer is still being written"), "{page}");
    assert!(
        page.contains("Kept &lt;b&gt;as text&lt;/b&gt; &amp; ünïcödé\nline two</textarea>"),
        "the text is back in the box, as text: {page}"
    );
    // The page follows the running answer by reloading, with a Stop form for it.
    assert!(
        page.contains(r#"<meta http-equiv="refresh" content="2">"#),
        "{page}"
    );
    assert!(
        page.contains(&format!(r#"name="message_id" value="{running}""#)),
        "{page}"
    );
    // Another browser at the same address sees no one's text.
    let elsewhere = app.page(&location).await;
    assert!(!elsewhere.contains("Kept &lt;b&gt;"), "{elsewhere}");

    // Stop, through its form: back to the conversation, which no longer reloads.
    let (status, location, _) = post_plain_form(
        &app,
        StopGeneration::PATH,
        &[("message_id", running.as_str())],
        None,
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (302, format!("/c/{conversation}").as_str())
    );
    let stopped = app.message(&conversation, &running).await;
    assert_eq!(stopped["status"], "stopped", "{stopped}");
    let page = app.page(&location).await;
    assert!(!page.contains("http-equiv=\"refresh\""), "{page}");

    // Sent at last: the kept text's cookie is removed.
    let again = [
        ("conversation_id", conversation.as_str()),
        ("content", typed),
    ];
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let (status, location, removed) = post_plain_form(&app, send, &again, Some(&cookie)).await;
    assert_eq!(
        (status, location.as_str()),
        (302, format!("/c/{conversation}").as_str())
    );
    let removed = removed.expect("the cookie is removed");
    assert!(
        removed.starts_with("ollamastack_unsent=;") && removed.contains("Max-Age=0"),
        "{removed}"
    );
    settled_messages(&app, &conversation).await;

    // A conversation that is gone: to the first screen, where the text waits in the box.
    let gone = [
        ("conversation_id", "0190a0b0-0000-7000-8000-000000000000"),
        ("content", "lost?"),
    ];
    let (status, location, set_cookie) = post_plain_form(&app, send, &gone, None).await;
    assert_eq!(status, 302);
    assert!(location.starts_with("/?send_error="), "{location}");
    let page = page_with_cookie(&app, &location, set_cookie.as_deref()).await;
    assert!(page.contains("conversation not found"), "{page}");
    assert!(page.contains(">lost?</textarea>"), "{page}");

    // Too long for a cookie: the reason says the text could not come back, and the text
    // kept before is removed, so it cannot show up in its place.
    let long = "x".repeat(5_000);
    let too_long = [
        ("conversation_id", "0190a0b0-0000-7000-8000-000000000000"),
        ("content", long.as_str()),
    ];
    let kept_before = set_cookie.unwrap().split(';').next().unwrap().to_string();
    let (status, location, removed) =
        post_plain_form(&app, send, &too_long, Some(&kept_before)).await;
    assert_eq!(status, 302);
    assert!(
        location.contains("too%20long%20to%20bring%20back"),
        "{location}"
    );
    assert!(removed.unwrap().contains("Max-Age=0"));
}

/// Without JavaScript the conversation page's own forms rename and delete it; the browser is
/// sent back, with the reason when it was refused.
async fn a_conversation_is_renamed_and_deleted_without_javascript(backend: Backend) {
    use leptos::server_fn::ServerFn;
    use ollamastack::server_fns::conversations::{DeleteConversation, RenameConversation};
    let app = TestApp::start(backend).await;
    let (conversation, _) = app.send_new("Hello [tokens=2]").await;
    settled_messages(&app, &conversation).await;
    let page = app.page(&format!("/c/{conversation}")).await;
    assert!(
        page.contains(r#"data-testid="manage-without-script""#),
        "{page}"
    );

    let rename = [
        ("id", conversation.as_str()),
        ("title", "  New\r\ntitle <i>x</i> "),
    ];
    let (status, location, _) =
        post_plain_form(&app, RenameConversation::PATH, &rename, None).await;
    assert_eq!(
        (status, location.as_str()),
        (302, format!("/c/{conversation}").as_str())
    );
    let (_, body) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(
        body["conversation"]["title"], "New title <i>x</i>",
        "{body}"
    );
    // Every time: the render's order must not decide it.
    for _ in 0..30 {
        let page = app.page(&location).await;
        let head = &page[..page.find("</head>").expect("a head")];
        assert!(
            head.contains("<title>New title &lt;i&gt;x&lt;/i&gt; · OllamaStack</title>"),
            "{head}"
        );
    }
    let page = app.page(&location).await;
    assert!(
        page.contains(r#"name="title" value="New title &lt;i&gt;x&lt;/i&gt;""#),
        "the form holds the title, as text: {page}"
    );
    // The tab names the conversation without scripts: the title is in the head that went out
    // first, escaped, and it is the only one.
    let head = &page[..page.find("</head>").expect("a head")];
    assert!(
        head.contains("<title>New title &lt;i&gt;x&lt;/i&gt; · OllamaStack</title>"),
        "{head}"
    );
    assert_eq!(page.matches("<title>").count(), 1, "{head}");

    // An empty title: back with the reason, the forms open.
    let empty = [("id", conversation.as_str()), ("title", " ")];
    let (status, location, _) = post_plain_form(&app, RenameConversation::PATH, &empty, None).await;
    assert_eq!(status, 302);
    assert!(
        location.starts_with(&format!("/c/{conversation}?manage_error=")),
        "{location}"
    );
    let page = app.page(&location).await;
    assert!(page.contains("a title cannot be empty"), "{page}");
    assert!(
        page.contains(r#"data-testid="manage-without-script" "#)
            && page.contains(r#"pt-2 text-sm" open>"#),
        "{page}"
    );

    // Deleted (the form's confirm box comes along): on to the first screen.
    let delete = [("id", conversation.as_str()), ("confirm", "on")];
    let (status, location, _) =
        post_plain_form(&app, DeleteConversation::PATH, &delete, None).await;
    assert_eq!((status, location.as_str()), (302, "/"));
    let (status, _) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(status, 404);
    // Again: it is gone, and the answer says so.
    let (status, location, _) =
        post_plain_form(&app, DeleteConversation::PATH, &delete, None).await;
    assert_eq!(status, 302);
    assert!(
        location.contains("manage_error=conversation%20not%20found"),
        "{location}"
    );
}

/// The one tag of `page` that holds `marker` (an attribute), from `<` to `>`.
fn tag_with<'a>(page: &'a str, marker: &str) -> &'a str {
    let at = page
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {page}"));
    let start = page[..at].rfind('<').unwrap();
    let end = at + page[at..].find('>').unwrap();
    &page[start..=end]
}

/// Without JavaScript the conversation's settings form posts to its server function; the
/// browser comes back to the conversation with the form open, the outcome and the stored
/// values (the prompt as text). Refused input changes nothing and says why.
async fn conversation_settings_are_saved_without_javascript(backend: Backend) {
    use leptos::server_fn::ServerFn;
    use ollamastack::server_fns::conversations::UpdateConversationSettings;
    let app = TestApp::start(backend).await;
    let (conversation, _) = app.send_new("Hello [tokens=2]").await;
    settled_messages(&app, &conversation).await;
    let page_path = format!("/c/{conversation}");
    let page = app.page(&page_path).await;
    let form = tag_with(&page, r#"id="conversation-settings""#);
    assert!(
        form.contains(r#"method="post""#)
            && form.contains(&format!(r#"action="{}""#, UpdateConversationSettings::PATH)),
        "{form}"
    );
    assert!(
        !tag_with(&page, r#"data-testid="settings-panel""#).contains(" open"),
        "closed until asked for"
    );

    let prompt = "Be brief.\n</textarea><script>alert(1)</script> & done";
    // As a browser sends a textarea's line breaks.
    let posted = prompt.replace('\n', "\r\n");
    let fields = [
        ("id", conversation.as_str()),
        ("system_prompt", posted.as_str()),
        ("temperature", "0.4"),
        ("num_predict", ""),
        ("num_ctx", "8192"),
    ];
    let path = UpdateConversationSettings::PATH;
    let (status, location, _) = post_plain_form(&app, path, &fields, None).await;
    assert_eq!(
        (status, location.as_str()),
        (302, format!("{page_path}?settings=saved").as_str())
    );
    let (_, body) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(body["conversation"]["system_prompt"], prompt, "{body}");
    assert_eq!(
        body["conversation"]["options"],
        json!({"temperature": 0.4, "num_predict": null, "num_ctx": 8192})
    );
    let page = app.page(&location).await;
    assert!(
        tag_with(&page, r#"data-testid="settings-panel""#).contains(" open"),
        "{page}"
    );
    assert!(page.contains("Saved: the next answers use these settings."));
    assert!(
        page.contains(
            "Be brief.\n&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; done</textarea>"
        ),
        "the prompt is the box's text: {page}"
    );
    assert!(!page.contains("<script>alert(1)"));
    assert!(tag_with(&page, r#"name="temperature""#).contains(r#"value="0.4""#));
    assert!(tag_with(&page, r#"name="num_ctx""#).contains(r#"value="8192""#));
    assert!(tag_with(&page, r#"name="num_predict""#).contains(r#"value="""#));

    // Refused: back with the reason, the form open, nothing changed.
    for (temperature, reason) in [
        ("warm", "Temperature must be a number"),
        ("9", "temperature must be between 0 and 5"),
    ] {
        let refused = [
            ("id", conversation.as_str()),
            ("system_prompt", "Something else"),
            ("temperature", temperature),
        ];
        let (status, location, _) = post_plain_form(&app, path, &refused, None).await;
        assert_eq!(status, 302);
        assert!(
            location.starts_with(&format!("{page_path}?settings_error=")),
            "{location}"
        );
        let page = app.page(&location).await;
        assert!(page.contains(reason), "{reason}: {page}");
        assert!(tag_with(&page, r#"data-testid="settings-panel""#).contains(" open"));
        let (_, body) = app
            .get(&format!("/api/v1/conversations/{conversation}"))
            .await;
        assert_eq!(body["conversation"]["system_prompt"], prompt, "{body}");
    }

    // A conversation that is not there (or someone else's): said so, nothing stored.
    let missing = uuid::Uuid::new_v4().to_string();
    let (status, location, _) = post_plain_form(
        &app,
        path,
        &[("id", missing.as_str()), ("temperature", "1")],
        None,
    )
    .await;
    assert_eq!(status, 302);
    assert!(
        location.contains("settings_error=conversation%20not%20found"),
        "{location}"
    );
}

on_both_backends!(
    a_long_conversation_is_read_in_pages,
    answer_streams_in_pieces_and_is_stored,
    a_first_message_is_asked_once_and_stops_cleanly,
    error_line_mid_stream_keeps_the_partial_text,
    unknown_model_is_a_clear_error_and_the_question_is_kept,
    http_error_from_ollama_is_reported,
    ollama_dying_mid_stream_keeps_the_partial_text,
    a_broken_line_mid_stream_is_an_error_not_a_crash,
    a_stall_trips_the_idle_timeout_and_closes_upstream,
    a_slow_first_token_trips_the_first_token_timeout,
    the_generation_outlives_the_browser,
    reconnecting_mid_answer_shows_the_text_so_far_then_the_rest,
    the_page_stream_carries_the_answers_html_as_it_grows,
    stop_keeps_the_partial_text_and_cancels_upstream,
    one_answer_at_a_time_per_conversation,
    regenerate_replaces_the_last_answer,
    restart_turns_a_streaming_row_into_interrupted,
    shutdown_saves_in_flight_generations,
    ollama_down_is_explained,
    ready_when_database_and_ollama_answer,
    bad_input_gets_a_clear_error_and_stores_nothing,
    another_owners_rows_are_not_found,
    rename_and_delete,
    deleting_a_conversation_stops_its_answer,
    pages_are_server_rendered_with_history_and_safe_markdown,
    pages_are_compressed_but_event_streams_are_not,
    conversation_settings_are_sent_with_each_turn,
    editing_a_message_resends_from_there,
    a_branch_continues_apart_and_leaves_the_conversation_as_it_was,
    regenerated_answers_are_kept_as_versions,
    a_long_conversation_is_imported_and_branched_whole,
    the_composer_form_works_without_javascript,
    a_conversation_opens_with_its_model_picked,
    every_page_has_its_title,
    a_conversation_is_renamed_and_deleted_without_javascript,
    conversation_settings_are_saved_without_javascript,
);
