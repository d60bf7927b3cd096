//! `mellow sing`: a lyric on a melody (a MIDI file or a typed tune) → a WAV file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use mellow_engine::audio::resample::resample;
use mellow_engine::audio::wav::write_wav_atomic;
use mellow_engine::sing::tune::{parse_tune, tune_melody};
use mellow_engine::sing::{Melody, SingSettings};
use mellow_engine::synth::load_vocoder;
use mellow_engine::voice::embedded::f0_vocoder;
use mellow_engine::Synthesizer;

use crate::plot::{write_song_plot, PlottedNote};
use crate::render::{build_synthesizer, synthesis_options, SynthArgs};

#[derive(Args)]
pub struct SingArgs {
    /// The lyric: words, `-` between the syllables of a word ("twin-kle"), `+` to hold the
    /// syllable before over one more note, `[[ IPA ]]` for a word's phonemes.
    #[arg(long, required_unless_present = "lyrics_file")]
    pub lyrics: Option<String>,
    /// Read the lyric from a file.
    #[arg(long, value_name = "FILE", conflicts_with = "lyrics")]
    pub lyrics_file: Option<PathBuf>,
    /// The melody: a Standard MIDI File (one voice: the first channel with notes, or --channel).
    #[arg(
        long,
        value_name = "FILE.mid",
        required_unless_present = "tune",
        conflicts_with = "tune"
    )]
    pub midi: Option<PathBuf>,
    /// MIDI channel to sing (0–15; default: the first with notes).
    #[arg(long)]
    pub channel: Option<u8>,
    /// The melody as text, repeated until every syllable has its note: note names with an
    /// optional length in beats, `r` for a rest, e.g. "C4 D4 E4:2 r G4:0.5".
    #[arg(long)]
    pub tune: Option<String>,
    /// Tempo of --tune, in beats per minute.
    #[arg(long, default_value_t = 100.0)]
    pub bpm: f64,
    /// How much of each --tune step its note holds (1 = up to the next).
    #[arg(long, default_value_t = 0.95)]
    pub legato: f64,
    /// Move every note by this many semitones.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub transpose: i32,
    /// Semitones of a full pitch bend.
    #[arg(long, default_value_t = 2.0)]
    pub bend_range: f32,
    /// Vibrato depth at full mod wheel, semitones either way.
    #[arg(long, default_value_t = 0.5)]
    pub vibrato_depth: f32,
    /// Vibrato rate in Hz.
    #[arg(long, default_value_t = 5.5)]
    pub vibrato_rate: f32,
    /// The mod wheel (0–1) where the melody has none: vibrato everywhere.
    #[arg(long, default_value_t = 0.0)]
    pub vibrato: f32,
    /// Glide into each note from the one before, in seconds.
    #[arg(long, default_value_t = 0.04)]
    pub portamento: f32,
    /// Output WAV file.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// Also write each note with its syllable and where its vowel was sung, as JSON.
    #[arg(long, value_name = "FILE.json")]
    pub notes_out: Option<PathBuf>,
    /// Also draw the notes and the F0 heard in the song (PNG).
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub synth: SynthArgs,
}

pub fn run(args: SingArgs) -> Result<()> {
    let lyric_text = match (&args.lyrics, &args.lyrics_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the lyric {}", path.display()))?,
        (None, None) => anyhow::bail!("give --lyrics or --lyrics-file"),
    };
    let mut synth = singing_synthesizer(&args.synth)?;
    let lyric = synth.lyric(&lyric_text)?;
    let melody = match (&args.midi, &args.tune) {
        (Some(path), _) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading the MIDI file {}", path.display()))?;
            Melody::from_midi(&bytes, args.channel).with_context(|| path.display().to_string())?
        }
        (None, Some(tune)) => tune_melody(
            &parse_tune(tune)?,
            lyric.notes_needed(),
            args.bpm,
            args.legato,
        )?,
        (None, None) => anyhow::bail!("give --midi FILE or --tune NOTES"),
    }
    .transposed(args.transpose)?;
    let settings = SingSettings {
        bend_range: args.bend_range,
        vibrato_depth: args.vibrato_depth,
        vibrato_rate: args.vibrato_rate,
        vibrato: args.vibrato,
        portamento: args.portamento,
    };
    let song = synth.sing(&lyric, &melody, &settings, &synthesis_options(&args.synth))?;
    for warning in &song.warnings {
        eprintln!("warning: {warning}");
    }
    let rate = args.synth.sample_rate.unwrap_or(song.audio.sample_rate);
    mellow_engine::synth::check_output_rate(rate)?;
    let samples =
        resample(&song.audio.samples, song.audio.sample_rate, rate).map_err(anyhow::Error::msg)?;
    write_wav_atomic(&args.output, &samples, rate)?;
    if let Some(path) = &args.plot {
        let notes: Vec<PlottedNote> = melody
            .notes
            .iter()
            .map(|n| PlottedNote {
                start: n.start,
                end: n.end,
                hz: n.hz(),
            })
            .collect();
        write_song_plot(path, &notes, &song.audio.samples, song.audio.sample_rate)?;
    }
    if let Some(path) = &args.notes_out {
        let notes: Vec<serde_json::Value> = song
            .score
            .syllables
            .iter()
            .flat_map(|s| {
                let phonemes = lyric.syllables[s.syllable].phonemes.clone();
                melody.notes[s.notes.clone()].iter().map(move |n| {
                    serde_json::json!({
                        "start": n.start, "end": n.end, "key": n.key, "hz": n.hz(),
                        "velocity": n.velocity, "syllable": phonemes,
                        "vowel_start": s.vowel_start, "vowel_end": s.vowel_end,
                    })
                })
            })
            .collect();
        let json = serde_json::to_string_pretty(&serde_json::json!({ "notes": notes }))?;
        mellow_engine::audio::output_file::write_atomic_at(path, |tmp| {
            std::fs::write(tmp, json.as_bytes())
                .map_err(|e| mellow_engine::Error::output(e.to_string()))
        })?;
    }
    Ok(())
}

/// The voice with an F0-aware vocoder: the one asked for, else the voice's own where it follows
/// F0, else the built-in harmonic vocoder.
fn singing_synthesizer(args: &SynthArgs) -> Result<Synthesizer> {
    let synth = build_synthesizer(args, true)?;
    if synth.follows_f0() || args.vocoder.is_some() {
        return Ok(synth);
    }
    let vocoder = load_vocoder(&f0_vocoder()?)?;
    let voice = args
        .voice
        .as_deref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut singing =
        Synthesizer::new(&mellow_engine::voice::resolve_voice(&voice)?, Some(vocoder))?;
    singing.set_lexicon(synth.lexicon().cloned());
    Ok(singing)
}
