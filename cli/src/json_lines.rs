//! Piper's `--json-input`: one JSON object per line, each naming its text, its output file and
//! its speaker.

use std::path::PathBuf;

use anyhow::Result;
use serde::Deserialize;

/// One line of the input.
#[derive(Debug, Deserialize)]
pub struct JsonLine {
    pub text: String,
    #[serde(default)]
    pub output_file: Option<PathBuf>,
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
                anyhow::anyhow!(
                    "JSON input line {}:{what} {} (expected {{\"text\": ..., \"output_file\": ..., \"speaker_id\": ...}})",
                    i + 1,
                    e.into_inner()
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
