//! The browser app (`web/`, built by Vite into `web/dist/`). Release builds embed it, so
//! the binary is the whole product; debug builds read `web/dist/` from disk at each
//! request, so a rebuilt UI shows without recompiling. Every path that is not an asset,
//! the API or a share page gets `index.html`, and the app's router takes over.

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{Html, IntoResponse, Response},
};
use rust_embed::RustEmbed;

use crate::http::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../../web/dist/"]
// A checkout where the UI was never built still compiles and serves the API.
#[allow_missing = true]
struct WebApp;

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
<title>meet-recorder</title><h1>The web app is not built</h1>\
<p>The API works. To build the browser app, run \
<code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code> \
(<code>scripts/run.sh</code> does it), then reload.</p></html>";

/// Whether the app was built into (or, in a debug build, beside) this binary.
pub fn is_built() -> bool {
    WebApp::get("index.html").is_some()
}

/// The router's fallback: app files, else the app's `index.html` for its own routes.
pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return crate::http::system::method_not_allowed()
            .await
            .into_response();
    }
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") {
        return crate::http::system::not_found().await.into_response();
    }
    if !path.is_empty()
        && let Some(file) = WebApp::get(path)
    {
        // Vite puts a content hash in every name under assets/: they never change.
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return file_response(&file, cache, &headers);
    }
    // A missing script or image is a 404, not the app's HTML under the wrong type.
    let last_segment = path.rsplit('/').next().unwrap_or_default();
    if path.starts_with("assets/") || last_segment.contains('.') {
        return ApiError::not_found("not-found", "Not found.").into_response();
    }
    match WebApp::get("index.html") {
        Some(index) => file_response(&index, "no-cache", &headers),
        None => (StatusCode::OK, Html(NOT_BUILT)).into_response(),
    }
}

fn file_response(file: &rust_embed::EmbeddedFile, cache: &str, request: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let not_modified = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(file.data.clone().into_owned()))
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(cache) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Recording pages must not leak their URL to other sites through Referer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
