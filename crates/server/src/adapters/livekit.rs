//! LiveKit: egress start/stop/list, room metadata and data messages over its Twirp API,
//! with the official `livekit-api` crate's types, tokens and webhook verification.
//!
//! The Twirp calls go through our own HTTP client rather than the crate's service
//! clients: those build their HTTP client inside and cannot be told to accept a
//! self-signed certificate, which `LIVEKIT_VERIFY_SSL=false` asks for.

use std::time::Duration;

use livekit_api::{
    access_token::{AccessToken, TokenVerifier, VideoGrants},
    services::egress::encoding,
    webhooks::WebhookReceiver,
};
use livekit_protocol as proto;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::config::{Config, LiveKitSettings, WorkerKind};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Starting an egress waits for LiveKit's own answer: with no egress worker free, the
/// server retries for about 23 s (psrpc's three attempts at 3, 6 and 12 s) before it
/// answers `unavailable`. Giving up earlier would leave a start we know nothing of.
const EGRESS_START_TIMEOUT: Duration = Duration::from_secs(40);
const JOIN_TOKEN_TTL: Duration = Duration::from_secs(6 * 3600);
/// What a participant may publish: the sources a meeting uses.
const PUBLISHABLE_SOURCES: [proto::TrackSource; 4] = [
    proto::TrackSource::Camera,
    proto::TrackSource::Microphone,
    proto::TrackSource::ScreenShare,
    proto::TrackSource::ScreenShareAudio,
];

/// A LiveKit call that failed: unreachable, or a Twirp error with its code.
#[derive(Debug, thiserror::Error)]
#[error("LiveKit: {message}")]
pub struct LiveKitError {
    /// The Twirp code (`not_found`, `failed_precondition`, …), when LiveKit answered one.
    pub code: Option<String>,
    pub message: String,
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
    twirp: Twirp,
    settings: LiveKitSettings,
    s3: Option<proto::S3Upload>,
    encoding: Option<encoding::EncodingOptions>,
}

