//! Stage 4: Rust tokens from the model. No I/O, no decisions about names.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use crate::ir::types::{ConstField, DefaultValue, Field, Prim, StructDef};
use crate::ir::{
    ChannelIr, ConsumerIr, CorrelationIr, Leaf, MessageIr, Model, ParameterIr, PublisherIr, TypeDef, TypeKind, TypeRef,
    TypeSpace,
};

/// The tokens of the module of channel `index` of the model.
pub fn emit_channel(model: &Model, index: usize) -> TokenStream {
    model.channels.get(index).map(|c| channel(model, c)).unwrap_or_default()
}

/// The snake-case suffix of the hidden field and check function of constant `name`; a const
/// named `_0X` (from the property `0x`) gives `0x`, not the non-snake `_const__0x`.
fn const_suffix(name: &str) -> String {
    name.trim_start_matches('_').to_lowercase()
}

/// An identifier the sanitizer produced (always valid; anything else would be a generator bug,
/// which shows up as an `internal` error when the output is parsed, never as a panic).
fn ident(name: &str) -> Ident {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name != "_";
    Ident::new(if valid { name } else { "invalid_identifier" }, Span::call_site())
}

/// `#[doc]` attributes for a description. Code blocks become `text` blocks and indentation is
/// dropped, so that nothing in a document turns into a doctest of the user's crate.
fn doc(text: Option<&str>) -> TokenStream {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return TokenStream::new();
    };
    let mut in_fence = false;
    let lines = text.lines().map(|line| {
        let trimmed = line.trim();
        let line = if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            if in_fence {
                "```text".to_owned()
            } else {
                "```".to_owned()
            }
        } else if in_fence {
            line.to_owned()
        } else {
            trimmed.to_owned()
        };
        format!(" {line}")
    });
    let lines: Vec<String> = lines.collect();
    let close = in_fence.then(|| quote! { #[doc = " ```"] });
    quote! { #(#[doc = #lines])* #close }
}

fn type_tokens(types: &TypeSpace, ty: &TypeRef) -> TokenStream {
    match ty {
        TypeRef::Named(id) => {
            let name = ident(&types.types[id.0].name);
            quote! { #name }
        }
        TypeRef::Prim(prim) => match prim {
            Prim::String => quote! { ::std::string::String },
            Prim::Bool => quote! { bool },
            Prim::I8 => quote! { i8 },
            Prim::I16 => quote! { i16 },
            Prim::I32 => quote! { i32 },
            Prim::I64 => quote! { i64 },
            Prim::U8 => quote! { u8 },
            Prim::U16 => quote! { u16 },
            Prim::U32 => quote! { u32 },
            Prim::U64 => quote! { u64 },
            Prim::F32 => quote! { f32 },
            Prim::F64 => quote! { f64 },
            Prim::Unit => quote! { () },
            Prim::Uuid => quote! { ::eventfold::codegen::uuid::Uuid },
            Prim::Timestamp => quote! { ::eventfold::codegen::Timestamp },
            Prim::Date => quote! { ::eventfold::codegen::Date },
        },
        TypeRef::Json => quote! { ::eventfold::codegen::serde_json::Value },
        TypeRef::JsonObject => quote! {
            ::eventfold::codegen::serde_json::Map<::std::string::String, ::eventfold::codegen::serde_json::Value>
        },
        TypeRef::Option(inner) => {
            let inner = type_tokens(types, inner);
            quote! { ::core::option::Option<#inner> }
        }
        TypeRef::Vec(inner) => {
            let inner = type_tokens(types, inner);
            quote! { ::std::vec::Vec<#inner> }
        }
        TypeRef::Map(inner) => {
            let inner = type_tokens(types, inner);
            quote! { ::std::collections::BTreeMap<::std::string::String, #inner> }
        }
        TypeRef::Box(inner) => {
            let inner = type_tokens(types, inner);
            quote! { ::std::boxed::Box<#inner> }
        }
        TypeRef::Tuple(items) => {
            let items = items.iter().map(|t| type_tokens(types, t));
            quote! { (#(#items,)*) }
        }
    }
}

const SERDE_CRATE: &str = "::eventfold::codegen::serde";

fn serde_derives(ser: bool, de: bool) -> TokenStream {
    let ser = ser.then(|| quote! { ::eventfold::codegen::serde::Serialize, });
    let de = de.then(|| quote! { ::eventfold::codegen::serde::Deserialize, });
    quote! { #ser #de }
}

fn channel(model: &Model, channel: &ChannelIr) -> TokenStream {
    let types = &model.types;
    let module = ident(&channel.module);
    let id = &channel.id;
    let heading = match &channel.address {
        Some(address) => format!(" Channel `{id}`, at address `{address}`."),
        None => format!(" Channel `{id}`."),
    };
    let description = doc(channel.doc.as_deref());
    let address = channel.address.as_ref().map(|a| {
        let (doc_text, function) = if channel.parameters.is_empty() {
            (" The channel's address.".to_owned(), TokenStream::new())
        } else {
            (" The channel's address template; [`address`] fills it in.".to_owned(), address_fn(a, &channel.parameters))
        };
        quote! {
            #[doc = #doc_text]
            pub const ADDRESS: &str = #a;
            #function
        }
    });
    let reexports = channel.reexports.iter().map(|id| {
        let def = &types.types[id.0];
        let name = ident(&def.name);
        let home = ident(model.channels.get(def.home).map_or("", |c| c.module.as_str()));
        quote! { pub use super::#home::#name; }
    });
    let own = channel.own_types.iter().map(|id| type_def(types, &types.types[id.0]));
    let message_enum = message_enum(types, channel);
    let publishers = channel.publishers.iter().map(|p| publisher(model, channel, p));
    let consumers = channel.consumers.iter().map(|c| consumer(model, channel, c));
    quote! {
        #[doc = #heading]
        #[doc = ""]
        #description
        #[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items, clippy::large_enum_variant, clippy::ptr_arg)]
        pub mod #module {
            /// The channel's id in its document.
            pub const CHANNEL: &str = #id;
            #address
            #(#reexports)*
            #(#own)*
            #message_enum
            #(#publishers)*
            #(#consumers)*
        }
    }
}

/// `address(order_id: &str) -> String`, filling the template's parameters, each escaped.
fn address_fn(template: &str, parameters: &[ParameterIr]) -> TokenStream {
    let arguments: Vec<Ident> = parameters.iter().map(|p| ident(&p.argument)).collect();
    let names = parameters.iter().map(|p| &p.name);
    let mut docs = vec![
        " The channel's address with its parameters filled in. Each value is percent-encoded, so it".to_owned(),
        " cannot change the shape of the address (a `/` in a value stays inside its segment).".to_owned(),
    ];
    for p in parameters {
        let mut line = format!(" - `{}`: `{{{}}}`", p.argument, p.name);
        if let Some(description) = &p.doc {
            line.push_str(&format!(", {}", description.lines().next().unwrap_or_default().trim()));
        }
        if !p.values.is_empty() {
            line.push_str(&format!(
                " (one of: {})",
                p.values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        docs.push(line);
    }
    let docs = docs.iter().enumerate().map(|(i, line)| {
        let spacer = (i == 2).then(|| quote! { #[doc = ""] });
        quote! { #spacer #[doc = #line] }
    });
    quote! {
        #(#docs)*
        pub fn address(#(#arguments: &str),*) -> ::std::string::String {
            ::eventfold::codegen::wire::fill_address(#template, &[#((#names, #arguments)),*])
        }
    }
}

fn type_def(types: &TypeSpace, def: &TypeDef) -> TokenStream {
    let name = ident(&def.name);
    let docs = doc(def.doc.as_deref());
    match &def.kind {
        TypeKind::Struct(s) => {
            let body = if s.consts.is_empty() {
                struct_declaration(types, &name, &docs, s, StructSerde::Both)
            } else {
                const_struct(types, &name, &docs, s)
            };
            let defaults = defaults_impl(types, &name, s);
            quote! { #body #defaults }
        }
        TypeKind::Enum(variants) => {
            let names: Vec<Ident> = variants.iter().map(|v| ident(&v.name)).collect();
            let values: Vec<&String> = variants.iter().map(|v| &v.value).collect();
            let derives = serde_derives(true, true);
            quote! {
                #docs
                #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy, ::core::cmp::PartialEq,
                    ::core::cmp::Eq, ::core::hash::Hash, ::core::cmp::PartialOrd, ::core::cmp::Ord, #derives)]
                #[serde(crate = #SERDE_CRATE)]
                pub enum #name {
                    #( #[serde(rename = #values)] #names, )*
                }
                impl #name {
                    /// The value as it is written on the wire.
                    pub fn as_str(&self) -> &'static str {
                        match self { #( Self::#names => #values, )* }
                    }
                }
                impl ::core::fmt::Display for #name {
                    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str(self.as_str())
                    }
                }
            }
        }
        TypeKind::Union { variants, tag: None } => {
            let names = variants.iter().map(|v| ident(&v.name));
            let tys = variants.iter().map(|v| type_tokens(types, &v.ty));
            let derives = serde_derives(true, true);
            quote! {
                #docs
                #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, #derives)]
                #[serde(crate = #SERDE_CRATE, untagged)]
                pub enum #name {
                    #( #names(#tys), )*
                }
            }
        }
        TypeKind::Union { variants, tag: Some(tag) } => {
            let names: Vec<Ident> = variants.iter().map(|v| ident(&v.name)).collect();
            let tys: Vec<TokenStream> = variants.iter().map(|v| type_tokens(types, &v.ty)).collect();
            let tags: Vec<&str> = variants.iter().map(|v| v.tag.as_deref().unwrap_or_default()).collect();
            let wire_doc = format!(" Its `{tag}` property tells the alternatives apart.");
            let impls = tagged_impls(&name, tag, &tags, &names, &tys);
            // Serialized untagged: each alternative writes its own tag.
            let serialize = serde_derives(true, false);
            quote! {
                #docs
                #[doc = ""]
                #[doc = #wire_doc]
                #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, #serialize)]
                #[serde(crate = #SERDE_CRATE, untagged)]
                pub enum #name {
                    #( #names(#tys), )*
                }
                #impls
            }
        }
        TypeKind::Alias(inner) => {
            let inner = type_tokens(types, inner);
            quote! { #docs pub type #name = #inner; }
        }
        TypeKind::Newtype(inner) => {
            let inner = type_tokens(types, inner);
            let derives = serde_derives(true, true);
            quote! {
                #docs
                #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, #derives)]
                #[serde(crate = #SERDE_CRATE, transparent)]
                pub struct #name(pub #inner);
            }
        }
        TypeKind::Pending => TokenStream::new(),
    }
}

/// `<field>_or_default()` for every optional field whose schema gives a fitting `default`.
fn defaults_impl(types: &TypeSpace, name: &Ident, def: &StructDef) -> TokenStream {
    let methods: Vec<TokenStream> = def
        .fields
        .iter()
        .filter_map(|field| {
            let (method, value) = field.default.as_ref()?;
            let method = ident(method);
            let field_name = ident(&field.name);
            let inner = match &field.ty {
                TypeRef::Option(inner) => inner.as_ref(),
                other => other,
            };
            let ty = type_tokens(types, inner);
            let text = format!(" `{}`, or its default when it is absent.", field.wire);
            Some(match value {
                DefaultValue::Str(s) => quote! {
                    #[doc = #text]
                    pub fn #method(&self) -> &str { self.#field_name.as_deref().unwrap_or(#s) }
                },
                DefaultValue::Variant(id, variant) => {
                    let enum_name = ident(&types.types[id.0].name);
                    let variant = ident(variant);
                    quote! {
                        #[doc = #text]
                        pub fn #method(&self) -> #ty { self.#field_name.unwrap_or(#enum_name::#variant) }
                    }
                }
                literal => {
                    let literal = number_literal(inner, literal);
                    quote! {
                        #[doc = #text]
                        pub fn #method(&self) -> #ty { self.#field_name.unwrap_or(#literal) }
                    }
                }
            })
        })
        .collect();
    if methods.is_empty() {
        return TokenStream::new();
    }
    quote! { impl #name { #(#methods)* } }
}

/// A literal of exactly the field's primitive type.
fn number_literal(ty: &TypeRef, value: &DefaultValue) -> TokenStream {
    use proc_macro2::Literal;
    let literal = match (ty, value) {
        (TypeRef::Prim(Prim::Bool), DefaultValue::Bool(b)) => return quote! { #b },
        (TypeRef::Prim(Prim::I8), DefaultValue::Int(v)) => Literal::i8_suffixed(*v as i8),
        (TypeRef::Prim(Prim::I16), DefaultValue::Int(v)) => Literal::i16_suffixed(*v as i16),
        (TypeRef::Prim(Prim::I32), DefaultValue::Int(v)) => Literal::i32_suffixed(*v as i32),
        (TypeRef::Prim(Prim::U8), DefaultValue::UInt(v)) => Literal::u8_suffixed(*v as u8),
        (TypeRef::Prim(Prim::U16), DefaultValue::UInt(v)) => Literal::u16_suffixed(*v as u16),
        (TypeRef::Prim(Prim::U32), DefaultValue::UInt(v)) => Literal::u32_suffixed(*v as u32),
        (TypeRef::Prim(Prim::U64), DefaultValue::UInt(v)) => Literal::u64_suffixed(*v),
        (TypeRef::Prim(Prim::F32), DefaultValue::Float(v)) => Literal::f32_suffixed(*v as f32),
        (_, DefaultValue::Float(v)) => Literal::f64_suffixed(*v),
        (_, DefaultValue::Int(v)) => Literal::i64_suffixed(*v),
        (_, DefaultValue::UInt(v)) => Literal::u64_suffixed(*v),
        _ => return TokenStream::new(),
    };
    quote! { #literal }
}

/// What serde derives on a struct declaration, and with which container attributes.
enum StructSerde<'a> {
    /// `Serialize` and `Deserialize`.
    Both,
    /// `Serialize` only, writing the constant `tag: value` first (serde's struct tag); the
    /// deserializer is written out.
    SerializeTagged { tag: &'a str, value: &'a str },
    /// Neither: both impls are written out.
    Neither,
}

/// The `#[serde]` attributes of a field as serde's derive sees it (`default` only matters when
/// deserializing).
fn field_attrs(field: &Field, deserialize: bool) -> TokenStream {
    let rename = (field.wire != field.name).then(|| {
        let wire = &field.wire;
        quote! { #[serde(rename = #wire)] }
    });
    let optional = (!field.required && matches!(field.ty, TypeRef::Option(_))).then(|| {
        let default = deserialize.then(|| quote! { default, });
        quote! { #[serde(#default skip_serializing_if = "::core::option::Option::is_none")] }
    });
    quote! { #rename #optional }
}

/// A struct declaration: its documented public fields and serde's derives as `serde` says.
fn struct_declaration(
    types: &TypeSpace,
    name: &Ident,
    docs: &TokenStream,
    def: &StructDef,
    serde: StructSerde,
) -> TokenStream {
    let derived = !matches!(serde, StructSerde::Neither);
    let deserialize = matches!(serde, StructSerde::Both);
    let fields = def.fields.iter().map(|f| {
        let attrs = derived.then(|| field_attrs(f, deserialize));
        let field_doc = doc(f.doc.as_deref());
        let field_name = ident(&f.name);
        let ty = type_tokens(types, &f.ty);
        quote! { #field_doc #attrs pub #field_name: #ty, }
    });
    let extra = def.extra.as_ref().map(|(field, ty)| {
        let field = ident(field);
        let ty = type_tokens(types, ty);
        let flatten = derived.then(|| quote! { #[serde(flatten)] });
        quote! {
            /// Properties not listed above.
            #flatten
            pub #field: #ty,
        }
    });
    let (derives, container) = match serde {
        StructSerde::Both => (serde_derives(true, true), quote! { #[serde(crate = #SERDE_CRATE)] }),
        StructSerde::SerializeTagged { tag, value } => {
            (serde_derives(true, false), quote! { #[serde(crate = #SERDE_CRATE, tag = #tag, rename = #value)] })
        }
        StructSerde::Neither => (TokenStream::new(), TokenStream::new()),
    };
    quote! {
        #docs
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, #derives)]
        #container
        pub struct #name {
            #(#fields)*
            #extra
        }
    }
}

/// A struct with constant properties: they are not fields; the type's own serializer writes
/// them first and its deserializer checks them.
fn const_struct(types: &TypeSpace, name: &Ident, docs: &TokenStream, def: &StructDef) -> TokenStream {
    // A single string constant is what serde's struct tag writes, first, as ours would.
    let tag = match def.consts.as_slice() {
        [c] if def.extra.is_none() => c.value.as_str().map(|value| (c.wire.as_str(), value)),
        _ => None,
    };
    let plain = match tag {
        Some((tag, value)) => struct_declaration(types, name, docs, def, StructSerde::SerializeTagged { tag, value }),
        None => struct_declaration(types, name, docs, def, StructSerde::Neither),
    };
    let const_items = def.consts.iter().map(|c| {
        let const_name = ident(&c.name);
        let wire = &c.wire;
        let text = format!(" The constant value of `{wire}`.");
        match &c.value {
            Value::String(s) => quote! { #[doc = #text] pub const #const_name: &'static str = #s; },
            Value::Bool(b) => quote! { #[doc = #text] pub const #const_name: bool = #b; },
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    quote! { #[doc = #text] pub const #const_name: i64 = #i; }
                } else if let Some(u) = n.as_u64() {
                    quote! { #[doc = #text] pub const #const_name: u64 = #u; }
                } else {
                    let f = n.as_f64().unwrap_or_default();
                    quote! { #[doc = #text] pub const #const_name: f64 = #f; }
                }
            }
            _ => TokenStream::new(),
        }
    });
    // Serde's struct tag writes the one string constant; any other shape is written out.
    let serialize = tag.is_none().then(|| map_serializer(name, def));
    let wire_consts = def.consts.iter().map(|c| {
        let wire = &c.wire;
        let field = format_ident!("_const_{}", const_suffix(&c.name));
        let check = format!("check_{}", const_suffix(&c.name));
        let default = (!c.required).then(|| quote! { default, });
        quote! { #[serde(rename = #wire, #default deserialize_with = #check)] #field: (), }
    });
    let checks = def.consts.iter().map(|c| {
        let check = format_ident!("check_{}", const_suffix(&c.name));
        let body = match &c.value {
            Value::String(s) => quote! { ::eventfold::codegen::wire::expect_str(deserializer, #s) },
            other => {
                let text = other.to_string();
                quote! { ::eventfold::codegen::wire::expect_value(deserializer, #text) }
            }
        };
        quote! {
            fn #check<'de, D: ::eventfold::codegen::serde::Deserializer<'de>>(deserializer: D)
                -> ::core::result::Result<(), D::Error> { #body }
        }
    });
    // Deserialize only: the rename is all it needs (a missing `Option` is `None` by itself).
    let wire_fields = def.fields.iter().map(|f| {
        let wire = &f.wire;
        let attrs = (f.wire != f.name).then(|| quote! { #[serde(rename = #wire)] });
        let field = ident(&f.name);
        let ty = type_tokens(types, &f.ty);
        quote! { #attrs #field: #ty, }
    });
    let wire_extra = def.extra.as_ref().map(|(field, ty)| {
        let field = ident(field);
        let ty = type_tokens(types, ty);
        quote! { #[serde(flatten)] #field: #ty, }
    });
    let moves = def.fields.iter().map(|f| ident(&f.name)).chain(def.extra.as_ref().map(|(f, _)| ident(f)));
    let moves: Vec<Ident> = moves.collect();
    let finish = if moves.is_empty() {
        quote! {
            <Wire as ::eventfold::codegen::serde::Deserialize>::deserialize(deserializer)?;
            ::core::result::Result::Ok(Self {})
        }
    } else {
        quote! {
            let wire = <Wire as ::eventfold::codegen::serde::Deserialize>::deserialize(deserializer)?;
            ::core::result::Result::Ok(Self { #( #moves: wire.#moves, )* })
        }
    };
    quote! {
        #plain
        impl #name {
            #(#const_items)*
        }
        #serialize
        impl<'de> ::eventfold::codegen::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::eventfold::codegen::serde::Deserializer<'de>>(deserializer: D)
                -> ::core::result::Result<Self, D::Error>
            {
                #[derive(::eventfold::codegen::serde::Deserialize)]
                #[serde(crate = #SERDE_CRATE)]
                struct Wire {
                    #(#wire_consts)*
                    #(#wire_fields)*
                    #wire_extra
                }
                #(#checks)*
                #finish
            }
        }
    }
}

/// The written-out `Serialize` of a struct with constants: the constants first, then the fields
/// (optional ones only when present), then the other properties.
fn map_serializer(name: &Ident, def: &StructDef) -> TokenStream {
    let write_consts = def.consts.iter().map(|c| {
        let wire = &c.wire;
        let value = const_value_tokens(c);
        quote! { map.serialize_entry(#wire, #value)?; }
    });
    let write_fields = def.fields.iter().map(|f| {
        let wire = &f.wire;
        let field = ident(&f.name);
        if !f.required && matches!(f.ty, TypeRef::Option(_)) {
            quote! { ::eventfold::codegen::wire::serialize_if_some(&mut map, #wire, &self.#field)?; }
        } else {
            quote! { map.serialize_entry(#wire, &self.#field)?; }
        }
    });
    let write_extra = def.extra.as_ref().map(|(field, _)| {
        let field = ident(field);
        quote! { for (key, value) in &self.#field { map.serialize_entry(key, value)?; } }
    });
    quote! {
        impl ::eventfold::codegen::serde::Serialize for #name {
            fn serialize<S: ::eventfold::codegen::serde::Serializer>(&self, serializer: S)
                -> ::core::result::Result<S::Ok, S::Error>
            {
                use ::eventfold::codegen::serde::ser::SerializeMap as _;
                let mut map = serializer.serialize_map(::core::option::Option::None)?;
                #(#write_consts)*
                #(#write_fields)*
                #write_extra
                map.end()
            }
        }
    }
}

fn const_value_tokens(c: &ConstField) -> TokenStream {
    match &c.value {
        Value::String(s) => quote! { #s },
        Value::Bool(b) => quote! { &#b },
        other => {
            let text = other.to_string();
            quote! { &::eventfold::codegen::wire::const_value(#text) }
        }
    }
}

fn message_enum(types: &TypeSpace, channel: &ChannelIr) -> TokenStream {
    let id = &channel.id;
    let variants: Vec<Ident> = channel.messages.iter().map(|m| ident(&m.variant)).collect();
    let payloads: Vec<TokenStream> = channel.messages.iter().map(|m| type_tokens(types, &m.payload)).collect();
    let keys: Vec<&String> = channel.messages.iter().map(|m| &m.key).collect();
    let docs = channel.messages.iter().map(|m| {
        let heading = format!(" `{}`", m.key);
        let body = doc(m.doc.as_deref());
        let spacer = (!body.is_empty()).then(|| quote! { #[doc = ""] });
        quote! { #[doc = #heading] #spacer #body }
    });
    let address = match &channel.address {
        Some(a) => quote! { ::core::option::Option::Some(#a) },
        None => quote! { ::core::option::Option::None },
    };
    let heading = format!(" The messages of channel `{id}`, one variant each.");
    let wire_doc = match &channel.discriminator {
        Some(tag) => format!(" On the wire a message is its bare payload; its `{tag}` property tells which it is."),
        None if channel.messages.len() == 1 => " On the wire a message is its bare payload.".to_owned(),
        None => " On the wire a message is its bare payload; its name travels beside it, and decoding is by name \
                 ([`ChannelMessage::deserialize_named`](::eventfold::codegen::ChannelMessage::deserialize_named))."
            .to_owned(),
    };
    let correlation_arms = channel.messages.iter().map(|m| {
        let variant = ident(&m.variant);
        correlation_arm(&variant, m)
    });
    let uses_headers = channel.messages.iter().any(|m| matches!(m.correlation, Some(CorrelationIr::HeaderPointer(_))));
    let headers_param = if uses_headers {
        quote! { headers }
    } else {
        quote! { _headers }
    };
    let deserialize = deserialize_impl(channel, &variants, &payloads);
    let froms = channel.messages.iter().enumerate().filter_map(|(i, m)| {
        let unique = channel.messages.iter().filter(|o| o.payload == m.payload).count() == 1;
        let named = matches!(m.payload, TypeRef::Named(_));
        (unique && named).then(|| {
            let variant = &variants[i];
            let payload = &payloads[i];
            quote! {
                impl ::core::convert::From<#payload> for Message {
                    fn from(payload: #payload) -> Self { Self::#variant(payload) }
                }
            }
        })
    });
    let matches_self = if channel.messages.is_empty() {
        quote! { *self }
    } else {
        quote! { self }
    };
    // Untagged: a message is its payload's own serialization.
    let serialize = serde_derives(true, false);
    let unknown_name = quote! {
        let _ = deserializer;
        ::core::result::Result::Err(<D::Error as ::eventfold::codegen::serde::de::Error>::unknown_variant(name, Self::NAMES))
    };
    // When every message's discriminator value is its name, decoding by name is decoding by tag.
    let names_are_tags =
        channel.discriminator.is_some() && channel.messages.iter().all(|m| m.tag.as_deref() == Some(m.key.as_str()));
    let named_body = if channel.messages.is_empty() {
        unknown_name
    } else if names_are_tags {
        quote! { <Self as ::eventfold::codegen::wire::Tagged>::deserialize_tag(name, deserializer) }
    } else {
        quote! {
            match name {
                #( #keys => <#payloads as ::eventfold::codegen::serde::Deserialize>::deserialize(deserializer).map(Self::#variants), )*
                _ => { #unknown_name }
            }
        }
    };
    quote! {
        #[doc = #heading]
        #[doc = ""]
        #[doc = #wire_doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, #serialize)]
        #[serde(crate = #SERDE_CRATE, untagged)]
        pub enum Message {
            #( #docs #variants(#payloads), )*
        }

        impl ::eventfold::codegen::ChannelMessage for Message {
            const CHANNEL: &'static str = #id;
            const ADDRESS: ::core::option::Option<&'static str> = #address;
            const NAMES: &'static [&'static str] = &[#(#keys),*];

            fn name(&self) -> &'static str {
                match #matches_self {
                    #( Self::#variants(_) => #keys, )*
                }
            }

            fn correlation_id(&self, #headers_param: &::eventfold::codegen::Headers) -> ::core::option::Option<::std::string::String> {
                match #matches_self {
                    #(#correlation_arms)*
                }
            }

            fn deserialize_named<'de, D: ::eventfold::codegen::serde::Deserializer<'de>>(name: &str, deserializer: D)
                -> ::core::result::Result<Self, D::Error>
            {
                #named_body
            }
        }

        #deserialize
        #(#froms)*
    }
}

fn correlation_arm(variant: &Ident, message: &MessageIr) -> TokenStream {
    match &message.correlation {
        None => quote! { Self::#variant(_) => ::core::option::Option::None, },
        Some(CorrelationIr::Constant(value)) => {
            quote! { Self::#variant(_) => ::core::option::Option::Some(::std::string::String::from(#value)), }
        }
        Some(CorrelationIr::HeaderPointer(pointer)) => {
            quote! { Self::#variant(_) => ::eventfold::codegen::wire::correlation_in_headers(headers, #pointer), }
        }
        Some(CorrelationIr::PayloadPointer(pointer)) => {
            quote! { Self::#variant(payload) => ::eventfold::codegen::wire::correlation_in_payload(payload, #pointer), }
        }
        Some(CorrelationIr::Fields { steps, leaf }) => {
            let mut body = TokenStream::new();
            let mut current = quote! { payload };
            for step in steps {
                let field = ident(&step.field);
                body.extend(if step.optional {
                    quote! { let value = #current.#field.as_ref()?; }
                } else {
                    quote! { let value = &#current.#field; }
                });
                current = quote! { value };
            }
            let finish = match leaf {
                Leaf::Display => quote! { ::core::option::Option::Some(::std::string::ToString::to_string(value)) },
                Leaf::Json => quote! { ::eventfold::codegen::wire::correlation_in_payload(value, "") },
            };
            quote! { Self::#variant(payload) => { #body #finish } }
        }
    }
}

fn deserialize_impl(channel: &ChannelIr, variants: &[Ident], payloads: &[TokenStream]) -> TokenStream {
    if let Some(tag) = &channel.discriminator {
        let tags: Vec<&str> = channel.messages.iter().filter_map(|m| m.tag.as_deref()).collect();
        return tagged_impls(&ident("Message"), tag, &tags, variants, payloads);
    }
    if let ([variant], [payload]) = (variants, payloads) {
        return quote! {
            impl<'de> ::eventfold::codegen::serde::Deserialize<'de> for Message {
                fn deserialize<D: ::eventfold::codegen::serde::Deserializer<'de>>(deserializer: D)
                    -> ::core::result::Result<Self, D::Error>
                {
                    <#payload as ::eventfold::codegen::serde::Deserialize>::deserialize(deserializer).map(Self::#variant)
                }
            }
        };
    }
    TokenStream::new()
}

/// `Tagged` and `Deserialize` for an enum whose variant the value of property `tag` picks
/// (`tags[i]` selects `variants[i]`, holding a `payloads[i]`).
fn tagged_impls(name: &Ident, tag: &str, tags: &[&str], variants: &[Ident], payloads: &[TokenStream]) -> TokenStream {
    quote! {
        impl ::eventfold::codegen::wire::Tagged for #name {
            const TAG: &'static str = #tag;
            const TAGS: &'static [&'static str] = &[#(#tags),*];

            fn deserialize_tag<'de, D: ::eventfold::codegen::serde::Deserializer<'de>>(tag: &str, deserializer: D)
                -> ::core::result::Result<Self, D::Error>
            {
                match tag {
                    #( #tags => <#payloads as ::eventfold::codegen::serde::Deserialize>::deserialize(deserializer).map(Self::#variants), )*
                    _ => {
                        let _ = deserializer;
                        ::core::result::Result::Err(<D::Error as ::eventfold::codegen::serde::de::Error>::unknown_variant(tag, Self::TAGS))
                    }
                }
            }
        }

        impl<'de> ::eventfold::codegen::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::eventfold::codegen::serde::Deserializer<'de>>(deserializer: D)
                -> ::core::result::Result<Self, D::Error>
            {
                ::eventfold::codegen::wire::deserialize_tagged(deserializer)
            }
        }
    }
}

/// The `Message` type of channel `reply`, as seen from the module of `from`.
fn reply_message(model: &Model, from: &ChannelIr, reply: usize) -> TokenStream {
    match model.channels.get(reply) {
        Some(target) if target.module != from.module => {
            let module = ident(&target.module);
            quote! { super::#module::Message }
        }
        _ => quote! { Message },
    }
}

fn publisher(model: &Model, channel: &ChannelIr, publisher: &PublisherIr) -> TokenStream {
    let types = &model.types;
    let name = ident(&publisher.name);
    let heading = format!(" Sends the messages of operation `{}` on channel `{}`.", publisher.operation, channel.id);
    let docs = doc(publisher.doc.as_deref());
    let spacer = (!docs.is_empty()).then(|| quote! { #[doc = ""] });
    let reply = publisher.reply.map(|r| reply_message(model, channel, r));
    let mut sends = Vec::new();
    let mut requests = Vec::new();
    for method in &publisher.methods {
        let message = &channel.messages[method.message];
        let variant = ident(&message.variant);
        let payload = type_tokens(types, &message.payload);
        let key = &message.key;
        // The typed headers, as a parameter, and the statement that adds them to the options.
        let (header_param, header_arg, merge) = match &message.headers {
            None => (TokenStream::new(), TokenStream::new(), TokenStream::new()),
            Some(headers) => {
                let headers = type_tokens(types, headers);
                (
                    quote! { headers: #headers, },
                    quote! { headers, },
                    quote! { ::eventfold::codegen::wire::merge_headers(&mut options.headers, &headers, #key)?; },
                )
            }
        };
        let mutable = (!merge.is_empty()).then(|| quote! { mut });
        let send = ident(&method.send);
        let send_with = ident(&method.send_with);
        let send_doc = format!(" Sends `{key}`.");
        let with_doc = format!(" Sends `{key}` with the given options (event id, correlation, causation, headers).");
        sends.push(quote! {
            #[doc = #send_doc]
            pub async fn #send(&self, payload: #payload, #header_param)
                -> ::core::result::Result<::eventfold::codegen::Receipt, ::eventfold::codegen::Error>
            {
                self.#send_with(payload, #header_arg ::core::default::Default::default()).await
            }

            #[doc = #with_doc]
            pub async fn #send_with(&self, payload: #payload, #header_param #mutable options: ::eventfold::codegen::SendOptions)
                -> ::core::result::Result<::eventfold::codegen::Receipt, ::eventfold::codegen::Error>
            {
                #merge
                self.sink.send(Message::#variant(payload), options).await
            }
        });
        if let (Some((request, request_with)), Some(reply)) = (&method.request, &reply) {
            let request = ident(request);
            let request_with = ident(request_with);
            let request_doc = format!(" Sends `{key}` as a request and waits for its reply.");
            requests.push(quote! {
                #[doc = #request_doc]
                pub async fn #request(&self, payload: #payload, #header_param)
                    -> ::core::result::Result<::eventfold::codegen::Envelope<#reply>, ::eventfold::codegen::Error>
                {
                    self.#request_with(payload, #header_arg ::core::default::Default::default()).await
                }

                #[doc = #request_doc]
                pub async fn #request_with(&self, payload: #payload, #header_param #mutable options: ::eventfold::codegen::SendOptions)
                    -> ::core::result::Result<::eventfold::codegen::Envelope<#reply>, ::eventfold::codegen::Error>
                {
                    #merge
                    ::eventfold::codegen::Requester::<Message, #reply>::request(&self.sink, Message::#variant(payload), options).await
                }
            });
        }
    }
    let request_impl = reply.as_ref().map(|reply| {
        quote! {
            impl<S> #name<S>
            where
                S: ::eventfold::codegen::Sink<Message> + ::eventfold::codegen::Requester<Message, #reply>,
            {
                #(#requests)*
            }
        }
    });
    quote! {
        #[doc = #heading]
        #spacer
        #docs
        #[derive(::core::fmt::Debug, ::core::clone::Clone)]
        pub struct #name<S> {
            sink: S,
        }

        impl<S: ::eventfold::codegen::Sink<Message>> #name<S> {
            /// A publisher that sends to `sink`.
            pub fn new(sink: S) -> Self {
                Self { sink }
            }

            /// The sink it sends to.
            pub fn sink(&self) -> &S {
                &self.sink
            }

            /// Gives the sink back.
            pub fn into_sink(self) -> S {
                self.sink
            }

            #(#sends)*
        }

        #request_impl
    }
}

fn consumer(model: &Model, channel: &ChannelIr, consumer: &ConsumerIr) -> TokenStream {
    let types = &model.types;
    let trait_name = ident(&consumer.trait_name);
    let runner = ident(&consumer.runner);
    let heading = format!(" Handles the messages of operation `{}` on channel `{}`.", consumer.operation, channel.id);
    let reply = consumer.reply.map(|r| reply_message(model, channel, r));
    let runner_doc = match &reply {
        None => format!(
            " Drives a [`{}`] from `subscription` until it ends, acknowledging each message once handled.",
            consumer.trait_name
        ),
        Some(_) => format!(
            " Drives a [`{}`] from `subscription` until it ends, sending each reply to `replies` (with the \
             request's correlation id, and its event id as causation id) and acknowledging the request.",
            consumer.trait_name
        ),
    };
    let docs = doc(consumer.doc.as_deref());
    let spacer = (!docs.is_empty()).then(|| quote! { #[doc = ""] });
    let answer = match &reply {
        Some(reply) => reply.clone(),
        None => quote! { () },
    };
    let messages: Vec<&MessageIr> = consumer.messages.iter().map(|&m| &channel.messages[m]).collect();
    let methods = messages.iter().map(|m| {
        let method = ident(&m.method);
        let payload = type_tokens(types, &m.payload);
        let method_doc = match &reply {
            None => format!(" Handles one `{}`.", m.key),
            Some(_) => format!(" Handles one `{}` and returns its reply.", m.key),
        };
        quote! {
            #[doc = #method_doc]
            fn #method(
                &mut self,
                message: &#payload,
                envelope: &::eventfold::codegen::Envelope<Message>,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<#answer, ::eventfold::codegen::HandlerError>> + ::core::marker::Send;
        }
    });
    let arms = messages.iter().map(|m| {
        let variant = ident(&m.variant);
        let method = ident(&m.method);
        quote! { Message::#variant(payload) => handler.#method(payload, &envelope).await.map(::core::option::Option::Some), }
    });
    let rest = (messages.len() < channel.messages.len())
        .then(|| quote! { _ => ::core::result::Result::Ok(::core::option::Option::None), });
    let dispatch = if messages.is_empty() {
        quote! { ::core::result::Result::<::core::option::Option<#answer>, ::eventfold::codegen::HandlerError>::Ok(::core::option::Option::None) }
    } else {
        quote! {
            match &envelope.message {
                #(#arms)*
                #rest
            }
        }
    };
    let (reply_param, reply_bound, send_reply) = match &reply {
        None => (TokenStream::new(), TokenStream::new(), quote! { let _ = handled; }),
        Some(reply) => (
            quote! { replies: R, },
            quote! { R: ::eventfold::codegen::Sink<#reply>, },
            quote! {
                if let ::core::option::Option::Some(answer) = handled {
                    let options = ::eventfold::codegen::SendOptions {
                        correlation_id: envelope.correlation_id.clone(),
                        causation_id: ::core::option::Option::Some(envelope.event_id.to_string()),
                        ..::core::default::Default::default()
                    };
                    replies.send(answer, options).await?;
                }
            },
        ),
    };
    let generics = if reply.is_some() {
        quote! { <S, H, R> }
    } else {
        quote! { <S, H> }
    };
    quote! {
        #[doc = #heading]
        #spacer
        #docs
        pub trait #trait_name: ::core::marker::Send {
            #(#methods)*
        }

        #[doc = #runner_doc]
        #[doc = ""]
        #[doc = " Messages of the channel that this operation does not receive are acknowledged and skipped."]
        pub async fn #runner #generics(mut subscription: S, mut handler: H, #reply_param) -> ::core::result::Result<(), ::eventfold::codegen::Error>
        where
            S: ::eventfold::codegen::Subscription<Message>,
            H: #trait_name,
            #reply_bound
        {
            while let ::core::option::Option::Some(next) = subscription.next().await {
                let envelope = next?;
                let handled = match #dispatch {
                    ::core::result::Result::Ok(handled) => handled,
                    ::core::result::Result::Err(source) => {
                        return ::core::result::Result::Err(::eventfold::codegen::Error::Handler {
                            stream_id: envelope.stream_id.clone(),
                            stream_version: envelope.stream_version,
                            source,
                        });
                    }
                };
                #send_reply
                subscription.ack(&envelope).await?;
            }
            ::core::result::Result::Ok(())
        }
    }
}
