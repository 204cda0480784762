//! Stage 2: the typed AsyncAPI model.
//!
//! [`Document::parse`] reads an AsyncAPI 3.x document from the [`Loader`], following `$ref`s and
//! merging message traits, into channels, messages and operations that later stages use without
//! looking at raw JSON again. Every item keeps the [`Node`] it came from, for error messages.

mod avro;
pub mod schema;
mod v2;

use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::load::{Loader, Node};
pub use schema::{Additional, JsonType, Schema, SchemaId, Schemas};

/// An AsyncAPI document, with its schemas.
#[derive(Debug)]
pub struct Document {
    /// The major AsyncAPI version: 2 (converted) or 3.
    pub major: u8,
    /// The channels, in document order.
    pub channels: Vec<Channel>,
    /// The operations, in document order.
    pub operations: Vec<Operation>,
    /// Every schema the messages use.
    pub schemas: Schemas,
}

/// One channel.
#[derive(Debug)]
pub struct Channel {
    /// The key under `channels`, e.g. `EventSourceOrders`.
    pub id: String,
    /// Where the channel object is (after `$ref`s).
    pub node: Node,
    /// `address`, when it is a string (`null` means dynamic).
    pub address: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    /// The messages, in document order.
    pub messages: Vec<Message>,
    /// The parameters of the address (`{orderId}` in `orders/{orderId}`), in address order.
    pub parameters: Vec<Parameter>,
}

/// One parameter of a channel address.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// The name between the braces.
    pub name: String,
    pub description: Option<String>,
    /// The values it may take (`enum`), when listed.
    pub values: Vec<String>,
}

/// One message of a channel.
#[derive(Debug)]
pub struct Message {
    /// The key under the channel's `messages`, e.g. `OrderNew`.
    pub key: String,
    /// Where the message object is (after `$ref`s).
    pub node: Node,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub payload: Option<SchemaId>,
    pub headers: Option<SchemaId>,
    pub correlation_id: Option<CorrelationId>,
    /// `examples`, as written.
    pub examples: Vec<MessageExample>,
}

/// One entry of a message's `examples`.
#[derive(Debug, Clone)]
pub struct MessageExample {
    pub node: Node,
    pub name: Option<String>,
    pub payload: Option<Value>,
    pub headers: Option<Value>,
}

/// Where a message's correlation id is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationId {
    pub node: Node,
    pub source: CorrelationSource,
    /// Unescaped tokens of the pointer after `#`.
    pub path: Vec<String>,
}

/// The part of a message a runtime expression reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationSource {
    Payload,
    Header,
}

/// Whether an operation sends or receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Send,
    Receive,
}

/// One operation.
#[derive(Debug)]
pub struct Operation {
    /// The key under `operations`.
    pub id: String,
    pub action: Action,
    /// Index into [`Document::channels`].
    pub channel: usize,
    /// Indices into that channel's messages.
    pub messages: Vec<usize>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    /// The operation's `reply`: request/reply.
    pub reply: Option<Reply>,
}

/// What a request is answered with.
#[derive(Debug)]
pub struct Reply {
    /// Index into [`Document::channels`] of the channel the reply travels on. (Its `messages`
    /// are checked to belong to that channel; a reply may be any message of it.)
    pub channel: usize,
}

