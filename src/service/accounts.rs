//! Accounts: signing up (the first person creates the admin), signing in and out, sessions,
//! invitations, and what admins do with people. Passwords are hashed with argon2id on blocking
//! threads; a failed sign-in takes the same time whether the name exists or not; tokens are
//! random, shown once, and stored only as their SHA-256.

use crate::db::accounts::{Created, NewAccount};
use crate::error::{AppError, AppResult};
use crate::model::{
    Account, AccountRole, ApiToken, AuthMode, AuthStatus, Invitation, NewApiToken, Person,
    SignupPolicy, TokenScope,
};
use crate::state::AppState;
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;
use uuid::Uuid;

/// The cookie that carries a session's token.
pub const SESSION_COOKIE: &str = "ollamastack_session";

const MIN_PASSWORD_CHARS: usize = 10;
/// Longer passwords are refused: hashing one is work the server does for anyone who asks.
const MAX_PASSWORD_BYTES: usize = 1024;

/// A name: 3 to 40 letters, digits, `.`, `_` or `-`, starting with a letter or digit.
pub fn validate_username(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    let fine = (3..=40).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !fine {
        return Err(AppError::InvalidInput(
            "a name has 3 to 40 letters, digits, dots, dashes or underscores, and starts with a letter or digit"
                .into(),
        ));
    }
    if name.eq_ignore_ascii_case(crate::db::accounts::LOCAL_USERNAME) {
        return Err(AppError::InvalidInput("this name is reserved".into()));
    }
    Ok(name.to_string())
}

pub fn validate_password(password: &str) -> AppResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::InvalidInput(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::InvalidInput(format!(
            "a password has at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// argon2id with the crate's defaults (19 MiB, 2 passes), on a blocking thread.
async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::PasswordHasher;
        argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|_| AppError::Internal)?
    .map_err(|error| {
        tracing::error!(%error, "a password could not be hashed");
        AppError::Internal
    })
}

/// Whether `password` matches `hash`, on a blocking thread.
async fn password_matches(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::PasswordVerifier;
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// A hash no password matches, checked when the name is unknown so that the answer takes as
/// long as for a wrong password.
async fn decoy_hash() -> String {
    static DECOY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DECOY.get() {
        return hash.clone();
    }
    let hash = hash_password(random_token()).await.unwrap_or_default();
    DECOY.get_or_init(|| hash).clone()
}

/// 256 random bits, URL-safe.
pub fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    // The operating system's generator; without it no token can be made safely.
    getrandom::fill(&mut bytes).expect("the operating system's random generator");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Failed sign-ins per key (a name, an address) in a window; past the limit, sign-ins with
/// that key wait for the window to end. Kept in memory: each instance counts its own.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    /// Seconds to wait when `key` is over the limit.
    fn wait(&self, key: &str, limit: u32, window: std::time::Duration) -> Option<u64> {
        let failures = self.failures.lock().ok()?;
        let (count, since) = failures.get(key)?;
        let elapsed = since.elapsed();
        (*count >= limit && elapsed < window).then(|| (window - elapsed).as_secs().max(1))
    }

    fn failed(&self, key: &str, window: std::time::Duration) {
        if let Ok(mut failures) = self.failures.lock() {
            // Old windows go, so the map cannot grow without bound.
            failures.retain(|_, (_, since)| since.elapsed() < window);
            let entry = failures
                .entry(key.to_string())
                .or_insert((0, Instant::now()));
            entry.0 += 1;
        }
    }

    fn succeeded(&self, key: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(key);
        }
    }
}

/// What the sign-in page shows.
pub async fn auth_status(state: &AppState, person: Option<Person>) -> AppResult<AuthStatus> {
    let settings = &state.settings.auth;
    Ok(AuthStatus {
        mode: settings.mode,
        needs_setup: settings.mode == AuthMode::Accounts && !state.store.has_accounts().await?,
        signup: settings.signup,
        person,
    })
}

