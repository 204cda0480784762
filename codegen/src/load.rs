//! Stage 1: read documents and follow `$ref`s.
//!
//! Every file is parsed once into a JSON value. A [`Node`] names one value by file and JSON
//! pointer, so everything later stages build keeps where it came from. `$ref`s resolve relative
//! to the file they appear in; remote references are refused, never fetched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, ErrorKind, Location, Result};

/// Index of a file the loader has read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(usize);

/// One value in one loaded file: the file and the JSON pointer to the value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node {
    /// The file.
    pub file: FileId,
    /// Escaped JSON pointer (`""` for the document root).
    pub pointer: String,
}

impl Node {
    /// The node of `key` inside this object node.
    pub fn key(&self, key: &str) -> Node {
        Node { file: self.file, pointer: format!("{}/{}", self.pointer, escape_token(key)) }
    }

    /// The node of item `index` inside this array node.
    pub fn index(&self, index: usize) -> Node {
        Node { file: self.file, pointer: format!("{}/{index}", self.pointer) }
    }

    /// The unescaped tokens of the pointer.
    pub fn tokens(&self) -> Vec<String> {
        split_pointer(&self.pointer)
    }
}

struct SourceFile {
    path: PathBuf,
    value: Value,
    /// Made by the generator (an Avro schema translated to JSON Schema), not read from disk.
    derived: bool,
}

/// Longest chain of `$ref` to `$ref` the loader follows before calling it a cycle.
const MAX_REF_CHAIN: usize = 64;

/// The files of one generation run, and the `$ref`s between them.
pub struct Loader {
    files: Vec<SourceFile>,
    by_path: BTreeMap<PathBuf, FileId>,
    /// How many `follow`s are under way, nested inside each other.
    following: usize,
}

impl Loader {
    /// Reads the root document at `path`.
    pub fn open(path: &Path) -> Result<(Loader, Node)> {
        let mut loader = Loader { files: Vec::new(), by_path: BTreeMap::new(), following: 0 };
        let file = loader.load_file(path, None)?;
        Ok((loader, Node { file, pointer: String::new() }))
    }

