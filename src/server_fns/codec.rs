//! The encoding of every server function's answer (and of its errors): JSON, as Leptos' own
//! `Json`, but decoded in the browser from text.
//!
//! Why: the answers of the page's resources reach hydration as JSON text and are decoded with
//! `serde_json::from_str`, while Leptos' `Json` decodes a server function's answer with
//! `from_slice`. serde instantiates a type's decoder once per reader, so every DTO that a
//! page both hydrates and fetches (messages, conversations, settings, errors) was in the WASM
//! twice. One reader keeps one copy. The bytes on the wire are the same.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::{de::DeserializeOwned, Serialize};

/// JSON encoded with `serde_json::to_vec` and decoded from UTF-8 text with
/// `serde_json::from_str` (what hydration uses).
pub struct JsonTextEncoding;

impl ContentType for JsonTextEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonTextEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonTextEncoding {
    type Error = JsonTextError;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(JsonTextError::Utf8)?;
        serde_json::from_str(text).map_err(JsonTextError::Json)
    }
}

/// Why an answer could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum JsonTextError {
    #[error("the answer is not UTF-8: {0}")]
    Utf8(std::str::Utf8Error),
    #[error(transparent)]
    Json(serde_json::Error),
}

/// A server function's output (and input, where named) as JSON in a `POST` body.
pub type JsonText = Post<JsonTextEncoding>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;

    /// Leptos has no project-wide default encoding, so each server function names it; one that
    /// did not would bring the second decoder copies back into the WASM unnoticed.
    #[test]
    fn every_server_function_answers_with_json_text() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server_fns");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                // `#[server(default)]` on an argument is not a server function.
                let attribute = line.trim_start().starts_with("#[server")
                    && !line.contains("#[server(default)]");
                if attribute && !line.contains("output = JsonText") {
                    missing.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }

    #[test]
    fn answers_decode_as_they_were_encoded() {
        let error = AppError::NotFound("conversation".into());
        let bytes = <JsonTextEncoding as Encodes<AppError>>::encode(&error).unwrap();
        assert_eq!(bytes, serde_json::to_vec(&error).unwrap());
        let back: AppError = JsonTextEncoding::decode(bytes).unwrap();
        assert_eq!(back, error);
        // Multi-byte text survives, and a body that is not UTF-8 is an error, not a panic.
        let text = Bytes::from(serde_json::to_vec("naïve — 日本").unwrap());
        assert_eq!(
            <JsonTextEncoding as Decodes<String>>::decode(text).unwrap(),
            "naïve — 日本"
        );
        let broken = Bytes::from_static(b"\"\xff\"");
        assert!(matches!(
            <JsonTextEncoding as Decodes<String>>::decode(broken),
            Err(JsonTextError::Utf8(_))
        ));
    }
}
