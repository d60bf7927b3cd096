//! An in-process CLAP host (clack-host) that checks what a validator would: the descriptor,
//! activation at 44.1, 48 and 96 kHz with fixed and random block sizes, notes (on, off, wildcard)
//! giving finite audio, silence letting the plugin sleep, and state that survives a round trip
//! while empty or garbage state is refused. The plugin is linked into this test, so nice-plug's
//! `assert_process_allocs` (enabled for the tests) fails any allocation in `process()`.

use std::ffi::CStr;

use clack_extensions::state::PluginState;
use clack_host::events::Match;
use clack_host::prelude::*;

mod common;
use common::{audio_config, entry, instance, note_off, note_on, play_until_sound, Audio, TestHost};

#[test]
fn the_descriptor_names_an_instrument() {
    let entry = entry();
    let factory = entry.get_plugin_factory().expect("a plugin factory");
    let descriptors: Vec<_> = factory.plugin_descriptors().collect();
    assert_eq!(descriptors.len(), 1);
    let d = &descriptors[0];
    assert_eq!(d.id().unwrap().to_bytes(), b"org.mellow.speech-instrument");
    assert_eq!(d.name().unwrap().to_bytes(), b"Mellow");
    let features: Vec<&CStr> = d.features().collect();
    assert!(features.contains(&c"instrument"), "{features:?}");
    assert!(features.contains(&c"synthesizer"), "{features:?}");
}

#[test]
fn notes_play_at_every_rate_and_block_size_and_silence_sleeps() {
    let entry = entry();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for rate in [44_100.0, 48_000.0, 96_000.0] {
        let max = 1024;
        let mut plugin = instance(&entry);
        let config = audio_config(rate, max as u32);
        let stopped = plugin.activate(|_, _| (), config).expect("activates");
        let mut processor = stopped.start_processing().expect("starts");
        let mut audio = Audio::new(max);
        // Fixed blocks: the first line, once rendered, sounds.
        let heard = play_until_sound(&mut audio, &mut processor, 60, 512);
        assert!(heard.iter().all(|s| s.abs() <= 1.0));
        // Random blocks from 1 to the maximum, with notes starting, ending and a wildcard off.
        for i in 0..200 {
            let frames = 1 + random(max);
            match i % 50 {
                0 => audio.events.push(&note_on(61, random(frames) as u32)),
                10 => audio.events.push(&note_off(61u16, random(frames) as u32)),
                20 => audio.events.push(&note_on(62, 0)),
                30 => audio
                    .events
                    .push(&note_off(Match::All, random(frames) as u32)),
                _ => {}
            }
            audio.process(&mut processor, frames);
            assert!(audio.block(frames).all(|s| s.is_finite() && s.abs() <= 1.0));
        }
        // Everything released: the output goes quiet and the plugin may sleep.
        audio.events.push(&note_off(Match::All, 0));
        let mut status = audio.process(&mut processor, max);
        for _ in 0..20 {
            status = audio.process(&mut processor, max);
        }
        assert!(audio.block(max).all(|s| s == 0.0));
        assert!(
            matches!(
                status,
                ProcessStatus::Sleep | ProcessStatus::ContinueIfNotQuiet
            ),
            "{status:?}"
        );
        let stopped = processor.stop_processing();
        plugin.deactivate(stopped);
    }
}

fn save(plugin: &mut PluginInstance<TestHost>) -> Vec<u8> {
    let handle = plugin.plugin_handle();
    let state: PluginState = handle.get_extension().expect("the state extension");
    let mut bytes = Vec::new();
    state.save(&handle, &mut bytes).expect("state saves");
    bytes
}

fn load(plugin: &mut PluginInstance<TestHost>, bytes: &[u8]) -> bool {
    let handle = plugin.plugin_handle();
    let state: PluginState = handle.get_extension().expect("the state extension");
    state.load(&handle, &mut &bytes[..]).is_ok()
}

#[test]
fn state_round_trips_and_bad_state_is_refused() {
    let entry = entry();
    let mut first = instance(&entry);
    let saved = save(&mut first);
    assert!(
        String::from_utf8_lossy(&saved).contains("Hello from Mellow."),
        "the phrases are in the state"
    );
    let mut second = instance(&entry);
    assert!(load(&mut second, &saved));
    assert_eq!(
        save(&mut second),
        saved,
        "the same bytes after a round trip"
    );
    assert!(!load(&mut second, b""), "empty state is refused");
    assert!(
        !load(&mut second, b"\x00garbage{{"),
        "garbage state is refused"
    );
    assert_eq!(save(&mut second), saved, "a refused state changes nothing");
}

