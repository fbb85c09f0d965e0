//! Types, currencies, optionals and rule shapes, checked against the input schema before
//! any data is seen. Fills in the IR's types and field indices in place.

mod error;

use std::collections::HashMap;
use std::sync::Arc;

pub use error::CheckError;

use crate::ir::{
    self, Aggregate, ArithOp, Body, Builtin, CovenantField, DefaultField, ExprId, Global, LiquidationField, MarginField, Node, PoolField,
};
use crate::resolve::{suggestion, Pending, Resolved};
use crate::span::{SourceMap, Span};
use crate::syntax::ast::{self, CmpOp, ShockOp, TypeExpr, TypeExprKind};
use crate::types::{Ccy, RecordType, RuleKind, Type};
use crate::value::Value;

pub const COVENANT_STATUSES: &[&str] = &["pass", "breach", "not_tested", "error"];
pub const MARGIN_STATUSES: &[&str] = &["none", "below_minimum", "called", "error"];

/// The most fields a record type may nest, so that recursive type definitions stop.
const MAX_TYPE_DEPTH: usize = 32;

pub fn check(resolved: Resolved, sources: &SourceMap) -> Result<ir::Ir, Vec<CheckError>> {
    let Resolved { mut ir, pending } = resolved;
    let mut c = Checker { sources, errors: Vec::new(), named: HashMap::new(), pending_types: HashMap::new() };
    for (name, ty) in &pending.types {
        c.pending_types.insert(name.name.clone(), ty.clone());
    }
    c.schema(&mut ir, &pending);
    c.signatures(&mut ir, &pending);
    c.bodies(&mut ir, &pending);
    if c.errors.is_empty() {
        c.value_nesting(&ir);
    }
    if c.errors.is_empty() {
        Ok(ir)
    } else {
        Err(c.errors)
    }
}

struct Checker<'a> {
    sources: &'a SourceMap,
    errors: Vec<CheckError>,
    named: HashMap<String, Type>,
    pending_types: HashMap<String, TypeExpr>,
}

/// Type-checking state for one body: the types of its local slots.
struct Frame {
    locals: Vec<Type>,
}

impl Frame {
    fn new(size: u32) -> Frame {
        Frame { locals: vec![Type::Error; size as usize] }
    }

    fn set(&mut self, slot: u32, ty: Type) {
        if let Some(s) = self.locals.get_mut(slot as usize) {
            *s = ty;
        }
    }
}

fn describe_optional_example(ty: &Type) -> String {
    match ty {
        Type::Money(Ccy::Code(c)) => format!("0 {c}"),
        Type::Number => "0".into(),
        Type::List(_) => "[]".into(),
        Type::Bool => "false".into(),
        Type::Text => "\"\"".into(),
        Type::Date => "as_of".into(),
        _ => "DEFAULT".into(),
    }
}

impl<'a> Checker<'a> {
    fn src(&self, span: Span) -> miette::NamedSource<Arc<str>> {
        self.sources.named_source(span.file)
    }

    fn text(&self, span: Span) -> String {
        let t = self.sources.text(span);
        if t.len() > 60 {
            format!("{}…", t.get(..60).unwrap_or(t))
        } else {
            t.to_string()
        }
    }

    fn invalid(&mut self, span: Span, message: impl Into<String>, label: impl Into<String>, help: impl Into<String>) {
        let src = self.src(span);
        self.errors.push(CheckError::Invalid {
            message: message.into(),
            help: help.into(),
            span: span.source_span(),
            label: label.into(),
            src,
        });
    }

    fn mismatch(&mut self, span: Span, expected: &str, found: &Type, help: impl Into<String>) {
        if *found == Type::Error {
            return;
        }
        if let Type::Optional(inner) = found {
            let text = self.text(span);
            let src = self.src(span);
            self.errors.push(CheckError::OptionalWithoutDefault {
                text,
                ty: found.to_string(),
                example: describe_optional_example(inner),
                span: span.source_span(),
                src,
            });
            return;
        }
        let src = self.src(span);
        self.errors.push(CheckError::TypeMismatch {
            expected: expected.to_string(),
            found: found.to_string(),
            help: help.into(),
            span: span.source_span(),
            src,
        });
    }

    // ------------------------------------------------------------------ types

    fn resolve_type(&mut self, t: &TypeExpr, generic_money: bool, depth: usize) -> Type {
        if depth > MAX_TYPE_DEPTH {
            self.invalid(t.span, "this type nests too deeply (a type that contains itself?)", "too deep", "types cannot be recursive");
            return Type::Error;
        }
        match &t.kind {
            TypeExprKind::Money(Some(c)) => Type::money(c),
            TypeExprKind::Money(None) => {
                if generic_money {
                    Type::Money(Ccy::Generic)
                } else {
                    self.invalid(t.span, "`Money` needs its currency here", "which currency?", "write `Money(USD)`; a bare `Money` is generic only in a `fn` signature");
                    Type::Error
                }
            }
            TypeExprKind::List(inner) => Type::List(Arc::new(self.resolve_type(inner, generic_money, depth + 1))),
            TypeExprKind::Optional(inner) => Type::Optional(Arc::new(self.resolve_type(inner, generic_money, depth + 1))),
            TypeExprKind::Record(fields) => {
                let mut out: Vec<(Arc<str>, Type)> = Vec::new();
                for (name, fty) in fields {
                    if out.iter().any(|(n, _)| **n == name.name) {
                        self.invalid(name.span, format!("field `{}` is declared twice", name.name), "again", "each field of a record is declared once");
                        continue;
                    }
                    let ty = self.resolve_type(fty, generic_money, depth + 1);
                    out.push((Arc::from(name.name.as_str()), ty));
                }
                Type::Record(Arc::new(RecordType { name: None, fields: out }))
            }
            TypeExprKind::Named(name) => match name.as_str() {
                "Number" => Type::Number,
                "Date" => Type::Date,
                "Duration" => Type::Duration,
                "Bool" => Type::Bool,
                "Text" => Type::Text,
                _ => {
                    if let Some(t) = self.named.get(name) {
                        return t.clone();
                    }
                    if let Some(def) = self.pending_types.get(name).cloned() {
                        let ty = match self.resolve_type(&def, false, depth + 1) {
                            Type::Record(r) => Type::Record(Arc::new(RecordType { name: Some(name.clone()), fields: r.fields.clone() })),
                            other => other,
                        };
                        self.named.insert(name.clone(), ty.clone());
                        return ty;
                    }
                    let known = ["Number", "Money", "Date", "Duration", "Bool", "Text", "List"];
                    let names: Vec<String> = self.pending_types.keys().cloned().collect();
                    let help = suggestion(name, known.iter().copied().chain(names.iter().map(String::as_str)), "type");
                    let src = self.src(t.span);
                    self.errors.push(CheckError::UnknownType { name: name.clone(), help, span: t.span.source_span(), src });
                    Type::Error
                }
            },
        }
    }

    /// Refuses the first expression whose values would nest lists and records more than
    /// `MAX_VALUE_NESTING` deep (`let a1 = [a0]`, `let a2 = [a1]`, …): walking, writing and
    /// freeing such a value recurse once per level, on whatever stack the caller has.
    fn value_nesting(&mut self, ir: &ir::Ir) {
        let deep = ir.arena.types.iter().position(|t| nesting(t, MAX_VALUE_NESTING) > MAX_VALUE_NESTING);
        if let Some(i) = deep {
            let span = ir.arena.span(ir::ExprId(u32::try_from(i).unwrap_or(0)));
            self.invalid(
                span,
                format!("this value nests lists more than {MAX_VALUE_NESTING} levels deep"),
                "nested too deeply",
                "a list of lists of … is limited to 64 levels: flatten the lists, or keep fewer levels",
            );
        }
    }

    fn schema(&mut self, ir: &mut ir::Ir, pending: &Pending) {
        let Some((schema, span)) = &pending.input else { return };
        match self.resolve_type(schema, false, 0) {
            Type::Record(r) => {
                match r.field("as_of") {
                    Some((i, Type::Date)) => ir.as_of_field = u32::try_from(i).unwrap_or(0),
                    _ => {
                        let src = self.src(*span);
                        self.errors.push(CheckError::MissingAsOf { span: span.source_span(), src });
                    }
                }
                if let Some(path) = duration_in(&Type::Record(r.clone()), "input") {
                    self.invalid(
                        *span,
                        format!("`{path}` is a Duration, which no data can supply"),
                        "declares a Duration",
                        "take the count from the data as a Number and apply it in the program, e.g. `add_business_days(as_of, input.notice_days)`",
                    );
                }
                ir.input = r;
            }
            _ => self.invalid(*span, "the input schema must be a record", "not a record", "write `input { as_of: Date … }`"),
        }
    }

    fn signatures(&mut self, ir: &mut ir::Ir, pending: &Pending) {
        for (f, (params, ret)) in ir.fns.iter_mut().zip(&pending.fn_sigs) {
            f.params = params
                .iter()
                .map(|p| (Arc::from(p.name.name.as_str()), self.resolve_type(&p.ty, true, 0)))
                .collect();
            f.ret = self.resolve_type(ret, true, 0);
        }
        for (l, declared) in ir.lets.iter_mut().zip(&pending.let_types) {
            l.declared = declared.as_ref().map(|t| self.resolve_type(t, false, 0));
        }
    }

    // ------------------------------------------------------------------ bodies

