//! The type space: every Rust type the payload and header schemas become, named once.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::names::{sanitize, Case, Namespace};
use crate::error::{ErrorKind, Result};
use crate::load::Loader;
use crate::spec::{Additional, JsonType, Schema, SchemaId, Schemas};

/// Index of a named type in the [`TypeSpace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeId(pub usize);

/// A Rust type as it is written where it is used.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeRef {
    Named(TypeId),
    Prim(Prim),
    /// Any JSON value.
    Json,
    /// A JSON object with any values.
    JsonObject,
    Option(Box<TypeRef>),
    Vec(Box<TypeRef>),
    /// A map from string keys.
    Map(Box<TypeRef>),
    /// A boxed value, to break a recursive type.
    Box(Box<TypeRef>),
    /// A fixed-length array of differently typed items.
    Tuple(Vec<TypeRef>),
}

/// A primitive Rust type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    String,
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    /// `null` as the only value.
    Unit,
    /// `format: uuid`.
    Uuid,
    /// `format: date-time`.
    Timestamp,
    /// `format: date`.
    Date,
}

/// A named type.
#[derive(Debug, Clone)]
pub struct TypeDef {
    pub name: String,
    pub doc: Option<String>,
    pub kind: TypeKind,
    /// The channel whose module defines it (others re-export it).
    pub home: usize,
}

/// What a named type is.
#[derive(Debug, Clone)]
pub enum TypeKind {
    /// Being built; never seen after the type space is finished.
    Pending,
    Struct(StructDef),
    /// A string enum.
    Enum(Vec<EnumVariant>),
    /// A union of alternatives (`oneOf` / `anyOf`, or a list of types): tagged by the property
    /// `tag` when one tells them apart, untagged (first alternative that decodes) otherwise.
    Union {
        variants: Vec<UnionVariant>,
        tag: Option<String>,
    },
    /// A named schema that is another type: `pub type Name = ...;`.
    Alias(TypeRef),
    /// Like an alias, for a type that refers to itself: `pub struct Name(pub ...);`.
    Newtype(TypeRef),
}

/// An object type.
#[derive(Debug, Clone, Default)]
pub struct StructDef {
    pub fields: Vec<Field>,
    /// Properties with a single allowed value: not fields, written and checked by the type itself.
    pub consts: Vec<ConstField>,
    /// `additionalProperties` with a schema: the other properties, collected in a map.
    pub extra: Option<(String, TypeRef)>,
}

/// One field of a struct.
#[derive(Debug, Clone)]
pub struct Field {
    /// The Rust name.
    pub name: String,
    /// The property name on the wire.
    pub wire: String,
    pub ty: TypeRef,
    /// Whether the property is required (optional ones are `Option`s, skipped when `None`).
    pub required: bool,
    pub doc: Option<String>,
    /// The schema's `default`, checked against the field's type, for an optional field:
    /// `<field>_or_default()` returns it when the field is `None`.
    pub default: Option<(String, DefaultValue)>,
}

/// A `default` that fits its field's type, as a literal the emitter can write.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    Str(String),
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// A variant of the string enum `TypeId`.
    Variant(TypeId, String),
}

/// A property with one allowed value.
#[derive(Debug, Clone)]
pub struct ConstField {
    /// The associated constant's name (`EVENT_TYPE`).
    pub name: String,
    pub wire: String,
    pub value: Value,
    pub required: bool,
}

/// One value of a string enum.
#[derive(Debug, Clone)]
pub struct EnumVariant {
    pub name: String,
    pub value: String,
}

/// One alternative of a union.
#[derive(Debug, Clone)]
pub struct UnionVariant {
    pub name: String,
    pub ty: TypeRef,
    /// The value of the union's tag that selects this variant, when the union is tagged.
    pub tag: Option<String>,
}

