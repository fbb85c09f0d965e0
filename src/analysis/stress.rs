//! Stress: a whole book of facilities under many scenarios.
//!
//! The facilities are JSON Lines, read in chunks and evaluated in parallel; the scenarios are
//! the program's own (`scenario NAME { … }`) or rows of a CSV ([`parse_scenarios`]). Each
//! facility's base case is evaluated once, then each scenario from it. What is kept is bounded
//! whatever the size of the book: counts of statuses per scenario and rule, exact sums of
//! margin-call amounts and forced-sale shortfalls, the shortfalls by order of magnitude, the
//! `top` worst facilities of each scenario, and how many facilities each scenario is the worst
//! for. One row per facility and scenario can be streamed to a [`RowSink`] (JSON Lines, CSV or
//! Parquet), in input order, never held whole.
//!
//! ```
//! use covenant::analysis::stress;
//!
//! let program = covenant::Program::compile("p.cov", r#"
//!     input { as_of: Date  debt: Money(USD)  pledged: Money(USD) }
//!     let ltv = input.debt / input.pledged
//!     covenant max_ltv { require ltv <= 80% }
//! "#).unwrap();
//! let csv = "scenario,input.pledged *=\nmild,90%\nsevere,60%\n";
//! let scenarios = stress::parse_scenarios(&program, csv).unwrap();
//! let book = "{\"as_of\": \"2026-03-31\", \"debt\": \"70\", \"pledged\": \"100\"}\nnot json\n{\"as_of\": \"2026-03-31\", \"debt\": \"40\", \"pledged\": \"100\"}\n";
//! let result = stress::run(&program, &scenarios, book.as_bytes(), None, &Default::default()).unwrap();
//! assert_eq!((result.facilities, result.bad_lines), (2, 1));
//! let severe = &result.scenarios[1];
//! assert_eq!(severe.rules["max_ltv"]["breach"], 1); // 70 / 60
//! assert_eq!(severe.rules["max_ltv"]["pass"], 1); // 40 / 60
//! ```

use std::collections::BTreeMap;
use std::io::{self, BufRead};

use indexmap::IndexMap;
use rayon::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value as Json;

use super::{number_json, usage, AnalysisError, InputPath};
use crate::batch::Line;
use crate::dates::Date;
use crate::ir::{self, Ir};
use crate::types::{Ccy, Type};
use crate::value::Value;
use crate::{DataError, EvalError, Evaluation, Program};

/// Worst facilities kept per scenario, by default.
pub const DEFAULT_TOP: usize = 10;
/// Lines evaluated in parallel at a time, by default.
pub const DEFAULT_CHUNK_LINES: usize = 1024;
/// Scenarios of one run at most: each adds a column of counts and a row per facility.
pub const MAX_SCENARIOS: usize = 10_000;
/// Distinct error reasons counted per scenario; beyond, they are counted as `other`.
const MAX_REASONS: usize = 20;
/// Bad lines named (by number) in the summary; beyond, they are only counted.
const MAX_BAD_LINES_NAMED: usize = 10;

/// How a data scenario changes an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShockOp {
    /// `=`: the cell's value.
    Set,
    /// `*=`: the data's value times the cell's.
    Scale,
    /// `+=`
    Add,
    /// `-=`
    Sub,
}

impl ShockOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ShockOp::Set => "=",
            ShockOp::Scale => "*=",
            ShockOp::Add => "+=",
            ShockOp::Sub => "-=",
        }
    }
}

/// One change a data scenario makes: every value at `path` moved by `op` and `value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Shock {
    pub path: InputPath,
    pub op: ShockOp,
    /// A number (amounts of money too) or, for `=` on a date, a date.
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ScenarioKind {
    /// The program's own scenario of this name.
    Script,
    /// A row of the scenarios CSV: its shocks, in column order.
    Data(Vec<Shock>),
}

/// A scenario every facility is evaluated under.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub kind: ScenarioKind,
    /// The CSV line of a data scenario (0 for the program's own): what a shock that cannot be
    /// applied names.
    pub line: usize,
}

impl Scenario {
    /// The program's scenario `name`; an unknown name suggests the closest.
    pub fn script(program: &Program, name: &str) -> Result<Scenario, AnalysisError> {
        crate::engine::find_scenario(program, Some(name))?;
        Ok(Scenario { name: name.to_string(), kind: ScenarioKind::Script, line: 0 })
    }

    /// Every scenario the program declares, in declaration order.
    pub fn all_scripts(program: &Program) -> Vec<Scenario> {
        program.scenario_names().map(|n| Scenario { name: n.to_string(), kind: ScenarioKind::Script, line: 0 }).collect()
    }

    /// The input paths the scenario changes, one per shock in order: what an incremental
    /// evaluation needs to know to re-evaluate only what reads them.
    pub fn changed_paths(&self, program: &Program) -> Vec<Vec<ir::PathStep>> {
        match &self.kind {
            ScenarioKind::Data(shocks) => shocks.iter().map(|s| s.path.ir_path()).collect(),
            ScenarioKind::Script => {
                let def = program.ir().scenarios.iter().find(|s| *s.name == *self.name);
                let copy = |p: &ir::PathStep| match p {
                    ir::PathStep::Field(i) => ir::PathStep::Field(*i),
                    ir::PathStep::All => ir::PathStep::All,
                };
                def.map(|d| d.shocks.iter().map(|s| s.path.iter().map(copy).collect()).collect()).unwrap_or_default()
            }
        }
    }

    /// The data with a data scenario's shocks applied, in order; unchanged for a script
    /// scenario (whose shocks the evaluation applies).
    pub fn apply(&self, input: &Value) -> Result<Value, EvalError> {
        let ScenarioKind::Data(shocks) = &self.kind else { return Ok(input.clone()) };
        let mut shocked = input.clone();
        for shock in shocks {
            shocked = shock.path.map(&shocked, &mut |old| shocked_leaf(old, shock.op, &shock.value)).map_err(|_| EvalError::Shock {
                scenario: self.name.clone(),
                line: self.line,
                message: format!("`{} {}` takes the value out of the decimal range", shock.path.text, shock.op.as_str()),
            })?;
        }
        Ok(shocked)
    }
}

fn shocked_leaf(old: &Value, op: ShockOp, by: &Value) -> Option<Value> {
    Some(match (op, old, by) {
        (ShockOp::Set, _, new) => new.clone(),
        (ShockOp::Scale, Value::Num(a), Value::Num(b)) => Value::Num(a.checked_mul(*b)?),
        (ShockOp::Add, Value::Num(a), Value::Num(b)) => Value::Num(a.checked_add(*b)?),
        (ShockOp::Sub, Value::Num(a), Value::Num(b)) => Value::Num(a.checked_sub(*b)?),
        // An absent optional, scaled or moved, stays absent.
        (_, other, _) => other.clone(),
    })
}

