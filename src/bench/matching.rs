//! `bench match`: recall and precision of panel → acquisition matching on
//! published-like variants of the real archive images, false matches on real
//! published panels that are not in the archive, geometry error, and latency
//! and index cost at growing archive sizes; the same figures for a naive
//! baseline (global 64-bit pHash, Hamming ≤ 10) in the same run.
//!
//! The archive: every TIFF under ../shared/data/archive whose pixels decode,
//! plus, for each query source, a near-identical neighbour frame (the stage
//! moved 3% and the noise differs). Volume for the size runs is synthesised
//! from the real images as shifted crops.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};
use image::{DynamicImage, Rgb, RgbImage};
use rayon::prelude::*;
use serde::Serialize;

use crate::archive::tiff::{Gray8, Tiff};
use crate::archive::{self, Sidecars};
use crate::fingerprint::{Fingerprint, Plane, Prepared, Role};
use crate::matching::{self, Index, MatchOptions, PixelSource};

/// Options of `bench match`.
#[derive(Debug, Clone, clap::Args)]
pub struct MatchBenchOptions {
    /// Real archive.
    #[arg(long, default_value = "../shared/data/archive")]
    pub archive: PathBuf,
    /// Real published panels that are not in the archive.
    #[arg(long, default_value = "../shared/data/published")]
    pub negatives: PathBuf,
    /// Archive sizes for latency and index figures.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    pub sizes: Vec<usize>,
    /// Queries per size run.
    #[arg(long, default_value_t = 60)]
    pub size_queries: usize,
    /// Print each failed query (transformation, source, what was found) on stderr.
    #[arg(long)]
    pub show_failures: bool,
}

/// Figures for one transformation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Row {
    /// Transformation.
    pub name: String,
    /// Queries.
    pub queries: usize,
    /// Top match is the source.
    pub correct: usize,
    /// A match was reported (decided: no other frame verifies as well).
    pub reported: usize,
    /// Several different frames verified equally well: listed, undecided, not reported.
    pub undecided: usize,
    /// The source is among the frames listed, decided or not.
    pub listed: usize,
    /// recall@1.
    pub recall: f64,
    /// correct / reported.
    pub precision: f64,
    /// Mean crop IoU of correct matches.
    pub mean_iou: f64,
    /// Share of correct matches with IoU ≥ 0.9.
    pub iou_at_least_0_9: f64,
    /// Mean relative scale error of correct matches.
    pub mean_scale_error: f64,
    /// Share of correct matches with scale error ≤ 2%.
    pub scale_error_within_2pct: f64,
    /// Baseline recall@1.
    pub baseline_recall: f64,
    /// Baseline precision.
    pub baseline_precision: f64,
}

/// Figures at one archive size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeRow {
    /// Acquisitions indexed.
    pub acquisitions: usize,
    /// Keypoints indexed.
    pub keypoints: usize,
    /// Index build, seconds.
    pub build_seconds: f64,
    /// Index memory, MB.
    pub memory_mb: f64,
    /// Query latency percentiles, ms (fingerprint + candidates + verification).
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// recall@1 of the combined-transformation queries at this size.
    pub recall: f64,
    /// Baseline query p95, ms (linear pHash scan).
    pub baseline_p95_ms: f64,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct MatchReport {
    /// Archive images (real, plus neighbour frames).
    pub archive_images: usize,
    /// Per transformation, then "all".
    pub rows: Vec<Row>,
    /// Negatives tried.
    pub negatives: usize,
    /// Negatives that got a match.
    pub false_matches: usize,
    /// Negatives that got a baseline match.
    pub baseline_false_matches: usize,
    /// The strongest (r, score) any negative reached before thresholds.
    pub negative_best: (f32, f32),
    /// Fingerprinting throughput, acquisitions/s.
    pub fingerprints_per_second: f64,
    /// Per archive size.
    pub sizes: Vec<SizeRow>,
}

/// A source image of the archive.
struct Source {
    gray: Gray8,
    plane: Plane,
}

