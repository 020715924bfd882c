//! Documents as the page and the API see them: files, their indexing status, search hits.

use super::UnknownVariant;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a file of another kind is refused (the page says it before uploading, the server after).
pub const ACCEPTED_KINDS: &str =
    "only .txt, .md, .pdf, .docx and .csv files and .png, .jpg, .gif and .webp images are accepted";

/// The `accept` list of the page's file pickers.
pub const ACCEPTED_EXTENSIONS: &str =
    ".txt,.md,.markdown,.pdf,.docx,.csv,.png,.jpg,.jpeg,.gif,.webp";

/// Why a file over the size limit is refused (the page before uploading, the server while the
/// file streams in).
pub fn too_large_message(limit_bytes: u64) -> String {
    format!(
        "larger than {}, the limit for one file",
        crate::text::human_size(limit_bytes)
    )
}

/// The kinds of file people can upload, recognised from their content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum FileKind {
    Txt,
    Md,
    Pdf,
    Docx,
    Csv,
    /// Images: sent to vision models with the message they belong to; not indexed.
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl FileKind {
    pub const ALL: [FileKind; 9] = [
        FileKind::Txt,
        FileKind::Md,
        FileKind::Pdf,
        FileKind::Docx,
        FileKind::Csv,
        FileKind::Png,
        FileKind::Jpeg,
        FileKind::Gif,
        FileKind::Webp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Txt => "txt",
            FileKind::Md => "md",
            FileKind::Pdf => "pdf",
            FileKind::Docx => "docx",
            FileKind::Csv => "csv",
            FileKind::Png => "png",
            FileKind::Jpeg => "jpeg",
            FileKind::Gif => "gif",
            FileKind::Webp => "webp",
        }
    }

    /// An image (shown as a picture, given to vision models; it has no text to index).
    pub fn is_image(self) -> bool {
        matches!(
            self,
            FileKind::Png | FileKind::Jpeg | FileKind::Gif | FileKind::Webp
        )
    }

    /// The media type a download is served with.
    pub fn media_type(self) -> &'static str {
        match self {
            FileKind::Txt => "text/plain; charset=utf-8",
            FileKind::Md => "text/markdown; charset=utf-8",
            FileKind::Pdf => "application/pdf",
            FileKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileKind::Csv => "text/csv; charset=utf-8",
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Gif => "image/gif",
            FileKind::Webp => "image/webp",
        }
    }

    /// The kind a file name's extension claims (case ignored).
    pub fn from_name(name: &str) -> Option<FileKind> {
        let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match extension.as_str() {
            "txt" | "text" => FileKind::Txt,
            "md" | "markdown" => FileKind::Md,
            "pdf" => FileKind::Pdf,
            "docx" => FileKind::Docx,
            "csv" => FileKind::Csv,
            "png" => FileKind::Png,
            "jpg" | "jpeg" => FileKind::Jpeg,
            "gif" => FileKind::Gif,
            "webp" => FileKind::Webp,
            _ => return None,
        })
    }
}

impl TryFrom<String> for FileKind {
    type Error = UnknownVariant;
    fn try_from(value: String) -> Result<Self, UnknownVariant> {
        FileKind::ALL
            .into_iter()
            .find(|k| k.as_str() == value)
            .ok_or(UnknownVariant(value))
    }
}

/// Where a file is in its indexing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum FileStatus {
    /// Waiting for an indexer.
    Queued,
    /// Its text is being read.
    Extracting,
    /// Its chunks are being embedded (keyword search already finds them).
    Embedding,
    Ready,
    /// See `error`.
    Failed,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Queued => "queued",
            FileStatus::Extracting => "extracting",
            FileStatus::Embedding => "embedding",
            FileStatus::Ready => "ready",
            FileStatus::Failed => "failed",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, FileStatus::Ready | FileStatus::Failed)
    }
}

impl TryFrom<String> for FileStatus {
    type Error = UnknownVariant;
    fn try_from(value: String) -> Result<Self, UnknownVariant> {
        Ok(match value.as_str() {
            "queued" => FileStatus::Queued,
            "extracting" => FileStatus::Extracting,
            "embedding" => FileStatus::Embedding,
            "ready" => FileStatus::Ready,
            "failed" => FileStatus::Failed,
            _ => return Err(UnknownVariant(value)),
        })
    }
}

/// An uploaded file and its indexing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FileInfo {
    pub id: Uuid,
    #[serde(skip)]
    pub owner_id: Uuid,
    /// The name as uploaded, cleaned for display (no folders, no control characters).
    pub name: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub kind: FileKind,
    pub size_bytes: i64,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: FileStatus,
    /// Why indexing failed, or what the person can do about it.
    pub error: Option<String>,
    /// Pages of a PDF.
    pub pages: Option<i32>,
    pub chunk_count: i32,
    /// Chunks embedded so far (for the progress of `embedding`).
    pub embedded_count: i32,
    pub embedding_model: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One passage found by a search, with where it comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SearchHit {
    pub chunk_id: Uuid,
    pub file_id: Uuid,
    pub file_name: String,
    /// The chunk's place in its file (0-based).
    pub ordinal: i32,
    /// The PDF page (1-based) the passage starts on.
    pub page: Option<i32>,
    /// The heading the passage sits under.
    pub section: Option<String>,
    /// The whole passage.
    pub text: String,
    /// A short extract around the words searched for.
    pub snippet: String,
    /// Where the searched words are in `snippet`: [start, end) in characters. The page marks
    /// them; the snippet itself is plain text.
    pub highlights: Vec<(u32, u32)>,
    /// Reciprocal-rank fusion of the keyword and vector rankings (higher is better).
    pub score: f64,
    /// Rank (1-based) in the keyword and in the vector ranking, when it was in them.
    pub keyword_rank: Option<u32>,
    pub vector_rank: Option<u32>,
}

