//! Logs: tracing to stderr, text or JSON lines, filtered by `log.filter` / `RUST_LOG`.

use crate::config::LogSettings;
use tracing_subscriber::{fmt, EnvFilter};

pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|error| {
        eprintln!(
            "ollamastack: log filter {:?} is not valid ({error}); using \"info\"",
            settings.filter
        );
        EnvFilter::new("info")
    });
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // try_init: tests and benchmarks may build several servers in one process.
    let _ = if settings.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
