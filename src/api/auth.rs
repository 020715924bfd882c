//! Signing up, in and out, and what admins do with people. The sign-in and sign-up pages post
//! plain HTML forms here (they work without JavaScript): a form gets a redirect, JSON gets JSON.

use crate::auth::{safe_next, Me};
use crate::error::{AppError, AppResult};
use crate::model::{Account, AccountRole, AuthStatus, Invitation, Person};
use crate::service::accounts;
use crate::state::AppState;
use axum::{
    extract::{FromRequest, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Json,
};
use serde::{de::DeserializeOwned, Deserialize};

/// A body sent as JSON (scripts) or as a form (the pages); `form` says which, for the answer.
pub struct Body<T> {
    value: T,
    form: bool,
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Body<T>, AppError> {
        let form = is_form(request.headers());
        let value = if form {
            axum::Form::<T>::from_request(request, state)
                .await
                .map_err(|e| AppError::InvalidInput(e.body_text()))?
                .0
        } else {
            Json::<T>::from_request(request, state)
                .await
                .map_err(|e| AppError::InvalidInput(e.body_text()))?
                .0
        };
        Ok(Body { value, form })
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    username: String,
    password: String,
    /// Sign-up: the token of an invitation link.
    #[serde(default)]
    invitation: Option<String>,
    /// Forms: where to go afterwards.
    #[serde(default)]
    next: Option<String>,
}

/// The address a request came from (for counting failed sign-ins): the peer, or the client a
/// trusted proxy named.
fn client_address(client: Option<&crate::limits::ClientIp>) -> String {
    client.map_or_else(|| "unknown".into(), |ip| ip.0.to_string())
}

fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// A page's form comes back to its page with the error to show.
fn back_to(page: &str, error: &AppError, next: Option<&str>, invitation: Option<&str>) -> Response {
    let mut to = format!(
        "{page}?error={}",
        crate::auth::encode_query(&error.to_string())
    );
    if let Some(next) = next {
        to.push_str(&format!(
            "&next={}",
            crate::auth::encode_query(&safe_next(Some(next)))
        ));
    }
    if let Some(invitation) = invitation {
        to.push_str(&format!(
            "&invite={}",
            crate::auth::encode_query(invitation)
        ));
    }
    Redirect::to(&to).into_response()
}

/// The answer of a new session: its cookie, and the person (JSON) or the next page (form).
fn signed_in(
    state: &AppState,
    person: Person,
    token: &str,
    form: bool,
    next: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut response = if form {
        Redirect::to(&safe_next(next)).into_response()
    } else {
        (status, Json(person)).into_response()
    };
    set_session_cookie(state, &mut response, Some(token));
    response
}

/// GET /api/v1/auth/status: the mode, whether the instance waits for its admin, the sign-up
/// policy, and who is signed in.
#[utoipa::path(
    get,
    path = "/api/v1/auth/status",
    tag = "auth",
    operation_id = "auth_status",
    responses((status = 200, body = AuthStatus), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn status(State(state): State<AppState>, me: Option<Me>) -> AppResult<Json<AuthStatus>> {
    Ok(Json(accounts::auth_status(&state, me.map(|m| m.0)).await?))
}

/// POST /api/v1/auth/signup: creates the account (the first is the admin) and signs it in.
#[utoipa::path(
    post,
    path = "/api/v1/auth/signup",
    tag = "auth",
    operation_id = "auth_signup",
    request_body = Credentials,
    responses((status = 200, description = "See the description"), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn signup(
    State(state): State<AppState>,
    client: Option<axum::Extension<crate::limits::ClientIp>>,
    headers: HeaderMap,
    body: Body<Credentials>,
) -> Response {
    let Body { value, form } = body;
    let result = async {
        accounts::sign_up(
            &state,
            &value.username,
            &value.password,
            value.invitation.as_deref(),
        )
        .await?;
        let address = client_address(client.as_ref().map(|c| &c.0));
        accounts::sign_in(
            &state,
            &value.username,
            &value.password,
            &address,
            &user_agent(&headers),
        )
        .await
    }
    .await;
    match result {
        Ok((person, token)) => signed_in(
            &state,
            person,
            &token,
            form,
            value.next.as_deref(),
            StatusCode::CREATED,
        ),
        Err(error) if form => back_to(
            "/signup",
            &error,
            value.next.as_deref(),
            value.invitation.as_deref(),
        ),
        Err(error) => error.into_response(),
    }
}

/// POST /api/v1/auth/login
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    operation_id = "auth_login",
    request_body = Credentials,
    responses((status = 200, description = "See the description"), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn login(
    State(state): State<AppState>,
    client: Option<axum::Extension<crate::limits::ClientIp>>,
    headers: HeaderMap,
    body: Body<Credentials>,
) -> Response {
    let Body { value, form } = body;
    let address = client_address(client.as_ref().map(|c| &c.0));
    match accounts::sign_in(
        &state,
        &value.username,
        &value.password,
        &address,
        &user_agent(&headers),
    )
    .await
    {
        Ok((person, token)) => signed_in(
            &state,
            person,
            &token,
            form,
            value.next.as_deref(),
            StatusCode::OK,
        ),
        Err(error) if form => back_to("/login", &error, value.next.as_deref(), None),
        Err(error) => error.into_response(),
    }
}

/// POST /api/v1/auth/logout: ends this session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    operation_id = "auth_logout",
    responses((status = 200, description = "See the description"), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    if let Some(token) = accounts::session_token(&headers) {
        accounts::sign_out(&state, &token).await?;
    }
    let mut response = if is_form(&headers) {
        Redirect::to("/login").into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    };
    set_session_cookie(&state, &mut response, None);
    Ok(response)
}

/// GET /api/v1/auth/sessions: the person's signed-in browsers, this one marked `current`.
#[utoipa::path(
    get,
    path = "/api/v1/auth/sessions",
    tag = "auth",
    operation_id = "auth_sessions",
    responses((status = 200, body = Vec<crate::model::SessionInfo>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn sessions(
    State(state): State<AppState>,
    Me(me): Me,
    headers: HeaderMap,
) -> AppResult<Json<Vec<crate::model::SessionInfo>>> {
    let current = accounts::session_token(&headers);
    Ok(Json(
        accounts::list_sessions(&state, &me, current.as_deref()).await?,
    ))
}

/// DELETE /api/v1/auth/sessions/{id}: signs that browser out at once.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/sessions/{id}",
    tag = "auth",
    operation_id = "auth_end_session",
    params(("id" = uuid::Uuid, Path, description = "The session's id")),
    responses((status = 204), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn end_session(
    State(state): State<AppState>,
    Me(me): Me,
    super::IdPath(id): super::IdPath,
) -> AppResult<StatusCode> {
    accounts::end_session(&state, &me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds the session cookie to a response (`None`: the cookie that removes it).
fn set_session_cookie(state: &AppState, response: &mut Response, token: Option<&str>) {
    if let Ok(cookie) = HeaderValue::from_str(&accounts::session_cookie(state, token)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// POST /api/v1/auth/logout-everywhere: ends every session of the person, this one included.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout-everywhere",
    tag = "auth",
    operation_id = "auth_logout_everywhere",
    responses((status = 200, description = "See the description"), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn logout_everywhere(
    State(state): State<AppState>,
    Me(me): Me,
    headers: HeaderMap,
) -> AppResult<Response> {
    let ended = accounts::sign_out_everywhere(&state, me.id).await?;
    let mut response = if is_form(&headers) {
        Redirect::to("/login").into_response()
    } else {
        Json(serde_json::json!({ "ended": ended })).into_response()
    };
    set_session_cookie(&state, &mut response, None);
    Ok(response)
}

/// GET /api/v1/admin/people (admins)
#[utoipa::path(
    get,
    path = "/api/v1/admin/people",
    tag = "auth",
    operation_id = "auth_people",
    responses((status = 200, body = Vec<Account>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn people(State(state): State<AppState>, Me(me): Me) -> AppResult<Json<Vec<Account>>> {
    Ok(Json(accounts::list_accounts(&state, &me).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Disable {
    disabled: bool,
}

/// PUT /api/v1/admin/people/{id}/disabled {"disabled": bool} (admins): a disabled person's
/// sessions end at once.
#[utoipa::path(
    put,
    path = "/api/v1/admin/people/{id}/disabled",
    tag = "auth",
    operation_id = "auth_set_disabled",
    request_body = Disable,
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 204), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn set_disabled(
    State(state): State<AppState>,
    Me(me): Me,
    super::IdPath(id): super::IdPath,
    Json(body): Json<Disable>,
) -> AppResult<StatusCode> {
    accounts::set_disabled(&state, &me, id, body.disabled).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct Invite {
    #[serde(default)]
    role: AccountRole,
}

/// POST /api/v1/admin/invitations {"role": "user"|"admin"} (admins): a one-time sign-up link.
#[utoipa::path(
    post,
    path = "/api/v1/admin/invitations",
    tag = "auth",
    operation_id = "auth_invite",
    request_body = Invite,
    responses((status = 201, body = Invitation), (status = 401, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn invite(
    State(state): State<AppState>,
    Me(me): Me,
    Json(body): Json<Invite>,
) -> AppResult<(StatusCode, Json<Invitation>)> {
    Ok((
        StatusCode::CREATED,
        Json(accounts::invite(&state, &me, body.role).await?),
    ))
}

/// Token routes need the person's session: a token cannot list, make or revoke tokens.
fn by_session(via: Option<&axum::Extension<accounts::ViaToken>>) -> AppResult<()> {
    match via {
        Some(_) => Err(AppError::Forbidden(
            "tokens are managed when signed in, not with a token".into(),
        )),
        None => Ok(()),
    }
}

/// GET /api/v1/tokens: the person's tokens (never the tokens themselves).
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "auth",
    operation_id = "auth_tokens",
    responses((status = 200, body = Vec<crate::model::ApiToken>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn tokens(
    State(state): State<AppState>,
    Me(me): Me,
    via: Option<axum::Extension<accounts::ViaToken>>,
) -> AppResult<Json<Vec<crate::model::ApiToken>>> {
    by_session(via.as_ref())?;
    Ok(Json(accounts::list_tokens(&state, &me).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    #[serde(default)]
    scope: crate::model::TokenScope,
    /// Days until it stops; never when absent.
    #[serde(default)]
    expires_in_days: Option<u32>,
}

/// POST /api/v1/tokens {name, scope?: "read"|"read_write", expires_in_days?}: 201 with the
/// token, shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "auth",
    operation_id = "auth_create_token",
    request_body = NewToken,
    responses((status = 201, body = crate::model::NewApiToken), (status = 401, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn create_token(
    State(state): State<AppState>,
    Me(me): Me,
    via: Option<axum::Extension<accounts::ViaToken>>,
    Json(body): Json<NewToken>,
) -> AppResult<(StatusCode, Json<crate::model::NewApiToken>)> {
    by_session(via.as_ref())?;
    let made =
        accounts::create_token(&state, &me, &body.name, body.scope, body.expires_in_days).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// DELETE /api/v1/tokens/{id}: revoked; it stops at once.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "auth",
    operation_id = "auth_revoke_token",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 204), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Me(me): Me,
    via: Option<axum::Extension<accounts::ViaToken>>,
    super::IdPath(id): super::IdPath,
) -> AppResult<StatusCode> {
    by_session(via.as_ref())?;
    accounts::revoke_token(&state, &me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
