//! Panel → acquisition matching on real files: the real raw → publication pair
//! in ../shared/data, published-like variants, and real published panels that
//! are not in the archive.

mod util;

use std::io::Cursor;
use std::path::Path;

use emtrace::archive;
use emtrace::fingerprint::Plane;
use emtrace::fingerprint::{Fingerprint, Prepared, Role};
use emtrace::matching::PixelSource;
use emtrace::matching::{find, Index, MatchOptions};
use util::{backends, emtrace, json_lines, shared};

/// Copies real archive files into `dir`.
fn archive_of(dir: &Path, files: &[&str]) -> Option<()> {
    let src = shared("archive")?;
    for f in files {
        let to = dir.join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join(f), to).unwrap();
    }
    Some(())
}

const FILES: &[&str] = &[
    "tescan-zeiss-igic/Zeiss_1.tif",
    "tescan-zeiss-igic/Zeiss_2.tif",
    "tescan-zeiss-igic/Zeiss_3.tif",
    "zeiss-auriga-tungsten/LTHD/6mm31.tif",
    "zeiss-auriga-tungsten/LTHD/6mm32.tif",
    "zeiss-auriga-tungsten/LTHD/6mm33.tif",
    "hitachi-tm4000/sample-１_600倍(x600).tif",
];

/// Archive planes held in memory, by position.
struct Mem(Vec<Plane>);

impl PixelSource for Mem {
    fn plane(&self, id: i64) -> Option<Plane> {
        self.0.get(id as usize).cloned()
    }
}

/// The archive FILES, fingerprinted and indexed in memory.
fn indexed(src: &Path) -> (Index, Mem) {
    let mut planes = Vec::new();
    let mut fps = Vec::new();
    for (i, f) in FILES.iter().enumerate() {
        let bytes = std::fs::read(src.join(f)).unwrap();
        let r = archive::read(&bytes, &Default::default()).unwrap();
        let p = Prepared::archive(&archive::read::pixels(&bytes).unwrap(), r.databar_rows.unwrap_or(0));
        fps.push((i as i64, p.fingerprint(Role::Archive)));
        planes.push(p.plane);
    }
    (Index::build(fps), Mem(planes))
}

fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
}

