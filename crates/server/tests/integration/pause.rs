//! Pause and resume: LiveKit Egress has no pause, so a pause ends the egress segment and a
//! resume starts the next; when the recording ends its parts are joined into its one file,
//! whose length is the time recorded, pauses left out.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    app::*,
    helpers::{eventually, ffprobe_duration, ffprobe_streams},
};

async fn pause(app: &TestApp, room: &Value, host: &TestUser) -> Reply {
    app.post(
        &format!("rooms/{}/pause-recording/", room["id"].as_str().unwrap()),
        host,
        json!({}),
    )
    .await
}

async fn resume(app: &TestApp, room: &Value, host: &TestUser) -> Reply {
    app.post(
        &format!("rooms/{}/resume-recording/", room["id"].as_str().unwrap()),
        host,
        json!({"mode": "screen_recording"}),
    )
    .await
}

/// Starts a video recording and waits until it records; returns its id.
async fn recording_started(app: &TestApp, room: &Value, host: &TestUser) -> String {
    let reply = app
        .start(room, host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["recording"]["id"].as_str().unwrap().to_owned();
    wait_shown(app, room, "started").await;
    id
}

async fn wait_shown(app: &TestApp, room: &Value, status: &str) {
    let room_id = room["id"].as_str().unwrap();
    eventually(
        &format!("participants to see {status}"),
        Duration::from_secs(10),
        || async { (app.room_metadata(room_id).await["recording_status"] == status).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn a_recording_still_starting_is_not_paused() {
    // The egress takes a while to record: a stop before then would abort it, file and all.
    let app = spawn_app_with(&[], |config| {
        config.start_delay = Duration::from_secs(3);
    })
    .await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = pause(&app, &room, &host).await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(reply.body["code"], "recording-not-started");
    let id = reply_id(&app, &room, &host).await;
    assert_eq!(app.recording(&id, &host).await["status"], "active");
}

/// The id of the room's latest recording, as its host lists it.
async fn reply_id(app: &TestApp, room: &Value, host: &TestUser) -> String {
    let reply = app.get("recordings/", host).await;
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["room"]["id"] == room["id"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_paused_and_resumed_recording_is_one_file_of_the_time_recorded() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let room_id = room["id"].as_str().unwrap().to_owned();
    let id = recording_started(&app, &room, &host).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let reply = pause(&app, &room, &host).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["recording"]["status"], "paused");
    wait_shown(&app, &room, "paused").await;
    app.wait_data_message(&room_id, "screenRecordingPaused")
        .await;
    // Still the room's recording: nobody starts another, and a second pause is refused.
    let again = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    let again = pause(&app, &room, &host).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["code"], "recording-not-active");

    // Time paused is not recorded.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reply = resume(&app, &room, &host).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["recording"]["status"], "active");
    app.wait_data_message(&room_id, "screenRecordingResumed")
        .await;
    wait_shown(&app, &room, "started").await;
    let again = resume(&app, &room, &host).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["code"], "recording-not-paused");
    tokio::time::sleep(Duration::from_secs(2)).await;

    let reply = app.stop(&room, &host, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let saved = app.wait_status(&id, &host, "notification_succeeded").await;

    // One file, at the recording's key, as long as the two segments together.
    let key = app.state.config.recording.key(
        id.parse().unwrap(),
        meet_recorder_domain::Mode::ScreenRecording,
    );
    let file = app.state.config.storage_dir.join(&key);
    let seconds = ffprobe_duration(&file);
    assert!((3.0..6.0).contains(&seconds), "{seconds} s recorded");
    assert_eq!(ffprobe_streams(&file), ["h264", "aac"]);
    // The duration shown and emailed is the time recorded too.
    let shown = saved["duration_ms"].as_f64().unwrap() / 1000.0;
    assert!(
        (seconds - shown).abs() < 0.5,
        "{shown} s shown, {seconds} s in the file"
    );
    // The parts are gone: the join deletes them once the recording is saved, so the owner's
    // email may go out just before.
    let parts = app
        .state
        .config
        .storage_dir
        .join(key.trim_end_matches(".mp4"));
    // (Egress's manifests stay beside them, as beside every file.)
    let parts_left = || -> Vec<String> {
        std::fs::read_dir(&parts)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("part-"))
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !parts_left().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(parts_left().is_empty(), "{:?}", parts_left());
    assert_eq!(app.sent_emails().len(), 1);
}

#[tokio::test]
async fn a_recording_stopped_while_paused_is_saved_as_recorded() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let id = recording_started(&app, &room, &host).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let reply = pause(&app, &room, &host).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = app
        .stop(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    app.wait_status(&id, &host, "notification_succeeded").await;
    let room_id = room["id"].as_str().unwrap();
    assert_eq!(
        app.room_metadata(room_id).await["recording_status"],
        Value::Null
    );
}

#[tokio::test]
async fn an_egress_a_crashed_resume_left_behind_is_stopped_and_the_recording_stays_paused() {
    use livekit_api::services::egress::{EgressClient, EgressOutput, RoomCompositeOptions};
    use livekit_protocol as proto;

    use crate::helpers::{API_KEY, API_SECRET, local_file};

    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let id = recording_started(&app, &room, &host).await;
    assert_eq!(pause(&app, &room, &host).await.status, 200);

    // A resume that started the next segment's egress and crashed before recording it.
    let egress = EgressClient::with_api_key(&app.livekit_url, API_KEY, API_SECRET);
    let info = egress
        .start_room_composite_egress(
            room["id"].as_str().unwrap(),
            vec![EgressOutput::File(local_file(
                &format!("recordings/{id}/part-2.mp4"),
                proto::EncodedFileType::Mp4,
            ))],
            RoomCompositeOptions::default(),
        )
        .await
        .unwrap();
    eventually(
        "the stray egress to record",
        Duration::from_secs(10),
        || async {
            let status = app
                .state
                .livekit
                .egress_info(&info.egress_id)
                .await
                .ok()??
                .status();
            (status == proto::EgressStatus::EgressActive).then_some(())
        },
    )
    .await;

    // Reconciliation stops it: nothing records for a paused recording.
    app.state.engine.reconciler.reconcile(0).await.unwrap();
    eventually(
        "the stray egress to end",
        Duration::from_secs(10),
        || async {
            let status = app
                .state
                .livekit
                .egress_info(&info.egress_id)
                .await
                .ok()??
                .status();
            (status != proto::EgressStatus::EgressActive).then_some(())
        },
    )
    .await;
    assert_eq!(app.recording(&id, &host).await["status"], "paused");

    // Resuming afterwards records segment 2 again, and the join takes the new one.
    assert_eq!(resume(&app, &room, &host).await.status, 200);
    wait_shown(&app, &room, "started").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.stop(&room, &host, json!({})).await.status, 200);
    app.wait_status(&id, &host, "notification_succeeded").await;
}

#[tokio::test]
async fn a_room_that_closes_while_paused_ends_the_recording() {
    use livekit_api::services::room::RoomClient;

    use crate::helpers::{API_KEY, API_SECRET};

    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let id = recording_started(&app, &room, &host).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(pause(&app, &room, &host).await.status, 200);
    let rooms = RoomClient::with_api_key(&app.livekit_url, API_KEY, API_SECRET);
    rooms
        .delete_room(room["id"].as_str().unwrap())
        .await
        .unwrap();
    app.wait_status(&id, &host, "notification_succeeded").await;
}

#[tokio::test]
async fn the_maximum_duration_counts_the_time_recorded_not_the_pauses() {
    let app = spawn_app_with(&[("RECORDING_MAX_DURATION", "4000")], |_| {}).await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let id = recording_started(&app, &room, &host).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pause(&app, &room, &host).await.status, 200);
    // Paused longer than the limit: nothing stops it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(app.recording(&id, &host).await["status"], "paused");
    assert_eq!(resume(&app, &room, &host).await.status, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        app.recording(&id, &host).await["status"],
        "active",
        "1.5 s + 1 s recorded of 4 s"
    );
    // The rest of the four seconds, and the limit stops it.
    let stopped = app.wait_status(&id, &host, "notification_succeeded").await;
    assert_eq!(stopped["stop_reason"], "limit", "{stopped}");
    let seconds = stopped["duration_ms"].as_f64().unwrap() / 1000.0;
    assert!((3.0..6.0).contains(&seconds), "{seconds} s recorded");
}

#[tokio::test]
async fn a_pause_that_crashed_before_the_egress_stopped_does_not_turn_a_stop_into_a_pause() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let id = recording_started(&app, &room, &host).await;
    // The pause was marked, then the service died before asking the egress to stop.
    assert!(app.db.mark_pausing(id.parse().unwrap()).await.unwrap());
    assert_eq!(app.recording(&id, &host).await["status"], "active");

    let reply = app.stop(&room, &host, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    app.wait_status(&id, &host, "notification_succeeded").await;
}
