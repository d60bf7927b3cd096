//! The in-process CLAP host the plugin tests share: host callbacks (with the GUI extension the
//! editor needs), the plugin's own entry, and new instances.
#![allow(dead_code)]

use clack_extensions::gui::{GuiSize, HostGui, HostGuiImpl};
use std::time::{Duration, Instant};

use clack_host::events::event_types::{NoteOffEvent, NoteOnEvent};
use clack_host::events::Match;
use clack_host::prelude::*;

pub struct TestHostShared;

impl SharedHandler<'_> for TestHostShared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

/// The host's side of the GUI extension, which the plugin needs to embed its editor.
impl HostGuiImpl for TestHostShared {
    fn resize_hints_changed(&self) {}
    fn request_resize(&self, _new_size: GuiSize) -> Result<(), HostError> {
        Ok(())
    }
    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn closed(&self, _was_destroyed: bool) {}
}

pub struct TestHost;

impl HostHandlers for TestHost {
    type Shared<'a> = TestHostShared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder.register::<HostGui>();
    }
}

/// The plugin's CLAP entry, linked into the test (so its allocations are the test's own).
pub fn entry() -> PluginEntry {
    // SAFETY: the entry is this crate's own `clap_entry`, a static CLAP entry descriptor with the
    // layout clack expects (both follow the CLAP ABI).
    unsafe {
        let raw =
            &*(&mellow_plugin::clap_entry as *const _ as *const clack_host::entry::EntryDescriptor);
        PluginEntry::load_from_raw(raw, c"mellow-plugin (in process)").expect("the entry loads")
    }
}

pub fn instance(entry: &PluginEntry) -> PluginInstance<TestHost> {
    let info = HostInfo::new(
        "Mellow test host",
        "Mellow",
        "https://example.invalid",
        "1.0",
    )
    .unwrap();
    PluginInstance::<TestHost>::new(
        |_| TestHostShared,
        |_| (),
        entry,
        c"org.mellow.speech-instrument",
        &info,
    )
    .expect("the plugin instantiates")
}

/// A host's audio setup at `sample_rate` with blocks of 1 to `max_frames` samples.
pub fn audio_config(sample_rate: f64, max_frames: u32) -> PluginAudioConfiguration {
    PluginAudioConfiguration {
        sample_rate,
        min_frames_count: 1,
        max_frames_count: max_frames,
    }
}

/// An input port type for a plugin without inputs.
type NoInput<'a> = AudioPortBuffer<[InputChannel<'a, f32>; 0], [InputChannel<'a, f64>; 0]>;

/// A host-side audio setup: stereo output buffers for up to `max` frames.
pub struct Audio {
    pub out: [Vec<f32>; 2],
    inputs: AudioPorts,
    outputs: AudioPorts,
    pub events: EventBuffer,
    out_events: EventBuffer,
}

impl Audio {
    pub fn new(max: usize) -> Self {
        Self {
            out: [vec![0.0; max], vec![0.0; max]],
            inputs: AudioPorts::with_capacity(0, 0),
            outputs: AudioPorts::with_capacity(2, 1),
            events: EventBuffer::new(),
            out_events: EventBuffer::new(),
        }
    }

    /// One block of `frames` with the events in `self.events`; returns the status and whether the
    /// output was finite.
    pub fn process(
        &mut self,
        processor: &mut StartedPluginAudioProcessor<TestHost>,
        frames: usize,
    ) -> ProcessStatus {
        let no_inputs: [NoInput; 0] = [];
        let input_audio = self.inputs.with_input_buffers(no_inputs);
        let mut output_audio = self.outputs.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                self.out.iter_mut().map(|b| &mut b[..frames]),
            ),
        }]);
        let input_events = InputEvents::from_buffer(&self.events);
        let mut output_events = OutputEvents::from_buffer(&mut self.out_events);
        let status = processor
            .process(
                &input_audio,
                &mut output_audio,
                &input_events,
                &mut output_events,
                None,
                None,
            )
            .expect("process succeeds");
        self.events.clear();
        self.out_events.clear();
        status
    }

    pub fn block(&self, frames: usize) -> impl Iterator<Item = f32> + '_ {
        self.out
            .iter()
            .flat_map(move |c| c[..frames].iter().copied())
    }
}

pub fn note_on(key: u16, time: u32) -> NoteOnEvent {
    NoteOnEvent::new(time, Pckn::new(0u16, 0u16, key, Match::All), 0.8)
}

pub fn note_off(key: impl Into<Match<u16>>, time: u32) -> NoteOffEvent {
    NoteOffEvent::new(time, Pckn::new(0u16, 0u16, key, Match::All), 0.0)
}

/// Waits (playing `key` until it sounds, then letting it end) until the phrases are rendered,
/// then plays `key` from the start of a block: the same audio however long the render took.
pub fn play_until_sound(
    audio: &mut Audio,
    processor: &mut StartedPluginAudioProcessor<TestHost>,
    key: u16,
    frames: usize,
) -> Vec<f32> {
    first_sound(audio, processor, key, frames);
    audio.events.push(&note_off(Match::All, 0));
    for _ in 0..400 {
        if audio.process(processor, frames) != ProcessStatus::Continue
            && audio.block(frames).all(|s| s == 0.0)
        {
            break;
        }
    }
    play_note(audio, processor, key, frames, 8)
}

/// `blocks` blocks of `frames` back to back (as a bounce runs them), with a note-on of `key` at
/// sample 0 of the first; the left and right channels of each block, one block after another.
pub fn play_note(
    audio: &mut Audio,
    processor: &mut StartedPluginAudioProcessor<TestHost>,
    key: u16,
    frames: usize,
    blocks: usize,
) -> Vec<f32> {
    audio.events.push(&note_on(key, 0));
    let mut heard = Vec::new();
    for _ in 0..blocks {
        audio.process(processor, frames);
        heard.extend(audio.block(frames));
    }
    heard
}

/// Processes blocks with `key` held until the phrases are rendered and it sounds, or gives up.
pub fn first_sound(
    audio: &mut Audio,
    processor: &mut StartedPluginAudioProcessor<TestHost>,
    key: u16,
    frames: usize,
) -> Vec<f32> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let heard = play_note(audio, processor, key, frames, 8);
        assert!(heard.iter().all(|s| s.is_finite()), "non-finite audio");
        if heard.iter().any(|s| s.abs() > 1e-3) {
            return heard;
        }
        assert!(Instant::now() < deadline, "no note ever sounded");
        std::thread::sleep(Duration::from_millis(50));
    }
}
