//! The site's files (the WASM bundle, its JavaScript, the stylesheet, icons). The release
//! server embeds them, compressed at build time with brotli's best (`build.rs`), so that it runs
//! alone from any folder and serves the best form from its first request. Browsers send `br`
//! over HTTPS only, so a server reached over plain HTTP on a home network is asked for gzip:
//! that form is made from the brotli one, once per file and process, on a blocking thread, the
//! first time a client asks for it (the WASM bundle takes about a tenth of a second); the file
//! as built is likewise decoded once for a client that takes neither. Storing one form instead
//! of two keeps the binary smaller by the size of the gzip forms.
//!
//! Debug builds read `target/site` from disk, so `cargo leptos watch` serves what it has just
//! built, and compress the files once in the background after start; until then the response
//! compression layer compresses them on the fly.
//!
//! cargo-leptos names the bundle's files with a hash of their content (`hash-files`): those are
//! cached for a year (`immutable`); everything else is revalidated with its ETag (304).

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

/// The bundle's name (cargo-leptos' `output-name`).
pub const OUTPUT_NAME: &str = "ollamastack";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
/// Smaller files are not worth compressing (build.rs uses the same threshold).
const MIN_COMPRESS_BYTES: usize = 1024;

struct Asset {
    /// The file as built. A file embedded only in its brotli form gets it, decoded, the first
    /// time it is needed (a client that accepts neither brotli nor gzip, or Leptos reading the
    /// split manifest).
    raw: OnceLock<Bytes>,
    content_type: HeaderValue,
    etag: HeaderValue,
    /// Named by its content's hash: never changes under this name.
    immutable: bool,
    compressible: bool,
    brotli: OnceLock<Bytes>,
    /// Made from the file as built: at start for files read from disk, on the first client
    /// that asks for it for files embedded in their brotli form.
    gzip: OnceLock<Bytes>,
    /// Held while a form is made: the requests that arrive meanwhile wait for it (on blocking
    /// threads) instead of each decoding and compressing the file again.
    making: Mutex<()>,
    /// How many forms were made (decoded or compressed), for the tests.
    #[cfg(test)]
    made: std::sync::atomic::AtomicUsize,
}

/// The form of a file a response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Brotli,
    Gzip,
    Raw,
}

impl Form {
    fn content_encoding(self) -> Option<&'static str> {
        match self {
            Form::Brotli => Some("br"),
            Form::Gzip => Some("gzip"),
            Form::Raw => None,
        }
    }
}

impl Asset {
    /// The uncompressed bytes (decoded once when only the brotli form is stored).
    fn raw(&self) -> Option<&Bytes> {
        self.make_once(&self.raw, || self.decode_brotli())
    }

