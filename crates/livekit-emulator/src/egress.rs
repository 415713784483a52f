//! The egress service: room composite egress from start to its end.
//!
//! Start returns STARTING and sends `egress_started`; after the start delay the egress is
//! ACTIVE (`egress_updated`) and its recorder joins the room. It ends on StopEgress
//! (ENDING, then COMPLETE), on the session limit (LIMIT_REACHED, 413, file still uploaded),
//! when the last participant leaves or the room is deleted (COMPLETE, "Source closed"), or
//! by an injected fault (FAILED, ABORTED). The file is rendered when recording stops, as
//! long as the egress was active, then uploaded, then the manifest, then `egress_ended`.

// The deprecated `output` and `result` oneofs are still read and filled by the real
// server, so the emulator handles them too.
#![allow(deprecated)]

use std::{sync::Arc, time::Duration};

use axum::response::Response;
use livekit_protocol as proto;
use proto::{EgressStatus, egress_info, encoded_file_output, room_composite_egress_request};
use tokio::sync::mpsc;

use crate::{
    auth::Grant,
    faults::{EgressPlan, StartErrorCode},
    media::MediaKind,
    state::{EgressState, Shared, new_id, now_nanos},
    storage::{S3Target, UploadTarget},
    twirp::{Call, TwirpError, egress_not_found, room_not_found},
    webhooks::WebhookTarget,
};

/// Why a running egress should end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndSignal {
    Stop,
    SourceClosed,
}

/// How a recording ended, once it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    Stopped,
    SourceClosed,
    LimitReached,
    Failed,
}

/// Where and how the file is written, resolved when the egress starts.
struct FileSpec {
    key: String,
    kind: MediaKind,
    target: UploadTarget,
    disable_manifest: bool,
}

impl Shared {
    pub async fn start_room_composite(
        self: &Arc<Self>,
        call: &Call,
    ) -> Result<Response, TwirpError> {
        call.require(Grant::Record)?;
        let request: proto::RoomCompositeEgressRequest = call.decode()?;
        let file = validate_room_composite(&request)?;
        let (info, plan) = {
            let mut inner = self.inner.lock().unwrap();
            let room = inner
                .rooms
                .get(&request.room_name)
                .ok_or_else(room_not_found)?;
            let room_id = room.info.sid.clone();
            match inner.faults.take_start_error(&request.room_name) {
                Some(StartErrorCode::Unavailable) => {
                    return Err(TwirpError::no_response());
                }
                Some(StartErrorCode::Internal) => {
                    return Err(TwirpError::internal(
                        "egress failed to start (injected fault)",
                    ));
                }
                None => {}
            }
            let plan = inner.faults.plan_egress(&request.room_name);
            let egress_id = new_id("EG_");
            let spec = resolve_file(&request, file, &room_id, &self.config.storage_dir)?;
            let source_type = if request.audio_only
                && request.layout.is_empty()
                && request.custom_base_url.is_empty()
            {
                proto::EgressSourceType::Sdk
            } else {
                proto::EgressSourceType::Web
            };
            let info = proto::EgressInfo {
                egress_id: egress_id.clone(),
                room_id,
                room_name: request.room_name.clone(),
                source_type: source_type as i32,
                status: EgressStatus::EgressStarting as i32,
                updated_at: now_nanos(),
                request: Some(egress_info::Request::RoomComposite(redacted(&request))),
                ..Default::default()
            };
            let extra_webhooks = request
                .webhooks
                .iter()
                .filter_map(|hook| self.webhook_target(hook))
                .collect::<Vec<_>>();
            let (control, signals) = mpsc::unbounded_channel();
            inner.egresses.insert(
                egress_id.clone(),
                EgressState {
                    info: info.clone(),
                    control: Some(control),
                    extra_webhooks: extra_webhooks.clone(),
                },
            );
            self.egress_webhook("egress_started", &info, &extra_webhooks);
            tokio::spawn(self.clone().run(egress_id, spec, plan.clone(), signals));
            (info, plan)
        };
        if let Some(delay) = plan.slow_response {
            tokio::time::sleep(delay).await;
        }
        Ok(call.respond(&info, "livekit.EgressInfo"))
    }

