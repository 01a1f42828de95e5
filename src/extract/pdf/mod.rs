//! Every raster a PDF draws, with where it draws it.
//!
//! lopdf parses the file (and decrypts it with the empty user password when
//! it can); this module walks the page tree itself (inherited resources),
//! interprets content streams for the current transformation matrix,
//! recurses through Form XObjects (cycle-safe), soft-mask groups, tiling
//! patterns, Type 3 glyphs and annotation appearance streams, and reads
//! inline images. One image drawn several times is one image with several
//! placements; soft masks and stencil masks are listed as their own images.
//! The text and thin rules drawn over a picture are kept with it, in its
//! pixels (module `marks`): vector scale-bar labels and bars.

mod content;
pub mod decode;
mod filters;
mod marks;

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Instant;

use lopdf::{Dictionary, Document, Object, ObjectId};
use rayon::prelude::*;

use self::content::{Event, Operand, Tokens};
use self::marks::{Font, Mark, Path, TextObject, TextParams};
use super::{ExtractError, Image, Limits, Placement, Role};

type Matrix = [f64; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `a × b` (apply `a`, then `b`).
fn mul(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

fn matrix(o: Option<&Object>) -> Option<Matrix> {
    let a = o?.as_array().ok()?;
    let v: Vec<f64> = a.iter().filter_map(|o| o.as_float().ok().map(f64::from)).collect();
    (v.len() == 6).then(|| [v[0], v[1], v[2], v[3], v[4], v[5]])
}

fn rect(o: Option<&Object>, doc: &Document) -> Option<[f64; 4]> {
    let o = doc.dereference(o?).ok()?.1;
    let v: Vec<f64> = o.as_array().ok()?.iter().filter_map(|o| o.as_float().ok().map(f64::from)).collect();
    (v.len() == 4).then(|| [v[0].min(v[2]), v[1].min(v[3]), v[0].max(v[2]), v[1].max(v[3])])
}

/// `(x, y)` under `m`.
fn point(m: &Matrix, x: f64, y: f64) -> (f64, f64) {
    (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
}

/// The box around `points`, as `[x0, y0, x1, y1]`.
fn span(points: &[(f64, f64)]) -> [f64; 4] {
    points.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, p| {
        [b[0].min(p.0), b[1].min(p.1), b[2].max(p.0), b[3].max(p.1)]
    })
}

/// The unit square under `m`, as `[x0, y0, x1, y1]`.
fn unit_bbox(m: &Matrix) -> [f32; 4] {
    span(&[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)].map(|(x, y)| point(m, x, y))).map(|v| v as f32)
}

/// Where an image's bytes are.
enum Source {
    /// An image XObject.
    Object(ObjectId),
    /// An inline image: its dictionary, data and the resource colour spaces.
    Inline(Dictionary, Vec<u8>, Option<Dictionary>),
}

struct Found {
    source: Source,
    id: String,
    role: Role,
    placements: Vec<Placement>,
    /// Index of the soft or stencil mask image in the list.
    mask: Option<usize>,
}

struct Walker<'a> {
    doc: &'a Document,
    limits: &'a Limits,
    deadline: Instant,
    found: Vec<Found>,
    by_object: HashMap<ObjectId, usize>,
    /// Forms, patterns and glyph procedures being interpreted (cycle guard).
    active: HashSet<ObjectId>,
    page: u32,
    inline_count: usize,
    /// Content bytes interpreted so far (bounds work on hostile files).
    work: usize,
    error: Option<ExtractError>,
    /// Text and rules drawn, in page space.
    marks: Vec<Mark>,
    /// Fonts read so far, by their dictionary's address.
    fonts: HashMap<*const Dictionary, Rc<Font<'a>>>,
}

/// What `q` saves and `Q` restores.
#[derive(Clone)]
struct State<'a> {
    ctm: Matrix,
    line_width: f64,
    text: TextParams,
    font: Option<(&'a Dictionary, Rc<Font<'a>>)>,
}

