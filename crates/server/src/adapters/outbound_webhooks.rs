//! Outbound webhooks: a message POSTed to an operator's endpoint, signed per the Standard
//! Webhooks specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`:
//! `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the endpoint's key).

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::WebhookEndpoint;

/// How long an endpoint has to answer one attempt.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The `webhook-signature` header value for `body`, sent as message `id` at `timestamp`
/// (Unix seconds).
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

pub struct WebhookSender {
    http: reqwest::Client,
}

impl Default for WebhookSender {
    fn default() -> Self {
        Self::new()
    }
}

impl WebhookSender {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                // An endpoint answers itself: a redirect is a misconfiguration, not a
                // place to send recordings' details.
                .redirect(reqwest::redirect::Policy::none())
                .timeout(DELIVERY_TIMEOUT)
                .build()
                .expect("the webhook HTTP client builds"),
        }
    }

    /// Sends message `id` with `body` to `endpoint`, signed now. Any 2xx answer delivers
    /// it; anything else is an error to retry.
    pub async fn deliver(
        &self,
        endpoint: &WebhookEndpoint,
        id: &str,
        body: &str,
    ) -> Result<(), String> {
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .http
            .post(&endpoint.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(endpoint.key.expose(), id, timestamp, body),
            )
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| format!("{}: {e}", endpoint.url))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{} answered {status}", endpoint.url))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_specifications() {
        // The example of the Standard Webhooks specification.
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        assert_eq!(
            signature(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
