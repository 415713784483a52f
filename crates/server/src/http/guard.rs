//! What requests go through before a handler sees them.
//!
//! - [`cross_site_guard`] (every API route but the server-to-server hooks): a browser can
//!   be made to send a signed-in person's cookie along with a request another site wrote
//!   (SameSite=Lax does not stop a sibling subdomain or another port, which are the same
//!   *site*). Unsafe methods (POST, PUT, PATCH, DELETE) are therefore accepted only from
//!   our own origin (`MEET_RECORDER_PUBLIC_URL`'s): by `Origin`, or without it by
//!   `Sec-Fetch-Site`. Requests with neither header (curl, scripts) and bearer-token
//!   requests (a page cannot add `Authorization` to another origin's request without a
//!   CORS preflight, which we never grant) are not a browser's ambient authority and
//!   pass. Their bodies must then be JSON (`Content-Type: application/json`): a form or
//!   `text/plain` body is how a cross-site page posts without a preflight.
//! - [`body_deadline`]: a request's whole body within `MEET_RECORDER_BODY_TIMEOUT_S`.
//! - [`dev_host_guard`] (`meet-recorder dev` only): answers only requests addressed to one
//!   of its own host names, so a DNS-rebinding page cannot use the demo account.
//! - [`security_headers`] (everything): a Content-Security-Policy that forbids framing
//!   and allows only what the web app loads, plus `X-Frame-Options`,
//!   `X-Content-Type-Options` and `Referrer-Policy`. A response that sets its own (the
//!   share pages) keeps it.

use std::{net::IpAddr, sync::Arc};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::error::{ApiError, is_json_content_type};
use crate::config::Config;

/// Who may send unsafe requests: our own origin; in dev mode also a page of the origin
/// the request was addressed to (its `Host`, which [`dev_host_guard`] has checked is one
/// of ours): the web app's Vite dev server proxies to us from its own port, and a LAN
/// address works without setting `MEET_RECORDER_PUBLIC_URL`.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    own: url::Origin,
    dev: bool,
}

impl OriginPolicy {
    pub fn new(config: &Config, dev: bool) -> Self {
        let own = url::Url::parse(&config.public_url)
            .map(|url| url.origin())
            // Validated at start-up; an opaque origin equals nothing.
            .unwrap_or_else(|_| url::Url::parse("data:,").expect("a URL").origin());
        Self { own, dev }
    }

    fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        let Ok(url) = url::Url::parse(origin) else {
            return false;
        };
        let origin = url.origin();
        if origin == self.own {
            return true;
        }
        self.dev
            && matches!(url.scheme(), "http" | "https")
            && host
                .and_then(|host| url::Url::parse(&format!("{}://{host}", url.scheme())).ok())
                .is_some_and(|addressed| addressed.origin() == origin)
    }

    /// Whether a request with these headers may change something.
    fn permits(&self, headers: &HeaderMap) -> bool {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            // "null" (sandboxed frames, file: pages, cross-origin redirects) is nobody's.
            return origin
                .to_str()
                .is_ok_and(|origin| self.allows(origin, host));
        }
        match headers.get("sec-fetch-site") {
            // `none`: the person typed or bookmarked it.
            Some(site) => matches!(site.as_bytes(), b"same-origin" | b"none"),
            // Not a browser: nobody's ambient cookie is being spent.
            None => true,
        }
    }
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn has_bearer_token(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
}

/// A body is coming when its length is not zero or it is chunked.
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|length| length.trim() != "0")
}

/// See the module documentation. Refusals change nothing: no handler runs.
pub async fn cross_site_guard(
    State(policy): State<Arc<OriginPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if !is_unsafe(request.method()) {
        return next.run(request).await;
    }
    if !has_bearer_token(headers) && !policy.permits(headers) {
        tracing::debug!(
            origin = ?headers.get(header::ORIGIN),
            sec_fetch_site = ?headers.get("sec-fetch-site"),
            "cross-origin request refused"
        );
        return ApiError::forbidden(
            "cross-origin-request",
            "Cross-origin request refused: this service accepts changes only from its own \
             pages (MEET_RECORDER_PUBLIC_URL).",
        )
        .into_response();
    }
    match headers.get(header::CONTENT_TYPE) {
        Some(content_type) if !is_json_content_type(content_type) => {
            return ApiError::unsupported_media_type(Some(content_type)).into_response();
        }
        None if has_body(headers) => {
            return ApiError::unsupported_media_type(None).into_response();
        }
        _ => {}
    }
    next.run(request).await
}

