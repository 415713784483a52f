//! Webhook delivery as the LiveKit server does it: protojson bodies (camelCase, zero values
//! omitted), `Authorization` = a raw HS256 JWT with the claims `iss`, `exp`, `nbf`, `iat`
//! and `sha256` (the base64 SHA-256 of the exact body), one ordered queue per resource (the
//! egress id for egress events), and retries on connection errors, 429 and 5xx (not 501)
//! with exponential backoff.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use base64::Engine;
use livekit_protocol as proto;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::{
    EmulatorConfig,
    faults::{Faults, WebhookFate},
};

/// LiveKit retries a webhook at most 4 times (5 attempts in all).
const MAX_ATTEMPTS: u32 = 5;
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const TOKEN_TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Clone, Debug)]
pub(crate) struct WebhookTarget {
    pub url: String,
    pub api_key: String,
    pub api_secret: String,
}

/// One delivery attempt series, kept for `GET /admin/webhooks`.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryRecord {
    pub id: String,
    pub event: String,
    pub egress_id: Option<String>,
    pub room: String,
    pub url: Option<String>,
    pub attempts: u32,
    pub last_status: Option<u16>,
    /// `delivered`, `rejected` (4xx, not retried), `gave_up`, `dropped` (fault), `no_target`.
    pub outcome: &'static str,
    /// When the first attempt was sent (Unix milliseconds; 0 when never sent).
    pub first_sent_at_ms: i64,
}

struct Delivery {
    event: proto::WebhookEvent,
    room: String,
    targets: Vec<WebhookTarget>,
    delay: Duration,
}

pub(crate) struct WebhookSender {
    inner: Arc<SenderInner>,
}

struct SenderInner {
    client: reqwest::Client,
    targets: Vec<WebhookTarget>,
    retry_base: Duration,
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<Delivery>>>,
    held: Mutex<HashMap<String, Vec<Delivery>>>,
    faults: Mutex<Faults>,
    in_flight: AtomicUsize,
    log: Mutex<Vec<DeliveryRecord>>,
}

impl WebhookSender {
    pub fn new(config: &EmulatorConfig) -> Self {
        let (api_key, api_secret) = config
            .webhook_api_key
            .as_ref()
            .and_then(|key| config.keys.get_key_value(key))
            .or_else(|| config.keys.iter().next())
            .map(|(k, s)| (k.clone(), s.clone()))
            .unwrap_or_default();
        let targets = config
            .webhook_urls
            .iter()
            .map(|url| WebhookTarget {
                url: url.clone(),
                api_key: api_key.clone(),
                api_secret: api_secret.clone(),
            })
            .collect();
        let client = reqwest::Client::builder()
            .user_agent("Go-http-client/1.1")
            .timeout(Duration::from_secs(10))
            .build()
            .expect("build webhook HTTP client");
        Self {
            inner: Arc::new(SenderInner {
                client,
                targets,
                retry_base: config.webhook_retry_base,
                queues: Mutex::default(),
                held: Mutex::default(),
                faults: Mutex::default(),
                in_flight: AtomicUsize::new(0),
                log: Mutex::default(),
            }),
        }
    }

    pub fn add_fault(&self, fault: crate::Fault) {
        self.inner.faults.lock().unwrap().add(fault);
    }

    pub fn faults(&self) -> Vec<crate::Fault> {
        self.inner.faults.lock().unwrap().list()
    }

    pub fn clear_faults(&self) {
        self.inner.faults.lock().unwrap().clear();
    }

    pub fn log(&self) -> Vec<DeliveryRecord> {
        self.inner.log.lock().unwrap().clone()
    }

    pub fn is_idle(&self) -> bool {
        self.inner.in_flight.load(Ordering::SeqCst) == 0
    }

    /// Queues `event` behind earlier events with the same `key`, applying any fault.
    pub fn enqueue(
        &self,
        key: &str,
        room: &str,
        event: proto::WebhookEvent,
        extra: &[WebhookTarget],
    ) {
        let targets: Vec<WebhookTarget> = self.inner.targets.iter().chain(extra).cloned().collect();
        let delivery = Delivery {
            room: room.to_owned(),
            targets,
            delay: Duration::ZERO,
            event,
        };
        if delivery.targets.is_empty() {
            self.inner.record(&delivery, None, 0, None, "no_target");
            return;
        }
        let is_final = matches!(
            delivery.event.event.as_str(),
            "egress_ended" | "room_finished"
        );
        let fate = self
            .inner
            .faults
            .lock()
            .unwrap()
            .webhook_fate(room, &delivery.event.event);
        let mut ready = Vec::new();
        match fate {
            WebhookFate::Send => ready.push(delivery),
            WebhookFate::Drop => {
                for target in &delivery.targets {
                    self.inner
                        .record(&delivery, Some(&target.url), 0, None, "dropped");
                }
            }
            WebhookFate::Duplicate => {
                ready.push(delivery.duplicate());
                ready.push(delivery);
            }
            WebhookFate::Delay(delay) => ready.push(Delivery { delay, ..delivery }),
            WebhookFate::Hold => self
                .inner
                .held
                .lock()
                .unwrap()
                .entry(key.to_owned())
                .or_default()
                .push(delivery),
        }
        if is_final {
            // Reordered events go out after the final one, newest first.
            let held = self.inner.held.lock().unwrap().remove(key);
            ready.extend(held.into_iter().flatten().rev());
        }
        for delivery in ready {
            self.send_in_order(key, delivery);
        }
    }

