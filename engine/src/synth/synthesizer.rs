//! A loaded voice, ready to speak: its acoustic model, its vocoder and what it reads text with.
//! What to say becomes an [`Utterance`] here; the speaking itself is the one loop in
//! [`super::utterance`].

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;

use super::loudness::{reference_of, resolve_loudness};
use super::options::{ResolvedOptions, SynthesisOptions, LEAD_IN};
use super::utterance::{Segment, Utterance};
use crate::acoustic::AcousticModel;
use crate::audio::limit::limit;
use crate::audio::MelConfig;
use crate::conditioning::Conditioning;
use crate::error::{candle_message, Error, Result};
use crate::text::markup::{Markup, Piece, Prosody};
use crate::text::{
    self, ssml, Lexicon, PhonemeMap, ReadingRules, Sentence, TextReading, MAX_PHONEME_IDS,
};
use crate::vocoder::chunked::ChunkedVocoding;
use crate::vocoder::factory::{build_vocoder, phase_vocoder};
use crate::vocoder::{Vocoder, VocoderConfig};
use crate::voice::resolve::user_lexicon;
use crate::voice::{resolve_voice, Voice, VoiceConfig};

/// Mono audio.
#[derive(Debug, Clone)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Audio {
    pub fn duration_seconds(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}

/// A mel spectrogram with what produced it.
#[derive(Debug, Clone)]
pub struct MelOutput {
    /// `[1, n_mels, frames]`
    pub mel: Tensor,
    /// Phoneme symbols and their frame counts (empty when the mel was given).
    pub alignment: Vec<(String, usize)>,
    /// The F0 (Hz) an F0-aware vocoder was asked to play in each frame; `None` where it played
    /// the pitch the mel holds.
    pub asked_f0: Option<Vec<f32>>,
}

/// A voice's models, ready to synthesise.
///
/// ```no_run
/// # fn main() -> mellow_engine::Result<()> {
/// use mellow_engine::{voice::resolve_voice, SynthesisOptions, Synthesizer};
/// let voice = resolve_voice("")?; // the built-in voice
/// let mut synth = Synthesizer::new(&voice, None)?;
/// let audio = synth.speak_text("Hello there.", &SynthesisOptions::default())?;
/// assert!(audio.duration_seconds() > 0.3);
/// # Ok(()) }
/// ```
pub struct Synthesizer {
    pub(super) config: VoiceConfig,
    pub(super) acoustic: Option<AcousticModel>,
    pub(super) vocoder: Box<dyn Vocoder>,
    pub(super) vocoder_mel: MelConfig,
    /// Id → symbol, for alignments (blanks and markers map to nothing).
    id_symbols: HashMap<i64, String>,
    /// The user's pronunciations, looked up before espeak-ng.
    lexicon: Option<Lexicon>,
    /// The voice's loudness at unity gain (see [`super::loudness`]), when calibrated.
    pub(super) loudness_reference: Option<f32>,
}

/// What names the weights-free phase vocoder where a vocoder file is taken.
pub const PHASE: &str = "phase";
/// What names the built-in voice file's Vocos where a vocoder file is taken.
pub const VOCOS: &str = "vocos";
/// Griffin-Lim iterations of the phase vocoder when nothing says otherwise.
const PHASE_ITERATIONS: usize = 32;

/// A config-only voice for vocoding mels with the phase vocoder when no voice is given.
fn phase_only_voice() -> Result<Voice> {
    let config = VoiceConfig::vocoder_only(
        PHASE.into(),
        VocoderConfig::Phase {
            iterations: PHASE_ITERATIONS,
        },
        "built in".into(),
        "GPL-3.0-or-later".into(),
    );
    Voice::new(config, Default::default(), "the phase vocoder")
}

/// Builds the vocoder a voice or vocoder file holds.
pub fn load_vocoder(voice: &Voice) -> Result<(Box<dyn Vocoder>, MelConfig)> {
    let cfg = voice
        .config
        .vocoder
        .clone()
        .ok_or_else(|| Error::voice(format!("{} holds no vocoder", voice.origin)))?;
    let mel = voice.config.mel.clone();
    let vb = voice.var_builder().pp("vocoder");
    let vocoder = build_vocoder(&cfg, &mel, vb).map_err(|e| {
        Error::voice(format!(
            "{}: vocoder weights do not fit its config: {}",
            voice.origin,
            candle_message(&e)
        ))
    })?;
    Ok((vocoder, mel))
}

