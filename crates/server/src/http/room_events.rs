//! `GET rooms/{id}/recording-events/`: a server-sent-events stream of the room's
//! recording state, so every open page shows "recording" and its end without reloading
//! and without depending on LiveKit. The first event is the current state; each later
//! one follows a committed change (see [`crate::events`]). Each event is
//! `event: recording-state` with `{"room", "recordings": {mode: {ref, status, layout,
//! started_at, is_open, may_be_recording, stoppable, stop_reason, error_code}}}` for the
//! latest recording of each mode; the room's owners and administrators also get the
//! recording's `id` and its `error` text.
//!
//! Guests of a public room may listen too: everyone in the room must see the badge. What
//! they need is no more than that: a recording id is a capability elsewhere (the storage
//! hook without authentication, logs, support requests) and error texts carry internal
//! URLs and transport messages, so everyone else gets `ref`, an opaque key that tells one
//! recording from the next, and `error_code`, a stable code.
//!
//! Each stream is a connection held open for as long as the page is: one client address
//! may hold at most `MEET_RECORDER_EVENT_STREAMS_PER_CLIENT` (429 beyond).

use std::{
    collections::{BTreeMap, HashMap},
    convert::Infallible,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Extension,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use meet_recorder_domain::{Role, Status};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::{
    client::ClientAddr,
    error::{ApiError, QueryParams},
    recordings::iso,
    rooms::{GuestName, load_room_as, participant},
    views::{ErrorView, RecordingRequestView, RecordingStateView, RoomStateView},
};
use crate::{
    adapters::db::{RecordingRow, now_ms},
    http::{AppState, auth::MaybeUser},
};

/// How long a request for a recording stays in the hosts' events: enough for a page that
/// reconnects to still see it, short enough that an old one is not news.
const REQUESTS_SHOWN_MS: i64 = 60_000;

/// How long a refused client is asked to wait before opening another stream.
const RETRY_AFTER_S: u64 = 10;

/// Open event streams per client address (IPv6 per /64: one host usually has a whole
/// /64 to pick addresses from).
pub struct EventStreamLimiter {
    per_client: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl EventStreamLimiter {
    pub fn new(per_client: usize) -> Arc<Self> {
        Arc::new(Self {
            per_client,
            open: Mutex::new(HashMap::new()),
        })
    }

    fn bucket(client: IpAddr) -> IpAddr {
        client_bucket(client)
    }

    /// A slot for one more stream of `client`, given back when dropped; none at the cap.
    fn try_open(self: &Arc<Self>, client: IpAddr) -> Option<StreamSlot> {
        let bucket = Self::bucket(client);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(bucket).or_default();
        if *count >= self.per_client {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            limiter: self.clone(),
            bucket,
        })
    }
}

/// A client as limits count it: its address, or for IPv6 its /64 (one host usually has
/// a whole /64 to pick addresses from).
pub fn client_bucket(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

/// One open stream's place in its client's count.
struct StreamSlot {
    limiter: Arc<EventStreamLimiter>,
    bucket: IpAddr,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.limiter.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.bucket) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.bucket);
            }
        }
    }
}

/// An opaque key for a recording: equal in every event about it, different for the next
/// one, and no way back to its id.
fn opaque_ref(id: Uuid) -> String {
    let digest = Sha256::digest(format!("meet-recorder recording-events ref {id}"));
    hex::encode(&digest[..12])
}

/// The stable code of a recording's error: what a guest may know of it.
fn error_code(recording: &RecordingRow) -> Option<&'static str> {
    Some(match recording.status {
        Status::FailedToStart => "start-failed",
        Status::FailedToStop => "stop-failed",
        Status::Aborted => "aborted",
        Status::Failed => "recording-failed",
        Status::ExternalProcessFailed => "processing-failed",
        _ if recording.error.is_some() => "recording-error",
        _ => return None,
    })
}

