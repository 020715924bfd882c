//! The text of a file: PDF pages through pdf_oxide, DOCX through its XML (with caps on the
//! archive), markdown and text as they are, CSV as a summary plus its rows. Runs in a child
//! process or on a blocking thread (see `isolate`), so it may take its time; it never trusts
//! sizes the file declares.

use crate::model::FileKind;
use std::io::{BufReader, Read};

/// Caps on what one file may make the server do.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    pub max_chars: usize,
    pub max_archive_entries: usize,
    pub max_archive_bytes: u64,
}

/// A piece of a file's text: a page of a PDF, or the whole of other files.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Part {
    /// 1-based page of a PDF.
    pub page: Option<i32>,
    pub text: String,
    /// Markdown (headings give sections; the chunker keeps its blocks whole).
    pub markdown: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Extracted {
    pub parts: Vec<Part>,
    pub pages: Option<i32>,
    /// The text was longer than the cap and was cut.
    pub truncated: bool,
}

/// Why no text came out: a sentence for the person.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ExtractError(pub String);

pub fn extract(kind: FileKind, bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    let mut extracted = match kind {
        FileKind::Txt => whole(text_of(bytes)?, false),
        FileKind::Md => whole(text_of(bytes)?, true),
        FileKind::Csv => whole(csv_text(&text_of(bytes)?)?, false),
        FileKind::Pdf => pdf(bytes)?,
        FileKind::Docx => whole(docx(bytes, limits)?, true),
        // Stored ready (never queued); a requeued image still has no text.
        FileKind::Png | FileKind::Jpeg | FileKind::Gif | FileKind::Webp => {
            return Err(ExtractError("an image has no text to index".into()));
        }
    };
    // Cap the total, cutting at a character boundary.
    let mut left = limits.max_chars;
    for part in &mut extracted.parts {
        let length = part.text.chars().count();
        if length > left {
            part.text = part.text.chars().take(left).collect();
            extracted.truncated = true;
        }
        left = left.saturating_sub(length);
    }
    extracted.parts.retain(|p| !p.text.trim().is_empty());
    if extracted.parts.is_empty() {
        return Err(ExtractError(match kind {
            FileKind::Pdf => "no text could be read from this PDF: it may be scanned images, \
                              which would need OCR"
                .into(),
            _ => "the file has no text".into(),
        }));
    }
    Ok(extracted)
}

fn whole(text: String, markdown: bool) -> Extracted {
    Extracted {
        parts: vec![Part {
            page: None,
            text,
            markdown,
        }],
        pages: None,
        truncated: false,
    }
}

fn text_of(bytes: &[u8]) -> Result<String, ExtractError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ExtractError("the file is not UTF-8 text".into()))?;
    // Line endings as one, and no characters a database cannot keep.
    Ok(crate::text::clean_input(&text.replace("\r\n", "\n")))
}

/// A CSV as text a search can find and a model can read: the column summary, then each row
/// as `column: value` pairs (one line per row, so the chunker keeps rows whole).
fn csv_text(text: &str) -> Result<String, ExtractError> {
    use crate::tools::csv_stats::{parse_table, summarize};
    let table = parse_table(text).map_err(|e| ExtractError(e.to_string()))?;
    let mut out = summarize(&table, None).map_err(|e| ExtractError(e.to_string()))?;
    out.push_str("\n\n");
    for row in &table.rows {
        let pairs: Vec<String> = table
            .headers
            .iter()
            .zip(row)
            .filter(|(_, value)| !value.is_empty())
            .map(|(header, value)| format!("{header}: {value}"))
            .collect();
        out.push_str(&pairs.join("; "));
        out.push('\n');
    }
    Ok(out)
}

fn pdf(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let document = pdf_oxide::PdfDocument::from_bytes(bytes.to_vec()).map_err(|e| {
        tracing::info!(error = %e, "a PDF could not be opened");
        ExtractError("the PDF cannot be read (damaged, or encrypted with a password)".into())
    })?;
    let pages = document
        .page_count()
        .map_err(|_| ExtractError("the PDF's pages cannot be read".into()))?;
    let mut parts = Vec::with_capacity(pages);
    for index in 0..pages {
        match document.extract_text(index) {
            Ok(text) => parts.push(Part {
                page: Some(index as i32 + 1),
                text: crate::text::clean_input(&text),
                markdown: false,
            }),
            // One bad page does not lose the others.
            Err(error) => {
                tracing::info!(%error, page = index + 1, "a PDF page has no readable text")
            }
        }
    }
    Ok(Extracted {
        parts,
        pages: Some(pages as i32),
        truncated: false,
    })
}

