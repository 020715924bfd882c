//! Listing, reading, renaming and deleting conversations.

use super::{
    check_options, finish_wait, owned_conversation, validate_system_prompt, validate_title,
};
use crate::config::MAX_MESSAGES_PER_PAGE;
use crate::db::{StoredVersion, TurnError};
use crate::error::{AppError, AppResult};
use crate::model::{
    AnswerVersions, Conversation, ConversationWithMessages, GenerationOptions, Message,
    MessagePage, MessageStatus,
};
use crate::state::AppState;
use uuid::Uuid;

pub async fn list_conversations(state: &AppState, owner: Uuid) -> AppResult<Vec<Conversation>> {
    Ok(state.store.list_conversations(owner).await?)
}

/// A whole conversation, every message included (exports, regeneration).
pub async fn get_conversation(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
) -> AppResult<ConversationWithMessages> {
    let conversation = owned_conversation(state, owner, id).await?;
    let mut messages = state.store.list_messages(owner, id).await?;
    show_live_text(state, owner, &mut messages);
    with_documents(state, owner, conversation, messages, false).await
}

/// A conversation with its latest `limit` messages (or those just before the message
/// `before`): what its page opens with, whatever its length.
pub async fn conversation_page(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
    before: Option<Uuid>,
    limit: usize,
) -> AppResult<ConversationWithMessages> {
    check_page_limit(limit)?;
    let conversation = owned_conversation(state, owner, id).await?;
    let MessagePage {
        messages,
        has_older,
    } = page_of(state, owner, id, before, limit).await?;
    let mut page = with_documents(state, owner, conversation, messages, has_older).await?;
    with_versions(state, owner, id, &mut page.messages).await?;
    Ok(page)
}

/// Up to `limit` (1 to `MAX_MESSAGES_PER_PAGE`) of a conversation's messages: its latest, or
/// with `before` those just before that message, which must be one of the conversation's.
pub async fn message_page(
    state: &AppState,
    owner: Uuid,
    conversation_id: Uuid,
    before: Option<Uuid>,
    limit: usize,
) -> AppResult<MessagePage> {
    check_page_limit(limit)?;
    owned_conversation(state, owner, conversation_id).await?;
    let mut page = page_of(state, owner, conversation_id, before, limit).await?;
    with_versions(state, owner, conversation_id, &mut page.messages).await?;
    Ok(page)
}

/// Marks each answer among `messages` that has other versions with where it stands among
/// them (`Message::versions`). One query, by an index, whatever the conversation's length.
pub async fn with_versions(
    state: &AppState,
    owner: Uuid,
    conversation_id: Uuid,
    messages: &mut [Message],
) -> AppResult<()> {
    let stored = state.store.answer_versions(owner, conversation_id).await?;
    place_versions(&stored, messages);
    Ok(())
}

/// `stored`: oldest first, as the store reads them. The answer shown now takes its place among
/// them by the time its first message was written, as each version's is.
pub fn place_versions(stored: &[StoredVersion], messages: &mut [Message]) {
    let mut answered: Vec<Uuid> = stored.iter().map(|v| v.answers_id).collect();
    answered.sort_unstable();
    answered.dedup();
    for person_message in answered {
        let versions: Vec<&StoredVersion> = stored
            .iter()
            .filter(|v| v.answers_id == person_message)
            .collect();
        let Some(shown_first) = versions[0].shown_first else {
            continue;
        };
        let Some(answer) = messages.iter_mut().find(|m| m.id == shown_first) else {
            continue;
        };
        let place = versions.partition_point(|v| v.created_at <= answer.created_at);
        answer.versions = Some(AnswerVersions {
            current: place as u32 + 1,
            count: versions.len() as u32 + 1,
            previous: place.checked_sub(1).map(|i| versions[i].id),
            next: versions.get(place).map(|v| v.id),
        });
    }
}

/// Shows another version of an answer (`version_id`, from a message's `versions`) in place of
/// the one shown, which is kept as a version in turn. Returns the conversation as its page
/// opens: the latest `limit` messages.
pub async fn show_answer_version(
    state: &AppState,
    owner: Uuid,
    version_id: Uuid,
    limit: usize,
) -> AppResult<ConversationWithMessages> {
    let conversation_id = state
        .store
        .show_answer_version(owner, version_id)
        .await
        .map_err(|e| match e {
            TurnError::NotFound => AppError::NotFound("answer version".into()),
            TurnError::Busy => AppError::Conflict(
                "an answer is still being written in this conversation; show another version once it has ended"
                    .into(),
            ),
            TurnError::Db(error) => AppError::from(error),
        })?;
    conversation_page(state, owner, conversation_id, None, limit).await
}