/// One recording as a reader of its room's stream sees it: with its `id` and `error`
/// text for owners and administrators (`privileged`), without for everyone else (see the
/// module documentation).
fn recording_state(recording: &RecordingRow, privileged: bool) -> RecordingStateView {
    RecordingStateView {
        id: privileged.then_some(recording.id),
        reference: opaque_ref(recording.id),
        status: recording.status,
        layout: recording.layout,
        started_at: recording.started_at.map(iso),
        paused_at: recording.paused_at.map(iso),
        paused_ms: recording.paused_ms,
        is_open: recording.status.is_open(),
        // The badge and the Stop button: a failed stop may still be recording.
        may_be_recording: recording.status.may_be_recording(),
        stoppable: recording.status.is_stoppable(),
        stop_reason: recording.stop_reason.clone(),
        error: privileged.then(|| recording.error.clone()),
        error_code: error_code(recording),
    }
}

/// The room states read for the hints an instance heard, so that the streams of one room
/// that hear one hint share one reading (10,000 open pages of a room: two queries per
/// change, one per view, not 10,000).
#[derive(Default)]
pub struct RoomStates {
    readings: std::sync::Mutex<HashMap<(Uuid, bool), Reading>>,
}

/// The reading of a room's state for one hint, done once by whichever stream asks first.
#[derive(Clone)]
struct Reading {
    hint: u64,
    state: Arc<tokio::sync::OnceCell<Arc<str>>>,
}

impl RoomStates {
    /// Past this many rooms read, the map starts afresh: a forgotten reading only costs
    /// one more query.
    const CAPACITY: usize = 10_000;

    /// The room's state for `hint`, as `privileged` or not sees it: read by `read` once,
    /// by the first stream to ask.
    pub async fn read<F, Fut>(
        &self,
        room: Uuid,
        privileged: bool,
        hint: u64,
        read: F,
    ) -> Result<Arc<str>, sqlx::Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<String, sqlx::Error>>,
    {
        let reading = {
            let mut readings = self.readings.lock().unwrap_or_else(|e| e.into_inner());
            if readings.len() >= Self::CAPACITY {
                readings.clear();
            }
            let reading = readings
                .entry((room, privileged))
                .or_insert_with(|| Reading {
                    hint,
                    state: Arc::default(),
                });
            // A newer hint needs a newer reading; a stream late on an older hint may take
            // the newer reading, which is only more current.
            if reading.hint < hint {
                *reading = Reading {
                    hint,
                    state: Arc::default(),
                };
            }
            reading.clone()
        };
        reading
            .state
            .get_or_try_init(|| async { read().await.map(Arc::from) })
            .await
            .cloned()
    }
}

/// The room's state as `privileged` or not sees it, serialised: the latest recording of
/// each mode.
async fn room_state(state: &AppState, room: Uuid, privileged: bool) -> Result<String, sqlx::Error> {
    let mut recordings = BTreeMap::new();
    // Newest first: the first of each mode is its latest.
    for recording in state.db.latest_recordings_of_room(room, 20).await? {
        recordings
            .entry(recording.mode.as_str())
            .or_insert_with(|| recording_state(&recording, privileged));
    }
    let requests = if privileged {
        let requests = state
            .db
            .recording_requests_since(room, now_ms() - REQUESTS_SHOWN_MS)
            .await?
            .into_iter()
            .map(|request| RecordingRequestView {
                id: request.id,
                mode: request.mode,
                name: request.requester_name,
                created_at: iso(request.created_at),
            })
            .collect();
        Some(requests)
    } else {
        None
    };
    let view = RoomStateView {
        room,
        recordings,
        requests,
    };
    Ok(serde_json::to_string(&view).expect("a view always serialises"))
}

