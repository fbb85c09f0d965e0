//! What a failed `expect` says: the value each side of a comparison had, the value of each
//! part of an `and`, `or` or `not`, or the value of a bare condition. Values are shown as the
//! table shows them (`report::table::value_text`).

use crate::eval::{Evaluator, Tracer};
use crate::ir::{Body, ExprId, Ir, Node};
use crate::report::table::value_text;
use crate::span::SourceMap;
use crate::value::Value;

/// The failure line of an `expect` whose condition evaluated to false.
pub(crate) fn failure<T: Tracer>(ir: &Ir, sources: &SourceMap, ev: &mut Evaluator<'_, T>, body: Body) -> String {
    let source = |id: ExprId| sources.text(ir.arena.span(id));
    match ir.arena.node(body.expr) {
        Some(Node::Compare { op, lhs, rhs }) => {
            let (lhs_value, rhs_value) = (shown(ir, ev, body, *lhs), shown(ir, ev, body, *rhs));
            let op = op.symbol();
            match (is_literal(ir, *lhs), is_literal(ir, *rhs)) {
                (_, true) => format!("expected `{}` {op} {rhs_value}, got {lhs_value}", source(*lhs)),
                (true, false) => format!("expected {lhs_value} {op} `{}`, got {rhs_value}", source(*rhs)),
                (false, false) => format!("expected `{}`: {}", source(body.expr), sides(ir, sources, ev, body, *lhs, *rhs)),
            }
        }
        Some(Node::And(..) | Node::Or(..) | Node::Not(_)) => {
            let mut parts = Vec::new();
            operands(ir, body.expr, &mut parts);
            let described: Vec<String> = parts.into_iter().map(|p| part(ir, sources, ev, body, p)).collect();
            format!("expected `{}`: {}", source(body.expr), described.join(", "))
        }
        _ => format!("expected `{}`, which was false", source(body.expr)),
    }
}

/// A literal shows its value alone; anything else is named by its source as well.
fn is_literal(ir: &Ir, id: ExprId) -> bool {
    match ir.arena.node(id) {
        Some(Node::Const(_)) => true,
        Some(Node::Neg(inner)) => matches!(ir.arena.node(*inner), Some(Node::Const(_))),
        _ => false,
    }
}

/// The value of a sub-expression of the expect, evaluated in the expect's frame.
fn shown<T: Tracer>(ir: &Ir, ev: &mut Evaluator<'_, T>, body: Body, id: ExprId) -> String {
    match ev.eval_body(Body { expr: id, frame: body.frame }) {
        Ok(v) => value_text(&v, ir.arena.ty(id)),
        Err(_) => "a value that could not be evaluated".into(),
    }
}

/// `` `a` was 1, `b` was 2 ``, the non-literal sides of a comparison.
fn sides<T: Tracer>(ir: &Ir, sources: &SourceMap, ev: &mut Evaluator<'_, T>, body: Body, lhs: ExprId, rhs: ExprId) -> String {
    [lhs, rhs]
        .into_iter()
        .filter(|&side| !is_literal(ir, side))
        .map(|side| format!("`{}` was {}", sources.text(ir.arena.span(side)), shown(ir, ev, body, side)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The operands of a chain of one operator, `a and b and c` giving `a`, `b`, `c`.
fn operands(ir: &Ir, id: ExprId, out: &mut Vec<ExprId>) {
    let node = ir.arena.node(id);
    let same = |child: ExprId| matches!((node, ir.arena.node(child)), (Some(Node::And(..)), Some(Node::And(..))) | (Some(Node::Or(..)), Some(Node::Or(..))));
    match node {
        Some(Node::And(a, b) | Node::Or(a, b)) => {
            for child in [*a, *b] {
                if same(child) {
                    operands(ir, child, out);
                } else {
                    out.push(child);
                }
            }
        }
        Some(Node::Not(a)) => out.push(*a),
        _ => out.push(id),
    }
}

/// `` `x > 1` was false (`x` was 0.5) ``: a part of an `and`, `or` or `not`, and the sides of a
/// comparison.
fn part<T: Tracer>(ir: &Ir, sources: &SourceMap, ev: &mut Evaluator<'_, T>, body: Body, id: ExprId) -> String {
    let source = sources.text(ir.arena.span(id));
    let value = match ev.eval_body(Body { expr: id, frame: body.frame }) {
        Ok(Value::Bool(b)) => b.to_string(),
        Ok(other) => value_text(&other, ir.arena.ty(id)),
        Err(_) => return format!("`{source}` could not be evaluated"),
    };
    match ir.arena.node(id) {
        Some(Node::Compare { lhs, rhs, .. }) if !(is_literal(ir, *lhs) && is_literal(ir, *rhs)) => {
            format!("`{source}` was {value} ({})", sides(ir, sources, ev, body, *lhs, *rhs))
        }
        _ => format!("`{source}` was {value}"),
    }
}
