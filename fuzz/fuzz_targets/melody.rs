//! Any bytes as a MIDI file, a typed tune and a lyric (its notation only: reading it is the text
//! front end's target): they may refuse, never crash, hang or ask for unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mellow_engine::sing::lyrics::parse_lyrics;
use mellow_engine::sing::tune::{parse_tune, tune_melody};
use mellow_engine::sing::Melody;

fuzz_target!(|data: &[u8]| {
    if let Ok(melody) = Melody::from_midi(data, None) {
        let end = melody.notes.last().map_or(0.0, |n| n.end);
        let _ = (melody.bend_at(end / 2.0), melody.modulation_at(end));
        let _ = melody.transposed(-12);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_lyrics(text);
    if let Ok(steps) = parse_tune(text) {
        let _ = tune_melody(&steps, 64, 120.0, 0.9);
    }
});
