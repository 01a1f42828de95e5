//! Reading a tiny antialiased scale-bar label (digits 5 to 10 pixels
//! high) whole: at any one grey threshold such glyphs fall apart where a
//! stroke crosses a pixel boundary and run together where two strokes
//! share a pixel, so no connected component is a glyph. The label's strip
//! is explained column by column instead, each column either blank or part
//! of a glyph template rendered at that size (`tiny-glyphs.bin`, written by
//! `.ci/make-glyphs`: every label character supersampled and averaged at
//! each sub-pixel phase), by dynamic programming for the least squared
//! difference in ink coverage, as the label grammar allows.

use std::sync::LazyLock;

use super::ocr::{self, Grammar, LABEL_CHARS};

/// One character as a tiny label shows it, at one size and phase.
struct Template {
    /// Index into [`LABEL_CHARS`].
    ch: usize,
    /// The height of its rendering's digits (rows at least half covered).
    band: u32,
    /// Its first row against the digits' top row (negative above it).
    top: i32,
    w: usize,
    h: usize,
    /// Ink coverage 0–1, column by column.
    columns: Vec<f32>,
    /// The sum of its squared coverage.
    energy: f32,
}

static TEMPLATES: LazyLock<Vec<Template>> = LazyLock::new(|| {
    ocr::records(include_bytes!("tiny-glyphs.bin"), |[_, _, _, w, h]| w as usize * h as usize)
        .filter(|([ch, ..], _)| (*ch as usize) < LABEL_CHARS.len())
        .map(|([ch, band, top, w, h], pixels)| {
            let (w, h) = (w as usize, h as usize);
            let columns: Vec<f32> = (0..w * h).map(|i| pixels[(i % h) * w + i / h] as f32 / 255.0).collect();
            let energy = columns.iter().map(|p| p * p).sum();
            Template { ch: ch as usize, band: band as u32, top: top as i8 as i32, w, h, columns, energy }
        })
        .collect()
});

/// Rows read above the digits (Å's ring) and below them (µ's tail, a
/// comma).
const ABOVE: u32 = 2;
const BELOW: u32 = 3;
/// What a blank column costs over its ink, and what each glyph costs:
/// among readings as good, the one with fewer, wider glyphs.
const BLANK: f32 = 0.02;
const GLYPH: f32 = 0.2;
/// The most a reading may leave unexplained ([`Reading::residual`]) to be
/// taken: the benchmark's labels that only this reads leave between a
/// quarter and 0.44 of their strip's ink.
pub(super) const FIT: f32 = 0.45;

/// A label read whole.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reading {
    pub text: String,
    /// What the reading leaves unexplained, as a share of the strip's ink
    /// (0 for a perfect fit, 1 for no better than blank).
    pub residual: f32,
    /// The reading's box in the image (exclusive ends).
    pub bbox: [u32; 4],
}

/// Reads the label in columns `x0..x1` whose digits fill rows `top..base`,
/// where `coverage(x, y)` is how far a pixel is from the background towards
/// the ink (0–1). The digit rows are also tried a row higher or lower at
/// either edge (the band of thresholded glyphs may be a row off); the
/// reading that leaves the least unexplained wins. `None` where
/// no reading of the strip is a length.
pub(super) fn read(coverage: &impl Fn(u32, u32) -> f32, x0: u32, x1: u32, top: u32, base: u32) -> Option<Reading> {
    let mut best: Option<Reading> = None;
    for dt in [-1i32, 0, 1] {
        for db in [-1i32, 0, 1] {
            let (t, b) = (top as i32 + dt, base as i32 + db);
            if t < ABOVE as i32 || b - t < 4 {
                continue;
            }
            let Some(r) = read_strip(coverage, x0, x1, t as u32, b as u32) else { continue };
            if best.as_ref().is_none_or(|o| r.residual < o.residual) {
                best = Some(r);
            }
        }
    }
    best
}

