//! Stage 5: formatted source, the `@generated` header, and the two front ends' I/O.

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Location, Result};
use crate::ir::Model;
use crate::load::Loader;
use crate::spec::Document;

/// The result of one generation run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The formatted Rust source, header included.
    pub code: String,
    /// Every file that was read, the root document first: what a build script reruns on.
    pub inputs: Vec<PathBuf>,
}

/// Choices about the generated code that do not depend on the document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Keep strings with a `format` (`uuid`, `date-time`, `date`) as `String` instead of
    /// `Uuid`, `Timestamp` and `Date`.
    pub formats_as_strings: bool,
}

impl Options {
    /// The default options.
    pub fn new() -> Self {
        Options::default()
    }

    /// Sets [`Options::formats_as_strings`].
    pub fn formats_as_strings(mut self, enabled: bool) -> Self {
        self.formats_as_strings = enabled;
        self
    }
}

/// Reads the AsyncAPI document at `spec` (and every file it refers to) and generates its Rust code.
pub fn generate(spec: impl AsRef<Path>) -> Result<Generated> {
    generate_with(spec, &Options::default())
}

/// [`generate`] with `options`.
pub fn generate_with(spec: impl AsRef<Path>, options: &Options) -> Result<Generated> {
    let spec = spec.as_ref();
    let (loader, model) = build_model(spec, options)?;
    let code = render(&model, spec)?;
    Ok(Generated { code, inputs: loader.files().map(Path::to_path_buf).collect() })
}

/// Checks the document at `spec` as [`generate`] would, without producing code.
/// Returns every file that was read.
pub fn validate(spec: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
    let (loader, _) = build_model(spec.as_ref(), &Options::default())?;
    Ok(loader.files().map(Path::to_path_buf).collect())
}

/// One entry of a message's `examples`, with the names the generated code gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The channel id.
    pub channel: String,
    /// The generated module of the channel.
    pub module: String,
    /// The message's key: what [`ChannelMessage::deserialize_named`] takes.
    ///
    /// [`ChannelMessage::deserialize_named`]: https://docs.rs/eventfold/latest/eventfold/trait.ChannelMessage.html
    pub message: String,
    /// The example's `name`, if it has one.
    pub name: Option<String>,
    /// The example payload, as written.
    pub payload: Option<serde_json::Value>,
    /// The example headers, as written.
    pub headers: Option<serde_json::Value>,
    /// Where the example is.
    pub location: Location,
    /// Where the message's payload schema is, after `$ref`s (its JSON pointer is in the file
    /// of the location), if the message has one.
    pub payload_schema: Option<Location>,
}

/// Every message example of the document at `spec`, for round-trip tests of generated code.
pub fn examples(spec: impl AsRef<Path>) -> Result<Vec<Example>> {
    let (loader, model) = build_model(spec.as_ref(), &Options::default())?;
    let mut out = Vec::new();
    for channel in &model.channels {
        for message in &channel.messages {
            for example in &message.examples {
                out.push(Example {
                    channel: channel.id.clone(),
                    module: channel.module.clone(),
                    message: message.key.clone(),
                    name: example.name.clone(),
                    payload: example.payload.clone(),
                    headers: example.headers.clone(),
                    location: loader.location(&example.node),
                    payload_schema: message.payload_schema.as_ref().map(|node| loader.location(node)),
                });
            }
        }
    }
    Ok(out)
}

fn build_model(spec: &Path, options: &Options) -> Result<(Loader, Model)> {
    let (mut loader, root) = Loader::open(spec)?;
    let document = Document::parse(&mut loader, &root)?;
    let model = Model::build(&loader, &document, options)?;
    Ok((loader, model))
}

