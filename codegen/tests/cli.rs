//! The `eventfold` binary, run as a user runs it: exit codes and the diagnostics on stderr.
//!
//! Bad inputs live in `tests/fixtures/invalid/` (one case a file, each saying what is wrong);
//! inputs too big to keep in the repository are written into a temporary directory here.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const EVENT_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/orders/event-source.json");
const SHIPPING_SERVICE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/orders/shipping-service.json");
const INVALID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/invalid");

/// A guard against hangs, not a performance assertion: every run here takes well under a second.
const DEADLINE: Duration = Duration::from_secs(60);

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `eventfold ARGS`, killing it (and failing the test) if it outlives [`DEADLINE`].
fn eventfold<S: AsRef<OsStr>>(args: &[S]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventfold"))
        .args(args)
        // Were a remote `$ref` ever fetched, it would go here rather than out of the machine.
        .env("http_proxy", "http://127.0.0.1:9")
        .env("https_proxy", "http://127.0.0.1:9")
        .env("ALL_PROXY", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run eventfold");
    // Drain the pipes on threads so a large output cannot block the child.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for eventfold") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "eventfold {:?} did not finish within {DEADLINE:?}",
                args.iter().map(|a| a.as_ref().to_owned()).collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let outcome = Outcome {
        // A signal (a crash, a stack overflow) has no code; -1 fails every assertion below.
        code: status.code().unwrap_or(-1),
        stdout: out.join().expect("stdout thread"),
        stderr: err.join().expect("stderr thread"),
    };
    assert!(
        !outcome.stderr.contains("panicked") && !outcome.stderr.contains("overflow"),
        "eventfold crashed:\n{}",
        outcome.stderr
    );
    outcome
}

fn fixture(name: &str) -> PathBuf {
    Path::new(INVALID).join(name)
}

/// Asserts that both `validate SPEC` and `generate SPEC` reject `spec` with exit code 2, print
/// nothing on stdout, and print one diagnostic naming the file, then `location` (`:LINE:COL#POINTER`,
/// `#POINTER`, or `:LINE:` when the column does not matter), then `error[KIND]`, and containing
/// every one of `needles`.
fn assert_rejected(spec: &Path, location: &str, kind: &str, needles: &[&str]) -> String {
    let file_name = spec.file_name().expect("file name").to_string_lossy().into_owned();
    let mut last = String::new();
    for command in ["validate", "generate"] {
        let outcome = eventfold(&[OsStr::new(command), spec.as_os_str()]);
        let stderr = &outcome.stderr;
        assert_eq!(outcome.code, 2, "`{command} {}`: exit code; stderr:\n{stderr}", spec.display());
        assert!(outcome.stdout.is_empty(), "`{command}`: nothing on stdout, got:\n{}", outcome.stdout);
        // A location ending in `:` is the start of `:LINE:COL#` (the column is the parser's).
        let heads = if location.ends_with(':') {
            vec![format!("{file_name}{location}"), format!("#: error[{kind}]: ")]
        } else {
            vec![format!("{file_name}{location}: error[{kind}]: ")]
        };
        for head in heads {
            assert!(stderr.contains(&head), "`{command} {}`: expected `{head}` in stderr:\n{stderr}", spec.display());
        }
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "`{command} {}`: expected `{needle}` in stderr:\n{stderr}",
                spec.display()
            );
        }
        assert_eq!(stderr.lines().count(), 1, "one diagnostic line:\n{stderr}");
        last = outcome.stderr;
    }
    last
}

// ---------------------------------------------------------------------------------------------
// Bad input: exit 2, and a diagnostic with file, pointer and problem.

#[test]
fn unknown_schema_type() {
    assert_rejected(
        &fixture("unknown-type.yaml"),
        "#/channels/Orders/messages/OrderNew/payload/properties/total/type",
        "invalid",
        &["unknown schema type", "\"numbr\"", "number"],
    );
}

