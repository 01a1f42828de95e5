//! Source descriptions: one TOML per bibliographic API under `sources/`
//! (compiled in, so the binary works from any directory), with the profile's
//! `[sources.<name>]` tables layered on top (base URL, on/off, key, limits).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::DiscoverError;
use crate::http::{HostLimits, Url};

/// The shipped source files.
const SHIPPED: [(&str, &str); 8] = [
    ("crossref", include_str!("../../sources/crossref.toml")),
    ("europepmc", include_str!("../../sources/europepmc.toml")),
    ("openalex", include_str!("../../sources/openalex.toml")),
    ("semanticscholar", include_str!("../../sources/semanticscholar.toml")),
    ("unpaywall", include_str!("../../sources/unpaywall.toml")),
    ("doi", include_str!("../../sources/doi.toml")),
    ("figshare", include_str!("../../sources/figshare.toml")),
    ("datacite", include_str!("../../sources/datacite.toml")),
];

/// Which adapter reads a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Adapter {
    /// Crossref REST `/works`.
    Crossref,
    /// Europe PMC REST search.
    Europepmc,
    /// OpenAlex `/works`.
    Openalex,
    /// Semantic Scholar snippet search + paper batch.
    Semanticscholar,
    /// Unpaywall v2 by DOI.
    Unpaywall,
    /// The DOI resolver (acquire: landing pages).
    Doi,
    /// Figshare API v2 (acquire: items whose resource DOI is the paper).
    Figshare,
    /// DataCite REST API (acquire: datasets that are supplements to the paper).
    Datacite,
}

impl Adapter {
    /// Whether `discover` uses it (the others serve `acquire`).
    pub fn discovers(self) -> bool {
        !matches!(self, Adapter::Doi | Adapter::Figshare | Adapter::Datacite)
    }
}

/// How a source wants to be identified.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Query parameter that carries the profile's contact email.
    pub contact_param: Option<String>,
    /// Environment variable holding an API key.
    pub key_env: Option<String>,
    /// Query parameter the key goes in.
    pub key_param: Option<String>,
    /// Header the key goes in.
    pub key_header: Option<String>,
    /// Text before the key in the header ("Bearer ").
    pub key_prefix: Option<String>,
}

/// One source, as its TOML describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Name used on the command line and in evidence.
    pub name: String,
    /// The adapter that reads it.
    pub adapter: Adapter,
    /// Base URL (tests point it at loopback).
    pub base_url: String,
    /// Whether a plain `discover` uses it.
    pub enabled: bool,
    /// Results per page.
    pub page_size: u32,
    /// Pages per query and run.
    pub max_pages: u32,
    /// Filters always sent.
    #[serde(default)]
    pub filters: Vec<String>,
    /// Rate and concurrency for its host.
    pub limits: HostLimits,
    /// Identification.
    #[serde(default)]
    pub auth: Auth,
    /// URL template of files the source names (`{pmcid}`, `{name}`).
    #[serde(default)]
    pub file_url: Option<String>,
    /// The API key, from the profile or `auth.key_env` (never serialised).
    #[serde(skip)]
    pub key: Option<String>,
}

/// A profile's changes to a source.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceOverride {
    /// Another base URL (a mirror, or a test server).
    pub base_url: Option<String>,
    /// Switch the source on or off.
    pub enabled: Option<bool>,
    /// The API key (else read from `auth.key_env`).
    pub api_key: Option<String>,
    /// Other limits.
    pub limits: Option<HostLimits>,
    /// Results per page.
    pub page_size: Option<u32>,
    /// Pages per query and run.
    pub max_pages: Option<u32>,
    /// URL template of files the source names.
    pub file_url: Option<String>,
}

impl Source {
    /// The base URL with `path` appended.
    pub fn url(&self, path: &str) -> Result<Url, DiscoverError> {
        let text = format!("{}/{}", self.base_url.trim_end_matches('/'), path.trim_start_matches('/'));
        Url::parse(&text)
            .map_err(|e| DiscoverError::Source { source_name: self.name.clone(), reason: format!("URL {text}: {e}") })
    }
}

/// The shipped sources with the profile's overrides applied, in a fixed order.
pub fn load(overrides: &BTreeMap<String, SourceOverride>) -> Result<Vec<Source>, DiscoverError> {
    for name in overrides.keys() {
        if !SHIPPED.iter().any(|(n, _)| n == name) {
            return Err(DiscoverError::Source {
                source_name: name.clone(),
                reason: format!("no such source (known: {})", SHIPPED.map(|(n, _)| n).join(", ")),
            });
        }
    }
    SHIPPED
        .iter()
        .map(|(name, text)| {
            let mut s: Source = toml::from_str(text).map_err(|e| DiscoverError::Source {
                source_name: name.to_string(),
                reason: format!("sources/{name}.toml: {e}"),
            })?;
            let o = overrides.get(*name).cloned().unwrap_or_default();
            if let Some(u) = o.base_url {
                s.base_url = u;
            }
            if let Some(e) = o.enabled {
                s.enabled = e;
            }
            if let Some(l) = o.limits {
                s.limits = l;
            }
            if let Some(p) = o.page_size {
                s.page_size = p;
            }
            if let Some(p) = o.max_pages {
                s.max_pages = p;
            }
            if let Some(f) = o.file_url {
                s.file_url = Some(f);
            }
            s.key = o.api_key.or_else(|| s.auth.key_env.as_ref().and_then(|v| std::env::var(v).ok()));
            s.url("")?;
            Ok(s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_sources_parse_and_overrides_apply() {
        let mut o = BTreeMap::new();
        o.insert(
            "crossref".to_string(),
            SourceOverride { base_url: Some("http://127.0.0.1:9".into()), enabled: Some(false), ..Default::default() },
        );
        let sources = load(&o).unwrap();
        assert_eq!(sources.len(), 8);
        let cr = &sources[0];
        assert_eq!((cr.adapter, cr.enabled, cr.base_url.as_str()), (Adapter::Crossref, false, "http://127.0.0.1:9"));
        assert!(cr.page_size <= 1000);
        assert_eq!(cr.url("/works").unwrap().as_str(), "http://127.0.0.1:9/works");
        o.insert("scopus".to_string(), SourceOverride::default());
        assert!(load(&o).unwrap_err().to_string().contains("no such source"));
    }
}
