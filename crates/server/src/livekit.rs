//! LiveKit, through the official `livekit-api` crate: egress start/stop/list, room
//! metadata and data messages, join tokens, and webhook verification.

use std::time::Duration;

use livekit_api::{
    access_token::{AccessToken, TokenVerifier, VideoGrants},
    services::{
        ServiceError,
        egress::{
            EgressClient, EgressListFilter, EgressListOptions, EgressOutput, RoomCompositeOptions,
            encoding,
        },
        room::{RoomClient, SendDataOptions},
    },
    webhooks::WebhookReceiver,
};
use livekit_protocol as proto;
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

use crate::config::{Config, LiveKitSettings, WorkerKind};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Starting an egress waits for LiveKit's own answer: with no egress worker free, the
/// server retries for about 23 s (psrpc's three attempts at 3, 6 and 12 s) before it
/// answers `unavailable`. Giving up earlier would leave a start we know nothing of.
const EGRESS_START_TIMEOUT: Duration = Duration::from_secs(40);
const JOIN_TOKEN_TTL: Duration = Duration::from_secs(6 * 3600);
/// What a participant may publish: LiveKit's names for the sources a meeting uses.
const PUBLISHABLE_SOURCES: [&str; 4] =
    ["camera", "microphone", "screen_share", "screen_share_audio"];

/// A LiveKit call that failed: unreachable, or a Twirp error with its code.
#[derive(Debug, thiserror::Error)]
#[error("LiveKit: {message}")]
pub struct LiveKitError {
    /// The Twirp code (`not_found`, `failed_precondition`, …), when LiveKit answered one.
    pub code: Option<String>,
    pub message: String,
}

impl From<ServiceError> for LiveKitError {
    fn from(error: ServiceError) -> Self {
        let code = match &error {
            ServiceError::Twirp(livekit_api::services::ServerError::Twirp(twirp)) => {
                Some(twirp.code.clone())
            }
            _ => None,
        };
        Self {
            code,
            message: error.to_string(),
        }
    }
}

impl LiveKitError {
    /// Nobody answered: the server found no worker for the request (`unavailable`) or
    /// waited for one in vain (`deadline_exceeded`).
    pub fn is_unanswered(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("deadline_exceeded" | "unavailable")
        )
    }
}

/// What to record and where.
pub struct EgressRequest<'a> {
    pub room_name: &'a str,
    pub worker: WorkerKind,
    pub layout: &'a str,
    pub filepath: String,
}

pub struct LiveKit {
    egress: EgressClient,
    egress_start: EgressClient,
    rooms: RoomClient,
    settings: LiveKitSettings,
    s3: Option<proto::S3Upload>,
    encoding: Option<encoding::EncodingOptions>,
}

impl LiveKit {
    pub fn new(config: &Config) -> Self {
        let settings = config.livekit.clone();
        let secret = settings.api_secret.expose_secret();
        let egress = EgressClient::with_api_key(&settings.api_url, &settings.api_key, secret)
            .with_request_timeout(REQUEST_TIMEOUT);
        let egress_start = EgressClient::with_api_key(&settings.api_url, &settings.api_key, secret)
            .with_request_timeout(EGRESS_START_TIMEOUT);
        let rooms = RoomClient::with_api_key(&settings.api_url, &settings.api_key, secret)
            .with_request_timeout(REQUEST_TIMEOUT);
        let s3 = config.s3.as_ref().map(|s3| proto::S3Upload {
            access_key: s3.access_key_id.clone(),
            secret: s3.secret_access_key.expose_secret().to_owned(),
            region: s3.region.clone(),
            endpoint: s3.endpoint.clone(),
            bucket: s3.bucket.clone(),
            force_path_style: true,
            ..Default::default()
        });
        let encoding = config
            .recording
            .encoding
            .as_ref()
            .map(|e| encoding::EncodingOptions {
                width: e.width,
                height: e.height,
                framerate: e.framerate,
                video_bitrate: e.video_bitrate_kbps,
                audio_bitrate: e.audio_bitrate_kbps,
                keyframe_interval: e.key_frame_interval_s,
                video_codec: proto::VideoCodec::H264Main,
                audio_codec: proto::AudioCodec::Aac,
                audio_frequency: 48000,
                ..Default::default()
            });
        Self {
            egress,
            egress_start,
            rooms,
            settings,
            s3,
            encoding,
        }
    }

    /// Starts a room composite egress writing one file.
    pub async fn start_egress(
        &self,
        request: EgressRequest<'_>,
    ) -> Result<proto::EgressInfo, LiveKitError> {
        let audio_only = request.worker == WorkerKind::AudioComposite;
        let output = proto::EncodedFileOutput {
            file_type: if audio_only {
                proto::EncodedFileType::Ogg
            } else {
                proto::EncodedFileType::Mp4
            } as i32,
            filepath: request.filepath,
            output: self.s3.clone().map(proto::encoded_file_output::Output::S3),
            ..Default::default()
        };
        // The crate always sends explicit encoding options; without our own, send the
        // server's default preset (720p30) rather than the crate's 1080p default.
        let encoding = match (&self.encoding, audio_only) {
            (Some(encoding), false) => encoding.clone(),
            _ => encoding::H264_720P_30,
        };
        let options = RoomCompositeOptions {
            layout: if audio_only {
                String::new()
            } else {
                request.layout.to_owned()
            },
            audio_only,
            encoding,
            ..Default::default()
        };
        let info = self
            .egress_start
            .start_room_composite_egress(
                request.room_name,
                vec![EgressOutput::File(output)],
                options,
            )
            .await?;
        if info.egress_id.is_empty() {
            return Err(LiveKitError {
                code: None,
                message: "egress started without an egress id".into(),
            });
        }
        Ok(info)
    }

