//! `query_database`: one read-only SELECT over the asking person's own conversations and
//! messages, answered as a small table.
//!
//! Three layers, each enough on its own for writes:
//! 1. The SQL is parsed (not prefix-matched): exactly one query, no SELECT INTO, no locking,
//!    no data-modifying parts, only the tables `conversations` and `messages` (and the query's
//!    own CTEs), no schema-qualified names, no placeholders, no functions that sleep, read
//!    files or build huge values. What runs is the parser's own rendering of that one query.
//! 2. The database guards reads: on PostgreSQL a separate pool logs in as a role that may only
//!    SELECT from views over the asker's rows (`agent_query` schema), in a READ ONLY transaction
//!    with a statement timeout, always rolled back. On SQLite a read-only connection with
//!    `query_only`, where temporary views named like the tables show only the asker's rows and
//!    shadow every other table; a progress handler enforces the time limit.
//! 3. Results are capped in rows and bytes while they are read.

use super::{parse_arguments, schema_of, Tool, ToolContext, ToolError};
use crate::config::ToolSettings;
use crate::db::SharedStore;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use sqlparser::ast::{
    Expr, ObjectName, ObjectNamePart, Query, SetExpr, Statement, TableFactor, Visit, Visitor,
};
use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};
use std::{collections::BTreeSet, ops::ControlFlow, time::Duration};
use uuid::Uuid;

const MAX_SQL_CHARS: usize = 4_000;
/// The most characters of one cell shown; longer values end with an ellipsis.
const MAX_CELL_CHARS: usize = 300;

/// What the model may read, as it is told in the tool's description.
pub const READABLE_TABLES: &[&str] = &["conversations", "messages"];

/// Names of the server's own tables: a CTE may not take one of them (on SQLite such a name
/// outside the CTE's scope would otherwise reach the table). A test checks the list is complete.
pub const SERVER_TABLES: &[&str] = &[
    "users",
    "conversations",
    "messages",
    "outbox",
    "agent_query_sessions",
    "assistants",
    "notes",
    "tickets",
    "escalations",
    "files",
    "file_blobs",
    "chunks",
    "chunks_fts",
    "chunks_fts_config",
    "chunks_fts_data",
    "chunks_fts_docsize",
    "chunks_fts_idx",
    "conversation_files",
    "assistant_files",
    "conversation_knowledge",
    "instance_settings",
    "person_settings",
    "analytics_events",
    "analytics_hourly",
    "analytics_latency",
    "analytics_daily",
    "analytics_latency_daily",
    "instance_setup",
    "sessions",
    "invitations",
    "api_tokens",
    "webhooks",
    "webhook_deliveries",
    "webhook_fanout",
    "answer_versions",
    "answer_version_messages",
    "model_providers",
    "secret_key_checks",
    "_sqlx_migrations",
    "sqlite_master",
    "sqlite_schema",
    "sqlite_sequence",
    "sqlite_temp_master",
];

/// Functions refused in queries: they sleep, touch files or other sessions, write, or build
/// values large enough to exhaust memory before any row cap applies.
const REFUSED_FUNCTIONS: &[&str] = &[
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_ls_logdir",
    "pg_ls_waldir",
    "pg_ls_tmpdir",
    "pg_ls_archive_statusdir",
    "lo_import",
    "lo_export",
    "lo_get",
    "lo_open",
    "lo_create",
    "lo_from_bytea",
    "lo_put",
    "lo_unlink",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_notify",
    "set_config",
    "pg_advisory_lock",
    "pg_advisory_xact_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_lock",
    "dblink",
    "dblink_exec",
    "query_to_xml",
    "query_to_json",
    "cursor_to_xml",
    "table_to_xml",
    "database_to_xml",
    "schema_to_xml",
    "txid_current",
    "pg_current_xact_id",
    "nextval",
    "setval",
    "repeat",
    "lpad",
    "rpad",
    "format",
    "printf",
    "randomblob",
    "zeroblob",
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
];

#[derive(Clone)]
pub struct QueryDatabase {
    guard: Guard,
    timeout: Duration,
    max_rows: usize,
    max_bytes: usize,
}

#[derive(Clone)]
enum Guard {
    Postgres {
        main: sqlx::PgPool,
        reader: sqlx::PgPool,
    },
    Sqlite {
        reader: sqlx::SqlitePool,
    },
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Arguments {
    /// One SELECT statement over the tables `conversations` and `messages`.
    sql: String,
}

/// The table the query produced, before it is shown.
struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Rows or bytes were left out.
    truncated: bool,
}

