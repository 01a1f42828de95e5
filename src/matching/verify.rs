//! Stage 2: verification. Given a candidate's geometry, resample the archive
//! image onto the panel's pixel grid and search scale and position for the
//! best masked, band-passed zero-mean normalised cross-correlation: first on a
//! coarse grid (panel at most 128 px), then finer (at most 384 px) with a
//! sub-pixel peak. Band-passing keeps smooth or half-blank panels from
//! correlating with anything; the overlay mask keeps letters and scale bars
//! out of the sum.

use crate::fingerprint::{Plane, Prepared};

const COARSE_SIDE: f32 = 128.0;
const FINE_SIDE: f32 = 384.0;
/// The final score is taken at up to this resolution: re-shots of one field
/// differ mostly in their noise, which only full resolution shows.
const SCORE_SIDE: f32 = 768.0;
const COARSE_RADIUS: i32 = 5;
const FINE_RADIUS: i32 = 2;

/// A verified placement of a panel in an archive image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Panel pixels per original pixel.
    pub scale: f32,
    /// Panel x of original x = 0.
    pub tx: f32,
    /// Panel y of original y = 0.
    pub ty: f32,
    /// Band-passed correlation at the placement, −1..1.
    pub r: f32,
    /// Evidence: Fisher z of `r` times √(independent samples − 3).
    pub z: f32,
}

impl Placement {
    /// The panel's rectangle in original pixels: [x0, y0, x1, y1].
    pub fn crop(&self, panel_w: usize, panel_h: usize) -> [f32; 4] {
        [
            -self.tx / self.scale,
            -self.ty / self.scale,
            (panel_w as f32 - self.tx) / self.scale,
            (panel_h as f32 - self.ty) / self.scale,
        ]
    }
}

fn bandpass(p: &Plane) -> Plane {
    let fine = p.blur(0.6);
    let coarse = p.blur(4.0);
    Plane { w: p.w, h: p.h, data: fine.data.iter().zip(&coarse.data).map(|(a, b)| a - b).collect() }
}

/// The panel at one working resolution: band-passed values minus their
/// masked mean, with the mask.
struct Work {
    c: f32,
    w: usize,
    h: usize,
    p: Vec<f32>,
    valid: Vec<bool>,
    p_energy: f32,
    n: usize,
}

fn work(panel: &Prepared, side: f32) -> Option<Work> {
    let src = &panel.plane;
    let c = (side / src.w.max(src.h) as f32).min(1.0);
    let (w, h) = (((src.w as f32 * c).round() as usize).max(8), ((src.h as f32 * c).round() as usize).max(8));
    let bp = bandpass(&src.resize(w, h));
    let valid: Vec<bool> = match &panel.overlay {
        Some(m) => m.resize(w, h).data.iter().map(|&v| v < 0.2).collect(),
        None => vec![true; w * h],
    };
    let n = valid.iter().filter(|&&v| v).count();
    if n < 64 {
        return None;
    }
    let mean = bp.data.iter().zip(&valid).filter(|(_, &v)| v).map(|(x, _)| x).sum::<f32>() / n as f32;
    let p: Vec<f32> = bp.data.iter().zip(&valid).map(|(x, &v)| if v { x - mean } else { 0.0 }).collect();
    let p_energy = p.iter().map(|x| x * x).sum();
    Some(Work { c: (w as f32 / src.w as f32), w, h, p, valid, p_energy, n })
}

/// Archive values on the panel's working grid for placement (scale, tx, ty),
/// with a margin of `r` pixels on every side; band-passed.
fn archive_grid(archive: &Plane, wk: &Work, scale: f32, tx: f32, ty: f32, r: i32) -> Plane {
    let k = scale * wk.c; // working pixels per original pixel
    let aw = ((archive.w as f32 * k).round() as usize).max(1);
    let ah = ((archive.h as f32 * k).round() as usize).max(1);
    let a = archive.resize(aw, ah);
    let (fx, fy) = (aw as f32 / archive.w as f32 / k, ah as f32 / archive.h as f32 / k);
    let (gw, gh) = (wk.w + 2 * r as usize, wk.h + 2 * r as usize);
    let mut g = Plane::new(gw, gh);
    for v in 0..gh {
        for u in 0..gw {
            // working (u - r, v - r) → panel px /c → original (p - t)/s → a px × k
            let x = ((u as f32 - r as f32) - tx * wk.c) * fx;
            let y = ((v as f32 - r as f32) - ty * wk.c) * fy;
            g.data[v * gw + u] = a.sample(x, y);
        }
    }
    bandpass(&g)
}

