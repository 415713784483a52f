//! One error type for every handler: a status, a stable kebab-case `code`, a human
//! `detail`, and for a few reference endpoints the `error` / `message` keys their clients
//! read. 5xx details are logged, never sent.

use axum::{
    Json,
    extract::{FromRequest, Request, rejection::BytesRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::views::ErrorView;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// Extra keys merged into the body (e.g. the reference's `"error"`).
    pub extra: Map<String, Value>,
    pub www_authenticate: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            extra: Map::new(),
            www_authenticate: None,
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    pub fn not_authenticated() -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "not-authenticated",
            "Authentication credentials were not provided.",
        );
        error.www_authenticate = Some("Session");
        error
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    pub fn feature_disabled() -> Self {
        Self::not_found("not-found", "Not found.")
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 415: a body that is not declared JSON (see [`JsonBody`]).
    pub fn unsupported_media_type(given: Option<&HeaderValue>) -> Self {
        let detail = match given.map(|v| v.to_str().unwrap_or("?")) {
            Some(given) => format!(
                "Unsupported media type \"{}\" in request: send JSON with \
                 Content-Type: application/json.",
                given.chars().take(100).collect::<String>()
            ),
            None => "A request body needs Content-Type: application/json.".to_owned(),
        };
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            detail,
        )
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "An internal error occurred.",
        )
    }
}

impl ApiError {
    /// The response, with `Retry-After: seconds` (and `retry_after` in the body) for a
    /// client told to come back later.
    pub fn retry_after(self, seconds: u64) -> Response {
        let mut response = self.with("retry_after", seconds).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorView {
            detail: self.detail,
            code: self.code,
            extra: self.extra,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(scheme) = self.www_authenticate {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
        }
        response
    }
}

/// Whether a `Content-Type` declares JSON: `application/json` or `application/*+json`,
/// with any parameters (`; charset=utf-8`).
pub fn is_json_content_type(value: &HeaderValue) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

/// A JSON body whose rejections use our error format. The body must be declared JSON
/// (`Content-Type: application/json`, else 415 `unsupported-media-type`): a form or
/// `text/plain` body is what another site's page can make a browser send without asking
/// (no CORS preflight). A request with no body and no `Content-Type` counts as `{}`, so
/// that optional-body endpoints (stop-recording) accept a bare POST from curl. Every body
/// is a JSON object: serde would otherwise read a struct from an array of its fields in
/// order (`["name"]` as `{"name": ...}`, `[]` as an empty stop). No text in it holds a NUL
/// character (400 `invalid-json`): PostgreSQL would refuse it with a server error.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
        if let Some(content_type) = &content_type
            && !is_json_content_type(content_type)
        {
            return Err(ApiError::unsupported_media_type(Some(content_type)));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection: BytesRejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body-too-large",
                        "The request body is too large.",
                    )
                } else {
                    ApiError::bad_request("invalid-body", rejection.body_text())
                }
            })?;
        let blank = bytes.iter().all(u8::is_ascii_whitespace);
        if content_type.is_none() && !blank {
            return Err(ApiError::unsupported_media_type(None));
        }
        let bytes = if blank { &b"{}"[..] } else { &bytes[..] };
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Err(ApiError::bad_request(
                "invalid-json",
                "Invalid JSON body: expected a JSON object.",
            ));
        }
        let invalid = |e: serde_json::Error| {
            ApiError::bad_request("invalid-json", format!("Invalid JSON body: {e}"))
        };
        let value: Value = serde_json::from_slice(bytes).map_err(invalid)?;
        if holds_nul(&value) {
            return Err(ApiError::bad_request(
                "invalid-json",
                "Invalid JSON body: text may not contain NUL characters (\\u0000).",
            ));
        }
        serde_json::from_value(value).map(JsonBody).map_err(invalid)
    }
}

/// Whether any string of `value`, or any key, holds a NUL character: PostgreSQL stores no
/// such text (it would fail the query), and no name, email or id needs one.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Query parameters whose rejections use our error format.
pub struct QueryParams<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|e| ApiError::bad_request("invalid-query", e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_json_body_is_an_object_never_an_array_of_fields() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Named {
            #[serde(default)]
            name: Option<String>,
        }
        let read = |body: &'static str| async move {
            let request = Request::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(body))
                .unwrap();
            JsonBody::<Named>::from_request(request, &()).await
        };
        for array in ["[]", "[\"room\"]", " [null]"] {
            let Err(error) = read(array).await else {
                panic!("{array} was read as an object");
            };
            assert_eq!(
                (error.status, error.code),
                (StatusCode::BAD_REQUEST, "invalid-json")
            );
        }
        let Ok(JsonBody(named)) = read(" {\"name\": \"room\"}").await else {
            panic!("an object was refused");
        };
        assert_eq!(named.name.as_deref(), Some("room"));
        assert!(read("").await.is_ok(), "no body reads as an empty object");
        for nul in [r#"{"name": "a\u0000b"}"#, r#"{"name": "a", "x\u0000": 1}"#] {
            let Err(error) = read(nul).await else {
                panic!("{nul} was read");
            };
            assert_eq!(error.code, "invalid-json");
        }
    }

    #[test]
    fn json_is_application_json_with_or_without_parameters() {
        for json in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(
                is_json_content_type(&HeaderValue::from_static(json)),
                "{json}"
            );
        }
        for other in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/json",
            "application/jsonp",
            "",
        ] {
            assert!(
                !is_json_content_type(&HeaderValue::from_static(other)),
                "{other}"
            );
        }
    }
}
