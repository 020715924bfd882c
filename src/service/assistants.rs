//! Assistants: presets of model, sampling, system prompt and tools that a conversation runs with.

use crate::db::AssistantFields;
use crate::error::{AppError, AppResult};
use crate::model::{Assistant, AssistantInput, MAX_SYSTEM_PROMPT_CHARS};
use crate::state::AppState;
use uuid::Uuid;

const MAX_NAME_CHARS: usize = 60;
const MAX_DESCRIPTION_CHARS: usize = 500;

/// The presets every person starts with.
pub fn presets() -> Vec<AssistantFields> {
    vec![
        AssistantFields {
            name: "Creative writer".into(),
            description: "Stories, poems and vivid prose; varied and imaginative.".into(),
            model: "llama3.2".into(),
            temperature: Some(0.9),
            max_tokens: Some(2000),
            system_prompt: "You are a creative writer. Write vivid, original prose and verse \
                with concrete images, fresh metaphors and a clear voice. Match the form, length \
                and tone the person asks for; when they leave it open, choose boldly and say \
                nothing about your choices. Show rather than tell, vary sentence rhythm, and \
                end with intent. Offer to revise when the request is ambiguous."
                .into(),
            tools: Vec::new(),
            tools_enabled: false,
        },
        AssistantFields {
            name: "Code assistant".into(),
            description: "Precise help with code: writing, explaining, reviewing, debugging."
                .into(),
            model: "codellama".into(),
            temperature: Some(0.1),
            max_tokens: Some(1500),
            system_prompt: "You are an expert programmer. Give correct, idiomatic, minimal code \
                in fenced blocks with the language named, then a short explanation of what \
                matters. When reviewing or debugging, name the cause before the fix. Say which \
                assumptions you make about versions and environment; never invent APIs. Prefer \
                clarity to cleverness, and mention edge cases and tests worth writing."
                .into(),
            tools: Vec::new(),
            tools_enabled: false,
        },
        AssistantFields {
            name: "Data analyst".into(),
            description: "Answers questions about data with calculations and queries, not guesses."
                .into(),
            model: "llama3.2".into(),
            temperature: Some(0.3),
            max_tokens: Some(1000),
            system_prompt: "You are a careful data analyst. Answer from the data, not from \
                memory: use the tools to compute and to query, one step at a time, and never \
                guess a number you could calculate. State the figures you found, how you got \
                them, and what they do and do not show. When a distribution, a comparison or a \
                trend is easier to see than to read, draw it with the chart tool and say what it \
                shows. Keep answers short; use a small table when comparing values."
                .into(),
            tools: crate::tools::toolset("data_analysis")
                .unwrap_or_default()
                .iter()
                .map(|t| t.to_string())
                .collect(),
            tools_enabled: true,
        },
    ]
}

/// The most documents one assistant's knowledge holds.
pub const MAX_KNOWLEDGE_FILES: usize = 50;

/// The person's assistants by name (the presets are added the first time), then those an
/// admin shares with everyone.
pub async fn list_assistants(state: &AppState, owner: Uuid) -> AppResult<Vec<Assistant>> {
    state.store.seed_assistants(owner, &presets()).await?;
    let mut assistants = state.store.list_assistants(owner).await?;
    let knowledge = state.store.assistants_knowledge(owner).await?;
    for assistant in &mut assistants {
        assistant.owned = assistant.owner_id == owner;
        assistant.files = knowledge
            .iter()
            .filter(|(of, _)| *of == assistant.id)
            .map(|(_, file)| *file)
            .collect();
    }
    Ok(assistants)
}

/// By id, or by name (ignoring case): one of the person's, or one an admin shares (the
/// person's own wins a tie of names).
pub async fn find_assistant(state: &AppState, owner: Uuid, key: &str) -> AppResult<Assistant> {
    state.store.seed_assistants(owner, &presets()).await?;
    let found = match key.trim().parse::<Uuid>() {
        Ok(id) => state.store.usable_assistant(owner, id).await?,
        Err(_) => {
            state
                .store
                .usable_assistant_by_name(owner, key.trim())
                .await?
        }
    };
    with_knowledge(
        state,
        owner,
        found.ok_or_else(|| AppError::NotFound("assistant".into()))?,
    )
    .await
}

