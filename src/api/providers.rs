//! Model providers besides Ollama (admins): an OpenAI-compatible endpoint or Anthropic. Their
//! models are offered as `<name>/<model>`. An API key goes in and never comes out.

use super::{IdPath, Json};
use crate::auth::Me;
use crate::error::AppResult;
use crate::model::{ModelProvider, ProviderInput, ProviderStatus};
use crate::service::providers as service;
use crate::state::AppState;
use axum::{extract::State, http::StatusCode};

/// GET /api/v1/admin/providers: every provider with its state and models.
#[utoipa::path(
    get,
    path = "/api/v1/admin/providers",
    tag = "models",
    operation_id = "providers_list",
    responses((status = 200, body = Vec<ProviderStatus>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody))
)]
pub async fn list(
    Me(me): Me,
    State(state): State<AppState>,
) -> AppResult<axum::Json<Vec<ProviderStatus>>> {
    Ok(axum::Json(service::list_providers(&state, &me).await?))
}

/// POST /api/v1/admin/providers: `name` and `kind` are required; `base_url` defaults to the
/// provider's own API.
#[utoipa::path(
    post,
    path = "/api/v1/admin/providers",
    tag = "models",
    operation_id = "providers_create",
    request_body = ProviderInput,
    responses((status = 201, body = ModelProvider), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 409, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody))
)]
pub async fn create(
    Me(me): Me,
    State(state): State<AppState>,
    Json(input): Json<ProviderInput>,
) -> AppResult<(StatusCode, axum::Json<ModelProvider>)> {
    let made = service::add_provider(&state, &me, input).await?;
    Ok((StatusCode::CREATED, axum::Json(made)))
}

/// PUT /api/v1/admin/providers/{id}: everything is set again, except the key when
/// `api_key` is absent (an empty one removes it).
#[utoipa::path(
    put,
    path = "/api/v1/admin/providers/{id}",
    tag = "models",
    operation_id = "providers_update",
    request_body = ProviderInput,
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = ModelProvider), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 409, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody))
)]
pub async fn update(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(input): Json<ProviderInput>,
) -> AppResult<axum::Json<ModelProvider>> {
    Ok(axum::Json(
        service::update_provider(&state, &me, id, input).await?,
    ))
}

/// DELETE /api/v1/admin/providers/{id}
#[utoipa::path(
    delete,
    path = "/api/v1/admin/providers/{id}",
    tag = "models",
    operation_id = "providers_delete",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 204), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody))
)]
pub async fn delete(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<StatusCode> {
    service::delete_provider(&state, &me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /api/v1/admin/providers/{id}/check: asks the provider for its models now.
#[utoipa::path(
    post,
    path = "/api/v1/admin/providers/{id}/check",
    tag = "models",
    operation_id = "providers_check",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = ProviderStatus), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody))
)]
pub async fn check(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<ProviderStatus>> {
    Ok(axum::Json(service::check_provider(&state, &me, id).await?))
}
