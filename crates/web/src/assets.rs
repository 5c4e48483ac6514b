//! Templates and static files, embedded in the binary so that a copied `ehm` runs from any
//! folder on a machine without the source (rust-embed; see ARCHITECTURE.md, "Choices").
//! `EHM_TEMPLATES_DIR` / `EHM_STATIC_DIR` point at folders to use instead, for development.
//!
//! Static files are served under a content-hashed URL, `/static/<hash>/<path>` (templates
//! call `static_url('<path>')`), with `Cache-Control: public, max-age=31536000, immutable`,
//! an ETag, and gzip for text files when the browser accepts it (compressed once, on first
//! use). The plain `/static/<path>` still works, with a short cache. Pages are never
//! compressed: they carry CSRF tokens next to what users typed (BREACH).

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::state::AppState;

#[derive(rust_embed::Embed)]
#[folder = "templates/"]
#[include = "*.html"]
pub(crate) struct EmbeddedTemplates;

#[derive(rust_embed::Embed)]
#[folder = "static/"]
struct EmbeddedStatic;

/// One year: the longest cache lifetime browsers honour.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For `/static/<path>` without the hash (and a hash that is not the file's): a short cache.
const SHORT: &str = "public, max-age=300";
/// Hex digits of the content hash in URLs and ETags.
const HASH_LEN: usize = 16;

struct Asset {
    body: Bytes,
    content_type: HeaderValue,
    hash: String,
    compressible: bool,
    gzip: OnceLock<Option<Bytes>>,
}

impl Asset {
    fn new(path: &str, body: Bytes) -> Self {
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let text = mime.type_() == "text"
            || matches!(
                mime.essence_str(),
                "application/javascript" | "application/json" | "image/svg+xml"
            )
            || path.ends_with(".map");
        let content_type =
            if mime.type_() == "text" || mime.essence_str() == "application/javascript" {
                format!("{mime}; charset=utf-8")
            } else {
                mime.to_string()
            };
        let hash = hex::encode(Sha256::digest(&body))[..HASH_LEN].to_string();
        Asset {
            content_type: HeaderValue::from_str(&content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            hash,
            // Small files gain nothing; fonts and images are compressed already.
            compressible: text && body.len() > 512,
            body,
            gzip: OnceLock::new(),
        }
    }

    /// The gzip form, made on first use; `None` if it is not smaller.
    fn gzip(&self) -> Option<&Bytes> {
        self.gzip
            .get_or_init(|| {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                enc.write_all(&self.body).ok()?;
                let z = enc.finish().ok()?;
                (z.len() < self.body.len()).then(|| Bytes::from(z))
            })
            .as_ref()
    }
}

/// The static files, by path relative to the static folder (`govuk/govuk-frontend.min.css`).
pub struct StaticFiles {
    files: HashMap<String, Asset>,
}

impl StaticFiles {
    /// The files built into the binary.
    pub fn embedded() -> Self {
        let files = EmbeddedStatic::iter()
            .filter_map(|name| {
                let file = EmbeddedStatic::get(&name)?;
                let body = match file.data {
                    std::borrow::Cow::Borrowed(b) => Bytes::from_static(b),
                    std::borrow::Cow::Owned(v) => Bytes::from(v),
                };
                Some((name.to_string(), Asset::new(&name, body)))
            })
            .collect();
        StaticFiles { files }
    }

    /// Every file under `dir`, read once at start-up (`EHM_STATIC_DIR`, for development).
    pub fn from_dir(dir: &Path) -> anyhow::Result<Self> {
        if !dir.is_dir() {
            anyhow::bail!(
                "static files not found: {} is not a folder (EHM_STATIC_DIR)",
                dir.display()
            );
        }
        let mut files = HashMap::new();
        for path in walk(dir, &|_| true)? {
            let name = relative_name(dir, &path)?;
            let body =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let asset = Asset::new(&name, Bytes::from(body));
            files.insert(name, asset);
        }
        Ok(StaticFiles { files })
    }

