//! Files: upload (multipart, read by `documents::upload`), list, read, download, delete,
//! index again; and search over them.

use super::IdPath;
use crate::auth::Me;
use crate::documents::upload;
use crate::error::{AppError, AppResult};
use crate::model::{FileInfo, SearchResults};
use crate::state::AppState;
use axum::{
    extract::{Query, Request, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

/// POST /api/v1/files: multipart, one field named `file` per file. 201 with the stored files
/// (`files`) and the refused ones with their reason (`refused`); when none was stored, 422 (or
/// 413 when every one was too large) with the same `refused` list.
#[utoipa::path(
    post,
    path = "/api/v1/files",
    tag = "files",
    operation_id = "files_upload",
    responses((status = 200, description = "See the description"), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn upload(
    Me(me): Me,
    State(state): State<AppState>,
    request: Request,
) -> AppResult<Response> {
    let boundary = upload::boundary(request.headers())?;
    let multipart = multer::Multipart::new(request.into_body().into_data_stream(), boundary);
    let outcome = upload::receive(&state.documents, me.id, multipart).await?;
    if outcome.files.is_empty() {
        let error = upload::nothing_kept(&outcome.refused);
        let body = json!({
            "error": { "code": error.code(), "message": error.to_string() },
            "refused": outcome.refused,
        });
        return Ok((error.status_code(), axum::Json(body)).into_response());
    }
    Ok((StatusCode::CREATED, axum::Json(outcome)).into_response())
}

/// GET /api/v1/files: the person's files, newest first, with their indexing status.
#[utoipa::path(
    get,
    path = "/api/v1/files",
    tag = "files",
    operation_id = "files_list",
    responses((status = 200, body = Vec<FileInfo>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn list(
    Me(me): Me,
    State(state): State<AppState>,
) -> AppResult<axum::Json<Vec<FileInfo>>> {
    Ok(axum::Json(state.documents.list(me.id).await?))
}

/// GET /api/v1/files/{id}
#[utoipa::path(
    get,
    path = "/api/v1/files/{id}",
    tag = "files",
    operation_id = "files_get",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = FileInfo), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn get(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<FileInfo>> {
    Ok(axum::Json(state.documents.get(me.id, id).await?.info))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentQuery {
    /// Show an image in the page (`true`) instead of downloading it. Only images: any other
    /// kind is always an attachment.
    #[serde(default)]
    inline: bool,
}

/// GET /api/v1/files/{id}/content: the bytes as uploaded, with their type and `nosniff`, as an
/// attachment; an image with `?inline=true` is shown (the thumbnails of a message). Never
/// script: a sandboxing Content-Security-Policy goes with every file.
#[utoipa::path(
    get,
    path = "/api/v1/files/{id}/content",
    tag = "files",
    operation_id = "files_content",
    params(("id" = uuid::Uuid, Path, description = "The id"), ContentQuery),
    responses((status = 200, description = "See the description"), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn content(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Query(query): Query<ContentQuery>,
) -> AppResult<Response> {
    let inline = query.inline;
    let (file, bytes) = state.documents.content(me.id, id).await?;
    let kind = file.info.kind;
    let mut disposition = content_disposition(&file.info.name);
    if inline && kind.is_image() {
        disposition = disposition.replacen("attachment", "inline", 1);
    }
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.media_type()),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition)
            .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; frame-ancestors 'none'; sandbox",
        ),
    );
    // A file's bytes never change (a new upload is a new id): an image is kept by the
    // browser for an hour, so a conversation's thumbnails load once; documents are not kept.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if kind.is_image() {
            "private, max-age=3600"
        } else {
            "private, no-store"
        }),
    );
    Ok(response)
}

