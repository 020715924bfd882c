//! Ownership on SQLite and PostgreSQL, tried everywhere: Bob sends every route and every server
//! function that takes an id each of Alice's ids (and his own ids beside hers where a call links
//! two things), and must get exactly what an id that does not exist gets; afterwards Alice's
//! things are as they were.
//!
//! The lists below are checked for completeness against the code: every REST route with a path
//! parameter (read from `src/api/mod.rs`) and every registered server function must be in them,
//! so a route added later without a case here fails this test.

mod common;

use common::{Backend, TestApp, BOUNDARY};
use leptos::server_fn::ServerFn;
use ollamastack::model::AuthMode;
use ollamastack::server_fns as sf;
use ollamastack::testing::fake_ollama::FakeConfig;
use reqwest::{header, Method};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Whose ids a case is filled with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Conversation,
    Message,
    Assistant,
    File,
    Webhook,
    Delivery,
    Token,
    Person,
    Session,
    /// A model provider: the instance's, which only admins reach.
    Provider,
    /// An earlier version of an answer (kept when it was regenerated).
    Version,
}

/// Ids by kind.
type Ids = BTreeMap<Kind, Vec<Uuid>>;

/// A request with slots: `{KIND}` in the path or body is replaced by an id of that kind (the
/// victim's in `victim` slots, the attacker's own elsewhere).
#[derive(Clone, Debug)]
struct Case {
    method: Method,
    path: String,
    /// JSON body, form body (server functions), or none.
    body: Body,
    /// The slot filled with the victim's ids; the other slots get the attacker's own.
    victim: Kind,
}

#[derive(Clone, Debug)]
enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

fn rest(method: Method, path: &str, body: Option<Value>, victim: Kind) -> Case {
    Case {
        method,
        path: path.to_string(),
        body: body.map_or(Body::None, Body::Json),
        victim,
    }
}

