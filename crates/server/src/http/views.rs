//! The API's response bodies, as types: the one contract between the service and the web
//! app. Handlers build these and nothing else, and the web app's TypeScript declarations
//! (`web/src/generated/`) are derived from them with ts-rs, so a field renamed or added
//! here changes the app's types and fails its type-check until the app follows.
//!
//! Regenerate the declarations with `cargo test -p meet-recorder --lib export_bindings`;
//! CI regenerates them and fails when the checked-in files differ.
//!
//! The enumerations of the domain (statuses, modes, layouts, roles) and the languages
//! have TypeScript unions written from their own lists (`ALL`, `CODES`), so the web app
//! never keeps a copy of them.

use std::{collections::BTreeMap, path::PathBuf};

use meet_recorder_domain::{
    ConsentDecision, Layout, Mode, RecordingAbilities, RecordingConsent, Role, Status,
    TranscriptState,
};
use serde::Serialize;
use serde_json::{Map, Value};
use ts_rs::{Config, TS};
use utoipa::{
    ToSchema,
    openapi::{ObjectBuilder, RefOr, Schema, Type},
};
use uuid::Uuid;

use crate::adapters::mail::Language;

/// A TypeScript union of string literals, written from a list kept elsewhere in Rust.
/// It stands in for the Rust type in `#[ts(as = ...)]`: the orphan rule keeps us from
/// implementing `TS` for the domain's types themselves, and a copy of their variants here
/// would be a second list to keep in step.
macro_rules! ts_union {
    ($(#[$meta:meta])* $marker:ident = $ts_name:literal, $values:expr) => {
        $(#[$meta])*
        pub struct $marker;

        impl TS for $marker {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;
            // Maps keyed by it have optional keys (`{ [key in Mode]?: ... }`), as for a
            // derived enum: not every value need be present.
            const IS_ENUM: bool = true;

            fn name(_: &Config) -> String {
                $ts_name.to_owned()
            }

            fn inline(_: &Config) -> String {
                let values: Vec<String> = $values
                    .into_iter()
                    .map(|value| format!("\"{value}\""))
                    .collect();
                values.join(" | ")
            }

            fn decl(cfg: &Config) -> String {
                format!("type {} = {};", $ts_name, Self::inline(cfg))
            }

            fn decl_concrete(cfg: &Config) -> String {
                Self::decl(cfg)
            }

            fn output_path() -> Option<PathBuf> {
                Some(PathBuf::from(concat!($ts_name, ".ts")))
            }
        }

        // The same union in the OpenAPI document: a string enumeration, named as in
        // TypeScript.
        impl utoipa::PartialSchema for $marker {
            fn schema() -> RefOr<Schema> {
                let values: Vec<String> = $values
                    .into_iter()
                    .map(|value| value.to_string())
                    .collect();
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(values))
                    .into()
            }
        }

        impl ToSchema for $marker {
            fn name() -> std::borrow::Cow<'static, str> {
                $ts_name.into()
            }
        }
    };
}

ts_union!(
    /// [`Status`] in TypeScript.
    StatusTs = "RecordingStatus",
    Status::ALL.iter().map(|status| status.as_str())
);
ts_union!(
    /// [`Mode`] in TypeScript.
    ModeTs = "Mode",
    Mode::ALL.iter().map(|mode| mode.as_str())
);
ts_union!(
    /// [`TranscriptState`] in TypeScript.
    TranscriptStateTs = "TranscriptState",
    TranscriptState::ALL.iter().map(|state| state.as_str())
);
ts_union!(
    /// [`Layout`] in TypeScript.
    LayoutTs = "Layout",
    Layout::ALL.iter().map(|layout| layout.as_str())
);
ts_union!(
    /// [`RecordingConsent`] in TypeScript.
    RecordingConsentTs = "RecordingConsent",
    RecordingConsent::ALL.iter().map(|consent| consent.as_str())
);
ts_union!(
    /// [`ConsentDecision`] in TypeScript.
    ConsentDecisionTs = "ConsentDecision",
    ConsentDecision::ALL.iter().map(|decision| decision.as_str())
);
ts_union!(
    /// [`Role`] in TypeScript.
    RoleTs = "Role",
    Role::ALL.iter().map(|role| role.as_str())
);
ts_union!(
    /// [`Language`] in TypeScript: the languages the web app, the emails and the share
    /// page are written in.
    LanguageTs = "Language",
    Language::CODES
);
ts_union!(
    /// A room's `access_level` in TypeScript.
    AccessLevelTs = "AccessLevel",
    super::rooms::ACCESS_LEVELS.iter().copied()
);

