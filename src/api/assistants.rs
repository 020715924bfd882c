//! Assistants: list (the presets come first time), create, read, edit, duplicate, delete.

use super::{IdPath, Json};
use crate::auth::Me;
use crate::error::AppResult;
use crate::model::{Assistant, AssistantInput};
use crate::service;
use crate::state::AppState;
use axum::{extract::State, http::StatusCode};

/// GET /api/v1/assistants
#[utoipa::path(
    get,
    path = "/api/v1/assistants",
    tag = "assistants",
    operation_id = "assistants_list",
    responses((status = 200, body = Vec<Assistant>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn list(
    Me(me): Me,
    State(state): State<AppState>,
) -> AppResult<axum::Json<Vec<Assistant>>> {
    Ok(axum::Json(service::list_assistants(&state, me.id).await?))
}

/// POST /api/v1/assistants: `name` and `model` are required; `shared: true` (admins only)
/// offers it to everyone.
#[utoipa::path(
    post,
    path = "/api/v1/assistants",
    tag = "assistants",
    operation_id = "assistants_create",
    request_body = AssistantInput,
    responses((status = 201, body = Assistant), (status = 401, body = crate::api::openapi::ErrorBody), (status = 403, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn create(
    Me(me): Me,
    State(state): State<AppState>,
    Json(input): Json<AssistantInput>,
) -> AppResult<(StatusCode, axum::Json<Assistant>)> {
    let assistant = service::save_assistant(&state, &me, None, input).await?;
    Ok((StatusCode::CREATED, axum::Json(assistant)))
}

/// GET /api/v1/assistants/{id}
#[utoipa::path(
    get,
    path = "/api/v1/assistants/{id}",
    tag = "assistants",
    operation_id = "assistants_get",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = Assistant), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn get(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<Assistant>> {
    Ok(axum::Json(
        service::find_assistant(&state, me.id, &id.to_string()).await?,
    ))
}

/// PATCH /api/v1/assistants/{id}: absent fields keep their values. 403 for one an admin
/// shares (only its owner changes it).
#[utoipa::path(
    patch,
    path = "/api/v1/assistants/{id}",
    tag = "assistants",
    operation_id = "assistants_update",
    request_body = AssistantInput,
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = Assistant), (status = 401, body = crate::api::openapi::ErrorBody), (status = 403, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn update(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(input): Json<AssistantInput>,
) -> AppResult<axum::Json<Assistant>> {
    Ok(axum::Json(
        service::save_assistant(&state, &me, Some(id), input).await?,
    ))
}

/// POST /api/v1/assistants/{id}/duplicate
#[utoipa::path(
    post,
    path = "/api/v1/assistants/{id}/duplicate",
    tag = "assistants",
    operation_id = "assistants_duplicate",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 201, body = Assistant), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn duplicate(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<(StatusCode, axum::Json<Assistant>)> {
    let copy = service::duplicate_assistant(&state, me.id, id).await?;
    Ok((StatusCode::CREATED, axum::Json(copy)))
}

/// DELETE /api/v1/assistants/{id}: conversations that ran with it keep their messages and run
/// with no assistant from then on.
#[utoipa::path(
    delete,
    path = "/api/v1/assistants/{id}",
    tag = "assistants",
    operation_id = "assistants_delete",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 204), (status = 401, body = crate::api::openapi::ErrorBody), (status = 403, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn delete(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<StatusCode> {
    service::delete_assistant(&state, me.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /api/v1/assistants/{id}/files: the documents of its knowledge (set with `files` in
/// POST or PATCH).
#[utoipa::path(
    get,
    path = "/api/v1/assistants/{id}/files",
    tag = "assistants",
    operation_id = "assistants_files",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = Vec<crate::model::FileInfo>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn files(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<Vec<crate::model::FileInfo>>> {
    Ok(axum::Json(
        service::assistant_knowledge(&state, me.id, id).await?,
    ))
}
