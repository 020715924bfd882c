//! Agent runs on SQLite and PostgreSQL, against the fake Ollama that calls tools the way
//! Ollama does: every step stored and streamed, results sent back as Ollama expects, failing
//! tools and bad calls returned to the model, the step limit, stop during a tool.

mod common;

use common::{Backend, TestApp, TestDb};
use ollamastack::testing::fake_ollama::{FakeConfig, FakeOllama};
use ollamastack::tools::{Tool, ToolContext, ToolError, Toolbox};
use serde_json::{json, Value};
use std::{sync::Arc, time::Duration};

/// Sends a first message with tools; returns (conversation id, first answer row id).
async fn send_with_tools(app: &TestApp, content: &str, tools: &[&str]) -> (String, String) {
    app.send_new_with(json!({ "content": content, "model": "llama3.2", "tools": tools }))
        .await
}

/// The roles of the messages of a request Ollama was sent.
fn roles(request: &Value) -> Vec<&str> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect()
}

async fn a_multi_step_run_is_stored_streamed_and_sent_back(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, first) = send_with_tools(
        &app,
        r#"What is 6*7, and the time? [call=calculator {"expression":"6*7"}][call=current_time {"timezone":"Asia/Tokyo"}][rounds=2]"#,
        &["calculator", "current_time"],
    )
    .await;
    let rows = app.follow_run(&first).await;
    let shape: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap().to_string(),
                r["tool_name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let step = ("assistant".to_string(), String::new());
    let calc = ("tool".to_string(), "calculator".to_string());
    let time = ("tool".to_string(), "current_time".to_string());
    assert_eq!(
        shape,
        vec![
            step.clone(),
            calc.clone(),
            time.clone(),
            step.clone(),
            calc,
            time,
            step
        ],
        "two rounds of two calls, then the answer"
    );
    assert_eq!(rows[0]["tool_calls"][0]["function"]["name"], "calculator");
    assert_eq!(
        rows[0]["tool_calls"][0]["function"]["arguments"],
        json!({"expression": "6*7"})
    );
    assert_eq!(rows[1]["content"], "42");
    assert_eq!(rows[1]["status"], "complete");
    assert!(rows[1]["duration_ms"].as_i64().is_some(), "{}", rows[1]);
    assert_eq!(
        rows[1]["tool_calls"][0]["id"], "call_0_0",
        "the call it answers"
    );
    assert!(
        rows[2]["content"].as_str().unwrap().contains("+09:00"),
        "{}",
        rows[2]
    );
    let answer = &rows[6];
    assert_eq!(answer["status"], "complete");
    assert!(
        answer["tool_calls"].is_null(),
        "the answer calls nothing: {answer}"
    );
    assert!(
        answer["content"]
            .as_str()
            .unwrap()
            .starts_with("Results: calculator=42; current_time="),
        "{answer}"
    );

    // The stored conversation is the same rows, in order, after the person's message.
    let stored = app.messages(&conversation).await;
    assert_eq!(stored.len(), 8, "{stored:#?}");
    assert_eq!(stored[0]["role"], "user");
    for (stored, streamed) in stored[1..].iter().zip(&rows) {
        assert_eq!(stored, streamed);
    }

    // What Ollama was sent for the last step: each assistant step with its calls, then one
    // tool message per result with tool_name and tool_call_id.
    let request = app.fake.stats.last_chat_request();
    let messages = request["messages"].as_array().unwrap();
    assert_eq!(
        roles(&request),
        [
            "user",
            "assistant",
            "tool",
            "tool",
            "assistant",
            "tool",
            "tool"
        ]
    );
    assert_eq!(
        messages[1]["tool_calls"][1]["function"]["name"],
        "current_time"
    );
    assert_eq!(messages[2]["tool_name"], "calculator");
    assert_eq!(messages[2]["tool_call_id"], "call_0_0");
    assert_eq!(messages[2]["content"], "42");
    assert_eq!(messages[6]["tool_call_id"], "call_1_1");
    let offered: Vec<&str> = request["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["calculator", "current_time"]);
    assert_eq!(request["tools"][0]["type"], "function");
    assert_eq!(
        request["tools"][0]["function"]["parameters"]["type"],
        "object"
    );

    // A later turn sends the whole run back as history.
    let body = app
        .send_in(&conversation, json!({ "content": "thanks [tokens=2]" }))
        .await;
    app.follow(body["assistant_message"]["id"].as_str().unwrap())
        .await;
    let request = app.fake.stats.last_chat_request();
    assert_eq!(
        roles(&request),
        [
            "user",
            "assistant",
            "tool",
            "tool",
            "assistant",
            "tool",
            "tool",
            "assistant",
            "user"
        ]
    );
    assert!(
        request.get("tools").is_none(),
        "no tools asked for this turn"
    );
}

async fn calls_spread_over_chunks_and_without_ids(backend: Backend) {
    let app = TestApp::start_with(
        backend,
        FakeConfig {
            split_writes: true,
            ..FakeConfig::default()
        },
        |_| {},
    )
    .await;
    let (_, first) = send_with_tools(
        &app,
        r#"[call=calculator {"expression":"2^8"}][call=calculator {"expression":"sqrt(81)"}][spread][noid]"#,
        &["calculator"],
    )
    .await;
    let rows = app.follow_run(&first).await;
    assert_eq!(rows.len(), 4, "{rows:#?}");
    assert_eq!(
        rows[0]["tool_calls"].as_array().unwrap().len(),
        2,
        "both calls, from two chunks"
    );
    assert_eq!(rows[1]["content"], "256");
    assert_eq!(rows[2]["content"], "9");
    assert!(rows[1]["tool_calls"][0].get("id").is_none());
    assert_eq!(rows[3]["content"], "Results: calculator=256; calculator=9");
    let request = app.fake.stats.last_chat_request();
    assert!(
        request["messages"][2].get("tool_call_id").is_none(),
        "no id to send back"
    );
}

async fn bad_calls_are_errors_the_model_reads(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, first) = send_with_tools(
        &app,
        r#"[call=rm_rf {"path":"/"}][call=calculator "6*7"][call=calculator {"expr":"1"}][call=calculator {"expression":"1/0"}]"#,
        &["calculator"],
    )
    .await;
    let rows = app.follow_run(&first).await;
    assert_eq!(rows.len(), 6, "{rows:#?}");
    let expected = [
        "there is no tool named 'rm_rf'",
        "not a JSON object",
        "unknown field `expr`",
        "not a finite number",
    ];
    for (row, expected) in rows[1..5].iter().zip(expected) {
        assert_eq!(row["role"], "tool");
        assert_eq!(row["status"], "error", "{row}");
        let content = row["content"].as_str().unwrap();
        assert!(
            content.starts_with("Error: ") && content.contains(expected),
            "{row}"
        );
    }
    assert_eq!(
        rows[5]["status"], "complete",
        "the run goes on to its answer"
    );
    assert!(rows[5]["content"]
        .as_str()
        .unwrap()
        .contains("rm_rf=Error: there is no tool"));
}

