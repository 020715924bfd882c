//! Logs and traces. Logs: tracing to stderr, text or JSON lines, filtered by `log.filter` /
//! `RUST_LOG`; each request's lines carry its span: request id, method, path and, once known,
//! the person. Traces: when `observability.otlp_endpoint` is set, the same spans (requests,
//! the generations they start) go to an OpenTelemetry collector over OTLP/HTTP, in batches, from
//! a background thread; an export that fails is dropped, never the request. Traces cross
//! services by W3C trace context: a request that arrives with `traceparent` continues the
//! caller's trace, and calls to model servers carry the current span's `traceparent`, so a
//! proxy or an OpenTelemetry-aware server in front of Ollama joins the same trace.

use crate::config::{LogSettings, ObservabilitySettings, Settings};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::{
    fmt, fmt::MakeWriter, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer, Registry,
};

/// What `init` set up and must be flushed at exit.
#[derive(Default)]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered (at most a few seconds), then stops exporting.
    pub async fn shutdown(self) {
        if let Some(provider) = self.traces {
            // The SDK's shutdown blocks on its export thread.
            let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(error)) = flushed {
                eprintln!("ollamastack: the last traces could not be sent: {error}");
            }
        }
    }
}

/// Makes `span` (a request's) a child of the caller's span when `headers` carry a valid W3C
/// `traceparent`. Without one, or when traces are not exported, nothing changes.
pub fn continue_remote_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    use opentelemetry::propagation::TextMapPropagator as _;
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    if !headers.contains_key("traceparent") {
        return;
    }
    let remote = opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .extract(&opentelemetry_http::HeaderExtractor(headers));
    if remote.span().span_context().is_valid() {
        // An error only says traces are not exported (no OpenTelemetry layer).
        let _ = span.set_parent(remote);
    }
}

/// The current span's W3C trace context (`traceparent`, and `tracestate` when there is one),
/// for a call to another service; empty when traces are not exported.
pub fn outgoing_trace_headers() -> http::HeaderMap {
    use opentelemetry::propagation::TextMapPropagator as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let mut headers = http::HeaderMap::new();
    let current = tracing::Span::current();
    if current.is_disabled() {
        return headers;
    }
    opentelemetry_sdk::propagation::TraceContextPropagator::new().inject_context(
        &current.context(),
        &mut opentelemetry_http::HeaderInjector(&mut headers),
    );
    headers
}

/// The process's logging, to stderr, and its traces when an OTLP endpoint is set. Call from
/// inside the tokio runtime (the exporter sends with it).
pub fn init(settings: &Settings) -> Telemetry {
    let traces = match tracer_provider(&settings.observability) {
        Ok(traces) => traces,
        Err(error) => {
            eprintln!("ollamastack: traces are not exported: {error}");
            None
        }
    };
    let tracer = traces.as_ref().map(|p| p.tracer(env!("CARGO_PKG_NAME")));
    // try_init: tests and benchmarks may build several servers in one process.
    let _ = subscriber_with(&settings.log, std::io::stderr, tracer).try_init();
    Telemetry { traces }
}

/// The logging `init` installs, writing to `writer` (tests read what it writes).
pub fn subscriber<W>(
    settings: &LogSettings,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    subscriber_with(settings, writer, None)
}

/// `subscriber`, with the spans also sent to `tracer` (filtered alike).
pub fn subscriber_with<W>(
    settings: &LogSettings,
    writer: W,
    tracer: Option<opentelemetry_sdk::trace::Tracer>,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = || {
        EnvFilter::try_new(&settings.filter).unwrap_or_else(|error| {
            eprintln!(
                "ollamastack: log filter {:?} is not valid ({error}); using \"info\"",
                settings.filter
            );
            EnvFilter::new("info")
        })
    };
    let logs = fmt::layer().with_writer(writer).with_target(false);
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![if settings.json {
        logs.json().with_filter(filter()).boxed()
    } else {
        logs.with_filter(filter()).boxed()
    }];
    if let Some(tracer) = tracer {
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(filter())
                .boxed(),
        );
    }
    Box::new(tracing_subscriber::registry().with(layers))
}

/// The exporter and its batching, when an endpoint is set.
fn tracer_provider(
    settings: &ObservabilitySettings,
) -> Result<Option<SdkTracerProvider>, opentelemetry_otlp::ExporterBuildError> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let Some(endpoint) = &settings.otlp_endpoint else {
        return Ok(None);
    };
    let timeout = std::time::Duration::from_secs(10);
    let client = OtlpHttp {
        client: reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(timeout)
            .user_agent(concat!("ollamastack/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client has a valid static configuration"),
        runtime: tokio::runtime::Handle::current(),
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(endpoint.clone())
        .with_timeout(timeout)
        .with_headers(settings.otlp_headers.clone().into_iter().collect())
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(settings.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    use opentelemetry_sdk::trace::Sampler;
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                settings.trace_sample_ratio,
            ))))
            .with_resource(resource)
            .build(),
    ))
}

/// The exporter's HTTP client: our reqwest, run on the server's runtime (the exporter's
/// batching thread has none of its own).
#[derive(Debug)]
struct OtlpHttp {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

/// The most of a collector's answer that is read.
const MAX_COLLECTOR_ANSWER: usize = 1024 * 1024;

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpHttp {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let status = response.status();
            let headers = response.headers().clone();
            let (body, _) = crate::net::read_capped(
                response,
                MAX_COLLECTOR_ANSWER,
                std::time::Duration::from_secs(5),
            )
            .await;
            let mut answer = http::Response::new(bytes::Bytes::from(body));
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok::<_, reqwest::Error>(answer)
        });
        match sent.await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(Box::new(error)),
            Err(error) => Err(Box::new(error)),
        }
    }
}
