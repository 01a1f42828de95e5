//! INI-style `key=value` text as written by FEI / Thermo Fisher (tag 34682),
//! Hitachi (`.txt` sidecars) and TESCAN (`.hdr` sidecars, tag 50431).

use std::collections::HashMap;

/// Sections and keys of an INI text. Keys are looked up case-sensitively,
/// as the vendors write them; a key outside any section is in section "".
#[derive(Debug, Default, Clone)]
pub struct Ini {
    values: HashMap<(String, String), String>,
}

impl Ini {
    /// Parses INI text. Lines that are neither `[section]` nor `key=value`
    /// are skipped, and so are any bytes before a key (TESCAN puts binary
    /// length fields in front of its first key).
    pub fn parse(text: &str) -> Ini {
        let mut ini = Ini::default();
        let mut section = String::new();
        for line in text.lines() {
            let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\0');
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_string();
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let start = key
                .char_indices()
                .rev()
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == ' '))
                .map_or(0, |(i, c)| i + c.len_utf8());
            let key = key[start..].trim();
            if key.is_empty() {
                continue;
            }
            ini.values.entry((section.clone(), key.to_string())).or_insert_with(|| value.trim().to_string());
        }
        ini
    }

    /// The value of `key` in `section`, if present and not empty.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.values.get(&(section.to_string(), key.to_string())).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The value of `key` in whichever section holds it first.
    pub fn any(&self, key: &str) -> Option<&str> {
        self.values.iter().find(|((_, k), v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// A number, if the value parses as one (garbage such as `notafloat` is `None`).
    pub fn num(&self, section: &str, key: &str) -> Option<f64> {
        self.get(section, key).and_then(super::leading_number)
    }

    /// True when no key was found.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_and_junk() {
        let ini =
            Ini::parse("[User]\r\nDate=12/18/2017\r\n\u{aa}\0\0\0AccFrames=2\r\n[Beam]\r\nHV=notafloat\r\nEmpty=\r\n");
        assert_eq!(ini.get("User", "Date"), Some("12/18/2017"));
        assert_eq!(ini.get("User", "AccFrames"), Some("2"));
        assert_eq!(ini.num("Beam", "HV"), None);
        assert_eq!(ini.get("Beam", "Empty"), None);
        assert_eq!(ini.any("Date"), Some("12/18/2017"));
    }
}
