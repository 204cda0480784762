//! The `eventfold` command: generate, check and validate code for AsyncAPI documents.
//! Exit codes: 0 ok, 1 `check` found drift, 2 invalid input or usage.

use std::process::ExitCode;

/// Generating is allocation-heavy (token streams, syntax trees) and spread over threads, where
/// mimalloc is several times cheaper per allocation than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let code =
        eventfold_codegen::cli::run(std::env::args_os(), &mut std::io::stdout().lock(), &mut std::io::stderr().lock());
    ExitCode::from(code)
}
