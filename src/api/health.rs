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

/// Ready: the database answers and at least one Ollama server or model provider does; each
/// server's state, and each enabled provider's as last checked (its name and state only).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    operation_id = "health_readyz",
    responses((status = 200, description = "See the description"))
)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    // Every server is checked now (each call has its own timeout), not as last seen.
    let (database, ()) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(3), state.store.ping()),
        state.ollama.check_now()
    );
    let database_error = match database {
        Ok(Ok(())) => None,
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: database");
            Some("the database does not answer".to_string())
        }
        Err(_) => Some("the database did not answer within 3s".to_string()),
    };
    let servers = state.ollama.servers();
    let ollama_ok = servers.iter().any(|s| s.up == Some(true));
    let first_up = servers.iter().find(|s| s.up == Some(true));
    let ollama_error = (!ollama_ok).then(|| {
        servers
            .iter()
            .find_map(|s| s.error.clone())
            .unwrap_or_else(|| "no Ollama server answers".into())
    });
    // Providers as last checked (every health interval): asking a paid API on every probe
    // would spend its rate limit. Their addresses are not shown, as their keys never are.
    let statuses: Vec<_> = state
        .ollama
        .providers()
        .all()
        .iter()
        .filter(|p| p.provider.enabled)
        .map(|p| p.status())
        .collect();
    let provider_up = statuses.iter().any(|s| s.up == Some(true));
    let providers: Vec<_> = statuses
        .iter()
        .map(|s| json!({ "name": s.provider.name, "kind": s.provider.kind, "up": s.up, "error": s.error }))
        .collect();
    let ready = database_error.is_none() && (ollama_ok || provider_up);
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": { "ok": database_error.is_none(), "backend": state.store.backend(), "error": database_error },
        "ollama": {
            "ok": ollama_ok,
            "url": first_up.map(|s| s.url.clone()).unwrap_or_else(|| crate::config::public_url(state.ollama.base_url())),
            "version": first_up.and_then(|s| s.version.clone()),
            "error": ollama_error,
            "servers": servers,
        },
        "providers": providers,
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
