#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    // Started by the server to read one file's text (see `documents::isolate`).
    if let Some(code) = ollamastack::documents::isolate::run_if_asked() {
        return code;
    }
    serve()
}

#[cfg(feature = "ssr")]
fn serve() -> std::process::ExitCode {
    // `--help`, `--version` and a wrong command line exit here (0, 0 and 2).
    let cli = <ollamastack::cli::Cli as clap::Parser>::parse();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(ollamastack::cli::run(cli)),
        Err(error) => {
            eprintln!("ollamastack: cannot start the runtime: {error}");
            std::process::ExitCode::from(ollamastack::cli::EXIT_FAILURE)
        }
    }
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser side starts in `hydrate()` (lib.rs); this binary needs the `ssr` feature.
}
