//! The mailers against the real world: [`SmtpMailer`] talks to a real SMTP server
//! (`aiosmtpd`, see `smtp.rs`) on loopback, [`FileMailer`] writes real files, and what
//! arrives is parsed back and checked: envelope, headers (the French subject decoded
//! from RFC 2047), both parts of the `multipart/alternative` body, the link.
//!
//! The failure paths matter as much, because the job queue retries on `Err`: a stopped
//! server and a server that never answers must give `MailError::Transport` within the
//! configured timeout, and a bad address must give `MailError::Address` and send nothing.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use meet_recorder::adapters::mail::{
    Brand, EmailKind, MailBackend, MailError, MailSettings, Outgoing, RecordingEmail, SmtpSecurity,
    mailer, render,
};
use meet_recorder_domain::Mode;

use crate::smtp::{ParsedEmail, SmtpServer, read_dir_sorted};

const LINK: &str = "https://meet.example.com/recording/7d0f4b0e-5f8e-4a57-9a8f-2f4b6f0c1d2e";
const ROOM: &str = "Équipe <R&D> \"été\"";

fn settings(backend: MailBackend, port: u16, timeout: Duration) -> MailSettings {
    MailSettings {
        backend,
        host: "127.0.0.1".into(),
        port,
        user: None,
        password: None,
        security: SmtpSecurity::None,
        timeout,
        file_dir: std::path::PathBuf::new(),
    }
}

fn brand() -> Brand {
    Brand {
        name: "La Suite Meet".into(),
        support_email: Some("support@example.com".into()),
        from: "La Suite Meet <no-reply@meet.example.com>".into(),
    }
}

/// A French user in Paris; recorded 2026-11-23 23:30 UTC = 2026-11-24 00:30 in Paris.
fn french_ready() -> RecordingEmail {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    RecordingEmail {
        kind: EmailKind::Ready,
        to: "camille@example.org".into(),
        language: "fr".into(),
        timezone: "Europe/Paris".into(),
        room_name: ROOM.into(),
        recorded_at: at("2026-11-23T23:30:00Z"),
        link: Some(LINK.into()),
        expires_at: Some(at("2026-12-23T23:30:00Z")),
        expiration_days: Some(30),
        mode: Mode::ScreenRecording,
    }
}

fn outgoing(email: &RecordingEmail) -> Outgoing {
    Outgoing::from_rendered(&brand(), &email.to, render(email, &brand()))
}

/// Everything a French "ready" email to camille@ must show once it has travelled.
fn assert_french_ready(raw: &str) {
    let parsed = ParsedEmail::parse(raw);
    assert_eq!(
        parsed.header("To").as_deref(),
        Some("camille@example.org"),
        "{raw}"
    );
    assert_eq!(
        parsed.decoded_header("From").as_deref(),
        Some("\"La Suite Meet\" <no-reply@meet.example.com>"),
        "{raw}"
    );
    let subject = parsed.header("Subject").unwrap();
    assert!(
        subject.contains("=?utf-8?"),
        "the subject must be RFC 2047 encoded: {subject}"
    );
    assert_eq!(
        parsed.decoded_header("Subject").as_deref(),
        Some("Votre enregistrement est prêt"),
        "{raw}"
    );
    assert!(
        parsed
            .header("Message-ID")
            .is_some_and(|id| id.ends_with("@meet.example.com>"))
    );
    assert!(
        parsed
            .header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"),
        "{raw}"
    );
    let kinds: Vec<&str> = parsed.parts.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["text/plain", "text/html"], "{raw}");

    let text = parsed.part("text/plain").unwrap();
    assert!(
        text.starts_with(
            "Votre enregistrement de «\u{a0}Équipe <R&D> \"été\"\u{a0}» du 2026-11-24 à 00:30 \
             est prêt à être téléchargé."
        ),
        "{text}"
    );
    assert!(text.contains(&format!("Ouvrir: {LINK}")), "{text}");
    assert!(
        text.contains("expirera dans 30 jours, le 2026-12-24."),
        "{text}"
    );

    let html = parsed.part("text/html").unwrap();
    assert!(html.contains(&format!("href=\"{LINK}\"")), "{html}");
    assert!(html.contains(">Ouvrir</a>"), "{html}");
    assert!(
        html.contains("Équipe &lt;R&amp;D&gt; &quot;été&quot;"),
        "{html}"
    );
    assert!(!html.contains("<R&D>"), "{html}");
    assert!(html.contains("du 2026-11-24 à 00:30"), "{html}");
}

#[tokio::test]
async fn smtp_mailer_delivers_a_french_ready_email() {
    let server = SmtpServer::start().await;
    let mailer = mailer(&settings(
        MailBackend::Smtp,
        server.port(),
        Duration::from_secs(5),
    ))
    .unwrap();
    let email = french_ready();
    mailer.send(&outgoing(&email)).await.unwrap();

    let messages = server.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1);
    let parsed = ParsedEmail::parse(&messages[0]);
    // The envelope, as the server saw it (added by aiosmtpd's handler).
    assert_eq!(
        parsed.header("X-RcptTo").as_deref(),
        Some("camille@example.org")
    );
    assert_eq!(
        parsed.header("X-MailFrom").as_deref(),
        Some("no-reply@meet.example.com")
    );
    assert_french_ready(&messages[0]);
}

