//! A person's own events (`GET /api/v1/events`), on SQLite and PostgreSQL: what changes in
//! their conversations arrives, in order, from any client and from the model; another
//! person's never does; a client that reconnects with `Last-Event-ID` gets what it missed;
//! on PostgreSQL an instance hears what another one did.
//!
//! Every test here sets the instances' timed read of the outbox to a minute, longer than any
//! wait for an event: what arrives was announced by the commit (the store on SQLite, NOTIFY on
//! PostgreSQL), and a change whose commit announces nothing fails the test.

mod common;

use common::{call_as, Backend, SseReader, TestApp};
use ollamastack::config::Settings;
use ollamastack::model::{AuthMode, PersonEvent};
use ollamastack::testing::fake_ollama::{FakeConfig, FakeOllama};
use reqwest::{header, Method};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// The person's event stream, read as a client reads it.
struct Events(SseReader);

impl Events {
    async fn open(app: &TestApp) -> Events {
        Events::open_with(app.at(Method::GET, "/api/v1/events")).await
    }

    async fn open_with(request: reqwest::RequestBuilder) -> Events {
        let mut events = Events(SseReader::open(request).await);
        assert_eq!(events.next().await.1, PersonEvent::Ready, "ready first");
        events
    }

    /// The next event and its id; fails after ten seconds without one.
    async fn next(&mut self) -> (Option<String>, PersonEvent) {
        let frame = tokio::time::timeout(Duration::from_secs(10), self.0.next())
            .await
            .expect("an event in time")
            .expect("the stream is open");
        let event = serde_json::from_str(&frame.data).expect("a PersonEvent");
        (frame.id, event)
    }

    async fn next_event(&mut self) -> PersonEvent {
        self.next().await.1
    }
}

/// Events are read only when a commit announces them (the timed read is a minute away).
fn announced_only(settings: &mut Settings) {
    settings.server.events_poll_ms = 60_000;
}

/// An app whose events are read only when announced.
async fn start(backend: Backend) -> TestApp {
    TestApp::start_with(backend, FakeConfig::default(), announced_only).await
}

