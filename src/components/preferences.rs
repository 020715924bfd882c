//! The person's runtime settings in the page. The server renders the page with them (theme,
//! brand colours, layout as attributes and CSS variables of `<html>`, so nothing flashes) and
//! writes them as JSON beside it; hydration reads that JSON, so both sides start equal.

use crate::model::{contrast_ratio, Preferences, ThemeChoice};
use leptos::prelude::*;

/// The id of the `<script type="application/json">` that carries the settings to hydration.
pub const PREFERENCES_ELEMENT_ID: &str = "ollamastack-preferences";

/// The settings every component reads; saving replaces them.
#[derive(Clone, Copy)]
pub struct PreferencesContext {
    pub current: RwSignal<Preferences>,
}

pub fn use_preferences() -> PreferencesContext {
    use_context::<PreferencesContext>().unwrap_or_else(|| PreferencesContext {
        current: RwSignal::new(Preferences::default()),
    })
}

/// On the server: what the request's middleware loaded for the person. In the browser: what
/// the server wrote into the page.
pub fn initial_preferences() -> Preferences {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Preferences>().cloned())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        #[cfg(feature = "hydrate")]
        {
            web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id(PREFERENCES_ELEMENT_ID))
                .and_then(|e| e.text_content())
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default()
        }
        #[cfg(not(feature = "hydrate"))]
        {
            Preferences::default()
        }
    }
}

/// The settings as JSON that cannot end its `<script>` element (`<` is escaped).
pub fn preferences_json(preferences: &Preferences) -> String {
    serde_json::to_string(preferences)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c")
}

/// Black or white, whichever reads better on `background`.
pub fn readable_on(background: &str) -> &'static str {
    let on_white = contrast_ratio("#ffffff", background).unwrap_or(21.0);
    let on_black = contrast_ratio("#000000", background).unwrap_or(1.0);
    if on_white >= on_black {
        "#ffffff"
    } else {
        "#000000"
    }
}

/// Whether a colour is dark (then the status colours of dark themes are used with it).
pub fn is_dark(colour: &str) -> bool {
    contrast_ratio("#ffffff", colour).unwrap_or(1.0)
        > contrast_ratio("#000000", colour).unwrap_or(1.0)
}

/// The CSS variables of `<html>`: layout sizes always, the brand's colours for a custom theme.
/// Values were validated when saved (`#rrggbb`, numbers), so nothing here can break out of
/// the attribute.
pub fn root_style(preferences: &Preferences) -> String {
    let ui = &preferences.ui;
    let mut style = format!(
        "--sidebar-width:{}px;--header-height:{}px;--chat-max-width:{}px;",
        ui.sidebar_width, ui.header_height, ui.chat_max_width
    );
    if ui.theme == ThemeChoice::Custom {
        let b = &ui.brand;
        style.push_str(&format!(
            "--brand-primary:{};--brand-on-primary:{};--brand-background:{};--brand-surface:{};\
             --brand-text:{};--brand-text-secondary:{};--brand-border:{};--brand-accent:{};",
            b.primary,
            readable_on(&b.primary),
            b.background,
            b.surface,
            b.text,
            b.text_secondary,
            b.border,
            b.accent
        ));
        // Status colours that read on the brand's background.
        let (danger, warning, success, highlight, scheme) = if is_dark(&b.background) {
            ("#f87171", "#fbbf24", "#4ade80", "#854d0e", "dark")
        } else {
            ("#b91c1c", "#92400e", "#15803d", "#fef08a", "light")
        };
        style.push_str(&format!(
            "--app-danger:{danger};--app-warning:{warning};--app-success:{success};--app-highlight:{highlight};color-scheme:{scheme};"
        ));
    }
    style
}

/// The attributes of `<html>` that CSS reads for the layout: (name, value).
pub fn root_attributes(preferences: &Preferences) -> [(&'static str, &'static str); 7] {
    let ui = &preferences.ui;
    let yes_no = |b: bool| if b { "true" } else { "false" };
    [
        ("data-theme", ui.theme.as_str()),
        (
            "data-sidebar-position",
            match ui.sidebar_position {
                crate::model::Side::Left => "left",
                crate::model::Side::Right => "right",
            },
        ),
        ("data-sidebar-style", ui.sidebar_style.as_str()),
        ("data-bubbles", ui.bubble_style.as_str()),
        ("data-header-fixed", yes_no(ui.header_fixed)),
        ("data-timestamps", yes_no(ui.show_timestamps)),
        ("data-logo", yes_no(ui.show_logo)),
    ]
}

