//! Ollama's state and the model proposed by default.

use crate::error::{AppError, AppResult};
use crate::model::OllamaStatus;
use crate::state::AppState;

/// Whether Ollama answers, its version and its models. Never fails: an unreachable Ollama is a
/// state the page explains, not an error.
pub async fn ollama_status(state: &AppState, owner: uuid::Uuid) -> OllamaStatus {
    let (version, models, configured) = tokio::join!(
        state.ollama.version(),
        state.ollama.list_models(),
        configured_default(state, owner)
    );
    // What browsers see: no credentials in the URL, no OS detail in the error.
    let url = crate::config::public_url(state.ollama.base_url());
    match models {
        Ok(models) => {
            let default_model = pick_default(configured.as_deref(), &models);
            OllamaStatus {
                url,
                reachable: true,
                version: version.ok(),
                models,
                error: None,
                default_model,
            }
        }
        Err(error) => OllamaStatus {
            url,
            reachable: false,
            version: None,
            models: Vec::new(),
            error: Some({
                tracing::warn!(%error, "Ollama is not reachable");
                AppError::from(error).to_string()
            }),
            default_model: configured,
        },
    }
}

fn pick_default(configured: Option<&str>, models: &[crate::model::ModelInfo]) -> Option<String> {
    if let Some(configured) = configured {
        return Some(configured.to_string());
    }
    models.first().map(|m| m.name.clone())
}

/// The model a person set as their default (`ai.default_model`), else the server's
/// (`ollama.default_model`). A settings read that fails falls back to the server's: the page
/// and a turn still work.
async fn configured_default(state: &AppState, owner: uuid::Uuid) -> Option<String> {
    match state.runtime.for_person(owner).await {
        Ok(preferences) => preferences.ai.default_model,
        Err(_) => None,
    }
    .or_else(|| state.settings.ollama.default_model.clone())
}

pub(crate) async fn default_model(state: &AppState, owner: uuid::Uuid) -> AppResult<String> {
    if let Some(model) = configured_default(state, owner).await {
        return Ok(model);
    }
    let models = state.ollama.list_models().await?;
    default_model_among(state, owner, &models).await
}

/// The default model, given the models Ollama lists.
pub(crate) async fn default_model_among(
    state: &AppState,
    owner: uuid::Uuid,
    models: &[crate::model::ModelInfo],
) -> AppResult<String> {
    pick_default(configured_default(state, owner).await.as_deref(), models).ok_or_else(|| {
        AppError::InvalidInput(
            "Ollama has no models yet: pull one with `ollama pull llama3.2`".into(),
        )
    })
}
