//! Safety for an app without login yet, in a browser that also visits other sites: only known
//! hosts (DNS rebinding), no cross-origin state changes (CSRF), and security headers everywhere.

use crate::config::ServerSettings;
use crate::error::AppError;
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::sync::Arc;

/// Which hosts and origins the server answers to; built once from the settings.
#[derive(Clone, Debug)]
pub struct Guard {
    /// Lower-case host names, and host:port pairs.
    hosts: Vec<String>,
    /// The configured public origin (`scheme://host[:port]`), if any.
    public_origin: Option<String>,
    /// Origins whose pages may call the REST API (`server.cors_origins`).
    cors_origins: Vec<String>,
    /// Accounts mode: a cross-origin call that changes something must carry a personal token.
    tokens_required: bool,
}

impl Guard {
    pub fn from_settings(settings: &ServerSettings, mode: crate::model::AuthMode) -> Arc<Guard> {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .into_iter()
            .map(String::from)
            .collect();
        hosts.push(host_name(&settings.addr.to_string()).to_string());
        let mut public_origin = None;
        if let Some(url) = settings
            .public_url
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u).ok())
        {
            if let Some(host) = url.host_str() {
                hosts.push(host.to_ascii_lowercase());
            }
            public_origin = Some(url.origin().ascii_serialization());
        }
        hosts.extend(
            settings
                .allowed_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase()),
        );
        hosts.sort();
        hosts.dedup();
        Arc::new(Guard {
            hosts,
            public_origin,
            cors_origins: cors_origins(settings),
            tokens_required: mode == crate::model::AuthMode::Accounts,
        })
    }

    /// Whether a `Host` header value names this server.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.hosts
            .iter()
            .any(|allowed| *allowed == host || allowed == host_name(&host))
    }

    /// Whether a state-changing request may come from where the browser says it comes from.
    /// Requests without these headers (scripts, curl) are not from a page and pass.
    pub fn origin_allowed(&self, headers: &HeaderMap, host: Option<&str>) -> bool {
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        match fetch_site {
            Some("cross-site" | "same-site") => return false,
            // The browser's own word (a page cannot set this header). A form posted by one of
            // our pages says `Origin: null` under our `Referrer-Policy: no-referrer`.
            Some("same-origin") => return true,
            _ => {}
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        if self.public_origin.as_deref() == Some(origin) {
            return true;
        }
        // Same origin as the host the request was sent to (already checked against the list).
        match (reqwest::Url::parse(origin), host) {
            (Ok(url), Some(host)) => {
                let authority = match url.port() {
                    Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
                    None => url.host_str().unwrap_or_default().to_string(),
                };
                authority.eq_ignore_ascii_case(host.trim())
            }
            _ => false,
        }
    }
}

impl Guard {
    /// Whether a cross-origin request to the REST API is one the CORS allow-list admits: from
    /// a listed origin and, with accounts, carrying a personal token (a page of that origin
    /// riding on someone's session cookie is still refused).
    pub fn cors_allowed(&self, path: &str, headers: &HeaderMap) -> bool {
        let rest = path.starts_with("/api/v1/") || path.starts_with("/v1/");
        let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
        rest && origin.is_some_and(|origin| self.cors_origins.iter().any(|o| o == origin))
            && (!self.tokens_required || crate::service::accounts::bearer_token(headers).is_some())
    }
}

/// The configured CORS origins, without a trailing slash.
fn cors_origins(settings: &ServerSettings) -> Vec<String> {
    settings
        .cors_origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/').to_string())
        .collect()
}

