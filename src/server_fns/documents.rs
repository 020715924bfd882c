//! Documents for the page: upload, list, delete, index again, search; a conversation's
//! attached files.

use super::codec::JsonText;
use crate::error::AppError;
use crate::model::{FileInfo, SearchResults, UploadLimits, UploadOutcome};
use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use uuid::Uuid;

/// Where the documents page shows how a form upload (without JavaScript) went.
pub const UPLOAD_RESULT_PAGE: &str = "/documents";

/// Uploads files (multipart, one field named `file` per file). The page posts its form here
/// with XMLHttpRequest, one file per request, for the progress events that the server function
/// client does not give. Without JavaScript the documents page's form posts here and comes back
/// to that page with the outcome in its address (`uploaded`, `refused`, `upload_error`).
#[server(endpoint = "upload_files", input = MultipartFormData, output = JsonText)]
pub async fn upload_files(data: MultipartData) -> Result<UploadOutcome, AppError> {
    let state = super::app_state()?;
    let multipart = data.into_inner().ok_or(AppError::Internal)?;
    let result =
        crate::documents::upload::receive(&state.documents, super::me()?.id, multipart).await;
    if !super::from_plain_form() {
        return result;
    }
    let mut query: Vec<(&str, String)> = Vec::new();
    match &result {
        Ok(outcome) => {
            query.push(("uploaded", outcome.files.len().to_string()));
            for refused in &outcome.refused {
                query.push(("refused", format!("{}: {}", refused.name, refused.error)));
            }
        }
        Err(error) => query.push(("upload_error", error.to_string())),
    }
    super::redirect_form(UPLOAD_RESULT_PAGE, &query);
    Ok(result.unwrap_or_default())
}

#[server(output = JsonText)]
pub async fn list_files() -> Result<Vec<FileInfo>, AppError> {
    let state = super::app_state()?;
    state.documents.list(super::me()?.id).await
}

#[server(output = JsonText)]
pub async fn get_upload_limits() -> Result<UploadLimits, AppError> {
    let state = super::app_state()?;
    let settings = state.documents.settings();
    Ok(UploadLimits {
        max_file_bytes: settings.max_file_bytes,
        max_files: settings.max_files_per_upload,
    })
}

#[server(output = JsonText)]
pub async fn delete_file(id: Uuid) -> Result<(), AppError> {
    let state = super::app_state()?;
    state.documents.delete(super::me()?.id, id).await
}

#[server(output = JsonText)]
pub async fn reindex_file(id: Uuid) -> Result<FileInfo, AppError> {
    let state = super::app_state()?;
    state.documents.reindex(super::me()?.id, id).await
}

#[server(output = JsonText)]
pub async fn search_documents(query: String) -> Result<SearchResults, AppError> {
    let state = super::app_state()?;
    state
        .documents
        .search(super::me()?.id, &query, None, 20)
        .await
}

#[server(output = JsonText)]
pub async fn conversation_files(conversation_id: Uuid) -> Result<Vec<FileInfo>, AppError> {
    let state = super::app_state()?;
    crate::service::attached_files(&state, super::me()?.id, conversation_id).await
}

/// Attaches (or with `attach` false, detaches) one of the person's files.
#[server(output = JsonText)]
pub async fn attach_file(
    conversation_id: Uuid,
    file_id: Uuid,
    attach: bool,
) -> Result<Vec<FileInfo>, AppError> {
    let state = super::app_state()?;
    crate::service::set_attached(&state, super::me()?.id, conversation_id, file_id, attach).await
}