/// Checks a DOCX as a whole before it is kept: a zip within the entry cap, whose entries
/// really expand (not only by what they declare) to no more than the size cap, holding a
/// `word/document.xml`. A zip bomb renamed .docx stops here.
pub fn check_docx(bytes: &[u8], limits: &Limits) -> Result<(), ExtractError> {
    let mut archive = open_docx(bytes, limits)?;
    let mut left = limits.max_archive_bytes;
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(|_| not_docx())?;
        let read = std::io::copy(&mut entry.take(left + 1), &mut std::io::sink())
            .map_err(|_| not_docx())?;
        if read > left {
            return Err(too_big(limits));
        }
        left -= read;
    }
    archive
        .by_name("word/document.xml")
        .map_err(|_| not_docx())?;
    Ok(())
}

fn not_docx() -> ExtractError {
    ExtractError("the file is not a valid DOCX document".into())
}

fn too_big(limits: &Limits) -> ExtractError {
    ExtractError(format!(
        "the DOCX expands to more than {}",
        crate::text::human_size(limits.max_archive_bytes)
    ))
}

/// The archive, after the cheap checks: the entry count and the sizes entries declare.
fn open_docx<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<zip::ZipArchive<std::io::Cursor<&'a [u8]>>, ExtractError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| not_docx())?;
    if archive.len() > limits.max_archive_entries {
        return Err(ExtractError(format!(
            "the DOCX holds more than {} entries",
            limits.max_archive_entries
        )));
    }
    let mut declared: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(|_| not_docx())?;
        declared = declared.saturating_add(entry.size());
    }
    if declared > limits.max_archive_bytes {
        return Err(too_big(limits));
    }
    Ok(archive)
}

/// The text of a DOCX's main document as markdown: a paragraph per line (blank line between),
/// headings (styles Title, Heading1…6) as `#` lines, tabs and breaks kept.
fn docx(bytes: &[u8], limits: &Limits) -> Result<String, ExtractError> {
    let mut archive = open_docx(bytes, limits)?;
    let entry = archive
        .by_name("word/document.xml")
        .map_err(|_| not_docx())?;
    let mut xml = Vec::new();
    // Whatever the entry declares, no more than the cap is read.
    entry
        .take(limits.max_archive_bytes + 1)
        .read_to_end(&mut xml)
        .map_err(|_| not_docx())?;
    if xml.len() as u64 > limits.max_archive_bytes {
        return Err(too_big(limits));
    }
    docx_markdown(&xml).map_err(|_| not_docx())
}

