//! Discovery against a loopback server that replays the recorded Crossref,
//! Europe PMC, OpenAlex, Semantic Scholar and Unpaywall responses in
//! ../shared/data/api, plus pages written in the same shapes for the ends of
//! paging, 429s with Retry-After and errors inside 200 bodies.

mod util;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use util::replay::{cassette, cassette_uri, unwrap_singletons, Replay, Reply};
use util::{assert_spaced, backends, emtrace, json_lines, shared};

const CR: &str = "crossref_habanero_cassettes/decoded_bodies";

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

/// A profile whose every source points at the replay server.
fn profile(dir: &Path, server: &Replay, affiliations: &[&str], extra: &str) -> PathBuf {
    let mut text = String::from("facility = \"Test facility\"\ncontact_email = \"librarian@example.org\"\n");
    for a in affiliations {
        text.push_str(&format!("[[affiliations]]\nname = \"{a}\"\n"));
    }
    text.push_str("[[instruments]]\nvendor = \"Hitachi\"\nmodel = \"SU8000\"\nmodality = \"SEM\"\n");
    for name in ["crossref", "europepmc", "openalex", "semanticscholar", "unpaywall"] {
        text.push_str(&format!(
            "[sources.{name}]\nbase_url = \"{}/{name}\"\nlimits = {{ requests = 50, per_seconds = 1.0, concurrency = 2 }}\n",
            server.url()
        ));
    }
    text.push_str(extra);
    let p = dir.join("profile.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn crossref_page(items: Value, next: Option<&str>) -> Vec<u8> {
    let mut msg = json!({"facets": {}, "total-results": 454, "items": items, "items-per-page": 20, "query": {}});
    if let Some(n) = next {
        msg["next-cursor"] = json!(n);
    }
    serde_json::to_vec(
        &json!({"status": "ok", "message-type": "work-list", "message-version": "1.0.0", "message": msg}),
    )
    .unwrap()
}

fn discover(dir: &Path, db: &str, profile: &Path, args: &[&str]) -> (i32, Value) {
    let out = emtrace(dir)
        .args(["--db", db, "--config"])
        .arg(profile)
        .args(["--json", "-q", "discover"])
        .args(args)
        .output()
        .unwrap();
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 1, "stderr: {}", String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap(), lines[0].clone())
}

fn works(dir: &Path, db: &str) -> Vec<Value> {
    let out = emtrace(dir).args(["--db", db, "--json", "works"]).output().unwrap();
    assert!(out.status.success());
    json_lines(&out.stdout)
}

fn source<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["sources"].as_array().unwrap().iter().find(|s| s["source"] == name).unwrap()
}

/// The recorded pages of one Crossref cursor walk (four pages of five), which
/// share one scroll cursor, then the empty page that ends it: replayed to
/// each affiliation query.
fn crossref_walk(server: &Replay, dir: &Path, affiliations: &[&str]) -> Vec<Value> {
    let stem = |i: usize| format!("test-workscontainer__test_workscontainer_with_cursor__{i}");
    let pages: Vec<Value> = (0..4)
        .map(|i| serde_json::from_slice(&std::fs::read(dir.join(format!("{}.json", stem(i)))).unwrap()).unwrap())
        .collect();
    let cursor = pages[0]["message"]["next-cursor"].as_str().unwrap().to_string();
    for aff in affiliations {
        let q = ("query.affiliation", *aff);
        server.route("GET", "/crossref/works", &[q, ("cursor", "*")], vec![Reply::crossref(dir, &stem(0))]);
        let mut rest: Vec<Reply> = (1..4).map(|i| Reply::crossref(dir, &stem(i))).collect();
        rest.push(Reply::json(crossref_page(json!([]), Some(&cursor))));
        server.route("GET", "/crossref/works", &[q, ("cursor", &cursor)], rest);
    }
    pages.iter().flat_map(|p| p["message"]["items"].as_array().unwrap().clone()).collect()
}

