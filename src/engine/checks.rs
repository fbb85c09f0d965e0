//! The `check`s: conditions on the data, each evaluated over its own dependency cone (the
//! globals its condition reads, directly or not) and nothing else, so that a check never
//! waits on, or fails because of, a rule it does not read.

use crate::eval;
use crate::value::Value;
use crate::{DataError, EvalError, Program};

/// Runs the `check`s, each over the values its condition reads and no others.
pub(crate) fn run(program: &Program, input: &Value, budget: &mut eval::Budget) -> Result<(), EvalError> {
    if program.ir.checks.is_empty() {
        return Ok(());
    }
    let mut ev = super::evaluator(program, input.clone(), *budget);
    for c in &program.ir.checks {
        for &g in &c.deps {
            super::ensure(&mut ev, g);
        }
        let ok = matches!(ev.eval_body(c.cond), Ok(Value::Bool(true)));
        if let Some(what) = ev.exceeded() {
            return Err(EvalError::exceeded(what, &program.limits));
        }
        if !ok {
            let (line, _) = program.sources.line_column(c.span);
            return Err(DataError::Check { message: c.message.clone(), line }.into());
        }
    }
    *budget = ev.budget_left();
    Ok(())
}

