//! Reading a scale-bar label ("200 nm", "0.5 µm", "5 Å") without a system
//! OCR library: the label's glyphs are segmented as connected components
//! next to the bar and each is matched to the nearest of templates rendered
//! from common serif and sans fonts (`glyphs.bin`, written by
//! `.ci/make-glyphs`), using its shape and its place in the text line.
//! A label too small for its glyphs to be told apart is read whole
//! ([`tiny`]).

use std::sync::LazyLock;

use image::GrayImage;

use super::scalebar::Bar;
use super::tiny;

/// The scale-bar label vocabulary (`glyphs.bin`).
pub(super) const LABEL_CHARS: &[char] =
    &['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '.', ',', 'n', 'm', 'µ', 'u', 'Å', 'p'];
/// The data-bar vocabulary (`text-glyphs.bin`); the same list as `TEXT_CHARS`
/// in `.ci/make-glyphs`.
pub(super) const TEXT_CHARS: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.,:-=/()%+µ";
const GW: usize = 12;
const GH: usize = 16;
/// The confidence of a label read only as the label grammar allows.
pub(super) const DECODED: f64 = 0.2;
/// The most a label read as the label grammar allows may cost (the mean
/// distance of its glyphs to their templates, weighted by width).
const DECODE_COST: f32 = 0.14;
/// What reading a glyph as `u` costs the label grammar over its distance:
/// Hitachi prints `um`, but a blurred `n` is the likelier `u` (between 0.02
/// and 0.05 the benchmark reads the same; none reads two `nm` as `um`, 0.07
/// reads Hitachi's `200um` as `200nm`).
const U_EXTRA: f32 = 0.035;
/// A character read, with its margin over the runner-up and its glyph's box.
pub(super) type Read = (char, f64, Blob);

/// A glyph is read as two only when both halves are this much closer to
/// their templates than the whole is to its own.
const SPLIT: f32 = 0.7;
/// Weight of the four line-geometry features against the bitmap.
const GEOMETRY_WEIGHT: f32 = 0.6;
/// The pixels round a bar are its outline when they are this many grey
/// levels further from the bar's grey than the picture beyond them.
const OUTLINE: f32 = 60.0;
/// Two digits of a value are never further apart than this share of the
/// band's height; a wider gap is where a point was lost (too faint or
/// small to be a glyph).
const POINT_GAP: f32 = 0.5;
/// Lines whose digits are at most this many pixels high are read whole
/// ([`tiny`]) when nothing else reads.
const TINY_BAND: f32 = 10.0;
/// The least height of a piece of a tiny glyph that makes a line.
const TINY_GLYPH: u32 = 4;
/// The most characters a tiny label has (`0.25µm`, `1000nm`).
const TINY_CHARS: usize = 6;
/// How many rows out from a bar its outline may reach.
const OUTLINE_ROWS: u32 = 4;

struct Template {
    /// Index into the set's characters.
    ch: usize,
    geometry: [f32; 4],
    pixels: [f32; GW * GH],
}

/// Glyph templates rendered from fonts for one vocabulary.
pub(super) struct Glyphs {
    chars: Vec<char>,
    templates: Vec<Template>,
    /// A round digit read is settled by its holes ([`by_holes`]): for the
    /// crisp text of data bars, not for labels that blur or JPEG may have
    /// half filled.
    crisp: bool,
}

impl Glyphs {
    fn load(bytes: &[u8], chars: Vec<char>, crisp: bool) -> Glyphs {
        let templates = bytes
            .chunks_exact(1 + 4 + GW * GH)
            .map(|r| Template {
                ch: r[0] as usize,
                geometry: [0, 1, 2, 3].map(|i| (r[1 + i] as f32 - 128.0) / 64.0),
                pixels: std::array::from_fn(|i| r[5 + i] as f32 / 255.0),
            })
            .filter(|t| t.ch < chars.len())
            .collect();
        Glyphs { chars, templates, crisp }
    }
}

/// How far a grey is from the background `bg` towards the ink `ink` (0–1).
fn toward(bg: f32, ink: f32) -> impl Fn(u8) -> f32 {
    move |v| ((v as f32 - bg) / (ink - bg)).clamp(0.0, 1.0)
}

/// The records of a template file whose records are a five-byte head and a
/// body of `body(head)` bytes; stops at a record cut short.
pub(super) fn records(bytes: &[u8], body: impl Fn([u8; 5]) -> usize) -> impl Iterator<Item = ([u8; 5], &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let head: [u8; 5] = bytes.get(at..at + 5)?.try_into().ok()?;
        let record = bytes.get(at + 5..at + 5 + body(head))?;
        at += 5 + record.len();
        Some((head, record))
    })
}

static LABEL: LazyLock<Glyphs> =
    LazyLock::new(|| Glyphs::load(include_bytes!("glyphs.bin"), LABEL_CHARS.to_vec(), false));
/// Letters, digits and punctuation in the fonts of instrument data bars.
pub(super) static TEXT: LazyLock<Glyphs> =
    LazyLock::new(|| Glyphs::load(include_bytes!("text-glyphs.bin"), TEXT_CHARS.chars().collect(), true));

/// A label read next to a scale bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// The number, when the text parses as a length.
    pub value: Option<f64>,
    /// The unit in SI form (`nm`, `µm`, `mm`, `pm`, `Å`), when it parses.
    pub unit: Option<String>,
    /// Everything read, for diagnostics.
    pub text: String,
    /// 0–1: the weakest glyph's margin between its best template and the
    /// best template of any other character (0 when the text does not parse).
    pub confidence: f64,
    /// The label's box in the image given.
    pub bbox: [u32; 4],
}

impl Label {
    /// Reads as a length a scale bar would show (see [`plausible`]).
    pub fn names_a_bar(&self) -> bool {
        parse(&self.text).is_some_and(|r| plausible(&self.text, &r))
    }
}

/// States of the label grammar: a length a scale bar would show (see
/// [`plausible`]), a round value (1, 2, 2.5, 3, 4 or 5 times a power of
/// ten, trailing zeros after a point allowed: `1.00`) in `nm` or `µm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grammar {
    Start,
    /// A leading 1, 3, 4 or 5, or a round value's zeros after it.
    Whole,
    /// A leading 2 (which may go on as 25 or 2.5).
    Two,
    /// A lone leading 0, before its point.
    Zero,
    /// The point after a whole value.
    Point,
    /// The point after a leading 2.
    PointTwo,
    /// The zeros after the point of `0.`.
    Fraction,
    /// A 2 after `0.` and its zeros (which may go on as 0.25).
    FractionTwo,
    /// The value is complete; only zeros may follow.
    Trailing,
    /// A unit's first letter, waiting for its `m`.
    Prefix,
    Done,
}

impl Grammar {
    pub(super) const ALL: [Grammar; 11] = [
        Grammar::Start,
        Grammar::Whole,
        Grammar::Two,
        Grammar::Zero,
        Grammar::Point,
        Grammar::PointTwo,
        Grammar::Fraction,
        Grammar::FractionTwo,
        Grammar::Trailing,
        Grammar::Prefix,
        Grammar::Done,
    ];

    /// The state's place in [`Grammar::ALL`] (the order it is declared in).
    pub(super) fn index(self) -> usize {
        self as usize
    }

    /// The last character read was a digit.
    fn after_digit(self) -> bool {
        use Grammar::*;
        matches!(self, Whole | Two | Zero | Trailing | FractionTwo)
    }

    pub(super) fn next(self, c: char) -> Option<Grammar> {
        use Grammar::*;
        Some(match (self, c) {
            (Start, '1' | '3' | '4' | '5') => Whole,
            (Start, '2') => Two,
            (Start, '0') => Zero,
            (Whole | Two, '0') | (Two, '5') => Whole,
            (Whole, '.' | ',') => Point,
            (Two, '.' | ',') => PointTwo,
            (Zero, '.' | ',') => Fraction,
            (Fraction, '0') => Fraction,
            (Fraction, '1' | '3' | '4' | '5') => Trailing,
            (Fraction, '2') => FractionTwo,
            (Point | PointTwo | Trailing | FractionTwo, '0') | (PointTwo | FractionTwo, '5') => Trailing,
            (Whole | Two | Trailing | FractionTwo, 'n' | 'µ' | 'u') => Prefix,
            (Prefix, 'm') => Done,
            _ => return None,
        })
    }
}

