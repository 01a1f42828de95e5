//! One adapter per bibliographic API. Each builds its queries from the
//! profile's [`Terms`], the request for a page (first page when `cursor` is
//! `None`), and parses a page body into [`Found`] works and the next cursor.
//! Bodies are read as loose JSON: a missing or null field is a missing value,
//! never a failed page; an error reported inside a 200 body is an error.

pub mod crossref;
pub mod europepmc;
pub mod openalex;
pub mod semanticscholar;
pub mod unpaywall;

use chrono::NaiveDate;
use serde_json::Value;

use super::source::{Adapter, Source};
use super::terms::Terms;
use super::work::{Found, Location, LocationKind};
use super::DiscoverError;
use crate::http::{Request, Url};

/// One query of one source.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The query as a person reads it; kept as evidence and as the key of the
    /// source's high-water mark.
    pub text: String,
    /// Query parameters (without paging, dates or auth).
    pub params: Vec<(String, String)>,
    /// Keep only works with an author affiliation that names the facility.
    pub affiliation_filter: bool,
}

/// The time window of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Window {
    /// Only records indexed on or after this day (the high-water mark or `--since`).
    pub since: Option<NaiveDate>,
    /// Only works published on or after this day.
    pub published_from: Option<NaiveDate>,
    /// Only works published on or before this day.
    pub published_until: Option<NaiveDate>,
}

/// One parsed page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Works kept.
    pub found: Vec<Found>,
    /// Items on the page before filtering.
    pub items: usize,
    /// Cursor of the next page; `None` on the last.
    pub next: Option<String>,
    /// Ids the source must resolve to DOIs in a second request, aligned
    /// with `found` (Semantic Scholar corpus ids); empty for other sources.
    pub resolve: Vec<String>,
}

/// The queries of a source.
pub fn queries(adapter: Adapter, terms: &Terms) -> Vec<Query> {
    match adapter {
        Adapter::Crossref => crossref::queries(terms),
        Adapter::Europepmc => europepmc::queries(terms),
        Adapter::Openalex => openalex::queries(terms),
        Adapter::Semanticscholar => semanticscholar::queries(terms),
        Adapter::Unpaywall | Adapter::Doi | Adapter::Figshare | Adapter::Datacite => Vec::new(),
    }
}

/// The request for a page.
pub fn request(
    src: &Source,
    q: &Query,
    window: &Window,
    cursor: Option<&str>,
    contact: Option<&str>,
) -> Result<Request, DiscoverError> {
    let mut url = match src.adapter {
        Adapter::Crossref => crossref::url(src, q, window, cursor)?,
        Adapter::Europepmc => europepmc::url(src, q, window, cursor)?,
        Adapter::Openalex => openalex::url(src, q, window, cursor)?,
        Adapter::Semanticscholar => semanticscholar::url(src, q, window)?,
        Adapter::Unpaywall | Adapter::Doi | Adapter::Figshare | Adapter::Datacite => src.url("/")?,
    };
    Ok(authorise(src, &mut url, contact))
}

/// Parses a page.
pub fn parse(src: &Source, q: &Query, terms: &Terms, body: &[u8], cursor: Option<&str>) -> Result<Page, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    match src.adapter {
        Adapter::Crossref => crossref::parse(&src.name, q, terms, &v),
        Adapter::Europepmc => europepmc::parse(&src.name, q, terms, &v, cursor),
        Adapter::Openalex => openalex::parse(&src.name, q, terms, &v),
        Adapter::Semanticscholar => semanticscholar::parse(&src.name, q, &v),
        Adapter::Unpaywall | Adapter::Doi | Adapter::Figshare | Adapter::Datacite => {
            Err(format!("{} is looked up by DOI, not searched", src.name))
        }
    }
}

