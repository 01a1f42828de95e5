//! `panel` and `panel_match` rows: published panels that were matched, and
//! what they were found to come from.

use sqlx::FromRow;

use super::ids::{AcquisitionId, PanelId};
use super::{now, Store, StoreError};
use crate::matching::Match;

/// A stored panel with its fingerprint bytes.
#[derive(Debug, Clone, FromRow)]
pub struct StoredPanel {
    /// Row id.
    pub id: PanelId,
    /// Where the panel's pixels are (a file path for now).
    pub source: String,
    /// Fingerprint bytes.
    pub fingerprint: Vec<u8>,
}

impl Store {
    /// Records a panel (keyed by content hash) and replaces its matches, in one transaction.
    pub async fn record_panel(
        &self,
        source: &str,
        content_hash: &str,
        size: (u32, u32),
        fingerprint: &[u8],
        matches: &[Match],
    ) -> Result<PanelId, StoreError> {
        let mut tx = self.pool().begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO panel (source, content_hash, width, height, fingerprint, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (content_hash) DO UPDATE SET source = $1, fingerprint = $5 RETURNING id",
        )
        .bind(source.to_string())
        .bind(content_hash.to_string())
        .bind(size.0 as i64)
        .bind(size.1 as i64)
        .bind(fingerprint.to_vec())
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM panel_match WHERE panel_id = $1").bind(id).execute(&mut *tx).await?;
        for m in matches {
            sqlx::query(
                "INSERT INTO panel_match (panel_id, acquisition_id, score, r, x0, y0, x1, y1, scale, state, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(id)
            .bind(AcquisitionId(m.id).0)
            .bind(m.score as f64)
            .bind(m.r as f64)
            .bind(m.crop[0] as f64)
            .bind(m.crop[1] as f64)
            .bind(m.crop[2] as f64)
            .bind(m.crop[3] as f64)
            .bind(m.scale as f64)
            .bind(if m.ambiguous { "ambiguous" } else { "auto" })
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(PanelId(id))
    }

    /// Every stored panel.
    pub async fn panels(&self) -> Result<Vec<StoredPanel>, StoreError> {
        Ok(sqlx::query_as("SELECT id, source, fingerprint FROM panel ORDER BY id").fetch_all(self.pool()).await?)
    }
}