    /// `cell`'s bytes, made by `make` if it is empty, by one caller at a time.
    fn make_once<'a>(
        &'a self,
        cell: &'a OnceLock<Bytes>,
        make: impl FnOnce() -> Option<Bytes>,
    ) -> Option<&'a Bytes> {
        if let Some(bytes) = cell.get() {
            return Some(bytes);
        }
        let _making = self.making.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bytes) = cell.get() {
            return Some(bytes);
        }
        #[cfg(test)]
        self.made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let bytes = make()?;
        Some(cell.get_or_init(|| bytes))
    }

    fn decode_brotli(&self) -> Option<Bytes> {
        let brotli = self.brotli.get()?;
        let mut raw = Vec::with_capacity(brotli.len() * 4);
        match brotli::BrotliDecompress(&mut &brotli[..], &mut raw) {
            Ok(()) => Some(Bytes::from(raw)),
            Err(error) => {
                tracing::error!(%error, "an embedded site file does not decode");
                None
            }
        }
    }

    /// The gzip form, made once from the brotli one when that is all that is stored (CPU bound:
    /// `Site::respond_off_thread` calls it on a blocking thread). The file as built is not kept.
    fn gzip(&self) -> Option<&Bytes> {
        self.make_once(&self.gzip, || {
            let raw = match self.raw.get() {
                Some(raw) => raw.clone(),
                None => self.decode_brotli()?,
            };
            compress_gzip(&raw)
        })
    }

    /// The bytes of `form`, made first if they must be (see `raw` and `gzip`).
    fn form(&self, form: Form) -> Option<&Bytes> {
        match form {
            Form::Brotli => self.brotli.get(),
            Form::Gzip => self.gzip(),
            Form::Raw => self.raw(),
        }
    }

    /// Which form answers a client with these `Accept-Encoding` preferences. A file read from
    /// disk and not compressed yet goes as built (the compression layer compresses it).
    fn form_for(&self, request: &HeaderMap) -> Form {
        let stored_brotli = self.brotli.get().is_some();
        if stored_brotli && accepts(request, "br") {
            Form::Brotli
        } else if (stored_brotli || self.gzip.get().is_some()) && accepts(request, "gzip") {
            Form::Gzip
        } else {
            Form::Raw
        }
    }

    /// Whether answering with `form` first needs the form made (decoding, compressing).
    fn needs_making(&self, form: Form) -> bool {
        match form {
            Form::Brotli => false,
            Form::Gzip => self.gzip.get().is_none(),
            Form::Raw => self.raw.get().is_none(),
        }
    }

    /// Whether it still needs compressing (a file read from disk).
    fn needs_compressing(&self) -> bool {
        self.compressible && self.brotli.get().is_none() && self.gzip.get().is_none()
    }
}

fn compress_gzip(raw: &[u8]) -> Option<Bytes> {
    use std::io::Write;
    let mut gzip = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 3),
        flate2::Compression::best(),
    );
    gzip.write_all(raw).ok()?;
    gzip.finish().ok().map(Bytes::from)
}

/// A file of the site in the forms it is stored in.
pub struct StoredFile {
    pub path: String,
    pub raw: Option<Bytes>,
    pub brotli: Option<Bytes>,
}

/// The hashes cargo-leptos put in the bundle's file names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BundleHashes {
    pub js: Option<String>,
    pub wasm: Option<String>,
    pub css: Option<String>,
    /// The loader of the split-off chunks (`pkg/__wasm_split.<hash>.js`; `--split` builds).
    pub split: Option<String>,
    /// Which chunks each lazy page needs (`pkg/__wasm_split_manifest.<hash>.json`).
    pub manifest: Option<String>,
}

impl BundleHashes {
    /// As Leptos' hash file lists them: the bundle's three, and the split loader's and
    /// manifest's when the build has them.
    pub fn hash_file(&self) -> Option<String> {
        let mut file = format!(
            "js: {}\nwasm: {}\ncss: {}\n",
            self.js.as_ref()?,
            self.wasm.as_ref()?,
            self.css.as_ref()?
        );
        if let (Some(split), Some(manifest)) = (&self.split, &self.manifest) {
            file.push_str(&format!("split: {split}\nmanifest: {manifest}\n"));
        }
        Some(file)
    }

    /// The split manifest's path in the site, when there is one.
    pub fn manifest_path(&self) -> Option<String> {
        Some(format!(
            "pkg/{SPLIT_MANIFEST_STEM}.{}.json",
            self.manifest.as_ref()?
        ))
    }
}

const SPLIT_LOADER_STEM: &str = "__wasm_split";
const SPLIT_MANIFEST_STEM: &str = "__wasm_split_manifest";

/// `pkg/__wasm_split.<hash>.js` → (false, hash); `pkg/__wasm_split_manifest.<hash>.json` →
/// (true, hash).
fn split_part(path: &str) -> Option<(bool, &str)> {
    let (stem, hash, ext) = pkg_name_parts(path)?;
    let is_manifest = match (stem, ext) {
        (SPLIT_LOADER_STEM, "js") => false,
        (SPLIT_MANIFEST_STEM, "json") => true,
        _ => return None,
    };
    is_content_hash(hash).then_some((is_manifest, hash))
}

pub struct Site {
    assets: HashMap<String, Asset>,
    /// `pkg/ollamastack.js` and its siblings, for the hashed file of the same kind (a page
    /// rendered without the hashes still loads).
    aliases: HashMap<String, String>,
    hashes: BundleHashes,
}

