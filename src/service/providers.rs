//! Model providers besides Ollama, managed by admins for the whole instance. The API key is
//! sealed before it is stored and is never part of an answer; changing a provider without
//! giving a key keeps the key it has.

use super::accounts::require_admin;
use crate::db::providers::StoredProvider;
use crate::error::{AppError, AppResult};
use crate::llm::providers::{key_purpose, to_provider};
use crate::model::{
    provider_name_problem, ModelProvider, Person, ProviderInput, ProviderKind, ProviderStatus,
};
use crate::state::AppState;
use uuid::Uuid;

const MAX_URL_CHARS: usize = 2_000;
const MAX_KEY_CHARS: usize = 4_000;
const MAX_MODELS: usize = 500;
const MAX_MODEL_CHARS: usize = 200;

/// Every provider with its state as last checked (admins).
pub async fn list_providers(state: &AppState, person: &Person) -> AppResult<Vec<ProviderStatus>> {
    require_admin(person)?;
    state
        .ollama
        .reload_providers(&state.store, &state.secrets)
        .await?;
    let clients = state.ollama.providers().all();
    let rows = state.store.list_providers().await?;
    Ok(rows
        .iter()
        .map(|row| {
            match clients.iter().find(|c| c.provider.id == row.id) {
            Some(client) => client.status(),
            // Left out because its key does not open (see the log).
            None => ProviderStatus {
                provider: to_provider(row),
                up: Some(false),
                models: Vec::new(),
                error: Some(
                    "its API key cannot be opened with this server's secret key; enter it again"
                        .into(),
                ),
            },
        }
        })
        .collect())
}

/// One provider checked now (its model list asked for), for the "test" button.
pub async fn check_provider(
    state: &AppState,
    person: &Person,
    id: Uuid,
) -> AppResult<ProviderStatus> {
    require_admin(person)?;
    state
        .ollama
        .reload_providers(&state.store, &state.secrets)
        .await?;
    let clients = state.ollama.providers().all();
    let client = clients
        .iter()
        .find(|c| c.provider.id == id)
        .ok_or_else(|| AppError::NotFound("provider".into()))?;
    client.check().await;
    Ok(client.status())
}

pub async fn add_provider(
    state: &AppState,
    person: &Person,
    input: ProviderInput,
) -> AppResult<ModelProvider> {
    require_admin(person)?;
    let kind = input.kind.ok_or_else(|| {
        AppError::InvalidInput("choose the provider's kind: openai or anthropic".into())
    })?;
    let now = crate::db::now();
    let id = Uuid::now_v7();
    let mut row = StoredProvider {
        id,
        created_by: Some(person.id),
        name: String::new(),
        kind: kind.as_str().into(),
        base_url: String::new(),
        api_key: None,
        models: String::new(),
        enabled: input.enabled,
        created_at: now,
        updated_at: now,
    };
    apply(state, &mut row, kind, input)?;
    if kind == ProviderKind::Anthropic && row.api_key.is_none() {
        return Err(AppError::InvalidInput("Anthropic needs an API key".into()));
    }
    state
        .store
        .insert_provider(&row)
        .await
        .map_err(|e| name_taken(e, &row.name))?;
    tracing::info!(provider = %row.name, kind = %row.kind, admin = %person.id, "model provider added");
    state
        .ollama
        .reload_providers(&state.store, &state.secrets)
        .await?;
    Ok(to_provider(&row))
}

