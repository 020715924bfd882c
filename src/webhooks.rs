//! Webhook deliveries: a background task on each instance turns outbox events into deliveries
//! (once per event, whichever instance does it), then sends the deliveries that are due, signed,
//! through the outbound guard; a failed one is tried again with exponential backoff until
//! `webhooks.retry_for_secs` have passed since it was made.
//!
//! ## What a receiver gets
//! `POST` with a JSON body `{"id", "type", "created_at", "data"}` (`id` is the event's: the same
//! in every attempt, so a receiver can ignore repeats) and the headers
//! - `OllamaStack-Event`: the type (`answer_completed`…)
//! - `OllamaStack-Delivery`: the delivery's id
//! - `OllamaStack-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256>` of `"<t>.<body>"` with the
//!   webhook's secret. A receiver recomputes it over the raw body, compares in constant time,
//!   and refuses a `t` more than five minutes old (a replay).
//!
//! A delivery counts as delivered on any 2xx answer; redirects are not followed (a 3xx is a
//! failure). Payloads carry ids and figures, never the text of messages or files.

use crate::config::WebhookSettings;
use crate::db::webhooks::{Attempt, DueDelivery, NewDelivery, FANOUT_OVERLAP_SECS};
use crate::db::{OutboxEvent, SharedStore};
use crate::model::{Webhook, WebhookEvent};
use crate::net::{GuardedClient, OutboundError};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use hmac::{KeyInit, Mac};
use serde_json::{json, Value};
use std::time::Duration;

/// Outbox events read at once.
const BATCH: i64 = 200;

/// The signature header of a body sent at `timestamp` (unix seconds).
/// What a webhook's sealed secret is bound to (src/secrets.rs).
pub fn secret_purpose(webhook: uuid::Uuid) -> String {
    format!("webhook:{webhook}")
}

/// Seals the secrets of webhooks stored before secrets were sealed; how many.
pub async fn seal_stored_secrets(
    store: &SharedStore,
    secrets: &crate::secrets::SecretBox,
) -> Result<usize, sqlx::Error> {
    let mut sealed = 0;
    for (id, plain) in store.unsealed_webhook_secrets().await? {
        let value = secrets.seal(&secret_purpose(id), &plain);
        if store.seal_webhook_secret(id, &plain, &value).await? {
            sealed += 1;
        }
    }
    Ok(sealed)
}

pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Checks a signature header as a receiver would: the right secret over this body, made at
/// most `tolerance` before `now`. (Used by the tests' receiver; the README shows the same in a
/// few lines of Python.)
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    if (now - timestamp).abs() > tolerance {
        return false;
    }
    signatures.iter().any(|candidate| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(candidate).is_ok()
    })
}

/// The webhook event an outbox event is, if any.
pub fn event_of(outbox: &OutboxEvent, payload: &Value) -> Option<WebhookEvent> {
    use crate::db;
    match outbox.kind.as_str() {
        db::OUTBOX_MESSAGE_SENT => Some(WebhookEvent::MessageSent),
        db::OUTBOX_CONVERSATION_CREATED => Some(WebhookEvent::ConversationCreated),
        db::OUTBOX_CONVERSATION_RENAMED | db::OUTBOX_CONVERSATION_TITLED => {
            Some(WebhookEvent::ConversationRenamed)
        }
        db::OUTBOX_CONVERSATION_DELETED => Some(WebhookEvent::ConversationDeleted),
        db::OUTBOX_GENERATION_FINISHED => {
            // A step of an agent run that asked for tools is not an answer.
            let calls = payload
                .get("tool_calls")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            (calls == 0).then_some(WebhookEvent::AnswerCompleted)
        }
        db::OUTBOX_TOOL_FINISHED => Some(WebhookEvent::ToolCalled),
        db::documents::OUTBOX_FILE_UPLOADED => Some(WebhookEvent::FileUploaded),
        db::documents::OUTBOX_FILE_INDEXED => Some(WebhookEvent::FileIndexed),
        _ => None,
    }
}

/// The body a webhook is sent for an event.
pub fn body_of(
    event_id: uuid::Uuid,
    event: WebhookEvent,
    at: DateTime<Utc>,
    data: Value,
    person: Option<uuid::Uuid>,
) -> String {
    let mut body = json!({
        "id": event_id,
        "type": event.as_str(),
        "created_at": at,
        "data": data,
    });
    // An instance-wide webhook is told whose event it is.
    if let Some(person) = person {
        body["person_id"] = json!(person);
    }
    body.to_string()
}

