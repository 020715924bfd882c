//! Tools the agent can call. Each has a name, a description, a JSON Schema of its arguments
//! (derived from the struct the arguments are parsed into, so the schema the model sees and the
//! check the server applies cannot disagree) and a timeout; it returns text for the model.
//! Whatever happens inside a tool (bad arguments, an error, a timeout, a panic) becomes an error
//! result the model reads; it never ends the run.

pub mod calculator;
pub mod clock;
pub mod csv_chart;
pub mod csv_stats;
pub mod documents;
pub mod query;
pub mod support;
pub mod weather;
pub mod webdev;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::{collections::BTreeMap, sync::Arc, time::Duration};
use uuid::Uuid;

pub use crate::model::TOOLSETS;

/// The tools of a toolset.
pub fn toolset(name: &str) -> Option<&'static [&'static str]> {
    TOOLSETS
        .iter()
        .find(|(set, _)| set.eq_ignore_ascii_case(name.trim()))
        .map(|(_, tools)| *tools)
}

/// Why a tool call gave no result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    #[error("there is no tool named '{0}'")]
    Unknown(String),
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    #[error("{0}")]
    Failed(String),
    #[error("the tool did not finish within {} ms", .0.as_millis())]
    TimedOut(Duration),
}

/// Who is calling, for tools that read a person's data.
#[derive(Debug, Clone)]
pub struct ToolContext {
    pub owner_id: Uuid,
    /// The conversation of the agent run (none for a direct call).
    pub conversation_id: Option<Uuid>,
}

#[async_trait::async_trait]
pub trait Tool: Send + Sync {
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// JSON Schema of the arguments object.
    fn parameters(&self) -> Value;
    fn timeout(&self) -> Duration {
        Duration::from_secs(10)
    }
    async fn call(&self, context: &ToolContext, arguments: Value) -> Result<String, ToolError>;
    /// The call with what it shows the person besides its text (charts). Tools that only
    /// answer in text keep this default.
    async fn reply(&self, context: &ToolContext, arguments: Value) -> Result<ToolReply, ToolError> {
        self.call(context, arguments).await.map(ToolReply::from)
    }
}

/// What a call returns: text for the model, and charts the page draws for the person.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolReply {
    pub text: String,
    pub charts: Vec<crate::model::Chart>,
}

impl From<String> for ToolReply {
    fn from(text: String) -> ToolReply {
        ToolReply {
            text,
            charts: Vec::new(),
        }
    }
}

/// The JSON Schema of `T` as Ollama's `tools[].function.parameters` expects it.
pub fn schema_of<T: JsonSchema>() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null);
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    schema
}

/// Parses a call's arguments into the tool's own type; anything else is an error for the model.
pub fn parse_arguments<T: DeserializeOwned>(arguments: Value) -> Result<T, ToolError> {
    // Some models send the arguments as a JSON string instead of an object.
    let arguments = match arguments {
        Value::String(text) => serde_json::from_str(&text)
            .map_err(|e| ToolError::InvalidArguments(format!("not a JSON object: {e}")))?,
        Value::Null => Value::Object(Default::default()),
        other => other,
    };
    serde_json::from_value(arguments).map_err(|e| ToolError::InvalidArguments(e.to_string()))
}

/// Runs blocking work (an evaluator, a parser) off the async threads, within `timeout`, with a
/// panic turned into an error.
pub async fn run_blocking<T, F>(timeout: Duration, work: F) -> Result<T, ToolError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ToolError> + Send + 'static,
{
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(ToolError::Failed("the tool failed unexpectedly".into())),
        Err(_) => Err(ToolError::TimedOut(timeout)),
    }
}

/// What a call produced, as stored and shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    pub result: Result<ToolReply, ToolError>,
    pub duration: Duration,
}

/// A tool's public description (for `GET /api/v1/tools` and for Ollama's `tools`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ToolInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: Value,
}

/// Every tool the server offers, by name.
#[derive(Clone, Default)]
pub struct Toolbox {
    tools: BTreeMap<&'static str, Arc<dyn Tool>>,
}

impl Toolbox {
    /// The tools that need nothing but themselves: calculator and current time.
    pub fn basic() -> Toolbox {
        let mut toolbox = Toolbox::default();
        toolbox.add(Arc::new(calculator::Calculator));
        toolbox.add(Arc::new(clock::CurrentTime));
        toolbox
    }

