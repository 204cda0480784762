//! Stage 3: what will be emitted.
//!
//! [`Model::build`] turns a [`Document`] into channels with their message sets, discriminators,
//! correlation ids and operations, over one [`TypeSpace`] that owns every name.

pub mod names;
pub mod types;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::Result;
use crate::load::Loader;
use crate::spec::{Action, CorrelationSource, Document, MessageExample};
use names::{sanitize, Case, Namespace};
pub use types::{TypeDef, TypeId, TypeKind, TypeRef, TypeSpace};

/// Everything the emitter needs.
#[derive(Debug)]
pub struct Model {
    pub types: TypeSpace,
    pub channels: Vec<ChannelIr>,
}

/// One channel: a module of the output.
#[derive(Debug)]
pub struct ChannelIr {
    /// The channel id, e.g. `EventSourceOrders`.
    pub id: String,
    /// The module name, e.g. `event_source_orders`.
    pub module: String,
    pub address: Option<String>,
    /// The parameters of the address, the arguments of its `address()` function.
    pub parameters: Vec<ParameterIr>,
    pub doc: Option<String>,
    pub messages: Vec<MessageIr>,
    /// The discriminator property, when every message carries a distinct constant in it.
    pub discriminator: Option<String>,
    pub publishers: Vec<PublisherIr>,
    pub consumers: Vec<ConsumerIr>,
    /// Types this module defines.
    pub own_types: Vec<TypeId>,
    /// Types defined by another channel's module that this one uses.
    pub reexports: Vec<TypeId>,
}

/// One parameter of a channel address.
#[derive(Debug)]
pub struct ParameterIr {
    /// The name in the address template.
    pub name: String,
    /// The argument name.
    pub argument: String,
    pub doc: Option<String>,
    /// The values it may take, when the document lists them.
    pub values: Vec<String>,
}

/// One message of a channel: a variant of its `Message` enum.
#[derive(Debug)]
pub struct MessageIr {
    /// The message's key in the channel: its name on the wire and in envelopes.
    pub key: String,
    /// The variant name.
    pub variant: String,
    /// The snake-case name for methods about this message.
    pub method: String,
    pub payload: TypeRef,
    pub headers: Option<TypeRef>,
    /// The discriminator value of this message, when the channel has a discriminator.
    pub tag: Option<String>,
    pub correlation: Option<CorrelationIr>,
    pub doc: Option<String>,
    pub examples: Vec<MessageExample>,
    /// Where the payload schema is (after `$ref`s), for tools that check examples against it.
    pub payload_schema: Option<crate::load::Node>,
}

/// How to read a message's correlation id.
#[derive(Debug, Clone, PartialEq)]
pub enum CorrelationIr {
    /// Through typed fields of the payload.
    Fields { steps: Vec<FieldStep>, leaf: Leaf },
    /// A constant of the payload type.
    Constant(String),
    /// Through the payload's JSON form, at this pointer (when the path leaves the typed fields).
    PayloadPointer(String),
    /// From the headers, at this pointer.
    HeaderPointer(String),
}

/// One field on the way to a correlation id.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldStep {
    pub field: String,
    pub optional: bool,
}

/// What the correlation id field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    /// Something `Display` (strings and numbers).
    Display,
    /// Anything else: its JSON form.
    Json,
}

/// A typed publisher for one `send` operation.
#[derive(Debug)]
pub struct PublisherIr {
    pub operation: String,
    pub name: String,
    pub doc: Option<String>,
    /// The messages it sends: index into the channel's messages, the method that sends it with
    /// default options, and the method that takes [`SendOptions`](eventfold::SendOptions).
    pub methods: Vec<PublishMethod>,
    /// The channel (index) whose `Message` answers a request, when the operation has a reply.
    pub reply: Option<usize>,
}

/// The methods of a publisher for one message.
#[derive(Debug)]
pub struct PublishMethod {
    pub message: usize,
    pub send: String,
    pub send_with: String,
    /// With a reply: the methods that send the message and wait for its reply.
    pub request: Option<(String, String)>,
}

/// A handler trait and runner for one `receive` operation.
#[derive(Debug)]
pub struct ConsumerIr {
    pub operation: String,
    pub trait_name: String,
    pub runner: String,
    pub doc: Option<String>,
    pub messages: Vec<usize>,
    /// The channel (index) whose `Message` the handler answers with, when the operation has a
    /// reply.
    pub reply: Option<usize>,
}

