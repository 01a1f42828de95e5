//! A small TIFF reader for archive scanning: the first IFD's tags, private
//! vendor tags as raw bytes, and the pixels of the image (uncompressed strips
//! read directly, including palette images that the `tiff` crate refuses;
//! compressed images through the `tiff` crate).
//!
//! Follows TIFF 6.0 (Adobe, 1992), section 2 "TIFF Structure": an 8-byte
//! header, then IFDs of 12-byte entries. BigTIFF is not produced by the
//! microscopes emtrace reads, and is reported as unsupported.

use std::collections::BTreeMap;

use super::ArchiveError;

/// Tag numbers used by the readers (TIFF 6.0 baseline plus vendor tags).
pub mod tag {
    /// ImageWidth.
    pub const IMAGE_WIDTH: u16 = 256;
    /// ImageLength.
    pub const IMAGE_LENGTH: u16 = 257;
    /// BitsPerSample.
    pub const BITS_PER_SAMPLE: u16 = 258;
    /// Compression.
    pub const COMPRESSION: u16 = 259;
    /// PhotometricInterpretation.
    pub const PHOTOMETRIC: u16 = 262;
    /// ImageDescription.
    pub const IMAGE_DESCRIPTION: u16 = 270;
    /// Make.
    pub const MAKE: u16 = 271;
    /// Model.
    pub const MODEL: u16 = 272;
    /// StripOffsets.
    pub const STRIP_OFFSETS: u16 = 273;
    /// SamplesPerPixel.
    pub const SAMPLES_PER_PIXEL: u16 = 277;
    /// RowsPerStrip.
    pub const ROWS_PER_STRIP: u16 = 278;
    /// StripByteCounts.
    pub const STRIP_BYTE_COUNTS: u16 = 279;
    /// DateTime.
    pub const DATE_TIME: u16 = 306;
    /// ColorMap.
    pub const COLOR_MAP: u16 = 320;
    /// SampleFormat.
    pub const SAMPLE_FORMAT: u16 = 339;
    /// Zeiss SmartSEM metadata (CZ_SEM).
    pub const ZEISS_SEM: u16 = 34118;
    /// FEI / Thermo Fisher INI metadata (FEI_HELIOS), or XML on TEMs.
    pub const FEI_INI: u16 = 34682;
    /// FEI / Thermo Fisher XML metadata (FEI_TITAN).
    pub const FEI_XML: u16 = 34683;
    /// TESCAN metadata: a JPEG 2000 thumbnail followed by INI text.
    pub const TESCAN: u16 = 50431;
}

/// Most pixels the reader decodes from one image (a 16k × 16k frame).
pub const MAX_PIXELS: u64 = 16_384 * 16_384;

/// One IFD entry: its type, count and the raw bytes of its value.
#[derive(Debug, Clone)]
pub struct Entry {
    /// TIFF field type (1 BYTE, 2 ASCII, 3 SHORT, 4 LONG, 5 RATIONAL, …).
    pub kind: u16,
    /// Number of values.
    pub count: u32,
    /// The value bytes, in file byte order.
    pub bytes: Vec<u8>,
}

/// The first image file directory of a TIFF.
#[derive(Debug, Clone)]
pub struct Tiff {
    little_endian: bool,
    entries: BTreeMap<u16, Entry>,
}

fn type_size(kind: u16) -> Option<usize> {
    Some(match kind {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 => 8,
        _ => return None,
    })
}

impl Tiff {
    /// Parses the header and the first IFD. Tag values that point outside the
    /// file are dropped (a truncated file keeps the tags that are whole).
    pub fn parse(data: &[u8]) -> Result<Tiff, ArchiveError> {
        let little_endian = match data.get(..4) {
            Some(b"II*\0") => true,
            Some(b"MM\0*") => false,
            Some(b"II+\0") | Some(b"MM\0+") => return Err(ArchiveError::Unsupported("BigTIFF".into())),
            _ => return Err(ArchiveError::Corrupt("not a TIFF header".into())),
        };
        let mut tiff = Tiff { little_endian, entries: BTreeMap::new() };
        let ifd = tiff.u32_at(data, 4).ok_or_else(|| ArchiveError::Corrupt("truncated header".into()))? as usize;
        let n = tiff
            .u16_at(data, ifd)
            .ok_or_else(|| ArchiveError::Corrupt(format!("IFD offset {ifd} is past the end of the file")))?;
        for i in 0..n as usize {
            let at = ifd + 2 + i * 12;
            let (Some(code), Some(kind), Some(count)) =
                (tiff.u16_at(data, at), tiff.u16_at(data, at + 2), tiff.u32_at(data, at + 4))
            else {
                return Err(ArchiveError::Corrupt(format!("IFD entry {i} is truncated")));
            };
            let Some(size) = type_size(kind) else {
                continue;
            };
            let len = size.saturating_mul(count as usize);
            let bytes = if len <= 4 {
                match data.get(at + 8..at + 8 + len) {
                    Some(b) => b.to_vec(),
                    None => continue,
                }
            } else {
                let Some(off) = tiff.u32_at(data, at + 8) else {
                    continue;
                };
                match data.get(off as usize..(off as usize).saturating_add(len)) {
                    Some(b) => b.to_vec(),
                    None => continue,
                }
            };
            tiff.entries.insert(code, Entry { kind, count, bytes });
        }
        Ok(tiff)
    }

