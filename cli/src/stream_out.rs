//! `mellow render --output-raw` and `-o -`: 16-bit PCM (raw, or a WAV stream) on standard output,
//! written as the pipeline makes it, so a reader hears the first words before the text is done.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mellow_engine::audio::wav::{pcm16, wav_header};
use mellow_engine::input::{read_file_text, MAX_TEXT_BYTES};
use mellow_engine::stream::{Event, EventReceiver, Feeder, Pipeline, PipelineConfig, TextSource};

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
    let synth = build_synthesizer(&args.synth, true)?;
    let rate = args.synth.sample_rate.unwrap_or(synth.sample_rate());
    let (pipeline, mut reader) = Pipeline::start(
        synth,
        synthesis_options(&args.synth),
        PipelineConfig::new(rate),
    )?;
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
        report_failures(&events, &mut failed);
        if feeder.finished(&state) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    report_failures(&events, &mut failed);
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

/// Prints the pipeline's failures and warnings (numbered as the input's utterances), noting
/// whether there were failures.
pub fn report_failures(events: &EventReceiver, failed: &mut bool) {
    for event in events.try_iter() {
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
}
