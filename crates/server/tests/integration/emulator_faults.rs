//! Endings other than a clean stop, and every fault a test can inject.

use std::time::Duration;

use livekit_api::services::egress::{EgressOutput, RoomCompositeOptions};
use livekit_emulator::Fault;
use livekit_emulator::faults::{StartErrorCode, WebhookAction};
use livekit_protocol as proto;
use proto::EgressStatus;
use serde_json::json;

use crate::helpers::*;

async fn start(lk: &TestEmulator, room: &str) -> proto::EgressInfo {
    lk.egress()
        .start_room_composite_egress(
            room,
            vec![EgressOutput::File(local_file(
                &format!("recordings/{room}.ogg"),
                proto::EncodedFileType::DefaultFiletype,
            ))],
            RoomCompositeOptions {
                audio_only: true,
                ..Default::default()
            },
        )
        .await
        .expect("start egress")
}

fn event_names(lk: &TestEmulator, egress_id: &str) -> Vec<String> {
    lk.sink
        .egress_events(egress_id)
        .into_iter()
        .map(|e| e.event)
        .collect()
}

#[tokio::test]
async fn session_limit_ends_with_limit_reached_and_keeps_the_file() {
    let lk = spawn_emulator_with(|c| c.max_duration = Some(Duration::from_secs(1))).await;
    let room = unique("limit");
    lk.join(&room, "a").await;
    let egress = start(&lk, &room).await;
    let ended = lk.sink.egress_ended(&egress.egress_id).await;
    assert_eq!(ended.status(), EgressStatus::EgressLimitReached);
    assert_eq!(ended.error_code, 413);
    assert_eq!(ended.error, "Session limit reached");
    let file = &ended.file_results[0];
    assert!(
        file.filename.ends_with(".ogg"),
        "audio only defaults to OGG"
    );
    let duration = ffprobe_duration(&lk.storage_path(&file.filename));
    assert!((duration - 1.0).abs() < 0.5, "about the limit: {duration}");
    assert_eq!(
        ffprobe_streams(&lk.storage_path(&file.filename)),
        vec!["opus"]
    );
}

#[tokio::test]
async fn last_participant_leaving_ends_the_egress_as_source_closed() {
    let lk = spawn_emulator().await;
    let room = unique("leave");
    lk.join(&room, "a").await;
    let egress = start(&lk, &room).await;
    lk.wait_active(&egress.egress_id).await;
    lk.leave(&room, "a").await;
    let ended = lk.sink.egress_ended(&egress.egress_id).await;
    assert_eq!(ended.status(), EgressStatus::EgressComplete);
    assert_eq!(ended.details, "End reason: Source closed");
    assert_eq!(ended.file_results.len(), 1);
}

#[tokio::test]
async fn injected_start_errors_use_the_real_codes() {
    let lk = spawn_emulator().await;
    let room = unique("starterr");
    lk.join(&room, "a").await;
    lk.inject(json!({"fault": "start_error", "code": "unavailable"}))
        .await;
    lk.inject_fault(Fault::StartError {
        code: StartErrorCode::Internal,
        room: Some(room.clone()),
    });
    for expected in ["unavailable", "internal"] {
        let error = lk
            .egress()
            .start_room_composite_egress(
                &room,
                vec![EgressOutput::File(local_file(
                    "x.ogg",
                    proto::EncodedFileType::Ogg,
                ))],
                RoomCompositeOptions::default(),
            )
            .await
            .unwrap_err();
        assert!(format!("{error:?}").contains(expected), "{error:?}");
    }
    // Used up: the next start works.
    start(&lk, &room).await;
}

#[tokio::test]
async fn egress_failing_midway_ends_failed_without_a_file() {
    let lk = spawn_emulator().await;
    let room = unique("fail");
    lk.join(&room, "a").await;
    lk.inject(json!({"fault": "egress_failure", "after_ms": 300, "room": room}))
        .await;
    let egress = start(&lk, &room).await;
    let ended = lk.sink.egress_ended(&egress.egress_id).await;
    assert_eq!(ended.status(), EgressStatus::EgressFailed);
    assert!(ended.file_results.is_empty());
    assert!(!ended.error.is_empty());
    assert!(!lk.storage_path(&format!("recordings/{room}.ogg")).exists());
    assert_eq!(
        event_names(&lk, &egress.egress_id),
        ["egress_started", "egress_updated", "egress_ended"]
    );
}

#[tokio::test]
async fn egress_without_start_signal_is_aborted() {
    let lk = spawn_emulator().await;
    let room = unique("abort");
    lk.join(&room, "a").await;
    lk.inject(json!({"fault": "egress_abort"})).await;
    let egress = start(&lk, &room).await;
    let ended = lk.sink.egress_ended(&egress.egress_id).await;
    assert_eq!(ended.status(), EgressStatus::EgressAborted);
    assert_eq!(ended.error_code, 412);
    assert_eq!(ended.error, "Start signal not received");
}

#[tokio::test]
async fn stop_before_the_pipeline_starts_aborts() {
    let lk = spawn_emulator_with(|c| c.start_delay = Duration::from_secs(5)).await;
    let room = unique("early");
    lk.join(&room, "a").await;
    let egress = start(&lk, &room).await;
    let stopped = lk.egress().stop_egress(&egress.egress_id).await.unwrap();
    assert_eq!(stopped.status(), EgressStatus::EgressAborted);
    let ended = lk.sink.egress_ended(&egress.egress_id).await;
    assert_eq!(ended.error, "Stop called before pipeline could start");
}