/// One facility under one scenario, evaluated from the facility's base case: a script
/// scenario applies its shocks to the base data, a data scenario its cells. The shocked data
/// must pass the program's `check`s, as a script scenario's must. Only the figures that read
/// a shocked input, directly or not, are evaluated again; every other figure is the base
/// case's (the result is [`evaluate_scenario_from_scratch`]'s, to the byte).
pub fn evaluate_scenario<'p>(program: &'p Program, base: &Evaluation<'p>, scenario: &Scenario) -> Result<Evaluation<'p>, EvalError> {
    evaluate_scenario_changed(program, base, scenario, &program.changes(&scenario.changed_paths(program)))
}

/// [`evaluate_scenario`] with the scenario's [`Changes`](crate::Changes) worked out once, for
/// a scenario applied to many facilities.
pub fn evaluate_scenario_changed<'p>(program: &'p Program, base: &Evaluation<'p>, scenario: &Scenario, changes: &crate::Changes) -> Result<Evaluation<'p>, EvalError> {
    match &scenario.kind {
        ScenarioKind::Script => program.run_scenario_incremental(base, &scenario.name),
        ScenarioKind::Data(_) => {
            let shocked = scenario.apply(&base.input)?;
            base.rerun_changed(shocked, changes).map_err(|e| as_scenario_check(e, scenario))
        }
    }
}

/// [`evaluate_scenario`] evaluating every figure again: the reference it is tested against.
pub fn evaluate_scenario_from_scratch<'p>(program: &'p Program, base: &Evaluation<'p>, scenario: &Scenario) -> Result<Evaluation<'p>, EvalError> {
    match &scenario.kind {
        ScenarioKind::Script => program.run_bound(base.input.clone(), Some(&scenario.name)),
        ScenarioKind::Data(_) => {
            let shocked = scenario.apply(&base.input)?;
            program.run_changed(shocked, None).map_err(|e| as_scenario_check(e, scenario))
        }
    }
}

fn as_scenario_check(e: EvalError, scenario: &Scenario) -> EvalError {
    match e {
        EvalError::Data(DataError::Check { message, line }) => EvalError::ScenarioCheck { scenario: scenario.name.clone(), line, message },
        other => other,
    }
}

// ------------------------------------------------------------------ the scenarios CSV

/// Splits one CSV line into fields: commas separate, a field in double quotes may hold
/// commas and doubled quotes. Returns each field with the column it starts at.
fn csv_fields(line: &str, number: usize) -> Result<Vec<String>, AnalysisError> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err(usage(format!("line {number}, column {}: a quoted field is not closed", fields.len() + 1))),
                }
            }
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.peek() {
                None | Some(',') => {}
                Some(_) => return Err(usage(format!("line {number}, column {}: text after a quoted field's closing quote", fields.len() + 1))),
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field.trim().to_string());
        match chars.next() {
            Some(',') => continue,
            _ => break,
        }
    }
    Ok(fields)
}

/// A shock column's header: `PATH OP`.
struct Column {
    path: InputPath,
    op: ShockOp,
    header: String,
}

fn parse_header(program: &Program, header: &str, line: usize, column: usize) -> Result<Column, AnalysisError> {
    let at = |message: String| usage(format!("line {line}, column {column}: {message}"));
    let text = header.trim();
    let (path, op) = [("*=", ShockOp::Scale), ("+=", ShockOp::Add), ("-=", ShockOp::Sub), ("=", ShockOp::Set)]
        .into_iter()
        .find_map(|(suffix, op)| text.strip_suffix(suffix).map(|p| (p.trim_end(), op)))
        .ok_or_else(|| at(format!("`{text}` has no operator: head a shock column `PATH OP`, OP one of `=`, `*=`, `+=`, `-=` (such as `input.btc.price *=`)")))?;
    if path.is_empty() {
        return Err(at(format!("`{text}` names no input: head a shock column `PATH OP` (such as `input.btc.price *=`)")));
    }
    let parsed = InputPath::parse_any(program, path).map_err(|e| at(e.to_string()))?;
    match (&parsed.ty, op) {
        (Type::Number | Type::Money(_), _) | (Type::Date, ShockOp::Set) => {}
        (Type::Date, _) => return Err(at(format!("`{}` is a date: a date can only be set (`=`)", parsed.text))),
        (other, _) => return Err(at(format!("`{}` is of type {other}: only numbers, amounts of money and dates can be shocked", parsed.text))),
    }
    Ok(Column { path: parsed, op, header: text.to_string() })
}

fn parse_cell(column: &Column, cell: &str) -> Result<Value, String> {
    let path = &column.path.text;
    if column.path.ty == Type::Date {
        return Date::parse(cell).map(Value::Date).ok_or_else(|| format!("`{cell}` is not a date for `{path}` (write YYYY-MM-DD)"));
    }
    let mut number = cell;
    if let Some(currency) = column.path.currency() {
        if let Some((amount, code)) = cell.rsplit_once(' ') {
            if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
                if code != currency {
                    return Err(format!("`{cell}` is in {code}, but `{path}` is in {currency}"));
                }
                if column.op == ShockOp::Scale {
                    return Err(format!("`{cell}` is an amount, but `{path} *=` takes a factor (such as `70%` or `0.7`)"));
                }
                number = amount.trim();
            }
        }
    }
    let percent = number.ends_with('%');
    if percent && column.op != ShockOp::Scale && column.path.currency().is_some() {
        return Err(format!("`{cell}` is a percent, but `{path} {}` takes an amount of money", column.op.as_str()));
    }
    super::parse_decimal(number).map(Value::Num).ok_or_else(|| format!("`{cell}` is not a number for `{path}`"))
}

