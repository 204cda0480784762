//! Generates the orders channel code for both services of the story.

fn main() {
    for spec in ["event-source.json", "shipping-service.json"] {
        if let Err(error) = eventfold_codegen::Builder::new().compile(spec) {
            eprintln!("{error}");
            std::process::exit(1);
        }
    }
}
