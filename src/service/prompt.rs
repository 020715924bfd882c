//! The context sent to the model: how a conversation's history becomes Ollama's messages.
//! Agent steps go back as Ollama expects: the assistant message with its `tool_calls`, then one
//! `tool` message per result. (Documents will add retrieved passages here.)

use crate::llm::ChatMessage;
use crate::model::{Conversation, Message, Role};

/// The conversation as Ollama reads it: the system prompt, then the exchanges so far.
pub(crate) fn prompt_messages(
    conversation: &Conversation,
    history: &[Message],
) -> Vec<ChatMessage> {
    let mut messages = Vec::with_capacity(history.len() + 1);
    if let Some(system) = conversation
        .system_prompt
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        messages.push(ChatMessage::new("system", system));
    }
    messages.extend(history.iter().filter_map(chat_message));
    messages
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
