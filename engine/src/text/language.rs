//! The text front end a voice's language chooses: English (`en-*`) has its normaliser, number
//! reading and `say-as`; any other language espeak-ng knows is read as written, with espeak-ng's
//! own number reading. The next language's normaliser goes beside `english/`.

use super::english;

/// The language-specific part of the front end.
///
/// ```
/// use mellow_engine::text::Language;
/// assert_eq!(Language::for_code("en-gb"), Language::English);
/// assert_eq!(Language::English.normalize("Dr. Who"), "Doctor Who");
/// assert_eq!(Language::for_code("de").normalize("Dr. Who"), "Dr. Who");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    /// Read as written: espeak-ng reads its numbers in the voice's language.
    Other,
}

impl Language {
    /// The front end for an espeak-ng language code (`en-us`, `en-gb`, `de`, ...).
    pub fn for_code(code: &str) -> Self {
        let primary = code.split(['-', '_']).next().unwrap_or_default();
        match primary.to_ascii_lowercase().as_str() {
            "en" => Self::English,
            _ => Self::Other,
        }
    }

    /// Spells out what espeak-ng would misread (numbers, money, abbreviations) as words.
    pub fn normalize(&self, text: &str) -> String {
        match self {
            Self::English => english::normalize(text),
            Self::Other => text.to_string(),
        }
    }

    /// The words for SSML `say-as` (see [`english::say_as::say_as`]), or why they cannot be
    /// made. Outside English only spelling out and digits are read.
    pub fn say_as(
        &self,
        interpret_as: &str,
        format: Option<&str>,
        text: &str,
    ) -> Result<String, String> {
        match self {
            Self::English => english::say_as::say_as(interpret_as, format, text),
            Self::Other => match interpret_as {
                "characters" | "spell-out" | "letters" | "digits" => Ok(text
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .map(String::from)
                    .collect::<Vec<_>>()
                    .join(" ")),
                other => Err(format!(
                    "say-as \"{other}\" is read only for English voices"
                )),
            },
        }
    }
}
