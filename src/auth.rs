//! Who is asking: the `authenticate` middleware finds the person of each request (from the
//! session cookie, or the single-user mode's one person) and puts them in its extensions,
//! where handlers (`Me`) and server functions (`server_fns::me`) read them. Without a person,
//! the API and server functions answer 401 and pages send the browser to sign in.

use crate::error::AppError;
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
        "/login" | "/signup" | "/healthz" | "/readyz" | "/api/get_auth_status"
    ) || path.starts_with("/api/v1/auth/")
}

/// A page of the app (not the API, not a file).
pub(crate) fn is_page(method: &Method, path: &str) -> bool {
    method == Method::GET
        && !path.starts_with("/api/")
        && !path.starts_with("/pkg/")
        && !path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let bearer = accounts::bearer_token(request.headers());
    let person = match (state.settings.auth.mode, bearer) {
        (AuthMode::SingleUser, _) => Some(state.local_person()),
        // A script with a personal token: the token alone decides (never the cookie too).
        (AuthMode::Accounts, Some(token)) => match accounts::token_person(&state, &token).await {
            Ok(Some((person, scope))) => {
                if scope == TokenScope::Read
                    && !matches!(*request.method(), Method::GET | Method::HEAD)
                {
                    return AppError::Forbidden("this token may only read".into()).into_response();
                }
                request.extensions_mut().insert(accounts::ViaToken(scope));
                Some(person)
            }
            Ok(None) => {
                return AppError::Unauthorized("this token is unknown, revoked or expired".into())
                    .into_response()
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
    let path = request.uri().path();
    match person {
        Some(person) => {
            request.extensions_mut().insert(person);
            next.run(request).await
        }
        None if is_public(path) => next.run(request).await,
        None if path.starts_with("/api/") || path.starts_with("/v1/") => {
            AppError::Unauthorized("sign in first".into()).into_response()
        }
        None if is_page(request.method(), path) => {
            // Back to this page once signed in (a path of ours only: never another site).
            let next_path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let first = !state.store.has_accounts().await.unwrap_or(true);
            let to = if first { "/signup" } else { "/login" };
            Redirect::to(&format!("{to}?next={}", encode_query(&next_path))).into_response()
        }
        // Files of the site (scripts, styles, images).
        None => next.run(request).await,
    }
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
        assert!(!is_page(&Method::GET, "/pkg/app.wasm"));
        assert!(!is_page(&Method::GET, "/favicon.ico"));
        assert!(is_public("/api/v1/auth/login"));
        assert!(!is_public("/api/v1/conversations"));
    }
}
