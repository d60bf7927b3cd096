//! A small binding to espeak-ng's phonemizer (`espeak_TextToPhonemes`), linked by build.rs.
//!
//! espeak-ng keeps global state and is not thread-safe, so every call goes through one lock.
//! Phonemisation never runs on an audio thread.

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
    let mut guard = ESPEAK.lock().unwrap_or_else(|p| p.into_inner());
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
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    Ok((text(version), text(data)))
}

/// IPA phonemes of one clause (text without clause punctuation), with stress marks, words
/// separated by single spaces, in the given espeak-ng voice (for example `en-us`).
pub fn phonemize_clause(text: &str, voice: &str) -> Result<String> {
    let text = CString::new(text).map_err(|_| Error::input("text contains a NUL character"))?;
    let mut guard = ESPEAK.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        *guard = Some(initialize()?);
    }
    let state = guard.as_mut().expect("initialised above");
    if state.voice != voice {
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
    fn unknown_voice_is_an_error() {
        let err = phonemize_clause("hello", "no-such-voice").unwrap_err();
        assert!(err.to_string().contains("no-such-voice"));
    }
}
