//! How soon a change reaches the person's other pages (`GET /api/v1/events`): a conversation is
//! renamed through the REST API, and the time until every open stream has the event is taken,
//! from the moment the rename was sent.
//!
//!     cargo bench --features ssr --bench events [-- RUNS] [sqlite|postgres|both]
//!
//! For each database: one listener, then 100 at once (the same person's tabs: each must get
//! it); on PostgreSQL also a second instance on the same database, the listener on it and the
//! rename on the first. Also, on the first instance: how soon a webhook for renames receives
//! its delivery, and how soon the model's title is heard after the answer's end (the fake
//! model answers at once, so this is the server's own wait). The default settings are used: a commit announces its events (the
//! store on SQLite, NOTIFY on PostgreSQL) and the instance reads them at once. The renames come
//! at uneven intervals, at another moment of the timed read's period each time.

mod common;

use ollamastack::testing::fake_ollama::{FakeConfig, FakeOllama};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100);
    let fake = FakeOllama::start(FakeConfig::default())
        .await
        .expect("fake ollama");
    println!(
        "a rename heard by the person's open event streams, {runs} renames each (default settings)"
    );
    for backend in common::backends(&args) {
        let data = tempfile::tempdir().unwrap();
        let mut settings = common::settings(data.path(), &fake.url());
        settings.limits.max_event_streams_per_person = 1_000;
        settings.security.secret_key =
            Some("a-benchmark-secret-key-shared-by-both-instances".into());
        let database = match backend {
            "postgres" => Some(common::fresh_postgres().await),
            _ => None,
        };
        settings.database.url = database.as_ref().map(|(url, _)| url.clone());
        // The webhook receiver below runs on this machine.
        settings.outbound.allowed_hosts = vec!["localhost".into()];
        let app = common::serve(settings.clone()).await;
        let http = reqwest::Client::new();
        let conversation = start_conversation(&http, &app.url).await;

        let mut delivered = delivered_after_renames(&http, &app.url, &conversation, runs).await;
        report(
            &format!("{backend}, a webhook: the rename sent until its delivery arrived"),
            &mut delivered,
        );
        let mut titled = titled_after_answers(&http, &app.url, runs.min(30)).await;
        report(
            &format!("{backend}, the model's title: the answer's end heard until the title is heard (fake model, at once)"),
            &mut titled,
        );

        for listeners in [1, 100] {
            let mut heard =
                heard_after_renames(&http, &app.url, &app.url, &conversation, listeners, runs)
                    .await;
            report(
                &format!("{backend}, {listeners} listener(s), same instance"),
                &mut heard,
            );
        }
        if backend == "postgres" {
            let other_data = tempfile::tempdir().unwrap();
            let mut other = settings.clone();
            other.database.data_dir = other_data.path().to_path_buf();
            let b = common::serve(other).await;
            let mut heard =
                heard_after_renames(&http, &app.url, &b.url, &conversation, 1, runs).await;
            report("postgres, 1 listener on the other instance", &mut heard);
            b.stop().await;
        }
        app.stop().await;
        if let Some((_, name)) = database {
            common::drop_postgres(&name).await;
        }
    }
}

/// A conversation to rename (its first answer written).
async fn start_conversation(http: &reqwest::Client, app: &str) -> String {
    let created = common::post_json(
        http,
        &format!("{app}/api/v1/conversations"),
        json!({ "content": "Rename me [tokens=2]" }),
    )
    .await;
    created["conversation"]["id"].as_str().unwrap().to_string()
}

/// Renames the conversation `runs` times on `writer`, each once every listener on `reader`
/// heard the one before; for each, how long until the last listener heard it.
async fn heard_after_renames(
    http: &reqwest::Client,
    writer: &str,
    reader: &str,
    conversation: &str,
    listeners: usize,
    runs: usize,
) -> Vec<Duration> {
    let mut streams = Vec::with_capacity(listeners);
    for _ in 0..listeners {
        let mut stream = Stream::open(http, reader).await;
        assert_eq!(stream.next_type().await, "ready");
        streams.push(stream);
    }
    let mut heard = Vec::with_capacity(runs);
    for run in 0..runs {
        let sent = rename(http, writer, conversation, run).await;
        let all = futures::future::join_all(
            streams
                .iter_mut()
                .map(|s| async move { while s.next_type().await != "conversation_renamed" {} }),
        );
        tokio::time::timeout(Duration::from_secs(10), all)
            .await
            .expect("every listener heard the rename");
        heard.push(sent.elapsed());
    }
    heard
}

