//! The one sanitizer for every identifier the generator emits, and the namespaces that keep
//! names distinct.

use std::collections::BTreeSet;

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

/// How an identifier is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Types and variants: `OrderNew`.
    Pascal,
    /// Modules, fields, functions: `order_new`.
    Snake,
    /// Constants: `EVENT_TYPE`.
    ShoutySnake,
}

/// Turns any string from a document into a Rust identifier in `case`.
///
/// Non-ASCII characters and punctuation separate words and are dropped; an empty result becomes
/// `fallback`; a leading digit gets a prefix (`V1`, `_1st`); keywords get a trailing `_`
/// (`type_`, `Self_`). The original spelling stays on the wire through `serde(rename)`.
pub fn sanitize(raw: &str, case: Case, fallback: &str) -> String {
    let words: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' }).collect();
    let convert = |s: &str| match case {
        Case::Pascal => s.to_upper_camel_case(),
        Case::Snake => s.to_snake_case(),
        Case::ShoutySnake => s.to_shouty_snake_case(),
    };
    let mut name = convert(&words);
    if name.is_empty() {
        name = convert(fallback);
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, if case == Case::Pascal { "V" } else { "_" });
    }
    if is_keyword(&name) {
        name.push('_');
    }
    name
}

/// Rust's strict and reserved keywords (all editions), and names that cannot be raw identifiers.
fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "as" | "break"
            | "const"
            | "continue"
            | "crate"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "Self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
    )
}

/// A set of names in one scope: the first claimant of a name gets it as is, later ones get a
/// numeric suffix, so that two spellings which convert alike (`order-new`, `OrderNew`) stay
/// distinct and the result depends only on document order.
#[derive(Debug, Default, Clone)]
pub struct Namespace {
    used: BTreeSet<String>,
}

impl Namespace {
    /// Takes `wanted`, or the first free `wanted2`, `wanted3`, ... (`wanted_2` in snake case).
    pub fn claim(&mut self, wanted: &str, case: Case) -> String {
        if self.used.insert(wanted.to_owned()) {
            return wanted.to_owned();
        }
        // `self_` + `_2` would be `self__2`, which is not snake case; `self_2` is no keyword.
        // Likewise `Self_2` is not camel case; `Self2` is no keyword.
        let (stem, separator) = match case {
            Case::Pascal => (wanted.trim_end_matches('_'), ""),
            Case::Snake | Case::ShoutySnake => (wanted.trim_end_matches('_'), "_"),
        };
        let mut n = 2usize;
        loop {
            let candidate = format!("{stem}{separator}{n}");
            if self.used.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }

    /// Marks `name` as taken without claiming it for anything.
    pub fn reserve(&mut self, name: &str) {
        self.used.insert(name.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_names_become_identifiers() {
        assert_eq!(sanitize("type", Case::Snake, "field"), "type_");
        assert_eq!(sanitize("self", Case::Snake, "field"), "self_");
        assert_eq!(sanitize("Self", Case::Pascal, "Type"), "Self_");
        assert_eq!(sanitize("crate", Case::Snake, "field"), "crate_");
        assert_eq!(sanitize("async", Case::Snake, "field"), "async_");
        assert_eq!(sanitize("1st-place", Case::Snake, "field"), "_1st_place");
        assert_eq!(sanitize("1", Case::Pascal, "Value"), "V1");
        assert_eq!(sanitize("in-review", Case::Pascal, "Value"), "InReview");
        assert_eq!(sanitize("order.created", Case::Pascal, "Type"), "OrderCreated");
        assert_eq!(sanitize("größe", Case::Snake, "field"), "gr_e");
        assert_eq!(sanitize("", Case::Pascal, "Empty"), "Empty");
        assert_eq!(sanitize("€", Case::Snake, "field"), "field");
        assert_eq!(sanitize("orderId", Case::Snake, "field"), "order_id");
        assert_eq!(sanitize("eventType", Case::ShoutySnake, "VALUE"), "EVENT_TYPE");
    }

    #[test]
    fn collisions_get_deterministic_suffixes() {
        let mut ns = Namespace::default();
        let a = sanitize("order-new", Case::Pascal, "Type");
        let b = sanitize("OrderNew", Case::Pascal, "Type");
        assert_eq!(ns.claim(&a, Case::Pascal), "OrderNew");
        assert_eq!(ns.claim(&b, Case::Pascal), "OrderNew2");
        let mut fields = Namespace::default();
        assert_eq!(fields.claim("order_id", Case::Snake), "order_id");
        assert_eq!(fields.claim("order_id", Case::Snake), "order_id_2");
        assert_eq!(fields.claim("self_", Case::Snake), "self_");
        assert_eq!(fields.claim("self_", Case::Snake), "self_2");
        let mut variants = Namespace::default();
        assert_eq!(variants.claim("Self_", Case::Pascal), "Self_");
        assert_eq!(variants.claim("Self_", Case::Pascal), "Self2");
    }
}
