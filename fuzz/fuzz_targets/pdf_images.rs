//! The PDF image path: load, walk pages, forms, inline images, decode every
//! image. Any panic or hang is a bug; errors are fine.
#![no_main]

use std::time::Duration;

use emtrace::extract::{extract_bytes, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_pixels: 1 << 22,
        max_decompressed: 16 << 20,
        time_per_file: Duration::from_secs(5),
        ..Limits::default()
    };
    // The fuzzer needs panics to surface, so call the PDF path below the
    // panic guard of `extract_bytes` when the input is a PDF.
    if data.windows(5).take(1024).any(|w| w == b"%PDF-") {
        let _ = emtrace::extract::pdf::extract(data, &limits);
    } else {
        let _ = extract_bytes(data, &limits);
    }
});
