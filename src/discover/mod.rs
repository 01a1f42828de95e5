//! Discover: finds the papers that used the facility's instruments. Reads the
//! profile (instruments and their written forms, affiliations, ROR ids,
//! acknowledgement phrases), asks each source in `sources/*.toml` through the
//! shared [`Http`] client, pages every query to its end, and records one `work`
//! per DOI with the `evidence` of every source and query that found it, and the
//! open copies sources name. Each query keeps a high-water mark (the day it
//! last read to its end), so a later run asks only for what was indexed since;
//! a rerun is idempotent. A failing query is recorded in the summary and the
//! run goes on.

pub mod source;
pub mod sources;
pub mod terms;
pub mod work;

use chrono::NaiveDate;
use serde::Serialize;
use tracing::{info, info_span, warn, Instrument};

use crate::config::Profile;
use crate::http::{Http, HttpConfig, HttpError, Request};
use crate::store::{Store, StoreError};
pub use source::{Adapter, Source};
use sources::{Page, Query, Window};
pub use terms::Terms;

/// Errors that stop a discovery run (a failing query does not).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverError {
    /// A source description or override is wrong.
    #[error("source {source_name}: {reason}")]
    Source {
        /// Which source.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// `--source` names no known source.
    #[error("unknown source {0:?} (known: crossref, europepmc, openalex, semanticscholar, unpaywall)")]
    UnknownSource(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// What a run is asked to do.
#[derive(Debug, Clone, Default)]
pub struct DiscoverOptions {
    /// Only these sources (by name); empty = every enabled source.
    pub only: Vec<String>,
    /// Ask for records indexed since this day instead of each query's high-water mark.
    pub since: Option<NaiveDate>,
    /// Only works published on or after this day.
    pub published_from: Option<NaiveDate>,
    /// Only works published on or before this day.
    pub published_until: Option<NaiveDate>,
    /// Show a progress bar.
    pub progress: bool,
}

/// One request a run would send (`--dry-run`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlannedRequest {
    /// Source name.
    pub source: String,
    /// GET or POST.
    pub method: String,
    /// The URL, with any API key shown as `<ENV_NAME>`.
    pub url: String,
}

/// How one source went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceSummary {
    /// Source name.
    pub source: String,
    /// Queries asked.
    pub queries: u32,
    /// Queries that read to their end.
    pub completed: u32,
    /// HTTP requests sent (pages, batches, lookups).
    pub requests: u32,
    /// Works on the pages, before filtering.
    pub items: u64,
    /// Works kept.
    pub found: u64,
    /// Works new to the store.
    pub new_works: u64,
    /// Evidence new to the store.
    pub new_evidence: u64,
    /// Open-access locations new to the store.
    pub new_locations: u64,
    /// Why the source stopped early (budget spent), if it did.
    pub stopped: Option<String>,
    /// Failed queries or lookups: "query: reason".
    pub errors: Vec<String>,
}

/// A run's outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiscoverSummary {
    /// Per source, in order.
    pub sources: Vec<SourceSummary>,
    /// Works in the store after the run.
    pub works: u64,
}

impl DiscoverSummary {
    /// Failed queries and lookups over all sources.
    pub fn errors(&self) -> usize {
        self.sources.iter().map(|s| s.errors.len()).sum()
    }
}

/// The discovery sources a run uses: the named ones (enabled or not), else
/// every enabled one.
pub fn select(all: Vec<Source>, only: &[String]) -> Result<Vec<Source>, DiscoverError> {
    let all: Vec<Source> = all.into_iter().filter(|s| s.adapter.discovers()).collect();
    for name in only {
        if !all.iter().any(|s| &s.name == name) {
            return Err(DiscoverError::UnknownSource(name.clone()));
        }
    }
    Ok(all.into_iter().filter(|s| if only.is_empty() { s.enabled } else { only.contains(&s.name) }).collect())
}

/// The shared client, with each source's host limits.
pub fn http_for(sources: &[Source], contact: Option<&str>) -> Result<Http, DiscoverError> {
    let http = Http::new(HttpConfig { contact: contact.map(str::to_string), ..Default::default() })?;
    for s in sources {
        if let Ok(url) = s.url("") {
            http.set_limits(&crate::http::host_key(&url), s.limits);
        }
    }
    Ok(http)
}

