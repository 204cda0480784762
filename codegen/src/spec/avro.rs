//! Avro schemas (`schemaFormat: application/vnd.apache.avro...`) read as the JSON Schema they
//! describe, so that the rest of the pipeline sees one schema language.
//!
//! A record becomes an object whose fields are required unless they have a `default` or are a
//! union with `null`; an enum a string enum; `array` / `map` a list / map; a union with `null`
//! a nullable type, other unions a `oneOf`. Named types (records, enums, fixed) go to
//! `definitions` and are referred to by `$ref`, so recursive records work. `int`/`long`/`float`/
//! `double` keep their width. Payloads are taken to travel as plain JSON of that shape.

use serde_json::{json, Map, Value};

use crate::error::{ErrorKind, Result};
use crate::load::{Loader, Node};

/// Whether a `schemaFormat` names Avro.
pub fn is_avro(format: &str) -> bool {
    format.starts_with("application/vnd.apache.avro")
}

/// The JSON Schema of the Avro schema at `node`.
pub fn to_json_schema(loader: &Loader, node: &Node) -> Result<Value> {
    let mut definitions = Map::new();
    let root = convert(loader, node, loader.get(node)?, &mut definitions, 0)?;
    let mut schema = match root {
        Value::Object(map) => map,
        other => return Ok(other),
    };
    schema.insert("definitions".to_owned(), Value::Object(definitions));
    Ok(Value::Object(schema))
}

const MAX_DEPTH: usize = 64;

