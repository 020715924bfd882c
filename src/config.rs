//! All settings in one typed struct: defaults, then `Leptos.toml` (or the file named by
//! `OLLAMASTACK_CONFIG`), then environment variables. Secrets are redacted whenever printed.

use serde::{Deserialize, Serialize};
use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub ollama: OllamaSettings,
    pub generation: GenerationSettings,
    pub tools: ToolSettings,
    pub documents: DocumentSettings,
    pub log: LogSettings,
    pub observability: ObservabilitySettings,
    pub analytics: AnalyticsSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
    pub outbound: OutboundSettings,
    pub webhooks: WebhookSettings,
    pub security: SecuritySettings,
    /// Defaults of the runtime settings (`ui.*`, `ai.*`, `features.*`), which people and the
    /// instance may override while the server runs.
    pub ui: crate::model::UiPreferences,
    pub ai: crate::model::AiPreferences,
    pub features: crate::model::Features,
}

/// The most messages one page of a conversation may hold (setting and API alike).
pub const MAX_MESSAGES_PER_PAGE: usize = 500;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address the HTTP server listens on.
    pub addr: SocketAddr,
    /// Folder of the built front end (JS, WASM, CSS, public files).
    pub site_root: PathBuf,
    /// The address people use, such as `https://chat.example.com`; state-changing requests must
    /// come from this origin (or, when unset, from the host they were sent to).
    pub public_url: Option<String>,
    /// Host names (with or without port) the server answers to, besides localhost, 127.0.0.1,
    /// [::1] and the host of `public_url`; other `Host` headers are refused (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// Set when something else protects the deployment (an authenticating proxy, a private
    /// network): only then may the server listen on a non-loopback address.
    pub protected: bool,
    /// Largest request body accepted, in bytes, on every route (server functions included).
    pub max_body_bytes: usize,
    /// How long the instance's saved settings (feature flags…) are kept before being read
    /// again: how soon another instance's change arrives here.
    pub settings_refresh_ms: u64,
    /// People's live events (`GET /api/v1/events`) are read from the outbox as soon as a commit
    /// is announced (SQLite: by this instance's store; PostgreSQL: by NOTIFY, from every
    /// instance); this is how often each instance reads them all the same, in case an
    /// announcement was lost (its LISTEN connection reconnecting). Nothing is read while nobody
    /// listens.
    pub events_poll_ms: u64,
    /// A page whose server rendering has not started its answer after this long gets a 503
    /// ("reload") instead of hanging: a safety net for a render that never completes.
    pub page_timeout_ms: u64,
    /// How many of a conversation's latest messages its page shows at first, and how many more
    /// each "earlier messages" adds: a long conversation opens as fast as a short one.
    pub messages_per_page: usize,
    /// Headers added to every response (`{"X-Served-By" = "acme"}`); checked at start.
    pub response_headers: std::collections::BTreeMap<String, String>,
    /// Largest body of a conversation import (`POST /api/v1/conversations/import`).
    pub max_import_bytes: usize,
    /// Origins (`https://tools.example.com`) whose pages may call the REST API from a browser
    /// (CORS). Empty: none, the default. Cross-origin calls that change something must carry a
    /// personal token (a cookie session is never enough across origins).
    pub cors_origins: Vec<String>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://…` or `sqlite://…`; when empty, a SQLite file in `data_dir`.
    pub url: Option<String>,
    /// Folder for the embedded SQLite database.
    pub data_dir: PathBuf,
    pub max_connections: u32,
    pub connect_timeout_ms: u64,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OllamaSettings {
    pub url: String,
    /// Time allowed to open the TCP connection to Ollama.
    pub connect_timeout_ms: u64,
    /// Time allowed for short calls (model list, version).
    pub request_timeout_ms: u64,
    /// Time allowed from sending a chat request to its first token (includes loading the model).
    pub first_token_timeout_ms: u64,
    /// Longest silence allowed between two chunks once streaming.
    pub idle_timeout_ms: u64,
    /// Model proposed when the person has not picked one; else the first model Ollama lists.
    pub default_model: Option<String>,
    /// A pool of Ollama servers, used instead of `url` when set: each call goes to the least
    /// busy healthy server that has its model, and a chat that fails before its first token is
    /// retried on another.
    pub servers: Vec<String>,
    /// How often each server's health and models are checked.
    pub health_interval_ms: u64,
}

impl OllamaSettings {
    /// The servers calls go to: `servers` when set, else `url`; without a trailing slash,
    /// each once.
    pub fn server_urls(&self) -> Vec<String> {
        let listed = if self.servers.is_empty() {
            std::slice::from_ref(&self.url)
        } else {
            &self.servers[..]
        };
        let mut urls: Vec<String> = Vec::new();
        for url in listed {
            let url = url.trim().trim_end_matches('/').to_string();
            if !url.is_empty() && !urls.contains(&url) {
                urls.push(url);
            }
        }
        urls
    }

    pub fn health_interval(&self) -> Duration {
        Duration::from_millis(self.health_interval_ms.max(100))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationSettings {
    /// How often streamed text is written to the database while a generation runs.
    pub flush_interval_ms: u64,
    /// How long shutdown waits for running generations to be saved.
    pub shutdown_grace_ms: u64,
    /// System prompt of new conversations, if any.
    pub default_system_prompt: Option<String>,
    /// A streaming row whose writer has not refreshed it for this long is taken for dead and
    /// becomes interrupted (checked at start and every `sweep_interval_ms`).
    pub heartbeat_timeout_ms: u64,
    pub sweep_interval_ms: u64,
    /// Generations running at once on this server, and per person; above, 429 with Retry-After.
    pub max_concurrent: usize,
    pub max_concurrent_per_owner: usize,
    /// Longest answer in tokens: `num_predict` is capped by it (and set to it when absent, -1 or -2).
    pub max_answer_tokens: i32,
    /// Longest answer in characters and in time; past them the answer stops, keeping its text.
    pub max_answer_chars: usize,
    pub max_duration_ms: u64,
    /// How long Stop and Delete wait for a running answer to be saved.
    pub finish_wait_ms: u64,
    /// Most model calls in one agent run; a model still calling tools then is stopped.
    pub max_agent_steps: usize,
    /// Naming conversations by the model (`ai.auto_titles`): how long one title may take (past
    /// it the first message stays the title), and how often finished answers are looked for
    /// besides at once when one is announced.
    pub title_timeout_ms: u64,
    pub title_poll_ms: u64,
}

/// The agent's tools that reach outside the server.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolSettings {
    /// Base URL of an Open-Meteo-compatible forecast API (`{url}/v1/forecast`), such as
    /// `https://api.open-meteo.com`; the weather tool says how to set it while it is unset.
    pub weather_url: Option<String>,
    /// Base URL of its geocoding API (`{url}/v1/search`); the weather URL when unset (Open-Meteo
    /// itself serves it from `https://geocoding-api.open-meteo.com`).
    pub geocoding_url: Option<String>,
    /// Time allowed for each outbound HTTP call a tool makes (connect and whole response).
    pub http_timeout_ms: u64,
    /// The database query tool: time allowed per query, and the most rows and bytes it returns.
    pub query_timeout_ms: u64,
    pub query_max_rows: usize,
    pub query_max_bytes: usize,
    /// PostgreSQL only: how the query tool logs in, as a role that may only SELECT from the
    /// `agent_query` views. When unset, the server creates the role `ollamastack_query` (if it
    /// may) and logs in as it with the main URL's host and database (enough with trust or peer
    /// authentication; with passwords, create the role yourself and set this URL).
    pub query_database_url: Option<String>,
    /// The registries `package_info` asks (crates.io's API, the npm registry).
    pub crates_io_url: String,
    pub npm_url: String,
}

/// Where uploaded files' bytes are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStorage {
    /// On disk with SQLite (one server), in the database with PostgreSQL (every instance can
    /// read them).
    #[default]
    Auto,
    Disk,
    Database,
}

