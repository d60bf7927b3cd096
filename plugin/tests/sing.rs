//! Sing mode through a CLAP host: the plugin reports its latency, and in an offline bounce each
//! note sings its syllable exactly that latency after its note-on, at the note's pitch (pitch
//! bend included), its vowel held to the note-off; live, sixteen notes a second sing with blocks
//! paced as an audio device paces them. The plugin is linked into this test with nice-plug's
//! `assert_process_allocs`, so any allocation in `process()` fails it.

use std::time::{Duration, Instant};

use clack_extensions::latency::PluginLatency;
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::render::{PluginRender, RenderMode};
use clack_host::events::event_types::{MidiEvent, NoteOnEvent, ParamValueEvent};
use clack_host::events::Match;
use clack_host::prelude::*;
use mellow_engine::audio::f0::track_f0;
use mellow_plugin::singer::SING_LATENCY_SECONDS;

mod common;
use common::{audio_config, entry, instance, note_off, Audio, TestHost};

const RATE: u32 = 48_000;
const BLOCK: usize = 512;

/// The id of the parameter called `name`.
fn param_id(plugin: &mut PluginInstance<TestHost>, name: &str) -> ClapId {
    let handle = plugin.plugin_handle();
    let params: PluginParams = handle.get_extension().expect("the params extension");
    (0..params.count(&handle))
        .find_map(|index| {
            let mut buffer = ParamInfoBuffer::new();
            let info = params.get_info(&handle, index, &mut buffer)?;
            (info.name == name.as_bytes()).then_some(info.id)
        })
        .unwrap_or_else(|| panic!("no parameter {name}"))
}

fn note_on(key: u16, time: u32, velocity: f64) -> NoteOnEvent {
    NoteOnEvent::new(time, Pckn::new(0u16, 0u16, key, Match::All), velocity)
}

/// A pitch bend of `bend` (-1..=1) as a MIDI message.
fn pitch_bend(bend: f64, time: u32) -> MidiEvent {
    let value = ((bend + 1.0) * 8192.0).round().clamp(0.0, 16383.0) as u16;
    MidiEvent::new(time, 0, [0xE0, (value & 0x7F) as u8, (value >> 7) as u8])
}

/// A note: MIDI key, start and end in samples, and the pitch bend before it.
struct Played {
    key: u16,
    on: usize,
    off: usize,
    bend: f64,
}

