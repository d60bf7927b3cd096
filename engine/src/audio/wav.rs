//! WAV files: read any PCM/float WAV as mono f32; write 16-bit PCM as it is made, atomically.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub use crate::audio::output_file::{write_atomic, write_atomic_at};
use crate::audio::output_file::{write_error, OutputFile};
use crate::error::{Error, Result};

/// Reads a WAV file as mono f32 in [-1, 1] (channels are averaged) with its sample rate.
pub fn read_mono(path: &Path) -> Result<(Vec<f32>, u32)> {
    let reader = hound::WavReader::open(path)
        .map_err(|e| Error::input(format!("cannot read WAV file {}: {e}", path.display())))?;
    let spec = reader.spec();
    let channels = spec.channels.max(1) as usize;
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::input(format!("corrupt WAV file {}: {e}", path.display())))?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| Error::input(format!("corrupt WAV file {}: {e}", path.display())))?
        }
    };
    let mono = samples
        .chunks(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    Ok((mono, spec.sample_rate))
}

/// A sample in [-1, 1] (clamped) as 16-bit PCM: the one conversion WAV files, raw streams and
/// 16-bit sound cards share.
///
/// ```
/// use mellow_engine::audio::wav::pcm16;
/// assert_eq!((pcm16(1.0), pcm16(-2.0), pcm16(0.0)), (32767, -32767, 0));
/// ```
pub fn pcm16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * i16::MAX as f32).round() as i16
}

/// A mono 16-bit WAV written as samples arrive, so memory stays flat however long the audio:
/// the header's sizes are filled in at [`WavFileWriter::finish`], and the file appears at its
/// path only then (see [`OutputFile`]: atomic for a regular file, written into for a device or
/// FIFO). Dropped unfinished, it leaves nothing behind.
pub struct WavFileWriter {
    out: OutputFile,
    buffer: std::io::BufWriter<File>,
    path: PathBuf,
    sample_rate: u32,
    data_bytes: u64,
}

/// Bytes of a canonical PCM WAV header (RIFF, fmt, data).
const HEADER_BYTES: u64 = 44;

impl WavFileWriter {
    /// Starts a WAV at `path` with `sample_rate` Hz.
    ///
    /// ```
    /// use mellow_engine::audio::wav::{read_mono, WavFileWriter};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("a.wav");
    /// let mut wav = WavFileWriter::create(&path, 22_050).unwrap();
    /// wav.write(&[0.0, 0.5, -0.5]).unwrap();
    /// wav.finish().unwrap();
    /// assert_eq!(read_mono(&path).unwrap().0.len(), 3);
    /// ```
    pub fn create(path: &Path, sample_rate: u32) -> Result<Self> {
        let mut out = OutputFile::create(path)?;
        let file = out.file().try_clone().map_err(|e| write_error(path, e))?;
        let mut writer = Self {
            out,
            buffer: std::io::BufWriter::with_capacity(1 << 16, file),
            path: path.to_path_buf(),
            sample_rate,
            data_bytes: 0,
        };
        let header = wav_header(sample_rate, 0);
        writer
            .buffer
            .write_all(&header)
            .map_err(|e| write_error(path, e))?;
        Ok(writer)
    }

    /// Appends samples in [-1, 1] (clamped) as 16-bit PCM; non-finite samples are refused.
    pub fn write(&mut self, samples: &[f32]) -> Result<()> {
        if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
            return Err(Error::numeric(format!(
                "sample {} of the audio is not a finite number",
                self.data_bytes / 2 + i as u64
            )));
        }
        let bytes = 2 * samples.len() as u64;
        if HEADER_BYTES - 8 + self.data_bytes + bytes > u32::MAX as u64 {
            return Err(Error::output(format!(
                "cannot write {}: the audio is longer than a WAV file can hold (4 GiB, {:.1} hours at {} Hz); render it in parts with --out-dir",
                self.path.display(),
                (u32::MAX as f64 / 2.0) / self.sample_rate as f64 / 3600.0,
                self.sample_rate
            )));
        }
        for &s in samples {
            self.buffer
                .write_all(&pcm16(s).to_le_bytes())
                .map_err(|e| write_error(&self.path, e))?;
        }
        self.data_bytes += bytes;
        Ok(())
    }

    /// Samples written so far.
    pub fn samples_written(&self) -> u64 {
        self.data_bytes / 2
    }

    /// Fills in the header's sizes and makes the file visible at its path.
    pub fn finish(mut self) -> Result<()> {
        let fail = |e: std::io::Error| write_error(&self.path, e);
        self.buffer.flush().map_err(fail)?;
        let file = self.out.file();
        file.seek(SeekFrom::Start(0)).map_err(fail)?;
        file.write_all(&wav_header(self.sample_rate, self.data_bytes as u32))
            .map_err(fail)?;
        file.seek(SeekFrom::End(0)).map_err(fail)?;
        self.out.commit()
    }
}

/// A 44-byte mono 16-bit PCM WAV header for `data_bytes` of samples.
pub fn wav_header(sample_rate: u32, data_bytes: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_bytes.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&1u16.to_le_bytes()); // mono
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&sample_rate.saturating_mul(2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    h
}

/// Writes `samples` to `path` as a mono 16-bit WAV, atomically (see [`WavFileWriter`]).
pub fn write_wav_atomic(path: &Path, samples: &[f32], sample_rate: u32) -> Result<()> {
    let mut wav = WavFileWriter::create(path, sample_rate)?;
    wav.write(samples)?;
    wav.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        let samples: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
        write_wav_atomic(&path, &samples, 22_050).unwrap();
        let (read, rate) = read_mono(&path).unwrap();
        assert_eq!(rate, 22_050);
        assert_eq!(read.len(), samples.len());
        for (a, b) in read.iter().zip(&samples) {
            assert!((a - b).abs() < 1e-4);
        }
        // Only the finished file is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn refuses_nan_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        let err = write_wav_atomic(&path, &[0.0, f32::NAN], 22_050).unwrap_err();
        assert!(err.to_string().contains("not a finite number"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_wav_written_in_pieces_equals_one_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let samples: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.003).sin() * 0.8).collect();
        let whole = dir.path().join("whole.wav");
        let mut w = WavFileWriter::create(&whole, 24_000).unwrap();
        w.write(&samples).unwrap();
        w.finish().unwrap();
        let pieces = dir.path().join("pieces.wav");
        let mut w = WavFileWriter::create(&pieces, 24_000).unwrap();
        for chunk in samples.chunks(777) {
            w.write(chunk).unwrap();
        }
        assert_eq!(w.samples_written(), 5000);
        // Not visible before it is finished.
        assert!(!pieces.exists());
        w.finish().unwrap();
        let bytes = std::fs::read(&pieces).unwrap();
        assert_eq!(bytes, std::fs::read(&whole).unwrap());
        assert_eq!(bytes.len(), 44 + 10_000);
        // hound reads it back as written.
        let mut reader = hound::WavReader::open(&pieces).unwrap();
        assert_eq!(reader.spec().sample_rate, 24_000);
        assert_eq!(reader.samples::<i16>().count(), 5000);
    }
}
