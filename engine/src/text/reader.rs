//! Markup → sentences of phoneme ids, every word knowing where it stands in the input: clean →
//! normalise (by the voice's language) → sentence ends → clauses → espeak-ng (or the lexicon) per
//! word → ids. A sentence is cut where its prosody changes, at breaks and when it is longer than
//! the model takes at once.

use std::ops::Range;

use super::clean::clean;
use super::espeak;
use super::language::Language;
use super::lexicon::Lexicon;
use super::markup::{Markup, Piece, Prosody, Source};
use super::sentences::sentence_ends;
use super::symbols::PhonemeMap;
use super::words::{align, tokens};
use super::{Sentence, TextReading, MAX_PHONEME_IDS};
use crate::error::{Error, Result};

/// Punctuation that ends a clause: phonemised clause by clause, then put back, as Piper and
/// Matcha-TTS (phonemizer with `preserve_punctuation`) do.
pub const CLAUSE_PUNCTUATION: &[char] = &[',', ';', ':', '.', '!', '?', '—', '…', '¡', '¿'];

/// Characters espeak-ng is not handed (they say nothing and can shift its clause logic).
const UNSPOKEN: &[char] = &['"', '(', ')', '[', ']', '{', '}'];

/// A word of a sentence: the input it came from and the ids that say it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WordSpan {
    /// The word as written in the input ("$47.99", not what it reads as).
    pub text: String,
    /// Its bytes in the input.
    pub source: Range<usize>,
    /// Its ids in the sentence: from the blank before its first symbol (where the sound turns
    /// towards it, as aligners hear it) to its last symbol, punctuation after it left out.
    pub ids: Range<usize>,
    /// The phonemes those ids say.
    pub phonemes: String,
}

/// A named point in a sentence (SSML `<mark>`): it stands before id `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkAt {
    pub name: String,
    pub id: usize,
}

/// How a voice reads: its language, its phoneme map and the user's lexicon.
#[derive(Debug, Clone, Copy)]
pub struct ReadingRules<'a> {
    /// The voice's espeak-ng language code.
    pub language: &'a str,
    pub map: &'a PhonemeMap,
    pub lexicon: Option<&'a Lexicon>,
}

/// Reads `markup` (made from `input`) into sentences. Empty markup and markup with nothing to
/// say are errors; what the voice cannot read is skipped with a warning.
///
/// ```
/// use mellow_engine::text::markup::plain_text;
/// use mellow_engine::text::{read_markup, PhonemeMap, ReadingRules};
/// let map = PhonemeMap::matcha();
/// let rules = ReadingRules { language: "en-us", map: &map, lexicon: None };
/// let input = "It costs $5. Fine!";
/// let reading = read_markup(&plain_text(input).unwrap(), input, &rules).unwrap();
/// let words: Vec<&str> = reading.sentences[0].words.iter().map(|w| w.text.as_str()).collect();
/// assert_eq!(words, ["It", "costs", "$5."]);
/// assert_eq!(reading.sentences[1].words[0].source, 13..18);
/// ```
pub fn read_markup(markup: &Markup, input: &str, rules: &ReadingRules) -> Result<TextReading> {
    let mut reader = Reader {
        input,
        rules,
        voice_language: Language::for_code(rules.language),
        chunks: Vec::new(),
        reading: TextReading {
            warnings: markup.warnings.clone(),
            ..Default::default()
        },
        sentences_read: 0,
    };
    for piece in &markup.pieces {
        reader.piece(piece)?;
    }
    reader.close_sentence(None)?;
    let mut reading = reader.reading;
    dedup(&mut reading.warnings);
    if reading.sentences.is_empty() {
        let mut message = "nothing to speak".to_string();
        if !reading.warnings.is_empty() {
            message = format!("{message}: {}", reading.warnings.join("; "));
        }
        return Err(Error::input(message));
    }
    Ok(reading)
}

fn dedup(warnings: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
}

