//! emtrace links a microscopy facility's archived acquisitions to the published
//! figures that use them. Each stage is a module; the binary (`src/main.rs`,
//! `src/cli/`) only parses, calls a stage and prints.
//!
//! # Safety
//! No unsafe code: `#![forbid(unsafe_code)]`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod acquire;
pub mod archive;
pub mod bench;
pub mod config;
pub mod discover;
pub mod extract;
pub mod figure;
pub mod fingerprint;
pub mod http;
pub mod matching;
pub mod progress;
pub mod store;
