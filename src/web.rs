//! The HTTP server: one router for the pages, server functions, REST API, health checks and
//! static files, with request ids, tracing and response times; and graceful shutdown.

use crate::app::{shell, App};
use crate::config::Settings;
use crate::service::preferences::Feature;
use crate::state::AppState;
use axum::{
    extract::{DefaultBodyLimit, Request},
    http::{HeaderName, HeaderValue},
    middleware::{self, Next},
    response::Response,
    serve::ListenerExt,
    Router,
};
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::{process::ExitCode, time::Duration};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::{
    compression::CompressionLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};

/// The whole application as a router; tests drive it directly or serve it on port 0.
pub fn app(state: AppState) -> Router {
    let routes = page_routes();
    // The process's metrics recorder, before anything is counted.
    crate::observability::handle();
    let leptos_options = state.leptos_options.clone();
    let guard =
        crate::security::Guard::from_settings(&state.settings.server, state.settings.auth.mode);
    let cors = crate::security::cors_layer(&state.settings.server);
    let body_limits = crate::security::BodyLimits::from_settings(&state.settings);
    let router = Router::new()
        .merge(crate::api::routes())
        .route(
            "/metrics",
            axum::routing::get(crate::observability::metrics_endpoint),
        )
        .leptos_routes_with_context(&state, routes, RenderOwner::capture, move || {
            shell(leptos_options.clone())
        })
        .fallback(site_or_not_found)
        // Every route, server functions included: a larger declared body is refused with 413
        // before it is read, and a body that streams past the limit stops there. Uploads have
        // a limit of their own (documents.max_file_bytes per file).
        .layer(middleware::from_fn_with_state(
            body_limits,
            crate::security::limit_body,
        ))
        // The limit above bounds every body; axum's extractors need not add their own.
        .layer(DefaultBodyLimit::disable())
        // A server function's error answers with its own status (404, 409, 429…), not 500.
        .layer(middleware::from_fn(server_fn_status))
        // A feature switched off takes its routes with it.
        .layer(middleware::from_fn_with_state(state.clone(), feature_gate))
        // Pages are rendered with the person's settings (theme, layout, features).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            load_preferences,
        ))
        // No page render may hang for ever.
        .layer(middleware::from_fn_with_state(
            Duration::from_millis(state.settings.server.page_timeout_ms),
            page_deadline,
        ))
        // Who is asking: everything above reads the person it finds.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ))
        // From where: the peer, or what a trusted proxy forwarded (rate limits, sign-ins).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::find_client,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request| {
                        let id = request
                            .extensions()
                            .get::<RequestId>()
                            .and_then(|id| id.header_value().to_str().ok())
                            .unwrap_or("-");
                        // The path only: a query string may carry something private.
                        // `otel.*` and `http.*` name it for traces (a low-cardinality name; the path
                        // is an attribute).
                        let span = tracing::info_span!(
                            "request",
                            id,
                            method = %request.method(),
                            path = %request.uri().path(),
                            person = tracing::field::Empty,
                            otel.name = %format_args!("HTTP {}", request.method()),
                            otel.kind = "server",
                            http.response.status_code = tracing::field::Empty,
                            otel.status_code = tracing::field::Empty,
                        );
                        // A caller that traces (a proxy, another service) keeps its trace.
                        crate::telemetry::continue_remote_trace(&span, request.headers());
                        span
                    }),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(middleware::from_fn_with_state(
                    ResponseHeaders::from_settings(&state.settings.server),
                    finish_response,
                ))
                .layer(middleware::from_fn(crate::security::security_headers))
                .layer(middleware::from_fn_with_state(
                    guard,
                    crate::security::check_request,
                ))
                // gzip or brotli for pages and the WASM bundle (1.8 MB -> 0.7 MB); the default
                // predicate never compresses server-sent events, so tokens are not buffered.
                .layer(CompressionLayer::new()),
        )
        // Counted under the route's template, whatever answers (refusals included).
        .layer(middleware::from_fn(crate::observability::track_requests))
        .with_state(state);
    // Outermost: a browser reads even a refusal (401, 429) of a listed origin.
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// The pages' routes, generated once per process. Leptos generates them by rendering the app
/// under a process-wide switch that leaves every resource first polled meanwhile pending for
/// ever (leptos issue #4773): a second router built while a first one serves pages (several app
/// states in one process, as the tests and benchmarks run them) would hang some of its pages.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The routes of each feature that can be switched off: a method (any when none), and a path
/// that matches itself and, when `prefix`, everything under it.
struct GatedRoute {
    method: Option<axum::http::Method>,
    path: &'static str,
    prefix: bool,
    feature: Feature,
}

