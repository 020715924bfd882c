//! GET /api/v1/events: the person's own events, live.

use crate::auth::Me;
use crate::error::AppResult;
use crate::events::{missed_since, OwnedEvent};
use crate::model::PersonEvent;
use crate::state::AppState;
use axum::{
    extract::State,
    http::HeaderMap,
    response::{sse::Event, Response},
};
use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

/// A stream ends after this long and the client reconnects (with `Last-Event-ID`, missing
/// nothing): a session signed out meanwhile stops receiving events within this time.
const STREAM_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How soon a client reconnects after the stream ended.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// GET /api/v1/events: server-sent events telling what changed in the person's conversations,
/// from any page, device, API client or instance; each `data` is a JSON `PersonEvent` tagged by
/// `type`: `ready` first, then `conversation_created`, `conversation_renamed`,
/// `conversation_titled`, `conversation_deleted`, `message_sent`, `answer_finished`,
/// `answer_version_shown`, and `resync` when the client fell behind. Each event's `id` may be
/// sent back as `Last-Event-ID` on reconnecting: the events missed meanwhile (up to ten
/// minutes) come first. A stream ends after ten minutes; clients reconnect (browsers'
/// `EventSource` does so by itself).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "conversations",
    operation_id = "events_stream",
    params(("Last-Event-ID" = Option<String>, Header, description = "The last event received, to receive what followed it")),
    responses((status = 200, description = "See the description: a stream of these, each the data of one event", body = PersonEvent, content_type = "text/event-stream"), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn stream(
    Me(me): Me,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> AppResult<Response> {
    // Held by the stream: freed when it ends or the client goes away.
    let slot = state.event_streams.acquire(me.id)?;
    // Listening before reading what was missed: nothing falls between the two.
    let mut live = state.events.subscribe();
    let last_seen = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<Uuid>().ok());
    let missed = match last_seen {
        Some(after) => missed_since(&state.store, me.id, after).await?,
        None => Vec::new(),
    };
    let owner = me.id;
    let shutdown = state.generations.shutdown_token();
    let stream = async_stream::stream! {
        let _open = slot;
        let ends = tokio::time::sleep(STREAM_LIFETIME);
        tokio::pin!(ends);
        yield Ok::<_, Infallible>(event(None, &PersonEvent::Ready).retry(RECONNECT_AFTER));
        let mut sent = HashSet::with_capacity(missed.len());
        for missed in missed {
            sent.insert(missed.id);
            yield Ok(event(Some(missed.id), &missed.event));
        }
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = &mut ends => return,
                next = live.recv() => next,
            };
            match next {
                Ok(owned) => {
                    let OwnedEvent { id, owner_id, event: person_event } = &*owned;
                    if *owner_id == owner && !sent.contains(id) {
                        yield Ok(event(Some(*id), person_event));
                    }
                }
                Err(RecvError::Lagged(_)) => yield Ok(event(None, &PersonEvent::Resync)),
                Err(RecvError::Closed) => return,
            }
        }
    };
    Ok(super::sse_response(stream))
}

fn event(id: Option<Uuid>, person_event: &PersonEvent) -> Event {
    let event = super::json_event(person_event);
    match id {
        Some(id) => event.id(id.to_string()),
        None => event,
    }
}
