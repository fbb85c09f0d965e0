//! A REPL session: the script's declarations and those typed since, kept as source text and
//! compiled together, so that what is typed is checked and evaluated exactly as it would be
//! in the script. An expression is compiled as a hidden `let` after the program; a what-if
//! shock as a hidden scenario (after the chosen scenario's own shocks).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use serde_json::Value as Json;

use covenant::report::table;
use covenant::report::{NumberStyle, Report};
use covenant::resolve::FsLoader;
use covenant::syntax::ast::Item;
use covenant::{Evaluation, Limits, Program};

/// The hidden `let` an expression is compiled as, and the hidden what-if scenario.
const IT: &str = "__repl";
const WHAT_IF: &str = "__what_if";
/// The name diagnostics give the text typed at the prompt.
pub const TYPED: &str = "<repl>";

/// Words that begin a declaration; anything else typed is an expression.
pub const ITEM_KEYWORDS: &[&str] = &[
    "let", "fn", "schedule", "collateral", "covenant", "margin_call", "liquidation", "default", "scenario", "test", "check", "type",
    "calendar", "input", "import", "facility",
];

/// What one input gave: text for stdout, or a failure (already rendered) for stderr.
pub type Outcome = Result<String, String>;

struct Typed {
    name: Option<String>,
    text: String,
}

/// A part of the compiled source that was typed, for pointing diagnostics at it.
struct Region {
    at: Range<usize>,
    text: String,
}

pub struct Session {
    limits: Limits,
    loader: FsLoader,
    file: Option<PathBuf>,
    script: String,
    /// Script declarations replaced by typed ones: blanked, so every other span keeps its place.
    hidden: Vec<Range<usize>>,
    typed: Vec<Typed>,
    data: Option<(PathBuf, String)>,
    scenario: Option<String>,
    shocks: Vec<String>,
    program: Program,
}

