//! The engine's face: a loaded voice that turns text, phonemes, conditioning or mels into audio.
//! The top level reads like the pipeline: text → phonemes → encoder → durations → prior →
//! sampler → mel → vocoder → PCM.

use candle_core::Tensor;

use crate::audio::pitch::{shift_pitch, MAX_SEMITONES};
use crate::audio::resample::{resample, StreamResampler};
use crate::audio::MelConfig;
use crate::error::{candle_message, Error, Result};
use crate::model::{AcousticModel, DecodeSettings, MelStream, Sampler};
use crate::stream::chunked::ChunkedVocoding;
use crate::text::{self, PhonemeMap, Sentence};
use crate::vocoder::factory::build_vocoder;
pub use crate::vocoder::factory::phase_vocoder;
use crate::vocoder::Vocoder;
use crate::voice::{Voice, VoiceConfig};

pub use crate::text::MAX_PHONEME_IDS;

/// Sampler steps a caller may ask for.
pub const STEPS: std::ops::RangeInclusive<usize> = 1..=1000;
/// Noise scales of the start point a caller may ask for.
pub const TEMPERATURE: std::ops::RangeInclusive<f64> = 0.0..=10.0;
/// Speaking rates a caller may ask for (2 is twice as fast).
pub const RATE: std::ops::RangeInclusive<f32> = 0.1..=10.0;
/// Output sample rates, in Hz, the engine resamples to.
pub const OUTPUT_RATE: std::ops::RangeInclusive<u32> = 8_000..=384_000;

/// Refuses an output rate outside [`OUTPUT_RATE`].
///
/// ```
/// assert!(mellow_engine::synth::check_output_rate(48_000).is_ok());
/// assert!(mellow_engine::synth::check_output_rate(100).is_err());
/// ```
pub fn check_output_rate(rate: u32) -> Result<()> {
    if !OUTPUT_RATE.contains(&rate) {
        return Err(Error::input(format!(
            "sample rate {rate} Hz is outside {}..{} Hz",
            OUTPUT_RATE.start(),
            OUTPUT_RATE.end()
        )));
    }
    Ok(())
}
/// Pause inserted between sentences, in seconds.
pub const SENTENCE_PAUSE: f32 = 0.2;

/// Run-time knobs; `None` takes the voice's default.
#[derive(Debug, Clone, Default)]
pub struct SynthesisOptions {
    pub steps: Option<usize>,
    pub temperature: Option<f64>,
    pub sampler: Option<Sampler>,
    /// Speaking rate: 2.0 speaks twice as fast.
    pub rate: Option<f32>,
    /// Pitch shift in semitones, speed unchanged.
    pub pitch: f32,
    pub seed: u64,
    pub speaker: usize,
}

/// Settings with every default resolved and checked.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedOptions {
    pub steps: usize,
    pub temperature: f64,
    pub sampler: Sampler,
    pub rate: f32,
    pub pitch: f32,
    pub seed: u64,
    pub speaker: usize,
}

/// A mel spectrogram with what produced it.
#[derive(Debug, Clone)]
pub struct MelOutput {
    /// `[1, n_mels, frames]`
    pub mel: Tensor,
    /// Phoneme symbols and their frame counts (empty when the mel was given).
    pub alignment: Vec<(String, usize)>,
}

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

    /// Converts to another rate (rubato's FFT resampler).
    pub fn resampled(self, rate: u32) -> Result<Audio> {
        if rate == self.sample_rate {
            return Ok(self);
        }
        check_output_rate(rate)?;
        let samples = resample(&self.samples, self.sample_rate, rate).map_err(Error::input)?;
        Ok(Audio {
            samples,
            sample_rate: rate,
        })
    }
}

/// A voice's acoustic model, ready to synthesise.
pub struct Synthesizer {
    config: VoiceConfig,
    acoustic: Option<AcousticModel>,
    vocoder: Box<dyn Vocoder>,
    vocoder_mel: MelConfig,
    /// Id → symbol, for alignments (blanks and markers map to nothing).
    id_symbols: std::collections::HashMap<i64, String>,
}

