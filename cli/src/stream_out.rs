//! `mellow render --output-raw` and `-o -`: 16-bit PCM (raw, or a WAV stream) on standard output,
//! written as the pipeline makes it, so a reader hears the first words before the text is done.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mellow_engine::audio::wav::{pcm16, wav_header};
use mellow_engine::input::{read_file_text, MAX_TEXT_BYTES};
use mellow_engine::stream::{Event, EventReceiver, Feeder, Pipeline, PipelineConfig, TextSource};
use mellow_engine::synth::timing::WordTiming;

use crate::render::{build_synthesizer, synthesis_options, RenderArgs};

pub fn run(args: &RenderArgs) -> Result<()> {
    if args.mel.is_some() || args.conditioning.is_some() || args.phonemes {
        bail!("standard output streams text; write --mel, --conditioning and --phonemes renders to a file with -o FILE.wav");
    }
    if args.out_dir.is_some() {
        bail!("--out-dir writes files; leave it out to stream to standard output");
    }
    if args.text.is_some() && args.input.is_some() {
        bail!("give the text as an argument or with --input, not both");
    }
    let source = match (&args.text, &args.input) {
        (Some(t), _) => TextSource::Whole(t.clone()),
        (None, Some(path)) if path.as_os_str() != "-" => {
            TextSource::Whole(read_file_text(path, MAX_TEXT_BYTES)?)
        }
        _ => TextSource::Lines(Box::new(std::io::BufReader::new(std::io::stdin()))),
    };
    if args.timing.subtitles.is_some() {
        bail!("subtitles are written with files: use -o FILE.wav (or --out-dir) with --subtitles");
    }
    let mut word_log = match &args.timing.timings {
        Some(None) => {
            bail!("standard output has no name to write timings beside: give --timings FILE")
        }
        Some(Some(path)) => Some(WordLog::create(path)?),
        None => None,
    };
    let synth = build_synthesizer(&args.synth, true)?;
    let rate = args.synth.sample_rate.unwrap_or(synth.sample_rate());
    let mut config = PipelineConfig::new(rate);
    config.ssml = args.ssml;
    config.word_events = word_log.is_some();
    let (pipeline, mut reader) = Pipeline::start(synth, synthesis_options(&args.synth), config)?;
    let events = pipeline.events().clone();
    let state = pipeline.state().clone();
    let feeder = Feeder::start(pipeline, source)?;
    let mut out = std::io::stdout().lock();
    let fail = |e: std::io::Error| {
        state.close_consumer();
        anyhow::Error::new(e).context("cannot write to standard output")
    };
    if !args.output_raw {
        // A stream of unknown length: the sizes say "as long as it goes", as streaming tools write.
        out.write_all(&wav_header(rate, u32::MAX)).map_err(fail)?;
        out.flush().map_err(fail)?;
    }
    let mut samples = vec![0f32; 8192];
    let mut bytes = Vec::with_capacity(2 * samples.len());
    let mut failed = false;
    loop {
        let n = reader.read_available(&mut samples);
        if n > 0 {
            bytes.clear();
            for s in &samples[..n] {
                bytes.extend_from_slice(&pcm16(*s).to_le_bytes());
            }
            out.write_all(&bytes).map_err(fail)?;
            out.flush().map_err(fail)?;
            continue;
        }
        handle_events(&events, &mut failed, word_log.as_mut(), rate)?;
        if feeder.finished(&state) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    handle_events(&events, &mut failed, word_log.as_mut(), rate)?;
    if let Some(log) = word_log {
        log.finish()?;
    }
    let queued = feeder.queued();
    feeder.join().context("reading the text")?;
    if queued == 0 {
        bail!("there was no text to speak");
    }
    if failed {
        bail!("some text could not be spoken (see above)");
    }
    Ok(())
}

/// Word timings as JSON lines, written as their audio goes out; times count samples from the
/// start of the stream (each utterance follows the one before).
struct WordLog {
    file: mellow_engine::audio::output_file::OutputFile,
    /// Where the utterance being spoken starts in the stream.
    offset: u64,
}

impl WordLog {
    fn create(path: &std::path::Path) -> Result<Self> {
        Ok(Self {
            file: mellow_engine::audio::output_file::OutputFile::create(path)?,
            offset: 0,
        })
    }

    fn word(&mut self, utterance: u64, word: &WordTiming, rate: u32) -> Result<()> {
        let (start, end) = (self.offset + word.start, self.offset + word.end);
        let seconds = |s: u64| (s as f64 / rate as f64 * 1e4).round() / 1e4;
        let line = serde_json::json!({
            "utterance": utterance, "text": word.text, "source": [word.source.start, word.source.end],
            "start": start, "end": end, "start_seconds": seconds(start), "end_seconds": seconds(end),
        });
        writeln!(self.file.file(), "{line}").context("cannot write the timings")?;
        self.file
            .file()
            .flush()
            .context("cannot write the timings")?;
        Ok(())
    }

    fn finish(self) -> Result<()> {
        Ok(self.file.commit()?)
    }
}

/// Handles the pipeline's events: failures and warnings printed, words logged.
fn handle_events(
    events: &EventReceiver,
    failed: &mut bool,
    mut words: Option<&mut WordLog>,
    rate: u32,
) -> Result<()> {
    for event in events.try_iter() {
        match (event, words.as_deref_mut()) {
            (Event::Word { utterance, word }, Some(log)) => log.word(utterance, &word, rate)?,
            (Event::Synthesized { samples, .. }, Some(log)) => log.offset += samples,
            (event, _) => report_event(event, failed),
        }
    }
    Ok(())
}

/// Prints a failure or warning (numbered as the input's utterances), noting a failure.
fn report_event(event: Event, failed: &mut bool) {
    match event {
        Event::Failed { utterance, message } => {
            eprintln!("error: utterance {utterance}: {message}");
            *failed = true;
        }
        Event::Warning { utterance, message } => {
            eprintln!("warning: utterance {utterance}: {message}");
        }
        _ => {}
    }
}
