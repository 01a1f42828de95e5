//! Figure understanding: a figure raster split into panels, each classified
//! as micrograph or not, with an instrument data bar when one is burned in.
//!
//! Splitting is a recursive XY cut: rows (then columns, alternating) that are
//! all background form gutters; the background is the figure's border
//! colour, so white and black gutters both work. Each piece is trimmed to its
//! content. A micrograph fills its box with texture; plots, spectra and
//! schemes are mostly background with thin strokes.
//!
//! Framed insets in a micrograph ([`inset`]) are its children, panels of
//! their own.
//!
//! Each micrograph's scale bar is found by [`scalebar`]. Where the document
//! draws the label as text over the image (and often the bar as a filled
//! rectangle), the label is taken from that text, which needs no reading.

pub mod databar;
pub mod inset;
pub mod ocr;
pub mod scalebar;
mod small;
mod tiny;

use image::GrayImage;
use serde::Serialize;

use crate::archive;
use crate::archive::tiff::Gray8;

/// A panel found in a figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Panel {
    /// `[x0, y0, x1, y1]` in image pixels (x1, y1 exclusive).
    pub bbox: [u32; 4],
    /// A micrograph (kept for matching) rather than a plot, spectrum or scheme.
    pub micrograph: bool,
    /// The scale bar, when one is found.
    pub scale_bar: Option<ScaleBar>,
    /// Physical pixel size: not known until scale bars are read.
    pub nm_per_px: Option<f64>,
    /// A burned-in instrument data bar at the bottom of the panel.
    pub databar: Option<Databar>,
    /// Framed insets set into it (an FFT, a diffraction pattern, a zoom),
    /// each a panel of its own.
    pub children: Vec<Panel>,
}

/// A scale bar and what its label says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleBar {
    /// The label's number (`200` in "200 nm"), when read.
    pub value: Option<f64>,
    /// The label's unit (`nm`, `µm`, `mm`, `pm`, `Å`), when read.
    pub unit: Option<String>,
    /// What was read next to the bar, when anything was.
    pub text: Option<String>,
    /// The label's box in image pixels.
    pub label_bbox: Option<[u32; 4]>,
    /// The bar, `[x0, y0, x1, y1]` in image pixels.
    pub bbox: [u32; 4],
    /// Its length in pixels (sub-pixel).
    pub length_px: f64,
    /// Where the label was read from: `vector-text` (text the PDF draws over
    /// the image), `ocr` (the glyph reader), `tesseract` or `databar` (the
    /// scale bar the instrument printed on its data bar).
    pub source: &'static str,
    /// 0–1 trust in the label read (and so in `nm_per_px`).
    pub confidence: f64,
}

/// An instrument data bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Databar {
    /// Its rows at the bottom of the panel.
    pub rows: u32,
    /// Its box in image pixels.
    pub bbox: [u32; 4],
    /// What it says: `lines`, `kv`, `magnification`, `wd_mm`, `detector`,
    /// `date`, `time`, `scale_bar`.
    #[serde(flatten)]
    pub text: databar::Text,
}

/// Text and rules a document draws over an image, in the image's pixels
/// (y down): where a figure's scale-bar labels and bars are vector graphics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vector {
    /// Text lines.
    pub texts: Vec<VectorText>,
    /// Thin filled rectangles and horizontal lines, `[x0, y0, x1, y1]`.
    pub rules: Vec<[f64; 4]>,
}

/// One line of text drawn over an image.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorText {
    /// As decoded, trimmed.
    pub text: String,
    /// `[x0, y0, x1, y1]`, from the descender to the cap height.
    pub bbox: [f64; 4],
}

/// Trust in a label that the document states as text.
const VECTOR_CONFIDENCE: f64 = 0.95;

/// Smallest panel side kept, in pixels.
const MIN_SIDE: u32 = 24;
/// A pixel within this of the background is background.
const TOLERANCE: i16 = 14;

/// The background grey: the median of the border pixels.
fn background(img: &GrayImage) -> u8 {
    let (w, h) = img.dimensions();
    let mut border: Vec<u8> = (0..w).flat_map(|x| [img.get_pixel(x, 0)[0], img.get_pixel(x, h - 1)[0]]).collect();
    border.extend((0..h).flat_map(|y| [img.get_pixel(0, y)[0], img.get_pixel(w - 1, y)[0]]));
    border.sort_unstable();
    border[border.len() / 2]
}

/// A background grey that is a page's (white or black paper) and may hold
/// gutters: a light picture's own background of 230-244 round its edges
/// (bright-field TEM) is no page, and a band of it between particles no
/// gutter.
fn is_page(bg: u8) -> bool {
    bg >= 245 || bg <= 25
}

