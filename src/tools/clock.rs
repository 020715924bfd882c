//! The current date and time, in any IANA time zone (the zone database is compiled in).

use super::{parse_arguments, schema_of, Tool, ToolContext, ToolError};
use chrono::{format::StrftimeItems, DateTime, Utc};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

const MAX_FORMAT_LENGTH: usize = 100;

pub struct CurrentTime;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Arguments {
    /// An IANA time zone such as `Europe/Paris` or `America/New_York`; UTC when absent.
    #[serde(default)]
    timezone: Option<String>,
    /// A strftime format such as `%A %d %B %Y, %H:%M`; ISO 8601 with the weekday when absent.
    #[serde(default)]
    format: Option<String>,
}

#[async_trait::async_trait]
impl Tool for CurrentTime {
    fn name(&self) -> &'static str {
        "current_time"
    }

    fn description(&self) -> &'static str {
        "Returns the current date and time, in an IANA time zone (UTC by default), optionally formatted with a strftime format."
    }

    fn parameters(&self) -> Value {
        schema_of::<Arguments>()
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn call(&self, _context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let arguments: Arguments = parse_arguments(arguments)?;
        time_at(
            Utc::now(),
            arguments.timezone.as_deref(),
            arguments.format.as_deref(),
        )
    }
}

/// `now` shown in `timezone` with `format`.
pub fn time_at(
    now: DateTime<Utc>,
    timezone: Option<&str>,
    format: Option<&str>,
) -> Result<String, ToolError> {
    let zone_name = timezone
        .map(str::trim)
        .filter(|z| !z.is_empty())
        .unwrap_or("UTC");
    let zone: Tz = zone_name.parse().map_err(|_| {
        ToolError::InvalidArguments(format!(
            "unknown time zone '{zone_name}' (use an IANA name such as Europe/Paris)"
        ))
    })?;
    let local = now.with_timezone(&zone);
    match format.filter(|f| !f.trim().is_empty()) {
        None => Ok(format!(
            "{} ({}, {})",
            local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            local.format("%A"),
            zone.name()
        )),
        Some(format) => {
            if format.chars().count() > MAX_FORMAT_LENGTH {
                return Err(ToolError::InvalidArguments(format!(
                    "the format is longer than {MAX_FORMAT_LENGTH} characters"
                )));
            }
            // An invalid specifier would make formatting fail (and `to_string` panic): check
            // the parsed items first.
            let items: Vec<_> = StrftimeItems::new(format).collect();
            if items
                .iter()
                .any(|item| matches!(item, chrono::format::Item::Error))
            {
                return Err(ToolError::InvalidArguments(format!(
                    "'{format}' is not a valid strftime format"
                )));
            }
            let mut text = String::new();
            use std::fmt::Write;
            write!(text, "{}", local.format_with_items(items.into_iter())).map_err(|_| {
                ToolError::InvalidArguments(format!("'{format}' cannot format a date"))
            })?;
            Ok(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 13, 5, 9).unwrap()
    }

    #[test]
    fn shows_the_time_in_a_zone() {
        assert_eq!(
            time_at(at(), None, None).unwrap(),
            "2026-11-24T13:05:09+00:00 (Tuesday, UTC)"
        );
        assert_eq!(
            time_at(at(), Some("Europe/Paris"), None).unwrap(),
            "2026-11-24T14:05:09+01:00 (Tuesday, Europe/Paris)"
        );
        assert_eq!(
            time_at(at(), Some("Asia/Kolkata"), Some("%H:%M on %A %d %B %Y")).unwrap(),
            "18:35 on Tuesday 24 November 2026"
        );
    }

    #[test]
    fn refuses_unknown_zones_and_bad_formats() {
        let error = time_at(at(), Some("Mars/Olympus"), None).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("unknown time zone 'Mars/Olympus'"),
            "{error}"
        );
        let error = time_at(at(), None, Some("%Q %")).unwrap_err();
        assert!(
            error.to_string().contains("not a valid strftime"),
            "{error}"
        );
        let error = time_at(at(), None, Some(&"%Y".repeat(60))).unwrap_err();
        assert!(error.to_string().contains("longer than"), "{error}");
    }
}
