//! The `eventfold` command: generate, check and validate code for AsyncAPI documents.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Generate Rust for event-sourced AsyncAPI channels.
#[derive(Debug, Parser)]
#[command(name = "eventfold", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate the Rust code of SPEC, to stdout or to FILE.
    Generate {
        /// The AsyncAPI document (YAML or JSON).
        spec: PathBuf,
        /// Write the code to FILE (only if it changed) instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Exit 1 if FILE is not exactly what `generate SPEC` produces.
    Check {
        /// The AsyncAPI document.
        spec: PathBuf,
        /// The generated file to compare.
        file: PathBuf,
    },
    /// Check SPEC without generating code.
    Validate {
        /// The AsyncAPI document.
        spec: PathBuf,
    },
}

/// Exit code for invalid input or usage (clap uses it for usage errors too).
const INVALID: u8 = 2;
/// Exit code when `check` finds the file out of date.
const DRIFT: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Generate { spec, output } => match eventfold_codegen::generate(&spec) {
            Ok(generated) => match output {
                None => {
                    print!("{}", generated.code);
                    ExitCode::SUCCESS
                }
                Some(path) => match eventfold_codegen::write_if_changed(&path, &generated.code) {
                    Ok(_) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("{}: error[output]: cannot write: {e}", path.display());
                        ExitCode::from(INVALID)
                    }
                },
            },
            Err(error) => report(&error),
        },
        Command::Check { spec, file } => match eventfold_codegen::generate(&spec) {
            Ok(generated) => match std::fs::read_to_string(&file) {
                Ok(existing) if existing == generated.code => ExitCode::SUCCESS,
                Ok(existing) => {
                    let line = first_difference(&existing, &generated.code);
                    eprintln!(
                        "{}:{line}: stale: it differs from what `eventfold generate {}` produces (first difference at line {line}); regenerate it",
                        file.display(),
                        spec.display()
                    );
                    ExitCode::from(DRIFT)
                }
                Err(e) => {
                    eprintln!("{}: stale: cannot read it ({e}); generate it with `eventfold generate {} -o {}`", file.display(), spec.display(), file.display());
                    ExitCode::from(DRIFT)
                }
            },
            Err(error) => report(&error),
        },
        Command::Validate { spec } => match eventfold_codegen::validate(&spec) {
            Ok(files) => {
                eprintln!("{}: ok ({} file{} read)", spec.display(), files.len(), if files.len() == 1 { "" } else { "s" });
                ExitCode::SUCCESS
            }
            Err(error) => report(&error),
        },
    }
}

fn report(error: &eventfold_codegen::Error) -> ExitCode {
    eprintln!("{error}");
    ExitCode::from(INVALID)
}

/// The 1-based line where two texts first differ.
fn first_difference(a: &str, b: &str) -> usize {
    a.lines().zip(b.lines()).take_while(|(x, y)| x == y).count() + 1
}
