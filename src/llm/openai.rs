//! The OpenAI chat completions wire (`POST {base}/chat/completions`, `GET {base}/models`),
//! spoken by OpenAI and by the servers that copy it. Streamed as server-sent events: text in
//! `choices[0].delta.content`, reasoning in `delta.reasoning_content` or `delta.reasoning`,
//! tool calls in fragments by `index` (the name first, then the arguments as pieces of a JSON
//! string), `finish_reason`, usage in a last chunk (`stream_options.include_usage`), then
//! `data: [DONE]`. Errors: `{"error": {"message", "type", "code"}}`, as the body of an error
//! status or as an event in mid-stream.

use super::ollama::{ChatEvent, ChatMessage, ChatRequest, DoneInfo, OllamaError, WireParser};
use super::sse::SseReader;
use super::truncate;
use crate::model::{ToolCall, ToolCallFunction};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::VecDeque;

/// The request body for a streamed chat. `max_completion_tokens` is what OpenAI itself takes
/// (its reasoning models refuse `max_tokens`); the servers that copy the API read `max_tokens`.
pub fn request_body(request: &ChatRequest, model: &str, openai_itself: bool) -> Value {
    let mut body = json!({
        "model": model,
        "messages": messages(&request.messages),
        "stream": true,
        "stream_options": { "include_usage": true },
    });
    if let Some(temperature) = request.options.temperature {
        body["temperature"] = json!(temperature);
    }
    if let Some(limit) = request.options.num_predict.filter(|n| *n > 0) {
        let field = if openai_itself {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body[field] = json!(limit);
    }
    if !request.tools.is_empty() {
        body["tools"] = json!(request.tools);
    }
    match &request.format {
        Some(Value::String(format)) if format == "json" => {
            body["response_format"] = json!({ "type": "json_object" });
        }
        Some(schema @ Value::Object(_)) => {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": { "name": "answer", "schema": schema },
            });
        }
        _ => {}
    }
    body
}

/// Our messages as OpenAI reads them. A tool call without an id (Ollama's older servers gave
/// none) gets one here, and the results that follow it take the same ids in order.
fn messages(messages: &[ChatMessage]) -> Vec<Value> {
    let mut pending_ids: VecDeque<String> = VecDeque::new();
    messages
        .iter()
        .enumerate()
        .map(|(i, message)| match message.role.as_str() {
            "assistant" if !message.tool_calls.is_empty() => {
                pending_ids.clear();
                let calls: Vec<Value> = message
                    .tool_calls
                    .iter()
                    .enumerate()
                    .map(|(j, call)| {
                        let id = call.id.clone().unwrap_or_else(|| format!("call_{i}_{j}"));
                        pending_ids.push_back(id.clone());
                        json!({
                            "id": id,
                            "type": "function",
                            "function": {
                                "name": call.function.name,
                                "arguments": arguments_text(&call.function.arguments),
                            },
                        })
                    })
                    .collect();
                let content = (!message.content.is_empty()).then(|| message.content.clone());
                json!({ "role": "assistant", "content": content, "tool_calls": calls })
            }
            "tool" => {
                let id = message
                    .tool_call_id
                    .clone()
                    .or_else(|| pending_ids.pop_front())
                    .unwrap_or_default();
                json!({ "role": "tool", "tool_call_id": id, "content": message.content })
            }
            role if !message.images.is_empty() => {
                let mut parts = vec![json!({ "type": "text", "text": message.content })];
                parts.extend(message.images.iter().map(|image| {
                    let url = format!("data:{};base64,{image}", super::image_media_type(image));
                    json!({ "type": "image_url", "image_url": { "url": url } })
                }));
                json!({ "role": role, "content": parts })
            }
            role => json!({ "role": role, "content": message.content }),
        })
        .collect()
}

/// Arguments as the JSON text OpenAI sends and expects back.
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(text) => text.clone(),
        Value::Null => "{}".into(),
        other => other.to_string(),
    }
}

/// The message of an OpenAI error body, if it is one.
pub fn error_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Body {
        error: ErrorBody,
    }
    serde_json::from_slice::<Body>(body)
        .ok()
        .map(|b| b.error.text())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorBody {
    Object {
        #[serde(default)]
        message: String,
        #[serde(default, rename = "type")]
        kind: Option<String>,
    },
    Text(String),
}

impl ErrorBody {
    fn text(self) -> String {
        match self {
            ErrorBody::Object { message, kind } if message.is_empty() => {
                kind.unwrap_or_else(|| "unknown error".into())
            }
            ErrorBody::Object { message, .. } => message,
            ErrorBody::Text(text) => text,
        }
    }
}