/// A way to read the next glyphs of a line in [`decode`]: how many glyphs it
/// takes and, for each character it yields, the distance to every character
/// and its weight (its share of the line's width).
struct Reading {
    glyphs: usize,
    parts: Vec<(Vec<f32>, f32)>,
}

/// How [`decode`] reached a state: from which glyph and state, reading
/// which characters.
type Back = (usize, usize, Vec<char>);

/// Reads a label line as the label grammar allows: each glyph, two or three
/// neighbours joined (an `m` or `0` that JPEG broke apart), or one glyph cut
/// in two (`00` or `nm` that touch) is given characters so that the whole
/// line reads as a length a scale bar would show, at the least distance
/// (each glyph's distance weighted by its width). Returns the text and that
/// distance.
fn decode(
    glyphs: &Glyphs,
    img: &GrayImage,
    line: &[Blob],
    band: Band,
    level: &impl Fn(u8) -> f32,
) -> Option<(String, f32)> {
    let n = line.len();
    let total: f32 = line.iter().map(|g| g.w() as f32).sum::<f32>().max(1.0);
    // cost[i][s]: the least cost of reading glyphs ..i ending in state s.
    let states = Grammar::ALL.len();
    let index = Grammar::index;
    let mut cost = vec![vec![f32::INFINITY; states]; n + 1];
    let mut back: Vec<Vec<Option<Back>>> = vec![vec![None; states]; n + 1];
    cost[0][index(Grammar::Start)] = 0.0;
    for i in 0..n {
        // A digit after a digit only across a gap no wider than a value's.
        let spaced = i > 0 && (line[i].x0 as f32 - line[i - 1].x1 as f32) > POINT_GAP * band.height();
        let mut readings: Vec<Reading> = Vec::new();
        for k in 1..=3.min(n - i) {
            let piece = &line[i..i + k];
            let joined = Blob::around(piece);
            let close = piece.windows(2).all(|p| (p[1].x0 as f32 - p[0].x1 as f32) <= 0.2 * band.height());
            if k > 1 && (!close || joined.w() as f32 > 1.4 * band.height()) {
                continue;
            }
            let parts = vec![(glyphs.distances(img, &joined, band, level), joined.w() as f32 / total)];
            readings.push(Reading { glyphs: k, parts });
        }
        for (l, r) in cuts(img, &line[i], band, level) {
            let side = |b: &Blob| (glyphs.distances(img, b, band, level), b.w() as f32 / total);
            readings.push(Reading { glyphs: 1, parts: vec![side(&l), side(&r)] });
        }
        for s in Grammar::ALL {
            if !cost[i][index(s)].is_finite() {
                continue;
            }
            for Reading { glyphs: k, parts } in &readings {
                // Every character sequence the grammar allows from s.
                let mut paths: Vec<(Grammar, f32, Vec<char>)> = vec![(s, cost[i][index(s)], Vec::new())];
                for (d, weight) in parts {
                    paths = paths
                        .iter()
                        .flat_map(|(state, c0, text)| {
                            glyphs.chars.iter().zip(d).filter_map(move |(c, dc)| {
                                if spaced && text.is_empty() && state.after_digit() && c.is_ascii_digit() {
                                    return None;
                                }
                                let mut text = text.clone();
                                text.push(*c);
                                let extra = if *c == 'u' { U_EXTRA } else { 0.0 };
                                Some((state.next(*c)?, c0 + (dc + extra) * weight, text))
                            })
                        })
                        .collect();
                }
                for (t, c, text) in paths {
                    if c < cost[i + k][index(t)] {
                        cost[i + k][index(t)] = c;
                        back[i + k][index(t)] = Some((i, index(s), text));
                    }
                }
            }
        }
    }
    let mut text = Vec::new();
    let (mut i, mut s) = (n, index(Grammar::Done));
    while i > 0 {
        let (from, state, chars) = back[i][s].clone()?;
        text.extend(chars.into_iter().rev());
        (i, s) = (from, state);
    }
    text.reverse();
    Some((text.into_iter().collect(), cost[n][index(Grammar::Done)]))
}

/// A length a scale bar would show: a round value (1, 2, 2.5, 3, 4 or 5
/// times a power of ten, written without a leading zero) in `nm`, `µm` or
/// `um` as written, the units of nearly every SEM and TEM bar. A glyph read
/// is preferred when it is one; the label grammar reads only these (a `u`
/// at an extra cost, [`U_EXTRA`]: an `n` read as `u` is the commonest
/// misread).
fn plausible(text: &str, (value, _): &(f64, String)) -> bool {
    let mantissa = value / 10f64.powf(value.log10().floor());
    let round = [1.0, 2.0, 2.5, 3.0, 4.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-6);
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let leading_zero = t.starts_with('0') && !t.starts_with("0.");
    round && !leading_zero && !open_point(&t) && (t.ends_with("nm") || t.ends_with("µm") || t.ends_with("um"))
}

/// The number in `text` ends in a point with no digit after it (`100.um`:
/// a speck taken for a point).
fn open_point(text: &str) -> bool {
    let number: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ','))
        .collect();
    number.ends_with(['.', ','])
}

/// A length in `unit` (`pm`, `Å`, `nm`, `µm`, `mm`) in nanometres.
pub fn nm(value: f64, unit: &str) -> f64 {
    value
        * match unit {
            "pm" => 1e-3,
            "Å" => 0.1,
            "µm" => 1e3,
            "mm" => 1e6,
            _ => 1.0,
        }
}

/// One connected component of ink.
#[derive(Debug, Clone, Copy)]
pub(super) struct Blob {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl Blob {
    pub fn h(&self) -> u32 {
        self.y1 - self.y0
    }
    pub fn w(&self) -> u32 {
        self.x1 - self.x0
    }
    fn mid_y(&self) -> u32 {
        (self.y0 + self.y1) / 2
    }

    /// The smallest box around `glyphs` (not empty).
    pub fn around(glyphs: &[Blob]) -> Blob {
        glyphs.iter().fold(Blob { x0: u32::MAX, y0: u32::MAX, x1: 0, y1: 0 }, |b, g| Blob {
            x0: b.x0.min(g.x0),
            y0: b.y0.min(g.y0),
            x1: b.x1.max(g.x1),
            y1: b.y1.max(g.y1),
        })
    }

