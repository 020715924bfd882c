//! Real small files for tests and benchmarks: a DOCX with the parts Word writes, and a PDF
//! written by pdf_oxide, both from text given by the caller.

use std::io::Write;

/// A DOCX whose body is `paragraphs` as (style, text): style "" for plain text, "Title" or
/// "Heading1"…"Heading6" for headings. Text is XML-escaped here.
pub fn docx(paragraphs: &[(&str, &str)]) -> Vec<u8> {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let body: String = paragraphs
        .iter()
        .map(|(style, text)| {
            let style = if style.is_empty() {
                String::new()
            } else {
                format!("<w:pPr><w:pStyle w:val=\"{style}\"/></w:pPr>")
            };
            format!(
                "<w:p>{style}<w:r><w:t xml:space=\"preserve\">{}</w:t></w:r></w:p>",
                escape(text)
            )
        })
        .collect();
    docx_with_document(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
         <w:body>{body}</w:body></w:document>"
    ))
}

/// A DOCX package around this `word/document.xml`.
pub fn docx_with_document(document: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let parts: [(&str, &str); 3] = [
        (
            "[Content_Types].xml",
            "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
             <Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>",
        ),
        (
            "_rels/.rels",
            "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>",
        ),
        ("word/document.xml", document),
    ];
    for (name, content) in parts {
        zip.start_file(name, options).expect("a zip entry");
        zip.write_all(content.as_bytes()).expect("a zip write");
    }
    zip.finish().expect("a zip").into_inner()
}

/// A zip bomb dressed as a DOCX: a document.xml of `expanded` spaces, compressed to a few KB.
pub fn docx_bomb(expanded: usize) -> Vec<u8> {
    docx_with_document(&" ".repeat(expanded))
}

/// A PDF of this text (pdf_oxide lays it out on as many pages as it needs).
pub fn pdf(text: &str) -> Vec<u8> {
    pdf_oxide::api::Pdf::from_text(text)
        .expect("a PDF from text")
        .into_bytes()
}

/// A real 1×1 PNG (70 bytes), for images sent to vision models.
pub const PIXEL_PNG: &[u8] = b"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0d\x49\x44\x41\x54\x78\xda\x63\x64\x60\xf8\x5f\x0f\x00\x02\x87\x01\x80\xeb\x47\xba\x92\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";

/// [`PIXEL_PNG`] as Ollama receives it (base64).
pub const PIXEL_PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