#[utoipa::path(
    get,
    path = "/api/v1.0/rooms/{room}/recording-events/",
    tag = "rooms",
    summary = "The room's recording state, as server-sent events (guests: public rooms)",
    params(("room" = String, Path, description = "The room's id or slug."), GuestName),
    security((), ("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "A stream of `recording-state` events whose data is a `RoomRecordingState`: the current state first, then each change. It stays open.", content_type = "text/event-stream", body = String),
        (status = 400, description = "`invalid-name` (dev mode): a guest's name over 64 characters or with control characters.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: signed out, and the room is not public (whether it exists is not told).", body = ErrorView),
        (status = 404, description = "`room-not-found`: no such room, or a restricted room of others.", body = ErrorView),
        (status = 429, description = "`too-many-event-streams`: too many open streams from this address.", body = ErrorView, headers(("retry-after" = u64, description = "Seconds."))),
    ),
)]
pub async fn recording_events(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<EventStreamLimiter>>,
    ClientAddr(client): ClientAddr,
    MaybeUser(user): MaybeUser,
    Path(room): Path<String>,
    QueryParams(guest): QueryParams<GuestName>,
) -> Result<Response, ApiError> {
    let Some(slot) = limiter.try_open(client) else {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-event-streams",
            "Too many open event streams from this address; close some pages and retry.",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
        return Ok(response);
    };
    let (room, role) = load_room_as(&state, &room, user.as_ref()).await?;
    let privileged = role.is_some_and(Role::is_privileged);
    // In dev mode the open page is the participant (see `crate::dev::presence`).
    let presence = match &state.dev {
        Some(dev) => {
            let (identity, name) = participant(user.as_ref(), &guest)?;
            Some(dev.presence.enter(&room.id.to_string(), &identity, &name))
        }
        None => None,
    };
    // Subscribe before reading, so a change between the two is not missed.
    let hints = state.change_feed.subscribe();
    let initial: Arc<str> = room_state(&state, room.id, privileged).await?.into();
    // The slot and the presence live as long as the stream.
    let held = (slot, presence);
    let stream = futures::stream::unfold(
        (state, hints, Some(initial), Arc::<str>::from(""), held),
        move |(state, mut hints, pending, mut last, held)| async move {
            let mut next = pending;
            while next.is_none() {
                let read = match hints.recv().await {
                    Ok(changed) if changed.room != room.id => continue,
                    // Every stream of the room heard this hint: one of them reads.
                    Ok(changed) => {
                        state
                            .room_states
                            .read(room.id, privileged, changed.hint, || {
                                room_state(&state, room.id, privileged)
                            })
                            .await
                    }
                    // Hints were missed: this stream reads for itself.
                    Err(RecvError::Lagged(_)) => room_state(&state, room.id, privileged)
                        .await
                        .map(Arc::<str>::from),
                    Err(RecvError::Closed) => return None,
                };
                match read {
                    // Only what this reader would see differently is sent.
                    Ok(current) => {
                        // Shared readings are the same allocation: no string to compare.
                        if !Arc::ptr_eq(&current, &last) && current != last {
                            next = Some(current);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot read a room's recording state");
                    }
                }
            }
            let current = next.expect("set above");
            last = current.clone();
            let event = Event::default().event("recording-state").data(&current);
            Some((Ok::<_, Infallible>(event), (state, hints, None, last, held)))
        },
    );
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    // Behind nginx, each event goes on at once rather than when a buffer fills.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_its_share_of_streams_and_gets_them_back() {
        let limiter = EventStreamLimiter::new(2);
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let first = limiter.try_open(client).unwrap();
        let _second = limiter.try_open(client).unwrap();
        assert!(limiter.try_open(client).is_none());
        assert!(limiter.try_open("203.0.113.8".parse().unwrap()).is_some());
        drop(first);
        assert!(limiter.try_open(client).is_some());
        // One IPv6 host's /64 is one client.
        let a = limiter.try_open("2001:db8::1".parse().unwrap()).unwrap();
        let b = limiter.try_open("2001:db8::2".parse().unwrap()).unwrap();
        assert!(limiter.try_open("2001:db8::3".parse().unwrap()).is_none());
        drop((a, b));
        assert!(
            limiter.open.lock().unwrap().len() <= 1,
            "empty counts are forgotten"
        );
    }
}
