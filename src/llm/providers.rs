//! Model providers besides Ollama, behind the same client (`OllamaClient` routes a model named
//! `<provider>/<model>` here): an OpenAI-compatible endpoint or Anthropic. An admin adds them
//! (stored with the API key sealed, src/secrets.rs); every instance reads them from the
//! database at start, after a change it makes, and every `server.settings_refresh_ms`.
//!
//! The same timeouts as Ollama's apply: connect, short calls, first token, silence.

use super::ollama::{ByteStream, ChatRequest, ChatStream, ModelShow, OllamaError, WireParser};
use super::root_cause;
use super::{anthropic, openai};
use crate::config::OllamaSettings;
use crate::db::providers::StoredProvider;
use crate::model::{ModelInfo, ModelProvider, ProviderKind, ProviderStatus};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// What a provider's sealed key is bound to (src/secrets.rs).
pub fn key_purpose(provider: uuid::Uuid) -> String {
    format!("provider:{provider}")
}

/// One provider's HTTP client. The key is held in memory only, and never printed.
pub struct ProviderClient {
    pub provider: ModelProvider,
    api_key: Option<String>,
    http: reqwest::Client,
    request_timeout: Duration,
    first_token_timeout: Duration,
    idle_timeout: Duration,
    state: Mutex<ProviderState>,
}

#[derive(Clone, Default)]
struct ProviderState {
    up: Option<bool>,
    /// The models the provider listed at the last good check (without the prefix).
    listed: Option<Vec<String>>,
    error: Option<String>,
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient")
            .field("name", &self.provider.name)
            .field("kind", &self.provider.kind)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish()
    }
}

impl ProviderClient {
    pub fn new(
        provider: ModelProvider,
        api_key: Option<String>,
        settings: &OllamaSettings,
    ) -> ProviderClient {
        let http = super::model_http_client(settings);
        ProviderClient {
            provider,
            api_key: api_key.filter(|k| !k.is_empty()),
            http,
            request_timeout: settings.request_timeout(),
            first_token_timeout: settings.first_token_timeout(),
            idle_timeout: settings.idle_timeout(),
            state: Mutex::new(ProviderState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ProviderState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn base(&self) -> &str {
        let base = self.provider.base_url.trim_end_matches('/');
        match self.provider.kind {
            // Anthropic's paths carry the version; a base given with it works too.
            ProviderKind::Anthropic => base.strip_suffix("/v1").unwrap_or(base),
            ProviderKind::OpenAi => base,
        }
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match (self.provider.kind, &self.api_key) {
            (ProviderKind::OpenAi, Some(key)) => request.bearer_auth(key),
            (ProviderKind::OpenAi, None) => request,
            (ProviderKind::Anthropic, key) => request
                .header("x-api-key", key.as_deref().unwrap_or_default())
                .header("anthropic-version", anthropic::API_VERSION),
        }
    }

    fn send_error(&self, error: reqwest::Error) -> OllamaError {
        let url = crate::config::public_url(self.base());
        if error.is_connect() || error.is_timeout() {
            OllamaError::Unreachable {
                url,
                detail: if error.is_timeout() {
                    "timed out".into()
                } else {
                    root_cause(&error)
                },
            }
        } else {
            OllamaError::Transport(root_cause(&error))
        }
    }

    /// An error status as a typed error, with the provider's own message.
    async fn status_error(&self, response: reqwest::Response) -> OllamaError {
        let status = response.status().as_u16();
        let (body, _) = crate::net::read_capped(response, 64 * 1024, Duration::from_secs(5)).await;
        let message = match self.provider.kind {
            ProviderKind::OpenAi => openai::error_message(&body),
            ProviderKind::Anthropic => anthropic::error_message(&body),
        }
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&body[..body.len().min(500)])
                .trim()
                .to_string()
        });
        OllamaError::Api { status, message }.from_provider(&self.provider.name)
    }

