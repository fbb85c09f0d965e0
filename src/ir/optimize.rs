//! A pass over the checked IR that only the evaluator sees: arithmetic on literals folded
//! into a literal, and a pure expression written more than once in the clauses of one pool
//! position (which share a frame) computed once into a local slot of that frame: the
//! reference facility's `age(g.purchase_date)` is read by both the price and the haircut.
//! A call of a function whose body is one operation on its parameters, in order, becomes
//! that operation on the arguments (`age` itself); and a schedule written in literals is
//! read from a [`Table`] built here, with its values at whole keys worked out in advance.
//!
//! Elsewhere repeated expressions are left as written: a function that calls another twice
//! with the same argument still costs both calls, so what the operation budget refuses
//! (functions that double their work at each level) it still refuses.
//!
//! The pass appends its nodes to the arena and leaves every node it started from as it was:
//! what reads the program as written (explanations, reports, the language server) still
//! walks the original bodies, and the evaluator enters a body through [`Fast::root`]. An
//! optimised body spends fewer operations of the budget than the original, never more.

use std::collections::HashMap;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::{ArithOp, Body, ExprId, Ir, Node, ScheduleRow};
use crate::syntax::ast::CmpOp;
use crate::types::Type;
use crate::value::Value;

/// Where the evaluator enters each optimised body: the optimised root, by the original
/// root's id; the schedules whose rows are all literals, read from a table; and the pool
/// clauses it computes without steps. Empty when the program was not optimised.
#[derive(Debug, Default)]
pub struct Fast {
    roots: Vec<Option<ExprId>>,
    /// By function index: the table of a schedule written in literals.
    tables: Vec<Option<Table>>,
    /// Pool clauses in the form evaluated without steps, by the original root's id, sorted.
    numeric: Vec<(ExprId, super::numeric::Numeric)>,
}

impl Fast {
    /// The expression to evaluate for a body whose root is `id`.
    #[inline]
    pub fn root(&self, id: ExprId) -> ExprId {
        match self.roots.get(id.0 as usize) {
            Some(Some(fast)) => *fast,
            _ => id,
        }
    }

    /// The table of function `func`, when it is a schedule written in literals.
    #[inline]
    pub fn table(&self, func: u32) -> Option<&Table> {
        self.tables.get(func as usize).and_then(Option::as_ref)
    }

    /// The form without steps of the pool clause whose root is `id`, when it has one.
    #[inline]
    pub fn numeric(&self, id: ExprId) -> Option<&super::numeric::Numeric> {
        if self.numeric.is_empty() {
            return None;
        }
        self.numeric.binary_search_by_key(&id.0, |(e, _)| e.0).ok().and_then(|i| self.numeric.get(i)).map(|(_, form)| form)
    }

    pub fn is_empty(&self) -> bool {
        self.roots.iter().all(Option::is_none) && self.tables.iter().all(Option::is_none) && self.numeric.is_empty()
    }
}

/// A schedule whose keys and values are all literals, read once at compile time rather than
/// on every call. The evaluator computes from it exactly what it computes from the rows.
#[derive(Debug)]
pub enum Table {
    /// A step schedule.
    Steps(Steps),
    /// An interpolated schedule, whose keys increase (a schedule whose keys do not is left to
    /// the evaluator, which reports it).
    Points(Curve),
}

/// A step schedule's rows in order: the comparison with the key (none for `else`) and the
/// value it gives; and, when its keys are numbers, the row each whole key between them
/// matches, worked out once.
#[derive(Debug)]
pub struct Steps {
    rows: Vec<(Option<(CmpOp, Value)>, Value)>,
    /// The whole key the first of `whole` is at.
    start: i64,
    /// The row each whole key from `start` on matches.
    whole: Vec<Option<usize>>,
}