/// Reads the scenarios CSV: a `scenario` column naming each row and one column per shock,
/// headed `PATH OP` with OP one of `=`, `*=`, `+=`, `-=` (`input.btc.price *=`,
/// `input.gpus[*].rent_per_hour *=`). A cell is a number (`70%` is 0.7; amounts may carry
/// the input's currency, `60000 USD`) or, for `=` on a date, a date; an empty cell leaves the
/// input alone in that scenario. Blank lines and lines starting with `#` are skipped. Every
/// mistake is a usage error naming its line and column.
pub fn parse_scenarios(program: &Program, text: &str) -> Result<Vec<Scenario>, AnalysisError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((header_line, header)) = lines.next() else {
        return Err(usage("the scenarios file is empty: give a header line with a `scenario` column and one column per shock (such as `input.btc.price *=`)"));
    };
    let headers = csv_fields(header.trim_start_matches('\u{feff}'), header_line)?;
    let name_column = headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case("scenario"))
        .ok_or_else(|| usage(format!("line {header_line}: the header has no `scenario` column (the name of each row's scenario)")))?;
    let mut columns: Vec<Option<Column>> = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        columns.push(if i == name_column { None } else { Some(parse_header(program, h, header_line, i + 1)?) });
    }
    if columns.iter().all(Option::is_none) {
        return Err(usage(format!("line {header_line}: the header has no shock column (such as `input.btc.price *=`)")));
    }
    let mut scenarios: Vec<Scenario> = Vec::new();
    let mut seen: IndexMap<String, usize> = IndexMap::new();
    for (number, line) in lines {
        if scenarios.len() >= MAX_SCENARIOS {
            return Err(usage(format!("line {number}: more than {MAX_SCENARIOS} scenarios")));
        }
        let cells = csv_fields(line, number)?;
        if cells.len() != headers.len() {
            return Err(usage(format!("line {number}: {} cells where the header has {}", cells.len(), headers.len())));
        }
        let name = cells.get(name_column).cloned().unwrap_or_default();
        if name.is_empty() {
            return Err(usage(format!("line {number}, column {}: the scenario has no name", name_column + 1)));
        }
        if let Some(first) = seen.get(&name) {
            return Err(usage(format!("line {number}, column {}: scenario `{name}` is named twice (first at line {first})", name_column + 1)));
        }
        seen.insert(name.clone(), number);
        let mut shocks = Vec::new();
        for (i, (cell, column)) in cells.iter().zip(&columns).enumerate() {
            let Some(column) = column else { continue };
            if cell.is_empty() {
                continue;
            }
            let value = parse_cell(column, cell).map_err(|m| usage(format!("line {number}, column {} (`{}`): {m}", i + 1, column.header)))?;
            shocks.push(Shock { path: column.path.clone(), op: column.op, value });
        }
        scenarios.push(Scenario { name, kind: ScenarioKind::Data(shocks), line: number });
    }
    if scenarios.is_empty() {
        return Err(usage("the scenarios file has a header but no scenario rows"));
    }
    Ok(scenarios)
}

// ------------------------------------------------------------------ one facility

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RuleKind {
    Covenant,
    MarginCall,
    Liquidation,
    Default,
}

/// A rule whose status is counted, in report order: covenants, margin calls, liquidations,
/// defaults.
#[derive(Clone, Debug)]
struct Rule {
    name: String,
    kind: RuleKind,
    index: usize,
}

impl RuleKind {
    /// Every status of the kind, in the order the counts are shown.
    fn statuses(self) -> &'static [&'static str] {
        match self {
            RuleKind::Covenant => &["pass", "breach", "not_tested", "error"],
            RuleKind::MarginCall => &["none", "below_minimum", "called", "error"],
            RuleKind::Liquidation | RuleKind::Default => &["clear", "triggered", "error"],
        }
    }

    /// The status the table counts: what a lender acts on.
    fn adverse(self) -> &'static str {
        match self {
            RuleKind::Covenant => "breach",
            RuleKind::MarginCall => "called",
            RuleKind::Liquidation | RuleKind::Default => "triggered",
        }
    }
}

fn rules_of(ir: &Ir) -> Vec<Rule> {
    let mut rules = Vec::new();
    let named = |name: &str, kind, index| Rule { name: name.to_string(), kind, index };
    rules.extend(ir.covenants.iter().enumerate().map(|(i, d)| named(&d.name, RuleKind::Covenant, i)));
    rules.extend(ir.margin_calls.iter().enumerate().map(|(i, d)| named(&d.name, RuleKind::MarginCall, i)));
    rules.extend(ir.liquidations.iter().enumerate().map(|(i, d)| named(&d.name, RuleKind::Liquidation, i)));
    rules.extend(ir.defaults.iter().enumerate().map(|(i, d)| named(&d.name, RuleKind::Default, i)));
    rules
}

fn status_of(ev: &Evaluation<'_>, rule: &Rule) -> &'static str {
    let out = &ev.outcome;
    match rule.kind {
        RuleKind::Covenant => match out.covenants.get(rule.index) {
            Some(Some(c)) => c.status.as_str(),
            _ => "error",
        },
        RuleKind::MarginCall => match out.margin_calls.get(rule.index) {
            Some(Some(Ok(m))) => m.status.as_str(),
            _ => "error",
        },
        RuleKind::Liquidation => match out.liquidations.get(rule.index) {
            Some(Some(Ok(l))) if l.triggered => "triggered",
            Some(Some(Ok(_))) => "clear",
            _ => "error",
        },
        RuleKind::Default => match out.defaults.get(rule.index) {
            Some(Some(d)) => d.status.as_str(),
            _ => "error",
        },
    }
}

/// How bad one facility's scenario is, compared in order: the forced-sale shortfall, the
/// number of rules in their adverse status, the margin calls' amounts. The count comes
/// before the amounts because a margin call may as well return collateral as call it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Severity {
    shortfall: Decimal,
    adverse: usize,
    called: Decimal,
}

/// What one evaluation gave: the figures kept for the aggregates and the row.
#[derive(Clone, Debug)]
struct Cell {
    statuses: Vec<&'static str>,
    /// Per margin call (in program order): the amount when called.
    called: Vec<Option<Decimal>>,
    /// Summed over the triggered liquidations.
    shortfall: Decimal,
    severity: Severity,
    figures: Vec<Json>,
    /// The evaluation's error: its code and message.
    error: Option<(String, String)>,
}

/// One facility line: why it has no evaluations, or one cell per scenario.
struct Facility {
    line: usize,
    result: Result<Vec<Cell>, (String, String)>,
}

struct Book<'a> {
    program: &'a Program,
    scenarios: &'a [Scenario],
    /// Each scenario's changes, worked out once for the whole book.
    changes: Vec<crate::Changes>,
    rules: Vec<Rule>,
    show: &'a [String],
}

fn code_of(e: &EvalError) -> String {
    use miette::Diagnostic;
    e.code().map(|c| c.to_string()).unwrap_or_default()
}

fn failure(e: &EvalError) -> (String, String) {
    (code_of(e), e.to_string())
}

