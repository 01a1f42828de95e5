//! Europe PMC REST search (https://europepmc.org/RestfulWebService):
//! section-scoped full-text queries, `METHODS:"<form>"` for each written form
//! of an instrument, `AND`ed with `AFF:"<affiliation>"`, and `ACK_FUND:"<phrase>"`
//! for acknowledgement phrases; `FIRST_IDATE` for the high-water mark and
//! `FIRST_PDATE` for publication dates; `cursorMark` paging with `resultType=core`.
//! Europe PMC reports some failures inside an HTTP 200 body (`errCode`,
//! `errMsg`, or no `resultList`): those are errors, not empty pages.

use serde_json::Value;

use super::{many, text, year, Page, Query, Window};
use crate::discover::source::Source;
use crate::discover::terms::Terms;
use crate::discover::work::{Doi, Evidence, Found, Location, LocationKind, WorkMeta};
use crate::discover::DiscoverError;
use crate::http::Url;

fn any_of(field: &str, values: &[String]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{field}:\"{}\"", v.replace('"', ""))).collect();
    if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("({})", parts.join(" OR "))
    }
}

/// One query per instrument (its forms in METHODS, the affiliations in AFF)
/// and one per acknowledgement phrase.
pub fn queries(terms: &Terms) -> Vec<Query> {
    let aff = (!terms.affiliations.is_empty()).then(|| any_of("AFF", &terms.affiliations));
    let mut out: Vec<Query> = terms
        .instruments
        .iter()
        .map(|i| {
            let methods = any_of("METHODS", &i.forms);
            let q = match &aff {
                Some(a) => format!("{methods} AND {a}"),
                None => methods,
            };
            Query { text: q.clone(), params: vec![("query".into(), q)], affiliation_filter: false }
        })
        .collect();
    out.extend(terms.acknowledgements.iter().map(|phrase| {
        let q = any_of("ACK_FUND", std::slice::from_ref(phrase));
        Query { text: q.clone(), params: vec![("query".into(), q)], affiliation_filter: false }
    }));
    out
}

/// The URL of a page.
pub fn url(src: &Source, q: &Query, w: &Window, cursor: Option<&str>) -> Result<Url, DiscoverError> {
    let mut url = src.url("/search")?;
    {
        let mut qp = url.query_pairs_mut();
        for (k, v) in &q.params {
            let mut v = v.clone();
            if k == "query" {
                if let Some(d) = w.since {
                    v = format!("({v}) AND FIRST_IDATE:[{d} TO 3000-12-31]");
                }
                if w.published_from.is_some() || w.published_until.is_some() {
                    let from = w.published_from.map(|d| d.to_string()).unwrap_or_else(|| "1000-01-01".into());
                    let until = w.published_until.map(|d| d.to_string()).unwrap_or_else(|| "3000-12-31".into());
                    v = format!("({v}) AND FIRST_PDATE:[{from} TO {until}]");
                }
            }
            qp.append_pair(k, &v);
        }
        qp.append_pair("resultType", "core");
        qp.append_pair("format", "json");
        qp.append_pair("synonym", "false");
        qp.append_pair("pageSize", &src.page_size.min(1000).to_string());
        qp.append_pair("cursorMark", cursor.unwrap_or("*"));
    }
    Ok(url)
}

/// Parses a search page. The last page is the one without results or whose
/// `nextCursorMark` repeats the cursor that asked for it.
pub fn parse(source: &str, q: &Query, terms: &Terms, v: &Value, cursor: Option<&str>) -> Result<Page, String> {
    if let Some(msg) = text(v, &["errMsg"]).or_else(|| text(v, &["errCode"])).or_else(|| text(v, &["error"])) {
        return Err(format!("Europe PMC error in a 200 response: {msg}"));
    }
    let results = v.get("resultList").ok_or("Europe PMC response without resultList")?;
    let items = many(results.get("result"));
    let mut page = Page { items: items.len(), ..Default::default() };
    for item in &items {
        let affiliations = affiliations(item);
        page.found.push(Found {
            work: work(item),
            evidence: Evidence {
                source: source.into(),
                query: q.text.clone(),
                snippet: terms.affiliation_match(affiliations.iter().map(String::as_str)),
            },
            locations: locations(source, item),
        });
    }
    let next = text(v, &["nextCursorMark"]);
    page.next = next.filter(|n| !items.is_empty() && Some(n.as_str()) != cursor);
    Ok(page)
}

fn work(item: &Value) -> WorkMeta {
    let listed: Vec<String> = many(item.get("authorList").and_then(|l| l.get("author")))
        .into_iter()
        .filter_map(|a| text(a, &["fullName"]))
        .collect();
    let authors = if listed.is_empty() {
        text(item, &["authorString"])
            .map(|s| s.trim_end_matches('.').split(", ").map(str::to_string).collect())
            .unwrap_or_default()
    } else {
        listed
    };
    WorkMeta {
        doi: text(item, &["doi"]).as_deref().and_then(Doi::parse),
        title: text(item, &["title"]).map(|t| t.trim_end_matches('.').to_string()),
        year: year(text(item, &["pubYear"])),
        journal: text(item, &["journalInfo", "journal", "title"]).or_else(|| text(item, &["journalTitle"])),
        authors,
        kind: many(item.get("pubTypeList").and_then(|l| l.get("pubType")))
            .first()
            .and_then(|t| t.as_str().map(str::to_string)),
    }
}

fn affiliations(item: &Value) -> Vec<String> {
    let mut out: Vec<String> = text(item, &["affiliation"]).into_iter().collect();
    for author in many(item.get("authorList").and_then(|l| l.get("author"))) {
        out.extend(text(author, &["affiliation"]));
        let details = author.get("authorAffiliationDetailsList").and_then(|d| d.get("authorAffiliation"));
        out.extend(many(details).into_iter().filter_map(|a| text(a, &["affiliation"])));
    }
    out
}

fn locations(source: &str, item: &Value) -> Vec<Location> {
    let license = text(item, &["license"]);
    many(item.get("fullTextUrlList").and_then(|l| l.get("fullTextUrl")))
        .into_iter()
        .filter(|u| matches!(text(u, &["availabilityCode"]).as_deref(), Some("OA" | "F") | None))
        .filter_map(|u| {
            Some(Location {
                url: text(u, &["url"])?,
                kind: if text(u, &["documentStyle"]).as_deref() == Some("pdf") {
                    LocationKind::Pdf
                } else {
                    LocationKind::Landing
                },
                source: source.into(),
                license: license.clone(),
                version: None,
                content_type: None,
            })
        })
        .collect()
}
