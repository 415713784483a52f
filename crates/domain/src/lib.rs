//! The recording domain, with no I/O: what a recording is (mode, layout, options), the
//! statuses it moves through and the one function that moves it, and who may do what.
//!
//! # Layout
//! - [`Status`], [`Mode`], [`Layout`]: the vocabulary, with the reference system's names.
//! - [`RecordingOptions`]: the `options` object of a start request, validated.
//! - [`decide`]: `(status, event) -> Decision`, the whole lifecycle in one table: the new
//!   status, the jobs that follow, what the room sees and is told ([`transition`] is its
//!   status alone).
//! - [`Role`], [`RecordingAbilities`]: permissions.
//! - [`RoomSettings`]: a room's recording settings (auto-record, visibility, consent).
//! - [`RecordingConsent`], [`may_publish`]: what a recording room asks of participants.
//! - [`announced_as`]: the outbound webhook event a status change is.

mod announce;
mod consent;
mod decision;
mod options;
mod room_settings;

pub use announce::announced_as;
pub use consent::{ConsentDecision, RecordingConsent, may_publish};
pub use decision::{
    Circumstances, Decision, FollowUp, Notification, ON_CREATE, RoomEffect, RoomMessage, RoomState,
    decide,
};
pub use options::{OptionsError, RecordingOptions};
pub use room_settings::{RecordingsVisibleTo, RoomSettings, SettingsError, recording_role};

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// An unknown name for one of the enumerations below.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(value: &str) -> Result<Self, UnknownName> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName { kind: $kind, value: value.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum! {
    /// Where a recording is in its life. The names are the reference system's, plus
    /// `paused` (between egress segments), `failed` (the egress failed after it started)
    /// and `expired` (file deleted).
    Status, "status" {
        Initiated = "initiated",
        Active = "active",
        /// A host paused it: its egress segment has ended, and resuming starts another;
        /// the parts are joined into one file when it ends.
        Paused = "paused",
        Stopped = "stopped",
        Saved = "saved",
        Aborted = "aborted",
        FailedToStart = "failed_to_start",
        FailedToStop = "failed_to_stop",
        NotificationSucceeded = "notification_succeeded",
        ExternalProcessSuccessful = "external_process_successful",
        ExternalProcessFailed = "external_process_failed",
        Failed = "failed",
        Expired = "expired",
    }
}

impl Status {
    /// At most one open recording per room and mode (a partial unique index).
    /// A paused recording keeps the room locked for its mode.
    pub const OPEN: &'static [Status] = &[Status::Initiated, Status::Active, Status::Paused];
    /// A host may stop it: its egress runs, a stop failed and it may still run, or it is
    /// paused.
    pub const STOPPABLE: &'static [Status] =
        &[Status::Active, Status::FailedToStop, Status::Paused];
    /// The room may be being recorded: open (a pause belongs to the recording: the badge
    /// says it is paused, and consent asked for it still holds), or a stop failed.
    pub const MAY_BE_RECORDING: &'static [Status] = &[
        Status::Initiated,
        Status::Active,
        Status::Paused,
        Status::FailedToStop,
    ];
    /// An egress may still be running or writing the file.
    pub const AWAITING_EGRESS: &'static [Status] = &[
        Status::Initiated,
        Status::Active,
        Status::Stopped,
        Status::FailedToStop,
    ];
    /// The file exists and has been confirmed.
    pub const SAVED: &'static [Status] = &[
        Status::Saved,
        Status::NotificationSucceeded,
        Status::ExternalProcessSuccessful,
        Status::ExternalProcessFailed,
    ];

    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }

    /// The room may be being recorded: participants see the badge.
    pub fn may_be_recording(self) -> bool {
        Self::MAY_BE_RECORDING.contains(&self)
    }

    pub fn is_stoppable(self) -> bool {
        Self::STOPPABLE.contains(&self)
    }

    /// Nothing more is expected from LiveKit; the owner may delete it. Unlike the reference,
    /// `notification_succeeded` is final too, so a notified recording can be deleted; a
    /// failed stop is not, since its egress may still be recording.
    pub fn is_final(self) -> bool {
        !self.may_be_recording()
    }

    pub fn is_saved(self) -> bool {
        Self::SAVED.contains(&self)
    }

    pub fn awaits_egress(self) -> bool {
        Self::AWAITING_EGRESS.contains(&self)
    }
}

