//! A turn of the chat: sending, regenerating, stopping, and following answers.

use super::preferences::Feature;
use super::prompt::{prompt_messages, PromptImages};
use super::{
    check_options, default_model, get_conversation, owned_conversation, owned_message, title_from,
    validate_content, validate_model, validate_options,
};
use crate::db::{Turn, TurnConversation, TurnError, TurnStarted};
use crate::error::{AppError, AppResult};
use crate::generation::prompted;
use crate::generation::{Admission, EarlyCall, GenerationJob, Refusal};
use crate::llm::{ChatMessage, ChatRequest, ToolSpec};
use crate::model::{
    Assistant, Attachment, Attachments, Conversation, ConversationWithMessages, FileInfo,
    GenerationOptions, Message, MessageStatus, Role, SendOutcome, StreamEvent, ToolMode,
};
use crate::state::AppState;
use futures::Stream;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SendMessage {
    /// Continue this conversation; a new one is created when absent.
    #[serde(default)]
    pub conversation_id: Option<Uuid>,
    pub content: String,
    /// The model to answer with; the conversation's, else the default, when absent.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub options: GenerationOptions,
    /// Tools the model may call (names from `GET /api/v1/tools`): the answer becomes an agent
    /// run. None: a plain answer.
    #[serde(default)]
    pub tools: Vec<String>,
    /// The assistant to answer as (id or name); `""` or `"none"`: none. When absent, a
    /// conversation keeps the assistant it runs with.
    #[serde(default)]
    pub assistant: Option<String>,
    /// The person's files sent with the message (at most 20): documents are attached to the
    /// conversation before this turn (its answer is grounded in them, as every later one);
    /// images go to the model with the message (it must be able to see: `vision` in Ollama's
    /// /api/show). With images, the text may be empty.
    #[serde(default)]
    pub files: Vec<Uuid>,
}

/// Which assistant a turn runs with.
enum AssistantChoice {
    /// The one the conversation remembers (or none for a new conversation).
    Keep,
    None,
    Use(Box<Assistant>),
}

