//! `bench figures`: scale bars, labels and panel splitting against ground
//! truth made by looking at the real published images (kept in
//! `fixtures/figures/`), with Tesseract reading the same label crops as the
//! baseline in the same run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::pct;
use crate::figure::{self, databar, ocr, Panel};

/// Options of `bench figures`.
#[derive(Debug, Clone, clap::Args)]
pub struct FiguresBenchOptions {
    /// Published data.
    #[arg(long, default_value = "../shared/data/published")]
    pub published: PathBuf,
    /// Ground truth.
    #[arg(long, default_value = "fixtures/figures")]
    pub labels: PathBuf,
    /// Archive images with data bars.
    #[arg(long, default_value = "../shared/data/archive")]
    pub archive: PathBuf,
    /// Print each panel whose bar or label went wrong (missed, misread or
    /// detected where there is none), or whose nm/px is off by more than 3%
    /// though its label was read right, on stderr.
    #[arg(long)]
    pub show_failures: bool,
}

/// The benchmark's figures.
#[derive(Debug, Default, Serialize)]
pub struct FiguresReport {
    /// Labelled panels.
    pub panels: usize,
    /// Of those with a scale bar.
    pub with_bar: usize,
    /// Bars found where the ground truth box is (see `same_bar`).
    pub bars_found: usize,
    /// Detections that are not the bar (on a panel without one, or elsewhere).
    pub false_bars: usize,
    /// Detections on panels whose bar box was not recorded (neither right nor wrong).
    pub unverified: usize,
    /// Panels with a labelled bar.
    pub with_label: usize,
    /// Labels read with the exact value and unit.
    pub labels_exact: usize,
    /// Panels with a bar box and a label (nm/px computable).
    pub with_scale: usize,
    /// nm/px within 3% of the truth.
    pub scale_within_3pct: usize,
    /// Labels of found bars read as another length (a wrong nm/px; the
    /// rest of the inexact ones were not read).
    pub labels_wrong: usize,
    /// Mean confidence of exact label reads (null when there are none).
    pub confidence_exact: Option<f64>,
    /// Mean confidence of reads that parsed but were wrong (null when there
    /// are none).
    pub confidence_wrong: Option<f64>,
    /// Mean |length − truth| of found bars, pixels.
    pub bar_length_error_px: f64,
    /// Label crops given to both readers.
    pub crops: usize,
    /// emtrace exact on those crops.
    pub crops_emtrace_exact: usize,
    /// Tesseract exact on those crops (`None` when it is not installed).
    pub crops_tesseract_exact: Option<usize>,
    /// Labels exact (of the panels with a bar box and a label) when the glyph
    /// reader hands unsure labels to Tesseract.
    pub labels_exact_with_tesseract: Option<usize>,
    /// Micrograph panels of multi-panel figures.
    pub figure_panels: usize,
    /// Found with IoU ≥ 0.9.
    pub figure_panels_found: usize,
    /// Archive images with a data bar.
    pub databars: usize,
    /// Of those, read right in every setting the bar prints.
    pub databars_right: usize,
    /// Settings printed on those bars.
    pub databar_settings: usize,
    /// Of those, read right.
    pub databar_settings_right: usize,
    /// Of those, read as another value (the rest were not read).
    pub databar_settings_wrong: usize,
}

/// One archive image's data bar, read and checked against the file's metadata.
#[derive(Debug, Serialize)]
pub struct DatabarCheck {
    /// Relative to the archive root.
    pub path: String,
    /// What was read.
    pub text: databar::Text,
    /// Settings the bar prints that were read right.
    pub right: Vec<String>,
    /// Settings the bar prints that were read as another value.
    pub wrong: Vec<String>,
    /// Settings the bar prints that were not read.
    pub unread: Vec<String>,
}

