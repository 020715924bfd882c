#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    ollamastack::web::run_from_env().await
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser side starts in `hydrate()` (lib.rs); this binary needs the `ssr` feature.
}
