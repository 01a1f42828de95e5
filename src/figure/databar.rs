//! Reading an instrument data bar: its text lines, the settings they print
//! (kV, magnification, working distance, detector, date) and its scale bar.
//!
//! Data bars are drawn by instrument software in one sans font on a flat
//! background, so the text is clean: ink is whatever differs from the
//! background grey, glyphs are its connected components (pieces stacked
//! over each other, as in `i`, `:` and `=`, are one glyph; letters that touch
//! are cut where two reads beat one), and each glyph is the nearest of
//! templates rendered from the fonts vendors use ([`ocr::TEXT`]). Lines grow
//! glyph by glyph from the left, so a label set a few pixels lower beside a
//! line stays apart; runs on one baseline are one line, split into cells at
//! wide gaps, and digit-like letters where a number stands are read as
//! digits. A setting is read from a `Key = value` cell (Zeiss), from the
//! words under a key (FEI and TESCAN tables) or from its own form where the
//! bar prints no keys (Hitachi: `15kV 7.9mm x600`). The scale bar is a
//! horizontal rule (with end caps, or in two halves around its label) or a
//! ruler of evenly spaced ticks, next to a word that reads as a length.

use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveTime};
use image::GrayImage;
use regex::Regex;
use serde::Serialize;

use super::ocr::{self, Band, Blob, TEXT};
use super::small;

/// What a data bar says.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Text {
    /// The lines read, top to bottom; cells of one line are separated by " | ".
    pub lines: Vec<String>,
    /// Accelerating voltage in kV.
    pub kv: Option<f64>,
    /// Magnification as printed (`4.00 K X` is 4000).
    pub magnification: Option<f64>,
    /// Working distance in mm.
    pub wd_mm: Option<f64>,
    /// Detector or signal as printed (`SE2`, `E-T`, `BSE`).
    pub detector: Option<String>,
    /// Acquisition date as printed.
    pub date: Option<NaiveDate>,
    /// Acquisition time of day as printed (`20:56:52`, `16:41`, `1:04:14 PM`).
    pub time: Option<NaiveTime>,
    /// The bar's scale bar and its label.
    pub scale_bar: Option<Scale>,
}

/// The scale bar printed on a data bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scale {
    /// The label's number.
    pub value: f64,
    /// The label's unit (`nm`, `µm`, `mm`, `pm`, `Å`).
    pub unit: String,
    /// The bar (or the ruler's first to last tick), image pixels.
    pub bbox: [u32; 4],
    /// Its length in pixels.
    pub length_px: f64,
}

/// A run of glyphs with no wide gap, and its text.
#[derive(Debug, Clone)]
struct Cell {
    text: String,
    bbox: [u32; 4],
    /// The index of its line.
    line: usize,
    words: Vec<Word>,
}

/// A word of a cell.
#[derive(Debug, Clone)]
struct Word {
    text: String,
    bbox: [u32; 4],
}

/// Ink differs from the background by at least this fraction of the
/// largest difference (TESCAN prints its keys in dim grey).
const INK: f32 = 0.2;
/// Glyphs further apart than this many band heights start a new cell.
const CELL_GAP: f32 = 1.6;

