//! Acquisition against a loopback server that serves the recorded publisher
//! landing pages (../shared/data/landing), the recorded Europe PMC full text,
//! real journal PDFs (../shared/data/pdfs/articles) and API answers written
//! in the real shapes; every route, every outcome state, refresh, and a run
//! killed with SIGKILL and restarted.

mod util;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use emtrace::discover::work::{Doi, Evidence, Found, Location, LocationKind, WorkMeta};
use serde_json::{json, Value};
use util::replay::{Replay, Reply};
use util::{assert_spaced, backends, emtrace, json_lines, shared};

fn pdf(name: &str) -> Vec<u8> {
    std::fs::read(shared(&format!("pdfs/articles/{name}")).unwrap()).unwrap()
}

/// A ZIP of supplementary files, as publishers ship them (made here).
fn zip_of(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        z.write_all(bytes).unwrap();
        z.finish().unwrap();
    }
    buf.into_inner()
}

fn found(doi: &str, locations: &[(&str, LocationKind, &str)]) -> Found {
    Found {
        work: WorkMeta {
            doi: Doi::parse(doi),
            title: Some(format!("Work {doi}")),
            year: Some(2021),
            ..Default::default()
        },
        evidence: Evidence { source: "test".into(), query: "test".into(), snippet: None },
        locations: locations
            .iter()
            .map(|(u, k, s)| Location {
                url: u.to_string(),
                kind: *k,
                source: s.to_string(),
                license: None,
                version: None,
                content_type: None,
            })
            .collect(),
    }
}

