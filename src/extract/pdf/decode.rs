//! Image dictionaries to pixels (ISO 32000-1 §8.6 colour spaces, §8.9 images):
//! sample unpacking at 1/2/4/8/16 bits, `/Decode` arrays, colour conversion
//! to grey or RGB, the image codecs, and soft / stencil / colour-key masks.
//!
//! Colour is approximate where exactness needs a colour-management engine:
//! ICC profiles are read by their component count, CMYK is converted
//! naively, Separation / DeviceN tints are shown as darkness.

use image::{DynamicImage, GrayAlphaImage, GrayImage, RgbImage, RgbaImage};
use lopdf::{Dictionary, Document, Object};

use super::filters::{self, Codec};
use crate::extract::{ExtractError, Limits};

/// A resolved colour space.
#[derive(Debug, Clone, PartialEq)]
pub enum Space {
    /// DeviceGray, CalGray, 1-component ICC.
    Gray,
    /// DeviceRGB, CalRGB, 3-component ICC.
    Rgb,
    /// DeviceCMYK, 4-component ICC.
    Cmyk,
    /// CIE L*a*b* with its a/b range.
    Lab([f32; 4]),
    /// A palette over a base space: `hival` and the lookup bytes.
    Indexed(Box<Space>, usize, Vec<u8>),
    /// Separation / DeviceN with this many tints.
    Tint(usize),
}

impl Space {
    /// Components per sample.
    pub fn components(&self) -> usize {
        match self {
            Space::Gray | Space::Indexed(..) => 1,
            Space::Rgb | Space::Lab(_) => 3,
            Space::Cmyk => 4,
            Space::Tint(n) => *n,
        }
    }
}

/// What an image dictionary says, resolved against the document.
#[derive(Debug, Clone)]
pub struct Info {
    /// Width in samples.
    pub width: u32,
    /// Height in samples.
    pub height: u32,
    /// Bits per component (1 for stencil masks).
    pub bpc: u32,
    /// Colour space, `None` for stencil masks and codecs that carry their own.
    pub space: Option<Space>,
    /// The colour-space name reported (`gray`, `rgb`, `cmyk`, `lab`, `index`, `icc`, `sep`, `devn`, …).
    pub space_label: &'static str,
    /// `/ImageMask true`.
    pub stencil: bool,
    /// `/Decode` array.
    pub decode: Option<Vec<f32>>,
    /// Filter chain with parameters.
    pub chain: Vec<(Vec<u8>, Dictionary)>,
    /// Colour-key mask ranges (`/Mask [min max …]`).
    pub color_key: Option<Vec<u32>>,
}

fn deref<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    doc.dereference(o).map(|(_, o)| o).unwrap_or(o)
}

/// Looks a key up under its full or inline-abbreviated name.
fn get<'a>(doc: &'a Document, d: &'a Dictionary, full: &[u8], short: &[u8]) -> Option<&'a Object> {
    d.get(full).or_else(|_| d.get(short)).ok().map(|o| deref(doc, o))
}

fn num(o: &Object) -> Option<f64> {
    match o {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(*r as f64),
        _ => None,
    }
}

