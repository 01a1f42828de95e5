//! Http: the one HTTP client every network stage shares. Each host gets a
//! governor limiter (requests never closer together than its rate allows) and
//! a concurrency cap, both from `sources/*.toml` and tightened, never loosened,
//! by the rate-limit headers the host sends (`x-rate-limit-limit`,
//! `x-rate-limit-interval`, `x-concurrency-limit`). 429, 5xx and timeouts are
//! retried with jittered exponential backoff; `Retry-After` (seconds or an HTTP
//! date) is obeyed, up to a cap, by every request to that host.

mod host;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
pub use reqwest::{Method, StatusCode, Url};
use tracing::{debug, warn};

use host::Host;
pub use host::HostLimits;

/// Defaults of [`HttpConfig`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Retries after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 4;
/// The longest a `Retry-After` or backoff is waited; a server asking for more fails the request.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(300);
/// First backoff step (doubled per attempt, with jitter).
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
/// Largest response body read into memory.
pub const DEFAULT_MAX_BODY: u64 = 256 << 20;

/// Errors of one request (after its retries).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Building the client failed.
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The network failed (connect, TLS, timeout, reset), also after retries.
    #[error("{url}: {source}")]
    Network {
        /// The request URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The server kept answering with a retryable status.
    #[error("{url}: HTTP {status} after {attempts} attempts")]
    GaveUp {
        /// The request URL.
        url: String,
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// The server asked to wait longer than the configured cap.
    #[error("{url}: server asks to wait {wait:?} (Retry-After), more than the {cap:?} allowed")]
    WaitTooLong {
        /// The request URL.
        url: String,
        /// What the server asked for.
        wait: Duration,
        /// The cap.
        cap: Duration,
    },
    /// The body is larger than the cap.
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge {
        /// The request URL.
        url: String,
        /// The cap.
        limit: u64,
    },
}

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Contact address sent in the User-Agent (`mailto:`), as the polite pools ask.
    pub contact: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Longest single wait (Retry-After or backoff).
    pub max_wait: Duration,
    /// First backoff step.
    pub backoff: Duration,
    /// Largest body read.
    pub max_body: u64,
    /// Limits for hosts no source names.
    pub default_limits: HostLimits,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            contact: None,
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            max_wait: DEFAULT_MAX_WAIT,
            backoff: DEFAULT_BACKOFF,
            max_body: DEFAULT_MAX_BODY,
            default_limits: HostLimits::default(),
        }
    }
}

/// One request.
#[derive(Debug, Clone)]
pub struct Request {
    /// GET or POST.
    pub method: Method,
    /// Where.
    pub url: Url,
    /// Extra headers (auth keys, Accept).
    pub headers: Vec<(&'static str, String)>,
    /// A JSON body for POST.
    pub body: Option<Vec<u8>>,
}

impl Request {
    /// A GET.
    pub fn get(url: Url) -> Request {
        Request { method: Method::GET, url, headers: Vec::new(), body: None }
    }
}

/// A response read whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// Final URL (after redirects).
    pub url: Url,
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body (decompressed).
    pub body: Vec<u8>,
}

impl Response {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The shared client.
#[derive(Debug)]
pub struct Http {
    client: reqwest::Client,
    cfg: HttpConfig,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    limits: Mutex<HashMap<String, HostLimits>>,
}

/// The User-Agent: `emtrace/<version> (mailto:<contact>)`.
pub fn user_agent(contact: Option<&str>) -> String {
    match contact {
        Some(c) => format!("emtrace/{} (mailto:{c})", env!("CARGO_PKG_VERSION")),
        None => concat!("emtrace/", env!("CARGO_PKG_VERSION")).to_string(),
    }
}

/// Whether an outcome is worth another attempt.
pub trait RetryExt {
    /// True for transient failures.
    fn should_retry(&self) -> bool;
}

impl RetryExt for StatusCode {
    fn should_retry(&self) -> bool {
        *self == StatusCode::TOO_MANY_REQUESTS || *self == StatusCode::REQUEST_TIMEOUT || self.is_server_error()
    }
}

impl RetryExt for reqwest::Error {
    fn should_retry(&self) -> bool {
        self.is_timeout() || self.is_connect() || self.is_request() || self.is_body()
    }
}

impl Http {
    /// Builds the client.
    pub fn new(cfg: HttpConfig) -> Result<Http, HttpError> {
        let mut headers = HeaderMap::new();
        let ua = user_agent(cfg.contact.as_deref());
        headers.insert(USER_AGENT, HeaderValue::from_str(&ua).unwrap_or(HeaderValue::from_static("emtrace")));
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(HttpError::Client)?;
        Ok(Http { client, cfg, hosts: Mutex::default(), limits: Mutex::default() })
    }

    /// Sets the limits of a host (`host` or `host:port`), before its first request.
    pub fn set_limits(&self, host: &str, limits: HostLimits) {
        self.limits.lock().expect("limits lock is never poisoned").insert(host.to_string(), limits);
    }