pub async fn update_provider(
    state: &AppState,
    person: &Person,
    id: Uuid,
    input: ProviderInput,
) -> AppResult<ModelProvider> {
    require_admin(person)?;
    let mut row = state
        .store
        .get_provider(id)
        .await?
        .ok_or_else(|| AppError::NotFound("provider".into()))?;
    let kind = input
        .kind
        .or_else(|| ProviderKind::parse(&row.kind))
        .unwrap_or(ProviderKind::OpenAi);
    row.kind = kind.as_str().into();
    row.enabled = input.enabled;
    row.updated_at = crate::db::now();
    apply(state, &mut row, kind, input)?;
    if kind == ProviderKind::Anthropic && row.api_key.is_none() {
        return Err(AppError::InvalidInput("Anthropic needs an API key".into()));
    }
    if !state
        .store
        .update_provider(&row)
        .await
        .map_err(|e| name_taken(e, &row.name))?
    {
        return Err(AppError::NotFound("provider".into()));
    }
    tracing::info!(provider = %row.name, admin = %person.id, "model provider changed");
    state
        .ollama
        .reload_providers(&state.store, &state.secrets)
        .await?;
    Ok(to_provider(&row))
}

pub async fn delete_provider(state: &AppState, person: &Person, id: Uuid) -> AppResult<()> {
    require_admin(person)?;
    if !state.store.delete_provider(id).await? {
        return Err(AppError::NotFound("provider".into()));
    }
    tracing::info!(provider = %id, admin = %person.id, "model provider deleted");
    state
        .ollama
        .reload_providers(&state.store, &state.secrets)
        .await?;
    Ok(())
}

/// Checks `input` and writes it into `row` (the key sealed).
fn apply(
    state: &AppState,
    row: &mut StoredProvider,
    kind: ProviderKind,
    input: ProviderInput,
) -> AppResult<()> {
    let name = input.name.trim().to_string();
    if let Some(problem) = provider_name_problem(&name) {
        return Err(AppError::InvalidInput(problem.into()));
    }
    // Models are named `<provider>/<model>`, Ollama's `<namespace>/<model>`: a provider named
    // like a namespace Ollama has would take its models' names. `library` is Ollama's own.
    if name != row.name && (name == "library" || state.ollama.ollama_has_namespace(&name)) {
        return Err(AppError::Conflict(format!(
            "Ollama has models named {name}/…; a provider named {name:?} would hide them: pick another name"
        )));
    }
    row.name = name;
    let base_url = input
        .base_url
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| kind.default_base_url().to_string());
    if base_url.chars().count() > MAX_URL_CHARS {
        return Err(AppError::InvalidInput("the base URL is too long".into()));
    }
    match reqwest::Url::parse(&base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            if url.password().is_some() || !url.username().is_empty() {
                return Err(AppError::InvalidInput(
                    "put the API key in its own field, not in the URL".into(),
                ));
            }
        }
        _ => {
            return Err(AppError::InvalidInput(format!(
                "{base_url:?} is not an http(s) URL"
            )))
        }
    }
    row.base_url = base_url;
    match input.api_key.map(|k| k.trim().to_string()) {
        None => {}
        Some(key) if key.is_empty() => row.api_key = None,
        Some(key) => {
            if key.chars().count() > MAX_KEY_CHARS || key.chars().any(char::is_control) {
                return Err(AppError::InvalidInput(
                    "the API key is not valid (too long, or it has control characters)".into(),
                ));
            }
            row.api_key = Some(state.secrets.seal(&key_purpose(row.id), &key));
        }
    }
    let mut models: Vec<String> = Vec::new();
    for model in input
        .models
        .iter()
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
    {
        if model.chars().count() > MAX_MODEL_CHARS || model.chars().any(char::is_control) {
            return Err(AppError::InvalidInput(format!(
                "{model:?} is not a model name"
            )));
        }
        if !models.iter().any(|m| m == model) {
            models.push(model.to_string());
        }
    }
    if models.len() > MAX_MODELS {
        return Err(AppError::InvalidInput(format!(
            "at most {MAX_MODELS} models per provider"
        )));
    }
    row.models = models.join("\n");
    Ok(())
}

fn name_taken(error: sqlx::Error, name: &str) -> AppError {
    match error {
        sqlx::Error::Database(e) if e.is_unique_violation() => {
            AppError::Conflict(format!("a provider named {name:?} exists already"))
        }
        other => other.into(),
    }
}