    /// `[x0, y0, x1, y1]`.
    pub fn bbox(&self) -> [u32; 4] {
        [self.x0, self.y0, self.x1, self.y1]
    }
}

/// Reads the label of `bar` in `img` (the panel): text the colour of the
/// bar first, then text of the opposite colour (a black bar on a white box
/// with grey text), then faint text of the bar's colour; the first line
/// that reads as a length wins, else the nearest line's text is returned
/// unparsed.
pub fn read(img: &GrayImage, bar: &Bar) -> Option<Label> {
    let (w, h) = img.dimensions();
    let [bx0, by0, bx1, by1] = bar.bbox;
    let len = bx1 - bx0;
    let reach = (h / 6).max(6 * (by1 - by0)).max(24);
    // As far to each side as up and down, at least: a short bar's label
    // may be far wider than the bar.
    let side = len.max(reach);
    let region = [bx0.saturating_sub(side), by0.saturating_sub(reach), (bx1 + side).min(w), (by1 + reach).min(h)];
    let bar_level = mean(img, bar.bbox);
    // Background: the pixels just around the bar, or those beyond them
    // where they are an outline drawn round the bar (further from its grey
    // than the picture beyond): all round it, or in the rows right above
    // and below it (a one-pixel outline, or one set off from the bar by a
    // row of the picture, hardly moves the ring's mean).
    let grow = |by: u32| [bx0.saturating_sub(by), by0.saturating_sub(by), (bx1 + by).min(w), (by1 + by).min(h)];
    let inner = ring_mean(img, grow(3), bar.bbox);
    let outer = ring_mean(img, grow(7), grow(3));
    let off = |v: f32| (v - bar_level).abs();
    let furthest = |ys: std::ops::Range<u32>| {
        ys.map(|y| mean(img, [bx0, y, bx1, y + 1])).max_by(|a, b| off(*a).total_cmp(&off(*b)))
    };
    let edge = match (furthest(by0.saturating_sub(3)..by0), furthest(by1..(by1 + 3).min(h))) {
        (Some(above), Some(below)) => (above + below) / 2.0,
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => inner,
    };
    let bg = if off(inner).max(off(edge)) > off(outer) + OUTLINE { outer } else { inner };
    // A ruler's ink is its ticks, not the background between them.
    let pixels = || (by0..by1).flat_map(|y| (bx0..bx1).map(move |x| img.get_pixel(x, y)[0] as f32));
    let tick = if bar.light { pixels().fold(0.0, f32::max) } else { pixels().fold(255.0, f32::min) };
    let bar_level = if (bar_level - bg).abs() < 30.0 { tick } else { bar_level };
    if (bar_level - bg).abs() < 30.0 {
        return None;
    }
    // Text of the other colour: as far from the background the other way
    // as the region's most extreme pixels (dark grey text under a white bar
    // on a grey picture is far less dark than the bar is light); the
    // hundredth most extreme, as a grainy picture's own extremes reach
    // past the 50th (white text in a black box beside the bar).
    let mut greys: Vec<u8> = (region[1]..region[3])
        .flat_map(|y| (region[0]..region[2]).map(move |x| (x, y)))
        .filter(|&(x, y)| !(x + 1 >= bx0 && x <= bx1 && y + 1 >= by0 && y <= by1))
        .map(|(x, y)| img.get_pixel(x, y)[0])
        .collect();
    greys.sort_unstable();
    let extreme = |share: usize| greys.get(greys.len().saturating_sub(1) * share / 100).map_or(bg, |&v| v as f32);
    let other =
        if bar_level > bg { extreme(1).max(2.0 * bg - bar_level) } else { extreme(99).min(2.0 * bg - bar_level) };
    // Candidate lines of both colours, nearest first within each colour;
    // last, text of the bar's colour at half its contrast (thin strokes of
    // small anti-aliased text never reach the bar's grey).
    let level_for = |ink_level: f32| toward(bg, ink_level);
    // Lines as found for the label grammar, and with the rows that chain
    // through texture split for reading glyph by glyph (5addfe7111's
    // "5 nm" among specks): the grammar reads some length out of nearly any
    // row of texture, and split rows would give it more of them.
    let mut found: Vec<(Vec<Blob>, f32)> = Vec::new();
    let mut split: Vec<(Vec<Blob>, f32)> = Vec::new();
    let mut tiny_lines: Vec<(Vec<Blob>, f32)> = Vec::new();
    // The bar and its outline are never ink: glyphs set on an outline
    // would join it into one blob too wide to read.
    let outline = outline_rows(img, bar.bbox, bg, (bar_level - bg).abs());
    // Nor is the bar's row where it runs on past the bar's ends in its own
    // grey: the other half of a bar a stroke of its label cuts in two
    // (2bc87a8698's µ descender) would join the label's glyphs.
    let mid = (by0 + by1) / 2;
    let like_bar = |x: u32| (img.get_pixel(x, mid)[0] as f32 - bar_level).abs() * 2.0 < (bar_level - bg).abs();
    let mx0 = (0..bx0).rev().take_while(|&x| like_bar(x)).last().unwrap_or(bx0);
    let mx1 = (bx1..w).take_while(|&x| like_bar(x)).last().map_or(bx1, |x| x + 1);
    let masked = |x: u32, y: u32| x + 1 >= mx0 && x <= mx1 && ((y + 1 >= by0 && y <= by1) || outline.contains(&y));
    // Glyphs are looked for a bar's length further to each side: a line
    // that starts near the bar may run on past the region (a `200 nm` in a
    // box beside the bar); lines wholly beyond are never near enough.
    let glyphs = [region[0].saturating_sub(len), region[1], (region[2] + len).min(w), region[3]];
    for ink_level in [bar_level, other, (bar_level + bg) / 2.0] {
        let level = level_for(ink_level);
        let rw = (glyphs[2] - glyphs[0]) as usize;
        let rh = (glyphs[3] - glyphs[1]) as usize;
        let mut ink = vec![false; rw * rh];
        for y in 0..rh {
            for x in 0..rw {
                let (ix, iy) = (glyphs[0] + x as u32, glyphs[1] + y as u32);
                ink[y * rw + x] = !masked(ix, iy) && level(img.get_pixel(ix, iy)[0]) > 0.5;
            }
        }
        let blobs: Vec<Blob> = components(&ink, rw, rh, true)
            .into_iter()
            .map(|b| Blob { x0: b.x0 + glyphs[0], y0: b.y0 + glyphs[1], x1: b.x1 + glyphs[0], y1: b.y1 + glyphs[1] })
            .filter(|b| b.h() >= 2 && b.h() <= h / 4 && b.w() <= len.max(h / 4) && !end_tick(b, bar.bbox))
            // Four times wider than high is a rule (half of FEI's bracket
            // with its tick), not a glyph.
            .filter(|b| b.w() <= 4 * b.h())
            .collect();
        // Label glyphs are at least 1.5% of the panel's height; smaller
        // blobs are texture (decimal points are added back in `complete`),
        // or tiny text broken apart, read whole.
        let lo = (h * 3 / 200).max(6);
        found.extend(lines(&blobs, bar, h, lo, false).into_iter().take(3).map(|l| (l, ink_level)));
        split.extend(lines(&blobs, bar, h, lo, true).into_iter().take(3).map(|l| (l, ink_level)));
        let small = lines(&blobs, bar, h, TINY_GLYPH, false).into_iter().filter(|l| Band::of(l).height() <= TINY_BAND);
        tiny_lines.extend(small.take(3).map(|l| (l, ink_level)));
    }
    let label = |line: &[Blob], text: String, read: Option<(f64, String)>, confidence: f64| {
        let bbox = Blob::around(line).bbox();
        let (value, unit) = read.map_or((None, None), |(v, u)| (Some(v), Some(u)));
        Label { value, unit, text, bbox, confidence }
    };
    // The first line that reads glyph by glyph as a length a scale bar
    // would show; else the first that reads as any length, when a speck
    // was taken for a point after its number and the label grammar reads
    // it as the same value; else the line the label grammar reads as one
    // at least cost, when its glyphs fit their templates well enough
    // ([`DECODE_COST`]; never trusted more than [`DECODED`]); else the
    // first that reads glyph by glyph as any length; else the nearest
    // line's text, unparsed.
    let (mut parsed, mut fallback) = (None, None);
    let mut pointed = None;
    for (line, ink_level) in &split {
        let level = level_for(*ink_level);
        let (mut text, mut margin) = LABEL.line(img, line, Band::of(line), &level);
        // Labels print `0.5`, not `.5`: a point first is a speck of the
        // picture beside the label (404b0836f1's box edge), left out.
        let line = match &line[..] {
            [_, rest @ ..] if text.starts_with(['.', ',']) && rest.len() >= 2 => {
                (text, margin) = LABEL.line(img, rest, Band::of(rest), &level);
                rest
            }
            _ => line,
        };
        match parse(&text) {
            Some(read) if plausible(&text, &read) => return Some(label(line, text, Some(read), margin)),
            Some(read) => {
                if parsed.is_none() && open_point(&text) {
                    pointed = Some((line.to_vec(), *ink_level, read.0));
                }
                parsed.get_or_insert_with(|| label(line, text, Some(read), margin));
            }
            None => {
                fallback.get_or_insert_with(|| label(line, text, None, 0.0));
            }
        }
    }
    // (6d1574872b's `100.um`: the grammar also weighs its `u` against `n`.)
    let repaired = pointed.and_then(|(line, ink_level, value)| {
        let (text, cost) = decode(&LABEL, img, &line, Band::of(&line), &level_for(ink_level))?;
        let read = parse(&text).filter(|r| r.0 == value && cost <= DECODE_COST)?;
        Some(label(&line, text, Some(read), DECODED))
    });
    if let Some(repaired) = repaired {
        return Some(repaired);
    }
    let decoded = found
        .iter()
        .filter_map(|(line, ink_level)| {
            let level = level_for(*ink_level);
            let (text, cost) = decode(&LABEL, img, line, Band::of(line), &level)?;
            Some((cost, line, parse(&text)?, text))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((_, line, read, text)) = decoded.filter(|(cost, ..)| *cost <= DECODE_COST) {
        return Some(label(line, text, Some(read), DECODED));
    }
    // Tiny text, read whole where its glyphs could not be told apart.
    let tiny = tiny_lines
        .iter()
        .filter_map(|(line, ink_level)| {
            let r = read_tiny(img, line, bg, *ink_level, &masked)?;
            let read = parse(&r.text)?;
            (r.text.chars().count() <= TINY_CHARS && plausible(&r.text, &read)).then_some((read, r))
        })
        .min_by(|a, b| a.1.residual.total_cmp(&b.1.residual));
    if let Some((read, r)) = tiny.filter(|(_, r)| r.residual <= tiny::FIT) {
        let (value, unit) = read;
        return Some(Label { value: Some(value), unit: Some(unit), text: r.text, bbox: r.bbox, confidence: DECODED });
    }
    parsed.or(fallback)
}

/// Reads `line` whole as tiny text ([`tiny`]): the strip its glyphs stand
/// in, and on to each side to the next gap wider than a space (a glyph
/// broken into specks too small to be in the line, a word beside it), in
/// the coverage from the background `bg`
/// to the ink's own grey (the most extreme twentieth of the line's box, when
/// it lies the way of `ink_level`: tiny antialiased strokes seldom reach the
/// grey of a bar), `masked` pixels blank.
fn read_tiny(
    img: &GrayImage,
    line: &[Blob],
    bg: f32,
    ink_level: f32,
    masked: &impl Fn(u32, u32) -> bool,
) -> Option<tiny::Reading> {
    let band = Band::of(line);
    let Blob { x0, x1, .. } = Blob::around(line);
    let mut greys: Vec<f32> = (band.top..band.base)
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .filter(|&(x, y)| !masked(x, y))
        .map(|(x, y)| img.get_pixel(x, y)[0] as f32)
        .collect();
    greys.sort_by(|a, b| (a - bg).abs().total_cmp(&(b - bg).abs()));
    let own = greys.get(greys.len() * 19 / 20).copied().filter(|v| (v - bg) * (ink_level - bg) > 0.0);
    let ink = own.unwrap_or(ink_level);
    let (w, h) = img.dimensions();
    let level = toward(bg, ink);
    let coverage = |x: u32, y: u32| {
        if x < w && y < h && !masked(x, y) {
            level(img.get_pixel(x, y)[0])
        } else {
            0.0
        }
    };
    // Out to each side until a gap wider than a space between words (two
    // digit heights of columns without ink), at most six digit heights.
    let digit = band.base - band.top;
    let inked = |x: u32| (band.top..band.base).any(|y| coverage(x, y) > 0.5);
    // The last column before such a gap, going outwards over `columns`.
    let reach = |columns: &mut dyn Iterator<Item = u32>, from: u32| {
        let (mut last, mut blank) = (from, 0);
        for x in columns.take(6 * digit as usize) {
            if blank >= 2 * digit {
                break;
            }
            last = x;
            blank = if inked(x) { 0 } else { blank + 1 };
        }
        last
    };
    let (left, right) = (reach(&mut (0..x0).rev(), x0), reach(&mut (x1..w), x1 - 1));
    tiny::read(&coverage, left, right + 1, band.top, band.base)
}

/// Rows along the bar, up to [`OUTLINE_ROWS`] out from it, that stand off
/// the background `bg` (by a quarter of the bar's `contrast`) over nearly
/// its whole length: its outline and blurred edges, never text. Rows that
/// hardly do are passed over (the picture between a bar and its outline);
/// the first row that partly does (a label's glyphs) ends the search.
fn outline_rows(img: &GrayImage, [bx0, by0, bx1, by1]: [u32; 4], bg: f32, contrast: f32) -> Vec<u32> {
    let len = (bx1 - bx0) as usize;
    let off = |y: u32| (bx0..bx1).filter(|&x| (img.get_pixel(x, y)[0] as f32 - bg).abs() > contrast / 4.0).count();
    let above = (1..=OUTLINE_ROWS).map_while(|d| by0.checked_sub(d));
    let below = (0..OUTLINE_ROWS).map(|d| by1 + d).take_while(|&y| y < img.height());
    let mut rows = Vec::new();
    for side in [above.collect::<Vec<u32>>(), below.collect()] {
        for y in side {
            let n = off(y) * 10;
            if n >= len * 9 {
                rows.push(y);
            } else if n > len {
                break;
            }
        }
    }
    rows
}

/// A stroke rising from (or hanging from) an end of the bar, over the
/// bar's own columns: a bracket's tick with the bar's blurred edge, no
/// glyph. A tick is upright: a blob wider than high there is a glyph (run
/// into texture at the picture's edge, say).
fn end_tick(b: &Blob, [bx0, by0, bx1, by1]: [u32; 4]) -> bool {
    let at_end = |x: u32| b.x0 <= x + 1 && b.x1 + 1 >= x;
    let touches = b.y1 + 2 >= by0 && b.y0 <= by1 + 2;
    let over = b.x0 + 3 >= bx0 && b.x1 <= bx1 + 3 && b.w() * 2 <= bx1 - bx0 && b.w() <= b.h();
    over && touches && (at_end(bx0) || at_end(bx1))
}

fn mean(img: &GrayImage, b: [u32; 4]) -> f32 {
    let mut sum = 0.0;
    for y in b[1]..b[3] {
        for x in b[0]..b[2] {
            sum += img.get_pixel(x, y)[0] as f32;
        }
    }
    sum / ((b[2] - b[0]) * (b[3] - b[1])).max(1) as f32
}

fn ring_mean(img: &GrayImage, outer: [u32; 4], inner: [u32; 4]) -> f32 {
    let (mut sum, mut n) = (0.0, 0.0);
    for y in outer[1]..outer[3] {
        for x in outer[0]..outer[2] {
            let inside = x + 1 >= inner[0] && x <= inner[2] && y + 1 >= inner[1] && y <= inner[3];
            if !inside {
                sum += img.get_pixel(x, y)[0] as f32;
                n += 1.0;
            }
        }
    }
    if n == 0.0 {
        128.0
    } else {
        sum / n
    }
}

/// Connected components of `on` (`w × h`), 8-connected with `diagonal`,
/// else 4-connected.
pub(super) fn components(on: &[bool], w: usize, h: usize, diagonal: bool) -> Vec<Blob> {
    let mut seen = vec![false; on.len()];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..on.len() {
        if !on[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut b = Blob { x0: u32::MAX, y0: u32::MAX, x1: 0, y1: 0 };
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            b.x0 = b.x0.min(x as u32);
            b.y0 = b.y0.min(y as u32);
            b.x1 = b.x1.max(x as u32 + 1);
            b.y1 = b.y1.max(y as u32 + 1);
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if (diagonal || dx == 0 || dy == 0) && nx >= 0 && ny >= 0 && (nx as usize) < w && (ny as usize) < h
                    {
                        let j = ny as usize * w + nx as usize;
                        if on[j] && !seen[j] {
                            seen[j] = true;
                            stack.push(j);
                        }
                    }
                }
            }
        }
        out.push(b);
    }
    out
}

/// The middle of `values` (the upper of the two middle ones).
pub(super) fn median(mut values: Vec<u32>) -> u32 {
    values.sort_unstable();
    values[values.len() / 2]
}

/// How far apart two spans `[a0, a1)` and `[b0, b1)` of one axis are (0
/// where they meet or overlap).
pub(super) fn gap((a0, a1): (u32, u32), (b0, b1): (u32, u32)) -> u32 {
    if a1 <= b0 {
        b0 - a1
    } else {
        a0.saturating_sub(b1)
    }
}

/// The most glyphs (and pieces of glyphs) a label line has.
const MAX_GLYPHS: usize = 10;

/// Text lines near the bar, nearest first: blobs overlapping in height, at
/// least two of them glyph-sized (`lo` pixels high or more), with the small
/// pieces in their band (decimal points) and pieces stacked over each other
/// merged (Å's ring); `split` as in the rows below.
fn lines(blobs: &[Blob], bar: &Bar, panel_h: u32, lo: u32, split: bool) -> Vec<Vec<Blob>> {
    let [bx0, by0, bx1, by1] = bar.bbox;
    // Label glyphs are at most 12% of the panel's height.
    let len = bx1 - bx0;
    let hi = (panel_h * 12 / 100).max(24).max(len * 6 / 10);
    let mut tall: Vec<&Blob> = blobs.iter().filter(|b| (lo..=hi).contains(&b.h())).collect();
    tall.sort_by_key(|b| b.y0 + b.y1);
    // Blobs overlapping a line's rows, their middles inside them; where
    // asked, a line this chains through texture (taller than twice its
    // typical blob) is split into the rows its blobs share: each joins the
    // first whose shared rows hold its middle and whose middle it holds.
    let extent = |l: &[Blob]| (l.iter().map(|g| g.y0).min().unwrap(), l.iter().map(|g| g.y1).max().unwrap());
    let lines = rows(tall.into_iter().copied(), |l, b| {
        let (t, u) = extent(l);
        b.y0 < u && b.y1 > t && b.mid_y() >= t && b.mid_y() <= u
    });
    let lines: Vec<Vec<Blob>> = lines
        .into_iter()
        .flat_map(|l| {
            let (t, u) = extent(&l);
            if !split || u - t <= 2 * median(l.iter().map(Blob::h).collect()) {
                return vec![l];
            }
            rows(l, |l, b| {
                let (t, u) = (l.iter().map(|g| g.y0).max().unwrap(), l.iter().map(|g| g.y1).min().unwrap());
                (t..=u).contains(&b.mid_y()) && (b.y0..=b.y1).contains(&((t + u) / 2))
            })
        })
        .collect();
    // Split each line into words of glyphs of similar height with small gaps,
    // leaving out what spans the middles of two or more of its glyphs (a
    // particle's rim curving over the label is no glyph).
    let mut words: Vec<Vec<Blob>> = Vec::new();
    for l in lines {
        let spans = |g: &Blob, o: &Blob| (2 * g.x0..2 * g.x1).contains(&(o.x0 + o.x1));
        let mut l: Vec<Blob> = l.iter().filter(|g| l.iter().filter(|o| spans(g, o)).count() <= 2).copied().collect();
        if l.is_empty() {
            continue;
        }
        l.sort_by_key(|g| g.x0);
        let typical = median(l.iter().map(Blob::h).collect()).max(1);
        let mut word: Vec<Blob> = Vec::new();
        for g in l {
            if g.h() * 2 < typical || g.h() > typical * 2 {
                continue;
            }
            if word.last().is_some_and(|p| g.x0.saturating_sub(p.x1) > typical * 3 / 2) {
                words.push(std::mem::take(&mut word));
            }
            word.push(g);
        }
        words.push(word);
    }
    // A word too long for a label is two lines of text that meet: split
    // where the baseline steps by more than half a glyph's height (3537f150cd:
    // its "0.1 µm", broken into thin strokes, runs on into a larger "10"
    // on a lower baseline).
    let words: Vec<Vec<Blob>> = words
        .into_iter()
        .flat_map(|w| {
            if w.len() <= MAX_GLYPHS {
                return vec![w];
            }
            let typical = median(w.iter().map(Blob::h).collect());
            let mut parts: Vec<Vec<Blob>> = vec![Vec::new()];
            for g in w {
                let part = parts.last_mut().unwrap();
                if part.last().is_some_and(|p: &Blob| p.y1.abs_diff(g.y1) * 2 > typical) {
                    parts.push(vec![g]);
                } else {
                    part.push(g);
                }
            }
            parts
        })
        .collect();
    let near = |l: &Vec<Blob>| {
        let (t, u) = (l.iter().map(|g| g.y0).min().unwrap(), l.iter().map(|g| g.y1).max().unwrap());
        let (lx0, lx1) = (l.iter().map(|g| g.x0).min().unwrap(), l.iter().map(|g| g.x1).max().unwrap());
        let (dy, dx) = (gap((t, u), (by0, by1)), gap((lx0, lx1), (bx0, bx1)));
        // Within half the bar's length of it, or a glyph's height beside a
        // bar shorter than that, or, on the bar's own rows, the line's own
        // width (JEOL prints `100nm` well to the right of its bar).
        let by = (len / 2).max(u - t).max(if dy == 0 { lx1 - lx0 } else { 0 });
        (dy + dx, lx1 > bx0.saturating_sub(by) && lx0 < bx1 + by)
    };
    let mut candidates: Vec<Vec<Blob>> =
        words.into_iter().filter(|l| (2..=MAX_GLYPHS).contains(&l.len()) && near(l).1).collect();
    candidates.sort_by_key(|l| near(l).0);
    // Still two glyphs once stacked pieces are one (not a bar's end cap,
    // cut in two by the bar).
    candidates.into_iter().map(|l| complete(l, blobs)).filter(|l| l.len() >= 2).collect()
}

/// `blobs` in rows, in order: each joins the first row that `joins` it, or
/// starts one.
fn rows(blobs: impl IntoIterator<Item = Blob>, joins: impl Fn(&[Blob], &Blob) -> bool) -> Vec<Vec<Blob>> {
    let mut rows: Vec<Vec<Blob>> = Vec::new();
    for b in blobs {
        match rows.iter_mut().find(|r| joins(r, &b)) {
            Some(r) => r.push(b),
            None => rows.push(vec![b]),
        }
    }
    rows
}

/// A point has room between the glyphs either side of it: their gap is
/// wider than the point (a speck filling the gap between two digits that
/// nearly touch is texture).
fn clear(line: &[Blob], p: &Blob) -> bool {
    let left = line.iter().filter(|g| g.x1 <= p.x0 + 1).map(|g| g.x1).max();
    let right = line.iter().filter(|g| g.x0 + 1 >= p.x1).map(|g| g.x0).min();
    match (left, right) {
        (Some(l), Some(r)) => r.saturating_sub(l) > p.w() + 1,
        _ => true,
    }
}

fn complete(mut line: Vec<Blob>, blobs: &[Blob]) -> Vec<Blob> {
    let t = line.iter().map(|g| g.y0).min().unwrap();
    let base = median(line.iter().map(|g| g.y1).collect());
    let (lx0, lx1) = (line.iter().map(|g| g.x0).min().unwrap(), line.iter().map(|g| g.x1).max().unwrap());
    let band = base.saturating_sub(t).max(1);
    // Decimal points: small, inside the line, sitting on its baseline,
    // between glyphs (not a piece inside one).
    for b in blobs {
        let small = b.h() * 3 <= band && b.w() * 2 <= band && b.h() >= 1;
        let centre = b.x0 + b.x1;
        if small
            && b.x0 > lx0
            && b.x1 < lx1
            && b.y1.abs_diff(base) * 4 <= band
            && !line.iter().any(|g| centre >= 2 * g.x0 && centre < 2 * g.x1)
            && clear(&line, b)
        {
            line.push(*b);
        }
    }
    line.sort_by_key(|g| g.x0);
    // A thin-stroked 0 or 8 that fell apart into its two sides.
    let mut joined: Vec<Blob> = Vec::new();
    for g in line {
        if let Some(last) = joined.last_mut() {
            let narrow = |b: &Blob| b.w() * 2 < b.h();
            let similar = last.h().abs_diff(g.h()) * 5 <= last.h();
            if narrow(last) && narrow(&g) && similar && g.x0 <= last.x1 + 2 && last.h() * 3 > band * 2 {
                *last = Blob { x0: last.x0, y0: last.y0.min(g.y0), x1: g.x1.max(last.x1), y1: last.y1.max(g.y1) };
                continue;
            }
        }
        joined.push(g);
    }
    let line = joined;
    // Merge pieces stacked over each other (Å, µ drawn in two strokes).
    let mut merged: Vec<Blob> = Vec::new();
    for g in line {
        if let Some(last) = merged.last_mut() {
            let overlap = last.x1.min(g.x1).saturating_sub(last.x0.max(g.x0));
            if overlap * 2 > last.w().min(g.w()) && (g.y1 <= last.y0 + 2 || last.y1 <= g.y0 + 2) {
                *last =
                    Blob { x0: last.x0.min(g.x0), y0: last.y0.min(g.y0), x1: last.x1.max(g.x1), y1: last.y1.max(g.y1) };
                continue;
            }
        }
        merged.push(g);
    }
    merged
}

/// A text line's digit band: the top of its tallest glyphs and its baseline.
#[derive(Debug, Clone, Copy)]
pub(super) struct Band {
    pub top: u32,
    pub base: u32,
}

impl Band {
    /// The band of a line's own glyphs (those at least half the tallest).
    pub fn of(line: &[Blob]) -> Band {
        let tallest = line.iter().map(Blob::h).max().unwrap_or(1);
        let glyphs = || line.iter().filter(|g| g.h() * 2 >= tallest);
        let mut bottoms: Vec<u32> = glyphs().map(|g| g.y1).collect();
        bottoms.sort_unstable();
        let base = bottoms.get(bottoms.len() / 2).copied().unwrap_or(1);
        let top = glyphs().map(|g| g.y0).min().unwrap_or(base.saturating_sub(1));
        Band { top, base }
    }