struct Cutter<'a> {
    img: &'a GrayImage,
    bg: u8,
}

impl Cutter<'_> {
    fn is_bg(&self, x: u32, y: u32) -> bool {
        (self.img.get_pixel(x, y)[0] as i16 - self.bg as i16).abs() <= TOLERANCE
    }

    /// Blank lines along one axis of `r`: `rows` true = each row of the box.
    fn blank(&self, r: [u32; 4], rows: bool) -> Vec<bool> {
        self.lines(r, rows, 200)
    }

    /// Lines along one axis with at most 1/`per` of their pixels content.
    fn lines(&self, r: [u32; 4], rows: bool, per: u32) -> Vec<bool> {
        let (outer, inner) = if rows { (r[1]..r[3], r[0]..r[2]) } else { (r[0]..r[2], r[1]..r[3]) };
        outer
            .map(|o| {
                let (inner, mut content) = (inner.clone(), 0u32);
                let len = inner.len() as u32;
                for i in inner {
                    let (x, y) = if rows { (i, o) } else { (o, i) };
                    if !self.is_bg(x, y) {
                        content += 1;
                    }
                }
                // A stray pixel or two (JPEG ringing) does not break a gutter.
                content <= len / per
            })
            .collect()
    }

    /// Trims `r` to its content; `None` when it is all background.
    fn trim(&self, r: [u32; 4]) -> Option<[u32; 4]> {
        let rows = self.blank(r, true);
        let cols = self.blank(r, false);
        let y0 = rows.iter().position(|b| !b)? as u32;
        let y1 = rows.len() as u32 - rows.iter().rev().position(|b| !b)? as u32;
        let x0 = cols.iter().position(|b| !b)? as u32;
        let x1 = cols.len() as u32 - cols.iter().rev().position(|b| !b)? as u32;
        Some([r[0] + x0, r[1] + y0, r[0] + x1, r[1] + y1])
    }

    /// Pieces of `r` between gutters at least `min_gap` wide along one axis.
    /// A gutter crossed by thin lines (zoom indicators drawn from one
    /// micrograph to the next) counts when it is half as wide again and every
    /// piece it leaves is a micrograph.
    fn pieces(&self, r: [u32; 4], rows: bool, min_gap: usize) -> Vec<[u32; 4]> {
        let strict = self.pieces_with(r, rows, min_gap, &self.blank(r, rows));
        if strict.len() > 1 {
            return strict;
        }
        let crossed = self.pieces_with(r, rows, min_gap * 3 / 2, &self.lines(r, rows, 12));
        let trimmed: Vec<[u32; 4]> = crossed.iter().filter_map(|p| self.trim(*p)).collect();
        if trimmed.len() > 1 && trimmed.iter().all(|p| self.is_micrograph(*p)) {
            return crossed;
        }
        strict
    }

    fn pieces_with(&self, r: [u32; 4], rows: bool, min_gap: usize, blank: &[bool]) -> Vec<[u32; 4]> {
        let start = if rows { r[1] } else { r[0] };
        let mut out = Vec::new();
        let mut seg_start: Option<usize> = None;
        let mut gap = 0usize;
        for (i, &b) in blank.iter().chain(std::iter::repeat_n(&true, min_gap)).enumerate() {
            if b {
                gap += 1;
                if gap == min_gap {
                    if let Some(s) = seg_start.take() {
                        let e = i + 1 - min_gap;
                        out.push(if rows {
                            [r[0], start + s as u32, r[2], start + e as u32]
                        } else {
                            [start + s as u32, r[1], start + e as u32, r[3]]
                        });
                    }
                }
            } else {
                if seg_start.is_none() {
                    seg_start = Some(i);
                }
                gap = 0;
            }
        }
        out
    }

    fn cut(&self, r: [u32; 4], depth: usize, out: &mut Vec<[u32; 4]>) {
        let Some(r) = self.trim(r) else { return };
        if r[2] - r[0] < MIN_SIDE || r[3] - r[1] < MIN_SIDE {
            return;
        }
        let min_gap = ((self.img.width().max(self.img.height()) / 150) as usize).max(3);
        if depth < 8 {
            for rows in [true, false] {
                let pieces = self.pieces(r, rows, min_gap);
                if pieces.len() > 1 {
                    for p in pieces {
                        self.cut(p, depth + 1, out);
                    }
                    return;
                }
            }
        }
        out.push(r);
    }

    /// Texture fills the box: little flat paper (pixels of the page colour
    /// equal to their neighbours, as in plots and schemes) and real contrast.
    /// Micrograph backgrounds, however light, carry noise: where most of the
    /// box is of the page's colour (particles on a bright-field TEM
    /// background), a third or more of those pixels are not flat, against a
    /// fifth at most on the plots and schemes of the benchmark's figures.
    fn is_micrograph(&self, r: [u32; 4]) -> bool {
        let (w, h) = (r[2] - r[0], r[3] - r[1]);
        if w < 48 || h < 48 {
            return false;
        }
        let n = ((w - 1) * (h - 1)) as f64;
        // Pixels of the page's colour, and those of them that are flat.
        let (mut coloured, mut paper) = (0u32, 0u32);
        let (mut sum, mut sq) = (0f64, 0f64);
        for y in r[1]..r[3] - 1 {
            for x in r[0]..r[2] - 1 {
                let v = self.img.get_pixel(x, y)[0];
                let (right, below) = (self.img.get_pixel(x + 1, y)[0], self.img.get_pixel(x, y + 1)[0]);
                let flat = v.abs_diff(right) <= 2 && v.abs_diff(below) <= 2;
                let is_paper = if is_page(self.bg) {
                    // On a white (black) page only white (black) is paper: a STEM
                    // image's black vacuum on a white page is not.
                    v.abs_diff(self.bg) <= 20
                } else {
                    // On a page of another colour (often the picture's own
                    // border) paper is pure white or black: a light
                    // picture's background of 235-244 is not.
                    !(11..245).contains(&v)
                };
                coloured += u32::from(is_paper);
                paper += u32::from(flat && is_paper);
                sum += v as f64;
                sq += (v as f64).powi(2);
            }
        }
        let sd = (sq / n - (sum / n).powi(2)).max(0.0).sqrt();
        let (paper, coloured) = (paper as f64, coloured as f64);
        // Flat black is half of many a dark-field or STEM picture (the
        // vacuum around its particles) and seldom the page of a plot.
        let most = if self.bg <= 25 { 0.5 } else { 0.35 };
        (paper < most * n || paper < 0.7 * coloured) && sd > 8.0
    }
}

