//! Helpers shared by the tests that build scratch cargo projects.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// The workspace root.
pub fn workspace() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests.parent().expect("tests/ has a parent").to_path_buf()
}

/// A TOML literal string holding `path`.
pub fn toml_path(path: &Path) -> String {
    let path = path.display().to_string();
    assert!(!path.contains('\''), "path with a quote: {path}");
    format!("'{path}'")
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A scratch cargo project outside the workspace, built with the cargo that runs the tests,
/// offline, into a target directory under the workspace's so that dependencies compile once.
pub struct Project {
    dir: tempfile::TempDir,
    target: PathBuf,
    cargo: PathBuf,
}

impl Project {
    /// A project in `dir` that builds into `target`.
    pub fn new(dir: tempfile::TempDir, target: PathBuf) -> Project {
        let cargo = std::env::var_os("CARGO").map(PathBuf::from).unwrap_or_else(|| "cargo".into());
        Project { dir, target, cargo }
    }

    /// The project's directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A cargo command in the project, without what cargo set for the test process.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.cargo);
        command.args(args).current_dir(self.root());
        // What cargo set for this test process describes *this* package, not the user's.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            let inherited_from_cargo = ["CARGO_PKG_", "CARGO_BIN_", "CARGO_CRATE_", "CARGO_MANIFEST_"]
                .iter()
                .any(|prefix| key.starts_with(prefix))
                || [
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_TARGET_DIR",
                    "CARGO_BUILD_TARGET_DIR",
                    "CARGO_MAKEFLAGS",
                    "OUT_DIR",
                ]
                .contains(&key.as_ref());
            if inherited_from_cargo {
                command.env_remove(key.as_ref());
            }
        }
        command.env("CARGO_TARGET_DIR", &self.target).env("CARGO_NET_OFFLINE", "true").env("CARGO_TERM_COLOR", "never");
        command
    }

    /// Runs cargo, printing how long it took.
    pub fn run(&self, args: &[&str]) -> Output {
        let started = Instant::now();
        let output = self.command(args).output().unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
        eprintln!("cargo {}: {:.1?} ({})", args.join(" "), started.elapsed(), output.status);
        output
    }

    /// Runs cargo and asserts that it succeeded; returns (stdout, stderr).
    pub fn ok(&self, args: &[&str]) -> (String, String) {
        let output = self.run(args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "`cargo {}` failed ({}) in {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            args.join(" "),
            output.status,
            self.root().display()
        );
        (stdout, stderr)
    }
}

/// The `check` module of a scratch crate that round-trips JSON payloads through generated
/// channel types: `check::<M>(label, name, payload)` decodes `payload` as message `name` of
/// channel `M`, encodes it back and prints `label \t name \t ok|fail \t why`.
///
/// Equality takes `8` and `8.0` as the same number, and a property that is `null` as the same as
/// one that is absent (an optional nullable field is `None` either way, and `None` is not written).
pub const ROUND_TRIP_RS: &str = r#"
use eventfold::serde_json::{self, Value};
use eventfold::ChannelMessage;

fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64() && (x.as_i64() == y.as_i64() || x.is_f64() || y.is_f64()),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            let present = |m: &serde_json::Map<String, Value>| m.values().filter(|v| !v.is_null()).count();
            present(x) == present(y)
                && x.iter().all(|(k, v)| match y.get(k) {
                    Some(w) => same_json(v, w),
                    None => v.is_null(),
                })
        }
        _ => a == b,
    }
}

/// Decodes `payload` as message `name` of channel `M` and encodes it back; prints the verdict.
pub fn check<M: ChannelMessage>(label: &str, name: &str, payload: &str) {
    let verdict = match serde_json::from_str::<Value>(payload) {
        Err(e) => format!("fail\tnot JSON: {e}"),
        Ok(value) => match M::deserialize_named(name, &value) {
            Err(e) => format!("fail\tdecode: {e}"),
            Ok(message) => match serde_json::to_value(&message) {
                Err(e) => format!("fail\tencode: {e}"),
                Ok(back) if same_json(&back, &value) => "ok\t".to_owned(),
                Ok(back) => format!("fail\tencoded back as {back}"),
            },
        },
    };
    println!("{label}\t{name}\t{verdict}");
}
"#;

/// One verdict line printed by [`ROUND_TRIP_RS`]'s `check`: label, message name, and `None` for
/// a success or `Some(why)` for a failure.
pub fn parse_round_trip(line: &str) -> Option<(&str, &str, Option<&str>)> {
    let cells: Vec<&str> = line.splitn(4, '\t').collect();
    match cells.as_slice() {
        [label, name, "ok", _] => Some((label, name, None)),
        [label, name, _, why] => Some((label, name, Some(why))),
        _ => None,
    }
}

/// Writes a scratch crate `name` into `dir`: `src/lib.rs`, `src/main.rs`, the round-trip checker
/// as `src/check.rs`, and a manifest depending only on the workspace's `eventfold` (no default
/// features), with the workspace's `Cargo.lock` so that nothing is resolved anew.
pub fn write_round_trip_crate(dir: &Path, name: &str, lib: &str, main: &str) {
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("lib.rs"), lib).unwrap();
    fs::write(src.join("check.rs"), ROUND_TRIP_RS).unwrap();
    fs::write(src.join("main.rs"), main).unwrap();
    fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\neventfold = {{ path = {}, default-features = false }}\n\n[workspace]\n",
            toml_path(&workspace().join("runtime"))
        ),
    )
    .unwrap();
    fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}
