//! Text as the front end reads it: NFC-composed (a decomposed "café" reads like a composed one),
//! without byte-order marks, control characters or characters outside the voice's script, each
//! kind of dropped character named once in a warning.

use unicode_normalization::UnicodeNormalization;

/// Text ready for the front end, with what was dropped from it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CleanText {
    pub text: String,
    /// One line per kind of character dropped, for the user.
    pub warnings: Vec<String>,
}

/// True for characters a Latin-script voice reads (letters with their accents, digits,
/// punctuation and the symbols the normaliser names).
pub fn is_readable(c: char) -> bool {
    (c.is_ascii() && !c.is_ascii_control())
        || c.is_ascii_whitespace()
        || matches!(c as u32, 0x00A0..=0x024F | 0x1E00..=0x1EFF | 0x2000..=0x206F)
            && !c.is_control()
            && c != '\u{FEFF}'
        || matches!(c, '€' | '£' | '°' | '−')
}

/// Composes `text` to NFC and drops what the voice cannot read; inline phonemes (`[[ ... ]]`)
/// are not text and pass unchanged.
///
/// ```
/// use mellow_engine::text::clean::clean;
/// let c = clean("\u{FEFF}cafe\u{301} \u{1F600}!");
/// assert_eq!(c.text, "café  !");
/// assert!(c.warnings[0].contains("U+1F600"));
/// ```
pub fn clean(text: &str) -> CleanText {
    let mut out = String::with_capacity(text.len());
    let mut skipped: Vec<char> = Vec::new();
    let mut controls: Vec<char> = Vec::new();
    let mut inline = false;
    let mut prev = '\0';
    for c in text.nfc() {
        let opens = prev == '[' && c == '[';
        let closes = prev == ']' && c == ']';
        prev = if opens || closes { '\0' } else { c };
        if opens {
            inline = true;
        } else if closes {
            inline = false;
        }
        if inline || is_readable(c) {
            out.push(c);
        } else if c == '\u{FEFF}' {
            // A byte-order mark (or zero-width no-break space) says nothing.
        } else if c.is_control() {
            if !controls.contains(&c) {
                controls.push(c);
            }
            out.push(' ');
        } else {
            if !skipped.contains(&c) {
                skipped.push(c);
            }
            out.push(' ');
        }
    }
    let mut warnings = Vec::new();
    if !controls.is_empty() {
        warnings.push(format!(
            "dropped control characters {}",
            controls
                .iter()
                .map(|c| format!("U+{:04X}", *c as u32))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for c in skipped {
        warnings.push(format!(
            "skipped '{c}' (U+{:04X}): this voice reads Latin-script text; write it out in words or give phonemes in [[ ]]",
            c as u32
        ));
    }
    CleanText {
        text: out,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposed_accents_compose_and_marks_drop() {
        assert_eq!(clean("cafe\u{301}").text, "café");
        assert_eq!(clean("\u{FEFF}Hello").text, "Hello");
        assert!(clean("\u{FEFF}Hello").warnings.is_empty());
    }

    #[test]
    fn each_kind_of_unreadable_character_is_named_once() {
        let c = clean("I ❤ you ❤ 日本\u{7} ok");
        assert_eq!(c.warnings.len(), 4, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("U+0007"));
        assert!(c.warnings[1].contains("U+2764"));
        assert!(c.text.contains("I ") && c.text.ends_with(" ok"));
    }

    #[test]
    fn inline_phonemes_pass_unchanged() {
        assert_eq!(clean("Say [[ həlˈoʊ ]] now").text, "Say [[ həlˈoʊ ]] now");
    }
}