/// Reads an image dictionary (XObject or inline). `spaces` is the resource
/// `/ColorSpace` dictionary for named spaces.
pub fn info(doc: &Document, d: &Dictionary, spaces: Option<&Dictionary>) -> Result<Info, ExtractError> {
    let dim = |full: &[u8], short: &[u8]| {
        get(doc, d, full, short)
            .and_then(num)
            .filter(|v| *v >= 1.0 && *v <= u32::MAX as f64)
            .map(|v| v as u32)
            .ok_or_else(|| ExtractError::Corrupt(format!("image without a valid /{}", String::from_utf8_lossy(full))))
    };
    let width = dim(b"Width", b"W")?;
    let height = dim(b"Height", b"H")?;
    let stencil = matches!(get(doc, d, b"ImageMask", b"IM"), Some(Object::Boolean(true)));
    let chain = filters::chain(d, doc);
    let encoding = filters::encoding(&chain);
    let (space, space_label) = if stencil {
        (None, "gray")
    } else {
        match get(doc, d, b"ColorSpace", b"CS") {
            Some(cs) => {
                let (s, l) = space(doc, cs, spaces, 0)?;
                (Some(s), l)
            }
            None if matches!(encoding, "jpx" | "jpeg") => (None, "-"),
            None if matches!(encoding, "jbig2" | "ccitt") => (Some(Space::Gray), "gray"),
            None => return Err(ExtractError::Corrupt("image without /ColorSpace".into())),
        }
    };
    let bpc = if stencil || matches!(encoding, "jbig2" | "ccitt") {
        1
    } else {
        get(doc, d, b"BitsPerComponent", b"BPC").and_then(num).map_or(8, |v| v as u32)
    };
    if !matches!(bpc, 1 | 2 | 4 | 8 | 16) && !matches!(encoding, "jpx" | "jpeg") {
        return Err(ExtractError::Corrupt(format!("{bpc} bits per component")));
    }
    let decode = match get(doc, d, b"Decode", b"D") {
        Some(Object::Array(a)) => Some(a.iter().filter_map(|o| num(deref(doc, o)).map(|v| v as f32)).collect()),
        _ => None,
    };
    let color_key = match d.get(b"Mask").ok().map(|o| deref(doc, o)) {
        Some(Object::Array(a)) => Some(a.iter().filter_map(|o| num(deref(doc, o)).map(|v| v as u32)).collect()),
        _ => None,
    };
    Ok(Info { width, height, bpc, space, space_label, stencil, decode, chain, color_key })
}

/// Resolves a colour-space object; returns the space and its reported label.
pub fn space(
    doc: &Document,
    cs: &Object,
    spaces: Option<&Dictionary>,
    depth: usize,
) -> Result<(Space, &'static str), ExtractError> {
    if depth > 8 {
        return Err(ExtractError::Corrupt("colour spaces nested too deep".into()));
    }
    let unsupported =
        |what: &[u8]| ExtractError::Unsupported(format!("colour space {}", String::from_utf8_lossy(what)));
    let cs = deref(doc, cs);
    let (family, args): (&[u8], &[Object]) = match cs {
        Object::Name(n) => (n, &[]),
        Object::Array(a) => match a.first().map(|o| deref(doc, o)) {
            Some(Object::Name(n)) => (n, &a[1..]),
            _ => return Err(ExtractError::Corrupt("colour space array without a family".into())),
        },
        _ => return Err(ExtractError::Corrupt("colour space is not a name or array".into())),
    };
    Ok(match family {
        b"DeviceGray" | b"G" => (Space::Gray, "gray"),
        b"CalGray" => (Space::Gray, "gray"),
        b"DeviceRGB" | b"RGB" => (Space::Rgb, "rgb"),
        b"CalRGB" => (Space::Rgb, "rgb"),
        b"DeviceCMYK" | b"CMYK" => (Space::Cmyk, "cmyk"),
        b"Lab" => {
            let range = args
                .first()
                .map(|o| deref(doc, o))
                .and_then(|o| o.as_dict().ok())
                .and_then(|d| d.get(b"Range").ok())
                .and_then(|r| r.as_array().ok())
                .map(|a| a.iter().filter_map(num).map(|v| v as f32).collect::<Vec<_>>())
                .filter(|v| v.len() == 4)
                .map_or([-100.0, 100.0, -100.0, 100.0], |v| [v[0], v[1], v[2], v[3]]);
            (Space::Lab(range), "lab")
        }
        b"ICCBased" => {
            let stream = args.first().map(|o| deref(doc, o)).and_then(|o| o.as_stream().ok());
            let n = stream.and_then(|s| s.dict.get(b"N").ok()).and_then(num).map_or(0, |v| v as usize);
            let alt = stream.and_then(|s| s.dict.get(b"Alternate").ok());
            let s = match (n, alt) {
                (1, _) => Space::Gray,
                (3, _) => Space::Rgb,
                (4, _) => Space::Cmyk,
                (_, Some(alt)) => space(doc, alt, spaces, depth + 1)?.0,
                _ => return Err(ExtractError::Corrupt(format!("ICC profile with {n} components"))),
            };
            (s, "icc")
        }
        b"Indexed" | b"I" => {
            let base = args.first().ok_or_else(|| ExtractError::Corrupt("Indexed without base".into()))?;
            let (base, _) = space(doc, base, spaces, depth + 1)?;
            let hival = args.get(1).map(|o| deref(doc, o)).and_then(num).unwrap_or(255.0).clamp(0.0, 255.0) as usize;
            let lut = match args.get(2).map(|o| deref(doc, o)) {
                Some(Object::String(s, _)) => s.clone(),
                Some(Object::Stream(s)) => {
                    let chain = filters::chain(&s.dict, doc);
                    filters::apply(&s.content, &chain, 1 << 20)?.0
                }
                _ => return Err(ExtractError::Corrupt("Indexed without lookup table".into())),
            };
            (Space::Indexed(Box::new(base), hival, lut), "index")
        }
        b"Separation" => (Space::Tint(1), "sep"),
        b"DeviceN" => {
            let n = args.first().map(|o| deref(doc, o)).and_then(|o| o.as_array().ok()).map_or(1, Vec::len);
            (Space::Tint(n.max(1)), "devn")
        }
        b"Pattern" => return Err(unsupported(family)),
        name => match spaces.and_then(|s| s.get(name).ok()) {
            Some(o) if depth < 8 => space(doc, o, spaces, depth + 1)?,
            _ => return Err(unsupported(name)),
        },
    })
}