/// `GET {base}/models`: the ids of `data[]`.
pub fn model_ids(body: &[u8]) -> Result<Vec<String>, OllamaError> {
    #[derive(Deserialize)]
    struct List {
        data: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        id: String,
    }
    let list: List = serde_json::from_slice(body)
        .map_err(|e| OllamaError::Protocol(format!("the model list: {e}")))?;
    Ok(list.data.into_iter().map(|e| e.id).collect())
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    tool_calls: Vec<CallFragment>,
}

#[derive(Deserialize)]
struct CallFragment {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionFragment>,
}

#[derive(Deserialize)]
struct FunctionFragment {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<i64>,
    #[serde(default)]
    completion_tokens: Option<i64>,
}

/// A tool call being put together from its fragments.
#[derive(Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

/// Reads the event stream of one chat.
#[derive(Default)]
pub struct OpenAiWire {
    sse: SseReader,
    calls: Vec<(u32, PartialCall)>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
}

impl OpenAiWire {
    fn event(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<bool, OllamaError> {
        if data.trim() == "[DONE]" {
            self.finish(out);
            return Ok(true);
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            OllamaError::Protocol(format!("{e} in event {:?}", truncate(data, 200)))
        })?;
        if let Some(error) = chunk.error {
            return Err(OllamaError::Stream(error.text()));
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        for choice in chunk.choices {
            let delta = choice.delta.unwrap_or_default();
            if let Some(thinking) = delta
                .reasoning_content
                .or(delta.reasoning)
                .filter(|t| !t.is_empty())
            {
                out.push_back(ChatEvent::Thinking(thinking));
            }
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                out.push_back(ChatEvent::Delta(text));
            }
            for fragment in delta.tool_calls {
                // Without an index (some servers send each call whole), each fragment that
                // carries an id starts a call.
                let index = fragment.index.unwrap_or_else(|| match &fragment.id {
                    Some(_) => self.calls.len() as u32,
                    None => self.calls.last().map(|(i, _)| *i).unwrap_or(0),
                });
                let position = match self.calls.iter().position(|(i, _)| *i == index) {
                    Some(position) => position,
                    None => {
                        self.calls.push((index, PartialCall::default()));
                        self.calls.len() - 1
                    }
                };
                let call = &mut self.calls[position].1;
                if fragment.id.is_some() {
                    call.id = fragment.id;
                }
                if let Some(function) = fragment.function {
                    if let Some(name) = function.name {
                        call.name.push_str(&name);
                    }
                    if let Some(arguments) = function.arguments {
                        call.arguments.push_str(&arguments);
                    }
                }
            }
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
                self.flush_calls(out);
            }
        }
        Ok(false)
    }

    /// The calls put together so far, as one event.
    fn flush_calls(&mut self, out: &mut VecDeque<ChatEvent>) {
        if self.calls.is_empty() {
            return;
        }
        let calls = std::mem::take(&mut self.calls)
            .into_iter()
            .map(|(index, call)| ToolCall {
                id: call.id,
                function: ToolCallFunction {
                    index: Some(index),
                    name: call.name,
                    // Arguments that are not JSON are passed on as text: the agent tells the
                    // model they are malformed, as it does for any model.
                    arguments: match call.arguments.trim() {
                        "" => json!({}),
                        text => serde_json::from_str(text)
                            .unwrap_or_else(|_| Value::String(text.to_string())),
                    },
                },
            })
            .collect();
        out.push_back(ChatEvent::ToolCalls(calls));
    }

    fn finish(&mut self, out: &mut VecDeque<ChatEvent>) {
        self.flush_calls(out);
        let usage = self.usage.take();
        out.push_back(ChatEvent::Done(DoneInfo {
            done_reason: Some(match self.finish_reason.as_deref() {
                Some("length") => "length".into(),
                _ => "stop".into(),
            }),
            prompt_eval_count: usage.as_ref().and_then(|u| u.prompt_tokens),
            eval_count: usage.as_ref().and_then(|u| u.completion_tokens),
            total_duration: None,
        }));
    }
}

impl WireParser for OpenAiWire {
    fn line(&mut self, line: &str, out: &mut VecDeque<ChatEvent>) -> Result<bool, OllamaError> {
        match self.sse.line(line) {
            Some(event) => self.event(&event.data, out),
            None => Ok(false),
        }
    }