fn window(opts: &DiscoverOptions, mark: Option<String>) -> Window {
    Window {
        since: opts.since.or_else(|| mark.and_then(|m| NaiveDate::parse_from_str(&m, "%Y-%m-%d").ok())),
        published_from: opts.published_from,
        published_until: opts.published_until,
    }
}

fn shown(src: &Source, req: &Request) -> PlannedRequest {
    let mut url = req.url.clone();
    if let (Some(param), Some(key)) = (&src.auth.key_param, &src.key) {
        let label = format!("<{}>", src.auth.key_env.as_deref().unwrap_or("API_KEY"));
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.to_string(), if &k == param && &v == key { label.clone() } else { v.to_string() }))
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    PlannedRequest { source: src.name.clone(), method: req.method.to_string(), url: url.to_string() }
}

/// The first request of every query (and the Unpaywall lookups waiting in the
/// store), exactly as a run would send them now.
pub async fn plan(
    store: &Store,
    profile: &Profile,
    sources: &[Source],
    opts: &DiscoverOptions,
) -> Result<Vec<PlannedRequest>, DiscoverError> {
    let terms = Terms::from_profile(profile);
    let contact = profile.contact_email.as_deref();
    let mut out = Vec::new();
    for src in sources {
        if src.adapter == Adapter::Unpaywall {
            for (_, doi) in store.works_needing_oa().await? {
                out.push(shown(src, &sources::unpaywall::request(src, &doi, contact)?));
            }
            continue;
        }
        for q in sources::queries(src.adapter, &terms) {
            let w = window(opts, store.high_water(&src.name, &q.text).await?);
            out.push(shown(src, &sources::request(src, &q, &w, None, contact)?));
        }
    }
    Ok(out)
}

/// Runs discovery: every query of every source, then Unpaywall for works not yet looked up.
pub async fn discover(
    store: &Store,
    profile: &Profile,
    sources: &[Source],
    http: &Http,
    opts: &DiscoverOptions,
) -> Result<DiscoverSummary, DiscoverError> {
    let terms = Terms::from_profile(profile);
    let contact = profile.contact_email.as_deref();
    let today = chrono::Utc::now().date_naive().to_string();
    let mut summary = DiscoverSummary::default();
    // Search sources first, so that Unpaywall sees every work this run found.
    let mut ordered: Vec<&Source> = sources.iter().filter(|s| s.adapter != Adapter::Unpaywall).collect();
    ordered.extend(sources.iter().filter(|s| s.adapter == Adapter::Unpaywall));
    for src in ordered {
        let span = info_span!("discover", source = %src.name);
        let s = async {
            if src.adapter == Adapter::Unpaywall {
                unpaywall(store, src, http, contact, opts.progress).await
            } else {
                search(store, src, http, &terms, contact, opts, &today).await
            }
        }
        .instrument(span)
        .await?;
        info!(source = %s.source, requests = s.requests, found = s.found, new_works = s.new_works, errors = s.errors.len(), "source done");
        summary.sources.push(s);
    }
    summary.works = store.works().await?.len() as u64;
    Ok(summary)
}

async fn search(
    store: &Store,
    src: &Source,
    http: &Http,
    terms: &Terms,
    contact: Option<&str>,
    opts: &DiscoverOptions,
    today: &str,
) -> Result<SourceSummary, DiscoverError> {
    let mut s = SourceSummary { source: src.name.clone(), ..Default::default() };
    let queries = sources::queries(src.adapter, terms);
    let bar = crate::progress::bar(queries.len() as u64, opts.progress, &format!("{} queries", src.name));
    for q in &queries {
        s.queries += 1;
        bar.set_message(q.text.clone());
        let w = window(opts, store.high_water(&src.name, &q.text).await?);
        match read_query(store, src, http, terms, contact, q, &w, &mut s).await? {
            Ok(()) => {
                s.completed += 1;
                store.set_high_water(&src.name, &q.text, today).await?;
            }
            Err(reason) => {
                warn!(query = %q.text, %reason, "query failed");
                s.errors.push(format!("{}: {reason}", q.text));
            }
        }
        bar.inc(1);
        if s.stopped.is_some() {
            break;
        }
    }
    bar.finish_and_clear();
    Ok(s)
}