    /// Starts a streamed chat with `model` (its name at the provider, without the prefix).
    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        model: &str,
    ) -> Result<ChatStream, OllamaError> {
        let started = Instant::now();
        let (url, body, parser): (String, serde_json::Value, Box<dyn WireParser>) =
            match self.provider.kind {
                ProviderKind::OpenAi => (
                    format!("{}/chat/completions", self.base()),
                    openai::request_body(request, model, self.is_openai_itself()),
                    Box::<openai::OpenAiWire>::default(),
                ),
                ProviderKind::Anthropic => (
                    format!("{}/v1/messages", self.base()),
                    anthropic::request_body(request, model),
                    Box::<anthropic::AnthropicWire>::default(),
                ),
            };
        let send = self
            .authorized(self.http.post(url))
            .headers(crate::telemetry::outgoing_trace_headers())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body)
            .send();
        let name = &self.provider.name;
        let response = match tokio::time::timeout(self.first_token_timeout, send).await {
            Err(_) => {
                return Err(
                    OllamaError::FirstTokenTimeout(self.first_token_timeout).from_provider(name)
                )
            }
            Ok(result) => result.map_err(|e| self.send_error(e).from_provider(name))?,
        };
        if !response.status().is_success() {
            let error = self.status_error(response).await;
            self.observe(&error);
            return Err(error);
        }
        self.answered();
        let body: ByteStream = Box::pin(response.bytes_stream());
        Ok(ChatStream::new(
            body,
            parser,
            Some(name.clone()),
            started,
            self.first_token_timeout,
            self.idle_timeout,
        ))
    }

    fn is_openai_itself(&self) -> bool {
        reqwest::Url::parse(&self.provider.base_url)
            .ok()
            .and_then(|url| url.host_str().map(|h| h == "api.openai.com"))
            .unwrap_or(false)
    }

    /// The models the provider lists (without the prefix).
    pub async fn list_remote_models(&self) -> Result<Vec<String>, OllamaError> {
        let name = &self.provider.name;
        let mut models = Vec::new();
        let mut after: Option<String> = None;
        // Anthropic pages its list; a hundred pages is far more than any provider has.
        for _ in 0..100 {
            let url = match (self.provider.kind, &after) {
                (ProviderKind::OpenAi, _) => format!("{}/models", self.base()),
                (ProviderKind::Anthropic, None) => format!("{}/v1/models?limit=1000", self.base()),
                (ProviderKind::Anthropic, Some(id)) => {
                    format!("{}/v1/models?limit=1000&after_id={id}", self.base())
                }
            };
            let response = self
                .authorized(self.http.get(url))
                .timeout(self.request_timeout)
                .send()
                .await
                .map_err(|e| self.send_error(e).from_provider(name))?;
            if !response.status().is_success() {
                return Err(self.status_error(response).await);
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| self.send_error(e).from_provider(name))?;
            match self.provider.kind {
                ProviderKind::OpenAi => {
                    models.extend(openai::model_ids(&body).map_err(|e| e.from_provider(name))?);
                    break;
                }
                ProviderKind::Anthropic => {
                    let (page, next) =
                        anthropic::model_page(&body).map_err(|e| e.from_provider(name))?;
                    models.extend(page);
                    match next {
                        Some(id) => after = Some(id),
                        None => break,
                    }
                }
            }
        }
        models.sort();
        models.dedup();
        Ok(models)
    }

    /// Asks the provider for its models now, and keeps what it says.
    pub async fn check(&self) {
        let result = self.list_remote_models().await;
        let mut state = self.state();
        match result {
            Ok(models) => {
                state.up = Some(true);
                state.listed = Some(models);
                state.error = None;
            }
            Err(error) => {
                tracing::warn!(provider = %self.provider.name, %error, "model provider check failed");
                state.up = Some(false);
                state.error = Some(crate::error::AppError::from(error).to_string());
            }
        }
    }

    fn answered(&self) {
        let mut state = self.state();
        state.up = Some(true);
        state.error = None;
    }

    /// A failed call: the key refused or the provider unreachable makes it down.
    fn observe(&self, error: &OllamaError) {
        if let OllamaError::Provider {
            status: Some(401 | 403),
            ..
        } = error
        {
            let mut state = self.state();
            state.up = Some(false);
            state.error = Some(crate::error::AppError::from(error.clone()).to_string());
        }
    }

    /// The models offered (without the prefix): those the admin chose, else those listed.
    pub fn offered(&self) -> Vec<String> {
        if !self.provider.models.is_empty() {
            return self.provider.models.clone();
        }
        self.state().listed.clone().unwrap_or_default()
    }

    pub fn status(&self) -> ProviderStatus {
        let state = self.state().clone();
        ProviderStatus {
            provider: self.provider.clone(),
            up: state.up,
            models: self
                .offered()
                .iter()
                .map(|m| format!("{}/{m}", self.provider.name))
                .collect(),
            error: state.error,
        }
    }

    /// What the models page and the agent know of a provider's model: it chats and calls
    /// tools; context length and the like are not in these APIs' model lists.
    pub fn show(&self) -> ModelShow {
        ModelShow {
            capabilities: vec!["completion".into(), "tools".into(), "vision".into()],
            ..ModelShow::default()
        }
    }
}