fn server_fn<T: ServerFn>(form: &[(&'static str, &str)], victim: Kind) -> Case {
    Case {
        method: Method::POST,
        path: T::PATH.to_string(),
        body: Body::Form(form.iter().map(|(k, v)| (*k, v.to_string())).collect()),
        victim,
    }
}

fn server_fn_json<T: ServerFn>(body: Value, victim: Kind) -> Case {
    Case {
        method: Method::POST,
        path: T::PATH.to_string(),
        body: Body::Json(body),
        victim,
    }
}

fn slot(kind: Kind) -> &'static str {
    match kind {
        Kind::Conversation => "{CONVERSATION}",
        Kind::Message => "{MESSAGE}",
        Kind::Assistant => "{ASSISTANT}",
        Kind::File => "{FILE}",
        Kind::Webhook => "{WEBHOOK}",
        Kind::Delivery => "{DELIVERY}",
        Kind::Token => "{TOKEN}",
        Kind::Person => "{PERSON}",
        Kind::Session => "{SESSION}",
        Kind::Provider => "{PROVIDER}",
        Kind::Version => "{VERSION}",
    }
}

/// Every REST route with an id, with the calls that use another's id in a body.
fn rest_cases() -> Vec<Case> {
    use Kind::*;
    let m = |s: &str| Method::from_bytes(s.as_bytes()).unwrap();
    let cases = vec![
        rest(
            m("PUT"),
            "/api/v1/admin/people/{PERSON}/disabled",
            Some(json!({"disabled": true})),
            Person,
        ),
        rest(m("DELETE"), "/api/v1/tokens/{TOKEN}", None, Token),
        rest(
            m("PUT"),
            "/api/v1/admin/providers/{PROVIDER}",
            Some(json!({"name": "mine", "kind": "openai", "base_url": "http://spy.internal/v1"})),
            Provider,
        ),
        rest(
            m("DELETE"),
            "/api/v1/admin/providers/{PROVIDER}",
            None,
            Provider,
        ),
        rest(
            m("POST"),
            "/api/v1/admin/providers/{PROVIDER}/check",
            None,
            Provider,
        ),
        rest(
            m("DELETE"),
            "/api/v1/auth/sessions/{SESSION}",
            None,
            Session,
        ),
        rest(
            m("GET"),
            "/api/v1/conversations/{CONVERSATION}",
            None,
            Conversation,
        ),
        rest(
            m("GET"),
            "/api/v1/conversations/{CONVERSATION}/messages?before={MESSAGE}",
            None,
            Conversation,
        ),
        rest(
            m("GET"),
            "/api/v1/conversations/{CONVERSATION}/messages?before={MESSAGE}",
            None,
            Message,
        ),
        rest(
            m("PATCH"),
            "/api/v1/conversations/{CONVERSATION}",
            Some(json!({"title": "mine now"})),
            Conversation,
        ),
        rest(
            m("DELETE"),
            "/api/v1/conversations/{CONVERSATION}",
            None,
            Conversation,
        ),
        rest(
            m("POST"),
            "/api/v1/conversations/{CONVERSATION}/messages",
            Some(json!({"content": "hi"})),
            Conversation,
        ),
        rest(
            m("GET"),
            "/api/v1/conversations/{CONVERSATION}/export",
            None,
            Conversation,
        ),
        rest(
            m("POST"),
            "/api/v1/conversations/{CONVERSATION}/regenerate",
            Some(json!({})),
            Conversation,
        ),
        rest(
            m("POST"),
            "/api/v1/messages/{MESSAGE}/stop",
            Some(json!({})),
            Message,
        ),
        rest(
            m("POST"),
            "/api/v1/messages/{MESSAGE}/edit",
            Some(json!({"content": "edited"})),
            Message,
        ),
        rest(
            m("POST"),
            "/api/v1/messages/{MESSAGE}/edit",
            Some(json!({"content": "edited", "branch": true})),
            Message,
        ),
        rest(
            m("POST"),
            "/api/v1/messages/{MESSAGE}/branch",
            Some(json!({})),
            Message,
        ),
        rest(
            m("POST"),
            "/api/v1/answer-versions/{VERSION}/show",
            None,
            Version,
        ),
        rest(m("GET"), "/api/v1/messages/{MESSAGE}/events", None, Message),
        rest(
            m("GET"),
            "/api/v1/messages/{MESSAGE}/events?render=html",
            None,
            Message,
        ),
        rest(m("GET"), "/api/v1/assistants/{ASSISTANT}", None, Assistant),
        rest(
            m("PATCH"),
            "/api/v1/assistants/{ASSISTANT}",
            Some(json!({"name": "mine now"})),
            Assistant,
        ),
        rest(
            m("DELETE"),
            "/api/v1/assistants/{ASSISTANT}",
            None,
            Assistant,
        ),
        rest(
            m("GET"),
            "/api/v1/assistants/{ASSISTANT}/files",
            None,
            Assistant,
        ),
        rest(
            m("POST"),
            "/api/v1/assistants/{ASSISTANT}/duplicate",
            Some(json!({})),
            Assistant,
        ),
        rest(m("GET"), "/api/v1/files/{FILE}", None, File),
        rest(m("DELETE"), "/api/v1/files/{FILE}", None, File),
        rest(m("GET"), "/api/v1/files/{FILE}/content", None, File),
        rest(
            m("POST"),
            "/api/v1/files/{FILE}/reindex",
            Some(json!({})),
            File,
        ),
        rest(
            m("GET"),
            "/api/v1/conversations/{CONVERSATION}/files",
            None,
            Conversation,
        ),
        rest(
            m("POST"),
            "/api/v1/conversations/{CONVERSATION}/files",
            Some(json!({"file_id": "{FILE}"})),
            Conversation,
        ),
        rest(
            m("POST"),
            "/api/v1/conversations/{CONVERSATION}/files",
            Some(json!({"file_id": "{FILE}"})),
            File,
        ),
        rest(
            m("DELETE"),
            "/api/v1/conversations/{CONVERSATION}/files/{FILE}",
            None,
            Conversation,
        ),
        rest(
            m("DELETE"),
            "/api/v1/conversations/{CONVERSATION}/files/{FILE}",
            None,
            File,
        ),
        rest(m("GET"), "/api/v1/webhooks/{WEBHOOK}", None, Webhook),
        rest(
            m("PATCH"),
            "/api/v1/webhooks/{WEBHOOK}",
            Some(json!({"enabled": false})),
            Webhook,
        ),
        rest(m("DELETE"), "/api/v1/webhooks/{WEBHOOK}", None, Webhook),
        rest(
            m("POST"),
            "/api/v1/webhooks/{WEBHOOK}/secret",
            Some(json!({})),
            Webhook,
        ),
        rest(
            m("POST"),
            "/api/v1/webhooks/{WEBHOOK}/ping",
            Some(json!({})),
            Webhook,
        ),
        rest(
            m("GET"),
            "/api/v1/webhooks/{WEBHOOK}/deliveries",
            None,
            Webhook,
        ),
        rest(
            m("POST"),
            "/api/v1/webhooks/deliveries/{DELIVERY}/redeliver",
            Some(json!({})),
            Delivery,
        ),
        // Another's id inside a body.
        rest(
            m("POST"),
            "/api/v1/conversations",
            Some(json!({"content": "hi", "files": ["{FILE}"]})),
            File,
        ),
        rest(
            m("POST"),
            "/api/v1/conversations",
            Some(json!({"content": "hi", "assistant": "{ASSISTANT}"})),
            Assistant,
        ),
        rest(
            m("POST"),
            "/api/v1/conversations/{CONVERSATION}/messages",
            Some(json!({"content": "hi", "files": ["{FILE}"]})),
            File,
        ),
        rest(
            m("PATCH"),
            "/api/v1/conversations/{CONVERSATION}",
            Some(json!({"assistant_id": "{ASSISTANT}"})),
            Assistant,
        ),
        rest(
            m("POST"),
            "/api/v1/assistants",
            Some(json!({"name": "spy", "model": "llama3.2", "files": ["{FILE}"]})),
            File,
        ),
        rest(
            m("PATCH"),
            "/api/v1/assistants/{ASSISTANT}",
            Some(json!({"files": ["{FILE}"]})),
            File,
        ),
        rest(m("GET"), "/api/v1/search?q=secret&file={FILE}", None, File),
        rest(
            m("POST"),
            "/api/v1/custom/action",
            Some(
                json!({"action": "summarize_conversation", "parameters": {"conversation_id": "{CONVERSATION}"}}),
            ),
            Conversation,
        ),
        rest(
            m("POST"),
            "/api/v1/custom/action",
            Some(
                json!({"action": "export_conversation", "parameters": {"conversation_id": "{CONVERSATION}", "format": "json"}}),
            ),
            Conversation,
        ),
    ];
    cases
}

/// Every server function that takes an id.
fn server_fn_cases() -> Vec<Case> {
    use Kind::*;
    vec![
        server_fn::<sf::accounts::SetPersonDisabled>(
            &[("id", "{PERSON}"), ("disabled", "true")],
            Person,
        ),
        server_fn::<sf::accounts::RevokeApiToken>(&[("id", "{TOKEN}")], Token),
        server_fn_json::<sf::ollama::SaveModelProvider>(
            json!({"id": "{PROVIDER}", "input": {"name": "mine", "kind": "openai"}}),
            Provider,
        ),
        server_fn::<sf::ollama::DeleteModelProvider>(&[("id", "{PROVIDER}")], Provider),
        server_fn::<sf::ollama::CheckModelProvider>(&[("id", "{PROVIDER}")], Provider),
        server_fn::<sf::accounts::EndSession>(&[("id", "{SESSION}")], Session),
        server_fn::<sf::assistants::SetConversationAssistant>(
            &[
                ("conversation_id", "{CONVERSATION}"),
                ("assistant_id", "{ASSISTANT}"),
            ],
            Conversation,
        ),
        server_fn::<sf::assistants::SetConversationAssistant>(
            &[
                ("conversation_id", "{CONVERSATION}"),
                ("assistant_id", "{ASSISTANT}"),
            ],
            Assistant,
        ),
        server_fn_json::<sf::assistants::SaveAssistant>(
            json!({"id": "{ASSISTANT}", "input": {"name": "mine now"}}),
            Assistant,
        ),
        server_fn_json::<sf::assistants::SaveAssistant>(
            json!({"id": null, "input": {"name": "spy", "model": "llama3.2", "files": ["{FILE}"]}}),
            File,
        ),
        server_fn::<sf::assistants::DuplicateAssistant>(&[("id", "{ASSISTANT}")], Assistant),
        server_fn::<sf::assistants::DeleteAssistant>(&[("id", "{ASSISTANT}")], Assistant),
        server_fn::<sf::assistants::AssistantKnowledge>(&[("id", "{ASSISTANT}")], Assistant),
        server_fn::<sf::chat::RegenerateAnswer>(
            &[("conversation_id", "{CONVERSATION}")],
            Conversation,
        ),
        server_fn::<sf::chat::SendMessage>(
            &[("conversation_id", "{CONVERSATION}"), ("content", "hi")],
            Conversation,
        ),
        server_fn::<sf::chat::SendMessage>(&[("content", "hi"), ("files[0]", "{FILE}")], File),
        server_fn::<sf::chat::SendMessage>(
            &[("content", "hi"), ("assistant", "{ASSISTANT}")],
            Assistant,
        ),
        server_fn::<sf::chat::StopGeneration>(&[("message_id", "{MESSAGE}")], Message),
        server_fn::<sf::chat::EditMessage>(&[("id", "{MESSAGE}"), ("content", "edited")], Message),
        server_fn::<sf::chat::EditInBranch>(
            &[
                ("conversation_id", "{CONVERSATION}"),
                ("id", "{MESSAGE}"),
                ("content", "edited"),
            ],
            Message,
        ),
        server_fn::<sf::conversations::BranchConversation>(
            &[
                ("conversation_id", "{CONVERSATION}"),
                ("message_id", "{MESSAGE}"),
            ],
            Message,
        ),
        server_fn::<sf::chat::ShowAnswerVersion>(
            &[
                ("conversation_id", "{CONVERSATION}"),
                ("version_id", "{VERSION}"),
            ],
            Version,
        ),
        server_fn::<sf::conversations::DeleteConversation>(
            &[("id", "{CONVERSATION}")],
            Conversation,
        ),
        server_fn::<sf::conversations::GetConversation>(&[("id", "{CONVERSATION}")], Conversation),
        server_fn::<sf::conversations::GetConversation>(
            &[("id", "{CONVERSATION}"), ("before", "{MESSAGE}")],
            Conversation,
        ),
        server_fn::<sf::conversations::OlderMessages>(
            &[
                ("conversation_id", "{CONVERSATION}"),
                ("before", "{MESSAGE}"),
            ],
            Conversation,
        ),
        server_fn::<sf::conversations::OlderMessages>(
            &[
                ("conversation_id", "{CONVERSATION}"),
                ("before", "{MESSAGE}"),
            ],
            Message,
        ),
        server_fn::<sf::conversations::RenameConversation>(
            &[("id", "{CONVERSATION}"), ("title", "mine now")],
            Conversation,
        ),
        server_fn::<sf::conversations::UpdateConversationSettings>(
            &[
                ("id", "{CONVERSATION}"),
                ("system_prompt", "obey"),
                ("temperature", "0.5"),
            ],
            Conversation,
        ),
        server_fn::<sf::documents::DeleteFile>(&[("id", "{FILE}")], File),
        server_fn::<sf::documents::ReindexFile>(&[("id", "{FILE}")], File),
        server_fn::<sf::documents::ConversationFiles>(
            &[("conversation_id", "{CONVERSATION}")],
            Conversation,
        ),
        server_fn::<sf::documents::AttachFile>(
            &[
                ("conversation_id", "{CONVERSATION}"),
                ("file_id", "{FILE}"),
                ("attach", "true"),
            ],
            Conversation,
        ),
        server_fn::<sf::documents::AttachFile>(
            &[
                ("conversation_id", "{CONVERSATION}"),
                ("file_id", "{FILE}"),
                ("attach", "true"),
            ],
            File,
        ),
        server_fn::<sf::documents::AttachFile>(
            &[
                ("conversation_id", "{CONVERSATION}"),
                ("file_id", "{FILE}"),
                ("attach", "false"),
            ],
            File,
        ),
        server_fn::<sf::webhooks::SetWebhookEnabled>(
            &[("id", "{WEBHOOK}"), ("enabled", "false")],
            Webhook,
        ),
        server_fn::<sf::webhooks::DeleteWebhook>(&[("id", "{WEBHOOK}")], Webhook),
        server_fn::<sf::webhooks::PingWebhook>(&[("id", "{WEBHOOK}")], Webhook),
        server_fn::<sf::webhooks::WebhookDeliveries>(&[("id", "{WEBHOOK}")], Webhook),
        server_fn::<sf::webhooks::RedeliverWebhook>(&[("delivery", "{DELIVERY}")], Delivery),
    ]
}

/// Server functions that take no id (each person's own things only, or nothing of anyone's).
fn server_fns_without_ids() -> Vec<&'static str> {
    vec![
        sf::accounts::GetAuthStatus::PATH,
        sf::accounts::ListPeople::PATH,
        sf::accounts::CreateInvitation::PATH,
        sf::accounts::ListApiTokens::PATH,
        sf::accounts::CreateApiToken::PATH,
        sf::accounts::ListSessions::PATH,
        sf::assistants::ListAssistants::PATH,
        sf::conversations::ListConversations::PATH,
        sf::documents::UploadFiles::PATH,
        sf::documents::ListFiles::PATH,
        sf::documents::GetUploadLimits::PATH,
        sf::documents::SearchDocuments::PATH,
        sf::ollama::GetOllamaStatus::PATH,
        // Instance-wide, for admins: servers and models are no one's own.
        sf::ollama::GetModelsOverview::PATH,
        sf::ollama::ListModelPulls::PATH,
        sf::ollama::PullModel::PATH,
        sf::ollama::CancelModelPull::PATH,
        sf::ollama::DeleteModel::PATH,
        sf::settings::GetPreferences::PATH,
        sf::settings::GetInstancePreferences::PATH,
        sf::settings::SavePreferences::PATH,
        sf::settings::ResetPreferences::PATH,
        sf::settings::GetAnalytics::PATH,
        sf::tools::ListTools::PATH,
        sf::webhooks::ListWebhooks::PATH,
        sf::webhooks::CreateWebhook::PATH,
    ]
}

