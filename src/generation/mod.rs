//! A generation is a server task, not part of an HTTP request: it goes on when the browser
//! disconnects, and anyone may watch it (again) from its message id.
//!
//! Each live generation keeps its text so far and a broadcast channel under one lock, so a new
//! watcher gets a snapshot and then every later delta, with no gap and no duplicate. Text is
//! flushed to the database periodically and at the end with its metrics.

pub mod prompted;
pub mod watch;

use crate::db::{Finish, NewMessage, SharedStore};
use crate::llm::{
    ChatEvent, ChatMessage, ChatRequest, ChatStream, DoneInfo, OllamaClient, OllamaError,
};
use crate::model::{
    Charts, GenerationMetrics, Message, MessageStatus, Role, StreamEvent, ToolCall, ToolCalls,
};
use crate::tools::{ToolContext, Toolbox};
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
    /// Admitted generations (running, or about to start) in total and per owner.
    admitted: Mutex<AdmissionCounts>,
    tracker: TaskTracker,
    shutting_down: CancellationToken,
    store: SharedStore,
    ollama: OllamaClient,
    limits: Limits,
    /// The tools agent runs may call.
    tools: Arc<Toolbox>,
    /// This process, as recorded on the rows it writes.
    pub instance_id: Uuid,
}

/// What bounds the work of generations; from `GenerationSettings`.
#[derive(Clone, Debug)]
pub struct Limits {
    pub flush_interval: Duration,
    /// A row whose heartbeat is older than this is taken for dead.
    pub heartbeat_timeout: Duration,
    pub max_concurrent: usize,
    pub max_concurrent_per_owner: usize,
    pub max_answer_chars: usize,
    /// For a whole agent run, every step and tool call included.
    pub max_duration: Duration,
    /// Most model calls in one agent run.
    pub max_steps: usize,
}

impl Limits {
    pub fn from_settings(settings: &crate::config::GenerationSettings) -> Limits {
        Limits {
            flush_interval: Duration::from_millis(settings.flush_interval_ms.max(10)),
            heartbeat_timeout: Duration::from_millis(settings.heartbeat_timeout_ms.max(100)),
            max_concurrent: settings.max_concurrent.max(1),
            max_concurrent_per_owner: settings.max_concurrent_per_owner.max(1),
            max_answer_chars: settings.max_answer_chars.max(1),
            max_duration: Duration::from_millis(settings.max_duration_ms.max(1)),
            max_steps: settings.max_agent_steps.max(1),
        }
    }

    /// Rows whose heartbeat is older than this belong to a writer taken for dead.
    pub fn stale_before(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            - chrono::Duration::from_std(self.heartbeat_timeout)
                .unwrap_or(chrono::Duration::seconds(30))
    }

    /// How often a generation with no new text still refreshes its heartbeat.
    fn heartbeat_interval(&self) -> Duration {
        (self.heartbeat_timeout / 4).max(self.flush_interval)
    }
}

#[derive(Default)]
struct AdmissionCounts {
    total: usize,
    per_owner: HashMap<Uuid, usize>,
}

/// A place among the running generations, taken before the turn is stored and given back when
/// the generation ends (or when the turn fails before it starts).
pub struct Admission {
    generations: Arc<Generations>,
    owner_id: Uuid,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut counts = self
            .generations
            .admitted
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_owner.get_mut(&self.owner_id) {
            *n -= 1;
            if *n == 0 {
                counts.per_owner.remove(&self.owner_id);
            }
        }
    }
}

/// Why a generation was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    ShuttingDown,
    ServerBusy { limit: usize },
    OwnerBusy { limit: usize },
}

/// What started a generation: the assistant message it writes and what to ask Ollama.
pub struct GenerationJob {
    /// The assistant row, streaming, that the generation writes first.
    pub row: Message,
    /// With `tools` (or, prompted, a `format`), an agent run: the model may call them, step
    /// after step.
    pub request: ChatRequest,
    pub tool_mode: ToolMode,
    /// The first model call, when it was started before the row was stored.
    pub early: Option<EarlyCall>,
    /// The span it runs in (see `generation_span`).
    pub span: tracing::Span,
}

/// The span of a generation: a child of the request that starts it, though it outlives it.
/// Made before the turn is stored, so that an early call is in it too; `start` fills in the
/// conversation and the message.
pub fn generation_span(model: &str, tools: usize) -> tracing::Span {
    tracing::info_span!(
        "generation",
        model = %model,
        conversation = tracing::field::Empty,
        message = tracing::field::Empty,
        tools,
    )
}

pub use crate::model::ToolMode;

