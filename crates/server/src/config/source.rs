//! The raw variables: the process environment over an optional `KEY=VALUE` file, read
//! through typed getters that only accept settings of the table (`settings::SETTINGS`).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    sync::Mutex,
};

use secrecy::SecretString;

use super::{
    ConfigError, invalid,
    settings::{self, PREFIXES, SETTINGS, Setting},
};

/// Where a setting's value came from, for `meet-recorder config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `NAME` (environment or configuration file).
    Value,
    /// The file named by `NAME_FILE`.
    File,
}

/// The raw variables, from the process environment over an optional file.
pub struct Source {
    values: BTreeMap<String, String>,
    /// The configuration file read under the environment, if any.
    file: Option<PathBuf>,
    /// The settings parsing asked for, so tests can compare them with the table.
    read: Mutex<BTreeSet<&'static str>>,
}

impl Source {
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self::new(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            None,
        )
    }

    fn new(values: BTreeMap<String, String>, file: Option<PathBuf>) -> Self {
        Self {
            values,
            file,
            read: Mutex::new(BTreeSet::new()),
        }
    }

    /// The environment, over the `KEY=VALUE` file named by `file` or
    /// `MEET_RECORDER_CONFIG_FILE` (blank lines and `#` comments allowed).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        const NAME: &str = "MEET_RECORDER_CONFIG_FILE";
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env.get(NAME).map(Into::into));
        let mut values = BTreeMap::new();
        if let Some(file) = &file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| invalid(NAME, format!("cannot read {}: {e}", file.display())))?;
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let (key, value) = line.split_once('=').ok_or_else(|| {
                    invalid(
                        NAME,
                        format!("line {} of {} is not KEY=VALUE", number + 1, file.display()),
                    )
                })?;
                let value = value.trim().trim_matches('"').trim_matches('\'');
                values.insert(key.trim().to_owned(), value.to_owned());
            }
        }
        values.extend(env);
        Ok(Self::new(values, file))
    }

    /// Sets `name` unless it is already set (used by `meet-recorder dev`).
    pub fn set_default(&mut self, name: &str, value: &str) {
        self.values
            .entry(name.to_owned())
            .or_insert_with(|| value.to_owned());
    }

    /// The setting called `name`, noted as read. A name missing from the table is a bug
    /// (a variable nobody would warn about, document or redact): debug builds and tests
    /// stop on it; a release build reads it as a plain setting.
    fn setting(&self, name: &str) -> Option<&'static Setting> {
        let setting = settings::find(name);
        debug_assert!(
            setting.is_some(),
            "{name} is read but not declared in config::settings::SETTINGS"
        );
        if let Some(setting) = setting {
            self.read
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(setting.name);
        }
        setting
    }

    /// The settings read so far.
    pub fn read_settings(&self) -> BTreeSet<&'static str> {
        self.read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The configuration file read under the environment (`MEET_RECORDER_CONFIG_FILE`).
    pub fn config_file(&self) -> Option<&Path> {
        self.setting("MEET_RECORDER_CONFIG_FILE");
        self.file.as_deref()
    }

    /// The value of a plain (non-secret) setting as given, if any.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.setting(name);
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A value, with `NAME_FILE` honoured for secrets. Empty means unset.
    pub(super) fn get(&self, name: &str) -> Result<Option<String>, ConfigError> {
        let from_file = self.setting(name).is_some_and(|s| s.kind.from_file());
        if from_file && let Some(path) = self.values.get(&format!("{name}_FILE")) {
            let value = std::fs::read_to_string(path).map_err(|e| {
                invalid(&format!("{name}_FILE"), format!("cannot read {path}: {e}"))
            })?;
            return Ok(Some(value.trim_end_matches(['\n', '\r']).to_owned()));
        }
        Ok(self
            .values
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty()))
    }

    pub(super) fn string(&self, name: &str, default: &str) -> Result<String, ConfigError> {
        Ok(self.get(name)?.unwrap_or_else(|| default.to_owned()))
    }

    pub(super) fn bool(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name)? {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" | "t" | "y" => Ok(true),
                "0" | "false" | "no" | "off" | "f" | "n" => Ok(false),
                _ => Err(invalid(
                    name,
                    format!("{v:?} is not a boolean (true/false)"),
                )),
            },
        }
    }

    pub(super) fn number<T: std::str::FromStr>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(name)? {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| invalid(name, format!("{v:?} is not a valid number"))),
        }
    }

    pub(super) fn secret(&self, name: &str) -> Result<Option<SecretString>, ConfigError> {
        Ok(self.get(name)?.map(SecretString::from))
    }

    /// Which settings were given, and how: the rest are at their defaults.
    pub(super) fn given(&self) -> BTreeMap<&'static str, Origin> {
        SETTINGS
            .iter()
            .filter_map(|setting| {
                let given =
                    |name: &str| self.values.get(name).is_some_and(|v| !v.trim().is_empty());
                let origin = if setting.kind.from_file()
                    && self.values.contains_key(&format!("{}_FILE", setting.name))
                {
                    Origin::File
                } else if given(setting.name)
                    || (setting.name == "MEET_RECORDER_CONFIG_FILE" && self.file.is_some())
                {
                    Origin::Value
                } else {
                    return None;
                };
                Some((setting.name, origin))
            })
            .collect()
    }

    /// Variables with one of our prefixes that we do not know: likely typos.
    pub fn unknown_variables(&self) -> Vec<String> {
        self.values
            .keys()
            .filter(|k| PREFIXES.iter().any(|p| k.starts_with(p)))
            .filter(|k| !settings::is_known(k))
            .cloned()
            .collect()
    }
}
