//! Scale-bar detection: a solid horizontal bar, white or black, that
//! stands out from what is above and below it (in the micrograph or on a
//! label box), end caps allowed. Its length is measured to sub-pixel
//! precision between its ends at half maximum.

use image::GrayImage;
use serde::Serialize;

/// A scale bar found in a panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    /// `[x0, y0, x1, y1]` in panel pixels (exclusive ends).
    pub bbox: [u32; 4],
    /// Length in pixels, sub-pixel.
    pub length_px: f64,
    /// A white (light) bar rather than a black one.
    pub light: bool,
}

/// A line this close to the picture's commonest grey is of the picture's own.
const SAME_GREY: f64 = 4.0;
/// Pixels of one run stay within this of the run's first pixels' mean.
const UNIFORM: f64 = 14.0;
/// A bar differs from the rows around it by at least this...
const CONTRAST: f64 = 45.0;
/// ...or, where no bar does, by at least this (a grey bar on a dark
/// picture, a white bar on a light one), near the top or bottom edge (mid
/// field, faint lines are more often the picture's own).
const FAINT: f64 = 30.0;
/// A line only this far from the rows around it (a light grey bar on a grey
/// micrograph, a black core inside a faint outline) breaks the contrast
/// rule, so may break no other.
const DIM: f64 = 20.0;

/// A rectangle of uniform rows with matching ends.
#[derive(Debug, Clone, Copy)]
struct Rect {
    x0: u32,
    x1: u32,
    y0: u32,
    y1: u32,
    /// Mean grey of its pixels.
    mean: f64,
}

/// Runs of uniform grey along row `y`, at least `min_len` long: (start, end, mean).
fn runs(img: &GrayImage, y: u32, min_len: u32, max_len: u32) -> Vec<(u32, u32, f64)> {
    let w = img.width();
    let mut out = Vec::new();
    let mut x = 0;
    while x < w {
        let s = x;
        let (mut sum, mut n) = (0.0, 0.0);
        while x < w {
            let v = img.get_pixel(x, y)[0] as f64;
            // The first few pixels set the level; the rest must stay near it.
            if n >= 3.0 && (v - sum / n).abs() > UNIFORM {
                break;
            }
            sum += v;
            n += 1.0;
            x += 1;
        }
        if x - s >= min_len && x - s <= max_len {
            out.push((s, x, sum / n));
        } else if x - s < 4 {
            // An edge pixel set a wrong level: start again one pixel on.
            x = s + 1;
        }
    }
    out
}

/// What the search for a scale bar finds in a panel.
#[derive(Debug, Clone, PartialEq)]
pub enum Search {
    /// A bar by its shape and place alone: the best of clear contrast, else
    /// the best faint one.
    Bar(Bar),
    /// No such bar; lines that may be one but break one of the rules it
    /// keeps, best first: a one-row line without end caps, a bar shorter
    /// than a 25th of the panel (down to a 50th), a faint one mid-field, a
    /// [`ruler`] of ticks and a line on the picture's top or bottom rows;
    /// after all of these, a dim line of a bar's shape near the top or
    /// bottom edge. Each counts only when a label that reads as a length is
    /// beside it.
    Unsure(Vec<Bar>),
}

/// Searches a panel for its scale bar (each contrast's candidates are
/// gathered once, the faint ones only when no clear bar is found).
pub fn search(img: &GrayImage) -> Search {
    let mut all: Vec<Candidate> = Vec::new();
    for contrast in [CONTRAST, FAINT] {
        let found = candidates(img, contrast);
        if let Some(c) = found.iter().find(|c| c.sure) {
            return Search::Bar(c.bar.clone());
        }
        all.extend(found);
    }
    all.extend(ruler(img).map(|bar| Candidate { score: 1.5 * bar.length_px, bar, sure: false }));
    all.sort_by(|a, b| b.score.total_cmp(&a.score));
    all.extend(candidates(img, DIM));
    let mut bars: Vec<Bar> = Vec::new();
    for c in all {
        if !bars.iter().any(|b| b.bbox == c.bar.bbox) {
            bars.push(c.bar);
        }
    }
    Search::Unsure(bars)
}

/// The most likely scale bar in a panel, by its shape and place alone.
pub fn find(img: &GrayImage) -> Option<Bar> {
    match search(img) {
        Search::Bar(bar) => Some(bar),
        Search::Unsure(_) => None,
    }
}

/// The widest step between ticks a ruler may have, as a share of the width.
const RULER_STEP: u32 = 12;

