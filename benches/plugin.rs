//! CPU time of the plugin's audio-thread work per 512-sample block: the phrase player mixing
//! voices (what `process()` does besides reading events and copying to the host's channels).
//!
//!     cargo bench -p mellow-plugin --bench plugin

use criterion::{criterion_group, criterion_main, Criterion};
use mellow_plugin::phrases::NoteMapping;
use mellow_plugin::player::{PhraseBank, Player};

fn player(voices: usize) -> Player {
    let (mut to_audio, incoming) = rtrb::RingBuffer::new(2);
    let (retired, _freed) = rtrb::RingBuffer::new(2);
    let mut player = Player::new(incoming, retired);
    player.set_sample_rate(48_000.0);
    // Three lines of 3 s each at 48 kHz.
    let line = |f: f32| {
        (0..144_000)
            .map(|i| (i as f32 * f).sin() * 0.3)
            .collect::<Vec<f32>>()
    };
    to_audio
        .push(Box::new(PhraseBank {
            sample_rate: 48_000,
            mapping: NoteMapping::KeyPerLine,
            lines: vec![
                vec![(0, line(0.01))],
                vec![(0, line(0.013))],
                vec![(0, line(0.017))],
            ],
        }))
        .unwrap();
    player.take_new_bank();
    for v in 0..voices {
        player.note_on(60 + (v % 3) as u8, 0.8);
    }
    player
}

fn process_block(c: &mut Criterion) {
    let mut group = c.benchmark_group("plugin audio thread, 512 samples at 48 kHz");
    for voices in [1usize, 4, 16] {
        let mut p = player(voices);
        let mut mix = vec![0f32; 512];
        let mut channels = [vec![0f32; 512], vec![0f32; 512]];
        group.bench_function(format!("{voices} voice(s)"), |b| {
            b.iter(|| {
                if p.is_silent() {
                    for v in 0..voices {
                        p.note_on(60 + (v % 3) as u8, 0.8);
                    }
                }
                mix.fill(0.0);
                p.render(&mut mix);
                for s in mix.iter_mut() {
                    *s *= 0.9;
                }
                for ch in channels.iter_mut() {
                    ch.copy_from_slice(&mix);
                }
                std::hint::black_box(&channels);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, process_block);
criterion_main!(benches);