/// Best integer shift of the panel over the grid: (correlation, dx, dy), and
/// the correlations around it for a sub-pixel peak.
fn best_shift(wk: &Work, g: &Plane, r: i32) -> (f32, i32, i32, Vec<f32>) {
    let side = (2 * r + 1) as usize;
    let mut scores = vec![-1.0f32; side * side];
    for dy in -r..=r {
        for dx in -r..=r {
            let (mut sa, mut saa, mut spa) = (0.0f32, 0.0f32, 0.0f32);
            for v in 0..wk.h {
                let grow = &g.data[((v as i32 + r + dy) as usize) * g.w..];
                let off = (r + dx) as usize;
                let prow = &wk.p[v * wk.w..(v + 1) * wk.w];
                let vrow = &wk.valid[v * wk.w..(v + 1) * wk.w];
                for u in 0..wk.w {
                    if vrow[u] {
                        let a = grow[off + u];
                        sa += a;
                        saa += a * a;
                        spa += prow[u] * a;
                    }
                }
            }
            let var_a = saa - sa * sa / wk.n as f32;
            let denom = (var_a * wk.p_energy).sqrt();
            let score = if denom > 1e-12 { spa / denom } else { 0.0 };
            scores[((dy + r) as usize) * side + (dx + r) as usize] = score;
        }
    }
    let (i, &best) = scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).expect("scores not empty");
    (best, (i % side) as i32 - r, (i / side) as i32 - r, scores)
}

/// Offset of a parabola's peak through three samples, in −0.5..0.5.
fn parabola(l: f32, c: f32, r: f32) -> f32 {
    let d = l - 2.0 * c + r;
    if d.abs() < 1e-9 {
        0.0
    } else {
        (0.5 * (l - r) / d).clamp(-0.5, 0.5)
    }
}

/// Searches scale (around `scale`, keeping the panel centre fixed) and shift.
fn search(archive: &Plane, wk: &Work, scale: f32, tx: f32, ty: f32, muls: &[f32], r: i32) -> Placement {
    // Panel centre in original pixels stays put while the scale changes.
    let (pcx, pcy) = (wk.w as f32 / wk.c / 2.0, wk.h as f32 / wk.c / 2.0);
    let (ocx, ocy) = ((pcx - tx) / scale, (pcy - ty) / scale);
    let mut best = Placement { scale, tx, ty, r: -1.0, z: 0.0 };
    let mut per_mul = Vec::new();
    for &m in muls {
        let s = scale * m;
        let (t_x, t_y) = (pcx - s * ocx, pcy - s * ocy);
        let g = archive_grid(archive, wk, s, t_x, t_y, r);
        let (score, dx, dy, scores) = best_shift(wk, &g, r);
        per_mul.push(score);
        if score > best.r {
            let side = (2 * r + 1) as usize;
            let at = |x: i32, y: i32| scores[((y + r) as usize) * side + (x + r) as usize];
            let (mut sx, mut sy) = (dx as f32, dy as f32);
            if dx.abs() < r {
                sx += parabola(at(dx - 1, dy), score, at(dx + 1, dy));
            }
            if dy.abs() < r {
                sy += parabola(at(dx, dy - 1), score, at(dx, dy + 1));
            }
            // A shift of the panel by +d working pixels is the origin moving by −d.
            best = Placement { scale: s, tx: t_x - sx / wk.c, ty: t_y - sy / wk.c, r: score, z: 0.0 };
        }
    }
    // Sub-step scale from the three best multipliers.
    if let Some(i) = per_mul.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i) {
        if i > 0 && i + 1 < muls.len() {
            let step = muls[i + 1] - muls[i];
            let off = parabola(per_mul[i - 1], per_mul[i], per_mul[i + 1]) * step;
            let s = best.scale * (1.0 + off / muls[i]);
            let (cx, cy) = ((pcx - best.tx) / best.scale, (pcy - best.ty) / best.scale);
            best = Placement { scale: s, tx: pcx - s * cx, ty: pcy - s * cy, ..best };
        }
    }
    best
}

/// Verifies a candidate placement of `panel` in `archive` (both prepared).
pub fn verify(panel: &Prepared, archive: &Plane, scale: f32, tx: f32, ty: f32) -> Option<Placement> {
    let coarse = work(panel, COARSE_SIDE)?;
    let p = search(archive, &coarse, scale, tx, ty, &[0.94, 0.97, 1.0, 1.03, 1.06], COARSE_RADIUS);
    let fine = work(panel, FINE_SIDE)?;
    let mut p = search(archive, &fine, p.scale, p.tx, p.ty, &[0.98, 0.99, 1.0, 1.01, 1.02], FINE_RADIUS);
    // Refine until the placement stops moving (at most three more rounds).
    for _ in 0..3 {
        let q = search(archive, &fine, p.scale, p.tx, p.ty, &[0.995, 1.0, 1.005], FINE_RADIUS);
        let moved = (q.tx - p.tx).abs().max((q.ty - p.ty).abs()) * fine.c;
        p = q;
        if moved < 0.25 {
            break;
        }
    }
    // Final score at full resolution (capped), at the refined placement.
    let full = work(panel, SCORE_SIDE)?;
    let g = archive_grid(archive, &full, p.scale, p.tx, p.ty, 1);
    let (r, dx, dy, _) = best_shift(&full, &g, 1);
    if dx != 0 || dy != 0 {
        // Off by a whole pixel at full resolution: take the better neighbour.
        p.tx -= dx as f32 / full.c;
        p.ty -= dy as f32 / full.c;
    }
    let n_eff = (full.n as f32 / 9.0).max(4.0);
    p.r = r;
    p.z = r.clamp(-0.9999, 0.9999).atanh() * (n_eff - 3.0).sqrt();
    Some(p)
}
