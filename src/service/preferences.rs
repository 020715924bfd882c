//! Runtime settings: the configured values with the saved ones applied over them (the
//! instance's, then the person's), read and changed while the server runs.

use crate::db::{SavedSetting, SharedStore};
use crate::error::{AppError, AppResult};
use crate::model::{Features, Preferences, SettingError, SettingScope, SettingValue};
use crate::state::AppState;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The configured values, and the instance's saved values for a short while: feature flags are
/// read by every request, and other instances' changes must arrive without a restart.
pub struct RuntimeSettings {
    configured: Preferences,
    store: SharedStore,
    refresh: Duration,
    instance: Mutex<Option<(Instant, Arc<Vec<SavedSetting>>)>>,
}

impl std::fmt::Debug for RuntimeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeSettings")
            .field("configured", &self.configured)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl RuntimeSettings {
    pub fn new(configured: Preferences, store: SharedStore, refresh: Duration) -> RuntimeSettings {
        RuntimeSettings {
            configured,
            store,
            refresh,
            instance: Mutex::new(None),
        }
    }

    pub fn configured(&self) -> &Preferences {
        &self.configured
    }

    /// The instance's saved values, read again once `refresh` has passed.
    async fn instance_values(&self) -> Result<Arc<Vec<SavedSetting>>, sqlx::Error> {
        if let Ok(cached) = self.instance.lock() {
            if let Some((at, values)) = cached.as_ref() {
                if at.elapsed() < self.refresh {
                    return Ok(values.clone());
                }
            }
        }
        let values = Arc::new(self.store.saved_settings(None).await?);
        if let Ok(mut cached) = self.instance.lock() {
            *cached = Some((Instant::now(), values.clone()));
        }
        Ok(values)
    }

    /// Forgets the cached instance values (after this instance changed them).
    fn invalidate(&self) {
        if let Ok(mut cached) = self.instance.lock() {
            *cached = None;
        }
    }

    /// The instance's values (no person's): feature flags and every person's defaults.
    pub async fn for_instance(&self) -> AppResult<Preferences> {
        let saved = self.instance_values().await?;
        Ok(apply_saved(&self.configured, &saved, |_, _| {}))
    }

    /// What `owner` sees: configured, then the instance's, then their own.
    pub async fn for_person(&self, owner: Uuid) -> AppResult<Preferences> {
        // Read by every turn and page: the values only, without where each comes from.
        let saved = self.store.saved_settings(Some(owner)).await?;
        Ok(apply_saved(&self.configured, &saved, |_, _| {}))
    }

    async fn resolved(&self, owner: Uuid) -> AppResult<(Preferences, HashMap<String, String>)> {
        let saved = self.store.saved_settings(Some(owner)).await?;
        Ok(resolve(&self.configured, &saved))
    }
}

/// The configured values with `saved` applied in order; where each value comes from.
fn resolve(
    configured: &Preferences,
    saved: &[SavedSetting],
) -> (Preferences, HashMap<String, String>) {
    // Each serialised once, then compared key by key.
    let configured_json = serde_json::to_value(configured).unwrap_or_default();
    let defaults_json = serde_json::to_value(Preferences::default()).unwrap_or_default();
    let mut sources: HashMap<String, String> = Preferences::keys()
        .into_iter()
        .map(|key| {
            let pointer = crate::model::pointer(&key);
            let source = if configured_json.pointer(&pointer) == defaults_json.pointer(&pointer) {
                "default"
            } else {
                "configuration"
            };
            (key, source.to_string())
        })
        .collect();
    let preferences = apply_saved(configured, saved, |row, person| {
        sources.insert(
            row.key.clone(),
            if person { "person" } else { "instance" }.into(),
        );
    });
    (preferences, sources)
}

