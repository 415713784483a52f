//! What a status change is called to the systems around the service: the event types of
//! its outbound webhooks.

use crate::Status;

/// The outbound event type a move from `from` to `to` announces, if any. A move that only
/// bookkeeps (the owners were emailed, the transcript came back, a stop failed) announces
/// nothing, and neither does staying put.
pub fn announced_as(from: Status, to: Status) -> Option<&'static str> {
    use Status::*;
    if from == to {
        return None;
    }
    Some(match to {
        Active if from == Paused => "recording.resumed",
        Active => "recording.started",
        Paused => "recording.paused",
        Stopped => "recording.stopped",
        Saved => "recording.saved",
        Failed | FailedToStart | Aborted => "recording.failed",
        Expired => "recording.expired",
        Initiated
        | FailedToStop
        | NotificationSucceeded
        | ExternalProcessSuccessful
        | ExternalProcessFailed => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_of_a_recordings_life_is_announced_once() {
        use Status::*;
        let life = [
            Initiated,
            Active,
            Paused,
            Active,
            Stopped,
            Saved,
            NotificationSucceeded,
            Expired,
        ];
        let announced: Vec<&str> = life
            .windows(2)
            .filter_map(|pair| announced_as(pair[0], pair[1]))
            .collect();
        assert_eq!(
            announced,
            [
                "recording.started",
                "recording.paused",
                "recording.resumed",
                "recording.stopped",
                "recording.saved",
                "recording.expired"
            ]
        );
        assert_eq!(
            announced_as(Initiated, FailedToStart),
            Some("recording.failed")
        );
        assert_eq!(announced_as(Active, Active), None);
        assert_eq!(announced_as(Active, FailedToStop), None);
    }
}
