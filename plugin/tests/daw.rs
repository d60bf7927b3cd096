//! What a DAW does to an instrument beyond a validator's checks: offline bounces that must sound
//! from the first block, notes while the phrases re-render, a sample-rate change, many instances,
//! and instances destroyed while they render. In one test function, run in order: resident
//! memory is measured for the whole process, which parallel tests would disturb.

use std::time::{Duration, Instant};

use clack_extensions::render::{PluginRender, RenderMode};
use clack_extensions::state::PluginState;
use clack_host::prelude::*;

mod common;
use clack_host::events::Match;
use common::{
    audio_config, entry, instance, note_off, play_note, play_until_sound, Audio, TestHost,
};

const BLOCK: usize = 512;

fn resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn set_offline(plugin: &mut PluginInstance<TestHost>) {
    let handle = plugin.plugin_handle();
    let render: PluginRender = handle.get_extension().expect("the render extension");
    render
        .set(&handle, RenderMode::Offline)
        .expect("offline rendering is accepted");
}

fn set_text(plugin: &mut PluginInstance<TestHost>, from: &[u8], to: &[u8]) {
    let handle = plugin.plugin_handle();
    let state: PluginState = handle.get_extension().expect("the state extension");
    let mut bytes = Vec::new();
    state.save(&handle, &mut bytes).expect("state saves");
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the phrase is in the state");
    bytes[at..at + from.len()].copy_from_slice(to);
    state.load(&handle, &mut &bytes[..]).expect("state loads");
}

/// `blocks` blocks with a note-on of `key` at sample 0 of the first, as a bounce would run them:
/// back to back, no waiting between blocks.
fn bounce(plugin: &mut PluginInstance<TestHost>, rate: f64, key: u16, blocks: usize) -> Vec<f32> {
    let stopped = plugin
        .activate(|_, _| (), audio_config(rate, BLOCK as u32))
        .expect("activates");
    let mut processor = stopped.start_processing().expect("starts");
    let heard = play_note(&mut Audio::new(BLOCK), &mut processor, key, BLOCK, blocks);
    let stopped = processor.stop_processing();
    plugin.deactivate(stopped);
    heard
}

/// The note as a warmed-up live session plays it.
fn live(plugin: &mut PluginInstance<TestHost>, rate: f64, key: u16) -> Vec<f32> {
    let stopped = plugin
        .activate(|_, _| (), audio_config(rate, BLOCK as u32))
        .expect("activates");
    let mut processor = stopped.start_processing().expect("starts");
    let mut audio = Audio::new(BLOCK);
    let heard = play_until_sound(&mut audio, &mut processor, key, BLOCK);
    let stopped = processor.stop_processing();
    plugin.deactivate(stopped);
    heard
}

#[test]
fn a_daw_session_bounces_switches_rates_and_tears_down_at_once() {
    let entry = entry();
    let before = resident_mib();

    // An offline bounce straight after the session loads: the note at sample 0 of the first block
    // sounds exactly as it does live once warmed up.
    let mut reference = instance(&entry);
    let warm = live(&mut reference, 48_000.0, 60);
    assert!(warm.iter().any(|s| s.abs() > 1e-3));
    let mut cold = instance(&entry);
    set_offline(&mut cold);
    let started = Instant::now();
    let bounced = bounce(&mut cold, 48_000.0, 60, 8);
    println!(
        "offline bounce from a cold instance: first block waited, 8 blocks in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(bounced, warm, "the bounce differs from the live note");

    // A rate change: the bank made at 48 kHz is never played at 96 kHz; offline, the first block
    // already holds the 96 kHz phrase, as a fresh 96 kHz instance plays it live.
    let mut at_96k = instance(&entry);
    let warm_96k = live(&mut at_96k, 96_000.0, 60);
    let rebounced = bounce(&mut cold, 96_000.0, 60, 8);
    assert_eq!(rebounced, warm_96k, "a rate change played the old bank");

    // Notes during a re-render (the text changed while playing) play the phrases there are (the
    // old ones), never silence.
    let stopped = reference
        .activate(|_, _| (), audio_config(48_000.0, BLOCK as u32))
        .expect("activates");
    let mut processor = stopped.start_processing().expect("starts");
    let mut audio = Audio::new(BLOCK);
    play_until_sound(&mut audio, &mut processor, 60, BLOCK);
    audio.events.push(&note_off(Match::All, 0));
    for _ in 0..40 {
        audio.process(&mut processor, BLOCK);
    }
    set_text(&mut reference, b"Hello from Mellow.", b"Hello from Yellow.");
    let during = play_note(&mut audio, &mut processor, 60, BLOCK, 8);
    assert_eq!(
        during, warm,
        "a note during the re-render did not play the phrase there was"
    );
    let stopped = processor.stop_processing();
    reference.deactivate(stopped);

    // An offline bounce right after a text change (made while the instance is active, as an
    // automation or a preset would): process() waits for the new phrases, never plays the old.
    let warm_yellow = live(&mut reference, 48_000.0, 60);
    assert_ne!(warm_yellow, warm);
    let stopped = cold
        .activate(|_, _| (), audio_config(48_000.0, BLOCK as u32))
        .expect("activates");
    let mut processor = stopped.start_processing().expect("starts");
    set_text(&mut cold, b"Hello from Mellow.", b"Hello from Yellow.");
    let changed = play_note(&mut Audio::new(BLOCK), &mut processor, 60, BLOCK, 8);
    assert_eq!(
        changed, warm_yellow,
        "the bounce played the phrase from before the change"
    );
    let stopped = processor.stop_processing();
    cold.deactivate(stopped);

    // Ten active instances share one model.
    let mut many: Vec<_> = (0..10).map(|_| instance(&entry)).collect();
    let mut heard_all = true;
    for plugin in &mut many {
        heard_all &= live(plugin, 48_000.0, 60).iter().any(|s| s.abs() > 1e-3);
    }
    assert!(heard_all);
    let thirteen = resident_mib() - before;
    println!("resident memory of 13 instances that have played: {thirteen:.0} MiB");
    assert!(thirteen <= 150.0, "{thirteen:.0} MiB for 13 instances");

    // Destroyed while rendering (a text change just made, the engine busy with it): back at once.
    let mut slowest = Duration::ZERO;
    for plugin in many.iter_mut().take(5) {
        set_text(plugin, b"Hello from Mellow.", b"Hello from Yellow.");
    }
    std::thread::sleep(Duration::from_millis(50));
    for plugin in many.drain(..5) {
        let started = Instant::now();
        drop(plugin);
        slowest = slowest.max(started.elapsed());
    }
    println!(
        "slowest destroy of an instance while rendering: {:.2} ms",
        slowest.as_secs_f64() * 1e3
    );
    assert!(slowest <= Duration::from_millis(5), "{slowest:?}");
    // The last instances, the engine with them.
    let mut last = many;
    last.extend([reference, at_96k, cold]);
    let mut times = Vec::new();
    for plugin in last {
        let started = Instant::now();
        drop(plugin);
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    println!("destroying the last eight instances (the engine with the last): {times:.2?} ms");
    assert!(times.iter().all(|&ms| ms <= 5.0), "{times:?} ms");
    // The engine frees the models on its own thread once the last instance has gone.
    std::thread::sleep(Duration::from_millis(500));
    let after = resident_mib() - before;
    println!("resident 0.5 s after the last instance: +{after:.0} MiB (with 13 instances: {thirteen:.0})");
    assert!(
        after < thirteen - 30.0,
        "the models stayed resident: +{after:.0} MiB"
    );
}