/// After an uneven pause, renames the conversation (the `run`th time); when it was sent. The
/// pause puts each rename at a different moment of a timed read's period (right after an event
/// was heard is right after a read).
async fn rename(http: &reqwest::Client, app: &str, conversation: &str, run: usize) -> Instant {
    tokio::time::sleep(Duration::from_millis((run as u64 * 37) % 250)).await;
    let sent = Instant::now();
    let renamed = http
        .patch(format!("{app}/api/v1/conversations/{conversation}"))
        .json(&json!({ "title": format!("Renamed {run}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    sent
}

/// Registers a webhook for renames with a receiver on this machine, renames the conversation
/// `runs` times (each once the delivery before arrived); for each, the time from sending the
/// rename until its delivery arrived. The webhook is removed at the end.
async fn delivered_after_renames(
    http: &reqwest::Client,
    app: &str,
    conversation: &str,
    runs: usize,
) -> Vec<Duration> {
    let (arrived, mut arrivals) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let _ = arrived.send(Instant::now());
            async { axum::http::StatusCode::NO_CONTENT }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiving = tokio::spawn(async move { axum::serve(listener, receiver).await });
    let made = common::post_json(
http,
        &format!("{app}/api/v1/webhooks"),
        json!({ "url": format!("http://localhost:{port}/hook"), "events": ["conversation_renamed"] }),
    )
    .await;
    let webhook = made["id"].as_str().expect("a webhook").to_string();
    let mut delivered = Vec::with_capacity(runs);
    for run in 0..runs {
        let sent = rename(http, app, conversation, run).await;
        let at = tokio::time::timeout(Duration::from_secs(10), arrivals.recv())
            .await
            .expect("the delivery arrived")
            .unwrap();
        delivered.push(at - sent);
    }
    let removed = http
        .delete(format!("{app}/api/v1/webhooks/{webhook}"))
        .send()
        .await
        .unwrap();
    assert!(removed.status().is_success());
    receiving.abort();
    delivered
}

/// Switches the model's titles on, starts `runs` conversations one after another, and for
/// each takes the time from hearing its answer's end until hearing its title, on the
/// person's event stream (as a page does). Titles are switched off again at the end.
async fn titled_after_answers(http: &reqwest::Client, app: &str, runs: usize) -> Vec<Duration> {
    let switch = |on: bool| async move {
        let saved = http
            .patch(format!("{app}/api/v1/settings"))
            .json(&json!({ "ai.auto_titles": on }))
            .send()
            .await
            .unwrap();
        assert_eq!(saved.status(), 200);
    };
    switch(true).await;
    let mut stream = Stream::open(http, app).await;
    assert_eq!(stream.next_type().await, "ready");
    let mut titled = Vec::with_capacity(runs);
    for run in 0..runs {
        tokio::time::sleep(Duration::from_millis((run as u64 * 37) % 250)).await;
        let created = common::post_json(
            http,
            &format!("{app}/api/v1/conversations"),
            json!({ "content": format!("Name conversation {run} [tokens=4]") }),
        )
        .await;
        assert!(created["conversation"]["id"].is_string(), "{created}");
        let ended = tokio::time::timeout(Duration::from_secs(10), async {
            while stream.next_type().await != "answer_finished" {}
            Instant::now()
        })
        .await
        .expect("the answer ended");
        tokio::time::timeout(Duration::from_secs(10), async {
            while stream.next_type().await != "conversation_titled" {}
        })
        .await
        .expect("the title arrived");
        titled.push(ended.elapsed());
    }
    switch(false).await;
    titled
}

fn report(what: &str, heard: &mut [Duration]) {
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!(
        "  {what}: p50 {}, p95 {}, max {}",
        ms(common::percentile(heard, 0.5)),
        ms(common::percentile(heard, 0.95)),
        ms(common::percentile(heard, 1.0)),
    );
}

/// One event stream of the person's events.
struct Stream(common::SseEvents);

impl Stream {
    async fn open(http: &reqwest::Client, app: &str) -> Stream {
        let response = http
            .get(format!("{app}/api/v1/events"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        Stream(common::SseEvents::new(response))
    }

    /// The `type` of the next event.
    async fn next_type(&mut self) -> String {
        let event = self.0.next().await.unwrap().expect("the stream is open");
        event["type"].as_str().unwrap_or_default().to_string()
    }
}