impl Session {
    pub fn new(file: Option<PathBuf>, limits: Limits, loader: FsLoader) -> Result<Session, String> {
        let script = match &file {
            Some(f) => read_script(f, limits)?,
            None => "input { as_of: Date }\n".to_string(),
        };
        let name = root_name(file.as_deref());
        let program = Program::compile_with(&name, &script, limits, &loader).map_err(|e| render_compile(&e, &[], &name))?;
        Ok(Session { limits, loader, file, script, hidden: Vec::new(), typed: Vec::new(), data: None, scenario: None, shocks: Vec::new(), program })
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn load_data(&mut self, path: &Path) -> Outcome {
        let cannot = |e: std::io::Error| format!("error: cannot read `{}`: {}\n", path.display(), e.to_string().to_lowercase());
        // Refused by its length before it is read whole, as `run` refuses it.
        let size = std::fs::metadata(path).map_err(cannot)?.len();
        let limit = self.limits.max_data_bytes;
        if usize::try_from(size).unwrap_or(usize::MAX) > limit {
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            return Err(crate::cli::render_diagnostic(&covenant::EvalError::from(covenant::DataError::TooLarge { size, limit })));
        }
        let text = std::fs::read_to_string(path).map_err(cannot)?;
        if let Err(e) = self.program.bind_text(&text) {
            return Err(crate::cli::render_diagnostic(&e));
        }
        self.data = Some((path.to_path_buf(), text));
        Ok(format!("data: {}\n", path.display()))
    }

    pub fn set_scenario(&mut self, name: Option<&str>) -> Outcome {
        if let Some(n) = name {
            if !self.program.scenario_names().any(|s| s == n) {
                let err = self.program.run_bound(covenant::value::Value::Null, Some(n)).err();
                return Err(err.map_or_else(|| format!("error: unknown scenario `{n}`\n"), |e| crate::cli::render_diagnostic(&e)));
            }
        }
        self.scenario = name.map(str::to_string);
        let what = self.program.ir().scenarios.iter().find(|s| Some(&*s.name) == name);
        let mut out = match what {
            Some(s) => format!("scenario {}{}", s.name, s.title.as_ref().map_or(String::new(), |t| format!(": {t}"))),
            None => "base case".into(),
        };
        if !self.shocks.is_empty() {
            out.push_str(&format!(", with the what-if {} (`:unshock` removes it)", self.shocks.join(", ")));
        }
        Ok(out + "\n")
    }

    /// Re-reads the script (or another one). Declarations typed since are kept on `:reload`
    /// and dropped on `:load`, as a new script starts a new session.
    pub fn load(&mut self, file: Option<PathBuf>) -> Outcome {
        let keep = file.is_none();
        let Some(path) = file.or_else(|| self.file.clone()) else { return Err("error: no script to reload: `:load FILE` first\n".into()) };
        let script = read_script(&path, self.limits)?;
        let typed = if keep { std::mem::take(&mut self.typed) } else { Vec::new() };
        let previous = (std::mem::replace(&mut self.script, script), std::mem::take(&mut self.hidden), self.file.replace(path.clone()));
        self.typed = typed;
        // Typed declarations replace the script's of the same name, as when they were typed.
        let names: Vec<String> = self.typed.iter().filter_map(|t| t.name.clone()).collect();
        self.hidden = script_ranges(&self.script, &self.root()).into_iter().filter(|(n, _)| names.contains(n)).map(|(_, r)| r).collect();
        match self.compile(None, false) {
            Ok((program, _)) => {
                self.program = program;
                if self.scenario.as_deref().is_some_and(|s| !self.program.scenario_names().any(|n| n == s)) {
                    self.scenario = None;
                }
                Ok(format!("loaded {}\n", path.display()))
            }
            Err(e) => {
                (self.script, self.hidden, self.file) = previous;
                if !keep {
                    self.typed = Vec::new();
                }
                Err(e)
            }
        }
    }

    fn root(&self) -> String {
        root_name(self.file.as_deref())
    }

    /// The session's source, with the what-if scenario and an expression's hidden `let` when
    /// asked for, and where the typed parts are.
    fn assemble(&self, expr: Option<&str>, what_if: bool) -> (String, Vec<Region>) {
        let mut source: String = self.script.clone();
        for r in &self.hidden {
            let blank: String = source.get(r.clone()).unwrap_or_default().chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect();
            source.replace_range(r.clone(), &blank);
        }
        let mut regions = Vec::new();
        let mut typed = |source: &mut String, lead: &str, text: &str| {
            source.push_str(lead);
            regions.push(Region { at: source.len()..source.len() + text.len(), text: text.to_string() });
            source.push_str(text);
        };
        for t in &self.typed {
            typed(&mut source, "\n", &t.text);
        }
        if what_if && !self.shocks.is_empty() {
            source.push_str(&format!("\nscenario {WHAT_IF} {{\n"));
            // The chosen scenario's own shocks first: a what-if adds to the scenario.
            if let Some(s) = self.program.ir().scenarios.iter().find(|s| Some(&*s.name) == self.scenario.as_deref()) {
                for k in &s.shocks {
                    source.push_str(self.program.sources().text(k.span));
                    source.push('\n');
                }
            }
            for shock in &self.shocks {
                typed(&mut source, "\n", shock);
            }
            source.push_str("\n}");
        }
        if let Some(e) = expr {
            typed(&mut source, &format!("\nlet {IT} = "), e);
        }
        source.push('\n');
        (source, regions)
    }

    fn compile(&self, expr: Option<&str>, what_if: bool) -> Result<(Program, Vec<Region>), String> {
        let (source, regions) = self.assemble(expr, what_if);
        match Program::compile_with(&self.root(), &source, self.limits, &self.loader) {
            Ok(p) => Ok((p, regions)),
            Err(e) => Err(render_compile(&e, &regions, &self.root())),
        }
    }

    fn is_rule(&self, name: &str) -> bool {
        let ir = self.program.ir();
        let names = ir.pools.iter().map(|d| &d.name).chain(ir.covenants.iter().map(|d| &d.name)).chain(ir.margin_calls.iter().map(|d| &d.name));
        let mut names = names.chain(ir.liquidations.iter().map(|d| &d.name)).chain(ir.defaults.iter().map(|d| &d.name));
        names.any(|n| &**n == name)
    }

    fn run_scenario(&self) -> Option<&str> {
        if self.shocks.is_empty() {
            self.scenario.as_deref()
        } else {
            Some(WHAT_IF)
        }
    }

    fn data_text(&self) -> Result<&str, String> {
        self.data.as_ref().map(|(_, t)| t.as_str()).ok_or_else(|| "error: no data loaded: start with `--data FILE` or type `:data FILE`\n".to_string())
    }

    /// Evaluates the program compiled with `extra`, the what-if shocks included.
    fn evaluate<'p>(&self, program: &'p Program) -> Result<Evaluation<'p>, String> {
        program.run(self.data_text()?, self.run_scenario()).map_err(|e| crate::cli::render_diagnostic(&e))
    }

    /// The report of the session as it stands (shocks included), for `:rules` and for
    /// showing what a change changed.
    fn report(&self) -> Result<Report, String> {
        let (program, _) = self.compile(None, true)?;
        let evaluation = self.evaluate(&program)?;
        let mut report = evaluation.report().map_err(|e| crate::cli::render_diagnostic(&covenant::EvalError::from(e)))?;
        if !self.shocks.is_empty() {
            report.scenario = Some(self.scenario.clone().unwrap_or_else(|| "base case".into()));
            report.scenario_title = Some(format!("what-if {}", self.shocks.join(", ")));
        }
        Ok(report)
    }

    /// An expression: its value as the report prints it, and its type when asked for.
    pub fn eval(&self, expr: &str, with_type: bool) -> Outcome {
        if let Some(f) = self.program.ir().fns.iter().find(|f| with_type && &*f.name == expr.trim()) {
            let params: Vec<String> = f.params.iter().map(|(n, t)| format!("{n}: {t}")).collect();
            return Ok(format!("{}({}) -> {}\n", f.name, params.join(", "), f.ret));
        }
        if !with_type && self.is_rule(expr.trim()) {
            // A rule or pool named alone: its figures, as the report has them.
            let prefix = format!("{}.", expr.trim());
            let rows: Vec<(String, String)> = figures(&self.report()?).into_iter().filter(|(n, _)| n.starts_with(&prefix)).collect();
            let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            return Ok(rows.iter().map(|(n, v)| format!("{n:<width$}  {v}\n")).collect());
        }
        let (program, regions) = self.compile(Some(expr.trim()), true)?;
        let Some(def) = program.ir().lets.iter().find(|l| &*l.name == IT) else { return Err("error: the expression was not compiled\n".into()) };
        let ty = def.ty.to_string();
        if with_type {
            return Ok(format!("{}: {ty}\n", expr.trim()));
        }
        let evaluation = self.evaluate(&program)?;
        if let Some(e) = evaluation.errors().iter().find(|e| &*e.name == IT) {
            let (line, column) = program.sources().line_column(e.span);
            let start = e.span.start as usize;
            let at = regions.iter().find(|r| r.at.contains(&start)).map_or((line, column), |r| (1, start - r.at.start + 1));
            return Err(format!("error: {} (at {TYPED}:{}:{})\n", e.message, at.0, at.1));
        }
        let report = evaluation.report().map_err(|e| crate::cli::render_diagnostic(&covenant::EvalError::from(e)))?;
        let value = report.values.get(IT).cloned().unwrap_or(Json::Null);
        // A value named alone is shown as the report shows that value.
        let style = report.value_styles.get(expr.trim()).or_else(|| report.value_styles.get(IT)).copied().unwrap_or_default();
        let shown = styled(&value, style);
        Ok(if matches!(value, Json::Null) { format!("{shown}  (no value)\n") } else { format!("{shown}\n") })
    }

    /// A declaration: replaces any of the same name, and says what that changed.
    pub fn define(&mut self, text: &str) -> Outcome {
        let names = declared_names(text, &self.root()).map_err(|e| render_typed(&*e, text))?;
        let before = self.report().ok();
        let previous_typed: Vec<(Option<String>, String)> = self.typed.iter().map(|t| (t.name.clone(), t.text.clone())).collect();
        let previous_hidden = self.hidden.clone();
        let mut replaced = Vec::new();
        for name in names.iter().flatten() {
            if let Some(i) = self.typed.iter().position(|t| t.name.as_deref() == Some(name)) {
                self.typed.remove(i);
                replaced.push(name.clone());
            } else if let Some((_, r)) = script_ranges(&self.script, &self.root()).into_iter().find(|(n, _)| n == name) {
                self.hidden.push(r);
                replaced.push(name.clone());
            }
        }
        // One typed entry per declaration, so each can be replaced on its own.
        let pieces = split_items(text, &self.root());
        for (name, piece) in pieces {
            self.typed.push(Typed { name, text: piece });
        }
        match self.compile(None, false) {
            Ok((program, _)) => self.program = program,
            Err(e) => {
                self.typed = previous_typed.into_iter().map(|(name, text)| Typed { name, text }).collect();
                self.hidden = previous_hidden;
                return Err(e);
            }
        }
        let named: Vec<String> = names.iter().flatten().cloned().collect();
        let mut out = match (named.is_empty(), replaced.is_empty()) {
            (true, _) => "ok\n".to_string(),
            (false, true) => format!("defined {}\n", quoted(&named)),
            (false, false) => format!("redefined {}\n", quoted(&named)),
        };
        if let (Some(before), Ok(after)) = (before, self.report()) {
            out.push_str(&changes(&before, &after));
        }
        Ok(out)
    }

    /// `:shock PATH OP VALUE`: checked by compiling it into the hidden scenario.
    pub fn shock(&mut self, shock: &str) -> Outcome {
        let before = self.report().ok();
        self.shocks.push(shock.trim().to_string());
        let checked = self.compile(None, true).and_then(|(p, _)| self.evaluate(&p).map(|_| ()));
        if let Err(e) = checked {
            self.shocks.pop();
            return Err(e);
        }
        let mut out = format!("what-if: {}\n", self.shocks.join(", "));
        if let (Some(before), Ok(after)) = (before, self.report()) {
            out.push_str(&changes(&before, &after));
        }
        Ok(out)
    }

    pub fn unshock(&mut self) -> Outcome {
        if self.shocks.is_empty() {
            return Ok("no shocks to remove\n".into());
        }
        let before = self.report().ok();
        self.shocks.clear();
        let mut out = String::from("shocks removed\n");
        if let (Some(before), Ok(after)) = (before, self.report()) {
            out.push_str(&changes(&before, &after));
        }
        Ok(out)
    }

    /// `:rules`: the report's tables without the values.
    pub fn rules(&self) -> Outcome {
        let mut report = self.report()?;
        report.values.clear();
        Ok(table::render(&report))
    }

    /// `:explain NAME [DEPTH]`: the tree behind a figure, cut at `DEPTH` levels when given.
    pub fn explain(&self, arg: &str) -> Outcome {
        let (name, depth) = match arg.trim().rsplit_once(char::is_whitespace) {
            Some((name, depth)) if depth.parse::<usize>().is_ok() => (name.trim(), depth.parse::<usize>().ok()),
            _ => (arg.trim(), None),
        };
        let (program, regions) = self.compile(None, true)?;
        let evaluation = self.evaluate(&program)?;
        match evaluation.explain(name) {
            Some(mut why) => {
                if let Some(d) = depth {
                    covenant::explain::prune(&mut why, d);
                }
                let root = program.sources().file(covenant::span::FileId(0)).map(|f| (f.name.clone(), f.text.clone()));
                if let Some((file, text)) = root {
                    relocate(&mut why, &file, &text, &regions);
                }
                let tree = covenant::explain::render_tree(&why);
                Ok(tree.replace(&format!("scenario `{WHAT_IF}`"), &format!("the what-if `{}`", self.shocks.join(", "))))
            }
            None => {
                let names = evaluation.figure_names();
                let help = covenant::resolve::suggestion(name, names.iter().map(String::as_str), "figure");
                Err(format!("error: no figure `{}` to explain\n  help: {help}\n", covenant::text::escape_controls(name)))
            }
        }
    }

    /// `:inputs`: every path of the data with its value, and the shocks applied over them.
    pub fn inputs(&self) -> Outcome {
        let text = self.data_text()?;
        let json: Json = serde_json::from_str(text).map_err(|e| format!("error: the data is not JSON: {e}\n"))?;
        let mut rows = Vec::new();
        flatten("input", &json, &mut rows);
        let width = rows.iter().map(|(p, _)| p.chars().count()).max().unwrap_or(0);
        let mut out: String = rows.iter().map(|(p, v)| format!("{p:<width$}  {v}\n")).collect();
        if let Some(s) = &self.scenario {
            out.push_str(&format!("(under scenario {s})\n"));
        }
        for s in &self.shocks {
            out.push_str(&format!("(shocked: {s})\n"));
        }
        Ok(out)
    }

    /// A one-line summary of where the session stands, for the banner.
    pub fn status(&self) -> String {
        let script = self.file.as_ref().map_or("no script".to_string(), |f| f.display().to_string());
        let data = self.data.as_ref().map_or("no data".to_string(), |(p, _)| p.display().to_string());
        let scenario = self.scenario.as_deref().map_or("base case".to_string(), |s| format!("scenario {s}"));
        format!("{script} · {data} · {scenario}")
    }
}

