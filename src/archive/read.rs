//! Reads one archive image (and its sidecars) into a [`Reading`]: vendor
//! metadata, dimensions, pixel size scaled to the saved width, and the data-bar
//! rows (from metadata where stored, else detected in the pixels). Pure: bytes
//! in, values out. The file type comes from magic bytes, not the name.

use std::io::Cursor;

use serde::Serialize;

use super::databar;
use super::tiff::{tag, Gray8, Tiff, MAX_PIXELS};
use super::vendor::{self, dm, fei, hitachi, jeol, tescan, zeiss, Meta, Modality, Vendor};
use super::ArchiveError;

/// The sidecar files found next to an image (same stem).
#[derive(Debug, Default, Clone)]
pub struct Sidecars {
    /// `stem.txt`: Hitachi or JEOL.
    pub txt: Option<Vec<u8>>,
    /// `stem.hdr` or `stem-tif.hdr`: TESCAN.
    pub hdr: Option<Vec<u8>>,
}

/// Container format of an archive image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// TIFF.
    Tiff,
    /// Gatan DM3.
    Dm3,
    /// Gatan DM4.
    Dm4,
    /// PNG, JPEG, BMP or GIF.
    Raster,
}

impl Format {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Tiff => "tiff",
            Format::Dm3 => "dm3",
            Format::Dm4 => "dm4",
            Format::Raster => "raster",
        }
    }
}

/// Where the data-bar height came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabarSource {
    /// Stored by the instrument (FEI `DatabarHeight`).
    Metadata,
    /// Detected in the pixels.
    Pixels,
}

impl DatabarSource {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DatabarSource::Metadata => "metadata",
            DatabarSource::Pixels => "pixels",
        }
    }
}

/// Everything read from one image file.
#[derive(Debug, Clone, Serialize)]
pub struct Reading {
    /// Container format.
    pub format: Format,
    /// Vendor metadata.
    pub meta: Meta,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels (including any data bar).
    pub height: u32,
    /// Bits per sample, where known.
    pub bit_depth: Option<u32>,
    /// Pixel size in nm for the width actually saved.
    pub pixel_size_nm: Option<f64>,
    /// Rows of the burned-in data bar at the bottom.
    pub databar_rows: Option<u32>,
    /// Where `databar_rows` came from.
    pub databar_source: Option<DatabarSource>,
    /// The settings the metadata lacked and the data bar's text supplied
    /// (`kv`, `magnification`, `wd`, `detector`, `date`, `pixel_size`).
    pub from_databar: Vec<&'static str>,
    /// The pixels could not be decoded: the metadata stands, the image is
    /// unusable for matching.
    pub pixel_error: Option<String>,
    /// Non-fatal problems (a sidecar that could not be read, …).
    pub warnings: Vec<String>,
}

/// Reads an image and its sidecars. Fails only when the file is not an image
/// emtrace can read at all; a bad sidecar or undecodable pixels are reported
/// in the [`Reading`].
pub fn read(bytes: &[u8], sidecars: &Sidecars) -> Result<Reading, ArchiveError> {
    match bytes.get(..4) {
        Some(b"II*\0") | Some(b"MM\0*") | Some(b"II+\0") | Some(b"MM\0+") => read_tiff(bytes, sidecars),
        Some([0, 0, 0, 3]) => read_dm(bytes, Format::Dm3),
        Some([0, 0, 0, 4]) => read_dm(bytes, Format::Dm4),
        _ => read_raster(bytes, sidecars),
    }
}

/// Decodes an archive image's pixels to 8-bit grey (TIFF, PNG, JPEG, BMP,
/// GIF, DM3 / DM4).
pub fn pixels(bytes: &[u8]) -> Result<Gray8, ArchiveError> {
    match bytes.get(..4) {
        Some(b"II*\0") | Some(b"MM\0*") => Tiff::parse(bytes)?.gray8(bytes),
        Some([0, 0, 0, 3]) | Some([0, 0, 0, 4]) => dm::pixels(bytes),
        _ => {
            let img = image::load_from_memory(bytes).map_err(|e| ArchiveError::Decode(e.to_string()))?;
            if img.width() as u64 * img.height() as u64 > MAX_PIXELS {
                return Err(ArchiveError::TooLarge(format!("{}×{} pixels", img.width(), img.height())));
            }
            let g = img.to_luma8();
            Ok(Gray8 { width: g.width(), height: g.height(), pixels: g.into_raw() })
        }
    }
}