named_enum! {
    /// What is recorded: the composite video, or the audio for a transcript.
    Mode, "mode" {
        ScreenRecording = "screen_recording",
        Transcript = "transcript",
    }
}

impl Mode {
    pub fn extension(self) -> &'static str {
        match self {
            Mode::ScreenRecording => "mp4",
            Mode::Transcript => "ogg",
        }
    }

    /// The data message participants receive when a host pauses this mode.
    pub fn paused_message(self) -> &'static str {
        match self {
            Mode::ScreenRecording => "screenRecordingPaused",
            Mode::Transcript => "transcriptionPaused",
        }
    }

    /// The data message participants receive when a host resumes this mode.
    pub fn resumed_message(self) -> &'static str {
        match self {
            Mode::ScreenRecording => "screenRecordingResumed",
            Mode::Transcript => "transcriptionResumed",
        }
    }

    /// The data message participants receive when this mode hits its time limit.
    pub fn limit_reached_message(self) -> &'static str {
        match self {
            Mode::ScreenRecording => "screenRecordingLimitReached",
            Mode::Transcript => "transcriptionLimitReached",
        }
    }
}

named_enum! {
    /// Where a recording's transcript is, for a recording that is to be transcribed.
    TranscriptState, "transcript state" {
        /// The recording is not saved yet, or not handed to the service yet.
        Waiting = "waiting",
        /// The transcription service has it.
        Processing = "processing",
        Ready = "ready",
        Failed = "failed",
    }
}

impl TranscriptState {
    /// The state of a recording in `status` that is to be transcribed, whose file was
    /// `handed_off` to the service or not; `None` when there will be no transcript (the
    /// recording failed, or expired before).
    pub fn of(status: Status, handed_off: bool) -> Option<Self> {
        Some(match status {
            Status::ExternalProcessSuccessful => TranscriptState::Ready,
            Status::ExternalProcessFailed => TranscriptState::Failed,
            Status::Saved | Status::NotificationSucceeded if handed_off => {
                TranscriptState::Processing
            }
            Status::Initiated
            | Status::Active
            | Status::Paused
            | Status::Stopped
            | Status::FailedToStop
            | Status::Saved
            | Status::NotificationSucceeded => TranscriptState::Waiting,
            Status::Aborted | Status::FailedToStart | Status::Failed | Status::Expired => {
                return None;
            }
        })
    }
}

named_enum! {
    /// The room composite template's layouts; `-light` variants use the light theme.
    Layout, "layout" {
        Speaker = "speaker",
        SpeakerLight = "speaker-light",
        Grid = "grid",
        GridLight = "grid-light",
        SingleSpeaker = "single-speaker",
        SingleSpeakerLight = "single-speaker-light",
    }
}

named_enum! {
    /// A user's role on a room or a recording.
    Role, "role" {
        Member = "member",
        Administrator = "administrator",
        Owner = "owner",
    }
}

impl Role {
    /// Owners and administrators manage recordings; members only join.
    pub fn is_privileged(self) -> bool {
        matches!(self, Role::Owner | Role::Administrator)
    }
}

/// How the egress answered StopEgress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAnswer {
    /// `EGRESS_ENDING`: the file is being written.
    Ending,
    /// `EGRESS_ABORTED`.
    Aborted,
    /// Any other status, or an error.
    Failed,
}

/// How an egress ended (`egress_ended`, or `ListEgress` during reconciliation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EgressEnd {
    Complete,
    /// The session limit: the file is still written, truncated.
    LimitReached,
    Failed,
    Aborted,
}

/// Everything that moves a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The egress exists: the start request returned its id, or `egress_started` came.
    EgressStarted,
    /// The egress records (`EGRESS_ACTIVE`).
    EgressRecording,
    /// The start request failed or LiveKit was unreachable.
    StartFailed,
    /// A host stopped it and the egress answered.
    Stopped(StopAnswer),
    /// The egress is ending on its own (`egress_updated` with `EGRESS_ENDING`).
    EgressEnding,
    /// The egress has ended.
    EgressEnded(EgressEnd),
    /// `RECORDING_MAX_DURATION` passed and the service stopped the egress itself.
    MaxDurationReached,
    /// A new egress segment records after a pause.
    Resumed,
    /// A host stopped a paused recording: no egress runs, its parts are complete.
    StoppedWhilePaused,
    /// The file is in storage: our own check found it once the egress had ended or was gone.
    FileConfirmed,
    /// A storage event announced the file.
    FileAnnounced,
    /// The file never appeared in storage.
    FileMissing,
    /// Every owner has been notified.
    NotificationsSent,
    /// The transcription service reported its job's result.
    ExternalProcessFinished { success: bool },
    /// The retention period is over and the file was deleted.
    Expire,
}

