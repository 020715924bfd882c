#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    // Started by the server to read one file's text (see `documents::isolate`).
    if let Some(code) = ollamastack::documents::isolate::run_if_asked() {
        return code;
    }
    serve()
}

#[cfg(feature = "ssr")]
#[tokio::main]
async fn serve() -> std::process::ExitCode {
    ollamastack::web::run_from_env().await
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser side starts in `hydrate()` (lib.rs); this binary needs the `ssr` feature.
}
