//! Acquire: downloads the article and supplementary files of each `work`.
//! First every unresolved work's routes are asked for its files (recorded as
//! pending `file` rows), then pending files are fetched through the shared
//! client (per-host limits, robots.txt, TDMRep, Retry-After) into the
//! content-addressed blob store, each row ending in a [`FileState`]. Safe to
//! kill at any moment: a finished row is never fetched again, a part on disk
//! is resumed with a Range request, and a finished download not yet recorded
//! is recorded from disk without the network.

pub mod blobs;
pub mod fetch;
pub mod lease;
pub mod outcome;
pub mod polite;
pub mod publisher;
pub mod robots;
pub mod route;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use tokio::task::JoinSet;
use tracing::{info, info_span, warn, Instrument};

use crate::discover::source::{self, Source};
use crate::http::{HostLimits, Http, HttpConfig, HttpError};
use crate::store::file::{FileResult, FileToFetch};
use crate::store::{Store, StoreError};
use blobs::Blobs;
use fetch::Fetched;
pub use outcome::{FileState, Role};
use polite::Politeness;
use publisher::Publisher;

/// Files larger than this are not kept (`too_large`).
pub const DEFAULT_MAX_BYTES: u64 = 500 << 20;
/// Files fetched at once (each host still has its own limits).
pub const DEFAULT_WORKERS: usize = 4;

/// Errors that stop the stage (a failing file or route does not).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcquireError {
    /// A publisher or source description is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// The blob directory cannot be used.
    #[error("blob store {path}: {source}")]
    Blobs {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A source description is wrong.
    #[error(transparent)]
    Source(#[from] crate::discover::DiscoverError),
    /// A download task panicked or was cancelled.
    #[error("download task: {0}")]
    Task(String),
}

/// What a run does.
#[derive(Debug, Clone)]
pub struct AcquireOptions {
    /// The blob directory.
    pub blobs: PathBuf,
    /// Size cap per file.
    pub max_bytes: u64,
    /// Files fetched at once.
    pub workers: usize,
    /// Limits of hosts no source names (publishers, repositories).
    pub host_limits: HostLimits,
    /// Also fetch again files that ended in `error` or `not_found`.
    pub retry: bool,
    /// Ask again for downloaded files, with their validators (ETag / Last-Modified).
    pub refresh: bool,
    /// Progress bars.
    pub progress: bool,
}

impl AcquireOptions {
    /// Defaults with the blobs in `blobs`.
    pub fn new(blobs: PathBuf) -> AcquireOptions {
        AcquireOptions {
            blobs,
            max_bytes: DEFAULT_MAX_BYTES,
            workers: DEFAULT_WORKERS,
            host_limits: HostLimits::default(),
            retry: false,
            refresh: false,
            progress: false,
        }
    }
}

/// A run's outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AcquireSummary {
    /// Works whose routes were asked.
    pub works_resolved: u64,
    /// Files the routes named that were not known.
    pub new_files: u64,
    /// Route failures (noted on the works).
    pub route_notes: u64,
    /// Files fetched this run, by final state.
    pub states: BTreeMap<String, u64>,
    /// Files found current on refresh (304).
    pub unchanged: u64,
    /// Finished downloads recovered from disk after an interruption.
    pub recovered: u64,
    /// Bytes stored this run.
    pub bytes: u64,
}

/// What every task shares.
#[derive(Debug)]
pub struct Ctx {
    /// The one client.
    pub http: Http,
    /// The store.
    pub store: Store,
    /// The blob store.
    pub blobs: Blobs,
    /// robots.txt / TDMRep cache.
    pub polite: Politeness,
    /// Publisher rules.
    pub publishers: Vec<Publisher>,
    /// Sources the routes use (doi, crossref, europepmc, figshare, datacite).
    pub sources: Vec<Source>,
    /// Contact email.
    pub contact: Option<String>,
    /// Size cap.
    pub max_bytes: u64,
}

impl Ctx {
    /// An enabled source by name.
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name && s.enabled)
    }
}

/// Builds the shared context.
pub fn context(store: &Store, profile: &crate::config::Profile, opts: &AcquireOptions) -> Result<Ctx, AcquireError> {
    let sources = source::load(&profile.sources)?;
    let blobs = Blobs::open(&opts.blobs).map_err(|source| AcquireError::Blobs { path: opts.blobs.clone(), source })?;
    let http = Http::new(HttpConfig {
        contact: profile.contact_email.clone(),
        default_limits: opts.host_limits,
        ..Default::default()
    })?;
    for s in sources.iter().filter(|s| s.enabled) {
        if let Ok(url) = s.url("") {
            http.set_limits(&crate::http::host_key(&url), s.limits);
        }
    }
    Ok(Ctx {
        http,
        store: store.clone(),
        blobs,
        polite: Politeness::default(),
        publishers: publisher::load()?,
        sources,
        contact: profile.contact_email.clone(),
        max_bytes: opts.max_bytes,
    })
}

