//! Unique paths in the temp dir (`std::env::temp_dir`), and files removed when dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A path `amimesh-<name>-<pid>-<nanos>-<n>.<ext>` in the temp dir that no other test (in this
/// process or another) uses: the process id, the time and a per-process counter make it unique.
pub fn path(name: &str, ext: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!(
        "amimesh-{name}-{}-{nanos}-{n}.{ext}",
        std::process::id()
    ))
}

/// A file in the temp dir that is removed when dropped, unless the environment variable
/// `AMIMESH_KEEP_PCAP` is set (then its path is printed, to open it in Wireshark).
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// Writes `bytes` to a fresh [`path`].
    ///
    /// # Panics
    ///
    /// When the file cannot be written.
    pub fn with_bytes(name: &str, ext: &str, bytes: &[u8]) -> Self {
        let path = path(name, ext);
        std::fs::write(&path, bytes)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        TempFile { path }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TempFile {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if std::env::var_os("AMIMESH_KEEP_PCAP").is_some() {
            eprintln!("kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_and_files_go_away() {
        let a = path("t", "bin");
        let b = path("t", "bin");
        assert_ne!(a, b);
        assert!(a.starts_with(std::env::temp_dir()));
        let f = TempFile::with_bytes("t", "bin", b"abc");
        let p = f.path().to_path_buf();
        assert_eq!(std::fs::read(&p).ok().as_deref(), Some(&b"abc"[..]));
        drop(f);
        if std::env::var_os("AMIMESH_KEEP_PCAP").is_none() {
            assert!(!p.exists());
        }
    }
}
