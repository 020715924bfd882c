//! Fakes of the OpenAI chat completions API and of Anthropic's Messages API, following their
//! published wire formats: server-sent events cut into reads of a few bytes (inside events and
//! inside UTF-8 characters), tool calls in fragments (OpenAI: the name, then pieces of the
//! arguments' JSON text; Anthropic: a `tool_use` block, then `input_json_delta` pieces), usage,
//! and errors in each API's own body: 401 for a wrong key, 404 for an unknown model, 400 for a
//! conversation the real API refuses (a tool result that answers no call, Anthropic without
//! `max_tokens` or with a system message in `messages`, or two messages of one role in a row).
//!
//! Switches in the last user text, as with the fake Ollama:
//! - `[tokens=N]` answer with N tokens of `fake_ollama::expected_answer`
//! - `[error]` 3 tokens, then an error event in mid-stream
//! - `[http429]` answer 429 with the API's rate-limit body
//! - `[http500]` answer 500 (OpenAI) or 529 overloaded (Anthropic)
//! - `[cut]` 3 tokens, then the stream ends without its end (no finish, no `[DONE]`)
//! - `[call=NAME {JSON}]` with `tools` offered: call NAME; once the results come back, answer
//!   `Results: NAME=CONTENT; …`
//! - `[think]` reasoning first (OpenAI `reasoning_content`, Anthropic a `thinking` block)

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FakeApi {
    OpenAi,
    Anthropic,
}

#[derive(Clone, Debug)]
pub struct FakeProviderConfig {
    pub api: FakeApi,
    pub models: Vec<String>,
    /// The key it accepts; `None`: any (OpenAI-compatible servers without keys).
    pub api_key: Option<String>,
}

/// What the fake saw; tests assert on it.
#[derive(Default, Debug)]
pub struct FakeProviderSeen {
    pub chat_bodies: Mutex<Vec<Value>>,
    /// Refused requests: (status, message).
    pub refusals: Mutex<Vec<(u16, String)>>,
}

impl FakeProviderSeen {
    pub fn last_chat(&self) -> Value {
        self.chat_bodies
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or(Value::Null)
    }
}

pub struct FakeProvider {
    pub addr: std::net::SocketAddr,
    pub seen: Arc<FakeProviderSeen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeProvider {
    pub async fn start(config: FakeProviderConfig) -> std::io::Result<FakeProvider> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(FakeProviderSeen::default());
        let shared = Arc::new(Shared {
            config,
            seen: seen.clone(),
        });
        let router = Router::new()
            .route("/v1/chat/completions", post(openai_chat))
            .route("/v1/messages", post(anthropic_messages))
            .route("/v1/models", get(models))
            .with_state(shared);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(FakeProvider { addr, seen, task })
    }

    /// The base URL an admin would enter: `…/v1` for OpenAI-compatible servers, the bare
    /// address for Anthropic.
    pub fn base_url(&self, api: FakeApi) -> String {
        match api {
            FakeApi::OpenAi => format!("http://{}/v1", self.addr),
            FakeApi::Anthropic => format!("http://{}", self.addr),
        }
    }
}

struct Shared {
    config: FakeProviderConfig,
    seen: Arc<FakeProviderSeen>,
}

impl Shared {
    fn refuse(&self, status: StatusCode, kind: &str, message: &str) -> Response {
        self.seen
            .refusals
            .lock()
            .unwrap()
            .push((status.as_u16(), message.to_string()));
        let body = match self.config.api {
            FakeApi::OpenAi => json!({ "error": {
                "message": message, "type": kind, "param": null, "code": null,
            }}),
            FakeApi::Anthropic => {
                json!({ "type": "error", "error": { "type": kind, "message": message } })
            }
        };
        (status, Json(body)).into_response()
    }

    #[allow(clippy::result_large_err)]
    fn authorized(&self, headers: &HeaderMap) -> Result<(), Response> {
        let Some(key) = &self.config.api_key else {
            return Ok(());
        };
        let given = match self.config.api {
            FakeApi::OpenAi => headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_string),
            FakeApi::Anthropic => {
                if headers.get("anthropic-version").is_none() {
                    return Err(self.refuse(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        "anthropic-version: header is required",
                    ));
                }
                headers
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            }
        };
        if given.as_deref() == Some(key.as_str()) {
            return Ok(());
        }
        Err(match self.config.api {
            FakeApi::OpenAi => self.refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "Incorrect API key provided: sk-****. You can find your API key at https://platform.openai.com/account/api-keys.",
            ),
            FakeApi::Anthropic => self.refuse(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "invalid x-api-key",
            ),
        })
    }
}