/// The status `event` moves `from` to, or `None` when the event does not apply: the
/// status part of [`decide`].
pub fn transition(from: Status, event: Event) -> Option<Status> {
    decide(from, event, Circumstances::default()).map(|decision| decision.to)
}

/// What a user may do with a recording (the reference's `get_abilities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecordingAbilities {
    pub retrieve: bool,
    pub destroy: bool,
    /// Create and revoke share links: owners and administrators only.
    pub share: bool,
    pub stop: bool,
    pub update: bool,
    pub partial_update: bool,
}

impl RecordingAbilities {
    pub fn of(role: Option<Role>, status: Status) -> Self {
        let privileged = role.is_some_and(Role::is_privileged);
        Self {
            // Members see a room's recordings when the room shows them to members.
            retrieve: role.is_some(),
            destroy: privileged && status.is_final(),
            share: privileged,
            stop: privileged && status.may_be_recording(),
            update: false,
            partial_update: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_events() -> Vec<Event> {
        let mut events = vec![
            Event::FileConfirmed,
            Event::FileAnnounced,
            Event::FileMissing,
            Event::NotificationsSent,
            Event::ExternalProcessFinished { success: true },
            Event::ExternalProcessFinished { success: false },
            Event::Expire,
            Event::EgressStarted,
            Event::EgressRecording,
            Event::StartFailed,
            Event::EgressEnding,
            Event::MaxDurationReached,
            Event::Resumed,
            Event::StoppedWhilePaused,
        ];
        for answer in [StopAnswer::Ending, StopAnswer::Aborted, StopAnswer::Failed] {
            events.push(Event::Stopped(answer));
        }
        for end in [
            EgressEnd::Complete,
            EgressEnd::LimitReached,
            EgressEnd::Failed,
            EgressEnd::Aborted,
        ] {
            events.push(Event::EgressEnded(end));
        }
        events
    }

    #[test]
    fn names_round_trip() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>().unwrap(), *status);
        }
        for layout in Layout::ALL {
            assert_eq!(layout.as_str().parse::<Layout>().unwrap(), *layout);
        }
        assert!("speaker-dark".parse::<Layout>().is_err());
        assert_eq!(
            serde_json::to_string(&Status::FailedToStart).unwrap(),
            "\"failed_to_start\""
        );
    }

    #[test]
    fn the_happy_path() {
        let active = transition(Status::Initiated, Event::EgressStarted).unwrap();
        assert_eq!(active, Status::Active);
        let stopped = transition(active, Event::Stopped(StopAnswer::Ending)).unwrap();
        assert_eq!(stopped, Status::Stopped);
        assert_eq!(
            transition(stopped, Event::EgressEnded(EgressEnd::Complete)),
            Some(Status::Stopped)
        );
    }

    #[test]
    fn failures_free_the_room() {
        for (from, event, to) in [
            (Status::Initiated, Event::StartFailed, Status::FailedToStart),
            (
                Status::Active,
                Event::EgressEnded(EgressEnd::Failed),
                Status::Failed,
            ),
            (
                Status::Active,
                Event::EgressEnded(EgressEnd::Aborted),
                Status::Aborted,
            ),
            (
                Status::Stopped,
                Event::EgressEnded(EgressEnd::Failed),
                Status::Failed,
            ),
            (
                Status::Active,
                Event::Stopped(StopAnswer::Aborted),
                Status::Aborted,
            ),
        ] {
            assert_eq!(transition(from, event), Some(to), "{from} {event:?}");
            assert!(!to.is_open(), "{to} must not lock the room");
        }
    }

    #[test]
    fn an_egress_that_ends_before_its_start_returned_still_ends_right() {
        assert_eq!(
            transition(Status::Initiated, Event::EgressEnded(EgressEnd::Complete)),
            Some(Status::Stopped)
        );
        assert_eq!(
            transition(Status::Initiated, Event::EgressEnded(EgressEnd::Failed)),
            Some(Status::Failed)
        );
        // The start response arriving afterwards changes nothing.
        assert_eq!(transition(Status::Stopped, Event::EgressStarted), None);
        assert_eq!(transition(Status::Failed, Event::EgressStarted), None);
    }

    #[test]
    fn limit_reached_stops_the_recording() {
        assert_eq!(
            transition(Status::Active, Event::MaxDurationReached),
            Some(Status::Stopped)
        );
        assert_eq!(
            transition(Status::Active, Event::EgressEnded(EgressEnd::LimitReached)),
            Some(Status::Stopped)
        );
    }

    #[test]
    fn every_pair_is_total_and_closed_states_stay_closed() {
        for from in Status::ALL {
            for event in all_events() {
                let to = transition(*from, event);
                let completion_event = matches!(
                    event,
                    Event::NotificationsSent
                        | Event::ExternalProcessFinished { .. }
                        | Event::Expire
                );
                // A saved recording takes the file information of a late egress_ended,
                // staying where it is.
                let late_file_information = from.is_saved()
                    && matches!(
                        event,
                        Event::EgressEnded(EgressEnd::Complete | EgressEnd::LimitReached)
                    );
                // A paused recording has no egress, but resumes or stops (see decision.rs).
                if !from.awaits_egress() && *from != Status::Paused && !completion_event {
                    if late_file_information {
                        assert_eq!(to, Some(*from));
                    } else {
                        assert_eq!(to, None, "{from} is settled; {event:?} must not move it");
                    }
                }
                if let Some(to) = to {
                    assert!(
                        !to.is_open() || from.is_open(),
                        "{from} -> {to} would lock the room again"
                    );
                    // Applying the same event twice changes nothing more.
                    let again = transition(to, event);
                    assert!(
                        again.is_none() || again == Some(to),
                        "{from} {event:?} twice"
                    );
                }
            }
        }
    }

    #[test]
    fn completion_saves_then_notifies_and_duplicates_change_nothing() {
        let saved = transition(Status::Stopped, Event::FileConfirmed).unwrap();
        assert_eq!(saved, Status::Saved);
        assert_eq!(
            transition(saved, Event::FileConfirmed),
            None,
            "a second event"
        );
        assert_eq!(
            transition(saved, Event::NotificationsSent),
            Some(Status::NotificationSucceeded)
        );
        assert_eq!(
            transition(Status::Stopped, Event::FileMissing),
            Some(Status::Failed)
        );
        assert_eq!(transition(Status::Failed, Event::FileConfirmed), None);
        assert_eq!(
            transition(
                Status::NotificationSucceeded,
                Event::ExternalProcessFinished { success: true }
            ),
            Some(Status::ExternalProcessSuccessful)
        );
        assert_eq!(
            transition(
                Status::Active,
                Event::ExternalProcessFinished { success: true }
            ),
            None,
            "the reference's unguarded hook moved any status; ours does not"
        );
    }

    #[test]
    fn only_saved_recordings_expire_and_only_once() {
        for from in [
            Status::Saved,
            Status::NotificationSucceeded,
            Status::ExternalProcessFailed,
        ] {
            assert_eq!(transition(from, Event::Expire), Some(Status::Expired));
        }
        assert_eq!(transition(Status::Expired, Event::Expire), None);
        assert_eq!(transition(Status::Active, Event::Expire), None);
        assert_eq!(transition(Status::Failed, Event::Expire), None);
    }

    #[test]
    fn abilities_follow_role_and_status() {
        let owner = RecordingAbilities::of(Some(Role::Owner), Status::Active);
        assert!(owner.retrieve && owner.stop && !owner.destroy);
        let owner_done = RecordingAbilities::of(Some(Role::Owner), Status::NotificationSucceeded);
        assert!(owner_done.destroy && !owner_done.stop);
        let stop_failed = RecordingAbilities::of(Some(Role::Owner), Status::FailedToStop);
        assert!(
            stop_failed.stop && !stop_failed.destroy,
            "it may still be recording"
        );
        let member = RecordingAbilities::of(Some(Role::Member), Status::Saved);
        assert!(member.retrieve && !member.destroy && !member.share);
        assert!(owner_done.share);
        assert!(!RecordingAbilities::of(None, Status::Saved).retrieve);
    }
}
