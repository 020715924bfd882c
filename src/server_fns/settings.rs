//! The settings page: the person's runtime settings, saved all or nothing, and reset.

use crate::error::AppError;
use crate::model::{AnalyticsReport, Preferences, Timeframe};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(endpoint = "get_preferences")]
pub async fn get_preferences() -> Result<Preferences, AppError> {
    let state = super::app_state()?;
    state.runtime.for_person(super::me()?.id).await
}

/// Saves changed keys (`ui.theme` → `"dark"`…): all of them, or none with the first error.
/// JSON, so that values keep their types.
#[server(endpoint = "save_preferences", input = Json)]
pub async fn save_preferences(
    changes: Vec<(String, serde_json::Value)>,
) -> Result<Preferences, AppError> {
    let state = super::app_state()?;
    crate::service::preferences::save_settings(&state, &super::me()?, changes).await
}

/// Forgets the person's saved values of `keys`: back to the instance's or configured ones.
#[server(endpoint = "reset_preferences", input = Json)]
pub async fn reset_preferences(keys: Vec<String>) -> Result<Preferences, AppError> {
    let state = super::app_state()?;
    crate::service::preferences::reset_settings(&state, &super::me()?, keys).await
}

/// The analytics dashboard's figures (`features.analytics`; its route is gated with it): the
/// person's, or with `instance` (admins only) everyone's.
#[server(endpoint = "get_analytics")]
pub async fn get_analytics(
    timeframe: Timeframe,
    #[server(default)] instance: bool,
) -> Result<AnalyticsReport, AppError> {
    let state = super::app_state()?;
    crate::service::analytics_report(&state, &super::me()?, timeframe, instance).await
}
