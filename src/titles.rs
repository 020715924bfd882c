//! Conversations named by their model. A new conversation is called after its first message;
//! once its first answer is complete (an outbox `generation.finished` event), a background
//! task on each instance asks the same model (or the owner's `ai.title_model`) for a short
//! title, as Open WebUI and LibreChat do, and stores it unless a person renamed the conversation meanwhile. One instance names a
//! conversation (it takes it first: `message` → `titling`); a model that fails, says nothing
//! usable or takes longer than `generation.title_timeout_ms` leaves the first message's text,
//! for good. People switch it off with `ai.auto_titles`.
//!
//! The answers themselves never wait for this: it runs after them, from the outbox.

use crate::db::titles::{TitleCandidate, TitleSeed};
use crate::db::SharedStore;
use crate::llm::{ChatEvent, ChatMessage, ChatRequest, OllamaClient, OllamaError};
use crate::model::GenerationOptions;
use crate::service::preferences::RuntimeSettings;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// How far back finished answers are looked for: an instance that was down or busy longer
/// does not name those conversations now (their next answer does).
const LOOK_BACK: chrono::TimeDelta = chrono::TimeDelta::minutes(2);
/// Conversations taken at once, and named at once (each is one model call).
const BATCH: i64 = 32;
const AT_ONCE: usize = 4;
/// The least time between two looks woken by new outbox events.
const WOKEN_GAP: Duration = Duration::from_millis(50);
/// What of the first message and answer the model is shown: enough to know the subject.
const SEED_CHARS: usize = 1_500;
/// Longest title kept, in characters (a sidebar shows about 30).
pub const MAX_TITLE_CHARS: usize = 60;

const INSTRUCTION: &str = "You name conversations. Reply with a title of three to six words \
    that says what the conversation below is about, in the language the person wrote in. \
    Reply with the title alone: no quotes, no full stop, no explanation.";

/// Starts the task that names conversations, until shutdown.
pub fn spawn_titler(
    store: SharedStore,
    ollama: OllamaClient,
    runtime: Arc<RuntimeSettings>,
    settings: &crate::config::GenerationSettings,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let timeout = Duration::from_millis(settings.title_timeout_ms.max(1));
    let pause = Duration::from_millis(settings.title_poll_ms.max(50));
    // At once when an answer ends (its outbox event is announced), and every `pause` all the
    // same (a lost announcement, a conversation left half-asked).
    let woken = store.outbox_signal().subscribe();
    crate::periodic::every_or_woken(pause, WOKEN_GAP, woken, shutdown, move || {
        let (store, ollama, runtime) = (store.clone(), ollama.clone(), runtime.clone());
        async move {
            if let Err(error) = name_waiting(&store, &ollama, &runtime, timeout).await {
                tracing::warn!(%error, "titles: reading finished answers failed; trying again");
            }
            std::ops::ControlFlow::Continue(())
        }
    });
}

