//! `mellow render` (and `mellow phonemize`): text, phonemes, conditioning or a mel → WAV files.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mellow_engine::audio::wav::{write_atomic_at, write_wav_atomic, WavFileWriter};
use mellow_engine::input::{
    check_length, parse_json_lines, read_conditioning, read_file_text, read_mel, read_stdin,
    MAX_BATCH_BYTES, MAX_TEXT_BYTES,
};
use mellow_engine::synth::{Loudness, TimingEvent, Timings};
use mellow_engine::text::markup::plain_text;
use mellow_engine::text::ssml::{is_ssml, parse_ssml};
use mellow_engine::text::{read_markup, Lexicon, PhonemeMap, ReadingRules, TextReading, WordSpan};
use mellow_engine::{
    pool, MelOutput, ResolvedOptions, Sampler, SpeechSink, SynthesisOptions, Synthesizer, Utterance,
};

use crate::plot::{write_plot, HeardAudio};
use crate::stream_out;
use crate::timings_out::TimingArgs;

/// Voice and sampling options shared by the commands that synthesise.
#[derive(Args, Clone)]
pub struct SynthArgs {
    /// Voice file, or the name of one in the voice folder (default: the built-in voice).
    #[arg(long)]
    pub voice: Option<PathBuf>,
    /// Vocoder file, `phase` for the weights-free vocoder or `vocos` for the built-in voice's
    /// Vocos (default: the voice's own; the built-in voice's is the harmonic vocoder).
    #[arg(long)]
    pub vocoder: Option<String>,
    /// Sampler steps (default: the voice's).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Noise scale of the start point (default: the voice's).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Random seed: the same seed gives the same audio.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Speaking rate: 2 is twice as fast, 0.5 half as fast.
    #[arg(long)]
    pub rate: Option<f32>,
    /// euler, heun or midpoint (flow-matching voices); ode or sde (diffusion voices).
    #[arg(long)]
    pub sampler: Option<Sampler>,
    /// Pitch shift in semitones (speed unchanged), e.g. -2 or 3.5.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub pitch: f32,
    /// Intonation range: 0 speaks on one pitch, 1 as the voice does (default), 2 with twice its
    /// swings. Needs a voice with an intonation predictor and an F0-aware vocoder.
    #[arg(long)]
    pub pitch_range: Option<f32>,
    /// Output loudness: a target in LUFS (e.g. -16; -23 is EBU R128's broadcast level) or
    /// `off` for the models' raw level (default -20, peaks under -1 dBTP). Needs a voice with
    /// a loudness calibration (`mellow convert loudness`); the built-in voice has one.
    #[arg(long, allow_negative_numbers = true, value_name = "LUFS|off")]
    pub loudness: Option<Loudness>,
    /// Speaker of a multi-speaker voice.
    #[arg(long, default_value_t = 0)]
    pub speaker: usize,
    /// Output sample rate in Hz (default: the voice's).
    #[arg(long)]
    pub sample_rate: Option<u32>,
    /// Silence before each text, in seconds (default 0.05; 0 for a conditioning file).
    #[arg(long)]
    pub lead_in: Option<f32>,
    /// A pronunciation lexicon: one `word IPA` per line, or a W3C PLS file (added to the
    /// voice folder's lexicon.txt, its entries winning).
    #[arg(long, value_name = "FILE")]
    pub lexicon: Option<PathBuf>,
}

