//! Reading tiny data-bar text: capitals 5 to 7 pixels high whose letters
//! touch and whose thin strokes may be gone, as a bar drawn at a larger size
//! comes out when its image is shrunk by nearest neighbour (Zeiss's
//! 512-pixel images carry the 1024-pixel bar's text decimated). Such glyphs
//! cannot be told apart as connected components, so a cell is read whole:
//! its columns are explained left to right, each either as blank or as
//! part of a 1-bit template rendered through the same shrinking
//! (`small-glyphs.bin`, written by `.ci/make-glyphs`), by dynamic
//! programming for the fewest mismatched pixels. A round digit's template
//! fits only where the cell shows its holes (a 6 its closed lower bowl).
//! Where a reading in the form of a setting the bar prints (`EHT = 5.00 kV`)
//! costs little more than the free reading, it is taken.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use regex_automata::dfa::{dense, Automaton};
use regex_automata::util::primitives::StateID;
use regex_automata::{Anchored, Input};

use super::ocr::{self, TEXT_CHARS};

/// One character as shrunk text shows it.
struct Template {
    ch: char,
    /// The capital height of its rendering.
    cap: u8,
    /// Its top row against the baseline (negative above it).
    top: i8,
    height: u8,
    /// One bit mask per column, bit r for row r from its top.
    cols: Vec<u16>,
}

static TEMPLATES: LazyLock<Vec<Template>> = LazyLock::new(|| {
    let chars: Vec<char> = TEXT_CHARS.chars().collect();
    ocr::records(include_bytes!("small-glyphs.bin"), |[_, _, w, ..]| 2 * w as usize)
        .map(|([ch, cap, _, h, top], cols)| Template {
            ch: chars[ch as usize],
            cap,
            top: top as i8,
            height: h,
            cols: cols.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect(),
        })
        .collect()
});

/// Rows read above the capitals and below the baseline (accents,
/// descenders).
const ABOVE: u32 = 2;
const BELOW: u32 = 3;
/// What a blank column costs over its ink, and what each glyph costs:
/// among readings as good, the one with fewer, wider glyphs.
const BLANK: f32 = 0.05;
const GLYPH: f32 = 0.3;
/// What a round digit costs where the cell lacks its holes.
const HOLES: f32 = 3.0;
/// A reading in a setting's form is taken when it costs at most this much
/// more than the free reading, per pixel of ink in the cell.
const FORM: f32 = 0.1;

/// The settings Zeiss prints as `Key = value`, spaces left out.
const FORMS: &str = r"(?:EHT=[0-9]+\.[0-9]+kV|WD=[0-9]+\.[0-9]+mm|Mag=[0-9]+(?:\.[0-9]+)?K?X|SignalA=(?:InLens|SE1|SE2|HE-SE2|BSD|QBSD|AsB|EsB|CL|VPSE)|Date:[0-9]{1,2}(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[0-9]{4}|Time:[0-9]{1,2}:[0-9]{2}:[0-9]{2})$";

static FORM_DFA: LazyLock<dense::DFA<Vec<u32>>> =
    LazyLock::new(|| dense::DFA::new(FORMS).expect("the settings' forms are a valid pattern"));

/// A word read and its box (image pixels, exclusive ends).
pub(super) type Word = (String, [u32; 4]);

/// The words of the cell of tiny text over columns `x0..x1`, its capitals
/// `cap` rows high standing on row `base` (the first row under them), where
/// `ink` says which pixels are ink. Empty where no template has that
/// capital height.
pub(super) fn read(ink: &impl Fn(u32, u32) -> bool, x0: u32, x1: u32, base: u32, cap: u32) -> Vec<Word> {
    let Some(top) = base.checked_sub(cap + ABOVE) else { return Vec::new() };
    let rows = cap + ABOVE + BELOW;
    let cols: Vec<u16> = (x0..x1).map(|x| (0..rows).filter(|r| ink(x, top + r)).fold(0, |m, r| m | 1 << r)).collect();
    let places = Places::new(&cols, cap);
    let free = places.best(None);
    let ink_px: u32 = cols.iter().map(|c| c.count_ones()).sum();
    let chosen = match places.best(Some(&FORM_DFA)) {
        Some(form) if free.as_ref().is_some_and(|f| form.0 <= f.0 + FORM * ink_px as f32) => Some(form),
        _ => free,
    };
    let Some((_, placed)) = chosen else { return Vec::new() };
    let mut words: Vec<Word> = Vec::new();
    let mut last: Option<(char, u32)> = None;
    for (ch, at, w, t) in placed {
        let (gx0, gx1) = (x0 + at as u32, x0 + (at + w) as u32);
        let gy0 = (base as i32 + t.top as i32).max(0) as u32;
        let (gy1, word) = (gy0 + t.height as u32, words.last_mut());
        match (word, last) {
            (Some((text, b)), Some((prev, end))) if !spaced(prev, ch, gx0 - end, cap) => {
                text.push(ch);
                *b = [b[0], b[1].min(gy0), gx1, b[3].max(gy1)];
            }
            _ => words.push((ch.to_string(), [gx0, gy0, gx1, gy1])),
        }
        last = Some((ch, gx1));
    }
    words
}