/// `attachment` with an ASCII fallback name (quotes, backslashes and anything else outside
/// printable ASCII replaced) and the exact name in RFC 5987 form.
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// DELETE /api/v1/files/{id}: the bytes, the text, the chunks and the vectors.
#[utoipa::path(
    delete,
    path = "/api/v1/files/{id}",
    tag = "files",
    operation_id = "files_delete",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 204), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn delete(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<StatusCode> {
    state.documents.delete(me.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /api/v1/files/{id}/reindex: index a ready or failed file again.
#[utoipa::path(
    post,
    path = "/api/v1/files/{id}/reindex",
    tag = "files",
    operation_id = "files_reindex",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = FileInfo), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn reindex(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<FileInfo>> {
    Ok(axum::Json(state.documents.reindex(me.id, id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    limit: Option<usize>,
    file: Option<uuid::Uuid>,
}

/// GET /api/v1/search?q=&limit=&file=: the best passages of the person's documents.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "files",
    operation_id = "files_search",
    params(SearchQuery),
    responses((status = 200, body = SearchResults), (status = 401, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn search(
    Me(me): Me,
    State(state): State<AppState>,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<axum::Json<SearchResults>> {
    let Query(query) = query.map_err(|rejection| AppError::InvalidInput(rejection.body_text()))?;
    Ok(axum::Json(
        state
            .documents
            .search(me.id, &query.q, query.file, query.limit.unwrap_or(10))
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_name_the_file_safely() {
        assert_eq!(
            content_disposition("report \"final\".pdf"),
            "attachment; filename=\"report _final_.pdf\"; filename*=UTF-8''report%20%22final%22.pdf"
        );
        assert_eq!(
            content_disposition("été\r\n.txt"),
            "attachment; filename=\"_t___.txt\"; filename*=UTF-8''%C3%A9t%C3%A9%0D%0A.txt"
        );
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attach {
    file_id: uuid::Uuid,
}

/// GET /api/v1/conversations/{id}/files: the documents its answers are grounded in.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/files",
    tag = "files",
    operation_id = "files_attached",
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = Vec<FileInfo>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn attached(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<Vec<FileInfo>>> {
    Ok(axum::Json(
        crate::service::attached_files(&state, me.id, id).await?,
    ))
}

/// POST /api/v1/conversations/{id}/files with `{"file_id"}`: attach one of the person's files.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/files",
    tag = "files",
    operation_id = "files_attach",
    request_body = Attach,
    params(("id" = uuid::Uuid, Path, description = "The id")),
    responses((status = 200, body = Vec<FileInfo>), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 422, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn attach(
    Me(me): Me,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    super::Json(body): super::Json<Attach>,
) -> AppResult<axum::Json<Vec<FileInfo>>> {
    Ok(axum::Json(
        crate::service::set_attached(&state, me.id, id, body.file_id, true).await?,
    ))
}

/// DELETE /api/v1/conversations/{id}/files/{file_id}: the file stays; the conversation stops
/// using it.
#[utoipa::path(
    delete,
    path = "/api/v1/conversations/{id}/files/{file_id}",
    tag = "files",
    operation_id = "files_detach",
    params(("id" = uuid::Uuid, Path, description = "The conversation"), ("file_id" = uuid::Uuid, Path, description = "The file")),
    responses((status = 204), (status = 401, body = crate::api::openapi::ErrorBody), (status = 404, body = crate::api::openapi::ErrorBody), (status = 429, body = crate::api::openapi::ErrorBody))
)]
pub async fn detach(
    Me(me): Me,
    State(state): State<AppState>,
    ids: Result<
        axum::extract::Path<(uuid::Uuid, uuid::Uuid)>,
        axum::extract::rejection::PathRejection,
    >,
) -> AppResult<StatusCode> {
    let axum::extract::Path((id, file_id)) =
        ids.map_err(|_| AppError::NotFound("resource".into()))?;
    if !state.store.detach_file(me.id, id, file_id).await? {
        return Err(AppError::NotFound("attached file".into()));
    }
    Ok(StatusCode::NO_CONTENT)
}