/// Decodes an image to pixels. `smask` is the decoded soft or stencil mask
/// (as grey, 255 = opaque) applied as alpha when its size matches.
pub fn pixels(
    doc: &Document,
    info: &Info,
    data: &[u8],
    smask: Option<&GrayImage>,
    limits: &Limits,
) -> Result<DynamicImage, ExtractError> {
    let n = info.width as u64 * info.height as u64;
    if n > limits.max_pixels {
        return Err(ExtractError::TooLarge(format!("{}×{} pixels", info.width, info.height)));
    }
    let (raw, codec) = filters::apply(data, &info.chain, limits.max_decompressed)?;
    let img = match &codec {
        Some((Codec::Dct, _)) => jpeg(&raw, info)?,
        Some((Codec::Jpx, _)) => jpx(&raw, limits)?,
        Some((Codec::Jbig2, parms)) => bilevel(info, jbig2(doc, &raw, parms, info)?, true),
        Some((Codec::Ccitt, parms)) => {
            let black_is_1 = matches!(parms.get(b"BlackIs1"), Ok(Object::Boolean(true)));
            bilevel(info, ccitt(&raw, parms, info)?, !black_is_1)
        }
        None => samples(info, &raw)?,
    };
    let img = match &info.color_key {
        Some(ranges) if codec.is_none() && !info.stencil => with_color_key(img, info, &raw, ranges),
        _ => img,
    };
    Ok(match smask {
        Some(m) if m.dimensions() == (img.width(), img.height()) => with_alpha(img, m),
        _ => img,
    })
}

/// A decoded mask image as alpha (255 = opaque). Stencil masks paint where
/// the sample is 0 (after `/Decode`), so painted = opaque.
pub fn alpha(img: &DynamicImage) -> GrayImage {
    img.to_luma8()
}

fn with_alpha(img: DynamicImage, mask: &GrayImage) -> DynamicImage {
    match img {
        DynamicImage::ImageLuma8(g) => {
            DynamicImage::ImageLumaA8(GrayAlphaImage::from_fn(g.width(), g.height(), |x, y| {
                image::LumaA([g.get_pixel(x, y)[0], mask.get_pixel(x, y)[0]])
            }))
        }
        other => {
            let rgb = other.to_rgb8();
            DynamicImage::ImageRgba8(RgbaImage::from_fn(rgb.width(), rgb.height(), |x, y| {
                let p = rgb.get_pixel(x, y);
                image::Rgba([p[0], p[1], p[2], mask.get_pixel(x, y)[0]])
            }))
        }
    }
}

