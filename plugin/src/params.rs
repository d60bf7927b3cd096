//! The instrument's parameters (stable ids: a DAW project refers to them by these) and the state
//! that is not a parameter: the phrase text, saved with the project.

use std::sync::{Arc, RwLock};

use nice_plug::prelude::*;

use crate::phrases::NoteMapping;
use crate::renderer::RenderSettings;

/// The phrases a new instance starts with.
pub const DEFAULT_TEXT: &str = "Hello from Mellow.\nThis is the second line.\nAnd a third one.";

#[derive(Params)]
pub struct MellowParams {
    /// One phrase per line.
    #[persist = "phrases"]
    pub phrases: Arc<RwLock<String>>,
    /// A voice file (`mellow convert` makes them), or empty for the built-in voice. A path is not
    /// a host parameter: it is saved with the project like the text.
    #[persist = "voice"]
    pub voice: Arc<RwLock<String>>,

    #[id = "steps"]
    pub steps: IntParam,
    #[id = "temperature"]
    pub temperature: FloatParam,
    #[id = "rate"]
    pub rate: FloatParam,
    #[id = "gain"]
    pub gain: FloatParam,
    #[id = "pitch_follow"]
    pub pitch_follow: BoolParam,
    #[id = "root"]
    pub root: IntParam,

    /// Sing mode: the text is a lyric, each note sings its next syllable.
    #[id = "sing"]
    pub sing: BoolParam,
    #[id = "bend_range"]
    pub bend_range: IntParam,
    #[id = "vibrato_depth"]
    pub vibrato_depth: FloatParam,
    #[id = "vibrato_rate"]
    pub vibrato_rate: FloatParam,
    #[id = "portamento"]
    pub portamento: IntParam,
    /// The key that takes the lyric back to its first syllable (it sings nothing).
    #[id = "restart_key"]
    pub restart_key: IntParam,
}

impl Default for MellowParams {
    fn default() -> Self {
        Self {
            phrases: Arc::new(RwLock::new(DEFAULT_TEXT.to_string())),
            voice: Arc::new(RwLock::new(String::new())),
            steps: IntParam::new("Steps", 2, IntRange::Linear { min: 1, max: 16 }),
            temperature: FloatParam::new(
                "Temperature",
                0.667,
                FloatRange::Linear { min: 0.0, max: 1.5 },
            )
            .with_step_size(0.001)
            .with_value_to_string(formatters::v2s_f32_rounded(3)),
            rate: FloatParam::new(
                "Rate",
                1.0,
                FloatRange::Skewed {
                    min: 0.5,
                    max: 2.0,
                    factor: FloatRange::skew_factor(-1.0),
                },
            )
            .with_unit("×")
            .with_step_size(0.01)
            .with_value_to_string(formatters::v2s_f32_rounded(2)),
            gain: FloatParam::new(
                "Gain",
                util::db_to_gain(0.0),
                FloatRange::Skewed {
                    min: util::db_to_gain(-36.0),
                    max: util::db_to_gain(6.0),
                    factor: FloatRange::gain_skew_factor(-36.0, 6.0),
                },
            )
            // Smoothed in process(), per sample: no zipper noise when automated.
            .with_smoother(SmoothingStyle::Logarithmic(20.0))
            .with_unit(" dB")
            .with_value_to_string(formatters::v2s_f32_gain_to_db(1))
            .with_string_to_value(formatters::s2v_f32_gain_to_db()),
            pitch_follow: BoolParam::new("Pitch follow", false),
            root: IntParam::new("Root note", 60, IntRange::Linear { min: 0, max: 127 })
                .with_value_to_string(formatters::v2s_i32_key_formatter())
                .with_string_to_value(formatters::s2v_i32_key_formatter()),
            sing: BoolParam::new("Sing mode", false),
            bend_range: IntParam::new("Bend range", 2, IntRange::Linear { min: 0, max: 24 })
                .with_unit(" st"),
            vibrato_depth: FloatParam::new(
                "Vibrato depth",
                0.5,
                FloatRange::Linear { min: 0.0, max: 3.0 },
            )
            .with_step_size(0.01)
            .with_unit(" st"),
            vibrato_rate: FloatParam::new(
                "Vibrato rate",
                5.5,
                FloatRange::Linear {
                    min: 1.0,
                    max: 12.0,
                },
            )
            .with_step_size(0.1)
            .with_unit(" Hz"),
            portamento: IntParam::new("Portamento", 40, IntRange::Linear { min: 0, max: 1000 })
                .with_unit(" ms"),
            // C0 in the editor's naming: below any sung note.
            restart_key: IntParam::new("Restart key", 12, IntRange::Linear { min: 0, max: 127 })
                .with_value_to_string(formatters::v2s_i32_key_formatter())
                .with_string_to_value(formatters::s2v_i32_key_formatter()),
        }
    }
}

impl MellowParams {
    pub fn mapping(&self) -> NoteMapping {
        if self.sing.value() {
            NoteMapping::Sing {
                bend_range: self.bend_range.value().clamp(0, 24) as u8,
                portamento_ms: self.portamento.value().clamp(0, 1000) as u16,
            }
        } else if self.pitch_follow.value() {
            NoteMapping::PitchFollow {
                root: self.root.value().clamp(0, 127) as u8,
            }
        } else {
            NoteMapping::KeyPerLine
        }
    }

    /// What the sing player reads each block.
    pub fn sing_controls(&self) -> crate::singer::SingControls {
        crate::singer::SingControls {
            bend_range: self.bend_range.value() as f32,
            vibrato_depth: self.vibrato_depth.value(),
            vibrato_rate: self.vibrato_rate.value(),
            restart_key: self.restart_key.value().clamp(0, 127) as u8,
        }
    }

    /// [`RenderSettings::fingerprint`] of [`MellowParams::render_settings`], without allocating
    /// (it reads the text under its lock): for the audio thread of an offline bounce.
    pub fn settings_fingerprint(&self, sample_rate: u32) -> u64 {
        let text = self.phrases.read();
        let voice = self.voice.read();
        crate::renderer::settings_fingerprint(
            text.as_deref().map_or("", |t| t.as_str()),
            voice.as_deref().map_or("", |v| v.as_str()),
            self.steps.value().max(1) as usize,
            self.temperature.value(),
            self.rate.value(),
            self.mapping(),
            sample_rate,
        )
    }

    /// What the renderer needs from the parameters (the text and every synthesis setting).
    pub fn render_settings(&self, sample_rate: u32) -> RenderSettings {
        RenderSettings {
            text: self.phrases.read().map(|t| t.clone()).unwrap_or_default(),
            voice: self.voice.read().map(|v| v.clone()).unwrap_or_default(),
            steps: self.steps.value().max(1) as usize,
            temperature: self.temperature.value(),
            rate: self.rate.value(),
            mapping: self.mapping(),
            sample_rate,
        }
    }
}
