//! The facility profile (TOML): who the facility is, which instruments it runs
//! and under which names, where its archive lives, how an archive path names
//! the user and project, whom the APIs may contact, and when to crawl.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::archive::vendor::Modality;
use crate::discover::source::SourceOverride;

/// Errors reading a profile.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The profile path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("parsing {path}: {source}")]
    Toml {
        /// The profile path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A path rule's regex does not compile.
    #[error("path rule {pattern:?}: {source}")]
    Rule {
        /// The rule.
        pattern: String,
        /// The cause.
        #[source]
        source: Box<regex::Error>,
    },
}

/// A facility profile.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Facility name.
    #[serde(default)]
    pub facility: String,
    /// Contact email sent to the APIs' polite pools.
    #[serde(default)]
    pub contact_email: Option<String>,
    /// Affiliations as written in papers, with ROR ids where known.
    #[serde(default)]
    pub affiliations: Vec<Affiliation>,
    /// The facility's instruments.
    #[serde(default)]
    pub instruments: Vec<Instrument>,
    /// Phrases papers use to thank the facility ("Shared Research Center of
    /// ZIOC RAS"), searched in acknowledgements.
    #[serde(default)]
    pub acknowledgements: Vec<String>,
    /// Changes to the shipped bibliographic sources (`sources/*.toml`), by
    /// name: `base_url`, `enabled`, `api_key`, `limits`, `page_size`, `max_pages`.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceOverride>,
    /// Archive roots to scan when `archive scan` is given no directory.
    #[serde(default)]
    pub archive_roots: Vec<PathBuf>,
    /// Rules mapping an archive path to user and project; the first that matches wins.
    #[serde(default)]
    pub path_rules: Vec<PathRule>,
    /// When crawls run.
    #[serde(default)]
    pub schedule: Schedule,
}

/// An affiliation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Affiliation {
    /// Free text, as papers write it.
    pub name: String,
    /// ROR id, e.g. `https://ror.org/…`.
    #[serde(default)]
    pub ror: Option<String>,
}

/// An instrument and the names papers use for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    /// Maker, e.g. "Hitachi".
    pub vendor: String,
    /// Model, e.g. "SU8000".
    pub model: String,
    /// Other written forms ("SU-8000", "Regulus 8230").
    #[serde(default)]
    pub synonyms: Vec<String>,
    /// SEM, TEM or STEM.
    pub modality: Modality,
}

/// Maps archive paths to user and project: a regex over the path relative to
/// its root (with `/` separators), with named groups `user` and `project`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    /// e.g. `^(?P<user>[^/]+)/(?P<year>\d{4})/(?P<project>[^/]+)/`.
    pub pattern: String,
}

/// Crawl schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Cron expression (minute hour day-of-month month day-of-week).
    #[serde(default = "Schedule::default_cron")]
    pub cron: String,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule { cron: Schedule::default_cron() }
    }
}

impl Schedule {
    fn default_cron() -> String {
        "0 3 * * 1".to_string()
    }
}

impl Profile {
    /// Reads and checks a profile.
    pub fn load(path: &Path) -> Result<Profile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.into(), source })?;
        let mut profile: Profile = toml::from_str(&text)
            .map_err(|source| ConfigError::Toml { path: path.into(), source: Box::new(source) })?;
        profile.path_rules()?;
        // Relative archive roots are relative to the profile's folder.
        let base = path.parent().unwrap_or(Path::new("."));
        for root in profile.archive_roots.iter_mut() {
            if root.is_relative() {
                *root = base.join(&*root);
            }
        }
        Ok(profile)
    }

    /// The compiled path rules.
    pub fn path_rules(&self) -> Result<PathRules, ConfigError> {
        let rules = self
            .path_rules
            .iter()
            .map(|r| {
                Regex::new(&r.pattern)
                    .map_err(|source| ConfigError::Rule { pattern: r.pattern.clone(), source: Box::new(source) })
            })
            .collect::<Result<_, _>>()?;
        Ok(PathRules(rules))
    }
}

/// Compiled [`PathRule`]s.
#[derive(Debug, Clone, Default)]
pub struct PathRules(Vec<Regex>);

/// User and project named by an archive path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathOwner {
    /// The `user` group.
    pub user: Option<String>,
    /// The `project` group.
    pub project: Option<String>,
}

impl PathRules {
    /// Applies the first rule that matches `rel` (a `/`-separated relative path).
    pub fn owner(&self, rel: &str) -> PathOwner {
        for re in &self.0 {
            if let Some(c) = re.captures(rel) {
                let group = |name: &str| c.name(name).map(|m| m.as_str().to_string()).filter(|s| !s.is_empty());
                return PathOwner { user: group("user"), project: group("project") };
            }
        }
        PathOwner::default()
    }
}

/// The commented profile that `emtrace init` writes.
pub const TEMPLATE: &str = r#"# emtrace facility profile.
# Every key is optional; `emtrace archive scan DIR` works without a profile.

# The facility's name, used in reports.
facility = "My EM facility"

# Sent to Crossref / OpenAlex / Unpaywall so that they can reach you (polite pools).
contact_email = "em-facility@example.org"

# Where the archive lives (relative paths are relative to this file).
archive_roots = []

# Affiliations as they appear in papers; ROR ids make OpenAlex queries exact.
[[affiliations]]
name = "Example Institute of Chemistry"
# ror = "https://ror.org/..."

# How papers thank the facility, searched in acknowledgements (Europe PMC).
# acknowledgements = ["Electron Microscopy Core of the Example Institute"]

# Instruments: model, the other ways papers write it, and the modality (SEM, TEM, STEM).
[[instruments]]
vendor = "Hitachi"
model = "SU8000"
synonyms = ["SU-8000", "SU 8000"]
modality = "SEM"

# How an archive path names its user and project: regexes over the path relative
# to its root, with named groups `user` and `project`; the first match wins.
# Without a match, the user name the instrument recorded is used.
[[path_rules]]
pattern = '^(?P<user>[^/]+)/(?P<year>\d{4})/(?P<project>[^/]+)/'

# When the weekly crawl runs (cron: minute hour day-of-month month day-of-week).
[schedule]
cron = "0 3 * * 1"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_and_rules_apply() {
        let p: Profile = toml::from_str(TEMPLATE).unwrap();
        let rules = p.path_rules().unwrap();
        let o = rules.owner("ivanov/2021/catalysts/img_001.tif");
        assert_eq!(o.user.as_deref(), Some("ivanov"));
        assert_eq!(o.project.as_deref(), Some("catalysts"));
        assert_eq!(rules.owner("loose.tif"), PathOwner::default());
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml::from_str::<Profile>("facilty = \"typo\"").is_err());
    }
}
