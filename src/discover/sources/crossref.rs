//! Crossref REST `/works` (https://api.crossref.org/swagger-ui): one
//! `query.affiliation` query per facility affiliation, `filter=` with
//! `from-index-date` (the high-water mark), `from-pub-date`, `until-pub-date`
//! and `type`; `cursor=*` deep paging with `rows`; `select=` to keep pages
//! small. A page's `status` other than "ok" is an error.

use serde_json::Value;

use super::{text, year, Page, Query, Window};
use crate::discover::source::Source;
use crate::discover::terms::Terms;
use crate::discover::work::{Doi, Evidence, Found, Location, LocationKind, WorkMeta};
use crate::discover::DiscoverError;
use crate::http::Url;

const SELECT: &str = "DOI,title,author,container-title,issued,published,type,link";

/// One query per affiliation; affiliations are matched again on each item.
pub fn queries(terms: &Terms) -> Vec<Query> {
    terms
        .affiliations
        .iter()
        .map(|a| Query {
            text: format!("query.affiliation={a}"),
            params: vec![("query.affiliation".into(), a.clone())],
            affiliation_filter: true,
        })
        .collect()
}

/// The URL of a page.
pub fn url(src: &Source, q: &Query, w: &Window, cursor: Option<&str>) -> Result<Url, DiscoverError> {
    let mut url = src.url("/works")?;
    let mut filters = src.filters.clone();
    filters.extend(super::date_filters(w, ["from-index-date", "from-pub-date", "until-pub-date"]));
    {
        let mut qp = url.query_pairs_mut();
        for (k, v) in &q.params {
            qp.append_pair(k, v);
        }
        if !filters.is_empty() {
            qp.append_pair("filter", &filters.join(","));
        }
        qp.append_pair("select", SELECT);
        qp.append_pair("rows", &src.page_size.min(1000).to_string());
        qp.append_pair("cursor", cursor.unwrap_or("*"));
    }
    Ok(url)
}

/// Parses a `/works` page.
pub fn parse(source: &str, q: &Query, terms: &Terms, v: &Value) -> Result<Page, String> {
    let status = v.get("status").and_then(Value::as_str).unwrap_or("");
    if status != "ok" {
        return Err(format!("Crossref status {status:?}: {}", super::error_message(v.to_string().as_bytes())));
    }
    let msg = v.get("message").ok_or("Crossref page without message")?;
    let items = msg.get("items").and_then(Value::as_array).ok_or("Crossref page without items")?;
    let mut page = Page { items: items.len(), ..Default::default() };
    for item in items {
        let affiliations: Vec<&str> = item
            .get("author")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|a| a.get("affiliation").and_then(Value::as_array).into_iter().flatten())
            .filter_map(|a| a.get("name").and_then(Value::as_str))
            .collect();
        let snippet = terms.affiliation_match(affiliations.iter().copied());
        if q.affiliation_filter && snippet.is_none() {
            continue;
        }
        page.found.push(Found {
            work: work(item),
            evidence: Evidence { source: source.into(), query: q.text.clone(), snippet },
            locations: links(source, item),
        });
    }
    page.next = text(msg, &["next-cursor"]).filter(|_| !items.is_empty());
    Ok(page)
}

/// A work item.
pub fn work(item: &Value) -> WorkMeta {
    let authors = item
        .get("author")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| match (text(a, &["given"]), text(a, &["family"]), text(a, &["name"])) {
            (Some(g), Some(f), _) => Some(format!("{g} {f}")),
            (None, Some(f), _) => Some(f),
            (_, _, n) => n,
        })
        .collect();
    WorkMeta {
        doi: text(item, &["DOI"]).as_deref().and_then(Doi::parse),
        title: text(item, &["title", "0"]),
        year: year(text(item, &["issued", "date-parts", "0", "0"]))
            .or_else(|| year(text(item, &["published", "date-parts", "0", "0"]))),
        journal: text(item, &["container-title", "0"]),
        authors,
        kind: text(item, &["type"]),
    }
}

/// `link[]` entries meant for text mining.
fn links(source: &str, item: &Value) -> Vec<Location> {
    item.get("link")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|l| text(l, &["intended-application"]).as_deref() == Some("text-mining"))
        .filter_map(|l| {
            Some(Location {
                url: text(l, &["URL"])?,
                kind: LocationKind::TextMining,
                source: source.into(),
                license: None,
                version: text(l, &["content-version"]),
                content_type: text(l, &["content-type"]).filter(|c| c != "unspecified"),
            })
        })
        .collect()
}