    fn bodies(&mut self, ir: &mut ir::Ir, pending: &Pending) {
        // Function bodies, against their own signatures.
        for fi in 0..ir.fns.len() {
            let Some(f) = ir.fns.get(fi) else { continue };
            let (body, params, ret, span) = (f.body, f.params.clone(), f.ret.clone(), f.span);
            let mut frame = Frame::new(body.frame);
            for (i, (_, t)) in params.iter().enumerate() {
                frame.set(u32::try_from(i).unwrap_or(0), t.clone());
            }
            let got = self.expr(ir, body.expr, &mut frame);
            if let Some(Node::Schedule { rows, interpolate }) = ir.arena.node(body.expr).cloned() {
                self.schedule(ir, &rows, interpolate, params.first().map(|p| &p.1), &ret, &mut frame, span);
            } else if !got.fits(&ret) {
                let span = ir.arena.span(body.expr);
                self.mismatch(span, &ret.to_string(), &got, format!("the signature promises {ret}"));
            }
        }
        // Globals in dependency order, so every reference is typed before it is read.
        let topo = ir.topo.clone();
        for g in topo {
            match g {
                Global::Let(i) => self.let_def(ir, i as usize, pending),
                Global::Pool(i) => self.pool(ir, i as usize),
                Global::Covenant(i) => self.covenant(ir, i as usize, pending),
                Global::MarginCall(i) => self.margin_call(ir, i as usize),
                Global::Liquidation(i) => self.liquidation(ir, i as usize),
                Global::Default(i) => {
                    let whens: Vec<Body> = ir.defaults.get(i as usize).map(|d| d.events.iter().map(|e| e.when).collect()).unwrap_or_default();
                    for b in whens {
                        self.expect(ir, b, &Type::Bool, "an event of default is a condition: `when ltv > 90%`");
                    }
                }
            }
        }
        for i in 0..ir.checks.len() {
            if let Some(b) = ir.checks.get(i).map(|c| c.cond) {
                self.expect(ir, b, &Type::Bool, "a check is a condition on the data");
            }
        }
        let calendars: Vec<Body> = ir.calendar.into_iter().chain(ir.calendars.iter().map(|c| c.holidays)).collect();
        for b in calendars {
            let t = self.body(ir, b);
            if !t.fits(&Type::List(Arc::new(Type::Date))) {
                self.mismatch(ir.arena.span(b.expr), "List<Date>", &t, "the holidays are a list of dates; for an optional list write `input.holidays ?? []`");
            }
            // Business days are counted wherever a value needs them, so the calendar must not
            // wait on any value of its own.
            if let Some((span, name)) = computed_value_read(ir, b.expr) {
                self.invalid(
                    span,
                    format!("the calendar reads `{name}`, a value computed from the data"),
                    "computed from the data",
                    "the holidays come from `input` (and literals or functions of it): `calendar { holidays input.holidays }`",
                );
            }
        }
        self.scenarios(ir, pending);
        for i in 0..ir.tests.len() {
            let expects = ir.tests.get(i).map(|t| t.expects.clone()).unwrap_or_default();
            for b in expects {
                self.expect(ir, b, &Type::Bool, "an `expect` is a condition, e.g. `min_dscr.status == \"breach\"`");
            }
        }
    }

    fn body(&mut self, ir: &mut ir::Ir, b: Body) -> Type {
        let mut frame = Frame::new(b.frame);
        let t = self.expr(ir, b.expr, &mut frame);
        self.not_a_bare_rule(ir, b.expr, &t)
    }

    /// A rule is read through its fields; on its own it is no value.
    fn not_a_bare_rule(&mut self, ir: &ir::Ir, at: ExprId, t: &Type) -> Type {
        let Type::Rule(kind, i) = t else { return t.clone() };
        let (name, field) = match kind {
            RuleKind::Pool => (ir.pools.get(*i as usize).map(|d| &d.name), "eligible_value"),
            RuleKind::Covenant => (ir.covenants.get(*i as usize).map(|d| &d.name), "status"),
            RuleKind::MarginCall => (ir.margin_calls.get(*i as usize).map(|d| &d.name), "amount"),
            RuleKind::Liquidation => (ir.liquidations.get(*i as usize).map(|d| &d.name), "recovery"),
            RuleKind::Default => (ir.defaults.get(*i as usize).map(|d| &d.name), "triggered"),
        };
        let name = name.map_or_else(String::new, |n| n.to_string());
        let text = self.sources.text(ir.arena.span(at)).trim().to_string();
        self.invalid(ir.arena.span(at), format!("`{text}` is a {t}, not a value"), "a rule", format!("read one of its fields, e.g. `{name}.{field}`"));
        Type::Error
    }

    fn expect(&mut self, ir: &mut ir::Ir, b: Body, want: &Type, help: &str) -> Type {
        let t = self.body(ir, b);
        if !t.fits(want) {
            self.mismatch(ir.arena.span(b.expr), &want.to_string(), &t, help);
        }
        t
    }

    fn let_def(&mut self, ir: &mut ir::Ir, i: usize, pending: &Pending) {
        let Some(l) = ir.lets.get(i) else { return };
        let (body, declared) = (l.body, l.declared.clone());
        let mut t = self.body(ir, body);
        if let Some(d) = declared {
            if !t.fits(&d) {
                self.mismatch(ir.arena.span(body.expr), &d.to_string(), &t, "the value does not have the declared type");
            }
            t = d;
        }
        let display_span = pending.let_display_spans.get(i).copied().flatten();
        if let (Some(span), true) = (display_span, t != Type::Number && t != Type::Error) {
            self.invalid(span, format!("only a Number can be shown as a percent or multiple, and this value is {t}"), "not a Number", "money, dates and text are shown as they are: drop the `as` clause");
        }
        if let Some(l) = ir.lets.get_mut(i) {
            l.ty = t;
        }
    }

    fn pool(&mut self, ir: &mut ir::Ir, i: usize) {
        let Some(p) = ir.pools.get(i) else { return };
        let (each, quantity, price, haircut, lot, discount, liquidation_price) = (p.each, p.quantity, p.price, p.haircut, p.lot, p.discount, p.liquidation_price);
        let mut frame = Frame::new(quantity.frame.max(price.frame).max(haircut.map_or(0, |h| h.frame)).max(liquidation_price.map_or(0, |l| l.frame)));
        if let Some((list, slot)) = each {
            match self.body(ir, list) {
                Type::List(t) => frame.set(slot, (*t).clone()),
                Type::EmptyList | Type::Error => {}
                other => self.mismatch(ir.arena.span(list.expr), "a list", &other, "`for x in LIST` makes one position per element"),
            }
        }
        let clause = |c: &mut Self, ir: &mut ir::Ir, b: Body, frame: &mut Frame| {
            let mut f = Frame { locals: frame.locals.clone() };
            f.locals.resize(b.frame as usize, Type::Error);
            c.expr(ir, b.expr, &mut f)
        };
        let qt = clause(self, ir, quantity, &mut frame);
        if qt != Type::Number {
            self.mismatch(ir.arena.span(quantity.expr), "Number", &qt, "the quantity counts units: coins, GPUs, lots");
        }
        let pt = clause(self, ir, price, &mut frame);
        let price_ty = match &pt {
            Type::Money(Ccy::Code(_)) => pt.clone(),
            other => {
                self.mismatch(ir.arena.span(price.expr), "Money", other, "a price is money per unit: `input.btc.price` or `85_000 USD`");
                Type::Error
            }
        };
        if let Some(l) = liquidation_price {
            let lt = clause(self, ir, l, &mut frame);
            if lt != pt && lt != Type::Error && pt != Type::Error {
                let want = pt.to_string();
                self.mismatch(ir.arena.span(l.expr), &want, &lt, "a forced sale is valued in the pool's own currency: `liquidation price input.gpu_secondary_price`");
            }
        }
        if let Some(h) = haircut {
            let ht = clause(self, ir, h, &mut frame);
            if ht != Type::Number {
                self.mismatch(ir.arena.span(h.expr), "Number", &ht, "a haircut is a share of value: `50%`");
            }
        }
        if let Some(l) = lot {
            let lt = self.body(ir, l);
            if lt != Type::Number {
                self.mismatch(ir.arena.span(l.expr), "Number", &lt, "a lot is the smallest number of units that can be sold: `0.01`");
            }
            if let Some(Node::Const(Value::Num(n))) = ir.arena.node(l.expr) {
                if !n.is_sign_positive() || n.is_zero() {
                    self.invalid(ir.arena.span(l.expr), "a lot must be positive", "not positive", "the lot is the smallest sellable quantity, e.g. `lot 1` or `lot 0.00000001`");
                }
            }
            if let Some(Node::Neg(_)) = ir.arena.node(l.expr) {
                self.invalid(ir.arena.span(l.expr), "a lot must be positive", "negative", "the lot is the smallest sellable quantity, e.g. `lot 1`");
            }
        }
        if let Some(d) = discount {
            let mut f = Frame::new(d.frame);
            f.set(0, Type::Number);
            let dt = self.expr(ir, d.expr, &mut f);
            if dt != Type::Number {
                self.mismatch(ir.arena.span(d.expr), "Number", &dt, "a discount is a share of value lost in a forced sale: `sqrt_impact(sold, volume, 3%)`");
            }
        }
        if let Some(p) = ir.pools.get_mut(i) {
            p.price_ty = price_ty;
        }
    }

