//! Documents for the page: list, delete, index again, search; a conversation's attached files.
//! Uploads go to `POST /api/v1/files` (the page needs its progress events).

use crate::error::AppError;
use crate::model::{FileInfo, SearchResults, UploadLimits};
use leptos::prelude::*;
use uuid::Uuid;

#[server]
pub async fn list_files() -> Result<Vec<FileInfo>, AppError> {
    let state = super::app_state()?;
    state.documents.list(state.current_user()).await
}

#[server]
pub async fn get_upload_limits() -> Result<UploadLimits, AppError> {
    let state = super::app_state()?;
    let settings = state.documents.settings();
    Ok(UploadLimits {
        max_file_bytes: settings.max_file_bytes,
        max_files: settings.max_files_per_upload,
    })
}

#[server]
pub async fn delete_file(id: Uuid) -> Result<(), AppError> {
    let state = super::app_state()?;
    state.documents.delete(state.current_user(), id).await
}

#[server]
pub async fn reindex_file(id: Uuid) -> Result<FileInfo, AppError> {
    let state = super::app_state()?;
    state.documents.reindex(state.current_user(), id).await
}

#[server]
pub async fn search_documents(query: String) -> Result<SearchResults, AppError> {
    let state = super::app_state()?;
    state
        .documents
        .search(state.current_user(), &query, None, 20)
        .await
}

#[server]
pub async fn conversation_files(conversation_id: Uuid) -> Result<Vec<FileInfo>, AppError> {
    let state = super::app_state()?;
    crate::service::attached_files(&state, state.current_user(), conversation_id).await
}

/// Attaches (or with `attach` false, detaches) one of the person's files.
#[server]
pub async fn attach_file(
    conversation_id: Uuid,
    file_id: Uuid,
    attach: bool,
) -> Result<Vec<FileInfo>, AppError> {
    let state = super::app_state()?;
    crate::service::set_attached(
        &state,
        state.current_user(),
        conversation_id,
        file_id,
        attach,
    )
    .await
}
