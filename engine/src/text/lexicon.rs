//! A pronunciation lexicon: words the user wants said their way, as IPA in the voice's symbols.
//! Matched case-insensitively on whole words before espeak-ng's rules; the rest of the sentence is
//! phonemised exactly as without it.
//!
//! The format: one entry per line, the word, then whitespace, then its IPA; `#` starts a comment.
//! W3C PLS files (`<lexicon alphabet="ipa">` with `<lexeme>`, `<grapheme>`, `<phoneme>`) load too.
//!
//! ```text
//! # word      IPA
//! Mellow      mˈɛloʊ
//! GIF         dʒˈɪf
//! ```

use std::collections::HashMap;
use std::path::Path;

use quick_xml::events::Event;

use super::ssml::resolve_entity;
use super::symbols::PhonemeMap;
use crate::error::{Error, Result};

/// The largest lexicon file read.
pub const MAX_LEXICON_BYTES: u64 = 8 << 20;

/// Words and their IPA.
///
/// ```
/// use mellow_engine::text::{Lexicon, PhonemeMap};
/// let lexicon = Lexicon::parse("# mine\nGIF  dʒˈɪf\n", "my.lex", &PhonemeMap::matcha()).unwrap();
/// assert_eq!(lexicon.lookup("gif"), Some("dʒˈɪf"));
/// assert_eq!(lexicon.lookup("GIF,"), Some("dʒˈɪf"));
/// let err = Lexicon::parse("cat  k☃t", "my.lex", &PhonemeMap::matcha()).unwrap_err();
/// assert!(err.to_string().contains("my.lex line 1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lexicon {
    entries: HashMap<String, String>,
}

