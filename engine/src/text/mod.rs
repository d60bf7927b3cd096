//! Text front end: normalise → split sentences → espeak-ng IPA with clause punctuation kept →
//! phoneme ids by the voice's own map. Inline phonemes `[[ həlˈoʊ ]]` pass straight through.

pub mod clean;
pub mod espeak;
pub mod normalize;
pub mod numbers;
pub mod sentences;
pub mod symbols;

pub use normalize::normalize;
pub use sentences::split_sentences;
pub use symbols::PhonemeMap;

use crate::error::{Error, Result};

/// One sentence ready for the acoustic model.
#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    /// The normalised text it came from.
    pub text: String,
    /// IPA with stress marks and punctuation, as the voice was trained on.
    pub phonemes: String,
    /// The voice's ids for `phonemes`.
    pub ids: Vec<i64>,
}

/// Most phoneme ids the acoustic model takes at once (attention cost grows with the square of
/// the length); longer sentences are split (see [`split_long_sentence`]).
pub const MAX_PHONEME_IDS: usize = 2000;

/// What the front end made of a text: its sentences, and warnings about what it skipped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextReading {
    pub sentences: Vec<Sentence>,
    pub warnings: Vec<String>,
}

/// Punctuation that ends a clause: phonemised clause by clause, then put back, as Piper and
/// Matcha-TTS (phonemizer with `preserve_punctuation`) do.
const CLAUSE_PUNCTUATION: &[char] = &[',', ';', ':', '.', '!', '?', '—', '…', '¡', '¿'];

enum Part<'a> {
    Text(&'a str),
    Phonemes(&'a str),
}

fn parts(sentence: &str) -> Result<Vec<Part<'_>>> {
    let mut parts = Vec::new();
    let mut rest = sentence;
    while let Some(start) = rest.find("[[") {
        parts.push(Part::Text(&rest[..start]));
        let after = &rest[start + 2..];
        let end = after.find("]]").ok_or_else(|| {
            Error::input(format!(
                "inline phonemes opened with [[ but never closed: \"{sentence}\""
            ))
        })?;
        parts.push(Part::Phonemes(after[..end].trim()));
        rest = &after[end + 2..];
    }
    if rest.contains("]]") {
        return Err(Error::input(format!(
            "]] without a matching [[ in \"{sentence}\""
        )));
    }
    parts.push(Part::Text(rest));
    Ok(parts)
}

/// Phonemes of plain text, clause by clause, with the clause punctuation re-inserted.
pub fn phonemize_text(text: &str, language: &str) -> Result<String> {
    let mut out = String::new();
    let mut clause = String::new();
    let flush = |clause: &mut String, punct: Option<char>, out: &mut String| -> Result<()> {
        let words: String = clause
            .chars()
            .filter(|c| !matches!(c, '"' | '(' | ')' | '[' | ']' | '{' | '}'))
            .collect();
        let phonemes = if words.trim().is_empty() {
            String::new()
        } else {
            espeak::phonemize_clause(words.trim(), language)?
        };
        if !phonemes.is_empty() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            out.push_str(&phonemes);
        }
        if let Some(p) = punct {
            if !out.is_empty() {
                out.push(p);
            }
        }
        clause.clear();
        Ok(())
    };
    for c in text.chars() {
        if CLAUSE_PUNCTUATION.contains(&c) {
            flush(&mut clause, Some(c), &mut out)?;
        } else {
            clause.push(c);
        }
    }
    flush(&mut clause, None, &mut out)?;
    Ok(out)
}

/// Phonemes and ids of one sentence that may hold inline `[[ ... ]]` phonemes. Symbols espeak-ng
/// produces that the voice lacks are dropped; inline symbols it lacks are an error.
pub fn sentence_phonemes(sentence: &str, language: &str, map: &PhonemeMap) -> Result<Sentence> {
    let mut phonemes = String::new();
    for part in parts(sentence)? {
        let piece = match part {
            Part::Text(t) => phonemize_text(t, language)?,
            Part::Phonemes(p) => {
                if let Some(c) = p.chars().find(|&c| !c.is_whitespace() && !map.contains(c)) {
                    return Err(Error::input(format!(
                        "unknown phoneme '{c}' (U+{:04X}) in [[ {p} ]]: this voice has no such symbol",
                        c as u32
                    )));
                }
                p.split_whitespace().collect::<Vec<_>>().join(" ")
            }
        };
        if piece.is_empty() {
            continue;
        }
        if !phonemes.is_empty() && !piece.starts_with(CLAUSE_PUNCTUATION) {
            phonemes.push(' ');
        }
        phonemes.push_str(&piece);
    }
    let (ids, _dropped) = map.encode_lossy(&phonemes);
    Ok(Sentence {
        text: sentence.to_string(),
        phonemes,
        ids,
    })
}

