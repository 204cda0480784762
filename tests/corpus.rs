//! The public AsyncAPI corpus (`EVENTFOLD_CORPUS`, see its `MANIFEST.md`) through the generator.
//!
//! 1. Every file of the corpus — valid, invalid, fragments — goes through `generate`; none may
//!    panic.
//! 2. Everything generated is compiled in one scratch crate, each document a module, under
//!    `#![deny(warnings)]` with `eventfold` as its only dependency.
//! 3. Every `examples` payload of those documents that matches its payload schema (checked with
//!    the `jsonschema` crate, draft 7, `$ref`s resolved from local files) is decoded by name into
//!    its generated type and encoded back; it must give equal JSON. Examples that do not match
//!    their own schema are counted and listed, not round-tripped.
//! 4. The tallies are printed: generated, refused by reason, failed. Of the schema-valid 2.x/3.x
//!    documents whose `$ref`s all resolve locally (the manifest's "valid" without caveat: no
//!    remote, dangling or root-relative `$ref`), at least 95% must generate compiling code; the
//!    share of all schema-valid 2.x/3.x documents is printed too. Every refusal of a valid
//!    document must name its reason (an unsupported feature, a remote or dangling `$ref`).
//!
//! The scratch crate builds into `<workspace>/target/corpus-check`; the first run compiles the
//! runtime there once.

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use eventfold_codegen::{ErrorKind, Example};
use support::{workspace, Project};

/// One row of the manifest's per-file table.
#[derive(Debug, Clone)]
struct Entry {
    file: String,
    version: String,
    valid: bool,
    /// Valid, but with a remote, dangling, circular or root-relative `$ref` noted.
    caveat: bool,
}

impl Entry {
    /// A schema-valid AsyncAPI 2.0–2.6 or 3.0–3.1 document: what the 95% target counts.
    fn is_target(&self) -> bool {
        self.valid
            && matches!(
                self.version.as_str(),
                "2.0.0" | "2.1.0" | "2.2.0" | "2.3.0" | "2.4.0" | "2.5.0" | "2.6.0" | "3.0.0" | "3.1.0"
            )
    }
}

fn manifest(root: &Path) -> Vec<Entry> {
    let text = fs::read_to_string(root.join("MANIFEST.md")).expect("the corpus has a MANIFEST.md");
    let table = text.split("## Per-file table").nth(1).expect("MANIFEST.md has a per-file table");
    let mut entries = Vec::new();
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        // | `file` | source | original path | version | features | validation | license |
        let cells: Vec<&str> = line.split(" | ").collect();
        let n = cells.len();
        if n < 7 {
            continue;
        }
        let file = cells[0].trim_start_matches("| ").trim_matches('`').to_owned();
        let version = cells[3].trim().to_owned();
        let validation = cells[n - 2].trim();
        entries.push(Entry { file, version, valid: validation.starts_with("valid"), caveat: validation != "valid" });
    }
    entries
}

/// What happened to one file.
#[derive(Debug, Clone)]
enum Outcome {
    Generated { code: String, examples: Vec<Example> },
    Refused { kind: ErrorKind, message: String },
    Panicked(String),
}

fn generate(path: &Path) -> Outcome {
    let run = catch_unwind(AssertUnwindSafe(|| {
        let generated = eventfold_codegen::generate(path)?;
        let examples = eventfold_codegen::examples(path)?;
        Ok::<_, eventfold_codegen::Error>((generated, examples))
    }));
    match run {
        Ok(Ok((generated, examples))) => Outcome::Generated { code: generated.code, examples },
        Ok(Err(error)) => Outcome::Refused { kind: error.kind, message: error.to_string() },
        Err(panic) => Outcome::Panicked(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default(),
        ),
    }
}

/// The refusal's reason, for the tally: its kind and the start of its message.
fn reason(kind: ErrorKind, message: &str) -> String {
    let message = message.split(": error[").nth(1).and_then(|m| m.split_once("]: ")).map_or(message, |(_, m)| m);
    // Names in backticks differ from document to document; the words around them do not.
    let mut quoted = false;
    let words: String = message
        .chars()
        .filter_map(|c| {
            if c == '`' {
                quoted = !quoted;
                return quoted.then_some('…');
            }
            (!quoted).then_some(c)
        })
        .collect();
    let short: String = words.split([';', '(', ':']).next().unwrap_or(&words).chars().take(70).collect();
    format!("{}: {}", kind.as_str(), short.trim())
}

fn corpus_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                if !path.ends_with("_licenses") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out
}

/// Reads `file://` URIs from disk, YAML or JSON, for `$ref`s in schemas under test; nothing else.
struct LocalFiles;

