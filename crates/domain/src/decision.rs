//! The one decision function: for a recording in `from` and an `event`, the status it
//! moves to and everything that follows from that move — the jobs to enqueue in the same
//! transaction, what the room's participants see, and the message they are sent. The
//! service performs exactly this, and performs the room effects only when the move was
//! applied, so a late, duplicated or out-of-order event changes nothing anyone sees.

use crate::{EgressEnd, Event, Mode, Status, StopAnswer};

/// What participants see of a mode being recorded: the room metadata's
/// `recording_status` (the reference's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomState {
    Starting,
    Started,
    Paused,
    Saving,
}

impl RoomState {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomState::Starting => "starting",
            RoomState::Started => "started",
            RoomState::Paused => "paused",
            RoomState::Saving => "saving",
        }
    }
}

/// What changes in the room metadata for the recording's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomEffect {
    Show(RoomState),
    /// The mode is no longer being recorded.
    Clear,
}

/// A data message to everyone in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomMessage {
    /// The time limit stopped it (`screenRecordingLimitReached` /
    /// `transcriptionLimitReached`).
    LimitReached,
    /// The egress failed (`recordingFailed`).
    Failed,
    /// A host paused it (`screenRecordingPaused` / `transcriptionPaused`).
    Paused,
    /// A host resumed it (`screenRecordingResumed` / `transcriptionResumed`).
    Resumed,
}

impl RoomMessage {
    /// The message's JSON `type` for a recording of `mode`.
    pub fn message_type(self, mode: Mode) -> &'static str {
        match self {
            RoomMessage::LimitReached => mode.limit_reached_message(),
            RoomMessage::Failed => "recordingFailed",
            RoomMessage::Paused => mode.paused_message(),
            RoomMessage::Resumed => mode.resumed_message(),
        }
    }
}

/// Which email the owners get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notification {
    Ready,
    Failed,
}

impl Notification {
    pub fn as_str(self) -> &'static str {
        match self {
            Notification::Ready => "ready",
            Notification::Failed => "failed",
        }
    }
}

/// Work that must follow a move, enqueued in the transaction that makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    /// Check that the egress's file is in storage.
    ConfirmFile,
    NotifyOwners(Notification),
    /// Hand the file to the transcription service.
    Transcribe,
    /// Join the egress segments of a recording that was paused into its one file, then
    /// confirm it like [`FollowUp::ConfirmFile`].
    JoinSegments,
    /// The room no longer records what this recording captured: who may publish there
    /// may change (see [`crate::may_publish`]).
    ReviewPublishing,
}

/// What the decision depends on besides the status and the event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Circumstances {
    /// The recording asked for a transcript and a transcription service is configured.
    pub wants_transcript: bool,
    /// The service is stopping it for its maximum duration (`stop_reason` = `limit`): the
    /// egress's `ENDING` may come before the service's own stop returns.
    pub stopping_for_limit: bool,
    /// The room asks its participants for consent: who may publish depends on what it
    /// records.
    pub room_asks_consent: bool,
    /// A host is pausing it (`stop_reason` = `pause`): the end of its egress pauses it.
    pub pausing: bool,
    /// It was paused and resumed: its file is the join of several egress segments, and
    /// the first segment's file (at the recording's key) is not the recording.
    pub segmented: bool,
}

/// A move and what follows from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub to: Status,
    pub follow_ups: Vec<FollowUp>,
    pub room: Option<RoomEffect>,
    pub message: Option<RoomMessage>,
}

impl Decision {
    /// Whether the decision keeps the recording as it is (`from`): the same status, no
    /// follow-up, no message; only a room state to show (again) may remain.
    pub fn keeps_everything_but_the_room(&self, from: Status) -> bool {
        self.to == from && self.follow_ups.is_empty() && self.message.is_none()
    }

    fn to(to: Status) -> Self {
        Self {
            to,
            follow_ups: Vec::new(),
            room: None,
            message: None,
        }
    }

    fn show(mut self, state: RoomState) -> Self {
        self.room = Some(RoomEffect::Show(state));
        self
    }

