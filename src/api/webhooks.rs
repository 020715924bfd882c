//! Webhooks: register, list, change, try out, rotate the secret, delete, and the delivery log
//! with "send again". See `crate::webhooks` for what a receiver gets and how to verify it.

use super::{IdPath, Json};
use crate::auth::Me;
use crate::error::AppResult;
use crate::model::{NewWebhookSecret, Webhook, WebhookDelivery, WebhookInput};
use crate::service::webhooks as service;
use crate::state::AppState;
use axum::{
    extract::{Query, State},
    http::StatusCode,
};
use serde::Deserialize;

/// GET /api/v1/webhooks
#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_list",
    responses((status = 200, body = Vec<Webhook>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn list(
    Me(me): Me,
    State(state): State<AppState>,
) -> AppResult<axum::Json<Vec<Webhook>>> {
    Ok(axum::Json(service::list_webhooks(&state, &me).await?))
}

/// POST /api/v1/webhooks: `url` and `events` are required; the answer holds the signing
/// secret, shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_create",
    request_body = WebhookInput,
    responses((status = 201, body = NewWebhookSecret), (status = 401, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn create(
    Me(me): Me,
    State(state): State<AppState>,
    Json(input): Json<WebhookInput>,
) -> AppResult<(StatusCode, axum::Json<NewWebhookSecret>)> {
    let made = service::create_webhook(&state, &me, input).await?;
    Ok((StatusCode::CREATED, axum::Json(made)))
}

/// GET /api/v1/webhooks/{id}
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_get",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = Webhook), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn get(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<Webhook>> {
    Ok(axum::Json(service::get_webhook(&state, &me, id).await?))
}

/// PATCH /api/v1/webhooks/{id}: absent fields keep their values.
#[utoipa::path(
    patch,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_update",
    request_body = WebhookInput,
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = Webhook), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn update(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(input): Json<WebhookInput>,
) -> AppResult<axum::Json<Webhook>> {
    Ok(axum::Json(
        service::update_webhook(&state, &me, id, input).await?,
    ))
}

/// DELETE /api/v1/webhooks/{id}
#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_delete",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 204), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn delete(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<StatusCode> {
    service::delete_webhook(&state, &me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /api/v1/webhooks/{id}/secret: a new signing secret, shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/secret",
    tag = "webhooks",
    operation_id = "webhooks_rotate_secret",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = NewWebhookSecret), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn rotate_secret(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<NewWebhookSecret>> {
    Ok(axum::Json(service::rotate_secret(&state, &me, id).await?))
}

/// POST /api/v1/webhooks/{id}/ping: queues a `ping` event.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/ping",
    tag = "webhooks",
    operation_id = "webhooks_ping",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 202, body = WebhookDelivery), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn ping(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<(StatusCode, axum::Json<WebhookDelivery>)> {
    let queued = service::ping(&state, &me, id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(queued)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    limit: Option<i64>,
}

/// GET /api/v1/webhooks/{id}/deliveries?limit=: the delivery log, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    operation_id = "webhooks_deliveries",
    params(("id" = uuid::Uuid, Path, description = "The id"), LogQuery),
    responses((status = 200, body = Vec<WebhookDelivery>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn deliveries(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Query(query): Query<LogQuery>,
) -> AppResult<axum::Json<Vec<WebhookDelivery>>> {
    Ok(axum::Json(
        service::deliveries(&state, &me, id, query.limit).await?,
    ))
}

/// POST /api/v1/webhooks/deliveries/{id}/redeliver: "send again".
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/deliveries/{id}/redeliver",
    tag = "webhooks",
    operation_id = "webhooks_redeliver",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 202, body = WebhookDelivery), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn redeliver(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<(StatusCode, axum::Json<WebhookDelivery>)> {
    let queued = service::redeliver(&state, &me, id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(queued)))
}
