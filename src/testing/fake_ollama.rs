//! A fake Ollama that speaks the real wire protocol (see ../shared/docs/ollama-api.md): streamed
//! NDJSON cut at awkward byte offsets (inside lines and inside UTF-8 characters) or several lines
//! in one write, 404 for unknown models, error lines in mid-stream, delays and stalls.
//!
//! The answer depends on switches in the last user message, so tests choose a behaviour by
//! what they type:
//! - `[tokens=N]` answer with N tokens (default 12); `[delay=MS]` wait MS between tokens;
//!   `[first=MS]` wait MS before the first token; `[para=N]` start a new paragraph every N
//!   tokens (a blank line before token N, 2N, …), as real answers are laid out
//! - `[stall]` send 3 tokens, then nothing until the client hangs up
//! - `[error]` send 3 tokens, then an `{"error": …}` line
//! - `[die]` send 3 tokens, then cut the connection mid-body (the server process died)
//! - `[garbage]` send 3 tokens, then a line that is not JSON
//! - `[http500]` answer 500 with an error body
//! - `[markdown]` answer with markdown: heading, list, table, code block and raw HTML
//! - `[cite]` answer from the first numbered passage of a documents system message, citing it
//!   as a grounded model does: `According to PLACE: FIRST SENTENCE [1]`
//! - `[length]` end with `done_reason: "length"`
//! - `[image]` answer with a markdown image on a remote URL (how a prompt injection leaks data)
//! - `[controls]` answer with characters some databases refuse or that are easy to mangle
//!   (NUL, other control characters, line separators, noncharacters), as Ollama's JSON escapes them
//!
//! Tool calls, only when the request offers `tools`, as Ollama sends them (whole, in a
//! `done: false` chunk with empty content, then a statistics-only `done: true` chunk):
//! - `[call=NAME {JSON}]` call tool NAME with these arguments (several switches: several calls;
//!   JSON that is not an object is sent as it is, for malformed-argument tests)
//! - `[rounds=N]` make the calls in the first N model calls of the run (default 1), then answer
//!   with the tool results it was sent: `Results: NAME=CONTENT; …`
//! - `[think]` think first: `THINKING_ANSWER` in `message.thinking` chunks, then the answer
//! - with a `format` schema and no `tools` (tools by prompt, for models that cannot call them):
//!   one JSON reply per model call, `{"tool", "arguments"}` for each `[call=…]` in turn, then
//!   `{"tool": "none", "answer": "Results: …"}` from the "Result of the tool …" messages
//! - `/api/show`: models named `gemma…` list no `tools` capability; models named `llava…` list
//!   `vision`
//! - images (`messages[].images`, base64): the last user message's are decoded (400 `illegal
//!   base64 data at input byte N` as Ollama says) and the answer begins `I see N image(s): KIND
//!   SIZE bytes, …` (KIND from the magic bytes); a model without `vision` answers 500, as
//!   llama.cpp's runner does
//! - `[spread]` each call in a chunk of its own (default: all in one chunk); `[noid]` calls
//!   without `id` (older Ollama)
//!
//! Models: `/api/pull` streams progress as Ollama does (manifest, two layers in steps of
//! `pull_step`, verify, write, success) and then lists the model; names starting with `nosuch`
//! end with Ollama's `{"error":"pull model manifest: file does not exist"}` line. `/api/delete`
//! removes a model (404 for an unknown one).
//!
//! `FakeConfig::chat_failure`: every chat answers 500 with that message before any token, as a
//! server that cannot load the model does (a pool must send the chat elsewhere).
//!
//! Embeddings (`/api/embed`, for `embedding_models` only, listed in /api/tags with a BERT family
//! as Ollama lists nomic-embed-text): deterministic vectors made from the text itself, so that
//! search can be tested: each lowercase word (a trailing "s" dropped) is hashed (FNV-1a) into one
//! of 256 dimensions, and the vector is L2-normalised as Ollama's are. Texts that share words
//! are close; texts that share none are orthogonal. An input containing `[embed500]` makes the
//! request fail with 500.

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde_json::{json, Value};
use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct FakeConfig {
    pub models: Vec<String>,
    /// Models that only embed (`/api/embed`); chat with them is refused as Ollama does.
    pub embedding_models: Vec<String>,
    /// Pause between tokens unless the prompt says otherwise.
    pub token_delay: Duration,
    /// Cut lines at random byte offsets (and glue some together) when sending.
    pub split_writes: bool,
    /// Every chat fails with 500 and this message before its first token.
    pub chat_failure: Option<String>,
    /// Pause between two progress lines of a pull.
    pub pull_step: Duration,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            models: vec!["llama3.2:latest".into(), "qwen2.5:0.5b".into()],
            embedding_models: vec!["nomic-embed-text:latest".into()],
            token_delay: Duration::from_millis(5),
            split_writes: true,
            chat_failure: None,
            pull_step: Duration::from_millis(20),
        }
    }
}