/// `{"count", "next", "previous", "results"}`, as the reference paginates.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "Page")]
pub struct PageView<T> {
    pub count: i64,
    /// The next page's URL; `null` on the last page.
    pub next: Option<String>,
    /// The previous page's URL; `null` on the first page.
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// An error: a human `detail`, a stable kebab-case `code`, and for a few reference
/// endpoints extra keys their clients read (`error`, `reason`, `retry_after`, ...).
#[derive(Debug, Serialize, TS)]
#[ts(rename = "ApiErrorBody")]
pub struct ErrorView {
    pub detail: String,
    #[ts(as = "String")]
    pub code: &'static str,
    /// Not declared: each is particular to one endpoint, and the app reads none of them.
    #[serde(flatten)]
    #[ts(skip)]
    pub extra: Map<String, Value>,
}

/// A user's profile.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "User")]
#[schema(as = User)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    /// Always one of the languages: it is checked when set.
    #[ts(as = "LanguageTs")]
    #[schema(value_type = LanguageTs)]
    pub language: String,
    pub timezone: String,
}

/// An API token as its owner sees it: never the secret.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "ApiToken")]
#[schema(as = ApiToken)]
pub struct ApiTokenView {
    pub id: Uuid,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
}

/// A token just created: the only time its secret is shown.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "NewApiToken")]
#[schema(as = NewApiToken)]
pub struct NewApiTokenView {
    #[serde(flatten)]
    pub info: ApiTokenView,
    pub token: String,
}

/// A room as the requester sees it (`role`: theirs, `null` for guests and non-members).
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "Room")]
#[schema(as = Room)]
pub struct RoomView {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    #[ts(as = "AccessLevelTs")]
    #[schema(value_type = AccessLevelTs)]
    pub access_level: String,
    pub configuration: Value,
    #[ts(as = "Option<RoleTs>")]
    #[schema(value_type = Option<RoleTs>)]
    pub role: Option<Role>,
    pub is_administrable: bool,
}

/// A LiveKit join token for a room.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "RoomToken")]
#[schema(as = RoomToken)]
pub struct RoomTokenView {
    /// Where browsers connect (`LIVEKIT_URL`).
    pub url: String,
    /// The LiveKit room name: the room's id.
    pub room: Uuid,
    pub token: String,
    /// Whether the token lets its holder publish: not until they accept the recording, in
    /// a room that asks for consent while it records.
    pub may_publish: bool,
}

/// An answer taken (`rooms/{id}/recording-consent/`).
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "ConsentAnswer")]
#[schema(as = ConsentAnswer)]
pub struct ConsentAnswerView {
    #[ts(as = "ConsentDecisionTs")]
    #[schema(value_type = ConsentDecisionTs)]
    pub decision: String,
    /// Whether the participant may publish now.
    pub may_publish: bool,
}

/// A participant's answer about a recording (`recordings/{id}/consents/`).
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "Consent")]
#[schema(as = Consent)]
pub struct ConsentView {
    /// The name they went by.
    pub name: String,
    /// A guest of a public room, not a signed-in user.
    pub is_guest: bool,
    /// What the room asked when they answered: `notice` (they acknowledged it) or `ask`.
    #[ts(as = "RecordingConsentTs")]
    #[schema(value_type = RecordingConsentTs)]
    pub consent: String,
    #[ts(as = "ConsentDecisionTs")]
    #[schema(value_type = ConsentDecisionTs)]
    pub decision: String,
    pub decided_at: String,
}

/// Someone's access to a room.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "RoomAccess")]
#[schema(as = RoomAccess)]
pub struct RoomAccessView {
    pub id: Uuid,
    pub user: AccessUserView,
    #[ts(as = "RoleTs")]
    #[schema(value_type = RoleTs)]
    pub role: Role,
}

#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "AccessUser")]
#[schema(as = AccessUser)]
pub struct AccessUserView {
    pub id: Uuid,
    pub email: String,
}