impl Book<'_> {
    fn cell(&self, ev: Result<Evaluation<'_>, EvalError>) -> Cell {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                return Cell { statuses: Vec::new(), called: Vec::new(), shortfall: Decimal::ZERO, severity: Severity::default(), figures: Vec::new(), error: Some(failure(&e)) }
            }
        };
        let statuses: Vec<&'static str> = self.rules.iter().map(|r| status_of(&ev, r)).collect();
        let called: Vec<Option<Decimal>> = ev.outcome.margin_calls.iter().map(|m| match m {
            Some(Ok(m)) if m.status == crate::lending::MarginStatus::Called => Some(m.amount),
            _ => None,
        }).collect();
        let shortfall = ev.outcome.liquidations.iter().filter_map(|l| match l {
            Some(Ok(l)) if l.triggered => Some(l.shortfall),
            _ => None,
        }).fold(Decimal::ZERO, |a, b| a.saturating_add(b));
        let adverse = self.rules.iter().zip(&statuses).filter(|(r, s)| r.kind.adverse() == **s).count();
        let severity = Severity { shortfall, adverse, called: called.iter().flatten().fold(Decimal::ZERO, |a, b| a.saturating_add(*b)) };
        let figures = if self.show.is_empty() {
            Vec::new()
        } else {
            let report = ev.report_unbounded();
            self.show.iter().map(|n| report.as_ref().and_then(|r| show_figure(r, n)).unwrap_or(Json::Null)).collect()
        };
        Cell { statuses, called, shortfall, severity, figures, error: None }
    }

    fn facility(&self, line: usize, text: Line) -> Facility {
        let limits = self.program.limits();
        let text = match text {
            Line::Text(t) => t,
            Line::NotUtf8(at) => {
                return Facility { line, result: Err(("covenant::data::read".into(), format!("the line is not UTF-8 text (an invalid byte at byte {})", at + 1))) }
            }
            Line::TooLarge(size) => return Facility { line, result: Err(failure(&DataError::TooLarge { size, limit: limits.max_data_bytes }.into())) },
        };
        let base = match self.program.bind_text(&text).and_then(|input| self.program.run_bound(input, None)) {
            Ok(b) => b,
            Err(e) => return Facility { line, result: Err(failure(&e)) },
        };
        let cells = self.scenarios.iter().zip(&self.changes).map(|(s, c)| self.cell(evaluate_scenario_changed(self.program, &base, s, c))).collect();
        Facility { line, result: Ok(cells) }
    }
}

/// A `--show` figure in a report: as [`super::figure`] reads it, and a rule named alone by
/// its headline (a pool's eligible value, a liquidation's proceeds, otherwise its status), as
/// `covenant explain` takes it.
fn show_figure(r: &crate::Report, name: &str) -> Option<Json> {
    if let Some(j) = super::figure(r, name) {
        return Some(j);
    }
    if let Some((rule, field)) = name.split_once('.') {
        return match field {
            "triggered" => {
                let m = r.margin_calls.get(rule).map(|m| m.status != "none" && m.status != "error");
                let d = r.defaults.get(rule).map(|d| d.status == "triggered");
                m.or(d).map(Json::Bool)
            }
            "passed" => r.covenants.get(rule).map(|c| Json::Bool(matches!(c.status, "pass" | "not_tested"))),
            "cure_amount" => r.covenants.get(rule).map(|c| serde_json::to_value(c).ok().and_then(|j| j.pointer("/cure/amount").cloned()).unwrap_or(Json::Null)),
            _ => None,
        };
    }
    if let Some(p) = r.collateral.get(name) {
        return serde_json::to_value(p).ok()?.get("eligible_value").cloned();
    }
    if let Some(l) = r.liquidations.get(name) {
        return serde_json::to_value(l).ok()?.get("proceeds").cloned();
    }
    let status = r.covenants.get(name).map(|c| c.status).or_else(|| r.margin_calls.get(name).map(|m| m.status)).or_else(|| r.defaults.get(name).map(|d| d.status))?;
    Some(Json::String(status.to_string()))
}

/// Checks every `--show` name against the figures `covenant explain` takes, suggesting the
/// closest.
pub fn check_show(program: &Program, names: &[String]) -> Result<(), AnalysisError> {
    let known = crate::explain::figure_names(program.ir());
    for n in names {
        if !known.iter().any(|k| k == n) {
            let help = crate::resolve::suggestion(n, known.iter().map(String::as_str), "figure");
            return Err(usage(format!("no figure `{n}` in the report; {help}")));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ the rows

/// The columns of the rows written: the facility's line, the scenario, each rule's status,
/// the forced-sale shortfall, each `--show` figure, whether this is the facility's worst
/// scenario, and the error that stopped the evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Columns {
    pub rules: Vec<String>,
    pub show: Vec<String>,
}

impl Columns {
    /// Every column's name, in order.
    pub fn names(&self) -> Vec<String> {
        let mut names = vec!["line".to_string(), "scenario".to_string()];
        names.extend(self.rules.iter().cloned());
        names.push("shortfall".into());
        names.extend(self.show.iter().cloned());
        names.push("worst".into());
        names.push("error".into());
        names
    }
}

/// One facility under one scenario. A facility line that could not be evaluated at all gives
/// a row per scenario with its error and no statuses.
#[derive(Clone, Debug, PartialEq)]
pub struct Row<'a> {
    pub line: usize,
    pub scenario: &'a str,
    /// One per rule; empty when the evaluation failed.
    pub statuses: &'a [&'static str],
    pub shortfall: Option<Decimal>,
    /// One per `--show` figure (`null` when it failed); empty when the evaluation failed.
    pub figures: &'a [Json],
    pub worst: bool,
    pub error: Option<&'a str>,
}

