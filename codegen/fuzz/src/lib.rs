//! Shared by the fuzz targets: run every public entry point of the generator over a document.
//!
//! Any outcome is fine (`Ok` or an error value) except a panic, a hang, running out of memory,
//! and `ErrorKind::Internal`: that one says the generator emitted tokens that do not parse, a
//! bug in eventfold rather than in the document.

use std::path::Path;

use eventfold_codegen::{ErrorKind, Options};

pub mod tree;

/// Separates the files of one input: the first is the root document, the others sit beside it
/// as `a.EXT`, `b.EXT`, ... so that relative `$ref`s have something to find.
pub const FILE_SEPARATOR: &[u8] = b"\n%%%\n";

/// Writes `data` (split at [`FILE_SEPARATOR`]) into a fresh temporary directory as
/// `asyncapi.EXT` and its siblings, and runs the generator on it.
pub fn run_bytes(data: &[u8], ext: &str) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let mut parts = split(data, FILE_SEPARATOR);
    parts.truncate(4);
    let mut root = None;
    for (i, part) in parts.iter().enumerate() {
        let name = if i == 0 { format!("asyncapi.{ext}") } else { format!("{}.{ext}", (b'a' + i as u8 - 1) as char) };
        let path = dir.path().join(name);
        if std::fs::write(&path, part).is_err() {
            return;
        }
        root.get_or_insert(path);
    }
    if let Some(root) = root {
        run_path(&root);
    }
}

/// Runs `generate` (both option sets), `validate` and `examples` on the document at `path`.
pub fn run_path(path: &Path) {
    check(eventfold_codegen::validate(path).map(drop));
    check(eventfold_codegen::generate(path).map(drop));
    check(eventfold_codegen::generate_with(path, &Options::new().formats_as_strings(true)).map(drop));
    check(eventfold_codegen::examples(path).map(drop));
}

fn check(result: eventfold_codegen::Result<()>) {
    if let Err(error) = result {
        assert!(error.kind != ErrorKind::Internal, "internal error: {error}");
        // Rendering the diagnostic must not panic either.
        let _ = error.to_string();
    }
}

fn split<'a>(data: &'a [u8], separator: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(separator.len()).position(|w| w == separator) {
        parts.push(&rest[..at]);
        rest = &rest[at + separator.len()..];
    }
    parts.push(rest);
    parts
}