#[test]
fn ref_to_missing_pointer() {
    assert_rejected(
        &fixture("missing-pointer.yaml"),
        "#/channels/Orders/messages/OrderNew/$ref",
        "ref",
        &["`#/components/messages/OrderGone`", "points to nothing", "/components/messages/OrderGone"],
    );
}

#[test]
fn ref_to_missing_file() {
    assert_rejected(
        &fixture("missing-file.yaml"),
        "#/channels/Orders/messages/OrderNew/payload/$ref",
        "ref",
        &["cannot read", "no-such-file.yaml"],
    );
}

#[test]
fn ref_cycle_in_one_file() {
    assert_rejected(
        &fixture("ref-cycle.yaml"),
        "#/channels/Orders/messages/OrderNew/payload",
        "ref-cycle",
        &["`#/components/schemas/A` → `#/components/schemas/B` → `#/components/schemas/A`"],
    );
}

#[test]
fn ref_cycle_across_files() {
    assert_rejected(
        &fixture("ref-cycle-files-a.yaml"),
        "#/channels/Orders/messages/OrderNew/payload",
        "ref-cycle",
        &["`./ref-cycle-files-b.yaml#/B` → `./ref-cycle-files-a.yaml#/components/schemas/A` → `./ref-cycle-files-b.yaml#/B`"],
    );
}

#[test]
fn remote_refs_are_refused() {
    for (name, url) in [
        ("remote-ref-http.yaml", "http://127.0.0.1:9/order.json#/Order"),
        ("remote-ref-https.json", "https://127.0.0.1:9/order.json#/Order"),
    ] {
        assert_rejected(
            &fixture(name),
            "#/channels/Orders/messages/OrderNew/payload/$ref",
            "remote-ref",
            &[url, "refused", "never uses the network"],
        );
    }
}

/// Proof that a remote `$ref` is not even tried: it names a port this test listens on, and
/// nothing connects to it.
#[test]
fn remote_ref_touches_no_network() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    listener.set_nonblocking(true).expect("non-blocking listener");
    let port = listener.local_addr().expect("local address").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("remote.yaml");
    std::fs::write(
        &spec,
        format!(
            "asyncapi: 3.0.0\ninfo: {{title: Remote, version: 1.0.0}}\nchannels:\n  Orders:\n    $ref: 'http://127.0.0.1:{port}/a.yaml#/channels/Orders'\n"
        ),
    )
    .expect("write spec");
    assert_rejected(&spec, "#/channels/Orders/$ref", "remote-ref", &[&format!("http://127.0.0.1:{port}/a.yaml")]);
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, from)) => panic!("eventfold connected to the remote `$ref`'s address (from {from})"),
        Err(e) => panic!("accept: {e}"),
    }
}

#[test]
fn operation_on_a_channel_that_does_not_exist() {
    assert_rejected(
        &fixture("unknown-channel.yaml"),
        "#/operations/PlaceOrder/channel/$ref",
        "ref",
        &["`#/channels/Payments`", "points to nothing"],
    );
}

#[test]
fn operation_on_a_channel_not_listed_under_channels() {
    assert_rejected(
        &fixture("channel-not-listed.yaml"),
        "#/operations/PlaceOrder/channel",
        "invalid",
        &["operation `PlaceOrder`", "not listed under this document's `channels`"],
    );
}

#[test]
fn action_publish_in_a_3_0_document() {
    assert_rejected(
        &fixture("action-publish.yaml"),
        "#/operations/PlaceOrder/action",
        "invalid",
        &["`action: publish`", "2.x", "`send` or `receive`"],
    );
}

#[test]
fn empty_file() {
    assert_rejected(&fixture("empty.yaml"), "#", "parse", &["the file is empty"]);
}

#[test]
fn file_with_only_a_comment() {
    assert_rejected(&fixture("comment-only.yaml"), "#", "version", &["not an AsyncAPI document", "empty"]);
}

