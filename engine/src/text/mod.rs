//! Text front end: markup (plain text with inline `[[ phonemes ]]`, or SSML) → clean → normalise
//! (by the voice's language) → sentences → espeak-ng IPA per word, clause punctuation kept (or a
//! lexicon's) → phoneme ids by the voice's own map, every word knowing its place in the input.

pub mod clean;
pub mod english;
pub mod espeak;
pub mod language;
pub mod lexicon;
pub mod markup;
pub mod reader;
pub mod sentences;
pub mod ssml;
pub mod symbols;
pub mod words;

pub use language::Language;
pub use lexicon::Lexicon;
pub use markup::{Markup, Piece, Prosody};
pub use reader::{read_markup, MarkAt, ReadingRules, WordSpan, CLAUSE_PUNCTUATION};
pub use sentences::split_sentences;
pub use symbols::PhonemeMap;

use crate::error::{Error, Result};

/// One stretch of speech the acoustic model takes at once: a sentence, or the part of one with
/// one prosody, with its ids and the words they say.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sentence {
    /// The words it came from, as written.
    pub text: String,
    /// IPA with stress marks and punctuation, as the voice was trained on.
    pub phonemes: String,
    /// The voice's ids for `phonemes`.
    pub ids: Vec<i64>,
    /// Its words, in order, each with its ids and its place in the input.
    pub words: Vec<WordSpan>,
    /// SSML marks inside it.
    pub marks: Vec<MarkAt>,
    /// Pitch offset in semitones over the whole of it (SSML prosody pitch; a change of pitch
    /// starts a new segment).
    pub pitch: f32,
    /// Rate factor of each id (SSML prosody rate, emphasis), or empty where all are 1.
    pub id_rates: Vec<f32>,
    /// Gain of each id in decibels (SSML prosody volume, emphasis), or empty where all are 0.
    pub id_gains_db: Vec<f32>,
    /// Silence after it in seconds; `None` for the usual pause between sentences.
    pub pause_after: Option<f32>,
    /// Which written sentence it is part of (the parts of one, cut where the pitch changes or
    /// where it is too long, share it).
    pub sentence: usize,
}

/// Most phoneme ids the acoustic model takes at once (attention cost grows with the square of
/// the length); longer sentences are split between words, after clause punctuation where possible.
pub const MAX_PHONEME_IDS: usize = 2000;

/// What the front end made of a text: its sentences, and warnings about what it skipped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextReading {
    pub sentences: Vec<Sentence>,
    pub warnings: Vec<String>,
    /// Silence asked for before the first word (an SSML `<break>` first), in seconds.
    pub leading_pause: f32,
}

/// The whole front end for plain text (with inline `[[ phonemes ]]`): its sentences, and warnings
/// about what was skipped. Empty text and text with nothing to speak are errors.
///
/// ```
/// use mellow_engine::text::{read_text, PhonemeMap};
/// let reading = read_text("Hello 🙂 world.", "en-us", &PhonemeMap::matcha()).unwrap();
/// assert_eq!(reading.sentences.len(), 1);
/// assert!(reading.warnings[0].contains("U+1F642"));
/// ```
pub fn read_text(text: &str, language: &str, map: &PhonemeMap) -> Result<TextReading> {
    let rules = ReadingRules {
        language,
        map,
        lexicon: None,
    };
    read_plain_text(text, &rules)
}

/// Plain text (with inline `[[ phonemes ]]`) read by `rules`; empty text and text with nothing
/// to speak are errors that quote it.
pub fn read_plain_text(text: &str, rules: &ReadingRules) -> Result<TextReading> {
    if text.trim().is_empty() {
        return Err(Error::input("the text is empty: give some words to speak"));
    }
    read_markup(&markup::plain_text(text)?, text, rules).map_err(|e| match e {
        Error::Input(m) if m.starts_with("nothing to speak") => Error::input(format!(
            "nothing to speak in \"{}\"{}",
            text.trim(),
            m.strip_prefix("nothing to speak").unwrap_or_default()
        )),
        other => other,
    })
}