    pub fn height(&self) -> f32 {
        self.base.saturating_sub(self.top).max(1) as f32
    }
}

impl Glyphs {
    /// The nearest template's character for glyph `g`, its margin (how much
    /// farther the best template of any other character is, 0–1) and its
    /// distance.
    pub(super) fn best(&self, img: &GrayImage, g: &Blob, band: Band, level: &impl Fn(u8) -> f32) -> (char, f64, f32) {
        let (geometry, pixels) = features(img, g, band, level);
        // The two best characters: the best template's, and the best
        // template's of any other character. A template at least as far as
        // the second cannot change either, so its distance is cut short.
        let (mut c1, mut d1, mut d2) = (0, f32::INFINITY, f32::INFINITY);
        for t in &self.templates {
            let Some(d) = distance(t, &geometry, &pixels, d2) else { continue };
            if t.ch == c1 {
                d1 = d1.min(d);
            } else if d < d1 {
                (c1, d1, d2) = (t.ch, d, d1);
            } else {
                d2 = d;
            }
        }
        let ch = if self.crisp { by_holes(self.chars[c1], &holes(img, g, level)) } else { self.chars[c1] };
        (ch, if d2 > 0.0 && d2.is_finite() { ((d2 - d1) / d2) as f64 } else { 0.0 }, d1)
    }

