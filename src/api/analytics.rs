//! The analytics report (`features.analytics`): the person's figures over 24 hours, 7 or 30 days.

use crate::auth::Me;
use crate::error::{AppError, AppResult};
use crate::model::{AnalyticsReport, Timeframe};
use crate::state::AppState;
use axum::extract::{Query, State};
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    timeframe: Option<String>,
}

/// GET /api/v1/analytics?timeframe=24h|7d|30d (24h when absent).
#[utoipa::path(
    get,
    path = "/api/v1/analytics",
    tag = "analytics",
    operation_id = "analytics_get",
    params(ReportQuery),
    responses((status = 200, body = AnalyticsReport), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
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
    let owner = me.id;
    Ok(axum::Json(
        crate::service::analytics_report(&state, owner, timeframe).await?,
    ))
}
