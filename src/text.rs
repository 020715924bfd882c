//! Text normalisation, the same for every database: what is stored is exactly what people and
//! watchers see, on SQLite and PostgreSQL alike.

use std::borrow::Cow;

/// What a text column can hold on every backend. PostgreSQL refuses U+0000 in `text` (SQLite
/// accepts it), and it is the only valid Unicode scalar it refuses; so NUL is removed everywhere,
/// before storing and before streaming, so that a reload shows what was streamed.
pub fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', ""))
    } else {
        Cow::Borrowed(text)
    }
}

/// What a person typed, as it is kept: control characters other than tab, line feed and carriage
/// return are removed (they carry no meaning in a chat and some cannot be stored).
pub fn clean_input(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storable_removes_only_nul() {
        assert_eq!(
            storable("a\0b\u{1}\u{7f}\u{9f}\u{fffe}"),
            "ab\u{1}\u{7f}\u{9f}\u{fffe}"
        );
        assert!(matches!(storable("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn clean_input_keeps_layout_and_drops_controls() {
        assert_eq!(
            clean_input("a\tb\nc\r\n\0\u{1b}[31m\u{7f}\u{85}"),
            "a\tb\nc\r\n[31m"
        );
        assert_eq!(clean_input("\0\u{1}\u{2}").trim(), "");
        assert_eq!(clean_input("日本語 🦀 \u{200b}"), "日本語 🦀 \u{200b}");
    }
}