    fn host(&self, url: &Url) -> Arc<Host> {
        let key = host_key(url);
        let mut hosts = self.hosts.lock().expect("hosts lock is never poisoned");
        hosts
            .entry(key.clone())
            .or_insert_with(|| {
                let limits = self.limits.lock().expect("limits lock is never poisoned").get(&key).copied();
                Arc::new(Host::new(limits.unwrap_or(self.cfg.default_limits)))
            })
            .clone()
    }

    /// Sends a request through its host's limiter, retrying transient
    /// failures, and reads the body (up to the cap). Any final status comes
    /// back as a [`Response`]; only network failures and exhausted retries are errors.
    pub async fn send(&self, req: &Request) -> Result<Response, HttpError> {
        let mut opened = self.open(req).await?;
        let mut body = Vec::new();
        while let Some(chunk) = opened.chunk().await? {
            if (body.len() + chunk.len()) as u64 > self.cfg.max_body {
                return Err(HttpError::TooLarge { url: req.url.to_string(), limit: self.cfg.max_body });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response { url: opened.url, status: opened.status, headers: opened.headers, body })
    }

    /// Like [`Http::send`], but hands back the response with its body unread
    /// (to stream to disk), holding the host's concurrency slot until dropped.
    pub async fn open(&self, req: &Request) -> Result<Opened, HttpError> {
        let host = self.host(&req.url);
        let url = req.url.to_string();
        let mut attempt = 0u32;
        loop {
            let permit = host.acquire().await;
            debug!(%url, attempt, "request");
            let wait = match self.once(req).await {
                Ok(resp) => {
                    host.adapt(resp.headers());
                    let status = resp.status();
                    if !status.should_retry() {
                        return Ok(Opened {
                            url: resp.url().clone(),
                            status,
                            headers: resp.headers().clone(),
                            resp,
                            _permit: permit,
                        });
                    }
                    if attempt >= self.cfg.max_retries {
                        return Err(HttpError::GaveUp { url, status: status.as_u16(), attempts: attempt + 1 });
                    }
                    let asked = resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after);
                    match asked {
                        Some(wait) if wait > self.cfg.max_wait => {
                            return Err(HttpError::WaitTooLong { url, wait, cap: self.cfg.max_wait });
                        }
                        Some(wait) => wait,
                        None => backoff(self.cfg.backoff, attempt, self.cfg.max_wait),
                    }
                }
                Err(e) if e.should_retry() && attempt < self.cfg.max_retries => {
                    backoff(self.cfg.backoff, attempt, self.cfg.max_wait)
                }
                Err(source) => return Err(HttpError::Network { url, source }),
            };
            drop(permit);
            warn!(%url, attempt, ?wait, "retrying");
            host.pause(wait);
            attempt += 1;
        }
    }

    async fn once(&self, req: &Request) -> Result<reqwest::Response, reqwest::Error> {
        let mut builder = self.client.request(req.method.clone(), req.url.clone());
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        if let Some(body) = &req.body {
            builder = builder.header("content-type", "application/json").body(body.clone());
        }
        builder.send().await
    }
}

/// A response whose body has not been read yet.
#[derive(Debug)]
pub struct Opened {
    /// Final URL (after redirects).
    pub url: Url,
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    resp: reqwest::Response,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Opened {
    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        let url = self.url.to_string();
        self.resp.chunk().await.map(|c| c.map(|b| b.to_vec())).map_err(|source| HttpError::Network { url, source })
    }

    /// The announced body length, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.resp.content_length()
    }
}

/// `host` or `host:port` of a URL: the unit limits apply to.
pub fn host_key(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// `Retry-After` in either form (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// Exponential backoff with jitter: `base · 2^attempt`, scaled by a random
/// factor in [0.5, 1), capped.
fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(attempt);
    let jitter = 0.5 + (h.finish() % 1000) as f64 / 2000.0;
    base.saturating_mul(1 << attempt.min(16)).mul_f64(jitter).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_both_forms() {
        assert_eq!(retry_after("120"), Some(Duration::from_secs(120)));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(30)).format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let d = retry_after(&soon).unwrap();
        assert!(d > Duration::from_secs(27) && d <= Duration::from_secs(30), "{d:?}");
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let base = Duration::from_millis(100);
        for attempt in 0..4 {
            let d = backoff(base, attempt, Duration::from_secs(60));
            let full = base * (1 << attempt);
            assert!(d >= full / 2 && d < full, "{attempt}: {d:?}");
        }
        assert_eq!(backoff(base, 30, Duration::from_secs(5)), Duration::from_secs(5));
    }

    #[test]
    fn retryable_statuses() {
        assert!(StatusCode::TOO_MANY_REQUESTS.should_retry());
        assert!(StatusCode::BAD_GATEWAY.should_retry());
        assert!(!StatusCode::NOT_FOUND.should_retry());
        assert!(!StatusCode::FORBIDDEN.should_retry());
    }
}
