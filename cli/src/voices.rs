//! `mellow voices`: the built-in voice and the voice files in the voice folder.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use mellow_engine::voice::embedded::default_voice;
use mellow_engine::voice::resolve::{voice_files, voice_folder};
use mellow_engine::Voice;

#[derive(Args)]
pub struct VoicesArgs {
    /// Folder to look in (default: $MELLOW_VOICES, else ~/.local/share/mellow/voices).
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub fn run(args: VoicesArgs) -> Result<()> {
    match default_voice() {
        Some(Ok(v)) => println!("(built-in)\t{}\t{}", v.config.name, v.config.license),
        Some(Err(e)) => println!("(built-in)\tunusable: {e}"),
        None => println!("(built-in)\tnone in this build: pass --voice FILE"),
    }
    let Some(dir) = args.dir.or_else(voice_folder) else {
        return Ok(());
    };
    for path in voice_files(&dir) {
        match Voice::load(&path) {
            Ok(v) => println!(
                "{}\t{}\t{}",
                path.display(),
                v.config.name,
                v.config.license
            ),
            Err(e) => println!("{}\tunusable: {e}", path.display()),
        }
    }
    Ok(())
}
