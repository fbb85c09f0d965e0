//! Projection: the facility evaluated along a path through time.
//!
//! The path is CSV: a `date` column and one column per input. A header `PATH` sets the input
//! to the cell's value on that date; `PATH *=` multiplies today's value (the data's, not the
//! previous row's) by it; a `[*]` path applies to every element; an empty cell leaves the
//! input as the data has it. Lines starting with `#` are comments. On each row `as_of` becomes
//! the date, so fleets age and step-downs and test dates apply.
//!
//! Cures are passed forward: where a covenant in breach has a cure available, the cure is
//! taken to be made on that date, and the date is added to the covenant's cure history (the
//! input list its `history` reads) for every later row, so a cure used in one quarter counts
//! against the next. One date is added per history list a row, however many covenants share
//! it: one injection cures them all.

use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value as Json;

use super::{statuses, usage, AnalysisError, InputPath, Step};
use crate::dates::Date;
use crate::ir::{ExprId, Node};
use crate::types::Type;
use crate::value::Value;
use crate::Program;

/// Rows of one path at most.
pub const MAX_ROWS: usize = 10_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub path: InputPath,
    /// `PATH *=`: a factor on today's value.
    pub factor: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PathTable {
    pub columns: Vec<Column>,
    /// Each row's date and cells, `None` where the cell is empty.
    pub rows: Vec<(Date, Vec<Option<Decimal>>)>,
}

