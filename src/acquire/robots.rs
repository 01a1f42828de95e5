//! Politeness rules read from a host: robots.txt (RFC 9309: the group for our
//! product token, else `*`; the longest matching Allow/Disallow wins, Allow on
//! a tie; `*` and `$` in patterns) and TDMRep (W3C TDM Reservation Protocol:
//! the `tdm-reservation` header and `/.well-known/tdmrep.json`).

use serde_json::Value;

/// A robots.txt group: its user agents and its (allow, pattern) rules.
type Group = (Vec<String>, Vec<(bool, String)>);

/// The rules of one robots.txt that apply to us.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Robots {
    rules: Vec<(bool, String)>,
}

impl Robots {
    /// Parses robots.txt for `agent` (our product token, "emtrace").
    pub fn parse(text: &str, agent: &str) -> Robots {
        let agent = agent.to_ascii_lowercase();
        // Groups: consecutive user-agent lines, then their rules.
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else { continue };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push((Vec::new(), Vec::new()));
                        in_agents = true;
                    }
                    if let Some(g) = groups.last_mut() {
                        g.0.push(value.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        if !(key == "disallow" && value.is_empty()) {
                            g.1.push((key == "allow", value.to_string()));
                        }
                    }
                }
                _ => {}
            }
        }
        let mine: Vec<(bool, String)> = groups
            .iter()
            .filter(|g| g.0.iter().any(|a| a != "*" && agent.contains(a.as_str())))
            .flat_map(|g| g.1.clone())
            .collect();
        let rules =
            if mine.is_empty() && !groups.iter().any(|g| g.0.iter().any(|a| a != "*" && agent.contains(a.as_str()))) {
                groups.iter().filter(|g| g.0.iter().any(|a| a == "*")).flat_map(|g| g.1.clone()).collect()
            } else {
                mine
            };
        Robots { rules }
    }

    /// Whether a path (with its query) may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, path) {
                let len = pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, *allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// RFC 9309 §2.2.3: `*` matches any sequence, a final `$` anchors the end.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !path.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if i == parts.len() - 1 && anchored {
            return path.len() >= pos + part.len() && path.ends_with(part);
        } else {
            match path[pos..].find(part) {
                Some(at) => pos += at + part.len(),
                None => return false,
            }
        }
    }
    !anchored || pos == path.len()
}

/// A host's TDMRep file: locations with a reservation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TdmRep {
    reserved: Vec<(String, bool, Option<String>)>,
}

impl TdmRep {
    /// Parses `/.well-known/tdmrep.json`: `[{"location", "tdm-reservation", "tdm-policy"}]`.
    pub fn parse(body: &[u8]) -> TdmRep {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let reserved = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let location = e.get("location")?.as_str()?.to_string();
                let r =
                    e.get("tdm-reservation").map(|r| r.as_i64() == Some(1) || r.as_str() == Some("1")).unwrap_or(false);
                Some((location, r, e.get("tdm-policy").and_then(Value::as_str).map(str::to_string)))
            })
            .collect();
        TdmRep { reserved }
    }

    /// The reservation for a path: `Some(policy)` when reserved (the first
    /// matching location decides, as the protocol orders them).
    pub fn reserved(&self, path: &str) -> Option<Option<String>> {
        let loc = |l: &str| if l.starts_with('/') { l.to_string() } else { format!("/{l}") };
        self.reserved.iter().find(|(l, _, _)| matches(&loc(l), path)).and_then(|(_, r, p)| r.then(|| p.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robots_longest_match_and_groups() {
        let txt = "User-agent: *\nDisallow: /doi/pdf/\nAllow: /doi/pdf/open/\nDisallow: /*.zip$\n\nUser-agent: BadBot\nDisallow: /\n";
        let r = Robots::parse(txt, "emtrace");
        assert!(!r.allows("/doi/pdf/10.1/x"));
        assert!(r.allows("/doi/pdf/open/10.1/x"));
        assert!(r.allows("/doi/abs/10.1/x"));
        assert!(!r.allows("/suppl/si.zip"));
        assert!(r.allows("/suppl/si.zip?download=1"));
        assert!(!Robots::parse(txt, "BadBot/1.0").allows("/anything"));
        let ours = "User-agent: emtrace\nAllow: /\n\nUser-agent: *\nDisallow: /\n";
        assert!(Robots::parse(ours, "emtrace/0.1").allows("/x"));
        assert!(!Robots::parse(ours, "other").allows("/x"));
        assert!(Robots::parse("", "emtrace").allows("/x"));
        assert!(Robots::parse("User-agent: *\nDisallow:\n", "emtrace").allows("/x"));
    }

    #[test]
    fn tdmrep_locations() {
        let t = TdmRep::parse(
            br#"[{"location": "/articles/*", "tdm-reservation": 1, "tdm-policy": "https://p.example/policy.json"},
                {"location": "*", "tdm-reservation": 0}]"#,
        );
        assert_eq!(t.reserved("/articles/x.pdf"), Some(Some("https://p.example/policy.json".into())));
        assert_eq!(t.reserved("/open/x.pdf"), None);
        assert_eq!(TdmRep::parse(b"not json").reserved("/x"), None);
    }
}
