//! The engine's floors import only downwards: each top-level module may name (`crate::…`) only
//! the modules on the floors below it, so the import graph reads top-down and has no cycle.
//! Test code is left out: a test may reach anywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bottom to top; a module may import from any floor below its own, never from its own or above
/// (modules on one floor are independent of each other).
const FLOORS: &[&[&str]] = &[
    &["error"],
    &["nn", "audio", "text", "pool"],
    &["acoustic", "vocoder", "conditioning"],
    &["voice", "input"],
    &["synth"],
    &["stream", "sing"],
];

fn floor_of(module: &str) -> usize {
    FLOORS
        .iter()
        .position(|floor| floor.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` has no floor: add it to FLOORS"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::name` a source names outside its `#[cfg(test)]` part.
fn crate_imports(source: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn every_module_imports_only_from_the_floors_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" {
            continue;
        }
        let own = floor_of(&module);
        for imported in crate_imports(&std::fs::read_to_string(file).unwrap()) {
            if imported != module && floor_of(&imported) >= own {
                upward
                    .entry(relative.display().to_string())
                    .or_default()
                    .push(imported);
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from the same floor or above: {upward:?}"
    );
}

#[test]
fn an_upward_import_is_seen() {
    let source =
        "use crate::synth::Synthesizer;\n#[cfg(test)]\nmod tests { use crate::stream::X; }";
    assert_eq!(crate_imports(source), ["synth"]);
    assert!(floor_of("synth") > floor_of("audio"));
}
