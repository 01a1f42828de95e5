//! Routes from a work to its files. Each route is one way publishers and
//! repositories expose a paper's PDF or supplementary files:
//! - `oa:<source>` / `crossref-tdm`: open-access PDFs and text-mining links
//!   discovery recorded (Unpaywall, OpenAlex, Europe PMC, Crossref `link[]`);
//! - `landing:<publisher>`: the DOI's landing page scraped with the
//!   publisher's selectors (`sources/publishers/*.toml`);
//! - `crossref-component`: component DOIs (`{doi}.s001`, `.s002`, …, as ACS
//!   registers supporting information), looked up in Crossref;
//! - `europepmc-xml` / `europepmc-zip`: `<supplementary-material>` of the
//!   Europe PMC full text, and its `supplementaryFiles` ZIP;
//! - `figshare`: Figshare items whose `resource_doi` is the paper;
//! - `datacite`: DataCite datasets that are `IsSupplementTo` the paper.
//!
//! A route that fails adds a note to the work and the others go on.

use regex::Regex;
use serde_json::Value;

use super::outcome::{is_challenge, Role};
use super::publisher::{self, Publisher};
use super::Ctx;
use crate::discover::sources::text;
use crate::discover::work::Doi;
use crate::http::{Method, Request, Response, Url};
use crate::store::file::WorkToResolve;

/// Component DOIs probed per work at most.
pub const MAX_COMPONENTS: u32 = 30;

/// A file a route names.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Article or supplement.
    pub role: Role,
    /// Where.
    pub url: String,
    /// Which route.
    pub route: String,
}

/// What the routes found for a work.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Files, each URL once.
    pub files: Vec<Candidate>,
    /// Routes that failed, and why.
    pub notes: Vec<String>,
}

impl Resolved {
    fn add(&mut self, role: Role, url: String, route: &str) {
        if !self.files.iter().any(|f| f.url == url) {
            self.files.push(Candidate { role, url, route: route.to_string() });
        }
    }
}

/// Runs every route for a work.
pub async fn resolve(ctx: &Ctx, work: &WorkToResolve) -> Resolved {
    let mut r = Resolved::default();
    for (url, kind, source) in &work.locations {
        match kind.as_str() {
            "pdf" => r.add(Role::Article, url.clone(), &format!("oa:{source}")),
            "text_mining" => r.add(Role::Article, url.clone(), "crossref-tdm"),
            _ => {}
        }
    }
    let Some(doi) = &work.doi else {
        r.notes.push("no DOI: only recorded locations".into());
        return r;
    };
    let publisher = landing(ctx, doi, &mut r).await;
    if publisher.is_some_and(|p| p.components) {
        components(ctx, doi, &mut r).await;
    }
    europepmc(ctx, doi, work, &mut r).await;
    figshare(ctx, doi, &mut r).await;
    datacite(ctx, doi, &mut r).await;
    r
}

/// A JSON GET or POST through a named source; `Err` is a note.
async fn json(ctx: &Ctx, req: Request, what: &str) -> Result<Option<Value>, String> {
    let resp = ctx.http.send(&req).await.map_err(|e| format!("{what}: {e}"))?;
    if resp.status.as_u16() == 404 {
        return Ok(None);
    }
    if !resp.status.is_success() {
        return Err(format!("{what}: HTTP {}", resp.status.as_u16()));
    }
    serde_json::from_slice(&resp.body).map(Some).map_err(|e| format!("{what}: not JSON: {e}"))
}

