//! Ollama's state, for the banner and the model picker; models and servers for admins.

use super::codec::JsonText;
use crate::error::AppError;
use crate::model::{ModelPull, ModelsOverview, OllamaStatus};
use leptos::prelude::*;

/// Whether Ollama answers, where the server looked, and the models it serves.
#[server(output = JsonText)]
pub async fn get_ollama_status() -> Result<OllamaStatus, AppError> {
    let state = super::app_state()?;
    Ok(crate::service::ollama_status(&state, super::me()?.id).await)
}

/// The admin's models page: each server (checked now), every model in detail, and pulls.
#[server(endpoint = "get_models_overview", output = JsonText)]
pub async fn get_models_overview() -> Result<ModelsOverview, AppError> {
    let state = super::app_state()?;
    crate::service::model_admin::models_overview(&state, &super::me()?).await
}

/// Running and recent pulls (admins); the page reads them while one runs.
#[server(endpoint = "list_model_pulls", output = JsonText)]
pub async fn list_model_pulls() -> Result<Vec<ModelPull>, AppError> {
    let state = super::app_state()?;
    crate::service::accounts::require_admin(&super::me()?)?;
    Ok(state.pulls.list())
}

/// Starts pulling a model onto every server that is up (admins).
#[server(endpoint = "pull_model", output = JsonText)]
pub async fn pull_model(model: String) -> Result<ModelPull, AppError> {
    let state = super::app_state()?;
    crate::service::model_admin::start_pull(&state, &super::me()?, &model).await
}

/// Stops a running pull (admins).
#[server(endpoint = "cancel_model_pull", output = JsonText)]
pub async fn cancel_model_pull(model: String) -> Result<ModelPull, AppError> {
    let state = super::app_state()?;
    crate::service::model_admin::cancel_pull(&state, &super::me()?, &model).await
}

/// Deletes a model from every server that has it (admins).
#[server(endpoint = "delete_model", output = JsonText)]
pub async fn delete_model(model: String) -> Result<(), AppError> {
    let state = super::app_state()?;
    crate::service::model_admin::delete_model(&state, &super::me()?, &model).await
}

/// Adds a model provider (`id` none) or changes one (admins); the key, when given, is sealed.
#[server(endpoint = "save_model_provider", input = JsonText, output = JsonText)]
pub async fn save_model_provider(
    id: Option<uuid::Uuid>,
    input: crate::model::ProviderInput,
) -> Result<crate::model::ModelProvider, AppError> {
    let state = super::app_state()?;
    let me = super::me()?;
    match id {
        None => crate::service::providers::add_provider(&state, &me, input).await,
        Some(id) => crate::service::providers::update_provider(&state, &me, id, input).await,
    }
}

/// Deletes a model provider (admins).
#[server(endpoint = "delete_model_provider", output = JsonText)]
pub async fn delete_model_provider(id: uuid::Uuid) -> Result<(), AppError> {
    let state = super::app_state()?;
    crate::service::providers::delete_provider(&state, &super::me()?, id).await
}

/// Asks a provider for its models now (admins).
#[server(endpoint = "check_model_provider", output = JsonText)]
pub async fn check_model_provider(
    id: uuid::Uuid,
) -> Result<crate::model::ProviderStatus, AppError> {
    let state = super::app_state()?;
    crate::service::providers::check_provider(&state, &super::me()?, id).await
}