/// The site, read once (release: embedded; debug: from disk).
pub fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(load)
}

#[cfg(embedded_site)]
fn load() -> Site {
    type Embedded = (&'static str, Option<&'static [u8]>, Option<&'static [u8]>);
    const FILES: &[Embedded] = include!(concat!(env!("OUT_DIR"), "/embedded_site.rs"));
    Site::from_stored(FILES.iter().map(|&(path, raw, brotli)| StoredFile {
        path: path.to_string(),
        raw: raw.map(Bytes::from_static),
        brotli: brotli.map(Bytes::from_static),
    }))
}

#[cfg(not(embedded_site))]
fn load() -> Site {
    fn walk(root: &std::path::Path, dir: &std::path::Path, files: &mut Vec<(String, Bytes)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, files);
            } else if let (Ok(relative), Ok(data)) = (path.strip_prefix(root), std::fs::read(&path))
            {
                let relative = relative.to_string_lossy().replace('\\', "/");
                files.push((relative, Bytes::from(data)));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/site");
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    Site::from_files(files.into_iter())
}

/// `pkg/<stem>.<hash>.<ext>` → (stem, hash, ext): how cargo-leptos names what it hashes.
fn pkg_name_parts(path: &str) -> Option<(&str, &str, &str)> {
    let mut parts = path.strip_prefix("pkg/")?.rsplitn(3, '.');
    let (ext, hash, stem) = (parts.next()?, parts.next()?, parts.next()?);
    Some((stem, hash, ext))
}

/// `pkg/ollamastack.<hash>.<ext>` → (hash, ext).
fn bundle_part(path: &str) -> Option<(&str, &str)> {
    let (stem, hash, ext) = pkg_name_parts(path)?;
    (stem == OUTPUT_NAME && !hash.is_empty() && matches!(ext, "js" | "wasm" | "css"))
        .then_some((hash, ext))
}

/// Whether a file under `pkg/` carries cargo-leptos' content hash in its name
/// (`<name>.<hash>.<ext>`: 22 characters of URL-safe base64, as the split-off chunks and their
/// loader are named). Without `hash-files` the loader keeps a placeholder of 22 underscores,
/// which is not a hash.
fn has_content_hash(path: &str) -> bool {
    pkg_name_parts(path).is_some_and(|(_, hash, _)| is_content_hash(hash))
}

fn is_content_hash(hash: &str) -> bool {
    hash.len() == 22
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && hash.bytes().any(|b| b != b'_')
}

fn is_compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.contains("javascript")
        || content_type.contains("json")
        || content_type.contains("xml")
        || content_type == "application/wasm"
}

fn once(bytes: Option<Bytes>) -> OnceLock<Bytes> {
    let cell = OnceLock::new();
    if let Some(bytes) = bytes {
        let _ = cell.set(bytes);
    }
    cell
}

impl Site {
    /// The site from its files as built (uncompressed).
    pub fn from_files(files: impl Iterator<Item = (String, Bytes)>) -> Site {
        Site::from_stored(files.map(|(path, raw)| StoredFile {
            path,
            raw: Some(raw),
            brotli: None,
        }))
    }

