//! The matching stage over the store: `match` (panels → acquisitions, the
//! panels and their matches recorded) and `lookup` (an acquisition → the
//! stored panels that contain it). Image decoding and verification run on the
//! blocking pool; the store is touched before and after.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{find, Index, MatchOptions, PixelSource};
use crate::archive::files::ArchiveFiles;
use crate::archive::read::pixels;
use crate::fingerprint::{Fingerprint, Plane, Prepared, Role};
use crate::store::{Store, StoreError};

/// One panel's result, as `match --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct MatchResult {
    /// The input file (a panel image, or the document the panel is in).
    pub input: PathBuf,
    /// Where in the document the panel is (absent for a panel image file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panel: Option<PanelRef>,
    /// Why it could not be matched, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Verified matches, best first.
    pub matches: Vec<MatchRow>,
}

/// One verified match.
#[derive(Debug, Clone, Serialize)]
pub struct MatchRow {
    /// Path under the root.
    pub archive_path: String,
    /// Archive root.
    pub root: String,
    /// Acquisition row id.
    pub acquisition_id: i64,
    /// Evidence (higher is surer).
    pub score: f32,
    /// Panel rectangle in original pixels.
    pub crop: [f32; 4],
    /// Published pixels per original pixel.
    pub scale: f32,
    /// Another, different frame verifies as well: the panel is one of the
    /// frames listed, undecided.
    pub ambiguous: bool,
}

/// A micrograph panel inside a document.
#[derive(Debug, Clone, Serialize)]
pub struct PanelRef {
    /// The extracted image's id (`obj-12-0`, `word/media/image1.png#image`, …).
    pub image: String,
    /// Its page, for PDFs.
    pub page: Option<u32>,
    /// The panel in the image's pixels.
    pub bbox: [u32; 4],
}

/// The panels an input file holds: an image file is one panel; a document
/// or archive gives the micrograph panels of every picture it embeds.
fn panels_of(input: &Path) -> Result<Vec<(Option<PanelRef>, image::DynamicImage, String)>, String> {
    let bytes = std::fs::read(input).map_err(|e| e.to_string())?;
    let kind = crate::extract::sniff::sniff(&bytes);
    if kind == crate::extract::Kind::Image {
        let img = image::load_from_memory(&bytes).map_err(|e| e.to_string())?;
        return Ok(vec![(None, img, blake3::hash(&bytes).to_hex().to_string())]);
    }
    let x = crate::extract::extract_bytes(&bytes, &crate::extract::Limits::default());
    if let Some(e) = x.error.filter(|_| x.images.is_empty()) {
        return Err(e);
    }
    let mut out = Vec::new();
    for image in x.images {
        let (Some(px), crate::extract::Role::Image | crate::extract::Role::Figure) = (image.pixels, image.role) else {
            continue;
        };
        for p in crate::figure::panels(&px.to_luma8()).into_iter().filter(|p| p.micrograph) {
            let b = p.bbox;
            let crop = px.crop_imm(b[0], b[1], b[2] - b[0], b[3] - b[1]);
            let hash = blake3::hash(crop.as_bytes()).to_hex().to_string();
            out.push((Some(PanelRef { image: image.id.clone(), page: image.page, bbox: b }), crop, hash));
        }
    }
    Ok(out)
}

/// How a panel's source is recorded: the image file, or
/// `document#image-id@x0,y0,x1,y1` for a panel inside a document.
fn panel_source(file: &str, panel: Option<&PanelRef>) -> String {
    match panel {
        Some(p) => format!("{file}#{}@{},{},{},{}", p.image, p.bbox[0], p.bbox[1], p.bbox[2], p.bbox[3]),
        None => file.to_string(),
    }
}

/// A stored panel's pixels from its recorded source (documents are
/// extracted once per run and kept in `documents`).
fn panel_pixels(
    source: &str,
    documents: &mut HashMap<String, crate::extract::Extraction>,
) -> Option<image::DynamicImage> {
    let Some((file, rest)) = source.rsplit_once('#').filter(|(f, _)| Path::new(f).is_file()) else {
        return image::open(source).ok();
    };
    let (id, bbox) = rest.rsplit_once('@')?;
    let b: Vec<u32> = bbox.split(',').filter_map(|v| v.parse().ok()).collect();
    let x = documents
        .entry(file.to_string())
        .or_insert_with(|| crate::extract::extract_file(Path::new(file), &crate::extract::Limits::default()));
    let px = x.images.iter().find(|i| i.id == id)?.pixels.as_ref()?;
    (b.len() == 4 && b[2] <= px.width() && b[3] <= px.height() && b[0] < b[2] && b[1] < b[3])
        .then(|| px.crop_imm(b[0], b[1], b[2] - b[0], b[3] - b[1]))
}

struct Query {
    input: PathBuf,
    panel: Option<PanelRef>,
    hash: String,
    size: (u32, u32),
    fingerprint: Vec<u8>,
    matches: Vec<super::Match>,
}