/// How labels are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Ask the `tesseract` program (when installed) for labels the glyph
    /// reader does not read with confidence.
    pub tesseract: bool,
}

/// Below this confidence a glyph reading is handed to Tesseract when enabled.
const TRUSTED: f64 = 0.25;

/// Splits a figure (or a single panel) into panels, reading labels with the
/// built-in glyph reader only.
pub fn panels(img: &GrayImage) -> Vec<Panel> {
    panels_with(img, &Options::default(), &Vector::default())
}

/// Splits a figure (or a single panel) into panels; `vector` is what the
/// document draws over it.
pub fn panels_with(img: &GrayImage, options: &Options, vector: &Vector) -> Vec<Panel> {
    let (w, h) = img.dimensions();
    if w < MIN_SIDE || h < MIN_SIDE {
        return Vec::new();
    }
    let cutter = Cutter { img, bg: background(img) };
    let mut boxes = Vec::new();
    // Gutters are paper white or black; a grey border is the micrograph's own background.
    if is_page(cutter.bg) {
        cutter.cut([0, 0, w, h], 0, &mut boxes);
    }
    if boxes.is_empty() {
        // Edge-to-edge content: the whole image is one panel.
        boxes.push([0, 0, w, h]);
    }
    boxes
        .into_iter()
        .map(|b| {
            let micrograph = cutter.is_micrograph(b);
            let databar = micrograph.then(|| databar_of(img, b)).flatten();
            let in_image = micrograph.then(|| scale_bar_of(img, b, options)).flatten();
            let stated = micrograph.then(|| vector_scale_bar(vector, b, in_image.as_ref())).flatten();
            // A label the document states as text wins; else the data bar's
            // own scale bar, printed by the instrument: where no bar was found,
            // or the label of the bar found (the same bar) was not read.
            let scale_bar = stated.or_else(|| match (in_image, databar.as_ref().and_then(databar_scale)) {
                (None, printed) => printed,
                (Some(found), Some(printed)) if found.value.is_none() && same_bar(found.bbox, printed.bbox) => {
                    Some(ScaleBar { bbox: found.bbox, length_px: found.length_px, ..printed })
                }
                (found, _) => found,
            });
            let children = if micrograph { insets(img, &cutter, b, options) } else { Vec::new() };
            // A frame line of an inset is no scale bar of the panel.
            let scale_bar =
                scale_bar.filter(|s| s.source != "ocr" || !children.iter().any(|c| on_frame(s.bbox, c.bbox)));
            Panel { bbox: b, micrograph, nm_per_px: nm_per_px(scale_bar.as_ref()), scale_bar, databar, children }
        })
        .collect()
}