/// A written word on its way to phonemes.
#[derive(Debug, Clone)]
struct Word {
    /// What espeak-ng or the lexicon reads (clause punctuation taken off).
    text: String,
    /// Clause punctuation after it.
    punct: String,
    source: Range<usize>,
}

#[derive(Debug, Clone)]
enum Chunk {
    Words {
        words: Vec<Word>,
        prosody: Prosody,
        language: String,
    },
    Phonemes {
        words: Vec<(String, Range<usize>)>,
        prosody: Prosody,
    },
    Mark(String),
}

/// A word with its phonemes, ready to encode.
#[derive(Debug, Clone)]
struct Spoken {
    phonemes: String,
    punct: String,
    source: Range<usize>,
    prosody: Prosody,
}

struct Reader<'a> {
    input: &'a str,
    rules: &'a ReadingRules<'a>,
    voice_language: Language,
    chunks: Vec<Chunk>,
    reading: TextReading,
    /// Written sentences read so far.
    sentences_read: usize,
}

impl Reader<'_> {
    fn piece(&mut self, piece: &Piece) -> Result<()> {
        match piece {
            Piece::Text {
                text,
                source,
                prosody,
                language,
            } => self.text(text, source, *prosody, language.as_deref()),
            Piece::Phonemes {
                ipa,
                source,
                prosody,
            } => {
                let map = self.rules.map;
                if let Some(c) = ipa
                    .chars()
                    .find(|&c| !c.is_whitespace() && !map.contains(c))
                {
                    return Err(Error::input(format!(
                        "unknown phoneme '{c}' (U+{:04X}) in [[ {ipa} ]]: this voice has no such symbol",
                        c as u32
                    )));
                }
                let words = phoneme_words(ipa, source, self.input);
                self.chunks.push(Chunk::Phonemes {
                    words,
                    prosody: *prosody,
                });
                Ok(())
            }
            Piece::Break { seconds } => {
                if !self.has_words() {
                    match self.reading.sentences.last_mut() {
                        Some(last) => {
                            last.pause_after = Some(last.pause_after.unwrap_or(0.0) + seconds);
                        }
                        None => self.reading.leading_pause += seconds,
                    }
                    return Ok(());
                }
                self.close_sentence(Some(*seconds))
            }
            Piece::SentenceEnd => self.close_sentence(None),
            Piece::Mark(name) => {
                self.chunks.push(Chunk::Mark(name.clone()));
                Ok(())
            }
        }
    }

    fn has_words(&self) -> bool {
        self.chunks.iter().any(|c| !matches!(c, Chunk::Mark(_)))
    }

    /// A text piece's words into the open sentence, closing it at each sentence end.
    fn text(
        &mut self,
        text: &str,
        source: &Source,
        prosody: Prosody,
        language: Option<&str>,
    ) -> Result<()> {
        let cleaned = clean(text);
        self.reading.warnings.extend(cleaned.warnings);
        let language = self.language_for(language);
        let normalized = Language::for_code(&language).normalize(&cleaned.text);
        let spoken = tokens(&normalized);
        let sources: Vec<Range<usize>> = match source {
            Source::Whole(range) => vec![range.clone(); spoken.len()],
            source => align(text, &tokens(text), &normalized, &spoken)
                .into_iter()
                .map(|r| source.input_range(r))
                .collect(),
        };
        let ends = sentence_ends(&normalized);
        let mut next_end = ends.iter().peekable();
        for (token, source) in spoken.iter().zip(sources) {
            let words = split_clauses(&normalized[token.clone()], &source);
            self.push_words(words, prosody, &language);
            let mut ended = false;
            while next_end.next_if(|&&e| e <= token.end).is_some() {
                ended = true;
            }
            if ended {
                self.close_sentence(None)?;
            }
        }
        Ok(())
    }

    /// The espeak-ng language for an SSML `xml:lang`: its own where the voice can read it (the
    /// same language, another variety), else the voice's, with a warning.
    fn language_for(&mut self, asked: Option<&str>) -> String {
        let voice = self.rules.language.to_string();
        let Some(asked) = asked else { return voice };
        let asked_code = asked.to_ascii_lowercase().replace('_', "-");
        if is_language_tag(&asked_code)
            && Language::for_code(&asked_code) == self.voice_language
            && asked_code.split('-').next() == voice.split('-').next()
        {
            return asked_code;
        }
        self.reading.warnings.push(format!(
            "xml:lang=\"{asked}\": this voice speaks {voice}; the text is read as {voice}"
        ));
        voice
    }

    fn push_words(&mut self, words: Vec<Word>, prosody: Prosody, language: &str) {
        if words.is_empty() {
            return;
        }
        if let Some(Chunk::Words {
            words: open,
            prosody: p,
            language: l,
        }) = self.chunks.last_mut()
        {
            if *p == prosody && l == language {
                open.extend(words);
                return;
            }
        }
        self.chunks.push(Chunk::Words {
            words,
            prosody,
            language: language.to_string(),
        });
    }

    /// Ends the open sentence: its words become one sentence per prosody, cut further when longer
    /// than the model takes; `pause` is the silence after it (`None`: the usual pause).
    fn close_sentence(&mut self, pause: Option<f32>) -> Result<()> {
        let chunks = std::mem::take(&mut self.chunks);
        let mut spoken: Vec<Spoken> = Vec::new();
        let mut marks: Vec<(String, usize)> = Vec::new();
        // Words in one language are phonemised together, whatever their prosody, so that
        // espeak-ng reads each clause in its context.
        let mut group: Vec<(Word, Prosody)> = Vec::new();
        let mut group_language = String::new();
        for chunk in chunks {
            if let Chunk::Words {
                words,
                prosody,
                language,
            } = chunk
            {
                if language != group_language && !group.is_empty() {
                    self.flush_group(&mut group, &group_language, &mut spoken)?;
                }
                group_language = language;
                group.extend(words.into_iter().map(|w| (w, prosody)));
                continue;
            }
            self.flush_group(&mut group, &group_language, &mut spoken)?;
            match chunk {
                Chunk::Words { .. } => {}
                Chunk::Phonemes { words, prosody } => {
                    for (ipa, source) in words {
                        let (phonemes, punct) = split_trailing_punct(&ipa);
                        spoken.push(Spoken {
                            phonemes: phonemes.to_string(),
                            punct: punct.to_string(),
                            source,
                            prosody,
                        });
                    }
                }
                Chunk::Mark(name) => marks.push((name, spoken.len())),
            }
        }
        self.flush_group(&mut group, &group_language, &mut spoken)?;
        if !spoken
            .iter()
            .any(|s| s.phonemes.chars().any(char::is_alphabetic))
        {
            return Ok(());
        }
        // One sentence per run of words with one pitch (the rate and volume vary by id; a
        // sentence cut where they change would speak its parts with final lengthening).
        let mut runs: Vec<Range<usize>> = Vec::new();
        for (i, word) in spoken.iter().enumerate() {
            match runs.last_mut() {
                Some(run) if spoken[run.start].prosody.pitch == word.prosody.pitch => {
                    run.end = i + 1;
                }
                _ => runs.push(i..i + 1),
            }
        }
        let last_run = runs.len() - 1;
        let sentence_number = self.sentences_read;
        self.sentences_read += 1;
        for (r, run) in runs.into_iter().enumerate() {
            let run_marks: Vec<(String, usize)> = marks
                .iter()
                .filter(|(_, at)| run.contains(at) || (r == last_run && *at >= run.end))
                .map(|(name, at)| (name.clone(), at - run.start))
                .collect();
            let parts = self.encode_words(&spoken[run.clone()], &run_marks);
            let count = parts.len();
            for (k, mut sentence) in parts.into_iter().enumerate() {
                sentence.pause_after = match (r == last_run, k + 1 == count) {
                    (true, true) => pause,
                    // A change of pitch inside a sentence: no pause.
                    (false, true) => Some(0.0),
                    // A sentence too long for the model: the usual pause between its parts.
                    _ => None,
                };
                sentence.sentence = sentence_number;
                self.reading.sentences.push(sentence);
            }
        }
        Ok(())
    }

    /// A group of written words, phonemised together, onto the spoken words.
    fn flush_group(
        &self,
        group: &mut Vec<(Word, Prosody)>,
        language: &str,
        spoken: &mut Vec<Spoken>,
    ) -> Result<()> {
        if group.is_empty() {
            return Ok(());
        }
        let words: Vec<Word> = group.iter().map(|(w, _)| w.clone()).collect();
        for ((word, prosody), phonemes) in group.drain(..).zip(self.phonemize(&words, language)?) {
            add_spoken(spoken, phonemes, &word, prosody);
        }
        Ok(())
    }

    /// Phonemes of each word, clause by clause: espeak-ng reads each clause whole (its words
    /// in context), and its words are matched back to ours; a lexicon word replaces its own.
    fn phonemize(&self, words: &[Word], language: &str) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(words.len());
        let mut start = 0;
        for (i, word) in words.iter().enumerate() {
            if !word.punct.is_empty() || i + 1 == words.len() {
                out.extend(self.phonemize_clause(&words[start..=i], language)?);
                start = i + 1;
            }
        }
        Ok(out)
    }

    fn phonemize_clause(&self, words: &[Word], language: &str) -> Result<Vec<String>> {
        let readable: Vec<usize> = (0..words.len())
            .filter(|&i| !words[i].text.trim().is_empty())
            .collect();
        let mut out = vec![String::new(); words.len()];
        if readable.is_empty() {
            return Ok(out);
        }
        let clause = readable
            .iter()
            .map(|&i| words[i].text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let whole = espeak::phonemize_clause(&clause, language)?;
        let said: Vec<&str> = whole.split(' ').filter(|w| !w.is_empty()).collect();
        if said.len() == readable.len() {
            for (&i, phonemes) in readable.iter().zip(said) {
                out[i] = phonemes.to_string();
            }
        } else {
            // espeak-ng said more or fewer words than were written ("U.S." as two, a long
            // word cut): count each word's own and share the clause's out by those counts.
            let alone: Vec<String> = readable
                .iter()
                .map(|&i| espeak::phonemize_clause(&words[i].text, language))
                .collect::<Result<_>>()?;
            let counts: Vec<usize> = alone
                .iter()
                .map(|p| p.split(' ').filter(|w| !w.is_empty()).count())
                .collect();
            if counts.iter().sum::<usize>() == said.len() {
                let mut at = 0;
                for (&i, n) in readable.iter().zip(counts) {
                    out[i] = said[at..at + n].join(" ");
                    at += n;
                }
            } else {
                for (&i, phonemes) in readable.iter().zip(alone) {
                    out[i] = phonemes;
                }
            }
        }
        if let Some(lexicon) = self.rules.lexicon {
            for &i in &readable {
                if let Some(ipa) = lexicon.lookup(&words[i].text) {
                    out[i] = ipa.to_string();
                }
            }
        }
        Ok(out)
    }

    /// Words → a sentence of ids (several when longer than the model takes at once), each word
    /// with its ids; words from one written word become one.
    fn encode_words(&self, words: &[Spoken], marks: &[(String, usize)]) -> Vec<Sentence> {
        let map = self.rules.map;
        let words = cut_endless_words(words);
        let mut sentences = Vec::new();
        let mut start = 0;
        while start < words.len() {
            let mut end = start + 1;
            while end < words.len() && encoded_len(map, &words[start..=end]) <= MAX_PHONEME_IDS {
                end += 1;
            }
            if end < words.len() {
                // Prefer to end the part at the last clause punctuation inside it.
                if let Some(k) = (start..end).rev().find(|&k| !words[k].punct.is_empty()) {
                    end = k + 1;
                }
            }
            let part_marks: Vec<(String, usize)> = marks
                .iter()
                .filter(|(_, at)| (start..end).contains(at) || (end == words.len() && *at >= end))
                .map(|(n, at)| (n.clone(), at - start))
                .collect();
            sentences.push(self.encode(&words[start..end], &part_marks));
            start = end;
        }
        sentences
    }

    fn encode(&self, words: &[Spoken], marks: &[(String, usize)]) -> Sentence {
        let map = self.rules.map;
        let mut phonemes = String::new();
        let mut symbols = 0usize;
        let mut spans: Vec<WordSpan> = Vec::new();
        let mut first_symbols: Vec<usize> = Vec::with_capacity(words.len());
        let count = |s: &str| s.chars().filter(|&c| map.contains(c)).count();
        // With blanks between symbols, a word starts at the blank before its first symbol.
        let blanks = map.id_index(1) - map.id_index(0) == 2;
        // Where the piece before ends, in symbols (its punctuation included).
        let mut after_previous: Option<usize> = None;
        // Where each word's ids start (its prosody starts there too).
        let mut word_starts: Vec<usize> = Vec::with_capacity(words.len());
        for word in words {
            let piece = format!("{}{}", word.phonemes, word.punct);
            if piece.is_empty() {
                first_symbols.push(symbols);
                word_starts.push(map.id_index(symbols));
                continue;
            }
            if !phonemes.is_empty() && !piece.starts_with(CLAUSE_PUNCTUATION) {
                phonemes.push(' ');
                symbols += count(" ");
            }
            first_symbols.push(symbols);
            let start = match (blanks, after_previous) {
                (true, Some(end)) if end > 0 => map.id_index(end - 1) + 1,
                (true, _) => map.id_index(symbols).saturating_sub(1),
                (false, _) => map.id_index(symbols),
            };
            word_starts.push(start);
            let said = count(&word.phonemes);
            if said > 0 {
                let ids = start..map.id_index(symbols + said - 1) + 1;
                match spans.last_mut() {
                    Some(last) if last.source == word.source => {
                        last.ids.end = ids.end;
                        last.phonemes.push(' ');
                        last.phonemes.push_str(&word.phonemes);
                    }
                    _ => spans.push(WordSpan {
                        text: self
                            .input
                            .get(word.source.clone())
                            .unwrap_or_default()
                            .to_string(),
                        source: word.source.clone(),
                        ids,
                        phonemes: word.phonemes.clone(),
                    }),
                }
            }
            phonemes.push_str(&piece);
            symbols += count(&piece);
            after_previous = Some(symbols);
        }
        let (ids, _) = map.encode_lossy(&phonemes);
        // Each id takes the prosody of the word it is in, or of the word before it.
        let mut id_prosody = vec![words.first().map(|w| w.prosody).unwrap_or_default(); ids.len()];
        for (word, &from) in words.iter().zip(&word_starts) {
            id_prosody[from.min(ids.len())..].fill(word.prosody);
        }
        let id_rates: Vec<f32> = id_prosody.iter().map(|p| p.rate).collect();
        let id_gains_db: Vec<f32> = id_prosody.iter().map(|p| p.volume_db).collect();
        let marks = marks
            .iter()
            .map(|(name, at)| MarkAt {
                name: name.clone(),
                id: first_symbols
                    .get(*at)
                    .map_or(ids.len().saturating_sub(1), |&s| {
                        map.id_index(s).min(ids.len() - 1)
                    }),
            })
            .collect();
        Sentence {
            // Spoken words read from one written word ("9:30" says two) share its source.
            text: words
                .iter()
                .map(|w| &w.source)
                .fold(Vec::<&Range<usize>>::new(), |mut sources, source| {
                    if sources.last() != Some(&source) {
                        sources.push(source);
                    }
                    sources
                })
                .into_iter()
                .map(|source| self.input.get(source.clone()).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" "),
            phonemes,
            ids,
            words: spans,
            marks,
            pitch: words.first().map_or(0.0, |w| w.prosody.pitch),
            id_rates: match id_rates.iter().all(|&r| r == 1.0) {
                true => Vec::new(),
                false => id_rates,
            },
            id_gains_db: match id_gains_db.iter().all(|&g| g == 0.0) {
                true => Vec::new(),
                false => id_gains_db,
            },
            pause_after: None,
            // Set by the caller, which knows the written sentence.
            sentence: 0,
        }
    }
}