fn with_color_key(img: DynamicImage, info: &Info, raw: &[u8], ranges: &[u32]) -> DynamicImage {
    let comps = info.space.as_ref().map_or(1, Space::components);
    if ranges.len() < 2 * comps {
        return img;
    }
    let samples = unpack(raw, info.width as usize, info.height as usize, comps, info.bpc as usize);
    let mask = GrayImage::from_fn(info.width, info.height, |x, y| {
        let i = (y as usize * info.width as usize + x as usize) * comps;
        let keyed = (0..comps).all(|c| {
            let v = samples.get(i + c).copied().unwrap_or(0) as u32;
            ranges[2 * c] <= v && v <= ranges[2 * c + 1]
        });
        image::Luma([if keyed { 0 } else { 255 }])
    });
    with_alpha(img, &mask)
}

/// JPEG through zune-jpeg. Four-component JPEGs (CMYK, or YCCK under an
/// Adobe APP14 marker) are taken as stored CMYK samples and converted here,
/// as poppler does for PDF (zune-jpeg's own conversion assumes Photoshop's
/// inverted files); a `/Decode [1 0 …]` array inverts.
fn jpeg(raw: &[u8], info: &Info) -> Result<DynamicImage, ExtractError> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    use zune_jpeg::JpegDecoder;
    let err = |e: zune_jpeg::errors::DecodeErrors| ExtractError::Decode(format!("jpeg: {e}"));
    let mut probe = JpegDecoder::new(ZCursor::new(raw));
    probe.decode_headers().map_err(err)?;
    let input = probe.input_colorspace();
    let out = match input {
        Some(ColorSpace::Luma | ColorSpace::LumaA) => ColorSpace::Luma,
        Some(c @ (ColorSpace::CMYK | ColorSpace::YCCK)) => c,
        _ => ColorSpace::RGB,
    };
    let mut dec = JpegDecoder::new_with_options(
        ZCursor::new(raw),
        DecoderOptions::default().jpeg_set_out_colorspace(out).set_max_width(1 << 16).set_max_height(1 << 16),
    );
    let px = dec.decode().map_err(err)?;
    let (w, h) = dec.dimensions().ok_or_else(|| ExtractError::Decode("jpeg: no dimensions".into()))?;
    let (w, h) = (w as u32, h as u32);
    let short = || ExtractError::Decode("jpeg: short pixel data".into());
    let mut img = match out {
        ColorSpace::Luma => DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, px).ok_or_else(short)?),
        ColorSpace::CMYK | ColorSpace::YCCK => {
            let rgb: Vec<u8> = px
                .chunks_exact(4)
                .flat_map(|p| {
                    let [c, m, y] =
                        if out == ColorSpace::YCCK { ycc_to_cmy(p[0], p[1], p[2]) } else { [p[0], p[1], p[2]] };
                    cmyk(c, m, y, p[3])
                })
                .collect();
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, rgb).ok_or_else(short)?)
        }
        _ => DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, px).ok_or_else(short)?),
    };
    if info.decode.as_ref().is_some_and(|d| d.len() >= 2 && d[0] > d[1]) {
        img.invert();
    }
    Ok(img)
}

