//! Covenant: an embeddable rules engine for secured lending.
//!
//! Compile a program once into a [`Program`], then evaluate it against facility data as many
//! times as needed, from as many threads as needed:
//!
//! ```
//! let source = r#"
//!     input { as_of: Date  debt: Money(USD)  ebitda: Money(USD) }
//!     let leverage = input.debt / input.ebitda
//!     covenant max_lev "Maximum leverage" { require leverage <= 4.00x }
//! "#;
//! let program = covenant::Program::compile("facility.cov", source).unwrap();
//! let report = program
//!     .evaluate(r#"{"as_of": "2026-03-31", "debt": "450", "ebitda": "100"}"#, None)
//!     .unwrap();
//! assert_eq!(report.covenants["max_lev"].status, "breach");
//! assert_eq!(report.values["leverage"], "4.5");
//! ```
//!
//! The pipeline, one module per step: [`syntax`] (text → AST) → [`resolve`] (names → slots,
//! lowered into the [`ir`] arena) → [`check`] (types and currencies) → [`eval`] and
//! [`lending`] (evaluation) → [`report`].

// The library never panics on user input: no unwrap, expect, panic or unchecked indexing.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]
// Diagnostics carry their source text and spans so that miette can render them; they are
// built only on the error path, where their size costs nothing that matters.
#![allow(clippy::result_large_err)]

pub mod analysis;
pub mod batch;
pub mod check;
pub mod data;
pub mod dates;
pub mod editor;
pub mod eval;
mod engine;
pub mod evaluation;
pub mod explain;
pub mod format;
pub mod html;
mod expect;
pub mod ir;
pub mod lending;
pub mod report;
pub mod resolve;
pub mod schema;
pub mod solve;
pub mod span;
pub mod stdlib;
pub mod syntax;
pub mod text;
pub mod types;
pub mod value;

use std::fmt;
use std::path::Path;

use miette::Diagnostic;
use thiserror::Error;

pub use data::DataError;
pub use engine::incremental::Changes;
pub use evaluation::Evaluation;
pub use report::Report;

use crate::ir::Ir;
use crate::span::SourceMap;
use crate::value::Value;

