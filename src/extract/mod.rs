//! Every embedded image of an article or supplementary file: PDFs (see
//! [`pdf`]), Office / OpenDocument files, ZIP and TAR(.gz) archives
//! (recursively) and standalone images. The content type comes from magic
//! bytes, never the file name. A broken object costs that object only: it is
//! listed with its error and the rest of the file is still read.

pub mod container;
pub mod pdf;
pub mod sniff;
pub mod tiles;

use std::path::{Path, PathBuf};
use std::time::Duration;

use image::DynamicImage;
use serde::Serialize;

pub use sniff::Kind;

/// Why a file or an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The bytes are not what they claim to be.
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// A codec failed on the data.
    #[error("decode failed: {0}")]
    Decode(String),
    /// A feature emtrace does not read.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Over a size limit (pixels, decompressed bytes, file size).
    #[error("too large: {0}")]
    TooLarge(String),
    /// Nesting (forms, archives) over the depth limit.
    #[error("nested deeper than {0} levels")]
    TooDeep(usize),
    /// The per-file time limit ran out; what was found before is kept.
    #[error("time limit of {0:?} reached")]
    TimeLimit(Duration),
    /// Encrypted and not readable with an empty password.
    #[error("encrypted: {0}")]
    Encrypted(String),
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A parser panicked on this input (caught; a bug to report).
    #[error("internal error: {0}")]
    Panic(String),
}

/// Limits that keep hostile or huge inputs bounded.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Pixels per image.
    pub max_pixels: u64,
    /// Bytes any one stream or archive member may decompress to.
    pub max_decompressed: usize,
    /// Nesting of forms and archives.
    pub max_depth: usize,
    /// Wall time per input file.
    pub time_per_file: Duration,
    /// Size of an input file (or archive member).
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 200_000_000,
            max_decompressed: 512 << 20,
            max_depth: 12,
            time_per_file: Duration::from_secs(120),
            max_file_bytes: 2 << 30,
        }
    }
}

/// What an extracted raster is to the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A picture.
    Image,
    /// The soft mask (alpha) of another image.
    Smask,
    /// The stencil or explicit mask of another image.
    Mask,
    /// A stencil mask painted with the fill colour (`/ImageMask true`).
    Stencil,
    /// Rasters tiled edge to edge on a page, joined into one picture.
    Figure,
}

/// One drawing of an image on a page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    /// 1-based page number.
    pub page: u32,
    /// `[x0, y0, x1, y1]` in PDF points, y up.
    pub bbox: [f32; 4],
    /// Effective resolution along the image's width.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dpi: Option<f32>,
}

/// One extracted image.
#[derive(Debug, Serialize)]
pub struct Image {
    /// Stable within the file (`obj-12-0`, `p3-inline-1`, `figure-2-1`, or the member path).
    pub id: String,
    /// First page it is drawn on.
    pub page: Option<u32>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bits per component as stored.
    pub bpc: u32,
    /// Colour space as stored (`gray`, `rgb`, `cmyk`, `icc`, `index`, …).
    pub colorspace: String,
    /// Encoding as stored (`jpeg`, `jpx`, `jbig2`, `ccitt`, `flate`, `raw`, `png`, …).
    pub encoding: String,
    /// An inline image (`BI … ID … EI`).
    pub inline: bool,
    /// Picture, mask or joined figure.
    pub role: Role,
    /// PDF object number and generation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<[u32; 2]>,
    /// Where it is drawn.
    pub placements: Vec<Placement>,
    /// The id of this image's soft or stencil mask.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
    /// Why it could not be decoded.
    pub error: Option<String>,
    /// The archive member it came from (`word/media/image1.png`, `si.zip/fig.pdf`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Panels found in it (`--panels`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panels: Option<Vec<crate::figure::Panel>>,
    /// Where `--out` wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub png: Option<PathBuf>,
    /// Decoded pixels.
    #[serde(skip)]
    pub pixels: Option<DynamicImage>,
    /// Text and rules the document draws over it (scale-bar labels and bars).
    #[serde(skip)]
    pub vector: crate::figure::Vector,
}

/// A member of an archive that could not be read (its images are absent).
#[derive(Debug, Serialize)]
pub struct MemberError {
    /// Path inside the archive.
    pub member: String,
    /// Its content type.
    pub kind: Kind,
    /// What went wrong.
    pub error: String,
}

/// Everything read from one input file.
#[derive(Debug, Serialize)]
pub struct Extraction {
    /// The input path.
    pub file: PathBuf,
    /// Content type by magic bytes.
    pub kind: Kind,
    /// Why the file (or part of it) could not be read.
    pub error: Option<String>,
    /// The images found.
    pub images: Vec<Image>,
    /// Archive members that failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberError>,
}

/// Reads `path` and extracts its images.
pub fn extract_file(path: &Path, limits: &Limits) -> Extraction {
    let bytes = match std::fs::metadata(path).and_then(|m| {
        if m.len() > limits.max_file_bytes {
            Err(std::io::Error::other(format!("{} bytes exceeds the limit of {}", m.len(), limits.max_file_bytes)))
        } else {
            std::fs::read(path)
        }
    }) {
        Ok(b) => b,
        Err(e) => {
            return Extraction {
                file: path.to_path_buf(),
                kind: Kind::Unknown,
                error: Some(e.to_string()),
                images: Vec::new(),
                members: Vec::new(),
            }
        }
    };
    let mut x = extract_bytes(&bytes, limits);
    x.file = path.to_path_buf();
    x
}

