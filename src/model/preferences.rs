//! Runtime settings: what a person (or, for `features.*`, the instance) may change while the
//! server runs, under dotted keys (`ui.theme`, `ai.max_history`, `features.analytics`, …).
//!
//! The values resolve in layers: these defaults, the settings file's `[ui]`, `[ai]` and
//! `[features]` tables, the environment (`OLLAMASTACK_UI_THEME`…), the values saved for the
//! instance, then the person's own. Shared with the page, which edits and previews them with
//! the same validation the server applies.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every runtime setting, resolved.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Preferences {
    pub ui: UiPreferences,
    pub ai: AiPreferences,
    pub features: Features,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ThemeChoice {
    /// Light or dark as the system prefers.
    #[default]
    System,
    Light,
    Dark,
    /// The colours of `ui.brand`.
    Custom,
}

impl ThemeChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            ThemeChoice::System => "system",
            ThemeChoice::Light => "light",
            ThemeChoice::Dark => "dark",
            ThemeChoice::Custom => "custom",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Side {
    #[default]
    Left,
    Right,
}

/// How the sidebar and the message bubbles are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Look {
    #[default]
    Modern,
    Classic,
    Minimal,
}

impl Look {
    pub fn as_str(self) -> &'static str {
        match self {
            Look::Modern => "modern",
            Look::Classic => "classic",
            Look::Minimal => "minimal",
        }
    }
}

/// A custom brand: its colours (`#rrggbb`), logo and name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Brand {
    pub app_name: String,
    /// An image as a `data:image/…;base64,` URL, or a path on this server; none: the default.
    pub logo: Option<String>,
    pub primary: String,
    pub background: String,
    pub surface: String,
    pub text: String,
    pub text_secondary: String,
    pub border: String,
    pub accent: String,
}

impl Default for Brand {
    fn default() -> Self {
        Brand {
            app_name: "OllamaStack".into(),
            logo: None,
            primary: "#2563eb".into(),
            background: "#ffffff".into(),
            surface: "#f4f4f5".into(),
            text: "#18181b".into(),
            text_secondary: "#52525b".into(),
            border: "#e4e4e7".into(),
            accent: "#7c3aed".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UiPreferences {
    pub theme: ThemeChoice,
    pub brand: Brand,
    pub sidebar_position: Side,
    /// In CSS pixels; dragging the sidebar's edge changes it.
    pub sidebar_width: u32,
    /// Whether the sidebar can be folded away, and whether it is.
    pub sidebar_collapsible: bool,
    pub sidebar_collapsed: bool,
    pub sidebar_style: Look,
    /// In CSS pixels.
    pub header_height: u32,
    /// The header stays in view while the page scrolls.
    pub header_fixed: bool,
    pub show_logo: bool,
    pub show_user_menu: bool,
    /// Widest the conversation column grows, in CSS pixels.
    pub chat_max_width: u32,
    pub show_timestamps: bool,
    pub bubble_style: Look,
}

impl Default for UiPreferences {
    fn default() -> Self {
        UiPreferences {
            theme: ThemeChoice::System,
            brand: Brand::default(),
            sidebar_position: Side::Left,
            sidebar_width: 288,
            sidebar_collapsible: true,
            sidebar_collapsed: false,
            sidebar_style: Look::Modern,
            header_height: 56,
            header_fixed: true,
            show_logo: true,
            show_user_menu: true,
            chat_max_width: 768,
            show_timestamps: false,
            bubble_style: Look::Modern,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AiPreferences {
    /// The model proposed when none is picked; none: `ollama.default_model`, else the first
    /// model Ollama lists.
    pub default_model: Option<String>,
    /// Sampling temperature of answers whose conversation, assistant or request sets none;
    /// none: the model's own.
    pub temperature: Option<f32>,
    /// How many earlier messages go to the model with each turn (the newest ones).
    pub max_history: u32,
    /// A new conversation is named by its model after the first answer (one short extra call
    /// to the same model); off, its first message stays its title.
    pub auto_titles: bool,
    /// The model that names conversations (a small, fast one keeps the person's model free
    /// for their next question); none: the conversation's own model.
    pub title_model: Option<String>,
}

impl Default for AiPreferences {
    fn default() -> Self {
        AiPreferences {
            default_model: None,
            temperature: None,
            max_history: 100,
            auto_titles: true,
            title_model: None,
        }
    }
}

/// Parts of the app that can be switched off for the whole instance: off, they leave the page
/// and their routes answer 404.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Features {
    /// The analytics dashboard and `GET /api/v1/analytics`.
    pub analytics: bool,
    /// Uploading files (the documents already kept stay readable).
    pub file_upload: bool,
    /// Webhooks: `/api/v1/webhooks` and the integrations page; off, nothing is delivered.
    pub webhooks: bool,
    /// The agent's tools: the tools menu, `/api/v1/tools`, tools in a turn or an assistant.
    pub custom_tools: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            analytics: true,
            file_upload: true,
            webhooks: true,
            custom_tools: true,
        }
    }
}

/// Who a setting belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum SettingScope {
    /// Each person has their own (the instance's value is their default).
    Person,
    /// One value for everyone.
    Instance,
}

impl SettingScope {
    pub fn of(key: &str) -> SettingScope {
        if key.starts_with("features.") {
            SettingScope::Instance
        } else {
            SettingScope::Person
        }
    }
}

/// One setting as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SettingValue {
    pub key: String,
    pub value: Value,
    pub scope: SettingScope,
    /// Where the value comes from: `default`, `file`/`environment` (the server's
    /// configuration), `instance` or `person` (saved).
    pub source: String,
}

/// Why a value cannot be set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingError {
    UnknownKey(String),
    Invalid { key: String, reason: String },
}

