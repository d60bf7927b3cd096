//! English: the normaliser, number reading and SSML `say-as` for `en-*` voices.

pub mod normalize;
pub mod numbers;
pub mod say_as;

pub use normalize::normalize;
