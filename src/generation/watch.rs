//! Following an answer as it is written: live from this instance's registry, or, when another
//! instance writes it, from the database. On PostgreSQL a trigger announces every change with
//! NOTIFY and one LISTEN connection per instance wakes the watchers of that message, which then
//! read only the text they do not have yet; SQLite (one instance) falls back to polling. The
//! same connection hears that outbox events were committed, and wakes this instance's reader
//! of people's live events (`crate::events`).

use super::{Generations, Subscription};
use crate::db::SharedStore;
use crate::model::{Message, StreamEvent};
use futures::Stream;
use std::{sync::Arc, time::Duration};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The channel the PostgreSQL trigger notifies with a changed message's id (see
/// migrations/postgres).
const CHANNEL: &str = "ollamastack_messages";
/// The channel notified when outbox events were committed.
const OUTBOX_CHANNEL: &str = "ollamastack_outbox";
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
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                let listener = async {
                    let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
                    listener.listen_all([CHANNEL, OUTBOX_CHANNEL]).await?;
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
                // Committed before this connection listened: nobody was told.
                store.outbox_signal().wake();
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        notification = listener.try_recv() => match notification {
                            Ok(Some(n)) if n.channel() == OUTBOX_CHANNEL => store.outbox_signal().wake(),
                            Ok(Some(n)) => {
                                if let Ok(id) = Uuid::parse_str(n.payload()) {
                                    let _ = sender.send(id);
                                }
                            }
                            // The connection was lost (the next call connects again): what was
                            // committed meanwhile is announced to nobody, so the outbox is read
                            // now (message watchers re-read within `PUSH_FALLBACK`).
                            Ok(None) => store.outbox_signal().wake(),
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

/// How often, at most, a follower gets the open block's HTML again while text streams in: the
/// block is re-rendered and re-sent whole, so a long block (a code listing) sent once per token
/// would cost the server and the network in proportion to its length squared.
const RENDER_EVERY: Duration = Duration::from_millis(50);

/// The events of `events` with the answer's HTML as it changes (`StreamEvent::Html`, rendered
/// here so the page needs no markdown renderer), and the final message with its `html`. The
/// first piece of text is rendered at once; later ones at most every [`RENDER_EVERY`], and the
/// text's deltas come with them, joined (the page shows the HTML: one event a token would cost
/// it a message to decode per token, and the stream its framing). Without a renderer (a tool's
/// row), only the next row of a run gets its HTML.
pub fn with_html(
    events: impl Stream<Item = StreamEvent> + Send + 'static,
    renderer: Option<crate::markdown::AnswerRenderer>,
) -> impl Stream<Item = StreamEvent> + Send + 'static {
    use futures::StreamExt;
    use tokio::time::Instant;
    async_stream::stream! {
        let mut events = std::pin::pin!(events);
        let Some(mut renderer) = renderer else {
            while let Some(event) = events.next().await {
                yield match event {
                    StreamEvent::Done { message, next } => StreamEvent::Done {
                        message,
                        next: next.map(|next| Box::new(crate::markdown::with_html(*next))),
                    },
                    other => other,
                };
            }
            return;
        };
        let mut text = String::new();
        // Text received and not sent yet: it goes with the next render.
        let mut pending = String::new();
        // The text changed since the last render: render at `due`.
        let mut dirty = false;
        let mut due = Instant::now();
        loop {
            let event = if dirty {
                tokio::select! {
                    biased;
                    _ = tokio::time::sleep_until(due) => {
                        dirty = false;
                        due = Instant::now() + RENDER_EVERY;
                        if !pending.is_empty() {
                            yield StreamEvent::Delta { content: std::mem::take(&mut pending) };
                        }
                        if let Some(html) = renderer.update(&text) {
                            yield html;
                        }
                        continue;
                    }
                    event = events.next() => event,
                }
            } else {
                events.next().await
            };
            let Some(event) = event else {
                if !pending.is_empty() {
                    yield StreamEvent::Delta { content: pending };
                }
                return;
            };
            match event {
                StreamEvent::Snapshot { ref content, .. } => {
                    // It holds the whole text: what was pending is in it.
                    pending.clear();
                    text.clone_from(content);
                    dirty = true;
                    yield event;
                }
                StreamEvent::Delta { content } => {
                    text.push_str(&content);
                    pending.push_str(&content);
                    dirty = true;
                }
                StreamEvent::Done { mut message, next } => {
                    if !pending.is_empty() {
                        yield StreamEvent::Delta { content: std::mem::take(&mut pending) };
                    }
                    if message.role == crate::model::Role::Assistant {
                        message.html = Some(renderer.finish(&message.content));
                    }
                    let next = next.map(|next| Box::new(crate::markdown::with_html(*next)));
                    yield StreamEvent::Done { message, next };
                    return;
                }
                other => yield other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown::{render_markdown, AnswerRenderer};
    use crate::model::AnswerHtml;
    use futures::StreamExt;

    fn answer(content: &str) -> Message {
        serde_json::from_value(serde_json::json!({
            "id": Uuid::nil(), "conversation_id": Uuid::nil(), "role": "assistant",
            "content": content, "model": null, "status": "complete", "error": null,
            "created_at": "2026-12-04T00:00:00Z", "updated_at": "2026-12-04T00:00:00Z",
        }))
        .unwrap()
    }

    /// A snapshot, then `tokens` deltas `every` apart, then done.
    fn answer_events(tokens: usize, every: Duration) -> impl Stream<Item = StreamEvent> + Send {
        paragraphs(tokens, every, 10)
    }

    /// The same with a paragraph every `para` tokens (0: one paragraph).
    fn paragraphs(
        tokens: usize,
        every: Duration,
        para: usize,
    ) -> impl Stream<Item = StreamEvent> + Send {
        async_stream::stream! {
            yield StreamEvent::Snapshot { content: String::new(), thinking: String::new() };
            let mut text = String::new();
            for i in 0..tokens {
                tokio::time::sleep(every).await;
                let piece = if para > 0 && i % para == para - 1 { "word.\n\n" } else { "word " };
                text.push_str(piece);
                yield StreamEvent::Delta { content: piece.to_string() };
            }
            yield StreamEvent::Done { message: Box::new(answer(&text)), next: None };
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_html_is_sent_at_most_every_50_ms_and_the_final_one_is_whole() {
        // 200 tokens 5 ms apart: one second of text.
        let events = with_html(
            answer_events(200, Duration::from_millis(5)),
            Some(AnswerRenderer::citing(Uuid::nil(), 0)),
        );
        let events: Vec<StreamEvent> = events.collect().await;
        let renders = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::Html { .. }))
            .count();
        assert!(
            (15..=22).contains(&renders),
            "{renders} renders in one second"
        );
        let deltas = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::Delta { .. }))
            .count();
        assert!(
            (renders - 1..=renders + 1).contains(&deltas),
            "the text comes with the renders, joined: {deltas} deltas, {renders} renders"
        );
        let mut page = AnswerHtml::default();
        let (mut done, mut text) = (None, String::new());
        for event in events {
            assert!(page.apply(&event), "fits what the page shows");
            match event {
                StreamEvent::Snapshot { content, .. } => text = content,
                StreamEvent::Delta { content } => text.push_str(&content),
                StreamEvent::Done { message, .. } => done = Some(message),
                _ => {}
            }
        }
        let done = done.expect("done");
        assert_eq!(text, done.content, "the deltas add up to the text");
        let html = done.html.clone().expect("the final message's HTML");
        assert_eq!(
            format!("{}{}", html.settled, html.live),
            render_markdown(&done.content)
        );
        assert!(html.settled.starts_with(&page.settled));
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_open_block_is_sent_by_its_new_end_not_whole_each_time() {
        // One paragraph of 3,000 words over 15 s: about 300 renders of a block up to 15 KB.
        let events: Vec<StreamEvent> = with_html(
            paragraphs(3000, Duration::from_millis(5), 0),
            Some(AnswerRenderer::citing(Uuid::nil(), 0)),
        )
        .collect()
        .await;
        let mut page = AnswerHtml::default();
        let (mut sent, mut renders) = (0, 0);
        for event in &events {
            assert!(page.apply(event), "fits what the page shows");
            if let StreamEvent::Html { settled, live, .. } = event {
                renders += 1;
                sent += settled.len() + live.as_ref().map_or(0, String::len);
            }
        }
        let whole = page.settled.len() + page.live.len();
        assert!(renders > 250, "{renders} renders");
        assert!(whole > 14_000, "{whole} bytes");
        assert!(
            sent < 2 * whole,
            "{sent} bytes sent for {whole} bytes of HTML"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_text_is_rendered_at_once() {
        let mut events = std::pin::pin!(with_html(
            answer_events(3, Duration::from_secs(1)),
            Some(AnswerRenderer::citing(Uuid::nil(), 0)),
        ));
        let start = tokio::time::Instant::now();
        assert!(matches!(
            events.next().await,
            Some(StreamEvent::Snapshot { .. })
        ));
        assert!(matches!(
            events.next().await,
            Some(StreamEvent::Html { reset: true, .. })
        ));
        assert!(matches!(
            events.next().await,
            Some(StreamEvent::Delta { .. })
        ));
        assert!(matches!(
            events.next().await,
            Some(StreamEvent::Html { reset: false, .. })
        ));
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(1),
            "no wait after the first token"
        );
    }

    #[tokio::test]
    async fn a_tools_row_passes_unchanged() {
        let events: Vec<StreamEvent> = with_html(answer_events(3, Duration::ZERO), None)
            .collect()
            .await;
        assert_eq!(events.len(), 5);
        assert!(events
            .iter()
            .all(|e| !matches!(e, StreamEvent::Html { .. })));
    }
}
