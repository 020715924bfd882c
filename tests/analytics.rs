//! Analytics on SQLite and PostgreSQL: known traffic through the real API, then every figure of
//! `GET /api/v1/analytics` compared with what the stored messages say.

mod common;

use common::{Backend, TestApp};
use ollamastack::analytics::AnalyticsEvent;
use serde_json::{json, Value};

async fn report(app: &TestApp, timeframe: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/v1/analytics?timeframe={timeframe}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn count(list: &Value, name: &str) -> i64 {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name || c["model"] == name)
        .map(|c| c["count"].as_i64().or(c["answers"].as_i64()).unwrap())
        .unwrap_or(0)
}

/// The nearest-rank percentile of `values` (sorted).
fn percentile(values: &[i64], p: f64) -> f64 {
    let rank = ((p * values.len() as f64).ceil() as usize).max(1);
    values[rank - 1] as f64
}

async fn every_figure_matches_the_traffic(backend: Backend) {
    let app = TestApp::start(backend).await;
    let empty = report(&app, "24h").await;
    assert_eq!(empty["totals"]["messages"], 0, "{empty}");
    assert_eq!(empty["response_time"]["p50_ms"], Value::Null);
    assert_eq!(empty["series"].as_array().unwrap().len(), 24);

    // Known traffic: three conversations, six messages, two models, an error, a stop, an agent
    // run with two tool calls, an upload.
    let mut conversations = Vec::new();
    let (first, answer) = app.send_new("hello [tokens=12]").await;
    app.follow(&answer).await;
    for content in ["more [tokens=30]", "again [tokens=5]"] {
        let outcome = app.send_in(&first, json!({ "content": content })).await;
        app.follow(outcome["assistant_message"]["id"].as_str().unwrap())
            .await;
    }
    conversations.push(first);
    let (second, answer) = app
        .send_new_with(json!({ "content": "small model [tokens=8]", "model": "qwen2.5:0.5b" }))
        .await;
    app.follow(&answer).await;
    let outcome = app
        .send_in(&second, json!({ "content": "fail now [error]" }))
        .await;
    app.follow(outcome["assistant_message"]["id"].as_str().unwrap())
        .await;
    conversations.push(second);
    let (third, answer) = app
        .send_new_with(json!({
            "content": r#"count [call=calculator {"expression":"6*7"}][call=calculator {"expression":"2+2"}]"#,
            "model": "llama3.2",
            "tools": ["calculator"],
        }))
        .await;
    app.follow_run(&answer).await;
    conversations.push(third);
    assert_eq!(
        app.upload_text("notes.txt", "The boiler is serviced in May.")
            .await,
        201
    );
    // Its indexing ends in the background with an event of its own: wait for it, so that
    // the traffic is whole before it is counted.
    for _ in 0..200 {
        let (_, files) = app.get("/api/v1/files").await;
        if matches!(files[0]["status"].as_str(), Some("ready" | "failed")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The truth, from the stored messages.
    let mut messages = Vec::new();
    for id in &conversations {
        let (_, body) = app.get(&format!("/api/v1/conversations/{id}")).await;
        messages.extend(body["messages"].as_array().unwrap().iter().cloned());
    }
    let user: Vec<&Value> = messages.iter().filter(|m| m["role"] == "user").collect();
    let answers: Vec<&Value> = messages
        .iter()
        .filter(|m| m["role"] == "assistant")
        .collect();
    let tools: Vec<&Value> = messages.iter().filter(|m| m["role"] == "tool").collect();
    let with_status =
        |status: &str| answers.iter().filter(|m| m["status"] == status).count() as i64;
    let sum = |field: &str| -> i64 { answers.iter().filter_map(|m| m[field].as_i64()).sum() };
    let complete: Vec<&&Value> = answers
        .iter()
        .filter(|m| m["status"] == "complete")
        .collect();
    let mut durations: Vec<i64> = complete
        .iter()
        .filter_map(|m| m["duration_ms"].as_i64())
        .collect();
    let mut ttfts: Vec<i64> = complete
        .iter()
        .filter_map(|m| m["ttft_ms"].as_i64())
        .collect();
    durations.sort_unstable();
    ttfts.sort_unstable();
    assert_eq!(user.len(), 6);
    assert_eq!(tools.len(), 2);
    assert_eq!(with_status("error"), 1);

    let report_24h = report(&app, "24h").await;
    let totals = &report_24h["totals"];
    assert_eq!(totals["messages"], 6, "{report_24h}");
    assert_eq!(totals["conversations"], 3);
    assert_eq!(totals["answers"], answers.len() as i64);
    assert_eq!(totals["tool_calls"], 2);
    assert_eq!(totals["uploads"], 1);
    assert_eq!(totals["active_days"], 1);
    assert_eq!(totals["prompt_tokens"], sum("prompt_tokens"));
    assert_eq!(totals["completion_tokens"], sum("completion_tokens"));
    let statuses = &report_24h["statuses"];
    assert_eq!(count(statuses, "complete"), with_status("complete"));
    assert_eq!(count(statuses, "error"), 1);
    let error_rate = report_24h["error_rate"].as_f64().unwrap();
    assert!(
        (error_rate - 1.0 / answers.len() as f64).abs() < 1e-9,
        "{error_rate}"
    );

    // Models: how many answers each, and their share.
    let on_small = answers
        .iter()
        .filter(|m| m["model"] == "qwen2.5:0.5b")
        .count() as i64;
    let top = &report_24h["top_models"];
    assert_eq!(top[0]["model"], "llama3.2");
    assert_eq!(count(top, "llama3.2"), answers.len() as i64 - on_small);
    assert_eq!(count(top, "qwen2.5:0.5b"), on_small);
    let share = top[1]["share"].as_f64().unwrap();
    assert!((share - on_small as f64 / answers.len() as f64).abs() < 1e-9);

    // Events by type, every one of them.
    let by_type = &report_24h["events_by_type"];
    assert_eq!(count(by_type, "message.sent"), 6);
    assert_eq!(count(by_type, "conversation.created"), 3);
    assert_eq!(count(by_type, "generation.finished"), answers.len() as i64);
    assert_eq!(count(by_type, "tool.finished"), 2);
    assert_eq!(count(by_type, "file.uploaded"), 1);

    // Times: the average exactly, percentiles within the histogram's 1%.
    let response = &report_24h["response_time"];
    assert_eq!(response["count"], durations.len() as i64);
    let average = durations.iter().sum::<i64>() as f64 / durations.len() as f64;
    assert!(
        (response["avg_ms"].as_f64().unwrap() - average).abs() <= 0.05 + 1e-9,
        "{response} vs {average}"
    );
    for (key, p) in [("p50_ms", 0.5), ("p95_ms", 0.95)] {
        let truth = percentile(&durations, p);
        let shown = response[key].as_f64().unwrap();
        assert!(
            (shown - truth).abs() <= 0.01 * truth + 0.5,
            "{key}: {shown} vs {truth}"
        );
    }
    let ttft = &report_24h["time_to_first_token"];
    let truth = percentile(&ttfts, 0.5);
    assert!(
        (ttft["p50_ms"].as_f64().unwrap() - truth).abs() <= 0.01 * truth + 0.5,
        "{ttft}"
    );

    // Tokens per second: completion tokens over generating time (duration less first token).
    let (tokens, ms) = answers
        .iter()
        .filter_map(|m| {
            Some((
                m["completion_tokens"].as_i64()?,
                m["duration_ms"].as_i64()?,
                m["ttft_ms"].as_i64()?,
            ))
        })
        .filter(|(t, d, f)| *t > 0 && d > f)
        .fold((0, 0), |(a, b), (t, d, f)| (a + t, b + d - f));
    if ms > 0 {
        let expected = ((tokens as f64 * 1000.0 / ms as f64) * 10.0).round() / 10.0;
        assert_eq!(report_24h["tokens_per_second"].as_f64().unwrap(), expected);
    }

    // The series adds up to the totals.
    let series = report_24h["series"].as_array().unwrap();
    assert_eq!(series.len(), 24);
    let in_series = |field: &str| {
        series
            .iter()
            .map(|p| p[field].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(in_series("messages"), 6);
    assert_eq!(in_series("answers"), answers.len() as i64);
    assert_eq!(in_series("errors"), 1);
    assert_eq!(in_series("completion_tokens"), sum("completion_tokens"));

    // Longer windows hold the same events, by day.
    for (timeframe, buckets) in [("7d", 7), ("30d", 30)] {
        let longer = report(&app, timeframe).await;
        assert_eq!(longer["totals"], report_24h["totals"], "{timeframe}");
        assert_eq!(longer["bucket"], "day");
        assert_eq!(longer["series"].as_array().unwrap().len(), buckets);
    }

    // Recording again records nothing twice.
    assert_eq!(
        ollamastack::analytics::catch_up(&app.state.store)
            .await
            .unwrap(),
        0
    );
    assert_eq!(report(&app, "24h").await["totals"], report_24h["totals"]);

    // Another person's events are theirs only.
    let other = app.state.store.ensure_user("someone-else").await.unwrap();
    let event = AnalyticsEvent {
        id: uuid::Uuid::now_v7(),
        owner_id: other,
        kind: "message.sent".into(),
        at: chrono::Utc::now(),
        model: Some("llama3.2".into()),
        status: None,
        prompt_tokens: None,
        completion_tokens: None,
        ttft_ms: None,
        duration_ms: None,
    };
    assert_eq!(
        app.state
            .store
            .record_events(std::slice::from_ref(&event))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app.state.store.record_events(&[event]).await.unwrap(),
        0,
        "once"
    );
    assert_eq!(report(&app, "24h").await["totals"]["messages"], 6);

    // A bad timeframe; the feature switched off.
    let (status, body) = app.get("/api/v1/analytics?timeframe=1y").await;
    assert_eq!(status, 422, "{body}");
    let response = app
        .at(reqwest::Method::PUT, "/api/v1/settings/features.analytics")
        .json(&json!({ "value": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = app.get("/api/v1/analytics").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("feature_off"))
    );
}

/// The recorder task records events without any report asking.
async fn the_recorder_records_in_the_background(backend: Backend) {
    let app = TestApp::start_with(backend, Default::default(), |settings| {
        settings.analytics.record_interval_ms = 100;
    })
    .await;
    let (_, answer) = app.send_new("hello").await;
    app.follow(&answer).await;
    let mut recorded = 0;
    for _ in 0..100 {
        let since = chrono::Utc::now() - chrono::TimeDelta::hours(2);
        let totals = app
            .state
            .store
            .totals_since(
                ollamastack::db::analytics::ReportScope::Person(app.state.local_user.0),
                ollamastack::model::Bucket::Hour,
                since,
            )
            .await
            .unwrap();
        recorded = totals.iter().map(|t| t.events).sum::<i64>();
        if recorded >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // message.sent, conversation.created, generation.finished.
    assert_eq!(recorded, 3);
}

/// Each person sees their own figures; an admin may see the whole instance's.
async fn an_admin_sees_the_instances_figures(backend: Backend) {
    let app = TestApp::start_with(backend, Default::default(), |settings| {
        settings.auth.mode = ollamastack::model::AuthMode::Accounts;
    })
    .await;
    let (alice, bob) = common::admin_and_user(&app, "alice", "bob").await;
    for (cookie, text) in [
        (&alice, "From Alice [tokens=2]"),
        (&bob, "From Bob [tokens=2]"),
        (&bob, "Bob again [tokens=2]"),
    ] {
        let (status, _) = common::call_as(
            &app,
            cookie,
            reqwest::Method::POST,
            "/api/v1/conversations",
            Some(serde_json::json!({"content": text})),
        )
        .await;
        assert_eq!(status, 201);
    }
    let messages = |cookie: &str, path: &'static str| {
        let cookie = cookie.to_string();
        let app = &app;
        async move { common::call_as(app, &cookie, reqwest::Method::GET, path, None).await }
    };
    let (_, own) = messages(&alice, "/api/v1/analytics").await;
    assert_eq!(own["totals"]["messages"], 1, "{own}");
    let (_, bobs) = messages(&bob, "/api/v1/analytics?scope=person").await;
    assert_eq!(bobs["totals"]["messages"], 2, "{bobs}");
    let (status, everyone) =
        messages(&alice, "/api/v1/analytics?scope=instance&timeframe=7d").await;
    assert_eq!(status, 200, "{everyone}");
    assert_eq!(everyone["totals"]["messages"], 3, "{everyone}");
    assert_eq!(everyone["totals"]["conversations"], 3, "{everyone}");
    let (status, refused) = messages(&bob, "/api/v1/analytics?scope=instance").await;
    assert_eq!(status, 403, "{refused}");
    let (status, _) = messages(&alice, "/api/v1/analytics?scope=galaxy").await;
    assert_eq!(status, 422);
}

on_both_backends!(
    an_admin_sees_the_instances_figures,
    every_figure_matches_the_traffic,
    the_recorder_records_in_the_background,
);
