//! `file` rows: the article PDF and supplementary files of each work, the
//! route that named each, and its state; plus the works still to resolve.

use serde::Serialize;
use sqlx::FromRow;

use super::ids::WorkId;
use super::{now, Store, StoreError};
use crate::acquire::outcome::{FileState, Role};
use crate::discover::work::Doi;

/// A work waiting for its files to be looked for.
#[derive(Debug, Clone)]
pub struct WorkToResolve {
    /// Row id.
    pub id: WorkId,
    /// DOI, if known.
    pub doi: Option<Doi>,
    /// Known locations: (url, kind, source).
    pub locations: Vec<(String, String, String)>,
}

/// A file to fetch.
#[derive(Debug, Clone, FromRow)]
pub struct FileToFetch {
    /// Row id.
    pub id: i64,
    /// Article or supplement.
    pub role: String,
    /// URL.
    pub url: String,
    /// Validator of the stored copy (refresh).
    pub etag: Option<String>,
    /// Validator of the stored copy (refresh).
    pub last_modified: Option<String>,
    /// The stored blob (refresh).
    pub blob: Option<String>,
}

/// What fetching a file came to.
#[derive(Debug, Clone, Default)]
pub struct FileResult {
    /// Blob hash.
    pub blob: Option<String>,
    /// Bytes.
    pub bytes: Option<u64>,
    /// Content type served.
    pub content_type: Option<String>,
    /// ETag served.
    pub etag: Option<String>,
    /// Last-Modified served.
    pub last_modified: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A file as `files --json` lists it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct FileRecord {
    /// The work's DOI.
    pub doi: Option<String>,
    /// article or supplement.
    pub role: String,
    /// URL.
    pub url: String,
    /// Route that named it.
    pub route: String,
    /// State.
    pub state: String,
    /// Blob hash.
    pub blob: Option<String>,
    /// Size.
    pub bytes: Option<i64>,
    /// Content type.
    pub content_type: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

impl Store {
    /// Works whose files have not been looked for.
    pub async fn works_to_resolve(&self) -> Result<Vec<WorkToResolve>, StoreError> {
        let works: Vec<(i64, Option<String>)> =
            sqlx::query_as("SELECT id, doi FROM work WHERE resolved_at IS NULL ORDER BY id")
                .fetch_all(self.pool())
                .await?;
        let mut out = Vec::with_capacity(works.len());
        for (id, doi) in works {
            let locations: Vec<(String, String, String)> =
                sqlx::query_as("SELECT url, kind, source FROM work_location WHERE work_id = $1 ORDER BY id")
                    .bind(id)
                    .fetch_all(self.pool())
                    .await?;
            out.push(WorkToResolve { id: WorkId(id), doi: doi.as_deref().and_then(Doi::parse), locations });
        }
        Ok(out)
    }

    /// Records a work's files (new ones pending) and marks it resolved, in one
    /// transaction; returns how many files were new.
    pub async fn record_resolved(
        &self,
        work: WorkId,
        files: &[(Role, String, String)],
        notes: &[String],
    ) -> Result<u32, StoreError> {
        let at = now();
        let mut tx = self.pool().begin().await?;
        let mut new = 0;
        for (role, url, route) in files {
            new += sqlx::query(
                "INSERT INTO file (work_id, role, url, route, state, attempts, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) ON CONFLICT (work_id, url) DO NOTHING",
            )
            .bind(work.0)
            .bind(role.as_str())
            .bind(url.clone())
            .bind(route.clone())
            .bind(at.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected() as u32;
        }
        let notes = (!notes.is_empty()).then(|| notes.join("; "));
        sqlx::query("UPDATE work SET resolved_at = $1, resolve_notes = $2 WHERE id = $3")
            .bind(at)
            .bind(notes)
            .bind(work.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Files in these states, oldest first.
    pub async fn files_in(&self, states: &[FileState]) -> Result<Vec<FileToFetch>, StoreError> {
        let mut out = Vec::new();
        for s in states {
            let rows: Vec<FileToFetch> = sqlx::query_as(
                "SELECT id, role, url, etag, last_modified, blob FROM file WHERE state = $1 ORDER BY id",
            )
            .bind(s.as_str())
            .fetch_all(self.pool())
            .await?;
            out.extend(rows);
        }
        out.sort_by_key(|f| f.id);
        Ok(out)
    }

    /// Leases up to `n` files in `state` for `owner` until `until` (ISO
    /// time), oldest first: files not leased, or whose lease ran out, or
    /// leased by an owner in `dead` (a killed worker on this host). A lease
    /// outlives the file's outcome, so one run takes each file once.
    /// PostgreSQL skips rows another worker is leasing (`FOR UPDATE SKIP
    /// LOCKED`); SQLite serialises writers, which gives the same guarantee.
    pub async fn lease_files(
        &self,
        state: FileState,
        owner: &str,
        dead: &[String],
        n: usize,
        until: &str,
    ) -> Result<Vec<FileToFetch>, StoreError> {
        let mut tx = self.pool().begin().await?;
        for d in dead {
            sqlx::query("UPDATE file SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1")
                .bind(d.clone())
                .execute(&mut *tx)
                .await?;
        }
        let lock = match self.backend() {
            super::Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            super::Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE file SET lease_owner = $1, lease_until = $2 WHERE id IN (SELECT id FROM file WHERE state = $3 \
             AND (lease_until IS NULL OR lease_until < $4) ORDER BY id LIMIT $5 {lock}) \
             RETURNING id, role, url, etag, last_modified, blob"
        );
        let mut rows: Vec<FileToFetch> = sqlx::query_as(&sql)
            .bind(owner.to_string())
            .bind(until.to_string())
            .bind(state.as_str())
            .bind(now())
            .bind(n as i64)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.sort_by_key(|f| f.id);
        Ok(rows)
    }

    /// The owners of live leases.
    pub async fn lease_owners(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT lease_owner FROM file WHERE lease_owner IS NOT NULL AND lease_until >= $1")
                .bind(now())
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Records what fetching a file came to.
    pub async fn finish_file(&self, id: i64, state: FileState, r: &FileResult) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE file SET state = $1, blob = COALESCE($2, blob), bytes = COALESCE($3, bytes), \
             content_type = COALESCE($4, content_type), etag = COALESCE($5, etag), \
             last_modified = COALESCE($6, last_modified), error = $7, attempts = attempts + 1, updated_at = $8 \
             WHERE id = $9",
        )
        .bind(state.as_str())
        .bind(r.blob.clone())
        .bind(r.bytes.map(|b| b as i64))
        .bind(r.content_type.clone())
        .bind(r.etag.clone())
        .bind(r.last_modified.clone())
        .bind(r.error.clone())
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every file with its work's DOI.
    pub async fn files(&self) -> Result<Vec<FileRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT w.doi, f.role, f.url, f.route, f.state, f.blob, f.bytes, f.content_type, f.error \
             FROM file f JOIN work w ON w.id = f.work_id ORDER BY f.id",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