impl std::str::FromStr for FileStorage {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(FileStorage::Auto),
            "disk" => Ok(FileStorage::Disk),
            "database" => Ok(FileStorage::Database),
            _ => Err("use auto, disk or database".into()),
        }
    }
}

/// Where the text of files is extracted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExtractIn {
    Process,
    Thread,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentSettings {
    /// Where files live when they are kept on disk: a folder the server never serves, files
    /// named by generated ids. Default: `files` in `database.data_dir`.
    pub files_dir: Option<PathBuf>,
    pub storage: FileStorage,
    /// Largest file accepted, in bytes (refused while it streams in).
    pub max_file_bytes: u64,
    /// Most files in one upload.
    pub max_files_per_upload: usize,
    /// Most bytes of files one person may keep.
    pub quota_bytes: u64,
    /// The Ollama model that embeds chunks (`ollama pull` it); changing it re-embeds every
    /// file at the next start.
    pub embedding_model: String,
    /// Chunks per /api/embed request, and the time allowed for one.
    pub embed_batch: usize,
    pub embed_timeout_ms: u64,
    /// Time allowed to extract the text of one file.
    pub extract_timeout_ms: u64,
    /// Where text is extracted: in a child process of the server's binary (a reader that
    /// loops is killed at the time limit, one that crashes takes only the child), or on a
    /// blocking thread of the server.
    pub extract_in: ExtractIn,
    /// Most memory (address space) the extraction process may take.
    pub extract_memory_bytes: u64,
    /// The program run as the extractor; the server's own binary unless set.
    pub extractor_program: Option<PathBuf>,
    /// Most characters of text kept from one file.
    pub max_extracted_chars: usize,
    /// DOCX (a zip): most entries, and most bytes once decompressed.
    pub max_archive_entries: usize,
    pub max_archive_bytes: u64,
    /// Target size of a chunk in characters, and the characters two neighbours share.
    pub chunk_chars: usize,
    pub chunk_overlap: usize,
    /// Answers in a conversation with attached documents: the most passages put in the prompt,
    /// and the context window (Ollama's `num_ctx`) asked for unless the conversation sets one,
    /// capped by the model's own.
    pub max_passages: usize,
    pub context_tokens: u32,
}

impl Default for DocumentSettings {
    fn default() -> Self {
        DocumentSettings {
            files_dir: None,
            storage: FileStorage::Auto,
            max_file_bytes: 10 * 1024 * 1024,
            max_files_per_upload: 5,
            quota_bytes: 1024 * 1024 * 1024,
            embedding_model: "nomic-embed-text".into(),
            embed_batch: 16,
            embed_timeout_ms: 120_000,
            extract_timeout_ms: 30_000,
            extract_in: ExtractIn::Process,
            extract_memory_bytes: 1024 * 1024 * 1024,
            extractor_program: None,
            max_extracted_chars: 5_000_000,
            max_archive_entries: 1_000,
            max_archive_bytes: 100 * 1024 * 1024,
            chunk_chars: 1_000,
            chunk_overlap: 150,
            max_passages: 6,
            context_tokens: 8_192,
        }
    }
}

impl DocumentSettings {
    pub fn extract_timeout(&self) -> Duration {
        Duration::from_millis(self.extract_timeout_ms)
    }
    pub fn embed_timeout(&self) -> Duration {
        Duration::from_millis(self.embed_timeout_ms)
    }
}

/// Who may use the server, and how they sign in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// `accounts`: everyone signs in, and the first person to open a new instance creates the
    /// admin account. `single_user`: no sign-in, one person owns everything (a personal
    /// install on localhost; the server then refuses to listen beyond loopback unless
    /// `server.protected`).
    pub mode: crate::model::AuthMode,
    /// After the first admin: `open` (anyone), `invite` (with an admin's invitation link) or
    /// `closed`.
    pub signup: crate::model::SignupPolicy,
    pub session_days: u32,
    pub invitation_days: u32,
    /// Failed sign-ins allowed per name (and four times as many per address) within
    /// `login_window_secs`; past them, sign-ins wait (429 with Retry-After).
    pub max_failed_logins: u32,
    pub login_window_secs: u64,
    /// The session cookie's `Secure` flag; by default set when `server.public_url` is https.
    pub secure_cookie: Option<bool>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            mode: Default::default(),
            signup: Default::default(),
            session_days: 30,
            invitation_days: 7,
            max_failed_logins: 5,
            login_window_secs: 900,
            secure_cookie: None,
        }
    }
}

/// How much each person (or address) may ask, and how client addresses are found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Requests a minute per person; requests without a person count per client address.
    /// 0: no limit. Files of the site and health checks are not counted.
    pub per_minute: u32,
    /// Requests an hour, counted the same way. 0: no limit.
    pub per_hour: u32,
    /// Live event streams (answers being followed) one person may hold open at once.
    pub max_streams_per_person: usize,
    /// Streams of their own events (`GET /api/v1/events`: one per open page) one person may
    /// hold open at once, apart from the answers they follow.
    pub max_event_streams_per_person: usize,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client. Without
    /// them the TCP peer is the client, and the header, which anyone can forge, is ignored.
    pub trusted_proxies: Vec<String>,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            per_minute: 60,
            per_hour: 1_000,
            max_streams_per_person: 8,
            max_event_streams_per_person: 16,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Requests the server makes to addresses people choose (webhooks) and tools call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundSettings {
    /// Host names (or addresses) that may be private: an internal service a webhook may call.
    /// Everything else must resolve to public addresses only. The hosts of the tool URLs set
    /// in `[tools]` are allowed too.
    pub allowed_hosts: Vec<String>,
    /// Time for one request, connecting included.
    pub timeout_ms: u64,
    /// Most of an answer's body read (the rest is not).
    pub max_response_bytes: usize,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        OutboundSettings {
            allowed_hosts: Vec::new(),
            timeout_ms: 5_000,
            max_response_bytes: 64 * 1024,
        }
    }
}

