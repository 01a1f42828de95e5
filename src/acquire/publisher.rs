//! Publisher landing pages: one TOML per publisher under `sources/publishers/`
//! (compiled in) naming its hosts, DOI prefixes and the CSS selectors of its
//! article-PDF and supplementary-file links; a page is scraped with the rules
//! of the publisher whose host served it (else whose DOI prefix it is, else
//! the generic `citation_pdf_url` rule).

use scraper::{Html, Selector};
use serde::Deserialize;

use super::AcquireError;
use crate::http::Url;

const SHIPPED: [(&str, &str); 7] = [
    ("springer-nature", include_str!("../../sources/publishers/springer-nature.toml")),
    ("acs", include_str!("../../sources/publishers/acs.toml")),
    ("rsc", include_str!("../../sources/publishers/rsc.toml")),
    ("wiley", include_str!("../../sources/publishers/wiley.toml")),
    ("elsevier", include_str!("../../sources/publishers/elsevier.toml")),
    ("mdpi", include_str!("../../sources/publishers/mdpi.toml")),
    ("generic", include_str!("../../sources/publishers/generic.toml")),
];

/// One publisher's rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publisher {
    /// Name, recorded as the route (`landing:<name>`).
    pub name: String,
    /// Hosts (a page's host equal to one or under it).
    pub hosts: Vec<String>,
    /// DOI prefixes ("10.1021").
    pub doi_prefixes: Vec<String>,
    /// Selectors of the article PDF link (`content` of a meta, else `href`).
    pub article: Vec<String>,
    /// Selectors of supplementary-file links.
    pub supplements: Vec<String>,
    /// Whether supplementary files are registered as component DOIs
    /// (`{doi}.s001`, …), looked up in Crossref.
    #[serde(default)]
    pub components: bool,
}

/// Links found on a landing page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Links {
    /// The article PDF, if linked.
    pub article: Option<String>,
    /// Supplementary files, each once, in page order.
    pub supplements: Vec<String>,
}

/// The shipped publishers, the generic rule last.
pub fn load() -> Result<Vec<Publisher>, AcquireError> {
    SHIPPED
        .iter()
        .map(|(name, text)| {
            let p: Publisher = toml::from_str(text)
                .map_err(|e| AcquireError::Config(format!("sources/publishers/{name}.toml: {e}")))?;
            for s in p.article.iter().chain(&p.supplements) {
                Selector::parse(s).map_err(|e| AcquireError::Config(format!("{name}: selector {s:?}: {e}")))?;
            }
            Ok(p)
        })
        .collect()
}

/// The publisher for a page served from `url` for `doi`.
pub fn for_page<'a>(publishers: &'a [Publisher], url: &Url, doi: &str) -> &'a Publisher {
    let host = url.host_str().unwrap_or("");
    let by_host = publishers.iter().find(|p| p.hosts.iter().any(|h| host == h || host.ends_with(&format!(".{h}"))));
    let by_doi = || publishers.iter().find(|p| p.doi_prefixes.iter().any(|d| doi.starts_with(&format!("{d}/"))));
    by_host.or_else(by_doi).unwrap_or_else(|| publishers.last().expect("the generic publisher is shipped"))
}

/// The links a publisher's selectors find on a page, absolute. An article
/// link from an `<a>` must name the work's DOI (pages also link the PDFs of
/// recommended articles); a `<meta>` (citation_pdf_url) is the page's own.
pub fn scrape(p: &Publisher, html: &str, base: &Url, doi: &str) -> Links {
    let doc = Html::parse_document(html);
    let doi = doi.to_lowercase();
    let names_doi = |href: &str| {
        let decoded = href.replace("%2F", "/").replace("%2f", "/").to_lowercase();
        decoded.contains(&doi)
    };
    let pick = |selectors: &[String], own: bool| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in selectors {
            let Ok(sel) = Selector::parse(s) else { continue };
            for el in doc.select(&sel) {
                let v = el.value();
                let Some(raw) = v.attr("content").or_else(|| v.attr("href")) else { continue };
                if own && v.name() == "a" && !names_doi(raw) {
                    continue;
                }
                // An anchor (`#MOESM1`) points into a page, never at a file.
                if raw.contains('#') {
                    continue;
                }
                let Ok(url) = base.join(raw.trim()) else { continue };
                if !matches!(url.scheme(), "http" | "https") {
                    continue;
                }
                let url = url.to_string();
                if !out.contains(&url) {
                    out.push(url);
                }
            }
        }
        out
    };
    let article = pick(&p.article, true).into_iter().next();
    let supplements = pick(&p.supplements, false).into_iter().filter(|s| Some(s) != article.as_ref()).collect();
    Links { article, supplements }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_load_and_pick_by_host_then_doi() {
        let all = load().unwrap();
        let url = |u: &str| Url::parse(u).unwrap();
        assert_eq!(
            for_page(&all, &url("https://www.nature.com/articles/ncomms6634"), "10.1038/ncomms6634").name,
            "springer-nature"
        );
        assert_eq!(for_page(&all, &url("https://example.org/landing"), "10.1021/x").name, "acs");
        assert_eq!(for_page(&all, &url("https://example.org/landing"), "10.9999/x").name, "generic");
    }

    #[test]
    fn scrape_makes_links_absolute_and_skips_anchors() {
        let all = load().unwrap();
        let p = all.iter().find(|p| p.name == "springer-nature").unwrap();
        let html = r#"<html><head><meta content="https://www.nature.com/articles/x.pdf" name="citation_pdf_url"/></head>
            <body><a href="/articles/x#MOESM1">jump</a><a href="https://static-content.springer.com/esm/art/MOESM1_ESM.pdf">SI</a>
            <a data-test="supp-info-link" href="https://static-content.springer.com/esm/art/MOESM1_ESM.pdf">again</a></body></html>"#;
        let links = scrape(p, html, &Url::parse("https://www.nature.com/articles/x").unwrap(), "10.1038/x");
        assert_eq!(links.article.as_deref(), Some("https://www.nature.com/articles/x.pdf"));
        assert_eq!(links.supplements, ["https://static-content.springer.com/esm/art/MOESM1_ESM.pdf"]);
        let acs = all.iter().find(|p| p.name == "acs").unwrap();
        let page = r#"<a href="/doi/pdf/10.1021/other?src=recsys">rec</a><a href="/doi/pdf/10.1021/ACS.X">pdf</a>"#;
        let links = scrape(acs, page, &Url::parse("https://pubs.acs.org/doi/10.1021/acs.x").unwrap(), "10.1021/acs.x");
        assert_eq!(links.article.as_deref(), Some("https://pubs.acs.org/doi/pdf/10.1021/ACS.X"));
    }
}
