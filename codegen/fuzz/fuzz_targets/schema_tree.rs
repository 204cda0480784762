//! An AsyncAPI 3.0 document built from an arbitrary schema tree, so that inputs get past the
//! loader and the spec model and reach deep into the type space and the emitter.
#![no_main]

use eventfold_codegen_fuzz::tree::Document;

libfuzzer_sys::fuzz_target!(|doc: Document| {
    let json = doc.to_json();
    let text = serde_json::to_vec_pretty(&json).unwrap_or_default();
    eventfold_codegen_fuzz::run_bytes(&text, "json");
});
