//! A generation is a server task, not part of an HTTP request: it goes on when the browser
//! disconnects, and anyone may watch it (again) from its message id.
//!
//! Each live generation keeps its text so far and a broadcast channel under one lock, so a new
//! watcher gets a snapshot and then every later delta, with no gap and no duplicate. Text is
//! flushed to the database periodically and at the end with its metrics.

use crate::db::{Finish, Store};
use crate::llm::{ChatEvent, ChatRequest, DoneInfo, OllamaClient, OllamaError};
use crate::model::{Message, MessageStatus, StreamEvent};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::broadcast;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use uuid::Uuid;

/// Events a slow watcher may fall behind by before it is sent a fresh snapshot instead.
const EVENT_BUFFER: usize = 512;

pub struct Generations {
    live: Mutex<HashMap<Uuid, Arc<LiveGeneration>>>,
    tracker: TaskTracker,
    shutting_down: CancellationToken,
    store: Store,
    ollama: OllamaClient,
    flush_interval: Duration,
}

/// What started a generation: the assistant message it writes and what to ask Ollama.
pub struct GenerationJob {
    pub owner_id: Uuid,
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    pub request: ChatRequest,
}

pub struct LiveGeneration {
    pub owner_id: Uuid,
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    state: Mutex<LiveState>,
    events: broadcast::Sender<StreamEvent>,
    cancel: CancellationToken,
    /// Why it was cancelled: `Stopped` by the person or `Interrupted` by shutdown.
    cancel_status: Mutex<MessageStatus>,
}

struct LiveState {
    content: String,
    done: Option<Message>,
}

/// How a watcher joins a generation.
pub enum Subscription {
    /// Still running: the text so far, then the events after it.
    Live {
        snapshot: String,
        events: broadcast::Receiver<StreamEvent>,
    },
    /// It ended while we looked; the final row.
    Finished(Message),
}

impl LiveGeneration {
    pub fn subscribe(&self) -> Subscription {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &state.done {
            Some(message) => Subscription::Finished(message.clone()),
            None => Subscription::Live {
                snapshot: state.content.clone(),
                events: self.events.subscribe(),
            },
        }
    }

    fn push(&self, text: String) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.content.push_str(&text);
        // No watcher is fine: the text is kept and flushed to the database all the same.
        let _ = self.events.send(StreamEvent::Delta { content: text });
    }

    fn content(&self) -> String {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .content
            .clone()
    }

    fn finish(&self, message: Message) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.done = Some(message.clone());
        let _ = self.events.send(StreamEvent::Done {
            message: Box::new(message),
        });
    }

    fn cancel_with(&self, status: MessageStatus) {
        *self.cancel_status.lock().unwrap_or_else(|e| e.into_inner()) = status;
        self.cancel.cancel();
    }
}

/// How the streaming loop ended.
enum End {
    Done(DoneInfo),
    Cancelled,
    Failed(OllamaError),
    /// The row was finalised elsewhere (stopped through another instance).
    Superseded,
}

impl Generations {
    pub fn new(store: Store, ollama: OllamaClient, flush_interval: Duration) -> Arc<Self> {
        Arc::new(Generations {
            live: Mutex::new(HashMap::new()),
            tracker: TaskTracker::new(),
            shutting_down: CancellationToken::new(),
            store,
            ollama,
            flush_interval: flush_interval.max(Duration::from_millis(10)),
        })
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.is_cancelled()
    }

