//! Logs: tracing to stderr, text or JSON lines, filtered by `log.filter` / `RUST_LOG`. Each
//! request's lines carry its span: request id, method, path and, once known, the person.

use crate::config::LogSettings;
use tracing_subscriber::{fmt, fmt::MakeWriter, util::SubscriberInitExt, EnvFilter};

/// The process's logging, to stderr.
pub fn init(settings: &LogSettings) {
    // try_init: tests and benchmarks may build several servers in one process.
    let _ = subscriber(settings, std::io::stderr).try_init();
}

/// The logging `init` installs, writing to `writer` (tests read what it writes).
pub fn subscriber<W>(
    settings: &LogSettings,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|error| {
        eprintln!(
            "ollamastack: log filter {:?} is not valid ({error}); using \"info\"",
            settings.filter
        );
        EnvFilter::new("info")
    });
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    if settings.json {
        Box::new(builder.json().finish())
    } else {
        Box::new(builder.finish())
    }
}