/// The deliveries an outbox event makes: one per active webhook that wants it (its owner's,
/// and the instance-wide ones) and existed when the event happened.
pub fn deliveries_for(outbox: &OutboxEvent, hooks: &[Webhook]) -> Vec<NewDelivery> {
    let data: Value = serde_json::from_str(&outbox.payload).unwrap_or(Value::Null);
    let Some(event) = event_of(outbox, &data) else {
        return Vec::new();
    };
    hooks
        .iter()
        .filter(|hook| hook.owner_id == outbox.owner_id || hook.instance_wide)
        .filter(|hook| hook.events.0.contains(&event))
        .filter(|hook| hook.created_at <= outbox.created_at)
        .map(|hook| NewDelivery {
            webhook_id: hook.id,
            owner_id: hook.owner_id,
            event_id: outbox.id,
            event,
            payload: body_of(
                outbox.id,
                event,
                outbox.created_at,
                data.clone(),
                hook.instance_wide.then_some(outbox.owner_id),
            ),
        })
        .collect()
}

/// Turns the outbox's new events into deliveries; how many were made. With `switched_off`
/// (`features.webhooks` off) the events are passed over: nothing is delivered for them later.
pub async fn fan_out(store: &SharedStore, switched_off: bool) -> Result<usize, sqlx::Error> {
    let hooks = store.active_webhooks().await?;
    let Some(oldest_hook) = hooks.iter().map(|h| h.created_at).min() else {
        // No webhook: nothing to deliver, and nothing to remember having looked at.
        return Ok(0);
    };
    let overlap = chrono::TimeDelta::seconds(FANOUT_OVERLAP_SECS);
    let newest = store.newest_fanned().await?;
    let since = match newest {
        Some(newest) => (newest - overlap).max(oldest_hook - overlap),
        None => oldest_hook - overlap,
    };
    let mut made = 0;
    loop {
        let events = store.unfanned_events(since, BATCH).await?;
        let deliveries: Vec<NewDelivery> = if switched_off {
            Vec::new()
        } else {
            events
                .iter()
                .flat_map(|event| deliveries_for(event, &hooks))
                .collect()
        };
        let marked: Vec<_> = events.iter().map(|e| (e.id, e.created_at)).collect();
        made += store.fan_out(&deliveries, &marked).await?;
        if (events.len() as i64) < BATCH {
            return Ok(made);
        }
    }
}

/// When to try a delivery again after `attempts` failed attempts, or `None` to give up.
pub fn next_attempt(
    settings: &WebhookSettings,
    created_at: DateTime<Utc>,
    attempts: i32,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let exponent = attempts.clamp(1, 30) as u32 - 1;
    let wait_ms = settings
        .first_retry_ms
        .saturating_mul(1u64 << exponent.min(40))
        .min(settings.max_retry_ms.max(settings.first_retry_ms));
    let next = now + chrono::TimeDelta::milliseconds(wait_ms as i64);
    let give_up_at = created_at + chrono::TimeDelta::seconds(settings.retry_for_secs as i64);
    (next <= give_up_at).then_some(next)
}

