//! Terminal tables and CSV for the commands' results.

use std::io::{self, Write};

use emtrace::acquire::AcquireSummary;
use emtrace::archive::stats::Stats;
use emtrace::archive::ScanSummary;
use emtrace::discover::DiscoverSummary;
use emtrace::matching::stage::{LookupResult, MatchResult};
use emtrace::store::acquisition::Acquisition;
use emtrace::store::file::FileRecord;
use emtrace::store::work::WorkRecord;

/// Prints one JSON object on its own line.
pub fn json_line<W: Write, T: serde::Serialize>(out: &mut W, item: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, item)?;
    writeln!(out)
}

/// Prints each item: as a JSON line with `json`, else with `text`.
pub fn each<W: Write, T: serde::Serialize>(
    out: &mut W,
    json: bool,
    items: &[T],
    text: impl Fn(&mut W, &T) -> io::Result<()>,
) -> io::Result<()> {
    for item in items {
        if json {
            json_line(out, item)?;
        } else {
            text(out, item)?;
        }
    }
    Ok(())
}

/// Prints rows under headers, columns padded to their widest cell.
pub fn table(out: &mut impl Write, headers: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        let parts: Vec<String> = cells.zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        writeln!(out, "{}", parts.join("  ").trim_end())
    };
    line(out, &mut headers.iter().copied())?;
    for r in rows {
        line(out, &mut r.iter().map(String::as_str))?;
    }
    Ok(())
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_string(), T::to_string)
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string(),
        None => "-".into(),
    }
}

/// The scan summary.
pub fn scan_summary(out: &mut impl Write, s: &ScanSummary) -> io::Result<()> {
    writeln!(out, "scanned {}", s.roots.join(", "))?;
    writeln!(
        out,
        "{} images: {} new, {} changed, {} moved, {} unchanged, {} gone, {} unreadable ({:.1} s, {:.0} files/s)",
        s.seen, s.new, s.updated, s.moved, s.unchanged, s.gone, s.unreadable, s.seconds, s.files_per_second
    )?;
    for e in &s.errors {
        writeln!(out, "  unreadable: {}: {}", e.path, e.error)?;
    }
    if let Some(f) = &s.fingerprints {
        writeln!(
            out,
            "fingerprinted {} ({} without decodable pixels) in {:.1} s",
            f.fingerprinted, f.skipped, f.seconds
        )?;
    }
    Ok(())
}

fn rect(c: &[f32; 4]) -> String {
    format!("[{:.0}, {:.0}, {:.0}, {:.0}]", c[0], c[1], c[2], c[3])
}

/// The note on a match that another frame verifies as well as.
fn undecided(ambiguous: bool) -> &'static str {
    if ambiguous {
        " (undecided: another frame listed verifies as well)"
    } else {
        ""
    }
}

/// One `match` input.
pub fn match_result(out: &mut impl Write, r: &MatchResult) -> io::Result<()> {
    let input = r.input.display();
    if let Some(e) = &r.error {
        return writeln!(out, "{input}: error: {e}");
    }
    if r.matches.is_empty() {
        return writeln!(out, "{input}: no match");
    }
    for m in &r.matches {
        writeln!(
            out,
            "{input}: {} (acquisition {}), score {:.1}, crop {}, scale {:.3}{}",
            m.archive_path,
            m.acquisition_id,
            m.score,
            rect(&m.crop),
            m.scale,
            undecided(m.ambiguous)
        )?;
    }
    Ok(())
}

/// One `lookup` image.
pub fn lookup_result(out: &mut impl Write, r: &LookupResult) -> io::Result<()> {
    let image = r.image.display();
    if let Some(e) = &r.error {
        return writeln!(out, "{image}: error: {e}");
    }
    if r.panels.is_empty() {
        return writeln!(out, "{image}: in no stored panel");
    }
    for p in &r.panels {
        writeln!(
            out,
            "{image}: panel {} ({}), score {:.1}, crop {}, scale {:.3}{}",
            p.panel_id,
            p.source,
            p.score,
            rect(&p.crop),
            p.scale,
            undecided(p.ambiguous)
        )?;
    }
    Ok(())
}

/// The acquisition list.
pub fn acquisitions(out: &mut impl Write, rows: &[Acquisition]) -> io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.path.clone(),
                r.instrument.clone().unwrap_or_else(|| r.vendor.clone()),
                opt(&r.modality),
                opt(&r.detector),
                opt(&r.acquired_at),
                num(r.pixel_size_nm),
                num(r.magnification),
                match (r.width, r.height) {
                    (Some(w), Some(h)) => format!("{w}×{h}"),
                    _ => "-".into(),
                },
                opt(&r.databar_rows),
                opt(&r.user_name),
                r.state.clone(),
            ]
        })
        .collect();
    table(
        out,
        &["path", "instrument", "mod", "detector", "acquired", "nm/px", "mag", "size", "bar", "user", "state"],
        &cells,
    )
}

