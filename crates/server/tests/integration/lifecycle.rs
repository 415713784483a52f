//! Start and stop through LiveKit Egress, driven by LiveKit webhooks: the reference's
//! start/stop inventory, concurrency, faults, out-of-order events, limits.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use livekit_protocol as proto;

use crate::{
    app::*,
    helpers::{eventually, unique},
    webhooks::{body_of, now_seconds, send_signed},
};

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn start_then_stop_records_the_room_and_shows_it_to_participants() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let room_id = id(&room);

    let reply = app
        .start(
            &room,
            &host,
            json!({"mode": "screen_recording", "layout": "grid"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.body["message"],
        format!(
            "Recording successfully started for room {}",
            room["slug"].as_str().unwrap()
        )
    );
    let recording = &reply.body["recording"];
    let recording_id = id(recording);
    assert_eq!(recording["status"], "active");
    assert_eq!(recording["layout"], "grid");
    assert!(recording["worker_id"].as_str().unwrap().starts_with("EG_"));
    assert_eq!(recording["key"], format!("recordings/{recording_id}.mp4"));

    // Participants see it: starting, then started once the egress is active.
    eventually("metadata started", Duration::from_secs(10), || async {
        let metadata = app.room_metadata(&room_id).await;
        (metadata["recording_status"] == "started").then_some(())
    })
    .await;
    let metadata = app.room_metadata(&room_id).await;
    assert_eq!(metadata["recording_mode"], "screen_recording");
    let updates = app.livekit_room(&room_id).await["metadata_updates"].clone();
    assert!(
        updates[0].as_str().unwrap().contains("starting"),
        "{updates}"
    );

    // The requester is the one owner.
    assert_eq!(recording["abilities"]["stop"], true);
    let others = app.user("other").await;
    let reply = app
        .get(&format!("recordings/{recording_id}/"), &others)
        .await;
    assert_eq!(reply.status, 404);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let reply = app.stop(&room, &host, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["message"],
        format!(
            "Recording stopped for room {}.",
            room["slug"].as_str().unwrap()
        )
    );
    assert_eq!(reply.body["recording"]["status"], "stopped");

    // egress_ended fills in the file, the file is confirmed in storage, the owner is
    // emailed; the metadata keys are removed.
    let recording = app
        .wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    assert!(recording["size_bytes"].as_i64().unwrap() > 0);
    assert!(
        recording["duration_ms"].as_i64().unwrap() >= 1000,
        "{recording}"
    );
    eventually("metadata cleared", Duration::from_secs(10), || async {
        let metadata = app.room_metadata(&room_id).await;
        metadata.get("recording_status").is_none().then_some(())
    })
    .await;

    // Nothing to stop any more.
    let reply = app.stop(&room, &host, json!({})).await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.body["detail"],
        "No active recording found for this room."
    );
    assert_eq!(reply.body["code"], "no-active-recording");
}