/// A ruler in the lower half of the panel: at least six ticks (marks one to
/// three pixels wide, two or more rows tall but short) evenly spaced along
/// a row, as Hitachi prints over or in its data bar, solid or dotted. The
/// bar runs from the first tick's middle to the last one's, over the first
/// tick's rows.
pub fn ruler(img: &GrayImage) -> Option<Bar> {
    let (w, h) = img.dimensions();
    if w < 32 || h < 32 {
        return None;
    }
    let at = |x: u32, y: u32| img.get_pixel(x, y)[0] as f64;
    // A tick crossing row y at x: lighter (or darker) than two pixels to
    // each side by a clear contrast.
    let tick = |x: u32, y: u32, light: bool| {
        if x < 2 || x + 2 >= w {
            return false;
        }
        let (v, l, r) = (at(x, y), at(x - 2, y), at(x + 2, y));
        if light {
            v - l >= CONTRAST && v - r >= CONTRAST
        } else {
            l - v >= CONTRAST && r - v >= CONTRAST
        }
    };
    let tall = (h / 25).max(3);
    let mut best: Option<(usize, Bar)> = None;
    for light in [true, false] {
        for y in h / 2..h - 1 {
            // Ticks on this row and the next, not running on for long.
            let on = |x: u32, yy: u32| (x - 1..=x + 1).any(|x| tick(x, yy, light));
            let extent =
                |x: u32| (0..y).rev().take_while(|&yy| on(x, yy)).count() + (y..h).take_while(|&yy| on(x, yy)).count();
            let xs: Vec<u32> =
                (2..w - 2).filter(|&x| tick(x, y, light) && on(x, y + 1) && extent(x) <= tall as usize).collect();
            // Neighbouring columns are one tick, at their middle.
            let mut centres: Vec<(u32, u32)> = Vec::new();
            for x in xs {
                match centres.last_mut() {
                    Some(run) if run.1 + 1 == x => run.1 = x,
                    _ => centres.push((x, x)),
                }
            }
            let centres: Vec<f64> = centres.iter().map(|(a, b)| (a + b) as f64 / 2.0).collect();
            for (i, &first) in centres.iter().enumerate() {
                // The next tick is among the next few marks (texture makes more).
                for &second in centres[i + 1..].iter().take(3) {
                    if second - first < 5.0 || (second - first) * RULER_STEP as f64 > w as f64 {
                        continue;
                    }
                    // Follow the mean step while a tick is within 1.5 px or a
                    // tenth of it of where it says (ticks at whole-pixel
                    // places stray further from a wide step).
                    let (mut last, mut n) = (second, 2);
                    loop {
                        let step = (last - first) / (n - 1) as f64;
                        let Some(&c) = centres.iter().find(|&&c| (c - last - step).abs() <= (step / 10.0).max(1.5))
                        else {
                            break;
                        };
                        (last, n) = (c, n + 1);
                    }
                    if n >= 6 && best.as_ref().is_none_or(|(m, b)| n > *m || (n == *m && b.bbox[1] > y)) {
                        // Down to where the first tick ends.
                        let x = first.round() as u32;
                        let rows = (y..h).take_while(|&yy| on(x, yy)).count().max(2) as u32;
                        let bbox = [first.floor() as u32, y, last.ceil() as u32 + 1, y + rows];
                        best = Some((n, Bar { bbox, length_px: last - first, light }));
                    }
                }
            }
        }
    }
    best.map(|(_, bar)| bar)
}

/// A line that may be a scale bar.
struct Candidate {
    bar: Bar,
    score: f64,
    /// A bar by its shape and place alone.
    sure: bool,
}

/// The candidate bars at least `contrast` from the rows around them, best
/// first.
/// The commonest grey of `img` (its histogram's peak).
fn commonest(img: &GrayImage) -> f64 {
    let mut counts = [0u64; 256];
    for p in img.pixels() {
        counts[p[0] as usize] += 1;
    }
    (0..256).max_by_key(|&v| counts[v]).unwrap_or(0) as f64
}