/// Creates an account: the admin when the instance has none, else as the sign-up policy
/// allows (`invite`: with an invitation's token).
pub async fn sign_up(
    state: &AppState,
    username: &str,
    password: &str,
    invitation: Option<&str>,
) -> AppResult<Person> {
    if state.settings.auth.mode == AuthMode::SingleUser {
        return Err(AppError::NotFound("sign-up".into()));
    }
    let username = validate_username(username)?;
    validate_password(password)?;
    let first = !state.store.has_accounts().await?;
    let invitation_hash = invitation
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(token_hash);
    let how = match (first, state.settings.auth.signup, &invitation_hash) {
        (true, _, _) => NewAccount::FirstAdmin,
        (false, SignupPolicy::Closed, _) => {
            return Err(AppError::Forbidden(
                "sign-up is closed on this server".into(),
            ))
        }
        (false, _, Some(hash)) => NewAccount::Invited(hash),
        (false, SignupPolicy::Open, None) => NewAccount::Open,
        (false, SignupPolicy::Invite, None) => {
            return Err(AppError::Forbidden(
                "sign-up needs an invitation on this server: ask an admin for a link".into(),
            ))
        }
    };
    let hash = hash_password(password.to_string()).await?;
    match state.store.create_account(&username, &hash, how).await? {
        Created::Person(person) => {
            tracing::info!(person = %person.id, role = person.role.as_str(), "account created");
            Ok(person)
        }
        Created::Taken => Err(AppError::Conflict(format!("the name {username} is taken"))),
        // Someone else became the admin a moment ago: this sign-up is an ordinary one now.
        Created::NotFirst => Err(AppError::Conflict(
            "this server has just been set up by someone else; sign up again".into(),
        )),
        Created::BadInvitation => Err(AppError::Forbidden(
            "this invitation is unknown, used or expired".into(),
        )),
    }
}

/// A new session: (the person, the token for the cookie).
pub async fn sign_in(
    state: &AppState,
    username: &str,
    password: &str,
    address: &str,
    user_agent: &str,
) -> AppResult<(Person, String)> {
    if state.settings.auth.mode == AuthMode::SingleUser {
        return Err(AppError::NotFound("sign-in".into()));
    }
    let settings = &state.settings.auth;
    let window = std::time::Duration::from_secs(settings.login_window_secs);
    let name_key = format!("name:{}", username.trim().to_ascii_lowercase());
    let address_key = format!("address:{address}");
    // An address may hold several people (an office behind one NAT): it gets more tries.
    let limits = [
        (&name_key, settings.max_failed_logins),
        (&address_key, settings.max_failed_logins.saturating_mul(4)),
    ];
    for (key, limit) in limits {
        if let Some(wait) = state.login_limiter.wait(key, limit, window) {
            return Err(AppError::TooBusy {
                message: "too many failed sign-ins; wait a few minutes and try again".into(),
                retry_after_secs: wait,
            });
        }
    }
    let password = password
        .chars()
        .take(MAX_PASSWORD_BYTES)
        .collect::<String>();
    let found = state.store.credentials(username.trim()).await?;
    // The same work, and the same answer, whether the name exists or not.
    let (hash, person) = match found {
        Some(c) if !c.disabled => (
            c.password_hash,
            Some(Person {
                id: c.id,
                username: c.username,
                role: c.role,
            }),
        ),
        _ => (decoy_hash().await, None),
    };
    let matches = password_matches(password, hash).await;
    let Some(person) = person.filter(|_| matches) else {
        state.login_limiter.failed(&name_key, window);
        state.login_limiter.failed(&address_key, window);
        return Err(AppError::Unauthorized("wrong name or password".into()));
    };
    state.login_limiter.succeeded(&name_key);
    let token = random_token();
    let expires = Utc::now() + Duration::days(settings.session_days.into());
    state
        .store
        .insert_session(&token_hash(&token), person.id, expires, user_agent)
        .await?;
    tracing::info!(person = %person.id, "signed in");
    Ok((person, token))
}

/// Ends one session.
pub async fn sign_out(state: &AppState, token: &str) -> AppResult<()> {
    Ok(state.store.delete_session(&token_hash(token)).await?)
}

/// The public id of a session: the first 16 bytes of its token's hash, as a UUID.
fn session_id(hash: &[u8]) -> Uuid {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    Uuid::from_bytes(bytes)
}