    /// The site from its files in the forms they are stored in. A file needs its raw form or
    /// its brotli form (from which the others are made); one with neither is left out.
    pub fn from_stored(files: impl Iterator<Item = StoredFile>) -> Site {
        use sha2::Digest;
        let mut assets = HashMap::new();
        let mut aliases = HashMap::new();
        let mut hashes = BundleHashes::default();
        for file in files {
            let StoredFile { path, raw, brotli } = file;
            // Whichever form is stored identifies the content (compression is deterministic).
            let Some(identity) = raw.as_ref().or(brotli.as_ref()) else {
                continue;
            };
            let digest = sha2::Sha256::digest(identity);
            let etag = format!("\"{}\"", hex::encode(&digest[..16]));
            let mime = mime_guess::from_path(&path).first_or_octet_stream();
            let content_type = mime.essence_str().to_string();
            let bundle = bundle_part(&path).map(|(hash, ext)| (hash.to_string(), ext.to_string()));
            if let Some((hash, ext)) = &bundle {
                let slot = match ext.as_str() {
                    "js" => &mut hashes.js,
                    "wasm" => &mut hashes.wasm,
                    _ => &mut hashes.css,
                };
                *slot = Some(hash.clone());
                aliases.insert(format!("pkg/{OUTPUT_NAME}.{ext}"), path.clone());
            }
            match split_part(&path) {
                Some((false, hash)) => hashes.split = Some(hash.to_string()),
                Some((true, hash)) => hashes.manifest = Some(hash.to_string()),
                None => {}
            }
            let content_type =
                if content_type.starts_with("text/") || content_type.contains("javascript") {
                    format!("{content_type}; charset=utf-8")
                } else {
                    content_type
                };
            let immutable = bundle.is_some() || has_content_hash(&path);
            let compressible = brotli.is_some()
                || (is_compressible(&content_type)
                    && raw
                        .as_ref()
                        .is_some_and(|raw| raw.len() >= MIN_COMPRESS_BYTES));
            assets.insert(
                path,
                Asset {
                    compressible,
                    content_type: HeaderValue::from_str(&content_type)
                        .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                    etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
                    immutable,
                    raw: once(raw),
                    brotli: once(brotli),
                    gzip: OnceLock::new(),
                    making: Mutex::new(()),
                    #[cfg(test)]
                    made: Default::default(),
                },
            );
        }
        // A name that is itself a file wins over an alias.
        aliases.retain(|alias, _| !assets.contains_key(alias));
        Site {
            assets,
            aliases,
            hashes,
        }
    }

    /// A file's own bytes (decoded once if it is stored compressed only).
    pub fn file(&self, path: &str) -> Option<&Bytes> {
        self.assets.get(path)?.raw()
    }

    pub fn hashes(&self) -> &BundleHashes {
        &self.hashes
    }

    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// Bytes of the site's files in every form held now.
    pub fn total_bytes(&self) -> usize {
        self.assets
            .values()
            .flat_map(|a| [a.raw.get(), a.brotli.get(), a.gzip.get()])
            .flatten()
            .map(Bytes::len)
            .sum()
    }

    /// The stylesheet's address (hashed when the build hashed it).
    pub fn stylesheet_href(&self) -> String {
        match &self.hashes.css {
            Some(hash) => format!("/pkg/{OUTPUT_NAME}.{hash}.css"),
            None => format!("/pkg/{OUTPUT_NAME}.css"),
        }
    }

    /// Compresses, with brotli and gzip, every compressible file not stored compressed (CPU
    /// bound: run it on a blocking thread); how many it compressed. Each file's forms are
    /// served as soon as they are ready.
    pub fn precompress(&self, brotli_quality: u32) -> usize {
        let mut compressed = 0;
        for asset in self.assets.values().filter(|a| a.needs_compressing()) {
            let Some(raw) = asset.raw.get() else {
                continue;
            };
            compressed += 1;
            let mut brotli = Vec::with_capacity(raw.len() / 3);
            let params = brotli::enc::BrotliEncoderParams {
                quality: brotli_quality.min(11) as i32,
                lgwin: 22,
                ..Default::default()
            };
            if brotli::BrotliCompress(&mut &raw[..], &mut brotli, &params).is_ok()
                && brotli.len() < raw.len()
            {
                let _ = asset.brotli.set(Bytes::from(brotli));
            }
            if let Some(gzip) = compress_gzip(raw).filter(|gzip| gzip.len() < raw.len()) {
                let _ = asset.gzip.set(gzip);
            }
        }
        compressed
    }

