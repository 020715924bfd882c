use crate::context::use_chat;
use leptos::prelude::*;

/// Says plainly when Ollama cannot be reached, where the server looked, and how to fix it.
#[component]
pub fn OllamaBanner() -> impl IntoView {
    let chat = use_chat();
    let retry = move |_| chat.refresh_ollama();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match chat.ollama.await {
                    Ok(status) if !status.reachable => view! {
                        <div role="alert" data-testid="ollama-banner" class="border-b border-warning bg-warning-soft px-4 py-3 text-sm text-warning">
                            <p class="font-semibold">
                                "Ollama is not reachable at " <code class="font-mono">{status.url.clone()}</code>
                            </p>
                            <p class="mt-1">
                                "Install Ollama from "
                                <a class="underline" href="https://ollama.com/download" target="_blank" rel="noopener noreferrer">"ollama.com/download"</a>
                                " and start it, get a model with " <code class="font-mono">"ollama pull llama3.2"</code>
                                ", or set " <code class="font-mono">"OLLAMA_URL"</code> " to where Ollama runs, then "
                                <button type="button" class="font-semibold underline" on:click=retry>"retry"</button> "."
                            </p>
                            {status.error.map(|e| view! { <p class="mt-1 text-xs opacity-75">{e}</p> })}
                        </div>
                    }.into_any(),
                    Ok(status) if status.models.is_empty() => view! {
                        <div role="alert" data-testid="ollama-banner" class="border-b border-warning bg-warning-soft px-4 py-3 text-sm text-warning">
                            "Ollama is running at " <code class="font-mono">{status.url.clone()}</code>
                            " but has no models yet: run " <code class="font-mono">"ollama pull llama3.2"</code> ", then "
                            <button type="button" class="font-semibold underline" on:click=retry>"retry"</button> "."
                        </div>
                    }.into_any(),
                    Err(error) => view! {
                        <div role="alert" data-testid="ollama-banner" class="border-b border-danger bg-danger-soft px-4 py-3 text-sm text-danger">
                            {error.to_string()}
                        </div>
                    }.into_any(),
                    Ok(_) => ().into_any(),
                }
            })}
        </Transition>
    }
}
