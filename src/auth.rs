//! Who is asking: the `authenticate` middleware finds the person of each request (from the
//! session cookie, or the single-user mode's one person) and puts them in its extensions,
//! where handlers (`Me`) and server functions (`server_fns::me`) read them. Without a person,
//! the API and server functions answer 401 and pages send the browser to sign in.

use crate::error::AppError;
use crate::limits::RateInfo;
use crate::model::{AuthMode, Person, TokenScope};
use crate::service::accounts;
use crate::state::AppState;
use axum::{
    extract::{FromRequestParts, Request, State},
    http::{request::Parts, Method},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

/// The person making the request (401 when no one is signed in).
pub struct Me(pub Person);

impl<S: Send + Sync> FromRequestParts<S> for Me {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Me, AppError> {
        parts
            .extensions
            .get::<Person>()
            .cloned()
            .map(Me)
            .ok_or_else(|| AppError::Unauthorized("sign in first".into()))
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Me {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Me>, std::convert::Infallible> {
        Ok(parts.extensions.get::<Person>().cloned().map(Me))
    }
}

/// Routes anyone may use: signing in and up, health checks.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/login"
            | "/signup"
            | "/healthz"
            | "/readyz"
            | "/metrics"
            | "/api/get_auth_status"
            | "/api/v1/openapi.json"
            | "/api/docs"
    ) || path.starts_with("/api/v1/auth/")
}

/// A page of the app (not the API, not a file).
pub(crate) fn is_page(method: &Method, path: &str) -> bool {
    method == Method::GET
        && !path.starts_with("/api/")
        && !path.starts_with("/v1/")
        && !path.starts_with("/pkg/")
        && !path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

/// Requests that count against the rate limits: everything but the site's files and the
/// health checks (a page load fetches a handful of those).
fn is_counted(method: &Method, path: &str) -> bool {
    !matches!(path, "/healthz" | "/readyz")
        && !(method == Method::GET
            && !path.starts_with("/api/")
            && !path.starts_with("/v1/")
            && (path.starts_with("/pkg/")
                || path
                    .rsplit('/')
                    .next()
                    .is_some_and(|last| last.contains('.'))))
}

/// Finds the person of the request (session cookie, personal token, or the single-user mode's
/// one person), counts the request against their rate limit (or, without a person, against
/// the client's address), and lets it through, sends it to sign in, or refuses it.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let counted = is_counted(request.method(), request.uri().path());
    let address = request
        .extensions()
        .get::<crate::limits::ClientIp>()
        .map(|ip| ip.0)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    // Counts one request against `key`; the headers to add, or the 429 to answer.
    let charge = |key: crate::limits::RateKey| -> Rate {
        if !counted {
            return Ok(None);
        }
        match state.rate_limits.check(key) {
            None => Ok(None),
            Some(Ok(info)) => Ok(Some(info)),
            Some(Err(refused)) => {
                tracing::warn!(
                    ?key,
                    retry_after_secs = refused.retry_after_secs,
                    "rate limited"
                );
                let mut response = refused.error().into_response();
                refused.info.write_headers(response.headers_mut());
                Err(Box::new(response))
            }
        }
    };
    let by_address = crate::limits::RateKey::address(address);
    // /metrics checks its own token (observability.metrics_token), not a person's.
    let bearer =
        accounts::bearer_token(request.headers()).filter(|_| request.uri().path() != "/metrics");
    let person = match (state.settings.auth.mode, bearer) {
        (AuthMode::SingleUser, _) => Some(state.local_person()),
        // A script with a personal token: the token alone decides (never the cookie too).
        (AuthMode::Accounts, Some(token)) => match accounts::token_person(&state, &token).await {
            Ok(Some((person, scope))) => {
                if scope == TokenScope::Read
                    && !matches!(*request.method(), Method::GET | Method::HEAD)
                {
                    return with_rate(charge(crate::limits::RateKey::Person(person.id)), || {
                        AppError::Forbidden("this token may only read".into()).into_response()
                    });
                }
                request.extensions_mut().insert(accounts::ViaToken(scope));
                Some(person)
            }
            // Guessing tokens counts against the address.
            Ok(None) => {
                return with_rate(charge(by_address), || {
                    AppError::Unauthorized("this token is unknown, revoked or expired".into())
                        .into_response()
                })
            }
            Err(error) => return error.into_response(),
        },
        (AuthMode::Accounts, None) => match accounts::session_token(request.headers()) {
            Some(token) => match accounts::session_person(&state, &token).await {
                Ok(person) => person,
                Err(error) => return error.into_response(),
            },
            None => None,
        },
    };
    let key = match &person {
        Some(person) => crate::limits::RateKey::Person(person.id),
        None => by_address,
    };
    let rate = charge(key);
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    match person {
        Some(person) => {
            // Every log line of this request says whose it is (the request span, see web.rs).
            tracing::Span::current().record("person", tracing::field::display(person.id));
            request.extensions_mut().insert(person);
            with_rate_async(rate, next.run(request)).await
        }
        None if is_public(&path) => with_rate_async(rate, next.run(request)).await,
        None if path.starts_with("/api/") || path.starts_with("/v1/") => with_rate(rate, || {
            AppError::Unauthorized("sign in first".into()).into_response()
        }),
        None if is_page(&method, &path) => {
            let rate = match rate {
                Ok(rate) => rate,
                Err(refused) => return *refused,
            };
            // Back to this page once signed in (a path of ours only: never another site).
            let next_path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let first = !state.store.has_accounts().await.unwrap_or(true);
            let to = if first { "/signup" } else { "/login" };
            let mut response =
                Redirect::to(&format!("{to}?next={}", encode_query(&next_path))).into_response();
            if let Some(rate) = rate {
                rate.write_headers(response.headers_mut());
            }
            response
        }
        // Files of the site (scripts, styles, images).
        None => with_rate_async(rate, next.run(request)).await,
    }
}

/// What counting a request came to: the rate-limit headers to add (none when not counted), or
/// the 429 to answer.
type Rate = Result<Option<RateInfo>, Box<Response>>;

/// The response `make` builds, with the rate-limit headers; or the 429 when over the limit.
fn with_rate(rate: Rate, make: impl FnOnce() -> Response) -> Response {
    match rate {
        Err(refused) => *refused,
        Ok(info) => {
            let mut response = make();
            if let Some(info) = info {
                info.write_headers(response.headers_mut());
            }
            response
        }
    }
}

/// `with_rate` for a response still to come.
async fn with_rate_async(
    rate: Rate,
    response: impl std::future::Future<Output = Response>,
) -> Response {
    match rate {
        Err(refused) => *refused,
        Ok(info) => {
            let mut response = response.await;
            if let Some(info) = info {
                info.write_headers(response.headers_mut());
            }
            response
        }
    }
}

/// Puts the client's address (`ClientIp`) in the request: the TCP peer, or what a trusted proxy
/// forwarded.
pub async fn find_client(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    if let Some(peer) = peer {
        let client = state.trusted_proxies.client_ip(peer, request.headers());
        request
            .extensions_mut()
            .insert(crate::limits::ClientIp(client));
    }
    next.run(request).await
}

/// Percent-encodes a query value.
pub fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Where to go after signing in: a path of this site only (`/…`, never `//host` or a URL).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.contains(['\r', '\n']) =>
        {
            path.to_string()
        }
        _ => "/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_returned_to() {
        assert_eq!(safe_next(Some("/c/123?x=1")), "/c/123?x=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "evil",
            "/a\r\nSet-Cookie: x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
        assert_eq!(encode_query("/c/1?a=b&c"), "/c/1%3Fa%3Db%26c");
    }

    #[test]
    fn pages_are_told_apart_from_the_api_and_files() {
        assert!(is_page(&Method::GET, "/c/1"));
        assert!(!is_page(&Method::POST, "/c/1"));
        assert!(!is_page(&Method::GET, "/api/v1/conversations"));
        assert!(!is_page(&Method::GET, "/v1/models"));
        assert!(!is_page(&Method::GET, "/pkg/app.wasm"));
        assert!(!is_page(&Method::GET, "/favicon.ico"));
        assert!(is_public("/api/v1/auth/login"));
        assert!(is_counted(&Method::GET, "/c/1"));
        assert!(is_counted(&Method::GET, "/api/v1/conversations"));
        assert!(is_counted(&Method::POST, "/api/send_message"));
        assert!(is_counted(&Method::GET, "/v1/models"));
        assert!(!is_counted(&Method::GET, "/pkg/app.wasm"));
        assert!(!is_counted(&Method::GET, "/favicon.svg"));
        assert!(!is_counted(&Method::GET, "/healthz"));
        assert!(!is_public("/api/v1/conversations"));
    }
}
