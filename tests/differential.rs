//! Differential test: a plain tree-walking evaluator over the AST, written from
//! docs/language.md, against the compiled evaluator, on generated programs and data.
//!
//! The programs cover a subset of the language: an `input` schema of Number, Money(USD) and
//! Bool fields plus a list of records; a chain of `let`s built from literals (plain,
//! grouped, percent, multiple, money), `+ - * /`, unary minus, comparisons, `and`/`or`/`not`,
//! `if`, references to earlier lets and to input fields, list indexing, a step and an
//! interpolated schedule, and the aggregates `sum`, `count`, `min`, `max`, `any`, `all` with
//! `if` filters and `default:`. Every let's value must agree; a let that fails in the
//! reference must be `null` in the report with one error entry at the same line and column,
//! and a let that only reads a failed one must be `null` with no entry of its own.
//!
//! The text is printed with as few parentheses as precedence allows, and the parsed tree is
//! checked against the generated one, so precedence and literal forms are tested as well.

use std::collections::HashMap;
use std::sync::Arc;

use covenant::span::{FileId, Span};
use covenant::syntax::ast::{Arg, BinaryOp, CmpOp, Expr, ExprKind, Item, Module, ScheduleDef, ScheduleKey, UnaryOp};
use covenant::Program;
use proptest::prelude::*;
use proptest::sample::Index;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value as Json};

// ====================================================================== the reference

#[derive(Clone, Debug, PartialEq)]
enum V {
    /// Numbers and Money alike: the currency is a static matter.
    Num(Decimal),
    Bool(bool),
    List(Vec<V>),
    Record(Vec<(String, V)>),
}

#[derive(Clone, Debug, PartialEq)]
enum Failure {
    /// Failed here: the report must carry an entry with this message at this place.
    Here(&'static str, Span),
    /// Read something that failed: `null`, with no entry of its own.
    Upstream,
}

type Outcome = Result<V, Failure>;

/// The messages the reference gives, each a phrase the engine's message must contain.
const DIVISION_BY_ZERO: &str = "division by zero";
const OVERFLOW: &str = "overflow";
const OUTSIDE_THE_LIST: &str = "outside a list";
const EMPTY_LIST: &str = "of an empty list";
const POINTS_MUST_INCREASE: &str = "interpolation points must increase";

struct Reference<'m> {
    input: V,
    schedules: HashMap<&'m str, &'m ScheduleDef>,
    lets: HashMap<String, Outcome>,
    /// Which lets are Bool, for `count`, whose body counts only when it is a Bool.
    bool_lets: HashMap<String, bool>,
}

fn arithmetic(op: BinaryOp, a: Decimal, b: Decimal, span: Span) -> Outcome {
    let result = match op {
        BinaryOp::Add => a.checked_add(b),
        BinaryOp::Sub => a.checked_sub(b),
        BinaryOp::Mul => a.checked_mul(b),
        BinaryOp::Div if b.is_zero() => return Err(Failure::Here(DIVISION_BY_ZERO, span)),
        BinaryOp::Div => a.checked_div(b),
        _ => unreachable!("not arithmetic: {op:?}"),
    };
    result.map(V::Num).ok_or(Failure::Here(OVERFLOW, span))
}

fn compare(op: CmpOp, a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Num(x), V::Num(y)) => match op {
            CmpOp::Lt => x < y,
            CmpOp::Le => x <= y,
            CmpOp::Gt => x > y,
            CmpOp::Ge => x >= y,
            CmpOp::Eq => x == y,
            CmpOp::Ne => x != y,
        },
        (V::Bool(x), V::Bool(y)) => match op {
            CmpOp::Eq => x == y,
            CmpOp::Ne => x != y,
            _ => unreachable!("Bools are only compared for equality"),
        },
        _ => unreachable!("compared {a:?} with {b:?}"),
    }
}

fn num(v: V) -> Decimal {
    match v {
        V::Num(n) => n,
        other => unreachable!("expected a number, found {other:?}"),
    }
}

fn truth(v: V) -> bool {
    match v {
        V::Bool(b) => b,
        other => unreachable!("expected a Bool, found {other:?}"),
    }
}

