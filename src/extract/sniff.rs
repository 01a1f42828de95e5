//! Content type by magic bytes (and, for ZIP files, by the members that
//! name the Office / OpenDocument flavour), never by the file name.

use serde::Serialize;

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// PDF (`%PDF-` in the first kilobyte).
    Pdf,
    /// Word (OOXML).
    Docx,
    /// PowerPoint (OOXML).
    Pptx,
    /// Excel (OOXML).
    Xlsx,
    /// OpenDocument text.
    Odt,
    /// OpenDocument presentation.
    Odp,
    /// OpenDocument spreadsheet.
    Ods,
    /// Any other ZIP archive.
    Zip,
    /// A TAR archive.
    Tar,
    /// gzip (a `.tar.gz` is read as TAR inside).
    Gzip,
    /// PNG, JPEG, TIFF, GIF or BMP.
    Image,
    /// An HTML page (a landing or challenge page saved under another name).
    Html,
    /// Anything else.
    Unknown,
}

impl Kind {
    /// ZIP-based and TAR / gzip archives.
    pub fn is_archive(self) -> bool {
        matches!(
            self,
            Kind::Docx
                | Kind::Pptx
                | Kind::Xlsx
                | Kind::Odt
                | Kind::Odp
                | Kind::Ods
                | Kind::Zip
                | Kind::Tar
                | Kind::Gzip
        )
    }
}

/// Sniffs the content type of `bytes`.
pub fn sniff(bytes: &[u8]) -> Kind {
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Kind::Pdf;
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return zip_kind(bytes);
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Kind::Gzip;
    }
    if bytes.get(257..262) == Some(b"ustar") {
        return Kind::Tar;
    }
    let image = [&b"\x89PNG\r\n\x1a\n"[..], b"\xff\xd8\xff", b"II*\0", b"MM\0*", b"GIF87a", b"GIF89a", b"BM"];
    if image.iter().any(|m| bytes.starts_with(m)) {
        return Kind::Image;
    }
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with("<!doctype html")
        || text.starts_with("<html")
        || text.contains("<html")
        || text.contains("<head>")
    {
        return Kind::Html;
    }
    Kind::Unknown
}

fn zip_kind(bytes: &[u8]) -> Kind {
    let Ok(mut z) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else { return Kind::Zip };
    if let Ok(mut m) = z.by_name("mimetype") {
        let mut s = String::new();
        if std::io::Read::read_to_string(&mut std::io::Read::take(&mut m, 100), &mut s).is_ok() {
            match s.trim() {
                "application/vnd.oasis.opendocument.text" => return Kind::Odt,
                "application/vnd.oasis.opendocument.presentation" => return Kind::Odp,
                "application/vnd.oasis.opendocument.spreadsheet" => return Kind::Ods,
                _ => {}
            }
        }
    }
    let has = |prefix: &str| z.file_names().any(|n| n.starts_with(prefix));
    if z.file_names().any(|n| n == "[Content_Types].xml") {
        if has("word/") {
            return Kind::Docx;
        }
        if has("ppt/") {
            return Kind::Pptx;
        }
        if has("xl/") {
            return Kind::Xlsx;
        }
    }
    Kind::Zip
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_not_name() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Kind::Pdf);
        assert_eq!(sniff(b"\n\n<!DOCTYPE html><html>"), Kind::Html);
        assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Kind::Image);
        assert_eq!(sniff(b"\x1f\x8b\x08"), Kind::Gzip);
        assert_eq!(sniff(b"hello"), Kind::Unknown);
        assert_eq!(sniff(b""), Kind::Unknown);
    }
}