fn check_page_limit(limit: usize) -> AppResult<()> {
    if (1..=MAX_MESSAGES_PER_PAGE).contains(&limit) {
        Ok(())
    } else {
        Err(AppError::InvalidInput(format!(
            "limit must be from 1 to {MAX_MESSAGES_PER_PAGE}"
        )))
    }
}

/// `message_page` of a conversation already known to be the owner's, with a checked limit.
async fn page_of(
    state: &AppState,
    owner: Uuid,
    conversation_id: Uuid,
    before: Option<Uuid>,
    limit: usize,
) -> AppResult<MessagePage> {
    if let Some(before) = before {
        let known = state
            .store
            .get_message(owner, before)
            .await?
            .is_some_and(|m| m.conversation_id == conversation_id);
        if !known {
            return Err(AppError::NotFound("message".into()));
        }
    }
    // One more than asked says whether there are older ones.
    let mut messages = state
        .store
        .message_page(owner, conversation_id, before, limit as i64 + 1)
        .await?;
    let has_older = messages.len() > limit;
    if has_older {
        messages.remove(0);
    }
    show_live_text(state, owner, &mut messages);
    Ok(MessagePage {
        messages,
        has_older,
    })
}

/// An answer being written here shows its text so far, not only what was last flushed.
fn show_live_text(state: &AppState, owner: Uuid, messages: &mut [Message]) {
    for message in messages
        .iter_mut()
        .filter(|m| m.status == MessageStatus::Streaming)
    {
        if let Some(live) = state
            .generations
            .get(message.id)
            .filter(|g| g.owner_id == owner)
        {
            message.content = live.content();
        }
    }
}

/// The conversation's documents and its assistant's, beside its messages.
async fn with_documents(
    state: &AppState,
    owner: Uuid,
    conversation: Conversation,
    messages: Vec<Message>,
    has_older: bool,
) -> AppResult<ConversationWithMessages> {
    let files = state
        .store
        .conversation_files(owner, conversation.id)
        .await?;
    let knowledge = match conversation.assistant_id {
        Some(assistant) => state.store.assistant_files(owner, assistant).await?,
        None => Vec::new(),
    };
    let branched_from_title = match conversation.branched_from {
        Some(source) => state
            .store
            .get_conversation(owner, source)
            .await?
            .map(|source| source.title),
        None => None,
    };
    Ok(ConversationWithMessages {
        conversation,
        messages,
        has_older,
        files,
        knowledge,
        branched_from_title,
    })
}

pub async fn rename_conversation(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
    title: &str,
) -> AppResult<Conversation> {
    let title = validate_title(title)?;
    state
        .store
        .rename_conversation(owner, id, &title)
        .await?
        .ok_or_else(|| AppError::NotFound("conversation".into()))
}

/// A branch: a new conversation that holds the conversation of `message_id` up to and
/// including that message, with its model, instructions, settings, assistant and documents,
/// to continue apart. The conversation itself is left as it is.
pub async fn branch_conversation(
    state: &AppState,
    owner: Uuid,
    message_id: Uuid,
) -> AppResult<crate::db::transfer::Branch> {
    // The store finds the message and its conversation for the owner, under the lock it copies
    // them with: no read beforehand that could be stale by then.
    state
        .store
        .branch_conversation(owner, message_id, branch_title)
        .await
        .map_err(|e| match e {
            TurnError::NotFound => AppError::NotFound("message".into()),
            TurnError::Busy => AppError::Conflict(
                "this answer is still being written; branch from it once it has ended".into(),
            ),
            TurnError::Db(error) => AppError::from(error),
        })
}

/// What a branch is called: its conversation's title, marked, within the length of a title.
pub fn branch_title(title: &str) -> String {
    const MARK: &str = " (branch)";
    let keep = crate::model::MAX_TITLE_CHARS - MARK.chars().count();
    let mut branch: String = title.chars().take(keep).collect();
    branch.truncate(branch.trim_end().len());
    branch.push_str(MARK);
    branch
}

pub async fn delete_conversation(state: &AppState, owner: Uuid, id: Uuid) -> AppResult<()> {
    // Stop what is still being written here first, so no task writes into a deleted conversation.
    for message in state.store.list_messages(owner, id).await? {
        if message.status == MessageStatus::Streaming && state.generations.stop(owner, message.id) {
            state
                .generations
                .wait_finished(message.id, finish_wait(state))
                .await;
        }
    }
    if state.store.delete_conversation(owner, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("conversation".into()))
    }
}

/// Sets a conversation's system prompt and sampling options, used by its next turns.
pub async fn update_conversation_settings(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
    system_prompt: Option<&str>,
    options: GenerationOptions,
) -> AppResult<Conversation> {
    let system_prompt = validate_system_prompt(system_prompt)?;
    check_options(&options)?;
    state
        .store
        .update_conversation_settings(owner, id, system_prompt.as_deref(), &options)
        .await?
        .ok_or_else(|| AppError::NotFound("conversation".into()))
}

