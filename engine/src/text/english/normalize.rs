//! Text normalisation: what espeak-ng would misread is spelled out as words first.
//!
//! Titles ("Dr."), money ("$47.99"), clock times ("7:45 a.m."), temperatures ("-5°C"), grouped
//! numbers ("1,250"), ordinals, percentages, years and Roman numerals after a name or a word like
//! "War" are rewritten; everything else passes through untouched.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::numbers::{cardinal, digits, ordinal, roman, year};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("normalisation patterns are valid")
}

/// Abbreviations that stand before a name.
static TITLES: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(Dr|Mr|Mrs|Ms|Prof|St|Gen|Capt|Lt|Col|Sgt|Rev|Gov|Sen|Rep|Hon|Fr)\.(\s+)")
});
/// Abbreviations read the same wherever they stand; a trailing capital word keeps the sentence end.
static ABBREVIATIONS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(e\.g|i\.e|etc|vs|approx|Jr|Sr|Inc|Ltd|Co|Jan|Feb|Mar|Apr|Aug|Sept|Sep|Oct|Nov|Dec|Mt|Ave|Blvd|No)\.(\s+[A-Z\d]|\s*$)?",
    )
});
static TIME: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(\d{1,2}):(\d{2})(?:\s*([aApP])\.?\s?[mM]\b(\.)?(\s+[A-Z]|\s*$)?)?"));
static TEMPERATURE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(^|[^\w])([-−–]|minus\s)?(\d+(?:\.\d+)?)\s*°\s*([CFK])?\b"));
static MONEY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"([-−])?([$£€])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(\s+(?:thousand|million|billion|trillion)\b)?",
    )
});
static PERCENT: LazyLock<Regex> = LazyLock::new(|| re(r"(\d[\d,]*(?:\.\d+)?)\s?%"));
static ORDINAL: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d+)(st|nd|rd|th)\b"));
static ROMAN_AFTER_WORD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(War|Chapter|Part|Volume|Book|Act|Phase|Type|Class|Article|Section|Apollo|Title|Level|Stage|Vol|Bowl|Episode|Psalm|Schedule)\s+([IVXLCDM]+)\b",
    )
});
static ROMAN_AFTER_NAME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(Henry|Louis|Charles|George|Edward|Elizabeth|William|James|Richard|John|Pius|Benedict|Gregory|Leo|Philip|Frederick|Napoleon|Alexander|Peter|Catherine|Victor|Ramesses|Mary|Paul|Innocent|Clement|Boniface|Urban|Nicholas|Constantine|Ludwig|Otto|Gustav|Christian|Olaf|Harald|Alfonso|Ferdinand|Carlos|Juan|Felipe|Rama|David|Malcolm|Robert|Stephen|Edmund|Harold|Sancho|Francis)\s+([IVXLCDM]+)\b",
    )
});
static GROUPED_NUMBER: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b"));
static NEGATIVE: LazyLock<Regex> = LazyLock::new(|| re(r"(^|[\s(\[])[-−](\d)"));
static DECIMAL: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d+)\.(\d+)\b"));
static NUMBER: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d+\b"));
static SPACES: LazyLock<Regex> = LazyLock::new(|| re(r"[ \t]+"));

fn title_word(abbr: &str) -> &'static str {
    match abbr {
        "Dr" => "Doctor",
        "Mr" => "Mister",
        "Mrs" => "Missus",
        "Ms" => "Miz",
        "Prof" => "Professor",
        "St" => "Saint",
        "Gen" => "General",
        "Capt" => "Captain",
        "Lt" => "Lieutenant",
        "Col" => "Colonel",
        "Sgt" => "Sergeant",
        "Rev" => "Reverend",
        "Gov" => "Governor",
        "Sen" => "Senator",
        "Rep" => "Representative",
        "Hon" => "Honorable",
        "Fr" => "Father",
        _ => "",
    }
}

fn abbreviation_word(abbr: &str) -> &'static str {
    match abbr {
        "e.g" => "for example",
        "i.e" => "that is",
        "etc" => "et cetera",
        "vs" => "versus",
        "approx" => "approximately",
        "Jr" => "Junior",
        "Sr" => "Senior",
        "Inc" => "Incorporated",
        "Ltd" => "Limited",
        "Co" => "Company",
        "Jan" => "January",
        "Feb" => "February",
        "Mar" => "March",
        "Apr" => "April",
        "Aug" => "August",
        "Sep" | "Sept" => "September",
        "Oct" => "October",
        "Nov" => "November",
        "Dec" => "December",
        "Mt" => "Mount",
        "Ave" => "Avenue",
        "Blvd" => "Boulevard",
        "No" => "number",
        _ => "",
    }
}

