//! A room's recording settings, kept in its `configuration` JSON beside whatever else
//! clients store there (the reference system keeps front-end settings in it).

use serde_json::Value;

use crate::Mode;

/// The recording settings of a room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomSettings {
    /// Modes started when the first participant joins and stopped when the room empties.
    pub auto_record: Vec<Mode>,
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
        Ok(Self { auto_record })
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
    }
}
