//! The current date and time, in any IANA time zone: from the system's zone database when it
//! has the zone (kept current by the OS), else from the copy compiled in (jiff's bundled
//! tzdb), so the binary alone in an empty container still knows every zone.

use super::{parse_arguments, schema_of, Tool, ToolContext, ToolError};
use chrono::{format::StrftimeItems, DateTime, FixedOffset, Utc};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

const MAX_FORMAT_LENGTH: usize = 100;
/// The longest IANA name is 32 characters (`America/Argentina/ComodRivadavia`).
const MAX_ZONE_LENGTH: usize = 64;

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
        // The system's zone files are read (and re-checked for updates) on first use: file
        // I/O, so off the async threads.
        tokio::task::spawn_blocking(move || {
            time_at(
                Utc::now(),
                arguments.timezone.as_deref(),
                arguments.format.as_deref(),
            )
        })
        .await
        .map_err(|e| ToolError::Failed(format!("the clock failed: {e}")))?
    }
}

/// `now` shown in `timezone` with `format`.
pub fn time_at(
    now: DateTime<Utc>,
    timezone: Option<&str>,
    format: Option<&str>,
) -> Result<String, ToolError> {
    time_in(
        &[jiff::tz::db(), &TimeZoneDatabase::bundled()],
        now,
        timezone,
        format,
    )
}

/// `now` in the zone found in the first of `databases` that has it.
fn time_in(
    databases: &[&TimeZoneDatabase],
    now: DateTime<Utc>,
    timezone: Option<&str>,
    format: Option<&str>,
) -> Result<String, ToolError> {
    let zone_name = timezone
        .map(str::trim)
        .filter(|z| !z.is_empty())
        .unwrap_or("UTC");
    let unknown = || {
        ToolError::InvalidArguments(format!(
            "unknown time zone '{zone_name}' (use an IANA name such as Europe/Paris)"
        ))
    };
    // IANA names are ASCII letters, digits and `/_+-`; anything else is not worth a lookup.
    let plausible = zone_name.len() <= MAX_ZONE_LENGTH
        && !zone_name.starts_with('/')
        && !zone_name.contains("..")
        && zone_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
    if !plausible {
        return Err(unknown());
    }
    let zone: TimeZone = databases
        .iter()
        .find_map(|database| database.get(zone_name).ok())
        .ok_or_else(unknown)?;
    let instant = jiff::Timestamp::from_second(now.timestamp())
        .map_err(|_| ToolError::Failed(format!("{now} is outside the zone database's range")))?;
    let info = zone.to_offset_info(instant);
    let offset = FixedOffset::east_opt(info.offset().seconds())
        .ok_or_else(|| ToolError::Failed(format!("'{zone_name}' has no usable offset")))?;
    let local = now.with_timezone(&offset);
    // The database's spelling: `europe/paris` is shown as `Europe/Paris`.
    let shown_name = zone.iana_name().unwrap_or(zone_name);
    match format.filter(|f| !f.trim().is_empty()) {
        None => Ok(format!(
            "{} ({}, {})",
            local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            local.format("%A"),
            shown_name
        )),
        Some(format) => {
            if format.chars().count() > MAX_FORMAT_LENGTH {
                return Err(ToolError::InvalidArguments(format!(
                    "the format is longer than {MAX_FORMAT_LENGTH} characters"
                )));
            }
            // chrono knows only the offset here, so `%Z` becomes the zone's abbreviation
            // (CET, EDT) before chrono reads the format.
            let format_with_zone = with_abbreviation(format, info.abbreviation());
            // An invalid specifier would make formatting fail (and `to_string` panic): check
            // the parsed items first.
            let items: Vec<_> = StrftimeItems::new(&format_with_zone).collect();
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

/// `format` with each `%Z` (also with a padding flag: `%-Z`, `%_Z`, `%0Z`) replaced by
/// `abbreviation`, itself escaped for strftime; `%%` stays as it is.
fn with_abbreviation(format: &str, abbreviation: &str) -> String {
    let escaped = abbreviation.replace('%', "%%");
    let mut out = String::with_capacity(format.len() + escaped.len());
    let mut rest = format.chars().peekable();
    while let Some(c) = rest.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut specifier = String::from('%');
        if let Some(flag) = rest.next_if(|c| matches!(c, '-' | '_' | '0')) {
            specifier.push(flag);
        }
        match rest.next() {
            Some('Z') => out.push_str(&escaped),
            Some(other) => {
                out.push_str(&specifier);
                out.push(other);
            }
            None => out.push_str(&specifier),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

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

    #[test]
    fn shows_the_zone_abbreviation_and_daylight_saving() {
        let summer = Utc.with_ymd_and_hms(2026, 7, 4, 16, 0, 0).unwrap();
        assert_eq!(
            time_at(summer, Some("America/New_York"), Some("%H:%M %Z (%z)")).unwrap(),
            "12:00 EDT (-0400)"
        );
        assert_eq!(
            time_at(at(), Some("America/New_York"), Some("%H:%M %Z")).unwrap(),
            "08:05 EST"
        );
        assert_eq!(
            time_at(at(), Some("Europe/Paris"), Some("%%Z is %Z, %-Z too")).unwrap(),
            "%Z is CET, CET too"
        );
    }

    #[test]
    fn names_are_matched_without_case_and_shown_as_the_database_spells_them() {
        assert_eq!(
            time_at(at(), Some("  europe/PARIS "), None).unwrap(),
            "2026-11-24T14:05:09+01:00 (Tuesday, Europe/Paris)"
        );
    }

    /// What the binary knows with no zone files on the host (an empty container): the copy
    /// compiled in has every zone, old aliases included.
    #[test]
    fn the_compiled_in_database_alone_knows_every_zone() {
        let bundled = TimeZoneDatabase::bundled();
        let only_bundled = [&bundled];
        assert!(bundled.available().count() > 400);
        assert_eq!(
            time_in(&only_bundled, at(), Some("Asia/Kolkata"), None).unwrap(),
            "2026-11-24T18:35:09+05:30 (Tuesday, Asia/Kolkata)"
        );
        assert_eq!(
            time_in(&only_bundled, at(), Some("US/Eastern"), Some("%H:%M %Z")).unwrap(),
            "08:05 EST"
        );
        let none = TimeZoneDatabase::none();
        assert_eq!(
            time_in(
                &[&none, &bundled],
                at(),
                Some("Australia/Sydney"),
                Some("%H:%M %Z")
            )
            .unwrap(),
            "00:05 AEDT"
        );
    }

    #[test]
    fn names_that_are_paths_or_too_long_are_refused() {
        for name in [
            "../../etc/passwd",
            "/etc/localtime",
            "Europe/../../../etc/passwd",
            "Europe/Paris\0",
            &"A".repeat(65),
        ] {
            let error = time_at(at(), Some(name), None).unwrap_err();
            assert!(
                error.to_string().contains("unknown time zone"),
                "{name}: {error}"
            );
        }
    }
}
