//! What discovery finds: a work (one per DOI, or per normalised title and year
//! when there is no DOI), the evidence of why, and where open copies live.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A DOI, normalised once: no resolver prefix, lower case (DOIs are
/// case-insensitive, ISO 26324).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Doi(String);

impl Doi {
    /// Reads `10.x/…`, `doi:10.x/…` or a `https://doi.org/…` URL; `None` if it is not a DOI.
    pub fn parse(text: &str) -> Option<Doi> {
        let t = text.trim();
        let lower = t.to_lowercase();
        let mut rest = lower.as_str();
        for prefix in ["https://", "http://"] {
            rest = rest.strip_prefix(prefix).unwrap_or(rest);
        }
        for prefix in ["dx.doi.org/", "doi.org/", "www.doi.org/", "doi:"] {
            rest = rest.strip_prefix(prefix).unwrap_or(rest);
        }
        let rest = rest.trim();
        let (prefix, suffix) = rest.split_once('/')?;
        let registrant = prefix.strip_prefix("10.")?;
        if registrant.is_empty() || !registrant.chars().all(|c| c.is_ascii_digit() || c == '.') || suffix.is_empty() {
            return None;
        }
        Some(Doi(rest.to_string()))
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Doi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A work's bibliographic record, as one source gave it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkMeta {
    /// DOI, if the source knew one.
    pub doi: Option<Doi>,
    /// Title.
    pub title: Option<String>,
    /// Publication year.
    pub year: Option<i32>,
    /// Journal or venue.
    pub journal: Option<String>,
    /// Author names, in order.
    pub authors: Vec<String>,
    /// Type ("journal-article", …), as the source words it.
    pub kind: Option<String>,
}

impl WorkMeta {
    /// The dedup key: `doi:<doi>`, else `title:<normalised title>|<year>`;
    /// `None` for a record with neither (it cannot be deduplicated, so it is not kept).
    pub fn key(&self) -> Option<String> {
        if let Some(d) = &self.doi {
            return Some(format!("doi:{d}"));
        }
        let t = normalise_title(self.title.as_deref()?);
        (!t.is_empty()).then(|| format!("title:{t}|{}", self.year.map(|y| y.to_string()).unwrap_or_default()))
    }

    /// The title key, used to merge a title-keyed work into its DOI-keyed twin.
    pub fn title_key(&self) -> Option<String> {
        let t = normalise_title(self.title.as_deref()?);
        (!t.is_empty()).then(|| format!("title:{t}|{}", self.year.map(|y| y.to_string()).unwrap_or_default()))
    }
}

/// Lower case, letters and digits only, single spaces.
pub fn normalise_title(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for word in title.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Why a work is thought to have used the facility.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The source that found it.
    pub source: String,
    /// The query that found it, as sent.
    pub query: String,
    /// The matching text (an affiliation, a methods snippet), when the source gives one.
    pub snippet: Option<String>,
}

/// What kind of copy a location is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    /// A PDF.
    Pdf,
    /// A landing page.
    Landing,
    /// A text-mining link (Crossref `link[]`, intended application text-mining).
    TextMining,
}

impl LocationKind {
    /// Text at the store edge.
    pub fn as_str(self) -> &'static str {
        match self {
            LocationKind::Pdf => "pdf",
            LocationKind::Landing => "landing",
            LocationKind::TextMining => "text_mining",
        }
    }
}

/// Where a copy of the work may be fetched (for the acquire stage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// URL.
    pub url: String,
    /// PDF, landing page or text-mining link.
    pub kind: LocationKind,
    /// The source that named it.
    pub source: String,
    /// Licence, when given.
    pub license: Option<String>,
    /// Version ("publishedVersion", "vor"…), when given.
    pub version: Option<String>,
    /// Content type, when given.
    pub content_type: Option<String>,
}

/// One work as one query found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The record.
    pub work: WorkMeta,
    /// Why.
    pub evidence: Evidence,
    /// Copies named by the source.
    pub locations: Vec<Location>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dois_normalise() {
        let want = Doi::parse("10.1038/s41467-024-45254-7").unwrap();
        for text in [
            "https://doi.org/10.1038/S41467-024-45254-7",
            "http://dx.doi.org/10.1038/s41467-024-45254-7",
            "doi:10.1038/s41467-024-45254-7 ",
        ] {
            assert_eq!(Doi::parse(text).as_ref(), Some(&want), "{text}");
        }
        assert_eq!(Doi::parse("https://openalex.org/W4294311152"), None);
        assert_eq!(Doi::parse("10./x"), None);
    }

    #[test]
    fn keys() {
        let mut w =
            WorkMeta { title: Some("Widget  Mania: Using a GUI!".into()), year: Some(2007), ..Default::default() };
        assert_eq!(w.key().as_deref(), Some("title:widget mania using a gui|2007"));
        w.doi = Doi::parse("10.1007/978-1-4302-0197-7_9");
        assert_eq!(w.key().as_deref(), Some("doi:10.1007/978-1-4302-0197-7_9"));
        assert_eq!(WorkMeta::default().key(), None);
    }
}
