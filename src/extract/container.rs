//! ZIP (and the Office / OpenDocument files built on it), TAR and gzip,
//! read recursively: every member is sniffed and extracted like a file;
//! members that are neither documents, archives nor images are skipped.

use std::io::Read as _;

use super::{read_kind, sniff, ExtractError, Kind, Limits, MemberError, Read};

fn bounded(r: impl std::io::Read, limit: usize) -> Result<Vec<u8>, ExtractError> {
    let mut out = Vec::new();
    r.take(limit as u64 + 1).read_to_end(&mut out)?;
    if out.len() > limit {
        return Err(ExtractError::TooLarge(format!("member decompresses to more than {limit} bytes")));
    }
    Ok(out)
}

/// Extracts the members of an archive.
pub(crate) fn read(kind: Kind, bytes: &[u8], limits: &Limits, depth: usize) -> Result<Read, ExtractError> {
    let mut members: Vec<(String, Result<Vec<u8>, ExtractError>)> = Vec::new();
    let mut budget = limits.max_decompressed;
    match kind {
        Kind::Gzip => {
            let inner = bounded(flate2::read::MultiGzDecoder::new(bytes), limits.max_decompressed)?;
            let k = sniff::sniff(&inner);
            return read_kind(k, &inner, limits, depth + 1);
        }
        Kind::Tar => {
            let mut ar = tar::Archive::new(bytes);
            for entry in ar.entries()? {
                let mut entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        members.push(("(tar entry)".into(), Err(e.into())));
                        break;
                    }
                };
                if !entry.header().entry_type().is_file() {
                    continue;
                }
                let name = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                let data = bounded(&mut entry, budget);
                budget = budget.saturating_sub(data.as_ref().map_or(0, Vec::len));
                members.push((name, data));
            }
        }
        _ => {
            let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes))
                .map_err(|e| ExtractError::Corrupt(format!("zip: {e}")))?;
            for i in 0..z.len() {
                let mut f = match z.by_index(i) {
                    Ok(f) => f,
                    Err(e) => {
                        members.push((format!("#{i}"), Err(ExtractError::Corrupt(format!("zip: {e}")))));
                        continue;
                    }
                };
                if f.is_dir() {
                    continue;
                }
                let name = f.name().to_string();
                let data = bounded(&mut f, budget);
                budget = budget.saturating_sub(data.as_ref().map_or(0, Vec::len));
                members.push((name, data));
            }
        }
    }
    let mut out = Read::default();
    for (name, data) in members {
        let data = match data {
            Ok(d) => d,
            Err(e) => {
                out.members.push(MemberError { member: name, kind: Kind::Unknown, error: e.to_string() });
                continue;
            }
        };
        let k = sniff::sniff(&data);
        if !(k == Kind::Pdf || k == Kind::Image || k.is_archive()) {
            continue;
        }
        match read_kind(k, &data, limits, depth + 1) {
            Ok(r) => {
                for mut img in r.images {
                    img.member = Some(match &img.member {
                        Some(inner) => format!("{name}/{inner}"),
                        None => name.clone(),
                    });
                    img.id = format!("{}#{}", img.member.as_deref().unwrap_or(""), img.id);
                    out.images.push(img);
                }
                out.members
                    .extend(r.members.into_iter().map(|m| MemberError { member: format!("{name}/{}", m.member), ..m }));
                if let Some(e) = r.error {
                    out.members.push(MemberError { member: name, kind: k, error: e.to_string() });
                }
            }
            Err(e) => out.members.push(MemberError { member: name, kind: k, error: e.to_string() }),
        }
    }
    Ok(out)
}
