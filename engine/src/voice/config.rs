//! The JSON config stored under the `mellow` metadata key of a voice file.

use serde::{Deserialize, Serialize};

use crate::acoustic::{AcousticConfig, Sampler};
use crate::audio::MelConfig;
use crate::error::{Error, Result};
use crate::text::PhonemeMap;
use crate::vocoder::VocoderConfig;

/// The `format` field every voice file carries.
pub const FORMAT: &str = "mellow-voice";
/// The newest format version this build reads.
pub const VERSION: u32 = 1;

/// Sampler settings the voice was tuned for; the command line overrides each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthesisDefaults {
    pub steps: usize,
    pub temperature: f64,
    pub sampler: Sampler,
    #[serde(default = "one")]
    pub rate: f32,
}

fn one() -> f32 {
    1.0
}

impl Default for SynthesisDefaults {
    fn default() -> Self {
        Self {
            steps: 4,
            temperature: 0.667,
            sampler: Sampler::Heun,
            rate: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceConfig {
    pub format: String,
    pub version: u32,
    pub name: String,
    /// espeak-ng voice used to phonemise text, e.g. `en-us`.
    #[serde(default = "en_us")]
    pub language: String,
    pub mel: MelConfig,
    /// The acoustic model; absent in a vocoder-only file.
    #[serde(default)]
    pub acoustic: Option<AcousticConfig>,
    #[serde(default)]
    pub phonemes: Option<PhonemeMap>,
    /// The vocoder stored in this file (tensors under `vocoder.`), if any.
    #[serde(default)]
    pub vocoder: Option<VocoderConfig>,
    #[serde(default)]
    pub defaults: SynthesisDefaults,
    /// espeak-ng version the voice's training phonemes came from.
    #[serde(default)]
    pub espeak_version: Option<String>,
    #[serde(default)]
    pub provenance: String,
    #[serde(default)]
    pub license: String,
}

fn en_us() -> String {
    "en-us".into()
}

impl VoiceConfig {
    /// The config of a file that holds only a vocoder, for the default 22 050 Hz mel setting.
    pub fn vocoder_only(
        name: String,
        vocoder: VocoderConfig,
        provenance: String,
        license: String,
    ) -> Self {
        Self {
            format: FORMAT.into(),
            version: VERSION,
            name,
            language: en_us(),
            mel: MelConfig::default(),
            acoustic: None,
            phonemes: None,
            vocoder: Some(vocoder),
            defaults: SynthesisDefaults::default(),
            espeak_version: None,
            provenance,
            license,
        }
    }

    /// Refuses configs this build cannot run, naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.format != FORMAT {
            return Err(Error::voice(format!(
                "format is `{}`, not `{FORMAT}`",
                self.format
            )));
        }
        if self.version == 0 || self.version > VERSION {
            return Err(Error::voice(format!(
                "format version {} is newer than this build reads ({VERSION}); update mellow",
                self.version
            )));
        }
        self.mel
            .validate()
            .map_err(|e| Error::voice(format!("mel settings: {e}")))?;
        if let Some(a) = &self.acoustic {
            a.validate()
                .map_err(|e| Error::voice(format!("acoustic model: {e}")))?;
            if a.n_feats != self.mel.n_mels {
                return Err(Error::voice(format!(
                    "the model makes {} mel bands but the mel settings have {}",
                    a.n_feats, self.mel.n_mels
                )));
            }
            let map = self
                .phonemes
                .as_ref()
                .ok_or_else(|| Error::voice("an acoustic model needs a phoneme map"))?;
            map.validate(a.n_vocab)?;
        }
        if let Some(v) = &self.vocoder {
            v.validate()
                .map_err(|e| Error::voice(format!("vocoder: {e}")))?;
            let hop = v.hop_length();
            if hop != 0 && hop != self.mel.hop_length {
                return Err(Error::voice(format!(
                    "the vocoder makes {hop} samples per frame but the mel hop is {}",
                    self.mel.hop_length
                )));
            }
        }
        if self.acoustic.is_none() && self.vocoder.is_none() {
            return Err(Error::voice(
                "the file holds neither an acoustic model nor a vocoder",
            ));
        }
        Ok(())
    }
}