/// Builds the vocoder a voice or vocoder file describes.
pub fn load_vocoder(voice: &Voice) -> Result<(Box<dyn Vocoder>, MelConfig)> {
    let cfg = voice
        .config
        .vocoder
        .clone()
        .ok_or_else(|| Error::voice(format!("{} holds no vocoder", voice.origin)))?;
    let mel = voice.config.mel.clone();
    let vb = voice.var_builder().pp("vocoder");
    let wrap = |e: candle_core::Error| {
        Error::voice(format!(
            "{}: vocoder weights do not fit its config: {}",
            voice.origin,
            candle_message(&e)
        ))
    };
    let vocoder = build_vocoder(&cfg, &mel, vb).map_err(wrap)?;
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
            None => phase_vocoder(&voice.config.mel, 32),
        };
        if vocoder_mel.n_mels != voice.config.mel.n_mels
            || vocoder_mel.hop_length != voice.config.mel.hop_length
            || vocoder_mel.sample_rate != voice.config.mel.sample_rate
        {
            return Err(Error::input(format!(
                "the vocoder expects {} mel bands, hop {} at {} Hz; the voice makes {} bands, hop {} at {} Hz",
                vocoder_mel.n_mels, vocoder_mel.hop_length, vocoder_mel.sample_rate,
                voice.config.mel.n_mels, voice.config.mel.hop_length, voice.config.mel.sample_rate
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
        })
    }

    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    pub fn sample_rate(&self) -> u32 {
        self.vocoder_mel.sample_rate
    }

    pub fn vocoder_name(&self) -> &'static str {
        self.vocoder.name()
    }

    fn acoustic(&self) -> Result<&AcousticModel> {
        self.acoustic.as_ref().ok_or_else(|| Error::input("this file holds only a vocoder: give a mel (--mel) or a voice with an acoustic model"))
    }

    fn phoneme_map(&self) -> Result<&PhonemeMap> {
        self.config
            .phonemes
            .as_ref()
            .ok_or_else(|| Error::input("this voice has no phoneme map"))
    }

    /// Fills in the voice's defaults and checks the ranges.
    pub fn resolve(&self, opts: &SynthesisOptions) -> Result<ResolvedOptions> {
        let d = &self.config.defaults;
        let sampler = match opts.sampler {
            Some(s) => s,
            None => d.sampler.parse().map_err(Error::voice)?,
        };
        let resolved = ResolvedOptions {
            steps: opts.steps.unwrap_or(d.steps),
            temperature: opts.temperature.unwrap_or(d.temperature),
            sampler,
            rate: opts.rate.unwrap_or(d.rate),
            pitch: opts.pitch,
            seed: opts.seed,
            speaker: opts.speaker,
        };
        if !STEPS.contains(&resolved.steps) {
            return Err(Error::input(format!(
                "steps must be {}..={} (got {})",
                STEPS.start(),
                STEPS.end(),
                resolved.steps
            )));
        }
        if !(resolved.temperature.is_finite() && TEMPERATURE.contains(&resolved.temperature)) {
            return Err(Error::input(format!(
                "temperature must be {}..={} (got {})",
                TEMPERATURE.start(),
                TEMPERATURE.end(),
                resolved.temperature
            )));
        }
        check_pitch(resolved.pitch)?;
        if !(resolved.rate.is_finite() && RATE.contains(&resolved.rate)) {
            return Err(Error::input(format!(
                "rate must be {}..={} (got {})",
                RATE.start(),
                RATE.end(),
                resolved.rate
            )));
        }
        if let Some(a) = &self.acoustic {
            check_speaker(resolved.speaker, a.config().n_spks)?;
            let objective = a.config().objective;
            let fits = match objective {
                crate::model::config::DecoderObjective::FlowMatching => sampler.is_flow_matching(),
                crate::model::config::DecoderObjective::ScoreDiffusion => {
                    !sampler.is_flow_matching()
                }
            };
            if !fits {
                return Err(Error::input(format!(
                    "sampler `{sampler}` does not fit this voice's decoder ({objective:?}): use {}",
                    if sampler.is_flow_matching() {
                        "ode or sde"
                    } else {
                        "euler, heun or midpoint"
                    }
                )));
            }
        }
        Ok(resolved)
    }

    /// Text → sentences with phonemes and ids.
    pub fn sentences(&self, text: &str) -> Result<Vec<Sentence>> {
        Ok(self.read(text)?.sentences)
    }

    /// Text → sentences, with warnings about characters the voice could not read.
    pub fn read(&self, text: &str) -> Result<text::TextReading> {
        self.acoustic()?;
        text::read_text(text, &self.config.language, self.phoneme_map()?)
    }

    /// Phonemes given directly (IPA, the voice's symbols) → one sentence, or several when it
    /// is longer than the model takes at once (see [`text::split_long_sentence`]).
    pub fn phoneme_sentences(&self, phonemes: &str) -> Result<Vec<Sentence>> {
        let phonemes = phonemes.split_whitespace().collect::<Vec<_>>().join(" ");
        if phonemes.is_empty() {
            return Err(Error::input("the phoneme string is empty"));
        }
        let map = self.phoneme_map()?;
        let ids = map.encode(&phonemes)?;
        let sentence = Sentence {
            text: phonemes.clone(),
            phonemes,
            ids,
        };
        Ok(text::split_long_sentence(sentence, map))
    }

    fn check_ids(&self, ids: &[i64]) -> Result<()> {
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

    /// Symbols of `ids` for alignment display (blanks shown as empty strings).
    fn symbols(&self, ids: &[i64]) -> Vec<String> {
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

    /// Phoneme ids → mel, with durations from the model (scaled by the rate) or given per id, and
    /// the pitch shifted by the options' semitones plus an optional per-frame curve of semitones.
    pub fn mel(
        &self,
        ids: &[i64],
        durations: Option<&[f32]>,
        pitch_curve: Option<&[f32]>,
        opts: &ResolvedOptions,
    ) -> Result<MelOutput> {
        if let Some(curve) = pitch_curve {
            if curve.is_empty() {
                return Err(Error::input("the pitch curve is empty"));
            }
            curve
                .iter()
                .try_for_each(|&p| check_pitch(p + opts.pitch))?;
        }
        let mut stream = self.mel_stream(ids, durations, opts)?;
        let mut parts = Vec::new();
        while let Some(frames) = on_acoustic_thread(|| stream.next_frames())? {
            parts.push(frames);
        }
        let mel = Tensor::cat(&parts, 2)?;
        let durations = stream.durations().to_vec();
        check_finite(&mel, "the acoustic model")?;
        let mel = shift_mel_pitch(mel, &self.config.mel, pitch_curve, opts.pitch)?;
        let mut alignment = Vec::with_capacity(ids.len());
        let mut start_frame = 0f32;
        for (symbol, d) in self.symbols(ids).into_iter().zip(&durations) {
            let end = start_frame + d;
            alignment.push((
                symbol,
                (end.floor() as usize).saturating_sub(start_frame.floor() as usize),
            ));
            start_frame = end;
        }
        Ok(MelOutput { mel, alignment })
    }

    /// Phoneme ids → a mel produced window by window (see [`MelStream`]); `durations` (frames
    /// per id at rate 1) replace the model's when given.
    pub fn mel_stream(
        &self,
        ids: &[i64],
        durations: Option<&[f32]>,
        opts: &ResolvedOptions,
    ) -> Result<MelStream<'_>> {
        self.check_ids(ids)?;
        start_mel_stream(self.acoustic()?, ids, durations, opts)
    }

    /// One sentence, streamed: `emit` receives the samples (at the voice's rate, limited) as soon
    /// as they are final, in order. Returns `Ok(false)` when `emit` asked to stop.
    pub fn stream_sentence(
        &mut self,
        ids: &[i64],
        opts: &ResolvedOptions,
        emit: &mut dyn FnMut(Vec<f32>) -> bool,
    ) -> Result<bool> {
        check_pitch(opts.pitch)?;
        self.check_ids(ids)?;
        let model = self.acoustic.as_ref().ok_or_else(|| {
            Error::input("this file holds only a vocoder: give a voice with an acoustic model")
        })?;
        // A pitch offset: spoken slower by the pitch ratio, then played that much faster.
        let unpitched = without_pitch(opts);
        let mut mel = start_mel_stream(model, ids, None, &unpitched)?;
        let mut vocoding = ChunkedVocoding::new();
        let rate = self.vocoder_mel.sample_rate;
        let mut faster = match opts.pitch {
            0.0 => None,
            p => Some(StreamResampler::new(played_rate(rate, p), rate).map_err(Error::input)?),
        };
        let mut limited = |mut samples: Vec<f32>| {
            limit(&mut samples);
            match &mut faster {
                None => emit(samples),
                Some(resampler) => {
                    let mut out = Vec::with_capacity(samples.len());
                    resampler.push(&samples, &mut out).is_ok() && emit(out)
                }
            }
        };
        while let Some(frames) = on_acoustic_thread(|| mel.next_frames())? {
            check_finite(&frames, "the acoustic model")?;
            vocoding.push(&frames)?;
            if !vocoding.drain(self.vocoder.as_mut(), false, &mut limited)? {
                return Ok(false);
            }
        }
        if !vocoding.drain(self.vocoder.as_mut(), true, &mut limited)? {
            return Ok(false);
        }
        if let Some(resampler) = &mut faster {
            let mut tail = Vec::new();
            resampler.finish(&mut tail).map_err(Error::input)?;
            return Ok(tail.is_empty() || emit(tail));
        }
        Ok(true)
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
            true
        })?;
        limit(&mut samples);
        Ok(samples)
    }

    /// A whole text: every sentence synthesised and joined with short pauses.
    pub fn speak(
        &mut self,
        text: &str,
        opts: &SynthesisOptions,
    ) -> Result<(Audio, Vec<MelOutput>)> {
        let resolved = self.resolve(opts)?;
        let sentences = self.sentences(text)?;
        self.speak_sentences(&sentences, &resolved, |_, _| {})
    }

    /// Synthesises sentences in order, calling `progress(done, total)` after each.
    pub fn speak_sentences(
        &mut self,
        sentences: &[Sentence],
        opts: &ResolvedOptions,
        progress: impl FnMut(usize, usize),
    ) -> Result<(Audio, Vec<MelOutput>)> {
        let mut samples = Vec::new();
        let mels = self.speak_sentences_into(
            sentences,
            opts,
            true,
            &mut |piece| {
                samples.extend_from_slice(piece);
                Ok(())
            },
            progress,
        )?;
        Ok((
            Audio {
                samples,
                sample_rate: self.sample_rate(),
            },
            mels,
        ))
    }

    /// Synthesises sentences in order and hands each one's samples (after the pause that goes
    /// before it) to `sink` as soon as it is made, so a long text never sits in memory whole.
    /// Returns the mels when `keep_mels` asks for them (an empty list otherwise).
    ///
    /// ```no_run
    /// # fn main() -> mellow_engine::Result<()> {
    /// use mellow_engine::{SynthesisOptions, Synthesizer};
    /// let voice = mellow_engine::voice::embedded::default_voice().expect("built in")?;
    /// let mut synth = Synthesizer::new(&voice, None)?;
    /// let opts = synth.resolve(&SynthesisOptions::default())?;
    /// let sentences = synth.sentences("One. Two.")?;
    /// let mut total = 0;
    /// synth.speak_sentences_into(&sentences, &opts, false, &mut |s| { total += s.len(); Ok(()) }, |_, _| {})?;
    /// assert!(total > 0);
    /// # Ok(()) }
    /// ```
    pub fn speak_sentences_into(
        &mut self,
        sentences: &[Sentence],
        opts: &ResolvedOptions,
        keep_mels: bool,
        sink: &mut dyn FnMut(&[f32]) -> Result<()>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<MelOutput>> {
        let pause = vec![0f32; (SENTENCE_PAUSE * self.sample_rate() as f32) as usize];
        let mut mels = Vec::new();
        let unpitched = without_pitch(opts);
        let rate = self.sample_rate();
        for (i, sentence) in sentences.iter().enumerate() {
            let mel = self.mel(&sentence.ids, None, None, &unpitched)?;
            if i > 0 {
                sink(&pause)?;
            }
            let spoken = self.vocode(&mel.mel)?;
            match opts.pitch {
                0.0 => sink(&spoken)?,
                p => sink(&resample(&spoken, played_rate(rate, p), rate).map_err(Error::input)?)?,
            }
            if keep_mels {
                mels.push(mel);
            }
            progress(i + 1, sentences.len());
        }
        Ok(mels)
    }
}

