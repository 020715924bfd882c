//! Accounts in the page: who is signed in, and the admin's people and invitations. Signing in
//! and up are plain forms posted to /api/v1/auth (they work without JavaScript).

use super::codec::JsonText;
use crate::error::AppError;
use crate::model::{
    Account, AccountRole, ApiToken, AuthStatus, Invitation, NewApiToken, SessionInfo, TokenScope,
};
use leptos::prelude::*;
use uuid::Uuid;

/// Public (the sign-in pages read it): the mode, whether the instance waits for its admin, the
/// sign-up policy, and who is signed in.
#[server(endpoint = "get_auth_status", output = JsonText)]
pub async fn get_auth_status() -> Result<AuthStatus, AppError> {
    let state = super::app_state()?;
    crate::service::accounts::auth_status(&state, super::me().ok()).await
}

#[server(endpoint = "list_people", output = JsonText)]
pub async fn list_people() -> Result<Vec<Account>, AppError> {
    let state = super::app_state()?;
    crate::service::accounts::list_accounts(&state, &super::me()?).await
}

#[server(endpoint = "set_person_disabled", output = JsonText)]
pub async fn set_person_disabled(id: Uuid, disabled: bool) -> Result<Vec<Account>, AppError> {
    let state = super::app_state()?;
    let me = super::me()?;
    crate::service::accounts::set_disabled(&state, &me, id, disabled).await?;
    crate::service::accounts::list_accounts(&state, &me).await
}

#[server(endpoint = "create_invitation", output = JsonText)]
pub async fn create_invitation(role: AccountRole) -> Result<Invitation, AppError> {
    let state = super::app_state()?;
    crate::service::accounts::invite(&state, &super::me()?, role).await
}

/// Token management needs the session: a request made with a token is refused.
#[cfg(feature = "ssr")]
fn by_session() -> Result<crate::model::Person, AppError> {
    let via_token = use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .extensions
            .get::<crate::service::accounts::ViaToken>()
            .is_some()
    });
    if via_token {
        return Err(AppError::Forbidden(
            "tokens are managed when signed in, not with a token".into(),
        ));
    }
    super::me()
}

#[server(endpoint = "list_api_tokens", output = JsonText)]
pub async fn list_api_tokens() -> Result<Vec<ApiToken>, AppError> {
    let state = super::app_state()?;
    crate::service::accounts::list_tokens(&state, &by_session()?).await
}

#[server(endpoint = "create_api_token", output = JsonText)]
pub async fn create_api_token(
    name: String,
    scope: TokenScope,
    expires_in_days: Option<u32>,
) -> Result<NewApiToken, AppError> {
    let state = super::app_state()?;
    crate::service::accounts::create_token(&state, &by_session()?, &name, scope, expires_in_days)
        .await
}

#[server(endpoint = "revoke_api_token", output = JsonText)]
pub async fn revoke_api_token(id: Uuid) -> Result<Vec<ApiToken>, AppError> {
    let state = super::app_state()?;
    let me = by_session()?;
    crate::service::accounts::revoke_token(&state, &me, id).await?;
    crate::service::accounts::list_tokens(&state, &me).await
}

/// The person's signed-in browsers, this one marked.
#[server(endpoint = "list_sessions", output = JsonText)]
pub async fn list_sessions() -> Result<Vec<SessionInfo>, AppError> {
    let state = super::app_state()?;
    let current = use_context::<http::request::Parts>()
        .and_then(|parts| crate::service::accounts::session_token(&parts.headers));
    crate::service::accounts::list_sessions(&state, &super::me()?, current.as_deref()).await
}

/// Signs one of the person's browsers out.
#[server(endpoint = "end_session", output = JsonText)]
pub async fn end_session(id: Uuid) -> Result<Vec<SessionInfo>, AppError> {
    let state = super::app_state()?;
    let me = super::me()?;
    crate::service::accounts::end_session(&state, &me, id).await?;
    let current = use_context::<http::request::Parts>()
        .and_then(|parts| crate::service::accounts::session_token(&parts.headers));
    crate::service::accounts::list_sessions(&state, &me, current.as_deref()).await
}
