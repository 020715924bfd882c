//! One Ollama server's HTTP client: model list, version, and streamed chat (`pool` spreads calls
//! over several).
//! Every call has a timeout: connect, short requests, first token, and silence between chunks.
//! Dropping a `ChatStream` closes the connection, which makes Ollama stop generating.

use super::ndjson::{NdjsonDecoder, NdjsonError};
use super::root_cause;
use super::truncate;
use crate::config::OllamaSettings;
use crate::model::{GenerationOptions, ModelInfo, ToolCall};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::{pin::Pin, time::Duration};
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OllamaError {
    /// `url` without credentials: this error is logged.
    #[error("Ollama is not reachable at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("model '{0}' not found")]
    ModelNotFound(String),
    #[error("Ollama answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("Ollama reported an error: {0}")]
    Stream(String),
    #[error("no answer from Ollama within {}s (model loading or overloaded?)", .0.as_secs_f64())]
    FirstTokenTimeout(Duration),
    #[error("Ollama stopped sending for {}s", .0.as_secs_f64())]
    IdleTimeout(Duration),
    #[error("Ollama sent something unreadable: {0}")]
    Protocol(String),
    #[error("the connection to Ollama failed: {0}")]
    Transport(String),
    /// A model provider other than Ollama (`provider` is its name) failed.
    #[error("{provider}: {message}")]
    Provider {
        provider: String,
        status: Option<u16>,
        message: String,
    },
}

impl OllamaError {
    /// The same failure told as a model provider's (`provider`) rather than Ollama's; the
    /// detail that is not shown (an OS error) is logged here.
    pub fn from_provider(self, provider: &str) -> OllamaError {
        let message = match self {
            OllamaError::Provider { .. } => return self,
            OllamaError::Api { status, message } => {
                return OllamaError::Provider {
                    provider: provider.to_string(),
                    status: Some(status),
                    message,
                }
            }
            OllamaError::Unreachable { url, detail } => {
                tracing::warn!(provider, %url, %detail, "model provider not reachable");
                format!("not reachable at {url}")
            }
            OllamaError::ModelNotFound(model) => format!("model '{model}' not found"),
            OllamaError::Stream(message) => message,
            OllamaError::FirstTokenTimeout(after) => {
                format!("no answer within {}s", after.as_secs_f64())
            }
            OllamaError::IdleTimeout(after) => {
                format!("stopped sending for {}s", after.as_secs_f64())
            }
            OllamaError::Protocol(detail) => format!("sent something unreadable: {detail}"),
            OllamaError::Transport(detail) => {
                tracing::warn!(provider, %detail, "the connection to a model provider failed");
                "the connection failed while it answered".to_string()
            }
        };
        OllamaError::Provider {
            provider: provider.to_string(),
            status: None,
            message,
        }
    }
}

impl From<OllamaError> for crate::error::AppError {
    fn from(error: OllamaError) -> Self {
        use crate::error::AppError;
        match error {
            OllamaError::Unreachable { url, .. } => AppError::OllamaUnreachable {
                url: crate::config::public_url(&url),
            },
            OllamaError::ModelNotFound(model) => AppError::ModelNotFound(model),
            OllamaError::Provider {
                provider,
                status,
                message,
            } => AppError::Provider {
                provider,
                message: match status {
                    Some(status) => format!("{status}: {message}"),
                    None => message,
                },
            },
            // The detail (an OS error, an address) is logged where it happens, not shown.
            OllamaError::Transport(_) => {
                AppError::Unavailable("the connection to Ollama failed while it answered".into())
            }
            other => AppError::Ollama(other.to_string()),
        }
    }
}

/// A message as `/api/chat` reads it.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
    /// An assistant message's tool calls, sent back before their results.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// A tool result's tool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// A tool result's call id, when Ollama gave one (accepted since 0.12.10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// An assistant message's thinking, sent back as Ollama expects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// A person's images, base64, for a vision model.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
}

impl ChatMessage {
    pub fn new(role: &str, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: role.to_string(),
            content: content.into(),
            ..ChatMessage::default()
        }
    }
}

/// A tool as `/api/chat` reads it (`tools[]`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolSpec {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: ToolSpecFunction,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolSpecFunction {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

