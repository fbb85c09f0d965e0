//! Break-even: the value of one input at which each rule's status flips.
//!
//! The unknown is an integer count of steps (a cent for money; for a number, a billionth of
//! today's value; for a `[*]` path, a billionth of the factor moving every element), so
//! every answer is exact to one step. A grid of [`GRID`] intervals over the range finds where
//! a status changes; [`crate::solve::boundary_within`] then finds the change to the step.
//! Two flips closer together than one grid interval can be missed; the range is the user's
//! to narrow. A rule that cannot be evaluated at a point (`error`, say a division by a price
//! of zero) or data the program's `check`s refuse is no flip: such points are skipped.

use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value as Json;

use super::{statuses, usage, AnalysisError, InputPath};
use crate::solve::{boundary_within, Found, Side};
use crate::value::Value;
use crate::Program;

/// Grid intervals scanned over the range before each change is bisected.
pub const GRID: i64 = 400;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Breakeven {
    pub input: String,
    /// Today's value; for a `[*]` path, the factor 1.
    pub current: Json,
    /// The range searched, in the same terms.
    pub range: [Json; 2],
    pub rules: IndexMap<String, RuleBreakeven>,
    #[serde(skip)]
    pub path: Option<InputPath>,
    #[serde(skip)]
    pub current_value: Decimal,
    #[serde(skip)]
    pub range_values: (Decimal, Decimal),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleBreakeven {
    pub status: String,
    pub flips_at: Option<Json>,
    /// `(flips_at - current) / current`, to six decimals.
    pub change: Option<String>,
    pub flips: Vec<Flip>,
    #[serde(skip)]
    pub nearest: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Flip {
    pub at: Json,
    pub to: String,
    #[serde(skip)]
    pub value: Decimal,
}

/// Finds every flip of every rule as the input at `path` moves over `range` (default: 0 to
/// ten times today's value; for a `[*]` path, factors 0 to 10).
pub fn breakeven(program: &Program, input: &Value, path: &str, range: Option<(Decimal, Decimal)>, scenario: Option<&str>) -> Result<Breakeven, AnalysisError> {
    let path = InputPath::parse(program, path)?;
    let spread = path.spreads();
    let current = if spread {
        Decimal::ONE
    } else {
        match path.read(input).first() {
            Some(Value::Num(d)) => *d,
            _ => return Err(usage(format!("`{}` is absent in the data: there is no value today to move from", path.text))),
        }
    };
    let (from, to) = match range {
        Some((a, b)) => (a.min(b), a.max(b)),
        None => {
            let ten = current.checked_mul(Decimal::TEN).ok_or_else(|| usage("ten times today's value is out of the decimal range: give `--range FROM..TO`"))?;
            (ten.min(Decimal::ZERO), ten.max(Decimal::ZERO))
        }
    };
    if from == to {
        return Err(usage(format!("the range is empty (today's value of `{}` is {current}): give `--range FROM..TO`", path.text)));
    }
    let step = if path.currency().is_some() && !spread {
        crate::ir::cent()
    } else {
        let scale = if current.is_zero() { Decimal::ONE } else { current.abs() };
        scale.checked_mul(Decimal::new(1, 9)).filter(|s| !s.is_zero()).unwrap_or(Decimal::new(1, 28))
    };
    let count = |d: Decimal, up: bool| -> Result<i64, AnalysisError> {
        let n = d.checked_div(step).map(|q| if up { q.ceil() } else { q.floor() });
        n.and_then(|n| i64::try_from(n).ok()).ok_or_else(|| usage("the range holds too many steps: narrow `--range`"))
    };
    let (lo, hi) = (count(from, true)?, count(to, false)?);
    let value_at = |n: i64| Decimal::from(n).checked_mul(step);
    let at_json = |d: Decimal| if spread { Json::String(crate::report::number(d)) } else { path.json(d) };
    let moved = |n: i64| -> Option<Value> {
        let v = value_at(n)?;
        if spread { path.scale(input, v).ok() } else { path.set(input, v).ok() }
    };
    // The statuses at a step count, or `None` where the program refuses the data or cannot
    // be evaluated.
    let status_at = |n: i64| -> Option<IndexMap<String, &'static str>> {
        let changed = moved(n)?;
        let evaluation = program.run_changed(changed, scenario).ok()?;
        Some(statuses(&evaluation.report_unbounded()?))
    };
    let today = {
        let evaluation = program.run_changed(input.clone(), scenario)?;
        statuses(&evaluation.report_unbounded().ok_or_else(|| usage("the report could not be built"))?)
    };
    let width = i128::from(hi) - i128::from(lo);
    let mut grid: Vec<i64> = (0..=GRID).filter_map(|k| i64::try_from(i128::from(lo) + width * i128::from(k) / i128::from(GRID)).ok()).collect();
    grid.dedup();
    let scanned: Vec<(i64, IndexMap<String, &'static str>)> = {
        use rayon::prelude::*;
        grid.par_iter().filter_map(|&n| Some((n, status_at(n)?))).collect()
    };
    let mut rules = IndexMap::new();
    for (name, now) in &today {
        let mut flips = Vec::new();
        for pair in scanned.windows(2) {
            let [(a, at_a), (b, at_b)] = pair else { continue };
            let (Some(sa), Some(sb)) = (at_a.get(name), at_b.get(name)) else { continue };
            if sa == sb || *sa == "error" || *sb == "error" {
                continue;
            }
            let probe = |n: i64| match status_at(n).and_then(|s| s.get(name).copied()) {
                None | Some("error") => Side::Undefined,
                Some(s) if s == *sa => Side::Before,
                Some(_) => Side::After,
            };
            if let Found::At { first_after, last_before } = boundary_within(*a, *b, probe) {
                let (Some(after), Some(before)) = (value_at(first_after), value_at(last_before)) else { continue };
                // Met from today's side: above today, the first step past the boundary; below
                // it, the last step before it, whose status is the one reached going down.
                let flip = if after > current {
                    status_at(first_after).and_then(|s| s.get(name).copied()).map(|to| Flip { at: at_json(after), to: to.to_string(), value: after })
                } else {
                    Some(Flip { at: at_json(before), to: sa.to_string(), value: before })
                };
                flips.extend(flip);
            }
        }
        let nearest = flips.iter().map(|f| f.value).min_by_key(|v| v.checked_sub(current).map_or(Decimal::MAX, |d| d.abs()));
        let change = nearest.filter(|_| !current.is_zero()).and_then(|v| v.checked_sub(current)?.checked_div(current)).map(|c| crate::report::number(c.round_dp(6)));
        rules.insert(name.clone(), RuleBreakeven { status: now.to_string(), flips_at: nearest.map(at_json), change, flips, nearest });
    }
    let (range_from, range_to) = (value_at(lo).unwrap_or(from), value_at(hi).unwrap_or(to));
    Ok(Breakeven {
        input: path.text.clone(),
        current: if spread { Json::String("1".into()) } else { path.json(current) },
        range: [at_json(range_from), at_json(range_to)],
        range_values: (range_from, range_to),
        rules,
        current_value: current,
        path: Some(path),
    })
}

/// The break-even for people: one row a rule, then a sentence for each rule that flips.
pub fn render(b: &Breakeven) -> String {
    use std::fmt::Write as _;
    let Some(path) = &b.path else { return String::new() };
    let spread = path.spreads();
    let shown = |d: Decimal| if spread { format!("×{}", crate::report::table::grouped(d, 9)) } else { path.text(d) };
    let mut out = String::new();
    let (from, to) = (shown(b.range_values.0), shown(b.range_values.1));
    if spread {
        let _ = writeln!(out, "break-even of {} (every element scaled by one factor; today ×1, searched {from} … {to})", b.input);
    } else {
        let _ = writeln!(out, "break-even of {} (today {}, searched {from} … {to})", b.input, shown(b.current_value));
    }
    let rows: Vec<[String; 5]> = b
        .rules
        .iter()
        .map(|(name, r)| {
            let to = r.nearest.and_then(|n| r.flips.iter().find(|f| f.value == n)).map_or("—".into(), |f| f.to.clone());
            let change = r.change.as_deref().and_then(super::parse_decimal).map_or("—".into(), signed_percent);
            let at = r.nearest.map_or_else(|| "no flip in range".to_string(), shown);
            [name.clone(), r.status.clone(), at, change, to]
        })
        .collect();
    let header = ["rule", "now", "flips at", "change", "to"].map(String::from);
    let widths: Vec<usize> = (0..5).map(|i| rows.iter().chain(std::iter::once(&header)).map(|r| r.get(i).map_or(0, |c| c.chars().count())).max().unwrap_or(0)).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
    let mut sentences = Vec::new();
    for (name, r) in &b.rules {
        let Some(c) = r.change.as_deref().and_then(super::parse_decimal) else { continue };
        let to = r.flips.iter().find(|f| Some(f.value) == r.nearest).map_or("", |f| f.to.as_str());
        let pct = crate::report::table::fixed(c.abs().checked_mul(Decimal::ONE_HUNDRED).unwrap_or(Decimal::MAX), 1);
        let verb = if c.is_sign_negative() { "fall" } else { "rise" };
        sentences.push(format!("  {} can {verb} {pct}% before {name} turns {to}", path.text));
        if r.flips.len() > 1 {
            let all: Vec<String> = r.flips.iter().map(|f| format!("{} at {}", f.to, shown(f.value))).collect();
            sentences.push(format!("    (flips {} times in range: {})", r.flips.len(), all.join(", ")));
        }
    }
    if !sentences.is_empty() {
        out.push('\n');
        out.push_str(&sentences.join("\n"));
        out.push('\n');
    }
    out
}

fn signed_percent(c: Decimal) -> String {
    let p = crate::report::table::fixed(c.checked_mul(Decimal::ONE_HUNDRED).unwrap_or(Decimal::MAX), 2);
    if c.is_sign_positive() && !c.is_zero() { format!("+{p}%") } else { format!("{p}%") }
}
