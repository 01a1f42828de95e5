//! Vector marks a page draws over its images: text (decoded to Unicode and
//! placed by the text state, ISO 32000-1 §9.4) and rules (thin filled
//! rectangles and horizontal stroked lines). A scale bar and its label are
//! often drawn this way over a raster micrograph; [`crate::figure`] reads
//! them back in the image's pixels.

use std::collections::HashMap;

use lopdf::{Dictionary, Document, Encoding, Object};

use super::{mul, point, span, Matrix, IDENTITY};
use crate::extract::{Image, Role};
use crate::figure::{Vector, VectorText};

/// A mark on a page, in PDF points (y up).
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// Text shown on one baseline.
    Text {
        /// 1-based page.
        page: u32,
        /// Decoded to Unicode.
        text: String,
        /// `[x0, y0, x1, y1]`, descender to cap height.
        bbox: [f64; 4],
        /// The height of its first piece (pieces of one size join).
        size: f64,
    },
    /// A thin rectangle or line (a drawn scale bar, an axis, an underline).
    Rule {
        /// 1-based page.
        page: u32,
        /// `[x0, y0, x1, y1]`.
        bbox: [f64; 4],
    },
}

impl Mark {
    fn page(&self) -> u32 {
        match self {
            Mark::Text { page, .. } | Mark::Rule { page, .. } => *page,
        }
    }

    fn bbox(&self) -> [f64; 4] {
        match self {
            Mark::Text { bbox, .. } | Mark::Rule { bbox, .. } => *bbox,
        }
    }
}

/// Gives each picture the marks drawn over it (over the first of its
/// placements that has any), in its own pixels, y down.
pub fn overlay(images: &mut [Image], marks: &[Mark]) {
    for img in images.iter_mut().filter(|i| matches!(i.role, Role::Image | Role::Figure) && i.width > 0) {
        for p in &img.placements {
            let b = p.bbox.map(f64::from);
            let (pw, ph) = (b[2] - b[0], b[3] - b[1]);
            if pw <= 0.0 || ph <= 0.0 {
                continue;
            }
            let (sx, sy) = (f64::from(img.width) / pw, f64::from(img.height) / ph);
            let to_px = |m: [f64; 4]| [(m[0] - b[0]) * sx, (b[3] - m[3]) * sy, (m[2] - b[0]) * sx, (b[3] - m[1]) * sy];
            let over = |m: &&Mark| {
                let r = m.bbox();
                let (cx, cy) = ((r[0] + r[2]) / 2.0, (r[1] + r[3]) / 2.0);
                m.page() == p.page && r[0] < r[2] && cx > b[0] && cx < b[2] && cy > b[1] && cy < b[3]
            };
            let mut v = Vector::default();
            for m in marks.iter().filter(over) {
                match m {
                    Mark::Text { text, bbox, .. } => {
                        v.texts.push(VectorText { text: text.trim().to_string(), bbox: to_px(*bbox) })
                    }
                    Mark::Rule { bbox, .. } => v.rules.push(to_px(*bbox)),
                }
            }
            if !v.texts.is_empty() || !v.rules.is_empty() {
                img.vector = v;
                break;
            }
        }
    }
}

/// Glyph widths of a font, in thousandths of text space.
enum Widths {
    /// A simple font: `/FirstChar` and `/Widths`.
    Simple { first: u32, widths: Vec<f64>, missing: f64 },
    /// A composite font's descendant: `/DW` and `/W`.
    Cid { default: f64, map: HashMap<u32, f64> },
}

/// What the text state needs of a font.
pub struct Font<'a> {
    encoding: Option<Encoding<'a>>,
    /// Two-byte codes (Type 0 fonts).
    composite: bool,
    widths: Widths,
    /// Glyph space to text space (`/FontMatrix` of a Type 3 font, else 1/1000).
    scale: f64,
}

fn numbers(doc: &Document, o: Option<&Object>) -> Vec<f64> {
    let Some(o) = o.and_then(|o| doc.dereference(o).ok()).map(|(_, o)| o) else { return Vec::new() };
    o.as_array().map(|a| a.iter().filter_map(|v| v.as_float().ok()).map(f64::from).collect()).unwrap_or_default()
}