/// Bounds on what a program and its data may demand. Over a limit is a diagnostic, never a
/// crash or a hang. Each limit has a command-line flag of the same name (`max_nesting` is
/// `--max-nesting`).
///
/// ```
/// let limits = covenant::Limits::default().with_max_nesting(32).with_max_output_bytes(1 << 20);
/// assert_eq!(limits.max_nesting, 32);
/// assert_eq!(limits.max_number_digits, 64);
/// ```
///
/// Over a limit, the program or the data is refused with a diagnostic whose code is
/// `covenant::limit::…` and whose message names the limit:
///
/// ```
/// use miette::Diagnostic;
///
/// let limits = covenant::Limits::default().with_max_nesting(4).with_max_data_bytes(64);
/// let loader = &covenant::resolve::FsLoader::new();
/// let deep = "input { as_of: Date }\nlet x = ((((((1))))))\n";
/// let err = covenant::Program::compile_with("deep.cov", deep, limits, loader).unwrap_err();
/// let diagnostic = err.diagnostics.first().unwrap();
/// assert_eq!(diagnostic.code().unwrap().to_string(), "covenant::limit::nesting");
/// assert!(diagnostic.to_string().contains("`max_nesting`"));
///
/// // The program keeps its limits: binding data applies `max_data_bytes`.
/// let program = covenant::Program::compile_with("ok.cov", "input { as_of: Date }\n", limits, loader).unwrap();
/// let big = format!(r#"{{"as_of": "2026-03-31", "note": "{}"}}"#, "x".repeat(100));
/// let err = program.bind_text(&big).unwrap_err();
/// assert_eq!(err.code().unwrap().to_string(), "covenant::limit::data_size");
/// assert!(program.bind_text(r#"{"as_of": "2026-03-31"}"#).is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one source file (each imported file too). Checked before the file is read
    /// whole.
    pub max_source_bytes: usize,
    /// Bracket and prefix-operator nesting, checked before parsing. At most
    /// [`Limits::NESTING_CEILING`].
    pub max_nesting: usize,
    /// Elements of one list (JSON array) in the data, counted before the data is parsed.
    pub max_list_len: usize,
    /// Bytes of one facility's JSON (one line in a batch).
    pub max_data_bytes: usize,
    /// Digits of one number: a literal in the source, or a number (or decimal string) in
    /// the data. Longer texts are refused by length, before any decimal parsing. A decimal
    /// holds at most [`syntax::MAX_LITERAL_DIGITS`] (28) significant digits whatever this is;
    /// the limit only refuses cheaply the texts that could never fit.
    pub max_number_digits: usize,
    /// Bytes of the text written for one facility: a `run`'s output, one `batch` line, or
    /// [`Program::report_json`]. Writing stops as soon as it passes the limit, and a report
    /// whose values alone would pass it is refused while it is built.
    pub max_output_bytes: usize,
    /// Steps of one evaluation: every expression evaluated, in functions, pools, searches
    /// (cure amounts, lots to sell) and scenario shocks alike. Over it, the evaluation is
    /// refused with [`EvalError::Operations`].
    pub max_operations: u64,
    /// Elements of the lists one evaluation builds (list literals and `[… for …]`), in total,
    /// a list or record put into a list counted with all it holds (as the report would write
    /// it).
    /// Over it, the evaluation is refused with [`EvalError::Values`].
    pub max_values: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_source_bytes: 4 << 20,
            max_nesting: 128,
            max_list_len: 1_000_000,
            max_data_bytes: 256 << 20,
            max_number_digits: 64,
            max_output_bytes: 256 << 20,
            max_operations: 100_000_000,
            max_values: 10_000_000,
        }
    }
}

impl Limits {
    /// The highest `max_nesting` accepted: beyond it the compiler's own stack would be
    /// unreasonable and evaluation would outgrow a 2 MiB thread stack. A higher value is
    /// refused with a diagnostic, not clamped.
    pub const NESTING_CEILING: usize = 1024;

    pub fn with_max_source_bytes(mut self, n: usize) -> Self {
        self.max_source_bytes = n;
        self
    }

    pub fn with_max_nesting(mut self, n: usize) -> Self {
        self.max_nesting = n;
        self
    }

    pub fn with_max_list_len(mut self, n: usize) -> Self {
        self.max_list_len = n;
        self
    }

    pub fn with_max_data_bytes(mut self, n: usize) -> Self {
        self.max_data_bytes = n;
        self
    }

    pub fn with_max_number_digits(mut self, n: usize) -> Self {
        self.max_number_digits = n;
        self
    }

    pub fn with_max_output_bytes(mut self, n: usize) -> Self {
        self.max_output_bytes = n;
        self
    }

    pub fn with_max_operations(mut self, n: u64) -> Self {
        self.max_operations = n;
        self
    }

    pub fn with_max_values(mut self, n: u64) -> Self {
        self.max_values = n;
        self
    }

    fn budget(&self) -> eval::Budget {
        eval::Budget { operations: self.max_operations, values: self.max_values }
    }

    /// The binder for data under these limits.
    pub fn binder(&self) -> data::Binder {
        data::Binder { max_list_len: self.max_list_len, max_number_digits: self.max_number_digits }
    }
}

/// Why a report could not be written as JSON.
#[derive(Debug, Error, Diagnostic, Clone, PartialEq)]
pub enum OutputError {
    #[error("the output is over the limit of {limit} bytes (`max_output_bytes`)")]
    #[diagnostic(
        code(covenant::limit::output_size),
        help("raise `max_output_bytes` in the limits (`--max-output-bytes` on the command line), or evaluate fewer scenarios at once")
    )]
    TooLarge { limit: usize },

    #[error("the report could not be written as JSON: {message}")]
    #[diagnostic(code(covenant::report::serialise))]
    Serialise { message: String },
}