/// A recording, as the REST API returns it (lists, details, start and stop answers).
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "Recording")]
#[schema(as = Recording)]
pub struct RecordingView {
    pub id: Uuid,
    pub room: RecordingRoomView,
    pub created_at: String,
    pub updated_at: String,
    #[ts(as = "StatusTs")]
    #[schema(value_type = StatusTs)]
    pub status: Status,
    #[ts(as = "ModeTs")]
    #[schema(value_type = ModeTs)]
    pub mode: Mode,
    #[ts(as = "Option<LayoutTs>")]
    #[schema(value_type = Option<LayoutTs>)]
    pub layout: Option<Layout>,
    /// The start request's `options`, as given.
    pub options: Value,
    /// The file's object key.
    pub key: String,
    pub is_expired: bool,
    pub expired_at: Option<String>,
    /// `limit` when the maximum duration stopped it.
    pub stop_reason: Option<String>,
    pub duration_ms: Option<i64>,
    pub size_bytes: Option<i64>,
    /// The egress id.
    pub worker_id: Option<String>,
    pub abilities: AbilitiesView,
    /// For a recording to be transcribed by the transcription service: where its
    /// transcript is. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub transcript: Option<TranscriptView>,
}

/// A recording's transcript, as far as the transcription service said.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "Transcript")]
#[schema(as = Transcript)]
pub struct TranscriptView {
    #[ts(as = "TranscriptStateTs")]
    #[schema(value_type = TranscriptStateTs)]
    pub state: TranscriptState,
    /// Where it is, when the service's callback said.
    pub url: Option<String>,
}

/// The room a recording was made in.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "RecordingRoom")]
#[schema(as = RecordingRoom)]
pub struct RecordingRoomView {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    #[ts(as = "AccessLevelTs")]
    #[schema(value_type = AccessLevelTs)]
    pub access_level: String,
}

/// What the requester may do with a recording (the reference's `get_abilities`): the
/// app shows Stop and Delete from `stop` and `destroy`.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "RecordingAbilities")]
#[schema(as = RecordingAbilities)]
pub struct AbilitiesView {
    pub retrieve: bool,
    pub destroy: bool,
    pub share: bool,
    pub stop: bool,
    pub update: bool,
    pub partial_update: bool,
}

impl From<RecordingAbilities> for AbilitiesView {
    fn from(abilities: RecordingAbilities) -> Self {
        let RecordingAbilities {
            retrieve,
            destroy,
            share,
            stop,
            update,
            partial_update,
        } = abilities;
        Self {
            retrieve,
            destroy,
            share,
            stop,
            update,
            partial_update,
        }
    }
}

/// The answer to a start or a stop.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "RecordingMessage")]
#[schema(as = RecordingMessage)]
pub struct RecordingMessageView {
    pub message: String,
    pub recording: RecordingView,
}

/// One `recording-state` event of `rooms/{id}/recording-events/`: the latest recording
/// of each mode.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "RoomRecordingState")]
#[schema(as = RoomRecordingState)]
pub struct RoomStateView {
    pub room: Uuid,
    /// Keyed by mode.
    #[ts(as = "BTreeMap<ModeTs, RecordingStateView>")]
    #[schema(value_type = BTreeMap<String, RecordingStateView>)]
    pub recordings: BTreeMap<&'static str, RecordingStateView>,
    /// Recent requests for a recording (the last minute), for the room's owners and
    /// administrators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub requests: Option<Vec<RecordingRequestView>>,
}

/// A participant asked the hosts for a recording (`rooms/{id}/request-recording/`).
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "RecordingRequest")]
#[schema(as = RecordingRequest)]
pub struct RecordingRequestView {
    pub id: Uuid,
    #[ts(as = "ModeTs")]
    #[schema(value_type = ModeTs)]
    pub mode: Mode,
    /// The name the participant goes by.
    pub name: String,
    pub created_at: String,
}

/// A recording as every page of its room follows it. `id` and `error` are there for the
/// room's owners and administrators only (see `http::room_events`): everyone else tells
/// recordings apart by `ref` and reads `error_code`.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "RecordingState")]
#[schema(as = RecordingState)]
pub struct RecordingStateView {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub id: Option<Uuid>,
    /// An opaque key: the same in every event about one recording, another for the next.
    #[serde(rename = "ref")]
    pub reference: String,
    #[ts(as = "StatusTs")]
    #[schema(value_type = StatusTs)]
    pub status: Status,
    #[ts(as = "Option<LayoutTs>")]
    #[schema(value_type = Option<LayoutTs>)]
    pub layout: Option<Layout>,
    pub started_at: Option<String>,
    /// When the current pause began (status `paused`).
    pub paused_at: Option<String>,
    /// Time spent paused before the current pause: the time recorded is the time since
    /// `started_at` less the pauses.
    pub paused_ms: i64,
    pub is_open: bool,
    /// The badge shows: a failed stop may still be recording.
    pub may_be_recording: bool,
    /// A host may stop it.
    pub stoppable: bool,
    pub stop_reason: Option<String>,
    // Outer `None`: not shown to this reader (the key is left out); inner `None`: no error.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(value_type = Option<String>)]
    pub error: Option<Option<String>>,
    #[ts(as = "Option<String>")]
    #[schema(value_type = Option<String>)]
    pub error_code: Option<&'static str>,
}

