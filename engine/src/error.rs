//! The engine's one error type: each variant says which input was wrong and what to do.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// Text, phonemes, conditioning, a mel file or an option the caller gave is not usable.
    #[error("{0}")]
    Input(String),
    /// A voice or vocoder file is missing, corrupt, truncated or inconsistent with its config.
    #[error("voice file: {0}")]
    Voice(String),
    /// The model produced NaN or infinite values (bad weights or extreme settings).
    #[error("numerical failure: {0}")]
    Numeric(String),
    /// An output could not be written.
    #[error("{0}")]
    Output(String),
    /// A thread of the engine could not start or stopped unexpectedly (the system, not the input).
    #[error("{0}")]
    Runtime(String),
    /// espeak-ng could not be started or failed.
    #[error("phonemizer: {0}")]
    Phonemizer(String),
    /// A tensor operation failed (usually a shape that does not match the voice's config).
    #[error("model: {}", candle_message(.0))]
    Model(#[from] candle_core::Error),
}

/// A candle error's message without the backtrace candle attaches when RUST_BACKTRACE is set.
pub fn candle_message(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => candle_message(inner),
        candle_core::Error::Context { context, inner } => {
            format!("{context}: {}", candle_message(inner))
        }
        other => other.to_string(),
    }
}

impl Error {
    pub fn input(msg: impl Into<String>) -> Self {
        Self::Input(msg.into())
    }
    pub fn voice(msg: impl Into<String>) -> Self {
        Self::Voice(msg.into())
    }
    pub fn numeric(msg: impl Into<String>) -> Self {
        Self::Numeric(msg.into())
    }
    pub fn output(msg: impl Into<String>) -> Self {
        Self::Output(msg.into())
    }
    pub fn runtime(msg: impl Into<String>) -> Self {
        Self::Runtime(msg.into())
    }
}

pub type Result<T> = std::result::Result<T, Error>;
