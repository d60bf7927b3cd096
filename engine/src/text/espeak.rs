//! A small binding to espeak-ng's phonemizer (`espeak_TextToPhonemes`), linked by build.rs.
//!
//! espeak-ng keeps global state and is not thread-safe, so every call goes through one lock.
//! Phonemisation never runs on an audio thread.
//!
//! espeak-ng 1.51 overflows fixed buffers on some words (glibc then aborts the whole process, a
//! DAW included), so every clause is first put in a shape it is known to survive: see
//! [`survivable_clause`] and docs/espeak-limits.md for the limits and how they were found.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::Mutex;

use crate::error::{Error, Result};

const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
const INITIALIZE_DONT_EXIT: c_int = 0x8000;
const CHARS_UTF8: c_int = 1;
const PHONEMES_IPA: c_int = 0x02;

#[link(name = "espeak-ng")]
extern "C" {
    fn espeak_Initialize(
        output: c_int,
        buflength: c_int,
        path: *const c_char,
        options: c_int,
    ) -> c_int;
    fn espeak_SetVoiceByName(name: *const c_char) -> c_int;
    fn espeak_TextToPhonemes(
        textptr: *mut *const c_void,
        textmode: c_int,
        phonememode: c_int,
    ) -> *const c_char;
    fn espeak_Info(path_data: *mut *const c_char) -> *const c_char;
}

struct State {
    voice: String,
}

static ESPEAK: Mutex<Option<State>> = Mutex::new(None);

/// Environment variable naming an espeak-ng data folder to use instead of the system one.
pub const DATA_DIR_ENV: &str = "MELLOW_ESPEAK_DATA";

fn initialize() -> Result<State> {
    let path = std::env::var(DATA_DIR_ENV)
        .ok()
        .map(CString::new)
        .transpose()
        .map_err(|_| Error::Phonemizer(format!("{DATA_DIR_ENV} holds a NUL byte")))?;
    let path_ptr = path.as_ref().map_or(std::ptr::null(), |p| p.as_ptr());
    // SAFETY: plain C call; the path outlives it and the flag stops espeak-ng from exiting the process.
    let rate =
        unsafe { espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, path_ptr, INITIALIZE_DONT_EXIT) };
    if rate <= 0 {
        return Err(Error::Phonemizer(
            "espeak-ng could not start: its data was not found. Install `espeak-ng-data` \
             or point MELLOW_ESPEAK_DATA at an espeak-ng-data folder"
                .into(),
        ));
    }
    Ok(State {
        voice: String::new(),
    })
}

/// The linked espeak-ng's version and data folder.
pub fn version() -> Result<(String, String)> {
    let mut guard = ESPEAK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if guard.is_none() {
        *guard = Some(initialize()?);
    }
    let mut data: *const c_char = std::ptr::null();
    // SAFETY: espeak_Info returns static strings owned by the library.
    let version = unsafe { espeak_Info(&mut data) };
    let text = |p: *const c_char| {
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: a non-null pointer from espeak_Info is a NUL-terminated static string.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    Ok((text(version), text(data)))
}

/// IPA phonemes of one clause (text without clause punctuation), with stress marks, words
/// separated by single spaces, in the given espeak-ng voice (for example `en-us`).
pub fn phonemize_clause(text: &str, voice: &str) -> Result<String> {
    let pieces = survivable_clause(text);
    let mut out = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let phonemes = phonemize_piece(&piece, voice)?;
        if !phonemes.is_empty() {
            out.push(phonemes);
        }
    }
    Ok(out.join(" "))
}

/// Longest word handed to espeak-ng, in characters. Its shortest known crashing word is 136
/// characters (`s'` × 68: each `'s` stacks another suffix onto a 200-byte phoneme buffer);
/// runs of `ness's` and dotted letters crash from 169 characters. The longest English dictionary
/// words have 45 letters, so longer "words" are cut into pieces of this size.
pub const MAX_WORD_CHARS: usize = 48;
/// Most characters handed to espeak-ng in one call; longer clauses go in pieces split at word
/// boundaries. espeak-ng's own clause buffer holds 800 bytes and splits by itself, but never
/// reaching that path keeps the input inside what it has been fuzzed with.
pub const MAX_PIECE_CHARS: usize = 400;
/// Longest run of one repeated symbol kept ("!!!!!!!!" reads as "!!!").
pub const MAX_SYMBOL_RUN: usize = 3;