    fn covenant(&mut self, ir: &mut ir::Ir, i: usize, pending: &Pending) {
        let Some(c) = ir.covenants.get(i) else { return };
        let (op, lhs, rhs, when, history) = (c.op, c.lhs, c.rhs, c.when, c.cure.as_ref().and_then(|c| c.history));
        let tested = match &c.tested {
            ir::Testing::On(b) => Some(*b),
            _ => None,
        };
        let lt = self.body(ir, lhs);
        let rt = self.body(ir, rhs);
        let span = pending.require_spans.get(i).copied().unwrap_or_default();
        let numeric = |t: &Type| matches!(t, Type::Number | Type::Money(_) | Type::Error);
        let value_ty = if numeric(&lt) && numeric(&rt) {
            self.compare_types(ir, op, lhs.expr, rhs.expr, &lt, &rt, span).unwrap_or(Type::Error)
        } else {
            // Value, limit and headroom are figures; a covenant over dates, flags or text
            // would have none of them.
            let (at, t) = if numeric(&lt) { (rhs.expr, &rt) } else { (lhs.expr, &lt) };
            self.mismatch(
                ir.arena.span(at),
                "a Number or Money",
                t,
                "a covenant measures a figure against its limit; a condition on dates, flags or text belongs in the covenant's `when`, or in a `check`",
            );
            Type::Error
        };
        if let Some(b) = tested {
            self.expect(ir, b, &Type::List(Arc::new(Type::Date)), "`tested on` takes a list of dates: `tested on [2026-03-31, 2026-06-30]`");
        }
        if let Some(b) = when {
            self.expect(ir, b, &Type::Bool, "`when` is the condition under which the covenant springs");
        }
        if let Some(b) = history {
            self.expect(ir, b, &Type::List(Arc::new(Type::Date)), "the cure history is the list of earlier cure dates");
        }
        let mut cure_fill = None;
        if let Some(Some(path)) = pending.cure_paths.get(i) {
            cure_fill = self.cure_path(ir, path);
        }
        let target_span = pending.cure_target_spans.get(i).copied().flatten().unwrap_or_default();
        if let Some(l) = ir.covenants.get(i).and_then(|c| c.cure.as_ref()).and_then(|cure| cure.into_let) {
            cure_fill = self.cure_let(ir, l, target_span);
        }
        if let (Some((path, text, _)), Some(c)) = (&cure_fill, ir.covenants.get(i)) {
            let into_let = c.cure.as_ref().and_then(|cure| cure.into_let);
            if !requirement_reads(ir, c, into_let, path) {
                let reads = requirement_reads_list(ir, self.sources, c);
                let src = self.src(target_span);
                self.errors.push(CheckError::Invalid {
                    message: format!("the requirement of `{}` does not depend on `{text}`, so no cure into it can restore compliance", c.name),
                    label: "not read by the requirement".into(),
                    help: format!("cure into a Money figure the requirement reads: it reads {reads}"),
                    span: target_span.source_span(),
                    src,
                });
                cure_fill = None;
            }
        }
        if let Some(c) = ir.covenants.get_mut(i) {
            c.value_ty = value_ty;
            if let (Some(cure), Some((p, text, ty))) = (c.cure.as_mut(), cure_fill) {
                cure.path = p;
                cure.path_text = text;
                cure.ty = ty;
            }
        }
    }

    fn cure_path(&mut self, ir: &ir::Ir, path: &ast::InputPath) -> Option<(Vec<u32>, String, Type)> {
        let mut ty = Type::Record(ir.input.clone());
        let mut out = Vec::new();
        let mut text = String::from("input");
        for step in &path.steps {
            match step {
                ast::PathStep::Field(f) => {
                    let Type::Record(r) = &ty else {
                        self.bad_path(f.span, format!("`{text}` is {ty}, which has no fields"), "cure into a Money field of the input, e.g. `input.ttm.ebitda`");
                        return None;
                    };
                    let Some((i, t)) = r.field(&f.name) else {
                        let help = suggestion(&f.name, r.fields.iter().map(|(n, _)| &**n), "field");
                        self.bad_path(f.span, format!("`{text}` has no field `{}`", f.name), &help);
                        return None;
                    };
                    out.push(u32::try_from(i).unwrap_or(0));
                    text.push('.');
                    text.push_str(&f.name);
                    ty = t.clone();
                }
                ast::PathStep::All(span) => {
                    self.bad_path(*span, "a cure goes into one amount, not into every element of a list".into(), "name one Money field of the input, e.g. `input.ttm.ebitda`");
                    return None;
                }
            }
        }
        match &ty {
            Type::Money(Ccy::Code(_)) => Some((out, text, ty)),
            other => {
                self.bad_path(path.span, format!("the cure goes into `{text}`, which is {other}, not Money"), "an equity cure adds money to a Money input, such as `input.ttm.ebitda`");
                None
            }
        }
    }

    /// A cure into a `let`: it must be Money of one currency.
    fn cure_let(&mut self, ir: &ir::Ir, l: u32, span: Span) -> Option<(Vec<u32>, String, Type)> {
        let def = ir.lets.get(l as usize)?;
        match &def.ty {
            t @ Type::Money(Ccy::Code(_)) => Some((Vec::new(), def.name.to_string(), t.clone())),
            Type::Error => Some((Vec::new(), def.name.to_string(), Type::Error)),
            other => {
                self.bad_path(span, format!("the cure goes into `{}`, which is {other}, not Money", def.name), "an equity cure adds money to a Money figure, such as `cfads` or `input.ttm.ebitda`");
                None
            }
        }
    }

    fn bad_path(&mut self, span: Span, message: String, help: &str) {
        let src = self.src(span);
        self.errors.push(CheckError::BadPath { message, help: help.to_string(), span: span.source_span(), label: "here".into(), src });
    }

    fn margin_call(&mut self, ir: &mut ir::Ir, i: usize) {
        let Some(m) = ir.margin_calls.get(i) else { return };
        let (trigger, amount, min, rounding, due) = (m.trigger, m.amount, m.minimum_transfer, m.rounding.map(|r| r.1), m.due);
        self.expect(ir, trigger, &Type::Bool, "the trigger is the condition that makes the call: `ltv > 75%`");
        let at = self.body(ir, amount);
        let amount_ty = match &at {
            Type::Money(Ccy::Code(_)) => at.clone(),
            other => {
                self.mismatch(ir.arena.span(amount.expr), "Money", other, "the amount called is money: `collateral_to_restore(debt, eligible, 65%)`");
                Type::Error
            }
        };
        for (b, what) in [(min, "minimum transfer"), (rounding, "rounding increment")] {
            let Some(b) = b else { continue };
            let t = self.body(ir, b);
            if amount_ty != Type::Error && t != amount_ty {
                if let (Type::Money(Ccy::Code(a)), Type::Money(Ccy::Code(c))) = (&amount_ty, &t) {
                    let src = self.src(ir.arena.span(b.expr));
                    self.errors.push(CheckError::CurrencyMismatch {
                        op: what.to_string(),
                        left: format!("Money({a})"),
                        right: format!("Money({c})"),
                        left_code: a.to_string(),
                        left_span: ir.arena.span(amount.expr).source_span(),
                        right_span: ir.arena.span(b.expr).source_span(),
                        src,
                    });
                } else {
                    self.mismatch(ir.arena.span(b.expr), &amount_ty.to_string(), &t, format!("the {what} is money in the currency of the amount"));
                }
            }
        }
        if let Some(b) = due {
            let t = self.body(ir, b);
            if t != Type::Duration && t != Type::Date {
                self.mismatch(ir.arena.span(b.expr), "a Duration or a Date", &t, "the call is due a duration after `as_of` (`2 business days in new_york and london`) or on a date");
            }
        }
        if let Some(m) = ir.margin_calls.get_mut(i) {
            m.amount_ty = amount_ty;
        }
    }

    fn liquidation(&mut self, ir: &mut ir::Ir, i: usize) {
        let Some(l) = ir.liquidations.get(i) else { return };
        let (trigger, debt, sell, span) = (l.trigger, l.debt, l.sell.clone(), l.span);
        if let Some(t) = trigger {
            self.expect(ir, t, &Type::Bool, "the trigger says when the lender may enforce: `ltv > 85%`");
        }
        let dt = self.body(ir, debt);
        let debt_ty = match &dt {
            Type::Money(Ccy::Code(_)) => dt.clone(),
            other => {
                self.mismatch(ir.arena.span(debt.expr), "Money", other, "the debt the sale must repay is money");
                Type::Error
            }
        };
        for p in sell {
            let Some(pool) = ir.pools.get(p as usize) else { continue };
            if debt_ty != Type::Error && pool.price_ty != Type::Error && pool.price_ty != debt_ty {
                let message = format!("pool `{}` is valued in {}, the debt in {}", pool.name, pool.price_ty, debt_ty);
                self.invalid(span, message, "currency mismatch", "sell only pools in the currency of the debt");
            }
        }
        let until = ir.liquidations.get(i).and_then(|l| l.until.as_ref().map(|u| u.cond));
        let mut debt_target = ir::DebtTarget::Unknown;
        if let Some(cond) = until {
            self.expect(ir, cond, &Type::Bool, "`until` is the condition the sale restores: `until ltv <= 60%`");
            debt_target = match ir.arena.node(debt.expr) {
                Some(Node::Global(Global::Let(l))) => ir::DebtTarget::Let(*l),
                _ => match input_path_of(ir, debt.expr) {
                    Some(path) => ir::DebtTarget::Input(path),
                    None => {
                        self.invalid(
                            ir.arena.span(debt.expr),
                            "a liquidation to a target pays down a named figure",
                            "an expression",
                            "with `until`, `debt` names the Money `let` or input path the proceeds go to, e.g. `debt debt` after `let debt = input.loan.outstanding + input.loan.accrued`",
                        );
                        ir::DebtTarget::Unknown
                    }
                },
            };
        }
        if let Some(l) = ir.liquidations.get_mut(i) {
            l.debt_ty = debt_ty;
            if let Some(u) = l.until.as_mut() {
                u.debt_target = debt_target;
            }
        }
    }