impl jsonschema::Retrieve for LocalFiles {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        if uri.scheme().as_str() != "file" {
            return Err(format!("not fetched: {uri}").into());
        }
        let path = percent_encoding::percent_decode_str(uri.path().as_str()).decode_utf8_lossy().into_owned();
        let text = fs::read_to_string(&path)?;
        if path.ends_with(".json") {
            Ok(serde_json::from_str(&text)?)
        } else {
            Ok(serde_yaml::from_str(&text)?)
        }
    }
}

/// Whether `payload` matches the payload schema at `schema`; `Err` when the schema itself cannot
/// be compiled (which is then reported, not held against the example).
fn matches_schema(schema: &eventfold_codegen::Location, payload: &serde_json::Value) -> Result<bool, String> {
    let file = schema.file.as_ref().ok_or("no file")?;
    let file = fs::canonicalize(file).map_err(|e| e.to_string())?;
    const IN_FRAGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b' ').add(b'%').add(b'#');
    let pointer = percent_encoding::utf8_percent_encode(&schema.pointer, IN_FRAGMENT);
    let reference = serde_json::json!({ "$ref": format!("file://{}#{pointer}", file.display()) });
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .with_retriever(LocalFiles)
        .build(&reference)
        .map_err(|e| e.to_string())?;
    Ok(validator.is_valid(payload))
}

/// The scratch crate: one module per generated document, and a `main` that checks every example.
fn write_crate(project_dir: &Path, docs: &[(usize, &str, Vec<&Example>)]) {
    let src = project_dir.join("src");
    fs::create_dir_all(&src).unwrap();
    let mut lib = String::from("//! Every generated document of the corpus.\n#![deny(warnings)]\n\npub mod check;\n");
    let mut main = String::from("fn main() {\n");
    for (index, code, examples) in docs {
        let module = format!("doc_{index:03}");
        fs::write(src.join(format!("{module}.rs")), code).unwrap();
        writeln!(lib, "pub mod {module};").unwrap();
        for example in examples.iter() {
            let Some(payload) = &example.payload else { continue };
            writeln!(
                main,
                "    corpus_check::check::check::<corpus_check::{module}::{}::Message>({:?}, {:?}, {:?});",
                example.module,
                module,
                example.message,
                payload.to_string()
            )
            .unwrap();
        }
    }
    main.push_str("}\n");
    support::write_round_trip_crate(project_dir, "corpus-check", &lib, &main);
}

/// The document indices whose modules the compiler complained about.
fn failing_modules(stderr: &str) -> BTreeMap<usize, String> {
    let mut failing = BTreeMap::new();
    let lines: Vec<&str> = stderr.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(at) = line.trim_start().strip_prefix("--> src/doc_") else { continue };
        let Some(index) = at.get(..3).and_then(|n| n.parse::<usize>().ok()) else { continue };
        let first = lines[..i].iter().rev().find(|l| l.starts_with("error")).copied().unwrap_or("error");
        failing.entry(index).or_insert_with(|| first.to_owned());
    }
    failing
}

