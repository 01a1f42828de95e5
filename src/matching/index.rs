//! Stage 1: candidates. An in-memory index over every archive keypoint
//! descriptor (multi-index hashing: eight tables keyed by a 16-bit slice of the
//! descriptor, so a descriptor within a few bits of a stored one shares a key
//! with it most of the time), plus a scan of the global hashes for uncropped
//! copies. Each descriptor match votes for (acquisition, scale, translation);
//! the acquisitions whose votes agree best are the candidates, each with its
//! geometry fitted to the agreeing matches.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::fingerprint::{dct::hamming256, Fingerprint, LEVEL_UNIT};

/// Descriptor matches count when at most this many bits differ.
pub const MAX_HAMMING: u32 = 12;
/// Global hashes this close mean the same picture, uncropped.
pub const GLOBAL_HAMMING: u32 = 40;
/// Tables of the multi-index: each keyed by 16 consecutive descriptor bits,
/// each window starting 6 bits after the last (bits are in frequency order,
/// so the first windows hold the steadiest bits). 16-bit keys keep a bucket
/// to about 360 descriptors at 100k acquisitions.
const TABLES: usize = 8;
const KEY_BITS: usize = 16;
const KEY_STRIDE: usize = 6;
/// A bucket is a stop word when it holds this many times the mean …
const STOP_FACTOR: usize = 12;
/// … and at least this many descriptors.
const STOP_MIN: usize = 1024;

/// What an index entry belongs to: an acquisition (or, for `lookup`, a panel).
#[derive(Debug, Clone)]
pub struct Owner {
    /// Row id of the owner.
    pub id: i64,
    /// Fingerprinted width and height (image pixels, data bar cut).
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Keypoint plane scale.
    pub base_scale: f32,
    /// Global hash.
    pub global: [u64; 4],
    /// Global hash quality.
    pub quality: f32,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    owner: u32,
    x: u16,
    y: u16,
    level: u8,
    desc: u64,
}

/// One descriptor match: its owner, its vote bin (scale, tx, ty) and the
/// matched positions (panel x, y; original x, y).
struct Vote {
    owner: u32,
    bin: (i32, i32, i32),
    at: (f32, f32, f32, f32),
}

/// The candidate index.
#[derive(Debug, Default)]
pub struct Index {
    owners: Vec<Owner>,
    entries: Vec<Entry>,
    /// Per table: bucket start offsets (2^KEY_BITS + 1) into `descs` / `items`.
    offsets: Vec<Vec<u32>>,
    /// Per table: descriptors in bucket order, scanned sequentially.
    descs: Vec<Vec<u64>>,
    /// Per table: the entry of each of `descs`.
    items: Vec<Vec<u32>>,
    /// Buckets holding more descriptors than this are not scanned: like stop
    /// words, they hold the commonest patches (flat, noisy, a plain edge),
    /// which vote for everything and tell nothing apart.
    stop: usize,
}

fn key(desc: u64, table: usize) -> usize {
    ((desc >> (table * KEY_STRIDE)) & ((1 << KEY_BITS) - 1)) as usize
}

/// A candidate with the geometry its votes imply: panel = scale × original + (tx, ty).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Position of the owner in the index.
    pub owner: usize,
    /// Agreeing descriptor matches (or a global-hash match).
    pub votes: f32,
    /// Panel pixels per original pixel.
    pub scale: f32,
    /// Panel x of original x = 0.
    pub tx: f32,
    /// Panel y of original y = 0.
    pub ty: f32,
}

