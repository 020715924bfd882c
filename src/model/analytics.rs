//! The analytics dashboard's figures, shared by the API, the server function and the page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The window a report covers, ending now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Timeframe {
    #[default]
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

impl Timeframe {
    pub const ALL: [Timeframe; 3] = [Timeframe::Day, Timeframe::Week, Timeframe::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::Day => "24h",
            Timeframe::Week => "7d",
            Timeframe::Month => "30d",
        }
    }

    pub fn parse(value: &str) -> Option<Timeframe> {
        Timeframe::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// How the time series is bucketed.
    pub fn bucket(self) -> Bucket {
        match self {
            Timeframe::Day => Bucket::Hour,
            Timeframe::Week | Timeframe::Month => Bucket::Day,
        }
    }

    /// Buckets in the window (the current one included).
    pub fn buckets(self) -> i64 {
        match self {
            Timeframe::Day => 24,
            Timeframe::Week => 7,
            Timeframe::Month => 30,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Bucket {
    Hour,
    Day,
}

/// Average and percentiles of a duration, in milliseconds (none without data).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Latency {
    pub count: i64,
    pub avg_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Totals {
    /// Messages people sent.
    pub messages: i64,
    pub conversations: i64,
    /// Model responses that ended (agent steps included).
    pub answers: i64,
    pub tool_calls: i64,
    pub uploads: i64,
    /// UTC days with at least one event.
    pub active_days: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelShare {
    pub model: String,
    pub answers: i64,
    /// Of all answers in the window, 0 to 1.
    pub share: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Count {
    pub name: String,
    pub count: i64,
}

/// One bucket of the time series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeriesPoint {
    pub start: DateTime<Utc>,
    pub messages: i64,
    pub answers: i64,
    pub errors: i64,
    pub completion_tokens: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AnalyticsReport {
    pub timeframe: Timeframe,
    /// The window: from the start of its first bucket until now.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket: Bucket,
    pub totals: Totals,
    /// From the request to Ollama until the answer's end, and until its first token.
    pub response_time: Latency,
    pub time_to_first_token: Latency,
    /// Completion tokens over the time spent generating them, across answers that report both.
    pub tokens_per_second: Option<f64>,
    /// Answers that ended in error, over all answers (0 without answers).
    pub error_rate: f64,
    /// Answers by final status: complete, stopped, error, interrupted.
    pub statuses: Vec<Count>,
    pub top_models: Vec<ModelShare>,
    /// Every recorded event by kind (`message.sent`, `generation.finished`, …).
    pub events_by_type: Vec<Count>,
    pub series: Vec<SeriesPoint>,
}

impl AnalyticsReport {
    /// Whether nothing happened in the window.
    pub fn is_empty(&self) -> bool {
        self.events_by_type.iter().all(|c| c.count == 0)
    }
}
