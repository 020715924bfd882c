//! A person's webhooks: registered, changed, tried out, and their delivery log. Every call is
//! scoped to its owner; another person's webhook is not found. Webhooks are a feature that can
//! be switched off (`features.webhooks`).

use super::preferences::{require_feature, Feature};
use crate::db::webhooks::NewDelivery;
use crate::error::{AppError, AppResult};
use crate::model::{
    NewWebhookSecret, Person, Webhook, WebhookDelivery, WebhookEvent, WebhookEvents, WebhookInput,
};
use crate::state::AppState;
use uuid::Uuid;

const MAX_URL_CHARS: usize = 2_000;
const MAX_DESCRIPTION_CHARS: usize = 500;
/// Most rows of a delivery log shown at once.
pub const MAX_LOG_ROWS: i64 = 200;

fn new_secret() -> String {
    format!("whsec_{}", super::accounts::random_token())
}

/// A URL a webhook may be sent to: http(s), and (resolved now) no private address. The check is
/// made again at each delivery, where it counts.
async fn checked_url(state: &AppState, url: &str) -> AppResult<String> {
    let url = url.trim();
    if url.is_empty() || url.chars().count() > MAX_URL_CHARS {
        return Err(AppError::InvalidInput(format!(
            "the URL must be given, in at most {MAX_URL_CHARS} characters"
        )));
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| AppError::InvalidInput(format!("{url:?} is not a URL")))?;
    state
        .outbound_policy
        .check_destination(&parsed, state.settings.outbound.timeout())
        .await
        .map_err(|reason| AppError::InvalidInput(format!("this URL cannot be used: {reason}")))?;
    Ok(parsed.to_string())
}

fn checked_events(events: Vec<WebhookEvent>) -> AppResult<WebhookEvents> {
    let mut events: Vec<WebhookEvent> = events
        .into_iter()
        .filter(|e| *e != WebhookEvent::Ping)
        .collect();
    events.sort_by_key(|e| e.as_str());
    events.dedup();
    if events.is_empty() {
        return Err(AppError::InvalidInput(format!(
            "choose at least one event: {}",
            WebhookEvent::ALL.map(|e| e.as_str()).join(", ")
        )));
    }
    Ok(WebhookEvents(events))
}

