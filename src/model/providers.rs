//! Model providers besides Ollama, as people and admins see them. An API key goes in with
//! `ProviderInput` and never comes out: `ModelProvider` only says whether one is set.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The wire format a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ProviderKind {
    /// `POST {base_url}/chat/completions` (OpenAI, and the many servers that copy it: vLLM,
    /// llama.cpp's server, LM Studio, OpenRouter, Groq…).
    #[serde(rename = "openai")]
    OpenAi,
    /// `POST {base_url}/v1/messages` (Anthropic's Messages API).
    #[serde(rename = "anthropic")]
    Anthropic,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }

    pub fn parse(text: &str) -> Option<ProviderKind> {
        match text {
            "openai" => Some(ProviderKind::OpenAi),
            "anthropic" => Some(ProviderKind::Anthropic),
            _ => None,
        }
    }

    /// The address used when an admin gives none.
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "OpenAI-compatible",
            ProviderKind::Anthropic => "Anthropic",
        }
    }
}

/// A provider as the instance has it; its models are offered as `<name>/<model>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelProvider {
    pub id: Uuid,
    /// Lower-case letters, digits and dashes: the prefix of its models' names.
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    /// Whether an API key is set (the key itself is never shown).
    pub has_key: bool,
    /// The models offered; empty: every model the provider lists.
    pub models: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an admin sets when adding a provider or changing one. When changing, an absent
/// `api_key` keeps the key, and an empty one removes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProviderInput {
    pub name: String,
    pub kind: Option<ProviderKind>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A provider's state as this instance last saw it (the models page).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProviderStatus {
    pub provider: ModelProvider,
    /// Whether its model list answered at the last check; unknown before the first.
    pub up: Option<bool>,
    /// Its models as offered here (`<name>/<model>`).
    pub models: Vec<String>,
    /// Why it did not answer (no key, no detail of the provider's body).
    pub error: Option<String>,
}

/// The longest provider name: it prefixes every model name.
pub const MAX_PROVIDER_NAME: usize = 32;

/// Why a provider name is refused, if it is.
pub fn provider_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > MAX_PROVIDER_NAME {
        return Some("a provider's name is 1 to 32 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || name.starts_with('-')
    {
        return Some("a provider's name is lower-case letters, digits and dashes");
    }
    None
}
