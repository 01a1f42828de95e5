//! Image extraction: PDFs the test writes itself (placements, forms with a
//! cycle, inline images, masks, annotations, tiles), Office / ZIP / TAR
//! containers, the real articles and pdf.js corpus (skipped when
//! ../shared/data is absent), and damaged input.

mod util;

use std::io::Write;

use emtrace::extract::{self, Extraction, Kind, Limits, Role};
use lopdf::{dictionary, Document, Object, Stream};
use util::{emtrace, json_lines, shared};

fn flate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// A three-page PDF exercising what the walker must handle.
fn test_pdf() -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    // 4×2 grey, Flate; drawn twice on page 1 and by an annotation on page 2.
    let gray: Vec<u8> = (0..8).map(|i| i * 30).collect();
    let im1 = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => 4, "Height" => 2,
        "BitsPerComponent" => 8, "ColorSpace" => "DeviceGray", "Filter" => "FlateDecode" },
        flate(&gray),
    ));
    // 2×2 RGB with a soft mask, drawn only from inside a form.
    let smask = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => 2, "Height" => 2,
        "BitsPerComponent" => 8, "ColorSpace" => "DeviceGray" },
        vec![255, 0, 128, 255],
    ));
    let im2 = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => 2, "Height" => 2,
        "BitsPerComponent" => 8, "ColorSpace" => "DeviceRGB", "SMask" => smask },
        vec![255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255],
    ));
    // A form that draws Im2 and then itself (a cycle the walker must cut).
    let form = doc.new_object_id();
    doc.objects.insert(
        form,
        Object::Stream(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 1.into(), 1.into()],
            "Resources" => dictionary! { "XObject" => dictionary! { "Im2" => im2, "Fm1" => form } } },
            b"q 50 0 0 50 0 0 cm /Im2 Do Q /Fm1 Do".to_vec(),
        )),
    );
    let resources = doc.add_object(dictionary! { "XObject" => dictionary! { "Im1" => im1, "Fm1" => form } });
    let page1 = doc.add_object(Stream::new(
        dictionary! {},
        b"q 100 0 0 50 10 20 cm /Im1 Do Q q 200 0 0 100 300 400 cm /Im1 Do Q q 1 0 0 1 100 600 cm /Fm1 Do Q".to_vec(),
    ));
    // Page 2: an inline image; an annotation whose appearance draws Im1.
    let page2 = doc.add_object(Stream::new(
        dictionary! {},
        b"q 30 0 0 10 50 50 cm BI /W 3 /H 1 /BPC 8 /CS /G ID \x10\x80\xf0 EI Q".to_vec(),
    ));
    let ap = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()],
        "Resources" => dictionary! { "XObject" => dictionary! { "Im1" => im1 } } },
        b"q 10 0 0 10 0 0 cm /Im1 Do Q".to_vec(),
    ));
    let hidden_ap = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()],
        "Resources" => dictionary! { "XObject" => dictionary! { "Im2" => im2 } } },
        b"/Im2 Do".to_vec(),
    ));
    let annot = doc.add_object(dictionary! { "Type" => "Annot", "Subtype" => "Stamp",
    "Rect" => vec![100.into(), 100.into(), 120.into(), 120.into()], "AP" => dictionary! { "N" => ap } });
    let hidden = doc.add_object(dictionary! { "Type" => "Annot", "Subtype" => "Stamp", "F" => 2,
    "Rect" => vec![0.into(), 0.into(), 9.into(), 9.into()], "AP" => dictionary! { "N" => hidden_ap } });
    // Page 3: two strips tiled edge to edge (one figure), resources inherited from the tree.
    let top = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => 10, "Height" => 5,
        "BitsPerComponent" => 8, "ColorSpace" => "DeviceGray" },
        vec![0; 50],
    ));
    let bottom = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => 10, "Height" => 5,
        "BitsPerComponent" => 8, "ColorSpace" => "DeviceGray" },
        vec![200; 50],
    ));
    let page3 = doc.add_object(Stream::new(
        dictionary! {},
        b"q 100 0 0 50 0 50 cm /Top Do Q q 100 0 0 50 0 0 cm /Bottom Do Q".to_vec(),
    ));
    let kids: Vec<Object> = vec![
        doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => page1, "Resources" => resources })
            .into(),
        doc.add_object(
            dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => page2, "Annots" => vec![annot.into(), hidden.into()] },
        )
        .into(),
        doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => page3 }).into(),
    ];
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => 3,
        "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        "Resources" => dictionary! { "XObject" => dictionary! { "Top" => top, "Bottom" => bottom } } }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn image(x: &Extraction, pred: impl Fn(&extract::Image) -> bool) -> &extract::Image {
    x.images.iter().find(|i| pred(i)).unwrap_or_else(|| panic!("no such image among {:#?}", ids(x)))
}

fn ids(x: &Extraction) -> Vec<(String, u32, u32)> {
    x.images.iter().map(|i| (i.id.clone(), i.width, i.height)).collect()
}

#[test]
fn placements_forms_inline_masks_annotations_and_tiles() {
    let x = extract::extract_bytes(&test_pdf(), &Limits::default());
    assert_eq!(x.kind, Kind::Pdf);
    assert!(x.error.is_none(), "{:?}", x.error);

    // One image drawn three times: two on page 1, one through the annotation on page 2.
    let im1 = image(&x, |i| i.width == 4 && i.height == 2);
    let boxes: Vec<(u32, [f32; 4])> = im1.placements.iter().map(|p| (p.page, p.bbox)).collect();
    assert_eq!(boxes[0], (1, [10.0, 20.0, 110.0, 70.0]));
    assert_eq!(boxes[1], (1, [300.0, 400.0, 500.0, 500.0]));
    assert_eq!(boxes[2], (2, [100.0, 100.0, 120.0, 120.0]), "annotation appearance mapped onto /Rect");
    assert_eq!(boxes.len(), 3);
    assert!((im1.placements[0].dpi.unwrap() - 4.0 * 72.0 / 100.0).abs() < 1e-3);
    assert_eq!(im1.encoding, "flate");
    let px = im1.pixels.as_ref().unwrap().to_luma8();
    assert_eq!(px.into_raw(), (0..8).map(|i| i * 30).collect::<Vec<u8>>());

    // Drawn from inside the form (which draws itself: the cycle is cut), with its soft mask.
    let im2 = image(&x, |i| i.width == 2 && i.colorspace == "rgb");
    assert_eq!(im2.placements.len(), 1, "once: the cycle is cut and the hidden annotation not drawn");
    assert_eq!(im2.placements[0].bbox, [100.0, 600.0, 150.0, 650.0]);
    let mask = image(&x, |i| Some(&i.id) == im2.mask.as_ref());
    assert_eq!(mask.role, Role::Smask);
    let rgba = im2.pixels.as_ref().unwrap().to_rgba8();
    assert_eq!(rgba.get_pixel(0, 0).0, [255, 0, 0, 255]);
    assert_eq!(rgba.get_pixel(1, 0).0, [0, 255, 0, 0], "soft mask applied as alpha");

    // The inline image on page 2.
    let inline = image(&x, |i| i.inline);
    assert_eq!((inline.width, inline.height, inline.page), (3, 1, Some(2)));
    assert_eq!(inline.pixels.as_ref().unwrap().to_luma8().into_raw(), [0x10, 0x80, 0xf0]);

    // Page 3's strips, with resources inherited from the page tree, joined into one figure.
    let fig = image(&x, |i| i.role == Role::Figure);
    assert_eq!(fig.page, Some(3));
    assert_eq!(fig.placements[0].bbox, [0.0, 0.0, 100.0, 100.0]);
    let f = fig.pixels.as_ref().unwrap().to_luma8();
    assert_eq!((f.width(), f.height()), (10, 10));
    assert_eq!((f.get_pixel(5, 1)[0], f.get_pixel(5, 8)[0]), (0, 200), "top strip on top");
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([(x * 7 + y * 3) as u8]));
    let mut buf = Vec::new();
    image::DynamicImage::ImageLuma8(img)
        .write_to(&mut std::io::Cursor::new(&mut buf), image::ImageFormat::Png)
        .unwrap();
    buf
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        z.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