impl std::fmt::Display for SettingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingError::UnknownKey(key) => write!(f, "there is no setting named '{key}'"),
            SettingError::Invalid { key, reason } => write!(f, "{key}: {reason}"),
        }
    }
}

/// Most characters of an app name, and of a logo given as a data URL (about 190 KB of image).
pub const MAX_APP_NAME_CHARS: usize = 40;
pub const MAX_LOGO_CHARS: usize = 256 * 1024;

impl Preferences {
    /// Every dotted key, in alphabetical order.
    pub fn keys() -> Vec<String> {
        Preferences::key_list().to_vec()
    }

    /// The keys, found once: every `get`, `set` and resolution asks.
    fn key_list() -> &'static [String] {
        static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        KEYS.get_or_init(|| {
            let mut keys = Vec::new();
            collect_keys(
                &serde_json::to_value(Preferences::default()).unwrap_or_default(),
                "",
                &mut keys,
            );
            keys
        })
    }

    pub fn is_key(key: &str) -> bool {
        Preferences::key_list().iter().any(|k| k == key)
    }

    /// The value of `key`, if there is such a setting.
    pub fn get(&self, key: &str) -> Option<Value> {
        if !Preferences::is_key(key) {
            return None;
        }
        let json = serde_json::to_value(self).ok()?;
        json.pointer(&pointer(key)).cloned()
    }

    /// Sets `key` to `value`, checking its type and range; on error nothing changes.
    pub fn set(&mut self, key: &str, value: Value) -> Result<(), SettingError> {
        if !Preferences::is_key(key) {
            return Err(SettingError::UnknownKey(key.to_string()));
        }
        let invalid = |reason: String| SettingError::Invalid {
            key: key.to_string(),
            reason,
        };
        let mut json = serde_json::to_value(&*self).map_err(|e| invalid(e.to_string()))?;
        if let Some(slot) = json.pointer_mut(&pointer(key)) {
            *slot = value;
        }
        let changed: Preferences =
            serde_json::from_value(json).map_err(|e| invalid(e.to_string()))?;
        changed.check_key(key).map_err(invalid)?;
        *self = changed;
        Ok(())
    }

    /// Sets `key` from text, as found in the environment: JSON when it reads as JSON (`true`,
    /// `12`, `null`), else the text itself.
    pub fn set_text(&mut self, key: &str, text: &str) -> Result<(), SettingError> {
        let value = serde_json::from_str::<Value>(text.trim())
            .ok()
            .filter(|v| !v.is_string() || text.trim().starts_with('"'))
            .unwrap_or_else(|| Value::String(text.to_string()));
        self.set(key, value)
    }

    /// Every value within its range; the first key that is not.
    pub fn validate(&self) -> Result<(), SettingError> {
        for key in Preferences::keys() {
            self.check_key(&key)
                .map_err(|reason| SettingError::Invalid {
                    key: key.clone(),
                    reason,
                })?;
        }
        Ok(())
    }

    /// The ranges types alone do not say.
    fn check_key(&self, key: &str) -> Result<(), String> {
        let range = |value: u32, min: u32, max: u32| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(format!("must be between {min} and {max}, not {value}"))
            }
        };
        let brand = &self.ui.brand;
        match key {
            "ui.sidebar_width" => range(self.ui.sidebar_width, 180, 560),
            "ui.header_height" => range(self.ui.header_height, 40, 96),
            "ui.chat_max_width" => range(self.ui.chat_max_width, 480, 1600),
            "ai.max_history" => range(self.ai.max_history, 1, 1000),
            "ai.temperature" => match self.ai.temperature {
                Some(t) if !(0.0..=2.0).contains(&t) || t.is_nan() => {
                    Err(format!("must be between 0 and 2, not {t}"))
                }
                _ => Ok(()),
            },
            "ai.default_model" => check_model_name(self.ai.default_model.as_deref()),
            "ai.title_model" => check_model_name(self.ai.title_model.as_deref()),
            "ui.brand.app_name" => {
                let name = brand.app_name.trim();
                if name.is_empty() || name.chars().count() > MAX_APP_NAME_CHARS {
                    Err(format!("must be 1 to {MAX_APP_NAME_CHARS} characters"))
                } else if name.chars().any(char::is_control) {
                    Err("must not contain control characters".into())
                } else {
                    Ok(())
                }
            }
            "ui.brand.logo" => match brand.logo.as_deref() {
                None => Ok(()),
                Some(logo) => check_logo(logo),
            },
            "ui.brand.primary" => check_colour(&brand.primary),
            "ui.brand.background" => check_colour(&brand.background),
            "ui.brand.surface" => check_colour(&brand.surface),
            "ui.brand.text" => check_colour(&brand.text),
            "ui.brand.text_secondary" => check_colour(&brand.text_secondary),
            "ui.brand.border" => check_colour(&brand.border),
            "ui.brand.accent" => check_colour(&brand.accent),
            _ => Ok(()),
        }
    }
}