const GATED_ROUTES: &[GatedRoute] = &[
    GatedRoute {
        method: None,
        path: "/analytics",
        prefix: true,
        feature: Feature::Analytics,
    },
    GatedRoute {
        method: None,
        path: "/api/v1/analytics",
        prefix: true,
        feature: Feature::Analytics,
    },
    GatedRoute {
        method: None,
        path: "/api/get_analytics",
        prefix: false,
        feature: Feature::Analytics,
    },
    GatedRoute {
        method: Some(axum::http::Method::POST),
        path: "/api/v1/files",
        prefix: false,
        feature: Feature::FileUpload,
    },
    GatedRoute {
        method: None,
        path: "/api/upload_files",
        prefix: false,
        feature: Feature::FileUpload,
    },
    GatedRoute {
        method: None,
        path: "/api/v1/tools",
        prefix: true,
        feature: Feature::CustomTools,
    },
    GatedRoute {
        method: None,
        path: "/api/list_tools",
        prefix: false,
        feature: Feature::CustomTools,
    },
    GatedRoute {
        method: None,
        path: "/api/v1/webhooks",
        prefix: true,
        feature: Feature::Webhooks,
    },
    GatedRoute {
        method: None,
        path: "/integrations",
        prefix: true,
        feature: Feature::Webhooks,
    },
];

/// The feature a request's route belongs to, if any.
fn gated_feature(method: &axum::http::Method, path: &str) -> Option<Feature> {
    GATED_ROUTES
        .iter()
        .find(|route| {
            route.method.as_ref().is_none_or(|m| m == method)
                && (path == route.path
                    || (route.prefix
                        && path
                            .strip_prefix(route.path)
                            .is_some_and(|rest| rest.starts_with('/'))))
        })
        .map(|route| route.feature)
}

