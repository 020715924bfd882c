//! What the benchmarks share: a fresh PostgreSQL database per run, and the app served on a free
//! port with settings fit for load (one person, no rate limits).
#![allow(dead_code)]

use ollamastack::config::Settings;
use ollamastack::state::AppState;
use std::time::Duration;

/// Settings for a benchmark run against `ollama_url`, with data in `data`: single user, no
/// rate limits, quiet logs.
pub fn settings(data: &std::path::Path, ollama_url: &str) -> Settings {
    let mut settings = Settings::default();
    settings.auth.mode = ollamastack::model::AuthMode::SingleUser;
    settings.limits.per_minute = 0;
    settings.limits.per_hour = 0;
    settings.database.data_dir = data.to_path_buf();
    settings.documents.files_dir = Some(data.join("files"));
    settings.ollama.url = ollama_url.to_string();
    settings.log.filter = "error".into();
    settings
}

/// The app, served until `stop` is sent.
pub struct Served {
    pub url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub async fn serve(settings: Settings) -> Served {
    let options = leptos::config::LeptosOptions::builder()
        .output_name("ollamastack")
        .build();
    let state = AppState::build(settings, options).await.expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ollamastack::web::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Served { url, stop, server }
}

impl Served {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.server).await;
    }
}

fn postgres_admin() -> String {
    std::env::var("BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A new, empty database: (its URL, its name for `drop_postgres`).
pub async fn fresh_postgres() -> (String, String) {
    use sqlx::Connection;
    let admin = postgres_admin();
    let name = format!("ollamastack_bench_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is needed for this run ({admin}): {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create the benchmark database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    (format!("{base}/{name}"), name)
}

pub async fn drop_postgres(name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

/// The `q` quantile (0 to 1) of `values`, sorting them.
pub fn percentile(values: &mut [Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort();
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// Which databases the command line names (`sqlite`, `postgres`, or both by default).
pub fn backends(args: &[String]) -> Vec<&'static str> {
    match args
        .iter()
        .map(String::as_str)
        .find(|a| matches!(*a, "sqlite" | "postgres" | "both"))
    {
        Some("sqlite") => vec!["sqlite"],
        Some("postgres") => vec!["postgres"],
        _ => vec!["sqlite", "postgres"],
    }
}
