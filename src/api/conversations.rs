use super::{IdPath, Json};
use crate::error::AppResult;
use crate::model::{Conversation, ConversationWithMessages};
use crate::service;
use crate::state::AppState;
use axum::{extract::State, http::StatusCode};
use serde::Deserialize;

pub async fn list(State(state): State<AppState>) -> AppResult<axum::Json<Vec<Conversation>>> {
    Ok(axum::Json(
        service::list_conversations(&state, state.current_user()).await?,
    ))
}

pub async fn get(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> AppResult<axum::Json<ConversationWithMessages>> {
    Ok(axum::Json(
        service::get_conversation(&state, state.current_user(), id).await?,
    ))
}

#[derive(Deserialize)]
pub struct Rename {
    title: String,
}

pub async fn rename(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(body): Json<Rename>,
) -> AppResult<axum::Json<Conversation>> {
    Ok(axum::Json(
        service::rename_conversation(&state, state.current_user(), id, &body.title).await?,
    ))
}

pub async fn delete(State(state): State<AppState>, IdPath(id): IdPath) -> AppResult<StatusCode> {
    service::delete_conversation(&state, state.current_user(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