/// Renames the conversation through the API.
async fn rename(app: &TestApp, conversation: &str, title: &str) {
    let (status, body) = app
        .patch(
            &format!("/api/v1/conversations/{conversation}"),
            json!({ "title": title }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

fn uuid(value: &serde_json::Value) -> Uuid {
    value.as_str().unwrap().parse().unwrap()
}

/// Every change to a conversation arrives, in order, each with an id.
async fn what_changes_arrives_in_order(backend: Backend) {
    let app = start(backend).await;
    let mut events = Events::open(&app).await;

    let (conversation, answer) = app.send_new("Hello there [tokens=3]").await;
    let conversation_id: Uuid = conversation.parse().unwrap();
    let answer_id: Uuid = answer.parse().unwrap();
    let (id, created) = events.next().await;
    assert!(id.is_some(), "events carry their id");
    assert_eq!(
        created,
        PersonEvent::ConversationCreated { conversation_id }
    );
    let PersonEvent::MessageSent {
        conversation_id: sent_in,
        message_id: sent,
    } = events.next_event().await
    else {
        panic!("a message_sent event");
    };
    assert_eq!(sent_in, conversation_id);
    let messages = app.messages(&conversation).await;
    assert_eq!(sent, uuid(&messages[0]["id"]), "the person's message");

    app.follow(&answer).await;
    assert_eq!(
        events.next_event().await,
        PersonEvent::AnswerFinished {
            conversation_id,
            message_id: answer_id,
            status: "complete".into()
        }
    );

    let (status, body) = app
        .patch(
            &format!("/api/v1/conversations/{conversation}"),
            json!({ "title": "Renamed" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        events.next_event().await,
        PersonEvent::ConversationRenamed { conversation_id }
    );

    // Another version of the answer shown: pages read the conversation again.
    let (status, again) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/regenerate"),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    app.follow(again["id"].as_str().unwrap()).await;
    assert!(matches!(
        events.next_event().await,
        PersonEvent::AnswerFinished { .. }
    ));
    let earlier = again["versions"]["previous"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/answer-versions/{earlier}/show"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        events.next_event().await,
        PersonEvent::AnswerVersionShown {
            conversation_id,
            message_id: sent
        }
    );

    let exported = app
        .get(&format!("/api/v1/conversations/{conversation}/export"))
        .await
        .1;
    let (status, imported) = app.post("/api/v1/conversations/import", exported).await;
    assert_eq!(status, 201, "{imported}");
    assert_eq!(
        events.next_event().await,
        PersonEvent::ConversationCreated {
            conversation_id: uuid(&imported["conversations"][0]["id"])
        }
    );

    let deleted = app
        .at(
            Method::DELETE,
            &format!("/api/v1/conversations/{conversation}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        events.next_event().await,
        PersonEvent::ConversationDeleted { conversation_id }
    );
    // A rename of what does not exist changes nothing, and tells nothing.
    let (status, _) = app
        .patch(
            &format!("/api/v1/conversations/{conversation}"),
            json!({ "title": "Gone" }),
        )
        .await;
    assert_eq!(status, 404);
    let (other, _) = app.send_new("Next [tokens=2]").await;
    assert_eq!(
        events.next_event().await,
        PersonEvent::ConversationCreated {
            conversation_id: other.parse().unwrap()
        },
        "nothing came between"
    );
}

/// The model's title arrives as such.
async fn the_models_title_arrives(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        announced_only(settings);
        settings.ai.auto_titles = true;
        settings.generation.title_poll_ms = 50;
    })
    .await;
    let mut events = Events::open(&app).await;
    let (conversation, answer) = app.send_new("Name me [tokens=3]").await;
    let conversation_id = conversation.parse().unwrap();
    app.follow(&answer).await;
    let mut heard = Vec::new();
    while heard.last() != Some(&PersonEvent::ConversationTitled { conversation_id }) {
        heard.push(events.next_event().await);
    }
    assert!(
        matches!(
            heard[..],
            [
                PersonEvent::ConversationCreated { .. },
                PersonEvent::MessageSent { .. },
                PersonEvent::AnswerFinished { .. },
                _
            ]
        ),
        "{heard:?}"
    );
    let (_, now) = app
        .get(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(now["conversation"]["title_source"], "model");
}

/// Bob hears his own events and never Alice's; nobody hears anything signed out.
async fn another_persons_events_never_arrive(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        announced_only(settings);
        settings.auth.mode = AuthMode::Accounts;
    })
    .await;
    let (alice, bob) = common::admin_and_user(&app, "alice", "bob").await;
    let signed_out = app.at(Method::GET, "/api/v1/events").send().await.unwrap();
    assert_eq!(signed_out.status(), 401);

    let mut bobs = Events::open_with(
        app.at(Method::GET, "/api/v1/events")
            .header(header::COOKIE, &bob),
    )
    .await;
    let (status, sent) = call_as(
        &app,
        &alice,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({ "content": "Alice's secret [tokens=2]" })),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    let alices_conversation = sent["conversation"]["id"].as_str().unwrap().to_string();
    let (status, _) = call_as(
        &app,
        &alice,
        Method::PATCH,
        &format!("/api/v1/conversations/{alices_conversation}"),
        Some(json!({ "title": "Still secret" })),
    )
    .await;
    assert_eq!(status, 200);
    // Long enough for Alice's events to have been read and handed on.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (status, sent) = call_as(
        &app,
        &bob,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({ "content": "Bob's own [tokens=2]" })),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(
        bobs.next_event().await,
        PersonEvent::ConversationCreated {
            conversation_id: uuid(&sent["conversation"]["id"])
        },
        "Bob's first event is his own"
    );
}

/// A client that reconnects with the last id it received gets what happened meanwhile, in
/// order, and nothing twice; without it, only what happens from then on.
async fn a_client_that_reconnects_misses_nothing(backend: Backend) {
    let app = start(backend).await;
    let mut events = Events::open(&app).await;
    let (conversation, answer) = app.send_new("Before [tokens=2]").await;
    let conversation_id: Uuid = conversation.parse().unwrap();
    let (first, _) = events.next().await;
    let (last_heard, _) = events.next().await;
    drop(events);

    app.follow(&answer).await;
    let (status, _) = app
        .patch(
            &format!("/api/v1/conversations/{conversation}"),
            json!({ "title": "Meanwhile" }),
        )
        .await;
    assert_eq!(status, 200);

    let mut resumed = Events::open_with(
        app.at(Method::GET, "/api/v1/events")
            .header("last-event-id", last_heard.clone().unwrap()),
    )
    .await;
    let (finished_id, finished) = resumed.next().await;
    assert!(
        matches!(finished, PersonEvent::AnswerFinished { .. }),
        "{finished:?}"
    );
    let (renamed_id, renamed) = resumed.next().await;
    assert_eq!(
        renamed,
        PersonEvent::ConversationRenamed { conversation_id }
    );
    // Not sent again live: the next event is a new one.
    let (other, _) = app.send_new("After [tokens=2]").await;
    assert_eq!(
        resumed.next_event().await,
        PersonEvent::ConversationCreated {
            conversation_id: other.parse().unwrap()
        }
    );
    // Heard to its answer's end, so that none of it is on its way when the streams below open.
    assert!(matches!(
        resumed.next_event().await,
        PersonEvent::MessageSent { .. }
    ));
    assert!(matches!(
        resumed.next_event().await,
        PersonEvent::AnswerFinished { .. }
    ));

    // From the first event: the second one too.
    let mut from_first = Events::open_with(
        app.at(Method::GET, "/api/v1/events")
            .header("last-event-id", first.unwrap()),
    )
    .await;
    assert_eq!(from_first.next().await.0, last_heard);
    assert_eq!(from_first.next().await.0, finished_id);
    assert_eq!(from_first.next().await.0, renamed_id);

    // An id that is not one of the person's events: only what comes next.
    let mut unknown = Events::open_with(
        app.at(Method::GET, "/api/v1/events")
            .header("last-event-id", Uuid::now_v7().to_string()),
    )
    .await;
    let (status, _) = app
        .patch(
            &format!("/api/v1/conversations/{conversation}"),
            json!({ "title": "Now" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        unknown.next_event().await,
        PersonEvent::ConversationRenamed { conversation_id }
    );
}

/// A person holds at most `limits.max_event_streams_per_person` streams of their events,
/// and those never take the place of the answers they follow.
async fn event_streams_are_counted_apart(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        announced_only(settings);
        settings.limits.max_event_streams_per_person = 2;
        settings.limits.max_streams_per_person = 1;
    })
    .await;
    let _one = Events::open(&app).await;
    let mut two = Events::open(&app).await;
    let third = app.at(Method::GET, "/api/v1/events").send().await.unwrap();
    assert_eq!(third.status(), 429);
    let (_, answer) = app.send_new("Still followed [tokens=3]").await;
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "complete");
    assert!(matches!(
        two.next_event().await,
        PersonEvent::ConversationCreated { .. }
    ));
    drop(two);
    // The slot is free again once the client closed its stream (as soon as the server sees
    // the connection go, with no event to write).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let again = app.at(Method::GET, "/api/v1/events").send().await.unwrap();
        if again.status() == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot stays taken"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A stream tells what happens once it is open, not what happened just before (the server
/// reads a few seconds back so as to miss nothing, and must not pass that on as news).
async fn a_new_stream_hears_only_what_follows(backend: Backend) {
    let app = start(backend).await;
    let (conversation, answer) = app.send_new("Before anyone listened [tokens=2]").await;
    app.follow(&answer).await;
    let conversation_id: Uuid = conversation.parse().unwrap();
    let mut first = Events::open(&app).await;
    rename(&app, &conversation, "Heard by the first").await;
    assert_eq!(
        first.next_event().await,
        PersonEvent::ConversationRenamed { conversation_id }
    );
    // A second listener, while the first keeps the instance reading.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut second = Events::open(&app).await;
    let (other, _) = app.send_new("After the second opened [tokens=1]").await;
    assert_eq!(
        second.next_event().await,
        PersonEvent::ConversationCreated {
            conversation_id: other.parse().unwrap()
        }
    );
}

/// An event committed late (its time well before events already handed on: a transaction
/// that waited for a lock) is still heard, once: by the timed read, which looks further back
/// than the reads woken by each commit.
async fn a_late_commit_is_still_heard_once(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.server.events_poll_ms = 300;
    })
    .await;
    let (conversation, answer) = app.send_new("Renamed a lot [tokens=2]").await;
    app.follow(&answer).await;
    let conversation_id: Uuid = conversation.parse().unwrap();
    let mut events = Events::open(&app).await;
    let renamed = PersonEvent::ConversationRenamed { conversation_id };
    rename(&app, &conversation, "First").await;
    assert_eq!(events.next_event().await, renamed);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    rename(&app, &conversation, "Second").await;
    assert_eq!(events.next_event().await, renamed);
    // Committed now, dated two seconds ago (after the stream opened, before "Second").
    let late = Uuid::now_v7();
    let inserted = common::set_time(
        &app.state.store,
        "INSERT INTO outbox (id, owner_id, kind, subject_id, payload, created_at) \
         SELECT $2, owner_id, kind, subject_id, payload, $1 FROM outbox \
         WHERE kind = 'conversation.renamed' ORDER BY created_at DESC LIMIT 1",
        chrono::Utc::now() - chrono::Duration::seconds(2),
        late,
    )
    .await;
    assert_eq!(inserted, 1);
    let (id, event) = events.next().await;
    assert_eq!(
        (id, event),
        (Some(late.to_string()), renamed.clone()),
        "the late event"
    );
    rename(&app, &conversation, "Third").await;
    let (id, event) = events.next().await;
    assert_eq!(event, renamed);
    assert_ne!(id, Some(late.to_string()), "the late event only once");
}

on_both_backends!(
    what_changes_arrives_in_order,
    a_late_commit_is_still_heard_once,
    the_models_title_arrives,
    another_persons_events_never_arrive,
    a_client_that_reconnects_misses_nothing,
    event_streams_are_counted_apart,
    a_new_stream_hears_only_what_follows,
);

/// Two instances on one PostgreSQL: a page served by one hears what was done on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_hears_what_another_did() {
    let a = start(Backend::Postgres).await;
    let fake = FakeOllama::start(FakeConfig::default()).await.unwrap();
    let db = a.db.alias();
    let mut settings = common::test_settings(&db, &fake.url());
    announced_only(&mut settings);
    let b = TestApp::serve(db, fake, settings).await;
    let mut on_b = Events::open(&b).await;
    let (conversation, answer) = a.send_new("Written on A [tokens=2]").await;
    assert_eq!(
        on_b.next_event().await,
        PersonEvent::ConversationCreated {
            conversation_id: conversation.parse().unwrap()
        }
    );
    assert!(matches!(
        on_b.next_event().await,
        PersonEvent::MessageSent { .. }
    ));
    a.follow(&answer).await;
    assert!(matches!(
        on_b.next_event().await,
        PersonEvent::AnswerFinished { .. }
    ));
}