#[derive(Args)]
pub struct RenderArgs {
    /// Text to speak (default: --input FILE, or standard input).
    pub text: Option<String>,
    /// Output WAV file; `-` streams a WAV to standard output as it is made.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Stream raw 16-bit little-endian mono PCM to standard output as it is made (as Piper's
    /// --output-raw); with no text argument, each line of standard input is spoken as it comes.
    #[arg(long, conflicts_with_all = ["output", "out_dir", "plot", "json_input"])]
    pub output_raw: bool,
    /// Read the text from FILE (`-` for standard input).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Render one numbered WAV per input line (0000.wav, 0001.wav, ...) into DIR.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// With --out-dir: render only every N-th line from line I (0-based), `I/N`, keeping the
    /// line numbers in the file names, so N machines (a Kubernetes Indexed Job, a job array)
    /// fill one folder between them.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, requires = "out_dir")]
    pub shard: Option<(usize, usize)>,
    /// The input is IPA phonemes in the voice's symbols, not text.
    #[arg(long, conflicts_with = "ssml")]
    pub phonemes: bool,
    /// The input is SSML (a fragment without <speak> is taken as inside one); a text that
    /// starts with <speak is SSML anyway.
    #[arg(long)]
    pub ssml: bool,
    /// A JSON file of phonemes (or ids) with durations in frames.
    #[arg(long, conflicts_with_all = ["mel", "phonemes"])]
    pub conditioning: Option<PathBuf>,
    /// A log-mel `.npy` ([n_mels, frames]) to vocode; skips the acoustic model.
    #[arg(long, conflicts_with = "phonemes")]
    pub mel: Option<PathBuf>,
    /// Input lines are JSON objects {"text": ..., "output_file": ..., "speaker_id": ...} (Piper's format).
    #[arg(long)]
    pub json_input: bool,
    /// Also write the mel spectrogram with phoneme boundaries as a PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Also write the acoustic model's log-mel as `.npy` (`[n_mels, frames]`, sentences one after
    /// another), e.g. to train a vocoder on the mels it will be given.
    #[arg(long, conflicts_with_all = ["out_dir", "mel"])]
    pub mel_out: Option<PathBuf>,
    #[command(flatten)]
    pub timing: TimingArgs,
    #[command(flatten)]
    pub synth: SynthArgs,
}

#[derive(Args)]
pub struct PhonemizeArgs {
    /// Text (default: standard input, one utterance per line).
    pub text: Option<String>,
    /// Voice whose phoneme map gives the ids; without one only phonemes are printed.
    #[arg(long)]
    pub voice: Option<PathBuf>,
    /// espeak-ng language when no voice is given.
    #[arg(long, default_value = "en-us")]
    pub language: String,
    /// Print one JSON object per sentence: {"line", "text", "phonemes", "words"[, "ids"]}.
    #[arg(long)]
    pub json: bool,
    /// A pronunciation lexicon (see `render --lexicon`); the words it changed are shown.
    #[arg(long, value_name = "FILE")]
    pub lexicon: Option<PathBuf>,
    /// The input is SSML.
    #[arg(long)]
    pub ssml: bool,
}

/// `I/N` with I < N.
fn parse_shard(text: &str) -> std::result::Result<(usize, usize), String> {
    let (i, n) = text
        .split_once('/')
        .ok_or_else(|| format!("\"{text}\" is not I/N (e.g. 0/4)"))?;
    let (i, n): (usize, usize) = (
        i.trim()
            .parse()
            .map_err(|_| format!("\"{i}\" is not a number"))?,
        n.trim()
            .parse()
            .map_err(|_| format!("\"{n}\" is not a number"))?,
    );
    if n == 0 || i >= n {
        return Err(format!(
            "shard {i}/{n}: I must be below N, and N at least 1"
        ));
    }
    Ok((i, n))
}

pub fn build_synthesizer(args: &SynthArgs, need_acoustic: bool) -> Result<Synthesizer> {
    let voice = args
        .voice
        .as_deref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut synth = Synthesizer::for_names(&voice, args.vocoder.as_deref(), need_acoustic)?;
    if let Some(path) = &args.lexicon {
        let map = synth
            .config()
            .phonemes
            .as_ref()
            .context("--lexicon needs a voice with a phoneme map")?;
        let given = Lexicon::load(path, map)?;
        let lexicon = synth.lexicon().cloned().unwrap_or_default().extended(given);
        synth.set_lexicon(Some(lexicon));
    }
    Ok(synth)
}

