//! Hybrid search over a person's chunks: a keyword ranking (FTS5 BM25 on SQLite, tsvector on
//! PostgreSQL) and a vector ranking (cosine of Ollama embeddings, computed here: the vectors
//! are L2-normalised, so a dot product is the cosine), fused by reciprocal rank. When the
//! embedding model cannot answer, the keyword ranking alone is returned, with a note.

use crate::config::DocumentSettings;
use crate::db::{decode_vector, Scope, SharedStore};
use crate::error::{AppError, AppResult};
use crate::llm::{OllamaClient, OllamaError};
use crate::model::{SearchHit, SearchResults};
use std::collections::HashMap;
use uuid::Uuid;

/// Candidates each ranking contributes to the fusion.
const CANDIDATES: usize = 50;
/// Reciprocal-rank fusion's constant (the value of the original paper).
const RRF_K: f64 = 60.0;
/// Characters of a snippet.
const SNIPPET_CHARS: usize = 240;
const MAX_QUERY_CHARS: usize = 500;
const MAX_WORDS: usize = 32;

/// The words of a query, lowercased, for the keyword ranking and the highlights.
pub fn query_words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
    {
        let word: String = word.to_lowercase().chars().take(64).collect();
        if !words.contains(&word) {
            words.push(word);
        }
        if words.len() == MAX_WORDS {
            break;
        }
    }
    words
}

pub async fn hybrid(
    store: &SharedStore,
    ollama: &OllamaClient,
    settings: &DocumentSettings,
    owner: Uuid,
    query: &str,
    scope: Scope,
    limit: usize,
) -> AppResult<SearchResults> {
    let query = crate::text::clean_input(query).trim().to_string();
    if query.is_empty() {
        return Err(AppError::InvalidInput("the search is empty".into()));
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::InvalidInput(format!(
            "a search has at most {MAX_QUERY_CHARS} characters"
        )));
    }
    if !(1..=50).contains(&limit) {
        return Err(AppError::InvalidInput(
            "limit must be between 1 and 50".into(),
        ));
    }
    let words = query_words(&query);
    let keyword = store
        .keyword_search(owner, &words, scope, CANDIDATES as i64)
        .await?;
    let (vector, note) = match vector_search(store, ollama, settings, owner, &query, scope).await {
        Ok(ranking) => (ranking, None),
        Err(note) => (Vec::new(), Some(note)),
    };
    let mode = if note.is_none() { "hybrid" } else { "keyword" }.to_string();
    let fused = fuse(&keyword, &vector);
    let chosen: Vec<Uuid> = fused.iter().take(limit).map(|(id, _)| *id).collect();
    let mut chunks: HashMap<Uuid, _> = store
        .chunks_by_ids(owner, &chosen)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let rank_of =
        |ranking: &[Uuid], id: Uuid| ranking.iter().position(|r| *r == id).map(|p| p as u32 + 1);
    let hits = fused
        .into_iter()
        .take(limit)
        .filter_map(|(id, score)| {
            let chunk = chunks.remove(&id)?;
            let (snippet, highlights) = snippet(&chunk.text, &words);
            Some(SearchHit {
                chunk_id: chunk.id,
                file_id: chunk.file_id,
                file_name: chunk.file_name,
                ordinal: chunk.ordinal,
                page: chunk.page,
                section: chunk.section,
                text: chunk.text,
                snippet,
                highlights,
                score,
                keyword_rank: rank_of(&keyword, id),
                vector_rank: rank_of(&vector, id),
            })
        })
        .collect();
    Ok(SearchResults {
        query,
        mode,
        note,
        hits,
    })
}

/// Chunk ids by cosine similarity to the query, best first; `Err` says why there is none.
pub async fn vector_search(
    store: &SharedStore,
    ollama: &OllamaClient,
    settings: &DocumentSettings,
    owner: Uuid,
    query: &str,
    scope: Scope,
) -> Result<Vec<Uuid>, String> {
    let model = &settings.embedding_model;
    let vectors = store
        .chunk_vectors(owner, model, scope)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "could not read chunk vectors");
            "the vector index cannot be read now; keyword results only".to_string()
        })?;
    if vectors.is_empty() {
        return Err(format!(
            "no passage is embedded with {model} yet (each file's status says why); keyword \
             results only"
        ));
    }
    let embedded = ollama
        .embed(model, &[query], settings.embed_timeout())
        .await
        .map_err(|error| match error {
            OllamaError::ModelNotFound(_) => super::service::missing_model_message(model),
            other => {
                tracing::info!(error = %other, "the query could not be embedded");
                "Ollama could not embed the search; keyword results only".to_string()
            }
        })?;
    let query_vector = embedded.into_iter().next().unwrap_or_default();
    let mut scored: Vec<(Uuid, f32)> = vectors
        .into_iter()
        .map(|(id, bytes)| (id, dot(&query_vector, &decode_vector(&bytes))))
        .filter(|(_, score)| *score > 0.0)
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(CANDIDATES);
    Ok(scored.into_iter().map(|(id, _)| id).collect())
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Vectors of another length (a model changed under us) score nothing.
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Reciprocal-rank fusion: each ranking gives 1 / (60 + rank); best total first.
pub fn fuse(keyword: &[Uuid], vector: &[Uuid]) -> Vec<(Uuid, f64)> {
    let mut scores: HashMap<Uuid, f64> = HashMap::new();
    for ranking in [keyword, vector] {
        for (index, id) in ranking.iter().enumerate() {
            *scores.entry(*id).or_default() += 1.0 / (RRF_K + index as f64 + 1.0);
        }
    }
    let mut fused: Vec<(Uuid, f64)> = scores.into_iter().collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    fused
}

