//! OpenTelemetry traces: with `observability.otlp_endpoint` set, a request and the generation it
//! starts reach an OTLP/HTTP collector (a fake one here, decoding the same protobuf messages a
//! real collector does) as spans of one trace, with the configured headers and service name.
//! The trace crosses services by W3C trace context: a caller's `traceparent` is continued, and
//! the call to Ollama carries the generation's.
//! Its own binary: it installs the process's global subscriber.

mod common;

use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post, Router};
use common::{Backend, TestApp};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest, common::v1::any_value::Value as Any,
    trace::v1::Span,
};
use prost::Message;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Collected {
    requests: Mutex<Vec<(HeaderMap, ExportTraceServiceRequest)>>,
}

async fn collect(State(collected): State<Arc<Collected>>, headers: HeaderMap, body: Bytes) {
    let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
    collected.requests.lock().unwrap().push((headers, request));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<Any> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.clone())
        .and_then(|v| v.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_and_its_generation_are_exported_as_one_trace() {
    let collected = Arc::new(Collected::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    let router = Router::new()
        .route("/v1/traces", post(collect))
        .with_state(collected.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let mut settings = ollamastack::config::Settings::default();
    settings.log.filter = "info".into();
    settings.observability.otlp_endpoint = Some(collector);
    settings
        .observability
        .otlp_headers
        .insert("x-collector-key".into(), "k-123".into());
    settings.observability.service_name = "ollamastack-test".into();
    let telemetry = ollamastack::telemetry::init(&settings);

    let app = TestApp::start(Backend::Sqlite).await;
    // The caller (a proxy, say) traces too: sampled, with vendor state.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let sent = app
        .at(reqwest::Method::POST, "/api/v1/conversations")
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .header("tracestate", "proxy=7")
        .json(&serde_json::json!({ "content": "Traced [tokens=4]", "model": "llama3.2" }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);
    let sent: serde_json::Value = sent.json().await.unwrap();
    let answer = sent["assistant_message"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, done) = app.follow(&answer).await;
    assert_eq!(done["status"], "complete");
    let ollama_saw = app
        .fake
        .stats
        .last_chat_traceparent
        .lock()
        .unwrap()
        .clone()
        .expect("the call to Ollama carries a traceparent");
    // A request with a broken traceparent starts a trace of its own.
    let broken = app
        .at(reqwest::Method::GET, "/api/v1/models")
        .header("traceparent", "00-not-a-trace-01")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 200);
    telemetry.shutdown().await;

    let requests = collected.requests.lock().unwrap();
    assert!(!requests.is_empty(), "nothing was exported");
    assert!(requests
        .iter()
        .all(|(headers, _)| headers["x-collector-key"] == "k-123"));
    let resource_names: Vec<Option<Any>> = requests
        .iter()
        .flat_map(|(_, r)| &r.resource_spans)
        .map(|rs| {
            rs.resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.clone())
                .and_then(|v| v.value)
        })
        .collect();
    assert!(resource_names
        .iter()
        .all(|n| *n == Some(Any::StringValue("ollamastack-test".into()))));
    let spans: Vec<Span> = requests
        .iter()
        .flat_map(|(_, r)| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| ss.spans.clone())
        .collect();
    let send = spans
        .iter()
        .find(|s| {
            s.name == "HTTP POST"
                && attribute(s, "path") == Some(Any::StringValue("/api/v1/conversations".into()))
        })
        .unwrap_or_else(|| {
            panic!(
                "no span for the send: {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        attribute(send, "http.response.status_code"),
        Some(Any::IntValue(201))
    );
    assert_eq!(send.kind, 2, "a server span");
    assert_eq!(
        hex(&send.trace_id),
        caller_trace,
        "the caller's trace goes on"
    );
    assert_eq!(
        hex(&send.parent_span_id),
        caller_span,
        "a child of the caller's span"
    );
    let generation = spans
        .iter()
        .find(|s| s.name == "generation")
        .expect("a span for the generation");
    assert_eq!(generation.trace_id, send.trace_id, "one trace");
    assert_eq!(
        generation.parent_span_id, send.span_id,
        "started by the send"
    );
    assert_eq!(
        attribute(generation, "model"),
        Some(Any::StringValue("llama3.2".into()))
    );
    assert!(
        generation.end_time_unix_nano > send.end_time_unix_nano,
        "the generation outlives its request"
    );
    assert_eq!(
        ollama_saw,
        format!("00-{caller_trace}-{}-01", hex(&generation.span_id)),
        "Ollama is called from the generation, in the caller's trace"
    );
    let models = spans
        .iter()
        .find(|s| attribute(s, "path") == Some(Any::StringValue("/api/v1/models".into())))
        .expect("a span for the request with a broken traceparent");
    assert_ne!(hex(&models.trace_id), caller_trace);
    assert!(models.parent_span_id.is_empty(), "a root span");
}