/// Where rows go, one at a time, in input order.
pub trait RowSink: Send {
    fn row(&mut self, row: &Row<'_>) -> io::Result<()>;
    /// Writes what is still buffered and closes the output.
    fn finish(&mut self) -> io::Result<()>;
}

/// Rows as JSON Lines: `{"line", "scenario", "statuses": {RULE: STATUS}, "shortfall",
/// "figures": {NAME: FIGURE}, "worst", "error"}`.
pub struct JsonLines<W: io::Write> {
    out: W,
    columns: Columns,
}

impl<W: io::Write> JsonLines<W> {
    pub fn new(out: W, columns: Columns) -> Self {
        JsonLines { out, columns }
    }
}

impl<W: io::Write + Send> RowSink for JsonLines<W> {
    fn row(&mut self, row: &Row<'_>) -> io::Result<()> {
        let statuses: serde_json::Map<String, Json> = self.columns.rules.iter().zip(row.statuses).map(|(n, s)| (n.clone(), Json::String((*s).to_string()))).collect();
        let figures: serde_json::Map<String, Json> = self.columns.show.iter().zip(row.figures).map(|(n, f)| (n.clone(), f.clone())).collect();
        let json = serde_json::json!({
            "line": row.line,
            "scenario": row.scenario,
            "statuses": statuses,
            "shortfall": row.shortfall.map(crate::report::number),
            "figures": figures,
            "worst": row.worst,
            "error": row.error,
        });
        serde_json::to_writer(&mut self.out, &json).map_err(io::Error::other)?;
        self.out.write_all(b"\n")
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Rows as CSV, a header line first; figures as short cells (`1200 USD`).
pub struct Csv<W: io::Write> {
    out: W,
    columns: Columns,
    started: bool,
}

impl<W: io::Write> Csv<W> {
    pub fn new(out: W, columns: Columns) -> Self {
        Csv { out, columns, started: false }
    }
}

/// A row's cells as text, in column order (`None` for an empty cell).
fn row_cells(columns: &Columns, row: &Row<'_>) -> Vec<Option<String>> {
    let mut cells = vec![Some(row.line.to_string()), Some(row.scenario.to_string())];
    cells.extend((0..columns.rules.len()).map(|i| row.statuses.get(i).map(|s| (*s).to_string())));
    cells.push(row.shortfall.map(crate::report::number));
    cells.extend((0..columns.show.len()).map(|i| row.figures.get(i).filter(|f| !f.is_null()).map(super::figure_cell)));
    cells.push(Some(row.worst.to_string()));
    cells.push(row.error.map(str::to_string));
    cells
}

impl<W: io::Write + Send> RowSink for Csv<W> {
    fn row(&mut self, row: &Row<'_>) -> io::Result<()> {
        if !self.started {
            self.started = true;
            let header: Vec<String> = self.columns.names().iter().map(|n| super::csv_field(n)).collect();
            writeln!(self.out, "{}", header.join(","))?;
        }
        let cells: Vec<String> = row_cells(&self.columns, row).iter().map(|c| c.as_deref().map(super::csv_field).unwrap_or_default()).collect();
        writeln!(self.out, "{}", cells.join(","))
    }

    fn finish(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            let header: Vec<String> = self.columns.names().iter().map(|n| super::csv_field(n)).collect();
            writeln!(self.out, "{}", header.join(","))?;
        }
        self.out.flush()
    }
}

#[cfg(feature = "parquet")]
pub use parquet_rows::Parquet;

#[cfg(feature = "parquet")]
mod parquet_rows {
    use std::io;
    use std::sync::Arc;

    use arrow_array::builder::{BooleanBuilder, StringBuilder, UInt64Builder};
    use arrow_array::{ArrayRef, RecordBatch};
    use arrow_schema::{DataType, Field, Schema, SchemaRef};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    use super::{row_cells, Columns, Row, RowSink};

    /// Rows buffered before they are handed to the writer as one batch; also the row
    /// group's size, so memory stays bounded by it.
    pub const ROW_GROUP: usize = 65_536;

    /// Rows as Parquet (Snappy-compressed): `line` an unsigned integer, `worst` a boolean,
    /// every other column text, empty cells null. Written in row groups of [`ROW_GROUP`]
    /// rows.
    pub struct Parquet<W: io::Write + Send> {
        writer: Option<ArrowWriter<W>>,
        schema: SchemaRef,
        columns: Columns,
        line: UInt64Builder,
        text: Vec<StringBuilder>,
        worst: BooleanBuilder,
        buffered: usize,
    }

    impl<W: io::Write + Send> Parquet<W> {
        pub fn new(out: W, columns: Columns) -> io::Result<Self> {
            let names = columns.names();
            let worst_at = names.len().saturating_sub(2);
            // By position: the line first, `worst` second to last, text elsewhere (whatever
            // the rules and figures are named).
            let fields: Vec<Field> = names
                .iter()
                .enumerate()
                .map(|(i, n)| match i {
                    0 => Field::new(n, DataType::UInt64, false),
                    i if i == worst_at => Field::new(n, DataType::Boolean, false),
                    _ => Field::new(n, DataType::Utf8, true),
                })
                .collect();
            let schema: SchemaRef = Arc::new(Schema::new(fields));
            let props = WriterProperties::builder().set_compression(Compression::SNAPPY).set_max_row_group_row_count(Some(ROW_GROUP)).build();
            let writer = ArrowWriter::try_new(out, Arc::clone(&schema), Some(props)).map_err(io::Error::other)?;
            let texts = names.len().saturating_sub(2);
            Ok(Parquet { writer: Some(writer), schema, columns, line: UInt64Builder::new(), text: (0..texts).map(|_| StringBuilder::new()).collect(), worst: BooleanBuilder::new(), buffered: 0 })
        }

        fn flush_batch(&mut self) -> io::Result<()> {
            if self.buffered == 0 {
                return Ok(());
            }
            let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.text.len() + 2);
            arrays.push(Arc::new(self.line.finish()));
            let worst: ArrayRef = Arc::new(self.worst.finish());
            let before_worst = self.text.len().saturating_sub(1);
            let mut texts = self.text.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef);
            // Every text column but the last (`error`) comes before `worst`.
            arrays.extend(texts.by_ref().take(before_worst));
            arrays.push(worst);
            arrays.extend(texts);
            let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays).map_err(io::Error::other)?;
            self.buffered = 0;
            match self.writer.as_mut() {
                Some(w) => w.write(&batch).map_err(io::Error::other),
                None => Err(io::Error::other("the parquet output is already closed")),
            }
        }
    }

    impl<W: io::Write + Send> RowSink for Parquet<W> {
        fn row(&mut self, row: &Row<'_>) -> io::Result<()> {
            let cells = row_cells(&self.columns, row);
            self.line.append_value(u64::try_from(row.line).unwrap_or(u64::MAX));
            self.worst.append_value(row.worst);
            let worst_at = cells.len().saturating_sub(2);
            let text_cells = cells.into_iter().enumerate().filter(|(i, _)| *i != 0 && *i != worst_at).map(|(_, c)| c);
            for (builder, cell) in self.text.iter_mut().zip(text_cells) {
                builder.append_option(cell);
            }
            self.buffered += 1;
            if self.buffered >= ROW_GROUP {
                self.flush_batch()?;
            }
            Ok(())
        }

        fn finish(&mut self) -> io::Result<()> {
            self.flush_batch()?;
            match self.writer.take() {
                Some(w) => w.close().map(|_| ()).map_err(io::Error::other),
                None => Ok(()),
            }
        }
    }
}