/// Reads the data bar of every image under `archive` that has one and checks
/// each setting it prints (per `labels`/databars.csv) against the metadata
/// the instrument wrote into the file; the scale bar against the pixel size.
pub fn databar_checks(archive: &Path, labels: &Path) -> Result<Vec<DatabarCheck>> {
    let printed: Vec<(String, Vec<String>)> = rows(&labels.join("databars.csv"))?
        .into_iter()
        .map(|r| (r[0].clone(), r.get(1).map(|p| p.split_whitespace().map(String::from).collect()).unwrap_or_default()))
        .collect();
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(archive).sort_by_file_name() {
        let entry = entry?;
        if !entry.file_type().is_file() || !crate::archive::is_image(entry.path()) {
            continue;
        }
        let bytes = std::fs::read(entry.path())?;
        let Ok(reading) = crate::archive::read(&bytes, &crate::archive::sidecars(entry.path())) else { continue };
        let (Some(rows), Ok(g)) = (reading.databar_rows, crate::archive::read::pixels(&bytes)) else { continue };
        let img = image::GrayImage::from_raw(g.width, g.height, g.pixels).context("pixel buffer")?;
        let text = databar::read(&img, [0, g.height - rows, g.width, g.height]);
        let path = entry.path().strip_prefix(archive)?.to_string_lossy().replace('\\', "/");
        let Some((_, fields)) = printed.iter().find(|(p, _)| path.starts_with(p.as_str())) else {
            out.push(DatabarCheck {
                path,
                text,
                right: Vec::new(),
                wrong: vec!["not in databars.csv".into()],
                unread: Vec::new(),
            });
            continue;
        };
        let meta = &reading.meta;
        let close = |a: Option<f64>, b: Option<f64>, tol: f64| a.zip(b).is_some_and(|(a, b)| (a - b).abs() <= tol);
        let (mut right, mut wrong, mut unread) = (Vec::new(), Vec::new(), Vec::new());
        if fields.is_empty() && !text.lines.is_empty() {
            wrong.push(format!("text on a blank bar: {:?}", text.lines));
        }
        for f in fields {
            let read = match f.as_str() {
                "kv" => text.kv.is_some(),
                "magnification" => text.magnification.is_some(),
                "wd" => text.wd_mm.is_some(),
                "detector" => text.detector.is_some(),
                "date" => text.date.is_some(),
                "time" => text.time.is_some(),
                _ => text.scale_bar.is_some(),
            };
            let ok = match f.as_str() {
                "kv" => close(text.kv, meta.kv, 0.01),
                "magnification" => {
                    close(text.magnification, meta.magnification, 0.01 * meta.magnification.unwrap_or(0.0))
                }
                // Printed to 0.1 or 0.01 mm.
                "wd" => close(text.wd_mm, meta.wd_mm, 0.051),
                "detector" => {
                    text.detector.as_ref().zip(meta.detector.as_ref()).is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
                }
                "date" => text.date.is_some() && text.date == meta.acquired_at.map(|t| t.date()),
                // Printed to the second (Zeiss prints the bar a second or
                // two before it stamps the file), or to the minute (Hitachi).
                "time" => text.time.zip(meta.acquired_at.map(|t| t.time())).is_some_and(|(read, meta)| {
                    let to_minute = |t: chrono::NaiveTime| t.format("%H:%M").to_string();
                    (meta - read).num_seconds().abs() <= 2
                        || (chrono::Timelike::second(&read) == 0 && to_minute(read) == to_minute(meta))
                }),
                "scale" => text
                    .scale_bar
                    .as_ref()
                    .zip(reading.pixel_size_nm)
                    .is_some_and(|(s, px)| (ocr::nm(s.value, &s.unit) / s.length_px / px - 1.0).abs() <= 0.03),
                other => bail!("databars.csv: unknown setting {other}"),
            };
            match (ok, read) {
                (true, _) => right.push(f.clone()),
                (false, true) => wrong.push(f.clone()),
                (false, false) => unread.push(f.clone()),
            }
        }
        out.push(DatabarCheck { path, text, right, wrong, unread });
    }
    Ok(out)
}

