//! Why a figure is what it is: the tree of figures behind any value or rule of a finished
//! evaluation, down to the data and the literals.
//!
//! Explaining costs nothing until it is asked for. An ordinary run records nothing (its
//! tracer is the zero-size `NoTrace`); an explanation runs the program's globals again on
//! the evaluated data under a [`Recording`] tracer, which keeps every named figure's value
//! (`let`s, pools, rules) and the figures it read. The explanation takes those values from
//! the recording, and reads the sub-expressions between them against a store that holds
//! only the figure's recorded cone (what it read, directly or not): they are evaluated again
//! with the same data and recorded values, which gives the same values, since evaluation is
//! deterministic.

use std::collections::HashSet;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value as Json;

use crate::check::input_path_of;
use crate::dates::Date;
use crate::eval::{Evaluator, Recording};
use crate::evaluation::Evaluation;
use crate::ir::{self, ExprId, Global, Node};
use crate::lending::{CovenantStatus, MarginStatus};
use crate::report::{self, number};
use crate::span::Span;
use crate::types::Type;
use crate::value::Value;

/// One figure and the figures it was computed from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// What the node is: `value` (a `let`), `rule` (a pool, a rule or one of their fields),
    /// `input` (a field of the data, or of a list element the rule runs over), `literal`,
    /// `expression` (an operation between them) or `step` (a lending mechanic: a test-date
    /// decision, a rounding, a sale).
    pub kind: &'static str,
    /// The figure's name (`ltv`, `btc.eligible_value`, `input.btc.price`), or `null` for
    /// an unnamed sub-expression.
    pub name: Option<String>,
    /// The source text that computes it, or a description of a lending step.
    pub expr: String,
    /// The value as the JSON report writes it (`null` when it could not be computed).
    pub value: Json,
    pub location: Option<Location>,
    /// How a lending step reached its value (a test-date decision, a rounding, why a sale
    /// stopped), or where a shocked input came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A named figure explained earlier in the same tree: its children are there.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shown_above: bool,
    pub children: Vec<Explanation>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl Explanation {
    fn leaf(kind: &'static str, name: Option<String>, expr: String, value: Json, location: Option<Location>) -> Self {
        Explanation { kind, name, expr, value, location, note: None, shown_above: false, children: Vec::new() }
    }

    fn step(expr: impl Into<String>, value: Json, note: Option<String>, children: Vec<Explanation>) -> Self {
        Explanation { kind: "step", name: None, expr: expr.into(), value, location: None, note, shown_above: false, children }
    }

    /// Every node of the tree, depth first.
    pub fn walk(&self) -> Vec<&Explanation> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.walk());
        }
        out
    }
}

/// The most positions of a pool listed one by one; the rest are counted.
const MAX_POSITIONS: usize = 50;

/// Figures deeper than this are not expanded (a bound on the tree, not on the program).
const MAX_DEPTH: usize = 64;

pub(crate) fn explain(evaluation: &Evaluation<'_>, name: &str) -> Option<Explanation> {
    let program = evaluation.program;
    let ir = program.ir();
    let root = root_global(ir, name)?;
    // The recording run spends its own budget, as the evaluation did; re-reading figures is
    // bounded like it: past the budget, the sub-expressions still to read show no value.
    let run = crate::engine::evaluator(program, evaluation.input.clone(), program.limits().budget());
    let recording = Recording::new(ir, run.as_of);
    let mut run = run.with_tracer(recording);
    crate::engine::run_globals(&mut run);
    let (outcome, mut recording) = run.into_parts();
    recording.finish(&outcome);
    let recorded = Evaluation { program, scenario: evaluation.scenario, outcome: recording.values().clone(), input: Value::Null, base_input: None, ledger: None };
    let report = recorded.report_unbounded()?;
    let mut ev = Evaluator::new(ir, evaluation.input.clone(), recording.values().as_of).with_budget(program.limits().budget());
    ev.out = recording.cone(ir, root);
    ev.searching = true;
    let mut x = Explainer { ir, evaluation, report, ev, shown: HashSet::new(), depth: 0 };
    x.figure(name)
}

/// The global a figure name starts from: a value, or the rule of a rule or rule field.
fn root_global(ir: &ir::Ir, name: &str) -> Option<Global> {
    if let Some(i) = ir.lets.iter().position(|l| &*l.name == name) {
        return u32::try_from(i).ok().map(Global::Let);
    }
    let rule = name.split_once('.').map_or(name, |(r, _)| r);
    ir.order.iter().copied().find(|g| crate::check::global_name(ir, *g).is_some_and(|n| &*n == rule))
}