#[test]
fn office_zip_and_tar_gz_recursively() {
    let docx = zip_of(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", b"<w:document/>"),
        ("word/media/image1.png", &png(30, 20)),
    ]);
    let x = extract::extract_bytes(&docx, &Limits::default());
    assert_eq!(x.kind, Kind::Docx);
    assert_eq!(ids(&x), [("word/media/image1.png#image".to_string(), 30, 20)]);

    // A ZIP holding a PDF, a nested ZIP with a PNG, and a broken PDF.
    let inner = zip_of(&[("deep/fig.png", &png(8, 9))]);
    let pdf = test_pdf();
    let outer = zip_of(&[("si/article.pdf", &pdf), ("inner.zip", &inner), ("broken.pdf", b"%PDF-1.4 garbage")]);
    let x = extract::extract_bytes(&outer, &Limits::default());
    assert_eq!(x.kind, Kind::Zip);
    assert!(x.images.iter().any(|i| i.member.as_deref() == Some("inner.zip/deep/fig.png") && i.width == 8));
    assert!(x.images.iter().filter(|i| i.member.as_deref() == Some("si/article.pdf")).count() >= 5);
    assert_eq!(x.members.len(), 1, "the broken member is reported: {:?}", x.members);
    assert_eq!(x.members[0].member, "broken.pdf");

    let mut tar = tar::Builder::new(Vec::new());
    let data = png(5, 6);
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_cksum();
    tar.append_data(&mut header, "figs/a.png", data.as_slice()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    let x = extract::extract_bytes(&gz.finish().unwrap(), &Limits::default());
    assert_eq!(x.kind, Kind::Gzip);
    assert_eq!(ids(&x), [("figs/a.png#image".to_string(), 5, 6)]);
}

#[test]
fn damaged_and_hostile_input_costs_only_itself() {
    let pdf = test_pdf();
    // Every truncation and a sweep of byte flips: never a panic; an error or fewer images.
    for cut in (0..pdf.len()).step_by(97) {
        let x = extract::extract_bytes(&pdf[..cut], &Limits::default());
        assert!(!x.error.as_deref().unwrap_or("").starts_with("internal error"), "cut {cut}: {:?}", x.error);
    }
    for at in (0..pdf.len()).step_by(13) {
        let mut bad = pdf.clone();
        bad[at] ^= 0x5a;
        let x = extract::extract_bytes(&bad, &Limits::default());
        assert!(!x.error.as_deref().unwrap_or("").starts_with("internal error"), "flip {at}: {:?}", x.error);
    }
    // A pixel limit refuses the image, not the file.
    let tight = Limits { max_pixels: 6, ..Limits::default() };
    let x = extract::extract_bytes(&pdf, &tight);
    assert!(x.error.is_none());
    let big = image(&x, |i| i.width == 4 && i.height == 2);
    assert!(big.error.as_deref().unwrap().contains("too large"), "{:?}", big.error);
    assert!(image(&x, |i| i.inline).error.is_none(), "3 pixels fit");
    // A decompression bomb inside a ZIP is refused by the byte limit.
    let bomb = zip_of(&[("a.png", &vec![0u8; 5 << 20])]);
    let small = Limits { max_decompressed: 1 << 20, ..Limits::default() };
    let x = extract::extract_bytes(&bomb, &small);
    assert!(x.error.as_deref().unwrap_or("").contains("too large") || !x.members.is_empty(), "{x:?}");
}

/// Real articles: the images poppler's `pdfimages -list` reports (sizes
/// recorded from it), decoded; an HTML page saved as .pdf is reported as HTML.
#[test]
fn real_articles() {
    let Some(dir) = shared("pdfs/articles") else { return };
    let x = extract::extract_file(&dir.join("PMC7808740.pdf"), &Limits::default());
    let got: Vec<(Option<u32>, u32, u32, &str, &str)> =
        x.images.iter().map(|i| (i.page, i.width, i.height, i.colorspace.as_str(), i.encoding.as_str())).collect();
    assert_eq!(got, [(Some(3), 1975, 1132, "gray", "jpeg"), (Some(6), 1975, 1754, "icc", "jpeg")]);
    assert!(x.images.iter().all(|i| i.pixels.as_ref().is_some_and(|p| p.width() == i.width)));

    // YCCK / CMYK JPEGs decode to the colours poppler gives (mean within a few levels).
    let x = extract::extract_file(&dir.join("PMC7909857.pdf"), &Limits::default());
    let logo = image(&x, |i| i.width == 1008 && i.height == 580);
    let rgb = logo.pixels.as_ref().unwrap().to_rgb8();
    let mean = rgb.pixels().map(|p| p[0] as f64).sum::<f64>() / (1008.0 * 580.0);
    assert!((mean - 202.5).abs() < 8.0, "red mean {mean} (poppler 202.5)");

    let html = extract::extract_file(&dir.join("10.1073_pnas.2307803120.pdf"), &Limits::default());
    assert_eq!(html.kind, Kind::Html);
    assert!(html.error.is_some() && html.images.is_empty());
}

