//! Rasters tiled edge to edge on a page (a figure stored as strips or a grid
//! of tiles) joined into one figure image.

use image::{imageops, DynamicImage, RgbImage};

use super::{Image, Placement, Role};

/// Gap or overlap in points still counted as touching.
const TOLERANCE: f32 = 1.0;
const MAX_PIXELS: u64 = 100_000_000;

/// `a` and `b` share an edge: adjacent along one axis, matching along the other.
fn abut(a: &[f32; 4], b: &[f32; 4]) -> bool {
    let close = |x: f32, y: f32| (x - y).abs() <= TOLERANCE;
    let same_rows = close(a[1], b[1]) && close(a[3], b[3]);
    let same_cols = close(a[0], b[0]) && close(a[2], b[2]);
    (same_rows && (close(a[2], b[0]) || close(b[2], a[0]))) || (same_cols && (close(a[3], b[1]) || close(b[3], a[1])))
}

/// Joined figures for the groups of two or more pictures that tile a page.
pub fn join(images: &[Image]) -> Vec<Image> {
    // One node per (picture, placement).
    let nodes: Vec<(usize, &Placement)> = images
        .iter()
        .enumerate()
        .filter(|(_, i)| i.role == Role::Image && i.pixels.is_some())
        .flat_map(|(n, i)| i.placements.iter().map(move |p| (n, p)))
        .filter(|(_, p)| p.bbox[2] - p.bbox[0] > TOLERANCE && p.bbox[3] - p.bbox[1] > TOLERANCE)
        .collect();
    let mut parent: Vec<usize> = (0..nodes.len()).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for i in 0..nodes.len() {
        for j in i + 1..nodes.len() {
            if nodes[i].1.page == nodes[j].1.page
                && nodes[i].0 != nodes[j].0
                && abut(&nodes[i].1.bbox, &nodes[j].1.bbox)
            {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                parent[a] = b;
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..nodes.len() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut out = Vec::new();
    for members in groups.values().filter(|m| m.len() > 1) {
        let page = nodes[members[0]].1.page;
        let bbox = members.iter().fold([f32::MAX, f32::MAX, f32::MIN, f32::MIN], |b, &m| {
            let p = nodes[m].1.bbox;
            [b[0].min(p[0]), b[1].min(p[1]), b[2].max(p[2]), b[3].max(p[3])]
        });
        // Pixels per point: the finest tile's.
        let scale = members
            .iter()
            .map(|&m| images[nodes[m].0].width as f32 / (nodes[m].1.bbox[2] - nodes[m].1.bbox[0]))
            .fold(0.0f32, f32::max);
        let w = ((bbox[2] - bbox[0]) * scale).round().max(1.0) as u32;
        let h = ((bbox[3] - bbox[1]) * scale).round().max(1.0) as u32;
        if w as u64 * h as u64 > MAX_PIXELS {
            continue;
        }
        let mut canvas = RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
        for &m in members {
            let (img, p) = (&images[nodes[m].0], nodes[m].1);
            let Some(px) = &img.pixels else { continue };
            let tw = ((p.bbox[2] - p.bbox[0]) * scale).round().max(1.0) as u32;
            let th = ((p.bbox[3] - p.bbox[1]) * scale).round().max(1.0) as u32;
            let tile = if (tw, th) == (px.width(), px.height()) {
                px.to_rgb8()
            } else {
                imageops::resize(&px.to_rgb8(), tw, th, imageops::FilterType::Triangle)
            };
            // PDF y runs up; image rows run down.
            let x = ((p.bbox[0] - bbox[0]) * scale).round() as i64;
            let y = ((bbox[3] - p.bbox[3]) * scale).round() as i64;
            imageops::overlay(&mut canvas, &tile, x, y);
        }
        let ids: Vec<&str> = members.iter().map(|&m| images[nodes[m].0].id.as_str()).collect();
        out.push(Image {
            id: format!("figure-{page}-{}", out.len() + 1),
            page: Some(page),
            width: w,
            height: h,
            bpc: 8,
            colorspace: "rgb".into(),
            encoding: format!("tiles:{}", ids.join(",")),
            inline: false,
            role: Role::Figure,
            object: None,
            placements: vec![Placement { page, bbox, dpi: Some(scale * 72.0) }],
            mask: None,
            error: None,
            member: None,
            panels: None,
            png: None,
            pixels: Some(DynamicImage::ImageRgb8(canvas)),
            vector: Default::default(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(id: &str, bbox: [f32; 4], value: u8) -> Image {
        Image {
            id: id.into(),
            page: Some(1),
            width: 10,
            height: 10,
            bpc: 8,
            colorspace: "gray".into(),
            encoding: "raw".into(),
            inline: false,
            role: Role::Image,
            object: None,
            placements: vec![Placement { page: 1, bbox, dpi: None }],
            mask: None,
            error: None,
            member: None,
            panels: None,
            png: None,
            pixels: Some(DynamicImage::ImageLuma8(image::GrayImage::from_pixel(10, 10, image::Luma([value])))),
            vector: Default::default(),
        }
    }

    #[test]
    fn strips_join_and_separate_images_do_not() {
        let images = vec![
            tile("top", [0.0, 10.0, 10.0, 20.0], 0),
            tile("bottom", [0.0, 0.0, 10.0, 10.0], 200),
            tile("apart", [50.0, 0.0, 60.0, 10.0], 100),
        ];
        let joined = join(&images);
        assert_eq!(joined.len(), 1);
        let f = &joined[0];
        assert_eq!((f.width, f.height), (10, 20));
        let px = f.pixels.as_ref().unwrap().to_luma8();
        assert_eq!(px.get_pixel(5, 2)[0], 0, "the top strip is drawn at the top");
        assert_eq!(px.get_pixel(5, 17)[0], 200);
        assert!(f.encoding.contains("top") && f.encoding.contains("bottom") && !f.encoding.contains("apart"));
    }
}