fn root_name(file: Option<&Path>) -> String {
    file.map_or_else(|| "repl.cov".to_string(), |f| f.display().to_string())
}

fn read_script(path: &Path, limits: Limits) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("error: cannot read `{}`: {}\n", path.display(), e.to_string().to_lowercase()))?;
    if usize::try_from(meta.len()).unwrap_or(usize::MAX) > limits.max_source_bytes {
        return Err(format!("error: `{}` is over the limit of {} bytes (`max_source_bytes`)\n", path.display(), limits.max_source_bytes));
    }
    std::fs::read_to_string(path).map_err(|e| format!("error: cannot read `{}`: {}\n", path.display(), e.to_string().to_lowercase()))
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn parse(text: &str, name: &str) -> Result<covenant::syntax::ast::Module, Box<covenant::syntax::SyntaxError>> {
    let src = NamedSource::new(name, Arc::<str>::from(text));
    covenant::syntax::parse(text, covenant::span::FileId(0), &src, Limits::default().max_nesting).map_err(Box::new)
}

/// The name an item declares, and where it is.
fn item_name_span(item: &Item) -> (Option<&str>, Option<covenant::span::Span>) {
    match item {
        Item::Let(d) => (Some(&d.name.name), Some(d.span)),
        Item::Fn(d) => (Some(&d.name.name), Some(d.span)),
        Item::Schedule(d) => (Some(&d.name.name), Some(d.span)),
        Item::Collateral(d) => (Some(&d.name.name), Some(d.span)),
        Item::Covenant(d) => (Some(&d.name.name), Some(d.span)),
        Item::MarginCall(d) => (Some(&d.name.name), Some(d.span)),
        Item::Liquidation(d) => (Some(&d.name.name), Some(d.span)),
        Item::Default(d) => (Some(&d.name.name), Some(d.span)),
        Item::Scenario(d) => (Some(&d.name.name), Some(d.span)),
        Item::Simulation(d) => (Some(&d.name.name), Some(d.span)),
        Item::Calendar { name, span, .. } => (name.as_ref().map(|n| n.name.as_str()), Some(*span)),
        Item::Test(d) => (None, Some(d.span)),
        Item::Check(d) => (None, Some(d.span)),
        Item::Facility { span, .. } | Item::Input { span, .. } => (None, Some(*span)),
        Item::TypeDef { name, .. } => (Some(&name.name), None),
        Item::Import(_) => (None, None),
    }
}