/// A word as the lexicon keys it: lower case, without the punctuation around it.
fn lexicon_key(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

impl Lexicon {
    /// Reads a lexicon file (plain or PLS), checking every symbol against the voice's `map`.
    pub fn load(path: &Path, map: &PhonemeMap) -> Result<Self> {
        let origin = path.display().to_string();
        let size = std::fs::metadata(path)
            .map_err(|e| Error::input(format!("cannot read the lexicon {origin}: {e}")))?
            .len();
        if size > MAX_LEXICON_BYTES {
            return Err(Error::input(format!(
                "the lexicon {origin} is {size} bytes; at most {MAX_LEXICON_BYTES} are read"
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::input(format!("cannot read the lexicon {origin}: {e}")))?;
        Self::parse(&text, &origin, map)
    }

    /// A lexicon from its text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, map: &PhonemeMap) -> Result<Self> {
        let text = text.trim_start_matches('\u{FEFF}');
        if text.trim_start().starts_with('<') {
            return Self::parse_pls(text, origin, map);
        }
        let mut lexicon = Self::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = || format!("{origin} line {}", n + 1);
            let (word, ipa) = line.split_once(char::is_whitespace).ok_or_else(|| {
                Error::input(format!("{}: \"{line}\" has a word but no IPA", at()))
            })?;
            lexicon.insert(word, ipa.trim(), map, &at())?;
        }
        Ok(lexicon)
    }

    /// W3C Pronunciation Lexicon Specification 1.0, IPA alphabet.
    fn parse_pls(text: &str, origin: &str, map: &PhonemeMap) -> Result<Self> {
        let mut reader = quick_xml::Reader::from_str(text);
        let mut lexicon = Self::default();
        let (mut graphemes, mut phoneme): (Vec<String>, Option<String>) = (Vec::new(), None);
        let mut field: Option<&'static str> = None;
        let mut value = String::new();
        let at = |pos: u64| {
            let (line, column) = line_column(text, pos as usize);
            format!("{origin} line {line} column {column}")
        };
        let mut depth = 0usize;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| Error::input(format!("{}: {e}", at(reader.error_position()))))?;
            match &event {
                Event::Start(_) => depth += 1,
                Event::End(_) => depth = depth.saturating_sub(1),
                Event::Eof if depth > 0 => {
                    return Err(Error::input(format!(
                        "{}: the file ends inside an element that is never closed",
                        at(reader.buffer_position())
                    )))
                }
                _ => {}
            }
            match event {
                Event::Start(e) => match e.local_name().as_ref() {
                    "lexicon" => {
                        let alphabet = e
                            .try_get_attribute("alphabet")
                            .ok()
                            .flatten()
                            .map(|a| a.value.to_string());
                        if alphabet.as_deref().is_some_and(|a| a != "ipa") {
                            return Err(Error::input(format!(
                                "{}: alphabet \"{}\": only ipa is read",
                                at(reader.buffer_position()),
                                alphabet.unwrap_or_default()
                            )));
                        }
                    }
                    "grapheme" => field = Some("grapheme"),
                    "phoneme" => field = Some("phoneme"),
                    _ => {}
                },
                Event::Text(t) if field.is_some() => value.push_str(&t.xml10_content()),
                Event::GeneralRef(r) if field.is_some() => {
                    if let Some(s) = resolve_entity(&r) {
                        value.push_str(&s);
                    }
                }
                Event::End(e) => match e.local_name().as_ref() {
                    "grapheme" => {
                        graphemes.push(std::mem::take(&mut value).trim().to_string());
                        field = None;
                    }
                    "phoneme" => {
                        phoneme.get_or_insert(std::mem::take(&mut value).trim().to_string());
                        field = None;
                    }
                    "lexeme" => {
                        let here = at(reader.buffer_position());
                        let ipa = phoneme.take().ok_or_else(|| {
                            Error::input(format!("{here}: a lexeme without a <phoneme>"))
                        })?;
                        for word in graphemes.drain(..) {
                            lexicon.insert(&word, &ipa, map, &here)?;
                        }
                    }
                    _ => {}
                },
                Event::Eof => break,
                _ => {}
            }
        }
        Ok(lexicon)
    }

    fn insert(&mut self, word: &str, ipa: &str, map: &PhonemeMap, at: &str) -> Result<()> {
        if let Some(c) = ipa
            .chars()
            .find(|&c| !c.is_whitespace() && !map.contains(c))
        {
            return Err(Error::input(format!(
                "{at}: unknown phoneme '{c}' (U+{:04X}) in \"{ipa}\" for \"{word}\": this voice has no such symbol",
                c as u32
            )));
        }
        let key = lexicon_key(word);
        if key.is_empty() || ipa.trim().is_empty() {
            return Err(Error::input(format!(
                "{at}: an empty word or pronunciation"
            )));
        }
        let ipa = ipa.split_whitespace().collect::<Vec<_>>().join(" ");
        self.entries.insert(key, ipa);
        Ok(())
    }

    /// The IPA for `word` (any case, punctuation around it ignored).
    pub fn lookup(&self, word: &str) -> Option<&str> {
        if self.entries.is_empty() {
            return None;
        }
        self.entries.get(&lexicon_key(word)).map(String::as_str)
    }

    /// This lexicon with `other`'s entries added; where both have a word, `other`'s wins.
    pub fn extended(mut self, other: Lexicon) -> Self {
        self.entries.extend(other.entries);
        self
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before, |n| &before[n + 1..])
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pls_files_load() {
        let pls = r#"<?xml version="1.0"?>
<lexicon version="1.0" alphabet="ipa" xml:lang="en-US" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon">
  <lexeme><grapheme>Mellow</grapheme><grapheme>mellow's</grapheme><phoneme>mˈɛloʊ</phoneme></lexeme>
</lexicon>"#;
        let lexicon = Lexicon::parse(pls, "x.pls", &PhonemeMap::matcha()).unwrap();
        assert_eq!(lexicon.lookup("MELLOW"), Some("mˈɛloʊ"));
        assert_eq!(lexicon.len(), 2);
        let wrong = pls.replace("alphabet=\"ipa\"", "alphabet=\"x-sampa\"");
        assert!(Lexicon::parse(&wrong, "x.pls", &PhonemeMap::matcha()).is_err());
        let broken = Lexicon::parse("<lexicon><lexeme>", "x.pls", &PhonemeMap::matcha());
        assert!(broken.unwrap_err().to_string().contains("x.pls line 1"));
    }

    #[test]
    fn lines_without_ipa_are_named() {
        let err = Lexicon::parse("ok  ɑk\nlonely\n", "l.txt", &PhonemeMap::matcha()).unwrap_err();
        assert!(err.to_string().contains("l.txt line 2"), "{err}");
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_column("ab\ncdé f", 8), (2, 5));
        assert_eq!(line_column("x", 0), (1, 1));
    }
}
