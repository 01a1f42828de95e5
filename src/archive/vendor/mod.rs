//! Vendor metadata readers: each takes the bytes of an image (and of its
//! sidecar, where the vendor writes one) and returns the [`Meta`] it holds.
//! Pure code: no store, no network, no file system.
//!
//! Formats: Zeiss SmartSEM (tag 34118), FEI / Thermo Fisher (tag 34682 INI or
//! XML), Hitachi `.txt` sidecars, TESCAN (tag 50431 or `.hdr`), JEOL (`.txt`
//! sidecars and SightX TIFF XML), Gatan DM3 / DM4.

pub mod dm;
pub mod fei;
pub mod hitachi;
pub mod ini;
pub mod jeol;
pub mod tescan;
pub mod zeiss;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;

/// The maker whose format the metadata came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// Carl Zeiss SmartSEM.
    Zeiss,
    /// Hitachi High-Tech.
    Hitachi,
    /// FEI / Thermo Fisher Scientific.
    Fei,
    /// TESCAN.
    Tescan,
    /// JEOL.
    Jeol,
    /// Gatan DigitalMicrograph.
    Gatan,
    /// No vendor metadata was found.
    Unknown,
}

impl Vendor {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Zeiss => "zeiss",
            Vendor::Hitachi => "hitachi",
            Vendor::Fei => "fei",
            Vendor::Tescan => "tescan",
            Vendor::Jeol => "jeol",
            Vendor::Gatan => "gatan",
            Vendor::Unknown => "unknown",
        }
    }
}

/// Imaging modality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum Modality {
    /// Scanning electron microscopy.
    #[serde(rename = "SEM")]
    Sem,
    /// Transmission electron microscopy.
    #[serde(rename = "TEM")]
    Tem,
    /// Scanning transmission electron microscopy.
    #[serde(rename = "STEM")]
    Stem,
}

impl Modality {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Sem => "SEM",
            Modality::Tem => "TEM",
            Modality::Stem => "STEM",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Modality> {
        match s.to_ascii_uppercase().as_str() {
            "SEM" => Some(Modality::Sem),
            "TEM" => Some(Modality::Tem),
            "STEM" => Some(Modality::Stem),
            _ => None,
        }
    }

    /// STEM when the detector names a transmission detector on a scanning
    /// beam, otherwise `base`.
    pub fn refine(base: Modality, detector: Option<&str>) -> Modality {
        let stem_detector = detector.is_some_and(|d| {
            let d = d.to_ascii_uppercase();
            ["STEM", "HAADF", "ADF", "BF-S", "DF-S"].iter().any(|k| d.contains(k))
        });
        if stem_detector {
            Modality::Stem
        } else {
            base
        }
    }
}

/// What a vendor format says about one acquisition. Every field is optional:
/// a reader fills what the file holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Meta {
    /// Whose format this is.
    pub vendor: Vendor,
    /// Instrument as "Maker Model", e.g. "Hitachi TM4000".
    pub instrument: Option<String>,
    /// Instrument serial number.
    pub serial: Option<String>,
    /// SEM / TEM / STEM.
    pub modality: Option<Modality>,
    /// Detector or signal, e.g. "SE2", "BSE", "HAADF".
    pub detector: Option<String>,
    /// Acquisition date and time, in the instrument's local time.
    pub acquired_at: Option<NaiveDateTime>,
    /// Indicated magnification (a hint: vendors use different reference widths).
    pub magnification: Option<f64>,
    /// Pixel size in nanometres, for an image `calibrated_width` pixels wide.
    pub pixel_size_nm: Option<f64>,
    /// Width in pixels that `pixel_size_nm` refers to, when the format says.
    pub calibrated_width: Option<u32>,
    /// Accelerating voltage in kV.
    pub kv: Option<f64>,
    /// Working distance in mm.
    pub wd_mm: Option<f64>,
    /// Height of the burned-in data bar in pixel rows, when the format says.
    pub databar_rows: Option<u32>,
    /// Operator's user name as the instrument recorded it.
    pub operator: Option<String>,
}

impl Meta {
    /// Empty metadata for a vendor.
    pub fn new(vendor: Vendor) -> Meta {
        Meta {
            vendor,
            instrument: None,
            serial: None,
            modality: None,
            detector: None,
            acquired_at: None,
            magnification: None,
            pixel_size_nm: None,
            calibrated_width: None,
            kv: None,
            wd_mm: None,
            databar_rows: None,
            operator: None,
        }
    }

    /// Pixel size for an image saved `width` pixels wide: the calibration is
    /// scaled when the image was saved at another width than it was calibrated for.
    pub fn pixel_size_for(&self, width: u32) -> Option<f64> {
        let p = self.pixel_size_nm.filter(|p| p.is_finite() && *p > 0.0)?;
        match self.calibrated_width {
            Some(cw) if cw > 0 && width > 0 && cw != width => Some(p * cw as f64 / width as f64),
            _ => Some(p),
        }
    }
}