/// `text` as pieces espeak-ng survives: periods read as spaces, control characters (espeak-ng's in-text command marker
/// among them) removed, runs of one symbol shortened to [`MAX_SYMBOL_RUN`], words cut to at most
/// [`MAX_WORD_CHARS`] characters, and the words grouped into pieces of at most
/// [`MAX_PIECE_CHARS`] characters.
///
/// ```
/// use mellow_engine::text::espeak::{survivable_clause, MAX_WORD_CHARS};
/// let pieces = survivable_clause(&"s'".repeat(68));
/// assert!(pieces.iter().flat_map(|p| p.split(' ')).all(|w| w.chars().count() <= MAX_WORD_CHARS));
/// ```
pub fn survivable_clause(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    // A period inside a word makes espeak-ng spell the letters around it as an abbreviation, and
    // about 85 such letters in one clause overflow it ("w.w.w." … crashes at 170 characters even
    // when cut into words); read apart, the letters sound the same.
    for word in text.split(|c: char| c.is_whitespace() || c == '.') {
        let mut kept = String::with_capacity(word.len());
        let (mut last, mut run) = ('\0', 0usize);
        for c in word.chars().filter(|c| !c.is_control()) {
            run = if c == last { run + 1 } else { 1 };
            last = c;
            if c.is_alphanumeric() || run <= MAX_SYMBOL_RUN {
                kept.push(c);
            }
        }
        let chars: Vec<char> = kept.chars().collect();
        for chunk in chars.chunks(MAX_WORD_CHARS) {
            words.push(chunk.iter().collect());
        }
    }
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut piece_chars = 0;
    for word in words.into_iter().filter(|w| !w.is_empty()) {
        let n = word.chars().count();
        if piece_chars > 0 && piece_chars + 1 + n > MAX_PIECE_CHARS {
            pieces.push(std::mem::take(&mut piece));
            piece_chars = 0;
        }
        if piece_chars > 0 {
            piece.push(' ');
            piece_chars += 1;
        }
        piece.push_str(&word);
        piece_chars += n;
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    pieces
}

/// Longest voice name handed to espeak-ng (its own names are under 20 characters).
const MAX_VOICE_NAME: usize = 40;

/// One piece already in a survivable shape (see [`survivable_clause`]) through espeak-ng.
fn phonemize_piece(text: &str, voice: &str) -> Result<String> {
    let text = CString::new(text).map_err(|_| Error::input("text contains a NUL character"))?;
    let mut guard = ESPEAK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if guard.is_none() {
        *guard = Some(initialize()?);
    }
    let state = guard.as_mut().expect("initialised above");
    if state.voice != voice {
        // espeak-ng copies the name into a fixed buffer: only short, plain names reach it.
        let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_+".contains(&b);
        if voice.len() > MAX_VOICE_NAME || !voice.bytes().all(plain) {
            return Err(Error::input(format!(
                "`{voice}` is not an espeak-ng voice name (at most {MAX_VOICE_NAME} letters, digits, - _ +)"
            )));
        }
        let name =
            CString::new(voice).map_err(|_| Error::input("voice name contains a NUL character"))?;
        // SAFETY: plain C call with a valid C string.
        if unsafe { espeak_SetVoiceByName(name.as_ptr()) } != 0 {
            return Err(Error::Phonemizer(format!(
                "espeak-ng has no voice named `{voice}`"
            )));
        }
        state.voice = voice.to_string();
    }
    let mut pieces = Vec::new();
    let mut ptr = text.as_ptr() as *const c_void;
    // espeak-ng returns one clause per call and advances the pointer; null marks the end.
    while !ptr.is_null() {
        // SAFETY: `ptr` points into `text`, alive for the loop; the result is a static buffer
        // that stays valid until the next call, so it is copied at once.
        let out = unsafe { espeak_TextToPhonemes(&mut ptr, CHARS_UTF8, PHONEMES_IPA) };
        if out.is_null() {
            break;
        }
        // SAFETY: `out` is non-null and NUL-terminated (see above); copied before the next call.
        let clause = unsafe { CStr::from_ptr(out) }.to_string_lossy();
        let clause = clause.trim();
        if !clause.is_empty() {
            pieces.push(clause.to_string());
        }
    }
    Ok(pieces.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phonemizes_like_the_espeak_ng_command() {
        assert_eq!(
            phonemize_clause("hello world", "en-us").unwrap(),
            "həlˈoʊ wˈɜːld"
        );
    }

    #[test]
    fn words_that_crash_espeak_ng_are_cut_first() {
        // Each of these aborted the process inside espeak-ng 1.51 before the guard.
        let suffixes = "s'".repeat(68);
        let ness = format!("kind{}", "ness".repeat(67));
        let dotted = "w.".repeat(90);
        let possessive = format!("kind{}", "ness's".repeat(34));
        for text in [&suffixes, &ness, &dotted, &possessive] {
            let phonemes = phonemize_clause(text, "en-us").unwrap();
            assert!(!phonemes.is_empty(), "{text}");
        }
    }

    #[test]
    fn guard_keeps_ordinary_text_whole() {
        let text = "it's the dog's bone, isn't it";
        assert_eq!(survivable_clause(text), vec![text.to_string()]);
    }

    #[test]
    fn guard_bounds_words_pieces_and_runs() {
        let long_word = "a".repeat(130);
        let pieces = survivable_clause(&long_word);
        assert_eq!(
            pieces,
            vec![format!(
                "{} {} {}",
                "a".repeat(48),
                "a".repeat(48),
                "a".repeat(34)
            )]
        );
        let many_words = "word ".repeat(500);
        let pieces = survivable_clause(&many_words);
        assert!(pieces.len() > 1 && pieces.iter().all(|p| p.chars().count() <= MAX_PIECE_CHARS));
        assert_eq!(pieces.concat().matches("word").count(), 500);
        assert_eq!(
            survivable_clause("wow!!!!!!!! \u{1}x\u{7f}"),
            vec!["wow!!! x".to_string()]
        );
        assert!(survivable_clause(" \t\u{0}").is_empty());
    }

    #[test]
    fn unknown_voice_is_an_error() {
        let err = phonemize_clause("hello", "no-such-voice").unwrap_err();
        assert!(err.to_string().contains("no-such-voice"));
    }
}
