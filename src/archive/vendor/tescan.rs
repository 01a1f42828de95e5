//! TESCAN metadata: TIFF tag 50431 (a JPEG 2000 thumbnail, then the `[MAIN]`
//! and `[SEM]` key=value text with binary length fields between them) or the
//! `-tif.hdr` / `.hdr` INI sidecar. Values are SI (metres, volts).

use super::ini::Ini;
use super::{date_time, latin1, text, Meta, Modality, Vendor};

/// Reads tag 50431: the text after the thumbnail's end-of-codestream marker.
pub fn read_tag(blob: &[u8]) -> Meta {
    let start = blob.windows(2).rposition(|w| w == [0xFF, 0xD9]).map_or(0, |i| i + 2);
    let text: String = blob[start..].iter().map(|&b| if b == 0 { '\n' } else { b as char }).collect();
    from_ini(&Ini::parse(&text))
}

/// Reads a `.hdr` sidecar.
pub fn read_hdr(bytes: &[u8]) -> Meta {
    from_ini(&Ini::parse(&latin1(bytes)))
}

fn from_ini(ini: &Ini) -> Meta {
    let get = |k: &str| ini.any(k);
    let num = |k: &str| get(k).and_then(super::leading_number);
    let mut m = Meta::new(Vendor::Tescan);
    m.instrument = Some(match text(get("Device")) {
        Some(device) if device.to_ascii_uppercase().starts_with("TESCAN") => device,
        Some(device) => format!("TESCAN {device}"),
        None => "TESCAN".to_string(),
    });
    m.serial = text(get("SerialNumber"));
    m.detector = text(get("Detector"));
    m.modality = Some(Modality::refine(Modality::Sem, m.detector.as_deref()));
    m.acquired_at = date_time(get("Date"), get("Time"));
    m.magnification = num("Magnification").map(|v| (v * 100.0).round() / 100.0);
    m.pixel_size_nm = num("PixelSizeX").filter(|v| *v > 0.0).map(|v| v * 1e9);
    m.kv = num("HV").or_else(|| num("AcceleratorVoltage")).map(|v| v / 1e3);
    m.wd_mm = num("WD").map(|v| v * 1e3);
    m.operator = text(get("UserName")).or_else(|| text(get("FullUserName")));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdr_sidecar() {
        let m = read_hdr(b"[MAIN]\r\nDate=2025-12-03\r\nDevice=TESCAN AMBER X\r\nPixelSizeX=0.0000000015625\r\nTime=17:19:26\r\nUserName=nxuser\r\n[SEM]\r\nHV=15000.0\r\nWD=0.005947501\r\n");
        assert_eq!(m.instrument.as_deref(), Some("TESCAN AMBER X"));
        assert!((m.pixel_size_nm.unwrap() - 1.5625).abs() < 1e-9);
        assert_eq!(m.kv, Some(15.0));
    }
}
