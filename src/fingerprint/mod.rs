//! Fingerprint: what an image looks like, in a form that survives what authors
//! do to a micrograph before publishing it (crop, downscale, JPEG, contrast
//! and gamma, overlays, a removed data bar). Pure: pixels in, values out.
//!
//! A [`Fingerprint`] holds a PDQ-style 256-bit global hash with its quality, a
//! 64-bit pHash (the benchmark's baseline), and keypoints with patch
//! descriptors on a scale pyramid (see [`keypoints`]), which are what makes a
//! 25% crop findable. Archive images are fingerprinted at scan time.

pub mod dct;
pub mod keypoints;
pub mod plane;

use image::DynamicImage;

pub use keypoints::{Keypoint, LEVEL_UNIT};
pub use plane::Plane;

use crate::archive::databar;
use crate::archive::tiff::Gray8;

/// Version of the fingerprint layout; rows of another version are recomputed.
pub const VERSION: u8 = 2;
/// Largest side of the plane keypoints are found on, in pixels.
pub const BASE_SIDE: usize = 512;

/// Errors decoding a stored fingerprint.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    /// Bytes too short, or of another version.
    #[error("stored fingerprint is damaged or of another version")]
    Format,
}

/// What a fingerprint is for: archive images keep fewer, stronger keypoints
/// per level; published panels keep as many as they have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An archive acquisition (indexed).
    Archive,
    /// A published panel (a query).
    Panel,
}

impl Role {
    fn density(self) -> keypoints::Density {
        match self {
            Role::Archive => keypoints::Density { pixels_per_keypoint: 1500, max_per_level: 64, phases: 1 },
            Role::Panel => keypoints::Density { pixels_per_keypoint: 600, max_per_level: 200, phases: 2 },
        }
    }
}

/// The fingerprint of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    /// Width of the fingerprinted area, in image pixels (data bar excluded).
    pub width: u32,
    /// Height of the fingerprinted area, in image pixels.
    pub height: u32,
    /// Keypoint plane pixels per image pixel (≤ 1).
    pub base_scale: f32,
    /// PDQ-style 256-bit hash of the whole area.
    pub global: [u64; 4],
    /// PDQ quality, 0–100: below about 20 the image is too flat to hash reliably.
    pub quality: f32,
    /// 64-bit pHash (baseline).
    pub phash: u64,
    /// Keypoints with descriptors.
    pub keypoints: Vec<Keypoint>,
}

/// A normalised image ready to fingerprint or to verify against: grey, data
/// bar cut, contrast stretched; with the overlay mask of a published panel.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The pixels.
    pub plane: Plane,
    /// 1.0 where the pixel is an overlay (letters, arrows, scale bars).
    pub overlay: Option<Plane>,
}

impl Prepared {
    /// An archive image: 8-bit grey with `databar_rows` at the bottom.
    pub fn archive(g: &Gray8, databar_rows: u32) -> Prepared {
        let mut plane = Plane::from_gray8(g.width as usize, g.height as usize, &g.pixels, databar_rows as usize);
        plane.normalize();
        Prepared { plane, overlay: None }
    }

    /// A published panel: any colour image. A data bar still present is
    /// found and cut; overlays are masked.
    pub fn panel(img: &DynamicImage) -> Prepared {
        let luma = img.to_luma8();
        let (w, h) = (luma.width(), luma.height());
        let gray = Gray8 { width: w, height: h, pixels: luma.into_raw() };
        let bar = databar::detect(&gray).unwrap_or(0);
        let mask = plane::overlay_mask(img);
        let mut plane = Plane::from_gray8(w as usize, h as usize, &gray.pixels, bar as usize);
        plane.normalize();
        let overlay = Plane {
            w: plane.w,
            h: plane.h,
            data: mask[..plane.w * plane.h].iter().map(|&m| if m { 1.0 } else { 0.0 }).collect(),
        };
        let any = overlay.data.iter().any(|&v| v > 0.0);
        Prepared { plane, overlay: any.then_some(overlay) }
    }