/// Runs `f` with candle's matrix products and our convolutions on one thread. At batch 1 the
/// acoustic model's operations are too small to share between cores: a second thread only adds
/// hand-over time (the first window of a long sentence takes 25 ms on two threads, 14 ms on one).
fn on_acoustic_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    // Already on a one-thread pool (a batch worker): stay there rather than queue on a shared one.
    if rayon::current_num_threads() == 1 {
        return f();
    }
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(1).build().ok());
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// The options for the speech that a pitch offset then speeds up: spoken slower by the pitch
/// ratio, with no mel-domain shift. Played `ratio` times faster, it keeps its length and its
/// fundamental moves by the offset (with the formants, like a tape at another speed); a shift of
/// the mel alone moves the spectral envelope but hardly the fundamental with our vocoders.
fn without_pitch(opts: &ResolvedOptions) -> ResolvedOptions {
    ResolvedOptions {
        rate: opts.rate / 2f32.powf(opts.pitch / 12.0),
        pitch: 0.0,
        ..*opts
    }
}

/// The rate to declare samples spoken at `rate` so that converting them back to `rate` raises them
/// by `semitones`; rounded to 50 Hz so the resampler's ratio stays small (under 0.04 semitone off).
fn played_rate(rate: u32, semitones: f32) -> u32 {
    ((rate as f32 * 2f32.powf(semitones / 12.0) / 50.0).round() as u32).max(1) * 50
}