impl<'a> Font<'a> {
    /// Reads a font dictionary; what cannot be read falls back to plain
    /// Latin-1 codes and an average glyph width.
    pub fn new(doc: &'a Document, font: &'a Dictionary, limit: usize) -> Font<'a> {
        let subtype = font.get(b"Subtype").ok().and_then(|o| o.as_name().ok()).unwrap_or(b"");
        let composite = subtype == b"Type0";
        let encoding = font.get_font_encoding_with_limit(doc, limit).ok();
        let fm = numbers(doc, font.get(b"FontMatrix").ok());
        let scale = if subtype == b"Type3" && fm.len() == 6 { fm[0] } else { 0.001 };
        let base = font.get(b"BaseFont").ok().and_then(|o| o.as_name().ok()).unwrap_or(b"");
        // The standard 14 fonts need no widths: their digits' widths.
        let average = if base.starts_with(b"Courier") {
            600.0
        } else if base.starts_with(b"Times") {
            500.0
        } else {
            556.0
        };
        let widths = if composite {
            let descendant = font
                .get(b"DescendantFonts")
                .ok()
                .and_then(|o| doc.dereference(o).ok())
                .and_then(|(_, o)| o.as_array().ok())
                .and_then(|a| a.first())
                .and_then(|o| doc.dereference(o).ok())
                .and_then(|(_, o)| o.as_dict().ok());
            let default =
                descendant.and_then(|d| d.get(b"DW").ok()).and_then(|o| o.as_float().ok()).map_or(1000.0, f64::from);
            let mut map = HashMap::new();
            if let Some(w) = descendant
                .and_then(|d| d.get(b"W").ok())
                .and_then(|o| doc.dereference(o).ok())
                .and_then(|(_, o)| o.as_array().ok())
            {
                let mut i = 0;
                while i + 1 < w.len() && map.len() < 65536 {
                    let Ok(first) = w[i].as_i64() else { break };
                    match doc.dereference(&w[i + 1]).map(|(_, o)| o) {
                        Ok(Object::Array(list)) => {
                            for (k, v) in list.iter().enumerate() {
                                if let Ok(v) = v.as_float() {
                                    map.insert(first as u32 + k as u32, f64::from(v));
                                }
                            }
                            i += 2;
                        }
                        Ok(last) => {
                            let (Ok(last), Some(Ok(v))) = (last.as_i64(), w.get(i + 2).map(Object::as_float)) else {
                                break;
                            };
                            for c in first..=last.min(first + 65535) {
                                map.insert(c as u32, f64::from(v));
                            }
                            i += 3;
                        }
                        Err(_) => break,
                    }
                }
            }
            Widths::Cid { default, map }
        } else {
            let first = font.get(b"FirstChar").ok().and_then(|o| o.as_i64().ok()).unwrap_or(0).max(0) as u32;
            let missing = font
                .get(b"FontDescriptor")
                .ok()
                .and_then(|o| doc.dereference(o).ok())
                .and_then(|(_, o)| o.as_dict().ok())
                .and_then(|d| d.get(b"MissingWidth").ok())
                .and_then(|o| o.as_float().ok())
                .map(f64::from)
                .filter(|w| *w > 0.0)
                .unwrap_or(average);
            Widths::Simple { first, widths: numbers(doc, font.get(b"Widths").ok()), missing }
        };
        Font { encoding, composite, widths, scale }
    }

    fn codes<'b>(&self, bytes: &'b [u8]) -> impl Iterator<Item = u32> + 'b {
        let step = if self.composite { 2 } else { 1 };
        bytes.chunks(step).map(|c| c.iter().fold(0u32, |v, &b| v << 8 | u32::from(b)))
    }

    fn width(&self, code: u32) -> f64 {
        match &self.widths {
            Widths::Simple { first, widths, missing } => {
                code.checked_sub(*first).and_then(|i| widths.get(i as usize)).copied().unwrap_or(*missing)
            }
            Widths::Cid { default, map } => map.get(&code).copied().unwrap_or(*default),
        }
    }

    fn text(&self, bytes: &[u8]) -> String {
        match &self.encoding {
            Some(e) => e.bytes_to_string(bytes).unwrap_or_default(),
            None if !self.composite => bytes.iter().map(|&b| char::from(b)).collect(),
            None => String::new(),
        }
    }
}