async fn with_knowledge(
    state: &AppState,
    owner: Uuid,
    mut assistant: Assistant,
) -> AppResult<Assistant> {
    assistant.owned = assistant.owner_id == owner;
    if !assistant.owned {
        // A shared assistant's documents stay its owner's.
        return Ok(assistant);
    }
    assistant.files = state
        .store
        .assistant_files(owner, assistant.id)
        .await?
        .into_iter()
        .map(|file| file.id)
        .collect();
    Ok(assistant)
}

/// The documents of an assistant's knowledge.
pub async fn assistant_knowledge(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
) -> AppResult<Vec<crate::model::FileInfo>> {
    match state.store.usable_assistant(owner, id).await? {
        None => Err(AppError::NotFound("assistant".into())),
        // A shared assistant's documents stay its owner's.
        Some(shared) if shared.owner_id != owner => Ok(Vec::new()),
        Some(_) => Ok(state.store.assistant_files(owner, id).await?),
    }
}

/// Checks a knowledge list before anything is written: each file one of the person's.
async fn check_knowledge(state: &AppState, owner: Uuid, files: Option<&[Uuid]>) -> AppResult<()> {
    let Some(files) = files else {
        return Ok(());
    };
    if files.len() > MAX_KNOWLEDGE_FILES {
        return Err(AppError::InvalidInput(format!(
            "an assistant's knowledge holds at most {MAX_KNOWLEDGE_FILES} documents"
        )));
    }
    for id in files {
        if state.store.get_file(owner, *id).await?.is_none() {
            return Err(AppError::InvalidInput(format!(
                "there is no document {id} among yours"
            )));
        }
    }
    Ok(())
}

/// Writes an assistant's knowledge (when given) and reads the assistant back with it.
async fn save_knowledge(
    state: &AppState,
    owner: Uuid,
    assistant: Assistant,
    files: Option<Vec<Uuid>>,
) -> AppResult<Assistant> {
    if let Some(files) = files {
        if !state
            .store
            .set_assistant_files(owner, assistant.id, &files)
            .await?
        {
            return Err(AppError::Conflict(
                "a document of the knowledge was deleted meanwhile; try again".into(),
            ));
        }
    }
    with_knowledge(state, owner, assistant).await
}

pub async fn create_assistant(
    state: &AppState,
    owner: Uuid,
    mut input: AssistantInput,
) -> AppResult<Assistant> {
    // The presets come first, so that their names are taken before the person's own.
    state.store.seed_assistants(owner, &presets()).await?;
    let Some(name) = input.name.clone() else {
        return Err(AppError::InvalidInput("an assistant needs a name".into()));
    };
    let blank = AssistantFields {
        name,
        description: String::new(),
        model: String::new(),
        temperature: None,
        max_tokens: None,
        system_prompt: String::new(),
        tools: Vec::new(),
        tools_enabled: false,
    };
    if input.model.is_none() {
        return Err(AppError::InvalidInput("an assistant needs a model".into()));
    }
    let files = input.files.take();
    let fields = merge(state, blank, input)?;
    check_knowledge(state, owner, files.as_deref()).await?;
    let assistant = state
        .store
        .insert_assistant(owner, &fields)
        .await
        .map_err(|e| name_taken(e, &fields.name))?;
    save_knowledge(state, owner, assistant, files).await
}

pub async fn update_assistant(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
    mut input: AssistantInput,
) -> AppResult<Assistant> {
    let current = owned_assistant(state, owner, id).await?;
    let files = input.files.take();
    let fields = merge(state, fields_of(&current), input)?;
    check_knowledge(state, owner, files.as_deref()).await?;
    let assistant = state
        .store
        .update_assistant(owner, id, &fields)
        .await
        .map_err(|e| name_taken(e, &fields.name))?
        .ok_or_else(|| AppError::NotFound("assistant".into()))?;
    save_knowledge(state, owner, assistant, files).await
}