async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(refused) = shared.authorized(&headers) {
        return refused;
    }
    let data: Vec<Value> = shared
        .config
        .models
        .iter()
        .map(|id| match shared.config.api {
            FakeApi::OpenAi => json!({ "id": id, "object": "model", "created": 1_700_000_000, "owned_by": "fake" }),
            FakeApi::Anthropic => json!({ "type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z" }),
        })
        .collect();
    match shared.config.api {
        FakeApi::OpenAi => Json(json!({ "object": "list", "data": data })).into_response(),
        FakeApi::Anthropic => Json(json!({
            "data": data, "has_more": false,
            "first_id": shared.config.models.first(), "last_id": shared.config.models.last(),
        }))
        .into_response(),
    }
}

/// The text of the last user message that is not tool results.
fn last_user_text(messages: &[Value]) -> String {
    for message in messages.iter().rev() {
        if message["role"] != "user" {
            continue;
        }
        match &message["content"] {
            Value::String(text) => return text.clone(),
            Value::Array(parts) => {
                let texts: Vec<&str> = parts
                    .iter()
                    .filter(|p| p["type"] == "text")
                    .filter_map(|p| p["text"].as_str())
                    .collect();
                if !texts.is_empty() {
                    return texts.join("\n");
                }
            }
            _ => {}
        }
    }
    String::new()
}

/// What the fake says: reasoning, text tokens, tool calls, and how it ends.
struct Script {
    thinking: Option<String>,
    tokens: Vec<String>,
    calls: Vec<(String, String, Value)>,
    ending: Ending,
}

#[derive(PartialEq)]
enum Ending {
    Whole,
    Error,
    Cut,
}

fn script(prompt: &str, tools_offered: bool, results: Option<String>) -> Script {
    let count = crate::testing::fake_ollama::switch(prompt, "tokens").unwrap_or(12) as usize;
    let ending = if prompt.contains("[error]") {
        Ending::Error
    } else if prompt.contains("[cut]") {
        Ending::Cut
    } else {
        Ending::Whole
    };
    let tokens: Vec<String> = match &results {
        Some(results) => vec![format!("Results: {results}")],
        None => (0..count)
            .map(|i| {
                crate::testing::fake_ollama::expected_answer(i + 1)
                    [crate::testing::fake_ollama::expected_answer(i).len()..]
                    .to_string()
            })
            .collect(),
    };
    let calls = if tools_offered && results.is_none() {
        crate::testing::fake_ollama::tool_call_switches(prompt)
            .into_iter()
            .enumerate()
            .map(|(i, (name, arguments))| (format!("call_{i}"), name, arguments))
            .collect()
    } else {
        Vec::new()
    };
    Script {
        thinking: prompt
            .contains("[think]")
            .then(|| crate::testing::fake_ollama::THINKING_ANSWER.to_string()),
        tokens: if calls.is_empty() { tokens } else { Vec::new() },
        calls,
        ending,
    }
}

/// Server-sent events cut into reads of 1 to 7 bytes (inside events and characters).
fn sse_response(events: Vec<String>) -> Response {
    let stream = async_stream::stream! {
        let mut seed: u64 = 0x2545F4914F6CDD1D;
        for event in events {
            let bytes = event.into_bytes();
            let mut at = 0;
            while at < bytes.len() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let take = 1 + (seed % 7) as usize;
                let end = (at + take).min(bytes.len());
                yield Ok::<_, std::io::Error>(Bytes::copy_from_slice(&bytes[at..end]));
                at = end;
                tokio::task::yield_now().await;
            }
        }
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn status_switches(shared: &Shared, prompt: &str) -> Option<Response> {
    if prompt.contains("[http429]") {
        return Some(match shared.config.api {
            FakeApi::OpenAi => shared.refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                "Rate limit reached for requests",
            ),
            FakeApi::Anthropic => shared.refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            ),
        });
    }
    if prompt.contains("[http500]") {
        return Some(match shared.config.api {
            FakeApi::OpenAi => shared.refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The server had an error while processing your request.",
            ),
            FakeApi::Anthropic => shared.refuse(
                StatusCode::from_u16(529).unwrap(),
                "overloaded_error",
                "Overloaded",
            ),
        });
    }
    None
}

