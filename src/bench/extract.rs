//! `bench extract`: image extraction parity with poppler's `pdfimages` over
//! the real PDF corpus, and wall time against `pdfimages -all` in the same run.
//!
//! For every PDF that `pdfimages -list` reads, each row it lists (images,
//! soft masks, masks, stencils, inline images) is looked for among
//! emtrace's images: same object (for a mask: the mask of that object's
//! image), drawn on that page, same width and height; inline rows by page
//! and size. "Decoded" means emtrace produced pixels for it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde::Serialize;

use super::pct;
use crate::extract::{self, Extraction, Limits};

/// Options of `bench extract`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExtractBenchOptions {
    /// PDF corpus: every `*.pdf` below it, grouped by sub-folder.
    #[arg(long, default_value = "../shared/data/pdfs")]
    pub corpus: PathBuf,
    /// Print each listed image emtrace missed or could not decode on stderr.
    #[arg(long)]
    pub show_misses: bool,
}

/// One `pdfimages -list` row.
#[derive(Debug, Clone)]
struct Row {
    page: u32,
    kind: String,
    width: u32,
    height: u32,
    encoding: String,
    /// `None` for inline images.
    object: Option<u32>,
}

/// Parity figures for one group of PDFs.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Group {
    /// Sub-folder.
    pub name: String,
    /// PDFs in the folder.
    pub pdfs: usize,
    /// PDFs `pdfimages -list` read.
    pub reference_read: usize,
    /// Rows it listed.
    pub listed: usize,
    /// Of those, found by emtrace with the same size.
    pub found: usize,
    /// Of those, decoded to pixels.
    pub decoded: usize,
    /// Inline images listed.
    pub inline_listed: usize,
    /// Inline images found.
    pub inline_found: usize,
    /// Found / listed by encoding (`jpeg`, `jbig2`, …): (listed, found, decoded).
    pub by_encoding: BTreeMap<String, (usize, usize, usize)>,
}

/// The benchmark's figures.
#[derive(Debug, Serialize)]
pub struct ExtractReport {
    /// Per folder and overall.
    pub groups: Vec<Group>,
    /// PDFs emtrace reported a whole-file error for, with the reason.
    pub file_errors: Vec<(String, String)>,
    /// Caught panics (must be 0).
    pub panics: usize,
    /// Files that hit the time limit (must be 0).
    pub time_limits: usize,
    /// emtrace wall time over the corpus (files in parallel on all cores), seconds.
    pub emtrace_s: f64,
    /// emtrace wall time on one core, seconds.
    pub emtrace_1core_s: f64,
    /// emtrace on one core writing every image as PNG (what `extract --out` does), seconds.
    pub emtrace_1core_png_s: f64,
    /// `pdfimages -all` over the corpus, one file after another, seconds.
    pub pdfimages_all_s: f64,
    /// `pdfimages -all`, as many processes at once as cores, seconds.
    pub pdfimages_all_parallel_s: f64,
    /// Files `pdfimages -all` was stopped on after the cap.
    pub reference_capped: Vec<String>,
    /// emtrace (1 core, writing PNGs) over the files pdfimages finished, seconds.
    pub emtrace_1core_png_uncapped_s: f64,
    /// `pdfimages -all` over the files it finished, seconds.
    pub pdfimages_all_uncapped_s: f64,
    /// Cores used.
    pub cores: usize,
}

fn pdfs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf")))
        .collect();
    v.sort();
    v
}

/// `pdfimages -list`: the rows, or `None` when it cannot read the file.
fn list(pdf: &Path) -> Option<Vec<Row>> {
    let out = Command::new("timeout").arg("60").arg("pdfimages").arg("-list").arg(pdf).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let rows = text
        .lines()
        .skip(2)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(Row {
                page: f.first()?.parse().ok()?,
                kind: f.get(2)?.to_string(),
                width: f.get(3)?.parse().ok()?,
                height: f.get(4)?.parse().ok()?,
                encoding: f.get(8)?.to_string(),
                object: if *f.get(10)? == "[inline]" { None } else { Some(f.get(10)?.parse().ok()?) },
            })
        })
        .collect();
    Some(rows)
}

/// Is `row` among emtrace's images? Returns (found, decoded). Inline
/// candidates are consumed so two identical inline rows need two images.
fn lookup(row: &Row, x: &Extraction, used_inline: &mut [bool]) -> (bool, bool) {
    let on_page = |i: &extract::Image| i.placements.iter().any(|p| p.page == row.page);
    let same = |i: &extract::Image| i.width == row.width && i.height == row.height;
    let hit = match row.object {
        Some(obj) => {
            let image = x.images.iter().find(|i| i.object.is_some_and(|o| o[0] == obj) && on_page(i));
            let target = match row.kind.as_str() {
                "smask" | "mask" => {
                    image.and_then(|i| i.mask.as_ref()).and_then(|m| x.images.iter().find(|j| &j.id == m))
                }
                _ => image,
            };
            target.filter(|i| same(i))
        }
        None => {
            let k = x.images.iter().enumerate().position(|(k, i)| i.inline && !used_inline[k] && on_page(i) && same(i));
            k.map(|k| {
                used_inline[k] = true;
                &x.images[k]
            })
        }
    };
    (hit.is_some(), hit.is_some_and(|i| i.error.is_none() && i.pixels.is_some()))
}