fn candidates(img: &GrayImage, contrast: f64) -> Vec<Candidate> {
    let (w, h) = img.dimensions();
    if w < 32 || h < 32 {
        return Vec::new();
    }
    let min_len = (w / 25).max(8);
    let least = (w / 50).max(8);
    let max_len = w * 7 / 10;
    let max_thick = (h / 14).max(4);
    let mut open: Vec<Rect> = Vec::new();
    let mut done: Vec<Rect> = Vec::new();
    for y in 0..h {
        let mut next = Vec::new();
        for (s, e, mean) in runs(img, y, least, max_len) {
            let same = open
                .iter()
                .position(|r| r.x0.abs_diff(s) <= 1 && r.x1.abs_diff(e) <= 1 && (r.mean - mean).abs() < 30.0);
            match same {
                Some(i) => {
                    let mut r = open.swap_remove(i);
                    let n = (r.y1 - r.y0) as f64;
                    r.mean = (r.mean * n + mean) / (n + 1.0);
                    r.y1 = y + 1;
                    next.push(r);
                }
                None => next.push(Rect { x0: s, x1: e, y0: y, y1: y + 1, mean }),
            }
        }
        done.append(&mut open);
        open = next;
    }
    done.append(&mut open);
    let commonest = commonest(img);
    let mut out = Vec::new();
    for r in done {
        let (len, thick) = (r.x1 - r.x0, r.y1 - r.y0);
        if thick > max_thick || len < 2 * thick {
            continue;
        }
        // A mid grey that is the picture's commonest is the picture itself,
        // seen between two darker (lighter) things: no bar. (A bar of the
        // commonest grey is white or black: on a label box, or on a
        // picture that is mostly vacuum.)
        if (r.mean - commonest).abs() <= SAME_GREY && (26.0..245.0).contains(&r.mean) {
            continue;
        }
        // A block under four times as long as thick is as often a label box.
        let blocky = len < 4 * thick;
        let Some(light) = stands_out(img, &r, contrast) else { continue };
        if boxed(img, &r, contrast) {
            continue;
        }
        // A one-row line is a bar only with end caps (Zeiss, FEI).
        let capped = thick <= 3 && capped(img, &r, contrast);
        // Bars sit near the top or bottom edge far more often than mid-field.
        let cy = (r.y0 + r.y1) as f64 / 2.0 / h as f64;
        let edge = !(0.2..=0.65).contains(&cy);
        let shaped = (thick >= 2 || capped) && !blocky && len >= min_len;
        // A dim line may break no other rule, and is never sure.
        if contrast < FAINT && !(shaped && edge) {
            continue;
        }
        // A line that stands out on one side only, against the picture's
        // top or bottom edge, is more often its border; one or two rows
        // thick there, it is never sure (a bar cut that thin shows too
        // little of itself to tell).
        let one_sided = r.y0 < 2 || r.y1 + 2 > h;
        let sure = shaped && (contrast >= CONTRAST || (contrast >= FAINT && edge)) && !(one_sided && thick <= 2);
        // Near the top or bottom edge scores higher, but set off on one
        // side only lower: as often a strip of the picture under a bar;
        // and, where it breaks a rule too, last of all.
        let place = match (edge, one_sided) {
            (true, false) => 1.5,
            (true, true) if sure => 0.75,
            (true, true) => 0.01,
            (false, _) => 1.0,
        };
        // Thin and long: the remnant of a label box cut by a bar is thicker.
        let caps = if capped { 2.0 } else { 1.0 };
        let score = len as f64 * place * caps / (thick as f64).sqrt();
        let bar = Bar { bbox: [r.x0, r.y0, r.x1, r.y1], length_px: subpixel_length(img, &r, light), light };
        out.push((r, Candidate { bar, score, sure }));
    }
    // Of a light and a dark line stacked along the same columns, one set off
    // from what is around it by under two thirds of the other's contrast is
    // a strip beside a bar: a label box's white margin under its black bar
    // stands out from the bar, hardly from the picture on its other side.
    // (The black between the end caps under FEI's white line is set off as
    // clearly as the line.)
    let setoff: Vec<f64> = out.iter().map(|(r, _)| set_off(img, r)).collect();
    let beaten: Vec<bool> = (0..out.len())
        .map(|i| {
            let (r, c) = &out[i];
            out.iter()
                .zip(&setoff)
                .any(|((o, d), &s)| d.bar.light != c.bar.light && stacked(r, o) && 3.0 * setoff[i] < 2.0 * s)
        })
        .collect();
    let mut kept: Vec<Candidate> =
        out.into_iter().zip(beaten).filter(|(_, beaten)| !beaten).map(|((_, c), _)| c).collect();
    kept.sort_by(|a, b| b.score.total_cmp(&a.score));
    kept
}

