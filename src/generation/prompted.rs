//! Tools for models that cannot call them natively (/api/show lists no `tools` capability):
//! each model call is asked for one JSON object (Ollama's `format` with a JSON Schema) that
//! either names a tool and its arguments or holds the answer. The loop runs the tool and sends
//! the result back as a user message, which every chat template shows to the model.

use crate::llm::ToolSpec;
use serde::Deserialize;
use serde_json::{json, Value};

/// The system message that explains the tools and the reply format.
pub fn instructions(tools: &[ToolSpec]) -> String {
    let mut text = String::from(
        "You can use tools. Reply with one JSON object and nothing else.\n\
         To call a tool: {\"tool\": \"<name>\", \"arguments\": {…}}; you will then be given its result.\n\
         To answer the person: {\"tool\": \"none\", \"answer\": \"<your answer>\"}.\n\
         Call one tool at a time, and only the tools below.\n\nTools:\n",
    );
    for tool in tools {
        text.push_str(&format!(
            "- {}: {}\n  arguments (JSON Schema): {}\n",
            tool.function.name, tool.function.description, tool.function.parameters
        ));
    }
    text
}

/// The JSON Schema every reply must follow.
pub fn schema(tools: &[ToolSpec]) -> Value {
    let mut names: Vec<Value> = tools
        .iter()
        .map(|t| Value::String(t.function.name.clone()))
        .collect();
    names.push(Value::String("none".into()));
    json!({
        "type": "object",
        "properties": {
            "tool": { "type": "string", "enum": names },
            "arguments": { "type": "object" },
            "answer": { "type": "string" }
        },
        "required": ["tool"]
    })
}

/// The result of a tool, as the model reads it in prompted mode.
pub fn result_message(tool: &str, result: &str) -> String {
    format!("Result of the tool {tool}: {result}")
}

/// What a reply asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Call { name: String, arguments: Value },
    Answer(String),
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    tool: Option<String>,
    #[serde(default)]
    arguments: Value,
    #[serde(default)]
    answer: Option<String>,
}

/// Reads a reply. Text that is not the agreed JSON is taken as the answer itself, so a model
/// that ignores the format still answers.
pub fn parse(raw: &str) -> Reply {
    match serde_json::from_str::<Wire>(raw.trim()) {
        Ok(Wire {
            tool: Some(name),
            arguments,
            ..
        }) if !name.trim().is_empty() && name.trim() != "none" => Reply::Call {
            name: name.trim().to_string(),
            arguments: if arguments.is_null() {
                json!({})
            } else {
                arguments
            },
        },
        Ok(Wire {
            answer: Some(answer),
            ..
        }) => Reply::Answer(answer),
        _ => Reply::Answer(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_calls_or_answers() {
        assert_eq!(
            parse(r#" {"tool": "calculator", "arguments": {"expression": "6*7"}} "#),
            Reply::Call {
                name: "calculator".into(),
                arguments: json!({"expression": "6*7"})
            }
        );
        assert_eq!(
            parse(r#"{"tool": "current_time"}"#),
            Reply::Call {
                name: "current_time".into(),
                arguments: json!({})
            }
        );
        assert_eq!(
            parse(r#"{"tool": "none", "answer": "It is 42."}"#),
            Reply::Answer("It is 42.".into())
        );
        assert_eq!(parse("Just text."), Reply::Answer("Just text.".into()));
        assert_eq!(
            parse(r#"{"tool": "none"}"#),
            Reply::Answer(r#"{"tool": "none"}"#.into())
        );
    }

    #[test]
    fn the_schema_names_every_tool_and_none() {
        let tools = vec![ToolSpec::function(
            "calculator",
            "Maths.",
            json!({"type": "object"}),
        )];
        let schema = schema(&tools);
        assert_eq!(
            schema["properties"]["tool"]["enum"],
            json!(["calculator", "none"])
        );
        assert!(instructions(&tools).contains("- calculator: Maths."));
    }
}