/// Answers 404 for the routes of a feature that is switched off: JSON for the API and server
/// functions, a small page for pages.
async fn feature_gate(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    use axum::response::IntoResponse;
    let Some(feature) = gated_feature(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    match crate::service::preferences::require_feature(&state, feature).await {
        Ok(()) => next.run(request).await,
        Err(error) if request.uri().path().starts_with("/api/") => error.into_response(),
        Err(_) => (
            axum::http::StatusCode::NOT_FOUND,
            axum::response::Html(
                "<!DOCTYPE html><html lang=\"en\"><meta charset=\"utf-8\"><title>Not found</title>\
                 <p>Page not found. <a href=\"/\">Back to the chat</a></p></html>",
            ),
        )
            .into_response(),
    }
}

/// Leptos answers every server function error with 500; the typed error in the body knows its
/// real status (404 for an id that is not the person's, 409, 429…), which this puts on the
/// response, so the page and scripts see the same statuses as the REST API gives.
async fn server_fn_status(request: Request, next: Next) -> Response {
    let server_fn =
        request.uri().path().starts_with("/api/") && !request.uri().path().starts_with("/api/v1/");
    let response = next.run(request).await;
    if !server_fn || response.status() != axum::http::StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // An error body is a few hundred bytes of JSON.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<crate::error::AppError>(&bytes) {
        parts.status = error.status_code();
        if let Some(seconds) = error.retry_after_secs() {
            parts
                .headers
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// How many times a page is rendered before the person gets 503 "reload"; each try has an
/// equal share of `server.page_timeout_ms`.
const PAGE_ATTEMPTS: u32 = 3;

/// The largest page held whole before it is sent (the longest window of history renders to a
/// few megabytes).
const MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;

/// Pages are rendered whole before they are sent, and a render that has not ended within its
/// share of `limit`, or that panicked, is abandoned and rendered again; after `PAGE_ATTEMPTS`
/// the answer is 503 "reload". Leptos' render has been seen, rarely and more under load, to
/// leave a page's body open for ever on a resource that is never woken (leptos issues #4578,
/// #4647, #4773, #4851), and to read a signal another page's render had already disposed (a
/// panic that dropped the connection; see `RenderOwner`). A person should get the page, not an
/// endless spinner or a broken connection; our data loads in milliseconds, so streaming the
/// shell first gained nothing. Files of the site are held to the deadline for their head only.
/// Each abandoned render is logged and counted.
async fn page_deadline(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    use axum::response::IntoResponse;
    use futures::FutureExt;
    // Pages and the site's files (the API, server functions and event streams are not held
    // to it: they answer at once or stream on purpose).
    let bounded =
        request.method() == axum::http::Method::GET && !request.uri().path().starts_with("/api/");
    if !bounded {
        return next.run(request).await;
    }
    // A GET has no body to keep: each try gets the same head (and extensions: the person, their
    // settings).
    let (parts, _) = request.into_parts();
    let path = parts.uri.path().to_string();
    let attempt_limit = limit / PAGE_ATTEMPTS;
    for attempt in 1..=PAGE_ATTEMPTS {
        let mut request = Request::from_parts(parts.clone(), axum::body::Body::empty());
        let render = RenderOwner::default();
        request.extensions_mut().insert(render.clone());
        let whole = std::panic::AssertUnwindSafe(render.scope(render_whole(next.clone(), request)))
            .catch_unwind();
        match tokio::time::timeout(attempt_limit, whole).await {
            Ok(Ok(response)) => return response,
            Ok(Err(panic)) => {
                metrics::counter!("ollamastack_page_renders_abandoned_total", "reason" => "panicked").increment(1);
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("");
                tracing::error!(%path, attempt, message, "a page render panicked; rendering it again");
            }
            Err(_) => {
                metrics::counter!("ollamastack_page_renders_abandoned_total", "reason" => "stalled").increment(1);
                tracing::warn!(%path, attempt, limit_ms = attempt_limit.as_millis() as u64, "a page render did not end in time; rendering it again");
            }
        }
    }
    tracing::error!(%path, limit_ms = limit.as_millis() as u64, "a page did not render in time");
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(axum::http::header::RETRY_AFTER, "1")],
        axum::response::Html(
            "<!doctype html><meta charset=\"utf-8\"><title>Try again</title>\
             <p>This page took too long to prepare. Please reload it.</p>",
        ),
    )
        .into_response()
}

/// The reactive owner of one page's render, found when Leptos starts it (see `app`), so that
/// every poll of the render runs under it. Leptos makes a new render's owner the thread's
/// current owner and leaves it there (`Owner::new_root`), so parts of a render polled later on
/// that thread outside their own owner could create their signals under, or read contexts of,
/// another page's render. Under load a page then read a signal that was already disposed, a
/// panic that dropped its connection: about once in 500 pages in `pages_finish_under_concurrent_load`
/// before this, none in 6,000 with it (`page_deadline` would catch the rest).
#[derive(Clone, Default)]
pub(crate) struct RenderOwner(
    // Weak: the owner's contexts hold the request (and so this), a strong one would never drop.
    std::sync::Arc<std::sync::Mutex<Option<leptos::reactive::owner::WeakOwner>>>,
);

impl RenderOwner {
    /// Called by Leptos as it starts rendering a page, under the page's owner.
    fn capture() {
        use leptos::prelude::use_context;
        let Some(parts) = use_context::<axum::http::request::Parts>() else {
            return;
        };
        if let Some(render) = parts.extensions.get::<RenderOwner>() {
            if let Ok(mut owner) = render.0.lock() {
                *owner = leptos::prelude::Owner::current().map(|owner| owner.downgrade());
            }
        }
    }

    fn current(&self) -> Option<leptos::prelude::Owner> {
        self.0
            .lock()
            .ok()
            .and_then(|owner| owner.as_ref().and_then(|owner| owner.upgrade()))
    }

    /// `future`, each poll run under the render's owner once it is known.
    fn scope<F: std::future::Future>(
        self,
        future: F,
    ) -> impl std::future::Future<Output = F::Output> {
        let mut future = Box::pin(future);
        std::future::poll_fn(move |cx| match self.current() {
            Some(owner) => owner.with(|| future.as_mut().poll(cx)),
            None => future.as_mut().poll(cx),
        })
    }
}

/// The response with its whole body when it is a page (HTML); other responses (the site's
/// files) as they come.
async fn render_whole(next: Next, request: Request) -> Response {
    use axum::response::IntoResponse;
    let response = next.run(request).await;
    let is_page = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if !is_page {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
        Ok(bytes) => {
            // The length is known now; a streamed page had none.
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(bytes))
        }
        Err(error) => {
            tracing::error!(%error, "a page could not be rendered");
            crate::error::AppError::Internal.into_response()
        }
    }
}

