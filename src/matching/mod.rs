//! Matching: which archive acquisition a published panel was made from.
//! Stage 1 ([`index`]) proposes a few candidates with the geometry their
//! keypoint votes imply; stage 2 ([`verify`]) resamples each candidate onto
//! the panel and accepts only a placement whose band-passed correlation is
//! strong evidence. Pure: fingerprints and pixels in, matches out; where the
//! archive pixels come from is the caller's [`PixelSource`].

pub mod index;
pub mod stage;
pub mod verify;

use rayon::prelude::*;
use serde::Serialize;

pub use index::{Candidate, Index};
pub use verify::Placement;

use crate::fingerprint::{Fingerprint, Plane, Prepared};

/// Candidates verified per panel.
pub const DEFAULT_CANDIDATES: usize = 8;
/// Least band-passed correlation for a match.
pub const DEFAULT_MIN_R: f32 = 0.3;
/// Least evidence (Fisher z × √n) for a match.
pub const DEFAULT_MIN_Z: f32 = 40.0;
/// Matches within this much of the best (correlation plus pixel detail) are
/// listed with it; different frames this close are not told apart.
pub const AMBIGUITY_MARGIN: f32 = 0.04;

/// Acceptance thresholds.
#[derive(Debug, Clone, Copy)]
pub struct MatchOptions {
    /// Candidates to verify.
    pub candidates: usize,
    /// Least correlation.
    pub min_r: f32,
    /// Least evidence.
    pub min_z: f32,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions { candidates: DEFAULT_CANDIDATES, min_r: DEFAULT_MIN_R, min_z: DEFAULT_MIN_Z }
    }
}

/// Gives the prepared pixels of an indexed owner (an archive file read from
/// disk, or an image held in memory). Candidates are verified in parallel.
pub trait PixelSource: Sync {
    /// The prepared plane of owner `id`, or `None` when it cannot be read.
    fn plane(&self, id: i64) -> Option<Plane>;
}

/// A verified match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    /// The owner's row id (an acquisition).
    pub id: i64,
    /// Evidence (Fisher z × √n); higher is surer.
    pub score: f32,
    /// Band-passed correlation.
    pub r: f32,
    /// Pixel-detail correlation: near 1 only for the very frame (not a re-shot).
    pub detail: f32,
    /// The panel's rectangle in the original, pixels: [x0, y0, x1, y1].
    pub crop: [f32; 4],
    /// Published pixels per original pixel.
    pub scale: f32,
    /// True when a different frame verified within [`AMBIGUITY_MARGIN`] of
    /// the best: the panel is one of the frames listed, and which one is
    /// not decided (re-shots of one field after the panel lost its pixel detail).
    pub ambiguous: bool,
}

/// Finds the acquisitions `panel` was made from, best first. Several are
/// returned only when they verify within [`AMBIGUITY_MARGIN`] of each other:
/// identical copies, or different frames marked `ambiguous`.
/// Every candidate gets the cheap coarse search; only those whose coarse
/// correlation comes near the best go on to the fine search.
pub fn find(
    index: &Index,
    pixels: &dyn PixelSource,
    panel: &Prepared,
    fp: &Fingerprint,
    opts: &MatchOptions,
) -> Vec<Match> {
    // Preparing the panel for verification and scanning the index are independent.
    let (verifier, candidates) = rayon::join(|| verify::Verifier::new(panel), || index.candidates(fp, opts.candidates));
    let Some(verifier) = verifier else { return Vec::new() };
    let top_votes = candidates.first().map_or(0.0, |c| c.votes);
    // Candidates are independent: read and verify them on every core.
    let coarse: Vec<(i64, Plane, Placement)> = candidates
        .par_iter()
        .filter(|c| c.votes >= top_votes * 0.2)
        .filter_map(|c| {
            let owner = &index.owners()[c.owner];
            let plane = pixels.plane(owner.id)?;
            let p = verifier.coarse(&plane, c.scale, c.tx, c.ty)?;
            Some((owner.id, plane, p))
        })
        .collect();
    let best_coarse = coarse.iter().map(|c| c.2.r).fold(f32::MIN, f32::max);
    let (w, h) = verifier.size();
    let mut out: Vec<(Match, Plane)> = coarse
        .into_par_iter()
        .filter(|(_, _, p)| p.r >= opts.min_r * 0.8 && p.r >= best_coarse - 0.15)
        .filter_map(|(id, plane, p)| {
            let p = verifier.refine(&plane, p)?;
            let m = Match {
                id,
                score: p.z,
                r: p.r,
                detail: p.detail,
                crop: p.crop(w, h),
                scale: p.scale,
                ambiguous: false,
            };
            (p.r >= opts.min_r && p.z >= opts.min_z).then_some((m, plane))
        })
        .collect();
    // Best first: structure, plus pixel detail where the panel kept enough of
    // it to tell the very frame from a re-shot of the same field (degraded
    // panels correlate weakly in that band with every frame alike).
    let key = |m: &Match| m.r + (m.detail - 0.3).max(0.0);
    out.sort_by(|a, b| key(&b.0).total_cmp(&key(&a.0)));
    // An owner tried at two placements (voted and uncropped) counts once, at its best.
    let mut seen = std::collections::HashSet::new();
    out.retain(|(m, _)| seen.insert(m.id));
    let Some(best) = out.first().map(|(m, _)| key(m)) else { return Vec::new() };
    out.retain(|(m, _)| key(m) >= best - AMBIGUITY_MARGIN);
    // Identical copies (the same pixels under two paths) are all the answer;
    // two different frames this close are not told apart.
    let ambiguous = out.iter().any(|(_, plane)| *plane != out[0].1);
    out.into_iter().map(|(m, _)| Match { ambiguous, ..m }).collect()
}
