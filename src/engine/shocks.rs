//! Shocks: a scenario's or a test's changes to the data, applied in order before anything
//! reads the data. Each shock's value is an expression read against the data as shocked so
//! far, on the same budget as the evaluation it precedes.

use crate::eval::{self, Evaluator, Tracer};
use crate::ir::{self, PathStep};
use crate::span::Span;
use crate::syntax::ast::ShockOp;
use crate::value::Value;
use crate::{EvalError, Program};

pub(crate) fn apply_scenario(program: &Program, input: Value, s: &ir::ScenarioDef, budget: &mut eval::Budget) -> Result<Value, EvalError> {
    apply_shocks(program, input, &s.shocks, budget).map_err(|e| match e {
        ShockError::Refused { line, message } => EvalError::Shock { scenario: s.name.to_string(), line, message },
        ShockError::Limit(e) => e,
    })
}

/// Applies shocks in order, a scenario's or a test's.
pub(crate) fn apply_shocks(program: &Program, input: Value, shocks: &[ir::ShockDef], budget: &mut eval::Budget) -> Result<Value, ShockError> {
    let mut shocked = input;
    for shock in shocks {
        let refused = |message: String| ShockError::Refused { line: program.sources.line_column(shock.span).0, message };
        // Shock values are read against the data as shocked so far.
        let mut ev = super::evaluator(program, shocked.clone(), *budget);
        let by = ev.eval_body(shock.value);
        let applied = match by {
            Ok(by) => apply_shock(&mut ev, &shocked, &shock.path, shock.op, &by, shock.span),
            Err(eval::Fail::Here(failure)) => Err(failure.message),
            Err(eval::Fail::Upstream) => Err("a value it reads failed".into()),
        };
        if let Some(what) = ev.exceeded() {
            return Err(ShockError::Limit(EvalError::exceeded(what, &program.limits)));
        }
        *budget = ev.budget_left();
        shocked = applied.map_err(refused)?;
    }
    Ok(shocked)
}

/// Why shocks could not be applied: the shock's own failure, or a limit of the evaluation.
pub(crate) enum ShockError {
    Refused { line: usize, message: String },
    Limit(EvalError),
}

fn apply_shock<T: Tracer>(ev: &mut Evaluator<'_, T>, v: &Value, path: &[PathStep], op: ShockOp, by: &Value, span: Span) -> Result<Value, String> {
    Ok(match (path.split_first(), v) {
        (None, old) => shocked_leaf(ev, old, op, by, span)?,
        (Some((PathStep::Field(i), rest)), Value::Record(fields)) => {
            let mut copy = fields.to_vec();
            if let Some(slot) = copy.get_mut(*i as usize) {
                *slot = apply_shock(ev, slot, rest, op, by, span)?;
            }
            Value::Record(copy.into())
        }
        (Some((PathStep::All, rest)), Value::List(items)) => Value::List(items.iter().map(|x| apply_shock(ev, x, rest, op, by, span)).collect::<Result<_, _>>()?),
        // An absent optional stays absent unless the shock sets it.
        (Some(_), other) => other.clone(),
    })
}

fn shocked_leaf<T: Tracer>(ev: &mut Evaluator<'_, T>, old: &Value, op: ShockOp, by: &Value, span: Span) -> Result<Value, String> {
    let overflow = || "arithmetic overflow: the shocked value exceeds the decimal range".to_string();
    Ok(match (op, old, by) {
        (ShockOp::Set, _, new) => new.clone(),
        (ShockOp::Mul, Value::Num(a), Value::Num(b)) => Value::Num(a.checked_mul(*b).ok_or_else(overflow)?),
        (ShockOp::Add, Value::Num(a), Value::Num(b)) => Value::Num(a.checked_add(*b).ok_or_else(overflow)?),
        (ShockOp::Sub, Value::Num(a), Value::Num(b)) => Value::Num(a.checked_sub(*b).ok_or_else(overflow)?),
        // Moved as `date + duration` moves it: business days by the program's calendar.
        (ShockOp::Add | ShockOp::Sub, Value::Date(d), Value::Duration(dur)) => {
            let sign = if op == ShockOp::Sub { -1 } else { 1 };
            match ev.add_duration(*d, *dur, sign, span) {
                Ok(moved) => Value::Date(moved),
                Err(eval::Fail::Here(failure)) => return Err(failure.message),
                Err(eval::Fail::Upstream) => return Err("the calendar could not be evaluated".to_string()),
            }
        }
        // An absent optional, scaled or moved, stays absent.
        (_, Value::Null, _) => Value::Null,
        _ => return Err("the shock does not apply to this value".to_string()),
    })
}