/// pdf.js corpus files for each codec, sizes from `pdfimages -list`, mean
/// grey of the decoded pixels from poppler's `pdfimages -png`.
#[test]
fn real_codecs() {
    let Some(dir) = shared("pdfs/pdfjs") else { return };
    for (file, w, h, encoding, poppler_mean) in [
        ("bitmap-composite-and-xnor.pdf", 399, 400, "jbig2", 237.5),
        ("issue5481.pdf", 1090, 725, "jpx", 109.1),
        ("cmykjpeg.pdf", 200, 150, "jpeg", 140.8),
    ] {
        let x = extract::extract_file(&dir.join(file), &Limits::default());
        let i = image(&x, |i| i.width == w && i.height == h);
        assert_eq!(i.encoding, encoding, "{file}");
        let g = i.pixels.as_ref().unwrap_or_else(|| panic!("{file}: {:?}", i.error)).to_luma8();
        let mean = g.pixels().map(|p| p[0] as f64).sum::<f64>() / g.len() as f64;
        assert!((mean - poppler_mean).abs() < 12.0, "{file}: mean {mean}, poppler {poppler_mean}");
    }
    // CCITT (a stencil) decodes; inline images are found.
    let x = extract::extract_file(&dir.join("issue13372.pdf"), &Limits::default());
    assert!(image(&x, |i| i.encoding == "ccitt").pixels.is_some());
    let x = extract::extract_file(&dir.join("TAMReview.pdf"), &Limits::default());
    assert_eq!(x.images.iter().filter(|i| i.inline).count(), 2);
}

/// The whole pdf.js corpus: no panic, no time limit, every failure with a reason.
#[test]
fn whole_corpus_without_panics() {
    let Some(dir) = shared("pdfs/pdfjs") else { return };
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "pdf"));
    assert!(files.len() > 400);
    let limits = Limits::default();
    for f in files {
        let x = extract::extract_file(&f, &limits);
        for e in x.error.iter().chain(x.images.iter().filter_map(|i| i.error.as_ref())) {
            assert!(!e.starts_with("internal error") && !e.contains("time limit"), "{}: {e}", f.display());
            assert!(e.len() > 8, "{}: a reason, not just a code: {e}", f.display());
        }
    }
}

#[test]
fn cli_json_and_png_output() {
    let tmp = tempfile::tempdir().unwrap();
    let pdf = tmp.path().join("paper.pdf");
    std::fs::write(&pdf, test_pdf()).unwrap();
    let fake = tmp.path().join("landing.pdf");
    std::fs::write(&fake, "<!DOCTYPE html><html><body>Just a moment...</body></html>").unwrap();
    let out = tmp.path().join("out");
    let run =
        emtrace(tmp.path()).args(["--json", "extract", "--out"]).arg(&out).arg(&pdf).arg(&fake).assert().success();
    let rows = json_lines(&run.get_output().stdout);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["kind"], "pdf");
    for key in ["file", "kind", "error", "images"] {
        assert!(rows[0].get(key).is_some(), "{key}");
    }
    let img = &rows[0]["images"][0];
    for key in
        ["id", "page", "width", "height", "bpc", "colorspace", "encoding", "inline", "placements", "error", "png"]
    {
        assert!(img.get(key).is_some(), "{key}: {img}");
    }
    assert_eq!(img["placements"][0]["bbox"].as_array().unwrap().len(), 4);
    let written = std::path::PathBuf::from(img["png"].as_str().unwrap());
    let back = image::open(&written).unwrap();
    assert_eq!(
        (back.width() as u64, back.height() as u64),
        (img["width"].as_u64().unwrap(), img["height"].as_u64().unwrap())
    );
    assert_eq!(rows[1]["kind"], "html");
    assert!(rows[1]["error"].as_str().unwrap().contains("HTML"));
}

/// The panels `extract --panels --json` reports for an image file.
fn json_panels(dir: &std::path::Path, file: &std::path::Path) -> Vec<serde_json::Value> {
    let run = emtrace(dir).args(["--json", "extract", "--panels"]).arg(file).assert().success();
    let rows = json_lines(&run.get_output().stdout);
    rows[0]["images"][0]["panels"].as_array().unwrap().clone()
}

fn json_box(v: &serde_json::Value) -> [u64; 4] {
    let b: Vec<u64> = v["bbox"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    [b[0], b[1], b[2], b[3]]
}

/// Real multi-panel figures (Nature Communications, CC-BY): their panels,
/// micrographs told from plots, and framed insets as children (boxes
/// checked by eye on the figures).
#[test]
fn real_figure_panels() {
    let Some(dir) = shared("published/exsclaim/figures") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let panels = json_panels(tmp.path(), &dir.join("s41467-018-06211-3_fig2.jpg"));
    let boxes: Vec<([u64; 4], bool)> =
        panels.iter().map(|p| (json_box(p), p["micrograph"].as_bool().unwrap())).collect();
    let near = |a: [u64; 4], b: [u64; 4]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12);
    // Panel a (HAADF image with an FFT inset), f (SEM-like overview), and the line profile b.
    assert!(boxes.iter().any(|(b, m)| near(*b, [15, 4, 386, 251]) && *m), "{boxes:?}");
    assert!(boxes.iter().any(|(b, m)| near(*b, [18, 555, 308, 736]) && *m), "{boxes:?}");
    assert!(boxes.iter().any(|(b, m)| near(*b, [1, 287, 370, 503]) && !*m), "{boxes:?}");
    for key in ["bbox", "micrograph", "scale_bar", "nm_per_px", "databar", "children"] {
        assert!(panels[0].get(key).is_some(), "{key}");
    }
    // Panel a's white-framed FFT inset (frame included) is its one child;
    // the dashed boxes marking regions b and c are not insets.
    let a = panels.iter().find(|p| json_box(p)[..2] == [15, 4]).unwrap();
    let children = a["children"].as_array().unwrap();
    assert_eq!(children.len(), 1, "{children:?}");
    assert!(near(json_box(&children[0]), [20, 10, 125, 117]), "{children:?}");
    for key in ["bbox", "micrograph", "scale_bar", "nm_per_px", "databar", "children"] {
        assert!(children[0].get(key).is_some(), "{key}");
    }
    // Figure 1's panels g, h and i: the framed FFT insets in their top-right
    // corners. (h's zoom inset, framed on two sides in the panel's corner,
    // is not found: two frame sides are also what a grid left unsplit shows.)
    let insets: Vec<[u64; 4]> = json_panels(tmp.path(), &dir.join("s41467-018-06211-3_fig1.jpg"))
        .iter()
        .flat_map(|p| p["children"].as_array().unwrap().iter().map(json_box).collect::<Vec<_>>())
        .collect();
    assert_eq!(insets.len(), 3, "{insets:?}");
    for truth in [[125, 497, 217, 579], [393, 497, 451, 551], [621, 497, 682, 554]] {
        assert!(insets.iter().any(|b| near(*b, truth)), "{truth:?} not among {insets:?}");
    }
}