/// Reads the data bar at `bbox` in `img`.
pub fn read(img: &GrayImage, bbox: [u32; 4]) -> Text {
    let [bx0, by0, bx1, by1] = bbox;
    let (w, h) = ((bx1 - bx0) as usize, (by1 - by0) as usize);
    // The background is the commonest grey of the bar's bottom quarter: a
    // bar found with flat picture above it (a grey field over Hitachi's
    // black strip) is mostly that picture.
    let (mut hist, mut bottom) = ([0u32; 256], [0u32; 256]);
    let foot = by1.saturating_sub((h as u32 / 4).max(1));
    for y in by0..by1 {
        for x in bx0..bx1 {
            let v = img.get_pixel(x, y)[0] as usize;
            hist[v] += 1;
            if y >= foot {
                bottom[v] += 1;
            }
        }
    }
    let bg = (0..256).max_by_key(|v| bottom[*v]).unwrap_or(0) as f32;
    let diff = |v: u8| (v as f32 - bg).abs();
    let dmax = (0..256).filter(|v| hist[*v] > 0).map(|v| diff(v as u8)).fold(0.0, f32::max);
    if dmax < 40.0 {
        return Text::default();
    }
    let threshold = (INK * dmax).max(25.0);
    let ink: Vec<bool> =
        (0..h * w).map(|i| diff(img.get_pixel(bx0 + (i % w) as u32, by0 + (i / w) as u32)[0]) > threshold).collect();
    let blobs: Vec<Blob> = ocr::components(&ink, w, h, true)
        .into_iter()
        .map(|b| Blob { x0: b.x0 + bx0, y0: b.y0 + by0, x1: b.x1 + bx0, y1: b.y1 + by0 })
        .collect();
    let is_ink = |x: u32, y: u32| ink[(y - by0) as usize * w + (x - bx0) as usize];

    // Rules (a scale bar, with or without end caps), ruler ticks, and what
    // is too tall for text (table borders, logos).
    let rows = by1 - by0;
    let inked_row = |b: &Blob, y: u32| (b.x0..b.x1).filter(|x| is_ink(*x, y)).count() * 5 >= b.w() as usize * 4;
    let inked_col = |b: &Blob, x: u32| (b.y0..b.y1).filter(|y| is_ink(x, *y)).count();
    // A rule between thin end caps as tall as it is long or less (Zeiss
    // shrunk to 512 pixels: 18 px between 12-px caps): both ends inked most
    // of the height, nothing between them but the rule's rows.
    let capped = |b: &Blob| {
        let h = b.h() as usize;
        h >= 5
            && [b.x0, b.x1 - 1].iter().all(|x| inked_col(b, *x) * 3 >= h * 2)
            && (b.x0 + 2..b.x1 - 2).all(|x| inked_col(b, x) <= (h / 4).max(2))
            && (b.y0 + 1..b.y1 - 1).any(|y| inked_row(b, y))
    };
    let is_rule = |b: &Blob| {
        b.w() >= 16 && ((b.w() >= 2 * b.h() && (b.y0..b.y1).any(|y| inked_row(b, y))) || (b.h() <= b.w() && capped(b)))
    };
    // A rule across nearly the bar's whole width is its border, no scale.
    let rules: Vec<Blob> =
        blobs.iter().filter(|b| is_rule(b) && b.h() * 10 < rows * 6 && b.w() * 10 < (w * 9) as u32).copied().collect();
    let ticks = ruler(&blobs);
    let text_blobs: Vec<Blob> = blobs
        .iter()
        .filter(|b| !is_rule(b) && b.h() * 10 < rows * 6 && !ticks.iter().any(|t| t.x0 == b.x0 && t.y0 == b.y0))
        .copied()
        .collect();

    let lines = text_lines(&text_blobs);
    let bands: Vec<Band> = lines.iter().map(|l| line_band(l)).collect();
    let typical = {
        let mut hs: Vec<f32> = bands.iter().map(Band::height).collect();
        hs.sort_by(f32::total_cmp);
        hs.get(hs.len() / 2).copied().unwrap_or(1.0)
    };
    let mut cells = Vec::new();
    let mut out = Text::default();
    for (i, (line, mut band)) in lines.iter().zip(bands).enumerate() {
        // A line of lower-case letters only: its band is the bar's usual one.
        if band.height() < 0.8 * typical {
            band.top = band.base.saturating_sub(typical.round() as u32);
        }
        let line_cells = read_line(img, line, band, &diff, threshold, i);
        out.lines.push(line_cells.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join(" | "));
        cells.extend(line_cells);
    }
    settings(&cells, &mut out);
    out.scale_bar = scale(&rules, &ticks, &cells);
    out
}

