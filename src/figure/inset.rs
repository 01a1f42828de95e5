//! Insets: a framed picture set into a panel (an FFT or diffraction pattern,
//! a zoomed region). The frame is a straight line of even grey that stands
//! out from the picture on at least one side, along at least three sides of
//! a rectangle (the fourth may be the panel's edge). Dashed region markers
//! break into short pieces and are not frames.

use image::GrayImage;

/// A frame pixel differs from the pixel this far to one of its sides by at least [`CONTRAST`].
const REACH: u32 = 3;
const CONTRAST: i16 = 35;
/// Frame pixels stay within this of their line's mean grey.
const UNIFORM: f64 = 20.0;
/// Gaps in a frame line (JPEG, a label over it) up to this many pixels.
const GAP: u32 = 2;
/// Frame sides of one rectangle meet within this many pixels.
pub const SLACK: u32 = 4;

/// A straight run of frame pixels over `from..to`, on row (horizontal) or
/// column (vertical) `at`.
#[derive(Debug, Clone, Copy)]
struct Line {
    at: u32,
    from: u32,
    to: u32,
}

/// Runs of line pixels along rows (`rows` true) or columns of box `b`, at
/// least `min_len` long.
fn lines(img: &GrayImage, b: [u32; 4], rows: bool, min_len: u32) -> Vec<Line> {
    let px = |along: u32, at: u32| -> i16 {
        let (x, y) = if rows { (along, at) } else { (at, along) };
        img.get_pixel(x, y)[0] as i16
    };
    let (along, across) = if rows { (b[0]..b[2], b[1]..b[3]) } else { (b[1]..b[3], b[0]..b[2]) };
    let mut out = Vec::new();
    for at in across.start + REACH..across.end.saturating_sub(REACH) {
        // (from, last pixel on the line, sum of its greys, their count)
        let mut run: Option<(u32, u32, f64, f64)> = None;
        let mut close = |run: Option<(u32, u32, f64, f64)>| {
            if let Some((from, last, ..)) = run.filter(|r| r.1 + 1 - r.0 >= min_len) {
                out.push(Line { at, from, to: last + 1 });
            }
        };
        for a in along.clone() {
            let (v, s1, s2) = (px(a, at), px(a, at - REACH), px(a, at + REACH));
            if (v - s1).abs() < CONTRAST && (v - s2).abs() < CONTRAST {
                continue;
            }
            let v = f64::from(v);
            run = match run {
                Some((from, last, sum, n)) if a - last <= GAP + 1 && (v - sum / n).abs() <= UNIFORM => {
                    Some((from, a, sum + v, n + 1.0))
                }
                other => {
                    close(other);
                    Some((a, a, v, 1.0))
                }
            };
        }
        close(run);
    }
    out
}

/// A line at `at` (± slack) covering `from..to` but for the slack at its ends.
fn side(lines: &[Line], at: u32, from: u32, to: u32) -> bool {
    lines.iter().any(|l| l.at.abs_diff(at) <= SLACK && l.from <= from + SLACK && l.to + SLACK >= to)
}

/// Framed insets of panel `b` (image pixels), each `[x0, y0, x1, y1]` with
/// its frame; nested or overlapping finds are kept once.
pub fn find(img: &GrayImage, b: [u32; 4]) -> Vec<[u32; 4]> {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    if w < 64 || h < 64 {
        return Vec::new();
    }
    let (min_w, min_h) = ((w / 8).max(16), (h / 8).max(16));
    let horizontal = lines(img, b, true, min_w);
    let vertical = lines(img, b, false, min_h);
    let mut found: Vec<[u32; 4]> = Vec::new();
    for top in &horizontal {
        // The outermost lines: a frame's inner edge is a line too.
        for bottom in horizontal.iter().rev().filter(|l| l.at >= top.at + min_h) {
            // Same left and right ends.
            if top.from.abs_diff(bottom.from) > SLACK || top.to.abs_diff(bottom.to) > SLACK {
                continue;
            }
            let (x0, x1) = (top.from.min(bottom.from), top.to.max(bottom.to));
            let left = side(&vertical, x0, top.at, bottom.at);
            let right = side(&vertical, x1 - 1, top.at, bottom.at);
            // At least three sides; the fourth may be the panel's edge.
            let flush = x0 <= b[0] + SLACK || x1 + SLACK >= b[2];
            if !(left && right || (left || right) && flush) {
                continue;
            }
            let r = [x0, top.at, x1, bottom.at + 1];
            let area = |r: [u32; 4]| (r[2] - r[0]) as u64 * (r[3] - r[1]) as u64;
            // A sub-panel of an unsplit grid is no inset: an inset leaves most of its panel.
            if area(r) * 10 > area(b) * 6 {
                continue;
            }
            if !found.iter().any(|f| super::overlap(*f, r)) {
                found.push(r);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figure::tests::fill;

    fn texture(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| image::Luma([(100 + (x * 37 + y * 91) % 60) as u8]))
    }

    #[test]
    fn a_white_framed_inset_and_no_dashed_box() {
        let mut img = texture(300, 200);
        // A dark FFT-like inset at (20, 15)-(120, 100) with a 2-px white frame.
        fill(&mut img, 20..120, 15..100, 255);
        fill(&mut img, 22..118, 17..98, 10);
        // A dashed selection box.
        for x in (150..280).filter(|x| x % 8 < 4) {
            img.put_pixel(x, 120, image::Luma([255]));
            img.put_pixel(x, 180, image::Luma([255]));
        }
        for y in (120..181).filter(|y| y % 8 < 4) {
            img.put_pixel(150, y, image::Luma([255]));
            img.put_pixel(280, y, image::Luma([255]));
        }
        let found = find(&img, [0, 0, 300, 200]);
        assert_eq!(found.len(), 1, "{found:?}");
        let r = found[0];
        assert_eq!(r, [20, 15, 120, 100]);
    }

    #[test]
    fn plain_texture_has_none() {
        assert!(find(&texture(300, 200), [0, 0, 300, 200]).is_empty());
    }
}
