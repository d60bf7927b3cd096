//! Shared neural-network kernels for the acoustic model and the vocoders: layers that load by the
//! reference implementations' names, direct convolutions, dense time-major kernels and fast
//! element-wise math. Nothing here knows either model.

pub mod conv_direct;
pub mod dense;
pub mod fast_math;
pub mod layers;
