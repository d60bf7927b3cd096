//! Which written words each spoken word came from. Cleaning and normalising rewrite the text
//! ("$47.99" becomes seven words, "Dr." becomes "Doctor"), so the spoken words are matched back to
//! the written ones by their letters: equal words anchor, and the spoken words between two anchors
//! belong to the written words between them.

use std::ops::Range;

/// Whitespace-separated tokens of `text`, as byte ranges.
///
/// ```
/// use mellow_engine::text::words::tokens;
/// assert_eq!(tokens(" a  bc "), vec![1..2, 4..6]);
/// ```
pub fn tokens(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

/// What two spellings of a word share: its letters and digits, lower case.
fn key(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// How far ahead (written, spoken) the next anchor is looked for: one written token becomes at
/// most a few dozen spoken ones.
const LOOKAHEAD: (usize, usize) = (8, 48);

/// For each token of `spoken` (`spoken_tokens` are its ranges), the range of `written` it came
/// from (a union of written tokens' ranges).
///
/// ```
/// use mellow_engine::text::words::{align, tokens};
/// let written = "Pay $5 now.";
/// let spoken = "Pay five dollars now.";
/// let ranges = align(written, &tokens(written), spoken, &tokens(spoken));
/// let words: Vec<&str> = ranges.iter().map(|r| &written[r.clone()]).collect();
/// assert_eq!(words, ["Pay", "$5", "$5", "now."]);
/// ```
pub fn align(
    written: &str,
    written_tokens: &[Range<usize>],
    spoken: &str,
    spoken_tokens: &[Range<usize>],
) -> Vec<Range<usize>> {
    let w: Vec<String> = written_tokens
        .iter()
        .map(|r| key(&written[r.clone()]))
        .collect();
    let s: Vec<String> = spoken_tokens
        .iter()
        .map(|r| key(&spoken[r.clone()]))
        .collect();
    let union = |a: usize, b: usize| written_tokens[a].start..written_tokens[b - 1].end;
    let mut out: Vec<Range<usize>> = Vec::with_capacity(s.len());
    let (mut i, mut j) = (0, 0);
    while j < s.len() {
        if written_tokens.is_empty() {
            out.push(0..0);
            j += 1;
            continue;
        }
        if i < w.len() && !s[j].is_empty() && w[i] == s[j] {
            out.push(written_tokens[i].clone());
            i += 1;
            j += 1;
            continue;
        }
        let anchor = (0..LOOKAHEAD.0.min(w.len().saturating_sub(i)))
            .flat_map(|a| (0..LOOKAHEAD.1.min(s.len() - j)).map(move |b| (a, b)))
            .filter(|&(a, b)| !s[j + b].is_empty() && w[i + a] == s[j + b])
            .min_by_key(|&(a, b)| (a + b, b));
        match anchor {
            // Spoken words with written ones before the anchor: they came from those.
            Some((a, b)) if a > 0 => {
                // (With none, the written words said nothing: dropped symbols.)
                for _ in 0..b {
                    out.push(union(i, i + a));
                }
                i += a;
                j += b;
            }
            // Spoken words the writing has no words for ("&" read as "and" beside a word):
            // they belong with the word before, or the anchor.
            Some((_, b)) => {
                let near = out.last().cloned().unwrap_or(written_tokens[i].clone());
                for _ in 0..b {
                    out.push(near.clone());
                }
                j += b;
            }
            // Nothing matches ahead: pair the words in order.
            None => {
                let at = i.min(w.len() - 1);
                out.push(written_tokens[at].clone());
                i = (i + 1).min(w.len());
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aligned<'a>(written: &'a str, spoken: &str) -> Vec<&'a str> {
        align(written, &tokens(written), spoken, &tokens(spoken))
            .into_iter()
            .map(|r| &written[r])
            .collect()
    }

    #[test]
    fn rewritten_words_belong_to_what_was_written() {
        assert_eq!(
            aligned(
                "Dr. Smith paid $47.99 today.",
                "Doctor Smith paid forty seven dollars and ninety nine cents today."
            ),
            [
                "Dr.", "Smith", "paid", "$47.99", "$47.99", "$47.99", "$47.99", "$47.99", "$47.99",
                "$47.99", "today."
            ]
        );
        assert_eq!(
            aligned("don\u{2019}t stop", "don't stop"),
            ["don\u{2019}t", "stop"]
        );
        assert_eq!(
            aligned("salt & pepper", "salt and pepper"),
            ["salt", "&", "pepper"]
        );
    }

    #[test]
    fn nothing_in_common_pairs_words_in_order() {
        assert_eq!(aligned("a b", "x y z"), ["a", "b", "b"]);
        assert!(aligned("", "x").len() == 1);
    }
}