    /// The distance of glyph `g` to each character (its best template).
    fn distances(&self, img: &GrayImage, g: &Blob, band: Band, level: &impl Fn(u8) -> f32) -> Vec<f32> {
        let (geometry, pixels) = features(img, g, band, level);
        let mut per_char = vec![f32::INFINITY; self.chars.len()];
        for t in &self.templates {
            if let Some(d) = distance(t, &geometry, &pixels, per_char[t.ch]) {
                per_char[t.ch] = d;
            }
        }
        per_char
    }

    /// Nearest-template characters for the glyphs of a line, with spaces
    /// where the gap is wide. Returns the text and the weakest glyph's
    /// margin (see [`Label::confidence`]).
    pub(super) fn line(&self, img: &GrayImage, line: &[Blob], band: Band, level: &impl Fn(u8) -> f32) -> (String, f64) {
        let mut text = String::new();
        let mut weakest = 1.0f64;
        for (i, g) in line.iter().enumerate() {
            if i > 0 && (g.x0 as f32 - line[i - 1].x1 as f32) > 0.35 * band.height() {
                text.push(' ');
            }
            for (ch, margin, _) in self.read(img, g, band, level) {
                text.push(ch);
                weakest = weakest.min(margin);
            }
        }
        (text, weakest)
    }