/// Ids `words` take as one sentence.
fn encoded_len(map: &PhonemeMap, words: &[Spoken]) -> usize {
    let symbols: usize = words
        .iter()
        .map(|w| {
            w.phonemes.chars().filter(|&c| map.contains(c)).count()
                + w.punct.chars().filter(|&c| map.contains(c)).count()
                + 1
        })
        .sum();
    map.id_index(symbols) + 2
}

/// Words longer than the model takes at once (inline phonemes without spaces) cut by symbols,
/// every symbol kept.
fn cut_endless_words(words: &[Spoken]) -> Vec<Spoken> {
    let most = MAX_PHONEME_IDS / 2 - 2;
    let mut out = Vec::with_capacity(words.len());
    for word in words {
        let symbols: Vec<char> = word.phonemes.chars().collect();
        if symbols.len() <= most {
            out.push(word.clone());
            continue;
        }
        let pieces: Vec<&[char]> = symbols.chunks(most).collect();
        for (k, piece) in pieces.iter().enumerate() {
            out.push(Spoken {
                phonemes: piece.iter().collect(),
                punct: match k + 1 == pieces.len() {
                    true => word.punct.clone(),
                    false => String::new(),
                },
                ..word.clone()
            });
        }
    }
    out
}

/// A spoken word's phonemes into the sentence; punctuation without a word joins the word before
/// it (or is dropped at the start, where it says nothing).
fn add_spoken(spoken: &mut Vec<Spoken>, phonemes: String, word: &Word, prosody: Prosody) {
    if phonemes.is_empty() {
        if let Some(last) = spoken.last_mut() {
            last.punct.push_str(&word.punct);
        }
        return;
    }
    spoken.push(Spoken {
        phonemes,
        punct: word.punct.clone(),
        source: word.source.clone(),
        prosody,
    });
}

