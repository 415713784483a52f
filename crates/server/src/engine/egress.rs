//! LiveKit's egresses in the domain's terms: which event an egress webhook or answer
//! stands for, what it tells about the file, and which recording an egress writes. Pure.

use livekit_protocol as proto;
use meet_recorder_domain::{EgressEnd, Event, StopAnswer};
use proto::EgressStatus;
use uuid::Uuid;

use crate::adapters::db::{RecordingPatch, now_ms};

/// `stop_reason` of a recording that its maximum duration ended.
pub const STOP_REASON_LIMIT: &str = "limit";

/// What the egress's answer to StopEgress means for the recording.
pub fn stop_answer(status: EgressStatus) -> StopAnswer {
    match status {
        EgressStatus::EgressEnding
        | EgressStatus::EgressComplete
        | EgressStatus::EgressLimitReached => StopAnswer::Ending,
        EgressStatus::EgressAborted => StopAnswer::Aborted,
        _ => StopAnswer::Failed,
    }
}

pub fn end_of(status: EgressStatus) -> Option<EgressEnd> {
    match status {
        EgressStatus::EgressComplete => Some(EgressEnd::Complete),
        EgressStatus::EgressLimitReached => Some(EgressEnd::LimitReached),
        EgressStatus::EgressFailed => Some(EgressEnd::Failed),
        EgressStatus::EgressAborted => Some(EgressEnd::Aborted),
        _ => None,
    }
}

/// The domain event an egress webhook stands for, with what it tells about the
/// recording; `None` for a status that moves nothing.
pub fn egress_event(name: &str, info: &proto::EgressInfo) -> Option<(Event, RecordingPatch)> {
    let egress_id = Some(info.egress_id.clone()).filter(|id| !id.is_empty());
    let ended = |status| end_of(status).map(|end| (Event::EgressEnded(end), file_patch(info)));
    match (name, info.status()) {
        ("egress_ended", status) => ended(status),
        (_, status @ (EgressStatus::EgressStarting | EgressStatus::EgressActive)) => {
            let event = if status == EgressStatus::EgressActive {
                Event::EgressRecording
            } else {
                Event::EgressStarted
            };
            let patch = RecordingPatch {
                worker_id: egress_id,
                started_at: Some(now_ms()),
                ..Default::default()
            };
            Some((event, patch))
        }
        (_, EgressStatus::EgressEnding) => {
            let patch = RecordingPatch {
                worker_id: egress_id,
                stopped_at: Some(now_ms()),
                ..Default::default()
            };
            Some((Event::EgressEnding, patch))
        }
        (_, status) => ended(status),
    }
}

/// What an ended egress tells about the file.
pub fn file_patch(info: &proto::EgressInfo) -> RecordingPatch {
    let mut patch = RecordingPatch {
        worker_id: Some(info.egress_id.clone()).filter(|id| !id.is_empty()),
        stopped_at: Some(if info.ended_at > 0 {
            info.ended_at / 1_000_000
        } else {
            now_ms()
        }),
        error: Some(info.error.clone()).filter(|e| !e.is_empty()),
        stop_reason: (info.status() == EgressStatus::EgressLimitReached)
            .then(|| STOP_REASON_LIMIT.to_owned()),
        ..Default::default()
    };
    if let Some(file) = info.file_results.first() {
        patch.duration_ms = Some(file.duration / 1_000_000).filter(|d| *d > 0);
        patch.size_bytes = Some(file.size).filter(|s| *s > 0);
        patch.file_location = Some(file.location.clone()).filter(|l| !l.is_empty());
    }
    patch
}

/// Finds our recording id in an egress request's file path or its file results, so an
/// egress can be matched before its start request has returned: `{folder}/{id}.{ext}`, or
/// `{folder}/{id}/part-{n}.{ext}` for a segment recorded after a pause.
pub fn recording_id_in(output_folder: &str, info: &proto::EgressInfo) -> Option<Uuid> {
    let mut paths: Vec<&str> = info
        .file_results
        .iter()
        .map(|f| f.filename.as_str())
        .collect();
    if let Some(proto::egress_info::Request::RoomComposite(request)) = &info.request {
        paths.extend(request.file_outputs.iter().map(|f| f.filepath.as_str()));
    }
    let prefix = format!("{output_folder}/");
    paths.into_iter().find_map(|path| {
        let start = path.rfind(&prefix)? + prefix.len();
        let name = &path[start..];
        let (id, file) = match name.split_once('/') {
            Some((id, part)) => (id, part.strip_prefix("part-")?.split_once('.')),
            None => (name.split('.').next()?, name.split_once('.')),
        };
        let (_, ext) = file?;
        matches!(ext, "mp4" | "ogg").then_some(())?;
        id.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writing(filepath: &str) -> proto::EgressInfo {
        proto::EgressInfo {
            request: Some(proto::egress_info::Request::RoomComposite(
                proto::RoomCompositeEgressRequest {
                    file_outputs: vec![proto::EncodedFileOutput {
                        filepath: filepath.to_owned(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn a_recording_is_found_from_its_file_and_from_its_segments_files() {
        let id = Uuid::new_v4();
        for path in [
            format!("recordings/{id}.mp4"),
            format!("recordings/{id}/part-2.mp4"),
            format!("/out/recordings/{id}/part-13.ogg"),
        ] {
            assert_eq!(
                recording_id_in("recordings", &writing(&path)),
                Some(id),
                "{path}"
            );
        }
        for path in [
            format!("recordings/{id}.mkv"),
            format!("recordings/{id}/other.mp4"),
            format!("elsewhere/{id}.mp4"),
        ] {
            assert_eq!(
                recording_id_in("recordings", &writing(&path)),
                None,
                "{path}"
            );
        }
    }
}
