//! Per-host politeness for pages and files: robots.txt and TDMRep, each
//! fetched once per host and run (through the same limited client) and
//! cached. A host whose robots.txt cannot be read (404, 5xx, network) is
//! taken to allow everything, as RFC 9309 §2.3.1.3 says for "unavailable";
//! an unreachable tdmrep.json reserves nothing.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;
use tracing::{debug, info};

use super::outcome::FileState;
use super::robots::{Robots, TdmRep};
use crate::http::{host_key, Http, Request, Url};

/// Our robots.txt product token.
pub const AGENT: &str = "emtrace";

#[derive(Debug, Default)]
struct HostRules {
    robots: Robots,
    tdm: TdmRep,
}

/// The cache.
#[derive(Debug, Default)]
pub struct Politeness {
    hosts: Mutex<HashMap<String, Arc<HostRules>>>,
}

impl Politeness {
    async fn rules(&self, http: &Http, url: &Url) -> Arc<HostRules> {
        let key = format!("{}://{}", url.scheme(), host_key(url));
        let mut hosts = self.hosts.lock().await;
        if let Some(r) = hosts.get(&key) {
            return r.clone();
        }
        let fetch = |path: &str| {
            let mut u = url.clone();
            u.set_path(path);
            u.set_query(None);
            u.set_fragment(None);
            Request::get(u)
        };
        let robots = match http.send(&fetch("/robots.txt")).await {
            Ok(r) if r.status.is_success() => Robots::parse(&String::from_utf8_lossy(&r.body), AGENT),
            Ok(r) if r.status.is_client_error() => Robots::default(),
            Ok(r) => {
                debug!(%key, status = r.status.as_u16(), "robots.txt unavailable: allowed");
                Robots::default()
            }
            Err(e) => {
                debug!(%key, %e, "robots.txt unreachable: allowed");
                Robots::default()
            }
        };
        let tdm = match http.send(&fetch("/.well-known/tdmrep.json")).await {
            Ok(r) if r.status.is_success() => TdmRep::parse(&r.body),
            _ => TdmRep::default(),
        };
        let rules = Arc::new(HostRules { robots, tdm });
        hosts.insert(key, rules.clone());
        rules
    }

    /// Whether a URL may be fetched: `Err(Robots)` or `Err(TdmReserved)` if not.
    pub async fn check(&self, http: &Http, url: &Url) -> Result<(), FileState> {
        let rules = self.rules(http, url).await;
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        if !rules.robots.allows(&path) {
            return Err(FileState::Robots);
        }
        if let Some(policy) = rules.tdm.reserved(url.path()) {
            info!(%url, policy = policy.as_deref().unwrap_or("-"), "TDM rights reserved (tdmrep.json)");
            return Err(FileState::TdmReserved);
        }
        Ok(())
    }
}