    /// A token cancelled when shutdown begins; long-lived streams end on it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutting_down.clone()
    }

    pub fn get(&self, message_id: Uuid) -> Option<Arc<LiveGeneration>> {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&message_id)
            .cloned()
    }

    /// Generations running on this instance.
    pub fn running(&self) -> usize {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Starts a generation as a task of its own; false when the server is shutting down.
    pub fn start(self: &Arc<Self>, job: GenerationJob) -> bool {
        if self.is_shutting_down() {
            return false;
        }
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let live = Arc::new(LiveGeneration {
            owner_id: job.owner_id,
            conversation_id: job.conversation_id,
            message_id: job.message_id,
            state: Mutex::new(LiveState {
                content: String::new(),
                done: None,
            }),
            events,
            cancel: self.shutting_down.child_token(),
            cancel_status: Mutex::new(MessageStatus::Interrupted),
        });
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job.message_id, live.clone());
        let this = self.clone();
        self.tracker.spawn(async move {
            this.run(live, job.request).await;
            this.live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&job.message_id);
        });
        true
    }

    /// Stops a generation running here, keeping its text; false when it is not running here.
    pub fn stop(&self, owner_id: Uuid, message_id: Uuid) -> bool {
        match self.get(message_id) {
            Some(live) if live.owner_id == owner_id => {
                live.cancel_with(MessageStatus::Stopped);
                true
            }
            _ => false,
        }
    }

    /// Waits until the generation of `message_id` (if running here) has been saved.
    pub async fn wait_finished(&self, message_id: Uuid) {
        let Some(live) = self.get(message_id) else {
            return;
        };
        if let Subscription::Live { mut events, .. } = live.subscribe() {
            loop {
                match events.recv().await {
                    Ok(StreamEvent::Done { .. }) | Err(broadcast::error::RecvError::Closed) => {
                        break
                    }
                    _ => {}
                }
            }
        }
    }

    /// Shutdown: every running generation is cancelled and saved as interrupted, within `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        let running = self.running();
        self.shutting_down.cancel();
        self.tracker.close();
        if running > 0 {
            tracing::info!(running, "saving in-flight generations before exit");
        }
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "some generations were not saved within {}ms",
                grace.as_millis()
            );
        }
    }

    async fn run(&self, live: Arc<LiveGeneration>, request: ChatRequest) {
        let started = Instant::now();
        let mut first_token: Option<Duration> = None;
        let mut flushed_len = 0usize;
        let mut ticker =
            tokio::time::interval_at(started + self.flush_interval, self.flush_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);

        let end = tokio::select! {
            biased;
            _ = live.cancel.cancelled() => End::Cancelled,
            result = self.ollama.chat_stream(&request) => match result {
                Err(error) => End::Failed(error),
                Ok(mut stream) => loop {
                    tokio::select! {
                        biased;
                        _ = live.cancel.cancelled() => break End::Cancelled,
                        _ = ticker.tick() => {
                            let content = live.content();
                            if content.len() != flushed_len {
                                match self.store.save_partial(live.owner_id, live.message_id, &content).await {
                                    Ok(true) => flushed_len = content.len(),
                                    Ok(false) => break End::Superseded,
                                    Err(error) => tracing::warn!(%error, message_id = %live.message_id, "could not flush partial text; will retry"),
                                }
                            }
                        }
                        event = stream.next() => match event {
                            Ok(Some(ChatEvent::Delta(text))) => {
                                first_token.get_or_insert_with(|| started.elapsed());
                                live.push(text);
                            }
                            Ok(Some(ChatEvent::Done(info))) => break End::Done(info),
                            Ok(None) => break End::Done(DoneInfo::default()),
                            Err(error) => break End::Failed(error),
                        },
                    }
                },
            },
        };
        // The stream (and so the upstream request) was dropped with the select above.

        let mut finish = Finish {
            content: live.content(),
            ttft_ms: first_token.map(|d| d.as_millis() as i64),
            duration_ms: Some(started.elapsed().as_millis() as i64),
            ..Finish::default()
        };
        match end {
            End::Done(info) => {
                finish.status = Some(MessageStatus::Complete);
                finish.done_reason = info.done_reason;
                finish.prompt_tokens = info.prompt_eval_count;
                finish.completion_tokens = info.eval_count;
            }
            End::Cancelled => {
                let status = *live.cancel_status.lock().unwrap_or_else(|e| e.into_inner());
                finish.status = Some(status);
                if status == MessageStatus::Interrupted {
                    finish.error =
                        Some("the server shut down before this answer was complete".into());
                }
            }
            End::Failed(error) => {
                tracing::warn!(%error, message_id = %live.message_id, model = %request.model, "generation failed");
                finish.status = Some(MessageStatus::Error);
                finish.error = Some(crate::error::AppError::from(error).to_string());
            }
            End::Superseded => finish.status = None,
        }
        let message = self.save_final(&live, &finish).await;
        match message {
            Some(message) => live.finish(message),
            None => live.finish(self.fallback_message(&live, finish)),
        }
    }

    /// Writes the final row, retrying briefly if the database is unavailable, so that an answer
    /// is not lost to a short outage. Returns the stored row.
    async fn save_final(&self, live: &LiveGeneration, finish: &Finish) -> Option<Message> {
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=5 {
            let result = match finish.status {
                // Superseded: keep what the other writer stored.
                None => self.store.get_message(live.owner_id, live.message_id).await,
                Some(_) => {
                    self.store
                        .finish_message(live.owner_id, live.message_id, finish)
                        .await
                }
            };
            match result {
                Ok(Some(message)) => return Some(message),
                // Finalised elsewhere, or deleted with its conversation.
                Ok(None) => {
                    return self
                        .store
                        .get_message(live.owner_id, live.message_id)
                        .await
                        .ok()
                        .flatten()
                }
                Err(error) => {
                    tracing::error!(%error, attempt, message_id = %live.message_id, "could not save the end of a generation");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
        None
    }

    /// What watchers are told when the row could not be read back (deleted, or the database down).
    fn fallback_message(&self, live: &LiveGeneration, finish: Finish) -> Message {
        let now = crate::db::now();
        Message {
            id: live.message_id,
            conversation_id: live.conversation_id,
            owner_id: live.owner_id,
            role: crate::model::Role::Assistant,
            content: finish.content,
            model: None,
            status: finish.status.unwrap_or(MessageStatus::Error),
            error: finish.error,
            prompt_tokens: finish.prompt_tokens,
            completion_tokens: finish.completion_tokens,
            ttft_ms: finish.ttft_ms,
            duration_ms: finish.duration_ms,
            done_reason: finish.done_reason,
            created_at: now,
            updated_at: now,
        }
    }
}
