//! `search_documents`: the agent searches the person's uploaded documents (hybrid keyword and
//! vector search) and reads the best passages with where they come from.

use super::{parse_arguments, schema_of, Tool, ToolContext, ToolError};
use crate::documents::Documents;
use crate::model::SearchHit;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::{sync::Arc, time::Duration};

/// Characters of one passage the model reads.
const MAX_PASSAGE_CHARS: usize = 1_500;

pub struct SearchDocuments {
    documents: Arc<Documents>,
}

impl SearchDocuments {
    pub fn new(documents: Arc<Documents>) -> SearchDocuments {
        SearchDocuments { documents }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Arguments {
    /// What to look for, in words or as a question.
    query: String,
    /// How many passages to return (1 to 10, default 4).
    #[serde(default)]
    limit: Option<u8>,
}

/// The passages as the model reads them: numbered, with file and page or section.
pub fn describe_hits(hits: &[SearchHit]) -> String {
    hits.iter()
        .enumerate()
        .map(|(i, hit)| {
            format!(
                "[{}] {}\n{}",
                i + 1,
                hit.place(),
                crate::text::clip(hit.text.trim(), MAX_PASSAGE_CHARS)
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The best passages of the person's documents for `query`, for tools.
pub async fn search_passages(
    documents: &Documents,
    context: &ToolContext,
    query: &str,
    limit: usize,
) -> Result<Vec<SearchHit>, ToolError> {
    documents
        .search(context.owner_id, query, None, limit)
        .await
        .map(|results| results.hits)
        .map_err(|error| match error {
            crate::error::AppError::InvalidInput(message) => ToolError::InvalidArguments(message),
            _ => ToolError::Failed("the documents cannot be searched now; try again".into()),
        })
}

#[async_trait::async_trait]
impl Tool for SearchDocuments {
    fn name(&self) -> &'static str {
        "search_documents"
    }

    fn description(&self) -> &'static str {
        "Searches the person's uploaded documents (PDF, Word, markdown, text, CSV) by meaning and by words, and returns the best passages, numbered, with their file and page or section. Cite them by file and page when you use them."
    }

    fn parameters(&self) -> Value {
        schema_of::<Arguments>()
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(20)
    }

    async fn call(&self, context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let arguments: Arguments = parse_arguments(arguments)?;
        let limit = usize::from(arguments.limit.unwrap_or(4).clamp(1, 10));
        let hits = search_passages(&self.documents, context, &arguments.query, limit).await?;
        if hits.is_empty() {
            return Ok(format!(
                "No passage of the person's documents matches '{}'.",
                arguments.query.trim()
            ));
        }
        Ok(describe_hits(&hits))
    }
}