    pub fn stop_egress(&self, call: &Call) -> Result<Response, TwirpError> {
        call.require(Grant::Record)?;
        let request: proto::StopEgressRequest = call.decode()?;
        let mut inner = self.inner.lock().unwrap();
        let room_name = inner
            .egresses
            .get(&request.egress_id)
            .map(|egress| egress.info.room_name.clone())
            .ok_or_else(egress_not_found)?;
        if inner.faults.take_stop_error(&room_name) {
            return Err(TwirpError::internal(
                "egress did not respond (injected fault)",
            ));
        }
        let egress = inner
            .egresses
            .get_mut(&request.egress_id)
            .expect("looked up above");
        match egress.info.status() {
            EgressStatus::EgressStarting => {
                // The pipeline never started: the egress ends ABORTED at once.
                let now = now_nanos();
                let info = &mut egress.info;
                info.status = EgressStatus::EgressAborted as i32;
                info.error = "Stop called before pipeline could start".into();
                info.error_code = 412;
                info.details = "End reason: StopEgress API".into();
                info.ended_at = now;
                info.updated_at = now;
                egress.control = None;
                let info = egress.info.clone();
                self.egress_webhook("egress_ended", &info, &egress.extra_webhooks);
                Ok(call.respond(&info, "livekit.EgressInfo"))
            }
            EgressStatus::EgressActive => {
                egress.info.status = EgressStatus::EgressEnding as i32;
                egress.info.updated_at = now_nanos();
                if let Some(control) = &egress.control {
                    let _ = control.send(EndSignal::Stop);
                }
                let info = egress.info.clone();
                self.egress_webhook("egress_updated", &info, &egress.extra_webhooks);
                Ok(call.respond(&info, "livekit.EgressInfo"))
            }
            status => Err(TwirpError::failed_precondition(format!(
                "egress with status {} cannot be stopped",
                status.as_str_name()
            ))),
        }
    }

    pub fn list_egress(&self, call: &Call) -> Result<Response, TwirpError> {
        call.require(Grant::Record)?;
        let request: proto::ListEgressRequest = call.decode()?;
        let inner = self.inner.lock().unwrap();
        // The server loads an egress asked for by id, and one it does not have is an error.
        if !request.egress_id.is_empty() && !inner.egresses.contains_key(&request.egress_id) {
            return Err(egress_not_found());
        }
        let mut items: Vec<proto::EgressInfo> = inner
            .egresses
            .values()
            .map(|egress| egress.info.clone())
            .filter(|info| {
                if !request.egress_id.is_empty() {
                    info.egress_id == request.egress_id
                } else {
                    request.room_name.is_empty() || info.room_name == request.room_name
                }
            })
            .filter(|info| !request.active || info.status < EgressStatus::EgressComplete as i32)
            .collect();
        items.sort_by_key(|info| (info.started_at, info.updated_at));
        let response = proto::ListEgressResponse {
            items,
            next_page_token: None,
        };
        Ok(call.respond(&response, "livekit.ListEgressResponse"))
    }

    pub fn update_layout(&self, call: &Call) -> Result<Response, TwirpError> {
        call.require(Grant::Record)?;
        let request: proto::UpdateLayoutRequest = call.decode()?;
        let mut inner = self.inner.lock().unwrap();
        let egress = inner
            .egresses
            .get_mut(&request.egress_id)
            .ok_or_else(egress_not_found)?;
        if egress.info.status() != EgressStatus::EgressActive {
            return Err(TwirpError::failed_precondition("egress is not active"));
        }
        if let Some(egress_info::Request::RoomComposite(composite)) = &mut egress.info.request {
            composite.layout = request.layout.clone();
        }
        egress.info.updated_at = now_nanos();
        let info = egress.info.clone();
        self.egress_webhook("egress_updated", &info, &egress.extra_webhooks);
        let room_name = info.room_name.clone();
        if let Some(room) = inner.rooms.get_mut(&room_name)
            && let Some(recorder) = room
                .participants
                .iter_mut()
                .find(|p| p.identity == request.egress_id)
        {
            recorder.metadata = serde_json::json!({ "layout": request.layout }).to_string();
        }
        Ok(call.respond(&info, "livekit.EgressInfo"))
    }

    fn webhook_target(&self, hook: &proto::WebhookConfig) -> Option<WebhookTarget> {
        let keys = &self.config.keys;
        let (api_key, api_secret) = if hook.signing_key.is_empty() {
            keys.iter().next()?
        } else {
            keys.get_key_value(&hook.signing_key)?
        };
        Some(WebhookTarget {
            url: hook.url.clone(),
            api_key: api_key.clone(),
            api_secret: api_secret.clone(),
        })
    }

    /// Changes an egress's info and returns the new info with its extra webhook targets.
    fn update_egress(
        &self,
        egress_id: &str,
        change: impl FnOnce(&mut proto::EgressInfo),
    ) -> Option<(proto::EgressInfo, Vec<WebhookTarget>)> {
        let mut inner = self.inner.lock().unwrap();
        let egress = inner.egresses.get_mut(egress_id)?;
        change(&mut egress.info);
        egress.info.updated_at = now_nanos();
        Some((egress.info.clone(), egress.extra_webhooks.clone()))
    }

