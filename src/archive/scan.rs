//! `archive scan`: walks the roots in parallel, compares each image with its
//! stored row (size + mtime), reads only what is new or changed (on a rayon
//! pool, off the async executor), and writes each batch in one transaction.
//! A new file whose content hash equals a row whose file vanished is that
//! row, moved; rows still unmatched at the end are marked gone.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, UNIX_EPOCH};

use rayon::prelude::*;
use serde::Serialize;
use tracing::{debug, info, warn};

use super::read::{read, Reading, Sidecars};
use super::{is_image, AcqState, ArchiveError};
use crate::config::PathRules;
use crate::store::acquisition::{Fields, Known, Write};
use crate::store::ids::AcquisitionId;
use crate::store::{Store, StoreError};

/// Files read and written per transaction.
const BATCH: usize = 256;
/// Largest file read whole into memory.
pub const MAX_FILE_BYTES: u64 = 2 << 30;

/// What to scan and how.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Archive roots.
    pub roots: Vec<PathBuf>,
    /// Path → user / project rules.
    pub rules: PathRules,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// A file that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct ItemError {
    /// Root.
    pub root: String,
    /// Relative path.
    pub path: String,
    /// What went wrong.
    pub error: String,
}

/// What a scan did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanSummary {
    /// Roots scanned (absolute).
    pub roots: Vec<String>,
    /// Image files found.
    pub seen: u64,
    /// New rows.
    pub new: u64,
    /// Rows whose file changed and was read again.
    pub updated: u64,
    /// Files skipped because size and mtime were unchanged.
    pub unchanged: u64,
    /// Rows whose file moved to a new path (same content).
    pub moved: u64,
    /// Rows whose file is no longer found.
    pub gone: u64,
    /// Files read now that could not be read (recorded with their error).
    pub unreadable: u64,
    /// Bytes read and hashed.
    pub bytes_read: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Files read per second.
    pub files_per_second: f64,
    /// The unreadable files and their errors.
    pub errors: Vec<ItemError>,
    /// The fingerprint stage that followed, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprints: Option<super::fingerprints::FingerprintSummary>,
}

/// An image file found by the walk.
#[derive(Debug, Clone)]
struct Found {
    root: String,
    rel: String,
    abs: PathBuf,
    size: i64,
    mtime_ns: i64,
}

