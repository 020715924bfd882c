//! Several instances on one PostgreSQL: a starting instance leaves the others' answers alone,
//! watchers follow an answer written elsewhere through LISTEN/NOTIFY, and answers whose writer
//! died are swept.

mod common;

use common::{text_of, Backend, TestApp, TestDb};
use ollamastack::testing::fake_ollama::{expected_answer, FakeConfig, FakeOllama};
use std::time::Duration;

async fn second_instance(
    first: &TestApp,
    tweak: impl FnOnce(&mut ollamastack::config::Settings),
) -> TestApp {
    let fake = FakeOllama::start(FakeConfig::default()).await.unwrap();
    let db = first.db.alias();
    let mut settings = common::test_settings(&db, &fake.url());
    tweak(&mut settings);
    TestApp::serve(db, fake, settings).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_one_instance_leaves_the_others_answer_alone() {
    let a = TestApp::start(Backend::Postgres).await;
    let b = second_instance(&a, |_| {}).await;
    assert!(b.state.notifier.pushes(), "PostgreSQL pushes changes");

    let (conversation, answer) = a.send_new("long [tokens=60] [delay=30]").await;
    // B follows an answer that A writes: it is pushed to B through the database. The stream is
    // open before B shuts down (opening it inside the task raced the shutdown).
    let mut events = common::EventReader::open(&b, &answer).await;
    let follower = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(event) = tokio::time::timeout(Duration::from_secs(20), events.next())
            .await
            .expect("an event in time")
        {
            let done = matches!(event, ollamastack::model::StreamEvent::Done { .. });
            seen.push(event);
            if done {
                break;
            }
        }
        seen
    });
    a.wait_for_message(&conversation, &answer, 10, |m| {
        m["content"].as_str().is_some_and(|c| !c.is_empty())
    })
    .await;

    // B restarts while A is writing.
    let (db, fake) = b.shutdown().await;
    let settings = common::test_settings(&db, &fake.url());
    let b = TestApp::serve(db, fake, settings).await;
    let mid = b.message(&conversation, &answer).await;
    assert_eq!(
        mid["status"], "streaming",
        "B's start did not interrupt A's answer: {mid}"
    );

    let (_, done) = a.follow(&answer).await;
    assert_eq!(done["status"], "complete", "{done}");
    assert_eq!(done["content"], expected_answer(60));

    // A watcher on the restarted B sees the final row.
    let (events, done_on_b) = b.follow(&answer).await;
    assert_eq!(events.len(), 1);
    assert_eq!(done_on_b["content"], expected_answer(60));

    // The watcher on the old B was cut off by its shutdown; what it got was in order.
    let seen = follower.await.unwrap();
    assert!(
        matches!(
            seen.first(),
            Some(ollamastack::model::StreamEvent::Snapshot { .. })
        ),
        "the watcher on B was following: {seen:?}"
    );
    assert!(
        expected_answer(60).starts_with(&text_of(&seen)),
        "a prefix of the answer, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_on_another_instance_gets_the_whole_answer_pushed() {
    let a = TestApp::start(Backend::Postgres).await;
    let b = second_instance(&a, |_| {}).await;
    let (_, answer) = a.send_new("[tokens=40] [delay=20]").await;
    let (events, done) = b.follow(&answer).await;
    assert_eq!(done["status"], "complete");
    assert_eq!(text_of(&events), expected_answer(40));
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, ollamastack::model::StreamEvent::Delta { .. }))
            .count()
            >= 2,
        "followed in steps, not only at the end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_whose_writer_died_is_swept_by_a_live_instance() {
    let a = TestApp::start_with(Backend::Postgres, FakeConfig::default(), |s| {
        s.generation.heartbeat_timeout_ms = 1_000;
        s.generation.sweep_interval_ms = 100;
    })
    .await;
    let store = a.db.store().await;
    let owner = a.state.local_user.0;
    let conversation = store
        .create_conversation(owner, "orphan", "llama3.2", None)
        .await
        .unwrap();
    // A row another instance was writing when it died: its heartbeat stops.
    let orphan = common::insert_streaming_answer(&store, owner, conversation.id).await;
    store
        .append_partial(owner, orphan.id, "before the crash", "")
        .await
        .unwrap();
    let stored = a
        .wait_for_message(
            &conversation.id.to_string(),
            &orphan.id.to_string(),
            10,
            |m| m["status"] != "streaming",
        )
        .await;
    assert_eq!(stored["status"], "interrupted");
    assert_eq!(stored["content"], "before the crash");
    // Meanwhile A's own answers, with fresh heartbeats, are never swept.
    let (_, answer) = a.send_new("[tokens=60] [delay=40]").await;
    let (_, done) = a.follow(&answer).await;
    assert_eq!(done["status"], "complete", "{done}");
    let _keep: &TestDb = &a.db;
}
