//! What became of a file: the states, and the rules that read them off a
//! response (status, headers, first bytes). An anti-bot challenge is
//! recognised and recorded, never answered.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::extract::sniff::{sniff, Kind};

/// A file row's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// Not fetched yet (or interrupted: a part may be on disk).
    Pending,
    /// Stored as a blob.
    Downloaded,
    /// 404 / 410.
    NotFound,
    /// 401 / 402 / 403 without a challenge page.
    Paywalled,
    /// An anti-bot challenge page (Cloudflare, PerimeterX, DataDome, …).
    Challenge,
    /// robots.txt disallows the URL.
    Robots,
    /// The host reserves text-and-data-mining rights (TDMRep).
    TdmReserved,
    /// Larger than the size cap.
    TooLarge,
    /// Not what the link promised (an HTML page instead of a PDF).
    WrongType,
    /// Anything else (network, 5xx after retries, disk).
    Error,
}

impl FileState {
    /// Every state.
    pub const ALL: [FileState; 10] = [
        FileState::Pending,
        FileState::Downloaded,
        FileState::NotFound,
        FileState::Paywalled,
        FileState::Challenge,
        FileState::Robots,
        FileState::TdmReserved,
        FileState::TooLarge,
        FileState::WrongType,
        FileState::Error,
    ];

    /// Text at the store edge.
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Pending => "pending",
            FileState::Downloaded => "downloaded",
            FileState::NotFound => "not_found",
            FileState::Paywalled => "paywalled",
            FileState::Challenge => "challenge",
            FileState::Robots => "robots",
            FileState::TdmReserved => "tdm_reserved",
            FileState::TooLarge => "too_large",
            FileState::WrongType => "wrong_type",
            FileState::Error => "error",
        }
    }

    /// Final states are not fetched again (except by `--retry` / `--refresh`).
    pub fn is_final(self) -> bool {
        self != FileState::Pending
    }
}

impl fmt::Display for FileState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FileState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FileState::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| format!("unknown file state {s:?}"))
    }
}

/// Whether a file is the article or a supplement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The article itself (a PDF).
    Article,
    /// Supplementary material (PDF, DOCX, ZIP, …).
    Supplement,
}

impl Role {
    /// Text at the store edge.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Article => "article",
            Role::Supplement => "supplement",
        }
    }
}

/// Markers of anti-bot interstitials, in headers or the first bytes of a page.
const CHALLENGE_MARKERS: [&str; 10] = [
    "cf-chl",
    "challenge-platform",
    "just a moment...",
    "checking your browser",
    "attention required! | cloudflare",
    "px-captcha",
    "captcha-delivery.com",
    "_incapsula_resource",
    "are you a robot",
    "g-recaptcha",
];

/// Whether a response is an anti-bot challenge.
pub fn is_challenge(status: u16, mitigated: Option<&str>, head: &[u8]) -> bool {
    if mitigated.is_some_and(|m| m.eq_ignore_ascii_case("challenge")) {
        return true;
    }
    if !(status == 403 || status == 429 || status == 503 || status == 200) || sniff(head) != Kind::Html {
        return false;
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(64 * 1024)]).to_ascii_lowercase();
    CHALLENGE_MARKERS.iter().any(|m| text.contains(m))
}

/// The state a final (non-retryable) error status means.
pub fn from_status(status: u16) -> Option<FileState> {
    match status {
        200..=299 | 304 => None,
        404 | 410 => Some(FileState::NotFound),
        401..=403 => Some(FileState::Paywalled),
        _ => Some(FileState::Error),
    }
}

/// Whether the bytes are what the role promises: an article is a PDF; a
/// supplement may be anything but an HTML page.
pub fn type_fits(role: Role, head: &[u8]) -> bool {
    match (role, sniff(head)) {
        (_, Kind::Html) => false,
        (Role::Article, k) => k == Kind::Pdf,
        (Role::Supplement, _) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for s in FileState::ALL {
            assert_eq!(s.as_str().parse::<FileState>().unwrap(), s);
        }
        assert!("paywall".parse::<FileState>().is_err());
    }

    #[test]
    fn challenges_pages_and_types() {
        let cf = b"<!DOCTYPE html><html><head><title>Just a moment...</title><script src=\"/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1\"></script>";
        assert!(is_challenge(403, None, cf));
        assert!(is_challenge(200, Some("challenge"), b""));
        assert!(!is_challenge(403, None, b"<html><body>Access denied: subscribe</body></html>"));
        assert!(!is_challenge(404, None, cf));
        assert_eq!(from_status(403), Some(FileState::Paywalled));
        assert_eq!(from_status(410), Some(FileState::NotFound));
        assert_eq!(from_status(200), None);
        assert!(type_fits(Role::Article, b"%PDF-1.7\n"));
        assert!(!type_fits(Role::Article, b"<!DOCTYPE html><html>"));
        assert!(type_fits(Role::Supplement, b"PK\x03\x04rest"));
        assert!(!type_fits(Role::Supplement, b"<html><head>"));
    }
}