fn docx_markdown(xml: &[u8]) -> Result<String, quick_xml::Error> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(BufReader::new(xml));
    let mut buf = Vec::new();
    let mut out = String::new();
    let mut paragraph = String::new();
    let mut heading: Option<usize> = None;
    let mut in_text = false;
    loop {
        match reader.read_event_into(&mut buf)? {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                "w:t" => in_text = true,
                "w:tab" => paragraph.push('\t'),
                "w:br" | "w:cr" => paragraph.push('\n'),
                "w:pStyle" => {
                    if let Ok(Some(style)) = e.try_get_attribute("w:val") {
                        let style = style.value.to_ascii_lowercase();
                        heading = if style == "title" {
                            Some(1)
                        } else {
                            style
                                .strip_prefix("heading")
                                .and_then(|n| n.parse::<usize>().ok())
                                .map(|n| n.clamp(1, 6))
                        };
                    }
                }
                _ => {}
            },
            Event::Text(text) if in_text => paragraph.push_str(&text),
            Event::GeneralRef(reference) if in_text => {
                if let Ok(Some(ch)) = reference.resolve_char_ref() {
                    paragraph.push(ch);
                } else {
                    paragraph.push_str(match &*reference {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::End(e) => match e.name().as_ref() {
                "w:t" => in_text = false,
                "w:p" => {
                    let text = paragraph.trim();
                    if !text.is_empty() {
                        if let Some(level) = heading {
                            out.push_str(&"#".repeat(level));
                            out.push(' ');
                        }
                        out.push_str(text);
                        out.push_str("\n\n");
                    }
                    paragraph.clear();
                    heading = None;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(crate::text::clean_input(&out))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn limits() -> Limits {
        Limits {
            max_chars: 1_000_000,
            max_archive_entries: 100,
            max_archive_bytes: 1024 * 1024,
        }
    }

    pub use crate::testing::sample_files::docx as docx_file;

    #[test]
    fn docx_paragraphs_headings_and_entities() {
        let file = docx_file(&[
            ("Title", "Holiday policy"),
            ("", "Staff get 25 days & public holidays."),
            ("Heading2", "Carry-over"),
            ("", "Up to 5 days carry over."),
        ]);
        let text = extract(FileKind::Docx, &file, &limits()).unwrap();
        assert_eq!(
            text.parts[0].text,
            "# Holiday policy\n\nStaff get 25 days & public holidays.\n\n## Carry-over\n\nUp to 5 days carry over.\n\n"
        );
        assert!(text.parts[0].markdown);
        // Entities and character references as Word writes them; tabs and breaks.
        let raw = crate::testing::sample_files::docx_with_document(
            "<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>a &lt;b&gt; &amp; &#x2192;</w:t><w:tab/>\
             <w:t>c</w:t><w:br/><w:t>d</w:t></w:r></w:p></w:body></w:document>",
        );
        let text = extract(FileKind::Docx, &raw, &limits()).unwrap();
        assert_eq!(text.parts[0].text, "a <b> & →\tc\nd\n\n");
    }

    #[test]
    fn a_zip_bomb_is_refused_by_its_real_size() {
        // 5 MB of spaces compress to a few KB; the cap is 1 MB.
        let bomb = crate::testing::sample_files::docx_bomb(5 * 1024 * 1024);
        assert!(bomb.len() < 100 * 1024);
        let error = extract(FileKind::Docx, &bomb, &limits()).unwrap_err();
        assert!(error.0.contains("expands to more than 1 MB"), "{error}");
        let error = check_docx(&bomb, &limits()).unwrap_err();
        assert!(error.0.contains("expands to more than 1 MB"), "{error}");
        check_docx(&docx_file(&[("", "fine")]), &limits()).unwrap();
        // Too many entries.
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for i in 0..101 {
            zip.start_file(format!("f{i}"), zip::write::SimpleFileOptions::default())
                .unwrap();
        }
        let many = zip.finish().unwrap().into_inner();
        let error = extract(FileKind::Docx, &many, &limits()).unwrap_err();
        assert!(error.0.contains("more than 100 entries"), "{error}");
        // A zip that is not a DOCX.
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("readme.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        let other = zip.finish().unwrap().into_inner();
        let error = extract(FileKind::Docx, &other, &limits()).unwrap_err();
        assert!(error.0.contains("not a valid DOCX"), "{error}");
    }

    #[test]
    fn pdf_text_by_page() {
        let pdf = crate::testing::sample_files::pdf(
            "The warranty lasts two years.\nReturns within 30 days.",
        );
        let text = extract(FileKind::Pdf, &pdf, &limits()).unwrap();
        assert_eq!(text.pages, Some(1));
        assert_eq!(text.parts[0].page, Some(1));
        assert!(
            text.parts[0].text.contains("warranty lasts two years"),
            "{:?}",
            text.parts
        );
        let error = extract(FileKind::Pdf, b"%PDF-1.7\nnot really", &limits()).unwrap_err();
        assert!(error.0.contains("cannot be read"), "{error}");
    }

    #[test]
    fn text_markdown_and_csv() {
        let text = extract(
            FileKind::Txt,
            b"\xEF\xBB\xBFline one\r\nline two\x07",
            &limits(),
        )
        .unwrap();
        assert_eq!(text.parts[0].text, "line one\nline two");
        let csv = extract(
            FileKind::Csv,
            b"city,people\nLyon,522000\nNantes,320000\n",
            &limits(),
        )
        .unwrap();
        let body = &csv.parts[0].text;
        assert!(body.starts_with("2 rows, 2 columns."), "{body}");
        assert!(body.contains("city: Lyon; people: 522000\n"), "{body}");
        let cut = extract(
            FileKind::Md,
            "# T\n\néééééé".as_bytes(),
            &Limits {
                max_chars: 6,
                ..limits()
            },
        )
        .unwrap();
        assert_eq!(cut.parts[0].text, "# T\n\né");
        assert!(cut.truncated);
        assert_eq!(
            extract(FileKind::Txt, b"  \n ", &limits()).unwrap_err().0,
            "the file has no text"
        );
    }
}
