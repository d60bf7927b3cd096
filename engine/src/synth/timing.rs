//! When each word, phoneme and mark is heard, in output samples from the start of the utterance.
//! They come from the durations the model spoke with (and the pauses between), so they are exact
//! for the audio made: a [`SpeechSink`](super::SpeechSink) gets each as soon as its frames are
//! decided, before its audio. [`Timings`] collects them and writes JSON, SRT or WebVTT.

use std::ops::Range;

use serde::Serialize;

/// A word: as written in the input, where it stands there (bytes), and when it is heard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WordTiming {
    pub text: String,
    pub source: Range<usize>,
    /// First and one-past-last sample, at the output rate.
    pub start: u64,
    pub end: u64,
    /// The segment (sentence, or part of one) it is in.
    pub segment: usize,
    /// The written sentence it is in (sentence subtitles have one cue each).
    pub sentence: usize,
}

/// A phoneme (stress and length marks joined to it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhonemeTiming {
    pub symbol: String,
    pub start: u64,
    pub end: u64,
}

/// An SSML `<mark>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarkTiming {
    pub name: String,
    pub at: u64,
}

/// One timing, as the utterance loop reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum TimingEvent {
    Word(WordTiming),
    Phoneme(PhonemeTiming),
    Mark(MarkTiming),
}

impl TimingEvent {
    /// The sample at which it starts.
    pub fn start(&self) -> u64 {
        match self {
            Self::Word(w) => w.start,
            Self::Phoneme(p) => p.start,
            Self::Mark(m) => m.at,
        }
    }
}

/// Which cues a subtitle file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CueLevel {
    /// One cue per written sentence.
    Sentence,
    /// One cue per word.
    Word,
}

/// Every timing of an utterance, at `sample_rate`.
///
/// ```
/// use mellow_engine::synth::timing::{CueLevel, TimingEvent, Timings, WordTiming};
/// let mut timings = Timings::new(1000);
/// timings.add(TimingEvent::Word(WordTiming { text: "Hi".into(), source: 0..2, start: 50, end: 400, segment: 0, sentence: 0 }));
/// assert!(timings.to_srt(CueLevel::Word).contains("00:00:00,050 --> 00:00:00,400\nHi"));
/// assert!(timings.to_json().contains("\"start_seconds\": 0.05"));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timings {
    pub sample_rate: u32,
    pub words: Vec<WordTiming>,
    pub phonemes: Vec<PhonemeTiming>,
    pub marks: Vec<MarkTiming>,
}

/// A timing as written to JSON: samples and seconds.
#[derive(Serialize)]
struct Span<'a, T: Serialize> {
    #[serde(flatten)]
    what: &'a T,
    start_seconds: f64,
    end_seconds: f64,
}

impl Timings {
    pub fn new(sample_rate: u32) -> Self {
        Self {
            sample_rate,
            ..Default::default()
        }
    }

    pub fn add(&mut self, event: TimingEvent) {
        match event {
            TimingEvent::Word(w) => self.words.push(w),
            TimingEvent::Phoneme(p) => self.phonemes.push(p),
            TimingEvent::Mark(m) => self.marks.push(m),
        }
    }

    /// Every timing moved later by `samples` (the utterances of a file one after another).
    pub fn shifted(mut self, samples: u64) -> Self {
        for w in &mut self.words {
            w.start += samples;
            w.end += samples;
        }
        for p in &mut self.phonemes {
            p.start += samples;
            p.end += samples;
        }
        for m in &mut self.marks {
            m.at += samples;
        }
        self
    }

    fn seconds(&self, sample: u64) -> f64 {
        let s = sample as f64 / self.sample_rate.max(1) as f64;
        (s * 1e4).round() / 1e4
    }

