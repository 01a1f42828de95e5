//! Benchmarks that print their own figures and a baseline's or reference's,
//! measured in the same run, over the real data in `../shared/data`.

pub mod extract;
pub mod figures;
pub mod matching;
pub mod scan;

pub use extract::{print_extract, run_extract, ExtractBenchOptions};
pub use figures::{databar_checks, print_figures, run_figures, DatabarCheck, FiguresBenchOptions};
pub use matching::{print_match, run_match, MatchBenchOptions};
pub use scan::{print_scan, scan, ScanBenchOptions};

/// `a` of `b` as a percentage with one decimal, `-` when `b` is 0.
fn pct(a: usize, b: usize) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * a as f64 / b as f64)
    }
}
