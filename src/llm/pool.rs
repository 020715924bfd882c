//! The Ollama servers the app calls, as one client. With one server (the default) it is that
//! server; with several (`ollama.servers`) each call goes to the least busy healthy server that
//! has its model, and a chat that fails before its first token is retried on the next one.
//!
//! Health: every `ollama.health_interval_ms` each server is asked for its version and its
//! models (`/api/tags`), which gives the model-to-server map; a server that cannot be reached
//! during a call is taken out at once and comes back with its next good check.

use super::ollama::{ChatRequest, ChatStream, ModelShow, OllamaError, OllamaServer, PullProgress};
use crate::config::{public_url, OllamaSettings};
use crate::model::{same_model, ModelInfo, OllamaServerStatus};
use std::ops::ControlFlow;
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex,
};
use std::time::Duration;

#[derive(Clone)]
pub struct OllamaClient {
    pool: Arc<Pool>,
    /// Providers besides Ollama: a model named `<provider>/<model>` goes to its provider.
    providers: Arc<super::providers::Providers>,
    settings: Arc<OllamaSettings>,
}

impl std::fmt::Debug for OllamaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.pool
                    .members
                    .iter()
                    .map(|m| public_url(m.server.base_url())),
            )
            .finish()
    }
}

struct Pool {
    members: Vec<Arc<Member>>,
    /// Where the next tie between equally busy servers starts (round robin).
    next: AtomicUsize,
}

pub(crate) struct Member {
    server: OllamaServer,
    /// Calls in flight on this server from this instance (streams until they are dropped).
    busy: AtomicUsize,
    health: Mutex<Health>,
}

