//! `work`, `evidence`, `work_location` and `discover_mark` rows: what
//! discovery found, why, where open copies are, and how far each source query
//! has read.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::FromRow;

use super::ids::WorkId;
use super::{now, Store, StoreError};
use crate::discover::work::{Doi, Evidence, Found, Location};

/// What recording one found work changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The work's row.
    pub work: WorkId,
    /// The work was not known before.
    pub new_work: bool,
    /// This source and query had not found it before.
    pub new_evidence: bool,
    /// Locations not known before.
    pub new_locations: u32,
}

#[derive(Debug, FromRow)]
struct WorkRow {
    id: i64,
    doi: Option<String>,
    title: Option<String>,
    year: Option<i64>,
    journal: Option<String>,
    authors: String,
}

#[derive(Debug, FromRow)]
struct EvidenceRow {
    work_id: i64,
    source: String,
    query: String,
    snippet: Option<String>,
}

#[derive(Debug, FromRow)]
struct LocationRow {
    work_id: i64,
    url: String,
    kind: String,
    source: String,
}

/// A location as `works` lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WorkLocation {
    /// URL.
    pub url: String,
    /// pdf, landing or text_mining.
    pub kind: String,
    /// Who named it.
    pub source: String,
}

/// A work with everything known about it: the `works --json` line.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WorkRecord {
    /// Row id.
    #[serde(skip)]
    pub id: WorkId,
    /// Normalised DOI.
    pub doi: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Publication year.
    pub year: Option<i64>,
    /// Journal.
    pub journal: Option<String>,
    /// Authors in order.
    pub authors: Vec<String>,
    /// Every source and query that found it.
    pub evidence: Vec<Evidence>,
    /// Open copies.
    pub locations: Vec<WorkLocation>,
}

impl Store {
    /// Records a found work, its evidence and locations in one transaction:
    /// one row per DOI (a title-keyed row found earlier takes the DOI when it
    /// arrives), missing fields filled, evidence once per source and query.
    /// `None` for a record with neither DOI nor title.
    pub async fn record_found(&self, f: &Found) -> Result<Option<Recorded>, StoreError> {
        let Some(key) = f.work.key() else { return Ok(None) };
        let at = now();
        let mut tx = self.pool().begin().await?;
        let mut id: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM work WHERE key = $1").bind(key.clone()).fetch_optional(&mut *tx).await?;
        let mut new_work = false;
        if id.is_none() {
            if let (Some(doi), Some(tkey)) = (&f.work.doi, f.work.title_key()) {
                id = sqlx::query_as("UPDATE work SET key = $1, doi = $2 WHERE key = $3 RETURNING id")
                    .bind(key.clone())
                    .bind(doi.as_str().to_string())
                    .bind(tkey)
                    .fetch_optional(&mut *tx)
                    .await?;
            }
        }
        let id = match id {
            Some((id,)) => id,
            None => {
                new_work = true;
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO work (key, doi, authors, created_at, updated_at) VALUES ($1, $2, '[]', $3, $3) RETURNING id",
                )
                .bind(key)
                .bind(f.work.doi.as_ref().map(|d| d.as_str().to_string()))
                .bind(at.clone())
                .fetch_one(&mut *tx)
                .await?;
                id
            }
        };
        let authors = serde_json::to_string(&f.work.authors).expect("a list of strings serialises");
        sqlx::query(
            "UPDATE work SET title = COALESCE(title, $2), year = COALESCE(year, $3), journal = COALESCE(journal, $4), \
             kind = COALESCE(kind, $5), authors = CASE WHEN authors = '[]' THEN $6 ELSE authors END, updated_at = $7 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(f.work.title.clone())
        .bind(f.work.year.map(i64::from))
        .bind(f.work.journal.clone())
        .bind(f.work.kind.clone())
        .bind(authors)
        .bind(at.clone())
        .execute(&mut *tx)
        .await?;
        let e = &f.evidence;
        let new_evidence = sqlx::query(
            "INSERT INTO evidence (work_id, source, query, snippet, found_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (work_id, source, query) DO NOTHING",
        )
        .bind(id)
        .bind(e.source.clone())
        .bind(e.query.clone())
        .bind(e.snippet.clone())
        .bind(at.clone())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        let new_locations = insert_locations(&mut tx, id, &f.locations, &at).await?;
        tx.commit().await?;
        Ok(Some(Recorded { work: WorkId(id), new_work, new_evidence, new_locations }))
    }

