//! A float grey image and the few operations fingerprinting needs: building it
//! from 8-bit pixels with the data bar cut and contrast normalised, masking
//! overlays, resampling with anti-aliasing, and Gaussian blur.

use image::DynamicImage;

/// A single-channel float image, row-major, values roughly in 0..1.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    /// Width in pixels.
    pub w: usize,
    /// Height in pixels.
    pub h: usize,
    /// `w * h` values.
    pub data: Vec<f32>,
}

impl Plane {
    /// A plane of zeros.
    pub fn new(w: usize, h: usize) -> Plane {
        Plane { w, h, data: vec![0.0; w * h] }
    }

    /// The value at (x, y).
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.w + x]
    }

    /// Bilinear sample at a real position, clamped to the edges.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let x = x.clamp(0.0, (self.w - 1) as f32);
        let y = y.clamp(0.0, (self.h - 1) as f32);
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let top = self.at(x0, y0) * (1.0 - fx) + self.at(x1, y0) * fx;
        let bottom = self.at(x0, y1) * (1.0 - fx) + self.at(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// A sub-rectangle.
    pub fn crop(&self, x0: usize, y0: usize, w: usize, h: usize) -> Plane {
        let mut out = Plane::new(w, h);
        for y in 0..h {
            let src = (y0 + y) * self.w + x0;
            out.data[y * w..(y + 1) * w].copy_from_slice(&self.data[src..src + w]);
        }
        out
    }

    /// From 8-bit grey pixels, dropping `drop_bottom` rows (the data bar).
    pub fn from_gray8(w: usize, h: usize, pixels: &[u8], drop_bottom: usize) -> Plane {
        let h = h.saturating_sub(drop_bottom).max(1);
        let data = pixels[..w * h].iter().map(|&p| p as f32 / 255.0).collect();
        Plane { w, h, data }
    }

    /// Stretches the 1st–99th percentile to 0..1 (contrast and brightness
    /// changes of a published copy then mostly cancel).
    pub fn normalize(&mut self) {
        let mut hist = [0u32; 256];
        for &v in &self.data {
            hist[(v.clamp(0.0, 1.0) * 255.0) as usize] += 1;
        }
        let n = self.data.len() as u32;
        let quantile = |q: f32| {
            let target = (n as f32 * q) as u32;
            let mut acc = 0;
            for (i, &c) in hist.iter().enumerate() {
                acc += c;
                if acc > target {
                    return i as f32 / 255.0;
                }
            }
            1.0
        };
        let (lo, hi) = (quantile(0.01), quantile(0.99));
        let span = (hi - lo).max(1.0 / 255.0);
        for v in self.data.iter_mut() {
            *v = ((*v - lo) / span).clamp(0.0, 1.0);
        }
    }

    /// Resamples to `w`×`h`: area-averaged when shrinking (no aliasing),
    /// bilinear when enlarging.
    pub fn resize(&self, w: usize, h: usize) -> Plane {
        let w = w.max(1);
        let h = h.max(1);
        if w == self.w && h == self.h {
            return self.clone();
        }
        let fx = self.w as f32 / w as f32;
        let fy = self.h as f32 / h as f32;
        if fx < 1.0 || fy < 1.0 {
            let mut out = Plane::new(w, h);
            for y in 0..h {
                for x in 0..w {
                    out.data[y * w + x] = self.sample((x as f32 + 0.5) * fx - 0.5, (y as f32 + 0.5) * fy - 0.5);
                }
            }
            return out;
        }
        // Separable box filter with fractional edges: columns, then rows.
        let cols = resample_axis(&self.data, self.w, self.h, w, true);
        let data = resample_axis(&cols, w, self.h, h, false);
        Plane { w, h, data }
    }

    /// Separable Gaussian blur (edges replicated).
    pub fn blur(&self, sigma: f32) -> Plane {
        if sigma <= 0.1 {
            return self.clone();
        }
        let r = (sigma * 3.0).ceil() as usize;
        let k: Vec<f32> =
            (0..=2 * r).map(|i| (-((i as f32 - r as f32).powi(2)) / (2.0 * sigma * sigma)).exp()).collect();
        let sum: f32 = k.iter().sum();
        let k: Vec<f32> = k.iter().map(|v| v / sum).collect();
        self.separable(&k)
    }

    /// A separable filter with an odd kernel `k` (rows, then columns), edges replicated.
    pub fn separable(&self, k: &[f32]) -> Plane {
        let (w, h, r) = (self.w, self.h, k.len() / 2);
        // Rows: pad each row with its edge values, then add the taps one by
        // one over the whole row.
        let mut tmp = Plane::new(w, h);
        let mut padded = vec![0f32; w + 2 * r];
        for (row, dst) in self.data.chunks_exact(w).zip(tmp.data.chunks_exact_mut(w)) {
            pad_into(&mut padded, row, r);
            for (i, kv) in k.iter().enumerate() {
                dst.iter_mut().zip(&padded[i..i + w]).for_each(|(d, a)| *d += a * kv);
            }
        }
        // Columns: accumulate whole rows.
        let mut out = Plane::new(w, h);
        for y in 0..h {
            let dst = &mut out.data[y * w..(y + 1) * w];
            for (i, kv) in k.iter().enumerate() {
                let yy = (y + i).saturating_sub(r).min(h - 1);
                let src = &tmp.data[yy * w..(yy + 1) * w];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d += s * kv;
                }
            }
        }
        out
    }
}