/// Stores the person's message and starts the answer as a server task, the whole turn in one
/// transaction, so nothing typed is lost if Ollama or the browser fails later, and two sends at
/// once cannot both start an answer (the database allows one streaming answer per conversation).
pub async fn send_message(
    state: &AppState,
    owner: Uuid,
    input: SendMessage,
) -> AppResult<SendOutcome> {
    check_options(&input.options)?;
    let files = owned_files(state, owner, &input.files).await?;
    let has_images = files.iter().any(|f| f.kind.is_image());
    let content = match validate_content(&input.content) {
        // A picture alone is a question too ("what is this?").
        Err(AppError::InvalidInput(_))
            if has_images && crate::text::clean_input(&input.content).trim().is_empty() =>
        {
            String::new()
        }
        other => other?,
    };
    let requested_model = input.model.as_deref().map(validate_model).transpose()?;
    let tools = tool_specs(state, &input.tools).await?;
    let admission = admit(state, owner)?;

    let choice = match input.assistant.as_deref().map(str::trim) {
        None => AssistantChoice::Keep,
        Some("") => AssistantChoice::None,
        Some(key) if key.eq_ignore_ascii_case("none") => AssistantChoice::None,
        Some(key) => {
            AssistantChoice::Use(Box::new(super::find_assistant(state, owner, key).await?))
        }
    };
    let mut notice = None;
    let mut options = input.options;
    let (conversation, model, assistant) = match input.conversation_id {
        Some(id) => {
            let conversation = owned_conversation(state, owner, id).await?;
            let remembered = remembered_assistant(state, owner, &conversation).await?;
            let assistant = match &choice {
                AssistantChoice::Use(assistant) => Some((**assistant).clone()),
                AssistantChoice::None => None,
                AssistantChoice::Keep => remembered.clone(),
            };
            // Another assistant from this turn on: before the turn, so that its system prompt
            // is the one this turn is sent with.
            let chosen = assistant.as_ref().map(|a| a.id);
            if !matches!(choice, AssistantChoice::Keep) && conversation.assistant_id != chosen {
                super::assistants::switch_assistant(
                    state,
                    owner,
                    id,
                    remembered.as_ref(),
                    assistant.as_ref(),
                )
                .await?;
            }
            let model = match (requested_model, &choice) {
                (Some(model), _) => model,
                // A newly chosen assistant brings its model.
                (None, AssistantChoice::Use(assistant)) => {
                    assistant_model(state, assistant, &mut notice).await?
                }
                (None, _) => conversation.model.clone(),
            };
            // The turn's own options first, then the conversation's.
            options = options.or(&conversation.options);
            (TurnConversation::Existing(id), model, assistant)
        }
        None => {
            let assistant = match &choice {
                AssistantChoice::Use(assistant) => Some((**assistant).clone()),
                _ => None,
            };
            let model = match (requested_model, &assistant) {
                (Some(model), _) => model,
                (None, Some(assistant)) => assistant_model(state, assistant, &mut notice).await?,
                (None, None) => default_model(state, owner).await?,
            };
            (
                TurnConversation::New {
                    title: "",
                    system_prompt: state.settings.generation.default_system_prompt.as_deref(),
                },
                model,
                assistant,
            )
        }
    };
    let options = validate_options(state, options.or(&assistant_options(assistant.as_ref())))?;
    if has_images {
        require_vision(state, &model).await?;
    }
    let attachments = Attachments(files.iter().map(Attachment::of).collect());
    let documents: Vec<Uuid> = files
        .iter()
        .filter(|f| !f.kind.is_image())
        .map(|f| f.id)
        .collect();
    // The turn's tools, else the assistant's when it may call them.
    let tools = if tools.is_empty() {
        tool_specs(state, &assistant_tools(state, assistant.as_ref()).await?).await?
    } else {
        tools
    };
    let title = title_from(if content.is_empty() {
        files.first().map_or("Image", |f| f.name.as_str())
    } else {
        &content
    });
    let conversation = match conversation {
        TurnConversation::New { system_prompt, .. } => TurnConversation::New {
            title: &title,
            system_prompt: assistant
                .as_ref()
                .map(|a| a.system_prompt.as_str())
                .filter(|p| !p.trim().is_empty())
                .or(system_prompt),
        },
        existing => existing,
    };
    let turn = start_turn(
        state,
        Turn {
            owner_id: owner,
            conversation,
            user_content: Some(&content),
            replace_last_answer: false,
            edit_message: None,
            model: &model,
            instance_id: state.generations.instance_id,
            attachments: &attachments,
        },
        options,
        tools,
        TurnAssistant {
            prompt: assistant.as_ref().map(|a| a.system_prompt.as_str()),
            // A new choice is linked before the answer is grounded (its knowledge counts).
            link: (!matches!(choice, AssistantChoice::Keep))
                .then(|| assistant.as_ref().map(|a| a.id)),
        },
        &documents,
        admission,
    )
    .await?;
    let mut outcome = send_outcome(turn)?;
    outcome.notice = notice;
    Ok(outcome)
}

/// The assistant a conversation runs with, if it still exists.
async fn remembered_assistant(
    state: &AppState,
    owner: Uuid,
    conversation: &Conversation,
) -> AppResult<Option<Assistant>> {
    match conversation.assistant_id {
        // One an admin stopped sharing is no longer run.
        Some(id) => Ok(state.store.usable_assistant(owner, id).await?),
        None => Ok(None),
    }
}

/// The assistant's sampling options, below the turn's and the conversation's own.
fn assistant_options(assistant: Option<&Assistant>) -> GenerationOptions {
    GenerationOptions {
        temperature: assistant.and_then(|a| a.temperature),
        num_predict: assistant.and_then(|a| a.max_tokens),
        num_ctx: None,
    }
}