/// `GET config/`: what the front end needs to show recording controls.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "Config")]
#[schema(as = Config)]
pub struct ConfigView {
    pub recording: RecordingConfigView,
    pub livekit: LiveKitConfigView,
    pub room_media: RoomMedia,
    pub sign_in: SignInConfigView,
    /// The demo account, in dev mode only.
    pub demo: Option<DemoAccountView>,
}

#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "RecordingConfig")]
#[schema(as = RecordingConfig)]
pub struct RecordingConfigView {
    pub is_enabled: bool,
    #[ts(as = "Vec<ModeTs>")]
    #[schema(value_type = Vec<ModeTs>)]
    pub available_modes: Vec<Mode>,
    pub expiration_days: Option<u32>,
    /// Milliseconds.
    pub max_duration: Option<u64>,
    #[ts(as = "Vec<LayoutTs>")]
    #[schema(value_type = Vec<LayoutTs>)]
    pub layouts: &'static [Layout],
    #[ts(as = "LayoutTs")]
    #[schema(value_type = LayoutTs)]
    pub default_layout: Layout,
    /// Whether a transcription service is configured: without one, the transcript mode
    /// records the audio only.
    pub transcription_service: bool,
    /// Whether recordings can be paused (joining the parts needs ffmpeg on the server).
    pub can_pause: bool,
}

/// How people may sign in.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "SignInConfig")]
#[schema(as = SignInConfig)]
pub struct SignInConfigView {
    /// With an email and a password (`POST auth/login/`).
    pub password: bool,
    /// Through the organisation's identity provider (`GET authenticate/`).
    pub identity_provider: bool,
}

#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "LiveKitConfig")]
#[schema(as = LiveKitConfig)]
pub struct LiveKitConfigView {
    pub url: String,
}

/// How pages show a room's participants: LiveKit's media, or (the emulator has no media)
/// a simulated presence.
#[derive(Debug, Clone, Copy, Serialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoomMedia {
    Livekit,
    Simulated,
}

#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "DemoAccount")]
#[schema(as = DemoAccount)]
pub struct DemoAccountView {
    #[ts(as = "String")]
    #[schema(value_type = String)]
    pub email: &'static str,
    #[ts(as = "String")]
    #[schema(value_type = String)]
    pub password: &'static str,
}

/// A share link as its recording's owners see it: never the token.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "ShareLink")]
#[schema(as = ShareLink)]
pub struct ShareLinkView {
    pub id: Uuid,
    pub recording: Uuid,
    pub created_by: Uuid,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub is_expired: bool,
    pub revoked: bool,
    pub revoked_at: Option<String>,
}

/// A share link just created: the only time its token is shown.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(rename = "NewShareLink")]
#[schema(as = NewShareLink)]
pub struct NewShareLinkView {
    #[serde(flatten)]
    pub link: ShareLinkView,
    pub url: String,
    pub token: String,
}

/// [`ErrorView`]'s OpenAPI schema, written out rather than derived so that the extra keys
/// are declared (all optional) where clients of the API can see them.
impl utoipa::PartialSchema for ErrorView {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Ref};
        let text = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        ObjectBuilder::new()
            .description(Some(
                "An error. `code` is stable (kebab-case) and says what went wrong; `detail` \
                 says it in words and may change. Each response lists the codes it can carry.",
            ))
            .property("detail", text("What went wrong, in words."))
            .required("detail")
            .property(
                "code",
                text("What went wrong, as a stable kebab-case code."),
            )
            .required("code")
            .property(
                "error",
                text("The reference's message (start and stop of a recording, pause and resume)."),
            )
            .property(
                "reason",
                text("Why the request was refused (`invalid-request`, `invalid-storage-event`)."),
            )
            .property(
                "retry_after",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .description(Some("Seconds to wait, as in `Retry-After` (429, 503).")),
            )
            .property(
                "status",
                text("`error`, for the LiveKit webhook (the reference's key)."),
            )
            .property("recording", {
                let mut recording = Ref::from_schema_name("Recording");
                recording.description =
                    "The recording that failed to start (`recording-failed-to-start`).".into();
                recording
            })
            .property(
                "job_id",
                ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some("`job-id-required`: what is wrong with `job_id`.")),
            )
            .into()
    }
}

