//! Conversations out and in: JSON that holds everything (and imports back as new
//! conversations), and markdown to read.

use crate::error::{AppError, AppResult};
use crate::model::{
    Conversation, ConversationWithMessages, Message, MessageStatus, Role, MAX_TITLE_CHARS,
};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const FORMAT_ONE: &str = "ollamastack.conversation";
pub const FORMAT_ALL: &str = "ollamastack.conversations";
pub const FORMAT_VERSION: u32 = 1;
/// Most conversations in one import, and messages in one conversation.
pub const MAX_IMPORT_CONVERSATIONS: usize = 1_000;
pub const MAX_IMPORT_MESSAGES: usize = 10_000;

/// How a conversation is written out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Markdown,
}

impl ExportFormat {
    pub fn parse(value: Option<&str>) -> AppResult<ExportFormat> {
        match value.unwrap_or("json") {
            "json" => Ok(ExportFormat::Json),
            "markdown" | "md" => Ok(ExportFormat::Markdown),
            other => Err(AppError::InvalidInput(format!(
                "format must be json or markdown, not {other:?}"
            ))),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Json => "application/json",
            ExportFormat::Markdown => "text/markdown; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Markdown => "md",
        }
    }
}

/// One conversation as exported: everything a person sees, nothing of the server's (owners).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationExport {
    pub format: String,
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    pub conversation: Conversation,
    pub messages: Vec<Message>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationsExport {
    pub format: String,
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    pub conversations: Vec<ConversationExport>,
}

fn export_of(whole: ConversationWithMessages, at: DateTime<Utc>) -> ConversationExport {
    ConversationExport {
        format: FORMAT_ONE.into(),
        version: FORMAT_VERSION,
        exported_at: at,
        conversation: whole.conversation,
        messages: whole.messages,
    }
}

/// A written export: its text and a file name for it.
pub struct Exported {
    pub body: String,
    pub file_name: String,
}

/// One of the owner's conversations, as JSON or markdown.
pub async fn export_conversation(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
    format: ExportFormat,
) -> AppResult<Exported> {
    let whole = super::get_conversation(state, owner, id).await?;
    let name = file_stem(&whole.conversation.title);
    let body = match format {
        ExportFormat::Json => serde_json::to_string_pretty(&export_of(whole, Utc::now()))
            .map_err(|_| AppError::Internal)?,
        ExportFormat::Markdown => markdown_of(&whole.conversation, &whole.messages),
    };
    Ok(Exported {
        body,
        file_name: format!("{name}.{}", format.extension()),
    })
}

/// All the owner's conversations, newest first.
pub async fn export_all(
    state: &AppState,
    owner: Uuid,
    format: ExportFormat,
) -> AppResult<Exported> {
    let list = state.store.list_conversations(owner).await?;
    let at = Utc::now();
    let mut wholes = Vec::with_capacity(list.len());
    for conversation in list {
        wholes.push(super::get_conversation(state, owner, conversation.id).await?);
    }
    let body = match format {
        ExportFormat::Json => serde_json::to_string_pretty(&ConversationsExport {
            format: FORMAT_ALL.into(),
            version: FORMAT_VERSION,
            exported_at: at,
            conversations: wholes.into_iter().map(|w| export_of(w, at)).collect(),
        })
        .map_err(|_| AppError::Internal)?,
        ExportFormat::Markdown => wholes
            .iter()
            .map(|w| markdown_of(&w.conversation, &w.messages))
            .collect::<Vec<_>>()
            .join("\n---\n\n"),
    };
    Ok(Exported {
        body,
        file_name: format!("ollamastack-conversations.{}", format.extension()),
    })
}

/// A file name from a title: letters, digits and dashes.
fn file_stem(title: &str) -> String {
    let stem: String = title
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let stem: String = stem.chars().take(60).collect();
    if stem.is_empty() {
        "conversation".into()
    } else {
        stem
    }
}

