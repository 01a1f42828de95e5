//! The fingerprint stage: fingerprints every present acquisition that has no
//! fingerprint of the current version (new, changed, or fingerprinted by an
//! older emtrace), reading the file again, on the rayon pool, a batch per
//! transaction. A file that cannot be decoded is skipped with a warning: its
//! acquisition row already carries the reason.

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;
use tracing::{debug, info, warn};

use super::read::pixels;
use super::ArchiveError;
use crate::fingerprint::{Prepared, Role};
use crate::store::Store;

const BATCH: usize = 128;

/// What the stage did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FingerprintSummary {
    /// Acquisitions fingerprinted now.
    pub fingerprinted: u64,
    /// Acquisitions whose pixels could not be read.
    pub skipped: u64,
    /// Seconds.
    pub seconds: f64,
    /// Fingerprints per second.
    pub per_second: f64,
}

/// Runs the stage.
pub async fn fingerprint_archive(store: &Store, progress: bool) -> Result<FingerprintSummary, ArchiveError> {
    let started = Instant::now();
    let pending = store.fingerprints_pending().await?;
    let bar = crate::progress::bar(pending.len() as u64, progress, "fingerprints");
    let mut summary = FingerprintSummary::default();
    for chunk in pending.chunks(BATCH) {
        let chunk = chunk.to_vec();
        let b = bar.clone();
        let done = tokio::task::spawn_blocking(move || {
            chunk
                .into_par_iter()
                .map(|p| {
                    b.inc(1);
                    let path = Path::new(&p.root).join(&p.path);
                    let bytes = std::fs::read(&path)
                        .map_err(|e| (p.path.clone(), ArchiveError::Io { path: p.path.clone(), source: e }))?;
                    let gray = pixels(&bytes).map_err(|e| (p.path.clone(), e))?;
                    let bar = p.databar_rows.unwrap_or(0).clamp(0, gray.height as i64 - 1) as u32;
                    let f = Prepared::archive(&gray, bar).fingerprint(Role::Archive);
                    Ok((p.id, f.quality, f.keypoints.len(), f.to_bytes()))
                })
                .collect::<Vec<Result<_, (String, ArchiveError)>>>()
        })
        .await
        .expect("fingerprinting does not panic");
        let mut rows = Vec::new();
        for r in done {
            match r {
                Ok(row) => rows.push(row),
                Err((path, ArchiveError::Unsupported(what))) => {
                    summary.skipped += 1;
                    debug!(%path, %what, "not fingerprinted: pixels not decoded");
                }
                Err((path, e)) => {
                    summary.skipped += 1;
                    warn!(%path, error = %e, "not fingerprinted");
                }
            }
        }
        summary.fingerprinted += rows.len() as u64;
        store.write_fingerprints(&rows).await?;
    }
    bar.finish_and_clear();
    summary.seconds = started.elapsed().as_secs_f64();
    summary.per_second = if summary.seconds > 0.0 { summary.fingerprinted as f64 / summary.seconds } else { 0.0 };
    info!(fingerprinted = summary.fingerprinted, skipped = summary.skipped, "fingerprint stage done");
    Ok(summary)
}