/// A profile pointing every acquire source at the server (API limits high,
/// so that the host's limit is the one `acquire --host-rate` sets when the
/// sources are off).
fn profile(dir: &Path, server: &Replay, sources_on: bool) -> PathBuf {
    let mut text = String::from("contact_email = \"librarian@example.org\"\n");
    for name in ["doi", "crossref", "europepmc", "figshare", "datacite"] {
        // The resolver under /resolver, so that publisher pages keep their own root paths.
        let path = if name == "doi" { "resolver" } else { name };
        text.push_str(&format!(
            "[sources.{name}]\nbase_url = \"{}/{path}\"\nenabled = {sources_on}\nlimits = {{ requests = 100, per_seconds = 1.0, concurrency = 4 }}\n",
            server.url()
        ));
        if name == "europepmc" {
            text.push_str(&format!("file_url = \"{}/epmc-bin/{{pmcid}}/{{name}}\"\n", server.url()));
        }
    }
    let p = dir.join("profile.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn acquire(dir: &Path, db: &str, profile: &Path, args: &[&str]) -> Value {
    let out = emtrace(dir)
        .args(["--db", db, "--config"])
        .arg(profile)
        .args(["--json", "-q", "acquire", "--blobs"])
        .arg(dir.join("blobs"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    json_lines(&out.stdout).pop().unwrap()
}

fn files(dir: &Path, db: &str) -> Vec<Value> {
    let out = emtrace(dir).args(["--db", db, "--json", "files"]).output().unwrap();
    assert!(out.status.success());
    json_lines(&out.stdout)
}

/// A folder per backend, and a fresh server.
fn workdir(tmp: &Path, backend: &str) -> (PathBuf, Replay) {
    let dir = tmp.join(backend);
    std::fs::create_dir_all(&dir).unwrap();
    (dir, Replay::start())
}

/// One work whose open-access PDFs are the real articles `names`, served
/// slowly (`piece` bytes every `pause`); returns the bodies.
async fn paced_work(db: &util::TestDb, server: &Replay, names: &[&str], piece: usize, pause: Duration) -> Vec<Vec<u8>> {
    let bodies: Vec<Vec<u8>> = names.iter().map(|n| pdf(n)).collect();
    for (n, body) in names.iter().zip(&bodies) {
        server.route(
            "GET",
            &format!("/oa/{n}"),
            &[],
            vec![Reply::file(body.clone(), "application/pdf").paced(piece, pause)],
        );
    }
    let store = db.open().await;
    let locs: Vec<String> = names.iter().map(|n| format!("{}/oa/{n}", server.url())).collect();
    let refs: Vec<(&str, LocationKind, &str)> =
        locs.iter().map(|u| (u.as_str(), LocationKind::Pdf, "unpaywall")).collect();
    store.record_found(&found("10.5555/paced", &refs)).await.unwrap();
    store.close().await;
    bodies
}

/// `emtrace acquire` started in the background.
fn spawn_acquire(dir: &Path, db: &str, profile: &Path, args: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("emtrace"))
        .current_dir(dir)
        .args(["--db", db, "--config"])
        .arg(profile)
        .args(["-q", "--json", "acquire", "--blobs"])
        .arg(dir.join("blobs"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn blob_path(dir: &Path, hash: &str) -> PathBuf {
    dir.join("blobs").join(&hash[..2]).join(&hash[2..])
}

#[tokio::test]
async fn every_route_resolves_and_every_state_is_recorded() {
    let Some(landing) = shared("landing") else { return };
    let Some(epmc) = shared("api/europepmc_openalex_pygetpapers/test/PMC7924871/fulltext.xml") else { return };
    let tmp = tempfile::tempdir().unwrap();
    for db in backends(tmp.path()).await {
        let (dir, server) = workdir(tmp.path(), db.backend);
        let s = server.url().to_string();
        let (pdf_a, pdf_b, pdf_c, pdf_d) =
            (pdf("PMC7808740.pdf"), pdf("PMC7901693.pdf"), pdf("PMC7971952.pdf"), pdf("PMC7966905.pdf"));
        let si_zip = zip_of("si.pdf", &pdf_b);

        server.route(
            "GET",
            "/robots.txt",
            &[],
            vec![Reply::status(200, "User-agent: *\nDisallow: /private/\n").header("content-type", "text/plain")],
        );
        let tdmrep =
            json!([{"location": "/tdm/*", "tdm-reservation": 1, "tdm-policy": "https://example.org/tdm-policy.json"}]);
        server.route("GET", "/.well-known/tdmrep.json", &[], vec![Reply::json(tdmrep.to_string())]);

        // Nature: the recorded landing page, its hosts mapped to this server.
        let page = std::fs::read_to_string(landing.join("exsclaim_nature_articles/ncomms6634.html"))
            .unwrap()
            .replace("https://www.nature.com", &s)
            .replace("https://static-content.springer.com", &format!("{s}/springer"));
        server.route("GET", "/resolver/10.1038/ncomms6634", &[], vec![Reply::redirect("/articles/ncomms6634")]);
        server.route(
            "GET",
            "/articles/ncomms6634",
            &[],
            vec![Reply::status(200, page).header("content-type", "text/html")],
        );
        server.route("GET", "/articles/ncomms6634.pdf", &[], vec![Reply::file(pdf_a.clone(), "application/pdf")]);
        let esm = "/springer/esm/art%3A10.1038%2Fncomms6634/MediaObjects/41467_2014_BFncomms6634_MOESM1184_ESM.pdf";
        server.route("GET", esm, &[], vec![Reply::file(pdf_b.clone(), "application/pdf")]);
        server.route("GET", "/xml/ncomms6634.pdf", &[], vec![Reply::file(pdf_a.clone(), "application/pdf")]);
        // DataCite: a dataset that is a supplement to the Nature paper.
        let dc = json!({"data": [{"id": "10.5061/dryad.test", "type": "dois", "attributes": {"doi": "10.5061/dryad.test",
            "contentUrl": [format!("{s}/datacite-files/data.zip")],
            "relatedIdentifiers": [{"relatedIdentifier": "10.1038/ncomms6634", "relatedIdentifierType": "DOI", "relationType": "IsSupplementTo"}]}}]});
        server.route("GET", "/datacite/dois", &[], vec![Reply::json(dc.to_string())]);
        server.route("GET", "/datacite-files/data.zip", &[], vec![Reply::file(si_zip.clone(), "application/zip")]);

        // ACS: the recorded landing page (its host mapped to this server);
        // component DOIs in Crossref; a Figshare item.
        let page = std::fs::read_to_string(
            landing.join("chemdataextractor2_publisher_pages/tests/data/acs/acs.jmedchem.6b00723.html"),
        )
        .unwrap()
        .replace("http://pubs.acs.org", &s);
        server.route(
            "GET",
            "/resolver/10.1021/acs.jmedchem.6b00723",
            &[],
            vec![Reply::redirect("/doi/10.1021/acs.jmedchem.6b00723")],
        );
        server.route(
            "GET",
            "/doi/10.1021/acs.jmedchem.6b00723",
            &[],
            vec![Reply::status(200, page).header("content-type", "text/html")],
        );
        server.route(
            "GET",
            "/doi/pdf/10.1021/acs.jmedchem.6b00723",
            &[],
            vec![Reply::file(pdf_c.clone(), "application/pdf")],
        );
        let si = "/doi/suppl/10.1021/acs.jmedchem.6b00723/suppl_file/jm6b00723_si_001.pdf";
        server.route("GET", si, &[], vec![Reply::file(pdf_b.clone(), "application/pdf")]);
        let csv = "/doi/suppl/10.1021/acs.jmedchem.6b00723/suppl_file/jm6b00723_si_002.csv";
        let table = b"compound,IC50_nM\n1,12.5\n2,430\n".to_vec();
        server.route("GET", csv, &[], vec![Reply::file(table.clone(), "text/csv")]);
        let component = |n: u32, url: String| {
            json!({"status": "ok", "message-type": "work", "message-version": "1.0.0", "message": {
                "DOI": format!("10.1021/acs.jmedchem.6b00723.s00{n}"), "type": "component",
                "URL": format!("http://dx.doi.org/10.1021/acs.jmedchem.6b00723.s00{n}"),
                "resource": {"primary": {"URL": url}}}})
            .to_string()
        };
        server.route(
            "GET",
            "/crossref/works/10.1021/acs.jmedchem.6b00723.s001",
            &[],
            vec![Reply::json(component(1, format!("{s}{si}")))],
        );
        let si2 = "/doi/suppl/10.1021/acs.jmedchem.6b00723/suppl_file/jm6b00723_si_003.zip";
        server.route(
            "GET",
            "/crossref/works/10.1021/acs.jmedchem.6b00723.s002",
            &[],
            vec![Reply::json(component(2, format!("{s}{si2}")))],
        );
        server.route("GET", si2, &[], vec![Reply::file(si_zip.clone(), "application/zip")]);
        let item = json!([{"id": 5555, "title": "Supporting information", "resource_doi": "10.1021/acs.jmedchem.6b00723",
            "url_public_api": format!("{s}/figshare/v2/articles/5555")}]);
        server.route("POST", "/figshare/v2/articles/search", &[], vec![Reply::json(item.to_string())]);
        let files_of = json!({"id": 5555, "files": [{"id": 77, "name": "si.pdf", "size": pdf_d.len(), "download_url": format!("{s}/figshare-files/77")}]});
        server.route("GET", "/figshare/v2/articles/5555", &[], vec![Reply::json(files_of.to_string())]);
        server.route("GET", "/figshare-files/77", &[], vec![Reply::file(pdf_d.clone(), "application/pdf")]);

        // Europe PMC: search by DOI, the recorded full text, its supplementary file and ZIP.
        let lite = json!({"hitCount": 1, "resultList": {"result": [{"id": "33672247", "pmcid": "PMC7924871", "doi": "10.3390/ijerph18042086"}]}});
        server.route(
            "GET",
            "/europepmc/search",
            &[("query", "DOI:\"10.3390/ijerph18042086\"")],
            vec![Reply::json(lite.to_string())],
        );
        server.route(
            "GET",
            "/europepmc/PMC7924871/fullTextXML",
            &[],
            vec![Reply::status(200, std::fs::read(&epmc).unwrap()).header("content-type", "application/xml")],
        );
        server.route(
            "GET",
            "/epmc-bin/PMC7924871/ijerph-18-02086-s001.zip",
            &[],
            vec![Reply::file(zip_of("s001.pdf", &pdf_d), "application/zip")],
        );
        server.route(
            "GET",
            "/europepmc/PMC7924871/supplementaryFiles",
            &[],
            vec![Reply::file(si_zip.clone(), "application/zip")],
        );

        // One work whose open-access links end in every other state.
        // The real "PDF" a downloader saved from PNAS: Cloudflare's challenge page.
        let cloudflare = pdf("10.1073_pnas.2307803120.pdf");
        // A real publisher page where a PDF was expected.
        let html =
            std::fs::read(landing.join("chemdataextractor2_publisher_pages/tests/data/rsc/10.1039_C6OB02074G.html"))
                .unwrap();
        let mut huge = b"%PDF-1.7\n".to_vec();
        huge.resize(3_000_000, b' ');
        let states: Vec<(&str, Reply)> = vec![
            ("/oa/good.pdf", Reply::file(pdf_a.clone(), "application/pdf")),
            ("/oa/missing.pdf", Reply::status(404, "<html><body>Not found</body></html>")),
            (
                "/oa/paywalled.pdf",
                Reply::status(403, "<html><body>Subscribe to read this article</body></html>")
                    .header("content-type", "text/html"),
            ),
            (
                "/oa/challenge.pdf",
                Reply::status(403, cloudflare).header("content-type", "text/html").header("server", "cloudflare"),
            ),
            ("/private/a.pdf", Reply::file(pdf_a.clone(), "application/pdf")),
            ("/tdm/a.pdf", Reply::file(pdf_a.clone(), "application/pdf")),
            ("/oa/tdm-header.pdf", Reply::file(pdf_c.clone(), "application/pdf").header("tdm-reservation", "1")),
            ("/oa/huge.pdf", Reply::file(huge, "application/pdf")),
            ("/oa/page.pdf", Reply::status(200, html).header("content-type", "application/pdf")),
            (
                "/oa/challenge-200.pdf",
                Reply::status(200, pdf("10.1073_pnas.2307803120.pdf")).header("content-type", "text/html"),
            ),
            ("/oa/bad.pdf", Reply::status(400, "bad request")),
        ];
        let locs: Vec<String> = states.iter().map(|(p, _)| format!("{s}{p}")).collect();
        for (path, reply) in states {
            server.route("GET", path, &[], vec![reply]);
        }

        let store = db.open().await;
        let nature = found(
            "10.1038/ncomms6634",
            &[
                (&format!("{s}/articles/ncomms6634.pdf"), LocationKind::Pdf, "openalex"),
                (&format!("{s}/xml/ncomms6634.pdf"), LocationKind::TextMining, "crossref"),
            ],
        );
        store.record_found(&nature).await.unwrap();
        store.record_found(&found("10.1021/acs.jmedchem.6b00723", &[])).await.unwrap();
        store.record_found(&found("10.3390/ijerph18042086", &[])).await.unwrap();
        let loc_refs: Vec<(&str, LocationKind, &str)> =
            locs.iter().map(|u| (u.as_str(), LocationKind::Pdf, "unpaywall")).collect();
        store.record_found(&found("10.5555/states", &loc_refs)).await.unwrap();
        store.close().await;

        let profile = profile(&dir, &server, true);
        let summary = acquire(&dir, &db.url, &profile, &["--max-bytes", "2000000", "--host-rate", "100"]);
        assert_eq!(summary["works_resolved"], 4, "{summary}");
        let rows = files(&dir, &db.url);
        for r in &rows {
            for key in ["doi", "role", "url", "route", "state", "blob", "bytes", "content_type"] {
                assert!(r.get(key).is_some(), "{key} missing: {r}");
            }
        }
        let state_of = |url: &str| {
            rows.iter().find(|r| r["url"] == url).unwrap_or_else(|| panic!("no file {url}: {rows:#?}"))["state"]
                .as_str()
                .unwrap()
                .to_string()
        };
        // Every outcome state.
        for (path, want) in [
            ("/oa/good.pdf", "downloaded"),
            ("/oa/missing.pdf", "not_found"),
            ("/oa/paywalled.pdf", "paywalled"),
            ("/oa/challenge.pdf", "challenge"),
            ("/oa/challenge-200.pdf", "challenge"),
            ("/private/a.pdf", "robots"),
            ("/tdm/a.pdf", "tdm_reserved"),
            ("/oa/tdm-header.pdf", "tdm_reserved"),
            ("/oa/huge.pdf", "too_large"),
            ("/oa/page.pdf", "wrong_type"),
            ("/oa/bad.pdf", "error"),
        ] {
            assert_eq!(state_of(&format!("{s}{path}")), want, "{} {path}", db.backend);
        }
        assert!(
            server.hits_to("/private/a.pdf").is_empty() && server.hits_to("/tdm/a.pdf").is_empty(),
            "disallowed URLs were requested"
        );
        // Every route resolved a file that was downloaded, with the right bytes.
        let routed = |route: &str, url: &str, bytes: &[u8], role: &str| {
            let r = rows
                .iter()
                .find(|r| r["route"] == route && r["url"] == url)
                .unwrap_or_else(|| panic!("{route} {url}: {rows:#?}"));
            assert_eq!((r["state"].as_str(), r["role"].as_str()), (Some("downloaded"), Some(role)), "{route}: {r}");
            let hash = r["blob"].as_str().unwrap();
            assert_eq!(hash, blake3::hash(bytes).to_hex().as_str(), "{route}");
            assert_eq!(std::fs::read(blob_path(&dir, hash)).unwrap(), bytes, "{route}");
            assert_eq!(r["bytes"].as_u64(), Some(bytes.len() as u64));
        };
        routed("oa:openalex", &format!("{s}/articles/ncomms6634.pdf"), &pdf_a, "article");
        routed("crossref-tdm", &format!("{s}/xml/ncomms6634.pdf"), &pdf_a, "article");
        routed("landing:springer-nature", &format!("{s}{esm}"), &pdf_b, "supplement");
        routed("datacite", &format!("{s}/datacite-files/data.zip"), &si_zip, "supplement");
        routed("landing:acs", &format!("{s}/doi/pdf/10.1021/acs.jmedchem.6b00723"), &pdf_c, "article");
        routed("landing:acs", &format!("{s}{si}"), &pdf_b, "supplement");
        routed("landing:acs", &format!("{s}{csv}"), &table, "supplement");
        routed("crossref-component", &format!("{s}{si2}"), &si_zip, "supplement");
        routed("figshare", &format!("{s}/figshare-files/77"), &pdf_d, "supplement");
        routed(
            "europepmc-xml",
            &format!("{s}/epmc-bin/PMC7924871/ijerph-18-02086-s001.zip"),
            &zip_of("s001.pdf", &pdf_d),
            "supplement",
        );
        routed("europepmc-zip", &format!("{s}/europepmc/PMC7924871/supplementaryFiles"), &si_zip, "supplement");
        routed("oa:unpaywall", &format!("{s}/oa/good.pdf"), &pdf_a, "article");
        // The same bytes under several URLs are one blob.
        let blobs: std::collections::BTreeSet<&str> = rows.iter().filter_map(|r| r["blob"].as_str()).collect();
        assert_eq!(blobs.len(), 7, "{blobs:?}");
        assert_eq!(rows.len(), 4 + 5 + 2 + 11, "{rows:#?}");
        assert!(
            !rows.iter().any(|r| r["url"].as_str().unwrap().contains("recsys")),
            "a recommended article's PDF was taken"
        );

        // A second run fetches nothing; a refresh asks with validators and gets 304s.
        server.clear();
        let again = acquire(&dir, &db.url, &profile, &[]);
        assert_eq!(
            (again["works_resolved"].as_u64(), again["states"].as_object().unwrap().len()),
            (Some(0), 0),
            "{again}"
        );
        assert!(server.hits().is_empty(), "{:?}", server.hits().iter().map(|h| &h.path).collect::<Vec<_>>());
        let refreshed = acquire(&dir, &db.url, &profile, &["--refresh", "--host-rate", "100"]);
        let downloaded = rows.iter().filter(|r| r["state"] == "downloaded").count() as u64;
        assert_eq!(refreshed["unchanged"].as_u64(), Some(downloaded), "{refreshed}");
        let good = server.hits_to("/oa/good.pdf");
        assert!(good[0].header("if-none-match").is_some_and(|t| t.starts_with('"')));
    }
}

/// A run killed with SIGKILL in the middle of a download, then started again:
/// every file ends downloaded and intact, none is fetched in full twice, the
/// interrupted one resumes with a Range request, and requests to the host are
/// never closer than the configured rate.
#[tokio::test]
async fn kill_9_mid_run_then_restart_finishes_without_fetching_twice() {
    if shared("pdfs/articles").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for db in backends(tmp.path()).await {
        let (dir, server) = workdir(tmp.path(), db.backend);
        let names = ["PMC7901693.pdf", "PMC7971952.pdf", "PMC7808740.pdf", "PMC7966905.pdf", "PMC7909857.pdf"];
        // About 1.5 s for a 1 MB file.
        let bodies = paced_work(&db, &server, &names, 64 * 1024, Duration::from_millis(90)).await;
        let profile = profile(&dir, &server, false);
        let args = ["--workers", "1", "--host-rate", "4", "--host-concurrency", "1"];

        // Kill while the third file (1.1 MB) is on its way.
        let mut child = spawn_acquire(&dir, &db.url, &profile, &args);
        let third = format!("/oa/{}", names[2]);
        let t0 = std::time::Instant::now();
        while server.hits_to(&third).is_empty() && t0.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(600));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let part = dir
            .join("blobs/tmp")
            .read_dir()
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "part"));
        assert!(part, "{}: the kill left no partial download", db.backend);

        let summary = acquire(&dir, &db.url, &profile, &args);
        let rows = files(&dir, &db.url);
        assert_eq!(rows.len(), names.len());
        for (r, body) in rows.iter().zip(&bodies) {
            assert_eq!(r["state"], "downloaded", "{r}");
            let hash = r["blob"].as_str().unwrap();
            assert_eq!(hash, blake3::hash(body).to_hex().as_str());
            assert_eq!(&std::fs::read(blob_path(&dir, hash)).unwrap(), body);
        }
        assert_eq!(summary["states"]["downloaded"].as_u64(), Some(3), "{summary}");
        let hits = server.hits();
        for n in &names {
            let of: Vec<_> = hits.iter().filter(|h| h.path == format!("/oa/{n}")).collect();
            assert_eq!(
                of.iter().filter(|h| h.header("range").is_none()).count(),
                1,
                "{n} fetched in full more than once"
            );
        }
        let resumed: Vec<_> = hits.iter().filter(|h| h.path == third && h.header("range").is_some()).collect();
        assert_eq!(resumed.len(), 1, "the interrupted download was not resumed");
        let from: u64 =
            resumed[0].header("range").unwrap().trim_start_matches("bytes=").trim_end_matches('-').parse().unwrap();
        assert!(from > 0 && from < bodies[2].len() as u64);
        // Host rate: 4 per second.
        let mut times: Vec<_> = hits.iter().map(|h| h.at).collect();
        times.sort();
        assert_spaced(&times, Duration::from_millis(250));
        assert!(dir.join("blobs/tmp").read_dir().unwrap().next().is_none(), "temporary files left behind");
    }
}

/// Two `acquire` processes on one store share the pending files through
/// leases: every file is downloaded once, by one of them.
#[tokio::test]
async fn two_workers_share_the_files_without_fetching_any_twice() {
    if shared("pdfs/articles").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for db in backends(tmp.path()).await {
        let (dir, server) = workdir(tmp.path(), db.backend);
        let names = [
            "PMC7901693.pdf",
            "PMC7971952.pdf",
            "PMC7808740.pdf",
            "PMC7966905.pdf",
            "PMC7909857.pdf",
            "PMC7924871.pdf",
        ];
        paced_work(&db, &server, &names, 128 * 1024, Duration::from_millis(40)).await;
        let profile = profile(&dir, &server, false);
        let args = ["--workers", "2", "--host-rate", "50", "--host-concurrency", "4"];
        let spawn = || spawn_acquire(&dir, &db.url, &profile, &args);
        let (a, b) = (spawn(), spawn());
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        let mut fetched = 0;
        for o in &outs {
            assert!(o.status.success());
            fetched += json_lines(&o.stdout)[0]["states"]["downloaded"].as_u64().unwrap_or(0);
        }
        assert_eq!(fetched, names.len() as u64, "{}: the two workers together downloaded each file once", db.backend);
        for n in &names {
            assert_eq!(server.hits_to(&format!("/oa/{n}")).len(), 1, "{}: {n} requested more than once", db.backend);
        }
        assert!(files(&dir, &db.url).iter().all(|r| r["state"] == "downloaded"));
    }
}
