//! The sound card, through cpal: finding a device, choosing a configuration it accepts, and an
//! output stream whose callback only calls the engine's real-time consumer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{
    BufferSize, Device, ErrorKind, Host, OutputCallbackInfo, SampleFormat, SizedSample, Stream,
    StreamConfig, StreamInstant, SupportedBufferSize, SupportedStreamConfig,
    SupportedStreamConfigRange,
};
use mellow_engine::stream::ring::FromMono;
use mellow_engine::stream::SampleReader;

/// Longest device period the callback's scratch buffer covers in one pass (longer periods are
/// filled in several passes).
const SCRATCH_FRAMES: usize = 8192;

/// The host named `name` (`mellow devices` lists them), else the system's default.
pub fn host(name: Option<&str>) -> Result<Host> {
    let Some(name) = name else {
        return Ok(cpal::default_host());
    };
    let available = cpal::available_hosts();
    let id = available
        .iter()
        .find(|id| id.name().eq_ignore_ascii_case(name))
        .with_context(|| {
            format!(
                "no audio host `{name}` in this build; available: {}",
                available
                    .iter()
                    .map(cpal::HostId::name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    cpal::host_from_id(*id).with_context(|| format!("the {name} audio host is not running"))
}

pub fn device_name(device: &Device) -> String {
    device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|_| "(unnamed device)".into())
}

/// The host's own short name of a device (ALSA: `default`, `pulse`, `hw:0,0`).
pub fn device_id(device: &Device) -> String {
    device
        .id()
        .map(|id| id.id().to_string())
        .unwrap_or_default()
}

/// The output device named `name` (its id or description exactly, or else the only one whose id
/// or description contains it), or the host's default output.
pub fn output_device(host: &Host, name: Option<&str>) -> Result<Device> {
    let Some(name) = name else {
        return host.default_output_device().context(
            "no audio output device found: connect one or start a sound server (`mellow devices` lists what is there)",
        );
    };
    let devices: Vec<Device> = host
        .output_devices()
        .context("cannot list the audio output devices")?
        .collect();
    if let Some(d) = devices
        .iter()
        .find(|d| device_id(d) == name || device_name(d) == name)
    {
        return Ok(d.clone());
    }
    let needle = name.to_lowercase();
    let matching: Vec<&Device> = devices
        .iter()
        .filter(|d| {
            device_id(d).to_lowercase().contains(&needle)
                || device_name(d).to_lowercase().contains(&needle)
        })
        .collect();
    match matching.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!("no output device named `{name}` (`mellow devices` lists them)"),
        many => bail!(
            "`{name}` matches several devices: {}",
            many.iter()
                .map(|d| device_id(d))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn playable(format: SampleFormat) -> bool {
    matches!(
        format,
        SampleFormat::F32 | SampleFormat::I16 | SampleFormat::I32 | SampleFormat::U16
    )
}

/// The device's default configuration, or one at `rate` when asked; refused rates are an error
/// that lists what the device takes.
pub fn choose_config(device: &Device, rate: Option<u32>) -> Result<SupportedStreamConfig> {
    let name = device_name(device);
    let default = device
        .default_output_config()
        .with_context(|| format!("{name} gives no output configuration"))?;
    if rate.is_none() && playable(default.sample_format()) {
        return Ok(default);
    }
    let ranges: Vec<SupportedStreamConfigRange> = device
        .supported_output_configs()
        .with_context(|| format!("cannot read what {name} supports"))?
        .collect();
    pick_config(&name, &default, &ranges, rate)
}

/// A configuration from `ranges` at `rate` (default: the default's), in a format we write,
/// closest to the device's default.
fn pick_config(
    name: &str,
    default: &SupportedStreamConfig,
    ranges: &[SupportedStreamConfigRange],
    rate: Option<u32>,
) -> Result<SupportedStreamConfig> {
    let wanted = rate.unwrap_or(default.sample_rate());
    let mut fitting: Vec<_> = ranges
        .iter()
        .filter(|r| {
            playable(r.sample_format())
                && (r.min_sample_rate()..=r.max_sample_rate()).contains(&wanted)
        })
        .collect();
    // Prefer the default's format and channel count, then float.
    fitting.sort_by_key(|r| {
        (
            r.sample_format() != default.sample_format(),
            r.channels() != default.channels(),
            r.sample_format() != SampleFormat::F32,
        )
    });
    match fitting.first() {
        Some(r) => Ok((*r).with_sample_rate(wanted)),
        None => {
            let offered: Vec<String> = ranges
                .iter()
                .map(|r| {
                    format!(
                        "{}–{} Hz {} ch {}",
                        r.min_sample_rate(),
                        r.max_sample_rate(),
                        r.channels(),
                        r.sample_format()
                    )
                })
                .collect();
            bail!(
                "{name} does not play {wanted} Hz in a format we write; it offers: {}",
                offered.join("; ")
            )
        }
    }
}

/// What the stream's callbacks saw, for the main thread: errors, how far behind the callback the
/// device plays, and calls for samples that came too late.
#[derive(Clone, Default)]
pub struct DeviceFault {
    fatal: Arc<Mutex<Option<String>>>,
    xruns: Arc<AtomicU64>,
    output_latency_us: Arc<AtomicU64>,
    playing: Arc<AtomicBool>,
    buffer_us: Arc<AtomicU64>,
    late_calls: Arc<AtomicU64>,
    longest_wait_us: Arc<AtomicU64>,
}

impl DeviceFault {
    /// Time from the last callback until its samples are heard, as the host predicts it.
    pub fn output_latency(&self) -> Duration {
        Duration::from_micros(self.output_latency_us.load(Ordering::Relaxed))
    }

    /// The error that ended the stream, if one did.
    pub fn fatal(&self) -> Option<String> {
        self.fatal.lock().ok()?.clone()
    }

    /// Calls for samples that came after the device's buffer (two periods) had run out, since
    /// playback started. A sound server plays silence there without telling its client
    /// (PulseAudio does), so this is the only sign of that gap.
    pub fn late_calls(&self) -> u64 {
        self.late_calls.load(Ordering::Relaxed)
    }

    /// How long the device's buffer lasts: a call for samples later than this comes late (zero
    /// where the host chose the buffer and its length is unknown: no call counts late then).
    pub fn buffer(&self) -> Duration {
        Duration::from_micros(self.buffer_us.load(Ordering::Relaxed))
    }

    /// The longest time between two calls for samples since playback started.
    pub fn longest_wait(&self) -> Duration {
        Duration::from_micros(self.longest_wait_us.load(Ordering::Relaxed))
    }

    /// Underruns the device itself reported.
    pub fn xruns(&self) -> u64 {
        self.xruns.load(Ordering::Relaxed)
    }

    /// Records `e`; true when the stream cannot go on.
    fn record(&self, e: &cpal::Error) -> bool {
        match e.kind() {
            ErrorKind::Xrun => {
                self.xruns.fetch_add(1, Ordering::Relaxed);
                false
            }
            // The stream goes on (rerouted, or without real-time priority).
            ErrorKind::DeviceChanged | ErrorKind::RealtimeDenied => false,
            _ => {
                if let Ok(mut slot) = self.fatal.lock() {
                    slot.get_or_insert(e.to_string());
                }
                true
            }
        }
    }
}

/// Opens an output stream on `device` that plays what `reader` gives once started, asking for
/// periods of about `period` (servers otherwise buffer up to seconds, which no cancel could take
/// back).
pub fn open_output(
    device: &Device,
    config: &SupportedStreamConfig,
    period: Duration,
    reader: SampleReader,
    fault: DeviceFault,
) -> Result<Stream> {
    let mut stream_config: StreamConfig = config.config();
    let frames = (config.sample_rate() as f64 * period.as_secs_f64()).round() as u32;
    if let SupportedBufferSize::Range { min, max } = config.buffer_size() {
        stream_config.buffer_size = BufferSize::Fixed(frames.clamp(*min, *max));
    }
    // cpal's ALSA and PulseAudio streams hold two periods. A host that chooses its own buffer
    // (PulseAudio's default is two seconds) says nothing of its length, so nothing is late there.
    let buffer = match stream_config.buffer_size {
        BufferSize::Fixed(n) => {
            Duration::from_secs_f64(2.0 * n as f64 / config.sample_rate() as f64)
        }
        BufferSize::Default => Duration::ZERO,
    };
    fault
        .buffer_us
        .store(buffer.as_micros() as u64, Ordering::Relaxed);
    let stream = match config.sample_format() {
        SampleFormat::F32 => build::<f32>(device, &stream_config, reader, fault),
        SampleFormat::I16 => build::<i16>(device, &stream_config, reader, fault),
        SampleFormat::I32 => build::<i32>(device, &stream_config, reader, fault),
        SampleFormat::U16 => build::<u16>(device, &stream_config, reader, fault),
        other => bail!("sample format {other} is not supported"),
    }
    .with_context(|| format!("cannot open an output stream on {}", device_name(device)))?;
    Ok(stream)
}

/// Starts a stream opened by [`open_output`] with `fault`.
pub fn start(stream: &Stream, device: &Device, fault: &DeviceFault) -> Result<()> {
    // Calls before this fill the server's buffer while the stream is held back: their spacing
    // says nothing about lateness.
    fault.playing.store(true, Ordering::Relaxed);
    stream
        .play()
        .with_context(|| format!("cannot start playback on {}", device_name(device)))
}

/// The callback's record of how far apart the device's calls come, into a [`DeviceFault`]:
/// atomics only, so it is safe on the audio thread.
struct CallSpacing {
    playing: Arc<AtomicBool>,
    buffer_us: u64,
    late_calls: Arc<AtomicU64>,
    longest_wait_us: Arc<AtomicU64>,
    last: Option<StreamInstant>,
}

impl CallSpacing {
    fn new(fault: &DeviceFault) -> CallSpacing {
        CallSpacing {
            playing: fault.playing.clone(),
            buffer_us: fault.buffer_us.load(Ordering::Relaxed),
            late_calls: fault.late_calls.clone(),
            longest_wait_us: fault.longest_wait_us.clone(),
            last: None,
        }
    }

    /// A call for samples at `at` (the stream's own clock).
    fn record(&mut self, at: StreamInstant) {
        if !self.playing.load(Ordering::Relaxed) {
            return;
        }
        if let Some(last) = self.last.replace(at) {
            let wait = at.duration_since(last).as_micros() as u64;
            self.longest_wait_us.fetch_max(wait, Ordering::Relaxed);
            if self.buffer_us > 0 && wait > self.buffer_us {
                self.late_calls.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn build<T: SizedSample + FromMono + Send + 'static>(
    device: &Device,
    config: &StreamConfig,
    mut reader: SampleReader,
    fault: DeviceFault,
) -> Result<Stream, cpal::Error> {
    let channels = config.channels as usize;
    // Allocated here, before the stream runs: the callback itself never allocates.
    let mut scratch = vec![0f32; SCRATCH_FRAMES];
    let state = reader.state().clone();
    let latency = fault.output_latency_us.clone();
    let mut spacing = CallSpacing::new(&fault);
    device.build_output_stream::<T, _, _>(
        *config,
        move |data: &mut [T], info: &OutputCallbackInfo| {
            reader.fill_interleaved(data, channels, &mut scratch);
            let t = info.timestamp();
            let ahead = t.playback.duration_since(t.callback);
            latency.store(ahead.as_micros() as u64, Ordering::Relaxed);
            spacing.record(t.callback);
        },
        move |e| {
            if fault.record(&e) {
                // The producer must not wait for a consumer that is gone.
                state.close_consumer();
            }
        },
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(
        min: u32,
        max: u32,
        channels: u16,
        format: SampleFormat,
    ) -> SupportedStreamConfigRange {
        SupportedStreamConfigRange::new(channels, min, max, SupportedBufferSize::Unknown, format)
    }

    fn default_config() -> SupportedStreamConfig {
        SupportedStreamConfig::new(2, 48_000, SupportedBufferSize::Unknown, SampleFormat::I16)
    }

    fn at_ms(ms: u64) -> StreamInstant {
        let d = Duration::from_millis(ms);
        StreamInstant::new(d.as_secs(), d.subsec_nanos())
    }

    #[test]
    fn a_call_after_the_buffer_ran_out_is_late_and_calls_before_playback_do_not_count() {
        let fault = DeviceFault::default();
        fault.buffer_us.store(20_000, Ordering::Relaxed);
        let mut spacing = CallSpacing::new(&fault);
        // Filling the buffer while the stream is held back: seconds apart, not late.
        spacing.record(at_ms(0));
        spacing.record(at_ms(2_000));
        fault.playing.store(true, Ordering::Relaxed);
        for ms in [2_500, 2_510, 2_520, 2_540] {
            spacing.record(at_ms(ms));
        }
        assert_eq!(fault.late_calls(), 0);
        assert_eq!(fault.longest_wait(), Duration::from_millis(20));
        spacing.record(at_ms(2_565));
        spacing.record(at_ms(2_575));
        assert_eq!(fault.late_calls(), 1);
        assert_eq!(fault.longest_wait(), Duration::from_millis(25));
    }

    #[test]
    fn no_call_is_late_when_the_buffer_length_is_unknown() {
        let fault = DeviceFault::default();
        let mut spacing = CallSpacing::new(&fault);
        fault.playing.store(true, Ordering::Relaxed);
        spacing.record(at_ms(0));
        spacing.record(at_ms(900));
        assert_eq!(fault.late_calls(), 0);
        assert_eq!(fault.longest_wait(), Duration::from_millis(900));
    }

    #[test]
    fn a_rate_the_device_refuses_names_what_it_offers() {
        let ranges = [
            range(44_100, 48_000, 2, SampleFormat::I16),
            range(8_000, 192_000, 2, SampleFormat::I24),
        ];
        let err = pick_config("Card", &default_config(), &ranges, Some(96_000))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Card does not play 96000 Hz"), "{err}");
        assert!(err.contains("44100–48000 Hz 2 ch i16"), "{err}");
    }

    #[test]
    fn the_default_format_and_channels_are_preferred_then_float() {
        let ranges = [
            range(8_000, 96_000, 1, SampleFormat::F32),
            range(8_000, 96_000, 2, SampleFormat::F32),
            range(8_000, 96_000, 2, SampleFormat::I16),
        ];
        let c = pick_config("Card", &default_config(), &ranges, Some(44_100)).unwrap();
        assert_eq!(
            (c.sample_rate(), c.channels(), c.sample_format()),
            (44_100, 2, SampleFormat::I16)
        );
        let c = pick_config("Card", &default_config(), &ranges[..2], Some(22_050)).unwrap();
        assert_eq!((c.channels(), c.sample_format()), (2, SampleFormat::F32));
    }
}