    /// The shocks of every scenario and of every test.
    fn scenarios(&mut self, ir: &mut ir::Ir, pending: &Pending) {
        for path in pending.simulation_paths.iter().flatten() {
            if let Some((_, target)) = self.shock_path(ir, path) {
                if !target.is_numeric() && target != Type::Error {
                    self.invalid(path.span, format!("a simulation scales this input, which holds {target}"), "not a number", "a simulation's shocks scale numbers and amounts of money");
                }
            }
        }
        let scenarios = pending.shock_paths.iter().enumerate().map(|(i, p)| (ShockSet::Scenario(i), p));
        let tests = pending.test_shock_paths.iter().enumerate().map(|(i, p)| (ShockSet::Test(i), p));
        for (set, paths) in scenarios.chain(tests) {
            for (k, path) in paths.iter().enumerate() {
                let Some(shock) = set.shocks(ir).and_then(|s| s.get(k)) else { continue };
                let (value, op) = (shock.value, shock.op);
                let Some((steps, target)) = self.shock_path(ir, path) else { continue };
                let vt = self.body(ir, value);
                let ok = match op {
                    ShockOp::Set => vt.fits(&target),
                    ShockOp::Mul => target.is_numeric() && vt == Type::Number,
                    ShockOp::Add | ShockOp::Sub => (target.is_numeric() && vt == target) || (target == Type::Date && vt == Type::Duration),
                };
                if !ok && vt != Type::Error && target != Type::Error {
                    let want = match op {
                        ShockOp::Mul => "Number".to_string(),
                        ShockOp::Add | ShockOp::Sub if target == Type::Date => "Duration".to_string(),
                        _ => target.to_string(),
                    };
                    let help = match op {
                        ShockOp::Mul => format!("`*=` scales {target} by a number: `*= 70%`"),
                        _ => format!("the path holds {target}"),
                    };
                    self.mismatch(ir.arena.span(value.expr), &want, &vt, help);
                }
                if let Some((span, name)) = computed_value_read(ir, value.expr) {
                    self.invalid(
                        span,
                        format!("a shock's value reads `{name}`, which is computed only after the shocks are applied"),
                        "computed after the shocks",
                        "shock values read the input (as shocked so far), literals and functions of them; write the figure, or derive it from `input` fields",
                    );
                }
                if let Some(s) = set.shocks_mut(ir).and_then(|s| s.get_mut(k)) {
                    s.path = steps;
                    s.ty = target;
                }
            }
        }
    }

    fn shock_path(&mut self, ir: &ir::Ir, path: &ast::InputPath) -> Option<(Vec<ir::PathStep>, Type)> {
        let mut ty = Type::Record(ir.input.clone());
        let mut out = Vec::new();
        let mut text = String::from("input");
        for step in &path.steps {
            match step {
                ast::PathStep::Field(f) => {
                    let inner = match &ty {
                        Type::Optional(t) => (**t).clone(),
                        t => t.clone(),
                    };
                    let Type::Record(r) = &inner else {
                        self.bad_path(f.span, format!("`{text}` is {ty}, which has no fields"), "a shock path follows the input schema's fields, with `[*]` for every element of a list");
                        return None;
                    };
                    let Some((i, t)) = r.field(&f.name) else {
                        let help = suggestion(&f.name, r.fields.iter().map(|(n, _)| &**n), "field");
                        self.bad_path(f.span, format!("`{text}` has no field `{}`", f.name), &help);
                        return None;
                    };
                    out.push(ir::PathStep::Field(u32::try_from(i).unwrap_or(0)));
                    text.push('.');
                    text.push_str(&f.name);
                    ty = t.clone();
                }
                ast::PathStep::All(span) => {
                    let Type::List(t) = &ty else {
                        self.bad_path(*span, format!("`{text}` is {ty}, not a list"), "`[*]` applies a shock to every element of a list");
                        return None;
                    };
                    out.push(ir::PathStep::All);
                    text.push_str("[*]");
                    ty = (**t).clone();
                }
            }
        }
        if let Type::Optional(t) = ty {
            ty = (*t).clone();
        }
        Some((out, ty))
    }

