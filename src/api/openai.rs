//! OpenAI-compatible endpoints, so that existing clients and SDKs can use OllamaStack with a
//! personal token as their API key: `POST /v1/chat/completions` (streamed or not) and
//! `GET /v1/models`. Each completion is stored as a conversation like any other: the request's
//! system messages become its system prompt, the earlier messages its history, and the last
//! user message the turn that is answered. The answer runs as a server task, so a client that
//! hangs up does not lose it.
//!
//! Errors have OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`).

use crate::api::Json;
use crate::auth::Me;
use crate::error::{AppError, AppResult};
use crate::model::{
    Conversation, GenerationOptions, Message, MessageStatus, Role, SendOutcome, StreamEvent,
};
use crate::service::{self, SendMessage};
use crate::state::AppState;
use axum::{
    extract::{Path, State},
    http::{header, HeaderValue},
    response::{sse::Event, IntoResponse, Response},
};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use uuid::Uuid;

/// Most messages one request may carry (the history is stored with it).
const MAX_MESSAGES: usize = 1_000;

/// An error in OpenAI's shape, with our status (and `Retry-After` when there is one).
pub struct OpenAiError(pub AppError);

impl From<AppError> for OpenAiError {
    fn from(error: AppError) -> Self {
        OpenAiError(error)
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let kind = match error.status_code().as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            400 | 413 | 422 => "invalid_request_error",
            _ => "api_error",
        };
        let mut response = (
            error.status_code(),
            axum::Json(json!({
                "error": {
                    "message": error.to_string(),
                    "type": kind,
                    "param": Value::Null,
                    "code": error.code(),
                }
            })),
        )
            .into_response();
        if let Some(seconds) = error.retry_after_secs() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

type OpenAiResult<T> = Result<T, OpenAiError>;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CompletionRequest {
    model: String,
    messages: Vec<InputMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    temperature: Option<f32>,
    max_tokens: Option<i32>,
    /// The newer name of `max_tokens`.
    max_completion_tokens: Option<i32>,
    /// Client-side functions are not run by this endpoint (OllamaStack's own tools are, through
    /// /api/v1); an empty list is accepted.
    #[serde(default)]
    tools: Vec<Value>,
    n: Option<u32>,
    // Other fields (top_p, user, seed, …) are accepted and not used.
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct InputMessage {
    role: String,
    #[serde(default)]
    content: Option<InputContent>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum InputContent {
    Text(String),
    Parts(Vec<InputPart>),
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct InputPart {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

impl InputMessage {
    /// The message's text: a string, or its text parts one after another.
    fn text(&self, index: usize) -> AppResult<String> {
        match &self.content {
            None => Ok(String::new()),
            Some(InputContent::Text(text)) => Ok(text.clone()),
            Some(InputContent::Parts(parts)) => {
                let mut text = String::new();
                for part in parts {
                    match (part.kind.as_str(), &part.text) {
                        ("text", Some(part_text)) => {
                            if !text.is_empty() {
                                text.push('\n');
                            }
                            text.push_str(part_text);
                        }
                        (kind, _) => {
                            return Err(AppError::InvalidInput(format!(
                                "messages[{index}]: content parts of type {kind:?} are not \
                                 supported here (text only; send images through /api/v1/files)"
                            )))
                        }
                    }
                }
                Ok(text)
            }
        }
    }
}

/// What a request asks for, checked: the system prompt, the history, the question.
struct Prepared {
    model: String,
    system_prompt: Option<String>,
    history: Vec<(Role, String)>,
    question: String,
    options: GenerationOptions,
}

fn prepare(request: &CompletionRequest) -> AppResult<Prepared> {
    if request.n.is_some_and(|n| n != 1) {
        return Err(AppError::InvalidInput("n must be 1".into()));
    }
    if !request.tools.is_empty() {
        return Err(AppError::InvalidInput(
            "tools are not supported on this endpoint; OllamaStack's own tools run through \
             POST /api/v1/conversations with \"tools\""
                .into(),
        ));
    }
    if request.messages.is_empty() {
        return Err(AppError::InvalidInput("messages must not be empty".into()));
    }
    if request.messages.len() > MAX_MESSAGES {
        return Err(AppError::InvalidInput(format!(
            "at most {MAX_MESSAGES} messages"
        )));
    }
    let model = service::validate_model(&request.model)?;
    let mut system = Vec::new();
    let mut history = Vec::new();
    let last = request.messages.len() - 1;
    let mut question = None;
    for (index, message) in request.messages.iter().enumerate() {
        let text = message.text(index)?;
        match message.role.as_str() {
            "system" | "developer" => system.push(text),
            "user" if index == last => question = Some(service::validate_content(&text)?),
            "user" => history.push((Role::User, service::validate_content(&text)?)),
            // An earlier answer that only called tools has no text to keep.
            "assistant" if text.trim().is_empty() => {}
            "assistant" => history.push((Role::Assistant, crate::text::clean_input(&text))),
            "tool" | "function" => {
                return Err(AppError::InvalidInput(format!(
                    "messages[{index}]: tool results are not supported on this endpoint"
                )))
            }
            other => {
                return Err(AppError::InvalidInput(format!(
                    "messages[{index}]: unknown role {other:?} (system, user or assistant)"
                )))
            }
        }
    }
    let Some(question) = question else {
        return Err(AppError::InvalidInput(
            "the last message must be the user's".into(),
        ));
    };
    let system_prompt = system
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    let system_prompt = service::validate_system_prompt(Some(&system_prompt))?;
    Ok(Prepared {
        model,
        system_prompt,
        history,
        question,
        options: GenerationOptions {
            temperature: request.temperature,
            num_predict: request.max_completion_tokens.or(request.max_tokens),
            num_ctx: None,
        },
    })
}

/// Stores the conversation (system prompt and history) and starts the answer to the question.
async fn start(state: &AppState, owner: Uuid, prepared: Prepared) -> AppResult<SendOutcome> {
    // An unknown model is a clear 404 now, not a failed answer later.
    let models = state.ollama.list_models().await?;
    if !models
        .iter()
        .any(|m| crate::model::same_model(&m.name, &prepared.model))
    {
        return Err(AppError::ModelNotFound(prepared.model));
    }
    let now = chrono::Utc::now();
    let conversation = Conversation {
        id: Uuid::now_v7(),
        owner_id: owner,
        title: service::title_from(&prepared.question),
        model: prepared.model.clone(),
        system_prompt: prepared.system_prompt,
        options: GenerationOptions::default(),
        created_at: now,
        updated_at: now,
        assistant_id: None,
        // One conversation per API call: naming each would double the model's work.
        title_source: crate::model::TitleSource::Kept,
        branched_from: None,
    };
    let count = prepared.history.len() as i64;
    let messages: Vec<Message> = prepared
        .history
        .into_iter()
        .enumerate()
        .map(|(n, (role, content))| {
            // Distinct times before the question's: the history keeps its order.
            let at = now - chrono::Duration::milliseconds(count - n as i64);
            Message {
                id: Uuid::now_v7(),
                conversation_id: conversation.id,
                owner_id: owner,
                role,
                content,
                model: (role == Role::Assistant).then(|| prepared.model.clone()),
                status: MessageStatus::Complete,
                error: None,
                tool_calls: Default::default(),
                tool_name: None,
                thinking: None,
                charts: Default::default(),
                sources: Default::default(),
                attachments: Default::default(),
                metrics: Default::default(),
                created_at: at,
                updated_at: at,
                html: None,
                versions: None,
            }
        })
        .collect();
    let stored = state
        .store
        .import_conversation(owner, &conversation, &messages)
        .await?;
    let sent = service::send_message(
        state,
        owner,
        SendMessage {
            conversation_id: Some(stored.id),
            content: prepared.question,
            model: Some(prepared.model),
            options: prepared.options,
            ..Default::default()
        },
    )
    .await;
    if sent.is_err() {
        // Nothing was answered: the copy of what the client sent (it still has it) goes too.
        if let Err(error) = state.store.delete_conversation(owner, stored.id).await {
            tracing::warn!(%error, "could not remove a conversation whose answer never started");
        }
    }
    sent
}

/// OpenAI's `finish_reason` for a finished answer, or the error it ended with.
fn finish_reason(message: &Message) -> AppResult<&'static str> {
    match message.status {
        MessageStatus::Complete | MessageStatus::Stopped => {
            Ok(match message.metrics.done_reason.as_deref() {
                Some("length" | "limit") => "length",
                _ => "stop",
            })
        }
        MessageStatus::Error => Err(AppError::Ollama(
            message
                .error
                .clone()
                .unwrap_or_else(|| "the answer failed".into()),
        )),
        MessageStatus::Interrupted => Err(AppError::Unavailable(
            "the server stopped while answering; the partial answer is stored".into(),
        )),
        MessageStatus::Streaming => Err(AppError::Internal),
    }
}

fn usage(message: &Message) -> Value {
    let prompt = message.metrics.prompt_tokens.unwrap_or(0);
    let completion = message.metrics.completion_tokens.unwrap_or(0);
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    })
}

/// Our ids of what was stored, for clients that want to open it in OllamaStack.
fn with_ids(mut response: Response, outcome: &SendOutcome) -> Response {
    for (name, id) in [
        ("x-ollamastack-conversation", outcome.conversation.id),
        ("x-ollamastack-message", outcome.assistant_message.id),
    ] {
        if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// POST /v1/chat/completions
#[utoipa::path(
    post,
    path = "/v1/chat/completions",
    tag = "openai",
    operation_id = "openai_chat_completions",
    request_body = CompletionRequest,
    responses((status = 200, description = "See the description"), (status = 401, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn chat_completions(
    Me(me): Me,
    State(state): State<AppState>,
    body: Result<Json<CompletionRequest>, AppError>,
) -> OpenAiResult<Response> {
    let Json(request) = body?;
    let prepared = prepare(&request)?;
    let include_usage = request
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    // A stream holds one of the person's stream places, taken before anything is stored.
    let slot = if request.stream {
        Some(state.streams.acquire(me.id)?)
    } else {
        None
    };
    let outcome = start(&state, me.id, prepared).await?;
    let answer = &outcome.assistant_message;
    let id = format!("chatcmpl-{}", answer.id.simple());
    let created = answer.created_at.timestamp();
    let model = answer
        .model
        .clone()
        .unwrap_or_else(|| outcome.conversation.model.clone());
    let events = service::message_events(&state, me.id, answer.id).await?;
    if !request.stream {
        let mut events = std::pin::pin!(events);
        let mut done = None;
        while let Some(event) = events.next().await {
            if let StreamEvent::Done { message, .. } = event {
                done = Some(message);
                break;
            }
        }
        let message = done.ok_or(AppError::Internal)?;
        let reason = finish_reason(&message)?;
        let body = json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": message.content},
                "finish_reason": reason,
                "logprobs": Value::Null,
            }],
            "usage": usage(&message),
        });
        return Ok(with_ids(axum::Json(body).into_response(), &outcome));
    }

    let chunk = move |delta: Value, reason: Option<&str>| {
        json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason, "logprobs": Value::Null}],
        })
    };
    let stream = async_stream::stream! {
        let _slot = slot;
        let mut events = std::pin::pin!(events);
        yield chunk(json!({"role": "assistant", "content": ""}), None);
        // How much of the text has been sent: a snapshot (the first, or one after a lag) sends
        // only what is new.
        let mut sent = 0usize;
        while let Some(event) = events.next().await {
            match event {
                StreamEvent::Snapshot { content, .. } => {
                    if let Some(new) = content.get(sent..).filter(|new| !new.is_empty()) {
                        yield chunk(json!({"content": new}), None);
                    }
                    sent = sent.max(content.len());
                }
                StreamEvent::Delta { content } => {
                    sent += content.len();
                    yield chunk(json!({"content": content}), None);
                }
                StreamEvent::Thinking { .. } | StreamEvent::Html { .. } => {}
                StreamEvent::Done { message, .. } => {
                    if let Some(rest) = message.content.get(sent..).filter(|r| !r.is_empty()) {
                        yield chunk(json!({"content": rest}), None);
                    }
                    match finish_reason(&message) {
                        Ok(reason) => {
                            yield chunk(json!({}), Some(reason));
                            if include_usage {
                                let mut last = chunk(json!({}), None);
                                last["choices"] = json!([]);
                                last["usage"] = usage(&message);
                                yield last;
                            }
                        }
                        Err(error) => {
                            yield json!({"error": {
                                "message": error.to_string(),
                                "type": "api_error",
                                "param": Value::Null,
                                "code": error.code(),
                            }});
                        }
                    }
                    break;
                }
            }
        }
    };
    let stream = stream
        .map(|value| Ok::<_, Infallible>(Event::default().data(value.to_string())))
        .chain(futures::stream::once(async {
            Ok(Event::default().data("[DONE]"))
        }));
    Ok(with_ids(super::sse_response(stream), &outcome))
}