pub fn synthesis_options(args: &SynthArgs) -> SynthesisOptions {
    SynthesisOptions {
        steps: args.steps,
        temperature: args.temperature,
        sampler: args.sampler,
        rate: args.rate,
        pitch: args.pitch,
        pitch_range: args.pitch_range,
        seed: args.seed,
        speaker: args.speaker,
        lead_in: args.lead_in,
        loudness: args.loudness,
    }
}

pub fn run(args: RenderArgs) -> Result<()> {
    let to_stdout = args.output_raw || args.output.as_deref() == Some(Path::new("-"));
    if to_stdout {
        return stream_out::run(&args);
    }
    if args.output.is_none() && args.out_dir.is_none() {
        bail!("say where to write: -o FILE.wav (or - for standard output), --output-raw, or --out-dir DIR with --input FILE");
    }
    if args.output.is_some() && args.out_dir.is_some() {
        bail!("-o and --out-dir exclude each other");
    }
    if args.out_dir.is_some() || args.json_input {
        args.timing.check_beside_each()?;
    }
    if args.mel.is_some() && args.timing.wanted() {
        bail!("a mel has no words to time: --timings and --subtitles need text, phonemes or conditioning");
    }
    if args.text.is_some() && args.input.is_some() {
        bail!("give the text as an argument or with --input, not both");
    }
    if let Some(mel_path) = &args.mel {
        return render_mel(&args, mel_path);
    }
    let mut synth = build_synthesizer(&args.synth, true)?;
    let opts = synth.resolve(&synthesis_options(&args.synth))?;
    if let Some(path) = &args.conditioning {
        let output = args
            .output
            .as_ref()
            .context("--conditioning renders one file: give -o FILE.wav")?;
        let utterance = synth.conditioned_utterance(&read_conditioning(path)?)?;
        return render_file(&args, &mut synth, &utterance, &opts, output);
    }
    // Line-by-line renders take a long input; one file takes one utterance's worth.
    let limit = if args.out_dir.is_some() || args.json_input {
        MAX_BATCH_BYTES
    } else {
        MAX_TEXT_BYTES
    };
    let text = match (&args.text, &args.input) {
        (Some(t), _) => t.clone(),
        (None, Some(path)) => read_file_text(path, limit)?,
        (None, None) => read_stdin(limit)?,
    };
    if args.json_input {
        return render_json_lines(&args, &mut synth, &opts, &text);
    }
    if let Some(dir) = &args.out_dir {
        return render_lines(&args, synth, &opts, &text, dir);
    }
    check_length(&text)?;
    let output = args.output.as_ref().context("-o FILE.wav")?;
    let utterance = utterance_of(&synth, &text, &args)?;
    render_file(&args, &mut synth, &utterance, &opts, output)
}

/// What `text` (or phonemes, or SSML) says, with warnings about what was skipped printed.
fn utterance_of(synth: &Synthesizer, text: &str, args: &RenderArgs) -> Result<Utterance> {
    let utterance = match (args.phonemes, args.ssml) {
        (true, _) => synth.phoneme_utterance(text)?,
        (false, true) => synth.ssml_utterance(text)?,
        (false, false) => synth.utterance(text)?,
    };
    for warning in &utterance.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(utterance)
}

/// A WAV file written as the audio is made (memory stays flat however long the text), with the
/// mels kept for `--mel-out` and `--plot`, and a progress bar on a terminal.
struct FileSink {
    wav: WavFileWriter,
    mels: Option<Vec<MelOutput>>,
    /// The samples and where each segment's end, kept for the plot's pitch panel.
    heard: Option<(Vec<f32>, Vec<usize>)>,
    timings: Timings,
    bar: Option<ProgressBar>,
}

impl SpeechSink for FileSink {
    fn samples(&mut self, samples: &[f32]) -> mellow_engine::Result<bool> {
        self.wav.write(samples)?;
        if let Some((kept, _)) = &mut self.heard {
            kept.extend_from_slice(samples);
        }
        Ok(true)
    }

