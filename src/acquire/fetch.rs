//! Downloading one file to the blob store: politeness first, then a GET
//! (with `Range` to resume a part left by an interrupted run, or with
//! `If-None-Match` / `If-Modified-Since` to refresh a stored copy), the
//! response read into a state, the body streamed to `tmp/<id>.part` under the
//! size cap and checked against what the role promises.

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::outcome::{from_status, is_challenge, type_fits, FileState, Role};
use super::Ctx;
use crate::http::{Request, Url};
use crate::store::file::{FileResult, FileToFetch};

/// How a fetch ended.
#[derive(Debug)]
pub enum Fetched {
    /// The body is complete in `tmp/<id>.done`.
    Done(FileResult),
    /// 304: the stored copy is current.
    Unchanged,
    /// Anything else, with its reason.
    Failed(FileState, String),
}

/// Response headers kept beside a part, so a resumed or crash-recovered
/// download keeps its validators and type.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PartMeta {
    /// Content-Type.
    pub content_type: Option<String>,
    /// ETag.
    pub etag: Option<String>,
    /// Last-Modified.
    pub last_modified: Option<String>,
}

/// The headers saved with a part.
pub fn read_meta(ctx: &Ctx, id: i64) -> PartMeta {
    std::fs::read(ctx.blobs.meta(id)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn fail(ctx: &Ctx, id: i64, state: FileState, why: impl Into<String>) -> Fetched {
    ctx.blobs.discard(id);
    Fetched::Failed(state, why.into())
}

/// Fetches a file; `refresh` sends the stored copy's validators.
pub async fn fetch(ctx: &Ctx, f: &FileToFetch, refresh: bool) -> Fetched {
    let Ok(url) = Url::parse(&f.url) else { return Fetched::Failed(FileState::Error, format!("bad URL {:?}", f.url)) };
    let role = if f.role == "article" { Role::Article } else { Role::Supplement };
    if let Err(state) = ctx.polite.check(&ctx.http, &url).await {
        return fail(ctx, f.id, state, format!("{state} for {}", url.host_str().unwrap_or("")));
    }
    let part = ctx.blobs.part(f.id);
    let have = if refresh { 0 } else { std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) };
    let saved = read_meta(ctx, f.id);
    let mut req = Request::get(url);
    if have > 0 {
        req.headers.push(("range", format!("bytes={have}-")));
        if let Some(tag) = saved.etag.clone().or(saved.last_modified.clone()) {
            req.headers.push(("if-range", tag));
        }
    } else if refresh {
        if let Some(tag) = &f.etag {
            req.headers.push(("if-none-match", tag.clone()));
        }
        if let Some(lm) = &f.last_modified {
            req.headers.push(("if-modified-since", lm.clone()));
        }
    }
    let mut resp = match ctx.http.open(&req).await {
        Ok(r) => r,
        Err(e) => return Fetched::Failed(FileState::Error, e.to_string()),
    };
    let status = resp.status.as_u16();
    if status == 304 {
        return Fetched::Unchanged;
    }
    let header = |name: &str| resp.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    if header("tdm-reservation").is_some_and(|v| v.trim() == "1") {
        return fail(
            ctx,
            f.id,
            FileState::TdmReserved,
            format!("tdm-reservation: 1 (policy {})", header("tdm-policy").unwrap_or("-".into())),
        );
    }
    let resumed = status == 206 && have > 0;
    let meta = if resumed {
        saved
    } else {
        PartMeta { content_type: header("content-type"), etag: header("etag"), last_modified: header("last-modified") }
    };
    let mitigated = header("cf-mitigated");
    if !resp.status.is_success() {
        let mut head = Vec::new();
        while head.len() < 64 * 1024 {
            match resp.chunk().await {
                Ok(Some(c)) => head.extend_from_slice(&c),
                _ => break,
            }
        }
        if is_challenge(status, mitigated.as_deref(), &head) {
            return fail(ctx, f.id, FileState::Challenge, format!("anti-bot challenge (HTTP {status}), not answered"));
        }
        let state = from_status(status).unwrap_or(FileState::Error);
        return fail(ctx, f.id, state, format!("HTTP {status}"));
    }
    let start = if resumed { have } else { 0 };
    if resp.content_length().is_some_and(|n| start + n > ctx.max_bytes) {
        return fail(
            ctx,
            f.id,
            FileState::TooLarge,
            format!("{} bytes announced, cap {}", start + resp.content_length().unwrap_or(0), ctx.max_bytes),
        );
    }
    if let Ok(b) = serde_json::to_vec(&meta) {
        let _ = std::fs::write(ctx.blobs.meta(f.id), b);
    }
    let file = std::fs::OpenOptions::new().create(true).append(resumed).write(true).truncate(!resumed).open(&part);
    let mut file = match file {
        Ok(f) => f,
        Err(e) => return Fetched::Failed(FileState::Error, format!("{}: {e}", part.display())),
    };
    let mut written = start;
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                written += c.len() as u64;
                if written > ctx.max_bytes {
                    return fail(
                        ctx,
                        f.id,
                        FileState::TooLarge,
                        format!("more than the cap of {} bytes", ctx.max_bytes),
                    );
                }
                if let Err(e) = file.write_all(&c) {
                    return Fetched::Failed(FileState::Error, format!("{}: {e}", part.display()));
                }
            }
            Ok(None) => break,
            // The part stays: the next run resumes it.
            Err(e) => return Fetched::Failed(FileState::Pending, e.to_string()),
        }
    }
    if let Err(e) = file.sync_all() {
        return Fetched::Failed(FileState::Error, format!("{}: {e}", part.display()));
    }
    drop(file);
    let mut head = vec![0u8; 64 * 1024];
    let n = std::fs::File::open(&part).and_then(|mut fh| std::io::Read::read(&mut fh, &mut head)).unwrap_or(0);
    head.truncate(n);
    if is_challenge(status, mitigated.as_deref(), &head) {
        return fail(ctx, f.id, FileState::Challenge, "anti-bot challenge page, not answered");
    }
    if !type_fits(role, &head) {
        let got = crate::extract::sniff::sniff(&head);
        return fail(
            ctx,
            f.id,
            FileState::WrongType,
            format!(
                "{} expected, got {got:?} ({})",
                if role == Role::Article { "PDF" } else { "a file" },
                meta.content_type.as_deref().unwrap_or("no content type")
            ),
        );
    }
    match ctx.blobs.finish(f.id) {
        Ok(_) => Fetched::Done(FileResult {
            content_type: meta.content_type,
            etag: meta.etag,
            last_modified: meta.last_modified,
            ..Default::default()
        }),
        Err(e) => Fetched::Failed(FileState::Error, format!("finishing {}: {e}", part.display())),
    }
}
