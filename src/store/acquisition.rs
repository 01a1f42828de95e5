//! `acquisition` rows: what the archive scan writes and the reports read.

use serde::Serialize;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, FromRow};

use super::ids::AcquisitionId;
use super::{now, Store, StoreError};

/// An acquisition as stored.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct Acquisition {
    /// Row id.
    #[serde(rename = "acquisition_id")]
    pub id: AcquisitionId,
    /// Path relative to `root`, `/`-separated.
    pub path: String,
    /// The archive root it was found under (absolute).
    pub root: String,
    /// File size in bytes.
    pub size: i64,
    /// Modification time, ns since the epoch.
    #[serde(skip)]
    pub mtime_ns: i64,
    /// blake3 of the file's bytes, hex.
    pub content_hash: Option<String>,
    /// tiff, dm3, dm4, raster.
    pub format: Option<String>,
    /// Whose metadata format.
    pub vendor: String,
    /// "Maker Model".
    pub instrument: Option<String>,
    /// Instrument serial.
    pub serial: Option<String>,
    /// SEM, TEM, STEM.
    pub modality: Option<String>,
    /// Detector or signal.
    pub detector: Option<String>,
    /// ISO 8601 (instrument local time).
    pub acquired_at: Option<String>,
    /// "metadata", "databar" (printed on the data bar of an image without
    /// metadata) or "file-time".
    pub acquired_at_source: Option<String>,
    /// Indicated magnification.
    pub magnification: Option<f64>,
    /// nm per pixel at the saved width.
    pub pixel_size_nm: Option<f64>,
    /// Accelerating voltage, kV.
    pub kv: Option<f64>,
    /// Working distance, mm.
    pub wd_mm: Option<f64>,
    /// Pixels.
    pub width: Option<i64>,
    /// Pixels, data bar included.
    pub height: Option<i64>,
    /// Bits per sample.
    pub bit_depth: Option<i64>,
    /// Rows of burned-in data bar at the bottom.
    pub databar_rows: Option<i64>,
    /// "metadata" or "pixels".
    pub databar_source: Option<String>,
    /// User name the instrument recorded.
    pub operator: Option<String>,
    /// User (from the profile's path rules, else the operator).
    #[serde(rename = "user")]
    pub user_name: Option<String>,
    /// Project (from the profile's path rules).
    pub project: Option<String>,
    /// present, gone, unreadable.
    pub state: String,
    /// What went wrong reading it.
    pub error: Option<String>,
    /// When a scan first recorded it (UTC).
    pub first_seen: String,
    /// When a scan last read it (UTC).
    pub last_seen: String,
}

/// The scan's view of a stored row: enough to decide what changed.
#[derive(Debug, Clone, FromRow)]
pub struct Known {
    /// Row id.
    pub id: AcquisitionId,
    /// Root.
    pub root: String,
    /// Relative path.
    pub path: String,
    /// Size when last read.
    pub size: i64,
    /// mtime when last read.
    pub mtime_ns: i64,
    /// Content hash.
    pub content_hash: Option<String>,
    /// Stored state.
    pub state: String,
}

/// The values a scan writes for one file.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    /// Root.
    pub root: String,
    /// Relative path.
    pub path: String,
    /// Size.
    pub size: i64,
    /// mtime, ns.
    pub mtime_ns: i64,
    /// blake3 hex.
    pub content_hash: Option<String>,
    /// Container format.
    pub format: Option<String>,
    /// Vendor.
    pub vendor: String,
    /// Instrument.
    pub instrument: Option<String>,
    /// Serial.
    pub serial: Option<String>,
    /// Modality.
    pub modality: Option<String>,
    /// Detector.
    pub detector: Option<String>,
    /// ISO 8601.
    pub acquired_at: Option<String>,
    /// metadata / file-time.
    pub acquired_at_source: Option<String>,
    /// Magnification.
    pub magnification: Option<f64>,
    /// nm/px.
    pub pixel_size_nm: Option<f64>,
    /// kV.
    pub kv: Option<f64>,
    /// mm.
    pub wd_mm: Option<f64>,
    /// px.
    pub width: Option<i64>,
    /// px.
    pub height: Option<i64>,
    /// bits.
    pub bit_depth: Option<i64>,
    /// rows.
    pub databar_rows: Option<i64>,
    /// metadata / pixels.
    pub databar_source: Option<String>,
    /// Recorded user.
    pub operator: Option<String>,
    /// User.
    pub user_name: Option<String>,
    /// Project.
    pub project: Option<String>,
    /// present / unreadable.
    pub state: String,
    /// Error text.
    pub error: Option<String>,
}