/// The cells of text line number `i`: glyphs read, words at spaces, cells
/// at wide gaps, digit-like letters in numbers made digits.
fn read_line(img: &GrayImage, line: &[Blob], band: Band, diff: &impl Fn(u8) -> f32, ink: f32, i: usize) -> Vec<Cell> {
    // The line at its own contrast (TESCAN's keys are dim grey).
    let lmax = line
        .iter()
        .flat_map(|g| (g.y0..g.y1).flat_map(move |y| (g.x0..g.x1).map(move |x| (x, y))))
        .map(|(x, y)| diff(img.get_pixel(x, y)[0]))
        .fold(ink, f32::max);
    let level = |v: u8| (diff(v) / lmax).clamp(0.0, 1.0);
    // A space is a gap clearly wider than the line's usual gap between letters.
    let mut gaps: Vec<f32> = line.windows(2).map(|p| p[1].x0 as f32 - p[0].x1 as f32).collect();
    gaps.sort_by(f32::total_cmp);
    let letter_gap = gaps.get(gaps.len() / 3).copied().unwrap_or(0.0).max(0.0);
    let space = letter_gap + 0.25 * band.height();
    let mut cells = Vec::new();
    for run in line.chunk_by(|a, b| (b.x0 as f32 - a.x1 as f32) <= CELL_GAP * band.height()) {
        let mut words: Vec<Word> = Vec::new();
        if let Some((base, cap)) = tiny(run) {
            // Ink of the run's own glyphs only: not the bar's border, nor
            // the next line.
            let ink = |x: u32, y: u32| {
                run.iter().any(|g| (g.x0..g.x1).contains(&x) && (g.y0..g.y1).contains(&y))
                    && diff(img.get_pixel(x, y)[0]) > ink
            };
            let Blob { x0, x1, .. } = Blob::around(run);
            words.extend(small::read(&ink, x0, x1, base, cap).into_iter().map(|(text, bbox)| Word { text, bbox }));
        }
        let whole = if words.is_empty() { run } else { &[] };
        for (k, g) in whole.iter().enumerate() {
            for (n, (ch, _, g)) in TEXT.read(img, g, band, &level).into_iter().enumerate() {
                match words.last_mut() {
                    Some(w) if n > 0 || (k > 0 && (g.x0 as f32 - run[k - 1].x1 as f32) <= space) => {
                        w.text.push(ch);
                        w.bbox = [w.bbox[0], w.bbox[1].min(g.y0), g.x1.max(w.bbox[2]), w.bbox[3].max(g.y1)];
                    }
                    _ => words.push(Word { text: ch.to_string(), bbox: [g.x0, g.y0, g.x1, g.y1] }),
                }
            }
        }
        numerals(&mut words);
        let text = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
        let bbox = Blob::around(run).bbox();
        cells.push(Cell { text, bbox, line: i, words });
    }
    cells
}

/// The baseline (the first row under the capitals) and capital height of a
/// cell of tiny text, which [`small`] reads whole: its glyphs at least 4 px
/// high mostly 5 or 6 high (touching letters cannot be cut apart there).
fn tiny(run: &[Blob]) -> Option<(u32, u32)> {
    let median = |mut v: Vec<u32>| {
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    };
    let tall: Vec<&Blob> = run.iter().filter(|g| g.h() >= 4).collect();
    let (top, base) = (median(tall.iter().map(|g| g.y0).collect())?, median(tall.iter().map(|g| g.y1).collect())?);
    let cap = median(tall.iter().map(|g| g.h()).collect())?;
    (5..=6).contains(&cap).then_some((base, base.saturating_sub(top)))
}

/// Letters that small fonts draw like digits, and the digit.
const DIGIT_LIKE: &[(char, char)] =
    &[('f', '1'), ('t', '1'), ('l', '1'), ('I', '1'), ('i', '1'), ('O', '0'), ('o', '0'), ('z', '2'), ('Z', '2')];

/// Units that follow a number.
const UNITS: &[&str] =
    &["nm", "µm", "um", "mm", "pm", "kV", "kv", "keV", "K", "X", "x", "kx", "pA", "nA", "mbar", "Torr", "Pa", "s"];

