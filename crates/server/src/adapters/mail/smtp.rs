//! The SMTP mailer: lettre's `AsyncSmtpTransport` on the Tokio runtime, with plain,
//! STARTTLS or implicit-TLS connections and optional credentials.
//!
//! Two details matter for a job queue that retries on error:
//! - lettre's own timeout bounds only the TCP connect; a server that accepts and then
//!   stays silent would hang the send forever. Each send therefore runs under a
//!   deadline of [`MailSettings::timeout`] for the whole exchange.
//! - Cancelling a send mid-dialogue would hand a half-used connection back to lettre's
//!   pool, where the next message could read the previous one's replies. The pool is
//!   therefore sized 0: every message gets a fresh connection, closed after use. Emails
//!   here are rare (one per recording), so reuse would buy nothing.

use std::{future::Future, pin::Pin, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    transport::smtp::{PoolConfig, authentication::Credentials},
};
use secrecy::ExposeSecret;

use super::{MailError, MailSettings, Mailer, Outgoing, SmtpSecurity};

/// Sends through an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// The deadline for one whole send.
    timeout: Duration,
    /// `host:port`, for error messages.
    server: String,
}

impl SmtpMailer {
    /// A mailer for `settings.host:settings.port`. Nothing is contacted yet. Must be
    /// called inside a Tokio runtime (lettre's pool spawns its housekeeping task).
    pub fn new(settings: &MailSettings) -> Result<Self, MailError> {
        let host = settings.host.trim();
        if host.is_empty() {
            return Err(MailError::Transport("no SMTP host configured".into()));
        }
        let builder = match settings.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| MailError::Transport(format!("STARTTLS setup for {host}: {e}")))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| MailError::Transport(format!("TLS setup for {host}: {e}")))?,
        };
        let mut builder = builder
            .port(settings.port)
            .timeout(Some(settings.timeout))
            .pool_config(PoolConfig::new().max_size(0));
        if let (Some(user), Some(password)) = (&settings.user, &settings.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            timeout: settings.timeout,
            server: format!("{host}:{}", settings.port),
        })
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(
        &'a self,
        message: &'a Outgoing,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>> {
        Box::pin(async move {
            let email = message.to_message()?;
            match tokio::time::timeout(self.timeout, self.transport.send(email)).await {
                Ok(Ok(response)) => {
                    tracing::debug!(
                        server = %self.server,
                        code = %response.code(),
                        "email accepted by the SMTP server"
                    );
                    Ok(())
                }
                Ok(Err(error)) => Err(MailError::Transport(format!("{}: {error}", self.server))),
                Err(_) => Err(MailError::Transport(format!(
                    "{}: no answer within {:?}",
                    self.server, self.timeout
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::mail::MailBackend;

    fn settings(host: &str, security: SmtpSecurity) -> MailSettings {
        MailSettings {
            backend: MailBackend::Smtp,
            host: host.into(),
            port: 2525,
            user: Some("user".into()),
            password: Some("secret".into()),
            security,
            timeout: Duration::from_secs(1),
            file_dir: "unused".into(),
        }
    }

    #[tokio::test]
    async fn builds_for_every_security_and_rejects_an_empty_host() {
        for security in [
            SmtpSecurity::None,
            SmtpSecurity::StartTls,
            SmtpSecurity::Tls,
        ] {
            SmtpMailer::new(&settings("smtp.example.com", security)).unwrap();
        }
        let error = SmtpMailer::new(&settings("  ", SmtpSecurity::None))
            .err()
            .expect("an empty host is refused");
        assert!(matches!(error, MailError::Transport(_)), "{error}");
    }
}
