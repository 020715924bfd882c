//! The customer support toolset: a knowledge base of the person's notes (save, search), a
//! ticket store (create, look up) and escalation, which flags an item for an administrator
//! (an `escalation.created` outbox event, for the notifications and webhooks to come).
//! Everything is the asking person's own.

use super::{parse_arguments, schema_of, Tool, ToolContext, ToolError};
use crate::db::{SharedStore, Ticket};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

const MAX_TITLE_CHARS: usize = 200;
const MAX_BODY_CHARS: usize = 20_000;
/// How many recent notes a search ranks (a keyword search over one person's notes; the
/// documents feature brings full-text and vector search).
const SEARCHED_NOTES: i64 = 2_000;

fn store_error(_: sqlx::Error) -> ToolError {
    ToolError::Failed("the support data cannot be reached now; try again".into())
}

fn bounded(text: &str, what: &str, max: usize) -> Result<String, ToolError> {
    let text = crate::text::clean_input(text).trim().to_string();
    if text.is_empty() {
        return Err(ToolError::InvalidArguments(format!("the {what} is empty")));
    }
    if text.chars().count() > max {
        return Err(ToolError::InvalidArguments(format!(
            "the {what} is longer than {max} characters"
        )));
    }
    Ok(text)
}

fn describe_ticket(ticket: &Ticket) -> String {
    let mut out = format!(
        "Ticket #{}: {} [{} priority, {}]",
        ticket.number, ticket.subject, ticket.priority, ticket.status
    );
    if let Some(customer) = &ticket.customer {
        out.push_str(&format!("\nCustomer: {customer}"));
    }
    out.push_str(&format!(
        "\nOpened: {}\n{}",
        ticket.created_at.format("%Y-%m-%d %H:%M UTC"),
        ticket.description
    ));
    out
}

/// `search_notes`: the knowledge base is the person's notes and their uploaded documents.
pub struct SearchNotes {
    store: SharedStore,
    documents: std::sync::Arc<crate::documents::Documents>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchArguments {
    /// Words to look for in the notes' titles and text.
    query: String,
    /// How many notes to return (1 to 10, default 3).
    #[serde(default)]
    limit: Option<u8>,
}

impl SearchNotes {
    pub fn new(
        store: SharedStore,
        documents: std::sync::Arc<crate::documents::Documents>,
    ) -> SearchNotes {
        SearchNotes { store, documents }
    }
}

/// Ranks notes by how many of the query's words they contain (a title hit counts double).
pub fn rank_notes<'a>(
    notes: &'a [crate::db::Note],
    query: &str,
    limit: usize,
) -> Vec<&'a crate::db::Note> {
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect();
    let mut scored: Vec<(usize, &crate::db::Note)> = notes
        .iter()
        .map(|note| {
            let title = note.title.to_lowercase();
            let body = note.body.to_lowercase();
            let score = words
                .iter()
                .map(|w| 2 * title.matches(w.as_str()).count() + body.matches(w.as_str()).count())
                .sum();
            (score, note)
        })
        .filter(|(score, _)| *score > 0)
        .collect();
    // Best first; among equals, the most recently changed (the order they came in).
    scored.sort_by_key(|scored| std::cmp::Reverse(scored.0));
    scored.into_iter().take(limit).map(|(_, n)| n).collect()
}