async fn landing<'a>(ctx: &'a Ctx, doi: &Doi, r: &mut Resolved) -> Option<&'a Publisher> {
    let src = ctx.source("doi")?;
    let Ok(url) = src.url(&format!("/{}", doi.as_str())) else { return None };
    if let Err(state) = ctx.polite.check(&ctx.http, &url).await {
        r.notes.push(format!("landing page {url}: {state}"));
        return Some(publisher::for_page(&ctx.publishers, &url, doi.as_str()));
    }
    let resp: Response = match ctx.http.send(&Request::get(url.clone())).await {
        Ok(resp) => resp,
        Err(e) => {
            r.notes.push(format!("landing page: {e}"));
            return None;
        }
    };
    let p = publisher::for_page(&ctx.publishers, &resp.url, doi.as_str());
    let mitigated = resp.header("cf-mitigated");
    if is_challenge(resp.status.as_u16(), mitigated, &resp.body) {
        r.notes.push(format!("landing page {}: anti-bot challenge (not answered)", resp.url));
    } else if !resp.status.is_success() {
        r.notes.push(format!("landing page {}: HTTP {}", resp.url, resp.status.as_u16()));
    } else {
        let links = publisher::scrape(p, &String::from_utf8_lossy(&resp.body), &resp.url, doi.as_str());
        let route = format!("landing:{}", p.name);
        if let Some(a) = links.article {
            r.add(Role::Article, a, &route);
        }
        for s in links.supplements {
            r.add(Role::Supplement, s, &route);
        }
    }
    Some(p)
}

async fn components(ctx: &Ctx, doi: &Doi, r: &mut Resolved) {
    let Some(src) = ctx.source("crossref") else { return };
    for n in 1..=MAX_COMPONENTS {
        let Ok(mut url) = src.url(&format!("/works/{}.s{n:03}", doi.as_str())) else { return };
        let req = crate::discover::sources::authorise(src, &mut url, ctx.contact.as_deref());
        match json(ctx, req, "crossref component").await {
            Ok(Some(v)) => {
                let m = &v["message"];
                match text(m, &["resource", "primary", "URL"]).or_else(|| text(m, &["URL"])) {
                    Some(u) => r.add(Role::Supplement, u, "crossref-component"),
                    None => return,
                }
            }
            Ok(None) => return,
            Err(note) => {
                r.notes.push(note);
                return;
            }
        }
    }
}

fn pmcid(locations: &[(String, String, String)]) -> Option<String> {
    let re = Regex::new(r"(?i)europepmc\.org/articles/(PMC\d+)").expect("valid regex");
    locations.iter().find_map(|(u, _, _)| re.captures(u).map(|c| c[1].to_uppercase()))
}

