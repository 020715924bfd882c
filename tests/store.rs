//! The store suite: the same tests, unchanged, against SQLite and PostgreSQL.

mod common;

use common::{Backend, TestDb};
use ollamastack::db::{
    Finish, NewMessage, Turn, TurnConversation, TurnError, OUTBOX_GENERATION_FINISHED,
};
use ollamastack::model::{
    Chart, ChartKind, ChartPoint, Charts, GenerationMetrics, MessageStatus, Role,
};

fn user_message(
    conversation_id: uuid::Uuid,
    owner_id: uuid::Uuid,
    content: &str,
) -> NewMessage<'_> {
    NewMessage {
        conversation_id,
        owner_id,
        role: Role::User,
        content,
        model: None,
        status: MessageStatus::Complete,
        tool_calls: Default::default(),
        tool_name: None,
        attachments: None,
    }
}

async fn titles(store: &ollamastack::db::SharedStore, owner: uuid::Uuid) -> Vec<String> {
    let conversations = store.list_conversations(owner).await.unwrap();
    conversations.into_iter().map(|c| c.title).collect()
}

async fn users_are_created_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let a = store.ensure_user("local").await.unwrap();
    let b = store.ensure_user("local").await.unwrap();
    let other = store.ensure_user("someone").await.unwrap();
    assert_eq!(a, b);
    assert_ne!(a, other);
}