    /// Every built-in tool, set up for this server's settings and database.
    pub async fn for_server(
        settings: &crate::config::ToolSettings,
        store: &crate::db::SharedStore,
        documents: &Arc<crate::documents::Documents>,
        outbound: &crate::net::OutboundPolicy,
    ) -> Toolbox {
        let mut toolbox = Toolbox::basic();
        toolbox.add(Arc::new(documents::SearchDocuments::new(documents.clone())));
        toolbox.add(Arc::new(weather::Weather::new(settings, outbound)));
        toolbox.add(Arc::new(csv_stats::CsvSummary::new(store.clone())));
        toolbox.add(Arc::new(csv_chart::CsvChart::new(store.clone())));
        toolbox.add(Arc::new(webdev::FormatCode));
        toolbox.add(Arc::new(support::SearchNotes::new(
            store.clone(),
            documents.clone(),
        )));
        toolbox.add(Arc::new(support::SaveNote::new(store.clone())));
        toolbox.add(Arc::new(support::CreateTicket::new(store.clone())));
        toolbox.add(Arc::new(support::LookupTicket::new(store.clone())));
        toolbox.add(Arc::new(support::Escalate::new(store.clone())));
        toolbox.add(Arc::new(webdev::PackageInfo::new(settings)));
        if let Some(query) = query::QueryDatabase::connect(settings, store).await {
            toolbox.add(Arc::new(query));
        }
        toolbox
    }

    /// Adds `other`'s tools, replacing tools of the same name.
    pub fn extend(&mut self, other: Toolbox) {
        self.tools.extend(other.tools);
    }

    pub fn add(&mut self, tool: Arc<dyn Tool>) {
        self.tools.insert(tool.name(), tool);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    pub fn infos(&self) -> Vec<ToolInfo> {
        self.tools
            .values()
            .map(|tool| ToolInfo {
                name: tool.name(),
                description: tool.description(),
                parameters: tool.parameters(),
            })
            .collect()
    }

    /// Runs one call with the tool's timeout. A panic inside the tool is an error result.
    pub async fn invoke(&self, context: &ToolContext, name: &str, arguments: Value) -> ToolOutcome {
        let started = std::time::Instant::now();
        let result = match self.tools.get(name) {
            None => Err(ToolError::Unknown(name.to_string())),
            Some(tool) => {
                let tool = tool.clone();
                let timeout = tool.timeout();
                let context = context.clone();
                // A task of its own: a panic stays inside it, and dropping the handle (a stop
                // during the call, or the timeout) aborts the tool.
                let task = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
                    tool.reply(&context, arguments).await
                }));
                match tokio::time::timeout(timeout, task).await {
                    Ok(Ok(result)) => result,
                    Ok(Err(_)) => Err(ToolError::Failed("the tool failed unexpectedly".into())),
                    Err(_) => Err(ToolError::TimedOut(timeout)),
                }
            }
        };
        ToolOutcome {
            result,
            duration: started.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Panics a few calls deep, with a value to drop on the way out: a bug in one tool.
    struct Panicking;

    #[inline(never)]
    fn deep(depth: u32) -> u32 {
        if depth == 0 {
            panic!("a bug in a tool");
        }
        std::hint::black_box(deep(std::hint::black_box(depth - 1))) + 1
    }

    #[async_trait::async_trait]
    impl Tool for Panicking {
        fn name(&self) -> &'static str {
            "panicking"
        }
        fn description(&self) -> &'static str {
            "panics"
        }
        fn parameters(&self) -> Value {
            serde_json::json!({"type": "object"})
        }
        async fn call(&self, _: &ToolContext, _: Value) -> Result<String, ToolError> {
            let held = String::from("dropped while unwinding");
            Ok(format!("{held} {}", deep(std::hint::black_box(4))))
        }
    }

    #[tokio::test]
    async fn a_panicking_tool_is_an_error_result_and_the_next_call_runs() {
        let mut tools = Toolbox::basic();
        tools.add(Arc::new(Panicking));
        let context = ToolContext {
            owner_id: Uuid::nil(),
            conversation_id: None,
        };
        let outcome = tools
            .invoke(&context, "panicking", serde_json::json!({}))
            .await;
        assert!(
            matches!(&outcome.result, Err(ToolError::Failed(message)) if message.contains("unexpectedly")),
            "{:?}",
            outcome.result.map(|reply| reply.text)
        );
        let outcome = tools
            .invoke(
                &context,
                "calculator",
                serde_json::json!({"expression": "6*7"}),
            )
            .await;
        assert_eq!(
            outcome.result.map(|reply| reply.text).ok(),
            Some("42".into())
        );
    }
}
