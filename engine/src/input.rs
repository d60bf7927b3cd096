//! Reading what a user gives, bounded: text (standard input, a file, line by line), Piper-style
//! JSON lines, conditioning files and mels. Nothing is read past its limit, so no input can exhaust memory.

use std::io::Read;
use std::path::Path;

use candle_core::Tensor;

use crate::audio::npy::parse_matrix;
use crate::conditioning::Conditioning;
use crate::error::{Error, Result};

/// Longest text spoken as one utterance (one WAV file, or one `say`/`--output-raw` text); longer
/// input goes line by line (`--out-dir`, or standard input for `say` and `--output-raw`).
pub const MAX_TEXT_BYTES: usize = 200_000;
/// Longest input read for line-by-line rendering (`--out-dir`, `--json-input`); each line is
/// still at most [`MAX_TEXT_BYTES`].
pub const MAX_BATCH_BYTES: usize = 64 << 20;

/// UTF-8 text from bytes, naming where invalid bytes sit; a leading byte-order mark (files from
/// Windows editors) is dropped.
pub fn utf8(mut bytes: Vec<u8>, source: &str) -> Result<String> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        Error::input(format!(
            "{source} is not valid UTF-8 text (invalid byte at offset {at})"
        ))
    })
}

/// The text of `--input FILE` (or `-` for stdin), at most `limit` bytes: reading stops there,
/// so `/dev/zero` or an endless pipe is refused instead of filling memory.
pub fn read_file_text(path: &Path, limit: usize) -> Result<String> {
    if path == Path::new("-") {
        return read_stdin(limit);
    }
    let file = open(path)?;
    let name = path.display().to_string();
    let bytes = read_bounded(file, limit, &name)?;
    utf8(bytes, &name)
}

/// All of standard input, at most `limit` bytes (see [`read_file_text`]).
pub fn read_stdin(limit: usize) -> Result<String> {
    let bytes = read_bounded(std::io::stdin().lock(), limit, "standard input")?;
    utf8(bytes, "standard input")
}

fn open(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path)
        .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))
}

fn read_bounded(reader: impl Read, limit: usize, source: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::input(format!("cannot read {source}: {e}")))?;
    if bytes.len() > limit {
        return Err(Error::input(format!(
            "{source} holds more than {limit} bytes, the most read at once: {}",
            advice(limit)
        )));
    }
    Ok(bytes)
}

fn advice(limit: usize) -> &'static str {
    if limit <= MAX_TEXT_BYTES {
        "render longer text line by line with --input FILE --out-dir DIR, or pipe it to `mellow say` or `render --output-raw`, which speak standard input a line at a time"
    } else {
        "split the input into several files"
    }
}

/// Refuses text too long for one utterance.
pub fn check_length(text: &str) -> Result<()> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(Error::input(format!(
            "the text is {} bytes, more than {MAX_TEXT_BYTES} for one utterance: {}",
            text.len(),
            advice(MAX_TEXT_BYTES)
        )));
    }
    Ok(())
}

/// Lines of text from a reader, each at most [`MAX_TEXT_BYTES`]: a line that goes on longer
/// (`/dev/zero`, a binary file) is an error, not a growing buffer.
pub struct BoundedLines<R> {
    reader: R,
    source: &'static str,
    number: usize,
}

impl<R: std::io::BufRead> BoundedLines<R> {
    pub fn new(reader: R, source: &'static str) -> Self {
        Self {
            reader,
            source,
            number: 0,
        }
    }
}

impl<R: std::io::BufRead> Iterator for BoundedLines<R> {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Result<String>> {
        self.number += 1;
        let mut line = Vec::new();
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Some(Err(Error::input(format!(
                        "cannot read {}: {e}",
                        self.source
                    ))))
                }
            };
            if buf.is_empty() {
                break;
            }
            let (take, ends) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            // The newline itself does not count towards the limit.
            if line.len() + take > MAX_TEXT_BYTES + usize::from(ends) {
                return Some(Err(Error::input(format!(
                    "line {} of {} is longer than {MAX_TEXT_BYTES} bytes: break it into shorter lines",
                    self.number,
                    self.source
                ))));
            }
            line.extend_from_slice(&buf[..take]);
            self.reader.consume(take);
            if ends {
                break;
            }
        }
        if line.is_empty() {
            return None;
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        Some(utf8(
            line,
            &format!("line {} of {}", self.number, self.source),
        ))
    }
}

