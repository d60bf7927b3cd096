//! Sentence splitting on normalised text, leaving inline phonemes (`[[ ... ]]`) whole.

/// Splits text into sentences at `.`, `!`, `?` (with any closing quotes or brackets) followed by
/// whitespace, and at blank lines. A period after a single capital letter ("J. K. Rowling") is
/// an initial, not a sentence end.
pub fn split_sentences(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut sentences = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '[' && chars.get(i + 1) == Some(&'[') {
            depth += 1;
            current.push_str("[[");
            i += 2;
            continue;
        }
        if c == ']' && chars.get(i + 1) == Some(&']') && depth > 0 {
            depth -= 1;
            current.push_str("]]");
            i += 2;
            continue;
        }
        if depth == 0 && c == '\n' && chars.get(i + 1) == Some(&'\n') {
            push_sentence(&mut sentences, &mut current);
            i += 1;
            continue;
        }
        current.push(c);
        if depth == 0 && matches!(c, '.' | '!' | '?') {
            let mut j = i + 1;
            while j < chars.len() && matches!(chars[j], '.' | '!' | '?' | '"' | '\'' | ')' | ']') {
                if chars[j] == ']' && chars.get(j + 1) == Some(&']') {
                    break;
                }
                current.push(chars[j]);
                j += 1;
            }
            let at_space = j >= chars.len() || chars[j].is_whitespace();
            if at_space && !is_initial(&chars, i) {
                push_sentence(&mut sentences, &mut current);
            }
            i = j;
            continue;
        }
        i += 1;
    }
    push_sentence(&mut sentences, &mut current);
    sentences
}

/// Byte offsets in `text` where a sentence ends: after `.`, `!` or `?` (with closing quotes or
/// brackets) followed by whitespace or the end, and at blank lines, as [`split_sentences`] splits.
/// The end of the text is not a sentence end unless its punctuation says so.
///
/// ```
/// use mellow_engine::text::sentences::sentence_ends;
/// assert_eq!(sentence_ends("Hi there. J. K. wrote"), vec![9]);
/// assert_eq!(sentence_ends("a\n\nb?"), vec![1, 5]);
/// ```
pub fn sentence_ends(text: &str) -> Vec<usize> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte = |i: usize| chars.get(i).map_or(text.len(), |&(b, _)| b);
    let plain: Vec<char> = chars.iter().map(|&(_, c)| c).collect();
    let mut ends = Vec::new();
    let mut i = 0;
    while i < plain.len() {
        let c = plain[i];
        if c == '\n' && plain.get(i + 1) == Some(&'\n') {
            ends.push(byte(i));
            while plain.get(i) == Some(&'\n') {
                i += 1;
            }
            continue;
        }
        if matches!(c, '.' | '!' | '?') {
            let mut j = i + 1;
            while j < plain.len() && matches!(plain[j], '.' | '!' | '?' | '"' | '\'' | ')' | ']') {
                j += 1;
            }
            let at_space = j >= plain.len() || plain[j].is_whitespace();
            if at_space && !is_initial(&plain, i) {
                ends.push(byte(j));
            }
            i = j;
            continue;
        }
        i += 1;
    }
    ends.dedup();
    ends
}

/// True when the period at `dot` follows a lone capital letter, as in an initial.
fn is_initial(chars: &[char], dot: usize) -> bool {
    chars[dot] == '.'
        && dot >= 1
        && chars[dot - 1].is_uppercase()
        && (dot == 1 || !chars[dot - 2].is_alphanumeric())
}

fn push_sentence(sentences: &mut Vec<String>, current: &mut String) {
    let sentence = current.split_whitespace().collect::<Vec<_>>().join(" ");
    if sentence.chars().any(char::is_alphanumeric) {
        sentences.push(sentence);
    } else if let Some(last) = sentences.last_mut() {
        // Stray punctuation ("...", a closing quote) belongs to the sentence before it.
        if !sentence.is_empty() {
            last.push_str(&sentence);
        }
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_sentence_ends() {
        assert_eq!(
            split_sentences("Hello there. How are you? Fine!"),
            vec!["Hello there.", "How are you?", "Fine!"]
        );
    }

    #[test]
    fn keeps_initials_decimals_and_inline_phonemes() {
        assert_eq!(
            split_sentences("J. K. Rowling wrote it."),
            vec!["J. K. Rowling wrote it."]
        );
        assert_eq!(
            split_sentences("Say [[ həlˈoʊ. ]] now. Next"),
            vec!["Say [[ həlˈoʊ. ]] now.", "Next"]
        );
    }

    #[test]
    fn blank_lines_end_sentences_and_blank_text_has_none() {
        assert_eq!(
            split_sentences("a title\n\nthe body"),
            vec!["a title", "the body"]
        );
        assert!(split_sentences("  \n ... ").is_empty());
    }
}
