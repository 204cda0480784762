//! AsyncAPI 2.x documents, converted into the 3.x model.
//!
//! A 2.x channel's key is its address; its `publish` operation is one the application
//! *receives* (others publish to it), its `subscribe` operation one the application *sends*.
//! A message is named by its `messageId`, else the key it has under `components/messages`, else
//! its `name`, else after its operation; `message.oneOf` lists several.

use serde_json::Value;

use super::{object_keys, parse_parameters, Action, Channel, Document, Fields, Operation};
use crate::error::{ErrorKind, Result};
use crate::load::{Loader, Node};

impl Document {
    /// Reads the channels and operations of a 2.x document at `root`.
    pub(super) fn parse_v2(&mut self, loader: &mut Loader, root: &Node) -> Result<()> {
        let channels = root.key("channels");
        for address in object_keys(loader, &channels)? {
            let node = loader.resolve(&channels.key(&address))?;
            let fields = Fields::of(loader, &node, "a channel")?;
            let parameters = parse_parameters(loader, &node, Some(&address), |loader, at| {
                Ok(loader.get(at)?.get("schema").and_then(|schema| schema.get("enum")).cloned())
            })?;
            let mut channel = Channel {
                id: address.clone(),
                address: Some(address.clone()),
                title: None,
                summary: None,
                description: fields.text(loader, "description")?,
                messages: Vec::new(),
                parameters,
                node: node.clone(),
            };
            let index = self.channels.len();
            let mut operations = Vec::new();
            for (verb, action) in [("publish", Action::Receive), ("subscribe", Action::Send)] {
                let Some(at) = fields.node(loader, verb)? else { continue };
                let op_node = loader.resolve(&at)?;
                let op = Fields::with_traits(loader, &op_node, "an operation")?;
                let id = op.text(loader, "operationId")?.unwrap_or_else(|| format!("{verb} {address}"));
                let mut messages = Vec::new();
                if let Some(message) = op.node(loader, "message")? {
                    for (i, candidate) in message_list(loader, &message)?.into_iter().enumerate() {
                        let target = loader.resolve(&candidate)?;
                        if let Some(existing) = channel.messages.iter().position(|m| m.node == target) {
                            messages.push(existing);
                            continue;
                        }
                        let wanted = message_key(loader, &candidate, &target, &id, i)?;
                        let key = unique_key(&channel, wanted);
                        let parsed = self.parse_message(loader, &candidate, key)?;
                        messages.push(channel.messages.len());
                        channel.messages.push(parsed);
                    }
                }
                operations.push(Operation {
                    id,
                    action,
                    channel: index,
                    messages,
                    title: None,
                    summary: op.text(loader, "summary")?,
                    description: op.text(loader, "description")?,
                    reply: None,
                });
            }
            self.channels.push(channel);
            self.operations.extend(operations);
        }
        Ok(())
    }
}

/// The messages an operation's `message` names: itself, or each of its `oneOf`.
fn message_list(loader: &mut Loader, message: &Node) -> Result<Vec<Node>> {
    let resolved = loader.resolve(message)?;
    match loader.get(&resolved)?.get("oneOf") {
        None => Ok(vec![message.clone()]),
        Some(Value::Array(items)) => Ok((0..items.len()).map(|i| resolved.key("oneOf").index(i)).collect()),
        Some(_) => Err(loader.error(
            &resolved.key("oneOf"),
            ErrorKind::Invalid,
            "`message.oneOf` must be an array of messages",
        )),
    }
}

/// What a 2.x message is called: `messageId`, its key under `components/messages`, `name`, or
/// after its operation (`{operationId}Message`, numbered within a `oneOf`).
fn message_key(loader: &Loader, written: &Node, target: &Node, operation: &str, position: usize) -> Result<String> {
    let value = loader.get(target)?;
    if let Some(id) = value.get("messageId").and_then(Value::as_str) {
        return Ok(id.to_owned());
    }
    if loader.ref_of(written)?.is_some() {
        if let [.., table, name] = target.tokens().as_slice() {
            if table == "messages" {
                return Ok(name.clone());
            }
        }
    }
    if let Some(name) = value.get("name").and_then(Value::as_str) {
        return Ok(name.to_owned());
    }
    Ok(if position == 0 { format!("{operation}Message") } else { format!("{operation}Message{position}") })
}

/// `wanted`, or `wanted2`, `wanted3`, ... when another message of the channel has that name.
fn unique_key(channel: &Channel, wanted: String) -> String {
    let taken = |key: &str| channel.messages.iter().any(|m| m.key == key);
    if !taken(&wanted) {
        return wanted;
    }
    (2..).map(|n| format!("{wanted}{n}")).find(|k| !taken(k)).unwrap_or(wanted)
}
