//! The generator used the way a new user uses it: from the build script of a fresh cargo project.
//!
//! The test writes a project into a temporary directory — `eventfold` as its only dependency,
//! `eventfold-codegen` (`default-features = false`) as its only build-dependency, the awkward
//! fixture (`fixtures/awkward/`: keywords, collisions, recursive schemas, messages split across
//! files) as its document — and then checks, with the real cargo, offline:
//!
//! 1. `cargo build` succeeds and the code compiles under `#![deny(warnings)]`; so does
//!    `cargo clippy -- -D warnings` when clippy is installed;
//! 2. the generated file starts with `// @generated`;
//! 3. the build script printed `cargo:rerun-if-changed` for the root document and for both
//!    `$ref`'d files, and for nothing under `OUT_DIR`;
//! 4. touching a `$ref`'d file reruns the build script (and, the generated code being the same,
//!    leaves the generated file alone: write-if-changed); a rebuild without changes does not;
//! 5. `clap` is not in the normal + build dependency graph;
//! 6. `cargo test` in the project passes: generated types round-trip through serde_json.
//!
//! It runs in plain `cargo test --workspace`. The project's artifacts go to
//! `<workspace>/target/e2e-build-script`, so the runtime (with its bundled SQLite) and the generator
//! are compiled once: the first run takes one to two minutes, later runs a few seconds each step.
//! The workspace's `Cargo.lock` is copied in, so versions match and nothing is fetched.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use support::{copy_dir, toml_path, workspace, Project};

/// The name of the user's package; its artifacts are cleaned from the shared target dir at the end.
const PACKAGE: &str = "eventfold-e2e-user";

const BUILD_RS: &str = r#"fn main() {
    match eventfold_codegen::Builder::new().compile("asyncapi.yaml") {
        Ok(path) => {
            // Test instrumentation, not something a user needs: where the output went, and a
            // nonce that makes every run of this script leave a different `output` file.
            let nonce = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            println!("cargo:warning=generated {} (run {nonce})", path.display());
        }
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    }
}
"#;

const LIB_RS: &str = r#"#![deny(warnings)]
//! What a user writes: the generated code, included from `OUT_DIR`.

pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/asyncapi.rs"));
}

#[cfg(test)]
mod tests {
    use super::generated::{tree_channel, user_events};
    use eventfold::serde_json::{self, json};
    use eventfold::ChannelMessage as _;

    #[test]
    fn round_trip_user_created() {
        let message = user_events::Message::UserCreated(user_events::UserCreated {
            user: user_events::User {
                id: "u-1".to_owned(),
                email: Some("a@example.com".to_owned()),
                roles: vec![user_events::UserRolesItem::Admin],
            },
        });
        let value = serde_json::to_value(&message).unwrap();
        assert_eq!(
            value,
            json!({"kind": "user-created", "user": {"id": "u-1", "email": "a@example.com", "roles": ["admin"]}})
        );
        let back: user_events::Message = serde_json::from_value(value).unwrap();
        assert_eq!(back, message);
        assert_eq!(back.name(), "user-created");
    }

    #[test]
    fn round_trip_recursive_tree_by_name() {
        let leaf = |value| tree_channel::Tree { value, children: None, parent: None, meta: None };
        let message = tree_channel::Message::TreeChanged(tree_channel::Tree {
            value: 1,
            children: Some(vec![leaf(2), leaf(3)]),
            parent: Some(Box::new(leaf(0))),
            meta: Some(json!({"any": ["thing", 1]})),
        });
        let bytes = eventfold::encode_json(&message).unwrap();
        let back: tree_channel::Message = eventfold::decode_json("TreeChanged", &bytes).unwrap();
        assert_eq!(back, message);
    }
}
"#;

