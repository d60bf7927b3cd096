//! Reading and writing voice files (safetensors + JSON metadata).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::config::VoiceConfig;
use crate::error::{Error, Result};

/// The metadata key holding the JSON config.
pub const METADATA_KEY: &str = "mellow";

/// A loaded voice file: its config and its weights.
///
/// ```
/// use mellow_engine::voice::resolve_voice;
/// let voice = resolve_voice("").unwrap(); // the built-in one; or a name, or a path
/// assert_eq!(voice.config.name, "mellow-joe");
/// assert!(voice.config.acoustic.is_some() && voice.config.vocoder.is_some());
/// ```
/// Where a voice file keeps its vocoder's weights.
const VOCODER_PREFIX: &str = "vocoder.";

#[derive(Clone)]
pub struct Voice {
    pub config: VoiceConfig,
    tensors: HashMap<String, Tensor>,
    /// Where it came from, for messages.
    pub origin: String,
}

impl Voice {
    pub fn new(
        config: VoiceConfig,
        tensors: HashMap<String, Tensor>,
        origin: impl Into<String>,
    ) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            tensors,
            origin: origin.into(),
        })
    }

    /// Reads a voice file; a missing, truncated or corrupt file is an error naming it.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::voice(format!("cannot read {}: {e}", path.display())))?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self> {
        let corrupt = |e: String| {
            Error::voice(format!(
                "{origin} is not a valid voice file (truncated or corrupt?): {e}"
            ))
        };
        let (_, meta) =
            safetensors::SafeTensors::read_metadata(bytes).map_err(|e| corrupt(e.to_string()))?;
        let json = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(METADATA_KEY))
            .ok_or_else(|| Error::voice(format!("{origin} has no `{METADATA_KEY}` config: it is a safetensors file but not a Mellow voice (convert checkpoints with `mellow convert`)")))?;
        let config: VoiceConfig = serde_json::from_str(json)
            .map_err(|e| Error::voice(format!("{origin}: the config is not valid: {e}")))?;
        config
            .validate()
            .map_err(|e| Error::voice(format!("{origin}: {e}")))?;
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(Self {
            config,
            tensors,
            origin: origin.to_string(),
        })
    }

    /// The voice with `extra` tensors added (same names replaced): a part kept in a file of
    /// its own.
    pub fn with_tensors(mut self, extra: HashMap<String, Tensor>) -> Self {
        self.tensors.extend(extra);
        self
    }

    /// The voice with `vocoder`'s vocoder (a vocoder or voice file) in place of its own; the two
    /// must share their mel settings.
    pub fn with_vocoder(mut self, vocoder: &Voice) -> Result<Self> {
        let config = vocoder
            .config
            .vocoder
            .clone()
            .ok_or_else(|| Error::voice(format!("{} holds no vocoder", vocoder.origin)))?;
        if vocoder.config.mel != self.config.mel {
            return Err(Error::voice(format!(
                "{} was made for other mel settings than {}",
                vocoder.origin, self.origin
            )));
        }
        self.tensors
            .retain(|name, _| !name.starts_with(VOCODER_PREFIX));
        self.tensors.extend(
            vocoder
                .tensors
                .iter()
                .filter(|(name, _)| name.starts_with(VOCODER_PREFIX))
                .map(|(name, t)| (name.clone(), t.clone())),
        );
        self.config.vocoder = Some(config);
        self.config.provenance = format!(
            "{}; it speaks through {}: {}",
            self.config.provenance, vocoder.config.name, vocoder.config.provenance
        );
        Ok(self)
    }

    pub fn tensors(&self) -> &HashMap<String, Tensor> {
        &self.tensors
    }

    /// Weights as f32 for model construction; missing or mis-shaped tensors fail there, by name.
    pub fn var_builder(&self) -> VarBuilder<'static> {
        VarBuilder::from_tensors(self.tensors.clone(), DType::F32, &Device::Cpu)
    }

    /// Number of parameters stored.
    pub fn parameter_count(&self) -> usize {
        self.tensors.values().map(Tensor::elem_count).sum()
    }

    /// Writes the voice atomically (temp file in the same folder, then rename). With `half`, float
    /// weights are stored as f16.
    pub fn save(&self, path: &Path, half: bool) -> Result<()> {
        let json = serde_json::to_string(&self.config)
            .map_err(|e| Error::output(format!("voice config: {e}")))?;
        let mut tensors: Vec<(String, Tensor)> = Vec::with_capacity(self.tensors.len());
        for (name, t) in &self.tensors {
            let t = if half && t.dtype().is_float() {
                t.to_dtype(DType::F16)?
            } else {
                t.clone()
            };
            tensors.push((name.clone(), t.contiguous()?));
        }
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let metadata = HashMap::from([(METADATA_KEY.to_string(), json)]);
        let bytes =
            safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(metadata))
                .map_err(|e| Error::output(format!("encoding the voice file: {e}")))?;
        crate::audio::wav::write_atomic(path, &bytes)
    }
}