/// Digit-like letters read as digits where a number stands: next to a
/// digit or a decimal point in a word (`20f8`, `f0.00`), or alone before a
/// unit (`f µm`).
fn numerals(words: &mut [Word]) {
    for i in 0..words.len() {
        let before_unit = words.get(i + 1).is_some_and(|n| UNITS.contains(&n.text.as_str()));
        let mut chars: Vec<char> = words[i].text.chars().collect();
        let digit = |c: &char| c.is_ascii_digit();
        let like = |c: &char| DIGIT_LIKE.iter().find(|(l, _)| l == c).map(|(_, d)| *d);
        // The number before a unit, spaced (`f µm`) or not (`fµm`).
        let unit_at = match before_unit {
            true => Some(chars.len()),
            false => UNITS
                .iter()
                .filter(|u| u.len() > 1)
                .find_map(|u| words[i].text.strip_suffix(u))
                .map(|p| p.chars().count()),
        };
        if let Some(n) = unit_at.filter(|n| *n > 0) {
            if chars[..n].iter().all(|c| digit(c) || *c == '.' || like(c).is_some()) {
                for c in &mut chars[..n] {
                    *c = like(c).unwrap_or(*c);
                }
            }
        }
        // Repeat so that runs (`ff.4`) turn one letter at a time.
        loop {
            let mut changed = false;
            for k in 0..chars.len() {
                let near =
                    |j: Option<usize>| j.and_then(|j| chars.get(j)).is_some_and(|c| digit(c) || *c == '.' || *c == ':');
                let beside_digit = near(k.checked_sub(1)) || near(Some(k + 1));
                let has_digit = chars.iter().any(digit);
                if let Some((_, d)) = DIGIT_LIKE.iter().find(|(l, _)| *l == chars[k]) {
                    if beside_digit && has_digit {
                        chars[k] = *d;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        words[i].text = chars.into_iter().collect();
    }
}

/// At least five tick marks of one size on one row, evenly spaced: a ruler.
fn ruler(blobs: &[Blob]) -> Vec<Blob> {
    let tick = |b: &&Blob| b.w() <= 4 && b.h() >= 2 && b.h() >= b.w();
    let mut best: Vec<Blob> = Vec::new();
    for seed in blobs.iter().filter(tick) {
        let mut row: Vec<Blob> = blobs
            .iter()
            .filter(tick)
            .filter(|b| b.y0 == seed.y0 && b.y1 == seed.y1 && b.w() == seed.w())
            .copied()
            .collect();
        row.sort_by_key(|b| b.x0);
        let mut steps: Vec<u32> = row.windows(2).map(|p| p[1].x0 - p[0].x0).collect();
        steps.sort_unstable();
        let step = steps.get(steps.len() / 2).copied().unwrap_or(0);
        // Ticks at a whole-pixel place each: within 10% of the usual step.
        let even = step > 4 * seed.w() && steps.iter().all(|s| s.abs_diff(step) * 10 <= step.max(10));
        if row.len() >= 5 && even && row.len() > best.len() {
            best = row;
        }
    }
    best
}

/// Glyphs grouped into lines, top to bottom, each sorted left to right with
/// stacked pieces merged: lines grow from glyphs at least 5 px tall that
/// lie mostly in their height; smaller pieces (points, dashes) join the line whose
/// band holds their middle.
fn text_lines(blobs: &[Blob]) -> Vec<Vec<Blob>> {
    // A run's span: the median top and bottom of its glyphs so far (a
    // descender or a tall neighbour does not stretch it into the next line).
    let span =
        |l: &[Blob]| (ocr::median(l.iter().map(|g| g.y0).collect()), ocr::median(l.iter().map(|g| g.y1).collect()));
    // Runs grow left to right, glyph by glyph: a glyph joins the run whose
    // last glyph is at most a height to its left and whose span holds its
    // middle or most of it (µ and p hang below). A label a few pixels lower
    // beside a line starts a run of its own.
    let mut tall: Vec<&Blob> = blobs.iter().filter(|b| b.h() >= 5).collect();
    tall.sort_by_key(|b| (b.x0, b.y0));
    let mut runs: Vec<Vec<Blob>> = Vec::new();
    for b in tall {
        let mid = (b.y0 + b.y1) / 2;
        let fits = |r: &Vec<Blob>| {
            let (t, u) = span(r);
            let last = r.last().expect("runs are never empty");
            let h = (u - t).max(b.h());
            let near = b.x0 + h / 2 >= last.x1 && b.x0 <= last.x1 + h;
            near && ((mid >= t && mid <= u) || 2 * (u.min(b.y1).saturating_sub(t.max(b.y0))) >= b.h())
        };
        match runs.iter_mut().filter(|r| fits(r)).min_by_key(|r| {
            let (t, u) = span(r);
            ((t + u) / 2).abs_diff(mid)
        }) {
            Some(r) => r.push(*b),
            None => runs.push(vec![*b]),
        }
    }
    // Runs on one row (the same baseline, glyphs as tall) are one line.
    let row = |r: &[Blob]| {
        let band = line_band(r);
        (band.base, band.height())
    };
    runs.sort_by_key(|r| (span(r).0, r[0].x0));
    let mut lines: Vec<Vec<Blob>> = Vec::new();
    for r in runs {
        let (base, h) = row(&r);
        match lines.iter_mut().find(|l| {
            let (lbase, lh) = row(l);
            let slack = (lh.max(h) / 5.0).max(2.0);
            lbase.abs_diff(base) as f32 <= slack && (lh - h).abs() <= 2.0 * slack
        }) {
            Some(l) => l.extend(r),
            None => lines.push(r),
        }
    }
    lines.sort_by_key(|l| span(l).0);
    // Points and dashes join the line that holds their middle, nearest first.
    let spans: Vec<(u32, u32)> = lines.iter().map(|l| span(l)).collect();
    for b in blobs.iter().filter(|b| b.h() < 5) {
        let mid = (b.y0 + b.y1) as f32 / 2.0;
        let gap = |l: &Vec<Blob>| {
            l.iter().map(|g| g.x0.saturating_sub(b.x1).max(b.x0.saturating_sub(g.x1))).min().unwrap_or(u32::MAX)
        };
        let near = (0..lines.len())
            .filter(|i| {
                let (t, u) = spans[*i];
                let slack = (u - t) as f32 * 0.25;
                mid >= t as f32 - slack && mid <= u as f32 + slack && gap(&lines[*i]) <= 2 * (u - t)
            })
            .min_by_key(|i| gap(&lines[*i]));
        if let Some(i) = near {
            lines[i].push(*b);
        }
    }
    lines
        .into_iter()
        .map(|mut l| {
            // What is far taller than the line's glyphs is a logo or a box.
            let mut hs: Vec<u32> = l.iter().filter(|g| g.h() >= 5).map(Blob::h).collect();
            hs.sort_unstable();
            let usual = hs.get(hs.len() / 2).copied().unwrap_or(u32::MAX);
            l.retain(|g| g.h() * 10 <= usual * 22);
            l.sort_by_key(|g| g.x0);
            let mut merged: Vec<Blob> = Vec::new();
            for g in l {
                if let Some(last) = merged.last_mut() {
                    let overlap = last.x1.min(g.x1).saturating_sub(last.x0.max(g.x0));
                    let stacked = g.y1 <= last.y0 + 1 || last.y1 <= g.y0 + 1;
                    if stacked && overlap * 2 >= last.w().min(g.w()) {
                        *last = Blob {
                            x0: last.x0.min(g.x0),
                            y0: last.y0.min(g.y0),
                            x1: last.x1.max(g.x1),
                            y1: last.y1.max(g.y1),
                        };
                        continue;
                    }
                }
                merged.push(g);
            }
            merged
        })
        .collect()
}

/// A line's band: the top of its tallest glyphs, the median bottom of
/// those at least half as tall (descenders do not move it).
fn line_band(line: &[Blob]) -> Band {
    let tallest = line.iter().map(Blob::h).max().unwrap_or(1);
    let median = |mut v: Vec<u32>| {
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    let mut tops: Vec<u32> = line.iter().filter(|g| g.h() * 5 >= tallest * 4).map(|g| g.y0).collect();
    tops.sort_unstable();
    // The upper quartile: `1 µm` has its µ as tall as the 1, but lower.
    let top = tops.get(tops.len() / 4).copied().unwrap_or(0);
    let base = median(line.iter().filter(|g| g.h() * 2 >= tallest).map(|g| g.y1).collect());
    Band { top, base: base.max(top + 1) }
}

/// What a key names.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    Kv,
    Magnification,
    Wd,
    Detector,
    Date,
}

fn key(text: &str) -> Option<Key> {
    let k: String = text.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
    Some(match k.as_str() {
        "eht" | "hv" | "energy" | "acc" | "accv" | "kv" => Key::Kv,
        "mag" | "magn" | "magnification" => Key::Magnification,
        "wd" => Key::Wd,
        "signala" | "signal" | "det" | "detector" => Key::Detector,
        "date" => Key::Date,
        _ => return None,
    })
}

/// Settings from `Key = value` cells, from the cell under a key, then from
/// the forms a bar without keys prints.
fn settings(cells: &[Cell], out: &mut Text) {
    // Each cell's text with its decimal commas made points, once.
    let texts: Vec<String> = cells.iter().map(|c| decimal(&c.text)).collect();
    let mut pairs: Vec<(Key, String)> = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        if let Some((k, v)) = texts[i].split_once(['=', ':']) {
            let Some(k) = key(k) else { continue };
            let v = v.trim();
            let v = match v.is_empty() {
                // `Mag =` with its value in the next cell of the line.
                true => match cells.get(i + 1).filter(|n| n.line == c.line) {
                    Some(_) => texts[i + 1].clone(),
                    None => continue,
                },
                false => v.to_string(),
            };
            pairs.push((k, v));
        } else if let Some(k) = c.words.first().and_then(|w| key(&w.text)) {
            // A table: the value is the words of the next line under the key.
            let (kx0, kx1) = (c.bbox[0], c.bbox[2]);
            let reach = kx1 - kx0;
            let under = |w: &Word| {
                let mid = (w.bbox[0] + w.bbox[2]) / 2;
                mid + reach >= kx0 && mid <= kx1 + reach
            };
            let next =
                cells.iter().filter(|n| n.bbox[1] >= c.bbox[3] && n.words.iter().any(under)).map(|n| n.line).min();
            let value: Vec<&str> = cells
                .iter()
                .filter(|n| Some(n.line) == next)
                .flat_map(|n| n.words.iter().filter(|w| under(w)).map(|w| w.text.as_str()))
                .collect();
            if !value.is_empty() {
                pairs.push((k, value.join(" ")));
            }
        }
    }
    for (k, v) in &pairs {
        match k {
            Key::Kv => out.kv = out.kv.or_else(|| number(v)),
            Key::Magnification => out.magnification = out.magnification.or_else(|| magnification(v)),
            Key::Wd => out.wd_mm = out.wd_mm.or_else(|| number(v)),
            Key::Detector => {
                out.detector = out.detector.clone().or_else(|| v.split_whitespace().next().map(String::from))
            }
            Key::Date => out.date = out.date.or_else(|| date(v)),
        }
    }
    let all = texts.join("  ");
    static KV: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)(?:^|[^\w.,])(\d+(?:\.\d+)?) ?ke?v(?:\b|\d)").unwrap());
    static WD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)ke?v *(\d+(?:\.\d+)?) ?mm\b").unwrap());
    // `x600`, `x1.2k` (Hitachi) or `4.00 K X`, `120 x`.
    static MAG: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:^|\s)[xX] ?(\d+(?:\.\d+)?[kK]?)\b|\b(\d+(?:\.\d+)?(?: ?[kK])?) ?[xX](?:\s|$)").unwrap()
    });
    out.kv = out.kv.or_else(|| KV.captures(&all).and_then(|c| c[1].parse().ok()));
    out.wd_mm = out.wd_mm.or_else(|| WD.captures(&all).and_then(|c| c[1].parse().ok()));
    out.magnification = out
        .magnification
        .or_else(|| MAG.captures(&all).and_then(|c| magnification(&format!("{}x", c.get(1).or(c.get(2))?.as_str()))));
    out.date = out.date.or_else(|| date(&all));
    out.time = time(&all);
    out.detector = out.detector.clone().or_else(|| {
        all.split_whitespace().find(|t| DETECTORS.iter().any(|d| d.eq_ignore_ascii_case(t))).map(String::from)
    });
}