#[tokio::test]
async fn the_real_published_crop_finds_its_raw_frame_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("archive");
    if archive_of(&root, FILES).is_none() {
        return;
    }
    // Hitachi sidecar too, so that its data bar is known.
    let src = shared("archive").unwrap();
    std::fs::copy(
        src.join("hitachi-tm4000/sample-１_600倍(x600).txt"),
        root.join("hitachi-tm4000/sample-１_600倍(x600).txt"),
    )
    .unwrap();
    let published = src.join("tescan-zeiss-igic/reference_output_dir_Zeiss_2_processed.tif");
    let negative = shared("published/emps-train/images").and_then(|d| {
        std::fs::read_dir(d)
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "png"))
    });
    for db in backends(tmp.path()).await {
        let out =
            emtrace(tmp.path()).args(["--db", &db.url, "--json", "archive", "scan"]).arg(&root).assert().success();
        let summary = &json_lines(&out.get_output().stdout)[0];
        assert_eq!(summary["fingerprints"]["fingerprinted"], FILES.len(), "{}: {summary}", db.backend);

        let mut cmd = emtrace(tmp.path());
        cmd.args(["--db", &db.url, "--json", "match"]).arg(&published);
        if let Some(n) = &negative {
            cmd.arg(n);
        }
        let out = cmd.arg("no-such-file.png").assert().success();
        let rows = json_lines(&out.get_output().stdout);
        let m = &rows[0]["matches"][0];
        assert_eq!(m["archive_path"], "tescan-zeiss-igic/Zeiss_2.tif", "{}: {}", db.backend, rows[0]);
        for key in ["root", "acquisition_id", "score", "crop", "scale"] {
            assert!(m.get(key).is_some(), "{key}");
        }
        // The published copy is the frame above the info panel, at full scale.
        let crop: Vec<f32> = m["crop"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        assert!(iou([crop[0], crop[1], crop[2], crop[3]], [0.0, 0.0, 1024.0, 699.0]) > 0.95, "{crop:?}");
        assert!((m["scale"].as_f64().unwrap() - 1.0).abs() < 0.02);
        assert_eq!(rows[0]["matches"].as_array().unwrap().len(), 1, "only the true frame: {}", rows[0]);
        assert_eq!(m["ambiguous"], false, "decided: {}", rows[0]);
        if negative.is_some() {
            assert_eq!(rows[1]["matches"].as_array().unwrap().len(), 0, "a real panel from elsewhere: {}", rows[1]);
        }
        let last = rows.last().unwrap();
        assert!(last["error"].as_str().is_some(), "a missing file is reported, not fatal: {last}");

        // The same published image inside a PDF: extracted, split into panels, matched.
        let pdf = tmp.path().join("paper.pdf");
        std::fs::write(&pdf, util::pdf_with_image(&image::open(&published).unwrap().to_luma8())).unwrap();
        let out = emtrace(tmp.path()).args(["--db", &db.url, "--json", "match"]).arg(&pdf).assert().success();
        let rows = json_lines(&out.get_output().stdout);
        assert_eq!(rows.len(), 1, "one micrograph panel: {rows:?}");
        assert!(rows[0]["panel"]["image"].as_str().unwrap().starts_with("obj-"), "{}", rows[0]);
        assert_eq!(rows[0]["panel"]["page"], 1);
        assert_eq!(rows[0]["matches"][0]["archive_path"], "tescan-zeiss-igic/Zeiss_2.tif", "{}", rows[0]);

        // The reverse direction: the raw frame is found in the stored panel, the others in none;
        // a broken image is reported with its error and the others still answered.
        let out = emtrace(tmp.path())
            .args(["--db", &db.url, "--json", "lookup"])
            .arg(root.join("nexuslims/test_corrupted.dm3"))
            .arg(root.join("tescan-zeiss-igic"))
            .assert()
            .success();
        let mut looked = json_lines(&out.get_output().stdout);
        assert_eq!(looked.len(), 4);
        let broken = looked.remove(0);
        assert!(broken["error"].as_str().is_some_and(|e| !e.is_empty()), "{broken}");
        for l in &looked {
            let name = l["image"].as_str().unwrap();
            let panels = l["panels"].as_array().unwrap();
            if name.ends_with("Zeiss_2.tif") {
                // The panel file and the same picture inside the PDF.
                assert_eq!(panels.len(), 2, "{l}");
                let sources: Vec<&str> = panels.iter().map(|p| p["source"].as_str().unwrap()).collect();
                assert!(sources.iter().any(|s| s.ends_with("reference_output_dir_Zeiss_2_processed.tif")), "{l}");
                assert!(sources.iter().any(|s| s.contains("paper.pdf#obj-")), "{l}");
                assert!(panels.iter().all(|p| (p["scale"].as_f64().unwrap() - 1.0).abs() < 0.02));
            } else {
                assert!(panels.is_empty(), "{l}");
            }
        }
    }
}

fn jpeg(img: &image::DynamicImage, quality: u8) -> image::DynamicImage {
    let mut buf = Vec::new();
    img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)).unwrap();
    image::load(Cursor::new(buf), image::ImageFormat::Jpeg).unwrap()
}

#[test]
fn cropped_downscaled_jpeg_with_overlays_names_the_right_frame_among_neighbours() {
    let Some(src) = shared("archive") else { return };
    // Three frames of one sample at one magnification, plus others.
    let (index, pixels) = indexed(&src);
    let planes = &pixels.0;
    // 6mm32 (index 4): a 40%-area crop, 2.5× smaller, gamma, a letter box, JPEG 60.
    let p = &planes[4];
    let (x0, y0, w, h) = (300usize, 150usize, 620usize, 440usize);
    let crop = p.crop(x0, y0, w, h).resize(248, 176);
    let mut rgb = image::RgbImage::from_fn(248, 176, |x, y| {
        let v = (crop.at(x as usize, y as usize).powf(0.8) * 255.0) as u8;
        image::Rgb([v, v, v])
    });
    for y in 2..22 {
        for x in 2..22 {
            rgb.put_pixel(x, y, image::Rgb([255, 255, 255]));
        }
    }
    let panel = jpeg(&image::DynamicImage::ImageRgb8(rgb), 60);
    let prepared = Prepared::panel(&panel);
    let fp: Fingerprint = prepared.fingerprint(Role::Panel);
    let found = find(&index, &pixels, &prepared, &fp, &MatchOptions::default());
    assert_eq!(found.first().map(|m| m.id), Some(4), "{found:?}");
    let m = &found[0];
    assert!(!m.ambiguous, "the frame is told from its neighbours: {found:?}");
    let truth = [x0 as f32, y0 as f32, (x0 + w) as f32, (y0 + h) as f32];
    assert!(iou(m.crop, truth) > 0.9, "{:?} vs {truth:?}", m.crop);
    assert!((m.scale - 248.0 / 620.0).abs() / (248.0 / 620.0) < 0.02, "{}", m.scale);
}

