//! Gatan DigitalMicrograph DM3 / DM4 files.
//!
//! Layout (Gatan's format as documented by C. Boothroyd and G. Jefferis): a
//! big-endian header (version 3 or 4, file length, byte order of the data),
//! then a tree of tag groups (type 20) and data tags (type 21, `%%%%`, an
//! info array of type codes, then the value in the header's byte order).
//! DM4 widens counts and lengths to 64 bits and stores each tag's byte length.
//! The tree is flattened to `path → value`, skipping large arrays (pixels).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use super::{date_time, length_nm, text, Meta, Modality, Vendor};
use crate::archive::tiff::{stretch, Gray8, MAX_PIXELS};
use crate::archive::ArchiveError;

/// A leaf value of the tag tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Any numeric or boolean scalar.
    Num(f64),
    /// A string (DM stores text as arrays of UTF-16 units).
    Text(String),
    /// An array not read as a value (image data): its element type code,
    /// element count and byte offset in the file.
    Array {
        /// DM type code of one element.
        elem: u64,
        /// Number of elements.
        count: u64,
        /// Offset of the first element's first byte.
        offset: usize,
    },
}

/// The flattened tag tree and the byte order of its values.
pub struct Tree {
    /// `path → value`.
    pub values: BTreeMap<String, Value>,
    /// Values (and pixel data) are little-endian.
    pub little_endian: bool,
}

const MAX_DEPTH: usize = 64;
/// u16 arrays up to this length are read as text.
const MAX_TEXT_UNITS: u64 = 4096;

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    dm4: bool,
    little: bool,
    out: BTreeMap<String, Value>,
}

fn corrupt(msg: impl Into<String>) -> ArchiveError {
    ArchiveError::Corrupt(msg.into())
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ArchiveError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| corrupt(format!("truncated at byte {}", self.pos)))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, ArchiveError> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, &b| acc << 8 | b as u64))
    }

    /// A count or length: 4 bytes in DM3, 8 in DM4, always big-endian.
    fn count(&mut self) -> Result<u64, ArchiveError> {
        self.be(if self.dm4 { 8 } else { 4 })
    }

    fn group(&mut self, path: &str, depth: usize) -> Result<(), ArchiveError> {
        if depth > MAX_DEPTH {
            return Err(corrupt("tag groups nested too deep"));
        }
        self.take(2)?; // sorted, open
        let n = self.count()?;
        if n > (self.data.len() - self.pos) as u64 {
            return Err(corrupt(format!("group {path:?} claims {n} tags")));
        }
        for i in 0..n {
            let kind = self.take(1)?[0];
            if kind == 0 {
                break;
            }
            let label_len = self.be(2)? as usize;
            let label = String::from_utf8_lossy(self.take(label_len)?).into_owned();
            let label = if label.is_empty() { i.to_string() } else { label };
            let child = if path.is_empty() { label } else { format!("{path}.{label}") };
            if self.dm4 {
                self.count()?; // the tag's byte length
            }
            match kind {
                20 => self.group(&child, depth + 1)?,
                21 => self.data_tag(&child)?,
                k => return Err(corrupt(format!("unknown tag kind {k} at {child:?}"))),
            }
        }
        Ok(())
    }

    fn data_tag(&mut self, path: &str) -> Result<(), ArchiveError> {
        if self.take(4)? != b"%%%%" {
            return Err(corrupt(format!("missing %%%% delimiter at {path:?}")));
        }
        let n = self.count()? as usize;
        if n == 0 || n > 1024 {
            return Err(corrupt(format!("bad info length {n} at {path:?}")));
        }
        let info: Vec<u64> = (0..n).map(|_| self.count()).collect::<Result<_, _>>()?;
        match info[0] {
            15 => {
                // struct: [15, name_len, n_fields, (name_len, type)*]
                let fields: Vec<u64> = info.iter().skip(3).skip(1).step_by(2).copied().collect();
                for (i, t) in fields.iter().enumerate() {
                    let v = self.scalar(*t)?;
                    self.out.insert(format!("{path}.{i}"), Value::Num(v));
                }
            }
            18 => {
                let len = *info.get(1).ok_or_else(|| corrupt("string without length"))?;
                let s = self.utf16(len)?;
                self.out.insert(path.to_string(), Value::Text(s));
            }
            20 => {
                let elem = *info.get(1).ok_or_else(|| corrupt("array without type"))?;
                let count = *info.last().expect("info is not empty");
                let size = if elem == 15 {
                    info.get(4..info.len() - 1)
                        .unwrap_or(&[])
                        .iter()
                        .skip(1)
                        .step_by(2)
                        .map(|&t| type_size(t))
                        .sum::<Option<u64>>()
                        .filter(|s| *s > 0)
                } else {
                    type_size(elem)
                }
                .ok_or_else(|| corrupt(format!("unknown array element type at {path:?}")))?;
                let bytes = size.checked_mul(count).ok_or_else(|| corrupt("array size overflows"))?;
                // Short u16 arrays are strings, except image data (a 16×4 image is 64 units).
                if elem == 4 && count <= MAX_TEXT_UNITS && !path.ends_with(".ImageData.Data") {
                    let s = self.utf16(count)?;
                    self.out.insert(path.to_string(), Value::Text(s));
                } else {
                    let offset = self.pos;
                    self.take(usize::try_from(bytes).map_err(|_| corrupt("array too large"))?)?;
                    self.out.insert(path.to_string(), Value::Array { elem, count, offset });
                }
            }
            t => {
                let v = self.scalar(t)?;
                self.out.insert(path.to_string(), Value::Num(v));
            }
        }
        Ok(())
    }

    fn scalar(&mut self, t: u64) -> Result<f64, ArchiveError> {
        let size = type_size(t).ok_or_else(|| corrupt(format!("unknown data type {t}")))? as usize;
        let b = self.take(size)?;
        let mut a = [0u8; 8];
        if self.little {
            a[..size].copy_from_slice(b);
        } else {
            for (i, &x) in b.iter().rev().enumerate() {
                a[i] = x;
            }
        }
        let u = u64::from_le_bytes(a);
        Ok(match t {
            2 => u as u16 as i16 as f64,
            3 => u as u32 as i32 as f64,
            4 | 5 | 8 | 9 | 10 | 12 => u as f64,
            6 => f32::from_bits(u as u32) as f64,
            7 => f64::from_bits(u),
            11 => u as i64 as f64,
            _ => return Err(corrupt(format!("unknown data type {t}"))),
        })
    }

    fn utf16(&mut self, units: u64) -> Result<String, ArchiveError> {
        let n = usize::try_from(units).map_err(|_| corrupt("string too long"))?;
        let b = self.take(n.checked_mul(2).ok_or_else(|| corrupt("string too long"))?)?;
        let u: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| if self.little { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) })
            .collect();
        Ok(String::from_utf16_lossy(&u).trim_end_matches('\0').to_string())
    }
}

