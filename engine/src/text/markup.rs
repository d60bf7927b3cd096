//! What a text says before it is read: pieces of text, given phonemes, breaks, sentence ends and
//! marks, each with the prosody it is spoken with and where it stands in the input. Plain text
//! (with inline `[[ phonemes ]]`) and SSML both become [`Markup`]; the reader
//! ([`super::reader`]) turns it into sentences of phoneme ids.

use std::ops::Range;

use crate::error::{Error, Result};

/// How a stretch is spoken, relative to the synthesis options: a rate factor, a pitch offset
/// in semitones and a gain in decibels.
///
/// ```
/// use mellow_engine::text::Prosody;
/// let p = Prosody::default();
/// assert_eq!((p.rate, p.pitch, p.volume_db), (1.0, 0.0, 0.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prosody {
    pub rate: f32,
    pub pitch: f32,
    pub volume_db: f32,
}

impl Default for Prosody {
    fn default() -> Self {
        Self {
            rate: 1.0,
            pitch: 0.0,
            volume_db: 0.0,
        }
    }
}

/// Where a piece of text stands in the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The text is the input's bytes from this offset on, unchanged.
    Verbatim(usize),
    /// The text stands for this whole stretch of the input (a `say-as` or `sub` element, text
    /// with entities): every word it says belongs to it.
    Whole(Range<usize>),
    /// The text was spliced from parts of the input (text between entity references, and the
    /// characters the references stand for): each part's range in the text, and in the input.
    Spliced(Vec<(Range<usize>, Range<usize>)>),
}

impl Source {
    /// The input bytes that `range` of the piece's text came from.
    ///
    /// ```
    /// use mellow_engine::text::markup::Source;
    /// assert_eq!(Source::Verbatim(10).input_range(2..5), 12..15);
    /// assert_eq!(Source::Whole(3..9).input_range(0..1), 3..9);
    /// // "AT&amp;T" read as "AT&T": the "&" came from five bytes.
    /// let spliced = Source::Spliced(vec![(0..2, 0..2), (2..3, 2..7), (3..4, 7..8)]);
    /// assert_eq!(spliced.input_range(0..4), 0..8);
    /// assert_eq!(spliced.input_range(3..4), 7..8);
    /// ```
    pub fn input_range(&self, range: Range<usize>) -> Range<usize> {
        match self {
            Self::Verbatim(start) => range.start + start..range.end + start,
            Self::Whole(whole) => whole.clone(),
            Self::Spliced(parts) => {
                let at = |pos: usize, end: bool| {
                    let part = parts
                        .iter()
                        .find(|(text, _)| match end {
                            false => text.start <= pos && pos < text.end,
                            true => text.start < pos && pos <= text.end,
                        })
                        .or(parts.last());
                    match part {
                        // A verbatim part maps byte for byte; an entity maps whole.
                        Some((text, input)) if text.len() == input.len() => {
                            input.start + (pos.clamp(text.start, text.end) - text.start)
                        }
                        Some((_, input)) if end => input.end,
                        Some((_, input)) => input.start,
                        None => 0,
                    }
                };
                at(range.start, false)..at(range.end, true).max(at(range.start, false))
            }
        }
    }
}

/// One piece of what to say.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Text to normalise and phonemise, in `language` (an espeak-ng code) when it is not the
    /// voice's own.
    Text {
        text: String,
        source: Source,
        prosody: Prosody,
        language: Option<String>,
    },
    /// IPA in the voice's symbols, spoken as given.
    Phonemes {
        ipa: String,
        source: Range<usize>,
        prosody: Prosody,
    },
    /// Silence of this many seconds; the sentence before it ends.
    Break { seconds: f32 },
    /// A sentence (or paragraph) ends here, whatever its punctuation.
    SentenceEnd,
    /// A named point whose time the timings report (SSML `<mark>`).
    Mark(String),
}

/// Pieces in reading order, and warnings about what was not understood.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Markup {
    pub pieces: Vec<Piece>,
    pub warnings: Vec<String>,
}

/// Plain text as markup: text with its inline `[[ phonemes ]]` taken out as phoneme pieces.
///
/// ```
/// use mellow_engine::text::markup::{plain_text, Piece};
/// let markup = plain_text("Say [[ həlˈoʊ ]] now.").unwrap();
/// assert_eq!(markup.pieces.len(), 3);
/// assert!(matches!(&markup.pieces[1], Piece::Phonemes { ipa, .. } if ipa == "həlˈoʊ"));
/// assert!(plain_text("[[ open").is_err());
/// ```
pub fn plain_text(text: &str) -> Result<Markup> {
    let mut pieces = Vec::new();
    let push_text = |pieces: &mut Vec<Piece>, range: Range<usize>| {
        if !text[range.clone()].trim().is_empty() {
            pieces.push(Piece::Text {
                text: text[range.clone()].to_string(),
                source: Source::Verbatim(range.start),
                prosody: Prosody::default(),
                language: None,
            });
        }
    };
    let mut at = 0;
    while let Some(open) = text[at..].find("[[").map(|i| at + i) {
        push_text(&mut pieces, at..open);
        let inner = open + 2;
        let close = text[inner..].find("]]").map(|i| inner + i).ok_or_else(|| {
            Error::input(format!(
                "inline phonemes opened with [[ but never closed: \"{}\"",
                excerpt(&text[open..])
            ))
        })?;
        pieces.push(Piece::Phonemes {
            ipa: text[inner..close].trim().to_string(),
            source: open..close + 2,
            prosody: Prosody::default(),
        });
        at = close + 2;
    }
    if text[at..].contains("]]") {
        return Err(Error::input(format!(
            "]] without a matching [[ in \"{}\"",
            excerpt(&text[at..])
        )));
    }
    push_text(&mut pieces, at..text.len());
    Ok(Markup {
        pieces,
        warnings: Vec::new(),
    })
}

/// The start of `text`, short enough for a message.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}