/// The host names `meet-recorder dev` answers to.
#[derive(Debug, Clone)]
pub struct DevHosts {
    public_host: Option<String>,
}

impl DevHosts {
    pub fn new(config: &Config) -> Self {
        Self {
            public_host: url::Url::parse(&config.public_url)
                .ok()
                .and_then(|url| url.host_str().map(str::to_ascii_lowercase)),
        }
    }

    /// `localhost`, an address (the listen address, 127.0.0.1, [::1], a LAN address:
    /// a rebinding page's requests name the attacker's *domain*, never an address), or
    /// the public URL's host; any port (the Vite dev server proxies from its own).
    fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let name = match host.strip_prefix('[') {
            Some(rest) => {
                return rest.split_once(']').is_some_and(|(v6, port)| {
                    (port.is_empty() || port.starts_with(':'))
                        && v6.parse::<std::net::Ipv6Addr>().is_ok()
                });
            }
            None => host
                .rsplit_once(':')
                .map_or(host.as_str(), |(name, _)| name),
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        name == "localhost"
            || name.parse::<IpAddr>().is_ok()
            || self.public_host.as_deref() == Some(name)
    }
}

/// See the module documentation: 421 Misdirected Request for any other host name.
pub async fn dev_host_guard(
    State(hosts): State<Arc<DevHosts>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    if host.as_deref().is_some_and(|host| hosts.allows(host)) {
        return next.run(request).await;
    }
    ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        "unknown-host",
        "This development server answers only its own host names (localhost, its \
         addresses and MEET_RECORDER_PUBLIC_URL's host).",
    )
    .into_response()
}

/// The headers every response gets unless it set its own.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    content_security_policy: HeaderValue,
}

impl SecurityHeaders {
    pub fn new(config: &Config) -> Self {
        let policy = content_security_policy(config);
        Self {
            content_security_policy: HeaderValue::from_str(&policy)
                .unwrap_or_else(|_| HeaderValue::from_static(FALLBACK_POLICY)),
        }
    }
}

const FALLBACK_POLICY: &str = "default-src 'self'; object-src 'none'; base-uri 'self'; \
                               form-action 'self'; frame-ancestors 'none'";

/// `scheme://host[:port]` of a URL, as a CSP source; `scheme:` when the host cannot be
/// written in one (an IPv6 address).
fn source_of(url: &url::Url, scheme: &str) -> Option<String> {
    match url.host()? {
        url::Host::Ipv6(_) => Some(format!("{scheme}:")),
        host => Some(match url.port() {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        }),
    }
}

/// The web app's policy: its own scripts and styles; media from us (and from the S3
/// endpoint, which presigned redirects point to); connections to us and to the LiveKit
/// server browsers join (`LIVEKIT_URL`: WebSocket signalling, and its HTTP twin that
/// livekit-client asks when a connection fails); never framed.
pub fn content_security_policy(config: &Config) -> String {
    let mut connect = vec!["'self'".to_owned()];
    if let Ok(url) = url::Url::parse(&config.livekit.public_url) {
        let schemes = match url.scheme() {
            "wss" | "https" => Some(("wss", "https")),
            "ws" | "http" => Some(("ws", "http")),
            _ => None,
        };
        if let Some((ws, http)) = schemes {
            connect.extend(source_of(&url, ws));
            connect.extend(source_of(&url, http));
            // LiveKit Cloud moves a client to another region's host when one fails.
            if url
                .host_str()
                .is_some_and(|h| h.ends_with(".livekit.cloud"))
            {
                connect.push(format!("{ws}://*.livekit.cloud"));
                connect.push(format!("{http}://*.livekit.cloud"));
            }
        }
    }
    let mut media = vec!["'self'".to_owned(), "blob:".to_owned()];
    if let Some(s3) = &config.s3
        && let Ok(url) = url::Url::parse(&s3.endpoint)
    {
        media.extend(source_of(&url, url.scheme()));
    }
    connect.dedup();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data: blob:; font-src 'self' data:; media-src {}; connect-src {}; \
         worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'",
        media.join(" "),
        connect.join(" "),
    )
}

/// See the module documentation.
pub async fn security_headers(
    State(headers): State<Arc<SecurityHeaders>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let set = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            headers.content_security_policy.clone(),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
    ] {
        if !set.contains_key(&name) {
            set.insert(name, value);
        }
    }
    response
}

