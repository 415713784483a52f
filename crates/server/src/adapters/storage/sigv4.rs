//! AWS Signature Version 4 for the two S3 requests `object_store` does not make for us:
//! `recordings/media-auth/` hands nginx the headers that let it fetch an object itself
//! (as botocore's `S3SigV4Auth` does in the reference), and `storage apply-lifecycle`
//! sends `PutBucketLifecycleConfiguration`. The signature is the `aws-sigv4` crate's;
//! this module only holds what S3 wants of it, so both callers sign alike: the path
//! encoded once and never normalized, and the payload's hash sent and signed as
//! `x-amz-content-sha256`. The tests check it against AWS's published S3 examples, and
//! the integration tests against Garage.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::{
    http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningError,
        SigningSettings, UriPathNormalizationMode, sign,
    },
    sign::v4,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};

/// The credentials and region a request is signed with (the service is always `s3`).
pub struct SigningKey<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub region: &'a str,
}

/// Headers that authorize `method` on `url` (path-style) with `body`: `authorization`,
/// `x-amz-date` and `x-amz-content-sha256` (the hex SHA-256 of `body`), signing
/// `host;x-amz-content-sha256;x-amz-date` plus `extra_headers`, which the caller must
/// send unchanged (e.g. `content-type`).
pub fn sign_request(
    key: &SigningKey,
    method: &str,
    url: &url::Url,
    extra_headers: &[(&str, &str)],
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(String, String)>, SigningError> {
    let identity = Credentials::new(
        key.access_key_id,
        key.secret_access_key,
        None,
        None,
        "meet-recorder",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(key.region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .expect("every signing parameter is set")
        .into();
    let request = SignableRequest::new(
        method,
        signing_uri(url),
        extra_headers.iter().copied(),
        SignableBody::Bytes(body),
    )?;
    let (instructions, _signature) = sign(request, &params)?.into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

/// What is not an RFC 3986 unreserved character gets `%XX`-encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `url` with each path segment decoded, then encoded once as SigV4 wants (`/` kept): the
/// crate signs the path it is given as it is, and S3 canonicalizes what it receives this
/// way, whatever escaping the URL had.
fn signing_uri(url: &url::Url) -> String {
    let path = url
        .path()
        .split('/')
        .map(|segment| {
            let bytes: Vec<u8> = percent_decode_str(segment).collect();
            percent_encode(&bytes, SEGMENT).to_string()
        })
        .collect::<Vec<_>>()
        .join("/");
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("{}{path}{query}", &url[..url::Position::BeforePath])
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    /// The hex SHA-256 of an empty body.
    const EMPTY_PAYLOAD_SHA256: &str =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    // The example key of AWS's "Signature Calculations for the Authorization Header:
    // Transferring Payload in a Single Chunk" page.
    const EXAMPLE_KEY: SigningKey<'static> = SigningKey {
        access_key_id: "AKIAIOSFODNN7EXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
    };

    fn example_time() -> SystemTime {
        DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            .into()
    }

    fn sign_example(
        method: &str,
        url: &str,
        extra_headers: &[(&str, &str)],
        body: &[u8],
    ) -> Vec<(String, String)> {
        let url = url::Url::parse(url).unwrap();
        sign_request(
            &EXAMPLE_KEY,
            method,
            &url,
            extra_headers,
            body,
            example_time(),
        )
        .unwrap()
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
            .1
            .as_str()
    }

    fn signature(headers: &[(String, String)]) -> &str {
        header(headers, "authorization")
            .rsplit_once("Signature=")
            .unwrap()
            .1
    }

    #[test]
    fn signs_awss_published_get_object_example() {
        let headers = sign_example(
            "GET",
            "https://examplebucket.s3.amazonaws.com/test.txt",
            &[("Range", "bytes=0-9")],
            b"",
        );
        assert_eq!(
            header(&headers, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(header(&headers, "x-amz-date"), "20130524T000000Z");
        assert_eq!(
            header(&headers, "x-amz-content-sha256"),
            EMPTY_PAYLOAD_SHA256
        );
        assert_eq!(headers.len(), 3, "{headers:?}");
    }

    #[test]
    fn signs_awss_published_get_bucket_lifecycle_example() {
        // A bare sub-resource (`?lifecycle`) is canonicalized as `lifecycle=`.
        let headers = sign_example(
            "GET",
            "https://examplebucket.s3.amazonaws.com/?lifecycle",
            &[],
            b"",
        );
        assert_eq!(
            signature(&headers),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
    }

    #[test]
    fn signs_awss_published_list_objects_example() {
        // Query parameters are sorted: `max-keys=2&prefix=J`.
        let headers = sign_example(
            "GET",
            "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2",
            &[],
            b"",
        );
        assert_eq!(
            signature(&headers),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn the_host_keeps_a_non_default_port_only() {
        // Signed with the host S3 will see: the port only when it is not the scheme's.
        let with_port = sign_example("GET", "http://127.0.0.1:3900/bucket/key", &[], b"");
        let with_port_as_header = sign_example(
            "GET",
            "http://127.0.0.1:3900/bucket/key",
            &[("host", "127.0.0.1:3900")],
            b"",
        );
        assert_eq!(signature(&with_port), signature(&with_port_as_header));
        let default_port = sign_example("GET", "https://s3.example.com:443/bucket/key", &[], b"");
        let no_port = sign_example("GET", "https://s3.example.com/bucket/key", &[], b"");
        assert_eq!(signature(&default_port), signature(&no_port));
    }

    #[test]
    fn path_segments_are_encoded_once_with_slashes_kept() {
        let url = url::Url::parse("http://s3/bucket/a b/c%2Bd/ü~x.mp4?lifecycle").unwrap();
        assert_eq!(
            signing_uri(&url),
            "http://s3/bucket/a%20b/c%2Bd/%C3%BC~x.mp4?lifecycle"
        );
        let root = url::Url::parse("http://s3").unwrap();
        assert_eq!(signing_uri(&root), "http://s3/");
        // The same object, however its URL was escaped, has the same signature.
        let escaped = sign_example("GET", "http://s3/bucket/%61%28b%29", &[], b"");
        let plain = sign_example("GET", "http://s3/bucket/a(b)", &[], b"");
        assert_eq!(signature(&escaped), signature(&plain));
    }

    #[test]
    fn query_names_and_values_are_encoded_and_sorted() {
        // The same parameters in another order and escaping sign the same.
        let a = sign_example("GET", "http://s3/b?z=1&a=x%2Fy&a=b%20c&lifecycle", &[], b"");
        let b = sign_example("GET", "http://s3/b?lifecycle=&a=b%20c&a=x/y&z=1", &[], b"");
        assert_eq!(signature(&a), signature(&b));
    }

    #[test]
    fn extra_headers_are_lowercased_trimmed_and_signed() {
        let body = b"<LifecycleConfiguration/>";
        let trimmed = sign_example(
            "PUT",
            "http://127.0.0.1:3900/bucket?lifecycle",
            &[("Content-Type", "  application/xml  ")],
            body,
        );
        assert!(
            header(&trimmed, "authorization")
                .contains("SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date,"),
            "{trimmed:?}"
        );
        let plain = sign_example(
            "PUT",
            "http://127.0.0.1:3900/bucket?lifecycle",
            &[("content-type", "application/xml")],
            body,
        );
        assert_eq!(signature(&trimmed), signature(&plain));
        assert_eq!(
            header(&trimmed, "x-amz-content-sha256"),
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body))
        );
    }
}
