//! The one progress-bar style of every long stage.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps labelled `what`, or a hidden one when not `shown`
/// (`--quiet`, `--json`, or too little work to be worth one).
pub fn bar(len: u64, shown: bool, what: &str) -> ProgressBar {
    let bar = if shown { ProgressBar::new(len) } else { ProgressBar::hidden() };
    let template = format!("{{spinner}} {what} {{wide_bar}} {{pos}}/{{len}}, {{per_sec}}, eta {{eta}} {{msg}}");
    bar.set_style(ProgressStyle::with_template(&template).expect("static template"));
    bar
}
