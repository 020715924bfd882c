//! Accounts in the page: who is signed in, and the admin's people and invitations. Signing in
//! and up are plain forms posted to /api/v1/auth (they work without JavaScript).

use crate::error::AppError;
use crate::model::{Account, AccountRole, AuthStatus, Invitation};
use leptos::prelude::*;
use uuid::Uuid;

/// Public (the sign-in pages read it): the mode, whether the instance waits for its admin, the
/// sign-up policy, and who is signed in.
#[server(endpoint = "get_auth_status")]
pub async fn get_auth_status() -> Result<AuthStatus, AppError> {
    let state = super::app_state()?;
    crate::service::accounts::auth_status(&state, super::me().ok()).await
}

#[server(endpoint = "list_people")]
pub async fn list_people() -> Result<Vec<Account>, AppError> {
    let state = super::app_state()?;
    crate::service::accounts::list_accounts(&state, &super::me()?).await
}

#[server(endpoint = "set_person_disabled")]
pub async fn set_person_disabled(id: Uuid, disabled: bool) -> Result<Vec<Account>, AppError> {
    let state = super::app_state()?;
    let me = super::me()?;
    crate::service::accounts::set_disabled(&state, &me, id, disabled).await?;
    crate::service::accounts::list_accounts(&state, &me).await
}

#[server(endpoint = "create_invitation")]
pub async fn create_invitation(role: AccountRole) -> Result<Invitation, AppError> {
    let state = super::app_state()?;
    crate::service::accounts::invite(&state, &super::me()?, role).await
}
