//! SSML attribute values as numbers: break times and strengths, prosody rate, pitch and volume
//! (absolute and relative, as SSML 1.1 writes them), emphasis levels.

use super::super::markup::Prosody;

/// The longest break taken, in seconds (a longer one is cut to it, with a warning).
pub const MAX_BREAK_SECONDS: f32 = 10.0;
/// Rate factors a prosody element may reach (relative to the synthesis options).
pub const RATE_FACTORS: std::ops::RangeInclusive<f32> = 0.25..=4.0;
/// Semitones a prosody element may move the pitch, either way.
pub const MAX_PITCH_SEMITONES: f32 = 12.0;
/// The pitch SSML's hertz values are taken relative to: a typical adult speaking voice. The
/// voice's own pitch is not known to the front end, so "+20Hz" is about +3 semitones whatever
/// the voice; semitones (`+3st`) and percentages are exact.
pub const REFERENCE_PITCH_HZ: f32 = 120.0;
/// The gain of `volume="silent"`, in decibels.
const SILENT_DB: f32 = -120.0;

/// Seconds of a `<break>`: its `time` ("500ms", "2s") or else its `strength` (default medium).
///
/// ```
/// use mellow_engine::text::ssml::values::break_seconds;
/// assert_eq!(break_seconds(Some("500ms"), None), Ok(0.5));
/// assert_eq!(break_seconds(None, Some("strong")), Ok(0.7));
/// assert!(break_seconds(Some("soon"), None).is_err());
/// ```
pub fn break_seconds(time: Option<&str>, strength: Option<&str>) -> Result<f32, String> {
    if let Some(time) = time {
        let time = time.trim();
        let (number, scale) = if let Some(ms) = time.strip_suffix("ms") {
            (ms, 0.001)
        } else if let Some(s) = time.strip_suffix('s') {
            (s, 1.0)
        } else {
            return Err(format!("break time \"{time}\" needs a unit: ms or s"));
        };
        return match number.trim().parse::<f32>() {
            Ok(n) if n.is_finite() && n >= 0.0 => Ok(n * scale),
            _ => Err(format!("break time \"{time}\" is not a duration")),
        };
    }
    Ok(match strength.map(str::trim).unwrap_or("medium") {
        "none" => 0.0,
        "x-weak" => 0.1,
        "weak" => 0.25,
        "medium" => 0.4,
        "strong" => 0.7,
        "x-strong" => 1.2,
        other => return Err(format!("break strength \"{other}\" is not known")),
    })
}

/// A number with an optional sign: `(value, relative)`.
fn signed(text: &str) -> Option<(f32, bool)> {
    let relative = text.starts_with(['+', '-']);
    let value: f32 = text.parse().ok()?;
    value.is_finite().then_some((value, relative))
}

/// The rate factor `rate` gives inside a stretch spoken at `parent`: keywords, "50%" (half the
/// default speed), "+20%" (a fifth faster than around it), or a plain factor "1.5".
///
/// ```
/// use mellow_engine::text::ssml::values::rate;
/// assert_eq!(rate("50%", 1.0), Ok(0.5));
/// assert_eq!(rate("+20%", 1.0), Ok(1.2));
/// assert_eq!(rate("x-slow", 2.0), Ok(0.5));
/// ```
pub fn rate(text: &str, parent: f32) -> Result<f32, String> {
    let text = text.trim();
    let factor = match text {
        "x-slow" => 0.5,
        "slow" => 0.75,
        "medium" | "default" => 1.0,
        "fast" => 1.25,
        "x-fast" => 1.6,
        _ => {
            let (number, percent) = match text.strip_suffix('%') {
                Some(n) => (n, true),
                None => (text, false),
            };
            let Some((value, relative)) = signed(number.trim()) else {
                return Err(format!("prosody rate \"{text}\" is not a rate"));
            };
            let factor = match (percent, relative) {
                (true, true) => parent * (1.0 + value / 100.0),
                (true, false) => value / 100.0,
                (false, true) => parent + value,
                (false, false) => value,
            };
            return check_rate(factor, text);
        }
    };
    check_rate(factor, text)
}

fn check_rate(factor: f32, text: &str) -> Result<f32, String> {
    if factor.is_nan() || factor <= 0.0 {
        return Err(format!("prosody rate \"{text}\" is not a speed"));
    }
    Ok(factor.clamp(*RATE_FACTORS.start(), *RATE_FACTORS.end()))
}

