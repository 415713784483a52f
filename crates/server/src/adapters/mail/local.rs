//! The mailers that keep messages on this machine, for development and tests:
//! [`ConsoleMailer`] prints them, [`FileMailer`] writes each as a complete `.eml` file.
//!
//! Both build the same RFC 5322 message as the SMTP mailer first, so an invalid address
//! fails here exactly as it would in production.

use std::{
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
};

use super::{MailError, Mailer, Outgoing};

/// Prints each message (headers and text part) to standard output.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleMailer;

impl Mailer for ConsoleMailer {
    fn send<'a>(
        &'a self,
        message: &'a Outgoing,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>> {
        Box::pin(async move {
            message.to_message()?;
            println!(
                "---------- email ----------\nFrom: {}\nTo: {}\nSubject: {}\n\n{}---------------------------",
                message.from.trim(),
                message.to.trim(),
                message.subject,
                message.text
            );
            Ok(())
        })
    }
}

/// Writes each message into `dir` as `<timestamp>-<uuid>.eml`: a complete RFC 5322
/// message (`multipart/alternative`, text and HTML), as an SMTP server would receive
/// it. The timestamp (`20261123T233000.123456Z`, UTC) makes names sort by time. Each
/// file is written under a temporary name and renamed, so readers never see half a
/// message.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    /// Creates `dir` if needed, so a bad path fails at startup rather than at the first
    /// email.
    pub fn new(dir: PathBuf) -> Result<Self, MailError> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| MailError::Transport(format!("create {}: {e}", dir.display())))?;
        Ok(FileMailer { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Mailer for FileMailer {
    fn send<'a>(
        &'a self,
        message: &'a Outgoing,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>> {
        Box::pin(async move {
            let raw = message.to_message()?.formatted();
            let name = format!(
                "{}-{}",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
                uuid::Uuid::new_v4()
            );
            let error = |path: &Path, e: std::io::Error| {
                MailError::Transport(format!("{}: {e}", path.display()))
            };
            tokio::fs::create_dir_all(&self.dir)
                .await
                .map_err(|e| error(&self.dir, e))?;
            let temporary = self.dir.join(format!(".{name}.tmp"));
            let path = self.dir.join(format!("{name}.eml"));
            tokio::fs::write(&temporary, &raw)
                .await
                .map_err(|e| error(&temporary, e))?;
            if let Err(e) = tokio::fs::rename(&temporary, &path).await {
                let _ = tokio::fs::remove_file(&temporary).await;
                return Err(error(&path, e));
            }
            tracing::debug!(path = %path.display(), "email written");
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(to: &str) -> Outgoing {
        Outgoing {
            from: "no-reply@example.com".into(),
            to: to.into(),
            subject: "Hello".into(),
            text: "text part".into(),
            html: "<p>html part</p>".into(),
            message_key: None,
        }
    }

    #[tokio::test]
    async fn console_mailer_accepts_valid_and_rejects_invalid_addresses() {
        ConsoleMailer.send(&message("a@example.com")).await.unwrap();
        let error = ConsoleMailer.send(&message("nope")).await.unwrap_err();
        assert!(matches!(error, MailError::Address(_)), "{error}");
    }

    #[tokio::test]
    async fn file_mailer_names_files_by_time_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = FileMailer::new(dir.path().join("nested/mail")).unwrap();
        mailer.send(&message("a@example.com")).await.unwrap();
        mailer.send(&message("b@example.com")).await.unwrap();
        let error = mailer.send(&message("not an address")).await.unwrap_err();
        assert!(matches!(error, MailError::Address(_)), "{error}");

        let mut names: Vec<String> = std::fs::read_dir(mailer.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "{names:?}");
        for name in &names {
            // 20261123T233000.123456Z-<36-char uuid>.eml
            let (stamp, rest) = name.split_once("Z-").unwrap();
            assert_eq!(stamp.len(), "20261123T233000.123456".len(), "{name}");
            assert!(
                chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.f").is_ok(),
                "{name}"
            );
            let uuid = rest.strip_suffix(".eml").unwrap();
            assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{name}");
        }
        // Sorted by name = sorted by time: the first file is to a@, the second to b@.
        let first = std::fs::read_to_string(mailer.dir().join(&names[0])).unwrap();
        let second = std::fs::read_to_string(mailer.dir().join(&names[1])).unwrap();
        assert!(first.contains("To: a@example.com\r\n"), "{first}");
        assert!(second.contains("To: b@example.com\r\n"), "{second}");
    }

    #[test]
    fn file_mailer_fails_at_creation_when_the_directory_cannot_exist() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        let error = FileMailer::new(file.join("mail")).unwrap_err();
        assert!(matches!(error, MailError::Transport(_)), "{error}");
    }
}