/// Starts the windowed acoustic model on `ids` with the options' sampler settings.
fn start_mel_stream<'m>(
    model: &'m AcousticModel,
    ids: &[i64],
    durations: Option<&[f32]>,
    opts: &ResolvedOptions,
) -> Result<MelStream<'m>> {
    let speaker = model
        .speaker(opts.speaker)
        .map_err(|e| Error::input(e.to_string()))?;
    if let Some(d) = durations {
        if d.len() != ids.len() {
            return Err(Error::input(format!(
                "{} durations for {} phoneme ids",
                d.len(),
                ids.len()
            )));
        }
    }
    let given = durations.map(|d| d.iter().map(|f| f / opts.rate).collect());
    let settings = DecodeSettings {
        sampler: opts.sampler,
        steps: opts.steps,
        temperature: opts.temperature,
        seed: opts.seed,
        length_scale: 1.0 / opts.rate,
    };
    Ok(MelStream::new(model, ids, speaker, given, settings)?)
}

/// Moves a mel's pitch by `offset` semitones plus the curve's value in each frame.
fn shift_mel_pitch(
    mel: Tensor,
    cfg: &MelConfig,
    curve: Option<&[f32]>,
    offset: f32,
) -> Result<Tensor> {
    let shifts: Vec<f32> = match curve {
        Some(c) => c.iter().map(|p| p + offset).collect(),
        None if offset != 0.0 => vec![offset],
        None => return Ok(mel),
    };
    let (_, bands, frames) = mel.dims3()?;
    let mut values = mel.flatten_all()?.to_vec1::<f32>()?;
    shift_pitch(&mut values, cfg, frames, &shifts);
    Ok(Tensor::from_vec(values, (1, bands, frames), mel.device())?)
}

