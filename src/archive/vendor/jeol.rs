//! JEOL metadata: `.txt` sidecars of JSM SEMs (`$CM_MAG 20000`, `$CM_DATE
//! 2014/01/15`, `$$SM_MICRON_BAR 256`, `$$SM_MICRON_MARKER 1um`,
//! `$CM_FULL_SIZE 1280 960`) and the `TemReporter` XML that SightX writes
//! into a TIFF's ImageDescription.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::{date_time, decode_text, leading_number, length_nm, text, Meta, Modality, Vendor};
use crate::archive::ArchiveError;

/// Reads a `$CM_…` sidecar; an error when it holds no `$CM_` keys.
pub fn read_sidecar(bytes: &[u8]) -> Result<Meta, ArchiveError> {
    let s = decode_text(bytes);
    let mut keys: HashMap<&str, &str> = HashMap::new();
    for line in s.lines() {
        let line = line.trim();
        if !line.starts_with('$') {
            continue;
        }
        let (k, v) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        keys.entry(k.trim_start_matches('$')).or_insert(v.trim());
    }
    if !keys.keys().any(|k| k.starts_with("CM_")) {
        return Err(ArchiveError::Sidecar("no $CM_ keys".into()));
    }
    let get = |k: &str| keys.get(k).copied().filter(|v| !v.is_empty());
    let mut m = Meta::new(Vendor::Jeol);
    let model = text(get("CM_INSTRUMENT"));
    m.instrument = Some(match &model {
        Some(model) => format!("JEOL {model}"),
        None => "JEOL".to_string(),
    });
    m.detector = text(get("CM_SIGNAL"));
    let base = if model.as_deref().is_some_and(|m| m.to_ascii_uppercase().starts_with("JEM")) {
        Modality::Tem
    } else {
        Modality::Sem
    };
    m.modality = Some(Modality::refine(base, m.detector.as_deref()));
    m.acquired_at = date_time(get("CM_DATE"), get("CM_TIME"));
    m.magnification = get("CM_MAG").and_then(leading_number);
    m.kv = get("CM_ACCEL_VOLT").and_then(leading_number);
    m.wd_mm = get("SM_WD").or_else(|| get("CM_WD")).and_then(leading_number);
    m.operator = text(get("CM_OPERATOR"));
    m.calibrated_width = get("CM_FULL_SIZE").and_then(|s| s.split_whitespace().next()).and_then(|w| w.parse().ok());
    // The micron bar: MARKER (a length) drawn BAR pixels long.
    let bar_px = get("SM_MICRON_BAR").or_else(|| get("CM_MICRON_BAR")).and_then(leading_number).filter(|v| *v > 0.0);
    let marker_nm =
        get("SM_MICRON_MARKER").or_else(|| get("CM_MICRON_MARKER")).and_then(|s| length_nm(&spaced_unit(s)));
    m.pixel_size_nm = marker_nm.zip(bar_px).map(|(nm, px)| nm / px);
    Ok(m)
}

/// "1um" → "1 um", so that [`length_nm`] can read it.
fn spaced_unit(s: &str) -> String {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    format!("{} {}", &s[..split], s[split..].trim())
}

/// Reads SightX `TemReporter` XML from ImageDescription, or `None` when the
/// description is something else.
pub fn read_sightx(description: &str, make: Option<&str>, model: Option<&str>) -> Option<Meta> {
    if !description.contains("<TemReporter") {
        return None;
    }
    let tag = |name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let start = description.find(&open)? + open.len();
        let end = description[start..].find('<')? + start;
        text(Some(&description[start..end]))
    };
    let mut m = Meta::new(Vendor::Jeol);
    let model = tag("Instruments").or_else(|| model.map(str::to_string));
    m.instrument = Some(match model {
        Some(model) => format!("JEOL {model}"),
        None => make.unwrap_or("JEOL").to_string(),
    });
    m.operator = tag("Operator");
    m.acquired_at = tag("DateTime").and_then(|s| {
        chrono::DateTime::parse_from_rfc3339(&s)
            .map(|d| d.naive_local())
            .ok()
            .or_else(|| s.get(..19).and_then(|s| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").ok()))
    });
    m.kv = tag("AccelerationVoltage").and_then(|v| leading_number(&v)).map(|v| v / 1e3);
    let mode = tag("Mode").unwrap_or_default().to_ascii_uppercase();
    m.modality = Some(if mode.contains("STEM") || mode.contains("MODESM") { Modality::Stem } else { Modality::Tem });
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_micron_bar_gives_pixel_size() {
        let m = read_sidecar(b"$CM_FORMAT JEOL/SEM\r\n$CM_INSTRUMENT JSM-7600F\r\n$CM_DATE 2014/01/15\r\n$CM_TIME 15:32:29\r\n$CM_MAG 20000\r\n$CM_FULL_SIZE 1280 960\r\n$$SM_MICRON_BAR 256\r\n$$SM_MICRON_MARKER 1um\r\n$CM_ACCEL_VOLT 15.00\r\n").unwrap();
        assert_eq!(m.instrument.as_deref(), Some("JEOL JSM-7600F"));
        assert!((m.pixel_size_nm.unwrap() - 1000.0 / 256.0).abs() < 1e-9);
        assert_eq!(m.modality, Some(Modality::Sem));
        assert_eq!(m.calibrated_width, Some(1280));
    }
}
