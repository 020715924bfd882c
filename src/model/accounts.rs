//! Accounts as the page and the API see them: who is signed in, and how one signs up.

use super::UnknownVariant;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AccountRole {
    Admin,
    #[default]
    User,
}

impl AccountRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::Admin => "admin",
            AccountRole::User => "user",
        }
    }
}

impl TryFrom<String> for AccountRole {
    type Error = UnknownVariant;
    fn try_from(value: String) -> Result<Self, UnknownVariant> {
        match value.as_str() {
            "admin" => Ok(AccountRole::Admin),
            "user" => Ok(AccountRole::User),
            _ => Err(UnknownVariant(value)),
        }
    }
}

/// The person a request is made by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Person {
    pub id: Uuid,
    pub username: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub role: AccountRole,
}

impl Person {
    pub fn is_admin(&self) -> bool {
        self.role == AccountRole::Admin
    }
}

/// Who may create an account once the first admin exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum SignupPolicy {
    /// Anyone who reaches the server.
    Open,
    /// Only with an invitation an admin made.
    #[default]
    Invite,
    /// No one: admins invite no one either.
    Closed,
}

/// Whether people sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AuthMode {
    /// Everyone signs in; the first person to open a new instance creates the admin account.
    #[default]
    Accounts,
    /// No sign-in: one person owns everything (a personal install on localhost).
    SingleUser,
}

/// What the sign-in page needs to know.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuthStatus {
    pub mode: AuthMode,
    /// No account exists yet: the next sign-up creates the admin.
    pub needs_setup: bool,
    pub signup: SignupPolicy,
    /// The person signed in, if any.
    pub person: Option<Person>,
}

/// A person as an admin sees them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Account {
    pub id: Uuid,
    pub username: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub role: AccountRole,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// An invitation as its maker receives it: the link is shown once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Invitation {
    pub id: Uuid,
    pub role: AccountRole,
    pub expires_at: DateTime<Utc>,
    /// `/signup?invite=TOKEN`: the token is not stored, only its hash.
    pub link: String,
}

impl std::str::FromStr for AuthMode {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "accounts" => Ok(AuthMode::Accounts),
            "single_user" => Ok(AuthMode::SingleUser),
            other => Err(format!("{other:?} is not accounts or single_user")),
        }
    }
}

impl std::str::FromStr for SignupPolicy {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "open" => Ok(SignupPolicy::Open),
            "invite" => Ok(SignupPolicy::Invite),
            "closed" => Ok(SignupPolicy::Closed),
            other => Err(format!("{other:?} is not open, invite or closed")),
        }
    }
}

/// What a personal API token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum TokenScope {
    /// GET and HEAD only.
    Read,
    #[default]
    ReadWrite,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::ReadWrite => "read_write",
        }
    }
}

impl TryFrom<String> for TokenScope {
    type Error = UnknownVariant;
    fn try_from(value: String) -> Result<Self, UnknownVariant> {
        match value.as_str() {
            "read" => Ok(TokenScope::Read),
            "read_write" => Ok(TokenScope::ReadWrite),
            _ => Err(UnknownVariant(value)),
        }
    }
}

/// A personal API token as its owner sees it (the token itself only once, when made).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub scope: TokenScope,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// One of a person's sessions (a signed-in browser), as they see it in their settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    /// Made from the stored hash of the session's token (never the token).
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The browser that signed in (its User-Agent).
    pub user_agent: String,
    /// The session this request was made with.
    pub current: bool,
}

/// A token just made: `token` is shown this once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewApiToken {
    pub token: String,
    #[serde(flatten)]
    pub info: ApiToken,
}