async fn conversations_are_listed_newest_activity_first_and_scoped(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let me = store.ensure_user("me").await.unwrap();
    let them = store.ensure_user("them").await.unwrap();
    let first = store
        .create_conversation(me, "first", "llama3.2", None)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let second = store
        .create_conversation(me, "second", "llama3.2", Some("Be brief."))
        .await
        .unwrap();
    let theirs = store
        .create_conversation(them, "theirs", "llama3.2", None)
        .await
        .unwrap();

    assert_eq!(titles(&store, me).await, ["second", "first"]);
    // A message makes a conversation the most recent.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store
        .insert_message(user_message(first.id, me, "hi"))
        .await
        .unwrap();
    assert_eq!(titles(&store, me).await, ["first", "second"]);

    // What is read back equals what was written, timestamps included.
    let read = store
        .get_conversation(me, second.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, second);
    assert_eq!(read.system_prompt.as_deref(), Some("Be brief."));

    // Another owner's rows are invisible and untouchable.
    assert!(store
        .get_conversation(me, theirs.id)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .rename_conversation(me, theirs.id, "mine now")
        .await
        .unwrap()
        .is_none());
    assert!(!store.delete_conversation(me, theirs.id).await.unwrap());
    assert!(store.list_messages(me, theirs.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .get_conversation(them, theirs.id)
            .await
            .unwrap()
            .unwrap()
            .title,
        "theirs"
    );
}

async fn rename_and_delete_with_messages(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let me = store.ensure_user("me").await.unwrap();
    let c = store
        .create_conversation(me, "old", "llama3.2", None)
        .await
        .unwrap();
    let m = store
        .insert_message(user_message(c.id, me, "hello"))
        .await
        .unwrap();
    assert_eq!(
        store
            .rename_conversation(me, c.id, "new")
            .await
            .unwrap()
            .unwrap()
            .title,
        "new"
    );
    assert!(store.delete_conversation(me, c.id).await.unwrap());
    assert!(store.get_conversation(me, c.id).await.unwrap().is_none());
    assert!(
        store.get_message(me, m.id).await.unwrap().is_none(),
        "messages go with their conversation"
    );
    assert!(!store.delete_conversation(me, c.id).await.unwrap());
}

async fn messages_keep_order_content_and_metrics(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let me = store.ensure_user("me").await.unwrap();
    let c = store
        .create_conversation(me, "t", "llama3.2", None)
        .await
        .unwrap();
    let text = "Unicode survives: héllo 日本語 🦀 <b>not markup</b>";
    let question = store
        .insert_message(user_message(c.id, me, text))
        .await
        .unwrap();
    let answer = common::insert_streaming_answer(&store, me, c.id).await;
    assert!(store
        .append_partial(me, answer.id, "par", "")
        .await
        .unwrap());
    assert!(store
        .append_partial(me, answer.id, "tial", "")
        .await
        .unwrap());
    assert!(
        store.append_partial(me, answer.id, "", "").await.unwrap(),
        "a heartbeat"
    );
    assert_eq!(
        store
            .get_message(me, answer.id)
            .await
            .unwrap()
            .unwrap()
            .content,
        "partial",
        "flushes append"
    );
    // Thinking is appended beside the text, in the same flush, and stays apart from it.
    assert!(store
        .append_partial(me, answer.id, "", "Hmm, ")
        .await
        .unwrap());
    assert!(store
        .append_partial(me, answer.id, "", "I see.")
        .await
        .unwrap());
    let flushed = store.get_message(me, answer.id).await.unwrap().unwrap();
    assert_eq!(flushed.thinking.as_deref(), Some("Hmm, I see."));
    assert_eq!(flushed.content, "partial");
    let finish = Finish {
        content: "partial and the rest".into(),
        status: Some(MessageStatus::Complete),
        error: None,
        metrics: GenerationMetrics {
            prompt_tokens: Some(18),
            completion_tokens: Some(100),
            ttft_ms: Some(120),
            duration_ms: Some(2300),
            done_reason: Some("stop".into()),
        },
        tool_calls: Default::default(),
        thinking: None,
        charts: Charts(vec![Chart {
            kind: ChartKind::Histogram,
            title: "Distribution of price \u{0}".into(),
            x_label: "price".into(),
            y_label: "rows".into(),
            points: vec![ChartPoint {
                label: "0.5–1".into(),
                value: 3.0,
            }],
        }]),
    };
    let done = store
        .finish_message(me, answer.id, &finish)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, MessageStatus::Complete);
    assert_eq!(done.content, "partial and the rest");
    assert_eq!(done.metrics, finish.metrics, "metrics read back as written");
    assert_eq!(done.charts, finish.charts, "charts read back as written");

    // A final row is never overwritten by a late flush or a second finish.
    assert!(!store
        .append_partial(me, answer.id, "late", "")
        .await
        .unwrap());
    let again = Finish {
        content: "other".into(),
        status: Some(MessageStatus::Stopped),
        ..Default::default()
    };
    assert!(store
        .finish_message(me, answer.id, &again)
        .await
        .unwrap()
        .is_none());

    let messages = store.list_messages(me, c.id).await.unwrap();
    assert_eq!(
        messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        [question.id, answer.id]
    );
    assert_eq!(messages[0].content, text);
    assert_eq!(messages[1], done);

    // Scoped to the owner.
    let them = store.ensure_user("them").await.unwrap();
    assert!(store.get_message(them, answer.id).await.unwrap().is_none());
    assert!(!store.delete_message(them, answer.id).await.unwrap());
    assert!(store.delete_message(me, answer.id).await.unwrap());
}

async fn streaming_rows_become_interrupted_at_start(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let me = store.ensure_user("me").await.unwrap();
    let c = store
        .create_conversation(me, "t", "llama3.2", None)
        .await
        .unwrap();
    let answer = common::insert_streaming_answer(&store, me, c.id).await;
    store
        .append_partial(me, answer.id, "half an ans", "")
        .await
        .unwrap();
    // A fresh heartbeat: not stale yet, so another instance's sweep leaves it alone.
    let a_minute_ago = chrono::Utc::now() - chrono::Duration::seconds(60);
    assert_eq!(store.interrupt_stale(Some(a_minute_ago)).await.unwrap(), 0);
    let in_a_minute = chrono::Utc::now() + chrono::Duration::seconds(60);
    assert_eq!(store.interrupt_stale(Some(in_a_minute)).await.unwrap(), 1);
    let row = store.get_message(me, answer.id).await.unwrap().unwrap();
    assert_eq!(row.status, MessageStatus::Interrupted);
    assert_eq!(row.content, "half an ans", "partial text is kept");
    assert_eq!(store.interrupt_stale(None).await.unwrap(), 0);
    // Each interrupted answer is announced in the outbox, like any finished generation.
    let events = store
        .outbox_events(OUTBOX_GENERATION_FINISHED, None, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].subject_id, answer.id);
    let payload: serde_json::Value = serde_json::from_str(&events[0].payload).unwrap();
    assert_eq!(payload["status"], "interrupted");
}