impl Index {
    /// Builds the index.
    pub fn build(fingerprints: impl IntoIterator<Item = (i64, Fingerprint)>) -> Index {
        let mut index = Index::default();
        for (id, f) in fingerprints {
            let owner = index.owners.len() as u32;
            index.entries.extend(f.keypoints.iter().map(|k| Entry {
                owner,
                x: k.x,
                y: k.y,
                level: k.level,
                desc: k.desc,
            }));
            index.owners.push(Owner {
                id,
                width: f.width,
                height: f.height,
                base_scale: f.base_scale,
                global: f.global,
                quality: f.quality,
            });
        }
        index.stop = ((STOP_FACTOR * index.entries.len()) >> KEY_BITS).max(STOP_MIN);
        for t in 0..TABLES {
            let mut counts = vec![0u32; (1 << KEY_BITS) + 1];
            for e in &index.entries {
                counts[key(e.desc, t) + 1] += 1;
            }
            for i in 1..counts.len() {
                counts[i] += counts[i - 1];
            }
            let mut fill = counts.clone();
            let mut items = vec![0u32; index.entries.len()];
            let mut descs = vec![0u64; index.entries.len()];
            for (i, e) in index.entries.iter().enumerate() {
                let k = key(e.desc, t);
                items[fill[k] as usize] = i as u32;
                descs[fill[k] as usize] = e.desc;
                fill[k] += 1;
            }
            index.offsets.push(counts);
            index.descs.push(descs);
            index.items.push(items);
        }
        index
    }

    /// The owners, in index order.
    pub fn owners(&self) -> &[Owner] {
        &self.owners
    }

    /// Number of stored keypoints.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// Approximate memory held, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.entries.len() * std::mem::size_of::<Entry>()
            + self.items.iter().map(|v| v.len() * 4).sum::<usize>()
            + self.descs.iter().map(|v| v.len() * 8).sum::<usize>()
            + self.offsets.iter().map(|v| v.len() * 4).sum::<usize>()
            + self.owners.len() * std::mem::size_of::<Owner>()
    }

    /// The best `k` candidates for a panel's fingerprint.
    pub fn candidates(&self, q: &Fingerprint, k: usize) -> Vec<Candidate> {
        // Votes: (owner, scale bin, tx bin, ty bin) → matches.
        let bin = (q.width.max(q.height) as f32 / 24.0).max(6.0);
        // Query keypoints are independent: scan the tables for them on every core.
        let matches: Vec<Vote> = q
            .keypoints
            .par_iter()
            .fold(Vec::new, |mut matches, qk| {
                let q_scale = q.base_scale * LEVEL_UNIT.powi(qk.level as i32);
                for t in 0..TABLES {
                    let kq = key(qk.desc, t);
                    let (lo, hi) = (self.offsets[t][kq] as usize, self.offsets[t][kq + 1] as usize);
                    if hi - lo > self.stop {
                        continue;
                    }
                    for (j, &d) in self.descs[t][lo..hi].iter().enumerate() {
                        if (d ^ qk.desc).count_ones() > MAX_HAMMING {
                            continue;
                        }
                        // Counted once: in the first table where the keys agree.
                        if (0..t).any(|u| key(d, u) == key(qk.desc, u)) {
                            continue;
                        }
                        let e = self.entries[self.items[t][lo + j] as usize];
                        let o = &self.owners[e.owner as usize];
                        let a_scale = o.base_scale * LEVEL_UNIT.powi(e.level as i32);
                        // Panel pixels per original pixel: equal patches span 16/q_scale and 16/a_scale.
                        let s = a_scale / q_scale;
                        if !(0.05..=1.6).contains(&s) {
                            continue;
                        }
                        let (xq, yq, xa, ya) = (qk.x as f32, qk.y as f32, e.x as f32, e.y as f32);
                        let (tx, ty) = (xq - s * xa, yq - s * ya);
                        let sb = (s.ln() / (2.0 * LEVEL_UNIT.ln())).round() as i32;
                        matches.push(Vote {
                            owner: e.owner,
                            bin: (sb, (tx / bin).round() as i32, (ty / bin).round() as i32),
                            at: (xq, yq, xa, ya),
                        });
                    }
                }
                matches
            })
            .reduce(Vec::new, |mut a, mut b| {
                a.append(&mut b);
                a
            });
        let mut bins: HashMap<(u32, i32, i32, i32), f32> = HashMap::new();
        for m in &matches {
            *bins.entry((m.owner, m.bin.0, m.bin.1, m.bin.2)).or_insert(0.0) += 1.0;
        }
        // Each owner's best neighbourhood (±1 bin in scale and translation).
        let mut best: HashMap<u32, (f32, (i32, i32, i32))> = HashMap::new();
        let mut keys: Vec<_> = bins.iter().filter(|(_, &v)| v >= 2.0).map(|(k, v)| (*k, *v)).collect();
        keys.sort_by(|a, b| b.1.total_cmp(&a.1));
        for ((owner, sb, bx, by), _) in keys.into_iter().take(4000) {
            let mut sum = 0.0;
            for ds in -1..=1 {
                for dx in -1..=1 {
                    for dy in -1..=1 {
                        sum += bins.get(&(owner, sb + ds, bx + dx, by + dy)).copied().unwrap_or(0.0);
                    }
                }
            }
            let e = best.entry(owner).or_insert((0.0, (sb, bx, by)));
            if sum > e.0 {
                *e = (sum, (sb, bx, by));
            }
        }
        // Fit the geometry of the best owners only, from their agreeing votes.
        let mut ranked: Vec<(u32, f32, (i32, i32, i32))> = best.into_iter().map(|(o, (v, b))| (o, v, b)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        let mut by_owner: HashMap<u32, Vec<&Vote>> = ranked.iter().map(|r| (r.0, Vec::new())).collect();
        for m in &matches {
            if let Some(v) = by_owner.get_mut(&m.owner) {
                v.push(m);
            }
        }
        let mut out: Vec<Candidate> = ranked
            .into_iter()
            .filter_map(|(owner, votes, (sb, bx, by))| {
                let agreeing: Vec<_> = by_owner[&owner]
                    .iter()
                    .filter(|m| (m.bin.0 - sb).abs() <= 1 && (m.bin.1 - bx).abs() <= 1 && (m.bin.2 - by).abs() <= 1)
                    .map(|m| m.at)
                    .collect();
                let (scale, tx, ty) = fit_similarity(&agreeing, bin)?;
                Some(Candidate { owner: owner as usize, votes, scale, tx, ty })
            })
            .collect();
        // Uncropped copies: global hash close.
        for (i, o) in self.owners.iter().enumerate() {
            if o.quality < 20.0 || q.quality < 20.0 || hamming256(&o.global, &q.global) > GLOBAL_HAMMING {
                continue;
            }
            let scale = q.width as f32 / o.width as f32;
            // Votes may already propose it, but from a few stray matches
            // with other geometry: then the uncropped placement is tried too.
            let near = (q.width.max(q.height) as f32 * 0.02).max(2.0);
            let voted = out.iter().find(|c| c.owner == i);
            let agrees = voted
                .is_some_and(|c| (c.scale - scale).abs() <= 0.03 * scale && c.tx.abs() <= near && c.ty.abs() <= near);
            if !agrees {
                out.push(Candidate { owner: i, votes: voted.map_or(3.0, |c| c.votes), scale, tx: 0.0, ty: 0.0 });
            }
        }
        out.sort_by(|a, b| b.votes.total_cmp(&a.votes));
        out.truncate(k);
        out
    }
}

