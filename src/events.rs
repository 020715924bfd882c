//! Each person's live events: what changed in their conversations (started, renamed, named by
//! the model, deleted, a message sent, an answer finished), for their open pages and API
//! clients (`GET /api/v1/events`), so that a second tab, a phone and a script see what the
//! first one did without reading everything again.
//!
//! They come from the outbox, written with each change: one task per instance reads its new
//! events while someone on this instance listens, and hands each to its owner's listeners. It
//! reads as soon as a commit is announced: on SQLite by the store after its own commits, on
//! PostgreSQL by a trigger's NOTIFY, so changes made on another instance arrive as those made
//! here.

use crate::db::{OutboxEvent, SharedStore};
use crate::model::PersonEvent;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The outbox kinds a person's stream tells.
pub const STREAM_KINDS: [&str; 9] = [
    crate::db::OUTBOX_CONVERSATION_CREATED,
    crate::db::transfer::OUTBOX_CONVERSATION_IMPORTED,
    crate::db::OUTBOX_CONVERSATION_RENAMED,
    crate::db::OUTBOX_CONVERSATION_TITLED,
    crate::db::OUTBOX_CONVERSATION_DELETED,
    crate::db::OUTBOX_MESSAGE_SENT,
    crate::db::OUTBOX_GENERATION_FINISHED,
    crate::db::OUTBOX_ANSWER_VERSION_SHOWN,
    // Read only to be passed over: a tool's own row is followed by the page that shows it.
    crate::db::OUTBOX_TOOL_FINISHED,
];

/// Events are read again this far back by the timed read: a transaction that committed a
/// little after a later one (or on an instance whose clock is a little behind) is still seen,
/// once.
const OVERLAP: TimeDelta = TimeDelta::seconds(5);
/// The same for a read woken by a commit, which comes far more often (up to every `MIN_GAP`
/// while many answers end): a commit later than this is seen by the next timed read.
const WOKEN_OVERLAP: TimeDelta = TimeDelta::seconds(1);
/// The least time between two reads: commits in a burst are read together.
const MIN_GAP: Duration = Duration::from_millis(20);
/// Events read per query.
const BATCH: i64 = 500;
/// Events a listener may fall behind by before it is told to read everything again.
const CAPACITY: usize = 1024;
/// How far back a reconnecting client's missed events are sent (`Last-Event-ID`), and how many.
pub const REPLAY_WINDOW: TimeDelta = TimeDelta::minutes(10);
pub const REPLAY_LIMIT: i64 = 500;

/// One event and whose it is.
#[derive(Clone, Debug)]
pub struct OwnedEvent {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub event: PersonEvent,
}

/// Hands the outbox's new events to this instance's listeners.
pub struct EventHub {
    sender: broadcast::Sender<Arc<OwnedEvent>>,
    /// Wakes the reading task when the first listener arrives.
    listening: Notify,
    /// When the first listener since the task went idle arrived: what was written before is
    /// not news to anyone. Taken when the listener subscribes, not when the task wakes (later,
    /// on a busy machine), so that nothing written after a stream opened is passed over.
    listened_since: std::sync::Mutex<Option<DateTime<Utc>>>,
}