    /// What a GET or HEAD of `path` answers, if it names one of the site's files.
    fn answer_for(&self, method: &Method, path: &str, request: &HeaderMap) -> Option<Answer<'_>> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let key = path.strip_prefix('/').unwrap_or(path);
        let (asset, immutable) = match self.assets.get(key) {
            Some(asset) => (asset, asset.immutable),
            // By its plain name the content can change: revalidated, not cached for a year.
            None => (self.assets.get(self.aliases.get(key)?)?, false),
        };
        let form = (!etag_matches(request, &asset.etag)).then(|| asset.form_for(request));
        Some(Answer {
            asset,
            immutable,
            form,
            head: method == Method::HEAD,
        })
    }

    /// As `respond`, but a form that must be made first (the gzip form of an embedded file,
    /// about a tenth of a second for the WASM bundle, once) is made on a blocking thread, not on
    /// the thread that serves other requests.
    pub async fn respond_off_thread(
        &'static self,
        method: &Method,
        path: &str,
        request: &HeaderMap,
    ) -> Option<Response> {
        let answer = self.answer_for(method, path, request)?;
        if let Some(form) = answer.form.filter(|&form| answer.asset.needs_making(form)) {
            let asset = answer.asset;
            let made = tokio::task::spawn_blocking(move || {
                asset.form(form);
            })
            .await;
            if let Err(error) = made {
                tracing::error!(%error, path, "making a site file's form failed");
            }
        }
        answer.response()
    }

    /// The response for a GET or HEAD of `path`, if it names one of the site's files.
    pub fn respond(&self, method: &Method, path: &str, request: &HeaderMap) -> Option<Response> {
        self.answer_for(method, path, request)?.response()
    }
}

/// A site file chosen for a request, and the form it goes in (none: not modified).
struct Answer<'a> {
    asset: &'a Asset,
    immutable: bool,
    form: Option<Form>,
    head: bool,
}

