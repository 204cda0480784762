//! # eventfold-codegen
//!
//! Generates Rust from AsyncAPI documents that describe event-sourced channels: per channel a
//! module with the payload and header types, a `Message` enum of the channel's messages, and a
//! publisher or handler trait for each operation. The generated code depends only on the
//! [`eventfold`](https://docs.rs/eventfold) runtime crate.
//!
//! Two front ends share one pipeline (load → spec → ir → emit → output):
//!
//! * [`Builder`] for `build.rs`, writing into `OUT_DIR`;
//! * the `eventfold` command line (`generate`, `check`, `validate`), behind the `cli` feature.
//!
//! ```no_run
//! let generated = eventfold_codegen::generate("event-source.json")?;
//! println!("{}", generated.code);
//! # Ok::<(), eventfold_codegen::Error>(())
//! ```

#[cfg(feature = "cli")]
pub mod cli;
mod emit;
mod error;
mod ir;
mod load;
mod output;
mod spec;

pub use error::{Error, ErrorKind, Location, Result};
pub use output::{examples, generate, generate_with, validate, write_if_changed, Builder, Example, Generated, Options};
