//! Runtime settings by dotted key: read, change (typed and checked: a wrong type or range is
//! 422, an unknown key 404), and reset to the configured value.

use super::Json;
use crate::auth::Me;
use crate::error::AppResult;
use crate::model::SettingValue;
use crate::service::preferences as service;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Map, Value};

/// GET /api/v1/settings: every setting with its value, scope and source.
#[utoipa::path(
    get,
    path = "/api/v1/settings",
    tag = "settings",
    operation_id = "settings_list",
    responses((status = 200, body = Vec<SettingValue>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn list(
    Me(me): Me,
    State(state): State<AppState>,
) -> AppResult<axum::Json<Vec<SettingValue>>> {
    let owner = me.id;
    Ok(axum::Json(service::list_settings(&state, owner).await?))
}

/// PATCH /api/v1/settings with `{"ui.theme": "dark", "ai.max_history": 20}`: all saved, or
/// none when one is refused. Answers every setting as it now is.
#[utoipa::path(
    patch,
    path = "/api/v1/settings",
    tag = "settings",
    operation_id = "settings_update_many",
    params(ScopeQuery),
    request_body = serde_json::Value,
    responses((status = 200, body = Vec<SettingValue>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn update_many(
    Me(me): Me,
    State(state): State<AppState>,
    Query(scope): Query<ScopeQuery>,
    Json(changes): Json<Map<String, Value>>,
) -> AppResult<axum::Json<Vec<SettingValue>>> {
    let owner = me.id;
    service::save_settings_for(&state, &me, changes.into_iter().collect(), scope.whose()?).await?;
    Ok(axum::Json(service::list_settings(&state, owner).await?))
}

/// GET /api/v1/settings/{key}
#[utoipa::path(
    get,
    path = "/api/v1/settings/{key}",
    tag = "settings",
    operation_id = "settings_get",
    params(("key" = String, Path, description = "A dotted key such as ui.theme")),
    responses((status = 200, body = SettingValue), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn get(
    Me(me): Me,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> AppResult<axum::Json<SettingValue>> {
    let owner = me.id;
    Ok(axum::Json(service::get_setting(&state, owner, &key).await?))
}

/// `?scope=instance`: an admin sets (or resets) the instance's default instead of their own.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScopeQuery {
    /// `person` (the default) or `instance` (admins).
    scope: Option<String>,
}

impl ScopeQuery {
    fn whose(&self) -> AppResult<service::SaveFor> {
        match self.scope.as_deref() {
            None | Some("person") => Ok(service::SaveFor::Own),
            Some("instance") => Ok(service::SaveFor::Instance),
            Some(other) => Err(crate::error::AppError::InvalidInput(format!(
                "scope must be person or instance, not {other:?}"
            ))),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewValue {
    value: Value,
}

/// PUT /api/v1/settings/{key} with `{"value": …}`.
#[utoipa::path(
    put,
    path = "/api/v1/settings/{key}",
    tag = "settings",
    operation_id = "settings_put",
    params(("key" = String, Path, description = "A dotted key such as ui.theme"), ScopeQuery),
    request_body = NewValue,
    responses((status = 200, body = SettingValue), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody))
)]
pub async fn put(
    Me(me): Me,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(scope): Query<ScopeQuery>,
    Json(body): Json<NewValue>,
) -> AppResult<axum::Json<SettingValue>> {
    let owner = me.id;
    service::save_settings_for(&state, &me, vec![(key.clone(), body.value)], scope.whose()?)
        .await?;
    Ok(axum::Json(service::get_setting(&state, owner, &key).await?))
}

/// DELETE /api/v1/settings/{key}: back to the instance's or the configured value.
#[utoipa::path(
    delete,
    path = "/api/v1/settings/{key}",
    tag = "settings",
    operation_id = "settings_reset",
    params(("key" = String, Path, description = "A dotted key such as ui.theme"), ScopeQuery),
    responses((status = 200, body = SettingValue), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn reset(
    Me(me): Me,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(scope): Query<ScopeQuery>,
) -> AppResult<axum::Json<SettingValue>> {
    let owner = me.id;
    service::reset_settings_for(&state, &me, vec![key.clone()], scope.whose()?).await?;
    Ok(axum::Json(service::get_setting(&state, owner, &key).await?))
}