impl<'m> Reference<'m> {
    fn new(module: &'m Module, input: V) -> Self {
        let schedules = module
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Schedule(s) => Some((s.name.name.as_str(), s)),
                _ => None,
            })
            .collect();
        Reference { input, schedules, lets: HashMap::new(), bool_lets: HashMap::new() }
    }

    /// Every let in declaration order, the way the report lists them.
    fn run(mut self, module: &Module) -> Vec<(String, Outcome)> {
        let mut out = Vec::new();
        for item in &module.items {
            if let Item::Let(def) = item {
                let value = self.eval(&def.value, &[]);
                self.bool_lets.insert(def.name.name.clone(), self.is_bool(&def.value));
                self.lets.insert(def.name.name.clone(), value.clone());
                out.push((def.name.name.clone(), value));
            }
        }
        out
    }

    /// Whether an expression is a Bool, from its shape alone (the subset's schema has `b1`,
    /// `b2` and `ok` as its Bool fields).
    fn is_bool(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Bool(_) => true,
            ExprKind::Unary(UnaryOp::Not, _) => true,
            ExprKind::Binary(BinaryOp::And | BinaryOp::Or | BinaryOp::Cmp(_), _, _) => true,
            ExprKind::If(_, then, _) => self.is_bool(then),
            ExprKind::Field(_, field) => matches!(field.name.as_str(), "b1" | "b2" | "ok"),
            ExprKind::Name(n) => self.bool_lets.get(n).copied().unwrap_or(false),
            ExprKind::Call { name, .. } => matches!(name.name.as_str(), "any" | "all"),
            _ => false,
        }
    }

    fn eval(&self, e: &Expr, locals: &[(&str, V)]) -> Outcome {
        match &e.kind {
            ExprKind::Number(n, _) | ExprKind::Money(n, _) => Ok(V::Num(*n)),
            ExprKind::Bool(b) => Ok(V::Bool(*b)),
            ExprKind::Input => Ok(self.input.clone()),
            ExprKind::Name(name) => {
                if let Some((_, v)) = locals.iter().rev().find(|(n, _)| n == name) {
                    return Ok(v.clone());
                }
                match self.lets.get(name) {
                    Some(Ok(v)) => Ok(v.clone()),
                    Some(Err(_)) => Err(Failure::Upstream),
                    None => unreachable!("`{name}` read before it was defined"),
                }
            }
            ExprKind::Field(record, field) => match self.eval(record, locals)? {
                V::Record(fields) => Ok(fields.into_iter().find(|(n, _)| *n == field.name).expect("a field of the schema").1),
                other => unreachable!("field of {other:?}"),
            },
            ExprKind::Index(list, index) => {
                let V::List(items) = self.eval(list, locals)? else { unreachable!("indexing a non-list") };
                let i = num(self.eval(index, locals)?);
                // 0-based; a negative, fractional or too large index is an error (§5).
                let position = if i.fract().is_zero() { i.to_usize() } else { None };
                match position.and_then(|p| items.get(p)) {
                    Some(item) => Ok(item.clone()),
                    None => Err(Failure::Here(OUTSIDE_THE_LIST, e.span)),
                }
            }
            ExprKind::Unary(UnaryOp::Neg, x) => Ok(V::Num(-num(self.eval(x, locals)?))),
            ExprKind::Unary(UnaryOp::Not, x) => Ok(V::Bool(!truth(self.eval(x, locals)?))),
            ExprKind::Binary(BinaryOp::And, a, b) => Ok(V::Bool(truth(self.eval(a, locals)?) && truth(self.eval(b, locals)?))),
            ExprKind::Binary(BinaryOp::Or, a, b) => Ok(V::Bool(truth(self.eval(a, locals)?) || truth(self.eval(b, locals)?))),
            ExprKind::Binary(BinaryOp::Cmp(op), a, b) => {
                let (a, b) = (self.eval(a, locals)?, self.eval(b, locals)?);
                Ok(V::Bool(compare(*op, &a, &b)))
            }
            ExprKind::Binary(op, a, b) => {
                let (a, b) = (num(self.eval(a, locals)?), num(self.eval(b, locals)?));
                arithmetic(*op, a, b, e.span)
            }
            ExprKind::If(cond, then, otherwise) => {
                if truth(self.eval(cond, locals)?) {
                    self.eval(then, locals)
                } else {
                    self.eval(otherwise, locals)
                }
            }
            ExprKind::Call { name, args } => match args.as_slice() {
                [Arg::Generator { body, var, list, filter, .. }, rest @ ..] => {
                    let default = rest.iter().find_map(|a| match a {
                        Arg::Named(n, d) if n.name == "default" => Some(d),
                        _ => None,
                    });
                    self.aggregate(&name.name, body, &var.name, list, filter.as_ref(), default, locals, e.span)
                }
                [Arg::Positional(key)] => {
                    let key = self.eval(key, locals)?;
                    self.schedule(self.schedules[name.name.as_str()], key, e.span)
                }
                _ => unreachable!("a call outside the subset: {}", name.name),
            },
            other => unreachable!("outside the subset: {other:?}"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn aggregate(
        &self,
        kind: &str,
        body: &Expr,
        var: &str,
        list: &Expr,
        filter: Option<&Expr>,
        default: Option<&Expr>,
        locals: &[(&str, V)],
        span: Span,
    ) -> Outcome {
        let V::List(items) = self.eval(list, locals)? else { unreachable!("aggregating a non-list") };
        let mut total = Decimal::ZERO;
        let mut count = Decimal::ZERO;
        let mut best: Option<Decimal> = None;
        for item in items {
            let mut scope = locals.to_vec();
            scope.push((var, item));
            if let Some(f) = filter {
                if !truth(self.eval(f, &scope)?) {
                    continue;
                }
            }
            match kind {
                "sum" => total = num(arithmetic(BinaryOp::Add, total, num(self.eval(body, &scope)?), span)?),
                // A Bool body counts where it holds; any other body is not evaluated at all.
                "count" if self.is_bool(body) => {
                    if truth(self.eval(body, &scope)?) {
                        count += Decimal::ONE;
                    }
                }
                "count" => count += Decimal::ONE,
                "any" if truth(self.eval(body, &scope)?) => return Ok(V::Bool(true)),
                "all" if !truth(self.eval(body, &scope)?) => return Ok(V::Bool(false)),
                "any" | "all" => {}
                "min" | "max" => {
                    let v = num(self.eval(body, &scope)?);
                    let better = match best {
                        None => true,
                        Some(b) if kind == "min" => v < b,
                        Some(b) => v > b,
                    };
                    if better {
                        best = Some(v);
                    }
                }
                _ => unreachable!("aggregate `{kind}`"),
            }
        }
        match kind {
            "sum" => Ok(V::Num(total)),
            "count" => Ok(V::Num(count)),
            "any" => Ok(V::Bool(false)),
            "all" => Ok(V::Bool(true)),
            _ => match (best, default) {
                (Some(b), _) => Ok(V::Num(b)),
                (None, Some(d)) => self.eval(d, locals),
                (None, None) => Err(Failure::Here(EMPTY_LIST, span)),
            },
        }
    }

    fn schedule(&self, def: &ScheduleDef, key: V, call: Span) -> Outcome {
        let param = def.params[0].name.name.as_str();
        let scope = [(param, key.clone())];
        if !def.interpolate {
            for row in &def.rows {
                let (op, k) = match &row.key {
                    ScheduleKey::Else => return self.eval(&row.value, &scope),
                    ScheduleKey::Cmp(op, k) => (*op, k),
                    // A row written without an operator matches on equality.
                    ScheduleKey::Point(k) => (CmpOp::Eq, k),
                };
                let k = self.eval(k, &scope)?;
                if compare(op, &key, &k) {
                    return self.eval(&row.value, &scope);
                }
            }
            unreachable!("a step schedule ends with `else`");
        }
        // Every point is read and the keys must increase, whatever the key; then the value is
        // the first point's before it, the last point's after it, and linear in between.
        let mut points: Vec<(Decimal, Decimal)> = Vec::new();
        for row in &def.rows {
            let (ScheduleKey::Point(k) | ScheduleKey::Cmp(_, k)) = &row.key else { unreachable!("`else` in an interpolation") };
            let x = num(self.eval(k, &scope)?);
            let y = num(self.eval(&row.value, &scope)?);
            if points.last().is_some_and(|(px, _)| *px >= x) {
                return Err(Failure::Here(POINTS_MUST_INCREASE, k.span));
            }
            points.push((x, y));
        }
        let x = num(key);
        let (first, last) = (points[0], points[points.len() - 1]);
        if x <= first.0 {
            return Ok(V::Num(first.1));
        }
        if x >= last.0 {
            return Ok(V::Num(last.1));
        }
        let segment = points.windows(2).find(|w| x <= w[1].0).expect("x lies inside the points");
        let ((xa, ya), (xb, yb)) = (segment[0], segment[1]);
        // t first, then the rise times t: the order fixes the rounding in the 28th digit.
        let t = num(arithmetic(BinaryOp::Div, num(arithmetic(BinaryOp::Sub, x, xa, call)?), num(arithmetic(BinaryOp::Sub, xb, xa, call)?), call)?);
        let rise = num(arithmetic(BinaryOp::Mul, num(arithmetic(BinaryOp::Sub, yb, ya, call)?), t, call)?);
        arithmetic(BinaryOp::Add, ya, rise, call)
    }
}

// ====================================================================== generated programs

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Number,
    Money,
    Bool,
}

/// A number literal in one of the forms the language accepts.
#[derive(Clone, Debug)]
enum Lit {
    Plain(Decimal),
    /// `1_250_000`
    Grouped(i64),
    /// basis points, written as a percent: 1250 is `12.5%`
    Percent(i64),
    /// `1.25x`
    Multiple(Decimal),
    /// the largest literal a decimal holds
    Largest,
}

impl Lit {
    fn value(&self) -> Decimal {
        match self {
            Lit::Plain(d) | Lit::Multiple(d) => *d,
            Lit::Grouped(n) => Decimal::from(*n),
            Lit::Percent(bp) => Decimal::new(*bp, 4),
            Lit::Largest => Decimal::MAX,
        }
    }

    fn source(&self) -> String {
        match self {
            Lit::Plain(d) => d.to_string(),
            Lit::Grouped(n) => grouped(&n.to_string()),
            Lit::Percent(bp) => format!("{}%", Decimal::new(*bp, 2).normalize()),
            Lit::Multiple(d) => format!("{d}x"),
            Lit::Largest => grouped(&Decimal::MAX.to_string()),
        }
    }
}

fn grouped(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('_');
        }
        out.push(c);
    }
    out
}

