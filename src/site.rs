//! The site's files (the WASM bundle, its JavaScript, the stylesheet, icons), embedded in the
//! release binary so that it runs alone from any folder. Debug builds read them from
//! `target/site` on disk, so `cargo leptos watch` serves what it has just built.
//!
//! cargo-leptos names the bundle's files with a hash of their content (`hash-files`): those are
//! cached for a year (`immutable`); everything else is revalidated with its ETag (304). Text,
//! JavaScript and WASM are compressed once (brotli and gzip) in the background after start;
//! until then the response compression layer compresses them on the fly.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(rust_embed::RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/target/site"]
#[allow_missing = true]
struct Embedded;

/// The bundle's name (cargo-leptos' `output-name`).
pub const OUTPUT_NAME: &str = "ollamastack";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
/// Smaller files are not worth compressing.
const MIN_COMPRESS_BYTES: usize = 1024;

struct Asset {
    raw: Bytes,
    content_type: HeaderValue,
    etag: HeaderValue,
    /// Named by its content's hash: never changes under this name.
    immutable: bool,
    compressible: bool,
    brotli: OnceLock<Bytes>,
    gzip: OnceLock<Bytes>,
}

/// The hashes cargo-leptos put in the bundle's file names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BundleHashes {
    pub js: Option<String>,
    pub wasm: Option<String>,
    pub css: Option<String>,
}

impl BundleHashes {
    /// All three, as Leptos' hash file lists them.
    pub fn hash_file(&self) -> Option<String> {
        Some(format!(
            "js: {}\nwasm: {}\ncss: {}\n",
            self.js.as_ref()?,
            self.wasm.as_ref()?,
            self.css.as_ref()?
        ))
    }
}

pub struct Site {
    assets: HashMap<String, Asset>,
    /// `pkg/ollamastack.js` and its siblings, for the hashed file of the same kind (a page
    /// rendered without the hashes still loads).
    aliases: HashMap<String, String>,
    hashes: BundleHashes,
}

/// The site, read once (embedded: nothing to read; debug: from disk).
pub fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        Site::from_files(Embedded::iter().filter_map(|path| {
            let file = Embedded::get(&path)?;
            let data = match file.data {
                std::borrow::Cow::Borrowed(bytes) => Bytes::from_static(bytes),
                std::borrow::Cow::Owned(bytes) => Bytes::from(bytes),
            };
            Some((path.into_owned(), data))
        }))
    })
}

/// `pkg/ollamastack.<hash>.<ext>` → (hash, ext).
fn bundle_part(path: &str) -> Option<(&str, &str)> {
    let name = path
        .strip_prefix("pkg/")?
        .strip_prefix(OUTPUT_NAME)?
        .strip_prefix('.')?;
    let (hash, ext) = name.rsplit_once('.')?;
    (!hash.is_empty() && !hash.contains('.') && matches!(ext, "js" | "wasm" | "css"))
        .then_some((hash, ext))
}

fn is_compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.contains("javascript")
        || content_type.contains("json")
        || content_type.contains("xml")
        || content_type == "application/wasm"
}