/// Real published panels (labelled by eye in fixtures/figures): the bar,
/// its label and the resulting nm/px; no bar where there is none.
#[test]
fn real_panels_scale_bars() {
    let Some(dir) = shared("published/emps-train/images") else { return };
    let panel = |file: &str| {
        let img = image::open(dir.join(file)).unwrap().to_luma8();
        emtrace::figure::panels(&img)
    };
    let p = panel("00655d9628.png");
    assert_eq!(p.len(), 1);
    let bar = p[0].scale_bar.as_ref().expect("a black bar labelled 200 nm");
    assert_eq!(bar.bbox, [429, 481, 501, 488]);
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(200.0), Some("nm")));
    let nm_per_px = p[0].nm_per_px.unwrap();
    assert!((nm_per_px - 200.0 / 72.0).abs() < 0.05 * 200.0 / 72.0, "{nm_per_px}");

    let p = panel("1a29c5b84f.png");
    let bar = p[0].scale_bar.as_ref().unwrap();
    assert!(bar.bbox[2] - bar.bbox[0] == 187 && bar.value == Some(200.0), "{bar:?}");

    // JPEG broke the m of this label apart ("100n111" glyph by glyph): read
    // as the label grammar allows, with a low confidence.
    let bar = panel("2556313831.png")[0].scale_bar.clone().unwrap();
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(100.0), Some("nm")), "{bar:?}");
    assert!(bar.confidence < 0.25, "{bar:?}");
    // ...and of this one ("500 n1n" at the bar's contrast), whose m is
    // whole at half of it.
    let bar = panel("22c776b059.png")[0].scale_bar.clone().unwrap();
    assert_eq!((bar.value, bar.unit.as_deref(), bar.text.as_deref()), (Some(500.0), Some("nm"), Some("500 nm")));

    // Arial's footless "1" (templates from Roboto; Liberation Sans and
    // DejaVu give theirs a foot, and the "1" used to read as a 4 or a 9).
    for (file, value, unit) in [("1e0f5d817e.png", 100.0, "nm"), ("2e4a3ab627.png", 1.0, "µm")] {
        let bar = panel(file)[0].scale_bar.clone().unwrap();
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(value), Some(unit)), "{file}: {bar:?}");
    }

    // Touching zeros ("00" as one glyph) are read as two where two reads
    // beat one.
    for file in ["065d8e352c.png", "31f17306c8.png"] {
        let bar = panel(file)[0].scale_bar.clone().unwrap();
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(200.0), Some("nm")), "{file}: {bar:?}");
    }

    // A bold serif "nm" drawn as one glyph with a speck inside it (no
    // decimal point: it is within a glyph), and a thin "0" broken into its
    // two sides ("1011 nm" glyph by glyph, not a length a bar shows): both
    // read as the label grammar allows, the wide glyph cut in two.
    for (file, value) in [("434e287439.png", 200.0), ("36de69b2c0.png", 100.0)] {
        let bar = panel(file)[0].scale_bar.clone().unwrap();
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(value), Some("nm")), "{file}: {bar:?}");
    }

    // Labels with digits 7 or 8 pixels high, antialiased, whose glyphs fall
    // apart or run together at any one grey: read whole, with the low
    // confidence of a reading the label grammar chose. The first three sit on
    // (and touch) a dark outline round a white bar.
    for file in ["76dde347fc.png", "3a8af6d3f4.png", "6360a823da.png", "1ecd5c901c.png"] {
        let bar = panel(file)[0].scale_bar.clone().unwrap();
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(50.0), Some("nm")), "{file}: {bar:?}");
        assert!(bar.confidence <= 0.2, "{file}: {bar:?}");
    }

    // Labels among specks of texture that chain every row near them into
    // one line: read in the rows their glyphs share (a serif "5 nm"; "35
    // nm", not a round value, so read glyph by glyph).
    for (file, value) in [("5addfe7111.png", 5.0), ("74391d74bd.png", 35.0)] {
        let bar = panel(file)[0].scale_bar.clone().unwrap();
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(value), Some("nm")), "{file}: {bar:?}");
    }
    // A speck on the baseline taken for a point ("100.um", its "n" as near a
    // "u" as an "n"): read again as the label grammar allows, keeping the
    // value.
    let bar = panel("6d1574872b.png")[0].scale_bar.clone().unwrap();
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(100.0), Some("nm")), "{bar:?}");
    assert!(bar.confidence <= 0.2, "{bar:?}");

    // A white block under four times as long as thick, tenth of the lines
    // that break a bar's rules, beside its "100 nm" in a white box whose
    // edge gives a speck read as a point before the number.
    let bar = panel("404b0836f1.png")[0].scale_bar.clone().unwrap();
    assert_eq!(bar.bbox, [12, 482, 81, 509], "{bar:?}");
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(100.0), Some("nm")), "{bar:?}");

    // A one-row bar that its label's µ descender crosses, cutting it in two:
    // the halves are one bar, and the half beyond the one read is no ink
    // of the label (it had joined "µm" into one blob).
    let bar = panel("2bc87a8698.png")[0].scale_bar.clone().unwrap();
    assert_eq!(bar.bbox, [248, 507, 346, 508], "{bar:?}");
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(1.0), Some("µm")), "{bar:?}");
    assert!((bar.length_px - 100.19).abs() < 0.5, "{bar:?}");

    // Dark grey text under a white bar on a grey picture: the other colour's
    // ink is as dark as the region's darkest pixels, not as dark as the bar
    // is light.
    let bar = panel("01ac659240.png")[0].scale_bar.clone().unwrap();
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(10.0), Some("nm")), "{bar:?}");

    // A bar shorter than a 25th of the panel counts because the label
    // beside it reads as a length.
    let bar = panel("43be4d0a2c.png")[0].scale_bar.clone().unwrap();
    assert_eq!(bar.bbox, [608, 495, 632, 498]);
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(10.0), Some("nm")), "{bar:?}");

    // Halves of a bar round its label ("1 um", cut by the picture's bottom
    // edge) are the bar, not the black strip's top edge beside the same
    // label; a label 53 px under a bright fleck is not the fleck's.
    let bar = panel("48f3a148f6.png")[0].scale_bar.clone().unwrap();
    assert_eq!((bar.bbox[0], bar.bbox[2], bar.value), (485, 676, Some(1.0)), "{bar:?}");
    // (Its white bar's top rows, broken by JPEG into uneven runs, are the
    // bar's grey, not what it stands out from.)
    let bar = panel("6a291d0bb4.png")[0].scale_bar.clone().unwrap();
    assert_eq!(bar.bbox, [28, 476, 143, 481], "{bar:?}");
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(50.0), Some("nm")), "{bar:?}");
    // The white inside of an outlined bar under tiny text, eighth of the
    // lines that break a bar's rules (its "50 nm" still reads "40nm").
    let bar = panel("6360a823da.png")[0].scale_bar.clone().unwrap();
    assert_eq!(bar.bbox, [20, 491, 171, 495], "{bar:?}");
    // Texture read as a 61-px "4µm" under a 12-px fleck among spheres with
    // no scale bar is no label of it.
    let bar = panel("6752c27137.png")[0].scale_bar.clone();
    assert!(bar.is_none(), "{bar:?}");

    // A speck in the tight gap between two glyphs is no decimal point ("1
    // µm" had read "3nm"); an "m" run into texture at the picture's edge,
    // wider than high, is no bracket tick at the bar's end; a label in thin
    // strokes that runs on into larger text on a lower baseline is cut where
    // the baseline steps.
    for (file, value, unit) in
        [("60feb7de8f.png", 1.0, "µm"), ("70f9f13af4.png", 20.0, "nm"), ("3537f150cd.png", 0.1, "µm")]
    {
        let bar = panel(file)[0].scale_bar.clone().unwrap();
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(value), Some(unit)), "{file}: {bar:?}");
    }

    // Hitachi's rulers of ticks (solid in the data bar; dotted along the
    // picture's bottom edge), measured from the first tick's middle to the
    // last one's, with the label under or over them.
    for (file, value, len) in [("406d70e411.png", 500.0, 270.0), ("0113230c21.png", 200.0, 152.0)] {
        let bar = panel(file)[0].scale_bar.clone().unwrap();
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(value), Some("nm")), "{file}: {bar:?}");
        assert!((bar.length_px - len).abs() <= 1.0, "{file}: {bar:?}");
    }

    // The label grammar reads only lengths a bar would show: blurred zeros
    // joined along their sides cut at their least inked column ("1m m"
    // glyph by glyph), and a dotted "0" in a data-bar font that reads as an
    // 8 ("18pm" in the old grammar). A bar's end cap, cut in two by the
    // bar, is no line of text.
    for (file, value, unit) in [("4628753cd8.png", 100.0, "nm"), ("3027f9ffe7.png", 10.0, "µm")] {
        let bar = panel(file)[0].scale_bar.clone().unwrap();
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(value), Some(unit)), "{file}: {bar:?}");
    }
    // "1um" as printed.
    let bar = panel("41c25dca24.png")[0].scale_bar.clone().unwrap();
    assert_eq!((bar.value, bar.unit.as_deref(), bar.text.as_deref()), (Some(1.0), Some("µm"), Some("1um")));
    // JEOL's short white bar over "100 nm" in its black data bar, in a font
    // with dotted zeros (templates from DejaVu Sans Mono; they read as 8).
    for (file, x0, x1) in [("47286679c2.png", 329, 357), ("427ebc9e15.png", 350, 380)] {
        let bar = panel(file).into_iter().find_map(|p| p.scale_bar).unwrap();
        assert!(bar.bbox[0].abs_diff(x0) <= 2 && bar.bbox[2].abs_diff(x1) <= 2, "{file}: {bar:?}");
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(100.0), Some("nm")), "{file}: {bar:?}");
    }
    // A serif "3 µm" under a particle whose bright rim curves over the
    // label's line (no glyph: it spans three of them).
    let bar = panel("1b935635dd.png")[0].scale_bar.clone().unwrap();
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(3.0), Some("µm")), "{bar:?}");
    // JEOL's white bar in its black data bar, its "100nm" on the same rows
    // 37 px to the right of it (beyond half the bar's length, within the
    // label's own width).
    let bar = panel("21308b3614.png").into_iter().find_map(|p| p.scale_bar).unwrap();
    assert!(bar.bbox[0].abs_diff(505) <= 2 && bar.bbox[2].abs_diff(558) <= 2, "{bar:?}");
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(100.0), Some("nm")), "{bar:?}");
    // A bar cut by the picture's bottom edge, one row of it left: the line
    // offered last counts with its label "1 um" over it.
    let bar = panel("2897b777fe.png")[0].scale_bar.clone().unwrap();
    assert!(bar.bbox[0] <= 4 && bar.bbox[2].abs_diff(90) <= 2 && bar.bbox[1] >= 509, "{bar:?}");
    assert!((bar.length_px - 87.9).abs() < 1.0, "{bar:?}");
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(1.0), Some("µm")), "{bar:?}");
    // A clean bright-field picture, 81% of it flat pixel to pixel, on its
    // own light grey border: a micrograph (its 235-244 background is no
    // paper), with its unlabelled black bar.
    let p = &panel("28d7e31165.png")[0];
    assert!(p.micrograph, "{p:?}");
    let bar = p.scale_bar.clone().unwrap();
    assert!(bar.bbox[0].abs_diff(24) <= 2 && bar.bbox[2].abs_diff(109) <= 2, "{bar:?}");
    // A short bar whose label is much wider: "20" over the bar, "nm" well
    // to its right.
    let bar = panel("33f8a59619.png")[0].scale_bar.clone().unwrap();
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(20.0), Some("nm")), "{bar:?}");

    // Bars found (x0 and x1 within 2 px) and read:
    // - particles on a bright-field background, half of it flat near-white:
    //   a micrograph all the same (the rest of its background is noisy);
    //   its label's thin grey strokes never reach the bar's black, and are
    //   read at half its contrast;
    // - a STEM picture whose flat black vacuum is 37% of it: a micrograph;
    // - a black bar with a strip of the picture under it, against the
    //   picture's bottom edge: the bar, not the strip;
    // - a white block only 2.5 times as long as thick (a label box's shape),
    //   beside its boxed label "100 nm";
    // - black bars near the foot of white label boxes: the bars, not the
    //   longer, thinner white margins under them;
    // - an 18-px bracket (a 38th of its panel) whose "100 nm" starts 12 px
    //   to its right: its ticks are no glyphs, and its length runs over
    //   them.
    for (file, x0, x1, value) in [
        ("3430b20071.png", 19, 99, 100.0),
        ("1bf56ce626.png", 540, 672, 100.0),
        ("032bd4a6b1.png", 451, 588, 200.0),
        ("478a6c42ec.png", 9, 78, 100.0),
        ("2d1a6c5ce4.png", 26, 175, 100.0),
        ("1bed563906.png", 13, 79, 100.0),
        ("4cd9e65aae.png", 560, 578, 100.0),
    ] {
        let bar = panel(file).into_iter().find(|p| p.micrograph).and_then(|p| p.scale_bar).expect(file);
        assert!(bar.bbox[0].abs_diff(x0) <= 2 && bar.bbox[2].abs_diff(x1) <= 2, "{file}: {bar:?}");
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(value), Some("nm")), "{file}: {bar:?}");
    }
    // A black block 2.7 times as long as thick under a serif "1 µm" whose
    // descender cuts the picture's grey between them into a longer strip
    // (a bright-field TEM on its own light grey): the block, not the strip.
    let p = &panel("39e18a8f4c.png")[0];
    let bar = p.scale_bar.clone().expect("39e18a8f4c");
    assert!(p.micrograph && bar.bbox[0].abs_diff(537) <= 2 && bar.bbox[2].abs_diff(597) <= 2, "{bar:?}");
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(1.0), Some("µm")), "{bar:?}");
    // FEI's bracket, a one-row line between ticks that fall between two
    // columns: the line (its 1 µm read from the data bar), not the black
    // between the ticks under it.
    let bar = panel("245e1a4826.png")[0].scale_bar.clone().unwrap();
    assert!(bar.bbox[1] >= 497 && bar.bbox[3] <= 501 && (103.0..=106.0).contains(&bar.length_px), "{bar:?}");
    assert_eq!((bar.value, bar.unit.as_deref()), (Some(1.0), Some("µm")), "{bar:?}");
    // "50 nm" in a blurred serif that never reaches its bar's black (read
    // at half its contrast), and outlined in white on a light picture: of
    // the lines near the bar, the one the grammar reads at least cost
    // ("50 mm" glyph by glyph), not the nearest (texture read as "40µm").
    for file in ["2c6c108b4d.png", "3a8af6d3f4.png"] {
        let bar = panel(file)[0].scale_bar.clone().unwrap();
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(50.0), Some("nm")), "{file}: {bar:?}");
    }
    // A label no template fits (a blurred serif whose "2" touches a
    // particle): no length rather than one the grammar forces ("100µm").
    let bar = panel("173c98ef82.png")[0].scale_bar.clone().unwrap();
    assert_eq!(bar.value, None, "{bar:?}");
    // White text and bar outlined in black on a grey picture: the
    // background is the picture beyond the bar's outline, not the outline.
    // And white serif text in a black box beside a black bar on grainy
    // grey, its "nm" running on past the region looked in.
    for file in ["2e5dab1969.png", "1700be1235.png"] {
        let bar = panel(file)[0].scale_bar.clone().unwrap();
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(200.0), Some("nm")), "{file}: {bar:?}");
    }
    // Hitachi's "200um", its "um" one blob: the grammar reads it as printed
    // ("200nm" before a "u" could be read at all), and two "nm" labels whose
    // "n" looks a little like a "u" stay "nm".
    for (file, value, unit) in
        [("410284d28b.png", 200.0, "µm"), ("19b0afdf81.png", 50.0, "nm"), ("3692286ecf.png", 20.0, "nm")]
    {
        let bar = panel(file).into_iter().find_map(|p| p.scale_bar).expect(file);
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(value), Some(unit)), "{file}: {bar:?}");
    }
    // Hitachi's "5.00um" whose point is too faint to be a glyph at the
    // text's grey: digits a point's width apart are no "500um", and the
    // label is read where the point shows (at half the text's contrast).
    // Dim bars, 24-28 grey levels off the picture, count with their label:
    // a light grey line on grey, a black core in a faint light outline.
    for (file, value, unit) in
        [("5c244a9ea8.png", 5.0, "µm"), ("513158cf83.png", 50.0, "nm"), ("03cd0b2741.png", 100.0, "nm")]
    {
        let bar = panel(file).into_iter().find_map(|p| p.scale_bar).expect(file);
        assert_eq!((bar.value, bar.unit.as_deref()), (Some(value), Some(unit)), "{file}: {bar:?}");
    }
    // FEI's bracket printed in two halves round its "2 um": one bar from
    // cap to cap (532 to 684), not the half beside the label.
    let bar = panel("671b7c8831.png").into_iter().find_map(|p| p.scale_bar).unwrap();
    assert!((bar.length_px - 152.0).abs() <= 1.5 && bar.value == Some(2.0), "{bar:?}");
    // That "200um" labels a dotted ruler of eleven dots, each up to a pixel
    // off the mean step: all of them followed, 405 to 611.
    let bar = panel("410284d28b.png").into_iter().find_map(|p| p.scale_bar).unwrap();
    assert!((bar.length_px - 206.5).abs() <= 1.0, "{bar:?}");
    // JEOL's "100nm" on a black data bar, its glyphs run together, reads
    // "400pm" there: no instrument prints pm on its bar, so the data bar
    // gives no scale rather than that one.
    let databar = panel("21308b3614.png")[0].databar.clone().unwrap();
    assert!(databar.text.lines[0].contains("pm") && databar.text.scale_bar.is_none(), "{databar:?}");

    // No bar: a faint line between spheres mid-field, short lines whose
    // "label" is texture forced into the grammar as "4nm" or "3nm" (one
    // shorter than a 40th of the panel, one through the text it is read
    // from).
    for none in
        ["0fa38de2c7.png", "1e011bd992.png", "2ee0518d7a.png", "2bf4aa0195.png", "3ac1920a79.png", "4822787326.png"]
    {
        assert!(panel(none).iter().all(|p| p.scale_bar.is_none()), "{none}");
    }
    // Dark particles on a light grey (229-240) background with a clear band
    // of it across the picture: one micrograph, not two panels cut at the
    // band (the lower one took a particle's rim on its last rows for a bar).
    let whole = panel("66a6ddb34e.png");
    assert_eq!(whole.len(), 1, "{whole:?}");
    assert!(whole[0].micrograph && whole[0].bbox[1] == 0 && whole[0].bbox[3] >= 512, "{whole:?}");
    assert!(whole[0].scale_bar.is_none(), "{whole:?}");
}