#[tokio::test]
async fn start_checks_auth_flag_body_room_and_privileges_in_that_order() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let member = app.user("member").await;
    let room = app.live_room(&host).await;
    let path = format!("rooms/{}/start-recording/", id(&room));

    let reply = app
        .request(
            Method::POST,
            &path,
            None,
            Some(json!({"mode": "screen_recording"})),
        )
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.headers["www-authenticate"], "Session");

    for bad in [
        json!({}),
        json!({"mode": "video"}),
        json!({"mode": "screen_recording", "layout": "mosaic"}),
        json!({"mode": "screen_recording", "options": {"transcribe": "foo"}}),
        json!({"mode": "screen_recording", "options": {"transcribe": 12}}),
        json!({"mode": "screen_recording", "options": {"colour": "red"}}),
        json!({"mode": "screen_recording", "options": {"original_mode": "video"}}),
        json!({"mode": "screen_recording", "options": "yes"}),
        json!(["mode"]),
    ] {
        let reply = app.post(&path, &host, bad.clone()).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
        assert_eq!(reply.body["detail"], "Invalid request.");
        assert_eq!(reply.body["code"], "invalid-request");
    }
    // The body is checked before the room: a bad body on a missing room is 400.
    let reply = app
        .post("rooms/no-such-room/start-recording/", &host, json!({}))
        .await;
    assert_eq!(reply.status, 400);
    let reply = app
        .post(
            "rooms/no-such-room/start-recording/",
            &host,
            json!({"mode": "transcript"}),
        )
        .await;
    assert_eq!(reply.status, 404);

    // A member of the room is not privileged; neither is a stranger.
    let reply = app
        .post(
            &format!("rooms/{}/accesses/", id(&room)),
            &host,
            json!({"email": member.user.email, "role": "member"}),
        )
        .await;
    assert_eq!(reply.status, 201);
    for user in [&member, &app.user("stranger").await] {
        let reply = app
            .post(&path, user, json!({"mode": "screen_recording"}))
            .await;
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.body["detail"],
            "You must have privileges on room to perform this action."
        );
    }
    assert_eq!(
        app.recording_count(&id(&room)).await,
        0,
        "no rows left behind"
    );

    // Malformed JSON and oversized bodies.
    let response = app
        .http
        .post(format!("{}/{path}", app.api))
        .bearer_auth(&host.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = app
        .http
        .post(format!("{}/{path}", app.api))
        .bearer_auth(&host.token)
        .header("content-type", "application/json")
        .body(vec![b' '; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn options_are_coerced_and_stored_like_the_reference() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app
        .start(
            &room,
            &host,
            json!({"mode": "screen_recording", "options": {"transcribe": "on", "language": "klingon", "collect_metadata": null}}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.body["recording"]["options"],
        json!({"transcribe": true, "language": "klingon"})
    );
    assert_eq!(
        reply.body["recording"]["layout"], "speaker-light",
        "default layout"
    );
}

#[tokio::test]
async fn disabled_feature_answers_404() {
    let app = spawn_app_with(&[("RECORDING_ENABLE", "false")], |_| {}).await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["detail"], "Not found.");
    let reply = app.stop(&room, &host, json!({})).await;
    assert_eq!(reply.status, 404);
    let config = app.get("config/", &host).await;
    assert_eq!(config.body["recording"]["is_enabled"], false);
}

#[tokio::test]
async fn recording_and_transcript_run_at_once_but_not_twice() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201);
    let reply = app.start(&room, &host, json!({"mode": "transcript"})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.body["recording"]["key"]
            .as_str()
            .unwrap()
            .rsplit('.')
            .next(),
        Some("ogg")
    );

    let reply = app.start(&room, &host, json!({"mode": "transcript"})).await;
    assert_eq!(reply.status, 409);
    let slug = room["slug"].as_str().unwrap();
    assert_eq!(
        reply.body["error"],
        format!("A recording is already in progress for room {slug}")
    );
    assert_eq!(reply.body["code"], "recording-in-progress");
    assert_eq!(app.recording_count(&id(&room)).await, 2, "nothing leaked");

    // Stopping one mode leaves the other running.
    let reply = app.stop(&room, &host, json!({"mode": "transcript"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["recording"]["mode"], "transcript");
    let reply = app.stop(&room, &host, json!({"mode": "transcript"})).await;
    assert_eq!(reply.status, 404);
    let reply = app.stop(&room, &host, json!({})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["recording"]["mode"], "screen_recording");
}

#[tokio::test]
async fn concurrent_starts_give_exactly_one_recording() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let attempts = (0..20).map(|_| app.start(&room, &host, json!({"mode": "screen_recording"})));
    let replies = futures::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let conflicts = replies.iter().filter(|r| r.status == 409).count();
    assert_eq!(
        (created, conflicts),
        (1, 19),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(app.recording_count(&id(&room)).await, 1);
}

#[tokio::test]
async fn a_failed_start_is_502_and_leaves_the_room_free() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    app.inject(json!({"fault": "start_error", "code": "unavailable"}))
        .await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    let slug = room["slug"].as_str().unwrap();
    assert_eq!(
        reply.body["error"],
        format!("Recording failed to start for room {slug}")
    );
    assert_eq!(reply.body["recording"]["status"], "failed_to_start");

    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "the room is not locked: {}", reply.body);

    // A room nobody joined does not exist on LiveKit: the start fails, nothing is locked.
    let empty = app.room(&host).await;
    let reply = app
        .start(&empty, &host, json!({"mode": "transcript"}))
        .await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.body["recording"]["status"], "failed_to_start");
}

#[tokio::test]
async fn livekit_unreachable_is_502() {
    let app = spawn_app_with(&[("LIVEKIT_API_URL", "http://127.0.0.1:9")], |_| {}).await;
    let host = app.user("host").await;
    let room = app.room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 502);
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 502, "still not locked");
}

#[tokio::test]
async fn a_failed_stop_is_500_and_can_be_retried() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    let recording_id = id(&reply.body["recording"]);
    app.wait_status(&recording_id, &host, "active").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.inject(json!({"fault": "stop_error"})).await;
    let reply = app.stop(&room, &host, json!({})).await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert_eq!(reply.body["code"], "recording-failed-to-stop");
    let failed = app
        .wait_status(&recording_id, &host, "failed_to_stop")
        .await;

    // Its egress may still be recording: it can be stopped again, not deleted, and
    // everyone in the room still sees it recording.
    assert_eq!(failed["abilities"]["stop"], true);
    assert_eq!(failed["abilities"]["destroy"], false);
    let reply = app
        .request(
            reqwest::Method::DELETE,
            &format!("recordings/{recording_id}/"),
            Some(&host),
            None,
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.body["code"], "recording-not-final");
    let metadata = app.room_metadata(&id(&room)).await;
    assert_eq!(metadata["recording_status"], "started", "{metadata}");
    let state = crate::room_events::EventStream::open(&app, &id(&room), &host)
        .await
        .next(Duration::from_secs(5))
        .await;
    assert_eq!(
        state["recordings"]["screen_recording"]["may_be_recording"],
        true
    );
    assert_eq!(state["recordings"]["screen_recording"]["stoppable"], true);

    let reply = app.stop(&room, &host, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["recording"]["status"], "stopped");
}

