//! Models and servers for admins: each Ollama server's state, every model in detail, pulling a
//! model onto the pool (a server task whose progress the page follows) and deleting one.
//!
//! Pulls live in this instance's memory: they are followed on the instance that started them
//! (the page and the API talk to one instance per request behind a sticky proxy, or a single
//! instance); the model itself lands on the Ollama servers, which every instance shares.

use super::accounts::require_admin;
use crate::error::{AppError, AppResult};
use crate::llm::{OllamaError, PullProgress};
use crate::model::{
    same_model, ModelDetails, ModelPull, ModelsOverview, OllamaServerStatus, Person, PullState,
    ServerPull,
};
use crate::state::AppState;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Pulls finished this long ago drop out of the list.
const KEEP_FINISHED: chrono::TimeDelta = chrono::TimeDelta::minutes(30);
/// The most pulls the list keeps (running ones are never dropped).
const KEEP_AT_MOST: usize = 20;

/// The pulls of this instance, running and recently finished.
#[derive(Default)]
pub struct ModelPulls {
    pulls: Mutex<Vec<(ModelPull, CancellationToken)>>,
}

impl ModelPulls {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(ModelPull, CancellationToken)>> {
        self.pulls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Newest first.
    pub fn list(&self) -> Vec<ModelPull> {
        let mut pulls = self.lock();
        let now = chrono::Utc::now();
        pulls.retain(|(p, _)| p.finished_at.is_none_or(|at| now - at < KEEP_FINISHED));
        let mut list: Vec<ModelPull> = pulls.iter().map(|(p, _)| p.clone()).collect();
        list.sort_by_key(|p| std::cmp::Reverse(p.started_at));
        list
    }

    fn update(&self, model: &str, change: impl FnOnce(&mut ModelPull)) {
        if let Some((pull, _)) = self
            .lock()
            .iter_mut()
            .find(|(p, _)| p.model == model && p.state == PullState::Running)
        {
            change(pull);
        }
    }
}

/// The admin's page in one read: servers (checked now), models in detail, pulls.
pub async fn models_overview(state: &AppState, person: &Person) -> AppResult<ModelsOverview> {
    require_admin(person)?;
    let (_, providers) = tokio::join!(
        state.ollama.check_now(),
        super::providers::list_providers(state, person)
    );
    let providers = providers?;
    let servers = state.ollama.servers();
    let models = if servers.iter().any(|s| s.up == Some(true))
        || providers.iter().any(|p| !p.models.is_empty())
    {
        let listed = state.ollama.list_models().await?;
        let shows = futures::future::join_all(listed.iter().map(|m| state.ollama.show(&m.name)));
        let shows = shows.await;
        listed
            .into_iter()
            .zip(shows)
            .map(|(info, show)| details(info, show.ok(), &servers))
            .collect()
    } else {
        Vec::new()
    };
    Ok(ModelsOverview {
        servers,
        models,
        pulls: state.pulls.list(),
        providers,
    })
}

/// Each server as last checked (admins).
pub async fn ollama_servers(
    state: &AppState,
    person: &Person,
) -> AppResult<Vec<OllamaServerStatus>> {
    require_admin(person)?;
    Ok(state.ollama.servers())
}

/// One model in detail, for anyone signed in (the model picker's details).
pub async fn model_details(state: &AppState, name: &str) -> AppResult<ModelDetails> {
    let name = valid_model_name(name)?;
    let (listed, show) = tokio::join!(state.ollama.list_models(), state.ollama.show(&name));
    let show = show?;
    let info = listed?
        .into_iter()
        .find(|m| same_model(&m.name, &name))
        .unwrap_or(crate::model::ModelInfo {
            name: name.clone(),
            size: 0,
            family: None,
            parameter_size: None,
            quantization_level: None,
        });
    Ok(details(info, Some(show), &state.ollama.servers()))
}

fn details(
    info: crate::model::ModelInfo,
    show: Option<crate::llm::ModelShow>,
    servers: &[OllamaServerStatus],
) -> ModelDetails {
    let show = show.unwrap_or_default();
    ModelDetails {
        servers: servers
            .iter()
            .filter(|s| s.models.iter().any(|m| same_model(m, &info.name)))
            .map(|s| s.url.clone())
            .collect(),
        context_length: show.context_length(),
        capabilities: show.capabilities,
        parameters: show.parameters.trim().to_string(),
        name: info.name,
        size: info.size,
        family: info.family,
        parameter_size: info.parameter_size,
        quantization_level: info.quantization_level,
    }
}

/// A model name as Ollama accepts one (`namespace/name:tag`, a registry host allowed); what
/// else would be sent into URLs and logs is refused here.
/// Pulling and deleting are Ollama's: a provider's models are its own.
fn not_a_providers(state: &AppState, model: &str) -> AppResult<()> {
    match state.ollama.provider_for(model) {
        Some((provider, _)) => Err(AppError::InvalidInput(format!(
            "{model} is a model of the provider {}: it is not pulled or deleted here",
            provider.provider.name
        ))),
        None => Ok(()),
    }
}

pub fn valid_model_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/');
    if name.is_empty() {
        return Err(AppError::InvalidInput(
            "say which model, such as llama3.2".into(),
        ));
    }
    if name.len() > 200 || !name.chars().all(allowed) || name.starts_with(['/', '.', '-']) {
        return Err(AppError::InvalidInput(format!(
            "{:?} is not a model name (letters, digits, and . _ - : / only, such as llama3.2:3b)",
            crate::text::clip(name, 60)
        )));
    }
    Ok(name.to_string())
}