/// The tools an assistant may call: none while tools are switched off on this server (its
/// answers are then plain ones).
async fn assistant_tools(
    state: &AppState,
    assistant: Option<&Assistant>,
) -> AppResult<Vec<String>> {
    Ok(match assistant {
        // A tool removed from the server since is left out rather than failing every turn.
        Some(a) if a.tools_enabled && super::preferences::features(state).await?.custom_tools => {
            a.tools.0.clone()
        }
        _ => Vec::new(),
    })
}

/// The assistant's model when Ollama has it; else the default model, with a note saying so.
async fn assistant_model(
    state: &AppState,
    assistant: &Assistant,
    notice: &mut Option<String>,
) -> AppResult<String> {
    let Ok(models) = state.ollama.list_models().await else {
        // Ollama does not answer: the turn will say so itself.
        return Ok(assistant.model.clone());
    };
    if models
        .iter()
        .any(|m| crate::model::same_model(&m.name, &assistant.model))
    {
        return Ok(assistant.model.clone());
    }
    // The list just read serves for the default too.
    let fallback = super::models::default_model_among(state, assistant.owner_id, &models).await?;
    *notice = Some(format!(
        "{} uses the model {}, which Ollama does not have; answering with {fallback} instead. \
         Install it with `ollama pull {}`.",
        assistant.name, assistant.model, assistant.model
    ));
    Ok(fallback)
}

/// The tools a turn asked for, as Ollama reads them; an unknown name is refused.
/// The specs of the tools a request names: none, or, when tools are switched off on this
/// server (`features.custom_tools`), the same 404 as their routes.
async fn tool_specs(state: &AppState, names: &[String]) -> AppResult<Vec<ToolSpec>> {
    if !names.is_empty() {
        super::preferences::require_feature(state, Feature::CustomTools).await?;
    }
    Ok(super::known_tools(state, names)?
        .into_iter()
        .map(|tool| ToolSpec::function(tool.name(), tool.description(), tool.parameters()))
        .collect())
}

/// Answers the last message again: the last answer (if any) is set aside as an earlier version
/// of the answer (shown again with `show_answer_version`), and a new one is written.
pub async fn regenerate(
    state: &AppState,
    owner: Uuid,
    conversation_id: Uuid,
    model: Option<String>,
    options: GenerationOptions,
    tools: &[String],
) -> AppResult<Message> {
    check_options(&options)?;
    let model = model.as_deref().map(validate_model).transpose()?;
    let tools = tool_specs(state, tools).await?;
    let ConversationWithMessages {
        conversation,
        messages,
        ..
    } = get_conversation(state, owner, conversation_id).await?;
    let assistant = remembered_assistant(state, owner, &conversation).await?;
    let options = validate_options(
        state,
        options
            .or(&conversation.options)
            .or(&assistant_options(assistant.as_ref())),
    )?;
    let tools = if tools.is_empty() {
        tool_specs(state, &assistant_tools(state, assistant.as_ref()).await?).await?
    } else {
        tools
    };
    if messages
        .iter()
        .any(|m| m.status == MessageStatus::Streaming)
    {
        return Err(busy_conversation());
    }
    if !messages.iter().any(|m| m.role == Role::User) {
        return Err(AppError::InvalidInput(
            "there is no message to answer yet".into(),
        ));
    }
    let admission = admit(state, owner)?;
    let model = model.unwrap_or_else(|| conversation.model.clone());
    let turn = start_turn(
        state,
        Turn {
            owner_id: owner,
            conversation: TurnConversation::Existing(conversation_id),
            user_content: None,
            replace_last_answer: true,
            edit_message: None,
            model: &model,
            instance_id: state.generations.instance_id,
            attachments: &Attachments::default(),
        },
        options,
        tools,
        TurnAssistant {
            prompt: assistant.as_ref().map(|a| a.system_prompt.as_str()),
            link: None,
        },
        &[],
        admission,
    )
    .await?;
    // The new answer is the last of its versions when the one it replaces was kept.
    let mut answer = turn.0.assistant;
    super::with_versions(
        state,
        owner,
        conversation_id,
        std::slice::from_mut(&mut answer),
    )
    .await?;
    Ok(answer)
}