impl Model {
    /// Builds the model of `doc`.
    pub fn build(loader: &Loader, doc: &Document, options: &crate::Options) -> Result<Model> {
        let mut types = TypeSpace::default();
        types.formats_as_strings = options.formats_as_strings;
        types.names.reserve("Message");
        // The private struct inside the checked `Deserialize` of a payload type with constants.
        types.names.reserve("Wire");
        let mut modules = Namespace::default();
        let mut channels = Vec::new();
        // Operation names are claimed first, so that no payload type can take them.
        let mut operation_names = Vec::new();
        for op in &doc.operations {
            let suffix = match op.action {
                Action::Send => "Publisher",
                Action::Receive => "Handler",
            };
            let wanted = sanitize(&format!("{} {suffix}", op.id), Case::Pascal, suffix);
            operation_names.push(types.names.claim(&wanted, Case::Pascal));
        }
        for (index, channel) in doc.channels.iter().enumerate() {
            types.set_home(index);
            let module = modules.claim(&sanitize(&channel.id, Case::Snake, "channel"), Case::Snake);
            let mut variants = Namespace::default();
            let mut methods = Namespace::default();
            let mut messages = Vec::new();
            for message in &channel.messages {
                let variant = variants.claim(&sanitize(&message.key, Case::Pascal, "Message"), Case::Pascal);
                let method = methods.claim(&sanitize(&message.key, Case::Snake, "message"), Case::Snake);
                let payload = match message.payload {
                    Some(id) => types.type_of(loader, &doc.schemas, id, &message.key)?,
                    None => TypeRef::Json,
                };
                let headers = match message.headers {
                    Some(id) => Some(types.type_of(loader, &doc.schemas, id, &format!("{}Headers", message.key))?),
                    None => None,
                };
                messages.push(MessageIr {
                    key: message.key.clone(),
                    variant,
                    method,
                    payload,
                    headers,
                    tag: None,
                    correlation: None,
                    doc: message
                        .description
                        .clone()
                        .or_else(|| message.summary.clone())
                        .or_else(|| message.title.clone()),
                    examples: message.examples.clone(),
                    payload_schema: message.payload.map(|id| doc.schemas[id].node.clone()),
                });
            }
            let mut arguments = Namespace::default();
            let parameters = channel
                .parameters
                .iter()
                .map(|p| ParameterIr {
                    name: p.name.clone(),
                    argument: arguments.claim(&sanitize(&p.name, Case::Snake, "parameter"), Case::Snake),
                    doc: p.description.clone(),
                    values: p.values.clone(),
                })
                .collect();
            channels.push(ChannelIr {
                id: channel.id.clone(),
                module,
                address: channel.address.clone(),
                parameters,
                doc: channel.description.clone().or_else(|| channel.summary.clone()).or_else(|| channel.title.clone()),
                messages,
                discriminator: None,
                publishers: Vec::new(),
                consumers: Vec::new(),
                own_types: Vec::new(),
                reexports: Vec::new(),
            });
        }
        types.box_recursive_fields();
        for (index, channel) in channels.iter_mut().enumerate() {
            channel.discriminator = find_discriminator(&types, &mut channel.messages);
            for (m, message) in doc.channels[index].messages.iter().enumerate() {
                if let Some(correlation) = &message.correlation_id {
                    let ir =
                        correlation_ir(&types, &channel.messages[m].payload, correlation.source, &correlation.path);
                    channel.messages[m].correlation = Some(ir);
                }
            }
            let mut used = BTreeSet::new();
            for message in &channel.messages {
                types.reachable(&message.payload, &mut used);
                if let Some(headers) = &message.headers {
                    types.reachable(headers, &mut used);
                }
            }
            for id in used {
                if types.types[id.0].home == index {
                    channel.own_types.push(id);
                } else {
                    channel.reexports.push(id);
                }
            }
        }
        let mut runners: Vec<Namespace> = channels.iter().map(|_| Namespace::default()).collect();
        for (op, name) in doc.operations.iter().zip(operation_names) {
            let doc_text = op.description.clone().or_else(|| op.summary.clone()).or_else(|| op.title.clone());
            let channel = &mut channels[op.channel];
            match op.action {
                Action::Send => {
                    let mut names = Namespace::default();
                    for reserved in ["new", "sink", "into_sink"] {
                        names.reserve(reserved);
                    }
                    let methods = op
                        .messages
                        .iter()
                        .map(|&m| {
                            let base = &channel.messages[m].method;
                            let mut claim =
                                |words: String| names.claim(&sanitize(&words, Case::Snake, "send"), Case::Snake);
                            let send = claim(base.clone());
                            let send_with = claim(format!("{base} with"));
                            let request = op
                                .reply
                                .as_ref()
                                .map(|_| (claim(format!("request {base}")), claim(format!("request {base} with"))));
                            PublishMethod { message: m, send, send_with, request }
                        })
                        .collect();
                    let reply = op.reply.as_ref().map(|r| r.channel);
                    channel.publishers.push(PublisherIr {
                        operation: op.id.clone(),
                        name,
                        doc: doc_text,
                        methods,
                        reply,
                    })
                }
                Action::Receive => {
                    let runner = runners[op.channel]
                        .claim(&sanitize(&format!("run {}", op.id), Case::Snake, "run"), Case::Snake);
                    channel.consumers.push(ConsumerIr {
                        operation: op.id.clone(),
                        trait_name: name,
                        runner,
                        doc: doc_text,
                        messages: op.messages.clone(),
                        reply: op.reply.as_ref().map(|r| r.channel),
                    })
                }
            }
        }
        Ok(Model { types, channels })
    }
}