    fn u16_at(&self, data: &[u8], at: usize) -> Option<u16> {
        let b: [u8; 2] = data.get(at..at + 2)?.try_into().ok()?;
        Some(if self.little_endian { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
    }

    fn u32_at(&self, data: &[u8], at: usize) -> Option<u32> {
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        Some(if self.little_endian { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    /// The raw entry of a tag.
    pub fn entry(&self, code: u16) -> Option<&Entry> {
        self.entries.get(&code)
    }

    /// The raw value bytes of a tag (for vendor blobs).
    pub fn bytes(&self, code: u16) -> Option<&[u8]> {
        self.entries.get(&code).map(|e| e.bytes.as_slice())
    }

    /// An ASCII tag as text, cut at the first NUL.
    pub fn ascii(&self, code: u16) -> Option<String> {
        let b = self.bytes(code)?;
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        let s = String::from_utf8_lossy(&b[..end]).trim().to_string();
        (!s.is_empty()).then_some(s)
    }

    /// All values of a SHORT or LONG tag.
    pub fn uints(&self, code: u16) -> Vec<u64> {
        let Some(e) = self.entries.get(&code) else {
            return Vec::new();
        };
        let size = match e.kind {
            3 => 2,
            4 | 13 => 4,
            1 => 1,
            _ => return Vec::new(),
        };
        e.bytes
            .chunks_exact(size)
            .map(|c| match (size, self.little_endian) {
                (1, _) => c[0] as u64,
                (2, true) => u16::from_le_bytes([c[0], c[1]]) as u64,
                (2, false) => u16::from_be_bytes([c[0], c[1]]) as u64,
                (_, true) => u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as u64,
                (_, false) => u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64,
            })
            .collect()
    }

    /// The first value of a SHORT or LONG tag.
    pub fn uint(&self, code: u16) -> Option<u64> {
        self.uints(code).first().copied()
    }

    /// Image width and height.
    pub fn dimensions(&self) -> Option<(u32, u32)> {
        Some((self.uint(tag::IMAGE_WIDTH)? as u32, self.uint(tag::IMAGE_LENGTH)? as u32))
    }

    /// Decodes the image to 8-bit gray, one byte per pixel, rows top to bottom.
    /// 16-bit and wider samples are stretched from their own minimum and
    /// maximum; palette images go through their colour map; RGB is averaged.
    pub fn gray8(&self, data: &[u8]) -> Result<Gray8, ArchiveError> {
        self.gray8_rows(data, 0)
    }

    /// Like [`Tiff::gray8`], but only rows `first_row..height` (the rest of an
    /// uncompressed image is not read at all).
    pub fn gray8_rows(&self, data: &[u8], first_row: u32) -> Result<Gray8, ArchiveError> {
        let (w, h) = self.dimensions().ok_or_else(|| ArchiveError::Corrupt("no image dimensions".into()))?;
        let first_row = first_row.min(h.saturating_sub(1));
        if w == 0 || h == 0 {
            return Err(ArchiveError::Corrupt("image has zero size".into()));
        }
        if w as u64 * h as u64 > MAX_PIXELS {
            return Err(ArchiveError::TooLarge(format!("{w}×{h} pixels exceeds the limit of {MAX_PIXELS}")));
        }
        let compression = self.uint(tag::COMPRESSION).unwrap_or(1);
        let bits = self.uint(tag::BITS_PER_SAMPLE).unwrap_or(1);
        let spp = self.uint(tag::SAMPLES_PER_PIXEL).unwrap_or(1).max(1);
        if compression == 1 && matches!(bits, 8 | 16 | 32) && spp <= 4 {
            self.gray8_uncompressed(data, w, h, first_row as usize)
        } else {
            let full = gray8_via_crate(data, w, h)?;
            let start = first_row as usize * w as usize;
            Ok(Gray8 { width: w, height: h - first_row, pixels: full.pixels[start..].to_vec() })
        }
    }

    fn gray8_uncompressed(&self, data: &[u8], w: u32, h: u32, first_row: usize) -> Result<Gray8, ArchiveError> {
        let bits = self.uint(tag::BITS_PER_SAMPLE).unwrap_or(1) as usize;
        let spp = self.uint(tag::SAMPLES_PER_PIXEL).unwrap_or(1).max(1) as usize;
        let photometric = self.uint(tag::PHOTOMETRIC).unwrap_or(1);
        let bpp = bits / 8 * spp;
        let row = w as usize * bpp;
        let offsets = self.uints(tag::STRIP_OFFSETS);
        let counts = self.uints(tag::STRIP_BYTE_COUNTS);
        let rows_per_strip = self.uint(tag::ROWS_PER_STRIP).unwrap_or(h as u64).max(1) as usize;
        if offsets.is_empty() {
            return Err(ArchiveError::Corrupt("no strip offsets".into()));
        }
        let rows = h as usize - first_row;
        let need = row * rows;
        let first_strip = first_row / rows_per_strip;
        let mut skip = (first_row - first_strip * rows_per_strip) * row;
        let mut raw = Vec::with_capacity(need);
        for (i, &off) in offsets.iter().enumerate().skip(first_strip) {
            let strip_rows = rows_per_strip.min((h as usize).saturating_sub(i * rows_per_strip));
            if strip_rows == 0 {
                break;
            }
            let want = strip_rows * row;
            let len = counts.get(i).map(|&c| c as usize).unwrap_or(want).min(want);
            let strip = data.get(off as usize..off as usize + len).ok_or_else(|| {
                ArchiveError::Corrupt(format!("strip {i} at offset {off} is past the end of the file"))
            })?;
            raw.extend_from_slice(strip.get(skip.min(strip.len())..).unwrap_or_default());
            skip = 0;
            if raw.len() >= need {
                break;
            }
        }
        if raw.len() < need {
            return Err(ArchiveError::Corrupt(format!("pixel data truncated: {} of {need} bytes", raw.len())));
        }
        let n = w as usize * rows;
        raw.truncate(need);
        let le = self.little_endian;
        let format = self.uint(tag::SAMPLE_FORMAT).unwrap_or(1);
        let mut pixels: Vec<u8> = match (bits, spp, format) {
            (8, 1, 1) if photometric == 3 => {
                let lut = self.palette_lut()?;
                raw.iter_mut().for_each(|p| *p = lut[*p as usize]);
                raw
            }
            (8, 1, 1) => raw,
            (8, _, 1) => raw.chunks_exact(spp).map(|p| ((p[0] as u32 + p[1] as u32 + p[2] as u32) / 3) as u8).collect(),
            (16, 1, 1) => {
                let v: Vec<u16> = raw
                    .chunks_exact(2)
                    .map(|c| if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) })
                    .collect();
                let lo = v.iter().copied().min().unwrap_or(0) as u32;
                let span = (v.iter().copied().max().unwrap_or(0) as u32 - lo).max(1);
                v.into_iter().map(|x| ((x as u32 - lo) * 255 / span) as u8).collect()
            }
            _ => self.stretch_wide(&raw, bits, spp, format, n),
        };
        if photometric == 0 {
            pixels.iter_mut().for_each(|p| *p = 255 - *p);
        }
        Ok(Gray8 { width: w, height: rows as u32, pixels })
    }
}

impl Tiff {
    /// The colour map of a palette image as 256 grey levels.
    fn palette_lut(&self) -> Result<[u8; 256], ArchiveError> {
        let map = self.uints(tag::COLOR_MAP);
        let entries = map.len() / 3;
        if entries == 0 {
            return Err(ArchiveError::Corrupt("palette image without a colour map".into()));
        }
        let mut lut = [0u8; 256];
        for (i, v) in lut.iter_mut().enumerate() {
            let e = i.min(entries - 1);
            *v = (((map[e] + map[entries + e] + map[2 * entries + e]) / 3) >> 8) as u8;
        }
        Ok(lut)
    }

    /// Signed, 32-bit and floating-point samples, stretched from their own
    /// finite range to 0..255.
    fn stretch_wide(&self, raw: &[u8], bits: usize, spp: usize, format: u64, n: usize) -> Vec<u8> {
        let le = self.little_endian;
        let samples: Vec<f64> = match (bits, format) {
            (8, 2) => raw.iter().map(|&b| b as i8 as f64).collect(),
            (8, _) => raw.iter().map(|&b| b as f64).collect(),
            (16, f) => raw
                .chunks_exact(2)
                .map(|c| {
                    let u = if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) };
                    if f == 2 {
                        u as i16 as f64
                    } else {
                        u as f64
                    }
                })
                .collect(),
            (_, f) => raw
                .chunks_exact(4)
                .map(|c| {
                    let b = [c[0], c[1], c[2], c[3]];
                    let u = if le { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) };
                    match f {
                        2 => u as i32 as f64,
                        3 => f32::from_bits(u) as f64,
                        _ => u as f64,
                    }
                })
                .collect(),
        };
        let values: Vec<f64> = if spp == 1 {
            samples
        } else {
            samples.chunks_exact(spp).take(n).map(|p| p.iter().take(3).sum::<f64>() / spp.min(3) as f64).collect()
        };
        stretch(values)
    }
}

