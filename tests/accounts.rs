//! Accounts on SQLite and PostgreSQL: the first person creates the admin (and takes over what
//! the single-user mode made), sign-up by invitation, sign-in with a constant answer for every
//! failure and a limit on failures, sessions in HttpOnly SameSite cookies, sign-out here and
//! everywhere, a disabled person stopped at once, each person seeing only their own things,
//! and the pages sending the browser to sign in.

mod common;

use common::{Backend, TestApp};
use ollamastack::model::{AuthMode, SignupPolicy};
use ollamastack::testing::fake_ollama::FakeConfig;
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

/// A browser of its own: its cookie, no redirects followed.
struct Browser {
    http: reqwest::Client,
    url: String,
    cookie: Option<String>,
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            url: app.url.clone(),
            cookie: None,
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.url));
        match &self.cookie {
            Some(cookie) => request.header(header::COOKIE, cookie),
            None => request,
        }
    }

    /// Sends JSON (or nothing); keeps a session cookie it is given.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        self.keep_cookie(&headers);
        (
            status,
            response.json().await.unwrap_or(Value::Null),
            headers,
        )
    }

    fn keep_cookie(&mut self, headers: &reqwest::header::HeaderMap) {
        for value in headers.get_all(header::SET_COOKIE) {
            let value = value.to_str().unwrap();
            let pair = value.split(';').next().unwrap().to_string();
            if pair.starts_with("ollamastack_session=") {
                self.cookie = (pair != "ollamastack_session=").then_some(pair);
            }
        }
    }

    async fn sign_up(&mut self, name: &str, invitation: Option<&str>) -> (StatusCode, Value) {
        let (status, body, _) = self
            .call(Method::POST, "/api/v1/auth/signup", Some(json!({"username": name, "password": "correct horse battery", "invitation": invitation})))
            .await;
        (status, body)
    }

    async fn sign_in(
        &mut self,
        name: &str,
        password: &str,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        self.call(
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": name, "password": password})),
        )
        .await
    }
}

async fn accounts_app(backend: Backend) -> TestApp {
    TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.auth.mode = AuthMode::Accounts;
        settings.auth.signup = SignupPolicy::Invite;
        settings.auth.max_failed_logins = 3;
    })
    .await
}