    /// Records the final state, releases the egress and sends `egress_ended`.
    fn finish(&self, egress_id: &str, change: impl FnOnce(&mut proto::EgressInfo)) {
        let now = now_nanos();
        let ended = {
            let mut inner = self.inner.lock().unwrap();
            let Some(egress) = inner.egresses.get_mut(egress_id) else {
                return;
            };
            change(&mut egress.info);
            egress.info.ended_at = now;
            egress.info.updated_at = now;
            egress.control = None;
            let info = egress.info.clone();
            self.egress_webhook("egress_ended", &info, &egress.extra_webhooks);
            info
        };
        self.set_recorder_present(&ended.room_name, egress_id, false);
    }

    async fn run(
        self: Arc<Self>,
        egress_id: String,
        spec: FileSpec,
        plan: EgressPlan,
        mut signals: mpsc::UnboundedReceiver<EndSignal>,
    ) {
        // STARTING: a stop now aborts the egress (done by StopEgress, which drops `control`).
        tokio::select! {
            _ = tokio::time::sleep(self.config.start_delay) => {}
            signal = signals.recv() => {
                if signal.is_none() {
                    return;
                }
            }
        }
        if plan.abort {
            self.finish(&egress_id, |info| {
                info.status = EgressStatus::EgressAborted as i32;
                info.error = "Start signal not received".into();
                info.error_code = 412;
                info.details = "End reason: Start signal not received".into();
            });
            return;
        }
        let started_at = now_nanos();
        let Some((info, extra)) = self.update_egress(&egress_id, |info| {
            info.status = EgressStatus::EgressActive as i32;
            info.started_at = started_at;
        }) else {
            return;
        };
        self.set_recorder_present(&info.room_name, &egress_id, true);
        self.egress_webhook("egress_updated", &info, &extra);
        let active_since = tokio::time::Instant::now();

        let limit = self.config.max_duration;
        let ending = tokio::select! {
            signal = signals.recv() => match signal {
                Some(EndSignal::SourceClosed) => Ending::SourceClosed,
                Some(EndSignal::Stop) | None => Ending::Stopped,
            },
            _ = sleep_or_never(limit) => Ending::LimitReached,
            _ = sleep_or_never(plan.fail_after) => Ending::Failed,
        };
        let recorded = active_since.elapsed();
        let ended_at = now_nanos();

        if ending == Ending::Failed {
            self.finish(&egress_id, |info| {
                info.status = EgressStatus::EgressFailed as i32;
                info.error = "pipeline failure (injected fault)".into();
                info.error_code = 500;
                info.details = "End reason: Failure".into();
            });
            return;
        }
        if ending != Ending::Stopped
            && let Some((info, extra)) = self.update_egress(&egress_id, |info| {
                info.status = EgressStatus::EgressEnding as i32;
            })
        {
            self.egress_webhook("egress_updated", &info, &extra);
        }

        let result = self
            .write_file(
                &egress_id, &info, &spec, &plan, recorded, started_at, ended_at,
            )
            .await;
        self.finish(&egress_id, |info| match result {
            Ok((file, manifest_location)) => {
                info.file_results = vec![file.clone()];
                info.result = Some(egress_info::Result::File(file));
                info.manifest_location = manifest_location.unwrap_or_default();
                match ending {
                    Ending::LimitReached => {
                        info.status = EgressStatus::EgressLimitReached as i32;
                        info.error = "Session limit reached".into();
                        info.error_code = 413;
                        info.details = "End reason: Session limit reached".into();
                    }
                    Ending::SourceClosed => {
                        info.status = EgressStatus::EgressComplete as i32;
                        info.details = "End reason: Source closed".into();
                    }
                    _ => {
                        info.status = EgressStatus::EgressComplete as i32;
                        info.details = "End reason: StopEgress API".into();
                    }
                }
            }
            Err(error) => {
                info.status = EgressStatus::EgressFailed as i32;
                info.error = format!("upload failed: {error:#}");
                info.error_code = 400;
                info.details = "End reason: Failure".into();
            }
        });
    }