/// The report's spelling of a number: normalised, no exponent, `0` for zero.
fn canonical(d: Decimal) -> String {
    let n = d.normalize();
    if n.is_zero() {
        "0".to_string()
    } else {
        n.to_string()
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Cmp(CmpOp),
    And,
    Or,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Agg {
    Sum,
    Count,
    Min,
    Max,
    Any,
    All,
}

/// An expression as generated, before names are chosen: a let reference or a list
/// element's field is resolved against what is in scope where it lands.
#[derive(Clone, Debug)]
enum Gen {
    Number(Lit),
    Money(Decimal),
    Bool(bool),
    InputField(&'static str),
    LetRef(Ty, Index),
    /// A field of a list element: an enclosing aggregate's variable, or else an element
    /// picked by index (which may be outside the list).
    ItemField(&'static str, Index),
    Neg(Box<Gen>),
    Not(Box<Gen>),
    Binary(Op, Box<Gen>, Box<Gen>),
    If(Box<Gen>, Box<Gen>, Box<Gen>),
    Schedule(&'static str, Box<Gen>),
    Aggregate { agg: Agg, body: Box<Gen>, filter: Option<Box<Gen>>, default: Option<Box<Gen>> },
}

// Binding strength, loosest first, as in the precedence table of docs/language.md §5.
const IF: u8 = 1;
const OR: u8 = 2;
const AND: u8 = 3;
const NOT: u8 = 4;
const CMP: u8 = 5;
const ADD: u8 = 7;
const MUL: u8 = 8;
const NEG: u8 = 9;
const ATOM: u8 = 10;

/// An expression as source text with the fewest parentheses, and fully parenthesised with
/// literals normalised, to compare with the parsed tree.
struct Printed {
    text: String,
    canon: String,
    binds: u8,
}

impl Printed {
    fn atom(text: String, canon: String) -> Printed {
        Printed { text, canon, binds: ATOM }
    }

    fn at_least(&self, binds: u8) -> String {
        if self.binds < binds {
            format!("({})", self.text)
        } else {
            self.text.clone()
        }
    }
}

struct Scope<'a> {
    earlier: &'a [(String, Ty)],
    vars: Vec<String>,
}

fn print(g: &Gen, scope: &Scope<'_>) -> Printed {
    match g {
        Gen::Number(lit) => Printed::atom(lit.source(), canonical(lit.value())),
        Gen::Money(d) => Printed::atom(format!("{d} USD"), format!("{} USD", canonical(*d))),
        Gen::Bool(b) => Printed::atom(b.to_string(), b.to_string()),
        Gen::InputField(f) => Printed::atom(format!("input.{f}"), format!("input.{f}")),
        Gen::LetRef(ty, i) => {
            let candidates: Vec<&String> = scope.earlier.iter().filter(|(_, t)| t == ty).map(|(n, _)| n).collect();
            let name = if candidates.is_empty() {
                match ty {
                    Ty::Number => "input.n1".to_string(),
                    Ty::Money => "input.m1".to_string(),
                    Ty::Bool => "input.b1".to_string(),
                }
            } else {
                candidates[i.index(candidates.len())].clone()
            };
            Printed::atom(name.clone(), name)
        }
        Gen::ItemField(f, i) => {
            let path = if scope.vars.is_empty() {
                format!("input.items[{}].{f}", i.index(3))
            } else {
                format!("{}.{f}", scope.vars[i.index(scope.vars.len())])
            };
            Printed::atom(path.clone(), path)
        }
        Gen::Neg(x) => {
            let x = print(x, scope);
            let operand = x.at_least(NEG);
            // `--` is not two minus signs.
            let operand = if operand.starts_with('-') { format!("({operand})") } else { operand };
            Printed { text: format!("-{operand}"), canon: format!("(-{})", x.canon), binds: NEG }
        }
        Gen::Not(x) => {
            let x = print(x, scope);
            Printed { text: format!("not {}", x.at_least(NOT)), canon: format!("(not {})", x.canon), binds: NOT }
        }
        Gen::Binary(op, a, b) => {
            let (a, b) = (print(a, scope), print(b, scope));
            let (symbol, binds, left, right) = match op {
                Op::Add => ("+", ADD, ADD, MUL),
                Op::Sub => ("-", ADD, ADD, MUL),
                Op::Mul => ("*", MUL, MUL, NEG),
                Op::Div => ("/", MUL, MUL, NEG),
                // Comparisons do not chain: both sides bind tighter.
                Op::Cmp(c) => (c.symbol(), CMP, CMP + 1, CMP + 1),
                Op::And => ("and", AND, AND, NOT),
                Op::Or => ("or", OR, OR, AND),
            };
            Printed {
                text: format!("{} {symbol} {}", a.at_least(left), b.at_least(right)),
                canon: format!("({} {symbol} {})", a.canon, b.canon),
                binds,
            }
        }
        Gen::If(c, a, b) => {
            let (c, a, b) = (print(c, scope), print(a, scope), print(b, scope));
            Printed {
                text: format!("if {} then {} else {}", c.text, a.text, b.text),
                canon: format!("(if {} then {} else {})", c.canon, a.canon, b.canon),
                binds: IF,
            }
        }
        Gen::Schedule(name, key) => {
            let key = print(key, scope);
            Printed::atom(format!("{name}({})", key.text), format!("{name}({})", key.canon))
        }
        Gen::Aggregate { agg, body, filter, default } => {
            let var = format!("x{}", scope.vars.len());
            let mut inner_vars = scope.vars.clone();
            inner_vars.push(var.clone());
            let inner = Scope { earlier: scope.earlier, vars: inner_vars };
            let body = print(body, &inner);
            let filter = filter.as_ref().map(|f| print(f, &inner));
            // The default is read outside the generator, where its variable is not in scope.
            let default = default.as_ref().map(|d| print(d, scope));
            let name = match agg {
                Agg::Sum => "sum",
                Agg::Count => "count",
                Agg::Min => "min",
                Agg::Max => "max",
                Agg::Any => "any",
                Agg::All => "all",
            };
            // An `if` as body or filter is parenthesised, as its `else` would run on.
            let text = format!(
                "{name}({} for {var} in input.items{}{})",
                body.at_least(OR),
                filter.as_ref().map(|f| format!(" if {}", f.at_least(OR))).unwrap_or_default(),
                default.as_ref().map(|d| format!(", default: {}", d.text)).unwrap_or_default(),
            );
            let canon = format!(
                "{name}({} for {var} in input.items{}{})",
                body.canon,
                filter.as_ref().map(|f| format!(" if {}", f.canon)).unwrap_or_default(),
                default.as_ref().map(|d| format!(", default: {}", d.canon)).unwrap_or_default(),
            );
            Printed::atom(text, canon)
        }
    }
}

/// The parsed tree, printed as `Printed::canon` prints the generated one.
fn canon(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Number(n, _) => canonical(*n),
        ExprKind::Money(n, ccy) => format!("{} {ccy}", canonical(*n)),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Name(n) => n.clone(),
        ExprKind::Input => "input".to_string(),
        ExprKind::Field(record, field) => format!("{}.{}", canon(record), field.name),
        ExprKind::Index(list, i) => format!("{}[{}]", canon(list), canon(i)),
        ExprKind::Unary(UnaryOp::Neg, x) => format!("(-{})", canon(x)),
        ExprKind::Unary(UnaryOp::Not, x) => format!("(not {})", canon(x)),
        ExprKind::Binary(op, a, b) => format!("({} {} {})", canon(a), op.symbol(), canon(b)),
        ExprKind::If(c, a, b) => format!("(if {} then {} else {})", canon(c), canon(a), canon(b)),
        ExprKind::Call { name, args } => {
            let args: Vec<String> = args
                .iter()
                .map(|a| match a {
                    Arg::Positional(e) => canon(e),
                    Arg::Named(n, e) => format!("{}: {}", n.name, canon(e)),
                    Arg::Generator { body, var, list, filter, .. } => format!(
                        "{} for {} in {}{}",
                        canon(body),
                        var.name,
                        canon(list),
                        filter.as_ref().map(|f| format!(" if {}", canon(f))).unwrap_or_default()
                    ),
                })
                .collect();
            format!("{}({})", name.name, args.join(", "))
        }
        other => format!("{other:?}"),
    }
}

// ---------------------------------------------------------------------- strategies

fn decimal_literal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        4 => (0i64..10_000).prop_map(Decimal::from),
        4 => (0i64..1_000_000, 1u32..5).prop_map(|(n, scale)| Decimal::new(n, scale)),
        1 => Just(Decimal::ZERO),
        1 => (1i64..10).prop_map(|n| Decimal::new(n, 28)),
        1 => (1i64..100).prop_map(|n| Decimal::from(n) * Decimal::from(1_000_000_000_000_000i64)),
    ]
}

fn lit() -> impl Strategy<Value = Lit> {
    prop_oneof![
        6 => decimal_literal().prop_map(Lit::Plain),
        1 => (1_000i64..100_000_000).prop_map(Lit::Grouped),
        2 => (0i64..20_000).prop_map(Lit::Percent),
        1 => (0i64..1_000, 0u32..3).prop_map(|(n, s)| Lit::Multiple(Decimal::new(n, s))),
        1 => Just(Lit::Largest),
    ]
}

fn money_literal() -> impl Strategy<Value = Decimal> {
    prop_oneof![4 => (0i64..10_000_000).prop_map(|c| Decimal::new(c, 2)), 1 => Just(Decimal::ZERO), 1 => Just(Decimal::MAX)]
}

fn number_leaf() -> BoxedStrategy<Gen> {
    prop_oneof![
        3 => lit().prop_map(Gen::Number),
        2 => prop::sample::select(&["n1", "n2", "n3"][..]).prop_map(Gen::InputField),
        2 => any::<Index>().prop_map(|i| Gen::LetRef(Ty::Number, i)),
        2 => any::<Index>().prop_map(|i| Gen::ItemField("qty", i)),
    ]
    .boxed()
}

fn money_leaf() -> BoxedStrategy<Gen> {
    prop_oneof![
        3 => money_literal().prop_map(Gen::Money),
        2 => prop::sample::select(&["m1", "m2"][..]).prop_map(Gen::InputField),
        2 => any::<Index>().prop_map(|i| Gen::LetRef(Ty::Money, i)),
        2 => any::<Index>().prop_map(|i| Gen::ItemField("price", i)),
    ]
    .boxed()
}

fn bool_leaf() -> BoxedStrategy<Gen> {
    prop_oneof![
        1 => any::<bool>().prop_map(Gen::Bool),
        2 => prop::sample::select(&["b1", "b2"][..]).prop_map(Gen::InputField),
        2 => any::<Index>().prop_map(|i| Gen::LetRef(Ty::Bool, i)),
        2 => any::<Index>().prop_map(|i| Gen::ItemField("ok", i)),
    ]
    .boxed()
}

/// One expression of each type, so that a compound node can draw operands of whatever
/// type its operator needs from the same children.
#[derive(Clone, Debug)]
struct Triple {
    number: Gen,
    money: Gen,
    boolean: Gen,
}

/// Which operator each type's node uses, and the optional parts of an aggregate.
#[derive(Clone, Copy, Debug)]
struct Choice {
    number: u8,
    money: u8,
    boolean: u8,
    op: u8,
    filtered: bool,
    defaulted: bool,
    bool_body: bool,
    smallest: bool,
}

fn choice() -> impl Strategy<Value = Choice> {
    (0..14u8, 0..10u8, 0..10u8, any::<u8>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(number, money, boolean, op, filtered, defaulted, bool_body, smallest)| Choice {
            number,
            money,
            boolean,
            op,
            filtered,
            defaulted,
            bool_body,
            smallest,
        },
    )
}

fn build(a: Triple, b: Triple, c: Triple, k: Choice) -> Triple {
    let bx = Box::new;
    let arith = [Op::Add, Op::Sub, Op::Mul, Op::Div][usize::from(k.op % 4)];
    let cmp = [CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge, CmpOp::Eq, CmpOp::Ne][usize::from(k.op % 6)];
    let filter = |g: &Gen| k.filtered.then(|| bx(g.clone()));
    let extreme = if k.smallest { Agg::Min } else { Agg::Max };
    let number = match k.number {
        0..=3 => Gen::Binary(arith, bx(a.number.clone()), bx(b.number.clone())),
        4 => Gen::Neg(bx(a.number.clone())),
        5 => Gen::Binary(Op::Div, bx(a.money.clone()), bx(b.money.clone())),
        6 => Gen::If(bx(c.boolean.clone()), bx(a.number.clone()), bx(b.number.clone())),
        7 => Gen::Schedule("step_rate", bx(a.number.clone())),
        8 => Gen::Schedule("curve", bx(a.number.clone())),
        9 => Gen::Aggregate { agg: Agg::Sum, body: bx(a.number.clone()), filter: filter(&c.boolean), default: None },
        10 => {
            let body = if k.bool_body { a.boolean.clone() } else { a.number.clone() };
            Gen::Aggregate { agg: Agg::Count, body: bx(body), filter: filter(&c.boolean), default: None }
        }
        11 => Gen::Aggregate {
            agg: extreme,
            body: bx(a.number.clone()),
            filter: filter(&c.boolean),
            default: k.defaulted.then(|| bx(b.number.clone())),
        },
        _ => Gen::Binary(arith, bx(a.number.clone()), bx(c.number.clone())),
    };
    let money = match k.money {
        0 | 1 => Gen::Binary(if k.op % 2 == 0 { Op::Add } else { Op::Sub }, bx(a.money.clone()), bx(b.money.clone())),
        2 => Gen::Binary(Op::Mul, bx(a.money.clone()), bx(b.number.clone())),
        3 => Gen::Binary(Op::Mul, bx(a.number.clone()), bx(b.money.clone())),
        4 => Gen::Binary(Op::Div, bx(a.money.clone()), bx(b.number.clone())),
        5 => Gen::Neg(bx(a.money.clone())),
        6 => Gen::If(bx(c.boolean.clone()), bx(a.money.clone()), bx(b.money.clone())),
        7 => Gen::Aggregate { agg: Agg::Sum, body: bx(a.money.clone()), filter: filter(&c.boolean), default: None },
        8 => Gen::Aggregate {
            agg: extreme,
            body: bx(a.money.clone()),
            filter: filter(&c.boolean),
            default: k.defaulted.then(|| bx(b.money.clone())),
        },
        _ => Gen::Binary(Op::Sub, bx(a.money.clone()), bx(c.money.clone())),
    };
    let boolean = match k.boolean {
        0 | 1 => Gen::Binary(Op::Cmp(cmp), bx(a.number.clone()), bx(b.number.clone())),
        2 => Gen::Binary(Op::Cmp(cmp), bx(a.money.clone()), bx(b.money.clone())),
        3 => Gen::Binary(Op::Cmp(if k.op % 2 == 0 { CmpOp::Eq } else { CmpOp::Ne }), bx(a.boolean.clone()), bx(b.boolean.clone())),
        4 => Gen::Binary(Op::And, bx(a.boolean.clone()), bx(b.boolean.clone())),
        5 => Gen::Binary(Op::Or, bx(a.boolean.clone()), bx(b.boolean.clone())),
        6 => Gen::Not(bx(a.boolean.clone())),
        7 => Gen::Aggregate {
            agg: if k.smallest { Agg::Any } else { Agg::All },
            body: bx(a.boolean.clone()),
            filter: filter(&c.boolean),
            default: None,
        },
        8 => Gen::If(bx(c.boolean.clone()), bx(a.boolean.clone()), bx(b.boolean.clone())),
        _ => Gen::Binary(Op::Cmp(cmp), bx(c.number.clone()), bx(a.number.clone())),
    };
    Triple { number, money, boolean }
}

fn triples() -> impl Strategy<Value = Triple> {
    let leaves = (number_leaf(), money_leaf(), bool_leaf()).prop_map(|(number, money, boolean)| Triple { number, money, boolean });
    leaves.prop_recursive(4, 48, 3, |inner| (inner.clone(), inner.clone(), inner, choice()).prop_map(|(a, b, c, k)| build(a, b, c, k)))
}

/// A schedule row's value: a literal or a little arithmetic on the key, never a
/// comparison (docs/language.md §6).
#[derive(Clone, Debug)]
enum RowValue {
    Lit(Lit),
    KeyTimes(Decimal),
    KeyPlus(Decimal),
}

impl RowValue {
    fn source(&self) -> String {
        match self {
            RowValue::Lit(l) => l.source(),
            RowValue::KeyTimes(d) => format!("k * {d}"),
            RowValue::KeyPlus(d) => format!("k + {d}"),
        }
    }
}

fn row_value() -> impl Strategy<Value = RowValue> {
    prop_oneof![
        3 => lit().prop_map(RowValue::Lit),
        1 => decimal_literal().prop_map(RowValue::KeyTimes),
        1 => decimal_literal().prop_map(RowValue::KeyPlus),
    ]
}

#[derive(Clone, Debug)]
struct StepRow {
    /// `None` is a row written without an operator, which matches on equality.
    op: Option<CmpOp>,
    key: Decimal,
    value: RowValue,
}

fn step_row() -> impl Strategy<Value = StepRow> {
    let op = prop_oneof![
        Just(None),
        prop::sample::select(&[CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge, CmpOp::Eq, CmpOp::Ne][..]).prop_map(Some)
    ];
    (op, (-10_000i64..10_000, 0u32..3), row_value()).prop_map(|(op, (n, s), value)| StepRow { op, key: Decimal::new(n, s), value })
}

#[derive(Clone, Debug)]
struct GenProgram {
    step_rows: Vec<StepRow>,
    step_else: RowValue,
    /// Interpolation points: keys, and values that may be negated.
    points: Vec<(Decimal, bool, Lit)>,
    lets: Vec<(Ty, bool, Triple)>,
}

fn program() -> impl Strategy<Value = GenProgram> {
    // Keys span the range of the generated data, so that calls land between points as
    // well as before and after them.
    let keys = prop::collection::btree_set(-100_000i64..100_000, 1..6);
    let point_values = prop::collection::vec((any::<bool>(), lit()), 6);
    let ty = prop::sample::select(&[Ty::Number, Ty::Number, Ty::Money, Ty::Bool][..]);
    (
        prop::collection::vec(step_row(), 0..5),
        row_value(),
        keys,
        point_values,
        prop::collection::vec((ty, any::<bool>(), triples()), 1..10),
    )
        .prop_map(|(step_rows, step_else, keys, values, lets)| {
            // The points increase; calls of schedules whose points do not are covered by
            // `interpolation_points_out_of_order_past_the_key` and its neighbours.
            let keys: Vec<Decimal> = keys.into_iter().map(|k| Decimal::new(k, 1)).collect();
            let points = keys.into_iter().zip(values).map(|(k, (negative, v))| (k, negative, v)).collect();
            GenProgram { step_rows, step_else, points, lets }
        })
}

struct Source {
    text: String,
    /// Each let's name, type, and its expression fully parenthesised.
    lets: Vec<(String, Ty, String)>,
}

impl GenProgram {
    fn source(&self) -> Source {
        let mut text = String::from(
            "input {
  as_of: Date
  n1: Number  n2: Number  n3: Number
  m1: Money(USD)  m2: Money(USD)
  b1: Bool  b2: Bool
  items: List<{ qty: Number, price: Money(USD), ok: Bool }>
}
schedule step_rate(k: Number) -> Number {
",
        );
        for row in &self.step_rows {
            let key = if row.key.is_sign_negative() { format!("-{}", row.key.abs()) } else { row.key.to_string() };
            let head = match row.op {
                Some(op) => format!("{} {key}", op.symbol()),
                // A bare negative key would continue the previous row's value.
                None if row.key.is_sign_negative() => format!("== {key}"),
                None => key,
            };
            text += &format!("  {head} => {}\n", row.value.source());
        }
        text += &format!("  else => {}\n}}\nschedule curve(k: Number) -> Number interpolate {{\n", self.step_else.source());
        for (i, (key, negative, value)) in self.points.iter().enumerate() {
            let key = match (key.is_sign_negative(), i) {
                (false, _) => key.to_string(),
                (true, 0) => format!("-{}", key.abs()),
                // A negative point after the first row must be parenthesised (§6).
                (true, _) => format!("(-{})", key.abs()),
            };
            text += &format!("  {key} => {}{}\n", if *negative { "-" } else { "" }, value.source());
        }
        text += "}\n";
        let mut earlier: Vec<(String, Ty)> = Vec::new();
        let mut lets = Vec::new();
        for (i, (ty, annotated, triple)) in self.lets.iter().enumerate() {
            let name = format!("v{i}");
            let g = match ty {
                Ty::Number => &triple.number,
                Ty::Money => &triple.money,
                Ty::Bool => &triple.boolean,
            };
            let printed = print(g, &Scope { earlier: &earlier, vars: Vec::new() });
            let annotation = match (annotated, ty) {
                (false, _) => String::new(),
                (true, Ty::Number) => ": Number".to_string(),
                (true, Ty::Money) => ": Money(USD)".to_string(),
                (true, Ty::Bool) => ": Bool".to_string(),
            };
            text += &format!("let {name}{annotation} = {}\n", printed.text);
            lets.push((name.clone(), *ty, printed.canon));
            earlier.push((name, *ty));
        }
        Source { text, lets }
    }
}

// ---------------------------------------------------------------------- data

#[derive(Clone, Debug)]
struct Data {
    numbers: [Decimal; 3],
    money: [Decimal; 2],
    flags: [bool; 2],
    items: Vec<(Decimal, Decimal, bool)>,
}

fn data_number() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        6 => (-1_000_000i64..1_000_000).prop_map(|c| Decimal::new(c, 2)),
        2 => Just(Decimal::ZERO),
        2 => (-5i64..6).prop_map(Decimal::from),
        1 => (-1_000i64..1_000).prop_map(|n| Decimal::from(n) * Decimal::from(100_000_000_000_000_000i64)),
        1 => Just(Decimal::MAX),
        1 => (-9i64..10).prop_map(|n| Decimal::new(n, 28)),
    ]
}

