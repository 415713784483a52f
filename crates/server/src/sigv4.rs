//! AWS Signature Version 4 for S3, by hand: the canonical request, the string to sign, the
//! derived signing key and the `Authorization` header, for one request to an S3-compatible
//! server. Two features need raw signatures that `object_store` does not expose:
//! `recordings/media-auth/` hands nginx the headers that let it fetch an object itself
//! (as botocore's `S3SigV4Auth` does in the reference), and `storage apply-lifecycle` sends
//! `PutBucketLifecycleConfiguration`, which `object_store` has no call for. It is checked
//! against AWS's published S3 examples, and the integration tests use it against Garage.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The hex SHA-256 of an empty body, which botocore sends for a GET.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The payload hash that tells S3 the body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The credentials and region a request is signed with (the service is always `s3`).
pub struct SigningKey<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub region: &'a str,
}

/// Hex SHA-256 of `bytes`, for the `x-amz-content-sha256` header.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Headers that authorize `method` on `url` (path-style), with the payload hash
/// (`UNSIGNED-PAYLOAD` or the hex SHA-256 of the body). Returns `Authorization`,
/// `X-Amz-Date` and `X-Amz-Content-SHA256`, signing `host;x-amz-content-sha256;x-amz-date`
/// plus `extra_headers` (which the caller must send unchanged, e.g. `content-md5`).
pub fn sign_request(
    key: &SigningKey,
    method: &str,
    url: &url::Url,
    extra_headers: &[(&str, &str)],
    payload_sha256: &str,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = now.format("%Y%m%d").to_string();
    let scope = format!("{date}/{}/s3/aws4_request", key.region);

    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host_header(url)),
        ("x-amz-content-sha256".into(), payload_sha256.into()),
        ("x-amz-date".into(), amz_date.clone()),
    ];
    for (name, value) in extra_headers {
        let name = name.to_ascii_lowercase();
        headers.retain(|(n, _)| *n != name);
        headers.push((name, canonical_header_value(value)));
    }
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();

    let canonical_request = format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{payload_sha256}",
        canonical_uri(url),
        canonical_query(url),
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let signing_key = [key.region, "s3", "aws4_request"].iter().fold(
        hmac(
            format!("AWS4{}", key.secret_access_key).as_bytes(),
            date.as_bytes(),
        ),
        |k, part| hmac(&k, part.as_bytes()),
    );
    let signature = hex::encode(hmac(&signing_key, string_to_sign.as_bytes()));

    vec![
        (
            "Authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, \
                 Signature={signature}",
                key.access_key_id
            ),
        ),
        ("X-Amz-Date".into(), amz_date),
        ("X-Amz-Content-SHA256".into(), payload_sha256.into()),
    ]
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `host`, with the port when it is not the scheme's default (the `url` crate drops it then).
fn host_header(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Trimmed, with inner runs of spaces collapsed to one.
fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Each path segment decoded, then encoded once (S3 does not double-encode), `/` kept.
fn canonical_uri(url: &url::Url) -> String {
    let path = url.path();
    if path.is_empty() {
        return "/".into();
    }
    path.split('/')
        .map(|segment| uri_encode(&percent_decode(segment)))
        .collect::<Vec<_>>()
        .join("/")
}

/// Pairs decoded then encoded, sorted by name then value, `name=value` joined by `&`
/// (`?lifecycle` becomes `lifecycle=`). The raw query is split by hand rather than with
/// `query_pairs`, which would read `+` as a space.
fn canonical_query(url: &url::Url) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode(k)),
                uri_encode(&percent_decode(v)),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3986 unreserved characters kept, every other byte `%XX` (upper-case hex).
fn uri_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example key of AWS's "Signature Calculations for the Authorization Header:
    // Transferring Payload in a Single Chunk" page.
    const EXAMPLE_KEY: SigningKey<'static> = SigningKey {
        access_key_id: "AKIAIOSFODNN7EXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
    };

    fn example_time() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn signature(headers: &[(String, String)]) -> &str {
        let authorization = &headers[0].1;
        authorization.rsplit_once("Signature=").unwrap().1
    }

    #[test]
    fn signs_awss_published_get_object_example() {
        let url = url::Url::parse("https://examplebucket.s3.amazonaws.com/test.txt").unwrap();
        let headers = sign_request(
            &EXAMPLE_KEY,
            "GET",
            &url,
            &[("Range", "bytes=0-9")],
            EMPTY_PAYLOAD_SHA256,
            example_time(),
        );
        assert_eq!(
            headers[0].1,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(
            headers[1],
            ("X-Amz-Date".to_owned(), "20130524T000000Z".to_owned())
        );
        assert_eq!(
            headers[2],
            (
                "X-Amz-Content-SHA256".to_owned(),
                EMPTY_PAYLOAD_SHA256.to_owned()
            )
        );
    }

    #[test]
    fn signs_awss_published_get_bucket_lifecycle_example() {
        // A bare sub-resource (`?lifecycle`) is canonicalized as `lifecycle=`.
        let url = url::Url::parse("https://examplebucket.s3.amazonaws.com/?lifecycle").unwrap();
        let headers = sign_request(
            &EXAMPLE_KEY,
            "GET",
            &url,
            &[],
            EMPTY_PAYLOAD_SHA256,
            example_time(),
        );
        assert_eq!(
            signature(&headers),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
    }

    #[test]
    fn signs_awss_published_list_objects_example() {
        // Query parameters are sorted: `max-keys=2&prefix=J`.
        let url =
            url::Url::parse("https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2").unwrap();
        let headers = sign_request(
            &EXAMPLE_KEY,
            "GET",
            &url,
            &[],
            EMPTY_PAYLOAD_SHA256,
            example_time(),
        );
        assert_eq!(
            signature(&headers),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn the_host_keeps_a_non_default_port_only() {
        let with_port = url::Url::parse("http://127.0.0.1:3900/bucket/key").unwrap();
        assert_eq!(host_header(&with_port), "127.0.0.1:3900");
        let default_port = url::Url::parse("https://s3.example.com:443/bucket/key").unwrap();
        assert_eq!(host_header(&default_port), "s3.example.com");
    }

    #[test]
    fn path_segments_are_encoded_once_with_slashes_kept() {
        let url = url::Url::parse("http://s3/bucket/a b/c%2Bd/ü~x.mp4").unwrap();
        assert_eq!(canonical_uri(&url), "/bucket/a%20b/c%2Bd/%C3%BC~x.mp4");
        let root = url::Url::parse("http://s3").unwrap();
        assert_eq!(canonical_uri(&root), "/");
    }

    #[test]
    fn query_names_and_values_are_encoded_and_sorted() {
        let url = url::Url::parse("http://s3/b?z=1&a=x%2Fy&a=b c&lifecycle&p=1+2").unwrap();
        assert_eq!(
            canonical_query(&url),
            "a=b%20c&a=x%2Fy&lifecycle=&p=1%2B2&z=1"
        );
    }

    #[test]
    fn extra_headers_are_lowercased_trimmed_and_signed() {
        let url = url::Url::parse("http://127.0.0.1:3900/bucket?lifecycle").unwrap();
        let headers = sign_request(
            &EXAMPLE_KEY,
            "PUT",
            &url,
            &[("Content-Type", "  application/xml  ")],
            UNSIGNED_PAYLOAD,
            example_time(),
        );
        assert!(
            headers[0]
                .1
                .contains("SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date,"),
            "{}",
            headers[0].1
        );
        assert_eq!(headers[2].1, UNSIGNED_PAYLOAD);
    }
}