    /// Renders the recording and uploads it, then the manifest.
    #[allow(clippy::too_many_arguments)]
    async fn write_file(
        &self,
        egress_id: &str,
        info: &proto::EgressInfo,
        spec: &FileSpec,
        plan: &EgressPlan,
        recorded: Duration,
        started_at: i64,
        ended_at: i64,
    ) -> anyhow::Result<(proto::FileInfo, Option<String>)> {
        let media =
            crate::media::render(&self.config.ffmpeg, spec.kind, recorded, &info.room_name).await?;
        let size = tokio::fs::metadata(&media).await?.len();
        anyhow::ensure!(!plan.upload_fails, "injected upload fault");
        let location = spec
            .target
            .upload_file(&spec.key, &media, spec.kind.content_type())
            .await?;
        let file = proto::FileInfo {
            filename: spec.key.clone(),
            started_at,
            ended_at,
            duration: ended_at - started_at,
            size: size as i64,
            location,
        };
        let manifest_location = if spec.disable_manifest {
            None
        } else {
            let key = manifest_key(&spec.key, egress_id);
            let manifest = serde_json::json!({
                "egress_id": egress_id,
                "room_id": info.room_id,
                "room_name": info.room_name,
                "started_at": started_at,
                "ended_at": ended_at,
                "files": [{
                    "filename": file.filename,
                    "location": file.location,
                    "started_at": started_at,
                    "ended_at": ended_at,
                    "duration": file.duration,
                    "size": file.size,
                }],
            });
            let body = serde_json::to_vec_pretty(&manifest)?;
            Some(
                spec.target
                    .upload_bytes(&key, body, "application/json")
                    .await?,
            )
        };
        Ok((file, manifest_location))
    }
}

async fn sleep_or_never(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}

/// Checks what the real server checks and returns the one file output.
fn validate_room_composite(
    request: &proto::RoomCompositeEgressRequest,
) -> Result<proto::EncodedFileOutput, TwirpError> {
    if request.room_name.is_empty() {
        return Err(TwirpError::invalid_argument("room name is required"));
    }
    if request.audio_only && request.video_only {
        return Err(TwirpError::invalid_argument(
            "audio_only and video_only cannot both be true",
        ));
    }
    let url = &request.custom_base_url;
    if !url.is_empty() && !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(TwirpError::invalid_argument("invalid custom_base_url"));
    }
    let mut files: Vec<proto::EncodedFileOutput> = request.file_outputs.clone();
    if let Some(room_composite_egress_request::Output::File(file)) = &request.output {
        files.push(file.clone());
    }
    if files.len() > 1 {
        return Err(TwirpError::invalid_argument("multiple file outputs"));
    }
    let has_other_outputs = !request.stream_outputs.is_empty()
        || !request.segment_outputs.is_empty()
        || !request.image_outputs.is_empty()
        || matches!(
            request.output,
            Some(room_composite_egress_request::Output::Stream(_))
                | Some(room_composite_egress_request::Output::Segments(_))
        );
    if has_other_outputs {
        return Err(TwirpError::invalid_argument(
            "the emulator records file outputs only",
        ));
    }
    files
        .pop()
        .ok_or_else(|| TwirpError::invalid_argument("no outputs"))
}

fn resolve_file(
    request: &proto::RoomCompositeEgressRequest,
    file: proto::EncodedFileOutput,
    room_id: &str,
    storage_dir: &std::path::Path,
) -> Result<FileSpec, TwirpError> {
    let kind = match file.file_type() {
        proto::EncodedFileType::DefaultFiletype if request.audio_only => MediaKind::Ogg,
        proto::EncodedFileType::DefaultFiletype | proto::EncodedFileType::Mp4 => MediaKind::Mp4,
        proto::EncodedFileType::Ogg => MediaKind::Ogg,
        proto::EncodedFileType::Mp3 => MediaKind::Mp3,
    };
    if request.video_only && kind != MediaKind::Mp4 {
        return Err(TwirpError::invalid_argument("video_only requires MP4"));
    }
    let target = match file.output {
        None => UploadTarget::Directory(storage_dir.to_path_buf()),
        Some(encoded_file_output::Output::S3(s3)) => UploadTarget::S3(S3Target::from_proto(&s3)),
        Some(_) => {
            return Err(TwirpError::invalid_argument(
                "the emulator uploads to S3 or to its storage directory only",
            ));
        }
    };
    Ok(FileSpec {
        key: expand_filepath(
            &file.filepath,
            &request.room_name,
            room_id,
            kind,
            chrono::Utc::now(),
        ),
        kind,
        target,
        disable_manifest: file.disable_manifest,
    })
}