impl ToolSpec {
    pub fn function(name: &str, description: &str, parameters: serde_json::Value) -> ToolSpec {
        ToolSpec {
            kind: "function",
            function: ToolSpecFunction {
                name: name.to_string(),
                description: description.to_string(),
                parameters,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub options: GenerationOptions,
    /// Tools the model may call (none: a plain chat).
    pub tools: Vec<ToolSpec>,
    /// A JSON Schema the answer must follow (Ollama's `format`).
    pub format: Option<serde_json::Value>,
}

/// What /api/show says a model can do (`completion`, `tools`, `vision`, `thinking`, …).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ModelShow {
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Architecture details; `<architecture>.context_length` is the longest context the model
    /// was trained for.
    #[serde(default)]
    pub model_info: serde_json::Map<String, serde_json::Value>,
    /// The Modelfile's PARAMETER lines (`stop`, `temperature`, …), one per line.
    #[serde(default)]
    pub parameters: String,
}

impl ModelShow {
    /// The model's trained context length, when Ollama says it.
    pub fn context_length(&self) -> Option<u32> {
        self.model_info
            .iter()
            .find(|(key, _)| key.ends_with(".context_length"))
            .and_then(|(_, value)| value.as_u64())
            .map(|n| n.min(u32::MAX as u64) as u32)
    }

    /// Whether the model calls tools natively. Servers older than the `capabilities` field
    /// say nothing: then it is tried natively.
    pub fn calls_tools(&self) -> bool {
        self.capabilities.is_empty() || self.capabilities.iter().any(|c| c == "tools")
    }

    /// Whether the model takes images. Only when Ollama says so: images sent to a model that
    /// cannot see are an error, or silently ignored by older servers.
    pub fn sees_images(&self) -> bool {
        self.capabilities.iter().any(|c| c == "vision")
    }
}

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Delta(String),
    /// Calls the model wants run (they arrive whole, in one chunk or spread over several).
    ToolCalls(Vec<ToolCall>),
    /// What a thinking model thinks before it answers (`message.thinking`).
    Thinking(String),
    Done(DoneInfo),
}

/// Ollama's closing line: why it stopped and what it counted.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct DoneInfo {
    pub done_reason: Option<String>,
    pub prompt_eval_count: Option<i64>,
    pub eval_count: Option<i64>,
    /// Nanoseconds.
    pub total_duration: Option<i64>,
}

#[derive(Deserialize)]
struct WireChunk {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(flatten)]
    done_info: DoneInfo,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: String,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCall>>,
    #[serde(default)]
    thinking: Option<String>,
}

/// One line of a pull's progress: `pulling <digest>` lines carry the layer's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct PullProgress {
    pub status: String,
    pub digest: Option<String>,
    pub total: Option<u64>,
    pub completed: Option<u64>,
}

#[derive(Deserialize)]
struct WirePull {
    #[serde(default)]
    status: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    completed: Option<u64>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct WireError {
    error: String,
}

fn is_embedding_model(model: &WireModel) -> bool {
    let bert = |family: &str| family.to_ascii_lowercase().contains("bert");
    model.name.to_ascii_lowercase().contains("embed")
        || model.details.as_ref().is_some_and(|d| {
            d.family.as_deref().is_some_and(bert) || d.families.iter().flatten().any(|f| bert(f))
        })
}

#[derive(Deserialize)]
struct WireTags {
    #[serde(default)]
    models: Vec<WireModel>,
}

#[derive(Deserialize)]
struct WireModel {
    name: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    details: Option<WireDetails>,
}

#[derive(Deserialize, Default)]
struct WireDetails {
    family: Option<String>,
    /// Null for some models.
    #[serde(default)]
    families: Option<Vec<String>>,
    parameter_size: Option<String>,
    quantization_level: Option<String>,
}

#[derive(Serialize)]
struct WireChatRequest<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    stream: bool,
    #[serde(skip_serializing_if = "WireOptions::is_empty")]
    options: WireOptions,
    #[serde(skip_serializing_if = "<[ToolSpec]>::is_empty")]
    tools: &'a [ToolSpec],
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'a serde_json::Value>,
}