impl Steps {
    fn new(rows: Vec<(Option<(CmpOp, Value)>, Value)>) -> Steps {
        let mut steps = Steps { rows, start: 0, whole: Vec::new() };
        let limits: Option<Vec<i64>> = steps.rows.iter().filter_map(|(test, _)| test.as_ref()).map(|(_, limit)| match limit {
            Value::Num(d) => d.floor().to_i64(),
            _ => None,
        }).collect();
        // Whole keys from one below the least limit to one above the greatest; others are
        // compared row by row.
        let Some(limits) = limits else { return steps };
        let (Some(least), Some(greatest)) = (limits.iter().min(), limits.iter().max()) else { return steps };
        let (Some(start), Some(end)) = (least.checked_sub(1), greatest.checked_add(1)) else { return steps };
        if end.checked_sub(start).is_some_and(|n| (0..MAX_WHOLE_KEYS).contains(&n)) {
            steps.start = start;
            steps.whole = (start..=end).map(|k| steps.row(&Value::Num(Decimal::from(k)), crate::span::Span::default()).ok().flatten()).collect();
        }
        steps
    }

    /// The value the schedule gives at `key`: the same comparisons, in the same order, as
    /// the evaluator makes reading the rows; a whole key reads the row worked out for it.
    /// A key below all the limits compares with each as the first key worked out does, and
    /// one above all of them as the last does, so their rows are read for such keys.
    #[inline]
    pub fn at(&self, key: &Value, span: crate::span::Span) -> crate::eval::EvalResult<Value> {
        let whole = match (whole_key(key), self.whole.len().checked_sub(1)) {
            (Some(k), Some(last)) => {
                let at = k.saturating_sub(self.start).clamp(0, i64::try_from(last).unwrap_or(i64::MAX));
                usize::try_from(at).ok().and_then(|i| self.whole.get(i)).copied().flatten()
            }
            _ => None,
        };
        let row = match whole {
            Some(row) => Some(row),
            None => self.row(key, span)?,
        };
        match row.and_then(|i| self.rows.get(i)) {
            Some((_, Value::Num(d))) => Ok(Value::Num(*d)),
            Some((_, value)) => Ok(value.clone()),
            None => crate::eval::fail(span, "no row of the schedule matches"),
        }
    }