impl EventHub {
    /// Starts the task that reads the outbox while someone listens, until shutdown: as soon as
    /// new events are announced (the store's `OutboxSignal`), and every `fallback` all the
    /// same, in case an announcement was lost.
    pub fn start(
        store: SharedStore,
        fallback: Duration,
        shutdown: CancellationToken,
    ) -> Arc<EventHub> {
        let (sender, _) = broadcast::channel(CAPACITY);
        let hub = Arc::new(EventHub {
            sender,
            listening: Notify::new(),
            listened_since: std::sync::Mutex::new(None),
        });
        let reader = hub.clone();
        tokio::spawn(async move {
            let mut announced = store.outbox_signal().subscribe();
            let mut reading = Reading::from(crate::db::now());
            let mut last_read: Option<Instant> = None;
            let mut overlap = OVERLAP;
            loop {
                if reader.idle() {
                    // Nobody listens: no reads at all (an idle server stays idle).
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = reader.listening.notified() => {}
                    }
                    let since = reader.lock_since().take();
                    reading = Reading::from(since.unwrap_or_else(crate::db::now));
                    continue;
                }
                // A burst of commits (an import, many answers ending) is read in a few reads,
                // not one each.
                if let Some(due) = last_read.map(|at| at + MIN_GAP) {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep_until(due) => {}
                    }
                }
                last_read = Some(Instant::now());
                // This read sees what was announced so far; what is announced from now on
                // calls for the next one.
                announced.mark_unchanged();
                if let Err(error) = reading.read(&store, &reader.sender, overlap).await {
                    tracing::warn!(%error, "events: reading the outbox failed; trying again");
                }
                overlap = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(fallback) => OVERLAP,
                    Ok(()) = announced.changed() => WOKEN_OVERLAP,
                };
            }
        });
        hub
    }

    /// A new listener: it receives every event written from now on (and perhaps one written
    /// just before, not read yet), of every person; it keeps its own.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<OwnedEvent>> {
        let mut since = self.lock_since();
        let receiver = self.sender.subscribe();
        since.get_or_insert_with(crate::db::now);
        drop(since);
        self.listening.notify_one();
        receiver
    }

    /// Whether nobody listens; if so, the next listener's arrival time is to be taken anew.
    /// Under the same lock as `subscribe`, so a listener is either counted here or dated.
    fn idle(&self) -> bool {
        let mut since = self.lock_since();
        let idle = self.sender.receiver_count() == 0;
        if idle {
            *since = None;
        }
        idle
    }

    fn lock_since(&self) -> std::sync::MutexGuard<'_, Option<DateTime<Utc>>> {
        // A panic while holding it leaves only a time behind: still usable.
        self.listened_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Where the reading task is in the outbox.
struct Reading {
    /// When listening started: events written before it are not news to anyone.
    started: DateTime<Utc>,
    /// The newest event's time seen so far (`started`, at first).
    newest: DateTime<Utc>,
    /// The events read within the overlap, so that each is handed on once.
    seen: HashMap<Uuid, DateTime<Utc>>,
}

impl Reading {
    fn from(started: DateTime<Utc>) -> Reading {
        Reading {
            started,
            newest: started,
            seen: HashMap::new(),
        }
    }

    async fn read(
        &mut self,
        store: &SharedStore,
        sender: &broadcast::Sender<Arc<OwnedEvent>>,
        overlap: TimeDelta,
    ) -> Result<(), sqlx::Error> {
        let mut since = self.newest - overlap;
        loop {
            let events = store
                .outbox_since(since, None, &STREAM_KINDS, BATCH)
                .await?;
            for event in &events {
                if self.seen.insert(event.id, event.created_at).is_some()
                    || event.created_at < self.started
                {
                    continue;
                }
                self.newest = self.newest.max(event.created_at);
                if let Some(person_event) = person_event(event) {
                    let _ = sender.send(Arc::new(OwnedEvent {
                        id: event.id,
                        owner_id: event.owner_id,
                        event: person_event,
                    }));
                }
            }
            // A full batch: read on from its last event (more may share that time).
            match events.last() {
                Some(last) if events.len() as i64 == BATCH && last.created_at > since => {
                    since = last.created_at;
                }
                _ => break,
            }
        }
        let oldest = self.newest - OVERLAP;
        self.seen.retain(|_, at| *at >= oldest);
        Ok(())
    }
}

