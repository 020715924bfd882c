//! The agent's tools through the REST API, on SQLite and PostgreSQL: listed with their schemas,
//! invoked directly; whatever the arguments, a clear error and never a crash.

mod common;

use common::{Backend, TestApp};
use ollamastack::db::NewMessage;
use ollamastack::model::{MessageStatus, Role};
use ollamastack::testing::fake_ollama::FakeConfig;
use serde_json::{json, Value};

async fn tools_are_listed_with_their_schemas(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, tools) = app.get("/api/v1/tools").await;
    assert_eq!(status, 200, "{tools}");
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"calculator") && names.contains(&"current_time"),
        "{names:?}"
    );
    for tool in tools.as_array().unwrap() {
        assert!(
            tool["description"].as_str().is_some_and(|d| d.len() > 20),
            "{tool}"
        );
        assert_eq!(tool["parameters"]["type"], "object", "{tool}");
    }
}

async fn invoke(app: &TestApp, name: &str, arguments: Value) -> (u16, Value) {
    app.post(
        &format!("/api/v1/tools/{name}/invoke"),
        json!({ "arguments": arguments }),
    )
    .await
}

async fn a_tool_runs_directly(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, body) = invoke(&app, "calculator", json!({"expression": "(2 + 3) * 7^2"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["result"], "245");
    assert!(body["duration_ms"].as_u64().is_some(), "{body}");
    let (status, body) = invoke(&app, "current_time", json!({"timezone": "Asia/Tokyo"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["result"].as_str().unwrap().contains("+09:00"),
        "{body}"
    );
}

async fn hostile_arguments_get_clear_errors(backend: Backend) {
    let app = TestApp::start(backend).await;
    let deep = "(".repeat(10_000) + "1" + &")".repeat(10_000);
    let cases = [
        ("calculator", json!({}), "missing field"),
        ("calculator", json!({"expression": 7}), "invalid type"),
        (
            "calculator",
            json!({"expression": "1", "x": 1}),
            "unknown field",
        ),
        ("calculator", json!("not an object"), "not a JSON object"),
        (
            "calculator",
            json!({"expression": "exec('rm -rf /')"}),
            "cannot read",
        ),
        ("calculator", json!({"expression": deep}), "longer than"),
        (
            "calculator",
            json!({"expression": "1/0"}),
            "not a finite number",
        ),
        ("calculator", json!({"expression": "a * b"}), "unknown name"),
        (
            "current_time",
            json!({"timezone": "../../etc/passwd"}),
            "unknown time zone",
        ),
        (
            "current_time",
            json!({"format": "%"}),
            "not a valid strftime",
        ),
    ];
    for (tool, arguments, expected) in cases {
        let (status, body) = invoke(&app, tool, arguments.clone()).await;
        assert_eq!(status, 200, "{tool} {arguments}: {body}");
        assert_eq!(body["ok"], false, "{tool} {arguments}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(expected), "{tool} {arguments}: {error}");
    }
    let (status, body) = invoke(&app, "rm", json!({})).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = app
        .post("/api/v1/tools/calculator/invoke", json!({"args": {}}))
        .await;
    assert_eq!(status, 422, "unknown body fields are refused: {body}");
}

/// The app with one conversation of the local person ("my question") and one of another person
/// ("MALLORY-SECRET"); returns the other person's message id.
async fn app_with_two_people(backend: Backend) -> (TestApp, uuid::Uuid) {
    app_with_two_people_and_time_limit(backend, 700).await
}

/// The same, with the query tool's time limit in milliseconds.
async fn app_with_two_people_and_time_limit(
    backend: Backend,
    query_timeout_ms: u64,
) -> (TestApp, uuid::Uuid) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.tools.query_timeout_ms = query_timeout_ms;
        settings.tools.query_max_rows = 5;
    })
    .await;
    let (_, answer) = app.send_new("my question").await;
    app.follow(&answer).await;
    let store = &app.state.store;
    let mallory = store.ensure_user("mallory").await.unwrap();
    let theirs = store
        .create_conversation(mallory, "MALLORY-TITLE", "llama3.2", None)
        .await
        .unwrap();
    let secret = store
        .insert_message(NewMessage {
            conversation_id: theirs.id,
            owner_id: mallory,
            role: Role::User,
            content: "MALLORY-SECRET",
            model: None,
            status: MessageStatus::Complete,
            tool_calls: Default::default(),
            tool_name: None,
            attachments: None,
        })
        .await
        .unwrap();
    (app, secret.id)
}

async fn query(app: &TestApp, sql: &str) -> Value {
    let (status, body) = invoke(app, "query_database", json!({ "sql": sql })).await;
    assert_eq!(status, 200, "{sql}: {body}");
    body
}

async fn the_query_tool_reads_the_askers_own_rows(backend: Backend) {
    let (app, _) = app_with_two_people(backend).await;
    let body = query(
        &app,
        "SELECT role, content FROM messages ORDER BY created_at",
    )
    .await;
    assert_eq!(body["ok"], true, "{body}");
    let table = body["result"].as_str().unwrap();
    assert!(
        table.starts_with(
            "| role | content |\n| --- | --- |\n| user | my question |\n| assistant |"
        ),
        "{table}"
    );
    assert!(table.ends_with("(2 rows)"), "{table}");
    assert!(!table.contains("MALLORY"), "{table}");
    let body = query(
        &app,
        "SELECT c.title, count(m.id) AS n FROM conversations c JOIN messages m ON m.conversation_id = c.id GROUP BY c.title",
    )
    .await;
    let table = body["result"].as_str().unwrap();
    assert!(table.contains("| my question | 2 |"), "{table}");
    assert!(table.ends_with("(1 row)"), "{table}");
    // Ids are shown as the API shows them.
    let (_, conversations) = app.get("/api/v1/conversations").await;
    let id = conversations[0]["id"].as_str().unwrap();
    let body = query(
        &app,
        &format!("SELECT title FROM conversations WHERE id = '{id}'"),
    )
    .await;
    assert!(
        body["result"].as_str().unwrap().contains("| my question |"),
        "{body}"
    );
    // Rows past the cap are left out, and the model is told.
    let body = query(
        &app,
        "SELECT a.role FROM messages a, messages b, messages c",
    )
    .await;
    let table = body["result"].as_str().unwrap();
    assert!(
        table.ends_with("(the first 5 rows; more were left out: narrow the query or add LIMIT)"),
        "{table}"
    );
    let body = query(&app, "SELECT content FROM messages WHERE role = 'system'").await;
    assert_eq!(body["result"], "| content |\n| --- |\n(no rows)", "{body}");
}

/// Whatever SQL the model writes: nothing changes and nothing of another person shows.
async fn hostile_sql_changes_nothing_and_leaks_nothing(backend: Backend) {
    let (app, secret) = app_with_two_people(backend).await;
    let store = app.state.store.clone();
    let owner = app.state.local_user.0;
    let conversation = app.get("/api/v1/conversations").await.1[0]["id"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .unwrap();
    let before = store.list_messages(owner, conversation).await.unwrap();
    let hostile = [
        "DELETE FROM messages",
        "UPDATE messages SET content = 'pwned'",
        "INSERT INTO messages (id) VALUES ('x')",
        "DROP TABLE messages",
        "TRUNCATE messages",
        "SELECT 1; DELETE FROM messages",
        "SELECT 1; UPDATE messages SET content = 'pwned'; --",
        "WITH gone AS (DELETE FROM messages RETURNING *) SELECT count(*) FROM gone",
        "WITH x AS (UPDATE messages SET content = 'pwned' RETURNING id) SELECT * FROM x",
        "SELECT * INTO stolen FROM messages",
        "SELECT * FROM messages FOR UPDATE",
        "CREATE TABLE t AS SELECT * FROM messages",
        "PRAGMA query_only = OFF",
        "ATTACH DATABASE '/tmp/evil.db' AS evil",
        "SELECT * FROM users",
        "SELECT * FROM public.messages",
        "SELECT * FROM main.messages",
        "SELECT * FROM temp.agent_query_asker",
        "SELECT * FROM agent_query_sessions",
        "SELECT content FROM messages UNION SELECT username FROM users",
        "SELECT (SELECT content FROM public.messages LIMIT 1)",
        "WITH users AS (SELECT 1 AS x) SELECT * FROM (SELECT * FROM users)",
        "SELECT * FROM (WITH users2 AS (SELECT 1) SELECT 1) s, users",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_ls_dir('.')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT pg_sleep(30)",
        "SELECT set_config('role', 'postgres', true)",
        "SELECT current_setting('role'), content FROM messages",
        "SELECT load_extension('/tmp/evil.so')",
        "SELECT randomblob(900000000)",
        "SELECT repeat('x', 900000000)",
        "SELECT count(*) FROM generate_series(1, 100000000000)",
        "SELECT count(*) FROM (SELECT generate_series(1, 100000000000)) s",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        "SELECT count(*) FROM messages a, messages b, messages c, messages d, messages e, messages f, messages g, messages h, messages i, messages j, messages k, messages l, messages m2, messages n, messages o, messages p, messages q, messages r, messages s, messages t, messages u, messages v, messages w, messages x",
        "SELECT * FROM messages WHERE owner_id IS NOT NULL",
        "SELECT content FROM messages WHERE conversation_id IN (SELECT id FROM conversations) OR 1 = 1",
        "select/**/content/**/from/**/messages;/**/delete/**/from/**/messages",
        "SELECT '\'; DELETE FROM messages; --'",
        "SELECT \"content\" FROM \"messages\"; DELETE FROM \"messages\"",
        "SELECT * FROM pg_stat_activity",
        "SELECT * FROM sqlite_master",
        "SELECT * FROM pragma_table_info('users')",
        "COPY messages TO '/tmp/stolen.csv'",
        "EXPLAIN ANALYZE DELETE FROM messages",
        "VACUUM INTO '/tmp/copy.db'",
        "SET ROLE postgres",
        "RESET ROLE",
        "BEGIN; DELETE FROM messages; COMMIT",
    ];
    for sql in hostile {
        let started = std::time::Instant::now();
        let body = query(&app, sql).await;
        let shown = body.to_string();
        assert!(
            !shown.contains("MALLORY") && !shown.contains("mallory"),
            "{sql} leaked: {shown}"
        );
        assert!(!shown.contains("root:"), "{sql} read a file: {shown}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{sql} ran for {:?}",
            started.elapsed()
        );
        if body["ok"] == true {
            // Only harmless reads may succeed: then they show the asker's rows or nothing.
            let result = body["result"].as_str().unwrap();
            assert!(
                result.contains("row") || result.contains("no columns"),
                "{sql}: {result}"
            );
        } else {
            assert!(
                body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{sql}: {body}"
            );
        }
    }
    // Nothing changed: the asker's messages, the other person's message, the tables.
    assert_eq!(
        store.list_messages(owner, conversation).await.unwrap(),
        before
    );
    let mallory = store.ensure_user("mallory").await.unwrap();
    let theirs = store.get_message(mallory, secret).await.unwrap().unwrap();
    assert_eq!(theirs.content, "MALLORY-SECRET");
    // A slow query is cancelled at the limit and says so.
    let body = query(
        &app,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    )
    .await;
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("longer than 700 ms"),
        "{body}"
    );
    // The tool still works afterwards (no connection was left in a bad state).
    let body = query(&app, "SELECT count(*) AS n FROM messages").await;
    assert!(body["result"].as_str().unwrap().contains("| 2 |"), "{body}");
}

/// On PostgreSQL, within 5 s: no reader connection idles inside a transaction or still runs a
/// query, and no session mapping stays.
async fn nothing_left_behind(app: &TestApp, backend: Backend) {
    use std::time::Duration;
    let Backend::Postgres = backend else {
        return;
    };
    let main = app.state.store.postgres_pool().unwrap();
    let mut left = (0, 0, 0);
    for _ in 0..50 {
        left = sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
               AND usename = 'ollamastack_query' AND state LIKE 'idle in transaction%'), \
             (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
               AND usename = 'ollamastack_query' AND state = 'active'), \
             (SELECT count(*) FROM agent_query_sessions)",
        )
        .fetch_one(main)
        .await
        .unwrap();
        if left == (0, 0, 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "after 5 s, {left:?} (reader connections idle inside a transaction, queries still \
         running, session mappings)"
    );
}

