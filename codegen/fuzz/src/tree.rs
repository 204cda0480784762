//! An arbitrary AsyncAPI 3.0 document: channels of messages whose payloads and headers are
//! arbitrary schema trees, named with awkward names, with `$ref`s into `components/schemas`.

use arbitrary::Arbitrary;
use serde_json::{json, Map, Value};

/// Names that trip generators up.
#[derive(Arbitrary, Debug, Clone)]
pub enum Name {
    Keyword(u8),
    Digits(u16),
    Unicode(u8),
    Empty,
    /// A short name from a small alphabet, so that names collide after case conversion.
    Small(u8, u8),
    Raw(String),
}

const KEYWORDS: &[&str] = &[
    "type",
    "self",
    "Self",
    "super",
    "crate",
    "fn",
    "match",
    "r#type",
    "Option",
    "Box",
    "String",
    "Vec",
    "Result",
    "Message",
    "async",
    "await",
    "dyn",
    "_",
    "__",
    "try",
    "gen",
    "union",
    "default",
    "serde",
    "eventfold",
    "core",
];
const UNICODE: &[&str] =
    &["ünïcödé", "名前", "😀", "a-b", "a.b", "a b", "A_B", "aB", "a_b", "AB", "$ref", "#/x", "~1", "%20"];
const SMALL: &[&str] = &["a", "A", "a_", "_a", "a1", "1a", "-", "."];

