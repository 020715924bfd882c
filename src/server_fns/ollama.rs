//! Ollama's state, for the banner and the model picker.

use crate::error::AppError;
use crate::model::OllamaStatus;
use leptos::prelude::*;

/// Whether Ollama answers, where the server looked, and the models it serves.
#[server]
pub async fn get_ollama_status() -> Result<OllamaStatus, AppError> {
    let state = super::app_state()?;
    Ok(crate::service::ollama_status(&state, super::me()?.id).await)
}
