use super::{IdPath, Json};
use crate::auth::Me;
use crate::error::{AppError, AppResult};
use crate::model::{Conversation, ConversationWithMessages, GenerationOptions, MessagePage};
use crate::service;
use crate::state::AppState;
use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::StatusCode,
};
use serde::Deserialize;

#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    tag = "conversations",
    operation_id = "conversations_list",
    responses((status = 200, body = Vec<Conversation>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn list(
    Me(me): Me,
    State(state): State<AppState>,
) -> AppResult<axum::Json<Vec<Conversation>>> {
    Ok(axum::Json(
        service::list_conversations(&state, me.id).await?,
    ))
}

/// `?limit=N`: only the latest N messages (with `has_older`); none: every message.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConversationQuery {
    /// How many of the latest messages, 1 to 500; absent: all of them.
    limit: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}",
    tag = "conversations",
    operation_id = "conversations_get",
    params(("id" = uuid::Uuid, Path, description = "The id"), ConversationQuery),
    responses((status = 200, body = ConversationWithMessages), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn get(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    query: Result<Query<ConversationQuery>, QueryRejection>,
) -> AppResult<axum::Json<ConversationWithMessages>> {
    let Query(query) = query.map_err(|rejection| AppError::InvalidInput(rejection.body_text()))?;
    Ok(axum::Json(match query.limit {
        None => {
            let mut whole = service::get_conversation(&state, me.id, id).await?;
            service::with_versions(&state, me.id, id, &mut whole.messages).await?;
            whole
        }
        Some(limit) => service::conversation_page(&state, me.id, id, None, limit).await?,
    }))
}

/// `?before=<message id>&limit=N`: the N messages just before that one (the latest without it).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// A message of this conversation: the page ends just before it. Absent: the latest.
    before: Option<uuid::Uuid>,
    /// 1 to 500; absent: `server.messages_per_page` (50).
    limit: Option<usize>,
}

/// GET /api/v1/conversations/{id}/messages: a page of the history, oldest first, to read a long
/// conversation backwards (`before` = the first id of the page before).
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/messages",
    tag = "conversations",
    operation_id = "conversations_messages",
    params(("id" = uuid::Uuid, Path, description = "The conversation"), PageQuery),
    responses((status = 200, body = MessagePage), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn messages(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> AppResult<axum::Json<MessagePage>> {
    let Query(query) = query.map_err(|rejection| AppError::InvalidInput(rejection.body_text()))?;
    let limit = query
        .limit
        .unwrap_or(state.settings.server.messages_per_page);
    Ok(axum::Json(
        service::message_page(&state, me.id, id, query.before, limit).await?,
    ))
}

/// What PATCH may change: the title, and the settings of the next turns. A settings field
/// that is absent keeps its value; `system_prompt: null` removes the prompt.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Update {
    #[serde(default)]
    title: Option<String>,
    #[serde(default, deserialize_with = "crate::model::present")]
    system_prompt: Option<Option<String>>,
    #[serde(default)]
    options: Option<GenerationOptions>,
    /// The assistant the conversation runs with from its next turn; null: none.
    #[serde(default, deserialize_with = "crate::model::present")]
    assistant_id: Option<Option<uuid::Uuid>>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/conversations/{id}",
    tag = "conversations",
    operation_id = "conversations_update",
    request_body = Update,
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = Conversation), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn update(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(body): Json<Update>,
) -> AppResult<axum::Json<Conversation>> {
    let owner = me.id;
    let mut conversation = match &body.title {
        Some(title) => service::rename_conversation(&state, owner, id, title).await?,
        None => {
            service::get_conversation(&state, owner, id)
                .await?
                .conversation
        }
    };
    if body.system_prompt.is_some() || body.options.is_some() {
        let system_prompt = match body.system_prompt {
            Some(prompt) => prompt,
            None => conversation.system_prompt.clone(),
        };
        let options = body.options.unwrap_or(conversation.options.clone());
        conversation = service::update_conversation_settings(
            &state,
            owner,
            id,
            system_prompt.as_deref(),
            options,
        )
        .await?;
    }
    if let Some(assistant_id) = body.assistant_id {
        conversation = service::set_conversation_assistant(&state, owner, id, assistant_id).await?;
    }
    Ok(axum::Json(conversation))
}

#[utoipa::path(
    delete,
    path = "/api/v1/conversations/{id}",
    tag = "conversations",
    operation_id = "conversations_delete",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 204), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn delete(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<StatusCode> {
    service::delete_conversation(&state, me.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
