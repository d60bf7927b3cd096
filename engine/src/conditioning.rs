//! Conditioning files: phonemes (or the voice's ids) with durations in frames and an optional
//! pitch curve, decoded and checked against the voice before anything is synthesised.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::text::PhonemeMap;

/// Longest duration of one phoneme, in frames (about 12 s at 22 050 Hz and hop 256).
pub const MAX_FRAMES_PER_PHONEME: f32 = 1000.0;
/// Most frames one conditioning file may ask for in all (about 10 minutes at 22 050 Hz and hop
/// 256): longer speech goes in several files.
pub const MAX_TOTAL_FRAMES: f32 = 52_000.0;
/// Most entries in `phonemes`/`ids`, `durations`, `pitch` or `pitch_hz`.
pub const MAX_ENTRIES: usize = 20_000;
/// F0 values, in Hz, a `pitch_hz` curve may ask for.
pub const F0_HZ: std::ops::RangeInclusive<f32> = 30.0..=1000.0;

/// A conditioning file as written: phonemes with durations in frames, per symbol or per id.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditioning {
    /// IPA symbols, one per entry (or one string, split into symbols).
    #[serde(default)]
    pub phonemes: Option<PhonemeList>,
    /// Phoneme ids of the voice, as `mellow phonemize --voice V --json` prints them.
    #[serde(default)]
    pub ids: Option<Vec<i64>>,
    /// Frames per entry of `phonemes` or `ids`.
    pub durations: Vec<f32>,
    /// Pitch shift in semitones over time, stretched over the frames.
    #[serde(default)]
    pub pitch: Option<Vec<f32>>,
    /// F0 in Hz over time, stretched over the frames (one value per frame is a curve frame by
    /// frame); `pitch` shifts it further. Needs an F0-aware vocoder.
    #[serde(default)]
    pub pitch_hz: Option<Vec<f32>>,
}

/// `"phonemes"` as a list of symbols or one string of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PhonemeList {
    Symbols(Vec<String>),
    Text(String),
}

/// A conditioning file resolved against a voice: ids with a duration each.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionedIds {
    pub ids: Vec<i64>,
    pub durations: Vec<f32>,
    pub pitch: Option<Vec<f32>>,
    pub pitch_hz: Option<Vec<f32>>,
}

