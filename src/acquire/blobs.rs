//! The content-addressed blob store on disk: `blobs/ab/cdef…` named by the
//! blake3 hash of the bytes, next to the database. Downloads stream into
//! `blobs/tmp/<file id>.part` (kept across a crash, so a restart resumes with
//! a Range request), become `<file id>.done` when complete, and move to their
//! content address after the store has recorded the hash: a crash at any
//! point leaves either a resumable part, a finished download to file, or a
//! recorded blob; never a lost one.

use std::io;
use std::path::{Path, PathBuf};

/// The blob directory.
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

impl Blobs {
    /// Opens (creating) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Blobs> {
        let root = root.into();
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(Blobs { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob lives.
    pub fn path(&self, hash: &str) -> PathBuf {
        let (a, b) = hash.split_at(2.min(hash.len()));
        self.root.join(a).join(b)
    }

    /// Whether a blob is stored.
    pub fn has(&self, hash: &str) -> bool {
        self.path(hash).is_file()
    }

    /// A file's partial download.
    pub fn part(&self, file: i64) -> PathBuf {
        self.root.join("tmp").join(format!("{file}.part"))
    }

    /// A file's finished download, not yet in place.
    pub fn done(&self, file: i64) -> PathBuf {
        self.root.join("tmp").join(format!("{file}.done"))
    }

    /// The response headers saved beside a file's part.
    pub fn meta(&self, file: i64) -> PathBuf {
        self.root.join("tmp").join(format!("{file}.meta"))
    }

    /// Marks a part complete (an atomic rename).
    pub fn finish(&self, file: i64) -> io::Result<PathBuf> {
        let done = self.done(file);
        std::fs::rename(self.part(file), &done)?;
        Ok(done)
    }

    /// The blake3 hash and length of a file.
    pub fn hash_file(path: &Path) -> io::Result<(String, u64)> {
        let mut h = blake3::Hasher::new();
        h.update_reader(std::fs::File::open(path)?)?;
        Ok((h.finalize().to_hex().to_string(), std::fs::metadata(path)?.len()))
    }

    /// Moves a finished download to its content address (dropping it when
    /// the same bytes are already stored).
    pub fn place(&self, file: i64, hash: &str) -> io::Result<()> {
        let done = self.done(file);
        let target = self.path(hash);
        if target.is_file() {
            std::fs::remove_file(&done)?;
        } else {
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::rename(&done, &target)?;
        }
        Ok(())
    }

    /// Drops a file's temporary files.
    pub fn discard(&self, file: i64) {
        for p in [self.part(file), self.done(file), self.meta(file)] {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_downloads_move_to_their_hash_once() {
        let tmp = tempfile::tempdir().unwrap();
        let b = Blobs::open(tmp.path().join("blobs")).unwrap();
        for id in [1, 2] {
            std::fs::write(b.part(id), b"%PDF-1.4 same bytes").unwrap();
            let done = b.finish(id).unwrap();
            let (hash, n) = Blobs::hash_file(&done).unwrap();
            assert_eq!(n, 19);
            b.place(id, &hash).unwrap();
            assert!(b.has(&hash) && !b.done(id).exists());
        }
        let dirs = std::fs::read_dir(b.root()).unwrap().count();
        assert_eq!(dirs, 2, "tmp and one hash prefix: the second copy was deduplicated");
    }
}
