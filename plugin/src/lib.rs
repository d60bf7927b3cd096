//! Mellow as a DAW instrument (CLAP and VST3): type phrases and play them from MIDI notes, or
//! type a lyric and sing it, a syllable a note.
//!
//! `params.rs` holds the parameters and the saved phrase text, `renderer.rs` is an instance's link
//! to `engine.rs`, the one worker per process that renders every instance's phrases whenever they
//! or a parameter change (and sings the notes of sing mode as they come), `player.rs` plays
//! phrases on the audio thread, `singer.rs` plays sung takes, and `phrases.rs` says which note
//! speaks which phrase. `process()` only reads events, copies samples, applies the gain and a
//! soft limiter; in an offline bounce it may also wait for the phrases or the sung takes (see
//! [`MAX_OFFLINE_WAIT`]), and so may sing mode where a host renders faster than real time
//! without saying so (`pace.rs`).

pub mod editor;
pub mod engine;
pub mod pace;
pub mod params;
pub mod phrases;
pub mod player;
pub mod renderer;
pub mod singer;

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nice_plug::prelude::*;

use engine::SingLink;
use pace::PaceMeter;
use params::MellowParams;
use player::Player;
use renderer::Renderer;
use singer::{SingPlayer, SingStats};

/// The mod wheel's controller number: vibrato in sing mode.
const MOD_WHEEL: u8 = 1;
/// Banks in flight between the renderer and the audio thread.
const BANK_QUEUE: usize = 8;
/// Longest an offline bounce waits in `process()` for the phrases of the current settings; past
/// it the bounce goes on with what is ready (a voice that fails to load never holds a host).
pub const MAX_OFFLINE_WAIT: Duration = Duration::from_secs(120);
/// Longest `activate()` waits for the phrases of the current settings. Hosts activate when a
/// session loads, before an export and after a rate change, and some (Ardour 7 among them) export
/// without telling a VST3 it runs offline: phrases ready at activation are what makes such a
/// bounce right from its first sample. Activation runs on the host's main thread, never the
/// audio thread.
pub const MAX_ACTIVATION_WAIT: Duration = Duration::from_secs(10);

pub struct MellowInstrument {
    params: Arc<MellowParams>,
    /// The host's rate, read by the renderer.
    sample_rate: Arc<AtomicU32>,
    player: Player,
    singer: SingPlayer,
    sing_stats: Arc<SingStats>,
    /// The latency last reported to the host, in samples (sing mode's, or none).
    reported_latency: u32,
    renderer: Renderer,
    /// Mono mix of the voices for one block, sized at activation.
    mix: Vec<f32>,
    /// The host renders offline (a bounce or export): `process()` waits for the phrases.
    offline: bool,
    /// Whether the host runs faster than real time without having said it renders offline.
    pace: PaceMeter,
    editor_state: Arc<nice_plug_egui::EguiEditorState>,
}

impl Default for MellowInstrument {
    fn default() -> Self {
        let params = Arc::new(MellowParams::default());
        let sample_rate = Arc::new(AtomicU32::new(0));
        let (to_audio, incoming) = rtrb::RingBuffer::new(BANK_QUEUE);
        let (retired, from_audio) = rtrb::RingBuffer::new(BANK_QUEUE);
        let (to_worker, commands) = rtrb::RingBuffer::new(singer::COMMAND_QUEUE);
        let (blocks, from_worker) = rtrb::RingBuffer::new(singer::BLOCK_QUEUE);
        let sing_stats = Arc::new(SingStats::default());
        // Nothing starts here: a host that only scans the plugin costs no thread and no model.
        let renderer = {
            let (params, sample_rate) = (params.clone(), sample_rate.clone());
            Renderer::new(
                move || params.render_settings(sample_rate.load(Ordering::Acquire)),
                to_audio,
                from_audio,
                SingLink { commands, blocks },
            )
        };
        Self {
            params,
            sample_rate,
            player: Player::new(incoming, retired),
            singer: SingPlayer::new(to_worker, from_worker, sing_stats.clone()),
            sing_stats,
            reported_latency: 0,
            renderer,
            mix: Vec::new(),
            offline: false,
            pace: PaceMeter::default(),
            editor_state: editor::default_state(),
        }
    }
}