/// [`read`] for one placing of the digit rows.
fn read_strip(coverage: &impl Fn(u32, u32) -> f32, x0: u32, x1: u32, top: u32, base: u32) -> Option<Reading> {
    let band = base - top;
    let y0 = top - ABOVE;
    let rows = (band + ABOVE + BELOW) as usize;
    let n = x1.saturating_sub(x0) as usize;
    // The strip column by column, and each column's ink (its cost as blank).
    let strip: Vec<Vec<f32>> =
        (0..n).map(|c| (0..rows).map(|r| coverage(x0 + c as u32, y0 + r as u32)).collect()).collect();
    let ink: Vec<f32> = strip.iter().map(|col| col.iter().map(|v| v * v).sum()).collect();
    // Per first column, the cheapest template of each character and width
    // (at `ch * widths + w`): its squared difference from the columns it
    // covers, Σ(s - p)² = Σs² + Σp² - 2Σsp.
    let widths = TEMPLATES.iter().map(|t| t.w).max().unwrap_or(0) + 1;
    let mut at = vec![vec![f32::INFINITY; LABEL_CHARS.len() * widths]; n];
    for t in TEMPLATES.iter().filter(|t| t.band == band) {
        let first = ABOVE as i32 + t.top;
        if first < 0 || first as usize + t.h > rows || t.w > n {
            continue;
        }
        let first = first as usize;
        for x in 0..=n - t.w {
            let mut cost = t.energy;
            for (c, column) in t.columns.chunks_exact(t.h).enumerate() {
                let s = &strip[x + c][first..first + t.h];
                cost += ink[x + c] - 2.0 * s.iter().zip(column).map(|(s, p)| s * p).sum::<f32>();
            }
            let slot = &mut at[x][t.ch * widths + t.w];
            *slot = slot.min(cost);
        }
    }
    // cost[x][s]: the least cost of explaining columns ..x ending in state s.
    let states = Grammar::ALL.len();
    let index = Grammar::index;
    type Back = (usize, usize, Option<char>);
    let mut cost = vec![vec![f32::INFINITY; states]; n + 1];
    let mut back: Vec<Vec<Option<Back>>> = vec![vec![None; states]; n + 1];
    cost[0][index(Grammar::Start)] = 0.0;
    for x in 0..n {
        for s in Grammar::ALL {
            let here = cost[x][index(s)];
            if !here.is_finite() {
                continue;
            }
            let mut offer = |to: usize, next: Grammar, c: f32, glyph: Option<char>| {
                if c < cost[to][index(next)] {
                    cost[to][index(next)] = c;
                    back[to][index(next)] = Some((x, index(s), glyph));
                }
            };
            offer(x + 1, s, here + ink[x] + BLANK, None);
            for (i, &c) in at[x].iter().enumerate().filter(|(_, c)| c.is_finite()) {
                let (ch, w) = (LABEL_CHARS[i / widths], i % widths);
                if let Some(next) = s.next(ch) {
                    offer(x + w, next, here + c + GLYPH, Some(ch));
                }
            }
        }
    }
    let done = index(Grammar::Done);
    let total = cost[n][done];
    if !total.is_finite() {
        return None;
    }
    let (mut text, mut boxes) = (Vec::new(), Vec::new());
    let (mut x, mut s) = (n, done);
    while x > 0 {
        let (px, ps, glyph) = back[x][s]?;
        if let Some(ch) = glyph {
            text.push(ch);
            boxes.push((px, x));
        }
        (x, s) = (px, ps);
    }
    text.reverse();
    let blank: f32 = ink.iter().map(|v| v + BLANK).sum();
    let (gx0, gx1) = (boxes.iter().map(|b| b.0).min()?, boxes.iter().map(|b| b.1).max()?);
    Some(Reading {
        text: text.into_iter().collect(),
        residual: total / blank.max(f32::EPSILON),
        bbox: [x0 + gx0 as u32, top, x0 + gx1 as u32, base],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` set in coverage from the first template of each character
    /// whose digits are `band` rows high, one blank column between
    /// characters and `space` where the text has a space, under speckle of
    /// up to `noise`; with the rows its digits fill.
    fn set(text: &str, band: u32, noise: f32) -> (Vec<Vec<f32>>, u32, u32) {
        let (top, rows) = (4u32, band as usize + 10);
        let mut cols: Vec<Vec<f32>> = vec![vec![0.0; rows]; 3];
        for ch in text.chars() {
            if ch == ' ' {
                cols.extend(std::iter::repeat_n(vec![0.0; rows], band as usize / 2));
                continue;
            }
            let t = TEMPLATES.iter().find(|t| LABEL_CHARS[t.ch] == ch && t.band == band).expect("a template");
            for column in t.columns.chunks_exact(t.h) {
                let mut col = vec![0.0; rows];
                let first = (top as i32 + t.top) as usize;
                col[first..first + t.h].copy_from_slice(column);
                cols.push(col);
            }
            cols.push(vec![0.0; rows]);
        }
        cols.extend(std::iter::repeat_n(vec![0.0; rows], 3));
        // A fixed speckle (a linear congruential sequence).
        let mut seed = 12345u32;
        for v in cols.iter_mut().flatten() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *v = (*v + noise * ((seed >> 16) % 1000) as f32 / 1000.0).min(1.0);
        }
        (cols, top, top + band)
    }

    fn read_set(cols: &[Vec<f32>], top: u32, base: u32) -> Option<Reading> {
        let coverage = |x: u32, y: u32| cols.get(x as usize).and_then(|c| c.get(y as usize)).copied().unwrap_or(0.0);
        read(&coverage, 0, cols.len() as u32, top, base)
    }

    #[test]
    fn tiny_labels_read_whole() {
        for (text, band) in [("50 nm", 7), ("200 nm", 6), ("0.5 µm", 8), ("1 µm", 5)] {
            let (cols, top, base) = set(text, band, 0.2);
            let r = read_set(&cols, top, base).expect("a reading");
            assert_eq!(r.text, text.replace(' ', ""), "{text}: {r:?}");
            assert!(r.residual < 0.3, "{text}: {r:?}");
        }
    }

    #[test]
    fn glyphs_that_touch_are_told_apart() {
        // No blank column between the glyphs: no connected component is one.
        let (mut cols, top, base) = set("100 nm", 7, 0.0);
        cols.retain(|c| c.iter().any(|v| *v > 0.0));
        let r = read_set(&cols, top, base).expect("a reading");
        assert_eq!(r.text, "100nm", "{r:?}");
    }

    #[test]
    fn a_strip_at_the_picture_edge_or_empty_reads_nothing() {
        let (cols, _, _) = set("50 nm", 7, 0.0);
        // Digits on the top row: no room above them for the strip.
        assert_eq!(read_set(&cols, 0, 7), None);
        assert_eq!(read_set(&cols, 1, 1), None);
        let coverage = |_: u32, _: u32| 1.0;
        assert_eq!(read(&coverage, 10, 10, 4, 11), None);
    }

    #[test]
    fn speckle_is_no_label() {
        let (cols, top, base) = set("", 7, 0.5);
        let r = read_set(&cols, top, base);
        assert!(r.as_ref().is_none_or(|r| r.residual > FIT), "{r:?}");
    }
}
