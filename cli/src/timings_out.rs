//! `--timings` and `--subtitles`: where the files go (a path given, or beside each WAV) and what
//! they hold (JSON timings; SRT or WebVTT by the file's extension).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use mellow_engine::audio::output_file::write_atomic;
use mellow_engine::synth::{CueLevel, Timings};

#[derive(Args, Clone, Default)]
pub struct TimingArgs {
    /// Write when each word and phoneme is heard as JSON: to FILE, or beside each WAV (same
    /// name, .json) when no FILE is given.
    #[arg(long, value_name = "FILE")]
    pub timings: Option<Option<PathBuf>>,
    /// Write subtitles: to FILE (.srt or .vtt), or beside each WAV (same name) when no FILE is given.
    #[arg(long, value_name = "FILE")]
    pub subtitles: Option<Option<PathBuf>>,
    /// Subtitle format where the file name does not say.
    #[arg(long, value_enum, default_value_t = SubtitleFormat::Srt)]
    pub subtitle_format: SubtitleFormat,
    /// One cue per sentence or per word.
    #[arg(long, value_enum, default_value_t = Level::Sentence)]
    pub subtitle_level: Level,
}

#[derive(Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum SubtitleFormat {
    #[default]
    Srt,
    Vtt,
}

#[derive(Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Level {
    #[default]
    Sentence,
    Word,
}

impl TimingArgs {
    pub fn wanted(&self) -> bool {
        self.timings.is_some() || self.subtitles.is_some()
    }

    /// Refuses a named file where several WAVs are written (each needs its own).
    pub fn check_beside_each(&self) -> Result<()> {
        for (flag, path) in [
            ("--timings", &self.timings),
            ("--subtitles", &self.subtitles),
        ] {
            if matches!(path, Some(Some(_))) {
                bail!("{flag} FILE names one file, but several WAVs are written: give {flag} without a file to write one beside each WAV");
            }
        }
        Ok(())
    }

    /// Writes the files asked for, for the audio written to `wav`.
    pub fn write(&self, timings: &Timings, wav: &Path) -> Result<()> {
        if let Some(path) = &self.timings {
            let path = beside(path, wav, "json");
            write_atomic(&path, timings.to_json().as_bytes())?;
        }
        if let Some(path) = &self.subtitles {
            let default = match self.subtitle_format {
                SubtitleFormat::Srt => "srt",
                SubtitleFormat::Vtt => "vtt",
            };
            let path = beside(path, wav, default);
            let level = match self.subtitle_level {
                Level::Sentence => CueLevel::Sentence,
                Level::Word => CueLevel::Word,
            };
            let text = match path.extension().and_then(|e| e.to_str()) {
                Some(e) if e.eq_ignore_ascii_case("vtt") => timings.to_vtt(level),
                Some(e) if e.eq_ignore_ascii_case("srt") => timings.to_srt(level),
                _ if default == "vtt" => timings.to_vtt(level),
                _ => timings.to_srt(level),
            };
            write_atomic(&path, text.as_bytes())?;
        }
        Ok(())
    }
}

/// `asked`, or where none was named, `wav` with the extension `extension`.
fn beside(asked: &Option<PathBuf>, wav: &Path, extension: &str) -> PathBuf {
    match asked {
        Some(path) => path.clone(),
        None => wav.with_extension(extension),
    }
}
