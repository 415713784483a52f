//! Rendering: from a [`RecordingEmail`] (what happened, to whom, in which language and
//! timezone) to a [`Rendered`] subject, plain-text part and HTML part.
//!
//! The words and the markup live in the askama templates (`templates/mail/`, see
//! `templates.rs`); this file picks the language, localizes the dates (the owner's
//! timezone, UTC when it is not a valid IANA name), decides what the email shows (a
//! failed recording has no link and no expiry) and renders the three templates.
//! Everything the user controls (the room name) and everything configured (brand,
//! addresses, link) is HTML-escaped in the HTML part by the template.

use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use meet_recorder_domain::Mode;

use super::{
    Language,
    templates::{Expiry, HtmlPart, Message, Subject, TextPart},
};

/// Which news an email brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    /// The recording is saved and can be downloaded.
    Ready,
    /// The recording could not be saved.
    Failed,
}

/// What a notification says.
#[derive(Debug, Clone)]
pub struct RecordingEmail {
    pub kind: EmailKind,
    /// The recipient's address.
    pub to: String,
    /// The user's language code; see [`Language::from_code`].
    pub language: String,
    /// IANA name; invalid → UTC.
    pub timezone: String,
    pub room_name: String,
    /// Rendered in the user's timezone as `%Y-%m-%d` and `%H:%M`.
    pub recorded_at: DateTime<Utc>,
    /// `{RECORDING_DOWNLOAD_BASE_URL}/{id}`; None for Failed (ignored there if set).
    pub link: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub expiration_days: Option<u32>,
    /// `screen_recording` → "recording", `transcript` → "transcript" wording.
    pub mode: Mode,
}

/// A rendered notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Who the emails come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    /// Shown in the footer.
    pub name: String,
    /// Shown in the footer when set.
    pub support_email: Option<String>,
    /// The `From` header: `Name <addr>` or `addr`.
    pub from: String,
}

/// The user's timezone, UTC when `name` is not a valid IANA name.
fn timezone(name: &str) -> Tz {
    name.trim().parse::<Tz>().unwrap_or_else(|_| {
        tracing::debug!(timezone = name, "unknown timezone in email, using UTC");
        Tz::UTC
    })
}

/// Renders `email` in the user's language and timezone.
pub fn render(email: &RecordingEmail, brand: &Brand) -> Rendered {
    let lang = Language::from_code(&email.language);
    let tz = timezone(&email.timezone);
    let local = email.recorded_at.with_timezone(&tz);
    let (link, expiry) = match email.kind {
        EmailKind::Ready => {
            let expiry_date = email
                .expires_at
                .map(|at| at.with_timezone(&tz).format("%Y-%m-%d").to_string());
            let expiry = match (email.expiration_days, expiry_date) {
                (Some(days), Some(date)) => Some(Expiry::DaysAndDate(days, date)),
                (Some(days), None) => Some(Expiry::Days(days)),
                (None, Some(date)) => Some(Expiry::Date(date)),
                (None, None) => None,
            };
            (email.link.as_deref(), expiry)
        }
        EmailKind::Failed => (None, None),
    };
    let subject = render_template(&Subject {
        lang,
        kind: email.kind,
        mode: email.mode,
    });
    let message = Message {
        lang,
        kind: email.kind,
        mode: email.mode,
        subject: &subject,
        room: &email.room_name,
        date: local.format("%Y-%m-%d").to_string(),
        time: local.format("%H:%M").to_string(),
        expiry,
        link,
        brand: &brand.name,
        support: brand.support_email.as_deref(),
    };
    Rendered {
        text: render_template(&TextPart { m: &message }),
        html: render_template(&HtmlPart { m: &message }),
        subject,
    }
}