fn checked_description(description: Option<String>) -> AppResult<String> {
    let description = crate::text::clean_input(description.as_deref().unwrap_or_default())
        .trim()
        .to_string();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(AppError::InvalidInput(format!(
            "a description has at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    Ok(description)
}

pub async fn list_webhooks(state: &AppState, person: &Person) -> AppResult<Vec<Webhook>> {
    require_feature(state, Feature::Webhooks).await?;
    Ok(state.store.list_webhooks(person.id).await?)
}

pub async fn get_webhook(state: &AppState, person: &Person, id: Uuid) -> AppResult<Webhook> {
    require_feature(state, Feature::Webhooks).await?;
    state
        .store
        .get_webhook(person.id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("webhook".into()))
}

/// Registers a webhook; its secret is in the answer, this once.
pub async fn create_webhook(
    state: &AppState,
    person: &Person,
    input: WebhookInput,
) -> AppResult<NewWebhookSecret> {
    require_feature(state, Feature::Webhooks).await?;
    let instance_wide = input.instance_wide.unwrap_or(false);
    if instance_wide && !person.is_admin() {
        return Err(AppError::Forbidden(
            "only an admin can register a webhook for the whole instance".into(),
        ));
    }
    let url = checked_url(state, input.url.as_deref().unwrap_or_default()).await?;
    let events = checked_events(input.events.unwrap_or_default())?;
    let description = checked_description(input.description)?;
    let existing = state.store.list_webhooks(person.id).await?.len();
    let max = state.settings.webhooks.max_per_person;
    if existing >= max {
        return Err(AppError::InvalidInput(format!(
            "at most {max} webhooks per person; delete one first"
        )));
    }
    let now = chrono::Utc::now();
    let secret = new_secret();
    let id = Uuid::now_v7();
    let sealed = state
        .secrets
        .seal(&crate::webhooks::secret_purpose(id), &secret);
    let webhook = state
        .store
        .insert_webhook(
            &Webhook {
                id,
                owner_id: person.id,
                url,
                events,
                description,
                enabled: input.enabled.unwrap_or(true),
                instance_wide,
                created_at: now,
                updated_at: now,
            },
            &sealed,
        )
        .await?;
    Ok(NewWebhookSecret { secret, webhook })
}

/// Changes what is given (URL, events, description, enabled).
pub async fn update_webhook(
    state: &AppState,
    person: &Person,
    id: Uuid,
    input: WebhookInput,
) -> AppResult<Webhook> {
    let mut webhook = get_webhook(state, person, id).await?;
    if input
        .instance_wide
        .is_some_and(|wide| wide != webhook.instance_wide)
    {
        return Err(AppError::InvalidInput(
            "whether a webhook is instance-wide is set when it is registered".into(),
        ));
    }
    if let Some(url) = input.url {
        webhook.url = checked_url(state, &url).await?;
    }
    if let Some(events) = input.events {
        webhook.events = checked_events(events)?;
    }
    if input.description.is_some() {
        webhook.description = checked_description(input.description)?;
    }
    if let Some(enabled) = input.enabled {
        webhook.enabled = enabled;
    }
    state
        .store
        .update_webhook(&webhook)
        .await?
        .ok_or_else(|| AppError::NotFound("webhook".into()))
}

/// A new secret (the old one stops signing at once); shown this once.
pub async fn rotate_secret(
    state: &AppState,
    person: &Person,
    id: Uuid,
) -> AppResult<NewWebhookSecret> {
    let webhook = get_webhook(state, person, id).await?;
    let secret = new_secret();
    let sealed = state
        .secrets
        .seal(&crate::webhooks::secret_purpose(id), &secret);
    if !state
        .store
        .set_webhook_secret(person.id, id, &sealed)
        .await?
    {
        return Err(AppError::NotFound("webhook".into()));
    }
    Ok(NewWebhookSecret { secret, webhook })
}

pub async fn delete_webhook(state: &AppState, person: &Person, id: Uuid) -> AppResult<()> {
    require_feature(state, Feature::Webhooks).await?;
    if state.store.delete_webhook(person.id, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("webhook".into()))
    }
}

/// The delivery log, newest first.
pub async fn deliveries(
    state: &AppState,
    person: &Person,
    id: Uuid,
    limit: Option<i64>,
) -> AppResult<Vec<WebhookDelivery>> {
    get_webhook(state, person, id).await?;
    let limit = limit.unwrap_or(50).clamp(1, MAX_LOG_ROWS);
    Ok(state.store.list_deliveries(person.id, id, limit).await?)
}

/// Sends a delivery again soon, whatever it came to ("send again").
pub async fn redeliver(
    state: &AppState,
    person: &Person,
    delivery: Uuid,
) -> AppResult<WebhookDelivery> {
    require_feature(state, Feature::Webhooks).await?;
    state
        .store
        .redeliver(person.id, delivery)
        .await?
        .ok_or_else(|| AppError::NotFound("delivery".into()))
}

/// Queues a `ping` to try the webhook out.
pub async fn ping(state: &AppState, person: &Person, id: Uuid) -> AppResult<WebhookDelivery> {
    let webhook = get_webhook(state, person, id).await?;
    let event_id = Uuid::now_v7();
    let payload = crate::webhooks::body_of(
        event_id,
        WebhookEvent::Ping,
        chrono::Utc::now(),
        serde_json::json!({"webhook_id": webhook.id}),
        None,
    );
    Ok(state
        .store
        .insert_delivery(&NewDelivery {
            webhook_id: webhook.id,
            owner_id: person.id,
            event_id,
            event: WebhookEvent::Ping,
            payload,
        })
        .await?)
}