/// Adds the contact address and key as the source asks.
pub(crate) fn authorise(src: &Source, url: &mut Url, contact: Option<&str>) -> Request {
    if let (Some(param), Some(c)) = (&src.auth.contact_param, contact) {
        url.query_pairs_mut().append_pair(param, c);
    }
    let mut req = Request::get(url.clone());
    if let Some(key) = &src.key {
        if let Some(param) = &src.auth.key_param {
            req.url.query_pairs_mut().append_pair(param, key);
        }
        if let Some(header) = &src.auth.key_header {
            let name: &'static str = match header.to_ascii_lowercase().as_str() {
                "x-api-key" => "x-api-key",
                "crossref-plus-api-token" => "crossref-plus-api-token",
                _ => "authorization",
            };
            req.headers.push((name, format!("{}{key}", src.auth.key_prefix.as_deref().unwrap_or(""))));
        }
    }
    req
}

/// `filter=` terms for a window, with each API's names for the index date
/// and the publication range.
pub(crate) fn date_filters(w: &Window, names: [&str; 3]) -> Vec<String> {
    [w.since, w.published_from, w.published_until]
        .into_iter()
        .zip(names)
        .filter_map(|(d, name)| Some(format!("{name}:{}", d?)))
        .collect()
}

/// Open-access locations from a work's `best` location object and its list
/// of others (`keys`: the PDF URL's and the landing page's field names),
/// each URL once, licence and version kept.
pub(crate) fn oa_locations(
    source: &str,
    best: Option<&Value>,
    others: Option<&Value>,
    keys: [&str; 2],
) -> Vec<Location> {
    let mut out: Vec<Location> = Vec::new();
    let places =
        std::iter::once(best).chain(others.and_then(Value::as_array).into_iter().flatten().map(Some)).flatten();
    for l in places.filter(|l| l.get("is_oa").and_then(Value::as_bool) != Some(false)) {
        for (key, kind) in keys.into_iter().zip([LocationKind::Pdf, LocationKind::Landing]) {
            if let Some(url) = text(l, &[key]) {
                if !out.iter().any(|o| o.url == url) {
                    out.push(Location {
                        url,
                        kind,
                        source: source.into(),
                        license: text(l, &["license"]),
                        version: text(l, &["version"]),
                        content_type: None,
                    });
                }
            }
        }
    }
    out
}

/// The message of an API's error body: Crossref's `message` (text or a list
/// of `{message}`), Europe PMC's `errMsg`, OpenAlex's `error` and `message`;
/// else the body's first 200 characters.
pub fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let list = match v.get("message") {
            Some(Value::Array(a)) => a.iter().filter_map(|m| text(m, &["message"])).collect::<Vec<_>>().join("; "),
            _ => String::new(),
        };
        let found =
            [Some(list).filter(|l| !l.is_empty()), text(&v, &["errMsg"]), text(&v, &["error"]), text(&v, &["message"])];
        let parts: Vec<String> = found.into_iter().flatten().collect();
        if !parts.is_empty() {
            return parts.join(": ");
        }
    }
    String::from_utf8_lossy(body).chars().take(200).collect::<String>().trim().to_string()
}

/// A string at a JSON path of object keys and array indices ("0").
pub(crate) fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for key in path {
        cur = match key.parse::<usize>() {
            Ok(i) => cur.get(i)?,
            Err(_) => cur.get(*key)?,
        };
    }
    match cur {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Europe PMC's XML-shaped JSON gives one item or a list; this gives a list.
pub(crate) fn many(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// A year from text or number ("2021", 2021, "2021-03-01").
pub(crate) fn year(v: Option<String>) -> Option<i32> {
    v.and_then(|s| s.get(..4).and_then(|y| y.parse().ok())).filter(|y| (1600..3000).contains(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_json_paths() {
        let v: Value = serde_json::json!({"a": [{"b": "x"}, {"b": 7}], "n": null});
        assert_eq!(text(&v, &["a", "0", "b"]).as_deref(), Some("x"));
        assert_eq!(text(&v, &["a", "1", "b"]).as_deref(), Some("7"));
        assert_eq!(text(&v, &["n"]), None);
        assert_eq!(many(v.get("a")).len(), 2);
        assert_eq!(many(v.get("n")).len(), 0);
        assert_eq!(year(Some("2021-03-01".into())), Some(2021));
        assert_eq!(year(Some("n.d.".into())), None);
    }
}
