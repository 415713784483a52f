//! Faults a test can inject, each scoped to one room or to any room.
//!
//! Egress faults are used up by the next egress (or call) they apply to; webhook faults
//! stay until cleared or until their `count` is used up.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One fault, as posted to `POST /admin/faults` (`{"fault": "start_error", ...}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The next start request fails with this Twirp code (`unavailable` or `internal`).
    StartError {
        code: StartErrorCode,
        #[serde(default)]
        room: Option<String>,
    },
    /// The next egress becomes ACTIVE, then fails after `after_ms`: FAILED, no file.
    EgressFailure {
        #[serde(default)]
        after_ms: u64,
        #[serde(default)]
        room: Option<String>,
    },
    /// The next egress never gets its start signal: ABORTED, 412 "Start signal not received".
    EgressAbort {
        #[serde(default)]
        room: Option<String>,
    },
    /// The next egress records but its upload fails: FAILED, error code 400.
    UploadFailure {
        #[serde(default)]
        room: Option<String>,
    },
    /// The next StopEgress answers a Twirp `internal` error and stops nothing.
    StopError {
        #[serde(default)]
        room: Option<String>,
    },
    /// The start response is held back this long while the egress goes on, so that its
    /// webhooks can arrive before the caller has its egress id.
    SlowStartResponse {
        delay_ms: u64,
        #[serde(default)]
        room: Option<String>,
    },
    /// Webhooks whose event name is in `events` (all when empty) are dropped, sent twice,
    /// delayed, or held and sent in reverse order once the egress ends.
    Webhook {
        action: WebhookAction,
        #[serde(default)]
        events: Vec<String>,
        #[serde(default)]
        delay_ms: u64,
        /// How many webhooks it applies to; unlimited when absent.
        #[serde(default)]
        count: Option<u32>,
        #[serde(default)]
        room: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartErrorCode {
    Unavailable,
    Internal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAction {
    Drop,
    Duplicate,
    Delay,
    Reorder,
}

/// What happens to one webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WebhookFate {
    Send,
    Drop,
    Duplicate,
    Delay(Duration),
    Hold,
}

/// What happens to one egress, decided when it starts.
#[derive(Clone, Debug, Default)]
pub(crate) struct EgressPlan {
    pub fail_after: Option<Duration>,
    pub abort: bool,
    pub upload_fails: bool,
    pub slow_response: Option<Duration>,
}

#[derive(Default)]
pub(crate) struct Faults {
    pending: Vec<Fault>,
}

impl Fault {
    fn room(&self) -> Option<&str> {
        match self {
            Fault::StartError { room, .. }
            | Fault::EgressFailure { room, .. }
            | Fault::EgressAbort { room }
            | Fault::UploadFailure { room }
            | Fault::StopError { room }
            | Fault::SlowStartResponse { room, .. }
            | Fault::Webhook { room, .. } => room.as_deref(),
        }
    }

    fn applies_to(&self, room: &str) -> bool {
        self.room().is_none_or(|scope| scope == room)
    }
}

impl Faults {
    pub fn add(&mut self, fault: Fault) {
        self.pending.push(fault);
    }

    pub fn clear(&mut self) {
        self.pending.clear();
    }

    pub fn list(&self) -> Vec<Fault> {
        self.pending.clone()
    }

    /// Removes and returns the first pending fault for `room` that `select` accepts.
    fn take(&mut self, room: &str, select: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let position = self
            .pending
            .iter()
            .position(|fault| fault.applies_to(room) && select(fault))?;
        Some(self.pending.remove(position))
    }

    pub fn take_start_error(&mut self, room: &str) -> Option<StartErrorCode> {
        match self.take(room, |f| matches!(f, Fault::StartError { .. }))? {
            Fault::StartError { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn take_stop_error(&mut self, room: &str) -> bool {
        self.take(room, |f| matches!(f, Fault::StopError { .. }))
            .is_some()
    }

    /// Collects every egress fault that applies to a new egress in `room`.
    pub fn plan_egress(&mut self, room: &str) -> EgressPlan {
        let mut plan = EgressPlan::default();
        if let Some(Fault::EgressFailure { after_ms, .. }) =
            self.take(room, |f| matches!(f, Fault::EgressFailure { .. }))
        {
            plan.fail_after = Some(Duration::from_millis(after_ms));
        }
        plan.abort = self
            .take(room, |f| matches!(f, Fault::EgressAbort { .. }))
            .is_some();
        plan.upload_fails = self
            .take(room, |f| matches!(f, Fault::UploadFailure { .. }))
            .is_some();
        if let Some(Fault::SlowStartResponse { delay_ms, .. }) =
            self.take(room, |f| matches!(f, Fault::SlowStartResponse { .. }))
        {
            plan.slow_response = Some(Duration::from_millis(delay_ms));
        }
        plan
    }

    /// Decides the fate of one webhook, using up one `count` of the matching fault.
    pub fn webhook_fate(&mut self, room: &str, event: &str) -> WebhookFate {
        let position = self.pending.iter().position(|fault| {
            matches!(fault, Fault::Webhook { events, .. }
                if events.is_empty() || events.iter().any(|e| e == event))
                && fault.applies_to(room)
        });
        let Some(position) = position else {
            return WebhookFate::Send;
        };
        let Fault::Webhook {
            action,
            delay_ms,
            count,
            ..
        } = &mut self.pending[position]
        else {
            return WebhookFate::Send;
        };
        let fate = match action {
            WebhookAction::Drop => WebhookFate::Drop,
            WebhookAction::Duplicate => WebhookFate::Duplicate,
            WebhookAction::Delay => WebhookFate::Delay(Duration::from_millis(*delay_ms)),
            WebhookAction::Reorder => WebhookFate::Hold,
        };
        if let Some(left) = count {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.pending.remove(position);
            }
        }
        fate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egress_faults_are_used_once_and_respect_their_room() {
        let mut faults = Faults::default();
        faults.add(Fault::EgressAbort {
            room: Some("a".into()),
        });
        assert!(!faults.plan_egress("b").abort);
        assert!(faults.plan_egress("a").abort);
        assert!(!faults.plan_egress("a").abort);
    }

    #[test]
    fn webhook_fault_counts_down_and_filters_events() {
        let mut faults = Faults::default();
        faults.add(Fault::Webhook {
            action: WebhookAction::Drop,
            events: vec!["egress_ended".into()],
            delay_ms: 0,
            count: Some(1),
            room: None,
        });
        assert_eq!(
            faults.webhook_fate("r", "egress_updated"),
            WebhookFate::Send
        );
        assert_eq!(faults.webhook_fate("r", "egress_ended"), WebhookFate::Drop);
        assert_eq!(faults.webhook_fate("r", "egress_ended"), WebhookFate::Send);
    }

    #[test]
    fn faults_parse_from_admin_json() {
        let fault: Fault =
            serde_json::from_str(r#"{"fault":"start_error","code":"unavailable"}"#).unwrap();
        assert_eq!(
            fault,
            Fault::StartError {
                code: StartErrorCode::Unavailable,
                room: None
            }
        );
        assert!(serde_json::from_str::<Fault>(r#"{"fault":"nope"}"#).is_err());
    }
}
