//! `--plot`: the mel spectrogram as a PNG, with phoneme boundaries as vertical lines.

use std::path::Path;

use anyhow::{Context, Result};
use mellow_engine::MelOutput;

const CELL_W: usize = 3;
const CELL_H: usize = 3;

/// A perceptual-ish colour ramp from dark blue to yellow.
fn colour(v: f32) -> [u8; 3] {
    let v = v.clamp(0.0, 1.0);
    let r = (255.0 * (1.5 * v - 0.3).clamp(0.0, 1.0)) as u8;
    let g = (255.0 * (1.4 * v - 0.1).clamp(0.0, 1.0).powf(1.2)) as u8;
    let b = (255.0 * (0.6 - 0.8 * (v - 0.35).abs()).clamp(0.1, 1.0)) as u8;
    [r, g, b]
}

pub fn write_plot(path: &Path, mels: &[MelOutput]) -> Result<()> {
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
    let (w, h) = (columns.len() * CELL_W, bands * CELL_H);
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
    for &b in &boundaries {
        let x = (b * CELL_W).min(w - 1);
        for y in 0..h {
            let p = (y * w + x) * 3;
            pixels[p..p + 3].copy_from_slice(&[255, 255, 255]);
        }
    }
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, w as u32, h as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(&pixels)?;
    }
    mellow_engine::audio::wav::write_atomic(path, &bytes)
        .with_context(|| format!("cannot write the plot {}", path.display()))
}