/// The text parameters of the graphics state (§9.3).
#[derive(Clone, Copy)]
pub struct TextParams {
    pub size: f64,
    pub char_space: f64,
    pub word_space: f64,
    /// Horizontal scaling, 1 = 100%.
    pub scale: f64,
    pub leading: f64,
    pub rise: f64,
}

impl Default for TextParams {
    fn default() -> Self {
        TextParams { size: 0.0, char_space: 0.0, word_space: 0.0, scale: 1.0, leading: 0.0, rise: 0.0 }
    }
}

/// The text and line matrices of the text object being drawn.
pub struct TextObject {
    pub tm: Matrix,
    pub tlm: Matrix,
}

impl TextObject {
    pub fn new() -> Self {
        TextObject { tm: IDENTITY, tlm: IDENTITY }
    }

    /// `Td`: the start of the next line, offset from this one's.
    pub fn next_line(&mut self, tx: f64, ty: f64) {
        self.tlm = mul(&[1.0, 0.0, 0.0, 1.0, tx, ty], &self.tlm);
        self.tm = self.tlm;
    }

    /// `TJ`'s number: moves left by thousandths of text space.
    pub fn kern(&mut self, n: f64, p: &TextParams) {
        self.tm = mul(&[1.0, 0.0, 0.0, 1.0, -n / 1000.0 * p.size * p.scale, 0.0], &self.tm);
    }

    /// Shows a string: returns its text and its box in device space (when
    /// drawn upright), and moves past it.
    pub fn show(
        &mut self,
        bytes: &[u8],
        font: Option<&Font>,
        p: &TextParams,
        ctm: &Matrix,
    ) -> Option<(String, [f64; 4])> {
        let (text, advance) = match font {
            Some(f) => {
                let advance: f64 = f
                    .codes(bytes)
                    .map(|c| {
                        let space = if !f.composite && c == 32 { p.word_space } else { 0.0 };
                        (f.width(c) * f.scale * p.size + p.char_space + space) * p.scale
                    })
                    .sum();
                (f.text(bytes), advance)
            }
            None => (bytes.iter().map(|&b| char::from(b)).collect(), bytes.len() as f64 * 0.556 * p.size * p.scale),
        };
        let m = mul(&self.tm, ctm);
        self.tm = mul(&[1.0, 0.0, 0.0, 1.0, advance, 0.0], &self.tm);
        // Upright: no rotation or shear, not mirrored.
        let upright = m[0] > 0.0 && m[3] > 0.0 && m[1].abs() + m[2].abs() < 0.05 * (m[0] + m[3]);
        let text = text.trim_end_matches('\0').to_string();
        if !upright || text.trim().is_empty() || p.size == 0.0 {
            return None;
        }
        let (y0, y1) = (p.rise - 0.2 * p.size, p.rise + 0.75 * p.size);
        Some((text, span(&[point(&m, 0.0, y0), point(&m, advance, y1)])))
    }
}

/// Adds a shown string to the marks: it joins the last text when it
/// continues that text's baseline (a space where the gap is a word gap).
pub fn add_text(marks: &mut Vec<Mark>, page: u32, text: String, bbox: [f64; 4]) {
    let h = bbox[3] - bbox[1];
    if let Some(Mark::Text { page: p, text: t, bbox: b, size }) = marks.last_mut() {
        let gap = bbox[0] - b[2];
        let same_line = *p == page && (bbox[1] - b[1]).abs() < 0.25 * h && (h - *size).abs() < 0.25 * h;
        if same_line && gap > -0.3 * h && gap < 0.6 * h {
            if gap > 0.12 * h && !t.ends_with(' ') && !text.starts_with(' ') {
                t.push(' ');
            }
            t.push_str(&text);
            *b = [b[0].min(bbox[0]), b[1].min(bbox[1]), b[2].max(bbox[2]), b[3].max(bbox[3])];
            return;
        }
    }
    marks.push(Mark::Text { page, text, bbox, size: h });
}

