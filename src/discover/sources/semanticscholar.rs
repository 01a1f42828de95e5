//! Semantic Scholar Graph API (https://api.semanticscholar.org/api-docs):
//! snippet search (`/graph/v1/snippet/search`) finds the passages that name an
//! instrument; the papers it returns carry a corpus id but no DOI, so the ids
//! go to `/graph/v1/paper/batch` (POST, ≤ 500 ids) for DOI, year and venue.
//! The optional key goes in `x-api-key`.

use serde_json::Value;

use super::{text, year, Page, Query, Window};
use crate::discover::source::Source;
use crate::discover::terms::{InstrumentForms, Terms};
use crate::discover::work::{Doi, Evidence, Found, WorkMeta};
use crate::discover::DiscoverError;
use crate::http::{Method, Request, Url};

/// Ids per batch request.
pub const BATCH: usize = 500;

/// Fields asked of the batch endpoint.
const FIELDS: &str = "externalIds,title,year,venue,authors";

/// One query per distinct vendor-qualified form ("Hitachi SU8000",
/// "Hitachi Regulus 8230"): the search is by relevance, so spelling variants
/// of one form ("SU-8000", "SU 8000") would repeat each other.
pub fn queries(terms: &Terms) -> Vec<Query> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for i in &terms.instruments {
        for form in qualified(i) {
            let key: String = form.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
            if !seen.contains(&key) {
                seen.push(key);
                out.push(Query { text: form.clone(), params: vec![("query".into(), form)], affiliation_filter: false });
            }
        }
    }
    out
}

fn qualified(i: &InstrumentForms) -> Vec<String> {
    let vendor = i.vendor.to_lowercase();
    i.forms
        .iter()
        .map(|f| if f.to_lowercase().starts_with(&vendor) { f.clone() } else { format!("{} {f}", i.vendor) })
        .collect()
}

/// The snippet-search URL (one page: the endpoint has no paging).
pub fn url(src: &Source, q: &Query, w: &Window) -> Result<Url, DiscoverError> {
    let mut url = src.url("/graph/v1/snippet/search")?;
    {
        let mut qp = url.query_pairs_mut();
        for (k, v) in &q.params {
            qp.append_pair(k, v);
        }
        qp.append_pair("limit", &src.page_size.min(1000).to_string());
        let from = w.since.or(w.published_from);
        if from.is_some() || w.published_until.is_some() {
            let f = from.map(|d| d.to_string()).unwrap_or_default();
            let u = w.published_until.map(|d| d.to_string()).unwrap_or_default();
            qp.append_pair("publicationDateOrYear", &format!("{f}:{u}"));
        }
    }
    Ok(url)
}

/// Parses a snippet-search response; the papers' corpus ids are to be resolved.
pub fn parse(source: &str, q: &Query, v: &Value) -> Result<Page, String> {
    if let Some(e) = text(v, &["error"]).or_else(|| text(v, &["message"])) {
        return Err(format!("Semantic Scholar error: {e}"));
    }
    let data = v.get("data").and_then(Value::as_array).ok_or("Semantic Scholar response without data")?;
    let mut page = Page { items: data.len(), ..Default::default() };
    for d in data {
        let paper = d.get("paper").unwrap_or(&Value::Null);
        let authors = paper
            .get("authors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string).or_else(|| text(a, &["name"])))
            .collect();
        page.resolve.push(text(paper, &["corpusId"]).unwrap_or_default());
        page.found.push(Found {
            work: WorkMeta { title: text(paper, &["title"]), authors, ..Default::default() },
            evidence: Evidence { source: source.into(), query: q.text.clone(), snippet: text(d, &["snippet", "text"]) },
            locations: Vec::new(),
        });
    }
    Ok(page)
}

/// The batch request for up to [`BATCH`] corpus ids.
pub fn batch_request(src: &Source, ids: &[String]) -> Result<Request, DiscoverError> {
    let mut url = src.url("/graph/v1/paper/batch")?;
    url.query_pairs_mut().append_pair("fields", FIELDS);
    let mut req = super::authorise(src, &mut url, None);
    req.method = Method::POST;
    let ids: Vec<String> = ids.iter().map(|i| format!("CorpusId:{i}")).collect();
    req.body = Some(serde_json::to_vec(&serde_json::json!({ "ids": ids })).expect("a list of strings serialises"));
    Ok(req)
}

/// Fills DOI, year, venue (and missing title/authors) from a batch response:
/// a JSON array aligned with the ids, `null` for an unknown id.
pub fn apply_batch(found: &mut [Found], body: &[u8]) -> Result<(), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("batch response not JSON: {e}"))?;
    let papers = v
        .as_array()
        .ok_or_else(|| format!("batch response is not a list: {}", text(&v, &["error"]).unwrap_or_default()))?;
    for (f, p) in found.iter_mut().zip(papers) {
        if p.is_null() {
            continue;
        }
        let w = &mut f.work;
        w.doi = w.doi.take().or_else(|| text(p, &["externalIds", "DOI"]).as_deref().and_then(Doi::parse));
        w.year = w.year.or_else(|| year(text(p, &["year"])));
        w.journal = w.journal.take().or_else(|| text(p, &["venue"]));
        w.title = w.title.take().or_else(|| text(p, &["title"]));
        if w.authors.is_empty() {
            w.authors = p
                .get("authors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| text(a, &["name"]))
                .collect();
        }
    }
    Ok(())
}