/// Runs the stage.
pub async fn acquire(ctx: Arc<Ctx>, opts: &AcquireOptions) -> Result<AcquireSummary, AcquireError> {
    let mut summary = AcquireSummary { recovered: recover(&ctx).await?, ..Default::default() };

    let works = ctx.store.works_to_resolve().await?;
    let bar = crate::progress::bar(works.len() as u64, opts.progress, "works resolved");
    for w in &works {
        let span =
            info_span!("resolve", work = w.id.0, doi = w.doi.as_ref().map(|d| d.to_string()).unwrap_or_default());
        let r = route::resolve(&ctx, w).instrument(span).await;
        for n in &r.notes {
            warn!(work = w.id.0, "{n}");
        }
        let files: Vec<(Role, String, String)> = r.files.into_iter().map(|c| (c.role, c.url, c.route)).collect();
        summary.new_files += ctx.store.record_resolved(w.id, &files, &r.notes).await? as u64;
        summary.route_notes += r.notes.len() as u64;
        summary.works_resolved += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();

    let mut states = vec![FileState::Pending];
    if opts.retry {
        states.extend([FileState::Error, FileState::NotFound]);
    }
    let waiting = ctx.store.files_in(&states).await?.len();
    let mut refresh: Vec<FileToFetch> =
        if opts.refresh { ctx.store.files_in(&[FileState::Downloaded]).await? } else { Vec::new() };
    let bar = crate::progress::bar((waiting + refresh.len()) as u64, opts.progress, "files");
    // Several workers (processes, on any host) share the files by leasing a
    // few at a time; a worker killed on this host leaves leases that the
    // next one here takes back.
    let owner = lease::owner();
    let dead = lease::dead_on_this_host(&ctx.store.lease_owners().await?);
    let until = (chrono::Utc::now() + lease::TTL).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut tasks: JoinSet<Result<(String, u64, bool), StoreError>> = JoinSet::new();
    let mut leased_all = false;
    loop {
        let room = opts.workers.max(1).saturating_sub(tasks.len());
        let mut batch: Vec<(FileToFetch, bool)> = Vec::new();
        for st in &states {
            if leased_all || batch.len() >= room {
                break;
            }
            let got = ctx.store.lease_files(*st, &owner, &dead, room - batch.len(), &until).await?;
            batch.extend(got.into_iter().map(|f| (f, false)));
        }
        if batch.len() < room {
            leased_all = true;
            while batch.len() < room {
                let Some(f) = refresh.pop() else { break };
                batch.push((f, true));
            }
        }
        for (f, refresh) in batch {
            let ctx = ctx.clone();
            let span = info_span!("acquire", file = f.id, url = %f.url);
            tasks.spawn(async move { one(&ctx, &f, refresh).await }.instrument(span));
        }
        let Some(done) = tasks.join_next().await else { break };
        let (state, bytes, unchanged) = done.map_err(|e| AcquireError::Task(e.to_string()))??;
        if unchanged {
            summary.unchanged += 1;
        } else {
            *summary.states.entry(state).or_default() += 1;
        }
        summary.bytes += bytes;
        bar.inc(1);
    }
    bar.finish_and_clear();
    info!(works = summary.works_resolved, new_files = summary.new_files, bytes = summary.bytes, "acquire done");
    Ok(summary)
}

/// Fetches one file and records the outcome; the blob moves into place only
/// after the store has its hash (see `blobs`).
async fn one(ctx: &Ctx, f: &FileToFetch, refresh: bool) -> Result<(String, u64, bool), StoreError> {
    match fetch::fetch(ctx, f, refresh).await {
        Fetched::Unchanged => Ok((FileState::Downloaded.to_string(), 0, true)),
        Fetched::Failed(state, why) => {
            warn!(state = %state, "{why}");
            ctx.store.finish_file(f.id, state, &FileResult { error: Some(why), ..Default::default() }).await?;
            Ok((state.to_string(), 0, false))
        }
        Fetched::Done(result) => {
            let bytes = record_done(ctx, f.id, result).await?;
            Ok((FileState::Downloaded.to_string(), bytes, false))
        }
    }
}

/// Hashes a finished download, records it, then moves it to its address.
async fn record_done(ctx: &Ctx, id: i64, mut result: FileResult) -> Result<u64, StoreError> {
    let done = ctx.blobs.done(id);
    let (hash, bytes) = match Blobs::hash_file(&done) {
        Ok(h) => h,
        Err(e) => {
            let r = FileResult { error: Some(format!("{}: {e}", done.display())), ..Default::default() };
            ctx.store.finish_file(id, FileState::Error, &r).await?;
            return Ok(0);
        }
    };
    result.blob = Some(hash.clone());
    result.bytes = Some(bytes);
    ctx.store.finish_file(id, FileState::Downloaded, &result).await?;
    if let Err(e) = ctx.blobs.place(id, &hash) {
        warn!(file = id, "placing blob {hash}: {e}");
    }
    let _ = std::fs::remove_file(ctx.blobs.meta(id));
    Ok(bytes)
}

/// Finishes what an interrupted run left: finished downloads not yet
/// recorded, and recorded ones not yet in place.
async fn recover(ctx: &Ctx) -> Result<u64, AcquireError> {
    let mut n = 0;
    for f in ctx.store.files_in(&[FileState::Pending]).await? {
        if ctx.blobs.done(f.id).is_file() {
            let meta = fetch::read_meta(ctx, f.id);
            let r = FileResult {
                content_type: meta.content_type,
                etag: meta.etag,
                last_modified: meta.last_modified,
                ..Default::default()
            };
            record_done(ctx, f.id, r).await?;
            n += 1;
        }
    }
    for f in ctx.store.files_in(&[FileState::Downloaded]).await? {
        if let Some(hash) = &f.blob {
            if !ctx.blobs.has(hash) && ctx.blobs.done(f.id).is_file() {
                ctx.blobs
                    .place(f.id, hash)
                    .map_err(|source| AcquireError::Blobs { path: ctx.blobs.root().into(), source })?;
                n += 1;
            }
        }
    }
    Ok(n)
}
