//! Settings: theme and brand (with a live preview of the whole page and a contrast check),
//! layout, AI defaults and, for the whole server, feature flags. Every field edits one dotted
//! key of a draft with the server's own validation; Save sends the changed keys, all or none.

use crate::components::preferences::{apply_to_document, use_preferences};
use crate::model::{contrast_warnings, Preferences, SettingScope, AA_TEXT_CONTRAST};
use crate::server_fns::settings::{
    get_instance_preferences, get_preferences, reset_preferences, save_preferences,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;
use std::collections::BTreeMap;

/// The keys a theme export holds.
fn is_theme_key(key: &str) -> bool {
    key == "ui.theme" || key.starts_with("ui.brand.")
}

/// The keys whose values differ between `saved` and `draft`, with the draft's values.
pub fn changed_keys(saved: &Preferences, draft: &Preferences) -> Vec<(String, Value)> {
    Preferences::keys()
        .into_iter()
        .filter_map(|key| {
            let value = draft.get(&key)?;
            (saved.get(&key).as_ref() != Some(&value)).then_some((key, value))
        })
        .collect()
}

/// The theme as JSON (`{"ui.theme": …, "ui.brand.primary": …}`), for export.
pub fn theme_json(preferences: &Preferences) -> String {
    let map: BTreeMap<String, Value> = Preferences::keys()
        .into_iter()
        .filter(|key| is_theme_key(key))
        .filter_map(|key| Some((key.clone(), preferences.get(&key)?)))
        .collect();
    serde_json::to_string_pretty(&map).unwrap_or_default()
}

/// Applies an imported JSON object of dotted keys to `draft`, all or nothing.
pub fn import_into(draft: &Preferences, json: &str) -> Result<Preferences, String> {
    let map: serde_json::Map<String, Value> = serde_json::from_str(json.trim())
        .map_err(|e| format!("not a JSON object of settings: {e}"))?;
    let mut imported = draft.clone();
    for (key, value) in map {
        imported.set(&key, value).map_err(|e| e.to_string())?;
    }
    Ok(imported)
}

#[derive(Clone, Copy)]
struct Draft {
    values: RwSignal<Preferences>,
    /// A field's refused value: its key and why (the field keeps what was typed).
    errors: RwSignal<BTreeMap<String, String>>,
}

impl Draft {
    fn get(&self, key: &'static str) -> Value {
        self.values.with(|p| p.get(key).unwrap_or(Value::Null))
    }

    fn set(&self, key: &'static str, value: Value) {
        let mut next = self.values.get_untracked();
        match next.set(key, value) {
            Ok(()) => {
                self.values.set(next);
                self.errors.update(|e| {
                    e.remove(key);
                });
            }
            Err(error) => self.errors.update(|e| {
                e.insert(key.to_string(), error.to_string());
            }),
        }
    }

    fn error(&self, key: &'static str) -> impl Fn() -> Option<String> + Copy + 'static {
        let errors = self.errors;
        move || errors.with(|e| e.get(key).cloned())
    }
}

fn key_id(key: &str) -> String {
    format!("setting-{}", key.replace('.', "-"))
}

#[component]
fn FieldError(draft: Draft, key: &'static str) -> impl IntoView {
    let error = draft.error(key);
    move || {
        error().map(|e| view! { <p role="alert" class="text-xs text-danger" data-testid=format!("{}-error", key_id(key))>{e}</p> })
    }
}

#[component]
fn Toggle(draft: Draft, key: &'static str, label: &'static str) -> impl IntoView {
    let id = key_id(key);
    let (label_for, test_id) = (id.clone(), id.clone());
    view! {
        <label class="flex items-center gap-2 text-sm" for=label_for>
            <input
                type="checkbox"
                id=id.clone()
                data-testid=test_id
                prop:checked=move || draft.get(key).as_bool().unwrap_or(false)
                on:change=move |ev| draft.set(key, Value::Bool(event_target_checked(&ev)))
            />
            {label}
        </label>
    }
}

#[component]
fn Number(
    draft: Draft,
    key: &'static str,
    label: &'static str,
    #[prop(optional)] step: Option<&'static str>,
    #[prop(optional)] empty_is_null: bool,
) -> impl IntoView {
    let id = key_id(key);
    let (label_for, test_id) = (id.clone(), id.clone());
    view! {
        <div>
            <label class="block text-sm" for=label_for>{label}</label>
            <input
                type="number"
                id=id.clone()
                data-testid=test_id
                step=step.unwrap_or("1")
                class="w-40 rounded-md border border-line bg-app px-2 py-1 text-sm"
                prop:value=move || match draft.get(key) { Value::Null => String::new(), v => v.to_string() }
                // Also as the attribute: the server-rendered page shows the value before it is live.
                value=move || match draft.get(key) { Value::Null => String::new(), v => v.to_string() }
                on:change=move |ev| {
                    let text = event_target_value(&ev);
                    let value = if text.trim().is_empty() && empty_is_null {
                        Value::Null
                    } else {
                        serde_json::from_str::<Value>(text.trim()).unwrap_or(Value::String(text))
                    };
                    draft.set(key, value);
                }
            />
            <FieldError draft key/>
        </div>
    }
}

#[component]
fn Choice(
    draft: Draft,
    key: &'static str,
    label: &'static str,
    options: &'static [(&'static str, &'static str)],
) -> impl IntoView {
    let id = key_id(key);
    let (label_for, test_id) = (id.clone(), id.clone());
    view! {
        <div>
            <label class="block text-sm" for=label_for>{label}</label>
            <select
                id=id.clone()
                data-testid=test_id
                class="rounded-md border border-line bg-app px-2 py-1 text-sm"
                prop:value=move || draft.get(key).as_str().unwrap_or_default().to_string()
                on:change=move |ev| draft.set(key, Value::String(event_target_value(&ev)))
            >
                {options.iter().map(|(value, text)| view! {
                    <option value=*value selected=move || draft.get(key).as_str() == Some(*value)>{*text}</option>
                }).collect_view()}
            </select>
        </div>
    }
}

#[component]
fn Text(
    draft: Draft,
    key: &'static str,
    label: &'static str,
    #[prop(optional)] empty_is_null: bool,
) -> impl IntoView {
    let id = key_id(key);
    let (label_for, test_id) = (id.clone(), id.clone());
    view! {
        <div>
            <label class="block text-sm" for=label_for>{label}</label>
            <input
                type="text"
                id=id.clone()
                data-testid=test_id
                class="w-64 rounded-md border border-line bg-app px-2 py-1 text-sm"
                prop:value=move || draft.get(key).as_str().unwrap_or_default().to_string()
                // Also as the attribute: the server-rendered page shows the value before it is live.
                value=move || draft.get(key).as_str().unwrap_or_default().to_string()
                on:change=move |ev| {
                    let text = event_target_value(&ev);
                    let value = if text.trim().is_empty() && empty_is_null { Value::Null } else { Value::String(text) };
                    draft.set(key, value);
                }
            />
            <FieldError draft key/>
        </div>
    }
}

#[component]
fn Colour(draft: Draft, key: &'static str, label: &'static str) -> impl IntoView {
    let id = key_id(key);
    let (label_for, test_id) = (id.clone(), id.clone());
    view! {
        <label class="flex items-center gap-2 text-sm" for=label_for>
            <input
                type="color"
                id=id.clone()
                data-testid=test_id
                class="h-8 w-10 cursor-pointer rounded border border-line bg-app"
                prop:value=move || draft.get(key).as_str().unwrap_or_default().to_string()
                // Also as the attribute: the server-rendered page shows the value before it is live.
                value=move || draft.get(key).as_str().unwrap_or_default().to_string()
                on:input=move |ev| draft.set(key, Value::String(event_target_value(&ev)))
            />
            <span class="min-w-0 flex-1">{label}</span>
            <code class="text-xs text-muted">{move || draft.get(key).as_str().unwrap_or_default().to_string()}</code>
        </label>
    }
}

/// Reads an image file picked for the logo as a data URL (the browser does it; the server
/// checks the result like any value).
#[cfg(feature = "hydrate")]
fn read_logo(ev: leptos::ev::Event, draft: Draft) {
    use wasm_bindgen::{closure::Closure, JsCast};
    let Some(input) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
    else {
        return;
    };
    let Some(file) = input.files().and_then(|files| files.get(0)) else {
        return;
    };
    let Ok(reader) = web_sys::FileReader::new() else {
        return;
    };
    let done = reader.clone();
    let onload = Closure::once(move || {
        if let Some(url) = done.result().ok().and_then(|r| r.as_string()) {
            draft.set("ui.brand.logo", Value::String(url));
        }
    });
    reader.set_onload(Some(onload.as_ref().unchecked_ref()));
    onload.forget();
    let _ = reader.read_as_data_url(&file);
}

/// The person's own settings.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let context = use_preferences();
    view! {
        <leptos_meta::Title text=crate::app::page_title("Settings")/>
        <PreferencesForm saved=context.current instance=false/>
    }
}

/// The instance's defaults (admins): what everyone gets who has not chosen their own.
#[component]
pub fn InstanceDefaultsPage() -> impl IntoView {
    let loaded = Resource::new(|| (), |_| get_instance_preferences());
    view! {
        <leptos_meta::Title text=crate::app::page_title("Defaults for everyone")/>
        <Transition fallback=|| view! { <p class="p-4 text-sm text-muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(defaults) => view! { <PreferencesForm saved=RwSignal::new(defaults) instance=true/> }.into_any(),
                    Err(e) => view! { <p role="alert" class="p-4 text-danger">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The settings form over `saved`: the person's own, or (`instance`) the instance's defaults.
#[component]
fn PreferencesForm(saved: RwSignal<Preferences>, instance: bool) -> impl IntoView {
    let context = use_preferences();
    let draft = Draft {
        values: RwSignal::new(saved.get_untracked()),
        errors: RwSignal::new(BTreeMap::new()),
    };
    let status = RwSignal::new(None::<(bool, String)>);
    let import_text = RwSignal::new(String::new());
    // The whole page previews the draft; leaving without saving goes back to what is saved.
    Effect::new(move |_| draft.values.with(apply_to_document));
    on_cleanup(move || context.current.with_untracked(apply_to_document));

    // After a save: the form shows what was saved; the page around it, the person's own
    // settings as they now resolve (instance defaults show through where they chose nothing).
    let settle = move |stored: Preferences, message: &'static str| {
        saved.set(stored.clone());
        draft.values.set(stored);
        status.set(Some((true, message.into())));
        if instance {
            spawn_local(async move {
                if let Ok(own) = get_preferences().await {
                    context.current.set(own);
                }
            });
        }
    };
    let save = move |_| {
        let changes = changed_keys(&saved.get_untracked(), &draft.values.get_untracked());
        if changes.is_empty() {
            status.set(Some((true, "Nothing to save.".into())));
            return;
        }
        spawn_local(async move {
            match save_preferences(changes, instance).await {
                Ok(stored) => settle(stored, "Saved."),
                Err(e) => status.set(Some((false, e.to_string()))),
            }
        });
    };
    let reset = move |_| {
        let keys: Vec<String> = Preferences::keys()
            .into_iter()
            .filter(|k| SettingScope::of(k) == SettingScope::Person)
            .collect();
        spawn_local(async move {
            match reset_preferences(keys, instance).await {
                Ok(stored) => settle(stored, "Back to the defaults."),
                Err(e) => status.set(Some((false, e.to_string()))),
            }
        });
    };
    let import =
        move |_| match import_into(&draft.values.get_untracked(), &import_text.get_untracked()) {
            Ok(imported) => {
                draft.values.set(imported);
                status.set(Some((
                    true,
                    "Imported: review the preview, then save.".into(),
                )));
            }
            Err(e) => status.set(Some((false, e))),
        };
    let export_href = move || {
        format!(
            "data:application/json;charset=utf-8,{}",
            urlencoding_component(&draft.values.with(theme_json))
        )
    };
    let warnings = move || {
        draft.values.with(|p| {
            if p.ui.theme == crate::model::ThemeChoice::Custom {
                contrast_warnings(&p.ui.brand)
            } else {
                Vec::new()
            }
        })
    };
    let section = "rounded-xl border border-line p-4 space-y-3";

    view! {
        <div class="mx-auto w-full max-w-3xl flex-1 space-y-4 overflow-y-auto p-4"
            data-testid=if instance { "instance-defaults-page" } else { "settings-page" }>
            <div class="flex flex-wrap items-center gap-2">
                <h1 class="mr-auto text-xl font-semibold">{if instance { "Defaults for everyone" } else { "Settings" }}</h1>
                <button type="button" data-testid="preferences-reset" class="rounded-lg border border-line px-3 py-1.5 text-sm hover:bg-surface" on:click=reset>"Reset to defaults"</button>
                <button type="button" data-testid="preferences-save" class="rounded-lg bg-primary px-3 py-1.5 text-sm font-medium text-on-primary hover:opacity-90" on:click=save>"Save"</button>
            </div>
            {instance.then(|| view! {
                <p class="text-sm text-muted">"What everyone on this server gets who has not chosen their own: theme, brand, layout and answers. A person's own choices still win; feature flags apply to everyone. Assistants are shared from the assistants page."</p>
            })}
            {move || status.get().map(|(ok, message)| view! {
                <p role="status" data-testid="preferences-status" class="text-sm" class=("text-success", ok) class=("text-danger", !ok)>{message}</p>
            })}

            <section class=section aria-labelledby="theme-heading">
                <h2 id="theme-heading" class="font-semibold">"Theme"</h2>
                <Choice draft key="ui.theme" label="Colours" options=&[("system", "As the system prefers"), ("light", "Light"), ("dark", "Dark"), ("custom", "Custom brand")]/>
                <div class="grid gap-2 sm:grid-cols-2" data-testid="brand-fields">
                    <Colour draft key="ui.brand.primary" label="Primary"/>
                    <Colour draft key="ui.brand.accent" label="Accent"/>
                    <Colour draft key="ui.brand.background" label="Background"/>
                    <Colour draft key="ui.brand.surface" label="Surface"/>
                    <Colour draft key="ui.brand.text" label="Text"/>
                    <Colour draft key="ui.brand.text_secondary" label="Secondary text"/>
                    <Colour draft key="ui.brand.border" label="Border"/>
                </div>
                <p class="text-xs text-muted">"The brand's colours apply with the Custom brand theme; the page previews them as you choose."</p>
                {move || {
                    let warnings = warnings();
                    (!warnings.is_empty()).then(|| view! {
                        <ul role="status" data-testid="contrast-warning" class="rounded-md border border-warning bg-warning-soft p-2 text-sm text-warning">
                            {warnings.into_iter().map(|(what, ratio)| view! {
                                <li>{format!("{what}: contrast {ratio:.2}:1, below the {AA_TEXT_CONTRAST}:1 that WCAG AA asks of text.")}</li>
                            }).collect_view()}
                        </ul>
                    })
                }}
                <Text draft key="ui.brand.app_name" label="App name"/>
                <div>
                    <label class="block text-sm" for="setting-logo-file">"Logo (PNG, JPEG, WebP, GIF or SVG)"</label>
                    <div class="flex items-center gap-2">
                        {move || draft.get("ui.brand.logo").as_str().map(|logo| view! {
                            <img src=logo.to_string() alt="" class="h-8 w-8 rounded object-contain" data-testid="logo-preview"/>
                        })}
                        <input
                            type="file"
                            id="setting-logo-file"
                            data-testid="setting-logo-file"
                            accept="image/png,image/jpeg,image/webp,image/gif,image/svg+xml"
                            class="text-sm"
                            on:change=move |ev| {
                                #[cfg(feature = "hydrate")]
                                read_logo(ev, draft);
                                #[cfg(not(feature = "hydrate"))]
                                let _ = ev;
                            }
                        />
                        <button type="button" class="text-sm text-muted hover:underline" on:click=move |_| draft.set("ui.brand.logo", Value::Null)>"Remove"</button>
                    </div>
                    <FieldError draft key="ui.brand.logo"/>
                </div>
                <div class="flex flex-wrap items-start gap-2">
                    <a data-testid="theme-export" download="ollamastack-theme.json" href=export_href class="rounded-lg border border-line px-3 py-1.5 text-sm hover:bg-surface">"Export theme (JSON)"</a>
                    <div class="flex min-w-0 flex-1 flex-col gap-1">
                        <label class="sr-only" for="theme-import">"Theme JSON to import"</label>
                        <textarea id="theme-import" data-testid="theme-import" rows="2" placeholder="Paste an exported theme"
                            class="w-full rounded-md border border-line bg-app px-2 py-1 font-mono text-xs"
                            prop:value=move || import_text.get()
                            on:input=move |ev| import_text.set(event_target_value(&ev))></textarea>
                        <button type="button" data-testid="theme-import-button" class="self-start rounded-lg border border-line px-3 py-1 text-sm hover:bg-surface" on:click=import>"Import"</button>
                    </div>
                </div>
            </section>

            <section class=section aria-labelledby="layout-heading">
                <h2 id="layout-heading" class="font-semibold">"Layout"</h2>
                <div class="grid gap-3 sm:grid-cols-2">
                    <Choice draft key="ui.sidebar_position" label="Sidebar" options=&[("left", "Left"), ("right", "Right")]/>
                    <Choice draft key="ui.sidebar_style" label="Sidebar style" options=&[("modern", "Modern"), ("classic", "Classic"), ("minimal", "Minimal")]/>
                    <Number draft key="ui.sidebar_width" label="Sidebar width (px)"/>
                    <Number draft key="ui.header_height" label="Header height (px)"/>
                    <Number draft key="ui.chat_max_width" label="Conversation width (px)"/>
                    <Choice draft key="ui.bubble_style" label="Message style" options=&[("modern", "Modern"), ("classic", "Classic"), ("minimal", "Minimal")]/>
                </div>
                <div class="grid gap-2 sm:grid-cols-2">
                    <Toggle draft key="ui.sidebar_collapsible" label="The sidebar can be hidden"/>
                    <Toggle draft key="ui.header_fixed" label="Header stays in view"/>
                    <Toggle draft key="ui.show_logo" label="Show the logo"/>
                    <Toggle draft key="ui.show_user_menu" label="Show the quick actions menu"/>
                    <Toggle draft key="ui.show_timestamps" label="Show message times"/>
                </div>
            </section>

            <section class=section aria-labelledby="ai-heading">
                <h2 id="ai-heading" class="font-semibold">"Answers"</h2>
                <div class="grid gap-3 sm:grid-cols-2">
                    <Text draft key="ai.default_model" label="Default model (empty: the server's)" empty_is_null=true/>
                    <Number draft key="ai.temperature" label="Temperature (empty: the model's)" step="0.1" empty_is_null=true/>
                    <Number draft key="ai.max_history" label="Earlier messages sent with each turn"/>
                </div>
                <div class="grid gap-3 sm:grid-cols-2">
                    <Toggle draft key="ai.auto_titles" label="Name new conversations with a model"/>
                    <Text draft key="ai.title_model" label="Model that names them (empty: the conversation's)" empty_is_null=true/>
                </div>
            </section>

            <section class=section aria-labelledby="features-heading">
                <h2 id="features-heading" class="font-semibold">"Features"</h2>
                <p class="text-xs text-muted">"For everyone on this server. A feature switched off leaves the page, and its routes answer 404."</p>
                <div class="grid gap-2 sm:grid-cols-2">
                    <Toggle draft key="features.analytics" label="Analytics dashboard"/>
                    <Toggle draft key="features.file_upload" label="File upload"/>
                    <Toggle draft key="features.custom_tools" label="Agent tools"/>
                    <Toggle draft key="features.webhooks" label="Webhooks"/>
                </div>
            </section>

            {(!instance).then(|| view! {
                <crate::pages::account::TokensSection/>
                <crate::pages::account::SessionsSection/>
            })}
        </div>
    }
}

/// Percent-encodes text for a `data:` URL.
fn urlencoding_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_keys_are_saved() {
        let saved = Preferences::default();
        let mut draft = saved.clone();
        assert!(changed_keys(&saved, &draft).is_empty());
        draft.set("ui.theme", serde_json::json!("dark")).unwrap();
        draft.set("ai.max_history", serde_json::json!(20)).unwrap();
        let changes = changed_keys(&saved, &draft);
        assert_eq!(
            changes,
            vec![
                ("ai.max_history".to_string(), serde_json::json!(20)),
                ("ui.theme".to_string(), serde_json::json!("dark")),
            ]
        );
    }

    #[test]
    fn a_theme_exports_and_imports_losslessly() {
        let mut brand = Preferences::default();
        brand.set("ui.theme", serde_json::json!("custom")).unwrap();
        brand
            .set("ui.brand.primary", serde_json::json!("#0f766e"))
            .unwrap();
        brand
            .set("ui.brand.app_name", serde_json::json!("Acme"))
            .unwrap();
        let json = theme_json(&brand);
        assert!(!json.contains("sidebar"), "only the theme: {json}");
        let imported = import_into(&Preferences::default(), &json).unwrap();
        assert_eq!(
            imported.ui,
            Preferences {
                ui: brand.ui.clone(),
                ..Default::default()
            }
            .ui
        );
        assert!(import_into(&brand, r#"{"ui.brand.primary": "red"}"#).is_err());
        assert!(import_into(&brand, "[1]").is_err());
        assert_eq!(urlencoding_component("a b\"<"), "a%20b%22%3C");
    }
}