#[test]
fn real_published_panels_from_elsewhere_match_nothing() {
    let (Some(src), Some(published)) = (shared("archive"), shared("published/emps-train/images")) else { return };
    let (index, pixels) = indexed(&src);
    let mut tried = 0;
    for e in std::fs::read_dir(published).unwrap().filter_map(|e| e.ok()).take(40) {
        let Ok(img) = image::open(e.path()) else { continue };
        tried += 1;
        let prepared = Prepared::panel(&img);
        let fp = prepared.fingerprint(Role::Panel);
        let found = find(&index, &pixels, &prepared, &fp, &MatchOptions::default());
        assert!(found.is_empty(), "{}: {found:?}", e.path().display());
    }
    assert!(tried >= 30);
}

#[test]
fn frames_alike_under_the_crop_are_listed_undecided_and_identical_copies_are_not() {
    let Some(src) = shared("archive") else { return };
    let bytes = std::fs::read(src.join("tescan-zeiss-igic/Zeiss_1.tif")).unwrap();
    let r = archive::read(&bytes, &Default::default()).unwrap();
    let a = Prepared::archive(&archive::read::pixels(&bytes).unwrap(), r.databar_rows.unwrap_or(0)).plane;
    // A second save of the frame with a note burned into its top-left corner,
    // far from the part that was published.
    let mut noted = a.clone();
    for y in 0..40 {
        for x in 0..120 {
            noted.data[y * a.w + x] = 1.0;
        }
    }
    // The published panel: the middle of the frame, half size.
    let (x0, y0, w, h) = (a.w / 3, a.h / 3, a.w / 2, a.h / 2);
    let crop = a.crop(x0, y0, w, h).resize(w / 2, h / 2);
    let panel = image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(crop.w as u32, crop.h as u32, |x, y| {
        image::Luma([(crop.at(x as usize, y as usize) * 255.0).round() as u8])
    }));
    let prepared = Prepared::panel(&panel);
    let fp = prepared.fingerprint(Role::Panel);
    let find_in = |planes: Vec<Plane>| {
        let fps = planes
            .iter()
            .enumerate()
            .map(|(i, p)| (i as i64, Prepared { plane: p.clone(), overlay: None }.fingerprint(Role::Archive)));
        let index = Index::build(fps.collect::<Vec<_>>());
        let mut found = find(&index, &Mem(planes), &prepared, &fp, &MatchOptions::default());
        found.sort_by_key(|m| m.id);
        found
    };
    // The frame and an identical copy under another path: both are the answer.
    let copies = find_in(vec![a.clone(), a.clone()]);
    assert_eq!(copies.iter().map(|m| m.id).collect::<Vec<_>>(), [0, 1], "{copies:?}");
    assert!(copies.iter().all(|m| !m.ambiguous), "{copies:?}");
    // The frame and its noted save: the panel cannot tell them apart.
    let alike = find_in(vec![a.clone(), noted]);
    assert_eq!(alike.iter().map(|m| m.id).collect::<Vec<_>>(), [0, 1], "{alike:?}");
    assert!(alike.iter().all(|m| m.ambiguous), "{alike:?}");
    let truth = [x0 as f32, y0 as f32, (x0 + w) as f32, (y0 + h) as f32];
    assert!(alike.iter().all(|m| iou(m.crop, truth) > 0.9), "{alike:?}");
}