// ------------------------------------------------------------------ the aggregates

/// How to run a stress.
#[derive(Clone, Debug)]
pub struct Options {
    /// Worst facilities kept per scenario.
    pub top: usize,
    /// Figures written in each row (names as `covenant explain` takes them).
    pub show: Vec<String>,
    /// Lines evaluated in parallel at a time (at least 1).
    pub chunk_lines: usize,
    /// Worker threads: a dedicated pool of this many, or rayon's global pool when `None`.
    pub threads: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options { top: DEFAULT_TOP, show: Vec::new(), chunk_lines: DEFAULT_CHUNK_LINES, threads: None }
    }
}

/// Why a stress stopped: its input or output failed.
#[derive(Debug, thiserror::Error)]
pub enum StressError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
}

/// One of a scenario's worst facilities.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Worst {
    pub line: usize,
    pub shortfall: Json,
    /// The margin calls' amounts, summed.
    pub margin_calls: Json,
    /// Rules in their adverse status: covenants in breach, margin calls called, liquidations
    /// and defaults triggered.
    pub adverse: usize,
}

/// Forced-sale shortfalls of one scenario: how many facilities have one, their exact sum and
/// largest, and how many fall in each order of magnitude.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Shortfalls {
    pub facilities: u64,
    pub total: Json,
    pub max: Json,
    /// `[from, to)` by powers of ten of the currency unit (the first from 0), only those
    /// with a facility, in increasing order.
    pub buckets: Vec<Bucket>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bucket {
    pub from: String,
    pub to: String,
    pub count: u64,
}

/// What a scenario did to the book.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioSummary {
    pub scenario: String,
    /// Facilities evaluated under it.
    pub evaluated: u64,
    /// Facilities whose evaluation under it failed, by reason (at most 20, then `other`).
    pub errors: u64,
    pub error_reasons: IndexMap<String, u64>,
    /// Each rule's statuses, counted over the evaluated facilities.
    pub rules: IndexMap<String, IndexMap<String, u64>>,
    /// Each margin call's amounts where called, summed exactly (`null` past the decimal
    /// range).
    pub margin_calls: IndexMap<String, Json>,
    /// `null` for a program without liquidations.
    pub shortfall: Option<Shortfalls>,
    /// The worst facilities, worst first: by shortfall, then rules in their adverse status,
    /// then margin-call amounts; ties to the earlier line.
    pub worst: Vec<Worst>,
    /// Facilities for which this is the worst scenario.
    pub worst_for: u64,
}

/// A whole book under its scenarios.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stress {
    /// Facility lines evaluated (their base case at least).
    pub facilities: u64,
    /// Lines refused (not JSON, not the schema, failing a check), by reason.
    pub bad_lines: u64,
    pub bad_line_reasons: IndexMap<String, u64>,
    /// The first bad lines, by number (at most 10).
    pub first_bad_lines: Vec<usize>,
    pub evaluations: u64,
    pub scenarios: Vec<ScenarioSummary>,
    /// Facilities that no scenario hurts (no shortfall, no call, no rule in adverse status).
    pub unharmed: u64,
    /// Sums that passed the decimal range, named; their figures are `null`.
    pub overflowed: Vec<String>,
}

/// An exact sum that remembers passing the decimal range.
#[derive(Clone, Copy, Debug, Default)]
struct Sum {
    total: Decimal,
    overflow: bool,
}

impl Sum {
    fn plus(&mut self, d: Decimal) {
        match self.total.checked_add(d) {
            Some(t) => self.total = t,
            None => self.overflow = true,
        }
    }