impl OutboundSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// Webhook deliveries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// How long a failing delivery is retried before it is given up.
    pub retry_for_secs: u64,
    /// The wait before the first retry; it doubles with each attempt, up to `max_retry_ms`.
    pub first_retry_ms: u64,
    pub max_retry_ms: u64,
    /// How often each instance looks for deliveries due (retries); new events are delivered
    /// as soon as their commit is announced.
    pub poll_interval_ms: u64,
    /// Deliveries in flight at once, per instance.
    pub concurrency: usize,
    /// Webhooks one person may register.
    pub max_per_person: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            retry_for_secs: 24 * 3600,
            first_retry_ms: 10_000,
            max_retry_ms: 2 * 3600 * 1000,
            poll_interval_ms: 1_000,
            concurrency: 8,
            max_per_person: 20,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsSettings {
    /// How often each instance records the outbox's new events (a report records them too).
    pub record_interval_ms: u64,
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        AnalyticsSettings {
            record_interval_ms: 2_000,
        }
    }
}

/// The key that seals the secrets the database keeps (providers' API keys, webhooks' secrets).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// At least 32 characters, the same on every instance of one database. When unset, a
    /// random key is made once in `<data_dir>/secret.key` (enough for one instance).
    pub secret_key: Option<String>,
}

impl fmt::Debug for SecuritySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecuritySettings")
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Prometheus metrics at `/metrics`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObservabilitySettings {
    /// Whether `/metrics` answers (404 when off).
    pub metrics: bool,
    /// A bearer token `/metrics` asks for; when unset it answers only requests from this
    /// machine (loopback).
    pub metrics_token: Option<String>,
    /// Where traces go (OTLP over HTTP, protobuf), the whole URL such as
    /// `http://collector:4318/v1/traces`. Unset: no traces are exported.
    pub otlp_endpoint: Option<String>,
    /// Headers sent with each export (an API key of the tracing service); redacted in logs.
    pub otlp_headers: std::collections::BTreeMap<String, String>,
    /// The share of traces kept, 0 to 1 (a trace its caller sampled is always kept).
    pub trace_sample_ratio: f64,
    /// `service.name` of the traces.
    pub service_name: String,
}

impl Default for ObservabilitySettings {
    fn default() -> Self {
        ObservabilitySettings {
            metrics: true,
            metrics_token: None,
            otlp_endpoint: None,
            otlp_headers: Default::default(),
            trace_sample_ratio: 1.0,
            service_name: "ollamastack".into(),
        }
    }
}

impl fmt::Debug for ObservabilitySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservabilitySettings")
            .field("metrics", &self.metrics)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "***"))
            .field(
                "otlp_endpoint",
                &self.otlp_endpoint.as_deref().map(redact_url),
            )
            .field(
                "otlp_headers",
                &self.otlp_headers.keys().collect::<Vec<_>>(),
            )
            .field("trace_sample_ratio", &self.trace_sample_ratio)
            .field("service_name", &self.service_name)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// A tracing filter such as `info,ollamastack=debug`; `RUST_LOG` overrides it.
    pub filter: String,
    /// Logs as JSON lines instead of text.
    pub json: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            site_root: PathBuf::from("target/site"),
            public_url: None,
            allowed_hosts: Vec::new(),
            protected: false,
            // A message is at most 100,000 characters; escaped as JSON or form data it stays
            // well under this.
            max_body_bytes: 2 * 1024 * 1024,
            settings_refresh_ms: 1_000,
            events_poll_ms: 2_000,
            page_timeout_ms: 15_000,
            messages_per_page: 50,
            response_headers: std::collections::BTreeMap::new(),
            max_import_bytes: 32 * 1024 * 1024,
            cors_origins: Vec::new(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            data_dir: PathBuf::from("data"),
            max_connections: 10,
            connect_timeout_ms: 5_000,
        }
    }
}

impl Default for OllamaSettings {
    fn default() -> Self {
        OllamaSettings {
            url: "http://127.0.0.1:11434".into(),
            connect_timeout_ms: 3_000,
            request_timeout_ms: 10_000,
            first_token_timeout_ms: 300_000,
            idle_timeout_ms: 60_000,
            default_model: None,
            servers: Vec::new(),
            health_interval_ms: 10_000,
        }
    }
}

impl Default for GenerationSettings {
    fn default() -> Self {
        GenerationSettings {
            flush_interval_ms: 500,
            shutdown_grace_ms: 5_000,
            default_system_prompt: None,
            heartbeat_timeout_ms: 30_000,
            sweep_interval_ms: 10_000,
            max_concurrent: 16,
            max_concurrent_per_owner: 4,
            max_answer_tokens: 16_384,
            max_answer_chars: 200_000,
            max_duration_ms: 30 * 60 * 1000,
            finish_wait_ms: 10_000,
            max_agent_steps: 8,
            title_timeout_ms: 30_000,
            title_poll_ms: 1_000,
        }
    }
}

impl Default for ToolSettings {
    fn default() -> Self {
        ToolSettings {
            weather_url: None,
            geocoding_url: None,
            http_timeout_ms: 8_000,
            query_timeout_ms: 3_000,
            query_max_rows: 50,
            query_max_bytes: 16 * 1024,
            query_database_url: None,
            crates_io_url: "https://crates.io".into(),
            npm_url: "https://registry.npmjs.org".into(),
        }
    }
}

impl ToolSettings {
    pub fn http_timeout(&self) -> Duration {
        Duration::from_millis(self.http_timeout_ms)
    }
    pub fn query_timeout(&self) -> Duration {
        Duration::from_millis(self.query_timeout_ms)
    }
}

impl fmt::Debug for ToolSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolSettings")
            .field("weather_url", &self.weather_url)
            .field("geocoding_url", &self.geocoding_url)
            .field("http_timeout_ms", &self.http_timeout_ms)
            .field("query_timeout_ms", &self.query_timeout_ms)
            .field("query_max_rows", &self.query_max_rows)
            .field("query_max_bytes", &self.query_max_bytes)
            .field(
                "query_database_url",
                &self.query_database_url.as_deref().map(redact_url),
            )
            .field("crates_io_url", &self.crates_io_url)
            .field("npm_url", &self.npm_url)
            .finish()
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            filter: "info".into(),
            json: false,
        }
    }
}