/// All named types of one generation run, and the names they hold.
#[derive(Debug, Default)]
pub struct TypeSpace {
    pub types: Vec<TypeDef>,
    by_schema: BTreeMap<SchemaId, TypeId>,
    /// Type names are unique across the whole output, so any module can re-export any type.
    pub names: Namespace,
    /// The channel whose types are being built.
    current_home: usize,
    /// Keep `format`ted strings as `String` (the builder option `formats_as_strings`).
    pub formats_as_strings: bool,
}

/// Deepest nesting of inline schemas turned into types.
const MAX_DEPTH: usize = 128;

impl TypeSpace {
    /// Sets the channel that types made from now on belong to.
    pub fn set_home(&mut self, channel: usize) {
        self.current_home = channel;
    }

    /// The Rust type for schema `id`; `hint` names it if it becomes a new named type.
    pub fn type_of(&mut self, loader: &Loader, schemas: &Schemas, id: SchemaId, hint: &str) -> Result<TypeRef> {
        self.type_at(loader, schemas, id, hint, 0)
    }

    fn type_at(
        &mut self,
        loader: &Loader,
        schemas: &Schemas,
        id: SchemaId,
        hint: &str,
        depth: usize,
    ) -> Result<TypeRef> {
        let schema = &schemas[id];
        if depth > MAX_DEPTH {
            return Err(loader.error(&schema.node, ErrorKind::TooDeep, "schemas are nested too deeply here"));
        }
        if let Some(existing) = self.by_schema.get(&id) {
            return Ok(TypeRef::Named(*existing));
        }
        let nullable = schema.nullable || schema.types.contains(&JsonType::Null) || enum_allows_null(schema);
        let wrap = |ty: TypeRef| {
            if nullable && !matches!(ty, TypeRef::Option(_) | TypeRef::Json) {
                TypeRef::Option(Box::new(ty))
            } else {
                ty
            }
        };
        if schema.never {
            return Ok(TypeRef::Json);
        }
        // `oneOf: [X, {type: null}]`: an optional X.
        let alternatives: Vec<SchemaId> = schema.one_of.iter().chain(&schema.any_of).copied().collect();
        let non_null: Vec<SchemaId> =
            alternatives.iter().copied().filter(|a| schemas[*a].types != [JsonType::Null]).collect();
        if let ([only], true) = (non_null.as_slice(), alternatives.len() > 1 && schema.properties.is_empty()) {
            let inner = self.type_at(loader, schemas, *only, hint, depth + 1)?;
            return Ok(match inner {
                TypeRef::Option(_) | TypeRef::Json => inner,
                other => TypeRef::Option(Box::new(other)),
            });
        }
        if let Some(shape) = self.named_shape(schema) {
            let name = schema.component_name.as_deref().unwrap_or(hint);
            let type_id = self.reserve(id, schema, name);
            let kind = match shape {
                Shape::Struct => TypeKind::Struct(self.struct_def(loader, schemas, &[id], type_id, depth)?),
                Shape::Enum => TypeKind::Enum(self.enum_def(schema)),
                Shape::Union => self.union_def(loader, schemas, id, type_id, depth)?,
                Shape::Alias => {
                    let name = self.types[type_id.0].name.clone();
                    let inner = self.anonymous(loader, schemas, id, &name, depth)?;
                    if references(&inner, type_id) {
                        TypeKind::Newtype(inner)
                    } else {
                        TypeKind::Alias(inner)
                    }
                }
            };
            self.types[type_id.0].kind = kind;
            return Ok(wrap(TypeRef::Named(type_id)));
        }
        let inner = self.anonymous(loader, schemas, id, hint, depth)?;
        Ok(wrap(inner))
    }

    /// What named type, if any, schema `schema` becomes.
    fn named_shape(&self, schema: &Schema) -> Option<Shape> {
        if string_enum(schema).is_some() && schema.single_value().is_none() {
            return Some(Shape::Enum);
        }
        if !schema.one_of.is_empty() || !schema.any_of.is_empty() {
            return Some(Shape::Union);
        }
        if non_null_types(schema) > 1 && schema.properties.is_empty() {
            return Some(Shape::Union);
        }
        let is_object = schema.types.contains(&JsonType::Object) || schema.types.is_empty();
        if is_object && (!schema.properties.is_empty() || !schema.all_of.is_empty()) && non_null_types(schema) <= 1 {
            return Some(Shape::Struct);
        }
        schema.component_name.as_ref().map(|_| Shape::Alias)
    }

