//! Analysis over a compiled program: how far an input can move before a rule flips
//! (`breakeven`), a grid of statuses over one or two inputs (`sweep`), the facility along a
//! path through time (`project`). Each compiles nothing: it changes bound data and evaluates
//! the one [`Program`] again, so a thousand points cost a thousand evaluations and no parse.

pub mod breakeven;
mod html;
pub mod project;
pub mod simulate;
pub mod stress;
pub mod sweep;


use std::sync::Arc;

use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde_json::Value as Json;

use crate::types::{Ccy, RecordType, Type};
use crate::value::Value;
use crate::{EvalError, Evaluation, Program, Report};

/// Why an analysis could not be run.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Eval(#[from] EvalError),
}

pub(crate) fn usage(message: impl Into<String>) -> AnalysisError {
    AnalysisError::Usage(message.into())
}

impl Program {
    /// Evaluates data changed after binding (by an analysis, say): the program's `check`s run
    /// on it again first, as binding would have run them, so a point the checks refuse is an
    /// error rather than an evaluation of data the program never accepts.
    pub fn run_changed(&self, input: Value, scenario: Option<&str>) -> Result<Evaluation<'_>, EvalError> {
        crate::engine::checks::run(self, &input, &mut self.limits.budget())?;
        self.run_bound(input, scenario)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Field(usize),
    All,
}

/// A numeric input path (`input.btc.price`, `gpus[*].rent_per_hour`), resolved against the
/// program's input schema. A path through a list (`[*]`) names every element.
#[derive(Clone, Debug, PartialEq)]
pub struct InputPath {
    pub text: String,
    steps: Vec<Step>,
    /// The leaf's type: Number or Money.
    pub ty: Type,
}

impl InputPath {
    pub fn parse(program: &Program, text: &str) -> Result<InputPath, AnalysisError> {
        Self::parse_any(program, text).and_then(|p| {
            if p.ty.is_numeric() {
                Ok(p)
            } else {
                Err(usage(format!("`{text}` is not a number or an amount of money: only numeric inputs can be moved")))
            }
        })
    }

    /// Any input path, whatever its leaf type.
    pub fn parse_any(program: &Program, text: &str) -> Result<InputPath, AnalysisError> {
        let trimmed = text.trim();
        let body = trimmed.strip_prefix("input.").unwrap_or(trimmed);
        let mut record: Arc<RecordType> = Arc::clone(&program.ir().input);
        let mut steps = Vec::new();
        let mut ty = Type::Record(Arc::clone(&record));
        let mut parts = body.split('.').peekable();
        while let Some(part) = parts.next() {
            let (name, all) = match part.strip_suffix("[*]") {
                Some(n) => (n, true),
                None => (part, false),
            };
            let Some((i, field_ty)) = record.field(name) else {
                let names = record.fields.iter().map(|(n, _)| &**n);
                let help = crate::resolve::suggestion(name, names, "field");
                return Err(usage(format!("`{trimmed}`: the input has no field `{name}` here; {help}")));
            };
            steps.push(Step::Field(i));
            ty = field_ty.clone();
            if all {
                match ty {
                    Type::List(inner) => {
                        steps.push(Step::All);
                        ty = (*inner).clone();
                    }
                    _ => return Err(usage(format!("`{trimmed}`: `{name}` is not a list, so `[*]` does not apply"))),
                }
            } else if matches!(ty, Type::List(_)) && parts.peek().is_some() {
                return Err(usage(format!("`{trimmed}`: `{name}` is a list: write `{name}[*]` to move every element")));
            }
            if parts.peek().is_some() {
                match &ty {
                    Type::Record(r) => record = Arc::clone(r),
                    _ => return Err(usage(format!("`{trimmed}`: `{name}` has no fields"))),
                }
            }
        }
        if let Type::Optional(inner) = ty {
            ty = (*inner).clone();
        }
        Ok(InputPath { text: format!("input.{body}"), steps, ty })
    }

    /// The path as the IR writes a shock's path, for [`Evaluation::rerun_with`].
    pub fn ir_path(&self) -> Vec<crate::ir::PathStep> {
        let step = |s: &Step| match s {
            Step::Field(i) => crate::ir::PathStep::Field(u32::try_from(*i).unwrap_or(u32::MAX)),
            Step::All => crate::ir::PathStep::All,
        };
        self.steps.iter().map(step).collect()
    }

    /// Whether the path runs through a list, so it names every element.
    pub fn spreads(&self) -> bool {
        self.steps.contains(&Step::All)
    }