async fn the_step_limit_stops_a_model_that_keeps_calling(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.generation.max_agent_steps = 3;
    })
    .await;
    let (conversation, first) = send_with_tools(
        &app,
        r#"[call=calculator {"expression":"1+1"}][rounds=50]"#,
        &["calculator"],
    )
    .await;
    let rows = app.follow_run(&first).await;
    assert_eq!(rows.len(), 5, "3 model calls, 2 tool calls: {rows:#?}");
    let last = rows.last().unwrap();
    assert_eq!(last["status"], "stopped");
    assert_eq!(last["done_reason"], "limit");
    assert!(
        last["error"]
            .as_str()
            .unwrap()
            .contains("step limit (3 model calls)"),
        "{last}"
    );
    assert_eq!(
        app.fake
            .stats
            .chat_requests
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    // Nothing is left streaming: the conversation takes a new message.
    app.send_in(&conversation, json!({ "content": "ok [tokens=1]" }))
        .await;
}

async fn unknown_tool_names_are_refused_before_anything_is_stored(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({ "content": "hi", "model": "llama3.2", "tools": ["calculator", "shell"] }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown tool 'shell'"));
    let (_, list) = app.get("/api/v1/conversations").await;
    assert_eq!(list, json!([]));
}

async fn regenerate_replaces_the_whole_run(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, first) = send_with_tools(
        &app,
        r#"[call=calculator {"expression":"2+2"}]"#,
        &["calculator"],
    )
    .await;
    assert_eq!(app.follow_run(&first).await.len(), 3);
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/regenerate"),
            json!({ "tools": ["calculator"] }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let rows = app.follow_run(body["id"].as_str().unwrap()).await;
    assert_eq!(rows.len(), 3, "a new run with tools: {rows:#?}");
    let stored = app.messages(&conversation).await;
    assert_eq!(stored.len(), 4, "the old steps are gone: {stored:#?}");
    assert_eq!(stored[1]["id"], rows[0]["id"]);
    // Without tools, the answer is one row.
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/regenerate"),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let rows = app.follow_run(body["id"].as_str().unwrap()).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(app.messages(&conversation).await.len(), 2);
}

async fn thinking_is_streamed_stored_apart_and_sent_back(backend: Backend) {
    use ollamastack::model::StreamEvent;
    use ollamastack::testing::fake_ollama::{expected_answer, THINKING_ANSWER};
    let app = TestApp::start(backend).await;
    let (conversation, answer) = app
        .send_new("Think first [think][tokens=5][delay=60]")
        .await;
    // A watcher who joins mid-thought gets the thinking so far in its snapshot.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let mut late = common::EventReader::open(&app, &answer).await;
    match late.next().await {
        Some(StreamEvent::Snapshot { thinking, .. }) => {
            assert!(
                !thinking.is_empty() && THINKING_ANSWER.starts_with(&thinking),
                "{thinking:?}"
            )
        }
        other => panic!("expected a snapshot: {other:?}"),
    }
    let (events, done) = app.follow(&answer).await;
    let thought: String = events
        .iter()
        .map(|e| match e {
            StreamEvent::Snapshot { thinking, .. } => thinking.clone(),
            StreamEvent::Thinking { content } => content.clone(),
            _ => String::new(),
        })
        .collect();
    assert_eq!(
        thought, THINKING_ANSWER,
        "thinking streamed apart from the text"
    );
    assert_eq!(common::text_of(&events), expected_answer(5));
    assert_eq!(done["thinking"], THINKING_ANSWER);
    assert_eq!(
        done["content"],
        expected_answer(5),
        "the answer holds no thinking"
    );
    let stored = app.message(&conversation, &answer).await;
    assert_eq!(stored["thinking"], THINKING_ANSWER);

    // The next turn sends the thinking back with its answer.
    let body = app
        .send_in(&conversation, json!({ "content": "and? [tokens=1]" }))
        .await;
    app.follow(body["assistant_message"]["id"].as_str().unwrap())
        .await;
    let request = app.fake.stats.last_chat_request();
    assert_eq!(request["messages"][1]["role"], "assistant");
    assert_eq!(request["messages"][1]["thinking"], THINKING_ANSWER);
    assert_eq!(request["messages"][1]["content"], expected_answer(5));
}

async fn a_model_without_native_tools_gets_them_by_prompt(backend: Backend) {
    let app = TestApp::start_with(
        backend,
        FakeConfig {
            models: vec!["llama3.2:latest".into(), "gemma2:2b".into()],
            ..FakeConfig::default()
        },
        |_| {},
    )
    .await;
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({
                "content": r#"[call=calculator {"expression":"6*7"}][call=current_time {"timezone":"UTC"}]"#,
                "model": "gemma2:2b",
                "tools": ["calculator", "current_time"],
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["tool_mode"], "prompted",
        "/api/show lists no tools for this model"
    );
    let rows = app
        .follow_run(body["assistant_message"]["id"].as_str().unwrap())
        .await;
    let shape: Vec<&str> = rows.iter().map(|r| r["role"].as_str().unwrap()).collect();
    assert_eq!(
        shape,
        ["assistant", "tool", "assistant", "tool", "assistant"],
        "one call per step"
    );
    assert_eq!(rows[0]["content"], "", "the JSON is not shown as text");
    assert_eq!(rows[0]["tool_calls"][0]["function"]["name"], "calculator");
    assert_eq!(rows[1]["content"], "42");
    assert_eq!(rows[3]["tool_name"], "current_time");
    assert!(
        rows[4]["content"]
            .as_str()
            .unwrap()
            .starts_with("Results: calculator=42; current_time="),
        "{}",
        rows[4]
    );
    let request = app.fake.stats.last_chat_request();
    assert!(request.get("tools").is_none(), "no native tools: {request}");
    assert_eq!(
        request["format"]["properties"]["tool"]["enum"],
        json!(["calculator", "current_time", "none"])
    );
    assert_eq!(
        roles(&request),
        ["system", "user", "assistant", "user", "assistant", "user"]
    );
    assert!(request["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("- calculator:"));
    assert_eq!(
        request["messages"][3]["content"],
        "Result of the tool calculator: 42"
    );

    // A model that calls tools natively gets them natively.
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({ "content": "hi", "model": "llama3.2", "tools": ["calculator"] }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["tool_mode"], "native");
    app.follow_run(body["assistant_message"]["id"].as_str().unwrap())
        .await;
}

async fn ollama_failing_mid_run_ends_it_with_nothing_left_streaming(backend: Backend) {
    let app = app_with_slow_tool(
        backend,
        Duration::from_millis(1500),
        Duration::from_secs(10),
    )
    .await;
    let (conversation, first) = send_with_tools(&app, "[call=slow {}]", &["slow"]).await;
    // The model has called the tool; Ollama dies while it runs.
    app.follow(&first).await;
    app.fake.kill().await;
    let rows = app.follow_run(&first).await;
    let shape: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["role"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shape,
        [
            ("assistant", "complete"),
            ("tool", "complete"),
            ("assistant", "error")
        ],
        "{rows:#?}"
    );
    assert!(
        rows[2]["error"].as_str().unwrap().contains("Ollama"),
        "{}",
        rows[2]
    );
    let stored = app.messages(&conversation).await;
    assert_eq!(
        stored.len(),
        4,
        "the person's message and every step are kept"
    );
    assert!(
        stored.iter().all(|m| m["status"] != "streaming"),
        "{stored:#?}"
    );
}

/// A tool that takes its time (for stop and timeout tests).
struct Slow {
    sleep: Duration,
    timeout: Duration,
}

#[async_trait::async_trait]
impl Tool for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }
    fn description(&self) -> &'static str {
        "Waits, then answers."
    }
    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {}})
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
    async fn call(&self, _: &ToolContext, _: Value) -> Result<String, ToolError> {
        tokio::time::sleep(self.sleep).await;
        Ok("slept".into())
    }
}