/// [`read_text`]'s sentences alone.
pub fn text_to_sentences(text: &str, language: &str, map: &PhonemeMap) -> Result<Vec<Sentence>> {
    Ok(read_text(text, language, map)?.sentences)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phonemes(text: &str) -> Vec<String> {
        text_to_sentences(text, "en-us", &PhonemeMap::matcha())
            .unwrap()
            .into_iter()
            .map(|s| s.phonemes)
            .collect()
    }

    #[test]
    fn punctuation_is_kept_between_clauses() {
        assert_eq!(phonemes("Hello, world!"), vec!["həlˈoʊ, wˈɜːld!"]);
    }

    #[test]
    fn sentences_are_split_and_numbers_read() {
        let p = phonemes("Dr. Smith paid $47.99. World War II ended.");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("dˈɑːktɚ smˈɪθ"), "{}", p[0]);
        assert!(!p[1].contains("ɹˌoʊmən"), "{}", p[1]);
    }

    #[test]
    fn inline_phonemes_pass_through_and_are_checked() {
        assert_eq!(phonemes("Say [[ həlˈoʊ ]] now."), vec!["sˈeɪ həlˈoʊ nˈaʊ."]);
        let err = text_to_sentences("[[ h☃ ]]", "en-us", &PhonemeMap::matcha()).unwrap_err();
        assert!(err.to_string().contains("unknown phoneme"), "{err}");
        let err = text_to_sentences("[[ open", "en-us", &PhonemeMap::matcha()).unwrap_err();
        assert!(err.to_string().contains("never closed"), "{err}");
    }

    #[test]
    fn unreadable_characters_are_skipped_not_refused() {
        let reading = read_text(
            "Say [[ həlˈoʊ ]] 日 now\u{7}.",
            "en-us",
            &PhonemeMap::matcha(),
        )
        .unwrap();
        assert_eq!(reading.sentences[0].phonemes, "sˈeɪ həlˈoʊ nˈaʊ.");
        assert_eq!(reading.warnings.len(), 2, "{:?}", reading.warnings);
    }

    #[test]
    fn a_long_sentence_is_split_at_clauses_and_every_word_is_kept() {
        let clause = "the quick brown fox jumps over the lazy dog near the river bank";
        let text = format!("{}.", vec![clause; 40].join(", "));
        let sentences = phonemes(&text);
        assert!(sentences.len() > 1, "{}", sentences.len());
        let map = PhonemeMap::matcha();
        for s in &sentences {
            assert!(map.encode_lossy(s).0.len() <= MAX_PHONEME_IDS);
            assert!(s.ends_with([',', '.']), "{s}");
        }
        let words: usize = sentences.iter().map(|s| s.split(' ').count()).sum();
        assert_eq!(words, 40 * clause.split(' ').count());
    }

    #[test]
    fn one_endless_phoneme_word_is_cut_and_kept_whole() {
        let text = format!("[[ {} ]]", "a".repeat(3000));
        let sentences = text_to_sentences(&text, "en-us", &PhonemeMap::matcha()).unwrap();
        assert!(sentences.len() > 1);
        assert!(sentences.iter().all(|p| p.ids.len() <= MAX_PHONEME_IDS));
        assert_eq!(
            sentences.iter().map(|p| p.phonemes.len()).sum::<usize>(),
            3000
        );
    }

    #[test]
    fn bad_text_is_refused_with_a_reason() {
        for (text, needle) in [
            ("", "empty"),
            ("   \n", "empty"),
            ("😀", "U+1F600"),
            ("日本", "U+65E5"),
            ("...", "nothing to speak"),
            ("\u{7}\u{1b}", "U+0007"),
        ] {
            let err = text_to_sentences(text, "en-us", &PhonemeMap::matcha())
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