#[tokio::test]
async fn crossref_pages_to_the_end_keeps_affiliated_works_and_reruns_incrementally() {
    let Some(dir) = shared(&format!("api/{CR}")) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let affs = ["Michigan State University", "University of Sydney", "Uzhgorod National University"];
    for db in backends(tmp.path()).await {
        let server = Replay::start();
        let items = crossref_walk(&server, &dir, &affs);
        let profile = profile(tmp.path(), &server, &affs, "");
        let (code, summary) = discover(tmp.path(), &db.url, &profile, &["--source", "crossref"]);
        assert_eq!(code, 0, "{summary}");

        // Every page was read, following the cursor, to the empty last page.
        let hits = server.hits_to("/crossref/works");
        assert_eq!(hits.len(), 3 * 5, "{}: three affiliation queries of five pages", db.backend);
        let first = &hits[0];
        assert_eq!(first.param("cursor"), Some("*"));
        assert_eq!(first.param("rows"), Some("1000"));
        assert_eq!(first.param("mailto"), Some("librarian@example.org"));
        assert_eq!(first.param("filter"), Some("type:journal-article"));
        assert_eq!(first.param("query.affiliation"), Some("Michigan State University"));
        assert!(first.header("user-agent").unwrap().contains("mailto:librarian@example.org"));
        assert!(first.header("accept-encoding").unwrap().contains("gzip"));
        assert!(hits[1..5].iter().all(|h| h.param("cursor") != Some("*")));

        // Kept: exactly the items one of whose authors' affiliations names a profile affiliation.
        let affiliated = |item: &Value, aff: &str| {
            item["author"].as_array().into_iter().flatten().any(|a| {
                a["affiliation"].as_array().into_iter().flatten().any(|x| x["name"].as_str().unwrap().contains(aff))
            })
        };
        let mut want: Vec<String> = items
            .iter()
            .filter(|i| affs.iter().any(|a| affiliated(i, a)))
            .map(|i| i["DOI"].as_str().unwrap().to_lowercase())
            .collect();
        want.sort();
        assert!(want.len() >= 3, "{want:?}");
        let stored = works(tmp.path(), &db.url);
        let mut got: Vec<String> = stored.iter().map(|w| w["doi"].as_str().unwrap().to_string()).collect();
        got.sort();
        assert_eq!(got, want, "{}", db.backend);
        let w = stored.iter().find(|w| w["doi"] == "10.1111/jfpp.12874").unwrap();
        assert_eq!(w["year"], 2016);
        assert!(w["title"].as_str().unwrap().len() > 10 && w["journal"].is_string());
        assert!(!w["authors"].as_array().unwrap().is_empty());
        let ev = &w["evidence"][0];
        assert_eq!(
            (ev["source"].as_str(), ev["query"].as_str()),
            (Some("crossref"), Some("query.affiliation=Michigan State University"))
        );
        assert!(ev["snippet"].as_str().unwrap().contains("Michigan State University"));
        let s = source(&summary, "crossref");
        assert_eq!((s["requests"].as_u64(), s["new_works"].as_u64()), (Some(15), Some(want.len() as u64)));

        // A re-run asks only for what was indexed since today, and finds nothing new.
        server.clear();
        let since = format!("type:journal-article,from-index-date:{}", today());
        server.route(
            "GET",
            "/crossref/works",
            &[("filter", &since)],
            vec![Reply::json(crossref_page(json!([]), Some("x")))],
        );
        let (code, again) = discover(tmp.path(), &db.url, &profile, &["--source", "crossref"]);
        assert_eq!(code, 0, "{again}");
        let hits = server.hits_to("/crossref/works");
        assert_eq!(hits.len(), 3);
        assert!(hits.iter().all(|h| h.param("filter") == Some(since.as_str())), "{:?}", hits[0].query);
        let s = source(&again, "crossref");
        assert_eq!((s["new_works"].as_u64(), s["new_evidence"].as_u64()), (Some(0), Some(0)));
        assert_eq!(works(tmp.path(), &db.url).len(), want.len());
    }
}