impl ToSchema for ErrorView {
    fn name() -> std::borrow::Cow<'static, str> {
        "ApiErrorBody".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        use utoipa::PartialSchema;
        schemas.push((
            <RecordingView as ToSchema>::name().into(),
            RecordingView::schema(),
        ));
        <RecordingView as ToSchema>::schemas(schemas);
    }
}

/// Writes every view's TypeScript declaration (and those it refers to) into `dir`,
/// replacing what was there, so that a type removed here disappears there too.
pub fn export_typescript(dir: &std::path::Path) -> Result<(), ts_rs::ExportError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    // i64 and u64 values here (sizes, durations, counts) stay far below 2^53: plain
    // numbers, which is what `JSON.parse` gives, not `bigint`.
    let cfg = Config::new().with_out_dir(dir).with_large_int("number");
    PageView::<RecordingView>::export_all(&cfg)?;
    ErrorView::export_all(&cfg)?;
    UserView::export_all(&cfg)?;
    ApiTokenView::export_all(&cfg)?;
    NewApiTokenView::export_all(&cfg)?;
    RoomView::export_all(&cfg)?;
    RoomTokenView::export_all(&cfg)?;
    ConsentAnswerView::export_all(&cfg)?;
    ConsentView::export_all(&cfg)?;
    RoomAccessView::export_all(&cfg)?;
    RecordingView::export_all(&cfg)?;
    RecordingMessageView::export_all(&cfg)?;
    RoomStateView::export_all(&cfg)?;
    ConfigView::export_all(&cfg)?;
    ShareLinkView::export_all(&cfg)?;
    NewShareLinkView::export_all(&cfg)?;
    StatusTs::export_all(&cfg)?;
    ModeTs::export_all(&cfg)?;
    LayoutTs::export_all(&cfg)?;
    TranscriptStateTs::export_all(&cfg)?;
    RoleTs::export_all(&cfg)?;
    RecordingConsentTs::export_all(&cfg)?;
    ConsentDecisionTs::export_all(&cfg)?;
    LanguageTs::export_all(&cfg)?;
    AccessLevelTs::export_all(&cfg)?;
    write_index(dir)?;
    Ok(())
}

/// `index.ts`: every declaration in `dir` re-exported, so the app imports from one place.
fn write_index(dir: &std::path::Path) -> std::io::Result<()> {
    let mut modules: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".ts").map(str::to_owned)
        })
        .collect();
    // Sorted: the file must not depend on the order the directory lists in.
    modules.sort();
    let mut index = String::from(
        "// Generated by `cargo test -p meet-recorder --lib export_bindings` from\n\
         // crates/server/src/http/views.rs. Do not edit this file manually.\n\n",
    );
    for module in modules {
        index.push_str(&format!("export type * from './{module}';\n"));
    }
    std::fs::write(dir.join("index.ts"), index)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generation command: `cargo test -p meet-recorder --lib export_bindings`
    /// rewrites `web/src/generated/` from the types above.
    #[test]
    fn export_bindings() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/src/generated");
        export_typescript(&dir).unwrap();
        assert!(dir.join("Recording.ts").exists());
    }

    #[test]
    fn unions_follow_the_rust_lists() {
        let cfg = Config::new();
        assert_eq!(
            LanguageTs::decl(&cfg),
            r#"type Language = "en" | "fr" | "de" | "nl";"#
        );
        assert_eq!(
            ModeTs::decl(&cfg),
            r#"type Mode = "screen_recording" | "transcript";"#
        );
        // The serialised names are the ones the unions list.
        for status in Status::ALL {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                Value::String(status.as_str().to_owned())
            );
        }
    }

    #[test]
    fn a_recording_state_hides_id_and_error_from_whom_it_should() {
        let view = |privileged: bool| RecordingStateView {
            id: privileged.then(Uuid::nil),
            reference: "r".into(),
            status: Status::Failed,
            layout: None,
            started_at: None,
            paused_at: None,
            paused_ms: 0,
            is_open: false,
            may_be_recording: false,
            stoppable: false,
            stop_reason: None,
            error: privileged.then_some(None),
            error_code: Some("recording-failed"),
        };
        let full = serde_json::to_value(view(true)).unwrap();
        assert_eq!(full["id"], Value::String(Uuid::nil().to_string()));
        assert!(full.as_object().unwrap().contains_key("error"));
        assert_eq!(full["error"], Value::Null);
        let guest = serde_json::to_value(view(false)).unwrap();
        let guest = guest.as_object().unwrap();
        assert!(!guest.contains_key("id") && !guest.contains_key("error"));
        assert_eq!(guest["ref"], "r");
        assert_eq!(guest["error_code"], "recording-failed");
    }
}