/// One write of a scan batch.
#[derive(Debug, Clone)]
pub enum Write {
    /// A file at a path with no row: a new row.
    Insert(Fields),
    /// A row whose file changed, or that moved to a new path.
    Update(AcquisitionId, Fields),
}

const COLUMNS: &str =
    "root, path, size, mtime_ns, content_hash, format, vendor, instrument, serial, modality, detector, \
    acquired_at, acquired_at_source, magnification, pixel_size_nm, kv, wd_mm, width, height, bit_depth, databar_rows, \
    databar_source, operator, user_name, project, state, error";
const N_COLUMNS: usize = 27;

fn bind<'q>(mut q: Query<'q, Any, AnyArguments<'q>>, f: &Fields) -> Query<'q, Any, AnyArguments<'q>> {
    q = q.bind(f.root.clone()).bind(f.path.clone()).bind(f.size).bind(f.mtime_ns).bind(f.content_hash.clone());
    q = q.bind(f.format.clone()).bind(f.vendor.clone()).bind(f.instrument.clone()).bind(f.serial.clone());
    q = q
        .bind(f.modality.clone())
        .bind(f.detector.clone())
        .bind(f.acquired_at.clone())
        .bind(f.acquired_at_source.clone());
    q = q.bind(f.magnification).bind(f.pixel_size_nm).bind(f.kv).bind(f.wd_mm);
    q = q.bind(f.width).bind(f.height).bind(f.bit_depth).bind(f.databar_rows).bind(f.databar_source.clone());
    q.bind(f.operator.clone())
        .bind(f.user_name.clone())
        .bind(f.project.clone())
        .bind(f.state.clone())
        .bind(f.error.clone())
}

impl Store {
    /// Every stored row under these roots.
    pub async fn known_acquisitions(&self, roots: &[String]) -> Result<Vec<Known>, StoreError> {
        let mut out = Vec::new();
        for root in roots {
            let rows: Vec<Known> = sqlx::query_as(
                "SELECT id, root, path, size, mtime_ns, content_hash, state FROM acquisition WHERE root = $1",
            )
            .bind(root.clone())
            .fetch_all(self.pool())
            .await?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Applies a batch of scan writes in one transaction.
    pub async fn write_acquisitions(&self, writes: &[Write]) -> Result<(), StoreError> {
        let placeholders: Vec<String> = (1..=N_COLUMNS).map(|i| format!("${i}")).collect();
        let sets: Vec<String> =
            COLUMNS.split(", ").zip(&placeholders).map(|(c, p)| format!("{} = {p}", c.trim())).collect();
        // Another worker may have recorded the same path meanwhile: then this is an update.
        let insert = format!(
            "INSERT INTO acquisition ({COLUMNS}, first_seen, last_seen) VALUES ({}, ${n}, ${n}) \
             ON CONFLICT (root, path) DO UPDATE SET {}, last_seen = ${n}",
            placeholders.join(", "),
            sets.join(", "),
            n = N_COLUMNS + 1
        );
        let update = format!(
            "UPDATE acquisition SET {}, last_seen = ${} WHERE id = ${}",
            sets.join(", "),
            N_COLUMNS + 1,
            N_COLUMNS + 2
        );
        let seen = now();
        let mut tx = self.pool().begin().await?;
        for w in writes {
            match w {
                Write::Insert(f) => {
                    bind(sqlx::query(&insert), f).bind(seen.clone()).execute(&mut *tx).await?;
                }
                Write::Update(id, f) => {
                    bind(sqlx::query(&update), f).bind(seen.clone()).bind(id.0).execute(&mut *tx).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks rows whose files were not found as gone (their records stay).
    pub async fn mark_gone(&self, ids: &[AcquisitionId]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for id in ids {
            sqlx::query("UPDATE acquisition SET state = 'gone' WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// All acquisitions, ordered by root and path.
    pub async fn acquisitions(&self) -> Result<Vec<Acquisition>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM acquisition ORDER BY root, path").fetch_all(self.pool()).await?)
    }
}
