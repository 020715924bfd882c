//! Chunks for search and for the prompt: about `size` characters, neighbours sharing `overlap`,
//! cut at paragraph, sentence and (in markdown) block boundaries before anything smaller. Each
//! chunk keeps its page (PDF) or the heading it sits under (markdown, DOCX) for citations.

use super::extract::Part;
use text_splitter::{ChunkConfig, MarkdownSplitter, TextSplitter};

#[derive(Debug, Clone, PartialEq)]
pub struct ChunkDraft {
    pub ordinal: i32,
    pub page: Option<i32>,
    pub section: Option<String>,
    pub text: String,
}

pub fn chunk(parts: &[Part], size: usize, overlap: usize) -> Vec<ChunkDraft> {
    // A range lets the splitter end a chunk at a good boundary a little early.
    let config = || {
        ChunkConfig::new(size * 3 / 4..size)
            .with_overlap(overlap.min(size / 2 - 1))
            .expect("the overlap is below the chunk size")
    };
    let text_splitter = TextSplitter::new(config());
    let markdown_splitter = MarkdownSplitter::new(config());
    let mut chunks = Vec::new();
    for part in parts {
        let headings = if part.markdown {
            headings(&part.text)
        } else {
            Vec::new()
        };
        let pieces: Vec<(usize, &str)> = if part.markdown {
            markdown_splitter.chunk_indices(&part.text).collect()
        } else {
            text_splitter.chunk_indices(&part.text).collect()
        };
        for (offset, text) in pieces {
            // The last heading before the chunk's first prose: a chunk that opens with
            // headings ("# Handbook", "## Holidays", then text) is under the last of them.
            let prose_at = offset + leading_headings_len(text);
            let section = headings
                .iter()
                .take_while(|(at, _)| *at < prose_at.max(offset + 1))
                .last()
                .map(|(_, title)| title.clone());
            chunks.push(ChunkDraft {
                ordinal: chunks.len() as i32,
                page: part.page,
                section,
                text: text.to_string(),
            });
        }
    }
    chunks
}

/// Bytes of the heading lines (and blank lines) a chunk opens with.
fn leading_headings_len(text: &str) -> usize {
    let mut length = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            length += line.len();
        } else {
            break;
        }
    }
    length
}

/// The ATX headings of a markdown text: (byte offset, title), outside code fences.
fn headings(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut offset = 0;
    let mut in_fence = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence {
            let hashes = trimmed.chars().take_while(|c| *c == '#').count();
            if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with([' ', '\t']) {
                let title = trimmed[hashes..].trim().trim_end_matches('#').trim();
                if !title.is_empty() {
                    found.push((offset, crate::text::clip(title, 200)));
                }
            }
        }
        offset += line.len();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(text: &str, markdown: bool, page: Option<i32>) -> Part {
        Part {
            page,
            text: text.to_string(),
            markdown,
        }
    }

    #[test]
    fn chunks_follow_sections_and_pages() {
        let paragraph = "Refunds are paid within fourteen days of the return. ".repeat(8);
        let markdown = format!(
            "# Policies\n\n## Returns\n\n{paragraph}\n\n## Warranty\n\n{paragraph}\n\n```\n# not a heading\n```\n"
        );
        let chunks = chunk(&[part(&markdown, true, None)], 500, 60);
        assert!(chunks.len() >= 2, "{chunks:#?}");
        // Under the last of the headings it opens with.
        assert_eq!(chunks[0].section.as_deref(), Some("Returns"));
        assert_eq!(chunks.last().unwrap().section.as_deref(), Some("Warranty"));
        assert!(chunks.iter().all(|c| c.text.chars().count() <= 500));
        assert_eq!(
            chunks.iter().map(|c| c.ordinal).collect::<Vec<_>>(),
            (0..chunks.len() as i32).collect::<Vec<_>>()
        );

        let pages = chunk(
            &[
                part("Page one text.", false, Some(1)),
                part("Page two text.", false, Some(2)),
            ],
            500,
            60,
        );
        assert_eq!(
            pages
                .iter()
                .map(|c| (c.page, c.text.as_str()))
                .collect::<Vec<_>>(),
            [(Some(1), "Page one text."), (Some(2), "Page two text.")]
        );
    }

    #[test]
    fn neighbours_overlap_and_nothing_is_lost() {
        let sentences: Vec<String> = (0..60)
            .map(|i| format!("Sentence number {i} is here."))
            .collect();
        let text = sentences.join(" ");
        let chunks = chunk(&[part(&text, false, None)], 300, 80);
        assert!(chunks.len() > 3);
        for sentence in &sentences {
            assert!(
                chunks.iter().any(|c| c.text.contains(sentence.as_str())),
                "{sentence} is in a chunk"
            );
        }
        // Some text of each chunk's end opens the next one.
        let shared = chunks
            .windows(2)
            .filter(|w| {
                let tail: String = w[0]
                    .text
                    .chars()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                w[1].text.contains(tail.trim())
            })
            .count();
        assert!(shared >= chunks.len() / 2, "{chunks:#?}");
    }
    /// Sentences longer than a chunk in scripts written without spaces (Chinese, Japanese,
    /// Thai) are cut by Unicode's word rules alone (see vendor/text-splitter): every chunk
    /// still fits and, laid end to end, they are the text.
    #[test]
    fn long_sentences_without_spaces_are_cut_within_size_and_whole() {
        let chinese =
            "我们的退款政策规定在收到退货后的十四天内支付款项并且所有商品必须保持原始包装"
                .repeat(20);
        let japanese =
            "こんにちは世界、私たちの返金ポリシーでは返品を受け取ってから十四日以内に支払います"
                .repeat(20);
        let thai = "นโยบายการคืนเงินของเรากำหนดให้ชำระเงินภายในสิบสี่วันหลังจากได้รับสินค้าคืน".repeat(20);
        for text in [chinese, japanese, thai] {
            let chunks = chunk(&[part(&text, false, None)], 200, 0);
            assert!(chunks.len() > 3, "{chunks:#?}");
            assert!(
                chunks.iter().all(|c| c.text.chars().count() <= 200),
                "{chunks:#?}"
            );
            let joined: String = chunks.iter().map(|c| c.text.as_str()).collect();
            assert_eq!(joined, text);
        }
    }
}