/// Whether a gap of `gap` columns between characters `a` and `b` is a
/// space: a wide one always; one of a third of the capital height only
/// between a letter, a digit and a sign (shrinking leaves letters of one
/// word as far apart as that: `In Le ns`).
fn spaced(a: char, b: char, gap: u32, cap: u32) -> bool {
    let class = |c: char| (c.is_alphabetic(), c.is_ascii_digit() || c == '.');
    gap * 2 >= cap || (gap * 3 >= cap && class(a) != class(b))
}

/// A reading: its cost, and each glyph's character, first column, width
/// and template.
type Reading = (f32, Vec<(char, usize, usize, &'static Template)>);

/// A cost and the template that gives it.
type Cheapest = (f32, &'static Template);

/// The cheapest template of each character at each column and width.
struct Places<'a> {
    cols: &'a [u16],
    /// Per first column: (character, width, cost, template).
    at: Vec<Vec<(char, usize, f32, &'static Template)>>,
}

impl<'a> Places<'a> {
    fn new(cols: &'a [u16], cap: u32) -> Places<'a> {
        let rows = cap + ABOVE + BELOW;
        // Per first column, the cheapest template of each character and width.
        let mut best: Vec<BTreeMap<(char, usize), Cheapest>> = vec![BTreeMap::new(); cols.len()];
        let mut holes: HashMap<(usize, usize), Holes> = HashMap::new();
        for t in TEMPLATES.iter().filter(|t| t.cap as u32 == cap) {
            // The template's first row among the cell's rows.
            let shift = t.top as i32 + (cap + ABOVE) as i32;
            if shift < 0 || shift as u32 + t.height as u32 > rows {
                continue;
            }
            let w = t.cols.len();
            for x in 0..cols.len().saturating_sub(w - 1) {
                let mut cost: f32 =
                    t.cols.iter().zip(&cols[x..x + w]).map(|(m, c)| ((m << shift) ^ c).count_ones() as f32).sum();
                if let Some(need) = Holes::of_digit(t.ch) {
                    let seen = *holes.entry((x, w)).or_insert_with(|| Holes::in_columns(&cols[x..x + w], rows));
                    if seen != need {
                        cost += HOLES;
                    }
                }
                let slot = best[x].entry((t.ch, w)).or_insert((f32::INFINITY, t));
                if cost < slot.0 {
                    *slot = (cost, t);
                }
            }
        }
        let at = best.into_iter().map(|m| m.into_iter().map(|((ch, w), (c, t))| (ch, w, c, t)).collect()).collect();
        Places { cols, at }
    }

    /// The cheapest reading of all the columns, free or (with `form`) one
    /// the automaton accepts whole.
    fn best(&self, form: Option<&dense::DFA<Vec<u32>>>) -> Option<Reading> {
        let n = self.cols.len();
        let start = match form {
            Some(dfa) => dfa.start_state_forward(&Input::new("").anchored(Anchored::Yes)).ok()?,
            None => StateID::ZERO,
        };
        // Per column: state -> (cost, previous column, previous state, glyph).
        type Back = (f32, usize, StateID, Option<(char, usize, &'static Template)>);
        let mut dp: Vec<BTreeMap<StateID, Back>> = vec![BTreeMap::new(); n + 1];
        dp[0].insert(start, (0.0, 0, start, None));
        for x in 0..n {
            let states: Vec<(StateID, f32)> = dp[x].iter().map(|(s, b)| (*s, b.0)).collect();
            for (s, cost) in states {
                let mut offer = |to: usize, next: StateID, c: f32, glyph| {
                    let slot = dp[to].entry(next).or_insert((f32::INFINITY, 0, start, None));
                    if c < slot.0 {
                        *slot = (c, x, s, glyph);
                    }
                };
                offer(x + 1, s, cost + self.cols[x].count_ones() as f32 + BLANK, None);
                for &(ch, w, c, t) in &self.at[x] {
                    let next = match form {
                        Some(dfa) => match step(dfa, s, ch) {
                            Some(next) => next,
                            None => continue,
                        },
                        None => s,
                    };
                    offer(x + w, next, cost + c + GLYPH, Some((ch, w, t)));
                }
            }
        }
        let (&(mut state), &(cost, ..)) = dp[n]
            .iter()
            .filter(|(s, _)| form.is_none_or(|dfa| dfa.is_match_state(dfa.next_eoi_state(**s))))
            .min_by(|a, b| a.1 .0.total_cmp(&b.1 .0))?;
        let mut glyphs = Vec::new();
        let mut x = n;
        while x > 0 {
            let (_, px, ps, glyph) = dp[x][&state];
            if let Some((ch, w, t)) = glyph {
                glyphs.push((ch, px, w, t));
            }
            (x, state) = (px, ps);
        }
        glyphs.reverse();
        Some((cost, glyphs))
    }
}

/// The automaton's state after `ch`, or `None` where it can no longer match.
fn step(dfa: &dense::DFA<Vec<u32>>, state: StateID, ch: char) -> Option<StateID> {
    let mut buf = [0; 4];
    let mut s = state;
    for b in ch.encode_utf8(&mut buf).bytes() {
        s = dfa.next_state(s, b);
        if dfa.is_dead_state(s) || dfa.is_quit_state(s) {
            return None;
        }
    }
    Some(s)
}

/// Where a glyph's holes lie: none, one in its upper or lower part, one
/// from top to bottom, or two or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holes {
    None,
    Upper,
    Lower,
    Tall,
    Two,
}

impl Holes {
    /// What a round digit needs to be read (five has no lower bowl).
    fn of_digit(ch: char) -> Option<Holes> {
        Some(match ch {
            '0' => Holes::Tall,
            '5' => Holes::None,
            '6' => Holes::Lower,
            '8' => Holes::Two,
            '9' => Holes::Upper,
            _ => return None,
        })
    }

    /// The holes of the ink in `cols` (bit r for row r of `rows`), the
    /// columns either side counted as background.
    fn in_columns(cols: &[u16], rows: u32) -> Holes {
        let inked: Vec<usize> = (0..rows as usize).filter(|r| cols.iter().any(|c| c >> r & 1 == 1)).collect();
        let (Some(&first), Some(&last)) = (inked.first(), inked.last()) else { return Holes::None };
        let middle = (first + last + 1) as f32 / 2.0;
        let found = ocr::hole_boxes(cols.len(), rows as usize, |x, y| cols[x] >> y & 1 == 1);
        match found.as_slice() {
            [] => Holes::None,
            [hole] => {
                let (t, b) = (hole.y0 as f32, hole.y1 as f32);
                match (t < middle - 0.5, b > middle + 0.5) {
                    (true, true) => Holes::Tall,
                    (true, false) => Holes::Upper,
                    _ => Holes::Lower,
                }
            }
            _ => Holes::Two,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell drawn as text rows ('#' ink), read with its capitals `cap`
    /// high on the baseline under row `base`.
    fn read_art(art: &[&str], base: u32, cap: u32) -> String {
        let ink = |x: u32, y: u32| art.get(y as usize).and_then(|r| r.as_bytes().get(x as usize)) == Some(&b'#');
        let words = read(&ink, 0, art[0].len() as u32, base, cap);
        words.iter().map(|w| w.0.as_str()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn holes_tell_five_from_six_and_nought_from_eight() {
        let col = |rows: &[&str]| -> Vec<u16> {
            (0..rows[0].len())
                .map(|x| {
                    rows.iter().enumerate().filter(|(_, r)| r.as_bytes()[x] == b'#').fold(0, |m, (y, _)| m | 1 << y)
                })
                .collect()
        };
        let five = col(&[".###", "#...", ".###", "...#", "#..#", ".##."]);
        let six = col(&[".##.", "#...", "###.", "#..#", "#..#", ".##."]);
        let nought = col(&[".##.", "#..#", "#..#", "#..#", "#..#", ".##."]);
        let eight = col(&[".##.", "#..#", ".##.", "#..#", "#..#", ".##."]);
        assert_eq!(Holes::in_columns(&five, 6), Holes::None);
        assert_eq!(Holes::in_columns(&six, 6), Holes::Lower);
        assert_eq!(Holes::in_columns(&nought, 6), Holes::Tall);
        assert_eq!(Holes::in_columns(&eight, 6), Holes::Two);
    }

    /// `text` set from each character's boldest template with 6-pixel
    /// capitals, `gaps[i]` blank columns before character i (0: touching).
    fn set(text: &str, gaps: &[u32]) -> (Vec<u16>, u32) {
        let mut cols = vec![0u16; 2];
        for (ch, gap) in text.chars().zip(gaps) {
            let ink = |t: &&Template| t.cols.iter().map(|c| c.count_ones()).sum::<u32>();
            let t = TEMPLATES.iter().filter(|t| t.ch == ch && t.cap == 6).max_by_key(ink).unwrap();
            cols.extend(std::iter::repeat_n(0, *gap as usize));
            let shift = t.top as i32 + (6 + ABOVE) as i32;
            cols.extend(t.cols.iter().map(|c| c << shift));
        }
        cols.extend([0, 0]);
        (cols, 6 + ABOVE)
    }

    #[test]
    fn touching_glyphs_read_in_a_settings_form() {
        // `Mag = 50.00 K X` with its digits run together, as Zeiss's shrunk bar prints it.
        let (cols, base) = set("Mag=50.00KX", &[0, 1, 1, 2, 2, 0, 0, 0, 0, 2, 1]);
        let ink = |x: u32, y: u32| cols.get(x as usize).is_some_and(|c| c >> y & 1 == 1);
        let words = read(&ink, 0, cols.len() as u32, base, 6);
        let text: String = words.iter().map(|w| w.0.as_str()).collect();
        assert_eq!(text, "Mag=50.00KX", "{words:?}");
        // Words part where a letter meets a digit or a sign with a gap.
        assert_eq!(words.len(), 4, "{words:?}");
    }

    #[test]
    fn blank_cell_reads_nothing() {
        assert_eq!(read_art(&["........"; 11], 8, 6), "");
    }
}