/// What an outbox event tells its owner's stream, if anything.
pub fn person_event(event: &OutboxEvent) -> Option<PersonEvent> {
    use crate::db;
    let payload: serde_json::Value = serde_json::from_str(&event.payload).ok()?;
    let uuid = |key: &str| {
        payload
            .get(key)
            .and_then(serde_json::Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
    };
    let conversation_id = uuid("conversation_id")?;
    Some(match event.kind.as_str() {
        db::OUTBOX_CONVERSATION_CREATED | db::transfer::OUTBOX_CONVERSATION_IMPORTED => {
            PersonEvent::ConversationCreated { conversation_id }
        }
        db::OUTBOX_CONVERSATION_RENAMED => PersonEvent::ConversationRenamed { conversation_id },
        db::OUTBOX_CONVERSATION_TITLED => PersonEvent::ConversationTitled { conversation_id },
        db::OUTBOX_CONVERSATION_DELETED => PersonEvent::ConversationDeleted { conversation_id },
        db::OUTBOX_MESSAGE_SENT => PersonEvent::MessageSent {
            conversation_id,
            message_id: event.subject_id,
        },
        db::OUTBOX_GENERATION_FINISHED => PersonEvent::AnswerFinished {
            conversation_id,
            message_id: event.subject_id,
            status: payload
                .get("status")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string(),
        },
        db::OUTBOX_ANSWER_VERSION_SHOWN => PersonEvent::AnswerVersionShown {
            conversation_id,
            message_id: event.subject_id,
        },
        _ => return None,
    })
}

/// The owner's events written after their event `after` (at most `REPLAY_WINDOW` ago and
/// `REPLAY_LIMIT` of them), for a client that reconnects; none when `after` is unknown or
/// too old (the stream's `ready` then tells it to read everything again).
pub async fn missed_since(
    store: &SharedStore,
    owner: Uuid,
    after: Uuid,
) -> Result<Vec<OwnedEvent>, sqlx::Error> {
    let Some(at) = store.outbox_event_time(owner, after).await? else {
        return Ok(Vec::new());
    };
    if at < crate::db::now() - REPLAY_WINDOW {
        return Ok(Vec::new());
    }
    let events = store
        .outbox_since(at, Some(owner), &STREAM_KINDS, REPLAY_LIMIT)
        .await?;
    Ok(events
        .iter()
        // The events of the same time as `after`, up to it, were sent before (ids grow).
        .filter(|e| e.id != after && (e.created_at > at || e.id > after))
        .filter_map(|e| {
            person_event(e).map(|event| OwnedEvent {
                id: e.id,
                owner_id: e.owner_id,
                event,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(kind: &str, payload: serde_json::Value) -> OutboxEvent {
        OutboxEvent {
            id: Uuid::now_v7(),
            owner_id: Uuid::now_v7(),
            kind: kind.into(),
            subject_id: Uuid::nil(),
            payload: payload.to_string(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn outbox_events_become_what_the_stream_tells() {
        let conversation_id = Uuid::now_v7();
        let imported = outbox(
            crate::db::transfer::OUTBOX_CONVERSATION_IMPORTED,
            serde_json::json!({ "conversation_id": conversation_id, "messages": 3 }),
        );
        assert_eq!(
            person_event(&imported),
            Some(PersonEvent::ConversationCreated { conversation_id })
        );
        let mut finished = outbox(
            crate::db::OUTBOX_GENERATION_FINISHED,
            serde_json::json!({ "conversation_id": conversation_id, "status": "stopped" }),
        );
        finished.subject_id = Uuid::now_v7();
        assert_eq!(
            person_event(&finished),
            Some(PersonEvent::AnswerFinished {
                conversation_id,
                message_id: finished.subject_id,
                status: "stopped".into()
            })
        );
        let tool = outbox(
            crate::db::OUTBOX_TOOL_FINISHED,
            serde_json::json!({ "conversation_id": conversation_id }),
        );
        assert_eq!(person_event(&tool), None);
        let broken = outbox(
            crate::db::OUTBOX_CONVERSATION_DELETED,
            serde_json::json!({}),
        );
        assert_eq!(person_event(&broken), None);
    }

    #[test]
    fn the_wire_form_is_tagged_by_type() {
        let conversation_id = Uuid::nil();
        let json =
            serde_json::to_value(PersonEvent::ConversationTitled { conversation_id }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "type": "conversation_titled", "conversation_id": conversation_id })
        );
        assert_eq!(
            serde_json::to_value(PersonEvent::Ready).unwrap(),
            serde_json::json!({ "type": "ready" })
        );
    }
}