/// The route templates with a path parameter in `src/api/mod.rs`.
fn parameterised_routes() -> BTreeSet<String> {
    let source = include_str!("../src/api/mod.rs");
    let mut routes = BTreeSet::new();
    let mut rest = source;
    while let Some(start) = rest.find(".route(") {
        rest = &rest[start + 7..];
        let Some(open) = rest.find('"') else { break };
        let after = &rest[open + 1..];
        let Some(close) = after.find('"') else { break };
        let path = &after[..close];
        // Names and catch-alls are not ids (`{name}`, `{key}`, `{*rest}`, `{*model}`).
        let has_id = path.contains("{id}") || path.contains("{file_id}");
        if has_id {
            routes.insert(path.to_string());
        }
        rest = &after[close..];
    }
    routes
}

/// A case's path as its route template (`{CONVERSATION}` → `{id}`…), to check completeness.
fn template_of(case: &Case) -> String {
    let path = case.path.split('?').next().unwrap();
    let mut template = String::new();
    let mut ids_seen = 0;
    for segment in path.split('/').skip(1) {
        template.push('/');
        if segment.starts_with('{') {
            template.push_str(if ids_seen == 0 { "{id}" } else { "{file_id}" });
            ids_seen += 1;
        } else {
            template.push_str(segment);
        }
    }
    template
}