/// The providers every call sees; replaced whole when the database says they changed.
#[derive(Default)]
pub struct Providers {
    clients: RwLock<Arc<Vec<Arc<ProviderClient>>>>,
    /// The rows last read, to rebuild only what changed.
    rows: Mutex<Vec<StoredProvider>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.all().iter()).finish()
    }
}

impl Providers {
    pub fn all(&self) -> Arc<Vec<Arc<ProviderClient>>> {
        self.clients
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The enabled provider that serves `model` (`<name>/<model>`), with the model's own name.
    pub fn route(&self, model: &str) -> Option<(Arc<ProviderClient>, String)> {
        let (prefix, rest) = model.split_once('/')?;
        if rest.is_empty() {
            return None;
        }
        self.all()
            .iter()
            .find(|c| c.provider.enabled && c.provider.name == prefix)
            .map(|c| (c.clone(), rest.to_string()))
    }

    /// The models of the enabled providers, as the model list shows them.
    pub fn models(&self) -> Vec<ModelInfo> {
        self.all()
            .iter()
            .filter(|c| c.provider.enabled)
            .flat_map(|c| {
                c.offered().into_iter().map(|m| ModelInfo {
                    name: format!("{}/{m}", c.provider.name),
                    size: 0,
                    family: Some(c.provider.kind.label().to_string()),
                    parameter_size: None,
                    quantization_level: None,
                })
            })
            .collect()
    }

    /// Reads the providers from the database; those that changed get a new client, which is
    /// checked at once (waited for when `wait`, else in the background). Keys that do not
    /// open leave their provider out (logged).
    pub async fn reload(
        &self,
        store: &crate::db::SharedStore,
        secrets: &crate::secrets::SecretBox,
        settings: &OllamaSettings,
        wait: bool,
    ) -> Result<(), sqlx::Error> {
        let rows = store.list_providers().await?;
        {
            let last = self.rows.lock().unwrap_or_else(|e| e.into_inner());
            if *last == rows {
                return Ok(());
            }
        }
        let current = self.all();
        let mut clients = Vec::with_capacity(rows.len());
        let mut fresh = Vec::new();
        for row in &rows {
            let same = self
                .rows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|r| r == row);
            if let Some(existing) = current.iter().find(|c| c.provider.id == row.id && same) {
                clients.push(existing.clone());
                continue;
            }
            let key = match &row.api_key {
                None => None,
                Some(sealed) => match secrets.open(&key_purpose(row.id), sealed) {
                    Ok(key) => Some(key),
                    Err(error) => {
                        tracing::error!(provider = %row.name, %error, "a model provider's API key cannot be opened; it is left out");
                        continue;
                    }
                },
            };
            let client = Arc::new(ProviderClient::new(to_provider(row), key, settings));
            fresh.push(client.clone());
            clients.push(client);
        }
        *self.clients.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(clients);
        *self.rows.lock().unwrap_or_else(|e| e.into_inner()) = rows;
        let checks = futures::future::join_all(
            fresh
                .into_iter()
                .filter(|c| c.provider.enabled)
                .map(|c| async move { c.check().await }),
        );
        if wait {
            checks.await;
        } else {
            tokio::spawn(checks);
        }
        Ok(())
    }

    /// Checks every enabled provider now.
    pub async fn check_now(&self) {
        let clients = self.all();
        futures::future::join_all(
            clients
                .iter()
                .filter(|c| c.provider.enabled)
                .map(|c| c.check()),
        )
        .await;
    }
}

/// A stored row as people see it (the key only as "set").
pub fn to_provider(row: &StoredProvider) -> ModelProvider {
    ModelProvider {
        id: row.id,
        name: row.name.clone(),
        kind: ProviderKind::parse(&row.kind).unwrap_or(ProviderKind::OpenAi),
        base_url: row.base_url.clone(),
        has_key: row.api_key.is_some(),
        models: row
            .models
            .lines()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect(),
        enabled: row.enabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}
