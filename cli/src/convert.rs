//! `mellow convert`: the arguments of the checkpoint converters in `mellow-convert`.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use clap::{Args, Subcommand, ValueEnum};
use mellow_convert::{HifiganVariant, MatchaOptions, Provenance};
use mellow_engine::synth::loudness::{measure_reference, CALIBRATION_SENTENCES, REFERENCE_TENSOR};
use mellow_engine::vocoder::IstftPadding;
use mellow_engine::voice::config::SynthesisDefaults;
use mellow_engine::voice::resolve_voice;
use mellow_engine::{Sampler, Synthesizer};

#[derive(Args)]
pub struct ConvertArgs {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(Args, Clone)]
struct Common {
    /// The checkpoint to convert.
    input: PathBuf,
    /// The Mellow file to write.
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Store weights as f16 (half the size).
    #[arg(long)]
    f16: bool,
    /// Name recorded in the file.
    #[arg(long)]
    name: Option<String>,
    /// License of the weights, recorded in the file.
    #[arg(long, default_value = "unknown")]
    license: String,
}

#[derive(Subcommand)]
enum Kind {
    /// A Matcha-TTS checkpoint → a voice (add a vocoder with --vocoder); also Mellow's own
    /// training checkpoints, F0-conditioned ones (train_pitched.py) included.
    Matcha {
        #[command(flatten)]
        common: Common,
        /// Attention heads of the text encoder (not visible in the weights; default: the
        /// checkpoint's hyper-parameters, else the reference's 2).
        #[arg(long)]
        encoder_heads: Option<usize>,
        /// Attention heads of the decoder's transformer blocks (default as for the encoder).
        #[arg(long)]
        decoder_heads: Option<usize>,
        /// A Mellow vocoder file to store inside the voice.
        #[arg(long)]
        vocoder: Option<PathBuf>,
        /// An intonation predictor and duration correction to store inside the voice
        /// (tools/train/train_intonation.py's intonation.safetensors).
        #[arg(long)]
        intonation: Option<PathBuf>,
        /// The decoder was trained as a score (Grad-TTS-style diffusion), not a flow.
        #[arg(long)]
        score_diffusion: bool,
        /// A Piper voice config (JSON with `phoneme_id_map`) whose ids the model was trained on;
        /// without it the Matcha-TTS symbol table is used.
        #[arg(long)]
        phoneme_map: Option<PathBuf>,
        /// Default sampler steps stored in the voice.
        #[arg(long, default_value_t = 4)]
        steps: usize,
        /// Default sampler stored in the voice.
        #[arg(long, default_value = "heun")]
        sampler: Sampler,
        /// Default temperature stored in the voice.
        #[arg(long, default_value_t = 0.667)]
        temperature: f64,
        /// Round predicted durations to the nearest frame instead of up (for models trained on
        /// integer durations, such as those distilled from a teacher).
        #[arg(long)]
        round_durations: bool,
        /// Provenance recorded in the voice (default: the checkpoint's name).
        #[arg(long)]
        provenance: Option<String>,
    },
    /// A HiFi-GAN generator → a vocoder file.
    Hifigan {
        #[command(flatten)]
        common: Common,
        /// v1, v2 or v3 (the reference configs; 80 mel bands, 22 050 Hz, hop 256).
        #[arg(long, default_value = "v1")]
        variant: HifiganVariant,
    },
    /// A harmonic-plus-noise vocoder (tools/train/train_harmonic.py's weights; its
    /// hparams.json beside them) → a vocoder file.
    Harmonic {
        #[command(flatten)]
        common: Common,
        /// Added to the voicing logit: above 0 more frames are played as voiced (an acoustic
        /// model's smooth mels read as less voiced than recordings).
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        voicing_bias: f32,
    },
    /// Measures a voice's loudness (the median over the Harvard sentences at unity gain) and
    /// stores it in the voice as its loudness calibration, so that it can be normalised
    /// (`--loudness`). Writes a voice file, or adds the calibration to a tensors file.
    Loudness {
        /// The voice (a file or a name; default: the built-in voice).
        #[arg(long, default_value = "")]
        voice: String,
        /// Measure through this vocoder instead of the voice's own.
        #[arg(long)]
        vocoder: Option<String>,
        /// The voice file to write, the calibration inside (may be the input file).
        #[arg(
            short = 'o',
            long,
            required_unless_present = "tensors",
            conflicts_with = "tensors"
        )]
        output: Option<PathBuf>,
        /// A tensors file to add the calibration to instead (the built-in voice keeps its extra
        /// parts in engine/voices/default-tuning.safetensors).
        #[arg(long)]
        tensors: Option<PathBuf>,
    },
    /// A Vocos checkpoint → a vocoder file (mel input with the voice's mel settings).
    Vocos {
        #[command(flatten)]
        common: Common,
        /// ISTFT padding of the head.
        #[arg(long, value_enum, default_value_t = Padding::Same)]
        padding: Padding,
    },
}

