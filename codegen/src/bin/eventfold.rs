//! The `eventfold` command: generate, check and validate code for AsyncAPI documents.
//! Exit codes: 0 ok, 1 `check` found drift, 2 invalid input or usage.

use std::process::ExitCode;

fn main() -> ExitCode {
    let code =
        eventfold_codegen::cli::run(std::env::args_os(), &mut std::io::stdout().lock(), &mut std::io::stderr().lock());
    ExitCode::from(code)
}
