//! Generates the orders channel from the example document, as an application's build.rs would.

fn main() {
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/orders/event-source.json");
    if let Err(error) = eventfold_codegen::Builder::new().compile(spec) {
        eprintln!("{error}");
        std::process::exit(1);
    }
}