/// Deterministic xorshift random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (self.next() % 1_000_000) as f32 / 1_000_000.0 * (hi - lo)
    }
}

fn load_sources(dir: &Path) -> Result<Vec<Source>> {
    let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .filter(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("tif")))
        .collect();
    paths.sort();
    let out: Vec<Source> = paths
        .par_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(p).ok()?;
            let r = archive::read(&bytes, &Sidecars::default()).ok()?;
            let gray = Tiff::parse(&bytes).ok()?.gray8(&bytes).ok()?;
            let bar = r.databar_rows.unwrap_or(0);
            let prepared = Prepared::archive(&gray, bar);
            Some(Source { gray, plane: prepared.plane })
        })
        .collect();
    Ok(out)
}

/// Where a query came from: the source, and the panel's rectangle and scale.
#[derive(Debug, Clone, Copy)]
struct Truth {
    source: usize,
    crop: [f32; 4],
    scale: f32,
}

fn to_rgb(p: &Plane) -> RgbImage {
    RgbImage::from_fn(p.w as u32, p.h as u32, |x, y| {
        let v = (p.at(x as usize, y as usize).clamp(0.0, 1.0) * 255.0).round() as u8;
        Rgb([v, v, v])
    })
}

fn jpeg(img: &RgbImage, quality: u8) -> RgbImage {
    let mut buf = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality);
    if DynamicImage::ImageRgb8(img.clone()).write_with_encoder(enc).is_err() {
        return img.clone();
    }
    image::load(Cursor::new(buf), image::ImageFormat::Jpeg).map(|d| d.to_rgb8()).unwrap_or_else(|_| img.clone())
}

fn fill(img: &mut RgbImage, x0: u32, y0: u32, w: u32, h: u32, c: [u8; 3]) {
    for y in y0..(y0 + h).min(img.height()) {
        for x in x0..(x0 + w).min(img.width()) {
            img.put_pixel(x, y, Rgb(c));
        }
    }
}

/// A panel letter in a white box, a yellow arrow and a new scale bar.
fn overlays(img: &mut RgbImage) {
    let (w, h) = (img.width(), img.height());
    let s = (w.min(h) / 10).max(6);
    fill(img, 2, 2, s, s, [255, 255, 255]);
    fill(img, 2 + s / 4, 2 + s / 4, s / 2, s / 2, [0, 0, 0]);
    let (ax, ay) = (w / 2, h / 3);
    for i in 0..s * 2 {
        fill(img, ax + i, ay + i / 2, 3, 3, [255, 220, 0]);
    }
    fill(img, w - s * 3 - 4, h - s / 2 - 4, s * 3, (s / 5).max(2), [255, 255, 255]);
    fill(img, w - s * 3 - 4, h - s - 6, s * 2, (s / 3).max(2), [255, 255, 255]);
}

const KINDS: [&str; 9] = [
    "crop ≤50% area",
    "crop 25% area",
    "downscale ≥4×",
    "JPEG ≤50",
    "gamma/contrast",
    "overlays",
    "data bar kept",
    "data bar removed",
    "combined",
];