/// Writes `value` as JSON, compact or pretty, refusing as soon as the text passes `limit`
/// bytes: an over-large report is never held whole.
pub fn to_json_limited<T: serde::Serialize + ?Sized>(value: &T, pretty: bool, limit: usize) -> Result<String, OutputError> {
    struct Capped {
        buf: Vec<u8>,
        limit: usize,
        over: bool,
    }
    impl std::io::Write for Capped {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.buf.len().saturating_add(b.len()) > self.limit {
                self.over = true;
                return Err(std::io::Error::other("over the output limit"));
            }
            self.buf.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut sink = Capped { buf: Vec::new(), limit, over: false };
    let written = if pretty { serde_json::to_writer_pretty(&mut sink, value) } else { serde_json::to_writer(&mut sink, value) };
    match written {
        Ok(()) => String::from_utf8(sink.buf).map_err(|e| OutputError::Serialise { message: e.to_string() }),
        Err(_) if sink.over => Err(OutputError::TooLarge { limit }),
        Err(e) => Err(OutputError::Serialise { message: e.to_string() }),
    }
}

/// Stack for compiling: a fixed base plus a generous allowance per nesting level.
const COMPILE_STACK_BASE: usize = 8 << 20;
const COMPILE_STACK_PER_LEVEL: usize = 128 << 10;

fn internal_compile_error(what: &str) -> CompileError {
    CompileError { diagnostics: vec![Box::new(resolve::ResolveError::Read { path: "<compiler>".into(), reason: what.into() })] }
}

/// Everything wrong with a program, each with its source span and a help line.
#[derive(Debug, Error)]
#[error("the program has {} error{}", .diagnostics.len(), if .diagnostics.len() == 1 { "" } else { "s" })]
pub struct CompileError {
    pub diagnostics: Vec<Box<dyn Diagnostic + Send + Sync>>,
}

impl Diagnostic for CompileError {
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.diagnostics.iter().map(|d| &**d as &dyn Diagnostic)))
    }
}

/// Why an evaluation produced no report: the data is invalid, or the request names a
/// scenario the program does not have.
#[derive(Debug, Error, Diagnostic, Clone, PartialEq)]
pub enum EvalError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(#[from] DataError),

    #[error("unknown scenario `{name}`")]
    #[diagnostic(code(covenant::usage::scenario), help("{help}"))]
    UnknownScenario { name: String, help: String },

    #[error("scenario `{scenario}`: the shock at line {line} cannot be applied: {message}")]
    #[diagnostic(
        code(covenant::eval::shock),
        help("a scenario that cannot be applied is refused rather than evaluated unshocked; check the shock's value against this facility's data")
    )]
    Shock { scenario: String, line: usize, message: String },

    #[error("scenario `{scenario}`: the shocked data fails the check at line {line}: {message}")]
    #[diagnostic(
        code(covenant::eval::scenario_check),
        help("a scenario that takes the data past one of the program's `check`s is refused rather than evaluated on data the program rejects")
    )]
    ScenarioCheck { scenario: String, line: usize, message: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Output(#[from] OutputError),

    #[error("the evaluation is over the limit of {limit} operations (`max_operations`)")]
    #[diagnostic(
        code(covenant::limit::operations),
        help("the program does too much work for this facility: look for loops over a list inside loops over a list, or functions that call others several times over; raise `max_operations` (`--max-operations` on the command line) if the work is meant")
    )]
    Operations { limit: u64 },

    #[error("the evaluation builds more than {limit} list elements (`max_values`)")]
    #[diagnostic(
        code(covenant::limit::values),
        help("the program's lists, in total, are larger than allowed; raise `max_values` (`--max-values` on the command line) if they are meant")
    )]
    Values { limit: u64 },

    #[error("the evaluation nests deeper than {limit} levels of expressions and function calls")]
    #[diagnostic(
        code(covenant::limit::depth),
        help("a chain of functions each calling the next is too long to evaluate on a thread's stack; shorten the chain")
    )]
    Depth { limit: u32 },
}