/// Starts pulling `name` onto every server that is up, as a server task that outlives the
/// request; 409 while the same model is already being pulled.
pub async fn start_pull(state: &AppState, person: &Person, name: &str) -> AppResult<ModelPull> {
    require_admin(person)?;
    let model = valid_model_name(name)?;
    not_a_providers(state, &model)?;
    let servers = state.ollama.servers();
    if servers.iter().all(|s| s.up == Some(false)) {
        return Err(AppError::OllamaUnreachable {
            url: crate::config::public_url(state.ollama.base_url()),
        });
    }
    let cancel = state.generations.shutdown_token().child_token();
    let pull = ModelPull {
        model: model.clone(),
        state: PullState::Running,
        started_at: chrono::Utc::now(),
        finished_at: None,
        servers: servers
            .iter()
            .filter(|s| s.up != Some(false))
            .map(|s| ServerPull {
                url: s.url.clone(),
                status: "waiting".into(),
                completed: 0,
                total: 0,
                state: PullState::Running,
                error: None,
            })
            .collect(),
    };
    {
        let mut pulls = state.pulls.lock();
        if pulls
            .iter()
            .any(|(p, _)| same_model(&p.model, &model) && p.state == PullState::Running)
        {
            return Err(AppError::Conflict(format!(
                "{model} is already being pulled"
            )));
        }
        // The oldest finished ones make room.
        while pulls.len() >= KEEP_AT_MOST {
            match pulls
                .iter()
                .position(|(p, _)| p.state != PullState::Running)
            {
                Some(i) => {
                    pulls.remove(i);
                }
                None => break,
            }
        }
        pulls.push((pull.clone(), cancel.clone()));
    }
    tracing::info!(model = %model, by = %person.username, "pulling a model");
    let (ollama, pulls) = (state.ollama.clone(), state.pulls.clone());
    tokio::spawn(run_pull(ollama, pulls, model, servers, cancel));
    Ok(pull)
}