/// Pages one query to its end. The outer error stops the run (store); the
/// inner one fails this query only.
#[allow(clippy::too_many_arguments)]
async fn read_query(
    store: &Store,
    src: &Source,
    http: &Http,
    terms: &Terms,
    contact: Option<&str>,
    q: &Query,
    w: &Window,
    s: &mut SourceSummary,
) -> Result<Result<(), String>, DiscoverError> {
    let mut cursor: Option<String> = None;
    for _ in 0..src.max_pages.max(1) {
        let req = sources::request(src, q, w, cursor.as_deref(), contact)?;
        let resp = match fetch(http, &req, s).await {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let mut page: Page = match sources::parse(src, q, terms, &resp.body, cursor.as_deref()) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        if src.adapter == Adapter::Semanticscholar {
            if let Err(e) = resolve_corpus_ids(src, http, &mut page, s).await? {
                return Ok(Err(e));
            }
        }
        s.items += page.items as u64;
        for f in &page.found {
            if let Some(r) = store.record_found(f).await? {
                s.found += 1;
                s.new_works += r.new_work as u64;
                s.new_evidence += r.new_evidence as u64;
                s.new_locations += r.new_locations as u64;
            }
        }
        if src.adapter == Adapter::Openalex {
            if let Some(why) = sources::openalex::budget_spent(&resp.headers) {
                s.stopped = Some(why.clone());
                return Ok(Err(why));
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(Ok(())),
        }
    }
    warn!(query = %q.text, pages = src.max_pages, "stopped at max_pages");
    Ok(Ok(()))
}

/// Sends a request; a non-2xx status is this item's error, with the body's first words.
async fn fetch(http: &Http, req: &Request, s: &mut SourceSummary) -> Result<crate::http::Response, String> {
    s.requests += 1;
    let resp = http.send(req).await.map_err(|e| e.to_string())?;
    if !resp.status.is_success() {
        return Err(format!("HTTP {}: {}", resp.status.as_u16(), sources::error_message(&resp.body)));
    }
    Ok(resp)
}

async fn resolve_corpus_ids(
    src: &Source,
    http: &Http,
    page: &mut Page,
    s: &mut SourceSummary,
) -> Result<Result<(), String>, DiscoverError> {
    let ids = std::mem::take(&mut page.resolve);
    for (chunk, found) in
        ids.chunks(sources::semanticscholar::BATCH).zip(page.found.chunks_mut(sources::semanticscholar::BATCH))
    {
        let req = sources::semanticscholar::batch_request(src, chunk)?;
        let resp = match fetch(http, &req, s).await {
            Ok(r) => r,
            Err(e) => return Ok(Err(format!("resolving corpus ids: {e}"))),
        };
        if let Err(e) = sources::semanticscholar::apply_batch(found, &resp.body) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(()))
}

async fn unpaywall(
    store: &Store,
    src: &Source,
    http: &Http,
    contact: Option<&str>,
    progress: bool,
) -> Result<SourceSummary, DiscoverError> {
    let mut s = SourceSummary { source: src.name.clone(), ..Default::default() };
    let waiting = store.works_needing_oa().await?;
    let bar = crate::progress::bar(waiting.len() as u64, progress, "unpaywall lookups");
    for (id, doi) in waiting {
        s.queries += 1;
        let req = sources::unpaywall::request(src, &doi, contact)?;
        s.requests += 1;
        let outcome = match http.send(&req).await {
            Ok(r) if r.status.as_u16() == 404 => Ok(Vec::new()),
            Ok(r) if r.status.is_success() => sources::unpaywall::parse(&src.name, &r.body),
            Ok(r) => Err(format!("HTTP {}", r.status.as_u16())),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(locations) => {
                s.completed += 1;
                s.found += !locations.is_empty() as u64;
                s.new_locations += store.record_oa(id, &locations).await? as u64;
            }
            Err(reason) => {
                warn!(%doi, %reason, "unpaywall lookup failed");
                s.errors.push(format!("{doi}: {reason}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(s)
}