#[tokio::test]
async fn upload_failure_ends_failed_with_code_400() {
    let lk = spawn_emulator().await;
    let room = unique("upload");
    lk.join(&room, "a").await;
    lk.inject(json!({"fault": "upload_failure"})).await;
    let egress = start(&lk, &room).await;
    lk.wait_active(&egress.egress_id).await;
    lk.egress().stop_egress(&egress.egress_id).await.unwrap();
    let ended = lk.sink.egress_ended(&egress.egress_id).await;
    assert_eq!(ended.status(), EgressStatus::EgressFailed);
    assert_eq!(ended.error_code, 400);
    assert!(ended.file_results.is_empty());
}

#[tokio::test]
async fn stop_error_leaves_the_egress_running() {
    let lk = spawn_emulator().await;
    let room = unique("stoperr");
    lk.join(&room, "a").await;
    lk.inject(json!({"fault": "stop_error"})).await;
    let egress = start(&lk, &room).await;
    lk.wait_active(&egress.egress_id).await;
    let error = lk
        .egress()
        .stop_egress(&egress.egress_id)
        .await
        .unwrap_err();
    assert!(format!("{error:?}").contains("internal"), "{error:?}");
    lk.wait_active(&egress.egress_id).await;
    let stopped = lk.egress().stop_egress(&egress.egress_id).await.unwrap();
    assert_eq!(stopped.status(), EgressStatus::EgressEnding);
    lk.sink.egress_ended(&egress.egress_id).await;
    // Stopping an egress that has ended is a failed precondition.
    let error = lk
        .egress()
        .stop_egress(&egress.egress_id)
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("failed_precondition"),
        "{error:?}"
    );
}

#[tokio::test]
async fn webhooks_can_be_dropped_duplicated_delayed_and_reordered() {
    let lk = spawn_emulator().await;

    // Dropped: egress_ended never arrives, ListEgress still tells the truth.
    let room = unique("drop");
    lk.join(&room, "a").await;
    lk.inject_fault(Fault::Webhook {
        action: WebhookAction::Drop,
        events: vec!["egress_ended".into()],
        delay_ms: 0,
        count: Some(1),
        room: Some(room.clone()),
    });
    let egress = start(&lk, &room).await;
    lk.wait_active(&egress.egress_id).await;
    lk.egress().stop_egress(&egress.egress_id).await.unwrap();
    assert!(lk.emulator.settle(Duration::from_secs(30)).await);
    assert_eq!(
        event_names(&lk, &egress.egress_id),
        ["egress_started", "egress_updated", "egress_updated"]
    );

    // Duplicated: the same event id twice.
    let room = unique("dup");
    lk.join(&room, "a").await;
    lk.inject(json!({"fault": "webhook", "action": "duplicate", "events": ["egress_ended"], "room": room}))
        .await;
    let egress = start(&lk, &room).await;
    lk.wait_active(&egress.egress_id).await;
    lk.egress().stop_egress(&egress.egress_id).await.unwrap();
    assert!(lk.emulator.settle(Duration::from_secs(30)).await);
    let ended: Vec<_> = lk
        .sink
        .egress_events(&egress.egress_id)
        .into_iter()
        .filter(|e| e.event == "egress_ended")
        .collect();
    assert_eq!(ended.len(), 2);
    assert_eq!(ended[0].id, ended[1].id);

    // Reordered: held until the egress ends, then the newest first.
    let room = unique("reorder");
    lk.join(&room, "a").await;
    lk.inject(json!({"fault": "webhook", "action": "reorder", "room": room}))
        .await;
    let egress = start(&lk, &room).await;
    lk.wait_active(&egress.egress_id).await;
    lk.egress().stop_egress(&egress.egress_id).await.unwrap();
    assert!(lk.emulator.settle(Duration::from_secs(30)).await);
    assert_eq!(
        event_names(&lk, &egress.egress_id),
        [
            "egress_ended",
            "egress_updated",
            "egress_updated",
            "egress_started"
        ]
    );

    // Delayed: arrives, but only after the delay.
    let room = unique("delay");
    lk.join(&room, "a").await;
    lk.inject(json!({"fault": "webhook", "action": "delay", "delay_ms": 1500, "events": ["egress_started"], "room": room}))
        .await;
    let egress = start(&lk, &room).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(event_names(&lk, &egress.egress_id).is_empty());
    eventually(
        "delayed egress_started",
        Duration::from_secs(10),
        || async {
            event_names(&lk, &egress.egress_id)
                .contains(&"egress_started".to_owned())
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn slow_start_response_lets_webhooks_overtake_it() {
    let lk = spawn_emulator().await;
    let room = unique("slow");
    lk.join(&room, "a").await;
    lk.inject(json!({"fault": "slow_start_response", "delay_ms": 1500}))
        .await;
    lk.inject(json!({"fault": "egress_failure", "after_ms": 0}))
        .await;
    let egress = start(&lk, &room).await;
    // By the time the start call returned, the egress had already ended.
    let names = event_names(&lk, &egress.egress_id);
    assert_eq!(
        names.last().map(String::as_str),
        Some("egress_ended"),
        "{names:?}"
    );
    assert_eq!(egress.status(), EgressStatus::EgressStarting);
}

#[tokio::test]
async fn admin_api_rejects_bad_faults_and_lists_and_clears_them() {
    let lk = spawn_emulator().await;
    let url = format!("{}/admin/faults", lk.url());
    let response = lk
        .http
        .post(&url)
        .json(&json!({"fault": "meteor_strike"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let response = lk
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body(vec![b'x'; 128 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    lk.inject(json!({"fault": "stop_error"})).await;
    let listed: serde_json::Value = lk
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([{"fault": "stop_error", "room": null}]));
    let response = lk.http.delete(&url).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let listed: serde_json::Value = lk
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
    let response = lk
        .http
        .delete(format!(
            "{}/admin/rooms/nowhere/participants/ghost",
            lk.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
