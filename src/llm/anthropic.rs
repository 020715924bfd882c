//! Anthropic's Messages API (`POST {base}/v1/messages`, `GET {base}/v1/models`, headers
//! `x-api-key` and `anthropic-version: 2023-06-01`). Streamed as server-sent events:
//! `message_start` (input tokens), `content_block_start` (a `text`, `thinking` or `tool_use`
//! block), `content_block_delta` (`text_delta`, `thinking_delta`, `input_json_delta` pieces of
//! a tool call's JSON input), `content_block_stop`, `message_delta` (`stop_reason`, output
//! tokens), `message_stop`; `ping` any time; `error` (`{"type":"error","error":{"type",
//! "message"}}`) in mid-stream, the same body as an error status.
//!
//! System messages go in the top-level `system`; tool results go back as `tool_result` blocks
//! of a user message, and an assistant's calls as its `tool_use` blocks.

use super::ollama::{ChatEvent, ChatMessage, ChatRequest, DoneInfo, OllamaError, WireParser};
use super::sse::SseReader;
use super::truncate;
use crate::model::{ToolCall, ToolCallFunction};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::VecDeque;

pub const API_VERSION: &str = "2023-06-01";

/// `max_tokens` is required by the API; this is used when the request sets no limit.
pub const DEFAULT_MAX_TOKENS: i32 = 4096;

pub fn request_body(request: &ChatRequest, model: &str) -> Value {
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == "system" && !m.content.is_empty())
        .map(|m| m.content.as_str())
        .collect();
    let mut body = json!({
        "model": model,
        "messages": messages(&request.messages),
        "max_tokens": request.options.num_predict.filter(|n| *n > 0).unwrap_or(DEFAULT_MAX_TOKENS),
        "stream": true,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if let Some(temperature) = request.options.temperature {
        // Anthropic's range is 0 to 1.
        body["temperature"] = json!(temperature.clamp(0.0, 1.0));
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.function.name,
                    "description": tool.function.description,
                    "input_schema": tool.function.parameters,
                })
            })
            .collect();
    }
    body
}

/// Our messages as content blocks; messages of one role in a row are merged (the results of
/// several calls go back in one user message, as the API asks).
fn messages(messages: &[ChatMessage]) -> Vec<Value> {
    let mut out: Vec<(String, Vec<Value>)> = Vec::new();
    let mut pending_ids: VecDeque<String> = VecDeque::new();
    for (i, message) in messages.iter().enumerate() {
        let (role, blocks) = match message.role.as_str() {
            "system" => continue,
            "assistant" => {
                let mut blocks = Vec::new();
                if !message.content.trim().is_empty() {
                    blocks.push(json!({ "type": "text", "text": message.content }));
                }
                pending_ids.clear();
                for (j, call) in message.tool_calls.iter().enumerate() {
                    let id = call.id.clone().unwrap_or_else(|| format!("toolu_{i}_{j}"));
                    pending_ids.push_back(id.clone());
                    let input = match &call.function.arguments {
                        Value::Object(_) => call.function.arguments.clone(),
                        _ => json!({}),
                    };
                    blocks.push(json!({
                        "type": "tool_use", "id": id, "name": call.function.name, "input": input,
                    }));
                }
                ("assistant", blocks)
            }
            "tool" => {
                let id = message
                    .tool_call_id
                    .clone()
                    .or_else(|| pending_ids.pop_front())
                    .unwrap_or_default();
                (
                    "user",
                    vec![
                        json!({ "type": "tool_result", "tool_use_id": id, "content": message.content }),
                    ],
                )
            }
            _ => {
                let mut blocks: Vec<Value> = message
                    .images
                    .iter()
                    .map(|image| {
                        json!({ "type": "image", "source": {
                            "type": "base64",
                            "media_type": super::image_media_type(image),
                            "data": image,
                        }})
                    })
                    .collect();
                if !message.content.is_empty() {
                    blocks.push(json!({ "type": "text", "text": message.content }));
                }
                ("user", blocks)
            }
        };
        if blocks.is_empty() {
            continue; // the API refuses empty content
        }
        match out.last_mut() {
            Some((last, existing)) if last == role => existing.extend(blocks),
            _ => out.push((role.to_string(), blocks)),
        }
    }
    out.into_iter()
        .map(|(role, content)| json!({ "role": role, "content": content }))
        .collect()
}

/// The message of an Anthropic error body, if it is one.
pub fn error_message(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ErrorEvent>(body)
        .ok()
        .map(|e| e.error.text())
}

#[derive(Deserialize)]
struct ErrorEvent {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    message: String,
}

impl ErrorBody {
    fn text(self) -> String {
        match (self.kind.is_empty(), self.message.is_empty()) {
            (_, true) => self.kind,
            (true, false) => self.message,
            (false, false) => format!("{} ({})", self.message, self.kind),
        }
    }
}

