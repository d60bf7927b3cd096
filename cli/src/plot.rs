//! `--plot`: the mel spectrogram as a PNG, with phoneme boundaries as vertical lines, and under it
//! the pitch: the F0 an F0-aware vocoder was asked to play (a white line) and the F0 heard in the
//! audio (orange dots), on a log axis from 50 to 400 Hz with a line at each octave.

use std::path::Path;

use anyhow::{Context, Result};
use mellow_engine::audio::f0::track_f0;
use mellow_engine::MelOutput;

const CELL_W: usize = 3;
const CELL_H: usize = 3;
/// The pitch panel: its height in pixels and the range it shows, in Hz (three octaves).
const PITCH_H: usize = 150;
const PITCH_LOW: f32 = 50.0;
const PITCH_HIGH: f32 = 400.0;
const ASKED: [u8; 3] = [255, 255, 255];
const HEARD: [u8; 3] = [255, 140, 0];

/// The audio the mels became, to show the pitch heard.
pub struct HeardAudio<'a> {
    pub samples: &'a [f32],
    pub rate: u32,
    /// Output samples per mel frame.
    pub samples_per_frame: f64,
    /// Where each mel's audio ends in `samples`.
    pub segment_ends: &'a [usize],
}

/// A perceptual-ish colour ramp from dark blue to yellow.
fn colour(v: f32) -> [u8; 3] {
    let v = v.clamp(0.0, 1.0);
    let r = (255.0 * (1.5 * v - 0.3).clamp(0.0, 1.0)) as u8;
    let g = (255.0 * (1.4 * v - 0.1).clamp(0.0, 1.0).powf(1.2)) as u8;
    let b = (255.0 * (0.6 - 0.8 * (v - 0.35).abs()).clamp(0.1, 1.0)) as u8;
    [r, g, b]
}

pub fn write_plot(path: &Path, mels: &[MelOutput], heard: Option<HeardAudio>) -> Result<()> {
    let mut columns: Vec<Vec<f32>> = Vec::new();
    let mut boundaries = Vec::new();
    for m in mels {
        let rows = m.mel.squeeze(0)?.to_vec2::<f32>()?;
        let frames = rows.first().map_or(0, Vec::len);
        let base = columns.len();
        for f in 0..frames {
            columns.push(rows.iter().map(|r| r[f]).collect());
        }
        let mut at = base;
        for (symbol, d) in &m.alignment {
            at += d;
            if !symbol.is_empty() && !symbol.trim().is_empty() {
                boundaries.push(at);
            }
        }
        boundaries.push(columns.len());
    }
    let bands = columns.first().map_or(0, Vec::len);
    anyhow::ensure!(!columns.is_empty() && bands > 0, "nothing to plot");
    let (lo, hi) = columns
        .iter()
        .flatten()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (hi - lo).max(1e-6);
    let asked: Vec<Option<f32>> = mels
        .iter()
        .flat_map(|m| {
            let frames = m.mel.dim(2).unwrap_or(0);
            (0..frames).map(move |f| m.asked_f0.as_ref().and_then(|c| c.get(f).copied()))
        })
        .collect();
    let heard = heard.map_or_else(Vec::new, |h| heard_per_frame(mels, &h));
    let panel = asked.iter().any(Option::is_some) || heard.iter().any(Option::is_some);
    let (w, mel_h) = (columns.len() * CELL_W, bands * CELL_H);
    let h = mel_h + if panel { PITCH_H } else { 0 };
    let mut pixels = vec![0u8; w * h * 3];
    for (x, col) in columns.iter().enumerate() {
        for (band, v) in col.iter().enumerate() {
            let c = colour((v - lo) / span);
            // Low frequencies at the bottom.
            let y0 = (bands - 1 - band) * CELL_H;
            for dy in 0..CELL_H {
                for dx in 0..CELL_W {
                    let p = ((y0 + dy) * w + x * CELL_W + dx) * 3;
                    pixels[p..p + 3].copy_from_slice(&c);
                }
            }
        }
    }
    if panel {
        draw_pitch(&mut pixels, w, mel_h, &asked, &heard);
    }
    for &b in &boundaries {
        let x = (b * CELL_W).min(w - 1);
        for y in 0..mel_h {
            let p = (y * w + x) * 3;
            pixels[p..p + 3].copy_from_slice(&[255, 255, 255]);
        }
    }
    write_png(path, &pixels, w, h)
}

/// The F0 heard at each mel frame: the audio's track read at each frame's centre.
fn heard_per_frame(mels: &[MelOutput], heard: &HeardAudio) -> Vec<Option<f32>> {
    let hop = heard.samples_per_frame.round().max(1.0) as usize;
    let track = track_f0(heard.samples, heard.rate, hop);
    let mut out = Vec::new();
    for (m, &end) in mels.iter().zip(heard.segment_ends) {
        let frames = m.mel.dim(2).unwrap_or(0);
        let start = end as f64 - frames as f64 * heard.samples_per_frame;
        for f in 0..frames {
            let centre = start + (f as f64 + 0.5) * heard.samples_per_frame;
            let k = (centre / hop as f64 - 0.5).round();
            out.push(
                (k >= 0.0)
                    .then(|| track.get(k as usize).copied().flatten())
                    .flatten(),
            );
        }
    }
    out
}

