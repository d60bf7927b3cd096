//! A lyric as DAW vocal tools write it: words, `-` between the syllables of one word
//! ("twin-kle"), `+` to carry the syllable before over one more note, `[[ IPA ]]` to give a
//! word's phonemes. Punctuation is dropped: a lyric is sung, not read.

use crate::error::{Error, Result};

/// Longest lyric, in bytes.
pub const MAX_LYRIC_BYTES: usize = 20_000;

/// What one written token asks of the notes.
#[derive(Debug, Clone, PartialEq)]
pub enum LyricToken {
    /// A word, as the text front end should read it (hyphens joined), with the number of parts
    /// its hyphens made (1 when it has none): a hint checked against its spoken syllables.
    Word { text: String, parts: usize },
    /// `+`: the syllable before holds over one more note.
    Hold,
}

/// Splits a lyric into tokens.
///
/// ```
/// use mellow_engine::sing::lyrics::{parse_lyrics, LyricToken};
/// let t = parse_lyrics("Twin-kle, + star!").unwrap();
/// assert_eq!(t[0], LyricToken::Word { text: "Twinkle".into(), parts: 2 });
/// assert_eq!(t[1], LyricToken::Hold);
/// assert_eq!(t[2], LyricToken::Word { text: "star".into(), parts: 1 });
/// ```
pub fn parse_lyrics(lyric: &str) -> Result<Vec<LyricToken>> {
    if lyric.len() > MAX_LYRIC_BYTES {
        return Err(Error::input(format!(
            "the lyric has {} bytes, more than {MAX_LYRIC_BYTES}",
            lyric.len()
        )));
    }
    let mut tokens = Vec::new();
    let mut rest = lyric;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        rest = &rest[start..];
        if let Some(inner) = rest.strip_prefix("[[") {
            let end = inner
                .find("]]")
                .ok_or_else(|| Error::input("a `[[` in the lyric has no `]]`"))?;
            // Each group of phonemes is a word, as in text.
            for group in inner[..end].split_whitespace() {
                tokens.push(LyricToken::Word {
                    text: format!("[[ {group} ]]"),
                    parts: 1,
                });
            }
            rest = &inner[end + 2..];
            continue;
        }
        // A word ends at a space or where `[[` starts; a lone `[` is part of it.
        let end = rest
            .char_indices()
            .skip(1)
            .find(|&(i, c)| c.is_whitespace() || rest[i..].starts_with("[["))
            .map_or(rest.len(), |(i, _)| i);
        push_word(&rest[..end], &mut tokens);
        rest = &rest[end..];
    }
    if !tokens.iter().any(|t| matches!(t, LyricToken::Word { .. })) {
        return Err(Error::input("the lyric has no words to sing"));
    }
    Ok(tokens)
}

/// One whitespace-separated piece: `+` alone or after a word holds; punctuation around a word
/// goes (a sign that is read, like `$` or `%`, stays for the front end to read).
fn push_word(piece: &str, tokens: &mut Vec<LyricToken>) {
    let holds = piece.len() - piece.trim_end_matches('+').len();
    let word = piece.trim_end_matches('+');
    let parts: Vec<&str> = word
        .split('-')
        .map(|p| p.trim_matches(|c: char| EDGE_PUNCTUATION.contains(c)))
        .filter(|p| p.chars().any(char::is_alphanumeric))
        .collect();
    if !parts.is_empty() {
        // Angle brackets would make the lyric read as SSML.
        let text: String = parts
            .concat()
            .chars()
            .filter(|c| !matches!(c, '<' | '>'))
            .collect();
        tokens.push(LyricToken::Word {
            text,
            parts: parts.len(),
        });
    }
    tokens.extend(std::iter::repeat_n(LyricToken::Hold, holds));
}

/// Punctuation trimmed from the edges of a lyric's words.
const EDGE_PUNCTUATION: &str = ".,;:!?\"'()[]{}«»“”‘’…";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_hyphens_phonemes_and_punctuation() {
        let t = parse_lyrics("Hap-py birth-day+ + to [[ juː ]]... $5, (yes)").unwrap();
        let words: Vec<_> = t
            .iter()
            .map(|t| match t {
                LyricToken::Word { text, parts } => format!("{text}/{parts}"),
                LyricToken::Hold => "+".into(),
            })
            .collect();
        assert_eq!(
            words,
            [
                "Happy/2",
                "birthday/2",
                "+",
                "+",
                "to/1",
                "[[ juː ]]/1",
                "$5/1",
                "yes/1"
            ]
        );
    }

    #[test]
    fn empty_or_unclosed_lyrics_are_refused() {
        assert!(parse_lyrics("  + , ").is_err());
        assert_eq!(
            parse_lyrics("<speak>la").unwrap()[0],
            LyricToken::Word {
                text: "speakla".into(),
                parts: 1
            }
        );
        assert!(parse_lyrics("a [[ b")
            .unwrap_err()
            .to_string()
            .contains("]]"));
        assert!(parse_lyrics(&"la ".repeat(10_000)).is_err());
    }
}
