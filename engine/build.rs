//! Links espeak-ng (the text front end's phonemizer) through pkg-config.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if let Err(e) = pkg_config::Config::new()
        .atleast_version("1.49")
        .probe("espeak-ng")
    {
        panic!(
            "espeak-ng was not found ({e}). Install its development files, e.g. \
             `apt-get install libespeak-ng-dev espeak-ng-data`."
        );
    }
}