#[tokio::test]
async fn late_and_out_of_order_egress_webhooks_leave_no_recording_status() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let room_id = id(&room);
    let recording_id = app.record(&host, &room, "screen_recording").await;
    let recording = app
        .wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    let egress_id = recording["worker_id"].as_str().unwrap().to_owned();
    eventually("metadata cleared", Duration::from_secs(10), || async {
        let metadata = app.room_metadata(&room_id).await;
        metadata.get("recording_status").is_none().then_some(())
    })
    .await;
    let updates_before = app.livekit_room(&room_id).await["metadata_updates"]
        .as_array()
        .unwrap()
        .len();

    // A late ACTIVE (and its duplicate), an ENDING and an egress_started arriving after
    // the end, as a LiveKit retry or reordering delivers them.
    for (event, status) in [
        ("egress_updated", proto::EgressStatus::EgressActive),
        ("egress_updated", proto::EgressStatus::EgressActive),
        ("egress_updated", proto::EgressStatus::EgressEnding),
        ("egress_started", proto::EgressStatus::EgressStarting),
    ] {
        let webhook = proto::WebhookEvent {
            event: event.into(),
            id: unique("EV"),
            created_at: now_seconds(),
            egress_info: Some(proto::EgressInfo {
                egress_id: egress_id.clone(),
                room_name: room_id.clone(),
                status: status as i32,
                ..Default::default()
            }),
            ..Default::default()
        };
        let reply = send_signed(&app, &body_of(&webhook)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let room_view = app.livekit_room(&room_id).await;
    assert_eq!(
        room_view["metadata_updates"].as_array().unwrap().len(),
        updates_before,
        "nothing new was shown: {room_view}"
    );
    let metadata = app.room_metadata(&room_id).await;
    assert!(metadata.get("recording_status").is_none(), "{metadata}");
    assert_eq!(
        app.recording(&recording_id, &host).await["status"],
        "notification_succeeded"
    );
}

#[tokio::test]
async fn egress_failure_marks_the_recording_failed_and_tells_the_room() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    app.inject(json!({"fault": "egress_failure", "after_ms": 300}))
        .await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    let recording_id = id(&reply.body["recording"]);
    let recording = app.wait_status(&recording_id, &host, "failed").await;
    assert_eq!(recording["abilities"]["destroy"], true);
    app.wait_data_message(&id(&room), r#"recordingFailed"#)
        .await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "the room is free again");
}

#[tokio::test]
async fn aborted_egress_marks_the_recording_aborted() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    app.inject(json!({"fault": "egress_abort"})).await;
    let reply = app.start(&room, &host, json!({"mode": "transcript"})).await;
    app.wait_status(&id(&reply.body["recording"]), &host, "aborted")
        .await;
}

#[tokio::test]
async fn egress_ending_before_the_start_returned_still_ends_right() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    app.inject(json!({"fault": "slow_start_response", "delay_ms": 1500}))
        .await;
    app.inject(json!({"fault": "egress_failure", "after_ms": 0}))
        .await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let recording = app
        .wait_status(&id(&reply.body["recording"]), &host, "failed")
        .await;
    assert!(recording["worker_id"].as_str().unwrap().starts_with("EG_"));
}

#[tokio::test]
async fn reordered_and_duplicated_webhooks_end_in_the_same_state() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    app.inject(json!({"fault": "webhook", "action": "reorder"}))
        .await;
    app.inject(json!({"fault": "webhook", "action": "duplicate"}))
        .await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    let recording_id = id(&reply.body["recording"]);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let reply = app.stop(&room, &host, json!({})).await;
    assert_eq!(reply.status, 200);
    assert!(app.livekit.settle(Duration::from_secs(30)).await);
    let recording = app
        .wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    assert!(recording["size_bytes"].as_i64().is_some());
    assert_eq!(
        app.sent_emails().len(),
        1,
        "one email despite duplicated webhooks"
    );
}

#[tokio::test]
async fn livekit_session_limit_stops_the_recording_and_alerts_the_room() {
    let app = spawn_app_with(&[], |lk| lk.max_duration = Some(Duration::from_secs(1))).await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app.start(&room, &host, json!({"mode": "transcript"})).await;
    let recording_id = id(&reply.body["recording"]);
    let recording = app
        .wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    assert!(recording["duration_ms"].as_i64().unwrap() >= 900);
    app.wait_data_message(&id(&room), r#"{"type":"transcriptionLimitReached"}"#)
        .await;
}

#[tokio::test]
async fn the_service_enforces_recording_max_duration_itself() {
    let app = spawn_app_with(&[("RECORDING_MAX_DURATION", "1500")], |_| {}).await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    let recording_id = id(&reply.body["recording"]);
    app.wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    app.wait_data_message(&id(&room), r#"{"type":"screenRecordingLimitReached"}"#)
        .await;
    let config = app.get("config/", &host).await;
    assert_eq!(config.body["recording"]["max_duration"], 1500);
}
