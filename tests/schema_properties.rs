//! Random but valid JSON Schemas through the generator: the code compiles, and values round-trip.
//!
//! Each case is a random schema tree — objects with nested objects, arrays, tuples, maps, string
//! enums with awkward values, consts, tagged and untagged `oneOf`/`anyOf`, `allOf`, nullables in
//! three spellings, type lists, formats, `$ref`s to `components/schemas` (recursive ones too) —
//! with awkward property names (keywords, digits, unicode, empty, names that collide after case
//! conversion). Each becomes a message payload in an AsyncAPI 3.0 document, every document is
//! generated, and all outputs are compiled together in one scratch crate under
//! `#![deny(warnings)]` and clippy. Beside each schema the test makes JSON instances valid for it
//! (checked with the `jsonschema` crate); the scratch crate decodes each with
//! `ChannelMessage::deserialize_named`, encodes it back and compares.
//!
//! The cases come from a fixed seed, so CI is deterministic. Change them with
//! `EVENTFOLD_SCHEMA_SEED=<u64>` and `EVENTFOLD_SCHEMA_CASES=<n>` (default 48).
//! The scratch crate builds into `<workspace>/target/schema-properties`.

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Map, Value};
use support::{workspace, Project};

/// A schema the test knows how to write and how to make instances of.
#[derive(Debug, Clone)]
enum S {
    Str,
    Bool,
    /// `integer` with an optional `format`.
    Int(Option<&'static str>),
    Num,
    /// `string` with a `format`.
    Fmt(&'static str),
    /// A string enum; `true`: `null` is one of the values too.
    Enum(Vec<String>, bool),
    Const(Value),
    Obj(Obj),
    Array(Box<S>),
    Tuple(Vec<S>),
    Map(Box<S>),
    /// `type: [T, "null"]`.
    TypeNull(Box<S>),
    /// `oneOf: [S, {type: null}]`.
    OneOfNull(Box<S>),
    /// OpenAPI's `nullable: true` (instances are never null: JSON Schema does not know it).
    NullableKw(Box<S>),
    /// `oneOf` of objects told apart by a string `const` property.
    Tagged {
        tag: String,
        alternatives: Vec<(String, Obj)>,
    },
    /// `oneOf` (or `anyOf`) of alternatives of distinct JSON types.
    Untagged {
        any: bool,
        alternatives: Vec<S>,
    },
    AllOf(Vec<Obj>),
    /// A list of distinct primitive types.
    TypeList(Vec<&'static str>),
    /// A `$ref` to `components/schemas/COMPONENTS[i]`.
    Ref(usize),
}

#[derive(Debug, Clone)]
struct Obj {
    properties: Vec<(String, S, bool)>,
    additional: Additional,
}

#[derive(Debug, Clone)]
enum Additional {
    Unspecified,
    Forbidden,
    Schema(Box<S>),
}

const NAMES: &[&str] = &[
    "id",
    "type",
    "self",
    "Self",
    "crate",
    "super",
    "fn",
    "match",
    "r#type",
    "async",
    "_",
    "__",
    "1",
    "2fast",
    "0x",
    "ünïcödé",
    "名前",
    "emoji😀",
    "",
    " ",
    "a b",
    "fooBar",
    "foo_bar",
    "FooBar",
    "foo-bar",
    "FOO_BAR",
    "additional_properties",
    "Option",
    "Box",
    "value",
    "kind",
    "$ref",
    "a/b",
    "~tilde",
    "x.y",
];
const ENUM_VALUES: &[&str] = &[
    "",
    " ",
    "a b",
    "1",
    "-1",
    "type",
    "Self",
    "self",
    "a-b",
    "A_B",
    "aB",
    "ab",
    "ünï",
    "😀",
    "null",
    "true",
    "Empty",
    "with\"quote",
    "back\\slash",
    "new\nline",
    "r#fn",
];
const STRINGS: &[&str] = &["", "plain", "ünïcödé 名前 😀", "with \"quotes\" and \\", "line\nbreak\ttab", "null"];
const INT_FORMATS: &[Option<&str>] =
    &[None, Some("int32"), Some("int64"), Some("int8"), Some("uint8"), Some("uint32"), Some("uint64")];
const STRING_FORMATS: &[&str] = &["uuid", "date-time", "date", "email", "uri", "hostname"];

/// The components of every document: two recursive ones the test writes, three random ones.
const COMPONENTS: &[&str] = &["Tree", "Expr", "Option", "Box", "my-type"];
const FIXED_COMPONENTS: usize = 2;

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(NAMES).prop_map(str::to_owned)
}

fn leaf(refs: usize) -> BoxedStrategy<S> {
    let const_value = prop_oneof![
        prop::sample::select(ENUM_VALUES).prop_map(|s| json!(s)),
        any::<i32>().prop_map(|i| json!(i)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(json!(1.5)),
    ];
    let mut options: Vec<BoxedStrategy<S>> = vec![
        Just(S::Str).boxed(),
        Just(S::Bool).boxed(),
        prop::sample::select(INT_FORMATS).prop_map(S::Int).boxed(),
        Just(S::Num).boxed(),
        prop::sample::select(STRING_FORMATS).prop_map(S::Fmt).boxed(),
        (prop::sample::subsequence(ENUM_VALUES, 1..6), any::<bool>())
            .prop_map(|(values, null)| S::Enum(values.into_iter().map(str::to_owned).collect(), null))
            .boxed(),
        const_value.prop_map(S::Const).boxed(),
        prop::sample::subsequence(&["string", "integer", "boolean", "null"][..], 2..4).prop_map(S::TypeList).boxed(),
    ];
    if refs > 0 {
        options.push((0..refs).prop_map(S::Ref).boxed());
    }
    prop::strategy::Union::new(options).boxed()
}

fn obj(inner: BoxedStrategy<S>, max: usize) -> impl Strategy<Value = Obj> {
    let additional = prop_oneof![
        3 => Just(Additional::Unspecified),
        1 => Just(Additional::Forbidden),
        1 => inner.clone().prop_map(|s| Additional::Schema(Box::new(s))),
    ];
    (prop::collection::vec((name(), inner, any::<bool>()), 0..max), additional).prop_map(
        |(mut properties, additional)| {
            dedup_names(&mut properties);
            Obj { properties, additional }
        },
    )
}

fn dedup_names(properties: &mut Vec<(String, S, bool)>) {
    let mut seen = std::collections::BTreeSet::new();
    properties.retain(|(n, _, _)| seen.insert(n.clone()));
}

fn schema(refs: usize) -> BoxedStrategy<S> {
    leaf(refs)
        .prop_recursive(4, 48, 5, move |inner| {
            let tag_values = prop::sample::subsequence(ENUM_VALUES, 2..4);
            prop_oneof![
                3 => obj(inner.clone(), 6).prop_map(S::Obj),
                1 => inner.clone().prop_map(|s| S::Array(Box::new(s))),
                1 => prop::collection::vec(inner.clone(), 1..4).prop_map(S::Tuple),
                1 => inner.clone().prop_map(|s| S::Map(Box::new(s))),
                1 => inner.clone().prop_map(|s| S::OneOfNull(Box::new(s))),
                1 => inner.clone().prop_map(|s| S::NullableKw(Box::new(s))),
                1 => prop::sample::select(&[S::Str, S::Bool, S::Int(None), S::Num][..]).prop_map(|s| S::TypeNull(Box::new(s))),
                1 => (name(), tag_values, prop::collection::vec(obj(inner.clone(), 4), 4)).prop_map(|(tag, values, objs)| {
                    let alternatives = values
                        .into_iter()
                        .zip(objs)
                        .map(|(value, mut o)| {
                            o.properties.retain(|(n, _, _)| *n != tag);
                            (value.to_owned(), o)
                        })
                        .collect();
                    S::Tagged { tag, alternatives }
                }),
                1 => (any::<bool>(), prop::collection::vec(inner.clone(), 2..5)).prop_map(|(any, alts)| {
                    let mut kinds = std::collections::BTreeSet::new();
                    let mut alternatives: Vec<S> = alts.into_iter().filter(|a| kind(a).is_some_and(|k| kinds.insert(k))).collect();
                    for extra in [S::Str, S::Bool, S::Int(None)] {
                        if alternatives.len() < 2 && kinds.insert(kind(&extra).unwrap_or_default()) {
                            alternatives.push(extra);
                        }
                    }
                    S::Untagged { any, alternatives }
                }),
                1 => prop::collection::vec(obj(inner, 4), 1..4).prop_map(|mut members| {
                    let mut seen = std::collections::BTreeSet::new();
                    for member in &mut members {
                        member.properties.retain(|(n, _, _)| seen.insert(n.clone()));
                        member.additional = Additional::Unspecified;
                    }
                    S::AllOf(members)
                }),
            ]
        })
        .boxed()
}

/// The JSON type of every instance of `s`, where there is one (for untagged alternatives).
fn kind(s: &S) -> Option<&'static str> {
    Some(match s {
        S::Str | S::Fmt(_) => "string",
        S::Enum(_, false) => "string",
        S::Const(v) => match v {
            Value::String(_) => "string",
            Value::Bool(_) => "boolean",
            _ => return None,
        },
        S::Bool => "boolean",
        S::Int(_) => "integer",
        S::Obj(_) | S::Map(_) | S::Tagged { .. } | S::AllOf(_) => "object",
        S::Array(_) | S::Tuple(_) => "array",
        S::Ref(_) => "object",
        S::Num
        | S::Enum(_, true)
        | S::TypeNull(_)
        | S::OneOfNull(_)
        | S::NullableKw(_)
        | S::Untagged { .. }
        | S::TypeList(_) => return None,
    })
}

// ---- writing schemas ------------------------------------------------------------------------

fn to_schema(s: &S) -> Value {
    match s {
        S::Str => json!({ "type": "string" }),
        S::Bool => json!({ "type": "boolean" }),
        S::Int(None) => json!({ "type": "integer" }),
        S::Int(Some(f)) => json!({ "type": "integer", "format": f }),
        S::Num => json!({ "type": "number" }),
        S::Fmt(f) => json!({ "type": "string", "format": f }),
        S::Enum(values, null) => {
            let mut values: Vec<Value> = values.iter().map(|v| json!(v)).collect();
            if *null {
                values.push(Value::Null);
            }
            json!({ "enum": values })
        }
        S::Const(v) => json!({ "const": v }),
        S::Obj(o) => obj_schema(o),
        S::Array(items) => json!({ "type": "array", "items": to_schema(items) }),
        S::Tuple(items) => {
            json!({ "type": "array", "items": items.iter().map(to_schema).collect::<Vec<_>>(), "additionalItems": false, "minItems": items.len() })
        }
        S::Map(values) => json!({ "type": "object", "additionalProperties": to_schema(values) }),
        S::TypeNull(inner) => {
            let mut v = to_schema(inner);
            let t = v["type"].clone();
            v["type"] = json!([t, "null"]);
            v
        }
        // `oneOf` would forbid `null` where the inner schema allows it too.
        S::OneOfNull(inner) if may_be_null(inner) => json!({ "anyOf": [to_schema(inner), { "type": "null" }] }),
        S::OneOfNull(inner) => json!({ "oneOf": [to_schema(inner), { "type": "null" }] }),
        S::NullableKw(inner) => {
            let mut v = to_schema(inner);
            if let Value::Object(map) = &mut v {
                map.insert("nullable".into(), json!(true));
            }
            v
        }
        S::Tagged { tag, alternatives } => {
            let alts: Vec<Value> = alternatives
                .iter()
                .map(|(value, o)| {
                    let mut v = obj_schema(o);
                    v["properties"][tag] = json!({ "type": "string", "const": value });
                    if let Some(required) = v["required"].as_array_mut() {
                        required.push(json!(tag));
                    }
                    v
                })
                .collect();
            json!({ "oneOf": alts })
        }
        S::Untagged { any, alternatives } => {
            let key = if *any { "anyOf" } else { "oneOf" };
            json!({ key: alternatives.iter().map(to_schema).collect::<Vec<_>>() })
        }
        S::AllOf(members) => json!({ "allOf": members.iter().map(obj_schema).collect::<Vec<_>>() }),
        S::TypeList(types) => json!({ "type": types }),
        S::Ref(i) => json!({ "$ref": format!("#/components/schemas/{}", COMPONENTS[*i]) }),
    }
}

/// Whether `s` is a property with one allowed value (`const`, a one-value `enum`): a constant of
/// the generated type.
fn is_const(s: &S) -> bool {
    match s {
        S::Const(_) => true,
        S::Enum(values, false) => values.len() == 1,
        S::NullableKw(inner) => is_const(inner),
        _ => false,
    }
}

fn may_be_null(s: &S) -> bool {
    match s {
        S::Enum(_, null) => *null,
        S::TypeNull(_) | S::OneOfNull(_) => true,
        S::TypeList(types) => types.contains(&"null"),
        S::NullableKw(inner) => may_be_null(inner),
        S::Ref(i) => *i >= FIXED_COMPONENTS,
        _ => false,
    }
}

fn obj_schema(o: &Obj) -> Value {
    let properties: Map<String, Value> = o.properties.iter().map(|(n, s, _)| (n.clone(), to_schema(s))).collect();
    let required: Vec<&String> = o.properties.iter().filter(|p| p.2).map(|p| &p.0).collect();
    let mut v = json!({ "type": "object", "properties": properties, "required": required });
    match &o.additional {
        Additional::Unspecified => {}
        Additional::Forbidden => v["additionalProperties"] = json!(false),
        Additional::Schema(s) => v["additionalProperties"] = to_schema(s),
    }
    v
}

fn fixed_components() -> Vec<Value> {
    vec![
        json!({
            "type": "object",
            "description": "Holds itself, directly and through a list.",
            "properties": {
                "value": { "type": "integer" },
                "children": { "type": "array", "items": { "$ref": "#/components/schemas/Tree" } },
                "parent": { "$ref": "#/components/schemas/Tree" },
            },
            "required": ["value"],
        }),
        json!({
            "oneOf": [
                { "type": "object", "properties": { "op": { "const": "lit" }, "value": { "type": "number" } }, "required": ["op", "value"] },
                {
                    "type": "object",
                    "properties": {
                        "op": { "const": "add" },
                        "left": { "$ref": "#/components/schemas/Expr" },
                        "right": { "$ref": "#/components/schemas/Expr" },
                    },
                    "required": ["op", "left", "right"],
                },
            ],
        }),
    ]
}

// ---- making instances -----------------------------------------------------------------------

/// A small deterministic generator for instances.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

struct Instances<'a> {
    components: &'a [S],
    rng: Rng,
}

impl Instances<'_> {
    fn of(&mut self, s: &S, depth: usize) -> Value {
        let rng = &mut self.rng;
        match s {
            S::Str => json!(rng.pick(STRINGS)),
            S::Bool => json!(rng.coin()),
            S::Int(format) => {
                let (lo, hi): (i128, i128) = match format {
                    Some("int8") => (i8::MIN.into(), i8::MAX.into()),
                    Some("uint8") => (0, u8::MAX.into()),
                    Some("int32") => (i32::MIN.into(), i32::MAX.into()),
                    Some("uint32") => (0, u32::MAX.into()),
                    Some("uint64") => (0, u64::MAX.into()),
                    _ => (i64::MIN.into(), i64::MAX.into()),
                };
                let v = *rng.pick(&[lo, hi, 0, 1.max(lo), 42.min(hi)]);
                if v > i64::MAX as i128 {
                    json!(v as u64)
                } else {
                    json!(v as i64)
                }
            }
            S::Num => json!(*rng.pick(&[0.5, -1.25, 3.0, 1e10, 7.0e-3])),
            S::Fmt(format) => json!(match *format {
                "uuid" => *rng.pick(&["67e55044-10b1-426f-9247-bb680e5fe0c8", "00000000-0000-0000-0000-000000000000"]),
                "date-time" =>
                    *rng.pick(&["2024-02-29T12:34:56Z", "1970-01-01T00:00:00.5Z", "2030-12-31T23:59:59+02:00"]),
                "date" => *rng.pick(&["2024-02-29", "1999-12-31"]),
                "email" => "someone@example.com",
                "uri" => "https://example.com/a?b=c",
                _ => "host.example",
            }),
            S::Enum(values, null) => {
                if *null && rng.below(4) == 0 {
                    Value::Null
                } else {
                    json!(rng.pick(values))
                }
            }
            S::Const(v) => v.clone(),
            S::Obj(o) => self.obj(o, None, depth),
            S::Array(items) => {
                let n = if depth > 3 { 0 } else { self.rng.below(3) };
                Value::Array((0..n).map(|_| self.of(items, depth + 1)).collect())
            }
            S::Tuple(items) => Value::Array(items.iter().map(|i| self.of(i, depth + 1)).collect()),
            S::Map(values) => {
                let n = if depth > 3 { 0 } else { self.rng.below(3) };
                let mut map = Map::new();
                for i in 0..n {
                    let key = format!("{}{i}", self.rng.pick(NAMES));
                    map.insert(key, self.of(values, depth + 1));
                }
                Value::Object(map)
            }
            S::TypeNull(inner) | S::OneOfNull(inner) => {
                if rng.below(3) == 0 {
                    Value::Null
                } else {
                    self.of(inner, depth + 1)
                }
            }
            S::NullableKw(inner) => self.of(inner, depth + 1),
            S::Tagged { tag, alternatives } => {
                let (value, o) = self.rng.pick(alternatives);
                self.obj(o, Some((tag, value)), depth)
            }
            S::Untagged { alternatives, .. } => {
                let alternative = self.rng.pick(alternatives);
                self.of(alternative, depth + 1)
            }
            S::AllOf(members) => {
                let mut map = Map::new();
                for member in members {
                    if let Value::Object(m) = self.obj(member, None, depth) {
                        map.extend(m);
                    }
                }
                Value::Object(map)
            }
            S::TypeList(types) => match *rng.pick(types) {
                "string" => json!(rng.pick(STRINGS)),
                "integer" => json!(-7),
                "boolean" => json!(true),
                _ => Value::Null,
            },
            S::Ref(0) => {
                let mut tree = Map::new();
                tree.insert("value".into(), json!(depth));
                if depth < 3 && self.rng.coin() {
                    let children = (0..self.rng.below(3)).map(|_| self.of(&S::Ref(0), depth + 1)).collect();
                    tree.insert("children".into(), Value::Array(children));
                }
                if depth < 3 && self.rng.coin() {
                    tree.insert("parent".into(), self.of(&S::Ref(0), depth + 1));
                }
                Value::Object(tree)
            }
            S::Ref(1) => {
                if depth >= 3 || self.rng.coin() {
                    json!({ "op": "lit", "value": 2.5 })
                } else {
                    json!({ "op": "add", "left": self.of(&S::Ref(1), depth + 1), "right": self.of(&S::Ref(1), depth + 1) })
                }
            }
            S::Ref(i) => {
                let component = self.components[*i - FIXED_COMPONENTS].clone();
                self.of(&component, depth + 1)
            }
        }
    }