/// Edits one of the person's messages and answers it again: the messages after it are
/// replaced (deleted in the same transaction that starts the new answer).
pub async fn edit_and_resend(
    state: &AppState,
    owner: Uuid,
    message_id: Uuid,
    content: &str,
    model: Option<String>,
) -> AppResult<SendOutcome> {
    let content = validate_content(content)?;
    let model = model.as_deref().map(validate_model).transpose()?;
    let message = editable_message(state, owner, message_id).await?;
    let conversation = owned_conversation(state, owner, message.conversation_id).await?;
    let assistant = remembered_assistant(state, owner, &conversation).await?;
    let options = validate_options(
        state,
        conversation
            .options
            .clone()
            .or(&assistant_options(assistant.as_ref())),
    )?;
    let tools = tool_specs(state, &assistant_tools(state, assistant.as_ref()).await?).await?;
    let admission = admit(state, owner)?;
    let model = model.unwrap_or_else(|| conversation.model.clone());
    let turn = start_turn(
        state,
        Turn {
            owner_id: owner,
            conversation: TurnConversation::Existing(conversation.id),
            user_content: None,
            replace_last_answer: false,
            edit_message: Some((message_id, &content)),
            model: &model,
            instance_id: state.generations.instance_id,
            attachments: &Attachments::default(),
        },
        options,
        tools,
        TurnAssistant {
            prompt: assistant.as_ref().map(|a| a.system_prompt.as_str()),
            link: None,
        },
        &[],
        admission,
    )
    .await?;
    send_outcome(turn)
}

/// One of the person's own messages (not an answer): what an edit may change.
async fn editable_message(state: &AppState, owner: Uuid, id: Uuid) -> AppResult<Message> {
    let message = owned_message(state, owner, id).await?;
    if message.role != Role::User {
        return Err(AppError::InvalidInput(
            "only your own messages can be edited".into(),
        ));
    }
    Ok(message)
}

/// Edits one of the person's messages in a branch: a new conversation holding the
/// conversation up to that message (`branch_conversation`) gets the new text and a new answer,
/// and the conversation itself keeps the message and everything after it.
pub async fn edit_in_branch(
    state: &AppState,
    owner: Uuid,
    message_id: Uuid,
    content: &str,
    model: Option<String>,
) -> AppResult<SendOutcome> {
    // What can be refused is refused before the branch exists.
    validate_content(content)?;
    if let Some(model) = &model {
        validate_model(model)?;
    }
    editable_message(state, owner, message_id).await?;
    let branch = super::branch_conversation(state, owner, message_id).await?;
    let copy = branch
        .messages
        .last()
        .map(|m| m.id)
        .ok_or(AppError::Internal)?;
    edit_and_resend(state, owner, copy, content, model).await
}

/// Stops an answer being written, keeping its text; returns the saved message.
pub async fn stop_generation(
    state: &AppState,
    owner: Uuid,
    message_id: Uuid,
) -> AppResult<Message> {
    let message = owned_message(state, owner, message_id).await?;
    if message.status.is_final() {
        // An earlier step of an agent run (the id a send returned): stop the run where it is.
        if message.is_agent_step() {
            if let Some(current) = running_step_after(state, owner, &message).await? {
                return Box::pin(stop_generation(state, owner, current)).await;
            }
        }
        return Ok(message);
    }
    if state.generations.stop(owner, message_id) {
        state
            .generations
            .wait_finished(message_id, finish_wait(state))
            .await;
    } else {
        // Running on another instance (or orphaned): finalise the row; the instance that runs it
        // sees at its next flush that the row is no longer streaming and stops.
        let finish = crate::db::Finish {
            content: message.content.clone(),
            status: Some(MessageStatus::Stopped),
            ..Default::default()
        };
        state
            .store
            .finish_message(owner, message_id, &finish)
            .await?;
    }
    owned_message(state, owner, message_id).await
}