/// Reads a request's whole body (at most [`super::MAX_BODY_BYTES`]) before any handler,
/// within the body timeout: the header timeout bounds how long headers may take, this
/// bounds the body, so a client trickling a body byte by byte holds no connection for
/// long. A too large body is 413 `body-too-large`, a late one 408 `body-timeout`.
pub async fn body_deadline(
    State(timeout): State<std::time::Duration>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, super::MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(error)) => {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body-too-large",
                    "The request body is too large.",
                )
                .into_response()
            } else {
                ApiError::bad_request("invalid-body", "The request body could not be read.")
                    .into_response()
            }
        }
        Err(_) => {
            let mut response = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body-timeout",
                "The request body did not arrive in time.",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_source(&crate::config::Source::from_pairs(pairs.iter().copied())).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn only_our_own_origin_may_change_things() {
        let config = config(&[("MEET_RECORDER_PUBLIC_URL", "https://rec.example.org")]);
        let policy = OriginPolicy::new(&config, false);
        for allowed in [
            &[("origin", "https://rec.example.org")][..],
            &[("origin", "https://REC.example.org:443")],
            &[("sec-fetch-site", "same-origin")],
            &[("sec-fetch-site", "none")],
            &[],
        ] {
            assert!(policy.permits(&headers(allowed)), "{allowed:?}");
        }
        for refused in [
            &[("origin", "https://evil.example.org")][..],
            &[("origin", "https://other.rec.example.org")],
            &[("origin", "http://rec.example.org")],
            &[("origin", "https://rec.example.org:8443")],
            &[("origin", "null")],
            &[("origin", "http://localhost:5173")],
            &[("sec-fetch-site", "same-site")],
            &[("sec-fetch-site", "cross-site")],
            // Origin wins over Sec-Fetch-Site.
            &[
                ("origin", "https://evil.example.org"),
                ("sec-fetch-site", "same-origin"),
            ],
        ] {
            assert!(!policy.permits(&headers(refused)), "{refused:?}");
        }
        // Dev mode: also the origin the request was addressed to (the Vite proxy, a LAN
        // address), never another.
        let dev = OriginPolicy::new(&config, true);
        for (origin, host) in [
            ("http://127.0.0.1:5173", "127.0.0.1:5173"),
            ("http://192.168.1.20:8000", "192.168.1.20:8000"),
            ("https://rec.example.org", "localhost:8000"),
        ] {
            assert!(
                dev.permits(&headers(&[("origin", origin), ("host", host)])),
                "{origin} {host}"
            );
        }
        for (origin, host) in [
            ("http://localhost:5173", "127.0.0.1:8000"),
            ("http://192.0.2.1", "192.168.1.20:8000"),
            ("null", "127.0.0.1:8000"),
        ] {
            assert!(
                !dev.permits(&headers(&[("origin", origin), ("host", host)])),
                "{origin} {host}"
            );
        }
    }

    #[test]
    fn dev_mode_answers_its_own_host_names_only() {
        let config = config(&[("MEET_RECORDER_PUBLIC_URL", "http://devbox.lan:8000")]);
        let hosts = DevHosts::new(&config);
        for host in [
            "127.0.0.1:8000",
            "localhost:8000",
            "LOCALHOST",
            "[::1]:8000",
            "[::1]",
            "0.0.0.0:8000",
            "192.168.1.20:8000",
            "devbox.lan:8000",
            "127.0.0.1:5173",
        ] {
            assert!(hosts.allows(host), "{host}");
        }
        for host in [
            "evil.example:8000",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8000",
            "[::1",
            "",
        ] {
            assert!(!hosts.allows(host), "{host}");
        }
    }

    #[test]
    fn the_policy_lets_the_app_reach_livekit_and_forbids_framing() {
        let policy = content_security_policy(&config(&[(
            "LIVEKIT_URL",
            "wss://livekit.example.org:7443/some/path",
        )]));
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(
            policy.contains(
                "connect-src 'self' wss://livekit.example.org:7443 https://livekit.example.org:7443"
            ),
            "{policy}"
        );
        let default = content_security_policy(&config(&[]));
        assert!(
            default.contains("connect-src 'self' ws://127.0.0.1:7880 http://127.0.0.1:7880;"),
            "{default}"
        );
    }
}
