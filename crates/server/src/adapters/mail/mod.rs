//! Email: the messages that tell a recording's owners it is ready (or that it failed),
//! and the mailers that deliver them (SMTP, console, file).
//!
//! The module is split in two halves that meet at [`Outgoing`]:
//! - rendering ([`render`], with the askama templates of `templates/mail/` in
//!   `templates`) turns a [`RecordingEmail`] into a subject, a plain-text part and an
//!   HTML part, in the recipient's [`Language`];
//! - delivery ([`Mailer`], built by [`mailer`] from [`MailSettings`]) turns an
//!   [`Outgoing`] into an RFC 5322 `multipart/alternative` message and hands it to an
//!   SMTP server ([`SmtpMailer`]), standard output ([`ConsoleMailer`]) or a directory of
//!   `.eml` files ([`FileMailer`]).
//!
//! The job queue calls `render`, then [`Outgoing::from_rendered`], then
//! [`Mailer::send`]; an `Err` from `send` means "try again later".
//!
//! [`Language`], the one list of languages the service writes in, lives here because
//! emails are most of what it writes; the share page and the accounts use it too, and
//! [`HtmlEscaper`] escapes every HTML template of the crate.

mod language;
mod local;
mod render;
mod smtp;
mod templates;

use std::{future::Future, path::PathBuf, pin::Pin, sync::Arc, time::Duration};

use lettre::{
    Message,
    message::{Mailbox, MultiPart},
};
use secrecy::SecretString;

pub use language::Language;
pub use local::{ConsoleMailer, FileMailer};
pub use render::{Brand, EmailKind, RecordingEmail, Rendered, render};
pub use smtp::SmtpMailer;
pub use templates::{HtmlEscaper, escape_html};

/// A message ready to be sent: addresses and both bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// `Name <addr>` or `addr`.
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// What the message is about, when a retry must be recognisable as the same message:
    /// its `Message-ID` is then `<{key}@{sender's domain}>` on every attempt, so a
    /// message sent twice (a crash between the server's reply and recording it) shows
    /// once. `None`: a fresh id.
    pub message_key: Option<String>,
}

impl Outgoing {
    /// The message for `to`, from the brand's sender.
    pub fn from_rendered(brand: &Brand, to: &str, rendered: Rendered) -> Self {
        Outgoing {
            from: brand.from.clone(),
            to: to.to_owned(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            message_key: None,
        }
    }

    /// The same message with a stable `Message-ID` (see [`Outgoing::message_key`]).
    pub fn keyed(mut self, key: impl Into<String>) -> Self {
        self.message_key = Some(key.into());
        self
    }

    /// The RFC 5322 message: `From`, `To`, `Subject` (RFC 2047 encoded when not ASCII),
    /// `Date`, `Message-ID` (at the sender's domain) and a `multipart/alternative` body (text, then HTML).
    pub fn to_message(&self) -> Result<Message, MailError> {
        let from: Mailbox = self
            .from
            .trim()
            .parse()
            .map_err(|e| MailError::Address(format!("from {:?}: {e}", self.from)))?;
        let to: Mailbox = self
            .to
            .trim()
            .parse()
            .map_err(|e| MailError::Address(format!("to {:?}: {e}", self.to)))?;
        // The sender's domain rather than this host's name (often a container id).
        let local_part = self
            .message_key
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let message_id = format!("<{local_part}@{}>", from.email.domain());
        Message::builder()
            .message_id(Some(message_id))
            .from(from)
            .to(to)
            .subject(self.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                self.text.clone(),
                self.html.clone(),
            ))
            .map_err(|e| MailError::Address(e.to_string()))
    }
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A sender or recipient address that cannot be parsed; retrying will not help.
    #[error("invalid address: {0}")]
    Address(String),
    /// The server, the connection or the disk failed; retrying may help.
    #[error("mail transport: {0}")]
    Transport(String),
}

impl MailError {
    /// Whether sending the same message again could succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, MailError::Transport(_))
    }
}

/// Delivers messages. Object-safe (no `async_trait`): `send` returns a boxed future.
pub trait Mailer: Send + Sync {
    /// Sends one message; Err means try again later (the job queue retries).
    fn send<'a>(
        &'a self,
        message: &'a Outgoing,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;
}

