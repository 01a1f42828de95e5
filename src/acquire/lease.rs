//! Who holds a lease: `<host>:<pid>`. A lease runs for [`TTL`]; one held by
//! a process of this host that no longer runs is taken back at once.

use std::time::Duration;

/// How long a lease holds when its worker stops without finishing.
pub const TTL: Duration = Duration::from_secs(30 * 60);

fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// This worker's name.
pub fn owner() -> String {
    format!("{}:{}", host(), std::process::id())
}

/// The owners among `owners` that ran on this host and have exited (Linux:
/// no `/proc/<pid>`; elsewhere none is known dead and leases run out).
pub fn dead_on_this_host(owners: &[String]) -> Vec<String> {
    let me = host();
    let proc_fs = std::path::Path::new("/proc/self").exists();
    owners
        .iter()
        .filter(|o| {
            let Some((h, pid)) = o.rsplit_once(':') else { return false };
            proc_fs && h == me && pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists()
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exited_workers_of_this_host_are_dead() {
        let me = owner();
        let gone = format!("{}:{}", host(), u32::MAX - 7);
        let elsewhere = format!("other-host:{}", u32::MAX - 7);
        let dead = dead_on_this_host(&[me, gone.clone(), elsewhere]);
        if std::path::Path::new("/proc/self").exists() {
            assert_eq!(dead, [gone]);
        }
    }
}
