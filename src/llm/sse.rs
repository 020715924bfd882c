//! Server-sent events as the OpenAI and Anthropic APIs stream them: `event:` and `data:`
//! fields, an event ending at a blank line (WHATWG HTML, "server-sent events"). Lines come whole
//! from `NdjsonDecoder::keeping_blank_lines`, so reads cut anywhere cannot corrupt an event.

/// One event: its type (`event:`, empty when absent) and its data lines joined by newlines.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Collects the fields of the event being read.
#[derive(Debug, Default)]
pub struct SseReader {
    event: String,
    data: Option<String>,
}

impl SseReader {
    /// Reads one line; the event it completes, if any (an event without data is not one).
    pub fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take();
            let event = std::mem::take(&mut self.event);
            return data.map(|data| SseEvent { event, data });
        }
        if line.starts_with(':') {
            return None; // a comment (keep-alive)
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {} // id, retry, unknown fields
        }
        None
    }

    /// The event left when the stream ends without its blank line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        self.line("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_make_events_at_blank_lines() {
        let mut reader = SseReader::default();
        let mut events = Vec::new();
        for line in [
            ": keep-alive",
            "event: message_start",
            "data: {\"a\":",
            "data:1}",
            "id: 7",
            "",
            "",
            "data: [DONE]",
        ] {
            events.extend(reader.line(line));
        }
        events.extend(reader.finish());
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: "message_start".into(),
                    data: "{\"a\":\n1}".into()
                },
                SseEvent {
                    event: String::new(),
                    data: "[DONE]".into()
                },
            ]
        );
    }
}
