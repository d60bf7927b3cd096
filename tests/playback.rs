//! `mellow say` on real audio servers that the tests start themselves: an ALSA `file` PCM (no
//! daemon, unpaced) for the fast checks, and PulseAudio null sinks (paced at real time, recorded
//! from their monitors) for the end-to-end checks: a minute of speech with no gaps and no
//! underruns, Ctrl-C, a server that dies mid-stream, and lines typed while earlier ones play.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_fails_with, assert_ok, mellow, run};

/// The paced tests measure timing and record in real time, so every test here runs one at a
/// time: another test's synthesis, or the checker's searches, would starve their sound server or
/// recorder.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// Signals

fn read_f32le(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// `mellow render TEXT --sample-rate RATE` as floats.
fn reference(text: &str, rate: u32) -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("ref.wav");
    assert_ok(&run(
        &[
            "render",
            text,
            "--sample-rate",
            &rate.to_string(),
            "-o",
            wav.to_str().unwrap(),
        ],
        None,
    ));
    let mut r = hound::WavReader::open(&wav).unwrap();
    r.samples::<i16>()
        .map(|s| s.unwrap() as f32 / i16::MAX as f32)
        .collect()
}

fn first_sound(x: &[f32]) -> Option<usize> {
    x.iter().position(|s| s.abs() > 0.01)
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for i in 0..n {
        let (x, y) = (a[i] as f64, b[i] as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt().max(1e-12)
}

/// Where `expected` starts in `recorded`: its first sound lined up, then the best lag nearby.
fn align(recorded: &[f32], expected: &[f32]) -> usize {
    let rec_start = first_sound(recorded).expect("the recording has sound");
    let ref_start = first_sound(expected).expect("the reference has sound");
    let guess = rec_start.saturating_sub(ref_start);
    let window = &expected[ref_start..(ref_start + 4800).min(expected.len())];
    (guess.saturating_sub(200)..guess + 200)
        .filter(|&lag| lag + ref_start + window.len() <= recorded.len())
        .max_by(|&a, &b| {
            let ca = correlation(&recorded[a + ref_start..], window);
            let cb = correlation(&recorded[b + ref_start..], window);
            ca.total_cmp(&cb)
        })
        .unwrap_or(guess)
}

/// Longest run of near-silence (under -60 dBFS), in samples. A dropout is digital silence; the
/// threshold stays well above the voice's noise floor in pauses (about -80 dBFS), where a
/// 16-bit reference and a float recording of the same samples would cut runs differently.
fn longest_silence(x: &[f32]) -> usize {
    let (mut best, mut run) = (0, 0);
    for s in x {
        if s.abs() < 1e-3 {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// The lag within `reach` of `around` at which `piece` (from `at` in the render) best matches the
/// recording; `None` when the piece is silent or falls outside it.
fn best_lag(
    recorded: &[f32],
    piece: &[f32],
    at: usize,
    around: isize,
    reach: isize,
) -> Option<isize> {
    if piece.iter().all(|s| s.abs() < 1e-3) {
        return None;
    }
    (around - reach..=around + reach)
        .filter(|&lag| {
            let from = at as isize + lag;
            from >= 0 && from as usize + piece.len() <= recorded.len()
        })
        .map(|lag| {
            (
                lag,
                correlation(&recorded[(at as isize + lag) as usize..], piece),
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(lag, _)| lag)
}

/// The correlation of `want` (from `at` in the render) with a recording that holds its head at
/// lag `head` and, from the best split on, its tail at the earlier lag `tail`: what a capture
/// records when it lost a stretch inside `want` (the lost samples are left out of the sum), the
/// rest played unchanged.
fn spliced_correlation(recorded: &[f32], want: &[f32], at: usize, head: isize, tail: isize) -> f64 {
    let take = |lag: isize, i: usize| {
        let j = at as isize + lag + i as isize;
        if j >= 0 && (j as usize) < recorded.len() {
            recorded[j as usize] as f64
        } else {
            0.0
        }
    };
    let n = want.len();
    let lost = (head - tail).max(0) as usize;
    if lost >= n {
        return f64::MIN;
    }
    // Running sums over the head from the start and over the tail from the end: every split in
    // one pass.
    let mut from_end = vec![(0f64, 0f64, 0f64); n + 1];
    for i in (0..n).rev() {
        let (r, w) = (take(tail, i), want[i] as f64);
        let (ab, aa, bb) = from_end[i + 1];
        from_end[i] = (ab + r * w, aa + r * r, bb + w * w);
    }
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    let mut best = f64::MIN;
    for split in 0..=n - lost {
        let (tail_ab, tail_aa, tail_bb) = from_end[split + lost];
        let (xy, xx, yy) = (ab + tail_ab, aa + tail_aa, bb + tail_bb);
        best = best.max(xy / (xx * yy).sqrt().max(1e-12));
        if split < n {
            let (r, w) = (take(head, split), want[split] as f64);
            ab += r * w;
            aa += r * r;
            bb += w * w;
        }
    }
    best
}

/// Checks that `recorded` holds `expected` whole, continuous and unchanged. Each second is
/// compared on its own, lined up within 50 ms of where the one before ended: a capture that
/// drops a block under load (the recorder, not the player) moves what follows earlier, and must
/// not hide whether every second played as rendered, and a second the loss falls inside is
/// compared as the two pieces the capture kept. Anything that moves later is a gap.
fn assert_played(recorded: &[f32], expected: &[f32], rate: u32) {
    let start = align(recorded, expected);
    assert!(
        start + expected.len() <= recorded.len() + rate as usize / 20,
        "the recording stops before the speech ends ({} of {} samples)",
        recorded.len().saturating_sub(start),
        expected.len()
    );
    let block = rate as usize;
    let reach = rate as isize / 20;
    let mut offset = start as isize;
    let (mut worst, mut worst_at) = (1f64, 0);
    let mut longest_gap = 0;
    let mut later = 0;
    for (k, want) in expected.chunks(block).enumerate() {
        let at = k * block;
        if want.iter().all(|s| s.abs() < 1e-3) {
            continue;
        }
        let fits = |lag: isize| {
            let from = at as isize + lag;
            from >= 0 && from as usize + want.len() <= recorded.len()
        };
        let score = |lag: isize| correlation(&recorded[(at as isize + lag) as usize..], want);
        let mut best = best_lag(recorded, want, at, offset, reach)
            .unwrap_or_else(|| panic!("second {k} was not recorded"));
        let mut c = score(best);
        let mut after = best;
        if c < 0.99 {
            // The capture may have lost a stretch inside this second: the part before it still
            // lines up where the last second ended, the part after it where the audio resumes.
            let quarter = want.len() / 4;
            let resumes = [
                (at + want.len() - quarter, &want[want.len() - quarter..]),
                (
                    at + want.len(),
                    &expected[at + want.len()..(at + want.len() + quarter).min(expected.len())],
                ),
            ];
            for (piece_at, piece) in resumes {
                let Some(lag) = best_lag(recorded, piece, piece_at, offset, reach) else {
                    continue;
                };
                let spliced = spliced_correlation(recorded, want, at, offset, lag);
                // Only a loss: audio that resumes later would be a gap, and a later lag can also
                // be the pitch period's ambiguity in a short piece.
                if lag < offset && fits(lag) && fits(offset) && spliced > c {
                    (c, best, after) = (spliced, offset, lag);
                }
            }
        }
        if c < worst {
            (worst, worst_at) = (c, k);
        }
        later += (after - offset).max(0);
        offset = after;
        let from = (at as isize + best) as usize;
        longest_gap = longest_gap.max(longest_silence(&recorded[from..from + want.len()]));
    }
    println!(
        "worst second {worst_at}: cross-correlation {worst:.5}; capture offset moved {} samples \
         over {:.1} s; longest silence {} ms played, {} ms rendered",
        offset - start as isize,
        expected.len() as f64 / rate as f64,
        longest_gap * 1000 / rate as usize,
        longest_silence(expected) * 1000 / rate as usize
    );
    assert!(
        worst >= 0.99,
        "second {worst_at}: cross-correlation {worst}"
    );
    // A gap would be a silence longer than any the render has, or speech that comes later.
    assert!(
        longest_gap <= longest_silence(expected) + rate as usize / 100,
        "a gap in the playback"
    );
    assert!(
        later <= rate as isize / 100,
        "the speech came {later} samples later than rendered: a gap in the playback"
    );
}

/// Ten seconds of a voice-like test signal: a gliding tone that pauses now and then.
fn test_speech(rate: u32) -> Vec<f32> {
    let mut phase = 0f64;
    (0..10 * rate as usize)
        .map(|i| {
            let t = i as f64 / rate as f64;
            phase += std::f64::consts::TAU * (120.0 + 80.0 * (t * 1.3).sin()) / rate as f64;
            let on = (t * 2.0).fract() < 0.8;
            if on {
                (0.3 * (phase.sin() + 0.5 * (3.0 * phase).sin())) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// What a capture of `pieces` in turn holds: silence before them and a second of it after.
fn captured(pieces: &[&[f32]], rate: u32) -> Vec<f32> {
    let mut recorded = vec![0.0; 4_000];
    for piece in pieces {
        recorded.extend_from_slice(piece);
    }
    recorded.extend(vec![0.0; rate as usize]);
    recorded
}

#[test]
fn the_checker_forgives_a_capture_that_lost_a_stretch_inside_a_second() {
    // The checker's searches keep a core busy: not while a paced test records.
    let _serial = serial();
    let rate = 48_000;
    let expected = test_speech(rate);
    let at = 4 * rate as usize + 10_000;
    // 46 ms lost by the recorder, in the middle of a sounding stretch of second 4.
    let recorded = captured(&[&expected[..at], &expected[at + 2_211..]], rate);
    assert_played(&recorded, &expected, rate);
}

#[test]
#[should_panic(expected = "second 4: cross-correlation")]
fn the_checker_finds_a_gap_inside_a_second() {
    let _serial = serial();
    let rate = 48_000;
    let expected = test_speech(rate);
    let at = 4 * rate as usize + 10_000;
    let recorded = captured(&[&expected[..at], &[0.0; 2_211], &expected[at..]], rate);
    assert_played(&recorded, &expected, rate);
}

#[test]
#[should_panic(expected = "cross-correlation")]
fn the_checker_finds_a_changed_second() {
    let _serial = serial();
    let rate = 48_000;
    let expected = test_speech(rate);
    let mut recorded = captured(&[&expected], rate);
    // A tenth of second 6 played at half level and inverted.
    for s in &mut recorded[4_000 + 6 * rate as usize + 10_000..][..4_800] {
        *s *= -0.5;
    }
    assert_played(&recorded, &expected, rate);
}

/// The count in the `field`th part of the "played X s, N underrun(s), N device xrun(s), N late
/// device call(s) (…)" summary of `say --verbose`.
fn summary_count(stderr: &str, field: usize) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("played "))
        .unwrap_or_else(|| panic!("no summary in: {stderr}"));
    line.split(", ")
        .nth(field)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read part {field} of {line:?}"))
}

fn underruns(stderr: &str) -> u64 {
    summary_count(stderr, 1)
}

/// Calls for samples that came after the device's buffer ran out: gaps the server may not report.
fn late_device_calls(stderr: &str) -> u64 {
    summary_count(stderr, 3)
}

// ---------------------------------------------------------------------------------------------
// ALSA `file` PCM: no daemon, unpaced

/// An ALSA configuration whose default device writes raw f32 samples to `out`.
fn alsa_file_config(dir: &Path, out: &Path) -> PathBuf {
    let conf = dir.join("asound.conf");
    std::fs::write(
        &conf,
        format!(
            "</usr/share/alsa/alsa.conf>\n\
             pcm.!default {{ type plug slave.pcm {{ type file slave.pcm \"null\" file \"{}\" format \"raw\" }} slave.format FLOAT_LE slave.channels 1 }}\n",
            out.display()
        ),
    )
    .unwrap();
    conf
}

#[test]
fn the_alsa_file_device_receives_every_sample_in_order() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("played.raw");
    let conf = alsa_file_config(dir.path(), &raw);
    let text = "Played through ALSA. Every sample arrives in order.";
    // Unpaced, the device would ask faster than speech is made: gathering the whole utterance
    // first (a prebuffer longer than it) makes the file hold it without waits.
    let out = mellow()
        .args([
            "say",
            "--host",
            "alsa",
            "--device-rate",
            "44100",
            "--prebuffer-ms",
            "60000",
            "-v",
            text,
        ])
        .env("ALSA_CONFIG_PATH", &conf)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at 44100 Hz"), "{stderr}");
    assert_played(&read_f32le(&raw), &reference(text, 44_100), 44_100);
}

#[test]
fn device_problems_are_clear_errors() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("asound.conf");
    std::fs::write(
        &conf,
        "</usr/share/alsa/alsa.conf>\npcm.!default { type hw card 9 }\n",
    )
    .unwrap();
    let say = |args: &[&str], conf: &Path| {
        mellow()
            .arg("say")
            .args(args)
            .env("ALSA_CONFIG_PATH", conf)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // No sound card behind the default device.
    assert_fails_with(&say(&["--host", "alsa", "Hello."], &conf), "default");
    let null = dir.path().join("null.conf");
    std::fs::write(
        &null,
        "</usr/share/alsa/alsa.conf>\npcm.!default { type null }\n",
    )
    .unwrap();
    assert_fails_with(
        &say(
            &["--host", "alsa", "--device", "no-such-device", "Hello."],
            &null,
        ),
        "no output device named `no-such-device`",
    );
    assert_fails_with(
        &say(&["--host", "nonesuch", "Hello."], &null),
        "no audio host `nonesuch`",
    );
    assert_fails_with(
        &say(
            &[
                "--host",
                "alsa",
                "--device",
                "null",
                "--device-rate",
                "1000",
                "Hello.",
            ],
            &null,
        ),
        "1000 Hz is outside 8000..384000 Hz",
    );
    // The voice's options are checked before a sound is made.
    assert_fails_with(
        &say(&["--host", "alsa", "--steps", "0", "Hello."], &null),
        "steps",
    );
    let devices = mellow()
        .args(["devices", "--host", "alsa"])
        .env("ALSA_CONFIG_PATH", &null)
        .output()
        .unwrap();
    assert_ok(&devices);
    assert!(String::from_utf8_lossy(&devices.stdout).contains("null"));
}

// ---------------------------------------------------------------------------------------------
// PulseAudio null sinks: paced at real time

/// A PulseAudio server of the test's own, with a null sink at 48 kHz f32 and a recorder on its
/// monitor. Both stop when it is dropped.
struct PulseServer {
    dir: tempfile::TempDir,
    server: Child,
    recorder: Option<Child>,
}

const PULSE_RATE: u32 = 48_000;

impl PulseServer {
    fn start() -> PulseServer {
        let dir = tempfile::tempdir().unwrap();
        let server = Command::new("pulseaudio")
            .args([
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "--use-pid-file=no",
                "-n",
                "--load=module-native-protocol-unix auth-anonymous=1",
                "--load=module-null-sink sink_name=mellow_test format=float32le rate=48000 channels=2",
            ])
            .env("XDG_RUNTIME_DIR", dir.path())
            .env("HOME", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pulseaudio starts (bash .ci/install-deps installs it)");
        let pulse = PulseServer {
            dir,
            server,
            recorder: None,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !pulse
            .client(&mut Command::new("pactl"))
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(
                Instant::now() < deadline,
                "the PulseAudio server did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        pulse
    }

    /// `command` set up to talk to this server.
    fn client<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command
            .env("XDG_RUNTIME_DIR", self.dir.path())
            .env("HOME", self.dir.path())
            .env_remove("PULSE_SERVER")
    }

    fn recording(&self) -> PathBuf {
        self.dir.path().join("recorded.raw")
    }

    /// Records the sink's monitor, mono f32, until the server is dropped.
    fn record(&mut self) {
        let file = std::fs::File::create(self.recording()).unwrap();
        let child = self
            .client(&mut Command::new("parecord"))
            .args([
                "--raw",
                "-d",
                "mellow_test.monitor",
                "--format=float32le",
                "--rate=48000",
                "--channels=1",
                // A generous buffer: the recorder must not drop samples while `say` synthesises.
                "--latency-msec=200",
            ])
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("parecord starts");
        self.recorder = Some(child);
        std::thread::sleep(Duration::from_millis(300));
    }

    fn stop_recording(&mut self) -> Vec<f32> {
        if let Some(mut r) = self.recorder.take() {
            // Longer than the recorder's buffer, so the end of the speech is on disk.
            std::thread::sleep(Duration::from_millis(700));
            let _ = r.kill();
            let _ = r.wait();
        }
        read_f32le(&self.recording())
    }

    /// `mellow say` on this server, synthesising on one core so the other is left to the sound
    /// server and the recorder (two busy cores starve them, and the recording would skip).
    fn say(&self, args: &[&str]) -> Command {
        let mut c = mellow();
        self.client(&mut c)
            .env("RAYON_NUM_THREADS", "1")
            .arg("say")
            .args(args);
        c
    }
}

impl Drop for PulseServer {
    fn drop(&mut self) {
        if let Some(mut r) = self.recorder.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// About a minute of speech, in plain sentences.
const MINUTE_OF_SPEECH: &str = "The river rises in the hills and runs south through farms and \
small towns. In spring the water is cold and fast, and the fishermen wait for it to settle. \
By summer the children swim near the old stone bridge, where the current is slow. \
Every evening the ferry crosses twice, carrying bicycles, baskets of fruit and the post. \
The ferryman has worked the river for thirty years and knows every sandbank by name. \
When the autumn rains come, the fields on the east bank flood for a week or two. \
The farmers move their animals to higher ground and wait, mending fences and telling stories. \
In winter the town is quiet, and smoke rises from every chimney along the main street. \
The library stays open late, and the baker sells warm bread until the last light fades. \
Then the year turns, the ice breaks up, and the river begins its work again. \
Visitors often ask why anyone would stay in such a small place. \
The people here only smile, point at the water, and offer them a cup of tea. \
On the hill above the town there is a small observatory, built a century ago by a retired sea \
captain who wanted to count the stars he had once steered by.";

#[test]
fn a_minute_of_speech_plays_paced_without_gaps_or_underruns() {
    let _serial = serial();
    let mut pulse = PulseServer::start();
    pulse.record();
    let out = pulse
        .say(&["-v", MINUTE_OF_SPEECH])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("{stderr}");
    assert!(stderr.contains("(PulseAudio) at 48000 Hz"), "{stderr}");
    let recorded = pulse.stop_recording();
    let expected = reference(MINUTE_OF_SPEECH, PULSE_RATE);
    assert!(
        expected.len() as u32 > 60 * PULSE_RATE,
        "over a minute of speech"
    );
    assert_played(&recorded, &expected, PULSE_RATE);
    assert_eq!(underruns(&stderr), 0, "{stderr}");
    assert_eq!(late_device_calls(&stderr), 0, "{stderr}");
}

#[test]
fn lines_typed_while_earlier_ones_play_are_spoken_in_turn() {
    let _serial = serial();
    let mut pulse = PulseServer::start();
    pulse.record();
    let mut child = pulse
        .say(&["-v"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"The first line plays at once.\n").unwrap();
    stdin.flush().unwrap();
    // The second line comes while the first still plays.
    std::thread::sleep(Duration::from_millis(800));
    stdin.write_all(b"The second line follows it.\n").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("utterance 2: first audio"), "{stderr}");
    let recorded = pulse.stop_recording();
    let mut expected = reference("The first line plays at once.", PULSE_RATE);
    expected.extend(reference("The second line follows it.", PULSE_RATE));
    assert_played(&recorded, &expected, PULSE_RATE);
}

/// Starts `say -v` with a long text and waits for its first audio; the caller waits for the child.
#[allow(clippy::zombie_processes)]
fn start_speaking(pulse: &PulseServer) -> (Child, BufReader<std::process::ChildStderr>) {
    let mut child = pulse
        .say(&["-v", MINUTE_OF_SPEECH])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "say ended before speaking"
        );
        if line.contains("first audio") {
            return (child, stderr);
        }
    }
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn ctrl_c_stops_at_once() {
    let _serial = serial();
    let pulse = PulseServer::start();
    let (mut child, mut stderr) = start_speaking(&pulse);
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = wait_with_timeout(&mut child, Duration::from_secs(5)).expect("say stops");
    let took = sent.elapsed();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    println!("Ctrl-C to exit: {:.0} ms", took.as_secs_f64() * 1e3);
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("stopped"), "{rest}");
    assert!(!rest.contains("panicked"), "{rest}");
    assert!(took < Duration::from_millis(500), "took {took:?}");
}

#[test]
fn a_sound_server_that_dies_mid_stream_ends_say_with_an_error() {
    let _serial = serial();
    let mut pulse = PulseServer::start();
    let (mut child, mut stderr) = start_speaking(&pulse);
    std::thread::sleep(Duration::from_millis(500));
    let _ = pulse.server.kill();
    let _ = pulse.server.wait();
    let status = wait_with_timeout(&mut child, Duration::from_secs(10))
        .expect("say does not hang when its device goes away");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(!status.success());
    assert!(rest.contains("the audio device stopped"), "{rest}");
    assert!(!rest.contains("panicked"), "{rest}");
}