impl QueryDatabase {
    /// Opens the guarded connections for `store`'s database. On PostgreSQL the reader role is
    /// created (when no URL names one and the server may create roles) and granted the views;
    /// a failure there is logged and the tool reports it when called.
    pub async fn connect(settings: &ToolSettings, store: &SharedStore) -> Option<QueryDatabase> {
        let guard = if let Some(main) = store.postgres_pool() {
            Guard::Postgres {
                main: main.clone(),
                reader: postgres::reader_pool(main, settings).await,
            }
        } else {
            Guard::Sqlite {
                reader: sqlite::reader_pool(store.sqlite_pool()?, settings),
            }
        };
        Some(QueryDatabase {
            guard,
            timeout: settings.query_timeout(),
            max_rows: settings.query_max_rows.max(1),
            max_bytes: settings.query_max_bytes.max(256),
        })
    }

    async fn run(&self, owner_id: Uuid, sql: &str) -> Result<Table, ToolError> {
        let sql = match &self.guard {
            Guard::Postgres { .. } => check_sql(sql, &PostgreSqlDialect {})?,
            Guard::Sqlite { .. } => check_sql(sql, &SQLiteDialect {})?,
        };
        let tool = self.clone();
        let abandoned = Abandoned::default();
        let _abandon_on_drop = AbandonOnDrop(abandoned.clone());
        // A task of its own: when the call is dropped halfway (Stop pressed, the tool's
        // timeout), the query still ends with its transaction rolled back, its connection reset
        // and its session mapping removed. Dropped inside `BEGIN READ ONLY` instead, the
        // connection went back to the pool in that transaction (failed, if the query had
        // failed), and the next call on it failed or read through a stale mapping.
        crate::db::run_to_the_end(async move {
            match &tool.guard {
                Guard::Postgres { main, reader } => {
                    postgres::run(main, reader, owner_id, &sql, &tool, &abandoned).await
                }
                Guard::Sqlite { reader } => {
                    sqlite::run(reader, owner_id, &sql, &tool, &abandoned).await
                }
            }
        })
        .await
        .unwrap_or_else(|| Err(ToolError::Failed("the server is shutting down".into())))
    }
}

/// Set once nobody waits for the query any more: it stops at its next check (each row, and on
/// SQLite every thousand steps) instead of running to its time limit, then cleans up. On
/// PostgreSQL a query that has produced no row yet is cancelled when the flag is set.
#[derive(Clone, Default)]
struct Abandoned(Arc<AbandonedState>);