impl EvalError {
    fn exceeded(what: eval::Exceeded, limits: &Limits) -> EvalError {
        match what {
            eval::Exceeded::Operations => EvalError::Operations { limit: limits.max_operations },
            eval::Exceeded::Values => EvalError::Values { limit: limits.max_values },
            eval::Exceeded::Depth => EvalError::Depth { limit: eval::MAX_DEPTH },
        }
    }
}

/// The result of one `test` block.
#[derive(Clone, Debug, PartialEq)]
pub struct TestOutcome {
    pub title: String,
    pub line: usize,
    /// Empty when the test passed.
    pub failures: Vec<String>,
}

/// A compiled program: immutable, `Send + Sync`, evaluated without ever being cloned.
pub struct Program {
    sources: SourceMap,
    ir: Ir,
    limits: Limits,
    hash: u64,
}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Program").field("facility", &self.ir.facility).field("hash", &format_args!("{:016x}", self.hash)).finish()
    }
}

impl Program {
    /// Compiles a program, reading its file imports relative to `name`, from the directory
    /// of `name` and its subdirectories only (see [`resolve::FsLoader`]).
    pub fn compile(name: &str, source: &str) -> Result<Program, CompileError> {
        Program::compile_with(name, source, Limits::default(), &resolve::FsLoader::new())
    }