/// The local person's two messages, read at once.
fn fast_query() -> Value {
    json!({ "sql": "SELECT role, content FROM messages ORDER BY created_at" })
}

/// A query that counts forever, producing no row until its time limit.
fn endless_query() -> Value {
    json!({
        "sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    })
}

fn answers_right(outcome: ollamastack::tools::ToolOutcome) {
    let text = outcome.result.expect("the query answers").text;
    assert!(
        text.contains("| user | my question |") && text.ends_with("(2 rows)"),
        "{text}"
    );
}

/// A query call dropped halfway (Stop pressed during the tool, or the tool's timeout) leaves
/// nothing behind: no transaction open on a pooled connection, no session mapping, and the
/// calls after it answer right at once.
async fn query_calls_dropped_halfway_leave_the_tool_working(backend: Backend) {
    use ollamastack::tools::ToolContext;
    use std::time::Duration;
    let (app, _) = app_with_two_people(backend).await;
    let tools = app.state.tools.clone();
    let context = ToolContext {
        owner_id: app.state.local_user.0,
        conversation_id: None,
    };
    let (fast, slow) = (fast_query(), endless_query());
    // Dropped at moments from before the first step to after the last of a fast query...
    for step in 0..400u64 {
        let _ = tokio::time::timeout(
            Duration::from_micros(step * 25),
            tools.invoke(&context, "query_database", fast.clone()),
        )
        .await;
    }
    nothing_left_behind(&app, backend).await;
    // ...and in the middle of slow ones; every call right after answers.
    for _ in 0..6 {
        let dropped = tokio::time::timeout(
            Duration::from_millis(100),
            tools.invoke(&context, "query_database", slow.clone()),
        )
        .await;
        assert!(dropped.is_err(), "the slow query ended within 100 ms");
        answers_right(tools.invoke(&context, "query_database", fast.clone()).await);
    }
    nothing_left_behind(&app, backend).await;
    // Every pooled connection answers (the reader pools hold at most 4).
    for _ in 0..8 {
        answers_right(tools.invoke(&context, "query_database", fast.clone()).await);
    }
}

/// Stop pressed during a long query frees the tool at once, however long its time limit: on
/// PostgreSQL the query is cancelled, on SQLite it stops at its next progress check. Left to
/// run, six of them would hold every reader connection (at most 4) for a minute.
async fn a_stopped_query_ends_long_before_its_time_limit(backend: Backend) {
    use ollamastack::tools::ToolContext;
    use std::time::Duration;
    let (app, _) = app_with_two_people_and_time_limit(backend, 60_000).await;
    let tools = app.state.tools.clone();
    let context = ToolContext {
        owner_id: app.state.local_user.0,
        conversation_id: None,
    };
    for _ in 0..6 {
        let stopped = tokio::time::timeout(
            Duration::from_millis(150),
            tools.invoke(&context, "query_database", endless_query()),
        )
        .await;
        assert!(stopped.is_err(), "the endless query ended by itself");
    }
    let answered = tokio::time::timeout(Duration::from_secs(20), async {
        for _ in 0..8 {
            answers_right(tools.invoke(&context, "query_database", fast_query()).await);
        }
    })
    .await;
    assert!(answered.is_ok(), "the calls after the stopped ones waited");
    // Within 5 s, where a minute's limit would leave them running.
    nothing_left_behind(&app, backend).await;
}

async fn ok(app: &TestApp, tool: &str, arguments: Value) -> String {
    let (status, body) = invoke(app, tool, arguments.clone()).await;
    assert_eq!(status, 200, "{tool} {arguments}: {body}");
    assert_eq!(body["ok"], true, "{tool} {arguments}: {body}");
    body["result"].as_str().unwrap().to_string()
}

async fn failed(app: &TestApp, tool: &str, arguments: Value) -> String {
    let (status, body) = invoke(app, tool, arguments.clone()).await;
    assert_eq!(status, 200, "{tool} {arguments}: {body}");
    assert_eq!(body["ok"], false, "{tool} {arguments}: {body}");
    body["error"].as_str().unwrap().to_string()
}

/// The customer support toolset: notes searched by relevance, tickets numbered per person and
/// found by number or words (wildcards taken literally), escalation flagging the ticket with an
/// outbox event; another person's tickets never show.
async fn the_support_tools_keep_a_knowledge_base_tickets_and_escalations(backend: Backend) {
    let app = TestApp::start(backend).await;
    for (title, body) in [
        (
            "Refunds",
            "Refunds are paid within 14 days to the original card.",
        ),
        (
            "Shipping",
            "Parcels ship within 2 days; refunds for lost parcels after 30 days.",
        ),
        ("Passwords", "Reset a password from the sign-in page."),
    ] {
        ok(&app, "save_note", json!({"title": title, "body": body})).await;
    }
    let found = ok(
        &app,
        "search_notes",
        json!({"query": "refund policy", "limit": 2}),
    )
    .await;
    assert!(
        found.starts_with("## Refunds\n"),
        "the title hit ranks first: {found}"
    );
    assert!(
        found.contains("## Shipping") && !found.contains("Passwords"),
        "{found}"
    );
    assert_eq!(
        ok(&app, "search_notes", json!({"query": "warranty"})).await,
        "Nothing in the notes or the documents matches 'warranty'."
    );
    assert!(
        failed(&app, "save_note", json!({"title": " ", "body": "x"}))
            .await
            .contains("title is empty")
    );

    // Another person's ticket #1 exists first: ours are numbered on their own.
    let mallory = app.state.store.ensure_user("mallory").await.unwrap();
    app.state
        .store
        .create_ticket(mallory, "MALLORY-TICKET", "secret", None, "high")
        .await
        .unwrap();
    assert!(failed(&app, "lookup_ticket", json!({"number": 1}))
        .await
        .contains("no ticket #1"));
    let first = ok(
        &app,
        "create_ticket",
        json!({"subject": "Card charged twice", "description": "Order 100% paid twice", "customer": "ann@example.com", "priority": "high"}),
    )
    .await;
    assert!(
        first.starts_with("Opened Ticket #1: Card charged twice [high priority, open]"),
        "{first}"
    );
    let second = ok(
        &app,
        "create_ticket",
        json!({"subject": "Login loop", "description": "Cannot sign in"}),
    )
    .await;
    assert!(
        second.starts_with("Opened Ticket #2: Login loop [normal priority, open]"),
        "{second}"
    );
    let by_number = ok(&app, "lookup_ticket", json!({"number": 1})).await;
    assert!(
        by_number.contains("Customer: ann@example.com"),
        "{by_number}"
    );
    let by_words = ok(&app, "lookup_ticket", json!({"query": "ANN@"})).await;
    assert!(by_words.starts_with("Ticket #1"), "{by_words}");
    // % and _ are letters here, not wildcards.
    assert!(ok(&app, "lookup_ticket", json!({"query": "100%"}))
        .await
        .starts_with("Ticket #1"));
    assert_eq!(
        ok(&app, "lookup_ticket", json!({"query": "_"})).await,
        "No ticket mentions '_'."
    );
    assert!(!ok(&app, "lookup_ticket", json!({"query": "ticket"}))
        .await
        .contains("MALLORY"));
    assert!(failed(&app, "lookup_ticket", json!({}))
        .await
        .contains("give a ticket"));
    assert!(failed(
        &app,
        "create_ticket",
        json!({"subject": "x", "description": "y", "priority": "asap"})
    )
    .await
    .contains("unknown variant"));

    let escalated = ok(
        &app,
        "escalate",
        json!({"ticket_number": 2, "reason": "Customer asks for a person", "severity": "high"}),
    )
    .await;
    assert_eq!(
        escalated,
        "Escalated ticket #2 (high severity): an administrator will look at it."
    );
    assert!(ok(&app, "lookup_ticket", json!({"number": 2}))
        .await
        .contains("[normal priority, escalated]"));
    assert!(failed(
        &app,
        "escalate",
        json!({"ticket_number": 99, "reason": "x"})
    )
    .await
    .contains("no ticket #99"));
    let events = app
        .state
        .store
        .outbox_events("escalation.created", None, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].payload.contains("\"ticket_number\":2"),
        "{:?}",
        events[0]
    );
}

on_both_backends!(
    the_support_tools_keep_a_knowledge_base_tickets_and_escalations,
    tools_are_listed_with_their_schemas,
    a_tool_runs_directly,
    hostile_arguments_get_clear_errors,
    the_query_tool_reads_the_askers_own_rows,
    hostile_sql_changes_nothing_and_leaks_nothing,
    query_calls_dropped_halfway_leave_the_tool_working,
    a_stopped_query_ends_long_before_its_time_limit,
    the_guarded_table_list_is_complete,
);

/// The guard under the SQL check: the role the tool logs in as can read the views and nothing
/// else, and cannot write, even when it sends SQL the check would have refused.
#[tokio::test]
async fn postgres_the_query_role_itself_cannot_write_or_read_tables() {
    use sqlx::Connection;
    let (app, _) = app_with_two_people(Backend::Postgres).await;
    // The role is set up at start.
    let reader_url =
        app.db
            .url
            .replacen("postgres://postgres@", "postgres://ollamastack_query@", 1);
    let mut reader = sqlx::PgConnection::connect(&reader_url).await.unwrap();
    for sql in [
        "SELECT * FROM public.messages",
        "SELECT * FROM public.users",
        "SELECT * FROM public.agent_query_sessions",
        "INSERT INTO public.agent_query_sessions VALUES (pg_backend_pid(), gen_random_uuid(), now())",
        "DELETE FROM agent_query.messages",
        "CREATE TABLE agent_query.t (x int)",
        "CREATE TABLE public.t (x int)",
        "SELECT pg_read_file('/etc/passwd')",
    ] {
        let error = sqlx::query(sql).execute(&mut reader).await.unwrap_err();
        assert!(
            error.to_string().contains("permission denied")
                || error.to_string().contains("cannot")
                || error.to_string().contains("read-only"),
            "{sql}: {error}"
        );
    }
    // Without a mapping for its connection, the views show nothing.
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM agent_query.messages")
        .fetch_one(&mut reader)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

/// The server's table list the query tool guards must name every table the migrations create.
async fn the_guarded_table_list_is_complete(backend: Backend) {
    let app = TestApp::start(backend).await;
    let tables: Vec<String> = match backend {
        Backend::Sqlite => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(app.state.store.sqlite_pool().unwrap())
        .await
        .unwrap(),
        Backend::Postgres => sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(app.state.store.postgres_pool().unwrap())
        .await
        .unwrap(),
    };
    assert!(tables.len() >= 5, "{tables:?}");
    for table in tables {
        assert!(
            ollamastack::tools::query::SERVER_TABLES.contains(&table.as_str()),
            "add {table} to tools::query::SERVER_TABLES"
        );
    }
}
