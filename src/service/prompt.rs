//! The context sent to the model: how a conversation's history becomes Ollama's messages.
//! (Agents and documents will add tools, retrieved passages and summaries here.)

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
        messages.push(ChatMessage {
            role: "system".into(),
            content: system.to_string(),
        });
    }
    messages.extend(
        history
            .iter()
            .filter(|m| {
                m.role == Role::User || (m.role == Role::Assistant && !m.content.is_empty())
            })
            .map(|m| ChatMessage {
                role: m.role.as_str().into(),
                content: m.content.clone(),
            }),
    );
    messages
}