/// The property every message's payload holds a distinct string constant in, if there is one;
/// sets each message's tag to its constant.
fn find_discriminator(types: &TypeSpace, messages: &mut [MessageIr]) -> Option<String> {
    let structs: Vec<_> = messages.iter().map(|m| types.struct_behind(&m.payload).map(|(_, s)| s)).collect();
    if structs.is_empty() || structs.iter().any(Option::is_none) {
        return None;
    }
    let first = structs[0]?;
    for candidate in &first.consts {
        let mut tags = Vec::new();
        for def in structs.iter().flatten() {
            match def.consts.iter().find(|c| c.wire == candidate.wire).map(|c| &c.value) {
                Some(Value::String(tag)) if !tags.contains(tag) => tags.push(tag.clone()),
                _ => break,
            }
        }
        if tags.len() == messages.len() {
            for (message, tag) in messages.iter_mut().zip(tags) {
                message.tag = Some(tag);
            }
            return Some(candidate.wire.clone());
        }
    }
    None
}

fn correlation_ir(types: &TypeSpace, payload: &TypeRef, source: CorrelationSource, path: &[String]) -> CorrelationIr {
    let pointer: String = path.iter().map(|t| format!("/{}", crate::load::escape_token(t))).collect();
    if source == CorrelationSource::Header {
        return CorrelationIr::HeaderPointer(pointer);
    }
    let mut steps = Vec::new();
    let mut current = payload.clone();
    for (i, token) in path.iter().enumerate() {
        let Some((_, def)) = types.struct_behind(&current) else {
            return CorrelationIr::PayloadPointer(pointer);
        };
        if let Some(constant) = def.consts.iter().find(|c| &c.wire == token) {
            return match (&constant.value, i + 1 == path.len()) {
                (Value::String(s), true) => CorrelationIr::Constant(s.clone()),
                (other, true) => CorrelationIr::Constant(other.to_string()),
                _ => CorrelationIr::PayloadPointer(pointer),
            };
        }
        let Some(field) = def.fields.iter().find(|f| &f.wire == token) else {
            return CorrelationIr::PayloadPointer(pointer);
        };
        steps.push(FieldStep { field: field.name.clone(), optional: matches!(field.ty, TypeRef::Option(_)) });
        current = field.ty.clone();
    }
    let leaf = match strip(&current) {
        TypeRef::Prim(types::Prim::Unit) => Leaf::Json,
        TypeRef::Prim(_) => Leaf::Display,
        _ => Leaf::Json,
    };
    if steps.is_empty() {
        return CorrelationIr::PayloadPointer(pointer);
    }
    CorrelationIr::Fields { steps, leaf }
}

fn strip(ty: &TypeRef) -> &TypeRef {
    match ty {
        TypeRef::Option(inner) | TypeRef::Box(inner) => strip(inner),
        other => other,
    }
}