/// The configured values with `saved` applied in order (`applied` hears of each one taken, and
/// whether it is a person's). A saved value that no longer fits (a key renamed, a range
/// narrowed by an upgrade) is skipped.
fn apply_saved(
    configured: &Preferences,
    saved: &[SavedSetting],
    mut applied: impl FnMut(&SavedSetting, bool),
) -> Preferences {
    let mut preferences = configured.clone();
    for row in saved {
        let person = row.owner_id.is_some();
        if person && SettingScope::of(&row.key) == SettingScope::Instance {
            continue;
        }
        let result = serde_json::from_str::<Value>(&row.value)
            .map_err(|e| e.to_string())
            .and_then(|value| preferences.set(&row.key, value).map_err(|e| e.to_string()));
        match result {
            Ok(()) => applied(row, person),
            Err(error) => {
                tracing::warn!(key = %row.key, %error, "a saved setting no longer applies; skipped")
            }
        }
    }
    preferences
}

fn setting_error(error: SettingError) -> AppError {
    match error {
        SettingError::UnknownKey(_) => AppError::NotFound(format!("setting ({error})")),
        SettingError::Invalid { .. } => AppError::InvalidInput(error.to_string()),
    }
}

fn shown(preferences: &Preferences, sources: &HashMap<String, String>, key: &str) -> SettingValue {
    SettingValue {
        key: key.to_string(),
        value: preferences.get(key).unwrap_or(Value::Null),
        scope: SettingScope::of(key),
        source: sources
            .get(key)
            .cloned()
            .unwrap_or_else(|| "default".into()),
    }
}

/// Every setting as `owner` sees it.
pub async fn list_settings(state: &AppState, owner: Uuid) -> AppResult<Vec<SettingValue>> {
    let (preferences, sources) = state.runtime.resolved(owner).await?;
    Ok(Preferences::keys()
        .iter()
        .map(|key| shown(&preferences, &sources, key))
        .collect())
}

pub async fn get_setting(state: &AppState, owner: Uuid, key: &str) -> AppResult<SettingValue> {
    if !Preferences::is_key(key) {
        return Err(setting_error(SettingError::UnknownKey(key.to_string())));
    }
    let (preferences, sources) = state.runtime.resolved(owner).await?;
    Ok(shown(&preferences, &sources, key))
}

/// Most values changed at once.
pub const MAX_CHANGES: usize = 100;

/// Whose values a change sets: the person's own (for `features.*`, always the instance's), or,
/// for an admin, the instance's defaults (what everyone gets who has not set their own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SaveFor {
    #[default]
    Own,
    Instance,
}

/// Checks every change against the settings as they would be, then saves them all in one
/// transaction (a person's keys for them, `features.*` for the instance) or none.
pub async fn save_settings(
    state: &AppState,
    person: &crate::model::Person,
    changes: Vec<(String, Value)>,
) -> AppResult<Preferences> {
    save_settings_for(state, person, changes, SaveFor::Own).await
}

/// `save_settings`, for the person or (admins) the instance.
pub async fn save_settings_for(
    state: &AppState,
    person: &crate::model::Person,
    changes: Vec<(String, Value)>,
    whose: SaveFor,
) -> AppResult<Preferences> {
    let owner = person.id;
    if changes.is_empty() {
        return Err(AppError::InvalidInput("no setting to change".into()));
    }
    if changes.len() > MAX_CHANGES {
        return Err(AppError::InvalidInput(format!(
            "at most {MAX_CHANGES} settings at once"
        )));
    }
    let mut preferences = match whose {
        SaveFor::Own => state.runtime.resolved(owner).await?.0,
        SaveFor::Instance => state.runtime.for_instance().await?,
    };
    let mut rows = Vec::with_capacity(changes.len());
    for (key, value) in changes {
        preferences.set(&key, value).map_err(setting_error)?;
        // What is saved is the value as read back: `0.40` and `0.4` are one value.
        let value = preferences.get(&key).unwrap_or(Value::Null);
        let owner_id = scope_owner(person, &key, whose)?;
        rows.push(SavedSetting {
            owner_id,
            key,
            value: value.to_string(),
        });
    }
    state.store.save_settings(&rows).await?;
    state.runtime.invalidate();
    state.runtime.for_person(owner).await
}

