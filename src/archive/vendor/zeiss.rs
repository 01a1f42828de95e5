//! Zeiss SmartSEM metadata, TIFF tag 34118 (CZ_SEM).
//!
//! Latin-1 text, CRLF lines. A numeric header (the first calibration block:
//! index, pixel size in metres, magnification, …) is followed by pairs of
//! lines: a parameter name (`AP_PIXEL_SIZE`) and its labelled value
//! (`Pixel Size = 27.91 nm`, or `Date :4 Dec 2018`).

use std::collections::HashMap;

use super::{date_time, latin1, leading_number, length_nm, text, Meta, Modality, Vendor};

/// Parameter name → value text (the part after `=` or `:`), from the tag's text.
pub fn parameters(text: &str) -> HashMap<String, String> {
    let lines: Vec<&str> = text.split(['\r', '\n']).filter(|l| !l.is_empty()).collect();
    let mut out = HashMap::new();
    for pair in lines.windows(2) {
        let [name, value] = pair else { continue };
        let is_name = name.len() > 3
            && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && (name.starts_with("AP_") || name.starts_with("DP_") || name.starts_with("SV_"));
        if !is_name {
            continue;
        }
        let v = match value.split_once(" = ") {
            Some((_, v)) => v,
            None => value.split_once(['=', ':']).map_or("", |(_, v)| v),
        };
        out.entry(name.to_string()).or_insert_with(|| v.trim().to_string());
    }
    out
}

/// Reads tag 34118 of an image `width` pixels wide.
pub fn read(blob: &[u8], width: u32) -> Meta {
    let raw = latin1(blob);
    let p = parameters(&raw);
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let mut m = Meta::new(Vendor::Zeiss);
    m.serial = text(get("SV_SERIAL_NUMBER"));
    let model = m.serial.as_deref().map(model_from_serial).or_else(|| text(get("DP_COLUMN_TYPE")));
    m.instrument = Some(match model {
        Some(model) => format!("Zeiss {model}"),
        None => "Zeiss SEM".to_string(),
    });
    m.detector = text(get("DP_DETECTOR_CHANNEL")).or_else(|| text(get("DP_DETECTOR_TYPE")));
    m.modality = Some(Modality::refine(Modality::Sem, m.detector.as_deref()));
    m.acquired_at = date_time(get("AP_DATE"), get("AP_TIME"));
    m.magnification = get("AP_MAG").and_then(magnification);
    // The numeric header's fourth value is the pixel size in metres, with more
    // digits than the rounded `AP_PIXEL_SIZE` text.
    let header_pixel_m = raw.split("\r\n").nth(3).and_then(leading_number).filter(|v| *v > 0.0 && *v < 1e-2);
    m.pixel_size_nm = header_pixel_m
        .map(|v| v * 1e9)
        .or_else(|| get("AP_IMAGE_PIXEL_SIZE").and_then(length_nm))
        .or_else(|| get("AP_PIXEL_SIZE").and_then(length_nm));
    // An image resized after it was stored keeps the stored frame's pixel
    // size (a 512-pixel copy of a 1024-pixel frame); its field of view, the
    // width scanned, is what its own pixels span.
    let field_px = get("AP_WIDTH").and_then(length_nm).filter(|_| width > 0).map(|nm| nm / width as f64);
    if let (Some(field), Some(stored)) = (field_px, m.pixel_size_nm) {
        if (field / stored - 1.0).abs() > 0.03 {
            m.pixel_size_nm = Some(field);
        }
    }
    m.kv = get("AP_ACTUALKV").or_else(|| get("AP_MANUALKV")).and_then(leading_number);
    m.wd_mm = get("AP_WD").and_then(length_nm).map(|nm| nm / 1e6);
    m.operator = text(get("SV_USER_NAME"));
    m
}

/// "Auriga-39-24" → "Auriga", "NVision 40-38-50" → "NVision".
fn model_from_serial(serial: &str) -> String {
    let trimmed = serial.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == ' ');
    if trimmed.is_empty() {
        serial.to_string()
    } else {
        trimmed.to_string()
    }
}

/// "4.00 K X" → 4000, "105 X" → 105, "1.20 M X" → 1.2e6.
fn magnification(s: &str) -> Option<f64> {
    let v = leading_number(s)?;
    let rest = s.trim().trim_start_matches(|c: char| c.is_ascii_digit() || c == '.').trim_start();
    Some(match rest.chars().next() {
        Some('K') | Some('k') => v * 1e3,
        Some('M') => v * 1e6,
        _ => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labelled_pairs() {
        let blob = b"0\r\n0\r\n0\r\n2.791250e-008\r\nAP_MAG\r\nMag =    4.00 K X\r\nAP_DATE\r\nDate :4 Dec 2018\r\nAP_TIME\r\nTime :20:56:52\r\nSV_SERIAL_NUMBER\r\nSerial No. = Auriga-39-24\r\n\0";
        let m = read(blob, 1024);
        assert_eq!(m.instrument.as_deref(), Some("Zeiss Auriga"));
        assert_eq!(m.magnification, Some(4000.0));
        assert!((m.pixel_size_nm.unwrap() - 27.9125).abs() < 1e-9);
        assert_eq!(m.acquired_at.unwrap().to_string(), "2018-12-04 20:56:52");
    }

    #[test]
    fn resized_image_takes_pixel_size_from_field_width() {
        let blob = b"0\r\n0\r\n0\r\n5.825e-009\r\nAP_WIDTH\r\nWidth = 5.965 \xb5m\r\n\0";
        // The stored 1024-pixel frame, and a copy shrunk to 512 pixels.
        assert!((read(blob, 1024).pixel_size_nm.unwrap() - 5.825).abs() < 1e-9);
        assert!((read(blob, 512).pixel_size_nm.unwrap() - 5965.0 / 512.0).abs() < 1e-9);
        // A field width that does not parse, or an image of no width, keeps
        // the stored pixel size.
        let junk = b"0\r\n0\r\n0\r\n5.825e-009\r\nAP_WIDTH\r\nWidth = ?? \r\n\0";
        assert!((read(junk, 512).pixel_size_nm.unwrap() - 5.825).abs() < 1e-9);
        assert!((read(blob, 0).pixel_size_nm.unwrap() - 5.825).abs() < 1e-9);
    }
}