/// What the fake saw; tests assert on it.
#[derive(Default, Debug)]
pub struct FakeStats {
    pub chat_requests: AtomicUsize,
    /// /api/embed requests, and the texts they carried.
    pub embed_requests: AtomicUsize,
    pub embedded_inputs: AtomicUsize,
    /// Streams still being sent.
    pub active_streams: AtomicUsize,
    /// Streams the client hung up on before the end.
    pub cancelled_streams: AtomicUsize,
    pub completed_streams: AtomicUsize,
    pub last_chat_request: Mutex<Option<Value>>,
    /// The W3C `traceparent` header of the last /api/chat request, when it had one.
    pub last_chat_traceparent: Mutex<Option<String>>,
}

impl FakeStats {
    /// The body of the last /api/chat request (Null before any).
    pub fn last_chat_request(&self) -> Value {
        self.last_chat_request
            .lock()
            .unwrap()
            .clone()
            .unwrap_or(Value::Null)
    }

    pub fn snapshot(&self) -> Value {
        json!({
            "chat_requests": self.chat_requests.load(Ordering::SeqCst),
            "embed_requests": self.embed_requests.load(Ordering::SeqCst),
            "active_streams": self.active_streams.load(Ordering::SeqCst),
            "cancelled_streams": self.cancelled_streams.load(Ordering::SeqCst),
            "completed_streams": self.completed_streams.load(Ordering::SeqCst),
        })
    }
}

struct Shared {
    config: FakeConfig,
    stats: Arc<FakeStats>,
    /// The chat models it has now (pulls add, deletes remove).
    models: Mutex<Vec<String>>,
}

impl Shared {
    fn chat_models(&self) -> Vec<String> {
        self.models.lock().unwrap().clone()
    }
}