    fn json(&self, currency: Option<&str>) -> Json {
        if self.overflow {
            Json::Null
        } else {
            number_json(self.total, currency)
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Totals {
    evaluated: u64,
    errors: u64,
    reasons: IndexMap<String, u64>,
    /// Per rule, a count for each of its kind's statuses, in that order.
    statuses: Vec<Vec<u64>>,
    called: Vec<Sum>,
    shortfall: Sum,
    shortfall_max: Decimal,
    shortfall_count: u64,
    /// Decimal exponent of the bucket's lower bound (`None`: below 1).
    buckets: BTreeMap<Option<u32>, u64>,
    /// Worst first; at most `top`.
    worst: Vec<(Severity, usize)>,
    worst_for: u64,
}

fn count_reason(reasons: &mut IndexMap<String, u64>, reason: &str) {
    if let Some(n) = reasons.get_mut(reason) {
        *n += 1;
    } else if reasons.len() < MAX_REASONS {
        reasons.insert(reason.to_string(), 1);
    } else {
        *reasons.entry("other".to_string()).or_insert(0) += 1;
    }
}

/// The order of magnitude of a positive amount: the number of digits of its whole part less
/// one, `None` below 1.
fn magnitude(d: Decimal) -> Option<u32> {
    let whole = d.trunc();
    if whole.is_zero() {
        return None;
    }
    let digits = whole.abs().normalize().to_string().len();
    u32::try_from(digits.saturating_sub(1)).ok()
}

struct Aggregate<'a> {
    book: &'a Book<'a>,
    top: usize,
    totals: Vec<Totals>,
    facilities: u64,
    bad_lines: u64,
    bad_reasons: IndexMap<String, u64>,
    first_bad: Vec<usize>,
    unharmed: u64,
}

impl Aggregate<'_> {
    fn add(&mut self, f: &Facility, sink: &mut Option<&mut dyn RowSink>) -> io::Result<()> {
        let cells = match &f.result {
            Err((code, message)) => {
                self.bad_lines += 1;
                count_reason(&mut self.bad_reasons, code);
                if self.first_bad.len() < MAX_BAD_LINES_NAMED {
                    self.first_bad.push(f.line);
                }
                if let Some(sink) = sink {
                    for s in self.book.scenarios {
                        sink.row(&Row { line: f.line, scenario: &s.name, statuses: &[], shortfall: None, figures: &[], worst: false, error: Some(message) })?;
                    }
                }
                return Ok(());
            }
            Ok(cells) => cells,
        };
        self.facilities += 1;
        // The first scenario of the greatest severity, if any scenario does harm.
        let worst = cells.iter().enumerate().filter(|(_, c)| c.error.is_none() && c.severity > Severity::default()).fold(None, |best: Option<(usize, Severity)>, (i, c)| match best {
            Some((_, b)) if b >= c.severity => best,
            _ => Some((i, c.severity)),
        });
        if worst.is_none() {
            self.unharmed += 1;
        }
        for (i, (cell, scenario)) in cells.iter().zip(self.book.scenarios).enumerate() {
            let is_worst = worst.is_some_and(|(w, _)| w == i);
            if let Some(sink) = sink {
                let error = cell.error.as_ref().map(|(_, m)| m.as_str());
                sink.row(&Row { line: f.line, scenario: &scenario.name, statuses: &cell.statuses, shortfall: error.is_none().then_some(cell.shortfall), figures: &cell.figures, worst: is_worst, error })?;
            }
            let Some(t) = self.totals.get_mut(i) else { continue };
            if is_worst {
                t.worst_for += 1;
            }
            if let Some((_, message)) = &cell.error {
                t.errors += 1;
                count_reason(&mut t.reasons, message);
                continue;
            }
            t.evaluated += 1;
            for ((counts, status), rule) in t.statuses.iter_mut().zip(&cell.statuses).zip(&self.book.rules) {
                if let Some(n) = rule.kind.statuses().iter().position(|s| s == status).and_then(|k| counts.get_mut(k)) {
                    *n += 1;
                }
            }
            for (sum, amount) in t.called.iter_mut().zip(&cell.called) {
                if let Some(a) = amount {
                    sum.plus(*a);
                }
            }
            if cell.shortfall > Decimal::ZERO {
                t.shortfall.plus(cell.shortfall);
                t.shortfall_count += 1;
                t.shortfall_max = t.shortfall_max.max(cell.shortfall);
                *t.buckets.entry(magnitude(cell.shortfall)).or_insert(0) += 1;
            }
            if self.top > 0 && cell.severity > Severity::default() {
                // Worst first; an equal severity stays behind the earlier line.
                let at = t.worst.partition_point(|(s, _)| *s >= cell.severity);
                if at < self.top {
                    t.worst.insert(at, (cell.severity, f.line));
                    t.worst.truncate(self.top);
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Stress {
        let ir = self.book.program.ir();
        let currency = |ty: &Type| match ty {
            Type::Money(Ccy::Code(c)) => Some(c.to_string()),
            _ => None,
        };
        let shortfall_ccy = ir.liquidations.first().and_then(|l| currency(&l.debt_ty));
        let call_ccy = ir.margin_calls.iter().find_map(|m| currency(&m.amount_ty));
        let mut overflowed = Vec::new();
        let mut evaluations = 0u64;
        let scenarios = self
            .totals
            .into_iter()
            .zip(self.book.scenarios)
            .map(|(t, s)| {
                evaluations += t.evaluated + t.errors;
                let rules = self
                    .book
                    .rules
                    .iter()
                    .zip(&t.statuses)
                    .map(|(r, counts)| (r.name.clone(), r.kind.statuses().iter().enumerate().map(|(k, st)| (st.to_string(), counts.get(k).copied().unwrap_or(0))).collect()))
                    .collect();
                let margin_calls = ir
                    .margin_calls
                    .iter()
                    .zip(&t.called)
                    .map(|(m, sum)| {
                        if sum.overflow {
                            overflowed.push(format!("{}: {} amounts", s.name, m.name));
                        }
                        (m.name.to_string(), sum.json(currency(&m.amount_ty).as_deref()))
                    })
                    .collect();
                if t.shortfall.overflow {
                    overflowed.push(format!("{}: shortfall", s.name));
                }
                let ccy = shortfall_ccy.as_deref();
                let shortfall = (!ir.liquidations.is_empty()).then(|| Shortfalls {
                    facilities: t.shortfall_count,
                    total: t.shortfall.json(ccy),
                    max: number_json(t.shortfall_max, ccy),
                    buckets: t
                        .buckets
                        .iter()
                        .map(|(k, n)| {
                            let power = |e: u32| 10i128.checked_pow(e).and_then(|p| Decimal::try_from_i128_with_scale(p, 0).ok()).unwrap_or(Decimal::MAX);
                            let (from, to) = match k {
                                None => (Decimal::ZERO, Decimal::ONE),
                                Some(e) => (power(*e), power(e.saturating_add(1))),
                            };
                            Bucket { from: crate::report::number(from), to: crate::report::number(to), count: *n }
                        })
                        .collect(),
                });
                let worst = t
                    .worst
                    .iter()
                    .map(|(sev, line)| Worst { line: *line, shortfall: number_json(sev.shortfall, ccy), margin_calls: number_json(sev.called, call_ccy.as_deref()), adverse: sev.adverse })
                    .collect();
                ScenarioSummary { scenario: s.name.clone(), evaluated: t.evaluated, errors: t.errors, error_reasons: t.reasons, rules, margin_calls, shortfall, worst, worst_for: t.worst_for }
            })
            .collect();
        Stress {
            facilities: self.facilities,
            bad_lines: self.bad_lines,
            bad_line_reasons: self.bad_reasons,
            first_bad_lines: self.first_bad,
            evaluations,
            scenarios,
            unharmed: self.unharmed,
            overflowed,
        }
    }
}

/// The columns of the rows [`run`] writes for `program` and `show`.
pub fn columns(program: &Program, show: &[String]) -> Columns {
    Columns { rules: rules_of(program.ir()).into_iter().map(|r| r.name).collect(), show: show.to_vec() }
}

/// Evaluates every facility line of `input` under every scenario, writing one row per
/// facility and scenario to `sink` (in input order, scenarios in order) and returning the
/// aggregates. Fails only when reading or writing fails, a `--show` name is unknown or a
/// thread pool cannot be built: a bad line is counted, never fatal.
pub fn run<R: BufRead>(program: &Program, scenarios: &[Scenario], mut input: R, mut sink: Option<&mut dyn RowSink>, options: &Options) -> Result<Stress, StressError> {
    check_show(program, &options.show)?;
    let pool = match options.threads {
        Some(n) => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.clamp(1, crate::batch::max_threads()))
                .stack_size(crate::batch::worker_stack(program))
                .thread_name(|i| format!("covenant-stress-{i}"))
                .build()
                .map_err(io::Error::other)?,
        ),
        None => None,
    };
    let rules = rules_of(program.ir());
    let changes = scenarios.iter().map(|s| program.changes(&s.changed_paths(program))).collect();
    let book = Book { program, scenarios, changes, rules, show: &options.show };
    let fresh = Totals {
        statuses: book.rules.iter().map(|r| vec![0; r.kind.statuses().len()]).collect(),
        called: vec![Sum::default(); program.ir().margin_calls.len()],
        ..Default::default()
    };
    let mut aggregate = Aggregate {
        book: &book,
        top: options.top,
        totals: vec![fresh; scenarios.len()],
        facilities: 0,
        bad_lines: 0,
        bad_reasons: IndexMap::new(),
        first_bad: Vec::new(),
        unharmed: 0,
    };
    let max_line = program.limits().max_data_bytes;
    let chunk_lines = options.chunk_lines.max(1);
    let mut read = 0usize;
    let mut chunk: Vec<(usize, Line)> = Vec::with_capacity(chunk_lines.min(DEFAULT_CHUNK_LINES));
    let mut done: Vec<Facility> = Vec::new();
    loop {
        chunk.clear();
        let mut bytes = 0usize;
        while chunk.len() < chunk_lines && (chunk.is_empty() || bytes < crate::batch::DEFAULT_CHUNK_BYTES) {
            let Some(line) = crate::batch::read_line(&mut input, max_line)? else { break };
            read += 1;
            match &line {
                // Blank lines (a trailing one, say) are not facilities.
                Line::Text(t) if t.trim().is_empty() => continue,
                Line::Text(t) => bytes = bytes.saturating_add(t.len()),
                _ => {}
            }
            chunk.push((read, line));
        }
        if chunk.is_empty() {
            break;
        }
        // The previous chunk is counted and written while this one is evaluated: the rows of a
        // chunk are a serial stretch as long as a tenth of its evaluation.
        let previous = std::mem::take(&mut done);
        let mut work = || -> (io::Result<()>, Vec<Facility>) {
            rayon::join(
                || previous.iter().try_for_each(|f| aggregate.add(f, &mut sink)),
                || chunk.par_drain(..).map(|(n, line)| book.facility(n, line)).collect(),
            )
        };
        let (written, evaluated) = match &pool {
            Some(p) => p.install(work),
            None => work(),
        };
        written?;
        done = evaluated;
    }
    for f in &done {
        aggregate.add(f, &mut sink)?;
    }
    if let Some(sink) = sink {
        sink.finish()?;
    }
    Ok(aggregate.finish())
}

// ------------------------------------------------------------------ the table

/// The stress as a table: per scenario the facilities evaluated and failed, each rule's count
/// in its adverse status, the margin calls' sums, the shortfalls and how many facilities the
/// scenario is the worst for; then each scenario's worst facilities and shortfall buckets.
pub fn render(s: &Stress) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let counted = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let _ = writeln!(out, "{} x {} = {}", counted(s.facilities, "facility", "facilities"), counted(s.scenarios.len() as u64, "scenario", "scenarios"), counted(s.evaluations, "evaluation", "evaluations"));
    if s.bad_lines > 0 {
        let reasons: Vec<String> = s.bad_line_reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let first: Vec<String> = s.first_bad_lines.iter().map(usize::to_string).collect();
        let _ = writeln!(out, "{} bad lines skipped ({}); first at line {}", s.bad_lines, reasons.join(", "), first.join(", "));
    }
    let _ = writeln!(out, "{} facilities unharmed by every scenario\n", s.unharmed);
    let Some(first) = s.scenarios.first() else { return out };
    let mut header = vec!["scenario".to_string(), "evaluated".to_string(), "errors".to_string()];
    let mut adverse: Vec<(String, String)> = Vec::new();
    for (rule, counts) in &first.rules {
        let status = ["breach", "called", "triggered"].into_iter().find(|st| counts.contains_key(*st)).unwrap_or("error");
        header.push(format!("{rule} {status}"));
        adverse.push((rule.clone(), status.to_string()));
    }
    for name in first.margin_calls.keys() {
        header.push(format!("{name} amount"));
    }
    if first.shortfall.is_some() {
        header.push("shortfalls".into());
        header.push("shortfall total".into());
    }
    header.push("worst for".into());
    let money = |j: &Json| if j.is_null() { "overflow".to_string() } else { super::table_cell(j) };
    let rows: Vec<Vec<String>> = s
        .scenarios
        .iter()
        .map(|sc| {
            let mut row = vec![sc.scenario.clone(), sc.evaluated.to_string(), sc.errors.to_string()];
            for (rule, status) in &adverse {
                row.push(sc.rules.get(rule).and_then(|c| c.get(status)).copied().unwrap_or(0).to_string());
            }
            row.extend(sc.margin_calls.values().map(money));
            if let Some(f) = &sc.shortfall {
                row.push(f.facilities.to_string());
                row.push(money(&f.total));
            }
            row.push(sc.worst_for.to_string());
            row
        })
        .collect();
    out.push_str(&super::aligned(&header, &rows));
    let worst: Vec<&ScenarioSummary> = s.scenarios.iter().filter(|sc| !sc.worst.is_empty()).collect();
    if !worst.is_empty() {
        let _ = writeln!(out, "\nworst facilities (line: shortfall / rules adverse / margin calls)");
        for sc in worst {
            let each: Vec<String> = sc.worst.iter().map(|w| format!("{}: {} / {} / {}", w.line, super::table_cell(&w.shortfall), w.adverse, super::table_cell(&w.margin_calls))).collect();
            let _ = writeln!(out, "  {}: {}", sc.scenario, each.join("; "));
        }
    }
    let hit: Vec<&ScenarioSummary> = s.scenarios.iter().filter(|sc| sc.shortfall.as_ref().is_some_and(|f| !f.buckets.is_empty())).collect();
    if !hit.is_empty() {
        let _ = writeln!(out, "\nshortfalls by size (from..to: facilities)");
        for sc in hit {
            let Some(f) = &sc.shortfall else { continue };
            let each: Vec<String> = f.buckets.iter().map(|b| format!("{}..{}: {}", grouped_text(&b.from), grouped_text(&b.to), b.count)).collect();
            let _ = writeln!(out, "  {}: {}; max {}", sc.scenario, each.join(", "), money(&f.max));
        }
    }
    let failed: Vec<&ScenarioSummary> = s.scenarios.iter().filter(|sc| sc.errors > 0).collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "\nerrors");
        for sc in failed {
            for (reason, n) in &sc.error_reasons {
                let _ = writeln!(out, "  {}: {n} x {}", sc.scenario, crate::text::escape_controls(reason));
            }
        }
    }
    if !s.overflowed.is_empty() {
        let _ = writeln!(out, "\nsums past the decimal range: {}", s.overflowed.join(", "));
    }
    out
}

fn grouped_text(n: &str) -> String {
    super::parse_decimal(n).map_or_else(|| n.to_string(), |d| crate::report::table::grouped(d, 0))
}
