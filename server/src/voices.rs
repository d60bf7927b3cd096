//! The voices a server offers: the built-in voice and the voice files of one folder, by name.
//! Clients name voices only from this list, never a path. OpenAI's voice names (`alloy`, ...)
//! speak with the default voice, so OpenAI clients work unchanged.

use std::path::{Path, PathBuf};

use mellow_engine::voice::embedded::default_voice;
use mellow_engine::voice::resolve::voice_files;
use mellow_engine::{Synthesizer, Voice};
use serde::Serialize;

/// OpenAI's voice names, spoken by the default voice.
pub const OPENAI_VOICES: &[&str] = &[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
    "marin", "cedar",
];

/// One voice on offer.
#[derive(Debug, Clone, Serialize)]
pub struct VoiceEntry {
    pub name: String,
    pub language: String,
    pub sample_rate: u32,
    pub license: String,
    /// Where its file is (`None`: built in).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// Every voice on offer; the first is the default.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub voices: Vec<VoiceEntry>,
}

impl Catalogue {
    /// The built-in voice, then each loadable voice file with an acoustic model in `folder`.
    pub fn load(folder: Option<&Path>) -> mellow_engine::Result<Self> {
        let mut voices = Vec::new();
        if let Some(Ok(voice)) = default_voice() {
            voices.push(entry(&voice, None));
        }
        if let Some(folder) = folder {
            if !folder.is_dir() {
                return Err(mellow_engine::Error::input(format!(
                    "the voice folder {} is not a folder that can be read",
                    folder.display()
                )));
            }
            for path in voice_files(folder) {
                match Voice::load(&path) {
                    Ok(voice) if voice.config.acoustic.is_some() => {
                        let mut e = entry(&voice, Some(path.clone()));
                        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                            e.name = stem.to_string();
                        }
                        if !voices.iter().any(|v: &VoiceEntry| v.name == e.name) {
                            voices.push(e);
                        }
                    }
                    _ => {}
                }
            }
        }
        if voices.is_empty() {
            return Err(mellow_engine::Error::voice(
                "no voice to serve: this build has no built-in voice and --voices holds none",
            ));
        }
        Ok(Self { voices })
    }

    /// The voice a client names: one of ours, an OpenAI name (the default voice), or empty.
    pub fn find(&self, name: &str) -> Option<&VoiceEntry> {
        let name = name.trim();
        if name.is_empty() || OPENAI_VOICES.contains(&name.to_ascii_lowercase().as_str()) {
            return self.voices.first();
        }
        self.voices.iter().find(|v| v.name == name)
    }

    /// A synthesizer for `entry` (the user's lexicon included).
    pub fn synthesizer(&self, entry: &VoiceEntry) -> mellow_engine::Result<Synthesizer> {
        let spec = entry
            .path
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        Synthesizer::for_names(&spec, None, true)
    }
}

fn entry(voice: &Voice, path: Option<PathBuf>) -> VoiceEntry {
    VoiceEntry {
        name: voice.config.name.clone(),
        language: voice.config.language.clone(),
        sample_rate: voice.config.mel.sample_rate,
        license: voice.config.license.clone(),
        path,
    }
}