impl Document {
    /// Reads the document whose root is `root`.
    pub fn parse(loader: &mut Loader, root: &Node) -> Result<Document> {
        let root_value = loader.get(root)?;
        let map = match root_value {
            Value::Object(map) => map,
            Value::Null => {
                return Err(loader.error(root, ErrorKind::Version, "not an AsyncAPI document: it is empty (null)"))
            }
            other => {
                return Err(loader.error(
                    root,
                    ErrorKind::Version,
                    format!("not an AsyncAPI document: the root is {}, not an object", schema::kind_of(other)),
                ))
            }
        };
        let version = match map.get("asyncapi") {
            Some(Value::String(v)) => v.clone(),
            Some(_) => {
                return Err(loader.error(
                    &root.key("asyncapi"),
                    ErrorKind::Version,
                    "`asyncapi` must be a version string",
                ))
            }
            None => {
                return Err(loader.error(
                    root,
                    ErrorKind::Version,
                    "not an AsyncAPI document: it has no `asyncapi` version field",
                ))
            }
        };
        let major = check_version(loader, &root.key("asyncapi"), &version)?;
        let mut doc = Document { major, channels: Vec::new(), operations: Vec::new(), schemas: Schemas::default() };
        if major == 2 {
            doc.parse_v2(loader, root)?;
            return Ok(doc);
        }
        let channels = root.key("channels");
        for id in object_keys(loader, &channels)? {
            let channel = doc.parse_channel(loader, &channels.key(&id), id)?;
            doc.channels.push(channel);
        }
        let operations = root.key("operations");
        for id in object_keys(loader, &operations)? {
            let operation = doc.parse_operation(loader, &operations.key(&id), id)?;
            doc.operations.push(operation);
        }
        Ok(doc)
    }

    fn parse_channel(&mut self, loader: &mut Loader, key_node: &Node, id: String) -> Result<Channel> {
        let node = loader.resolve(key_node)?;
        let fields = Fields::of(loader, &node, "a channel")?;
        let address = match fields.value(loader, "address")? {
            Some(Value::String(a)) => Some(a.clone()),
            Some(Value::Null) | None => None,
            Some(other) => {
                return Err(loader.error(
                    &node.key("address"),
                    ErrorKind::Invalid,
                    format!("`address` must be a string or null, not {}", schema::kind_of(other)),
                ))
            }
        };
        let mut channel = Channel {
            id,
            address,
            title: fields.text(loader, "title")?,
            summary: fields.text(loader, "summary")?,
            description: fields.text(loader, "description")?,
            messages: Vec::new(),
            parameters: Vec::new(),
            node: node.clone(),
        };
        channel.parameters = parse_parameters(loader, &node, channel.address.as_deref(), |loader, at| {
            Ok(loader.get(at)?.get("enum").cloned())
        })?;
        let messages = node.key("messages");
        for key in object_keys(loader, &messages)? {
            let message = self.parse_message(loader, &messages.key(&key), key)?;
            channel.messages.push(message);
        }
        Ok(channel)
    }

    fn parse_message(&mut self, loader: &mut Loader, key_node: &Node, key: String) -> Result<Message> {
        let node = loader.resolve(key_node)?;
        let fields = Fields::with_traits(loader, &node, "a message")?;
        // In 2.x the payload's format is a property of the message.
        let mut message_format = None;
        if let (2, Some(format)) = (self.major, fields.text(loader, "schemaFormat")?) {
            let at = fields.node(loader, "schemaFormat")?.unwrap_or_else(|| node.clone());
            message_format = Some((format, at));
        }
        let payload = match (fields.node(loader, "payload")?, message_format) {
            (Some(at), Some((format, format_at))) => {
                Some(self.parse_formatted_schema(loader, &at, &format, &format_at)?)
            }
            (Some(at), None) => Some(self.parse_payload_schema(loader, &at)?),
            (None, _) => None,
        };
        let headers = match fields.node(loader, "headers")? {
            Some(at) => Some(self.parse_payload_schema(loader, &at)?),
            None => None,
        };
        let correlation_id = match fields.node(loader, "correlationId")? {
            Some(at) => Some(parse_correlation_id(loader, &at)?),
            None => None,
        };
        let mut examples = Vec::new();
        if let Some(at) = fields.node(loader, "examples")? {
            let count = match loader.get(&at)? {
                Value::Array(items) => items.len(),
                _ => return Err(loader.error(&at, ErrorKind::Invalid, "`examples` must be an array")),
            };
            for i in 0..count {
                let example = loader.resolve(&at.index(i))?;
                let value = loader.get(&example)?;
                examples.push(MessageExample {
                    node: example.clone(),
                    name: value.get("name").and_then(Value::as_str).map(str::to_owned),
                    payload: value.get("payload").cloned(),
                    headers: value.get("headers").cloned(),
                });
            }
        }
        Ok(Message {
            key,
            title: fields.text(loader, "title")?,
            summary: fields.text(loader, "summary")?,
            description: fields.text(loader, "description")?,
            payload,
            headers,
            correlation_id,
            examples,
            node,
        })
    }

