//! The emulator's shared state: rooms, egresses and faults behind one lock, plus the
//! webhook sender. One lock keeps every state change and the webhook it triggers in the
//! same order the real server would produce them.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use livekit_protocol as proto;
use rand::{Rng, distr::Alphanumeric};
use tokio::sync::mpsc;

use crate::{
    EmulatorConfig,
    egress::EndSignal,
    faults::Faults,
    rooms::RoomState,
    webhooks::{WebhookSender, WebhookTarget},
};

pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub inner: Mutex<Inner>,
    pub webhooks: WebhookSender,
    /// Authenticated API calls answered, by method (`livekit.RoomService/ListRooms`): what
    /// a benchmark reads to prove each request did the LiveKit work it should, and no more.
    pub calls: Mutex<BTreeMap<&'static str, u64>>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub rooms: BTreeMap<String, RoomState>,
    pub egresses: BTreeMap<String, EgressState>,
    pub faults: Faults,
}

pub(crate) struct EgressState {
    pub info: proto::EgressInfo,
    /// Tells the egress task to end; `None` once it has ended.
    pub control: Option<mpsc::UnboundedSender<EndSignal>>,
    /// Per-request webhook destinations (`RoomCompositeEgressRequest.webhooks`).
    pub extra_webhooks: Vec<WebhookTarget>,
}

impl Shared {
    pub fn new(config: EmulatorConfig) -> Arc<Self> {
        let webhooks = WebhookSender::new(&config);
        Arc::new(Self {
            config,
            inner: Mutex::new(Inner::default()),
            webhooks,
            calls: Mutex::new(BTreeMap::new()),
        })
    }

    /// Webhook faults live with the sender, which decides each webhook's fate; egress
    /// faults live with the egresses.
    pub fn add_fault(&self, fault: crate::Fault) {
        match fault {
            crate::Fault::Webhook { .. } => self.webhooks.add_fault(fault),
            _ => self.inner.lock().unwrap().faults.add(fault),
        }
    }

    pub fn faults(&self) -> Vec<crate::Fault> {
        let mut faults = self.inner.lock().unwrap().faults.list();
        faults.extend(self.webhooks.faults());
        faults
    }

    pub fn clear_faults(&self) {
        self.inner.lock().unwrap().faults.clear();
        self.webhooks.clear_faults();
    }

    pub fn is_idle(&self) -> bool {
        let running = self
            .inner
            .lock()
            .unwrap()
            .egresses
            .values()
            .any(|egress| egress.control.is_some());
        !running && self.webhooks.is_idle()
    }

    /// Sends a webhook for an egress event to the configured URLs and the egress's own.
    pub fn egress_webhook(&self, event: &str, info: &proto::EgressInfo, extra: &[WebhookTarget]) {
        let webhook = proto::WebhookEvent {
            event: event.to_owned(),
            room: Some(proto::Room {
                sid: info.room_id.clone(),
                name: info.room_name.clone(),
                ..Default::default()
            }),
            egress_info: Some(info.clone()),
            ..new_event()
        };
        self.webhooks
            .enqueue(&info.egress_id, &info.room_name, webhook, extra);
    }

    /// Sends a webhook about a room (`room_started`, `participant_joined`, …).
    pub fn room_webhook(
        &self,
        event: &str,
        room: &proto::Room,
        participant: Option<proto::ParticipantInfo>,
    ) {
        let key = participant
            .as_ref()
            .map(|p| p.identity.clone())
            .unwrap_or_else(|| room.name.clone());
        let webhook = proto::WebhookEvent {
            event: event.to_owned(),
            room: Some(room.clone()),
            participant,
            ..new_event()
        };
        self.webhooks.enqueue(&key, &room.name, webhook, &[]);
    }
}

fn new_event() -> proto::WebhookEvent {
    proto::WebhookEvent {
        id: new_id("EV_"),
        created_at: chrono::Utc::now().timestamp(),
        ..Default::default()
    }
}

/// LiveKit-style identifiers: a prefix and 12 random alphanumerics (`EG_`, `RM_`, `PA_`, …).
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", random_alphanumeric(12))
}

/// `len` random ASCII letters and digits (also the shape of LiveKit's random secrets).
pub(crate) fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub(crate) fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
}