    pub async fn stop_egress(&self, egress_id: &str) -> Result<proto::EgressInfo, LiveKitError> {
        Ok(self.egress.stop_egress(egress_id).await?)
    }

    /// One egress by id, if LiveKit still knows it (it forgets ended ones after 24 h).
    /// LiveKit answers `not_found` for an egress it does not know.
    pub async fn egress_info(
        &self,
        egress_id: &str,
    ) -> Result<Option<proto::EgressInfo>, LiveKitError> {
        let answer = self
            .egress
            .list_egress(EgressListOptions {
                filter: EgressListFilter::Egress(egress_id.to_owned()),
                ..Default::default()
            })
            .await
            .map_err(LiveKitError::from);
        match answer {
            Ok(items) => Ok(items.into_iter().find(|info| info.egress_id == egress_id)),
            Err(error) if error.code.as_deref() == Some("not_found") => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Every egress LiveKit has for a room, running or ended.
    pub async fn room_egresses(&self, room: &str) -> Result<Vec<proto::EgressInfo>, LiveKitError> {
        Ok(self
            .egress
            .list_egress(EgressListOptions {
                filter: EgressListFilter::Room(room.to_owned()),
                ..Default::default()
            })
            .await?)
    }

    /// Egresses LiveKit reports as running (not yet ended).
    pub async fn active_egresses(&self) -> Result<Vec<proto::EgressInfo>, LiveKitError> {
        Ok(self
            .egress
            .list_egress(EgressListOptions {
                active: true,
                ..Default::default()
            })
            .await?)
    }

    /// Reads the room's metadata as JSON, lets `change` edit it, and writes it back.
    /// A room LiveKit does not have is left alone.
    pub async fn update_room_metadata(
        &self,
        room: &str,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<(), LiveKitError> {
        let rooms = self.rooms.list_rooms(vec![room.to_owned()]).await?;
        let Some(current) = rooms.into_iter().find(|r| r.name == room) else {
            return Ok(());
        };
        let mut metadata = match serde_json::from_str::<Value>(&current.metadata) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        change(&mut metadata);
        self.rooms
            .update_room_metadata(room, &Value::Object(metadata).to_string())
            .await?;
        Ok(())
    }

    /// Sends a reliable data message to everyone in the room, if the room exists.
    pub async fn send_data(&self, room: &str, message: &Value) -> Result<(), LiveKitError> {
        let rooms = self.rooms.list_rooms(vec![room.to_owned()]).await?;
        if !rooms.iter().any(|r| r.name == room) {
            return Ok(());
        }
        self.rooms
            .send_data(
                room,
                message.to_string().into_bytes(),
                SendDataOptions {
                    kind: proto::data_packet::Kind::Reliable,
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }

    /// A token that lets `identity` join `room` (the room id): subscribe, send data, and
    /// publish a camera, a microphone and a screen share, nothing else. It grants no
    /// admin, recorder or hidden rights, and no changing one's own name or metadata (the
    /// name shown is the one the service issued).
    pub fn join_token(&self, room: &str, identity: &str, name: &str) -> String {
        AccessToken::with_api_key(
            &self.settings.api_key,
            self.settings.api_secret.expose_secret(),
        )
        .with_identity(identity)
        .with_name(name)
        .with_ttl(JOIN_TOKEN_TTL)
        .with_grants(VideoGrants {
            room_join: true,
            room: room.to_owned(),
            can_publish: Some(true),
            can_subscribe: Some(true),
            can_publish_data: Some(true),
            can_publish_sources: PUBLISHABLE_SOURCES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            can_update_own_metadata: Some(false),
            ..Default::default()
        })
        .to_jwt()
        .expect("a token with identity and room always signs")
    }

    pub fn public_url(&self) -> &str {
        &self.settings.public_url
    }

    /// Verifies a webhook: the JWT in `Authorization`, then the body's SHA-256 against
    /// its `sha256` claim, before anything is parsed.
    pub fn verify_webhook(
        &self,
        body: &str,
        authorization: &str,
    ) -> Result<proto::WebhookEvent, livekit_api::webhooks::WebhookError> {
        let receiver = WebhookReceiver::new(TokenVerifier::with_api_key(
            &self.settings.api_key,
            self.settings.api_secret.expose_secret(),
        ));
        receiver.receive(body, authorization)
    }

    /// Whether events about this room are ours to handle.
    pub fn handles_room(&self, room_name: &str) -> bool {
        if !self.settings.connection_test_room_prefix.is_empty()
            && room_name.starts_with(&self.settings.connection_test_room_prefix)
        {
            return false;
        }
        self.settings
            .webhook_events_filter
            .as_ref()
            .is_none_or(|filter| filter.is_match(room_name))
    }
}