/// The script's named declarations and their byte ranges.
fn script_ranges(script: &str, name: &str) -> Vec<(String, Range<usize>)> {
    let Ok(module) = parse(script, name) else { return Vec::new() };
    module
        .items
        .iter()
        .filter_map(|item| match item_name_span(item) {
            (Some(n), Some(s)) => Some((n.to_string(), s.start as usize..s.end as usize)),
            _ => None,
        })
        .collect()
}

fn declared_names(text: &str, name: &str) -> Result<Vec<Option<String>>, Box<covenant::syntax::SyntaxError>> {
    let module = parse(text, name)?;
    Ok(module.items.iter().map(|i| item_name_span(i).0.map(str::to_string)).collect())
}

/// A typed input of several declarations, one piece each (comments stay with the next).
fn split_items(text: &str, name: &str) -> Vec<(Option<String>, String)> {
    let Ok(module) = parse(text, name) else { return vec![(None, text.to_string())] };
    let spans: Vec<(Option<String>, Option<usize>)> =
        module.items.iter().map(|i| { let (n, s) = item_name_span(i); (n.map(str::to_string), s.map(|s| s.end as usize)) }).collect();
    if spans.len() <= 1 || spans.iter().any(|(_, e)| e.is_none()) {
        return vec![(spans.into_iter().next().and_then(|(n, _)| n), text.to_string())];
    }
    let mut start = 0;
    spans
        .into_iter()
        .map(|(n, end)| {
            let end = end.unwrap_or(text.len());
            let piece = text.get(start..end).unwrap_or_default().trim().to_string();
            start = end;
            (n, piece)
        })
        .collect()
}