    pub fn currency(&self) -> Option<&str> {
        match &self.ty {
            Type::Money(Ccy::Code(c)) => Some(c),
            _ => None,
        }
    }

    /// The values at the path (one, or one per element), absent optionals left out.
    pub fn read(&self, input: &Value) -> Vec<Value> {
        let mut out = Vec::new();
        collect(input, &self.steps, &mut out);
        out
    }

    /// The data with every value at the path replaced by `f` of it.
    pub fn map(&self, input: &Value, f: &mut dyn FnMut(&Value) -> Option<Value>) -> Result<Value, AnalysisError> {
        rebuild(input, &self.steps, f).ok_or_else(|| usage(format!("`{}` cannot take that value (out of the decimal range)", self.text)))
    }

    /// The data with the path set to `to` (every element, through a list).
    pub fn set(&self, input: &Value, to: Decimal) -> Result<Value, AnalysisError> {
        self.map(input, &mut |_| Some(Value::Num(to)))
    }

    /// The data with every value at the path multiplied by `factor`.
    pub fn scale(&self, input: &Value, factor: Decimal) -> Result<Value, AnalysisError> {
        self.map(input, &mut |v| match v {
            Value::Num(d) => d.checked_mul(factor).map(Value::Num),
            other => Some(other.clone()),
        })
    }

    /// A figure of this path's type as the report writes it: money as an amount and currency.
    pub fn json(&self, d: Decimal) -> Json {
        number_json(d, self.currency())
    }

    /// A figure of this path's type as the table shows it.
    pub fn text(&self, d: Decimal) -> String {
        match self.currency() {
            Some(c) => format!("{} {c}", crate::report::table::grouped(d, 2)),
            None => crate::report::table::grouped(d, 9),
        }
    }
}

pub(crate) fn number_json(d: Decimal, currency: Option<&str>) -> Json {
    let amount = crate::report::number(d);
    match currency {
        Some(c) => serde_json::json!({ "amount": amount, "currency": c }),
        None => Json::String(amount),
    }
}

fn collect(v: &Value, steps: &[Step], out: &mut Vec<Value>) {
    match (steps.split_first(), v) {
        (None, Value::Null) => {}
        (None, leaf) => out.push(leaf.clone()),
        (Some((Step::Field(i), rest)), Value::Record(fields)) => {
            if let Some(f) = fields.get(*i) {
                collect(f, rest, out);
            }
        }
        (Some((Step::All, rest)), Value::List(items)) => items.iter().for_each(|x| collect(x, rest, out)),
        _ => {}
    }
}

fn rebuild(v: &Value, steps: &[Step], f: &mut dyn FnMut(&Value) -> Option<Value>) -> Option<Value> {
    Some(match (steps.split_first(), v) {
        (None, leaf) => f(leaf)?,
        (Some((Step::Field(i), rest)), Value::Record(fields)) => {
            let Some(field) = fields.get(*i) else { return Some(v.clone()) };
            let field = rebuild(field, rest, f)?;
            // Straight into the shared slice: one allocation, not a vector and then a copy.
            Value::Record(fields.iter().enumerate().map(|(j, old)| if j == *i { field.clone() } else { old.clone() }).collect())
        }
        (Some((Step::All, rest)), Value::List(items)) => Value::List(items.iter().map(|x| rebuild(x, rest, f)).collect::<Option<_>>()?),
        (Some(_), other) => other.clone(),
    })
}

/// Every rule's status in a report, in report order: covenants (`pass`, `breach`,
/// `not_tested`, `error`), margin calls (`none`, `below_minimum`, `called`, `error`),
/// liquidations (`triggered`, `clear`, `error`) and defaults (`triggered`, `clear`, `error`).
pub fn statuses(r: &Report) -> IndexMap<String, &'static str> {
    let mut out = IndexMap::new();
    for (n, c) in &r.covenants {
        out.insert(n.clone(), c.status);
    }
    for (n, m) in &r.margin_calls {
        out.insert(n.clone(), m.status);
    }
    for (n, l) in &r.liquidations {
        let status = match (l.status, l.triggered) {
            (Some(s), _) => s,
            (None, Some(true)) => "triggered",
            (None, Some(false)) => "clear",
            (None, None) => "error",
        };
        out.insert(n.clone(), status);
    }
    for (n, d) in &r.defaults {
        out.insert(n.clone(), d.status);
    }
    out
}

