//! How a long sequence is cut into windows that are computed one after another: each window's core
//! is kept, and `context` positions on both sides give it the neighbourhood it needs. A short first
//! core makes the first output early; the cores then grow, so each window takes little longer
//! than the one before while the output it adds grows, and the context soon costs little.

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPlan {
    /// Length of the first core; each later core is `growth` times the one before, up to `size`.
    pub first: usize,
    pub growth: usize,
    /// Longest core.
    pub size: usize,
    /// Positions computed but not kept on each side of a core.
    pub context: usize,
}

/// One window: the positions it keeps and the positions it computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub core: Range<usize>,
    pub span: Range<usize>,
}

/// What is known of the sequence when the next window is planned.
#[derive(Debug, Clone, Copy)]
pub enum Extent {
    /// The whole length is known.
    Total(usize),
    /// At least this many positions exist; more may follow.
    AtLeast(usize),
}

impl WindowPlan {
    /// The window whose core starts at `start` (the previous core's end), or `None` when the
    /// positions known so far do not decide it yet. The plan depends only on the final length, never
    /// on how much was known when it was made, so every caller cuts a sequence the same way.
    pub fn window(&self, index: usize, start: usize, extent: Extent) -> Option<Window> {
        let growth = self.growth.max(1).saturating_pow(index.min(16) as u32);
        let wanted = self
            .first
            .max(1)
            .saturating_mul(growth)
            .min(self.size.max(self.first));
        let end = start + wanted;
        let core_end = match extent {
            // A remainder no longer than the context joins this core, so no window is tiny.
            Extent::Total(total) if total <= end + self.context => total,
            Extent::Total(_) => end,
            // Known positions beyond the core and its context prove the remainder is long.
            Extent::AtLeast(known) if known > end + self.context => end,
            Extent::AtLeast(_) => return None,
        };
        let span_end = match extent {
            Extent::Total(total) => (core_end + self.context).min(total),
            Extent::AtLeast(_) => core_end + self.context,
        };
        Some(Window {
            core: start..core_end,
            span: start.saturating_sub(self.context)..span_end,
        })
    }

    /// Every window of a sequence of known length.
    pub fn windows(&self, total: usize) -> Vec<Window> {
        let mut out = Vec::new();
        let mut start = 0;
        while start < total {
            let w = self
                .window(out.len(), start, Extent::Total(total))
                .expect("a known total decides every window");
            start = w.core.end;
            out.push(w);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: WindowPlan = WindowPlan {
        first: 48,
        growth: 2,
        size: 160,
        context: 16,
    };

    #[test]
    fn cores_tile_the_sequence_and_spans_stay_inside() {
        for total in [1, 47, 48, 64, 65, 200, 1000, 1234] {
            let windows = PLAN.windows(total);
            let mut next = 0;
            for w in &windows {
                assert_eq!(w.core.start, next);
                assert!(w.span.start <= w.core.start && w.span.end >= w.core.end);
                assert!(w.span.end <= total);
                next = w.core.end;
            }
            assert_eq!(next, total);
        }
    }

    #[test]
    fn short_sequences_are_one_window_and_tails_are_absorbed() {
        assert_eq!(PLAN.windows(64).len(), 1);
        let w = PLAN.windows(65);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].core, 0..48);
        assert_eq!(w[0].span, 0..64);
        // Cores double: 48, 96, then 160 at most. 48 + 96 + 16 = 160: a remainder of 16 or less
        // joins the second core.
        assert_eq!(PLAN.windows(160).len(), 2);
        let w = PLAN.windows(1000);
        assert_eq!(w.len(), 8);
        assert_eq!(w[1].core, 48..144);
        assert_eq!(w[2].core, 144..304);
        assert_eq!(w[6].core, 784..944);
        assert_eq!(w[7].core, 944..1000);
    }

    #[test]
    fn partial_knowledge_gives_the_same_windows_or_waits() {
        for total in [65, 224, 225, 500, 777] {
            let full = PLAN.windows(total);
            // Learning the length a little at a time never changes a window.
            let mut known = 1;
            let mut start = 0;
            let mut index = 0;
            while start < total {
                let extent = if known >= total {
                    Extent::Total(total)
                } else {
                    Extent::AtLeast(known)
                };
                match PLAN.window(index, start, extent) {
                    Some(w) => {
                        assert_eq!(w, full[index], "total {total}, known {known}");
                        start = w.core.end;
                        index += 1;
                    }
                    None => known += 7,
                }
            }
            assert_eq!(index, full.len());
        }
    }
}