    fn send_in_order(&self, key: &str, delivery: Delivery) {
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        let mut queues = self.inner.queues.lock().unwrap();
        let queue = queues.entry(key.to_owned()).or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
            let inner = self.inner.clone();
            tokio::spawn(async move {
                while let Some(delivery) = rx.recv().await {
                    if !delivery.delay.is_zero() {
                        tokio::time::sleep(delivery.delay).await;
                    }
                    for target in &delivery.targets {
                        inner.deliver(&delivery, target).await;
                    }
                    inner.in_flight.fetch_sub(1, Ordering::SeqCst);
                }
            });
            tx
        });
        if let Err(mpsc::error::SendError(_)) = queue.send(delivery) {
            self.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Delivery {
    fn duplicate(&self) -> Self {
        Self {
            event: self.event.clone(),
            room: self.room.clone(),
            targets: self.targets.clone(),
            delay: self.delay,
        }
    }
}

impl SenderInner {
    async fn deliver(&self, delivery: &Delivery, target: &WebhookTarget) {
        // Serialised once: the signature covers these exact bytes.
        let body = serde_json::to_string(&delivery.event).expect("serialize webhook event");
        let first_sent_at_ms = chrono::Utc::now().timestamp_millis();
        let mut attempts = 0;
        let mut last_status = None;
        let outcome = loop {
            attempts += 1;
            let retry_after = match self.post(&body, target).await {
                Ok(response) => {
                    let status = response.status();
                    last_status = Some(status.as_u16());
                    if status.is_success() {
                        break "delivered";
                    }
                    let retryable = status.as_u16() == 429
                        || (status.is_server_error() && status.as_u16() != 501);
                    if !retryable {
                        break "rejected";
                    }
                    response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(Duration::from_secs)
                }
                Err(error) => {
                    tracing::debug!(%error, url = %target.url, "webhook delivery failed");
                    None
                }
            };
            if attempts >= MAX_ATTEMPTS {
                break "gave_up";
            }
            let backoff = (self.retry_base * 2u32.pow(attempts - 1)).min(MAX_BACKOFF);
            tokio::time::sleep(retry_after.unwrap_or(backoff).min(MAX_BACKOFF)).await;
        };
        self.record(delivery, Some(&target.url), attempts, last_status, outcome);
        let mut log = self.log.lock().unwrap();
        if let Some(record) = log
            .iter_mut()
            .rev()
            .find(|r| r.id == delivery.event.id && r.url.as_deref() == Some(target.url.as_str()))
        {
            record.first_sent_at_ms = first_sent_at_ms;
        }
    }

    async fn post(
        &self,
        body: &str,
        target: &WebhookTarget,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let token = webhook_token(body, target, chrono::Utc::now().timestamp());
        self.client
            .post(&target.url)
            .header(reqwest::header::CONTENT_TYPE, "application/webhook+json")
            .header(reqwest::header::AUTHORIZATION, token)
            .body(body.to_owned())
            .send()
            .await
    }

    fn record(
        &self,
        delivery: &Delivery,
        url: Option<&str>,
        attempts: u32,
        last_status: Option<u16>,
        outcome: &'static str,
    ) {
        self.log.lock().unwrap().push(DeliveryRecord {
            id: delivery.event.id.clone(),
            event: delivery.event.event.clone(),
            egress_id: delivery
                .event
                .egress_info
                .as_ref()
                .map(|info| info.egress_id.clone()),
            room: delivery.room.clone(),
            url: url.map(str::to_owned),
            attempts,
            last_status,
            outcome,
            first_sent_at_ms: 0,
        });
    }
}

/// The webhook's `Authorization`: the claims the real server's `auth.AccessToken` signs
/// for a webhook (`iss`, `exp`, `nbf`, `iat`, `sha256`, in that order), HS256. Built by
/// hand because the `livekit-api` token builder has no `iat`.
fn webhook_token(body: &str, target: &WebhookTarget, now: i64) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes()));
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    #[derive(Serialize)]
    struct WebhookClaims<'a> {
        iss: &'a str,
        exp: i64,
        nbf: i64,
        iat: i64,
        sha256: String,
    }
    let claims = WebhookClaims {
        iss: &target.api_key,
        exp: now + TOKEN_TTL.as_secs() as i64,
        nbf: now,
        iat: now,
        sha256,
    };
    let claims = serde_json::to_vec(&claims).expect("serialize webhook claims");
    let signing_input = format!("{}.{}", b64.encode(header), b64.encode(claims));
    let signature = hmac_sha256(target.api_secret.as_bytes(), signing_input.as_bytes());
    format!("{signing_input}.{}", b64.encode(signature))
}

/// HMAC-SHA256 (RFC 2104) over `sha2`, the one primitive a webhook signature needs.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_api::{access_token::TokenVerifier, webhooks::WebhookReceiver};

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn webhook_token_verifies_with_the_sdk_and_has_the_servers_claims() {
        let target = WebhookTarget {
            url: "http://127.0.0.1:1/".into(),
            api_key: "key".into(),
            api_secret: "a-secret-long-enough-for-hs256-use".into(),
        };
        let body = r#"{"event":"room_started"}"#;
        let now = chrono::Utc::now().timestamp();
        let token = webhook_token(body, &target, now);
        let receiver = WebhookReceiver::new(TokenVerifier::with_api_key(
            &target.api_key,
            &target.api_secret,
        ));
        assert_eq!(
            receiver.receive(body, &token).unwrap().event,
            "room_started"
        );
        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        let mut keys: Vec<&str> = claims
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["exp", "iat", "iss", "nbf", "sha256"]);
        assert_eq!(claims["exp"].as_i64().unwrap() - now, 300);
        assert!(
            receiver
                .receive(&body.replace("room", "ROOM"), &token)
                .is_err()
        );
    }
}
