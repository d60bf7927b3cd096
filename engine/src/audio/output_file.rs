//! Where an output goes: a regular file is replaced atomically (a temp file beside it, then a
//! rename, so a reader never sees a partial file and a failed write leaves nothing behind); a
//! character device, FIFO or socket (`/dev/null`, `/dev/stdout`, `>(cat > x.wav)` as
//! `/dev/fd/N`) is written into, never replaced.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// An output being written; nothing is visible at the path until [`OutputFile::commit`].
pub struct OutputFile {
    path: PathBuf,
    kind: Kind,
}

enum Kind {
    /// A temp file beside the (resolved) target, renamed over it at commit.
    Replace {
        tmp: tempfile::NamedTempFile,
        target: PathBuf,
    },
    /// An anonymous spool file, copied into the special file at commit: a FIFO cannot seek, so
    /// a WAV header that is patched at the end must be finished before anything is sent.
    Special { spool: File },
}

impl OutputFile {
    /// Prepares to write `path`. A symlink to a regular file replaces the file it points to, not
    /// the link; a path that is neither a regular file, a special file nor missing is refused.
    ///
    /// ```
    /// use std::io::Write;
    /// use mellow_engine::audio::output_file::OutputFile;
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut out = OutputFile::create(&dir.path().join("a.txt")).unwrap();
    /// out.file().write_all(b"hello").unwrap();
    /// out.commit().unwrap();
    /// assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"hello");
    /// ```
    pub fn create(path: &Path) -> Result<Self> {
        let fail = |e: std::io::Error| write_error(path, e);
        let kind = match std::fs::metadata(path) {
            Ok(meta) if is_special(&meta) => Kind::Special {
                spool: tempfile::tempfile().map_err(|e| {
                    Error::output(format!(
                        "cannot write {}: no temporary file for it: {e}",
                        path.display()
                    ))
                })?,
            },
            Ok(meta) if meta.is_dir() => {
                return Err(Error::output(format!(
                    "cannot write {}: it is a folder",
                    path.display()
                )))
            }
            Ok(_) => {
                let target = std::fs::canonicalize(path).map_err(fail)?;
                Kind::Replace {
                    tmp: temp_beside(&target)?,
                    target,
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Kind::Replace {
                tmp: temp_beside(path)?,
                target: path.to_path_buf(),
            },
            Err(e) => return Err(fail(e)),
        };
        Ok(Self {
            path: path.to_path_buf(),
            kind,
        })
    }

    /// The file to write into (seekable in every case).
    pub fn file(&mut self) -> &mut File {
        match &mut self.kind {
            Kind::Replace { tmp, .. } => tmp.as_file_mut(),
            Kind::Special { spool } => spool,
        }
    }

    /// The path a writer that only takes paths can fill (the temp file beside the target), or
    /// `None` for a special file.
    fn temp_path(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Replace { tmp, .. } => Some(tmp.path()),
            Kind::Special { .. } => None,
        }
    }

    /// Makes the output visible: the temp file is synced and renamed over the target, or the
    /// spooled bytes are copied into the special file.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        let fail = |e: std::io::Error| write_error(&path, e);
        match self.kind {
            Kind::Replace { tmp, target } => {
                // Temp files are created private; the result gets ordinary file permissions.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = tmp
                        .as_file()
                        .set_permissions(std::fs::Permissions::from_mode(0o644));
                }
                tmp.as_file().sync_all().map_err(fail)?;
                tmp.persist(&target).map_err(|e| fail(e.error))?;
            }
            Kind::Special { mut spool } => {
                spool.seek(SeekFrom::Start(0)).map_err(fail)?;
                let mut sink = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(fail)?;
                std::io::copy(&mut spool, &mut sink).map_err(fail)?;
                sink.flush().map_err(fail)?;
            }
        }
        Ok(())
    }
}

/// Character and block devices, FIFOs and sockets: written into, never renamed over.
fn is_special(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        t.is_char_device() || t.is_block_device() || t.is_fifo() || t.is_socket()
    }
    #[cfg(not(unix))]
    {
        !meta.is_file() && !meta.is_dir()
    }
}

/// An I/O error on `path` in words a user acts on; a full disk is named as such.
pub fn write_error(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::StorageFull {
        Error::output(format!(
            "cannot write {}: no space left on the device",
            path.display()
        ))
    } else {
        Error::output(format!("cannot write {}: {e}", path.display()))
    }
}

/// A temp file in `path`'s folder, so that the final rename stays on one file system.
fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".mellow-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::output(format!("cannot write to {}: {e}", dir.display())))
}

/// Writes `bytes` to `path` (atomically for a regular file, see [`OutputFile`]).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("notes.txt");
/// mellow_engine::audio::output_file::write_atomic(&path, b"text").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"text");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut out = OutputFile::create(path)?;
    out.file()
        .write_all(bytes)
        .map_err(|e| write_error(path, e))?;
    out.commit()
}

/// Like [`write_atomic`] for writers that only take a path (`Tensor::write_npy`): `fill` writes
/// the file at the path it is given, which then replaces (or is copied into) `path`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("x.bin");
/// mellow_engine::audio::output_file::write_atomic_at(&path, |tmp| {
///     std::fs::write(tmp, b"data").map_err(|e| mellow_engine::Error::output(e.to_string()))
/// })
/// .unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"data");
/// ```
pub fn write_atomic_at(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let mut out = OutputFile::create(path)?;
    let wrap = |e: Error| Error::output(format!("cannot write {}: {e}", path.display()));
    match out.temp_path() {
        Some(tmp) => {
            let tmp = tmp.to_path_buf();
            fill(&tmp).map_err(wrap)?;
        }
        None => {
            // A special file: fill a named temp file, then spool its bytes.
            let named = tempfile::NamedTempFile::new().map_err(|e| write_error(path, e))?;
            fill(named.path()).map_err(wrap)?;
            let mut filled = File::open(named.path()).map_err(|e| write_error(path, e))?;
            std::io::copy(&mut filled, out.file()).map_err(|e| write_error(path, e))?;
        }
    }
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, b"old").unwrap();
        let mut out = OutputFile::create(&path).unwrap();
        out.file().write_all(b"new").unwrap();
        // Nothing changes before the commit.
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        out.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_abandoned_output_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = OutputFile::create(&dir.path().join("x")).unwrap();
        out.file().write_all(b"partial").unwrap();
        drop(out);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_keeps_pointing_at_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.wav");
        let link = dir.path().join("link.wav");
        std::fs::write(&target, b"old").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_written_into_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        write_atomic(Path::new("/dev/null"), b"nothing").unwrap();
        assert!(std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
        let err = write_atomic(Path::new("/dev/full"), b"x").unwrap_err();
        assert!(err.to_string().contains("no space left"), "{err}");
        assert!(std::fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device());
    }

    #[test]
    fn a_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(dir.path(), b"x").unwrap_err();
        assert!(err.to_string().contains("folder"), "{err}");
    }
}
