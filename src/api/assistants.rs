//! Assistants: list (the presets come first time), create, read, edit, duplicate, delete.

use super::{IdPath, Json};
use crate::auth::Me;
use crate::error::AppResult;
use crate::model::{Assistant, AssistantInput};
use crate::service;
use crate::state::AppState;
use axum::{extract::State, http::StatusCode};

/// GET /api/v1/assistants
pub async fn list(
    Me(me): Me,
    State(state): State<AppState>,
) -> AppResult<axum::Json<Vec<Assistant>>> {
    Ok(axum::Json(service::list_assistants(&state, me.id).await?))
}

/// POST /api/v1/assistants: `name` and `model` are required.
pub async fn create(
    Me(me): Me,
    State(state): State<AppState>,
    Json(input): Json<AssistantInput>,
) -> AppResult<(StatusCode, axum::Json<Assistant>)> {
    let assistant = service::create_assistant(&state, me.id, input).await?;
    Ok((StatusCode::CREATED, axum::Json(assistant)))
}

/// GET /api/v1/assistants/{id}
pub async fn get(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<Assistant>> {
    Ok(axum::Json(
        service::find_assistant(&state, me.id, &id.to_string()).await?,
    ))
}

/// PATCH /api/v1/assistants/{id}: absent fields keep their values.
pub async fn update(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(input): Json<AssistantInput>,
) -> AppResult<axum::Json<Assistant>> {
    Ok(axum::Json(
        service::update_assistant(&state, me.id, id, input).await?,
    ))
}

/// POST /api/v1/assistants/{id}/duplicate
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
pub async fn files(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<Vec<crate::model::FileInfo>>> {
    Ok(axum::Json(
        service::assistant_knowledge(&state, me.id, id).await?,
    ))
}