/// A written token as words at its clause punctuation: "Hello," is "Hello" then ",";
/// "U.S." is "U" "." "S" ".".
fn split_clauses(token: &str, source: &Range<usize>) -> Vec<Word> {
    let mut words: Vec<Word> = Vec::new();
    let mut text = String::new();
    for c in token.chars() {
        if CLAUSE_PUNCTUATION.contains(&c) {
            match words.last_mut() {
                // A run of punctuation ("?!") stays together.
                Some(last) if text.is_empty() => last.punct.push(c),
                _ => words.push(Word {
                    text: std::mem::take(&mut text),
                    punct: c.to_string(),
                    source: source.clone(),
                }),
            }
        } else if !UNSPOKEN.contains(&c) {
            text.push(c);
        }
    }
    if !text.is_empty() {
        words.push(Word {
            text,
            punct: String::new(),
            source: source.clone(),
        });
    }
    words
}

fn split_trailing_punct(ipa: &str) -> (&str, &str) {
    let cut = ipa.trim_end_matches(CLAUSE_PUNCTUATION).len();
    ipa.split_at(cut)
}

/// Given phonemes as words, each with its own place in the input where it can be found there.
fn phoneme_words(ipa: &str, source: &Range<usize>, input: &str) -> Vec<(String, Range<usize>)> {
    let written = input.get(source.clone()).unwrap_or_default();
    let mut from = 0;
    ipa.split_whitespace()
        .map(|word| match written[from..].find(word) {
            Some(at) => {
                let start = from + at;
                from = start + word.len();
                (word.to_string(), source.start + start..source.start + from)
            }
            None => (word.to_string(), source.clone()),
        })
        .collect()
}