fn sidecar_meta(sidecars: &Sidecars, warnings: &mut Vec<String>) -> Option<Meta> {
    if let Some(txt) = &sidecars.txt {
        match hitachi::read(txt).or_else(|_| jeol::read_sidecar(txt)) {
            Ok(m) => return Some(m),
            Err(e) => warnings.push(format!("sidecar .txt: {e}")),
        }
    }
    if let Some(hdr) = &sidecars.hdr {
        let m = tescan::read_hdr(hdr);
        if m.acquired_at.is_some() || m.pixel_size_nm.is_some() {
            return Some(m);
        }
        warnings.push("sidecar .hdr: no TESCAN keys".into());
    }
    None
}

fn read_tiff(bytes: &[u8], sidecars: &Sidecars) -> Result<Reading, ArchiveError> {
    let t = Tiff::parse(bytes)?;
    let (width, height) = t.dimensions().ok_or_else(|| ArchiveError::Corrupt("TIFF without dimensions".into()))?;
    let mut warnings = Vec::new();
    let description = t.ascii(tag::IMAGE_DESCRIPTION);
    let meta = if let Some(b) = t.bytes(tag::ZEISS_SEM) {
        zeiss::read(b, width)
    } else if let Some(b) = t.bytes(tag::FEI_INI) {
        fei::read(b)
    } else if let Some(b) = t.bytes(tag::TESCAN) {
        tescan::read_tag(b)
    } else if let Some(m) = description
        .as_deref()
        .and_then(|d| jeol::read_sightx(d, t.ascii(tag::MAKE).as_deref(), t.ascii(tag::MODEL).as_deref()))
    {
        m
    } else if let Some(m) = sidecar_meta(sidecars, &mut warnings) {
        m
    } else {
        generic_meta(&t)
    };
    let bit_depth = t.uint(tag::BITS_PER_SAMPLE).map(|b| b as u32);
    // The data bar is at the bottom: only those rows are decoded here.
    let pixels = t.gray8_rows(bytes, height - databar::rows_needed(height));
    finish(Format::Tiff, meta, width, height, bit_depth, Some(pixels), warnings)
}

/// Instrument from the baseline Make / Model tags, date from DateTime.
fn generic_meta(t: &Tiff) -> Meta {
    let mut m = Meta::new(Vendor::Unknown);
    let make = t.ascii(tag::MAKE);
    let model = t.ascii(tag::MODEL);
    m.instrument = match (make, model) {
        (Some(make), Some(model)) => Some(format!("{make} {model}")),
        (a, b) => a.or(b),
    };
    m.acquired_at = t.ascii(tag::DATE_TIME).and_then(|s| {
        let (d, time) = s.split_once(' ').unwrap_or((&s, ""));
        vendor::date_time(Some(&d.replace(':', "/")), Some(time))
    });
    m
}

fn read_dm(bytes: &[u8], format: Format) -> Result<Reading, ArchiveError> {
    let (meta, w, h) = dm::read(bytes)?;
    // Camera and STEM frames carry no burned-in data bar: no pixels to look at.
    finish(format, meta, w, h, None, None, Vec::new())
}

