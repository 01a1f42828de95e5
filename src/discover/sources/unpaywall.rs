//! Unpaywall v2 (https://unpaywall.org/products/api): `/v2/{doi}?email=…`
//! gives a work's open-access locations (`oa_locations[]`: `url_for_pdf`,
//! `url_for_landing_page`, `license`, `version`). A 404 means Unpaywall does
//! not know the DOI: the work is marked checked, with no locations.

use serde_json::Value;

use super::text;
use crate::discover::source::Source;
use crate::discover::work::{Doi, Location};
use crate::discover::DiscoverError;
use crate::http::Request;

/// The request for one DOI.
/// The DOI's slashes stay as they are (`/v2/10.1016/j.x`), as Unpaywall
/// expects; characters that would end the path are escaped.
pub fn request(src: &Source, doi: &Doi, contact: Option<&str>) -> Result<Request, DiscoverError> {
    let path: String = doi
        .as_str()
        .chars()
        .map(|c| match c {
            '%' => "%25".to_string(),
            '#' => "%23".to_string(),
            '?' => "%3F".to_string(),
            c if c.is_whitespace() => "%20".to_string(),
            c => c.to_string(),
        })
        .collect();
    let mut url = src.url(&format!("/v2/{path}"))?;
    Ok(super::authorise(src, &mut url, contact))
}

/// The open-access locations of a response.
pub fn parse(source: &str, body: &[u8]) -> Result<Vec<Location>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("error").and_then(Value::as_bool) == Some(true) {
        return Err(format!("Unpaywall error: {}", text(&v, &["message"]).unwrap_or_default()));
    }
    if v.get("doi").is_none() {
        return Err("Unpaywall response without doi".into());
    }
    Ok(super::oa_locations(
        source,
        v.get("best_oa_location"),
        v.get("oa_locations"),
        ["url_for_pdf", "url_for_landing_page"],
    ))
}
