//! Arithmetic and common functions through exmex, an expression evaluator that runs no code.

use super::{parse_arguments, run_blocking, schema_of, Tool, ToolContext, ToolError};
use exmex::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// Longer input is refused before parsing.
const MAX_LENGTH: usize = 500;
/// Deeper nesting of parentheses is refused before parsing.
const MAX_DEPTH: usize = 32;

pub struct Calculator;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Arguments {
    /// The expression, for example `2 * (3 + 4.5)`, `sqrt(2)`, `sin(PI/6)`, `2^10`, `ln(E)`.
    expression: String,
}

#[async_trait::async_trait]
impl Tool for Calculator {
    fn name(&self) -> &'static str {
        "calculator"
    }

    fn description(&self) -> &'static str {
        "Evaluates an arithmetic expression exactly as written and returns the number. Supports + - * / ^ (power), parentheses, \
         the constants PI and E, and sqrt, cbrt, exp, ln, log10, log2, sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, \
         abs, floor, ceil, round, trunc and signum."
    }

    fn parameters(&self) -> Value {
        schema_of::<Arguments>()
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(2)
    }

    async fn call(&self, _context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let Arguments { expression } = parse_arguments(arguments)?;
        run_blocking(self.timeout(), move || evaluate(&expression)).await
    }
}

/// Evaluates `expression` and formats the result.
pub fn evaluate(expression: &str) -> Result<String, ToolError> {
    let expression = expression.trim();
    if expression.is_empty() {
        return Err(ToolError::InvalidArguments(
            "the expression is empty".into(),
        ));
    }
    if expression.chars().count() > MAX_LENGTH {
        return Err(ToolError::InvalidArguments(format!(
            "the expression is longer than {MAX_LENGTH} characters"
        )));
    }
    let mut depth = 0usize;
    for c in expression.chars() {
        match c {
            '(' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ToolError::InvalidArguments(format!(
                        "parentheses are nested deeper than {MAX_DEPTH}"
                    )));
                }
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let parsed = FlatEx::<f64>::parse(expression)
        .map_err(|e| ToolError::InvalidArguments(format!("cannot read the expression: {e}")))?;
    if let Some(name) = parsed.var_names().first() {
        return Err(ToolError::InvalidArguments(format!(
            "unknown name '{name}' (use numbers, PI, E and the listed functions)"
        )));
    }
    let value = parsed
        .eval(&[])
        .map_err(|e| ToolError::Failed(format!("cannot evaluate: {e}")))?;
    if !value.is_finite() {
        return Err(ToolError::Failed(
            "the result is not a finite number (division by zero or overflow?)".into(),
        ));
    }
    Ok(format_number(value))
}

/// Whole numbers without a fraction, others with up to 12 significant digits.
fn format_number(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    let text = format!("{value:.11e}");
    let parsed: f64 = text.parse().unwrap_or(value);
    let plain = format!("{parsed}");
    if plain.len() <= 24 {
        plain
    } else {
        format!("{parsed:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_arithmetic_and_functions() {
        assert_eq!(evaluate("2 * (3 + 4.5)").unwrap(), "15");
        assert_eq!(evaluate("2^10").unwrap(), "1024");
        assert_eq!(evaluate("sqrt(2)").unwrap(), "1.41421356237");
        assert_eq!(evaluate("1/3").unwrap(), "0.333333333333");
        assert_eq!(evaluate("sin(PI/6)").unwrap(), "0.5");
        assert_eq!(evaluate("ln(E)").unwrap(), "1");
        assert_eq!(evaluate("-7 + abs(-3)").unwrap(), "-4");
        assert_eq!(evaluate("10^20 * 3").unwrap(), "300000000000000000000");
    }

    #[test]
    fn refuses_what_is_not_arithmetic() {
        for (input, expected) in [
            ("", "empty"),
            ("x + 1", "unknown name 'x'"),
            ("system(\"rm -rf /\")", "cannot read"),
            ("1 / 0", "not a finite number"),
            ("2 +", "cannot read"),
        ] {
            let error = evaluate(input).unwrap_err().to_string();
            assert!(error.contains(expected), "{input:?}: {error}");
        }
    }

    #[test]
    fn caps_length_and_nesting() {
        let long = "1+".repeat(300) + "1";
        assert!(evaluate(&long)
            .unwrap_err()
            .to_string()
            .contains("longer than"));
        let deep = "(".repeat(40) + "1" + &")".repeat(40);
        assert!(evaluate(&deep)
            .unwrap_err()
            .to_string()
            .contains("nested deeper"));
        let fine = "(".repeat(30) + "1" + &")".repeat(30);
        assert_eq!(evaluate(&fine).unwrap(), "1");
    }

    #[tokio::test]
    async fn arguments_must_match_the_schema() {
        let context = ToolContext {
            owner_id: uuid::Uuid::nil(),
            conversation_id: None,
        };
        let tool = Calculator;
        assert_eq!(
            tool.call(&context, serde_json::json!({"expression": "6*7"}))
                .await
                .unwrap(),
            "42"
        );
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"expression": 42}),
            serde_json::json!({"expression": "1", "extra": true}),
            serde_json::json!([1, 2]),
        ] {
            assert!(
                matches!(
                    tool.call(&context, bad.clone()).await,
                    Err(ToolError::InvalidArguments(_))
                ),
                "{bad}"
            );
        }
        let schema = tool.parameters();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], serde_json::json!(["expression"]));
        assert_eq!(schema["properties"]["expression"]["type"], "string");
    }
}