/// Sing mode switched on, then `notes` played in blocks of [`BLOCK`]; `pace` waits between
/// blocks as an audio device would. The left channel, for `total` samples.
fn sing(
    plugin: &mut PluginInstance<TestHost>,
    notes: &[Played],
    total: usize,
    pace: bool,
) -> Vec<f32> {
    let sing_mode = param_id(plugin, "Sing mode");
    let stopped = plugin
        .activate(|_, _| (), audio_config(RATE as f64, BLOCK as u32))
        .expect("activates");
    let mut processor = stopped.start_processing().expect("starts");
    let mut audio = Audio::new(BLOCK);
    audio
        .events
        .push(&ParamValueEvent::new(0, sing_mode, Pckn::match_all(), 1.0));
    audio.process(&mut processor, BLOCK);
    // The lyric is read as the mode changes (an offline block waits for it; live, give it time).
    for _ in 0..20 {
        audio.process(&mut processor, BLOCK);
        if pace {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let mut heard = Vec::new();
    let started = Instant::now();
    let mut at = 0;
    while at < total {
        for n in notes {
            if (at..at + BLOCK).contains(&n.on) {
                let t = (n.on - at) as u32;
                audio.events.push(&pitch_bend(n.bend, t));
                audio.events.push(&note_on(n.key, t, 0.8));
            }
            if (at..at + BLOCK).contains(&n.off) {
                audio.events.push(&note_off(n.key, (n.off - at) as u32));
            }
        }
        audio.process(&mut processor, BLOCK);
        heard.extend_from_slice(&audio.out[0][..BLOCK]);
        at += BLOCK;
        if pace {
            let due = Duration::from_secs_f64(at as f64 / RATE as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    let stopped = processor.stop_processing();
    plugin.deactivate(stopped);
    heard.truncate(total);
    heard
}

fn semitones(hz: f64) -> f64 {
    69.0 + 12.0 * (hz / 440.0).log2()
}

/// The median F0 over `samples`' voiced frames, in MIDI semitones.
fn sung_key(samples: &[f32]) -> Option<f64> {
    let mut f0: Vec<f32> = track_f0(samples, RATE, 480).into_iter().flatten().collect();
    if f0.len() < 5 {
        return None;
    }
    f0.sort_by(f32::total_cmp);
    Some(semitones(f0[f0.len() / 2] as f64))
}

fn seconds(s: f64) -> usize {
    (s * RATE as f64) as usize
}

/// Sing mode's latency in samples, as the plugin reports it.
fn latency_samples() -> usize {
    (SING_LATENCY_SECONDS as f64 * RATE as f64).round() as usize
}

#[test]
fn a_bounce_sings_each_note_at_its_pitch_one_reported_latency_late() {
    let _alone = LIVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let entry = entry();
    let mut plugin = instance(&entry);
    {
        let handle = plugin.plugin_handle();
        let render: PluginRender = handle.get_extension().expect("the render extension");
        render.set(&handle, RenderMode::Offline).unwrap();
    }
    // The default text is the lyric: "Hel-lo from Mel-low ...".
    let notes = melody();
    let heard = sing(&mut plugin, &notes, seconds(5.4), false);
    let latency = {
        let handle = plugin.plugin_handle();
        let latency: PluginLatency = handle.get_extension().expect("the latency extension");
        latency.get(&handle) as usize
    };
    assert_eq!(latency, latency_samples(), "the reported latency");
    check_notes(&heard, &notes, latency);
}

/// The four notes the bounce and the live test play: detached, over an octave and a half, the
/// last bent a whole step.
fn melody() -> [Played; 4] {
    [
        (48, 0.3, 0.9, 0.0),
        (55, 1.5, 2.3, 0.0),
        (60, 2.9, 3.2, 0.0),
        (52, 3.8, 4.6, 1.0),
    ]
    .map(|(key, on, off, bend)| Played {
        key,
        on: seconds(on),
        off: seconds(off),
        bend,
    })
}

/// Each note sounds `latency` samples after its note-on (within a millisecond, nothing before),
/// at its pitch with the bend, and holds its vowel to its note-off.
fn check_notes(heard: &[f32], notes: &[Played], latency: usize) {
    assert!(heard.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
    for n in notes {
        let on = n.on + latency;
        let off = n.off + latency;
        // Nothing of this note before its time (the one before has ended by then).
        let before = heard[on - seconds(0.05)..on]
            .iter()
            .fold(0f32, |m, s| m.max(s.abs()));
        assert!(
            before < 1e-5,
            "key {}: sound before its time ({before})",
            n.key
        );
        let first = heard[on..]
            .iter()
            .position(|s| s.abs() > 1e-5)
            .expect("the note sounds");
        assert!(
            first <= seconds(0.001),
            "key {}: first sound {first} samples late",
            n.key
        );
        // The vowel at the note's pitch, bend included (full bend: two semitones).
        let expected = n.key as f64 + 2.0 * n.bend;
        let vowel = &heard[on + seconds(0.15)..off];
        let sung = sung_key(vowel).expect("a voiced vowel");
        println!("key {expected}: sung {sung:.2}");
        assert!(
            (sung - expected).abs() <= 0.3,
            "key {expected}: sung {sung:.2}"
        );
        // Held to the note-off: still loud 20 ms before it, quiet 0.3 s after it.
        let level = |r: std::ops::Range<usize>| {
            (heard[r.clone()].iter().map(|s| s * s).sum::<f32>() / r.len() as f32).sqrt()
        };
        let held = level(off - seconds(0.04)..off - seconds(0.02));
        let sung_level = level(on + seconds(0.15)..off - seconds(0.02));
        assert!(
            held > 0.3 * sung_level,
            "key {}: the vowel fell before the note-off",
            n.key
        );
        assert!(level(off + seconds(0.3)..off + seconds(0.35)) < 1e-3);
    }
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name: utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}

/// The live tests measure time, and a bounce beside them would take their CPU: one at a time.
static LIVE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn played_live_each_note_sounds_on_time_at_the_reported_latency() {
    let _alone = LIVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let entry = entry();
    let mut plugin = instance(&entry);
    // A second later than the bounce: the first note's mel is made once the voice has loaded.
    let notes = melody().map(|n| Played {
        on: n.on + seconds(1.0),
        off: n.off + seconds(1.0),
        ..n
    });
    // Between notes the worker makes the next takes' mels: a note-on runs only the vocoder.
    let heard = sing(&mut plugin, &notes, seconds(6.4), true);
    check_notes(&heard, &notes, latency_samples());
}

#[test]
fn sixteen_notes_a_second_sing_live_without_allocating() {
    let _alone = LIVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let entry = entry();
    let mut plugin = instance(&entry);
    // Two seconds of sixteenth notes at 120 bpm, legato and detached by turns.
    let notes: Vec<Played> = (0..32)
        .map(|i| {
            let on = seconds(0.5 + i as f64 / 16.0);
            let length = if i % 2 == 0 { 1.1 } else { 0.6 };
            Played {
                key: [48, 52, 55, 60][i % 4],
                on,
                off: on + seconds(length / 16.0),
                bend: 0.0,
            }
        })
        .collect();
    let cpu = cpu_seconds();
    let wall = Instant::now();
    let heard = sing(&mut plugin, &notes, seconds(3.0), true);
    let load = (cpu_seconds() - cpu) / wall.elapsed().as_secs_f64();
    println!("16 notes a second, live: {:.0} % of a core", load * 100.0);
    assert!(heard.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
    let envelope: Vec<String> = heard
        .chunks(seconds(0.1))
        .map(|c| format!("{:.3}", c.iter().fold(0f32, |m, s| m.max(s.abs()))))
        .collect();
    println!("peak every 0.1 s: {}", envelope.join(" "));
    // The notes of the second second sound.
    let late = &heard[seconds(1.5)..seconds(2.5)];
    assert!(
        late.iter().any(|s| s.abs() > 0.05),
        "the late notes are silent"
    );
}