    fn reserve(&mut self, id: SchemaId, schema: &Schema, name: &str) -> TypeId {
        let type_id = self.reserve_unnamed(schema, name);
        self.by_schema.insert(id, type_id);
        type_id
    }

    /// A schema that is not a named type: a primitive, a list, a map, or any JSON value.
    fn anonymous(
        &mut self,
        loader: &Loader,
        schemas: &Schemas,
        id: SchemaId,
        hint: &str,
        depth: usize,
    ) -> Result<TypeRef> {
        let schema = &schemas[id];
        let types: Vec<JsonType> = schema.types.iter().copied().filter(|t| *t != JsonType::Null).collect();
        let only = match types.as_slice() {
            [one] => Some(*one),
            [] => infer_type(schema),
            _ => return Ok(TypeRef::Json),
        };
        self.of_type(loader, schemas, id, only, hint, depth)
    }

    /// The type of schema `id` read as JSON type `only` (`None`: any JSON value).
    fn of_type(
        &mut self,
        loader: &Loader,
        schemas: &Schemas,
        id: SchemaId,
        only: Option<JsonType>,
        hint: &str,
        depth: usize,
    ) -> Result<TypeRef> {
        let schema = &schemas[id];
        Ok(match only {
            None => TypeRef::Json,
            Some(JsonType::Null) => TypeRef::Prim(Prim::Unit),
            Some(JsonType::Boolean) => TypeRef::Prim(Prim::Bool),
            Some(JsonType::String) => TypeRef::Prim(self.string_type(schema)),
            Some(JsonType::Integer) => TypeRef::Prim(integer_type(schema)),
            Some(JsonType::Number) => {
                TypeRef::Prim(if schema.format.as_deref() == Some("float") { Prim::F32 } else { Prim::F64 })
            }
            Some(JsonType::Array) => {
                if !schema.tuple_items.is_empty() {
                    let mut items = Vec::new();
                    for (i, item) in schema.tuple_items.iter().enumerate() {
                        items.push(self.type_at(loader, schemas, *item, &format!("{hint}Item{i}"), depth + 1)?);
                    }
                    TypeRef::Tuple(items)
                } else {
                    match schema.items {
                        Some(items) => TypeRef::Vec(Box::new(self.type_at(
                            loader,
                            schemas,
                            items,
                            &format!("{hint}Item"),
                            depth + 1,
                        )?)),
                        None => TypeRef::Vec(Box::new(TypeRef::Json)),
                    }
                }
            }
            Some(JsonType::Object) => match (schema.additional, schema.pattern_properties.as_slice()) {
                (Additional::Schema(values), _) | (_, &[(_, values)]) => {
                    TypeRef::Map(Box::new(self.type_at(loader, schemas, values, &format!("{hint}Value"), depth + 1)?))
                }
                _ => TypeRef::JsonObject,
            },
        })
    }

    /// `String`, or the type its `format` names.
    fn string_type(&self, schema: &Schema) -> Prim {
        if self.formats_as_strings {
            return Prim::String;
        }
        match schema.format.as_deref() {
            Some("uuid") => Prim::Uuid,
            Some("date-time") => Prim::Timestamp,
            Some("date") => Prim::Date,
            _ => Prim::String,
        }
    }