/// Every character a model may stream is storable on both databases, and stored the same way:
/// what PostgreSQL cannot hold (NUL) is removed, everything else is kept as it is.
async fn every_character_is_storable_the_same_way(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let me = store.ensure_user("me").await.unwrap();
    let c = store
        .create_conversation(me, "t\0itle", "llama3.2", Some("sys\0tem"))
        .await
        .unwrap();
    assert_eq!(
        (c.title.as_str(), c.system_prompt.as_deref()),
        ("title", Some("system"))
    );
    let mut odd: Vec<char> = (0u32..0x20)
        .chain(0x7f..0xa0)
        .filter_map(char::from_u32)
        .collect();
    odd.extend([
        '\u{200b}',
        '\u{200e}',
        '\u{2028}',
        '\u{2029}',
        '\u{feff}',
        '\u{fffd}',
        '\u{fffe}',
        '\u{ffff}',
        '\u{e000}',
        '\u{1f980}',
        '\u{10ffff}',
        '\u{d7ff}',
        '\u{e0001}',
    ]);
    for ch in odd {
        let text = format!("a{ch}b");
        let expected = if ch == '\0' {
            "ab".to_string()
        } else {
            text.clone()
        };
        let answer = common::insert_streaming_answer(&store, me, c.id).await;
        assert!(
            store
                .append_partial(me, answer.id, &text, "")
                .await
                .unwrap(),
            "U+{:04X}",
            ch as u32
        );
        assert_eq!(
            store
                .get_message(me, answer.id)
                .await
                .unwrap()
                .unwrap()
                .content,
            expected,
            "partial U+{:04X}",
            ch as u32
        );
        let finish = Finish {
            content: format!("{text}{text}"),
            status: Some(MessageStatus::Error),
            error: Some(format!("error {text}")),
            metrics: GenerationMetrics {
                done_reason: Some(text.clone()),
                ..Default::default()
            },
            tool_calls: Default::default(),
            thinking: None,
            charts: Default::default(),
        };
        let done = store
            .finish_message(me, answer.id, &finish)
            .await
            .unwrap_or_else(|e| panic!("U+{:04X}: {e}", ch as u32))
            .unwrap();
        assert_eq!(
            done.content,
            format!("{expected}{expected}"),
            "U+{:04X}",
            ch as u32
        );
        assert_eq!(done.error, Some(format!("error {expected}")));
        assert_eq!(done.metrics.done_reason, Some(expected.clone()));
        let user = store
            .insert_message(user_message(c.id, me, &text))
            .await
            .unwrap();
        assert_eq!(user.content, expected);
    }
}

