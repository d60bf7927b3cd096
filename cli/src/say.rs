//! `mellow say`: speak through the sound card as the audio is made, the text given as an argument
//! or typed line by line on standard input.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use cpal::traits::StreamTrait;
use mellow_engine::input::{read_file_text, MAX_TEXT_BYTES};
use mellow_engine::stream::{Event, Feeder, Pipeline, PipelineConfig, TextSource};

use crate::playback::{
    choose_config, device_name, host, open_output, output_device, start, DeviceFault,
};
use crate::render::{build_synthesizer, synthesis_options, SynthArgs};

#[derive(Args)]
pub struct SayArgs {
    /// Text to speak (default: --input FILE, or standard input line by line).
    pub text: Option<String>,
    /// Read the text from FILE.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Output device: its name, or a part of it that names one device (`mellow devices`).
    #[arg(long)]
    pub device: Option<String>,
    /// Audio host, e.g. ALSA or JACK where the build has it (default: the system's).
    #[arg(long)]
    pub host: Option<String>,
    /// Ask the device for this sample rate (default: its own); the speech is resampled to it.
    #[arg(long)]
    pub device_rate: Option<u32>,
    /// Audio gathered before each utterance starts playing, in milliseconds: more rides out a
    /// busy machine, less starts sooner.
    #[arg(long, default_value_t = 100)]
    pub prebuffer_ms: u32,
    /// Device period in milliseconds; the device buffers two. Shorter silences a cancel sooner,
    /// longer rides out a busy machine (10 ms let PulseAudio play gaps on a two-core machine).
    #[arg(long, default_value_t = 40)]
    pub period_ms: u32,
    /// Print the device, the latency of each utterance, each word as its audio is queued
    /// (with its time in the utterance), the underrun count and the device's late calls.
    #[arg(short, long)]
    pub verbose: bool,
    /// The text is SSML (a fragment without <speak> is taken as inside one); a text that starts
    /// with <speak is SSML anyway.
    #[arg(long)]
    pub ssml: bool,
    #[command(flatten)]
    pub synth: SynthArgs,
}

pub fn run(args: SayArgs) -> Result<()> {
    if args.text.is_some() && args.input.is_some() {
        bail!("give the text as an argument or with --input, not both");
    }
    if args.synth.sample_rate.is_some() {
        bail!("say plays at the device's rate: use --device-rate to ask the device for one");
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let interrupted = interrupted.clone();
        ctrlc::set_handler(move || interrupted.store(true, Ordering::Release))?;
    }
    let source = match (&args.text, &args.input) {
        (Some(t), _) => TextSource::Whole(t.clone()),
        (None, Some(path)) => TextSource::Whole(read_file_text(path, MAX_TEXT_BYTES)?),
        (None, None) => {
            if std::io::stdin().is_terminal() {
                eprintln!("Type text to speak, a line at a time; Ctrl-D ends, Ctrl-C stops.");
            }
            TextSource::Lines(Box::new(std::io::BufReader::new(std::io::stdin())))
        }
    };
    let host = host(args.host.as_deref())?;
    let device = output_device(&host, args.device.as_deref())?;
    let config = choose_config(&device, args.device_rate)?;
    let synth = build_synthesizer(&args.synth, true)?;
    let mut pipeline_config = PipelineConfig::new(config.sample_rate());
    pipeline_config.prebuffer_seconds = args.prebuffer_ms as f32 / 1000.0;
    pipeline_config.ssml = args.ssml;
    pipeline_config.word_events = args.verbose;
    let (pipeline, reader) =
        Pipeline::start(synth, synthesis_options(&args.synth), pipeline_config)?;
    let events = pipeline.events().clone();
    let state = pipeline.state().clone();
    let fault = DeviceFault::default();
    let period = Duration::from_millis(args.period_ms.clamp(1, 1000) as u64);
    // Opened now so device errors come before any synthesis; started with the first audio.
    let stream = open_output(&device, &config, period, reader, fault.clone())?;
    let mut playing = false;
    if args.verbose {
        eprintln!(
            "playing on {} ({}) at {} Hz, {} channel(s), {}",
            device_name(&device),
            host.id().name(),
            config.sample_rate(),
            config.channels(),
            config.sample_format()
        );
    }
    let feeder = Feeder::start(pipeline, source)?;
    let mut failed = false;
    loop {
        if interrupted.load(Ordering::Acquire) {
            // Silence at once: the callback drops everything at its next period.
            state.cancel_below(u64::MAX);
            std::thread::sleep(Duration::from_millis(30));
            drop(stream);
            eprintln!("stopped");
            std::process::exit(130);
        }
        if let Some(message) = fault.fatal() {
            drop(stream);
            bail!("the audio device stopped: {message}");
        }
        for event in events.try_iter() {
            match event {
                Event::FirstAudio { utterance, latency } => {
                    if !playing {
                        start(&stream, &device, &fault)?;
                        playing = true;
                    }
                    if args.verbose {
                        eprintln!(
                            "utterance {utterance}: first audio after {:.1} ms",
                            latency.as_secs_f64() * 1e3
                        );
                    }
                }
                Event::Failed { utterance, message } => {
                    eprintln!("error: utterance {utterance}: {message}");
                    failed = true;
                }
                Event::Warning { utterance, message } => {
                    eprintln!("warning: utterance {utterance}: {message}");
                }
                Event::Word { utterance, word } => {
                    let at = word.start as f64 / config.sample_rate() as f64;
                    eprintln!("utterance {utterance}: {at:7.2} s  {}", word.text);
                }
                _ => {}
            }
        }
        if feeder.finished(&state) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Let the device play out what it has buffered before the stream closes.
    let drain_until =
        Instant::now() + fault.output_latency() + 2 * period + Duration::from_millis(50);
    while Instant::now() < drain_until && fault.fatal().is_none() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = stream.pause();
    drop(stream);
    let underruns = state.underruns();
    let late = fault.late_calls();
    if args.verbose || underruns > 0 || fault.xruns() > 0 || late > 0 {
        eprintln!(
            "played {:.2} s, {underruns} underrun(s), {} device xrun(s), {late} late device call(s) \
             (longest wait {:.0} ms)",
            state.played() as f64 / config.sample_rate() as f64,
            fault.xruns(),
            fault.longest_wait().as_secs_f64() * 1e3
        );
    }
    if late > 0 {
        eprintln!(
            "warning: the device asked for samples later than its {} ms buffer lasts {late} time(s); \
             it may have played gaps there (a longer --period-ms rides out a busy machine)",
            fault.buffer().as_millis()
        );
    }
    let queued = feeder.queued();
    feeder.join()?;
    if queued == 0 {
        bail!("there was no text to speak");
    }
    if failed {
        bail!("some text could not be spoken (see above)");
    }
    Ok(())
}
