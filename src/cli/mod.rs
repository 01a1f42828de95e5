//! Command line: parses (clap derive; a doc comment is the help text), opens
//! the store and profile, calls one stage, prints a table or `--json`, and
//! picks the exit code: 0 done, 2 error (bad arguments, profile or store; a
//! missing archive root). Item failures (an unreadable file) do not change the
//! exit code: they are recorded on their rows and counted in the summary.
//! `discover` exits 1 when it finished but some queries failed (a network or
//! API error, listed in the summary): the next run asks them again.

mod output;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use emtrace::acquire;
use emtrace::archive::{self, ScanOptions};
use emtrace::bench;
use emtrace::config::{Profile, TEMPLATE};
use emtrace::discover;
use emtrace::extract;
use emtrace::matching;
use emtrace::store::{Store, DEFAULT_DB};

/// emtrace: which of a facility's microscope acquisitions were published.
#[derive(Debug, Parser)]
#[command(name = "emtrace", version, about)]
struct Cli {
    /// Database: a file path or sqlite://… for SQLite, postgres://… for PostgreSQL.
    /// Also read from EMTRACE_DB or DATABASE_URL. [default: emtrace.db]
    #[arg(long, global = true)]
    db: Option<String>,
    /// Facility profile (TOML; `emtrace init` writes one). [default: ./emtrace.toml when present]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Print JSON (one object per line) instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// More log output on stderr (-v info, -vv debug). [default: warnings only]
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// No progress bars and only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a commented facility profile to start from.
    Init {
        /// Where to write it.
        #[arg(default_value = "emtrace.toml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// The facility's image archive.
    #[command(subcommand)]
    Archive(ArchiveCommand),
    /// Find the archive acquisitions that published panels (PNG, JPEG, TIFF)
    /// were made from: archive path, score, crop rectangle and scale.
    Match {
        /// Panel image files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Which stored published panels (from earlier `match` runs) contain
    /// these acquisitions: image files, or every image in a directory.
    Lookup {
        /// Images or directories.
        #[arg(required = true)]
        targets: Vec<PathBuf>,
    },
    /// Every embedded image of PDFs, Office / OpenDocument files, ZIP / TAR
    /// archives and image files, with page placement; decoded to pixels.
    Extract {
        /// Input files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write each decoded image as PNG here (adds "png" to the JSON).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Split each image into panels (micrograph or not, scale bar, data bar).
        #[arg(long)]
        panels: bool,
        /// With --panels: hand scale-bar labels the built-in reader is unsure
        /// of to the `tesseract` program, when installed.
        #[arg(long, requires = "panels")]
        tesseract: bool,
        /// Give up on a file after this many seconds (what was found is kept).
        #[arg(long, default_value_t = 120)]
        time_limit: u64,
    },
    /// Find the papers that used the facility's instruments: Crossref,
    /// Europe PMC, OpenAlex and Semantic Scholar queries built from the
    /// profile, paged to the end; one work per DOI with the evidence of why;
    /// Unpaywall for open copies. Incremental: each query asks only for what
    /// was indexed since its last complete run.
    Discover {
        /// Ask for records indexed since this day (YYYY-MM-DD) instead of each
        /// query's high-water mark. [default: the mark; everything on a first run]
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
        /// Only this source (repeatable): crossref, europepmc, openalex,
        /// semanticscholar, unpaywall. [default: every enabled source]
        #[arg(long = "source", value_name = "NAME")]
        sources: Vec<String>,
        /// Only works published on or after this day (YYYY-MM-DD).
        #[arg(long)]
        published_from: Option<chrono::NaiveDate>,
        /// Only works published on or before this day (YYYY-MM-DD).
        #[arg(long)]
        published_until: Option<chrono::NaiveDate>,
        /// Print the requests a run would send now, and send none. API keys
        /// are shown as the name of the variable that holds them.
        #[arg(long)]
        dry_run: bool,
    },
    /// List the discovered works with their evidence (with --json, one object per line).
    Works,
    /// Download the discovered works' article PDFs and supplementary files
    /// (open-access copies, publisher landing pages, Crossref components,
    /// Europe PMC, Figshare, DataCite), politely: per-host limits, robots.txt,
    /// TDMRep, Retry-After. Resumable: kill it at any moment and run it again.
    Acquire {
        /// Where downloaded files are kept, by content hash. [default: blobs/ beside an SQLite store, else ./blobs]
        #[arg(long)]
        blobs: Option<PathBuf>,
        /// Largest file kept, in bytes.
        #[arg(long, default_value_t = emtrace::acquire::DEFAULT_MAX_BYTES)]
        max_bytes: u64,
        /// Requests per second to each publisher or repository host.
        #[arg(long, default_value_t = 1.0)]
        host_rate: f64,
        /// Requests in flight at once to each publisher or repository host.
        #[arg(long, default_value_t = 2)]
        host_concurrency: u32,
        /// Files fetched at once over all hosts.
        #[arg(long, default_value_t = emtrace::acquire::DEFAULT_WORKERS)]
        workers: usize,
        /// Also try again files that ended in error or not_found.
        #[arg(long)]
        retry: bool,
        /// Ask again for downloaded files (conditional GET: ETag / Last-Modified).
        #[arg(long)]
        refresh: bool,
    },
    /// List every file of every work with its route and state (with --json, one object per line).
    Files,
    /// Benchmarks that print their own figures and a reference's.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum ArchiveCommand {
    /// Index the images under the given directories (default: the profile's archive_roots).
    /// Incremental: unchanged files are skipped, moved files keep their record,
    /// deleted files are marked gone.
    Scan {
        /// Archive roots.
        dirs: Vec<PathBuf>,
        /// Skip the fingerprint stage that follows the scan.
        #[arg(long)]
        no_fingerprints: bool,
    },
    /// List the acquisitions (with --json, one object per line).
    List {
        /// Only rows in this state: present, gone or unreadable.
        #[arg(long)]
        state: Option<String>,
    },
    /// Images per year × modality, instrument, detector, user and project, and
    /// the field-of-view distribution.
    Stats {
        /// Print CSV (table,key,key2,images) instead of tables.
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Scan throughput on a synthetic archive built from real files, against a
    /// reference reader (exiftool, Python tifffile) in the same run.
    Scan(bench::ScanBenchOptions),
    /// Matching recall, precision, geometry and latency on published-like
    /// variants of the real archive, against a global-pHash baseline.
    Match(bench::MatchBenchOptions),
    /// Image extraction parity with poppler's pdfimages over the real PDF
    /// corpus, and wall time against `pdfimages -all` in the same run.
    Extract(bench::ExtractBenchOptions),
    /// Scale bars, labels and panel splitting against ground truth made by
    /// eye (fixtures/figures), with Tesseract on the same label crops.
    Figures(bench::FiguresBenchOptions),
}

/// Runs the command line and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("EMTRACE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("emtrace={level}")));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn db_url(cli: &Cli) -> String {
    cli.db
        .clone()
        .or_else(|| std::env::var("EMTRACE_DB").ok())
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| DEFAULT_DB.to_string())
}

fn profile(cli: &Cli) -> Result<Profile> {
    match &cli.config {
        Some(p) => Ok(Profile::load(p)?),
        None if std::path::Path::new("emtrace.toml").exists() => Ok(Profile::load("emtrace.toml".as_ref())?),
        None => Ok(Profile::default()),
    }
}

/// Blobs live beside an SQLite database file, else in ./blobs.
fn default_blobs(db: &str) -> PathBuf {
    let file = db.strip_prefix("sqlite://").unwrap_or(db);
    let file = file.split('?').next().unwrap_or(file);
    if db.contains("://") && !db.starts_with("sqlite://") {
        return PathBuf::from("blobs");
    }
    match std::path::Path::new(file).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("blobs"),
        _ => PathBuf::from("blobs"),
    }
}