/// The database keeps one streaming answer per conversation, whatever races above it.
async fn one_streaming_answer_per_conversation_is_enforced(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let me = store.ensure_user("me").await.unwrap();
    let instance = uuid::Uuid::now_v7();
    let no_files = ollamastack::model::Attachments::default();
    let turn = |conversation, content| Turn {
        owner_id: me,
        conversation,
        user_content: Some(content),
        replace_last_answer: false,
        edit_message: None,
        model: "llama3.2",
        instance_id: instance,
        attachments: &no_files,
    };
    let first = store
        .start_turn(turn(
            TurnConversation::New {
                title: "t",
                system_prompt: None,
            },
            "one",
        ))
        .await
        .unwrap();
    assert_eq!(first.history.len(), 1, "the question, not the new answer");
    let c = first.conversation.id;
    // Both at once: exactly one of them may start.
    let (a, b) = tokio::join!(
        store.start_turn(turn(TurnConversation::Existing(c), "two")),
        store.start_turn(turn(TurnConversation::Existing(c), "three")),
    );
    assert!(matches!(a, Err(TurnError::Busy)), "{a:?}");
    assert!(matches!(b, Err(TurnError::Busy)), "{b:?}");
    let messages = store.list_messages(me, c).await.unwrap();
    assert_eq!(
        messages.len(),
        2,
        "a refused turn stores nothing: {messages:?}"
    );

    store
        .finish_message(me, first.assistant.id, &Finish::default())
        .await
        .unwrap()
        .unwrap();
    let (a, b) = tokio::join!(
        store.start_turn(turn(TurnConversation::Existing(c), "two")),
        store.start_turn(turn(TurnConversation::Existing(c), "three")),
    );
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "one starts, one is refused: {a:?} {b:?}"
    );
    assert!(matches!(a, Err(TurnError::Busy)) || matches!(b, Err(TurnError::Busy)));
    assert_eq!(store.list_messages(me, c).await.unwrap().len(), 4);

    let them = store.ensure_user("them").await.unwrap();
    let theirs = Turn {
        owner_id: them,
        ..turn(TurnConversation::Existing(c), "x")
    };
    assert!(matches!(
        store.start_turn(theirs).await,
        Err(TurnError::NotFound)
    ));
}

async fn migrations_apply_once_and_reopen(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let me = store.ensure_user("me").await.unwrap();
    store
        .create_conversation(me, "kept", "llama3.2", None)
        .await
        .unwrap();
    store.close().await;
    let reopened = db.store().await;
    assert_eq!(reopened.list_conversations(me).await.unwrap().len(), 1);
    assert_eq!(
        reopened.backend(),
        match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    );
}

/// Requests dropped halfway (a page closed or reloaded while it saves) leave no transaction
/// open: writes that come after go through at once. On SQLite a lost transaction held the
/// write lock, and every later write failed with "database is locked" until a restart.
async fn writes_dropped_halfway_leave_the_store_writable(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let me = store.ensure_user("me").await.unwrap();
    let conversation = store
        .create_conversation(me, "busy", "llama3.2", None)
        .await
        .unwrap();
    for attempt in 0..1_000u64 {
        let store = store.clone();
        let write = tokio::spawn(async move {
            let _ = store
                .insert_message(user_message(conversation.id, me, "dropped?"))
                .await;
        });
        // Dropped at a varying moment: before, during or after its transaction begins.
        std::thread::sleep(std::time::Duration::from_micros(attempt % 300));
        write.abort();
        let _ = write.await;
    }
    for n in 0..20 {
        let content = format!("after {n}");
        tokio::time::timeout(
            std::time::Duration::from_secs(3),
            store.insert_message(user_message(conversation.id, me, &content)),
        )
        .await
        .expect("a write waited for a transaction nobody holds any more")
        .unwrap();
    }
    let kept = store.list_messages(me, conversation.id).await.unwrap();
    assert!(kept.iter().any(|m| m.content == "after 19"));
}

on_both_backends!(
    users_are_created_once,
    conversations_are_listed_newest_activity_first_and_scoped,
    rename_and_delete_with_messages,
    messages_keep_order_content_and_metrics,
    streaming_rows_become_interrupted_at_start,
    every_character_is_storable_the_same_way,
    one_streaming_answer_per_conversation_is_enforced,
    migrations_apply_once_and_reopen,
    writes_dropped_halfway_leave_the_store_writable,
);