/// Loads the person's runtime settings for a page request, for the shell and the app to render
/// with (API calls, server functions and files go without).
async fn load_preferences(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let page =
        crate::auth::is_page(request.method(), path) && !matches!(path, "/healthz" | "/readyz");
    if page {
        let person = request
            .extensions()
            .get::<crate::model::Person>()
            .map(|p| p.id);
        let preferences = match person {
            Some(person) => match state.runtime.for_person(person).await {
                Ok(preferences) => preferences,
                // The page still renders, with the configured settings.
                Err(_) => state.runtime.configured().clone(),
            },
            // The sign-in page: the instance's settings.
            None => match state.runtime.for_instance().await {
                Ok(preferences) => preferences,
                Err(_) => state.runtime.configured().clone(),
            },
        };
        request.extensions_mut().insert(preferences);
    }
    next.run(request).await
}

/// The configured headers of every response (checked when the settings were read).
#[derive(Clone, Debug, Default)]
struct ResponseHeaders(std::sync::Arc<Vec<(HeaderName, HeaderValue)>>);

impl ResponseHeaders {
    fn from_settings(server: &crate::config::ServerSettings) -> ResponseHeaders {
        ResponseHeaders(std::sync::Arc::new(
            server
                .response_headers
                .iter()
                .filter_map(|(name, value)| {
                    Some((
                        HeaderName::from_bytes(name.as_bytes()).ok()?,
                        HeaderValue::from_str(value).ok()?,
                    ))
                })
                .collect(),
        ))
    }
}

/// Health probes are logged at debug: a load balancer asks every few seconds.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Adds `X-Response-Time` (time to the response head; for streams, until streaming starts)
/// and the configured headers, and logs one line per request: method, path (never the query,
/// which may carry something private), status, duration and request id.
async fn finish_response(
    axum::extract::State(headers): axum::extract::State<ResponseHeaders>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_string();
    let mut response = next.run(request).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = HeaderValue::from_str(&format!("{ms:.3}ms")) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-response-time"), value);
    }
    for (name, value) in headers.0.iter() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    let status = response.status().as_u16();
    let span = tracing::Span::current();
    span.record("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
    if is_probe(&path) {
        tracing::debug!(%method, %path, status, duration_ms = ms, request_id = %id, "request");
    } else {
        tracing::info!(%method, %path, status, duration_ms = ms, request_id = %id, "request");
    }
    response
}