    fn wants_mels(&self) -> bool {
        self.mels.is_some()
    }

    fn segment_mel(&mut self, _index: usize, mel: MelOutput) -> mellow_engine::Result<()> {
        self.mels.get_or_insert_with(Vec::new).push(mel);
        if let Some((kept, ends)) = &mut self.heard {
            ends.push(kept.len());
        }
        Ok(())
    }

    fn progress(&mut self, done: usize, _total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
        }
    }

    fn timing(&mut self, event: TimingEvent) {
        self.timings.add(event);
    }
}

/// The samples of an utterance with its timings, for files written after it is spoken.
struct TimedSamples {
    samples: Vec<f32>,
    timings: Timings,
}

impl SpeechSink for TimedSamples {
    fn samples(&mut self, samples: &[f32]) -> mellow_engine::Result<bool> {
        self.samples.extend_from_slice(samples);
        Ok(true)
    }

    fn timing(&mut self, event: TimingEvent) {
        self.timings.add(event);
    }
}

/// Speaks `utterance` into a WAV at `path`, then writes the mel and plot files asked for.
fn render_file(
    args: &RenderArgs,
    synth: &mut Synthesizer,
    utterance: &Utterance,
    opts: &ResolvedOptions,
    path: &Path,
) -> Result<()> {
    let rate = args.synth.sample_rate.unwrap_or(synth.sample_rate());
    mellow_engine::synth::check_output_rate(rate)?;
    let keep_mels = args.mel_out.is_some() || args.plot.is_some();
    let mut sink = FileSink {
        wav: WavFileWriter::create(path, rate)?,
        mels: keep_mels.then(Vec::new),
        heard: args.plot.is_some().then(Default::default),
        timings: Timings::new(rate),
        bar: progress_bar(utterance.segments.len()),
    };
    let spoken = synth.speak(utterance, opts, rate, &mut sink);
    if let Some(bar) = &sink.bar {
        bar.finish_and_clear();
    }
    spoken?;
    sink.wav.finish()?;
    let mels = sink.mels.unwrap_or_default();
    if let Some(path) = &args.mel_out {
        write_mels(path, &mels)?;
    }
    if let Some(plot) = &args.plot {
        let (samples, segment_ends) = sink.heard.unwrap_or_default();
        let heard = HeardAudio {
            samples: &samples,
            rate,
            samples_per_frame: synth.hop_length() as f64 * rate as f64 / synth.sample_rate() as f64,
            segment_ends: &segment_ends,
        };
        write_plot(plot, &mels, Some(heard))?;
    }
    args.timing.write(&sink.timings, path)?;
    Ok(())
}

fn progress_bar(total: usize) -> Option<ProgressBar> {
    if total < 2 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} sentences, {elapsed} elapsed, ~{eta} left",
        )
        .ok()?,
    );
    Some(bar)
}