async fn the_first_person_is_the_admin_and_others_need_an_invitation(backend: Backend) {
    let app = accounts_app(backend).await;
    let mut anyone = Browser::new(&app);
    // Nothing without signing in; pages go to the sign-up of the first admin.
    let (status, body, _) = anyone
        .call(Method::GET, "/api/v1/conversations", None)
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    let page = anyone
        .request(Method::GET, "/c/123?x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(
        page.headers()[header::LOCATION],
        "/signup?next=/c/123%3Fx%3D1"
    );
    let (_, status_body, _) = anyone.call(Method::GET, "/api/v1/auth/status", None).await;
    assert_eq!(status_body["needs_setup"], true, "{status_body}");
    assert_eq!(status_body["person"], Value::Null);
    let health = anyone
        .request(Method::GET, "/healthz")
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // The first sign-up is the admin, signed in with a cookie scripts cannot read.
    let mut alice = Browser::new(&app);
    let response = alice
        .request(Method::POST, "/api/v1/auth/signup")
        .json(&json!({"username": "alice", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http on localhost: {cookie}"
    );
    alice.keep_cookie(response.headers());
    let admin: Value = response.json().await.unwrap();
    assert_eq!(admin["role"], "admin", "{admin}");
    let (_, me, _) = alice.call(Method::GET, "/api/v1/auth/status", None).await;
    assert_eq!(me["person"]["username"], "alice");
    assert_eq!(me["needs_setup"], false);

    // Sign-up is by invitation now.
    let mut bob = Browser::new(&app);
    let (status, refused) = bob.sign_up("bob", None).await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invitation"));
    let (status, _, _) = bob
        .call(Method::POST, "/api/v1/admin/invitations", Some(json!({})))
        .await;
    assert_eq!(status, 401);
    let (status, invitation, _) = alice
        .call(
            Method::POST,
            "/api/v1/admin/invitations",
            Some(json!({"role": "user"})),
        )
        .await;
    assert_eq!(status, 201, "{invitation}");
    let link = invitation["link"].as_str().unwrap();
    let token = link.strip_prefix("/signup?invite=").unwrap();
    let (status, taken) = bob.sign_up("ALICE", Some(token)).await;
    assert_eq!(status, 409, "names are unique whatever their case: {taken}");
    let (status, made) = bob.sign_up("bob", Some(token)).await;
    assert_eq!(
        status, 201,
        "a refused sign-up left the invitation unused: {made}"
    );
    assert_eq!(made["role"], "user");
    let mut carol = Browser::new(&app);
    let (status, _) = carol.sign_up("carol", Some(token)).await;
    assert_eq!(status, 403, "an invitation is used once");
    let (status, _) = carol.sign_up("carol", Some("made-up")).await;
    assert_eq!(status, 403);

    // Each sees their own; another's id is as absent as one that does not exist.
    let (status, sent, _) = alice
        .call(
            Method::POST,
            "/api/v1/conversations",
            Some(json!({"content": "Alice's secret [tokens=3]"})),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let theirs = sent["conversation"]["id"].as_str().unwrap().to_string();
    let (_, listed, _) = bob.call(Method::GET, "/api/v1/conversations", None).await;
    assert_eq!(listed.as_array().unwrap().len(), 0, "{listed}");
    for path in [
        format!("/api/v1/conversations/{theirs}"),
        format!("/api/v1/conversations/{theirs}/export"),
    ] {
        let (status, _, _) = bob.call(Method::GET, &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _, _) = bob
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{theirs}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, listed, _) = alice.call(Method::GET, "/api/v1/conversations", None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // Settings of the whole server are the admin's; a person's own are theirs.
    let (status, _, _) = bob
        .call(
            Method::PUT,
            "/api/v1/settings/features.analytics",
            Some(json!({"value": false})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = bob
        .call(
            Method::PUT,
            "/api/v1/settings/ui.theme",
            Some(json!({"value": "dark"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, theme, _) = alice
        .call(Method::GET, "/api/v1/settings/ui.theme", None)
        .await;
    assert_ne!(theme["value"], "dark", "{theme}");
    // Only admins see the people, and for others the route does not exist.
    let (status, _, _) = bob.call(Method::GET, "/api/v1/admin/people", None).await;
    assert_eq!(status, 404);
    let (status, people, _) = alice.call(Method::GET, "/api/v1/admin/people", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = people
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    // A disabled person is stopped at once, and cannot sign in again.
    let bob_id = made["id"].as_str().unwrap();
    let (status, _, _) = alice
        .call(
            Method::PUT,
            &format!("/api/v1/admin/people/{bob_id}/disabled"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _, _) = bob.call(Method::GET, "/api/v1/conversations", None).await;
    assert_eq!(status, 401);
    let (status, body, _) = bob.sign_in("bob", "correct horse battery").await;
    assert_eq!(status, 401, "{body}");
    let admin_id = admin["id"].as_str().unwrap();
    let (status, _, _) = alice
        .call(
            Method::PUT,
            &format!("/api/v1/admin/people/{admin_id}/disabled"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 422, "an admin cannot lock themselves out");
}

async fn signing_in_and_out(backend: Backend) {
    let app = accounts_app(backend).await;
    let mut alice = Browser::new(&app);
    assert_eq!(alice.sign_up("alice", None).await.0, 201);

    // Every failure has the same answer; too many wait.
    let mut stranger = Browser::new(&app);
    let (status, wrong, _) = stranger.sign_in("alice", "not her password").await;
    assert_eq!(status, 401);
    let (status, unknown, _) = stranger.sign_in("nobody", "not her password").await;
    assert_eq!(status, 401);
    assert_eq!(
        wrong, unknown,
        "an unknown name is not told apart from a wrong password"
    );
    stranger.sign_in("alice", "still wrong").await;
    stranger.sign_in("alice", "wrong again").await;
    let (status, limited, headers) = stranger.sign_in("alice", "correct horse battery").await;
    assert_eq!(status, 429, "{limited}");
    assert!(headers.contains_key(header::RETRY_AFTER));

    // Two sessions; signing out ends one; "everywhere" ends all.
    // The limit is per name: alice waits now, the rest is done as dana.
    let app2 = app;
    let mut one = Browser::new(&app2);
    let mut two = Browser::new(&app2);
    let (_, invitation, _) = alice
        .call(Method::POST, "/api/v1/admin/invitations", Some(json!({})))
        .await;
    let token = invitation["link"]
        .as_str()
        .unwrap()
        .strip_prefix("/signup?invite=")
        .unwrap()
        .to_string();
    assert_eq!(one.sign_up("dana", Some(&token)).await.0, 201);
    assert_eq!(
        two.sign_in("Dana", "correct horse battery").await.0,
        200,
        "names sign in whatever their case"
    );
    let (status, _, headers) = one.call(Method::POST, "/api/v1/auth/logout", None).await;
    assert_eq!(status, 204);
    assert!(headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        one.call(Method::GET, "/api/v1/conversations", None).await.0,
        401
    );
    assert_eq!(
        two.call(Method::GET, "/api/v1/conversations", None).await.0,
        200
    );
    assert_eq!(one.sign_in("dana", "correct horse battery").await.0, 200);
    let (status, ended, _) = two
        .call(Method::POST, "/api/v1/auth/logout-everywhere", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(ended["ended"], 2, "{ended}");
    let mut stale = Browser::new(&app2);
    stale.cookie = one.cookie.clone();
    assert_eq!(
        stale
            .call(Method::GET, "/api/v1/conversations", None)
            .await
            .0,
        401
    );

    // The sign-in page's form: a redirect to where the person was going, never to another site.
    let form = Browser::new(&app2);
    for (next, expected) in [
        ("/c/abc", "/c/abc"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
    ] {
        let response = form
            .request(Method::POST, "/api/v1/auth/login")
            .form(&[
                ("username", "dana"),
                ("password", "correct horse battery"),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{next}");
        assert_eq!(response.headers()[header::LOCATION], expected, "{next}");
        assert!(response.headers().contains_key(header::SET_COOKIE));
    }
    let response = form
        .request(Method::POST, "/api/v1/auth/login")
        .form(&[
            ("username", "dana"),
            ("password", "wrong password!"),
            ("next", "/c/abc"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let back = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(
        back.starts_with("/login?error=wrong%20name%20or%20password&next=/c/abc"),
        "{back}"
    );
}

async fn the_first_admin_keeps_what_was_made_before_accounts(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, sent) = app
        .post(
            "/api/v1/conversations",
            json!({"content": "Made alone [tokens=3]"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    // Alone there is nobody to invite: the reason says how to have people.
    let (status, refused) = app
        .post("/api/v1/admin/invitations", json!({"role": "user"}))
        .await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("OLLAMASTACK_AUTH_MODE=accounts")),
        "{refused}"
    );
    let page = app.page("/admin").await;
    assert!(page.contains("single-user-note"), "the page says so");
    assert!(!page.contains("invite-user"), "and offers no invitation");
    let (db, fake) = app.shutdown().await;
    let mut settings = common::test_settings(&db, &fake.url());
    settings.auth.mode = AuthMode::Accounts;
    let app = TestApp::serve(db, fake, settings).await;
    let mut admin = Browser::new(&app);
    assert_eq!(admin.sign_up("owner", None).await.0, 201);
    let (_, listed, _) = admin.call(Method::GET, "/api/v1/conversations", None).await;
    assert_eq!(listed[0]["title"], "Made alone [tokens=3]", "{listed}");
}

async fn personal_tokens_for_scripts(backend: Backend) {
    let app = accounts_app(backend).await;
    let mut alice = Browser::new(&app);
    assert_eq!(alice.sign_up("alice", None).await.0, 201);
    let (status, made, _) = alice
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "backup script"})),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("osk_") && token.len() == 47, "{token}");
    assert_eq!(made["scope"], "read_write");
    let (_, listed, _) = alice.call(Method::GET, "/api/v1/tokens", None).await;
    assert_eq!(listed[0]["name"], "backup script", "{listed}");
    assert!(
        listed[0].get("token").is_none(),
        "never shown again: {listed}"
    );
    assert_eq!(listed[0]["last_used_at"], Value::Null);

    // A script: the token alone, no cookie.
    let script = |token: &str| {
        let http = reqwest::Client::new();
        let (url, token) = (app.url.clone(), token.to_string());
        move |method: Method, path: &str| {
            http.request(method, format!("{url}{path}"))
                .bearer_auth(&token)
        }
    };
    let writer = script(&token);
    let sent = writer(Method::POST, "/api/v1/conversations")
        .json(&json!({"content": "From a script [tokens=3]"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);
    let (_, listed, _) = alice.call(Method::GET, "/api/v1/conversations", None).await;
    assert_eq!(
        listed[0]["title"], "From a script [tokens=3]",
        "it is Alice's: {listed}"
    );
    let (_, tokens_now, _) = alice.call(Method::GET, "/api/v1/tokens", None).await;
    assert_ne!(tokens_now[0]["last_used_at"], Value::Null, "{tokens_now}");
    // A token cannot manage tokens.
    let response = writer(Method::GET, "/api/v1/tokens").send().await.unwrap();
    assert_eq!(response.status(), 403);

    // Read-only: reads, never writes.
    let (_, reader, _) = alice
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "dashboard", "scope": "read", "expires_in_days": 30})),
        )
        .await;
    assert_ne!(reader["expires_at"], Value::Null);
    let read_only = script(reader["token"].as_str().unwrap());
    assert_eq!(
        read_only(Method::GET, "/api/v1/conversations")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let refused = read_only(Method::POST, "/api/v1/conversations")
        .json(&json!({"content": "no"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let (status, _, _) = alice
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "x", "expires_in_days": 0})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _, _) = alice
        .call(Method::POST, "/api/v1/tokens", Some(json!({"name": "  "})))
        .await;
    assert_eq!(status, 422);

    // A wrong token is refused even beside a good cookie; someone else cannot revoke it.
    let forged = alice
        .request(Method::GET, "/api/v1/conversations")
        .bearer_auth("osk_not-a-real-token")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let (_, invitation, _) = alice
        .call(Method::POST, "/api/v1/admin/invitations", Some(json!({})))
        .await;
    let invite = invitation["link"]
        .as_str()
        .unwrap()
        .strip_prefix("/signup?invite=")
        .unwrap()
        .to_string();
    let mut bob = Browser::new(&app);
    let (_, bob_made) = bob.sign_up("bob", Some(&invite)).await;
    let token_id = made["id"].as_str().unwrap();
    let (status, _, _) = bob
        .call(Method::DELETE, &format!("/api/v1/tokens/{token_id}"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        writer(Method::GET, "/api/v1/conversations")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Revoked, it stops at once; a disabled person's tokens stop too.
    let (status, _, _) = alice
        .call(Method::DELETE, &format!("/api/v1/tokens/{token_id}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        writer(Method::GET, "/api/v1/conversations")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let (_, bobs, _) = bob
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "bob's"})),
        )
        .await;
    let bobs_script = script(bobs["token"].as_str().unwrap());
    assert_eq!(
        bobs_script(Method::GET, "/api/v1/conversations")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let bob_id = bob_made["id"].as_str().unwrap();
    alice
        .call(
            Method::PUT,
            &format!("/api/v1/admin/people/{bob_id}/disabled"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(
        bobs_script(Method::GET, "/api/v1/conversations")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

/// A person sees their signed-in browsers and signs one out from another.
async fn a_person_sees_and_ends_their_sessions(backend: Backend) {
    let app = accounts_app(backend).await;
    let mut laptop = Browser::new(&app);
    laptop
        .http
        .post(format!("{}/api/v1/auth/signup", app.url))
        .header(header::USER_AGENT, "Laptop browser")
        .json(&json!({"username": "alice", "password": "correct horse battery"}))
        .send()
        .await
        .map(|r| laptop.keep_cookie(r.headers()))
        .unwrap();
    let phone = app
        .http
        .post(format!("{}/api/v1/auth/login", app.url))
        .header(header::USER_AGENT, "Phone browser")
        .json(&json!({"username": "alice", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let phone_cookie = common::session_cookie(&phone);
    let (status, sessions, _) = laptop
        .call(Method::GET, "/api/v1/auth/sessions", None)
        .await;
    assert_eq!(status, 200, "{sessions}");
    let sessions = sessions.as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let mine = sessions.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(mine["user_agent"], "Laptop browser");
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["user_agent"], "Phone browser");
    assert!(other.get("token_hash").is_none() && other.get("token").is_none());
    // The phone is signed out from the laptop, at once.
    let path = format!("/api/v1/auth/sessions/{}", other["id"].as_str().unwrap());
    let (status, _, _) = laptop.call(Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, _) = common::call_as(
        &app,
        &phone_cookie,
        Method::GET,
        "/api/v1/conversations",
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = laptop.call(Method::DELETE, &path, None).await;
    assert_eq!(status, 404, "gone already");
    let (_, left, _) = laptop
        .call(Method::GET, "/api/v1/auth/sessions", None)
        .await;
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
}

on_both_backends!(
    a_person_sees_and_ends_their_sessions,
    the_first_person_is_the_admin_and_others_need_an_invitation,
    signing_in_and_out,
    the_first_admin_keeps_what_was_made_before_accounts,
    personal_tokens_for_scripts,
);