/// Refuses a speaker the voice does not have, naming how many it has.
pub fn check_speaker(speaker: usize, speakers: usize) -> Result<()> {
    if speaker >= speakers {
        return Err(Error::input(format!(
            "speaker {speaker} does not exist: this voice has {speakers} speaker{} (0{})",
            if speakers == 1 { "" } else { "s" },
            if speakers == 1 {
                String::new()
            } else {
                format!("..={}", speakers - 1)
            }
        )));
    }
    Ok(())
}

fn check_pitch(semitones: f32) -> Result<()> {
    if !(semitones.is_finite() && semitones.abs() <= MAX_SEMITONES) {
        return Err(Error::input(format!(
            "pitch shift must be within ±{MAX_SEMITONES} semitones (got {semitones})"
        )));
    }
    Ok(())
}

fn check_finite(t: &Tensor, what: &str) -> Result<()> {
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

/// Samples up to this level pass unchanged; louder ones bend smoothly towards `LIMIT_CEILING`.
const LIMIT_KNEE: f32 = 0.9;
const LIMIT_CEILING: f32 = 0.99;

/// A soft limiter, sample by sample: it never lets a bad model send a full-scale burst, and it
/// needs no look-ahead, so a stream and a whole render limit alike.
fn limit(samples: &mut [f32]) {
    let room = LIMIT_CEILING - LIMIT_KNEE;
    for s in samples {
        let magnitude = s.abs();
        if magnitude > LIMIT_KNEE {
            *s = s.signum() * (LIMIT_KNEE + room * ((magnitude - LIMIT_KNEE) / room).tanh());
        }
    }
}
