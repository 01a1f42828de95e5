//! A loopback HTTP server that replays recorded API responses: routes match a
//! method, a path and query parameters; each route answers its replies in
//! order (the last one repeats); every request is logged with its arrival time.
//! Recorded responses are read from ../shared/data/api (Crossref decoded
//! bodies, VCR cassettes, pygetpapers' Europe PMC results).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use emtrace::http::Url;

/// One logged request.
#[derive(Debug, Clone)]
pub struct Hit {
    /// When it arrived.
    pub at: Instant,
    /// GET, POST.
    pub method: String,
    /// Path.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Request headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Hit {
    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// A header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One reply. A 200 reply with an `etag` header answers a matching
/// `If-None-Match` with 304; one with `accept-ranges` answers `Range:
/// bytes=N-` with 206 and the rest of the body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Send the body in pieces of this size with this pause between them.
    pub pace: Option<(usize, std::time::Duration)>,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn json(body: impl Into<Vec<u8>>) -> Reply {
        Reply { status: 200, headers: vec![], body: body.into(), pace: None }
    }
    /// Any status with a body.
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply { status, headers: vec![], body: body.into(), pace: None }
    }
    /// A file: 200, its content type, an ETag, byte ranges.
    pub fn file(body: impl Into<Vec<u8>>, content_type: &str) -> Reply {
        let body = body.into();
        let etag = format!("\"{}\"", &blake3::hash(&body).to_hex()[..16]);
        Reply::status(200, body)
            .header("content-type", content_type)
            .header("etag", &etag)
            .header("accept-ranges", "bytes")
    }
    /// A redirect.
    pub fn redirect(to: &str) -> Reply {
        Reply::status(302, "").header("location", to)
    }
    /// Sends the body slowly.
    pub fn paced(mut self, piece: usize, pause: std::time::Duration) -> Reply {
        self.pace = Some((piece, pause));
        self
    }
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// A Crossref decoded body with its recorded status (`<stem>.json` + `.meta.json`).
    pub fn crossref(dir: &Path, stem: &str) -> Reply {
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{stem}.meta.json"))).unwrap()).unwrap();
        let status = meta["status"]["code"].as_u64().unwrap() as u16;
        Reply::status(status, std::fs::read(dir.join(format!("{stem}.json"))).unwrap())
    }
}

struct Route {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    replies: VecDeque<Reply>,
}

/// The server.
pub struct Replay {
    base: String,
    routes: Arc<Mutex<Vec<Route>>>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Replay {
    /// Starts on a free loopback port.
    pub fn start() -> Replay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<Vec<Route>>> = Arc::default();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let (r, h) = (routes.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, h) = (r.clone(), h.clone());
                std::thread::spawn(move || serve(stream, &r, &h));
            }
        });
        Replay { base, routes, hits }
    }

    /// The base URL (`http://127.0.0.1:port`).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Adds a route: requests with this method and path whose query has every
    /// one of `query` get `replies` in order, the last repeating. A later
    /// route wins over an earlier one that also matches.
    pub fn route(&self, method: &str, path: &str, query: &[(&str, &str)], replies: Vec<Reply>) {
        self.routes.lock().unwrap().push(Route {
            method: method.into(),
            path: path.into(),
            query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            replies: replies.into(),
        });
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Requests to a path.
    pub fn hits_to(&self, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path == path).collect()
    }

    /// Forgets the log.
    pub fn clear(&self) {
        self.hits.lock().unwrap().clear();
    }
}

fn serve(mut stream: TcpStream, routes: &Mutex<Vec<Route>>, hits: &Mutex<Vec<Hit>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let at = Instant::now();
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("/").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let url = Url::parse(&format!("http://x{target}")).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let hit = Hit { at, method, path: url.path().to_string(), query, headers, body };
    let reply = {
        let mut routes = routes.lock().unwrap();
        let route = routes
            .iter_mut()
            .rev()
            .find(|r| r.method == hit.method && r.path == hit.path && r.query.iter().all(|q| hit.query.contains(q)));
        match route {
            Some(r) if r.replies.len() > 1 => r.replies.pop_front().unwrap(),
            Some(r) => r.replies.front().cloned().unwrap_or(Reply::status(500, "route without replies")),
            None => Reply::status(404, format!("no recorded response for {} {target}", hit.method)),
        }
    };
    let header = |name: &str| reply.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let (mut status, mut body, mut extra) = (reply.status, reply.body.clone(), Vec::new());
    if status == 200 {
        let range = hit
            .header("range")
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
        if header("etag").is_some() && hit.header("if-none-match").map(str::to_string) == header("etag") {
            (status, body) = (304, Vec::new());
        } else if let Some(from) = range.filter(|f| header("accept-ranges").is_some() && *f < body.len()) {
            extra.push(("content-range".to_string(), format!("bytes {from}-{}/{}", body.len() - 1, body.len())));
            (status, body) = (206, body[from..].to_vec());
        }
    }
    hits.lock().unwrap().push(hit);
    let mut out = format!("HTTP/1.1 {status} R\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    if !reply.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        out.push_str("content-type: application/json\r\n");
    }
    for (k, v) in reply.headers.iter().chain(&extra) {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let _ = stream.write_all(out.as_bytes());
    match reply.pace {
        Some((piece, pause)) => {
            for c in body.chunks(piece.max(1)) {
                if stream.write_all(c).is_err() {
                    return;
                }
                std::thread::sleep(pause);
            }
        }
        None => {
            let _ = stream.write_all(&body);
        }
    }
}

/// The body and status of a VCR cassette's `n`th interaction (Semantic Scholar).
pub fn cassette(path: &Path, n: usize) -> Reply {
    let text = std::fs::read_to_string(path).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
    let i = &docs[0]["interactions"][n];
    let body = i["response"]["body"]["string"].as_str().unwrap_or("").to_string();
    let status = i["response"]["status"]["code"].as_i64().unwrap_or(200) as u16;
    Reply::status(status, body)
}

/// The request URI of a cassette's `n`th interaction.
pub fn cassette_uri(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
    docs[0]["interactions"][n]["request"]["uri"].as_str().unwrap().to_string()
}

/// pygetpapers stored Europe PMC results converted from XML, every value
/// wrapped in a list; this unwraps one-element lists back to the REST API's
/// JSON shape (lists of several stay lists).
pub fn unwrap_singletons(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Array(mut a) if a.len() == 1 => unwrap_singletons(a.pop().unwrap()),
        Value::Array(a) => Value::Array(a.into_iter().map(unwrap_singletons).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, unwrap_singletons(v))).collect()),
        other => other,
    }
}