impl OllamaSettings {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
    pub fn first_token_timeout(&self) -> Duration {
        Duration::from_millis(self.first_token_timeout_ms)
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
}

/// Why the settings could not be read; the server refuses to start and prints it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("setting {key} is not valid: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("runtime setting {0}")]
    Preference(String),
    #[error("environment variable {name}={value:?} is not valid: {reason}")]
    Env {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// Every environment variable the server reads, with what it sets. The README lists the same.
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "OLLAMASTACK_CONFIG",
        "path of the settings file (default Leptos.toml)",
    ),
    ("OLLAMASTACK_ADDR", "server.addr"),
    (
        "LEPTOS_SITE_ADDR",
        "server.addr (set by cargo-leptos; OLLAMASTACK_ADDR wins)",
    ),
    ("LEPTOS_SITE_ROOT", "server.site_root"),
    ("OLLAMASTACK_PUBLIC_URL", "server.public_url"),
    (
        "OLLAMASTACK_ALLOWED_HOSTS",
        "server.allowed_hosts (comma-separated)",
    ),
    ("OLLAMASTACK_PROTECTED", "server.protected (true/false)"),
    ("OLLAMASTACK_MAX_BODY_BYTES", "server.max_body_bytes"),
    (
        "OLLAMASTACK_CORS_ORIGINS",
        "server.cors_origins (comma-separated)",
    ),
    ("OLLAMASTACK_RATE_PER_MINUTE", "limits.per_minute (0: none)"),
    ("OLLAMASTACK_RATE_PER_HOUR", "limits.per_hour (0: none)"),
    (
        "OLLAMASTACK_MAX_STREAMS_PER_PERSON",
        "limits.max_streams_per_person",
    ),
    (
        "OLLAMASTACK_MAX_EVENT_STREAMS_PER_PERSON",
        "limits.max_event_streams_per_person",
    ),
    ("OLLAMASTACK_EVENTS_POLL_MS", "server.events_poll_ms"),
    (
        "OLLAMASTACK_OUTBOUND_ALLOWED_HOSTS",
        "outbound.allowed_hosts (comma-separated)",
    ),
    ("OLLAMASTACK_OUTBOUND_TIMEOUT_MS", "outbound.timeout_ms"),
    ("OLLAMASTACK_METRICS", "observability.metrics (true/false)"),
    ("OLLAMASTACK_METRICS_TOKEN", "observability.metrics_token"),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "observability.otlp_endpoint (the collector's base URL; /v1/traces is added)",
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "observability.otlp_endpoint (the whole URL; wins over the one above)",
    ),
    (
        "OTEL_EXPORTER_OTLP_HEADERS",
        "observability.otlp_headers (key=value,key=value)",
    ),
    ("OTEL_SERVICE_NAME", "observability.service_name"),
    (
        "OLLAMASTACK_SECRET_KEY",
        "security.secret_key (seals stored API keys and webhook secrets)",
    ),
    (
        "OLLAMASTACK_WEBHOOK_RETRY_FOR_SECS",
        "webhooks.retry_for_secs",
    ),
    (
        "OLLAMASTACK_TRUSTED_PROXIES",
        "limits.trusted_proxies (comma-separated addresses or CIDR ranges)",
    ),
    ("DATABASE_URL", "database.url"),
    ("OLLAMASTACK_DATA_DIR", "database.data_dir"),
    ("OLLAMASTACK_DB_MAX_CONNECTIONS", "database.max_connections"),
    (
        "OLLAMASTACK_DB_CONNECT_TIMEOUT_MS",
        "database.connect_timeout_ms",
    ),
    ("OLLAMA_URL", "ollama.url"),
    (
        "OLLAMA_URLS",
        "ollama.servers (comma-separated: a pool used instead of ollama.url)",
    ),
    (
        "OLLAMA_HEALTH_INTERVAL_MS",
        "ollama.health_interval_ms",
    ),
    ("OLLAMA_CONNECT_TIMEOUT_MS", "ollama.connect_timeout_ms"),
    ("OLLAMA_REQUEST_TIMEOUT_MS", "ollama.request_timeout_ms"),
    (
        "OLLAMA_FIRST_TOKEN_TIMEOUT_MS",
        "ollama.first_token_timeout_ms",
    ),
    ("OLLAMA_IDLE_TIMEOUT_MS", "ollama.idle_timeout_ms"),
    ("OLLAMASTACK_DEFAULT_MODEL", "ollama.default_model"),
    (
        "OLLAMASTACK_FLUSH_INTERVAL_MS",
        "generation.flush_interval_ms",
    ),
    (
        "OLLAMASTACK_SHUTDOWN_GRACE_MS",
        "generation.shutdown_grace_ms",
    ),
    (
        "OLLAMASTACK_SYSTEM_PROMPT",
        "generation.default_system_prompt",
    ),
    (
        "OLLAMASTACK_HEARTBEAT_TIMEOUT_MS",
        "generation.heartbeat_timeout_ms",
    ),
    (
        "OLLAMASTACK_SWEEP_INTERVAL_MS",
        "generation.sweep_interval_ms",
    ),
    ("OLLAMASTACK_MAX_GENERATIONS", "generation.max_concurrent"),
    (
        "OLLAMASTACK_MAX_GENERATIONS_PER_OWNER",
        "generation.max_concurrent_per_owner",
    ),
    (
        "OLLAMASTACK_MAX_ANSWER_TOKENS",
        "generation.max_answer_tokens",
    ),
    (
        "OLLAMASTACK_MAX_ANSWER_CHARS",
        "generation.max_answer_chars",
    ),
    ("OLLAMASTACK_MAX_ANSWER_MS", "generation.max_duration_ms"),
    ("OLLAMASTACK_FINISH_WAIT_MS", "generation.finish_wait_ms"),
    ("OLLAMASTACK_MAX_AGENT_STEPS", "generation.max_agent_steps"),
    ("OLLAMASTACK_TITLE_TIMEOUT_MS", "generation.title_timeout_ms"),
    ("OLLAMASTACK_TITLE_POLL_MS", "generation.title_poll_ms"),
    ("OLLAMASTACK_WEATHER_URL", "tools.weather_url"),
    ("OLLAMASTACK_GEOCODING_URL", "tools.geocoding_url"),
    ("OLLAMASTACK_TOOL_HTTP_TIMEOUT_MS", "tools.http_timeout_ms"),
    ("OLLAMASTACK_QUERY_TIMEOUT_MS", "tools.query_timeout_ms"),
    ("OLLAMASTACK_QUERY_DATABASE_URL", "tools.query_database_url"),
    ("OLLAMASTACK_FILES_DIR", "documents.files_dir"),
    (
        "OLLAMASTACK_FILE_STORAGE",
        "documents.storage (auto, disk or database)",
    ),
    ("OLLAMASTACK_MAX_FILE_BYTES", "documents.max_file_bytes"),
    ("OLLAMASTACK_FILE_QUOTA_BYTES", "documents.quota_bytes"),
    ("OLLAMASTACK_EMBEDDING_MODEL", "documents.embedding_model"),
    ("RUST_LOG", "log.filter"),
    ("OLLAMASTACK_LOG_JSON", "log.json (true/false)"),
    (
        "OLLAMASTACK_AUTH_MODE",
        "auth.mode (accounts, or single_user for a personal install)",
    ),
    ("OLLAMASTACK_SIGNUP", "auth.signup (open, invite, closed)"),
    (
        "OLLAMASTACK_<KEY>",
        "a runtime setting: its dotted key in capitals with _ for . (OLLAMASTACK_UI_THEME, OLLAMASTACK_FEATURES_ANALYTICS)",
    ),
];