/// Whether a word of the text matches a searched word: equal, or one starts with the other
/// and the shorter has four letters or more (refund / refunds / refunded).
fn matches(text_word: &str, query_word: &str) -> bool {
    let (shorter, longer) = if text_word.len() <= query_word.len() {
        (text_word, query_word)
    } else {
        (query_word, text_word)
    };
    text_word == query_word || (shorter.chars().count() >= 4 && longer.starts_with(shorter))
}

/// About 240 characters of `text` around the densest run of searched words, and where those
/// words are in it ([start, end) in characters). Plain text: the page marks the ranges.
pub fn snippet(text: &str, words: &[String]) -> (String, Vec<(u32, u32)>) {
    let chars: Vec<char> = text.chars().collect();
    let found = matching_words(&chars, words);
    // The window that holds the most matches.
    let begin = found
        .iter()
        .map(|(s, _)| *s)
        .max_by_key(|s| {
            let covered = found
                .iter()
                .filter(|(a, b)| *a >= *s && *b <= s + SNIPPET_CHARS)
                .count();
            (covered, std::cmp::Reverse(*s))
        })
        .map(|s| s.saturating_sub(40))
        .unwrap_or(0);
    // Start and end at word boundaries.
    let mut from = begin;
    while from > 0 && from < chars.len() && !chars[from - 1].is_whitespace() {
        from -= 1;
        if begin - from > 20 {
            from = begin;
            break;
        }
    }
    let mut to = (from + SNIPPET_CHARS).min(chars.len());
    while to < chars.len() && to > from + SNIPPET_CHARS - 20 && !chars[to].is_whitespace() {
        to -= 1;
    }
    if to <= from + SNIPPET_CHARS - 20 {
        to = (from + SNIPPET_CHARS).min(chars.len());
    }
    let prefix = if from > 0 { "…" } else { "" };
    let suffix = if to < chars.len() { "…" } else { "" };
    let body: String = chars[from..to].iter().collect();
    let body = body.split_whitespace().collect::<Vec<_>>();
    // Highlights are computed on the snippet as shown (whitespace folded).
    let shown = format!("{prefix}{}{suffix}", body.join(" "));
    let highlights = highlight(&shown, words);
    (shown, highlights)
}

fn highlight(text: &str, words: &[String]) -> Vec<(u32, u32)> {
    let chars: Vec<char> = text.chars().collect();
    matching_words(&chars, words)
        .into_iter()
        .map(|(start, end)| (start as u32, end as u32))
        .collect()
}

/// The character ranges of the words of `chars` that match a searched word.
fn matching_words(chars: &[char], words: &[String]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut start = None;
    for (i, c) in chars.iter().chain(std::iter::once(&' ')).enumerate() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            let word: String = chars[s..i].iter().collect::<String>().to_lowercase();
            if words.iter().any(|w| matches(&word, w)) {
                found.push((s, i));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_agreement() {
        let [a, b, c, d] = [1u128, 2, 3, 4].map(Uuid::from_u128);
        let fused = fuse(&[a, b, c], &[c, d, a]);
        let order: Vec<Uuid> = fused.iter().map(|(id, _)| *id).collect();
        // a: 1/61 + 1/63; c: 1/63 + 1/61: tied, then by id; b and d after them.
        assert_eq!(&order[..2], &[a, c]);
        assert!(fused[0].1 > fused[2].1);
        assert_eq!(fuse(&[], &[]), vec![]);
    }

    #[test]
    fn snippets_centre_on_the_words_and_mark_them() {
        let text = format!(
            "{} Refunds are paid within fourteen days of the refund request. {}",
            "Intro words here. ".repeat(30),
            "Closing words. ".repeat(30)
        );
        let words = query_words("How are REFUNDS paid?");
        assert_eq!(words, ["how", "are", "refunds", "paid"]);
        let (shown, highlights) = snippet(&text, &words);
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert!(shown.chars().count() <= SNIPPET_CHARS + 2, "{shown}");
        let chars: Vec<char> = shown.chars().collect();
        let marked: Vec<String> = highlights
            .iter()
            .map(|(s, e)| chars[*s as usize..*e as usize].iter().collect())
            .collect();
        assert!(marked.contains(&"Refunds".to_string()), "{marked:?}");
        assert!(marked.contains(&"refund".to_string()), "{marked:?}");
        assert!(marked.contains(&"paid".to_string()), "{marked:?}");
        // A short text is whole, without ellipses.
        let (whole, _) = snippet("Short text.", &words);
        assert_eq!(whole, "Short text.");
    }
}