/// Detector names printed on bars without a key.
const DETECTORS: &[&str] = &["SE", "SE2", "BSE", "InLens", "ETD", "TLD", "LFD", "CBS", "BSD", "E-T", "HE-SE2", "ESB"];

/// A comma between digits that is no thousands separator (one or two
/// digits after it) as the decimal point it is: small text's point often
/// reads as a comma (`10,0kV`, `8,4mm`), and some locales print one.
fn decimal(text: &str) -> String {
    static COMMA: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d),(\d{1,2})(\D|$)").unwrap());
    COMMA.replace_all(text, "$1.$2$3").into_owned()
}

/// The first number of `text`.
fn number(text: &str) -> Option<f64> {
    static NUM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+(?:\.\d+)?").unwrap());
    NUM.find(text)?.as_str().parse().ok()
}

/// `4.00 K X`, `50.00 KX`, `105 X`, `60.0 kx`, `x600`, `1.2kx` → the factor.
fn magnification(text: &str) -> Option<f64> {
    static MAG: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(?:[xX] ?)?(\d+(?:\.\d+)?) ?([kK])? ?[xX]?$").unwrap());
    let c = MAG.captures(text.trim())?;
    let v: f64 = c[1].parse().ok()?;
    Some(if c.get(2).is_some() { v * 1000.0 } else { v })
}

