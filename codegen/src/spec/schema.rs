//! The JSON Schema subset eventfold reads, as a typed arena.
//!
//! Each schema is parsed once per location: two `$ref`s to one schema give one [`SchemaId`], and
//! a schema that refers to itself is a cycle in the arena rather than an endless recursion.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{ErrorKind, Result};
use crate::load::{Loader, Node};

/// Index of a schema in a [`Schemas`] arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchemaId(pub usize);

/// A JSON Schema `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JsonType {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl JsonType {
    fn parse(name: &str) -> Option<JsonType> {
        Some(match name {
            "null" => JsonType::Null,
            "boolean" => JsonType::Boolean,
            "integer" => JsonType::Integer,
            "number" => JsonType::Number,
            "string" => JsonType::String,
            "array" => JsonType::Array,
            "object" => JsonType::Object,
            _ => return None,
        })
    }
}

/// What a schema says about properties it does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Additional {
    /// Nothing said: other properties are allowed and ignored.
    Unspecified,
    /// `additionalProperties: false`.
    Forbidden,
    /// `additionalProperties: true` or `{}`: any value.
    Any,
    /// `additionalProperties: {schema}`.
    Schema(SchemaId),
}

/// One schema, with the keywords eventfold acts on.
#[derive(Debug, Clone)]
pub struct Schema {
    /// Where the schema is (after following `$ref`s).
    pub node: Node,
    /// The key under `components/schemas` (or a `definitions`/`$defs` table) when the schema
    /// lives there: such schemas become named types.
    pub component_name: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// `false` as a schema: nothing is valid.
    pub never: bool,
    /// `type`; empty when absent (any type).
    pub types: Vec<JsonType>,
    /// OpenAPI-style `nullable: true`.
    pub nullable: bool,
    /// `properties`, in document order.
    pub properties: Vec<(String, SchemaId)>,
    pub required: Vec<String>,
    pub additional: Additional,
    pub items: Option<SchemaId>,
    /// `items` as a list (draft 7) or `prefixItems` (2020-12): a tuple.
    pub tuple_items: Vec<SchemaId>,
    /// `patternProperties`, in document order.
    pub pattern_properties: Vec<(String, SchemaId)>,
    pub enum_values: Option<Vec<Value>>,
    pub const_value: Option<Value>,
    pub format: Option<String>,
    pub one_of: Vec<SchemaId>,
    pub any_of: Vec<SchemaId>,
    pub all_of: Vec<SchemaId>,
    /// `discriminator`: a property name (AsyncAPI 2.x / 3.x) or an OpenAPI discriminator object.
    pub discriminator: Option<String>,
    pub default: Option<Value>,
}

/// Deepest nesting of schemas (through properties, items, `$ref`s, ...) that is followed.
pub const MAX_DEPTH: usize = 96;

/// The arena of every schema of a document.
#[derive(Debug, Default)]
pub struct Schemas {
    schemas: Vec<Schema>,
    by_node: BTreeMap<Node, SchemaId>,
}

impl std::ops::Index<SchemaId> for Schemas {
    type Output = Schema;

    fn index(&self, id: SchemaId) -> &Schema {
        &self.schemas[id.0]
    }
}

impl Schemas {
    /// Parses the schema at `node` (following `$ref`s) and everything it refers to.
    pub fn parse(&mut self, loader: &mut Loader, node: &Node) -> Result<SchemaId> {
        self.parse_at(loader, node, 0)
    }

    fn parse_at(&mut self, loader: &mut Loader, node: &Node, depth: usize) -> Result<SchemaId> {
        if depth > MAX_DEPTH {
            return Err(loader.error(
                node,
                ErrorKind::TooDeep,
                format!("schemas are nested more than {MAX_DEPTH} levels deep here"),
            ));
        }
        let referenced = loader.ref_of(node)?.is_some();
        let node = loader.resolve(node)?;
        if let Some(id) = self.by_node.get(&node) {
            return Ok(*id);
        }
        let id = SchemaId(self.schemas.len());
        self.by_node.insert(node.clone(), id);
        self.schemas.push(Schema::empty(node.clone()));
        let mut schema = self.parse_keywords(loader, &node, depth)?;
        if schema.component_name.is_none() && referenced {
            schema.component_name = referenced_name(loader, &node);
        }
        self.schemas[id.0] = schema;
        Ok(id)
    }