async fn run_pull(
    ollama: crate::llm::OllamaClient,
    pulls: Arc<ModelPulls>,
    model: String,
    servers: Vec<OllamaServerStatus>,
    cancel: CancellationToken,
) {
    // Bytes per server and layer: layers come one after another, each with its own total.
    let layers: Mutex<std::collections::HashMap<(usize, String), (u64, u64)>> = Default::default();
    let progress = |index: usize, line: PullProgress| {
        let bytes = match (&line.digest, line.total) {
            (Some(digest), Some(total)) => {
                let mut layers = layers.lock().unwrap_or_else(|e| e.into_inner());
                let done = line.completed.unwrap_or(0).min(total);
                layers.insert((index, digest.clone()), (done, total));
                Some(
                    layers
                        .iter()
                        .filter(|((i, _), _)| *i == index)
                        .fold((0, 0), |(d, t), (_, (done, total))| (d + done, t + total)),
                )
            }
            _ => None,
        };
        let url = &servers[index].url;
        pulls.update(&model, |pull| {
            if let Some(server) = pull.servers.iter_mut().find(|s| &s.url == url) {
                server.status = line.status.clone();
                if let Some((completed, total)) = bytes {
                    (server.completed, server.total) = (completed, total);
                }
            }
        });
    };
    let outcome = tokio::select! {
        results = ollama.pull(&model, progress) => Some(results),
        _ = cancel.cancelled() => None,
    };
    let now = chrono::Utc::now();
    pulls.update(&model, |pull| {
        pull.finished_at = Some(now);
        let Some(results) = outcome else {
            pull.state = PullState::Cancelled;
            for server in &mut pull.servers {
                if server.state == PullState::Running {
                    server.state = PullState::Cancelled;
                }
            }
            return;
        };
        for (status, result) in servers.iter().zip(results) {
            let Some(server) = pull.servers.iter_mut().find(|s| s.url == status.url) else {
                continue;
            };
            match result {
                None => {
                    server.state = PullState::Failed;
                    server.error = Some("the server went down before the pull reached it".into());
                }
                Some(Ok(())) => {
                    server.state = PullState::Done;
                    server.completed = server.total;
                }
                Some(Err(error)) => {
                    server.state = PullState::Failed;
                    server.error = Some(pull_error(&error));
                }
            }
        }
        pull.state = if pull.servers.iter().any(|s| s.state == PullState::Done) {
            PullState::Done
        } else {
            PullState::Failed
        };
    });
    tracing::info!(model = %model, "model pull ended");
}

/// What a failed pull says: Ollama's own words for a model the registry lacks.
fn pull_error(error: &OllamaError) -> String {
    match error {
        OllamaError::Stream(message) => message.clone(),
        other => AppError::from(other.clone()).to_string(),
    }
}

/// Stops pulling `name` (Ollama stops when the request is dropped; what it downloaded stays in
/// its cache for a later pull).
pub async fn cancel_pull(state: &AppState, person: &Person, name: &str) -> AppResult<ModelPull> {
    require_admin(person)?;
    let model = valid_model_name(name)?;
    let running = state
        .pulls
        .lock()
        .iter()
        .find(|(p, _)| same_model(&p.model, &model) && p.state == PullState::Running)
        .map(|(_, cancel)| cancel.clone());
    let Some(cancel) = running else {
        return Err(AppError::NotFound(format!("a running pull of {model}")));
    };
    cancel.cancel();
    // The task marks it cancelled at once (its select wakes on the token).
    for _ in 0..50 {
        let pull = state
            .pulls
            .list()
            .into_iter()
            .find(|p| same_model(&p.model, &model));
        if let Some(pull) = pull.filter(|p| p.state != PullState::Running) {
            return Ok(pull);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(AppError::Unavailable(
        "the pull did not stop in time".into(),
    ))
}

/// Deletes `name` from every server of the pool that has it.
pub async fn delete_model(state: &AppState, person: &Person, name: &str) -> AppResult<()> {
    require_admin(person)?;
    let model = valid_model_name(name)?;
    not_a_providers(state, &model)?;
    state.ollama.delete(&model).await?;
    tracing::info!(model = %model, by = %person.username, "deleted a model");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_checked_at_the_edge() {
        for good in [
            "llama3.2",
            "llama3.2:3b",
            "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
            "registry.local:5000/team/m:v1",
        ] {
            assert_eq!(valid_model_name(good).unwrap(), good);
        }
        for bad in [
            "",
            "  ",
            "../etc/passwd",
            "/abs",
            "a b",
            "x\ny",
            "名前",
            &"a".repeat(201),
        ] {
            assert!(valid_model_name(bad).is_err(), "{bad:?}");
        }
    }
}