/// Our templates only write strings and numbers, which cannot fail.
fn render_template(template: &impl Template) -> String {
    template
        .render()
        .expect("the email templates render plain values")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::mail::escape_html;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn brand() -> Brand {
        Brand {
            name: "La Suite Meet".into(),
            support_email: Some("support@example.com".into()),
            from: "Meet <no-reply@example.com>".into(),
        }
    }

    fn ready(language: &str) -> RecordingEmail {
        RecordingEmail {
            kind: EmailKind::Ready,
            to: "alice@example.com".into(),
            language: language.into(),
            timezone: "UTC".into(),
            room_name: "Weekly sync".into(),
            recorded_at: at("2026-03-02T09:05:00Z"),
            link: Some("https://meet.example.com/recording/0b6e9f1c".into()),
            expires_at: Some(at("2026-04-01T09:05:00Z")),
            expiration_days: Some(30),
            mode: Mode::ScreenRecording,
        }
    }

    fn failed(language: &str) -> RecordingEmail {
        RecordingEmail {
            kind: EmailKind::Failed,
            link: None,
            expires_at: None,
            expiration_days: None,
            ..ready(language)
        }
    }

    #[test]
    fn each_language_renders_its_subject_and_body() {
        let cases = [
            (
                "en",
                "Your recording is ready",
                "Your recording of \"Weekly sync\" on 2026-03-02 at 09:05 is now ready to download.",
                "Open: https://meet.example.com/recording/0b6e9f1c",
                "lang=\"en\"",
            ),
            (
                "fr",
                "Votre enregistrement est prêt",
                "Votre enregistrement de «\u{a0}Weekly sync\u{a0}» du 2026-03-02 à 09:05 est prêt à être téléchargé.",
                "Ouvrir: https://meet.example.com/recording/0b6e9f1c",
                "lang=\"fr\"",
            ),
            (
                "de",
                "Ihre Aufnahme ist fertig",
                "Ihre Aufnahme von „Weekly sync“ am 2026-03-02 um 09:05 steht jetzt zum Herunterladen bereit.",
                "Öffnen: https://meet.example.com/recording/0b6e9f1c",
                "lang=\"de\"",
            ),
            (
                "nl",
                "Je opname is klaar",
                "Je opname van \"Weekly sync\" op 2026-03-02 om 09:05 staat klaar om te downloaden.",
                "Openen: https://meet.example.com/recording/0b6e9f1c",
                "lang=\"nl\"",
            ),
        ];
        for (code, subject, line, open, lang) in cases {
            let rendered = render(&ready(code), &brand());
            assert_eq!(rendered.subject, subject, "{code}");
            assert!(rendered.text.starts_with(line), "{code}: {}", rendered.text);
            assert!(rendered.text.contains(open), "{code}: {}", rendered.text);
            assert!(rendered.html.contains(lang), "{code}");
            assert!(
                rendered
                    .html
                    .contains(&format!("<title>{}</title>", escape_html(subject))),
                "{code}"
            );
        }
        // Unknown language → English.
        assert_eq!(
            render(&ready("es"), &brand()).subject,
            "Your recording is ready"
        );
    }

    #[test]
    fn each_language_has_a_failed_subject_and_apology() {
        let cases = [
            (
                "en",
                "Your recording could not be saved",
                "could not be saved.",
                "sorry",
            ),
            (
                "fr",
                "Votre enregistrement n’a pas pu être sauvegardé",
                "n’a pas pu être sauvegardé.",
                "excuser",
            ),
            (
                "de",
                "Ihre Aufnahme konnte nicht gespeichert werden",
                "konnte nicht gespeichert werden.",
                "entschuldigen",
            ),
            (
                "nl",
                "Je opname kon niet worden opgeslagen",
                "kon niet worden opgeslagen.",
                "excuses",
            ),
        ];
        for (code, subject, line_end, apology) in cases {
            let rendered = render(&failed(code), &brand());
            assert_eq!(rendered.subject, subject, "{code}");
            let first = rendered.text.lines().next().unwrap();
            assert!(
                first.contains("Weekly sync") && first.contains("2026-03-02"),
                "{first}"
            );
            assert!(first.ends_with(line_end), "{code}: {first}");
            assert!(rendered.text.contains(apology), "{code}: {}", rendered.text);
            assert!(rendered.html.contains(apology), "{code}");
        }
    }

    #[test]
    fn transcript_mode_uses_transcript_wording() {
        let cases = [
            (
                "en",
                "Your transcript is ready",
                "Your transcript of \"Weekly sync\"",
                "Your transcript could not be saved",
            ),
            (
                "fr",
                "Votre transcription est prête",
                "Votre transcription de «\u{a0}Weekly sync",
                "Votre transcription n’a pas pu être sauvegardée",
            ),
            (
                "de",
                "Ihr Transkript ist fertig",
                "Ihr Transkript von „Weekly sync“",
                "Ihr Transkript konnte nicht gespeichert werden",
            ),
            (
                "nl",
                "Je transcriptie is klaar",
                "Je transcriptie van \"Weekly sync\"",
                "Je transcriptie kon niet worden opgeslagen",
            ),
        ];
        for (code, subject, start, failed_subject) in cases {
            let email = RecordingEmail {
                mode: Mode::Transcript,
                ..ready(code)
            };
            let rendered = render(&email, &brand());
            assert_eq!(rendered.subject, subject, "{code}");
            assert!(
                rendered.text.starts_with(start),
                "{code}: {}",
                rendered.text
            );
            let email = RecordingEmail {
                mode: Mode::Transcript,
                ..failed(code)
            };
            assert_eq!(render(&email, &brand()).subject, failed_subject, "{code}");
        }
    }

    #[test]
    fn date_and_time_are_in_the_users_timezone() {
        let email = RecordingEmail {
            timezone: "Europe/Paris".into(),
            recorded_at: at("2026-11-23T23:30:00Z"),
            expires_at: Some(at("2026-12-23T23:30:00Z")),
            ..ready("en")
        };
        let rendered = render(&email, &brand());
        assert!(
            rendered.text.starts_with(
                "Your recording of \"Weekly sync\" on 2026-11-24 at 00:30 is now ready"
            ),
            "{}",
            rendered.text
        );
        assert!(
            rendered.html.contains("on 2026-11-24 at 00:30"),
            "{}",
            rendered.html
        );
        // The expiry date too is local: 2026-12-24 in Paris.
        assert!(
            rendered
                .text
                .contains("The recording will expire in 30 days, on 2026-12-24."),
            "{}",
            rendered.text
        );
        // Summer time: UTC+2.
        let summer = RecordingEmail {
            timezone: "Europe/Paris".into(),
            recorded_at: at("2026-07-01T21:59:00Z"),
            ..ready("en")
        };
        assert!(
            render(&summer, &brand())
                .text
                .contains("on 2026-07-01 at 23:59")
        );
    }

    #[test]
    fn invalid_timezone_falls_back_to_utc() {
        for tz in ["Mars/Olympus_Mons", "", "+02:00", "europe/paris "] {
            let email = RecordingEmail {
                timezone: tz.into(),
                recorded_at: at("2026-11-23T23:30:00Z"),
                ..ready("en")
            };
            let rendered = render(&email, &brand());
            assert!(
                rendered.text.contains("on 2026-11-23 at 23:30"),
                "{tz:?}: {}",
                rendered.text
            );
        }
    }

    #[test]
    fn html_escapes_the_room_name_and_brand() {
        let email = RecordingEmail {
            room_name: "<script>alert('x' & \"y\")</script>".into(),
            ..ready("en")
        };
        let brand = Brand {
            name: "Acme <b>".into(),
            ..brand()
        };
        let rendered = render(&email, &brand);
        assert!(!rendered.html.contains("<script>"), "{}", rendered.html);
        assert!(!rendered.html.contains("Acme <b>"), "{}", rendered.html);
        assert!(
            rendered
                .html
                .contains("&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;"),
            "{}",
            rendered.html
        );
        assert!(
            rendered.html.contains("Acme &lt;b&gt;"),
            "{}",
            rendered.html
        );
        // The text part is not HTML: the name stays as typed.
        assert!(
            rendered
                .text
                .contains("<script>alert('x' & \"y\")</script>")
        );
    }

    #[test]
    fn link_appears_in_both_parts() {
        let rendered = render(&ready("en"), &brand());
        let link = "https://meet.example.com/recording/0b6e9f1c";
        assert!(rendered.text.contains(link), "{}", rendered.text);
        assert!(
            rendered.html.contains(&format!("href=\"{link}\"")),
            "{}",
            rendered.html
        );
        assert!(rendered.html.contains(">Open</a>"), "{}", rendered.html);
        // An ampersand in the link is escaped in the attribute, not in the text.
        let email = RecordingEmail {
            link: Some("https://x.example/r?a=1&b=2".into()),
            ..ready("en")
        };
        let rendered = render(&email, &brand());
        assert!(rendered.text.contains("https://x.example/r?a=1&b=2"));
        assert!(
            rendered
                .html
                .contains("href=\"https://x.example/r?a=1&amp;b=2\"")
        );
    }

    #[test]
    fn failed_has_no_link_nor_expiry() {
        // Even if the caller passes a link and an expiry, Failed shows neither.
        let email = RecordingEmail {
            kind: EmailKind::Failed,
            ..ready("en")
        };
        let rendered = render(&email, &brand());
        assert!(!rendered.text.contains("https://"), "{}", rendered.text);
        assert!(!rendered.html.contains("https://"), "{}", rendered.html);
        assert!(
            !rendered.html.contains("<a href=\"http"),
            "{}",
            rendered.html
        );
        assert!(!rendered.text.contains("Open"), "{}", rendered.text);
        assert!(!rendered.text.contains("expire"), "{}", rendered.text);
        assert!(rendered.text.starts_with(
            "Your recording of \"Weekly sync\" on 2026-03-02 at 09:05 could not be saved."
        ));
    }

    #[test]
    fn expiry_line_variants() {
        let only_days = RecordingEmail {
            expires_at: None,
            ..ready("en")
        };
        assert!(
            render(&only_days, &brand())
                .text
                .contains("The recording will expire in 30 days.\n")
        );
        let one_day = RecordingEmail {
            expires_at: None,
            expiration_days: Some(1),
            ..ready("de")
        };
        assert!(
            render(&one_day, &brand()).text.contains("in 1 Tag ab."),
            "{}",
            render(&one_day, &brand()).text
        );
        let only_date = RecordingEmail {
            expiration_days: None,
            ..ready("fr")
        };
        assert!(
            render(&only_date, &brand())
                .text
                .contains("jusqu’au 2026-04-01"),
            "{}",
            render(&only_date, &brand()).text
        );
        let none = RecordingEmail {
            expiration_days: None,
            expires_at: None,
            ..ready("nl")
        };
        let text = render(&none, &brand()).text;
        assert!(
            !text.contains("verloopt") && !text.contains("beschikbaar"),
            "{text}"
        );
        let nl = render(&ready("nl"), &brand()).text;
        assert!(
            nl.contains("De opname verloopt over 30 dagen, op 2026-04-01."),
            "{nl}"
        );
    }

    #[test]
    fn footer_names_the_brand_and_support_when_set() {
        let rendered = render(&ready("en"), &brand());
        assert!(rendered.text.contains("La Suite Meet"), "{}", rendered.text);
        assert!(rendered.text.contains("support@example.com"));
        assert!(
            rendered
                .html
                .contains("href=\"mailto:support@example.com\"")
        );
        let no_support = Brand {
            support_email: None,
            ..brand()
        };
        let rendered = render(&ready("en"), &no_support);
        assert!(!rendered.text.contains("support@"), "{}", rendered.text);
        assert!(!rendered.html.contains("mailto:"));
        // Our improvement over the reference: no "sharing is not available" sentence.
        assert!(!rendered.text.to_lowercase().contains("sharing"));
    }
}