/// Seconds after which `pdfimages` is stopped on one file.
const REFERENCE_CAP_S: u64 = 60;

/// Runs `pdfimages -all` over `files` on `parallel` processes: the wall
/// time and each file's time.
fn time_pdfimages_all(files: &[PathBuf], parallel: usize) -> Result<(Duration, Vec<Duration>)> {
    let tmp = std::env::temp_dir().join(format!("emtrace-bench-pdfimages-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(parallel).build()?;
    let each = pool.install(|| {
        files
            .par_iter()
            .enumerate()
            .map(|(n, f)| {
                let t = Instant::now();
                let _ = Command::new("timeout")
                    .arg(REFERENCE_CAP_S.to_string())
                    .arg("pdfimages")
                    .arg("-all")
                    .arg(f)
                    .arg(tmp.join(format!("f{n}")))
                    .output();
                t.elapsed()
            })
            .collect()
    });
    let took = started.elapsed();
    std::fs::remove_dir_all(&tmp)?;
    Ok((took, each))
}

/// Extracts every file on `threads` cores; with `png`, writes every image
/// as PNG under a temporary directory (removed afterwards) as `--out` does.
/// Returns the wall time and each file's extraction with its time.
fn run_emtrace(
    files: &[PathBuf],
    limits: &Limits,
    threads: usize,
    png: bool,
) -> Result<(Duration, Vec<(Extraction, Duration)>)> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let dir = std::env::temp_dir().join(format!("emtrace-bench-extract-{}", std::process::id()));
    let started = Instant::now();
    let xs = pool.install(|| {
        files
            .par_iter()
            .map(|f| {
                let t = Instant::now();
                let mut x = extract::extract_file(f, limits);
                if png {
                    if let Err(e) = extract::write_pngs(&mut x, &dir) {
                        x.error.get_or_insert(e.to_string());
                    }
                    x.images.iter_mut().for_each(|i| i.pixels = None);
                }
                (x, t.elapsed())
            })
            .collect()
    });
    let took = started.elapsed();
    if png {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok((took, xs))
}

/// Runs the benchmark.
pub fn run_extract(opts: &ExtractBenchOptions) -> Result<ExtractReport> {
    if Command::new("pdfimages").arg("-v").output().is_err() {
        bail!("pdfimages (poppler-utils) is not installed: apt-get install poppler-utils, or run .ci/bench-deps");
    }
    let files = pdfs(&opts.corpus);
    if files.is_empty() {
        bail!("no PDFs under {} (is ../shared/data present?)", opts.corpus.display());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let limits = Limits::default();
    eprintln!("listing {} PDFs with pdfimages -list …", files.len());
    let lists: Vec<Option<Vec<Row>>> = files.par_iter().map(|f| list(f)).collect();
    eprintln!("timing emtrace and pdfimages -all …");
    let (emtrace_1_png, each_png) = run_emtrace(&files, &limits, 1, true)?;
    let (emtrace_1, _) = run_emtrace(&files, &limits, 1, false)?;
    let (emtrace_n, xs) = run_emtrace(&files, &limits, cores, false)?;
    let xs: Vec<Extraction> = xs.into_iter().map(|(x, _)| x).collect();
    let (all_1, each_ref) = time_pdfimages_all(&files, 1).context("running pdfimages -all")?;
    let (all_n, _) = time_pdfimages_all(&files, cores)?;
    // The same comparison without the files pdfimages gave up on.
    let capped: Vec<bool> = each_ref.iter().map(|d| d.as_secs() >= REFERENCE_CAP_S).collect();
    let uncapped =
        |d: &[Duration]| -> f64 { d.iter().zip(&capped).filter(|(_, c)| !**c).map(|(d, _)| d.as_secs_f64()).sum() };
    let png_times: Vec<Duration> = each_png.iter().map(|(_, d)| *d).collect();

    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut total = Group { name: "all".into(), ..Default::default() };
    let mut file_errors = Vec::new();
    let mut panics = 0;
    let mut time_limits = 0;
    for ((file, rows), x) in files.iter().zip(&lists).zip(&xs) {
        let name = file
            .strip_prefix(&opts.corpus)
            .ok()
            .and_then(|p| p.components().next())
            .filter(|_| file.parent() != Some(opts.corpus.as_path()))
            .map_or_else(|| ".".to_string(), |c| c.as_os_str().to_string_lossy().into_owned());
        let g = groups.entry(name.clone()).or_insert_with(|| Group { name, ..Default::default() });
        g.pdfs += 1;
        total.pdfs += 1;
        let errors = x.error.iter().chain(x.images.iter().filter_map(|i| i.error.as_ref()));
        for e in errors {
            panics += usize::from(e.starts_with("internal error"));
            time_limits += usize::from(e.contains("time limit"));
        }
        if let Some(e) = &x.error {
            file_errors.push((file.display().to_string(), e.clone()));
        }
        let Some(rows) = rows else { continue };
        g.reference_read += 1;
        total.reference_read += 1;
        let mut used = vec![false; x.images.len()];
        for row in rows {
            let (found, decoded) = lookup(row, x, &mut used);
            for g in [&mut *g, &mut total] {
                g.listed += 1;
                g.found += usize::from(found);
                g.decoded += usize::from(decoded);
                if row.object.is_none() {
                    g.inline_listed += 1;
                    g.inline_found += usize::from(found);
                }
                let e = g.by_encoding.entry(row.encoding.clone()).or_default();
                e.0 += 1;
                e.1 += usize::from(found);
                e.2 += usize::from(decoded);
            }
            if opts.show_misses && !decoded {
                let why = if found {
                    let obj = row.object;
                    x.images
                        .iter()
                        .find(|i| i.object.is_some_and(|o| Some(o[0]) == obj) || (obj.is_none() && i.inline))
                        .and_then(|i| i.error.clone())
                        .unwrap_or_else(|| "not decoded".into())
                } else {
                    "not found".into()
                };
                eprintln!(
                    "{}: page {} {} {}×{} {} obj {:?}: {why}",
                    file.display(),
                    row.page,
                    row.kind,
                    row.width,
                    row.height,
                    row.encoding,
                    row.object
                );
            }
        }
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.push(total);
    Ok(ExtractReport {
        groups,
        file_errors,
        panics,
        time_limits,
        emtrace_s: emtrace_n.as_secs_f64(),
        emtrace_1core_s: emtrace_1.as_secs_f64(),
        emtrace_1core_png_s: emtrace_1_png.as_secs_f64(),
        pdfimages_all_s: all_1.as_secs_f64(),
        pdfimages_all_parallel_s: all_n.as_secs_f64(),
        reference_capped: files
            .iter()
            .zip(&capped)
            .filter(|(_, c)| **c)
            .map(|(f, _)| f.display().to_string())
            .collect(),
        emtrace_1core_png_uncapped_s: uncapped(&png_times),
        pdfimages_all_uncapped_s: uncapped(&each_ref),
        cores,
    })
}

/// Prints the report as tables.
pub fn print_extract(out: &mut impl Write, r: &ExtractReport) -> std::io::Result<()> {
    writeln!(out, "Image extraction parity with pdfimages -list (rows it lists: images, smasks, masks, inline)")?;
    writeln!(
        out,
        "{:<10} {:>5} {:>6} {:>7} {:>14} {:>14} {:>10}",
        "group", "pdfs", "read", "listed", "found", "decoded", "inline"
    )?;
    for g in &r.groups {
        writeln!(
            out,
            "{:<10} {:>5} {:>6} {:>7} {:>6} {:>7} {:>6} {:>7} {:>4}/{:<4}",
            g.name,
            g.pdfs,
            g.reference_read,
            g.listed,
            g.found,
            pct(g.found, g.listed),
            g.decoded,
            pct(g.decoded, g.found),
            g.inline_found,
            g.inline_listed
        )?;
    }
    if let Some(all) = r.groups.last() {
        writeln!(out, "\nby encoding (all): listed / found / decoded")?;
        for (enc, (l, f, d)) in &all.by_encoding {
            writeln!(out, "  {enc:<6} {l:>5} {f:>5} {d:>5}  ({} found, {} decoded)", pct(*f, *l), pct(*d, *f))?;
        }
    }
    writeln!(out, "\nwhole-file errors: {} (each with its reason; --json lists them)", r.file_errors.len())?;
    writeln!(out, "panics caught: {}   time limits hit: {}", r.panics, r.time_limits)?;
    writeln!(out, "\nwall time over the corpus ({} cores):", r.cores)?;
    writeln!(out, "  emtrace (decode every image to pixels), {} cores: {:>7.2} s", r.cores, r.emtrace_s)?;
    writeln!(out, "  emtrace, 1 core:                                {:>7.2} s", r.emtrace_1core_s)?;
    writeln!(out, "  emtrace, 1 core, writing every image as PNG:    {:>7.2} s", r.emtrace_1core_png_s)?;
    writeln!(out, "  pdfimages -all, one file after another:         {:>7.2} s", r.pdfimages_all_s)?;
    writeln!(out, "  pdfimages -all, {} processes:                    {:>7.2} s", r.cores, r.pdfimages_all_parallel_s)?;
    if !r.reference_capped.is_empty() {
        writeln!(
            out,
            "  without the {} file(s) pdfimages was stopped on after {REFERENCE_CAP_S} s ({}):",
            r.reference_capped.len(),
            r.reference_capped.join(", ")
        )?;
        writeln!(out, "    emtrace, 1 core, writing PNGs: {:>7.2} s", r.emtrace_1core_png_uncapped_s)?;
        writeln!(out, "    pdfimages -all, sequential:    {:>7.2} s", r.pdfimages_all_uncapped_s)?;
    }
    Ok(())
}