/// Names an explanation can start from: every value and rule, and every rule field.
pub(crate) fn figure_names(ir: &ir::Ir) -> Vec<String> {
    let mut names: Vec<String> = ir.lets.iter().filter(|l| l.reported).map(|l| l.name.to_string()).collect();
    for p in &ir.pools {
        names.push(p.name.to_string());
        names.extend(crate::check::rule_fields(crate::types::RuleKind::Pool).iter().map(|f| format!("{}.{f}", p.name)));
    }
    for c in &ir.covenants {
        names.push(c.name.to_string());
        names.extend(["status", "value", "limit", "headroom"].iter().map(|f| format!("{}.{f}", c.name)));
        if c.cure.is_some() {
            names.push(format!("{}.cure_amount", c.name));
        }
    }
    for m in &ir.margin_calls {
        names.push(m.name.to_string());
        names.extend(["status", "amount", "raw_amount", "due"].iter().map(|f| format!("{}.{f}", m.name)));
    }
    for l in &ir.liquidations {
        names.push(l.name.to_string());
        names.extend(["triggered", "debt", "proceeds", "shortfall", "surplus", "recovery"].iter().map(|f| format!("{}.{f}", l.name)));
    }
    for d in &ir.defaults {
        names.push(d.name.to_string());
        names.push(format!("{}.triggered", d.name));
    }
    names
}

struct Explainer<'e, 'p> {
    ir: &'p ir::Ir,
    evaluation: &'e Evaluation<'p>,
    /// The evaluation's report, built once: rule figures take their values from it.
    report: crate::report::Report,
    ev: Evaluator<'p>,
    /// Named figures already explained in this tree.
    shown: HashSet<String>,
    depth: usize,
}

impl Explainer<'_, '_> {
    fn location(&self, span: Span) -> Option<Location> {
        let sources = self.evaluation.program.sources();
        let file = sources.file(span.file)?.name.clone();
        let (line, column) = sources.line_column(span);
        Some(Location { file, line, column })
    }

    fn text(&self, span: Span) -> String {
        let text = self.evaluation.program.sources().text(span);
        let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        // An expression's span ends at its last operand, before the parentheses that close
        // around it: they are put back for reading.
        let open = text.matches('(').count().saturating_sub(text.matches(')').count());
        text.push_str(&")".repeat(open));
        crate::text::escape_controls(&text).into_owned()
    }

    fn figure(&mut self, name: &str) -> Option<Explanation> {
        let ir = self.ir;
        if let Some(i) = ir.lets.iter().position(|l| &*l.name == name) {
            return Some(self.let_figure(i));
        }
        let (rule, field) = match name.split_once('.') {
            Some((r, f)) => (r, Some(f)),
            None => (name, None),
        };
        let global = ir.order.iter().copied().find(|g| crate::check::global_name(ir, *g).is_some_and(|n| &*n == rule))?;
        if matches!(global, Global::Let(_)) {
            return None;
        }
        self.rule_figure(global, field)
    }

    fn let_figure(&mut self, i: usize) -> Explanation {
        let ir = self.ir;
        let Some(def) = ir.lets.get(i) else { return Explanation::step("?", Json::Null, None, Vec::new()) };
        let value = match self.ev.out.lets.get(i) {
            Some(Some(Ok(v))) => report::value_json(v, &def.ty),
            _ => Json::Null,
        };
        let name = def.name.to_string();
        let mut node = Explanation::leaf("value", Some(name.clone()), self.text(ir.arena.span(def.body.expr)), value, self.location(def.span));
        if !self.shown.insert(name) {
            node.shown_above = true;
            return node;
        }
        if self.depth >= MAX_DEPTH {
            return node;
        }
        self.depth += 1;
        let base = self.ev.open_frame(Value::Null, def.body.frame as usize);
        node.children = self.children_of(def.body.expr, base);
        if let Some(Node::CallFn { func, args }) = ir.arena.node(def.body.expr) {
            node.note = self.schedule_row(*func, args.first().copied(), base);
        }
        self.ev.close_frame(base);
        self.depth -= 1;
        node
    }

