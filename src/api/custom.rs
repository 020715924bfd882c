//! Routes for other programs: named custom actions, and conversations exported and imported.

use super::{IdPath, Json};
use crate::auth::Me;
use crate::error::AppError;
use crate::service::custom_actions::run_action;
use crate::service::transfer::{self, ExportFormat, ImportOutcome};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    action: String,
    #[serde(default)]
    parameters: Value,
}

/// POST /api/v1/custom/action with `{"action", "parameters"}`: `{"success", "data",
/// "message"}`, also when it fails (with the error's status and code).
#[utoipa::path(
    post,
    path = "/api/v1/custom/action",
    tag = "custom",
    operation_id = "custom_action",
    request_body = ActionRequest,
    responses((status = 200, description = "See the description"), (status = 401, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn action(
    Me(me): Me,
    State(state): State<AppState>,
    body: Result<Json<ActionRequest>, AppError>,
) -> Response {
    let outcome = match body {
        Ok(Json(request)) => run_action(&state, me.id, &request.action, request.parameters).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(outcome) => axum::Json(outcome).into_response(),
        Err(error) => {
            let body = serde_json::json!({
                "success": false,
                "data": null,
                "message": error.to_string(),
                "error": { "code": error.code(), "message": error.to_string() },
            });
            (error.status_code(), axum::Json(body)).into_response()
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    format: Option<String>,
}

fn download(exported: transfer::Exported, format: ExportFormat) -> Response {
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                super::files::content_disposition(&exported.file_name),
            ),
        ],
        exported.body,
    )
        .into_response()
}

/// GET /api/v1/conversations/{id}/export?format=json|markdown
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/export",
    tag = "custom",
    operation_id = "custom_export_one",
    params(("id" = uuid::Uuid, Path, description = "The id"), FormatQuery),
    responses((status = 200, description = "See the description"), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn export_one(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Query(query): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let format = ExportFormat::parse(query.format.as_deref())?;
    let exported = transfer::export_conversation(&state, me.id, id, format).await?;
    Ok(download(exported, format))
}

/// GET /api/v1/conversations/export?format=json|markdown: every conversation.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/export",
    tag = "custom",
    operation_id = "custom_export_all",
    params(FormatQuery),
    responses((status = 200, description = "See the description"), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn export_all(
    Me(me): Me,
    State(state): State<AppState>,
    Query(query): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let format = ExportFormat::parse(query.format.as_deref())?;
    let exported = transfer::export_all(&state, me.id, format).await?;
    Ok(download(exported, format))
}

/// POST /api/v1/conversations/import with an export (one conversation or all): 201 with the
/// new conversations.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/import",
    tag = "custom",
    operation_id = "custom_import",
    request_body = serde_json::Value,
    responses((status = 201, body = ImportOutcome), (status = 401, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn import(
    Me(me): Me,
    State(state): State<AppState>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, axum::Json<ImportOutcome>), AppError> {
    let outcome = transfer::import_conversations(&state, me.id, body).await?;
    Ok((StatusCode::CREATED, axum::Json(outcome)))
}
