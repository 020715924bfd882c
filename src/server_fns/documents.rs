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

/// The query parameter of the upload address that names the conversation whose page posted the
/// form (without JavaScript): its documents are attached to it, and the browser goes back there.
pub const UPLOAD_FOR_CONVERSATION: &str = "conversation_id";

/// After a form upload on a conversation's page, the images uploaded (ids), which go with the
/// next message as the composer's `files`.
pub const PENDING_IMAGE: &str = "image";

/// The query parameter that brings a plain form's refused attach or detach back to the
/// conversation page.
pub const ATTACH_ERROR: &str = "attach_error";
/// The documents page's query parameter naming the conversation its Attach forms are for.
pub const ATTACH_TO: &str = "attach_to";
/// Where a plain form's refused delete or re-index is said on the documents page.
pub const FILE_ERROR: &str = "file_error";

/// Uploads files (multipart, one field named `file` per file). The page posts each file here
/// with XMLHttpRequest, one file per request, for the progress events that the server function
/// client does not give. Without JavaScript the documents page's form posts here and comes back
/// to that page with the outcome in its address (`uploaded`, `refused`, `upload_error`); a
/// conversation page's form names its conversation in the upload's address
/// (`?conversation_id=`): the documents are attached to it, and the browser goes back there,
/// with the images for the next message (`image`).
#[server(endpoint = "upload_files", input = MultipartFormData, output = JsonText)]
pub async fn upload_files(data: MultipartData) -> Result<UploadOutcome, AppError> {
    let state = super::app_state()?;
    let owner = super::me()?.id;
    let conversation = conversation_of_upload()?;
    let result = async {
        // Someone else's conversation (or none): refused before anything is kept.
        if let Some(conversation) = conversation {
            crate::service::owned_conversation(&state, owner, conversation).await?;
        }
        let multipart = data.into_inner().ok_or(AppError::Internal)?;
        let outcome = crate::documents::upload::receive(&state.documents, owner, multipart).await?;
        // The conversation was checked above and the files were just kept for this owner:
        // the store's attach (scoped to the owner) is enough, without re-reading either.
        if let Some(conversation) = conversation {
            for file in outcome.files.iter().filter(|f| !f.kind.is_image()) {
                if !state
                    .store
                    .attach_file(owner, conversation, file.id)
                    .await?
                {
                    // Deleted meanwhile.
                    return Err(AppError::NotFound("conversation".into()));
                }
            }
        }
        Ok(outcome)
    }
    .await;
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
            if conversation.is_some() {
                for image in outcome.files.iter().filter(|f| f.kind.is_image()) {
                    query.push((PENDING_IMAGE, image.id.to_string()));
                }
            }
        }
        Err(error) => query.push(("upload_error", error.to_string())),
    }
    match conversation {
        Some(conversation) => super::redirect_form(&format!("/c/{conversation}"), &query),
        None => super::redirect_form(UPLOAD_RESULT_PAGE, &query),
    }
    Ok(result.unwrap_or_default())
}

/// The conversation named in the upload's address, if any.
#[cfg(feature = "ssr")]
fn conversation_of_upload() -> Result<Option<Uuid>, AppError> {
    let Some(parts) = use_context::<http::request::Parts>() else {
        return Ok(None);
    };
    let named = url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .find(|(key, _)| key == UPLOAD_FOR_CONVERSATION)
        .map(|(_, value)| value.into_owned());
    named
        .map(|id| {
            id.parse()
                .map_err(|_| AppError::InvalidInput("the conversation's id is not valid".into()))
        })
        .transpose()
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

/// A plain form's browser goes back to the documents list (the reason under `file_error`).
#[cfg(feature = "ssr")]
fn back_to_documents<T>(result: &Result<T, AppError>) {
    super::answer_plain_form(
        result,
        |_| UPLOAD_RESULT_PAGE.into(),
        UPLOAD_RESULT_PAGE,
        FILE_ERROR,
    );
}

/// Deletes one of the person's files. Without JavaScript the documents page's Delete form posts
/// here, and that browser goes back to the list (with `file_error` when refused).
#[server(output = JsonText)]
pub async fn delete_file(id: Uuid) -> Result<(), AppError> {
    let result = async {
        let state = super::app_state()?;
        state.documents.delete(super::me()?.id, id).await
    }
    .await;
    back_to_documents(&result);
    result
}

/// Indexes one of the person's files again; a plain form's browser goes back to the list.
#[server(output = JsonText)]
pub async fn reindex_file(id: Uuid) -> Result<FileInfo, AppError> {
    let result = async {
        let state = super::app_state()?;
        state.documents.reindex(super::me()?.id, id).await
    }
    .await;
    back_to_documents(&result);
    result
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

/// Attaches (or with `attach` false, detaches) one of the person's files. Without JavaScript
/// the conversation page's Remove buttons post here, and that browser goes back to the
/// conversation; the documents page's Attach forms (`from_documents`) go back to that page,
/// so that more can be picked.
#[server(output = JsonText)]
pub async fn attach_file(
    conversation_id: Uuid,
    file_id: Uuid,
    attach: bool,
    #[server(default)] from_documents: bool,
) -> Result<Vec<FileInfo>, AppError> {
    let result = async {
        let state = super::app_state()?;
        crate::service::set_attached(&state, super::me()?.id, conversation_id, file_id, attach)
            .await
    }
    .await;
    // Back to the list at the document's row, or to the conversation.
    let (page, row) = if from_documents {
        (attach_page(conversation_id), format!("#file-{file_id}"))
    } else {
        (format!("/c/{conversation_id}"), String::new())
    };
    super::answer_plain_form(&result, |_| format!("{page}{row}"), &page, ATTACH_ERROR);
    result
}

/// The documents page picking documents for a conversation (without JavaScript: with it, the
/// conversation's own picker does this in place).
pub fn attach_page(conversation_id: Uuid) -> String {
    format!("{UPLOAD_RESULT_PAGE}?{ATTACH_TO}={conversation_id}")
}