fn iou(a: [u32; 4], b: [u32; 4]) -> f64 {
    let ix = a[2].min(b[2]).saturating_sub(a[0].max(b[0])) as f64;
    let iy = a[3].min(b[3]).saturating_sub(a[1].max(b[1])) as f64;
    let inter = ix * iy;
    let area = |r: [u32; 4]| ((r[2] - r[0]) * (r[3] - r[1])) as f64;
    inter / (area(a) + area(b) - inter).max(1.0)
}

/// A detected bar is the bar of the truth box `t` when the boxes overlap by
/// half (IoU), or when they span the same columns (IoU of the x-extents at
/// least 0.8) on rows that overlap: on a bar one or two rows thick,
/// one row more or less halves the IoU but changes neither the bar nor its
/// length.
fn same_bar(d: [u32; 4], t: [u32; 4]) -> bool {
    let span = |r: [u32; 4]| [r[0], 0, r[2], 1];
    let rows_meet = d[1] < t[3] && t[1] < d[3];
    iou(d, t) >= 0.5 || (iou(span(d), span(t)) >= 0.8 && rows_meet)
}

/// A truth box, `x0 y0 x1 y1` (a bar's ends to a fraction of a pixel): the
/// pixels it touches and its width.
fn parse_box(s: &str) -> Option<([u32; 4], f64)> {
    let v: Vec<f64> = s.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let &[x0, y0, x1, y1] = v.as_slice() else { return None };
    let touched = [x0.floor(), y0, x1.ceil(), y1].map(|c| c.max(0.0) as u32);
    Some((touched, x1 - x0))
}

fn rows(path: &Path) -> Result<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|l| l.splitn(3, ',').map(str::to_string).collect())
        .collect())
}

fn gray(path: &Path) -> Result<image::GrayImage> {
    // By content: some of the real figures are PNGs named .jpg.
    let reader = image::ImageReader::open(path)?.with_guessed_format()?;
    Ok(reader.decode().with_context(|| format!("decoding {}", path.display()))?.to_luma8())
}