    /// A payload or headers schema: a schema, or a multi-format schema object wrapping one.
    fn parse_payload_schema(&mut self, loader: &mut Loader, at: &Node) -> Result<SchemaId> {
        let resolved = loader.resolve(at)?;
        if let Value::Object(map) = loader.get(&resolved)? {
            if let (Some(format), true) = (map.get("schemaFormat"), map.contains_key("schema")) {
                let format = format.as_str().unwrap_or_default().to_owned();
                return self.parse_formatted_schema(
                    loader,
                    &resolved.key("schema"),
                    &format,
                    &resolved.key("schemaFormat"),
                );
            }
        }
        self.schemas.parse(loader, &resolved)
    }

    /// The schema at `at`, written in `format` (declared at `format_at`): JSON Schema as it is,
    /// Avro translated; any other format is an `unsupported` error.
    fn parse_formatted_schema(
        &mut self,
        loader: &mut Loader,
        at: &Node,
        format: &str,
        format_at: &Node,
    ) -> Result<SchemaId> {
        if is_json_schema_format(format) {
            return self.schemas.parse(loader, at);
        }
        if avro::is_avro(format) {
            let schema = loader.resolve(at)?;
            let translated = avro::to_json_schema(loader, &schema)?;
            let derived = loader.add_derived(&schema, "Avro, as JSON Schema", translated);
            return self.schemas.parse(loader, &derived);
        }
        Err(unsupported_format(loader, format_at, format))
    }

    fn parse_operation(&mut self, loader: &mut Loader, key_node: &Node, id: String) -> Result<Operation> {
        let node = loader.resolve(key_node)?;
        let fields = Fields::with_traits(loader, &node, "an operation")?;
        let action = match fields.value(loader, "action")? {
            Some(Value::String(a)) if a == "send" => Action::Send,
            Some(Value::String(a)) if a == "receive" => Action::Receive,
            Some(Value::String(a)) if a == "publish" || a == "subscribe" => {
                return Err(loader.error(
                    &node.key("action"),
                    ErrorKind::Invalid,
                    format!("`action: {a}` is AsyncAPI 2.x wording; a 3.x operation's action is `send` or `receive`"),
                ))
            }
            Some(other) => {
                return Err(loader.error(
                    &node.key("action"),
                    ErrorKind::Invalid,
                    format!("`action` must be `send` or `receive`, not {other}"),
                ))
            }
            None => return Err(loader.error(&node, ErrorKind::Invalid, format!("operation `{id}` has no `action`"))),
        };
        let channel_ref = fields
            .node(loader, "channel")?
            .ok_or_else(|| loader.error(&node, ErrorKind::Invalid, format!("operation `{id}` has no `channel`")))?;
        let channel = self.channel_index(loader, &id, &channel_ref)?;
        let messages = self.operation_messages(loader, &id, channel, fields.node(loader, "messages")?)?;
        let reply = match fields.node(loader, "reply")? {
            None => None,
            Some(at) => {
                let reply = loader.resolve(&at)?;
                let reply_fields = Fields::of(loader, &reply, "a reply")?;
                let reply_channel = match reply_fields.node(loader, "channel")? {
                    None => channel,
                    Some(channel_ref) => self.channel_index(loader, &id, &channel_ref)?,
                };
                self.operation_messages(loader, &id, reply_channel, reply_fields.node(loader, "messages")?)?;
                Some(Reply { channel: reply_channel })
            }
        };
        Ok(Operation {
            id,
            action,
            channel,
            messages,
            title: fields.text(loader, "title")?,
            summary: fields.text(loader, "summary")?,
            description: fields.text(loader, "description")?,
            reply,
        })
    }

    /// The index of the channel a `$ref` at `channel_ref` points to.
    fn channel_index(&self, loader: &mut Loader, operation: &str, channel_ref: &Node) -> Result<usize> {
        let channel_node = loader.resolve(channel_ref)?;
        self.channels.iter().position(|c| c.node == channel_node).ok_or_else(|| {
            loader.error(
                channel_ref,
                ErrorKind::Invalid,
                format!(
                    "operation `{operation}` refers to a channel that is not listed under this document's `channels`"
                ),
            )
        })
    }