/// The optional Tesseract path reads a real label (skipped when the
/// `tesseract` program is not installed).
#[test]
fn tesseract_reads_a_real_label() {
    let Some(dir) = shared("published/emps-train/images") else { return };
    if std::process::Command::new("tesseract").arg("--version").output().is_err() {
        eprintln!("skipping: tesseract is not installed");
        return;
    }
    // A sans label, and a "5 nm" on grainy TEM that it reads once the crop
    // is set as dark text on white.
    for (file, bar, want) in
        [("1a29c5b84f.png", [14, 514, 201, 519], 200.0), ("5addfe7111.png", [12, 498, 71, 502], 5.0)]
    {
        let img = image::open(dir.join(file)).unwrap().to_luma8();
        assert_eq!(emtrace::figure::ocr::tesseract(&img, bar), Some((want, "nm".to_string())), "{file}");
    }
}

/// A grid of eight TEM / STEM panels whose gutters are crossed by zoom
/// lines and a label box: every panel is found (boxes in fixtures/figures).
#[test]
fn real_figure_grid_with_crossed_gutters() {
    let Some(dir) = shared("published/exsclaim/figures") else { return };
    let bytes = std::fs::read(dir.join("s41598-017-12553-7_fig4.jpg")).unwrap();
    let img = image::load_from_memory(&bytes).unwrap().to_luma8();
    let micrographs: Vec<[u32; 4]> =
        emtrace::figure::panels(&img).into_iter().filter(|p| p.micrograph).map(|p| p.bbox).collect();
    assert_eq!(micrographs.len(), 8, "{micrographs:?}");
    let truth = std::fs::read_to_string(util::fixture("figures/exsclaim-panels.csv")).unwrap();
    for line in truth.lines().filter(|l| l.starts_with("s41598-017-12553-7_fig4.jpg")) {
        let b: Vec<u32> = line.split(',').nth(1).unwrap().split(' ').map(|v| v.parse().unwrap()).collect();
        let near = micrographs.iter().any(|m| m.iter().zip(&b).all(|(x, y)| x.abs_diff(*y) <= 6));
        assert!(near, "{b:?} not among {micrographs:?}");
    }
}