    /// The struct of the properties of `ids` together (a schema, its `allOf` members, and the
    /// base properties of a `oneOf` alternative). A property met twice takes its last schema,
    /// the more specific one; two that allow no common type are an error naming both.
    fn struct_def(
        &mut self,
        loader: &Loader,
        schemas: &Schemas,
        ids: &[SchemaId],
        owner: TypeId,
        depth: usize,
    ) -> Result<StructDef> {
        let owner_name = self.types[owner.0].name.clone();
        let mut def = StructDef::default();
        let mut fields = Namespace::default();
        let mut consts = Namespace::default();
        let mut methods = Namespace::default();
        let mut required = BTreeSet::new();
        let mut collected = Vec::new();
        let mut additional = Additional::Unspecified;
        let mut visiting = BTreeSet::new();
        for id in ids {
            collect_properties(schemas, *id, &mut collected, &mut required, &mut additional, &mut visiting);
        }
        let mut properties: Vec<(String, SchemaId)> = Vec::new();
        for (wire, property) in collected {
            match properties.iter_mut().find(|(w, _)| *w == wire) {
                None => properties.push((wire, property)),
                Some((_, earlier)) => {
                    let (a, b) = (&schemas[*earlier], &schemas[property]);
                    let disjoint =
                        !a.types.is_empty() && !b.types.is_empty() && !a.types.iter().any(|t| b.types.contains(t));
                    if disjoint {
                        return Err(loader
                            .error(
                                &b.node,
                                ErrorKind::Invalid,
                                format!(
                                    "`allOf` members disagree on property `{wire}`: {:?} here, {:?} in the other",
                                    b.types, a.types
                                ),
                            )
                            .with_related(loader.location(&a.node)));
                    }
                    *earlier = property;
                }
            }
        }
        for (wire, property) in properties {
            let prop = &schemas[property];
            if prop.never {
                continue;
            }
            let is_required = required.contains(&wire);
            if let Some(value) =
                prop.single_value().filter(|v| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))
            {
                let name = consts.claim(&sanitize(&wire, Case::ShoutySnake, "VALUE"), Case::ShoutySnake);
                def.consts.push(ConstField { name, wire, value: value.clone(), required: is_required });
                continue;
            }
            let hint = format!("{owner_name}{}", sanitize(&wire, Case::Pascal, "Field"));
            let ty = self.type_at(loader, schemas, property, &hint, depth + 1)?;
            let ty = match ty {
                TypeRef::Option(_) => ty,
                other if !is_required => TypeRef::Option(Box::new(other)),
                other => other,
            };
            let name = fields.claim(&sanitize(&wire, Case::Snake, "field"), Case::Snake);
            // A default that does not fit is a mistake of the document, but not one that makes it
            // unusable (JSON Schema does not validate defaults): it is not offered, and the
            // field's documentation says why.
            let mut doc = prop.description.clone();
            let default = match (&prop.default, is_required) {
                (Some(value), false) => match self.default_value(&ty, value) {
                    Ok(fitting) => fitting,
                    Err(why) => {
                        let note = format!("(The schema's default {why}, so none is offered.)");
                        doc = Some(match doc {
                            Some(text) => format!("{text}\n\n{note}"),
                            None => note,
                        });
                        None
                    }
                },
                _ => None,
            };
            let default = default.map(|value| (methods.claim(&format!("{name}_or_default"), Case::Snake), value));
            def.fields.push(Field { name, wire, ty, required: is_required, doc, default });
        }
        if let Additional::Schema(values) = additional {
            let ty = self.type_at(loader, schemas, values, &format!("{owner_name}Value"), depth + 1)?;
            let name = fields.claim("additional_properties", Case::Snake);
            def.extra = Some((name, TypeRef::Map(Box::new(ty))));
        }
        Ok(def)
    }

    fn enum_def(&mut self, schema: &Schema) -> Vec<EnumVariant> {
        let mut names = Namespace::default();
        string_enum(schema)
            .unwrap_or_default()
            .into_iter()
            .map(|value| EnumVariant {
                name: names.claim(&sanitize(&value, Case::Pascal, "Empty"), Case::Pascal),
                value,
            })
            .collect()
    }

    fn union_def(
        &mut self,
        loader: &Loader,
        schemas: &Schemas,
        id: SchemaId,
        owner: TypeId,
        depth: usize,
    ) -> Result<TypeKind> {
        let owner_name = self.types[owner.0].name.clone();
        let schema = &schemas[id];
        let alternatives: Vec<SchemaId> = schema.one_of.iter().chain(&schema.any_of).copied().collect();
        let mut names = Namespace::default();
        let mut variants = Vec::new();
        if alternatives.is_empty() {
            // A list of types: one variant per type, the more specific first (an integer is
            // also a number).
            let mut kinds: Vec<JsonType> = schema.types.iter().copied().filter(|t| *t != JsonType::Null).collect();
            kinds.sort_by_key(|t| match t {
                JsonType::Integer => 0,
                _ => 1,
            });
            for kind in kinds {
                let label = format!("{kind:?}");
                let ty = self.of_type(loader, schemas, id, Some(kind), &format!("{owner_name}{label}"), depth + 1)?;
                variants.push(UnionVariant { name: names.claim(&label, Case::Pascal), ty, tag: None });
            }
            return Ok(TypeKind::Union { variants, tag: None });
        }
        // Properties beside the `oneOf` belong to every alternative.
        let has_base = !schema.properties.is_empty() || !schema.all_of.is_empty();
        for (i, alternative) in alternatives.into_iter().enumerate() {
            let alt = &schemas[alternative];
            if alt.types == [JsonType::Null] {
                continue;
            }
            let label =
                alt.component_name.clone().or_else(|| alt.title.clone()).unwrap_or_else(|| format!("Variant{i}"));
            let label = sanitize(&label, Case::Pascal, "Variant");
            let hint = format!("{owner_name}{label}");
            let alt_is_object =
                self.named_shape(alt).is_some_and(|s| matches!(s, Shape::Struct)) || alt.types == [JsonType::Object];
            let ty = if has_base && alt_is_object {
                let merged = self.reserve_unnamed(alt, &hint);
                let def = self.struct_def(loader, schemas, &[id, alternative], merged, depth + 1)?;
                self.types[merged.0].kind = TypeKind::Struct(def);
                TypeRef::Named(merged)
            } else {
                self.type_at(loader, schemas, alternative, &hint, depth + 1)?
            };
            let name = names.claim(&label, Case::Pascal);
            variants.push(UnionVariant { name, ty, tag: None });
        }
        if variants.is_empty() {
            return Err(loader.error(
                &schema.node,
                ErrorKind::Unsupported,
                "a `oneOf`/`anyOf` whose only alternative is `null`",
            ));
        }
        let tag = self.union_tag(schemas, schema, &mut variants);
        Ok(TypeKind::Union { variants, tag })
    }

    /// The property that tells a union's alternatives apart, if there is one: a distinct string
    /// constant in every alternative, or a declared `discriminator` whose values are the
    /// alternatives' schema names. Sets each variant's tag value.
    fn union_tag(&self, schemas: &Schemas, schema: &Schema, variants: &mut [UnionVariant]) -> Option<String> {
        let structs: Vec<Option<&StructDef>> =
            variants.iter().map(|v| self.struct_behind(&v.ty).map(|(_, s)| s)).collect();
        if structs.iter().any(Option::is_none) {
            return None;
        }
        let structs: Vec<&StructDef> = structs.into_iter().flatten().collect();
        let candidates: Vec<String> = match &schema.discriminator {
            Some(declared) => vec![declared.clone()],
            None => structs.first()?.consts.iter().map(|c| c.wire.clone()).collect(),
        };
        for candidate in candidates {
            let tags: Vec<Option<String>> = structs
                .iter()
                .map(|def| match def.consts.iter().find(|c| c.wire == candidate).map(|c| &c.value) {
                    Some(Value::String(tag)) => Some(tag.clone()),
                    _ => None,
                })
                .collect();
            let mut distinct: Vec<&String> = tags.iter().flatten().collect();
            distinct.sort();
            distinct.dedup();
            if tags.iter().all(Option::is_some) && distinct.len() == tags.len() {
                for (variant, tag) in variants.iter_mut().zip(tags) {
                    variant.tag = tag;
                }
                return Some(candidate);
            }
        }
        // A declared discriminator whose property is a plain field: its value names the schema.
        let declared = schema.discriminator.as_ref()?;
        let alternatives: Vec<SchemaId> = schema.one_of.iter().chain(&schema.any_of).copied().collect();
        let names: Vec<Option<String>> = alternatives.iter().map(|a| schemas[*a].component_name.clone()).collect();
        let has_field = structs.iter().all(|def| def.fields.iter().any(|f| &f.wire == declared));
        if has_field && names.len() == variants.len() && names.iter().all(Option::is_some) {
            for (variant, name) in variants.iter_mut().zip(names) {
                variant.tag = name;
            }
            return Some(declared.clone());
        }
        None
    }

    /// A new named type for a schema that already has one (a merged `oneOf` alternative).
    fn reserve_unnamed(&mut self, schema: &Schema, name: &str) -> TypeId {
        let wanted = sanitize(name, Case::Pascal, "Type");
        let name = self.names.claim(&wanted, Case::Pascal);
        let type_id = TypeId(self.types.len());
        self.types.push(TypeDef {
            name,
            doc: schema.description.clone().or_else(|| schema.title.clone()),
            kind: TypeKind::Pending,
            home: self.current_home,
        });
        type_id
    }

    /// `value` as a default of a field of type `ty` (an `Option`): `Ok(None)` for types whose
    /// defaults are not offered (objects, lists, formats), `Err(why)` when it does not fit.
    fn default_value(&self, ty: &TypeRef, value: &Value) -> std::result::Result<Option<DefaultValue>, String> {
        let inner = match ty {
            TypeRef::Option(inner) => inner.as_ref(),
            other => other,
        };
        let named = |id: &TypeId| &self.types[id.0];
        let misfit = || format!("`{value}` does not fit the type");
        Ok(Some(match (inner, value) {
            (TypeRef::Prim(Prim::String), Value::String(s)) => DefaultValue::Str(s.clone()),
            (TypeRef::Prim(Prim::Bool), Value::Bool(b)) => DefaultValue::Bool(*b),
            (TypeRef::Prim(Prim::F32 | Prim::F64), Value::Number(n)) => {
                DefaultValue::Float(n.as_f64().ok_or_else(misfit)?)
            }
            (TypeRef::Prim(prim), Value::Number(n)) if integer_range(*prim).is_some() => {
                let (min, max) = integer_range(*prim).ok_or_else(misfit)?;
                let v = n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from)).ok_or_else(misfit)?;
                if v < min || v > max {
                    return Err(misfit());
                }
                // In range, so neither conversion can fail.
                match (i64::try_from(v), u64::try_from(v), min < 0) {
                    (Ok(v), _, true) => DefaultValue::Int(v),
                    (_, Ok(v), false) => DefaultValue::UInt(v),
                    _ => return Err(misfit()),
                }
            }
            (TypeRef::Named(id), Value::String(s)) if matches!(named(id).kind, TypeKind::Enum(_)) => {
                let TypeKind::Enum(variants) = &named(id).kind else { return Ok(None) };
                let variant =
                    variants.iter().find(|v| &v.value == s).ok_or_else(|| format!("`{s}` is not one of its values"))?;
                DefaultValue::Variant(*id, variant.name.clone())
            }
            (TypeRef::Prim(Prim::String | Prim::Bool | Prim::F32 | Prim::F64), _)
            | (TypeRef::Prim(Prim::I8 | Prim::I16 | Prim::I32 | Prim::I64), _)
            | (TypeRef::Prim(Prim::U8 | Prim::U16 | Prim::U32 | Prim::U64), _) => return Err(misfit()),
            _ => return Ok(None),
        }))
    }

    /// Boxes every field that would make a struct contain itself.
    pub fn box_recursive_fields(&mut self) {
        for index in 0..self.types.len() {
            let TypeKind::Struct(def) = &self.types[index].kind else { continue };
            let mut boxed = Vec::new();
            for (f, field) in def.fields.iter().enumerate() {
                if self.reaches_by_value(&field.ty, TypeId(index), &mut BTreeSet::new()) {
                    boxed.push(f);
                }
            }
            if let TypeKind::Struct(def) = &mut self.types[index].kind {
                for f in boxed {
                    let ty = std::mem::replace(&mut def.fields[f].ty, TypeRef::Json);
                    def.fields[f].ty = match ty {
                        TypeRef::Option(inner) => TypeRef::Option(Box::new(TypeRef::Box(inner))),
                        other => TypeRef::Box(Box::new(other)),
                    };
                }
            }
        }
    }

    /// Whether a value of `ty` holds a `target` inline (not behind a `Vec`, map or `Box`).
    fn reaches_by_value(&self, ty: &TypeRef, target: TypeId, visited: &mut BTreeSet<TypeId>) -> bool {
        match ty {
            TypeRef::Option(inner) => self.reaches_by_value(inner, target, visited),
            TypeRef::Tuple(items) => items.iter().any(|t| self.reaches_by_value(t, target, visited)),
            TypeRef::Named(id) => {
                if *id == target {
                    return true;
                }
                if !visited.insert(*id) {
                    return false;
                }
                match &self.types[id.0].kind {
                    TypeKind::Struct(def) => def.fields.iter().any(|f| self.reaches_by_value(&f.ty, target, visited)),
                    TypeKind::Union { variants, .. } => {
                        variants.iter().any(|v| self.reaches_by_value(&v.ty, target, visited))
                    }
                    TypeKind::Alias(inner) | TypeKind::Newtype(inner) => self.reaches_by_value(inner, target, visited),
                    TypeKind::Enum(_) | TypeKind::Pending => false,
                }
            }
            _ => false,
        }
    }

    /// The named types `ty` mentions, directly or through other named types.
    pub fn reachable(&self, ty: &TypeRef, out: &mut BTreeSet<TypeId>) {
        match ty {
            TypeRef::Named(id) => {
                if !out.insert(*id) {
                    return;
                }
                match &self.types[id.0].kind {
                    TypeKind::Struct(def) => {
                        for field in &def.fields {
                            self.reachable(&field.ty, out);
                        }
                        if let Some((_, extra)) = &def.extra {
                            self.reachable(extra, out);
                        }
                    }
                    TypeKind::Union { variants, .. } => variants.iter().for_each(|v| self.reachable(&v.ty, out)),
                    TypeKind::Alias(inner) | TypeKind::Newtype(inner) => self.reachable(inner, out),
                    TypeKind::Enum(_) | TypeKind::Pending => {}
                }
            }
            TypeRef::Option(inner) | TypeRef::Vec(inner) | TypeRef::Map(inner) | TypeRef::Box(inner) => {
                self.reachable(inner, out)
            }
            TypeRef::Tuple(items) => items.iter().for_each(|t| self.reachable(t, out)),
            TypeRef::Prim(_) | TypeRef::Json | TypeRef::JsonObject => {}
        }
    }

    /// The struct behind `ty`, looking through options, boxes and aliases.
    pub fn struct_behind(&self, ty: &TypeRef) -> Option<(TypeId, &StructDef)> {
        match ty {
            TypeRef::Option(inner) | TypeRef::Box(inner) => self.struct_behind(inner),
            TypeRef::Named(id) => match &self.types[id.0].kind {
                TypeKind::Struct(def) => Some((*id, def)),
                TypeKind::Alias(inner) => self.struct_behind(inner),
                _ => None,
            },
            _ => None,
        }
    }
}

