use chrono::{DateTime, Timelike, Utc};
use leptos::prelude::*;

/// A message time as HH:MM: UTC when rendered on the server, the person's local time once the
/// page is live.
#[component]
pub fn MessageTime(at: DateTime<Utc>) -> impl IntoView {
    // Not `format("%H:%M")`: chrono's format-string engine would cost the WASM about 11 KB.
    let text = RwSignal::new(format!("{:02}:{:02}", at.hour(), at.minute()));
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
                at.timestamp_millis() as f64
            ));
            text.set(format!("{:02}:{:02}", date.get_hours(), date.get_minutes()));
        }
    });
    view! {
        <time datetime=at.to_rfc3339() title=at.to_rfc3339() class="message-time text-xs text-muted">
            {move || text.get()}
        </time>
    }
}

/// Waits `duration` in the browser (a timer): a future that can be raced in `select!`.
#[cfg(feature = "hydrate")]
pub fn sleep(duration: std::time::Duration) -> impl std::future::Future<Output = ()> + Unpin {
    use futures::FutureExt;
    let (wake, woken) = futures::channel::oneshot::channel::<()>();
    set_timeout(
        move || {
            let _ = wake.send(());
        },
        duration,
    );
    woken.map(|_| ())
}