/// Scans the roots into the store.
pub async fn scan(store: &Store, opts: &ScanOptions) -> Result<ScanSummary, ArchiveError> {
    let started = Instant::now();
    let mut roots = Vec::new();
    for r in &opts.roots {
        let abs = std::fs::canonicalize(r).map_err(|_| ArchiveError::Root(r.display().to_string()))?;
        if !abs.is_dir() {
            return Err(ArchiveError::Root(r.display().to_string()));
        }
        roots.push(abs);
    }
    let root_names: Vec<String> = roots.iter().map(|r| r.to_string_lossy().into_owned()).collect();
    let walk_roots = roots.clone();
    let found = tokio::task::spawn_blocking(move || walk(&walk_roots)).await.expect("walk does not panic");
    let known = store.known_acquisitions(&root_names).await?;

    let mut summary = ScanSummary { roots: root_names, seen: found.len() as u64, ..Default::default() };
    let by_path: HashMap<(String, String), Known> =
        known.into_iter().map(|k| ((k.root.clone(), k.path.clone()), k)).collect();
    let found_paths: HashSet<(String, String)> = found.iter().map(|f| (f.root.clone(), f.rel.clone())).collect();
    // Rows whose file vanished: candidates for a move, else gone.
    let mut vanished: HashMap<String, Vec<AcquisitionId>> = HashMap::new();
    let mut vanished_ids = Vec::new();
    for (key, k) in &by_path {
        if !found_paths.contains(key) && k.state != AcqState::Gone.as_str() {
            vanished_ids.push(k.id);
            if let Some(h) = &k.content_hash {
                vanished.entry(h.clone()).or_default().push(k.id);
            }
        }
    }
    let todo: Vec<(Found, Option<AcquisitionId>)> = found
        .into_iter()
        .filter_map(|f| match by_path.get(&(f.root.clone(), f.rel.clone())) {
            Some(k) if k.size == f.size && k.mtime_ns == f.mtime_ns && k.state != AcqState::Gone.as_str() => None,
            Some(k) => Some((f, Some(k.id))),
            None => Some((f, None)),
        })
        .collect();
    summary.unchanged = summary.seen - todo.len() as u64;
    info!(seen = summary.seen, to_read = todo.len(), "archive walk done");

    let bar = crate::progress::bar(todo.len() as u64, opts.progress, "files");
    let mut moved_ids = HashSet::new();
    // Batches are written by their own task, so reading goes on while one is stored.
    let (batches, mut to_write) = tokio::sync::mpsc::channel::<Vec<Write>>(2);
    let writer_store = store.clone();
    let writer = tokio::spawn(async move {
        while let Some(writes) = to_write.recv().await {
            writer_store.write_acquisitions(&writes).await?;
        }
        Ok::<(), StoreError>(())
    });
    for chunk in todo.chunks(BATCH) {
        let chunk = chunk.to_vec();
        let rules = opts.rules.clone();
        let read_bar = bar.clone();
        let results: Vec<(Found, Option<AcquisitionId>, Fields)> = tokio::task::spawn_blocking(move || {
            chunk
                .into_par_iter()
                .map(|(f, id)| {
                    let fields = read_one(&f, &rules);
                    read_bar.inc(1);
                    (f, id, fields)
                })
                .collect()
        })
        .await
        .expect("reading does not panic");
        let mut writes = Vec::with_capacity(results.len());
        for (f, id, fields) in results {
            summary.bytes_read += f.size as u64;
            if fields.state == AcqState::Unreadable.as_str() {
                summary.unreadable += 1;
                let error = fields.error.clone().unwrap_or_default();
                warn!(root = %f.root, path = %f.rel, %error, "unreadable");
                summary.errors.push(ItemError { root: f.root.clone(), path: f.rel.clone(), error });
            }
            match id {
                Some(id) => {
                    summary.updated += 1;
                    writes.push(Write::Update(id, fields));
                }
                None => {
                    let moved =
                        fields.content_hash.as_ref().and_then(|h| vanished.get_mut(h)).and_then(|ids| ids.pop());
                    match moved {
                        Some(id) => {
                            debug!(path = %f.rel, id = %id, "moved");
                            summary.moved += 1;
                            moved_ids.insert(id);
                            writes.push(Write::Update(id, fields));
                        }
                        None => {
                            summary.new += 1;
                            writes.push(Write::Insert(fields));
                        }
                    }
                }
            }
        }
        if batches.send(writes).await.is_err() {
            break; // the writer stopped on an error, returned below
        }
    }
    drop(batches);
    writer.await.expect("the writer task does not panic")?;
    bar.finish_and_clear();
    let gone: Vec<AcquisitionId> = vanished_ids.into_iter().filter(|id| !moved_ids.contains(id)).collect();
    summary.gone = gone.len() as u64;
    store.mark_gone(&gone).await?;
    summary.seconds = started.elapsed().as_secs_f64();
    let read_count = summary.new + summary.updated + summary.moved;
    summary.files_per_second = if summary.seconds > 0.0 { read_count as f64 / summary.seconds } else { 0.0 };
    info!(
        new = summary.new,
        updated = summary.updated,
        moved = summary.moved,
        gone = summary.gone,
        unreadable = summary.unreadable,
        "archive scan done"
    );
    Ok(summary)
}

/// Lists the image files under the roots, in parallel; sorted for stable output.
fn walk(roots: &[PathBuf]) -> Vec<Found> {
    let out = Mutex::new(Vec::new());
    for root in roots {
        let root_name = root.to_string_lossy().into_owned();
        ignore::WalkBuilder::new(root).standard_filters(false).hidden(true).follow_links(false).build_parallel().run(
            || {
                let out = &out;
                let root_name = root_name.clone();
                Box::new(move |entry| {
                    let Ok(entry) = entry else {
                        return ignore::WalkState::Continue;
                    };
                    let path = entry.path();
                    if !entry.file_type().is_some_and(|t| t.is_file()) || !is_image(path) {
                        return ignore::WalkState::Continue;
                    }
                    let Ok(meta) = entry.metadata() else {
                        return ignore::WalkState::Continue;
                    };
                    let mtime_ns = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos() as i64);
                    let rel = path
                        .strip_prefix(root)
                        .unwrap_or(path)
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    let found = Found {
                        root: root_name.clone(),
                        rel,
                        abs: path.to_path_buf(),
                        size: meta.len() as i64,
                        mtime_ns,
                    };
                    out.lock().expect("walk lock is never poisoned").push(found);
                    ignore::WalkState::Continue
                })
            },
        );
    }
    let mut v = out.into_inner().expect("walk lock is never poisoned");
    v.sort_by(|a, b| (&a.root, &a.rel).cmp(&(&b.root, &b.rel)));
    v
}

