//! Stage 2: verification. Given a candidate's geometry, resample the archive
//! image onto the panel's pixel grid and search scale and position for the
//! best masked, band-passed zero-mean normalised cross-correlation: first on a
//! coarse grid (panel at most 128 px), then finer (at most 384 px), and score
//! the result at up to 768 px, where re-shots of one field differ in their
//! noise. Band-passing keeps smooth or half-blank panels from correlating
//! with anything; the overlay mask keeps letters and scale bars out of the sum.
//! Only the region of the archive under the panel is resampled, once per
//! resolution; nearby scales are sampled from it.

use crate::fingerprint::{Plane, Prepared};

const COARSE_SIDE: f32 = 128.0;
const FINE_SIDE: f32 = 256.0;
const SCORE_SIDE: f32 = 768.0;
const COARSE_RADIUS: i32 = 4;
const FINE_RADIUS: i32 = 2;
/// Gaussian σ, in working pixels, the original is softened by when scored.
const SOFTEN: [f32; 3] = [0.0, 0.7, 1.2];

/// A placement of a panel in an archive image: panel = scale × original + t.
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
    /// Pixel-detail correlation at the placement (see `refine`).
    pub detail: f32,
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

/// Which detail a correlation looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Band {
    /// Structure: detail between about one and five pixels (a difference of
    /// Gaussians). Survives downscaling, JPEG and contrast changes.
    Structure,
    /// Pixel detail: what is left after a one-pixel blur, mostly the frame's
    /// own noise. Tells a frame from a re-shot of the same field.
    Pixel,
}

fn filtered(p: &Plane, band: Band) -> Plane {
    let (a, b) = match band {
        Band::Structure => (p.blur(0.6), p.box_blur3(3)),
        Band::Pixel => (p.clone(), p.blur(1.0)),
    };
    Plane { w: p.w, h: p.h, data: a.data.iter().zip(&b.data).map(|(x, y)| x - y).collect() }
}

/// The panel at one working resolution: band-passed values minus their
/// masked mean, with the mask.
struct Work {
    /// The detail correlated.
    band: Band,
    /// Working pixels per panel pixel.
    c: f32,
    w: usize,
    h: usize,
    p: Vec<f32>,
    valid: Vec<bool>,
    p_energy: f32,
    n: usize,
}

impl Work {
    fn new(panel: &Prepared, side: f32, band: Band) -> Option<Work> {
        let src = &panel.plane;
        let c = (side / src.w.max(src.h) as f32).min(1.0);
        let (w, h) = (((src.w as f32 * c).round() as usize).max(8), ((src.h as f32 * c).round() as usize).max(8));
        let bp = filtered(&src.resize(w, h), band);
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
        Some(Work { band, c: w as f32 / src.w as f32, w, h, p, valid, p_energy, n })
    }
}

/// A panel ready to be verified against candidates: its three resolutions.
pub struct Verifier {
    coarse: Work,
    fine: Work,
    full: Work,
    pixel: Work,
    panel_w: usize,
    panel_h: usize,
}

/// The band-passed archive region under a placement, resampled to about the
/// working resolution. In edge coordinates (pixel i spans i..i+1), working
/// position X lies at region sample index `a·X + bx` (and `a·Y + by`).
struct Region {
    bp: Plane,
    ax: f32,
    ay: f32,
    bx: f32,
    by: f32,
}

/// The original under a placement, resampled to the working resolution
/// (not yet filtered): the regions of one placement share it.
struct Resampled {
    plane: Plane,
    ax: f32,
    ay: f32,
    bx: f32,
    by: f32,
}

