//! Test helpers: the shared real data, the two store backends, the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use emtrace::store::Store;

pub mod replay;

/// A path under `../shared/data`, or `None` (with a note) when it is absent.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} not found", p.display());
        None
    }
}

/// A path under `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel)
}

/// Where PostgreSQL is expected (override with EMTRACE_TEST_PG).
pub fn pg_base() -> String {
    std::env::var("EMTRACE_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty store for one test: an SQLite file in `dir`, or a new schema
/// on the local PostgreSQL.
pub struct TestDb {
    /// "sqlite" or "postgres".
    pub backend: &'static str,
    /// The URL to pass to `--db` or `Store::open`.
    pub url: String,
}

impl TestDb {
    /// Opens the store.
    pub async fn open(&self) -> Store {
        Store::open(&self.url).await.unwrap_or_else(|e| panic!("opening {}: {e}", self.url))
    }
}

/// The backends to run a test on: always SQLite; PostgreSQL when it answers
/// (a line says why it is skipped otherwise).
pub async fn backends(dir: &Path) -> Vec<TestDb> {
    let mut out = vec![TestDb { backend: "sqlite", url: dir.join("test.db").display().to_string() }];
    match new_pg_schema().await {
        Ok(url) => out.push(TestDb { backend: "postgres", url }),
        Err(e) => eprintln!("skipping PostgreSQL run: {} unreachable ({e})", pg_base()),
    }
    out
}

async fn new_pg_schema() -> Result<String, sqlx::Error> {
    use sqlx::Connection;
    let base = pg_base();
    let mut conn = tokio::time::timeout(std::time::Duration::from_secs(3), sqlx::PgConnection::connect(&base))
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
    );
    // Drop the schemas of earlier test processes that have exited.
    let old: Vec<(String,)> =
        sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%\\_%\\_%'")
            .fetch_all(&mut conn)
            .await?;
    for (name,) in old {
        let pid = name.split('_').nth(1).unwrap_or("");
        if !Path::new("/proc").join(pid).exists() {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&mut conn).await?;
        }
    }
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await?;
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

/// The `emtrace` binary, run in `dir`.
pub fn emtrace(dir: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("emtrace").expect("binary is built");
    cmd.current_dir(dir).env_remove("EMTRACE_DB").env_remove("DATABASE_URL").env("NO_COLOR", "1");
    cmd
}

/// Parses JSON lines.
pub fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// A one-page PDF drawing `gray` (Flate-compressed, DeviceGray) at 72 dpi
/// with a white margin, as a journal PDF embeds a figure.
pub fn pdf_with_image(gray: &image::GrayImage) -> Vec<u8> {
    use lopdf::{dictionary, Document, Object, Stream};
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(gray.as_raw()).unwrap();
    let (w, h) = gray.dimensions();
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let image = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => w as i64, "Height" => h as i64,
        "BitsPerComponent" => 8, "ColorSpace" => "DeviceGray", "Filter" => "FlateDecode" },
        z.finish().unwrap(),
    ));
    let content = doc.add_object(Stream::new(dictionary! {}, format!("q {w} 0 0 {h} 36 36 cm /Im1 Do Q").into_bytes()));
    let page = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content,
    "Resources" => dictionary! { "XObject" => dictionary! { "Im1" => image } } });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1,
        "MediaBox" => vec![0.into(), 0.into(), (w as i64 + 72).into(), (h as i64 + 72).into()] }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// Request arrival times at least `period` apart: each gap within 30 ms of
/// it (loopback connection jitter), and the whole run no faster than the rate.
pub fn assert_spaced(times: &[std::time::Instant], period: std::time::Duration) {
    let slack = std::time::Duration::from_millis(30);
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] + slack >= period, "requests {:?} apart, period {period:?}", pair[1] - pair[0]);
    }
    if let (Some(first), Some(last)) = (times.first(), times.last()) {
        let want = period * (times.len() as u32 - 1);
        assert!(
            *last - *first + slack >= want,
            "{} requests in {:?}, faster than one per {period:?}",
            times.len(),
            *last - *first
        );
    }
}