#[derive(Default)]
struct AbandonedState {
    set: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Abandoned {
    fn is_set(&self) -> bool {
        self.0.set.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.set.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }

    /// Returns once the flag is set.
    async fn wait(&self) {
        loop {
            // Registered before the check, so a `set` between the two is not missed.
            let notified = self.0.notify.notified();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}

/// Held by the caller: dropping it (the call finished, or was dropped) sets the flag.
struct AbandonOnDrop(Abandoned);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

#[async_trait::async_trait]
impl Tool for QueryDatabase {
    fn name(&self) -> &'static str {
        "query_database"
    }

    fn description(&self) -> &'static str {
        "Runs one read-only SQL SELECT over the person's own chat history and returns the rows as a table (at most 50). Tables: conversations(id, title, model, system_prompt, temperature, created_at, updated_at) and messages(id, conversation_id, role, content, model, status, error, prompt_tokens, completion_tokens, ttft_ms, duration_ms, done_reason, tool_name, created_at); role is system, user, assistant or tool."
    }

    fn parameters(&self) -> Value {
        schema_of::<Arguments>()
    }

    fn timeout(&self) -> Duration {
        // The database's own limit fires first; this one catches a stuck connection.
        self.timeout + Duration::from_secs(3)
    }

    async fn call(&self, context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let arguments: Arguments = parse_arguments(arguments)?;
        let table = self.run(context.owner_id, &arguments.sql).await?;
        Ok(render(&table))
    }
}

/// Parses `sql` and accepts exactly one harmless query; returns the parser's rendering of it,
/// which is what runs (so the database never sees text the check did not understand).
pub fn check_sql(sql: &str, dialect: &dyn Dialect) -> Result<String, ToolError> {
    let refuse = |reason: String| Err(ToolError::InvalidArguments(reason));
    if sql.chars().count() > MAX_SQL_CHARS {
        return refuse(format!(
            "the query is longer than {MAX_SQL_CHARS} characters"
        ));
    }
    let statements = sqlparser::parser::Parser::parse_sql(dialect, sql)
        .map_err(|e| ToolError::InvalidArguments(format!("the SQL does not parse: {e}")))?;
    let statement = match statements.as_slice() {
        [] => return refuse("there is no SQL statement".into()),
        [one] => one,
        _ => return refuse("only one statement is allowed".into()),
    };
    let Statement::Query(query) = statement else {
        return refuse("only a SELECT query is allowed: the database is read-only".into());
    };
    let mut checker = Checker::default();
    if let ControlFlow::Break(reason) = statement.visit(&mut checker) {
        return refuse(reason);
    }
    for name in &checker.relations {
        if !READABLE_TABLES.contains(&name.as_str()) && !checker.ctes.contains(name) {
            return refuse(format!(
                "there is no table named '{name}': the tables are {}",
                READABLE_TABLES.join(" and ")
            ));
        }
    }
    Ok(query.to_string())
}

/// Walks the whole statement (subqueries and CTEs included).
#[derive(Default)]
struct Checker {
    relations: BTreeSet<String>,
    ctes: BTreeSet<String>,
}

impl Visitor for Checker {
    type Break = String;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<String> {
        match statement {
            Statement::Query(_) => ControlFlow::Continue(()),
            _ => ControlFlow::Break(
                "only a SELECT query is allowed: the database is read-only".into(),
            ),
        }
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<String> {
        if !query.locks.is_empty() || query.for_clause.is_some() {
            return ControlFlow::Break(
                "locking clauses (FOR UPDATE, FOR SHARE) are not allowed".into(),
            );
        }
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                let name = cte.alias.name.value.to_lowercase();
                if SERVER_TABLES.contains(&name.as_str())
                    && !READABLE_TABLES.contains(&name.as_str())
                {
                    return ControlFlow::Break(format!(
                        "'{name}' cannot name a WITH query: choose another name"
                    ));
                }
                self.ctes.insert(name);
            }
        }
        check_set_expr(&query.body)
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<String> {
        match relation.0.as_slice() {
            [ObjectNamePart::Identifier(ident)] => {
                self.relations.insert(ident.value.to_lowercase());
                ControlFlow::Continue(())
            }
            _ => ControlFlow::Break(format!(
                "'{relation}' is not allowed: use the table names alone ({})",
                READABLE_TABLES.join(", ")
            )),
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<String> {
        match factor {
            TableFactor::Table { args: None, .. }
            | TableFactor::Derived { .. }
            | TableFactor::NestedJoin { .. } => ControlFlow::Continue(()),
            TableFactor::Table { name, .. } => ControlFlow::Break(format!(
                "the table function '{name}' is not allowed: read from {}",
                READABLE_TABLES.join(" and ")
            )),
            _ => ControlFlow::Break(format!(
                "this FROM item is not allowed: read from {}",
                READABLE_TABLES.join(" and ")
            )),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<String> {
        match expr {
            Expr::Function(function) => {
                let name = function
                    .name
                    .0
                    .last()
                    .map(|part| match part {
                        ObjectNamePart::Identifier(ident) => ident.value.to_lowercase(),
                        ObjectNamePart::Function(f) => f.name.value.to_lowercase(),
                    })
                    .unwrap_or_default();
                if function.name.0.len() > 1 {
                    return ControlFlow::Break(format!(
                        "'{}' is not allowed: call functions by their name alone",
                        function.name
                    ));
                }
                if REFUSED_FUNCTIONS.contains(&name.as_str())
                    || name.starts_with("pg_")
                    || name.starts_with("lo_")
                    || name.starts_with("dblink")
                {
                    return ControlFlow::Break(format!(
                        "the function '{name}' is not allowed in queries"
                    ));
                }
                ControlFlow::Continue(())
            }
            Expr::Value(value)
                if value.to_string().starts_with('$') || value.to_string() == "?" =>
            {
                ControlFlow::Break("placeholders are not allowed: write the values in".into())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

fn check_set_expr(body: &SetExpr) -> ControlFlow<String> {
    match body {
        SetExpr::Select(select) if select.into.is_some() => {
            ControlFlow::Break("SELECT INTO is not allowed: the database is read-only".into())
        }
        SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::Values(_) => ControlFlow::Continue(()),
        SetExpr::SetOperation { left, right, .. } => {
            check_set_expr(left)?;
            check_set_expr(right)
        }
        SetExpr::Table(_) => ControlFlow::Break("write SELECT … FROM instead of TABLE".into()),
        _ => ControlFlow::Break("only a SELECT query is allowed: the database is read-only".into()),
    }
}

/// A database error as the model should read it.
fn query_error(error: sqlx::Error, timeout: Duration) -> ToolError {
    match &error {
        sqlx::Error::Database(db) => {
            let message = db.message();
            // PostgreSQL: "canceling statement due to statement timeout"; SQLite: "interrupted".
            if message.contains("statement timeout") || message.contains("interrupted") {
                ToolError::Failed(format!(
                    "the query took longer than {} ms and was cancelled",
                    timeout.as_millis()
                ))
            } else {
                ToolError::Failed(format!("the database refused the query: {message}"))
            }
        }
        sqlx::Error::PoolTimedOut => {
            ToolError::Failed("the database is busy; try again in a moment".into())
        }
        _ => {
            tracing::warn!(error = %error, "the query tool's connection failed");
            ToolError::Failed("the database cannot be reached".into())
        }
    }
}

/// Collects rows while they fit in the caps.
struct Collector {
    max_rows: usize,
    max_bytes: usize,
    bytes: usize,
    rows: Vec<Vec<String>>,
    truncated: bool,
}

impl Collector {
    fn new(tool: &QueryDatabase) -> Collector {
        Collector {
            max_rows: tool.max_rows,
            max_bytes: tool.max_bytes,
            bytes: 0,
            rows: Vec::new(),
            truncated: false,
        }
    }

    /// Adds a row; false once no more rows are wanted.
    fn push(&mut self, row: Vec<String>) -> bool {
        let size: usize = row.iter().map(|cell| cell.len() + 3).sum();
        if self.rows.len() >= self.max_rows || self.bytes + size > self.max_bytes {
            self.truncated = true;
            return false;
        }
        self.bytes += size;
        self.rows.push(row);
        true
    }
}

fn cell(text: &str) -> String {
    crate::text::clip(text, MAX_CELL_CHARS)
}

/// A markdown table, then how many rows it has.
fn render(table: &Table) -> String {
    if table.columns.is_empty() {
        return "The query returned no columns.".into();
    }
    let escape = |text: &str| {
        text.replace('\\', "\\\\")
            .replace('|', "\\|")
            .replace(['\n', '\r'], " ")
    };
    let mut out = String::new();
    out.push_str(&format!(
        "| {} |\n",
        table
            .columns
            .iter()
            .map(|c| escape(c))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    out.push_str(&format!("|{}\n", " --- |".repeat(table.columns.len())));
    for row in &table.rows {
        out.push_str(&format!(
            "| {} |\n",
            row.iter()
                .map(|c| escape(c))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    let count = table.rows.len();
    out.push_str(&match (count, table.truncated) {
        (0, _) => "(no rows)".to_string(),
        (1, false) => "(1 row)".to_string(),
        (n, false) => format!("({n} rows)"),
        (n, true) => {
            format!("(the first {n} rows; more were left out: narrow the query or add LIMIT)")
        }
    });
    out
}

mod postgres {
    use super::*;
    use futures::TryStreamExt;
    use sqlx::{postgres::PgPoolOptions, Column, Executor, PgPool, Statement as _};

    const DEFAULT_ROLE: &str = "ollamastack_query";

    fn quote_identifier(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// The pool the tool queries through; its role is provisioned when the server may.
    pub(super) async fn reader_pool(main: &PgPool, settings: &ToolSettings) -> PgPool {
        let configured = settings
            .query_database_url
            .as_deref()
            .and_then(|url| url.parse::<sqlx::postgres::PgConnectOptions>().ok());
        let role = configured
            .as_ref()
            .map(|options| options.get_username().to_string())
            .unwrap_or_else(|| DEFAULT_ROLE.to_string());
        if let Err(error) = provision(main, &role, configured.is_none()).await {
            tracing::warn!(
                %error, role,
                "the database query tool's role could not be set up; the tool will fail until an \
                 administrator creates it (see README, Agents and tools)"
            );
        }
        let options =
            configured.unwrap_or_else(|| (*main.connect_options()).clone().username(DEFAULT_ROLE));
        let timeout_ms = settings.query_timeout_ms;
        PgPoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(3))
            .idle_timeout(Duration::from_secs(60))
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    // Belts to the transaction's braces: even outside it nothing can be written,
                    // and no statement runs long.
                    connection
                        .execute(
                            format!(
                                "SET search_path = agent_query, pg_catalog; \
                                 SET default_transaction_read_only = on; \
                                 SET statement_timeout = {timeout_ms}; \
                                 SET idle_in_transaction_session_timeout = 10000"
                            )
                            .as_str(),
                        )
                        .await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options)
    }

    /// Creates the reader role if asked and missing, and lets it read the views (and nothing
    /// else: it owns nothing and is granted nothing more).
    async fn provision(main: &PgPool, role: &str, create: bool) -> Result<(), sqlx::Error> {
        let quoted = quote_identifier(role);
        if create {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                    .bind(role)
                    .fetch_one(main)
                    .await?;
            if !exists {
                let created = sqlx::raw_sql(&format!(
                    "CREATE ROLE {quoted} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT \
                     NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 64"
                ))
                .execute(main)
                .await;
                match created {
                    Ok(_) => {}
                    // Another instance (or test database) created it meanwhile.
                    Err(sqlx::Error::Database(e))
                        if matches!(e.code().as_deref(), Some("42710") | Some("23505")) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        sqlx::raw_sql(&format!(
            "GRANT USAGE ON SCHEMA agent_query TO {quoted}; \
             GRANT SELECT ON agent_query.conversations, agent_query.messages TO {quoted}"
        ))
        .execute(main)
        .await?;
        // Membership lets the server cancel a query the tool's role runs, once nobody waits for
        // it (Stop pressed). It adds no rights: the role can only read views over our tables.
        // Without it (the server's role may not grant roles) an abandoned query runs to its
        // time limit instead.
        let can_cancel: bool = sqlx::query_scalar("SELECT pg_has_role(current_user, $1, 'USAGE')")
            .bind(role)
            .fetch_one(main)
            .await?;
        if can_cancel {
            return Ok(());
        }
        if let Err(error) = sqlx::raw_sql(&format!("GRANT {quoted} TO CURRENT_USER"))
            .execute(main)
            .await
        {
            tracing::info!(
                %error, role,
                "the server cannot cancel the query tool's abandoned queries; each ends at its \
                 time limit (tools.query_timeout_ms)"
            );
        }
        Ok(())
    }

    /// Stops the query running on the tool's connection `pid` now instead of at its time limit.
    /// The caller still holds that connection, so no other query can be running on it.
    async fn cancel(main: &PgPool, pid: i32) {
        let cancelled = tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::query_scalar::<_, bool>("SELECT pg_cancel_backend($1)")
                .bind(pid)
                .fetch_one(main),
        )
        .await;
        match cancelled {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::debug!(%error, pid, "an abandoned query could not be cancelled")
            }
            Err(_) => tracing::debug!(pid, "cancelling an abandoned query timed out"),
        }
    }

    pub(super) async fn run(
        main: &PgPool,
        reader: &PgPool,
        owner_id: Uuid,
        sql: &str,
        tool: &QueryDatabase,
        abandoned: &Abandoned,
    ) -> Result<Table, ToolError> {
        let error = |e| query_error(e, tool.timeout);
        let mut connection = reader.acquire().await.map_err(|e| {
            if matches!(e, sqlx::Error::Database(_) | sqlx::Error::Io(_)) {
                tracing::warn!(error = %e, "the query tool cannot log in as its role");
                ToolError::Failed(
                    "the database query tool is not set up on this server: an administrator \
                     creates its role (see the README, Agents and tools)"
                        .into(),
                )
            } else {
                error(e)
            }
        })?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *connection)
            .await
            .map_err(error)?;
        sqlx::query(
            "INSERT INTO agent_query_sessions (backend_pid, owner_id, started_at) \
             VALUES ($1, $2, now()) \
             ON CONFLICT (backend_pid) DO UPDATE SET owner_id = $2, started_at = now()",
        )
        .bind(pid)
        .bind(owner_id)
        .execute(main)
        .await
        .map_err(error)?;
        // In a block of its own: `work` borrows the connection, which the clean-up needs back.
        let result = {
            let work = async {
                connection.execute("BEGIN READ ONLY").await?;
                connection
                    .execute(
                        format!("SET LOCAL statement_timeout = {}", tool.timeout.as_millis())
                            .as_str(),
                    )
                    .await?;
                // The columns' names and order, from the server's own analysis of the query.
                let columns: Vec<String> = (&mut *connection)
                    .prepare(sql)
                    .await?
                    .columns()
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect();
                let mut collector = Collector::new(tool);
                if !columns.is_empty() {
                    // Every value as JSON text, under positional names (a query may repeat a name).
                    let aliases: Vec<String> =
                        (1..=columns.len()).map(|i| format!("c{i}")).collect();
                    let wrapped = format!(
                        "SELECT row_to_json(q)::text FROM ({sql}) AS q({}) LIMIT {}",
                        aliases.join(", "),
                        tool.max_rows + 1
                    );
                    let mut rows =
                        sqlx::query_scalar::<_, String>(&wrapped).fetch(&mut *connection);
                    while let Some(json) = rows.try_next().await? {
                        if abandoned.is_set() {
                            break;
                        }
                        let object: serde_json::Map<String, Value> =
                            serde_json::from_str(&json).unwrap_or_default();
                        let row = aliases
                            .iter()
                            .map(|alias| match object.get(alias) {
                                None | Some(Value::Null) => "NULL".to_string(),
                                Some(Value::String(text)) => cell(text),
                                Some(other) => cell(&other.to_string()),
                            })
                            .collect();
                        if !collector.push(row) {
                            break;
                        }
                    }
                }
                Ok::<_, sqlx::Error>((columns, collector))
            };
            tokio::pin!(work);
            tokio::select! {
                biased;
                done = &mut work => done,
                // A query that has produced no row yet would not see the flag until its time limit.
                // A cancel that lands between two statements is ignored, hence the repeat.
                () = abandoned.wait() => loop {
                    cancel(main, pid).await;
                    if let Ok(done) = tokio::time::timeout(Duration::from_millis(250), &mut work).await {
                        break done;
                    }
                }
            }
        };
        // Whatever happened, nothing the query did is kept, and the mapping goes.
        let rolled_back = connection.execute("ROLLBACK").await;
        if rolled_back.is_err() {
            connection.close_on_drop();
        }
        let _ = sqlx::query("DELETE FROM agent_query_sessions WHERE backend_pid = $1")
            .bind(pid)
            .execute(main)
            .await;
        let (columns, collector) = result.map_err(error)?;
        Ok(Table {
            columns,
            rows: collector.rows,
            truncated: collector.truncated,
        })
    }
}

mod sqlite {
    use super::*;
    use futures::TryStreamExt;
    use sqlx::{
        sqlite::{SqliteConnectOptions, SqlitePoolOptions},
        Column, Executor, Row, SqlitePool, TypeInfo, ValueRef,
    };

    /// Text form of a 16-byte id, as the API shows ids.
    fn uuid_text(column: &str) -> String {
        format!(
            "lower(substr(hex({column}),1,8)||'-'||substr(hex({column}),9,4)||'-'||\
             substr(hex({column}),13,4)||'-'||substr(hex({column}),17,4)||'-'||substr(hex({column}),21))"
        )
    }

    /// Set up on each connection: the asker (one row, written before each query), a view per
    /// readable table over the asker's rows, and an empty view shadowing every other table.
    pub(super) fn connection_setup(other_tables: &[String]) -> String {
        let mut sql =
            String::from("CREATE TEMP TABLE agent_query_asker (owner_id BLOB NOT NULL);\n");
        sql.push_str(&format!(
            "CREATE TEMP VIEW conversations AS SELECT {id} AS id, title, model, system_prompt, \
             temperature, created_at, updated_at FROM main.conversations \
             WHERE owner_id = (SELECT owner_id FROM temp.agent_query_asker);\n",
            id = uuid_text("id")
        ));
        sql.push_str(&format!(
            "CREATE TEMP VIEW messages AS SELECT {id} AS id, {conversation} AS conversation_id, \
             role, content, model, status, error, prompt_tokens, completion_tokens, ttft_ms, \
             duration_ms, done_reason, tool_name, created_at FROM main.messages \
             WHERE owner_id = (SELECT owner_id FROM temp.agent_query_asker);\n",
            id = uuid_text("id"),
            conversation = uuid_text("conversation_id")
        ));
        for table in other_tables {
            let quoted = format!("\"{}\"", table.replace('"', "\"\""));
            sql.push_str(&format!(
                "CREATE TEMP VIEW {quoted} AS SELECT NULL AS no_rows WHERE 0;\n"
            ));
        }
        sql
    }

    pub(super) fn reader_pool(main: &SqlitePool, _settings: &ToolSettings) -> SqlitePool {
        let options = SqliteConnectOptions::new()
            .filename(main.connect_options().get_filename())
            .read_only(true)
            .create_if_missing(false)
            .busy_timeout(Duration::from_secs(2));
        SqlitePoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(3))
            .idle_timeout(Duration::from_secs(60))
            .after_connect(|connection, _| {
                Box::pin(async move {
                    let tables: Vec<String> = sqlx::query_scalar(
                        // SQLite's own tables (sqlite_sequence…) cannot be shadowed, and the
                        // query check refuses their names anyway.
                        "SELECT name FROM main.sqlite_master \
                         WHERE type IN ('table', 'view') AND name NOT IN ('conversations', 'messages') \
                         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                    )
                    .fetch_all(&mut *connection)
                    .await?;
                    connection.execute(connection_setup(&tables).as_str()).await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options)
    }

    pub(super) async fn run(
        reader: &SqlitePool,
        owner_id: Uuid,
        sql: &str,
        tool: &QueryDatabase,
        abandoned: &Abandoned,
    ) -> Result<Table, ToolError> {
        let error = |e| query_error(e, tool.timeout);
        let mut connection = reader.acquire().await.map_err(error)?;
        connection
            .execute("PRAGMA query_only = OFF; DELETE FROM temp.agent_query_asker")
            .await
            .map_err(error)?;
        sqlx::query("INSERT INTO temp.agent_query_asker (owner_id) VALUES (?)")
            .bind(owner_id)
            .execute(&mut *connection)
            .await
            .map_err(error)?;
        connection
            .execute("PRAGMA query_only = ON")
            .await
            .map_err(error)?;
        let deadline = std::time::Instant::now() + tool.timeout;
        let watched = abandoned.clone();
        connection
            .lock_handle()
            .await
            .map_err(error)?
            .set_progress_handler(1_000, move || {
                std::time::Instant::now() < deadline && !watched.is_set()
            });
        let result = async {
            let mut collector = Collector::new(tool);
            let mut columns = Vec::new();
            let mut rows = sqlx::query(sql).fetch(&mut *connection);
            while let Some(row) = rows.try_next().await? {
                if abandoned.is_set() {
                    break;
                }
                if columns.is_empty() {
                    columns = row.columns().iter().map(|c| c.name().to_string()).collect();
                }
                let values = (0..row.len())
                    .map(|i| {
                        let raw = row.try_get_raw(i)?;
                        if raw.is_null() {
                            return Ok("NULL".to_string());
                        }
                        let kind = raw.type_info().name().to_string();
                        Ok(match kind.as_str() {
                            "INTEGER" => row.try_get_unchecked::<i64, _>(i)?.to_string(),
                            "REAL" => row.try_get_unchecked::<f64, _>(i)?.to_string(),
                            "BLOB" => {
                                format!("<{} bytes>", row.try_get_unchecked::<Vec<u8>, _>(i)?.len())
                            }
                            _ => cell(&row.try_get_unchecked::<String, _>(i)?),
                        })
                    })
                    .collect::<Result<Vec<String>, sqlx::Error>>()?;
                if !collector.push(values) {
                    break;
                }
            }
            Ok::<_, sqlx::Error>((columns, collector))
        }
        .await;
        if let Ok(mut handle) = connection.lock_handle().await {
            handle.remove_progress_handler();
        }
        let reset = connection
            .execute("PRAGMA query_only = OFF; DELETE FROM temp.agent_query_asker")
            .await;
        if reset.is_err() {
            connection.close_on_drop();
        }
        let (mut columns, collector) = result.map_err(error)?;
        if columns.is_empty() && collector.rows.is_empty() {
            // No row to read names from: ask the statement.
            columns = (&mut *connection)
                .prepare(sql)
                .await
                .map(|statement| {
                    sqlx::Statement::columns(&statement)
                        .iter()
                        .map(|c| c.name().to_string())
                        .collect()
                })
                .unwrap_or_default();
        }
        Ok(Table {
            columns,
            rows: collector.rows,
            truncated: collector.truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sql: &str) -> Result<String, String> {
        check_sql(sql, &PostgreSqlDialect {}).map_err(|e| e.to_string())?;
        check_sql(sql, &SQLiteDialect {}).map_err(|e| e.to_string())
    }

    #[test]
    fn one_select_over_the_readable_tables_passes() {
        for sql in [
            "SELECT count(*) FROM messages",
            "select role, count(*) AS n from messages group by role order by n desc limit 5",
            "SELECT c.title, m.content FROM conversations c JOIN messages m ON m.conversation_id = c.id",
            "WITH recent AS (SELECT * FROM messages ORDER BY created_at DESC LIMIT 10) SELECT role FROM recent",
            "SELECT 1 + 1",
            "SELECT title FROM conversations WHERE id IN (SELECT conversation_id FROM messages);",
        ] {
            assert!(check(sql).is_ok(), "{sql}: {:?}", check(sql));
        }
    }

    #[test]
    fn everything_else_is_refused_with_a_reason() {
        let cases = [
            ("DELETE FROM messages", "only a SELECT"),
            ("UPDATE messages SET content = ''", "only a SELECT"),
            ("INSERT INTO messages VALUES (1)", "only a SELECT"),
            ("DROP TABLE messages", "only a SELECT"),
            ("SELECT 1; DELETE FROM messages", "only one statement"),
            ("SELECT 1; SELECT 2", "only one statement"),
            ("", "no SQL statement"),
            ("SELEC 1", "does not parse"),
            (
                "WITH d AS (DELETE FROM messages RETURNING *) SELECT * FROM d",
                "",
            ),
            ("SELECT * INTO copy FROM messages", "SELECT INTO"),
            ("SELECT * FROM messages FOR UPDATE", "locking"),
            ("SELECT * FROM users", "no table named 'users'"),
            ("SELECT * FROM public.messages", "use the table names alone"),
            ("SELECT * FROM main.messages", "use the table names alone"),
            ("SELECT * FROM outbox", "no table named 'outbox'"),
            ("SELECT * FROM pg_user", "no table named 'pg_user'"),
            (
                "SELECT * FROM sqlite_master",
                "no table named 'sqlite_master'",
            ),
            (
                "SELECT (SELECT username FROM users LIMIT 1)",
                "no table named 'users'",
            ),
            ("SELECT pg_sleep(10)", "'pg_sleep' is not allowed"),
            (
                "SELECT pg_read_file('/etc/passwd')",
                "'pg_read_file' is not allowed",
            ),
            ("SELECT pg_catalog.pg_sleep(1)", "by their name alone"),
            (
                "SELECT lo_import('/etc/passwd')",
                "'lo_import' is not allowed",
            ),
            (
                "SELECT randomblob(1000000000)",
                "'randomblob' is not allowed",
            ),
            ("SELECT repeat('x', 1000000000)", "'repeat' is not allowed"),
            (
                "SELECT set_config('role', 'postgres', false)",
                "'set_config' is not allowed",
            ),
            (
                "SELECT * FROM generate_series(1, 1000000000)",
                "table function",
            ),
            ("SELECT * FROM messages WHERE id = $1", "placeholders"),
            (
                "WITH users AS (SELECT 1) SELECT * FROM users",
                "cannot name a WITH query",
            ),
            ("EXPLAIN ANALYZE SELECT 1", "only a SELECT"),
            ("PRAGMA query_only = OFF", ""),
            ("ATTACH DATABASE '/tmp/x.db' AS x", ""),
            ("TABLE messages", ""),
            ("COPY messages TO '/tmp/x'", ""),
            ("SET ROLE postgres", "only a SELECT"),
            ("BEGIN", ""),
            ("VACUUM", ""),
        ];
        for (sql, reason) in cases {
            let refused = check(sql);
            assert!(refused.is_err(), "{sql} passed: {refused:?}");
            let reason_given = refused.unwrap_err();
            assert!(reason_given.contains(reason), "{sql}: {reason_given}");
        }
        let long = format!("SELECT '{}'", "x".repeat(5_000));
        assert!(check(&long).unwrap_err().contains("longer than"));
    }

    #[test]
    fn what_runs_is_the_parsers_rendering_of_the_one_query() {
        let rendered = check_sql(
            "select   content -- a comment; DELETE FROM messages\nfrom messages",
            &SQLiteDialect {},
        )
        .unwrap();
        assert_eq!(rendered, "SELECT content FROM messages");
    }

    #[test]
    fn tables_are_rendered_with_cells_escaped_and_the_count() {
        let table = Table {
            columns: vec!["role".into(), "content".into()],
            rows: vec![
                vec!["user".into(), "a | b\nc".into()],
                vec!["assistant".into(), "NULL".into()],
            ],
            truncated: false,
        };
        assert_eq!(
            render(&table),
            "| role | content |\n| --- | --- |\n| user | a \\| b c |\n| assistant | NULL |\n(2 rows)"
        );
    }
}