fn data() -> impl Strategy<Value = Data> {
    (
        [data_number(), data_number(), data_number()],
        [data_number(), data_number()],
        any::<[bool; 2]>(),
        prop::collection::vec((data_number(), data_number(), any::<bool>()), 0..20),
    )
        .prop_map(|(numbers, money, flags, items)| Data { numbers, money, flags, items })
}

impl Data {
    fn json(&self) -> String {
        let t = |d: &Decimal| Json::String(d.to_string());
        json!({
            "as_of": "2026-03-31",
            "n1": t(&self.numbers[0]), "n2": t(&self.numbers[1]), "n3": t(&self.numbers[2]),
            "m1": t(&self.money[0]), "m2": t(&self.money[1]),
            "b1": self.flags[0], "b2": self.flags[1],
            "items": self.items.iter().map(|(q, p, ok)| json!({"qty": t(q), "price": t(p), "ok": ok})).collect::<Vec<_>>(),
        })
        .to_string()
    }

    fn value(&self) -> V {
        let field = |n: &str, v: V| (n.to_string(), v);
        V::Record(vec![
            field("n1", V::Num(self.numbers[0])),
            field("n2", V::Num(self.numbers[1])),
            field("n3", V::Num(self.numbers[2])),
            field("m1", V::Num(self.money[0])),
            field("m2", V::Num(self.money[1])),
            field("b1", V::Bool(self.flags[0])),
            field("b2", V::Bool(self.flags[1])),
            field(
                "items",
                V::List(
                    self.items
                        .iter()
                        .map(|(q, p, ok)| V::Record(vec![field("qty", V::Num(*q)), field("price", V::Num(*p)), field("ok", V::Bool(*ok))]))
                        .collect(),
                ),
            ),
        ])
    }
}

