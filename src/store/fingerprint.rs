//! `fingerprint` rows: one per acquisition, the bytes of a
//! [`crate::fingerprint::Fingerprint`] with its version.

use sqlx::FromRow;

use super::ids::AcquisitionId;
use super::{Store, StoreError};
use crate::fingerprint::VERSION;

/// An acquisition that needs a (new) fingerprint: where its file is.
#[derive(Debug, Clone, FromRow)]
pub struct Pending {
    /// The acquisition.
    pub id: AcquisitionId,
    /// Its root.
    pub root: String,
    /// Its path under the root.
    pub path: String,
    /// Data-bar rows to cut.
    pub databar_rows: Option<i64>,
}

/// A stored fingerprint with where its file is.
#[derive(Debug, Clone, FromRow)]
pub struct Stored {
    /// The acquisition.
    pub id: AcquisitionId,
    /// Its root.
    pub root: String,
    /// Its path under the root.
    pub path: String,
    /// Data-bar rows.
    pub databar_rows: Option<i64>,
    /// The fingerprint bytes.
    pub data: Vec<u8>,
}

impl Store {
    /// Present acquisitions without a fingerprint of the current version.
    pub async fn fingerprints_pending(&self) -> Result<Vec<Pending>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT a.id, a.root, a.path, a.databar_rows FROM acquisition a \
             LEFT JOIN fingerprint f ON f.acquisition_id = a.id \
             WHERE a.state = 'present' AND (f.acquisition_id IS NULL OR f.version <> $1) ORDER BY a.id",
        )
        .bind(VERSION as i64)
        .fetch_all(self.pool())
        .await?)
    }

    /// Stores fingerprints (id, quality, keypoint count, bytes) in one transaction.
    pub async fn write_fingerprints(&self, rows: &[(AcquisitionId, f32, usize, Vec<u8>)]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for (id, quality, keypoints, data) in rows {
            sqlx::query(
                "INSERT INTO fingerprint (acquisition_id, version, quality, keypoints, data) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (acquisition_id) DO UPDATE SET version = $2, quality = $3, keypoints = $4, data = $5",
            )
            .bind(id.0)
            .bind(VERSION as i64)
            .bind(*quality as f64)
            .bind(*keypoints as i64)
            .bind(data.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every current fingerprint of a present acquisition.
    pub async fn fingerprints(&self) -> Result<Vec<Stored>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT a.id, a.root, a.path, a.databar_rows, f.data FROM fingerprint f \
             JOIN acquisition a ON a.id = f.acquisition_id WHERE a.state = 'present' AND f.version = $1 ORDER BY a.id",
        )
        .bind(VERSION as i64)
        .fetch_all(self.pool())
        .await?)
    }
}
