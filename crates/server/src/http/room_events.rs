//! `GET rooms/{id}/recording-events/`: a server-sent-events stream of the room's
//! recording state, so every open page shows "recording" and its end without reloading
//! and without depending on LiveKit. The first event is the current state; each later
//! one follows a committed change (see [`crate::events`]). Each event is
//! `event: recording-state` with `{"room", "recordings": {mode: {id, status, layout,
//! started_at, is_open, may_be_recording, stoppable, stop_reason, error}}}` for the latest
//! recording of each mode.
//! Guests of a public room may listen too: everyone in the room must see the badge.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, State},
    response::sse::{Event, KeepAlive, Sse},
};
use futures::Stream;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::{
    error::{ApiError, QueryParams},
    recordings::iso,
    rooms::{GuestName, load_room_as, participant},
};
use crate::{app::AppState, auth::MaybeUser};

async fn room_state(state: &AppState, room: Uuid) -> Result<Value, sqlx::Error> {
    let mut recordings = Map::new();
    for recording in state.db.latest_recordings_of_room(room, 20).await? {
        recordings
            .entry(recording.mode.as_str().to_owned())
            .or_insert_with(|| {
                json!({
                    "id": recording.id,
                    "status": recording.status,
                    "layout": recording.layout,
                    "started_at": recording.started_at.map(iso),
                    "is_open": recording.status.is_open(),
                    // The badge and the Stop button: a failed stop may still be recording.
                    "may_be_recording": recording.status.may_be_recording(),
                    "stoppable": recording.status.is_stoppable(),
                    "stop_reason": recording.stop_reason,
                    "error": recording.error,
                })
            });
    }
    Ok(json!({ "room": room, "recordings": recordings }))
}

pub async fn recording_events(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(room): Path<String>,
    QueryParams(guest): QueryParams<GuestName>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let (room, _) = load_room_as(&state, &room, user.as_ref()).await?;
    // In dev mode the open page is the participant (see `crate::presence`).
    let presence = match &state.dev {
        Some(dev) => {
            let (identity, name) = participant(user.as_ref(), &guest)?;
            Some(dev.presence.enter(&room.id.to_string(), &identity, &name))
        }
        None => None,
    };
    // Subscribe before reading, so a change between the two is not missed.
    let hints = state.recorder.events.subscribe();
    let initial = room_state(&state, room.id).await?;
    let stream = futures::stream::unfold(
        (state, hints, Some(initial), Value::Null, presence),
        move |(state, mut hints, pending, mut last, presence)| async move {
            let mut next = pending;
            while next.is_none() {
                match hints.recv().await {
                    Ok(changed) if changed != room.id => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => match room_state(&state, room.id).await {
                        Ok(current) if current != last => next = Some(current),
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(%error, "cannot read a room's recording state");
                        }
                    },
                    Err(RecvError::Closed) => return None,
                }
            }
            let current = next.expect("set above");
            last = current.clone();
            let event = Event::default()
                .event("recording-state")
                .data(current.to_string());
            Some((Ok(event), (state, hints, None, last, presence)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
