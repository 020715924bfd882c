//! Prometheus metrics, served at `/metrics`: requests by route and status, generations by model
//! and status with their time to first token, duration and speed, running generations,
//! database pool use, whether Ollama answers, and webhook deliveries.
//!
//! One recorder per process (tests start many apps in one process and share it). Request
//! routes are the router's templates (`/api/v1/conversations/{id}`), never raw paths, so the
//! number of series stays bounded.

use crate::model::Message;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Seconds: from a fast API call to a long answer.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
const TOKENS_PER_SECOND_BUCKETS: &[f64] = &[1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0];

/// The process's recorder, installed the first time (None if another recorder was installed
/// first: metrics then go there, and `/metrics` says so).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("ollamastack_generation_tokens_per_second".into()),
                        TOKENS_PER_SECOND_BUCKETS,
                    )
                })
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "ollamastack_http_requests_total",
        "HTTP requests by route template, method and status"
    );
    describe_histogram!(
        "ollamastack_http_request_duration_seconds",
        Unit::Seconds,
        "Time to the response head, by route template and method"
    );
    describe_counter!(
        "ollamastack_generations_total",
        "Finished model calls by model and final status"
    );
    describe_histogram!(
        "ollamastack_generation_first_token_seconds",
        Unit::Seconds,
        "Time from the request to Ollama to its first token, by model"
    );
    describe_histogram!(
        "ollamastack_generation_duration_seconds",
        Unit::Seconds,
        "Time from the request to Ollama to the end, by model"
    );
    describe_histogram!(
        "ollamastack_generation_tokens_per_second",
        "Tokens per second while generating, by model"
    );
    describe_counter!(
        "ollamastack_generations_refused_total",
        "Generations refused by admission control, by reason"
    );
    describe_gauge!(
        "ollamastack_generations_running",
        "Generations running on this instance"
    );
    describe_gauge!(
        "ollamastack_db_pool_connections",
        "Database pool connections by state (idle, in_use)"
    );
    describe_gauge!(
        "ollamastack_db_pool_max_connections",
        "The database pool's size limit"
    );
    describe_gauge!(
        "ollamastack_ollama_up",
        "1 when the Ollama server answered its last check or call, by server"
    );
    describe_gauge!(
        "ollamastack_ollama_busy",
        "Calls this instance has running on each Ollama server"
    );
    describe_counter!(
        "ollamastack_ollama_failovers_total",
        "Calls retried on another Ollama server after one failed before answering"
    );
    describe_counter!(
        "ollamastack_early_model_calls_total",
        "Model calls started while their turn was being stored, by outcome: used, or dropped \
         (the turn was not stored, or it asked for something else)"
    );
    describe_counter!(
        "ollamastack_page_renders_abandoned_total",
        "Page renders abandoned and rendered again (or answered 503), by reason (stalled, panicked)"
    );
    describe_counter!(
        "ollamastack_webhook_deliveries_total",
        "Webhook delivery attempts by outcome (delivered, retrying, given_up)"
    );
}

/// Starts recording (once per process) and the recorder's upkeep until `shutdown`.
pub fn start(shutdown: tokio_util::sync::CancellationToken) {
    if handle().is_some() {
        crate::periodic::every(Duration::from_secs(10), shutdown, || async {
            if let Some(handle) = handle() {
                handle.run_upkeep();
            }
            std::ops::ControlFlow::Continue(())
        });
    }
}

