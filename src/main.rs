// Linked against a newer glibc (Debian 12's 2.36), `hypot` and `hypotf` bind to the versions
// glibc 2.35 added, the only symbols that would keep the release binary off glibc 2.34 (RHEL 9
// and its rebuilds). Every glibc still has the older versions, which return the same values
// (they differ in how an overflow is reported through errno, which Rust does not read).
// The directive reaches every crate's calls in the release build only, whose whole-program LTO
// makes one object of them all. `bench/binary.sh` fails when the release binary needs a glibc
// newer than 2.34.
#[cfg(all(
    feature = "ssr",
    target_arch = "x86_64",
    target_os = "linux",
    target_env = "gnu"
))]
std::arch::global_asm!(
    ".symver hypot, hypot@GLIBC_2.2.5",
    ".symver hypotf, hypotf@GLIBC_2.2.5"
);

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