    /// The indices of the messages `list` names in channel `channel`; all of them when absent.
    fn operation_messages(
        &self,
        loader: &mut Loader,
        operation: &str,
        channel: usize,
        list: Option<Node>,
    ) -> Result<Vec<usize>> {
        let Some(list) = list else {
            return Ok((0..self.channels[channel].messages.len()).collect());
        };
        let count = match loader.get(&list)? {
            Value::Array(items) => items.len(),
            _ => return Err(loader.error(&list, ErrorKind::Invalid, "`messages` must be an array of references")),
        };
        let mut messages = Vec::new();
        for i in 0..count {
            let message_node = loader.resolve(&list.index(i))?;
            let index =
                self.channels[channel].messages.iter().position(|m| m.node == message_node).ok_or_else(|| {
                    loader.error(
                        &list.index(i),
                        ErrorKind::Invalid,
                        format!(
                            "operation `{operation}` lists a message that is not a message of channel `{}`",
                            self.channels[channel].id
                        ),
                    )
                })?;
            if !messages.contains(&index) {
                messages.push(index);
            }
        }
        Ok(messages)
    }
}

/// The major version of a supported AsyncAPI version string: 2 (2.0–2.6) or 3 (3.0, 3.1).
fn check_version(loader: &Loader, at: &Node, version: &str) -> Result<u8> {
    let major = version.split('.').next().unwrap_or_default();
    match major {
        "3" if version.starts_with("3.0.") || version.starts_with("3.1.") => Ok(3),
        "2" if ["2.0.", "2.1.", "2.2.", "2.3.", "2.4.", "2.5.", "2.6."].iter().any(|p| version.starts_with(p)) => Ok(2),
        "1" => Err(loader.error(
            at,
            ErrorKind::Version,
            format!("AsyncAPI {version} is not supported; convert the document to AsyncAPI 3.0"),
        )),
        _ => Err(loader.error(at, ErrorKind::Version, format!("unknown AsyncAPI version `{version}`"))),
    }
}

fn unsupported_format(loader: &Loader, at: &Node, format: &str) -> Error {
    loader.error(
        at,
        ErrorKind::Unsupported,
        format!("unsupported schemaFormat `{format}`: only JSON Schema, AsyncAPI and Avro schemas are supported"),
    )
}

/// The parameters of a channel: those declared under `parameters`, in the order the address
/// names them, then any the address names without declaring. `values` reads a declared
/// parameter's `enum` (3.x: on the parameter; 2.x: on its `schema`).
fn parse_parameters(
    loader: &mut Loader,
    channel: &Node,
    address: Option<&str>,
    values: impl Fn(&Loader, &Node) -> Result<Option<Value>>,
) -> Result<Vec<Parameter>> {
    let mut parameters = Vec::new();
    let declared = channel.key("parameters");
    for name in object_keys(loader, &declared)? {
        let at = loader.resolve(&declared.key(&name))?;
        let description = loader.get(&at)?.get("description").and_then(Value::as_str).map(str::to_owned);
        let values = match values(loader, &at)? {
            Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        parameters.push(Parameter { name, description, values });
    }
    let named = address.map(address_parameters).unwrap_or_default();
    parameters.sort_by_key(|p| named.iter().position(|n| *n == p.name).unwrap_or(usize::MAX));
    for name in named {
        if !parameters.iter().any(|p| p.name == name) {
            parameters.push(Parameter { name, description: None, values: Vec::new() });
        }
    }
    Ok(parameters)
}

/// The `{name}`s of an address, in order.
pub fn address_parameters(address: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = address;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        let name = &rest[open + 1..open + close];
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        rest = &rest[open + close + 1..];
    }
    names
}

fn is_json_schema_format(format: &str) -> bool {
    format.is_empty()
        || format.starts_with("application/vnd.aai.asyncapi")
        || format.starts_with("application/schema+json")
        || format.starts_with("application/schema+yaml")
}