/// A model call started before its turn is stored: Ollama works towards the first token while
/// the database writes the turn, instead of after. What Ollama sends meanwhile waits in the
/// stream until the generation reads it; dropped unused (the turn could not be stored, or what
/// was stored asks for another request) the call is aborted, its connection closed, and Ollama
/// stops.
pub struct EarlyCall {
    request: ChatRequest,
    started: Instant,
    opening: tokio_util::task::AbortOnDropHandle<Result<ChatStream, OllamaError>>,
    outcome: EarlyOutcome,
}

/// Counts how an early call ended, when it is dropped: used by a generation, or not.
struct EarlyOutcome {
    used: bool,
}

impl Drop for EarlyOutcome {
    fn drop(&mut self) {
        crate::observability::early_model_call(if self.used { "used" } else { "dropped" });
    }
}

impl EarlyCall {
    /// Sends `request` now, in the generation's `span`.
    pub fn start(ollama: &OllamaClient, request: ChatRequest, span: &tracing::Span) -> EarlyCall {
        let ollama = ollama.clone();
        let sent = request.clone();
        let task = tokio::spawn(tracing::Instrument::instrument(
            async move { ollama.chat_stream(&sent).await },
            span.clone(),
        ));
        EarlyCall {
            request,
            started: Instant::now(),
            opening: tokio_util::task::AbortOnDropHandle::new(task),
            outcome: EarlyOutcome { used: false },
        }
    }

    /// This call, if it asks exactly what `request` asks; else `None` (and it is aborted).
    pub fn serving(mut self, request: &ChatRequest) -> Option<EarlyCall> {
        self.outcome.used = self.request == *request;
        self.outcome.used.then_some(self)
    }

    async fn opened(self) -> Result<ChatStream, OllamaError> {
        match self.opening.await {
            Ok(opened) => opened,
            // Only a panic in the client ends the task otherwise (it is aborted only when
            // dropped): the generation reports it as a failed call.
            Err(error) => Err(OllamaError::Transport(format!(
                "the model call ended unexpectedly: {error}"
            ))),
        }
    }
}

/// One row being written: an answer, or one step of an agent run (a model call or a tool
/// call). The steps of a run share its cancellation, so Stop on any of them stops the run.
pub struct LiveGeneration {
    pub owner_id: Uuid,
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    role: Role,
    tool_name: Option<String>,
    model: Option<String>,
    state: Mutex<LiveState>,
    events: broadcast::Sender<StreamEvent>,
    cancel: CancellationToken,
    /// Why it was cancelled: `Stopped` by the person or `Interrupted` by shutdown.
    cancel_status: Arc<Mutex<MessageStatus>>,
}

struct LiveState {
    content: String,
    /// What a thinking model thought so far, apart from the answer.
    thinking: String,
    /// Characters in `content`, kept as text arrives (the length cap is in characters).
    chars: usize,
    done: Option<Message>,
}

/// How a watcher joins a generation.
pub enum Subscription {
    /// Still running: the text so far, then the events after it.
    Live {
        snapshot: String,
        thinking: String,
        events: broadcast::Receiver<StreamEvent>,
    },
    /// It ended while we looked; the final row.
    Finished(Box<Message>),
}

impl LiveGeneration {
    fn new(
        row: &Message,
        cancel: CancellationToken,
        cancel_status: Arc<Mutex<MessageStatus>>,
    ) -> Arc<LiveGeneration> {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Arc::new(LiveGeneration {
            owner_id: row.owner_id,
            conversation_id: row.conversation_id,
            message_id: row.id,
            role: row.role,
            tool_name: row.tool_name.clone(),
            model: row.model.clone(),
            state: Mutex::new(LiveState {
                content: String::new(),
                thinking: String::new(),
                chars: 0,
                done: None,
            }),
            events,
            cancel,
            cancel_status,
        })
    }

    pub fn subscribe(&self) -> Subscription {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &state.done {
            Some(message) => Subscription::Finished(Box::new(message.clone())),
            None => Subscription::Live {
                snapshot: state.content.clone(),
                thinking: state.thinking.clone(),
                events: self.events.subscribe(),
            },
        }
    }