    /// Some servers close the stream without `[DONE]`; an answer that said why it finished
    /// is whole all the same.
    fn ended(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<bool, OllamaError> {
        if let Some(event) = self.sse.finish() {
            if self.event(&event.data, out)? {
                return Ok(true);
            }
        }
        if self.finish_reason.is_some() {
            self.finish(out);
            return Ok(true);
        }
        Ok(false)
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
            super::super::parse_in_pieces(&mut OpenAiWire::default(), body, piece)?;
        assert!(whole, "the stream was not whole");
        Ok(events)
    }

    #[test]
    fn text_reasoning_fragmented_tool_calls_and_usage_come_out_whole() {
        let body = concat!(
            ": OPENROUTER PROCESSING\n\n",
            "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Hmm é\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Café \"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"calculator\",\"arguments\":\"\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"expression\\\":\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"function\":{\"name\":\"current_time\",\"arguments\":\"{}\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"2*21\\\"}\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}\n\n",
            "data: [DONE]\n\n",
        );
        for piece in [1, 3, 17, 10_000] {
            let events = events_of(body, piece).unwrap();
            assert_eq!(events[0], ChatEvent::Thinking("Hmm é".into()));
            assert_eq!(events[1], ChatEvent::Delta("Café ".into()));
            let ChatEvent::ToolCalls(calls) = &events[2] else {
                panic!("{events:?}")
            };
            assert_eq!(calls.len(), 2);
            assert_eq!(calls[0].id.as_deref(), Some("call_a"));
            assert_eq!(calls[0].function.name, "calculator");
            assert_eq!(calls[0].function.arguments, json!({"expression": "2*21"}));
            assert_eq!(calls[1].function.name, "current_time");
            let ChatEvent::Done(done) = &events[3] else {
                panic!("{events:?}")
            };
            assert_eq!(done.prompt_eval_count, Some(11));
            assert_eq!(done.eval_count, Some(7));
            assert_eq!(events.len(), 4);
        }
    }

    #[test]
    fn an_error_event_in_mid_stream_is_an_error() {
        let body = concat!(
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            "data: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}\n\n",
        );
        let error = events_of(body, 5).unwrap_err();
        assert_eq!(error, OllamaError::Stream("The server had an error".into()));
    }

    #[test]
    fn a_stream_cut_before_it_finished_is_not_whole() {
        let mut wire = OpenAiWire::default();
        let mut out = VecDeque::new();
        wire.line(
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}",
            &mut out,
        )
        .unwrap();
        wire.line("", &mut out).unwrap();
        assert!(!wire.ended(&mut out).unwrap());
    }

    #[test]
    fn tool_calls_and_results_go_back_in_openais_shape() {
        let messages = vec![
            ChatMessage::new("system", "Be brief."),
            ChatMessage {
                images: vec!["iVBORw0KGgo=".into()],
                ..ChatMessage::new("user", "what is this?")
            },
            ChatMessage {
                tool_calls: vec![ToolCall {
                    id: None,
                    function: ToolCallFunction {
                        index: None,
                        name: "calculator".into(),
                        arguments: json!({"expression": "2"}),
                    },
                }],
                thinking: Some("not sent".into()),
                ..ChatMessage::new("assistant", "")
            },
            ChatMessage {
                tool_name: Some("calculator".into()),
                ..ChatMessage::new("tool", "2")
            },
        ];
        let request = ChatRequest {
            model: "openai/gpt-4o-mini".into(),
            messages,
            options: crate::model::GenerationOptions {
                temperature: Some(0.5),
                num_predict: Some(100),
                num_ctx: Some(4096),
            },
            tools: vec![super::super::ToolSpec::function(
                "calculator",
                "Adds.",
                json!({"type": "object"}),
            )],
            format: None,
        };
        let body = request_body(&request, "gpt-4o-mini", true);
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["max_completion_tokens"], 100);
        assert!(body.get("num_ctx").is_none());
        assert_eq!(
            body["messages"][1]["content"][1]["image_url"]["url"],
            "data:image/png;base64,iVBORw0KGgo="
        );
        assert_eq!(
            body["messages"][2],
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_2_0",
                "type": "function", "function": {"name": "calculator", "arguments": "{\"expression\":\"2\"}"}}]})
        );
        assert_eq!(
            body["messages"][3],
            json!({"role": "tool", "tool_call_id": "call_2_0", "content": "2"})
        );
        assert_eq!(body["tools"][0]["function"]["name"], "calculator");
        assert_eq!(
            request_body(&request, "m", false)["max_tokens"],
            100,
            "servers that copy the API read max_tokens"
        );
    }
}