impl MellowInstrument {
    /// The renderer's progress, for the editor and tests.
    pub fn render_status(&self) -> &Arc<renderer::RenderStatus> {
        self.renderer.status()
    }

    /// What sing mode has played: takes, and takes that came late.
    pub fn sing_stats(&self) -> &Arc<SingStats> {
        &self.sing_stats
    }

    /// The latency the host should hear of, in samples: sing mode's, or none.
    fn wanted_latency(&self) -> u32 {
        match self.params.sing.value() {
            true => self.singer.latency(),
            false => 0,
        }
    }

    /// Offline only: waits until the takes due in the next `samples` have been sung.
    fn wait_for_takes(&mut self, samples: usize) {
        let started = Instant::now();
        loop {
            self.singer.receive();
            if self.singer.ready_for(samples) || started.elapsed() > MAX_OFFLINE_WAIT {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        self.pace.waited(started.elapsed());
    }

    /// Sing mode's block: every event goes to the singer (which plays it a latency later).
    /// `offline`: the host renders faster than real time, so the takes are waited for.
    fn process_sing(
        &mut self,
        samples: usize,
        offline: bool,
        context: &mut impl ProcessContext<Self>,
    ) {
        let controls = self.params.sing_controls();
        while let Some(event) = context.next_event() {
            let at = event.timing();
            match event {
                NoteEvent::NoteOn { key, velocity, .. } => {
                    if let Some(k) = key.number() {
                        self.singer.note_on(at, k, velocity, &controls);
                    }
                }
                NoteEvent::NoteOff { key, .. } => match key.number() {
                    Some(k) => self.singer.note_off(at, k),
                    None => self.singer.stop_all(),
                },
                NoteEvent::Choke { .. } => self.singer.stop_all(),
                NoteEvent::MidiPitchBend { value, .. } => self.singer.bend(at, value * 2.0 - 1.0),
                NoteEvent::MidiCC { cc, value, .. } if cc == MOD_WHEEL => {
                    self.singer.wheel(at, value);
                }
                _ => {}
            }
        }
        if offline {
            self.wait_for_takes(samples);
        } else {
            self.singer.receive();
        }
        let mix = &mut self.mix[..samples];
        mix.fill(0.0);
        self.singer.render(mix, &controls);
    }

    /// Offline only: waits until the phrases of the current settings are rendered and taken, so a
    /// bounce plays every note as a warmed-up live session would, however fast the host runs.
    fn wait_for_phrases(&mut self) {
        let status = self.renderer.status().clone();
        let wanted = self
            .params
            .settings_fingerprint(self.sample_rate.load(Ordering::Acquire));
        let started = Instant::now();
        loop {
            // Read before taking: a bank published before the flags were set is taken below.
            let done = status.up_to_date.load(Ordering::Acquire)
                && status.delivered_fingerprint.load(Ordering::Acquire) == wanted;
            self.player.take_new_bank();
            if done || started.elapsed() > MAX_OFFLINE_WAIT {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Plugin for MellowInstrument {
    const NAME: &'static str = "Mellow";
    const VENDOR: &'static str = "Mellow";
    const URL: &'static str = "https://example.invalid/mellow";
    const EMAIL: &'static str = "mellow@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: None,
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: None,
            main_output_channels: NonZeroU32::new(1),
            ..AudioIOLayout::const_default()
        },
    ];
    // Pitch bend and the mod wheel play sing mode.
    const MIDI_INPUT: MidiConfig = MidiConfig::MidiCCs;
    const SAMPLE_ACCURATE_AUTOMATION: bool = true;

    type Editor = nice_plug_egui::EguiEditor<editor::EditorApp>;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        nice_plug_egui::create_egui_editor(
            self.editor_state.clone(),
            nice_plug_egui::RepaintNotifier::new(),
            nice_plug_egui::EguiNiceSettings {
                title: "Mellow".into(),
                ..Default::default()
            },
            editor::EditorApp::new(self.params.clone(), self.renderer.status().clone()),
        )
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let rate = buffer_config.sample_rate;
        let previous = self.sample_rate.swap(rate.round() as u32, Ordering::AcqRel);
        self.player.set_sample_rate(rate);
        self.singer.set_sample_rate(rate);
        self.reported_latency = self.wanted_latency();
        context.set_latency_samples(self.reported_latency);
        self.mix = vec![0.0; buffer_config.max_buffer_size as usize];
        self.offline = buffer_config.process_mode == ProcessMode::Offline;
        if previous != rate.round() as u32 {
            self.renderer.settings_changed();
        }
        // Rendering starts as early as the host allows: now, with the rate known.
        if let Err(e) = self.renderer.connect() {
            nice_error!("{e}");
            return false;
        }
        self.renderer.wait_until_rendered(MAX_ACTIVATION_WAIT);
        true
    }

    fn reset(&mut self) {
        self.pace.reset();
        self.player.stop_all();
        self.singer.stop_all();
        self.params.gain.smoothed.reset(self.params.gain.value());
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        if self.offline {
            self.wait_for_phrases();
        } else {
            self.player.take_new_bank();
        }
        let samples = buffer.samples().min(self.mix.len());
        let latency = self.wanted_latency();
        if latency != self.reported_latency {
            self.reported_latency = latency;
            context.set_latency_samples(latency);
        }
        let singing = self.params.sing.value();
        if singing {
            // A host that exports without saying so runs free: sing mode waits for its takes
            // then, as in a bounce (phrases were made ready at activation).
            let rate = self.sample_rate.load(Ordering::Acquire).max(1) as f64;
            let free_running = self.pace.block(samples as f64 / rate);
            self.process_sing(samples, self.offline || free_running, context);
            for s in self.mix[..samples].iter_mut() {
                *s *= self.params.gain.smoothed.next();
            }
            mellow_engine::audio::limit::limit(&mut self.mix[..samples]);
        }
        let mut next_event = if singing { None } else { context.next_event() };
        let mut start = if singing { samples } else { 0 };
        while start < samples {
            // Events due now, then the stretch up to the next one: note starts are sample-accurate.
            while let Some(event) = next_event {
                if event.timing() as usize > start {
                    break;
                }
                // A wildcard key (CLAP's -1) names every note: it ends all of them, starts none.
                match event {
                    NoteEvent::NoteOn { key, velocity, .. } => {
                        if let Some(k) = key.number() {
                            self.player.note_on(k, velocity);
                        }
                    }
                    NoteEvent::NoteOff { key, .. } => match key.number() {
                        Some(k) => self.player.note_off(k),
                        None => self.player.release_all(),
                    },
                    NoteEvent::Choke { key, .. } => match key.number() {
                        Some(k) => self.player.choke(k),
                        None => self.player.stop_all(),
                    },
                    _ => {}
                }
                next_event = context.next_event();
            }
            let end =
                next_event.map_or(samples, |e| (e.timing() as usize).clamp(start + 1, samples));
            let mix = &mut self.mix[start..end];
            mix.fill(0.0);
            self.player.render(mix);
            for s in mix.iter_mut() {
                *s *= self.params.gain.smoothed.next();
            }
            // Voices add up: however many sound together, nothing leaves at full scale.
            mellow_engine::audio::limit::limit(mix);
            start = end;
        }
        for channel in buffer.as_slice() {
            let n = channel.len().min(samples);
            channel[..n].copy_from_slice(&self.mix[..n]);
            channel[n..].fill(0.0);
        }
        if self.player.is_silent() && self.singer.is_silent() {
            ProcessStatus::Normal
        } else {
            ProcessStatus::KeepAlive
        }
    }
}

impl ClapPlugin for MellowInstrument {
    const CLAP_ID: &'static str = "org.mellow.speech-instrument";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Diffusion speech synthesis played from MIDI notes");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::Instrument,
        ClapFeature::Synthesizer,
        ClapFeature::Stereo,
        ClapFeature::Mono,
    ];
}

impl Vst3Plugin for MellowInstrument {
    const VST3_CLASS_ID: [u8; 16] = *b"MellowSpeechInst";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Instrument, Vst3SubCategory::Synth];
}

nice_export_clap!(MellowInstrument);
nice_export_vst3!(MellowInstrument);
