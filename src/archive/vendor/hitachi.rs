//! Hitachi `.txt` sidecars (`[SemImageFile]`, `[TemImageFile]`), paired with
//! the image by file stem. Written in UTF-16LE with BOM by current software,
//! UTF-8 or Shift-JIS by older PCs. `PixelSize` is in nm for `DataSize`;
//! `Directory=` on the instrument PC often names the user.

use super::ini::Ini;
use super::{date_time, decode_text, leading_number, text, Meta, Modality, Vendor};
use crate::archive::ArchiveError;

/// Reads a sidecar; an error when it holds no Hitachi section.
pub fn read(sidecar: &[u8]) -> Result<Meta, ArchiveError> {
    let ini = Ini::parse(&decode_text(sidecar));
    let (section, base) =
        if ini.get("SemImageFile", "InstructName").is_some() || ini.get("SemImageFile", "Date").is_some() {
            ("SemImageFile", Modality::Sem)
        } else if ini.get("TemImageFile", "InstructName").is_some() || ini.get("TemImageFile", "Date").is_some() {
            ("TemImageFile", Modality::Tem)
        } else {
            return Err(ArchiveError::Sidecar("no [SemImageFile] or [TemImageFile] section".into()));
        };
    let get = |k: &str| ini.get(section, k);
    let mut m = Meta::new(Vendor::Hitachi);
    m.instrument = Some(match text(get("InstructName")) {
        Some(model) => format!("Hitachi {model}"),
        None => "Hitachi".to_string(),
    });
    m.serial = text(get("SerialNumber"));
    m.detector = text(get("SignalName"));
    m.modality = Some(Modality::refine(base, m.detector.as_deref()));
    m.acquired_at = date_time(get("Date"), get("Time"));
    m.magnification = get("Magnification").and_then(leading_number).filter(|v| *v > 0.0);
    m.pixel_size_nm = get("PixelSize").and_then(leading_number).filter(|v| *v > 0.0);
    m.calibrated_width = get("DataSize").and_then(|s| s.split(['x', 'X']).next()).and_then(|w| w.trim().parse().ok());
    m.kv = get("AcceleratingVoltage").and_then(volts_to_kv);
    m.wd_mm = get("WorkingDistance").and_then(|s| {
        let v = leading_number(s)?;
        Some(if s.contains("um") { v / 1e3 } else { v })
    });
    m.operator = text(get("UserName")).or_else(|| get("Directory").and_then(user_from_directory));
    Ok(m)
}

fn volts_to_kv(s: &str) -> Option<f64> {
    let v = leading_number(s)?;
    Some(if s.to_ascii_lowercase().contains("kv") { v } else { v / 1e3 })
}

/// `D:\SemImage\lixianglan\` → "lixianglan"; generic folder names are not users.
fn user_from_directory(dir: &str) -> Option<String> {
    let last = dir.split(['\\', '/']).rev().find(|p| !p.trim().is_empty())?.trim();
    let generic = ["semimage", "temimage", "image", "images", "data", "d:", "c:", "e:"];
    (!generic.contains(&last.to_ascii_lowercase().as_str()) && !last.ends_with(':')).then(|| last.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_jis_tem_sidecar_with_us_date() {
        let text = "[TemImageFile]\r\nInstructName=HT7700\r\nDate=06/23/2021\r\nTime=16:41:13\r\nPixelSize=0.5\r\nDataSize=2048x2048\r\nAcceleratingVoltage=100000 Volt\r\nDirectory=D:\\TemImage\\ivanov\\\r\nComment=試料\r\n";
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let m = read(&bytes).unwrap();
        assert_eq!(m.instrument.as_deref(), Some("Hitachi HT7700"));
        assert_eq!(m.modality, Some(Modality::Tem));
        assert_eq!(m.kv, Some(100.0));
        assert_eq!(m.operator.as_deref(), Some("ivanov"));
        assert_eq!(m.acquired_at.unwrap().to_string(), "2021-06-23 16:41:13");
    }

    #[test]
    fn not_a_sidecar() {
        assert!(read(b"just some notes\r\nabout the sample").is_err());
    }
}