impl<'a> Walker<'a> {
    fn deref(&self, o: &'a Object) -> &'a Object {
        self.doc.dereference(o).map(|(_, o)| o).unwrap_or(o)
    }

    fn dict(&self, o: Option<&'a Object>) -> Option<&'a Dictionary> {
        dict_of(self.doc, o)
    }

    fn out_of_time(&mut self) -> bool {
        if Instant::now() > self.deadline {
            self.error.get_or_insert(ExtractError::TimeLimit(self.limits.time_per_file));
            return true;
        }
        false
    }

    /// Records one drawing of an image XObject (and its masks).
    fn place_object(&mut self, id: ObjectId, ctm: &Matrix, role: Role, depth: usize) -> usize {
        let placement = placement(self.page, ctm, self.doc.get_object(id).ok());
        let index = match self.by_object.get(&id) {
            Some(&i) => i,
            None => {
                let i = self.found.len();
                self.found.push(Found {
                    source: Source::Object(id),
                    id: format!("obj-{}-{}", id.0, id.1),
                    role,
                    placements: Vec::new(),
                    mask: None,
                });
                self.by_object.insert(id, i);
                i
            }
        };
        self.found[index].placements.push(placement);
        if depth == 0 {
            let dict = self.doc.get_object(id).ok().and_then(|o| o.as_stream().ok()).map(|s| &s.dict);
            let masks = [(b"SMask".as_slice(), Role::Smask), (b"Mask".as_slice(), Role::Mask)];
            for (key, role) in masks {
                if let Some(Object::Reference(mid)) = dict.and_then(|d| d.get(key).ok()) {
                    if matches!(self.doc.get_object(*mid), Ok(Object::Stream(_))) {
                        let m = self.place_object(*mid, ctm, role, depth + 1);
                        self.found[index].mask.get_or_insert(m);
                    }
                }
            }
        }
        index
    }

    fn run(&mut self, data: &[u8], resources: Option<&'a Dictionary>, ctm: Matrix, depth: usize) {
        if depth > self.limits.max_depth {
            self.error.get_or_insert(ExtractError::TooDeep(depth));
            return;
        }
        self.work += data.len();
        if self.work > self.limits.max_decompressed {
            self.error.get_or_insert(ExtractError::TooLarge("content streams too large".into()));
            return;
        }
        let mut gs = State { ctm, line_width: 1.0, text: TextParams::default(), font: None };
        let mut stack: Vec<State<'a>> = Vec::new();
        let mut text = TextObject::new();
        let mut path = Path::default();
        let mut fill_pattern: Option<&'a Object> = None;
        let doc = self.doc;
        let resource = |key: &[u8], name: &[u8]| {
            resources.and_then(|r| dict_of(doc, r.get(key).ok())).and_then(|d| d.get(name).ok())
        };
        for (n, event) in Tokens::new(data).enumerate() {
            if n % 4096 == 0 && self.out_of_time() {
                return;
            }
            match event {
                Event::Op(op, args) => {
                    let nums: Vec<f64> =
                        args.iter().filter_map(|a| if let Operand::Num(v) = a { Some(*v) } else { None }).collect();
                    let name = args.iter().rev().find_map(|a| if let Operand::Name(n) = a { Some(n) } else { None });
                    let ctm = gs.ctm;
                    match op {
                        b"q" if stack.len() < 256 => stack.push(gs.clone()),
                        b"Q" => gs = stack.pop().unwrap_or(gs),
                        b"cm" if nums.len() == 6 => {
                            gs.ctm = mul(&[nums[0], nums[1], nums[2], nums[3], nums[4], nums[5]], &ctm);
                        }
                        b"w" if nums.len() == 1 => gs.line_width = nums[0],
                        b"m" | b"l" | b"re" | b"c" | b"v" | b"y" => path.build(op, &nums, &ctm),
                        b"BT" => text = TextObject::new(),
                        b"Tc" if nums.len() == 1 => gs.text.char_space = nums[0],
                        b"Tw" if nums.len() == 1 => gs.text.word_space = nums[0],
                        b"Tz" if nums.len() == 1 => gs.text.scale = nums[0] / 100.0,
                        b"TL" if nums.len() == 1 => gs.text.leading = nums[0],
                        b"Ts" if nums.len() == 1 => gs.text.rise = nums[0],
                        b"Td" if nums.len() == 2 => text.next_line(nums[0], nums[1]),
                        b"TD" if nums.len() == 2 => {
                            gs.text.leading = -nums[1];
                            text.next_line(nums[0], nums[1]);
                        }
                        b"Tm" if nums.len() == 6 => {
                            text.tlm = [nums[0], nums[1], nums[2], nums[3], nums[4], nums[5]];
                            text.tm = text.tlm;
                        }
                        b"T*" => text.next_line(0.0, -gs.text.leading),
                        b"Do" => {
                            if let Some(Object::Reference(id)) = name.and_then(|n| resource(b"XObject", n)) {
                                self.xobject(*id, resources, &ctm, depth);
                            }
                        }
                        b"gs" => {
                            let smask = name
                                .and_then(|n| self.dict(resource(b"ExtGState", n)))
                                .and_then(|g| self.dict(g.get(b"SMask").ok()));
                            if let Some(Object::Reference(id)) = smask.and_then(|s| s.get(b"G").ok()) {
                                self.xobject(*id, resources, &ctm, depth);
                            }
                        }
                        b"Tf" => {
                            gs.font = name.and_then(|n| self.dict(resource(b"Font", n))).map(|d| (d, self.font(d)));
                            if let Some(&size) = nums.last() {
                                gs.text.size = size;
                            }
                        }
                        b"Tj" | b"TJ" | b"'" | b"\"" => {
                            if op == b"\"" && nums.len() == 2 {
                                (gs.text.word_space, gs.text.char_space) = (nums[0], nums[1]);
                            }
                            if op != b"Tj" && op != b"TJ" {
                                text.next_line(0.0, -gs.text.leading);
                            }
                            let font = gs.font.as_ref().map(|(_, f)| f.as_ref());
                            let (marks, page) = (&mut self.marks, self.page);
                            let mut show = |bytes: &[u8], text: &mut TextObject| {
                                if let Some((t, bbox)) = text.show(bytes, font, &gs.text, &ctm) {
                                    marks::add_text(marks, page, t, bbox);
                                }
                            };
                            for arg in &args {
                                match arg {
                                    Operand::Str(bytes) => show(bytes, &mut text),
                                    Operand::Array(items) => {
                                        for item in items {
                                            match (item.as_str(), item.as_float()) {
                                                (Ok(bytes), _) => show(bytes, &mut text),
                                                (_, Ok(n)) => text.kern(f64::from(n), &gs.text),
                                                _ => {}
                                            }
                                        }
                                    }
                                    _ => {}
                                }
                            }
                            if let Some((f, _)) = gs
                                .font
                                .as_ref()
                                .filter(|(f, _)| matches!(f.get(b"Subtype"), Ok(Object::Name(n)) if n == b"Type3"))
                            {
                                self.type3(f, resources, &ctm, depth);
                            }
                        }
                        b"scn" | b"SCN" => fill_pattern = name.and_then(|n| resource(b"Pattern", n)),
                        b"f" | b"F" | b"f*" | b"B" | b"B*" | b"b" | b"b*" | b"S" | b"s" | b"n" => {
                            let scale = (ctm[2] * ctm[2] + ctm[3] * ctm[3]).sqrt();
                            path.paint(op, gs.line_width * scale, self.page, &mut self.marks);
                            if let Some(Object::Reference(id)) = fill_pattern.filter(|_| op != b"n") {
                                self.xobject(*id, resources, &ctm, depth);
                            }
                        }
                        _ => {}
                    }
                }
                Event::InlineImage(dict, bytes) => {
                    self.inline_count += 1;
                    let spaces = resources.and_then(|r| self.dict(r.get(b"ColorSpace").ok())).cloned();
                    let stencil =
                        matches!(dict.get(b"IM").or_else(|_| dict.get(b"ImageMask")), Ok(Object::Boolean(true)));
                    self.found.push(Found {
                        id: format!("p{}-inline-{}", self.page, self.inline_count),
                        role: if stencil { Role::Stencil } else { Role::Image },
                        placements: vec![placement(self.page, &gs.ctm, None)],
                        source: Source::Inline(dict, bytes.to_vec(), spaces),
                        mask: None,
                    });
                }
            }
        }
    }

    /// Draws an XObject or pattern by reference: images are placed, forms
    /// and tiling patterns interpreted.
    fn xobject(&mut self, id: ObjectId, resources: Option<&'a Dictionary>, ctm: &Matrix, depth: usize) {
        let Ok(Object::Stream(s)) = self.doc.get_object(id) else { return };
        let d = &s.dict;
        let subtype = d.get(b"Subtype").ok().and_then(|o| o.as_name().ok());
        let pattern = matches!(d.get(b"PatternType"), Ok(Object::Integer(1)));
        if subtype == Some(b"Image") {
            let stencil = matches!(d.get(b"ImageMask"), Ok(Object::Boolean(true)));
            self.place_object(id, ctm, if stencil { Role::Stencil } else { Role::Image }, 0);
        } else if subtype == Some(b"Form") || pattern {
            self.form(id, s, resources, ctm, depth + 1);
        }
    }

    /// Interprets a form, pattern or appearance stream under its own
    /// `/Matrix` and `/Resources` (else the caller's), unless it is already
    /// being interpreted (a cycle).
    fn form(
        &mut self,
        id: ObjectId,
        s: &'a lopdf::Stream,
        resources: Option<&'a Dictionary>,
        ctm: &Matrix,
        depth: usize,
    ) {
        if !self.active.insert(id) {
            return;
        }
        let m = matrix(s.dict.get(b"Matrix").ok()).unwrap_or(IDENTITY);
        let own = self.dict(s.dict.get(b"Resources").ok());
        if let Some(bytes) = self.stream_bytes(s) {
            self.run(&bytes, own.or(resources), mul(&m, ctm), depth);
        }
        self.active.remove(&id);
    }

    /// Runs the glyph procedures of a Type 3 font once (images inside glyphs
    /// count once per font, not per glyph shown).
    fn type3(&mut self, font: &'a Dictionary, resources: Option<&'a Dictionary>, ctm: &Matrix, depth: usize) {
        let Some(procs) = self.dict(font.get(b"CharProcs").ok()) else { return };
        let m = matrix(font.get(b"FontMatrix").ok()).unwrap_or([0.001, 0.0, 0.0, 0.001, 0.0, 0.0]);
        let own = self.dict(font.get(b"Resources").ok());
        for (_, proc) in procs.iter() {
            let Object::Reference(id) = proc else { continue };
            if self.active.contains(id) {
                continue;
            }
            let Ok(Object::Stream(s)) = self.doc.get_object(*id) else { continue };
            if let Some(bytes) = self.stream_bytes(s) {
                self.active.insert(*id);
                self.run(&bytes, own.or(resources), mul(&m, ctm), depth + 1);
                self.active.remove(id);
            }
        }
    }

    /// A font's encoding and widths, read once per font dictionary.
    fn font(&mut self, dict: &'a Dictionary) -> Rc<Font<'a>> {
        let (doc, limit) = (self.doc, self.limits.max_decompressed);
        self.fonts.entry(dict as *const Dictionary).or_insert_with(|| Rc::new(Font::new(doc, dict, limit))).clone()
    }

    fn stream_bytes(&mut self, s: &lopdf::Stream) -> Option<Vec<u8>> {
        let chain = filters::chain(&s.dict, self.doc);
        match filters::apply(&s.content, &chain, self.limits.max_decompressed) {
            Ok((b, None)) => Some(b),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!("content stream: {e}");
                None
            }
        }
    }

    fn page(&mut self, page: &'a Dictionary, resources: Option<&'a Dictionary>) {
        let contents: Vec<&lopdf::Stream> = match page.get(b"Contents").ok().map(|o| self.deref(o)) {
            Some(Object::Stream(s)) => vec![s],
            Some(Object::Array(a)) => a.iter().filter_map(|o| self.deref(o).as_stream().ok()).collect(),
            _ => Vec::new(),
        };
        let mut data = Vec::new();
        for s in contents {
            if let Some(b) = self.stream_bytes(s) {
                data.extend_from_slice(&b);
                data.push(b'\n');
            }
        }
        self.run(&data, resources, IDENTITY, 0);
        self.annotations(page, resources);
    }

    /// Appearance streams of visible annotations, mapped onto their `/Rect`.
    fn annotations(&mut self, page: &'a Dictionary, resources: Option<&'a Dictionary>) {
        let Some(Object::Array(annots)) = page.get(b"Annots").ok().map(|o| self.deref(o)) else { return };
        for annot in annots {
            let Some(a) = self.dict(Some(annot)) else { continue };
            let flags = a.get(b"F").and_then(Object::as_i64).unwrap_or(0);
            if flags & (2 | 32) != 0 {
                continue;
            }
            let Some(ap) = self.dict(a.get(b"AP").ok()) else { continue };
            let normal = ap.get(b"N").ok();
            let id = match normal {
                Some(Object::Reference(id)) if matches!(self.doc.get_object(*id), Ok(Object::Stream(_))) => Some(*id),
                Some(o) => {
                    let states = self.dict(Some(o));
                    let state = a.get(b"AS").ok().and_then(|s| s.as_name().ok());
                    match (states, state) {
                        (Some(st), Some(s)) => st.get(s).ok().and_then(|o| o.as_reference().ok()),
                        _ => None,
                    }
                }
                None => None,
            };
            let (Some(id), Some(r)) = (id, rect(a.get(b"Rect").ok(), self.doc)) else { continue };
            let Ok(Object::Stream(s)) = self.doc.get_object(id) else { continue };
            let m = matrix(s.dict.get(b"Matrix").ok()).unwrap_or(IDENTITY);
            let Some(bb) = rect(s.dict.get(b"BBox").ok(), self.doc) else { continue };
            // ISO 32000-1 §12.5.5: the transformed BBox is fitted to Rect.
            let t = unit_bbox(&mul(&[bb[2] - bb[0], 0.0, 0.0, bb[3] - bb[1], bb[0], bb[1]], &m));
            let (tw, th) = ((t[2] - t[0]) as f64, (t[3] - t[1]) as f64);
            if tw <= 0.0 || th <= 0.0 {
                continue;
            }
            let fit = [
                (r[2] - r[0]) / tw,
                0.0,
                0.0,
                (r[3] - r[1]) / th,
                r[0] - t[0] as f64 * (r[2] - r[0]) / tw,
                r[1] - t[1] as f64 * (r[3] - r[1]) / th,
            ];
            self.form(id, s, resources, &fit, 1);
        }
    }
}

/// A dictionary, or a stream's dictionary, behind `o`.
fn dict_of<'a>(doc: &'a Document, o: Option<&'a Object>) -> Option<&'a Dictionary> {
    match doc.dereference(o?).ok()?.1 {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

fn placement(page: u32, ctm: &Matrix, image: Option<&Object>) -> Placement {
    let bbox = unit_bbox(ctm);
    let width =
        image.and_then(|o| o.as_stream().ok()).and_then(|s| s.dict.get(b"Width").ok()).and_then(|w| w.as_float().ok());
    let extent = (ctm[0] * ctm[0] + ctm[1] * ctm[1]).sqrt();
    let dpi = width.filter(|_| extent > 1e-6).map(|w| (w as f64 * 72.0 / extent) as f32);
    Placement { page, bbox, dpi }
}

/// An image's dictionary, resolved, and its still-encoded bytes.
fn source<'a>(doc: &'a Document, f: &'a Found) -> Result<(decode::Info, &'a [u8]), ExtractError> {
    match &f.source {
        Source::Object(id) => {
            let s =
                doc.get_object(*id).and_then(Object::as_stream).map_err(|e| ExtractError::Corrupt(e.to_string()))?;
            Ok((decode::info(doc, &s.dict, None)?, &s.content))
        }
        Source::Inline(d, data, spaces) => Ok((decode::info(doc, d, spaces.as_ref())?, data)),
    }
}

/// Pages in order with their inherited `/Resources`.
fn pages(doc: &Document) -> Vec<(&Dictionary, Option<&Dictionary>)> {
    let mut out = Vec::new();
    let root = doc.catalog().ok().and_then(|c| c.get(b"Pages").ok());
    let mut seen = HashSet::new();
    let mut stack: Vec<(&Object, Option<&Dictionary>, usize)> = root.into_iter().map(|r| (r, None, 0)).collect();
    while let Some((node, inherited, depth)) = stack.pop() {
        if let Object::Reference(id) = node {
            if !seen.insert(*id) {
                continue;
            }
        }
        let Ok((_, Object::Dictionary(d))) = doc.dereference(node) else { continue };
        let resources =
            d.get(b"Resources").ok().and_then(|r| doc.dereference(r).ok()).and_then(|(_, r)| r.as_dict().ok());
        let resources = resources.or(inherited);
        match d.get(b"Kids").ok().and_then(|k| doc.dereference(k).ok()).map(|(_, k)| k) {
            Some(Object::Array(kids)) if depth < 64 => {
                for kid in kids.iter().rev() {
                    stack.push((kid, resources, depth + 1));
                }
            }
            _ => out.push((d, resources)),
        }
    }
    out
}

/// Extracts (and decodes) every image of a PDF, with the figures that
/// tiled pictures make, each with the text and rules drawn over it.
pub fn extract(bytes: &[u8], limits: &Limits) -> Result<(Vec<Image>, Option<ExtractError>), ExtractError> {
    let started = Instant::now();
    let doc = Document::load_mem(bytes).map_err(|e| match e {
        lopdf::Error::Decryption(d) => ExtractError::Encrypted(d.to_string()),
        other => ExtractError::Corrupt(format!("pdf: {other}")),
    })?;
    if doc.is_encrypted() && doc.encryption_state.is_none() {
        return Err(ExtractError::Encrypted("needs a password".into()));
    }
    let mut w = Walker {
        doc: &doc,
        limits,
        deadline: started + limits.time_per_file,
        found: Vec::new(),
        by_object: HashMap::new(),
        active: HashSet::new(),
        page: 0,
        inline_count: 0,
        work: 0,
        error: None,
        marks: Vec::new(),
        fonts: HashMap::new(),
    };
    for (n, (page, resources)) in pages(&doc).into_iter().enumerate() {
        w.page = n as u32 + 1;
        w.page(page, resources);
        if w.out_of_time() {
            break;
        }
    }
    let Walker { found, error, deadline, marks, .. } = w;
    let pixels = |info: &decode::Info, data: &[u8], mask: Option<&image::GrayImage>| {
        if Instant::now() > deadline {
            return Err(ExtractError::TimeLimit(limits.time_per_file));
        }
        decode::pixels(&doc, info, data, mask, limits)
    };
    // Masks first, then the images that use them.
    let is_mask: HashSet<usize> = found.iter().filter_map(|f| f.mask).collect();
    let masks: HashMap<usize, image::GrayImage> = is_mask
        .par_iter()
        .filter_map(|&i| {
            let (info, data) = source(&doc, &found[i]).ok()?;
            pixels(&info, data, None).ok().map(|px| (i, decode::alpha(&px)))
        })
        .collect();
    let mut images: Vec<Image> = found
        .par_iter()
        .map(|f| {
            let (info, pixels, error) = match source(&doc, f) {
                Err(e) => (None, None, Some(e.to_string())),
                Ok((info, data)) => match pixels(&info, data, f.mask.and_then(|m| masks.get(&m))) {
                    Ok(px) => (Some(info), Some(px), None),
                    Err(e) => (Some(info), None, Some(e.to_string())),
                },
            };
            let (w, h) = pixels.as_ref().map_or((0, 0), |p| (p.width(), p.height()));
            Image {
                id: f.id.clone(),
                page: f.placements.first().map(|p| p.page),
                width: info.as_ref().map_or(w, |i| i.width),
                height: info.as_ref().map_or(h, |i| i.height),
                bpc: info.as_ref().map_or(8, |i| i.bpc),
                colorspace: info.as_ref().map_or("-", |i| i.space_label).to_string(),
                encoding: info.as_ref().map_or("unknown", |i| filters::encoding(&i.chain)).to_string(),
                inline: matches!(f.source, Source::Inline(..)),
                role: f.role,
                object: match f.source {
                    Source::Object(id) => Some([id.0, id.1 as u32]),
                    Source::Inline(..) => None,
                },
                placements: f.placements.clone(),
                mask: f.mask.map(|m| found[m].id.clone()),
                error,
                member: None,
                panels: None,
                png: None,
                pixels,
                vector: Default::default(),
            }
        })
        .collect();
    images.extend(super::tiles::join(&images));
    marks::overlay(&mut images, &marks);
    Ok((images, error))
}