/// One numbered WAV per non-empty line, rendered on parallel workers and written in order.
fn render_lines(
    args: &RenderArgs,
    synth: Synthesizer,
    opts: &ResolvedOptions,
    text: &str,
    dir: &Path,
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output folder {}", dir.display()))?;
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if all.is_empty() {
        bail!("the input has no lines to speak");
    }
    // Each line keeps its number in the whole input, whichever shard renders it.
    let numbers: Vec<usize> = match args.shard {
        Some((i, n)) => (i..all.len()).step_by(n).collect(),
        None => (0..all.len()).collect(),
    };
    let lines: Vec<&str> = numbers.iter().map(|&k| all[k]).collect();
    if lines.is_empty() {
        return Ok(());
    }
    let rate = args.synth.sample_rate.unwrap_or(synth.sample_rate());
    mellow_engine::synth::check_output_rate(rate)?;
    let bar = progress_bar(lines.len());
    // The first worker takes the synthesizer already loaded; the others load their own.
    let loaded = std::sync::Mutex::new(Some(synth));
    let make_worker = || match loaded.lock().map(|mut s| s.take()) {
        Ok(Some(synth)) => Ok(synth),
        _ => build_synthesizer(&args.synth, true),
    };
    let speak = |synth: &mut Synthesizer, i: usize| -> Result<TimedSamples> {
        let line = || format!("line {}", numbers[i] + 1);
        check_length(lines[i]).with_context(line)?;
        let utterance = utterance_of(synth, lines[i], args).with_context(line)?;
        let mut spoken = TimedSamples {
            samples: Vec::new(),
            timings: Timings::new(rate),
        };
        synth
            .speak(&utterance, opts, rate, &mut spoken)
            .with_context(line)?;
        Ok(spoken)
    };
    pool::in_order(
        lines.len(),
        pool::workers_for(lines.len()),
        make_worker,
        speak,
        |i, spoken| {
            let wav = dir.join(format!("{:04}.wav", numbers[i]));
            write_wav_atomic(&wav, &spoken.samples, rate)?;
            args.timing.write(&spoken.timings, &wav)?;
            if let Some(b) = &bar {
                b.inc(1);
            }
            Ok(())
        },
    )?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(())
}

fn render_json_lines(
    args: &RenderArgs,
    synth: &mut Synthesizer,
    opts: &ResolvedOptions,
    text: &str,
) -> Result<()> {
    let lines = parse_json_lines(text)?;
    if lines.is_empty() {
        bail!("the JSON input has no lines");
    }
    for (i, line) in lines.iter().enumerate() {
        let path = match (&line.output_file, &args.out_dir, &args.output) {
            (Some(p), _, _) => p.clone(),
            (None, Some(dir), _) => {
                std::fs::create_dir_all(dir)?;
                dir.join(format!("{i:04}.wav"))
            }
            (None, None, Some(o)) if lines.len() == 1 => o.clone(),
            _ => bail!(
                "JSON input line {} has no \"output_file\": give --out-dir DIR",
                i + 1
            ),
        };
        let context = || format!("JSON input line {}", i + 1);
        let mut line_opts = *opts;
        if let Some(s) = line.speaker_id {
            line_opts.speaker = s;
            let speakers = synth.config().acoustic.as_ref().map_or(1, |a| a.n_spks);
            mellow_engine::synth::check_speaker(s, speakers).with_context(context)?;
        }
        check_length(&line.text).with_context(context)?;
        let utterance = utterance_of(synth, &line.text, args).with_context(context)?;
        render_file(args, synth, &utterance, &line_opts, &path).with_context(context)?;
    }
    Ok(())
}

/// The mels of `parts`, joined in time, as a `[n_mels, frames]` f32 `.npy` (written atomically).
fn write_mels(path: &Path, parts: &[MelOutput]) -> Result<()> {
    let mels: Vec<&candle_core::Tensor> = parts.iter().map(|m| &m.mel).collect();
    let mel = candle_core::Tensor::cat(&mels, 2)?.squeeze(0)?;
    write_atomic_at(path, |tmp| {
        mel.write_npy(tmp)
            .map_err(|e| mellow_engine::Error::output(e.to_string()))
    })?;
    Ok(())
}

fn render_mel(args: &RenderArgs, path: &Path) -> Result<()> {
    let output = args
        .output
        .as_ref()
        .context("--mel renders one file: give -o FILE.wav")?;
    let mut synth = build_synthesizer(&args.synth, false)?;
    let mel = read_mel(path)?;
    let samples = synth.vocode(&mel)?;
    let rate = args.synth.sample_rate.unwrap_or(synth.sample_rate());
    mellow_engine::synth::check_output_rate(rate)?;
    let samples = mellow_engine::audio::resample::resample(&samples, synth.sample_rate(), rate)
        .map_err(anyhow::Error::msg)?;
    write_wav_atomic(output, &samples, rate)?;
    if let Some(plot) = &args.plot {
        write_plot(
            plot,
            &[MelOutput {
                mel,
                alignment: Vec::new(),
                asked_f0: None,
            }],
            None,
        )?;
    }
    Ok(())
}

