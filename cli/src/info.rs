//! `mellow info VOICE`: what a voice file holds.

use anyhow::Result;
use clap::Args;
use mellow_engine::voice::{resolve_voice, PitchControl};

#[derive(Args)]
pub struct InfoArgs {
    /// A voice: a file, a name `mellow voices` lists (default: the built-in voice).
    #[arg(default_value = "")]
    voice: String,
    /// Print the whole config as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: InfoArgs) -> Result<()> {
    let voice = resolve_voice(&args.voice)?;
    let c = &voice.config;
    if args.json {
        println!("{}", serde_json::to_string_pretty(c)?);
        return Ok(());
    }
    println!("voice:        {}", c.name);
    println!("from:         {}", voice.origin);
    println!(
        "language:     {} (espeak-ng{})",
        c.language,
        c.espeak_version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default()
    );
    println!(
        "sample rate:  {} Hz, {} mel bands, hop {}",
        c.mel.sample_rate, c.mel.n_mels, c.mel.hop_length
    );
    match &c.acoustic {
        Some(a) => println!(
            "acoustic:     encoder {}×{} ({} heads), decoder {:?} {:?}, {} speaker(s), {} symbols",
            a.encoder.n_layers,
            a.encoder.n_channels,
            a.encoder.n_heads,
            a.decoder.channels,
            a.objective,
            a.n_spks,
            a.n_vocab
        ),
        None => println!("acoustic:     none (vocoder only)"),
    }
    match &c.vocoder {
        Some(v) => println!("vocoder:      {}", v.kind()),
        None => println!("vocoder:      none stored (the weights-free phase vocoder is used)"),
    }
    println!("pitch:        {}", describe_pitch(&voice.pitch_control()));
    println!(
        "defaults:     {} steps, {} sampler, temperature {}, rate {}",
        c.defaults.steps, c.defaults.sampler, c.defaults.temperature, c.defaults.rate
    );
    println!("parameters:   {}", voice.parameter_count());
    println!("license:      {}", c.license);
    println!("provenance:   {}", c.provenance);
    Ok(())
}

/// One line on what `--pitch`, `--pitch-range` and conditioning curves do with this voice.
fn describe_pitch(control: &PitchControl) -> String {
    let decoder = if control.f0_conditioned_decoder {
        "decoder told the F0 (the mel carries the intonation and any rise asked)"
    } else {
        "plain decoder"
    };
    let intonation = if control.intonation_predictor {
        "intonation predicted"
    } else {
        "no intonation predictor"
    };
    let shift = if control.pitch_keeps_formants() {
        "--pitch keeps formants"
    } else {
        "--pitch moves the spectrum like a tape"
    };
    let range = if control.pitch_range_works() {
        "--pitch-range scales the intonation"
    } else {
        "no --pitch-range"
    };
    format!("{decoder}; {intonation}; {shift}; {range}")
}
