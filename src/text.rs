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

/// `text` cut to at most `max` characters (`max` ≥ 1), the last one "…" when anything was cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
        clipped.push('…');
        clipped
    }
}

/// A number as tables and charts show it: at most four decimals, whole numbers without any.
pub fn plain_number(value: f64) -> String {
    let rounded = (value * 10_000.0).round() / 10_000.0;
    if rounded == rounded.trunc() && rounded.abs() < 1e15 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded}")
    }
}

/// A size for people: "512 bytes", "64 KB", "1.5 MB", "10 MB" (1 KB = 1024 bytes).
pub fn human_size(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    let (value, unit) = if b < KB {
        return format!("{bytes} bytes");
    } else if b < KB * KB {
        (b / KB, "KB")
    } else if b < KB * KB * KB {
        (b / KB / KB, "MB")
    } else {
        (b / KB / KB / KB, "GB")
    };
    if value < 10.0 && value.fract() >= 0.05 {
        format!("{value:.1} {unit}")
    } else {
        format!("{} {unit}", value.round())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_and_plain_number() {
        assert_eq!(clip("abcdef", 6), "abcdef");
        assert_eq!(clip("abcdefg", 6), "abcde…");
        assert_eq!(clip("ééééé", 3).chars().count(), 3);
        assert_eq!(plain_number(6.666_666), "6.6667");
        assert_eq!(plain_number(-4.0), "-4");
        assert_eq!(plain_number(1e20), "100000000000000000000");
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(64 * 1024), "64 KB");
        assert_eq!(human_size(1536 * 1024), "1.5 MB");
        assert_eq!(human_size(10 * 1024 * 1024), "10 MB");
    }

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
