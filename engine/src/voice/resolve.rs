//! Finding a voice by what a user typed: the built-in voice's name, a path, or the name of a file
//! in the voice folder. The CLI, the plugin and (next) a server all resolve voices here.

use std::path::{Path, PathBuf};

use super::embedded::default_voice;
use super::file::Voice;
use crate::error::{Error, Result};

/// Environment variable naming the voice folder.
pub const VOICE_FOLDER_ENV: &str = "MELLOW_VOICES";
/// What names the built-in voice besides its own name.
pub const BUILT_IN: &str = "built-in";

/// The folder `--voice NAME` looks in: `$MELLOW_VOICES`, else `~/.local/share/mellow/voices`.
pub fn voice_folder() -> Option<PathBuf> {
    std::env::var_os(VOICE_FOLDER_ENV)
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/mellow/voices"))
        })
}

/// The voice files (`*.safetensors`) in `dir`, sorted by name; none where it cannot be read.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("b.safetensors"), b"").unwrap();
/// std::fs::write(dir.path().join("notes.txt"), b"").unwrap();
/// let files = mellow_engine::voice::resolve::voice_files(dir.path());
/// assert_eq!(files, vec![dir.path().join("b.safetensors")]);
/// ```
pub fn voice_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    paths.sort();
    paths
}

/// The user's own pronunciations, used by every voice: `lexicon.txt` in the voice folder.
pub const USER_LEXICON: &str = "lexicon.txt";

/// The user's lexicon (see [`USER_LEXICON`]) read with `map`, or `None` where there is none.
///
/// ```
/// use mellow_engine::text::PhonemeMap;
/// use mellow_engine::voice::resolve::{user_lexicon, VOICE_FOLDER_ENV};
/// let folder = tempfile::tempdir().unwrap();
/// std::env::set_var(VOICE_FOLDER_ENV, folder.path());
/// assert!(user_lexicon(&PhonemeMap::matcha()).unwrap().is_none());
/// std::fs::write(folder.path().join("lexicon.txt"), "gif dʒˈɪf\n").unwrap();
/// assert_eq!(user_lexicon(&PhonemeMap::matcha()).unwrap().unwrap().lookup("GIF"), Some("dʒˈɪf"));
/// ```
pub fn user_lexicon(map: &crate::text::PhonemeMap) -> Result<Option<crate::text::Lexicon>> {
    let Some(path) = voice_folder().map(|f| f.join(USER_LEXICON)) else {
        return Ok(None);
    };
    if !path.is_file() {
        return Ok(None);
    }
    crate::text::Lexicon::load(&path, map).map(Some)
}

/// The built-in voice, or a clear error in a build without one.
pub fn built_in_voice() -> Result<Voice> {
    default_voice().unwrap_or_else(|| {
        Err(Error::voice(
            "this build has no built-in voice: give a voice file (see `mellow voices`)",
        ))
    })
}

/// The voice `spec` names: empty or `built-in` for the built-in voice; an existing file; the
/// built-in voice's own name (`mellow voices` lists it); or a file in the voice folder, with or
/// without its `.safetensors` extension.
///
/// ```
/// use mellow_engine::voice::resolve::resolve_voice;
/// let voice = resolve_voice("").unwrap();
/// let by_name = resolve_voice(&voice.config.name).unwrap();
/// assert_eq!(by_name.config.name, voice.config.name);
/// let missing = resolve_voice("no-such-voice").err().expect("no such voice");
/// assert!(missing.to_string().contains("no-such-voice"));
/// ```
pub fn resolve_voice(spec: &str) -> Result<Voice> {
    let spec = spec.trim();
    if spec.is_empty() || spec == BUILT_IN {
        return built_in_voice();
    }
    let path = Path::new(spec);
    // A path (or what is written as one) is read as such, with the file system's own message.
    if path.exists() || path.components().count() > 1 {
        return Voice::load(path);
    }
    // A bare name: the built-in voice's, or a file in the voice folder.
    if let Some(Ok(voice)) = default_voice() {
        if voice.config.name == spec {
            return Ok(voice);
        }
    }
    if let Some(dir) = voice_folder() {
        for candidate in [dir.join(spec), dir.join(format!("{spec}.safetensors"))] {
            if candidate.is_file() {
                return Voice::load(&candidate);
            }
        }
    }
    let folder = voice_folder()
        .map(|d| format!(", nor a file in {}", d.display()))
        .unwrap_or_default();
    Err(Error::voice(format!(
        "no voice `{spec}`: it is not a file, nor the built-in voice's name{folder} (`mellow voices` lists them)"
    )))
}