impl Resampled {
    /// The original under `start`, with a margin for shifts within `r` working pixels.
    fn new(archive: &Plane, wk: &Work, start: Placement, r: i32) -> Option<Resampled> {
        let Placement { scale, tx, ty, .. } = start;
        let margin = r as f32 + 0.04 * wk.w.max(wk.h) as f32 + 2.0;
        let k = scale * wk.c; // working pixels per original pixel
                              // The original pixels under the panel, with a margin.
        let m = margin / k;
        let x0 = ((-tx * wk.c) / k - m).floor().max(0.0) as usize;
        let y0 = ((-ty * wk.c) / k - m).floor().max(0.0) as usize;
        let x1 = (((wk.w as f32 - tx * wk.c) / k + m).ceil() as usize).min(archive.w);
        let y1 = (((wk.h as f32 - ty * wk.c) / k + m).ceil() as usize).min(archive.h);
        if x1 <= x0 + 4 || y1 <= y0 + 4 {
            return None;
        }
        let roi = archive.crop(x0, y0, x1 - x0, y1 - y0);
        let (rw, rh) = (((roi.w as f32 * k).round() as usize).max(2), ((roi.h as f32 * k).round() as usize).max(2));
        // Working X → panel X / c → original (X / c − t) / scale → region (· − x0)·k' − ½.
        let (kx, ky) = (rw as f32 / roi.w as f32, rh as f32 / roi.h as f32);
        Some(Resampled {
            plane: roi.resize(rw, rh),
            ax: kx / (wk.c * scale),
            ay: ky / (wk.c * scale),
            bx: (-tx / scale - x0 as f32) * kx - 0.5,
            by: (-ty / scale - y0 as f32) * ky - 0.5,
        })
    }

    /// The region in one band, softened by a Gaussian of σ `soften` first.
    fn region(&self, band: Band, soften: f32) -> Region {
        Region { bp: filtered(&self.plane.blur(soften), band), ax: self.ax, ay: self.ay, bx: self.bx, by: self.by }
    }
}

impl Verifier {
    /// Prepares a panel; `None` when too little of it is unmasked.
    pub fn new(panel: &Prepared) -> Option<Verifier> {
        let ((coarse, fine), (full, pixel)) = rayon::join(
            || (Work::new(panel, COARSE_SIDE, Band::Structure), Work::new(panel, FINE_SIDE, Band::Structure)),
            || (Work::new(panel, SCORE_SIDE, Band::Structure), Work::new(panel, SCORE_SIDE, Band::Pixel)),
        );
        Some(Verifier {
            coarse: coarse?,
            fine: fine?,
            full: full?,
            pixel: pixel?,
            panel_w: panel.plane.w,
            panel_h: panel.plane.h,
        })
    }

    /// The panel's size (pixels of its plane).
    pub fn size(&self) -> (usize, usize) {
        (self.panel_w, self.panel_h)
    }

    /// The coarse search around a candidate's geometry.
    pub fn coarse(&self, archive: &Plane, scale: f32, tx: f32, ty: f32) -> Option<Placement> {
        search(
            archive,
            &self.coarse,
            Placement { scale, tx, ty, r: -1.0, z: 0.0, detail: 0.0 },
            &[0.97, 1.0, 1.03],
            COARSE_RADIUS,
        )
    }

    /// Refines a coarse placement and scores it at full resolution.
    pub fn refine(&self, archive: &Plane, start: Placement) -> Option<Placement> {
        let p = search(archive, &self.fine, start, &[0.99, 1.0, 1.01], FINE_RADIUS)?;
        let p = search(archive, &self.fine, p, &[0.995, 1.0, 1.005], 1)?;
        // Downscaling and JPEG take a panel's finest detail: the original is
        // scored softened as much as suits the panel best, so that a frame
        // softer in itself (a resampled re-shot) gains nothing from it. The
        // full and pixel works share a resolution, so one resampling serves all.
        let under = Resampled::new(archive, &self.full, p, 0)?;
        let (f, soft) = SOFTEN
            .iter()
            .filter_map(|&s| Some((search_in(&self.full, &under.region(Band::Structure, s), p, &[1.0], 0)?, s)))
            .max_by(|a, b| a.0.r.total_cmp(&b.0.r))?;
        let detail = search_in(&self.pixel, &under.region(Band::Pixel, soft), f, &[1.0], 0).map_or(0.0, |d| d.r);
        let n_eff = (self.full.n as f32 / 9.0).max(4.0);
        Some(Placement { z: f.r.clamp(-0.9999, 0.9999).atanh() * (n_eff - 3.0).sqrt(), detail, ..f })
    }
}

