//! The words of the notification emails, one [`Table`] per language, as plain Rust
//! `format!` code (no template engine), plus the HTML skeleton they are poured into.
//!
//! Each sentence is written whole for each mode (recording, transcript) because the
//! nouns have different genders in French and German. The functions receive values
//! already prepared for the part being built: raw for the text part, HTML-escaped (and
//! possibly wrapped in markup) for the HTML part, so nothing here escapes anything
//! except [`escape_html`] itself.

use meet_recorder_domain::Mode;

/// The recording's room and local date and time, as inserted into sentences.
pub(super) struct Moment<'a> {
    pub room: &'a str,
    pub date: &'a str,
    pub time: &'a str,
}

/// What is known about when the recording expires.
pub(super) enum Expiry {
    Days(u32),
    Date(String),
    DaysAndDate(u32, String),
}

/// One language's wording.
pub(super) struct Table {
    pub subject_ready: fn(Mode) -> &'static str,
    pub subject_failed: fn(Mode) -> &'static str,
    /// "Your recording of "{room}" on {date} at {time} is now ready to download."
    pub ready: fn(Mode, &Moment) -> String,
    /// "Your recording of "{room}" on {date} at {time} could not be saved."
    pub failed: fn(Mode, &Moment) -> String,
    /// Follows the failed line; gives no reason.
    pub apology: &'static str,
    pub expiry: fn(Mode, &Expiry) -> String,
    /// The button's label.
    pub open: &'static str,
    /// "This email was sent by {brand}."
    pub footer: fn(&str) -> String,
    /// "Need help? Contact {support}."
    pub support: fn(&str) -> String,
}

pub(super) const EN: Table = Table {
    subject_ready: |mode| match mode {
        Mode::ScreenRecording => "Your recording is ready",
        Mode::Transcript => "Your transcript is ready",
    },
    subject_failed: |mode| match mode {
        Mode::ScreenRecording => "Your recording could not be saved",
        Mode::Transcript => "Your transcript could not be saved",
    },
    ready: |mode, m| {
        let noun = en_noun(mode);
        format!(
            "Your {noun} of \"{}\" on {} at {} is now ready to download.",
            m.room, m.date, m.time
        )
    },
    failed: |mode, m| {
        let noun = en_noun(mode);
        format!(
            "Your {noun} of \"{}\" on {} at {} could not be saved.",
            m.room, m.date, m.time
        )
    },
    apology: "We are sorry for the inconvenience.",
    expiry: |mode, expiry| {
        let noun = en_noun(mode);
        let days = |n: u32| {
            if n == 1 {
                "1 day".to_owned()
            } else {
                format!("{n} days")
            }
        };
        match expiry {
            Expiry::DaysAndDate(n, date) => {
                format!("The {noun} will expire in {}, on {date}.", days(*n))
            }
            Expiry::Days(n) => format!("The {noun} will expire in {}.", days(*n)),
            Expiry::Date(date) => format!("The {noun} will be available until {date}."),
        }
    },
    open: "Open",
    footer: |brand| format!("This email was sent by {brand}."),
    support: |support| format!("Need help? Contact us at {support}."),
};

fn en_noun(mode: Mode) -> &'static str {
    match mode {
        Mode::ScreenRecording => "recording",
        Mode::Transcript => "transcript",
    }
}

/// French: « guillemets » with non-breaking spaces, and before "?".
pub(super) const FR: Table = Table {
    subject_ready: |mode| match mode {
        Mode::ScreenRecording => "Votre enregistrement est prêt",
        Mode::Transcript => "Votre transcription est prête",
    },
    subject_failed: |mode| match mode {
        Mode::ScreenRecording => "Votre enregistrement n’a pas pu être sauvegardé",
        Mode::Transcript => "Votre transcription n’a pas pu être sauvegardée",
    },
    ready: |mode, m| match mode {
        Mode::ScreenRecording => format!(
            "Votre enregistrement de «\u{a0}{}\u{a0}» du {} à {} est prêt à être téléchargé.",
            m.room, m.date, m.time
        ),
        Mode::Transcript => format!(
            "Votre transcription de «\u{a0}{}\u{a0}» du {} à {} est prête à être téléchargée.",
            m.room, m.date, m.time
        ),
    },
    failed: |mode, m| match mode {
        Mode::ScreenRecording => format!(
            "Votre enregistrement de «\u{a0}{}\u{a0}» du {} à {} n’a pas pu être sauvegardé.",
            m.room, m.date, m.time
        ),
        Mode::Transcript => format!(
            "Votre transcription de «\u{a0}{}\u{a0}» du {} à {} n’a pas pu être sauvegardée.",
            m.room, m.date, m.time
        ),
    },
    apology: "Nous vous prions de nous excuser pour ce désagrément.",
    expiry: |mode, expiry| {
        let subject = match mode {
            Mode::ScreenRecording => "L’enregistrement",
            Mode::Transcript => "La transcription",
        };
        let days = |n: u32| {
            if n == 1 {
                "1 jour".to_owned()
            } else {
                format!("{n} jours")
            }
        };
        match expiry {
            Expiry::DaysAndDate(n, date) => {
                format!("{subject} expirera dans {}, le {date}.", days(*n))
            }
            Expiry::Days(n) => format!("{subject} expirera dans {}.", days(*n)),
            Expiry::Date(date) => format!("{subject} sera disponible jusqu’au {date}."),
        }
    },
    open: "Ouvrir",
    footer: |brand| format!("Cet e-mail vous a été envoyé par {brand}."),
    support: |support| format!("Besoin d’aide\u{a0}? Écrivez-nous à {support}."),
};

