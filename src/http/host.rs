//! One host's politeness state: a governor limiter (burst 1, so requests are
//! spaced by at least the period), a semaphore for concurrency, and a pause
//! that a `Retry-After` or backoff puts on every request to the host.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tracing::info;

/// A host's rate and concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostLimits {
    /// Requests allowed per `per_seconds`.
    pub requests: u32,
    /// The window, in seconds.
    pub per_seconds: f64,
    /// Requests in flight at once.
    pub concurrency: u32,
}

impl Default for HostLimits {
    /// One request a second, two at once: polite for any host no source names.
    fn default() -> Self {
        HostLimits { requests: 1, per_seconds: 1.0, concurrency: 2 }
    }
}

impl HostLimits {
    /// The least time between two requests.
    pub fn period(&self) -> Duration {
        Duration::from_secs_f64(self.per_seconds.max(0.0) / self.requests.max(1) as f64)
    }
}

#[derive(Debug)]
pub(super) struct Host {
    configured: HostLimits,
    period: Mutex<Duration>,
    limiter: Mutex<Arc<DefaultDirectRateLimiter>>,
    permits: Arc<Semaphore>,
    concurrency: Mutex<u32>,
    paused_until: Mutex<Option<Instant>>,
}

fn limiter(period: Duration) -> Arc<DefaultDirectRateLimiter> {
    let quota = Quota::with_period(period.max(Duration::from_micros(1)))
        .expect("period is positive")
        .allow_burst(NonZeroU32::MIN);
    Arc::new(RateLimiter::direct(quota))
}

impl Host {
    pub(super) fn new(limits: HostLimits) -> Host {
        let concurrency = limits.concurrency.max(1);
        Host {
            configured: limits,
            period: Mutex::new(limits.period()),
            limiter: Mutex::new(limiter(limits.period())),
            permits: Arc::new(Semaphore::new(concurrency as usize)),
            concurrency: Mutex::new(concurrency),
            paused_until: Mutex::new(None),
        }
    }

    /// Waits for a concurrency slot, any pause, and the limiter.
    pub(super) async fn acquire(&self) -> OwnedSemaphorePermit {
        let permit = self.permits.clone().acquire_owned().await.expect("host semaphore is never closed");
        loop {
            let until = *self.paused_until.lock().expect("pause lock is never poisoned");
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => break,
            }
        }
        let limiter = self.limiter.lock().expect("limiter lock is never poisoned").clone();
        limiter.until_ready().await;
        permit
    }

    /// Holds every request to this host for `wait`.
    pub(super) fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut p = self.paused_until.lock().expect("pause lock is never poisoned");
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
    }

    /// Applies the host's announced limits, when slower than the configured
    /// ones: Crossref's `x-rate-limit-limit` per `x-rate-limit-interval`
    /// ("1s") and `x-concurrency-limit`.
    pub(super) fn adapt(&self, headers: &HeaderMap) {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let limit = text("x-rate-limit-limit").and_then(|v| v.parse::<u32>().ok()).filter(|n| *n > 0);
        let interval = text("x-rate-limit-interval").and_then(parse_interval);
        if let (Some(limit), Some(interval)) = (limit, interval) {
            let period = (interval / limit).max(self.configured.period());
            let mut current = self.period.lock().expect("period lock is never poisoned");
            if *current != period {
                info!(?period, limit, ?interval, "host announced its rate; limiter adapted");
                *current = period;
                // The request that brought the headers has just been sent:
                // the new limiter starts with its one cell spent.
                let fresh = limiter(period);
                let _ = fresh.check();
                *self.limiter.lock().expect("limiter lock is never poisoned") = fresh;
            }
        }
        if let Some(n) = text("x-concurrency-limit").and_then(|v| v.parse::<u32>().ok()).filter(|n| *n > 0) {
            let want = n.min(self.configured.concurrency.max(1));
            let mut have = self.concurrency.lock().expect("concurrency lock is never poisoned");
            if want > *have {
                self.permits.add_permits((want - *have) as usize);
                *have = want;
            } else if want < *have {
                *have -= self.permits.forget_permits((*have - want) as usize) as u32;
            }
        }
    }

    #[cfg(test)]
    fn period(&self) -> Duration {
        *self.period.lock().unwrap()
    }
}

/// "1s", "60s", "2m", "500ms" or plain seconds.
fn parse_interval(s: &str) -> Option<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = num.trim().parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_interval("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_interval("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_interval("x"), None);
    }

    #[test]
    fn announced_limits_only_tighten() {
        let host = Host::new(HostLimits { requests: 10, per_seconds: 1.0, concurrency: 3 });
        // Crossref's recorded headers: 5 per 1s, concurrency 1.
        host.adapt(&headers(&[
            ("x-rate-limit-limit", "5"),
            ("x-rate-limit-interval", "1s"),
            ("x-concurrency-limit", "1"),
        ]));
        assert_eq!(host.period(), Duration::from_millis(200));
        assert_eq!(host.permits.available_permits(), 1);
        // A looser announcement never goes past the configured rate.
        host.adapt(&headers(&[
            ("x-rate-limit-limit", "50"),
            ("x-rate-limit-interval", "1s"),
            ("x-concurrency-limit", "9"),
        ]));
        assert_eq!(host.period(), Duration::from_millis(100));
        assert_eq!(host.permits.available_permits(), 3);
    }
}