/// A published-like panel of `src` and where it came from.
fn variant(kind: &str, src: &Source, index: usize, rng: &mut Rng) -> (DynamicImage, Truth) {
    let p = &src.plane;
    let (w, h) = (p.w as f32, p.h as f32);
    let crop_of = |rng: &mut Rng, area: f32| {
        let aspect = rng.uniform(0.8, 1.25);
        let cw = (w * (area * aspect).sqrt()).min(w);
        let ch = (h * (area / aspect).sqrt()).min(h);
        let x0 = rng.uniform(0.0, w - cw).floor();
        let y0 = rng.uniform(0.0, h - ch).floor();
        (x0, y0, cw.floor(), ch.floor())
    };
    let full = (0.0, 0.0, w, h);
    let area = match kind {
        "crop ≤50% area" => rng.uniform(0.35, 0.5),
        _ => rng.uniform(0.3, 0.6),
    };
    let (rect, down, q, gamma, over) = match kind {
        "crop ≤50% area" => (crop_of(rng, area), 1.0, None, 1.0, false),
        "crop 25% area" => (crop_of(rng, 0.25), 1.0, None, 1.0, false),
        "downscale ≥4×" => (full, rng.uniform(4.0, 6.0), None, 1.0, false),
        "JPEG ≤50" => (full, 1.5, Some(rng.uniform(30.0, 50.0) as u8), 1.0, false),
        "gamma/contrast" => (full, 1.5, None, if rng.next().is_multiple_of(2) { 0.6 } else { 1.6 }, false),
        "overlays" => (full, 1.5, None, 1.0, true),
        "data bar kept" | "data bar removed" => (full, 2.0, None, 1.0, false),
        _ => (
            crop_of(rng, area),
            rng.uniform(1.5, 3.0),
            Some(rng.uniform(50.0, 85.0) as u8),
            rng.uniform(0.7, 1.4),
            true,
        ),
    };
    let (x0, y0, cw, ch) = rect;
    let img = if kind == "data bar kept" {
        // The whole frame as the instrument saved it, data bar and all.
        let g = &src.gray;
        Plane::from_gray8(g.width as usize, g.height as usize, &g.pixels, 0)
    } else {
        p.crop(x0 as usize, y0 as usize, cw as usize, ch as usize)
    };
    let (ow, oh) = (((img.w as f32) / down).round() as usize, ((img.h as f32) / down).round() as usize);
    let mut small = img.resize(ow, oh);
    if gamma != 1.0 {
        small.data.iter_mut().for_each(|v| *v = (v.clamp(0.0, 1.0).powf(gamma) * 0.85 + 0.05).clamp(0.0, 1.0));
    }
    let mut rgb = to_rgb(&small);
    if over {
        overlays(&mut rgb);
    }
    if let Some(q) = q {
        rgb = jpeg(&rgb, q);
    }
    let scale = ow as f32 / img.w as f32;
    let crop = if kind == "data bar kept" { [0.0, 0.0, w, h] } else { [x0, y0, x0 + cw, y0 + ch] };
    (DynamicImage::ImageRgb8(rgb), Truth { source: index, crop, scale })
}

/// A near-identical neighbour frame: the stage moved ~3%, fresh noise.
fn neighbour(p: &Plane, rng: &mut Rng) -> Plane {
    let (dx, dy) = ((p.w as f32 * 0.03) as usize, (p.h as f32 * 0.02) as usize);
    let mut c = p.crop(dx, dy, p.w - dx, p.h - dy).resize(p.w, p.h);
    c.data.iter_mut().for_each(|v| *v = (*v + rng.uniform(-0.03, 0.03)).clamp(0.0, 1.0));
    c
}

/// A synthetic acquisition for volume: a shifted crop of a source, turned
/// half a turn, so that it looks like the facility's images without holding
/// any query's content (queries are never rotated).
#[derive(Debug, Clone, Copy)]
struct Shifted {
    source: usize,
    rect: (usize, usize, usize, usize),
}

impl Shifted {
    fn plane(&self, sources: &[Source]) -> Plane {
        let (x, y, w, h) = self.rect;
        let mut p = sources[self.source].plane.crop(x, y, w, h);
        p.data.reverse();
        p
    }
}

/// Archive pixels held in memory: real planes by id, then synthetic crops.
struct Memory<'a> {
    planes: &'a HashMap<i64, Plane>,
    sources: &'a [Source],
    shifted: &'a [Shifted],
    first_shifted: i64,
}

impl PixelSource for Memory<'_> {
    fn plane(&self, id: i64) -> Option<Plane> {
        if let Some(p) = self.planes.get(&id) {
            return Some(p.clone());
        }
        let s = self.shifted.get(usize::try_from(id - self.first_shifted).ok()?)?;
        Some(s.plane(self.sources))
    }
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f64 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = (ix * iy) as f64;
    let area = |r: &[f32; 4]| ((r[2] - r[0]) * (r[3] - r[1])) as f64;
    inter / (area(a) + area(b) - inter)
}

