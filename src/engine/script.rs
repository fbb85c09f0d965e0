//! The script tests: each `test` block binds its data file, applies its scenario and shocks,
//! runs the checks on the shocked data, evaluates every global, then its `expect`s.

use std::path::Path;

use super::shocks::{self, ShockError};
use crate::value::Value;
use crate::{expect, resolve, DataError, EvalError, Program, TestOutcome};

/// Runs the program's tests, reading their data files through `loader` from `base_dir`.
pub(crate) fn run_tests(program: &Program, base_dir: &Path, loader: &dyn resolve::Loader) -> Vec<TestOutcome> {
    let mut results = Vec::new();
    for t in &program.ir.tests {
        let (line, _) = program.sources.line_column(t.span);
        let mut outcome = TestOutcome { title: t.title.clone(), line, failures: Vec::new() };
        let Some(p) = &t.data else {
            outcome.failures.push("the test names no `data` file".into());
            results.push(outcome);
            continue;
        };
        let limit = program.limits.max_data_bytes;
        let read = loader.locate(&base_dir.join(p), base_dir).and_then(|at| loader.load_at_most(&at, limit));
        let data = match read {
            Ok(d) if d.len() <= limit => d,
            Ok(d) => {
                outcome.failures.push(DataError::TooLarge { size: d.len(), limit }.to_string());
                results.push(outcome);
                continue;
            }
            Err(e) => {
                outcome.failures.push(match resolve::OverLimit::of(&e) {
                    Some(over) => DataError::TooLarge { size: over.size, limit }.to_string(),
                    None if e.kind() == std::io::ErrorKind::PermissionDenied => {
                        format!("cannot read `{p}`: {}; test data is read from the program's directory and its subdirectories (allow another with `--allow-path DIR`)", e.to_string().to_lowercase())
                    }
                    None => format!("cannot read `{p}`: {}", e.to_string().to_lowercase()),
                });
                results.push(outcome);
                continue;
            }
        };
        let input = match program.limits.binder().parse(&data).map_err(EvalError::from).and_then(|j| program.bind(&j)) {
            Ok(i) => i,
            Err(e) => {
                outcome.failures.push(e.to_string());
                results.push(outcome);
                continue;
            }
        };
        let mut budget = program.limits.budget();
        let scenario = t.scenario.and_then(|i| program.ir.scenarios.get(i as usize));
        let mut shocked: Result<Value, String> = Ok(input);
        if let Some(s) = scenario {
            shocked = shocked.and_then(|i| shocks::apply_scenario(program, i, s, &mut budget).map_err(|e| e.to_string()));
        }
        if !t.shocks.is_empty() {
            shocked = shocked.and_then(|i| {
                shocks::apply_shocks(program, i, &t.shocks, &mut budget).map_err(|e| match e {
                    ShockError::Refused { line, message } => format!("the shock at line {line} cannot be applied: {message}"),
                    ShockError::Limit(e) => e.to_string(),
                })
            });
        }
        // The checks hold on the data the test evaluates, shocked or not.
        if scenario.is_some() || !t.shocks.is_empty() {
            shocked = shocked.and_then(|i| super::checks::run(program, &i, &mut budget).map(|()| i).map_err(|e| e.to_string()));
        }
        let input = match shocked {
            Ok(i) => i,
            Err(e) => {
                outcome.failures.push(e);
                results.push(outcome);
                continue;
            }
        };
        let mut ev = super::evaluator(program, input, budget);
        super::run_globals(&mut ev);
        for e in &t.expects {
            let text = program.sources.text(program.ir.arena.span(e.expr)).to_string();
            match ev.eval_body(*e) {
                Ok(Value::Bool(true)) => {}
                Ok(_) => outcome.failures.push(expect::failure(&program.ir, &program.sources, &mut ev, *e)),
                Err(_) => outcome.failures.push(format!("`{text}` could not be evaluated (a value it reads failed)")),
            }
        }
        if let Some(what) = ev.exceeded() {
            outcome.failures = vec![EvalError::exceeded(what, &program.limits).to_string()];
        }
        results.push(outcome);
    }
    results
}