/// The keys of the object at `node` (after `$ref`s), in document order; none when absent.
fn object_keys(loader: &mut Loader, node: &Node) -> Result<Vec<String>> {
    let parent_tokens = node.tokens();
    let Some((last, parent)) = parent_tokens.split_last() else {
        return Ok(Vec::new());
    };
    let parent = Node {
        file: node.file,
        pointer: parent.iter().map(|t| format!("/{}", crate::load::escape_token(t))).collect(),
    };
    match loader.get(&parent)? {
        Value::Object(map) if map.contains_key(last) => {}
        _ => return Ok(Vec::new()),
    }
    let resolved = loader.resolve(node)?;
    match loader.get(&resolved)? {
        Value::Object(map) => Ok(map.keys().cloned().collect()),
        Value::Null => Ok(Vec::new()),
        other => {
            Err(loader.error(node, ErrorKind::Invalid, format!("expected an object, found {}", schema::kind_of(other))))
        }
    }
}

/// The fields of an object, with those of its `traits` where it has none of its own.
struct Fields {
    /// The object itself first, then its traits from the last to the first.
    sources: Vec<Node>,
}

impl Fields {
    fn of(loader: &Loader, node: &Node, what: &str) -> Result<Fields> {
        match loader.get(node)? {
            Value::Object(_) => Ok(Fields { sources: vec![node.clone()] }),
            other => Err(loader.error(
                node,
                ErrorKind::Invalid,
                format!("{what} must be an object, not {}", schema::kind_of(other)),
            )),
        }
    }

    fn with_traits(loader: &mut Loader, node: &Node, what: &str) -> Result<Fields> {
        let mut fields = Fields::of(loader, node, what)?;
        let traits_node = node.key("traits");
        let count = match loader.get(node)?.get("traits") {
            None => 0,
            Some(Value::Array(items)) => items.len(),
            Some(_) => return Err(loader.error(&traits_node, ErrorKind::Invalid, "`traits` must be an array")),
        };
        for i in (0..count).rev() {
            let trait_node = loader.resolve(&traits_node.index(i))?;
            fields.sources.push(Fields::of(loader, &trait_node, "a trait")?.sources.remove(0));
        }
        Ok(fields)
    }

    /// The node of field `key`, from the object or else its traits.
    fn node(&self, loader: &Loader, key: &str) -> Result<Option<Node>> {
        for source in &self.sources {
            if loader.get(source)?.get(key).is_some() {
                return Ok(Some(source.key(key)));
            }
        }
        Ok(None)
    }

    fn value<'a>(&self, loader: &'a Loader, key: &str) -> Result<Option<&'a Value>> {
        match self.node(loader, key)? {
            Some(node) => Ok(Some(loader.get(&node)?)),
            None => Ok(None),
        }
    }

    fn text(&self, loader: &Loader, key: &str) -> Result<Option<String>> {
        Ok(self.value(loader, key)?.and_then(Value::as_str).map(str::to_owned))
    }
}

fn parse_correlation_id(loader: &mut Loader, at: &Node) -> Result<CorrelationId> {
    let node = loader.resolve(at)?;
    let location = loader
        .get(&node)?
        .get("location")
        .and_then(Value::as_str)
        .ok_or_else(|| loader.error(&node, ErrorKind::Invalid, "a correlation id needs a `location` string"))?
        .to_owned();
    let bad = |loader: &Loader, why: &str| -> Error {
        loader.error(
            &node.key("location"),
            ErrorKind::Invalid,
            format!("correlation id location `{location}` {why}; expected `$message.payload#/...` or `$message.header#/...`"),
        )
    };
    let (source, pointer) = if let Some(rest) = location.strip_prefix("$message.payload") {
        (CorrelationSource::Payload, rest)
    } else if let Some(rest) = location.strip_prefix("$message.header") {
        (CorrelationSource::Header, rest)
    } else {
        return Err(bad(loader, "is not a message runtime expression"));
    };
    let pointer = match pointer.strip_prefix('#') {
        Some(p) if p.is_empty() || p.starts_with('/') => p,
        _ => return Err(bad(loader, "has no `#/` pointer")),
    };
    Ok(CorrelationId { node, source, path: crate::load::split_pointer(pointer) })
}