impl Answer<'_> {
    fn response(&self) -> Option<Response> {
        let asset = self.asset;
        let mut response = Response::builder()
            .header(header::ETAG, asset.etag.clone())
            .header(
                header::CACHE_CONTROL,
                HeaderValue::from_static(if self.immutable {
                    IMMUTABLE
                } else {
                    REVALIDATE
                }),
            );
        if asset.compressible {
            response = response.header(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        let Some(form) = self.form else {
            return response
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .ok();
        };
        let Some(body) = asset.form(form).cloned() else {
            return response
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body(Body::empty())
                .ok();
        };
        if let Some(encoding) = form.content_encoding() {
            response = response.header(header::CONTENT_ENCODING, encoding);
        }
        response = response
            .header(header::CONTENT_TYPE, asset.content_type.clone())
            .header(header::CONTENT_LENGTH, body.len());
        let body = if self.head {
            Body::empty()
        } else {
            Body::from(body)
        };
        response.body(body).ok()
    }
}

/// Whether `If-None-Match` names this ETag (or is `*`).
fn etag_matches(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(etag) = etag.to_str().ok() else {
        return false;
    };
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

/// Whether `Accept-Encoding` accepts `coding` (listed with a q-value above 0, or `*`).
fn accepts(request: &HeaderMap, coding: &str) -> bool {
    let mut wildcard = false;
    for item in request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return q > 0.0;
        }
        if name == "*" {
            wildcard = q > 0.0;
        }
    }
    wildcard
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        let wasm: Vec<u8> = (0..50_000u32).flat_map(|i| (i % 7).to_le_bytes()).collect();
        Site::from_files(
            [
                (
                    "pkg/ollamastack.AbC-12_x.js".to_string(),
                    Bytes::from("export function hydrate() {}\n".repeat(100)),
                ),
                ("pkg/ollamastack.Wz9.wasm".to_string(), Bytes::from(wasm)),
                (
                    "pkg/ollamastack.Css1.css".to_string(),
                    Bytes::from("body{color:red}\n".repeat(200)),
                ),
                ("favicon.svg".to_string(), Bytes::from_static(b"<svg/>")),
            ]
            .into_iter(),
        )
    }

    fn get(site: &Site, path: &str, headers: &[(&str, &str)]) -> Option<Response> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        site.respond(&Method::GET, path, &map)
    }

    /// The release build stores compressible files in their brotli form only (build.rs); a
    /// browser on plain HTTP asks for gzip, and a few clients for neither.
    #[tokio::test]
    async fn a_file_stored_in_brotli_only_is_served_in_every_form() {
        use std::io::Read;
        let text = "export function hydrate() { return 'é'; }\n".repeat(200);
        let brotli = {
            let mut out = Vec::new();
            let params = brotli::enc::BrotliEncoderParams::default();
            brotli::BrotliCompress(&mut text.as_bytes(), &mut out, &params).unwrap();
            out
        };
        let site: &'static Site = Box::leak(Box::new(Site::from_stored(
            [
                StoredFile {
                    path: "pkg/ollamastack.Q1.js".into(),
                    raw: None,
                    brotli: Some(Bytes::from(brotli.clone())),
                },
                StoredFile {
                    path: "favicon.svg".into(),
                    raw: Some(Bytes::from_static(b"<svg/>")),
                    brotli: None,
                },
                // Nothing to serve it from: left out, not a panic.
                StoredFile {
                    path: "broken.js".into(),
                    raw: None,
                    brotli: None,
                },
                // A damaged form is an error response, not a panic.
                StoredFile {
                    path: "damaged.js".into(),
                    raw: None,
                    brotli: Some(Bytes::from_static(b"not brotli at all")),
                },
            ]
            .into_iter(),
        )));
        let headers = |accept: &str| {
            let mut map = HeaderMap::new();
            if !accept.is_empty() {
                map.insert(
                    header::ACCEPT_ENCODING,
                    HeaderValue::from_str(accept).unwrap(),
                );
            }
            map
        };
        let get = |path: &'static str, accept: &'static str| async move {
            site.respond_off_thread(&Method::GET, path, &headers(accept))
                .await
        };
        let body = |response: Response| async move {
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap()
        };
        // Nothing is left to compress after start.
        assert_eq!(site.precompress(11), 0);
        assert!(get("/broken.js", "").await.is_none());
        let damaged = get("/damaged.js", "gzip").await.unwrap();
        assert_eq!(damaged.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let path = "/pkg/ollamastack.Q1.js";
        let br = get(path, "gzip, br").await.unwrap();
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(br.headers()[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(br.headers()[header::VARY], "accept-encoding");
        assert_eq!(body(br).await, brotli);

        // Chromium on plain HTTP: gzip, made once and then served as stored.
        let gz = get(path, "gzip, deflate").await.unwrap();
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let length: usize = gz.headers()[header::CONTENT_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let gzip = body(gz).await;
        assert_eq!(gzip.len(), length);
        assert!(gzip.len() < text.len() / 4, "{} bytes", gzip.len());
        let mut inflated = String::new();
        flate2::read::GzDecoder::new(&gzip[..])
            .read_to_string(&mut inflated)
            .unwrap();
        assert_eq!(inflated, text);
        let again = body(get(path, "gzip").await.unwrap()).await;
        assert_eq!(again.as_ptr(), gzip.as_ptr(), "the gzip form is made once");
        // Only the gzip form was made: the file as built is not kept for it.
        assert_eq!(site.total_bytes(), brotli.len() + gzip.len() + 6 + 17);

        // A client that takes neither gets the file as built, decoded once.
        let plain = get(path, "").await.unwrap();
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let content_type = plain.headers()[header::CONTENT_TYPE].to_str().unwrap();
        assert!(
            content_type.contains("javascript") && content_type.ends_with("charset=utf-8"),
            "{content_type}"
        );
        assert_eq!(
            plain.headers()[header::CONTENT_LENGTH],
            text.len().to_string().as_str()
        );
        let etag = plain.headers()[header::ETAG].clone();
        assert_eq!(body(plain).await, text.as_bytes());
        assert_eq!(site.file("pkg/ollamastack.Q1.js").unwrap(), text.as_bytes());
        let mut revalidate = headers("gzip");
        revalidate.insert(header::IF_NONE_MATCH, etag);
        let not_modified = site
            .respond_off_thread(&Method::GET, path, &revalidate)
            .await
            .unwrap();
        assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
        // HEAD: the headers of the form a GET would carry, without the body.
        let head = site
            .respond_off_thread(&Method::HEAD, path, &headers("gzip"))
            .await
            .unwrap();
        assert_eq!(head.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(
            head.headers()[header::CONTENT_LENGTH],
            length.to_string().as_str()
        );
        assert!(body(head).await.is_empty());

        let icon = get("/favicon.svg", "br").await.unwrap();
        assert!(icon.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(body(icon).await, &b"<svg/>"[..]);
    }

    /// The first clients without brotli arriving together (a page's files, or a flood) wait for
    /// one gzip form instead of each compressing the file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_requests_make_the_gzip_form_once() {
        let text = "export function hydrate() { return 'é'; }\n".repeat(20_000);
        let mut brotli = Vec::new();
        let params = brotli::enc::BrotliEncoderParams::default();
        brotli::BrotliCompress(&mut text.as_bytes(), &mut brotli, &params).unwrap();
        let site: &'static Site =
            Box::leak(Box::new(Site::from_stored(std::iter::once(StoredFile {
                path: "pkg/ollamastack.Q1.js".into(),
                raw: None,
                brotli: Some(Bytes::from(brotli)),
            }))));
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let requests = (0..16).map(|_| {
            let headers = headers.clone();
            tokio::spawn(async move {
                let response = site
                    .respond_off_thread(&Method::GET, "/pkg/ollamastack.Q1.js", &headers)
                    .await
                    .unwrap();
                assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap()
            })
        });
        let bodies = futures::future::join_all(requests).await;
        let first = bodies[0].as_ref().unwrap();
        assert!(bodies.iter().all(|body| body.as_ref().unwrap() == first));
        let asset = &site.assets["pkg/ollamastack.Q1.js"];
        assert_eq!(asset.made.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[test]
    fn the_bundle_hashes_are_read_from_the_names() {
        let site = site();
        assert_eq!(
            site.hashes().hash_file().unwrap(),
            "js: AbC-12_x\nwasm: Wz9\ncss: Css1\n"
        );
        assert_eq!(site.stylesheet_href(), "/pkg/ollamastack.Css1.css");
        assert_eq!(bundle_part("pkg/ollamastack.js"), None);
        // The chunks split off the bundle and their loader are hashed too.
        assert!(has_content_hash(
            "pkg/settings_chunk.AAECAwQFBgcICQoLDA0ODw.wasm"
        ));
        assert!(has_content_hash(
            "pkg/__wasm_split.q-3_AAECAwQFBgcICQoLDA.js"
        ));
        assert!(!has_content_hash(
            "pkg/__wasm_split.______________________.js"
        ));
        assert!(!has_content_hash("pkg/ollamastack.js"));
        assert!(!has_content_hash("favicon.AAECAwQFBgcICQoLDA0ODw.svg"));
        assert_eq!(bundle_part("pkg/other.abc.js"), None);
    }

    /// A `--split` build: Leptos learns the loader's and the manifest's names from the hash
    /// file, and reads the manifest (stored compressed in the release binary) for preloads.
    #[test]
    fn a_split_build_names_its_loader_and_manifest_for_leptos() {
        let manifest = format!(
            "{{\"__settings_route_view_1\":[\"chunk_1.AAECAwQFBgcICQoLDA0ODw\"]{}}}",
            " ".repeat(2000)
        );
        let mut files: Vec<(String, Bytes)> = vec![
            ("pkg/ollamastack.AbC-12_x.js".into(), Bytes::from("x")),
            ("pkg/ollamastack.Wz9.wasm".into(), Bytes::from("x")),
            ("pkg/ollamastack.Css1.css".into(), Bytes::from("x")),
            (
                "pkg/__wasm_split.q-3_AAECAwQFBgcICQoLDA.js".into(),
                Bytes::from("export {}"),
            ),
            (
                "pkg/__wasm_split_manifest.Mn_xAAECAwQFBgcICQoLDA.json".into(),
                Bytes::from(manifest.clone()),
            ),
        ];
        let site = Site::from_files(files.clone().into_iter());
        assert_eq!(
            site.hashes().hash_file().unwrap(),
            "js: AbC-12_x\nwasm: Wz9\ncss: Css1\nsplit: q-3_AAECAwQFBgcICQoLDA\nmanifest: Mn_xAAECAwQFBgcICQoLDA\n"
        );
        let path = site.hashes().manifest_path().unwrap();
        assert_eq!(
            path,
            "pkg/__wasm_split_manifest.Mn_xAAECAwQFBgcICQoLDA.json"
        );
        // Compressed once stored; its own bytes are still there for Leptos.
        site.precompress(5);
        assert_eq!(site.file(&path).unwrap(), manifest.as_bytes());

        // A build without --split has neither file: no split lines.
        files.truncate(3);
        let site = Site::from_files(files.into_iter());
        assert_eq!(
            site.hashes().hash_file().unwrap(),
            "js: AbC-12_x\nwasm: Wz9\ncss: Css1\n"
        );
        assert_eq!(site.hashes().manifest_path(), None);
    }

    #[test]
    fn hashed_files_are_cached_for_a_year_and_others_revalidated() {
        let site = site();
        let hashed = get(&site, "/pkg/ollamastack.Wz9.wasm", &[]).unwrap();
        assert_eq!(hashed.status(), 200);
        assert_eq!(hashed.headers()[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(hashed.headers()[header::CONTENT_TYPE], "application/wasm");
        let icon = get(&site, "/favicon.svg", &[]).unwrap();
        assert_eq!(icon.headers()[header::CACHE_CONTROL], REVALIDATE);
        let etag = icon.headers()[header::ETAG].to_str().unwrap().to_string();
        let again = get(&site, "/favicon.svg", &[("if-none-match", &etag)]).unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let changed = get(&site, "/favicon.svg", &[("if-none-match", "\"other\"")]).unwrap();
        assert_eq!(changed.status(), 200);
        // The plain name still finds the bundle, revalidated.
        let plain = get(&site, "/pkg/ollamastack.js", &[]).unwrap();
        assert_eq!(plain.status(), 200);
        assert_eq!(plain.headers()[header::CACHE_CONTROL], REVALIDATE);
        assert!(get(&site, "/pkg/missing.js", &[]).is_none());
        assert!(get(&site, "/", &[]).is_none());
        assert!(site
            .respond(&Method::POST, "/favicon.svg", &HeaderMap::new())
            .is_none());
    }

    #[tokio::test]
    async fn compressed_forms_are_served_to_those_who_accept_them() {
        let site = site();
        let path = "/pkg/ollamastack.Wz9.wasm";
        // Before compression: the raw bytes, for the compression layer to handle.
        let raw = get(&site, path, &[("accept-encoding", "br, gzip")]).unwrap();
        assert!(raw.headers().get(header::CONTENT_ENCODING).is_none());
        site.precompress(5);
        for (accept, expected) in [
            ("gzip, deflate, br", Some("br")),
            ("gzip", Some("gzip")),
            ("br;q=0, gzip;q=0.5", Some("gzip")),
            ("identity", None),
            ("*", Some("br")),
        ] {
            let response = get(&site, path, &[("accept-encoding", accept)]).unwrap();
            assert_eq!(
                response
                    .headers()
                    .get(header::CONTENT_ENCODING)
                    .map(|v| v.to_str().unwrap()),
                expected,
                "{accept}"
            );
            assert_eq!(response.headers()[header::VARY], "accept-encoding");
            let length: usize = response.headers()[header::CONTENT_LENGTH]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            assert_eq!(body.len(), length);
            if expected == Some("gzip") {
                use std::io::Read;
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_end(&mut plain)
                    .unwrap();
                assert_eq!(plain.len(), 200_000);
            }
        }
        // Tiny files are not compressed.
        let icon = get(&site, "/favicon.svg", &[("accept-encoding", "br")]).unwrap();
        assert!(icon.headers().get(header::CONTENT_ENCODING).is_none());
    }
}