/// The first date in `text`: `4 Dec 2018`, `2021/06/23`, `12/18/2017`
/// (month first, as FEI prints it, unless the first number is over 12).
fn date(text: &str) -> Option<NaiveDate> {
    static YMD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{4})/(\d{1,2})/(\d{1,2})\b").unwrap());
    static MDY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b").unwrap());
    static DMONY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(\d{1,2}) ?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* ?(\d{4})\b").unwrap()
    });
    let n = |s: &str| s.parse::<u32>().ok();
    if let Some(c) = YMD.captures(text) {
        return NaiveDate::from_ymd_opt(c[1].parse().ok()?, n(&c[2])?, n(&c[3])?);
    }
    if let Some(c) = MDY.captures(text) {
        let (a, b) = (n(&c[1])?, n(&c[2])?);
        let (m, d) = if a > 12 { (b, a) } else { (a, b) };
        return NaiveDate::from_ymd_opt(c[3].parse().ok()?, m, d);
    }
    let c = DMONY.captures(text)?;
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let m = months.iter().position(|m| *m == &c[2])? as u32 + 1;
    NaiveDate::from_ymd_opt(c[3].parse().ok()?, m, n(&c[1])?)
}

/// The first time of day in `text`: `20:56:52`, `16:41`, `1:04:14 PM`.
fn time(text: &str) -> Option<NaiveTime> {
    static TIME: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b(\d{1,2}) ?:(\d{2})(?::(\d{2}))?(?: ?([AP]M))?\b").unwrap());
    let c = TIME.captures(text)?;
    let mut hour: u32 = c[1].parse().ok()?;
    match c.get(4).map(|m| m.as_str()) {
        Some("PM") if hour < 12 => hour += 12,
        Some("AM") if hour == 12 => hour = 0,
        _ => {}
    }
    let second = c.get(3).map_or(Some(0), |s| s.as_str().parse().ok())?;
    NaiveTime::from_hms_opt(hour, c[2].parse().ok()?, second)
}

