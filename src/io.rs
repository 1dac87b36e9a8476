//! Files: reading inputs (`-` is stdin) and writing outputs atomically.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// An I/O failure, naming the action and the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// Reading failed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The input is larger than [`MAX_INPUT`].
    #[error("{} is larger than 256 MiB: refused (stream JSON lines instead)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// A file that must be a regular file is not (a FIFO, a device, a directory, a link).
    #[error("{} is not a regular file: refused unread", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
    },
    /// A small file is larger than its kind allows.
    #[error("{} is larger than {limit} bytes: refused", path.display())]
    Oversized {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: usize,
    },
    /// The target exists and overwriting was not asked for.
    #[error("refusing to overwrite {}: it exists", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
}

/// Read a whole file, or stdin for `-`.
pub fn read_input(path: &Path) -> Result<Vec<u8>, IoError> {
    let mut buf = Vec::new();
    let limit = MAX_INPUT as u64 + 1;
    let r = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut buf)
            .map(|_| ())
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut buf))
            .map(|_| ())
    };
    r.map_err(|source| IoError::Read {
        path: path.into(),
        source,
    })?;
    if buf.len() > MAX_INPUT {
        return Err(IoError::TooLarge { path: path.into() });
    }
    Ok(buf)
}

/// Read a small file of a directory pith trusts the layout of (a keyring): opened without
/// following a final symbolic link and without blocking, read only if it is a regular
/// file, and refused past `limit` bytes — so a FIFO, a device or a link to `/dev/zero`
/// can neither hang nor exhaust the reader.
pub(crate) fn read_regular(path: &Path, limit: usize) -> Result<Vec<u8>, IoError> {
    use rustix::fs::{FileType, Mode, OFlags};
    let read_err = |source: std::io::Error| IoError::Read {
        path: path.into(),
        source,
    };
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| {
        if e == rustix::io::Errno::LOOP {
            IoError::NotRegular { path: path.into() }
        } else {
            read_err(e.into())
        }
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| read_err(e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(IoError::NotRegular { path: path.into() });
    }
    let mut buf = Vec::new();
    std::fs::File::from(fd)
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(read_err)?;
    if buf.len() > limit {
        return Err(IoError::Oversized {
            path: path.into(),
            limit,
        });
    }
    Ok(buf)
}

/// The largest single input read whole (an artifact, a feed); JSON-lines bulk inputs are
/// streamed instead and have no total limit.
pub const MAX_INPUT: usize = 256 << 20;

/// Write `bytes` to `path` atomically: a temp file in the same directory, fsynced, then
/// renamed into place. With `overwrite` false an existing file is refused and left intact;
/// with `mode` set the file is created with those permission bits (before any byte).
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    overwrite: bool,
    mode: Option<u32>,
) -> Result<(), IoError> {
    let werr = |source| IoError::Write {
        path: path.into(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = temp_file_in(&dir, mode).map_err(werr)?;
    tmp.write_all(bytes).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    if overwrite {
        tmp.persist(path).map_err(|e| werr(e.error))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                IoError::Exists { path: path.into() }
            } else {
                werr(e.error)
            }
        })?;
    }
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Prefix of pith's temporary files; the writing process's id follows, so a later run can
/// tell a killed run's leftovers from a live run's files.
const TEMP_PREFIX: &str = ".pith-tmp-";

/// A temporary file in `dir` (deleted on drop, so on every error path), named
/// `.pith-tmp-PID-…`, created with `mode` where given. Leftovers of killed pith processes in
/// `dir` are removed first.
pub fn temp_file_in(dir: &Path, mode: Option<u32>) -> std::io::Result<tempfile::NamedTempFile> {
    clean_stale_temps(dir);
    let prefix = format!("{TEMP_PREFIX}{}-", std::process::id());
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix);
    #[cfg(unix)]
    if let Some(m) = mode {
        use std::os::unix::fs::PermissionsExt as _;
        b.permissions(std::fs::Permissions::from_mode(m));
    }
    #[cfg(not(unix))]
    let _ = mode;
    b.tempfile_in(dir)
}

/// Remove `.pith-tmp-PID-…` files in `dir` whose process is gone (a run killed mid-write).
/// Best effort: a file that cannot be removed is left, and files of live processes (or of
/// unknown shape) are never touched.
pub(crate) fn clean_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if !alive && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Write to `--out` (atomically) or to stdout.
pub fn write_output(out: Option<&Path>, bytes: &[u8], overwrite: bool) -> Result<(), IoError> {
    match out {
        Some(p) if p != Path::new("-") => write_atomic(p, bytes, overwrite, Some(0o644)),
        _ => {
            let mut so = std::io::stdout().lock();
            so.write_all(bytes)
                .and_then(|_| so.flush())
                .map_err(|source| IoError::Write {
                    path: "-".into(),
                    source,
                })
        }
    }
}
