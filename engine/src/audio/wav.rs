//! WAV files: read any PCM/float WAV as mono f32, write 16-bit PCM atomically (temp file, then rename).

use std::io::Write;
use std::path::Path;

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

/// Converts float samples to 16-bit PCM, refusing non-finite samples (never a burst at the speakers).
pub fn to_pcm16(samples: &[f32]) -> Result<Vec<i16>> {
    if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
        return Err(Error::numeric(format!(
            "sample {i} of the audio is not a finite number"
        )));
    }
    Ok(samples
        .iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
        .collect())
}

/// Encodes mono 16-bit PCM WAV bytes into `writer`.
pub fn write_wav<W: Write + std::io::Seek>(
    writer: W,
    samples: &[f32],
    sample_rate: u32,
) -> Result<()> {
    let pcm = to_pcm16(samples)?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::new(writer, spec)
        .map_err(|e| Error::output(format!("WAV encoder: {e}")))?;
    for s in pcm {
        wav.write_sample(s)
            .map_err(|e| Error::output(format!("writing WAV data: {e}")))?;
    }
    wav.finalize()
        .map_err(|e| Error::output(format!("finishing WAV file: {e}")))
}

/// Writes `bytes` to `path` through a temp file in the same folder, then a rename, so a reader never
/// sees a partial file and a failed write leaves nothing behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| {
        file.write_all(bytes)
            .map_err(|e| Error::output(e.to_string()))
    })
}

fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> Result<()>,
) -> Result<()> {
    let tmp = temp_beside(path)?;
    {
        let mut writer = std::io::BufWriter::new(tmp.as_file());
        write(&mut writer)
            .map_err(|e| Error::output(format!("cannot write {}: {e}", path.display())))?;
        writer
            .flush()
            .map_err(|e| Error::output(format!("cannot write {}: {e}", path.display())))?;
    }
    commit(tmp, path)
}

/// Like [`write_atomic`] for writers that only take a path (`Tensor::write_npy`): `fill` writes
/// the temp file at the path it is given, which then replaces `path`.
pub fn write_atomic_at(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = temp_beside(path)?;
    fill(tmp.path()).map_err(|e| Error::output(format!("cannot write {}: {e}", path.display())))?;
    commit(tmp, path)
}

/// A temp file in `path`'s folder, so that the final rename stays on one file system.
fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".mellow-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::output(format!("cannot write to {}: {e}", dir.display())))
}

/// Makes the finished temp file durable and renames it to `path`.
fn commit(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    // Temp files are created private; the result should have ordinary file permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::output(format!("cannot write {}: {e}", path.display())))?;
    tmp.persist(path)
        .map_err(|e| Error::output(format!("cannot write {}: {}", path.display(), e.error)))?;
    Ok(())
}

/// Writes `samples` to `path` as a mono 16-bit WAV, atomically (see [`write_atomic`]).
pub fn write_wav_atomic(path: &Path, samples: &[f32], sample_rate: u32) -> Result<()> {
    write_atomic_with(path, |file| {
        let mut buffer = std::io::Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
        write_wav(&mut buffer, samples, sample_rate)?;
        file.write_all(buffer.get_ref())
            .map_err(|e| Error::output(e.to_string()))
    })
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
}