/// A person's live sessions, the one of `current` (this request's cookie) marked.
pub async fn list_sessions(
    state: &AppState,
    person: &Person,
    current: Option<&str>,
) -> AppResult<Vec<crate::model::SessionInfo>> {
    let current = current.map(token_hash);
    Ok(state
        .store
        .list_sessions(person.id, crate::db::now())
        .await?
        .into_iter()
        .filter(|s| s.token_hash.len() >= 16)
        .map(|s| crate::model::SessionInfo {
            id: session_id(&s.token_hash),
            current: current.as_deref() == Some(s.token_hash.as_slice()),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent,
        })
        .collect())
}

/// Ends one of the person's sessions (another browser of theirs, say); 404 for any other id.
pub async fn end_session(state: &AppState, person: &Person, id: Uuid) -> AppResult<()> {
    if state
        .store
        .delete_session_of(person.id, id.as_bytes())
        .await?
    {
        Ok(())
    } else {
        Err(AppError::NotFound("session".into()))
    }
}

/// Ends every session of a person.
pub async fn sign_out_everywhere(state: &AppState, person: Uuid) -> AppResult<u64> {
    Ok(state.store.delete_sessions_of(person).await?)
}

/// The person a session token belongs to.
pub async fn session_person(state: &AppState, token: &str) -> AppResult<Option<Person>> {
    Ok(state
        .store
        .session_person(&token_hash(token), crate::db::now())
        .await?)
}

pub(crate) fn require_admin(person: &Person) -> AppResult<()> {
    if person.is_admin() {
        Ok(())
    } else {
        // As absent as a route that does not exist.
        Err(AppError::NotFound("page".into()))
    }
}

pub async fn list_accounts(state: &AppState, person: &Person) -> AppResult<Vec<Account>> {
    require_admin(person)?;
    Ok(state.store.list_accounts().await?)
}

/// Disables a person (their sessions end at once) or enables them. An admin cannot disable
/// themselves (the instance would lose its last way in).
pub async fn set_disabled(
    state: &AppState,
    person: &Person,
    target: Uuid,
    disabled: bool,
) -> AppResult<()> {
    require_admin(person)?;
    if target == person.id && disabled {
        return Err(AppError::InvalidInput("you cannot disable yourself".into()));
    }
    if !state.store.set_disabled(target, disabled).await? {
        return Err(AppError::NotFound("person".into()));
    }
    tracing::info!(admin = %person.id, person = %target, disabled, "account changed");
    Ok(())
}

/// An invitation link, shown once.
/// Why nobody can be invited to a server without sign-in.
pub const SINGLE_USER_INVITE: &str = "this server runs for one person, without sign-in: \
    to invite people, start it with auth.mode = \"accounts\" (OLLAMASTACK_AUTH_MODE=accounts)";

pub async fn invite(state: &AppState, person: &Person, role: AccountRole) -> AppResult<Invitation> {
    require_admin(person)?;
    if state.settings.auth.mode == AuthMode::SingleUser {
        return Err(AppError::Forbidden(SINGLE_USER_INVITE.into()));
    }
    if state.settings.auth.signup == SignupPolicy::Closed {
        return Err(AppError::Forbidden(
            "sign-up is closed on this server".into(),
        ));
    }
    let token = random_token();
    let expires_at = Utc::now() + Duration::days(state.settings.auth.invitation_days.into());
    let id = state
        .store
        .insert_invitation(&token_hash(&token), role, person.id, expires_at)
        .await?;
    Ok(Invitation {
        id,
        role,
        expires_at,
        link: format!("/signup?invite={token}"),
    })
}

/// The `Set-Cookie` value of a session (`None`: the cookie that removes it).
pub fn session_cookie(state: &AppState, token: Option<&str>) -> String {
    let secure = secure_cookie_flag(state);
    match token {
        Some(token) => format!(
            "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            u64::from(state.settings.auth.session_days) * 86_400
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    }
}

/// `"; Secure"` when this site's cookies must only travel over HTTPS (`auth.secure_cookie`;
/// by default, when `server.public_url` is https), else `""`.
pub fn secure_cookie_flag(state: &AppState) -> &'static str {
    let secure = state.settings.auth.secure_cookie.unwrap_or_else(|| {
        state
            .settings
            .server
            .public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    });
    if secure {
        "; Secure"
    } else {
        ""
    }
}

/// The session token a request carries in its cookie.
pub fn session_token(headers: &http::HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
        .filter(|token| !token.is_empty() && token.len() <= 100)
        .map(str::to_string)
}