/// What a search found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SearchResults {
    pub query: String,
    /// `hybrid`, or `keyword` when no vector ranking could be made.
    pub mode: String,
    /// Why the search is keyword-only, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub hits: Vec<SearchHit>,
}

/// What the page needs to know before an upload.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UploadLimits {
    pub max_file_bytes: u64,
    pub max_files: usize,
}

/// A file of an upload that was not kept, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RefusedFile {
    pub name: String,
    pub error: String,
    /// Refused for its size (the upload answers 413 when every file was).
    #[serde(default)]
    pub too_large: bool,
}

/// What became of the files of one upload.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UploadOutcome {
    /// The files kept, queued for indexing.
    pub files: Vec<FileInfo>,
    pub refused: Vec<RefusedFile>,
}

/// A passage of a document put in the prompt of an answer: what its citation `[n]` opens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Passage {
    /// The number the answer cites it by (1-based).
    pub n: u32,
    pub chunk_id: Uuid,
    pub file_id: Uuid,
    pub file_name: String,
    pub page: Option<i32>,
    pub section: Option<String>,
    pub text: String,
}

/// Where a passage is, for people: "handbook.pdf, page 3" or "notes.md, Holidays".
fn place(file_name: &str, page: Option<i32>, section: Option<&str>) -> String {
    match (page, section) {
        (Some(page), _) => format!("{file_name}, page {page}"),
        (None, Some(section)) => format!("{file_name}, {section}"),
        (None, None) => file_name.to_string(),
    }
}

impl Passage {
    pub fn place(&self) -> String {
        place(&self.file_name, self.page, self.section.as_deref())
    }
}

impl SearchHit {
    pub fn place(&self) -> String {
        place(&self.file_name, self.page, self.section.as_deref())
    }
}

/// The documents an answer was grounded in, stored with it (JSON; NULL when there were none).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Sources {
    pub passages: Vec<Passage>,
    /// Passages found but left out to fit the model's context window.
    #[serde(default)]
    pub omitted: u32,
    /// The context window (tokens) the prompt was fitted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_tokens: Option<u32>,
}

impl Sources {
    pub fn is_empty(&self) -> bool {
        self.passages.is_empty() && self.omitted == 0
    }

    /// The column's value: JSON, or NULL for none.
    pub fn to_column(&self) -> Option<String> {
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    /// What the page says when passages had to be left out.
    pub fn note(&self) -> Option<String> {
        (self.omitted > 0).then(|| {
            format!(
                "{} more passage{} left out to fit the model's context window{}",
                self.omitted,
                if self.omitted == 1 { " was" } else { "s were" },
                self.window_tokens
                    .map(|w| format!(" ({w} tokens)"))
                    .unwrap_or_default()
            )
        })
    }
}

impl TryFrom<Option<String>> for Sources {
    type Error = serde_json::Error;
    fn try_from(value: Option<String>) -> Result<Self, Self::Error> {
        match value {
            None => Ok(Sources::default()),
            Some(text) => serde_json::from_str(&text),
        }
    }
}

/// A file sent with a message: an image the model looks at, or a document the conversation's
/// answers draw on. What it was when sent is kept with the message (its card still names a file
/// deleted since).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Attachment {
    pub file_id: Uuid,
    pub name: String,
    pub kind: FileKind,
    pub size_bytes: i64,
}

impl Attachment {
    pub fn of(file: &FileInfo) -> Attachment {
        Attachment {
            file_id: file.id,
            name: file.name.clone(),
            kind: file.kind,
            size_bytes: file.size_bytes,
        }
    }

    /// Where the page shows the file: inline for an image (a picture), else a download.
    pub fn content_url(&self) -> String {
        if self.kind.is_image() {
            format!("/api/v1/files/{}/content?inline=true", self.file_id)
        } else {
            format!("/api/v1/files/{}/content", self.file_id)
        }
    }
}

/// The files of a message, stored as JSON text (NULL when there are none).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Attachments(pub Vec<Attachment>);

impl Attachments {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn images(&self) -> impl Iterator<Item = &Attachment> {
        self.0.iter().filter(|a| a.kind.is_image())
    }

    pub fn documents(&self) -> impl Iterator<Item = &Attachment> {
        self.0.iter().filter(|a| !a.kind.is_image())
    }

    /// The column's value: JSON, or NULL for none.
    pub fn to_column(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| serde_json::to_string(&self.0).unwrap_or_default())
    }
}

impl TryFrom<Option<String>> for Attachments {
    type Error = serde_json::Error;
    fn try_from(value: Option<String>) -> Result<Self, Self::Error> {
        match value {
            None => Ok(Attachments::default()),
            Some(text) => serde_json::from_str(&text).map(Attachments),
        }
    }
}