/// A language tag as BCP 47 writes one (at most 35 characters: subtags of 1 to 8 letters or
/// digits between hyphens). Only such a tag reaches espeak-ng as a voice name: a longer one
/// overflows a buffer inside it.
fn is_language_tag(tag: &str) -> bool {
    tag.len() <= 35
        && tag.split('-').all(|sub| {
            (1..=8).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_well_formed_language_tags_are_taken() {
        assert!(is_language_tag("en-gb") && is_language_tag("en-gb-x-rp"));
        assert!(!is_language_tag(&format!("en-{}gb", "+".repeat(90))));
        assert!(
            !is_language_tag("en-abcdefghi") && !is_language_tag("en--gb") && !is_language_tag("")
        );
    }
    use super::*;
    use crate::text::markup::plain_text;

    fn read(input: &str, lexicon: Option<&Lexicon>) -> TextReading {
        let map = PhonemeMap::matcha();
        let rules = ReadingRules {
            language: "en-us",
            map: &map,
            lexicon,
        };
        read_markup(&plain_text(input).unwrap(), input, &rules).unwrap()
    }

    #[test]
    fn every_word_knows_its_ids_and_its_input() {
        let reading = read("Hello, big world! Bye.", None);
        let s = &reading.sentences[0];
        assert_eq!(s.phonemes, "həlˈoʊ, bˈɪɡ wˈɜːld!");
        let words: Vec<(&str, Range<usize>)> = s
            .words
            .iter()
            .map(|w| (w.text.as_str(), w.source.clone()))
            .collect();
        assert_eq!(
            words,
            [("Hello,", 0..6), ("big", 7..10), ("world!", 11..17)]
        );
        let map = PhonemeMap::matcha();
        let (ids, _) = map.encode_lossy("bˈɪɡ");
        // The word's ids end with its symbols' (blanks between them included) and start at the
        // blank after the word before.
        let word = &s.ids[s.words[1].ids.clone()];
        assert!(
            word.ends_with(&ids[1..ids.len() - 1]) && word[0] == 0,
            "{word:?}"
        );
        assert_eq!(reading.sentences[1].words[0].text, "Bye.");
    }

    #[test]
    fn a_sentences_text_is_its_input_once() {
        let reading = read("Doors open at 9:30 a.m. for King Henry VIII.", None);
        assert_eq!(
            reading.sentences[0].text,
            "Doors open at 9:30 a.m. for King Henry VIII."
        );
    }

    #[test]
    fn a_lexicon_word_changes_only_its_own_phonemes() {
        let text = "Read the GIF file, then the other GIF.";
        let plain = read(text, None).sentences[0].phonemes.clone();
        let lexicon = Lexicon::parse("gif dʒˈɪf", "test", &PhonemeMap::matcha()).unwrap();
        let changed = read(text, Some(&lexicon)).sentences[0].phonemes.clone();
        let before: Vec<&str> = plain.split(' ').collect();
        let after: Vec<&str> = changed.split(' ').collect();
        assert_eq!(before.len(), after.len());
        for (b, a) in before.iter().zip(&after) {
            if b != a {
                assert!(a.starts_with("dʒˈɪf"), "{plain} → {changed}");
            }
        }
        assert_eq!(changed.matches("dʒˈɪf").count(), 2, "{changed}");
    }

    #[test]
    fn inline_phonemes_are_words_of_their_own() {
        let reading = read("Say [[ həlˈoʊ wˈɜːld ]] now.", None);
        let words: Vec<&str> = reading.sentences[0]
            .words
            .iter()
            .map(|w| w.text.as_str())
            .collect();
        assert_eq!(words, ["Say", "həlˈoʊ", "wˈɜːld", "now."]);
    }

    #[test]
    fn long_sentences_are_cut_between_words_with_every_word_kept() {
        let clause = "the quick brown fox jumps over the lazy dog near the river bank";
        let text = format!("{}.", vec![clause; 40].join(", "));
        let reading = read(&text, None);
        assert!(reading.sentences.len() > 1);
        let words: usize = reading.sentences.iter().map(|s| s.words.len()).sum();
        assert_eq!(words, 40 * clause.split(' ').count());
        for s in &reading.sentences {
            assert!(s.ids.len() <= MAX_PHONEME_IDS);
            assert!(s.words.iter().all(|w| w.ids.end <= s.ids.len()));
        }
    }
}