    fn obj(&mut self, o: &Obj, tag: Option<(&String, &String)>, depth: usize) -> Value {
        let mut map = Map::new();
        if let Some((tag, value)) = tag {
            map.insert(tag.clone(), json!(value));
        }
        for (name, s, required) in &o.properties {
            // A constant is written by the type whether or not it is required (the design's
            // wire form), so an instance without it would not come back equal: always give it.
            if *required || is_const(s) || self.rng.coin() {
                map.insert(name.clone(), self.of(s, depth + 1));
            }
        }
        if let Additional::Schema(values) = &o.additional {
            for i in 0..self.rng.below(3) {
                let key = format!("extra-{i}");
                if !o.properties.iter().any(|p| p.0 == key) {
                    map.insert(key, self.of(values, depth + 1));
                }
            }
        }
        Value::Object(map)
    }
}

// ---- the test -------------------------------------------------------------------------------

/// One generated case: its document, and instances of each message's payload.
struct Case {
    document: Value,
    /// (message key, payload schema, instances)
    messages: Vec<(String, S, Vec<Value>)>,
    components: Vec<S>,
}

fn make_case(runner: &mut TestRunner, seed: u64) -> Case {
    let components: Vec<S> = (FIXED_COMPONENTS..COMPONENTS.len())
        .map(|_| schema(FIXED_COMPONENTS).new_tree(runner).expect("a schema").current())
        .collect();
    let count = 1 + (seed % 3) as usize;
    let mut rng = Rng(seed | 1);
    let mut messages = Vec::new();
    let mut channel_messages = Map::new();
    for m in 0..count {
        let s = schema(COMPONENTS.len()).new_tree(runner).expect("a schema").current();
        let key = format!("m{m}");
        let mut instances = Instances { components: &components, rng: Rng(rng.next() | 1) };
        let values = (0..3).map(|_| instances.of(&s, 0)).collect();
        channel_messages.insert(key.clone(), json!({ "payload": to_schema(&s) }));
        messages.push((key, s, values));
    }
    let mut schemas = Map::new();
    for (i, value) in fixed_components().into_iter().enumerate() {
        schemas.insert(COMPONENTS[i].to_owned(), value);
    }
    for (i, s) in components.iter().enumerate() {
        schemas.insert(COMPONENTS[FIXED_COMPONENTS + i].to_owned(), to_schema(s));
    }
    let document = json!({
        "asyncapi": "3.0.0",
        "info": { "title": "random schemas", "version": "1.0.0" },
        "channels": { "things": { "address": "things", "messages": channel_messages } },
        "operations": {
            "sendThings": { "action": "send", "channel": { "$ref": "#/channels/things" } },
            "receiveThings": { "action": "receive", "channel": { "$ref": "#/channels/things" } },
        },
        "components": { "schemas": schemas },
    });
    Case { document, messages, components }
}