#[derive(Clone, Default)]
struct Health {
    /// Unknown until the first check or call.
    up: Option<bool>,
    version: Option<String>,
    /// Every model the server has, as /api/tags names them; unknown until checked.
    models: Option<Vec<String>>,
    /// Why the last check or call failed (the page's wording, no OS detail).
    error: Option<String>,
    checked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One call counted against a server while it runs; a stream holds it until it is dropped.
pub(crate) struct Busy(Arc<Member>);

impl Busy {
    fn new(member: &Arc<Member>) -> Busy {
        member.busy.fetch_add(1, Ordering::SeqCst);
        Busy(member.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Member {
    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        // A panic while holding it cannot leave Health half-written (plain assignments).
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the server has `model`, when its models are known.
    fn has_model(&self, model: &str) -> Option<bool> {
        let health = self.health();
        health
            .models
            .as_ref()
            .map(|names| names.iter().any(|name| same_model(name, model)))
    }

    /// A call got an answer: the server is up (its models stay as last checked).
    fn answered(&self) {
        let mut health = self.health();
        if health.up != Some(true) {
            health.up = Some(true);
            health.error = None;
        }
    }

    /// A call failed; only a server that cannot be reached is taken out.
    fn failed(&self, error: &OllamaError) {
        if matches!(error, OllamaError::Unreachable { .. }) {
            let mut health = self.health();
            health.up = Some(false);
            health.error = Some(shown_error(error));
        }
    }

    fn failed_or_answered<T>(&self, result: &Result<T, OllamaError>) {
        match result {
            Ok(_) => self.answered(),
            Err(error) => self.failed(error),
        }
    }

    async fn check(&self) {
        let (version, models) = tokio::join!(self.server.version(), self.server.model_names());
        let mut health = self.health();
        health.checked_at = Some(chrono::Utc::now());
        match (version, models) {
            (Ok(version), Ok(models)) => {
                health.up = Some(true);
                health.version = Some(version);
                health.models = Some(models);
                health.error = None;
            }
            (_, Err(error)) | (Err(error), _) => {
                tracing::warn!(server = %public_url(self.server.base_url()), %error, "Ollama server check failed");
                health.up = Some(false);
                health.error = Some(shown_error(&error));
            }
        }
    }

    fn status(&self) -> OllamaServerStatus {
        let health = self.health().clone();
        OllamaServerStatus {
            url: public_url(self.server.base_url()),
            up: health.up,
            version: health.version,
            models: health.models.unwrap_or_default(),
            busy: self.busy.load(Ordering::SeqCst) as u32,
            error: health.error,
            checked_at: health.checked_at,
        }
    }
}

/// What people see of an error: no OS detail, no credentials.
fn shown_error(error: &OllamaError) -> String {
    crate::error::AppError::from(error.clone()).to_string()
}

/// Whether another server may succeed where this one failed. A request the server judged bad
/// (400) would fail everywhere; a missing model may be on another server.
fn fails_over(error: &OllamaError) -> bool {
    match error {
        OllamaError::Api { status, .. } => *status >= 500,
        _ => true,
    }
}

impl OllamaClient {
    pub fn new(settings: &OllamaSettings) -> OllamaClient {
        let mut urls = settings.server_urls();
        if urls.is_empty() {
            urls.push(settings.url.clone());
        }
        let members = urls
            .iter()
            .map(|url| {
                Arc::new(Member {
                    server: OllamaServer::new(url, settings),
                    busy: AtomicUsize::new(0),
                    health: Mutex::new(Health::default()),
                })
            })
            .collect();
        OllamaClient {
            pool: Arc::new(Pool {
                members,
                next: AtomicUsize::new(0),
            }),
            providers: Default::default(),
            settings: Arc::new(settings.clone()),
        }
    }

    /// The providers besides Ollama this client routes to.
    pub fn providers(&self) -> &super::providers::Providers {
        &self.providers
    }

    /// Reads the providers from the database again (after a change, or another instance's);
    /// a new or changed provider is checked before this returns.
    pub async fn reload_providers(
        &self,
        store: &crate::db::SharedStore,
        secrets: &crate::secrets::SecretBox,
    ) -> Result<(), sqlx::Error> {
        self.providers
            .reload(store, secrets, &self.settings, true)
            .await
    }

    /// `reload_providers` that checks new providers in the background (at start, so that a
    /// slow provider does not delay it).
    pub async fn load_providers(
        &self,
        store: &crate::db::SharedStore,
        secrets: &crate::secrets::SecretBox,
    ) -> Result<(), sqlx::Error> {
        self.providers
            .reload(store, secrets, &self.settings, false)
            .await
    }

    /// Re-reads the providers every `interval` until `shutdown` (changes made on another
    /// instance arrive this way).
    pub fn spawn_provider_refresh(
        &self,
        store: crate::db::SharedStore,
        secrets: Arc<crate::secrets::SecretBox>,
        interval: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let client = self.clone();
        crate::periodic::every(interval, shutdown, move || {
            let (client, store, secrets) = (client.clone(), store.clone(), secrets.clone());
            async move {
                if let Err(error) = client.load_providers(&store, &secrets).await {
                    tracing::warn!(%error, "reading the model providers failed; trying again");
                }
                ControlFlow::Continue(())
            }
        });
    }

    /// The first server's URL (the only one without a pool); for messages, with credentials
    /// removed by `public_url` before anyone sees it.
    pub fn base_url(&self) -> &str {
        self.pool.members[0].server.base_url()
    }

    /// Every server's state as last seen, in the order of the settings.
    pub fn servers(&self) -> Vec<OllamaServerStatus> {
        self.pool.members.iter().map(|m| m.status()).collect()
    }

    /// Checks every server now (version and models), at once.
    pub async fn check_now(&self) {
        futures::future::join_all(self.pool.members.iter().map(|m| m.check())).await;
    }

    /// Checks every server every `interval` until `shutdown`.
    pub fn spawn_health_checks(
        &self,
        interval: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let client = self.clone();
        crate::periodic::every(interval, shutdown, move || {
            let client = client.clone();
            async move {
                tokio::join!(client.check_now(), client.providers.check_now());
                ControlFlow::Continue(())
            }
        });
    }

    /// The servers to try for `model`, best first: up (or not yet checked) servers that have
    /// it, then those whose models are not known, then those known to lack it, then those that
    /// are down (their state may be stale); within each, the least busy first, ties in turn.
    fn candidates(&self, model: Option<&str>) -> Vec<Arc<Member>> {
        let members = &self.pool.members;
        let start = self.pool.next.fetch_add(1, Ordering::Relaxed);
        let mut ranked: Vec<(u8, usize, usize, &Arc<Member>)> = (0..members.len())
            .map(|i| {
                let member = &members[(start + i) % members.len()];
                let down = member.health().up == Some(false);
                let tier = match (down, model.and_then(|m| member.has_model(m))) {
                    (true, _) => 3,
                    (false, Some(true)) => 0,
                    (false, None) => 1,
                    (false, Some(false)) => 2,
                };
                (tier, member.busy.load(Ordering::SeqCst), i, member)
            })
            .collect();
        ranked.sort_by_key(|(tier, busy, turn, _)| (*tier, *busy, *turn));
        ranked.into_iter().map(|(.., m)| m.clone()).collect()
    }

    /// Runs `call` on the candidates for `model` in turn until one succeeds or fails in a way
    /// another server would too; the error is the best candidate's.
    async fn first_success<T, F, Fut>(&self, model: Option<&str>, call: F) -> Result<T, OllamaError>
    where
        F: Fn(Arc<Member>) -> Fut,
        Fut: std::future::Future<Output = Result<T, OllamaError>>,
    {
        let candidates = self.candidates(model);
        let mut first_error: Option<OllamaError> = None;
        let count = candidates.len();
        for (i, member) in candidates.into_iter().enumerate() {
            let url = member.server.base_url().to_string();
            match call(member.clone()).await {
                Ok(value) => {
                    member.answered();
                    return Ok(value);
                }
                Err(error) => {
                    member.failed(&error);
                    let again = fails_over(&error) && i + 1 < count;
                    if again {
                        crate::observability::ollama_failover();
                        tracing::warn!(server = %public_url(&url), %error, "trying another Ollama server");
                    }
                    let stop = !fails_over(&error);
                    first_error.get_or_insert(error);
                    if stop {
                        break;
                    }
                }
            }
        }
        Err(first_error.unwrap_or_else(|| OllamaError::Unreachable {
            url: public_url(self.base_url()),
            detail: "no server is configured".into(),
        }))
    }

    /// The provider that serves `model` (`<provider>/<model>`), unless an Ollama server has a
    /// model of exactly that name: one pulled into that namespace outside the app after the
    /// provider was named. Ollama's own models are never hidden by a provider.
    pub fn provider_for(
        &self,
        model: &str,
    ) -> Option<(Arc<super::providers::ProviderClient>, String)> {
        let routed = self.providers.route(model)?;
        let on_ollama = self
            .pool
            .members
            .iter()
            .any(|m| m.has_model(model) == Some(true));
        (!on_ollama).then_some(routed)
    }

    /// Whether an Ollama server (as last checked) has a model in `namespace`
    /// (`<namespace>/<model>`): a provider of that name would take those names.
    pub fn ollama_has_namespace(&self, namespace: &str) -> bool {
        self.pool.members.iter().any(|member| {
            member.health().models.as_ref().is_some_and(|names| {
                names
                    .iter()
                    .any(|name| name.split_once('/').is_some_and(|(ns, _)| ns == namespace))
            })
        })
    }

    /// Starts a streamed chat on the best server for its model. The first event is read
    /// before the stream is handed back, so a server that fails before answering (down, out of
    /// memory, stuck loading) is replaced by the next one without the caller seeing it.
    pub async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, OllamaError> {
        if let Some((provider, model)) = self.provider_for(&request.model) {
            return provider.chat_stream(request, &model).await;
        }
        self.first_success(Some(&request.model), |member| async move {
            let busy = Busy::new(&member);
            let mut stream = member.server.chat_stream(request).await?;
            if let Some(first) = stream.next().await? {
                stream.pending.push_front(first);
            }
            stream.busy = Some(busy);
            Ok(stream)
        })
        .await
    }

    /// A model's details, from a server that has it.
    pub async fn show(&self, model: &str) -> Result<ModelShow, OllamaError> {
        if let Some((provider, _)) = self.provider_for(model) {
            return Ok(provider.show());
        }
        self.first_success(Some(model), |member| async move {
            member.server.show(model).await
        })
        .await
    }

    /// Embeds `inputs` with `model` on a server that has it (see `OllamaServer::embed`).
    pub async fn embed(
        &self,
        model: &str,
        inputs: &[&str],
        timeout: Duration,
    ) -> Result<Vec<Vec<f32>>, OllamaError> {
        if let Some((provider, _)) = self.provider_for(model) {
            return Err(OllamaError::Provider {
                provider: provider.provider.name.clone(),
                status: None,
                message: "embeddings come from Ollama's models only".into(),
            });
        }
        self.first_success(Some(model), |member| async move {
            let _busy = Busy::new(&member);
            member.server.embed(model, inputs, timeout).await
        })
        .await
    }

    /// The version of the first server that answers.
    pub async fn version(&self) -> Result<String, OllamaError> {
        self.first_success(None, |member| async move { member.server.version().await })
            .await
    }

    /// Pulls `model` onto every server that is not down, all at once; `progress` hears each
    /// server's lines (by its index in `servers()`). One result per server: `None` for a server
    /// that was down and not asked. The model map is read again afterwards.
    pub async fn pull(
        &self,
        model: &str,
        progress: impl Fn(usize, PullProgress) + Sync,
    ) -> Vec<Option<Result<(), OllamaError>>> {
        let progress = &progress;
        let pulls = self
            .pool
            .members
            .iter()
            .enumerate()
            .map(|(i, member)| async move {
                if member.health().up == Some(false) {
                    return None;
                }
                let _busy = Busy::new(member);
                let result = member.server.pull(model, |line| progress(i, line)).await;
                member.failed_or_answered(&result);
                Some(result)
            });
        let results = futures::future::join_all(pulls).await;
        self.check_now().await;
        results
    }

    /// Deletes `model` from every server that has it (or may: models not yet known); the model
    /// map is read again afterwards. `ModelNotFound` when no server had it.
    pub async fn delete(&self, model: &str) -> Result<(), OllamaError> {
        let asked: Vec<&Arc<Member>> = self
            .pool
            .members
            .iter()
            .filter(|m| m.health().up != Some(false) && m.has_model(model) != Some(false))
            .collect();
        if asked.is_empty()
            && self
                .pool
                .members
                .iter()
                .all(|m| m.health().up == Some(false))
        {
            return Err(OllamaError::Unreachable {
                url: public_url(self.base_url()),
                detail: "no server is up".into(),
            });
        }
        let results = futures::future::join_all(asked.iter().map(|m| m.server.delete(model))).await;
        self.check_now().await;
        let mut first_error = None;
        let mut deleted = false;
        for (member, result) in asked.iter().zip(results) {
            member.failed_or_answered(&result);
            match result {
                Ok(()) => deleted = true,
                Err(OllamaError::ModelNotFound(_)) => {}
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None if deleted => Ok(()),
            None => Err(OllamaError::ModelNotFound(model.to_string())),
        }
    }

    /// The models that can chat: Ollama's (see `list_ollama_models`), then the providers'.
    /// With Ollama down, the providers' models are still listed when there are any.
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>, OllamaError> {
        let provided = self.providers.models();
        match self.list_ollama_models().await {
            Ok(mut models) => {
                // A name on both goes to Ollama (see `provider_for`): listed once.
                let provided: Vec<ModelInfo> = provided
                    .into_iter()
                    .filter(|p| !models.iter().any(|m| same_model(&m.name, &p.name)))
                    .collect();
                models.extend(provided);
                Ok(models)
            }
            Err(_) if !provided.is_empty() => Ok(provided),
            Err(error) => Err(error),
        }
    }

    /// The models that can chat on any Ollama server that is up, each once. Servers taken for
    /// down are asked only when no other answers (one may have come back since).
    pub async fn list_ollama_models(&self) -> Result<Vec<ModelInfo>, OllamaError> {
        let (down, up): (Vec<&Arc<Member>>, Vec<&Arc<Member>>) = self
            .pool
            .members
            .iter()
            .partition(|m| m.health().up == Some(false));
        let mut first_error = None;
        for group in [up, down] {
            if group.is_empty() {
                continue;
            }
            match self.models_of(&group).await {
                Ok(models) => return Ok(models),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| OllamaError::Unreachable {
            url: public_url(self.base_url()),
            detail: "no server is configured".into(),
        }))
    }

    /// The models of `members` (not empty), each once; an error only when none answered.
    async fn models_of(&self, members: &[&Arc<Member>]) -> Result<Vec<ModelInfo>, OllamaError> {
        let answers =
            futures::future::join_all(members.iter().map(|m| m.server.list_models())).await;
        let mut models: Vec<ModelInfo> = Vec::new();
        let mut first_error = None;
        let mut any_answered = false;
        for (member, answer) in members.iter().zip(answers) {
            match answer {
                Ok(listed) => {
                    member.answered();
                    any_answered = true;
                    for model in listed {
                        if !models.iter().any(|m| same_model(&m.name, &model.name)) {
                            models.push(model);
                        }
                    }
                }
                Err(error) => {
                    member.failed(&error);
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) if !any_answered => Err(error),
            _ => {
                models.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(models)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_another_server_could_avoid_fail_over() {
        assert!(fails_over(&OllamaError::ModelNotFound("m".into())));
        assert!(fails_over(&OllamaError::Api {
            status: 500,
            message: "oom".into()
        }));
        assert!(fails_over(&OllamaError::Unreachable {
            url: "u".into(),
            detail: "d".into()
        }));
        assert!(fails_over(&OllamaError::Stream("runner crashed".into())));
        assert!(!fails_over(&OllamaError::Api {
            status: 400,
            message: "bad format".into()
        }));
    }
}
