//! Input checked at the edge, into typed errors; nothing invalid reaches the store or Ollama.

use crate::error::{AppError, AppResult};
use crate::model::{
    GenerationOptions, MAX_MESSAGE_CHARS, MAX_SYSTEM_PROMPT_CHARS, MAX_TITLE_CHARS,
};
use crate::state::AppState;

/// A person's message as it will be kept: control characters removed (see `text::clean_input`);
/// refused when nothing but blanks is left, or when it is too long.
pub fn validate_content(content: &str) -> AppResult<String> {
    let content = crate::text::clean_input(content);
    if content.trim().is_empty() {
        return Err(AppError::InvalidInput("a message cannot be empty".into()));
    }
    if content.chars().count() > MAX_MESSAGE_CHARS {
        return Err(AppError::InvalidInput(format!(
            "a message can be at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    Ok(content)
}

pub fn validate_title(title: &str) -> AppResult<String> {
    let title: String = crate::text::clean_input(title)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if title.is_empty() {
        return Err(AppError::InvalidInput("a title cannot be empty".into()));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(AppError::InvalidInput(format!(
            "a title can be at most {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(title)
}

pub fn validate_model(model: &str) -> AppResult<String> {
    let model = model.trim();
    if model.is_empty()
        || model.len() > 200
        || model.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(AppError::InvalidInput(format!(
            "{model:?} is not a valid model name"
        )));
    }
    Ok(model.to_string())
}

/// Checks the sampling options and caps the answer length at the server's limit: `num_predict`
/// absent, -1 (no limit) or -2 (fill the context) becomes the limit.
pub(crate) fn validate_options(
    state: &AppState,
    options: GenerationOptions,
) -> AppResult<GenerationOptions> {
    check_options(&options)?;
    let cap = state.settings.generation.max_answer_tokens.max(1);
    let mut options = options;
    options.num_predict = Some(match options.num_predict {
        Some(n) if n > 0 => n.min(cap),
        _ => cap,
    });
    Ok(options)
}

pub(crate) fn check_options(options: &GenerationOptions) -> AppResult<()> {
    if let Some(t) = options.temperature {
        if !(0.0..=5.0).contains(&t) {
            return Err(AppError::InvalidInput(
                "temperature must be between 0 and 5".into(),
            ));
        }
    }
    if let Some(n) = options.num_predict {
        if n < -2 || n == 0 {
            return Err(AppError::InvalidInput(
                "num_predict must be positive, -1 (no limit) or -2 (fill the context)".into(),
            ));
        }
    }
    if let Some(n) = options.num_ctx {
        if !(1..=1 << 21).contains(&n) {
            return Err(AppError::InvalidInput(
                "num_ctx must be between 1 and 2097152".into(),
            ));
        }
    }
    Ok(())
}

/// A system prompt as it will be kept: control characters removed; blank means none.
pub fn validate_system_prompt(prompt: Option<&str>) -> AppResult<Option<String>> {
    let Some(prompt) = prompt.map(crate::text::clean_input) else {
        return Ok(None);
    };
    if prompt.trim().is_empty() {
        return Ok(None);
    }
    if prompt.chars().count() > MAX_SYSTEM_PROMPT_CHARS {
        return Err(AppError::InvalidInput(format!(
            "a system prompt can be at most {MAX_SYSTEM_PROMPT_CHARS} characters"
        )));
    }
    Ok(Some(prompt))
}

/// A title from the first line of the first message.
pub fn title_from(content: &str) -> String {
    let line = content
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("New chat");
    let line: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
    const MAX: usize = 60;
    if line.chars().count() > MAX {
        format!(
            "{}…",
            line.chars().take(MAX - 1).collect::<String>().trim_end()
        )
    } else {
        line
    }
}

/// The tools these names name, each once, in order; an unknown name is refused (422).
pub(crate) fn known_tools<'a>(
    state: &'a AppState,
    names: &[String],
) -> AppResult<Vec<&'a std::sync::Arc<dyn crate::tools::Tool>>> {
    if names.len() > 32 {
        return Err(AppError::InvalidInput("at most 32 tools".into()));
    }
    let mut tools: Vec<&std::sync::Arc<dyn crate::tools::Tool>> = Vec::with_capacity(names.len());
    for name in names {
        let Some(tool) = state.tools.get(name) else {
            return Err(AppError::InvalidInput(format!(
                "unknown tool '{}' (see GET /api/v1/tools)",
                crate::text::clean_input(name)
                    .chars()
                    .take(64)
                    .collect::<String>()
            )));
        };
        if !tools.iter().any(|known| known.name() == tool.name()) {
            tools.push(tool);
        }
    }
    Ok(tools)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_line_and_are_short() {
        assert_eq!(title_from("\n  Hello   there \nsecond"), "Hello there");
        let long = "word ".repeat(40);
        let title = title_from(&long);
        assert!(
            title.chars().count() <= 60 && title.ends_with('…'),
            "{title}"
        );
    }

    #[test]
    fn bad_input_is_refused_with_a_clear_error() {
        assert!(matches!(
            validate_content("   \n"),
            Err(AppError::InvalidInput(_))
        ));
        assert!(matches!(
            validate_content(&"x".repeat(MAX_MESSAGE_CHARS + 1)),
            Err(AppError::InvalidInput(_))
        ));
        assert_eq!(validate_content("a\0b").unwrap(), "ab");
        assert!(matches!(
            validate_content("\0\u{1}\u{7f} \u{9f}\n"),
            Err(AppError::InvalidInput(_))
        ));
        assert!(validate_model("llama3.2:latest").is_ok());
        assert!(validate_model("bad name").is_err());
        assert!(validate_title("  ").is_err());
        assert!(check_options(&GenerationOptions {
            temperature: Some(-1.0),
            ..Default::default()
        })
        .is_err());
    }
}
