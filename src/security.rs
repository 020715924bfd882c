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
}

impl Guard {
    pub fn from_settings(settings: &ServerSettings) -> Arc<Guard> {
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
    if !safe && !guard.origin_allowed(request.headers(), host.as_deref()) {
        tracing::warn!(
            origin = ?request.headers().get(header::ORIGIN),
            path = request.uri().path(),
            "refused a cross-origin request"
        );
        return AppError::Forbidden("cross-origin requests cannot change anything here".into())
            .into_response();
    }
    // Server functions (under /api/, beside the REST API) are called by the page, whose requests
    // always declare their length: a body of unknown length there is refused before it is read.
    let path = request.uri().path();
    if !safe
        && path.starts_with("/api/")
        && !path.starts_with("/api/v1/")
        && !request.headers().contains_key(header::CONTENT_LENGTH)
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
        Guard::from_settings(&ServerSettings {
            public_url: public_url.map(String::from),
            allowed_hosts: allowed.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
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