/// The environment variable of a runtime setting: `ui.brand.primary` → `OLLAMASTACK_UI_BRAND_PRIMARY`.
pub fn preference_env_name(key: &str) -> String {
    format!("OLLAMASTACK_{}", key.replace('.', "_").to_ascii_uppercase())
}

impl Settings {
    /// What outbound requests may reach: the configured allow-list, and the hosts of the tool
    /// URLs an administrator set.
    pub fn outbound_policy(&self) -> crate::net::OutboundPolicy {
        let tool_hosts = [&self.tools.weather_url, &self.tools.geocoding_url]
            .into_iter()
            .flatten()
            .filter_map(|url| reqwest::Url::parse(url).ok())
            .filter_map(|url| url.host_str().map(str::to_string));
        crate::net::OutboundPolicy::new(
            self.outbound
                .allowed_hosts
                .iter()
                .cloned()
                .chain(tool_hosts),
        )
    }

    /// The folder of files kept on disk.
    pub fn files_dir(&self) -> PathBuf {
        self.documents
            .files_dir
            .clone()
            .unwrap_or_else(|| self.database.data_dir.join("files"))
    }
}

impl Settings {
    /// Defaults, then the settings file, then the process environment.
    pub fn load() -> Result<Settings, ConfigError> {
        let named = std::env::var("OLLAMASTACK_CONFIG")
            .ok()
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from);
        Settings::load_from(named.as_deref())
    }

    /// The settings from `config` (which must exist), or else `Leptos.toml` when it exists,
    /// or else the defaults; then the environment's overrides.
    pub fn load_from(config: Option<&std::path::Path>) -> Result<Settings, ConfigError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let explicit = config.map(|p| p.to_string_lossy().into_owned());
        let path = explicit.clone().unwrap_or_else(|| "Leptos.toml".into());
        let mut settings = match std::fs::read_to_string(&path) {
            Ok(text) => Settings::from_toml(&text, &path)?,
            // Without a file (the release binary run from elsewhere) the defaults apply; a file
            // named explicitly must exist.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                Settings::default()
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        settings.apply_env(env)?;
        Ok(settings)
    }

    /// Refuses a single-user server (no sign-in) on an address others can reach, unless the
    /// settings say something else protects it.
    pub fn check_exposure(&self) -> Result<(), String> {
        let addr = self.server.addr;
        if self.auth.mode == crate::model::AuthMode::SingleUser
            && !addr.ip().is_loopback()
            && !self.server.protected
        {
            return Err(format!(
                "refusing to listen on {addr}: in single-user mode there is no sign-in, \
                 so anyone who can reach that address could use the app. Listen on 127.0.0.1, use \
                 accounts (auth.mode = \"accounts\"), or, when a proxy with authentication or a \
                 private network protects it, set server.protected = true (OLLAMASTACK_PROTECTED=true)."
            ));
        }
        Ok(())
    }

    pub fn from_toml(text: &str, path: &str) -> Result<Settings, ConfigError> {
        toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_string(),
            source: Box::new(source),
        })
    }

    /// Applies overrides from `lookup` (the process environment, or a map in tests).
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &'static str, value: String) -> Result<T, ConfigError>
        where
            T::Err: fmt::Display,
        {
            value.parse().map_err(|e: T::Err| ConfigError::Env {
                name,
                reason: e.to_string(),
                value,
            })
        }
        macro_rules! set {
            ($name:literal => $field:expr) => {
                if let Some(v) = lookup($name) {
                    $field = parse($name, v)?;
                }
            };
            ($name:literal => some $field:expr) => {
                if let Some(v) = lookup($name) {
                    $field = Some(v);
                }
            };
        }
        set!("LEPTOS_SITE_ADDR" => self.server.addr);
        set!("OLLAMASTACK_ADDR" => self.server.addr);
        set!("LEPTOS_SITE_ROOT" => self.server.site_root);
        set!("OLLAMASTACK_PUBLIC_URL" => some self.server.public_url);
        let list = |v: String| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_string)
                .collect()
        };
        if let Some(v) = lookup("OLLAMASTACK_ALLOWED_HOSTS") {
            self.server.allowed_hosts = list(v);
        }
        if let Some(v) = lookup("OLLAMASTACK_CORS_ORIGINS") {
            self.server.cors_origins = list(v);
        }
        if let Some(v) = lookup("OLLAMASTACK_TRUSTED_PROXIES") {
            self.limits.trusted_proxies = list(v);
        }
        if let Some(v) = lookup("OLLAMASTACK_OUTBOUND_ALLOWED_HOSTS") {
            self.outbound.allowed_hosts = list(v);
        }
        set!("OLLAMASTACK_OUTBOUND_TIMEOUT_MS" => self.outbound.timeout_ms);
        set!("OLLAMASTACK_WEBHOOK_RETRY_FOR_SECS" => self.webhooks.retry_for_secs);
        set!("OLLAMASTACK_METRICS" => self.observability.metrics);
        set!("OLLAMASTACK_METRICS_TOKEN" => some self.observability.metrics_token);
        set!("OLLAMASTACK_SECRET_KEY" => some self.security.secret_key);
        if let Some(base) = lookup("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|v| !v.trim().is_empty()) {
            self.observability.otlp_endpoint =
                Some(format!("{}/v1/traces", base.trim().trim_end_matches('/')));
        }
        set!("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" => some self.observability.otlp_endpoint);
        if let Some(v) = lookup("OTEL_EXPORTER_OTLP_HEADERS") {
            for pair in v.split(',').filter(|p| !p.trim().is_empty()) {
                let Some((key, value)) = pair.split_once('=') else {
                    return Err(ConfigError::Env {
                        name: "OTEL_EXPORTER_OTLP_HEADERS",
                        value: "<redacted>".into(),
                        reason: "each header is key=value".into(),
                    });
                };
                self.observability
                    .otlp_headers
                    .insert(key.trim().to_string(), value.trim().to_string());
            }
        }
        set!("OTEL_SERVICE_NAME" => self.observability.service_name);
        set!("OLLAMASTACK_RATE_PER_MINUTE" => self.limits.per_minute);
        set!("OLLAMASTACK_RATE_PER_HOUR" => self.limits.per_hour);
        set!("OLLAMASTACK_MAX_STREAMS_PER_PERSON" => self.limits.max_streams_per_person);
        set!("OLLAMASTACK_MAX_EVENT_STREAMS_PER_PERSON" => self.limits.max_event_streams_per_person);
        set!("OLLAMASTACK_EVENTS_POLL_MS" => self.server.events_poll_ms);
        set!("OLLAMASTACK_PROTECTED" => self.server.protected);
        set!("OLLAMASTACK_MAX_BODY_BYTES" => self.server.max_body_bytes);
        set!("DATABASE_URL" => some self.database.url);
        set!("OLLAMASTACK_DATA_DIR" => self.database.data_dir);
        set!("OLLAMASTACK_DB_MAX_CONNECTIONS" => self.database.max_connections);
        set!("OLLAMASTACK_DB_CONNECT_TIMEOUT_MS" => self.database.connect_timeout_ms);
        set!("OLLAMA_URL" => self.ollama.url);
        if let Some(v) = lookup("OLLAMA_URLS") {
            self.ollama.servers = list(v);
        }
        set!("OLLAMA_HEALTH_INTERVAL_MS" => self.ollama.health_interval_ms);
        set!("OLLAMA_CONNECT_TIMEOUT_MS" => self.ollama.connect_timeout_ms);
        set!("OLLAMA_REQUEST_TIMEOUT_MS" => self.ollama.request_timeout_ms);
        set!("OLLAMA_FIRST_TOKEN_TIMEOUT_MS" => self.ollama.first_token_timeout_ms);
        set!("OLLAMA_IDLE_TIMEOUT_MS" => self.ollama.idle_timeout_ms);
        set!("OLLAMASTACK_DEFAULT_MODEL" => some self.ollama.default_model);
        set!("OLLAMASTACK_FLUSH_INTERVAL_MS" => self.generation.flush_interval_ms);
        set!("OLLAMASTACK_SHUTDOWN_GRACE_MS" => self.generation.shutdown_grace_ms);
        set!("OLLAMASTACK_SYSTEM_PROMPT" => some self.generation.default_system_prompt);
        set!("OLLAMASTACK_HEARTBEAT_TIMEOUT_MS" => self.generation.heartbeat_timeout_ms);
        set!("OLLAMASTACK_SWEEP_INTERVAL_MS" => self.generation.sweep_interval_ms);
        set!("OLLAMASTACK_MAX_GENERATIONS" => self.generation.max_concurrent);
        set!("OLLAMASTACK_MAX_GENERATIONS_PER_OWNER" => self.generation.max_concurrent_per_owner);
        set!("OLLAMASTACK_MAX_ANSWER_TOKENS" => self.generation.max_answer_tokens);
        set!("OLLAMASTACK_MAX_ANSWER_CHARS" => self.generation.max_answer_chars);
        set!("OLLAMASTACK_MAX_ANSWER_MS" => self.generation.max_duration_ms);
        set!("OLLAMASTACK_FINISH_WAIT_MS" => self.generation.finish_wait_ms);
        set!("OLLAMASTACK_MAX_AGENT_STEPS" => self.generation.max_agent_steps);
        set!("OLLAMASTACK_TITLE_TIMEOUT_MS" => self.generation.title_timeout_ms);
        set!("OLLAMASTACK_TITLE_POLL_MS" => self.generation.title_poll_ms);
        set!("OLLAMASTACK_WEATHER_URL" => some self.tools.weather_url);
        set!("OLLAMASTACK_GEOCODING_URL" => some self.tools.geocoding_url);
        set!("OLLAMASTACK_TOOL_HTTP_TIMEOUT_MS" => self.tools.http_timeout_ms);
        set!("OLLAMASTACK_QUERY_TIMEOUT_MS" => self.tools.query_timeout_ms);
        set!("OLLAMASTACK_QUERY_DATABASE_URL" => some self.tools.query_database_url);
        if let Some(v) = lookup("OLLAMASTACK_FILES_DIR") {
            self.documents.files_dir = Some(PathBuf::from(v));
        }
        set!("OLLAMASTACK_FILE_STORAGE" => self.documents.storage);
        set!("OLLAMASTACK_MAX_FILE_BYTES" => self.documents.max_file_bytes);
        set!("OLLAMASTACK_FILE_QUOTA_BYTES" => self.documents.quota_bytes);
        set!("OLLAMASTACK_EMBEDDING_MODEL" => self.documents.embedding_model);
        set!("OLLAMASTACK_AUTH_MODE" => self.auth.mode);
        set!("OLLAMASTACK_SIGNUP" => self.auth.signup);
        set!("RUST_LOG" => self.log.filter);
        set!("OLLAMASTACK_LOG_JSON" => self.log.json);
        let mut preferences = self.preferences();
        for key in crate::model::Preferences::keys() {
            let name = preference_env_name(&key);
            if let Some(value) = lookup(&name) {
                preferences
                    .set_text(&key, &value)
                    .map_err(|e| ConfigError::Preference(format!("from {name}: {e}")))?;
            }
        }
        self.set_preferences(preferences);
        self.ollama.url = self.ollama.url.trim_end_matches('/').to_string();
        self.ollama.servers = self.ollama.server_urls();
        if self.ollama.servers.len() == 1 {
            // One server is the plain setting.
            self.ollama.url = self.ollama.servers.remove(0);
        }
        self.check()
    }

    /// The runtime settings as configured (file and environment), before any saved value.
    pub fn preferences(&self) -> crate::model::Preferences {
        crate::model::Preferences {
            ui: self.ui.clone(),
            ai: self.ai.clone(),
            features: self.features.clone(),
        }
    }

    pub fn set_preferences(&mut self, preferences: crate::model::Preferences) {
        self.ui = preferences.ui;
        self.ai = preferences.ai;
        self.features = preferences.features;
    }

    /// Values no deployment can mean.
    fn check(&self) -> Result<(), ConfigError> {
        for (name, value) in &self.server.response_headers {
            let name_ok = http::HeaderName::from_bytes(name.as_bytes()).is_ok();
            let value_ok = http::HeaderValue::from_str(value).is_ok();
            if !name_ok || !value_ok {
                return Err(ConfigError::Invalid {
                    key: "server.response_headers",
                    reason: format!("{name:?}: {value:?} is not a valid HTTP header"),
                });
            }
        }
        self.preferences()
            .validate()
            .map_err(|e| ConfigError::Preference(e.to_string()))?;
        if let Some(endpoint) = &self.observability.otlp_endpoint {
            match reqwest::Url::parse(endpoint) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "observability.otlp_endpoint",
                        reason: format!("{:?} is not an http(s) URL", redact_url(endpoint)),
                    })
                }
            }
        }
        for (name, value) in &self.observability.otlp_headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || http::HeaderValue::from_str(value).is_err()
            {
                return Err(ConfigError::Invalid {
                    key: "observability.otlp_headers",
                    reason: format!("{name:?} is not a valid HTTP header"),
                });
            }
        }
        if !(0.0..=1.0).contains(&self.observability.trace_sample_ratio) {
            return Err(ConfigError::Invalid {
                key: "observability.trace_sample_ratio",
                reason: "must be from 0 to 1".into(),
            });
        }
        if self
            .security
            .secret_key
            .as_deref()
            .is_some_and(|key| key.trim().chars().count() < crate::secrets::MIN_KEY_CHARS)
        {
            return Err(ConfigError::Invalid {
                key: "security.secret_key",
                reason: format!(
                    "must be at least {} characters (a random string)",
                    crate::secrets::MIN_KEY_CHARS
                ),
            });
        }
        if !(1..=MAX_MESSAGES_PER_PAGE).contains(&self.server.messages_per_page) {
            return Err(ConfigError::Invalid {
                key: "server.messages_per_page",
                reason: format!("must be from 1 to {MAX_MESSAGES_PER_PAGE}"),
            });
        }
        if let Some(url) = &self.server.public_url {
            match reqwest::Url::parse(url) {
                Ok(parsed)
                    if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {}
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "server.public_url",
                        reason: format!("{url:?} is not an http(s) URL"),
                    })
                }
            }
        }
        for (key, url) in [
            ("tools.weather_url", &self.tools.weather_url),
            ("tools.geocoding_url", &self.tools.geocoding_url),
            (
                "tools.crates_io_url",
                &Some(self.tools.crates_io_url.clone()),
            ),
            ("tools.npm_url", &Some(self.tools.npm_url.clone())),
        ] {
            if let Some(url) = url {
                match reqwest::Url::parse(url) {
                    Ok(parsed)
                        if matches!(parsed.scheme(), "http" | "https")
                            && parsed.host().is_some() => {}
                    _ => {
                        return Err(ConfigError::Invalid {
                            key,
                            reason: format!("{url:?} is not an http(s) URL"),
                        })
                    }
                }
            }
        }
        let ollama_urls = std::iter::once(("ollama.url", &self.ollama.url)).chain(
            self.ollama
                .servers
                .iter()
                .map(|url| ("ollama.servers", url)),
        );
        for (key, url) in ollama_urls {
            match reqwest::Url::parse(url) {
                Ok(parsed)
                    if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {}
                _ => {
                    return Err(ConfigError::Invalid {
                        key,
                        reason: format!("{:?} is not an http(s) URL", redact_url(url)),
                    })
                }
            }
        }
        let documents = &self.documents;
        for (key, ok, reason) in [
            (
                "documents.max_file_bytes",
                documents.max_file_bytes >= 1,
                "must be at least 1",
            ),
            (
                "documents.max_files_per_upload",
                documents.max_files_per_upload >= 1,
                "must be at least 1",
            ),
            (
                "documents.embed_batch",
                documents.embed_batch >= 1,
                "must be at least 1",
            ),
            (
                "documents.chunk_chars",
                documents.chunk_chars >= 100,
                "must be at least 100",
            ),
            (
                "documents.chunk_overlap",
                documents.chunk_overlap < documents.chunk_chars / 2,
                "must be less than half of documents.chunk_chars",
            ),
            (
                "documents.embedding_model",
                !documents.embedding_model.trim().is_empty(),
                "must name a model",
            ),
        ] {
            if !ok {
                return Err(ConfigError::Invalid {
                    key,
                    reason: reason.into(),
                });
            }
        }
        crate::limits::TrustedProxies::parse(&self.limits.trusted_proxies).map_err(|reason| {
            ConfigError::Invalid {
                key: "limits.trusted_proxies",
                reason,
            }
        })?;
        if self.webhooks.concurrency < 1 || self.webhooks.first_retry_ms < 1 {
            return Err(ConfigError::Invalid {
                key: "webhooks",
                reason: "concurrency and first_retry_ms must be at least 1".into(),
            });
        }
        if self.limits.max_streams_per_person < 1 {
            return Err(ConfigError::Invalid {
                key: "limits.max_streams_per_person",
                reason: "must be at least 1".into(),
            });
        }
        if self.limits.max_event_streams_per_person < 1 {
            return Err(ConfigError::Invalid {
                key: "limits.max_event_streams_per_person",
                reason: "must be at least 1".into(),
            });
        }
        for origin in &self.server.cors_origins {
            let valid = reqwest::Url::parse(origin).is_ok_and(|url| {
                matches!(url.scheme(), "http" | "https")
                    && url.host().is_some()
                    && url.origin().ascii_serialization() == origin.trim_end_matches('/')
            });
            if !valid {
                return Err(ConfigError::Invalid {
                    key: "server.cors_origins",
                    reason: format!(
                        "{origin:?} is not an origin (scheme://host[:port], without a path)"
                    ),
                });
            }
        }
        if self.generation.max_answer_tokens < 1 {
            return Err(ConfigError::Invalid {
                key: "generation.max_answer_tokens",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// Removes the user name and password of a URL: what a browser may be shown.
pub fn public_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => "<unparsable url>".to_string(),
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("data_dir", &self.data_dir)
            .field("max_connections", &self.max_connections)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .finish()
    }
}

impl fmt::Debug for OllamaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OllamaSettings")
            .field("url", &redact_url(&self.url))
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("first_token_timeout_ms", &self.first_token_timeout_ms)
            .field("idle_timeout_ms", &self.idle_timeout_ms)
            .field("default_model", &self.default_model)
            .field(
                "servers",
                &self
                    .servers
                    .iter()
                    .map(|u| redact_url(u))
                    .collect::<Vec<_>>(),
            )
            .field("health_interval_ms", &self.health_interval_ms)
            .finish()
    }
}

