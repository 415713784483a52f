//! Share links: an owner or administrator of a saved recording creates a public URL,
//! `{public_url}/s/{token}`, that lets anyone holding it watch (`GET /s/{token}`, a small
//! self-contained HTML page) and download (`GET /s/{token}/media`) the recording without
//! an account, until the link is revoked, expires, or the recording itself expires.
//!
//! - `POST recordings/{id}/share-links/` with `{"expires_in_days": 1..=365 | null}`
//!   (absent or null: no expiry of its own). A link never outlives its recording: the
//!   stored `expires_at` is capped at the recording's expiry. 201 with the token and URL,
//!   shown this once: only the token's SHA-256 is stored.
//! - `GET recordings/{id}/share-links/`: the links, paginated, revoked ones included,
//!   never a token. `DELETE recordings/{id}/share-links/{link}/`: revoke (204, idempotent).
//!
//! The token is 256 random bits, so guessing is hopeless; a link is found by the hash of
//! the presented token (no comparison of secrets), and revocation and expiry are checked on
//! every request, including each range request of a video element, so a revoked link stops
//! working at the player's next request. An unknown or revoked token is a 404 and counts as
//! a failed attempt for the client ([`AttemptLimiter`], keyed by its address as
//! [`ClientAddr`] finds it: the peer, or behind a trusted proxy the first untrusted
//! `X-Forwarded-For` hop from the right): after [`MAX_FAILURES`] within [`WINDOW`], a
//! request from that address with a token that does not work is a 429 `too-many-attempts`
//! with `Retry-After`. A working token is always served: others' bad tokens never lock
//! out a valid link. `/s/{token}` answers errors as
//! HTML pages (people open it in a browser), `/s/{token}/media` as JSON [`ApiError`]s.
//!
//! The pages are askama templates (`templates/share/`), in the [`Language`] the browser
//! prefers (`Accept-Language`), English otherwise.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

use askama::Template;
use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Datelike, Utc};
use meet_recorder_domain::Mode;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    client::ClientAddr,
    error::{ApiError, JsonBody, QueryParams},
    media::{MediaQuery, serve_file},
    recordings::{Page, iso, load_recording, paginate, require_owner},
    views::{ErrorView, NewShareLinkView, PageView, ShareLinkView},
};
use crate::{
    adapters::db::{RecordingRow, ShareLinkRow, now_ms},
    adapters::mail::Language,
    engine::accounts::{new_token, token_hash},
    http::AppState,
    http::auth::CurrentUser,
};

/// Failed attempts (unknown or revoked tokens) a client may make within [`WINDOW`].
pub const MAX_FAILURES: usize = 20;
/// The sliding window failed attempts are counted over; also the `Retry-After`.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Clients tracked at once; beyond, the stalest are forgotten (bounded memory).
const MAX_KEYS: usize = 10_000;
/// The longest link validity one may ask for.
const MAX_EXPIRY_DAYS: i64 = 365;
const DAY_MS: i64 = 86_400_000;

/// Counts failed share-link attempts per client key over a sliding window.
pub struct AttemptLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    max_failures: usize,
    window: Duration,
}

impl Default for AttemptLimiter {
    fn default() -> Self {
        Self::new(MAX_FAILURES, WINDOW)
    }
}

impl AttemptLimiter {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self {
            failures: Mutex::new(HashMap::new()),
            max_failures,
            window,
        }
    }

    /// Whether `key` used up its failed attempts within the window.
    pub fn is_blocked(&self, key: &str) -> bool {
        self.is_blocked_at(key, Instant::now())
    }

    /// Counts one failed attempt for `key`.
    pub fn record_failure(&self, key: &str) {
        self.record_failure_at(key, Instant::now());
    }

    fn is_blocked_at(&self, key: &str, now: Instant) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = failures.get_mut(key) else {
            return false;
        };
        prune(times, now, self.window);
        if times.is_empty() {
            failures.remove(key);
            return false;
        }
        times.len() >= self.max_failures
    }

    fn record_failure_at(&self, key: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if !failures.contains_key(key) && failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                prune(times, now, self.window);
                !times.is_empty()
            });
            if failures.len() >= MAX_KEYS
                && let Some(stalest) = failures
                    .iter()
                    .min_by_key(|(_, times)| times.back().copied())
                    .map(|(key, _)| key.clone())
            {
                failures.remove(&stalest);
            }
        }
        let times = failures.entry(key.to_owned()).or_default();
        prune(times, now, self.window);
        times.push_back(now);
        // Only whether the limit is reached matters: never keep more than that.
        while times.len() > self.max_failures {
            times.pop_front();
        }
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|at| now.saturating_duration_since(*at) >= window)
    {
        times.pop_front();
    }
}

