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

/// Whether the request is a browser's own form submission (JavaScript off, or the page not
/// live yet): it asks for a page back, so the server function answers with a redirect.
#[cfg(feature = "ssr")]
pub(crate) fn from_plain_form() -> bool {
    leptos::prelude::use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    })
}

/// Sends a plain form's browser to one of our pages (which may carry a query of its own),
/// `query` encoded into its address.
#[cfg(feature = "ssr")]
pub(crate) fn redirect_form<V: AsRef<str>>(page: &str, query: &[(&str, V)]) {
    let mut address = page.to_string();
    for (name, value) in query {
        address.push(if address.contains('?') { '&' } else { '?' });
        address.push_str(name);
        address.push('=');
        address.push_str(&crate::auth::encode_query(value.as_ref()));
    }
    leptos_axum::redirect(&address);
}

/// For a plain form (see `from_plain_form`), the page its browser goes to next: `on_to` the
/// outcome once done, or back to `back` with the error under the query parameter `error_at`.
/// Other callers get the result as it is.
#[cfg(feature = "ssr")]
pub(crate) fn answer_plain_form<T>(
    result: &Result<T, crate::error::AppError>,
    on_to: impl FnOnce(&T) -> String,
    back: &str,
    error_at: &str,
) {
    if !from_plain_form() {
        return;
    }
    match result {
        Ok(done) => redirect_form::<&str>(&on_to(done), &[]),
        Err(error) => redirect_form(back, &[(error_at, error.to_string())]),
    }
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