    // The schedule's parts are checked together; bundling them would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn schedule(&mut self, ir: &mut ir::Ir, rows: &[ir::ScheduleRow], interpolate: bool, key: Option<&Type>, ret: &Type, frame: &mut Frame, span: Span) {
        let key = key.cloned().unwrap_or(Type::Error);
        if interpolate {
            if key != Type::Number && key != Type::Error {
                self.invalid(span, "an interpolated schedule is keyed by a Number", "key is not a Number", "interpolate over ages, months or ratios; use a step schedule for dates");
            }
            if !matches!(ret, Type::Number | Type::Money(_) | Type::Error) {
                self.invalid(span, "an interpolated schedule gives a Number or Money", "cannot interpolate", "interpolation is linear between points");
            }
        }
        for row in rows {
            if let Some((_, k)) = row.key {
                let kt = self.expr(ir, k, frame);
                if !kt.fits(&key) {
                    self.mismatch(ir.arena.span(k), &key.to_string(), &kt, "a row's key is compared with the schedule's parameter");
                }
                if interpolate && !matches!(ir.arena.node(k), Some(Node::Const(_)) | Some(Node::Neg(_))) {
                    self.invalid(ir.arena.span(k), "interpolation points must be literal numbers", "not a literal", "write the points as numbers: `12 => 65%`");
                }
            }
            let vt = self.expr(ir, row.value, frame);
            if !vt.fits(ret) {
                self.mismatch(ir.arena.span(row.value), &ret.to_string(), &vt, format!("the schedule gives {ret}"));
            }
        }
    }

    // ------------------------------------------------------------------ expressions

    fn set_ty(ir: &mut ir::Ir, id: ExprId, t: &Type) {
        if let Some(slot) = ir.arena.types.get_mut(id.0 as usize) {
            *slot = t.clone();
        }
    }

    fn expr(&mut self, ir: &mut ir::Ir, id: ExprId, frame: &mut Frame) -> Type {
        let t = self.expr_inner(ir, id, frame);
        Self::set_ty(ir, id, &t);
        t
    }

    fn global_type(ir: &ir::Ir, g: Global) -> Type {
        match g {
            Global::Let(i) => ir.lets.get(i as usize).map_or(Type::Error, |l| l.ty.clone()),
            Global::Pool(i) => Type::Rule(RuleKind::Pool, i),
            Global::Covenant(i) => Type::Rule(RuleKind::Covenant, i),
            Global::MarginCall(i) => Type::Rule(RuleKind::MarginCall, i),
            Global::Liquidation(i) => Type::Rule(RuleKind::Liquidation, i),
            Global::Default(i) => Type::Rule(RuleKind::Default, i),
        }
    }

    fn expr_inner(&mut self, ir: &mut ir::Ir, id: ExprId, frame: &mut Frame) -> Type {
        let Some(node) = ir.arena.node(id).cloned() else { return Type::Error };
        let span = ir.arena.span(id);
        match node {
            // Money, text and currency literals were typed by `resolve`, which saw their syntax.
            Node::Const(v) => match v {
                Value::Num(_) => match ir.arena.ty(id) {
                    t @ Type::Money(_) => t.clone(),
                    _ => Type::Number,
                },
                Value::Bool(_) => Type::Bool,
                Value::Text(_) => ir.arena.ty(id).clone(),
                Value::Date(_) => Type::Date,
                Value::Duration(_) => Type::Duration,
                Value::List(_) => Type::EmptyList,
                Value::Record(_) | Value::Null => Type::Error,
            },
            Node::Global(g) => Self::global_type(ir, g),
            Node::Local(slot) => frame.locals.get(slot as usize).cloned().unwrap_or(Type::Error),
            Node::Input => Type::Record(ir.input.clone()),
            Node::Field { base, name, .. } => {
                let bt = self.expr(ir, base, frame);
                self.field(ir, id, base, &bt, &name, span)
            }
            Node::Index { base, index } => {
                let bt = self.expr(ir, base, frame);
                let it = self.expr(ir, index, frame);
                if it != Type::Number {
                    self.mismatch(ir.arena.span(index), "Number", &it, "a list is indexed from 0: `xs[0]`");
                }
                match bt {
                    Type::List(t) => (*t).clone(),
                    Type::Error => Type::Error,
                    other => {
                        self.mismatch(ir.arena.span(base), "a list", &other, "only lists can be indexed");
                        Type::Error
                    }
                }
            }
            Node::PoolField(..) | Node::CovenantField(..) | Node::MarginField(..) | Node::LiquidationField(..) | Node::DefaultField(..) => {
                ir.arena.ty(id).clone()
            }
            Node::MakeDuration { count, .. } => {
                let t = self.expr(ir, count, frame);
                if t != Type::Number && t != Type::Error {
                    self.mismatch(ir.arena.span(count), "Number", &t, "a duration counts whole units: `(grace_days) business days`");
                }
                Type::Duration
            }
            Node::Neg(x) => {
                let t = self.expr(ir, x, frame);
                if !t.is_numeric() && t != Type::Duration {
                    self.mismatch(ir.arena.span(x), "a Number or Money", &t, "only numbers, money and durations can be negated");
                    return Type::Error;
                }
                t
            }
            Node::Not(x) => {
                let t = self.expr(ir, x, frame);
                if t != Type::Bool {
                    self.mismatch(ir.arena.span(x), "Bool", &t, "`not` negates a condition");
                    return Type::Error;
                }
                Type::Bool
            }
            Node::Arith { op, lhs, rhs } => {
                let lt = self.expr(ir, lhs, frame);
                let rt = self.expr(ir, rhs, frame);
                self.arith(ir, op, lhs, rhs, &lt, &rt, span)
            }
            Node::Compare { op, lhs, rhs } => {
                let lt = self.expr(ir, lhs, frame);
                let rt = self.expr(ir, rhs, frame);
                self.compare_types(ir, op, lhs, rhs, &lt, &rt, span);
                self.status_text(ir, lhs, rhs);
                self.status_text(ir, rhs, lhs);
                Type::Bool
            }
            Node::And(a, b) | Node::Or(a, b) => {
                for x in [a, b] {
                    let t = self.expr(ir, x, frame);
                    if t != Type::Bool {
                        self.mismatch(ir.arena.span(x), "Bool", &t, "`and` and `or` join conditions");
                    }
                }
                Type::Bool
            }
            Node::Coalesce(a, b) => {
                let at = self.expr(ir, a, frame);
                let bt = self.expr(ir, b, frame);
                match at {
                    Type::Optional(inner) => {
                        if !bt.fits(&inner) {
                            self.mismatch(ir.arena.span(b), &inner.to_string(), &bt, "the default must have the type of the value it stands in for");
                        }
                        (*inner).clone()
                    }
                    Type::Error => Type::Error,
                    other => {
                        let src = self.src(ir.arena.span(a));
                        self.errors.push(CheckError::TypeMismatch {
                            expected: "an optional value".into(),
                            found: other.to_string(),
                            help: "`??` gives a default to a value that may be absent (`T?`); this one is always present".into(),
                            span: ir.arena.span(a).source_span(),
                            src,
                        });
                        other
                    }
                }
            }
            Node::If { cond, then, otherwise } => {
                let ct = self.expr(ir, cond, frame);
                if ct != Type::Bool {
                    self.mismatch(ir.arena.span(cond), "Bool", &ct, "`if` takes a condition");
                }
                let tt = self.expr(ir, then, frame);
                let ot = self.expr(ir, otherwise, frame);
                self.unify(ir, &tt, &ot, otherwise, "both branches of `if` must have one type")
            }
            Node::List(items) => {
                let mut elem: Option<Type> = None;
                for item in items {
                    let t = self.expr(ir, item, frame);
                    let t = self.not_a_bare_rule(ir, item, &t);
                    elem = Some(match elem {
                        None => t,
                        Some(e) => self.unify(ir, &e, &t, item, "the elements of a list have one type"),
                    });
                }
                match elem {
                    None => Type::EmptyList,
                    Some(t) => Type::List(Arc::new(t)),
                }
            }
            Node::CallFn { func, args } => self.call_fn(ir, func, &args, frame, span),
            Node::CallBuiltin { builtin, args } => self.builtin(ir, builtin, &args, frame, span),
            Node::Aggregate { kind, var, list, body, filter, default } => {
                let lt = self.expr(ir, list, frame);
                let elem = match lt {
                    Type::List(t) => (*t).clone(),
                    Type::EmptyList | Type::Error => Type::Error,
                    other => {
                        self.mismatch(ir.arena.span(list), "a list", &other, "`for x in LIST` iterates over a list");
                        Type::Error
                    }
                };
                if frame.locals.len() <= var as usize {
                    frame.locals.resize(var as usize + 1, Type::Error);
                }
                frame.set(var, elem);
                let bt = self.expr(ir, body, frame);
                if let Some(f) = filter {
                    let ft = self.expr(ir, f, frame);
                    if ft != Type::Bool {
                        self.mismatch(ir.arena.span(f), "Bool", &ft, "the `if` of a generator is a condition");
                    }
                }
                let result = match kind {
                    Aggregate::Sum => {
                        if !bt.is_numeric() {
                            self.mismatch(ir.arena.span(body), "a Number or Money", &bt, "`sum` adds numbers or money");
                        }
                        bt.clone()
                    }
                    Aggregate::Count => Type::Number,
                    Aggregate::Min | Aggregate::Max => {
                        if !bt.is_numeric() && bt != Type::Date && bt != Type::Error {
                            self.mismatch(ir.arena.span(body), "a Number, Money or Date", &bt, "`min` and `max` compare numbers, money or dates");
                        }
                        bt.clone()
                    }
                    Aggregate::Any | Aggregate::All => {
                        if bt != Type::Bool {
                            self.mismatch(ir.arena.span(body), "Bool", &bt, "`any` and `all` test a condition on each element");
                        }
                        Type::Bool
                    }
                    Aggregate::List => Type::List(Arc::new(bt.clone())),
                };
                if let Some(d) = default {
                    let dt = self.expr(ir, d, frame);
                    if !dt.fits(&result) {
                        self.mismatch(ir.arena.span(d), &result.to_string(), &dt, "the default stands in for the result on an empty list");
                    }
                }
                result
            }
            Node::Schedule { .. } => Type::Error,
            // Made after checking, never checked.
            Node::Memo { .. } => ir.arena.ty(id).clone(),
        }
    }

    fn unify(&mut self, ir: &ir::Ir, a: &Type, b: &Type, at: ExprId, help: &str) -> Type {
        if b.fits(a) {
            return if *a == Type::EmptyList { b.clone() } else { a.clone() };
        }
        if a.fits(b) {
            return b.clone();
        }
        if let (Type::Money(Ccy::Code(x)), Type::Money(Ccy::Code(y))) = (a, b) {
            let span = ir.arena.span(at);
            let src = self.src(span);
            self.errors.push(CheckError::CurrencyMismatch {
                op: "one value".into(),
                left: format!("Money({x})"),
                right: format!("Money({y})"),
                left_code: x.to_string(),
                left_span: span.source_span(),
                right_span: span.source_span(),
                src,
            });
            return a.clone();
        }
        self.mismatch(ir.arena.span(at), &a.to_string(), b, help);
        a.clone()
    }

    fn field(&mut self, ir: &mut ir::Ir, id: ExprId, base: ExprId, bt: &Type, name: &str, span: Span) -> Type {
        let field_span = Span { start: span.end.saturating_sub(u32::try_from(name.len()).unwrap_or(0)), ..span };
        match bt {
            Type::Record(r) => match r.field(name) {
                Some((i, t)) => {
                    let t = t.clone();
                    if let Some(Node::Field { index, .. }) = ir.arena.nodes.get_mut(id.0 as usize) {
                        *index = u32::try_from(i).unwrap_or(u32::MAX);
                    }
                    t
                }
                None => {
                    let help = suggestion(name, r.fields.iter().map(|(n, _)| &**n), "field");
                    self.unknown_field(field_span, name, bt, help);
                    Type::Error
                }
            },
            Type::Rule(kind, i) => {
                let (node, t) = match rule_field(ir, *kind, *i, name) {
                    Some(x) => x,
                    None => {
                        let mut fields = rule_fields(*kind).to_vec();
                        let has_cure = *kind == RuleKind::Covenant && ir.covenants.get(*i as usize).is_some_and(|c| c.cure.is_some());
                        if has_cure {
                            fields.extend(["cure_amount", "cure_available"]);
                        }
                        let mut help = format!("{}; fields: {}", suggestion(name, fields.iter().copied(), "field"), fields.join(", "));
                        if *kind == RuleKind::Covenant && !has_cure && name.starts_with("cure") {
                            help = format!("`{name}` belongs to covenants with a `cure` clause, and this one has none; fields: {}", fields.join(", "));
                        }
                        self.unknown_field(field_span, name, bt, help);
                        return Type::Error;
                    }
                };
                let _ = base;
                if let Some(slot) = ir.arena.nodes.get_mut(id.0 as usize) {
                    *slot = node;
                }
                t
            }
            Type::Optional(_) => {
                self.mismatch(ir.arena.span(base), "a record", bt, "give the optional record a default with `??` before reading its fields");
                Type::Error
            }
            Type::Error => Type::Error,
            other => {
                self.unknown_field(field_span, name, other, format!("{other} has no fields"));
                Type::Error
            }
        }
    }

    fn unknown_field(&mut self, span: Span, name: &str, ty: &Type, help: String) {
        let src = self.src(span);
        self.errors.push(CheckError::UnknownField { field: name.to_string(), ty: ty.to_string(), help, span: span.source_span(), src });
    }

    #[allow(clippy::too_many_arguments)]
    fn arith(&mut self, ir: &ir::Ir, op: ArithOp, lhs: ExprId, rhs: ExprId, lt: &Type, rt: &Type, span: Span) -> Type {
        use Type::*;
        let sym = match op {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
        };
        if *lt == Error || *rt == Error {
            return Error;
        }
        for (t, e) in [(lt, lhs), (rt, rhs)] {
            if let Optional(_) = t {
                self.mismatch(ir.arena.span(e), "a value", t, "");
                return Error;
            }
        }
        let result = match (op, lt, rt) {
            (_, Number, Number) => Some(Number),
            (ArithOp::Add | ArithOp::Sub, Money(a), Money(b)) | (ArithOp::Div, Money(a), Money(b)) => {
                if a != b {
                    let src = self.src(span);
                    self.errors.push(CheckError::CurrencyMismatch {
                        op: sym.to_string(),
                        left: lt.to_string(),
                        right: rt.to_string(),
                        left_code: a.to_string(),
                        left_span: ir.arena.span(lhs).source_span(),
                        right_span: ir.arena.span(rhs).source_span(),
                        src,
                    });
                    return Error;
                }
                Some(if op == ArithOp::Div { Number } else { lt.clone() })
            }
            (ArithOp::Mul, Money(_), Number) | (ArithOp::Div, Money(_), Number) => Some(lt.clone()),
            (ArithOp::Mul, Number, Money(_)) => Some(rt.clone()),
            (ArithOp::Add | ArithOp::Sub, Date, Duration) => Some(Date),
            (ArithOp::Add, Duration, Date) => Some(Date),
            // `+` concatenates two lists of one element type (the holidays of two centres).
            (ArithOp::Add, List(a), List(b)) if b.fits(a) => Some(lt.clone()),
            (ArithOp::Add, List(a), List(b)) if a.fits(b) => Some(rt.clone()),
            (ArithOp::Add, List(_), EmptyList) => Some(lt.clone()),
            (ArithOp::Add, EmptyList, List(_)) => Some(rt.clone()),
            (ArithOp::Add, EmptyList, EmptyList) => Some(EmptyList),
            _ => None,
        };
        if let Some(t) = result {
            return t;
        }
        let help = match (op, lt, rt) {
            (ArithOp::Add | ArithOp::Sub, Money(c), Number) | (ArithOp::Add | ArithOp::Sub, Number, Money(c)) => {
                format!("money and plain numbers do not add: write the number as money (`5 {c}`), or use `money(n, {c})`")
            }
            (ArithOp::Sub, Date, Date) => "dates do not subtract: use `days_between(a, b)` or `months_between(a, b)`".into(),
            (ArithOp::Mul, Money(_), Money(_)) => "money times money has no meaning: multiply money by a Number".into(),
            (ArithOp::Div, Number, Money(_)) => "a number divided by money has no meaning: divide money by money for a ratio".into(),
            (ArithOp::Add, List(_) | EmptyList, List(_) | EmptyList) => "`+` joins lists whose elements have one type".into(),
            _ => format!("`{sym}` works on numbers, on money of one currency, on a date with a duration, and (`+`) on two lists"),
        };
        let src = self.src(span);
        self.errors.push(CheckError::BadOperands { op: sym.into(), left: lt.to_string(), right: rt.to_string(), help, span: span.source_span(), src });
        Error
    }

    /// Checks that two sides can be compared; gives their common type.
    #[allow(clippy::too_many_arguments)]
    fn compare_types(&mut self, ir: &ir::Ir, op: CmpOp, lhs: ExprId, rhs: ExprId, lt: &Type, rt: &Type, span: Span) -> Option<Type> {
        if *lt == Type::Error || *rt == Type::Error {
            return None;
        }
        for (t, e) in [(lt, lhs), (rt, rhs)] {
            if let Type::Optional(_) = t {
                self.mismatch(ir.arena.span(e), "a value", t, "");
                return None;
            }
        }
        if let (Type::Money(Ccy::Code(a)), Type::Money(Ccy::Code(b))) = (lt, rt) {
            if a != b {
                let src = self.src(span);
                self.errors.push(CheckError::CurrencyMismatch {
                    op: op.symbol().into(),
                    left: lt.to_string(),
                    right: rt.to_string(),
                    left_code: a.to_string(),
                    left_span: ir.arena.span(lhs).source_span(),
                    right_span: ir.arena.span(rhs).source_span(),
                    src,
                });
                return None;
            }
        }
        let same = lt.fits(rt) || rt.fits(lt);
        let ordered = matches!(lt, Type::Number | Type::Money(_) | Type::Date);
        let ok = same && (ordered || (matches!(op, CmpOp::Eq | CmpOp::Ne) && matches!(lt, Type::Bool | Type::Text)));
        if !ok {
            let money_literal = |e: ExprId, t: &Type| match (ir.arena.node(e), t) {
                (Some(Node::Const(Value::Num(_))), Type::Money(Ccy::Code(c))) => Some(c.to_string()),
                _ => None,
            };
            // A count compared with an amount written in a unit (`coins > 500 BTC`).
            let count_against_money = match (lt, rt) {
                (Type::Number, _) => money_literal(rhs, rt).map(|code| (lhs, rhs, code)),
                (_, Type::Number) => money_literal(lhs, lt).map(|code| (rhs, lhs, code)),
                _ => None,
            };
            let help = if let Some((number_side, literal_side, code)) = count_against_money {
                let literal = self.text(ir.arena.span(literal_side));
                let bare = literal.trim_end_matches(code.as_str()).trim().to_string();
                let number = self.text(ir.arena.span(number_side));
                format!("`{literal}` is money in {code}; to compare a count, drop the unit (`{bare}`), or compare money with `money({number}, {code})`")
            } else if !same {
                "both sides of a comparison have one type (and one currency)".to_string()
            } else if matches!(lt, Type::List(_) | Type::EmptyList | Type::Record(_)) {
                format!("{lt} values are not compared whole: compare an element (`xs[0] == …`), a count (`len(xs) == 2`), or ask `any(x == … for x in xs)`")
            } else {
                format!("{lt} can be tested with `==` and `!=` only")
            };
            let src = self.src(span);
            self.errors.push(CheckError::BadOperands { op: op.symbol().into(), left: lt.to_string(), right: rt.to_string(), help, span: span.source_span(), src });
            return None;
        }
        Some(lt.clone())
    }

    fn status_text(&mut self, ir: &ir::Ir, status_side: ExprId, text_side: ExprId) {
        let (rule, statuses) = match ir.arena.node(status_side) {
            Some(Node::CovenantField(_, CovenantField::Status)) => ("covenant", COVENANT_STATUSES),
            Some(Node::MarginField(_, MarginField::Status)) => ("margin call", MARGIN_STATUSES),
            _ => return,
        };
        if let Some(Node::Const(Value::Text(t))) = ir.arena.node(text_side) {
            if !statuses.contains(&&**t) {
                let span = ir.arena.span(text_side);
                let src = self.src(span);
                self.errors.push(CheckError::ImpossibleStatus {
                    text: t.to_string(),
                    rule,
                    statuses: statuses.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", "),
                    span: span.source_span(),
                    src,
                });
            }
        }
    }

    fn call_fn(&mut self, ir: &mut ir::Ir, func: u32, args: &[ExprId], frame: &mut Frame, span: Span) -> Type {
        let Some(f) = ir.fns.get(func as usize) else { return Type::Error };
        let (name, params, ret) = (f.name.clone(), f.params.clone(), f.ret.clone());
        let arg_types: Vec<Type> = args.iter().map(|a| self.expr(ir, *a, frame)).collect();
        if args.len() != params.len() {
            let signature = format!(
                "{}({}) -> {}",
                name,
                params.iter().map(|(n, t)| format!("{n}: {t}")).collect::<Vec<_>>().join(", "),
                ret
            );
            let src = self.src(span);
            self.errors.push(CheckError::WrongArgCount {
                name: name.to_string(),
                expected: params.len(),
                plural: if params.len() == 1 { "" } else { "s" },
                found: args.len(),
                signature,
                span: span.source_span(),
                src,
            });
            return Type::Error;
        }
        let mut bound: Option<Ccy> = None;
        for ((arg, at), (pname, pt)) in args.iter().zip(&arg_types).zip(&params) {
            if !self.bind(pt, at, &mut bound) {
                let want = match &bound {
                    Some(c) => substitute(pt, c).to_string(),
                    None => pt.to_string(),
                };
                let help = if contains_generic(pt) {
                    format!("every bare `Money` in `{name}`'s signature is one currency, fixed by the first Money argument")
                } else {
                    format!("parameter `{pname}` of `{name}` is {pt}")
                };
                if let (Type::Money(Ccy::Code(a)), Some(Ccy::Code(b))) = (at, &bound) {
                    if a != b {
                        let src = self.src(ir.arena.span(*arg));
                        self.errors.push(CheckError::CurrencyMismatch {
                            op: format!("{name}(…)"),
                            left: format!("Money({b})"),
                            right: format!("Money({a})"),
                            left_code: b.to_string(),
                            left_span: span.source_span(),
                            right_span: ir.arena.span(*arg).source_span(),
                            src,
                        });
                        continue;
                    }
                }
                self.mismatch(ir.arena.span(*arg), &want, at, help);
            }
        }
        if contains_generic(&ret) {
            match &bound {
                Some(c) => substitute(&ret, c),
                None => {
                    self.invalid(span, format!("cannot tell the currency `{name}` returns"), "currency unknown", "pass at least one Money argument in the generic currency");
                    Type::Error
                }
            }
        } else {
            ret
        }
    }

    /// Whether an argument fits a parameter, fixing the generic currency on first sight.
    fn bind(&self, param: &Type, arg: &Type, bound: &mut Option<Ccy>) -> bool {
        match (param, arg) {
            (_, Type::Error) => true,
            (Type::Money(Ccy::Generic), Type::Money(c)) => match bound {
                Some(b) => b == c,
                None => {
                    *bound = Some(c.clone());
                    true
                }
            },
            (Type::List(p), Type::List(a)) => self.bind(p, a, bound),
            (Type::List(_), Type::EmptyList) => true,
            (Type::Optional(p), Type::Optional(a)) => self.bind(p, a, bound),
            (Type::Optional(p), a) => self.bind(p, a, bound),
            (p, a) => a.fits(p),
        }
    }

    fn builtin(&mut self, ir: &mut ir::Ir, b: Builtin, args: &[ExprId], frame: &mut Frame, span: Span) -> Type {
        use Type::*;
        let ts: Vec<Type> = args.iter().map(|a| self.expr(ir, *a, frame)).collect();
        let sig: &str = match b {
            Builtin::Abs => "abs(x: Number | Money) -> same",
            Builtin::Min | Builtin::Max => "min(a, b) and max(a, b): two Numbers or two Money of one currency",
            Builtin::Clamp => "clamp(x, lo, hi): Numbers, or Money of one currency",
            Builtin::Round | Builtin::RoundEven => "round(x: Number | Money, places: Number)",
            Builtin::Floor | Builtin::Ceil => "floor(x, step): both Number or both Money of one currency",
            Builtin::Sqrt | Builtin::Ln | Builtin::Exp => "sqrt(x: Number) -> Number",
            Builtin::Pow => "pow(x: Number, n: Number) -> Number",
            Builtin::Amount => "amount(m: Money) -> Number",
            Builtin::Money => "money(n: Number, CCY) -> Money(CCY)",
            Builtin::Len => "len(list: List) -> Number",
            Builtin::DaysBetween | Builtin::MonthsBetween => "days_between(a: Date, b: Date) -> Number",
            Builtin::YearFraction => "year_fraction(a: Date, b: Date, basis: Text) -> Number",
            Builtin::DayCount => "day_count(a: Date, b: Date, basis: Text) -> Number",
            Builtin::BasisDays => "basis_days(basis: Text) -> Number",
            Builtin::IsMonthEnd | Builtin::IsQuarterEnd => "is_month_end(d: Date) -> Bool",
            Builtin::QuarterEnd | Builtin::MonthEnd => "quarter_end(d: Date) -> Date",
            Builtin::AddBusinessDays => "add_business_days(d: Date, n: Number) -> Date",
            Builtin::IsBusinessDay | Builtin::IsBusinessDayIn => "is_business_day(d: Date[, CALENDAR]) -> Bool",
            Builtin::Weekday => "weekday(d: Date) -> Number",
        };
        let arity = match b {
            Builtin::Abs | Builtin::Sqrt | Builtin::Ln | Builtin::Exp | Builtin::Amount | Builtin::Len => 1,
            Builtin::IsMonthEnd | Builtin::IsQuarterEnd | Builtin::QuarterEnd | Builtin::MonthEnd => 1,
            Builtin::IsBusinessDay | Builtin::Weekday => 1,
            Builtin::Clamp | Builtin::YearFraction | Builtin::DayCount => 3,
            Builtin::BasisDays => 1,
            _ => 2,
        };
        if ts.len() != arity {
            let src = self.src(span);
            self.errors.push(CheckError::WrongArgCount {
                name: b.name().into(),
                expected: arity,
                plural: if arity == 1 { "" } else { "s" },
                found: ts.len(),
                signature: sig.into(),
                span: span.source_span(),
                src,
            });
            return Error;
        }
        if ts.contains(&Error) {
            return match b {
                Builtin::Sqrt | Builtin::Ln | Builtin::Exp | Builtin::Pow | Builtin::Amount | Builtin::Len | Builtin::DaysBetween
                | Builtin::MonthsBetween | Builtin::YearFraction | Builtin::DayCount | Builtin::BasisDays => Number,
                _ => Error,
            };
        }
        let arg = |i: usize| args.get(i).copied().unwrap_or(ExprId(0));
        let t = |i: usize| ts.get(i).cloned().unwrap_or(Error);
        let want = |c: &mut Self, i: usize, expected: &Type| {
            if !t(i).fits(expected) {
                c.mismatch(ir.arena.span(arg(i)), &expected.to_string(), &t(i), sig);
            }
        };
        match b {
            Builtin::Abs => {
                if !t(0).is_numeric() {
                    self.mismatch(ir.arena.span(arg(0)), "a Number or Money", &t(0), sig);
                }
                t(0)
            }
            Builtin::Min | Builtin::Max | Builtin::Clamp | Builtin::Floor | Builtin::Ceil => {
                let first = t(0);
                if !first.is_numeric() {
                    self.mismatch(ir.arena.span(arg(0)), "a Number or Money", &first, sig);
                    return Error;
                }
                for i in 1..ts.len() {
                    if t(i) != first {
                        if let (Money(Ccy::Code(a)), Money(Ccy::Code(c))) = (&first, &t(i)) {
                            let src = self.src(span);
                            self.errors.push(CheckError::CurrencyMismatch {
                                op: format!("{}(…)", b.name()),
                                left: first.to_string(),
                                right: t(i).to_string(),
                                left_code: a.to_string(),
                                left_span: ir.arena.span(arg(0)).source_span(),
                                right_span: ir.arena.span(arg(i)).source_span(),
                                src,
                            });
                            let _ = c;
                        } else {
                            self.mismatch(ir.arena.span(arg(i)), &first.to_string(), &t(i), sig);
                        }
                    }
                }
                first
            }
            Builtin::Round | Builtin::RoundEven => {
                if !t(0).is_numeric() {
                    self.mismatch(ir.arena.span(arg(0)), "a Number or Money", &t(0), sig);
                }
                want(self, 1, &Number);
                t(0)
            }
            Builtin::Sqrt | Builtin::Ln | Builtin::Exp => {
                want(self, 0, &Number);
                Number
            }
            Builtin::Pow => {
                want(self, 0, &Number);
                want(self, 1, &Number);
                Number
            }
            Builtin::Amount => {
                if !matches!(t(0), Money(_)) {
                    self.mismatch(ir.arena.span(arg(0)), "Money", &t(0), sig);
                }
                Number
            }
            Builtin::Money => {
                want(self, 0, &Number);
                match t(1) {
                    CurrencyCode(c) => Type::Money(Ccy::Code(c)),
                    other => {
                        self.mismatch(ir.arena.span(arg(1)), "a currency code", &other, "write the code itself: `money(n, USD)`");
                        Error
                    }
                }
            }
            Builtin::Len => {
                if !matches!(t(0), List(_) | EmptyList) {
                    self.mismatch(ir.arena.span(arg(0)), "a list", &t(0), sig);
                }
                Number
            }
            Builtin::DaysBetween | Builtin::MonthsBetween => {
                want(self, 0, &Date);
                want(self, 1, &Date);
                Number
            }
            Builtin::YearFraction | Builtin::DayCount | Builtin::BasisDays => {
                let basis_arg = if b == Builtin::BasisDays { 0 } else { 2 };
                if basis_arg == 2 {
                    want(self, 0, &Date);
                    want(self, 1, &Date);
                }
                want(self, basis_arg, &Text);
                if let Some(Node::Const(Value::Text(basis))) = ir.arena.node(arg(basis_arg)) {
                    if crate::eval::DayCount::parse(basis).is_none() {
                        self.invalid(ir.arena.span(arg(basis_arg)), format!("unknown day count `{basis}`"), "not a day count", "the day counts are \"ACT/360\", \"ACT/365F\" and \"30/360\"");
                    }
                }
                Number
            }
            Builtin::IsMonthEnd | Builtin::IsQuarterEnd | Builtin::IsBusinessDay | Builtin::IsBusinessDayIn => {
                want(self, 0, &Date);
                Bool
            }
            Builtin::Weekday => {
                want(self, 0, &Date);
                Number
            }
            Builtin::QuarterEnd | Builtin::MonthEnd => {
                want(self, 0, &Date);
                Date
            }
            Builtin::AddBusinessDays => {
                want(self, 0, &Date);
                want(self, 1, &Number);
                Date
            }
        }
    }
}