fn convert(
    loader: &Loader,
    at: &Node,
    avro: &Value,
    definitions: &mut Map<String, Value>,
    depth: usize,
) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(loader.error(at, ErrorKind::TooDeep, "the Avro schema is nested too deeply"));
    }
    match avro {
        Value::String(name) => Ok(primitive(name).unwrap_or_else(|| named_ref(name))),
        Value::Array(branches) => {
            let nullable = branches.iter().any(|b| b.as_str() == Some("null"));
            let others: Vec<(usize, &Value)> =
                branches.iter().enumerate().filter(|(_, b)| b.as_str() != Some("null")).collect();
            match others.as_slice() {
                [] => Ok(json!({"type": "null"})),
                [(i, only)] => {
                    let schema = convert(loader, &at.index(*i), only, definitions, depth + 1)?;
                    Ok(if nullable { nullable_form(schema) } else { schema })
                }
                many => {
                    let mut alternatives = Vec::new();
                    for (i, branch) in many {
                        alternatives.push(convert(loader, &at.index(*i), branch, definitions, depth + 1)?);
                    }
                    if nullable {
                        alternatives.push(json!({"type": "null"}));
                    }
                    Ok(json!({ "oneOf": alternatives }))
                }
            }
        }
        Value::Object(map) => {
            let kind = map
                .get("type")
                .ok_or_else(|| loader.error(at, ErrorKind::Invalid, "an Avro schema object needs a `type`"))?;
            let doc = map.get("doc").and_then(Value::as_str);
            let name = map.get("name").and_then(Value::as_str);
            let mut schema = match kind.as_str() {
                Some("record") | Some("error") => {
                    let name =
                        name.ok_or_else(|| loader.error(at, ErrorKind::Invalid, "an Avro record needs a `name`"))?;
                    let fields = match map.get("fields") {
                        Some(Value::Array(fields)) => fields,
                        _ => return Err(loader.error(at, ErrorKind::Invalid, "an Avro record needs a `fields` array")),
                    };
                    // Registered before its fields, so that a field can refer to the record.
                    definitions.insert(short(name).to_owned(), json!({"type": "object"}));
                    let mut properties = Map::new();
                    let mut required = Vec::new();
                    for (i, field) in fields.iter().enumerate() {
                        let field_at = at.key("fields").index(i);
                        let field_name = field.get("name").and_then(Value::as_str).ok_or_else(|| {
                            loader.error(&field_at, ErrorKind::Invalid, "an Avro field needs a `name`")
                        })?;
                        let field_type = field.get("type").ok_or_else(|| {
                            loader.error(&field_at, ErrorKind::Invalid, "an Avro field needs a `type`")
                        })?;
                        let mut converted = convert(loader, &field_at.key("type"), field_type, definitions, depth + 1)?;
                        if let (Some(doc), Value::Object(schema)) =
                            (field.get("doc").and_then(Value::as_str), &mut converted)
                        {
                            schema.insert("description".to_owned(), json!(doc));
                        }
                        let optional = field.get("default").is_some() || is_nullable_union(field_type);
                        if !optional {
                            required.push(json!(field_name));
                        }
                        properties.insert(field_name.to_owned(), converted);
                    }
                    let mut record = json!({"type": "object", "properties": properties, "required": required});
                    if let (Some(doc), Value::Object(schema)) = (doc, &mut record) {
                        schema.insert("description".to_owned(), json!(doc));
                    }
                    definitions.insert(short(name).to_owned(), record);
                    return Ok(named_ref(name));
                }
                Some("enum") => {
                    let name =
                        name.ok_or_else(|| loader.error(at, ErrorKind::Invalid, "an Avro enum needs a `name`"))?;
                    let symbols = map.get("symbols").cloned().unwrap_or_else(|| json!([]));
                    let mut schema = json!({"type": "string", "enum": symbols});
                    if let (Some(doc), Value::Object(map)) = (doc, &mut schema) {
                        map.insert("description".to_owned(), json!(doc));
                    }
                    definitions.insert(short(name).to_owned(), schema);
                    return Ok(named_ref(name));
                }
                Some("fixed") => {
                    let name =
                        name.ok_or_else(|| loader.error(at, ErrorKind::Invalid, "an Avro fixed needs a `name`"))?;
                    definitions.insert(short(name).to_owned(), json!({"type": "string"}));
                    return Ok(named_ref(name));
                }
                Some("array") => {
                    let items = map
                        .get("items")
                        .ok_or_else(|| loader.error(at, ErrorKind::Invalid, "an Avro array needs `items`"))?;
                    json!({"type": "array", "items": convert(loader, &at.key("items"), items, definitions, depth + 1)?})
                }
                Some("map") => {
                    let values = map
                        .get("values")
                        .ok_or_else(|| loader.error(at, ErrorKind::Invalid, "an Avro map needs `values`"))?;
                    json!({"type": "object", "additionalProperties": convert(loader, &at.key("values"), values, definitions, depth + 1)?})
                }
                Some(other) => match primitive(other) {
                    Some(mut schema) => {
                        if map.get("logicalType").and_then(Value::as_str) == Some("uuid") {
                            schema = json!({"type": "string", "format": "uuid"});
                        }
                        schema
                    }
                    None => named_ref(other),
                },
                // `{"type": {...}}` or `{"type": [...]}`: the schema is the nested one.
                None => convert(loader, &at.key("type"), kind, definitions, depth + 1)?,
            };
            if let (Some(doc), Value::Object(map)) = (doc, &mut schema) {
                map.insert("description".to_owned(), json!(doc));
            }
            Ok(schema)
        }
        other => Err(loader.error(at, ErrorKind::Invalid, format!("not an Avro schema: {other}"))),
    }
}

fn primitive(name: &str) -> Option<Value> {
    Some(match name {
        "null" => json!({"type": "null"}),
        "boolean" => json!({"type": "boolean"}),
        "int" => json!({"type": "integer", "format": "int32"}),
        "long" => json!({"type": "integer", "format": "int64"}),
        "float" => json!({"type": "number", "format": "float"}),
        "double" => json!({"type": "number", "format": "double"}),
        "bytes" | "string" => json!({"type": "string"}),
        _ => return None,
    })
}

/// A `$ref` to a named type, by its name without namespace.
fn named_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/definitions/{}", crate::load::escape_token(short(name))) })
}

fn short(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

fn is_nullable_union(avro: &Value) -> bool {
    matches!(avro, Value::Array(branches) if branches.iter().any(|b| b.as_str() == Some("null")))
}

/// `schema` made to accept `null` too.
fn nullable_form(schema: Value) -> Value {
    match schema {
        Value::Object(mut map) if map.contains_key("type") && !map.contains_key("$ref") => {
            if let Some(Value::String(kind)) = map.get("type").cloned() {
                map.insert("type".to_owned(), json!([kind, "null"]));
            }
            Value::Object(map)
        }
        other => json!({"oneOf": [other, {"type": "null"}]}),
    }
}