#[test]
fn not_an_asyncapi_document() {
    assert_rejected(&fixture("not-asyncapi.yaml"), "#", "version", &["not an AsyncAPI document", "`asyncapi`"]);
}

#[test]
fn asyncapi_1_x() {
    assert_rejected(&fixture("version-1.yaml"), "#/asyncapi", "version", &["AsyncAPI 1.2.0", "not supported", "3.0"]);
}

#[test]
fn invalid_yaml_syntax_has_line_and_column() {
    assert_rejected(&fixture("bad-syntax.yaml"), ":3:41#", "parse", &["invalid YAML"]);
}

#[test]
fn invalid_json_syntax_has_line_and_column() {
    assert_rejected(&fixture("bad-syntax.json"), ":4:3#", "parse", &["invalid JSON", "expected `,` or `}`"]);
}

#[test]
fn yaml_alias_bomb_is_refused_not_expanded() {
    // Nine levels of nine aliases each: 387 million strings if expanded.
    assert_rejected(&fixture("alias-bomb.yaml"), "#", "parse", &["invalid YAML", "alias", "refuses to expand"]);
}

#[test]
fn nonexistent_spec() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("no-such-spec.yaml");
    let stderr = assert_rejected(&spec, "#", "io", &["cannot read", "no-such-spec.yaml"]);
    assert!(stderr.starts_with(&spec.display().to_string()), "the path as given:\n{stderr}");
    // `check` reads the spec first, so a missing spec is bad input there too, not drift.
    let outcome = eventfold(&[OsStr::new("check"), spec.as_os_str(), OsStr::new("out.rs")]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("error[io]"), "{}", outcome.stderr);
}

// ---------------------------------------------------------------------------------------------
// Nesting far deeper than anything reads: generated here, thousands of levels, JSON and YAML.

const DEPTH: usize = 5000;

/// A document whose payload schema is `DEPTH` objects nested through `properties`.
fn deep_json() -> String {
    let mut schema = String::from(r#"{"type":"string"}"#);
    for _ in 0..DEPTH {
        schema = format!(r#"{{"type":"object","properties":{{"x":{schema}}}}}"#);
    }
    format!(
        r#"{{"asyncapi":"3.0.0","info":{{"title":"Deep","version":"1.0.0"}},"channels":{{"C":{{"address":"c","messages":{{"M":{{"payload":{schema}}}}}}}}}}}"#
    )
}

/// The same in YAML: flow style (block style would be quadratic in size), under a block header.
fn deep_yaml_flow() -> String {
    let mut schema = String::from("{type: string}");
    for _ in 0..DEPTH {
        schema = format!("{{type: object, properties: {{x: {schema}}}}}");
    }
    format!("asyncapi: 3.0.0\ninfo: {{title: Deep, version: 1.0.0}}\nchannels:\n  C:\n    address: c\n    messages:\n      M:\n        payload: {schema}\n")
}

/// Block style, one more space of indentation per level.
fn deep_yaml_block(depth: usize) -> String {
    let mut text = String::from("asyncapi: 3.0.0\ninfo: {title: Deep, version: 1.0.0}\nchannels:\n C:\n  address: c\n  messages:\n   M:\n    payload:\n");
    let mut indent = String::from("     ");
    for _ in 0..depth {
        text.push_str(&format!("{indent}type: object\n{indent}properties:\n{indent} x:\n"));
        indent.push_str("  ");
    }
    text.push_str(&format!("{indent}type: string\n"));
    text
}

#[test]
fn deeply_nested_json_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("deep.json");
    std::fs::write(&spec, deep_json()).expect("write");
    // The JSON parser stops at 128 levels, on line 1.
    assert_rejected(&spec, ":1:", "too-deep", &["nested more than 128 levels deep"]);
}

#[test]
fn deeply_nested_yaml_schema_flow_style() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("deep.yaml");
    std::fs::write(&spec, deep_yaml_flow()).expect("write");
    assert_rejected(&spec, ":8:", "too-deep", &["nested more than 128 levels deep"]);
}

