//! The analytics report (`features.analytics`): the person's figures over 24 hours, 7 or 30 days;
//! for an admin, with `scope=instance`, everyone's.

use crate::auth::Me;
use crate::error::{AppError, AppResult};
use crate::model::{AnalyticsReport, Timeframe};
use crate::state::AppState;
use axum::extract::{Query, State};
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `24h` (the default), `7d` or `30d`.
    timeframe: Option<String>,
    /// `person` (the default) or, for admins, `instance`.
    scope: Option<String>,
}

/// GET /api/v1/analytics?timeframe=24h|7d|30d (24h when absent).
#[utoipa::path(
    get,
    path = "/api/v1/analytics",
    tag = "analytics",
    operation_id = "analytics_get",
    params(ReportQuery),
    responses((status = 200, body = AnalyticsReport), (status = 401, body = crate::api::openapi::ErrorBody), (status = 403, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn get(
    Me(me): Me,
    State(state): State<AppState>,
    Query(query): Query<ReportQuery>,
) -> AppResult<axum::Json<AnalyticsReport>> {
    let timeframe = match query.timeframe.as_deref() {
        None => Timeframe::Day,
        Some(value) => Timeframe::parse(value).ok_or_else(|| {
            AppError::InvalidInput(format!("timeframe must be 24h, 7d or 30d, not {value:?}"))
        })?,
    };
    let instance = match query.scope.as_deref() {
        None | Some("person") => false,
        Some("instance") => true,
        Some(other) => {
            return Err(AppError::InvalidInput(format!(
                "scope must be person or instance, not {other:?}"
            )))
        }
    };
    Ok(axum::Json(
        crate::service::analytics_report(&state, &me, timeframe, instance).await?,
    ))
}