/// `GET {base}/v1/models`: the ids of `data[]`, and whether there are more pages.
pub fn model_page(body: &[u8]) -> Result<(Vec<String>, Option<String>), OllamaError> {
    #[derive(Deserialize)]
    struct Page {
        data: Vec<Entry>,
        #[serde(default)]
        has_more: bool,
        #[serde(default)]
        last_id: Option<String>,
    }
    #[derive(Deserialize)]
    struct Entry {
        id: String,
    }
    let page: Page = serde_json::from_slice(body)
        .map_err(|e| OllamaError::Protocol(format!("the model list: {e}")))?;
    let next = page.has_more.then_some(page.last_id).flatten();
    Ok((page.data.into_iter().map(|e| e.id).collect(), next))
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: u32,
        content_block: Block,
    },
    ContentBlockDelta {
        index: u32,
        delta: Delta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        #[serde(default)]
        delta: MessageDelta,
        #[serde(default)]
        usage: Option<Usage>,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorBody,
    },
    /// Types added after this was written are passed over, as the API's versioning asks.
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    input_tokens: Option<i64>,
    #[serde(default)]
    output_tokens: Option<i64>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    #[serde(other)]
    Other,
}

// The variants are named as the API names its delta types.
#[allow(clippy::enum_variant_names)]
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Delta {
    TextDelta {
        text: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct MessageDelta {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// Reads the event stream of one chat.
#[derive(Default)]
pub struct AnthropicWire {
    sse: SseReader,
    /// Tool calls being read: block index, id, name, input JSON so far.
    calls: Vec<(u32, String, String, String)>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    stop_reason: Option<String>,
}

impl AnthropicWire {
    fn event(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<bool, OllamaError> {
        let event: Event = serde_json::from_str(data).map_err(|e| {
            OllamaError::Protocol(format!("{e} in event {:?}", truncate(data, 200)))
        })?;
        match event {
            Event::MessageStart { message } => {
                if let Some(usage) = message.usage {
                    self.input_tokens = usage.input_tokens;
                    self.output_tokens = usage.output_tokens;
                }
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                Block::Text { text } if !text.is_empty() => out.push_back(ChatEvent::Delta(text)),
                Block::Thinking { thinking } if !thinking.is_empty() => {
                    out.push_back(ChatEvent::Thinking(thinking))
                }
                Block::ToolUse { id, name } => {
                    self.calls.push((index, id, name, String::new()));
                }
                _ => {}
            },
            Event::ContentBlockDelta { index, delta } => match delta {
                Delta::TextDelta { text } if !text.is_empty() => {
                    out.push_back(ChatEvent::Delta(text))
                }
                Delta::ThinkingDelta { thinking } if !thinking.is_empty() => {
                    out.push_back(ChatEvent::Thinking(thinking))
                }
                Delta::InputJsonDelta { partial_json } => {
                    if let Some(call) = self.calls.iter_mut().find(|c| c.0 == index) {
                        call.3.push_str(&partial_json);
                    }
                }
                _ => {}
            },
            Event::ContentBlockStop { index } => {
                if let Some(position) = self.calls.iter().position(|c| c.0 == index) {
                    let (index, id, name, input) = self.calls.remove(position);
                    let arguments = match input.trim() {
                        "" => json!({}),
                        text => serde_json::from_str(text)
                            .unwrap_or_else(|_| Value::String(text.to_string())),
                    };
                    out.push_back(ChatEvent::ToolCalls(vec![ToolCall {
                        id: Some(id),
                        function: ToolCallFunction {
                            index: Some(index),
                            name,
                            arguments,
                        },
                    }]));
                }
            }
            Event::MessageDelta { delta, usage } => {
                if delta.stop_reason.is_some() {
                    self.stop_reason = delta.stop_reason;
                }
                if let Some(tokens) = usage.and_then(|u| u.output_tokens) {
                    self.output_tokens = Some(tokens);
                }
            }
            Event::MessageStop => {
                out.push_back(ChatEvent::Done(DoneInfo {
                    done_reason: Some(match self.stop_reason.as_deref() {
                        Some("max_tokens") => "length".into(),
                        _ => "stop".into(),
                    }),
                    prompt_eval_count: self.input_tokens,
                    eval_count: self.output_tokens,
                    total_duration: None,
                }));
                return Ok(true);
            }
            Event::Error { error } => return Err(OllamaError::Stream(error.text())),
            Event::Ping | Event::Unknown => {}
        }
        Ok(false)
    }
}

impl WireParser for AnthropicWire {
    fn line(&mut self, line: &str, out: &mut VecDeque<ChatEvent>) -> Result<bool, OllamaError> {
        match self.sse.line(line) {
            Some(event) => self.event(&event.data, out),
            None => Ok(false),
        }
    }

    fn ended(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<bool, OllamaError> {
        match self.sse.finish() {
            Some(event) => self.event(&event.data, out),
            None => Ok(false),
        }
    }

    fn blank_lines(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_of(body: &str, piece: usize) -> Result<Vec<ChatEvent>, OllamaError> {
        let (events, whole) =
            super::super::parse_in_pieces(&mut AnthropicWire::default(), body, piece)?;
        assert!(whole, "the stream was not whole");
        Ok(events)
    }

    #[test]
    fn text_thinking_and_a_tool_call_in_pieces_come_out_whole() {
        let body = concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\n",
            "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me see…\"}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}\n\n",
            "event: content_block_stop\n",
            "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: ping\n",
            "data: {\"type\": \"ping\"}\n\n",
            "event: content_block_start\n",
            "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Crème 🦀 \"}}\n\n",
            "event: content_block_stop\n",
            "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
            "event: content_block_start\n",
            "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"calculator\",\"input\":{}}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"expression\\\": \\\"6*7\"}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"}\"}}\n\n",
            "event: content_block_stop\n",
            "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
            "event: message_delta\n",
            "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
            "event: message_stop\n",
            "data: {\"type\":\"message_stop\"}\n\n",
        );
        for piece in [1, 4, 29, 100_000] {
            let events = events_of(body, piece).unwrap();
            assert_eq!(events[0], ChatEvent::Thinking("Let me see…".into()));
            assert_eq!(events[1], ChatEvent::Delta("Crème 🦀 ".into()));
            let ChatEvent::ToolCalls(calls) = &events[2] else {
                panic!("{events:?}")
            };
            assert_eq!(calls[0].id.as_deref(), Some("toolu_01"));
            assert_eq!(calls[0].function.arguments, json!({"expression": "6*7"}));
            let ChatEvent::Done(done) = &events[3] else {
                panic!("{events:?}")
            };
            assert_eq!(done.prompt_eval_count, Some(25));
            assert_eq!(done.eval_count, Some(89));
            assert_eq!(events.len(), 4);
        }
    }

    #[test]
    fn an_error_event_is_an_error_and_a_cut_stream_is_not_whole() {
        let body = concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1}}}\n\n",
            "event: error\n",
            "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
        );
        assert_eq!(
            events_of(body, 7).unwrap_err(),
            OllamaError::Stream("Overloaded (overloaded_error)".into())
        );
        let mut wire = AnthropicWire::default();
        let mut out = VecDeque::new();
        wire.line("event: content_block_delta", &mut out).unwrap();
        wire.line(
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}",
            &mut out,
        )
        .unwrap();
        wire.line("", &mut out).unwrap();
        assert!(!wire.ended(&mut out).unwrap());
    }

    #[test]
    fn system_tools_calls_and_results_go_in_anthropics_shape() {
        let messages = vec![
            ChatMessage::new("system", "Be brief."),
            ChatMessage::new("user", "What is 6*7?"),
            ChatMessage {
                tool_calls: vec![
                    ToolCall {
                        id: Some("toolu_a".into()),
                        function: ToolCallFunction {
                            index: None,
                            name: "calculator".into(),
                            arguments: json!({"expression": "6*7"}),
                        },
                    },
                    ToolCall {
                        id: Some("toolu_b".into()),
                        function: ToolCallFunction {
                            index: None,
                            name: "current_time".into(),
                            arguments: json!({}),
                        },
                    },
                ],
                ..ChatMessage::new("assistant", "Checking.")
            },
            ChatMessage {
                tool_call_id: Some("toolu_a".into()),
                ..ChatMessage::new("tool", "42")
            },
            ChatMessage {
                tool_call_id: Some("toolu_b".into()),
                ..ChatMessage::new("tool", "noon")
            },
        ];
        let request = ChatRequest {
            model: "claude/claude-sonnet-4-5".into(),
            messages,
            options: Default::default(),
            tools: vec![super::super::ToolSpec::function(
                "calculator",
                "Computes.",
                json!({"type": "object"}),
            )],
            format: None,
        };
        let body = request_body(&request, "claude-sonnet-4-5");
        assert_eq!(body["system"], "Be brief.");
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "What is 6*7?"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_a", "name": "calculator", "input": {"expression": "6*7"}},
                    {"type": "tool_use", "id": "toolu_b", "name": "current_time", "input": {}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_a", "content": "42"},
                    {"type": "tool_result", "tool_use_id": "toolu_b", "content": "noon"},
                ]},
            ])
        );
        assert_eq!(
            body["tools"],
            json!([{"name": "calculator", "description": "Computes.", "input_schema": {"type": "object"}}])
        );
    }
}