/// Least-squares panel = s·original + t over matched points (xq, yq, xa, ya),
/// refitted once without points off by more than `tolerance`.
fn fit_similarity(points: &[(f32, f32, f32, f32)], tolerance: f32) -> Option<(f32, f32, f32)> {
    let fit = |pts: &[(f32, f32, f32, f32)]| -> Option<(f32, f32, f32)> {
        let n = pts.len() as f32;
        if pts.len() < 2 {
            return None;
        }
        let (mxq, myq, mxa, mya) =
            pts.iter().fold((0.0, 0.0, 0.0, 0.0), |acc, p| (acc.0 + p.0, acc.1 + p.1, acc.2 + p.2, acc.3 + p.3));
        let (mxq, myq, mxa, mya) = (mxq / n, myq / n, mxa / n, mya / n);
        let (mut num, mut den) = (0.0, 0.0);
        for p in pts {
            num += (p.2 - mxa) * (p.0 - mxq) + (p.3 - mya) * (p.1 - myq);
            den += (p.2 - mxa).powi(2) + (p.3 - mya).powi(2);
        }
        if den < 1.0 {
            return None;
        }
        let s = num / den;
        (s > 0.0).then_some((s, mxq - s * mxa, myq - s * mya))
    };
    let (s, tx, ty) = fit(points)?;
    let inliers: Vec<_> = points
        .iter()
        .copied()
        .filter(|p| (p.0 - s * p.2 - tx).abs() <= tolerance && (p.1 - s * p.3 - ty).abs() <= tolerance)
        .collect();
    fit(&inliers).or(Some((s, tx, ty)))
}
