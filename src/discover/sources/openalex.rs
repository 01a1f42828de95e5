//! OpenAlex `/works` (https://developers.openalex.org): `search=` the written
//! forms of an instrument (`"SU8000" OR "SU-8000" …`), `filter=` the facility's
//! ROR ids (`authorships.institutions.ror:a|b`), `from_created_date` (the
//! high-water mark), publication dates and the source's fixed filters; cursor
//! paging with `per-page`; `api_key` and `mailto`. Every response carries its
//! cost; a source whose daily budget is spent stops until the next run.

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{text, Page, Query, Window};
use crate::discover::source::Source;
use crate::discover::terms::Terms;
use crate::discover::work::{Doi, Evidence, Found, WorkMeta};
use crate::discover::DiscoverError;
use crate::http::Url;

/// One query per instrument; filtered by ROR when the profile has ROR ids,
/// else each work's raw affiliations are matched against the profile's.
pub fn queries(terms: &Terms) -> Vec<Query> {
    let ror = (!terms.rors.is_empty()).then(|| format!("authorships.institutions.ror:{}", terms.rors.join("|")));
    terms
        .instruments
        .iter()
        .map(|i| {
            let search = i.forms.iter().map(|f| format!("\"{}\"", f.replace('"', ""))).collect::<Vec<_>>().join(" OR ");
            let mut params = vec![("search".to_string(), search.clone())];
            let mut text = format!("search={search}");
            if let Some(r) = &ror {
                params.push(("filter".into(), r.clone()));
                text.push_str(&format!(" filter={r}"));
            }
            Query { text, params, affiliation_filter: ror.is_none() && !terms.affiliations.is_empty() }
        })
        .collect()
}

/// The URL of a page.
pub fn url(src: &Source, q: &Query, w: &Window, cursor: Option<&str>) -> Result<Url, DiscoverError> {
    let mut url = src.url("/works")?;
    let mut filters = src.filters.clone();
    filters.extend(q.params.iter().filter(|(k, _)| k == "filter").map(|(_, v)| v.clone()));
    filters.extend(super::date_filters(w, ["from_created_date", "from_publication_date", "to_publication_date"]));
    {
        let mut qp = url.query_pairs_mut();
        for (k, v) in q.params.iter().filter(|(k, _)| k != "filter") {
            qp.append_pair(k, v);
        }
        if !filters.is_empty() {
            qp.append_pair("filter", &filters.join(","));
        }
        qp.append_pair("per-page", &src.page_size.min(200).to_string());
        qp.append_pair("cursor", cursor.unwrap_or("*"));
    }
    Ok(url)
}

/// Parses a `/works` page.
pub fn parse(source: &str, q: &Query, terms: &Terms, v: &Value) -> Result<Page, String> {
    if let Some(e) = text(v, &["error"]) {
        return Err(format!("OpenAlex error: {e}: {}", text(v, &["message"]).unwrap_or_default()));
    }
    let results = v.get("results").and_then(Value::as_array).ok_or("OpenAlex page without results")?;
    let mut page = Page { items: results.len(), ..Default::default() };
    for w in results {
        let raw: Vec<&str> = w
            .get("authorships")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|a| a.get("raw_affiliation_strings").and_then(Value::as_array).into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        let snippet = terms.affiliation_match(raw.iter().copied());
        if q.affiliation_filter && snippet.is_none() {
            continue;
        }
        page.found.push(Found {
            work: work(w),
            evidence: Evidence { source: source.into(), query: q.text.clone(), snippet },
            locations: super::oa_locations(
                source,
                w.get("best_oa_location"),
                w.get("locations"),
                ["pdf_url", "landing_page_url"],
            ),
        });
    }
    page.next = text(v, &["meta", "next_cursor"]).filter(|_| !results.is_empty());
    Ok(page)
}

/// A work object.
pub fn work(w: &Value) -> WorkMeta {
    WorkMeta {
        doi: text(w, &["doi"]).as_deref().and_then(Doi::parse),
        title: text(w, &["title"]).or_else(|| text(w, &["display_name"])),
        year: text(w, &["publication_year"]).and_then(|y| y.parse().ok()),
        journal: text(w, &["primary_location", "source", "display_name"]),
        authors: w
            .get("authorships")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| text(a, &["author", "display_name"]))
            .collect(),
        kind: text(w, &["type"]),
    }
}

/// Why to stop asking: the budget headers say the next request cannot be paid
/// (`x-ratelimit-remaining-usd` below `x-ratelimit-cost-usd`, or no credits left).
pub fn budget_spent(headers: &HeaderMap) -> Option<String> {
    let num = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    if let Some(left) = num("x-ratelimit-remaining-usd") {
        let cost = num("x-ratelimit-cost-usd").unwrap_or(0.0);
        if left < cost.max(f64::MIN_POSITIVE) {
            return Some(format!("daily budget spent (${left} left, a request costs ${cost})"));
        }
    }
    match num("x-ratelimit-remaining") {
        Some(left) if left <= 0.0 => Some("daily credits spent".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn budget_headers_stop_a_spent_source() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining-usd", HeaderValue::from_static("0.4"));
        h.insert("x-ratelimit-cost-usd", HeaderValue::from_static("0.001"));
        assert_eq!(budget_spent(&h), None);
        h.insert("x-ratelimit-remaining-usd", HeaderValue::from_static("0.0005"));
        assert!(budget_spent(&h).unwrap().contains("budget spent"));
        let mut old = HeaderMap::new();
        old.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        assert!(budget_spent(&old).is_some());
        assert_eq!(budget_spent(&HeaderMap::new()), None);
    }
}
