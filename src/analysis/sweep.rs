//! Sweep: rule statuses and chosen figures over a grid of one or two inputs.

use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value as Json;

use super::{figure, statuses, usage, AnalysisError, InputPath};
use crate::value::Value;
use crate::Program;

/// Points of one sweep at most: a grid is evaluated whole and held in memory.
pub const MAX_POINTS: usize = 250_000;

/// One input of a sweep: `PATH=FROM..TO:STEP` sets the path to each value; `PATH*=FROM..TO:STEP`
/// multiplies today's value (every element's, through `[*]`) by each factor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Axis {
    pub input: String,
    /// Whether the values are factors on today's value.
    pub factor: bool,
    #[serde(serialize_with = "numbers")]
    pub values: Vec<Decimal>,
    #[serde(skip)]
    pub path: Option<InputPath>,
}

fn numbers<S: serde::Serializer>(values: &[Decimal], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(|d| crate::report::number(*d)))
}

impl Axis {
    pub fn parse(program: &Program, text: &str) -> Result<Axis, AnalysisError> {
        let bad = || usage(format!("`{text}` is not a sweep: write PATH=FROM..TO:STEP (or PATH*=FROM..TO:STEP for factors on today's value)"));
        let (lhs, spec) = text.split_once('=').ok_or_else(bad)?;
        let (path, factor) = match lhs.trim_end().strip_suffix('*') {
            Some(p) => (p, true),
            None => (lhs, false),
        };
        let path = InputPath::parse(program, path)?;
        let (range, step) = spec.rsplit_once(':').ok_or_else(bad)?;
        let (from, to) = super::parse_range(range)?;
        let step = super::parse_decimal(step).filter(|s| *s > Decimal::ZERO).ok_or_else(|| usage(format!("`{text}`: the step must be a positive number")))?;
        let count = to.checked_sub(from).and_then(|w| w.checked_div(step)).map(|n| n.floor()).filter(|n| *n >= Decimal::ZERO);
        let count = count.and_then(|n| usize::try_from(n).ok()).ok_or_else(|| usage(format!("`{text}`: the range must run from a lower to a higher value")))?;
        if count >= MAX_POINTS {
            return Err(usage(format!("`{text}` has more than {MAX_POINTS} points: use a larger step")));
        }
        let values = (0..=count).filter_map(|k| from.checked_add(step.checked_mul(Decimal::from(k))?)).collect();
        Ok(Axis { input: path.text.clone(), factor, values, path: Some(path) })
    }

    fn apply(&self, input: &Value, v: Decimal) -> Result<Value, AnalysisError> {
        let Some(path) = &self.path else { return Ok(input.clone()) };
        if self.factor { path.scale(input, v) } else { path.set(input, v) }
    }