/// The pitch panel under the mel: octave lines, the asked F0 as a line, the heard F0 as dots.
fn draw_pitch(
    pixels: &mut [u8],
    w: usize,
    top: usize,
    asked: &[Option<f32>],
    heard: &[Option<f32>],
) {
    let octaves = (PITCH_HIGH / PITCH_LOW).log2();
    let row = |f0: f32| -> Option<usize> {
        let up = (f0 / PITCH_LOW).log2() / octaves;
        (0.0..=1.0)
            .contains(&up)
            .then(|| top + ((1.0 - up) * (PITCH_H - 1) as f32).round() as usize)
    };
    let mut put = |x: usize, y: usize, c: [u8; 3]| {
        if x < w && y >= top && y < top + PITCH_H {
            let p = (y * w + x) * 3;
            pixels[p..p + 3].copy_from_slice(&c);
        }
    };
    for x in 0..w {
        for y in top..top + PITCH_H {
            put(x, y, [20, 20, 30]);
        }
        let mut octave = PITCH_LOW;
        while octave <= PITCH_HIGH {
            if let Some(y) = row(octave) {
                put(x, y, [70, 70, 90]);
            }
            octave *= 2.0;
        }
    }
    // The heard dots first, so that the asked line stays visible over them.
    for (frame, f0) in heard.iter().enumerate() {
        if let Some(y) = f0.and_then(row) {
            for dx in 0..CELL_W {
                for dy in 0..3 {
                    put(frame * CELL_W + dx, (y + dy).saturating_sub(1), HEARD);
                }
            }
        }
    }
    for (frame, f0) in asked.iter().enumerate() {
        if let Some(y) = f0.and_then(row) {
            for dx in 0..CELL_W {
                put(frame * CELL_W + dx, y, ASKED);
            }
        }
    }
}

/// A note to draw: from `start` to `end` seconds at `hz`.
pub struct PlottedNote {
    pub start: f64,
    pub end: f64,
    pub hz: f64,
}

/// Pixels per second of a song plot, and its height.
const SONG_PX_PER_SECOND: f64 = 150.0;
const SONG_H: usize = 240;

/// `mellow sing --plot`: the notes as white bars and the F0 heard in the audio as orange dots,
/// over time, on a log axis an octave around the notes with a line at each C.
pub fn write_song_plot(
    path: &Path,
    notes: &[PlottedNote],
    samples: &[f32],
    rate: u32,
) -> Result<()> {
    anyhow::ensure!(!notes.is_empty(), "nothing to plot");
    let seconds = samples.len() as f64 / rate as f64;
    let w = ((seconds.max(notes.iter().fold(0.0, |m, n| f64::max(m, n.end))) * SONG_PX_PER_SECOND)
        as usize)
        .max(1);
    let (lowest, highest) = notes
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), n| (lo.min(n.hz), hi.max(n.hz)));
    // Half an octave of room either side.
    let (low, high) = (lowest / 2f64.sqrt(), highest * 2f64.sqrt());
    let row = |hz: f64| -> Option<usize> {
        let up = (hz / low).log2() / (high / low).log2();
        (0.0..=1.0)
            .contains(&up)
            .then(|| ((1.0 - up) * (SONG_H - 1) as f64).round() as usize)
    };
    let mut pixels = vec![0u8; w * SONG_H * 3];
    let mut put = |x: usize, y: usize, c: [u8; 3]| {
        if x < w && y < SONG_H {
            let p = (y * w + x) * 3;
            pixels[p..p + 3].copy_from_slice(&c);
        }
    };
    for x in 0..w {
        for y in 0..SONG_H {
            put(x, y, [20, 20, 30]);
        }
        // A line at every C (MIDI keys 0, 12, ...: 8.18 Hz times powers of two).
        let mut c = 440.0 * 2f64.powf(-57.0 / 12.0) / 16.0;
        while c <= high {
            if let Some(y) = row(c) {
                put(x, y, [70, 70, 90]);
            }
            c *= 2.0;
        }
    }
    let x_of = |t: f64| (t * SONG_PX_PER_SECOND) as usize;
    for note in notes {
        if let Some(y) = row(note.hz) {
            for x in x_of(note.start)..x_of(note.end) {
                for dy in 0..3 {
                    put(x, (y + dy).saturating_sub(1), ASKED);
                }
            }
        }
    }
    let hop = (rate as f64 / SONG_PX_PER_SECOND).round().max(1.0) as usize;
    for (k, f0) in track_f0(samples, rate, hop).iter().enumerate() {
        if let Some(y) = f0.and_then(|f| row(f as f64)) {
            put(k, y, HEARD);
            put(k, y + 1, HEARD);
        }
    }
    write_png(path, &pixels, w, SONG_H)
}

/// RGB `pixels` of a `w` × `h` image as a PNG, written atomically.
fn write_png(path: &Path, pixels: &[u8], w: usize, h: usize) -> Result<()> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, w as u32, h as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(pixels)?;
    }
    mellow_engine::audio::wav::write_atomic(path, &bytes)
        .with_context(|| format!("cannot write the plot {}", path.display()))
}