/// Matches panel image files against the stored archive fingerprints and
/// records each panel with its matches.
pub async fn match_files(store: &Store, files: &[PathBuf]) -> Result<Vec<MatchResult>, StoreError> {
    let stored = store.fingerprints().await?;
    let files = files.to_vec();
    let (results, queries) = tokio::task::spawn_blocking(move || {
        let mut source = ArchiveFiles::default();
        let mut places: HashMap<i64, (String, String)> = HashMap::new();
        let mut fps = Vec::new();
        for s in stored {
            let Ok(f) = Fingerprint::from_bytes(&s.data) else { continue };
            source.insert(s.id.0, Path::new(&s.root).join(&s.path), s.databar_rows.unwrap_or(0).max(0) as u32);
            places.insert(s.id.0, (s.root, s.path));
            fps.push((s.id.0, f));
        }
        let index = Index::build(fps);
        let mut results = Vec::new();
        let mut queries = Vec::new();
        for input in files {
            let panels = match panels_of(&input) {
                Ok(p) => p,
                Err(e) => {
                    results.push(MatchResult { input, panel: None, error: Some(e), matches: Vec::new() });
                    continue;
                }
            };
            for (panel, img, hash) in panels {
                let prepared = Prepared::panel(&img);
                let fp = prepared.fingerprint(Role::Panel);
                let found = find(&index, &source, &prepared, &fp, &MatchOptions::default());
                let matches = found
                    .iter()
                    .map(|m| {
                        let (root, archive_path) = places.get(&m.id).cloned().unwrap_or_default();
                        MatchRow {
                            archive_path,
                            root,
                            acquisition_id: m.id,
                            score: m.score,
                            crop: m.crop,
                            scale: m.scale,
                            ambiguous: m.ambiguous,
                        }
                    })
                    .collect();
                results.push(MatchResult { input: input.clone(), panel: panel.clone(), error: None, matches });
                queries.push(Query {
                    input: input.clone(),
                    panel,
                    hash,
                    size: (img.width(), img.height()),
                    fingerprint: fp.to_bytes(),
                    matches: found,
                });
            }
        }
        (results, queries)
    })
    .await
    .expect("matching does not panic");
    for q in queries {
        let file = q.input.canonicalize().unwrap_or(q.input).display().to_string();
        let source = panel_source(&file, q.panel.as_ref());
        store.record_panel(&source, &q.hash, q.size, &q.fingerprint, &q.matches).await?;
    }
    Ok(results)
}

/// One image's result, as `lookup --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct LookupResult {
    /// The acquisition image.
    pub image: PathBuf,
    /// Why it could not be looked up, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Stored panels that contain it, best first.
    pub panels: Vec<PanelRow>,
}

/// A stored panel found in the image.
#[derive(Debug, Clone, Serialize)]
pub struct PanelRow {
    /// Panel row id.
    pub panel_id: i64,
    /// Where the panel came from.
    pub source: String,
    /// Evidence.
    pub score: f32,
    /// Panel rectangle in the image's pixels.
    pub crop: [f32; 4],
    /// Published pixels per image pixel.
    pub scale: f32,
    /// Another of the images looked up verifies as well (see [`MatchRow::ambiguous`]).
    pub ambiguous: bool,
}

/// Planes of the images looked up, by position.
struct Images(Vec<Plane>);

impl PixelSource for Images {
    fn plane(&self, id: i64) -> Option<Plane> {
        self.0.get(usize::try_from(id).ok()?).cloned()
    }
}

/// Finds the stored panels that contain each image (a file, or every image
/// in a directory): the images are indexed, and every stored panel whose
/// file can still be read is matched against them.
pub async fn lookup(store: &Store, targets: &[PathBuf]) -> Result<Vec<LookupResult>, StoreError> {
    let panels = store.panels().await?;
    let targets = targets.to_vec();
    let results = tokio::task::spawn_blocking(move || {
        let mut images: Vec<PathBuf> = Vec::new();
        for t in targets {
            if t.is_dir() {
                let mut found: Vec<PathBuf> = walkdir::WalkDir::new(&t)
                    .into_iter()
                    .filter_map(|e| e.ok())
                    .map(|e| e.into_path())
                    .filter(|p| crate::archive::is_image(p))
                    .collect();
                found.sort();
                images.extend(found);
            } else {
                images.push(t);
            }
        }
        let mut results: Vec<LookupResult> = Vec::new();
        let mut planes = Vec::new();
        let mut fps = Vec::new();
        let mut slot = Vec::new();
        for image in images {
            let read = std::fs::read(&image).map_err(|e| e.to_string()).and_then(|b| {
                let r = crate::archive::read(&b, &Default::default()).map_err(|e| e.to_string())?;
                let g = pixels(&b).map_err(|e| e.to_string())?;
                Ok(Prepared::archive(&g, r.databar_rows.unwrap_or(0)))
            });
            match read {
                Ok(p) => {
                    slot.push(results.len());
                    fps.push(((planes.len()) as i64, p.fingerprint(Role::Archive)));
                    planes.push(p.plane);
                    results.push(LookupResult { image, error: None, panels: Vec::new() });
                }
                Err(e) => results.push(LookupResult { image, error: Some(e), panels: Vec::new() }),
            }
        }
        let index = Index::build(fps);
        let source = Images(planes);
        let mut documents = HashMap::new();
        for panel in panels {
            let Ok(fp) = Fingerprint::from_bytes(&panel.fingerprint) else { continue };
            let Some(img) = panel_pixels(&panel.source, &mut documents) else {
                tracing::debug!(source = %panel.source, "stored panel's source cannot be read; skipped");
                continue;
            };
            let prepared = Prepared::panel(&img);
            for m in find(&index, &source, &prepared, &fp, &MatchOptions::default()) {
                results[slot[m.id as usize]].panels.push(PanelRow {
                    panel_id: panel.id.0,
                    source: panel.source.clone(),
                    score: m.score,
                    crop: m.crop,
                    scale: m.scale,
                    ambiguous: m.ambiguous,
                });
            }
        }
        for r in results.iter_mut() {
            r.panels.sort_by(|a, b| b.score.total_cmp(&a.score));
        }
        results
    })
    .await
    .expect("lookup does not panic");
    Ok(results)
}