/// A conditioning file (see [`Conditioning`]).
pub fn read_conditioning(path: &Path) -> Result<Conditioning> {
    let text = read_file_text(path, MAX_TEXT_BYTES)?;
    Conditioning::from_json(&text).map_err(|e| Error::input(format!("{}: {e}", path.display())))
}

/// Largest `.npy` mel read (over 5 hours of 80-band f32 frames at 86 frames a second).
pub const MAX_MEL_BYTES: usize = 512 << 20;

/// A mel from a `.npy` file, `[n_mels, frames]` or `[1, n_mels, frames]`, as `[1, n_mels, frames]`.
pub fn read_mel(path: &Path) -> Result<Tensor> {
    let bytes = read_bounded(open(path)?, MAX_MEL_BYTES, &path.display().to_string())?;
    let m = parse_matrix(&bytes)
        .map_err(|e| Error::input(format!("cannot read the mel {}: {e}", path.display())))?;
    Ok(Tensor::from_vec(
        m.values,
        (1, m.rows, m.columns),
        &candle_core::Device::Cpu,
    )?)
}

/// One line of Piper's `--json-input`: its text, output file and speaker.
#[derive(Debug, serde::Deserialize)]
pub struct JsonLine {
    pub text: String,
    #[serde(default)]
    pub output_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub speaker_id: Option<usize>,
}

/// Every non-empty line parsed; a bad one is refused naming its line and field.
pub fn parse_json_lines(text: &str) -> Result<Vec<JsonLine>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let mut de = serde_json::Deserializer::from_str(l);
            serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let field = e.path().to_string();
                let what = if field == "." { String::new() } else { format!(" field `{field}`:") };
                Error::input(format!(
                    "JSON input line {}:{what} {} (expected {{\"text\": ..., \"output_file\": ..., \"speaker_id\": ...}})",
                    i + 1,
                    e.into_inner()
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_up_to_the_limit_and_no_further() {
        let text = b"one\r\ntwo\n\nthree".to_vec();
        let lines: Vec<String> = BoundedLines::new(&text[..], "input")
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(lines, ["one", "two", "", "three"]);

        let mut long = vec![b'a'; MAX_TEXT_BYTES];
        long.push(b'\n');
        long.extend_from_slice(b"next");
        let lines: Vec<String> = BoundedLines::new(&long[..], "input")
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(lines.len(), 2);

        // An endless line stops at the limit with an error naming it.
        let zeros = std::io::BufReader::new(std::io::repeat(0).take(10 * MAX_TEXT_BYTES as u64));
        let err = BoundedLines::new(zeros, "standard input")
            .next()
            .unwrap()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("line 1 of standard input is longer than 200000"),
            "{err}"
        );
    }

    #[test]
    fn reading_stops_at_the_limit() {
        let err = read_bounded(std::io::repeat(b'a'), 1000, "standard input").unwrap_err();
        assert!(err.to_string().contains("more than 1000 bytes"), "{err}");
        assert_eq!(read_bounded(&b"abc"[..], 3, "x").unwrap(), b"abc");
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        assert_eq!(utf8(b"\xEF\xBB\xBFHello".to_vec(), "x").unwrap(), "Hello");
    }

    #[test]
    fn a_bad_field_is_named_with_its_line() {
        let lines = parse_json_lines("{\"text\": \"Hi.\", \"speaker_id\": 2}\n\n").unwrap();
        assert_eq!((lines.len(), lines[0].speaker_id), (1, Some(2)));
        let err = parse_json_lines("{\"text\": \"a\"}\n{\"text\": 5}").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("JSON input line 2: field `text`"),
            "{err}"
        );
    }
}
