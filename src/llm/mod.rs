//! Talking to models: Ollama's wire format, one server's HTTP client, the pool of servers, and
//! the other providers (OpenAI-compatible, Anthropic) that the same client routes to.

pub mod anthropic;
pub mod ndjson;
pub mod ollama;
pub mod openai;
pub mod pool;
pub mod providers;
pub mod sse;

pub use ollama::{
    ChatEvent, ChatMessage, ChatRequest, ChatStream, DoneInfo, ModelShow, OllamaError,
    OllamaServer, PullProgress, ToolSpec,
};
pub use pool::OllamaClient;

/// The media type of a base64 image, from its first bytes (Ollama takes bare base64; the other
/// providers want the type named).
pub fn image_media_type(base64: &str) -> &'static str {
    match base64.get(..8).unwrap_or(base64) {
        b if b.starts_with("iVBOR") => "image/png",
        b if b.starts_with("/9j/") => "image/jpeg",
        b if b.starts_with("R0lGOD") => "image/gif",
        b if b.starts_with("UklGR") => "image/webp",
        _ => "image/jpeg",
    }
}

/// The HTTP client of one model server or provider: its connect timeout, no Nagle delay (tokens
/// are small), idle connections kept a minute.
pub(crate) fn model_http_client(settings: &crate::config::OllamaSettings) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout())
        .tcp_nodelay(true)
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!("ollamastack/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client has a valid static configuration")
}

/// At most `max` characters of `text`, for error messages that quote what was received.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// The innermost cause of an error (the OS error under reqwest's layers), for logs.
pub(crate) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// Feeds `body` to `parser` in reads of `piece` bytes, as `ChatStream` does; the events, and
/// whether the stream was whole.
#[cfg(test)]
pub(crate) fn parse_in_pieces(
    parser: &mut dyn ollama::WireParser,
    body: &str,
    piece: usize,
) -> Result<(Vec<ChatEvent>, bool), OllamaError> {
    let mut decoder = if parser.blank_lines() {
        ndjson::NdjsonDecoder::keeping_blank_lines()
    } else {
        ndjson::NdjsonDecoder::new()
    };
    let mut out = std::collections::VecDeque::new();
    let mut finished = false;
    for read in body.as_bytes().chunks(piece) {
        decoder.feed(read);
        while let Some(line) = decoder.next_line() {
            finished |= parser.line(&line.expect("a whole line"), &mut out)?;
        }
    }
    if !finished {
        finished = parser.ended(&mut out)?;
    }
    Ok((out.into(), finished))
}