    /// The figures an expression is computed from: its operands, with named figures and
    /// data as leaves or as figures of their own.
    fn children_of(&mut self, id: ExprId, base: usize) -> Vec<Explanation> {
        let Some(node) = self.ir.arena.node(id).cloned() else { return Vec::new() };
        match node {
            // A field of the input, or a named figure: the expression is that figure itself.
            Node::Const(_) | Node::Global(_) | Node::Input | Node::PoolField(..) | Node::CovenantField(..) | Node::MarginField(..) | Node::LiquidationField(..) | Node::DefaultField(..) => {
                vec![self.expr(id, base)]
            }
            Node::Field { .. } | Node::Local(_) if data_path(self.ir, id) => vec![self.expr(id, base)],
            _ => self.operands(&node, base),
        }
    }

    fn operands(&mut self, node: &Node, base: usize) -> Vec<Explanation> {
        match node {
            Node::If { cond, then, otherwise } => {
                let taken = match self.ev.expr(*cond, base) {
                    Ok(Value::Bool(true)) => Some(*then),
                    Ok(Value::Bool(false)) => Some(*otherwise),
                    _ => None,
                };
                std::iter::once(*cond).chain(taken).map(|c| self.expr(c, base)).collect()
            }
            // An aggregate's body and filter are read per element; its list is what it reads.
            Node::Aggregate { list, default, .. } => std::iter::once(*list).chain(*default).map(|c| self.expr(c, base)).collect(),
            // A schedule's value comes from its rows; the call's arguments say which.
            Node::Schedule { .. } => Vec::new(),
            other => {
                let mut kids = Vec::new();
                crate::resolve::children(other, &mut |c| kids.push(c));
                kids.into_iter().map(|c| self.expr(c, base)).collect()
            }
        }
    }

    /// One expression as a node: a named figure, an input, a literal, or an operation.
    fn expr(&mut self, id: ExprId, base: usize) -> Explanation {
        let ir = self.ir;
        let span = ir.arena.span(id);
        let Some(node) = ir.arena.node(id).cloned() else { return Explanation::step("?", Json::Null, None, Vec::new()) };
        match node {
            Node::Global(Global::Let(i)) => self.let_figure(i as usize),
            Node::Global(g) => self.rule_figure(g, None).unwrap_or_else(|| Explanation::step(self.text(span), Json::Null, None, Vec::new())),
            Node::PoolField(i, _) => self.field_figure(Global::Pool(i), field_name(&node), span),
            Node::CovenantField(i, _) => self.field_figure(Global::Covenant(i), field_name(&node), span),
            Node::MarginField(i, _) => self.field_figure(Global::MarginCall(i), field_name(&node), span),
            Node::LiquidationField(i, _) => self.field_figure(Global::Liquidation(i), field_name(&node), span),
            Node::DefaultField(i, _) => self.field_figure(Global::Default(i), field_name(&node), span),
            _ => {
                let value = self.value_of(id, base);
                let text = self.text(span);
                if data_path(ir, id) {
                    let mut leaf = Explanation::leaf("input", Some(text.clone()), text, value, self.location(span));
                    leaf.note = input_path_of(ir, id).and_then(|path| self.shock_note(&path));
                    return leaf;
                }
                if matches!(node, Node::Const(_)) {
                    return Explanation::leaf("literal", None, text, value, self.location(span));
                }
                let mut n = Explanation::leaf("expression", None, text, value, self.location(span));
                if self.depth < MAX_DEPTH {
                    self.depth += 1;
                    n.children = self.operands(&node, base);
                    self.depth -= 1;
                }
                if let Node::CallFn { func, args } = &node {
                    n.note = self.schedule_row(*func, args.first().copied(), base);
                }
                n
            }
        }
    }