impl Name {
    pub fn text(&self) -> String {
        match self {
            Name::Keyword(i) => KEYWORDS[*i as usize % KEYWORDS.len()].to_owned(),
            Name::Digits(n) => n.to_string(),
            Name::Unicode(i) => UNICODE[*i as usize % UNICODE.len()].to_owned(),
            Name::Empty => String::new(),
            Name::Small(a, b) => format!("{}{}", SMALL[*a as usize % SMALL.len()], SMALL[*b as usize % SMALL.len()]),
            Name::Raw(s) => s.chars().take(24).collect(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Ty {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Null => "null",
            Ty::Boolean => "boolean",
            Ty::Integer => "integer",
            Ty::Number => "number",
            Ty::String => "string",
            Ty::Array => "array",
            Ty::Object => "object",
        }
    }
}

const FORMATS: &[&str] = &[
    "uuid",
    "date-time",
    "date",
    "time",
    "uri",
    "email",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float",
    "double",
    "byte",
    "binary",
    "",
];

/// A JSON literal for `enum`, `const`, `default` and examples.
#[derive(Arbitrary, Debug, Clone)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Name),
    Array(Vec<Lit>),
    Object(Vec<(Name, Lit)>),
}

impl Lit {
    pub fn to_json(&self) -> Value {
        match self {
            Lit::Null => Value::Null,
            Lit::Bool(b) => Value::Bool(*b),
            Lit::Int(i) => json!(i),
            Lit::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Lit::Str(name) => Value::String(name.text()),
            Lit::Array(items) => Value::Array(items.iter().take(4).map(Lit::to_json).collect()),
            Lit::Object(fields) => Value::Object(fields.iter().take(4).map(|(k, v)| (k.text(), v.to_json())).collect()),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Schema {
    Bool(bool),
    Type(Ty),
    TypeList(Vec<Ty>),
    Format(Ty, u8),
    Object {
        properties: Vec<(Name, Schema, bool)>,
        additional: Additional,
    },
    Array(Box<Schema>),
    Tuple(Vec<Schema>),
    Map(Box<Schema>),
    Pattern(Name, Box<Schema>),
    Enum(Option<Ty>, Vec<Lit>),
    Const(Lit),
    OneOf(Vec<Schema>, Option<Name>),
    AnyOf(Vec<Schema>),
    AllOf(Vec<Schema>),
    Not(Box<Schema>),
    Nullable(Box<Schema>),
    Ref(u8),
    /// A `$ref` that goes nowhere or somewhere odd.
    OddRef(Name),
    Default(Box<Schema>, Lit),
    Titled(Name, Box<Schema>),
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Additional {
    Unspecified,
    Bool(bool),
    Schema(Box<Schema>),
}

#[derive(Arbitrary, Debug, Clone)]
pub struct Message {
    pub name: Name,
    pub payload: Option<Schema>,
    pub headers: Option<Schema>,
    pub correlation: Option<Name>,
    pub examples: Vec<Lit>,
}

#[derive(Arbitrary, Debug, Clone)]
pub struct Channel {
    pub name: Name,
    pub address: Option<Name>,
    pub messages: Vec<Message>,
    /// The operation on the channel: `None`, send or receive.
    pub operation: Option<bool>,
}

#[derive(Arbitrary, Debug, Clone)]
pub struct Document {
    pub channels: Vec<Channel>,
    pub components: Vec<(Name, Schema)>,
}

impl Document {
    pub fn to_json(&self) -> Value {
        let components: Vec<String> = self.components.iter().take(6).map(|(n, _)| n.text()).collect();
        let cx = Cx { components: &components };
        let mut channels = Map::new();
        let mut operations = Map::new();
        for (c, channel) in self.channels.iter().take(4).enumerate() {
            let id = channel.name.text();
            let mut messages = Map::new();
            for message in channel.messages.iter().take(4) {
                let mut m = Map::new();
                if let Some(payload) = &message.payload {
                    m.insert("payload".into(), cx.schema(payload, 0));
                }
                if let Some(headers) = &message.headers {
                    m.insert("headers".into(), cx.schema(headers, 0));
                }
                if let Some(location) = &message.correlation {
                    m.insert(
                        "correlationId".into(),
                        json!({ "location": format!("$message.payload#/{}", location.text()) }),
                    );
                }
                if !message.examples.is_empty() {
                    let examples: Vec<Value> =
                        message.examples.iter().take(3).map(|e| json!({ "payload": e.to_json() })).collect();
                    m.insert("examples".into(), Value::Array(examples));
                }
                messages.insert(message.name.text(), Value::Object(m));
            }
            let mut ch = Map::new();
            if let Some(address) = &channel.address {
                ch.insert("address".into(), Value::String(format!("{}/{{{}}}", c, address.text())));
                ch.insert("parameters".into(), json!({ address.text(): { "description": "p" } }));
            }
            ch.insert("messages".into(), Value::Object(messages));
            let pointer = format!("#/channels/{}", escape(&id));
            channels.insert(id.clone(), Value::Object(ch));
            if let Some(send) = channel.operation {
                operations.insert(
                    format!("op{c}{id}"),
                    json!({ "action": if send { "send" } else { "receive" }, "channel": { "$ref": pointer } }),
                );
            }
        }
        let schemas: Map<String, Value> =
            self.components.iter().take(6).map(|(name, schema)| (name.text(), cx.schema(schema, 0))).collect();
        json!({
            "asyncapi": "3.0.0",
            "info": { "title": "fuzz", "version": "1" },
            "channels": channels,
            "operations": operations,
            "components": { "schemas": schemas },
        })
    }
}

struct Cx<'a> {
    components: &'a [String],
}

const MAX_DEPTH: usize = 24;

impl Cx<'_> {
    fn schema(&self, schema: &Schema, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return json!({});
        }
        let d = depth + 1;
        let list = |items: &[Schema]| Value::Array(items.iter().take(5).map(|s| self.schema(s, d)).collect());
        match schema {
            Schema::Bool(b) => Value::Bool(*b),
            Schema::Type(t) => json!({ "type": t.name() }),
            Schema::TypeList(ts) => json!({ "type": ts.iter().take(4).map(|t| t.name()).collect::<Vec<_>>() }),
            Schema::Format(t, f) => json!({ "type": t.name(), "format": FORMATS[*f as usize % FORMATS.len()] }),
            Schema::Object { properties, additional } => {
                let mut props = Map::new();
                let mut required = Vec::new();
                for (name, schema, req) in properties.iter().take(6) {
                    props.insert(name.text(), self.schema(schema, d));
                    if *req {
                        required.push(Value::String(name.text()));
                    }
                }
                let mut o = json!({ "type": "object", "properties": props, "required": required });
                match additional {
                    Additional::Unspecified => {}
                    Additional::Bool(b) => o["additionalProperties"] = Value::Bool(*b),
                    Additional::Schema(s) => o["additionalProperties"] = self.schema(s, d),
                }
                o
            }
            Schema::Array(items) => json!({ "type": "array", "items": self.schema(items, d) }),
            Schema::Tuple(items) => json!({ "type": "array", "prefixItems": list(items) }),
            Schema::Map(values) => json!({ "type": "object", "additionalProperties": self.schema(values, d) }),
            Schema::Pattern(p, values) => {
                json!({ "type": "object", "patternProperties": { p.text(): self.schema(values, d) } })
            }
            Schema::Enum(t, values) => {
                let mut o = json!({ "enum": values.iter().take(6).map(Lit::to_json).collect::<Vec<_>>() });
                if let Some(t) = t {
                    o["type"] = json!(t.name());
                }
                o
            }
            Schema::Const(v) => json!({ "const": v.to_json() }),
            Schema::OneOf(items, discriminator) => {
                let mut o = json!({ "oneOf": list(items) });
                if let Some(name) = discriminator {
                    o["discriminator"] = json!(name.text());
                }
                o
            }
            Schema::AnyOf(items) => json!({ "anyOf": list(items) }),
            Schema::AllOf(items) => json!({ "allOf": list(items) }),
            Schema::Not(s) => json!({ "not": self.schema(s, d) }),
            Schema::Nullable(s) => {
                let mut o = self.schema(s, d);
                if let Value::Object(map) = &mut o {
                    map.insert("nullable".into(), Value::Bool(true));
                }
                o
            }
            Schema::Ref(i) => match self.components.get(*i as usize % self.components.len().max(1)) {
                Some(name) => json!({ "$ref": format!("#/components/schemas/{}", escape(name)) }),
                None => json!({ "$ref": "#/components/schemas/missing" }),
            },
            Schema::OddRef(name) => json!({ "$ref": name.text() }),
            Schema::Default(s, v) => {
                let mut o = self.schema(s, d);
                if let Value::Object(map) = &mut o {
                    map.insert("default".into(), v.to_json());
                }
                o
            }
            Schema::Titled(title, s) => {
                let mut o = self.schema(s, d);
                if let Value::Object(map) = &mut o {
                    map.insert("title".into(), Value::String(title.text()));
                }
                o
            }
        }
    }
}

/// A JSON-pointer token for `name`, percent-encoded where a URI fragment needs it.
fn escape(name: &str) -> String {
    let token = name.replace('~', "~0").replace('/', "~1");
    let mut out = String::new();
    for byte in token.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
