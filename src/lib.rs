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

pub mod check;
pub mod data;
pub mod dates;
pub mod eval;
pub mod ir;
pub mod lending;
pub mod report;
pub mod resolve;
pub mod span;
pub mod stdlib;
pub mod syntax;
pub mod types;
pub mod value;

use std::fmt;
use std::path::Path;

use miette::Diagnostic;
use thiserror::Error;

pub use data::DataError;
pub use report::Report;

use crate::eval::Evaluator;
use crate::ir::{Ir, PathStep};
use crate::span::SourceMap;
use crate::syntax::ast::ShockOp;
use crate::value::Value;

/// Bounds on what a program and its data may demand. Over a limit is a diagnostic, never a
/// crash or a hang.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of one source file.
    pub max_source_bytes: usize,
    /// Bracket and prefix-operator nesting, checked before parsing.
    pub max_nesting: usize,
    /// Elements of one list in the data.
    pub max_list_len: usize,
    /// Bytes of one facility's JSON.
    pub max_data_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_source_bytes: 4 << 20, max_nesting: 128, max_list_len: 1_000_000, max_data_bytes: 256 << 20 }
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
    /// Compiles a program, reading its file imports relative to `name`.
    pub fn compile(name: &str, source: &str) -> Result<Program, CompileError> {
        Program::compile_with(name, source, Limits::default(), &resolve::FsLoader)
    }

    pub fn compile_with(name: &str, source: &str, limits: Limits, loader: &dyn resolve::Loader) -> Result<Program, CompileError> {
        // Parsing and checking recurse once per nesting level (up to `max_nesting`), which can
        // exceed a small thread stack (a debug build needs ~25 KB a level). Compiling on a
        // thread of our own sizes the stack to the limit, whatever thread the caller uses.
        let stack = COMPILE_STACK_BASE + limits.max_nesting.saturating_mul(COMPILE_STACK_PER_LEVEL);
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new().name("covenant-compile".into()).stack_size(stack);
            match worker.spawn_scoped(scope, || Program::compile_here(name, source, limits, loader)) {
                Ok(handle) => handle.join().unwrap_or_else(|_| Err(internal_compile_error("the compiler thread stopped"))),
                // No thread to be had: compile on the caller's stack.
                Err(_) => Program::compile_here(name, source, limits, loader),
            }
        })
    }

    fn compile_here(name: &str, source: &str, limits: Limits, loader: &dyn resolve::Loader) -> Result<Program, CompileError> {
        let mut sources = SourceMap::default();
        let options = resolve::Options { max_nesting: limits.max_nesting, max_source_bytes: limits.max_source_bytes, loader };
        let boxed = |v: Vec<Box<dyn Diagnostic + Send + Sync>>| CompileError { diagnostics: v };
        let resolved = resolve::resolve(name, source, &mut sources, &options)
            .map_err(|es| boxed(es.into_iter().map(|e| Box::new(e) as Box<dyn Diagnostic + Send + Sync>).collect()))?;
        let ir = check::check(resolved, &sources)
            .map_err(|es| boxed(es.into_iter().map(|e| Box::new(e) as Box<dyn Diagnostic + Send + Sync>).collect()))?;
        let hash = content_hash(&sources);
        Ok(Program { sources, ir, limits, hash })
    }

    /// Reads and compiles a file.
    pub fn compile_file(path: &Path) -> Result<Program, CompileError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let reason = if e.kind() == std::io::ErrorKind::InvalidData { "not UTF-8 text".to_string() } else { e.to_string().to_lowercase() };
            CompileError { diagnostics: vec![Box::new(resolve::ResolveError::Read { path: path.display().to_string(), reason })] }
        })?;
        Program::compile(&path.display().to_string(), &text)
    }

    /// A hash of every source the program was compiled from (FNV-1a, stable across runs and
    /// platforms), to tell which rule set produced a report.
    pub fn content_hash(&self) -> u64 {
        self.hash
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn facility(&self) -> Option<&str> {
        self.ir.facility.as_deref()
    }

    pub fn ir(&self) -> &Ir {
        &self.ir
    }

    pub fn sources(&self) -> &SourceMap {
        &self.sources
    }

    /// The scenarios in declaration order.
    pub fn scenario_names(&self) -> impl Iterator<Item = &str> {
        self.ir.scenarios.iter().map(|s| &*s.name)
    }

    /// Evaluates the program against facility data (JSON text), under a scenario or the
    /// base case.
    pub fn evaluate(&self, data: &str, scenario: Option<&str>) -> Result<Report, EvalError> {
        if data.len() > self.limits.max_data_bytes {
            return Err(DataError::TooLarge { size: data.len(), limit: self.limits.max_data_bytes }.into());
        }
        let binder = data::Binder { max_list_len: self.limits.max_list_len };
        let json = binder.parse(data)?;
        self.evaluate_json(&json, scenario)
    }

    /// Evaluates against already-parsed JSON. Numbers must have been parsed with serde_json's
    /// `arbitrary_precision`, as this crate enables, so that no decimal passes through f64.
    pub fn evaluate_json(&self, json: &serde_json::Value, scenario: Option<&str>) -> Result<Report, EvalError> {
        let input = self.bind(json)?;
        self.evaluate_bound(input, scenario)
    }

    /// Binds data to the schema and runs the program's checks on it.
    pub fn bind(&self, json: &serde_json::Value) -> Result<Value, EvalError> {
        let binder = data::Binder { max_list_len: self.limits.max_list_len };
        let input = binder.bind(json, &self.ir.input)?;
        self.run_checks(&input)?;
        Ok(input)
    }

    /// Evaluates bound data under a scenario or the base case.
    pub fn evaluate_bound(&self, input: Value, scenario: Option<&str>) -> Result<Report, EvalError> {
        let scenario_def = match scenario {
            None => None,
            Some(name) => Some(self.ir.scenarios.iter().find(|s| &*s.name == name).ok_or_else(|| {
                let help = resolve::suggestion(name, self.scenario_names(), "scenario");
                let known = self.scenario_names().collect::<Vec<_>>().join(", ");
                EvalError::UnknownScenario {
                    name: name.to_string(),
                    help: if known.is_empty() {
                        "the program declares no scenarios".into()
                    } else if help.starts_with("did you mean") {
                        format!("{help} (the scenarios are {known})")
                    } else {
                        format!("the scenarios are {known}")
                    },
                }
            })?),
        };
        let input = match scenario_def {
            Some(s) => self.apply_scenario(input, s),
            None => input,
        };
        let outcome = self.evaluator(input).run_all();
        Ok(report::build(&self.ir, &self.sources, &outcome, scenario_def))
    }

    /// Runs the tests written in the program (`test "…" { … }`); data paths are relative to
    /// `base_dir`.
    pub fn run_tests(&self, base_dir: &Path) -> Vec<TestOutcome> {
        let mut results = Vec::new();
        for t in &self.ir.tests {
            let (line, _) = self.sources.line_column(t.span);
            let mut outcome = TestOutcome { title: t.title.clone(), line, failures: Vec::new() };
            let data = match &t.data {
                Some(p) => match std::fs::read_to_string(base_dir.join(p)) {
                    Ok(d) => d,
                    Err(e) => {
                        outcome.failures.push(format!("cannot read `{p}`: {}", e.to_string().to_lowercase()));
                        results.push(outcome);
                        continue;
                    }
                },
                None => {
                    outcome.failures.push("the test names no `data` file".into());
                    results.push(outcome);
                    continue;
                }
            };
            let binder = data::Binder { max_list_len: self.limits.max_list_len };
            let input = match binder.parse(&data).map_err(EvalError::from).and_then(|j| self.bind(&j)) {
                Ok(i) => i,
                Err(e) => {
                    outcome.failures.push(e.to_string());
                    results.push(outcome);
                    continue;
                }
            };
            let input = match t.scenario.and_then(|i| self.ir.scenarios.get(i as usize)) {
                Some(s) => self.apply_scenario(input, s),
                None => input,
            };
            let mut ev = self.evaluator(input);
            ev.run_globals();
            for e in &t.expects {
                let text = self.sources.text(self.ir.arena.span(e.expr)).to_string();
                match ev.eval_body(*e) {
                    Ok(Value::Bool(true)) => {}
                    Ok(_) => outcome.failures.push(format!("expected `{text}`")),
                    Err(_) => outcome.failures.push(format!("`{text}` could not be evaluated (a value it reads failed)")),
                }
            }
            results.push(outcome);
        }
        results
    }

    fn evaluator(&self, input: Value) -> Evaluator<'_> {
        let as_of = match &input {
            Value::Record(f) => match f.get(self.ir.as_of_field as usize) {
                Some(Value::Date(d)) => *d,
                _ => epoch(),
            },
            _ => epoch(),
        };
        Evaluator::new(&self.ir, input, as_of)
    }

    fn run_checks(&self, input: &Value) -> Result<(), DataError> {
        if self.ir.checks.is_empty() {
            return Ok(());
        }
        let mut ev = self.evaluator(input.clone());
        ev.run_globals();
        for c in &self.ir.checks {
            let ok = matches!(ev.eval_body(c.cond), Ok(Value::Bool(true)));
            if !ok {
                let (line, _) = self.sources.line_column(c.span);
                return Err(DataError::Check { message: c.message.clone(), line });
            }
        }
        Ok(())
    }

    fn apply_scenario(&self, input: Value, s: &ir::ScenarioDef) -> Value {
        let mut shocked = input;
        for shock in &s.shocks {
            // Shock values are read against the data as shocked so far.
            let mut ev = self.evaluator(shocked.clone());
            let Ok(v) = ev.eval_body(shock.value) else { continue };
            shocked = apply_shock(&shocked, &shock.path, shock.op, &v);
        }
        shocked
    }
}

