//! The agent's tools, directly: list them, and run one (scripts and tests use it; the same
//! limits and ownership as inside an agent run).

use super::Json;
use crate::auth::Me;
use crate::error::{AppError, AppResult};
use crate::model::Chart;
use crate::state::AppState;
use crate::tools::{ToolContext, ToolInfo};
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// GET /api/v1/tools
#[utoipa::path(
    get,
    path = "/api/v1/tools",
    tag = "tools",
    operation_id = "tools_list",
    responses((status = 200, body = Vec<ToolInfo>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn list(State(state): State<AppState>) -> axum::Json<Vec<ToolInfo>> {
    axum::Json(state.tools.infos())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invoke {
    #[serde(default)]
    arguments: Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Invoked {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<String>,
    /// Charts the tool drew (data the page draws as SVG).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    charts: Vec<Chart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    duration_ms: u64,
}

/// POST /api/v1/tools/{name}/invoke with `{"arguments": {…}}`. A tool that fails answers 200
/// with `ok: false` and its error (what the model would read); an unknown tool is 404.
#[utoipa::path(
    post,
    path = "/api/v1/tools/{name}/invoke",
    tag = "tools",
    operation_id = "tools_invoke",
    request_body = Invoke,
    params(("name" = String, Path)),
    responses((status = 200, body = Invoked), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn invoke(
    Me(me): Me,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<Invoke>,
) -> AppResult<axum::Json<Invoked>> {
    let Some(_) = state.tools.get(&name) else {
        return Err(AppError::NotFound(format!("tool '{name}'")));
    };
    let context = ToolContext {
        owner_id: me.id,
        conversation_id: None,
    };
    let outcome = state.tools.invoke(&context, &name, body.arguments).await;
    let duration_ms = outcome.duration.as_millis() as u64;
    Ok(axum::Json(match outcome.result {
        Ok(reply) => Invoked {
            ok: true,
            result: Some(reply.text),
            charts: reply.charts,
            error: None,
            duration_ms,
        },
        Err(error) => Invoked {
            ok: false,
            result: None,
            charts: Vec::new(),
            error: Some(error.to_string()),
            duration_ms,
        },
    }))
}