impl LiveKit {
    pub fn new(config: &Config) -> Self {
        let settings = config.livekit.clone();
        if !settings.verify_tls {
            tracing::warn!(
                url = %settings.api_url,
                "LIVEKIT_VERIFY_SSL is off: the LiveKit API's TLS certificate is not verified, \
                 so anyone on the path can read the API secret's tokens and answer in its name"
            );
        }
        let twirp = Twirp {
            http: http_client(settings.verify_tls),
            url: settings.api_url.clone(),
            api_key: settings.api_key.clone(),
            api_secret: settings.api_secret.clone(),
        };
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
            twirp,
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
        let start = proto::RoomCompositeEgressRequest {
            room_name: request.room_name.to_owned(),
            layout: if audio_only {
                String::new()
            } else {
                request.layout.to_owned()
            },
            audio_only,
            options: Some(proto::room_composite_egress_request::Options::Advanced(
                encoding.into(),
            )),
            file_outputs: vec![output],
            ..Default::default()
        };
        let info: proto::EgressInfo = self
            .twirp
            .call(
                "Egress",
                "StartRoomCompositeEgress",
                start,
                record_grant(),
                EGRESS_START_TIMEOUT,
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
        let stop = proto::StopEgressRequest {
            egress_id: egress_id.to_owned(),
        };
        self.twirp
            .call(
                "Egress",
                "StopEgress",
                stop,
                record_grant(),
                REQUEST_TIMEOUT,
            )
            .await
    }

    /// One egress by id, if LiveKit still knows it (it forgets ended ones after 24 h).
    /// LiveKit answers `not_found` for an egress it does not know.
    pub async fn egress_info(
        &self,
        egress_id: &str,
    ) -> Result<Option<proto::EgressInfo>, LiveKitError> {
        let answer = self
            .list_egress(proto::ListEgressRequest {
                egress_id: egress_id.to_owned(),
                ..Default::default()
            })
            .await;
        match answer {
            Ok(items) => Ok(items.into_iter().find(|info| info.egress_id == egress_id)),
            Err(error) if error.code.as_deref() == Some("not_found") => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Every egress LiveKit has for a room, running or ended.
    pub async fn room_egresses(&self, room: &str) -> Result<Vec<proto::EgressInfo>, LiveKitError> {
        self.list_egress(proto::ListEgressRequest {
            room_name: room.to_owned(),
            ..Default::default()
        })
        .await
    }

    /// Egresses LiveKit reports as running (not yet ended).
    pub async fn active_egresses(&self) -> Result<Vec<proto::EgressInfo>, LiveKitError> {
        self.list_egress(proto::ListEgressRequest {
            active: true,
            ..Default::default()
        })
        .await
    }

    async fn list_egress(
        &self,
        request: proto::ListEgressRequest,
    ) -> Result<Vec<proto::EgressInfo>, LiveKitError> {
        let answer: proto::ListEgressResponse = self
            .twirp
            .call(
                "Egress",
                "ListEgress",
                request,
                record_grant(),
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(answer.items)
    }

    /// The rooms LiveKit has with this name (none or one).
    async fn rooms_named(&self, room: &str) -> Result<Vec<proto::Room>, LiveKitError> {
        let list = proto::ListRoomsRequest {
            names: vec![room.to_owned()],
        };
        let grant = VideoGrants {
            room_list: true,
            ..Default::default()
        };
        let answer: proto::ListRoomsResponse = self
            .twirp
            .call("RoomService", "ListRooms", list, grant, REQUEST_TIMEOUT)
            .await?;
        Ok(answer.rooms)
    }

    /// Reads the room's metadata as JSON, lets `change` edit it, and writes it back.
    /// A room LiveKit does not have is left alone.
    pub async fn update_room_metadata(
        &self,
        room: &str,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<(), LiveKitError> {
        let rooms = self.rooms_named(room).await?;
        let Some(current) = rooms.into_iter().find(|r| r.name == room) else {
            return Ok(());
        };
        let mut metadata = match serde_json::from_str::<Value>(&current.metadata) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        change(&mut metadata);
        let update = proto::UpdateRoomMetadataRequest {
            room: room.to_owned(),
            metadata: Value::Object(metadata).to_string(),
        };
        let _: proto::Room = self
            .twirp
            .call(
                "RoomService",
                "UpdateRoomMetadata",
                update,
                admin_grant(room),
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(())
    }

    /// Sends a reliable data message to everyone in the room, if the room exists.
    pub async fn send_data(&self, room: &str, message: &Value) -> Result<(), LiveKitError> {
        self.send_data_to(room, message, &[]).await
    }

    /// Sends a reliable data message to the participants with these identities (everyone
    /// when there are none), if the room exists.
    pub async fn send_data_to(
        &self,
        room: &str,
        message: &Value,
        identities: &[String],
    ) -> Result<(), LiveKitError> {
        let rooms = self.rooms_named(room).await?;
        if !rooms.iter().any(|r| r.name == room) {
            return Ok(());
        }
        // A fresh nonce per message, as LiveKit's SDKs send, so the server can tell
        // a retry from a new message.
        let nonce: Vec<u8> = {
            let mut rng = rand::rng();
            (0..16).map(|_| rng.random::<u8>()).collect()
        };
        let send = proto::SendDataRequest {
            room: room.to_owned(),
            data: message.to_string().into_bytes(),
            kind: proto::data_packet::Kind::Reliable as i32,
            destination_identities: identities.to_vec(),
            nonce,
            ..Default::default()
        };
        let _: proto::SendDataResponse = self
            .twirp
            .call(
                "RoomService",
                "SendData",
                send,
                admin_grant(room),
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(())
    }

    /// A token that lets `identity` join `room` (the room id): subscribe, send data, and
    /// publish a camera, a microphone and a screen share (when `may_publish`; a room that
    /// asks for consent withholds it until the participant accepts), nothing else. It
    /// grants no admin, recorder or hidden rights, and no changing one's own name or
    /// metadata (the name shown is the one the service issued).
    pub fn join_token(&self, room: &str, identity: &str, name: &str, may_publish: bool) -> String {
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
            can_publish: Some(may_publish),
            can_subscribe: Some(true),
            can_publish_data: Some(true),
            // A token names them as LiveKit's protocol does, in lower case.
            can_publish_sources: PUBLISHABLE_SOURCES
                .iter()
                .map(|source| source.as_str_name().to_ascii_lowercase())
                .collect(),
            can_update_own_metadata: Some(false),
            ..Default::default()
        })
        .to_jwt()
        .expect("a token with identity and room always signs")
    }

    /// Who a join token this service issued was for: `(identity, name)`, when the token is
    /// ours (our key and secret), unexpired, and for joining `room`.
    pub fn join_token_holder(&self, token: &str, room: &str) -> Option<(String, String)> {
        let claims = TokenVerifier::with_api_key(
            &self.settings.api_key,
            self.settings.api_secret.expose_secret(),
        )
        .verify(token)
        .ok()?;
        (claims.video.room_join && claims.video.room == room && !claims.sub.is_empty())
            .then_some((claims.sub, claims.name))
    }

    /// The room's participants (none when the room does not exist).
    pub async fn participants(
        &self,
        room: &str,
    ) -> Result<Vec<proto::ParticipantInfo>, LiveKitError> {
        let request = proto::ListParticipantsRequest {
            room: room.to_owned(),
        };
        let response: proto::ListParticipantsResponse = self
            .twirp
            .call(
                "RoomService",
                "ListParticipants",
                request,
                admin_grant(room),
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(response.participants)
    }

    /// Grants or withdraws a participant's right to publish, keeping the rest of what a
    /// join token gives. Withdrawing unpublishes what they publish.
    pub async fn set_may_publish(
        &self,
        room: &str,
        identity: &str,
        may_publish: bool,
    ) -> Result<(), LiveKitError> {
        let request = proto::UpdateParticipantRequest {
            room: room.to_owned(),
            identity: identity.to_owned(),
            permission: Some(proto::ParticipantPermission {
                can_subscribe: true,
                can_publish: may_publish,
                can_publish_data: true,
                can_publish_sources: PUBLISHABLE_SOURCES
                    .iter()
                    .map(|source| *source as i32)
                    .collect(),
                can_update_metadata: false,
                ..Default::default()
            }),
            ..Default::default()
        };
        let _: proto::ParticipantInfo = self
            .twirp
            .call(
                "RoomService",
                "UpdateParticipant",
                request,
                admin_grant(room),
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(())
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

/// What egress calls need.
fn record_grant() -> VideoGrants {
    VideoGrants {
        room_record: true,
        ..Default::default()
    }
}

/// What changing one room needs.
fn admin_grant(room: &str) -> VideoGrants {
    VideoGrants {
        room_admin: true,
        room: room.to_owned(),
        ..Default::default()
    }
}

/// The HTTP client for LiveKit's API. Verifying, it trusts the same roots (Mozilla's, built
/// in) with the same TLS stack (rustls on ring) as `livekit-api`'s own client, so turning
/// to our client changed nothing for operators; `LIVEKIT_VERIFY_SSL=false` accepts any
/// certificate, for servers with self-signed or privately issued ones.
fn http_client(verify_tls: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder();
    let builder = if verify_tls {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        builder.tls_backend_preconfigured(tls)
    } else {
        builder.tls_danger_accept_invalid_certs(true)
    };
    builder.build().expect("the LiveKit HTTP client builds")
}

/// LiveKit's Twirp API: protobuf requests signed with a short-lived token per call.
struct Twirp {
    http: reqwest::Client,
    /// The API's URL (`LIVEKIT_API_URL`); its path is replaced by the call's, as
    /// LiveKit's SDKs do.
    url: String,
    api_key: String,
    api_secret: SecretString,
}

impl Twirp {
    async fn call<Request: prost::Message, Response: prost::Message + Default>(
        &self,
        service: &str,
        method: &str,
        request: Request,
        grants: VideoGrants,
        timeout: Duration,
    ) -> Result<Response, LiveKitError> {
        let token = AccessToken::with_api_key(&self.api_key, self.api_secret.expose_secret())
            .with_grants(grants)
            .to_jwt()
            .map_err(|e| LiveKitError {
                code: None,
                message: format!("cannot sign the API token: {e}"),
            })?;
        let mut url = url::Url::parse(&self.url).map_err(|e| LiveKitError {
            code: None,
            message: format!("LIVEKIT_API_URL {:?}: {e}", self.url),
        })?;
        url.set_path(&format!("/twirp/livekit.{service}/{method}"));
        let unreachable = |e: reqwest::Error| LiveKitError {
            code: None,
            message: format!("{service}.{method}: {e}"),
        };
        let response = self
            .http
            .post(url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/protobuf")
            .body(request.encode_to_vec())
            .timeout(timeout)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            return Response::decode(body).map_err(|e| LiveKitError {
                code: None,
                message: format!("{service}.{method}: undecodable answer: {e}"),
            });
        }
        // Twirp errors are JSON `{"code", "msg"}`; anything else (the server's plain-text
        // 401, a proxy's page) has no code.
        #[derive(serde::Deserialize)]
        struct TwirpError {
            code: String,
            #[serde(default)]
            msg: String,
        }
        Err(match serde_json::from_slice::<TwirpError>(&body) {
            Ok(error) => LiveKitError {
                message: format!("{service}.{method}: {}: {}", error.code, error.msg),
                code: Some(error.code),
            },
            Err(_) => LiveKitError {
                code: None,
                message: format!(
                    "{service}.{method}: HTTP {status}: {}",
                    String::from_utf8_lossy(&body).trim()
                ),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_the_publishable_sources_as_livekit_does() {
        let names: Vec<String> = PUBLISHABLE_SOURCES
            .iter()
            .map(|source| source.as_str_name().to_ascii_lowercase())
            .collect();
        assert_eq!(
            names,
            ["camera", "microphone", "screen_share", "screen_share_audio"]
        );
    }

    #[test]
    fn the_http_client_builds_with_and_without_verification() {
        http_client(true);
        http_client(false);
    }
}