/// Correlation of the panel with the region sampled at multiplier `m` about
/// the panel centre and shifted by (dx, dy) working pixels, for every shift
/// within `r`: returns the grid of correlations.
fn correlations(wk: &Work, reg: &Region, m: f32, r: i32) -> Vec<f32> {
    let side = (2 * r + 1) as usize;
    let (cx, cy) = (wk.w as f32 / 2.0, wk.h as f32 / 2.0);
    // The region resampled once for this multiplier, with an r-pixel border.
    let (gw, gh) = (wk.w + 2 * r as usize, wk.h + 2 * r as usize);
    let mut g = vec![0f32; gw * gh];
    for v in 0..gh {
        let y = reg.ay * (cy + (v as f32 - r as f32 + 0.5 - cy) / m) + reg.by;
        for u in 0..gw {
            let x = reg.ax * (cx + (u as f32 - r as f32 + 0.5 - cx) / m) + reg.bx;
            g[v * gw + u] = reg.bp.sample(x, y);
        }
    }
    let mut out = vec![-1.0f32; side * side];
    for dy in -r..=r {
        for dx in -r..=r {
            let (mut sa, mut saa, mut spa) = (0.0f32, 0.0f32, 0.0f32);
            for v in 0..wk.h {
                let grow = &g[((v as i32 + r + dy) as usize) * gw + (r + dx) as usize..];
                let prow = &wk.p[v * wk.w..(v + 1) * wk.w];
                let vrow = &wk.valid[v * wk.w..(v + 1) * wk.w];
                for u in 0..wk.w {
                    if vrow[u] {
                        let a = grow[u];
                        sa += a;
                        saa += a * a;
                        spa += prow[u] * a;
                    }
                }
            }
            let var_a = saa - sa * sa / wk.n as f32;
            let denom = (var_a * wk.p_energy).sqrt();
            out[((dy + r) as usize) * side + (dx + r) as usize] = if denom > 1e-12 { spa / denom } else { 0.0 };
        }
    }
    out
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

/// Searches scale multipliers `muls` (about the panel centre) and shifts
/// within `r` working pixels around `start`, with sub-pixel peaks.
fn search(archive: &Plane, wk: &Work, start: Placement, muls: &[f32], r: i32) -> Option<Placement> {
    let reg = Resampled::new(archive, wk, start, r)?.region(wk.band, 0.0);
    search_in(wk, &reg, start, muls, r)
}

/// [`search`] in a region already made.
fn search_in(wk: &Work, reg: &Region, start: Placement, muls: &[f32], r: i32) -> Option<Placement> {
    let side = (2 * r + 1) as usize;
    // Panel centre in panel pixels; it stays put while the scale changes.
    let (pcx, pcy) = (wk.w as f32 / wk.c / 2.0, wk.h as f32 / wk.c / 2.0);
    let (ocx, ocy) = ((pcx - start.tx) / start.scale, (pcy - start.ty) / start.scale);
    let mut best: Option<(f32, usize, f32, f32)> = None; // (r, mul index, sub-pixel dx, dy)
    let mut per_mul = Vec::with_capacity(muls.len());
    for (i, &m) in muls.iter().enumerate() {
        let c = correlations(wk, reg, m, r);
        let (at, &score) = c.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).expect("at least one shift");
        per_mul.push(score);
        if best.is_none_or(|b| score > b.0) {
            let (dx, dy) = ((at % side) as i32 - r, (at / side) as i32 - r);
            let get = |x: i32, y: i32| c[((y + r) as usize) * side + (x + r) as usize];
            let sx = dx as f32 + if dx.abs() < r { parabola(get(dx - 1, dy), score, get(dx + 1, dy)) } else { 0.0 };
            let sy = dy as f32 + if dy.abs() < r { parabola(get(dx, dy - 1), score, get(dx, dy + 1)) } else { 0.0 };
            best = Some((score, i, sx, sy));
        }
    }
    let (score, i, sx, sy) = best?;
    // Sub-step scale from the neighbouring multipliers.
    let mut m = muls[i];
    if i > 0 && i + 1 < muls.len() {
        m += parabola(per_mul[i - 1], per_mul[i], per_mul[i + 1]) * (muls[i + 1] - muls[i]);
    }
    let s = start.scale * m;
    // Sampling the region shifted by +d working pixels moves the origin by −d.
    let (tx, ty) = (pcx - s * ocx - sx / wk.c, pcy - s * ocy - sy / wk.c);
    Some(Placement { scale: s, tx, ty, r: score, z: 0.0, detail: 0.0 })
}