    /// `{"sample_rate", "words": [{text, source, start, end, segment, start_seconds,
    /// end_seconds}], "phonemes": [...], "marks": [{name, at, seconds}]}`, pretty-printed.
    pub fn to_json(&self) -> String {
        let span = |start: u64, end: u64| (self.seconds(start), self.seconds(end));
        let words: Vec<_> = self
            .words
            .iter()
            .map(|w| {
                let (start_seconds, end_seconds) = span(w.start, w.end);
                Span {
                    what: w,
                    start_seconds,
                    end_seconds,
                }
            })
            .collect();
        let phonemes: Vec<_> = self
            .phonemes
            .iter()
            .map(|p| {
                let (start_seconds, end_seconds) = span(p.start, p.end);
                Span {
                    what: p,
                    start_seconds,
                    end_seconds,
                }
            })
            .collect();
        let marks: Vec<_> = self
            .marks
            .iter()
            .map(|m| serde_json::json!({"name": m.name, "at": m.at, "seconds": self.seconds(m.at)}))
            .collect();
        let doc = serde_json::json!({
            "sample_rate": self.sample_rate,
            "words": words,
            "phonemes": phonemes,
            "marks": marks,
        });
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// Cues of text with their sample spans.
    fn cues(&self, level: CueLevel) -> Vec<(u64, u64, String)> {
        match level {
            CueLevel::Word => self
                .words
                .iter()
                .map(|w| (w.start, w.end, w.text.clone()))
                .collect(),
            CueLevel::Sentence => {
                let mut cues: Vec<(u64, u64, String, usize)> = Vec::new();
                for w in &self.words {
                    match cues.last_mut() {
                        Some(cue) if cue.3 == w.sentence => {
                            cue.1 = w.end;
                            cue.2.push(' ');
                            cue.2.push_str(&w.text);
                        }
                        _ => cues.push((w.start, w.end, w.text.clone(), w.sentence)),
                    }
                }
                cues.into_iter().map(|(s, e, t, _)| (s, e, t)).collect()
            }
        }
    }

    /// SubRip subtitles.
    pub fn to_srt(&self, level: CueLevel) -> String {
        let mut out = String::new();
        for (n, (start, end, text)) in self.cues(level).into_iter().enumerate() {
            out.push_str(&format!(
                "{}\n{} --> {}\n{}\n\n",
                n + 1,
                self.clock(start, ','),
                self.clock(end, ','),
                one_line(&text)
            ));
        }
        out
    }

    /// WebVTT subtitles.
    pub fn to_vtt(&self, level: CueLevel) -> String {
        let mut out = String::from("WEBVTT\n\n");
        for (start, end, text) in self.cues(level) {
            out.push_str(&format!(
                "{} --> {}\n{}\n\n",
                self.clock(start, '.'),
                self.clock(end, '.'),
                one_line(&text).replace("-->", "->")
            ));
        }
        out
    }

    /// `hh:mm:ss,mmm` (SRT) or `hh:mm:ss.mmm` (WebVTT).
    fn clock(&self, sample: u64, separator: char) -> String {
        let ms = (sample as u128 * 1000 + self.sample_rate.max(1) as u128 / 2)
            / self.sample_rate.max(1) as u128;
        let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        format!("{h:02}:{m:02}:{s:02}{separator}{ms:03}")
    }
}

/// Text on one line (a blank line would end the cue).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start: u64, end: u64, segment: usize) -> TimingEvent {
        TimingEvent::Word(WordTiming {
            text: text.into(),
            source: 0..0,
            start,
            end,
            segment,
            sentence: segment,
        })
    }

    #[test]
    fn sentence_cues_join_their_words() {
        let mut t = Timings::new(22_050);
        for e in [
            word("Hello,", 1_000, 9_000, 0),
            word("world.", 10_000, 20_000, 0),
            word("Bye.", 30_000, 44_100 * 90, 1),
        ] {
            t.add(e);
        }
        let vtt = t.to_vtt(CueLevel::Sentence);
        assert!(
            vtt.starts_with("WEBVTT\n\n00:00:00.045 --> 00:00:00.907\nHello, world.\n\n"),
            "{vtt}"
        );
        assert!(vtt.contains("00:00:01.361 --> 00:03:00.000\nBye."), "{vtt}");
        // Parts of one sentence (cut where its pitch changes) make one cue.
        let mut parts = Timings::new(100);
        for (segment, text) in [(0, "Up"), (1, "and down.")] {
            parts.add(TimingEvent::Word(WordTiming {
                text: text.into(),
                source: 0..0,
                start: segment as u64 * 100,
                end: segment as u64 * 100 + 50,
                segment,
                sentence: 3,
            }));
        }
        assert!(parts
            .to_srt(CueLevel::Sentence)
            .contains("00:00:00,000 --> 00:00:01,500\nUp and down.\n"));
        let srt = t.to_srt(CueLevel::Word);
        assert!(
            srt.starts_with("1\n00:00:00,045 --> 00:00:00,408\nHello,\n\n2\n"),
            "{srt}"
        );
    }

    #[test]
    fn shifting_moves_every_timing() {
        let mut t = Timings::new(100);
        t.add(word("a", 1, 2, 0));
        t.add(TimingEvent::Mark(MarkTiming {
            name: "m".into(),
            at: 3,
        }));
        let t = t.shifted(10);
        assert_eq!((t.words[0].start, t.marks[0].at), (11, 13));
    }
}
