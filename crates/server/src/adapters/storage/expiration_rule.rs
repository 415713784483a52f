//! `meet-recorder storage apply-lifecycle`: puts an expiration rule on the recordings
//! bucket, so that S3 itself deletes recording files `RECORDING_EXPIRATION_DAYS` (plus one)
//! days after they were written, even if the service is down or a row was lost. The rule
//! covers `{RECORDING_OUTPUT_FOLDER}/` only. It is sent as a signed
//! `PutBucketLifecycleConfiguration` ([`crate::sigv4`]; `object_store` has no such call) and
//! read back, and the summary shows what the bucket kept.
//!
//! A PUT replaces the bucket's whole lifecycle configuration: rules set by other tools are
//! lost. The summary says so, with the previous configuration, when that happens.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::{
    adapters::storage::sigv4::{self, SigningKey},
    config::{Config, S3Settings},
};

/// The ID of our rule in the bucket's lifecycle configuration.
pub const RULE_ID: &str = "meet-recorder-expiration";

/// The rule for objects under `{folder}/`, deleted `days` days after creation.
pub fn expiration_rule_xml(folder: &str, days: u32) -> String {
    format!(
        "<LifecycleConfiguration><Rule><ID>{RULE_ID}</ID><Filter><Prefix>{}/</Prefix></Filter>\
         <Status>Enabled</Status><Expiration><Days>{days}</Days></Expiration></Rule>\
         </LifecycleConfiguration>",
        xml_escape(folder)
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Base64 of the body's SHA-256: the `x-amz-checksum-sha256` header, which S3 accepts in
/// place of `Content-MD5` on `PutBucketLifecycleConfiguration`.
fn checksum_sha256_base64(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
}

/// Sets our expiration rule on the configured bucket and returns a summary with the
/// configuration read back. Fails naming what is missing (S3 settings,
/// `RECORDING_EXPIRATION_DAYS`) or with S3's answer.
pub async fn apply_expiration_rule(config: &Config) -> anyhow::Result<String> {
    let s3 = config.s3.as_ref().ok_or_else(|| {
        anyhow!(
            "no S3 storage is configured (AWS_S3_ENDPOINT_URL is not set): \
             there is no bucket to put a lifecycle rule on"
        )
    })?;
    let days = config.recording.expiration_days.ok_or_else(|| {
        anyhow!(
            "RECORDING_EXPIRATION_DAYS is not set: recordings never expire, \
             so there is no expiration rule to apply"
        )
    })?;
    // One day of slack: the service's own purge deletes the file and marks the row
    // `expired` once `created_at + RECORDING_EXPIRATION_DAYS` has passed, and S3 runs
    // lifecycle rules about once a day at a time of its choosing. Expiring a day later
    // lets our purge come first, so a row never points at a file S3 already removed
    // while still looking available; the bucket rule is the safety net for what the
    // service missed (it was down, or the row is gone).
    let lifecycle_days = days
        .checked_add(1)
        .context("RECORDING_EXPIRATION_DAYS is too large")?;
    let folder = &config.recording.output_folder;
    let xml = expiration_rule_xml(folder, lifecycle_days);

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build an HTTP client")?;
    let url = url::Url::parse(&format!("{}/{}?lifecycle", s3.endpoint, s3.bucket))
        .with_context(|| format!("cannot build the lifecycle URL from {}", s3.endpoint))?;

    let (status, previous) = send(&client, s3, reqwest::Method::GET, &url, None).await?;
    let previous = (status == reqwest::StatusCode::OK).then_some(previous);

    let (status, body) = send(&client, s3, reqwest::Method::PUT, &url, Some(&xml)).await?;
    if !status.is_success() {
        bail!(
            "S3 refused PutBucketLifecycleConfiguration on bucket {} ({}): HTTP {status}: {body}",
            s3.bucket,
            s3.endpoint
        );
    }
    let (status, kept) = send(&client, s3, reqwest::Method::GET, &url, None).await?;
    if status != reqwest::StatusCode::OK {
        bail!(
            "the rule was accepted but GetBucketLifecycleConfiguration on bucket {} \
             answered HTTP {status}: {kept}",
            s3.bucket
        );
    }
    // Some servers (Garage) answer 200 to a configuration they did not understand and
    // store an empty one; only the read-back shows whether the rule is there.
    if !kept.contains(&format!("<ID>{RULE_ID}</ID>"))
        || !kept.contains(&format!("<Days>{lifecycle_days}</Days>"))
    {
        bail!(
            "bucket {} accepted the lifecycle rule but does not show it when read back: {kept}",
            s3.bucket
        );
    }

    let mut summary = format!(
        "Set rule {RULE_ID} on bucket {}: objects under {folder}/ expire after {lifecycle_days} \
         days (RECORDING_EXPIRATION_DAYS={days}, plus one day so that the service marks \
         recordings expired before the bucket deletes their files).\n",
        s3.bucket
    );
    if let Some(previous) = previous.filter(|p| other_rules(p) > 0) {
        summary.push_str(&format!(
            "This replaced the bucket's previous lifecycle configuration, which had {} other \
             rule(s):\n{previous}\n",
            other_rules(&previous)
        ));
    }
    summary.push_str(&format!("Lifecycle configuration read back:\n{kept}"));
    Ok(summary)
}

/// How many rules in a lifecycle configuration are not ours.
fn other_rules(xml: &str) -> usize {
    xml.matches("<Rule>")
        .count()
        .saturating_sub(xml.matches(&format!("<ID>{RULE_ID}</ID>")).count())
}

/// One signed request on the bucket's `?lifecycle` sub-resource: status and body text.
async fn send(
    client: &reqwest::Client,
    s3: &S3Settings,
    method: reqwest::Method,
    url: &url::Url,
    body: Option<&str>,
) -> anyhow::Result<(reqwest::StatusCode, String)> {
    let payload = body.unwrap_or_default().as_bytes();
    let checksum = checksum_sha256_base64(payload);
    let extra: Vec<(&str, &str)> = if body.is_some() {
        vec![
            ("content-type", "application/xml"),
            ("x-amz-checksum-sha256", &checksum),
        ]
    } else {
        Vec::new()
    };
    let signed = sigv4::sign_request(
        &SigningKey {
            access_key_id: &s3.access_key_id,
            secret_access_key: s3.secret_access_key.expose_secret(),
            region: &s3.region,
        },
        method.as_str(),
        url,
        &extra,
        payload,
        std::time::SystemTime::now(),
    )
    .with_context(|| format!("{method} {url}: cannot sign the request"))?;
    let mut request = client.request(method.clone(), url.as_str());
    for (name, value) in extra.iter().copied().chain(
        signed
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    ) {
        request = request.header(name, value);
    }
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("{method} {url}: cannot reach S3"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .with_context(|| format!("{method} {url}: cannot read S3's answer"))?;
    Ok((status, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_covers_the_folder_and_escapes_it() {
        assert_eq!(
            expiration_rule_xml("recordings", 8),
            "<LifecycleConfiguration><Rule><ID>meet-recorder-expiration</ID><Filter>\
             <Prefix>recordings/</Prefix></Filter><Status>Enabled</Status><Expiration>\
             <Days>8</Days></Expiration></Rule></LifecycleConfiguration>"
        );
        assert!(expiration_rule_xml("a&b<c", 1).contains("<Prefix>a&amp;b&lt;c/</Prefix>"));
    }

    #[test]
    fn the_checksum_is_base64_sha256() {
        // SHA-256("abc") from FIPS 180-2, in base64.
        assert_eq!(
            checksum_sha256_base64(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn other_rules_are_counted() {
        let ours = expiration_rule_xml("recordings", 8);
        assert_eq!(other_rules(&ours), 0);
        let mixed = "<LifecycleConfiguration><Rule><ID>logs</ID></Rule>\
                     <Rule><ID>meet-recorder-expiration</ID></Rule></LifecycleConfiguration>";
        assert_eq!(other_rules(mixed), 1);
        assert_eq!(
            other_rules("<LifecycleConfiguration></LifecycleConfiguration>"),
            0
        );
    }
}