async fn app_with_slow_tool(backend: Backend, sleep: Duration, timeout: Duration) -> TestApp {
    let db = TestDb::new(backend).await;
    let fake = FakeOllama::start(FakeConfig::default()).await.unwrap();
    let settings = common::test_settings(&db, &fake.url());
    let mut tools = Toolbox::default();
    tools.add(Arc::new(Slow { sleep, timeout }));
    TestApp::serve_with_tools(db, fake, settings, tools).await
}

async fn a_tool_that_times_out_is_an_error_and_the_run_goes_on(backend: Backend) {
    let app =
        app_with_slow_tool(backend, Duration::from_secs(30), Duration::from_millis(200)).await;
    let (_, first) = send_with_tools(&app, "[call=slow {}]", &["slow"]).await;
    let rows = app.follow_run(&first).await;
    assert_eq!(rows.len(), 3, "{rows:#?}");
    assert_eq!(rows[1]["status"], "error");
    assert!(
        rows[1]["content"]
            .as_str()
            .unwrap()
            .contains("did not finish within 200 ms"),
        "{}",
        rows[1]
    );
    assert_eq!(rows[2]["status"], "complete");
}

async fn stop_during_a_tool_ends_the_run_and_reload_shows_the_steps(backend: Backend) {
    let app = app_with_slow_tool(backend, Duration::from_secs(30), Duration::from_secs(60)).await;
    let (conversation, first) = send_with_tools(&app, "[call=slow {}]", &["slow"]).await;
    // The first step ends with the call; the tool row is then running.
    let (events, _) = app.follow(&first).await;
    let tool_row = match events.last() {
        Some(ollamastack::model::StreamEvent::Done {
            next: Some(next), ..
        }) => next.clone(),
        other => panic!("expected the next step: {other:?}"),
    };
    assert_eq!(tool_row.tool_name.as_deref(), Some("slow"));
    // A reload now shows the step so far and the running tool.
    let stored = app.messages(&conversation).await;
    let states: Vec<(&str, &str)> = stored
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("user", "complete"),
            ("assistant", "complete"),
            ("tool", "streaming")
        ]
    );
    // While the run goes on, the conversation takes no second message, and a cross-origin
    // page cannot run tools either.
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({ "content": "meanwhile" }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let status = app
        .at(reqwest::Method::POST, "/api/v1/tools/calculator/invoke")
        .header("origin", "https://evil.example")
        .json(&json!({ "arguments": { "expression": "1" } }))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
    // Stop by the id the send returned (the first step, already final): the run stops.
    let (status, body) = app
        .post(&format!("/api/v1/messages/{first}/stop"), json!({}))
        .await;
    assert!(status == 200 || status == 204, "{status} {body}");
    assert_eq!(
        body["id"],
        tool_row.id.to_string(),
        "the row the run was writing: {body}"
    );
    let stored = app
        .wait_for_message(&conversation, &tool_row.id.to_string(), 5, |m| {
            m["status"] != "streaming"
        })
        .await;
    assert_eq!(stored["status"], "stopped", "{stored}");
    assert_eq!(
        app.fake
            .stats
            .chat_requests
            .load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the model is not called again"
    );
    let stored = app.messages(&conversation).await;
    assert_eq!(stored.len(), 3, "nothing after the stopped tool");
}

