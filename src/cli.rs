//! The `ollamastack` command line: serve (the default), check the settings, or bring the
//! database up to date.

use crate::config::Settings;
use std::path::PathBuf;
use std::process::ExitCode;

/// What the exit codes mean (also shown by `--help`).
pub const EXIT_CODES: &str = "Exit codes:
  0  success (served until SIGINT or SIGTERM, settings valid, or database up to date)
  1  a failure while starting or running (database unreachable, address in use, ...)
  2  a wrong command line or invalid settings";

/// The failure codes.
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_INVALID: u8 = 2;

#[derive(clap::Parser, Debug)]
#[command(
    name = "ollamastack",
    version,
    about = "Chat with, and run tool-using agents on, the models Ollama serves.",
    long_about = "Chat with, and run tool-using agents on, the models Ollama serves.\n\n\
        Settings come from a TOML file (--config; by default ./Leptos.toml when it exists, \
        else the built-in defaults), then environment variables (OLLAMA_URL, DATABASE_URL, \
        OLLAMASTACK_ADDR, ...: see the README). With nothing set it serves \
        http://127.0.0.1:3000 with a SQLite database in ./data.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// The settings file (TOML). It must exist when named.
    #[arg(short, long, value_name = "FILE", env = "OLLAMASTACK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Check the settings (file and environment) and exit: 0 when valid, 2 when not.
    #[arg(long)]
    pub check_config: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(clap::Subcommand, Debug, PartialEq, Eq)]
pub enum Command {
    /// Serve the app (the default).
    Serve,
    /// Apply the database's migrations, then exit.
    Migrate,
}

/// Runs what the command line asks for.
pub async fn run(cli: Cli) -> ExitCode {
    let settings = match Settings::load_from(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("ollamastack: {error}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    if let Err(refusal) = settings.check_exposure() {
        eprintln!("ollamastack: {refusal}");
        return ExitCode::from(EXIT_INVALID);
    }
    if cli.check_config {
        println!("{settings}");
        println!("ollamastack: the settings are valid");
        return ExitCode::SUCCESS;
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::web::serve_with(settings).await,
        Command::Migrate => migrate(settings).await,
    }
}

async fn migrate(settings: Settings) -> ExitCode {
    let _telemetry = crate::telemetry::init(&settings);
    match crate::db::connect(&settings.database).await {
        Ok(store) => {
            println!(
                "ollamastack: the {} database is up to date",
                store.backend()
            );
            store.close().await;
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ollamastack: cannot migrate: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["ollamastack", "--config", "x.toml", "migrate"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
        assert_eq!(cli.command, Some(Command::Migrate));
        let cli = Cli::try_parse_from(["ollamastack", "--check-config"]).unwrap();
        assert!(cli.check_config && cli.command.is_none());
        let wrong = Cli::try_parse_from(["ollamastack", "--no-such-flag"]).unwrap_err();
        assert_eq!(wrong.exit_code(), i32::from(EXIT_INVALID));
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes"), "{help}");
    }
}