fn mtime(path: &Path) -> SystemTime {
    fs::metadata(path).and_then(|m| m.modified()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write_project(workspace: &Path) -> Project {
    let dir = tempfile::Builder::new().prefix("eventfold-e2e-").tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join("Cargo.toml"),
        format!(
            "[package]\n\
             name = \"{PACKAGE}\"\n\
             version = \"0.0.0\"\n\
             edition = \"2021\"\n\
             publish = false\n\
             \n\
             [dependencies]\n\
             eventfold = {{ path = {} }}\n\
             \n\
             [build-dependencies]\n\
             eventfold-codegen = {{ path = {}, default-features = false }}\n\
             \n\
             # Its own workspace, not a stray member of whatever lies above the temp dir.\n\
             [workspace]\n",
            toml_path(&workspace.join("runtime")),
            toml_path(&workspace.join("codegen")),
        ),
    )
    .unwrap();
    fs::copy(workspace.join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
    copy_dir(&workspace.join("tests/fixtures/awkward"), root);
    fs::write(root.join("build.rs"), BUILD_RS).unwrap();
    fs::create_dir_all(root.join("src")).unwrap();
    fs::write(root.join("src/lib.rs"), LIB_RS).unwrap();
    Project::new(dir, workspace.join("target/e2e-build-script"))
}

/// The path the build script reported in its `cargo:warning=generated PATH (run NONCE)` line.
fn generated_path(stderr: &str) -> PathBuf {
    let line = stderr
        .lines()
        .filter(|line| line.contains("warning") && line.contains(PACKAGE))
        .find_map(|line| line.split_once(": generated ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("the build script did not report its output:\n{stderr}"));
    let path = line.rsplit_once(" (run ").map_or(line, |(path, _)| path);
    PathBuf::from(path)
}

/// The lines the build script printed, as cargo keeps them: `<OUT_DIR>/../output`.
fn script_output(out_dir: &Path) -> String {
    let path = out_dir.parent().expect("OUT_DIR has a parent").join("output");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Whether cargo's `-v` output shows this package's build script being run.
fn ran_build_script(stderr: &str) -> bool {
    stderr.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("Running") && line.contains("build-script-build") && line.contains(PACKAGE)
    })
}

fn canonical(root: &Path, path: &str) -> PathBuf {
    let path = root.join(path);
    path.canonicalize().unwrap_or_else(|e| panic!("rerun-if-changed names {}: {e}", path.display()))
}

#[test]
fn a_new_user_builds_the_awkward_document_from_build_rs() {
    let started = Instant::now();
    let workspace = workspace();
    let project = write_project(&workspace);
    let root = project.root().canonicalize().unwrap();

    // 1. Build (and lint, when clippy is there): the generated code compiles without edits.
    let (_, stderr) = project.ok(&["build", "--offline", "-v"]);
    assert!(ran_build_script(&stderr), "the first build did not run the build script:\n{stderr}");
    let generated = generated_path(&stderr);
    let out_dir = generated.parent().expect("generated file has a parent").canonicalize().unwrap();
    assert_eq!(generated.file_name().and_then(|n| n.to_str()), Some("asyncapi.rs"));

    let has_clippy = project.command(&["clippy", "--version"]).output().is_ok_and(|o| o.status.success());
    if has_clippy {
        project.ok(&["clippy", "--offline", "--", "-D", "warnings"]);
    } else {
        eprintln!("clippy is not installed: skipping `cargo clippy -- -D warnings`");
    }

    // 2. The header.
    let code = fs::read_to_string(&generated).unwrap();
    assert!(code.starts_with("// @generated"), "no @generated header:\n{}", &code[..code.len().min(300)]);

    // 3. rerun-if-changed: every file the loader read, the $ref'd ones included; no output.
    let output = script_output(&out_dir);
    let reruns: Vec<PathBuf> = output
        .lines()
        .filter_map(|line| {
            line.strip_prefix("cargo:rerun-if-changed=").or_else(|| line.strip_prefix("cargo::rerun-if-changed="))
        })
        .map(|path| canonical(&root, path))
        .collect();
    for input in ["asyncapi.yaml", "common/messages.yaml", "common/schemas.yaml"] {
        let input = root.join(input);
        assert!(reruns.contains(&input), "no rerun-if-changed for {}:\n{output}", input.display());
    }
    for rerun in &reruns {
        assert!(!rerun.starts_with(&out_dir), "rerun-if-changed on an output, {}:\n{output}", rerun.display());
        assert!(rerun.starts_with(&root), "rerun-if-changed outside the project, {}:\n{output}", rerun.display());
    }

    // 4. Touching a $ref'd file reruns the build script; nothing changed, nothing reruns.
    let generated_mtime = mtime(&generated);
    // Past the granularity of coarse file-system clocks, so the touch is seen as newer.
    std::thread::sleep(Duration::from_millis(1100));
    let schemas = root.join("common/schemas.yaml");
    let mut text = fs::read_to_string(&schemas).unwrap();
    text.push_str("\n# touched by tests/build_script.rs\n");
    fs::write(&schemas, text).unwrap();
    fs::File::options().write(true).open(&schemas).unwrap().set_modified(SystemTime::now()).unwrap();

    let (_, stderr) = project.ok(&["build", "--offline", "-v"]);
    let touched_output = script_output(&out_dir);
    assert_ne!(touched_output, output, "touching common/schemas.yaml did not rerun the build script:\n{stderr}");
    assert!(ran_build_script(&stderr), "touching common/schemas.yaml did not rerun the build script:\n{stderr}");
    assert_eq!(mtime(&generated), generated_mtime, "same code, yet the output was rewritten (write-if-changed)");

    let (_, stderr) = project.ok(&["build", "--offline", "-v"]);
    assert_eq!(script_output(&out_dir), touched_output, "a rebuild without changes reran the build script:\n{stderr}");
    assert!(!ran_build_script(&stderr), "a rebuild without changes reran the build script:\n{stderr}");

    // 5. No clap with default-features = false.
    let (tree, _) = project.ok(&["tree", "--offline", "-e", "normal,build", "--prefix", "none"]);
    let crates: Vec<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
    assert!(crates.contains(&"eventfold-codegen"), "eventfold-codegen missing from the tree:\n{tree}");
    assert!(
        !crates.iter().any(|name| *name == "clap" || name.starts_with("clap_")),
        "clap is in the dependency graph of a build.rs user:\n{tree}"
    );

    // 6. The user's own tests: generated types round-trip through serde_json.
    let (stdout, _) = project.ok(&["test", "--offline"]);
    for test in ["round_trip_user_created", "round_trip_recursive_tree_by_name"] {
        assert!(stdout.contains(&format!("{test} ... ok")), "`{test}` did not pass:\n{stdout}");
    }

    // Keep the shared target dir from collecting one copy of this package per run.
    let _ = project.run(&["clean", "--offline", "-p", PACKAGE]);
    eprintln!("build_script: {:.1?} in all", started.elapsed());
}