/// What [`new_token`] makes: 64 lowercase hex digits. Anything else cannot be a link.
fn looks_like_token(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn link_not_found() -> ApiError {
    ApiError::not_found(
        "share-link-not-found",
        "This link does not exist or was revoked.",
    )
}

fn too_many_attempts() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-attempts",
        "Too many invalid links were tried. Try again in a minute.",
    )
}

/// The link a public request presents and its recording, if the link still works.
async fn resolve(
    state: &AppState,
    client: ClientAddr,
    token: &str,
) -> Result<(ShareLinkRow, RecordingRow), ApiError> {
    let key = client.0.to_string();
    let found = if looks_like_token(token) {
        state
            .db
            .share_link_by_token_hash(&token_hash(token))
            .await?
    } else {
        None
    };
    match found {
        // Revoked beats expired: a revoked link is not found, whatever its expiry.
        Some((link, _)) if link.revoked_at.is_none() && link.is_expired_at(now_ms()) => {
            Err(ApiError::new(
                StatusCode::GONE,
                "share-link-expired",
                "This link has expired.",
            ))
        }
        Some((link, recording)) if link.revoked_at.is_none() => Ok((link, recording)),
        // A working link is served whatever else came from the same address; only
        // attempts that fail are limited.
        _ if state.share_limiter.is_blocked(&key) => Err(too_many_attempts()),
        _ => {
            state.share_limiter.record_failure(&key);
            Err(link_not_found())
        }
    }
}

/// An error as a response, with `Retry-After` on a 429.
fn with_retry_after(status: StatusCode, mut response: Response) -> Response {
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(WINDOW.as_secs()));
    }
    response
}

/// `GET /s/{token}/media[?download=1]`: the file, through [`serve_file`] (Range, ETag,
/// 410 once the recording expired).
pub async fn media(
    State(state): State<AppState>,
    Path(token): Path<String>,
    QueryParams(query): QueryParams<MediaQuery>,
    client: ClientAddr,
    headers: HeaderMap,
) -> Response {
    let result = match resolve(&state, client, &token).await {
        Ok((_, recording)) => {
            serve_file(&state, &recording, &headers, query.wants_download()).await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(response) => response,
        Err(error) => {
            let status = error.status;
            with_retry_after(status, error.into_response())
        }
    }
}

/// `GET /s/{token}`: the page with a player and a download link, or an error page.
pub async fn page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    client: ClientAddr,
    headers: HeaderMap,
) -> Response {
    // Recipients have no account: the browser's preference is all we know.
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map_or(Language::En, Language::from_accept_language);
    let (status, html) = match resolve(&state, client, &token).await {
        Err(error) => (error.status, error_page(&error, lang)),
        Ok((_, recording)) if state.engine.expiry.is_expired(&recording) => {
            let error = ApiError::new(
                StatusCode::GONE,
                "recording-expired",
                "This recording has expired and its file was deleted.",
            );
            (error.status, error_page(&error, lang))
        }
        Ok((_, recording)) if !recording.status.is_saved() => {
            let error = ApiError::new(
                StatusCode::CONFLICT,
                "recording-not-ready",
                "This recording is not available yet.",
            );
            (error.status, error_page(&error, lang))
        }
        Ok((link, recording)) => {
            let until = earliest(link.expires_at, state.engine.expiry.expires_at(&recording));
            (StatusCode::OK, player_page(&recording, &token, until, lang))
        }
    };
    let mut response = (status, html).into_response();
    let page_headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        // A revoked link must not live on in a cache.
        (header::CACHE_CONTROL, "no-store"),
        // The token is in the URL: never send it anywhere else.
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; media-src *; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    ] {
        page_headers.insert(name, HeaderValue::from_static(value));
    }
    page_headers.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    with_retry_after(status, response)
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What went wrong, as an error page's heading says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    NotFound,
    Gone,
    TooManyAttempts,
    NotYet,
    Other,
}

impl Problem {
    fn of(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::GONE => Self::Gone,
            StatusCode::TOO_MANY_REQUESTS => Self::TooManyAttempts,
            StatusCode::CONFLICT => Self::NotYet,
            _ => Self::Other,
        }
    }
}

