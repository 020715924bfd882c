//! Models and Ollama servers: details of one model for anyone signed in; for admins, each
//! server's state, pulling (a server task followed by polling) and deleting models.

use super::Json;
use crate::auth::Me;
use crate::error::AppResult;
use crate::model::{ModelDetails, ModelPull, ModelsOverview};
use crate::service::model_admin;
use crate::state::AppState;
use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use serde::Deserialize;

/// GET /api/v1/models/{model}: what Ollama says of one model, and which servers have it.
#[utoipa::path(
    get,
    path = "/api/v1/models/{model}",
    tag = "models",
    operation_id = "models_details",
    params(("model" = String, Path, description = "such as llama3.2 or llama3.2:3b")),
    responses((status = 200, body = ModelDetails), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 502, body = crate::api::openapi::ErrorBody))
)]
pub async fn details(
    Me(_): Me,
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> AppResult<axum::Json<ModelDetails>> {
    Ok(axum::Json(
        model_admin::model_details(&state, &model).await?,
    ))
}

/// GET /api/v1/admin/ollama (admins): every server checked now, every model in detail, pulls.
#[utoipa::path(
    get,
    path = "/api/v1/admin/ollama",
    tag = "models",
    operation_id = "models_overview",
    responses((status = 200, body = ModelsOverview), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody))
)]
pub async fn overview(
    Me(me): Me,
    State(state): State<AppState>,
) -> AppResult<axum::Json<ModelsOverview>> {
    Ok(axum::Json(model_admin::models_overview(&state, &me).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PullBody {
    /// Such as `llama3.2:3b`.
    model: String,
}

/// POST /api/v1/admin/models/pull {"model"} (admins): starts pulling onto every server that is
/// up; 202 with the pull, whose progress `GET /api/v1/admin/models/pulls` reports.
#[utoipa::path(
    post,
    path = "/api/v1/admin/models/pull",
    tag = "models",
    operation_id = "models_pull",
    request_body = PullBody,
    responses((status = 202, body = ModelPull), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 409, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 502, body = crate::api::openapi::ErrorBody))
)]
pub async fn pull(
    Me(me): Me,
    State(state): State<AppState>,
    Json(body): Json<PullBody>,
) -> AppResult<(StatusCode, axum::Json<ModelPull>)> {
    let pull = model_admin::start_pull(&state, &me, &body.model).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(pull)))
}

/// GET /api/v1/admin/models/pulls (admins): running and recent pulls, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/models/pulls",
    tag = "models",
    operation_id = "models_pulls",
    responses((status = 200, body = Vec<ModelPull>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody))
)]
pub async fn pulls(
    Me(me): Me,
    State(state): State<AppState>,
) -> AppResult<axum::Json<Vec<ModelPull>>> {
    crate::service::accounts::require_admin(&me)?;
    Ok(axum::Json(state.pulls.list()))
}

/// POST /api/v1/admin/models/pull/cancel {"model"} (admins): stops a running pull.
#[utoipa::path(
    post,
    path = "/api/v1/admin/models/pull/cancel",
    tag = "models",
    operation_id = "models_cancel_pull",
    request_body = PullBody,
    responses((status = 200, body = ModelPull), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody))
)]
pub async fn cancel_pull(
    Me(me): Me,
    State(state): State<AppState>,
    Json(body): Json<PullBody>,
) -> AppResult<axum::Json<ModelPull>> {
    Ok(axum::Json(
        model_admin::cancel_pull(&state, &me, &body.model).await?,
    ))
}

/// DELETE /api/v1/admin/models/{model} (admins): deletes it from every server that has it.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/models/{model}",
    tag = "models",
    operation_id = "models_delete",
    params(("model" = String, Path)),
    responses((status = 204), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 502, body = crate::api::openapi::ErrorBody))
)]
pub async fn delete(
    Me(me): Me,
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> AppResult<StatusCode> {
    model_admin::delete_model(&state, &me, &model).await?;
    Ok(StatusCode::NO_CONTENT)
}
