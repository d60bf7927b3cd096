//! `mellow devices`: the audio hosts and output devices `say` can use, with what each plays.

use anyhow::Result;
use clap::Args;
use cpal::traits::{DeviceTrait, HostTrait};

use crate::playback::{device_id, device_name};

#[derive(Args)]
pub struct DevicesArgs {
    /// Only this host (default: every host in this build).
    #[arg(long)]
    pub host: Option<String>,
}

pub fn run(args: DevicesArgs) -> Result<()> {
    let hosts = match &args.host {
        Some(name) => vec![crate::playback::host(Some(name))?.id()],
        None => cpal::available_hosts(),
    };
    let mut found = 0;
    for id in hosts {
        let host = match cpal::host_from_id(id) {
            Ok(h) => h,
            Err(e) => {
                println!("{}: not available ({e})", id.name());
                continue;
            }
        };
        let default = host.default_output_device().map(|d| device_id(&d));
        let devices = match host.output_devices() {
            Ok(d) => d.collect::<Vec<_>>(),
            Err(e) => {
                println!("{}: cannot list devices ({e})", id.name());
                continue;
            }
        };
        println!("{}:", id.name());
        for device in devices {
            let name = device_id(&device);
            let marker = if default.as_deref() == Some(name.as_str()) {
                " (default)"
            } else {
                ""
            };
            let config = match device.default_output_config() {
                Ok(c) => format!(
                    "{} Hz, {} ch, {}",
                    c.sample_rate(),
                    c.channels(),
                    c.sample_format()
                ),
                Err(e) => format!("no output configuration: {e}"),
            };
            println!("  {name}{marker}: {}; {config}", device_name(&device));
            found += 1;
        }
    }
    if found == 0 {
        println!("no output devices found");
    }
    Ok(())
}
