//! Time to first audio for a 12 s sentence with the model loaded: text in, first samples out.
//!
//!     cargo bench -p mellow-engine --bench latency
//!
//! Two paths: the synthesizer called directly (criterion), and the streaming pipeline as `say`
//! and `render --output-raw` use it (queue the text, wait for the worker's first samples in the
//! ring), reported as the median of repeated runs.

use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use mellow_engine::stream::{Event, Pipeline, PipelineConfig};
use mellow_engine::voice::embedded::default_voice;
use mellow_engine::{SpeechSink, SynthesisOptions, Synthesizer};

/// One sentence of about 12 s with the built-in voice (12.2 s).
const SENTENCE: &str = "When the last train of the evening finally pulled into the quiet station \
at the edge of the valley, the few remaining passengers gathered their coats and bags and stepped \
out into the cold air, where a single lamp lit the empty platform beyond the town.";

fn synthesizer() -> Synthesizer {
    let voice = default_voice()
        .expect("this build embeds the default voice")
        .expect("the embedded voice loads");
    Synthesizer::new(&voice, None).expect("the voice builds")
}

/// Keeps the length of the first chunk and stops the utterance there.
struct FirstChunk(usize);

impl SpeechSink for FirstChunk {
    fn samples(&mut self, samples: &[f32]) -> mellow_engine::Result<bool> {
        self.0 = samples.len();
        Ok(false)
    }
}

/// Text → sentences → the first chunk of samples; the rest is not made.
fn first_samples(synth: &mut Synthesizer, options: &SynthesisOptions) -> usize {
    let opts = synth.resolve(options).unwrap();
    let utterance = synth.utterance(SENTENCE).unwrap();
    let mut first = FirstChunk(0);
    let rate = synth.sample_rate();
    synth.speak(&utterance, &opts, rate, &mut first).unwrap();
    first.0
}

fn synthesizer_path(c: &mut Criterion) {
    let mut synth = synthesizer();
    let options = SynthesisOptions::default();
    let audio = synth.speak_text(SENTENCE, &options).unwrap();
    println!(
        "sentence: {:.1} s of audio at the default settings",
        audio.duration_seconds()
    );
    let mut group = c.benchmark_group("time to first audio (12 s sentence)");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("synthesizer: text to first samples", |b| {
        b.iter(|| first_samples(&mut synth, &options));
    });
    group.finish();
}

fn pipeline_path(_c: &mut Criterion) {
    let (mut pipeline, mut reader) = Pipeline::start(
        synthesizer(),
        SynthesisOptions::default(),
        PipelineConfig::new(22_050),
    )
    .unwrap();
    let mut latencies = Vec::new();
    let mut buf = vec![0f32; 65_536];
    for run in 0..21 {
        let id = pipeline.speak(SENTENCE).unwrap();
        let latency = loop {
            match pipeline
                .events()
                .recv_timeout(Duration::from_secs(60))
                .unwrap()
            {
                Event::FirstAudio { utterance, latency } if utterance == id => break latency,
                _ => {}
            }
        };
        // Let the utterance finish, playing it out as fast as it comes, before the next run.
        let deadline = Instant::now() + Duration::from_secs(60);
        while reader.state().finished_utterance() < id && Instant::now() < deadline {
            if reader.read_available(&mut buf) == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if run > 0 {
            latencies.push(latency.as_secs_f64() * 1e3);
        }
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "pipeline: text queued to first samples in the ring, 12 s sentence: median {:.1} ms, min {:.1} ms, max {:.1} ms ({} runs)",
        latencies[latencies.len() / 2],
        latencies[0],
        latencies[latencies.len() - 1],
        latencies.len()
    );
}

criterion_group!(benches, synthesizer_path, pipeline_path);

fn main() {
    // As the `mellow` binary does. SAFETY: no other thread exists yet.
    unsafe { mellow_engine::settle_candle_threads() };
    benches();
    Criterion::default().configure_from_args().final_summary();
}