/// Applies Egress's filepath rules: `{room_name}`, `{room_id}`, `{time}`, `{utc}`; an empty
/// path or a directory becomes `<room_name>-<time><ext>`; the extension is made right.
fn expand_filepath(
    template: &str,
    room_name: &str,
    room_id: &str,
    kind: MediaKind,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let time = now
        .with_timezone(&chrono::Local)
        .format("%Y-%m-%dT%H%M%S")
        .to_string();
    let utc = format!(
        "{}{:03}",
        now.format("%Y%m%d%H%M%S"),
        now.timestamp_subsec_millis()
    );
    let mut path = template
        .replace("{room_name}", room_name)
        .replace("{room_id}", room_id)
        .replace("{time}", &time)
        .replace("{utc}", &utc);
    if path.is_empty() || path.ends_with('/') {
        path.push_str(&format!("{room_name}-{time}"));
    }
    let ext = kind.extension();
    let file_name_start = path.rfind('/').map_or(0, |i| i + 1);
    if let Some(dot) = path[file_name_start..].rfind('.') {
        let current = &path[file_name_start + dot..];
        if current == ext {
            return path;
        }
        if [".mp4", ".ogg", ".mp3", ".m4a", ".webm"].contains(&current) {
            path.truncate(file_name_start + dot);
        }
    }
    path.push_str(ext);
    path
}

/// The manifest is `<dir-of-filepath>/<egress_id>.json`.
fn manifest_key(key: &str, egress_id: &str) -> String {
    match key.rfind('/') {
        Some(slash) => format!("{}/{egress_id}.json", &key[..slash]),
        None => format!("{egress_id}.json"),
    }
}

/// The request as `EgressInfo` shows it: credentials replaced by placeholders.
fn redacted(request: &proto::RoomCompositeEgressRequest) -> proto::RoomCompositeEgressRequest {
    let mut request = request.clone();
    let redact = |file: &mut proto::EncodedFileOutput| {
        if let Some(encoded_file_output::Output::S3(s3)) = &mut file.output {
            s3.access_key = "{access_key}".into();
            s3.secret = "{secret}".into();
            if !s3.session_token.is_empty() {
                s3.session_token = "{session_token}".into();
            }
        }
    };
    request.file_outputs.iter_mut().for_each(redact);
    if let Some(room_composite_egress_request::Output::File(file)) = &mut request.output {
        redact(file);
    }
    for hook in &mut request.webhooks {
        hook.signing_key = String::new();
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc.with_ymd_and_hms(2026, 11, 23, 9, 8, 7).unwrap()
    }

    #[test]
    fn filepath_templates_expand() {
        let key = expand_filepath(
            "rec/{room_name}-{utc}.mp4",
            "r1",
            "RM_1",
            MediaKind::Mp4,
            at(),
        );
        assert_eq!(key, "rec/r1-20261123090807000.mp4");
        let key = expand_filepath("{room_id}/x", "r1", "RM_1", MediaKind::Ogg, at());
        assert_eq!(key, "RM_1/x.ogg");
    }

    #[test]
    fn wrong_or_missing_extension_is_fixed_and_directories_get_a_name() {
        assert_eq!(
            expand_filepath("a/b.mp4", "r", "RM", MediaKind::Ogg, at()),
            "a/b.ogg"
        );
        assert_eq!(
            expand_filepath("a.v1/b", "r", "RM", MediaKind::Mp4, at()),
            "a.v1/b.mp4"
        );
        let key = expand_filepath("out/", "r", "RM", MediaKind::Mp4, at());
        assert!(
            key.starts_with("out/r-2026-11-23T") && key.ends_with(".mp4"),
            "{key}"
        );
        assert!(expand_filepath("", "r", "RM", MediaKind::Ogg, at()).ends_with(".ogg"));
    }

    #[test]
    fn manifest_sits_beside_the_file() {
        assert_eq!(
            manifest_key("recordings/x.mp4", "EG_1"),
            "recordings/EG_1.json"
        );
        assert_eq!(manifest_key("x.mp4", "EG_1"), "EG_1.json");
    }

    #[test]
    fn credentials_are_redacted() {
        let request = proto::RoomCompositeEgressRequest {
            file_outputs: vec![proto::EncodedFileOutput {
                output: Some(encoded_file_output::Output::S3(proto::S3Upload {
                    access_key: "AK".into(),
                    secret: "SK".into(),
                    ..Default::default()
                })),
                ..Default::default()
            }],
            ..Default::default()
        };
        let Some(encoded_file_output::Output::S3(s3)) = &redacted(&request).file_outputs[0].output
        else {
            panic!("s3 output kept");
        };
        assert_eq!(
            (s3.access_key.as_str(), s3.secret.as_str()),
            ("{access_key}", "{secret}")
        );
    }
}
