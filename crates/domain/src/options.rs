//! The `options` of a start request, validated as the reference validates them (pydantic
//! `RecordingOptions`, `extra=forbid`): unknown keys are refused, `null` values dropped,
//! `transcribe` and `collect_metadata` coerced from the usual boolean spellings.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Mode;

const MAX_LANGUAGE_LEN: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcribe: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collect_metadata: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_mode: Option<Mode>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("options must be an object")]
    NotAnObject,
    #[error("unknown option {0:?}")]
    UnknownKey(String),
    #[error("option {0:?} must be a boolean")]
    NotABoolean(&'static str),
    #[error("option \"language\" must be a string of at most {MAX_LANGUAGE_LEN} characters")]
    BadLanguage,
    #[error("option \"original_mode\" must be \"screen_recording\" or \"transcript\"")]
    BadOriginalMode,
}

impl RecordingOptions {
    /// Parses the request's `options` (absent and `null` mean no options).
    pub fn parse(value: Option<&Value>) -> Result<Self, OptionsError> {
        let map = match value {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(OptionsError::NotAnObject),
        };
        let mut options = Self::default();
        for (key, value) in map {
            if value.is_null() {
                // Unknown keys are refused even when null, as pydantic's extra=forbid does.
                if ![
                    "language",
                    "transcribe",
                    "collect_metadata",
                    "original_mode",
                ]
                .contains(&key.as_str())
                {
                    return Err(OptionsError::UnknownKey(key.clone()));
                }
                continue;
            }
            match key.as_str() {
                "language" => match value {
                    Value::String(s) if s.chars().count() <= MAX_LANGUAGE_LEN => {
                        options.language = Some(s.clone());
                    }
                    _ => return Err(OptionsError::BadLanguage),
                },
                "transcribe" => options.transcribe = Some(coerce_bool(value, "transcribe")?),
                "collect_metadata" => {
                    options.collect_metadata = Some(coerce_bool(value, "collect_metadata")?);
                }
                "original_mode" => {
                    let mode = value
                        .as_str()
                        .and_then(|s| s.parse::<Mode>().ok())
                        .ok_or(OptionsError::BadOriginalMode)?;
                    options.original_mode = Some(mode);
                }
                other => return Err(OptionsError::UnknownKey(other.to_owned())),
            }
        }
        Ok(options)
    }

    /// The options as stored and shown (`null`s dropped).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Map::new()))
    }

    /// Whether a transcript should be made of this recording.
    pub fn wants_transcript(&self) -> bool {
        self.transcribe == Some(true)
    }
}

/// Pydantic's lax booleans: true/false, 0/1, and the strings
/// `true/false, 1/0, yes/no, on/off, t/f, y/n` in any case.
fn coerce_bool(value: &Value, name: &'static str) -> Result<bool, OptionsError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_i64() == Some(1) || n.as_f64() == Some(1.0) => Ok(true),
        Value::Number(n) if n.as_i64() == Some(0) || n.as_f64() == Some(0.0) => Ok(false),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
            "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
            _ => Err(OptionsError::NotABoolean(name)),
        },
        _ => Err(OptionsError::NotABoolean(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<RecordingOptions, OptionsError> {
        RecordingOptions::parse(Some(&value))
    }

    #[test]
    fn transcribe_is_coerced_like_pydantic() {
        for yes in [
            json!(true),
            json!("on"),
            json!(1),
            json!("True"),
            json!("y"),
        ] {
            assert_eq!(
                parse(json!({ "transcribe": yes })).unwrap().transcribe,
                Some(true)
            );
        }
        for no in [json!(false), json!("off"), json!(0)] {
            assert_eq!(
                parse(json!({ "transcribe": no })).unwrap().transcribe,
                Some(false)
            );
        }
        for bad in [json!("foo"), json!(12), json!([true]), json!({})] {
            assert!(parse(json!({ "transcribe": bad })).is_err());
        }
    }

    #[test]
    fn unknown_keys_and_bad_modes_are_refused() {
        assert_eq!(
            parse(json!({"nope": 1})),
            Err(OptionsError::UnknownKey("nope".into()))
        );
        assert_eq!(
            parse(json!({"original_mode": "video"})),
            Err(OptionsError::BadOriginalMode)
        );
        assert_eq!(parse(json!([1])), Err(OptionsError::NotAnObject));
    }

    #[test]
    fn nulls_are_dropped_and_language_is_free_text() {
        let options = parse(json!({"language": "klingon", "transcribe": null})).unwrap();
        assert_eq!(options.to_json(), json!({"language": "klingon"}));
        assert_eq!(
            RecordingOptions::parse(None).unwrap(),
            RecordingOptions::default()
        );
        assert!(parse(json!({"language": 3})).is_err());
    }
}