/// Every body a global evaluates.
fn global_bodies(ir: &ir::Ir, g: Global) -> Vec<Body> {
    match g {
        Global::Let(i) => ir.lets.get(i as usize).map(|l| vec![l.body]).unwrap_or_default(),
        Global::Pool(i) => ir
            .pools
            .get(i as usize)
            .map(|p| [Some(p.quantity), Some(p.price), p.each.map(|e| e.0), p.haircut, p.lot, p.discount, p.liquidation_price].into_iter().flatten().collect())
            .unwrap_or_default(),
        Global::Covenant(i) => ir.covenants.get(i as usize).map(|c| [Some(c.lhs), Some(c.rhs), c.when].into_iter().flatten().collect()).unwrap_or_default(),
        Global::MarginCall(i) => ir
            .margin_calls
            .get(i as usize)
            .map(|m| [Some(m.trigger), Some(m.amount), m.minimum_transfer, m.rounding.map(|r| r.1), m.due].into_iter().flatten().collect())
            .unwrap_or_default(),
        Global::Liquidation(i) => ir.liquidations.get(i as usize).map(|l| [Some(l.debt), l.trigger].into_iter().flatten().collect()).unwrap_or_default(),
        Global::Default(i) => ir.defaults.get(i as usize).map(|d| d.events.iter().map(|e| e.when).collect()).unwrap_or_default(),
    }
}