/// The scale bar of a picture taken whole as one micrograph (a label crop),
/// found and read as a panel's is.
pub fn scale_bar(img: &GrayImage, options: &Options) -> Option<ScaleBar> {
    let (w, h) = img.dimensions();
    (w > 0 && h > 0).then(|| scale_bar_of(img, [0, 0, w, h], options)).flatten()
}

fn nm_per_px(s: Option<&ScaleBar>) -> Option<f64> {
    let s = s?;
    Some(ocr::nm(s.value?, s.unit.as_deref()?) / s.length_px)
}

/// The framed insets of panel `b` that are pictures (a framed box of flat
/// paper is a label), each with its own scale bar when it has one.
fn insets(img: &GrayImage, cutter: &Cutter, b: [u32; 4], options: &Options) -> Vec<Panel> {
    inset::find(img, b)
        .into_iter()
        .filter(|c| cutter.is_micrograph(*c))
        .map(|c| {
            let scale_bar = scale_bar_of(img, c, options);
            Panel {
                bbox: c,
                micrograph: true,
                nm_per_px: nm_per_px(scale_bar.as_ref()),
                scale_bar,
                databar: None,
                children: Vec::new(),
            }
        })
        .collect()
}

/// A label belongs to a line that breaks a bar's rules only when it lies
/// right by it, no further off across or along than the label is high (a
/// label a few lines of text away is another line's), and is no more than
/// twice as high as the line is long (glyphs five times the height of a
/// 12-pixel fleck are texture read as text).
fn belongs(label: [u32; 4], line: [u32; 4]) -> bool {
    let dx = ocr::gap((label[0], label[2]), (line[0], line[2]));
    let dy = ocr::gap((label[1], label[3]), (line[1], line[3]));
    let high = label[3] - label[1];
    dx.max(dy) <= high && high <= 2 * (line[2] - line[0])
}