    /// Every file read so far, in the order they were first read.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().filter(|f| !f.derived).map(|f| f.path.as_path())
    }

    /// Adds `value`, derived from the value at `from` (e.g. an Avro schema's JSON Schema), as a
    /// document of its own; errors inside it name `from` and say what it was derived as.
    pub fn add_derived(&mut self, from: &Node, what: &str, value: Value) -> Node {
        let path = PathBuf::from(format!("{}#{} ({what})", self.path(from.file).display(), from.pointer));
        let id = FileId(self.files.len());
        self.files.push(SourceFile { path, value, derived: true });
        Node { file: id, pointer: String::new() }
    }

    /// The path of a loaded file.
    pub fn path(&self, file: FileId) -> &Path {
        &self.files[file.0].path
    }

    /// The error location of `node`.
    pub fn location(&self, node: &Node) -> Location {
        Location { file: Some(self.path(node.file).to_path_buf()), pointer: node.pointer.clone(), line_col: None }
    }

    /// An error of `kind` at `node`.
    pub fn error(&self, node: &Node, kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::new(kind, self.location(node), message)
    }

    /// The value at `node`, which must exist (nodes are only made for values that do).
    pub fn get(&self, node: &Node) -> Result<&Value> {
        let root = &self.files[node.file.0].value;
        lookup(root, &node.pointer)
            .ok_or_else(|| self.error(node, ErrorKind::Ref, format!("no value at pointer `{}`", node.pointer)))
    }

    /// Follows `$ref`s from `node` until a value that is not a reference, loading files as needed.
    ///
    /// Returns the node of that value. A chain that comes back to where it started is an error.
    pub fn resolve(&mut self, node: &Node) -> Result<Node> {
        let mut current = node.clone();
        let mut seen = BTreeSet::new();
        let mut chain: Vec<String> = Vec::new();
        loop {
            let Some(reference) = self.ref_of(&current)? else {
                return Ok(current);
            };
            if !seen.insert(current.clone()) {
                return Err(self.error(node, ErrorKind::RefCycle, format!("`$ref` cycle: {}", chain.join(" → "))));
            }
            chain.push(format!("`{reference}`"));
            if seen.len() > MAX_REF_CHAIN {
                return Err(self.error(
                    node,
                    ErrorKind::TooDeep,
                    format!("more than {MAX_REF_CHAIN} `$ref`s in a row, starting {}", chain[0]),
                ));
            }
            current = self.follow(&current, &reference)?;
        }
    }

    /// The `$ref` string of the value at `node`, if it is a reference object.
    pub fn ref_of(&self, node: &Node) -> Result<Option<String>> {
        match self.get(node)? {
            Value::Object(map) => match map.get("$ref") {
                Some(Value::String(reference)) => Ok(Some(reference.clone())),
                Some(_) => Err(self.error(&node.key("$ref"), ErrorKind::Invalid, "`$ref` must be a string")),
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }

    /// The node a `$ref` written at `at` points to (one step, not followed further).
    pub fn follow(&mut self, at: &Node, reference: &str) -> Result<Node> {
        // Walking a pointer can meet further `$ref`s, which are followed in turn; a reference
        // that passes through itself (`a: {$ref: "#/a/x"}`) would otherwise recurse for ever.
        if self.following >= MAX_REF_CHAIN {
            return Err(self.error(
                &at.key("$ref"),
                ErrorKind::RefCycle,
                format!("`$ref` `{reference}` passes through itself"),
            ));
        }
        self.following += 1;
        let result = self.follow_once(at, reference);
        self.following -= 1;
        result
    }

    fn follow_once(&mut self, at: &Node, reference: &str) -> Result<Node> {
        let ref_node = at.key("$ref");
        let (file_part, fragment) = match reference.split_once('#') {
            Some((file, fragment)) => (file, fragment),
            None => (reference, ""),
        };
        if has_scheme(file_part) {
            return Err(self.error(
                &ref_node,
                ErrorKind::RemoteRef,
                format!(
                    "remote `$ref` `{reference}` refused: eventfold reads only local files and never uses the network"
                ),
            ));
        }
        let file = if file_part.is_empty() {
            at.file
        } else {
            let decoded = percent_encoding::percent_decode_str(file_part).decode_utf8_lossy().into_owned();
            let base = self.path(at.file).parent().map(Path::to_path_buf).unwrap_or_default();
            let target = base.join(&decoded);
            self.load_file(&target, Some(&ref_node))?
        };
        let decoded = percent_encoding::percent_decode_str(fragment).decode_utf8().map_err(|_| {
            self.error(&ref_node, ErrorKind::Ref, format!("`$ref` `{reference}` has a pointer that is not UTF-8"))
        })?;
        if !decoded.is_empty() && !decoded.starts_with('/') {
            return Err(self.error(
                &ref_node,
                ErrorKind::Unsupported,
                format!("`$ref` `{reference}`: only JSON-pointer fragments (`#/...`) are supported, not anchors"),
            ));
        }
        let target = self.walk(file, &split_pointer(&decoded), &ref_node, reference)?;
        Ok(target)
    }

    /// Walks `tokens` from the root of `file`, following any `$ref` met on the way, so that a
    /// pointer such as `#/channels/Orders/messages/New` reaches into a channel that is itself a
    /// reference to another file.
    fn walk(&mut self, file: FileId, tokens: &[String], ref_node: &Node, reference: &str) -> Result<Node> {
        let mut current = Node { file, pointer: String::new() };
        for (depth, token) in tokens.iter().enumerate() {
            if depth > 0 && self.ref_of(&current)?.is_some() {
                current = self.resolve(&current)?;
            }
            let next = match self.get(&current)? {
                Value::Object(map) if map.contains_key(token) => Some(current.key(token)),
                Value::Array(items) => token
                    .parse::<usize>()
                    .ok()
                    .filter(|i| *i < items.len() && (token == "0" || !token.starts_with('0')))
                    .map(|i| current.index(i)),
                _ => None,
            };
            current = next.ok_or_else(|| {
                self.error(
                    ref_node,
                    ErrorKind::Ref,
                    format!(
                        "`$ref` `{reference}` points to nothing: `{}` has no `{}`",
                        self.path(file).display(),
                        tokens.iter().map(|t| format!("/{}", escape_token(t))).collect::<String>()
                    ),
                )
            })?;
        }
        Ok(current)
    }

    fn load_file(&mut self, path: &Path, referrer: Option<&Node>) -> Result<FileId> {
        let canonical = match std::fs::canonicalize(path) {
            Ok(p) => p,
            Err(e) => {
                let message = format!("cannot read `{}`: {e}", path.display());
                return Err(match referrer {
                    Some(node) => self.error(node, ErrorKind::Ref, message),
                    None => Error::new(ErrorKind::Io, file_location(path), message),
                });
            }
        };
        if let Some(id) = self.by_path.get(&canonical) {
            return Ok(*id);
        }
        // Report the path the way the user wrote it for the root, canonical for the rest.
        let shown = if referrer.is_none() { path.to_path_buf() } else { canonical.clone() };
        // A device or a pipe (`/dev/zero`, `/dev/stdin`) would be read forever: only files are read.
        let not_a_file = std::fs::metadata(&canonical).map(|m| !m.is_file()).unwrap_or(false);
        let read = if not_a_file {
            Err(std::io::Error::other("not a regular file"))
        } else {
            std::fs::read_to_string(&canonical)
        };
        let text = read.map_err(|e| {
            let message = format!("cannot read `{}`: {e}", shown.display());
            match referrer {
                Some(node) => self.error(node, ErrorKind::Ref, message),
                None => Error::new(ErrorKind::Io, file_location(&shown), message),
            }
        })?;
        let value = parse(&shown, &text)?;
        let id = FileId(self.files.len());
        self.files.push(SourceFile { path: shown, value, derived: false });
        self.by_path.insert(canonical, id);
        Ok(id)
    }
}

fn file_location(path: &Path) -> Location {
    Location { file: Some(path.to_path_buf()), pointer: String::new(), line_col: None }
}

/// `true` for `http://...`, `https:`, `file:` and any other URI scheme; a Windows drive letter
/// such as `C:` is only one letter and is not a scheme.
fn has_scheme(reference: &str) -> bool {
    match reference.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// How deep serde_json and serde_yaml nest before they give up (both use 128).
const MAX_PARSE_DEPTH: usize = 128;

/// Parses a document: JSON when it looks like JSON, YAML otherwise.
pub fn parse(path: &Path, text: &str) -> Result<Value> {
    let at = |line_col: Option<(usize, usize)>| Location {
        file: Some(path.to_path_buf()),
        pointer: String::new(),
        line_col,
    };
    if text.trim().is_empty() {
        return Err(Error::new(ErrorKind::Parse, at(None), "the file is empty"));
    }
    let is_json = path.extension().is_some_and(|e| e == "json" || e == "avsc") || text.trim_start().starts_with('{');
    // The parsers name their limits only in the message: nesting deeper than they recurse, and
    // YAML aliases that expand far beyond the text (an alias bomb).
    let too_deep = |line_col: Option<(usize, usize)>| {
        Error::new(
            ErrorKind::TooDeep,
            at(line_col),
            format!("the document is nested more than {MAX_PARSE_DEPTH} levels deep; eventfold does not read documents nested that deep"),
        )
    };
    if is_json {
        return serde_json::from_str(text).map_err(|e| {
            let line_col = Some((e.line(), e.column()));
            if e.to_string().starts_with("recursion limit exceeded") {
                return too_deep(line_col);
            }
            Error::new(ErrorKind::Parse, at(line_col), format!("invalid JSON: {e}"))
        });
    }
    let yaml_error = |e: serde_yaml::Error| {
        let line_col = e.location().map(|l| (l.line(), l.column()));
        let text = e.to_string();
        if text.starts_with("recursion limit exceeded") {
            too_deep(line_col)
        } else if text.starts_with("repetition limit exceeded") {
            Error::new(
                ErrorKind::Parse,
                at(line_col),
                "invalid YAML: its aliases (`*name`) expand to far more than the text itself (an alias bomb?); eventfold refuses to expand them",
            )
        } else {
            Error::new(ErrorKind::Parse, at(line_col), format!("invalid YAML: {text}"))
        }
    };
    let mut yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(yaml_error)?;
    yaml.apply_merge().map_err(yaml_error)?;
    yaml_to_json(yaml, &mut String::new()).map_err(|(pointer, message)| {
        Error::new(ErrorKind::Parse, Location { file: Some(path.to_path_buf()), pointer, line_col: None }, message)
    })
}

/// Converts YAML into the JSON data model: keys become strings, tags are dropped, merge keys
/// (`<<`) are applied. `pointer` tracks where we are, for errors.
fn yaml_to_json(value: serde_yaml::Value, pointer: &mut String) -> std::result::Result<Value, (String, String)> {
    use serde_yaml::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                match n.as_f64().and_then(serde_json::Number::from_f64) {
                    Some(f) => Value::Number(f),
                    None => return Err((pointer.clone(), format!("the number `{n}` has no JSON form"))),
                }
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                out.push(yaml_to_json(item, pointer)?);
                pointer.truncate(len);
            }
            Value::Array(out)
        }
        Y::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (key, item) in map {
                let key = match key {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_owned(),
                    _ => return Err((pointer.clone(), "a mapping key must be a string, number or boolean".to_owned())),
                };
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape_token(&key));
                let item = yaml_to_json(item, pointer)?;
                pointer.truncate(len);
                out.insert(key, item);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value, pointer)?,
    })
}

