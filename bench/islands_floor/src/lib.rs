//! A floor for issue 10's first load: the chat page's interactive part as one island (islands
//! feature) or the same view hydrated whole (without it). Only the WASM is measured.
use futures::StreamExt;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub id: String,
    pub role: String,
    pub content: String,
    pub html: Option<String>,
    pub status: String,
    pub model: Option<String>,
    pub created_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Conversation {
    pub id: String,
    pub title: String,
    pub updated_at: String,
}

#[server]
pub async fn send_message(conversation: String, content: String) -> Result<Message, ServerFnError> {
    let _ = (conversation, content);
    Err(ServerFnError::new("client only"))
}

#[server]
pub async fn list_conversations() -> Result<Vec<Conversation>, ServerFnError> {
    Err(ServerFnError::new("client only"))
}

#[derive(Deserialize)]
struct Delta {
    html: String,
}

#[cfg(feature = "islands")]
macro_rules! interactive { ($($t:tt)*) => { #[island] $($t)* } }
#[cfg(not(feature = "islands"))]
macro_rules! interactive { ($($t:tt)*) => { #[component] $($t)* } }

interactive! {
pub fn Chat(conversation: String, messages: Vec<Message>) -> impl IntoView {
    let messages = RwSignal::new(messages);
    let (text, set_text) = signal(String::new());
    let live = RwSignal::new(String::new());
    let conversation = StoredValue::new(conversation);
    let send = Action::new(move |content: &String| {
        let content = content.clone();
        async move { send_message(conversation.get_value(), content).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(message)) = send.value().get() {
            let id = message.id.clone();
            messages.update(|m| m.push(message));
            leptos::task::spawn_local(async move {
                let Ok(mut source) = gloo_net::eventsource::futures::EventSource::new(&format!("/api/v1/messages/{id}/events")) else { return };
                let Ok(mut stream) = source.subscribe("delta") else { return };
                while let Some(Ok((_, event))) = stream.next().await {
                    if let Some(data) = event.data().as_string() {
                        if let Ok(delta) = serde_json::from_str::<Delta>(&data) {
                            live.update(|l| l.push_str(&delta.html));
                        }
                    }
                }
                source.close();
            });
        }
    });
    view! {
        <div class="messages">
            <For each=move || messages.get() key=|m| m.id.clone() let:m>
                <article class=m.role.clone()>
                    <header>{m.model.clone()} " " {m.created_at.clone()}</header>
                    <div inner_html=m.html.clone().unwrap_or_default()></div>
                    <Show when={let s = m.status.clone(); move || s == "failed"}>
                        <button on:click=move |_| {}>"Retry"</button>
                    </Show>
                </article>
            </For>
            <div class="live" inner_html=move || live.get()></div>
        </div>
        <form on:submit=move |ev| { ev.prevent_default(); send.dispatch(text.get()); set_text.set(String::new()); }>
            <textarea prop:value=text on:input=move |ev| set_text.set(event_target_value(&ev))></textarea>
            <button type="submit" disabled=move || send.pending().get()>"Send"</button>
        </form>
    }
}
}

interactive! {
pub fn Sidebar() -> impl IntoView {
    let conversations = Resource::new(|| (), |_| list_conversations());
    let filter = RwSignal::new(String::new());
    view! {
        <nav>
            <input prop:value=filter on:input=move |ev| filter.set(event_target_value(&ev))/>
            <Suspense fallback=|| "…">
                {move || conversations.get().map(|r| r.unwrap_or_default().into_iter()
                    .filter(|c| c.title.contains(&filter.get()))
                    .map(|c| view! { <a href=format!("/c/{}", c.id)>{c.title}</a> })
                    .collect_view())}
            </Suspense>
        </nav>
    }
}
}

#[component]
pub fn Page(conversation: String, messages: Vec<Message>) -> impl IntoView {
    view! {
        <header><h1>"OllamaStack"</h1></header>
        <Sidebar/>
        <main><Chat conversation messages/></main>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    #[cfg(feature = "islands")]
    leptos::mount::hydrate_islands();
    #[cfg(not(feature = "islands"))]
    leptos::mount::hydrate_body(|| view! { <Page conversation=String::new() messages=vec![]/> });
}
