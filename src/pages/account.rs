//! Signing in and up (plain HTML forms posted to /api/v1/auth: they work before and without
//! the WebAssembly) and the admin's page of people and invitations.

use crate::model::{Account, AccountRole, SignupPolicy};
use crate::server_fns::accounts::{
    create_invitation, get_auth_status, list_people, set_person_disabled,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// A query parameter of the page's address.
fn query_value(name: &'static str) -> impl Fn() -> Option<String> + Copy {
    let query = use_query_map();
    move || query.with(|q| q.get(name)).filter(|v| !v.is_empty())
}

#[component]
fn AuthCard(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=title/>
        <div class="flex min-h-0 flex-1 items-center justify-center p-6">
            <div class="w-full max-w-sm rounded-2xl border border-line bg-surface p-6 shadow-sm">
                <h1 class="mb-4 text-xl font-semibold">{title}</h1>
                {children()}
            </div>
        </div>
    }
}

const FIELD: &str = "w-full rounded-md border border-line bg-app px-3 py-2 text-fg focus:border-primary focus:outline-none";

#[component]
pub fn LoginPage() -> impl IntoView {
    let error = query_value("error");
    let next = query_value("next");
    let status = Resource::new(|| (), |_| get_auth_status());
    view! {
        <AuthCard title="Sign in">
            {move || error().map(|e| view! { <p role="alert" data-testid="auth-error" class="mb-3 rounded-md border border-danger bg-danger-soft px-3 py-2 text-sm text-danger">{e}</p> })}
            <form method="post" action="/api/v1/auth/login" class="grid gap-3" data-testid="login-form">
                <input type="hidden" name="next" value=move || next().unwrap_or_else(|| "/".into())/>
                <label class="grid gap-1 text-sm">"Name"
                    <input name="username" autocomplete="username" required class=FIELD data-testid="login-username"/>
                </label>
                <label class="grid gap-1 text-sm">"Password"
                    <input name="password" type="password" autocomplete="current-password" required class=FIELD data-testid="login-password"/>
                </label>
                <button type="submit" data-testid="login-submit" class="rounded-md bg-primary px-3 py-2 font-medium text-on-primary hover:opacity-90">"Sign in"</button>
            </form>
            <Suspense>
                {move || Suspend::new(async move {
                    status.await.ok().filter(|s| s.needs_setup || s.signup != SignupPolicy::Closed).map(|s| view! {
                        <p class="mt-4 text-sm text-muted">
                            {if s.needs_setup { "This server has no account yet: " } else { "No account? " }}
                            <a href="/signup" class="text-primary hover:underline">{if s.needs_setup { "create the admin account" } else { "sign up" }}</a>
                        </p>
                    })
                })}
            </Suspense>
        </AuthCard>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let error = query_value("error");
    let next = query_value("next");
    let invitation = query_value("invite");
    let status = Resource::new(|| (), |_| get_auth_status());
    view! {
        <AuthCard title="Create an account">
            <Suspense>
                {move || Suspend::new(async move {
                    let status = status.await.ok();
                    let first = status.as_ref().is_some_and(|s| s.needs_setup);
                    let note = if first {
                        Some("You are the first here: this account will be the admin.")
                    } else if invitation().is_some() {
                        None
                    } else {
                        match status.map(|s| s.signup) {
                            Some(SignupPolicy::Invite) => Some("Sign-up needs an invitation link from an admin."),
                            Some(SignupPolicy::Closed) => Some("Sign-up is closed on this server."),
                            _ => None,
                        }
                    };
                    note.map(|note| view! { <p data-testid="signup-note" class="mb-3 text-sm text-muted">{note}</p> })
                })}
            </Suspense>
            {move || error().map(|e| view! { <p role="alert" data-testid="auth-error" class="mb-3 rounded-md border border-danger bg-danger-soft px-3 py-2 text-sm text-danger">{e}</p> })}
            <form method="post" action="/api/v1/auth/signup" class="grid gap-3" data-testid="signup-form">
                <input type="hidden" name="next" value=move || next().unwrap_or_else(|| "/".into())/>
                <input type="hidden" name="invitation" value=move || invitation().unwrap_or_default()/>
                <label class="grid gap-1 text-sm">"Name"
                    <input name="username" autocomplete="username" required minlength="3" maxlength="40" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]*" class=FIELD data-testid="signup-username"/>
                </label>
                <label class="grid gap-1 text-sm">"Password (at least 10 characters)"
                    <input name="password" type="password" autocomplete="new-password" required minlength="10" class=FIELD data-testid="signup-password"/>
                </label>
                <button type="submit" data-testid="signup-submit" class="rounded-md bg-primary px-3 py-2 font-medium text-on-primary hover:opacity-90">"Create the account"</button>
            </form>
            <p class="mt-4 text-sm text-muted">"Already have an account? "<a href="/login" class="text-primary hover:underline">"Sign in"</a></p>
        </AuthCard>
    }
}