async fn openai_chat(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = shared.authorized(&headers) {
        return refused;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return shared.refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "We could not parse the JSON body of your request.",
        );
    };
    shared
        .seen
        .chat_bodies
        .lock()
        .unwrap()
        .push(request.clone());
    let model = request["model"].as_str().unwrap_or_default().to_string();
    if !shared.config.models.contains(&model) {
        return shared.refuse(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("The model `{model}` does not exist or you do not have access to it."),
        );
    }
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    // Each tool message must answer a call of the assistant message before it.
    let mut calls: Vec<(String, String)> = Vec::new();
    let mut results = Vec::new();
    for message in &messages {
        match message["role"].as_str() {
            Some("assistant") => {
                calls = message["tool_calls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        (
                            c["id"].as_str().unwrap_or_default().to_string(),
                            c["function"]["name"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                        )
                    })
                    .collect();
                results.clear();
            }
            Some("tool") => {
                let id = message["tool_call_id"].as_str().unwrap_or_default();
                let Some((_, name)) = calls.iter().find(|(c, _)| c == id) else {
                    return shared.refuse(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                    );
                };
                results.push(format!(
                    "{name}={}",
                    message["content"].as_str().unwrap_or_default()
                ));
            }
            _ => results.clear(),
        }
    }
    let prompt = last_user_text(&messages);
    if let Some(refused) = status_switches(&shared, &prompt) {
        return refused;
    }
    let tools_offered = request["tools"].as_array().is_some_and(|t| !t.is_empty());
    let last_is_result = messages.last().is_some_and(|m| m["role"] == "tool");
    let script = script(
        &prompt,
        tools_offered,
        last_is_result.then(|| results.join("; ")),
    );
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({ "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
                    "model": model, "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }] })
        )
    };
    let mut events = vec![chunk(
        json!({ "role": "assistant", "content": "" }),
        Value::Null,
    )];
    if let Some(thinking) = &script.thinking {
        events.push(chunk(json!({ "reasoning_content": thinking }), Value::Null));
    }
    for (i, token) in script.tokens.iter().enumerate() {
        if script.ending != Ending::Whole && i == 3 {
            if script.ending == Ending::Error {
                events.push(format!(
                    "data: {}\n\n",
                    json!({ "error": { "message": "The server had an error while processing your request.", "type": "server_error" } })
                ));
            }
            return sse_response(events);
        }
        events.push(chunk(json!({ "content": token }), Value::Null));
    }
    for (i, (id, name, arguments)) in script.calls.iter().enumerate() {
        events.push(chunk(
            json!({ "tool_calls": [{ "index": i, "id": id, "type": "function", "function": { "name": name, "arguments": "" } }] }),
            Value::Null,
        ));
        let text = match arguments {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let middle = text
            .char_indices()
            .nth(text.chars().count() / 2)
            .map(|(i, _)| i)
            .unwrap_or(0);
        for piece in [&text[..middle], &text[middle..]] {
            events.push(chunk(
                json!({ "tool_calls": [{ "index": i, "function": { "arguments": piece } }] }),
                Value::Null,
            ));
        }
    }
    let finish = if script.calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    events.push(chunk(json!({}), json!(finish)));
    events.push(format!(
        "data: {}\n\n",
        json!({ "id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [],
                "usage": { "prompt_tokens": 17, "completion_tokens": script.tokens.len(), "total_tokens": 17 + script.tokens.len() } })
    ));
    events.push("data: [DONE]\n\n".into());
    sse_response(events)
}