fn jpx(raw: &[u8], limits: &Limits) -> Result<DynamicImage, ExtractError> {
    let settings = hayro_jpeg2000::DecodeSettings::default();
    let image = hayro_jpeg2000::Image::new(raw, &settings).map_err(|e| ExtractError::Decode(format!("jpx: {e}")))?;
    let (w, h) = (image.width(), image.height());
    if w as u64 * h as u64 > limits.max_pixels {
        return Err(ExtractError::TooLarge(format!("{w}×{h} pixels")));
    }
    let channels = image.color_space().num_channels() as usize + usize::from(image.has_alpha());
    let mut ctx = hayro_jpeg2000::DecoderContext::default();
    let decoded = image.decode(&mut ctx).map_err(|e| ExtractError::Decode(format!("jpx: {e}")))?;
    let data = decoded.data_u8();
    let px = w as usize * h as usize;
    if channels == 0 || data.len() < px * channels {
        return Err(ExtractError::Decode("jpx: short pixel data".into()));
    }
    let colour = channels - usize::from(image.has_alpha());
    Ok(match colour {
        1 => DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |x, y| {
            image::Luma([data[(y as usize * w as usize + x as usize) * channels]])
        })),
        4 => DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            let i = (y as usize * w as usize + x as usize) * channels;
            image::Rgb(cmyk(data[i], data[i + 1], data[i + 2], data[i + 3]))
        })),
        _ => DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            let i = (y as usize * w as usize + x as usize) * channels;
            image::Rgb([data[i], data[i + 1], data[i + 2]])
        })),
    })
}

/// A bilevel sink: one bool per pixel, `true` = black.
struct Bits {
    width: usize,
    rows: Vec<Vec<bool>>,
    row: Vec<bool>,
}

impl hayro_jbig2::Decoder for Bits {
    fn push_pixel(&mut self, black: bool) {
        self.row.push(black);
    }
    fn push_pixel_chunk(&mut self, black: bool, chunk_count: u32) {
        self.row.extend(std::iter::repeat_n(black, chunk_count as usize * 8));
    }
    fn next_line(&mut self) {
        let mut row = std::mem::take(&mut self.row);
        row.resize(self.width, false);
        self.rows.push(row);
    }
}

impl hayro_ccitt::Decoder for Bits {
    fn push_row(&mut self, changes: &[u32]) {
        let mut row = vec![false; self.width];
        for pair in changes.chunks(2) {
            let start = (pair[0] as usize).min(self.width);
            let end = pair.get(1).map_or(self.width, |&e| (e as usize).min(self.width));
            row[start..end.max(start)].iter_mut().for_each(|b| *b = true);
        }
        self.rows.push(row);
    }
}

fn jbig2(doc: &Document, raw: &[u8], parms: &Dictionary, info: &Info) -> Result<Bits, ExtractError> {
    let settings = hayro_jbig2::DecodeSettings::default();
    let globals_data =
        parms.get(b"JBIG2Globals").ok().map(|o| deref(doc, o)).and_then(|o| o.as_stream().ok()).map(|s| {
            let chain = filters::chain(&s.dict, doc);
            filters::apply(&s.content, &chain, 1 << 24).map(|r| r.0).unwrap_or_else(|_| s.content.clone())
        });
    let globals = globals_data
        .as_deref()
        .map(|g| hayro_jbig2::Globals::new(g, &settings))
        .transpose()
        .map_err(|e| ExtractError::Decode(format!("jbig2 globals: {e}")))?;
    let page = hayro_jbig2::Page::new_embedded(raw, globals.as_ref(), &settings)
        .map_err(|e| ExtractError::Decode(format!("jbig2: {e}")))?;
    let mut bits = Bits { width: page.width() as usize, rows: Vec::new(), row: Vec::new() };
    if page.width() as u64 * page.height() as u64 > 1 << 28 {
        return Err(ExtractError::TooLarge(format!("{}×{} JBIG2 page", page.width(), page.height())));
    }
    page.decode(&mut bits).map_err(|e| ExtractError::Decode(format!("jbig2: {e}")))?;
    bits.width = info.width as usize;
    Ok(bits)
}

