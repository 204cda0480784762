//! Codegen end to end, as a whole process (`cargo bench -p eventfold-benches --bench codegen`).
//!
//! Writes synthetic AsyncAPI 3.0 documents — 200 messages in 20 channels, and 2000 messages in
//! 200 channels (ten per channel in both, so the larger is ten times the smaller in every
//! respect) — and times `eventfold generate SPEC -o FILE` (the release binary, built by this
//! bench with `cargo build --release -p eventfold-codegen --bin eventfold` when
//! `EVENTFOLD_BIN` does not name one). When `node` and `npm` are on the PATH it runs AsyncAPI
//! Modelina's `RustFileGenerator` on the same documents (installing `@asyncapi/modelina` into
//! `target/bench-modelina` the first time), else says it skipped it. Prints the best of
//! `EVENTFOLD_BENCH_ROUNDS` (default 5) runs of eventfold and of
//! `EVENTFOLD_BENCH_MODELINA_ROUNDS` (default 2) runs of Modelina, which takes seconds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use eventfold_benches::{env_usize, ms};
use serde_json::{json, Map, Value};

/// A document of `channels` channels with `per_channel` messages each. Every payload has a
/// discriminator, a correlation id, scalars, a `date-time`, an enum, an optional nested object and
/// a list of objects; channels have one `send` and one `receive` operation.
fn document(channels: usize, per_channel: usize) -> Value {
    let mut channel_map = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    let mut schemas = Map::new();
    for c in 0..channels {
        let channel = format!("Channel{c}");
        let mut channel_messages = Map::new();
        for m in 0..per_channel {
            let name = format!("C{c}Event{m}");
            channel_messages.insert(name.clone(), json!({ "$ref": format!("#/components/messages/{name}") }));
            messages.insert(
                name.clone(),
                json!({
                    "name": name,
                    "summary": format!("Event {m} of channel {c}."),
                    "payload": { "$ref": format!("#/components/schemas/{name}") },
                    "correlationId": { "location": "$message.payload#/entityId" }
                }),
            );
            schemas.insert(
                name.clone(),
                json!({
                    "type": "object",
                    "description": format!("Payload of {name}."),
                    "properties": {
                        "eventType": { "type": "string", "const": name },
                        "entityId": { "type": "string", "format": "uuid" },
                        "sequence": { "type": "integer", "format": "int64" },
                        "amount": { "type": "number" },
                        "label": { "type": "string", "description": "A label." },
                        "active": { "type": "boolean" },
                        "occurredAt": { "type": "string", "format": "date-time" },
                        "status": { "type": "string", "enum": ["pending", "done", "failed"] },
                        "details": {
                            "type": "object",
                            "properties": {
                                "code": { "type": "integer" },
                                "reason": { "type": "string" }
                            },
                            "required": ["code"]
                        },
                        "lines": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "sku": { "type": "string" },
                                    "quantity": { "type": "integer", "format": "int32" }
                                },
                                "required": ["sku", "quantity"]
                            }
                        }
                    },
                    "required": ["eventType", "entityId", "sequence", "occurredAt", "status"]
                }),
            );
        }
        channel_map.insert(
            channel.clone(),
            json!({ "address": format!("/channel/{c}"), "description": format!("Channel {c}."), "messages": channel_messages }),
        );
        operations.insert(
            format!("Publish{c}"),
            json!({ "action": "send", "channel": { "$ref": format!("#/channels/{channel}") } }),
        );
        operations.insert(
            format!("Consume{c}"),
            json!({ "action": "receive", "channel": { "$ref": format!("#/channels/{channel}") } }),
        );
    }
    json!({
        "asyncapi": "3.0.0",
        "info": { "title": "Synthetic", "version": "1.0.0" },
        "channels": channel_map,
        "operations": operations,
        "components": { "messages": messages, "schemas": schemas }
    })
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"))
}

fn eventfold_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("EVENTFOLD_BIN") {
        return PathBuf::from(bin);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "eventfold-codegen", "--bin", "eventfold"])
        .current_dir(workspace())
        .status()
        .expect("runs cargo build");
    assert!(status.success(), "cargo build of the eventfold binary failed");
    target_dir().join("release").join(format!("eventfold{}", std::env::consts::EXE_SUFFIX))
}

/// The best of `rounds` runs of `command`, which must succeed.
fn time_process(rounds: usize, mut command: impl FnMut() -> Command) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let mut command = command();
        let start = Instant::now();
        let output = command.output().expect("starts the process");
        let elapsed = start.elapsed();
        assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        best = best.min(elapsed);
    }
    best
}

