//! The one error type that crosses the wire, from server functions and the REST API alike.
//! It carries only what is safe to show a person; the server logs the detail before building it.

use crate::server_fns::codec::JsonTextEncoding;
use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("Ollama is not reachable at {url}")]
    OllamaUnreachable { url: String },
    #[error("model '{0}' is not available in Ollama; pull it with `ollama pull {0}`")]
    ModelNotFound(String),
    /// What Ollama's failure was, told in a sentence that names Ollama itself ("Ollama
    /// answered 500: …", "no answer from Ollama within 60s …"): no prefix, which would say
    /// "Ollama" twice and "answered" of a model that never did.
    #[error("{0}")]
    Ollama(String),
    /// A model provider other than Ollama (OpenAI-compatible, Anthropic) failed.
    #[error("the model provider {provider} answered with an error: {message}")]
    Provider { provider: String, message: String },
    #[error("{0}")]
    Unavailable(String),
    /// The request conflicts with the current state (an answer is still being written).
    #[error("{0}")]
    Conflict(String),
    /// Too much is running; try again after `retry_after_secs`.
    #[error("{message}")]
    TooBusy {
        message: String,
        retry_after_secs: u64,
    },
    /// This person (or, before sign-in, this address) sent more requests than the rate limit
    /// allows; try again after `retry_after_secs`.
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    LengthRequired(String),
    /// No one is signed in (or the session ended).
    #[error("{0}")]
    Unauthorized(String),
    /// Refused for safety (a cross-origin request, an unknown host).
    #[error("{0}")]
    Forbidden(String),
    /// A part of the app switched off by its feature flag: as absent as a route that does not
    /// exist.
    #[error("this is switched off on this server ({0})")]
    FeatureOff(String),
    #[error("the server could not complete the request (the details are in its log)")]
    Internal,
    #[error("{0}")]
    ServerFn(ServerFnErrorErr),
}

impl AppError {
    pub fn status_code(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            AppError::NotFound(_) | AppError::FeatureOff(_) => StatusCode::NOT_FOUND,
            AppError::InvalidInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::OllamaUnreachable { .. }
            | AppError::Ollama(_)
            | AppError::Provider { .. } => StatusCode::BAD_GATEWAY,
            AppError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooBusy { .. } | AppError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::LengthRequired(_) => StatusCode::LENGTH_REQUIRED,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::ServerFn(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// A short machine-readable name, for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound(_) => "not_found",
            AppError::FeatureOff(_) => "feature_off",
            AppError::InvalidInput(_) => "invalid_input",
            AppError::OllamaUnreachable { .. } => "ollama_unreachable",
            AppError::ModelNotFound(_) => "model_not_found",
            AppError::Ollama(_) => "ollama_error",
            AppError::Provider { .. } => "provider_error",
            AppError::Unavailable(_) => "unavailable",
            AppError::Conflict(_) => "conflict",
            AppError::TooBusy { .. } => "too_busy",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Forbidden(_) => "forbidden",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::TooLarge(_) => "too_large",
            AppError::LengthRequired(_) => "length_required",
            AppError::Internal => "internal",
            AppError::ServerFn(_) => "bad_request",
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonTextEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::ServerFn(value)
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(%error, "database error");
        AppError::Internal
    }
}

impl AppError {
    /// How long a client should wait before asking again, for the answers that say so.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::TooBusy {
                retry_after_secs, ..
            }
            | AppError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