/// `templates/share/player.html`: the page for a working link.
#[derive(Template)]
#[template(path = "share/player.html", config = "templates/askama.toml")]
struct PlayerPage<'a> {
    lang: Language,
    room: &'a str,
    mode: Mode,
    /// `/s/{token}/media`: the player's source, and with `?download=1` the download.
    media: String,
    /// When the recording was made: ISO 8601 for the `<time>` element, and for people.
    recorded_iso: String,
    recorded: String,
    duration: Option<String>,
    /// When the link stops working (its own expiry or the recording's), for people.
    until: Option<String>,
}

impl PlayerPage<'_> {
    /// The HTML element that plays the file.
    fn element(&self) -> &'static str {
        match self.mode {
            Mode::ScreenRecording => "video",
            Mode::Transcript => "audio",
        }
    }
}

/// `templates/share/error.html`: the page for a link that does not work.
#[derive(Template)]
#[template(path = "share/error.html", config = "templates/askama.toml")]
struct ErrorPage<'a> {
    lang: Language,
    problem: Problem,
    detail: &'a str,
    status: u16,
    code: &'a str,
}

/// A moment for people, in UTC: "March 2, 2026, 09:05 UTC", "2 mars 2026, 09:05 UTC",
/// "2. März 2026, 09:05 UTC", "2 maart 2026, 09:05 UTC".
fn human_date(ms: i64, lang: Language) -> String {
    const MONTHS_FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    const MONTHS_DE: [&str; 12] = [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ];
    const MONTHS_NL: [&str; 12] = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ];
    let at = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let (day, month, year, time) = (
        at.day(),
        at.month0() as usize,
        at.year(),
        at.format("%H:%M"),
    );
    match lang {
        Language::En => at.format("%B %-d, %Y, %H:%M UTC").to_string(),
        Language::Fr => format!("{day} {} {year}, {time} UTC", MONTHS_FR[month]),
        Language::De => format!("{day}. {} {year}, {time} UTC", MONTHS_DE[month]),
        Language::Nl => format!("{day} {} {year}, {time} UTC", MONTHS_NL[month]),
    }
}

fn human_duration(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Our pages only show strings and numbers, which cannot fail to render.
fn render(page: &impl Template) -> String {
    page.render().expect("the share pages render plain values")
}

/// The page for a working link. Every value shown is escaped by the template.
fn player_page(
    recording: &RecordingRow,
    token: &str,
    until: Option<i64>,
    lang: Language,
) -> String {
    render(&PlayerPage {
        lang,
        room: &recording.room_name,
        mode: recording.mode,
        media: format!("/s/{token}/media"),
        recorded_iso: iso(recording.created_at),
        recorded: human_date(recording.created_at, lang),
        duration: recording.duration_ms.map(human_duration),
        until: until.map(|at| human_date(at, lang)),
    })
}

/// The page for a link that does not work (or not any more).
fn error_page(error: &ApiError, lang: Language) -> String {
    render(&ErrorPage {
        lang,
        problem: Problem::of(error.status),
        detail: &error.detail,
        status: error.status.as_u16(),
        code: error.code,
    })
}

/// The create body. One way to say how long a link lives: a whole number of days.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// Days the link works; absent or `null`: until revoked (or the recording expires).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 365)]
    expires_in_days: Option<i64>,
}

fn link_view(link: &ShareLinkRow) -> ShareLinkView {
    ShareLinkView {
        id: link.id,
        recording: link.recording_id,
        created_by: link.created_by,
        created_at: iso(link.created_at),
        expires_at: link.expires_at.map(iso),
        is_expired: link.is_expired_at(now_ms()),
        revoked: link.revoked_at.is_some(),
        revoked_at: link.revoked_at.map(iso),
    }
}

