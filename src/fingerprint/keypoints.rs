//! Crop-robust fingerprints: corners (Harris) found on a scale pyramid with
//! three levels per octave, each described by the DCT sign hash of the
//! 16×16 patch around it at its level. A crop keeps the corners inside it and
//! a downscaled copy finds them a few levels down, so a published panel shares
//! keypoints with its original whatever was cut away; overlays only remove the
//! keypoints they cover.

use rayon::prelude::*;

use super::dct::{PatchHasher, PATCH};
use super::plane::Plane;

/// Scale ratio of one level unit: six per octave. Archive pyramids step two
/// units (three levels per octave); panels add a pyramid offset by one unit,
/// so that whatever the panel's scale, one of its levels is within 6% of an
/// archive level.
pub const LEVEL_UNIT: f32 = 0.890_898_7; // 2^(-1/6)
/// Smallest pyramid level side, in pixels.
const MIN_SIDE: usize = 40;
/// Harris constant.
const HARRIS_K: f32 = 0.05;

/// A keypoint: its position in the fingerprinted image's pixels, its level
/// and its descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keypoint {
    /// x, in image pixels.
    pub x: u16,
    /// y, in image pixels.
    pub y: u16,
    /// Pyramid level in [`LEVEL_UNIT`]s: the patch spans `PATCH / (base_scale * LEVEL_UNIT^level)` image pixels.
    pub level: u8,
    /// 63-bit DCT sign hash of the patch.
    pub desc: u64,
}

/// How densely to sample keypoints.
#[derive(Debug, Clone, Copy)]
pub struct Density {
    /// Pixels of a level per keypoint kept.
    pub pixels_per_keypoint: usize,
    /// At most this many per level.
    pub max_per_level: usize,
    /// 1: levels every two units (archive); 2: every unit (panels).
    pub phases: u8,
}

/// Keypoints of `base` (already scaled to `base_scale` × image pixels).
/// `overlay`, when given, is a 0..1 plane of how much of each pixel is overlay.
pub fn detect(base: &Plane, overlay: Option<&Plane>, base_scale: f32, density: Density) -> Vec<Keypoint> {
    // The phases' pyramids are independent: build them on every core.
    (0..density.phases)
        .into_par_iter()
        .flat_map_iter(|phase| detect_phase(base, overlay, base_scale, density, phase))
        .collect()
}

/// The keypoints of one phase's pyramid: levels `phase`, `phase + 2`, ….
fn detect_phase(base: &Plane, overlay: Option<&Plane>, base_scale: f32, density: Density, phase: u8) -> Vec<Keypoint> {
    let hasher = PatchHasher::default();
    let mut out = Vec::new();
    let f = LEVEL_UNIT.powi(phase as i32);
    let (w0, h0) = ((base.w as f32 * f).round() as usize, (base.h as f32 * f).round() as usize);
    let mut level_img = base.resize(w0, h0);
    let mut level_mask = overlay.map(|m| m.resize(w0, h0));
    let mut level = phase;
    while level_img.w.min(level_img.h) >= MIN_SIDE {
        let smooth = binomial(&level_img);
        let response = harris(&smooth);
        let want = (smooth.w * smooth.h / density.pixels_per_keypoint).clamp(4, density.max_per_level);
        // The level's true scale, from its rounded size.
        let scale = base_scale * smooth.w as f32 / base.w as f32;
        // A keypoint whose patch overlaps an overlay is not kept.
        let patch_mask = level_mask.as_ref().map(|m| m.blur(PATCH as f32 / 4.0));
        for (x, y) in strongest(&response, want, PATCH / 2 + 1, patch_mask.as_ref()) {
            let mut block = [0f32; PATCH * PATCH];
            for dy in 0..PATCH {
                let row = (y + dy - PATCH / 2) * smooth.w + x - PATCH / 2;
                block[dy * PATCH..(dy + 1) * PATCH].copy_from_slice(&smooth.data[row..row + PATCH]);
            }
            out.push(Keypoint {
                x: ((x as f32 + 0.5) / scale).min(u16::MAX as f32) as u16,
                y: ((y as f32 + 0.5) / scale).min(u16::MAX as f32) as u16,
                level,
                desc: hasher.hash(&block),
            });
        }
        let step = LEVEL_UNIT * LEVEL_UNIT;
        let (nw, nh) = ((level_img.w as f32 * step).round() as usize, (level_img.h as f32 * step).round() as usize);
        if level >= u8::MAX - 2 {
            break;
        }
        level_img = level_img.resize(nw, nh);
        level_mask = level_mask.map(|m| m.resize(nw, nh));
        level += 2;
    }
    out
}

/// 5-tap binomial smoothing (σ ≈ 1), edges replicated.
fn binomial(p: &Plane) -> Plane {
    const K: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
    p.separable(&K)
}

/// Harris corner response.
fn harris(img: &Plane) -> Plane {
    let (w, h) = (img.w, img.h);
    let mut ixx = Plane::new(w, h);
    let mut iyy = Plane::new(w, h);
    let mut ixy = Plane::new(w, h);
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let gx = (img.at(x + 1, y) - img.at(x - 1, y)) * 0.5;
            let gy = (img.at(x, y + 1) - img.at(x, y - 1)) * 0.5;
            let i = y * w + x;
            ixx.data[i] = gx * gx;
            iyy.data[i] = gy * gy;
            ixy.data[i] = gx * gy;
        }
    }
    // Integration window: 5×5 binomial-weighted sums.
    const K: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
    let (sxx, syy, sxy) = (ixx.separable(&K), iyy.separable(&K), ixy.separable(&K));
    let mut r = Plane::new(w, h);
    for i in 0..w * h {
        let (a, b, c) = (sxx.data[i], syy.data[i], sxy.data[i]);
        r.data[i] = a * b - c * c - HARRIS_K * (a + b) * (a + b);
    }
    r
}

/// Up to `want` local maxima of `r` (3×3), at least `border` from the edges,
/// spread over the image: the best of each cell of a grid first.
fn strongest(r: &Plane, want: usize, border: usize, mask: Option<&Plane>) -> Vec<(usize, usize)> {
    let (w, h) = (r.w, r.h);
    if w <= 2 * border || h <= 2 * border {
        return Vec::new();
    }
    let mut peaks: Vec<(f32, usize, usize)> = Vec::new();
    for y in border..h - border {
        for x in border..w - border {
            let v = r.at(x, y);
            if v <= 1e-7 {
                continue;
            }
            let is_max = (y - 1..=y + 1).all(|yy| (x - 1..=x + 1).all(|xx| (xx == x && yy == y) || r.at(xx, yy) < v));
            if !is_max {
                continue;
            }
            if let Some(m) = mask {
                if m.at(x, y) > 0.05 {
                    continue;
                }
            }
            peaks.push((v, x, y));
        }
    }
    // Grid cells sized so that about `want` cells cover the image: the best
    // peak of each cell first, then the rest by strength.
    let cell = ((w * h) as f32 / want as f32).sqrt().max(4.0) as usize;
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
    let cols = w.div_ceil(cell);
    let mut taken = vec![false; cols * h.div_ceil(cell)];
    let mut first = Vec::new();
    let mut rest = Vec::new();
    for p in peaks {
        let c = (p.2 / cell) * cols + p.1 / cell;
        if taken[c] {
            rest.push(p);
        } else {
            taken[c] = true;
            first.push(p);
        }
    }
    first.into_iter().chain(rest).take(want).map(|(_, x, y)| (x, y)).collect()
}