fn read_raster(bytes: &[u8], sidecars: &Sidecars) -> Result<Reading, ArchiveError> {
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ArchiveError::Decode(e.to_string()))?;
    if reader.format().is_none() {
        return Err(ArchiveError::Unsupported("not an image format emtrace reads".into()));
    }
    let (w, h) = reader.into_dimensions().map_err(|e| ArchiveError::Decode(e.to_string()))?;
    let mut warnings = Vec::new();
    let meta = sidecar_meta(sidecars, &mut warnings).unwrap_or_else(|| Meta::new(Vendor::Unknown));
    let pixels = if w as u64 * h as u64 > MAX_PIXELS {
        Err(ArchiveError::TooLarge(format!("{w}×{h} pixels exceeds the limit of {MAX_PIXELS}")))
    } else {
        image::load_from_memory(bytes)
            .map(|img| Gray8 { width: w, height: h, pixels: img.to_luma8().into_raw() })
            .map_err(|e| ArchiveError::Decode(e.to_string()))
    };
    finish(Format::Raster, meta, w, h, Some(8), Some(pixels), warnings)
}

fn finish(
    format: Format,
    mut meta: Meta,
    width: u32,
    height: u32,
    bit_depth: Option<u32>,
    pixels: Option<Result<Gray8, ArchiveError>>,
    warnings: Vec<String>,
) -> Result<Reading, ArchiveError> {
    if meta.modality.is_none() {
        meta.modality =
            meta.detector.as_deref().map(|d| Modality::refine(Modality::Sem, Some(d))).filter(|m| *m == Modality::Stem);
    }
    let mut pixel_size_nm = meta.pixel_size_for(width);
    let (mut databar_rows, mut databar_source) = match meta.databar_rows.filter(|r| *r > 0 && *r < height) {
        Some(r) => (Some(r), Some(DatabarSource::Metadata)),
        None => (None, None),
    };
    let mut from_databar = Vec::new();
    let pixel_error = match &pixels {
        None => None,
        Some(Ok(g)) => {
            if databar_rows.is_none() {
                databar_rows = databar::detect_bottom(g, height);
                databar_source = databar_rows.map(|_| DatabarSource::Pixels);
            }
            let lacking = meta.kv.is_none() || meta.magnification.is_none() || pixel_size_nm.is_none();
            if let Some(rows) = databar_rows.filter(|r| lacking && *r <= g.height) {
                from_databar = fill_from_databar(&mut meta, &mut pixel_size_nm, g, rows);
            }
            None
        }
        Some(Err(e)) => Some(e.to_string()),
    };
    Ok(Reading {
        format,
        meta,
        width,
        height,
        bit_depth,
        pixel_size_nm,
        databar_rows,
        databar_source,
        from_databar,
        pixel_error,
        warnings,
    })
}

/// Reads the data bar in the bottom `rows` of `g` (the image's bottom rows)
/// and fills in what the metadata lacks: a JPEG or PNG export keeps the
/// settings only in the pixels. Returns what was filled.
fn fill_from_databar(meta: &mut Meta, pixel_size_nm: &mut Option<f64>, g: &Gray8, rows: u32) -> Vec<&'static str> {
    let Some(img) = image::GrayImage::from_raw(g.width, g.height, g.pixels.clone()) else { return Vec::new() };
    let text = crate::figure::databar::read(&img, [0, g.height - rows, g.width, g.height]);
    let mut filled = Vec::new();
    let mut fill = |name: &'static str, slot: &mut Option<f64>, value: Option<f64>| {
        if slot.is_none() && value.is_some() {
            *slot = value;
            filled.push(name);
        }
    };
    fill("kv", &mut meta.kv, text.kv);
    fill("magnification", &mut meta.magnification, text.magnification);
    fill("wd", &mut meta.wd_mm, text.wd_mm);
    let printed = text.scale_bar.as_ref().map(|s| crate::figure::ocr::nm(s.value, &s.unit) / s.length_px);
    fill("pixel_size", pixel_size_nm, printed);
    if meta.detector.is_none() && text.detector.is_some() {
        meta.detector = text.detector;
        filled.push("detector");
    }
    if meta.acquired_at.is_none() {
        if let Some(d) = text.date {
            meta.acquired_at = Some(d.and_time(text.time.unwrap_or_default()));
            filled.push("date");
        }
    }
    filled
}