#[test]
fn every_parameter_round_trips_through_its_text() {
    use clack_extensions::params::{ParamInfoBuffer, ParamInfoFlags, PluginParams};
    let entry = entry();
    let mut plugin = instance(&entry);
    let handle = plugin.plugin_handle();
    let params: PluginParams = handle.get_extension().expect("the params extension");
    let count = params.count(&handle);
    let mut names = Vec::new();
    for index in 0..count {
        let mut buffer = ParamInfoBuffer::new();
        let info = params
            .get_info(&handle, index, &mut buffer)
            .expect("parameter info");
        let (id, min, max) = (info.id, info.min_value, info.max_value);
        let stepped = info.flags.contains(ParamInfoFlags::IS_STEPPED);
        let name = String::from_utf8_lossy(info.name).into_owned();
        let value = params.get_value(&handle, id).expect("a value");
        assert!(
            (min..=max).contains(&value),
            "{name}: {value} outside {min}..{max}"
        );
        for probe in [min, (min + max) / 2.0, max, value] {
            // A stepped parameter only takes whole steps.
            let probe = if stepped { probe.round() } else { probe };
            let mut text = [0u8; 128];
            let shown = params
                .value_to_text(&handle, id, probe, &mut text)
                .expect("a text")
                .to_vec();
            let shown = std::ffi::CString::new(shown).unwrap();
            let back = params
                .text_to_value(&handle, id, &shown)
                .unwrap_or_else(|| panic!("{name}: {shown:?} does not parse back"));
            // The text is rounded for display: it must come back within a display step.
            let tolerance = (max - min) * 0.01 + 0.01;
            assert!(
                (back - probe).abs() <= tolerance,
                "{name}: {probe} -> {shown:?} -> {back}"
            );
        }
        names.push(name);
    }
    for expected in [
        "Steps",
        "Temperature",
        "Rate",
        "Gain",
        "Pitch follow",
        "Root note",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
}

/// Renders note 60 for a second of audio at 48 kHz after the phrases are ready.
fn first_line_audio(plugin: &mut PluginInstance<TestHost>) -> Vec<f32> {
    let config = audio_config(48_000.0, 512);
    let stopped = plugin.activate(|_, _| (), config).expect("activates");
    let mut processor = stopped.start_processing().expect("starts");
    let mut audio = Audio::new(512);
    let mut heard = play_until_sound(&mut audio, &mut processor, 60, 512);
    for _ in 0..90 {
        audio.process(&mut processor, 512);
        heard.extend(audio.block(512));
    }
    let stopped = processor.stop_processing();
    plugin.deactivate(stopped);
    heard
}

#[test]
fn a_loaded_state_gives_identical_bytes_and_identical_audio() {
    let entry = entry();
    let mut first = instance(&entry);
    // The state is a length-prefixed JSON document: an edit of the same length keeps it valid.
    let mut edited = save(&mut first);
    let at = edited
        .windows(18)
        .position(|w| w == b"Hello from Mellow.")
        .expect("the phrase is in the state");
    edited[at..at + 18].copy_from_slice(b"Hello from Yellow.");
    assert!(load(&mut first, &edited));
    let saved = save(&mut first);
    let mut second = instance(&entry);
    assert!(load(&mut second, &saved));
    assert_eq!(save(&mut second), saved);
    let a = first_line_audio(&mut first);
    let b = first_line_audio(&mut second);
    assert!(a.iter().any(|s| s.abs() > 1e-3));
    assert_eq!(a, b, "the same state plays the same audio");
    // And it is the edited phrase, not the default one.
    let mut fresh = instance(&entry);
    assert_ne!(first_line_audio(&mut fresh), a);
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_note_sounds_on_its_own_sample_and_the_memory_is_reported() {
    let entry = entry();
    let before = resident_kib();
    let mut plugin = instance(&entry);
    let config = audio_config(48_000.0, 512);
    let stopped = plugin.activate(|_, _| (), config).expect("activates");
    let mut processor = stopped.start_processing().expect("starts");
    let mut audio = Audio::new(512);
    play_until_sound(&mut audio, &mut processor, 60, 512);
    audio.events.push(&note_off(Match::All, 0));
    for _ in 0..10 {
        audio.process(&mut processor, 512);
    }
    // A note 300 samples into a block: nothing before it, its phrase from that sample on.
    let offset = 300;
    audio.events.push(&note_on(60, offset as u32));
    audio.process(&mut processor, 512);
    let left = &audio.out[0][..512];
    assert!(
        left[..offset].iter().all(|&s| s == 0.0),
        "sound before the note"
    );
    let first = left
        .iter()
        .position(|&s| s != 0.0)
        .expect("the note sounds");
    println!(
        "note-on to first sound: {} samples; resident memory of an active instance: {} MiB",
        first - offset,
        (resident_kib().saturating_sub(before)) / 1024
    );
    assert_eq!(first, offset, "the phrase starts on the note's sample");
    let stopped = processor.stop_processing();
    plugin.deactivate(stopped);
}
