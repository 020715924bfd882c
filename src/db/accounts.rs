//! Accounts, sessions and invitations. Session and invitation tokens are never stored, only
//! their SHA-256: a copy of the database opens no session. One text of each query serves both
//! databases.

use crate::model::{Account, AccountRole, Person};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A person as the sign-in check needs them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Credentials {
    pub id: Uuid,
    pub username: String,
    #[sqlx(try_from = "String")]
    pub role: AccountRole,
    pub password_hash: String,
    pub disabled: bool,
}

/// A session as stored (only the hash of its token).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredSession {
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: String,
}

/// How an account comes to be.
#[derive(Clone, Copy, Debug)]
pub enum NewAccount<'a> {
    /// The instance's first account: an admin, which takes over the single-user mode's `local`
    /// person (and so everything made before accounts were switched on).
    FirstAdmin,
    /// Sign-up open to anyone: a user.
    Open,
    /// With an invitation (the SHA-256 of its token): the role it gives; used up in the same
    /// transaction.
    Invited(&'a [u8]),
}

/// What creating an account came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Created {
    Person(Person),
    /// The name is taken.
    Taken,
    /// Another request made the first admin meanwhile.
    NotFirst,
    /// The invitation is unknown, used or expired.
    BadInvitation,
}

#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    /// Whether the instance has its first admin.
    async fn has_accounts(&self) -> Result<bool, sqlx::Error>;

    async fn create_account(
        &self,
        username: &str,
        password_hash: &str,
        how: NewAccount<'_>,
    ) -> Result<Created, sqlx::Error>;

    /// Case is ignored: `Alice` signs in as `alice`.
    async fn credentials(&self, username: &str) -> Result<Option<Credentials>, sqlx::Error>;

    async fn insert_session(
        &self,
        token_hash: &[u8],
        person: Uuid,
        expires_at: DateTime<Utc>,
        user_agent: &str,
    ) -> Result<(), sqlx::Error>;

    /// The person of a live session: none when it expired or ended, or its person is disabled.
    /// Its last use is written at most once a minute.
    async fn session_person(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<Person>, sqlx::Error>;

    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), sqlx::Error>;

    /// Ends every session of a person ("log out everywhere").
    async fn delete_sessions_of(&self, person: Uuid) -> Result<u64, sqlx::Error>;

    /// A person's live sessions, most recently used first: (token hash, created, last seen,
    /// expires, browser).
    async fn list_sessions(
        &self,
        person: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<StoredSession>, sqlx::Error>;

    /// Ends the person's session whose hash starts with `hash_prefix` (its public id); false
    /// when they have none such.
    async fn delete_session_of(
        &self,
        person: Uuid,
        hash_prefix: &[u8],
    ) -> Result<bool, sqlx::Error>;

    async fn list_accounts(&self) -> Result<Vec<Account>, sqlx::Error>;

    /// Disables a person, ending their sessions in the same transaction, or enables them.
    /// False when there is no such person.
    async fn set_disabled(&self, person: Uuid, disabled: bool) -> Result<bool, sqlx::Error>;

    async fn insert_invitation(
        &self,
        token_hash: &[u8],
        role: AccountRole,
        created_by: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<Uuid, sqlx::Error>;
}

#[async_trait::async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_token(
        &self,
        owner: Uuid,
        name: &str,
        token_hash: &[u8],
        scope: crate::model::TokenScope,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<crate::model::ApiToken, sqlx::Error>;

    /// A person's tokens that are not revoked, newest first.
    async fn list_tokens(&self, owner: Uuid) -> Result<Vec<crate::model::ApiToken>, sqlx::Error>;

    /// False when the person has no such token (or it was revoked already).
    async fn revoke_token(&self, owner: Uuid, id: Uuid) -> Result<bool, sqlx::Error>;

    /// The person and scope of a live token: not revoked, not expired, its person enabled. Its
    /// last use is written at most once a minute.
    async fn token_person(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<(Person, crate::model::TokenScope)>, sqlx::Error>;
}

/// The single-user mode's person; the first admin takes it over.
pub const LOCAL_USERNAME: &str = "local";

macro_rules! portable_accounts {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::db::accounts::AccountStore for $backend {
            async fn has_accounts(&self) -> Result<bool, sqlx::Error> {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM instance_setup)")
                    .fetch_one(&self.pool)
                    .await
            }

            async fn create_account(
                &self,
                username: &str,
                password_hash: &str,
                how: $crate::db::accounts::NewAccount<'_>,
            ) -> Result<$crate::db::accounts::Created, sqlx::Error> {
                use $crate::db::accounts::{Created, NewAccount, LOCAL_USERNAME};
                use $crate::model::{Person, AccountRole};
                let at = now();
                let mut tx = self.pool.begin_write().await?;
                // A write first (SQLite takes its write lock, PostgreSQL the row's).
                let role = match how {
                    NewAccount::FirstAdmin => {
                        let local: Option<Uuid> = sqlx::query_scalar(
                            "SELECT id FROM users WHERE username = $1 AND password_hash IS NULL",
                        )
                        .bind(LOCAL_USERNAME)
                        .fetch_optional(&mut *tx)
                        .await?;
                        let id = local.unwrap_or_else(Uuid::now_v7);
                        if local.is_none() {
                            sqlx::query("INSERT INTO users (id, username, created_at) VALUES ($1, $2, $3)")
                                .bind(id).bind(format!("{LOCAL_USERNAME}-{id}")).bind(at)
                                .execute(&mut *tx).await?;
                        }
                        let claimed = sqlx::query(
                            "INSERT INTO instance_setup (id, admin_id, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
                        )
                        .bind(id).bind(at)
                        .execute(&mut *tx).await?;
                        if claimed.rows_affected() == 0 {
                            return Ok(Created::NotFirst);
                        }
                        let taken: bool = sqlx::query_scalar(
                            "SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($1) AND id <> $2)",
                        )
                        .bind(username).bind(id)
                        .fetch_one(&mut *tx).await?;
                        if taken {
                            return Ok(Created::Taken);
                        }
                        sqlx::query("UPDATE users SET username = $1, password_hash = $2, role = 'admin' WHERE id = $3")
                            .bind(username).bind(password_hash).bind(id)
                            .execute(&mut *tx).await?;
                        tx.commit().await?;
                        return Ok(Created::Person(Person { id, username: username.to_string(), role: AccountRole::Admin }));
                    }
                    NewAccount::Open => AccountRole::User,
                    NewAccount::Invited(token_hash) => {
                        let role: Option<String> = sqlx::query_scalar(
                            "UPDATE invitations SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING role",
                        )
                        .bind(at).bind(token_hash)
                        .fetch_optional(&mut *tx).await?;
                        match role.map(AccountRole::try_from) {
                            Some(Ok(role)) => role,
                            _ => return Ok(Created::BadInvitation),
                        }
                    }
                };
                let taken: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($1))",
                )
                .bind(username)
                .fetch_one(&mut *tx).await?;
                if taken {
                    return Ok(Created::Taken);
                }
                let id = Uuid::now_v7();
                sqlx::query("INSERT INTO users (id, username, created_at, password_hash, role) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id).bind(username).bind(at).bind(password_hash).bind(role.as_str())
                    .execute(&mut *tx).await?;
                if let NewAccount::Invited(token_hash) = how {
                    sqlx::query("UPDATE invitations SET used_by = $1 WHERE token_hash = $2")
                        .bind(id).bind(token_hash)
                        .execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(Created::Person(Person { id, username: username.to_string(), role }))
            }

            async fn credentials(
                &self,
                username: &str,
            ) -> Result<Option<$crate::db::accounts::Credentials>, sqlx::Error> {
                sqlx::query_as(
                    "SELECT id, username, role, password_hash, disabled FROM users \
                     WHERE lower(username) = lower($1) AND password_hash IS NOT NULL",
                )
                .bind(username)
                .fetch_optional(&self.pool)
                .await
            }

            async fn insert_session(
                &self,
                token_hash: &[u8],
                person: Uuid,
                expires_at: DateTime<Utc>,
                user_agent: &str,
            ) -> Result<(), sqlx::Error> {
                let at = now();
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, user_agent) \
                     VALUES ($1, $2, $3, $3, $4, $5)",
                )
                .bind(token_hash).bind(person).bind(at).bind(expires_at)
                .bind($crate::text::storable(&user_agent.chars().take(200).collect::<String>()))
                .execute(&self.pool)
                .await
                .map(|_| ())
            }

            async fn session_person(
                &self,
                token_hash: &[u8],
                now: DateTime<Utc>,
            ) -> Result<Option<$crate::model::Person>, sqlx::Error> {
                let found: Option<($crate::model::Person, DateTime<Utc>)> = sqlx::query_as::<_, (Uuid, String, String, DateTime<Utc>)>(
                    "SELECT u.id, u.username, u.role, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
                )
                .bind(token_hash).bind(now)
                .fetch_optional(&self.pool)
                .await?
                .and_then(|(id, username, role, seen)| {
                    let role = $crate::model::AccountRole::try_from(role).ok()?;
                    Some(($crate::model::Person { id, username, role }, seen))
                });
                let Some((person, seen)) = found else {
                    return Ok(None);
                };
                if now - seen > chrono::Duration::seconds(60) {
                    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
                        .bind(now).bind(token_hash)
                        .execute(&self.pool).await?;
                }
                Ok(Some(person))
            }

            async fn delete_session(&self, token_hash: &[u8]) -> Result<(), sqlx::Error> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
            }

            async fn delete_sessions_of(&self, person: Uuid) -> Result<u64, sqlx::Error> {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(person)
                    .execute(&self.pool)
                    .await
                    .map(|r| r.rows_affected())
            }

            async fn list_sessions(
                &self,
                person: Uuid,
                now: DateTime<Utc>,
            ) -> Result<Vec<$crate::db::accounts::StoredSession>, sqlx::Error> {
                sqlx::query_as(
                    "SELECT token_hash, created_at, last_seen_at, expires_at, user_agent FROM sessions                      WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC",
                )
                .bind(person).bind(now)
                .fetch_all(&self.pool)
                .await
            }

            async fn delete_session_of(&self, person: Uuid, hash_prefix: &[u8]) -> Result<bool, sqlx::Error> {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND substr(token_hash, 1, 16) = $2")
                    .bind(person).bind(hash_prefix)
                    .execute(&self.pool)
                    .await
                    .map(|r| r.rows_affected() > 0)
            }

            async fn list_accounts(&self) -> Result<Vec<$crate::model::Account>, sqlx::Error> {
                sqlx::query_as(
                    "SELECT id, username, role, disabled, created_at FROM users \
                     WHERE password_hash IS NOT NULL ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await
            }

            async fn set_disabled(&self, person: Uuid, disabled: bool) -> Result<bool, sqlx::Error> {
                let mut tx = self.pool.begin_write().await?;
                let changed = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2 AND password_hash IS NOT NULL")
                    .bind(disabled).bind(person)
                    .execute(&mut *tx).await?
                    .rows_affected() == 1;
                if changed && disabled {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(person)
                        .execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(changed)
            }

            async fn insert_invitation(
                &self,
                token_hash: &[u8],
                role: $crate::model::AccountRole,
                created_by: Uuid,
                expires_at: DateTime<Utc>,
            ) -> Result<Uuid, sqlx::Error> {
                let id = Uuid::now_v7();
                sqlx::query(
                    "INSERT INTO invitations (id, token_hash, role, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id).bind(token_hash).bind(role.as_str()).bind(created_by).bind(now()).bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(id)
            }
        }
    };
}