#[tokio::test]
async fn default_sqlite_file_is_created_in_the_data_dir_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let settings = ollamastack::config::DatabaseSettings {
        url: None,
        data_dir: dir.path().join("nested/data"),
        ..Default::default()
    };
    let store = ollamastack::db::connect(&settings).await.unwrap();
    assert!(dir.path().join("nested/data/ollamastack.db").exists());
    let pool = store.sqlite_pool().expect("the default store is SQLite");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_bad_database_url_is_a_clear_error() {
    let settings = ollamastack::config::DatabaseSettings {
        url: Some("mysql://x".into()),
        ..Default::default()
    };
    let error = ollamastack::db::connect(&settings).await.unwrap_err();
    assert!(
        error.to_string().contains("unsupported DATABASE_URL"),
        "{error}"
    );
    let settings = ollamastack::config::DatabaseSettings {
        url: Some("postgres://postgres:secret@127.0.0.1:1/none".into()),
        connect_timeout_ms: 500,
        ..Default::default()
    };
    let error = ollamastack::db::connect(&settings)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("cannot connect to the postgres database"),
        "{error}"
    );
    assert!(
        !error.contains("secret"),
        "the password is redacted: {error}"
    );
}

/// SQLite cannot change a CHECK constraint, so letting images into `files` rebuilds the table
/// (after the migrations, on a connection with foreign keys off). A database written before it
/// keeps every file, blob, chunk, search entry and attachment, and
/// the other tables' foreign keys still point at `files` (a delete cascades). (PostgreSQL
/// swaps the constraint in place: every PostgreSQL test that uploads an image goes through it.)
#[tokio::test]
async fn sqlite_files_survive_the_migration_that_admits_images() {
    use sqlx::migrate::Migrator;
    use std::borrow::Cow;
    let db = TestDb::new(Backend::Sqlite).await;
    let options: sqlx::sqlite::SqliteConnectOptions = db.url.parse().unwrap();
    let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true).foreign_keys(true))
        .await
        .unwrap();
    let all = Migrator::new(std::path::Path::new("migrations/sqlite"))
        .await
        .unwrap();
    let before = all
        .migrations
        .iter()
        .position(|m| m.description == "attachments")
        .expect("the attachments migration");
    let earlier = Migrator {
        migrations: Cow::Owned(all.migrations[..before].to_vec()),
        ..Migrator::DEFAULT
    };
    earlier.run(&pool).await.unwrap();
    let (owner, file, conversation) = (
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
    );
    let at = chrono::Utc::now();
    for sql in [
        "INSERT INTO users (id, username, created_at) VALUES ($1, 'me', $4)",
        "INSERT INTO files (id, owner_id, name, kind, media_type, size_bytes, stored_in, status, chunk_count, created_at, updated_at) \
         VALUES ($2, $1, 'zebra.md', 'md', 'text/markdown', 5, 'database', 'ready', 1, $4, $4)",
        "INSERT INTO file_blobs (file_id, bytes) VALUES ($2, x'7a65627261')",
        "INSERT INTO chunks (id, file_id, owner_id, ordinal, text) VALUES ($3, $2, $1, 0, 'zebra crossings')",
        "INSERT INTO conversations (id, owner_id, title, model, created_at, updated_at) VALUES ($3, $1, 't', 'm', $4, $4)",
        "INSERT INTO conversation_files (conversation_id, file_id, owner_id, created_at) VALUES ($3, $2, $1, $4)",
    ] {
        sqlx::query(sql)
            .bind(owner)
            .bind(file)
            .bind(conversation)
            .bind(at)
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    pool.close().await;
    // Opening the store applies the rest; opening it again finds nothing left to do.
    db.store().await.close().await;
    let store = db.store().await;
    let pool = store.sqlite_pool().expect("SQLite").clone();

    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM files").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM file_blobs").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM chunks").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM conversation_files").await, 1);
    assert_eq!(
        count("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'zebra'").await,
        1
    );
    let broken: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(broken.is_empty(), "{broken:?}");
    let schema: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'chunks'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(schema.contains("REFERENCES files(id)"), "{schema}");
    // Images are admitted now, and the table's foreign keys still act.
    sqlx::query(
        "INSERT INTO files (id, owner_id, name, kind, media_type, size_bytes, stored_in, status, created_at, updated_at) \
         VALUES ($1, $2, 'p.png', 'png', 'image/png', 70, 'disk', 'ready', $3, $3)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(owner)
    .bind(at)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM files WHERE id = $1")
        .bind(file)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM chunks").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM conversation_files").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM file_blobs").await, 0);
}
