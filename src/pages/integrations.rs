//! Integrations (`features.webhooks`): the person's webhooks, registered with the events they
//! want, tried out with a ping, switched off or deleted; and each one's delivery log with
//! "send again". The signing secret is shown once, when a webhook is made.

use crate::model::{DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent};
use crate::server_fns::accounts::get_auth_status;
use crate::server_fns::webhooks::{
    create_webhook, delete_webhook, list_webhooks, ping_webhook, redeliver_webhook,
    set_webhook_enabled, webhook_deliveries,
};
use leptos::prelude::*;
use uuid::Uuid;

/// How a receiver checks a delivery, shown on the page.
const VERIFY_SNIPPET: &str = r#"import hmac, hashlib, time

def verify(secret: str, header: str, body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(","))
    if abs(time.time() - int(parts["t"])) > 300:
        return False  # too old: a replay
    signed = parts["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])"#;

#[component]
pub fn IntegrationsPage() -> impl IntoView {
    let loaded = Resource::new(|| (), |_| list_webhooks());
    let status = Resource::new(|| (), |_| get_auth_status());
    let hooks = RwSignal::new(None::<Vec<Webhook>>);
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let chosen = RwSignal::new(vec![WebhookEvent::AnswerCompleted]);
    let instance_wide = RwSignal::new(false);
    let secret = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let refresh = move || {
        leptos::task::spawn_local(async move {
            match list_webhooks().await {
                Ok(list) => hooks.set(Some(list)),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (target, note, events, wide) = (
            url.get_untracked(),
            description.get_untracked(),
            chosen.get_untracked(),
            instance_wide.get_untracked(),
        );
        leptos::task::spawn_local(async move {
            match create_webhook(target, events, note, wide).await {
                Ok(made) => {
                    error.set(None);
                    secret.set(Some(made.secret));
                    url.set(String::new());
                    description.set(String::new());
                    refresh();
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    view! {
        <leptos_meta::Title text=crate::app::page_title("Integrations")/>
        <div class="mx-auto w-full max-w-4xl flex-1 overflow-y-auto p-4" data-testid="integrations-page">
            <h1 class="mb-1 text-xl font-semibold">"Integrations"</h1>
            <p class="mb-4 text-sm text-muted">
                "Webhooks tell another system when something happens here: OllamaStack posts a signed JSON event to the URL you give. "
                "Failed deliveries are tried again for a day, with growing waits."
            </p>
            <section class="mb-6 grid gap-3 rounded-xl border border-line p-4" aria-labelledby="new-webhook">
                <h2 id="new-webhook" class="font-semibold">"New webhook"</h2>
                <form class="grid gap-3 text-sm" on:submit=create data-testid="webhook-form">
                    <label class="grid gap-1">"URL"
                        <input type="url" required maxlength="2000" data-testid="webhook-url" placeholder="https://example.com/ollamastack"
                            class="rounded-md border border-line bg-app px-2 py-1"
                            prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))/>
                    </label>
                    <label class="grid gap-1">"Description (optional)"
                        <input maxlength="500" data-testid="webhook-description" class="rounded-md border border-line bg-app px-2 py-1"
                            prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))/>
                    </label>
                    <fieldset class="grid gap-1">
                        <legend class="mb-1">"Events"</legend>
                        {WebhookEvent::ALL.into_iter().map(|event| view! {
                            <label class="flex items-center gap-2">
                                <input type="checkbox" data-testid=format!("webhook-event-{}", event.as_str())
                                    prop:checked=move || chosen.with(|c| c.contains(&event))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        chosen.update(|c| {
                                            c.retain(|e| *e != event);
                                            if on { c.push(event); }
                                        });
                                    }/>
                                {event.label()} <code class="text-xs text-muted">{event.as_str()}</code>
                            </label>
                        }).collect_view()}
                    </fieldset>
                    <Suspense>
                        {move || Suspend::new(async move {
                            let admin = status.await.ok().and_then(|s| s.person).is_some_and(|p| p.is_admin());
                            admin.then(|| view! {
                                <label class="flex items-center gap-2">
                                    <input type="checkbox" data-testid="webhook-instance-wide" prop:checked=move || instance_wide.get()
                                        on:change=move |ev| instance_wide.set(event_target_checked(&ev))/>
                                    "For the whole instance (every person's events; admins only)"
                                </label>
                            })
                        })}
                    </Suspense>
                    <div><button type="submit" data-testid="webhook-create" class="rounded-md bg-primary px-3 py-1 font-medium text-on-primary">"Add webhook"</button></div>
                </form>
                {move || error.get().map(|e| view! { <p role="alert" class="text-sm text-danger" data-testid="webhook-error">{e}</p> })}
                {move || secret.get().map(|secret| view! {
                    <p class="rounded-md border border-warning bg-warning-soft p-2 text-sm">
                        "Its signing secret, shown only now: "
                        <code data-testid="webhook-secret" class="break-all">{secret}</code>
                    </p>
                })}
            </section>
            <section aria-labelledby="webhooks-heading" class="mb-6">
                <h2 id="webhooks-heading" class="mb-2 font-semibold">"Webhooks"</h2>
                <Suspense fallback=|| view! { <p class="text-sm text-muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        let first = loaded.await;
                        if hooks.with_untracked(Option::is_none) {
                            match first {
                                Ok(list) => hooks.set(Some(list)),
                                Err(e) => error.set(Some(e.to_string())),
                            }
                        }
                        view! {
                            <ul class="grid gap-3" data-testid="webhook-list">
                                <For each=move || hooks.get().unwrap_or_default() key=|h| (h.id, h.enabled) let:hook>
                                    <WebhookItem hook=hook on_change=Callback::new(move |_| refresh()) error=error/>
                                </For>
                            </ul>
                            {move || hooks.with(|h| h.as_ref().is_some_and(Vec::is_empty)).then(|| view! {
                                <p class="text-sm text-muted" data-testid="webhooks-empty">"No webhook yet."</p>
                            })}
                        }
                    })}
                </Suspense>
            </section>
            <section aria-labelledby="verify-heading" class="grid gap-2 text-sm">
                <h2 id="verify-heading" class="font-semibold">"Checking a delivery"</h2>
                <p class="text-muted">
                    "Each request carries " <code>"OllamaStack-Event"</code> ", " <code>"OllamaStack-Delivery"</code> " and "
                    <code>"OllamaStack-Signature: t=<seconds>,v1=<hex>"</code>
                    ", an HMAC-SHA256 of " <code>"<t>.<raw body>"</code> " with the secret. The body's "
                    <code>"id"</code> " is the event's: the same in every attempt."
                </p>
                <pre class="overflow-x-auto rounded-md border border-line bg-surface p-3 text-xs"><code>{VERIFY_SNIPPET}</code></pre>
            </section>
        </div>
    }
}

/// One webhook: its settings, its buttons, and its delivery log on demand.
#[component]
fn WebhookItem(
    hook: Webhook,
    on_change: Callback<()>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let id = hook.id;
    let enabled = hook.enabled;
    let log = RwSignal::new(None::<Vec<WebhookDelivery>>);
    let load_log = move || {
        leptos::task::spawn_local(async move {
            match webhook_deliveries(id).await {
                Ok(rows) => log.set(Some(rows)),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    let toggle = move |_| {
        leptos::task::spawn_local(async move {
            match set_webhook_enabled(id, !enabled).await {
                Ok(_) => on_change.run(()),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    let remove = move |_| {
        leptos::task::spawn_local(async move {
            match delete_webhook(id).await {
                Ok(()) => on_change.run(()),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    let ping = move |_| {
        leptos::task::spawn_local(async move {
            match ping_webhook(id).await {
                Ok(_) => load_log(),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    let resend = move |delivery: Uuid| {
        leptos::task::spawn_local(async move {
            match redeliver_webhook(delivery).await {
                Ok(_) => load_log(),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    let events = hook
        .events
        .0
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <li class="grid gap-2 rounded-xl border border-line p-3 text-sm" data-testid="webhook-item">
            <div class="flex flex-wrap items-center gap-2">
                <code class="break-all font-medium" data-testid="webhook-item-url">{hook.url.clone()}</code>
                {hook.instance_wide.then(|| view! { <span class="rounded bg-surface px-1 text-xs">"instance-wide"</span> })}
                {(!enabled).then(|| view! { <span class="rounded bg-surface px-1 text-xs text-muted">"off"</span> })}
            </div>
            {(!hook.description.is_empty()).then(|| view! { <p class="text-muted">{hook.description.clone()}</p> })}
            <p class="text-xs text-muted">{events}</p>
            <div class="flex flex-wrap gap-3">
                <button type="button" class="text-primary hover:underline" data-testid="webhook-ping" on:click=ping>"Send a test"</button>
                <button type="button" class="text-primary hover:underline" data-testid="webhook-log" on:click=move |_| load_log()>"Deliveries"</button>
                <button type="button" class="text-primary hover:underline" data-testid="webhook-toggle" on:click=toggle>
                    {if enabled { "Switch off" } else { "Switch on" }}
                </button>
                <button type="button" class="text-danger hover:underline" data-testid="webhook-delete" on:click=remove>"Delete"</button>
            </div>
            {move || log.get().map(|rows| if rows.is_empty() {
                view! { <p class="text-muted" data-testid="webhook-log-empty">"Nothing sent yet."</p> }.into_any()
            } else {
                view! {
                    <table class="w-full text-left text-xs" data-testid="webhook-deliveries">
                        <thead><tr class="text-muted">
                            <th scope="col">"Event"</th><th scope="col">"Status"</th><th scope="col">"Attempts"</th>
                            <th scope="col">"Answer"</th><th scope="col">"Time"</th><th scope="col">"Made"</th><th scope="col"><span class="sr-only">"Actions"</span></th>
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|row| {
                                let delivery = row.id;
                                let answer = match (row.response_status, row.error.clone()) {
                                    (Some(code), None) => code.to_string(),
                                    (_, Some(error)) => error,
                                    (None, None) => "—".into(),
                                };
                                view! {
                                    <tr data-testid="webhook-delivery" class="border-t border-line">
                                        <td>{row.event.as_str()}</td>
                                        <td data-testid="webhook-delivery-status" class=match row.status {
                                            DeliveryStatus::Delivered => "text-success",
                                            DeliveryStatus::Failed => "text-danger",
                                            DeliveryStatus::Pending => "text-muted",
                                        }>{row.status.as_str()}</td>
                                        <td>{row.attempts}</td>
                                        <td class="break-all">{answer}</td>
                                        <td>{row.duration_ms.map(|ms| format!("{ms} ms")).unwrap_or_default()}</td>
                                        <td>{row.created_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                        <td><button type="button" class="text-primary hover:underline" data-testid="webhook-resend"
                                            on:click=move |_| resend(delivery)>"Send again"</button></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            })}
        </li>
    }
}