/// Two lines over the same columns (four fifths of the shorter one's), at
/// most three rows apart.
fn stacked(a: &Rect, b: &Rect) -> bool {
    let common = a.x1.min(b.x1).saturating_sub(a.x0.max(b.x0));
    let gap = a.y0.max(b.y0).saturating_sub(a.y1.min(b.y1));
    5 * common >= 4 * (a.x1 - a.x0).min(b.x1 - b.x0) && gap <= 3
}

/// How far a line's grey is from the mean of the row two beyond it on its
/// weaker side (the next row may be its anti-aliased edge); on one side only
/// against the picture's edge.
fn set_off(img: &GrayImage, r: &Rect) -> f64 {
    let below = r.y1 + 1;
    [r.y0.checked_sub(2), (below < img.height()).then_some(below)]
        .into_iter()
        .flatten()
        .map(|y| (row_mean(img, r, y) - r.mean).abs())
        .fold(f64::INFINITY, f64::min)
}

/// The mean grey of row `y` over the line's columns.
fn row_mean(img: &GrayImage, r: &Rect, y: u32) -> f64 {
    (r.x0..r.x1).map(|x| img.get_pixel(x, y)[0] as f64).sum::<f64>() / (r.x1 - r.x0) as f64
}

/// The rows above and below the bar differ from it along most of its
/// length, both the same way (lighter or darker). Returns whether the bar is
/// the lighter. On each side the row two beyond the bar counts (the next one
/// may be its anti-aliased edge), or, beyond a bar three or more rows thick,
/// the row a step further while the rows between still shade from the bar's
/// grey towards it (a blurred edge) or are still of the bar's grey (rows of
/// the bar whose runs JPEG left too uneven to join it: 6a291d0bb4).
fn stands_out(img: &GrayImage, r: &Rect, contrast: f64) -> Option<bool> {
    let h = img.height();
    let n = (r.x1 - r.x0) as f64;
    let mean = |y: u32| row_mean(img, r, y);
    let row = |y: u32| -> (f64, f64) {
        let lighter = (r.x0..r.x1).filter(|&x| r.mean - img.get_pixel(x, y)[0] as f64 >= contrast).count() as f64;
        let darker = (r.x0..r.x1).filter(|&x| img.get_pixel(x, y)[0] as f64 - r.mean >= contrast).count() as f64;
        (lighter / n, darker / n)
    };
    // Rows 2, 3 and 4 away on one side, nearest first.
    let side = |rows: [Option<u32>; 3]| -> Option<(f64, f64)> {
        let mut best = row(rows[0]?);
        let mut last = mean(rows[0]?);
        // A bar two rows thick is too thin to have been blurred.
        let further = if r.y1 - r.y0 > 2 { &rows[1..] } else { &[] };
        for y in further.iter().flatten() {
            let m = mean(*y);
            if !((r.mean - UNIFORM < last && last < m) || (m < last && last < r.mean + UNIFORM)) {
                break;
            }
            let f = row(*y);
            best = (best.0.max(f.0), best.1.max(f.1));
            last = m;
        }
        Some(best)
    };
    let below = |d: u32| (r.y1 + d - 1 < h).then_some(r.y1 + d - 1);
    let sides: Vec<(f64, f64)> =
        [side([r.y0.checked_sub(2), r.y0.checked_sub(3), r.y0.checked_sub(4)]), side([below(2), below(3), below(4)])]
            .into_iter()
            .flatten()
            .collect();
    // A bar against the image's edge has one side to stand out from; a short
    // strip there is more often the edge of the picture than a bar.
    if sides.is_empty() || (sides.len() == 1 && (r.x1 - r.x0) * 10 < img.width()) {
        return None;
    }
    if sides.iter().all(|s| s.0 >= 0.6) {
        Some(true)
    } else if sides.iter().all(|s| s.1 >= 0.6) {
        Some(false)
    } else {
        None
    }
}

/// A side of a box (a label box's outline): a thin line of the bar's grey,
/// with something else just inside it, runs a long way up or down from one
/// of its ends, where a bar has at most short end caps.
fn boxed(img: &GrayImage, r: &Rect, contrast: f64) -> bool {
    let reach = ((r.x1 - r.x0) as usize / 4).max(16);
    // Each end with the column three pixels inwards.
    let ends = [(r.x0, r.x0 + 3), (r.x1 - 1, (r.x1 - 1).saturating_sub(3))];
    ends.into_iter().any(|(x, inner)| {
        let (up, down) = vertical(img, r, |y| like(img, r, x, y, contrast) && !like(img, r, inner, y, contrast));
        up.max(down) >= reach
    })
}