/// Re-emits a sentence end that an abbreviation's period stood for: "... a.m. Then" keeps its stop.
fn sentence_end(after: Option<regex::Match>) -> String {
    match after {
        Some(m) if m.as_str().trim().is_empty() => ".".to_string() + m.as_str(),
        Some(m)
            if m.as_str()
                .trim_start()
                .starts_with(|c: char| c.is_uppercase()) =>
        {
            format!(".{}", m.as_str())
        }
        Some(m) => m.as_str().to_string(),
        None => String::new(),
    }
}

fn parse_grouped(s: &str) -> u64 {
    s.replace(',', "").parse().unwrap_or(0)
}

/// Integer words for a digit string, reading a leading zero ("007") digit by digit and
/// numbers too long for u64 digit by digit too.
pub(super) fn integer_words(s: &str) -> String {
    if s.len() > 1 && s.starts_with('0') {
        return digits(s);
    }
    match s.parse::<u64>() {
        Ok(n) if s.len() <= 18 => cardinal(n),
        _ => digits(s),
    }
}

pub(super) fn decimal_words(int: &str, frac: &str) -> String {
    format!("{} point {}", integer_words(int), digits(frac))
}

pub(super) fn clock(h: &str, m: &str) -> Option<String> {
    let (hours, minutes): (u64, u64) = (h.parse().ok()?, m.parse().ok()?);
    if hours > 24 || minutes > 59 {
        return None;
    }
    Some(match minutes {
        0 => format!("{} o'clock", cardinal(hours)),
        1..=9 => format!("{} oh {}", cardinal(hours), cardinal(minutes)),
        _ => format!("{} {}", cardinal(hours), cardinal(minutes)),
    })
}

fn currency(symbol: &str, plural: bool) -> (&'static str, &'static str) {
    match (symbol, plural) {
        ("$", false) => ("dollar", "cent"),
        ("$", true) => ("dollars", "cents"),
        ("£", false) => ("pound", "penny"),
        ("£", true) => ("pounds", "pence"),
        ("€", false) => ("euro", "cent"),
        _ => ("euros", "cents"),
    }
}

fn money(c: &Captures) -> String {
    let sign = if c.get(1).is_some() { "minus " } else { "" };
    let symbol = &c[2];
    let whole = parse_grouped(&c[3]);
    let cents = c.get(4).map(|m| {
        let s = m.as_str();
        let v: u64 = s.parse().unwrap_or(0);
        if s.len() == 1 {
            v * 10
        } else {
            v
        }
    });
    if let Some(scale) = c.get(5) {
        // "$5 million", "$2.5 billion": the amount is a number of the scale.
        let amount = match c.get(4) {
            Some(frac) => decimal_words(&whole.to_string(), frac.as_str()),
            None => cardinal(whole),
        };
        return format!(
            "{sign}{amount}{} {}",
            scale.as_str(),
            currency(symbol, true).0
        );
    }
    let (unit, _) = currency(symbol, whole != 1);
    match cents {
        Some(0) | None => format!("{sign}{} {unit}", cardinal(whole)),
        Some(cents) => {
            let (_, sub) = currency(symbol, cents != 1);
            if whole == 0 {
                format!("{sign}{} {sub}", cardinal(cents))
            } else {
                format!(
                    "{sign}{} {unit} and {} {sub}",
                    cardinal(whole),
                    cardinal(cents)
                )
            }
        }
    }
}

fn temperature(c: &Captures) -> String {
    let lead = &c[1];
    let sign = if c.get(2).is_some() { "minus " } else { "" };
    let value = &c[3];
    let amount = match value.split_once('.') {
        Some((i, f)) => decimal_words(i, f),
        None => integer_words(value),
    };
    let unit = if value == "1" && sign.is_empty() {
        "degree"
    } else {
        "degrees"
    };
    let scale = match c.get(4).map(|m| m.as_str()) {
        Some("C") => " Celsius",
        Some("F") => " Fahrenheit",
        Some("K") => " Kelvin",
        _ => "",
    };
    format!("{lead}{sign}{amount} {unit}{scale}")
}

fn number(s: &str) -> String {
    // A bare four-digit number in the range of recent centuries is most often a year.
    match s.parse::<u64>() {
        Ok(n) if s.len() == 4 && (1100..2100).contains(&n) => year(n),
        _ => integer_words(s),
    }
}