/// A real Hitachi TM4000 micrograph as a standalone image: its data bar's
/// settings as printed (the sidecar says 15 kV, WD 7.89 mm, ×600, BSE,
/// 2021-06-23) and its tick ruler labelled 50.0 µm, which gives the panel's
/// nm/px (the sidecar's pixel size is 165.36 nm).
#[test]
fn real_databar_read_from_the_pixels() {
    let Some(dir) = shared("archive/hitachi-tm4000") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let run = emtrace(tmp.path())
        .args(["--json", "extract", "--panels"])
        .arg(dir.join("sample-１_600倍(x600).tif"))
        .assert()
        .success();
    let rows = json_lines(&run.get_output().stdout);
    let panel = &rows[0]["images"][0]["panels"][0];
    let bar = &panel["databar"];
    assert_eq!(bar["bbox"], serde_json::json!([0, 901, 1280, 960]));
    assert_eq!(bar["kv"], 15.0);
    assert_eq!(bar["magnification"], 600.0);
    assert_eq!(bar["wd_mm"], 7.9);
    assert_eq!(bar["detector"], "BSE");
    assert_eq!(bar["date"], "2021-06-23");
    assert_eq!(bar["time"], "16:41:00");
    assert!(bar["lines"][0].as_str().unwrap().starts_with("TM4000 15kV 7.9mm x600 BSE"), "{bar}");
    assert_eq!(panel["scale_bar"]["source"], "databar");
    assert_eq!((panel["scale_bar"]["value"].as_f64(), panel["scale_bar"]["unit"].as_str()), (Some(50.0), Some("µm")));
    let nm_per_px = panel["nm_per_px"].as_f64().unwrap();
    assert!((nm_per_px / 165.3646 - 1.0).abs() < 0.01, "{nm_per_px}");
}