/// A conversation as markdown to read: its title, model and system prompt, then each message
/// under a heading saying who wrote it and when. Messages keep their own markdown.
pub fn markdown_of(conversation: &Conversation, messages: &[Message]) -> String {
    let mut out = format!("# {}\n\n", one_line(&conversation.title));
    out.push_str(&format!("- Model: {}\n", one_line(&conversation.model)));
    out.push_str(&format!(
        "- Started: {}\n",
        conversation.created_at.format("%Y-%m-%d %H:%M UTC")
    ));
    if let Some(prompt) = conversation
        .system_prompt
        .as_deref()
        .filter(|p| !p.trim().is_empty())
    {
        out.push_str(&format!("- System prompt: {}\n", one_line(prompt)));
    }
    for message in messages {
        let when = message.created_at.format("%Y-%m-%d %H:%M UTC");
        let who = match message.role {
            Role::User => "You".to_string(),
            Role::Assistant if !message.tool_calls.is_empty() => format!(
                "Assistant calls {}",
                message
                    .tool_calls
                    .0
                    .iter()
                    .map(|c| c.function.name.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Role::Assistant => format!(
                "Assistant ({})",
                one_line(message.model.as_deref().unwrap_or("model"))
            ),
            Role::Tool => format!(
                "Tool {}",
                one_line(message.tool_name.as_deref().unwrap_or("result"))
            ),
            Role::System => "System".into(),
        };
        out.push_str(&format!("\n## {who} · {when}\n\n"));
        if message.content.is_empty() && message.tool_calls.is_empty() {
            out.push_str("_(no text)_\n");
        } else if message.role == Role::Tool {
            out.push_str(&fenced(&message.content));
        } else {
            out.push_str(message.content.trim_end());
            out.push('\n');
        }
        if message.status != MessageStatus::Complete {
            out.push_str(&format!("\n_({})_\n", message.status.as_str()));
        }
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text in a code fence longer than any run of backticks inside it.
fn fenced(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}\n{}\n{fence}\n", text.trim_end())
}

/// What an import accepts: one exported conversation, or an export of all, told apart by
/// their `format`.
pub fn read_import(body: serde_json::Value) -> AppResult<Vec<ConversationExport>> {
    let invalid = |e: serde_json::Error| AppError::InvalidInput(format!("not an export: {e}"));
    match body.get("format").and_then(serde_json::Value::as_str) {
        Some(FORMAT_ALL) => {
            let all: ConversationsExport = serde_json::from_value(body).map_err(invalid)?;
            check_format(&all.format, FORMAT_ALL, all.version)?;
            Ok(all.conversations)
        }
        Some(FORMAT_ONE) => Ok(vec![serde_json::from_value(body).map_err(invalid)?]),
        _ => Err(AppError::InvalidInput(format!(
            "format must be {FORMAT_ONE:?} (one conversation) or {FORMAT_ALL:?} (several), as exported"
        ))),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportOutcome {
    pub conversations: Vec<Conversation>,
    pub messages: usize,
}

/// Stores each exported conversation again for `owner`, under new ids: an export imports as
/// many times as wanted. Everything is checked before anything is stored; each conversation
/// goes in whole or not at all.
pub async fn import_conversations(
    state: &AppState,
    owner: Uuid,
    body: serde_json::Value,
) -> AppResult<ImportOutcome> {
    let exports = read_import(body)?;
    if exports.is_empty() {
        return Err(AppError::InvalidInput("no conversation to import".into()));
    }
    if exports.len() > MAX_IMPORT_CONVERSATIONS {
        return Err(AppError::InvalidInput(format!(
            "at most {MAX_IMPORT_CONVERSATIONS} conversations in one import"
        )));
    }
    let max_chars = state
        .settings
        .generation
        .max_answer_chars
        .max(crate::model::MAX_MESSAGE_CHARS);
    let mut prepared = Vec::with_capacity(exports.len());
    for (n, export) in exports.into_iter().enumerate() {
        let place =
            |reason: String| AppError::InvalidInput(format!("conversation {}: {reason}", n + 1));
        check_format(&export.format, FORMAT_ONE, export.version)
            .map_err(|e| place(e.to_string()))?;
        let mut conversation = export.conversation;
        if conversation.title.chars().count() > MAX_TITLE_CHARS {
            return Err(place(format!(
                "a title has at most {MAX_TITLE_CHARS} characters"
            )));
        }
        if conversation.model.trim().is_empty() || conversation.model.len() > 200 {
            return Err(place("the model must be named".into()));
        }
        if export.messages.len() > MAX_IMPORT_MESSAGES {
            return Err(place(format!("at most {MAX_IMPORT_MESSAGES} messages")));
        }
        super::check_options(&conversation.options).map_err(|e| place(e.to_string()))?;
        // An assistant of someone else's (unless shared) or deleted is not linked.
        if let Some(assistant) = conversation.assistant_id {
            if state
                .store
                .usable_assistant(owner, assistant)
                .await?
                .is_none()
            {
                conversation.assistant_id = None;
            }
        }
        conversation.id = Uuid::now_v7();
        conversation.owner_id = owner;
        // A branch's source is a conversation of the exporting server's, not of this one.
        conversation.branched_from = None;
        // The title came with the file: the model does not rename it.
        conversation.title_source = crate::model::TitleSource::Person;
        let mut messages = export.messages;
        messages.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        for message in &mut messages {
            if message.content.chars().count() > max_chars {
                return Err(place(format!(
                    "a message is longer than {max_chars} characters"
                )));
            }
            message.id = Uuid::now_v7();
            message.conversation_id = conversation.id;
            message.owner_id = owner;
            // Nothing imported is being written.
            if message.status == MessageStatus::Streaming {
                message.status = MessageStatus::Interrupted;
            }
        }
        prepared.push((conversation, messages));
    }
    let mut outcome = ImportOutcome {
        conversations: Vec::with_capacity(prepared.len()),
        messages: 0,
    };
    for (conversation, messages) in prepared {
        let stored = state
            .store
            .import_conversation(owner, &conversation, &messages)
            .await?;
        outcome.messages += messages.len();
        outcome.conversations.push(stored);
    }
    Ok(outcome)
}

fn check_format(format: &str, expected: &str, version: u32) -> AppResult<()> {
    if format != expected {
        return Err(AppError::InvalidInput(format!(
            "format must be {expected:?}, not {format:?}"
        )));
    }
    if version != FORMAT_VERSION {
        return Err(AppError::InvalidInput(format!(
            "version {version} is not known (this server reads version {FORMAT_VERSION})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_and_fences_are_safe() {
        assert_eq!(file_stem("Trip to Kyoto: budget?"), "Trip-to-Kyoto-budget");
        assert_eq!(file_stem("../../etc/passwd"), "etc-passwd");
        assert_eq!(file_stem("   "), "conversation");
        assert_eq!(fenced("a ```b``` c"), "````\na ```b``` c\n````\n");
    }
}