pub fn phonemize(args: PhonemizeArgs) -> Result<()> {
    let voice = args
        .voice
        .as_deref()
        .map(|p| mellow_engine::voice::resolve_voice(&p.to_string_lossy()))
        .transpose()?;
    let (language, map) = match &voice {
        Some(v) => (
            v.config.language.clone(),
            v.config
                .phonemes
                .clone()
                .context("this voice has no phoneme map")?,
        ),
        // Without a voice the ids are not printed; any map serves to run the front end.
        None => (args.language.clone(), PhonemeMap::matcha()),
    };
    let mut lexicon = mellow_engine::voice::resolve::user_lexicon(&map)?;
    if let Some(path) = &args.lexicon {
        let given = Lexicon::load(path, &map)?;
        lexicon = Some(lexicon.unwrap_or_default().extended(given));
    }
    let text = match args.text {
        Some(t) => t,
        None => read_stdin(MAX_BATCH_BYTES)?,
    };
    let read = |line: &str, lexicon: Option<&Lexicon>| -> mellow_engine::Result<TextReading> {
        let rules = ReadingRules {
            language: &language,
            map: &map,
            lexicon,
        };
        let markup = match args.ssml || is_ssml(line) {
            true => parse_ssml(line, &language)?,
            false => plain_text(line)?,
        };
        read_markup(&markup, line, &rules)
    };
    // SSML spans lines; plain text is read a line at a time.
    let units: Vec<(usize, &str)> = match args.ssml || is_ssml(&text) {
        true => vec![(0, text.as_str())],
        false => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .collect(),
    };
    for (n, line) in units {
        let sentences = match read(line, lexicon.as_ref()) {
            Ok(reading) => {
                for warning in &reading.warnings {
                    eprintln!("warning: line {}: {warning}", n + 1);
                }
                reading.sentences
            }
            // In JSON mode a bad line is reported and skipped, so a corpus run goes on.
            Err(e) if args.json => {
                println!("{}", serde_json::json!({"line": n, "error": e.to_string()}));
                continue;
            }
            Err(e) => return Err(anyhow::anyhow!("line {}: {e}", n + 1)),
        };
        // Which words the lexicon changed: the same text read without it.
        let changed: Vec<serde_json::Value> = match &lexicon {
            Some(lexicon) if !lexicon.is_empty() => {
                let plain = read(line, None)?;
                let before: Vec<&WordSpan> =
                    plain.sentences.iter().flat_map(|s| &s.words).collect();
                let after = sentences.iter().flat_map(|s| &s.words);
                after
                    .zip(before)
                    .filter(|(a, b)| a.phonemes != b.phonemes)
                    .map(|(a, b)| serde_json::json!({"word": a.text, "espeak": b.phonemes, "lexicon": a.phonemes}))
                    .collect()
            }
            _ => Vec::new(),
        };
        if args.json {
            for s in &sentences {
                let words: Vec<_> = s
                    .words
                    .iter()
                    .map(|w| serde_json::json!({"text": w.text, "phonemes": w.phonemes, "source": [w.source.start, w.source.end]}))
                    .collect();
                let mut obj = serde_json::json!({"line": n, "text": s.text, "phonemes": s.phonemes, "words": words});
                if voice.is_some() {
                    obj["ids"] = serde_json::json!(s.ids);
                }
                println!("{obj}");
            }
            if !changed.is_empty() {
                println!("{}", serde_json::json!({"line": n, "lexicon": changed}));
            }
        } else {
            println!(
                "{}",
                sentences
                    .iter()
                    .map(|s| s.phonemes.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            for c in &changed {
                eprintln!(
                    "lexicon: line {}: {}: {} (espeak-ng: {})",
                    n + 1,
                    c["word"].as_str().unwrap_or_default(),
                    c["lexicon"].as_str().unwrap_or_default(),
                    c["espeak"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