/// Fills the slots: the victim's id in the victim slot, the attacker's own in the others.
fn fill(text: &str, victim: Kind, victim_id: Uuid, own: &Ids) -> String {
    let mut text = text.to_string();
    for kind in [
        Kind::Conversation,
        Kind::Message,
        Kind::Assistant,
        Kind::File,
        Kind::Webhook,
        Kind::Delivery,
        Kind::Token,
        Kind::Person,
        Kind::Session,
        Kind::Version,
    ] {
        let id = if kind == victim {
            victim_id
        } else {
            own.get(&kind)
                .and_then(|ids| ids.first().copied())
                .unwrap_or_else(Uuid::now_v7)
        };
        text = text.replace(slot(kind), &id.to_string());
    }
    text
}

struct Person {
    cookie: String,
}

impl Person {
    async fn call(&self, app: &TestApp, case: &Case, victim_id: Uuid, own: &Ids) -> (u16, String) {
        let path = fill(&case.path, case.victim, victim_id, own);
        let mut request = app
            .at(case.method.clone(), &path)
            .header(header::COOKIE, &self.cookie);
        request = match &case.body {
            Body::None => request,
            Body::Json(value) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(fill(&value.to_string(), case.victim, victim_id, own)),
            Body::Form(pairs) => {
                let pairs: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), fill(v, case.victim, victim_id, own)))
                    .collect();
                request.form(&pairs)
            }
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = tokio::time::timeout(std::time::Duration::from_secs(5), response.text())
            .await
            .map(|t| t.unwrap_or_default())
            .unwrap_or_else(|_| "<a stream that did not end>".into());
        // The answer for a random id names that id: both answers are compared without ids.
        let text = text.replace(&victim_id.to_string(), "<id>");
        (status, text)
    }

    async fn get(&self, app: &TestApp, path: &str) -> Value {
        app.at(Method::GET, path)
            .header(header::COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null)
    }

    async fn post(&self, app: &TestApp, path: &str, body: Value) -> Value {
        let response = app
            .at(Method::POST, path)
            .header(header::COOKIE, &self.cookie)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }
}

