//! The OpenAPI document of the REST API, generated from the handlers' `#[utoipa::path]`
//! attributes and the shared DTOs' schemas: served at `/api/v1/openapi.json` and rendered, with
//! no script and nothing from elsewhere, at `/api/docs`. A test checks that every route of the
//! router is in it.

use serde::Serialize;
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi, ToSchema,
};

/// Every error of the API: `{"error": {"code", "message"}}` (the OpenAI-compatible routes use
/// OpenAI's shape instead).
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A short machine-readable name: `not_found`, `invalid_input`, `rate_limited`…
    pub code: String,
    /// What went wrong, for a person to read.
    pub message: String,
}

/// Personal tokens (`Authorization: Bearer osk_…`) and the browser's session cookie.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("osk_…")
                    .description(Some(
                        "A personal API token (settings page, or POST /api/v1/tokens)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("ollamastack_session"))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OllamaStack",
        description = "Chat with, and run tool-using agents on, the models Ollama serves. JSON in and out; errors are `{\"error\": {\"code\", \"message\"}}`. Every request is counted against the rate limits (429 with `Retry-After` and `RateLimit-*` headers)."
    ),
    modifiers(&Security),
    security(("token" = []), ("session" = [])),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::health::models,
        super::models::details,
        super::models::overview,
        super::models::pull,
        super::models::pulls,
        super::models::cancel_pull,
        super::models::delete,
        super::auth::status,
        super::auth::signup,
        super::auth::login,
        super::auth::logout,
        super::auth::logout_everywhere,
        super::auth::sessions,
        super::auth::end_session,
        super::auth::people,
        super::auth::set_disabled,
        super::auth::invite,
        super::openai::chat_completions,
        super::openai::models,
        super::openai::model,
        super::auth::tokens,
        super::auth::create_token,
        super::auth::revoke_token,
        super::analytics::get,
        super::conversations::list,
        super::messages::send_new,
        super::conversations::get,
        super::conversations::messages,
        super::conversations::update,
        super::conversations::delete,
        super::messages::send,
        super::custom::export_all,
        super::custom::import,
        super::custom::export_one,
        super::custom::action,
        super::messages::regenerate,
        super::messages::stop,
        super::messages::edit,
        super::messages::branch,
        super::messages::show_version,
        super::messages::events,
        super::events::stream,
        super::tools::list,
        super::assistants::list,
        super::assistants::create,
        super::assistants::get,
        super::assistants::update,
        super::assistants::delete,
        super::assistants::files,
        super::assistants::duplicate,
        super::tools::invoke,
        super::files::list,
        super::files::upload,
        super::files::get,
        super::files::delete,
        super::files::content,
        super::files::reindex,
        super::files::search,
        super::files::attached,
        super::files::attach,
        super::files::detach,
        super::providers::list,
        super::providers::create,
        super::providers::update,
        super::providers::delete,
        super::providers::check,
        super::webhooks::list,
        super::webhooks::create,
        super::webhooks::get,
        super::webhooks::update,
        super::webhooks::delete,
        super::webhooks::rotate_secret,
        super::webhooks::ping,
        super::webhooks::deliveries,
        super::webhooks::redeliver,
        super::settings::list,
        super::settings::update_many,
        super::settings::get,
        super::settings::put,
        super::settings::reset,
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
pub struct ApiDoc;

/// The document as served: generated from the code (`ApiDoc`) and checked in at
/// `docs/openapi.json`, so that clients can be generated without a server and the release binary
/// carries the JSON instead of the code that builds it (utoipa's builder, inlined into one
/// function, was 800 KB of machine code). A unit test fails when the file is not what the code
/// generates; `UPDATE_OPENAPI=1 cargo test --features ssr --lib api::openapi` rewrites it.
pub const DOCUMENT_JSON: &str = include_str!("../../docs/openapi.json");

/// The document, parsed once (the docs page and the tests read it).
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        serde_json::from_str(DOCUMENT_JSON)
            .expect("docs/openapi.json is JSON (a unit test reads it)")
    })
}

/// GET /api/v1/openapi.json
pub async fn openapi_json() -> axum::response::Response {
    use axum::response::IntoResponse;
    // Compact, made once: the checked-in file is indented for reading its diffs.
    static COMPACT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = COMPACT.get_or_init(|| document().to_string());
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.as_str(),
    )
        .into_response()
}