/// The number at the start of `s` ("15000 Volt" → 15000, "7892.3 um" → 7892.3),
/// or `None` when there is none or it is not finite.
pub fn leading_number(s: &str) -> Option<f64> {
    let b = s.trim().as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && (b[*i].is_ascii_digit() || b[*i] == b'.') {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    let mantissa_end = i;
    // An exponent only counts when digits follow it ("3E" before a unit does not).
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        i = if j > exp_start { j } else { mantissa_end };
    }
    std::str::from_utf8(&b[..i]).ok()?.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A length with a unit ("27.91 nm", "2.615 µm", "8.6 mm") in nanometres.
pub fn length_nm(s: &str) -> Option<f64> {
    let v = leading_number(s)?;
    let unit = s.trim().trim_start_matches(|c: char| c.is_ascii_digit() || "+-.eE".contains(c)).trim();
    let factor = match unit {
        "pm" => 1e-3,
        "Å" | "A" => 0.1,
        "nm" => 1.0,
        "µm" | "μm" | "um" | "microns" => 1e3,
        "mm" => 1e6,
        "m" => 1e9,
        _ => return None,
    };
    Some(v * factor)
}

/// Parses a date in the orders microscopes write: `YYYY/MM/DD`, `YYYY-MM-DD`,
/// `MM/DD/YYYY` (US), `DD.MM.YYYY` (German), `DD/MM/YYYY` when the first
/// field cannot be a month, and `4 Dec 2018`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    for fmt in ["%Y/%m/%d", "%Y-%m-%d", "%d %b %Y", "%d-%b-%Y", "%d.%m.%Y", "%Y.%m.%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return Some(d);
        }
    }
    let parts: Vec<u32> = s.split('/').map(|p| p.trim().parse().ok()).collect::<Option<_>>()?;
    if let [a, b, y] = parts[..] {
        if a > 12 {
            return NaiveDate::from_ymd_opt(y as i32, b, a);
        }
        return NaiveDate::from_ymd_opt(y as i32, a, b);
    }
    None
}

/// Parses a time of day: `16:41:13`, `9:40:32`, `01:04:14 PM`, `16:41`.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    for fmt in ["%I:%M:%S %p", "%H:%M:%S%.f", "%H:%M:%S", "%H:%M"] {
        if let Ok(t) = NaiveTime::parse_from_str(s, fmt) {
            return Some(t);
        }
    }
    None
}

/// Date and time from separate fields; the time defaults to midnight.
pub fn date_time(date: Option<&str>, time: Option<&str>) -> Option<NaiveDateTime> {
    let d = parse_date(date?)?;
    let t = time.and_then(parse_time).unwrap_or(NaiveTime::MIN);
    Some(d.and_time(t))
}

/// Text as the vendors write it: UTF-16 with a BOM, UTF-8 (with or without
/// BOM), else Shift-JIS (Japanese instrument PCs), else Latin-1.
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return enc.decode_without_bom_handling(&bytes[bom..]).0.into_owned();
    }
    // UTF-16LE without BOM: every other byte is NUL in ASCII-heavy text.
    if bytes.len() >= 4 && bytes[1] == 0 && bytes[3] == 0 && bytes[0] != 0 {
        return encoding_rs::UTF_16LE.decode_without_bom_handling(bytes).0.into_owned();
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    let (s, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
    if !had_errors {
        return s.into_owned();
    }
    encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned()
}

/// Latin-1 text, cut at the first NUL.
pub fn latin1(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes[..end].iter().map(|&b| b as char).collect()
}

/// A non-empty, trimmed string.
pub fn text(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty() && !s.chars().all(|c| c == '*')).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_units() {
        assert_eq!(leading_number("15000 Volt"), Some(15000.0));
        assert_eq!(leading_number("2.791250e-008"), Some(2.79125e-8));
        assert_eq!(leading_number("notafloat"), None);
        assert_eq!(length_nm("27.91 nm"), Some(27.91));
        assert_eq!(length_nm("2.615 µm"), Some(2615.0));
        assert_eq!(length_nm("8.6 mm"), Some(8.6e6));
    }

    #[test]
    fn date_orders() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd);
        assert_eq!(parse_date("2021/06/23"), d(2021, 6, 23));
        assert_eq!(parse_date("06/23/2021"), d(2021, 6, 23));
        assert_eq!(parse_date("23/06/2021"), d(2021, 6, 23));
        assert_eq!(parse_date("23.06.2021"), d(2021, 6, 23));
        assert_eq!(parse_date("4 Dec 2018"), d(2018, 12, 4));
        assert_eq!(parse_date("13/13/2021"), None);
        assert_eq!(parse_time("01:04:14 PM"), NaiveTime::from_hms_opt(13, 4, 14));
        assert_eq!(parse_time("9:40:32"), NaiveTime::from_hms_opt(9, 40, 32));
    }

    #[test]
    fn text_encodings() {
        let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("倍=1".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(decode_text(&utf16), "倍=1");
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("試料=1");
        assert_eq!(decode_text(&sjis), "試料=1");
        assert_eq!(decode_text("plain=1".as_bytes()), "plain=1");
    }

    #[test]
    fn pixel_size_scales_with_saved_width() {
        let mut m = Meta::new(Vendor::Hitachi);
        m.pixel_size_nm = Some(100.0);
        m.calibrated_width = Some(1280);
        assert_eq!(m.pixel_size_for(640), Some(200.0));
        assert_eq!(m.pixel_size_for(1280), Some(100.0));
    }
}
