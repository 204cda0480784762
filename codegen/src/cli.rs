//! The `eventfold` command line, as a function that the binary and the tests both call.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

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
        #[command(flatten)]
        options: CodeOptions,
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
        #[command(flatten)]
        options: CodeOptions,
    },
    /// Check SPEC without generating code.
    Validate {
        /// The AsyncAPI document.
        spec: PathBuf,
    },
}

/// Options that change the generated code.
#[derive(Debug, clap::Args)]
struct CodeOptions {
    /// Keep strings with a `format` (uuid, date-time, date) as `String`.
    #[arg(long)]
    formats_as_strings: bool,
}

impl CodeOptions {
    fn options(&self) -> crate::Options {
        crate::Options::new().formats_as_strings(self.formats_as_strings)
    }
}

/// Exit code: success.
pub const OK: u8 = 0;
/// Exit code: `check` found the file out of date.
pub const DRIFT: u8 = 1;
/// Exit code: invalid input or usage.
pub const INVALID: u8 = 2;

/// Runs the command line `args` (the program name first), writing generated code to `out` and
/// diagnostics to `err`. Returns the exit code.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let help = matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion);
            let rendered = e.render().to_string();
            return if help {
                let _ = write!(out, "{rendered}");
                OK
            } else {
                let _ = write!(err, "{rendered}");
                INVALID
            };
        }
    };
    match execute(cli.command, out, err) {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(err, "{error}");
            INVALID
        }
    }
}

fn execute(command: Command, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, crate::Error> {
    match command {
        Command::Generate { spec, options, output } => {
            let generated = crate::generate_with(&spec, &options.options())?;
            match output {
                None => {
                    if let Err(e) = out.write_all(generated.code.as_bytes()) {
                        let _ = writeln!(err, "<stdout>: error[output]: {e}");
                        return Ok(INVALID);
                    }
                }
                Some(path) => {
                    if let Err(e) = crate::write_if_changed(&path, &generated.code) {
                        let _ = writeln!(err, "{}: error[output]: cannot write: {e}", path.display());
                        return Ok(INVALID);
                    }
                }
            }
            Ok(OK)
        }
        Command::Check { spec, file, options } => {
            let generated = crate::generate_with(&spec, &options.options())?;
            match std::fs::read_to_string(&file) {
                Ok(existing) if existing == generated.code => Ok(OK),
                Ok(existing) => {
                    let line = first_difference(&existing, &generated.code);
                    let _ = writeln!(
                        err,
                        "{}:{line}: stale: differs from what `eventfold generate {}` produces; regenerate it",
                        file.display(),
                        spec.display()
                    );
                    Ok(DRIFT)
                }
                Err(e) => {
                    let _ = writeln!(
                        err,
                        "{}: stale: cannot read it ({e}); create it with `eventfold generate {} -o {}`",
                        file.display(),
                        spec.display(),
                        file.display()
                    );
                    Ok(DRIFT)
                }
            }
        }
        Command::Validate { spec } => {
            let files = crate::validate(&spec)?;
            let plural = if files.len() == 1 { "" } else { "s" };
            let _ = writeln!(err, "{}: ok ({} file{plural} read)", spec.display(), files.len());
            Ok(OK)
        }
    }
}

/// The 1-based line where two texts first differ.
fn first_difference(a: &str, b: &str) -> usize {
    a.lines().zip(b.lines()).take_while(|(x, y)| x == y).count() + 1
}
