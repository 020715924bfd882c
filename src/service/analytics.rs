//! The analytics report: events the outbox holds are recorded first (off the generation's
//! path; the recorder task does the same every `analytics.record_interval_ms`), then the
//! rollups are read.

use crate::error::AppResult;
use crate::model::{AnalyticsReport, Timeframe};
use crate::state::AppState;
use uuid::Uuid;

pub async fn analytics_report(
    state: &AppState,
    owner: Uuid,
    timeframe: Timeframe,
) -> AppResult<AnalyticsReport> {
    // What happened up to now is in the report, even between two runs of the recorder.
    crate::analytics::catch_up(&state.store).await?;
    Ok(
        crate::analytics::report::report(&state.store, owner, timeframe, chrono::Utc::now())
            .await?,
    )
}
