//! The editor opens embedded in a host window on an X server (Xvfb, started here) and draws, with
//! the waveform of the first phrase once the background renderer has made it:
//! the test hosts the plugin in process through clack-host, gives it a parent X11 window, shows
//! the editor and captures the screen. With MELLOW_SCREENSHOT=FILE.png the capture is also saved
//! (the README's screenshot: `MELLOW_SCREENSHOT=docs/editor.png cargo test -p mellow-plugin
//! --test editor`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clack_extensions::gui::{GuiApiType, GuiConfiguration, PluginGui, Window};

mod common;
use common::{audio_config, entry, instance};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, CreateWindowAux, ImageFormat, WindowClass};

/// An X server of the test's own; stopped when dropped.
struct Xvfb(Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_xvfb(display: &str) -> Xvfb {
    let child = Command::new("Xvfb")
        .args([
            display,
            "-screen",
            "0",
            "1024x768x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb starts (bash .ci/install-deps installs it)");
    let server = Xvfb(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while x11rb::connect(Some(display)).is_err() {
        assert!(Instant::now() < deadline, "Xvfb did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

#[test]
fn the_editor_opens_and_draws_under_xvfb() {
    let display = ":97";
    let _xvfb = start_xvfb(display);
    // SAFETY: set before any thread of this test binary talks to X.
    unsafe { std::env::set_var("DISPLAY", display) };

    let (conn, screen_num) = x11rb::connect(Some(display)).unwrap();
    let screen = &conn.setup().roots[screen_num];
    let parent = conn.generate_id().unwrap();
    let (width, height) = (
        mellow_plugin::editor::WIDTH as u16,
        mellow_plugin::editor::HEIGHT as u16,
    );
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        parent,
        screen.root,
        0,
        0,
        width,
        height,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new().background_pixel(screen.black_pixel),
    )
    .unwrap();
    conn.map_window(parent).unwrap();
    conn.flush().unwrap();

    let entry = entry();
    let mut plugin = instance(&entry);
    // Active, so the phrases render and the editor shows the selected one's waveform.
    let config = audio_config(48_000.0, 512);
    let processor = plugin.activate(|_, _| (), config).expect("activates");
    let handle = plugin.plugin_handle();
    let gui: PluginGui = handle.get_extension().expect("the gui extension");
    let config = GuiConfiguration {
        api_type: GuiApiType::X11,
        is_floating: false,
    };
    assert!(gui.is_api_supported(&handle, config));
    gui.create(&handle, config).expect("the editor is created");
    let size = gui.get_size(&handle).expect("the editor has a size");
    assert!(size.width >= 400 && size.height >= 300, "{size:?}");
    // SAFETY: `parent` is a live X11 window on the server the plugin connects to.
    unsafe { gui.set_parent(&handle, Window::from_x11_handle(parent as _)) }
        .expect("the editor embeds");
    gui.show(&handle).expect("the editor shows");

    // Wait until the editor has drawn text, widgets and the waveform over the black parent.
    let deadline = Instant::now() + Duration::from_secs(30);
    let waveform = |data: &[u8]| {
        data.chunks_exact(4)
            .filter(|p| p[0] == 255 && p[1] == 200 && p[2] == 120)
            .count()
    };
    let (colours, wave) = loop {
        std::thread::sleep(Duration::from_millis(300));
        let image = conn
            .get_image(ImageFormat::Z_PIXMAP, screen.root, 0, 0, width, height, !0)
            .unwrap()
            .reply()
            .unwrap();
        let mut distinct: Vec<u32> = image
            .data
            .chunks_exact(4)
            .map(|p| u32::from_le_bytes([p[0], p[1], p[2], 0]))
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        let wave = waveform(&image.data);
        if (distinct.len() > 20 && wave > 100) || Instant::now() > deadline {
            break (distinct.len(), wave);
        }
    };
    assert!(colours > 20, "the editor drew nothing ({colours} colours)");
    assert!(
        wave > 100,
        "no waveform of the first phrase ({wave} pixels)"
    );
    if let Ok(path) = std::env::var("MELLOW_SCREENSHOT") {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "xwd -root -display {display} | xwdtopnm 2>/dev/null | pnmcut 0 0 {width} {height} | pnmtopng > {path}"
            ))
            .status()
            .unwrap();
        assert!(status.success(), "the screenshot was not written");
    }
    gui.hide(&handle).unwrap();
    gui.destroy(&handle);
    plugin.deactivate(processor);
    // The editor's window thread tears down its GL display after `destroy` returns; the X
    // server must outlive it, or Xlib ends the process from that thread mid-teardown.
    let deadline = Instant::now() + Duration::from_secs(10);
    while window_threads_alive() {
        assert!(
            Instant::now() < deadline,
            "the editor's window thread did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a thread this one started is still running: Linux gives a new thread its creator's
/// name, and the editor's window thread is the only one the test thread starts.
fn window_threads_alive() -> bool {
    // The link reads "PID/task/TID", relative to /proc.
    let me = std::path::Path::new("/proc")
        .join(std::fs::read_link("/proc/thread-self").expect("/proc/thread-self"));
    let my_name = std::fs::read_to_string(me.join("comm")).expect("the test thread's name");
    let me = me.file_name().map(ToOwned::to_owned);
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
        .filter(|task| Some(task.file_name()) != me)
        .any(|task| std::fs::read_to_string(task.path().join("comm")).ok() == Some(my_name.clone()))
}
