//! State every part of the page shares, provided once by `App` and read by the components.
//! (Kept apart from app.rs, which uses the components: no module cycle.)

use crate::error::AppError;
use crate::model::{Assistant, Conversation, OllamaStatus};
use crate::server_fns::{
    assistants::list_assistants, conversations::list_conversations, ollama::get_ollama_status,
};
use leptos::prelude::*;

/// State every part of the page shares.
#[derive(Clone, Copy)]
pub struct ChatContext {
    /// The conversation list as the page was rendered with it (read once, by the server).
    pub conversations: Resource<Result<Vec<Conversation>, AppError>>,
    /// The list as read again since (an answer ended, one was renamed): the sidebar shows this
    /// once set, keyed, so an item being renamed is not rebuilt under the person's hands.
    pub conversations_now: RwSignal<Option<Vec<Conversation>>>,
    pub ollama: Resource<Result<OllamaStatus, AppError>>,
    /// Counts the list's reads, so that only the latest one's answer is kept.
    conversations_version: RwSignal<u32>,
    ollama_version: RwSignal<u32>,
    /// The model the next message goes to.
    pub selected_model: RwSignal<Option<String>>,
    /// The tools the next message's answer may call (none: a plain answer).
    pub enabled_tools: RwSignal<Vec<String>>,
    /// How the last agent run's model called its tools (natively, or by prompt).
    pub tool_mode: RwSignal<Option<crate::model::ToolMode>>,
    /// The sidebar beside the page (wide screens), and the sidebar as a drawer over it
    /// (phones, where it starts closed).
    pub sidebar_open: RwSignal<bool>,
    pub drawer_open: RwSignal<bool>,
    preferences: crate::components::preferences::PreferencesContext,
    pub assistants: Resource<Result<Vec<Assistant>, AppError>>,
    assistants_version: RwSignal<u32>,
    /// The assistant the next message is answered by (none: the model alone).
    pub selected_assistant: RwSignal<Option<uuid::Uuid>>,
    /// What the server said about the last turn (an assistant's model was missing…).
    pub notice: RwSignal<Option<String>>,
    /// Whether the page hears the person's events now (`GET /api/v1/events`, while the tab is
    /// shown): changes made in other tabs, on other devices or by the model then arrive by
    /// themselves, and the list is not read again on a timer.
    pub live: RwSignal<bool>,
    /// What was heard about the conversations since the page was rendered, and a count of
    /// events that changes with it (a plain value and a counter: smaller in the WASM than a
    /// signal of its own type).
    pub activity: StoredValue<Activity>,
    pub heard: RwSignal<u32>,
}

/// What the page heard about the person's conversations: a conversation page catches up with
/// its own. Few conversations change while a page is open: plain lists are enough.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Activity {
    /// Counts what was heard.
    pub version: u64,
    /// Per conversation, `version` when its messages last changed (one was sent, an answer
    /// ended), and which message.
    pub messages: Vec<(uuid::Uuid, u64, uuid::Uuid)>,
    /// `version` when everything was to be read again (the stream opened, or fell behind).
    pub everything: u64,
    /// Conversations deleted since.
    pub deleted: Vec<uuid::Uuid>,
}

/// One event of the person's stream, as the page reads it (`PersonEvent` on the wire; read
/// as a flat record, which costs the WASM far less than a tagged enum).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct HeardEvent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub conversation_id: Option<uuid::Uuid>,
    #[serde(default)]
    pub message_id: Option<uuid::Uuid>,
}

impl Activity {
    /// When the messages of `conversation` may last have changed (0: not since rendered),
    /// and which one did (`None`: any may have).
    pub fn messages_of(&self, conversation: uuid::Uuid) -> (u64, Option<uuid::Uuid>) {
        match self.messages.iter().find(|(c, ..)| *c == conversation) {
            Some(&(_, version, message)) if version > self.everything => (version, Some(message)),
            _ => (self.everything, None),
        }
    }

    /// Takes in one event.
    pub fn hear(&mut self, event: &HeardEvent) {
        self.version += 1;
        match (event.kind.as_str(), event.conversation_id, event.message_id) {
            ("ready" | "resync", ..) => self.everything = self.version,
            ("conversation_deleted", Some(conversation), _) => self.deleted.push(conversation),
            ("message_sent" | "answer_finished", Some(conversation), Some(message)) => {
                self.messages.retain(|(c, ..)| *c != conversation);
                self.messages.push((conversation, self.version, message));
            }
            // Another version of an answer is shown: what followed it changed, no one message
            // (the nil id is no message a page shows).
            ("answer_version_shown", Some(conversation), _) => {
                self.messages.retain(|(c, ..)| *c != conversation);
                self.messages
                    .push((conversation, self.version, uuid::Uuid::nil()));
            }
            _ => {}
        }
    }
}

impl ChatContext {
    pub fn create() -> ChatContext {
        let preferences = crate::components::preferences::use_preferences();
        let conversations_version = RwSignal::new(0u32);
        let ollama_version = RwSignal::new(0u32);
        let assistants_version = RwSignal::new(0u32);
        ChatContext {
            conversations: Resource::new(|| (), |_| list_conversations()),
            conversations_now: RwSignal::new(None),
            ollama: Resource::new(move || ollama_version.get(), |_| get_ollama_status()),
            conversations_version,
            ollama_version,
            selected_model: RwSignal::new(None),
            enabled_tools: RwSignal::new(Vec::new()),
            tool_mode: RwSignal::new(None),
            sidebar_open: RwSignal::new(
                !preferences
                    .current
                    .with_untracked(|p| p.ui.sidebar_collapsible && p.ui.sidebar_collapsed),
            ),
            drawer_open: RwSignal::new(false),
            preferences,
            assistants: Resource::new(move || assistants_version.get(), |_| list_assistants()),
            assistants_version,
            selected_assistant: RwSignal::new(None),
            notice: RwSignal::new(None),
            live: RwSignal::new(false),
            activity: StoredValue::new(Activity::default()),
            heard: RwSignal::new(0),
        }
    }

