//! `mellow`: render speech to WAV files or standard output, speak through the sound card, inspect
//! voices, convert checkpoints.

mod convert;
mod devices;
mod info;
mod playback;
mod plot;
mod render;
mod say;
mod serve;
mod sing;
mod stream_out;
mod timings_out;
mod voices;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mellow",
    version,
    about = "Fast diffusion speech synthesis",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render text, phonemes, conditioning or a mel to WAV files (or stream PCM to standard output).
    Render(render::RenderArgs),
    /// Speak text through the sound card as it is synthesised.
    Say(say::SayArgs),
    /// Sing a lyric on a melody (a MIDI file or a typed tune) into a WAV file.
    Sing(sing::SingArgs),
    /// Serve speech over HTTP (OpenAI's /v1/audio/speech) and Wyoming (Home Assistant).
    Serve(serve::ServeArgs),
    /// List the audio hosts and output devices `say` can play on.
    Devices(devices::DevicesArgs),
    /// List the built-in voice and the voice files found in the voice folder.
    Voices(voices::VoicesArgs),
    /// Show what a voice file holds.
    Info(info::InfoArgs),
    /// Convert Matcha-TTS, HiFi-GAN or Vocos checkpoints into Mellow voice files.
    Convert(convert::ConvertArgs),
    /// Print the phonemes and ids the voice would speak for each line of text.
    Phonemize(render::PhonemizeArgs),
}

fn main() -> ExitCode {
    // Output piped into `head` and the like: end quietly when the reader goes away, as Unix tools do.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // SAFETY: no other thread exists yet, so nothing reads the environment concurrently.
    unsafe { mellow_engine::settle_candle_threads() };
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render(args) => render::run(args),
        Command::Say(args) => say::run(args),
        Command::Sing(args) => sing::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Devices(args) => devices::run(args),
        Command::Voices(args) => voices::run(args),
        Command::Info(args) => info::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Phonemize(args) => render::phonemize(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