/// The formatted code of every channel module under the `@generated` header.
///
/// Channels are emitted, parsed and formatted independently, so they are spread over the
/// machine's cores; the modules are joined in channel order, so the output does not depend on
/// how many threads there were.
fn render(model: &Model, spec: &Path) -> Result<String> {
    let channels = model.channels.len();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, channels.max(1));
    let mut modules: Vec<Result<String>> = Vec::with_capacity(channels);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|worker| {
                scope.spawn(move || {
                    (worker..channels)
                        .step_by(threads)
                        .map(|index| (index, render_channel(model, index, spec)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut rendered: Vec<(usize, Result<String>)> = Vec::with_capacity(channels);
        for worker in workers {
            match worker.join() {
                Ok(done) => rendered.extend(done),
                Err(_) => rendered.push((usize::MAX, Err(internal(spec, "a formatting thread panicked".to_owned())))),
            }
        }
        rendered.sort_by_key(|(index, _)| *index);
        modules.extend(rendered.into_iter().map(|(_, module)| module));
    });
    let mut body = String::new();
    for module in modules {
        body.push_str(&module?);
    }
    let name = spec.file_name().map_or_else(|| spec.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok(format!(
        "// @generated by eventfold-codegen {} from `{name}`. Do not edit: regenerate instead.\n\n{body}",
        env!("CARGO_PKG_VERSION"),
    ))
}

/// One channel module, emitted and formatted with prettyplease.
fn render_channel(model: &Model, index: usize, spec: &Path) -> Result<String> {
    let tokens = crate::emit::emit_channel(model, index);
    let file: syn::File = syn::parse2(tokens).map_err(|e| {
        internal(
            spec,
            format!("eventfold generated code that does not parse ({e}); please report this with the document"),
        )
    })?;
    Ok(prettyplease::unparse(&file))
}

fn internal(spec: &Path, message: String) -> Error {
    Error::new(ErrorKind::Internal, Location { file: Some(spec.to_path_buf()), ..Location::default() }, message)
}

/// Writes `contents` to `path` unless the file already holds exactly that.
/// Returns whether it wrote.
pub fn write_if_changed(path: &Path, contents: &str) -> std::io::Result<bool> {
    if std::fs::read(path).is_ok_and(|existing| existing == contents.as_bytes()) {
        return Ok(false);
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, contents)?;
    Ok(true)
}

/// Generates code from a build script, into `OUT_DIR`, for `include!`.
///
/// In `build.rs`:
///
/// ```no_run
/// if let Err(error) = eventfold_codegen::Builder::new().compile("event-source.json") {
///     eprintln!("{error}");
///     std::process::exit(1);
/// }
/// ```
///
/// and in the crate: `include!(concat!(env!("OUT_DIR"), "/event_source.rs"));`
#[derive(Debug, Clone)]
pub struct Builder {
    options: Options,
    out_dir: Option<PathBuf>,
    file_name: Option<String>,
    rerun_if_changed: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder writing into `OUT_DIR` and printing `cargo:rerun-if-changed` lines.
    pub fn new() -> Self {
        Builder { options: Options::default(), out_dir: None, file_name: None, rerun_if_changed: true }
    }

    /// Writes into `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Names the output file (default: the document's file stem in snake case, plus `.rs`).
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// Keeps strings with a `format` as `String` (see [`Options::formats_as_strings`]).
    pub fn formats_as_strings(mut self, enabled: bool) -> Self {
        self.options.formats_as_strings = enabled;
        self
    }

    /// Whether to print `cargo:rerun-if-changed` for every file read (default `true`).
    pub fn rerun_if_changed(mut self, enabled: bool) -> Self {
        self.rerun_if_changed = enabled;
        self
    }

    /// The file name the output of `spec` gets.
    pub fn output_name(&self, spec: &Path) -> String {
        self.file_name.clone().unwrap_or_else(|| {
            let stem = spec.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            format!("{}.rs", crate::ir::names::sanitize(&stem, crate::ir::names::Case::Snake, "asyncapi"))
        })
    }

    /// Generates the code of `spec` and writes it (only if it changed). Returns the output path.
    pub fn compile(&self, spec: impl AsRef<Path>) -> Result<PathBuf> {
        let spec = spec.as_ref();
        // Print the rerun lines even when generation fails, so that fixing the document reruns.
        let generated = generate_with(spec, &self.options);
        if self.rerun_if_changed {
            match &generated {
                Ok(generated) => {
                    for input in &generated.inputs {
                        println!("cargo:rerun-if-changed={}", input.display());
                    }
                }
                Err(_) => println!("cargo:rerun-if-changed={}", spec.display()),
            }
        }
        let generated = generated?;
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR").map(PathBuf::from).ok_or_else(|| {
                Error::new(
                    ErrorKind::Output,
                    Location::default(),
                    "OUT_DIR is not set: call Builder::compile from a build script, or set Builder::out_dir",
                )
            })?,
        };
        let path = out_dir.join(self.output_name(spec));
        write_if_changed(&path, &generated.code).map_err(|e| {
            Error::new(
                ErrorKind::Output,
                Location { file: Some(path.clone()), ..Location::default() },
                format!("cannot write `{}`: {e}", path.display()),
            )
        })?;
        Ok(path)
    }
}
