//! What every request handler and server function shares.

use crate::config::Settings;
use crate::db::SharedStore;
use crate::generation::{watch::Notifier, Generations, Limits};
use crate::llm::OllamaClient;
use crate::tools::Toolbox;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    pub store: SharedStore,
    pub ollama: OllamaClient,
    pub generations: Arc<Generations>,
    /// Tells watchers which messages changed in the database (push on PostgreSQL).
    pub notifier: Arc<Notifier>,
    /// The tools agents may call.
    pub tools: Arc<Toolbox>,
    /// Uploaded files, their indexing and search.
    pub documents: Arc<crate::documents::Documents>,
    /// The one person of the single-user mode (the first admin takes it over in accounts mode).
    pub local_user: LocalUser,
    /// Failed sign-ins, per name and per address.
    pub login_limiter: Arc<crate::service::accounts::LoginLimiter>,
    /// Settings people and the instance change while the server runs.
    pub runtime: Arc<crate::service::preferences::RuntimeSettings>,
    /// Requests per person (or address) per minute and hour.
    pub rate_limits: Arc<crate::limits::RateLimits>,
    /// Live event streams each person holds open.
    pub streams: Arc<crate::limits::StreamSlots>,
    /// The changes to each person's conversations, for their open pages and API clients.
    pub events: Arc<crate::events::EventHub>,
    /// Streams of their own events each person holds open (apart from `streams`: a page
    /// always holds one, and must still be able to follow its answers).
    #[from_ref(skip)]
    pub event_streams: Arc<crate::limits::StreamSlots>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<crate::limits::TrustedProxies>,
    /// What requests to addresses people choose may reach (webhooks, tools).
    pub outbound_policy: crate::net::OutboundPolicy,
    /// Models being pulled onto the Ollama servers from this instance.
    pub pulls: Arc<crate::service::model_admin::ModelPulls>,
    /// Seals and opens the secrets the database keeps.
    pub secrets: Arc<crate::secrets::SecretBox>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalUser(pub Uuid);

impl AppState {
    /// Opens the store, recovers rows a dead server left streaming, and builds the state.
    pub async fn build(
        settings: Settings,
        leptos_options: LeptosOptions,
    ) -> Result<AppState, crate::db::StoreError> {
        Self::build_with_tools(settings, leptos_options, Toolbox::default()).await
    }

    /// `build` with more tools for agents besides the built-in ones (tests add their own).
    pub async fn build_with_tools(
        settings: Settings,
        leptos_options: LeptosOptions,
        extra_tools: Toolbox,
    ) -> Result<AppState, crate::db::StoreError> {
        let store = crate::db::connect(&settings.database).await?;
        let secrets = Arc::new(
            crate::secrets::SecretBox::load(
                settings.security.secret_key.as_deref(),
                &settings.database.data_dir,
            )
            .await?,
        );
        secrets.verify_against(&store).await?;
        let sealed = crate::webhooks::seal_stored_secrets(&store, &secrets).await?;
        if sealed > 0 {
            tracing::info!(
                sealed,
                "webhook secrets stored in plain text are now sealed"
            );
        }
        let limits = Limits::from_settings(&settings.generation);
        // A SQLite file has one server; rows it left streaming died with it. On PostgreSQL other
        // live instances may be writing: only rows whose heartbeat is stale are theirs no more.
        let stale_before = store.shared_by_instances().then(|| limits.stale_before());
        let interrupted = store.interrupt_stale(stale_before).await?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "answers left streaming by a previous run are now marked interrupted"
            );
        }
        let local_user = LocalUser(
            store
                .ensure_user(crate::db::accounts::LOCAL_USERNAME)
                .await?,
        );
        let ollama = OllamaClient::new(&settings.ollama);
        // The instance's id and shutdown signal, shared by generations and the indexer.
        let instance_id = uuid::Uuid::now_v7();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let documents = crate::documents::Documents::start(
            &settings,
            store.clone(),
            ollama.clone(),
            instance_id,
            shutdown.clone(),
        )
        .await
        .map_err(|source| crate::db::StoreError::Files {
            path: settings.files_dir().display().to_string(),
            source,
        })?;
        let outbound_policy = settings.outbound_policy();
        let mut tools =
            Toolbox::for_server(&settings.tools, &store, &documents, &outbound_policy).await;
        tools.extend(extra_tools);
        let tools = Arc::new(tools);
        let generations = Generations::new(
            store.clone(),
            ollama.clone(),
            limits,
            tools.clone(),
            instance_id,
            shutdown,
        );
        generations.spawn_sweeper(std::time::Duration::from_millis(
            settings.generation.sweep_interval_ms,
        ));
        ollama.load_providers(&store, &secrets).await?;
        ollama.spawn_provider_refresh(
            store.clone(),
            secrets.clone(),
            std::time::Duration::from_millis(settings.server.settings_refresh_ms.max(100)),
            generations.shutdown_token(),
        );
        ollama.spawn_health_checks(
            settings.ollama.health_interval(),
            generations.shutdown_token(),
        );
        let notifier = Notifier::start(&store, generations.shutdown_token());
        crate::analytics::spawn_recorder(
            store.clone(),
            std::time::Duration::from_millis(settings.analytics.record_interval_ms.max(100)),
            generations.shutdown_token(),
        );
        let runtime = Arc::new(crate::service::preferences::RuntimeSettings::new(
            settings.preferences(),
            store.clone(),
            std::time::Duration::from_millis(settings.server.settings_refresh_ms),
        ));

        crate::titles::spawn_titler(
            store.clone(),
            ollama.clone(),
            runtime.clone(),
            &settings.generation,
            generations.shutdown_token(),
        );

        let rate_limits = Arc::new(crate::limits::RateLimits::from_settings(&settings.limits));
        rate_limits.spawn_cleanup(
            std::time::Duration::from_secs(60),
            generations.shutdown_token(),
        );
        let streams = crate::limits::StreamSlots::new(settings.limits.max_streams_per_person);
        let event_streams =
            crate::limits::StreamSlots::new(settings.limits.max_event_streams_per_person);
        let events = crate::events::EventHub::start(
            store.clone(),
            std::time::Duration::from_millis(settings.server.events_poll_ms.max(20)),
            generations.shutdown_token(),
        );

        // Checked when the settings were read.
        let trusted_proxies = Arc::new(
            crate::limits::TrustedProxies::parse(&settings.limits.trusted_proxies)
                .unwrap_or_default(),
        );

        crate::webhooks::spawn_deliverer(
            store.clone(),
            secrets.clone(),
            settings.clone(),
            runtime.clone(),
            outbound_policy.client(settings.outbound.timeout()),
            generations.shutdown_token(),
        );

        Ok(AppState {
            leptos_options,
            settings: Arc::new(settings),
            store,
            ollama,
            generations,
            notifier,
            tools,
            documents,
            local_user,
            login_limiter: Default::default(),
            runtime,
            rate_limits,
            streams,
            events,
            event_streams,
            trusted_proxies,
            outbound_policy,
            pulls: Default::default(),
            secrets,
        })
    }

    /// The single-user mode's person: everything belongs to them, and they administer.
    pub fn local_person(&self) -> crate::model::Person {
        crate::model::Person {
            id: self.local_user.0,
            username: crate::db::accounts::LOCAL_USERNAME.into(),
            role: crate::model::AccountRole::Admin,
        }
    }
}