#[async_trait::async_trait]
impl Tool for SearchNotes {
    fn name(&self) -> &'static str {
        "search_notes"
    }
    fn description(&self) -> &'static str {
        "Searches the knowledge base (the person's saved notes, and the documents they uploaded) and returns the best matching notes with their text, then the best document passages with their file and page."
    }
    fn parameters(&self) -> Value {
        schema_of::<SearchArguments>()
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
    async fn call(&self, context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let arguments: SearchArguments = parse_arguments(arguments)?;
        let query = bounded(&arguments.query, "query", 500)?;
        let limit = usize::from(arguments.limit.unwrap_or(3).clamp(1, 10));
        let notes = self
            .store
            .recent_notes(context.owner_id, SEARCHED_NOTES)
            .await
            .map_err(store_error)?;
        let found = rank_notes(&notes, &query, limit);
        // The documents are searched too; a failure there leaves the notes' answer.
        let passages = super::documents::search_passages(&self.documents, context, &query, limit)
            .await
            .unwrap_or_default();
        if found.is_empty() && passages.is_empty() {
            return Ok(format!(
                "Nothing in the notes or the documents matches '{query}'."
            ));
        }
        let mut out = found
            .iter()
            .map(|note| {
                let body: String = note.body.chars().take(2_000).collect();
                format!("## {}\n{body}", note.title)
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        if !passages.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str("From the documents:\n\n");
            out.push_str(&super::documents::describe_hits(&passages));
        }
        Ok(out)
    }
}

/// `save_note`
pub struct SaveNote {
    store: SharedStore,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoteArguments {
    /// A short title.
    title: String,
    /// The note's text.
    body: String,
}

impl SaveNote {
    pub fn new(store: SharedStore) -> SaveNote {
        SaveNote { store }
    }
}

#[async_trait::async_trait]
impl Tool for SaveNote {
    fn name(&self) -> &'static str {
        "save_note"
    }
    fn description(&self) -> &'static str {
        "Saves a note (a title and text) to the knowledge base, for later searches."
    }
    fn parameters(&self) -> Value {
        schema_of::<NoteArguments>()
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
    async fn call(&self, context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let arguments: NoteArguments = parse_arguments(arguments)?;
        let title = bounded(&arguments.title, "title", MAX_TITLE_CHARS)?;
        let body = bounded(&arguments.body, "text", MAX_BODY_CHARS)?;
        let note = self
            .store
            .insert_note(context.owner_id, &title, &body)
            .await
            .map_err(store_error)?;
        Ok(format!("Saved the note '{}'.", note.title))
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// `create_ticket`
pub struct CreateTicket {
    store: SharedStore,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TicketArguments {
    /// One line saying what the problem is.
    subject: String,
    /// What happened, what was tried, what is expected.
    description: String,
    /// Who reported it (a name or e-mail), if known.
    #[serde(default)]
    customer: Option<String>,
    /// low, normal (default), high or urgent.
    #[serde(default)]
    priority: Priority,
}

impl CreateTicket {
    pub fn new(store: SharedStore) -> CreateTicket {
        CreateTicket { store }
    }
}

#[async_trait::async_trait]
impl Tool for CreateTicket {
    fn name(&self) -> &'static str {
        "create_ticket"
    }
    fn description(&self) -> &'static str {
        "Opens a support ticket (subject, description, optional customer and priority) and returns its number."
    }
    fn parameters(&self) -> Value {
        schema_of::<TicketArguments>()
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
    async fn call(&self, context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let arguments: TicketArguments = parse_arguments(arguments)?;
        let subject = bounded(&arguments.subject, "subject", MAX_TITLE_CHARS)?;
        let description = bounded(&arguments.description, "description", MAX_BODY_CHARS)?;
        let customer = match arguments.customer.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => Some(bounded(c, "customer", MAX_TITLE_CHARS)?),
            _ => None,
        };
        let ticket = self
            .store
            .create_ticket(
                context.owner_id,
                &subject,
                &description,
                customer.as_deref(),
                arguments.priority.as_str(),
            )
            .await
            .map_err(store_error)?;
        Ok(format!("Opened {}", describe_ticket(&ticket)))
    }
}

/// `lookup_ticket`
pub struct LookupTicket {
    store: SharedStore,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LookupArguments {
    /// The ticket's number.
    #[serde(default)]
    number: Option<i64>,
    /// Or words to find tickets by subject, description or customer.
    #[serde(default)]
    query: Option<String>,
}

impl LookupTicket {
    pub fn new(store: SharedStore) -> LookupTicket {
        LookupTicket { store }
    }
}

#[async_trait::async_trait]
impl Tool for LookupTicket {
    fn name(&self) -> &'static str {
        "lookup_ticket"
    }
    fn description(&self) -> &'static str {
        "Finds support tickets: by number, or by words in their subject, description or customer."
    }
    fn parameters(&self) -> Value {
        schema_of::<LookupArguments>()
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
    async fn call(&self, context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let arguments: LookupArguments = parse_arguments(arguments)?;
        match (arguments.number, arguments.query.as_deref().map(str::trim)) {
            (Some(number), _) => match self
                .store
                .get_ticket(context.owner_id, number)
                .await
                .map_err(store_error)?
            {
                Some(ticket) => Ok(describe_ticket(&ticket)),
                None => Err(ToolError::Failed(format!("there is no ticket #{number}"))),
            },
            (None, Some(query)) if !query.is_empty() => {
                let query = bounded(query, "query", 200)?;
                let tickets = self
                    .store
                    .find_tickets(context.owner_id, &query, 5)
                    .await
                    .map_err(store_error)?;
                if tickets.is_empty() {
                    return Ok(format!("No ticket mentions '{query}'."));
                }
                Ok(tickets
                    .iter()
                    .map(describe_ticket)
                    .collect::<Vec<_>>()
                    .join("\n\n"))
            }
            _ => Err(ToolError::InvalidArguments(
                "give a ticket `number` or a `query`".into(),
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Severity {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// `escalate`
pub struct Escalate {
    store: SharedStore,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EscalateArguments {
    /// Why a person must look at it.
    reason: String,
    /// The ticket concerned, if any.
    #[serde(default)]
    ticket_number: Option<i64>,
    /// low, medium (default), high or critical.
    #[serde(default)]
    severity: Severity,
}

impl Escalate {
    pub fn new(store: SharedStore) -> Escalate {
        Escalate { store }
    }
}

#[async_trait::async_trait]
impl Tool for Escalate {
    fn name(&self) -> &'static str {
        "escalate"
    }
    fn description(&self) -> &'static str {
        "Flags an issue for a human administrator (with a reason, a severity and optionally a ticket, which becomes escalated). Use it when you cannot solve the problem or the customer asks for a person."
    }
    fn parameters(&self) -> Value {
        schema_of::<EscalateArguments>()
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
    async fn call(&self, context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let arguments: EscalateArguments = parse_arguments(arguments)?;
        let reason = bounded(&arguments.reason, "reason", 2_000)?;
        let severity = arguments.severity.as_str();
        match self
            .store
            .escalate(context.owner_id, arguments.ticket_number, &reason, severity)
            .await
            .map_err(store_error)?
        {
            None => Err(ToolError::Failed(format!(
                "there is no ticket #{}",
                arguments.ticket_number.unwrap_or_default()
            ))),
            Some((_, Some(ticket))) => Ok(format!(
                "Escalated ticket #{} ({severity} severity): an administrator will look at it.",
                ticket.number
            )),
            Some((_, None)) => Ok(format!(
                "Escalated ({severity} severity): an administrator will look at it."
            )),
        }
    }
}