/// CORS for the REST API (`/api/v1/…`, `/v1/…`) and the listed origins only; `None` when no
/// origin is listed (the default). No cookies across origins: scripts send their token.
pub fn cors_layer(settings: &ServerSettings) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins = cors_origins(settings);
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin, parts| {
                let path = parts.uri.path();
                (path.starts_with("/api/v1/") || path.starts_with("/v1/"))
                    && origin
                        .to_str()
                        .is_ok_and(|origin| origins.iter().any(|o| o == origin))
            }))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                header::HeaderName::from_static("last-event-id"),
            ])
            .expose_headers([
                header::RETRY_AFTER,
                header::HeaderName::from_static("x-request-id"),
                header::HeaderName::from_static("ratelimit-limit"),
                header::HeaderName::from_static("ratelimit-remaining"),
                header::HeaderName::from_static("ratelimit-reset"),
                header::HeaderName::from_static("ratelimit-policy"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The host without its port (`[::1]:3000` → `[::1]`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.split(':').next().unwrap_or(host)
}

/// Refuses unknown hosts and cross-origin state changes, before anything else runs.
pub async fn check_request(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    if let Some(host) = &host {
        if !guard.host_allowed(host) {
            tracing::warn!(host, "refused a request for an unknown host");
            return AppError::Forbidden(format!(
                "this server does not answer to the host {host:?}; add it to server.allowed_hosts"
            ))
            .into_response();
        }
    }
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if !safe
        && !guard.origin_allowed(request.headers(), host.as_deref())
        && !guard.cors_allowed(request.uri().path(), request.headers())
    {
        tracing::warn!(
            origin = ?request.headers().get(header::ORIGIN),
            path = request.uri().path(),
            "refused a cross-origin request"
        );
        return AppError::Forbidden("cross-origin requests cannot change anything here".into())
            .into_response();
    }
    // Server functions (under /api/, beside the REST API) are called by the page, whose requests
    // always declare their length: a body of unknown length (chunked) there is refused before it
    // is read. A request with neither header has no body at all (RFC 9112, 6.3).
    let path = request.uri().path();
    if !safe
        && path.starts_with("/api/")
        && !path.starts_with("/api/v1/")
        && !request.headers().contains_key(header::CONTENT_LENGTH)
        && request.headers().contains_key(header::TRANSFER_ENCODING)
    {
        return AppError::LengthRequired("declare the body's length (Content-Length)".into())
            .into_response();
    }
    next.run(request).await
}

/// The policy of a page: scripts only from here or with this response's nonce (which Leptos puts
/// on its own scripts), WebAssembly allowed, images only from here or data: URLs.
pub fn page_csp(nonce: &str) -> String {
    let mut connect = String::from("'self'");
    // `cargo leptos watch` reloads the page through a WebSocket on its own port.
    if std::env::var_os("LEPTOS_WATCH").is_some() {
        let port = std::env::var("LEPTOS_RELOAD_PORT").unwrap_or_else(|_| "3001".into());
        connect.push_str(&format!(" ws://127.0.0.1:{port} ws://localhost:{port}"));
    }
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src {connect}; \
         font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// What every response carries; a page sets its own Content-Security-Policy with its nonce,
/// anything else gets one that allows nothing.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(public_url: Option<&str>, allowed: &[&str]) -> Arc<Guard> {
        Guard::from_settings(
            &ServerSettings {
                public_url: public_url.map(String::from),
                allowed_hosts: allowed.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            crate::model::AuthMode::Accounts,
        )
    }

    #[test]
    fn listed_origins_may_call_the_rest_api_with_a_token() {
        let g = Guard::from_settings(
            &ServerSettings {
                cors_origins: vec!["https://tools.example.com/".into()],
                ..Default::default()
            },
            crate::model::AuthMode::Accounts,
        );
        let listed = ("origin", "https://tools.example.com");
        let token = ("authorization", "Bearer osk_abc");
        assert!(g.cors_allowed("/api/v1/conversations", &headers(&[listed, token])));
        assert!(g.cors_allowed("/v1/chat/completions", &headers(&[listed, token])));
        assert!(
            !g.cors_allowed("/api/v1/conversations", &headers(&[listed])),
            "a cookie session is not enough across origins"
        );
        assert!(
            !g.cors_allowed("/api/send_message", &headers(&[listed, token])),
            "server functions are the page's own"
        );
        assert!(!g.cors_allowed(
            "/api/v1/conversations",
            &headers(&[("origin", "https://evil.example"), token])
        ));
        let off = guard(None, &[]);
        assert!(!off.cors_allowed("/api/v1/conversations", &headers(&[listed, token])));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn only_known_hosts_are_answered() {
        let g = guard(Some("https://chat.example.com"), &["intranet.local:8080"]);
        for ok in [
            "localhost:3000",
            "127.0.0.1",
            "[::1]:3000",
            "chat.example.com",
            "CHAT.example.com:443",
            "intranet.local:8080",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for refused in ["evil.example", "rebind.attacker.net:3000", "127.0.0.2"] {
            assert!(!g.host_allowed(refused), "{refused}");
        }
    }

    #[test]
    fn cross_origin_state_changes_are_refused() {
        let g = guard(Some("https://chat.example.com"), &[]);
        let host = Some("127.0.0.1:3000");
        assert!(g.origin_allowed(&headers(&[]), host), "curl and scripts");
        assert!(g.origin_allowed(
            &headers(&[
                ("origin", "http://127.0.0.1:3000"),
                ("sec-fetch-site", "same-origin")
            ]),
            host
        ));
        assert!(g.origin_allowed(&headers(&[("origin", "https://chat.example.com")]), host));
        assert!(!g.origin_allowed(&headers(&[("origin", "https://evil.example")]), host));
        assert!(!g.origin_allowed(&headers(&[("origin", "null")]), host));
        assert!(!g.origin_allowed(
            &headers(&[("origin", "null"), ("sec-fetch-site", "cross-site")]),
            host
        ));
        assert!(
            g.origin_allowed(
                &headers(&[("origin", "null"), ("sec-fetch-site", "same-origin")]),
                host
            ),
            "a form of our own page without JavaScript"
        );
        assert!(!g.origin_allowed(&headers(&[("origin", "http://127.0.0.1:8080")]), host));
        assert!(!g.origin_allowed(&headers(&[("sec-fetch-site", "cross-site")]), host));
        assert!(!g.origin_allowed(&headers(&[("sec-fetch-site", "same-site")]), host));
    }

    #[test]
    fn the_page_policy_uses_the_nonce_and_blocks_remote_images() {
        let csp = page_csp("abc123");
        assert!(csp.contains("script-src 'self' 'nonce-abc123'"), "{csp}");
        assert!(csp.contains("img-src 'self' data:"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains(" 'unsafe-eval'"), "{csp}");
    }
}

/// How large a request body may be: uploads have a limit of their own, every other route the
/// server's.
#[derive(Clone, Debug)]
pub struct BodyLimits {
    default: usize,
    upload: usize,
    import: usize,
}

impl BodyLimits {
    pub fn from_settings(settings: &crate::config::Settings) -> BodyLimits {
        BodyLimits {
            default: settings.server.max_body_bytes,
            upload: crate::documents::upload::upload_limit(&settings.documents),
            import: settings.server.max_import_bytes,
        }
    }

    fn for_request(&self, request: &Request) -> usize {
        let path = request.uri().path();
        if request.method() == Method::POST
            && (path == "/api/v1/files" || path == crate::components::upload::upload_path())
        {
            self.upload
        } else if request.method() == Method::POST && path == "/api/v1/conversations/import" {
            self.import
        } else {
            self.default
        }
    }
}

/// Refuses a body declared larger than its limit before reading it (413), and stops one that
/// streams past it. The upload server function gets only multipart bodies (Leptos' decoder
/// would panic on any other).
pub async fn limit_body(
    State(limits): State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    let limit = limits.for_request(&request);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return AppError::TooLarge(format!(
            "the request body is larger than this server accepts ({})",
            crate::text::human_size(limit as u64)
        ))
        .into_response();
    }
    if request.uri().path() == crate::components::upload::upload_path() {
        if let Err(error) = crate::documents::upload::boundary(request.headers()) {
            return error.into_response();
        }
    }
    next.run(request.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, limit))))
        .await
}
