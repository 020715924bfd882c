//! What an upload is, decided from its content (the name only says what it claims to be), and
//! its name made safe to show.

use crate::model::FileKind;

/// Longest displayed name, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Why a file is refused: a sentence for the person.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The name as it is shown: its last path component only (with `/` or `\`), without control
/// or bidirectional-override characters, trimmed, at most 200 characters; Windows' reserved
/// device names get a leading underscore. Never used as a path: files are stored by id.
pub fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    let trimmed = cleaned.trim().trim_matches('.').trim();
    let mut name = if trimmed.is_empty() {
        "file".to_string()
    } else {
        trimmed.to_string()
    };
    let stem = name.split('.').next().unwrap_or("").to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        name.insert(0, '_');
    }
    if name.chars().count() > MAX_NAME_CHARS {
        // Keep the extension, cut the stem.
        let extension = name
            .rsplit_once('.')
            .map(|(_, e)| format!(".{e}"))
            .filter(|e| e.chars().count() <= 10)
            .unwrap_or_default();
        let stem: String = name
            .chars()
            .take(MAX_NAME_CHARS - extension.chars().count())
            .collect();
        name = format!("{stem}{extension}");
    }
    name
}

/// What the bytes are, whatever the name says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Content {
    Pdf,
    /// A zip archive (DOCX is one).
    Zip,
    /// UTF-8 text without NUL.
    Text,
    /// A picture in one of the formats vision models take.
    Image(FileKind),
    Other,
}

impl Content {
    fn describe(self) -> &'static str {
        match self {
            Content::Pdf => "a PDF",
            Content::Zip => "a zip archive",
            Content::Text => "text",
            Content::Image(FileKind::Png) => "a PNG image",
            Content::Image(FileKind::Jpeg) => "a JPEG image",
            Content::Image(FileKind::Gif) => "a GIF image",
            Content::Image(_) => "a WebP image",
            Content::Other => "binary data",
        }
    }
}

/// Sniffs the content from its bytes (the whole file, already within the size limit).
pub fn sniff(bytes: &[u8]) -> Content {
    let head = &bytes[..bytes.len().min(1024)];
    // PDF readers accept the header anywhere in the first 1024 bytes.
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Content::Pdf;
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Content::Zip;
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Content::Image(FileKind::Png);
    }
    if bytes.starts_with(b"\xFF\xD8\xFF") {
        return Content::Image(FileKind::Jpeg);
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Content::Image(FileKind::Gif);
    }
    if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        return Content::Image(FileKind::Webp);
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if !text.contains(&0) && std::str::from_utf8(text).is_ok() {
        return Content::Text;
    }
    Content::Other
}

/// The kind of an upload named `name` with these bytes; refused when the name claims a kind
/// we do not take, or the content is not what the name says.
pub fn detect(name: &str, bytes: &[u8]) -> Result<FileKind, Refused> {
    let Some(claimed) = FileKind::from_name(name) else {
        return Err(Refused(crate::model::ACCEPTED_KINDS.into()));
    };
    if bytes.is_empty() {
        return Err(Refused("the file is empty".into()));
    }
    let content = sniff(bytes);
    let expected = match claimed {
        FileKind::Pdf => Content::Pdf,
        FileKind::Docx => Content::Zip,
        FileKind::Txt | FileKind::Md | FileKind::Csv => Content::Text,
        image => Content::Image(image),
    };
    // A picture named with another picture's extension is still the picture it is (browsers
    // and phones often name a JPEG .png); it is kept as what its bytes say.
    if let (true, Content::Image(actual)) = (claimed.is_image(), content) {
        return Ok(actual);
    }
    if content != expected {
        let what = if content == Content::Text && claimed != FileKind::Docx {
            "text".to_string()
        } else {
            content.describe().to_string()
        };
        return Err(Refused(format!(
            "the name ends in .{} but the content is {what}",
            claimed.as_str()
        )));
    }
    Ok(claimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_for_display() {
        assert_eq!(clean_name("../../etc/passwd.txt"), "passwd.txt");
        assert_eq!(clean_name("C:\\Users\\me\\notes.md"), "notes.md");
        assert_eq!(clean_name("CON.txt"), "_CON.txt");
        assert_eq!(clean_name("com1.pdf"), "_com1.pdf");
        assert_eq!(clean_name("console.txt"), "console.txt");
        assert_eq!(clean_name("evil\u{202E}txt.pdf"), "eviltxt.pdf");
        assert_eq!(clean_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(clean_name("  ...  "), "file");
        assert_eq!(clean_name(""), "file");
        let long = format!("{}.pdf", "x".repeat(500));
        let cleaned = clean_name(&long);
        assert_eq!(cleaned.chars().count(), 200);
        assert!(cleaned.ends_with(".pdf"));
    }

    #[test]
    fn the_content_decides_not_the_name() {
        assert_eq!(detect("a.pdf", b"%PDF-1.7\n..."), Ok(FileKind::Pdf));
        assert_eq!(detect("a.TXT", "héllo".as_bytes()), Ok(FileKind::Txt));
        assert_eq!(detect("a.csv", b"\xEF\xBB\xBFa,b\n1,2"), Ok(FileKind::Csv));
        assert_eq!(detect("a.docx", b"PK\x03\x04rest"), Ok(FileKind::Docx));
        let refused = |name: &str, bytes: &[u8]| detect(name, bytes).unwrap_err().0;
        assert!(
            refused("page.pdf", b"<!doctype html><script>alert(1)</script>")
                .contains("ends in .pdf but the content is text")
        );
        assert!(refused("a.txt", b"%PDF-1.4").contains("content is a PDF"));
        assert!(refused("a.docx", b"hello").contains("content is text"));
        assert!(refused("a.txt", b"\x00\x01\x02").contains("binary data"));
        assert!(refused("a.exe", b"MZ").contains("only .txt"));
        assert!(refused("noextension", b"hi").contains("only .txt"));
        assert!(refused("empty.txt", b"").contains("empty"));
    }

    #[test]
    fn images_are_recognised_by_their_bytes() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(detect("shot.png", png), Ok(FileKind::Png));
        assert_eq!(
            detect("photo.JPG", b"\xFF\xD8\xFF\xE0JFIF"),
            Ok(FileKind::Jpeg)
        );
        assert_eq!(detect("a.gif", b"GIF89a...."), Ok(FileKind::Gif));
        assert_eq!(
            detect("a.webp", b"RIFF\x10\0\0\0WEBPVP8 "),
            Ok(FileKind::Webp)
        );
        // A JPEG named .png is a JPEG.
        assert_eq!(detect("named.png", b"\xFF\xD8\xFF\xE0"), Ok(FileKind::Jpeg));
        let refused = |name: &str, bytes: &[u8]| detect(name, bytes).unwrap_err().0;
        // Markup or script named as an image is refused: it is never served as one.
        assert!(refused("x.png", b"<svg onload=alert(1)>").contains("content is text"));
        assert!(refused("x.jpg", b"\0\x01garbage").contains("binary data"));
        assert!(refused("x.txt", png).contains("a PNG image"));
        assert!(refused("x.svg", b"<svg/>").contains("only .txt"));
    }
}