#[derive(Serialize, Default)]
struct WireOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_predict: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_ctx: Option<i32>,
}

impl WireOptions {
    fn is_empty(&self) -> bool {
        self.temperature.is_none() && self.num_predict.is_none() && self.num_ctx.is_none()
    }
}

#[derive(Clone, Debug)]
pub struct OllamaServer {
    http: reqwest::Client,
    base_url: String,
    request_timeout: Duration,
    first_token_timeout: Duration,
    idle_timeout: Duration,
}

impl OllamaServer {
    pub fn new(url: &str, settings: &OllamaSettings) -> Self {
        let http = super::model_http_client(settings);
        OllamaServer {
            http,
            base_url: url.trim_end_matches('/').to_string(),
            request_timeout: settings.request_timeout(),
            first_token_timeout: settings.first_token_timeout(),
            idle_timeout: settings.idle_timeout(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn send_error(&self, error: reqwest::Error) -> OllamaError {
        if error.is_connect() {
            OllamaError::Unreachable {
                url: crate::config::public_url(&self.base_url),
                detail: root_cause(&error),
            }
        } else if error.is_timeout() {
            OllamaError::Unreachable {
                url: crate::config::public_url(&self.base_url),
                detail: "timed out".into(),
            }
        } else {
            OllamaError::Transport(root_cause(&error))
        }
    }

    /// A request to this server's `path`, carrying the current trace context.
    fn call(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .headers(crate::telemetry::outgoing_trace_headers())
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, OllamaError> {
        let response = self
            .call(reqwest::Method::GET, path)
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|e| self.send_error(e))?;
        let response = check_status(response, None).await?;
        let bytes = response.bytes().await.map_err(|e| self.send_error(e))?;
        serde_json::from_slice(&bytes).map_err(|e| OllamaError::Protocol(format!("{path}: {e}")))
    }

    /// A model's details; `ModelNotFound` for a model Ollama does not have.
    pub async fn show(&self, model: &str) -> Result<ModelShow, OllamaError> {
        let response = self
            .call(reqwest::Method::POST, "/api/show")
            .timeout(self.request_timeout)
            .json(&serde_json::json!({ "model": model }))
            .send()
            .await
            .map_err(|e| self.send_error(e))?;
        let response = check_status(response, Some(model)).await?;
        let bytes = response.bytes().await.map_err(|e| self.send_error(e))?;
        serde_json::from_slice(&bytes).map_err(|e| OllamaError::Protocol(format!("/api/show: {e}")))
    }

    /// Embeds each input with `model` (`/api/embed`, within `timeout`); one vector per input,
    /// L2-normalised by Ollama. `ModelNotFound` when the model is not pulled.
    pub async fn embed(
        &self,
        model: &str,
        inputs: &[&str],
        timeout: Duration,
    ) -> Result<Vec<Vec<f32>>, OllamaError> {
        #[derive(Deserialize)]
        struct Embeddings {
            embeddings: Vec<Vec<f32>>,
        }
        let response = self
            .call(reqwest::Method::POST, "/api/embed")
            .timeout(timeout)
            .json(&serde_json::json!({ "model": model, "input": inputs, "truncate": true }))
            .send()
            .await
            .map_err(|e| self.send_error(e))?;
        let response = check_status(response, Some(model)).await?;
        let bytes = response.bytes().await.map_err(|e| self.send_error(e))?;
        let embeddings: Embeddings = serde_json::from_slice(&bytes)
            .map_err(|e| OllamaError::Protocol(format!("/api/embed: {e}")))?;
        if embeddings.embeddings.len() != inputs.len() {
            return Err(OllamaError::Protocol(format!(
                "/api/embed returned {} vectors for {} inputs",
                embeddings.embeddings.len(),
                inputs.len()
            )));
        }
        Ok(embeddings.embeddings)
    }

    /// Pulls `model` (`/api/pull`), calling `progress` with each line Ollama streams. Large
    /// models take hours, so there is no overall deadline: only the connection, the first line
    /// (`request_timeout`) and each silence (`idle_timeout`) are bounded.
    pub async fn pull(
        &self,
        model: &str,
        mut progress: impl FnMut(PullProgress),
    ) -> Result<(), OllamaError> {
        let send = self
            .call(reqwest::Method::POST, "/api/pull")
            .json(&serde_json::json!({ "model": model, "stream": true }))
            .send();
        let response = match tokio::time::timeout(self.request_timeout, send).await {
            Err(_) => {
                return Err(OllamaError::Unreachable {
                    url: crate::config::public_url(&self.base_url),
                    detail: "timed out".into(),
                })
            }
            Ok(result) => result.map_err(|e| self.send_error(e))?,
        };
        let response = check_status(response, None).await?;
        let mut body = response.bytes_stream();
        let mut decoder = NdjsonDecoder::new();
        loop {
            while let Some(line) = decoder.next_line() {
                let line = line.map_err(|e| OllamaError::Protocol(e.to_string()))?;
                let wire: WirePull = serde_json::from_str(&line).map_err(|e| {
                    OllamaError::Protocol(format!(
                        "/api/pull: {e} in line {:?}",
                        truncate(&line, 200)
                    ))
                })?;
                if let Some(error) = wire.error {
                    return Err(OllamaError::Stream(error));
                }
                let done = wire.status == "success";
                progress(PullProgress {
                    status: wire.status,
                    digest: wire.digest,
                    total: wire.total,
                    completed: wire.completed,
                });
                if done {
                    return Ok(());
                }
            }
            match tokio::time::timeout(self.idle_timeout, body.next()).await {
                Err(_) => return Err(OllamaError::IdleTimeout(self.idle_timeout)),
                Ok(Some(Ok(bytes))) => decoder.feed(&bytes),
                Ok(Some(Err(error))) => return Err(OllamaError::Transport(root_cause(&error))),
                Ok(None) => {
                    return Err(OllamaError::Protocol(
                        "the pull ended before Ollama said success".into(),
                    ))
                }
            }
        }
    }

    /// Deletes `model` (`/api/delete`); `ModelNotFound` when the server does not have it.
    pub async fn delete(&self, model: &str) -> Result<(), OllamaError> {
        let response = self
            .call(reqwest::Method::DELETE, "/api/delete")
            .timeout(self.request_timeout)
            .json(&serde_json::json!({ "model": model }))
            .send()
            .await
            .map_err(|e| self.send_error(e))?;
        check_status(response, Some(model)).await.map(|_| ())
    }

    pub async fn version(&self) -> Result<String, OllamaError> {
        #[derive(Deserialize)]
        struct Version {
            version: String,
        }
        Ok(self.get_json::<Version>("/api/version").await?.version)
    }

    /// Every model the server has (chat and embedding), by name.
    pub async fn model_names(&self) -> Result<Vec<String>, OllamaError> {
        let tags: WireTags = self.get_json("/api/tags").await?;
        Ok(tags.models.into_iter().map(|m| m.name).collect())
    }

    /// The models that can chat. Embedding models (nomic-embed-text, mxbai-embed-large,
    /// all-minilm, bge-m3: BERT families, or "embed" in the name) are left out: they cannot
    /// answer, and /api/tags does not say what a model can do without one /api/show per model.
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>, OllamaError> {
        let tags: WireTags = self.get_json("/api/tags").await?;
        let mut models: Vec<ModelInfo> = tags
            .models
            .into_iter()
            .filter(|m| !is_embedding_model(m))
            .map(|m| {
                let details = m.details.unwrap_or_default();
                ModelInfo {
                    name: m.name,
                    size: m.size,
                    family: details.family,
                    parameter_size: details.parameter_size,
                    quantization_level: details.quantization_level,
                }
            })
            .collect();
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(models)
    }

    /// Starts a streamed chat. Fails fast on connection errors, unknown models and error statuses.
    pub async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, OllamaError> {
        let started = Instant::now();
        let body = WireChatRequest {
            model: &request.model,
            messages: &request.messages,
            stream: true,
            options: WireOptions {
                temperature: request.options.temperature,
                num_predict: request.options.num_predict,
                num_ctx: request.options.num_ctx,
            },
            tools: &request.tools,
            format: request.format.as_ref(),
        };
        let send = self
            .call(reqwest::Method::POST, "/api/chat")
            .json(&body)
            .send();
        let response = match tokio::time::timeout(self.first_token_timeout, send).await {
            Err(_) => return Err(OllamaError::FirstTokenTimeout(self.first_token_timeout)),
            Ok(result) => result.map_err(|e| self.send_error(e))?,
        };
        let response = check_status(response, Some(&request.model)).await?;
        Ok(ChatStream::new(
            Box::pin(response.bytes_stream()),
            Box::new(OllamaWire),
            None,
            started,
            self.first_token_timeout,
            self.idle_timeout,
        ))
    }
}

/// Turns an error status into a typed error, reading Ollama's `{"error": …}` body.
async fn check_status(
    response: reqwest::Response,
    model: Option<&str>,
) -> Result<reqwest::Response, OllamaError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = read_capped(response, ERROR_BODY_CAP).await;
    let message = serde_json::from_slice::<WireError>(&body)
        .map(|e| e.error)
        .unwrap_or_else(|_| {
            String::from_utf8_lossy(&body[..body.len().min(500)])
                .trim()
                .to_string()
        });
    if status == reqwest::StatusCode::NOT_FOUND {
        if let Some(model) = model {
            if message.contains("not found") {
                return Err(OllamaError::ModelNotFound(model.to_string()));
            }
        }
    }
    Err(OllamaError::Api {
        status: status.as_u16(),
        message,
    })
}

/// The most of an error body that is read: enough for any message Ollama writes.
const ERROR_BODY_CAP: usize = 64 * 1024;

/// Reads at most `cap` bytes of an error body, within 5 seconds.
async fn read_capped(response: reqwest::Response, cap: usize) -> Vec<u8> {
    crate::net::read_capped(response, cap, Duration::from_secs(5))
        .await
        .0
}

pub(crate) type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

/// Reads one wire format's lines (Ollama's NDJSON, or a provider's server-sent events) into
/// events; `ChatStream` does the reading, the deadlines and the bookkeeping for all of them.
pub(crate) trait WireParser: Send {
    /// Reads one line (blank lines too when `blank_lines`); its events go to `out` in order.
    /// True when the answer is finished.
    fn line(
        &mut self,
        line: &str,
        out: &mut std::collections::VecDeque<ChatEvent>,
    ) -> Result<bool, OllamaError>;

    /// The body ended without a finishing line: whether what came is still a whole answer
    /// (its closing events then go to `out`).
    fn ended(
        &mut self,
        _out: &mut std::collections::VecDeque<ChatEvent>,
    ) -> Result<bool, OllamaError> {
        Ok(false)
    }

    /// Server-sent events end at a blank line; NDJSON skips them.
    fn blank_lines(&self) -> bool {
        false
    }
}

/// Ollama's `/api/chat` stream: one JSON object per line, the last with `done: true`.
#[derive(Default)]
struct OllamaWire;

impl WireParser for OllamaWire {
    fn line(
        &mut self,
        line: &str,
        out: &mut std::collections::VecDeque<ChatEvent>,
    ) -> Result<bool, OllamaError> {
        let chunk: WireChunk = serde_json::from_str(line)
            .map_err(|e| OllamaError::Protocol(format!("{e} in line {:?}", truncate(line, 200))))?;
        if let Some(error) = chunk.error {
            return Err(OllamaError::Stream(error));
        }
        if chunk.done {
            out.push_back(ChatEvent::Done(chunk.done_info));
            return Ok(true);
        }
        let Some(message) = chunk.message else {
            return Ok(false);
        };
        if let Some(thinking) = message.thinking.filter(|t| !t.is_empty()) {
            out.push_back(ChatEvent::Thinking(thinking));
        }
        if !message.content.is_empty() {
            out.push_back(ChatEvent::Delta(message.content));
        }
        if let Some(calls) = message.tool_calls.filter(|calls| !calls.is_empty()) {
            out.push_back(ChatEvent::ToolCalls(calls));
        }
        Ok(false)
    }
}

/// A streamed answer. `next` is cancel-safe: its deadlines are absolute, so racing it against
/// other work in `select!` never extends a timeout, and bytes already read are kept.
pub struct ChatStream {
    body: ByteStream,
    decoder: NdjsonDecoder,
    parser: Box<dyn WireParser>,
    /// The provider answering, when it is not Ollama: errors name it.
    provider: Option<String>,
    deadline: Instant,
    first_token_timeout: Duration,
    idle_timeout: Duration,
    got_first: bool,
    finished: bool,
    /// Events read from one chunk that carried several (thinking, text, calls), in order; the
    /// pool puts back the first event it read to choose the server.
    pub(super) pending: std::collections::VecDeque<ChatEvent>,
    /// The pool's count of this server's calls, released with the stream.
    pub(super) busy: Option<super::pool::Busy>,
}

impl ChatStream {
    /// A stream over `body` read by `parser`, started at `started` (the first-token deadline
    /// counts from there).
    pub(crate) fn new(
        body: ByteStream,
        parser: Box<dyn WireParser>,
        provider: Option<String>,
        started: Instant,
        first_token_timeout: Duration,
        idle_timeout: Duration,
    ) -> ChatStream {
        let decoder = if parser.blank_lines() {
            NdjsonDecoder::keeping_blank_lines()
        } else {
            NdjsonDecoder::new()
        };
        ChatStream {
            body,
            decoder,
            parser,
            provider,
            deadline: started + first_token_timeout,
            first_token_timeout,
            idle_timeout,
            got_first: false,
            finished: false,
            pending: Default::default(),
            busy: None,
        }
    }

    /// The next piece of the answer; `Ok(None)` after the closing line.
    pub async fn next(&mut self) -> Result<Option<ChatEvent>, OllamaError> {
        let result = self.next_event().await;
        match (&self.provider, result) {
            (Some(provider), Err(error)) => Err(error.from_provider(provider)),
            (_, result) => result,
        }
    }

    async fn next_event(&mut self) -> Result<Option<ChatEvent>, OllamaError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            if self.finished {
                return Ok(None);
            }
            if let Some(line) = self.decoder.next_line() {
                self.read_line(line)?;
                continue;
            }
            match tokio::time::timeout_at(self.deadline, self.body.next()).await {
                Err(_) if self.got_first => {
                    return Err(OllamaError::IdleTimeout(self.idle_timeout))
                }
                Err(_) => return Err(OllamaError::FirstTokenTimeout(self.first_token_timeout)),
                Ok(Some(Ok(bytes))) => {
                    if self.got_first {
                        self.deadline = Instant::now() + self.idle_timeout;
                    }
                    self.decoder.feed(&bytes);
                }
                Ok(Some(Err(error))) => return Err(OllamaError::Transport(root_cause(&error))),
                Ok(None) => {
                    if let Some(line) = self.decoder.finish() {
                        self.read_line(line)?;
                    }
                    if !self.finished && self.parser.ended(&mut self.pending)? {
                        self.finished = true;
                    }
                    if !self.finished {
                        return Err(OllamaError::Protocol(
                            "the stream ended before the answer was done".into(),
                        ));
                    }
                }
            }
        }
    }

