//! Receiving an upload: the multipart fields named `file`, each streamed to a temporary file and
//! refused as soon as it passes the size limit, then checked and kept by [`Documents::keep`].
//! One path for `POST /api/v1/files` and the page's `upload_files` server function.

use super::{Documents, Received, RefusedFile, UploadOutcome};
use crate::documents::detect::clean_name;
use crate::error::{AppError, AppResult};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// The body limit of an upload: every file at its limit, plus room for the multipart framing.
pub fn upload_limit(settings: &crate::config::DocumentSettings) -> usize {
    let files = settings
        .max_file_bytes
        .saturating_mul(settings.max_files_per_upload as u64);
    (files.saturating_add(1024 * 1024)).min(usize::MAX as u64) as usize
}

/// Reads every file of `multipart` and keeps those that pass. Nothing is kept until the whole
/// upload has been read: an upload cut halfway, or with too many files, keeps none.
pub async fn receive(
    documents: &Documents,
    owner: Uuid,
    mut multipart: multer::Multipart<'_>,
) -> AppResult<UploadOutcome> {
    let settings = documents.settings();
    let incoming = documents.storage.incoming_dir();
    let mut received: Vec<Received> = Vec::new();
    let mut refused: Vec<RefusedFile> = Vec::new();
    let mut count = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if !matches!(field.name(), Some("file" | "files" | "file[]")) {
            continue;
        }
        // A form whose picker was left empty sends one field with no name and no bytes.
        if field.file_name().is_none_or(str::is_empty) {
            while field.chunk().await.map_err(multipart_error)?.is_some() {}
            continue;
        }
        count += 1;
        if count > settings.max_files_per_upload {
            // Everything read so far is dropped with its temporary file.
            return Err(AppError::InvalidInput(format!(
                "at most {} files at once",
                settings.max_files_per_upload
            )));
        }
        let name = clean_name(field.file_name().unwrap_or("file"));
        let temp = {
            let incoming = incoming.clone();
            tokio::task::spawn_blocking(move || tempfile::NamedTempFile::new_in(incoming))
                .await
                .map_err(|_| AppError::Internal)?
                .map_err(io_error)?
        };
        let mut out = tokio::fs::File::from_std(temp.reopen().map_err(io_error)?);
        let mut size: u64 = 0;
        let mut too_large = false;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            size += chunk.len() as u64;
            if size > settings.max_file_bytes {
                // Read on (the route's own limit bounds it) but keep nothing.
                too_large = true;
                continue;
            }
            out.write_all(&chunk).await.map_err(io_error)?;
        }
        out.flush().await.map_err(io_error)?;
        drop(out);
        if too_large {
            refused.push(RefusedFile {
                name,
                error: crate::model::too_large_message(settings.max_file_bytes),
                too_large: true,
            });
            continue;
        }
        received.push(Received { name, temp });
    }
    if received.is_empty() && refused.is_empty() {
        return Err(AppError::InvalidInput(
            "the upload holds no file: send each file in a field named `file`".into(),
        ));
    }
    let (files, mut more_refused) = documents.keep(owner, received).await?;
    refused.append(&mut more_refused);
    Ok(UploadOutcome { files, refused })
}

/// The refusal of an upload none of whose files was kept (413 when each was too large).
pub fn nothing_kept(refused: &[RefusedFile]) -> AppError {
    let message = match refused {
        [one] => format!("{}: {}", one.name, one.error),
        _ => "no file was accepted".to_string(),
    };
    if refused.iter().all(|r| r.too_large) {
        AppError::TooLarge(message)
    } else {
        AppError::InvalidInput(message)
    }
}

fn multipart_error(error: multer::Error) -> AppError {
    let past_limit = match &error {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => true,
        multer::Error::StreamReadFailed(cause) => is_length_limit(cause.as_ref()),
        _ => false,
    };
    if past_limit {
        AppError::TooLarge("the upload is larger than this server accepts".into())
    } else {
        AppError::InvalidInput(format!(
            "the upload was cut off or is not valid multipart ({error})"
        ))
    }
}

/// Whether a body error is the body limit's (somewhere in its chain of causes; the server
/// function's body stream keeps only its text).
fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>()
            || error.to_string().contains("length limit exceeded")
        {
            return true;
        }
        cause = error.source();
    }
    false
}

fn io_error(error: std::io::Error) -> AppError {
    tracing::error!(%error, "an upload could not be written to a temporary file");
    AppError::Unavailable("the upload cannot be stored now".into())
}

/// The multipart boundary of a request's Content-Type, or a clear refusal.
pub fn boundary(headers: &http::HeaderMap) -> AppResult<String> {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| multer::parse_boundary(value).ok())
        .ok_or_else(|| {
            AppError::InvalidInput(
                "send the files as multipart/form-data, each in a field named `file`".into(),
            )
        })
}