/// The people of the instance (admins only; for others the page says it does not exist).
#[component]
pub fn AdminPage() -> impl IntoView {
    let people = RwSignal::new(None::<Result<Vec<Account>, String>>);
    let load = Resource::new(|| (), |_| list_people());
    // Who is looking: their own row offers no Disable (the server refuses it anyway).
    let me = Resource::new(|| (), |_| get_auth_status());
    let invitation = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let toggle = move |id: uuid::Uuid, disabled: bool| {
        leptos::task::spawn_local(async move {
            match set_person_disabled(id, disabled).await {
                Ok(list) => people.set(Some(Ok(list))),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    let invite = move |role: AccountRole| {
        leptos::task::spawn_local(async move {
            match create_invitation(role).await {
                Ok(made) => {
                    let origin = web_origin();
                    invitation.set(Some(format!("{origin}{}", made.link)));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    view! {
        <Title text=crate::app::page_title("People")/>
        <div class="mx-auto w-full max-w-3xl overflow-y-auto p-6" data-testid="admin-page">
            <div class="mb-4 flex flex-wrap items-center gap-2">
                <h1 class="mr-auto text-xl font-semibold">"People"</h1>
                <a href="/admin/models" data-testid="models-link" class="text-sm text-primary hover:underline">"Models and servers"</a>
                <a href="/admin/defaults" data-testid="instance-defaults-link" class="text-sm text-primary hover:underline">"Defaults for everyone"</a>
            </div>
            {move || error.get().map(|e| view! { <p role="alert" class="mb-3 text-sm text-danger">{e}</p> })}
            <Suspense>
                {move || Suspend::new(async move {
                    // Without sign-in there is nobody to invite: say how to have people instead.
                    let single_user = me.await.ok().is_some_and(|s| s.mode == crate::model::AuthMode::SingleUser);
                    if single_user {
                        view! {
                            <p data-testid="single-user-note" class="mb-4 rounded-md border border-line bg-surface p-3 text-sm">
                                "This server runs for one person, without sign-in: everything here is yours. "
                                "To share it, start it with " <code>"OLLAMASTACK_AUTH_MODE=accounts"</code>
                                " (" <code>"auth.mode = \"accounts\""</code> "): the first to sign up becomes its admin and can invite others here."
                            </p>
                        }.into_any()
                    } else {
                        view! {
                            <div class="mb-4 flex flex-wrap items-center gap-2">
                                <button type="button" data-testid="invite-user" class="rounded-md bg-primary px-3 py-1.5 text-sm font-medium text-on-primary" on:click=move |_| invite(AccountRole::User)>"Invite someone"</button>
                                <button type="button" data-testid="invite-admin" class="rounded-md border border-line px-3 py-1.5 text-sm" on:click=move |_| invite(AccountRole::Admin)>"Invite an admin"</button>
                            </div>
                        }.into_any()
                    }
                })}
            </Suspense>
            {move || invitation.get().map(|link| view! {
                <p class="mb-4 rounded-md border border-line bg-surface p-3 text-sm">
                    "Send this link (shown once, used once): "
                    <code data-testid="invitation-link" class="break-all">{link}</code>
                </p>
            })}
            <Suspense fallback=|| view! { <p class="text-sm text-muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let loaded = load.await.map_err(|e| e.to_string());
                    let my_id = me.await.ok().and_then(|status| status.person).map(|p| p.id);
                    if people.get_untracked().is_none() {
                        people.set(Some(loaded));
                    }
                    move || match people.get() {
                        // Nobody signed up (a server without sign-in): the note above says why.
                        Some(Ok(list)) if list.is_empty() => ().into_any(),
                        Some(Ok(list)) => view! {
                            // On a phone the table scrolls sideways inside its box; the page does not.
                            <div class="overflow-x-auto">
                                <table class="w-full text-sm [&_td]:pr-3 [&_th]:pr-3" data-testid="people">
                                    <thead><tr class="text-left text-muted"><th class="py-1">"Name"</th><th>"Role"</th><th>"Since"</th><th></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|person| {
                                            let (id, disabled) = (person.id, person.disabled);
                                            view! {
                                                <tr data-testid="person" data-disabled=disabled.to_string() class="border-t border-line">
                                                    <td class="py-1.5">{person.username.clone()}</td>
                                                    <td>{person.role.as_str()}</td>
                                                    <td>{person.created_at.format("%Y-%m-%d").to_string()}</td>
                                                    <td class="text-right">
                                                        {if my_id == Some(id) {
                                                            view! { <span class="text-muted" data-testid="person-is-you">"you"</span> }.into_any()
                                                        } else {
                                                            view! {
                                                                <button type="button" data-testid="toggle-person" class="rounded border border-line px-2 py-0.5"
                                                                    on:click=move |_| toggle(id, !disabled)>
                                                                    {if disabled { "Enable" } else { "Disable" }}
                                                                </button>
                                                            }.into_any()
                                                        }}
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                        Some(Err(e)) => view! { <p class="text-sm text-danger">{e}</p> }.into_any(),
                        None => ().into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

/// `https://host:port` of the page, for links to send.
fn web_origin() -> String {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    String::new()
}

/// The person's API tokens (accounts mode): made here, shown once, revoked here.
#[component]
pub fn TokensSection() -> impl IntoView {
    use crate::model::{ApiToken, AuthMode, TokenScope};
    use crate::server_fns::accounts::{create_api_token, list_api_tokens, revoke_api_token};
    let status = Resource::new(|| (), |_| get_auth_status());
    let loaded = Resource::new(|| (), |_| list_api_tokens());
    let tokens = RwSignal::new(Vec::<ApiToken>::new());
    let name = RwSignal::new(String::new());
    let read_only = RwSignal::new(false);
    let days = RwSignal::new(String::from("90"));
    let shown = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let refresh = move || {
        leptos::task::spawn_local(async move {
            if let Ok(list) = list_api_tokens().await {
                tokens.set(list);
            }
        })
    };
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let scope = if read_only.get_untracked() {
            TokenScope::Read
        } else {
            TokenScope::ReadWrite
        };
        let expires = days.get_untracked().trim().parse::<u32>().ok();
        let label = name.get_untracked();
        leptos::task::spawn_local(async move {
            match create_api_token(label, scope, expires).await {
                Ok(made) => {
                    error.set(None);
                    shown.set(Some(made.token));
                    name.set(String::new());
                    refresh();
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    let revoke = move |id: uuid::Uuid| {
        leptos::task::spawn_local(async move {
            match revoke_api_token(id).await {
                Ok(list) => tokens.set(list),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let accounts = status.await.ok().is_some_and(|s| s.mode == AuthMode::Accounts && s.person.is_some());
                let list = loaded.await.unwrap_or_default();
                if tokens.with_untracked(Vec::is_empty) {
                    tokens.set(list);
                }
                accounts.then(|| view! {
                    <section class="grid gap-3 rounded-xl border border-line p-4" aria-labelledby="tokens-heading" data-testid="tokens">
                        <h2 id="tokens-heading" class="font-semibold">"API tokens"</h2>
                        <p class="text-xs text-muted">"For scripts: send " <code>"Authorization: Bearer <token>"</code> " to /api/v1. A token is shown once; a read token can only read."</p>
                        <form class="flex flex-wrap items-end gap-2 text-sm" on:submit=create>
                            <label class="grid gap-1">"Name"
                                <input data-testid="token-name" required maxlength="100" class="rounded-md border border-line bg-app px-2 py-1"
                                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                            </label>
                            <label class="grid gap-1">"Expires in days (empty: never)"
                                <input data-testid="token-days" inputmode="numeric" class="w-24 rounded-md border border-line bg-app px-2 py-1"
                                    prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev))/>
                            </label>
                            <label class="flex items-center gap-1">
                                <input type="checkbox" data-testid="token-read-only" prop:checked=move || read_only.get()
                                    on:change=move |ev| read_only.set(event_target_checked(&ev))/>
                                "Read only"
                            </label>
                            <button type="submit" data-testid="token-create" class="rounded-md bg-primary px-3 py-1 font-medium text-on-primary">"Make a token"</button>
                        </form>
                        {move || error.get().map(|e| view! { <p role="alert" class="text-sm text-danger">{e}</p> })}
                        {move || shown.get().map(|token| view! {
                            <p class="rounded-md border border-warning bg-warning-soft p-2 text-sm">
                                "Copy it now, it is not shown again: "
                                <code data-testid="token-value" class="break-all">{token}</code>
                            </p>
                        })}
                        <ul class="grid gap-1 text-sm" data-testid="token-list">
                            <For each=move || tokens.get() key=|t| t.id let:token>
                                {
                                    let id = token.id;
                                    let used = token.last_used_at.map_or_else(|| "never used".to_string(), |t| format!("last used {}", t.format("%Y-%m-%d %H:%M")));
                                    let expires = token.expires_at.map_or_else(|| "no expiry".to_string(), |t| format!("expires {}", t.format("%Y-%m-%d")));
                                    view! {
                                        <li data-testid="token-item" class="flex flex-wrap items-center gap-2 rounded-md border border-line px-2 py-1">
                                            <span class="font-medium">{token.name.clone()}</span>
                                            <span class="text-muted">{token.scope.as_str()}" · "{used}" · "{expires}</span>
                                            <button type="button" data-testid="token-revoke" class="ml-auto text-danger hover:underline" on:click=move |_| revoke(id)>"Revoke"</button>
                                        </li>
                                    }
                                }
                            </For>
                        </ul>
                    </section>
                })
            })}
        </Suspense>
    }
}

/// The person's signed-in browsers, with "sign out" for each (accounts mode only).
#[component]
pub fn SessionsSection() -> impl IntoView {
    use crate::model::{AuthMode, SessionInfo};
    use crate::server_fns::accounts::{end_session, list_sessions};
    let status = Resource::new(|| (), |_| get_auth_status());
    let loaded = Resource::new(|| (), |_| list_sessions());
    let sessions = RwSignal::new(None::<Vec<SessionInfo>>);
    let error = RwSignal::new(None::<String>);
    let end = move |id: uuid::Uuid| {
        leptos::task::spawn_local(async move {
            match end_session(id).await {
                Ok(list) => sessions.set(Some(list)),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let accounts = status.await.ok().is_some_and(|s| s.mode == AuthMode::Accounts && s.person.is_some());
                let first = loaded.await.unwrap_or_default();
                if sessions.with_untracked(Option::is_none) {
                    sessions.set(Some(first));
                }
                accounts.then(|| view! {
                    <section class="grid gap-3 rounded-xl border border-line p-4" aria-labelledby="sessions-heading" data-testid="sessions">
                        <h2 id="sessions-heading" class="font-semibold">"Signed-in browsers"</h2>
                        <p class="text-xs text-muted">"Sign out a browser you no longer use; it is signed out at once."</p>
                        {move || error.get().map(|e| view! { <p role="alert" class="text-sm text-danger">{e}</p> })}
                        <ul class="grid gap-1 text-sm" data-testid="session-list">
                            <For each=move || sessions.get().unwrap_or_default() key=|s| s.id let:session>
                                {
                                    let id = session.id;
                                    let browser = if session.user_agent.trim().is_empty() { "Unknown browser".to_string() } else { session.user_agent.chars().take(80).collect() };
                                    view! {
                                        <li data-testid="session-item" class="flex flex-wrap items-center gap-2 rounded-md border border-line px-2 py-1">
                                            <span class="font-medium break-all">{browser}</span>
                                            <span class="text-muted">
                                                {format!("signed in {} · last seen {}", session.created_at.format("%Y-%m-%d %H:%M"), session.last_seen_at.format("%Y-%m-%d %H:%M"))}
                                            </span>
                                            {if session.current {
                                                view! { <span class="ml-auto text-xs text-muted" data-testid="session-current">"this browser"</span> }.into_any()
                                            } else {
                                                view! { <button type="button" data-testid="session-end" class="ml-auto text-danger hover:underline" on:click=move |_| end(id)>"Sign out"</button> }.into_any()
                                            }}
                                        </li>
                                    }
                                }
                            </For>
                        </ul>
                    </section>
                })
            })}
        </Suspense>
    }
}
