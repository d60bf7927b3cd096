//! `cargo xtask bundle mellow-plugin --release` writes `target/bundled/Mellow.clap` and
//! `Mellow.vst3` (the bundle names come from `bundler.toml`).

fn main() -> nice_plug_xtask::Result<()> {
    nice_plug_xtask::main()
}
