//! A room's recording settings, kept in its `configuration` JSON beside whatever else
//! clients store there (the reference system keeps front-end settings in it).

use serde_json::Value;

use crate::{Mode, RecordingConsent, Role};

/// The recording settings of a room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomSettings {
    /// Modes started when the first participant joins and stopped when the room empties.
    pub auto_record: Vec<Mode>,
    /// Who besides the room's hosts may see its recordings.
    pub recordings_visible_to: RecordingsVisibleTo,
    /// What participants are asked while the room records. A change applies at once, to
    /// the recordings running too.
    pub recording_consent: RecordingConsent,
}

/// Who sees a room's recordings. Its hosts (owners and administrators) always do, and own
/// them: they may share and delete them and are emailed when one is ready.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordingsVisibleTo {
    /// The recordings' owners: whoever started one, and the room's hosts.
    #[default]
    Owners,
    /// The same people: a room's administrators are among its recordings' owners. Kept as
    /// its own value so a room's setting reads as its operators wrote it.
    Administrators,
    /// Also the room's members, who may list and play them but not share or delete them.
    Members,
}

impl RecordingsVisibleTo {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingsVisibleTo::Owners => "owners",
            RecordingsVisibleTo::Administrators => "administrators",
            RecordingsVisibleTo::Members => "members",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "owners" => RecordingsVisibleTo::Owners,
            "administrators" => RecordingsVisibleTo::Administrators,
            "members" => RecordingsVisibleTo::Members,
            _ => return None,
        })
    }
}

/// A user's role on a recording: the one its access gives (the starter's `owner`), or
/// the one the room gives — its hosts own the room's recordings, its members see them
/// when the room shows them to members. The higher of the two.
pub fn recording_role(
    recording_access: Option<Role>,
    room_role: Option<Role>,
    visible_to: RecordingsVisibleTo,
) -> Option<Role> {
    let from_room = match room_role {
        Some(role) if role.is_privileged() => Some(Role::Owner),
        Some(Role::Member) if visible_to == RecordingsVisibleTo::Members => Some(Role::Member),
        _ => None,
    };
    match (recording_access, from_room) {
        (Some(access), Some(room)) if room.is_privileged() && !access.is_privileged() => Some(room),
        (Some(access), _) => Some(access),
        (None, room) => room,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration must be a JSON object.")]
    NotAnObject,
    #[error("configuration.auto_record must be a list of modes (screen_recording, transcript).")]
    AutoRecordNotAList,
    #[error("configuration.auto_record names an unknown mode: {0}.")]
    UnknownMode(String),
    #[error("configuration.auto_record names {0} twice.")]
    DuplicateMode(Mode),
    #[error("configuration.recordings_visible_to must be owners, administrators or members.")]
    UnknownVisibility,
    #[error("configuration.recording_consent must be off, notice or ask.")]
    UnknownConsent,
}

impl RoomSettings {
    /// Reads the settings from a room's configuration; a missing key means the default.
    pub fn parse(configuration: &Value) -> Result<Self, SettingsError> {
        let Some(object) = configuration.as_object() else {
            return if configuration.is_null() {
                Ok(Self::default())
            } else {
                Err(SettingsError::NotAnObject)
            };
        };
        let mut auto_record = Vec::new();
        match object.get("auto_record") {
            None | Some(Value::Null) => {}
            Some(Value::Array(modes)) => {
                for mode in modes {
                    let name = mode.as_str().ok_or(SettingsError::AutoRecordNotAList)?;
                    let mode: Mode = name
                        .parse()
                        .map_err(|_| SettingsError::UnknownMode(name.to_owned()))?;
                    if auto_record.contains(&mode) {
                        return Err(SettingsError::DuplicateMode(mode));
                    }
                    auto_record.push(mode);
                }
            }
            Some(_) => return Err(SettingsError::AutoRecordNotAList),
        }
        let recordings_visible_to = match object.get("recordings_visible_to") {
            None | Some(Value::Null) => RecordingsVisibleTo::default(),
            Some(value) => value
                .as_str()
                .and_then(RecordingsVisibleTo::parse)
                .ok_or(SettingsError::UnknownVisibility)?,
        };
        let recording_consent = match object.get("recording_consent") {
            None | Some(Value::Null) => RecordingConsent::default(),
            Some(value) => value
                .as_str()
                .and_then(RecordingConsent::parse)
                .ok_or(SettingsError::UnknownConsent)?,
        };
        Ok(Self {
            auto_record,
            recordings_visible_to,
            recording_consent,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn settings_are_read_from_the_configuration() {
        assert_eq!(RoomSettings::parse(&json!({})), Ok(RoomSettings::default()));
        assert_eq!(
            RoomSettings::parse(&Value::Null),
            Ok(RoomSettings::default())
        );
        assert_eq!(
            RoomSettings::parse(
                &json!({"auto_record": ["transcript", "screen_recording"], "theme": "dark"})
            )
            .unwrap()
            .auto_record,
            [Mode::Transcript, Mode::ScreenRecording]
        );
    }

    #[test]
    fn hosts_own_a_rooms_recordings_and_members_see_them_when_shown() {
        use RecordingsVisibleTo::*;
        let starter = Some(Role::Owner);
        assert_eq!(recording_role(starter, None, Owners), Some(Role::Owner));
        assert_eq!(
            recording_role(None, Some(Role::Administrator), Owners),
            Some(Role::Owner)
        );
        assert_eq!(
            recording_role(None, Some(Role::Owner), Administrators),
            Some(Role::Owner)
        );
        assert_eq!(recording_role(None, Some(Role::Member), Owners), None);
        assert_eq!(
            recording_role(None, Some(Role::Member), Administrators),
            None
        );
        assert_eq!(
            recording_role(None, Some(Role::Member), Members),
            Some(Role::Member)
        );
        assert_eq!(recording_role(None, None, Members), None);
        // A member access on the recording itself is lifted by a host role on the room.
        assert_eq!(
            recording_role(Some(Role::Member), Some(Role::Administrator), Owners),
            Some(Role::Owner)
        );
        assert_eq!(
            RoomSettings::parse(&json!({"recordings_visible_to": "members"}))
                .unwrap()
                .recordings_visible_to,
            Members
        );
        assert_eq!(
            RoomSettings::parse(&json!({"recordings_visible_to": "everyone"})),
            Err(SettingsError::UnknownVisibility)
        );
    }

    #[test]
    fn bad_settings_are_refused_with_what_is_wrong() {
        assert_eq!(
            RoomSettings::parse(&json!([])),
            Err(SettingsError::NotAnObject)
        );
        assert_eq!(
            RoomSettings::parse(&json!({"auto_record": "transcript"})),
            Err(SettingsError::AutoRecordNotAList)
        );
        assert_eq!(
            RoomSettings::parse(&json!({"auto_record": [3]})),
            Err(SettingsError::AutoRecordNotAList)
        );
        assert_eq!(
            RoomSettings::parse(&json!({"auto_record": ["podcast"]})),
            Err(SettingsError::UnknownMode("podcast".into()))
        );
        assert_eq!(
            RoomSettings::parse(&json!({"auto_record": ["transcript", "transcript"]})),
            Err(SettingsError::DuplicateMode(Mode::Transcript))
        );
        assert_eq!(
            RoomSettings::parse(&json!({"recording_consent": "always"})),
            Err(SettingsError::UnknownConsent)
        );
        assert_eq!(
            RoomSettings::parse(&json!({"recording_consent": "ask"}))
                .unwrap()
                .recording_consent,
            RecordingConsent::Ask
        );
    }
}