// ====================================================================== the comparison

fn parse(text: &str) -> Module {
    covenant::syntax::parse(text, FileId(0), &miette::NamedSource::new("generated.cov", Arc::<str>::from(text)), 128)
        .unwrap_or_else(|e| panic!("the generated program does not parse: {e:?}\n{text}"))
}

fn line_column(text: &str, span: Span) -> (usize, usize) {
    let before = &text[..span.start as usize];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

fn expected_json(v: &V, ty: Ty) -> Json {
    match (v, ty) {
        (V::Num(n), Ty::Number) => Json::String(canonical(*n)),
        (V::Num(n), Ty::Money) => json!({"amount": canonical(*n), "currency": "USD"}),
        (V::Bool(b), Ty::Bool) => Json::Bool(*b),
        other => unreachable!("a let of type {:?} evaluated to {:?}", other.1, other.0),
    }
}

/// Runs one generated program both ways and explains the first disagreement.
fn compare_with_reference(program: &GenProgram, data: &Data) -> Result<(), TestCaseError> {
    let source = program.source();
    let text = &source.text;
    let module = parse(text);

    let parsed: Vec<&Expr> = module
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Let(l) => Some(&l.value),
            _ => None,
        })
        .collect();
    prop_assert_eq!(parsed.len(), source.lets.len());
    for ((name, _, generated), parsed) in source.lets.iter().zip(&parsed) {
        prop_assert_eq!(&canon(parsed), generated, "`{}` parsed into a different tree\n{}", name, text);
    }

    let reference = Reference::new(&module, data.value()).run(&module);
    let compiled = Program::compile("generated.cov", text).unwrap_or_else(|e| panic!("the generated program does not compile: {e:?}\n{text}"));
    let report = compiled.evaluate(&data.json(), None).unwrap_or_else(|e| panic!("the data was refused: {e}"));
    // The optimisation pass (literal arithmetic folded, repeated expressions computed once)
    // changes nothing a report shows.
    let as_written = Program::compile("generated.cov", text).unwrap_or_else(|e| panic!("{e:?}")).unoptimised();
    let plain = as_written.evaluate(&data.json(), None).unwrap_or_else(|e| panic!("the data was refused: {e}"));
    prop_assert_eq!(serde_json::to_string(&plain).unwrap(), serde_json::to_string(&report).unwrap(), "optimised and as written differ\n{}", text);

    let context = || format!("\n--- program\n{text}--- data\n{}\n--- report values\n{:#?}\n--- errors\n{:#?}", data.json(), report.values, report.errors);
    prop_assert_eq!(report.values.len(), reference.len());
    let mut failed_here = 0;
    for ((name, outcome), (_, ty, _)) in reference.iter().zip(&source.lets) {
        let reported = &report.values[name.as_str()];
        let entries: Vec<_> = report.errors.iter().filter(|e| &e.name == name).collect();
        match outcome {
            Ok(v) => {
                prop_assert_eq!(reported, &expected_json(v, *ty), "`{}`{}", name, context());
                prop_assert!(entries.is_empty(), "`{}` succeeded but has an error entry{}", name, context());
            }
            Err(Failure::Here(message, span)) => {
                failed_here += 1;
                prop_assert_eq!(reported, &Json::Null, "`{}` should fail with {}{}", name, message, context());
                prop_assert_eq!(entries.len(), 1, "`{}` should have one error entry{}", name, context());
                prop_assert!(entries[0].message.contains(message), "`{}` fails with `{}`, not {}{}", name, entries[0].message, message, context());
                prop_assert_eq!((entries[0].line, entries[0].column), line_column(text, *span), "where `{}` fails{}", name, context());
            }
            Err(Failure::Upstream) => {
                prop_assert_eq!(reported, &Json::Null, "`{}` reads a failed value{}", name, context());
                prop_assert!(entries.is_empty(), "`{}` only reads a failed value: no entry of its own{}", name, context());
            }
        }
    }
    prop_assert_eq!(report.errors.len(), failed_here, "{}", context());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_compiled_evaluator_agrees_with_the_reference(program in program(), data in data()) {
        compare_with_reference(&program, &data)?;
    }
}