/// Extracts the images of one file held in memory. Never panics: a panic in
/// a parser is caught and reported as the file's error.
pub fn extract_bytes(bytes: &[u8], limits: &Limits) -> Extraction {
    let kind = sniff::sniff(bytes);
    let mut x = Extraction { file: PathBuf::new(), kind, error: None, images: Vec::new(), members: Vec::new() };
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_kind(kind, bytes, limits, 0)));
    match run {
        Ok(Ok(r)) => {
            x.images = r.images;
            x.members = r.members;
            x.error = r.error.map(|e| e.to_string());
        }
        Ok(Err(e)) => x.error = Some(e.to_string()),
        Err(p) => {
            let msg = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
            x.error = Some(ExtractError::Panic(msg.unwrap_or_default()).to_string());
        }
    }
    x
}

/// Images and member failures of one (possibly nested) input.
#[derive(Default)]
pub(crate) struct Read {
    pub images: Vec<Image>,
    pub members: Vec<MemberError>,
    /// A partial failure (time limit, damaged tail) with what was found kept.
    pub error: Option<ExtractError>,
}

pub(crate) fn read_kind(kind: Kind, bytes: &[u8], limits: &Limits, depth: usize) -> Result<Read, ExtractError> {
    if depth > limits.max_depth {
        return Err(ExtractError::TooDeep(depth));
    }
    match kind {
        Kind::Pdf => {
            let (images, error) = pdf::extract(bytes, limits)?;
            Ok(Read { images, members: Vec::new(), error })
        }
        Kind::Image => Ok(Read { images: vec![standalone(bytes, limits)], ..Default::default() }),
        k if k.is_archive() => container::read(k, bytes, limits, depth),
        Kind::Html => Err(ExtractError::Corrupt("an HTML page, not a document".into())),
        _ => Err(ExtractError::Unsupported("not a document, archive or image".into())),
    }
}

/// A standalone raster file as one image.
fn standalone(bytes: &[u8], limits: &Limits) -> Image {
    let format = image::guess_format(bytes).ok();
    let encoding = format.map_or("unknown", |f| f.extensions_str().first().copied().unwrap_or("unknown"));
    let mut img = Image {
        id: "image".into(),
        page: None,
        width: 0,
        height: 0,
        bpc: 8,
        colorspace: "-".into(),
        encoding: if encoding == "jpg" { "jpeg".into() } else { encoding.into() },
        inline: false,
        role: Role::Image,
        object: None,
        placements: Vec::new(),
        mask: None,
        error: None,
        member: None,
        panels: None,
        png: None,
        pixels: None,
        vector: Default::default(),
    };
    let decoded = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())
        .and_then(|r| {
            let mut r = r;
            let mut l = image::Limits::default();
            l.max_alloc = Some(limits.max_decompressed as u64);
            r.limits(l);
            r.decode().map_err(|e| e.to_string())
        });
    // EM TIFFs the image crate refuses (palette, odd depths) go through the archive reader.
    let decoded = decoded.or_else(|e| {
        crate::archive::read::pixels(bytes)
            .map(|g| DynamicImage::ImageLuma8(image::GrayImage::from_raw(g.width, g.height, g.pixels).expect("sized")))
            .map_err(|_| e)
    });
    match decoded {
        Ok(px) if px.width() as u64 * px.height() as u64 <= limits.max_pixels => {
            let c = px.color();
            img.width = px.width();
            img.height = px.height();
            img.bpc = (c.bits_per_pixel() / c.channel_count() as u16) as u32;
            img.colorspace = match c.channel_count() {
                1 | 2 => "gray",
                _ => "rgb",
            }
            .into();
            img.pixels = Some(px);
        }
        Ok(px) => {
            img.error = Some(ExtractError::TooLarge(format!("{}×{} pixels", px.width(), px.height())).to_string())
        }
        Err(e) => img.error = Some(ExtractError::Decode(e).to_string()),
    }
    img
}

/// Splits every decoded picture (not masks) into panels.
pub fn add_panels(x: &mut Extraction, options: &crate::figure::Options) {
    for img in &mut x.images {
        if let (Some(px), Role::Image | Role::Figure) = (&img.pixels, img.role) {
            img.panels = Some(crate::figure::panels_with(&px.to_luma8(), options, &img.vector));
        }
    }
}

/// Writes each decoded image as PNG under `dir` and records the path.
/// Names are `<file stem>-<image id>.png`.
pub fn write_pngs(x: &mut Extraction, dir: &Path) -> Result<(), ExtractError> {
    std::fs::create_dir_all(dir)?;
    let stem = x.file.file_stem().map_or_else(|| "input".into(), |s| s.to_string_lossy().into_owned());
    for img in &mut x.images {
        let Some(px) = &img.pixels else { continue };
        let id: String = img.id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let path = dir.join(format!("{stem}-{id}.png"));
        let px = match px {
            DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageRgb8(_)
            | DynamicImage::ImageRgba8(_) => px.clone(),
            other => DynamicImage::ImageRgba8(other.to_rgba8()),
        };
        px.save_with_format(&path, image::ImageFormat::Png).map_err(|e| ExtractError::Io(std::io::Error::other(e)))?;
        img.png = Some(path);
    }
    Ok(())
}
