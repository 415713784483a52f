//! The askama templates of the notification emails (`templates/mail/`: the words of
//! every language in `words.txt`, the parts in `subject.txt`, `email.txt` and
//! `email.html`) and the HTML escaper every `.html` template of the crate uses.
//!
//! The templates are compiled with the crate: a missing variable, a misspelt field or a
//! language without its translation is a build error, not a broken email.

use std::fmt::{self, Write};

use askama::Template;
use meet_recorder_domain::Mode;

use super::{EmailKind, Language};

/// What is known about when the recording expires.
pub(super) enum Expiry {
    Days(u32),
    Date(String),
    DaysAndDate(u32, String),
}

/// Everything an email says, ready to be poured into its parts: raw values, which each
/// part escapes as it needs.
pub(super) struct Message<'a> {
    pub lang: Language,
    pub kind: EmailKind,
    pub mode: Mode,
    pub subject: &'a str,
    pub room: &'a str,
    /// Local date (`%Y-%m-%d`) and time (`%H:%M`) of the recording.
    pub date: String,
    pub time: String,
    pub expiry: Option<Expiry>,
    pub link: Option<&'a str>,
    pub brand: &'a str,
    pub support: Option<&'a str>,
}

/// The subject line.
#[derive(Template)]
#[template(path = "mail/subject.txt", config = "templates/askama.toml")]
pub(super) struct Subject {
    pub lang: Language,
    pub kind: EmailKind,
    pub mode: Mode,
}

/// The `text/plain` part.
#[derive(Template)]
#[template(path = "mail/email.txt", config = "templates/askama.toml")]
pub(super) struct TextPart<'a> {
    pub m: &'a Message<'a>,
}

/// The `text/html` part.
#[derive(Template)]
#[template(path = "mail/email.html", config = "templates/askama.toml")]
pub(super) struct HtmlPart<'a> {
    pub m: &'a Message<'a>,
}

/// The escaper of every `.html` template (see `templates/askama.toml`): the five
/// characters that matter in HTML content and in quoted attributes, as named entities.
#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlEscaper;

impl askama::filters::Escaper for HtmlEscaper {
    fn write_escaped_str<W: Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        let mut rest = string;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            dest.write_str(&rest[..at])?;
            dest.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        dest.write_str(rest)
    }
}

/// Escapes text for HTML content and double- or single-quoted attributes, as the
/// templates do.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    askama::filters::Escaper::write_escaped_str(&HtmlEscaper, &mut out, text)
        .expect("writing to a String cannot fail");
    out
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
