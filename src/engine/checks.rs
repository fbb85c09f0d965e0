//! The `check`s: conditions on the data, each evaluated over its own dependency cone (the
//! globals its condition reads, directly or not) and nothing else, so that a check never
//! waits on, or fails because of, a rule it does not read.

use crate::eval;
use crate::ir;
use crate::value::Value;
use crate::{DataError, EvalError, Program};

/// Runs the `check`s, each over the values its condition reads and no others.
pub(crate) fn run(program: &Program, input: &Value, budget: &mut eval::Budget) -> Result<(), EvalError> {
    if program.ir.checks.is_empty() {
        return Ok(());
    }
    let mut ev = evaluator(program, input, *budget);
    for c in &program.ir.checks {
        check(program, &mut ev, c)?;
    }
    *budget = ev.budget_left();
    Ok(())
}

/// An evaluator for the checks: without slots for globals when none of them reads one.
fn evaluator<'p>(program: &'p Program, input: &Value, budget: eval::Budget) -> eval::Evaluator<'p> {
    if program.ir.checks.iter().all(|c| c.deps.is_empty()) {
        super::evaluator_without_globals(program, input.clone(), budget)
    } else {
        super::evaluator(program, input.clone(), budget)
    }
}

fn check(program: &Program, ev: &mut eval::Evaluator<'_>, c: &ir::CheckDef) -> Result<(), EvalError> {
    for &g in &c.deps {
        super::ensure(ev, g);
    }
    let ok = matches!(ev.eval_body(c.cond), Ok(Value::Bool(true)));
    if let Some(what) = ev.exceeded() {
        return Err(EvalError::exceeded(what, &program.limits));
    }
    if !ok {
        let (line, _) = program.sources.line_column(c.span);
        return Err(DataError::Check { message: c.message.clone(), line }.into());
    }
    Ok(())
}

/// What each check spends on `input`, each on a budget of its own as a run's first would;
/// `None` when one fails or runs out.
pub(crate) fn spends(program: &Program, input: &Value) -> Option<Vec<eval::Budget>> {
    let budget = program.limits.budget();
    let mut ev = evaluator(program, input, budget);
    let mut spent = Vec::with_capacity(program.ir.checks.len());
    for c in &program.ir.checks {
        let before = ev.budget_left();
        check(program, &mut ev, c).ok()?;
        let after = ev.budget_left();
        spent.push(eval::Budget { operations: before.operations.saturating_sub(after.operations), values: before.values.saturating_sub(after.values) });
    }
    Some(spent)
}

/// [`run`] on data that differs from data whose checks all passed, spending `spent`, only
/// where the checks marked `reached` read: those are run, in order, and the others pass as
/// they did. A run of every check spends no more than the others' spends and these checks'
/// (which count anew any global they share with a check skipped), so when that fits the
/// budget, every check runs to its end here as there, and the first to fail is the same.
/// `None` when it does not fit: only running every check can tell then.
pub(crate) fn run_reached(program: &Program, input: &Value, reached: &[bool], spent: &[eval::Budget]) -> Option<Result<(), EvalError>> {
    let checks = &program.ir.checks;
    if reached.len() != checks.len() || spent.len() != checks.len() {
        return None;
    }
    let limit = program.limits.budget();
    let mut left = limit;
    for (s, _) in spent.iter().zip(reached).filter(|(_, r)| !**r) {
        left = eval::Budget { operations: left.operations.checked_sub(s.operations)?, values: left.values.checked_sub(s.values)? };
    }
    if !reached.contains(&true) {
        return Some(Ok(()));
    }
    let mut ev = evaluator(program, input, left);
    for (c, _) in checks.iter().zip(reached).filter(|(_, r)| **r) {
        match check(program, &mut ev, c) {
            Ok(()) => {}
            Err(_) if ev.exceeded().is_some() => return None,
            Err(failure) => return Some(Err(failure)),
        }
    }
    Some(Ok(()))
}