impl Synthesizer {
    /// Loads `voice`; the vocoder comes from `vocoder` when given, else from the voice file, else
    /// the weights-free phase vocoder.
    pub fn new(voice: &Voice, vocoder: Option<(Box<dyn Vocoder>, MelConfig)>) -> Result<Self> {
        let acoustic = match &voice.config.acoustic {
            Some(cfg) => Some(AcousticModel::new(cfg, voice.var_builder()).map_err(|e| {
                Error::voice(format!(
                    "{}: the weights do not fit the config: {}",
                    voice.origin,
                    candle_message(&e)
                ))
            })?),
            None => None,
        };
        let (vocoder, vocoder_mel) = match vocoder {
            Some(v) => v,
            None if voice.config.vocoder.is_some() => load_vocoder(voice)?,
            None => phase_vocoder(&voice.config.mel, PHASE_ITERATIONS),
        };
        let mel = &voice.config.mel;
        if (
            vocoder_mel.n_mels,
            vocoder_mel.hop_length,
            vocoder_mel.sample_rate,
        ) != (mel.n_mels, mel.hop_length, mel.sample_rate)
        {
            return Err(Error::input(format!(
                "the vocoder expects {} mel bands, hop {} at {} Hz; the voice makes {} bands, hop {} at {} Hz",
                vocoder_mel.n_mels, vocoder_mel.hop_length, vocoder_mel.sample_rate,
                mel.n_mels, mel.hop_length, mel.sample_rate
            )));
        }
        let id_symbols = voice
            .config
            .phonemes
            .iter()
            .flat_map(|m| m.symbols.iter().map(|(symbol, &id)| (id, symbol.clone())))
            .collect();
        Ok(Self {
            config: voice.config.clone(),
            acoustic,
            vocoder,
            vocoder_mel,
            id_symbols,
            lexicon: None,
            loudness_reference: reference_of(voice.tensors(), &voice.origin)?,
        })
    }

    /// Words to say the user's way from now on (see [`Lexicon`]); `None` for espeak-ng's alone.
    pub fn set_lexicon(&mut self, lexicon: Option<Lexicon>) {
        self.lexicon = lexicon;
    }

    pub fn lexicon(&self) -> Option<&Lexicon> {
        self.lexicon.as_ref()
    }

    /// The synthesizer for what a user names: a voice (see [`resolve_voice`]: a built-in name, a
    /// voice-folder name or a path; empty for the built-in voice) and optionally a vocoder (a
    /// vocoder or voice file, or `phase` for the weights-free one). A vocoder alone, with
    /// `voice` empty, makes a vocoder-only synthesizer for mels. The user's lexicon (see
    /// [`crate::voice::resolve::USER_LEXICON`]) is read when there is one.
    ///
    /// ```
    /// use mellow_engine::Synthesizer;
    /// let phase_only = Synthesizer::for_names("", Some("phase"), false).unwrap();
    /// assert_eq!(phase_only.vocoder_name(), "phase");
    /// let err = Synthesizer::for_names("no-such-voice", None, true).err().unwrap();
    /// assert!(err.to_string().contains("no-such-voice"));
    /// ```
    pub fn for_names(voice: &str, vocoder: Option<&str>, need_acoustic: bool) -> Result<Self> {
        let voice_named = !voice.trim().is_empty();
        let voice = match vocoder {
            Some(PHASE) if !voice_named && !need_acoustic => phase_only_voice()?,
            Some(VOCOS) if !voice_named && !need_acoustic => {
                return Self::new(&crate::voice::embedded::vocos_vocoder()?, None)
            }
            Some(path) if !voice_named && !need_acoustic => {
                return Self::new(&Voice::load(Path::new(path))?, None)
            }
            _ => resolve_voice(voice)?,
        };
        let vocoder = match vocoder {
            None => None,
            Some(PHASE) => Some(phase_vocoder(&voice.config.mel, PHASE_ITERATIONS)),
            Some(VOCOS) => Some(load_vocoder(&crate::voice::embedded::vocos_vocoder()?)?),
            Some(path) => Some(load_vocoder(&Voice::load(Path::new(path))?)?),
        };
        let mut synth = Self::new(&voice, vocoder)?;
        if let Some(map) = &synth.config.phonemes {
            synth.lexicon = user_lexicon(map)?;
        }
        Ok(synth)
    }

    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    /// The rate the voice speaks at, before any resampling.
    pub fn sample_rate(&self) -> u32 {
        self.vocoder_mel.sample_rate
    }

    /// Samples per mel frame at [`Synthesizer::sample_rate`].
    pub fn hop_length(&self) -> usize {
        self.vocoder.hop_length()
    }