    /// A glyph read as one character, or as two where it is wide and reads
    /// much better cut in two: glyphs that touch (`nL` in 1-bit bold italic,
    /// `00` in a bold serif label) are cut at the thin column that gives the
    /// two best reads. Each character with its margin and its box.
    pub(super) fn read(&self, img: &GrayImage, g: &Blob, band: Band, level: &impl Fn(u8) -> f32) -> Vec<Read> {
        let (ch, margin, whole) = self.best(img, g, band, level);
        let mut best: Option<(f32, [Read; 2])> = None;
        for (l, r) in cuts(img, g, band, level) {
            let ((lc, lm, ld), (rc, rm, rd)) = (self.best(img, &l, band, level), self.best(img, &r, band, level));
            if best.as_ref().is_none_or(|(d, _)| ld.max(rd) < *d) {
                best = Some((ld.max(rd), [(lc, lm, l), (rc, rm, r)]));
            }
        }
        match best {
            Some((d, parts)) if d < SPLIT * whole => parts.to_vec(),
            _ => vec![(ch, margin, *g)],
        }
    }
}

/// The ways glyph `g` may be two glyphs that touch: cut at each thin column
/// (ink in at most a third of its rows) or, where a glyph at least as wide
/// as the band is high has none (blurred `00` joined along their sides),
/// at its least inked columns in the middle three fifths; each side trimmed
/// to its ink. None for a glyph narrower than the band is high.
fn cuts(img: &GrayImage, g: &Blob, band: Band, level: &impl Fn(u8) -> f32) -> Vec<(Blob, Blob)> {
    if (g.w() as f32) < 0.8 * band.height() || g.w() < 6 {
        return Vec::new();
    }
    let ink = |x: u32, y: u32| level(img.get_pixel(x, y)[0]) > 0.5;
    // The part of `g` between columns a and b, trimmed to its ink.
    let part = |a: u32, b: u32| {
        let rows: Vec<u32> = (g.y0..g.y1).filter(|y| (a..b).any(|x| ink(x, *y))).collect();
        let cols: Vec<u32> = (a..b).filter(|x| (g.y0..g.y1).any(|y| ink(*x, y))).collect();
        Some(Blob { x0: *cols.first()?, y0: *rows.first()?, x1: cols.last()? + 1, y1: rows.last()? + 1 })
    };
    let inked = |c: u32| (g.y0..g.y1).filter(|y| ink(c, *y)).count();
    let mut at: Vec<u32> = (g.x0 + 2..g.x1 - 2).filter(|&c| inked(c) * 3 <= g.h() as usize).collect();
    if at.is_empty() && g.w() as f32 >= band.height() {
        let middle = g.x0 + g.w() / 5..g.x1 - g.w() / 5;
        let least = middle.clone().map(inked).min().unwrap_or(0);
        at = middle.filter(|&c| inked(c) <= least + 1).collect();
    }
    at.into_iter().filter_map(|c| Some((part(g.x0, c)?, part(c, g.x1)?))).collect()
}

/// A round digit as its one hole says: in the upper part a 9, in the lower
/// part a 6, from top to bottom a 0 (a 1-bit italic 9 is nearer a 0's
/// template than a 9's). An 8 stays an 8 (blur may close one of its holes;
/// a 6 whose hook nearly closes has two), and other characters are left as
/// read.
fn by_holes(ch: char, holes: &[(f32, f32)]) -> char {
    match (ch, holes) {
        ('0' | '6' | '9', [(_, bottom)]) if *bottom <= 0.62 => '9',
        ('0' | '6' | '9', [(top, _)]) if *top >= 0.38 => '6',
        ('6' | '9', [(top, bottom)]) if *top <= 0.3 && *bottom >= 0.7 => '0',
        _ => ch,
    }
}

/// The holes of glyph `g` (background its outside cannot reach, two pixels
/// or more), each as its top and bottom, shares of the glyph's height.
fn holes(img: &GrayImage, g: &Blob, level: &impl Fn(u8) -> f32) -> Vec<(f32, f32)> {
    let ink = |x: usize, y: usize| level(img.get_pixel(g.x0 + x as u32, g.y0 + y as u32)[0]) > 0.5;
    // A 4-connected region of two pixels or more has a box of two or more.
    let gh = g.h() as f32;
    hole_boxes(g.w() as usize, g.h() as usize, ink)
        .into_iter()
        .filter(|r| r.w() * r.h() >= 2)
        .map(|r| (r.y0 as f32 / gh, r.y1 as f32 / gh))
        .collect()
}

/// The boxes of the holes in a `w` x `h` glyph whose pixels `ink(x, y)`
/// tells: background its outside cannot reach, 4-connected (background
/// slips between the diagonal steps of a 1-bit stroke).
pub(super) fn hole_boxes(w: usize, h: usize, ink: impl Fn(usize, usize) -> bool) -> Vec<Blob> {
    // The glyph's box with a one-pixel margin, so the outside is connected.
    let (mw, mh) = (w + 2, h + 2);
    let background: Vec<bool> = (0..mw * mh)
        .map(|i| {
            let (x, y) = (i % mw, i / mw);
            let inside = (1..mw - 1).contains(&x) && (1..mh - 1).contains(&y);
            !(inside && ink(x - 1, y - 1))
        })
        .collect();
    // What reaches the margin is outside.
    components(&background, mw, mh, false)
        .into_iter()
        .filter(|r| r.x0 > 0 && r.y0 > 0 && r.x1 < mw as u32 && r.y1 < mh as u32)
        .map(|r| Blob { x0: r.x0 - 1, y0: r.y0 - 1, x1: r.x1 - 1, y1: r.y1 - 1 })
        .collect()
}

/// The distance of a glyph to a template, or `None` once it reaches `bound`.
fn distance(t: &Template, geometry: &[f32; 4], pixels: &[f32; GW * GH], bound: f32) -> Option<f32> {
    let geo: f32 = t.geometry.iter().zip(geometry).map(|(a, b)| (a - b) * (a - b)).sum();
    let mut d = GEOMETRY_WEIGHT * geo;
    // Row by row, stopping as soon as the bound is reached.
    for (row, glyph) in t.pixels.chunks_exact(GW).zip(pixels.chunks_exact(GW)) {
        if d >= bound {
            return None;
        }
        d += row.iter().zip(glyph).map(|(a, b)| (a - b) * (a - b)).sum::<f32>() / (GW * GH) as f32;
    }
    (d < bound).then_some(d)
}

/// A glyph's place in its line (aspect, height, top and bottom against the
/// band) and its ink coverage.
fn features(img: &GrayImage, g: &Blob, band: Band, level: &impl Fn(u8) -> f32) -> ([f32; 4], [f32; GW * GH]) {
    let h = band.height();
    let geometry = [
        g.w() as f32 / g.h() as f32 - 1.0,
        g.h() as f32 / h - 1.0,
        (g.y0 as f32 - band.top as f32) / h,
        (g.y1 as f32 - band.base as f32) / h,
    ]
    .map(|v| v.clamp(-2.0, 2.0));
    (geometry, sample(img, g, level))
}

/// The glyph's ink coverage resampled to `GW × GH` (area average).
fn sample(img: &GrayImage, g: &Blob, level: &impl Fn(u8) -> f32) -> [f32; GW * GH] {
    let (w, h) = (g.w() as f32, g.h() as f32);
    std::array::from_fn(|i| {
        let (cx, cy) = ((i % GW) as f32, (i / GW) as f32);
        let (x0, x1) = (g.x0 as f32 + cx * w / GW as f32, g.x0 as f32 + (cx + 1.0) * w / GW as f32);
        let (y0, y1) = (g.y0 as f32 + cy * h / GH as f32, g.y0 as f32 + (cy + 1.0) * h / GH as f32);
        let (mut sum, mut n) = (0.0, 0.0);
        let mut y = y0.floor();
        while y < y1 {
            let mut x = x0.floor();
            while x < x1 {
                sum += level(img.get_pixel((x as u32).min(g.x1 - 1), (y as u32).min(g.y1 - 1))[0]);
                n += 1.0;
                x += 1.0;
            }
            y += 1.0;
        }
        if n > 0.0 {
            sum / n
        } else {
            0.0
        }
    })
}

/// The region a label is looked for in: the bar and the band above and
/// below it, half a bar length to each side.
pub fn label_region(img: &GrayImage, bar: [u32; 4]) -> [u32; 4] {
    let (w, h) = img.dimensions();
    let len = bar[2] - bar[0];
    let reach = (h / 7).max(24);
    [bar[0].saturating_sub(len / 2), bar[1].saturating_sub(reach), (bar[2] + len / 2).min(w), (bar[3] + reach).min(h)]
}

/// The label near `bar` as the `tesseract` program reads it, or `None` when
/// it is not installed or reads no length. The crop is set as dark text on
/// white first: each grey's distance from the background towards the bar's
/// grey (the label's colour, as a rule) becomes its darkness, so that white
/// text on a black bar, grey texture and JPEG noise all come out alike; it
/// is then upscaled 3×, given a white margin, and read as sparse text
/// limited to the characters of a length.
pub fn tesseract(img: &GrayImage, bar: [u32; 4]) -> Option<(f64, String)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    const MARGIN: u32 = 20;
    let (w, h) = img.dimensions();
    let r = label_region(img, bar);
    let [bx0, by0, bx1, by1] = bar;
    let ring = [bx0.saturating_sub(3), by0.saturating_sub(3), (bx1 + 3).min(w), (by1 + 3).min(h)];
    let (ink, bg) = (mean(img, bar), ring_mean(img, ring, bar));
    let level = |v: u8| {
        if (ink - bg).abs() < 30.0 {
            v as f32 / 255.0
        } else {
            1.0 - toward(bg, ink)(v)
        }
    };
    let crop = GrayImage::from_fn(r[2] - r[0], r[3] - r[1], |x, y| {
        image::Luma([(255.0 * level(img.get_pixel(r[0] + x, r[1] + y)[0])).round() as u8])
    });
    let big =
        image::imageops::resize(&crop, crop.width() * 3, crop.height() * 3, image::imageops::FilterType::CatmullRom);
    let mut padded = GrayImage::from_pixel(big.width() + 2 * MARGIN, big.height() + 2 * MARGIN, image::Luma([255]));
    image::imageops::replace(&mut padded, &big, MARGIN as i64, MARGIN as i64);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("emtrace-label-{}-{n}.png", std::process::id()));
    padded.save(&path).ok()?;
    let out = std::process::Command::new("tesseract")
        .arg(&path)
        .arg("stdout")
        .args(["--psm", "11", "-c", "tessedit_char_whitelist=0123456789.,nmuµÅ"])
        .output();
    std::fs::remove_file(&path).ok();
    first_length(&String::from_utf8_lossy(&out.ok()?.stdout).replace('μ', "µ"))
}