async fn open_store(cli: &Cli) -> Result<Store> {
    let url = db_url(cli);
    Store::open(&url).await.with_context(|| format!("opening store {url}"))
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match &cli.command {
        Command::Init { path, force } => {
            if path.exists() && !force {
                bail!("{} exists; use --force to overwrite", path.display());
            }
            std::fs::write(path, TEMPLATE).with_context(|| format!("writing {}", path.display()))?;
            if cli.json {
                writeln!(out, "{}", serde_json::json!({ "written": path }))?;
            } else {
                writeln!(
                    out,
                    "wrote {}: edit it, then run `emtrace --config {} archive scan`",
                    path.display(),
                    path.display()
                )?;
            }
        }
        Command::Archive(ArchiveCommand::Scan { dirs, no_fingerprints }) => {
            let profile = profile(&cli)?;
            let roots = if dirs.is_empty() { profile.archive_roots.clone() } else { dirs.clone() };
            if roots.is_empty() {
                bail!("no archive directory given and the profile lists no archive_roots");
            }
            let store = open_store(&cli).await?;
            let opts = ScanOptions { roots, rules: profile.path_rules()?, progress: !cli.quiet && !cli.json };
            let mut summary = archive::scan(&store, &opts).await?;
            if !no_fingerprints {
                summary.fingerprints = Some(archive::fingerprints::fingerprint_archive(&store, opts.progress).await?);
            }
            store.close().await;
            if cli.json {
                output::json_line(&mut out, &summary)?;
            } else {
                output::scan_summary(&mut out, &summary)?;
            }
        }
        Command::Archive(ArchiveCommand::List { state }) => {
            if let Some(s) = state {
                if archive::AcqState::parse(s).is_none() {
                    bail!("unknown state {s:?}: use present, gone or unreadable");
                }
            }
            let store = open_store(&cli).await?;
            let rows: Vec<_> = store
                .acquisitions()
                .await?
                .into_iter()
                .filter(|r| state.as_ref().is_none_or(|s| &r.state == s))
                .collect();
            if cli.json {
                output::each(&mut out, true, &rows, |_, _| Ok(()))?;
            } else {
                output::acquisitions(&mut out, &rows)?;
            }
        }
        Command::Archive(ArchiveCommand::Stats { csv }) => {
            let store = open_store(&cli).await?;
            let stats = archive::stats::compute(&store.acquisitions().await?);
            if cli.json {
                output::json_line(&mut out, &stats)?;
            } else if *csv {
                output::stats_csv(&mut out, &stats)?;
            } else {
                output::stats(&mut out, &stats)?;
            }
        }
        Command::Match { files } => {
            let store = open_store(&cli).await?;
            let results = matching::stage::match_files(&store, files).await?;
            store.close().await;
            output::each(&mut out, cli.json, &results, output::match_result)?;
        }
        Command::Lookup { targets } => {
            let store = open_store(&cli).await?;
            let results = matching::stage::lookup(&store, targets).await?;
            store.close().await;
            output::each(&mut out, cli.json, &results, output::lookup_result)?;
        }
        Command::Extract { files, out: dir, panels, tesseract, time_limit } => {
            let limits =
                extract::Limits { time_per_file: std::time::Duration::from_secs(*time_limit), ..Default::default() };
            let bar = emtrace::progress::bar(files.len() as u64, !cli.quiet && !cli.json && files.len() > 1, "files");
            for file in files {
                bar.set_message(file.display().to_string());
                let mut x = extract::extract_file(file, &limits);
                if *panels {
                    extract::add_panels(&mut x, &emtrace::figure::Options { tesseract: *tesseract });
                }
                if let Some(dir) = dir {
                    if let Err(e) = extract::write_pngs(&mut x, dir) {
                        x.error.get_or_insert(format!("writing PNGs: {e}"));
                    }
                }
                bar.suspend(
                    || if cli.json { output::json_line(&mut out, &x) } else { output::extraction(&mut out, &x) },
                )?;
                bar.inc(1);
            }
            bar.finish_and_clear();
        }
        Command::Discover { since, sources, published_from, published_until, dry_run } => {
            let profile = profile(&cli)?;
            let all = discover::source::load(&profile.sources)?;
            let selected = discover::select(all, sources)?;
            let opts = discover::DiscoverOptions {
                only: sources.clone(),
                since: *since,
                published_from: *published_from,
                published_until: *published_until,
                progress: !cli.quiet && !cli.json,
            };
            let store = open_store(&cli).await?;
            if *dry_run {
                let plan = discover::plan(&store, &profile, &selected, &opts).await?;
                store.close().await;
                output::each(&mut out, cli.json, &plan, |o, r| writeln!(o, "{:<16} {} {}", r.source, r.method, r.url))?;
                return Ok(ExitCode::SUCCESS);
            }
            let http = discover::http_for(&selected, profile.contact_email.as_deref())?;
            let summary = discover::discover(&store, &profile, &selected, &http, &opts).await?;
            store.close().await;
            if cli.json {
                output::json_line(&mut out, &summary)?;
            } else {
                output::discover_summary(&mut out, &summary)?;
            }
            if summary.errors() > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Acquire { blobs, max_bytes, host_rate, host_concurrency, workers, retry, refresh } => {
            let profile = profile(&cli)?;
            let store = open_store(&cli).await?;
            let mut opts = acquire::AcquireOptions::new(blobs.clone().unwrap_or_else(|| default_blobs(&db_url(&cli))));
            opts.max_bytes = *max_bytes;
            opts.workers = *workers;
            opts.host_limits = emtrace::http::HostLimits {
                requests: (host_rate.max(0.001) * 1000.0).round() as u32,
                per_seconds: 1000.0,
                concurrency: *host_concurrency,
            };
            opts.retry = *retry;
            opts.refresh = *refresh;
            opts.progress = !cli.quiet && !cli.json;
            let ctx = std::sync::Arc::new(acquire::context(&store, &profile, &opts)?);
            let summary = acquire::acquire(ctx, &opts).await?;
            store.close().await;
            if cli.json {
                output::json_line(&mut out, &summary)?;
            } else {
                output::acquire_summary(&mut out, &summary)?;
            }
        }
        Command::Files => {
            let store = open_store(&cli).await?;
            let files = store.files().await?;
            store.close().await;
            if cli.json {
                output::each(&mut out, true, &files, |_, _| Ok(()))?;
            } else {
                output::files(&mut out, &files)?;
            }
        }
        Command::Works => {
            let store = open_store(&cli).await?;
            let works = store.works().await?;
            store.close().await;
            if cli.json {
                output::each(&mut out, true, &works, |_, _| Ok(()))?;
            } else {
                output::works(&mut out, &works)?;
            }
        }
        Command::Bench(BenchCommand::Scan(opts)) => {
            let report = bench::scan(opts, !cli.quiet && !cli.json).await?;
            if cli.json {
                output::json_line(&mut out, &report)?;
            } else {
                bench::print_scan(&mut out, &report)?;
            }
        }
        Command::Bench(BenchCommand::Figures(opts)) => {
            let opts = opts.clone();
            let report = tokio::task::spawn_blocking(move || bench::run_figures(&opts)).await??;
            if cli.json {
                output::json_line(&mut out, &report)?;
            } else {
                bench::print_figures(&mut out, &report)?;
            }
        }
        Command::Bench(BenchCommand::Extract(opts)) => {
            let opts = opts.clone();
            let report = tokio::task::spawn_blocking(move || bench::run_extract(&opts)).await??;
            if cli.json {
                output::json_line(&mut out, &report)?;
            } else {
                bench::print_extract(&mut out, &report)?;
            }
        }
        Command::Bench(BenchCommand::Match(opts)) => {
            let opts = opts.clone();
            let report = tokio::task::spawn_blocking(move || bench::run_match(&opts)).await??;
            if cli.json {
                output::json_line(&mut out, &report)?;
            } else {
                bench::print_match(&mut out, &report)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