/// The row an agent run is writing now, if `step` belongs to a run that goes on.
async fn running_step_after(
    state: &AppState,
    owner: Uuid,
    step: &Message,
) -> AppResult<Option<Uuid>> {
    let messages = state
        .store
        .list_messages(owner, step.conversation_id)
        .await?;
    Ok(messages
        .iter()
        .skip_while(|m| m.id != step.id)
        .find(|m| m.status == MessageStatus::Streaming)
        .map(|m| m.id))
}

/// The live events of a message: a snapshot of its text, deltas as they arrive, then `Done`.
pub async fn message_events(
    state: &AppState,
    owner: Uuid,
    message_id: Uuid,
) -> AppResult<impl Stream<Item = StreamEvent> + Send + 'static> {
    // Being written here for this person: followed live, without reading the row first (the
    // registry knows its owner). Else the row says whose it is and whether it is final.
    let live_here = state
        .generations
        .get(message_id)
        .is_some_and(|live| live.owner_id == owner);
    let message = if live_here {
        None
    } else {
        Some(owned_message(state, owner, message_id).await?)
    };
    Ok(crate::generation::watch::message_events(
        state.generations.clone(),
        state.store.clone(),
        state.notifier.clone(),
        owner,
        message_id,
        message,
    ))
}

/// The live events of an answer for the page: those of [`message_events`], with its HTML as it
/// changes (see `watch::with_html`). The row is read first, for its citations.
pub async fn rendered_message_events(
    state: &AppState,
    owner: Uuid,
    message_id: Uuid,
) -> AppResult<impl Stream<Item = StreamEvent> + Send + 'static> {
    let message = owned_message(state, owner, message_id).await?;
    let renderer =
        (message.role == Role::Assistant).then(|| crate::markdown::AnswerRenderer::new(&message));
    let events = crate::generation::watch::message_events(
        state.generations.clone(),
        state.store.clone(),
        state.notifier.clone(),
        owner,
        message_id,
        Some(message),
    );
    Ok(crate::generation::watch::with_html(events, renderer))
}

/// Stores the turn, then starts its generation with the conversation so far.
/// The assistant of a turn: the system prompt it gives a conversation without one, and, when the
/// turn picks it anew, the link the conversation gets (`Some(None)`: no assistant any more).
struct TurnAssistant<'a> {
    prompt: Option<&'a str>,
    link: Option<Option<Uuid>>,
}

