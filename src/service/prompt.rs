//! The context sent to the model: how a conversation's history becomes Ollama's messages.
//! Agent steps go back as Ollama expects: the assistant message with its `tool_calls`, then one
//! `tool` message per result. (Documents will add retrieved passages here.)

use crate::llm::ChatMessage;
use crate::model::{Conversation, Message, Role};
use std::collections::HashMap;
use uuid::Uuid;

/// The images a prompt carries, base64 by file id (see `chat::prompt_images`); empty for a
/// model that cannot see.
pub(crate) type PromptImages = HashMap<Uuid, String>;

/// The conversation as Ollama reads it: the system prompt, then the exchanges so far, each
/// message of the person's with its images that are in `images`.
pub(crate) fn prompt_messages(
    conversation: &Conversation,
    history: &[Message],
    images: &PromptImages,
) -> Vec<ChatMessage> {
    let mut messages = Vec::with_capacity(history.len() + 1);
    if let Some(system) = conversation
        .system_prompt
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        messages.push(ChatMessage::new("system", system));
    }
    messages.extend(history.iter().filter_map(|message| {
        let mut chat = chat_message(message)?;
        if message.role == Role::User {
            chat.images = message
                .attachments
                .images()
                .filter_map(|image| images.get(&image.file_id).cloned())
                .collect();
        }
        Some(chat)
    }));
    messages
}

/// The prompt of a conversation's first message, before it is stored: what
/// `prompt_messages` makes of a new conversation with `system_prompt` and that one message
/// (without images).
pub(crate) fn first_prompt(system_prompt: Option<&str>, content: &str) -> Vec<ChatMessage> {
    let system = system_prompt
        .filter(|s| !s.trim().is_empty())
        .map(|s| ChatMessage::new("system", s));
    system
        .into_iter()
        .chain([ChatMessage::new("user", content)])
        .collect()
}

/// Characters per token, roughly, for keeping a history within a context window.
const CHARS_PER_TOKEN: usize = 4;

/// The part of `history` a turn sends: its last message (the one answered) and at most
/// `max_earlier` messages before it (`ai.max_history`), fewer when their text would not fit in
/// three quarters of a `num_ctx`-token context window (the rest is left for the system prompt,
/// documents and the answer). A cut never starts inside an agent run: the history begins at a
/// message the person wrote, so no tool result goes without the call that asked for it.
pub(crate) fn recent_history(
    history: &[Message],
    max_earlier: usize,
    num_ctx: Option<u32>,
) -> &[Message] {
    let Some(last) = history.len().checked_sub(1) else {
        return history;
    };
    let mut start = last.saturating_sub(max_earlier);
    if let Some(num_ctx) = num_ctx {
        let budget = num_ctx as usize * 3 / 4 * CHARS_PER_TOKEN;
        let mut used = history[last].content.len();
        let mut fits = last;
        while fits > start {
            let size = history[fits - 1].content.len()
                + history[fits - 1].thinking.as_deref().map_or(0, str::len);
            if used + size > budget {
                break;
            }
            used += size;
            fits -= 1;
        }
        start = fits;
    }
    while start < last && history[start].role != Role::User {
        start += 1;
    }
    &history[start..]
}