fn styled(v: &Json, style: NumberStyle) -> String {
    match (v, style) {
        (Json::String(s), NumberStyle::Percent) => table::percent(s),
        (Json::String(s), NumberStyle::Multiple) if s.parse::<rust_decimal::Decimal>().is_ok() => {
            format!("{}x", table::cell(v).trim_end_matches('0').trim_end_matches('.'))
        }
        _ => table::cell(v),
    }
}

/// The figures of the report, one line each, as the table shows them.
fn figures(r: &Report) -> Vec<(String, String)> {
    // The rules first: what an analyst looks for after a change.
    let mut out = Vec::new();
    let json = serde_json::to_value(r).unwrap_or(Json::Null);
    for section in ["covenants", "margin_calls", "liquidations", "defaults", "collateral"] {
        let Some(Json::Object(rules)) = json.get(section) else { continue };
        for (name, rule) in rules {
            let Json::Object(fields) = rule else { continue };
            for (field, v) in fields {
                if matches!(field.as_str(), "title" | "location" | "sold" | "events" | "cure" | "raw_amount" | "units") || v.is_object() && v.get("currency").is_none() || v.is_array() {
                    continue;
                }
                out.push((format!("{name}.{field}"), table::cell(v)));
            }
        }
    }
    for (name, v) in &r.values {
        if name != IT {
            out.push((name.clone(), styled(v, r.value_styles.get(name).copied().unwrap_or_default())));
        }
    }
    out
}