/// Escapes one JSON-pointer token (`~` → `~0`, `/` → `~1`).
pub fn escape_token(token: &str) -> String {
    if !token.contains(['~', '/']) {
        return token.to_owned();
    }
    token.replace('~', "~0").replace('/', "~1")
}

/// Unescapes one JSON-pointer token, borrowing when there is nothing to unescape (the usual case:
/// pointers are looked up far more often than they are made).
fn unescape_token(token: &str) -> std::borrow::Cow<'_, str> {
    if !token.contains('~') {
        return std::borrow::Cow::Borrowed(token);
    }
    std::borrow::Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
}

/// The unescaped tokens of an escaped pointer.
pub fn split_pointer(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer.split('/').skip(1).map(|t| unescape_token(t).into_owned()).collect()
}

/// The value at an escaped pointer.
fn lookup<'a>(root: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut current = root;
    if pointer.is_empty() {
        return Some(current);
    }
    for token in pointer.split('/').skip(1).map(unescape_token) {
        current = match current {
            Value::Object(map) => map.get(token.as_ref())?,
            Value::Array(items) => {
                if token.len() > 1 && token.starts_with('0') {
                    return None;
                }
                items.get(token.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escapes_round_trip() {
        let node = Node { file: FileId(0), pointer: String::new() }.key("a/b").key("c~d");
        assert_eq!(node.pointer, "/a~1b/c~0d");
        assert_eq!(node.tokens(), vec!["a/b".to_owned(), "c~d".to_owned()]);
    }

    #[test]
    fn lookup_follows_objects_and_arrays() {
        let value: Value = serde_json::json!({"a/b": [1, {"~": true}]});
        assert_eq!(lookup(&value, "/a~1b/1/~0"), Some(&Value::Bool(true)));
        assert_eq!(lookup(&value, "/a~1b/01"), None);
        assert_eq!(lookup(&value, "/missing"), None);
    }

    #[test]
    fn schemes_are_recognised() {
        assert!(has_scheme("http://example.com/x.json"));
        assert!(has_scheme("https://example.com"));
        assert!(has_scheme("file:///etc/passwd"));
        assert!(!has_scheme("./a.json"));
        assert!(!has_scheme("C:/a.json"));
        assert!(!has_scheme(""));
    }

    #[test]
    fn yaml_keys_become_strings() {
        let value = parse(Path::new("x.yaml"), "200: ok\ntrue: yes\n").unwrap();
        assert_eq!(value, serde_json::json!({"200": "ok", "true": "yes"}));
    }
}
