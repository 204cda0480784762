//! Every snapshot of generated code, compiled as a user's crate would compile it.
//!
//! The snapshots are written by `cargo test -p eventfold-codegen --test snapshots`; this crate
//! only includes them, so a snapshot that does not compile (or warns, or fails clippy) fails the
//! build.

#![deny(warnings)]

/// The orders service's document (`examples/orders/event-source.json`).
pub mod orders_event_source {
    include!("snapshots/orders_event_source.rs");
}

/// The shipping service's document (`examples/orders/shipping-service.json`).
pub mod orders_shipping_service {
    include!("snapshots/orders_shipping_service.rs");
}

/// Awkward names, recursive schemas and messages split across files
/// (`tests/fixtures/awkward/asyncapi.yaml`).
pub mod awkward {
    include!("snapshots/awkward.rs");
}

/// Unions, tuples, type lists, allOf, formats, defaults, parameters, Avro
/// (`tests/fixtures/schemas/asyncapi.yaml`).
pub mod schemas {
    include!("snapshots/schemas.rs");
}

/// An AsyncAPI 2.6 document (`tests/fixtures/v2/asyncapi.yaml`).
pub mod v2 {
    include!("snapshots/v2.rs");
}
