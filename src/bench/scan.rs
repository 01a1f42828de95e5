//! `bench scan`: builds a synthetic archive of N files from the real
//! 1024×768 8-bit TIFFs (each copy made unique by rewriting a few pixels, so
//! every file has its own content hash), scans it into a fresh SQLite store
//! (metadata + data bar + blake3), rescans it (nothing changed), and times
//! `exiftool -j -r` and Python `tifffile` reading the tags of the same files.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::archive::tiff::{tag, Tiff};
use crate::archive::{self, ScanOptions, Sidecars};
use crate::config::PathRules;
use crate::store::Store;

/// Options of `bench scan`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScanBenchOptions {
    /// Files in the synthetic archive.
    #[arg(long, default_value_t = 10_000)]
    pub files: usize,
    /// Real archive to build it from.
    #[arg(long, default_value = "../shared/data/archive")]
    pub source: PathBuf,
    /// Work directory, kept afterwards. [default: a temporary directory, removed]
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// One timed run.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// What ran.
    pub name: String,
    /// Wall time, seconds; `None` when it could not run.
    pub seconds: Option<f64>,
    /// Files per second.
    pub files_per_second: Option<f64>,
    /// Why it did not run, or what it printed on failure.
    pub note: Option<String>,
}

/// The figures of `bench scan`.
#[derive(Debug, Clone, Serialize)]
pub struct ScanBenchReport {
    /// Synthetic files.
    pub files: usize,
    /// Real images they were made from.
    pub source_images: usize,
    /// Total bytes.
    pub bytes: u64,
    /// emtrace first scan, then the unchanged rescan, then the references.
    pub runs: Vec<Timing>,
    /// emtrace's first scan throughput over the fastest reference's.
    pub speedup_over_reference: Option<f64>,
}

fn timing(name: &str, seconds: f64, files: usize) -> Timing {
    Timing { name: name.into(), seconds: Some(seconds), files_per_second: Some(files as f64 / seconds), note: None }
}

/// Real 1024×768 8-bit TIFFs under `source` that emtrace reads cleanly.
fn sources(source: &Path) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(source).sort_by_file_name() {
        let entry = entry?;
        let is_tif = entry.path().extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("tif"));
        if !is_tif {
            continue;
        }
        let bytes = std::fs::read(entry.path())?;
        let Ok(r) = archive::read(&bytes, &Sidecars::default()) else {
            continue;
        };
        if r.width == 1024 && r.height == 768 && r.bit_depth == Some(8) && r.pixel_error.is_none() {
            out.push(bytes);
        }
    }
    Ok(out)
}

/// A copy of `bytes` whose pixels carry `n` in a few bytes of the second row.
fn unique_copy(bytes: &[u8], n: usize) -> Vec<u8> {
    let mut copy = bytes.to_vec();
    if let Some(off) = Tiff::parse(bytes).ok().and_then(|t| t.uint(tag::STRIP_OFFSETS)) {
        let at = off as usize + 1024 + 100;
        if let Some(slot) = copy.get_mut(at..at + 8) {
            slot.copy_from_slice(&(n as u64).to_le_bytes());
        }
    }
    copy
}

fn reference(name: &str, cmd: &mut Command, files: usize) -> Timing {
    let started = Instant::now();
    match cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output() {
        Ok(o) if o.status.success() => timing(name, started.elapsed().as_secs_f64(), files),
        Ok(o) => Timing {
            name: name.into(),
            seconds: None,
            files_per_second: None,
            note: Some(format!("failed: {}", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or(""))),
        },
        Err(e) => {
            Timing { name: name.into(), seconds: None, files_per_second: None, note: Some(format!("not run: {e}")) }
        }
    }
}

const TIFFFILE_READER: &str = r#"
import os, sys, tifffile
n = 0
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        if f.endswith('.tif'):
            with tifffile.TiffFile(os.path.join(d, f)) as t:
                tags = {tg.name: tg.value for tg in t.pages[0].tags.values()}
                n += 1
print(n)
"#;

/// Runs `bench scan`.
pub async fn scan(opts: &ScanBenchOptions, progress: bool) -> Result<ScanBenchReport> {
    let srcs = sources(&opts.source).with_context(|| format!("reading {}", opts.source.display()))?;
    if srcs.is_empty() {
        bail!("no 1024×768 8-bit TIFFs under {} (is ../shared/data present?)", opts.source.display());
    }
    let (work, remove) = match &opts.dir {
        Some(d) => (d.clone(), false),
        None => (std::env::temp_dir().join(format!("emtrace-bench-{}", std::process::id())), true),
    };
    let archive_dir = work.join("archive");
    if archive_dir.exists() {
        std::fs::remove_dir_all(&archive_dir)?;
    }
    let mut bytes = 0u64;
    for i in 0..opts.files {
        let dir = archive_dir.join(format!("user{:02}/{}/project{}", i % 20, 2015 + i % 10, i % 7));
        std::fs::create_dir_all(&dir)?;
        let data = unique_copy(&srcs[i % srcs.len()], i);
        bytes += data.len() as u64;
        std::fs::write(dir.join(format!("img_{i:05}.tif")), data)?;
    }
    let db = work.join("bench.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let store = Store::open(&db.display().to_string()).await?;
    let scan_opts = ScanOptions { roots: vec![archive_dir.clone()], rules: PathRules::default(), progress };
    let first = archive::scan(&store, &scan_opts).await?;
    if first.new as usize != opts.files {
        bail!("scan recorded {} of {} files", first.new, opts.files);
    }
    let again = archive::scan(&store, &scan_opts).await?;
    store.close().await;
    let mut runs = vec![
        timing("emtrace archive scan (metadata + data bar + blake3 + store)", first.seconds, opts.files),
        timing("emtrace rescan, nothing changed", again.seconds, opts.files),
    ];
    let refs = vec![
        reference(
            "exiftool -j -r (tags only)",
            Command::new("exiftool").arg("-j").arg("-r").arg("-q").arg(&archive_dir),
            opts.files,
        ),
        reference(
            "python tifffile (tags only)",
            Command::new("python3").arg("-c").arg(TIFFFILE_READER).arg(&archive_dir),
            opts.files,
        ),
    ];
    let best_ref =
        refs.iter().filter_map(|r| r.files_per_second).fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))));
    runs.extend(refs);
    if remove {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(ScanBenchReport {
        files: opts.files,
        source_images: srcs.len(),
        bytes,
        speedup_over_reference: best_ref.map(|r| opts.files as f64 / first.seconds / r),
        runs,
    })
}

/// Prints the report as a table.
pub fn print_scan(out: &mut impl std::io::Write, r: &ScanBenchReport) -> std::io::Result<()> {
    writeln!(
        out,
        "synthetic archive: {} files from {} real 1024×768 8-bit TIFFs, {:.1} MB",
        r.files,
        r.source_images,
        r.bytes as f64 / 1e6
    )?;
    for t in &r.runs {
        match (t.seconds, t.files_per_second) {
            (Some(s), Some(f)) => writeln!(out, "{:<62} {:>8.2} s {:>10.0} files/s", t.name, s, f)?,
            _ => writeln!(out, "{:<62} {}", t.name, t.note.as_deref().unwrap_or("not run"))?,
        }
    }
    match r.speedup_over_reference {
        Some(x) => writeln!(out, "emtrace first scan vs fastest reference: {x:.1}×"),
        None => writeln!(out, "no reference ran (install exiftool or python3-tifffile: .ci/bench-deps)"),
    }
}