async fn anthropic_messages(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = shared.authorized(&headers) {
        return refused;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return shared.refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid JSON body",
        );
    };
    shared
        .seen
        .chat_bodies
        .lock()
        .unwrap()
        .push(request.clone());
    let model = request["model"].as_str().unwrap_or_default().to_string();
    if request["max_tokens"].as_u64().is_none() {
        return shared.refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "max_tokens: Field required",
        );
    }
    if !shared.config.models.contains(&model) {
        return shared.refuse(
            StatusCode::NOT_FOUND,
            "not_found_error",
            &format!("model: {model}"),
        );
    }
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let mut calls: Vec<(String, String)> = Vec::new();
    let mut results = Vec::new();
    let mut last_role = "";
    for (i, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().unwrap_or_default();
        if role != "user" && role != "assistant" {
            return shared.refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("messages.{i}.role: Input should be 'user' or 'assistant'"),
            );
        }
        if role == last_role {
            return shared.refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "messages: roles must alternate between \"user\" and \"assistant\"",
            );
        }
        if i == 0 && role != "user" {
            return shared.refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "messages: first message must use the \"user\" role",
            );
        }
        last_role = role;
        let blocks = message["content"].as_array().cloned().unwrap_or_default();
        if role == "assistant" {
            calls = blocks
                .iter()
                .filter(|b| b["type"] == "tool_use")
                .map(|b| {
                    (
                        b["id"].as_str().unwrap_or_default().to_string(),
                        b["name"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            results.clear();
            continue;
        }
        results.clear();
        for block in blocks.iter().filter(|b| b["type"] == "tool_result") {
            let id = block["tool_use_id"].as_str().unwrap_or_default();
            let Some((_, name)) = calls.iter().find(|(c, _)| c == id) else {
                return shared.refuse(StatusCode::BAD_REQUEST, "invalid_request_error",
                    &format!("messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."));
            };
            results.push(format!(
                "{name}={}",
                block["content"].as_str().unwrap_or_default()
            ));
        }
    }
    let prompt = last_user_text(&messages);
    if let Some(refused) = status_switches(&shared, &prompt) {
        return refused;
    }
    let tools_offered = request["tools"].as_array().is_some_and(|t| !t.is_empty());
    let script = script(
        &prompt,
        tools_offered,
        (!results.is_empty()).then(|| results.join("; ")),
    );
    let event = |kind: &str, data: Value| format!("event: {kind}\ndata: {data}\n\n");
    let mut events = vec![event(
        "message_start",
        json!({ "type": "message_start", "message": {
        "id": "msg_fake", "type": "message", "role": "assistant", "content": [], "model": model,
        "stop_reason": null, "stop_sequence": null, "usage": { "input_tokens": 17, "output_tokens": 1 } } }),
    )];
    let mut index = 0;
    if let Some(thinking) = &script.thinking {
        events.push(event("content_block_start", json!({ "type": "content_block_start", "index": index, "content_block": { "type": "thinking", "thinking": "" } })));
        events.push(event("content_block_delta", json!({ "type": "content_block_delta", "index": index, "delta": { "type": "thinking_delta", "thinking": thinking } })));
        events.push(event("content_block_delta", json!({ "type": "content_block_delta", "index": index, "delta": { "type": "signature_delta", "signature": "EqQBCgIYAhIM" } })));
        events.push(event(
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": index }),
        ));
        index += 1;
    }
    if !script.tokens.is_empty() {
        events.push(event("content_block_start", json!({ "type": "content_block_start", "index": index, "content_block": { "type": "text", "text": "" } })));
        events.push(event("ping", json!({ "type": "ping" })));
        for (i, token) in script.tokens.iter().enumerate() {
            if script.ending != Ending::Whole && i == 3 {
                if script.ending == Ending::Error {
                    events.push(event("error", json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } })));
                }
                return sse_response(events);
            }
            events.push(event("content_block_delta", json!({ "type": "content_block_delta", "index": index, "delta": { "type": "text_delta", "text": token } })));
        }
        events.push(event(
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": index }),
        ));
        index += 1;
    }
    for (id, name, arguments) in &script.calls {
        let id = format!("toolu_{id}");
        events.push(event("content_block_start", json!({ "type": "content_block_start", "index": index, "content_block": { "type": "tool_use", "id": id, "name": name, "input": {} } })));
        let text = arguments.to_string();
        let middle = text
            .char_indices()
            .nth(text.chars().count() / 2)
            .map(|(i, _)| i)
            .unwrap_or(0);
        for piece in ["", &text[..middle], &text[middle..]] {
            events.push(event("content_block_delta", json!({ "type": "content_block_delta", "index": index, "delta": { "type": "input_json_delta", "partial_json": piece } })));
        }
        events.push(event(
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": index }),
        ));
        index += 1;
    }
    let stop = if script.calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    events.push(event("message_delta", json!({ "type": "message_delta", "delta": { "stop_reason": stop, "stop_sequence": null }, "usage": { "output_tokens": script.tokens.len() } })));
    events.push(event("message_stop", json!({ "type": "message_stop" })));
    sse_response(events)
}