    fn row(&self, key: &Value, span: crate::span::Span) -> crate::eval::EvalResult<Option<usize>> {
        use crate::eval::ops;
        for (i, (test, _)) in self.rows.iter().enumerate() {
            let matches = match test {
                None => true,
                Some((op, limit)) => match (key, limit) {
                    (Value::Num(x), Value::Num(limit)) => ops::compare_numbers(*op, *x, *limit),
                    _ => ops::compare(*op, key, limit, span)?,
                },
            };
            if matches {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }
}

/// The whole number `key` is, when it is written exactly as `Decimal::from` writes it: no
/// places, and no negative zero. Only such a key is read from values worked out for
/// `Decimal::from(k)`.
#[inline]
fn whole_key(key: &Value) -> Option<i64> {
    match key {
        Value::Num(x) if x.scale() == 0 && !(x.is_zero() && x.is_sign_negative()) => i64::try_from(x.mantissa()).ok(),
        _ => None,
    }
}

/// The points of an interpolated schedule, and its values at the whole keys between its
/// first and last point, worked out once.
#[derive(Debug)]
pub struct Curve {
    points: Vec<Point>,
    /// The whole key the first of `whole` is at.
    start: i64,
    /// The value at each whole key from `start` on, as `interpolate` gives it; `None` where
    /// that fails, for the evaluator to fail there as the rows do.
    whole: Vec<Option<Decimal>>,
}

/// How many whole keys a curve's values are worked out for: an age in months over forty
/// years, say.
const MAX_WHOLE_KEYS: i64 = 512;

impl Curve {
    fn new(points: Vec<Point>) -> Curve {
        let mut curve = Curve { points, start: 0, whole: Vec::new() };
        let bounds = |p: Option<&Point>| p.and_then(|p| p.x.floor().to_i64());
        let (Some(start), Some(end)) = (bounds(curve.points.first()), bounds(curve.points.last())) else { return curve };
        if end.checked_sub(start).is_some_and(|n| (0..MAX_WHOLE_KEYS).contains(&n)) {
            curve.start = start;
            curve.whole = (start..=end).map(|k| curve.interpolate(Decimal::from(k), crate::span::Span::default()).ok()).collect();
        }
        curve
    }

    /// The value at `x`: the same comparisons and arithmetic, in the same order, as the
    /// evaluator makes reading the rows; a whole key (as a data's ages in months are) is
    /// read from the values worked out for it.
    #[inline]
    pub fn at(&self, x: Decimal, span: crate::span::Span) -> crate::eval::EvalResult<Decimal> {
        if let (Some(k), Some(first), Some(last)) = (whole_key(&Value::Num(x)), self.points.first(), self.points.last()) {
            if !self.whole.is_empty() {
                // Before the first point and past the last, the end points' values, as the
                // rows give them; between, the values worked out.
                let at = k.saturating_sub(self.start);
                if at < 0 {
                    return Ok(first.y);
                }
                match usize::try_from(at).ok().and_then(|i| self.whole.get(i)) {
                    Some(Some(y)) => return Ok(*y),
                    Some(None) => {}
                    None => return Ok(last.y),
                }
            }
        }
        self.interpolate(x, span)
    }

    fn interpolate(&self, x: Decimal, span: crate::span::Span) -> crate::eval::EvalResult<Decimal> {
        use crate::eval::ops::{arith, order};
        let mut previous: Option<&Point> = None;
        for point in &self.points {
            if order(x, point.x) != std::cmp::Ordering::Greater {
                let Some(p) = previous else { return Ok(point.y) };
                let t = arith(ArithOp::Div, arith(ArithOp::Sub, x, p.x, span)?, point.dx, span)?;
                let dy = arith(ArithOp::Mul, point.dy, t, span)?;
                return arith(ArithOp::Add, p.y, dy, span);
            }
            previous = Some(point);
        }
        match previous {
            Some(last) => Ok(last.y),
            None => crate::eval::fail(span, "an interpolated schedule needs points"),
        }
    }
}

/// A point of an interpolated schedule, with the rise from the point before it.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    pub x: Decimal,
    pub y: Decimal,
    /// `x` and `y` less the previous point's, as the evaluator subtracts them; zero at the
    /// first point.
    pub dx: Decimal,
    pub dy: Decimal,
}

/// How deep the pass looks into an expression; deeper parts are left as written, so the pass
/// never adds more than this many levels of `Memo` to an evaluation's nesting.
const MAX_DEPTH: usize = 48;

/// How many nodes of a function's body the pass looks through to inline a call of it.
const INLINE_SCAN: usize = 32;

/// Optimises the bodies the evaluator runs most: `let`s, functions, pool clauses (as one
/// group per pool), covenant and margin-call clauses.
pub fn optimize(ir: &mut Ir) {
    ir.fast.roots = vec![None; ir.arena.nodes.len()];
    ir.fast.tables = ir.fns.iter().map(|f| match ir.arena.node(f.body.expr) {
        Some(Node::Schedule { rows, interpolate }) => table(ir, rows, *interpolate),
        _ => None,
    }).collect();
    for i in 0..ir.lets.len() {
        if let Some(body) = ir.lets.get(i).map(|d| d.body) {
            if let Some(frame) = group(ir, &[body], false) {
                if let Some(d) = ir.lets.get_mut(i) {
                    d.body.frame = frame;
                }
            }
        }
    }
    for i in 0..ir.fns.len() {
        let Some(body) = ir.fns.get(i).map(|f| f.body) else { continue };
        // A schedule is called through its table, never entered as an expression.
        if matches!(ir.arena.node(body.expr), Some(Node::Schedule { .. })) {
            continue;
        }
        if let Some(frame) = group(ir, &[body], false) {
            if let Some(f) = ir.fns.get_mut(i) {
                f.body.frame = frame;
            }
        }
    }
    for i in 0..ir.pools.len() {
        let Some(def) = ir.pools.get(i) else { continue };
        let bodies: Vec<Body> = def.position_clauses().collect();
        if let Some(frame) = group(ir, &bodies, true) {
            if let Some(def) = ir.pools.get_mut(i) {
                for b in [Some(&mut def.quantity), Some(&mut def.price), def.haircut.as_mut(), def.liquidation_price.as_mut()].into_iter().flatten() {
                    b.frame = frame;
                }
            }
        }
    }
    let mut numeric = Vec::new();
    for def in &ir.pools {
        for b in def.position_clauses() {
            if let Some(form) = super::numeric::compile(ir, ir.fast.root(b.expr)) {
                numeric.push((b.expr, form));
            }
        }
    }
    numeric.sort_by_key(|(e, _)| e.0);
    ir.fast.numeric = numeric;
    for i in 0..ir.covenants.len() {
        let Some(def) = ir.covenants.get(i) else { continue };
        let bodies: Vec<Body> = [Some(def.lhs), Some(def.rhs), def.when].into_iter().flatten().collect();
        for (k, body) in bodies.into_iter().enumerate() {
            if let Some(frame) = group(ir, &[body], false) {
                if let Some(def) = ir.covenants.get_mut(i) {
                    if let Some(b) = [Some(&mut def.lhs), Some(&mut def.rhs), def.when.as_mut()].into_iter().flatten().nth(k) {
                        b.frame = frame;
                    }
                }
            }
        }
    }
    for i in 0..ir.margin_calls.len() {
        let Some(def) = ir.margin_calls.get(i) else { continue };
        let bodies: Vec<Body> =
            [Some(def.trigger), Some(def.amount), def.minimum_transfer, def.rounding.map(|(_, b)| b), def.due].into_iter().flatten().collect();
        for (k, body) in bodies.into_iter().enumerate() {
            if let Some(frame) = group(ir, &[body], false) {
                if let Some(def) = ir.margin_calls.get_mut(i) {
                    let slots = [Some(&mut def.trigger), Some(&mut def.amount), def.minimum_transfer.as_mut(), def.rounding.as_mut().map(|(_, b)| b), def.due.as_mut()];
                    if let Some(b) = slots.into_iter().flatten().nth(k) {
                        b.frame = frame;
                    }
                }
            }
        }
    }
}

/// A literal as the evaluator reads it: a constant, or a negated number literal.
fn literal(ir: &Ir, id: ExprId) -> Option<Value> {
    match ir.arena.node(id)? {
        Node::Const(v) => Some(v.clone()),
        Node::Neg(x) => match ir.arena.node(*x)? {
            Node::Const(Value::Num(d)) => Some(Value::Num(-*d)),
            _ => None,
        },
        _ => None,
    }
}

/// The table of a schedule whose rows are all literals; `None` when one is not, or when
/// reading the rows could fail (points that do not increase, a rise that overflows): the
/// evaluator then reads the rows and reports the failure where it arises.
fn table(ir: &Ir, rows: &[ScheduleRow], interpolate: bool) -> Option<Table> {
    if !interpolate {
        let mut steps = Vec::with_capacity(rows.len());
        for row in rows {
            let key = match row.key {
                Some((op, k)) => Some((op, literal(ir, k)?)),
                None => None,
            };
            steps.push((key, literal(ir, row.value)?));
        }
        return Some(Table::Steps(Steps::new(steps)));
    }
    let mut points: Vec<Point> = Vec::with_capacity(rows.len());
    for row in rows {
        let (_, k) = row.key?;
        let (Value::Num(x), Value::Num(y)) = (literal(ir, k)?, literal(ir, row.value)?) else { return None };
        let (dx, dy) = match points.last() {
            Some(p) => {
                if crate::eval::ops::order(p.x, x) != std::cmp::Ordering::Less {
                    return None;
                }
                let sub = |a, b| crate::eval::ops::arith(ArithOp::Sub, a, b, crate::span::Span::default()).ok();
                (sub(x, p.x)?, sub(y, p.y)?)
            }
            None => (Decimal::ZERO, Decimal::ZERO),
        };
        points.push(Point { x, y, dx, dy });
    }
    (!points.is_empty()).then(|| Table::Points(Curve::new(points)))
}

/// What makes two expressions the same: the node's own data, and the classes of its
/// operands. Expressions of one class compute the same value in the same frame.
type Key = (String, Vec<u32>);

struct Pass<'a> {
    ir: &'a mut Ir,
    classes: HashMap<Key, u32>,
    class_of: HashMap<ExprId, u32>,
    /// How often each class occurs in the group.
    count: HashMap<u32, u32>,
    /// The memo slot of each class worth computing once, and its `Memo` node once built.
    memo: HashMap<u32, (u32, Option<ExprId>)>,
    next_class: u32,
    next_slot: u32,
    changed: bool,
}