/// `POST recordings/{id}/share-links/`.
#[utoipa::path(
    post,
    path = "/api/v1.0/recordings/{id}/share-links/",
    tag = "share-links",
    summary = "Create a share link to a saved recording (its token is shown this once)",
    params(("id" = String, Path, description = "The recording's id.")),
    request_body = Option<CreateBody>,
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 201, description = "The link, with its `url` and `token`.", body = NewShareLinkView),
        (status = 400, description = "`invalid-expiry`: `expires_in_days` out of 1..=365.", body = ErrorView),
        (status = 403, description = "`permission-denied`: the user only watches this recording.", body = ErrorView),
        (status = 404, description = "`recording-not-found`: no such recording, or not one of the user's.", body = ErrorView),
        (status = 409, description = "`recording-not-ready`: only a saved recording can be shared.", body = ErrorView),
        (status = 410, description = "`recording-expired`: the recording expired.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    body: Result<JsonBody<CreateBody>, ApiError>,
) -> Result<(StatusCode, Json<NewShareLinkView>), ApiError> {
    let JsonBody(body) = body?;
    if let Some(days) = body.expires_in_days
        && !(1..=MAX_EXPIRY_DAYS).contains(&days)
    {
        return Err(ApiError::bad_request(
            "invalid-expiry",
            format!("expires_in_days must be between 1 and {MAX_EXPIRY_DAYS}, or null."),
        ));
    }
    let (recording, role) = load_recording(&state, &id, user.id).await?;
    require_owner(role)?;
    super::media::ensure_servable(&state, &recording, "Only a saved recording can be shared.")?;
    let expires_at = earliest(
        body.expires_in_days.map(|days| now_ms() + days * DAY_MS),
        state.engine.expiry.expires_at(&recording),
    );
    let token = new_token();
    let link = state
        .db
        .create_share_link(recording.id, &token_hash(&token), user.id, expires_at)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewShareLinkView {
            link: link_view(&link),
            url: format!("{}/s/{token}", state.config.public_url),
            token,
        }),
    ))
}

/// `GET recordings/{id}/share-links/`: newest first, without tokens.
#[utoipa::path(
    get,
    path = "/api/v1.0/recordings/{id}/share-links/",
    tag = "share-links",
    summary = "A recording's share links, newest first, revoked ones included (never their tokens)",
    params(("id" = String, Path, description = "The recording's id."), Page),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "A page of links.", body = PageView<ShareLinkView>),
        (status = 403, description = "`permission-denied`: the user only watches this recording.", body = ErrorView),
        (status = 404, description = "`recording-not-found`: no such recording, or not one of the user's. `invalid-page`: a page past the end, or not a number.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<PageView<ShareLinkView>>, ApiError> {
    let (recording, role) = load_recording(&state, &id, user.id).await?;
    require_owner(role)?;
    let (limit, offset) = page.limits()?;
    let (links, count) = state.db.share_links_of(recording.id, limit, offset).await?;
    let results = links.iter().map(link_view).collect();
    Ok(Json(paginate(
        &state,
        &format!("recordings/{}/share-links/", recording.id),
        &page,
        count,
        results,
    )?))
}