/// One stored message as Ollama reads it; `None` for what the model should not see (an
/// answer that never got any text).
fn chat_message(message: &Message) -> Option<ChatMessage> {
    match message.role {
        Role::User => Some(ChatMessage::new("user", message.content.clone())),
        // An agent step: its text (often none) and the calls it made, before their results;
        // a thinking model's thinking goes back with its message, as Ollama expects.
        Role::Assistant if !message.tool_calls.is_empty() || !message.content.is_empty() => {
            Some(ChatMessage {
                tool_calls: message.tool_calls.0.clone(),
                thinking: message.thinking.clone(),
                ..ChatMessage::new("assistant", message.content.clone())
            })
        }
        Role::Tool => Some(ChatMessage {
            tool_name: message.tool_name.clone(),
            tool_call_id: message
                .tool_calls
                .0
                .first()
                .and_then(|call| call.id.clone()),
            ..ChatMessage::new("tool", message.content.clone())
        }),
        Role::Assistant | Role::System => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MessageStatus, ToolCalls};

    fn message(role: Role, content: &str) -> Message {
        Message {
            id: uuid::Uuid::now_v7(),
            conversation_id: uuid::Uuid::nil(),
            owner_id: uuid::Uuid::nil(),
            role,
            content: content.into(),
            model: None,
            status: MessageStatus::Complete,
            error: None,
            tool_calls: ToolCalls::default(),
            tool_name: None,
            thinking: None,
            charts: Default::default(),
            sources: Default::default(),
            attachments: Default::default(),
            metrics: Default::default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            html: None,
            versions: None,
        }
    }

    fn contents(history: &[Message]) -> Vec<&str> {
        history.iter().map(|m| m.content.as_str()).collect()
    }

    /// A first message's prompt, built before the turn is stored, is what the stored turn
    /// makes of it: otherwise the model call started early is never used.
    #[test]
    fn the_first_prompt_is_what_the_stored_turn_asks() {
        for system in [None, Some(""), Some("  "), Some("Be brief.")] {
            let conversation = Conversation {
                id: Uuid::nil(),
                owner_id: Uuid::nil(),
                title: "Hello there".into(),
                model: "llama3.2".into(),
                system_prompt: system.map(str::to_string),
                options: Default::default(),
                created_at: chrono::Utc::now(),
                updated_at: chrono::Utc::now(),
                assistant_id: None,
                title_source: Default::default(),
                branched_from: None,
            };
            let history = [message(Role::User, "Hello there")];
            assert_eq!(
                first_prompt(system, "Hello there"),
                prompt_messages(&conversation, &history, &PromptImages::new()),
                "system prompt {system:?}"
            );
        }
    }

    #[test]
    fn history_keeps_the_newest_messages_and_whole_agent_runs() {
        let history = vec![
            message(Role::User, "u1"),
            message(Role::Assistant, "a1"),
            message(Role::User, "u2"),
            message(Role::Assistant, ""),
            message(Role::Tool, "t2"),
            message(Role::Assistant, "a2"),
            message(Role::User, "u3"),
        ];
        assert_eq!(contents(recent_history(&history, 100, None)).len(), 7);
        assert_eq!(
            contents(recent_history(&history, 2, None)),
            ["u3"],
            "a cut inside a run starts at the next message the person wrote"
        );
        assert_eq!(
            contents(recent_history(&history, 4, None)),
            ["u2", "", "t2", "a2", "u3"]
        );
        assert_eq!(contents(recent_history(&history, 0, None)), ["u3"]);
        assert!(recent_history(&[], 3, None).is_empty());
    }

    #[test]
    fn a_persons_images_go_with_their_message_when_the_model_sees() {
        let image = |name: &str| crate::model::Attachment {
            file_id: Uuid::now_v7(),
            name: name.into(),
            kind: crate::model::FileKind::Png,
            size_bytes: 3,
        };
        let mut first = message(Role::User, "what is this?");
        let (cat, gone) = (image("cat.png"), image("deleted.png"));
        first.attachments = crate::model::Attachments(vec![cat.clone(), gone]);
        let history = vec![
            first,
            message(Role::Assistant, "a cat"),
            message(Role::User, "sure?"),
        ];
        let conversation = Conversation {
            id: Uuid::nil(),
            owner_id: Uuid::nil(),
            title: "t".into(),
            model: "llava".into(),
            system_prompt: None,
            options: Default::default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            assistant_id: None,
            title_source: Default::default(),
            branched_from: None,
        };
        let images = PromptImages::from([(cat.file_id, "iVBOR".to_string())]);
        let sent = prompt_messages(&conversation, &history, &images);
        assert_eq!(sent[0].images, ["iVBOR"], "a deleted image is left out");
        assert!(sent[1].images.is_empty() && sent[2].images.is_empty());
        // A model that cannot see gets the text alone.
        let blind = prompt_messages(&conversation, &history, &PromptImages::new());
        assert!(blind.iter().all(|m| m.images.is_empty()));
        assert_eq!(blind[0].content, "what is this?");
    }

    #[test]
    fn history_fits_the_context_window() {
        let long = "x".repeat(4_000);
        let history = vec![
            message(Role::User, &long),
            message(Role::Assistant, &long),
            message(Role::User, "short"),
            message(Role::Assistant, "short"),
            message(Role::User, "now"),
        ];
        // 2,048 tokens: three quarters is about 6,144 characters, one long message fits.
        assert_eq!(
            contents(recent_history(&history, 100, Some(2_048))),
            ["short", "short", "now"]
        );
        assert_eq!(
            contents(recent_history(&history, 100, Some(8_192))).len(),
            5
        );
    }
}