/// German: formal "Sie", „Anführungszeichen“.
pub(super) const DE: Table = Table {
    subject_ready: |mode| match mode {
        Mode::ScreenRecording => "Ihre Aufnahme ist fertig",
        Mode::Transcript => "Ihr Transkript ist fertig",
    },
    subject_failed: |mode| match mode {
        Mode::ScreenRecording => "Ihre Aufnahme konnte nicht gespeichert werden",
        Mode::Transcript => "Ihr Transkript konnte nicht gespeichert werden",
    },
    ready: |mode, m| {
        let noun = de_noun(mode);
        format!(
            "{noun} von „{}“ am {} um {} steht jetzt zum Herunterladen bereit.",
            m.room, m.date, m.time
        )
    },
    failed: |mode, m| {
        let noun = de_noun(mode);
        format!(
            "{noun} von „{}“ am {} um {} konnte nicht gespeichert werden.",
            m.room, m.date, m.time
        )
    },
    apology: "Bitte entschuldigen Sie die Unannehmlichkeiten.",
    expiry: |mode, expiry| {
        let subject = match mode {
            Mode::ScreenRecording => "Die Aufnahme",
            Mode::Transcript => "Das Transkript",
        };
        let days = |n: u32| {
            if n == 1 {
                "1 Tag".to_owned()
            } else {
                format!("{n} Tagen")
            }
        };
        match expiry {
            Expiry::DaysAndDate(n, date) => {
                format!("{subject} läuft in {} ab, am {date}.", days(*n))
            }
            Expiry::Days(n) => format!("{subject} läuft in {} ab.", days(*n)),
            Expiry::Date(date) => format!("{subject} ist bis zum {date} verfügbar."),
        }
    },
    open: "Öffnen",
    footer: |brand| format!("Diese E-Mail wurde von {brand} versendet."),
    support: |support| format!("Fragen? Schreiben Sie uns an {support}."),
};

fn de_noun(mode: Mode) -> &'static str {
    match mode {
        Mode::ScreenRecording => "Ihre Aufnahme",
        Mode::Transcript => "Ihr Transkript",
    }
}

/// Dutch: informal "je", as in the reference's subject.
pub(super) const NL: Table = Table {
    subject_ready: |mode| match mode {
        Mode::ScreenRecording => "Je opname is klaar",
        Mode::Transcript => "Je transcriptie is klaar",
    },
    subject_failed: |mode| match mode {
        Mode::ScreenRecording => "Je opname kon niet worden opgeslagen",
        Mode::Transcript => "Je transcriptie kon niet worden opgeslagen",
    },
    ready: |mode, m| {
        let noun = nl_noun(mode);
        format!(
            "Je {noun} van \"{}\" op {} om {} staat klaar om te downloaden.",
            m.room, m.date, m.time
        )
    },
    failed: |mode, m| {
        let noun = nl_noun(mode);
        format!(
            "Je {noun} van \"{}\" op {} om {} kon niet worden opgeslagen.",
            m.room, m.date, m.time
        )
    },
    apology: "Onze excuses voor het ongemak.",
    expiry: |mode, expiry| {
        let noun = nl_noun(mode);
        let days = |n: u32| {
            if n == 1 {
                "1 dag".to_owned()
            } else {
                format!("{n} dagen")
            }
        };
        match expiry {
            Expiry::DaysAndDate(n, date) => {
                format!("De {noun} verloopt over {}, op {date}.", days(*n))
            }
            Expiry::Days(n) => format!("De {noun} verloopt over {}.", days(*n)),
            Expiry::Date(date) => format!("De {noun} is beschikbaar tot {date}."),
        }
    },
    open: "Openen",
    footer: |brand| format!("Deze e-mail is verstuurd door {brand}."),
    support: |support| format!("Hulp nodig? Mail ons op {support}."),
};

fn nl_noun(mode: Mode) -> &'static str {
    match mode {
        Mode::ScreenRecording => "opname",
        Mode::Transcript => "transcriptie",
    }
}

/// Escapes text for HTML content and double- or single-quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The "Open" button: a link styled as a button (tables and inline styles, for mail
/// clients). `href` must be escaped already.
pub(super) fn button(href: &str, label: &str) -> String {
    format!(
        "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"margin:8px 0 24px 0;\"><tr>\
<td style=\"border-radius:6px;background:#000091;\">\
<a href=\"{href}\" style=\"display:inline-block;padding:12px 28px;font-size:16px;font-weight:bold;color:#ffffff;text-decoration:none;border-radius:6px;\">{label}</a>\
</td></tr></table>\n"
    )
}

/// The whole HTML document. Every argument must be escaped (or trusted markup) already.
pub(super) fn page(
    lang: &str,
    title: &str,
    body: &str,
    footer: &str,
    support: Option<&str>,
) -> String {
    let support = support
        .map(|line| format!("<p style=\"margin:4px 0 0 0;\">{line}</p>"))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>
<html lang=\"{lang}\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>{title}</title>
</head>
<body style=\"margin:0;padding:0;background:#f4f4f4;font-family:Arial,Helvetica,sans-serif;\">
<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"background:#f4f4f4;\"><tr><td align=\"center\" style=\"padding:24px 12px;\">
<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"max-width:600px;background:#ffffff;border-radius:8px;\"><tr><td style=\"padding:32px;\">
<h1 style=\"margin:0 0 24px 0;font-size:22px;line-height:30px;color:#000091;\">{title}</h1>
{body}</td></tr></table>
<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"max-width:600px;\"><tr><td style=\"padding:16px 32px;font-size:13px;line-height:20px;color:#555555;\">
<p style=\"margin:0;\">{footer}</p>{support}
</td></tr></table>
</td></tr></table>
</body>
</html>
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_html_escapes_the_five_characters() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape_html("plain é text"), "plain é text");
        // Escaping is not idempotent by design: an entity in a room name stays visible.
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
    }
}