/// The database query tool in a run: the model asks for a count of the person's messages and
/// reads the table; a write it tries is refused and the run goes on.
async fn the_agent_queries_the_persons_own_history(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (conversation, first) = send_with_tools(
        &app,
        r#"[call=query_database {"sql": "SELECT role, count(*) AS n FROM messages GROUP BY role ORDER BY role"}] [call=query_database {"sql": "DELETE FROM messages"}]"#,
        &["query_database"],
    )
    .await;
    let rows = app.follow_run(&first).await;
    assert_eq!(rows.len(), 4, "{rows:#?}");
    assert_eq!(rows[1]["tool_name"], "query_database");
    assert_eq!(rows[1]["status"], "complete", "{}", rows[1]);
    // While the run is under way its own rows are there: the question and the first step.
    let table = rows[1]["content"].as_str().unwrap();
    assert!(table.starts_with("| role | n |"), "{table}");
    assert!(table.contains("| user | 1 |"), "{table}");
    assert_eq!(rows[2]["status"], "error", "{}", rows[2]);
    assert!(
        rows[2]["content"]
            .as_str()
            .unwrap()
            .contains("only a SELECT"),
        "{}",
        rows[2]
    );
    let answer = rows[3]["content"].as_str().unwrap();
    assert!(
        answer.contains("| user | 1 |"),
        "the model read the table: {answer}"
    );
    // The refused DELETE removed nothing.
    assert_eq!(app.messages(&conversation).await.len(), 5);
}