/// A pixel of the bar's grey.
fn like(img: &GrayImage, r: &Rect, x: u32, y: u32, contrast: f64) -> bool {
    (img.get_pixel(x, y)[0] as f64 - r.mean).abs() < contrast
}

/// How many rows above and below the bar `on` holds for without a break.
fn vertical(img: &GrayImage, r: &Rect, on: impl Fn(u32) -> bool) -> (usize, usize) {
    ((0..r.y0).rev().take_while(|&y| on(y)).count(), (r.y1..img.height()).take_while(|&y| on(y)).count())
}

/// End caps: at both ends a short tick of the bar's grey crosses it, at
/// least three pixels above and below, the two about as tall (within a
/// factor of two: a letter's stem and the join of its bowls are not).
fn capped(img: &GrayImage, r: &Rect, contrast: f64) -> bool {
    let tick = |x: u32| {
        let (up, down) = vertical(img, r, |y| like(img, r, x, y, contrast));
        (up >= 3 && down >= 3).then_some(up + down)
    };
    // The tick may sit on the end pixel, the one inside it or (being darker
    // or lighter than the line, it ends the run) one of the two beyond (an
    // anti-aliased tick's lighter column ends the run a pixel early).
    let w = img.width();
    let end = |xs: [Option<u32>; 4]| xs.into_iter().flatten().filter_map(tick).max();
    let left = end([r.x0.checked_sub(2), r.x0.checked_sub(1), Some(r.x0), Some(r.x0 + 1)]);
    let right =
        end([(r.x1 + 1 < w).then_some(r.x1 + 1), (r.x1 < w).then_some(r.x1), Some(r.x1 - 1), r.x1.checked_sub(2)]);
    left.zip(right).is_some_and(|(a, b)| a.max(b) <= 2 * a.min(b))
}

/// How far a blurred end may ramp from the bar's grey to the background's.
const RAMP: usize = 6;

