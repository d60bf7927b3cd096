//! The consumer half is real-time safe: over a whole utterance, the thread that plays the audio
//! allocates nothing. A counting allocator counts only on threads that have switched it on, so the
//! synthesis worker's allocations do not hide or fake a result.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mellow_engine::stream::{Pipeline, PipelineConfig};
use mellow_engine::voice::embedded::default_voice;
use mellow_engine::{SynthesisOptions, Synthesizer};

struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: every call goes straight to the system allocator; counting touches no memory it hands out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from `System` with this layout (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as for `dealloc`; the caller's contract for `realloc` is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f` with this thread's allocations counted.
fn counted<R>(f: impl FnOnce() -> R) -> R {
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    r
}

#[test]
fn the_counter_sees_an_allocation() {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    counted(|| std::hint::black_box(vec![1u8; 64]));
    assert!(ALLOCATIONS.load(Ordering::Relaxed) > before);
}

#[test]
fn the_audio_callback_allocates_nothing_over_a_whole_utterance() {
    let voice = default_voice().unwrap().unwrap();
    let synth = Synthesizer::new(&voice, None).unwrap();
    let rate = 48_000;
    let mut config = PipelineConfig::new(rate);
    config.prebuffer_seconds = 0.05;
    let (mut pipeline, mut reader) =
        Pipeline::start(synth, SynthesisOptions::default(), config).unwrap();
    let id = pipeline
        .speak(
            "Every sample of this sentence passes through the audio callback. So does the pause.",
        )
        .unwrap();
    // The callback's buffers exist before the stream starts, as a device's do.
    let channels = 2;
    let mut device_buffer = vec![0i16; 512 * channels];
    let mut scratch = vec![0f32; 1024];
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut loud = 0usize;
    let deadline = Instant::now() + Duration::from_secs(300);
    while reader.state().finished_utterance() < id {
        counted(|| reader.fill_interleaved(&mut device_buffer, channels, &mut scratch));
        loud += device_buffer.iter().filter(|s| s.abs() > 100).count();
        assert!(Instant::now() < deadline, "the utterance did not finish");
        std::thread::sleep(Duration::from_micros(500));
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(allocations, 0, "the audio callback allocated");
    assert!(
        loud > rate as usize / 2,
        "the utterance was played ({loud} loud samples)"
    );
}