/// Reads `file://` URIs of the test's own documents for `jsonschema`; nothing else.
struct LocalFiles;

impl jsonschema::Retrieve for LocalFiles {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        if uri.scheme().as_str() != "file" {
            return Err(format!("not fetched: {uri}").into());
        }
        let path = percent_encoding::percent_decode_str(uri.path().as_str()).decode_utf8_lossy().into_owned();
        Ok(serde_json::from_str(&fs::read_to_string(path)?)?)
    }
}

fn env_number(key: &str, default: u64) -> u64 {
    match std::env::var(key) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("{key}={text} is not a number")),
        Err(_) => default,
    }
}

#[test]
fn random_valid_schemas_generate_code_that_compiles_and_round_trips() {
    let seed = env_number("EVENTFOLD_SCHEMA_SEED", 0x5eed_e7e0_f01d);
    let cases = env_number("EVENTFOLD_SCHEMA_CASES", 48) as usize;
    eprintln!("schema properties: {cases} cases from seed {seed} (EVENTFOLD_SCHEMA_SEED, EVENTFOLD_SCHEMA_CASES)");
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));

    let docs = tempfile::Builder::new().prefix("eventfold-schemas-").tempdir().unwrap();
    let dir = tempfile::Builder::new().prefix("eventfold-schema-check-").tempdir().unwrap();
    let project_dir = dir.path().to_path_buf();
    let src = project_dir.join("src");
    fs::create_dir_all(&src).unwrap();
    let mut lib = String::from("//! Code generated from random schemas.\n#![deny(warnings)]\n\npub mod check;\n");
    let mut main = String::from("fn main() {\n");
    let mut all = Vec::new();
    let mut failures = Vec::new();
    for index in 0..cases {
        let case = make_case(&mut runner, seed.wrapping_add(index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let path = docs.path().join(format!("case_{index:03}.json"));
        fs::write(&path, serde_json::to_string_pretty(&case.document).unwrap()).unwrap();
        // The test's own instances must be valid, or a failure would say nothing about eventfold.
        for (key, _, instances) in &case.messages {
            let pointer = format!("file://{}#/channels/things/messages/{key}/payload", path.display());
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .with_retriever(LocalFiles)
                .build(&json!({ "$ref": pointer }))
                .unwrap_or_else(|e| {
                    panic!("case {index}: the test wrote an invalid schema ({e}):\n{}", describe(&case))
                });
            for instance in instances {
                let errors: Vec<String> =
                    validator.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path())).collect();
                assert!(
                    errors.is_empty(),
                    "case {index}: the test made an invalid instance {instance} of {key} ({errors:?}):\n{}",
                    describe(&case)
                );
            }
        }
        match std::panic::catch_unwind(|| eventfold_codegen::generate(&path)) {
            Err(_) => failures.push(format!("case {index}: the generator panicked\n{}", describe(&case))),
            Ok(Err(e)) => failures.push(format!("case {index}: not generated: {e}\n{}", describe(&case))),
            Ok(Ok(generated)) => {
                let module = format!("case_{index:03}");
                fs::write(src.join(format!("{module}.rs")), &generated.code).unwrap();
                writeln!(lib, "pub mod {module};").unwrap();
                for (key, _, instances) in &case.messages {
                    for (i, instance) in instances.iter().enumerate() {
                        writeln!(
                            main,
                            "    schema_check::check::check::<schema_check::{module}::things::Message>(\"{index}:{i}\", {key:?}, {:?});",
                            instance.to_string()
                        )
                        .unwrap();
                    }
                }
            }
        }
        all.push(case);
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} valid documents were not generated:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    main.push_str("}\n");
    support::write_round_trip_crate(&project_dir, "schema-check", &lib, &main);

    let project = Project::new(dir, workspace().join("target/schema-properties"));
    let clippy = project.run(&["clippy", "--offline", "--all-targets", "--", "-D", "warnings"]);
    if !clippy.status.success() {
        let stderr = String::from_utf8_lossy(&clippy.stderr);
        let failing = failing_cases(&stderr);
        let schemas: Vec<String> =
            failing.iter().filter_map(|i| all.get(*i).map(|c| format!("case {i}:\n{}", describe(c)))).collect();
        panic!(
            "generated code does not compile (cases {failing:?}):\n{stderr}\n\nschemas of the failing cases:\n{}",
            schemas.join("\n\n")
        );
    }
    let run = project.run(&["run", "--offline", "-q"]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "the round-trip runner failed:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    let mut ok = 0;
    let mut trips = Vec::new();
    for (label, key, failure) in stdout.lines().filter_map(support::parse_round_trip) {
        match failure {
            None => ok += 1,
            Some(why) => {
                let (case, instance) = label.split_once(':').unwrap_or((label, "0"));
                let index: usize = case.parse().unwrap_or(usize::MAX);
                let instance: usize = instance.parse().unwrap_or(0);
                let Some(c) = all.get(index) else { continue };
                let value =
                    c.messages.iter().find(|m| m.0 == key).map(|m| m.2[instance].to_string()).unwrap_or_default();
                trips.push(format!("case {index} message {key}: {why}\n  instance: {value}\n{}", describe(c)));
            }
        }
    }
    eprintln!(
        "schema properties: {cases} documents generated and compiled; {ok} round-trips ok, {} failed",
        trips.len()
    );
    assert!(ok > 0, "no round-trip ran:\n{stdout}");
    assert!(trips.is_empty(), "{} round-trips failed:\n\n{}", trips.len(), trips.join("\n\n"));
}

/// The case's document, for a failure message.
fn describe(case: &Case) -> String {
    let _ = &case.components;
    serde_json::to_string_pretty(&case.document).unwrap_or_default()
}

fn failing_cases(stderr: &str) -> Vec<usize> {
    let mut failing = BTreeMap::new();
    for line in stderr.lines() {
        let Some(at) = line.trim_start().strip_prefix("--> src/case_") else { continue };
        if let Some(index) = at.get(..3).and_then(|n| n.parse::<usize>().ok()) {
            failing.insert(index, ());
        }
    }
    failing.into_keys().collect()
}