/// The path being built, in device space.
#[derive(Default)]
pub struct Path {
    rects: Vec<[f64; 4]>,
    segments: Vec<[(f64, f64); 2]>,
    current: Option<(f64, f64)>,
    curved: bool,
}

/// A box at least three times as long as it is thick, horizontal.
fn thin(b: [f64; 4]) -> bool {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    w > 0.0 && h >= 0.0 && h * 3.0 <= w
}

impl Path {
    /// A path-construction operator (`m`, `l`, `re`, curves, `h`).
    pub fn build(&mut self, op: &[u8], nums: &[f64], ctm: &Matrix) {
        match (op, nums) {
            (b"m", [x, y]) => self.current = Some(point(ctm, *x, *y)),
            (b"l", [x, y]) => {
                let to = point(ctm, *x, *y);
                if let Some(from) = self.current {
                    if self.segments.len() < 64 {
                        self.segments.push([from, to]);
                    }
                }
                self.current = Some(to);
            }
            (b"re", [x, y, w, h]) => {
                let corners = [(*x, *y), (x + w, *y), (*x, y + h), (x + w, y + h)].map(|(x, y)| point(ctm, x, y));
                // Axis-aligned only (a rotated rectangle is no horizontal bar).
                if corners[0].0 == corners[2].0 || corners[0].1 == corners[2].1 {
                    self.rects.push(span(&corners));
                } else {
                    self.curved = true;
                }
                self.current = Some(point(ctm, *x, *y));
            }
            (b"c" | b"v" | b"y", _) => self.curved = true,
            _ => {}
        }
    }

