//! Text front end: normalise → split sentences → espeak-ng IPA with clause punctuation kept →
//! phoneme ids by the voice's own map. Inline phonemes `[[ həlˈoʊ ]]` pass straight through.

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

/// Punctuation that ends a clause: phonemised clause by clause, then put back, as Piper and
/// Matcha-TTS (phonemizer with `preserve_punctuation`) do.
const CLAUSE_PUNCTUATION: &[char] = &[',', ';', ':', '.', '!', '?', '—', '…', '¡', '¿'];

/// Refuses characters a Latin-script voice cannot read, naming the first one and where it is in
/// the whole text; inline phonemes (`[[ ... ]]`) are not text and are skipped.
pub fn check_script(text: &str) -> Result<()> {
    let mut inline = false;
    let mut prev = '\0';
    for (index, c) in text.chars().enumerate() {
        let opens = prev == '[' && c == '[';
        let closes = prev == ']' && c == ']';
        prev = if opens || closes { '\0' } else { c };
        if opens {
            inline = true;
        } else if closes {
            inline = false;
        }
        if inline {
            continue;
        }
        let readable = c.is_ascii()
            || matches!(c as u32, 0x00A0..=0x024F | 0x1E00..=0x1EFF | 0x2000..=0x206F)
            || matches!(c, '€' | '£' | '°' | '−');
        if !readable || (c.is_ascii_control() && !c.is_ascii_whitespace()) {
            return Err(Error::input(format!(
                "unsupported character '{}' (U+{:04X}) at position {index}: this voice reads Latin-script \
                 text; write it out in words or give phonemes in [[ ]]",
                c.escape_debug(),
                c as u32
            )));
        }
    }
    Ok(())
}

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

/// The whole front end: text → sentences with phonemes and ids. Empty or blank text, text with
/// nothing to say, and characters outside the voice's script are errors.
pub fn text_to_sentences(text: &str, language: &str, map: &PhonemeMap) -> Result<Vec<Sentence>> {
    if text.trim().is_empty() {
        return Err(Error::input("the text is empty: give some words to speak"));
    }
    parts(text)?;
    check_script(text)?;
    let normalized = normalize(text);
    let mut sentences = Vec::new();
    for s in split_sentences(&normalized) {
        let sentence = sentence_phonemes(&s, language, map)?;
        if sentence.phonemes.chars().any(|c| c.is_alphabetic()) {
            sentences.push(sentence);
        }
    }
    if sentences.is_empty() {
        return Err(Error::input(format!(
            "nothing to speak in \"{}\"",
            text.trim()
        )));
    }
    Ok(sentences)
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
    fn bad_text_is_refused_with_a_reason() {
        for (text, needle) in [
            ("", "empty"),
            ("   \n", "empty"),
            ("😀", "U+1F600"),
            ("日本", "U+65E5"),
            ("...", "nothing to speak"),
            ("Say [[ həlˈoʊ ]] 日", "at position 17"),
        ] {
            let err = text_to_sentences(text, "en-us", &PhonemeMap::matcha())
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
