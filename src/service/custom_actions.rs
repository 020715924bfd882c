//! Named actions another program can call with `POST /api/v1/custom/action`
//! (`{"action", "parameters"}` → `{"success", "data", "message"}`): a registry, each action
//! checking its own parameters.

use crate::error::{AppError, AppResult};
use crate::llm::{ChatEvent, ChatMessage, ChatRequest};
use crate::model::{GenerationOptions, Role};
use crate::state::AppState;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

/// What an action answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    pub success: bool,
    pub data: Value,
    pub message: String,
}

/// The registry: name, what it does, its parameters.
pub const ACTIONS: &[(&str, &str, &str)] = &[
    ("list_actions", "The actions this server offers.", "{}"),
    (
        "run_tool",
        "Runs one of the agent's tools (features.custom_tools).",
        r#"{"tool": "calculator", "arguments": {"expression": "6*7"}}"#,
    ),
    (
        "summarize_conversation",
        "Asks the conversation's model for a short summary of it.",
        r#"{"conversation_id": "…", "model": "optional"}"#,
    ),
    (
        "export_conversation",
        "A conversation as markdown or JSON (the same as its export).",
        r#"{"conversation_id": "…", "format": "markdown" | "json"}"#,
    ),
];

/// Characters of a conversation given to the model to summarise (the newest ones).
const SUMMARY_INPUT_CHARS: usize = 12_000;
/// Longest a summary may take, first token included.
const SUMMARY_TIMEOUT: Duration = Duration::from_secs(120);

fn parameters<T: DeserializeOwned>(action: &str, value: Value) -> AppResult<T> {
    let value = if value.is_null() { json!({}) } else { value };
    if !value.is_object() {
        return Err(AppError::InvalidInput(format!(
            "{action}: parameters: invalid type: parameters are a JSON object"
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| AppError::InvalidInput(format!("{action}: parameters: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParameters {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunTool {
    tool: String,
    #[serde(default)]
    arguments: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Summarize {
    conversation_id: Uuid,
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Export {
    conversation_id: Uuid,
    #[serde(default)]
    format: Option<String>,
}

/// Runs `action` for `owner`. An unknown action is NotFound; parameters that do not fit are
/// InvalidInput naming the action.
pub async fn run_action(
    state: &AppState,
    owner: Uuid,
    action: &str,
    params: Value,
) -> AppResult<ActionOutcome> {
    match action {
        "list_actions" => {
            parameters::<NoParameters>(action, params)?;
            Ok(ActionOutcome {
                success: true,
                data: json!(ACTIONS
                    .iter()
                    .map(|(name, description, example)| json!({
                        "action": name,
                        "description": description,
                        "parameters": example,
                    }))
                    .collect::<Vec<_>>()),
                message: format!("{} actions", ACTIONS.len()),
            })
        }
        "run_tool" => {
            let p: RunTool = parameters(action, params)?;
            super::preferences::require_feature(state, super::preferences::Feature::CustomTools)
                .await?;
            if state.tools.get(&p.tool).is_none() {
                return Err(AppError::InvalidInput(format!(
                    "run_tool: there is no tool named {:?}",
                    p.tool
                )));
            }
            let context = crate::tools::ToolContext {
                owner_id: owner,
                conversation_id: None,
            };
            let outcome = state.tools.invoke(&context, &p.tool, p.arguments).await;
            let duration_ms = outcome.duration.as_millis() as u64;
            Ok(match outcome.result {
                Ok(reply) => ActionOutcome {
                    success: true,
                    data: json!({ "result": reply.text, "charts": reply.charts, "duration_ms": duration_ms }),
                    message: format!("{} ran", p.tool),
                },
                // The tool's own refusal (bad arguments, a failed call) is an answer, as in an
                // agent run.
                Err(error) => ActionOutcome {
                    success: false,
                    data: json!({ "duration_ms": duration_ms }),
                    message: error.to_string(),
                },
            })
        }
        "summarize_conversation" => {
            let p: Summarize = parameters(action, params)?;
            let whole = super::get_conversation(state, owner, p.conversation_id).await?;
            let model = match p.model {
                Some(model) => super::validate_model(&model)?,
                None => whole.conversation.model.clone(),
            };
            let summary = summarize(state, &model, &whole.messages).await?;
            Ok(ActionOutcome {
                success: true,
                data: json!({ "summary": summary, "model": model, "conversation_id": whole.conversation.id }),
                message: "summarised".into(),
            })
        }
        "export_conversation" => {
            let p: Export = parameters(action, params)?;
            let format = super::transfer::ExportFormat::parse(p.format.as_deref())
                .map_err(|e| AppError::InvalidInput(format!("{action}: {e}")))?;
            let exported =
                super::transfer::export_conversation(state, owner, p.conversation_id, format)
                    .await?;
            Ok(ActionOutcome {
                success: true,
                data: json!({
                    "file_name": exported.file_name,
                    "content_type": format.content_type(),
                    "content": exported.body,
                }),
                message: "exported".into(),
            })
        }
        other => Err(AppError::NotFound(format!(
            "action '{other}' (list_actions names them)"
        ))),
    }
}

/// The model's summary of `messages` (their newest text, within a budget).
async fn summarize(
    state: &AppState,
    model: &str,
    messages: &[crate::model::Message],
) -> AppResult<String> {
    let mut transcript = String::new();
    for message in messages.iter().rev() {
        let who = match message.role {
            Role::User => "Person",
            Role::Assistant if !message.content.is_empty() => "Assistant",
            _ => continue,
        };
        let line = format!("{who}: {}\n\n", message.content.trim());
        if transcript.len() + line.len() > SUMMARY_INPUT_CHARS {
            break;
        }
        transcript.insert_str(0, &line);
    }
    if transcript.is_empty() {
        return Err(AppError::InvalidInput(
            "summarize_conversation: the conversation has no text yet".into(),
        ));
    }
    let request = ChatRequest {
        model: model.to_string(),
        messages: vec![
            ChatMessage::new(
                "system",
                "Summarise the conversation below in three to five sentences: what was asked, \
                 what was answered, and anything left open. Write plain prose.",
            ),
            ChatMessage::new("user", transcript),
        ],
        options: GenerationOptions {
            num_predict: Some(400),
            ..Default::default()
        },
        tools: Vec::new(),
        format: None,
    };
    let work = async {
        let mut stream = state.ollama.chat_stream(&request).await?;
        let mut text = String::new();
        while let Some(event) = stream.next().await? {
            match event {
                ChatEvent::Delta(delta) => text.push_str(&delta),
                ChatEvent::Done(_) => break,
                ChatEvent::Thinking(_) | ChatEvent::ToolCalls(_) => {}
            }
        }
        Ok::<String, crate::llm::OllamaError>(text)
    };
    match tokio::time::timeout(SUMMARY_TIMEOUT, work).await {
        Ok(Ok(text)) => Ok(text.trim().to_string()),
        Ok(Err(error)) => Err(AppError::from(error)),
        Err(_) => Err(AppError::Unavailable(
            "the model took too long to summarise; try again".into(),
        )),
    }
}