#[tokio::test]
async fn smtp_mailer_sends_consecutive_messages_on_fresh_connections() {
    let server = SmtpServer::start().await;
    let mailer = mailer(&settings(
        MailBackend::Smtp,
        server.port(),
        Duration::from_secs(5),
    ))
    .unwrap();
    let ready = RecordingEmail {
        to: "first@example.org".into(),
        language: "de".into(),
        ..french_ready()
    };
    let failed = RecordingEmail {
        kind: EmailKind::Failed,
        to: "second@example.org".into(),
        language: "nl".into(),
        link: None,
        ..french_ready()
    };
    mailer.send(&outgoing(&ready)).await.unwrap();
    mailer.send(&outgoing(&failed)).await.unwrap();

    let messages = server.wait_for(2, Duration::from_secs(10)).await;
    let mut parsed: Vec<ParsedEmail> = messages.iter().map(|m| ParsedEmail::parse(m)).collect();
    parsed.sort_by_key(|p| p.header("To"));
    assert_eq!(
        parsed[0].header("X-RcptTo").as_deref(),
        Some("first@example.org")
    );
    assert_eq!(
        parsed[0].decoded_header("Subject").as_deref(),
        Some("Ihre Aufnahme ist fertig")
    );
    assert!(parsed[0].part("text/plain").unwrap().contains(LINK));

    assert_eq!(
        parsed[1].header("X-RcptTo").as_deref(),
        Some("second@example.org")
    );
    assert_eq!(
        parsed[1].decoded_header("Subject").as_deref(),
        Some("Je opname kon niet worden opgeslagen")
    );
    let text = parsed[1].part("text/plain").unwrap();
    assert!(text.contains("kon niet worden opgeslagen."), "{text}");
    for (_, body) in &parsed[1].parts {
        assert!(
            !body.contains("https://meet.example.com"),
            "a failed email has no link: {body}"
        );
    }
}

#[tokio::test]
async fn file_mailer_writes_a_complete_eml() {
    let dir = tempfile::tempdir().unwrap();
    let mail_dir = dir.path().join("mail");
    let mut settings = settings(MailBackend::File, 0, Duration::from_secs(5));
    settings.file_dir = mail_dir.clone();
    let mailer = mailer(&settings).unwrap();
    assert!(
        mail_dir.is_dir(),
        "the directory is created with the mailer"
    );
    mailer.send(&outgoing(&french_ready())).await.unwrap();

    let names: Vec<String> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with(".eml"), "{names:?}");
    let files = read_dir_sorted(&mail_dir);
    let raw = &files[0];
    assert!(
        raw.contains("\r\n"),
        "an .eml keeps the wire format's CRLF line endings"
    );
    assert_french_ready(raw);
}

#[tokio::test]
async fn stopped_server_is_a_quick_transport_error() {
    let port = SmtpServer::start().await.stop().await;
    let timeout = Duration::from_secs(2);
    let mailer = mailer(&settings(MailBackend::Smtp, port, timeout)).unwrap();
    let started = Instant::now();
    let result = mailer.send(&outgoing(&french_ready())).await;
    let elapsed = started.elapsed();
    assert!(matches!(result, Err(MailError::Transport(_))), "{result:?}");
    assert!(elapsed < timeout, "took {elapsed:?}");
}

#[tokio::test]
async fn silent_server_is_a_transport_error_after_the_timeout() {
    // Accepts connections and never says a word: lettre alone would wait forever.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let timeout = Duration::from_secs(1);
    let mailer = mailer(&settings(MailBackend::Smtp, port, timeout)).unwrap();
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        mailer.send(&outgoing(&french_ready())),
    )
    .await
    .expect("the mailer must give up by itself");
    let elapsed = started.elapsed();
    assert!(matches!(result, Err(MailError::Transport(_))), "{result:?}");
    assert!(
        elapsed >= timeout && elapsed < timeout * 3,
        "took {elapsed:?}"
    );
    holder.abort();
}

#[tokio::test]
async fn invalid_address_is_an_address_error_and_sends_nothing() {
    let server = SmtpServer::start().await;
    let smtp = mailer(&settings(
        MailBackend::Smtp,
        server.port(),
        Duration::from_secs(5),
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut file_settings = settings(MailBackend::File, 0, Duration::from_secs(5));
    file_settings.file_dir = dir.path().to_path_buf();
    let file = mailer(&file_settings).unwrap();

    let bad_to = outgoing(&RecordingEmail {
        to: "camille at example.org".into(),
        ..french_ready()
    });
    let bad_from = Outgoing {
        from: "La Suite Meet <no-reply>".into(),
        ..outgoing(&french_ready())
    };
    for message in [&bad_to, &bad_from] {
        for mailer in [&smtp, &file] {
            let result = mailer.send(message).await;
            assert!(
                matches!(result, Err(MailError::Address(_))),
                "{:?} → {result:?}",
                (&message.from, &message.to)
            );
        }
    }
    // A valid message afterwards is the only one that arrives.
    smtp.send(&outgoing(&french_ready())).await.unwrap();
    let messages = server.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1);
    assert_french_ready(&messages[0]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
