//! A word's phoneme ids cut into syllables: one vowel nucleus each (a diphthong or a long vowel
//! is one nucleus), a lone consonant between vowels starting the next syllable, and of two or
//! more the first closing the syllable before ("lit|tle", "twin|kle" → "twɪŋ|kəl").

use std::ops::Range;

/// IPA vowels as espeak-ng writes them (r-coloured ones included).
const VOWELS: &str = "aeiouyæɐɑɒɔəɘɚɛɜɝɞɤɨɪɯɵøœɶʉʊʌʏᵻ";
/// Marks that lengthen or colour the vowel before them.
const VOWEL_MARKS: &str = "ːˑ\u{303}\u{329}";
/// Pairs of vowels that make one nucleus.
const DIPHTHONGS: [(char, char); 10] = [
    ('a', 'ɪ'),
    ('e', 'ɪ'),
    ('o', 'ʊ'),
    ('a', 'ʊ'),
    ('ɔ', 'ɪ'),
    ('ə', 'ʊ'),
    ('ɪ', 'ə'),
    ('e', 'ə'),
    ('ʊ', 'ə'),
    ('ɛ', 'ə'),
];
/// Stress marks start a syllable's nucleus.
const STRESS: &str = "ˈˌ";

/// One syllable's ids (indices into the sentence's ids): its onset, its nucleus and its coda,
/// adjacent and in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syllable {
    pub onset: Range<usize>,
    pub nucleus: Range<usize>,
    pub coda: Range<usize>,
}

impl Syllable {
    pub fn ids(&self) -> Range<usize> {
        self.onset.start..self.coda.end
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A blank or anything silent between symbols.
    Blank,
    Stress,
    Vowel(char),
    Mark,
    Consonant,
}

fn kind(symbol: &str) -> Kind {
    match symbol.chars().next() {
        None => Kind::Blank,
        Some(c) if STRESS.contains(c) => Kind::Stress,
        Some(c) if VOWELS.contains(c) => Kind::Vowel(c),
        Some(c) if VOWEL_MARKS.contains(c) => Kind::Mark,
        Some(c) if c.is_alphabetic() => Kind::Consonant,
        Some(_) => Kind::Blank,
    }
}

/// The syllables of the word whose ids are `word` (indices into `symbols`, the sentence's
/// symbols with blanks as empty strings). A word without a vowel is one syllable with the
/// whole word as its nucleus (a syllabic consonant, "hmm").
///
/// ```
/// use mellow_engine::sing::syllables::syllables;
/// let symbols: Vec<String> = ["t", "w", "ˈ", "ɪ", "ŋ", "k", "ə", "l"].map(String::from).to_vec();
/// let s = syllables(&symbols, 0..8);
/// assert_eq!(s.len(), 2);
/// assert_eq!((s[0].onset.clone(), s[0].nucleus.clone(), s[0].coda.clone()), (0..2, 2..4, 4..5));
/// assert_eq!((s[1].onset.clone(), s[1].nucleus.clone(), s[1].coda.clone()), (5..6, 6..7, 7..8));
/// ```
pub fn syllables(symbols: &[String], word: Range<usize>) -> Vec<Syllable> {
    let kinds: Vec<Kind> = word.clone().map(|i| kind(&symbols[i])).collect();
    let at = |i: usize| word.start + i;
    // Nuclei: runs of vowels (with their marks) that belong together, each led by its stress mark.
    let mut nuclei: Vec<Range<usize>> = Vec::new();
    let mut last_vowel: Option<char> = None;
    let mut pending_stress: Option<usize> = None;
    for (i, k) in kinds.iter().enumerate() {
        match *k {
            Kind::Stress => pending_stress = Some(i),
            Kind::Vowel(v) => {
                let joins = pending_stress.is_none()
                    && nuclei.last().is_some_and(|n| {
                        only_blanks_between(&kinds, n.end, i)
                            && last_vowel.is_some_and(|l| DIPHTHONGS.contains(&(l, v)))
                    });
                if joins {
                    nuclei.last_mut().expect("checked").end = i + 1;
                } else {
                    nuclei.push(pending_stress.take().unwrap_or(i)..i + 1);
                }
                last_vowel = Some(v);
            }
            Kind::Mark => {
                if let Some(n) = nuclei
                    .last_mut()
                    .filter(|n| only_blanks_between(&kinds, n.end, i))
                {
                    n.end = i + 1;
                }
            }
            Kind::Consonant => {
                last_vowel = None;
                pending_stress = None;
            }
            Kind::Blank => {}
        }
    }
    if nuclei.is_empty() {
        let all = at(0)..at(kinds.len());
        return vec![Syllable {
            onset: all.start..all.start,
            nucleus: all.clone(),
            coda: all.end..all.end,
        }];
    }
    // Boundaries between nuclei: after the first of two or more consonants, else right after
    // the nucleus before.
    let mut starts = vec![0usize];
    for pair in nuclei.windows(2) {
        let consonants: Vec<usize> = (pair[0].end..pair[1].start)
            .filter(|&i| kinds[i] == Kind::Consonant)
            .collect();
        starts.push(match consonants.len() {
            0 | 1 => pair[0].end,
            _ => consonants[0] + 1,
        });
    }
    starts.push(kinds.len());
    nuclei
        .iter()
        .enumerate()
        .map(|(k, n)| Syllable {
            onset: at(starts[k])..at(n.start),
            nucleus: at(n.start)..at(n.end),
            coda: at(n.end)..at(starts[k + 1]),
        })
        .collect()
}

fn only_blanks_between(kinds: &[Kind], from: usize, to: usize) -> bool {
    kinds[from..to].iter().all(|k| *k == Kind::Blank)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Symbols of an IPA string with a blank between each, as the voice's ids come.
    fn interspersed(ipa: &str) -> Vec<String> {
        let mut out = vec![String::new()];
        for c in ipa.chars() {
            out.push(c.to_string());
            out.push(String::new());
        }
        out
    }

    fn split(ipa: &str) -> Vec<String> {
        let symbols = interspersed(ipa);
        syllables(&symbols, 0..symbols.len())
            .iter()
            .map(|s| symbols[s.ids()].concat())
            .collect()
    }

    #[test]
    fn words_split_at_their_nuclei() {
        assert_eq!(split("twˈɪŋkəl"), ["twˈɪŋ", "kəl"]);
        assert_eq!(split("lˈɪɾəl"), ["lˈɪ", "ɾəl"]);
        assert_eq!(split("stˈɑːɹ"), ["stˈɑːɹ"]);
        assert_eq!(split("hˈaʊ"), ["hˈaʊ"]);
        assert_eq!(split("aɪdˈiːə"), ["aɪ", "dˈiː", "ə"]);
        assert_eq!(split("bjˈuːɾɪfəl"), ["bjˈuː", "ɾɪ", "fəl"]);
        assert_eq!(split("hmm"), ["hmm"]);
    }

    #[test]
    fn syllables_cover_the_word_in_order() {
        let symbols = interspersed("ɛkstɹˈɔːɹdɪnɚɹi");
        let s = syllables(&symbols, 0..symbols.len());
        assert_eq!(s.first().unwrap().onset.start, 0);
        assert_eq!(s.last().unwrap().coda.end, symbols.len());
        for pair in s.windows(2) {
            assert_eq!(pair[0].coda.end, pair[1].onset.start);
        }
        assert_eq!(s.len(), 5, "{:?}", s);
    }
}