/// Vocos's ISTFT padding, as the command line names it.
#[derive(Clone, Copy, ValueEnum)]
enum Padding {
    Same,
    Center,
}

pub fn run(args: ConvertArgs) -> Result<()> {
    let (voice, common) = match args.kind {
        Kind::Loudness {
            voice,
            vocoder,
            output,
            tensors,
        } => return calibrate_loudness(&voice, vocoder.as_deref(), output, tensors),
        Kind::Matcha {
            common,
            encoder_heads,
            decoder_heads,
            vocoder,
            intonation,
            score_diffusion,
            phoneme_map,
            steps,
            sampler,
            temperature,
            round_durations,
            provenance,
        } => {
            let opts = MatchaOptions {
                encoder_heads,
                decoder_heads,
                vocoder,
                intonation,
                score_diffusion,
                phoneme_map,
                defaults: SynthesisDefaults {
                    steps,
                    temperature,
                    sampler,
                    rate: 1.0,
                },
                round_durations,
            };
            let about = Provenance {
                provenance,
                ..common.provenance()
            };
            (
                mellow_convert::matcha_voice(&common.input, &opts, &about)?,
                common,
            )
        }
        Kind::Hifigan { common, variant } => (
            mellow_convert::hifigan_vocoder(&common.input, variant, &common.provenance())?,
            common,
        ),
        Kind::Harmonic {
            common,
            voicing_bias,
        } => (
            mellow_convert::harmonic_vocoder(&common.input, voicing_bias, &common.provenance())?,
            common,
        ),
        Kind::Vocos { common, padding } => {
            let padding = match padding {
                Padding::Same => IstftPadding::Same,
                Padding::Center => IstftPadding::Center,
            };
            let about = common.provenance();
            (
                mellow_convert::vocos_vocoder(&common.input, padding, &about)?,
                common,
            )
        }
    };
    mellow_convert::save_voice(&voice, &common.output, common.f16)?;
    eprintln!(
        "wrote {} ({} parameters)",
        common.output.display(),
        voice.parameter_count()
    );
    Ok(())
}

/// `mellow convert loudness`: measures, then writes the voice (or the tensors file) atomically.
fn calibrate_loudness(
    voice_name: &str,
    vocoder: Option<&str>,
    output: Option<PathBuf>,
    tensors: Option<PathBuf>,
) -> Result<()> {
    let mut synth = Synthesizer::for_names(voice_name, vocoder, true)?;
    let lufs = measure_reference(&mut synth)?;
    eprintln!(
        "loudness at unity gain: {lufs:.2} LUFS (median of {} sentences)",
        CALIBRATION_SENTENCES.len()
    );
    let calibration = Tensor::new(&[lufs], &Device::Cpu)?;
    match (output, tensors) {
        (Some(output), _) => {
            let voice = resolve_voice(voice_name)?;
            let half = voice.tensors().values().any(|t| t.dtype() == DType::F16);
            let mut extra = HashMap::new();
            extra.insert(REFERENCE_TENSOR.to_string(), calibration);
            mellow_convert::save_voice(&voice.with_tensors(extra), &output, half)?;
            eprintln!("wrote {}", output.display());
        }
        (None, Some(path)) => {
            let mut all = match path.exists() {
                true => candle_core::safetensors::load(&path, &Device::Cpu)
                    .with_context(|| format!("reading {}", path.display()))?,
                false => HashMap::new(),
            };
            all.insert(REFERENCE_TENSOR.to_string(), calibration);
            let tmp = path.with_extension("safetensors.tmp");
            candle_core::safetensors::save(&all, &tmp)
                .with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("added {REFERENCE_TENSOR} to {}", path.display());
        }
        (None, None) => anyhow::bail!("give -o VOICE_FILE or --tensors FILE"),
    }
    Ok(())
}

impl Common {
    fn provenance(&self) -> Provenance {
        Provenance {
            name: self.name.clone(),
            provenance: None,
            license: self.license.clone(),
        }
    }
}