/// The CSV summary tool reads the table the person pasted in the conversation.
async fn the_agent_summarises_a_pasted_csv(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, first) = send_with_tools(
        &app,
        "What is the average of units? [call=csv_summary {}]\n```csv\nregion,units\nNorth,10\nSouth,4\nEast,7\n```",
        &["csv_summary"],
    )
    .await;
    let rows = app.follow_run(&first).await;
    assert_eq!(rows.len(), 3, "{rows:#?}");
    assert_eq!(rows[1]["status"], "complete", "{}", rows[1]);
    let summary = rows[1]["content"].as_str().unwrap();
    assert!(
        summary.contains("units: numeric; count 3, missing 0, min 4, max 10, mean 7, median 7"),
        "{summary}"
    );
    assert!(summary.starts_with("3 rows, 2 columns."), "{summary}");
    // Called outside a conversation without CSV: a clear error.
    let (status, body) = app
        .post("/api/v1/tools/csv_summary/invoke", json!({"arguments": {}}))
        .await;
    assert_eq!(status, 200);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("pass the CSV text"),
        "{body}"
    );
}

/// The chart tool draws a column of the pasted CSV: its data is stored on the step and comes
/// back with the conversation (the page draws it as SVG); the model reads the same figures.
async fn the_agent_charts_a_pasted_csv(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, first) = send_with_tools(
        &app,
        "Chart units by month [call=csv_chart {\"column\":\"units\",\"by\":\"month\"}]\n```csv\nmonth,units\nJan,10\nFeb,4\nJan,5\nMar,<b>7</b>\n```",
        &["csv_chart"],
    )
    .await;
    let rows = app.follow_run(&first).await;
    assert_eq!(rows.len(), 3, "{rows:#?}");
    assert_eq!(rows[1]["tool_name"], "csv_chart");
    assert_eq!(rows[1]["status"], "complete", "{}", rows[1]);
    let chart = &rows[1]["charts"][0];
    assert_eq!(chart["kind"], "bar", "{chart}");
    assert_eq!(chart["title"], "units by month");
    // Rows of the same month are added up; a cell that is not a number is left out.
    assert_eq!(
        chart["points"],
        json!([{"label": "Jan", "value": 15.0}, {"label": "Feb", "value": 4.0}])
    );
    let result = rows[1]["content"].as_str().unwrap();
    assert!(
        result.contains("month | units\nJan | 15\nFeb | 4\n"),
        "{result}"
    );
    assert!(result.contains("1 rows without"), "{result}");
    // The answer and the messages without charts carry no `charts` field.
    assert!(rows[2].get("charts").is_none(), "{}", rows[2]);
    // The same chart straight from the tool.
    let (status, body) = app
        .post(
            "/api/v1/tools/csv_chart/invoke",
            json!({"arguments": {"column": "units", "csv": "units\n1\n2\n2\n9"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["charts"][0]["kind"], "histogram", "{body}");
    let counted: f64 = body["charts"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .sum();
    assert_eq!(counted, 4.0, "{body}");
}

on_both_backends!(
    the_agent_charts_a_pasted_csv,
    the_agent_summarises_a_pasted_csv,
    the_agent_queries_the_persons_own_history,
    a_multi_step_run_is_stored_streamed_and_sent_back,
    calls_spread_over_chunks_and_without_ids,
    bad_calls_are_errors_the_model_reads,
    the_step_limit_stops_a_model_that_keeps_calling,
    unknown_tool_names_are_refused_before_anything_is_stored,
    regenerate_replaces_the_whole_run,
    thinking_is_streamed_stored_apart_and_sent_back,
    a_model_without_native_tools_gets_them_by_prompt,
    ollama_failing_mid_run_ends_it_with_nothing_left_streaming,
    a_tool_that_times_out_is_an_error_and_the_run_goes_on,
    stop_during_a_tool_ends_the_run_and_reload_shows_the_steps,
);