/// The pitch offset in semitones `pitch` gives inside a stretch at `parent` semitones: keywords,
/// "+4st", "-10%", "+20Hz" (relative) or "200Hz" (absolute, against [`REFERENCE_PITCH_HZ`]).
///
/// ```
/// use mellow_engine::text::ssml::values::pitch;
/// assert_eq!(pitch("+4st", 1.0), Ok(5.0));
/// assert_eq!(pitch("x-high", 1.0), Ok(6.0));
/// assert!((pitch("240Hz", 0.0).unwrap() - 12.0).abs() < 1e-4);
/// ```
pub fn pitch(text: &str, parent: f32) -> Result<f32, String> {
    let text = text.trim();
    let semitones = |ratio: f32| 12.0 * ratio.log2();
    let value = match text {
        "x-low" => -6.0,
        "low" => -3.0,
        "medium" | "default" => 0.0,
        "high" => 3.0,
        "x-high" => 6.0,
        _ => {
            let bad = || format!("prosody pitch \"{text}\" is not a pitch");
            let (number, unit) = if let Some(n) = text.strip_suffix("st") {
                (n, "st")
            } else if let Some(n) = text.strip_suffix("Hz") {
                (n, "Hz")
            } else if let Some(n) = text.strip_suffix('%') {
                (n, "%")
            } else {
                return Err(format!(
                    "prosody pitch \"{text}\" needs a unit: st, Hz or %"
                ));
            };
            let (value, relative) = signed(number.trim()).ok_or_else(bad)?;
            let shift = match (unit, relative) {
                ("st", true) => parent + value,
                ("st", false) => value,
                ("%", _) if 1.0 + value / 100.0 > 0.0 => parent + semitones(1.0 + value / 100.0),
                ("Hz", true) if REFERENCE_PITCH_HZ + value > 0.0 => {
                    parent + semitones((REFERENCE_PITCH_HZ + value) / REFERENCE_PITCH_HZ)
                }
                ("Hz", false) if value > 0.0 => semitones(value / REFERENCE_PITCH_HZ),
                _ => return Err(bad()),
            };
            return Ok(shift.clamp(-MAX_PITCH_SEMITONES, MAX_PITCH_SEMITONES));
        }
    };
    Ok(value)
}

/// The gain in decibels `volume` gives inside a stretch at `parent` dB: keywords, "+6dB",
/// "-3dB", or SSML 1.0's 0–100 (100 the default loudness, 0 silent).
///
/// ```
/// use mellow_engine::text::ssml::values::volume;
/// assert_eq!(volume("+6dB", 1.0), Ok(7.0));
/// assert_eq!(volume("loud", 0.0), Ok(6.0));
/// assert!((volume("50", 0.0).unwrap() + 6.0206).abs() < 1e-3);
/// ```
pub fn volume(text: &str, parent: f32) -> Result<f32, String> {
    let text = text.trim();
    Ok(match text {
        "silent" => SILENT_DB,
        "x-soft" => -12.0,
        "soft" => -6.0,
        "medium" | "default" => 0.0,
        "loud" => 6.0,
        "x-loud" => 10.0,
        _ => {
            let bad = || format!("prosody volume \"{text}\" is not a volume");
            if let Some(db) = text.strip_suffix("dB") {
                let (value, relative) = signed(db.trim()).ok_or_else(bad)?;
                let gain = if relative { parent + value } else { value };
                return Ok(gain.clamp(SILENT_DB, 20.0));
            }
            let (value, relative) = signed(text).ok_or_else(bad)?;
            if relative || !(0.0..=100.0).contains(&value) {
                return Err(bad());
            }
            match value {
                0.0 => SILENT_DB,
                v => 20.0 * (v / 100.0).log10(),
            }
        }
    })
}

/// Prosody inside `<emphasis level=…>` (default moderate): a little slower, higher and louder.
///
/// ```
/// use mellow_engine::text::{ssml::values::emphasis, Prosody};
/// let strong = emphasis(Some("strong"), Prosody::default()).unwrap();
/// assert!(strong.rate < 1.0 && strong.pitch > 0.0 && strong.volume_db > 0.0);
/// ```
pub fn emphasis(level: Option<&str>, parent: Prosody) -> Result<Prosody, String> {
    let (rate, pitch, volume_db) = match level.map(str::trim).unwrap_or("moderate") {
        "strong" => (0.85, 2.0, 3.0),
        "moderate" => (0.92, 1.0, 2.0),
        "reduced" => (1.1, -1.0, -3.0),
        "none" => (1.0, 0.0, 0.0),
        other => return Err(format!("emphasis level \"{other}\" is not known")),
    };
    Ok(Prosody {
        rate: parent.rate * rate,
        pitch: (parent.pitch + pitch).clamp(-MAX_PITCH_SEMITONES, MAX_PITCH_SEMITONES),
        volume_db: parent.volume_db + volume_db,
    })
}