/// The statistics as terminal tables.
pub fn stats(out: &mut impl Write, s: &Stats) -> io::Result<()> {
    writeln!(out, "{} images on disk ({} unreadable), {} gone\n", s.images, s.unreadable, s.gone)?;
    let pair = |v: &[emtrace::archive::stats::Pair]| {
        v.iter().map(|p| vec![p.a.clone(), p.b.clone(), p.images.to_string()]).collect::<Vec<_>>()
    };
    let count = |v: &[emtrace::archive::stats::Count]| {
        v.iter().map(|c| vec![c.key.clone(), c.images.to_string()]).collect::<Vec<_>>()
    };
    table(out, &["year", "modality", "images"], &pair(&s.by_year_modality))?;
    writeln!(out)?;
    table(out, &["instrument", "images"], &count(&s.by_instrument))?;
    writeln!(out)?;
    table(out, &["detector", "images"], &count(&s.by_detector))?;
    writeln!(out)?;
    table(out, &["user", "project", "images"], &pair(&s.by_user_project))?;
    writeln!(out)?;
    table(out, &["scale bar (10% of FOV)", "images"], &count(&s.scale_bar))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The statistics as one CSV: table, key, key2, images.
pub fn stats_csv(out: &mut impl Write, s: &Stats) -> io::Result<()> {
    writeln!(out, "table,key,key2,images")?;
    for p in &s.by_year_modality {
        writeln!(out, "year_modality,{},{},{}", csv_field(&p.a), csv_field(&p.b), p.images)?;
    }
    for (name, v) in [("instrument", &s.by_instrument), ("detector", &s.by_detector), ("scale_bar", &s.scale_bar)] {
        for c in v {
            writeln!(out, "{name},{},,{}", csv_field(&c.key), c.images)?;
        }
    }
    for p in &s.by_user_project {
        writeln!(out, "user_project,{},{},{}", csv_field(&p.a), csv_field(&p.b), p.images)?;
    }
    Ok(())
}

/// One extracted file: a summary line, then one line per image.
pub fn extraction(out: &mut impl Write, x: &emtrace::extract::Extraction) -> io::Result<()> {
    let kind = serde_json::to_value(x.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let failed = x.images.iter().filter(|i| i.error.is_some()).count();
    write!(out, "{}: {kind}, {} images", x.file.display(), x.images.len())?;
    if failed > 0 {
        write!(out, " ({failed} not decoded)")?;
    }
    match &x.error {
        Some(e) => writeln!(out, ", error: {e}")?,
        None => writeln!(out)?,
    }
    for i in &x.images {
        let page = i.page.map_or_else(String::new, |p| format!("page {p} "));
        write!(out, "  {} {page}{}×{} {} {}", i.id, i.width, i.height, i.colorspace, i.encoding)?;
        if let Some(p) = &i.png {
            write!(out, " → {}", p.display())?;
        }
        match &i.error {
            Some(e) => writeln!(out, " error: {e}")?,
            None => writeln!(out)?,
        }
    }
    for m in &x.members {
        writeln!(out, "  {}: error: {}", m.member, m.error)?;
    }
    Ok(())
}

/// The per-source table of a discovery run, then its failures.
pub fn discover_summary(out: &mut impl Write, s: &DiscoverSummary) -> io::Result<()> {
    let rows: Vec<Vec<String>> = s
        .sources
        .iter()
        .map(|x| {
            vec![
                x.source.clone(),
                format!("{}/{}", x.completed, x.queries),
                x.requests.to_string(),
                x.found.to_string(),
                x.new_works.to_string(),
                x.new_evidence.to_string(),
                x.new_locations.to_string(),
                x.errors.len().to_string(),
            ]
        })
        .collect();
    table(
        out,
        &["source", "queries done", "requests", "found", "new works", "new evidence", "new OA links", "errors"],
        &rows,
    )?;
    writeln!(out, "{} works in the store", s.works)?;
    for x in &s.sources {
        if let Some(why) = &x.stopped {
            writeln!(out, "{} stopped: {why}", x.source)?;
        }
        for e in &x.errors {
            writeln!(out, "{} failed: {e}", x.source)?;
        }
    }
    Ok(())
}

/// The works, one line each: DOI, year, sources, title.
pub fn works(out: &mut impl Write, works: &[WorkRecord]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = works
        .iter()
        .map(|w| {
            let mut sources: Vec<&str> = w.evidence.iter().map(|e| e.source.as_str()).collect();
            sources.dedup();
            let title: String = w.title.as_deref().unwrap_or("-").chars().take(80).collect();
            vec![opt(&w.doi), opt(&w.year), sources.join(","), title]
        })
        .collect();
    table(out, &["doi", "year", "found by", "title"], &rows)?;
    writeln!(out, "{} works", works.len())
}

/// What an acquire run did.
pub fn acquire_summary(out: &mut impl Write, s: &AcquireSummary) -> io::Result<()> {
    writeln!(
        out,
        "works resolved: {} ({} new files, {} route failures noted)",
        s.works_resolved, s.new_files, s.route_notes
    )?;
    if s.recovered > 0 {
        writeln!(out, "recovered from an interrupted run: {}", s.recovered)?;
    }
    let rows: Vec<Vec<String>> = s.states.iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect();
    table(out, &["state", "files"], &rows)?;
    if s.unchanged > 0 {
        writeln!(out, "unchanged on refresh: {}", s.unchanged)?;
    }
    writeln!(out, "{:.1} MB stored", s.bytes as f64 / 1e6)
}

/// The files, one line each.
pub fn files(out: &mut impl Write, files: &[FileRecord]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|f| vec![opt(&f.doi), f.role.clone(), f.state.clone(), f.route.clone(), opt(&f.bytes), f.url.clone()])
        .collect();
    table(out, &["doi", "role", "state", "route", "bytes", "url"], &rows)?;
    writeln!(out, "{} files", files.len())
}