fn check_model_name(model: Option<&str>) -> Result<(), String> {
    match model {
        Some(model) if model.trim().is_empty() || model.len() > 200 => {
            Err("must be a model name such as llama3.2, or null".into())
        }
        _ => Ok(()),
    }
}

fn collect_keys(value: &Value, prefix: &str, keys: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (name, inner) in map {
                let key = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                collect_keys(inner, &key, keys);
            }
        }
        _ => keys.push(prefix.to_string()),
    }
}

/// The JSON pointer of a dotted key (`ui.brand.primary` → `/ui/brand/primary`).
pub fn pointer(key: &str) -> String {
    format!("/{}", key.replace('.', "/"))
}

/// `#rrggbb`.
pub fn parse_colour(value: &str) -> Option<(u8, u8, u8)> {
    let hex = value.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some((channel(0)?, channel(2)?, channel(4)?))
}

fn check_colour(value: &str) -> Result<(), String> {
    parse_colour(value)
        .map(|_| ())
        .ok_or_else(|| format!("must be a colour written #rrggbb, not {value:?}"))
}

fn check_logo(logo: &str) -> Result<(), String> {
    const IMAGES: &[&str] = &[
        "data:image/png;base64,",
        "data:image/jpeg;base64,",
        "data:image/webp;base64,",
        "data:image/gif;base64,",
        "data:image/svg+xml;base64,",
    ];
    if logo.len() > MAX_LOGO_CHARS {
        return Err(format!(
            "is too large: at most {} KB as a data URL",
            MAX_LOGO_CHARS / 1024
        ));
    }
    if let Some(prefix) = IMAGES.iter().find(|p| logo.starts_with(*p)) {
        let data = &logo[prefix.len()..];
        if data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        {
            return Ok(());
        }
        return Err("is not valid base64".into());
    }
    // A path on this server (not `//host`, which would load from elsewhere).
    if logo.starts_with('/')
        && !logo.starts_with("//")
        && logo
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '<' | '>' | '\\'))
    {
        return Ok(());
    }
    Err(
        "must be a PNG, JPEG, WebP, GIF or SVG image as a data: URL, or a path on this server"
            .into(),
    )
}