/// Binding guarantees `as_of`; this stands in only for a value that cannot occur.
fn epoch() -> dates::Date {
    dates::Date::EPOCH
}

fn apply_shock(v: &Value, path: &[PathStep], op: ShockOp, by: &Value) -> Value {
    match (path.split_first(), v) {
        (None, old) => shocked_leaf(old, op, by),
        (Some((PathStep::Field(i), rest)), Value::Record(fields)) => {
            let mut copy = fields.to_vec();
            if let Some(slot) = copy.get_mut(*i as usize) {
                *slot = apply_shock(slot, rest, op, by);
            }
            Value::Record(copy.into())
        }
        (Some((PathStep::All, rest)), Value::List(items)) => Value::List(items.iter().map(|x| apply_shock(x, rest, op, by)).collect()),
        // An absent optional stays absent unless the shock sets it.
        (Some(_), other) => other.clone(),
    }
}

fn shocked_leaf(old: &Value, op: ShockOp, by: &Value) -> Value {
    match (op, old, by) {
        (ShockOp::Set, _, new) => new.clone(),
        (ShockOp::Mul, Value::Num(a), Value::Num(b)) => a.checked_mul(*b).map_or(old.clone(), Value::Num),
        (ShockOp::Add, Value::Num(a), Value::Num(b)) => a.checked_add(*b).map_or(old.clone(), Value::Num),
        (ShockOp::Sub, Value::Num(a), Value::Num(b)) => a.checked_sub(*b).map_or(old.clone(), Value::Num),
        (ShockOp::Add | ShockOp::Sub, Value::Date(d), Value::Duration(dur)) => {
            let sign = if op == ShockOp::Sub { -1 } else { 1 };
            let moved = match dur.unit {
                syntax::ast::DurationUnit::Months => d.add_months(dur.count.saturating_mul(sign)),
                _ => d.add_days(dur.count.saturating_mul(sign)),
            };
            moved.map_or(old.clone(), Value::Date)
        }
        _ => old.clone(),
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