/// Windows FILETIME (100 ns ticks since 1601-01-01 UTC) as a UTC date-time.
fn filetime(ticks: f64) -> Option<NaiveDateTime> {
    const UNIX_FROM_1601_S: i64 = 11_644_473_600;
    let secs = (ticks / 1e7) as i64 - UNIX_FROM_1601_S;
    chrono::DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc())
}

fn type_size(t: u64) -> Option<u64> {
    Some(match t {
        2 | 4 => 2,
        3 | 5 | 6 => 4,
        7 | 11 | 12 => 8,
        8..=10 => 1,
        _ => return None,
    })
}

/// Parses the whole tag tree into `path → value`.
pub fn tags(data: &[u8]) -> Result<Tree, ArchiveError> {
    let version = data.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let dm4 = match version {
        Some(3) => false,
        Some(4) => true,
        _ => return Err(corrupt("not a DM3 or DM4 file")),
    };
    let mut r = Reader { data, pos: 4, dm4, little: false, out: BTreeMap::new() };
    r.count()?; // file length
    r.little = r.be(4)? == 1;
    r.group("", 0)?;
    Ok(Tree { values: r.out, little_endian: r.little })
}

/// The image-list entry of the main image: the largest one that is not the
/// thumbnail (the list holds the thumbnail first). Returns its tag path prefix,
/// width and height.
fn main_image(t: &BTreeMap<String, Value>) -> Result<(String, u32, u32), ArchiveError> {
    let num = |k: &str| match t.get(k) {
        Some(Value::Num(v)) => Some(*v),
        _ => None,
    };
    let entries: Vec<(String, u32, u32)> = (0..16)
        .filter_map(|i| {
            let base = format!("ImageList.{i}");
            let w = num(&format!("{base}.ImageData.Dimensions.0"))?;
            let h = num(&format!("{base}.ImageData.Dimensions.1")).unwrap_or(1.0);
            Some((base, w as u32, h.max(1.0) as u32))
        })
        .collect();
    let images = if entries.len() > 1 { &entries[1..] } else { &entries[..] };
    images
        .iter()
        .max_by_key(|(_, w, h)| *w as u64 * *h as u64)
        .cloned()
        .ok_or_else(|| corrupt("no image in the image list"))
}