/// Where Modelina is installed, installing it when needed; `None` (with the reason) without Node.
fn modelina(dir: &Path) -> Result<PathBuf, String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|output| output.status.success()) {
        return Err("`node` is not on the PATH".to_owned());
    }
    let modules = dir.join("node_modules");
    if !modules.join("@asyncapi/modelina").exists() {
        std::fs::create_dir_all(dir).map_err(|error| error.to_string())?;
        std::fs::write(dir.join("package.json"), r#"{"name":"bench-modelina","private":true}"#)
            .map_err(|error| error.to_string())?;
        eprintln!("installing @asyncapi/modelina into {} ...", dir.display());
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "@asyncapi/modelina"])
            .current_dir(dir)
            .status()
            .map_err(|error| format!("cannot run npm: {error}"))?;
        if !status.success() {
            return Err(format!("npm install @asyncapi/modelina failed ({status})"));
        }
    }
    Ok(modules)
}

fn main() {
    let rounds = env_usize("EVENTFOLD_BENCH_ROUNDS", 5);
    let modelina_rounds = env_usize("EVENTFOLD_BENCH_MODELINA_ROUNDS", 2);
    let scratch = tempfile::tempdir().expect("a temporary directory");
    // `EVENTFOLD_BENCH_DOCS=DIR` only writes the documents there (to profile the generator).
    let docs = std::env::var_os("EVENTFOLD_BENCH_DOCS").map(PathBuf::from);
    let sizes = [("200 messages / 20 channels", 20, 10), ("2000 messages / 200 channels", 200, 10)];
    let specs: Vec<PathBuf> = sizes
        .iter()
        .map(|&(_, channels, per_channel)| {
            let path =
                docs.as_deref().unwrap_or(scratch.path()).join(format!("synthetic-{}.json", channels * per_channel));
            std::fs::write(&path, serde_json::to_vec_pretty(&document(channels, per_channel)).expect("encodes"))
                .expect("writes the document");
            path
        })
        .collect();
    if docs.is_some() {
        return;
    }
    let binary = eventfold_binary();

    let mut eventfold = Vec::new();
    for spec in &specs {
        let out = spec.with_extension("rs");
        eventfold.push(time_process(rounds, || {
            // A fresh output each round: write-if-changed must not turn later rounds into no-ops.
            let _ = std::fs::remove_file(&out);
            let mut command = Command::new(&binary);
            command.arg("generate").arg(spec).arg("-o").arg(&out);
            command
        }));
        let lines = std::fs::read_to_string(&out).map(|code| code.lines().count()).unwrap_or(0);
        println!(
            "eventfold generate {}: {lines} lines of Rust",
            spec.file_name().and_then(|n| n.to_str()).unwrap_or("?")
        );
    }

    let modelina_dir = target_dir().join("bench-modelina");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("modelina/generate.js");
    let modelina = match modelina(&modelina_dir) {
        Ok(modules) => Some(
            specs
                .iter()
                .map(|spec| {
                    let out = spec.with_extension("modelina");
                    time_process(modelina_rounds, || {
                        let _ = std::fs::remove_dir_all(&out);
                        let mut command = Command::new("node");
                        command.arg(&script).arg(spec).arg(&out).env("NODE_PATH", &modules);
                        command
                    })
                })
                .collect::<Vec<_>>(),
        ),
        Err(reason) => {
            println!("Modelina: skipped, {reason}");
            None
        }
    };

    println!("\ncodegen end to end (whole process; best of {rounds} for eventfold, {modelina_rounds} for Modelina):");
    println!("  {:<30} {:>12} {:>12} {:>16}", "document", "eventfold ms", "Modelina ms", "Modelina/eventfold");
    for (i, (label, _, _)) in sizes.iter().enumerate() {
        match &modelina {
            Some(times) => println!(
                "  {:<30} {:>12.1} {:>12.1} {:>15.1}x",
                label,
                ms(eventfold[i]),
                ms(times[i]),
                times[i].as_secs_f64() / eventfold[i].as_secs_f64()
            ),
            None => println!("  {:<30} {:>12.1} {:>12} {:>16}", label, ms(eventfold[i]), "-", "-"),
        }
    }
    let scaling = eventfold[1].as_secs_f64() / eventfold[0].as_secs_f64();
    println!(
        "  eventfold 2000 / 200: {scaling:.2}x {}",
        if scaling <= 12.0 { "(holds: <= 12x)" } else { "(FAILS: > 12x)" }
    );
    if let Some(times) = &modelina {
        let speedup = times[0].as_secs_f64() / eventfold[0].as_secs_f64();
        println!(
            "  Modelina / eventfold on 200 messages: {speedup:.1}x {}",
            if speedup >= 50.0 { "(holds: >= 50x)" } else { "(FAILS: < 50x)" }
        );
        println!("  Modelina 2000 / 200: {:.2}x", times[1].as_secs_f64() / times[0].as_secs_f64());
    }
}
