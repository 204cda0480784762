//! The facade that generated code imports from.
//!
//! Generated modules refer only to `::eventfold::codegen::...`, so an application needs no other
//! dependency for them, and the generator never depends on the versions of serde or uuid an
//! application happens to pick.

pub use crate::envelope::Envelope;
pub use crate::error::{Error, HandlerError};
pub use crate::formats::{Date, Timestamp};
pub use crate::message::{ChannelMessage, Headers};
pub use crate::transport::{Receipt, Requester, SendOptions, Sink, Subscription};
pub use crate::wire;
pub use serde;
pub use serde_json;
pub use time;
pub use uuid;