impl Conditioning {
    /// Parses and checks a conditioning file's JSON; a field of the wrong type is named.
    ///
    /// ```
    /// use mellow_engine::conditioning::Conditioning;
    /// let c = Conditioning::from_json(r#"{"phonemes": "hi", "durations": [5, 9]}"#).unwrap();
    /// assert_eq!(c.durations, vec![5.0, 9.0]);
    /// let err = Conditioning::from_json(r#"{"phonemes": "hi", "durations": "5"}"#).unwrap_err();
    /// assert!(err.to_string().contains("durations"));
    /// ```
    pub fn from_json(text: &str) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_str(text);
        let c: Conditioning = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                Error::input(format!("not a valid conditioning file: {inner}"))
            } else {
                Error::input(format!(
                    "not a valid conditioning file: field `{path}`: {inner}"
                ))
            }
        })?;
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<()> {
        if self.phonemes.is_some() == self.ids.is_some() {
            return Err(Error::input(
                "give either \"phonemes\" or \"ids\" with \"durations\"",
            ));
        }
        if self.durations.is_empty() {
            return Err(Error::input(
                "\"durations\" is empty: there is nothing to speak",
            ));
        }
        let too_many = [
            ("durations", self.durations.len()),
            ("pitch", self.pitch.as_ref().map_or(0, Vec::len)),
            ("pitch_hz", self.pitch_hz.as_ref().map_or(0, Vec::len)),
            ("ids", self.ids.as_ref().map_or(0, Vec::len)),
        ];
        if let Some((name, n)) = too_many.iter().find(|(_, n)| *n > MAX_ENTRIES) {
            return Err(Error::input(format!(
                "\"{name}\" has {n} entries, more than {MAX_ENTRIES}: split the speech into several files"
            )));
        }
        if let Some(bad) = self
            .durations
            .iter()
            .find(|d| !d.is_finite() || **d < 0.0 || **d > MAX_FRAMES_PER_PHONEME)
        {
            return Err(Error::input(format!(
                "duration {bad} is not a frame count in 0..={MAX_FRAMES_PER_PHONEME}"
            )));
        }
        let total: f32 = self.durations.iter().sum();
        if total < 1.0 {
            return Err(Error::input(
                "the durations add up to less than one frame: there is nothing to speak",
            ));
        }
        if total > MAX_TOTAL_FRAMES {
            return Err(Error::input(format!(
                "the durations add up to {total} frames, more than {MAX_TOTAL_FRAMES} (about 10 minutes) for one file: split the speech into several files"
            )));
        }
        if let Some(pitch) = &self.pitch {
            if pitch.is_empty() {
                return Err(Error::input(
                    "\"pitch\" is empty: leave it out or give values",
                ));
            }
            if let Some(bad) = pitch.iter().find(|p| !p.is_finite()) {
                return Err(Error::input(format!("pitch value {bad} is not a number")));
            }
        }
        if let Some(hz) = &self.pitch_hz {
            if hz.is_empty() {
                return Err(Error::input(
                    "\"pitch_hz\" is empty: leave it out or give values",
                ));
            }
            if let Some(bad) = hz.iter().find(|f| !F0_HZ.contains(*f)) {
                return Err(Error::input(format!(
                    "pitch_hz value {bad} is outside {}..={} Hz",
                    F0_HZ.start(),
                    F0_HZ.end()
                )));
            }
        }
        Ok(())
    }

    /// The ids and per-id durations for a voice's phoneme map: ids are checked against the
    /// vocabulary; symbols keep their durations and the blanks and markers the voice adds get none.
    ///
    /// ```
    /// use mellow_engine::conditioning::Conditioning;
    /// use mellow_engine::text::PhonemeMap;
    /// let c = Conditioning::from_json(r#"{"ids": [1, 2], "durations": [3, 4]}"#).unwrap();
    /// let resolved = c.resolve(&PhonemeMap::matcha()).unwrap();
    /// assert_eq!(resolved.ids, vec![1, 2]);
    /// ```
    pub fn resolve(&self, map: &PhonemeMap) -> Result<ConditionedIds> {
        let (ids, durations) = match (&self.ids, &self.phonemes) {
            (Some(ids), _) => {
                if ids.len() != self.durations.len() {
                    return Err(Error::input(format!(
                        "{} ids but {} durations",
                        ids.len(),
                        self.durations.len()
                    )));
                }
                if let Some(bad) = ids
                    .iter()
                    .find(|&&i| i < 0 || i as usize >= map.vocabulary_size())
                {
                    return Err(Error::input(format!(
                        "phoneme id {bad} is outside this voice's {} symbols",
                        map.vocabulary_size()
                    )));
                }
                (ids.clone(), self.durations.clone())
            }
            (None, Some(list)) => {
                let symbols: Vec<String> = match list {
                    PhonemeList::Symbols(s) => s.clone(),
                    PhonemeList::Text(t) => t.chars().map(String::from).collect(),
                };
                if symbols.len() != self.durations.len() {
                    return Err(Error::input(format!(
                        "{} phonemes but {} durations",
                        symbols.len(),
                        self.durations.len()
                    )));
                }
                let mut chars = Vec::with_capacity(symbols.len());
                for symbol in &symbols {
                    let mut it = symbol.chars();
                    let (Some(ch), None) = (it.next(), it.next()) else {
                        return Err(Error::input(format!(
                            "\"{symbol}\" is not one phoneme symbol"
                        )));
                    };
                    chars.push(ch);
                }
                map.encode_with_values(&chars, &self.durations, 0.0)?
            }
            (None, None) => unreachable!("checked when parsed"),
        };
        Ok(ConditionedIds {
            ids,
            durations,
            pitch: self.pitch.clone(),
            pitch_hz: self.pitch_hz.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(json: &str) -> String {
        Conditioning::from_json(json).unwrap_err().to_string()
    }

    #[test]
    fn requests_beyond_the_caps_are_refused() {
        let ids = vec!["1"; 2000].join(",");
        let durations = vec!["1000"; 2000].join(",");
        let err = error(&format!(
            r#"{{"ids": [{ids}], "durations": [{durations}]}}"#
        ));
        assert!(err.contains("more than 52000"), "{err}");
        assert!(error(r#"{"ids": [], "durations": []}"#).contains("nothing to speak"));
        assert!(error(r#"{"ids": [1], "durations": [0]}"#).contains("less than one frame"));
        assert!(error(r#"{"ids": [1], "durations": [1001]}"#).contains("0..=1000"));
        assert!(error(r#"{"ids": [1], "durations": [9], "pitch": []}"#).contains("empty"));
        assert!(error(r#"{"ids": [1], "durations": [9], "pitch_hz": []}"#).contains("empty"));
        let low = error(r#"{"ids": [1], "durations": [9], "pitch_hz": [120, 5]}"#);
        assert!(
            low.contains("pitch_hz value 5 is outside 30..=1000 Hz"),
            "{low}"
        );
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        assert!(error(r#"{"ids": "x", "durations": [1]}"#).contains("field `ids`"));
        assert!(error(r#"{"ids": [1], "durations": [1, "a"]}"#).contains("field `durations[1]`"));
        assert!(error(r#"{"ids": [1], "durations": [4], "speed": 2}"#).contains("speed"));
        assert!(error(r#"{"ids": [1], "phonemes": "a", "durations": [4]}"#).contains("either"));
    }

    #[test]
    fn ids_and_symbols_are_checked_against_the_voice() {
        let map = PhonemeMap::matcha();
        let c = Conditioning::from_json(r#"{"ids": [100000], "durations": [4]}"#).unwrap();
        assert!(c.resolve(&map).unwrap_err().to_string().contains("outside"));
        let c = Conditioning::from_json(r#"{"phonemes": ["ab"], "durations": [4]}"#).unwrap();
        assert!(c
            .resolve(&map)
            .unwrap_err()
            .to_string()
            .contains("not one phoneme"));
    }
}