/// Counts each request under its route's template, with its status and time to the response
/// head.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("ollamastack_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status).increment(1);
    metrics::histogram!("ollamastack_http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A model call reached its final status (recorded where its row and outbox event are saved).
pub fn generation_finished(message: &Message) {
    let model = message.model.clone().unwrap_or_else(|| "unknown".into());
    let status = message.status.as_str();
    metrics::counter!("ollamastack_generations_total", "model" => model.clone(), "status" => status).increment(1);
    let m = &message.metrics;
    if let Some(ttft) = m.ttft_ms {
        metrics::histogram!("ollamastack_generation_first_token_seconds", "model" => model.clone())
            .record(ttft as f64 / 1000.0);
    }
    if let Some(duration) = m.duration_ms {
        metrics::histogram!("ollamastack_generation_duration_seconds", "model" => model.clone())
            .record(duration as f64 / 1000.0);
    }
    if let Some(speed) = m.tokens_per_second() {
        metrics::histogram!("ollamastack_generation_tokens_per_second", "model" => model)
            .record(speed);
    }
}

/// A generation refused by admission control (`server_busy`, `person_busy`, `shutting_down`).
pub fn generation_refused(reason: &'static str) {
    metrics::counter!("ollamastack_generations_refused_total", "reason" => reason).increment(1);
}

/// A call failed on one Ollama server before answering and goes to the next.
pub fn ollama_failover() {
    metrics::counter!("ollamastack_ollama_failovers_total").increment(1);
}

/// A model call started early ended its part: `used` by the generation, or `dropped`.
pub fn early_model_call(outcome: &'static str) {
    metrics::counter!("ollamastack_early_model_calls_total", "outcome" => outcome).increment(1);
}

/// A webhook delivery attempt ended: `delivered`, `retrying` or `given_up`.
pub fn webhook_attempt(outcome: &'static str) {
    metrics::counter!("ollamastack_webhook_deliveries_total", "outcome" => outcome).increment(1);
}

/// GET /metrics: the Prometheus text format. With `observability.metrics_token` set, only with
/// `Authorization: Bearer <token>`; without it, only from this machine (loopback).
pub async fn metrics_endpoint(State(state): State<AppState>, request: Request) -> Response {
    let settings = &state.settings.observability;
    if !settings.metrics {
        return StatusCode::NOT_FOUND.into_response();
    }
    if !allowed(
        settings.metrics_token.as_deref(),
        request.headers(),
        request
            .extensions()
            .get::<crate::limits::ClientIp>()
            .map(|ip| ip.0),
    ) {
        return (
            StatusCode::FORBIDDEN,
            "metrics: send the configured token (observability.metrics_token), or ask from this machine\n",
        )
            .into_response();
    }
    let Some(handle) = handle() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "another metrics recorder is installed\n",
        )
            .into_response();
    };
    // Gauges read at scrape time.
    metrics::gauge!("ollamastack_generations_running").set(state.generations.running() as f64);
    let pool = state.store.pool_use();
    metrics::gauge!("ollamastack_db_pool_connections", "state" => "idle").set(pool.idle as f64);
    metrics::gauge!("ollamastack_db_pool_connections", "state" => "in_use")
        .set(pool.size.saturating_sub(pool.idle) as f64);
    metrics::gauge!("ollamastack_db_pool_max_connections").set(pool.max as f64);
    // As the pool last saw each server (checked every `ollama.health_interval_ms`).
    for server in state.ollama.servers() {
        let up = if server.up == Some(true) { 1.0 } else { 0.0 };
        metrics::gauge!("ollamastack_ollama_up", "server" => server.url.clone()).set(up);
        metrics::gauge!("ollamastack_ollama_busy", "server" => server.url).set(server.busy as f64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

fn allowed(token: Option<&str>, headers: &HeaderMap, client: Option<std::net::IpAddr>) -> bool {
    match token.filter(|t| !t.is_empty()) {
        Some(token) => crate::service::accounts::bearer_token(headers)
            .is_some_and(|sent| constant_time_eq(sent.as_bytes(), token.as_bytes())),
        None => client.is_some_and(|ip| ip.is_loopback()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::Digest;
    // Equal-length digests compared in full: the time says nothing about where they differ.
    let (a, b) = (sha2::Sha256::digest(a), sha2::Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn metrics_are_for_the_token_holder_or_this_machine() {
        let remote = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
        let local = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let none = HeaderMap::new();
        assert!(allowed(None, &none, local));
        assert!(!allowed(None, &none, remote));
        let mut bearer = HeaderMap::new();
        bearer.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(allowed(Some("s3cret"), &bearer, remote));
        assert!(
            !allowed(Some("s3cret"), &none, local),
            "a token, once set, is needed"
        );
        let mut wrong = HeaderMap::new();
        wrong.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cre"),
        );
        assert!(!allowed(Some("s3cret"), &wrong, remote));
    }
}
