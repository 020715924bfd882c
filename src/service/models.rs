//! Ollama's state and the model proposed by default.

use crate::error::{AppError, AppResult};
use crate::model::OllamaStatus;
use crate::state::AppState;

/// Whether Ollama answers, its version and its models. Never fails: an unreachable Ollama is a
/// state the page explains, not an error.
pub async fn ollama_status(state: &AppState) -> OllamaStatus {
    let (version, models) = tokio::join!(state.ollama.version(), state.ollama.list_models());
    // What browsers see: no credentials in the URL, no OS detail in the error.
    let url = crate::config::public_url(state.ollama.base_url());
    match models {
        Ok(models) => {
            let default_model =
                pick_default(state.settings.ollama.default_model.as_deref(), &models);
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
            default_model: state.settings.ollama.default_model.clone(),
        },
    }
}

fn pick_default(configured: Option<&str>, models: &[crate::model::ModelInfo]) -> Option<String> {
    if let Some(configured) = configured {
        return Some(configured.to_string());
    }
    models.first().map(|m| m.name.clone())
}

pub(crate) async fn default_model(state: &AppState) -> AppResult<String> {
    if let Some(model) = &state.settings.ollama.default_model {
        return Ok(model.clone());
    }
    let models = state.ollama.list_models().await?;
    default_model_among(state, &models)
}

/// The default model, given the models Ollama lists.
pub(crate) fn default_model_among(
    state: &AppState,
    models: &[crate::model::ModelInfo],
) -> AppResult<String> {
    pick_default(state.settings.ollama.default_model.as_deref(), models).ok_or_else(|| {
        AppError::InvalidInput(
            "Ollama has no models yet: pull one with `ollama pull llama3.2`".into(),
        )
    })
}
