//! Inputs found by (or tried while) fuzzing the generator, kept so that none of them comes back.
//!
//! Every file under `tests/fixtures/fuzz/` at the workspace root goes through `validate`,
//! `generate` (with both option sets) and `examples`. Each must return — `Ok` or an error value
//! that is not `internal` — without panicking; the files that are documents of several files
//! (see `codegen/fuzz/README.md`) are written out as the fuzz targets do. Each must also finish:
//! a file that hangs the generator hangs this test.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use eventfold_codegen::{ErrorKind, Options};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/fuzz")
}

/// The fuzz targets' separator between the files of one input.
const FILE_SEPARATOR: &[u8] = b"\n%%%\n";

/// Writes `data` as the fuzz targets do: the root document and its siblings `a.EXT`, `b.EXT`, ...
fn write_parts(data: &[u8], ext: &str, dir: &Path) -> PathBuf {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(FILE_SEPARATOR.len()).position(|w| w == FILE_SEPARATOR) {
        parts.push(&rest[..at]);
        rest = &rest[at + FILE_SEPARATOR.len()..];
    }
    parts.push(rest);
    for (i, part) in parts.iter().take(4).enumerate() {
        let name = if i == 0 { format!("asyncapi.{ext}") } else { format!("{}.{ext}", (b'a' + i as u8 - 1) as char) };
        std::fs::write(dir.join(name), part).unwrap();
    }
    dir.join(format!("asyncapi.{ext}"))
}

#[test]
fn fuzz_inputs_give_results_not_panics() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 5, "tests/fixtures/fuzz holds the fuzzers' regression inputs");
    let mut failures = Vec::new();
    for file in &files {
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("yaml");
        let ext = if ext == "json" { "json" } else { "yaml" };
        let dir = tempfile::tempdir().unwrap();
        let root = write_parts(&std::fs::read(file).unwrap(), ext, dir.path());
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let strings = Options::new().formats_as_strings(true);
            [
                eventfold_codegen::validate(&root).map(drop),
                eventfold_codegen::generate(&root).map(drop),
                eventfold_codegen::generate_with(&root, &strings).map(drop),
                eventfold_codegen::examples(&root).map(drop),
            ]
            .into_iter()
            .filter_map(Result::err)
            .map(|e| (e.kind, e.to_string()))
            .collect::<Vec<_>>()
        }));
        match outcome {
            Err(_) => failures.push(format!("{}: panicked", file.display())),
            Ok(errors) => {
                for (kind, message) in errors {
                    if kind == ErrorKind::Internal {
                        failures.push(format!("{}: internal error: {message}", file.display()));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
