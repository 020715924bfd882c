//! The analytics dashboard (`features.analytics`): cards with the totals, the activity over
//! time and the models used, as SVG drawn by the page (no chart library), for 24 hours, 7 or
//! 30 days.

use crate::components::chart::ChartFigure;
use crate::model::{AnalyticsReport, Bucket, Chart, ChartKind, ChartPoint, Latency, Timeframe};
use crate::server_fns::settings::get_analytics;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AnalyticsPage() -> impl IntoView {
    // The timeframe is in the address (`?timeframe=7d`): links switch it, with or without
    // JavaScript, and a reload keeps it.
    let query = use_query_map();
    let timeframe = Memo::new(move |_| {
        query
            .with(|q| q.get("timeframe").and_then(|t| Timeframe::parse(&t)))
            .unwrap_or_default()
    });
    // An admin may look at everyone's figures (`?scope=instance`).
    let instance =
        Memo::new(move |_| query.with(|q| q.get("scope").as_deref() == Some("instance")));
    let report = Resource::new(
        move || (timeframe.get(), instance.get()),
        |(timeframe, instance)| get_analytics(timeframe, instance),
    );
    let status = Resource::new(|| (), |_| crate::server_fns::accounts::get_auth_status());
    let scope_suffix = move || {
        if instance.get() {
            "&scope=instance"
        } else {
            ""
        }
    };
    view! {
        <leptos_meta::Title text=crate::app::page_title("Analytics")/>
        <div class="mx-auto w-full max-w-5xl flex-1 overflow-y-auto p-4" data-testid="analytics-page">
            <div class="mb-4 flex flex-wrap items-center gap-2">
                <h1 class="mr-auto text-xl font-semibold">"Analytics"</h1>
                <nav class="flex gap-1" aria-label="Timeframe" data-testid="timeframes">
                    {Timeframe::ALL.into_iter().map(|t| view! {
                        <a
                            href=move || format!("/analytics?timeframe={}{}", t.as_str(), scope_suffix())
                            data-testid=format!("timeframe-{}", t.as_str())
                            class="rounded-md border border-line px-3 py-1 text-sm"
                            class=("bg-primary", move || timeframe.get() == t)
                            class=("text-on-primary", move || timeframe.get() == t)
                            class=("hover:bg-surface", move || timeframe.get() != t)
                            aria-current=move || (timeframe.get() == t).then_some("page")
                        >
                            {label(t)}
                        </a>
                    }).collect_view()}
                </nav>
                <Suspense>
                    {move || Suspend::new(async move {
                        let admin = status.await.ok().is_some_and(|s| {
                            s.mode == crate::model::AuthMode::Accounts
                                && s.person.is_some_and(|p| p.is_admin())
                        });
                        admin.then(|| view! {
                            <nav class="flex gap-1" aria-label="Whose figures" data-testid="analytics-scope">
                                {[(false, "Mine", "scope-person"), (true, "Everyone's", "scope-instance")].into_iter().map(|(wide, text, id)| view! {
                                    <a
                                        href=move || format!("/analytics?timeframe={}{}", timeframe.get().as_str(), if wide { "&scope=instance" } else { "" })
                                        data-testid=id
                                        class="rounded-md border border-line px-3 py-1 text-sm"
                                        class=("bg-primary", move || instance.get() == wide)
                                        class=("text-on-primary", move || instance.get() == wide)
                                        aria-current=move || (instance.get() == wide).then_some("page")
                                    >
                                        {text}
                                    </a>
                                }).collect_view()}
                            </nav>
                        })
                    })}
                </Suspense>
            </div>
            <Transition fallback=|| view! { <p class="text-muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Err(e) => view! { <p role="alert" class="text-danger">{e.to_string()}</p> }.into_any(),
                        Ok(report) if report.is_empty() => view! {
                            <div data-testid="analytics-empty" class="rounded-xl border border-dashed border-line p-8 text-center text-muted">
                                <p class="font-medium text-fg">"Nothing yet in this timeframe."</p>
                                <p class="mt-1 text-sm">"Figures appear here once you chat: messages, answers, their speed and the models used."</p>
                            </div>
                        }.into_any(),
                        Ok(report) => view! { <Dashboard report/> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

fn label(timeframe: Timeframe) -> &'static str {
    match timeframe {
        Timeframe::Day => "24 hours",
        Timeframe::Week => "7 days",
        Timeframe::Month => "30 days",
    }
}

fn milliseconds(value: Option<f64>) -> String {
    match value {
        None => "–".into(),
        Some(ms) if ms >= 10_000.0 => format!("{:.1} s", ms / 1000.0),
        Some(ms) => format!("{ms:.0} ms"),
    }
}

fn latency_detail(latency: &Latency) -> String {
    format!(
        "p50 {} · p95 {} · {} answers",
        milliseconds(latency.p50_ms),
        milliseconds(latency.p95_ms),
        latency.count
    )
}

#[component]
fn Card(
    title: &'static str,
    value: String,
    #[prop(optional)] detail: String,
    test_id: &'static str,
) -> impl IntoView {
    view! {
        <div class="rounded-xl border border-line bg-surface p-4" data-testid=test_id>
            <p class="text-xs font-medium uppercase tracking-wide text-muted">{title}</p>
            <p class="mt-1 text-2xl font-semibold text-fg" data-testid=format!("{test_id}-value")>{value}</p>
            {(!detail.is_empty()).then(|| view! { <p class="mt-1 text-xs text-muted">{detail}</p> })}
        </div>
    }
}

#[component]
fn Dashboard(report: AnalyticsReport) -> impl IntoView {
    let totals = &report.totals;
    let series_label = |start: chrono::DateTime<chrono::Utc>| match report.bucket {
        Bucket::Hour => start.format("%H:00").to_string(),
        Bucket::Day => start.format("%b %d").to_string(),
    };
    let activity = Chart {
        kind: ChartKind::Line,
        title: "Messages sent".into(),
        x_label: match report.bucket {
            Bucket::Hour => "Hour (UTC)".into(),
            Bucket::Day => "Day (UTC)".into(),
        },
        y_label: "Messages".into(),
        points: report
            .series
            .iter()
            .map(|p| ChartPoint {
                label: series_label(p.start),
                value: p.messages as f64,
            })
            .collect(),
    };
    let models = Chart {
        kind: ChartKind::Bar,
        title: "Answers by model".into(),
        x_label: "Model".into(),
        y_label: "Answers".into(),
        points: report
            .top_models
            .iter()
            .map(|m| ChartPoint {
                label: m.model.clone(),
                value: m.answers as f64,
            })
            .collect(),
    };
    let error_rate = format!("{:.1}%", report.error_rate * 100.0);
    let speed = report
        .tokens_per_second
        .map(|t| format!("{t:.1}"))
        .unwrap_or_else(|| "–".into());
    let events = report
        .events_by_type
        .iter()
        .map(|c| c.count)
        .sum::<i64>()
        .to_string();
    let events_detail = report
        .events_by_type
        .iter()
        .map(|c| format!("{} {}", c.count, c.name))
        .collect::<Vec<_>>()
        .join(" · ");
    let response = milliseconds(report.response_time.avg_ms);
    let response_detail = latency_detail(&report.response_time);
    let ttft = milliseconds(report.time_to_first_token.avg_ms);
    let ttft_detail = latency_detail(&report.time_to_first_token);
    view! {
        <div class="grid grid-cols-2 gap-3 md:grid-cols-4" data-testid="analytics-cards">
            <Card title="Messages" value=totals.messages.to_string() test_id="card-messages"
                detail=format!("{} conversations", totals.conversations)/>
            <Card title="Answers" value=totals.answers.to_string() test_id="card-answers"
                detail=format!("{} tool calls · error rate {error_rate}", totals.tool_calls)/>
            <Card title="Response time" value=response test_id="card-response" detail=response_detail/>
            <Card title="First token" value=ttft test_id="card-ttft" detail=ttft_detail/>
            <Card title="Tokens per second" test_id="card-speed" value=speed
                detail=format!("{} prompt · {} completion tokens", totals.prompt_tokens, totals.completion_tokens)/>
            <Card title="Active days" value=totals.active_days.to_string() test_id="card-days"/>
            <Card title="Uploads" value=totals.uploads.to_string() test_id="card-uploads"/>
            <Card title="Events" test_id="card-events" value=events detail=events_detail/>
        </div>
        <div class="mt-4 grid gap-4 lg:grid-cols-2">
            <section class="rounded-xl border border-line p-3" data-testid="activity-chart">
                <ChartFigure chart=activity/>
            </section>
            <section class="rounded-xl border border-line p-3" data-testid="models-chart">
                {if models.points.is_empty() {
                    view! { <p class="p-4 text-sm text-muted">"No answers in this timeframe."</p> }.into_any()
                } else {
                    view! { <ChartFigure chart=models/> }.into_any()
                }}
            </section>
        </div>
    }
}