/// Reads a path CSV against the program's input.
pub fn parse_path(program: &Program, text: &str) -> Result<PathTable, AnalysisError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((_, header)) = lines.next() else { return Err(usage("the path has no header line: give a `date` column and one column per input")) };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let date_column = names.iter().position(|n| n.eq_ignore_ascii_case("date")).ok_or_else(|| usage("the path has no `date` column"))?;
    let mut columns = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if i == date_column {
            continue;
        }
        let (p, factor) = match name.strip_suffix("*=") {
            Some(p) => (p.trim_end(), true),
            None => (*name, false),
        };
        columns.push(Column { path: InputPath::parse(program, p)?, factor });
    }
    let mut rows = Vec::new();
    for (n, line) in lines {
        if rows.len() >= MAX_ROWS {
            return Err(usage(format!("the path has more than {MAX_ROWS} rows")));
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != names.len() {
            return Err(usage(format!("line {}: {} cells where the header has {}", n + 1, cells.len(), names.len())));
        }
        let date_text = cells.get(date_column).copied().unwrap_or_default();
        let date = Date::parse(date_text).ok_or_else(|| usage(format!("line {}: `{date_text}` is not a date (write YYYY-MM-DD)", n + 1)))?;
        let values = cells
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != date_column)
            .map(|(_, c)| if c.is_empty() { Ok(None) } else { super::parse_decimal(c).map(Some).ok_or_else(|| usage(format!("line {}: `{c}` is not a number", n + 1))) })
            .collect::<Result<Vec<_>, _>>()?;
        rows.push((date, values));
    }
    if rows.windows(2).any(|w| matches!(w, [(a, _), (b, _)] if b <= a)) {
        return Err(usage("the path's dates must increase from row to row"));
    }
    Ok(PathTable { columns, rows })
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Projection {
    pub rows: Vec<Row>,
    pub first_breach: Option<Event>,
    pub first_default: Option<Event>,
    pub first_liquidation_trigger: Option<Event>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub date: String,
    pub rules: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub date: String,
    pub covenants: IndexMap<String, CovenantRow>,
    pub margin_calls: IndexMap<String, CallRow>,
    pub liquidations: IndexMap<String, LiquidationRow>,
    pub defaults: IndexMap<String, &'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CovenantRow {
    pub status: &'static str,
    pub value: Option<Json>,
    pub limit: Option<Json>,
    /// For a breach with a cure clause: `used` (and passed forward) or `blocked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cure: Option<&'static str>,
    #[serde(skip)]
    pub style: crate::report::NumberStyle,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallRow {
    pub status: &'static str,
    pub amount: Option<crate::report::Money>,
    pub due: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiquidationRow {
    pub status: &'static str,
    pub shortfall: Option<crate::report::Money>,
}

/// The input path a cure history reads, when it is one (`input.cures`, or `input.cures ?? []`).
fn history_path(program: &Program, expr: ExprId) -> Option<InputPath> {
    let arena = &program.ir().arena;
    let mut fields = Vec::new();
    let mut at = expr;
    loop {
        match arena.node(at)? {
            Node::Coalesce(lhs, _) if fields.is_empty() => at = *lhs,
            Node::Field { base, index, .. } => {
                fields.push(Step::Field(*index as usize));
                at = *base;
            }
            Node::Input => break,
            _ => return None,
        }
    }
    fields.reverse();
    Some(InputPath { text: crate::text::escape_controls(program.sources().text(arena.span(expr))).to_string(), steps: fields, ty: Type::Date })
}

/// Evaluates the facility on each row's date with the row's inputs.
pub fn project(program: &Program, input: &Value, path: &PathTable, scenario: Option<&str>) -> Result<Projection, AnalysisError> {
    let ir = program.ir();
    let histories: Vec<Option<InputPath>> = ir.covenants.iter().map(|c| c.cure.as_ref().and_then(|k| k.history).and_then(|h| history_path(program, h.expr))).collect();
    let as_of = InputPath { text: "input.as_of".into(), steps: vec![Step::Field(ir.as_of_field as usize)], ty: Type::Date };
    let mut carried = input.clone();
    let mut rows = Vec::new();
    let (mut first_breach, mut first_default, mut first_liquidation) = (None, None, None);
    for (date, cells) in &path.rows {
        let mut data = as_of.map(&carried, &mut |_| Some(Value::Date(*date)))?;
        for (column, cell) in path.columns.iter().zip(cells) {
            let Some(v) = cell else { continue };
            data = if column.factor {
                // A factor applies to the data's value, element by element, not the last row's.
                let today = column.path.read(input);
                let mut k = 0;
                column.path.map(&data, &mut |_| {
                    let base = today.get(k).and_then(Value::num);
                    k += 1;
                    base.and_then(|b| b.checked_mul(*v)).map(Value::Num)
                })?
            } else {
                column.path.set(&data, *v)?
            };
        }
        let date_text = date.to_string();
        let report = program.run_changed(data, scenario).map_err(|e| e.to_string()).and_then(|e| e.report_unbounded().ok_or_else(|| "the report could not be built".to_string()));
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                rows.push(Row { date: date_text, covenants: IndexMap::new(), margin_calls: IndexMap::new(), liquidations: IndexMap::new(), defaults: IndexMap::new(), error: Some(e) });
                continue;
            }
        };
        let mut cured: Vec<&InputPath> = Vec::new();
        let mut covenants = IndexMap::new();
        for ((name, c), history) in report.covenants.iter().zip(&histories) {
            let cure = match (&c.cure, c.status) {
                (Some(k), "breach") if k.available => {
                    if let Some(h) = history.as_ref().filter(|h| !cured.contains(h)) {
                        cured.push(h);
                    }
                    Some("used")
                }
                (Some(_), "breach") => Some("blocked"),
                _ => None,
            };
            covenants.insert(name.clone(), CovenantRow { status: c.status, value: c.value.clone(), limit: c.limit.clone(), cure, style: c.style });
        }
        for h in cured {
            carried = h.map(&carried, &mut |old| match old {
                Value::List(items) => Some(Value::List(items.iter().cloned().chain(std::iter::once(Value::Date(*date))).collect())),
                _ => Some(Value::List(vec![Value::Date(*date)].into())),
            })?;
        }
        let all = statuses(&report);
        let margin_calls = report.margin_calls.iter().map(|(n, m)| (n.clone(), CallRow { status: m.status, amount: m.amount.clone(), due: m.due.clone() })).collect();
        let liquidations: IndexMap<String, LiquidationRow> =
            report.liquidations.iter().map(|(n, l)| (n.clone(), LiquidationRow { status: all.get(n).copied().unwrap_or("error"), shortfall: l.shortfall.clone() })).collect();
        let defaults: IndexMap<String, &'static str> = report.defaults.iter().map(|(n, d)| (n.clone(), d.status)).collect();
        let breached: Vec<String> = covenants.iter().filter(|(_, c)| c.status == "breach").map(|(n, _)| n.clone()).collect();
        let uncured = covenants.iter().filter(|(_, c)| c.status == "breach" && c.cure != Some("used")).map(|(n, _)| n.clone());
        let defaulted: Vec<String> = defaults.iter().filter(|(_, s)| **s == "triggered").map(|(n, _)| n.clone()).chain(uncured).collect();
        let triggered: Vec<String> = liquidations.iter().filter(|(_, l)| l.status == "triggered").map(|(n, _)| n.clone()).collect();
        let event = |rules: Vec<String>| (!rules.is_empty()).then(|| Event { date: date_text.clone(), rules });
        first_breach = first_breach.or_else(|| event(breached));
        first_default = first_default.or_else(|| event(defaulted));
        first_liquidation = first_liquidation.or_else(|| event(triggered));
        rows.push(Row { date: date_text, covenants, margin_calls, liquidations, defaults, error: None });
    }
    Ok(Projection { rows, first_breach, first_default, first_liquidation_trigger: first_liquidation })
}