/// Data bars on published panels. One whose flat grey field runs down into
/// Hitachi's black data bar (found 136 rows tall, mostly field): the bar's
/// background is its bottom rows' black, so its white text is read, points
/// read as commas and all (`10,0kV 8,4mm x100k`).
#[test]
fn published_databars() {
    let Some(dir) = shared("published/emps-train/images") else { return };
    let img = image::open(dir.join("555eb05b4c.png")).unwrap().to_luma8();
    let panels = emtrace::figure::panels(&img);
    let bar = panels.iter().find_map(|p| p.databar.as_ref()).expect("a data bar");
    let t = &bar.text;
    assert_eq!((t.kv, t.magnification, t.wd_mm), (Some(10.0), Some(100_000.0), Some(8.4)), "{t:?}");

    // A Zeiss bar whose top border runs its whole width: the border is no
    // scale rule (it took the `WD = 7.5 mm` under it, read `7.6 mm`, as its
    // label); the bar's scale is its capped `2 µm` or none.
    let img = image::open(dir.join("37ce835fb2.png")).unwrap().to_luma8();
    let panels = emtrace::figure::panels(&img);
    let t = &panels.iter().find_map(|p| p.databar.as_ref()).expect("a data bar").text;
    assert!(t.scale_bar.as_ref().is_none_or(|s| (s.value, s.unit.as_str()) == (2.0, "µm")), "{t:?}");
    assert_eq!(t.magnification, Some(8920.0), "{t:?}");
}

/// Every real data bar in ../shared/data/archive (Zeiss Auriga and NVision,
/// Hitachi, TESCAN, FEI Quanta and Helios), read from the pixels and checked
/// against what the instrument wrote into the file's metadata, with no
/// misses (`bench figures --show-failures`). A 1-bit italic 9, nearer a 0's
/// template, is a 9 by its hole (`Mag = 7.79 K X`); Zeiss's 512-pixel bar,
/// its 1024-pixel text shrunk to 6-pixel capitals that touch, is read whole.
#[test]
fn real_databars_agree_with_the_metadata() {
    let Some(archive) = shared("archive") else { return };
    let checks = emtrace::bench::databar_checks(&archive, &util::fixture("figures")).unwrap();
    assert_eq!(checks.len(), 57, "every image with a data bar is checked");
    let bad: Vec<_> = checks.iter().filter(|c| !(c.wrong.is_empty() && c.unread.is_empty())).collect();
    assert!(bad.is_empty(), "{:#?}", bad.iter().map(|c| (&c.path, &c.wrong, &c.unread)).collect::<Vec<_>>());
    let right: usize = checks.iter().map(|c| c.right.len()).sum();
    let wrong: usize = checks.iter().map(|c| c.wrong.len()).sum();
    assert!(right == 366 && wrong == 0, "{right} right, {wrong} wrong");
    let shrunk = &checks.iter().find(|c| c.path.ends_with("Zeiss_SEM_512pix.tif")).unwrap().text;
    assert_eq!((shrunk.kv, shrunk.magnification, shrunk.wd_mm), (Some(5.0), Some(50_000.0), Some(3.9)), "{shrunk:?}");
    assert_eq!(
        (shrunk.detector.as_deref(), shrunk.date),
        (Some("InLens"), chrono::NaiveDate::from_ymd_opt(2018, 9, 25))
    );
    // Its `200 nm` rule runs between 12-pixel end caps 17 pixels apart.
    let scale = shrunk.scale_bar.as_ref().unwrap();
    assert_eq!((scale.value, scale.unit.as_str(), scale.length_px), (200.0, "nm", 17.0));
    let italic = checks.iter().find(|c| c.path.ends_with("LTHD/unimplanted23.tif")).unwrap();
    assert_eq!(italic.text.magnification, Some(7790.0));
    // Each vendor's layout is read in full: Hitachi's tick ruler, TESCAN's
    // grey keys, FEI's tables, Zeiss NVision's label beside a line, and
    // Auriga's 1-bit italic with touching letters (`InLens`).
    for family in [
        "hitachi-tm4000/",
        "tescan-zeiss-igic/",
        "nexuslims/quanta_image",
        "rosettasciio/tiff/FEI-Helios-Ebeam",
        "zeiss-auriga-tungsten/HTHD/",
        "zeiss-auriga-tungsten/LTHD/unimplanted0",
    ] {
        for c in checks.iter().filter(|c| c.path.starts_with(family)) {
            assert!(c.wrong.is_empty() && c.unread.is_empty(), "{}: {:?} {:?} {:?}", c.path, c.wrong, c.unread, c.text);
        }
    }
    // A zeroed bar reads as no text, not as noise.
    let zeroed = checks.iter().find(|c| c.path.ends_with("quanta-fei_2_dataZeroed.tif")).unwrap();
    assert!(zeroed.text.lines.is_empty());
}