/// Samples stretched from their own finite range to 0..255 (non-finite
/// values become 0).
pub(crate) fn stretch(values: Vec<f64>) -> Vec<u8> {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    values.into_iter().map(|v| if v.is_finite() { ((v - lo) * 255.0 / span).round() as u8 } else { 0 }).collect()
}

fn gray8_via_crate(data: &[u8], w: u32, h: u32) -> Result<Gray8, ArchiveError> {
    let img = image::load_from_memory_with_format(data, image::ImageFormat::Tiff)
        .map_err(|e| ArchiveError::Decode(e.to_string()))?;
    let gray = img.to_luma8();
    if gray.width() != w || gray.height() != h {
        return Err(ArchiveError::Decode("decoded size differs from the header".into()));
    }
    Ok(Gray8 { width: w, height: h, pixels: gray.into_raw() })
}

/// An 8-bit grayscale raster, rows top to bottom.
#[derive(Debug, Clone)]
pub struct Gray8 {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` bytes.
    pub pixels: Vec<u8>,
}

impl Gray8 {
    /// One row of pixels.
    pub fn row(&self, y: u32) -> &[u8] {
        let w = self.width as usize;
        &self.pixels[y as usize * w..(y as usize + 1) * w]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian 8-bit gray TIFF of `w`×`h` pixels, written by hand.
    pub(crate) fn tiny_tiff(w: u16, h: u16, pixel: impl Fn(u16, u16) -> u8) -> Vec<u8> {
        let mut out = b"II*\0".to_vec();
        out.extend_from_slice(&8u32.to_le_bytes());
        let entries: [(u16, u16, u32, u32); 7] = [
            (256, 3, 1, w as u32),
            (257, 3, 1, h as u32),
            (258, 3, 1, 8),
            (259, 3, 1, 1),
            (262, 3, 1, 1),
            (273, 4, 1, 8 + 2 + 7 * 12 + 4),
            (279, 4, 1, w as u32 * h as u32),
        ];
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (code, kind, count, value) in entries {
            out.extend_from_slice(&code.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&value.to_le_bytes());
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        for y in 0..h {
            for x in 0..w {
                out.push(pixel(x, y));
            }
        }
        out
    }

    #[test]
    fn reads_hand_written_tiff() {
        let data = tiny_tiff(4, 3, |x, y| (x * 10 + y) as u8);
        let t = Tiff::parse(&data).unwrap();
        assert_eq!(t.dimensions(), Some((4, 3)));
        let g = t.gray8(&data).unwrap();
        assert_eq!(g.row(2), &[2, 12, 22, 32]);
    }

    #[test]
    fn bottom_rows_only() {
        let data = tiny_tiff(4, 5, |x, y| (x * 10 + y) as u8);
        let g = Tiff::parse(&data).unwrap().gray8_rows(&data, 3).unwrap();
        assert_eq!((g.width, g.height), (4, 2));
        assert_eq!(g.row(0), &[3, 13, 23, 33]);
        assert_eq!(g.row(1), &[4, 14, 24, 34]);
    }

    #[test]
    fn truncated_pixels_are_an_error_not_a_panic() {
        let mut data = tiny_tiff(16, 16, |_, _| 7);
        data.truncate(data.len() - 20);
        let t = Tiff::parse(&data).unwrap();
        assert!(matches!(t.gray8(&data), Err(ArchiveError::Corrupt(_))));
    }

    #[test]
    fn huge_dimensions_are_refused_before_allocating() {
        let mut data = tiny_tiff(4, 4, |_, _| 0);
        // ImageWidth and ImageLength entries: values at bytes 8+2+8 and 8+2+12+8.
        data[18..22].copy_from_slice(&60_000u32.to_le_bytes());
        data[30..34].copy_from_slice(&60_000u32.to_le_bytes());
        let t = Tiff::parse(&data).unwrap();
        assert_eq!(t.dimensions(), Some((60_000, 60_000)));
        assert!(matches!(t.gray8(&data), Err(ArchiveError::TooLarge(_))));
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(Tiff::parse(b"GIF89a....").is_err());
        assert!(Tiff::parse(b"II*\0\xff\xff\xff\x7f").is_err());
    }
}
