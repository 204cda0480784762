//! Bytes as a json document (plus sibling files, see `FILE_SEPARATOR`) through the loader and the
//! whole generate pipeline.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| eventfold_codegen_fuzz::run_bytes(data, "json"));
