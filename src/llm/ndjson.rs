//! Newline-delimited JSON, split into lines at the byte level. Reads may end anywhere: inside a
//! line, inside a multi-byte UTF-8 character, or after several lines; a line is decoded only once
//! it is whole, so none of these can corrupt it.

/// A line longer than this is refused, so a broken server cannot make us buffer without bound.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NdjsonError {
    #[error("a line is longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
    #[error("a line is not valid UTF-8")]
    InvalidUtf8,
}

#[derive(Debug, Default)]
pub struct NdjsonDecoder {
    buffer: Vec<u8>,
    /// Bytes of `buffer` already searched for a newline.
    scanned: usize,
    /// Blank lines are returned too (as ""): server-sent events end at a blank line.
    keep_blank: bool,
}

impl NdjsonDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder for server-sent events: the same splitting, blank lines included.
    pub fn keeping_blank_lines() -> Self {
        NdjsonDecoder {
            keep_blank: true,
            ..Self::default()
        }
    }

    /// Adds the bytes of one read.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole, non-blank line, without its line ending; `None` until one is complete.
    pub fn next_line(&mut self) -> Option<Result<String, NdjsonError>> {
        loop {
            let newline = self.buffer[self.scanned..].iter().position(|&b| b == b'\n');
            let Some(offset) = newline else {
                self.scanned = self.buffer.len();
                if self.buffer.len() > MAX_LINE_BYTES {
                    self.buffer.clear();
                    self.scanned = 0;
                    return Some(Err(NdjsonError::LineTooLong));
                }
                return None;
            };
            let end = self.scanned + offset;
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            self.scanned = 0;
            if let Some(line) = decode(&line[..end]) {
                return Some(line);
            }
            if self.keep_blank {
                return Some(Ok(String::new()));
            }
        }
    }

    /// What is left when the stream ends: a last line without a trailing newline, if any.
    pub fn finish(&mut self) -> Option<Result<String, NdjsonError>> {
        let rest = std::mem::take(&mut self.buffer);
        self.scanned = 0;
        decode(&rest)
    }
}

/// A line as text, or `None` when it is blank.
fn decode(line: &[u8]) -> Option<Result<String, NdjsonError>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(String::from_utf8(line.to_vec()).map_err(|_| NdjsonError::InvalidUtf8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(reads: &[&[u8]]) -> Vec<String> {
        let mut decoder = NdjsonDecoder::new();
        let mut out = Vec::new();
        for read in reads {
            decoder.feed(read);
            while let Some(line) = decoder.next_line() {
                out.push(line.unwrap());
            }
        }
        if let Some(line) = decoder.finish() {
            out.push(line.unwrap());
        }
        out
    }

    #[test]
    fn a_line_split_across_reads_is_joined() {
        assert_eq!(lines_of(&[b"{\"a\":", b"1}", b"\n"]), vec!["{\"a\":1}"]);
    }

    #[test]
    fn several_lines_in_one_read_are_separated() {
        // The unfinished third line is only handed out by `finish`, at the end of the stream.
        assert_eq!(
            lines_of(&[b"{\"a\":1}\n{\"b\":2}\n{\"c\":"]),
            vec!["{\"a\":1}", "{\"b\":2}", "{\"c\":"]
        );
        assert_eq!(lines_of(&[b"1\n2\n", b"3\n"]), vec!["1", "2", "3"]);
    }

    #[test]
    fn multibyte_characters_split_at_every_byte_survive() {
        let text = "{\"content\":\"héllo wörld — 你好 🦀\"}\n{\"content\":\"ça va 👍🏽\"}\n";
        let bytes = text.as_bytes();
        for split in 0..bytes.len() {
            let got = lines_of(&[&bytes[..split], &bytes[split..]]);
            assert_eq!(
                got,
                vec![
                    "{\"content\":\"héllo wörld — 你好 🦀\"}",
                    "{\"content\":\"ça va 👍🏽\"}"
                ],
                "split at {split}"
            );
        }
        // And one byte per read.
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(lines_of(&singles).len(), 2);
    }

    #[test]
    fn blank_lines_and_crlf_are_tolerated() {
        assert_eq!(lines_of(&[b"\n\r\n{\"a\":1}\r\n\n"]), vec!["{\"a\":1}"]);
    }

    #[test]
    fn last_line_without_newline_is_returned_at_the_end() {
        assert_eq!(
            lines_of(&[b"{\"a\":1}\n{\"done\":true}"]),
            vec!["{\"a\":1}", "{\"done\":true}"]
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let mut decoder = NdjsonDecoder::new();
        decoder.feed(b"\xff\xfe\n{\"ok\":1}\n");
        assert_eq!(decoder.next_line(), Some(Err(NdjsonError::InvalidUtf8)));
        assert_eq!(decoder.next_line(), Some(Ok("{\"ok\":1}".to_string())));
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut decoder = NdjsonDecoder::new();
        let chunk = vec![b'x'; 1024 * 1024];
        let mut result = None;
        for _ in 0..10 {
            decoder.feed(&chunk);
            if let Some(r) = decoder.next_line() {
                result = Some(r);
                break;
            }
        }
        assert_eq!(result, Some(Err(NdjsonError::LineTooLong)));
    }
}