fn covenant_cell(c: &CovenantRow) -> String {
    use crate::report::{table, NumberStyle};
    let value = match &c.value {
        Some(Json::String(s)) => match c.style {
            NumberStyle::Percent => table::percent(s),
            NumberStyle::Multiple => super::parse_decimal(s).map_or(s.clone(), |d| format!("{}x", table::fixed(d, 2))),
            NumberStyle::Plain => super::parse_decimal(s).map_or(s.clone(), |d| table::grouped(d, 4)),
        },
        Some(j) => table::cell(j),
        None => String::new(),
    };
    let cure = match c.cure {
        Some("used") => " (cured)",
        Some(_) => " (cure blocked)",
        None => "",
    };
    format!("{} {value}{cure}", c.status).trim_end().to_string()
}

fn rows_of(p: &Projection) -> (Vec<String>, Vec<Vec<String>>) {
    let Some(first) = p.rows.iter().find(|r| r.error.is_none()) else { return (vec!["date".into()], p.rows.iter().map(|r| vec![r.date.clone(), r.error.clone().unwrap_or_default()]).collect()) };
    let mut header = vec!["date".to_string()];
    header.extend(first.covenants.keys().cloned());
    header.extend(first.margin_calls.keys().cloned());
    header.extend(first.liquidations.keys().cloned());
    header.extend(first.defaults.keys().cloned());
    let rows = p
        .rows
        .iter()
        .map(|r| {
            let mut row = vec![r.date.clone()];
            if let Some(e) = &r.error {
                row.push(format!("error: {e}"));
                return row;
            }
            row.extend(r.covenants.values().map(covenant_cell));
            row.extend(r.margin_calls.values().map(|m| match (&m.amount, &m.due) {
                (Some(a), Some(d)) if m.status == "called" => format!("called {} due {d}", crate::report::table::money(a)),
                _ => m.status.to_string(),
            }));
            row.extend(r.liquidations.values().map(|l| match &l.shortfall {
                Some(s) if l.status == "triggered" => format!("triggered, shortfall {}", crate::report::table::money(s)),
                _ => l.status.to_string(),
            }));
            row.extend(r.defaults.values().map(|d| d.to_string()));
            row
        })
        .collect();
    (header, rows)
}

fn events(p: &Projection) -> String {
    let line = |what: &str, e: &Option<Event>| match e {
        Some(e) => format!("{what}: {} ({})\n", e.date, e.rules.join(", ")),
        None => format!("{what}: none on this path\n"),
    };
    line("first breach", &p.first_breach) + line("first default", &p.first_default).as_str() + line("first liquidation trigger", &p.first_liquidation_trigger).as_str()
}

/// The timeline for people: a row a date, then the first breach, default and liquidation
/// trigger.
pub fn render(p: &Projection) -> String {
    let (header, rows) = rows_of(p);
    super::aligned(&header, &rows) + "\n" + events(p).as_str()
}

pub fn csv(p: &Projection) -> String {
    let (header, rows) = rows_of(p);
    std::iter::once(header).chain(rows).map(|r| r.iter().map(|c| super::csv_field(c)).collect::<Vec<_>>().join(",") + "\n").collect()
}

/// A self-contained page: each covenant's value over time against its limit.
pub fn html(p: &Projection) -> String {
    super::html::projection_page(p)
}
