//! The emulator against the `livekit-api` crate, the client our service uses: Twirp calls,
//! webhook signatures and encoding, and the real server's answers to bad requests.

use std::time::Duration;

use livekit_api::{
    access_token::VideoGrants,
    services::{
        ServiceError,
        egress::{EgressListFilter, EgressListOptions, EgressOutput, RoomCompositeOptions},
        room::{CreateRoomOptions, SendDataOptions},
    },
};
use livekit_protocol as proto;
use prost::Message;
use proto::EgressStatus;
use serde_json::Value;

use crate::helpers::*;

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn twirp_code(error: ServiceError) -> String {
    match error {
        ServiceError::Twirp(livekit_api::services::ServerError::Twirp(code)) => code.code,
        other => panic!("expected a Twirp error, got {other:?}"),
    }
}

/// Every key of a JSON document, recursively.
fn all_keys(value: &Value, keys: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                keys.push(key.clone());
                all_keys(value, keys);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| all_keys(v, keys)),
        _ => {}
    }
}

#[tokio::test]
async fn rust_sdk_records_a_room_and_every_webhook_verifies() {
    let lk = spawn_emulator().await;
    let room = unique("sdk");
    let created = lk
        .rooms()
        .create_room(&room, CreateRoomOptions::default())
        .await
        .unwrap();
    assert!(created.sid.starts_with("RM_"));
    lk.join(&room, "alice").await;

    let key = format!("recordings/{room}.mp4");
    let started = lk
        .egress()
        .start_room_composite_egress(
            &room,
            vec![EgressOutput::File(local_file(
                &key,
                proto::EncodedFileType::Mp4,
            ))],
            RoomCompositeOptions {
                layout: "speaker-light".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(started.egress_id.starts_with("EG_"));
    assert_eq!(started.status(), EgressStatus::EgressStarting);
    assert_eq!(started.room_id, created.sid);

    let active = lk.wait_active(&started.egress_id).await;
    assert!(
        active.started_at > 1_000_000_000_000_000_000,
        "started_at is in ns"
    );
    let participants = lk.rooms().list_participants(&room).await.unwrap();
    assert!(
        participants.iter().any(|p| p.identity == started.egress_id
            && p.kind() == proto::participant_info::Kind::Egress),
        "the recorder joins the room while active"
    );

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopping = lk.egress().stop_egress(&started.egress_id).await.unwrap();
    assert_eq!(stopping.status(), EgressStatus::EgressEnding);

    let ended = lk.sink.egress_ended(&started.egress_id).await;
    assert_eq!(ended.status(), EgressStatus::EgressComplete);
    assert_eq!(ended.details, "End reason: StopEgress API");
    let file = &ended.file_results[0];
    assert_eq!(file.filename, key);
    assert!(file.size > 0 && file.duration > 0);
    let on_disk = lk.storage_path(&key);
    assert_eq!(std::fs::metadata(&on_disk).unwrap().len() as i64, file.size);
    let probed = ffprobe_duration(&on_disk);
    let active_secs = file.duration as f64 / 1e9;
    assert!(
        (probed - active_secs).abs() < 1.0,
        "media {probed}s vs active {active_secs}s"
    );
    let manifest = lk.storage_path(&format!("recordings/{}.json", started.egress_id));
    assert!(manifest.exists(), "manifest written beside the file");

    let listed = lk
        .egress()
        .list_egress(EgressListOptions {
            filter: EgressListFilter::Room(room.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status(), EgressStatus::EgressComplete);
    let active_only = lk
        .egress()
        .list_egress(EgressListOptions {
            filter: EgressListFilter::Room(room.clone()),
            active: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(active_only.is_empty());

    // Webhooks: in order, verified by the SDK's receiver, encoded as the server encodes.
    let statuses: Vec<(String, EgressStatus)> = lk
        .sink
        .egress_events(&started.egress_id)
        .iter()
        .map(|e| (e.event.clone(), e.egress_info.as_ref().unwrap().status()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("egress_started".into(), EgressStatus::EgressStarting),
            ("egress_updated".into(), EgressStatus::EgressActive),
            ("egress_updated".into(), EgressStatus::EgressEnding),
            ("egress_ended".into(), EgressStatus::EgressComplete),
        ]
    );
    for webhook in lk.sink.received() {
        webhook.verify();
        let auth = webhook.authorization.as_deref().unwrap();
        assert!(!auth.starts_with("Bearer"), "raw JWT, no Bearer prefix");
        assert_eq!(
            webhook.content_type.as_deref(),
            Some("application/webhook+json")
        );
        assert_eq!(webhook.user_agent.as_deref(), Some("Go-http-client/1.1"));
        let json = webhook.json();
        assert!(json["id"].as_str().unwrap().starts_with("EV_"));
        assert!(json["createdAt"].as_str().unwrap().parse::<i64>().is_ok());
        let mut keys = Vec::new();
        all_keys(&json, &mut keys);
        assert!(
            keys.iter().all(|k| !k.contains('_')),
            "camelCase keys only: {keys:?}"
        );
    }
    let bodies: Vec<Value> = lk
        .sink
        .received()
        .iter()
        .map(|w| w.json())
        .filter(|j| j["egressInfo"]["egressId"] == started.egress_id.as_str())
        .collect();
    assert!(
        bodies[0]["egressInfo"].get("status").is_none(),
        "STARTING is the zero value, so it is omitted: {}",
        bodies[0]
    );
    let ended_json = &bodies[3]["egressInfo"];
    assert_eq!(ended_json["status"], "EGRESS_COMPLETE");
    assert!(
        ended_json["fileResults"][0]["size"].is_string(),
        "int64 as string"
    );
    assert!(
        ended_json.get("errorCode").is_none(),
        "zero error code omitted"
    );

    // A tampered body no longer verifies.
    let mut tampered = lk.sink.received()[0].clone();
    tampered.body = tampered.body.replacen('{', "{ ", 1);
    let receiver = livekit_api::webhooks::WebhookReceiver::new(
        livekit_api::access_token::TokenVerifier::with_api_key(API_KEY, API_SECRET),
    );
    assert!(
        receiver
            .receive(&tampered.body, tampered.authorization.as_deref().unwrap())
            .is_err()
    );
}

#[tokio::test]
async fn room_service_metadata_and_data_reach_the_room() {
    let lk = spawn_emulator().await;
    let room = unique("meta");
    lk.join(&room, "bob").await;
    let rooms = lk.rooms();
    let metadata = r#"{"recording_status":"starting","recording_mode":"screen_recording"}"#;
    let updated = rooms.update_room_metadata(&room, metadata).await.unwrap();
    assert_eq!(updated.metadata, metadata);
    rooms
        .send_data(
            &room,
            br#"{"type":"screenRecordingLimitReached"}"#.to_vec(),
            SendDataOptions::default(),
        )
        .await
        .unwrap();
    let listed = rooms.list_rooms(vec![room.clone()]).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].num_participants, 1);

    let view = lk.room_view(&room).await;
    assert_eq!(view["metadata"], metadata);
    assert_eq!(view["metadata_updates"][0], metadata);
    assert_eq!(
        view["data_messages"][0]["text"],
        r#"{"type":"screenRecordingLimitReached"}"#
    );
    assert_eq!(view["data_messages"][0]["kind"], "RELIABLE");

    let missing = rooms
        .update_room_metadata("no-such-room", "{}")
        .await
        .unwrap_err();
    // The room admin token names the missing room, so the grant passes and the
    // lookup fails.
    assert_eq!(twirp_code(missing), "not_found");

    rooms.delete_room(&room).await.unwrap();
    assert!(
        rooms
            .list_rooms(vec![room.clone()])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn twirp_json_answers_in_snake_case_with_every_field() {
    let lk = spawn_emulator().await;
    let room = unique("json");
    lk.join(&room, "carol").await;
    let body = serde_json::json!({
        "roomName": room,
        "audio_only": true,
        "fileOutputs": [{"filepath": "recordings/a.ogg", "fileType": "OGG"}],
    });
    let (status, content_type, text) = lk
        .twirp(
            "livekit.Egress/StartRoomCompositeEgress",
            "application/json",
            Some(bearer(record_grant())),
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let info: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        info["status"], "EGRESS_STARTING",
        "enums by name, zero values present"
    );
    assert_eq!(info["started_at"], "0", "int64 as a string");
    assert_eq!(info["error_code"], 0);
    assert_eq!(info["source_type"], "EGRESS_SOURCE_TYPE_SDK");
    assert!(info.get("egressId").is_none());
    assert_eq!(info["file_results"], serde_json::json!([]));

    let (status, _, text) = lk
        .twirp(
            "livekit.Egress/ListEgress",
            "application/json; charset=utf-8",
            Some(bearer(record_grant())),
            serde_json::to_vec(&serde_json::json!({"egressId": info["egress_id"]})).unwrap(),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let listed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(listed["items"][0]["egress_id"], info["egress_id"]);
    assert!(listed.get("next_page_token").is_some());
    let id = info["egress_id"].as_str().unwrap().to_owned();
    lk.wait_active(&id).await;
    lk.egress().stop_egress(&id).await.unwrap();
    let ended = lk.sink.egress_ended(&id).await;
    assert_eq!(ended.file_results[0].filename, "recordings/a.ogg");
}

#[tokio::test]
async fn bad_requests_get_the_real_servers_errors_and_change_nothing() {
    let lk = spawn_emulator().await;
    let room = unique("bad");
    lk.join(&room, "dave").await;
    let record = || Some(bearer(record_grant()));

    // Garbage protobuf.
    let (status, _, text) = lk
        .twirp(
            "livekit.Egress/StartRoomCompositeEgress",
            "application/protobuf",
            record(),
            vec![0xff, 0xff, 0xff, 0x0f, 0x01],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["code"],
        "malformed"
    );

    // Garbage JSON.
    let (status, _, text) = lk
        .twirp(
            "livekit.Egress/ListEgress",
            "application/json",
            record(),
            b"{nope".to_vec(),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["code"],
        "malformed"
    );

    // Unknown method of a real service: Twirp `bad_route`. A service the server does not
    // have never reaches Twirp: Go's plain-text 404.
    let (status, _, text) = lk
        .twirp(
            "livekit.Egress/StartTeleport",
            "application/protobuf",
            record(),
            Vec::new(),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["code"],
        "bad_route"
    );
    let (status, content_type, text) = lk
        .twirp(
            "livekit.Nope/ListRooms",
            "application/protobuf",
            record(),
            Vec::new(),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(text, "404 page not found\n");
    assert!(
        content_type
            .as_deref()
            .unwrap_or_default()
            .starts_with("text/plain"),
        "{content_type:?}"
    );

    // Unsupported content type.
    let (status, _, text) = lk
        .twirp(
            "livekit.Egress/ListEgress",
            "text/plain",
            record(),
            Vec::new(),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["code"],
        "bad_route"
    );

    // Wrong grant: a room admin token cannot record; a token for another room cannot
    // administer this one; no token at all has no grant.
    let admin_other_room = VideoGrants {
        room_admin: true,
        room: "other".into(),
        ..Default::default()
    };
    let list = proto::ListEgressRequest::default().encode_to_vec();
    let (status, _, text) = lk
        .twirp(
            "livekit.Egress/ListEgress",
            "application/protobuf",
            Some(bearer(admin_other_room.clone())),
            list.clone(),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        serde_json::json!({"code": "unauthenticated", "msg": "permissions denied"})
    );
    let metadata = proto::UpdateRoomMetadataRequest {
        room: room.clone(),
        metadata: "{}".into(),
    }
    .encode_to_vec();
    let (status, _, _) = lk
        .twirp(
            "livekit.RoomService/UpdateRoomMetadata",
            "application/protobuf",
            Some(bearer(admin_other_room)),
            metadata.clone(),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _, _) = lk
        .twirp(
            "livekit.Egress/ListEgress",
            "application/protobuf",
            None,
            list.clone(),
        )
        .await;
    assert_eq!(status, 401);

    // Expired token, wrong secret, unknown key, malformed header: plain-text 401.
    // Expired beyond the server's 60 s leeway; and one with no `exp` at all.
    let now = chrono_now();
    let expired = hand_signed_bearer(
        serde_json::json!({"iss": API_KEY, "nbf": now - 600, "exp": now - 120, "video": {"roomRecord": true}}),
        API_SECRET,
    );
    let no_expiry = hand_signed_bearer(
        serde_json::json!({"iss": API_KEY, "nbf": now - 10, "video": {"roomRecord": true}}),
        API_SECRET,
    );
    let wrong_secret = bearer_with(
        API_KEY,
        "not-the-secret",
        record_grant(),
        Duration::from_secs(600),
    );
    let unknown_key = bearer_with(
        "nobody",
        API_SECRET,
        record_grant(),
        Duration::from_secs(600),
    );
    for authorization in [
        expired,
        no_expiry,
        wrong_secret,
        unknown_key,
        "Basic abc".into(),
        "Bearer x.y.z".into(),
    ] {
        let (status, content_type, text) = lk
            .twirp(
                "livekit.Egress/ListEgress",
                "application/protobuf",
                Some(authorization.clone()),
                list.clone(),
            )
            .await;
        assert_eq!(status, 401, "{authorization}");
        assert!(
            content_type.unwrap().starts_with("text/plain"),
            "{authorization}"
        );
        assert!(
            serde_json::from_str::<Value>(&text).is_err(),
            "plain text: {text}"
        );
    }

    // Oversized body.
    let (status, _, text) = lk
        .twirp(
            "livekit.RoomService/UpdateRoomMetadata",
            "application/json",
            Some(bearer(VideoGrants {
                room_admin: true,
                room: room.clone(),
                ..Default::default()
            })),
            vec![b' '; 2 * 1024 * 1024],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["code"],
        "malformed"
    );

    // A missing room, and an egress that does not exist.
    let error = lk
        .egress()
        .start_room_composite_egress(
            "no-such-room",
            vec![EgressOutput::File(local_file(
                "x.mp4",
                proto::EncodedFileType::Mp4,
            ))],
            RoomCompositeOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(twirp_code(error), "not_found");
    let error = lk.egress().stop_egress("EG_missing").await.unwrap_err();
    assert_eq!(twirp_code(error), "not_found");

    // Two file outputs, and none at all.
    let two = vec![
        EgressOutput::File(local_file("a.mp4", proto::EncodedFileType::Mp4)),
        EgressOutput::File(local_file("b.mp4", proto::EncodedFileType::Mp4)),
    ];
    let error = lk
        .egress()
        .start_room_composite_egress(&room, two, RoomCompositeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(twirp_code(error), "invalid_argument");

    // Nothing was created, and the server still answers.
    let all = lk
        .egress()
        .list_egress(EgressListOptions::default())
        .await
        .unwrap();
    assert!(all.is_empty(), "no egress was created by a bad request");
    let ok = lk.http.get(lk.url()).send().await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "OK");
}

#[tokio::test]
async fn webhooks_are_retried_on_5xx_and_not_on_4xx() {
    let lk = spawn_emulator().await;
    let room = unique("retry");
    lk.sink.answer_next(&[503, 500]);
    lk.join(&room, "erin").await;
    // room_started is retried twice and then delivered.
    let delivered = eventually(
        "room_started delivered",
        Duration::from_secs(10),
        || async {
            lk.sink
                .received()
                .iter()
                .map(|w| w.verify())
                .find(|e| e.event == "room_started")
        },
    )
    .await;
    assert_eq!(delivered.room.unwrap().name, room);
    assert!(lk.emulator.settle(Duration::from_secs(10)).await);

    let before = lk.sink.attempts();
    lk.sink.answer_next(&[400]);
    lk.leave(&room, "erin").await;
    assert!(lk.emulator.settle(Duration::from_secs(10)).await);
    assert_eq!(lk.sink.attempts(), before + 1, "a 4xx is not retried");
    assert!(
        !lk.sink
            .received()
            .iter()
            .any(|w| w.verify().event == "participant_left")
    );
}

#[tokio::test]
async fn per_request_webhooks_are_sent_too() {
    let lk = spawn_emulator().await;
    let extra = WebhookSink::start().await;
    let room = unique("hooks");
    lk.join(&room, "frank").await;
    let request = proto::RoomCompositeEgressRequest {
        room_name: room.clone(),
        audio_only: true,
        file_outputs: vec![local_file("r/x.ogg", proto::EncodedFileType::Ogg)],
        webhooks: vec![proto::WebhookConfig {
            url: extra.url.clone(),
            signing_key: API_KEY.into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let (status, _, text) = lk
        .twirp(
            "livekit.Egress/StartRoomCompositeEgress",
            "application/protobuf",
            Some(bearer(record_grant())),
            request.encode_to_vec(),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let started = eventually(
        "egress_started at the extra URL",
        Duration::from_secs(10),
        || async {
            extra
                .received()
                .first()
                .map(|w| w.verify().egress_info.unwrap())
        },
    )
    .await;
    lk.wait_active(&started.egress_id).await;
    lk.egress().stop_egress(&started.egress_id).await.unwrap();
    extra.egress_ended(&started.egress_id).await;
    lk.sink.egress_ended(&started.egress_id).await;
}