/// A copy named "… (copy)", "… (copy 2)", …
pub async fn duplicate_assistant(state: &AppState, owner: Uuid, id: Uuid) -> AppResult<Assistant> {
    // One an admin shares may be copied too (without its owner's documents).
    let original = state
        .store
        .usable_assistant(owner, id)
        .await?
        .ok_or_else(|| AppError::NotFound("assistant".into()))?;
    let original = with_knowledge(state, owner, original).await?;
    let mut fields = fields_of(&original);
    let base: String = original.name.chars().take(MAX_NAME_CHARS - 10).collect();
    for n in 1..100 {
        fields.name = if n == 1 {
            format!("{base} (copy)")
        } else {
            format!("{base} (copy {n})")
        };
        if state
            .store
            .assistant_by_name(owner, &fields.name)
            .await?
            .is_none()
        {
            let copy = state
                .store
                .insert_assistant(owner, &fields)
                .await
                .map_err(|e| name_taken(e, &fields.name))?;
            return save_knowledge(state, owner, copy, Some(original.files.clone())).await;
        }
    }
    Err(AppError::Conflict(
        "too many copies of this assistant".into(),
    ))
}

pub async fn delete_assistant(state: &AppState, owner: Uuid, id: Uuid) -> AppResult<()> {
    if state.store.delete_assistant(owner, id).await? {
        Ok(())
    } else {
        owned_assistant(state, owner, id).await.map(|_| ())
    }
}

/// One of the person's own assistants: 403 for one an admin shares (it can be used or
/// duplicated, not changed), 404 for any other id.
async fn owned_assistant(state: &AppState, owner: Uuid, id: Uuid) -> AppResult<Assistant> {
    match state.store.usable_assistant(owner, id).await? {
        Some(assistant) if assistant.owner_id == owner => Ok(assistant),
        Some(_) => Err(AppError::Forbidden(
            "this assistant is shared by an admin: duplicate it to make your own".into(),
        )),
        None => Err(AppError::NotFound("assistant".into())),
    }
}

/// Creates (`id` absent) or changes an assistant, then shares it or stops sharing it when
/// `shared` is given. Only admins share; a refusal comes before anything is written.
pub async fn save_assistant(
    state: &AppState,
    me: &crate::model::Person,
    id: Option<Uuid>,
    mut input: AssistantInput,
) -> AppResult<Assistant> {
    let shared = input.shared.take();
    if shared == Some(true) && !me.is_admin() {
        return Err(AppError::Forbidden(
            "only an admin shares assistants with everyone".into(),
        ));
    }
    let assistant = match id {
        Some(id) => update_assistant(state, me.id, id, input).await?,
        None => create_assistant(state, me.id, input).await?,
    };
    match shared {
        Some(shared) if shared != assistant.shared => {
            let files = assistant.files;
            let mut changed = state
                .store
                .set_assistant_shared(me.id, assistant.id, shared)
                .await?
                .ok_or_else(|| AppError::NotFound("assistant".into()))?;
            changed.owned = true;
            changed.files = files;
            Ok(changed)
        }
        _ => Ok(assistant),
    }
}

/// Sets (or, with `None`, clears) the assistant a conversation runs with; its system prompt
/// follows unless the person wrote their own.
pub async fn set_conversation_assistant(
    state: &AppState,
    owner: Uuid,
    conversation_id: Uuid,
    assistant_id: Option<Uuid>,
) -> AppResult<crate::model::Conversation> {
    let conversation = super::owned_conversation(state, owner, conversation_id).await?;
    let next = match assistant_id {
        // NotFound for another person's assistant (unless shared) as for one that does not exist.
        Some(id) => Some(
            state
                .store
                .usable_assistant(owner, id)
                .await?
                .ok_or_else(|| AppError::NotFound("assistant".into()))?,
        ),
        None => None,
    };
    if conversation.assistant_id != assistant_id {
        let previous = match conversation.assistant_id {
            Some(id) => state.store.usable_assistant(owner, id).await?,
            None => None,
        };
        switch_assistant(
            state,
            owner,
            conversation_id,
            previous.as_ref(),
            next.as_ref(),
        )
        .await?;
    }
    super::owned_conversation(state, owner, conversation_id).await
}

