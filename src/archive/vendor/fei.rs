//! FEI / Thermo Fisher metadata, TIFF tag 34682.
//!
//! SEMs and DualBeams write INI text (`[User] Date/Time/User`, `[System]
//! SystemType`, `[Beam] HV`, `[Scan] PixelWidth`, `[EBeam] HFW/WD`,
//! `[Detectors] Name`, `[Image] ResolutionX`, `[PrivateFei] DatabarHeight`);
//! TEMs (Tecnai, Titan) write an XML list of `<Data><Label/><Value/><Unit/></Data>`.
//! Values are SI units (metres, volts).

use regex::Regex;
use std::sync::LazyLock;

use super::ini::Ini;
use super::{date_time, latin1, leading_number, text, Meta, Modality, Vendor};

/// Reads tag 34682, INI or XML.
pub fn read(blob: &[u8]) -> Meta {
    let s = latin1(blob);
    if s.trim_start().starts_with('<') {
        read_xml(&s)
    } else {
        read_ini(&Ini::parse(&s))
    }
}

fn read_ini(ini: &Ini) -> Meta {
    let mut m = Meta::new(Vendor::Fei);
    let system = text(ini.get("System", "SystemType")).map(|s| s.replace('"', ""));
    m.instrument = Some(match &system {
        Some(s) => format!("FEI {s}"),
        None => "FEI".to_string(),
    });
    m.serial = text(ini.get("System", "Dnumber"));
    m.operator = text(ini.get("User", "User"));
    m.acquired_at = date_time(ini.get("User", "Date"), ini.get("User", "Time"));
    m.detector = text(ini.get("Detectors", "Name"));
    let system_type = ini.get("System", "Type").unwrap_or("SEM").to_ascii_uppercase();
    let base = if system_type.contains("TEM") && !system_type.contains("SEM") { Modality::Tem } else { Modality::Sem };
    m.modality = Some(Modality::refine(base, m.detector.as_deref()));
    m.pixel_size_nm =
        ini.num("Scan", "PixelWidth").or_else(|| ini.num("EScan", "PixelWidth")).filter(|v| *v > 0.0).map(|v| v * 1e9);
    m.calibrated_width = ini.num("Image", "ResolutionX").map(|v| v as u32).filter(|w| *w > 0);
    m.kv = ini.num("Beam", "HV").or_else(|| ini.num("EBeam", "HV")).map(|v| v / 1e3);
    m.wd_mm = ini.num("EBeam", "WD").or_else(|| ini.num("Stage", "WorkingDistance")).map(|v| v * 1e3);
    // Magnification relative to the instrument's reference canvas (a hint only).
    let hfw = ini.num("EBeam", "HFW").or_else(|| ini.num("Scan", "HorFieldsize")).filter(|v| *v > 0.0);
    let canvas = ini.num("Image", "MagCanvasRealWidth").filter(|v| *v > 0.0).unwrap_or(0.127);
    m.magnification = hfw.map(|h| (canvas / h).round());
    m.databar_rows = ini.num("PrivateFei", "DatabarHeight").map(|v| v as u32);
    m
}

static XML_DATA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)<Label>(.*?)</Label>\s*<Value>(.*?)</Value>\s*(?:<Unit>(.*?)</Unit>)?").expect("static regex")
});

fn read_xml(s: &str) -> Meta {
    let mut m = Meta::new(Vendor::Fei);
    let mut mode = String::new();
    for c in XML_DATA.captures_iter(s) {
        let (label, value) = (c[1].trim(), c[2].trim());
        let unit = c.get(3).map_or("", |u| u.as_str().trim());
        match label {
            "Microscope" => {
                let name = value.strip_prefix("Microscope ").unwrap_or(value);
                let model = name.split_whitespace().next().unwrap_or(name);
                m.instrument = Some(format!("FEI {model}"));
            }
            "User" => m.operator = text(Some(value)),
            "High tension" => {
                m.kv = leading_number(value).map(|v| if unit == "V" { v / 1e3 } else { v });
            }
            "Magnification" => m.magnification = leading_number(value),
            "Mode" => mode = value.to_ascii_uppercase(),
            "Detector" => m.detector = text(Some(value)),
            _ => {}
        }
    }
    m.modality = Some(if mode.contains("STEM") { Modality::Stem } else { Modality::Tem });
    m.instrument.get_or_insert_with(|| "FEI TEM".to_string());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_with_bad_floats_keeps_the_rest() {
        let m = read(b"[User]\r\nDate=05/17/2022\r\nTime=09:07:08 AM\r\n[System]\r\nSystemType=Helios NanoLab\" 660\r\n[Beam]\r\nHV=notafloat\r\n");
        assert_eq!(m.instrument.as_deref(), Some("FEI Helios NanoLab 660"));
        assert_eq!(m.kv, None);
        assert_eq!(m.acquired_at.unwrap().to_string(), "2022-05-17 09:07:08");
    }

    #[test]
    fn tem_xml() {
        let m = read(b"<Root><Data><Label>Microscope</Label><Value>Microscope Tecnai 200 kV D2211 XTwin</Value><Unit></Unit></Data><Data><Label>Mode</Label><Value> TEM uP SA Zoom Image</Value><Unit></Unit></Data><Data><Label>Magnification</Label><Value>6300</Value><Unit>x</Unit></Data></Root>");
        assert_eq!(m.instrument.as_deref(), Some("FEI Tecnai"));
        assert_eq!(m.modality, Some(Modality::Tem));
        assert_eq!(m.magnification, Some(6300.0));
    }
}
