use crate::auth::Me;
use crate::service;
use crate::state::AppState;
use axum::{extract::State, http::StatusCode, response::IntoResponse, Json};
use serde_json::json;
use std::time::Duration;

/// Alive: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    operation_id = "health_healthz",
    responses((status = 200, description = "See the description"))
)]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready: the database and Ollama both answer.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    operation_id = "health_readyz",
    responses((status = 200, description = "See the description"))
)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let (database, ollama) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(3), state.store.ping()),
        state.ollama.version()
    );
    let database_error = match database {
        Ok(Ok(())) => None,
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: database");
            Some("the database does not answer".to_string())
        }
        Err(_) => Some("the database did not answer within 3s".to_string()),
    };
    let (ollama_version, ollama_error) = match ollama {
        Ok(version) => (Some(version), None),
        Err(error) => (None, Some(error.to_string())),
    };
    let ready = database_error.is_none() && ollama_error.is_none();
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": { "ok": database_error.is_none(), "backend": state.store.backend(), "error": database_error },
        "ollama": { "ok": ollama_error.is_none(), "url": state.ollama.base_url(), "version": ollama_version, "error": ollama_error },
        "generations_running": state.generations.running(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// Whether Ollama answers, and its models.
#[utoipa::path(
    get,
    path = "/api/v1/models",
    tag = "health",
    operation_id = "health_models",
    responses((status = 200, description = "See the description"), (status = 401, body = crate::api::openapi::ErrorBody))
)]
pub async fn models(Me(me): Me, State(state): State<AppState>) -> impl IntoResponse {
    Json(service::ollama_status(&state, me.id).await)
}