/// Spells out numbers, money, times, temperatures and abbreviations as words.
pub fn normalize(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{02bc}' => '\'',
            '\u{201c}' | '\u{201d}' | '\u{00ab}' | '\u{00bb}' => '"',
            '\u{00a0}' | '\u{2009}' | '\u{202f}' => ' ',
            _ => c,
        })
        .collect();
    s = s.replace('…', "...").replace(" & ", " and ");
    s = TITLES
        .replace_all(&s, |c: &Captures| format!("{}{}", title_word(&c[1]), &c[2]))
        .into_owned();
    s = ABBREVIATIONS
        .replace_all(&s, |c: &Captures| {
            format!("{}{}", abbreviation_word(&c[1]), sentence_end(c.get(2)))
        })
        .into_owned();
    s = TIME
        .replace_all(&s, |c: &Captures| {
            let Some(spoken) = clock(&c[1], &c[2]) else {
                return c[0].to_string();
            };
            match c.get(3) {
                Some(ap) => {
                    let marker = if ap.as_str().eq_ignore_ascii_case("a") {
                        "AM"
                    } else {
                        "PM"
                    };
                    let end = match c.get(4) {
                        Some(_) => sentence_end(c.get(5)),
                        None => c.get(5).map_or(String::new(), |m| m.as_str().to_string()),
                    };
                    format!("{spoken} {marker}{end}")
                }
                None => spoken,
            }
        })
        .into_owned();
    s = TEMPERATURE.replace_all(&s, temperature).into_owned();
    s = MONEY.replace_all(&s, money).into_owned();
    s = PERCENT
        .replace_all(&s, |c: &Captures| {
            let n = c[1].replace(',', "");
            let words = match n.split_once('.') {
                Some((i, f)) => decimal_words(i, f),
                None => integer_words(&n),
            };
            format!("{words} percent")
        })
        .into_owned();
    s = ORDINAL
        .replace_all(&s, |c: &Captures| match c[1].parse::<u64>() {
            Ok(n) if c[1].len() <= 18 => ordinal(n),
            _ => c[0].to_string(),
        })
        .into_owned();
    s = ROMAN_AFTER_WORD
        .replace_all(&s, |c: &Captures| match roman(&c[2]) {
            Some(n) => format!("{} {}", &c[1], cardinal(n)),
            None => c[0].to_string(),
        })
        .into_owned();
    s = ROMAN_AFTER_NAME
        .replace_all(&s, |c: &Captures| match roman(&c[2]) {
            Some(n) => format!("{} the {}", &c[1], ordinal(n)),
            None => c[0].to_string(),
        })
        .into_owned();
    s = GROUPED_NUMBER
        .replace_all(&s, |c: &Captures| {
            let text = c[0].replace(',', "");
            match text.split_once('.') {
                Some((i, f)) => decimal_words(i, f),
                None => integer_words(&text),
            }
        })
        .into_owned();
    s = NEGATIVE.replace_all(&s, "${1}minus $2").into_owned();
    s = DECIMAL
        .replace_all(&s, |c: &Captures| decimal_words(&c[1], &c[2]))
        .into_owned();
    s = NUMBER
        .replace_all(&s, |c: &Captures| number(&c[0]))
        .into_owned();
    s = s
        .replace('%', " percent")
        .replace(" + ", " plus ")
        .replace(" = ", " equals ")
        .replace('@', " at ");
    SPACES.replace_all(s.trim(), " ").into_owned()
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn titles() {
        assert_eq!(normalize("Dr. Smith is here."), "Doctor Smith is here.");
        assert_eq!(normalize("Ask Mrs. Jones"), "Ask Missus Jones");
    }

    #[test]
    fn money() {
        assert_eq!(
            normalize("It costs $47.99 today."),
            "It costs forty seven dollars and ninety nine cents today."
        );
        assert_eq!(normalize("$1"), "one dollar");
        assert_eq!(normalize("$5 million"), "five million dollars");
        assert_eq!(normalize("£3.50"), "three pounds and fifty pence");
    }

    #[test]
    fn clock_times() {
        assert_eq!(
            normalize("It's 7:45 a.m. and late."),
            "It's seven forty five AM and late."
        );
        assert_eq!(
            normalize("Meet at 7:45 a.m. Then go."),
            "Meet at seven forty five AM. Then go."
        );
        assert_eq!(normalize("at 10:00"), "at ten o'clock");
        assert_eq!(normalize("at 9:05 PM"), "at nine oh five PM");
    }

    #[test]
    fn temperatures() {
        assert_eq!(
            normalize("It was -5°C outside."),
            "It was minus five degrees Celsius outside."
        );
        assert_eq!(
            normalize("a 98.6°F fever"),
            "a ninety eight point six degrees Fahrenheit fever"
        );
    }

    #[test]
    fn grouped_numbers_ordinals_and_years() {
        assert_eq!(
            normalize("1,250 soldiers"),
            "one thousand two hundred fifty soldiers"
        );
        assert_eq!(normalize("the 21st floor"), "the twenty first floor");
        assert_eq!(normalize("in 1999"), "in nineteen ninety nine");
        assert_eq!(
            normalize("3.14 and 50%"),
            "three point one four and fifty percent"
        );
        assert_eq!(normalize("agent 007"), "agent zero zero seven");
    }

    #[test]
    fn roman_numerals() {
        assert_eq!(normalize("World War II ended."), "World War two ended.");
        assert_eq!(
            normalize("Henry VIII had six wives."),
            "Henry the eighth had six wives."
        );
        assert_eq!(normalize("I think so"), "I think so");
    }
}