fn model_object(name: &str) -> Value {
    json!({"id": name, "object": "model", "created": 0, "owned_by": "ollama"})
}

/// GET /v1/models: the chat models Ollama serves.
#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "openai",
    operation_id = "openai_models",
    responses((status = 200, description = "See the description"), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn models(Me(_): Me, State(state): State<AppState>) -> OpenAiResult<Response> {
    let models = state.ollama.list_models().await.map_err(AppError::from)?;
    let data: Vec<Value> = models.iter().map(|m| model_object(&m.name)).collect();
    Ok(axum::Json(json!({"object": "list", "data": data})).into_response())
}

/// GET /v1/models/{model}
#[utoipa::path(
    get,
    path = "/v1/models/{model}",
    tag = "openai",
    operation_id = "openai_model",
    params(("model" = String, Path)),
    responses((status = 200, description = "See the description"), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn model(
    Me(_): Me,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> OpenAiResult<Response> {
    let models = state.ollama.list_models().await.map_err(AppError::from)?;
    let found = models
        .iter()
        .find(|m| crate::model::same_model(&m.name, &name))
        .ok_or_else(|| AppError::ModelNotFound(name.clone()))?;
    Ok(axum::Json(model_object(&found.name)).into_response())
}

/// Any other path under /v1.
pub async fn unknown() -> OpenAiError {
    OpenAiError(AppError::NotFound("API route".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(value: Value) -> CompletionRequest {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_request_becomes_system_prompt_history_and_question() {
        let prepared = prepare(&request(json!({
            "model": "llama3.2",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": "Answer in French."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Bonjour"},
                {"role": "assistant", "content": null},
                {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]},
            ],
            "max_tokens": 50,
            "temperature": 0.2,
            "top_p": 0.9,
        })))
        .unwrap();
        assert_eq!(
            prepared.system_prompt.as_deref(),
            Some("Be brief.\n\nAnswer in French.")
        );
        assert_eq!(
            prepared.history,
            [
                (Role::User, "Hi".to_string()),
                (Role::Assistant, "Bonjour".to_string())
            ]
        );
        assert_eq!(prepared.question, "What is 2+2?");
        assert_eq!(prepared.options.num_predict, Some(50));
        assert_eq!(prepared.options.temperature, Some(0.2));
    }

    #[test]
    fn what_this_endpoint_cannot_do_is_a_clear_error() {
        for (body, needle) in [
            (
                json!({"model": "m", "messages": [{"role": "assistant", "content": "x"}]}),
                "last message",
            ),
            (json!({"model": "m", "messages": []}), "empty"),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}),
                "n must be 1",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}),
                "tools",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}]}),
                "image_url",
            ),
            (
                json!({"model": "m", "messages": [{"role": "wizard", "content": "x"}, {"role": "user", "content": "y"}]}),
                "unknown role",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "\u{0}\u{1}"}]}),
                "",
            ),
        ] {
            let error = match prepare(&request(body.clone())) {
                Err(error) => error,
                Ok(_) => panic!("accepted {body}"),
            };
            assert_eq!(error.status_code(), 422, "{body}");
            assert!(error.to_string().contains(needle), "{error} for {body}");
        }
    }
}