async fn start_turn(
    state: &AppState,
    turn: Turn<'_>,
    mut options: GenerationOptions,
    tools: Vec<ToolSpec>,
    assistant: TurnAssistant<'_>,
    attach: &[Uuid],
    admission: Admission,
) -> AppResult<(TurnStarted, Option<ToolMode>)> {
    let owner = turn.owner_id;
    let model = turn.model.to_string();
    let created = matches!(turn.conversation, TurnConversation::New { .. });
    // With tools: natively when the model can (or the server does not say), else by prompt.
    let mut show = if tools.is_empty() {
        None
    } else {
        state.ollama.show(turn.model).await.ok()
    };
    let tool_mode = (!tools.is_empty()).then(|| match &show {
        Some(show) if !show.calls_tools() => ToolMode::Prompted,
        _ => ToolMode::Native,
    });
    // A conversation this turn creates, with no files and no assistant, is asked only the
    // person's message (after the instance's system prompt): that prompt is known before
    // anything is stored, so the model call starts while the turn is written.
    let first_prompt = match turn.conversation {
        TurnConversation::New { system_prompt, .. }
            if turn.attachments.0.is_empty()
                && attach.is_empty()
                && !matches!(assistant.link, Some(Some(_))) =>
        {
            turn.user_content
                .map(|content| super::prompt::first_prompt(system_prompt, content))
        }
        _ => None,
    };
    // The person's runtime settings (a temperature when nothing set one, and how much of the
    // history goes with the turn) are read while the turn is stored, on another connection:
    // the answer starts one database round trip sooner. Unreadable, the configured ones serve.
    let span = crate::generation::generation_span(&model, tools.len());
    let read_and_call = async {
        let preferences = state.runtime.for_person(owner).await;
        let early = match (&preferences, first_prompt) {
            (Ok(preferences), Some(messages)) => {
                let mut options = options.clone();
                options.temperature = options.temperature.or(preferences.ai.temperature);
                let request = chat_request(&model, messages, options, tools.clone(), tool_mode);
                Some(EarlyCall::start(&state.ollama, request, &span))
            }
            _ => None,
        };
        (preferences, early)
    };
    let ((preferences, early), started) = tokio::join!(read_and_call, state.store.start_turn(turn));
    let mut started = started.map_err(|e| match e {
        TurnError::Busy => busy_conversation(),
        TurnError::NotFound => AppError::NotFound("conversation".into()),
        TurnError::Db(error) => AppError::from(error),
    })?;
    let preferences = preferences.unwrap_or_else(|error| {
        tracing::warn!(%error, "could not read the person's settings; the configured ones apply");
        state.runtime.configured().clone()
    });
    options.temperature = options.temperature.or(preferences.ai.temperature);
    let history = super::prompt::recent_history(
        &started.history,
        preferences.ai.max_history as usize,
        options.num_ctx.and_then(|n| u32::try_from(n).ok()),
    );
    if show.is_none()
        && history
            .iter()
            .any(|m| m.attachments.images().next().is_some())
    {
        show = state.ollama.show(turn.model).await.ok();
    }
    let images = prompt_images(state, owner, history, show.as_ref()).await;
    let mut messages = prompt_messages(&started.conversation, history, &images);
    drop(images);
    // A conversation without a system prompt of its own gets its assistant's.
    if let Some(prompt) = assistant.prompt.filter(|p| !p.trim().is_empty()) {
        if messages.first().is_none_or(|m| m.role != "system") {
            messages.insert(0, ChatMessage::new("system", prompt));
        }
    }
    for file in attach {
        state
            .store
            .attach_file(owner, started.conversation.id, *file)
            .await?;
    }
    if let Some(chosen) = assistant.link {
        if started.conversation.assistant_id != chosen {
            // A new conversation already has the assistant's prompt: it only needs the link.
            state
                .store
                .set_conversation_assistant(owner, started.conversation.id, chosen, None)
                .await?;
            started.conversation.assistant_id = chosen;
        }
    }
    // A conversation created by this turn knows only what was just attached or linked: without
    // either there is nothing to ground it in, and no need to ask the database.
    let may_have_knowledge =
        !created || !attach.is_empty() || started.conversation.assistant_id.is_some();
    if may_have_knowledge {
        ground_turn(
            state,
            owner,
            &mut started,
            &mut messages,
            &mut options,
            &model,
            show,
        )
        .await?;
    }
    let request = chat_request(turn.model, messages, options, tools, tool_mode);
    // The early call serves if what was stored asks the same (else it is dropped, and aborted).
    let early = early.and_then(|call| call.serving(&request));
    let job = GenerationJob {
        row: started.assistant.clone(),
        request,
        tool_mode: tool_mode.unwrap_or_default(),
        early,
        span,
    };
    if !state.generations.start(job, admission) {
        // Shutdown began between admission and now: leave no row streaming.
        let finish = crate::db::Finish {
            status: Some(MessageStatus::Interrupted),
            error: Some("the server is shutting down".into()),
            ..Default::default()
        };
        state
            .store
            .finish_message(owner, started.assistant.id, &finish)
            .await?;
        return Err(shutting_down());
    }
    Ok((started, tool_mode))
}