/// Sidecars next to `image`: `stem.txt` (any case), `stem.hdr`, `stem-tif.hdr`.
pub fn sidecars(image: &Path) -> Sidecars {
    let (Some(dir), Some(stem)) = (image.parent(), image.file_stem()) else {
        return Sidecars::default();
    };
    let stem = stem.to_string_lossy();
    let ext = image.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let first =
        |names: &[String]| names.iter().find_map(|n| std::fs::read(dir.join(n)).ok().filter(|b| b.len() < 1 << 20));
    Sidecars {
        txt: first(&[format!("{stem}.txt"), format!("{stem}.TXT")]),
        hdr: first(&[format!("{stem}.hdr"), format!("{stem}-{ext}.hdr"), format!("{stem}.HDR")]),
    }
}

fn read_one(f: &Found, rules: &PathRules) -> Fields {
    let owner = rules.owner(&f.rel);
    let mut fields = Fields {
        root: f.root.clone(),
        path: f.rel.clone(),
        size: f.size,
        mtime_ns: f.mtime_ns,
        vendor: "unknown".into(),
        user_name: owner.user.clone(),
        project: owner.project,
        state: AcqState::Unreadable.as_str().into(),
        ..Default::default()
    };
    if f.size as u64 > MAX_FILE_BYTES {
        fields.error = Some(format!("file of {} bytes exceeds the limit of {MAX_FILE_BYTES}", f.size));
        return fields;
    }
    let bytes = match std::fs::read(&f.abs) {
        Ok(b) => b,
        Err(e) => {
            fields.error = Some(format!("reading file: {e}"));
            return fields;
        }
    };
    fields.content_hash = Some(blake3::hash(&bytes).to_hex().to_string());
    match read(&bytes, &sidecars(&f.abs)) {
        Ok(r) => apply(&mut fields, &r),
        Err(e) => fields.error = Some(e.to_string()),
    }
    if fields.acquired_at.is_none() {
        let t = chrono::DateTime::from_timestamp_nanos(f.mtime_ns);
        fields.acquired_at = Some(t.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string());
        fields.acquired_at_source = Some("file-time".into());
    }
    if fields.user_name.is_none() {
        fields.user_name = fields.operator.clone();
    }
    fields
}

fn apply(fields: &mut Fields, r: &Reading) {
    let m = &r.meta;
    fields.format = Some(r.format.as_str().into());
    fields.vendor = m.vendor.as_str().into();
    fields.instrument = m.instrument.clone();
    fields.serial = m.serial.clone();
    fields.modality = m.modality.map(|x| x.as_str().to_string());
    fields.detector = m.detector.clone();
    if let Some(t) = m.acquired_at {
        fields.acquired_at = Some(t.format("%Y-%m-%dT%H:%M:%S").to_string());
        let source = if r.from_databar.contains(&"date") { "databar" } else { "metadata" };
        fields.acquired_at_source = Some(source.into());
    }
    fields.magnification = m.magnification;
    fields.pixel_size_nm = r.pixel_size_nm;
    fields.kv = m.kv;
    fields.wd_mm = m.wd_mm;
    fields.width = Some(r.width as i64);
    fields.height = Some(r.height as i64);
    fields.bit_depth = r.bit_depth.map(i64::from);
    fields.databar_rows = r.databar_rows.map(i64::from);
    fields.databar_source = r.databar_source.map(|s| s.as_str().to_string());
    fields.operator = m.operator.clone();
    let mut problems = r.warnings.clone();
    if let Some(e) = &r.pixel_error {
        problems.insert(0, format!("pixels: {e}"));
    }
    fields.error = (!problems.is_empty()).then(|| problems.join("; "));
    fields.state = if r.pixel_error.is_some() { AcqState::Unreadable } else { AcqState::Present }.as_str().into();
}
