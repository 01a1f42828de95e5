//! Archive: the facility side. Walks the archive roots, reads each image's
//! vendor metadata, pixel size and data bar, hashes its content and records it
//! as an `acquisition`. Rescans are incremental (size + mtime), a moved file
//! keeps its record (content hash) and a deleted one is marked gone.

pub mod databar;
pub mod files;
pub mod fingerprints;
pub mod read;
pub mod scan;
pub mod stats;
pub mod tiff;
pub mod vendor;

use serde::Serialize;

pub use read::{read, DatabarSource, Format, Reading, Sidecars};
pub use scan::{scan, sidecars, ScanOptions, ScanSummary};

/// Errors of the archive stage. An item's error is recorded on its row; only
/// a store failure or a bad root stops a scan.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The file is damaged: truncated, bad offsets, bad structure.
    #[error("corrupt file: {0}")]
    Corrupt(String),
    /// A valid file of a kind emtrace does not read.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Over a configured limit.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The pixels could not be decoded.
    #[error("cannot decode pixels: {0}")]
    Decode(String),
    /// A sidecar file is not in a known format.
    #[error("unreadable sidecar: {0}")]
    Sidecar(String),
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An archive root does not exist or cannot be listed.
    #[error("archive root {0}: not a readable directory")]
    Root(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Whether the file behind an acquisition is there and usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AcqState {
    /// Seen on the last scan and readable.
    Present,
    /// Not found on the last scan (deleted, or moved out of every root).
    Gone,
    /// Seen, but its pixels or structure could not be read (see `error`).
    Unreadable,
}

impl AcqState {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AcqState::Present => "present",
            AcqState::Gone => "gone",
            AcqState::Unreadable => "unreadable",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<AcqState> {
        [AcqState::Present, AcqState::Gone, AcqState::Unreadable].into_iter().find(|st| st.as_str() == s)
    }
}

/// File name extensions that are scanned as images (case-insensitive).
pub const IMAGE_EXTENSIONS: &[&str] = &["tif", "tiff", "dm3", "dm4", "png", "jpg", "jpeg", "bmp", "gif"];

/// Whether a path names an archive image, by its extension.
pub fn is_image(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for s in [AcqState::Present, AcqState::Gone, AcqState::Unreadable] {
            assert_eq!(AcqState::parse(s.as_str()), Some(s));
        }
    }
}
