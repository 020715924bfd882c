use super::{IdPath, Json};
use crate::auth::Me;
use crate::error::AppResult;
use crate::model::{Conversation, ConversationWithMessages, GenerationOptions};
use crate::service;
use crate::state::AppState;
use axum::{extract::State, http::StatusCode};
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

#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}",
    tag = "conversations",
    operation_id = "conversations_get",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = ConversationWithMessages), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn get(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<ConversationWithMessages>> {
    Ok(axum::Json(
        service::get_conversation(&state, me.id, id).await?,
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