/// What changed between two reports, one figure a line.
fn changes(before: &Report, after: &Report) -> String {
    let old = figures(before);
    let mut out = String::new();
    for (name, new) in figures(after) {
        match old.iter().find(|(n, _)| *n == name) {
            Some((_, was)) if *was != new => out.push_str(&format!("  {name}: {was} → {new}\n")),
            None => out.push_str(&format!("  {name}: {new}\n")),
            _ => {}
        }
    }
    out
}

fn flatten(path: &str, v: &Json, out: &mut Vec<(String, String)>) {
    match v {
        Json::Object(o) if !(o.len() == 2 && o.contains_key("amount") && o.contains_key("currency")) => {
            for (k, x) in o {
                flatten(&format!("{path}.{k}"), x, out);
            }
        }
        Json::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for (i, x) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), x, out);
            }
        }
        other => out.push((path.to_string(), table::cell(other))),
    }
}

/// Points the figures declared at the prompt at the text typed (`<repl>:LINE:COLUMN`) rather
/// than past the end of the script.
fn relocate(node: &mut covenant::explain::Explanation, file: &str, text: &str, regions: &[Region]) {
    if let Some(at) = node.location.as_mut().filter(|l| l.file == file) {
        let line_start: usize = text.split_inclusive('\n').take(at.line.saturating_sub(1)).map(str::len).sum();
        let offset = text.get(line_start..).map_or(line_start, |rest| line_start + rest.chars().take(at.column.saturating_sub(1)).map(char::len_utf8).sum::<usize>());
        if let Some(r) = regions.iter().find(|r| r.at.contains(&offset)) {
            let before = r.text.get(..offset - r.at.start).unwrap_or("");
            at.file = TYPED.to_string();
            at.line = before.matches('\n').count() + 1;
            at.column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        }
    }
    for child in &mut node.children {
        relocate(child, file, text, regions);
    }
}