/// Decodes the main image's pixels to 8-bit grey, stretched from the data's
/// own finite range (DM data is 8–64-bit integer or float; RGB is averaged).
/// Complex data (diffraction FFTs) is refused.
pub fn pixels(data: &[u8]) -> Result<Gray8, ArchiveError> {
    let tree = tags(data)?;
    let (base, w, h) = main_image(&tree.values)?;
    let n = w as u64 * h as u64;
    if n > MAX_PIXELS {
        return Err(ArchiveError::TooLarge(format!("{w}×{h} pixels")));
    }
    let data_type = match tree.values.get(&format!("{base}.ImageData.DataType")) {
        Some(Value::Num(v)) => *v as u32,
        _ => 0,
    };
    let Some(&Value::Array { elem, count, offset }) = tree.values.get(&format!("{base}.ImageData.Data")) else {
        return Err(corrupt("the image has no data array"));
    };
    if matches!(data_type, 3 | 13) {
        return Err(ArchiveError::Unsupported("complex DM image data".into()));
    }
    let rgb = data_type == 23;
    let size = type_size(elem).ok_or_else(|| corrupt("unknown pixel type"))? as usize;
    if count < n {
        return Err(corrupt(format!("{count} values for {w}×{h} pixels")));
    }
    let raw = &data[offset..offset + n as usize * size];
    let le = tree.little_endian;
    let word = |c: &[u8]| {
        let mut a = [0u8; 8];
        if le {
            a[..c.len()].copy_from_slice(c);
        } else {
            c.iter().rev().enumerate().for_each(|(i, &x)| a[i] = x);
        }
        u64::from_le_bytes(a)
    };
    let values: Vec<f64> = raw
        .chunks_exact(size)
        .map(|c| {
            let u = word(c);
            match elem {
                _ if rgb => ((u & 0xff) + (u >> 8 & 0xff) + (u >> 16 & 0xff)) as f64 / 3.0,
                2 => u as u16 as i16 as f64,
                3 => u as u32 as i32 as f64,
                6 => f32::from_bits(u as u32) as f64,
                7 => f64::from_bits(u),
                9 => u as u8 as i8 as f64,
                11 => u as i64 as f64,
                _ => u as f64,
            }
        })
        .collect();
    Ok(Gray8 { width: w, height: h, pixels: stretch(values) })
}

/// Reads a DM3 / DM4 file: the largest image's size, calibration and the
/// microscope tags. Returns the metadata and the image's width and height.
pub fn read(data: &[u8]) -> Result<(Meta, u32, u32), ArchiveError> {
    let t = tags(data)?.values;
    let num = |k: &str| match t.get(k) {
        Some(Value::Num(v)) => Some(*v),
        _ => None,
    };
    let txt = |k: &str| match t.get(k) {
        Some(Value::Text(s)) => text(Some(s)),
        _ => None,
    };
    let (base, w, h) = main_image(&t)?;
    let mut m = Meta::new(Vendor::Gatan);
    let info = format!("{base}.ImageTags.Microscope Info");
    let session = format!("{base}.ImageTags.Session Info");
    // Session Info is what the operator typed; Microscope Info.Name what the plugin reports.
    let unpad = |s: Option<String>| text(s.as_deref().map(|s| s.trim_end_matches('_')));
    m.instrument = unpad(txt(&format!("{session}.Microscope")))
        .or_else(|| unpad(txt(&format!("{info}.Name")).map(|n| n.trim_end_matches(" Remote").to_string())))
        .or_else(|| txt(&format!("{info}.Microscope")));
    m.operator = unpad(txt(&format!("{session}.Operator")));
    m.magnification =
        num(&format!("{info}.Indicated Magnification")).or_else(|| num(&format!("{info}.Actual Magnification")));
    m.kv = num(&format!("{info}.Voltage")).map(|v| v / 1e3);
    let mode = [txt(&format!("{info}.Operation Mode")), txt(&format!("{info}.Illumination Mode"))]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    let bar = format!("{base}.ImageTags.DataBar");
    m.detector = txt(&format!("{bar}.Signal Name")).or_else(|| unpad(txt(&format!("{session}.Detector"))));
    m.modality = Some(if mode.contains("SCANNING") || mode.contains("STEM") {
        Modality::Stem
    } else {
        Modality::refine(Modality::Tem, m.detector.as_deref())
    });
    let scale = num(&format!("{base}.ImageData.Calibrations.Dimension.0.Scale"));
    let units = txt(&format!("{base}.ImageData.Calibrations.Dimension.0.Units"));
    m.pixel_size_nm = match (scale, units) {
        (Some(s), Some(u)) if s > 0.0 => length_nm(&format!("1 {u}")).map(|f| s * f),
        _ => None,
    };
    m.acquired_at = date_time(
        txt(&format!("{bar}.Acquisition Date")).as_deref(),
        txt(&format!("{bar}.Acquisition Time")).as_deref(),
    )
    .or_else(|| num(&format!("{bar}.Acquisition Time (OS)")).and_then(filetime));
    Ok((m, w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_and_truncation() {
        assert!(tags(b"\0\0\0\x05rest").is_err());
        assert!(tags(b"\0\0\0\x03\0\0\0\x10\0\0\0\x01\0\0\0\0\0\x09").is_err());
    }
}