    /// A value of this axis as the table shows it.
    pub fn text(&self, v: Decimal) -> String {
        match (&self.path, self.factor) {
            (Some(p), false) => p.text(v),
            _ => format!("×{}", crate::report::table::grouped(v, 9)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sweep {
    pub vary: Vec<Axis>,
    pub show: Vec<String>,
    pub points: Vec<Point>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// The value of each axis, in `vary` order.
    #[serde(serialize_with = "numbers")]
    pub at: Vec<Decimal>,
    pub rules: IndexMap<String, &'static str>,
    pub values: IndexMap<String, Json>,
    /// Why this point could not be evaluated (the data refused by a `check`, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Evaluates every point of the grid (the first axis outermost), in parallel; the order of
/// the points does not depend on the threads.
pub fn sweep(program: &Program, input: &Value, vary: Vec<Axis>, show: Vec<String>, scenario: Option<&str>) -> Result<Sweep, AnalysisError> {
    use rayon::prelude::*;
    if vary.is_empty() || vary.len() > 2 {
        return Err(usage("a sweep varies one or two inputs: give `--vary` once or twice"));
    }
    let today = program.run_changed(input.clone(), scenario)?;
    let report = today.report_unbounded().ok_or_else(|| usage("the report could not be built"))?;
    super::check_figures(&report, &show)?;
    let total = vary.iter().map(|a| a.values.len()).try_fold(1usize, usize::checked_mul).filter(|n| *n <= MAX_POINTS);
    let total = total.ok_or_else(|| usage(format!("the grid has more than {MAX_POINTS} points: use larger steps")))?;
    let coordinates: Vec<Vec<Decimal>> = (0..total)
        .map(|i| match vary.as_slice() {
            [a] => vec![a.values.get(i).copied().unwrap_or_default()],
            [a, b] => {
                let n = b.values.len().max(1);
                vec![a.values.get(i / n).copied().unwrap_or_default(), b.values.get(i % n).copied().unwrap_or_default()]
            }
            _ => Vec::new(),
        })
        .collect();
    let points = coordinates
        .into_par_iter()
        .map(|at| {
            let evaluated = vary.iter().zip(&at).try_fold(input.clone(), |data, (axis, v)| axis.apply(&data, *v)).and_then(|data| Ok(program.run_changed(data, scenario)?));
            let report = evaluated.map_err(|e| e.to_string()).and_then(|e| e.report_unbounded().ok_or_else(|| "the report could not be built".to_string()));
            match report {
                Ok(r) => Point { rules: statuses(&r), values: show.iter().map(|n| (n.clone(), figure(&r, n).unwrap_or(Json::Null))).collect(), at, error: None },
                Err(e) => Point { at, rules: IndexMap::new(), values: IndexMap::new(), error: Some(e) },
            }
        })
        .collect();
    Ok(Sweep { vary, show, points })
}

fn rule_names(s: &Sweep) -> Vec<String> {
    s.points.iter().find(|p| p.error.is_none()).map(|p| p.rules.keys().cloned().collect()).unwrap_or_default()
}

fn rows(s: &Sweep, csv: bool) -> (Vec<String>, Vec<Vec<String>>) {
    let rules = rule_names(s);
    let mut header: Vec<String> = s.vary.iter().map(|a| if a.factor { format!("{} *=", a.input) } else { a.input.clone() }).collect();
    header.extend(rules.iter().cloned());
    header.extend(s.show.iter().cloned());
    let rows = s
        .points
        .iter()
        .map(|p| {
            let mut row: Vec<String> = s.vary.iter().zip(&p.at).map(|(a, v)| if csv { crate::report::number(*v) } else { a.text(*v) }).collect();
            match &p.error {
                Some(e) => row.push(format!("error: {e}")),
                None => {
                    row.extend(rules.iter().map(|r| p.rules.get(r).copied().unwrap_or("—").to_string()));
                    row.extend(s.show.iter().map(|n| {
                        let j = p.values.get(n).unwrap_or(&Json::Null);
                        match (csv, j) {
                            (true, Json::Object(m)) => m.get("amount").map_or(String::new(), super::figure_cell),
                            (true, Json::Null) => String::new(),
                            (true, _) => super::figure_cell(j),
                            (false, _) => super::table_cell(j),
                        }
                    }));
                }
            }
            row
        })
        .collect();
    (header, rows)
}

/// One row a point, aligned, for people.
pub fn render(s: &Sweep) -> String {
    let (header, rows) = rows(s, false);
    super::aligned(&header, &rows)
}

/// One row a point; money as its amount, numbers as the report writes them.
pub fn csv(s: &Sweep) -> String {
    let (header, rows) = rows(s, true);
    std::iter::once(header).chain(rows).map(|r| r.iter().map(|c| super::csv_field(c)).collect::<Vec<_>>().join(",") + "\n").collect()
}

/// A self-contained page: a heatmap of one rule's statuses per cell over the grid (the first
/// rule that changes across it), the chosen figures written in each cell.
pub fn html(s: &Sweep) -> String {
    super::html::sweep_page(s)
}