    /// The URL to use in pages: `/static/<hash>/<path>` for a known file (cached for a year;
    /// a new version of the file gets a new URL), `/static/<path>` otherwise.
    pub fn url(&self, path: &str) -> String {
        let path = path.trim_start_matches('/');
        match self.files.get(path) {
            Some(a) => format!("/static/{}/{path}", a.hash),
            None => format!("/static/{path}"),
        }
    }
}

/// `GET /static/{*path}`.
pub async fn serve_static(
    State(state): State<AppState>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let files = &state.assets;
    let (hash, name) = match path.split_once('/') {
        Some((h, rest)) if is_hash(h) && files.files.contains_key(rest) => (Some(h), rest),
        _ => (None, path.as_str()),
    };
    let Some(asset) = files.files.get(name) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let cache = if hash == Some(asset.hash.as_str()) {
        IMMUTABLE
    } else {
        SHORT
    };
    let gzip = if asset.compressible && accepts_gzip(&headers) {
        asset.gzip()
    } else {
        None
    };
    let etag = match gzip {
        Some(_) => format!("\"{}-gzip\"", asset.hash),
        None => format!("\"{}\"", asset.hash),
    };
    let mut res = if if_none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(gzip.unwrap_or(&asset.body).clone()))
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, asset.content_type.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if asset.compressible {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzip.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    res
}

fn is_hash(s: &str) -> bool {
    s.len() == HASH_LEN && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `Accept-Encoding` lists gzip (or `*`) without `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        })
}

/// The templates' source: embedded, or a folder (`EHM_TEMPLATES_DIR`, for development).
pub enum TemplateSource {
    Embedded,
    Dir(std::path::PathBuf),
}

impl TemplateSource {
    /// Every template name (`pages/start.html`), to parse them all at start-up.
    pub fn names(&self) -> anyhow::Result<Vec<String>> {
        match self {
            TemplateSource::Embedded => Ok(EmbeddedTemplates::iter().map(|n| n.into()).collect()),
            TemplateSource::Dir(dir) => walk(dir, &|p| p.extension().is_some_and(|x| x == "html"))?
                .iter()
                .map(|p| relative_name(dir, p))
                .collect(),
        }
    }
}

pub(crate) fn embedded_template(name: &str) -> Option<String> {
    let file = EmbeddedTemplates::get(name)?;
    String::from_utf8(file.data.into_owned()).ok()
}

fn relative_name(dir: &Path, path: &Path) -> anyhow::Result<String> {
    Ok(path.strip_prefix(dir)?.to_string_lossy().replace('\\', "/"))
}

fn walk(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for e in entries {
        let p = e?.path();
        if p.is_dir() {
            out.extend(walk(&p, keep)?);
        } else if keep(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// For `AppState`: the static files to serve.
pub fn load_static(dir: Option<&Path>) -> anyhow::Result<Arc<StaticFiles>> {
    Ok(Arc::new(match dir {
        Some(d) => StaticFiles::from_dir(d)?,
        None => StaticFiles::embedded(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_and_the_stylesheet_are_built_in() {
        let names = TemplateSource::Embedded.names().unwrap();
        assert!(names.iter().any(|n| n == "layout.html"), "{names:?}");
        assert!(names.iter().any(|n| n == "pages/start.html"), "{names:?}");
        assert!(!names.iter().any(|n| n.ends_with(".md")), "{names:?}");
        let files = StaticFiles::embedded();
        let url = files.url("govuk/govuk-frontend.min.css");
        assert!(url.starts_with("/static/") && url.ends_with("/govuk/govuk-frontend.min.css"));
        assert_eq!(
            url.len(),
            "/static//govuk/govuk-frontend.min.css".len() + HASH_LEN
        );
        assert_eq!(files.url("nothing.css"), "/static/nothing.css");
    }

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            m
        };
        assert!(accepts_gzip(&h("gzip, deflate, br")));
        assert!(accepts_gzip(&h("br;q=1.0, gzip;q=0.8")));
        assert!(accepts_gzip(&h("*")));
        assert!(!accepts_gzip(&h("gzip;q=0")));
        assert!(!accepts_gzip(&h("br")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