/// Runs the benchmark.
pub fn run_figures(opts: &FiguresBenchOptions) -> Result<FiguresReport> {
    let emps = opts.published.join("emps-train/images");
    if !emps.is_dir() {
        bail!("{} is absent (is ../shared/data present?)", emps.display());
    }
    let have_tesseract = Command::new("tesseract").arg("--version").output().is_ok();
    let mut r = FiguresReport {
        crops_tesseract_exact: have_tesseract.then_some(0),
        labels_exact_with_tesseract: have_tesseract.then_some(0),
        ..Default::default()
    };
    let mut length_errors = Vec::new();
    let (mut confident_exact, mut confident_wrong) = (Vec::new(), Vec::new());
    for row in rows(&opts.labels.join("emps-train-scalebars.csv"))? {
        let (file, bar, label) = (row[0].as_str(), row[1].as_str(), row.get(2).map_or("", |s| s.as_str()));
        let img = gray(&emps.join(file))?;
        let detected: Vec<figure::ScaleBar> =
            figure::panels(&img).into_iter().filter_map(|p: Panel| p.scale_bar).collect();
        r.panels += 1;
        let truth = ocr::parse(label);
        let has_bar = bar != "none";
        r.with_bar += usize::from(has_bar);
        r.with_label += usize::from(has_bar && truth.is_some());
        let truth_bar = parse_box(bar);
        let truth_box = truth_bar.map(|(t, _)| t);
        let hit = truth_box.and_then(|t| detected.iter().find(|d| same_bar(d.bbox, t)));
        let false_bars = match (has_bar, truth_box) {
            (false, _) => detected.len(),
            (true, Some(_)) => detected.len() - usize::from(hit.is_some()),
            (true, None) => {
                r.unverified += detected.len();
                0
            }
        };
        r.false_bars += false_bars;
        let read = hit.and_then(|d| Some((d.value?, d.unit.clone()?)));
        if let Some(d) = hit {
            r.bars_found += 1;
            let (_, length) = truth_bar.expect("a hit has a box");
            length_errors.push((d.length_px - length).abs());
        }
        let exact = truth.is_some() && read == truth;
        r.labels_exact += usize::from(exact);
        if let (Some(d), Some(_)) = (hit, &read) {
            if exact { &mut confident_exact } else { &mut confident_wrong }.push(d.confidence);
            r.labels_wrong += usize::from(!exact && truth.is_some());
        }
        if let (Some((t, length)), Some((value, unit))) = (truth_bar, &truth) {
            r.with_scale += 1;
            let want = ocr::nm(*value, unit) / length;
            let got = hit.and_then(|d| Some(ocr::nm(d.value?, d.unit.as_deref()?) / d.length_px));
            let within = got.is_some_and(|g| (g - want).abs() <= 0.03 * want);
            r.scale_within_3pct += usize::from(within);
            if opts.show_failures && exact && !within {
                eprintln!("{file}: label exact, nm/px {:.4} against {want:.4}", got.unwrap_or(f64::NAN));
            }
            // The same label crop for both readers.
            let region = ocr::label_region(&img, t);
            let crop =
                image::imageops::crop_imm(&img, region[0], region[1], region[2] - region[0], region[3] - region[1])
                    .to_image();
            r.crops += 1;
            let ours = scalebar_label(&crop);
            let want = Some((*value, unit.clone()));
            r.crops_emtrace_exact += usize::from(ours == want);
            if have_tesseract {
                let theirs = ocr::tesseract(&img, t);
                if let Some(n) = r.crops_tesseract_exact.as_mut() {
                    *n += usize::from(theirs == want);
                }
                // The whole pipeline with Tesseract for labels the glyph reader is unsure of.
                let with = figure::panels_with(&img, &figure::Options { tesseract: true }, &figure::Vector::default());
                let read = with.iter().filter_map(|p| p.scale_bar.as_ref()).find(|d| same_bar(d.bbox, t));
                let read = read.and_then(|d| Some((d.value?, d.unit.clone()?)));
                if let Some(n) = r.labels_exact_with_tesseract.as_mut() {
                    *n += usize::from(read == want);
                }
            }
        }
        if opts.show_failures && (false_bars > 0 || (has_bar && (hit.is_none() || (truth.is_some() && !exact)))) {
            let got: Vec<String> = detected.iter().map(|d| format!("{:?} {:?}", d.bbox, d.text)).collect();
            eprintln!("{file}: truth {bar} {label:?}; found {got:?}");
        }
    }
    for row in rows(&opts.labels.join("exsclaim-panels.csv"))? {
        let img = gray(&opts.published.join("exsclaim/figures").join(&row[0]))?;
        let (truth, _) = parse_box(&row[1]).context("panel box")?;
        let found = figure::panels(&img).iter().any(|p| p.micrograph && iou(p.bbox, truth) >= 0.9);
        r.figure_panels += 1;
        r.figure_panels_found += usize::from(found);
        if opts.show_failures && !found {
            eprintln!("{}: micrograph panel {truth:?} not found", row[0]);
        }
    }
    if opts.archive.is_dir() {
        for c in databar_checks(&opts.archive, &opts.labels)? {
            r.databars += 1;
            r.databars_right += usize::from(c.wrong.is_empty() && c.unread.is_empty());
            r.databar_settings += c.right.len() + c.wrong.len() + c.unread.len();
            r.databar_settings_right += c.right.len();
            r.databar_settings_wrong += c.wrong.len();
            if opts.show_failures && !(c.wrong.is_empty() && c.unread.is_empty()) {
                eprintln!("{}: data bar wrong in {:?}, unread {:?}: read {:?}", c.path, c.wrong, c.unread, c.text);
            }
        }
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    r.bar_length_error_px = mean(&length_errors).unwrap_or(0.0);
    r.confidence_exact = mean(&confident_exact);
    r.confidence_wrong = mean(&confident_wrong);
    Ok(r)
}

/// emtrace's reading of a label crop: its bar and label.
fn scalebar_label(crop: &image::GrayImage) -> Option<(f64, String)> {
    let bar = figure::scale_bar(crop, &figure::Options::default())?;
    Some((bar.value?, bar.unit?))
}

/// Prints the report.
pub fn print_figures(out: &mut impl Write, r: &FiguresReport) -> std::io::Result<()> {
    writeln!(out, "Scale bars on {} labelled emps-train panels ({} with a bar)", r.panels, r.with_bar)?;
    let precision = pct(r.bars_found, r.bars_found + r.false_bars);
    writeln!(out, "  detection recall     {:>4}/{:<4} {:>7}", r.bars_found, r.with_bar, pct(r.bars_found, r.with_bar))?;
    writeln!(out, "  detection precision  {:>4}/{:<4} {:>7}", r.bars_found, r.bars_found + r.false_bars, precision)?;
    writeln!(out, "  unverified detections (bar box not recorded): {}", r.unverified)?;
    writeln!(
        out,
        "  label value+unit exact {:>4}/{:<4} {:>7}",
        r.labels_exact,
        r.with_label,
        pct(r.labels_exact, r.with_label)
    )?;
    writeln!(out, "  label read as another length {:>4}/{:<4}", r.labels_wrong, r.with_label)?;
    writeln!(
        out,
        "  nm/px within 3%      {:>4}/{:<4} {:>7}",
        r.scale_within_3pct,
        r.with_scale,
        pct(r.scale_within_3pct, r.with_scale)
    )?;
    writeln!(
        out,
        "  bar length error     {:.2} px mean (against ends measured at half maximum)",
        r.bar_length_error_px
    )?;
    writeln!(
        out,
        "  label confidence     {} mean on exact reads, {} on wrong reads that parsed",
        shown(r.confidence_exact),
        shown(r.confidence_wrong)
    )?;
    writeln!(out, "Label crops ({}), same crops for both readers:", r.crops)?;
    writeln!(out, "  emtrace   exact {:>4} {:>7}", r.crops_emtrace_exact, pct(r.crops_emtrace_exact, r.crops))?;
    match r.crops_tesseract_exact {
        Some(n) => writeln!(out, "  tesseract exact {:>4} {:>7}", n, pct(n, r.crops))?,
        None => writeln!(out, "  tesseract not installed (apt-get install tesseract-ocr, or .ci/bench-deps)")?,
    }
    if let Some(n) = r.labels_exact_with_tesseract {
        writeln!(out, "  emtrace --tesseract (glyphs, Tesseract when unsure) exact {:>4} {:>7}", n, pct(n, r.crops))?;
    }
    writeln!(
        out,
        "Panel split: micrograph panels of multi-panel figures found (IoU ≥ 0.9): {}/{} {}",
        r.figure_panels_found,
        r.figure_panels,
        pct(r.figure_panels_found, r.figure_panels)
    )?;
    writeln!(
        out,
        "Data bars on archive images: read right in every printed setting {}/{} {}",
        r.databars_right,
        r.databars,
        pct(r.databars_right, r.databars),
    )?;
    let unread = r.databar_settings - r.databar_settings_right - r.databar_settings_wrong;
    writeln!(
        out,
        "  settings (kV, magnification, WD, detector, date, time, scale bar) {}/{} {} right, {} wrong, {} not read",
        r.databar_settings_right,
        r.databar_settings,
        pct(r.databar_settings_right, r.databar_settings),
        r.databar_settings_wrong,
        unread
    )?;
    Ok(())
}

/// A mean to two places, or "none" where there was nothing to average.
fn shown(mean: Option<f64>) -> String {
    mean.map_or_else(|| "none".to_string(), |m| format!("{m:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_bars_to_a_fraction_of_a_pixel() {
        let (touched, length) = parse_box("26.23 488 175.03 496").unwrap();
        assert_eq!(touched, [26, 488, 176, 496]);
        assert!((length - 148.8).abs() < 1e-9, "{length}");
        assert_eq!(parse_box("10 5 60 8"), Some(([10, 5, 60, 8], 50.0)));
        assert_eq!(parse_box("?"), None);
        assert_eq!(parse_box("none"), None);
    }
}
