//! The analytics report: events the outbox holds are recorded first (off the generation's
//! path; the recorder task does the same every `analytics.record_interval_ms`), then the
//! rollups are read.

use crate::db::analytics::ReportScope;
use crate::error::{AppError, AppResult};
use crate::model::{AnalyticsReport, Person, Timeframe};
use crate::state::AppState;

/// The person's figures, or with `instance` (admins only) everyone's.
pub async fn analytics_report(
    state: &AppState,
    person: &Person,
    timeframe: Timeframe,
    instance: bool,
) -> AppResult<AnalyticsReport> {
    let whose = if instance {
        if !person.is_admin() {
            return Err(AppError::Forbidden(
                "only an admin sees the figures of the whole instance".into(),
            ));
        }
        ReportScope::Instance
    } else {
        ReportScope::Person(person.id)
    };
    // What happened up to now is in the report, even between two runs of the recorder.
    crate::analytics::catch_up(&state.store).await?;
    Ok(
        crate::analytics::report::report(&state.store, whose, timeframe, chrono::Utc::now())
            .await?,
    )
}