/// Leptos' own options (site root, bundle name), taken from our settings.
pub fn leptos_options(settings: &Settings) -> LeptosOptions {
    let mut options = leptos::config::get_configuration(None)
        .map(|conf| conf.leptos_options)
        .unwrap_or_else(|_| LeptosOptions::builder().output_name("ollamastack").build());
    if options.output_name.is_empty() {
        options.output_name = crate::site::OUTPUT_NAME.into();
    }
    options.site_addr = settings.server.addr;
    options.site_root = settings.server.site_root.to_string_lossy().as_ref().into();
    // The page names the bundle's hashed files. Leptos reads their hashes from a file (beside
    // the binary by default, which a binary copied alone lacks): write the embedded site's.
    options.hash_files = false;
    let site = crate::site::site();
    if let Some(hashes) = site.hashes().hash_file() {
        match write_for_leptos(
            &settings.database.data_dir,
            "site-hashes.txt",
            hashes.as_bytes(),
        ) {
            Ok(path) => {
                options.hash_files = true;
                options.hash_file = path.to_string_lossy().as_ref().into();
            }
            // The plain names still work (revalidated instead of cached for a year).
            Err(error) => tracing::warn!(%error, "cannot write the site's hash file"),
        }
    }
    // A page split off the bundle (a lazy route) preloads its chunks from the first response
    // when Leptos finds the split manifest under its site root, which a binary copied alone
    // lacks: write the site's copy into the data folder and point Leptos there (it reads
    // nothing else from there that `crate::site` does not serve first).
    let manifest =
        (site.hashes().manifest_path()).and_then(|path| Some((path.clone(), site.file(&path)?)));
    if let Some((path, manifest)) = manifest {
        let root = settings.database.data_dir.join("site-manifest");
        match write_for_leptos(&root, &path, manifest) {
            Ok(_) => options.site_root = root.to_string_lossy().as_ref().into(),
            Err(error) => tracing::warn!(%error, "cannot write the split manifest"),
        }
    }
    options
}

/// Writes a file for Leptos under `root` (when it differs); its absolute path.
fn write_for_leptos(
    root: &std::path::Path,
    path: &str,
    bytes: &[u8],
) -> std::io::Result<std::path::PathBuf> {
    let target = std::path::absolute(root.join(path))?;
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if std::fs::read(&target).ok().as_deref() != Some(bytes) {
        std::fs::write(&target, bytes)?;
    }
    Ok(target)
}

/// A file of the site (embedded in release builds), or else the app's "Page not found".
async fn site_or_not_found(
    uri: axum::http::Uri,
    state: axum::extract::State<AppState>,
    request: Request,
) -> Response {
    let site = crate::site::site();
    if let Some(response) = site
        .respond_off_thread(request.method(), uri.path(), request.headers())
        .await
    {
        return response;
    }
    leptos_axum::file_and_error_handler::<AppState, _>(shell)(uri, state, request).await
}

/// Serves until the listener's task is told to stop by `shutdown`, then saves in-flight
/// generations before returning.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let generations = state.generations.clone();
    let grace = Duration::from_millis(state.settings.generation.shutdown_grace_ms);
    let store = state.store.clone();
    let router = app(state);
    // Each token is a small write; without TCP_NODELAY, Nagle's algorithm holds it until the
    // browser's delayed ACK (about 40 ms on Linux), which showed up in the relay benchmark.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    // Each request knows the address it came from (failed sign-ins are counted per address).
    let router = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down");
            // Cancelling the generations also ends their live streams, so connections can close.
            generations.shutdown(grace).await;
        })
        .await;
    store.close().await;
    result
}

/// Serves with `settings` (already checked): logs, database, then serve until SIGINT or
/// SIGTERM.
pub async fn serve_with(settings: Settings) -> ExitCode {
    let telemetry = crate::telemetry::init(&settings);
    let code = serve_until_stopped(settings).await;
    telemetry.shutdown().await;
    code
}

