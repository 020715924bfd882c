//! Models and servers (admins): each Ollama server of the pool with its state, every model in
//! detail with Delete, pulling a model with a live progress bar, and the providers besides
//! Ollama.

use crate::model::{ModelDetails, ModelPull, ModelsOverview, OllamaServerStatus, PullState};
use crate::server_fns::ollama::{cancel_model_pull, delete_model, get_models_overview, pull_model};
use crate::text::human_size;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

/// While a pull runs, how often its progress is read.
#[cfg(feature = "hydrate")]
const POLL_MS: u64 = 500;

#[component]
pub fn ModelsPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_models_overview());
    view! {
        <Title text=crate::app::page_title("Models")/>
        <div class="mx-auto w-full max-w-4xl overflow-y-auto p-6" data-testid="models-page">
            <div class="mb-4 flex flex-wrap items-center gap-2">
                <h1 class="mr-auto text-xl font-semibold">"Models and servers"</h1>
                <a href="/admin" class="text-sm text-primary hover:underline">"People"</a>
            </div>
            <Suspense fallback=|| view! { <p class="text-sm text-muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(initial) => view! { <ModelsAdmin initial/> }.into_any(),
                        Err(e) => view! { <p role="alert" class="text-sm text-danger">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn ModelsAdmin(initial: ModelsOverview) -> impl IntoView {
    let servers = RwSignal::new(initial.servers);
    let models = RwSignal::new(initial.models);
    let pulls = RwSignal::new(initial.pulls);
    let providers = RwSignal::new(initial.providers);
    let error = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match get_models_overview().await {
                Ok(o) => {
                    servers.set(o.servers);
                    models.set(o.models);
                    pulls.set(o.pulls);
                    providers.set(o.providers);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    follow_pulls(pulls, reload);

    view! {
        {move || error.get().map(|e| view! { <p role="alert" class="mb-3 text-sm text-danger">{e}</p> })}
        <section class="mb-6" aria-labelledby="servers-heading">
            <h2 id="servers-heading" class="mb-2 font-medium">"Ollama servers"</h2>
            <ServersTable servers/>
        </section>
        <section class="mb-6" aria-labelledby="pull-heading">
            <h2 id="pull-heading" class="mb-2 font-medium">"Pull a model"</h2>
            <PullForm pulls error/>
            <PullList pulls error/>
        </section>
        <section class="mb-6" aria-labelledby="providers-heading">
            <h2 id="providers-heading" class="mb-2 font-medium">"Other providers"</h2>
            <crate::components::providers::ProvidersSection providers error reload/>
        </section>
        <section aria-labelledby="models-heading">
            <h2 id="models-heading" class="mb-2 font-medium">"Models"</h2>
            <ModelsTable models error reload/>
        </section>
    }
}

/// While a pull runs, reads the pulls again; when one ends, the whole page is read again (the
/// new model appears in the table).
fn follow_pulls(pulls: RwSignal<Vec<ModelPull>>, reload: impl Fn() + Copy + 'static) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let running: Vec<String> = pulls.with(|list| {
            list.iter()
                .filter(|p| p.state == PullState::Running)
                .map(|p| p.model.clone())
                .collect()
        });
        if running.is_empty() {
            return;
        }
        set_timeout(
            move || {
                spawn_local(async move {
                    let Ok(list) = crate::server_fns::ollama::list_model_pulls().await else {
                        return;
                    };
                    let ended = list
                        .iter()
                        .any(|p| p.state != PullState::Running && running.contains(&p.model));
                    pulls.set(list);
                    if ended {
                        reload();
                    }
                })
            },
            std::time::Duration::from_millis(POLL_MS),
        );
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (pulls, reload);
}

#[component]
fn ServersTable(servers: RwSignal<Vec<OllamaServerStatus>>) -> impl IntoView {
    view! {
        // On a phone the table scrolls sideways inside its box; the page does not.
        <div class="overflow-x-auto">
            <table class="w-full text-sm [&_td]:pr-3 [&_th]:pr-3" data-testid="ollama-servers">
                <thead>
                    <tr class="text-left text-muted">
                        <th class="py-1">"Server"</th><th>"State"</th><th>"Version"</th><th>"Models"</th><th>"Running"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || servers.get().into_iter().map(|server| {
                        let (label, class) = match server.up {
                            Some(true) => ("Up", "text-success"),
                            Some(false) => ("Down", "text-danger"),
                            None => ("Not checked yet", "text-muted"),
                        };
                        view! {
                            <tr data-testid="ollama-server" data-up=server.up.map(|u| u.to_string()).unwrap_or_default() class="border-t border-line align-top">
                                <td class="py-1.5 font-mono text-xs">{server.url.clone()}</td>
                                <td class=class>
                                    {label}
                                    {server.error.clone().map(|e| view! { <span class="block text-xs text-muted">{e}</span> })}
                                </td>
                                <td>{server.version.clone().unwrap_or_default()}</td>
                                <td>{server.models.len()}</td>
                                <td>{server.busy}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn PullForm(pulls: RwSignal<Vec<ModelPull>>, error: RwSignal<Option<String>>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let model = name.get_untracked().trim().to_string();
        spawn_local(async move {
            match pull_model(model).await {
                Ok(pull) => {
                    error.set(None);
                    name.set(String::new());
                    pulls.update(|list| {
                        list.retain(|p| p.model != pull.model);
                        list.insert(0, pull);
                    });
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <form class="mb-3 flex flex-wrap items-end gap-2" on:submit=submit>
            <label class="flex flex-col text-sm">
                <span class="text-muted">"Model name (from ollama.com/library, such as llama3.2:3b)"</span>
                <input
                    type="text"
                    name="model"
                    required
                    data-testid="pull-name"
                    class="rounded-md border border-line bg-surface px-2 py-1.5"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))
                />
            </label>
            <button type="submit" data-testid="pull-submit" class="rounded-md bg-primary px-3 py-1.5 text-sm font-medium text-on-primary">"Pull"</button>
        </form>
    }
}

#[component]
fn PullList(pulls: RwSignal<Vec<ModelPull>>, error: RwSignal<Option<String>>) -> impl IntoView {
    let cancel = move |model: String| {
        spawn_local(async move {
            match cancel_model_pull(model).await {
                Ok(pull) => pulls.update(|list| {
                    if let Some(p) = list.iter_mut().find(|p| p.model == pull.model) {
                        *p = pull;
                    }
                }),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    view! {
        <ul class="space-y-2" data-testid="pulls">
            {move || pulls.get().into_iter().map(|pull| {
                let percent = pull.percent();
                let (done, total) = pull.bytes();
                let running = pull.state == PullState::Running;
                let model = pull.model.clone();
                let state = match pull.state {
                    PullState::Running => "pulling",
                    PullState::Done => "done",
                    PullState::Failed => "failed",
                    PullState::Cancelled => "cancelled",
                };
                view! {
                    <li data-testid="pull" data-model=pull.model.clone() data-state=state class="rounded-md border border-line p-2 text-sm">
                        <div class="flex items-center gap-2">
                            <span class="mr-auto font-medium">{pull.model.clone()}</span>
                            <span class="text-muted">{state}</span>
                            {running.then(|| view! {
                                <button type="button" data-testid="pull-cancel" class="rounded border border-line px-2 py-0.5"
                                    on:click=move |_| cancel(model.clone())>"Cancel"</button>
                            })}
                        </div>
                        <progress
                            class="mt-1 w-full"
                            max="100"
                            value=percent.unwrap_or(0).to_string()
                            aria-label=format!("Pulling {}", pull.model)
                            data-testid="pull-progress"
                        ></progress>
                        <span class="text-xs text-muted">
                            {match percent {
                                Some(p) if total > 0 => format!("{p}% · {} of {}", human_size(done), human_size(total)),
                                Some(p) => format!("{p}%"),
                                None => "starting…".to_string(),
                            }}
                        </span>
                        {pull.servers.iter().filter_map(|s| s.error.clone().map(|e| (s.url.clone(), e))).map(|(url, e)| view! {
                            <p role="alert" class="text-xs text-danger">{format!("{url}: {e}")}</p>
                        }).collect_view()}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

#[component]
fn ModelsTable(
    models: RwSignal<Vec<ModelDetails>>,
    error: RwSignal<Option<String>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // Delete takes two clicks: the first asks.
    let confirming = RwSignal::new(None::<String>);
    let remove = move |model: String| {
        if confirming.get_untracked().as_deref() != Some(model.as_str()) {
            confirming.set(Some(model));
            return;
        }
        confirming.set(None);
        spawn_local(async move {
            match delete_model(model).await {
                Ok(()) => reload(),
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    view! {
        // On a phone the table scrolls sideways inside its box; the page does not.
        <div class="overflow-x-auto">
            <table class="w-full text-sm [&_td]:pr-3 [&_th]:pr-3" data-testid="models">
                <thead>
                    <tr class="text-left text-muted">
                        <th class="py-1">"Name"</th><th>"Size"</th><th>"Parameters"</th><th>"Context"</th><th>"Can"</th><th>"Servers"</th><th></th>
                    </tr>
                </thead>
                <tbody>
                    {move || models.get().into_iter().map(|model| {
                        let name = model.name.clone();
                        let asking = {
                            let name = name.clone();
                            move || confirming.get().as_deref() == Some(name.as_str())
                        };
                        let asking_class = asking.clone();
                        view! {
                            <tr data-testid="model" data-name=model.name.clone() class="border-t border-line align-top">
                                <td class="py-1.5 font-medium">{model.name.clone()}</td>
                                <td>{human_size(model.size)}</td>
                                <td>{[model.parameter_size.clone(), model.quantization_level.clone()].into_iter().flatten().collect::<Vec<_>>().join(" · ")}</td>
                                <td>{model.context_length.map(|c| c.to_string()).unwrap_or_default()}</td>
                                <td>{model.capabilities.join(", ")}</td>
                                // A provider's model is on no Ollama server: it is named `<provider>/<model>`
                                // and cannot be deleted from here (the provider serves it).
                                {if model.servers.is_empty() {
                                    let provider = model.name.split('/').next().unwrap_or_default().to_string();
                                    view! {
                                        <td class="text-xs text-muted" data-testid="model-provider">{format!("via {provider}")}</td>
                                        <td></td>
                                    }.into_any()
                                } else {
                                    view! {
                                        <td class="font-mono text-xs">{model.servers.join(" ")}</td>
                                        <td class="text-right">
                                            <button type="button" data-testid="model-delete" class="rounded border border-line px-2 py-0.5"
                                                class=("text-danger", asking_class)
                                                on:click=move |_| remove(name.clone())>
                                                {move || if asking() { "Really delete?" } else { "Delete" }}
                                            </button>
                                        </td>
                                    }.into_any()
                                }}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