    pub fn vocoder_name(&self) -> &'static str {
        self.vocoder.name()
    }

    /// Whether the vocoder plays an F0 it is given (intonation, pitch curves, singing).
    pub fn follows_f0(&self) -> bool {
        self.vocoder.follows_f0()
    }

    /// Scales the breath noise of voiced sounds from now on (1 = as the vocoder was trained);
    /// false when the vocoder has no separate noise.
    pub fn set_voiced_noise(&mut self, gain: f32) -> bool {
        self.vocoder.set_voiced_noise(gain)
    }

    fn acoustic(&self) -> Result<&AcousticModel> {
        self.acoustic.as_ref().ok_or_else(no_acoustic_model)
    }

    fn phoneme_map(&self) -> Result<&PhonemeMap> {
        self.config
            .phonemes
            .as_ref()
            .ok_or_else(|| Error::input("this voice has no phoneme map"))
    }

    /// The voice's loudness calibration in LUFS (see [`super::loudness`]), if it has one.
    pub fn loudness_reference(&self) -> Option<f32> {
        self.loudness_reference
    }

    /// Fills in the voice's defaults and checks the options against it (a pitch range needs
    /// an intonation predictor and an F0-aware vocoder; a loudness target, a calibration).
    pub fn resolve(&self, options: &SynthesisOptions) -> Result<ResolvedOptions> {
        let mut resolved = options.resolve(
            &self.config.defaults,
            self.acoustic.as_ref().map(AcousticModel::config),
        )?;
        if let Some(model) = &self.acoustic {
            let f0_aware = self.vocoder.follows_f0();
            super::pitch_plan::intonation_plan(model, f0_aware, &resolved, self.vocoder.name())?;
        }
        resolved.loudness = resolve_loudness(options.loudness, self.loudness_reference)?;
        Ok(resolved)
    }

    /// Text → an utterance of sentences, with warnings about what the voice could not read. A
    /// text that starts with `<speak` is SSML (see [`Synthesizer::ssml_utterance`]).
    ///
    /// ```no_run
    /// # fn main() -> mellow_engine::Result<()> {
    /// let synth = mellow_engine::Synthesizer::for_names("", None, true)?;
    /// let utterance = synth.utterance("It costs $5. Bye!")?;
    /// assert_eq!(utterance.segments[0].sentence.words[2].text, "$5.");
    /// # Ok(()) }
    /// ```
    pub fn utterance(&self, text: &str) -> Result<Utterance> {
        if ssml::is_ssml(text) {
            return self.ssml_utterance(text);
        }
        self.acoustic()?;
        let reading = text::read_plain_text(text, &self.rules()?)?;
        Ok(Self::utterance_of(reading))
    }

    /// An SSML document (or a fragment of one, taken as inside `<speak>`) → an utterance; see
    /// [`ssml::parse_ssml`] for the elements read.
    ///
    /// ```no_run
    /// # fn main() -> mellow_engine::Result<()> {
    /// let synth = mellow_engine::Synthesizer::for_names("", None, true)?;
    /// let u = synth.ssml_utterance(r#"<speak>One <break time="1s"/> two.</speak>"#)?;
    /// assert_eq!(u.segments[0].sentence.pause_after, Some(1.0));
    /// # Ok(()) }
    /// ```
    pub fn ssml_utterance(&self, document: &str) -> Result<Utterance> {
        self.acoustic()?;
        let markup = ssml::parse_ssml(document, &self.config.language)?;
        self.read(&markup, document)
    }

    /// Phonemes given directly (IPA, the voice's symbols) → one segment, or several when it is
    /// longer than the model takes at once; each whitespace-separated group is a word.
    pub fn phoneme_utterance(&self, phonemes: &str) -> Result<Utterance> {
        if phonemes.trim().is_empty() {
            return Err(Error::input("the phoneme string is empty"));
        }
        let markup = Markup {
            pieces: vec![Piece::Phonemes {
                ipa: phonemes.to_string(),
                source: 0..phonemes.len(),
                prosody: Prosody::default(),
            }],
            warnings: Vec::new(),
        };
        self.read(&markup, phonemes)
    }

    /// What the front end makes of `markup` (from `input`) with this voice's rules.
    pub fn reading(&self, markup: &Markup, input: &str) -> Result<TextReading> {
        text::read_markup(markup, input, &self.rules()?)
    }

    /// How this voice reads: its language, phoneme map and lexicon.
    fn rules(&self) -> Result<ReadingRules<'_>> {
        Ok(ReadingRules {
            language: &self.config.language,
            map: self.phoneme_map()?,
            lexicon: self.lexicon.as_ref(),
        })
    }

    fn read(&self, markup: &Markup, input: &str) -> Result<Utterance> {
        self.acoustic()?;
        Ok(Self::utterance_of(self.reading(markup, input)?))
    }

    /// A reading as an utterance: its sentences as segments, after the lead-in.
    fn utterance_of(reading: TextReading) -> Utterance {
        Utterance {
            segments: reading.sentences.into_iter().map(Segment::from).collect(),
            warnings: reading.warnings,
            lead_in: LEAD_IN + reading.leading_pause,
        }
    }

    /// A conditioning file → one segment whose durations (and pitch curve) are given.
    pub fn conditioned_utterance(&self, conditioning: &Conditioning) -> Result<Utterance> {
        self.acoustic()?;
        let resolved = conditioning.resolve(self.phoneme_map()?)?;
        let phonemes = self.symbols(&resolved.ids).concat();
        Ok(Utterance {
            segments: vec![Segment {
                sentence: Sentence {
                    text: phonemes.clone(),
                    phonemes,
                    ids: resolved.ids,
                    ..Default::default()
                },
                durations: Some(resolved.durations),
                pitch_curve: resolved.pitch,
                f0_hz: resolved.pitch_hz,
                sung: false,
                mel: None,
            }],
            warnings: Vec::new(),
            lead_in: 0.0,
        })
    }

    /// Refuses ids the model cannot take in one pass.
    pub(super) fn check_ids(&self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Err(Error::input("nothing to speak: no phonemes"));
        }
        if ids.len() > MAX_PHONEME_IDS {
            return Err(Error::input(format!(
                "a sequence of {} phoneme ids is longer than the {MAX_PHONEME_IDS} the model takes at once: split it",
                ids.len()
            )));
        }
        Ok(())
    }

    /// The natural duration of each of `ids` in frames, as the voice would speak them at rate 1
    /// (its duration predictor, for `speaker`).
    pub fn natural_durations(&self, ids: &[i64], speaker: usize) -> Result<Vec<f32>> {
        let model = self.acoustic()?;
        self.check_ids(ids)?;
        let speaker = model.speaker(speaker)?;
        let (_, log_durations) = model.encode(ids, speaker.as_ref())?;
        Ok(model.durations(&log_durations, 1.0))
    }

    /// Symbols of `ids` (blanks and markers as empty strings).
    pub fn symbols(&self, ids: &[i64]) -> Vec<String> {
        ids.iter()
            .map(|id| {
                self.id_symbols
                    .get(id)
                    .filter(|s| *s != "_")
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Mel `[1, n_mels, T]` → samples at the voice's rate, never louder than full scale.
    pub fn vocode(&mut self, mel: &Tensor) -> Result<Vec<f32>> {
        let (_, bands, frames) = mel.dims3().map_err(|_| {
            Error::input(format!(
                "a mel must be [n_mels, frames]; got shape {:?}",
                mel.dims()
            ))
        })?;
        if bands != self.vocoder_mel.n_mels {
            return Err(Error::input(format!(
                "the mel has {bands} bands; this vocoder expects {}",
                self.vocoder_mel.n_mels
            )));
        }
        if frames == 0 {
            return Err(Error::input("the mel has no frames"));
        }
        check_finite(mel, "the mel")?;
        // In the chunks a stream uses: the same samples, and faster than one pass over a long
        // mel, whose upsampled activations no longer fit the caches.
        let mut vocoding = ChunkedVocoding::new();
        vocoding.push(mel)?;
        let mut samples = Vec::with_capacity(frames * self.vocoder.hop_length());
        vocoding.drain(self.vocoder.as_mut(), true, &mut |chunk| {
            samples.extend_from_slice(&chunk);
            Ok(true)
        })?;
        limit(&mut samples);
        Ok(samples)
    }
}

/// What speaking with a vocoder-only file says.
pub(super) fn no_acoustic_model() -> Error {
    Error::input(
        "this file holds only a vocoder: give a mel (--mel) or a voice with an acoustic model",
    )
}

/// Refuses a tensor holding NaN or infinities, naming what made it.
pub(super) fn check_finite(t: &Tensor, what: &str) -> Result<()> {
    let bad = t
        .flatten_all()?
        .to_vec1::<f32>()?
        .iter()
        .any(|v| !v.is_finite());
    if bad {
        return Err(Error::numeric(format!(
            "{what} produced NaN or infinite values; the voice file may be damaged"
        )));
    }
    Ok(())
}