/// Every source, one work found by two of them, Semantic Scholar's corpus
/// ids resolved to DOIs, and Unpaywall's locations recorded.
#[tokio::test]
async fn sources_dedupe_by_doi_and_keep_every_evidence() {
    let Some(api) = shared("api") else { return };
    let tmp = tempfile::tempdir().unwrap();
    for db in backends(tmp.path()).await {
        let server = Replay::start();
        // Crossref: a page written in Crossref's shape naming two DOIs that
        // other sources' recordings hold (one upper-cased, as Crossref keeps them).
        let aff = json!([{"name": "State Key Laboratory of Drug Research, Shanghai Institute of Materia Medica, Chinese Academy of Sciences"}]);
        let items = json!([
            {"DOI": "10.1038/S41467-024-45254-7", "title": ["Recorded elsewhere"], "type": "journal-article",
             "issued": {"date-parts": [[2024, 2, 1]]}, "author": [{"given": "A.", "family": "Author", "affiliation": aff}]},
            {"DOI": "10.1016/j.tmaid.2020.101663", "title": ["Unpaywall knows this one"], "type": "journal-article",
             "issued": {"date-parts": [[null]]}, "author": [{"family": "Author", "affiliation": aff}]},
        ]);
        server.route("GET", "/crossref/works", &[("cursor", "*")], vec![Reply::json(crossref_page(items, Some("c2")))]);
        server.route(
            "GET",
            "/crossref/works",
            &[("cursor", "c2")],
            vec![Reply::json(crossref_page(json!([]), Some("c2")))],
        );
        // OpenAlex: the recorded search page, then a written last page.
        let oa = std::fs::read(api.join("europepmc_openalex_pygetpapers/2024_06_03_03_14_46/openalex.json")).unwrap();
        let oa_json: Value = serde_json::from_slice(&oa).unwrap();
        let next = oa_json["meta"]["next_cursor"].as_str().unwrap().to_string();
        server.route("GET", "/openalex/works", &[("cursor", "*")], vec![Reply::json(oa)]);
        let last = json!({"meta": {"count": 11810, "per_page": 20, "next_cursor": null}, "results": []});
        server.route("GET", "/openalex/works", &[("cursor", &next)], vec![Reply::json(last.to_string())]);
        // Europe PMC: the recorded results in the REST API's envelope, then the page whose cursor repeats.
        let results: Vec<Value> = serde_json::from_slice::<Vec<Value>>(
            &std::fs::read(api.join("europepmc_openalex_pygetpapers/test/eupmc_results.json")).unwrap(),
        )
        .unwrap()
        .into_iter()
        .map(unwrap_singletons)
        .collect();
        let n_epmc = results.len();
        let page =
            json!({"version": "6.9", "hitCount": n_epmc, "nextCursorMark": "AoE1", "resultList": {"result": results}});
        server.route("GET", "/europepmc/search", &[("cursorMark", "*")], vec![Reply::json(page.to_string())]);
        let end = json!({"version": "6.9", "hitCount": n_epmc, "nextCursorMark": "AoE1", "resultList": {"result": []}});
        server.route("GET", "/europepmc/search", &[("cursorMark", "AoE1")], vec![Reply::json(end.to_string())]);
        // Semantic Scholar: the recorded snippet search; the batch answer written in the recorded batch shape.
        let s2 = api.join("semanticscholar_cassettes/tests/data/test_search_snippet.yaml");
        server.route("GET", "/semanticscholar/graph/v1/snippet/search", &[], vec![cassette(&s2, 0)]);
        let batch = json!([
            {"paperId": "a1", "externalIds": {"DOI": "10.1093/MIND/LIX.236.433", "CorpusId": 19170988},
             "title": "Computing Machinery and Intelligence", "year": 1950, "venue": "Mind", "authors": [{"name": "A. M. Turing"}]},
            null
        ]);
        server.route("POST", "/semanticscholar/graph/v1/paper/batch", &[], vec![Reply::json(batch.to_string())]);
        // Unpaywall: the recorded response for one DOI; every other DOI is unknown (404).
        let cache: Value = serde_json::from_slice(
            &std::fs::read(api.join("unpaywall_unpywall_pickled_cache/unpaywall_cache.decoded.json")).unwrap(),
        )
        .unwrap();
        let upw = &cache["10.1016/j.tmaid.2020.101663"]["json"];
        server.route("GET", "/unpaywall/v2/10.1016/j.tmaid.2020.101663", &[], vec![Reply::json(upw.to_string())]);

        let profile = profile(tmp.path(), &server, &["Shanghai Institute of Materia Medica"], "");
        let (code, summary) = discover(tmp.path(), &db.url, &profile, &[]);
        assert_eq!(code, 0, "{summary}");
        let stored = works(tmp.path(), &db.url);

        // One work per DOI: Crossref's and OpenAlex's records of 10.1038/s41467-024-45254-7 are one.
        let shared_doi = stored.iter().filter(|w| w["doi"] == "10.1038/s41467-024-45254-7").collect::<Vec<_>>();
        assert_eq!(shared_doi.len(), 1, "{}", db.backend);
        let sources: Vec<&str> =
            shared_doi[0]["evidence"].as_array().unwrap().iter().map(|e| e["source"].as_str().unwrap()).collect();
        assert_eq!(sources, ["crossref", "openalex"]);
        assert_eq!(
            source(&summary, "openalex")["new_works"],
            0,
            "OpenAlex kept only the affiliated work, already known"
        );
        // Europe PMC: every recorded result (two have no DOI and are keyed by title and year).
        let epmc: Vec<&Value> = stored
            .iter()
            .filter(|w| w["evidence"].as_array().unwrap().iter().any(|e| e["source"] == "europepmc"))
            .collect();
        assert_eq!(epmc.len(), n_epmc);
        assert_eq!(epmc.iter().filter(|w| w["doi"].is_null()).count(), 2);
        let luteolin = epmc.iter().find(|w| w["doi"] == "10.1080/21505594.2020.1867455").unwrap();
        assert_eq!((luteolin["year"].as_i64(), luteolin["journal"].as_str()), (Some(2021), Some("Virulence")));
        assert_eq!(luteolin["authors"][0], "Dong J");
        assert!(luteolin["locations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["kind"] == "pdf" && l["url"] == "https://europepmc.org/articles/PMC7781616?pdf=render"));
        // Semantic Scholar: the corpus id became a DOI; the unknown one stays title-keyed.
        let turing = stored.iter().find(|w| w["doi"] == "10.1093/mind/lix.236.433").unwrap();
        assert_eq!((turing["year"].as_i64(), turing["journal"].as_str()), (Some(1950), Some("Mind")));
        assert!(turing["evidence"][0]["snippet"].as_str().unwrap().starts_with("The Turing test"));
        let batch_hit = &server.hits_to("/semanticscholar/graph/v1/paper/batch")[0];
        let body: Value = serde_json::from_slice(&batch_hit.body).unwrap();
        assert_eq!(body["ids"], json!(["CorpusId:19170988", "CorpusId:12345678"]));
        // Unpaywall: the recorded open copies, and every other DOI marked looked-up (404).
        let tmaid = stored.iter().find(|w| w["doi"] == "10.1016/j.tmaid.2020.101663").unwrap();
        let urls: Vec<&str> =
            tmaid["locations"].as_array().unwrap().iter().map(|l| l["url"].as_str().unwrap()).collect();
        assert!(urls.contains(&"https://www.ncbi.nlm.nih.gov/pmc/articles/PMC7151271"), "{urls:?}");
        let with_doi = stored.iter().filter(|w| w["doi"].is_string()).count();
        assert_eq!(source(&summary, "unpaywall")["completed"].as_u64(), Some(with_doi as u64));
        assert_eq!(summary["works"].as_u64(), Some(stored.len() as u64));
        assert_eq!(stored.len(), 2 + n_epmc + 2);
        for key in ["doi", "title", "year", "journal", "authors", "evidence"] {
            assert!(stored.iter().all(|w| w.get(key).is_some()), "{key}");
        }

        // A second run: no new works, no Unpaywall lookups.
        server.clear();
        let (_, again) = discover(tmp.path(), &db.url, &profile, &[]);
        assert!(
            again["sources"].as_array().unwrap().iter().all(|s| s["new_works"] == 0 && s["new_evidence"] == 0),
            "{again}"
        );
        assert!(server.hits_to("/unpaywall/v2/10.1016/j.tmaid.2020.101663").is_empty());
        assert_eq!(works(tmp.path(), &db.url).len(), stored.len());
    }
}

/// 429 with Retry-After in seconds, 503 with an HTTP date, then spacing
/// tightened by the rate the server announces.
#[tokio::test]
async fn retry_after_is_obeyed_and_requests_are_never_closer_than_the_rate() {
    let Some(dir) = shared(&format!("api/{CR}")) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let server = Replay::start();
    let item = serde_json::from_slice::<Value>(
        &std::fs::read(dir.join("test-workscontainer__test_workscontainer_with_cursor__1.json")).unwrap(),
    )
    .unwrap()["message"]["items"][2]
        .clone();
    assert_eq!(item["DOI"], "10.1111/jfpp.12874");
    let retry_at = SystemTime::now() + Duration::from_secs(3);
    let http_date = chrono::DateTime::<chrono::Utc>::from(retry_at).format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    server.route(
        "GET",
        "/crossref/works",
        &[("cursor", "*")],
        vec![
            Reply::status(429, r#"{"status":"failed","message":"rate limited"}"#).header("Retry-After", "1"),
            Reply::status(503, "busy").header("Retry-After", &http_date),
            // The recorded Crossref rate headers say 5 per second; this server asks for 2.
            Reply::json(crossref_page(json!([item]), Some("n")))
                .header("x-rate-limit-limit", "2")
                .header("x-rate-limit-interval", "1s")
                .header("x-concurrency-limit", "1"),
        ],
    );
    server.route(
        "GET",
        "/crossref/works",
        &[("cursor", "n")],
        vec![Reply::json(crossref_page(json!([item]), Some("n")))],
    );
    let profile = profile(tmp.path(), &server, &["Michigan State University"], "");
    // Configured: 4 requests a second (one every 250 ms), for Crossref's host only.
    let text = std::fs::read_to_string(&profile).unwrap().replace(
        &format!("base_url = \"{}/crossref\"\nlimits = {{ requests = 50", server.url()),
        &format!("base_url = \"{}/crossref\"\nlimits = {{ requests = 4", server.url()),
    );
    std::fs::write(&profile, text).unwrap();
    let db = tmp.path().join("t.db").display().to_string();
    let (code, summary) =
        discover(tmp.path(), &db, &profile, &["--source", "crossref", "--published-from", "2000-01-01"]);
    assert_eq!(code, 0, "{summary}");
    let hits = server.hits_to("/crossref/works");
    assert_eq!(hits[0].param("filter"), Some("type:journal-article,from-pub-date:2000-01-01"));
    // 429 → 1 s; 503 → until the date; then 200 (announcing 2/s) → pages 500 ms apart.
    assert!(hits.len() >= 5, "{}", hits.len());
    assert!(hits[1].at - hits[0].at >= Duration::from_millis(990), "{:?}", hits[1].at - hits[0].at);
    let waited_until = SystemTime::now() - hits[2].at.elapsed();
    assert!(
        waited_until + Duration::from_millis(10) >= retry_at - Duration::from_secs(1),
        "HTTP-date Retry-After not obeyed"
    );
    // Requests leave the client at least a period apart; loopback connection
    // set-up adds a few ms of jitter to their arrival, hence the slack.
    assert_spaced(&hits.iter().map(|h| h.at).collect::<Vec<_>>(), Duration::from_millis(250));
    assert_spaced(&hits[2..].iter().map(|h| h.at).collect::<Vec<_>>(), Duration::from_millis(500));
}

/// An error inside a 200 body, a body that is not JSON and a recorded
/// validation failure each fail their own query; the others finish, the run
/// exits 1, and the failed queries are asked again in full next time.
#[tokio::test]
async fn errors_fail_only_their_query() {
    let Some(dir) = shared(&format!("api/{CR}")) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let server = Replay::start();
    server.route("GET", "/crossref/works", &[], vec![Reply::json(crossref_page(json!([]), None))]);
    server.route(
        "GET",
        "/crossref/works",
        &[("query.affiliation", "Broken Body")],
        vec![Reply::json("<html>Service Unavailable</html>")],
    );
    server.route(
        "GET",
        "/crossref/works",
        &[("query.affiliation", "Bad Request")],
        vec![Reply::crossref(&dir, "test-funders__test_funders_fail_limit__0")],
    );
    let err = json!({"version": "6.9", "errCode": 500, "errMsg": "query syntax error near METHODS"});
    server.route("GET", "/europepmc/search", &[], vec![Reply::json(err.to_string())]);
    let profile = profile(tmp.path(), &server, &["Broken Body", "Bad Request", "Fine Institute"], "");
    let db = tmp.path().join("t.db").display().to_string();
    let (code, summary) = discover(tmp.path(), &db, &profile, &["--source", "crossref", "--source", "europepmc"]);
    assert_eq!(code, 1, "{summary}");
    let cr = source(&summary, "crossref");
    assert_eq!((cr["queries"].as_u64(), cr["completed"].as_u64()), (Some(3), Some(1)));
    let errors = cr["errors"].as_array().unwrap();
    assert!(errors[0].as_str().unwrap().contains("not JSON"), "{errors:?}");
    assert!(
        errors[1].as_str().unwrap().contains("HTTP 400")
            && errors[1].as_str().unwrap().contains("less than or equal to 1000")
    );
    let ep = source(&summary, "europepmc");
    assert!(ep["errors"][0].as_str().unwrap().contains("query syntax error near METHODS"), "{ep}");
    // Next run: the completed query asks from today, the failed ones from the start.
    server.clear();
    discover(tmp.path(), &db, &profile, &["--source", "crossref"]);
    let hits = server.hits_to("/crossref/works");
    let filter_of = |aff: &str| {
        hits.iter().find(|h| h.param("query.affiliation") == Some(aff)).unwrap().param("filter").unwrap().to_string()
    };
    assert_eq!(filter_of("Broken Body"), "type:journal-article");
    assert_eq!(filter_of("Fine Institute"), format!("type:journal-article,from-index-date:{}", today()));
}

#[test]
fn dry_run_shows_every_sources_queries_for_the_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let zioc = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/zioc.toml");
    let out = emtrace(tmp.path())
        .env("OPENALEX_API_KEY", "s3cret")
        .args(["--json", "--config"])
        .arg(&zioc)
        .args(["discover", "--dry-run", "--since", "2026-01-05"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out.stdout);
    for l in &lines {
        let keys: Vec<&String> = l.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["method", "source", "url"]);
    }
    let urls = |src: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l["source"] == src)
            .map(|l| {
                let u = emtrace::http::Url::parse(l["url"].as_str().unwrap()).unwrap();
                u.query_pairs().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
            })
            .collect()
    };
    let cr = urls("crossref");
    assert_eq!(cr.len(), 3);
    assert!(cr[0].contains("query.affiliation=Zelinsky Institute of Organic Chemistry"));
    assert!(cr[0].contains("filter=type:journal-article,from-index-date:2026-01-05") && cr[0].contains("cursor=*"));
    assert!(cr[0].contains("mailto=em-facility@example.org"));
    let ep = urls("europepmc");
    assert_eq!(ep.len(), 4);
    assert!(
        ep[3].contains(r#"query=(ACK_FUND:"Department of Structural Studies of Zelinsky Institute")"#),
        "{}",
        ep[3]
    );
    assert!(ep[0].contains(r#"METHODS:"SU-8000""#) && ep[0].contains(r#"METHODS:"Hitachi SU8000""#));
    assert!(
        ep[0].contains(r#"AFF:"Zelinsky Institute of Organic Chemistry""#)
            && ep[0].contains("FIRST_IDATE:[2026-01-05 TO")
    );
    assert!(ep[1].contains(r#"METHODS:"Regulus 8230""#) && ep[2].contains(r#"METHODS:"HT-7700""#));
    assert!(ep[0].contains("resultType=core") && ep[0].contains("cursorMark=*"));
    let oa = urls("openalex");
    assert_eq!(oa.len(), 3);
    assert!(oa[2].contains(r#"search="HT7700" OR "HT-7700""#) && oa[2].contains("from_created_date:2026-01-05"));
    assert!(oa[0].contains("api_key=<OPENALEX_API_KEY>") && !oa[0].contains("s3cret"));
    let s2 = urls("semanticscholar");
    assert!(
        s2.iter().any(|u| u.contains("query=Hitachi Regulus 8230"))
            && s2.iter().any(|u| u.contains("query=Hitachi HT7700"))
    );
    assert!(lines.iter().all(|l| l["method"] == "GET"));
}

#[test]
fn recorded_crossref_pages_parse_with_their_gaps() {
    let Some(dir) = shared(&format!("api/{CR}")) else { return };
    use emtrace::discover::sources::crossref;
    // A "widget" search page: book chapters with `issued: [[null]]` and no affiliations.
    let v: Value =
        serde_json::from_slice(&std::fs::read(dir.join("test-cursor__test_cursor_max__0.json")).unwrap()).unwrap();
    let items = v["message"]["items"].as_array().unwrap();
    let parsed: Vec<_> = items.iter().map(crossref::work).collect();
    assert_eq!(parsed.len(), 20);
    let w = &parsed[0];
    assert_eq!(w.doi.as_ref().unwrap().as_str(), "10.1007/978-1-4302-0197-7_9");
    assert_eq!((w.year, w.kind.as_deref()), (None, Some("book-chapter")));
    assert_eq!(w.title.as_deref(), Some("Widget Mania: Using a GUI Widget Framework"));
    assert!(parsed.iter().all(|w| w.doi.is_some() && w.title.is_some()));
    // A recorded failure body gives its message.
    let bad: Value = serde_json::from_slice(
        &std::fs::read(dir.join("test-cursor__test_cursor_fails_cursor_value__0.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        emtrace::discover::sources::error_message(bad.to_string().as_bytes()),
        "Cursor specified but it is invalid"
    );
    // The Semantic Scholar cassette's request is what the adapter asks for.
    let Some(s2) = shared("api/semanticscholar_cassettes/tests/data/test_search_snippet.yaml") else { return };
    assert!(cassette_uri(&s2, 0).contains("/graph/v1/snippet/search?query=turing+test"));
}