/// What the model is asked: the prompt, with the tools natively, or, prompted, their
/// instructions after the conversation's own system prompt and the answer's JSON schema.
fn chat_request(
    model: &str,
    mut messages: Vec<ChatMessage>,
    options: GenerationOptions,
    tools: Vec<ToolSpec>,
    tool_mode: Option<ToolMode>,
) -> ChatRequest {
    match tool_mode {
        Some(ToolMode::Prompted) => {
            let at = messages.iter().take_while(|m| m.role == "system").count();
            messages.insert(
                at,
                ChatMessage::new("system", prompted::instructions(&tools)),
            );
            ChatRequest {
                model: model.to_string(),
                messages,
                options,
                format: Some(prompted::schema(&tools)),
                tools: Vec::new(),
            }
        }
        _ => ChatRequest {
            model: model.to_string(),
            messages,
            options,
            tools,
            format: None,
        },
    }
}

/// Refuses images for a model that Ollama says cannot see them. When Ollama cannot be asked
/// (or does not know the model), the turn goes on and says so itself.
async fn require_vision(state: &AppState, model: &str) -> AppResult<()> {
    match state.ollama.show(model).await {
        Ok(show) if !show.sees_images() => Err(AppError::InvalidInput(format!(
            "{model} cannot see images: choose a model with vision (such as llava, gemma3 or \
             qwen2.5vl), or send the message without them"
        ))),
        _ => Ok(()),
    }
}

/// Most images sent with one prompt (the newest; older ones go as text only).
const MAX_PROMPT_IMAGES: usize = 20;

/// The images of the history a prompt carries, base64 by file id: none when the model cannot
/// see (the history was sent to another model, or Ollama does not say), and none of a file
/// deleted since (its message goes as text).
async fn prompt_images(
    state: &AppState,
    owner: Uuid,
    history: &[Message],
    show: Option<&crate::llm::ModelShow>,
) -> PromptImages {
    use base64::Engine;
    let wanted: Vec<Uuid> = history
        .iter()
        .rev()
        .flat_map(|m| m.attachments.images().map(|a| a.file_id))
        .take(MAX_PROMPT_IMAGES)
        .collect();
    let mut images = PromptImages::new();
    if wanted.is_empty() || !show.is_some_and(|s| s.sees_images()) {
        return images;
    }
    for id in wanted {
        match state.documents.content(owner, id).await {
            Ok((_, bytes)) => {
                images.insert(id, base64::engine::general_purpose::STANDARD.encode(bytes));
            }
            Err(error) => {
                tracing::debug!(%error, file_id = %id, "an image of the history is left out")
            }
        }
    }
    images
}

/// The files a message sends: the person's own (404 otherwise), each once, at most 20.
async fn owned_files(state: &AppState, owner: Uuid, ids: &[Uuid]) -> AppResult<Vec<FileInfo>> {
    let mut files: Vec<Uuid> = Vec::new();
    for id in ids {
        if !files.contains(id) {
            files.push(*id);
        }
    }
    if files.len() > 20 {
        return Err(AppError::InvalidInput(
            "at most 20 files can be attached at once".into(),
        ));
    }
    let mut found = Vec::with_capacity(files.len());
    for id in &files {
        found.push(state.documents.get(owner, *id).await?.info);
    }
    Ok(found)
}