    /// Which row of a step schedule gave its value, or which segment of an interpolated
    /// one; `None` when the function is no schedule.
    fn schedule_row(&mut self, func: u32, arg: Option<ExprId>, base: usize) -> Option<String> {
        let ir = self.ir;
        let f = ir.fns.get(func as usize)?;
        let Some(Node::Schedule { rows, interpolate }) = ir.arena.node(f.body.expr).cloned() else { return None };
        let key = self.ev.expr(arg?, base).ok()?;
        let frame = self.ev.open_frame(key.clone(), (f.body.frame as usize).max(1));
        let row_text = |x: &Self, row: &ir::ScheduleRow| {
            let head = match row.key {
                Some((_, k)) if interpolate => x.text(ir.arena.span(k)),
                Some((op, k)) => format!("{} {}", op.symbol(), x.text(ir.arena.span(k))),
                None => "else".to_string(),
            };
            format!("`{head} => {}`", x.text(ir.arena.span(row.value)))
        };
        let mut note = None;
        if interpolate {
            let x = key.num();
            let mut previous: Option<&ir::ScheduleRow> = None;
            for row in &rows {
                let Some((_, k)) = row.key else { continue };
                let kx = self.ev.expr(k, frame).ok().and_then(|v| v.num());
                if let (Some(x), Some(kx)) = (x, kx) {
                    if x <= kx {
                        note = Some(match previous {
                            Some(p) => format!("interpolated between the points {} and {} of `{}`", row_text(self, p), row_text(self, row), f.name),
                            None => format!("at or before the first point {} of `{}`", row_text(self, row), f.name),
                        });
                        break;
                    }
                }
                previous = Some(row);
            }
            if note.is_none() {
                note = previous.map(|p| format!("past the last point {} of `{}`", row_text(self, p), f.name));
            }
        } else {
            for row in &rows {
                let matches = match row.key {
                    None => true,
                    Some((op, k)) => match self.ev.expr(k, frame) {
                        Ok(kv) => crate::eval::ops::compare(op, &key, &kv, ir.arena.span(k)).unwrap_or(false),
                        Err(_) => false,
                    },
                };
                if matches {
                    note = Some(format!("row {} of `{}`", row_text(self, row), f.name));
                    break;
                }
            }
        }
        self.ev.close_frame(frame);
        note
    }

    fn value_of(&mut self, id: ExprId, base: usize) -> Json {
        let ty = self.ir.arena.ty(id).clone();
        match self.ev.expr(id, base) {
            Ok(v) => report::value_json(&v, &ty),
            Err(_) => Json::Null,
        }
    }

    /// Where a shocked input came from: its value before the scenario's shocks.
    fn shock_note(&self, path: &[u32]) -> Option<String> {
        let scenario = self.evaluation.scenario?;
        let before = value_at(self.evaluation.base_input.as_ref()?, path)?;
        let after = value_at(&self.evaluation.input, path)?;
        (before != after).then(|| format!("shocked by scenario `{}`; {} before the shock", scenario.name, plain_value(before)))
    }

    /// `btc.eligible_value`: the field's value, explained by its rule.
    fn field_figure(&mut self, rule: Global, field: &str, span: Span) -> Explanation {
        match self.rule_figure(rule, Some(field)) {
            Some(mut n) => {
                n.location = n.location.or_else(|| self.location(span));
                n
            }
            None => Explanation::step(self.text(span), Json::Null, None, Vec::new()),
        }
    }

    /// A rule, or one of its fields: its value, and the rule's mechanics as children.
    fn rule_figure(&mut self, g: Global, field: Option<&str>) -> Option<Explanation> {
        let ir = self.ir;
        let rule_name = crate::check::global_name(ir, g)?.to_string();
        let name = match field {
            Some(f) => format!("{rule_name}.{f}"),
            None => rule_name.clone(),
        };
        let value = self.rule_value(g, field)?;
        let (span, title) = match g {
            Global::Pool(i) => ir.pools.get(i as usize).map(|d| (d.span, d.title.clone()))?,
            Global::Covenant(i) => ir.covenants.get(i as usize).map(|d| (d.span, d.title.clone()))?,
            Global::MarginCall(i) => ir.margin_calls.get(i as usize).map(|d| (d.span, d.title.clone()))?,
            Global::Liquidation(i) => ir.liquidations.get(i as usize).map(|d| (d.span, d.title.clone()))?,
            Global::Default(i) => ir.defaults.get(i as usize).map(|d| (d.span, d.title.clone()))?,
            Global::Let(_) => return None,
        };
        let kind = match g {
            Global::Pool(_) => "collateral",
            Global::Covenant(_) => "covenant",
            Global::MarginCall(_) => "margin_call",
            Global::Liquidation(_) => "liquidation",
            _ => "default",
        };
        let expr = match &title {
            Some(t) => format!("{kind} {rule_name} \"{}\"", crate::text::escape_controls(t)),
            None => format!("{kind} {rule_name}"),
        };
        let mut node = Explanation::leaf("rule", Some(name), expr, value, self.location(span));
        // A rule's mechanics are shown once per tree, whichever field reached it first.
        if !self.shown.insert(rule_name) {
            node.shown_above = true;
            return Some(node);
        }
        if self.depth >= MAX_DEPTH {
            return Some(node);
        }
        self.depth += 1;
        node.children = match g {
            Global::Pool(i) => self.pool_steps(i as usize),
            Global::Covenant(i) => self.covenant_steps(i as usize),
            Global::MarginCall(i) => self.margin_steps(i as usize),
            Global::Liquidation(i) => self.liquidation_steps(i as usize),
            Global::Default(i) => self.default_steps(i as usize),
            Global::Let(_) => Vec::new(),
        };
        self.depth -= 1;
        Some(node)
    }