/// WCAG relative luminance of an sRGB colour.
pub fn relative_luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let linear = |c: u8| {
        let c = c as f64 / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

/// WCAG contrast ratio of two `#rrggbb` colours (1 to 21); none when one is not a colour.
pub fn contrast_ratio(a: &str, b: &str) -> Option<f64> {
    let (la, lb) = (
        relative_luminance(parse_colour(a)?),
        relative_luminance(parse_colour(b)?),
    );
    let (light, dark) = if la > lb { (la, lb) } else { (lb, la) };
    Some((light + 0.05) / (dark + 0.05))
}

/// WCAG AA for body text.
pub const AA_TEXT_CONTRAST: f64 = 4.5;

/// The text and background pairs of a brand below WCAG AA, as (what, ratio).
pub fn contrast_warnings(brand: &Brand) -> Vec<(&'static str, f64)> {
    let pairs = [
        ("Text on background", &brand.text, &brand.background),
        ("Text on surface", &brand.text, &brand.surface),
        (
            "Secondary text on background",
            &brand.text_secondary,
            &brand.background,
        ),
        (
            "White text on primary",
            &"#ffffff".to_string(),
            &brand.primary,
        ),
    ];
    pairs
        .into_iter()
        .filter_map(|(what, fg, bg)| {
            let ratio = contrast_ratio(fg, bg)?;
            (ratio < AA_TEXT_CONTRAST).then_some((what, ratio))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_dotted_and_cover_every_leaf() {
        let keys = Preferences::keys();
        for key in [
            "ui.theme",
            "ui.sidebar_width",
            "ui.show_timestamps",
            "ui.brand.primary",
            "ai.default_model",
            "ai.temperature",
            "ai.max_history",
            "ai.auto_titles",
            "ai.title_model",
            "features.analytics",
            "features.file_upload",
            "features.webhooks",
            "features.custom_tools",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} in {keys:?}");
        }
        assert!(!Preferences::is_key("ui"));
        assert!(!Preferences::is_key("ui.brand"));
        assert_eq!(
            SettingScope::of("features.analytics"),
            SettingScope::Instance
        );
        assert_eq!(SettingScope::of("ui.theme"), SettingScope::Person);
    }

    #[test]
    fn values_are_typed_and_checked() {
        let mut prefs = Preferences::default();
        prefs.set("ui.sidebar_width", json!(320)).unwrap();
        assert_eq!(prefs.ui.sidebar_width, 320);
        let wrong_type = prefs.set("ui.sidebar_width", json!("wide")).unwrap_err();
        assert!(
            wrong_type
                .to_string()
                .starts_with("ui.sidebar_width: invalid type"),
            "{wrong_type}"
        );
        let out_of_range = prefs.set("ui.sidebar_width", json!(5000)).unwrap_err();
        assert_eq!(
            out_of_range.to_string(),
            "ui.sidebar_width: must be between 180 and 560, not 5000"
        );
        assert_eq!(prefs.ui.sidebar_width, 320, "nothing changed");
        assert!(prefs.set("ui.theme", json!("sepia")).is_err());
        prefs.set("ui.theme", json!("custom")).unwrap();
        assert!(prefs.set("features.analytics", json!("yes")).is_err());
        prefs.set("features.analytics", json!(false)).unwrap();
        assert!(!prefs.features.analytics);
        prefs.set("ai.temperature", json!(0.4)).unwrap();
        assert!(prefs.set("ai.temperature", json!(7)).is_err());
        prefs.set("ai.temperature", Value::Null).unwrap();
        assert_eq!(prefs.ai.temperature, None);
        assert!(prefs.set("ui.brand.primary", json!("red")).is_err());
        assert!(prefs.set("ui.brand.primary", json!("#12345g")).is_err());
        prefs.set("ui.brand.primary", json!("#0F766E")).unwrap();
        assert_eq!(
            prefs.set("ui.nope", json!(1)),
            Err(SettingError::UnknownKey("ui.nope".into()))
        );
        assert!(prefs.set("ui.brand.app_name", json!("")).is_err());
        assert!(prefs.set("ui.brand.app_name", json!("a\u{7}b")).is_err());
        prefs.set("ui.brand.app_name", json!("Acme Chat")).unwrap();
        assert_eq!(prefs.get("ui.brand.app_name"), Some(json!("Acme Chat")));
        assert!(prefs.validate().is_ok());
    }

    #[test]
    fn environment_text_reads_as_json_or_as_text() {
        let mut prefs = Preferences::default();
        prefs.set_text("features.webhooks", "false").unwrap();
        assert!(!prefs.features.webhooks);
        prefs.set_text("ai.max_history", "12").unwrap();
        assert_eq!(prefs.ai.max_history, 12);
        prefs.set_text("ai.default_model", "llama3.2").unwrap();
        assert_eq!(prefs.ai.default_model.as_deref(), Some("llama3.2"));
        prefs.set_text("ui.theme", "dark").unwrap();
        assert_eq!(prefs.ui.theme, ThemeChoice::Dark);
        assert!(prefs.set_text("ai.max_history", "many").is_err());
    }

    #[test]
    fn logos_are_images_or_local_paths() {
        for good in [
            "data:image/png;base64,iVBORw0KGgo=",
            "data:image/svg+xml;base64,PHN2Zz4=",
            "/brand/logo.svg",
        ] {
            assert!(check_logo(good).is_ok(), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "//evil.example/logo.png",
            "https://evil.example/logo.png",
            "/logo.svg\" onerror=\"alert(1)",
            "data:image/png;base64,<script>",
        ] {
            assert!(check_logo(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn contrast_follows_wcag() {
        let ratio = contrast_ratio("#000000", "#ffffff").unwrap();
        assert!((ratio - 21.0).abs() < 1e-9);
        assert!((contrast_ratio("#777777", "#ffffff").unwrap() - 4.48).abs() < 0.01);
        assert!(contrast_warnings(&Brand::default()).is_empty());
        let pale = Brand {
            text: "#aaaaaa".into(),
            ..Brand::default()
        };
        let warnings = contrast_warnings(&pale);
        assert_eq!(warnings[0].0, "Text on background");
        assert!(warnings[0].1 < AA_TEXT_CONTRAST);
    }
}