/// Whether a covenant's requirement can change with its cure's target: the `let` is in the
/// requirement's dependency cone, or (for an input path) some expression in the cone reads
/// the path, a record that holds it, or the whole input.
fn requirement_reads(ir: &ir::Ir, c: &ir::CovenantDef, into_let: Option<u32>, path: &[u32]) -> bool {
    if let Some(l) = into_let {
        return c.requirement_deps.contains(&Global::Let(l));
    }
    let mut roots: Vec<ExprId> = vec![c.lhs.expr, c.rhs.expr];
    roots.extend(c.requirement_deps.iter().flat_map(|g| global_bodies(ir, *g)).map(|b| b.expr));
    let mut nodes = Vec::new();
    let mut seen_fns: Vec<u32> = Vec::new();
    while let Some(id) = roots.pop() {
        let Some(node) = ir.arena.node(id) else { continue };
        nodes.push(id);
        if let Node::CallFn { func, .. } = node {
            if !seen_fns.contains(func) {
                seen_fns.push(*func);
                roots.extend(ir.fns.get(*func as usize).map(|f| f.body.expr));
            }
        }
        crate::resolve::children(node, &mut |child| roots.push(child));
    }
    let bases: std::collections::HashSet<ExprId> = nodes.iter().filter_map(|id| match ir.arena.node(*id) {
        Some(Node::Field { base, .. }) => Some(*base),
        _ => None,
    }).collect();
    nodes.iter().filter(|id| !bases.contains(id)).any(|&id| match input_path_of(ir, id) {
        Some(read) => read.iter().zip(path).all(|(a, b)| a == b),
        None => false,
    })
}

/// The field indices of a chain `input.a.b`, or `None` when the expression is no such chain.
pub fn input_path_of(ir: &ir::Ir, id: ExprId) -> Option<Vec<u32>> {
    match ir.arena.node(id)? {
        Node::Input => Some(Vec::new()),
        Node::Field { base, index, .. } => {
            let mut p = input_path_of(ir, *base)?;
            p.push(*index);
            Some(p)
        }
        _ => None,
    }
}