fn negatives(dir: &Path) -> Vec<DynamicImage> {
    let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .filter(|p| {
            let e = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            ["png", "jpg", "jpeg", "tif", "tiff"].contains(&e.as_str())
        })
        .collect();
    paths.sort();
    paths.par_iter().filter_map(|p| image::open(p).ok()).filter(|i| i.width() >= 64 && i.height() >= 64).collect()
}

struct Outcome {
    /// Every frame the answer lists (several when undecided).
    listed: Vec<i64>,
    top: Option<(i64, [f32; 4], f32)>,
    top_r: f32,
    candidates: Vec<(i64, f32)>,
    baseline: Option<i64>,
    ms: f64,
}

fn query(index: &Index, pixels: &dyn PixelSource, phashes: &[(i64, u64)], img: &DynamicImage) -> Outcome {
    let started = Instant::now();
    let prepared = Prepared::panel(img);
    let fp = prepared.fingerprint(Role::Panel);
    let fp_ms = started.elapsed().as_secs_f64() * 1e3;
    let found = matching::find(index, pixels, &prepared, &fp, &MatchOptions::default());
    let ms = started.elapsed().as_secs_f64() * 1e3;
    if std::env::var_os("EMTRACE_BENCH_TRACE").is_some() {
        eprintln!("query: fingerprint {fp_ms:.1} ms, find {:.1} ms", ms - fp_ms);
    }
    // Diagnostics for --show-failures, outside the timed part.
    let t = Instant::now();
    let candidates = index.candidates(&fp, 4).iter().map(|c| (index.owners()[c.owner].id, c.votes)).collect::<Vec<_>>();
    if std::env::var_os("EMTRACE_BENCH_TRACE").is_some() {
        eprintln!("candidates {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    }
    let baseline = phashes
        .iter()
        .map(|(id, h)| (*id, (h ^ fp.phash).count_ones()))
        .filter(|(_, d)| *d <= 10)
        .min_by_key(|(_, d)| *d)
        .map(|(id, _)| id);
    let undecided = found.first().is_some_and(|m| m.ambiguous);
    Outcome {
        top: found.first().filter(|_| !undecided).map(|m| (m.id, m.crop, m.scale)),
        listed: found.iter().map(|m| m.id).collect(),
        top_r: found.first().map_or(0.0, |m| m.r),
        candidates,
        baseline,
        ms,
    }
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Runs `bench match`.
pub fn run_match(opts: &MatchBenchOptions) -> Result<MatchReport> {
    let sources = load_sources(&opts.archive)?;
    if sources.is_empty() {
        bail!("no readable TIFFs under {} (is ../shared/data present?)", opts.archive.display());
    }
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    // Query sources: images with enough structure and size.
    let fp_started = Instant::now();
    let real_fps: Vec<Fingerprint> = sources
        .par_iter()
        .map(|s| Prepared { plane: s.plane.clone(), overlay: None }.fingerprint(Role::Archive))
        .collect();
    let mut fp_count = real_fps.len();
    let query_sources: Vec<usize> = (0..sources.len())
        .filter(|&i| real_fps[i].quality >= 25.0 && sources[i].plane.w.min(sources[i].plane.h) >= 300)
        .collect();
    // The archive: real images (ids 0..n), then a neighbour frame per query source.
    let mut planes: HashMap<i64, Plane> = HashMap::new();
    let mut fps: Vec<(i64, Fingerprint)> = Vec::new();
    for (i, (s, f)) in sources.iter().zip(&real_fps).enumerate() {
        planes.insert(i as i64, s.plane.clone());
        fps.push((i as i64, f.clone()));
    }
    let neighbours: Vec<Plane> = query_sources.iter().map(|&i| neighbour(&sources[i].plane, &mut rng)).collect();
    let neighbour_fps: Vec<Fingerprint> = neighbours
        .par_iter()
        .map(|p| Prepared { plane: p.clone(), overlay: None }.fingerprint(Role::Archive))
        .collect();
    fp_count += neighbour_fps.len();
    for (k, (p, f)) in neighbours.into_iter().zip(neighbour_fps).enumerate() {
        let id = (sources.len() + k) as i64;
        planes.insert(id, p);
        fps.push((id, f));
    }
    let archive_images = fps.len();
    let phashes: Vec<(i64, u64)> = fps.iter().map(|(id, f)| (*id, f.phash)).collect();
    // Identical copies count as the source (same content, another path).
    let mut same: HashMap<i64, Vec<i64>> = HashMap::new();
    for (i, a) in sources.iter().enumerate() {
        for (j, b) in sources.iter().enumerate() {
            if a.gray.pixels == b.gray.pixels {
                same.entry(i as i64).or_default().push(j as i64);
            }
        }
    }
    let index = Index::build(fps.clone());
    let memory = Memory { planes: &planes, sources: &sources, shifted: &[], first_shifted: i64::MAX };

    // Variants of every query source, for every transformation.
    let mut queries: Vec<(usize, DynamicImage, Truth)> = Vec::new();
    for (k, kind) in KINDS.iter().enumerate() {
        for &i in &query_sources {
            let (img, truth) = variant(kind, &sources[i], i, &mut rng);
            queries.push((k, img, truth));
        }
    }
    let outcomes: Vec<Outcome> = queries.par_iter().map(|(_, img, _)| query(&index, &memory, &phashes, img)).collect();
    let mut rows: Vec<Row> = KINDS.iter().map(|k| Row { name: k.to_string(), ..Default::default() }).collect();
    let mut all = Row { name: "all".into(), ..Default::default() };
    let mut per_row: Vec<(Vec<f64>, Vec<f64>, usize, usize)> = vec![(Vec::new(), Vec::new(), 0, 0); KINDS.len() + 1];
    for ((k, _, truth), o) in queries.iter().zip(&outcomes) {
        let ok_ids = same.get(&(truth.source as i64)).cloned().unwrap_or_else(|| vec![truth.source as i64]);
        if opts.show_failures && !o.top.is_some_and(|(id, _, _)| ok_ids.contains(&id)) {
            eprintln!(
                "FAIL {:<18} source {:>3} {}×{} → top {:?} r {:.3}; listed {:?}; candidates {:?}",
                KINDS[*k],
                truth.source,
                sources[truth.source].plane.w,
                sources[truth.source].plane.h,
                o.top.map(|t| t.0),
                o.top_r,
                o.listed,
                o.candidates
            );
            eprintln!("  truth crop {:?} scale {:.4}", truth.crop, truth.scale);
        }
        for (row, slot) in [(&mut rows[*k], *k), (&mut all, KINDS.len())] {
            row.queries += 1;
            if o.top.is_none() && !o.listed.is_empty() {
                row.undecided += 1;
            }
            if o.listed.iter().any(|id| ok_ids.contains(id)) {
                row.listed += 1;
            }
            if let Some((id, crop, scale)) = o.top {
                row.reported += 1;
                if ok_ids.contains(&id) {
                    row.correct += 1;
                    per_row[slot].0.push(iou(&crop, &truth.crop));
                    per_row[slot].1.push(((scale - truth.scale) / truth.scale).abs() as f64);
                }
            }
            if let Some(id) = o.baseline {
                per_row[slot].3 += 1;
                if ok_ids.contains(&id) {
                    per_row[slot].2 += 1;
                }
            }
        }
    }
    for (slot, row) in rows.iter_mut().chain(std::iter::once(&mut all)).enumerate() {
        let (ious, errs, b_ok, b_rep) = &per_row[slot];
        let n = row.queries.max(1) as f64;
        row.recall = row.correct as f64 / n;
        row.precision = if row.reported > 0 { row.correct as f64 / row.reported as f64 } else { 1.0 };
        let m = ious.len().max(1) as f64;
        row.mean_iou = ious.iter().sum::<f64>() / m;
        row.iou_at_least_0_9 = ious.iter().filter(|&&v| v >= 0.9).count() as f64 / m;
        row.mean_scale_error = errs.iter().sum::<f64>() / m;
        row.scale_error_within_2pct = errs.iter().filter(|&&v| v <= 0.02).count() as f64 / m;
        row.baseline_recall = *b_ok as f64 / n;
        row.baseline_precision = if *b_rep > 0 { *b_ok as f64 / *b_rep as f64 } else { 1.0 };
    }
    rows.push(all);

    let negs = negatives(&opts.negatives);
    let neg_out: Vec<Outcome> = negs.par_iter().map(|img| query(&index, &memory, &phashes, img)).collect();
    let false_matches = neg_out.iter().filter(|o| o.top.is_some()).count();
    let baseline_false_matches = neg_out.iter().filter(|o| o.baseline.is_some()).count();
    let loose = MatchOptions { min_r: -1.0, min_z: f32::NEG_INFINITY, ..MatchOptions::default() };
    let negative_best = negs
        .par_iter()
        .map(|img| {
            let prepared = Prepared::panel(img);
            let fp = prepared.fingerprint(Role::Panel);
            matching::find(&index, &memory, &prepared, &fp, &loose).first().map_or((0.0, 0.0), |m| (m.r, m.score))
        })
        .reduce(|| (0.0, 0.0), |a, b| (a.0.max(b.0), a.1.max(b.1)));

    // Volume: shifted, turned crops of the real images, fingerprinted, then indexed at each size.
    let max_size = opts.sizes.iter().copied().max().unwrap_or(0);
    let extra = max_size.saturating_sub(archive_images);
    let shifted: Vec<Shifted> = (0..extra)
        .map(|_| {
            let source = query_sources[(rng.next() as usize) % query_sources.len()];
            let p = &sources[source].plane;
            let f = rng.uniform(0.6, 0.9);
            let (w, h) = ((p.w as f32 * f) as usize, (p.h as f32 * f) as usize);
            let x = (rng.next() as usize) % (p.w - w + 1);
            let y = (rng.next() as usize) % (p.h - h + 1);
            Shifted { source, rect: (x, y, w, h) }
        })
        .collect();
    let started = Instant::now();
    let shifted_fps: Vec<Fingerprint> = shifted
        .par_iter()
        .map(|s| Prepared { plane: s.plane(&sources), overlay: None }.fingerprint(Role::Archive))
        .collect();
    let volume_seconds = started.elapsed().as_secs_f64();
    fp_count += shifted_fps.len();
    let fp_seconds = fp_started.elapsed().as_secs_f64() - volume_seconds;
    let fingerprints_per_second =
        if extra > 0 { extra as f64 / volume_seconds } else { fp_count as f64 / fp_seconds.max(1e-9) };
    let first_shifted = archive_images as i64;
    let mut size_rows = Vec::new();
    let combined: Vec<&(usize, DynamicImage, Truth)> = queries
        .iter()
        .filter(|(k, _, _)| KINDS[*k] == "combined" || KINDS[*k] == "crop 25% area")
        .take(opts.size_queries)
        .collect();
    for &size in &opts.sizes {
        let n_extra = size.saturating_sub(archive_images).min(shifted_fps.len());
        let all_fps: Vec<(i64, Fingerprint)> = fps
            .iter()
            .cloned()
            .chain(shifted_fps[..n_extra].iter().cloned().enumerate().map(|(k, f)| (first_shifted + k as i64, f)))
            .collect();
        let all_phash: Vec<(i64, u64)> = all_fps.iter().map(|(id, f)| (*id, f.phash)).collect();
        let started = Instant::now();
        let big = Index::build(all_fps);
        let build_seconds = started.elapsed().as_secs_f64();
        let mem = Memory { planes: &planes, sources: &sources, shifted: &shifted[..n_extra], first_shifted };
        // One query at a time: latency as a user sees it.
        let mut lat = Vec::new();
        let mut base_lat = Vec::new();
        let mut correct = 0;
        for (_, img, truth) in &combined {
            let o = query(&big, &mem, &all_phash, img);
            lat.push(o.ms);
            let t = Instant::now();
            let luma = img.to_luma8();
            let q = crate::fingerprint::dct::phash64(&Plane::from_gray8(
                luma.width() as usize,
                luma.height() as usize,
                luma.as_raw(),
                0,
            ));
            let _ = all_phash.iter().filter(|(_, h)| (h ^ q).count_ones() <= 10).count();
            base_lat.push(t.elapsed().as_secs_f64() * 1e3);
            let ok_ids = same.get(&(truth.source as i64)).cloned().unwrap_or_else(|| vec![truth.source as i64]);
            if o.top.is_some_and(|(id, _, _)| ok_ids.contains(&id)) {
                correct += 1;
            }
        }
        size_rows.push(SizeRow {
            acquisitions: archive_images + n_extra,
            keypoints: big.len(),
            build_seconds,
            memory_mb: big.memory_bytes() as f64 / 1e6,
            p50_ms: percentile(&mut lat.clone(), 0.5),
            p95_ms: percentile(&mut lat, 0.95),
            recall: correct as f64 / combined.len().max(1) as f64,
            baseline_p95_ms: percentile(&mut base_lat, 0.95),
        });
    }
    Ok(MatchReport {
        archive_images,
        rows,
        negatives: negs.len(),
        false_matches,
        baseline_false_matches,
        negative_best,
        fingerprints_per_second,
        sizes: size_rows,
    })
}

/// Prints the report.
pub fn print_match(out: &mut impl std::io::Write, r: &MatchReport) -> std::io::Result<()> {
    writeln!(
        out,
        "archive: {} images (real TIFFs + a near-identical neighbour frame per query source)",
        r.archive_images
    )?;
    writeln!(
        out,
        "{:<18} {:>5} {:>8} {:>9} {:>9} {:>7} {:>8} {:>9} {:>9} {:>10} | {:>9} {:>9}",
        "transformation",
        "n",
        "recall@1",
        "precision",
        "undecided",
        "listed",
        "IoU",
        "IoU≥0.9",
        "scale err",
        "err≤2%",
        "pHash rec",
        "pHash prec"
    )?;
    for row in &r.rows {
        writeln!(
            out,
            "{:<18} {:>5} {:>8.3} {:>9.3} {:>9} {:>7.3} {:>8.3} {:>9.3} {:>9.4} {:>10.3} | {:>9.3} {:>9.3}",
            row.name,
            row.queries,
            row.recall,
            row.precision,
            row.undecided,
            row.listed as f64 / row.queries.max(1) as f64,
            row.mean_iou,
            row.iou_at_least_0_9,
            row.mean_scale_error,
            row.scale_error_within_2pct,
            row.baseline_recall,
            row.baseline_precision
        )?;
    }
    writeln!(
        out,
        "negatives: {} real published panels; false matches: emtrace {}, pHash baseline {}; strongest negative before thresholds: r {:.3}, score {:.1}",
        r.negatives, r.false_matches, r.baseline_false_matches, r.negative_best.0, r.negative_best.1
    )?;
    writeln!(out, "fingerprinting: {:.0} acquisitions/s", r.fingerprints_per_second)?;
    writeln!(
        out,
        "{:>12} {:>12} {:>9} {:>10} {:>8} {:>8} {:>8} {:>14}",
        "acquisitions", "keypoints", "build s", "memory MB", "p50 ms", "p95 ms", "recall", "pHash p95 ms"
    )?;
    for s in &r.sizes {
        writeln!(
            out,
            "{:>12} {:>12} {:>9.2} {:>10.1} {:>8.1} {:>8.1} {:>8.3} {:>14.2}",
            s.acquisitions, s.keypoints, s.build_seconds, s.memory_mb, s.p50_ms, s.p95_ms, s.recall, s.baseline_p95_ms
        )?;
    }
    Ok(())
}