macro_rules! portable_tokens {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::db::accounts::TokenStore for $backend {
            async fn insert_token(
                &self,
                owner: Uuid,
                name: &str,
                token_hash: &[u8],
                scope: $crate::model::TokenScope,
                expires_at: Option<DateTime<Utc>>,
            ) -> Result<$crate::model::ApiToken, sqlx::Error> {
                sqlx::query_as(
                    "INSERT INTO api_tokens (id, owner_id, name, token_hash, scope, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     RETURNING id, name, scope, created_at, expires_at, last_used_at",
                )
                .bind(Uuid::now_v7()).bind(owner).bind($crate::text::storable(name)).bind(token_hash)
                .bind(scope.as_str()).bind(now()).bind(expires_at)
                .fetch_one(&self.pool)
                .await
            }

            async fn list_tokens(&self, owner: Uuid) -> Result<Vec<$crate::model::ApiToken>, sqlx::Error> {
                sqlx::query_as(
                    "SELECT id, name, scope, created_at, expires_at, last_used_at FROM api_tokens \
                     WHERE owner_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC",
                )
                .bind(owner)
                .fetch_all(&self.pool)
                .await
            }

            async fn revoke_token(&self, owner: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
                sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND owner_id = $3 AND revoked_at IS NULL")
                    .bind(now()).bind(id).bind(owner)
                    .execute(&self.pool)
                    .await
                    .map(|r| r.rows_affected() == 1)
            }

            async fn token_person(
                &self,
                token_hash: &[u8],
                now: DateTime<Utc>,
            ) -> Result<Option<($crate::model::Person, $crate::model::TokenScope)>, sqlx::Error> {
                let found = sqlx::query_as::<_, (Uuid, Uuid, String, String, String, Option<DateTime<Utc>>)>(
                    "SELECT t.id, u.id, u.username, u.role, t.scope, t.last_used_at FROM api_tokens t JOIN users u ON u.id = t.owner_id \
                     WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2) \
                     AND NOT u.disabled AND u.password_hash IS NOT NULL",
                )
                .bind(token_hash).bind(now)
                .fetch_optional(&self.pool)
                .await?;
                let Some((token_id, id, username, role, scope, used)) = found else {
                    return Ok(None);
                };
                let (Ok(role), Ok(scope)) = (
                    $crate::model::AccountRole::try_from(role),
                    $crate::model::TokenScope::try_from(scope),
                ) else {
                    return Ok(None);
                };
                if used.is_none_or(|used| now - used > chrono::Duration::seconds(60)) {
                    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                        .bind(now).bind(token_id)
                        .execute(&self.pool).await?;
                }
                Ok(Some(($crate::model::Person { id, username, role }, scope)))
            }
        }
    };
}

pub(super) use portable_accounts;
pub(super) use portable_tokens;