    /// Appends streamed text; returns the answer's length in characters. What cannot be stored
    /// is removed here already, so watchers see exactly what a reload will show.
    fn push(&self, text: String) -> usize {
        let text = match crate::text::storable(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(cleaned) => cleaned,
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if text.is_empty() {
            return state.chars;
        }
        state.content.push_str(&text);
        state.chars += text.chars().count();
        let chars = state.chars;
        // No watcher is fine: the text is kept and flushed to the database all the same.
        let _ = self.events.send(StreamEvent::Delta { content: text });
        chars
    }

    /// Appends streamed thinking.
    fn push_thinking(&self, text: String) {
        let text = crate::text::storable(&text).into_owned();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !text.is_empty() {
            state.thinking.push_str(&text);
            let _ = self.events.send(StreamEvent::Thinking { content: text });
        }
    }

    /// The thinking so far, if any.
    fn thinking(&self) -> Option<String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (!state.thinking.is_empty()).then(|| state.thinking.clone())
    }

    /// What is new since a flush: (text, thinking) after these byte lengths (char boundaries:
    /// always previous lengths).
    fn unflushed(&self, text_from: usize, thinking_from: usize) -> (String, String) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (
            state
                .content
                .get(text_from..)
                .unwrap_or_default()
                .to_string(),
            state
                .thinking
                .get(thinking_from..)
                .unwrap_or_default()
                .to_string(),
        )
    }

    fn is_done(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .done
            .is_some()
    }

    /// The text so far.
    pub fn content(&self) -> String {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .content
            .clone()
    }

    fn finish(&self, message: Message) {
        self.finish_with_next(message, None);
    }

    /// The row is final; `next` is the row the run goes on with (a tool call or the next model
    /// call), so watchers can follow it.
    fn finish_with_next(&self, message: Message, next: Option<Message>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.done = Some(message.clone());
        let _ = self.events.send(StreamEvent::Done {
            message: Box::new(message),
            next: next.map(Box::new),
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
    /// The answer reached the longest length or duration this server allows.
    Limit(String),
}

impl Generations {
    /// `instance_id` names this process in the rows it writes; `shutting_down` is cancelled when
    /// it stops (other server tasks share both).
    pub fn new(
        store: SharedStore,
        ollama: OllamaClient,
        limits: Limits,
        tools: Arc<Toolbox>,
        instance_id: Uuid,
        shutting_down: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Generations {
            live: Mutex::new(HashMap::new()),
            admitted: Mutex::new(AdmissionCounts::default()),
            tracker: TaskTracker::new(),
            shutting_down,
            store,
            ollama,
            limits,
            tools,
            instance_id,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes a place for a new generation of `owner_id`, or says why there is none. Never an
    /// unbounded pile of tasks: above the caps the caller answers 429 with Retry-After.
    pub fn admit(self: &Arc<Self>, owner_id: Uuid) -> Result<Admission, Refusal> {
        if self.is_shutting_down() {
            return Err(Refusal::ShuttingDown);
        }
        let mut counts = self.admitted.lock().unwrap_or_else(|e| e.into_inner());
        if counts.total >= self.limits.max_concurrent {
            return Err(Refusal::ServerBusy {
                limit: self.limits.max_concurrent,
            });
        }
        let mine = counts.per_owner.entry(owner_id).or_default();
        if *mine >= self.limits.max_concurrent_per_owner {
            return Err(Refusal::OwnerBusy {
                limit: self.limits.max_concurrent_per_owner,
            });
        }
        *mine += 1;
        counts.total += 1;
        Ok(Admission {
            generations: self.clone(),
            owner_id,
        })
    }

    /// Admitted generations: running, or being started.
    pub fn admitted(&self) -> usize {
        self.admitted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .total
    }

    /// Every `every`, and once now, rows whose writer stopped refreshing their heartbeat become
    /// interrupted, so no answer stays "streaming" for ever, whatever happened to its writer.
    pub fn spawn_sweeper(self: &Arc<Self>, every: Duration) {
        let this = self.clone();
        let shutdown = self.shutting_down.clone();
        crate::periodic::every(every.max(Duration::from_millis(50)), shutdown, move || {
            let this = this.clone();
            async move {
                match this
                    .store
                    .interrupt_stale(Some(this.limits.stale_before()))
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(
                        interrupted = n,
                        "answers whose writer stopped answering are now marked interrupted"
                    ),
                    Err(error) => tracing::warn!(%error, "could not sweep stale answers"),
                }
                std::ops::ControlFlow::Continue(())
            }
        });
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

    /// Starts a generation as a task of its own, holding its admission until it ends; false
    /// when the server is shutting down.
    pub fn start(self: &Arc<Self>, job: GenerationJob, admission: Admission) -> bool {
        if self.is_shutting_down() {
            return false;
        }
        let live = LiveGeneration::new(
            &job.row,
            self.shutting_down.child_token(),
            Arc::new(Mutex::new(MessageStatus::Interrupted)),
        );
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(live.message_id, live.clone());
        let current = Arc::new(Mutex::new(live.clone()));
        let this = self.clone();
        let run_current = current.clone();
        let span = job.span;
        span.record(
            "conversation",
            tracing::field::display(live.conversation_id),
        );
        span.record("message", tracing::field::display(live.message_id));
        self.spawn_guarded(
            current,
            admission,
            tracing::Instrument::instrument(
                async move {
                    this.run(live, job.request, job.tool_mode, job.early, run_current)
                        .await;
                },
                span,
            ),
        );
        true
    }

    /// Runs a generation's future under a guard: however it ends (even by a panic), the row is
    /// saved with its text, watchers are told, the registry forgets it and its place is freed.
    fn spawn_guarded(
        self: &Arc<Self>,
        current: Arc<Mutex<Arc<LiveGeneration>>>,
        admission: Admission,
        work: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let guard = RunGuard {
            generations: self.clone(),
            current,
            _admission: admission,
        };
        self.tracker.spawn(async move {
            let guard = guard;
            work.await;
            drop(guard);
        });
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

    /// Waits until the generation of `message_id` (if running here) has been saved, at most
    /// `limit`; false when it had not by then.
    pub async fn wait_finished(&self, message_id: Uuid, limit: Duration) -> bool {
        let Some(live) = self.get(message_id) else {
            return true;
        };
        let wait = async {
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
        };
        let finished = tokio::time::timeout(limit, wait).await.is_ok();
        if !finished {
            tracing::warn!(%message_id, "a generation did not finish in time");
        }
        finished
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

    /// Runs a generation: one model call, or an agent run (model calls and tool calls, each
    /// step a row of its own, until the model answers without calls). `current` always holds
    /// the row being written, for the guard.
    async fn run(
        &self,
        first: Arc<LiveGeneration>,
        mut request: ChatRequest,
        mode: ToolMode,
        mut early: Option<EarlyCall>,
        current: Arc<Mutex<Arc<LiveGeneration>>>,
    ) {
        let deadline = early
            .as_ref()
            .map_or_else(Instant::now, |call| call.started)
            + self.limits.max_duration;
        let mut live = first;
        let mut step = 1usize;
        loop {
            let (mut finish, calls, raw) = self
                .stream_step(&live, &request, early.take(), mode, deadline)
                .await;
            let wants_tools = finish.status == Some(MessageStatus::Complete) && !calls.is_empty();
            if !wants_tools {
                self.end(&live, finish).await;
                return;
            }
            finish.tool_calls = ToolCalls(calls.clone());
            if step >= self.limits.max_steps {
                finish.status = Some(MessageStatus::Stopped);
                finish.metrics.done_reason = Some("limit".into());
                finish.error = Some(format!(
                    "the agent reached its step limit ({} model calls) before answering",
                    self.limits.max_steps
                ));
                self.end(&live, finish).await;
                return;
            }
            request.messages.push(match mode {
                ToolMode::Native => ChatMessage {
                    tool_calls: calls.clone(),
                    ..ChatMessage::new("assistant", finish.content.clone())
                },
                // The model's own JSON, as it wrote it.
                ToolMode::Prompted => ChatMessage::new("assistant", raw),
            });
            // Each call is a row of its own, run one after the other.
            for call in &calls {
                let next = NewMessage {
                    conversation_id: live.conversation_id,
                    owner_id: live.owner_id,
                    role: Role::Tool,
                    content: "",
                    model: None,
                    status: MessageStatus::Streaming,
                    tool_calls: ToolCalls(vec![call.clone()]),
                    tool_name: Some(&call.function.name),
                    attachments: None,
                };
                let Some(tool_live) = self.advance(&live, &finish, next, &current).await else {
                    return;
                };
                live = tool_live;
                let Some(tool_finish) = self.run_tool(&live, call, deadline).await else {
                    return;
                };
                request.messages.push(match mode {
                    ToolMode::Native => ChatMessage {
                        tool_name: Some(call.function.name.clone()),
                        tool_call_id: call.id.clone(),
                        ..ChatMessage::new("tool", tool_finish.content.clone())
                    },
                    ToolMode::Prompted => ChatMessage::new(
                        "user",
                        prompted::result_message(&call.function.name, &tool_finish.content),
                    ),
                });
                finish = tool_finish;
            }
            let next = NewMessage {
                conversation_id: live.conversation_id,
                owner_id: live.owner_id,
                role: Role::Assistant,
                content: "",
                model: Some(&request.model),
                status: MessageStatus::Streaming,
                tool_calls: ToolCalls::default(),
                tool_name: None,
                attachments: None,
            };
            let Some(next_live) = self.advance(&live, &finish, next, &current).await else {
                return;
            };
            live = next_live;
            step += 1;
        }
    }

    /// Runs one tool call on its row. `None` when the run ends here (stopped, out of time): the
    /// row is saved and the run must not go on.
    async fn run_tool(
        &self,
        live: &Arc<LiveGeneration>,
        call: &ToolCall,
        deadline: Instant,
    ) -> Option<Finish> {
        let context = ToolContext {
            owner_id: live.owner_id,
            conversation_id: Some(live.conversation_id),
        };
        let started = Instant::now();
        let invoke = self.tools.invoke(
            &context,
            &call.function.name,
            call.function.arguments.clone(),
        );
        tokio::pin!(invoke);
        // A long tool keeps its row's heartbeat fresh, so no instance takes it for dead.
        let every = self.limits.heartbeat_interval();
        let mut heartbeat = tokio::time::interval_at(started + every, every);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let outcome = loop {
            tokio::select! {
                biased;
                _ = live.cancel.cancelled() => break None,
                _ = tokio::time::sleep_until(deadline) => break None,
                outcome = &mut invoke => break Some(outcome),
                _ = heartbeat.tick() => {
                    if let Err(error) = self.store.append_partial(live.owner_id, live.message_id, "", "").await {
                        tracing::warn!(%error, message_id = %live.message_id, "could not refresh a tool's heartbeat");
                    }
                }
            }
        };
        let metrics = GenerationMetrics {
            duration_ms: Some(started.elapsed().as_millis() as i64),
            ..GenerationMetrics::default()
        };
        let Some(outcome) = outcome else {
            let (status, error) = if live.cancel.is_cancelled() {
                let status = *live.cancel_status.lock().unwrap_or_else(|e| e.into_inner());
                let why = if status == MessageStatus::Interrupted {
                    "the server shut down while the tool ran"
                } else {
                    "stopped while the tool ran"
                };
                (status, why.to_string())
            } else {
                (MessageStatus::Stopped, self.duration_limit_message())
            };
            let finish = Finish {
                status: Some(status),
                error: Some(error),
                metrics,
                ..Finish::default()
            };
            self.end(live, finish).await;
            return None;
        };
        Some(match outcome.result {
            Ok(reply) => {
                live.push(reply.text);
                Finish {
                    content: live.content(),
                    status: Some(MessageStatus::Complete),
                    charts: Charts(reply.charts),
                    metrics,
                    ..Finish::default()
                }
            }
            Err(error) => {
                // The model reads the error as the result and may try again.
                let text = format!("Error: {error}");
                live.push(text.clone());
                Finish {
                    content: live.content(),
                    status: Some(MessageStatus::Error),
                    error: Some(error.to_string()),
                    metrics,
                    ..Finish::default()
                }
            }
        })
    }

    /// Finalises the row `live` writes and starts `next` in one transaction, hands the run on
    /// to the new row (registry, watchers, guard) and returns it. `None` when the run must end
    /// (the row was finalised elsewhere, or the database stayed unavailable).
    async fn advance(
        &self,
        live: &Arc<LiveGeneration>,
        finish: &Finish,
        next: NewMessage<'_>,
        current: &Mutex<Arc<LiveGeneration>>,
    ) -> Option<Arc<LiveGeneration>> {
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=6 {
            match self
                .store
                .advance_step(
                    live.owner_id,
                    live.message_id,
                    finish,
                    next.clone(),
                    self.instance_id,
                )
                .await
            {
                Ok(Some((finished, next_row))) => {
                    let next_live = LiveGeneration::new(
                        &next_row,
                        live.cancel.clone(),
                        live.cancel_status.clone(),
                    );
                    {
                        let mut registry = self.live.lock().unwrap_or_else(|e| e.into_inner());
                        registry.insert(next_live.message_id, next_live.clone());
                        registry.remove(&live.message_id);
                    }
                    *current.lock().unwrap_or_else(|e| e.into_inner()) = next_live.clone();
                    live.finish_with_next(finished, Some(next_row));
                    return Some(next_live);
                }
                Ok(None) => {
                    // Stopped through another instance, swept, or deleted: keep what is stored.
                    let stored = self
                        .store
                        .get_message(live.owner_id, live.message_id)
                        .await
                        .ok()
                        .flatten();
                    live.finish(
                        stored.unwrap_or_else(|| self.fallback_message(live, finish.clone())),
                    );
                    return None;
                }
                Err(error) => {
                    tracing::error!(%error, attempt, message_id = %live.message_id, "could not store an agent step");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
        self.end(live, finish.clone()).await;
        None
    }

    /// Saves the final row and tells the watchers.
    async fn end(&self, live: &LiveGeneration, finish: Finish) {
        let message = self.save_final(live, &finish).await;
        match message {
            Some(message) => live.finish(message),
            None => live.finish(self.fallback_message(live, finish)),
        }
    }

    /// Streams one model call into the row `live` writes; returns how it ended, the tool calls
    /// the model made and, prompted, the JSON it wrote (which is not shown as text).
    async fn stream_step(
        &self,
        live: &LiveGeneration,
        request: &ChatRequest,
        early: Option<EarlyCall>,
        mode: ToolMode,
        deadline: Instant,
    ) -> (Finish, Vec<ToolCall>, String) {
        let mut raw = String::new();
        // Time to first token counts from when Ollama was asked.
        let started = early
            .as_ref()
            .map_or_else(Instant::now, |call| call.started);
        let mut first_token: Option<Duration> = None;
        let mut flushed_len = 0usize;
        let mut thinking_flushed_len = 0usize;
        let mut last_write = started;
        let heartbeat_every = self.limits.heartbeat_interval();
        let mut ticker = tokio::time::interval_at(
            started + self.limits.flush_interval,
            self.limits.flush_interval,
        );
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let max_chars = self.limits.max_answer_chars;
        let mut calls: Vec<ToolCall> = Vec::new();

        // Opening the stream waits for the first token (loading the model, or trying the next
        // server of the pool): heartbeats keep the row ours meanwhile.
        let opening = match early {
            Some(call) => futures::future::Either::Left(call.opened()),
            None => futures::future::Either::Right(self.ollama.chat_stream(request)),
        };
        tokio::pin!(opening);
        let opened = loop {
            tokio::select! {
                biased;
                _ = live.cancel.cancelled() => break Err(End::Cancelled),
                _ = tokio::time::sleep_until(deadline) => break Err(End::Limit(self.duration_limit_message())),
                result = &mut opening => break result.map_err(End::Failed),
                _ = ticker.tick() => {
                    if last_write.elapsed() < heartbeat_every {
                        continue;
                    }
                    match self.store.append_partial(live.owner_id, live.message_id, "", "").await {
                        Ok(true) => last_write = Instant::now(),
                        Ok(false) => break Err(End::Superseded),
                        Err(error) => tracing::warn!(%error, message_id = %live.message_id, "could not refresh the heartbeat; will retry"),
                    }
                }
            }
        };
        let end = match opened {
            Err(end) => end,
            Ok(mut stream) => loop {
                tokio::select! {
                    biased;
                    _ = live.cancel.cancelled() => break End::Cancelled,
                    _ = tokio::time::sleep_until(deadline) => break End::Limit(self.duration_limit_message()),
                    _ = ticker.tick() => {
                        // Only what is new since the last flush is written; with nothing new,
                        // a heartbeat now and then tells other instances this one is alive.
                        let (appended, thinking) = live.unflushed(flushed_len, thinking_flushed_len);
                        if appended.is_empty() && thinking.is_empty() && last_write.elapsed() < heartbeat_every {
                            continue;
                        }
                        match self.store.append_partial(live.owner_id, live.message_id, &appended, &thinking).await {
                            Ok(true) => {
                                flushed_len += appended.len();
                                thinking_flushed_len += thinking.len();
                                last_write = Instant::now();
                            }
                            Ok(false) => break End::Superseded,
                            Err(error) => tracing::warn!(%error, message_id = %live.message_id, "could not flush partial text; will retry"),
                        }
                    }
                    event = stream.next() => match event {
                        Ok(Some(ChatEvent::Delta(text))) if mode == ToolMode::Prompted => {
                            first_token.get_or_insert_with(|| started.elapsed());
                            raw.push_str(&text);
                            if raw.len() > max_chars.saturating_mul(4) {
                                break End::Limit(format!(
                                    "the answer reached the longest length this server allows ({max_chars} characters)"
                                ));
                            }
                        }
                        Ok(Some(ChatEvent::Delta(text))) => {
                            first_token.get_or_insert_with(|| started.elapsed());
                            if live.push(text) > max_chars {
                                break End::Limit(format!(
                                    "the answer reached the longest length this server allows ({max_chars} characters)"
                                ));
                            }
                        }
                        Ok(Some(ChatEvent::Thinking(text))) => {
                            first_token.get_or_insert_with(|| started.elapsed());
                            live.push_thinking(text);
                        }
                        Ok(Some(ChatEvent::ToolCalls(mut more))) => {
                            first_token.get_or_insert_with(|| started.elapsed());
                            calls.append(&mut more);
                        }
                        Ok(Some(ChatEvent::Done(info))) => break End::Done(info),
                        Ok(None) => break End::Done(DoneInfo::default()),
                        Err(error) => break End::Failed(error),
                    },
                }
            },
        };
        // The stream (and so the upstream request) was dropped with the loop above.

        // Prompted: the reply is one JSON object; a call becomes a tool call, an answer the
        // text (shown at once, since the JSON around it was not for the person's eyes).
        if mode == ToolMode::Prompted && matches!(end, End::Done(_)) {
            match prompted::parse(&raw) {
                prompted::Reply::Call { name, arguments } => calls.push(ToolCall {
                    id: None,
                    function: crate::model::ToolCallFunction {
                        index: None,
                        name,
                        arguments,
                    },
                }),
                prompted::Reply::Answer(text) => {
                    live.push(text);
                }
            }
        }

        let mut finish = Finish {
            content: live.content(),
            thinking: live.thinking(),
            metrics: GenerationMetrics {
                ttft_ms: first_token.map(|d| d.as_millis() as i64),
                duration_ms: Some(started.elapsed().as_millis() as i64),
                ..GenerationMetrics::default()
            },
            ..Finish::default()
        };
        match end {
            End::Done(info) => {
                finish.status = Some(MessageStatus::Complete);
                finish.metrics.done_reason = info.done_reason;
                finish.metrics.prompt_tokens = info.prompt_eval_count;
                finish.metrics.completion_tokens = info.eval_count;
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
            End::Limit(reason) => {
                finish.status = Some(MessageStatus::Stopped);
                finish.metrics.done_reason = Some("limit".into());
                finish.error = Some(reason);
            }
        }
        (finish, calls, raw)
    }

    fn duration_limit_message(&self) -> String {
        format!(
            "the answer reached the longest time this server allows ({}s)",
            self.limits.max_duration.as_secs()
        )
    }

    /// Writes the final row, retrying with back-off if the database is unavailable, so that an
    /// answer is not lost to a short outage. Returns the stored row. If it keeps failing, the
    /// row's heartbeat goes stale and the sweeper of any instance finalises it (status
    /// interrupted, with the text flushed so far) once the database answers again.
    async fn save_final(&self, live: &LiveGeneration, finish: &Finish) -> Option<Message> {
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=6 {
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
                Ok(Some(message)) => {
                    if finish.status.is_some() {
                        crate::observability::generation_finished(&message);
                    }
                    return Some(message);
                }
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
                    delay = (delay * 2).min(Duration::from_secs(2));
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
            role: live.role,
            content: finish.content,
            model: live.model.clone(),
            status: finish.status.unwrap_or(MessageStatus::Error),
            error: finish.error,
            tool_calls: finish.tool_calls,
            tool_name: live.tool_name.clone(),
            thinking: finish.thinking,
            charts: finish.charts,
            sources: Default::default(),
            attachments: Default::default(),
            metrics: finish.metrics,
            created_at: now,
            updated_at: now,
            html: None,
            versions: None,
        }
    }
}

/// Makes a generation's end certain: dropped when its task ends, normally or by a panic.
struct RunGuard {
    generations: Arc<Generations>,
    /// The row the run is writing now.
    current: Arc<Mutex<Arc<LiveGeneration>>>,
    _admission: Admission,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        let generations = self.generations.clone();
        let live = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        generations
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&live.message_id);
        if live.is_done() {
            return;
        }
        // The task died before saving (a panic): save what it had, and tell the watchers.
        tracing::error!(message_id = %live.message_id, "a generation task ended without saving; saving its text");
        let finish = Finish {
            content: live.content(),
            status: Some(MessageStatus::Error),
            error: Some("the answer failed unexpectedly on the server".into()),
            ..Finish::default()
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            live.finish(generations.fallback_message(&live, finish));
            return;
        };
        runtime.spawn(async move {
            generations.end(&live, finish).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DatabaseSettings, GenerationSettings, OllamaSettings};
    use crate::db::NewMessage;
    use crate::model::Role;

    async fn store() -> (tempfile::TempDir, SharedStore) {
        let dir = tempfile::tempdir().unwrap();
        let settings = DatabaseSettings {
            url: Some(format!("sqlite://{}", dir.path().join("t.db").display())),
            ..Default::default()
        };
        (dir, crate::db::connect(&settings).await.unwrap())
    }

    fn generations(store: &SharedStore, settings: GenerationSettings) -> Arc<Generations> {
        Generations::new(
            store.clone(),
            OllamaClient::new(&OllamaSettings::default()),
            Limits::from_settings(&settings),
            Arc::new(Toolbox::basic()),
            Uuid::now_v7(),
            CancellationToken::new(),
        )
    }

    /// An early call serves only the request it was started with; dropped unused, Ollama sees
    /// its request closed and stops generating.
    #[tokio::test]
    async fn an_early_call_serves_its_own_request_and_is_aborted_unused() {
        use crate::testing::fake_ollama::{expected_answer, FakeConfig, FakeOllama};
        use crate::testing::wait_until;
        use std::sync::atomic::Ordering;
        let fake = FakeOllama::start(FakeConfig::default()).await.unwrap();
        let ollama = OllamaClient::new(&OllamaSettings {
            url: fake.url(),
            ..OllamaSettings::default()
        });
        let request = |prompt: &str| ChatRequest {
            model: "llama3.2".into(),
            messages: vec![ChatMessage::new("user", prompt)],
            options: Default::default(),
            tools: Vec::new(),
            format: None,
        };

        let long = request("[tokens=500][delay=20]");
        let call = EarlyCall::start(&ollama, long.clone(), &tracing::Span::none());
        wait_until(
            || fake.stats.active_streams.load(Ordering::SeqCst) == 1,
            "Ollama is answering",
        )
        .await;
        assert!(call.serving(&request("something else")).is_none());
        wait_until(
            || fake.stats.cancelled_streams.load(Ordering::SeqCst) == 1,
            "the unused call's request is closed",
        )
        .await;
        assert_eq!(fake.stats.completed_streams.load(Ordering::SeqCst), 0);

        let short = request("[tokens=12]");
        let call = EarlyCall::start(&ollama, short.clone(), &tracing::Span::none())
            .serving(&short)
            .expect("the same request");
        let mut stream = call.opened().await.unwrap();
        let mut text = String::new();
        while let Some(event) = stream.next().await.unwrap() {
            match event {
                ChatEvent::Delta(delta) => text.push_str(&delta),
                ChatEvent::Done(_) => break,
                _ => {}
            }
        }
        assert_eq!(text, expected_answer(12));
        assert_eq!(fake.stats.chat_requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_panicking_generation_saves_its_row_and_leaves_the_registry() {
        let (_dir, store) = store().await;
        let owner = store.ensure_user("local").await.unwrap();
        let conversation = store
            .create_conversation(owner, "t", "m", None)
            .await
            .unwrap();
        let row = store
            .insert_message(NewMessage {
                conversation_id: conversation.id,
                owner_id: owner,
                role: Role::Assistant,
                content: "",
                model: Some("m"),
                status: MessageStatus::Streaming,
                tool_calls: Default::default(),
                tool_name: None,
                attachments: None,
            })
            .await
            .unwrap();
        let generations = generations(&store, GenerationSettings::default());
        let admission = generations.admit(owner).unwrap();
        let live = LiveGeneration::new(
            &row,
            CancellationToken::new(),
            Arc::new(Mutex::new(MessageStatus::Interrupted)),
        );
        generations
            .live
            .lock()
            .unwrap()
            .insert(row.id, live.clone());
        let pushed = live.clone();
        generations.spawn_guarded(Arc::new(Mutex::new(live.clone())), admission, async move {
            pushed.push("half an answer".into());
            panic!("a bug in the generation loop");
        });
        assert!(
            generations
                .wait_finished(row.id, Duration::from_secs(5))
                .await,
            "watchers are told it ended"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stored = store.get_message(owner, row.id).await.unwrap().unwrap();
            if stored.status.is_final() {
                assert_eq!(stored.status, MessageStatus::Error);
                assert_eq!(stored.content, "half an answer");
                break;
            }
            assert!(Instant::now() < deadline, "the row was not saved");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(generations.running(), 0, "the registry forgot it");
        assert_eq!(generations.admitted(), 0, "its place is free again");
    }

    #[tokio::test]
    async fn admission_is_capped_per_server_and_per_owner() {
        let (_dir, store) = store().await;
        let settings = GenerationSettings {
            max_concurrent: 3,
            max_concurrent_per_owner: 2,
            ..Default::default()
        };
        let generations = generations(&store, settings);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let a1 = generations.admit(a).unwrap();
        let _a2 = generations.admit(a).unwrap();
        assert_eq!(
            generations.admit(a).err(),
            Some(Refusal::OwnerBusy { limit: 2 })
        );
        let _b1 = generations.admit(b).unwrap();
        assert_eq!(
            generations.admit(b).err(),
            Some(Refusal::ServerBusy { limit: 3 })
        );
        drop(a1);
        assert!(generations.admit(b).is_ok(), "a freed place is reusable");
    }
}