    /// A painting operator: the thin rectangles filled, or the horizontal
    /// lines stroked `line` wide, become rules; the path ends.
    pub fn paint(&mut self, op: &[u8], line: f64, page: u32, marks: &mut Vec<Mark>) {
        let fill = matches!(op, b"f" | b"F" | b"f*" | b"B" | b"B*" | b"b" | b"b*");
        let stroke = matches!(op, b"S" | b"s" | b"B" | b"B*" | b"b" | b"b*");
        let path = std::mem::take(self);
        if path.curved {
            return;
        }
        let mut rules = Vec::new();
        if fill {
            rules.extend(path.rects.iter().copied().filter(|r| thin(*r)));
            // A rectangle drawn as four lines (as illustration programs write it).
            let axis = path.segments.iter().all(|[a, b]| a.0 == b.0 || a.1 == b.1);
            if path.rects.is_empty() && (3..=5).contains(&path.segments.len()) && axis {
                let pts: Vec<(f64, f64)> = path.segments.iter().flatten().copied().collect();
                rules.extend(Some(span(&pts)).filter(|r| thin(*r)));
            }
        }
        if stroke && path.rects.is_empty() {
            let half = (line / 2.0).max(0.25);
            for [a, b] in &path.segments {
                if (a.1 - b.1).abs() < 1e-3 * (a.0 - b.0).abs() {
                    rules.extend(Some([a.0.min(b.0), a.1 - half, a.0.max(b.0), a.1 + half]).filter(|r| thin(*r)));
                }
            }
        }
        marks.extend(rules.into_iter().map(|bbox| Mark::Rule { page, bbox }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kerned_runs_join_into_one_label() {
        let p = TextParams { size: 10.0, ..Default::default() };
        let mut t = TextObject::new();
        t.next_line(100.0, 50.0);
        let mut marks = Vec::new();
        for (bytes, kern) in [(&b"2"[..], -20.0), (b"00", -300.0), (b"nm", 0.0)] {
            let (text, bbox) = t.show(bytes, None, &p, &IDENTITY).unwrap();
            add_text(&mut marks, 1, text, bbox);
            t.kern(kern, &p);
        }
        let Mark::Text { text, bbox, .. } = &marks[0] else { panic!("{marks:?}") };
        assert_eq!(marks.len(), 1, "{marks:?}");
        assert_eq!(text, "200 nm", "a 0.3 em gap is a space, a 0.02 em kern is not");
        assert!((bbox[0] - 100.0).abs() < 1e-9 && (bbox[1] - 48.0).abs() < 1e-9, "{bbox:?}");
        // Another line lower down is another mark.
        t.next_line(0.0, -20.0);
        let (text, bbox) = t.show(b"a", None, &p, &IDENTITY).unwrap();
        add_text(&mut marks, 1, text, bbox);
        assert_eq!(marks.len(), 2);
    }

    #[test]
    fn broken_fonts_cost_only_their_text() {
        // A Type 0 font whose ToUnicode stream is garbage, whose /W mixes a
        // name in and claims four billion codes, and whose descendant is no
        // dictionary; a simple font whose /Widths is a string.
        let mut doc = Document::with_version("1.5");
        let junk = doc.add_object(lopdf::Stream::new(lopdf::dictionary! {}, b"begincmap <00 beginbfchar )(".to_vec()));
        let cid = doc.add_object(lopdf::dictionary! {
        "W" => vec![0.into(), 4_294_967_295i64.into(), 500.into(), "Foo".into(), 7.into()] });
        let type0 = lopdf::dictionary! { "Type" => "Font", "Subtype" => "Type0", "Encoding" => "Identity-H",
        "ToUnicode" => junk, "DescendantFonts" => vec![cid.into(), 3.into()] };
        let simple = lopdf::dictionary! { "Type" => "Font", "Subtype" => "TrueType", "FirstChar" => 40,
        "Widths" => Object::string_literal("wide"), "FontDescriptor" => 12 };
        let no_descendant = lopdf::dictionary! { "Subtype" => "Type0", "DescendantFonts" => 5 };
        let p = TextParams { size: 10.0, ..Default::default() };
        for dict in [&type0, &simple, &no_descendant] {
            let font = Font::new(&doc, dict, 1 << 20);
            let mut t = TextObject::new();
            // Whatever the text decodes to, the string is placed and passed.
            let before = t.tm;
            let _ = t.show(b"\x00\x01\x00\x02", Some(&font), &p, &IDENTITY);
            assert!(t.tm[4] > before[4], "the text matrix moves past the string");
        }
        // The claimed range is capped at 65,536 codes.
        let Widths::Cid { map, .. } = Font::new(&doc, &type0, 1 << 20).widths else { panic!("a Type 0 font") };
        assert!(map.len() <= 65_536);
    }

    #[test]
    fn rotated_text_is_not_placed() {
        let p = TextParams { size: 10.0, ..Default::default() };
        let mut t = TextObject::new();
        t.tm = [0.0, 1.0, -1.0, 0.0, 50.0, 50.0];
        assert_eq!(t.show(b"200 nm", None, &p, &IDENTITY), None);
    }

    #[test]
    fn thin_fills_and_horizontal_strokes_are_rules() {
        let mut marks = Vec::new();
        let ctm = [2.0, 0.0, 0.0, 2.0, 10.0, 10.0];
        let mut path = Path::default();
        path.build(b"re", &[0.0, 0.0, 30.0, 2.0], &ctm);
        path.build(b"re", &[0.0, 10.0, 30.0, 20.0], &ctm);
        path.paint(b"f", 1.0, 3, &mut marks);
        assert_eq!(marks, [Mark::Rule { page: 3, bbox: [10.0, 10.0, 70.0, 14.0] }], "the square is no rule");
        path.build(b"m", &[0.0, 0.0], &IDENTITY);
        path.build(b"l", &[40.0, 0.0], &IDENTITY);
        path.paint(b"S", 3.0, 3, &mut marks);
        assert_eq!(marks[1], Mark::Rule { page: 3, bbox: [0.0, -1.5, 40.0, 1.5] });
        path.build(b"re", &[0.0, 0.0, 30.0, 2.0], &IDENTITY);
        path.paint(b"n", 1.0, 3, &mut marks);
        path.build(b"m", &[0.0, 0.0], &IDENTITY);
        path.build(b"c", &[1.0, 1.0, 2.0, 2.0, 40.0, 0.0], &IDENTITY);
        path.paint(b"f", 1.0, 3, &mut marks);
        assert_eq!(marks.len(), 2, "a clip and a curve are no rules");
    }
}