/// The value of the cookie `name` among those a request carries.
pub fn cookie_value<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_passwords_are_checked() {
        assert_eq!(validate_username("  Alice_1 ").unwrap(), "Alice_1");
        for bad in [
            "ab",
            "-alice",
            "alice bob",
            "ali<ce",
            "local",
            "LOCAL",
            &"a".repeat(41),
        ] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough pass").is_ok());
        assert!(validate_password(&"x".repeat(2000)).is_err());
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        assert_eq!(token_hash(&a).len(), 32);
    }

    #[test]
    fn the_session_cookie_is_read_among_others() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            "theme=dark; ollamastack_session=abc123; x=y"
                .parse()
                .unwrap(),
        );
        assert_eq!(session_token(&headers).as_deref(), Some("abc123"));
        headers.insert(
            http::header::COOKIE,
            "ollamastack_session=".parse().unwrap(),
        );
        assert_eq!(session_token(&headers), None);
    }

    #[test]
    fn the_limiter_counts_failures_per_key_in_a_window() {
        let limiter = LoginLimiter::default();
        let window = std::time::Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(limiter.wait("name:a", 3, window), None);
            limiter.failed("name:a", window);
        }
        assert!(limiter.wait("name:a", 3, window).is_some());
        assert_eq!(limiter.wait("name:b", 3, window), None);
        limiter.succeeded("name:a");
        assert_eq!(limiter.wait("name:a", 3, window), None);
    }
}

/// Personal API tokens start with this, so that a leaked one is recognisable (secret scanners,
/// logs).
pub const TOKEN_PREFIX: &str = "osk_";

/// How a request proved who it is: a personal API token (its scope) rather than the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViaToken(pub TokenScope);

/// The token of `Authorization: Bearer …`, if the request has one.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty() && t.len() <= 200)
}

/// A new token for the person, shown once. Made from a signed-in page or session only: a
/// token cannot make more tokens.
pub async fn create_token(
    state: &AppState,
    person: &Person,
    name: &str,
    scope: TokenScope,
    expires_in_days: Option<u32>,
) -> AppResult<NewApiToken> {
    let name = crate::text::clean_input(name);
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::InvalidInput(
            "a token's name has 1 to 100 characters".into(),
        ));
    }
    let expires_at = match expires_in_days {
        None => None,
        Some(days @ 1..=3650) => Some(Utc::now() + Duration::days(days.into())),
        Some(_) => {
            return Err(AppError::InvalidInput(
                "a token expires in 1 to 3650 days, or never".into(),
            ))
        }
    };
    let token = format!("{TOKEN_PREFIX}{}", random_token());
    let info = state
        .store
        .insert_token(person.id, name, &token_hash(&token), scope, expires_at)
        .await?;
    tracing::info!(person = %person.id, token = %info.id, scope = scope.as_str(), "API token created");
    Ok(NewApiToken { token, info })
}

pub async fn list_tokens(state: &AppState, person: &Person) -> AppResult<Vec<ApiToken>> {
    Ok(state.store.list_tokens(person.id).await?)
}

/// Revokes a token: it stops at once (every request checks it).
pub async fn revoke_token(state: &AppState, person: &Person, id: Uuid) -> AppResult<()> {
    if state.store.revoke_token(person.id, id).await? {
        tracing::info!(person = %person.id, token = %id, "API token revoked");
        Ok(())
    } else {
        Err(AppError::NotFound("token".into()))
    }
}

/// The person and scope of a live token.
pub async fn token_person(
    state: &AppState,
    token: &str,
) -> AppResult<Option<(Person, TokenScope)>> {
    Ok(state
        .store
        .token_person(&token_hash(token), crate::db::now())
        .await?)
}

#[cfg(test)]
mod token_tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(
            http::header::AUTHORIZATION,
            "Bearer osk_abc".parse().unwrap(),
        );
        assert_eq!(bearer_token(&headers).as_deref(), Some("osk_abc"));
        headers.insert(
            http::header::AUTHORIZATION,
            "bearer  osk_abc ".parse().unwrap(),
        );
        assert_eq!(bearer_token(&headers).as_deref(), Some("osk_abc"));
        headers.insert(
            http::header::AUTHORIZATION,
            "Basic dXNlcjpwYXNz".parse().unwrap(),
        );
        assert_eq!(bearer_token(&headers), None);
    }
}
