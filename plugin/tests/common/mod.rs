//! The in-process CLAP host the plugin tests share: host callbacks (with the GUI extension the
//! editor needs), the plugin's own entry, and new instances.
#![allow(dead_code)]

use clack_extensions::gui::{GuiSize, HostGui, HostGuiImpl};
use clack_host::prelude::*;

pub struct TestHostShared;

impl SharedHandler<'_> for TestHostShared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

/// The host's side of the GUI extension, which the plugin needs to embed its editor.
impl HostGuiImpl for TestHostShared {
    fn resize_hints_changed(&self) {}
    fn request_resize(&self, _new_size: GuiSize) -> Result<(), HostError> {
        Ok(())
    }
    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn closed(&self, _was_destroyed: bool) {}
}

pub struct TestHost;

impl HostHandlers for TestHost {
    type Shared<'a> = TestHostShared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder.register::<HostGui>();
    }
}

/// The plugin's CLAP entry, linked into the test (so its allocations are the test's own).
pub fn entry() -> PluginEntry {
    // SAFETY: the entry is this crate's own `clap_entry`, a static CLAP entry descriptor with the
    // layout clack expects (both follow the CLAP ABI).
    unsafe {
        let raw =
            &*(&mellow_plugin::clap_entry as *const _ as *const clack_host::entry::EntryDescriptor);
        PluginEntry::load_from_raw(raw, c"mellow-plugin (in process)").expect("the entry loads")
    }
}

pub fn instance(entry: &PluginEntry) -> PluginInstance<TestHost> {
    let info = HostInfo::new(
        "Mellow test host",
        "Mellow",
        "https://example.invalid",
        "1.0",
    )
    .unwrap();
    PluginInstance::<TestHost>::new(
        |_| TestHostShared,
        |_| (),
        entry,
        c"org.mellow.speech-instrument",
        &info,
    )
    .expect("the plugin instantiates")
}

/// A host's audio setup at `sample_rate` with blocks of 1 to `max_frames` samples.
pub fn audio_config(sample_rate: f64, max_frames: u32) -> PluginAudioConfiguration {
    PluginAudioConfiguration {
        sample_rate,
        min_frames_count: 1,
        max_frames_count: max_frames,
    }
}
