//! Finds the instrument data bar burned into the bottom rows of a micrograph.
//!
//! A data bar is drawn by software: its rows are dominated by one exact grey
//! level (black, white or a flat panel colour) with text on it, while image
//! rows are noisy. The bar is the run of such rows that reaches the bottom of
//! the image (Zeiss leaves a stray image row or two below its frame), has a
//! noisy row above it, and is neither tiny nor most of the image (an image
//! whose pixels were zeroed is flat everywhere and has no detectable bar).
//! Rows dense with text can fall below the flatness mark, in a downscaled copy
//! especially: a few such rows between flat ones stay inside the bar.

use super::tiff::Gray8;

/// Fraction of a row that must share one grey level for a bar row.
const FLAT_ROW: f64 = 0.4;
/// Rows at the very bottom that may belong to the image below the bar frame.
const BOTTOM_SLACK: u32 = 3;
/// Smallest bar, in rows.
const MIN_ROWS: u32 = 8;
/// Largest bar, as a fraction of the image height.
const MAX_FRACTION: f64 = 0.35;

fn flat(row: &[u8]) -> bool {
    // Four interleaved histograms: a flat row would otherwise make every
    // increment wait for the one before it.
    let mut hist = [[0u32; 256]; 4];
    let mut quads = row.chunks_exact(4);
    for q in &mut quads {
        hist[0][q[0] as usize] += 1;
        hist[1][q[1] as usize] += 1;
        hist[2][q[2] as usize] += 1;
        hist[3][q[3] as usize] += 1;
    }
    for &p in quads.remainder() {
        hist[0][p as usize] += 1;
    }
    let mode = (0..256).map(|v| hist[0][v] + hist[1][v] + hist[2][v] + hist[3][v]).max().unwrap_or(0);
    mode as f64 >= FLAT_ROW * row.len() as f64
}

/// Height of the data bar in rows (counted from the bottom edge), or `None`.
pub fn detect(img: &Gray8) -> Option<u32> {
    detect_bottom(img, img.height)
}

/// Rows of the bottom of an image that [`detect_bottom`] needs to see.
pub fn rows_needed(full_height: u32) -> u32 {
    ((full_height as f64 * MAX_FRACTION) as u32 + 2).min(full_height)
}

/// Like [`detect`], given only the bottom rows of an image `full_height`
/// rows tall (at least [`rows_needed`] of them).
pub fn detect_bottom(img: &Gray8, full_height: u32) -> Option<u32> {
    let h = img.height;
    let limit = ((full_height as f64 * MAX_FRACTION) as u32).min(h);
    for slack in 0..=BOTTOM_SLACK.min(h.saturating_sub(1)) {
        let bottom = h - 1 - slack;
        if !flat(img.row(bottom)) {
            continue;
        }
        // Text rows between flat ones: at most this many in a row.
        let gap = (full_height / 64).max(3);
        let mut top = bottom;
        let mut y = bottom;
        while y > 0 && bottom - y < gap + (bottom - top) {
            y -= 1;
            if flat(img.row(y)) {
                top = y;
                if h - top > limit {
                    return None;
                }
            } else if top - y > gap {
                break;
            }
        }
        let rows = h - top;
        return (top > 0 && rows - slack >= MIN_ROWS && rows <= limit).then_some(rows);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(w: u32, h: u32, bar: u32) -> Gray8 {
        let mut pixels = Vec::new();
        let mut seed = 12345u32;
        for y in 0..h {
            for x in 0..w {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let p = if y >= h - bar {
                    if x % 7 == 0 && y % 3 == 0 {
                        255
                    } else {
                        0
                    }
                } else {
                    (seed >> 16) as u8
                };
                pixels.push(p);
            }
        }
        Gray8 { width: w, height: h, pixels }
    }

    #[test]
    fn finds_a_black_bar_with_text() {
        assert_eq!(detect(&noisy(200, 150, 20)), Some(20));
    }

    #[test]
    fn no_bar_on_a_plain_image_or_a_flat_one() {
        assert_eq!(detect(&noisy(200, 150, 0)), None);
        let flat = Gray8 { width: 50, height: 50, pixels: vec![0; 2500] };
        assert_eq!(detect(&flat), None);
    }
}
