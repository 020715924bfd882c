//! The release server embeds the site (`target/site`, which cargo-leptos builds before the
//! server) compressed with brotli at its best, the one form browsers take over HTTPS. The
//! server makes the gzip form (for browsers on plain HTTP, which do not ask for brotli) and the
//! file as built from it, once, when a client first needs them: storing one form instead of
//! two keeps the binary smaller, and it serves brotli from its first request instead of
//! compressing for seconds after each start. A file too small to compress, or one that does
//! not shrink (images, fonts), is stored as built.
//!
//! Other builds (debug, tests, the WASM) do nothing here: a debug server reads `target/site`
//! from disk, so `cargo leptos watch` serves what it has just built.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Smaller files are not worth compressing (the same threshold as the server's own).
const MIN_COMPRESS_BYTES: usize = 1024;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(embedded_site)");
    println!("cargo::rerun-if-changed=build.rs");
    let server = std::env::var_os("CARGO_FEATURE_SSR").is_some();
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    if !(server && release) {
        return;
    }
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let site_root = manifest_dir.join("target").join("site");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    // A directory: cargo rebuilds when any file under it changes (or it appears).
    println!("cargo::rerun-if-changed={}", site_root.display());
    println!("cargo::rustc-cfg=embedded_site");

    let mut files = Vec::new();
    if site_root.is_dir() {
        collect_files(&site_root, &mut files);
    } else {
        println!(
            "cargo::warning=no site at {}: the binary serves no pages' scripts or styles (build it with `cargo leptos build --release`)",
            site_root.display()
        );
    }
    files.sort();

    let compressed_dir = out_dir.join("site");
    let mut list = String::from("&[\n");
    for path in files {
        let relative = path
            .strip_prefix(&site_root)
            .expect("under the site root")
            .to_string_lossy()
            .replace('\\', "/");
        if is_type_declaration(&relative) {
            continue;
        }
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path:?}: {e}"));
        let mut brotli = None;
        if is_compressible(&relative) && raw.len() >= MIN_COMPRESS_BYTES {
            let target = compressed_dir.join(&relative);
            std::fs::create_dir_all(target.parent().expect("a file has a parent"))
                .unwrap_or_else(|e| panic!("creating the folder of {target:?}: {e}"));
            let br = compress_brotli(&raw);
            if br.len() < raw.len() {
                brotli = Some(write(&target, "br", &br));
            }
        }
        // The file as built only when its brotli form is not smaller.
        let raw = if brotli.is_some() { None } else { Some(path) };
        let _ = writeln!(
            list,
            "    ({relative:?}, {}, {}),",
            include(raw.as_deref()),
            include(brotli.as_deref())
        );
    }
    list.push(']');
    std::fs::write(out_dir.join("embedded_site.rs"), list).expect("writing embedded_site.rs");
}

/// wasm-bindgen's TypeScript declarations (`pkg/ollamastack.d.ts`, named
/// `pkg/ollamastack.d.<hash>.ts` when cargo-leptos hashes file names): for editors, never
/// fetched by a page, and a `.ts` file would be served as MPEG transport stream video.
fn is_type_declaration(relative: &str) -> bool {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    name.ends_with(".ts") && name.split('.').any(|part| part == "d")
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {dir:?}: {e}"));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// Text, JavaScript, JSON, XML, SVG and WebAssembly compress; images and fonts already are.
fn is_compressible(path: &str) -> bool {
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    matches!(
        extension.as_deref(),
        Some(
            "html"
                | "htm"
                | "css"
                | "js"
                | "mjs"
                | "json"
                | "map"
                | "txt"
                | "xml"
                | "svg"
                | "wasm"
                | "webmanifest"
                | "ico"
        )
    )
}

fn compress_brotli(raw: &[u8]) -> Vec<u8> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(raw.len() / 3);
    brotli::BrotliCompress(&mut &raw[..], &mut out, &params).expect("brotli into memory");
    out
}

fn write(target: &Path, extension: &str, bytes: &[u8]) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    let path = PathBuf::from(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
    path
}

fn include(path: Option<&Path>) -> String {
    match path {
        Some(path) => format!(
            "Some(include_bytes!({:?}) as &[u8])",
            path.to_string_lossy()
        ),
        None => "None".to_string(),
    }
}