    fn parse_keywords(&mut self, loader: &mut Loader, node: &Node, depth: usize) -> Result<Schema> {
        let mut schema = Schema::empty(node.clone());
        schema.component_name = component_name(node);
        let map = match loader.get(node)? {
            Value::Bool(true) => return Ok(schema),
            Value::Bool(false) => {
                schema.never = true;
                return Ok(schema);
            }
            Value::Object(map) => shallow(map),
            other => {
                return Err(loader.error(
                    node,
                    ErrorKind::Invalid,
                    format!("a schema must be an object or a boolean, not {}", kind_of(other)),
                ))
            }
        };
        let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
        schema.title = text("title");
        schema.description = text("description");
        schema.format = text("format");
        schema.nullable = map.get("nullable").and_then(Value::as_bool).unwrap_or(false);
        if let Some(types) = map.get("type") {
            let names: Vec<(Node, &Value)> = match types {
                Value::Array(items) => items.iter().enumerate().map(|(i, v)| (node.key("type").index(i), v)).collect(),
                single => vec![(node.key("type"), single)],
            };
            for (at, name) in names {
                let parsed = name.as_str().and_then(JsonType::parse).ok_or_else(|| {
                    loader.error(
                        &at,
                        ErrorKind::Invalid,
                        format!(
                            "unknown schema type {name}; expected one of null, boolean, integer, number, string, array, object"
                        ),
                    )
                })?;
                if !schema.types.contains(&parsed) {
                    schema.types.push(parsed);
                }
            }
        }
        if let Some(properties) = map.get("properties") {
            let Value::Object(properties) = properties else {
                return Err(loader.error(
                    &node.key("properties"),
                    ErrorKind::Invalid,
                    "`properties` must be an object",
                ));
            };
            for name in properties.keys() {
                let child = self.parse_at(loader, &node.key("properties").key(name), depth + 1)?;
                schema.properties.push((name.clone(), child));
            }
        }
        if let Some(required) = map.get("required") {
            match required {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let name = item.as_str().ok_or_else(|| {
                            loader.error(
                                &node.key("required").index(i),
                                ErrorKind::Invalid,
                                "`required` lists property names (strings)",
                            )
                        })?;
                        schema.required.push(name.to_owned());
                    }
                }
                // `required: true` on a property is a common OpenAPI-2 habit; it says nothing here.
                Value::Bool(_) => {}
                _ => {
                    return Err(loader.error(&node.key("required"), ErrorKind::Invalid, "`required` must be an array"))
                }
            }
        }
        schema.additional = match map.get("additionalProperties") {
            None => Additional::Unspecified,
            Some(Value::Bool(false)) => Additional::Forbidden,
            Some(Value::Bool(true)) => Additional::Any,
            Some(Value::Object(o)) if o.is_empty() => Additional::Any,
            Some(_) => Additional::Schema(self.parse_at(loader, &node.key("additionalProperties"), depth + 1)?),
        };
        for key in ["prefixItems", "items"] {
            match map.get(key) {
                None => {}
                Some(Value::Array(items)) => {
                    for i in 0..items.len() {
                        schema.tuple_items.push(self.parse_at(loader, &node.key(key).index(i), depth + 1)?);
                    }
                }
                Some(_) if key == "items" => {
                    schema.items = Some(self.parse_at(loader, &node.key("items"), depth + 1)?)
                }
                Some(_) => {
                    return Err(loader.error(
                        &node.key(key),
                        ErrorKind::Invalid,
                        "`prefixItems` must be an array of schemas",
                    ))
                }
            }
        }
        if let Some(patterns) = map.get("patternProperties") {
            let Value::Object(patterns) = patterns else {
                return Err(loader.error(
                    &node.key("patternProperties"),
                    ErrorKind::Invalid,
                    "`patternProperties` must be an object",
                ));
            };
            for pattern in patterns.keys() {
                let child = self.parse_at(loader, &node.key("patternProperties").key(pattern), depth + 1)?;
                schema.pattern_properties.push((pattern.clone(), child));
            }
        }
        schema.enum_values = match map.get("enum") {
            None => None,
            Some(Value::Array(values)) => Some(values.clone()),
            Some(_) => return Err(loader.error(&node.key("enum"), ErrorKind::Invalid, "`enum` must be an array")),
        };
        schema.const_value = map.get("const").cloned();
        for (key, list) in [("oneOf", &mut schema.one_of), ("anyOf", &mut schema.any_of), ("allOf", &mut schema.all_of)]
        {
            if let Some(value) = map.get(key) {
                let Value::Array(items) = value else {
                    return Err(loader.error(
                        &node.key(key),
                        ErrorKind::Invalid,
                        format!("`{key}` must be an array of schemas"),
                    ));
                };
                for i in 0..items.len() {
                    list.push(self.parse_at(loader, &node.key(key).index(i), depth + 1)?);
                }
            }
        }
        schema.discriminator = match map.get("discriminator") {
            Some(Value::String(name)) => Some(name.clone()),
            Some(Value::Object(o)) => o.get("propertyName").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        schema.default = map.get("default").cloned();
        Ok(schema)
    }
}