    fn read_line(&mut self, line: Result<String, NdjsonError>) -> Result<(), OllamaError> {
        let line = line.map_err(|e| OllamaError::Protocol(e.to_string()))?;
        if self.parser.line(&line, &mut self.pending)? {
            self.finished = true;
        }
        if !self.got_first && !line.is_empty() {
            self.got_first = true;
            self.deadline = Instant::now() + self.idle_timeout;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream over these bytes, cut into reads of `piece` bytes.
    fn stream_of(body: &str, piece: usize) -> ChatStream {
        let reads: Vec<Result<Bytes, reqwest::Error>> = body
            .as_bytes()
            .chunks(piece)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        ChatStream::new(
            Box::pin(futures::stream::iter(reads)),
            Box::new(OllamaWire),
            None,
            Instant::now(),
            Duration::from_secs(5),
            Duration::from_secs(5),
        )
    }

    async fn events(body: &str, piece: usize) -> Vec<ChatEvent> {
        let mut stream = stream_of(body, piece);
        let mut events = Vec::new();
        while let Some(event) = stream.next().await.unwrap() {
            events.push(event);
        }
        events
    }

    #[tokio::test]
    async fn thinking_text_and_tool_calls_in_one_chunk_come_out_in_order() {
        let body = concat!(
            r#"{"message":{"role":"assistant","content":"","thinking":"Hmm, é"},"done":false}"#,
            "\n",
            r#"{"message":{"role":"assistant","content":"Let me check. ","thinking":"ok","tool_calls":[{"id":"call_1","function":{"index":0,"name":"calculator","arguments":{"expression":"1+1"}}},{"function":{"name":"current_time","arguments":{}}}]},"done":false}"#,
            "\n",
            r#"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","eval_count":3}"#,
            "\n",
        );
        for piece in [1, 2, 7, 1000] {
            let events = events(body, piece).await;
            assert_eq!(events.len(), 5, "{events:?}");
            assert_eq!(events[0], ChatEvent::Thinking("Hmm, é".into()));
            assert_eq!(events[1], ChatEvent::Thinking("ok".into()));
            assert_eq!(events[2], ChatEvent::Delta("Let me check. ".into()));
            let ChatEvent::ToolCalls(calls) = &events[3] else {
                panic!("{events:?}")
            };
            assert_eq!(calls.len(), 2);
            assert_eq!(calls[0].id.as_deref(), Some("call_1"));
            assert_eq!(calls[0].function.index, Some(0));
            assert_eq!(calls[0].function.arguments["expression"], "1+1");
            assert_eq!(calls[1].id, None, "older Ollama sends no id");
            assert_eq!(calls[1].function.index, None);
            assert!(matches!(events[4], ChatEvent::Done(_)));
        }
    }

    /// The error is logged and shown: the URL's credentials must not be in it.
    #[tokio::test]
    async fn an_unreachable_servers_error_carries_no_credentials() {
        let settings = OllamaSettings {
            connect_timeout_ms: 500,
            ..OllamaSettings::default()
        };
        let server = OllamaServer::new("http://ops:s3cret@127.0.0.1:9", &settings);
        let error = server.version().await.unwrap_err();
        assert!(matches!(error, OllamaError::Unreachable { .. }), "{error}");
        assert!(!error.to_string().contains("s3cret"), "{error}");
        assert!(!error.to_string().contains("ops"), "{error}");
    }

    #[test]
    fn tools_and_tool_results_are_sent_in_ollamas_shape() {
        let messages = vec![
            ChatMessage {
                tool_calls: vec![ToolCall {
                    id: None,
                    function: crate::model::ToolCallFunction {
                        index: None,
                        name: "calculator".into(),
                        arguments: serde_json::json!({"expression": "2"}),
                    },
                }],
                thinking: Some("so".into()),
                ..ChatMessage::new("assistant", "")
            },
            ChatMessage {
                tool_name: Some("calculator".into()),
                tool_call_id: Some("c1".into()),
                ..ChatMessage::new("tool", "2")
            },
            ChatMessage::new("user", "hi"),
        ];
        let tools = vec![ToolSpec::function(
            "calculator",
            "Adds.",
            serde_json::json!({"type": "object"}),
        )];
        let body = serde_json::to_value(WireChatRequest {
            model: "m",
            messages: &messages,
            stream: true,
            options: WireOptions::default(),
            tools: &tools,
            format: None,
        })
        .unwrap();
        assert_eq!(
            body["messages"][0],
            serde_json::json!({"role": "assistant", "content": "", "thinking": "so",
                "tool_calls": [{"function": {"name": "calculator", "arguments": {"expression": "2"}}}]})
        );
        assert_eq!(
            body["messages"][1],
            serde_json::json!({"role": "tool", "content": "2", "tool_name": "calculator", "tool_call_id": "c1"})
        );
        assert_eq!(
            body["messages"][2],
            serde_json::json!({"role": "user", "content": "hi"})
        );
        assert_eq!(
            body["tools"],
            serde_json::json!([{"type": "function", "function": {"name": "calculator", "description": "Adds.", "parameters": {"type": "object"}}}])
        );
        assert!(body.get("options").is_none());
    }
}