    /// A rule's value as the report writes it, or one field of it.
    fn rule_value(&self, g: Global, field: Option<&str>) -> Option<Json> {
        let report = &self.report;
        let name = crate::check::global_name(self.ir, g)?;
        let whole = match g {
            Global::Pool(_) => serde_json::to_value(report.collateral.get(&*name)?).ok()?,
            Global::Covenant(_) => serde_json::to_value(report.covenants.get(&*name)?).ok()?,
            Global::MarginCall(_) => serde_json::to_value(report.margin_calls.get(&*name)?).ok()?,
            Global::Liquidation(_) => serde_json::to_value(report.liquidations.get(&*name)?).ok()?,
            Global::Default(_) => serde_json::to_value(report.defaults.get(&*name)?).ok()?,
            Global::Let(_) => return None,
        };
        let Some(field) = field else {
            // A rule as a whole is summarised by its status or its headline figure.
            return Some(match g {
                Global::Pool(_) => whole.get("eligible_value").cloned().unwrap_or(Json::Null),
                Global::Liquidation(_) => whole.get("proceeds").cloned().unwrap_or(Json::Null),
                _ => whole.get("status").cloned().unwrap_or(Json::Null),
            });
        };
        match (g, field) {
            (Global::Default(_), "triggered") => Some(Json::Bool(whole.get("status").and_then(Json::as_str) == Some("triggered"))),
            (Global::MarginCall(_), "triggered") => Some(Json::Bool(whole.get("status").and_then(Json::as_str).is_some_and(|s| s != "none" && s != "error"))),
            (Global::Covenant(_), "cure_amount") => Some(whole.pointer("/cure/amount").cloned().unwrap_or(Json::Null)),
            (Global::Covenant(_), "passed") => Some(Json::Bool(matches!(whole.get("status").and_then(Json::as_str), Some("pass" | "not_tested")))),
            _ => Some(whole.get(field).cloned().unwrap_or(Json::Null)),
        }
    }

    fn clause(&mut self, label: &str, body: ir::Body, base: Option<usize>) -> Explanation {
        let opened = base.is_none().then(|| self.ev.open_frame(Value::Null, body.frame as usize));
        let at = base.or(opened).unwrap_or(0);
        let mut n = self.expr(body.expr, at);
        if let Some(b) = opened {
            self.ev.close_frame(b);
        }
        if n.name.is_none() {
            n.name = Some(label.to_string());
        } else {
            n.note = Some(match n.note.take() {
                Some(note) => format!("{label}; {note}"),
                None => label.to_string(),
            });
        }
        n
    }

    fn pool_steps(&mut self, i: usize) -> Vec<Explanation> {
        let ir = self.ir;
        let Some(def) = ir.pools.get(i) else { return Vec::new() };
        let frame = def.position_clauses().map(|b| b.frame as usize).max().unwrap_or(1);
        let items: Vec<Value> = match def.each {
            Some((list, _)) => match self.ev.eval_body(list) {
                Ok(Value::List(items)) => items.iter().cloned().collect(),
                _ => Vec::new(),
            },
            None => vec![Value::Null],
        };
        let mut steps = Vec::new();
        if let Some((list, _)) = def.each {
            steps.push(self.clause("positions", list, None));
        }
        for (k, item) in items.iter().enumerate().take(MAX_POSITIONS) {
            let base = self.ev.open_frame(item.clone(), frame);
            let mut parts = vec![self.clause("quantity", def.quantity, Some(base)), self.clause("price", def.price, Some(base))];
            if let Some(h) = def.haircut {
                parts.push(self.clause("haircut", h, Some(base)));
            }
            if let Some(l) = def.liquidation_price {
                parts.push(self.clause("liquidation price", l, Some(base)));
            }
            let q = self.ev.num_in_frame(def.quantity, base).ok();
            let p = self.ev.num_in_frame(def.price, base).ok();
            let h = match def.haircut {
                Some(b) => self.ev.num_in_frame(b, base).ok(),
                None => Some(Decimal::ZERO),
            };
            self.ev.close_frame(base);
            let eligible = match (q, p, h) {
                (Some(q), Some(p), Some(h)) => q.checked_mul(p).and_then(|mv| mv.checked_mul(Decimal::ONE - h.max(Decimal::ZERO).min(Decimal::ONE))),
                _ => None,
            };
            let value = eligible.map_or(Json::Null, |e| money(e, &def.price_ty));
            let label = if def.each.is_some() { format!("position {}", k + 1) } else { "the position".to_string() };
            steps.push(Explanation::step(label, value, Some("eligible value = quantity × price × (1 − haircut clamped to [0, 1])".into()), parts));
        }
        if items.len() > MAX_POSITIONS {
            steps.push(Explanation::step(format!("{} more positions", items.len() - MAX_POSITIONS), Json::Null, None, Vec::new()));
        }
        if let Some(d) = def.discount {
            let mut n = Explanation::leaf("step", Some("liquidation discount".into()), self.text(ir.arena.span(d.expr)), Json::Null, self.location(ir.arena.span(d.expr)));
            n.note = Some("a function of `sold`, evaluated at each quantity a sale tries; realisable value is the greatest proceeds over whole lots".into());
            steps.push(n);
        }
        steps
    }