/// Optimises bodies that share one frame, computing repeated expressions once when `share`.
/// Records each changed root in `ir.fast` and returns the frame size the optimised bodies
/// need, or `None` when nothing changed.
fn group(ir: &mut Ir, bodies: &[Body], share: bool) -> Option<u32> {
    let frame = bodies.iter().map(|b| b.frame).max().unwrap_or(0);
    let mut pass = Pass { ir, classes: HashMap::new(), class_of: HashMap::new(), count: HashMap::new(), memo: HashMap::new(), next_class: 0, next_slot: frame, changed: false };
    for b in bodies {
        pass.classify(b.expr, 0);
    }
    let mut repeated: Vec<(ExprId, u32)> = pass.class_of.iter().map(|(id, c)| (*id, *c)).filter(|(id, c)| pass.count.get(c).is_some_and(|n| *n >= 2) && pass.worth_keeping(*id)).collect();
    // Slots in the order of the expressions, so that the result does not depend on hashing.
    repeated.sort_by_key(|(id, _)| id.0);
    if !share {
        repeated.clear();
    }
    for (_, class) in repeated {
        if !pass.memo.contains_key(&class) {
            let slot = pass.next_slot;
            pass.memo.insert(class, (slot, None));
            pass.next_slot = slot.checked_add(1)?;
        }
    }
    let mut roots = Vec::with_capacity(bodies.len());
    for b in bodies {
        roots.push(pass.rewrite(b.expr, 0));
    }
    if !pass.changed {
        return None;
    }
    let next_slot = pass.next_slot;
    for (b, root) in bodies.iter().zip(roots) {
        if root != b.expr {
            if let Some(slot) = ir.fast.roots.get_mut(b.expr.0 as usize) {
                *slot = Some(root);
            }
        }
    }
    Some(next_slot.max(frame))
}