#[test]
fn deeply_nested_yaml_schema_block_style() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("deep-block.yaml");
    std::fs::write(&spec, deep_yaml_block(1000)).expect("write");
    assert_rejected(&spec, ":", "too-deep", &["nested more than 128 levels deep"]);
}

/// YAML aliases nest without the text nesting: `a1: {x: *a0}`, `a2: {x: *a1}`, ...
#[test]
fn deeply_nested_yaml_through_aliases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("alias-deep.yaml");
    let mut text = String::from("asyncapi: 3.0.0\na0: &a0 {type: string}\n");
    for i in 1..DEPTH {
        text.push_str(&format!("a{i}: &a{i} {{type: object, properties: {{x: *a{}}}}}\n", i - 1));
    }
    std::fs::write(&spec, text).expect("write");
    assert_rejected(&spec, ":", "too-deep", &["nested more than 128 levels deep"]);
}

/// Each file level is shallow, but `$ref`s chain schemas thousands of levels deep.
#[test]
fn deeply_nested_schemas_through_refs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("ref-deep.json");
    let mut schemas: Vec<String> = (0..DEPTH)
        .map(|i| {
            format!(r##""S{i}":{{"type":"object","properties":{{"x":{{"$ref":"#/components/schemas/S{}"}}}}}}"##, i + 1)
        })
        .collect();
    schemas.push(format!(r#""S{DEPTH}":{{"type":"string"}}"#));
    let text = format!(
        r##"{{"asyncapi":"3.0.0","info":{{"title":"Deep","version":"1.0.0"}},"channels":{{"C":{{"address":"c","messages":{{"M":{{"payload":{{"$ref":"#/components/schemas/S0"}}}}}}}}}},"components":{{"schemas":{{{}}}}}}}"##,
        schemas.join(",")
    );
    std::fs::write(&spec, text).expect("write");
    assert_rejected(&spec, "#/components/schemas/S96/properties/x", "too-deep", &["nested more than 96 levels deep"]);
}

/// A long chain of plain `$ref` → `$ref` is too deep, not a cycle.
#[test]
fn long_ref_chain_is_not_called_a_cycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("ref-chain.json");
    let mut schemas: Vec<String> =
        (0..DEPTH).map(|i| format!(r##""S{i}":{{"$ref":"#/components/schemas/S{}"}}"##, i + 1)).collect();
    schemas.push(format!(r#""S{DEPTH}":{{"type":"string"}}"#));
    let text = format!(
        r##"{{"asyncapi":"3.0.0","info":{{"title":"Chain","version":"1.0.0"}},"channels":{{"C":{{"address":"c","messages":{{"M":{{"payload":{{"$ref":"#/components/schemas/S0"}}}}}}}}}},"components":{{"schemas":{{{}}}}}}}"##,
        schemas.join(",")
    );
    std::fs::write(&spec, text).expect("write");
    assert_rejected(
        &spec,
        "#/channels/C/messages/M/payload",
        "too-deep",
        &["`$ref`s in a row", "`#/components/schemas/S0`"],
    );
}

// ---------------------------------------------------------------------------------------------
// Usage errors: exit 2, clap's message on stderr.

#[test]
fn no_subcommand_is_a_usage_error() {
    let outcome = eventfold::<&str>(&[]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("Usage: eventfold"), "{}", outcome.stderr);
    assert!(outcome.stdout.is_empty());
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let outcome = eventfold(&["validate", "--bogus", EVENT_SOURCE]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("unexpected argument '--bogus'"), "{}", outcome.stderr);
}

#[test]
fn unknown_subcommand_and_missing_argument_are_usage_errors() {
    for args in [&["frobnicate", EVENT_SOURCE][..], &["check", EVENT_SOURCE][..], &["generate"][..]] {
        let outcome = eventfold(args);
        assert_eq!(outcome.code, 2, "{args:?}: {}", outcome.stderr);
        assert!(outcome.stderr.contains("error:"), "{args:?}: {}", outcome.stderr);
    }
}

#[test]
fn help_and_version_succeed_on_stdout() {
    for flag in ["--help", "--version"] {
        let outcome = eventfold(&[flag]);
        assert_eq!(outcome.code, 0, "{flag}: {}", outcome.stderr);
        assert!(outcome.stdout.contains("eventfold"), "{flag}: {}", outcome.stdout);
    }
}

// ---------------------------------------------------------------------------------------------
// Good input.

#[test]
fn validate_the_orders_documents() {
    for spec in [EVENT_SOURCE, SHIPPING_SERVICE] {
        let outcome = eventfold(&["validate", spec]);
        assert_eq!(outcome.code, 0, "{spec}: {}", outcome.stderr);
        assert!(outcome.stdout.is_empty(), "validate writes no code");
        assert!(outcome.stderr.contains(": ok ("), "{}", outcome.stderr);
    }
    // The shipping service's document reads event-source.json too.
    let outcome = eventfold(&["validate", SHIPPING_SERVICE]);
    assert!(outcome.stderr.contains("(2 files read)"), "{}", outcome.stderr);
}

#[test]
fn generate_to_stdout() {
    for spec in [EVENT_SOURCE, SHIPPING_SERVICE] {
        let outcome = eventfold(&["generate", spec]);
        assert_eq!(outcome.code, 0, "{spec}: {}", outcome.stderr);
        assert!(outcome.stdout.starts_with("// @generated"), "{}", &outcome.stdout[..outcome.stdout.len().min(200)]);
        assert!(outcome.stdout.contains("pub mod event_source_orders"), "the orders channel's module");
        assert!(outcome.stderr.is_empty(), "{}", outcome.stderr);
    }
}

#[test]
fn formats_as_strings_changes_generate_and_check() {
    let typed = eventfold(&["generate", EVENT_SOURCE]);
    let strings = eventfold(&["generate", "--formats-as-strings", EVENT_SOURCE]);
    assert_eq!((typed.code, strings.code), (0, 0), "{}{}", typed.stderr, strings.stderr);
    assert!(typed.stdout.contains("pub placed_at: ::eventfold::codegen::Timestamp,"));
    assert!(strings.stdout.contains("pub placed_at: ::std::string::String,"));
    // `check` compares against the output of the same options.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("orders.rs");
    std::fs::write(&file, &strings.stdout).expect("write");
    let file = file.to_str().expect("utf-8 path");
    assert_eq!(eventfold(&["check", "--formats-as-strings", EVENT_SOURCE, file]).code, 0);
    assert_eq!(eventfold(&["check", EVENT_SOURCE, file]).code, 1, "without the option the file is stale");
}

#[test]
fn generate_to_file_writes_only_when_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("nested").join("orders.rs");
    let outcome = eventfold(&[OsStr::new("generate"), OsStr::new(EVENT_SOURCE), OsStr::new("-o"), out.as_os_str()]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stdout.is_empty(), "with -o nothing goes to stdout");
    let written = std::fs::read_to_string(&out).expect("the output file");
    assert!(written.starts_with("// @generated"));
    let stdout = eventfold(&["generate", EVENT_SOURCE]).stdout;
    assert_eq!(written, stdout, "-o writes what stdout gets");

    // Backdate the file: if the second run rewrote it, its mtime would move to now.
    let past = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&out).expect("open").set_modified(past).expect("set mtime");
    let outcome =
        eventfold(&[OsStr::new("generate"), OsStr::new(EVENT_SOURCE), OsStr::new("--output"), out.as_os_str()]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let metadata = std::fs::metadata(&out).expect("metadata");
    assert_eq!(metadata.modified().expect("mtime"), past, "an unchanged file is not rewritten");
    assert_eq!(std::fs::read_to_string(&out).expect("read"), written);

    // A changed file is rewritten.
    std::fs::write(&out, "// edited\n").expect("edit");
    let outcome = eventfold(&[OsStr::new("generate"), OsStr::new(EVENT_SOURCE), OsStr::new("-o"), out.as_os_str()]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(std::fs::read_to_string(&out).expect("read"), written);
}

#[test]
fn generate_to_an_unwritable_path_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A directory where the file should be.
    let outcome =
        eventfold(&[OsStr::new("generate"), OsStr::new(EVENT_SOURCE), OsStr::new("-o"), dir.path().as_os_str()]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains(&dir.path().display().to_string()), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("error[output]"), "{}", outcome.stderr);
}

#[test]
fn check_fresh_stale_and_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("orders.rs");
    let outcome = eventfold(&[OsStr::new("generate"), OsStr::new(SHIPPING_SERVICE), OsStr::new("-o"), out.as_os_str()]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);

    let check = |file: &Path| eventfold(&[OsStr::new("check"), OsStr::new(SHIPPING_SERVICE), file.as_os_str()]);

    let fresh = check(&out);
    assert_eq!(fresh.code, 0, "a fresh file: {}", fresh.stderr);
    assert!(fresh.stdout.is_empty() && fresh.stderr.is_empty(), "fresh check is silent: {}", fresh.stderr);

    // Stale: one line changed in the middle.
    let text = std::fs::read_to_string(&out).expect("read");
    let line = text.lines().position(|l| l.contains("pub mod event_source_orders")).expect("module line");
    let stale_text: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| if i == line { "pub mod renamed {\n".to_owned() } else { format!("{l}\n") })
        .collect();
    std::fs::write(&out, stale_text).expect("write stale");
    let stale = check(&out);
    assert_eq!(stale.code, 1, "a stale file: {}", stale.stderr);
    assert!(
        stale.stderr.contains(&format!("{}:{}: stale", out.display(), line + 1)),
        "names file and line: {}",
        stale.stderr
    );
    assert!(stale.stderr.contains("regenerate"), "{}", stale.stderr);
    assert!(stale.stdout.is_empty());

    // Stale: the code of another document.
    let other = eventfold(&["generate", EVENT_SOURCE]).stdout;
    if other != text {
        std::fs::write(&out, other).expect("write");
        let outcome = check(&out);
        assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    }

    let missing = dir.path().join("missing.rs");
    let outcome = check(&missing);
    assert_eq!(outcome.code, 1, "a missing file: {}", outcome.stderr);
    assert!(outcome.stderr.contains(&missing.display().to_string()), "names the file: {}", outcome.stderr);
    assert!(
        outcome.stderr.contains("stale") && outcome.stderr.contains("-o"),
        "says how to create it: {}",
        outcome.stderr
    );
    assert!(!missing.exists(), "check writes nothing");
}

#[test]
fn check_with_an_invalid_spec_is_invalid_input_not_drift() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.rs");
    std::fs::write(&out, "// anything\n").expect("write");
    let outcome = eventfold(&[OsStr::new("check"), fixture("unknown-type.yaml").as_os_str(), out.as_os_str()]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("unknown-type.yaml#/channels/Orders/messages/OrderNew/payload/properties/total/type"),
        "{}",
        outcome.stderr
    );
}

/// Every fixture in `tests/fixtures/invalid` is a case above (or the second half of one).
#[test]
fn every_invalid_fixture_is_rejected() {
    let mut count = 0;
    for entry in std::fs::read_dir(INVALID).expect("fixtures/invalid") {
        let path = entry.expect("entry").path();
        let outcome = eventfold(&[OsStr::new("validate"), path.as_os_str()]);
        assert_eq!(outcome.code, 2, "{}: {}", path.display(), outcome.stderr);
        assert!(outcome.stderr.contains(": error["), "{}: {}", path.display(), outcome.stderr);
        assert!(outcome.stderr.contains('#'), "a pointer: {}", outcome.stderr);
        count += 1;
    }
    assert!(count >= 15, "found only {count} fixtures");
}