/// Sends one delivery and says how it went.
pub async fn attempt(
    client: &GuardedClient,
    settings: &WebhookSettings,
    max_response_bytes: usize,
    delivery: &DueDelivery,
) -> Attempt {
    let started = std::time::Instant::now();
    let now = Utc::now();
    let retry = || next_attempt(settings, delivery.created_at, delivery.attempts + 1, now);
    let url = match reqwest::Url::parse(&delivery.url) {
        Ok(url) => url,
        Err(_) => {
            return Attempt {
                response_status: None,
                error: Some("the webhook's URL is not valid".into()),
                duration_ms: 0,
                retry_at: Some(None),
            }
        }
    };
    let body = delivery.payload.clone().into_bytes();
    let request = client
        .request(reqwest::Method::POST, url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("ollamastack-event", &delivery.event)
        .header("ollamastack-delivery", delivery.id.to_string())
        .header(
            "ollamastack-signature",
            signature(&delivery.secret, now.timestamp(), &body),
        )
        .body(body);
    let outcome = client.send(request).await;
    let duration_ms = started.elapsed().as_millis() as i64;
    match outcome {
        Ok(response) => {
            let status = response.status();
            // The answer's body is read (capped) so the connection can be reused; its text is
            // not kept.
            let _ =
                crate::net::read_capped(response, max_response_bytes, Duration::from_secs(2)).await;
            if status.is_success() {
                Attempt {
                    response_status: Some(status.as_u16() as i32),
                    error: None,
                    duration_ms,
                    retry_at: None,
                }
            } else {
                Attempt {
                    response_status: Some(status.as_u16() as i32),
                    error: Some(if status.is_redirection() {
                        format!("answered {status}; redirects are not followed")
                    } else {
                        format!("answered {status}")
                    }),
                    duration_ms,
                    retry_at: Some(retry()),
                }
            }
        }
        // Refused now; a name may resolve elsewhere later, so it is retried like any failure.
        Err(OutboundError::Refused(reason)) => Attempt {
            response_status: None,
            error: Some(format!("refused: {reason}")),
            duration_ms,
            retry_at: Some(retry()),
        },
        Err(OutboundError::Failed(reason)) => Attempt {
            response_status: None,
            error: Some(reason),
            duration_ms,
            retry_at: Some(retry()),
        },
    }
}

/// Sends what is due, `concurrency` at a time; how many were attempted.
pub async fn deliver_due(
    store: &SharedStore,
    client: &GuardedClient,
    secrets: &crate::secrets::SecretBox,
    settings: &WebhookSettings,
    outbound: &crate::config::OutboundSettings,
) -> Result<usize, sqlx::Error> {
    let now = Utc::now();
    // Long enough for an attempt and its bookkeeping; after it, another instance may retry.
    let lease = chrono::TimeDelta::milliseconds((outbound.timeout_ms * 3 + 5_000) as i64);
    let due = store
        .claim_due(now, now + lease, (settings.concurrency * 4) as i64)
        .await?;
    let count = due.len();
    futures::stream::iter(due)
        .for_each_concurrent(settings.concurrency, |mut delivery| async move {
            let purpose = secret_purpose(delivery.webhook_id);
            let attempt = match secrets.open_or_legacy(&purpose, &delivery.secret) {
                Ok(secret) => {
                    delivery.secret = secret;
                    attempt(client, settings, outbound.max_response_bytes, &delivery).await
                }
                // Not sent unsigned: the receiver would refuse it, or worse, accept it.
                Err(error) => Attempt {
                    response_status: None,
                    error: Some(format!("not sent: {error}")),
                    duration_ms: 0,
                    retry_at: Some(None),
                },
            };
            crate::observability::webhook_attempt(match attempt.retry_at {
                None => "delivered",
                Some(Some(_)) => "retrying",
                Some(None) => "given_up",
            });
            if let Some(error) = &attempt.error {
                tracing::info!(delivery = %delivery.id, webhook = %delivery.webhook_id, %error, "webhook delivery failed");
            }
            if let Err(error) = store.finish_attempt(delivery.id, &attempt).await {
                // The lease runs out and the delivery is tried again.
                tracing::warn!(%error, "could not record a webhook delivery");
            }
        })
        .await;
    Ok(count)
}

/// The least time between two runs of the deliverer woken by new outbox events.
const WOKEN_GAP: Duration = Duration::from_millis(50);

/// Fans out and delivers as soon as new outbox events are announced and every
/// `webhooks.poll_interval_ms`, until `shutdown` (while `features.webhooks` is off, events
/// are passed over and nothing is sent).
pub fn spawn_deliverer(
    store: SharedStore,
    secrets: std::sync::Arc<crate::secrets::SecretBox>,
    settings: crate::config::Settings,
    runtime: std::sync::Arc<crate::service::preferences::RuntimeSettings>,
    client: GuardedClient,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let interval = Duration::from_millis(settings.webhooks.poll_interval_ms.max(50));
    let settings = std::sync::Arc::new(settings);
    let stopping = shutdown.clone();
    // At once when outbox events are announced, and every `interval` all the same (retries
    // falling due, a lost announcement).
    let woken = store.outbox_signal().subscribe();
    crate::periodic::every_or_woken(interval, WOKEN_GAP, woken, shutdown, move || {
        let (store, secrets, settings, runtime, client, shutdown) = (
            store.clone(),
            secrets.clone(),
            settings.clone(),
            runtime.clone(),
            client.clone(),
            stopping.clone(),
        );
        async move {
            let switched_off = match runtime.for_instance().await {
                Ok(preferences) => !preferences.features.webhooks,
                Err(_) => !runtime.configured().features.webhooks,
            };
            if let Err(error) = fan_out(&store, switched_off).await {
                tracing::warn!(%error, "webhooks: reading the outbox failed; trying again");
            }
            if !switched_off {
                loop {
                    match deliver_due(
                        &store,
                        &client,
                        &secrets,
                        &settings.webhooks,
                        &settings.outbound,
                    )
                    .await
                    {
                        // A full batch: more may be due.
                        Ok(n)
                            if n >= settings.webhooks.concurrency * 4
                                && !shutdown.is_cancelled() => {}
                        Ok(_) => break,
                        Err(error) => {
                            tracing::warn!(%error, "webhooks: delivering failed; trying again");
                            break;
                        }
                    }
                }
            }
            std::ops::ControlFlow::Continue(())
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_body_and_time() {
        let header = signature("whsec_abc", 1_700_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="), "{header}");
        assert!(verify(
            "whsec_abc",
            &header,
            b"{\"a\":1}",
            1_700_000_010,
            300
        ));
        assert!(!verify(
            "whsec_abd",
            &header,
            b"{\"a\":1}",
            1_700_000_010,
            300
        ));
        assert!(!verify(
            "whsec_abc",
            &header,
            b"{\"a\":2}",
            1_700_000_010,
            300
        ));
        assert!(
            !verify("whsec_abc", &header, b"{\"a\":1}", 1_700_001_000, 300),
            "a replay"
        );
        assert!(!verify("whsec_abc", "v1=00", b"", 0, 300));
    }

    #[test]
    fn retries_back_off_and_stop_after_the_window() {
        let settings = WebhookSettings {
            first_retry_ms: 10_000,
            max_retry_ms: 3_600_000,
            retry_for_secs: 86_400,
            ..Default::default()
        };
        let made = Utc::now();
        let waits: Vec<i64> = (1..=6)
            .map(|n| (next_attempt(&settings, made, n, made).unwrap() - made).num_seconds())
            .collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320]);
        let late = next_attempt(&settings, made, 25, made).unwrap();
        assert_eq!((late - made).num_seconds(), 3_600, "capped");
        assert_eq!(
            next_attempt(&settings, made, 3, made + chrono::TimeDelta::hours(24)),
            None,
            "a day later: given up"
        );
    }

    #[test]
    fn outbox_events_become_the_events_webhooks_want() {
        let owner = uuid::Uuid::now_v7();
        let other = uuid::Uuid::now_v7();
        let hook = |owner_id, events: Vec<WebhookEvent>, instance_wide| Webhook {
            id: uuid::Uuid::now_v7(),
            owner_id,
            url: "https://example.com/hook".into(),
            events: crate::model::WebhookEvents(events),
            description: String::new(),
            enabled: true,
            instance_wide,
            created_at: Utc::now() - chrono::TimeDelta::hours(1),
            updated_at: Utc::now(),
        };
        let hooks = [
            hook(owner, vec![WebhookEvent::AnswerCompleted], false),
            hook(other, vec![WebhookEvent::AnswerCompleted], false),
            hook(other, vec![WebhookEvent::AnswerCompleted], true),
            hook(owner, vec![WebhookEvent::MessageSent], false),
        ];
        let event = |kind: &str, payload: Value| OutboxEvent {
            id: uuid::Uuid::now_v7(),
            owner_id: owner,
            kind: kind.into(),
            subject_id: uuid::Uuid::now_v7(),
            payload: payload.to_string(),
            created_at: Utc::now(),
        };
        let answer = event(
            crate::db::OUTBOX_GENERATION_FINISHED,
            json!({"status": "complete", "tool_calls": 0}),
        );
        let made = deliveries_for(&answer, &hooks);
        let to: Vec<_> = made.iter().map(|d| d.webhook_id).collect();
        assert_eq!(
            to,
            [hooks[0].id, hooks[2].id],
            "the owner's and the instance's"
        );
        let body: Value = serde_json::from_str(&made[0].payload).unwrap();
        assert_eq!(body["type"], "answer_completed");
        assert_eq!(body["data"]["status"], "complete");
        assert!(body.get("person_id").is_none());
        let wide: Value = serde_json::from_str(&made[1].payload).unwrap();
        assert_eq!(wide["person_id"], json!(owner));
        let step = event(
            crate::db::OUTBOX_GENERATION_FINISHED,
            json!({"status": "complete", "tool_calls": 2}),
        );
        assert!(deliveries_for(&step, &hooks).is_empty());
        let mut before = event(crate::db::OUTBOX_MESSAGE_SENT, json!({}));
        before.created_at = Utc::now() - chrono::TimeDelta::hours(2);
        assert!(
            deliveries_for(&before, &hooks).is_empty(),
            "events from before the webhook existed"
        );
        assert!(deliveries_for(&event("escalation.created", json!({})), &hooks).is_empty());
        // A rename by the person and a title by the model are one event, `by` telling which.
        let renames = [hook(owner, vec![WebhookEvent::ConversationRenamed], false)];
        for (kind, by) in [
            (crate::db::OUTBOX_CONVERSATION_RENAMED, "person"),
            (crate::db::OUTBOX_CONVERSATION_TITLED, "model"),
        ] {
            let made = deliveries_for(&event(kind, json!({ "by": by })), &renames);
            let body: Value = serde_json::from_str(&made[0].payload).unwrap();
            assert_eq!(
                (body["type"].as_str(), body["data"]["by"].as_str()),
                (Some("conversation_renamed"), Some(by))
            );
        }
        let deleted = event(crate::db::OUTBOX_CONVERSATION_DELETED, json!({}));
        assert!(deliveries_for(&deleted, &renames).is_empty());
        let deletes = [hook(owner, vec![WebhookEvent::ConversationDeleted], false)];
        assert_eq!(deliveries_for(&deleted, &deletes).len(), 1);
    }
}