    /// Compiles a program under `limits`, loading its file imports (`import "terms.cov"`)
    /// through `loader`, each path taken relative to the importing file (the root file's
    /// directory is that of `name`). A service that keeps its rule sets in a database can
    /// serve them from memory:
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use std::path::{Path, PathBuf};
    ///
    /// struct Memory(HashMap<PathBuf, String>);
    ///
    /// impl covenant::resolve::Loader for Memory {
    ///     fn load(&self, path: &Path) -> std::io::Result<String> {
    ///         let missing = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such rule set");
    ///         self.0.get(path).cloned().ok_or_else(missing)
    ///     }
    /// }
    ///
    /// let terms = "let max_leverage = 4.00x\n";
    /// let loader = Memory(HashMap::from([(PathBuf::from("deals/terms.cov"), terms.to_string())]));
    /// let source = r#"
    ///     import "terms.cov"
    ///     input { as_of: Date  debt: Money(USD)  ebitda: Money(USD) }
    ///     covenant max_lev { require input.debt / input.ebitda <= max_leverage }
    /// "#;
    /// let limits = covenant::Limits::default().with_max_nesting(32).with_max_source_bytes(64 << 10);
    /// let program = covenant::Program::compile_with("deals/atlas.cov", source, limits, &loader).unwrap();
    /// assert_eq!(program.limits().max_nesting, 32);
    /// let evaluation = program.run(r#"{"as_of": "2026-03-31", "debt": "350", "ebitda": "100"}"#, None).unwrap();
    /// assert_eq!(evaluation.covenant("max_lev").unwrap().status.as_str(), "pass");
    ///
    /// // An import the loader cannot serve is a compile error naming it.
    /// let err = covenant::Program::compile_with("deals/other.cov", "import \"fees.cov\"\n", limits, &loader).unwrap_err();
    /// assert_eq!(err.diagnostics.len(), 1);
    /// assert!(err.diagnostics[0].to_string().contains("fees.cov"));
    /// ```
    pub fn compile_with(name: &str, source: &str, limits: Limits, loader: &dyn resolve::Loader) -> Result<Program, CompileError> {
        // Parsing and checking recurse once per nesting level (up to `max_nesting`), which can
        // exceed a small thread stack (a debug build needs ~25 KB a level). Compiling on a
        // thread of our own sizes the stack to the limit, whatever thread the caller uses.
        if limits.max_nesting > Limits::NESTING_CEILING {
            return Err(CompileError { diagnostics: vec![Box::new(syntax::SyntaxError::NestingCeiling { limit: limits.max_nesting, ceiling: Limits::NESTING_CEILING })] });
        }
        // Refused by length before the text is looked at.
        if source.len() > limits.max_source_bytes {
            return Err(CompileError { diagnostics: vec![Box::new(syntax::SyntaxError::TooLarge { name: name.to_string(), size: source.len(), limit: limits.max_source_bytes })] });
        }
        let stack = COMPILE_STACK_BASE + limits.max_nesting.saturating_mul(COMPILE_STACK_PER_LEVEL);
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new().name("covenant-compile".into()).stack_size(stack);
            match worker.spawn_scoped(scope, || Program::compile_here(name, source, limits, loader)) {
                Ok(handle) => handle.join().unwrap_or_else(|_| Err(internal_compile_error("the compiler thread stopped"))),
                // No thread to be had: compile on the caller's stack, which is only safe for
                // the default nesting.
                Err(_) if limits.max_nesting <= Limits::default().max_nesting => Program::compile_here(name, source, limits, loader),
                Err(_) => Err(internal_compile_error("no thread with a stack for the nesting limit; lower `max_nesting`")),
            }
        })
    }

    fn compile_here(name: &str, source: &str, limits: Limits, loader: &dyn resolve::Loader) -> Result<Program, CompileError> {
        let mut sources = SourceMap::default();
        let options = resolve::Options {
            max_nesting: limits.max_nesting,
            max_source_bytes: limits.max_source_bytes,
            max_number_digits: limits.max_number_digits,
            loader,
        };
        let boxed = |v: Vec<Box<dyn Diagnostic + Send + Sync>>| CompileError { diagnostics: v };
        let resolved = resolve::resolve(name, source, &mut sources, &options)
            .map_err(|es| boxed(es.into_iter().map(|e| Box::new(e) as Box<dyn Diagnostic + Send + Sync>).collect()))?;
        let mut ir = check::check(resolved, &sources)
            .map_err(|es| boxed(es.into_iter().map(|e| Box::new(e) as Box<dyn Diagnostic + Send + Sync>).collect()))?;
        ir.input_reads = crate::ir::reads::InputReads::of(&ir);
        crate::ir::optimize::optimize(&mut ir);
        let hash = content_hash(&sources);
        Ok(Program { sources, ir, limits, hash })
    }

    /// Reads and compiles a file, under the default limits.
    pub fn compile_file(path: &Path) -> Result<Program, CompileError> {
        Program::compile_file_with(path, Limits::default())
    }

    /// Reads and compiles a file. A file over `max_source_bytes` is refused by its length,
    /// without being read whole. Imports are read from the file's directory and its
    /// subdirectories only.
    pub fn compile_file_with(path: &Path, limits: Limits) -> Result<Program, CompileError> {
        Program::compile_file_through(path, limits, &resolve::FsLoader::new())
    }

    /// [`Program::compile_file_with`], reading imports through `loader`: say, an
    /// [`resolve::FsLoader::confined_to`] that allows a shared directory of terms.
    pub fn compile_file_through(path: &Path, limits: Limits, loader: &dyn resolve::Loader) -> Result<Program, CompileError> {
        let name = path.display().to_string();
        let read_error = |reason: String| CompileError { diagnostics: vec![Box::new(resolve::ResolveError::Read { path: name.clone(), reason })] };
        let io_reason = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::InvalidData {
                "not UTF-8 text".to_string()
            } else {
                e.to_string().to_lowercase()
            }
        };
        let too_large = |size: usize| CompileError {
            diagnostics: vec![Box::new(syntax::SyntaxError::TooLarge { name: name.clone(), size, limit: limits.max_source_bytes })],
        };
        let file = std::fs::File::open(path).map_err(|e| read_error(io_reason(e)))?;
        if let Ok(meta) = file.metadata() {
            let size = usize::try_from(meta.len()).unwrap_or(usize::MAX);
            if meta.is_file() && size > limits.max_source_bytes {
                return Err(too_large(size));
            }
        }
        // A pipe or a growing file: read at most one byte past the limit.
        let mut bytes = Vec::new();
        let cap = u64::try_from(limits.max_source_bytes).unwrap_or(u64::MAX).saturating_add(1);
        std::io::Read::read_to_end(&mut std::io::Read::take(file, cap), &mut bytes).map_err(|e| read_error(io_reason(e)))?;
        if bytes.len() > limits.max_source_bytes {
            return Err(too_large(bytes.len()));
        }
        let text = String::from_utf8(bytes).map_err(|e| read_error(format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to())))?;
        Program::compile_with(&name, &text, limits, loader)
    }

    /// A hash of every source the program was compiled from (FNV-1a, stable across runs and
    /// platforms), to tell which rule set produced a report.
    ///
    /// Only the text counts, the root file's and every imported file's (the standard library
    /// included), not the file names:
    ///
    /// ```
    /// let text = "input { as_of: Date  debt: Money(USD) }\nlet debt = input.debt\n";
    /// let a = covenant::Program::compile("a.cov", text).unwrap();
    /// let b = covenant::Program::compile("deals/b.cov", text).unwrap();
    /// assert_eq!(a.content_hash(), b.content_hash());
    /// assert_eq!(format!("{:016x}", a.content_hash()), "a99824d6714ae5ff"); // on every machine
    ///
    /// let changed = covenant::Program::compile("a.cov", &text.replace("debt =", "loan =")).unwrap();
    /// assert_ne!(a.content_hash(), changed.content_hash());
    /// ```
    pub fn content_hash(&self) -> u64 {
        self.hash
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A report (or several) as compact JSON, refused over `max_output_bytes`.
    pub fn report_json<T: serde::Serialize + ?Sized>(&self, report: &T) -> Result<String, OutputError> {
        to_json_limited(report, false, self.limits.max_output_bytes)
    }

    pub fn facility(&self) -> Option<&str> {
        self.ir.facility.as_deref()
    }

    /// This program evaluated as written, without the optimisation pass: the reference the
    /// optimised evaluation is tested against.
    #[doc(hidden)]
    pub fn unoptimised(mut self) -> Program {
        self.ir.fast = crate::ir::optimize::Fast::default();
        self
    }

    pub fn ir(&self) -> &Ir {
        &self.ir
    }

    pub fn sources(&self) -> &SourceMap {
        &self.sources
    }

    /// The JSON Schema (draft 2020-12) of the facility data this program reads: what the
    /// binder accepts, as far as a schema can say it (§15 of the language reference).
    ///
    /// ```
    /// let program = covenant::Program::compile("f.cov", "input { as_of: Date  debt: Money(USD)  note: Text? }\n").unwrap();
    /// let schema = program.input_schema();
    /// assert_eq!(schema["required"], serde_json::json!(["as_of", "debt"]));
    /// assert_eq!(schema["$defs"]["money_USD"]["anyOf"][1]["properties"]["currency"]["const"], "USD");
    /// ```
    pub fn input_schema(&self) -> serde_json::Value {
        schema::input_schema(&self.ir.input, self.facility(), self.limits.max_list_len)
    }

    /// The scenarios in declaration order.
    pub fn scenario_names(&self) -> impl Iterator<Item = &str> {
        self.ir.scenarios.iter().map(|s| &*s.name)
    }

    /// Evaluates the program against facility data (JSON text), under a scenario or the
    /// base case.
    pub fn evaluate(&self, data: &str, scenario: Option<&str>) -> Result<Report, EvalError> {
        self.evaluate_bound(self.bind_text(data)?, scenario)
    }

    /// Evaluates against already-parsed JSON. Numbers must have been parsed with serde_json's
    /// `arbitrary_precision`, as this crate enables, so that no decimal passes through f64.
    pub fn evaluate_json(&self, json: &serde_json::Value, scenario: Option<&str>) -> Result<Report, EvalError> {
        let input = self.bind(json)?;
        self.evaluate_bound(input, scenario)
    }

    /// Reads facility data (JSON text) straight into the schema, without a JSON tree, and runs
    /// the program's checks on it. The bound value can be evaluated many times (under each
    /// scenario, say) with [`Program::run_bound`] or [`Program::evaluate_bound`].
    ///
    /// Compile once, bind once, evaluate many times:
    ///
    /// ```
    /// use covenant::lending::CovenantStatus;
    /// use rust_decimal::Decimal;
    ///
    /// let program = covenant::Program::compile("f.cov", r#"
    ///     input { as_of: Date  debt: Money(USD)  ebitda: Money(USD) }
    ///     let leverage = input.debt / input.ebitda
    ///     covenant max_lev "Maximum leverage" { require leverage <= 4.00x }
    ///     scenario downturn "EBITDA -25%" { input.ebitda *= 75% }
    ///     scenario paydown "Debt repaid to 300" { input.debt = 300 USD }
    /// "#).unwrap();
    /// // Parsed, checked against the schema and the program's `check`s, once.
    /// let input = program.bind_text(r#"{"as_of": "2026-03-31", "debt": "350", "ebitda": "100"}"#).unwrap();
    ///
    /// let base = program.run_bound(input.clone(), None).unwrap();
    /// assert_eq!(base.covenant("max_lev").unwrap().status, CovenantStatus::Pass);
    /// let mut results = Vec::new();
    /// for name in program.scenario_names() {
    ///     // Each scenario shocks its own copy of the base data; scenarios never stack.
    ///     let stressed = program.run_bound(input.clone(), Some(name)).unwrap();
    ///     let leverage = stressed.value("leverage").and_then(|v| v.num()).unwrap().round_dp(2);
    ///     results.push((name, leverage, stressed.covenant("max_lev").unwrap().status));
    /// }
    /// assert_eq!(results, [
    ///     ("downturn", Decimal::new(467, 2), CovenantStatus::Breach), // 350 / 75
    ///     ("paydown", Decimal::from(3), CovenantStatus::Pass),       // 300 / 100
    /// ]);
    ///
    /// // Data the schema refuses never reaches evaluation.
    /// let err = program.bind_text(r#"{"as_of": "2026-03-31", "debt": "350"}"#).unwrap_err();
    /// assert!(err.to_string().contains("ebitda"));
    /// ```
    pub fn bind_text(&self, data: &str) -> Result<Value, EvalError> {
        if data.len() > self.limits.max_data_bytes {
            return Err(DataError::TooLarge { size: data.len(), limit: self.limits.max_data_bytes }.into());
        }
        let input = self.limits.binder().bind_text(data, &self.ir.input)?;
        engine::checks::run(self, &input, &mut self.limits.budget())?;
        Ok(input)
    }

    /// Binds data to the schema and runs the program's checks on it.
    pub fn bind(&self, json: &serde_json::Value) -> Result<Value, EvalError> {
        let input = self.limits.binder().bind(json, &self.ir.input)?;
        engine::checks::run(self, &input, &mut self.limits.budget())?;
        Ok(input)
    }

    /// Evaluates bound data under a scenario or the base case.
    pub fn evaluate_bound(&self, input: Value, scenario: Option<&str>) -> Result<Report, EvalError> {
        Ok(self.run_bound(input, scenario)?.report()?)
    }

    /// Evaluates facility data (JSON text) into typed results, without building a report.
    pub fn run(&self, data: &str, scenario: Option<&str>) -> Result<Evaluation<'_>, EvalError> {
        self.run_bound(self.bind_text(data)?, scenario)
    }

    /// Evaluates bound data (see [`Program::bind`]) into typed results. An unknown scenario is
    /// an error that suggests the closest name:
    ///
    /// ```
    /// let program = covenant::Program::compile("f.cov", r#"
    ///     input { as_of: Date  price: Money(USD) }
    ///     scenario crash "Price -50%" { input.price *= 50% }
    /// "#).unwrap();
    /// let input = program.bind_text(r#"{"as_of": "2026-03-31", "price": "80"}"#).unwrap();
    /// let err = program.run_bound(input, Some("crsh")).err().unwrap();
    /// assert!(matches!(&err, covenant::EvalError::UnknownScenario { help, .. } if help.contains("did you mean `crash`")));
    /// ```
    pub fn run_bound(&self, input: Value, scenario: Option<&str>) -> Result<Evaluation<'_>, EvalError> {
        engine::run(self, input, scenario)
    }

    /// The program's scenario `scenario` on the data `base` evaluated: the result of
    /// [`Program::run_bound`] with that data and scenario, to the byte, with only the figures
    /// downstream of the scenario's shocked paths evaluated again and the rest read from
    /// `base`. A pool, and its liquidation searches, that no shock reaches is `base`'s.
    ///
    /// ```
    /// let program = covenant::Program::compile("f.cov", r#"
    ///     input { as_of: Date  debt: Money(USD)  ebitda: Money(USD)  cash: Money(USD) }
    ///     let leverage = input.debt / input.ebitda
    ///     covenant max_lev { require leverage <= 4.00x }
    ///     covenant min_cash { require input.cash >= 10 USD }
    ///     scenario downturn "EBITDA -25%" { input.ebitda *= 75% }
    /// "#).unwrap();
    /// let input = program.bind_text(r#"{"as_of": "2026-03-31", "debt": "350", "ebitda": "100", "cash": "25"}"#).unwrap();
    /// let base = program.run_bound(input.clone(), None).unwrap();
    /// let stressed = program.run_scenario_incremental(&base, "downturn").unwrap();
    /// assert_eq!(stressed.scenario(), Some("downturn"));
    /// assert_eq!(stressed.covenant("max_lev").unwrap().status.as_str(), "breach");
    /// let scratch = program.run_bound(input, Some("downturn")).unwrap();
    /// assert_eq!(serde_json::to_string(&stressed.report().unwrap()).unwrap(), serde_json::to_string(&scratch.report().unwrap()).unwrap());
    /// ```
    pub fn run_scenario_incremental(&self, base: &Evaluation<'_>, scenario: &str) -> Result<Evaluation<'_>, EvalError> {
        engine::incremental::run_scenario(self, base, scenario)
    }

    /// A change to the data at `changed` (input paths, as [`analysis::InputPath::ir_path`]
    /// gives them), worked out once: which figures it makes evaluate again and whether it
    /// reaches the checks. [`Evaluation::rerun_changed`] applies it.
    pub fn changes(&self, changed: &[Vec<ir::PathStep>]) -> Changes {
        let changed: Vec<&[ir::PathStep]> = changed.iter().map(Vec::as_slice).collect();
        Changes::of(&self.ir, &changed)
    }

    /// Runs the tests written in the program (`test "…" { … }`); data paths are relative to
    /// `base_dir`, and read from it and its subdirectories only.
    pub fn run_tests(&self, base_dir: &Path) -> Vec<TestOutcome> {
        self.run_tests_through(base_dir, &resolve::FsLoader::new())
    }

    /// [`Program::run_tests`], reading the data files through `loader`, which confines them
    /// as it confines imports (with `base_dir` as the root file's directory).
    pub fn run_tests_through(&self, base_dir: &Path, loader: &dyn resolve::Loader) -> Vec<TestOutcome> {
        engine::script::run_tests(self, base_dir, loader)
    }
}

fn content_hash(sources: &SourceMap) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..sources.len() {
        if let Some(f) = sources.file(span::FileId(u32::try_from(i).unwrap_or(0))) {
            for b in f.text.bytes().chain(std::iter::once(0)) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    h
}

#[cfg(test)]
mod tests {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn program_is_send_and_sync() {
        assert_send_sync::<super::Program>();
    }
}