/// The figures a requirement reads directly, for a help line: its `let`s and input paths.
fn requirement_reads_list(ir: &ir::Ir, sources: &SourceMap, c: &ir::CovenantDef) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut pending = vec![c.lhs.expr, c.rhs.expr];
    while let Some(id) = pending.pop() {
        let Some(node) = ir.arena.node(id) else { continue };
        match node {
            Node::Global(Global::Let(i)) => names.extend(ir.lets.get(*i as usize).map(|l| format!("`{}`", l.name))),
            Node::Field { .. } if input_path_of(ir, id).is_some() => names.push(format!("`{}`", sources.text(ir.arena.span(id)).trim())),
            _ => crate::resolve::children(node, &mut |child| pending.push(child)),
        }
    }
    names.sort();
    names.dedup();
    if names.is_empty() { "no figure of the data".into() } else { names.join(", ") }
}

/// Where a list of shocks is declared: a scenario, or a test's own what-ifs.
#[derive(Clone, Copy)]
enum ShockSet {
    Scenario(usize),
    Test(usize),
}

impl ShockSet {
    fn shocks(self, ir: &ir::Ir) -> Option<&Vec<ir::ShockDef>> {
        match self {
            ShockSet::Scenario(i) => ir.scenarios.get(i).map(|s| &s.shocks),
            ShockSet::Test(i) => ir.tests.get(i).map(|t| &t.shocks),
        }
    }

    fn shocks_mut(self, ir: &mut ir::Ir) -> Option<&mut Vec<ir::ShockDef>> {
        match self {
            ShockSet::Scenario(i) => ir.scenarios.get_mut(i).map(|s| &mut s.shocks),
            ShockSet::Test(i) => ir.tests.get_mut(i).map(|t| &mut t.shocks),
        }
    }
}

fn contains_generic(t: &Type) -> bool {
    match t {
        Type::Money(Ccy::Generic) => true,
        Type::List(i) | Type::Optional(i) => contains_generic(i),
        _ => false,
    }
}

fn substitute(t: &Type, c: &Ccy) -> Type {
    match t {
        Type::Money(Ccy::Generic) => Type::Money(c.clone()),
        Type::List(i) => Type::List(Arc::new(substitute(i, c))),
        Type::Optional(i) => Type::Optional(Arc::new(substitute(i, c))),
        other => other.clone(),
    }
}

pub fn rule_fields(kind: RuleKind) -> &'static [&'static str] {
    match kind {
        RuleKind::Pool => &["quantity", "market_value", "eligible_value", "realisable_value", "haircut"],
        RuleKind::Covenant => &["status", "passed", "value", "limit", "headroom"],
        RuleKind::MarginCall => &["status", "triggered", "amount", "raw_amount", "due"],
        RuleKind::Liquidation => &["triggered", "debt", "proceeds", "shortfall", "surplus", "recovery", "units"],
        RuleKind::Default => &["triggered", "events"],
    }
}

/// The node and type that reading `name` from a rule becomes.
fn rule_field(ir: &ir::Ir, kind: RuleKind, i: u32, name: &str) -> Option<(Node, Type)> {
    let idx = i as usize;
    Some(match kind {
        RuleKind::Pool => {
            let money = ir.pools.get(idx).map_or(Type::Error, |p| p.price_ty.clone());
            let (f, t) = match name {
                "quantity" => (PoolField::Quantity, Type::Number),
                "market_value" => (PoolField::MarketValue, money),
                "eligible_value" => (PoolField::EligibleValue, money),
                "realisable_value" => (PoolField::RealisableValue, money),
                "haircut" => (PoolField::Haircut, Type::Number),
                _ => return None,
            };
            (Node::PoolField(i, f), t)
        }
        RuleKind::Covenant => {
            let v = ir.covenants.get(idx).map_or(Type::Error, |c| c.value_ty.clone());
            let (f, t) = match name {
                "status" => (CovenantField::Status, Type::Text),
                "passed" => (CovenantField::Passed, Type::Bool),
                "value" => (CovenantField::Value, v.clone()),
                "limit" => (CovenantField::Limit, v),
                "headroom" => (CovenantField::Headroom, Type::Optional(Arc::new(Type::Number))),
                "cure_amount" | "cure_available" if ir.covenants.get(idx).is_some_and(|c| c.cure.is_some()) => {
                    let cure_ty = ir.covenants.get(idx).and_then(|c| c.cure.as_ref()).map_or(Type::Error, |c| c.ty.clone());
                    if name == "cure_amount" {
                        (CovenantField::CureAmount, cure_ty)
                    } else {
                        (CovenantField::CureAvailable, Type::Bool)
                    }
                }
                _ => return None,
            };
            (Node::CovenantField(i, f), t)
        }
        RuleKind::MarginCall => {
            let m = ir.margin_calls.get(idx).map_or(Type::Error, |c| c.amount_ty.clone());
            let (f, t) = match name {
                "status" => (MarginField::Status, Type::Text),
                "triggered" => (MarginField::Triggered, Type::Bool),
                "amount" => (MarginField::Amount, m),
                "raw_amount" => (MarginField::RawAmount, m),
                "due" => (MarginField::Due, Type::Date),
                _ => return None,
            };
            (Node::MarginField(i, f), t)
        }
        RuleKind::Liquidation => {
            let m = ir.liquidations.get(idx).map_or(Type::Error, |c| c.debt_ty.clone());
            let (f, t) = match name {
                "triggered" => (LiquidationField::Triggered, Type::Bool),
                "debt" => (LiquidationField::Debt, m),
                "proceeds" => (LiquidationField::Proceeds, m),
                "shortfall" => (LiquidationField::Shortfall, m),
                "surplus" => (LiquidationField::Surplus, m),
                "recovery" => (LiquidationField::Recovery, Type::Number),
                "target_met" if ir.liquidations.get(idx).is_some_and(|l| l.until.is_some()) => (LiquidationField::TargetMet, Type::Bool),
                "units" => {
                    let sold = ir.liquidations.get(idx).map(|l| l.sell.clone()).unwrap_or_default();
                    let fields = sold.iter().filter_map(|p| ir.pools.get(*p as usize)).map(|p| (p.name.clone(), Type::Number)).collect();
                    (LiquidationField::Units, Type::Record(Arc::new(crate::types::RecordType { name: None, fields })))
                }
                _ => return None,
            };
            (Node::LiquidationField(i, f), t)
        }
        RuleKind::Default => match name {
            "triggered" => (Node::DefaultField(i, DefaultField::Triggered), Type::Bool),
            "events" => (Node::DefaultField(i, DefaultField::Events), Type::List(Arc::new(Type::Text))),
            _ => return None,
        },
    })
}

/// The first read, in an expression or the functions it calls, of something computed from
/// the data (a `let` or a rule's result), with its span and name.
fn computed_value_read(ir: &ir::Ir, root: ir::ExprId) -> Option<(Span, Arc<str>)> {
    let mut pending = vec![root];
    let mut seen_fns: Vec<u32> = Vec::new();
    while let Some(id) = pending.pop() {
        let node = ir.arena.node(id)?;
        let name = match node {
            Node::Global(g) => global_name(ir, *g),
            Node::PoolField(i, _) => ir.pools.get(*i as usize).map(|d| d.name.clone()),
            Node::CovenantField(i, _) => ir.covenants.get(*i as usize).map(|d| d.name.clone()),
            Node::MarginField(i, _) => ir.margin_calls.get(*i as usize).map(|d| d.name.clone()),
            Node::LiquidationField(i, _) => ir.liquidations.get(*i as usize).map(|d| d.name.clone()),
            Node::DefaultField(i, _) => ir.defaults.get(*i as usize).map(|d| d.name.clone()),
            _ => None,
        };
        if let Some(name) = name {
            return Some((ir.arena.span(id), name));
        }
        if let Node::CallFn { func, .. } = node {
            if !seen_fns.contains(func) {
                seen_fns.push(*func);
                if let Some(f) = ir.fns.get(*func as usize) {
                    pending.push(f.body.expr);
                }
            }
        }
        crate::resolve::children(node, &mut |c| pending.push(c));
    }
    None
}

/// The name a program gives a global.
pub fn global_name(ir: &ir::Ir, g: ir::Global) -> Option<Arc<str>> {
    match g {
        ir::Global::Let(i) => ir.lets.get(i as usize).map(|d| d.name.clone()),
        ir::Global::Pool(i) => ir.pools.get(i as usize).map(|d| d.name.clone()),
        ir::Global::Covenant(i) => ir.covenants.get(i as usize).map(|d| d.name.clone()),
        ir::Global::MarginCall(i) => ir.margin_calls.get(i as usize).map(|d| d.name.clone()),
        ir::Global::Liquidation(i) => ir.liquidations.get(i as usize).map(|d| d.name.clone()),
        ir::Global::Default(i) => ir.defaults.get(i as usize).map(|d| d.name.clone()),
    }
}

/// The path of the first Duration in a schema type: JSON has no duration to bind to it.
fn duration_in(ty: &Type, path: &str) -> Option<String> {
    match ty {
        Type::Duration => Some(path.to_string()),
        Type::Optional(inner) => duration_in(inner, path),
        Type::List(inner) => duration_in(inner, &format!("{path}[*]")),
        Type::Record(r) => r.fields.iter().find_map(|(name, t)| duration_in(t, &format!("{path}.{name}"))),
        _ => None,
    }
}

/// The deepest nesting of lists and records a value may have.
pub const MAX_VALUE_NESTING: usize = 64;

/// How deeply a type nests lists and records, counted no further than `cap + 1`.
fn nesting(ty: &Type, cap: usize) -> usize {
    let below = |t: &Type| if cap == 0 { 1 } else { nesting(t, cap - 1) };
    match ty {
        Type::Optional(inner) => nesting(inner, cap),
        Type::List(inner) => 1 + below(inner),
        Type::Record(r) => 1 + r.fields.iter().map(|(_, t)| below(t)).max().unwrap_or(0),
        _ => 0,
    }
}