pub struct FakeOllama {
    pub addr: SocketAddr,
    pub stats: Arc<FakeStats>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeOllama {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start(config: FakeConfig) -> std::io::Result<FakeOllama> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    pub async fn start_on(addr: SocketAddr, config: FakeConfig) -> std::io::Result<FakeOllama> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(FakeStats::default());
        let router = router(config, stats.clone());
        let task = tokio::spawn(serve(listener, router));
        Ok(FakeOllama { addr, stats, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops answering: the port and every open connection are closed, as when Ollama dies.
    /// Returns once they are: an abort only takes effect at the task's next poll, and until
    /// then a kept-alive connection could still answer the test's next request.
    pub async fn kill(&self) {
        self.task.abort();
        while !self.task.is_finished() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Serves HTTP/1.1 (as Ollama's Go server does) with each connection a child of this task, so
/// that aborting it closes them all. `axum::serve` spawns connections apart from its accept
/// loop: a "dead" fake would go on answering on the connections a client keeps alive.
async fn serve(listener: TcpListener, router: Router) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                // Out of file descriptors, say: wait instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Go, and so Ollama, sets TCP_NODELAY on every connection.
        let _ = tcp.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        connections.spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

impl Drop for FakeOllama {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn router(config: FakeConfig, stats: Arc<FakeStats>) -> Router {
    let models = Mutex::new(config.models.clone());
    let shared = Arc::new(Shared {
        config,
        stats,
        models,
    });
    Router::new()
        .route(
            "/api/version",
            get(|| async { Json(json!({ "version": "0.12.0" })) }),
        )
        .route("/api/tags", get(tags))
        .route("/api/chat", post(chat))
        .route("/api/show", post(show))
        .route("/api/embed", post(embed))
        .route("/api/pull", post(pull))
        .route("/api/delete", axum::routing::delete(delete))
        .route(
            "/__fake/stats",
            get(|State(s): State<Arc<Shared>>| async move { Json(s.stats.snapshot()) }),
        )
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain")],
                "404 page not found",
            )
        })
        .with_state(shared)
}

/// /api/show: models whose name starts with `gemma` cannot call tools (as Gemma 2), the
/// others can.
async fn show(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = request["model"].as_str().unwrap_or_default();
    if !knows(&shared.chat_models(), model) {
        return error(StatusCode::NOT_FOUND, &format!("model '{model}' not found"));
    }
    let capabilities = if model.starts_with("gemma") {
        json!(["completion"])
    } else if model.starts_with("llava") {
        json!(["completion", "vision"])
    } else {
        json!(["completion", "tools"])
    };
    Json(json!({
        "modelfile": "FROM fake", "parameters": "", "template": "{{ .Prompt }}",
        "details": { "format": "gguf", "family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M" },
        "model_info": { "general.architecture": "llama", "llama.context_length": 131072 },
        "capabilities": capabilities,
    }))
    .into_response()
}

async fn tags(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let chat_models = shared.chat_models();
    let chat = chat_models.iter().map(|name| {
        json!({
            "name": name, "model": name, "modified_at": "2026-01-01T00:00:00Z",
            "size": 2019393189u64, "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
            "details": { "format": "gguf", "family": "llama", "families": ["llama"],
                         "parameter_size": "3.2B", "quantization_level": "Q4_K_M" }
        })
    });
    // As Ollama lists nomic-embed-text.
    let embedding = shared.config.embedding_models.iter().map(|name| {
        json!({
            "name": name, "model": name, "modified_at": "2026-01-01T00:00:00Z",
            "size": 274302450u64, "digest": "0a109f422b47e3a30ba2b10eca18548e944e8a23073ee3f3e947efcf3c45e59f",
            "details": { "format": "gguf", "family": "nomic-bert", "families": ["nomic-bert"],
                         "parameter_size": "137M", "quantization_level": "F16" }
        })
    });
    Json(json!({ "models": chat.chain(embedding).collect::<Vec<_>>() }))
}

/// /api/embed: `input` is a string or a list of strings; one deterministic vector per input
/// (see the module comment).
async fn embed(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    shared.stats.embed_requests.fetch_add(1, Ordering::SeqCst);
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = request["model"].as_str().unwrap_or_default();
    if !knows(&shared.config.embedding_models, model) {
        if knows(&shared.chat_models(), model) {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("\"{model}\" does not support embeddings"),
            );
        }
        return error(
            StatusCode::NOT_FOUND,
            &format!("model \"{model}\" not found, try pulling it first"),
        );
    }
    let inputs: Vec<String> = match &request["input"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => return error(StatusCode::BAD_REQUEST, "invalid input type"),
    };
    if inputs.iter().any(|i| i.contains("[embed500]")) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed to embed: the runner crashed",
        );
    }
    shared
        .stats
        .embedded_inputs
        .fetch_add(inputs.len(), Ordering::SeqCst);
    let embeddings: Vec<Vec<f32>> = inputs.iter().map(|i| fake_embedding(i)).collect();
    Json(json!({
        "model": model, "embeddings": embeddings,
        "total_duration": 14143917u64, "load_duration": 1019500u64, "prompt_eval_count": 8
    }))
    .into_response()
}

/// /api/pull: progress lines as Ollama streams them, then the model is listed.
async fn pull(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = request["model"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_string();
    if model.is_empty() {
        return error(StatusCode::BAD_REQUEST, "model is required");
    }
    let name = if model.rsplit('/').next().unwrap_or(&model).contains(':') {
        model.clone()
    } else {
        format!("{model}:latest")
    };
    let step = shared.config.pull_step;
    let stream = async_stream::stream! {
        let line = |value: Value| {
            let mut bytes = serde_json::to_vec(&value).unwrap();
            bytes.push(b'\n');
            Ok::<_, std::io::Error>(Bytes::from(bytes))
        };
        yield line(json!({ "status": "pulling manifest" }));
        tokio::time::sleep(step).await;
        if model.starts_with("nosuch") {
            yield line(json!({ "error": "pull model manifest: file does not exist" }));
            return;
        }
        let layers = [
            ("sha256:dde5aa3fc5ffc17176b5e8bdc82f587b24b2678c6c66101bf7da77af9f7ccdff", 4_000_000u64),
            ("sha256:966de95ca8a62200913e3f8bfbf84c8494536f1b94b49166851e76644e966396", 1_429u64),
        ];
        for (digest, total) in layers {
            for tenth in 0..=10u64 {
                yield line(json!({
                    "status": format!("pulling {}", &digest[7..19]),
                    "digest": digest, "total": total, "completed": total * tenth / 10,
                }));
                tokio::time::sleep(step).await;
            }
        }
        yield line(json!({ "status": "verifying sha256 digest" }));
        yield line(json!({ "status": "writing manifest" }));
        {
            let mut models = shared.models.lock().unwrap();
            if !knows(&models, &name) {
                models.push(name.clone());
            }
        }
        yield line(json!({ "status": "success" }));
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// /api/delete: 200 with an empty body, or 404.
async fn delete(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = request["model"].as_str().unwrap_or_default();
    let mut models = shared.models.lock().unwrap();
    let before = models.len();
    models.retain(|m| !(m == model || m.strip_suffix(":latest") == Some(model)));
    if models.len() == before {
        return error(StatusCode::NOT_FOUND, &format!("model '{model}' not found"));
    }
    StatusCode::OK.into_response()
}

/// Dimensions of the fake's embeddings.
pub const FAKE_EMBEDDING_DIMENSIONS: usize = 256;

/// The fake's embedding of a text: hashed words, L2-normalised (see the module comment).
pub fn fake_embedding(text: &str) -> Vec<f32> {
    let mut vector = vec![0f32; FAKE_EMBEDDING_DIMENSIONS];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        let word = word
            .strip_suffix('s')
            .filter(|w| w.len() > 2)
            .unwrap_or(&word);
        let mut hash: u64 = 0xcbf29ce484222325;
        for byte in word.bytes() {
            hash ^= byte as u64;
            hash = hash.wrapping_mul(0x100000001b3);
        }
        vector[(hash % FAKE_EMBEDDING_DIMENSIONS as u64) as usize] += 1.0;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn knows(models: &[String], name: &str) -> bool {
    models
        .iter()
        .any(|m| m == name || m.strip_suffix(":latest") == Some(name))
}

/// The `[call=NAME {JSON}]` switches of a prompt: (tool name, arguments).
pub(crate) fn tool_call_switches(prompt: &str) -> Vec<(String, Value)> {
    let mut calls = Vec::new();
    let mut rest = prompt;
    while let Some(start) = rest.find("[call=") {
        rest = &rest[start + 6..];
        let Some(end) = rest.find(']') else { break };
        let spec = &rest[..end];
        let (name, arguments) = spec.split_once(' ').unwrap_or((spec, "{}"));
        let arguments = serde_json::from_str(arguments.trim())
            .unwrap_or_else(|_| Value::String(arguments.trim().to_string()));
        calls.push((name.to_string(), arguments));
        rest = &rest[end..];
    }
    calls
}

/// A number after `[key=` in the prompt.
pub(crate) fn switch(prompt: &str, key: &str) -> Option<u64> {
    let start = prompt.find(&format!("[{key}="))? + key.len() + 2;
    let end = prompt[start..].find(']')? + start;
    prompt[start..end].parse().ok()
}

const WORDS: &[&str] = &[
    "The",
    " quick",
    " brown",
    " fox",
    " jumps",
    " over",
    " the",
    " lazy",
    " dog",
    ";",
    " café",
    " naïve",
    " 日本語",
    " 🦀",
    " crème",
    " brûlée",
    " —",
    " ok",
    ".",
];

/// The text of an answer of `n` tokens without switches, as the fake sends it.
pub fn expected_answer(n: usize) -> String {
    (0..n).map(|i| WORDS[i % WORDS.len()]).collect()
}

/// The thinking of `[think]`, before its answer.
pub const THINKING_ANSWER: &str =
    "The person wants a short answer; I will count the words — café, 日本語 — first.";

/// The answer of `[image]`: an image whose URL would carry data out if it were loaded.
pub const IMAGE_ANSWER: &str =
    "Here is a chart: ![the chart](http://127.0.0.1:9/leak.png?data=secret) as asked.";

/// The tokens of `[controls]`.
pub const CONTROLS_ANSWER: &[&str] = &[
    "nul:\0;",
    " bell:\u{7};",
    " esc:\u{1b}[31m;",
    " del:\u{7f};",
    " c1:\u{85}\u{9f};",
    " ls:\u{2028};",
    " bom:\u{feff};",
    " nonchar:\u{fffe}\u{ffff};",
    " crab:🦀\0\0;",
    " end",
];

/// The answer of `[cite]`: the first sentence of passage [1] of the request's documents.
fn cited_answer(request: &Value) -> String {
    let passages = request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "system")
        .filter_map(|m| m["content"].as_str())
        .find(|c| c.contains("\n[1] "));
    let Some(passages) = passages else {
        return "The documents do not say.".into();
    };
    let after = &passages[passages.find("\n[1] ").unwrap_or(0) + 5..];
    let (place, text) = after.split_once(":\n").unwrap_or((after, ""));
    // The first sentence of its prose (headings left out).
    let prose: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let prose = prose.join(" ");
    let sentence = prose
        .split_inclusive('.')
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches('.');
    format!("According to {place}: {sentence} [1].")
}

/// The markdown answer of `[markdown]`, with raw HTML that must never run.
pub const MARKDOWN_ANSWER: &str = "# Heading\n\nA list:\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n\
Inline `code` and a [link](https://example.com) and <script>window.__pwned = true</script>\n\n\
<img src=x onerror=\"window.__pwned = true\">\n\n```rust\nfn main() {\n    println!(\"hi\");\n}\n```\n";

/// What the model "sees" in the last user message's images: `I see N image(s): png 68 bytes,
/// …`; `None` without images; an error response for bad base64 or a model without vision.
#[allow(clippy::result_large_err)]
fn seen_images(request: &Value, model: &str) -> Result<Option<String>, Response> {
    use base64::Engine;
    let images = request["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["images"].as_array())
        .cloned()
        .unwrap_or_default();
    if images.is_empty() {
        return Ok(None);
    }
    let mut seen = Vec::new();
    for image in &images {
        let text = image.as_str().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| {
                let at = match e {
                    base64::DecodeError::InvalidByte(at, _) => at,
                    _ => text.len(),
                };
                error(
                    StatusCode::BAD_REQUEST,
                    &format!("illegal base64 data at input byte {at}"),
                )
            })?;
        let kind = if bytes.starts_with(b"\x89PNG") {
            "png"
        } else if bytes.starts_with(b"\xFF\xD8\xFF") {
            "jpeg"
        } else if bytes.starts_with(b"GIF8") {
            "gif"
        } else if bytes.len() > 12 && &bytes[8..12] == b"WEBP" {
            "webp"
        } else {
            "unknown"
        };
        seen.push(format!("{kind} {} bytes", bytes.len()));
    }
    if !model.starts_with("llava") {
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "this model is missing data required for image input",
        ));
    }
    Ok(Some(format!(
        "I see {} image(s): {}.",
        images.len(),
        seen.join(", ")
    )))
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid request: {e}")),
    };
    // The request is stored before it is counted: a test that sees the count go up then
    // reads this request, not the one before (or none).
    *shared.stats.last_chat_request.lock().unwrap() = Some(request.clone());
    shared.stats.chat_requests.fetch_add(1, Ordering::SeqCst);
    *shared.stats.last_chat_traceparent.lock().unwrap() = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let model = request["model"].as_str().unwrap_or_default().to_string();
    if model.is_empty() {
        return error(StatusCode::BAD_REQUEST, "model is required");
    }
    if !knows(&shared.chat_models(), &model) {
        return error(StatusCode::NOT_FOUND, &format!("model '{model}' not found"));
    }
    if let Some(message) = &shared.config.chat_failure {
        return error(StatusCode::INTERNAL_SERVER_ERROR, message);
    }
    let prompt = request["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string();
    let seen = match seen_images(&request, &model) {
        Ok(seen) => seen,
        Err(response) => return response,
    };
    // Tools by prompt (a `format` schema, results sent back as user messages): one JSON reply
    // per model call, naming a tool or holding the answer.
    let prompted_tokens: Option<Vec<String>> = request["format"].is_object().then(|| {
        let history = request["messages"].as_array().cloned().unwrap_or_default();
        let asked = history
            .iter()
            .rposition(|m| {
                m["role"] == "user"
                    && !m["content"]
                        .as_str()
                        .unwrap_or_default()
                        .starts_with("Result of the tool ")
            })
            .unwrap_or(0);
        let question = history
            .get(asked)
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default();
        let calls = tool_call_switches(question);
        let steps_done = history[asked..]
            .iter()
            .filter(|m| m["role"] == "assistant")
            .count() as u64;
        let rounds = switch(question, "rounds").unwrap_or(1);
        let reply = if !calls.is_empty() && steps_done < calls.len() as u64 * rounds {
            let (name, arguments) = &calls[steps_done as usize % calls.len()];
            json!({ "tool": name, "arguments": arguments })
        } else {
            let results: Vec<String> = history[asked..]
                .iter()
                .filter_map(|m| m["content"].as_str()?.strip_prefix("Result of the tool "))
                .map(|r| r.replacen(": ", "=", 1))
                .collect();
            json!({ "tool": "none", "answer": format!("Results: {}", results.join("; ")) })
        };
        let text = reply.to_string();
        let chars: Vec<char> = text.chars().collect();
        chars.chunks(5).map(|c| c.iter().collect()).collect()
    });
    let calls = tool_call_switches(&prompt);
    let offered_tools = request["tools"].as_array().is_some_and(|t| !t.is_empty());
    let history = request["messages"].as_array().cloned().unwrap_or_default();
    let after_user = history
        .iter()
        .rposition(|m| m["role"] == "user")
        .map_or(&history[..], |i| &history[i + 1..]);
    let rounds_done = after_user
        .iter()
        .filter(|m| {
            m["role"] == "assistant" && m["tool_calls"].as_array().is_some_and(|c| !c.is_empty())
        })
        .count() as u64;
    let calling =
        offered_tools && !calls.is_empty() && rounds_done < switch(&prompt, "rounds").unwrap_or(1);
    if prompt.contains("[http500]") {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "llama runner process has terminated: exit status 2",
        );
    }
    let tokens: Vec<String> = if let Some(tokens) = prompted_tokens {
        tokens
    } else if calling {
        Vec::new()
    } else if offered_tools && rounds_done > 0 {
        let results: Vec<String> = after_user
            .iter()
            .filter(|m| m["role"] == "tool")
            .map(|m| {
                format!(
                    "{}={}",
                    m["tool_name"].as_str().unwrap_or("?"),
                    m["content"].as_str().unwrap_or("")
                )
            })
            .collect();
        format!("Results: {}", results.join("; "))
            .split_inclusive(' ')
            .map(str::to_string)
            .collect()
    } else if let Some(seen) = seen {
        seen.split_inclusive(' ').map(str::to_string).collect()
    } else if prompt.contains("[image]") {
        IMAGE_ANSWER
            .split_inclusive(' ')
            .map(str::to_string)
            .collect()
    } else if prompt.contains("[controls]") {
        CONTROLS_ANSWER.iter().map(|t| t.to_string()).collect()
    } else if prompt.contains("[cite]") {
        cited_answer(&request)
            .split_inclusive(' ')
            .map(str::to_string)
            .collect()
    } else if prompt.contains("[markdown]") {
        MARKDOWN_ANSWER
            .split_inclusive([' ', '\n'])
            .map(str::to_string)
            .collect()
    } else {
        let n = switch(&prompt, "tokens").unwrap_or(12) as usize;
        let paragraph = switch(&prompt, "para").unwrap_or(0) as usize;
        (0..n)
            .map(|i| {
                let word = WORDS[i % WORDS.len()];
                if paragraph > 0 && i > 0 && i % paragraph == 0 {
                    format!("\n\n{}", word.trim_start())
                } else {
                    word.to_string()
                }
            })
            .collect::<Vec<_>>()
    };
    // Like Ollama, stop at `options.num_predict` tokens, with done_reason "length".
    let num_predict = request["options"]["num_predict"].as_i64().unwrap_or(-1);
    let mut tokens = tokens;
    let mut cut_at_limit = false;
    if num_predict > 0 && tokens.len() as i64 > num_predict {
        tokens.truncate(num_predict as usize);
        cut_at_limit = true;
    }
    let delay = switch(&prompt, "delay")
        .map(Duration::from_millis)
        .unwrap_or(shared.config.token_delay);
    let first = switch(&prompt, "first")
        .map(Duration::from_millis)
        .unwrap_or_default();
    let stall = prompt.contains("[stall]");
    let fail = prompt.contains("[error]");
    let die = prompt.contains("[die]");
    let garbage = prompt.contains("[garbage]");
    let done_reason = if prompt.contains("[length]") || cut_at_limit {
        "length"
    } else {
        "stop"
    };
    let mut lines: Vec<Vec<u8>> = Vec::new();
    if prompt.contains("[think]") {
        for word in THINKING_ANSWER.split_inclusive(' ') {
            let mut line = serde_json::to_vec(&json!({
                "model": model, "created_at": "2026-01-01T00:00:00Z",
                "message": { "role": "assistant", "content": "", "thinking": word }, "done": false
            }))
            .unwrap();
            line.push(b'\n');
            lines.push(line);
        }
    }
    lines.extend(tokens.iter().map(|t| chunk_line(&model, t)));
    if calling {
        let with_ids = !prompt.contains("[noid]");
        let wire: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, arguments))| {
                let mut call =
                    json!({ "function": { "index": i, "name": name, "arguments": arguments } });
                if with_ids {
                    call["id"] = json!(format!("call_{}_{i}", rounds_done));
                }
                call
            })
            .collect();
        let groups: Vec<Vec<Value>> = if prompt.contains("[spread]") {
            wire.into_iter().map(|c| vec![c]).collect()
        } else {
            vec![wire]
        };
        lines = groups
            .into_iter()
            .map(|group| {
                let mut line = serde_json::to_vec(&json!({
                    "model": model, "created_at": "2026-01-01T00:00:00Z",
                    "message": { "role": "assistant", "content": "", "tool_calls": group }, "done": false
                }))
                .unwrap();
                line.push(b'\n');
                line
            })
            .collect();
    }
    let split = shared.config.split_writes;
    let stream_stats = shared.stats.clone();
    let prompt_tokens = prompt.split_whitespace().count() as u64 + 10;

    let stream = async_stream::stream! {
        let mut guard = StreamGuard::new(stream_stats);
        let mut rng = Lcg(prompt.len() as u64 * 7919 + 17);
        let mut pending: Vec<u8> = Vec::new();
        let started = std::time::Instant::now();
        tokio::time::sleep(first).await;
        let limit = if stall || fail || die || garbage { 3.min(lines.len()) } else { lines.len() };
        for (i, line) in lines.into_iter().take(limit).enumerate() {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            for piece in cut(&mut rng, &mut pending, line, split) {
                yield Ok::<_, std::io::Error>(Bytes::from(piece));
                if split {
                    tokio::task::yield_now().await;
                }
            }
        }
        if stall {
            // Ollama flushes each line; what was held back for gluing goes out before the silence.
            if !pending.is_empty() {
                yield Ok(Bytes::from(std::mem::take(&mut pending)));
            }
            // Never another byte; the client must give up (idle timeout) or hang up (stop).
            std::future::pending::<()>().await;
        }
        if !pending.is_empty() {
            yield Ok(Bytes::from(std::mem::take(&mut pending)));
        }
        if die {
            // An error from the body stream makes the server drop the connection mid-response.
            guard.completed = true;
            yield Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "ollama died"));
            return;
        }
        if garbage {
            yield Ok(Bytes::from_static(b"<html>502 Bad Gateway</html>\n"));
        }
        let last = if fail {
            serde_json::to_vec(&json!({ "error": "an error was encountered while running the model: unexpected EOF" })).unwrap()
        } else {
            let total = started.elapsed().as_nanos() as u64 + 1;
            serde_json::to_vec(&json!({
                "model": model, "created_at": "2026-01-01T00:00:00Z",
                "message": { "role": "assistant", "content": "" },
                "done": true, "done_reason": done_reason,
                "total_duration": total, "load_duration": 1000, "prompt_eval_count": prompt_tokens,
                "prompt_eval_duration": 1000, "eval_count": limit, "eval_duration": total / 2 + 1,
            })).unwrap()
        };
        let mut last = last;
        last.push(b'\n');
        for piece in cut(&mut rng, &mut pending, last, split) {
            yield Ok(Bytes::from(piece));
        }
        if !pending.is_empty() {
            yield Ok(Bytes::from(std::mem::take(&mut pending)));
        }
        guard.completed = true;
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn chunk_line(model: &str, token: &str) -> Vec<u8> {
    let mut line = serde_json::to_vec(&json!({
        "model": model, "created_at": "2026-01-01T00:00:00Z",
        "message": { "role": "assistant", "content": token }, "done": false
    }))
    .unwrap();
    line.push(b'\n');
    line
}