/// Where messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailBackend {
    /// Printed to standard output (development).
    Console,
    /// Written as `.eml` files into [`MailSettings::file_dir`].
    File,
    /// Sent to an SMTP server.
    Smtp,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text: only for a relay on loopback or in development.
    None,
    /// STARTTLS, required: the send fails if the server does not offer it (port 587).
    StartTls,
    /// Implicit TLS from the first byte (port 465).
    Tls,
}

/// The mailer's configuration.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub backend: MailBackend,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<SecretString>,
    pub security: SmtpSecurity,
    /// Bounds the TCP connect and, separately, the whole SMTP exchange of one message.
    pub timeout: Duration,
    pub file_dir: PathBuf,
}

/// The mailer `settings` ask for. Call it inside a Tokio runtime (the SMTP mailer
/// spawns a task); the file mailer creates its directory here.
pub fn mailer(settings: &MailSettings) -> Result<Arc<dyn Mailer>, MailError> {
    Ok(match settings.backend {
        MailBackend::Console => Arc::new(ConsoleMailer),
        MailBackend::File => Arc::new(FileMailer::new(settings.file_dir.clone())?),
        MailBackend::Smtp => Arc::new(SmtpMailer::new(settings)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing() -> Outgoing {
        Outgoing {
            from: "Meet <no-reply@example.com>".into(),
            to: "alice@example.com".into(),
            subject: "Votre enregistrement est prêt".into(),
            text: "plain body".into(),
            html: "<p>html body</p>".into(),
            message_key: None,
        }
    }

    #[test]
    fn a_keyed_message_has_the_same_id_on_every_attempt() {
        let keyed = outgoing().keyed("recording-1-ready-2");
        let id = |message: &Outgoing| {
            let raw = String::from_utf8(message.to_message().unwrap().formatted()).unwrap();
            raw.lines()
                .find_map(|line| line.strip_prefix("Message-ID: ").map(str::to_owned))
                .unwrap()
        };
        assert_eq!(id(&keyed), id(&keyed));
        assert!(
            id(&keyed).starts_with("<recording-1-ready-2@"),
            "{}",
            id(&keyed)
        );
        assert_ne!(
            id(&outgoing()),
            id(&outgoing()),
            "unkeyed messages get fresh ids"
        );
    }

    #[test]
    fn message_is_multipart_alternative_with_both_parts() {
        let raw = String::from_utf8(outgoing().to_message().unwrap().formatted()).unwrap();
        assert!(
            raw.contains("From: Meet <no-reply@example.com>\r\n"),
            "{raw}"
        );
        assert!(raw.contains("To: alice@example.com\r\n"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/html; charset=utf-8"),
            "{raw}"
        );
        assert!(
            raw.contains("plain body") && raw.contains("<p>html body</p>"),
            "{raw}"
        );
        // Non-ASCII subject is RFC 2047 encoded, never raw UTF-8 in the header.
        assert!(
            !raw.contains("Subject: Votre enregistrement est prêt"),
            "{raw}"
        );
        assert!(
            raw.contains("Message-ID: <") && raw.contains("@example.com>\r\n"),
            "{raw}"
        );
        assert!(raw.contains("Date: "), "{raw}");
    }

    #[test]
    fn invalid_addresses_are_address_errors() {
        for (from, to) in [
            ("no-reply@example.com", "not an address"),
            ("no-reply@example.com", "a@b.com\r\nBcc: evil@example.com"),
            ("", "alice@example.com"),
        ] {
            let message = Outgoing {
                from: from.into(),
                to: to.into(),
                ..outgoing()
            };
            let error = message.to_message().unwrap_err();
            assert!(
                matches!(error, MailError::Address(_)),
                "{from:?} {to:?}: {error}"
            );
            assert!(!error.is_retryable());
        }
        assert!(MailError::Transport("x".into()).is_retryable());
    }

    #[test]
    fn from_rendered_uses_the_brand_sender() {
        let brand = Brand {
            name: "Meet".into(),
            support_email: None,
            from: "Meet <no-reply@example.com>".into(),
        };
        let rendered = Rendered {
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
        };
        let message = Outgoing::from_rendered(&brand, "bob@example.com", rendered);
        assert_eq!(
            message,
            Outgoing {
                from: "Meet <no-reply@example.com>".into(),
                to: "bob@example.com".into(),
                subject: "s".into(),
                text: "t".into(),
                html: "h".into(),
                message_key: None,
            }
        );
    }
}