fn ccitt(raw: &[u8], parms: &Dictionary, info: &Info) -> Result<Bits, ExtractError> {
    let int = |k: &[u8], d: i64| parms.get(k).and_then(Object::as_i64).unwrap_or(d);
    let flag = |k: &[u8], d: bool| parms.get(k).and_then(Object::as_bool).unwrap_or(d);
    let k = int(b"K", 0);
    let columns = int(b"Columns", 1728).clamp(1, 1 << 20) as u32;
    let settings = hayro_ccitt::DecodeSettings {
        columns,
        rows: int(b"Rows", info.height as i64).clamp(0, u32::MAX as i64) as u32,
        end_of_block: flag(b"EndOfBlock", true),
        end_of_line: flag(b"EndOfLine", false),
        rows_are_byte_aligned: flag(b"EncodedByteAlign", false),
        encoding: match k {
            k if k < 0 => hayro_ccitt::EncodingMode::Group4,
            0 => hayro_ccitt::EncodingMode::Group3_1D,
            _ => hayro_ccitt::EncodingMode::Group3_2D,
        },
        strict: false,
    };
    let mut bits = Bits { width: columns as usize, rows: Vec::new(), row: Vec::new() };
    let mut ctx = hayro_ccitt::DecoderContext::new(settings);
    if let Err(e) = hayro_ccitt::decode(raw, &mut bits, &mut ctx) {
        if bits.rows.is_empty() {
            return Err(ExtractError::Decode(format!("ccitt: {e}")));
        }
    }
    Ok(bits)
}

/// Bilevel rows to grey at the image's size (short data pads white).
/// `one_is_black`: the decoder's `true` means black ink.
fn bilevel(info: &Info, bits: Bits, one_is_black: bool) -> DynamicImage {
    let inverted = info.decode.as_ref().is_some_and(|d| d.len() >= 2 && d[0] > d[1]);
    let (w, h) = (info.width, info.height);
    DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |x, y| {
        let set = bits.rows.get(y as usize).and_then(|r| r.get(x as usize)).copied().unwrap_or(false);
        let black = (set == one_is_black) != inverted;
        image::Luma([if black { 0 } else { 255 }])
    }))
}

/// Unpacks samples of `bpc` bits, rows padded to bytes; 16-bit keeps 16 bits.
fn unpack(raw: &[u8], w: usize, h: usize, comps: usize, bpc: usize) -> Vec<u16> {
    let per_row = w * comps;
    let row_bytes = (per_row * bpc).div_ceil(8);
    let mut out = Vec::with_capacity(per_row * h);
    for y in 0..h {
        let row = raw.get(y * row_bytes..((y + 1) * row_bytes).min(raw.len())).unwrap_or(&[]);
        match bpc {
            8 => {
                out.extend(row.iter().map(|&b| b as u16));
                out.extend(std::iter::repeat_n(0, per_row - row.len().min(per_row)));
            }
            16 => {
                out.extend(row.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])));
                out.extend(std::iter::repeat_n(0, per_row - (row.len() / 2).min(per_row)));
            }
            _ => {
                let mask = (1u16 << bpc) - 1;
                for i in 0..per_row {
                    let bit = i * bpc;
                    let v = row.get(bit / 8).map_or(0, |&b| (b as u16 >> (8 - bpc - bit % 8)) & mask);
                    out.push(v);
                }
            }
        }
    }
    out
}

/// YCC (JFIF) to the C, M, Y samples of a YCCK JPEG (Adobe transform 2).
fn ycc_to_cmy(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (y as f32, cb as f32 - 128.0, cr as f32 - 128.0);
    let r = y + 1.402 * cr;
    let g = y - 0.344136 * cb - 0.714136 * cr;
    let b = y + 1.772 * cb;
    [r, g, b].map(|v| 255 - v.round().clamp(0.0, 255.0) as u8)
}

fn cmyk(c: u8, m: u8, y: u8, k: u8) -> [u8; 3] {
    let ink = |v: u8| ((255 - v as u16) * (255 - k as u16) / 255) as u8;
    [ink(c), ink(m), ink(y)]
}