/// Cuts a line into writes: whole, in two or three pieces at any byte (inside a UTF-8 character
/// too), or held back to be glued to the next line.
fn cut(rng: &mut Lcg, pending: &mut Vec<u8>, line: Vec<u8>, split: bool) -> Vec<Vec<u8>> {
    pending.extend_from_slice(&line);
    if !split {
        return vec![std::mem::take(pending)];
    }
    match rng.next() % 4 {
        0 => Vec::new(), // glue to the next line
        1 => vec![std::mem::take(pending)],
        _ => {
            let data = std::mem::take(pending);
            let a = 1 + (rng.next() as usize) % (data.len() - 1).max(1);
            let b = a + (rng.next() as usize) % (data.len() - a).max(1);
            let mut pieces = vec![data[..a].to_vec()];
            if b > a && b < data.len() {
                pieces.push(data[a..b].to_vec());
                pieces.push(data[b..].to_vec());
            } else {
                pieces.push(data[a..].to_vec());
            }
            pieces.retain(|p| !p.is_empty());
            pieces
        }
    }
}

/// A tiny deterministic generator, so each run cuts the same way for the same prompt.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// Counts a stream as active while it lives, and as cancelled if dropped before the end.
struct StreamGuard {
    stats: Arc<FakeStats>,
    completed: bool,
}

impl StreamGuard {
    fn new(stats: Arc<FakeStats>) -> Self {
        stats.active_streams.fetch_add(1, Ordering::SeqCst);
        StreamGuard {
            stats,
            completed: false,
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.stats.active_streams.fetch_sub(1, Ordering::SeqCst);
        if self.completed {
            self.stats.completed_streams.fetch_add(1, Ordering::SeqCst);
        } else {
            self.stats.cancelled_streams.fetch_add(1, Ordering::SeqCst);
        }
    }
}