/// Replaces the password of a URL with `***`, for logs.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) => "<unparsable url>".to_string(),
    }
}

impl fmt::Display for Settings {
    /// The settings as TOML with secrets redacted, printed at start.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.clone();
        shown.database.url = shown.database.url.as_deref().map(redact_url);
        shown.ollama.url = redact_url(&shown.ollama.url);
        for url in &mut shown.ollama.servers {
            *url = redact_url(url);
        }
        shown.tools.query_database_url = shown.tools.query_database_url.as_deref().map(redact_url);
        if shown.observability.metrics_token.is_some() {
            shown.observability.metrics_token = Some("***".into());
        }
        shown.observability.otlp_endpoint =
            shown.observability.otlp_endpoint.as_deref().map(redact_url);
        for value in shown.observability.otlp_headers.values_mut() {
            *value = "***".into();
        }
        if shown.security.secret_key.is_some() {
            shown.security.secret_key = Some("***".into());
        }
        match toml::to_string(&shown) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "{shown:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn file_then_environment_override_defaults() {
        let mut settings = Settings::from_toml(
            "[ollama]\nurl = \"http://gpu-box:11434/\"\nidle_timeout_ms = 1234\n[generation]\nflush_interval_ms = 250\n",
            "test.toml",
        )
        .unwrap();
        assert_eq!(settings.ollama.idle_timeout_ms, 1234);
        assert_eq!(
            settings.database.max_connections, 10,
            "unset keys keep defaults"
        );
        let env: HashMap<&str, &str> = [
            ("OLLAMA_IDLE_TIMEOUT_MS", "99"),
            ("DATABASE_URL", "postgres://u:pw@db/x"),
        ]
        .into();
        settings
            .apply_env(|k| env.get(k).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(settings.ollama.idle_timeout_ms, 99);
        assert_eq!(
            settings.ollama.url, "http://gpu-box:11434",
            "trailing slash trimmed"
        );
        assert_eq!(settings.generation.flush_interval_ms, 250);
        assert_eq!(
            settings.database.url.as_deref(),
            Some("postgres://u:pw@db/x")
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_clear_errors() {
        let err = Settings::from_toml("[ollama]\nurll = \"x\"\n", "Leptos.toml").unwrap_err();
        assert!(err.to_string().contains("Leptos.toml"), "{err}");
        assert!(err.to_string().contains("urll"), "{err}");
        let mut settings = Settings::default();
        let err = settings
            .apply_env(|k| (k == "OLLAMA_IDLE_TIMEOUT_MS").then(|| "soon".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("OLLAMA_IDLE_TIMEOUT_MS"), "{err}");
    }

    #[test]
    fn secrets_are_redacted_when_printed() {
        let mut settings = Settings::default();
        settings.database.url = Some("postgres://app:hunter2@db:5432/ollamastack".into());
        settings.ollama.url = "http://user:s3cret@gpu-box:11434".into();
        settings.tools.query_database_url = Some("postgres://reader:r3ader@db/ollamastack".into());
        settings.security.secret_key = Some("k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y".into());
        settings
            .observability
            .otlp_headers
            .insert("x-honeycomb-team".into(), "t0ken".into());
        let shown = settings.to_string();
        assert!(
            !shown.contains("hunter2")
                && !shown.contains("r3ader")
                && !shown.contains("k3y")
                && !shown.contains("t0ken"),
            "{shown}"
        );
        let debugged = format!("{settings:?}");
        assert!(
            !debugged.contains("hunter2")
                && !debugged.contains("s3cret")
                && !debugged.contains("r3ader"),
            "{debugged}"
        );
        assert_eq!(public_url(&settings.ollama.url), "http://gpu-box:11434");
        assert!(
            shown.contains("postgres://app:***@db:5432/ollamastack"),
            "{shown}"
        );
    }

    #[test]
    fn opentelemetrys_environment_variables_set_the_trace_export() {
        let env: std::collections::HashMap<&str, &str> = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-key=abc, x-team=ops"),
            ("OTEL_SERVICE_NAME", "chat-eu"),
        ]
        .into_iter()
        .collect();
        let mut settings = Settings::default();
        settings
            .apply_env(|name| env.get(name).map(|v| v.to_string()))
            .unwrap();
        let observability = &settings.observability;
        assert_eq!(
            observability.otlp_endpoint.as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(observability.otlp_headers["x-key"], "abc");
        assert_eq!(observability.otlp_headers["x-team"], "ops");
        assert_eq!(observability.service_name, "chat-eu");
        // The signal's own variable is the whole URL, and wins.
        let mut settings = Settings::default();
        settings
            .apply_env(|name| match name {
                "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://a:4318".into()),
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" => Some("https://b/traces".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            settings.observability.otlp_endpoint.as_deref(),
            Some("https://b/traces")
        );
        let bad = Settings::default().apply_env(|name| {
            (name == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").then(|| "collector:4318".into())
        });
        assert!(bad.is_err(), "not a URL");
    }

    #[test]
    fn every_environment_variable_is_documented_in_the_readme() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        for (name, _) in ENV_VARS {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README.md does not document {name}"
            );
        }
    }

    #[test]
    fn runtime_settings_come_from_the_file_then_the_environment() {
        let mut settings = Settings::from_toml(
            "[ui]\ntheme = \"dark\"\nsidebar_width = 300\n[ui.brand]\napp_name = \"Acme\"\n[features]\nanalytics = false\n",
            "test.toml",
        )
        .unwrap();
        settings
            .apply_env(|name| match name {
                "OLLAMASTACK_UI_SIDEBAR_WIDTH" => Some("360".into()),
                "OLLAMASTACK_AI_DEFAULT_MODEL" => Some("qwen3:4b".into()),
                "OLLAMASTACK_UI_BRAND_PRIMARY" => Some("#0f766e".into()),
                _ => None,
            })
            .unwrap();
        let prefs = settings.preferences();
        assert_eq!(prefs.ui.theme, crate::model::ThemeChoice::Dark);
        assert_eq!(prefs.ui.sidebar_width, 360);
        assert_eq!(prefs.ui.brand.app_name, "Acme");
        assert_eq!(prefs.ui.brand.primary, "#0f766e");
        assert_eq!(prefs.ai.default_model.as_deref(), Some("qwen3:4b"));
        assert!(!prefs.features.analytics);
        assert!(prefs.features.file_upload);

        let error = Settings::default()
            .apply_env(|name| (name == "OLLAMASTACK_FEATURES_ANALYTICS").then(|| "maybe".into()))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("OLLAMASTACK_FEATURES_ANALYTICS")
                && error.contains("features.analytics"),
            "{error}"
        );
        let error = Settings::from_toml("[ui]\nsidebar_width = 9000\n", "t.toml")
            .unwrap()
            .check()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("ui.sidebar_width: must be between"),
            "{error}"
        );
    }

    #[test]
    fn shipped_leptos_toml_is_valid() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Leptos.toml")).unwrap();
        Settings::from_toml(&text, "Leptos.toml").unwrap();
    }
}
