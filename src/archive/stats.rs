//! `archive stats`: the source study's archive analysis over the stored
//! acquisitions that are still on disk (gone files are left out): images per
//! year × modality, per instrument, per detector, per user and project, and
//! the field of view as a conventional scale bar (10% of the field of view)
//! by order of magnitude. Pure: rows in, tables out.

use std::collections::BTreeMap;

use serde::Serialize;

use super::AcqState;
use crate::store::acquisition::Acquisition;

/// One row of a one-key table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    /// The key ("(unknown)" when missing).
    pub key: String,
    /// Number of images.
    pub images: u64,
}

/// One row of a two-key table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    /// First key.
    pub a: String,
    /// Second key.
    pub b: String,
    /// Number of images.
    pub images: u64,
}

/// The archive statistics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Acquisitions on disk (present or unreadable).
    pub images: u64,
    /// Of which unreadable.
    pub unreadable: u64,
    /// Recorded but no longer on disk.
    pub gone: u64,
    /// Year × modality (a = year, b = modality).
    pub by_year_modality: Vec<Pair>,
    /// Per instrument.
    pub by_instrument: Vec<Count>,
    /// Per detector / signal.
    pub by_detector: Vec<Count>,
    /// User × project (a = user, b = project).
    pub by_user_project: Vec<Pair>,
    /// Conventional scale-bar size (10% of the field of view) by order of magnitude.
    pub scale_bar: Vec<Count>,
}

const UNKNOWN: &str = "(unknown)";
/// Order-of-magnitude buckets for the scale bar, in nm.
const BUCKETS: [(f64, &str); 7] =
    [(1.0, "1 nm"), (10.0, "10 nm"), (100.0, "100 nm"), (1e3, "1 µm"), (1e4, "10 µm"), (1e5, "100 µm"), (1e6, "1 mm")];

/// The bucket of a scale bar of `nm`: the largest power of ten not above it,
/// clamped to 1 nm … 1 mm.
pub fn scale_bar_bucket(nm: f64) -> &'static str {
    BUCKETS.iter().rev().find(|(v, _)| nm >= *v).map_or(BUCKETS[0].1, |(_, l)| l)
}

fn key(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or(UNKNOWN).to_string()
}

fn counts(m: BTreeMap<String, u64>) -> Vec<Count> {
    let mut v: Vec<Count> = m.into_iter().map(|(key, images)| Count { key, images }).collect();
    v.sort_by(|x, y| y.images.cmp(&x.images).then(x.key.cmp(&y.key)));
    v
}

fn pairs(m: BTreeMap<(String, String), u64>) -> Vec<Pair> {
    m.into_iter().map(|((a, b), images)| Pair { a, b, images }).collect()
}

/// Computes the statistics.
pub fn compute(rows: &[Acquisition]) -> Stats {
    let mut s = Stats::default();
    let (mut ym, mut inst, mut det, mut up) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut bars: BTreeMap<usize, u64> = BTreeMap::new();
    for r in rows {
        if r.state == AcqState::Gone.as_str() {
            s.gone += 1;
            continue;
        }
        s.images += 1;
        if r.state == AcqState::Unreadable.as_str() {
            s.unreadable += 1;
        }
        let year = r.acquired_at.as_deref().and_then(|t| t.get(..4)).map(str::to_string);
        *ym.entry((key(year.as_deref()), key(r.modality.as_deref()))).or_insert(0) += 1;
        *inst.entry(key(r.instrument.as_deref())).or_insert(0) += 1;
        *det.entry(key(r.detector.as_deref())).or_insert(0) += 1;
        *up.entry((key(r.user_name.as_deref()), key(r.project.as_deref()))).or_insert(0) += 1;
        let bucket = match (r.pixel_size_nm, r.width) {
            (Some(p), Some(w)) if p > 0.0 && w > 0 => {
                let label = scale_bar_bucket(p * w as f64 / 10.0);
                BUCKETS.iter().position(|(_, l)| *l == label).unwrap_or(0)
            }
            _ => BUCKETS.len(),
        };
        *bars.entry(bucket).or_insert(0) += 1;
    }
    s.by_year_modality = pairs(ym);
    s.by_instrument = counts(inst);
    s.by_detector = counts(det);
    s.by_user_project = pairs(up);
    s.scale_bar = bars
        .into_iter()
        .map(|(i, images)| Count { key: BUCKETS.get(i).map_or(UNKNOWN, |b| b.1).to_string(), images })
        .collect();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        assert_eq!(scale_bar_bucket(0.3), "1 nm");
        assert_eq!(scale_bar_bucket(2858.0), "1 µm");
        assert_eq!(scale_bar_bucket(5.0e7), "1 mm");
        assert_eq!(scale_bar_bucket(100.0), "100 nm");
    }
}