/// The first length ("200 nm", "1µm") among the words of `text`.
pub fn first_length(text: &str) -> Option<(f64, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    (0..words.len()).find_map(|i| {
        parse(words[i]).or_else(|| words.get(i + 1).and_then(|next| parse(&format!("{} {next}", words[i]))))
    })
}

/// "200 nm", "0.5µm", "5 Å", "1 um" → (value, SI unit).
pub fn parse(text: &str) -> Option<(f64, String)> {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num.replace(',', ".").trim_matches('.').parse().ok()?;
    let unit = match unit {
        "nm" => "nm",
        "µm" | "um" | "μm" => "µm",
        "mm" => "mm",
        "pm" => "pm",
        "Å" | "A" => "Å",
        _ => return None,
    };
    (value > 0.0).then(|| (value, unit.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob box, as the label reader's debug output lists them.
    fn blob(x0: u32, y0: u32, x1: u32, y1: u32) -> Blob {
        Blob { x0, y0, x1, y1 }
    }

    #[test]
    fn parses_label_forms() {
        assert_eq!(parse("200 nm"), Some((200.0, "nm".into())));
        assert_eq!(parse("0.5µm"), Some((0.5, "µm".into())));
        assert_eq!(parse("1 um"), Some((1.0, "µm".into())));
        assert_eq!(parse("2,5 mm"), Some((2.5, "mm".into())));
        assert_eq!(parse("5 Å"), Some((5.0, "Å".into())));
        assert_eq!(parse("nm"), None);
        assert_eq!(parse("200 xy"), None);
    }

    #[test]
    fn the_label_grammar_and_what_it_keeps() {
        let reads =
            |text: &str| text.chars().try_fold(Grammar::Start, |s, c| s.next(c)).is_some_and(|s| s == Grammar::Done);
        let kept = |text: &str| parse(text).is_some_and(|r| plausible(text, &r));
        let good = ["100nm", "0.5µm", "2,5µm", "200nm", "250nm", "0.25µm", "1.00µm", "0.05µm", "3000nm", "10.0nm"];
        let bad = ["100", "nm", "10nn", "73µm", "0388nm", "150nm", "205nm", "2Å", "1mm", "5pm"];
        for text in good {
            assert!(reads(text) && kept(text), "{text}");
        }
        for text in bad {
            assert!(!reads(text) && !kept(text), "{text}");
        }
        // "um" as printed is kept, and read by the grammar too (at a little
        // extra cost, so that a "u" wins over an "n" or "µ" only where it
        // fits clearly better).
        assert!(kept("100um") && reads("100um"));
        // Spaces a glyph read puts round a point are no leading zero.
        assert!(kept("0 . 2 µm") && !kept("0 50 nm"));
        assert!(!reads("1.nm"));
        // A point with no digit after it is a speck, not part of the value.
        assert!(!kept("100.um") && !kept("100 . nm") && kept("100 nm"));
    }

    #[test]
    fn round_digits_by_their_holes() {
        // 1-bit glyphs, '#' ink: a 0, an italic 9 whose tail joins its
        // bowl with a one-pixel hole (not counted), a 6, and an 8.
        let glyph = |rows: &[&str]| {
            let img = GrayImage::from_fn(rows[0].len() as u32, rows.len() as u32, |x, y| {
                image::Luma([if rows[y as usize].as_bytes()[x as usize] == b'#' { 255 } else { 0 }])
            });
            let g = Blob { x0: 0, y0: 0, x1: img.width(), y1: img.height() };
            holes(&img, &g, &|v: u8| v as f32 / 255.0)
        };
        let zero = glyph(&[".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."]);
        let nine = glyph(&[
            "..###.", ".##.##", "##..##", "##..##", "##..##", "##.###", ".##.##", "...##.", "##.##.", ".###..",
        ]);
        let six = glyph(&[".###.", "#....", "#....", "####.", "#...#", "#...#", ".###."]);
        let eight = glyph(&[".###.", "#...#", ".###.", "#...#", "#...#", ".###."]);
        assert_eq!((zero.len(), nine.len(), six.len(), eight.len()), (1, 1, 1, 2));
        assert_eq!(by_holes('0', &zero), '0');
        assert_eq!(by_holes('0', &nine), '9');
        assert_eq!(by_holes('0', &six), '6');
        assert_eq!(by_holes('9', &zero), '0');
        assert_eq!(by_holes('8', &nine), '8');
        assert_eq!(by_holes('0', &eight), '0');
    }

    #[test]
    fn a_bracket_tick_is_no_glyph() {
        // A bracket's base [561, 491, 577, 494]: its right tick (with the
        // base's blurred top row) rising from its end is no glyph; a digit
        // beside the bar, or one over its middle, is.
        let bar = [561, 491, 577, 494];
        assert!(end_tick(&Blob { x0: 571, y0: 484, x1: 579, y1: 494 }, bar));
        assert!(end_tick(&Blob { x0: 559, y0: 482, x1: 563, y1: 490 }, bar));
        assert!(!end_tick(&Blob { x0: 591, y0: 481, x1: 599, y1: 497 }, bar));
        assert!(!end_tick(&Blob { x0: 566, y0: 478, x1: 572, y1: 489 }, bar));
        // 70f9f13af4's "m" over a long bar's right end, run into texture:
        // wider than high, so a glyph.
        let long = [400, 491, 560, 494];
        assert!(!end_tick(&Blob { x0: 545, y0: 478, x1: 562, y1: 490 }, long));
        assert!(end_tick(&Blob { x0: 557, y0: 478, x1: 562, y1: 490 }, long));
    }

    #[test]
    fn a_point_needs_room_between_its_glyphs() {
        // Two 20-px digits on baseline 40; a 3-px speck on the baseline
        // between them is a decimal point only where the gap is wider than
        // the speck (60feb7de8f's "1 µm" had read "3nm" through a speck
        // between the glyphs' touching edges).
        let digit = |x0| Blob { x0, y0: 20, x1: x0 + 10, y1: 40 };
        let point = |x0| Blob { x0, y0: 37, x1: x0 + 3, y1: 40 };
        let wide = complete(vec![digit(0), digit(16)], &[point(12)]);
        assert_eq!(wide.len(), 3);
        let tight = complete(vec![digit(0), digit(13)], &[point(10)]);
        assert_eq!(tight.len(), 2);
    }

    #[test]
    fn a_label_running_into_larger_text_is_cut_at_its_baseline() {
        // 3537f150cd at its bar's grey: "0.1 µm" in thin strokes (a 0's two
        // sides, a 1, the µ and the m in pieces, baseline 491) runs on
        // into a larger "10…" on baseline 502: thirteen pieces, too many
        // for a label, unless cut where the baseline steps.
        let blobs = [
            blob(11, 471, 16, 490),
            blob(19, 473, 24, 489),
            blob(36, 471, 41, 491),
            blob(54, 478, 61, 496),
            blob(62, 478, 68, 491),
            blob(71, 478, 76, 491),
            blob(77, 477, 83, 491),
            blob(85, 477, 91, 491),
            blob(101, 475, 110, 502),
            blob(118, 474, 135, 502),
            blob(137, 475, 154, 502),
            blob(157, 483, 176, 502),
            blob(178, 483, 196, 502),
        ];
        let bar = Bar { bbox: [11, 499, 61, 501], length_px: 50.0, light: false };
        let found = lines(&blobs, &bar, 512, 7, false);
        let label = found.first().expect("the label's line");
        assert_eq!((label[0].x0, label.iter().map(|g| g.x1).max()), (11, Some(91)), "{found:?}");
    }

    #[test]
    fn a_line_chained_through_texture_is_split_into_its_rows() {
        // 5addfe7111 at its bar's grey: a serif "5" and an "nm" (baseline
        // 491) among specks whose overlapping rows chain them all, from row
        // 454 to 504, into one line; the specks' small heights made the gap
        // after the "5" look wide, and it was left out.
        let blobs = [
            blob(147, 434, 151, 443),
            blob(107, 454, 111, 461),
            blob(172, 454, 184, 468),
            blob(167, 460, 169, 467),
            blob(191, 460, 200, 468),
            blob(196, 461, 206, 471),
            blob(95, 464, 105, 475),
            blob(208, 466, 211, 474),
            blob(194, 468, 201, 478),
            blob(177, 454, 201, 494),
            blob(159, 470, 174, 484),
            blob(13, 468, 27, 491),
            blob(47, 475, 62, 491),
            blob(63, 476, 80, 491),
            blob(107, 482, 118, 504),
            blob(119, 483, 126, 492),
            blob(126, 483, 132, 490),
            blob(116, 490, 134, 504),
        ];
        let bar = Bar { bbox: [12, 498, 71, 502], length_px: 59.0, light: false };
        let starts = |split| -> Vec<Vec<u32>> {
            lines(&blobs, &bar, 512, 7, split).iter().map(|l| l.iter().map(|g| g.x0).collect()).collect()
        };
        assert_eq!(starts(true).first(), Some(&vec![13, 47, 63]), "{:?}", starts(true));
        assert!(!starts(false).iter().any(|l| l.contains(&13)), "{:?}", starts(false));
    }

    #[test]
    fn an_outline_round_a_bar_is_no_text() {
        // A white bar (rows 20-23) in a dark outline (rows 18 and 25, with a
        // row of the grey picture between it and the bar above), a glyph's
        // foot standing on the outline at row 17.
        let img = GrayImage::from_fn(60, 40, |x, y| {
            let v = match y {
                20..=23 if (10..50).contains(&x) => 250,
                18 | 25 if (9..51).contains(&x) => 60,
                17 if (12..15).contains(&x) => 60,
                _ => 190,
            };
            image::Luma([v])
        });
        assert_eq!(outline_rows(&img, [10, 20, 50, 24], 190.0, 60.0), vec![18, 25]);
        // No outline: the rows round the bar are the picture's.
        let plain = GrayImage::from_fn(60, 40, |x, y| {
            image::Luma([if (20..24).contains(&y) && (10..50).contains(&x) { 250 } else { 190 }])
        });
        assert!(outline_rows(&plain, [10, 20, 50, 24], 190.0, 60.0).is_empty());
    }

    #[test]
    fn a_template_file_cut_short_keeps_its_whole_records() {
        // Heads say 2 and 3 body bytes; the third record is cut in its body,
        // a fourth in its head.
        let bytes = [[2, 0, 0, 0, 0, 7, 7].as_slice(), &[3, 0, 0, 0, 0, 8, 8, 8], &[2, 0, 0, 0, 0, 9]].concat();
        let read: Vec<_> = records(&bytes, |[n, ..]| n as usize).collect();
        assert_eq!(read, vec![([2, 0, 0, 0, 0], [7, 7].as_slice()), ([3, 0, 0, 0, 0], [8, 8, 8].as_slice())]);
        assert_eq!(records(&bytes[..3], |_| 0).count(), 0);
    }

    #[test]
    fn grammar_states_index_their_list() {
        assert!(Grammar::ALL.iter().enumerate().all(|(i, s)| s.index() == i));
    }

    #[test]
    fn templates_load() {
        for set in [&*LABEL, &*TEXT] {
            assert!(set.templates.len() > 500);
            assert!((0..set.chars.len()).all(|c| set.templates.iter().any(|t| t.ch == c)));
        }
    }
}
