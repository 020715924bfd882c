//! Server functions, one file per domain, one verb_noun each. Each is a thin call into
//! `service`, which the REST API shares.

pub mod accounts;
pub mod assistants;
pub mod chat;
pub mod codec;
pub mod conversations;
pub mod documents;
pub mod ollama;
pub mod settings;
pub mod tools;
pub mod webhooks;

#[cfg(feature = "ssr")]
pub(crate) fn app_state() -> Result<crate::state::AppState, crate::error::AppError> {
    leptos::prelude::use_context::<crate::state::AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        crate::error::AppError::Internal
    })
}

/// The person calling a server function (or rendering the page): the one the `authenticate`
/// middleware found for this request.
#[cfg(feature = "ssr")]
pub(crate) fn me() -> Result<crate::model::Person, crate::error::AppError> {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<crate::model::Person>().cloned())
        .ok_or_else(|| crate::error::AppError::Unauthorized("sign in first".into()))
}

/// The page renders no markdown: its answers come with their HTML (see `markdown::with_html`).
#[cfg(feature = "ssr")]
pub(crate) fn with_html(messages: Vec<crate::model::Message>) -> Vec<crate::model::Message> {
    messages
        .into_iter()
        .map(crate::markdown::with_html)
        .collect()
}

#[cfg(feature = "ssr")]
pub(crate) fn outcome_with_html(
    mut outcome: crate::model::SendOutcome,
) -> crate::model::SendOutcome {
    outcome.assistant_message = crate::markdown::with_html(outcome.assistant_message);
    outcome
}
