//! No egress nobody tracks: a crash between `StartRoomCompositeEgress` and storing its
//! answer, with the egress's webhooks lost, must not leave LiveKit recording a room as a
//! hidden participant. Reconciliation finds the egress by the recording's file path and
//! adopts it, or stops it when its recording is no longer open.

use std::time::Duration;

use livekit_api::services::egress::{EgressClient, EgressOutput, RoomCompositeOptions};
use livekit_protocol as proto;
use meet_recorder::adapters::db::{NewRecording, RecordingPatch};
use meet_recorder_domain::{Event, Mode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    app::*,
    helpers::{API_KEY, API_SECRET, eventually, local_file},
};

/// A recording row as a start writes it before calling LiveKit: `initiated`, no egress.
async fn initiated(app: &TestApp, room: &Value, host: &TestUser) -> Uuid {
    app.db
        .create_recording(NewRecording {
            room_id: room["id"].as_str().unwrap().parse().unwrap(),
            mode: Mode::Transcript,
            layout: None,
            options: json!({}),
            owner: host.user.id,
        })
        .await
        .unwrap_or_else(|_| panic!("create a recording"))
        .id
}

/// Starts the egress the service would have started for `recording`, straight at LiveKit,
/// with every webhook about it lost; returns its id once it records.
async fn egress_behind_our_back(app: &TestApp, room: &Value, recording: Uuid) -> String {
    app.inject(json!({"fault": "webhook", "action": "drop", "events": []}))
        .await;
    let egress = EgressClient::with_api_key(&app.livekit_url, API_KEY, API_SECRET);
    let info = egress
        .start_room_composite_egress(
            room["id"].as_str().unwrap(),
            vec![EgressOutput::File(local_file(
                &format!("recordings/{recording}.ogg"),
                proto::EncodedFileType::Ogg,
            ))],
            RoomCompositeOptions {
                audio_only: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let egress_id = info.egress_id;
    eventually("the egress to record", Duration::from_secs(10), || async {
        let egress = EgressClient::with_api_key(&app.livekit_url, API_KEY, API_SECRET);
        let list = egress
            .list_egress(Default::default())
            .await
            .unwrap_or_default();
        list.iter()
            .any(|e| e.egress_id == egress_id && e.status() == proto::EgressStatus::EgressActive)
            .then_some(())
    })
    .await;
    egress_id
}

async fn clear_faults(app: &TestApp) {
    app.http
        .delete(format!("{}/admin/faults", app.livekit_url))
        .send()
        .await
        .unwrap();
}

async fn egress_status(app: &TestApp, egress_id: &str) -> proto::EgressStatus {
    app.state
        .livekit
        .egress_info(egress_id)
        .await
        .unwrap()
        .expect("LiveKit knows the egress")
        .status()
}

#[tokio::test]
async fn an_egress_whose_start_was_never_recorded_is_adopted() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let id = initiated(&app, &room, &host).await;
    let egress_id = egress_behind_our_back(&app, &room, id).await;

    app.state.engine.reconciler.reconcile(0).await.unwrap();
    let adopted = app.recording(&id.to_string(), &host).await;
    assert_eq!(adopted["status"], "active", "{adopted}");
    assert_eq!(adopted["worker_id"], egress_id);

    // From then on it is an ordinary recording: it stops, saves and emails.
    clear_faults(&app).await;
    let reply = app.stop(&room, &host, json!({"mode": "transcript"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    app.wait_status(&id.to_string(), &host, "notification_succeeded")
        .await;
}

#[tokio::test]
async fn an_egress_recording_for_a_closed_recording_is_stopped() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let id = initiated(&app, &room, &host).await;
    // The start was given up (it timed out) while LiveKit went on starting the egress.
    let applied = app
        .state
        .engine
        .lifecycle
        .apply(
            id,
            Event::StartFailed,
            RecordingPatch {
                error: Some("no answer".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(applied.row.status.as_str(), "failed_to_start");
    let egress_id = egress_behind_our_back(&app, &room, id).await;

    app.state.engine.reconciler.reconcile(0).await.unwrap();
    eventually("the orphan to stop", Duration::from_secs(10), || async {
        (egress_status(&app, &egress_id).await != proto::EgressStatus::EgressActive).then_some(())
    })
    .await;
    assert_eq!(
        app.recording(&id.to_string(), &host).await["status"],
        "failed_to_start"
    );
    eventually(
        "nothing to record the room",
        Duration::from_secs(10),
        || async {
            app.state
                .livekit
                .active_egresses()
                .await
                .unwrap()
                .is_empty()
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn an_initiated_recording_with_no_egress_anywhere_failed_to_start() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let id = initiated(&app, &room, &host).await;
    app.state.engine.reconciler.reconcile(0).await.unwrap();
    let failed = app.recording(&id.to_string(), &host).await;
    assert_eq!(failed["status"], "failed_to_start", "{failed}");
    let reply = app.start(&room, &host, json!({"mode": "transcript"})).await;
    assert_eq!(reply.status, 201, "the room is free again: {}", reply.body);
}