    fn covenant_steps(&mut self, i: usize) -> Vec<Explanation> {
        let ir = self.ir;
        let Some(def) = ir.covenants.get(i) else { return Vec::new() };
        let outcome = self.ev.out.covenants.get(i).cloned().flatten();
        let mut steps = vec![self.clause("value", def.lhs, None), self.clause("limit", def.rhs, None)];
        let as_of = self.ev.as_of;
        let tested = match &def.tested {
            ir::Testing::Always => "tested on every date".to_string(),
            ir::Testing::Quarterly => format!("tested quarterly: {as_of} {} a quarter end", if as_of.is_quarter_end() { "is" } else { "is not" }),
            ir::Testing::Monthly => format!("tested monthly: {as_of} {} a month end", if as_of.is_month_end() { "is" } else { "is not" }),
            ir::Testing::On(_) => format!("tested on listed dates: {as_of} {} one of them", if outcome.as_ref().is_some_and(|o| o.status != CovenantStatus::NotTested) { "is" } else { "is not, or the springing condition is false" }),
        };
        let status = outcome.as_ref().map_or("error", |o| o.status.as_str());
        steps.push(Explanation::step("test date", Json::String(status.into()), Some(tested), Vec::new()));
        if let Some(w) = def.when {
            steps.push(self.clause("springs when", w, None));
        }
        if let Some(o) = &outcome {
            if let Some(h) = o.headroom() {
                let formula = match def.op {
                    crate::syntax::ast::CmpOp::Gt | crate::syntax::ast::CmpOp::Ge => "(value − limit) ÷ |limit|",
                    _ => "(limit − value) ÷ |limit|",
                };
                steps.push(Explanation::step("headroom", Json::String(number(h)), Some(format!("headroom = {formula}")), Vec::new()));
            }
            if let (Some(cure), Some(cdef)) = (&o.cure, &def.cure) {
                let limits = if cure.blocked_by.is_empty() { "no limit blocks a cure".to_string() } else { format!("blocked by {}", cure.blocked_by.join(", ")) };
                let note = match (&cure.amount, &cure.note) {
                    (Some(_), _) => format!("the least amount, to the cent, that restores compliance when added to `{}`; {limits}", cdef.path_text),
                    (None, Some(n)) => format!("{n}; {limits}"),
                    (None, None) => limits,
                };
                let value = cure.amount.map_or(Json::Null, |a| money(a, &cdef.ty));
                let mut children = Vec::new();
                if let Some(h) = cdef.history {
                    children.push(self.clause("cure history", h, None));
                }
                steps.push(Explanation::step(format!("cure equity into {}", cdef.path_text), value, Some(note), children));
            }
        }
        steps
    }