    fn clear(mut self) -> Self {
        self.room = Some(RoomEffect::Clear);
        self
    }

    fn tell(mut self, message: RoomMessage) -> Self {
        self.message = Some(message);
        self
    }

    fn then(mut self, follow_up: FollowUp) -> Self {
        self.follow_ups.push(follow_up);
        self
    }
}

/// What participants see when a recording is created, before any move.
pub const ON_CREATE: RoomEffect = RoomEffect::Show(RoomState::Starting);

/// The lifecycle: where `event` moves a recording in `from`, and what follows; `None` when
/// the event does not apply (duplicated, late and out-of-order events are normal and
/// change nothing).
///
/// An egress that ends well leaves the recording `stopped`, with its file information;
/// completion (confirming the object in storage) moves it on to `saved`, and the owners'
/// notification to `notification_succeeded`. `failed_to_stop` means the egress may still
/// be recording: it can be stopped again and ends only when LiveKit says the egress did.
pub fn decide(from: Status, event: Event, circumstances: Circumstances) -> Option<Decision> {
    use Status::*;
    let awaiting = matches!(from, Initiated | Active | Stopped | FailedToStop);
    // The file the egress wrote is checked, or, for a recording paused and resumed, the
    // segments are joined into it first.
    let confirm = if circumstances.segmented {
        FollowUp::JoinSegments
    } else {
        FollowUp::ConfirmFile
    };
    let decision = match (from, event) {
        // Pausing: the egress's stop, or its own end overtaking the stop, pauses it.
        (
            Active,
            Event::Stopped(StopAnswer::Ending)
            | Event::EgressEnding
            | Event::EgressEnded(EgressEnd::Complete | EgressEnd::LimitReached),
        ) if circumstances.pausing => Decision::to(Paused)
            .show(RoomState::Paused)
            .tell(RoomMessage::Paused),
        (Paused, Event::Resumed) => Decision::to(Active)
            .show(RoomState::Started)
            .tell(RoomMessage::Resumed),
        (Paused, Event::StoppedWhilePaused) => Decision::to(Stopped).clear().then(confirm),
        // The paused segment's file never came: the recording cannot be made whole.
        (Paused, Event::EgressEnded(EgressEnd::Failed)) => Decision::to(Failed)
            .clear()
            .tell(RoomMessage::Failed)
            .then(FollowUp::NotifyOwners(Notification::Failed)),
        // Anything else about the ended segment changes nothing.
        (Paused, _) => return None,
        // The egress exists: it shows "starting" until it records.
        (Initiated, Event::EgressStarted) => Decision::to(Active),
        (Initiated | Active, Event::EgressRecording) => {
            Decision::to(Active).show(RoomState::Started)
        }
        (Initiated, Event::StartFailed) => Decision::to(FailedToStart).clear(),
        (Active | FailedToStop, Event::Stopped(StopAnswer::Ending)) => {
            Decision::to(Stopped).show(RoomState::Saving)
        }
        (Active | FailedToStop, Event::Stopped(StopAnswer::Aborted)) => {
            Decision::to(Aborted).clear()
        }
        // The badge stays: the egress may still be recording.
        (Active, Event::Stopped(StopAnswer::Failed)) => Decision::to(FailedToStop),
        (Initiated | Active | FailedToStop, Event::EgressEnding) => {
            let decision = Decision::to(Stopped).show(RoomState::Saving);
            if circumstances.stopping_for_limit {
                decision.tell(RoomMessage::LimitReached)
            } else {
                decision
            }
        }
        (Active | FailedToStop, Event::MaxDurationReached) => Decision::to(Stopped)
            .show(RoomState::Saving)
            .tell(RoomMessage::LimitReached),
        (_, Event::EgressEnded(end @ (EgressEnd::Complete | EgressEnd::LimitReached)))
            if awaiting =>
        {
            let mut decision = Decision::to(Stopped).clear();
            if end == EgressEnd::LimitReached {
                decision = decision.tell(RoomMessage::LimitReached);
            }
            // Checked even when storage events are on: a storage server sends each event
            // once, and one lost must not lose the recording.
            decision.then(confirm)
        }
        // The storage event came first: the egress's word only adds what it knows of the
        // file (duration, location).
        (
            Saved | NotificationSucceeded | ExternalProcessSuccessful | ExternalProcessFailed,
            Event::EgressEnded(EgressEnd::Complete | EgressEnd::LimitReached),
        ) => Decision::to(from),
        (_, Event::EgressEnded(EgressEnd::Failed)) if awaiting => Decision::to(Failed)
            .clear()
            .tell(RoomMessage::Failed)
            .then(FollowUp::NotifyOwners(Notification::Failed)),
        (_, Event::EgressEnded(EgressEnd::Aborted)) if awaiting => Decision::to(Aborted).clear(),
        // A storage event counts only once the egress has ended: before, the file cannot
        // be complete, and an event for a running egress is forged or premature.
        // A segmented recording's file is the join's: an event for a segment saves nothing.
        (Stopped, Event::FileAnnounced) if circumstances.segmented => return None,
        (Stopped, Event::FileAnnounced) | (_, Event::FileConfirmed) if awaiting => {
            let mut decision = Decision::to(Saved)
                .clear()
                .then(FollowUp::NotifyOwners(Notification::Ready));
            if circumstances.wants_transcript {
                decision = decision.then(FollowUp::Transcribe);
            }
            decision
        }
        (_, Event::FileMissing) if awaiting => Decision::to(Failed)
            .clear()
            .then(FollowUp::NotifyOwners(Notification::Failed)),
        (Saved, Event::NotificationsSent) => Decision::to(NotificationSucceeded),
        (Saved | NotificationSucceeded, Event::ExternalProcessFinished { success }) => {
            Decision::to(if success {
                ExternalProcessSuccessful
            } else {
                ExternalProcessFailed
            })
        }
        (
            Saved | NotificationSucceeded | ExternalProcessSuccessful | ExternalProcessFailed,
            Event::Expire,
        ) => Decision::to(Expired),
        _ => return None,
    };
    // A recording that stops capturing no longer holds back those who did not consent.
    if circumstances.room_asks_consent && from.may_be_recording() && !decision.to.may_be_recording()
    {
        return Some(decision.then(FollowUp::ReviewPublishing));
    }
    Some(decision)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(from: Status, event: Event) -> Decision {
        decide(from, event, Circumstances::default())
            .unwrap_or_else(|| panic!("{from} {event:?} must apply"))
    }

    #[test]
    fn a_late_or_repeated_active_after_the_end_shows_nothing() {
        for from in [
            Status::Stopped,
            Status::Saved,
            Status::Failed,
            Status::Aborted,
            Status::NotificationSucceeded,
            Status::FailedToStart,
        ] {
            assert_eq!(
                decide(from, Event::EgressRecording, Circumstances::default()),
                None,
                "{from}"
            );
            assert_eq!(
                decide(from, Event::EgressStarted, Circumstances::default()),
                None,
                "{from}"
            );
        }
    }

    #[test]
    fn participants_see_starting_started_saving_then_nothing() {
        assert_eq!(ON_CREATE, RoomEffect::Show(RoomState::Starting));
        assert_eq!(moved(Status::Initiated, Event::EgressStarted).room, None);
        assert_eq!(
            moved(Status::Active, Event::EgressRecording).room,
            Some(RoomEffect::Show(RoomState::Started))
        );
        assert_eq!(
            moved(Status::Active, Event::Stopped(StopAnswer::Ending)).room,
            Some(RoomEffect::Show(RoomState::Saving))
        );
        assert_eq!(
            moved(Status::Stopped, Event::EgressEnded(EgressEnd::Complete)).room,
            Some(RoomEffect::Clear)
        );
    }

    #[test]
    fn a_failed_stop_keeps_the_badge_and_can_be_stopped_again() {
        let failed = moved(Status::Active, Event::Stopped(StopAnswer::Failed));
        assert_eq!(failed.to, Status::FailedToStop);
        assert_eq!(failed.room, None, "what participants see does not change");
        assert_eq!(
            moved(Status::FailedToStop, Event::Stopped(StopAnswer::Ending)).to,
            Status::Stopped
        );
        assert_eq!(
            moved(
                Status::FailedToStop,
                Event::EgressEnded(EgressEnd::Complete)
            )
            .to,
            Status::Stopped
        );
        assert!(Status::FailedToStop.may_be_recording());
        assert!(!Status::FailedToStop.is_final());
    }

    #[test]
    fn follow_ups_are_part_of_the_decision() {
        let ended = moved(Status::Stopped, Event::EgressEnded(EgressEnd::Complete));
        assert_eq!(ended.follow_ups, [FollowUp::ConfirmFile]);
        for early in [Status::Initiated, Status::Active, Status::FailedToStop] {
            assert_eq!(
                decide(early, Event::FileAnnounced, Circumstances::default()),
                None,
                "a storage event for a running egress saves nothing ({early})"
            );
        }
        assert_eq!(
            moved(Status::Stopped, Event::FileAnnounced).to,
            Status::Saved
        );
        let saved = decide(
            Status::Stopped,
            Event::FileConfirmed,
            Circumstances {
                wants_transcript: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            saved.follow_ups,
            [
                FollowUp::NotifyOwners(Notification::Ready),
                FollowUp::Transcribe
            ]
        );
        let failed = moved(Status::Active, Event::EgressEnded(EgressEnd::Failed));
        assert_eq!(
            failed.follow_ups,
            [FollowUp::NotifyOwners(Notification::Failed)]
        );
        assert_eq!(failed.message, Some(RoomMessage::Failed));
        assert_eq!(
            moved(Status::Stopped, Event::FileMissing).follow_ups,
            [FollowUp::NotifyOwners(Notification::Failed)]
        );
    }

    #[test]
    fn publishing_is_reviewed_once_when_a_recording_in_a_room_asking_consent_stops_capturing() {
        let asking = Circumstances {
            room_asks_consent: true,
            ..Default::default()
        };
        let follow_ups = |from, event| decide(from, event, asking).unwrap().follow_ups;
        assert_eq!(
            follow_ups(Status::Active, Event::EgressEnding),
            [FollowUp::ReviewPublishing]
        );
        assert_eq!(
            follow_ups(Status::Initiated, Event::StartFailed),
            [FollowUp::ReviewPublishing]
        );
        // Still recording, or already stopped: nothing to review.
        assert!(follow_ups(Status::Initiated, Event::EgressRecording).is_empty());
        assert!(follow_ups(Status::Active, Event::Stopped(StopAnswer::Failed)).is_empty());
        assert_eq!(
            follow_ups(Status::Stopped, Event::EgressEnded(EgressEnd::Complete)),
            [FollowUp::ConfirmFile]
        );
        // A room that does not ask has nothing to review.
        assert!(
            moved(Status::Active, Event::EgressEnding)
                .follow_ups
                .is_empty()
        );
    }

    #[test]
    fn a_pause_ends_the_segment_and_a_resume_records_the_next() {
        let pausing = Circumstances {
            pausing: true,
            ..Default::default()
        };
        for end in [
            Event::Stopped(StopAnswer::Ending),
            Event::EgressEnding,
            Event::EgressEnded(EgressEnd::Complete),
        ] {
            let paused = decide(Status::Active, end, pausing).unwrap();
            assert_eq!(paused.to, Status::Paused, "{end:?}");
            assert_eq!(paused.room, Some(RoomEffect::Show(RoomState::Paused)));
            assert_eq!(paused.message, Some(RoomMessage::Paused));
            assert!(paused.follow_ups.is_empty(), "nothing is confirmed yet");
        }
        assert_eq!(
            RoomMessage::Paused.message_type(Mode::ScreenRecording),
            "screenRecordingPaused"
        );
        assert_eq!(
            RoomMessage::Resumed.message_type(Mode::Transcript),
            "transcriptionResumed"
        );
        // The ended segment's own events, and storage events for it, change nothing.
        for event in [
            Event::EgressEnding,
            Event::EgressEnded(EgressEnd::Complete),
            Event::FileAnnounced,
            Event::FileConfirmed,
            Event::MaxDurationReached,
            Event::EgressRecording,
        ] {
            assert_eq!(decide(Status::Paused, event, pausing), None, "{event:?}");
        }
        let resumed = moved(Status::Paused, Event::Resumed);
        assert_eq!(resumed.to, Status::Active);
        assert_eq!(resumed.room, Some(RoomEffect::Show(RoomState::Started)));
        assert_eq!(resumed.message, Some(RoomMessage::Resumed));
        assert!(Status::Paused.is_open() && Status::Paused.is_stoppable());
        assert!(!Status::Paused.is_final() && !Status::Paused.awaits_egress());
    }

    #[test]
    fn a_recording_paused_and_resumed_is_joined_before_it_is_saved() {
        let segmented = Circumstances {
            segmented: true,
            ..Default::default()
        };
        let ended = decide(
            Status::Active,
            Event::EgressEnded(EgressEnd::Complete),
            segmented,
        )
        .unwrap();
        assert_eq!(ended.to, Status::Stopped);
        assert_eq!(ended.follow_ups, [FollowUp::JoinSegments]);
        let stopped = decide(Status::Paused, Event::StoppedWhilePaused, segmented).unwrap();
        assert_eq!(stopped.to, Status::Stopped);
        assert_eq!(stopped.room, Some(RoomEffect::Clear));
        assert_eq!(stopped.follow_ups, [FollowUp::JoinSegments]);
        // The first segment's storage event is not the recording's file...
        assert_eq!(
            decide(Status::Stopped, Event::FileAnnounced, segmented),
            None
        );
        // ...the join's confirmation is.
        assert_eq!(
            decide(Status::Stopped, Event::FileConfirmed, segmented)
                .unwrap()
                .to,
            Status::Saved
        );
        // Paused once and never resumed, its one file is the recording.
        assert_eq!(
            moved(Status::Paused, Event::StoppedWhilePaused).follow_ups,
            [FollowUp::ConfirmFile]
        );
        assert_eq!(
            moved(Status::Paused, Event::EgressEnded(EgressEnd::Failed)).to,
            Status::Failed
        );
    }

    #[test]
    fn a_late_egress_ended_after_the_storage_event_only_adds_the_file_information() {
        let late = moved(
            Status::NotificationSucceeded,
            Event::EgressEnded(EgressEnd::Complete),
        );
        assert_eq!(late.to, Status::NotificationSucceeded);
        assert!(late.follow_ups.is_empty() && late.room.is_none() && late.message.is_none());
        assert_eq!(
            decide(
                Status::Saved,
                Event::EgressEnded(EgressEnd::Failed),
                Circumstances::default()
            ),
            None,
            "a saved file is not failed by a late word"
        );
    }

    #[test]
    fn the_limit_is_told_once_whichever_of_the_stops_comes_first() {
        let limit = Circumstances {
            stopping_for_limit: true,
            ..Default::default()
        };
        // The egress's ENDING overtakes the service's own stop...
        let ending = decide(Status::Active, Event::EgressEnding, limit).unwrap();
        assert_eq!(ending.message, Some(RoomMessage::LimitReached));
        // ...which then changes nothing more.
        assert_eq!(
            decide(Status::Stopped, Event::MaxDurationReached, limit),
            None
        );
        // A host's stop tells nothing.
        assert_eq!(moved(Status::Active, Event::EgressEnding).message, None);
    }

    #[test]
    fn the_limit_is_told_once_whichever_side_reached_it() {
        let by_service = moved(Status::Active, Event::MaxDurationReached);
        assert_eq!(by_service.message, Some(RoomMessage::LimitReached));
        let by_egress = moved(Status::Active, Event::EgressEnded(EgressEnd::LimitReached));
        assert_eq!(by_egress.message, Some(RoomMessage::LimitReached));
        // The service stopped it; the egress then ends COMPLETE: nothing more to tell.
        assert_eq!(
            moved(Status::Stopped, Event::EgressEnded(EgressEnd::Complete)).message,
            None
        );
    }
}
