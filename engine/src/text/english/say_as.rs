//! SSML `say-as` in English: characters, cardinal and ordinal numbers, digits, dates, clock
//! times and telephone numbers as the words to speak.

use super::normalize::{clock, decimal_words, integer_words};
use super::numbers::{digits, ordinal, year};

/// Letter names, so that a spelled "a" is "ay", not the article.
const LETTERS: [&str; 26] = [
    "ay",
    "bee",
    "see",
    "dee",
    "ee",
    "eff",
    "gee",
    "aitch",
    "eye",
    "jay",
    "kay",
    "el",
    "em",
    "en",
    "oh",
    "pee",
    "cue",
    "ar",
    "ess",
    "tee",
    "you",
    "vee",
    "double you",
    "ex",
    "why",
    "zee",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The words for `text` read as `interpret_as` (with SSML's `format` where the kind has one), or
/// why it cannot be read that way.
///
/// ```
/// use mellow_engine::text::english::say_as::say_as;
/// assert_eq!(say_as("characters", None, "Hi5").unwrap(), "aitch, eye, five");
/// assert_eq!(say_as("ordinal", None, "21").unwrap(), "twenty first");
/// assert_eq!(say_as("date", Some("mdy"), "12/25/2026").unwrap(), "December twenty fifth, twenty twenty six");
/// assert!(say_as("date", Some("mdy"), "13/45/2026").is_err());
/// ```
pub fn say_as(interpret_as: &str, format: Option<&str>, text: &str) -> Result<String, String> {
    let text = text.trim();
    match interpret_as {
        "characters" | "spell-out" | "letters" | "verbatim" => Ok(characters(text)),
        "cardinal" | "number" => cardinal(text),
        "ordinal" => ordinal_words(text),
        "digits" => digit_words(text),
        "date" => date(text, format.unwrap_or("mdy")),
        "time" => time(text),
        "telephone" => Ok(telephone(text)),
        other => Err(format!("say-as \"{other}\" is not known")),
    }
}

/// Every letter and digit by its name, one at a time; a few symbols by theirs, others left out.
fn characters(text: &str) -> String {
    let mut words = Vec::new();
    for c in text.chars() {
        let lower = c.to_ascii_lowercase();
        let word = match lower {
            'a'..='z' => LETTERS[(lower as u8 - b'a') as usize].to_string(),
            '0'..='9' => digits(&c.to_string()),
            '-' => "dash".into(),
            '.' => "dot".into(),
            '@' => "at".into(),
            '_' => "underscore".into(),
            '/' => "slash".into(),
            '+' => "plus".into(),
            '&' => "and".into(),
            '#' => "hash".into(),
            _ => continue,
        };
        words.push(word);
    }
    // A short pause after each: letters run together are heard as words.
    words.join(", ")
}

fn cardinal(text: &str) -> Result<String, String> {
    let plain = text.replace(',', "");
    let (sign, number) = match plain.strip_prefix(['-', '−']) {
        Some(rest) => ("minus ", rest),
        None => ("", plain.as_str()),
    };
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let words = match number.split_once('.') {
        Some((int, frac)) if valid(int) && valid(frac) => decimal_words(int, frac),
        None if valid(number) => integer_words(number),
        _ => return Err(format!("\"{text}\" is not a number")),
    };
    Ok(format!("{sign}{words}"))
}

fn ordinal_words(text: &str) -> Result<String, String> {
    let number = text
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .replace(',', "");
    match number.parse::<u64>() {
        Ok(n) if number.len() <= 18 => Ok(ordinal(n)),
        _ => Err(format!("\"{text}\" is not an ordinal number")),
    }
}

fn digit_words(text: &str) -> Result<String, String> {
    if !text.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!("\"{text}\" has no digits"));
    }
    Ok(digits(text))
}