    /// Fingerprints it.
    pub fn fingerprint(&self, role: Role) -> Fingerprint {
        let p = &self.plane;
        let base_scale = (BASE_SIDE as f32 / p.w.max(p.h) as f32).min(1.0);
        let (bw, bh) = ((p.w as f32 * base_scale).round() as usize, (p.h as f32 * base_scale).round() as usize);
        let base = p.resize(bw, bh);
        let overlay = self.overlay.as_ref().map(|m| m.resize(bw, bh));
        // The global hashes and the keypoints are independent: on two cores at once.
        let (((global, quality), phash), keypoints) = rayon::join(
            || (dct::pdq(p), dct::phash64(p)),
            || keypoints::detect(&base, overlay.as_ref(), base_scale, role.density()),
        );
        Fingerprint { width: p.w as u32, height: p.h as u32, base_scale, global, quality, phash, keypoints }
    }
}

impl Fingerprint {
    /// Size of a keypoint patch in image pixels at `level`.
    pub fn patch_size(&self, level: u8) -> f32 {
        dct::PATCH as f32 / (self.base_scale * LEVEL_UNIT.powi(level as i32))
    }

    /// Serialises (little-endian, versioned) for the store.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.keypoints.len() * 13);
        out.push(VERSION);
        out.extend_from_slice(&self.width.to_le_bytes());
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.base_scale.to_le_bytes());
        for g in self.global {
            out.extend_from_slice(&g.to_le_bytes());
        }
        out.extend_from_slice(&self.quality.to_le_bytes());
        out.extend_from_slice(&self.phash.to_le_bytes());
        out.extend_from_slice(&(self.keypoints.len() as u32).to_le_bytes());
        for k in &self.keypoints {
            out.extend_from_slice(&k.x.to_le_bytes());
            out.extend_from_slice(&k.y.to_le_bytes());
            out.push(k.level);
            out.extend_from_slice(&k.desc.to_le_bytes());
        }
        out
    }

    /// Reads what [`Fingerprint::to_bytes`] wrote.
    pub fn from_bytes(b: &[u8]) -> Result<Fingerprint, FingerprintError> {
        let mut r = Reader { b, at: 0 };
        if r.take(1)?[0] != VERSION {
            return Err(FingerprintError::Format);
        }
        let width = r.u32()?;
        let height = r.u32()?;
        let base_scale = f32::from_bits(r.u32()?);
        let global = [r.u64()?, r.u64()?, r.u64()?, r.u64()?];
        let quality = f32::from_bits(r.u32()?);
        let phash = r.u64()?;
        let n = r.u32()? as usize;
        if n > (b.len() - r.at) / 13 {
            return Err(FingerprintError::Format);
        }
        let mut keypoints = Vec::with_capacity(n);
        for _ in 0..n {
            let x = u16::from_le_bytes(r.take(2)?.try_into().map_err(|_| FingerprintError::Format)?);
            let y = u16::from_le_bytes(r.take(2)?.try_into().map_err(|_| FingerprintError::Format)?);
            let level = r.take(1)?[0];
            let desc = r.u64()?;
            keypoints.push(Keypoint { x, y, level, desc });
        }
        Ok(Fingerprint { width, height, base_scale, global, quality, phash, keypoints })
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FingerprintError> {
        let s = self.b.get(self.at..self.at + n).ok_or(FingerprintError::Format)?;
        self.at += n;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, FingerprintError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| FingerprintError::Format)?))
    }
    fn u64(&mut self) -> Result<u64, FingerprintError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| FingerprintError::Format)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_damage_is_an_error() {
        let g = Gray8 {
            width: 200,
            height: 150,
            pixels: (0..200 * 150).map(|i| ((((i % 200) * 7) ^ ((i / 200) * 13)) % 251) as u8).collect(),
        };
        let f = Prepared::archive(&g, 0).fingerprint(Role::Archive);
        assert!(!f.keypoints.is_empty());
        let b = f.to_bytes();
        assert_eq!(Fingerprint::from_bytes(&b).unwrap(), f);
        assert!(Fingerprint::from_bytes(&b[..b.len() - 3]).is_err());
        assert!(Fingerprint::from_bytes(&[9, 1, 2]).is_err());
    }
}