impl Pass<'_> {
    fn node(&self, id: ExprId) -> Option<&Node> {
        self.ir.arena.node(id)
    }

    /// The operands the pass looks through, in order. An aggregate's body is evaluated once
    /// per element with its variable rebound, and a schedule's rows belong to its table: the
    /// pass looks into neither.
    fn operands(node: &Node) -> Vec<ExprId> {
        match node {
            Node::Field { base, .. } => vec![*base],
            Node::Index { base, index } => vec![*base, *index],
            Node::MakeDuration { count, .. } => vec![*count],
            Node::Neg(x) | Node::Not(x) => vec![*x],
            Node::Arith { lhs, rhs, .. } | Node::Compare { lhs, rhs, .. } => vec![*lhs, *rhs],
            Node::And(a, b) | Node::Or(a, b) | Node::Coalesce(a, b) => vec![*a, *b],
            Node::If { cond, then, otherwise } => vec![*cond, *then, *otherwise],
            Node::List(items) => items.clone(),
            Node::CallFn { args, .. } | Node::CallBuiltin { args, .. } => args.clone(),
            _ => Vec::new(),
        }
    }

    /// The node's own data, apart from its operands; `None` for a node that is never the
    /// same as another.
    fn own_key(node: &Node) -> Option<String> {
        Some(match node {
            Node::Const(v) => format!("const {v:?}"),
            Node::Global(g) => format!("global {g:?}"),
            Node::Local(slot) => format!("local {slot}"),
            Node::Input => "input".into(),
            Node::Field { index, .. } => format!("field {index}"),
            Node::Index { .. } => "index".into(),
            Node::PoolField(i, f) => format!("pool {i} {f:?}"),
            Node::CovenantField(i, f) => format!("covenant {i} {f:?}"),
            Node::MarginField(i, f) => format!("margin {i} {f:?}"),
            Node::LiquidationField(i, f) => format!("liquidation {i} {f:?}"),
            Node::DefaultField(i, f) => format!("default {i} {f:?}"),
            Node::MakeDuration { unit, scale, calendars, .. } => format!("duration {unit:?} {scale} {calendars}"),
            Node::Neg(_) => "neg".into(),
            Node::Not(_) => "not".into(),
            Node::Arith { op, .. } => format!("arith {op:?}"),
            Node::Compare { op, .. } => format!("compare {op:?}"),
            Node::And(..) => "and".into(),
            Node::Or(..) => "or".into(),
            Node::Coalesce(..) => "coalesce".into(),
            Node::If { .. } => "if".into(),
            Node::List(items) => format!("list {}", items.len()),
            Node::CallFn { func, .. } => format!("fn {func}"),
            Node::CallBuiltin { builtin, .. } => format!("builtin {builtin:?}"),
            Node::Aggregate { .. } | Node::Schedule { .. } | Node::Memo { .. } => return None,
        })
    }

    fn class_for(&mut self, key: Key) -> u32 {
        if let Some(class) = self.classes.get(&key) {
            return *class;
        }
        let class = self.next_class;
        self.next_class = class.saturating_add(1);
        self.classes.insert(key, class);
        class
    }

    fn classify(&mut self, id: ExprId, depth: usize) -> u32 {
        let own = self.node(id).and_then(Self::own_key).filter(|_| depth < MAX_DEPTH);
        let key = match (own, self.node(id)) {
            (Some(own), Some(node)) => {
                let operands = Self::operands(node);
                (own, operands.into_iter().map(|x| self.classify(x, depth + 1)).collect())
            }
            _ => (format!("unique {}", id.0), Vec::new()),
        };
        let class = self.class_for(key);
        self.class_of.insert(id, class);
        *self.count.entry(class).or_insert(0) += 1;
        class
    }

    /// Worth a slot: work that costs more than reading the slot back, of a type whose value
    /// is never `Null` (an empty slot is `Null`: that is how the evaluator knows to compute it).
    fn worth_keeping(&self, id: ExprId) -> bool {
        let work = matches!(self.node(id), Some(Node::CallFn { .. } | Node::CallBuiltin { .. } | Node::Arith { .. } | Node::MakeDuration { .. }));
        let never_null = matches!(self.ir.arena.ty(id), Type::Number | Type::Money(_) | Type::Date | Type::Duration | Type::Bool);
        work && never_null
    }

    fn push(&mut self, node: Node, like: ExprId) -> ExprId {
        let span = self.ir.arena.span(like);
        let ty = self.ir.arena.ty(like).clone();
        let id = self.ir.arena.push(node, span);
        if let Some(t) = self.ir.arena.types.get_mut(id.0 as usize) {
            *t = ty;
        }
        self.changed = true;
        id
    }

    /// The optimised form of `id`: the same node when nothing under it changed.
    fn rewrite(&mut self, id: ExprId, depth: usize) -> ExprId {
        let Some(class) = self.class_of.get(&id).copied() else { return id };
        if let Some((slot, built)) = self.memo.get(&class).copied() {
            if let Some(memo) = built {
                return memo;
            }
            let inner = self.rewrite_operands(id, depth);
            let memo = self.push(Node::Memo { slot, expr: inner }, id);
            self.memo.insert(class, (slot, Some(memo)));
            return memo;
        }
        self.rewrite_operands(id, depth)
    }

    fn rewrite_operands(&mut self, id: ExprId, depth: usize) -> ExprId {
        let Some(node) = self.node(id).cloned() else { return id };
        if depth >= MAX_DEPTH {
            return id;
        }
        let mut node = node;
        let mut changed = false;
        {
            let mut visit = |x: &mut ExprId, pass: &mut Self| {
                let y = pass.rewrite(*x, depth + 1);
                if y != *x {
                    *x = y;
                    changed = true;
                }
            };
            match &mut node {
                Node::Field { base, .. } => visit(base, self),
                Node::Index { base, index } => {
                    visit(base, self);
                    visit(index, self);
                }
                Node::MakeDuration { count, .. } => visit(count, self),
                Node::Neg(x) | Node::Not(x) => visit(x, self),
                Node::Arith { lhs, rhs, .. } | Node::Compare { lhs, rhs, .. } => {
                    visit(lhs, self);
                    visit(rhs, self);
                }
                Node::And(a, b) | Node::Or(a, b) | Node::Coalesce(a, b) => {
                    visit(a, self);
                    visit(b, self);
                }
                Node::If { cond, then, otherwise } => {
                    visit(cond, self);
                    visit(then, self);
                    visit(otherwise, self);
                }
                Node::List(items) | Node::CallFn { args: items, .. } | Node::CallBuiltin { args: items, .. } => {
                    for x in items.iter_mut() {
                        visit(x, self);
                    }
                }
                _ => {}
            }
        }
        if let Some(folded) = self.fold(&node) {
            return self.push(Node::Const(folded), id);
        }
        if let Node::CallFn { func, args } = &node {
            if let Some(inlined) = self.inline(*func, args) {
                return inlined;
            }
        }
        if changed {
            self.push(node, id)
        } else {
            id
        }
    }

    /// A call of a function whose body is one operation taking the parameters first, in
    /// order (`fn age(d: Date) -> Number = months_between(d, as_of)`), as that operation on
    /// the arguments: the call's frame, its step and the parameters' reads are saved. The
    /// evaluation is the call's: the arguments are evaluated in order before anything else
    /// can fail, then the operation's other operands, which read no local and so give the
    /// same in any frame; and it nests no deeper than the call did.
    fn inline(&mut self, func: u32, args: &[ExprId]) -> Option<ExprId> {
        let f = self.ir.fns.get(func as usize)?;
        if args.is_empty() || f.params.len() != args.len() || f.body.frame as usize != args.len() {
            return None;
        }
        let root = self.ir.fast.root(f.body.expr);
        let mut node = self.node(root)?.clone();
        // Operations whose operands are all evaluated, in order, before the operation itself.
        let operands: Vec<&mut ExprId> = match &mut node {
            Node::Arith { lhs, rhs, .. } | Node::Compare { lhs, rhs, .. } => vec![lhs, rhs],
            Node::CallBuiltin { args, .. } => args.iter_mut().collect(),
            _ => return None,
        };
        if operands.len() < args.len() {
            return None;
        }
        let mut budget = INLINE_SCAN;
        for (i, operand) in operands.into_iter().enumerate() {
            match args.get(i) {
                Some(arg) => {
                    if !matches!(self.ir.arena.node(*operand), Some(Node::Local(slot)) if *slot as usize == i) {
                        return None;
                    }
                    *operand = *arg;
                }
                None => {
                    if !self.frameless(*operand, &mut budget) {
                        return None;
                    }
                }
            }
        }
        Some(self.push(node, root))
    }

    /// Whether `id` neither reads nor writes a local, looking at no more than `budget` nodes.
    fn frameless(&self, id: ExprId, budget: &mut usize) -> bool {
        let Some(node) = self.node(id) else { return false };
        let Some(left) = budget.checked_sub(1) else { return false };
        *budget = left;
        match node {
            Node::Local(_) | Node::Memo { .. } | Node::Aggregate { .. } | Node::Schedule { .. } => false,
            _ => Self::operands(node).into_iter().all(|x| self.frameless(x, budget)),
        }
    }

    /// Arithmetic on number literals, computed as the evaluator would; left alone when it
    /// fails, so that the failure is reported where and when it was.
    fn fold(&self, node: &Node) -> Option<Value> {
        let number = |id: ExprId| match self.node(id) {
            Some(Node::Const(Value::Num(d))) => Some(*d),
            _ => None,
        };
        match node {
            Node::Arith { op, lhs, rhs } => {
                let (a, b) = (number(*lhs)?, number(*rhs)?);
                crate::eval::ops::arith(*op, a, b, crate::span::Span::default()).ok().map(Value::Num)
            }
            Node::Neg(x) => number(*x).map(|d| Value::Num(-d)),
            _ => None,
        }
    }
}