impl Plane {
    /// A box blur of radius `r` applied three times: close to a Gaussian of
    /// σ ≈ √(r² + r), at a cost that does not grow with `r`.
    pub fn box_blur3(&self, r: usize) -> Plane {
        let mut p = self.clone();
        for _ in 0..3 {
            p = p.box_pass(r, true).box_pass(r, false);
        }
        p
    }

    /// One running-sum box pass along x or y, edges replicated. Both run
    /// along rows in memory order (the y pass keeps a running sum per column).
    fn box_pass(&self, r: usize, along_x: bool) -> Plane {
        let (w, h) = (self.w, self.h);
        let mut out = Plane::new(w, h);
        let norm = 1.0 / (2 * r + 1) as f32;
        if along_x {
            let mut padded = vec![0f32; w + 2 * r + 1];
            for (row, dst) in self.data.chunks_exact(w).zip(out.data.chunks_exact_mut(w)) {
                pad_into(&mut padded, row, r);
                let mut acc: f32 = padded[..=2 * r].iter().sum();
                for (x, d) in dst.iter_mut().enumerate() {
                    *d = acc * norm;
                    acc += padded[x + 2 * r + 1] - padded[x];
                }
            }
        } else {
            let row = |y: isize| {
                let y = y.clamp(0, h as isize - 1) as usize;
                &self.data[y * w..(y + 1) * w]
            };
            let r = r as isize;
            let mut acc = vec![0f32; w];
            for dy in -r..=r {
                acc.iter_mut().zip(row(dy)).for_each(|(a, v)| *a += v);
            }
            for (y, dst) in out.data.chunks_exact_mut(w).enumerate() {
                dst.iter_mut().zip(&acc).for_each(|(d, a)| *d = a * norm);
                let (add, sub) = (row(y as isize + r + 1), row(y as isize - r));
                acc.iter_mut().zip(add).zip(sub).for_each(|((a, p), m)| *a += p - m);
            }
        }
        out
    }
}

/// Copies `row` into `padded` after `r` copies of its first value, and fills
/// the rest with its last value.
fn pad_into(padded: &mut [f32], row: &[f32], r: usize) {
    let w = row.len();
    padded[..r].fill(row[0]);
    padded[r..r + w].copy_from_slice(row);
    padded[r + w..].fill(row[w - 1]);
}

