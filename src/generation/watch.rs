//! Following an answer as it is written: live from this instance's registry, or, when another
//! instance writes it, from the database. On PostgreSQL a trigger announces every change with
//! NOTIFY and one LISTEN connection per instance wakes the watchers of that message, which then
//! read only the text they do not have yet; SQLite (one instance) falls back to polling.

use super::{Generations, Subscription};
use crate::db::SharedStore;
use crate::model::{Message, StreamEvent};
use futures::Stream;
use std::{sync::Arc, time::Duration};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The channel the PostgreSQL trigger notifies (see migrations/postgres).
const CHANNEL: &str = "ollamastack_messages";
/// Polling period without push (SQLite).
const POLL: Duration = Duration::from_millis(250);
/// With push, a re-read this often all the same, in case a notification was lost (reconnect).
const PUSH_FALLBACK: Duration = Duration::from_secs(2);

/// Announces which messages changed in the database, as ids.
pub struct Notifier {
    changed: broadcast::Sender<Uuid>,
    push: bool,
}

impl Notifier {
    /// On PostgreSQL, starts the one LISTEN connection of this instance (reconnecting after
    /// errors until shutdown); elsewhere a notifier that never pushes.
    pub fn start(store: &SharedStore, shutdown: CancellationToken) -> Arc<Notifier> {
        let (changed, _) = broadcast::channel(1024);
        let Some(pool) = store.postgres_pool().cloned() else {
            return Arc::new(Notifier {
                changed,
                push: false,
            });
        };
        let sender = changed.clone();
        tokio::spawn(async move {
            loop {
                let listener = async {
                    let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
                    listener.listen(CHANNEL).await?;
                    Ok::<_, sqlx::Error>(listener)
                };
                let mut listener = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    result = listener => match result {
                        Ok(listener) => listener,
                        Err(error) => {
                            tracing::warn!(%error, "cannot LISTEN for message changes; retrying");
                            tokio::select! {
                                _ = shutdown.cancelled() => return,
                                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                            }
                        }
                    },
                };
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        notification = listener.recv() => match notification {
                            Ok(n) => {
                                if let Ok(id) = Uuid::parse_str(n.payload()) {
                                    let _ = sender.send(id);
                                }
                            }
                            Err(error) => {
                                tracing::warn!(%error, "the LISTEN connection failed; reconnecting");
                                break;
                            }
                        },
                    }
                }
            }
        });
        Arc::new(Notifier {
            changed,
            push: true,
        })
    }

    /// Whether changes are pushed (PostgreSQL) rather than polled.
    pub fn pushes(&self) -> bool {
        self.push
    }

    /// Waits until `id` changes (or may have: a lagging receiver, the fallback period).
    async fn changed(&self, receiver: &mut broadcast::Receiver<Uuid>, id: Uuid) {
        if !self.push {
            tokio::time::sleep(POLL).await;
            return;
        }
        let wait = async {
            loop {
                match receiver.recv().await {
                    Ok(changed) if changed == id => return,
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => return,
                    Err(RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        };
        let _ = tokio::time::timeout(PUSH_FALLBACK, wait).await;
    }
}

/// The live events of a message: a snapshot of its text, deltas as they arrive, then `Done`.
/// For a message that is already final, only `Done`. The caller has checked the owner, from
/// the row (`message`, when it was read) or from this instance's registry.
pub fn message_events(
    generations: Arc<Generations>,
    store: SharedStore,
    notifier: Arc<Notifier>,
    owner: Uuid,
    message_id: Uuid,
    message: Option<Message>,
) -> impl Stream<Item = StreamEvent> + Send + 'static {
    let shutdown = generations.shutdown_token();
    async_stream::stream! {
        if let Some(message) = message.filter(|m| m.status.is_final()) {
            yield done_event(&store, owner, message).await;
            return;
        }
        let mut changes = notifier.changed.subscribe();
        // Characters of the text the watcher has (when following the database).
        let mut have_chars: Option<i64> = None;
        loop {
            // Running here: follow it live.
            if let Some(live) = generations.get(message_id).filter(|g| g.owner_id == owner) {
                let mut subscription = live.subscribe();
                loop {
                    match subscription {
                        Subscription::Finished(message) => {
                            yield done_event(&store, owner, *message).await;
                            return;
                        }
                        Subscription::Live { snapshot, thinking, mut events } => {
                            yield StreamEvent::Snapshot { content: snapshot, thinking };
                            loop {
                                match events.recv().await {
                                    Ok(event @ StreamEvent::Done { .. }) => {
                                        yield event;
                                        return;
                                    }
                                    Ok(event) => yield event,
                                    // Fell behind: start again from a fresh snapshot.
                                    Err(RecvError::Lagged(_)) => break,
                                    Err(RecvError::Closed) => {
                                        if let Ok(Some(message)) = store.get_message(owner, message_id).await {
                                            yield done_event(&store, owner, message).await;
                                        }
                                        return;
                                    }
                                }
                            }
                            subscription = live.subscribe();
                        }
                    }
                }
            }
            // Not running here (another instance, or just finished): follow the database,
            // reading only the characters the watcher does not have yet.
            let from = have_chars.unwrap_or(0);
            match store.message_tail(owner, message_id, from).await {
                Ok(Some(tail)) if tail.status.is_final() => {
                    match store.get_message(owner, message_id).await {
                        Ok(Some(message)) => {
                            // The text written after the last read comes as a delta, so that the
                            // events always add up to the stored text, as they do when live.
                            if let Some(have) = have_chars {
                                let from = message
                                    .content
                                    .char_indices()
                                    .nth(have as usize)
                                    .map(|(i, _)| i);
                                if let Some(from) = from {
                                    yield StreamEvent::Delta { content: message.content[from..].to_string() };
                                }
                            }
                            yield done_event(&store, owner, message).await;
                        }
                        Ok(None) => {}
                        Err(error) => tracing::warn!(%error, %message_id, "could not read a finished message"),
                    }
                    return;
                }
                Ok(Some(tail)) => match have_chars {
                    Some(have) if tail.chars >= have => {
                        if !tail.tail.is_empty() {
                            yield StreamEvent::Delta { content: tail.tail };
                        }
                        have_chars = Some(tail.chars);
                    }
                    // First read, or the text was rewritten shorter: start from a snapshot.
                    Some(_) => {
                        have_chars = None;
                        continue;
                    }
                    None => {
                        yield StreamEvent::Snapshot { content: tail.tail, thinking: String::new() };
                        have_chars = Some(tail.chars);
                    }
                },
                Ok(None) => return,
                Err(error) => tracing::warn!(%error, %message_id, "could not read a message being written"),
            }
            tokio::select! {
                _ = notifier.changed(&mut changes, message_id) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

/// The `Done` event of a final row. A step of an agent run names the row that followed it, so
/// a watcher who joins after the step ended (tool calls end in microseconds) still follows
/// the run to its answer.
async fn done_event(store: &SharedStore, owner: Uuid, message: Message) -> StreamEvent {
    let next = if message.is_agent_step() {
        match store.next_message(owner, &message).await {
            Ok(next) => next.map(Box::new),
            Err(error) => {
                tracing::warn!(%error, message_id = %message.id, "could not read the next step");
                None
            }
        }
    } else {
        None
    };
    StreamEvent::Done {
        message: Box::new(message),
        next,
    }
}