// ====================================================================== fixed cases

fn evaluate_with_x(src: &str, x: &str) -> covenant::Report {
    let program = Program::compile("fixed.cov", src).unwrap_or_else(|e| panic!("compile: {e:?}"));
    program.evaluate(&json!({"as_of": "2026-03-31", "x": x}).to_string(), None).unwrap_or_else(|e| panic!("evaluate: {e}"))
}

const OUT_OF_ORDER: &str = "input { as_of: Date  x: Number }
schedule curve(k: Number) -> Number interpolate {
  0 => 1
  10 => 2
  5 => 3
}
let v = curve(input.x)
";

#[test]
fn interpolation_points_out_of_order_before_the_key_fail_the_call() {
    let report = evaluate_with_x(OUT_OF_ORDER, "20");
    assert_eq!(report.values["v"], Json::Null);
    assert_eq!(report.errors.len(), 1);
    assert!(report.errors[0].message.contains(POINTS_MUST_INCREASE), "{}", report.errors[0].message);
    assert_eq!((report.errors[0].line, report.errors[0].column), (5, 3));
}

/// docs/language.md §6: "Keys must increase strictly. This is checked when the schedule is
/// called: the call fails", even when the key's segment comes before the disorder.
#[test]
fn interpolation_points_out_of_order_past_the_key() {
    let report = evaluate_with_x(OUT_OF_ORDER, "1");
    assert_eq!(report.values["v"], Json::Null, "the call should fail, not interpolate");
    assert_eq!(report.errors.len(), 1);
    assert!(report.errors[0].message.contains(POINTS_MUST_INCREASE), "{}", report.errors[0].message);
    assert_eq!((report.errors[0].line, report.errors[0].column), (5, 3));
}

#[test]
fn an_interpolation_whose_rise_exceeds_the_decimal_range_fails_its_value_only() {
    let src = "input { as_of: Date  x: Number }
schedule curve(k: Number) -> Number interpolate {
  0 => -79_228_162_514_264_337_593_543_950_335
  10 => 79_228_162_514_264_337_593_543_950_335
}
let v = curve(input.x)
let other = 1
";
    let report = evaluate_with_x(src, "5");
    assert_eq!(report.values["v"], Json::Null);
    assert_eq!(report.values["other"], "1");
    assert_eq!(report.errors.len(), 1);
    assert!(report.errors[0].message.contains(OVERFLOW), "{}", report.errors[0].message);
}