/// CIE L*a*b* (D50) to sRGB, enough to look right.
fn lab(l: f32, a: f32, b: f32) -> [u8; 3] {
    let fy = (l + 16.0) / 116.0;
    let fx = fy + a / 500.0;
    let fz = fy - b / 200.0;
    let f = |t: f32| if t > 6.0 / 29.0 { t * t * t } else { 3.0 * (6.0f32 / 29.0).powi(2) * (t - 4.0 / 29.0) };
    let (x, y, z) = (0.9642 * f(fx), f(fy), 0.8249 * f(fz));
    let r = 3.1339 * x - 1.6169 * y - 0.4906 * z;
    let g = -0.9788 * x + 1.9161 * y + 0.0335 * z;
    let bl = 0.0719 * x - 0.2290 * y + 1.4052 * z;
    let gamma = |c: f32| {
        let c = c.clamp(0.0, 1.0);
        let v = if c <= 0.0031308 { 12.92 * c } else { 1.055 * c.powf(1.0 / 2.4) - 0.055 };
        (v * 255.0).round() as u8
    };
    [gamma(r), gamma(g), gamma(bl)]
}

/// Uncompressed (after general filters) samples to grey or RGB.
fn samples(info: &Info, raw: &[u8]) -> Result<DynamicImage, ExtractError> {
    let (w, h) = (info.width as usize, info.height as usize);
    let bpc = info.bpc as usize;
    if info.stencil {
        let s = unpack(raw, w, h, 1, 1);
        let paint_on = if info.decode.as_ref().is_some_and(|d| d.len() >= 2 && d[0] > d[1]) { 1 } else { 0 };
        return Ok(DynamicImage::ImageLuma8(GrayImage::from_fn(info.width, info.height, |x, y| {
            image::Luma([if s[y as usize * w + x as usize] == paint_on { 0 } else { 255 }])
        })));
    }
    let space = info.space.as_ref().ok_or_else(|| ExtractError::Corrupt("no colour space".into()))?;
    let comps = space.components();
    let needed = (w * comps * bpc).div_ceil(8) * h;
    if raw.len() < needed / 2 {
        return Err(ExtractError::Corrupt(format!("{} bytes of {needed} needed", raw.len())));
    }
    let s = unpack(raw, w, h, comps, bpc);
    let max = ((1u32 << bpc) - 1) as f32;
    let default_decode: Vec<f32> = match space {
        Space::Indexed(..) => vec![0.0, max],
        Space::Lab(r) => vec![0.0, 100.0, r[0], r[1], r[2], r[3]],
        _ => (0..comps).flat_map(|_| [0.0, 1.0]).collect(),
    };
    let dec = info.decode.as_ref().filter(|d| d.len() >= 2 * comps).unwrap_or(&default_decode);
    let value = |i: usize, c: usize| {
        let (lo, hi) = (dec[2 * c], dec[2 * c + 1]);
        lo + s[i] as f32 * (hi - lo) / max
    };
    let to8 = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let px = |x: u32, y: u32| (y as usize * w + x as usize) * comps;
    Ok(match space {
        Space::Gray => DynamicImage::ImageLuma8(GrayImage::from_fn(info.width, info.height, |x, y| {
            image::Luma([to8(value(px(x, y), 0))])
        })),
        Space::Tint(_) => DynamicImage::ImageLuma8(GrayImage::from_fn(info.width, info.height, |x, y| {
            let i = px(x, y);
            let ink = (0..comps).map(|c| value(i + c, c)).fold(0.0f32, f32::max);
            image::Luma([to8(1.0 - ink)])
        })),
        Space::Rgb => DynamicImage::ImageRgb8(RgbImage::from_fn(info.width, info.height, |x, y| {
            let i = px(x, y);
            image::Rgb([to8(value(i, 0)), to8(value(i + 1, 1)), to8(value(i + 2, 2))])
        })),
        Space::Cmyk => DynamicImage::ImageRgb8(RgbImage::from_fn(info.width, info.height, |x, y| {
            let i = px(x, y);
            image::Rgb(cmyk(to8(value(i, 0)), to8(value(i + 1, 1)), to8(value(i + 2, 2)), to8(value(i + 3, 3))))
        })),
        Space::Lab(_) => DynamicImage::ImageRgb8(RgbImage::from_fn(info.width, info.height, |x, y| {
            let i = px(x, y);
            image::Rgb(lab(value(i, 0), value(i + 1, 1), value(i + 2, 2)))
        })),
        Space::Indexed(base, hival, lut) => {
            let bc = base.components();
            let entry = |x: u32, y: u32| {
                let idx = (value(px(x, y), 0).round().max(0.0) as usize).min(*hival);
                let at = |c: usize| lut.get(idx * bc + c).copied().unwrap_or(0);
                (at(0), at(1), at(2), at(3))
            };
            match **base {
                Space::Gray | Space::Tint(1) => {
                    DynamicImage::ImageLuma8(GrayImage::from_fn(info.width, info.height, |x, y| {
                        let v = entry(x, y).0;
                        image::Luma([if **base == Space::Gray { v } else { 255 - v }])
                    }))
                }
                _ => DynamicImage::ImageRgb8(RgbImage::from_fn(info.width, info.height, |x, y| {
                    let (a, b, c, d) = entry(x, y);
                    image::Rgb(match **base {
                        Space::Cmyk => cmyk(a, b, c, d),
                        Space::Lab(r) => lab(
                            a as f32 * 100.0 / 255.0,
                            r[0] + b as f32 * (r[1] - r[0]) / 255.0,
                            r[2] + c as f32 * (r[3] - r[2]) / 255.0,
                        ),
                        _ => [a, b, c],
                    })
                })),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(space: Space, bpc: u32, w: u32, h: u32) -> Info {
        Info {
            width: w,
            height: h,
            bpc,
            space: Some(space),
            space_label: "",
            stencil: false,
            decode: None,
            chain: Vec::new(),
            color_key: None,
        }
    }

    #[test]
    fn unpacks_every_depth() {
        assert_eq!(unpack(&[0b1011_0000], 4, 1, 1, 1), [1, 0, 1, 1]);
        assert_eq!(unpack(&[0b1110_0100], 4, 1, 1, 2), [3, 2, 1, 0]);
        assert_eq!(unpack(&[0xab, 0xc0], 3, 1, 1, 4), [0xa, 0xb, 0xc]);
        assert_eq!(unpack(&[1, 2, 3, 4], 2, 1, 1, 16), [0x0102, 0x0304]);
        // Rows start on byte boundaries.
        assert_eq!(unpack(&[0b1000_0000, 0b0100_0000], 2, 2, 1, 1), [1, 0, 0, 1]);
    }

    #[test]
    fn gray_decode_array_inverts() {
        let mut i = info(Space::Gray, 8, 2, 1);
        i.decode = Some(vec![1.0, 0.0]);
        let img = samples(&i, &[0, 255]).unwrap();
        assert_eq!(img.to_luma8().into_raw(), [255, 0]);
    }

    #[test]
    fn indexed_rgb_and_cmyk() {
        let i = info(Space::Indexed(Box::new(Space::Rgb), 1, vec![255, 0, 0, 0, 0, 255]), 1, 2, 1);
        assert_eq!(samples(&i, &[0b0100_0000]).unwrap().to_rgb8().into_raw(), [255, 0, 0, 0, 0, 255]);
        let c = info(Space::Cmyk, 8, 1, 1);
        assert_eq!(samples(&c, &[255, 0, 0, 0]).unwrap().to_rgb8().into_raw(), [0, 255, 255]);
    }

    #[test]
    fn lab_white_and_black() {
        assert_eq!(lab(100.0, 0.0, 0.0), [255, 255, 255]);
        assert_eq!(lab(0.0, 0.0, 0.0), [0, 0, 0]);
    }

    #[test]
    fn short_data_is_an_error_not_a_panic() {
        assert!(samples(&info(Space::Rgb, 8, 100, 100), &[1, 2, 3]).is_err());
        // Some missing rows are tolerated (padded).
        assert!(samples(&info(Space::Gray, 8, 10, 10), &[7; 80]).is_ok());
    }
}
