//! The settings page: the person's runtime settings, saved all or nothing, and reset.

use super::codec::JsonText;
use crate::error::AppError;
use crate::model::{AnalyticsReport, Preferences, Timeframe};
use leptos::prelude::*;

#[server(endpoint = "get_preferences", output = JsonText)]
pub async fn get_preferences() -> Result<Preferences, AppError> {
    let state = super::app_state()?;
    state.runtime.for_person(super::me()?.id).await
}

/// The instance's defaults: what everyone gets who has not chosen their own (admins only).
#[server(endpoint = "get_instance_preferences", output = JsonText)]
pub async fn get_instance_preferences() -> Result<Preferences, AppError> {
    let state = super::app_state()?;
    if !super::me()?.is_admin() {
        return Err(AppError::Forbidden(
            "only an admin sets the defaults of the whole server".into(),
        ));
    }
    state.runtime.for_instance().await
}

/// Saves changed keys (`ui.theme` → `"dark"`…): all of them, or none with the first error.
/// With `instance` (admins only) they become everyone's defaults, and the instance's values
/// come back; otherwise the person's. JSON, so that values keep their types.
#[server(endpoint = "save_preferences", input = JsonText, output = JsonText)]
pub async fn save_preferences(
    changes: Vec<(String, serde_json::Value)>,
    #[server(default)] instance: bool,
) -> Result<Preferences, AppError> {
    use crate::service::preferences::{save_settings_for, SaveFor};
    let state = super::app_state()?;
    let me = super::me()?;
    if instance {
        save_settings_for(&state, &me, changes, SaveFor::Instance).await?;
        state.runtime.for_instance().await
    } else {
        save_settings_for(&state, &me, changes, SaveFor::Own).await
    }
}

/// Forgets the saved values of `keys`: the person's (back to the instance's or configured
/// ones), or with `instance` (admins only) the instance's (back to the configured ones).
#[server(endpoint = "reset_preferences", input = JsonText, output = JsonText)]
pub async fn reset_preferences(
    keys: Vec<String>,
    #[server(default)] instance: bool,
) -> Result<Preferences, AppError> {
    use crate::service::preferences::{reset_settings_for, SaveFor};
    let state = super::app_state()?;
    let me = super::me()?;
    if instance {
        reset_settings_for(&state, &me, keys, SaveFor::Instance).await?;
        state.runtime.for_instance().await
    } else {
        reset_settings_for(&state, &me, keys, SaveFor::Own).await
    }
}

/// The analytics dashboard's figures (`features.analytics`; its route is gated with it): the
/// person's, or with `instance` (admins only) everyone's.
#[server(endpoint = "get_analytics", output = JsonText)]
pub async fn get_analytics(
    timeframe: Timeframe,
    #[server(default)] instance: bool,
) -> Result<AnalyticsReport, AppError> {
    let state = super::app_state()?;
    crate::service::analytics_report(&state, &super::me()?, timeframe, instance).await
}
