//! Webhooks in the page (the integrations page): the same calls as /api/v1/webhooks.

use super::codec::JsonText;
use crate::error::AppError;
use crate::model::{NewWebhookSecret, Webhook, WebhookDelivery, WebhookEvent};
use leptos::prelude::*;
use uuid::Uuid;

#[server(endpoint = "list_webhooks", output = JsonText)]
pub async fn list_webhooks() -> Result<Vec<Webhook>, AppError> {
    let state = super::app_state()?;
    crate::service::webhooks::list_webhooks(&state, &super::me()?).await
}

#[server(endpoint = "create_webhook", output = JsonText)]
pub async fn create_webhook(
    url: String,
    events: Vec<WebhookEvent>,
    description: String,
    instance_wide: bool,
) -> Result<NewWebhookSecret, AppError> {
    let state = super::app_state()?;
    let input = crate::model::WebhookInput {
        url: Some(url),
        events: Some(events),
        description: Some(description),
        enabled: Some(true),
        instance_wide: Some(instance_wide),
    };
    crate::service::webhooks::create_webhook(&state, &super::me()?, input).await
}

#[server(endpoint = "set_webhook_enabled", output = JsonText)]
pub async fn set_webhook_enabled(id: Uuid, enabled: bool) -> Result<Webhook, AppError> {
    let state = super::app_state()?;
    let input = crate::model::WebhookInput {
        enabled: Some(enabled),
        ..Default::default()
    };
    crate::service::webhooks::update_webhook(&state, &super::me()?, id, input).await
}

#[server(endpoint = "delete_webhook", output = JsonText)]
pub async fn delete_webhook(id: Uuid) -> Result<(), AppError> {
    let state = super::app_state()?;
    crate::service::webhooks::delete_webhook(&state, &super::me()?, id).await
}

#[server(endpoint = "ping_webhook", output = JsonText)]
pub async fn ping_webhook(id: Uuid) -> Result<WebhookDelivery, AppError> {
    let state = super::app_state()?;
    crate::service::webhooks::ping(&state, &super::me()?, id).await
}

#[server(endpoint = "webhook_deliveries", output = JsonText)]
pub async fn webhook_deliveries(id: Uuid) -> Result<Vec<WebhookDelivery>, AppError> {
    let state = super::app_state()?;
    crate::service::webhooks::deliveries(&state, &super::me()?, id, Some(50)).await
}

#[server(endpoint = "redeliver_webhook", output = JsonText)]
pub async fn redeliver_webhook(delivery: Uuid) -> Result<WebhookDelivery, AppError> {
    let state = super::app_state()?;
    crate::service::webhooks::redeliver(&state, &super::me()?, delivery).await
}