/// GET /api/docs: the document as a page to read, made on the server from the JSON (no script,
/// nothing loaded from elsewhere: it works offline).
pub async fn docs_page() -> axum::response::Response {
    use axum::response::IntoResponse;
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let html = PAGE.get_or_init(|| render_docs(document()));
    (
        [(
            axum::http::header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        )],
        axum::response::Html(html.as_str()),
    )
        .into_response()
}

/// The name a `$ref` points to (`#/components/schemas/Message` → `Message`).
fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

/// A schema in a few words: `Message`, `[Message]`, `string`, `object`.
fn schema_words(schema: &serde_json::Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(|r| r.as_str()) {
        let name = ref_name(reference);
        return format!("<a href=\"#schema-{name}\">{name}</a>");
    }
    match schema.get("type").and_then(|t| t.as_str()) {
        Some("array") => format!(
            "[{}]",
            schema_words(schema.get("items").unwrap_or(&serde_json::Value::Null))
        ),
        Some(kind) => kind.to_string(),
        None => "any".to_string(),
    }
}

fn render_docs(doc: &serde_json::Value) -> String {
    use crate::markdown::escape_html as esc;
    use std::fmt::Write;
    let text = |v: &serde_json::Value| esc(v.as_str().unwrap_or_default());
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>OllamaStack API</title><style>\
         body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2937}\
         code,pre{font:13px ui-monospace,monospace}pre{background:#f3f4f6;padding:.75rem;overflow-x:auto}\
         .op{border:1px solid #e5e7eb;border-radius:.5rem;padding:.5rem .75rem;margin:.5rem 0}\
         .m{display:inline-block;min-width:4.5rem;font-weight:600;text-transform:uppercase}\
         .get{color:#15803d}.post{color:#1d4ed8}.put,.patch{color:#b45309}.delete{color:#b91c1c}\
         table{border-collapse:collapse}td,th{padding:.15rem .5rem;text-align:left;vertical-align:top}\
         details{margin:.25rem 0}summary{cursor:pointer}\
         @media (prefers-color-scheme:dark){body{background:#111827;color:#e5e7eb}pre{background:#1f2937}.op{border-color:#374151}a{color:#93c5fd}}\
         </style>",
    );
    let info = &doc["info"];
    let _ = write!(
        html,
        "<h1>{} API <small>{}</small></h1><p>{}</p>\
         <p>The machine-readable document: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>. \
         Authenticate with <code>Authorization: Bearer osk_…</code> (a personal token) or the \
         browser's session cookie.</p>",
        text(&info["title"]),
        text(&info["version"]),
        text(&info["description"]),
    );
    // Operations grouped by tag, in the order of their paths.
    let mut by_tag: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(op) = item.get(method) else { continue };
                let tag = op["tags"][0].as_str().unwrap_or("other").to_string();
                // Summaries come from the handlers' doc comments, which start with the route.
                let summary = op["summary"].as_str().unwrap_or_default();
                let route = format!("{} {path}", method.to_ascii_uppercase());
                let summary = summary
                    .strip_prefix(&route)
                    .map(|rest| rest.trim_start_matches([':', ' ']))
                    .unwrap_or(summary);
                let mut section = format!(
                    "<div class=\"op\"><span class=\"m {method}\">{method}</span> <code>{}</code> {}",
                    esc(path),
                    esc(summary),
                );
                if let Some(description) = op["description"].as_str() {
                    let _ = write!(section, "<p>{}</p>", esc(description));
                }
                if let Some(params) = op["parameters"].as_array() {
                    section.push_str(
                        "<table><tr><th>Parameter</th><th>In</th><th>Type</th><th></th></tr>",
                    );
                    for param in params {
                        let _ = write!(
                            section,
                            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            text(&param["name"]),
                            text(&param["in"]),
                            schema_words(&param["schema"]),
                            text(&param["description"]),
                        );
                    }
                    section.push_str("</table>");
                }
                if let Some(content) = op["requestBody"]["content"].as_object() {
                    for (media, body) in content {
                        let _ = write!(
                            section,
                            "<p>Body ({}): {}</p>",
                            esc(media),
                            schema_words(&body["schema"])
                        );
                    }
                }
                if let Some(responses) = op["responses"].as_object() {
                    section.push_str("<p>Answers: ");
                    let list: Vec<String> = responses
                        .iter()
                        .map(|(status, response)| {
                            let body = response["content"]
                                .as_object()
                                .and_then(|c| c.values().next())
                                .map(|b| format!(" {}", schema_words(&b["schema"])))
                                .unwrap_or_default();
                            format!("<code>{}</code>{body}", esc(status))
                        })
                        .collect();
                    section.push_str(&list.join(", "));
                    section.push_str("</p>");
                }
                section.push_str("</div>");
                by_tag.entry(tag).or_default().push(section);
            }
        }
    }
    html.push_str("<nav><p>");
    let tags: Vec<String> = by_tag
        .keys()
        .map(|tag| format!("<a href=\"#tag-{0}\">{0}</a>", esc(tag)))
        .collect();
    html.push_str(&tags.join(" · "));
    html.push_str(" · <a href=\"#schemas\">schemas</a></p></nav>");
    for (tag, sections) in &by_tag {
        let _ = write!(html, "<h2 id=\"tag-{0}\">{0}</h2>", esc(tag));
        for section in sections {
            html.push_str(section);
        }
    }
    html.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
            let _ = write!(
                html,
                "<details id=\"schema-{0}\"><summary><code>{0}</code></summary><pre>{1}</pre></details>",
                esc(name),
                esc(&pretty)
            );
        }
    }
    html.push_str("</html>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The served document is what the code generates now: handlers and DTOs changed without
    /// updating `docs/openapi.json` fail here (and `UPDATE_OPENAPI=1` rewrites the file).
    #[test]
    fn the_served_document_is_the_generated_one() {
        let generated = ApiDoc::openapi()
            .to_pretty_json()
            .expect("the document serialises");
        let generated_value: serde_json::Value = serde_json::from_str(&generated).unwrap();
        if &generated_value == document() {
            return;
        }
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
            std::fs::write(path, generated + "\n").expect("writing docs/openapi.json");
            panic!("docs/openapi.json was out of date and is rewritten: build and test again");
        }
        panic!(
            "docs/openapi.json is not what the code generates: run \
             `UPDATE_OPENAPI=1 cargo test --features ssr --lib api::openapi`, then commit the file"
        );
    }

    /// Every route of the router (read from `src/api/mod.rs`) is in the document, with its method.
    #[test]
    fn the_document_describes_every_route() {
        let doc = document();
        let source = include_str!("mod.rs");
        let mut missing = Vec::new();
        let mut rest = source;
        let mut checked = 0;
        while let Some(start) = rest.find(".route(") {
            rest = &rest[start + 7..];
            let open = rest.find('"').unwrap();
            let after = &rest[open + 1..];
            let close = after.find('"').unwrap();
            let path = &after[..close];
            // The methods chained on this route, up to the next route.
            let end = after.find(".route(").unwrap_or(after.len());
            let chain = &after[close..end];
            for method in ["get", "post", "put", "patch", "delete"] {
                if !chain.contains(&format!("{method}(")) || path.contains("{*rest}") {
                    continue;
                }
                let documented_path = path.replace("{*model}", "{model}");
                if documented_path == "/api/v1/openapi.json" || documented_path == "/api/docs" {
                    continue;
                }
                checked += 1;
                if doc["paths"][&documented_path][method].is_null() {
                    missing.push(format!("{method} {documented_path}"));
                }
            }
            rest = &after[close..];
        }
        assert!(checked > 60, "{checked}");
        assert!(
            missing.is_empty(),
            "not in the OpenAPI document: {missing:?}"
        );
        // Client generators need each operation named once.
        let mut ids = std::collections::BTreeSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                if let Some(id) = op["operationId"].as_str() {
                    assert!(ids.insert(id.to_string()), "operationId {id} twice");
                }
            }
        }
        assert!(ids.len() >= checked, "{} of {checked}", ids.len());
        assert!(doc["components"]["schemas"]["Message"].is_object());
        assert!(doc["components"]["securitySchemes"]["token"].is_object());
    }

    #[test]
    fn the_docs_page_is_text_and_links_only() {
        let html = render_docs(document());
        assert!(html.contains("/api/v1/conversations/{id}"));
        assert!(html.contains("id=\"schema-Message\""));
        assert!(!html.contains("<script"));
    }
}