    fn margin_steps(&mut self, i: usize) -> Vec<Explanation> {
        let ir = self.ir;
        let Some(def) = ir.margin_calls.get(i) else { return Vec::new() };
        let outcome = self.ev.out.margin_calls.get(i).cloned().flatten().and_then(Result::ok);
        let mut steps = vec![self.clause("trigger", def.trigger, None)];
        let Some(o) = outcome else { return steps };
        if o.status == MarginStatus::None {
            return steps;
        }
        let mut raw = self.clause("raw amount", def.amount, None);
        raw.note = Some("floored at 0".into());
        raw.value = money(o.raw_amount, &def.amount_ty);
        steps.push(raw);
        if let Some(m) = def.minimum_transfer {
            let mut n = self.clause("minimum transfer", m, None);
            let below = o.status == MarginStatus::BelowMinimum;
            n.note = Some(if below { "the raw amount is below it: nothing is called".into() } else { "the raw amount reaches it".into() });
            steps.push(n);
        }
        if let (Some((mode, step)), MarginStatus::Called) = (def.rounding, o.status) {
            let mode = match mode {
                crate::syntax::ast::RoundingMode::Up => "up",
                crate::syntax::ast::RoundingMode::Down => "down",
                crate::syntax::ast::RoundingMode::Nearest => "to the nearest",
            };
            let increment = self.clause("rounding increment", step, None);
            let note = format!("{} rounded {mode} to a multiple of the increment: {}", plain(&money(o.raw_amount, &def.amount_ty)), plain(&money(o.amount, &def.amount_ty)));
            steps.push(Explanation::step("called amount", money(o.amount, &def.amount_ty), Some(note), vec![increment]));
        }
        if let Some(d) = def.due {
            let mut n = self.clause("due", d, None);
            let skipped = self.skipped_days(self.ev.as_of, o.due);
            n.value = Json::String(o.due.to_string());
            n.note = Some(if skipped.is_empty() {
                format!("from {} to {}", self.ev.as_of, o.due)
            } else {
                format!("from {} to {}, skipping {}", self.ev.as_of, o.due, skipped.join(", "))
            });
            steps.push(n);
        }
        steps
    }

    /// The days between two dates that are not business days in the default calendar.
    fn skipped_days(&mut self, from: Date, to: Date) -> Vec<String> {
        let mut out = Vec::new();
        let mut day = from;
        while day < to && out.len() < 60 {
            let Some(next) = day.add_days(1) else { break };
            day = next;
            if day < to && !self.ev.is_business_day(day, 0).unwrap_or(true) {
                let why = if day.is_weekend() { "weekend" } else { "holiday" };
                out.push(format!("{day} ({why})"));
            }
        }
        out
    }

    fn liquidation_steps(&mut self, i: usize) -> Vec<Explanation> {
        let ir = self.ir;
        let Some(def) = ir.liquidations.get(i) else { return Vec::new() };
        let mut steps = Vec::new();
        if let Some(t) = def.trigger {
            steps.push(self.clause("trigger", t, None));
        }
        steps.push(self.clause("debt", def.debt, None));
        if let Some(u) = &def.until {
            steps.push(self.clause("until", u.cond, None));
        }
        let Some(Some(Ok(o))) = self.ev.out.liquidations.get(i).cloned() else { return steps };
        let mut remaining = o.debt;
        for sale in &o.sales {
            let pool_name = ir.pools.get(sale.pool as usize).map_or_else(String::new, |p| p.name.to_string());
            let ty = &def.debt_ty;
            let why = if def.until.is_some() {
                if o.target_met == Some(false) { "the target cannot be reached: sold to the peak".to_string() } else { "the least sale after which the target holds".to_string() }
            } else if remaining <= Decimal::ZERO {
                "the debt was already covered: nothing sold".to_string()
            } else if !sale.held_back.is_zero() {
                format!("proceeds peak here, short of the {} that remained: {} units held back", plain(&money(remaining, ty)), plain(&Json::String(number(sale.held_back))))
            } else if sale.proceeds >= remaining {
                format!("the fewest lots whose proceeds cover the {} that remained", plain(&money(remaining, ty)))
            } else {
                "the whole pool, short of what remained".to_string()
            };
            let discount = sale.discount.map_or_else(|| "no discount".to_string(), |d| format!("discount {} at that quantity", crate::report::table::percent(&d.to_string())));
            let units = Explanation::step("units sold", Json::String(number(sale.units)), None, Vec::new());
            let pool = self.rule_figure(Global::Pool(sale.pool), Some("realisable_value")).into_iter();
            let children = std::iter::once(units).chain(pool).collect();
            steps.push(Explanation::step(format!("sale of {pool_name}"), money(sale.proceeds, ty), Some(format!("{discount}; {why}")), children));
            remaining = remaining.checked_sub(sale.proceeds).unwrap_or(remaining);
        }
        steps
    }

    fn default_steps(&mut self, i: usize) -> Vec<Explanation> {
        let ir = self.ir;
        let Some(def) = ir.defaults.get(i) else { return Vec::new() };
        def.events.iter().map(|e| {
            let mut n = self.clause(&format!("event {}", e.name), e.when, None);
            if let Some(t) = &e.title {
                n.note = Some(crate::text::escape_controls(t).into_owned());
            }
            n
        }).collect()
    }
}