async fn sign_up(app: &TestApp, name: &str, invitation: Option<&str>) -> Person {
    let response = app
        .at(Method::POST, "/api/v1/auth/signup")
        .json(&json!({"username": name, "password": "correct horse battery", "invitation": invitation}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    Person { cookie }
}

/// One of everything: a conversation with its messages, an assistant, a file (attached to the
/// conversation and the assistant), a webhook with a delivery, a token.
async fn make_things(app: &TestApp, person: &Person, name: &str) -> Ids {
    let mut ids = Ids::new();
    let id = |v: &Value| Uuid::parse_str(v.as_str().unwrap()).unwrap();
    let upload = app
        .at(Method::POST, "/api/v1/files")
        .header(header::COOKIE, &person.cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(common::multipart(&[(
            &format!("{name}-notes.txt"),
            format!("{name}'s secret notes about the harbour project.").as_bytes(),
        )]))
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);
    let uploaded: Value = upload.json().await.unwrap();
    let file = id(&uploaded["files"][0]["id"]);
    ids.insert(Kind::File, vec![file]);
    // Indexed before anything is compared: its status must not change between the snapshots.
    let mut indexed = false;
    for _ in 0..300 {
        let status = person.get(app, &format!("/api/v1/files/{file}")).await["status"].clone();
        if status == "ready" || status == "failed" {
            indexed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(indexed, "{name}'s file was not indexed in time");
    let assistant = person
        .post(
            app,
            "/api/v1/assistants",
            json!({"name": format!("{name}'s helper"), "model": "llama3.2", "files": [file]}),
        )
        .await;
    ids.insert(Kind::Assistant, vec![id(&assistant["id"])]);
    let sent = person
        .post(
            app,
            "/api/v1/conversations",
            json!({"content": format!("{name}'s secret [tokens=3]"), "files": [file]}),
        )
        .await;
    let conversation = id(&sent["conversation"]["id"]);
    ids.insert(Kind::Conversation, vec![conversation]);
    // Answered twice: the first answer is kept as a version.
    app.wait_idle(&person.cookie, &conversation.to_string())
        .await;
    let again = person
        .post(
            app,
            &format!("/api/v1/conversations/{conversation}/regenerate"),
            json!({}),
        )
        .await;
    app.wait_idle(&person.cookie, &conversation.to_string())
        .await;
    ids.insert(Kind::Version, vec![id(&again["versions"]["previous"])]);
    ids.insert(
        Kind::Message,
        vec![id(&sent["user_message"]["id"]), id(&again["id"])],
    );
    let webhook = person
        .post(
            app,
            "/api/v1/webhooks",
            json!({"url": "http://hooks.internal/in", "events": ["message_sent"]}),
        )
        .await;
    let webhook_id = id(&webhook["id"]);
    ids.insert(Kind::Webhook, vec![webhook_id]);
    let ping = person
        .post(
            app,
            &format!("/api/v1/webhooks/{webhook_id}/ping"),
            json!({}),
        )
        .await;
    ids.insert(Kind::Delivery, vec![id(&ping["id"])]);
    let token = person
        .post(
            app,
            "/api/v1/tokens",
            json!({"name": format!("{name}'s script")}),
        )
        .await;
    ids.insert(Kind::Token, vec![id(&token["id"])]);
    // Only an admin can add one.
    let provider = app
        .at(Method::POST, "/api/v1/admin/providers")
        .header(header::COOKIE, &person.cookie)
        .json(&json!({"name": format!("{name}-cloud"), "kind": "openai",
                      "base_url": "http://models.internal/v1", "api_key": format!("sk-{name}")}))
        .send()
        .await
        .unwrap();
    let providers = if provider.status().is_success() {
        vec![id(&provider.json::<Value>().await.unwrap()["id"])]
    } else {
        Vec::new()
    };
    ids.insert(Kind::Provider, providers);
    let status = person.get(app, "/api/v1/auth/status").await;
    ids.insert(Kind::Person, vec![id(&status["person"]["id"])]);
    let sessions = person.get(app, "/api/v1/auth/sessions").await;
    ids.insert(
        Kind::Session,
        sessions
            .as_array()
            .unwrap()
            .iter()
            .map(|s| id(&s["id"]))
            .collect(),
    );
    ids
}

/// What Alice sees of her things, without what changes by itself (delivery attempts).
async fn snapshot(app: &TestApp, person: &Person, ids: &Ids) -> Value {
    let conversation = ids[&Kind::Conversation][0];
    let assistant = ids[&Kind::Assistant][0];
    let webhook = ids[&Kind::Webhook][0];
    let deliveries: Vec<Value> = person
        .get(app, &format!("/api/v1/webhooks/{webhook}/deliveries"))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|d| json!([d["id"], d["event_id"], d["event"]]))
        .collect();
    let mut files = person.get(app, "/api/v1/files").await;
    for file in files.as_array_mut().unwrap() {
        // Indexing goes on by itself.
        for key in [
            "status",
            "error",
            "chunk_count",
            "embedded_count",
            "updated_at",
            "embedding_model",
            "pages",
        ] {
            file.as_object_mut().unwrap().remove(key);
        }
    }
    json!({
        "conversations": person.get(app, "/api/v1/conversations").await,
        "conversation": person.get(app, &format!("/api/v1/conversations/{conversation}")).await,
        "conversation_files": person.get(app, &format!("/api/v1/conversations/{conversation}/files")).await.as_array().map(|f| f.iter().map(|f| f["id"].clone()).collect::<Vec<_>>()),
        "assistants": person.get(app, "/api/v1/assistants").await,
        "assistant_files": person.get(app, &format!("/api/v1/assistants/{assistant}/files")).await.as_array().map(|f| f.iter().map(|f| f["id"].clone()).collect::<Vec<_>>()),
        "files": files,
        "webhooks": person.get(app, "/api/v1/webhooks").await,
        "deliveries": deliveries,
        "tokens": person.get(app, "/api/v1/tokens").await,
        "people": person.get(app, "/api/v1/admin/people").await,
        "providers": person.get(app, "/api/v1/admin/providers").await.as_array().map(|p| p.iter().map(|p| p["provider"].clone()).collect::<Vec<_>>()),
        "sessions": person.get(app, "/api/v1/auth/sessions").await.as_array().map(|s| s.iter().map(|s| s["id"].clone()).collect::<Vec<_>>()),
    })
}

async fn nobody_reaches_anothers_things(backend: Backend) {
    let app = TestApp::start_with(backend, FakeConfig::default(), |settings| {
        settings.auth.mode = AuthMode::Accounts;
        settings.outbound.allowed_hosts = vec!["hooks.internal".into()];
    })
    .await;
    let alice = sign_up(&app, "alice", None).await;
    let invitation = alice
        .post(&app, "/api/v1/admin/invitations", json!({"role": "user"}))
        .await;
    let token = invitation["link"]
        .as_str()
        .unwrap()
        .trim_start_matches("/signup?invite=");
    let bob = sign_up(&app, "bob", Some(token)).await;
    let alices = make_things(&app, &alice, "alice").await;
    let bobs = make_things(&app, &bob, "bob").await;
    // Alice's answer finishes before anything is tried (a stop would otherwise change it).
    for (person, ids) in [(&alice, &alices), (&bob, &bobs)] {
        let path = format!("/api/v1/conversations/{}", ids[&Kind::Conversation][0]);
        let mut done = false;
        for _ in 0..200 {
            let conversation = person.get(&app, &path).await;
            if conversation["messages"][1]["status"] != "streaming" {
                done = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(done, "the first answer finished");
    }

    // The lists cover the code.
    let rest = rest_cases();
    let covered: BTreeSet<String> = rest.iter().map(template_of).collect();
    for route in parameterised_routes() {
        assert!(covered.contains(&route), "no ownership case for {route}");
    }
    let server_fns = server_fn_cases();
    let mut known: BTreeSet<&str> = server_fns_without_ids().into_iter().collect();
    known.extend(server_fns.iter().map(|c| c.path.as_str()));
    let registered: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_string())
        .collect();
    assert!(registered.len() >= known.len(), "{registered:?}");
    for path in &registered {
        assert!(
            known.contains(path.as_str()),
            "no ownership case for server function {path}"
        );
    }

    let before = snapshot(&app, &alice, &alices).await;
    let mut tried = 0;
    for case in rest.iter().chain(server_fns.iter()) {
        for victim_id in &alices[&case.victim] {
            let theirs = bob.call(&app, case, *victim_id, &bobs).await;
            let nobodys = bob.call(&app, case, Uuid::now_v7(), &bobs).await;
            assert_eq!(
                theirs, nobodys,
                "{} {} with Alice's {:?} answers unlike an id that does not exist",
                case.method, case.path, case.victim
            );
            assert!(
                matches!(theirs.0, 400..=499),
                "{} {} with Alice's {:?}: {theirs:?}",
                case.method,
                case.path,
                case.victim
            );
            tried += 1;
        }
    }
    assert!(tried >= 70, "{tried}");
    let after = snapshot(&app, &alice, &alices).await;
    assert_eq!(before, after, "Alice's things changed");
}

on_both_backends!(nobody_reaches_anothers_things);
