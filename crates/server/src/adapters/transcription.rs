//! The transcription service (the reference's "summary" service): a saved recording is
//! handed over with a JSON job description, and the service answers with its job id.

use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::Value;

use crate::config::TranscriptionSettings;

/// How long the service has to answer a hand-over.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum HandOffError {
    /// Worth another try: unreachable, overloaded or failing.
    #[error("transcription service: {0}")]
    Unavailable(String),
    /// The service refused the job, or answered what we cannot use.
    #[error("transcription service: {0}")]
    Refused(String),
}

pub struct TranscriptionService {
    client: reqwest::Client,
    settings: TranscriptionSettings,
}

impl TranscriptionService {
    pub fn new(settings: TranscriptionSettings) -> Self {
        Self {
            client: reqwest::Client::new(),
            settings,
        }
    }

    pub fn settings(&self) -> &TranscriptionSettings {
        &self.settings
    }

    /// Posts the job; returns the service's job id.
    pub async fn hand_off(&self, job: &Value) -> Result<String, HandOffError> {
        let response = self
            .client
            .post(&self.settings.endpoint)
            .bearer_auth(self.settings.api_token.expose_secret())
            .timeout(TIMEOUT)
            .json(job)
            .send()
            .await
            .map_err(|error| HandOffError::Unavailable(error.to_string()))?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(HandOffError::Unavailable(format!("answered {status}")));
        }
        if !status.is_success() {
            return Err(HandOffError::Refused(format!("refused the job: {status}")));
        }
        response
            .json::<Value>()
            .await
            .ok()
            .and_then(|body| body["job_id"].as_str().map(str::to_owned))
            .ok_or_else(|| HandOffError::Refused("answered without a job_id".into()))
    }
}
