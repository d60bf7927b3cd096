//! Which phrase a note speaks, and at what pitch.
//!
//! The phrases are the non-empty lines of the plugin's text. Two modes:
//! - pitch follow off: MIDI note 60 (C4 in scientific pitch, as the editor shows it; C3 in some DAWs)
//!   speaks line 1, note 61 line 2, and so on; notes below 60 or past the last line are silent;
//! - pitch follow on: every note speaks the next line in turn (back to line 1 after the last), at
//!   the pitch of the played note relative to the root note, within an octave each way.

/// The first line's note when pitch follow is off.
pub const FIRST_LINE_NOTE: u8 = 60;
/// Pitch follow covers this many semitones each way from the root.
pub const PITCH_RANGE: i32 = 12;

/// The phrases of a text: its non-empty lines, trimmed.
pub fn phrase_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// How notes pick phrases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteMapping {
    /// Each key is a line, from [`FIRST_LINE_NOTE`] up.
    KeyPerLine,
    /// Each note speaks the next line, pitched by its distance from `root`.
    PitchFollow { root: u8 },
    /// The text is a lyric: each note sings its next syllable at the note's pitch, live (see
    /// `singer.rs`); no phrase is rendered, only the mels of the next note's takes.
    Sing {
        /// Semitones of a full pitch bend.
        bend_range: u8,
        /// Glide into a legato note, in milliseconds.
        portamento_ms: u16,
    },
}

/// What one note-on plays: a line and a pitch offset in semitones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteTarget {
    pub line: usize,
    pub semitones: i32,
}

/// Chooses the phrase for each note; keeps the "next line" position of pitch-follow mode.
#[derive(Debug, Default)]
pub struct PhraseSelector {
    next_line: usize,
}

impl PhraseSelector {
    /// The target of a note-on of `key`, with `lines` phrases available.
    pub fn select(&mut self, key: u8, mapping: NoteMapping, lines: usize) -> Option<NoteTarget> {
        if lines == 0 {
            return None;
        }
        match mapping {
            NoteMapping::Sing { .. } => None,
            NoteMapping::KeyPerLine => {
                let line = key.checked_sub(FIRST_LINE_NOTE)? as usize;
                (line < lines).then_some(NoteTarget { line, semitones: 0 })
            }
            NoteMapping::PitchFollow { root } => {
                let line = self.next_line % lines;
                self.next_line = (line + 1) % lines;
                let semitones = (key as i32 - root as i32).clamp(-PITCH_RANGE, PITCH_RANGE);
                Some(NoteTarget { line, semitones })
            }
        }
    }

    /// Starts pitch-follow mode over from line 1 (the text changed).
    pub fn restart(&mut self) {
        self.next_line = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_the_non_empty_trimmed_lines() {
        assert_eq!(phrase_lines("  One. \n\n\tTwo.\n   \n"), ["One.", "Two."]);
        assert!(phrase_lines("").is_empty());
    }

    #[test]
    fn keys_from_c3_pick_lines_in_order() {
        let mut s = PhraseSelector::default();
        let m = NoteMapping::KeyPerLine;
        assert_eq!(
            s.select(60, m, 3),
            Some(NoteTarget {
                line: 0,
                semitones: 0
            })
        );
        assert_eq!(
            s.select(62, m, 3),
            Some(NoteTarget {
                line: 2,
                semitones: 0
            })
        );
        assert_eq!(s.select(63, m, 3), None);
        assert_eq!(s.select(59, m, 3), None);
        assert_eq!(s.select(60, m, 0), None);
    }

    #[test]
    fn pitch_follow_cycles_lines_and_follows_the_key() {
        let mut s = PhraseSelector::default();
        let m = NoteMapping::PitchFollow { root: 60 };
        assert_eq!(
            s.select(67, m, 2),
            Some(NoteTarget {
                line: 0,
                semitones: 7
            })
        );
        assert_eq!(
            s.select(55, m, 2),
            Some(NoteTarget {
                line: 1,
                semitones: -5
            })
        );
        assert_eq!(
            s.select(100, m, 2),
            Some(NoteTarget {
                line: 0,
                semitones: 12
            })
        );
        s.restart();
        assert_eq!(s.select(60, m, 2).unwrap().line, 0);
    }
}
