//! The tools the page offers for agent runs.

use super::codec::JsonText;
use crate::error::AppError;
use crate::model::ToolSummary;
use leptos::prelude::*;

/// The tools an answer may call.
#[server(endpoint = "list_tools", output = JsonText)]
pub async fn list_tools() -> Result<Vec<ToolSummary>, AppError> {
    let state = super::app_state()?;
    Ok(state
        .tools
        .infos()
        .into_iter()
        .map(|tool| ToolSummary {
            name: tool.name.to_string(),
            description: tool.description.to_string(),
        })
        .collect())
}
