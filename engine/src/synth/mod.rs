//! Synthesis: a loaded voice ([`Synthesizer`]), the options a caller may give (with their bounds)
//! and the one utterance loop every way of speaking goes through ([`Synthesizer::speak`]).

pub mod loudness;
pub mod options;
mod pitch_plan;
pub mod speak;
pub mod synthesizer;
pub mod timing;
pub mod utterance;

pub use crate::vocoder::factory::phase_vocoder;
pub use options::{
    check_output_rate, check_pitch, check_speaker, Loudness, ResolvedOptions, SynthesisOptions,
    DEFAULT_LOUDNESS, LEAD_IN, LEAD_INS, LOUDNESS, OUTPUT_RATE, RATE, SENTENCE_PAUSE, STEPS,
    TEMPERATURE,
};
pub use speak::{Outcome, SpeechSink};
pub use synthesizer::{load_vocoder, Audio, MelOutput, Synthesizer};
pub use timing::{CueLevel, TimingEvent, Timings};
pub use utterance::{MadeMel, Segment, Utterance};