/// A date in SSML's field order (`mdy`, `dmy`, `ymd`, `md`, `dm`, `ym`, `my`, `y`, `m`, `d`),
/// its fields separated by `/`, `-` or `.`.
fn date(text: &str, format: &str) -> Result<String, String> {
    let fields: Vec<&str> = text
        .split(['/', '-', '.'])
        .filter(|f| !f.is_empty())
        .collect();
    let bad = || format!("\"{text}\" is not a date in the format \"{format}\"");
    if fields.len() != format.len() || !fields.iter().all(|f| f.parse::<u64>().is_ok()) {
        return Err(bad());
    }
    let (mut day, mut month, mut year_number) = (None, None, None);
    for (kind, field) in format.chars().zip(&fields) {
        let value: u64 = field.parse().map_err(|_| bad())?;
        match kind {
            'd' if (1..=31).contains(&value) => day = Some(value),
            'm' if (1..=12).contains(&value) => month = Some(value),
            'y' => year_number = Some(value),
            _ => return Err(bad()),
        }
    }
    let mut words = Vec::new();
    if let Some(m) = month {
        words.push(MONTHS[m as usize - 1].to_string());
    }
    if let Some(d) = day {
        words.push(ordinal(d));
    }
    let mut spoken = words.join(" ");
    if let Some(y) = year_number {
        let y = year(y);
        spoken = match spoken.is_empty() {
            true => y,
            false if day.is_some() => format!("{spoken}, {y}"),
            false => format!("{spoken} {y}"),
        };
    }
    Ok(spoken)
}

/// A clock time, `7:45`, `7:45pm`, `19:30` or `7:45:10`, with AM or PM when it carries one.
fn time(text: &str) -> Result<String, String> {
    let lower = text.to_ascii_lowercase();
    let (clock_part, marker) = match lower.trim_end_matches('.').strip_suffix('m') {
        Some(rest) if rest.trim_end_matches('.').ends_with('a') => {
            (rest.trim_end_matches(['.', 'a', ' ']).to_string(), " AM")
        }
        Some(rest) if rest.trim_end_matches('.').ends_with('p') => {
            (rest.trim_end_matches(['.', 'p', ' ']).to_string(), " PM")
        }
        _ => (lower.clone(), ""),
    };
    let parts: Vec<&str> = clock_part.split(':').collect();
    let spoken = match parts.as_slice() {
        [h, m] | [h, m, _] => clock(h, m),
        [h] if !marker.is_empty() => h.parse::<u64>().ok().map(|h| integer_words(&h.to_string())),
        _ => None,
    };
    let mut spoken = spoken.ok_or_else(|| format!("\"{text}\" is not a clock time"))?;
    if let [_, _, s] = parts.as_slice() {
        let seconds: u64 = s
            .parse()
            .map_err(|_| format!("\"{text}\" is not a clock time"))?;
        spoken = format!(
            "{spoken} and {} seconds",
            integer_words(&seconds.to_string())
        );
    }
    Ok(format!("{spoken}{marker}"))
}

/// Digit by digit, a pause (comma) between the groups the number is written in.
fn telephone(text: &str) -> String {
    let mut groups = Vec::new();
    let mut plus = false;
    for group in text.split(|c: char| !c.is_ascii_digit() && c != '+') {
        if group.starts_with('+') {
            plus = groups.is_empty();
        }
        if group.chars().any(|c| c.is_ascii_digit()) {
            groups.push(digits(group));
        }
    }
    let spoken = groups.join(", ");
    match plus {
        true => format!("plus {spoken}"),
        false => spoken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_reads_its_form() {
        assert_eq!(
            say_as("characters", None, "SSML").unwrap(),
            "ess, ess, em, el"
        );
        assert_eq!(
            say_as("cardinal", None, "1,250").unwrap(),
            "one thousand two hundred fifty"
        );
        assert_eq!(
            say_as("cardinal", None, "-3.5").unwrap(),
            "minus three point five"
        );
        assert_eq!(say_as("ordinal", None, "3rd").unwrap(), "third");
        assert_eq!(say_as("digits", None, "2024").unwrap(), "two zero two four");
        assert_eq!(
            say_as("date", Some("ymd"), "2026-12-01").unwrap(),
            "December first, twenty twenty six"
        );
        assert_eq!(say_as("date", Some("dm"), "5/3").unwrap(), "March fifth");
        assert_eq!(
            say_as("time", None, "7:45pm").unwrap(),
            "seven forty five PM"
        );
        assert_eq!(say_as("time", None, "19:05").unwrap(), "nineteen oh five");
        assert_eq!(
            say_as("telephone", None, "+1 555-0134").unwrap(),
            "plus one, five five five, zero one three four"
        );
    }

    #[test]
    fn what_does_not_fit_says_why() {
        for (kind, format, text) in [
            ("cardinal", None, "twelve"),
            ("ordinal", None, "first"),
            ("date", Some("mdy"), "2026"),
            ("time", None, "noon"),
            ("unknown-kind", None, "x"),
        ] {
            assert!(say_as(kind, format, text).is_err(), "{kind} {text}");
        }
    }
}