/// The bar's length along its middle row, between its ends at half
/// maximum: where the grey is half way from the bar's to the background's,
/// linear between pixel centres. Walking out from an end, the background is
/// where the grey stops moving away from the bar's (a resampled bar's end
/// ramps over a few pixels; a sharp one's edge pixel is partly covered).
/// A pixel beyond the end that is still more the bar's than the bar is an
/// end cap crossing it, and the bar ends at its outer edge.
fn subpixel_length(img: &GrayImage, r: &Rect, light: bool) -> f64 {
    let w = img.width() as i64;
    let y = (r.y0 + r.y1) / 2;
    // Greys signed so that the bar is the higher.
    let sign = if light { 1.0 } else { -1.0 };
    let at = |x: i64| sign * img.get_pixel(x as u32, y)[0] as f64;
    let inside = (r.x0..r.x1).map(|x| at(x as i64)).sum::<f64>() / (r.x1 - r.x0) as f64;
    // The end's offset beyond the centre of the bar's end pixel `last`,
    // walking in direction `dir`.
    let end = |last: i64, dir: i64| -> f64 {
        if (0..w).contains(&(last + dir)) && at(last + dir) >= inside {
            return 1.5;
        }
        let mut greys = vec![inside];
        let mut x = last + dir;
        while (0..w).contains(&x) && greys.len() <= RAMP && greys[greys.len() - 1] - at(x) >= 2.0 {
            greys.push(at(x));
            x += dir;
        }
        if greys.len() == 1 {
            // The picture's edge, or no step to the background at all.
            return 0.5;
        }
        let bg = greys[greys.len() - 1];
        let half = (inside + bg) / 2.0;
        greys
            .windows(2)
            .position(|p| p[0] > half && p[1] <= half)
            .map_or(0.0, |i| i as f64 + (greys[i] - half) / (greys[i] - greys[i + 1]))
    };
    (r.x1 - r.x0) as f64 - 1.0 + end(r.x0 as i64, -1) + end(r.x1 as i64 - 1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figure::tests::fill;

    fn textured(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| image::Luma([(100 + ((x * 13 + y * 7) % 11)) as u8]))
    }

    #[test]
    fn white_bar_with_sub_pixel_end() {
        let mut img = textured(300, 200);
        for y in 170..175 {
            for x in 200..260 {
                img.put_pixel(x, y, image::Luma([255]));
            }
            // A half-covered pixel at the right end.
            img.put_pixel(260, y, image::Luma([180]));
        }
        let b = find(&img).unwrap();
        assert_eq!(b.bbox, [200, 170, 260, 175]);
        assert!(b.light);
        assert!((b.length_px - 60.5).abs() < 0.15, "{}", b.length_px);
    }

    #[test]
    fn black_bars_on_white_label_boxes() {
        // A bar inside its box; and one near the box's foot, where the
        // white margin under it is longer and thinner than the bar but
        // stands out from the picture below it far less than from the bar.
        for (white, bar) in [([20, 150, 120, 190], [30, 175, 110, 179]), ([0, 140, 140, 185], [20, 170, 120, 177])] {
            let mut img = textured(300, 200);
            fill(&mut img, white[0]..white[2], white[1]..white[3], 250);
            fill(&mut img, bar[0]..bar[2], bar[1]..bar[3], 5);
            let b = find(&img).unwrap();
            assert_eq!(b.bbox, bar);
            assert!(!b.light);
        }
    }

    #[test]
    fn a_resampled_bar_ends_at_half_maximum() {
        // A white bar from 100.0 to 150.0 blurred by a 4-px box: each end
        // ramps over four pixels, and is where the ramp is half way up.
        let mut img = textured(300, 200);
        let covered = |x: u32| {
            let c = x as f64 + 0.5;
            ((c + 2.0).min(150.0) - (c - 2.0).max(100.0)).max(0.0) / 4.0
        };
        for y in 170..176 {
            for x in 90..160 {
                img.put_pixel(x, y, image::Luma([(105.0 + 145.0 * covered(x)).round() as u8]));
            }
        }
        let b = find(&img).unwrap();
        assert!(b.light);
        assert!((b.length_px - 50.0).abs() < 0.15, "{b:?}");
    }

    #[test]
    fn a_bar_running_off_the_picture() {
        // Nothing beyond its left end to measure against: it ends at the
        // picture's edge, and the right end is measured as ever.
        let mut img = textured(300, 200);
        fill(&mut img, 0..60, 170..175, 250);
        let b = find(&img).unwrap();
        assert_eq!(b.bbox, [0, 170, 60, 175]);
        assert!((b.length_px - 60.0).abs() < 0.15, "{b:?}");
    }

    #[test]
    fn blurred_bar_edges() {
        // A black bar whose top and bottom fade over two rows each (a
        // resampled figure): the rows next to it are its edge, not background.
        let mut img = textured(300, 200);
        for (y, v) in [(166, 45), (167, 25), (168, 5), (169, 5), (170, 5), (171, 25), (172, 45)] {
            for x in 40..160 {
                img.put_pixel(x, y, image::Luma([v]));
            }
        }
        let b = find(&img).unwrap();
        assert_eq!((b.bbox[0], b.bbox[2]), (40, 160));
        assert!((166..=168).contains(&b.bbox[1]) && (171..=173).contains(&b.bbox[3]), "{b:?}");
        assert!(!b.light);
    }

    #[test]
    fn uneven_rows_of_a_bar_are_its_grey() {
        // 6a291d0bb4: a white bar over a blurred top edge whose first two
        // rows JPEG left uneven (one pixel in ten 19 levels down, which breaks
        // their runs) and whose last row is darker: the two uneven rows are
        // brighter than the rows that join, and are passed over to the edge
        // beyond them.
        let mut img = textured(300, 200);
        fill(&mut img, 40..160, 168..169, 150);
        fill(&mut img, 40..160, 169..170, 200);
        fill(&mut img, 40..160, 170..177, 255);
        fill(&mut img, 40..160, 177..178, 230);
        for x in (45..160).step_by(10) {
            fill(&mut img, x..x + 1, 170..172, 236);
        }
        let b = find(&img).unwrap();
        assert_eq!(b.bbox, [40, 172, 160, 178]);
        assert!(b.light);
    }

    #[test]
    fn a_label_box_outline_is_no_bar() {
        // A white label box outlined in black (its bottom side is a long
        // dark line between white and texture) and a short real bar.
        let mut img = textured(300, 200);
        fill(&mut img, 150..290, 20..60, 0);
        fill(&mut img, 152..288, 22..58, 250);
        fill(&mut img, 20..80, 180..184, 250);
        assert_eq!(find(&img).unwrap().bbox, [20, 180, 80, 184]);
    }

    #[test]
    fn a_one_row_line_with_end_caps() {
        // Zeiss's bar: a one-pixel grey line between ticks, on a white data
        // bar; the same line without ticks is no bar.
        let mut img = GrayImage::from_pixel(300, 200, image::Luma([255]));
        for x in 20..120 {
            img.put_pixel(x, 150, image::Luma([120]));
            img.put_pixel(x, 100, image::Luma([120]));
        }
        for y in 142..159 {
            img.put_pixel(19, y, image::Luma([90]));
            img.put_pixel(120, y, image::Luma([90]));
        }
        let b = find(&img).unwrap();
        assert!((19..=20).contains(&b.bbox[0]) && (120..=121).contains(&b.bbox[2]), "{b:?}");
        assert_eq!((b.bbox[1], b.bbox[3]), (150, 151));
        assert!(!b.light);
    }

    #[test]
    fn end_caps_anti_aliased_and_alike() {
        // A one-row line whose right tick falls between two columns: the
        // lighter one ends the line a pixel before the tick (FEI's bracket).
        let line = |right: &[(u32, u8, std::ops::Range<u32>)]| {
            let mut img = GrayImage::from_pixel(300, 200, image::Luma([255]));
            fill(&mut img, 20..120, 150..151, 120);
            fill(&mut img, 19..20, 142..159, 90);
            for (x, v, ys) in right {
                fill(&mut img, *x..*x + 1, ys.clone(), *v);
            }
            img
        };
        let b = find(&line(&[(120, 170, 142..159), (121, 100, 142..159)])).unwrap();
        assert!((19..=20).contains(&b.bbox[0]) && b.bbox[1..] == [150, 120, 151], "{b:?}");
        // A tick at one end and a stem six times as tall at the other (the
        // middle stroke of a letter): no caps, so no bar.
        assert_eq!(find(&line(&[(120, 90, 100..200)])), None);
    }

    #[test]
    fn bars_against_the_bottom_edge() {
        // Only the rows above can set off a bar on the last rows: a long one
        // counts, a short strip (the picture's own edge) does not.
        let mut img = textured(300, 200);
        fill(&mut img, 100..120, 197..200, 250);
        assert_eq!(find(&img), None);
        fill(&mut img, 100..160, 197..200, 250);
        assert_eq!(find(&img).unwrap().bbox, [100, 197, 160, 200]);
    }

    #[test]
    fn thin_lines_flush_with_the_edge_need_a_label() {
        // One or two rows against the picture's top or bottom edge, however
        // long, are as often its border (636334b3f1's lighter top rows) or a
        // strip under a bar: offered, but counted only with a label.
        for rows in [0..2, 198..200] {
            let mut img = textured(300, 200);
            fill(&mut img, 100..200, rows.clone(), 250);
            assert_eq!(find(&img), None, "{rows:?}");
            assert!(unsure(&img).contains(&[100, rows.start, 200, rows.end]), "{rows:?}");
        }
    }

    #[test]
    fn a_bar_over_a_strip_against_the_edge() {
        // A black bar on a light picture whose last rows, under the bar, are
        // a longer strip of flat grey: set off only by the bar above it (the
        // picture's edge is below), the strip is no likelier a bar than the
        // bar itself.
        let mut img = GrayImage::from_fn(300, 200, |x, y| image::Luma([(195 + ((x * 13 + y * 7) % 11)) as u8]));
        fill(&mut img, 40..160, 178..189, 0);
        fill(&mut img, 50..200, 189..200, 100);
        assert_eq!(find(&img).unwrap().bbox, [40, 178, 160, 189]);
    }

    #[test]
    fn faint_bars_near_the_edges_only() {
        // A white bar 40 grey levels over a light picture (a bright-field
        // TEM): found near the bottom, not mid-field, and never preferred to
        // a bar of clear contrast.
        let light = |w, h| GrayImage::from_fn(w, h, |x, y| image::Luma([(205 + ((x * 13 + y * 7) % 7)) as u8]));
        let mut img = light(300, 200);
        fill(&mut img, 20..80, 185..190, 250);
        assert_eq!(find(&img).unwrap().bbox, [20, 185, 80, 190]);
        let mut img = light(300, 200);
        fill(&mut img, 20..80, 95..100, 250);
        assert_eq!(find(&img), None);
        fill(&mut img, 200..240, 180..184, 20);
        fill(&mut img, 20..80, 185..190, 250);
        assert_eq!(find(&img).unwrap().bbox, [200, 180, 240, 184]);
    }

    /// The boxes of the lines a panel with no bar by the rules offers.
    #[test]
    fn the_picture_between_label_and_bar_is_no_bar() {
        // A black label over a black bar, with the picture's own grey
        // between them from a glyph's stroke to the picture's edge (39e18a8f4c):
        // set off on both sides, longer than the bar, but of the picture's
        // commonest grey, so no bar; the black bar under it is.
        let mut img = GrayImage::from_fn(300, 200, |x, y| image::Luma([(200 + (x * 13 + y * 7) % 11 / 4) as u8]));
        for k in 0..6 {
            fill(&mut img, 200 + 14 * k..212 + 14 * k, 160..170, 0);
        }
        fill(&mut img, 198..200, 160..178, 0);
        fill(&mut img, 190..270, 178..190, 0);
        assert_eq!(find(&img).unwrap().bbox, [190, 178, 270, 190]);
    }

    fn unsure(img: &GrayImage) -> Vec<[u32; 4]> {
        let Search::Unsure(lines) = search(img) else { panic!("no bar by the rules") };
        lines.iter().map(|b| b.bbox).collect()
    }

    #[test]
    fn lines_that_need_a_label_to_count() {
        // A one-row line without end caps, a bar shorter than a 25th of the
        // panel and a block are no bars by the rules, but are offered as
        // unsure; a one-row line on the picture's last row (a bar cut by
        // the picture's edge, or its border) is offered last of all.
        let mut img = textured(400, 200);
        fill(&mut img, 20..120, 150..151, 250);
        fill(&mut img, 300..314, 180..182, 250);
        fill(&mut img, 150..250, 199..200, 250);
        // A block three times as long as thick has a label box's shape.
        fill(&mut img, 200..236, 20..32, 250);
        assert_eq!(
            unsure(&img),
            vec![[20, 150, 120, 151], [200, 20, 236, 32], [300, 180, 314, 182], [150, 199, 250, 200]]
        );
    }

    #[test]
    fn dim_bars_need_a_label_and_come_last() {
        // Lines 25 grey levels over the picture (a light grey bar on a grey
        // TEM): one near the bottom edge with a bar's shape is offered as
        // unsure after every other line; mid-field or one row thick, none.
        let mut img = textured(400, 200);
        fill(&mut img, 20..120, 185..189, 130);
        fill(&mut img, 150..250, 100..104, 130);
        fill(&mut img, 260..360, 170..171, 130);
        fill(&mut img, 300..350, 20..21, 250);
        assert_eq!(unsure(&img), vec![[300, 20, 350, 21], [20, 185, 120, 189]]);
    }

    #[test]
    fn a_ruler_of_ticks() {
        // Eleven light ticks, two pixels wide and five rows tall, every
        // 20.5 px (whole-pixel places alternate 20 and 21) in the lower half:
        // a ruler from the first tick's middle to the last one's; spaced
        // unevenly, or mid-field too tall to be ticks, none.
        let ticks = |img: &mut GrayImage, xs: &[u32], rows: std::ops::Range<u32>| {
            for &x in xs {
                fill(img, x..x + 2, rows.clone(), 250);
            }
        };
        let even: Vec<u32> = (0..11).map(|i| 40 + (i * 41) / 2).collect();
        let mut img = textured(400, 200);
        ticks(&mut img, &even, 170..175);
        let r = ruler(&img).unwrap();
        assert!((r.length_px - 205.0).abs() <= 0.5, "{r:?}");
        assert!(r.light && r.bbox[0] == 40 && (r.bbox[1], r.bbox[3]) == (170, 175), "{r:?}");
        // Hitachi's dotted ruler on a published panel (410284d28b): eleven
        // dots about 20.65 px apart, each at a whole pixel up to 1.1 px off
        // that step, all of them followed.
        let stray = [24, 45, 66, 86, 106, 128, 148, 170, 189, 210, 231];
        let mut img = textured(400, 200);
        ticks(&mut img, &stray, 170..175);
        let r = ruler(&img).unwrap();
        assert!((r.length_px - 207.0).abs() <= 0.5, "{r:?}");
        let uneven = [40, 52, 75, 81, 110, 150, 158, 190, 230, 236];
        let mut img = textured(400, 200);
        ticks(&mut img, &uneven, 170..175);
        assert_eq!(ruler(&img), None);
        let mut img = textured(400, 200);
        ticks(&mut img, &even, 120..190);
        assert_eq!(ruler(&img), None);
        // Ticks in the first and last columns and on the last rows of the
        // smallest panel searched are read without leaving the picture.
        let mut img = textured(32, 32);
        ticks(&mut img, &[0, 5, 10, 15, 20, 25, 30], 28..32);
        assert!(ruler(&img).is_none_or(|r| r.bbox[2] <= 32 && r.bbox[3] <= 32));
    }

    #[test]
    fn no_bar_in_plain_texture() {
        assert_eq!(find(&textured(200, 150)), None);
    }
}
