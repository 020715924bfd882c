//! The REST API under /api/v1, and the health checks. JSON in and out; errors are
//! `{"error": {"code": …, "message": …}}` with a fitting status, never a stack trace.

mod analytics;
mod assistants;
mod auth;
mod conversations;
mod custom;
mod events;
pub mod files;
mod health;
mod messages;
mod models;
mod openai;
pub mod openapi;
mod providers;
mod settings;
mod tools;
mod webhooks;

use crate::error::AppError;
use crate::state::AppState;
use axum::{
    extract::{rejection::JsonRejection, FromRequest, FromRequestParts},
    http::request::Parts,
    response::{IntoResponse, Response},
    routing::{get, post, put},
    Router,
};
use serde::de::DeserializeOwned;
use serde_json::json;

/// A server-sent event stream with a keep-alive comment, uncached, and passed on at once by
/// proxies such as nginx (`X-Accel-Buffering: no`).
pub(crate) fn sse_response<S>(stream: S) -> Response
where
    S: futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>
        + Send
        + 'static,
{
    use axum::http::{header, HeaderValue};
    let mut response = axum::response::sse::Sse::new(stream)
        .keep_alive(axum::response::sse::KeepAlive::default())
        .into_response();
    let headers = response.headers_mut();
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// One server-sent event whose data is `value` as JSON.
pub(crate) fn json_event(value: &impl serde::Serialize) -> axum::response::sse::Event {
    use axum::response::sse::Event;
    match serde_json::to_string(value) {
        Ok(json) => Event::default().data(json),
        Err(_) => Event::default().comment("unserialisable event"),
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/v1/models", get(health::models))
        .route("/api/v1/models/{*model}", get(models::details))
        .route("/api/v1/admin/ollama", get(models::overview))
        .route(
            "/api/v1/admin/providers",
            get(providers::list).post(providers::create),
        )
        .route(
            "/api/v1/admin/providers/{id}",
            axum::routing::put(providers::update).delete(providers::delete),
        )
        .route("/api/v1/admin/providers/{id}/check", post(providers::check))
        .route("/api/v1/admin/models/pull", post(models::pull))
        .route(
            "/api/v1/admin/models/pull/cancel",
            post(models::cancel_pull),
        )
        .route("/api/v1/admin/models/pulls", get(models::pulls))
        .route(
            "/api/v1/admin/models/{*model}",
            axum::routing::delete(models::delete),
        )
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route("/api/docs", get(openapi::docs_page))
        .route("/api/v1/auth/status", get(auth::status))
        .route("/api/v1/auth/signup", post(auth::signup))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route(
            "/api/v1/auth/logout-everywhere",
            post(auth::logout_everywhere),
        )
        .route("/api/v1/auth/sessions", get(auth::sessions))
        .route(
            "/api/v1/auth/sessions/{id}",
            axum::routing::delete(auth::end_session),
        )
        .route("/api/v1/admin/people", get(auth::people))
        .route(
            "/api/v1/admin/people/{id}/disabled",
            put(auth::set_disabled),
        )
        .route("/api/v1/admin/invitations", post(auth::invite))
        // An unknown API path is a JSON 404 for the client that asked, not the app's page.
        .route("/api/v1/{*rest}", axum::routing::any(unknown_route))
        // OpenAI-compatible, for existing clients and SDKs.
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/models", get(openai::models))
        .route("/v1/models/{*model}", get(openai::model))
        .route("/v1/{*rest}", axum::routing::any(openai::unknown))
        .route("/api/v1/tokens", get(auth::tokens).post(auth::create_token))
        .route(
            "/api/v1/tokens/{id}",
            axum::routing::delete(auth::revoke_token),
        )
        .route("/api/v1/analytics", get(analytics::get))
        .route(
            "/api/v1/conversations",
            get(conversations::list).post(messages::send_new),
        )
        .route(
            "/api/v1/conversations/{id}",
            get(conversations::get)
                .patch(conversations::update)
                .delete(conversations::delete),
        )
        .route(
            "/api/v1/conversations/{id}/messages",
            get(conversations::messages).post(messages::send),
        )
        .route("/api/v1/conversations/export", get(custom::export_all))
        .route("/api/v1/conversations/import", post(custom::import))
        .route("/api/v1/conversations/{id}/export", get(custom::export_one))
        .route("/api/v1/custom/action", post(custom::action))
        .route(
            "/api/v1/conversations/{id}/regenerate",
            post(messages::regenerate),
        )
        .route("/api/v1/messages/{id}/stop", post(messages::stop))
        .route("/api/v1/messages/{id}/edit", post(messages::edit))
        .route("/api/v1/messages/{id}/branch", post(messages::branch))
        .route(
            "/api/v1/answer-versions/{id}/show",
            post(messages::show_version),
        )
        .route("/api/v1/messages/{id}/events", get(messages::events))
        .route("/api/v1/events", get(events::stream))
        .route("/api/v1/tools", get(tools::list))
        .route(
            "/api/v1/assistants",
            get(assistants::list).post(assistants::create),
        )
        .route(
            "/api/v1/assistants/{id}",
            get(assistants::get)
                .patch(assistants::update)
                .delete(assistants::delete),
        )
        .route("/api/v1/assistants/{id}/files", get(assistants::files))
        .route(
            "/api/v1/assistants/{id}/duplicate",
            post(assistants::duplicate),
        )
        .route("/api/v1/tools/{name}/invoke", post(tools::invoke))
        .route("/api/v1/files", get(files::list).post(files::upload))
        .route("/api/v1/files/{id}", get(files::get).delete(files::delete))
        .route("/api/v1/files/{id}/content", get(files::content))
        .route("/api/v1/files/{id}/reindex", post(files::reindex))
        .route("/api/v1/search", get(files::search))
        .route(
            "/api/v1/conversations/{id}/files",
            get(files::attached).post(files::attach),
        )
        .route(
            "/api/v1/conversations/{id}/files/{file_id}",
            axum::routing::delete(files::detach),
        )
        .route(
            "/api/v1/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/v1/webhooks/{id}",
            get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/api/v1/webhooks/{id}/secret",
            post(webhooks::rotate_secret),
        )
        .route("/api/v1/webhooks/{id}/ping", post(webhooks::ping))
        .route(
            "/api/v1/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/api/v1/webhooks/deliveries/{id}/redeliver",
            post(webhooks::redeliver),
        )
        .route(
            "/api/v1/settings",
            get(settings::list).patch(settings::update_many),
        )
        .route(
            "/api/v1/settings/{key}",
            get(settings::get)
                .put(settings::put)
                .delete(settings::reset),
        )
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code(), "message": self.to_string() } });
        let mut response = (self.status_code(), axum::Json(body)).into_response();
        if let Some(retry_after_secs) = self.retry_after_secs() {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs),
            );
        }
        response
    }
}

/// A JSON body whose rejection is our typed error, not axum's plain text.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::TooLarge(
                    "the request body is larger than this server accepts".into(),
                ))
            }
            Err(rejection) => Err(AppError::InvalidInput(match rejection {
                JsonRejection::MissingJsonContentType(_) => {
                    "send the body as application/json".into()
                }
                other => other.body_text(),
            })),
        }
    }
}

/// An id in the path; anything that is not a UUID is simply not found.
pub struct IdPath(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<uuid::Uuid>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| IdPath(id))
            .map_err(|_| AppError::NotFound("resource".into()))
    }
}

/// Any path under /api/v1 that no route serves.
async fn unknown_route() -> AppError {
    AppError::NotFound("API route".into())
}