/// Moves a conversation from the `previous` assistant to `next`. The system prompt the previous
/// one gave it (or the instance default) becomes the next one's; one the person wrote stays.
pub(super) async fn switch_assistant(
    state: &AppState,
    owner: Uuid,
    conversation_id: Uuid,
    previous: Option<&Assistant>,
    next: Option<&Assistant>,
) -> AppResult<()> {
    let default = state
        .settings
        .generation
        .default_system_prompt
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    fn prompt_of<'a>(
        assistant: Option<&'a Assistant>,
        default: Option<&'a str>,
    ) -> Option<&'a str> {
        assistant
            .map(|a| a.system_prompt.trim())
            .filter(|p| !p.is_empty())
            .or(default)
    }
    let switch = crate::db::PromptSwitch {
        from: prompt_of(previous, default).unwrap_or(""),
        to: prompt_of(next, default),
    };
    if !state
        .store
        .set_conversation_assistant(owner, conversation_id, next.map(|a| a.id), Some(switch))
        .await?
    {
        return Err(AppError::NotFound("conversation".into()));
    }
    Ok(())
}

fn fields_of(assistant: &Assistant) -> AssistantFields {
    AssistantFields {
        name: assistant.name.clone(),
        description: assistant.description.clone(),
        model: assistant.model.clone(),
        temperature: assistant.temperature,
        max_tokens: assistant.max_tokens,
        system_prompt: assistant.system_prompt.clone(),
        tools: assistant.tools.0.clone(),
        tools_enabled: assistant.tools_enabled,
    }
}

/// `fields` changed by what `input` sets, each value checked.
fn merge(
    state: &AppState,
    mut fields: AssistantFields,
    input: AssistantInput,
) -> AppResult<AssistantFields> {
    let invalid = |message: String| Err(AppError::InvalidInput(message));
    if let Some(name) = input.name {
        let name = crate::text::clean_input(&name).trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return invalid(format!(
                "an assistant's name has 1 to {MAX_NAME_CHARS} characters"
            ));
        }
        fields.name = name;
    }
    if let Some(description) = input.description {
        let description = crate::text::clean_input(&description).trim().to_string();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return invalid(format!(
                "a description has at most {MAX_DESCRIPTION_CHARS} characters"
            ));
        }
        fields.description = description;
    }
    if let Some(model) = input.model {
        fields.model = super::validate_model(&model)?;
    }
    if let Some(temperature) = input.temperature {
        if temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
            return invalid("temperature must be between 0 and 2".into());
        }
        fields.temperature = temperature;
    }
    if let Some(max_tokens) = input.max_tokens {
        let cap = state.settings.generation.max_answer_tokens;
        if max_tokens.is_some_and(|m| !(1..=cap).contains(&m)) {
            return invalid(format!("max_tokens must be between 1 and {cap}"));
        }
        fields.max_tokens = max_tokens;
    }
    if let Some(prompt) = input.system_prompt {
        let prompt = crate::text::clean_input(&prompt);
        if prompt.chars().count() > MAX_SYSTEM_PROMPT_CHARS {
            return invalid(format!(
                "a system prompt has at most {MAX_SYSTEM_PROMPT_CHARS} characters"
            ));
        }
        fields.system_prompt = prompt.trim().to_string();
    }
    match (input.toolset, input.tools) {
        (Some(_), Some(_)) => return invalid("give either tools or a toolset, not both".into()),
        (Some(set), None) => {
            let Some(tools) = crate::tools::toolset(&set) else {
                let known: Vec<&str> = crate::tools::TOOLSETS.iter().map(|(n, _)| *n).collect();
                return invalid(format!(
                    "unknown toolset (the toolsets are {})",
                    known.join(", ")
                ));
            };
            fields.tools = tools.iter().map(|t| t.to_string()).collect();
        }
        (None, Some(tools)) => {
            let names: Vec<String> = tools.iter().map(|n| n.trim().to_string()).collect();
            fields.tools = super::known_tools(state, &names)?
                .into_iter()
                .map(|tool| tool.name().to_string())
                .collect();
        }
        (None, None) => {}
    }
    if let Some(enabled) = input.tools_enabled {
        fields.tools_enabled = enabled;
    }
    Ok(fields)
}

/// A unique-name violation is the person's to fix (409); anything else is the server's.
fn name_taken(error: sqlx::Error, name: &str) -> AppError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => {
            AppError::Conflict(format!("you already have an assistant named '{name}'"))
        }
        _ => AppError::from(error),
    }
}