async fn serve_until_stopped(settings: Settings) -> ExitCode {
    tracing::info!("settings:\n{settings}");
    let addr = settings.server.addr;
    let grace = Duration::from_millis(settings.generation.shutdown_grace_ms);
    let options = leptos_options(&settings);
    let state = match AppState::build(settings, options).await {
        Ok(state) => state,
        Err(error) => {
            tracing::error!("cannot start: {error}");
            eprintln!("ollamastack: cannot start: {error}");
            return ExitCode::from(crate::cli::EXIT_FAILURE);
        }
    };
    tracing::info!(backend = state.store.backend(), "database ready");
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("ollamastack: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("listening on http://{addr}");
    crate::observability::start(state.generations.shutdown_token());
    // The site's files that are not stored compressed (a debug build reads them from disk),
    // compressed once: brotli's best for the browsers that take it.
    tokio::task::spawn_blocking(|| {
        let started = std::time::Instant::now();
        let site = crate::site::site();
        let files = site.precompress(11);
        if files > 0 {
            tracing::info!(
                files,
                bytes = site.total_bytes(),
                ms = started.elapsed().as_millis() as u64,
                "site files compressed"
            );
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    shutdown_signal().await;
    let _ = stop_tx.send(());
    // Open connections get the grace period and a little more; then the process exits anyway.
    match tokio::time::timeout(grace + Duration::from_secs(5), server).await {
        Ok(Ok(Ok(()))) => ExitCode::SUCCESS,
        Ok(Ok(Err(error))) => {
            tracing::error!(%error, "server error");
            ExitCode::FAILURE
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "server task failed");
            ExitCode::FAILURE
        }
        Err(_) => {
            tracing::warn!("connections still open after the grace period; exiting");
            ExitCode::SUCCESS
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{body::Body, http::StatusCode, routing::get};
    use futures::StreamExt;
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    };
    use tower::ServiceExt;

    const PAGE: &str = "<!doctype html><html><body>whole</body></html>";

    /// A router whose page stalls on its first `stalls` renders (in its head or in its body),
    /// then answers; and how many renders it started.
    fn stalling_pages(stalls: usize, in_body: bool) -> (Router, Arc<AtomicUsize>) {
        let renders = Arc::new(AtomicUsize::new(0));
        let counter = renders.clone();
        let page = move || {
            let render = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let stalled = render < stalls;
                if stalled && !in_body {
                    std::future::pending::<()>().await;
                }
                let rest = if stalled {
                    futures::stream::pending().left_stream()
                } else {
                    futures::stream::once(async { Ok::<_, std::io::Error>(&PAGE[15..]) })
                        .right_stream()
                };
                let body = futures::stream::once(async { Ok(&PAGE[..15]) }).chain(rest);
                (
                    [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    Body::from_stream(body),
                )
            }
        };
        let router = Router::new()
            .route("/", get(page))
            .layer(middleware::from_fn_with_state(
                Duration::from_millis(600),
                page_deadline,
            ));
        (router, renders)
    }

    async fn get_page(router: Router) -> (StatusCode, String) {
        let response = router
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_page_whose_render_stalls_is_rendered_again() {
        for in_body in [false, true] {
            let (router, renders) = stalling_pages(1, in_body);
            assert_eq!(get_page(router).await, (StatusCode::OK, PAGE.to_string()));
            assert_eq!(renders.load(Ordering::SeqCst), 2, "in body: {in_body}");
        }
    }

    #[tokio::test]
    async fn a_page_whose_render_panics_is_rendered_again() {
        let renders = Arc::new(AtomicUsize::new(0));
        let counter = renders.clone();
        let page = move || {
            let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                assert!(!first, "a render that panics");
                axum::response::Html(PAGE)
            }
        };
        let router = Router::new()
            .route("/", get(page))
            .layer(middleware::from_fn_with_state(
                Duration::from_millis(600),
                page_deadline,
            ));
        assert_eq!(get_page(router).await, (StatusCode::OK, PAGE.to_string()));
        assert_eq!(renders.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_page_that_never_renders_is_a_503_after_its_attempts() {
        let (router, renders) = stalling_pages(usize::MAX, true);
        let (status, body) = get_page(router).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("Please reload it"), "{body}");
        assert_eq!(renders.load(Ordering::SeqCst), PAGE_ATTEMPTS as usize);
    }
}
