//! DCT sign hashes: the PDQ-style 256-bit global hash (64×64 → the 16×16
//! lowest frequencies, thresholded at their median) with its quality, the
//! classic 64-bit pHash (32×32 → 8×8) used as the benchmark's baseline, and the
//! 64-bit descriptor of a keypoint's patch.

use super::plane::Plane;

/// `n_out` × `n_in` DCT-II basis rows (frequencies 0..n_out).
fn basis(n_in: usize, n_out: usize) -> Vec<f32> {
    let mut b = vec![0.0; n_out * n_in];
    for u in 0..n_out {
        for x in 0..n_in {
            b[u * n_in + x] = ((std::f32::consts::PI / n_in as f32) * (x as f32 + 0.5) * u as f32).cos();
        }
    }
    b
}

/// The `k`×`k` lowest-frequency DCT coefficients of an `n`×`n` block.
fn dct_low(block: &[f32], n: usize, k: usize, basis: &[f32]) -> Vec<f32> {
    // rows: tmp[u][x] = sum_y B[u][y] * block[y][x]
    let mut tmp = vec![0.0f32; k * n];
    for u in 0..k {
        let bu = &basis[u * n..(u + 1) * n];
        let t = &mut tmp[u * n..(u + 1) * n];
        for (y, bv) in bu.iter().enumerate() {
            let row = &block[y * n..(y + 1) * n];
            for (tx, r) in t.iter_mut().zip(row) {
                *tx += bv * r;
            }
        }
    }
    let mut out = vec![0.0f32; k * k];
    for u in 0..k {
        for v in 0..k {
            let bv = &basis[v * n..(v + 1) * n];
            out[u * k + v] = tmp[u * n..(u + 1) * n].iter().zip(bv).map(|(a, b)| a * b).sum();
        }
    }
    out
}

fn median(v: &[f32]) -> f32 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[s.len() / 2]
}

fn bits(coeffs: &[f32], threshold: f32) -> Vec<u64> {
    let mut out = vec![0u64; coeffs.len().div_ceil(64)];
    for (i, &c) in coeffs.iter().enumerate() {
        if c > threshold {
            out[i / 64] |= 1 << (i % 64);
        }
    }
    out
}

/// PDQ-style 256-bit hash and its quality (0–100: how much gradient the
/// image has; flat or blank images hash unreliably).
pub fn pdq(img: &Plane) -> ([u64; 4], f32) {
    // Area averaging to 128×128, a light blur, then 64×64: PDQ's low-pass, cheaply.
    let small = img.resize(128, 128).blur(1.0).resize(64, 64);
    let b = basis(64, 16);
    let c = dct_low(&small.data, 64, 16, &b);
    let m = median(&c);
    let v = bits(&c, m);
    let mut grad = 0.0f32;
    for y in 0..63 {
        for x in 0..63 {
            let p = small.at(x, y);
            grad += (small.at(x + 1, y) - p).abs() + (small.at(x, y + 1) - p).abs();
        }
    }
    // PDQ: quality = min(100, gradient sum over the 64×64 image / 90), on 0..255 values.
    let quality = (grad * 255.0 / 90.0).min(100.0);
    ([v[0], v[1], v[2], v[3]], quality)
}

/// The classic 64-bit pHash: 32×32, DCT, the 8×8 lowest frequencies against their median.
pub fn phash64(img: &Plane) -> u64 {
    let small = img.resize(32, 32);
    let b = basis(32, 8);
    let c = dct_low(&small.data, 32, 8, &b);
    let m = median(&c[1..]);
    bits(&c, m)[0]
}

/// Side of a keypoint patch, in pixels of its pyramid level.
pub const PATCH: usize = 16;
/// Frequencies kept per axis of a patch's DCT.
const PATCH_FREQ: usize = 8;

/// DCT basis for patch descriptors, computed once per fingerprint, and the
/// coefficients in order of frequency (zig-zag), so that the low bits of a
/// descriptor are its most stable ones.
pub struct PatchHasher {
    basis: Vec<f32>,
    order: Vec<usize>,
}

impl Default for PatchHasher {
    fn default() -> Self {
        let mut order: Vec<usize> = (1..PATCH_FREQ * PATCH_FREQ).collect();
        order.sort_by_key(|&i| (i / PATCH_FREQ + i % PATCH_FREQ, i));
        PatchHasher { basis: basis(PATCH, PATCH_FREQ), order }
    }
}

impl PatchHasher {
    /// 63 sign bits of a `PATCH`×`PATCH` block's low frequencies (DC left
    /// out), each against their median: invariant to brightness and contrast,
    /// robust to noise and compression.
    pub fn hash(&self, block: &[f32]) -> u64 {
        let c = dct_low(block, PATCH, PATCH_FREQ, &self.basis);
        let m = median(&c[1..]);
        let mut h = 0u64;
        for (bit, &i) in self.order.iter().enumerate() {
            if c[i] > m {
                h |= 1 << bit;
            }
        }
        h
    }
}

/// Hamming distance of two 256-bit hashes.
pub fn hamming256(a: &[u64; 4], b: &[u64; 4]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texture(w: usize, h: usize, phase: f32) -> Plane {
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                0.5 + 0.25 * ((x * 0.07 + phase).sin() * (y * 0.05).cos()) + 0.2 * ((x * 0.013 + y * 0.021).sin())
            })
            .collect();
        Plane { w, h, data }
    }

    #[test]
    fn pdq_is_stable_under_resize_and_contrast_and_differs_between_images() {
        let a = texture(300, 200, 0.0);
        let mut b = a.resize(150, 100);
        b.data.iter_mut().for_each(|v| *v = *v * 0.6 + 0.2);
        let (ha, qa) = pdq(&a);
        let (hb, _) = pdq(&b);
        assert!(hamming256(&ha, &hb) < 20, "{}", hamming256(&ha, &hb));
        assert!(qa > 10.0);
        let (hc, _) = pdq(&texture(300, 200, 1.7));
        assert!(hamming256(&ha, &hc) > 40, "{}", hamming256(&ha, &hc));
        let (_, q_flat) = pdq(&Plane { w: 64, h: 64, data: vec![0.5; 4096] });
        assert!(q_flat < 1.0);
    }
}
