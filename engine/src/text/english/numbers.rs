//! Numbers as English words: cardinals, ordinals, years, digit strings.

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const SCALES: [&str; 7] = [
    "",
    "thousand",
    "million",
    "billion",
    "trillion",
    "quadrillion",
    "quintillion",
];

fn below_hundred(n: u64) -> String {
    if n < 20 {
        ONES[n as usize].to_string()
    } else if n.is_multiple_of(10) {
        TENS[(n / 10) as usize].to_string()
    } else {
        format!("{} {}", TENS[(n / 10) as usize], ONES[(n % 10) as usize])
    }
}

fn below_thousand(n: u64) -> String {
    match (n / 100, n % 100) {
        (0, rest) => below_hundred(rest),
        (h, 0) => format!("{} hundred", ONES[h as usize]),
        (h, rest) => format!("{} hundred {}", ONES[h as usize], below_hundred(rest)),
    }
}

/// `1250` → "one thousand two hundred fifty".
pub fn cardinal(n: u64) -> String {
    if n == 0 {
        return "zero".into();
    }
    let mut groups = Vec::new();
    let mut rest = n;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    let mut words = Vec::new();
    for (scale, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            continue;
        }
        words.push(below_thousand(group));
        if scale > 0 {
            words.push(SCALES[scale].to_string());
        }
    }
    words.join(" ")
}

/// `21` → "twenty first".
pub fn ordinal(n: u64) -> String {
    let words = cardinal(n);
    let (head, last) = match words.rfind(" ") {
        Some(i) => (&words[..=i], &words[i + 1..]),
        None => ("", words.as_str()),
    };
    let last = match last {
        "one" => "first".to_string(),
        "two" => "second".to_string(),
        "three" => "third".to_string(),
        "five" => "fifth".to_string(),
        "eight" => "eighth".to_string(),
        "nine" => "ninth".to_string(),
        "twelve" => "twelfth".to_string(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

/// A year the way people say it: 1999 → "nineteen ninety nine", 2005 → "two thousand five",
/// 1900 → "nineteen hundred", 2024 → "twenty twenty four".
pub fn year(n: u64) -> String {
    let (hi, lo) = (n / 100, n % 100);
    if (2000..2010).contains(&n) || !(1000..10_000).contains(&n) {
        cardinal(n)
    } else if lo == 0 {
        format!("{} hundred", below_hundred(hi))
    } else if lo < 10 {
        format!("{} oh {}", below_hundred(hi), ONES[lo as usize])
    } else {
        format!("{} {}", below_hundred(hi), below_hundred(lo))
    }
}

/// Each digit as a word: "07" → "zero seven".
pub fn digits(s: &str) -> String {
    s.chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| ONES[d as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A Roman numeral from II to MMMCMXCIX as a number; `None` for anything else.
pub fn roman(s: &str) -> Option<u64> {
    if s.is_empty() || !s.chars().all(|c| "IVXLCDM".contains(c)) {
        return None;
    }
    let value = |c| match c {
        'I' => 1,
        'V' => 5,
        'X' => 10,
        'L' => 50,
        'C' => 100,
        'D' => 500,
        'M' => 1000,
        _ => 0,
    };
    let chars: Vec<u64> = s.chars().map(value).collect();
    let mut total = 0i64;
    for (i, &v) in chars.iter().enumerate() {
        if chars.get(i + 1).is_some_and(|&next| next > v) {
            total -= v as i64;
        } else {
            total += v as i64;
        }
    }
    // Accept only the canonical spelling, so words like "MIX" or "DIV" are not read as numbers.
    let n = total as u64;
    (total > 0 && to_roman(n) == s).then_some(n)
}

fn to_roman(mut n: u64) -> String {
    const TABLE: [(u64, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for (v, s) in TABLE {
        while n >= v {
            out.push_str(s);
            n -= v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinals() {
        assert_eq!(cardinal(0), "zero");
        assert_eq!(cardinal(47), "forty seven");
        assert_eq!(cardinal(1250), "one thousand two hundred fifty");
        assert_eq!(cardinal(1_000_001), "one million one");
    }

    #[test]
    fn ordinals_and_years() {
        assert_eq!(ordinal(1), "first");
        assert_eq!(ordinal(21), "twenty first");
        assert_eq!(ordinal(40), "fortieth");
        assert_eq!(ordinal(112), "one hundred twelfth");
        assert_eq!(year(1999), "nineteen ninety nine");
        assert_eq!(year(2005), "two thousand five");
        assert_eq!(year(1905), "nineteen oh five");
        assert_eq!(year(2024), "twenty twenty four");
    }

    #[test]
    fn romans() {
        assert_eq!(roman("II"), Some(2));
        assert_eq!(roman("XIV"), Some(14));
        assert_eq!(roman("VX"), None);
        assert_eq!(roman("IIII"), None);
    }
}
