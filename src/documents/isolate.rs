//! Text extraction in a child process of this same binary: a reader that loops is killed at
//! the time limit, one that crashes or runs out of memory (the child caps its own address
//! space) takes only the child with it. The child gets the file on stdin and no environment
//! (no secrets), and answers with JSON on stdout.

use super::extract::{extract, Extracted, Limits};
use crate::model::FileKind;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why a file's text could not be read when its reader failed.
pub const READER_FAILED: &str = "the file could not be read (its reader failed)";

/// Why a file's text could not be read in time.
pub fn too_slow(limit: Duration) -> String {
    let ms = limit.as_millis();
    if ms < 1000 {
        format!("reading the file took more than {ms} ms")
    } else {
        format!("reading the file took more than {} s", limit.as_secs())
    }
}

/// The hidden first argument that makes the binary an extractor.
pub const SUBCOMMAND: &str = "__extract-text";

/// What the child is asked (its one argument after the subcommand, as JSON).
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    kind: FileKind,
    limits: Limits,
    memory_bytes: u64,
}

/// When the process was started as an extractor, does the extraction and returns its exit
/// code; otherwise `None` (start the server).
pub fn run_if_asked() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != SUBCOMMAND {
        return None;
    }
    let job: Job = match args
        .next()
        .and_then(|arg| serde_json::from_str(&arg.to_string_lossy()).ok())
    {
        Some(job) => job,
        None => return Some(ExitCode::from(2)),
    };
    limit_memory(job.memory_bytes);
    let mut bytes = Vec::new();
    if std::io::stdin().read_to_end(&mut bytes).is_err() {
        return Some(ExitCode::from(3));
    }
    let result: Result<Extracted, String> =
        extract(job.kind, &bytes, &job.limits).map_err(|error| error.0);
    let mut out = std::io::stdout().lock();
    if serde_json::to_writer(&mut out, &result).is_ok() && out.flush().is_ok() {
        Some(ExitCode::SUCCESS)
    } else {
        Some(ExitCode::from(4))
    }
}

/// Caps the address space of this (child) process, so that a hostile file cannot take the
/// machine's memory.
#[cfg(unix)]
fn limit_memory(bytes: u64) {
    if bytes == 0 {
        return;
    }
    let limit = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we pass; it changes only this process's limits.
    unsafe {
        libc::setrlimit(libc::RLIMIT_AS, &limit);
    }
}

#[cfg(not(unix))]
fn limit_memory(_bytes: u64) {}

/// Extracts `bytes` in a child process of `program`; `Err` holds the reason shown to the
/// person.
pub async fn extract_in_child(
    program: &Path,
    kind: FileKind,
    bytes: Vec<u8>,
    limits: Limits,
    memory_bytes: u64,
    timeout: Duration,
) -> Result<Extracted, String> {
    // The text may be up to max_chars characters of up to 4 bytes, each escaped at worst as
    // \uXXXX in JSON: more than that on stdout is not an answer.
    let most = (limits.max_chars as u64).saturating_mul(12) + 1024 * 1024;
    let job = serde_json::to_string(&Job {
        kind,
        limits,
        memory_bytes,
    })
    .map_err(|_| "the file could not be read".to_string())?;
    let mut child = tokio::process::Command::new(program)
        .arg(SUBCOMMAND)
        .arg(job)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| {
            tracing::error!(%error, program = %program.display(), "cannot start the text extractor");
            "the text extractor cannot start on this server".to_string()
        })?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err("the text extractor cannot start on this server".into());
    };
    let work = async {
        // Written while the answer is read, so that neither pipe fills up and stalls both.
        let feed = async move {
            // A child that stops reading (it failed) closes the pipe: its status says why.
            let _ = stdin.write_all(&bytes).await;
            drop(stdin);
        };
        let mut answer = Vec::new();
        let mut stdout = stdout.take(most + 1);
        let read = stdout.read_to_end(&mut answer);
        let (_, read) = tokio::join!(feed, read);
        let status = child.wait().await;
        (read, status, answer)
    };
    let (read, status, answer) = match tokio::time::timeout(timeout, work).await {
        Ok(done) => done,
        // Dropping `work` drops the child, which kills it.
        Err(_) => return Err(too_slow(timeout)),
    };
    let status = status.map_err(|_| READER_FAILED.to_string())?;
    if read.is_err() || !status.success() || answer.len() as u64 > most {
        tracing::warn!(?status, "the text extractor failed on a file");
        return Err(READER_FAILED.into());
    }
    serde_json::from_slice::<Result<Extracted, String>>(&answer)
        .map_err(|_| READER_FAILED.to_string())?
}
