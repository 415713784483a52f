//! The languages the service writes in, as one list: the emails, the public share page
//! and the `language` a user may choose (`PATCH users/me/`, `users create --language`)
//! all take theirs from [`Language`]. The templates `match` on it, so a language added
//! here does not compile until every email and page sentence has its translation.

/// A language the service writes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    En,
    Fr,
    De,
    Nl,
}

impl Language {
    /// Every language, English (the fallback) first.
    pub const ALL: [Language; 4] = [Language::En, Language::Fr, Language::De, Language::Nl];

    /// The codes of [`Language::ALL`], in the same order: what a user's `language` may be.
    pub const CODES: [&'static str; Language::ALL.len()] = {
        let mut codes = [""; Language::ALL.len()];
        let mut i = 0;
        while i < codes.len() {
            codes[i] = Language::ALL[i].code();
            i += 1;
        }
        codes
    };

    /// The two-letter code, as stored for users and in the HTML `lang` attribute.
    pub const fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
            Language::De => "de",
            Language::Nl => "nl",
        }
    }

    /// The language of a tag such as `fr`, `FR-be` or `nl_NL` (its primary subtag,
    /// case-insensitive), if it is one of ours.
    pub fn parse(tag: &str) -> Option<Language> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        Language::ALL
            .into_iter()
            .find(|language| primary.eq_ignore_ascii_case(language.code()))
    }

    /// From a user's `language`: see [`Language::parse`]; anything else is English.
    pub fn from_code(code: &str) -> Language {
        Language::parse(code).unwrap_or(Language::En)
    }

    /// The reader's language from an `Accept-Language` header: the first of ours in the
    /// order of preference (`q`, then position; `q=0` means "not this one"), else English.
    pub fn from_accept_language(header: &str) -> Language {
        let mut ranges: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';');
                let tag = parts.next()?.trim();
                let quality = parts
                    .filter_map(|param| param.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                (!tag.is_empty() && quality > 0.0).then_some((quality, tag))
            })
            .collect();
        // Stable: among equal qualities, the header's order stands.
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranges
            .into_iter()
            .find_map(|(_, tag)| Language::parse(tag))
            .unwrap_or(Language::En)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_one_list() {
        assert_eq!(Language::CODES, ["en", "fr", "de", "nl"]);
        for language in Language::ALL {
            assert_eq!(Language::parse(language.code()), Some(language));
        }
    }

    #[test]
    fn language_codes() {
        assert_eq!(Language::from_code("fr"), Language::Fr);
        assert_eq!(Language::from_code("FR-be"), Language::Fr);
        assert_eq!(Language::from_code("de_DE"), Language::De);
        assert_eq!(Language::from_code("nl"), Language::Nl);
        assert_eq!(Language::from_code("en"), Language::En);
        assert_eq!(Language::from_code("es"), Language::En);
        assert_eq!(Language::from_code(""), Language::En);
        assert_eq!(Language::from_code("french"), Language::En);
        assert_eq!(Language::parse("es"), None);
    }

    #[test]
    fn accept_language_picks_our_first_preferred_language() {
        for (header, expected) in [
            ("fr-FR,fr;q=0.9,en;q=0.8", Language::Fr),
            ("de-CH", Language::De),
            ("nl-BE,nl;q=0.9", Language::Nl),
            ("en-GB,de;q=0.5", Language::En),
            // Not ours first, then ours.
            ("es-ES,es;q=0.9,nl;q=0.8,en;q=0.7", Language::Nl),
            // Preference by quality, not position.
            ("en;q=0.3, de;q=0.9", Language::De),
            ("fr;q=0, de", Language::De),
            ("*", Language::En),
            ("", Language::En),
            ("ja", Language::En),
        ] {
            assert_eq!(Language::from_accept_language(header), expected, "{header}");
        }
    }
}
