//! The voice's phoneme map: IPA symbols to the integer ids its encoder embeds.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a voice turns phoneme symbols into ids. Matcha-TTS voices intersperse a blank (id 0)
/// between symbols; Piper voices also add begin and end markers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhonemeMap {
    /// Symbol (one Unicode scalar, as a string) → id.
    pub symbols: HashMap<String, i64>,
    /// Id placed between symbols and at both ends (Matcha's `intersperse(seq, 0)`).
    #[serde(default)]
    pub blank: Option<i64>,
    #[serde(default)]
    pub bos: Option<i64>,
    #[serde(default)]
    pub eos: Option<i64>,
}

/// Matcha-TTS's symbol table (`matcha.text.symbols`), in its order; a later duplicate wins, as in
/// the reference's dict.
pub const MATCHA_SYMBOLS: &str = concat!(
    "_",
    ";:,.!?¡¿—…\"«»“” ",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "ɑɐɒæɓʙβɔɕçɗɖðʤəɘɚɛɜɝɞɟʄɡɠɢʛɦɧħɥʜɨɪʝɭɬɫɮʟɱɯɰŋɳɲɴøɵɸθœɶʘɹɺɾɻʀʁɽʂʃʈʧʉʊʋⱱʌɣɤʍχʎʏʑʐʒʔʡʕʢǀǁǂǃˈˌːˑʼʴʰʱʲʷˠˤ˞↓↑→↗↘'̩'ᵻ"
);

impl PhonemeMap {
    /// The map a Matcha-TTS checkpoint was trained with (178 symbols, blanks interspersed).
    pub fn matcha() -> Self {
        let symbols = MATCHA_SYMBOLS
            .chars()
            .enumerate()
            .map(|(i, c)| (c.to_string(), i as i64))
            .collect();
        Self {
            symbols,
            blank: Some(0),
            bos: None,
            eos: None,
        }
    }

    /// One more than the largest id: the size of the encoder's embedding table it needs.
    pub fn vocabulary_size(&self) -> usize {
        let ids = self
            .symbols
            .values()
            .chain(self.blank.iter())
            .chain(self.bos.iter())
            .chain(self.eos.iter());
        ids.copied().max().map_or(0, |m| m as usize + 1)
    }

    pub fn contains(&self, symbol: char) -> bool {
        let mut buf = [0u8; 4];
        self.symbols
            .contains_key(symbol.encode_utf8(&mut buf) as &str)
    }

    fn id(&self, symbol: char) -> Option<i64> {
        let mut buf = [0u8; 4];
        self.symbols
            .get(symbol.encode_utf8(&mut buf) as &str)
            .copied()
    }

    /// Lays out the voice's id sequence: start marker, a blank, then each symbol's id followed by
    /// a blank, then the end marker. Each symbol carries a value (a duration, say); the markers and
    /// blanks get `filler`.
    fn layout<T: Copy>(
        &self,
        symbols: impl Iterator<Item = (i64, T)>,
        filler: T,
    ) -> (Vec<i64>, Vec<T>) {
        let mut ids = Vec::new();
        let mut values = Vec::new();
        let mut push = |id: Option<i64>, value: T| {
            if let Some(id) = id {
                ids.push(id);
                values.push(value);
            }
        };
        push(self.bos, filler);
        push(self.blank, filler);
        for (id, value) in symbols {
            push(Some(id), value);
            push(self.blank, filler);
        }
        push(self.eos, filler);
        (ids, values)
    }

    /// Where the `symbol`-th known symbol's id stands in the ids [`PhonemeMap::encode_lossy`]
    /// lays out (after the start marker and blank, with blanks between).
    ///
    /// ```
    /// use mellow_engine::text::PhonemeMap;
    /// let map = PhonemeMap::matcha();
    /// let (ids, _) = map.encode_lossy("ab");
    /// assert_eq!(ids[map.id_index(1)], map.encode("b").unwrap()[1]);
    /// ```
    pub fn id_index(&self, symbol: usize) -> usize {
        let lead = usize::from(self.bos.is_some()) + usize::from(self.blank.is_some());
        lead + symbol * (1 + usize::from(self.blank.is_some()))
    }

    /// Ids of `phonemes`, and the symbols that had none (left out of the ids).
    pub fn encode_lossy(&self, phonemes: &str) -> (Vec<i64>, Vec<char>) {
        let mut unknown = Vec::new();
        let known = phonemes.chars().filter_map(|c| {
            let id = self.id(c);
            if id.is_none() {
                unknown.push(c);
            }
            id.map(|id| (id, ()))
        });
        let (ids, _) = self.layout(known, ());
        (ids, unknown)
    }

    /// Ids of single-symbol phonemes, each with its value (frames, for conditioning files); the
    /// blanks and markers the voice adds get `filler`. An unknown symbol is an error naming it.
    pub fn encode_with_values<T: Copy>(
        &self,
        symbols: &[char],
        values: &[T],
        filler: T,
    ) -> Result<(Vec<i64>, Vec<T>)> {
        let mut pairs = Vec::with_capacity(symbols.len());
        for (&c, &value) in symbols.iter().zip(values) {
            let id = self.id(c).ok_or_else(|| {
                Error::input(format!(
                    "unknown phoneme '{c}' (U+{:04X}): this voice has no such symbol",
                    c as u32
                ))
            })?;
            pairs.push((id, value));
        }
        Ok(self.layout(pairs.into_iter(), filler))
    }

    /// Ids of `phonemes`; a symbol the voice does not know is an error that names it.
    pub fn encode(&self, phonemes: &str) -> Result<Vec<i64>> {
        let (ids, unknown) = self.encode_lossy(phonemes);
        match unknown.first() {
            None => Ok(ids),
            Some(c) => Err(Error::input(format!(
                "unknown phoneme '{c}' (U+{:04X}) in \"{phonemes}\": this voice has no such symbol",
                *c as u32
            ))),
        }
    }

    /// Checks that every id fits an embedding table of `vocabulary` rows.
    pub fn validate(&self, vocabulary: usize) -> Result<()> {
        if self.symbols.is_empty() {
            return Err(Error::voice("the phoneme map is empty"));
        }
        if let Some((s, id)) = self
            .symbols
            .iter()
            .find(|(_, &id)| id < 0 || id as usize >= vocabulary)
        {
            return Err(Error::voice(format!(
                "phoneme '{s}' has id {id}, outside the encoder's {vocabulary} embeddings"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcha_map_matches_the_reference_ids() {
        let map = PhonemeMap::matcha();
        // ids from matcha.text.symbols: '_' 0, ' ' 16, 'a' 43, 'ə' 83 ... and 178 symbols in all.
        assert_eq!(map.symbols["_"], 0);
        assert_eq!(map.symbols[" "], 16);
        assert_eq!(map.symbols["a"], 43);
        assert_eq!(map.vocabulary_size(), 178);
        assert_eq!(map.encode("ab").unwrap(), vec![0, 43, 0, 44, 0]);
    }

    #[test]
    fn unknown_symbols_are_named() {
        let err = PhonemeMap::matcha().encode("a☃").unwrap_err().to_string();
        assert!(err.contains('☃'), "{err}");
    }
}