fn field_name(node: &Node) -> &'static str {
    use ir::{CovenantField as C, DefaultField as D, LiquidationField as L, MarginField as M, PoolField as P};
    match node {
        Node::PoolField(_, f) => match f {
            P::Quantity => "quantity",
            P::MarketValue => "market_value",
            P::EligibleValue => "eligible_value",
            P::RealisableValue => "realisable_value",
            P::Haircut => "haircut",
        },
        Node::CovenantField(_, f) => match f {
            C::Status => "status",
            C::Passed => "passed",
            C::Value => "value",
            C::Limit => "limit",
            C::Headroom => "headroom",
            C::CureAmount => "cure_amount",
            C::CureAvailable => "cure_available",
        },
        Node::MarginField(_, f) => match f {
            M::Status => "status",
            M::Triggered => "triggered",
            M::Amount => "amount",
            M::RawAmount => "raw_amount",
            M::Due => "due",
        },
        Node::LiquidationField(_, f) => match f {
            L::Triggered => "triggered",
            L::Debt => "debt",
            L::Proceeds => "proceeds",
            L::Shortfall => "shortfall",
            L::Surplus => "surplus",
            L::Recovery => "recovery",
            L::TargetMet => "target_met",
            L::Units => "units",
        },
        Node::DefaultField(_, f) => match f {
            D::Triggered => "triggered",
            D::Events => "events",
        },
        _ => "",
    }
}

/// A read of the data: a field chain from `input`, or from the list element a pool's
/// positions are bound to.
fn data_path(ir: &ir::Ir, id: ExprId) -> bool {
    match ir.arena.node(id) {
        Some(Node::Input | Node::Local(_)) => true,
        Some(Node::Field { base, .. }) => data_path(ir, *base),
        _ => false,
    }
}

fn value_at<'v>(v: &'v Value, path: &[u32]) -> Option<&'v Value> {
    match path.split_first() {
        None => Some(v),
        Some((i, rest)) => match v {
            Value::Record(fields) => value_at(fields.get(*i as usize)?, rest),
            _ => None,
        },
    }
}

fn money(amount: Decimal, ty: &Type) -> Json {
    report::value_json(&Value::Num(amount), ty)
}

/// A JSON value as a person reads it, for notes: money with its currency and separators.
pub fn plain(v: &Json) -> String {
    crate::report::table::cell(v)
}

fn plain_value(v: &Value) -> String {
    match v {
        Value::Num(n) => number(*n),
        Value::Date(d) => d.to_string(),
        Value::Text(t) => format!("\"{}\"", crate::text::escape_controls(t)),
        Value::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// Cuts the tree `depth` levels below its root.
pub fn prune(node: &mut Explanation, depth: usize) {
    if depth == 0 {
        node.children.clear();
    }
    for c in &mut node.children {
        prune(c, depth.saturating_sub(1));
    }
}

/// The tree for people, in the style of `cargo tree`: one figure a line, its value after
/// `=`, where it is written after the value, and a note below when the step has one.
pub fn render_tree(root: &Explanation) -> String {
    let mut out = String::new();
    line(&mut out, root, "", "", "");
    out
}

fn line(out: &mut String, n: &Explanation, lead: &str, branch: &str, rest: &str) {
    use std::fmt::Write as _;
    let label = match (&n.name, n.name.as_deref() == Some(n.expr.as_str())) {
        (Some(name), true) => name.clone(),
        (Some(name), false) => format!("{name} = {}", n.expr),
        (None, _) => n.expr.clone(),
    };
    let value = match &n.value {
        Json::Null => "—".to_string(),
        // A list of records reads as its size; the JSON form has every element.
        Json::Array(items) if items.iter().any(|i| i.is_object() && i.get("currency").is_none()) => match items.len() {
            1 => "[1 element]".to_string(),
            n => format!("[{n} elements]"),
        },
        v => plain(v),
    };
    let at = n.location.as_ref().map_or_else(String::new, |l| format!("  ({}:{}:{})", l.file, l.line, l.column));
    let shown = if n.shown_above { "  (shown above)" } else { "" };
    let _ = writeln!(out, "{lead}{branch}{label}  →  {value}{at}{shown}");
    let below = format!("{lead}{rest}");
    if let Some(note) = &n.note {
        let bar = if n.children.is_empty() { "   " } else { "│  " };
        let _ = writeln!(out, "{below}{bar}  ↳ {note}");
    }
    let count = n.children.len();
    for (i, c) in n.children.iter().enumerate() {
        let last = i + 1 == count;
        line(out, c, &below, if last { "└─ " } else { "├─ " }, if last { "   " } else { "│  " });
    }
}