/// `DELETE recordings/{id}/share-links/{link}/`: revokes; 404 for another recording's link.
#[utoipa::path(
    delete,
    path = "/api/v1.0/recordings/{id}/share-links/{link}/",
    tag = "share-links",
    summary = "Revoke a share link (again: no change)",
    params(("id" = String, Path, description = "The recording's id."), ("link" = String, Path, description = "The link's id.")),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 204, description = "Revoked."),
        (status = 403, description = "`permission-denied`: the user only watches this recording.", body = ErrorView),
        (status = 404, description = "`recording-not-found`: no such recording, or not one of the user's. `share-link-not-found`: no such link to this recording.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, link)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (recording, role) = load_recording(&state, &id, user.id).await?;
    require_owner(role)?;
    let link: Uuid = link.parse().map_err(|_| link_not_found())?;
    if state.db.revoke_share_link(recording.id, link).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "share-link-not-found",
            "No share link matches the given query.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_blocks_a_key_after_its_failures_within_the_window() {
        let limiter = AttemptLimiter::new(3, Duration::from_secs(60));
        let start = Instant::now();
        for n in 0..3 {
            assert!(!limiter.is_blocked_at("a", start), "after {n} failures");
            limiter.record_failure_at("a", start + Duration::from_secs(n));
        }
        assert!(limiter.is_blocked_at("a", start + Duration::from_secs(3)));
        assert!(!limiter.is_blocked_at("b", start), "keys are independent");
        // The first failure leaves the window: one attempt is allowed again.
        assert!(!limiter.is_blocked_at("a", start + Duration::from_secs(60)));
        limiter.record_failure_at("a", start + Duration::from_secs(60));
        assert!(limiter.is_blocked_at("a", start + Duration::from_secs(60)));
        assert!(!limiter.is_blocked_at("a", start + Duration::from_secs(200)));
    }

    #[test]
    fn the_limiter_forgets_the_stalest_client_when_full() {
        let limiter = AttemptLimiter::new(1, Duration::from_secs(60));
        let start = Instant::now();
        for n in 0..MAX_KEYS {
            limiter.record_failure_at(&n.to_string(), start);
        }
        limiter.record_failure_at("new", start + Duration::from_secs(1));
        assert!(limiter.is_blocked_at("new", start + Duration::from_secs(1)));
        assert_eq!(limiter.failures.lock().unwrap().len(), MAX_KEYS);
    }

    #[test]
    fn only_tokens_of_the_right_shape_are_looked_up() {
        assert!(looks_like_token(&new_token()));
        assert!(!looks_like_token("abc"));
        assert!(!looks_like_token(&new_token().to_uppercase()));
        assert!(!looks_like_token(&format!("{}g", &new_token()[1..])));
    }

    fn recording(room_name: &str, mode: Mode) -> RecordingRow {
        RecordingRow {
            id: Uuid::new_v4(),
            room_id: Uuid::new_v4(),
            room_name: room_name.into(),
            room_slug: "x".into(),
            room_access_level: "public".into(),
            room_consent: Default::default(),
            status: meet_recorder_domain::Status::Saved,
            mode,
            layout: None,
            options: serde_json::json!({}),
            worker_id: None,
            started_at: None,
            stopped_at: None,
            duration_ms: Some(3_723_000),
            size_bytes: None,
            file_location: None,
            error: None,
            stop_reason: None,
            external_process_id: None,
            transcript_url: None,
            segments: 1,
            paused_at: None,
            paused_ms: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_page_escapes_what_it_shows() {
        let recording = recording("<script>alert(\"x\")</script> & 'co'", Mode::Transcript);
        let html = player_page(&recording, "\"><b>", None, Language::En);
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;")
        );
        assert!(html.contains("<audio controls preload=\"metadata\""));
        assert!(html.contains("1:02:03"));
        assert_eq!(human_duration(65_000), "1:05");
    }

    #[test]
    fn the_pages_speak_each_of_our_languages() {
        let mut recording = recording("Weekly", Mode::ScreenRecording);
        // 2026-03-02 09:05 UTC, and a link that works until 2026-05-28 20:26 UTC.
        recording.created_at = 1_772_442_300_000;
        let until = Some(1_780_000_000_000);
        let gone = ApiError::new(
            StatusCode::GONE,
            "share-link-expired",
            "This link has expired.",
        );
        for (lang, recorded, download, works_until, heading) in [
            (
                Language::En,
                "Recorded <time datetime=\"2026-03-02T09:05:00.000000Z\">March 2, 2026, 09:05 UTC</time>",
                ">Download</a>",
                "This link works until May 28, 2026, 20:26 UTC.",
                "<h1>No longer available</h1>",
            ),
            (
                Language::Fr,
                "Enregistré le <time datetime=\"2026-03-02T09:05:00.000000Z\">2 mars 2026, 09:05 UTC</time>",
                ">Télécharger</a>",
                "Ce lien fonctionne jusqu’au 28 mai 2026, 20:26 UTC.",
                "<h1>Plus disponible</h1>",
            ),
            (
                Language::De,
                "Aufgenommen am <time datetime=\"2026-03-02T09:05:00.000000Z\">2. März 2026, 09:05 UTC</time>",
                ">Herunterladen</a>",
                "Dieser Link ist bis zum 28. Mai 2026, 20:26 UTC gültig.",
                "<h1>Nicht mehr verfügbar</h1>",
            ),
            (
                Language::Nl,
                "Opgenomen op <time datetime=\"2026-03-02T09:05:00.000000Z\">2 maart 2026, 09:05 UTC</time>",
                ">Downloaden</a>",
                "Deze link is geldig tot 28 mei 2026, 20:26 UTC.",
                "<h1>Niet meer beschikbaar</h1>",
            ),
        ] {
            let html = player_page(&recording, "t", until, lang);
            assert!(
                html.contains(&format!("<html lang=\"{}\">", lang.code())),
                "{html}"
            );
            assert!(html.contains(recorded), "{html}");
            assert!(html.contains(download), "{html}");
            assert!(html.contains(works_until), "{html}");
            assert!(html.ends_with("</main>\n</body>\n</html>\n"), "{html}");
            let html = error_page(&gone, lang);
            assert!(html.contains(heading), "{html}");
            // The detail and its code stay the API's, in English.
            assert!(html.contains("<p>This link has expired.</p>"), "{html}");
            assert!(html.contains("Error 410: share-link-expired"), "{html}");
        }
    }
}