/// Whose value a key is: the person's own, or the instance's (`features.*`), which only an
/// admin changes.
fn scope_owner(
    person: &crate::model::Person,
    key: &str,
    whose: SaveFor,
) -> AppResult<Option<Uuid>> {
    if whose == SaveFor::Instance {
        return if person.is_admin() {
            Ok(None)
        } else {
            Err(AppError::Forbidden(
                "only an admin sets the defaults of the whole server".into(),
            ))
        };
    }
    match SettingScope::of(key) {
        SettingScope::Person => Ok(Some(person.id)),
        SettingScope::Instance if person.is_admin() => Ok(None),
        SettingScope::Instance => Err(AppError::Forbidden(format!(
            "{key} is set for the whole server: only an admin changes it"
        ))),
    }
}

/// Forgets saved values: each key goes back to the instance's value, or the configured one.
pub async fn reset_settings(
    state: &AppState,
    person: &crate::model::Person,
    keys: Vec<String>,
) -> AppResult<Preferences> {
    reset_settings_for(state, person, keys, SaveFor::Own).await
}

/// `reset_settings`, for the person or (admins) the instance's defaults.
pub async fn reset_settings_for(
    state: &AppState,
    person: &crate::model::Person,
    keys: Vec<String>,
    whose: SaveFor,
) -> AppResult<Preferences> {
    let owner = person.id;
    let mut rows = Vec::with_capacity(keys.len());
    for key in keys {
        if !Preferences::is_key(&key) {
            return Err(setting_error(SettingError::UnknownKey(key)));
        }
        let owner_id = scope_owner(person, &key, whose)?;
        rows.push((owner_id, key));
    }
    state.store.delete_settings(&rows).await?;
    state.runtime.invalidate();
    state.runtime.for_person(owner).await
}

/// A part of the app that can be switched off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    Analytics,
    FileUpload,
    Webhooks,
    CustomTools,
}

impl Feature {
    pub const ALL: [Feature; 4] = [
        Feature::Analytics,
        Feature::FileUpload,
        Feature::Webhooks,
        Feature::CustomTools,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Feature::Analytics => "features.analytics",
            Feature::FileUpload => "features.file_upload",
            Feature::Webhooks => "features.webhooks",
            Feature::CustomTools => "features.custom_tools",
        }
    }

    pub fn is_on(self, features: &Features) -> bool {
        match self {
            Feature::Analytics => features.analytics,
            Feature::FileUpload => features.file_upload,
            Feature::Webhooks => features.webhooks,
            Feature::CustomTools => features.custom_tools,
        }
    }
}

/// The instance's feature flags.
pub async fn features(state: &AppState) -> AppResult<Features> {
    Ok(state.runtime.for_instance().await?.features)
}

/// NotFound, as for a route that does not exist, when `feature` is switched off.
pub async fn require_feature(state: &AppState, feature: Feature) -> AppResult<()> {
    if feature.is_on(&features(state).await?) {
        Ok(())
    } else {
        Err(AppError::FeatureOff(feature.key().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_values_apply_over_the_configured_ones_in_order() {
        let configured = Preferences {
            ai: crate::model::AiPreferences {
                max_history: 40,
                ..Default::default()
            },
            ..Default::default()
        };
        let owner = Uuid::now_v7();
        let row = |owner_id: Option<Uuid>, key: &str, value: &str| SavedSetting {
            owner_id,
            key: key.into(),
            value: value.into(),
        };
        let (preferences, sources) = resolve(
            &configured,
            &[
                row(None, "ui.theme", "\"dark\""),
                row(None, "features.analytics", "false"),
                row(None, "ui.sidebar_width", "\"not a number\""),
                row(Some(owner), "ui.theme", "\"light\""),
                // A person cannot switch the instance's features.
                row(Some(owner), "features.analytics", "true"),
                row(Some(owner), "ui.gone", "1"),
            ],
        );
        assert_eq!(preferences.ui.theme, crate::model::ThemeChoice::Light);
        assert!(!preferences.features.analytics);
        assert_eq!(
            preferences.ui.sidebar_width, 288,
            "an invalid saved value is skipped"
        );
        assert_eq!(preferences.ai.max_history, 40);
        assert_eq!(sources["ui.theme"], "person");
        assert_eq!(sources["features.analytics"], "instance");
        assert_eq!(sources["ai.max_history"], "configuration");
        assert_eq!(sources["ui.sidebar_width"], "default");
    }
}