#[test]
fn corpus_generates_compiles_and_round_trips() {
    let Some(root) = std::env::var_os("EVENTFOLD_CORPUS").map(PathBuf::from) else {
        eprintln!("EVENTFOLD_CORPUS is not set: the corpus test did not run (CI sets it; point it at shared/corpus)");
        return;
    };
    assert!(root.join("MANIFEST.md").is_file(), "EVENTFOLD_CORPUS={} holds no MANIFEST.md", root.display());
    let entries: BTreeMap<String, Entry> = manifest(&root).into_iter().map(|e| (e.file.clone(), e)).collect();

    // 1. Every file through the generator.
    let files = corpus_files(&root);
    let mut outcomes: Vec<(String, Outcome)> = Vec::new();
    for path in &files {
        let relative = path.strip_prefix(&root).unwrap_or(path).display().to_string();
        outcomes.push((relative, generate(path)));
    }
    let panics: Vec<String> = outcomes
        .iter()
        .filter_map(|(file, o)| match o {
            Outcome::Panicked(message) => Some(format!("{file}: {message}")),
            _ => None,
        })
        .collect();

    // 2. Compile everything generated.
    // Examples that do not match their own payload schema are not the generator's to decode.
    let mut mismatched = Vec::new();
    let mut unchecked = Vec::new();
    let generated: Vec<(usize, &str, Vec<&Example>)> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, (file, o))| match o {
            Outcome::Generated { code, examples } => {
                let usable = examples
                    .iter()
                    .filter(|e| match (&e.payload, &e.payload_schema) {
                        (Some(payload), Some(schema)) => match matches_schema(schema, payload) {
                            Ok(true) => true,
                            Ok(false) => {
                                mismatched.push(format!("{file} {}", e.message));
                                false
                            }
                            Err(why) => {
                                unchecked.push(format!("{file} {}: {why}", e.message));
                                true
                            }
                        },
                        (Some(_), None) => true,
                        (None, _) => false,
                    })
                    .collect();
                Some((i, code.as_str(), usable))
            }
            _ => None,
        })
        .collect();
    let dir = tempfile::Builder::new().prefix("eventfold-corpus-").tempdir().unwrap();
    let project_dir = dir.path().to_path_buf();
    let project = Project::new(dir, workspace().join("target/corpus-check"));
    let mut compile_failed: BTreeMap<usize, String> = BTreeMap::new();
    let mut compiling = generated.clone();
    let mut round_trips = String::new();
    for _ in 0..6 {
        write_crate(&project_dir, &compiling);
        let output = project.run(&["clippy", "--offline", "--all-targets", "--", "-D", "warnings"]);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.success() {
            let run = project.run(&["run", "--offline", "-q"]);
            assert!(run.status.success(), "the round-trip runner failed:\n{}", String::from_utf8_lossy(&run.stderr));
            round_trips = String::from_utf8_lossy(&run.stdout).into_owned();
            break;
        }
        let failing = failing_modules(&stderr);
        assert!(!failing.is_empty(), "the corpus crate failed to build, not in a generated module:\n{stderr}");
        compiling.retain(|(i, _, _)| !failing.contains_key(i));
        compile_failed.extend(failing);
    }

    // 3. Tallies.
    let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut targets, mut target_ok) = (0, 0);
    let (mut clean, mut clean_ok) = (0, 0);
    let mut target_refusals_without_reason = Vec::new();
    for (i, (file, outcome)) in outcomes.iter().enumerate() {
        let entry = entries.get(file);
        let is_target = entry.is_some_and(Entry::is_target);
        let is_clean = is_target && entry.is_some_and(|e| !e.caveat);
        targets += usize::from(is_target);
        clean += usize::from(is_clean);
        let key = match outcome {
            Outcome::Generated { .. } if compile_failed.contains_key(&i) => {
                format!("FAILED to compile: {}", compile_failed[&i])
            }
            Outcome::Generated { .. } => {
                target_ok += usize::from(is_target);
                clean_ok += usize::from(is_clean);
                "generated and compiled".to_owned()
            }
            Outcome::Refused { kind, message } => {
                if is_target
                    && !matches!(
                        kind,
                        ErrorKind::Unsupported | ErrorKind::RemoteRef | ErrorKind::Ref | ErrorKind::RefCycle
                    )
                {
                    target_refusals_without_reason.push(format!("{file}: {message}"));
                }
                format!("refused, {}", reason(*kind, message))
            }
            Outcome::Panicked(_) => "PANICKED".to_owned(),
        };
        let scope = if is_target { "valid 2.x/3.x" } else { "other files" };
        by_reason.entry(format!("[{scope}] {key}")).or_default().push(file.clone());
    }
    let mut trips_ok = 0;
    let mut trip_failures = Vec::new();
    for (doc, message, failure) in round_trips.lines().filter_map(support::parse_round_trip) {
        match failure {
            None => trips_ok += 1,
            Some(why) => {
                let index: usize = doc.trim_start_matches("doc_").parse().unwrap_or(usize::MAX);
                let file = outcomes.get(index).map_or("?", |(f, _)| f.as_str());
                trip_failures.push(format!("{file} {message}: {why}"));
            }
        }
    }
    eprintln!("\n=== corpus: {} files, {targets} schema-valid 2.x/3.x documents ===", files.len());
    for (reason, files) in &by_reason {
        eprintln!("{:>4}  {reason}    e.g. {}", files.len(), files[0]);
    }
    let share_all = 100.0 * target_ok as f64 / targets.max(1) as f64;
    let share = 100.0 * clean_ok as f64 / clean.max(1) as f64;
    eprintln!("valid 2.x/3.x documents generating compiling code: {target_ok}/{targets} ({share_all:.1}%)");
    eprintln!("  of which without a remote or dangling $ref: {clean_ok}/{clean} ({share:.1}%)");
    eprintln!(
        "example round-trips: {trips_ok} ok, {} failed; {} examples do not match their own schema and were not tried",
        trip_failures.len(),
        mismatched.len()
    );
    for example in &mismatched {
        eprintln!("  example does not match its schema: {example}");
    }
    for example in &unchecked {
        eprintln!("  example schema could not be compiled by jsonschema (tried anyway): {example}");
    }
    for failure in &trip_failures {
        eprintln!("  round-trip failed: {failure}");
    }

    assert!(panics.is_empty(), "the generator panicked on:\n{}", panics.join("\n"));
    assert!(compile_failed.is_empty() || share >= 95.0, "generated code failed to compile: {compile_failed:#?}");
    assert!(share >= 95.0, "only {share:.1}% of the valid 2.x/3.x documents without caveats generate compiling code");
    assert!(
        target_refusals_without_reason.is_empty(),
        "valid documents refused without naming an unsupported feature:\n{}",
        target_refusals_without_reason.join("\n")
    );
    assert!(trip_failures.is_empty(), "{} example round-trips failed", trip_failures.len());
}