/// Area-averaging resample of one axis from `n` to `m` samples (m ≤ n).
fn resample_axis(src: &[f32], w: usize, h: usize, m: usize, along_x: bool) -> Vec<f32> {
    let n = if along_x { w } else { h };
    let f = n as f32 / m as f32;
    // For each output sample: (first source index, weights).
    let taps: Vec<(usize, Vec<f32>)> = (0..m)
        .map(|o| {
            let a = o as f32 * f;
            let b = a + f;
            let first = a.floor() as usize;
            let last = (b.ceil() as usize).min(n);
            let ws = (first..last).map(|i| ((i + 1) as f32).min(b) - (i as f32).max(a)).map(|v| v / f).collect();
            (first, ws)
        })
        .collect();
    if along_x {
        let mut out = vec![0.0; m * h];
        for y in 0..h {
            let row = &src[y * w..(y + 1) * w];
            for (o, (first, ws)) in taps.iter().enumerate() {
                out[y * m + o] = ws.iter().enumerate().map(|(i, wt)| row[first + i] * wt).sum();
            }
        }
        out
    } else {
        let mut out = vec![0.0; w * m];
        for (o, (first, ws)) in taps.iter().enumerate() {
            let dst = &mut out[o * w..(o + 1) * w];
            for (i, wt) in ws.iter().enumerate() {
                let s = &src[(first + i) * w..(first + i + 1) * w];
                for (d, v) in dst.iter_mut().zip(s) {
                    *d += v * wt;
                }
            }
        }
        out
    }
}

/// Which pixels of a published panel are drawn over the micrograph (letters,
/// arrows, boxes, added scale bars): strongly coloured pixels, and pure black
/// or white pixels in perfectly flat neighbourhoods. `true` = overlay.
pub fn overlay_mask(img: &DynamicImage) -> Vec<bool> {
    let rgb = img.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let gray: Vec<u8> =
        rgb.pixels().map(|p| ((p[0] as u32 * 299 + p[1] as u32 * 587 + p[2] as u32 * 114) / 1000) as u8).collect();
    let mut mask = vec![false; w * h];
    for (i, p) in rgb.pixels().enumerate() {
        let (mx, mn) = (p.0.iter().copied().max().unwrap_or(0), p.0.iter().copied().min().unwrap_or(0));
        if mx as i32 - mn as i32 > 60 {
            mask[i] = true;
        }
    }
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let v = gray[y * w + x];
            if v > 4 && v < 251 {
                continue;
            }
            let flat = (y - 1..=y + 1).all(|yy| (x - 1..=x + 1).all(|xx| gray[yy * w + xx] == v));
            if flat {
                mask[y * w + x] = true;
            }
        }
    }
    dilate(&mask, w, h, 2)
}

/// Grows `true` regions by `r` pixels (square neighbourhood).
pub fn dilate(mask: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let mut rows = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            if mask[y * w + x] {
                for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                    rows[y * w + xx] = true;
                }
            }
        }
    }
    let mut out = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            if rows[y * w + x] {
                for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                    out[yy * w + x] = true;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_averages_areas() {
        let p = Plane { w: 4, h: 2, data: vec![0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0] };
        let r = p.resize(2, 1);
        assert_eq!(r.data, vec![0.5, 0.5]);
        let r3 = Plane { w: 3, h: 1, data: vec![0.0, 0.0, 0.9] }.resize(2, 1);
        assert!((r3.data[0] - 0.0).abs() < 1e-6 && (r3.data[1] - 0.6).abs() < 1e-6, "{:?}", r3.data);
    }

    #[test]
    fn normalize_stretches_contrast() {
        let mut p = Plane { w: 100, h: 1, data: (0..100).map(|i| 0.4 + i as f32 * 0.002).collect() };
        p.normalize();
        assert!(p.data[0] <= 0.02 && p.data[99] >= 0.98);
    }

    #[test]
    fn blur_keeps_the_mean() {
        let p = Plane { w: 9, h: 9, data: (0..81).map(|i| (i % 2) as f32).collect() };
        let b = p.blur(1.5);
        let (ma, mb) = (p.data.iter().sum::<f32>() / 81.0, b.data.iter().sum::<f32>() / 81.0);
        assert!((ma - mb).abs() < 0.02);
        assert!(b.data.iter().all(|v| (v - 0.5).abs() < 0.2));
    }
}