impl Schema {
    fn empty(node: Node) -> Schema {
        Schema {
            node,
            component_name: None,
            title: None,
            description: None,
            never: false,
            types: Vec::new(),
            nullable: false,
            properties: Vec::new(),
            required: Vec::new(),
            additional: Additional::Unspecified,
            items: None,
            tuple_items: Vec::new(),
            pattern_properties: Vec::new(),
            enum_values: None,
            const_value: None,
            format: None,
            one_of: Vec::new(),
            any_of: Vec::new(),
            all_of: Vec::new(),
            discriminator: None,
            default: None,
        }
    }

    /// The single value this schema allows, from `const` or a one-value `enum`.
    pub fn single_value(&self) -> Option<&Value> {
        if let Some(value) = &self.const_value {
            return Some(value);
        }
        match self.enum_values.as_deref() {
            Some([only]) => Some(only),
            _ => None,
        }
    }
}

/// The keywords of a schema object without the subschemas inside them, which are read from
/// their own nodes: only their shape is kept (the keys of `properties`, the length of `oneOf`),
/// so that reading a schema does not copy everything nested in it.
fn shallow(map: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    let skeleton = |value: &Value| match value {
        Value::Object(object) if !object.is_empty() => {
            Value::Object(object.keys().map(|k| (k.clone(), Value::Null)).collect())
        }
        Value::Array(items) => Value::Array(vec![Value::Null; items.len()]),
        other => other.clone(),
    };
    map.iter()
        .map(|(key, value)| {
            let value = match key.as_str() {
                "properties"
                | "patternProperties"
                | "oneOf"
                | "anyOf"
                | "allOf"
                | "prefixItems"
                | "items"
                | "additionalProperties"
                | "not"
                | "definitions"
                | "$defs"
                | "if"
                | "then"
                | "else" => skeleton(value),
                _ => value.clone(),
            };
            (key.clone(), value)
        })
        .collect()
}

/// The component name of a schema that lives in a table of named schemas.
fn component_name(node: &Node) -> Option<String> {
    let tokens = node.tokens();
    match tokens.as_slice() {
        [.., table, name] if matches!(table.as_str(), "schemas" | "definitions" | "$defs") => Some(name.clone()),
        _ => None,
    }
}

/// The name a `$ref` target suggests: the last token of its pointer (`./schemas.yaml#/User` →
/// `User`), or the file's stem for a whole file; none where the token is a schema keyword.
fn referenced_name(loader: &Loader, node: &Node) -> Option<String> {
    match node.tokens().last() {
        Some(token) => {
            let keyword = matches!(
                token.as_str(),
                "payload" | "headers" | "schema" | "items" | "additionalProperties" | "not" | "if" | "then" | "else"
            );
            (!keyword && !token.chars().all(|c| c.is_ascii_digit())).then(|| token.clone())
        }
        None => loader.path(node.file).file_stem().map(|s| s.to_string_lossy().into_owned()),
    }
}

/// `an object`, `a string`, ... for error messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
