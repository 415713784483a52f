//! Real media, uploaded the way Egress uploads it: to a real S3 server (Garage) and to the
//! emulator's storage directory.

use std::{collections::HashMap, time::Duration};

use livekit_api::services::egress::{EgressOutput, RoomCompositeOptions};
use livekit_emulator::storage::{S3Target, UploadTarget};
use livekit_protocol as proto;
use object_store::{ObjectStoreExt, path::Path as ObjectPath};
use proto::{EgressStatus, encoded_file_output};

use crate::helpers::*;

#[tokio::test]
async fn video_recording_lands_in_s3_under_its_key_with_its_content_type() {
    let s3 = S3Env::from_env();
    let lk = spawn_emulator().await;
    let room = unique("s3");
    lk.join(&room, "alice").await;
    let key = format!("recordings/{room}.mp4");
    let mut upload = s3.upload();
    upload.metadata = HashMap::from([("recording-id".to_owned(), room.clone())]);
    let output = proto::EncodedFileOutput {
        file_type: proto::EncodedFileType::Mp4 as i32,
        filepath: key.clone(),
        output: Some(encoded_file_output::Output::S3(upload)),
        ..Default::default()
    };
    let egress = lk
        .egress()
        .start_room_composite_egress(
            &room,
            vec![EgressOutput::File(output)],
            RoomCompositeOptions {
                layout: "grid".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    lk.wait_active(&egress.egress_id).await;
    let wall_clock = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    lk.egress().stop_egress(&egress.egress_id).await.unwrap();
    let observed = wall_clock.elapsed().as_secs_f64();
    let ended = lk.sink.egress_ended(&egress.egress_id).await;
    assert_eq!(
        ended.status(),
        EgressStatus::EgressComplete,
        "{}",
        ended.error
    );
    let file = &ended.file_results[0];
    assert_eq!(file.filename, key);
    assert_eq!(
        file.location,
        format!("{}/{}/{key}", s3.endpoint, s3.bucket),
        "path-style location"
    );

    let store = s3.store();
    let object = store.get(&ObjectPath::from(key.as_str())).await.unwrap();
    let attributes = object.attributes.clone();
    assert_eq!(
        attributes
            .get(&object_store::Attribute::ContentType)
            .map(|v| v.as_ref()),
        Some("video/mp4")
    );
    assert_eq!(
        attributes
            .get(&object_store::Attribute::Metadata("recording-id".into()))
            .map(|v| v.as_ref()),
        Some(room.as_str()),
        "S3Upload.metadata becomes user metadata"
    );
    let bytes = object.bytes().await.unwrap();
    assert_eq!(bytes.len() as i64, file.size);
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), &bytes).unwrap();
    let probed = ffprobe_duration(local.path());
    let active = file.duration as f64 / 1e9;
    assert!(
        (probed - active).abs() < 1.0,
        "media {probed}s, active {active}s"
    );
    assert!(
        (probed - observed).abs() < 1.0,
        "media {probed}s, observed {observed}s"
    );
    assert_eq!(ffprobe_streams(local.path()), vec!["h264", "aac"]);

    let manifest_key = format!("recordings/{}.json", egress.egress_id);
    let manifest = store
        .get(&ObjectPath::from(manifest_key.as_str()))
        .await
        .unwrap();
    assert_eq!(
        manifest
            .attributes
            .get(&object_store::Attribute::ContentType)
            .map(|v| v.as_ref()),
        Some("application/json")
    );
    assert_eq!(
        ended.manifest_location,
        format!("{}/{}/{manifest_key}", s3.endpoint, s3.bucket)
    );

    // The request shown in EgressInfo does not leak the credentials.
    let Some(proto::egress_info::Request::RoomComposite(request)) = &ended.request else {
        panic!("room composite request kept");
    };
    let Some(encoded_file_output::Output::S3(shown)) = &request.file_outputs[0].output else {
        panic!("s3 output kept");
    };
    assert_eq!(shown.secret, "{secret}");
}

#[tokio::test]
async fn large_files_are_uploaded_in_parts() {
    let s3 = S3Env::from_env();
    let target = UploadTarget::S3(S3Target::from_proto(&s3.upload()));
    let file = tempfile::NamedTempFile::new().unwrap();
    let size = livekit_emulator::storage::MULTIPART_THRESHOLD + 1024 * 1024 + 7;
    std::fs::write(file.path(), vec![7u8; size]).unwrap();
    let key = format!("multipart/{}.mp4", unique("big"));
    target
        .upload_file(&key, file.path(), "video/mp4")
        .await
        .unwrap();
    let meta = s3
        .store()
        .head(&ObjectPath::from(key.as_str()))
        .await
        .unwrap();
    assert_eq!(meta.size as usize, size);
    let e_tag = meta.e_tag.unwrap();
    assert!(
        e_tag.trim_matches('"').ends_with("-2"),
        "multipart ETag: {e_tag}"
    );
}

#[tokio::test]
async fn without_upload_config_files_go_to_the_storage_dir() {
    let lk = spawn_emulator().await;
    let room = unique("dir");
    lk.join(&room, "alice").await;
    let egress = lk
        .egress()
        .start_room_composite_egress(
            &room,
            vec![EgressOutput::File(local_file(
                "{room_name}/{utc}",
                proto::EncodedFileType::DefaultFiletype,
            ))],
            RoomCompositeOptions::default(),
        )
        .await
        .unwrap();
    lk.wait_active(&egress.egress_id).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    lk.egress().stop_egress(&egress.egress_id).await.unwrap();
    let ended = lk.sink.egress_ended(&egress.egress_id).await;
    let file = &ended.file_results[0];
    assert!(
        file.filename.starts_with(&format!("{room}/")),
        "{}",
        file.filename
    );
    assert!(file.filename.ends_with(".mp4"), "video defaults to MP4");
    let path = lk.storage_path(&file.filename);
    assert_eq!(file.location, path.display().to_string());
    let probed = ffprobe_duration(&path);
    let active = file.duration as f64 / 1e9;
    assert!(
        (probed - active).abs() < 1.0,
        "media {probed}s, active {active}s"
    );
    assert_eq!(ffprobe_streams(&path), vec!["h264", "aac"]);
}
