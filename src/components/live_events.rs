//! The person's events (`GET /api/v1/events`), heard while the tab is shown: the sidebar and
//! the open conversation follow what other tabs, devices, API clients and the model change,
//! without a reload. A hidden tab lets its stream go (browsers allow a handful of open
//! connections to one server) and reads the list again when it is shown.

#[cfg(feature = "hydrate")]
use crate::context::ChatContext;

/// Listens for the page's lifetime.
#[cfg(feature = "hydrate")]
pub fn listen(chat: ChatContext) {
    use leptos::prelude::*;

    let stop = StoredValue::new(None::<futures::channel::oneshot::Sender<()>>);
    let start = move |first: bool| {
        let (stop_tx, stop_rx) = futures::channel::oneshot::channel::<()>();
        if let Some(previous) = stop.try_update_value(|s| s.replace(stop_tx)).flatten() {
            let _ = previous.send(());
        }
        leptos::task::spawn_local(follow(chat, stop_rx, first));
    };
    if !tab_hidden() {
        start(true);
    }
    // Listening for the page's lifetime: the handle is never removed.
    let _ = window_event_listener_untyped("visibilitychange", move |_| {
        if tab_hidden() {
            if let Some(Some(running)) = stop.try_update_value(Option::take) {
                let _ = running.send(());
            }
            chat.live.set(false);
        } else if stop.with_value(Option::is_none) {
            start(false);
        }
    });
}

#[cfg(feature = "hydrate")]
fn on_sign_in_page() -> bool {
    let path = leptos::prelude::window()
        .location()
        .pathname()
        .unwrap_or_default();
    matches!(path.as_str(), "/login" | "/signup")
}

#[cfg(feature = "hydrate")]
fn tab_hidden() -> bool {
    leptos::prelude::document().hidden()
}

/// Follows the stream until `stop`, connecting again after failures (a restart, the network,
/// the stream's own end). `first`: the page was just rendered, so the `ready` of the first
/// connection needs no reading again.
#[cfg(feature = "hydrate")]
async fn follow(chat: ChatContext, stop: futures::channel::oneshot::Receiver<()>, mut first: bool) {
    use crate::context::HeardEvent;
    use futures::{FutureExt, StreamExt};
    use gloo_net::eventsource::futures::EventSource;
    use leptos::prelude::*;

    let mut stop = stop.fuse();
    let mut backoff_ms = 1_000u32;
    let refresh = Refresh::default();
    loop {
        // Nobody to hear on the sign-in pages: look again after the pause.
        if !on_sign_in_page() {
            let Ok(mut source) = EventSource::new("/api/v1/events") else {
                return;
            };
            let Ok(mut events) = source.subscribe("message") else {
                source.close();
                return;
            };
            loop {
                futures::select! {
                    _ = stop => {
                        source.close();
                        return;
                    }
                    item = events.next().fuse() => match item {
                        Some(Ok((_, message))) => {
                            let Some(json) = message.data().as_string() else { continue };
                            let Ok(event) = serde_json::from_str::<HeardEvent>(&json) else { continue };
                            backoff_ms = 1_000;
                            let _ = chat.live.try_set(true);
                            if event.kind == "ready" && std::mem::take(&mut first) {
                                continue;
                            }
                            if chat.activity.try_update_value(|activity| activity.hear(&event)).is_some() {
                                let _ = chat.heard.try_update(|heard| *heard += 1);
                            }
                            refresh.soon(chat);
                        }
                        // A failed connection (the server restarted or ended the stream, the
                        // network went): connect again after the pause, not by the browser's
                        // own retries.
                        Some(Err(_)) | None => break,
                    }
                }
            }
            source.close();
            let _ = chat.live.try_set(false);
            first = false;
        }
        let woken =
            crate::components::time::sleep(std::time::Duration::from_millis(backoff_ms.into()));
        futures::select! {
            _ = stop => return,
            _ = woken.fuse() => {}
        }
        backoff_ms = (backoff_ms * 2).min(30_000);
    }
}

/// Reads the conversation list again once for a burst of events (an answer's end and its
/// title come close together).
#[cfg(feature = "hydrate")]
#[derive(Clone, Default)]
struct Refresh(std::rc::Rc<std::cell::Cell<bool>>);

#[cfg(feature = "hydrate")]
impl Refresh {
    fn soon(&self, chat: ChatContext) {
        if self.0.replace(true) {
            return;
        }
        let pending = self.0.clone();
        leptos::task::spawn_local(async move {
            crate::components::time::sleep(std::time::Duration::from_millis(100)).await;
            pending.set(false);
            chat.refresh_conversations();
        });
    }
}