/// A micrograph-like texture: no flat paper, no horizontal runs.
fn texture(w: u32, h: u32) -> image::GrayImage {
    image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 37 + y * 91) % 200) as u8 + 20]))
}

/// A page as journal figures are made: two micrographs whose scale-bar
/// labels are vector text drawn over them, one with its bar drawn as a
/// filled rectangle (Helvetica, WinAnsi, kerned with TJ), the other with its
/// bar in the pixels and the label in an embedded Type 0 font whose codes
/// only its ToUnicode map explains; a caption under the figure that states a
/// length but is over no image.
fn vector_label_pdf() -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let raster = |doc: &mut Document, img: &image::GrayImage| {
        doc.add_object(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => img.width(), "Height" => img.height(),
            "BitsPerComponent" => 8, "ColorSpace" => "DeviceGray", "Filter" => "FlateDecode" },
            flate(img.as_raw()),
        ))
    };
    let a = raster(&mut doc, &texture(200, 150));
    let mut with_bar = texture(200, 150);
    for (x, y) in (120..180).flat_map(|x| (130..134).map(move |y| (x, y))) {
        with_bar.put_pixel(x, y, image::Luma([255]));
    }
    let b = raster(&mut doc, &with_bar);
    let helvetica = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1",
    "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding" });
    let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n\
1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
4 beginbfchar <0001> <0032> <0002> <0020> <0003> <03BC> <0004> <006D> endbfchar\n\
endcmap CMapName currentdict /CMap defineresource pop end end\n";
    let to_unicode = doc.add_object(Stream::new(dictionary! {}, cmap.to_vec()));
    let cid = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "CIDFontType2", "BaseFont" => "ArialMT",
    "CIDSystemInfo" => dictionary! { "Registry" => Object::string_literal("Adobe"),
    "Ordering" => Object::string_literal("Identity"), "Supplement" => 0 },
    "DW" => 1000, "W" => vec![1.into(), vec![556.into(), 278.into(), 576.into(), 833.into()].into()] });
    let arial = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type0", "BaseFont" => "ArialMT",
    "Encoding" => "Identity-H", "DescendantFonts" => vec![cid.into()], "ToUnicode" => to_unicode });
    // Image A at 1.5 pt per pixel: its bar is a 60 × 4.5 pt rectangle
    // (40 × 3 px, over pixel rows 131-134), "500 nm" above it.
    // Image B at 1 pt per pixel: "2 μm" above its 60-pixel white bar.
    let content = b"q 300 0 0 225 100 400 cm /A Do Q\n\
q 1 1 1 rg 280 424 60 4.5 re f Q\n\
BT /F1 12 Tf 1 0 0 1 284 442 Tm [(5)-30(00)-250(nm)] TJ ET\n\
q 200 0 0 150 100 100 cm /B Do Q\n\
BT /F2 10 Tf 232 125 Td <0001000200030004> Tj ET\n\
BT /F1 9 Tf 100 80 Td (Figure 1. Scale bars, 500 nm and 2 \\265m.) Tj ET\n\
0.5 w 100 70 m 400 70 l S\n";
    let page = doc.add_object(Stream::new(dictionary! {}, content.to_vec()));
    let resources = dictionary! { "XObject" => dictionary! { "A" => a, "B" => b },
    "Font" => dictionary! { "F1" => helvetica, "F2" => arial } };
    let kid = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => page,
    "Resources" => resources, "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()] });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![kid.into()], "Count" => 1 }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn scale_bar_labels_drawn_as_vector_text() {
    let tmp = tempfile::tempdir().unwrap();
    let pdf = tmp.path().join("figure.pdf");
    std::fs::write(&pdf, vector_label_pdf()).unwrap();
    let run = emtrace(tmp.path()).args(["--json", "extract", "--panels"]).arg(&pdf).assert().success();
    let rows = json_lines(&run.get_output().stdout);
    let images = rows[0]["images"].as_array().unwrap();
    let panel = |w: u64| {
        let img = images.iter().find(|i| i["placements"][0]["bbox"][2].as_f64() == Some(w as f64)).unwrap();
        img["panels"][0].clone()
    };
    // A: the drawn rectangle is the bar, 40 px long; 500 nm / 40 px.
    let a = panel(400);
    let bar = &a["scale_bar"];
    assert_eq!(bar["source"], "vector-text", "{a}");
    assert_eq!(
        (bar["value"].as_f64(), bar["unit"].as_str(), bar["text"].as_str()),
        (Some(500.0), Some("nm"), Some("500 nm"))
    );
    assert_eq!(bar["bbox"], serde_json::json!([120, 131, 160, 134]));
    assert!((bar["length_px"].as_f64().unwrap() - 40.0).abs() < 1e-6, "{bar}");
    assert!((a["nm_per_px"].as_f64().unwrap() - 12.5).abs() < 1e-6);
    // B: the label names the bar found in the pixels (60 px): 2 µm / 60 px.
    let b = panel(300);
    let bar = &b["scale_bar"];
    assert_eq!(bar["source"], "vector-text", "{b}");
    assert_eq!((bar["value"].as_f64(), bar["unit"].as_str()), (Some(2.0), Some("µm")));
    assert_eq!(bar["bbox"], serde_json::json!([120, 130, 180, 134]));
    assert!((b["nm_per_px"].as_f64().unwrap() - 2000.0 / 60.0).abs() < 0.05, "{b}");
    // The label box lies over the bar, where the text was drawn.
    let l: Vec<u64> = bar["label_bbox"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert!(l[0] >= 130 && l[0] <= 134 && l[3] <= 130 && l[3] >= 124, "{l:?}");
}