/// A diagnostic moved onto the text typed: its labels shifted to the typed piece they fall in.
struct Relocated<'a> {
    inner: &'a dyn Diagnostic,
    source: NamedSource<String>,
    shift: usize,
    len: usize,
}

impl std::fmt::Debug for Relocated<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.inner, f)
    }
}

impl std::fmt::Display for Relocated<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self.inner, f)
    }
}

impl std::error::Error for Relocated<'_> {}

impl Diagnostic for Relocated<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.code()
    }
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.help()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.inner.severity()
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let labels = self.inner.labels()?;
        let (shift, len) = (self.shift, self.len);
        // A label just past the text (the end of the input) stays at its end.
        Some(Box::new(labels.filter(move |l| (shift..=shift + len + 1).contains(&l.offset())).map(move |l| {
            let start = (l.offset() - shift).min(len);
            let length = l.len().min(len.saturating_sub(start));
            LabeledSpan::new(l.label().map(str::to_string), start, length)
        })))
    }
}

/// The offset of a diagnostic's first label in the root file, if it has one there.
fn root_offset(d: &dyn Diagnostic, root: &str) -> Option<usize> {
    let label = d.labels()?.next()?;
    let src = d.source_code()?;
    let contents = src.read_span(label.inner(), 0, 0).ok()?;
    // Diagnostics in the standard library or an imported file name that file.
    (contents.name()? == root).then_some(label.offset())
}

fn render_compile(e: &covenant::CompileError, regions: &[Region], root: &str) -> String {
    let mut out = String::new();
    for d in &e.diagnostics {
        let d: &dyn Diagnostic = &**d;
        let region = root_offset(d, root).and_then(|at| regions.iter().find(|r| (r.at.start..=r.at.end + 1).contains(&at)));
        out.push_str(&match region {
            Some(r) => crate::cli::render_diagnostic(&Relocated { inner: d, source: NamedSource::new(TYPED, r.text.clone()), shift: r.at.start, len: r.text.len() }),
            None => crate::cli::render_diagnostic(d),
        });
    }
    out
}

fn render_typed(d: &dyn Diagnostic, text: &str) -> String {
    crate::cli::render_diagnostic(&Relocated { inner: d, source: NamedSource::new(TYPED, text.to_string()), shift: 0, len: text.len() })
}