/// Two halves of one bar printed round its label: about as long as each
/// other (within a third), the label between them within two of its heights
/// of each.
pub(super) fn halves_round(left: [u32; 4], right: [u32; 4], label: [u32; 4]) -> bool {
    let slack = 2 * (label[3] - label[1]);
    let (lw, rw) = (left[2] - left[0], right[2] - right[0]);
    lw.abs_diff(rw) * 3 <= lw.max(rw)
        && (left[2]..=left[2] + slack).contains(&label[0])
        && (label[2]..=label[2] + slack).contains(&right[0])
}

/// The scale bar: the rule (halves on one row joined) or ruler nearest to
/// a cell that reads as a length.
fn scale(rules: &[Blob], ticks: &[Blob], cells: &[Cell]) -> Option<Scale> {
    let mut bars: Vec<[u32; 4]> = Vec::new();
    let mut sorted = rules.to_vec();
    sorted.sort_by_key(|r| r.x0);
    for r in sorted {
        let row = |b: &[u32; 4]| b[1] < r.y1 && r.y0 < b[3];
        match bars.last_mut().filter(|b| row(b)) {
            // Two halves of one length around their label: joined when a
            // length fills the gap between them.
            Some(b)
                if cells.iter().any(|c| {
                    halves_round(*b, [r.x0, r.y0, r.x1, r.y1], c.bbox) && ocr::first_length(&c.text).is_some()
                }) =>
            {
                *b = [b[0], b[1].min(r.y0), r.x1, b[3].max(r.y1)];
            }
            _ => bars.push([r.x0, r.y0, r.x1, r.y1]),
        }
    }
    if let (Some(first), Some(last)) = (ticks.first(), ticks.last()) {
        // From the first tick's middle to the last one's.
        let half = first.w() / 2;
        bars.push([first.x0 + half, first.y0, last.x0 + half + 1, last.y1]);
    }
    // Lengths (one word or two) that are not a setting (`WD = 8.6 mm`), in
    // the units instruments print on their bars: nm, µm or mm, never pm or
    // Å (a `100nm` read as `400pm` is no scale).
    let mut labels: Vec<(f64, String, [u32; 4])> = Vec::new();
    for c in cells {
        let setting = c.text.split_once(['=', ':']).and_then(|(k, _)| key(k)).or_else(|| key(&c.words[0].text));
        if setting == Some(Key::Wd) {
            continue;
        }
        for (i, w) in c.words.iter().enumerate() {
            let next = c.words.get(i + 1);
            let pair = next.and_then(|n| ocr::parse(&format!("{} {}", w.text, n.text)).map(|p| (p, n.bbox[2])));
            let read = ocr::parse(&w.text).map(|p| (p, w.bbox[2])).or(pair);
            if let Some(((v, u), x1)) = read.filter(|((_, u), _)| ["nm", "µm", "mm"].contains(&u.as_str())) {
                labels.push((v, u, [w.bbox[0], w.bbox[1], x1, w.bbox[3]]));
            }
        }
    }
    let distance = |b: &[u32; 4], l: &[u32; 4]| {
        let dx = if l[2] < b[0] { b[0] - l[2] } else { l[0].saturating_sub(b[2]) };
        let dy = if l[3] < b[1] { b[1] - l[3] } else { l[1].saturating_sub(b[3]) };
        dx + dy
    };
    // A label belongs to a bar it is over, under or beside, within three of
    // its heights: a length elsewhere on the bar is some other setting.
    let beside = |b: &[u32; 4], l: &[u32; 4]| {
        let (len, mid) = (b[2] - b[0], (l[0] + l[2]) / 2);
        mid + len / 2 >= b[0] && mid <= b[2] + len / 2 && distance(b, l) <= 3 * (l[3] - l[1])
    };
    let (bar, (value, unit, _)) = bars
        .iter()
        .flat_map(|b| labels.iter().map(move |l| (b, l)))
        .filter(|(b, l)| beside(b, &l.2))
        .min_by_key(|(b, l)| distance(b, &l.2))?;
    // End caps and ticks are a pixel wide: the length runs between their middles.
    Some(Scale { value: *value, unit: unit.clone(), bbox: *bar, length_px: (bar[2] - bar[0]).saturating_sub(1) as f64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_setting_forms() {
        assert_eq!(magnification("4.00 K X"), Some(4000.0));
        assert_eq!(magnification("50.00 KX"), Some(50000.0));
        assert_eq!(magnification("105 X"), Some(105.0));
        assert_eq!(magnification("x600"), Some(600.0));
        assert_eq!(magnification("60.0 kx"), Some(60000.0));
        assert_eq!(magnification("SE2"), None);
        assert_eq!(date("Date :16 Jan 2019"), NaiveDate::from_ymd_opt(2019, 1, 16));
        assert_eq!(date("TM4000 2021/06/23 16:41"), NaiveDate::from_ymd_opt(2021, 6, 23));
        assert_eq!(date("12/18/2017"), NaiveDate::from_ymd_opt(2017, 12, 18));
        assert_eq!(date("18/12/2017"), NaiveDate::from_ymd_opt(2017, 12, 18));
        assert_eq!(time("4 Dec 2018 | 20:56:52"), NaiveTime::from_hms_opt(20, 56, 52));
        assert_eq!(time("2021/06/23 16:41 | 50.0µm"), NaiveTime::from_hms_opt(16, 41, 0));
        assert_eq!(time("1 :04:14 PM 30 µs"), NaiveTime::from_hms_opt(13, 4, 14));
        assert_eq!(time("FIB Probe = 30KV:600pA"), None);
        assert_eq!(key("Signal A "), Some(Key::Detector));
        assert_eq!(key("Scan Rot"), None);
    }

    /// What `settings` makes of cells read as `texts`, one cell per line.
    fn settings_of(texts: &[&str]) -> Text {
        let cells: Vec<Cell> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Cell {
                text: t.to_string(),
                bbox: [0, 10 * i as u32, 100, 10 * i as u32 + 8],
                line: i,
                words: Vec::new(),
            })
            .collect();
        let mut out = Text::default();
        settings(&cells, &mut out);
        out
    }

    #[test]
    fn decimal_commas_and_numbers_glued_to_letters() {
        // Hitachi's small points read as commas; a thousands separator stays.
        let t = settings_of(&["SU8020 10,0kV 8,4mm x100k SE(TUL)"]);
        assert_eq!((t.kv, t.wd_mm, t.magnification), (Some(10.0), Some(8.4), Some(100_000.0)));
        assert_eq!(decimal("x100,000 | 1,5 mm"), "x100,000 | 1.5 mm");
        assert_eq!(settings_of(&["WD = 7,25 mm"]).wd_mm, Some(7.25));
        // Not `0kV` out of `10,0kV`, nor `2 kV` out of a misread `9.S2 kV`.
        assert_eq!(settings_of(&["GHT = 9.S2 kV"]).kv, None);
    }

    #[test]
    fn noise_and_slivers_read_without_panicking() {
        let mut seed = 7u32;
        let noise = GrayImage::from_fn(300, 60, |_, _| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            image::Luma([if (seed >> 16).is_multiple_of(5) { 255 } else { 0 }])
        });
        let read_noise = read(&noise, [0, 0, 300, 60]);
        assert!(read_noise.kv.is_none() && read_noise.scale_bar.is_none());
        for bbox in [[0, 59, 300, 60], [299, 0, 300, 60], [10, 10, 10, 10]] {
            assert!(read(&noise, bbox).scale_bar.is_none());
        }
        // Flat: nothing differs from the background.
        assert_eq!(read(&GrayImage::new(100, 20), [0, 0, 100, 20]), Text::default());
    }

    #[test]
    fn digit_like_letters_become_digits_only_where_a_number_stands() {
        let read = |text: &str| {
            let mut words: Vec<Word> =
                text.split(' ').map(|w| Word { text: w.to_string(), bbox: [0, 0, 1, 1] }).collect();
            numerals(&mut words);
            words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ")
        };
        assert_eq!(read("4 Dec 20f8 f9:0t:57"), "4 Dec 2018 19:01:57");
        assert_eq!(read("Mag = f0.00 K X fµm"), "Mag = 10.00 K X 1µm");
        assert_eq!(read("f µm WD = ff.4 mm"), "1 µm WD = 11.4 mm");
        assert_eq!(read("Signal A = SE2 Auriga-39-24 8.f6e-007 mbar"), "Signal A = SE2 Auriga-39-24 8.16e-007 mbar");
        assert_eq!(read("Scan Rot = Off"), "Scan Rot = Off");
    }
}