/// With documents attached to the conversation: the best passages for the question go in the
/// prompt just before it, within the context window, and are stored with the answer.
async fn ground_turn(
    state: &AppState,
    owner: Uuid,
    started: &mut TurnStarted,
    messages: &mut Vec<ChatMessage>,
    options: &mut GenerationOptions,
    model: &str,
    // The model's details when the turn already asked for them (tools).
    show: Option<crate::llm::ModelShow>,
) -> AppResult<()> {
    let Some(question_at) = messages.iter().rposition(|m| m.role == "user") else {
        return Ok(());
    };
    let settings = &state.settings.documents;
    // The window Ollama will use: the conversation's num_ctx, else ours, never more than the
    // model was trained for (asked only when documents are attached: see below).
    let wanted = options
        .num_ctx
        .filter(|n| *n > 0)
        .map(|n| n as u32)
        .unwrap_or(settings.context_tokens);
    let used: u32 = messages
        .iter()
        .map(|m| crate::documents::grounding::estimate_tokens(&m.content))
        .sum();
    let reserve = options
        .num_predict
        .filter(|n| *n > 0)
        .map(|n| n as u32)
        .unwrap_or(1024)
        .min(wanted / 4);
    let question = messages[question_at].content.clone();
    let conversation_id = started.conversation.id;
    // Its own attached files and its assistant's knowledge.
    let attached = state.store.knowledge_files(owner, conversation_id).await?;
    if attached.is_empty() {
        return Ok(());
    }
    let show = match show {
        Some(show) => Some(show),
        None => state.ollama.show(model).await.ok(),
    };
    let trained = show.and_then(|show| show.context_length());
    let window = trained.map_or(wanted, |t| wanted.min(t));
    let Some(grounded) = state
        .documents
        .ground(
            owner,
            conversation_id,
            &attached,
            &question,
            used,
            window,
            reserve,
        )
        .await
    else {
        return Ok(());
    };
    messages.insert(
        question_at,
        ChatMessage::new("system", grounded.instructions),
    );
    // Ollama's default window is smaller than what was budgeted: ask for it.
    if options.num_ctx.is_none() {
        options.num_ctx = Some(window.min(i32::MAX as u32) as i32);
    }
    state
        .store
        .set_sources(owner, started.assistant.id, &grounded.sources)
        .await?;
    started.assistant.sources = grounded.sources;
    Ok(())
}

/// What a turn with a message of the person's started, as the API and the page receive it.
fn send_outcome((turn, tool_mode): (TurnStarted, Option<ToolMode>)) -> AppResult<SendOutcome> {
    Ok(SendOutcome {
        conversation: turn.conversation,
        user_message: turn.user_message.ok_or(AppError::Internal)?,
        assistant_message: turn.assistant,
        tool_mode,
        notice: None,
    })
}

/// A place for one more generation, or 429 / 503 saying when to try again.
fn admit(state: &AppState, owner: Uuid) -> AppResult<Admission> {
    state.generations.admit(owner).map_err(|refusal| {
        crate::observability::generation_refused(match refusal {
            Refusal::ShuttingDown => "shutting_down",
            Refusal::ServerBusy { .. } => "server_busy",
            Refusal::OwnerBusy { .. } => "person_busy",
        });
        refusal_error(refusal)
    })
}

fn refusal_error(refusal: Refusal) -> AppError {
    match refusal {
        Refusal::ShuttingDown => shutting_down(),
        Refusal::ServerBusy { limit } => AppError::TooBusy {
            message: format!(
                "the server is already writing {limit} answers, its limit; try again in a moment"
            ),
            retry_after_secs: 5,
        },
        Refusal::OwnerBusy { limit } => AppError::TooBusy {
            message: format!(
                "you already have {limit} answers being written, the limit per person; wait for one to finish or stop it"
            ),
            retry_after_secs: 5,
        },
    }
}

fn shutting_down() -> AppError {
    AppError::Unavailable("the server is shutting down; try again in a moment".into())
}

fn busy_conversation() -> AppError {
    AppError::Conflict(
        "an answer is still being written in this conversation; stop it or wait for it".into(),
    )
}

/// How long Stop and Delete wait for a running generation to save itself.
pub(crate) fn finish_wait(state: &AppState) -> Duration {
    Duration::from_millis(state.settings.generation.finish_wait_ms)
}