enum Shape {
    Struct,
    Enum,
    Union,
    Alias,
}

/// Properties of a schema and of the `allOf` members it merges, in order.
fn collect_properties(
    schemas: &Schemas,
    id: SchemaId,
    properties: &mut Vec<(String, SchemaId)>,
    required: &mut BTreeSet<String>,
    additional: &mut Additional,
    visiting: &mut BTreeSet<SchemaId>,
) {
    if !visiting.insert(id) {
        return;
    }
    let schema = &schemas[id];
    for member in &schema.all_of {
        collect_properties(schemas, *member, properties, required, additional, visiting);
    }
    properties.extend(schema.properties.iter().cloned());
    required.extend(schema.required.iter().cloned());
    if schema.additional != Additional::Unspecified {
        *additional = schema.additional;
    }
}

fn references(ty: &TypeRef, target: TypeId) -> bool {
    match ty {
        TypeRef::Named(id) => *id == target,
        TypeRef::Option(inner) | TypeRef::Vec(inner) | TypeRef::Map(inner) | TypeRef::Box(inner) => {
            references(inner, target)
        }
        TypeRef::Tuple(items) => items.iter().any(|t| references(t, target)),
        _ => false,
    }
}

/// The string values of an enum whose values are all strings (or `null`).
fn string_enum(schema: &Schema) -> Option<Vec<String>> {
    let values = schema.enum_values.as_ref()?;
    let mut out = Vec::new();
    for value in values {
        match value {
            Value::String(s) => {
                if !out.contains(s) {
                    out.push(s.clone());
                }
            }
            Value::Null => {}
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

fn enum_allows_null(schema: &Schema) -> bool {
    schema.enum_values.as_ref().is_some_and(|values| values.iter().any(Value::is_null))
}

fn non_null_types(schema: &Schema) -> usize {
    schema.types.iter().filter(|t| **t != JsonType::Null).count()
}

/// The type a schema without `type` evidently has.
fn infer_type(schema: &Schema) -> Option<JsonType> {
    if !schema.properties.is_empty() || matches!(schema.additional, Additional::Schema(_)) {
        return Some(JsonType::Object);
    }
    if schema.items.is_some() || !schema.tuple_items.is_empty() {
        return Some(JsonType::Array);
    }
    if !schema.pattern_properties.is_empty() {
        return Some(JsonType::Object);
    }
    if let Some(values) = &schema.enum_values {
        let kinds: BTreeSet<_> = values.iter().filter(|v| !v.is_null()).map(value_type).collect();
        if kinds.len() == 1 {
            return kinds.into_iter().next();
        }
    }
    schema.const_value.as_ref().map(value_type)
}

fn value_type(value: &Value) -> JsonType {
    match value {
        Value::Null => JsonType::Null,
        Value::Bool(_) => JsonType::Boolean,
        Value::Number(n) if n.is_f64() => JsonType::Number,
        Value::Number(_) => JsonType::Integer,
        Value::String(_) => JsonType::String,
        Value::Array(_) => JsonType::Array,
        Value::Object(_) => JsonType::Object,
    }
}

/// The values an integer primitive holds, `None` for other primitives.
fn integer_range(prim: Prim) -> Option<(i128, i128)> {
    Some(match prim {
        Prim::I8 => (i8::MIN.into(), i8::MAX.into()),
        Prim::I16 => (i16::MIN.into(), i16::MAX.into()),
        Prim::I32 => (i32::MIN.into(), i32::MAX.into()),
        Prim::I64 => (i64::MIN.into(), i64::MAX.into()),
        Prim::U8 => (0, u8::MAX.into()),
        Prim::U16 => (0, u16::MAX.into()),
        Prim::U32 => (0, u32::MAX.into()),
        Prim::U64 => (0, u64::MAX.into()),
        _ => return None,
    })
}

fn integer_type(schema: &Schema) -> Prim {
    match schema.format.as_deref() {
        Some("int8") => Prim::I8,
        Some("int16") => Prim::I16,
        Some("int32") => Prim::I32,
        Some("uint8") => Prim::U8,
        Some("uint16") => Prim::U16,
        Some("uint32") => Prim::U32,
        Some("uint64") => Prim::U64,
        _ => Prim::I64,
    }
}