    /// Works with a DOI that Unpaywall has not been asked about.
    pub async fn works_needing_oa(&self) -> Result<Vec<(WorkId, Doi)>, StoreError> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, doi FROM work WHERE doi IS NOT NULL AND oa_checked_at IS NULL ORDER BY id")
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().filter_map(|(id, d)| Some((WorkId(id), Doi::parse(&d)?))).collect())
    }

    /// Records a work's open-access locations and marks it checked; returns the new ones.
    pub async fn record_oa(&self, work: WorkId, locations: &[Location]) -> Result<u32, StoreError> {
        let at = now();
        let mut tx = self.pool().begin().await?;
        let n = insert_locations(&mut tx, work.0, locations, &at).await?;
        sqlx::query("UPDATE work SET oa_checked_at = $1 WHERE id = $2").bind(at).bind(work.0).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The day a source query last read to its end (`YYYY-MM-DD`).
    pub async fn high_water(&self, source: &str, query: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT high_water FROM discover_mark WHERE source = $1 AND query = $2")
                .bind(source.to_string())
                .bind(query.to_string())
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| r.0))
    }

    /// Moves a source query's high-water mark.
    pub async fn set_high_water(&self, source: &str, query: &str, day: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO discover_mark (source, query, high_water, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (source, query) DO UPDATE SET high_water = $3, updated_at = $4",
        )
        .bind(source.to_string())
        .bind(query.to_string())
        .bind(day.to_string())
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every work with its evidence and locations, in discovery order.
    pub async fn works(&self) -> Result<Vec<WorkRecord>, StoreError> {
        let works: Vec<WorkRow> = sqlx::query_as("SELECT id, doi, title, year, journal, authors FROM work ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        let evidence: Vec<EvidenceRow> =
            sqlx::query_as("SELECT work_id, source, query, snippet FROM evidence ORDER BY work_id, id")
                .fetch_all(self.pool())
                .await?;
        let locations: Vec<LocationRow> =
            sqlx::query_as("SELECT work_id, url, kind, source FROM work_location ORDER BY work_id, id")
                .fetch_all(self.pool())
                .await?;
        let mut evidence_of: HashMap<i64, Vec<Evidence>> = HashMap::new();
        for e in evidence {
            evidence_of.entry(e.work_id).or_default().push(Evidence {
                source: e.source,
                query: e.query,
                snippet: e.snippet,
            });
        }
        let mut locations_of: HashMap<i64, Vec<WorkLocation>> = HashMap::new();
        for l in locations {
            locations_of.entry(l.work_id).or_default().push(WorkLocation {
                url: l.url,
                kind: l.kind,
                source: l.source,
            });
        }
        Ok(works
            .into_iter()
            .map(|w| WorkRecord {
                id: WorkId(w.id),
                doi: w.doi,
                title: w.title,
                year: w.year,
                journal: w.journal,
                authors: serde_json::from_str(&w.authors).unwrap_or_default(),
                evidence: evidence_of.remove(&w.id).unwrap_or_default(),
                locations: locations_of.remove(&w.id).unwrap_or_default(),
            })
            .collect())
    }
}

async fn insert_locations(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    work: i64,
    locations: &[Location],
    at: &str,
) -> Result<u32, StoreError> {
    let mut n = 0;
    for l in locations {
        n += sqlx::query(
            "INSERT INTO work_location (work_id, url, kind, source, license, version, content_type, found_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (work_id, url) DO NOTHING",
        )
        .bind(work)
        .bind(l.url.clone())
        .bind(l.kind.as_str())
        .bind(l.source.clone())
        .bind(l.license.clone())
        .bind(l.version.clone())
        .bind(l.content_type.clone())
        .bind(at.to_string())
        .execute(&mut **tx)
        .await?
        .rows_affected() as u32;
    }
    Ok(n)
}