impl Site {
    pub fn from_files(files: impl Iterator<Item = (String, Bytes)>) -> Site {
        use sha2::Digest;
        let mut assets = HashMap::new();
        let mut aliases = HashMap::new();
        let mut hashes = BundleHashes::default();
        for (path, raw) in files {
            let mime = mime_guess::from_path(&path).first_or_octet_stream();
            let content_type = mime.essence_str().to_string();
            let digest = sha2::Sha256::digest(&raw);
            let etag = format!("\"{}\"", hex::encode(&digest[..16]));
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
            let content_type =
                if content_type.starts_with("text/") || content_type.contains("javascript") {
                    format!("{content_type}; charset=utf-8")
                } else {
                    content_type
                };
            assets.insert(
                path,
                Asset {
                    compressible: is_compressible(&content_type) && raw.len() >= MIN_COMPRESS_BYTES,
                    content_type: HeaderValue::from_str(&content_type)
                        .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                    etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
                    immutable: bundle.is_some(),
                    raw,
                    brotli: OnceLock::new(),
                    gzip: OnceLock::new(),
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

    pub fn hashes(&self) -> &BundleHashes {
        &self.hashes
    }

    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// Bytes of the site's files, as stored.
    pub fn total_bytes(&self) -> usize {
        self.assets.values().map(|a| a.raw.len()).sum()
    }

    /// The stylesheet's address (hashed when the build hashed it).
    pub fn stylesheet_href(&self) -> String {
        match &self.hashes.css {
            Some(hash) => format!("/pkg/{OUTPUT_NAME}.{hash}.css"),
            None => format!("/pkg/{OUTPUT_NAME}.css"),
        }
    }

    /// Compresses every compressible file with brotli and gzip (CPU-bound: run it on a
    /// blocking thread). Each file's forms are served as soon as they are ready.
    pub fn precompress(&self, brotli_quality: u32) {
        use std::io::Write;
        for asset in self.assets.values().filter(|a| a.compressible) {
            let mut brotli = Vec::with_capacity(asset.raw.len() / 3);
            let params = brotli::enc::BrotliEncoderParams {
                quality: brotli_quality.min(11) as i32,
                lgwin: 22,
                ..Default::default()
            };
            if brotli::BrotliCompress(&mut &asset.raw[..], &mut brotli, &params).is_ok()
                && brotli.len() < asset.raw.len()
            {
                let _ = asset.brotli.set(Bytes::from(brotli));
            }
            let mut gzip = flate2::write::GzEncoder::new(
                Vec::with_capacity(asset.raw.len() / 3),
                flate2::Compression::best(),
            );
            if gzip.write_all(&asset.raw).is_ok() {
                if let Ok(gzip) = gzip.finish() {
                    if gzip.len() < asset.raw.len() {
                        let _ = asset.gzip.set(Bytes::from(gzip));
                    }
                }
            }
        }
    }

    /// The response for a GET or HEAD of `path`, if it names one of the site's files.
    pub fn respond(&self, method: &Method, path: &str, request: &HeaderMap) -> Option<Response> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let key = path.strip_prefix('/').unwrap_or(path);
        let (asset, immutable) = match self.assets.get(key) {
            Some(asset) => (asset, asset.immutable),
            // By its plain name the content can change: revalidated, not cached for a year.
            None => (self.assets.get(self.aliases.get(key)?)?, false),
        };
        let mut response = Response::builder()
            .header(header::ETAG, asset.etag.clone())
            .header(
                header::CACHE_CONTROL,
                HeaderValue::from_static(if immutable { IMMUTABLE } else { REVALIDATE }),
            );
        if asset.compressible {
            response = response.header(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        if etag_matches(request, &asset.etag) {
            return response
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .ok();
        }
        let (body, encoding) = match (asset.brotli.get(), asset.gzip.get()) {
            (Some(brotli), _) if accepts(request, "br") => (brotli.clone(), Some("br")),
            (_, Some(gzip)) if accepts(request, "gzip") => (gzip.clone(), Some("gzip")),
            _ => (asset.raw.clone(), None),
        };
        if let Some(encoding) = encoding {
            response = response.header(header::CONTENT_ENCODING, encoding);
        }
        response = response
            .header(header::CONTENT_TYPE, asset.content_type.clone())
            .header(header::CONTENT_LENGTH, body.len());
        let body = if method == Method::HEAD {
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

    #[test]
    fn the_bundle_hashes_are_read_from_the_names() {
        let site = site();
        assert_eq!(
            site.hashes().hash_file().unwrap(),
            "js: AbC-12_x\nwasm: Wz9\ncss: Css1\n"
        );
        assert_eq!(site.stylesheet_href(), "/pkg/ollamastack.Css1.css");
        assert_eq!(bundle_part("pkg/ollamastack.js"), None);
        assert_eq!(bundle_part("pkg/other.abc.js"), None);
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