/// The whole front end: text → sentences with phonemes and ids. Empty or blank text and text
/// with nothing to say are errors; characters the voice cannot read are skipped with a warning.
pub fn text_to_sentences(text: &str, language: &str, map: &PhonemeMap) -> Result<Vec<Sentence>> {
    Ok(read_text(text, language, map)?.sentences)
}

/// [`text_to_sentences`] with the warnings about what was skipped.
///
/// ```
/// use mellow_engine::text::{read_text, PhonemeMap};
/// let reading = read_text("Hello 🙂 world.", "en-us", &PhonemeMap::matcha()).unwrap();
/// assert_eq!(reading.sentences.len(), 1);
/// assert!(reading.warnings[0].contains("U+1F642"));
/// ```
pub fn read_text(text: &str, language: &str, map: &PhonemeMap) -> Result<TextReading> {
    if text.trim().is_empty() {
        return Err(Error::input("the text is empty: give some words to speak"));
    }
    parts(text)?;
    let cleaned = clean::clean(text);
    if cleaned.text.trim().is_empty() {
        return Err(Error::input(format!(
            "nothing to speak: {}",
            cleaned.warnings.join("; ")
        )));
    }
    let normalized = normalize(&cleaned.text);
    let mut sentences = Vec::new();
    for s in split_sentences(&normalized) {
        let sentence = sentence_phonemes(&s, language, map)?;
        if sentence.phonemes.chars().any(char::is_alphabetic) {
            sentences.extend(split_long_sentence(sentence, map));
        }
    }
    if sentences.is_empty() {
        let mut message = format!("nothing to speak in \"{}\"", text.trim());
        if !cleaned.warnings.is_empty() {
            message = format!("{message}: {}", cleaned.warnings.join("; "));
        }
        return Err(Error::input(message));
    }
    Ok(TextReading {
        sentences,
        warnings: cleaned.warnings,
    })
}

/// A sentence longer than [`MAX_PHONEME_IDS`] as several, split after clause punctuation where
/// possible, else between words; shorter sentences come back whole. Each part is spoken as a
/// sentence of its own, with the pause between sentences.
///
/// ```
/// use mellow_engine::text::{split_long_sentence, PhonemeMap, Sentence, MAX_PHONEME_IDS};
/// let map = PhonemeMap::matcha();
/// let phonemes = vec!["hˈɛloʊ wˈɜːld,"; 150].join(" ");
/// let (ids, _) = map.encode_lossy(&phonemes);
/// let parts = split_long_sentence(Sentence { text: String::new(), phonemes, ids }, &map);
/// assert!(parts.len() > 1 && parts.iter().all(|p| p.ids.len() <= MAX_PHONEME_IDS));
/// ```
pub fn split_long_sentence(sentence: Sentence, map: &PhonemeMap) -> Vec<Sentence> {
    if sentence.ids.len() <= MAX_PHONEME_IDS {
        return vec![sentence];
    }
    let words: Vec<&str> = sentence
        .phonemes
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect();
    let fits = |words: &[&str]| map.encode_lossy(&words.join(" ")).0.len() <= MAX_PHONEME_IDS;
    let mut parts = Vec::new();
    let mut start = 0;
    while start < words.len() {
        // The longest run of words from `start` that fits (at least one word, cut if it must).
        let mut end = start + 1;
        while end < words.len() && fits(&words[start..end + 1]) {
            end += 1;
        }
        if end < words.len() {
            // Prefer to end the part at the last clause punctuation inside it.
            if let Some(k) = (start..end)
                .rev()
                .find(|&k| words[k].ends_with(CLAUSE_PUNCTUATION))
            {
                end = k + 1;
            }
        }
        let phonemes = words[start..end].join(" ");
        let (ids, _) = map.encode_lossy(&phonemes);
        if ids.len() <= MAX_PHONEME_IDS {
            parts.push(Sentence {
                text: sentence.text.clone(),
                phonemes,
                ids,
            });
        } else {
            // One "word" longer than the model takes (inline phonemes without spaces): cut it
            // by symbols, every symbol kept.
            let symbols: Vec<char> = phonemes.chars().collect();
            for piece in symbols.chunks(MAX_PHONEME_IDS / 2 - 2) {
                let phonemes: String = piece.iter().collect();
                let (ids, _) = map.encode_lossy(&phonemes);
                parts.push(Sentence {
                    text: sentence.text.clone(),
                    phonemes,
                    ids,
                });
            }
        }
        start = end;
    }
    parts
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
        let map = PhonemeMap::matcha();
        let phonemes = "a".repeat(3000);
        let (ids, _) = map.encode_lossy(&phonemes);
        let parts = split_long_sentence(
            Sentence {
                text: String::new(),
                phonemes,
                ids,
            },
            &map,
        );
        assert!(parts.iter().all(|p| p.ids.len() <= MAX_PHONEME_IDS));
        assert_eq!(parts.iter().map(|p| p.phonemes.len()).sum::<usize>(), 3000);
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