    pub fn refresh_assistants(&self) {
        self.assistants_version.update(|v| *v += 1);
    }

    /// The model to send: none when it is the picked assistant's own, so that the server
    /// chooses it (or, when Ollama lacks it, the default, with a notice).
    pub fn model_to_send(&self) -> Option<String> {
        let model = self.selected_model.get_untracked();
        let assistant_model = self.selected_assistant.get_untracked().and_then(|id| {
            self.assistants
                .get_untracked()
                .and_then(|list| list.ok())
                .and_then(|list| list.into_iter().find(|a| a.id == id))
                .map(|a| a.model)
        });
        match (model, assistant_model) {
            (Some(model), Some(own)) if crate::model::same_model(&model, &own) => None,
            (model, _) => model,
        }
    }

    /// A model named as Ollama lists it, so that the picker's option matches (`llama3.2` is
    /// served as `llama3.2:latest`); as given when Ollama does not list it.
    pub fn listed_model(&self, model: String) -> String {
        self.ollama
            .with_untracked(|status| {
                let status = status.as_ref()?.as_ref().ok()?;
                status
                    .models
                    .iter()
                    .find(|m| crate::model::same_model(&m.name, &model))
                    .map(|m| m.name.clone())
            })
            .unwrap_or(model)
    }

    /// The assistant to send: its id, or "" for none.
    pub fn assistant_to_send(&self) -> Option<String> {
        Some(
            self.selected_assistant
                .get_untracked()
                .map(|id| id.to_string())
                .unwrap_or_default(),
        )
    }

    /// Whether the screen is phone-sized: the sidebar is then a drawer (the same width as the
    /// CSS media query that lays it out so).
    fn narrow_screen() -> bool {
        #[cfg(feature = "hydrate")]
        {
            web_sys::window()
                .and_then(|w| w.match_media("(max-width: 767px)").ok().flatten())
                .is_some_and(|query| query.matches())
        }
        #[cfg(not(feature = "hydrate"))]
        {
            false
        }
    }

    pub fn sidebar_shown(&self) -> bool {
        if Self::narrow_screen() {
            self.drawer_open.get()
        } else {
            self.sidebar_open.get()
        }
    }

    /// Opens or closes the drawer on a phone; elsewhere shows or hides the sidebar and
    /// remembers it (`ui.sidebar_collapsed`).
    pub fn toggle_sidebar(&self) {
        if Self::narrow_screen() {
            self.drawer_open.update(|open| *open = !*open);
            return;
        }
        self.sidebar_open.update(|open| *open = !*open);
        let collapsed = !self.sidebar_open.get_untracked();
        self.preferences
            .current
            .update(|p| p.ui.sidebar_collapsed = collapsed);
        leptos::task::spawn_local(async move {
            let _ = crate::server_fns::settings::save_preferences(
                vec![(
                    "ui.sidebar_collapsed".into(),
                    serde_json::Value::Bool(collapsed),
                )],
                false,
            )
            .await;
        });
    }

    pub fn refresh_conversations(&self) {
        self.conversations_version.update(|v| *v += 1);
        let (version, now) = (self.conversations_version, self.conversations_now);
        let asked = version.get_untracked();
        leptos::task::spawn_local(async move {
            // A failed read keeps the list shown; the next one brings it up to date.
            if let Ok(list) = list_conversations().await {
                if version.try_get_untracked() == Some(asked) {
                    now.try_set(Some(list));
                }
            }
        });
    }

    /// Reads the list again after an answer ended in `conversation`, and again a little later
    /// while its model may still name it (a few seconds after its first answer, in the
    /// background): the sidebar and the tab learn the new title without a reload.
    /// Without the person's events (a proxy that holds them back), that is how the title
    /// arrives; with them, the model's title is heard.
    pub fn refresh_conversations_until_titled(&self, conversation: uuid::Uuid) {
        self.refresh_conversations();
        #[cfg(not(feature = "hydrate"))]
        let _ = conversation;
        #[cfg(feature = "hydrate")]
        {
            if self.live.get_untracked()
                || !self
                    .preferences
                    .current
                    .with_untracked(|p| p.ai.auto_titles)
            {
                return;
            }
            let this = *self;
            leptos::task::spawn_local(async move {
                // Soon at first (the server looks every second and a title is a few words),
                // then less often: half a minute in all, the server's default time for a title.
                for delay_ms in [800u32, 1_200, 2_000, 4_000, 8_000, 14_000] {
                    crate::components::time::sleep(std::time::Duration::from_millis(
                        delay_ms.into(),
                    ))
                    .await;
                    let waiting = this.conversations_now.try_with_untracked(|now| {
                        now.as_ref().is_some_and(|list| {
                            list.iter()
                                .any(|c| c.id == conversation && c.title_source.may_change())
                        })
                    });
                    if waiting != Some(true) || this.live.try_get_untracked() != Some(false) {
                        return;
                    }
                    this.refresh_conversations();
                }
            });
        }
    }

    /// The title the sidebar knows for `conversation` now, if it read the list again since
    /// the page was rendered.
    pub fn known_title(&self, conversation: uuid::Uuid) -> Option<String> {
        self.conversations_now.with(|now| {
            now.as_ref()?
                .iter()
                .find(|c| c.id == conversation)
                .map(|c| c.title.clone())
        })
    }

    pub fn refresh_ollama(&self) {
        self.ollama_version.update(|v| *v += 1);
    }
}

pub fn use_chat() -> ChatContext {
    expect_context::<ChatContext>()
}
