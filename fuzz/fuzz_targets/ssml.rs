//! Any document through the SSML parser and the reader (espeak-ng included), and through the
//! lexicon parser (plain and PLS): they may refuse, never crash or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mellow_engine::text::ssml::parse_ssml;
use mellow_engine::text::{read_markup, Lexicon, PhonemeMap, ReadingRules};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let map = PhonemeMap::matcha();
    let lexicon = Lexicon::parse(text, "fuzz", &map).ok();
    if let Ok(markup) = parse_ssml(text, "en-us") {
        let rules = ReadingRules {
            language: "en-us",
            map: &map,
            lexicon: lexicon.as_ref(),
        };
        let _ = read_markup(&markup, text, &rules);
    }
});