/// Names the conversations whose first complete answer finished lately; how many were named.
pub async fn name_waiting(
    store: &SharedStore,
    ollama: &OllamaClient,
    runtime: &RuntimeSettings,
    timeout: Duration,
) -> Result<usize, sqlx::Error> {
    let now = crate::db::now();
    let stale = stale_before(now, timeout);
    let candidates = store
        .untitled_conversations(now - LOOK_BACK, stale, BATCH)
        .await?;
    let named = futures::stream::iter(candidates)
        .map(|candidate| name_one(store, ollama, runtime, candidate, stale, timeout))
        .buffer_unordered(AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    let mut count = 0;
    for result in named {
        count += usize::from(result?);
    }
    Ok(count)
}

async fn name_one(
    store: &SharedStore,
    ollama: &OllamaClient,
    runtime: &RuntimeSettings,
    candidate: TitleCandidate,
    stale: chrono::DateTime<chrono::Utc>,
    timeout: Duration,
) -> Result<bool, sqlx::Error> {
    let TitleCandidate {
        conversation_id,
        owner_id,
        model,
    } = candidate;
    // Left as it is while the owner has it off: their next answer asks again.
    let model = match runtime.for_person(owner_id).await {
        Ok(preferences) if preferences.ai.auto_titles => {
            title_model(ollama, &model, preferences.ai.title_model)
        }
        Ok(_) => return Ok(false),
        Err(error) => {
            tracing::warn!(%error, "titles: the owner's settings could not be read");
            return Ok(false);
        }
    };
    let Some(seed) = store
        .take_for_title(owner_id, conversation_id, stale)
        .await?
    else {
        return Ok(false);
    };
    let title = match tokio::time::timeout(timeout, ask_title(ollama, &model, &seed)).await {
        Ok(Ok(reply)) => {
            let title = clean_title(&reply);
            if title.is_none() {
                tracing::info!(%conversation_id, "titles: the model gave no usable title");
            }
            title
        }
        Ok(Err(error)) => {
            tracing::info!(%conversation_id, %error, "titles: the model could not name it");
            None
        }
        Err(_) => {
            tracing::info!(%conversation_id, ?timeout, "titles: the model took too long");
            None
        }
    };
    store
        .finish_title(owner_id, conversation_id, title.as_deref())
        .await
        .map(|changed| changed && title.is_some())
}

/// The model that names a conversation answered by `answered_by`: `chosen` (`ai.title_model`)
/// unless it would carry a conversation with a local model to a remote provider; a person who
/// chats with Ollama keeps their words on their servers.
fn title_model(ollama: &OllamaClient, answered_by: &str, chosen: Option<String>) -> String {
    match chosen {
        Some(chosen)
            if ollama.provider_for(&chosen).is_none()
                || ollama.provider_for(answered_by).is_some() =>
        {
            chosen
        }
        _ => answered_by.to_string(),
    }
}

/// A conversation taken for naming before this was taken by an instance that died asking
/// (a live one gives up after `timeout`).
fn stale_before(
    now: chrono::DateTime<chrono::Utc>,
    timeout: Duration,
) -> chrono::DateTime<chrono::Utc> {
    now - chrono::TimeDelta::from_std(timeout * 2).unwrap_or(chrono::TimeDelta::hours(1))
        - chrono::TimeDelta::seconds(10)
}

/// The model's reply to the naming request.
async fn ask_title(
    ollama: &OllamaClient,
    model: &str,
    seed: &TitleSeed,
) -> Result<String, OllamaError> {
    let mut stream = ollama.chat_stream(&title_request(model, seed)).await?;
    let mut reply = String::new();
    while let Some(event) = stream.next().await? {
        match event {
            ChatEvent::Delta(text) => reply.push_str(&text),
            ChatEvent::Done(_) => break,
            ChatEvent::Thinking(_) | ChatEvent::ToolCalls(_) => {}
        }
        // A model that rambles has not given a title; enough has been read to find one.
        if reply.len() > 4 * SEED_CHARS {
            break;
        }
    }
    Ok(reply)
}

/// The request that asks `model` for a title.
pub fn title_request(model: &str, seed: &TitleSeed) -> ChatRequest {
    let mut transcript = format!("Person: {}", start_of(&seed.question));
    if !seed.answer.trim().is_empty() {
        transcript.push_str(&format!("\n\nAssistant: {}", start_of(&seed.answer)));
    }
    ChatRequest {
        model: model.to_string(),
        messages: vec![
            ChatMessage::new("system", INSTRUCTION),
            ChatMessage::new("user", transcript),
        ],
        options: GenerationOptions {
            temperature: Some(0.2),
            // Room for a thinking model's thoughts before its few words.
            num_predict: Some(400),
            num_ctx: None,
        },
        tools: Vec::new(),
        format: None,
    }
}

fn start_of(text: &str) -> &str {
    let text = text.trim();
    match text.char_indices().nth(SEED_CHARS) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// A title from what a model replied, as models reply: thoughts in `<think>` tags, a
/// `Title:` label, quotes, markdown, a full stop, a second line of explanation. `None` when
/// nothing usable is left.
pub fn clean_title(reply: &str) -> Option<String> {
    // Thoughts sent inside the text (models and servers that do not separate them).
    let mut text = reply.to_string();
    while let Some(start) = text.find("<think>") {
        match text[start..].find("</think>") {
            Some(end) => text.replace_range(start..start + end + "</think>".len(), ""),
            // Thinking that never ended: no title came after it.
            None => text.truncate(start),
        }
    }
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut line = line.to_string();
    // Labels and markdown around the title.
    for label in ["title:", "**title:**", "title -", "# "] {
        if line
            .get(..label.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(label))
        {
            line = line[label.len()..].trim().to_string();
        }
    }
    let wrappers: &[char] = &[
        '"', '\'', '“', '”', '‘', '’', '«', '»', '*', '_', '`', '#', ' ',
    ];
    let line = line.trim_matches(wrappers);
    let line = line.trim_end_matches(['.', '。', ':', ';', ',']).trim();
    // One line of plain words: control characters and runs of spaces go.
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let line = words.join(" ");
    if line.is_empty() {
        return None;
    }
    if line.chars().count() <= MAX_TITLE_CHARS {
        return Some(line);
    }
    // Cut at a word boundary before the limit, with an ellipsis.
    let cut: String = line.chars().take(MAX_TITLE_CHARS - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(at) if at > MAX_TITLE_CHARS / 2 => cut[..at].to_string(),
        _ => cut,
    };
    Some(format!("{}…", cut.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_title_stays_as_it_is() {
        assert_eq!(
            clean_title("Planning a trip to Lisbon").as_deref(),
            Some("Planning a trip to Lisbon")
        );
        assert_eq!(
            clean_title("Café au lait et 日本語").as_deref(),
            Some("Café au lait et 日本語")
        );
    }

    #[test]
    fn what_models_put_around_a_title_goes() {
        for reply in [
            "\"Planning a trip to Lisbon\"",
            "Title: Planning a trip to Lisbon",
            "**Title:** Planning a trip to Lisbon.",
            "# Planning a trip to Lisbon",
            "“Planning a trip to Lisbon”\n\nThis title captures the question about travel.",
            "<think>The person asks about Lisbon.\nA short title.</think>\n\nPlanning a trip to Lisbon",
            "  *Planning   a trip\tto Lisbon*  ",
        ] {
            assert_eq!(
                clean_title(reply).as_deref(),
                Some("Planning a trip to Lisbon"),
                "{reply:?}"
            );
        }
    }

    #[test]
    fn nothing_usable_is_no_title() {
        for reply in [
            "",
            "   \n\n  ",
            "\"\"",
            "<think>still thinking when the tokens ran out",
            "<think>done</think>",
            "...",
        ] {
            assert_eq!(clean_title(reply), None, "{reply:?}");
        }
    }

    #[test]
    fn a_long_title_is_cut_at_a_word_with_an_ellipsis() {
        let long =
            "A very long title that goes on and on about the many things discussed here today";
        let title = clean_title(long).unwrap();
        assert!(title.chars().count() <= MAX_TITLE_CHARS, "{title}");
        assert!(title.ends_with('…'), "{title}");
        assert!(long.starts_with(title.trim_end_matches('…')), "{title}");
        // Whole words only.
        assert!(!title.trim_end_matches('…').ends_with(' '), "{title}");
        let unbroken = "x".repeat(200);
        assert_eq!(
            clean_title(&unbroken).unwrap().chars().count(),
            MAX_TITLE_CHARS
        );
    }

    #[test]
    fn control_characters_never_reach_a_title() {
        assert_eq!(
            clean_title("Esc\u{1b}[31mape\u{7} and nul\0").as_deref(),
            Some("Esc [31mape and nul")
        );
    }

    #[test]
    fn the_model_sees_the_start_of_the_question_and_answer() {
        let seed = TitleSeed {
            question: format!("  {}", "é".repeat(3_000)),
            answer: "Lisbon is lovely in May.".into(),
        };
        let request = title_request("llama3.2", &seed);
        assert_eq!(request.model, "llama3.2");
        assert!(request.tools.is_empty());
        assert_eq!(request.messages[0].role, "system");
        let shown = &request.messages[1].content;
        assert!(shown.starts_with(&format!("Person: {}", "é".repeat(SEED_CHARS))));
        assert!(!shown.contains(&"é".repeat(SEED_CHARS + 1)));
        assert!(shown.ends_with("\n\nAssistant: Lisbon is lovely in May."));
        let no_answer = title_request(
            "m",
            &TitleSeed {
                question: "Hi".into(),
                answer: String::new(),
            },
        );
        assert_eq!(no_answer.messages[1].content, "Person: Hi");
    }
}