/// Applies `preferences` to the live page (after a save, or as a preview): the same
/// attributes and variables the server renders.
pub fn apply_to_document(preferences: &Preferences) {
    #[cfg(feature = "hydrate")]
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        for (name, value) in root_attributes(preferences) {
            let _ = root.set_attribute(name, value);
        }
        let _ = root.set_attribute("style", &root_style(preferences));
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title(&preferences.ui.brand.app_name);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = preferences;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_cannot_close_its_script() {
        let mut preferences = Preferences::default();
        preferences.ui.brand.app_name = "</script><script>alert(1)</script>".into();
        let json = preferences_json(&preferences);
        assert!(!json.contains("</script"), "{json}");
        let back: Preferences = serde_json::from_str(&json).unwrap();
        assert_eq!(back, preferences);
    }

    /// Whether a class names a palette colour (`bg-zinc-100`, `hover:text-red-600/80`) or a
    /// `dark:` variant: what a custom brand could not change.
    fn hard_coded_colour(class: &str) -> bool {
        const PALETTE: &[&str] = &[
            "zinc", "blue", "red", "green", "amber", "yellow", "gray", "slate", "neutral", "stone",
            "emerald", "violet", "purple", "orange", "sky", "indigo", "pink", "rose", "lime",
            "teal", "cyan", "fuchsia", "white", "black",
        ];
        const UTILITIES: &[&str] = &[
            "bg",
            "text",
            "border",
            "ring",
            "outline",
            "fill",
            "stroke",
            "divide",
            "from",
            "to",
            "via",
            "decoration",
            "placeholder",
            "accent",
            "caret",
            "shadow",
        ];
        if class
            .split(':')
            .rev()
            .skip(1)
            .any(|variant| variant == "dark")
        {
            return true;
        }
        let utility = class.rsplit(':').next().unwrap_or(class);
        let colour = utility.split('/').next().unwrap_or(utility);
        UTILITIES.iter().any(|u| {
            colour
                .strip_prefix(u)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|rest| {
                    let name = rest.split('-').next().unwrap_or(rest);
                    let shade = &rest[name.len()..];
                    PALETTE.contains(&name)
                        && (shade.is_empty()
                            || shade
                                .strip_prefix('-')
                                .is_some_and(|d| d.chars().all(|c| c.is_ascii_digit())))
                })
        })
    }

    /// Every colour comes from the theme: no component names a palette colour or a `dark:`
    /// variant.
    #[test]
    fn components_use_only_theme_colours() {
        assert!(hard_coded_colour("bg-zinc-100"));
        assert!(hard_coded_colour("hover:text-red-600/80"));
        assert!(hard_coded_colour("dark:hidden"));
        assert!(hard_coded_colour("text-white"));
        assert!(!hard_coded_colour("bg-surface"));
        assert!(!hard_coded_colour("text-sm"));
        assert!(!hard_coded_colour("border-line"));
        let mut found = Vec::new();
        let mut folders = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("preferences.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (n, line) in text.lines().enumerate() {
                        let tokens = line.split(|c: char| {
                            !(c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '/'))
                        });
                        for token in tokens.filter(|t| hard_coded_colour(t)) {
                            found.push(format!("{}:{}: {token}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "hard-coded colours:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn a_custom_brand_becomes_css_variables() {
        let mut preferences = Preferences::default();
        assert!(!root_style(&preferences).contains("--brand-"));
        preferences.ui.theme = ThemeChoice::Custom;
        preferences.ui.brand.primary = "#fde047".into();
        preferences.ui.brand.background = "#0b1020".into();
        let style = root_style(&preferences);
        assert!(style.contains("--brand-primary:#fde047;"), "{style}");
        // Yellow takes black text; a dark background takes the dark status colours.
        assert!(style.contains("--brand-on-primary:#000000;"), "{style}");
        assert!(style.contains("color-scheme:dark"), "{style}");
        assert!(style.starts_with("--sidebar-width:288px;"));
    }
}
