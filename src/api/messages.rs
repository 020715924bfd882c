use super::{IdPath, Json};
use crate::auth::Me;
use crate::error::{AppError, AppResult};
use crate::model::{
    Conversation, ConversationWithMessages, GenerationOptions, Message, SendOutcome,
};
use crate::service::{self, SendMessage};
use crate::state::AppState;
use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::StatusCode,
    response::Response,
};
use futures::StreamExt;
use serde::Deserialize;
use std::convert::Infallible;

/// POST /api/v1/conversations: a first message, which creates the conversation.
#[utoipa::path(
    post,
    path = "/api/v1/conversations",
    tag = "messages",
    operation_id = "messages_send_new",
    request_body = SendMessage,
    responses((status = 201, body = SendOutcome), (status = 401, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn send_new(
    Me(me): Me,
    State(state): State<AppState>,
    Json(mut body): Json<SendMessage>,
) -> AppResult<(StatusCode, axum::Json<SendOutcome>)> {
    body.conversation_id = None;
    let outcome = service::send_message(&state, me.id, body).await?;
    Ok((StatusCode::CREATED, axum::Json(outcome)))
}

/// POST /api/v1/conversations/{id}/messages
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/messages",
    tag = "messages",
    operation_id = "messages_send",
    request_body = SendMessage,
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 201, body = SendOutcome), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn send(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(mut body): Json<SendMessage>,
) -> AppResult<(StatusCode, axum::Json<SendOutcome>)> {
    body.conversation_id = Some(id);
    let outcome = service::send_message(&state, me.id, body).await?;
    Ok((StatusCode::CREATED, axum::Json(outcome)))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct Regenerate {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    options: GenerationOptions,
    /// Tools the new answer may call (an agent run), as when sending.
    #[serde(default)]
    tools: Vec<String>,
}

/// POST /api/v1/conversations/{id}/regenerate
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/regenerate",
    tag = "messages",
    operation_id = "messages_regenerate",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 201, body = Message), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn regenerate(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, axum::Json<Message>)> {
    // The body is optional: empty or null means the conversation's model and default options.
    let Regenerate {
        model,
        options,
        tools,
    } = if body.iter().all(u8::is_ascii_whitespace) {
        Regenerate::default()
    } else {
        serde_json::from_slice::<Option<Regenerate>>(&body)
            .map_err(|e| crate::error::AppError::InvalidInput(format!("invalid JSON body: {e}")))?
            .unwrap_or_default()
    };
    let message = service::regenerate(&state, me.id, id, model, options, &tools).await?;
    Ok((StatusCode::CREATED, axum::Json(message)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Edit {
    content: String,
    #[serde(default)]
    model: Option<String>,
    /// Edit in a branch: a new conversation holding this one up to the message gets the new
    /// text and the answer (the outcome's `conversation`); this conversation stays as it is.
    #[serde(default)]
    branch: bool,
}

/// POST /api/v1/messages/{id}/edit: new text for one of the person's messages; what came after
/// it is replaced by a new answer (201, like a send), or, with `branch`, answered in a new
/// conversation.
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/edit",
    tag = "messages",
    operation_id = "messages_edit",
    request_body = Edit,
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 201, body = SendOutcome), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn edit(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(body): Json<Edit>,
) -> AppResult<(StatusCode, axum::Json<SendOutcome>)> {
    let outcome = if body.branch {
        service::edit_in_branch(&state, me.id, id, &body.content, body.model).await?
    } else {
        service::edit_and_resend(&state, me.id, id, &body.content, body.model).await?
    };
    Ok((StatusCode::CREATED, axum::Json(outcome)))
}

/// POST /api/v1/messages/{id}/branch: a new conversation holding this message's conversation
/// up to and including the message, with its settings and documents, to continue apart; the
/// conversation itself is left as it is. 409 while the message is an answer still being written.
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/branch",
    tag = "messages",
    operation_id = "messages_branch",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 201, body = Conversation), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 409, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn branch(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<(StatusCode, axum::Json<Conversation>)> {
    let branch = service::branch_conversation(&state, me.id, id).await?;
    Ok((StatusCode::CREATED, axum::Json(branch.conversation)))
}

/// POST /api/v1/answer-versions/{id}/show: shows that version of an answer (an id from a
/// message's `versions`) instead of the one shown, which is kept as a version in turn; what
/// followed the answer goes and comes back with it. Answers with the conversation as `GET
/// /api/v1/conversations/{id}?limit=` gives it (`server.messages_per_page` messages). 404 for
/// a version that is not yours or no longer stored; 409 while an answer is being written.
#[utoipa::path(
    post,
    path = "/api/v1/answer-versions/{id}/show",
    tag = "messages",
    operation_id = "messages_show_version",
    params(("id" = uuid::Uuid, Path, description = "The version's id")),
    responses((status = 200, body = ConversationWithMessages), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 409, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn show_version(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<ConversationWithMessages>> {
    let limit = state.settings.server.messages_per_page;
    Ok(axum::Json(
        service::show_answer_version(&state, me.id, id, limit).await?,
    ))
}

/// POST /api/v1/messages/{id}/stop: the saved message, with status `stopped`.
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/stop",
    tag = "messages",
    operation_id = "messages_stop",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = Message), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn stop(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<Message>> {
    Ok(axum::Json(
        service::stop_generation(&state, me.id, id).await?,
    ))
}

/// `?render=html`: besides the text, the answer's sanitised HTML as it changes (`html` events),
/// and the final message with its `html`: what the page uses, since it renders no markdown.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// `text` (the default) or `html`.
    #[serde(default)]
    render: Render,
}

#[derive(Deserialize, Default, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
enum Render {
    #[default]
    Text,
    Html,
}

/// GET /api/v1/messages/{id}/events: server-sent events, each `data` a JSON `StreamEvent`
/// (`snapshot`, `delta`…, then `done`). Reconnecting starts again from a snapshot.
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}/events",
    tag = "messages",
    operation_id = "messages_events",
    params(("id" = uuid::Uuid, Path, description = "The id"), EventsQuery),
    responses((status = 200, description = "See the description"), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn events(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> AppResult<Response> {
    let Query(query) = query.map_err(|rejection| AppError::InvalidInput(rejection.body_text()))?;
    // Held by the stream: freed when it ends or the client goes away.
    let slot = state.streams.acquire(me.id)?;
    let events = if query.render == Render::Html {
        service::rendered_message_events(&state, me.id, id)
            .await?
            .boxed()
    } else {
        service::message_events(&state, me.id, id).await?.boxed()
    };
    let stream = events.map(move |event| {
        let _open = &slot;
        Ok::<_, Infallible>(super::json_event(&event))
    });
    Ok(super::sse_response(stream))
}