/// The documents attached to one of the person's conversations.
pub async fn attached_files(
    state: &AppState,
    owner: Uuid,
    conversation_id: Uuid,
) -> AppResult<Vec<crate::model::FileInfo>> {
    owned_conversation(state, owner, conversation_id).await?;
    Ok(state
        .store
        .conversation_files(owner, conversation_id)
        .await?)
}

/// Attaches one of the person's files to one of their conversations (or, with `attach` false,
/// detaches it); the conversation's files after the change. Another person's ids are 404.
pub async fn set_attached(
    state: &AppState,
    owner: Uuid,
    conversation_id: Uuid,
    file_id: Uuid,
    attach: bool,
) -> AppResult<Vec<crate::model::FileInfo>> {
    owned_conversation(state, owner, conversation_id).await?;
    state.documents.get(owner, file_id).await?;
    if attach {
        state
            .store
            .attach_file(owner, conversation_id, file_id)
            .await?;
    } else {
        state
            .store
            .detach_file(owner, conversation_id, file_id)
            .await?;
    }
    Ok(state
        .store
        .conversation_files(owner, conversation_id)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::{branch_title, place_versions};
    use crate::db::StoredVersion;
    use crate::model::{AnswerVersions, Message, MessageStatus, Role, MAX_TITLE_CHARS};
    use chrono::{DateTime, Duration, Utc};
    use uuid::Uuid;

    fn message(role: Role, at: DateTime<Utc>) -> Message {
        Message {
            id: Uuid::now_v7(),
            conversation_id: Uuid::nil(),
            owner_id: Uuid::nil(),
            role,
            content: "text".into(),
            model: None,
            status: MessageStatus::Complete,
            error: None,
            tool_calls: Default::default(),
            tool_name: None,
            thinking: None,
            charts: Default::default(),
            sources: Default::default(),
            attachments: Default::default(),
            metrics: Default::default(),
            created_at: at,
            updated_at: at,
            html: None,
            versions: None,
        }
    }

    fn version(answers: &Message, shown: Option<&Message>, at: DateTime<Utc>) -> StoredVersion {
        StoredVersion {
            id: Uuid::now_v7(),
            answers_id: answers.id,
            created_at: at,
            shown_first: shown.map(|m| m.id),
        }
    }

    #[test]
    fn an_answer_takes_its_place_among_its_versions_by_time() {
        let t = |s: i64| DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(s);
        let question = message(Role::User, t(0));
        // Shown: the answer written second; versions from before and after it.
        let answer = message(Role::Assistant, t(20));
        let follow_up = message(Role::User, t(30));
        let follow_answer = message(Role::Assistant, t(31));
        let mut shown = vec![
            question.clone(),
            answer.clone(),
            follow_up.clone(),
            follow_answer,
        ];
        let earlier = version(&question, Some(&answer), t(10));
        let later = version(&question, Some(&answer), t(40));
        // The follow-up's own version: its answer shown has none before it.
        let follow_later = version(&follow_up, Some(&shown[3]), t(50));
        place_versions(
            &[earlier.clone(), later.clone(), follow_later.clone()],
            &mut shown,
        );
        assert_eq!(
            shown[1].versions,
            Some(AnswerVersions {
                current: 2,
                count: 3,
                previous: Some(earlier.id),
                next: Some(later.id),
            })
        );
        assert_eq!(
            shown[3].versions,
            Some(AnswerVersions {
                current: 1,
                count: 2,
                previous: None,
                next: Some(follow_later.id),
            })
        );
        assert_eq!(shown[0].versions, None);
        assert_eq!(shown[2].versions, None);

        // An answer not on this page, or none after the person's message: nothing is marked.
        let mut page = vec![follow_up.clone()];
        place_versions(std::slice::from_ref(&follow_later), &mut page);
        assert_eq!(page[0].versions, None);
        let mut alone = vec![question.clone()];
        place_versions(&[version(&question, None, t(10))], &mut alone);
        assert_eq!(alone[0].versions, None);
    }

    #[test]
    fn a_branch_is_named_after_its_conversation_within_a_titles_length() {
        assert_eq!(branch_title("Trip to Lisbon"), "Trip to Lisbon (branch)");
        let long = "é".repeat(MAX_TITLE_CHARS);
        let named = branch_title(&long);
        assert_eq!(named.chars().count(), MAX_TITLE_CHARS);
        assert!(named.ends_with("é (branch)"));
        // No space left before the mark where the cut fell after one.
        let spaced = format!("{} tail", "a".repeat(MAX_TITLE_CHARS - 10));
        assert_eq!(
            branch_title(&spaced),
            format!("{} (branch)", "a".repeat(MAX_TITLE_CHARS - 10))
        );
    }
}