/// Two boxes share pixels.
fn overlap(a: [u32; 4], b: [u32; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// A box on or inside an inset's frame.
fn on_frame(bar: [u32; 4], inset: [u32; 4]) -> bool {
    let m = inset::SLACK;
    bar[0] + m >= inset[0] && bar[2] <= inset[2] + m && bar[1] + m >= inset[1] && bar[3] <= inset[3] + m
}

/// How many of the lines [`scalebar::Search::Unsure`] offers have their
/// label read (with [`belongs`] strict about where a line's label lies, a
/// few more than the first six: 6360a823da's outlined bar's white inside is
/// its eighth, 404b0836f1's white block, under four times as long as thick,
/// its tenth after the thin rims of spheres)...
const UNSURE_TRIES: usize = 10;
/// ...and how sure that reading must be (a reading through the label
/// grammar is [`ocr::DECODED`]). The label must also lie clear of the line
/// (a line through text is a stroke of it) and [`belongs`] to it.
const UNSURE_LABEL: f64 = 0.15;

fn scale_bar_of(img: &GrayImage, b: [u32; 4], options: &Options) -> Option<ScaleBar> {
    let crop = image::imageops::crop_imm(img, b[0], b[1], b[2] - b[0], b[3] - b[1]).to_image();
    // A bar by the rules; else a line that breaks one of them but has a
    // label beside it that names a length.
    let (bar, label) = match scalebar::search(&crop) {
        scalebar::Search::Bar(bar) => {
            let label = ocr::read(&crop, &bar);
            (bar, label)
        }
        scalebar::Search::Unsure(lines) => {
            let labelled: Vec<(scalebar::Bar, ocr::Label)> = lines
                .iter()
                .take(UNSURE_TRIES)
                .filter_map(|bar| {
                    let label = ocr::read(&crop, bar).filter(|l| {
                        l.names_a_bar()
                            && l.confidence >= UNSURE_LABEL
                            && !overlap(l.bbox, bar.bbox)
                            && belongs(l.bbox, bar.bbox)
                    })?;
                    Some((joined(bar, &label, &lines), label))
                })
                .collect();
            // Halves of one bar round their label outweigh any single line
            // with a label beside it (48f3a148f6's '1 um' cuts its bar in
            // two, and is beside its black strip's top edge too).
            let pick = labelled.iter().position(|(bar, _)| !lines.contains(bar)).unwrap_or(0);
            let (bar, label) = labelled.into_iter().nth(pick)?;
            (bar, Some(label))
        }
    };
    let shift = |r: [u32; 4]| [r[0] + b[0], r[1] + b[1], r[2] + b[0], r[3] + b[1]];
    let trusted = label.as_ref().is_some_and(|l| l.value.is_some() && l.confidence >= TRUSTED);
    if options.tesseract && !trusted {
        if let Some((value, unit)) = ocr::tesseract(&crop, bar.bbox) {
            return Some(ScaleBar {
                value: Some(value),
                unit: Some(unit),
                text: None,
                label_bbox: None,
                bbox: shift(bar.bbox),
                length_px: bar.length_px,
                source: "tesseract",
                confidence: 0.5,
            });
        }
    }
    Some(ScaleBar {
        value: label.as_ref().and_then(|l| l.value),
        unit: label.as_ref().and_then(|l| l.unit.clone()),
        text: label.as_ref().map(|l| l.text.clone()),
        label_bbox: label.as_ref().map(|l| shift(l.bbox)),
        bbox: shift(bar.bbox),
        length_px: bar.length_px,
        source: "ocr",
        confidence: label.as_ref().map_or(0.0, |l| l.confidence),
    })
}

/// The widest stroke of a label that may cross its bar.
const CROSSING: u32 = 6;

/// A line and its label on the line's rows, joined with a line of the same
/// grey on the label's other side when the two are halves of one bar
/// printed round it ([`databar::halves_round`], as the data bar's halves
/// are joined); or a line and a label over or under it that reaches within
/// two rows of it, joined with a line of the same grey on the same rows at
/// most [`CROSSING`] pixels off its end, under the label (halves of one bar
/// a stroke of the label crosses). The length runs from one half's outer
/// end to the other's.
fn joined(bar: &scalebar::Bar, label: &ocr::Label, lines: &[scalebar::Bar]) -> scalebar::Bar {
    let ([x0, y0, x1, y1], l) = (bar.bbox, label.bbox);
    let on_rows = y0 < l[3] && l[1] < y1;
    // A stroke of the label crossing the bar cuts it in two where the
    // label stands over or under it (2bc87a8698's µ descender): the halves
    // meet under the label's columns, a stroke's width apart.
    let touches = l[3] + 2 >= y0 && l[1] <= y1 + 2;
    let crossed = |o: &scalebar::Bar| {
        let (a, b) = if o.bbox[0] > x0 { (x1, o.bbox[0]) } else { (o.bbox[2], x0) };
        b >= a && b - a <= CROSSING && a >= l[0] && b <= l[2]
    };
    let other = lines.iter().filter(|o| o.light == bar.light && o.bbox[1] < y1 && y0 < o.bbox[3]).find(|o| {
        (on_rows && (databar::halves_round(bar.bbox, o.bbox, l) || databar::halves_round(o.bbox, bar.bbox, l)))
            || (!on_rows && touches && crossed(o))
    });
    let Some(other) = other else { return bar.clone() };
    let (left, right) = if other.bbox[0] > x0 { (bar, other) } else { (other, bar) };
    // Each half's box is wider than its length by its two blurred ends.
    let blur = |b: &scalebar::Bar| ((b.bbox[2] - b.bbox[0]) as f64 - b.length_px) / 2.0;
    scalebar::Bar {
        bbox: [left.bbox[0], y0.min(other.bbox[1]), right.bbox[2], y1.max(other.bbox[3])],
        length_px: (right.bbox[2] - left.bbox[0]) as f64 - blur(left) - blur(right),
        light: bar.light,
    }
}

/// A scale bar whose label the document draws as text within panel `b`:
/// its bar is the rule drawn nearest the label, else the bar `found` in the
/// pixels when the label sits over, under or beside it.
fn vector_scale_bar(v: &Vector, b: [u32; 4], found: Option<&ScaleBar>) -> Option<ScaleBar> {
    let inside = |r: &[f64; 4]| {
        let (cx, cy) = ((r[0] + r[2]) / 2.0, (r[1] + r[3]) / 2.0);
        cx >= b[0] as f64 && cx < b[2] as f64 && cy >= b[1] as f64 && cy < b[3] as f64
    };
    for t in v.texts.iter().filter(|t| inside(&t.bbox)) {
        let Some((value, unit)) = ocr::parse(&t.text) else { continue };
        let l = t.bbox;
        let h = l[3] - l[1];
        // Within three label heights, no thicker than the label, not under it.
        let near = |r: &[f64; 4]| {
            let dy = (r[1] - l[3]).max(l[1] - r[3]).max(0.0);
            let dx = (r[0] - l[2]).max(l[0] - r[2]).max(0.0);
            let cx = (l[0] + l[2]) / 2.0;
            let over_under = cx > r[0] - h && cx < r[2] + h && dy <= 3.0 * h;
            let beside = dy == 0.0 && dx <= 3.0 * h;
            let covered = dx == 0.0 && dy == 0.0;
            (over_under || beside) && !covered && r[3] - r[1] <= h
        };
        let gap = |r: &&[f64; 4]| {
            let (dx, dy) = ((r[0] + r[2] - l[0] - l[2]) / 2.0, (r[1] + r[3] - l[1] - l[3]) / 2.0);
            dx * dx + dy * dy
        };
        // A rule with length (a point, or a NaN box, is none).
        let long = |r: &&[f64; 4]| r[2] - r[0] > 0.0;
        let rule = v.rules.iter().filter(|r| long(r) && inside(r) && near(r)).min_by(|a, b| gap(a).total_cmp(&gap(b)));
        let (bbox, length_px) = match (rule, found) {
            (Some(r), _) => (pixels(*r), r[2] - r[0]),
            (None, Some(f)) if near(&f.bbox.map(f64::from)) => (f.bbox, f.length_px),
            _ => continue,
        };
        return Some(ScaleBar {
            value: Some(value),
            unit: Some(unit),
            text: Some(t.text.clone()),
            label_bbox: Some(pixels(l)),
            bbox,
            length_px,
            source: "vector-text",
            confidence: VECTOR_CONFIDENCE,
        });
    }
    None
}

/// The pixels a box covers.
fn pixels(r: [f64; 4]) -> [u32; 4] {
    [r[0].floor(), r[1].floor(), r[2].ceil(), r[3].ceil()].map(|v| v.max(0.0) as u32)
}

/// The scale bar a data bar prints, as a panel's scale bar.
fn databar_scale(d: &Databar) -> Option<ScaleBar> {
    let s = d.text.scale_bar.as_ref()?;
    Some(ScaleBar {
        value: Some(s.value),
        unit: Some(s.unit.clone()),
        text: None,
        label_bbox: None,
        bbox: s.bbox,
        length_px: s.length_px,
        source: "databar",
        // Printed by the instrument on a flat bar: misread far less often
        // than a label on the micrograph.
        confidence: 0.9,
    })
}

/// Two boxes of one horizontal bar: most of each one's width is shared and
/// their rows meet.
fn same_bar(a: [u32; 4], b: [u32; 4]) -> bool {
    let shared = a[2].min(b[2]).saturating_sub(a[0].max(b[0]));
    shared * 5 >= (a[2] - a[0]).max(b[2] - b[0]) * 4 && a[1] <= b[3] && b[1] <= a[3]
}

fn databar_of(img: &GrayImage, b: [u32; 4]) -> Option<Databar> {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    let pixels: Vec<u8> =
        (b[1]..b[3]).flat_map(|y| (b[0]..b[2]).map(move |x| (x, y))).map(|(x, y)| img.get_pixel(x, y)[0]).collect();
    let rows = archive::databar::detect(&Gray8 { width: w, height: h, pixels })?;
    let bbox = [b[0], b[3] - rows, b[2], b[3]];
    Some(Databar { rows, bbox, text: databar::read(img, bbox) })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Paints `xs × ys` one grey (for the figure module's tests).
    pub(crate) fn fill(img: &mut GrayImage, xs: std::ops::Range<u32>, ys: std::ops::Range<u32>, v: u8) {
        for y in ys {
            for x in xs.clone() {
                img.put_pixel(x, y, image::Luma([v]));
            }
        }
    }

    #[test]
    fn halves_round_their_label_are_one_bar() {
        let line = |x0, x1, light| scalebar::Bar { bbox: [x0, 507, x1, 508], length_px: (x1 - x0) as f64 - 1.0, light };
        let label = ocr::Label {
            value: Some(2.0),
            unit: Some("µm".into()),
            text: "2 um".into(),
            confidence: 0.5,
            bbox: [594, 503, 620, 512],
        };
        let (left, right) = (line(533, 589, true), line(625, 683, true));
        let bar = joined(&right, &label, &[right.clone(), left.clone()]);
        assert_eq!(bar.bbox, [533, 507, 683, 508]);
        assert!((bar.length_px - 149.0).abs() < 1e-9, "{bar:?}");
        // Not a half of another grey, of another length or far beyond the label.
        for other in [line(533, 589, false), line(560, 589, true), line(500, 556, true)] {
            assert_eq!(joined(&right, &label, &[other]), right);
        }
        // A label over the line, not on its rows, has no halves round it.
        let over = ocr::Label { bbox: [594, 490, 620, 500], ..label };
        assert_eq!(joined(&right, &over, &[left]), right);
    }

    #[test]
    fn halves_a_label_stroke_crosses_are_one_bar() {
        // 2bc87a8698: "1 µm" over a one-row bar whose µ descender reaches
        // down through it, cutting it at columns 292-297.
        let line = |x0, x1| scalebar::Bar { bbox: [x0, 507, x1, 508], length_px: (x1 - x0) as f64 - 1.0, light: true };
        let label = ocr::Label {
            value: Some(1.0),
            unit: Some("µm".into()),
            text: "1 um".into(),
            confidence: 0.47,
            bbox: [271, 490, 324, 505],
        };
        let (left, right) = (line(248, 292), line(297, 346));
        let bar = joined(&right, &label, &[right.clone(), left.clone()]);
        assert_eq!(bar.bbox, [248, 507, 346, 508]);
        assert!((bar.length_px - 97.0).abs() < 1e-9, "{bar:?}");
        // A label well over the bar reaches no stroke through it
        // (707120d0f5's "100 nm" over a bar of one half and a speck's gap);
        // nor are lines further apart than a stroke one bar.
        let over = ocr::Label { bbox: [271, 470, 324, 490], ..label.clone() };
        assert_eq!(joined(&right, &over, &[left]), right);
        assert_eq!(joined(&right, &label, &[line(248, 288)]), right);
    }

    #[test]
    fn a_label_belongs_to_the_line_beside_it() {
        // 6a291d0bb4: "50 nm" 32 px high, 53 px under a bright fleck that
        // breaks a bar's rules, is not that fleck's label; under a line, over
        // one, or on its rows to its right, a label that close is.
        let label = [17, 418, 154, 450];
        assert!(!belongs(label, [77, 361, 93, 365]));
        assert!(belongs(label, [27, 473, 143, 481]));
        assert!(belongs(label, [27, 400, 143, 404]));
        assert!(belongs(label, [180, 430, 260, 434]));
        assert!(!belongs(label, [200, 430, 280, 434]));
        // 6752c27137: texture read as a 61-px "4µm" under a 12-px fleck; a
        // 16-px bracket's 17-px "100 nm" (4cd9e65aae) is its label.
        assert!(!belongs([226, 428, 360, 489], [251, 403, 263, 404]));
        assert!(belongs([591, 481, 665, 498], [561, 491, 577, 494]));
    }

    /// A 2×2 grid of noisy "micrographs" with white gutters, and a plot.
    fn grid(bg: u8) -> GrayImage {
        let mut seed = 1u32;
        GrayImage::from_fn(400, 300, |x, y| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = (seed >> 16) as u8 / 2;
            let in_panel = |x0: u32, y0: u32| x >= x0 && x < x0 + 180 && y >= y0 && y < y0 + 130;
            if in_panel(10, 10) || in_panel(210, 10) || in_panel(10, 160) {
                image::Luma([60 + noise])
            } else if (210..390).contains(&x) && (160..290).contains(&y) && (y == 280 || x == 220) {
                image::Luma([255 - bg]) // plot axes
            } else {
                image::Luma([bg])
            }
        })
    }

    #[test]
    fn splits_white_and_black_gutters() {
        for bg in [255, 0] {
            let p = panels(&grid(bg));
            let boxes: Vec<[u32; 4]> = p.iter().map(|p| p.bbox).collect();
            assert!(boxes.contains(&[10, 10, 190, 140]), "{bg}: {boxes:?}");
            assert!(boxes.contains(&[210, 10, 390, 140]));
            assert!(boxes.contains(&[10, 160, 190, 290]));
            assert_eq!(p.iter().filter(|p| p.micrograph).count(), 3, "{bg}: the axes are not a micrograph");
        }
    }

    #[test]
    fn degenerate_pictures_and_overlays_never_panic() {
        // Noise, flat pages, slivers and a picture full of frames, each with
        // an overlay of nonsense: text that is no length, an empty and a
        // NaN box, rules off the picture.
        let vector = Vector {
            texts: vec![
                VectorText { text: "500 nm".into(), bbox: [f64::NAN, 5.0, 30.0, 12.0] },
                VectorText { text: String::new(), bbox: [0.0; 4] },
                VectorText { text: "5 nm".into(), bbox: [10.0, 10.0, 20.0, 18.0] },
            ],
            rules: vec![[-50.0, -5.0, 1e9, 1e9], [15.0, 20.0, 15.0, 20.0], [f64::NAN; 4]],
        };
        let mut seed = 7u32;
        let noise = GrayImage::from_fn(200, 150, |_, _| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            image::Luma([(seed >> 16) as u8])
        });
        let mut frames = GrayImage::from_pixel(200, 150, image::Luma([90]));
        for k in 0..6 {
            fill(&mut frames, 5 + 10 * k..195 - 10 * k, 5 + 10 * k..6 + 10 * k, 255);
            fill(&mut frames, 5 + 10 * k..6 + 10 * k, 5 + 10 * k..145 - 10 * k, 255);
        }
        for img in [noise, frames, GrayImage::new(200, 150), GrayImage::new(300, 3), GrayImage::new(3, 300)] {
            for p in panels_with(&img, &Options::default(), &vector) {
                let b = p.bbox;
                assert!(b[2] <= img.width() && b[3] <= img.height(), "{b:?}");
                assert!(p.nm_per_px.is_none_or(f64::is_finite), "{p:?}");
            }
        }
    }

    /// The whole picture, classified as one box on its own background.
    fn whole_is_micrograph(img: &GrayImage) -> bool {
        Cutter { img, bg: background(img) }.is_micrograph([0, 0, img.width(), img.height()])
    }

    #[test]
    fn particles_on_a_bright_field_background() {
        // A few dark particles on a near-white box: with the background's
        // noise a micrograph, drawn flat a scheme of dots.
        let particles = |noise: u32| {
            let mut seed = 3u32;
            GrayImage::from_fn(200, 160, |x, y| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let inside = [(50, 40), (140, 70), (80, 120)]
                    .iter()
                    .any(|&(cx, cy): &(i32, i32)| (x as i32 - cx).pow(2) + (y as i32 - cy).pow(2) < 15 * 15);
                image::Luma([if inside { 40 } else { 248 - ((seed >> 16) % (noise + 1)) as u8 }])
            })
        };
        assert!(whole_is_micrograph(&particles(4)));
        assert!(!whole_is_micrograph(&particles(0)));
    }

    #[test]
    fn particles_in_a_dark_field() {
        // A textured grey cluster over 57% of a flat black box (the vacuum
        // of a STEM picture) is a micrograph; white curves on black are not.
        let mut seed = 5u32;
        let stem = GrayImage::from_fn(200, 160, |x, y| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let (dx, dy) = ((x as f64 - 100.0) / 90.0, (y as f64 - 80.0) / 65.0);
            image::Luma([if dx * dx + dy * dy >= 1.0 { 0 } else { 120 + ((seed >> 16) % 60) as u8 }])
        });
        let plot = GrayImage::from_fn(200, 160, |x, y| {
            let curve = (y as i32 - 80 - ((x as f64 / 12.0).sin() * 40.0) as i32).abs() < 2;
            image::Luma([if curve || x == 10 || y == 150 { 255 } else { 0 }])
        });
        assert!(whole_is_micrograph(&stem));
        assert!(!whole_is_micrograph(&plot));
    }

    #[test]
    fn a_smooth_light_picture_on_its_own_border() {
        // A clean bright-field picture, smooth enough to be flat pixel to
        // pixel: its border (the "page") is its own light grey, and two
        // fifths of it is 235 or lighter, mostly under 245. That is the
        // picture's background, not paper; a plot's pure white on a grey
        // page still is.
        let vignette = GrayImage::from_fn(200, 160, |x, y| {
            let (dx, dy) = ((x as f64 - 100.0) / 100.0, (y as f64 - 80.0) / 80.0);
            let particle = [(60.0, 50.0), (140.0, 100.0), (90.0, 120.0)]
                .iter()
                .any(|&(cx, cy): &(f64, f64)| (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2) < 225.0);
            let grey = 222.0 + 28.0 * (1.0 - dx * dx - dy * dy);
            image::Luma([if particle { 40 } else { grey.max(200.0) as u8 }])
        });
        let plot = GrayImage::from_fn(200, 160, |x, y| {
            let framed = !(10..190).contains(&x) || !(10..150).contains(&y);
            let curve = (y as i32 - 80 - ((x as f64 / 12.0).sin() * 40.0) as i32).abs() < 2;
            image::Luma([if framed {
                200
            } else if curve {
                0
            } else {
                255
            }])
        });
        assert!(whole_is_micrograph(&vignette));
        assert!(!whole_is_micrograph(&plot));
    }

    #[test]
    fn a_single_panel_is_itself() {
        let img = GrayImage::from_fn(100, 80, |x, y| image::Luma([((x * 37 + y * 91) % 200) as u8 + 20]));
        let p = panels(&img);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].bbox, [0, 0, 100, 80]);
        assert!(p[0].micrograph);
    }
}