/// A figure of a report by name: a value (`ltv`), or a rule's or pool's field
/// (`ltv_call.amount`, `btc.eligible_value`); money as the report writes it.
pub fn figure(r: &Report, name: &str) -> Option<Json> {
    if let Some(v) = r.values.get(name) {
        return Some(v.clone());
    }
    let (rule, field) = name.split_once('.')?;
    let whole = if let Some(p) = r.collateral.get(rule) {
        serde_json::to_value(p)
    } else if let Some(c) = r.covenants.get(rule) {
        serde_json::to_value(c)
    } else if let Some(m) = r.margin_calls.get(rule) {
        serde_json::to_value(m)
    } else if let Some(l) = r.liquidations.get(rule) {
        serde_json::to_value(l)
    } else if let Some(d) = r.defaults.get(rule) {
        serde_json::to_value(d)
    } else {
        return None;
    };
    whole.ok()?.get(field).cloned()
}

/// Every name [`figure`] reads in a report, for suggestions.
pub fn figure_names(r: &Report) -> Vec<String> {
    let mut names: Vec<String> = r.values.keys().cloned().collect();
    let fields = |prefix: &str, j: serde_json::Result<Json>| -> Vec<String> {
        match j {
            Ok(Json::Object(m)) => m.keys().map(|k| format!("{prefix}.{k}")).collect(),
            _ => Vec::new(),
        }
    };
    for (n, p) in &r.collateral {
        names.extend(fields(n, serde_json::to_value(p)));
    }
    for (n, c) in &r.covenants {
        names.extend(fields(n, serde_json::to_value(c)));
    }
    for (n, m) in &r.margin_calls {
        names.extend(fields(n, serde_json::to_value(m)));
    }
    for (n, l) in &r.liquidations {
        names.extend(fields(n, serde_json::to_value(l)));
    }
    names
}

/// Checks that every `--show` name is a figure of the report, suggesting the closest.
pub fn check_figures(r: &Report, names: &[String]) -> Result<(), AnalysisError> {
    for n in names {
        if figure(r, n).is_none() {
            let all = figure_names(r);
            let help = crate::resolve::suggestion(n, all.iter().map(String::as_str), "figure");
            return Err(usage(format!("no figure `{n}` in the report; {help}")));
        }
    }
    Ok(())
}

/// A figure as one short cell: money and numbers without their JSON wrapping.
pub fn figure_cell(j: &Json) -> String {
    match j {
        Json::Object(m) => match (m.get("amount"), m.get("currency")) {
            (Some(Json::String(a)), Some(Json::String(c))) => format!("{a} {c}"),
            _ => j.to_string(),
        },
        Json::String(s) => s.clone(),
        Json::Null => "—".into(),
        other => other.to_string(),
    }
}

/// `FROM..TO`, each a decimal (underscores allowed).
pub fn parse_range(text: &str) -> Result<(Decimal, Decimal), AnalysisError> {
    let bad = || usage(format!("`{text}` is not a range: write FROM..TO, such as 0..100000"));
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    Ok((parse_decimal(a).ok_or_else(bad)?, parse_decimal(b).ok_or_else(bad)?))
}

pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let t = text.trim().replace('_', "");
    match t.strip_suffix('%') {
        Some(p) => Decimal::from_str_exact(p).ok()?.checked_div(Decimal::ONE_HUNDRED),
        None => Decimal::from_str_exact(&t).ok(),
    }
}

/// Columns padded to their widest cell, two spaces apart.
pub(crate) fn aligned(header: &[String], rows: &[Vec<String>]) -> String {
    let columns = header.len().max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let widths: Vec<usize> = (0..columns).map(|i| std::iter::once(header).chain(rows.iter().map(Vec::as_slice)).map(|r| r.get(i).map_or(0, |c| c.chars().count())).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
pub(crate) fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A figure as the table shows it: money with separators and its currency, numbers to at
/// most four decimals.
pub fn table_cell(j: &Json) -> String {
    use crate::report::table;
    match j {
        Json::Object(m) => match (m.get("amount").and_then(Json::as_str).and_then(parse_decimal), m.get("currency").and_then(Json::as_str)) {
            (Some(a), Some(c)) => format!("{} {c}", table::fixed(a, 2)),
            _ => figure_cell(j),
        },
        Json::String(s) => parse_decimal(s).map_or_else(|| s.clone(), |d| table::grouped(d, 4)),
        other => figure_cell(other),
    }
}