/// `xlink:href` of each `<supplementary-material>` (on it or on its `<media>`).
pub fn supplementary_hrefs(jats: &str) -> Vec<String> {
    let block = Regex::new(r"(?s)<supplementary-material\b(.*?)(?:/>|</supplementary-material>)").expect("valid regex");
    let href = Regex::new(r#"xlink:href\s*=\s*"([^"]+)""#).expect("valid regex");
    let mut out: Vec<String> = Vec::new();
    for b in block.captures_iter(jats) {
        for h in href.captures_iter(&b[1]) {
            let h = h[1].to_string();
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    out
}

async fn europepmc(ctx: &Ctx, doi: &Doi, work: &WorkToResolve, r: &mut Resolved) {
    let Some(src) = ctx.source("europepmc") else { return };
    let pmcid = match pmcid(&work.locations) {
        Some(p) => p,
        None => {
            let Ok(mut url) = src.url("/search") else { return };
            url.query_pairs_mut()
                .append_pair("query", &format!("DOI:\"{}\"", doi.as_str()))
                .append_pair("resultType", "lite")
                .append_pair("format", "json");
            match json(ctx, Request::get(url), "europepmc search").await {
                Ok(Some(v)) => match text(&v, &["resultList", "result", "0", "pmcid"]) {
                    Some(p) => p,
                    None => return,
                },
                Ok(None) => return,
                Err(note) => return r.notes.push(note),
            }
        }
    };
    let Ok(xml_url) = src.url(&format!("/{pmcid}/fullTextXML")) else { return };
    match ctx.http.send(&Request::get(xml_url)).await {
        Ok(resp) if resp.status.is_success() => {
            let jats = String::from_utf8_lossy(&resp.body);
            let hrefs = supplementary_hrefs(&jats);
            let template = src.file_url.as_deref().unwrap_or("https://europepmc.org/articles/{pmcid}/bin/{name}");
            for h in &hrefs {
                let url = template.replace("{pmcid}", &pmcid).replace("{name}", h);
                r.add(Role::Supplement, url, "europepmc-xml");
            }
            if !hrefs.is_empty() {
                if let Ok(zip) = src.url(&format!("/{pmcid}/supplementaryFiles")) {
                    r.add(Role::Supplement, zip.to_string(), "europepmc-zip");
                }
            }
        }
        Ok(resp) if resp.status.as_u16() == 404 => {}
        Ok(resp) => r.notes.push(format!("europepmc full text: HTTP {}", resp.status.as_u16())),
        Err(e) => r.notes.push(format!("europepmc full text: {e}")),
    }
}

async fn figshare(ctx: &Ctx, doi: &Doi, r: &mut Resolved) {
    let Some(src) = ctx.source("figshare") else { return };
    let Ok(url) = src.url("/v2/articles/search") else { return };
    let mut req = Request::get(url);
    req.method = Method::POST;
    req.body =
        Some(serde_json::json!({ "resource_doi": doi.as_str(), "page_size": src.page_size }).to_string().into_bytes());
    let items = match json(ctx, req, "figshare search").await {
        Ok(Some(Value::Array(items))) => items,
        Ok(_) => return,
        Err(note) => return r.notes.push(note),
    };
    for item in items {
        // Search also matches loosely: keep items that name this exact DOI.
        if text(&item, &["resource_doi"]).and_then(|d| Doi::parse(&d)).as_ref() != Some(doi) {
            continue;
        }
        let Some(id) = text(&item, &["id"]) else { continue };
        let Ok(url) = src.url(&format!("/v2/articles/{id}")) else { continue };
        match json(ctx, Request::get(url), "figshare item").await {
            Ok(Some(v)) => {
                for f in v["files"].as_array().into_iter().flatten() {
                    if let Some(u) = text(f, &["download_url"]) {
                        r.add(Role::Supplement, u, "figshare");
                    }
                }
            }
            Ok(None) => {}
            Err(note) => r.notes.push(note),
        }
    }
}

async fn datacite(ctx: &Ctx, doi: &Doi, r: &mut Resolved) {
    let Some(src) = ctx.source("datacite") else { return };
    let Ok(mut url) = src.url("/dois") else { return };
    url.query_pairs_mut()
        .append_pair(
            "query",
            &format!(
                "relatedIdentifiers.relatedIdentifier:\"{}\" AND relatedIdentifiers.relationType:IsSupplementTo",
                doi.as_str()
            ),
        )
        .append_pair("page[size]", &src.page_size.to_string());
    match json(ctx, Request::get(url), "datacite").await {
        Ok(Some(v)) => {
            for d in v["data"].as_array().into_iter().flatten() {
                let supplements = d["attributes"]["relatedIdentifiers"].as_array().into_iter().flatten().any(|rel| {
                    text(rel, &["relationType"]).as_deref() == Some("IsSupplementTo")
                        && text(rel, &["relatedIdentifier"]).and_then(|x| Doi::parse(&x)).as_ref() == Some(doi)
                });
                if !supplements {
                    continue;
                }
                for u in d["attributes"]["contentUrl"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    if Url::parse(u).is_ok() {
                        r.add(Role::Supplement, u.to_string(), "datacite");
                    }
                }
            }
        }
        Ok(None) => {}
        Err(note) => r.notes.push(note),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jats_supplementary_material() {
        let xml = r#"<sec><supplementary-material content-type="local-data" id="MOESM1"><media xlink:href="13567_2021_902_MOESM1_ESM.doc"><caption/></media></supplementary-material>
            <supplementary-material id="s2" xlink:href="data.zip"/><p><media xlink:href="not-supplementary.mp4"/></p></sec>"#;
        assert_eq!(supplementary_hrefs(xml), ["13567_2021_902_MOESM1_ESM.doc", "data.zip"]);
        let loc = vec![(
            "https://europepmc.org/articles/pmc7781616?pdf=render".to_string(),
            "pdf".into(),
            "europepmc".into(),
        )];
        assert_eq!(pmcid(&loc).as_deref(), Some("PMC7781616"));
    }
}
