//! Archive pixels for verification, read from the files on disk when a
//! candidate needs them (and kept for the next panel).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use super::read::pixels;
use crate::fingerprint::{Plane, Prepared};
use crate::matching::PixelSource;

/// Planes kept in memory at most.
const CACHE: usize = 64;

/// Reads acquisitions' pixels from their files.
#[derive(Debug, Default)]
pub struct ArchiveFiles {
    files: HashMap<i64, (PathBuf, u32)>,
    cache: Mutex<HashMap<i64, Plane>>,
}

impl ArchiveFiles {
    /// Registers acquisition `id` at `path` with `databar_rows` to cut.
    pub fn insert(&mut self, id: i64, path: PathBuf, databar_rows: u32) {
        self.files.insert(id, (path, databar_rows));
    }
}

impl PixelSource for ArchiveFiles {
    fn plane(&self, id: i64) -> Option<Plane> {
        if let Some(p) = self.cache.lock().expect("cache lock is never poisoned").get(&id) {
            return Some(p.clone());
        }
        let (path, bar) = self.files.get(&id)?;
        let bytes = std::fs::read(path).ok()?;
        let gray = pixels(&bytes).ok()?;
        let plane = Prepared::archive(&gray, (*bar).min(gray.height.saturating_sub(1))).plane;
        let mut cache = self.cache.lock().expect("cache lock is never poisoned");
        if cache.len() >= CACHE {
            cache.clear();
        }
        cache.insert(id, plane.clone());
        Some(plane)
    }
}
