//! Consent to being recorded: what a room asks of its participants while it records, and
//! who may publish meanwhile.

/// A room's `configuration.recording_consent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordingConsent {
    /// Nobody is asked; the badge says the room records (the reference's behaviour).
    #[default]
    Off,
    /// Everyone in the room, late joiners included, is shown a notice while it records.
    Notice,
    /// Everyone must accept or leave: until they accept they may listen and watch but not
    /// publish a camera, microphone or screen.
    Ask,
}

impl RecordingConsent {
    pub const ALL: [RecordingConsent; 3] = [
        RecordingConsent::Off,
        RecordingConsent::Notice,
        RecordingConsent::Ask,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordingConsent::Off => "off",
            RecordingConsent::Notice => "notice",
            RecordingConsent::Ask => "ask",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "off" => RecordingConsent::Off,
            "notice" => RecordingConsent::Notice,
            "ask" => RecordingConsent::Ask,
            _ => return None,
        })
    }
}

/// A participant's answer to the notice or the question, for the recordings running when
/// they answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentDecision {
    /// Accepted being recorded (`ask`), or acknowledged the notice (`notice`).
    Accepted,
    /// Declined, and left the room.
    Declined,
}

impl ConsentDecision {
    pub const ALL: [ConsentDecision; 2] = [ConsentDecision::Accepted, ConsentDecision::Declined];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentDecision::Accepted => "accepted",
            ConsentDecision::Declined => "declined",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "accepted" => ConsentDecision::Accepted,
            "declined" => ConsentDecision::Declined,
            _ => return None,
        })
    }
}

/// Whether a participant may publish: always, unless the room asks for consent and records
/// something (`recording`: the recordings that may be capturing it) that they have not
/// accepted (`accepted`).
pub fn may_publish<Id: PartialEq>(
    consent: RecordingConsent,
    recording: &[Id],
    accepted: &[Id],
) -> bool {
    consent != RecordingConsent::Ask || recording.iter().all(|id| accepted.contains(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_room_that_asks_withholds_publishing_until_each_recording_is_accepted() {
        let (first, second) = ("first", "second");
        assert!(may_publish(RecordingConsent::Off, &[first], &[]));
        assert!(may_publish(RecordingConsent::Notice, &[first], &[]));
        assert!(may_publish::<&str>(RecordingConsent::Ask, &[], &[]));
        assert!(!may_publish(RecordingConsent::Ask, &[first], &[]));
        assert!(may_publish(RecordingConsent::Ask, &[first], &[first]));
        // A transcript started after the screen recording is asked about again.
        assert!(!may_publish(
            RecordingConsent::Ask,
            &[first, second],
            &[first]
        ));
    }

    #[test]
    fn names_round_trip() {
        for consent in RecordingConsent::ALL {
            assert_eq!(RecordingConsent::parse(consent.as_str()), Some(consent));
        }
        for decision in ConsentDecision::ALL {
            assert_eq!(ConsentDecision::parse(decision.as_str()), Some(decision));
        }
        assert_eq!(RecordingConsent::parse("always"), None);
    }
}
