//! The engine room: running a program. Between the evaluator (`crate::eval`, which evaluates
//! expressions and reads figures from an outcome store) and the facade (`crate::Program`,
//! which compiles and hands out results), this room owns what turns a compiled program and
//! its data into an outcome:
//!
//! - the order of evaluation: globals in the IR's dependency order, into the outcome store,
//!   each `let` by the evaluator and each rule by `crate::lending`;
//! - scenario and test shocks (`shocks`), applied to the data before anything reads it;
//! - the `check`s (`checks`), each over its own dependency cone, on the data as bound and
//!   again on shocked data;
//! - the script tests (`script`);
//! - re-evaluating only what a change to the data reaches (`incremental`), for scenarios
//!   and shocked copies of data already evaluated.
//!
//! Why a room of its own: the evaluator must not know the rules (so that a rule change can
//! never reach the arithmetic, and the rules can be tested through the evaluator's public
//! face), and the facade must not know how a run is sequenced (so that the REPL, the batch
//! runner, the explainer and the solvers drive the same sequence rather than copies of it).
//! Data flows one way: `eval` ← `lending` ← `engine` ← `lib`. Nothing here is public: the
//! facade's signatures are the API, and this room can change behind them.
//!
//! Budgets: one evaluation spends one budget, threaded through every step here (shocks,
//! checks on shocked data, rules), so that no sequence of steps can run unbounded.

pub(crate) mod checks;
pub(crate) mod incremental;
pub(crate) mod script;
pub(crate) mod shocks;

use crate::eval::{self, Evaluator, Tracer};
use crate::evaluation::Evaluation;
use crate::ir::{self, Global};
use crate::value::Value;
use crate::{dates, lending, resolve, DataError, EvalError, Program};

/// An evaluator over `input` for `program`, spending at most `budget`.
pub(crate) fn evaluator(program: &Program, input: Value, budget: eval::Budget) -> Evaluator<'_> {
    let as_of = as_of(program, &input);
    Evaluator::new(&program.ir, input, as_of).with_budget(budget)
}

/// [`evaluator`] for expressions that read no global.
pub(crate) fn evaluator_without_globals(program: &Program, input: Value, budget: eval::Budget) -> Evaluator<'_> {
    let as_of = as_of(program, &input);
    Evaluator::without_globals(&program.ir, input, as_of).with_budget(budget)
}

fn as_of(program: &Program, input: &Value) -> dates::Date {
    match input {
        Value::Record(f) => match f.get(program.ir.as_of_field as usize) {
            Some(Value::Date(d)) => *d,
            _ => epoch(),
        },
        _ => epoch(),
    }
}

/// Evaluates every global, dependencies first, telling the evaluator's tracer about each.
/// With [`NoTrace`](eval::NoTrace) this compiles to the loop without the call.
pub(crate) fn run_globals<T: Tracer>(ev: &mut Evaluator<'_, T>) {
    for &g in &ev.ir.topo {
        lending::global(ev, g);
        ev.tracer.computed(ev.ir, g, &ev.out);
    }
}

/// Evaluates a global unless it already has been.
pub(crate) fn ensure<T: Tracer>(ev: &mut Evaluator<'_, T>, g: Global) {
    if !ev.out.has(g) {
        lending::global(ev, g);
    }
}


/// Evaluates bound data under a scenario or the base case (see [`Program::run_bound`]).
pub(crate) fn run<'p>(program: &'p Program, input: Value, scenario: Option<&str>) -> Result<Evaluation<'p>, EvalError> {
    let scenario = find_scenario(program, scenario)?;
    // One budget for the whole evaluation: the shocks, the checks on the shocked data and
    // the rules.
    let mut budget = program.limits.budget();
    let base_input = scenario.map(|_| input.clone());
    let input = match scenario {
        Some(s) => shocked(program, input, s, &mut budget)?,
        None => input,
    };
    let mut ev = evaluator(program, input, budget);
    let ledger = incremental::run_recorded(&mut ev);
    let (outcome, input) = ev.into_outcome_and_input();
    if let Some(what) = outcome.exceeded {
        return Err(EvalError::exceeded(what, &program.limits));
    }
    Ok(Evaluation { program, scenario, outcome, input, base_input, ledger: Some(ledger) })
}

/// The data under a scenario's shocks, with the checks run on it, on `budget`.
pub(crate) fn shocked(program: &Program, input: Value, s: &ir::ScenarioDef, budget: &mut eval::Budget) -> Result<Value, EvalError> {
    let shocked = shocks::apply_scenario(program, input, s, budget)?;
    checks::run(program, &shocked, budget).map_err(|e| match e {
        EvalError::Data(DataError::Check { message, line }) => EvalError::ScenarioCheck { scenario: s.name.to_string(), line, message },
        other => other,
    })?;
    Ok(shocked)
}


/// The scenario named, or the base case for `None`; an unknown name suggests the closest.
pub(crate) fn find_scenario<'p>(program: &'p Program, name: Option<&str>) -> Result<Option<&'p ir::ScenarioDef>, EvalError> {
    let Some(name) = name else { return Ok(None) };
    let found = program.ir.scenarios.iter().find(|s| &*s.name == name);
    found.map(Some).ok_or_else(|| {
        let help = resolve::suggestion(name, program.scenario_names(), "scenario");
        let known = program.scenario_names().collect::<Vec<_>>().join(", ");
        EvalError::UnknownScenario {
            name: name.to_string(),
            help: if known.is_empty() {
                "the program declares no scenarios".into()
            } else if help.starts_with("did you mean") {
                format!("{help} (the scenarios are {known})")
            } else {
                format!("the scenarios are {known}")
            },
        }
    })
}


/// Binding guarantees `as_of`; this stands in only for a value that cannot occur.
fn epoch() -> dates::Date {
    dates::Date::EPOCH
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{EvalResult, NoTrace, Outcome, Recording};
    use crate::ir::ExprId;

    /// Ordinary runs are traced by a tracer that takes no space, so it has nothing to record.
    #[test]
    fn the_ordinary_tracer_is_zero_sized() {
        assert_eq!(std::mem::size_of::<NoTrace>(), 0);
    }

    /// Counts the expression steps reported, and keeps the last result of each expression.
    #[derive(Default)]
    struct Counting {
        steps: u64,
        globals: usize,
        last: std::collections::HashMap<ExprId, EvalResult<Value>>,
    }

    impl Tracer for Counting {
        fn evaluated(&mut self, id: ExprId, result: &EvalResult<Value>) {
            self.steps += 1;
            self.last.insert(id, result.clone());
        }

        fn computed(&mut self, _: &ir::Ir, _: Global, _: &Outcome) {
            self.globals += 1;
        }
    }

    /// Every step of the operation budget an expression spends is reported to the tracer,
    /// with the value the expression had: a function call, a schedule, a pool's positions, a
    /// covenant and a failing division all count. (No business-day arithmetic or cure search
    /// here: those spend budget that no one expression does.)
    #[test]
    fn every_expression_step_is_reported_to_the_tracer() {
        let source = r#"
input {
  as_of: Date
  debt: Money(USD)
  zero: Number
  gpus: List<{ count: Number, cost: Money(USD), age: Number }>
}
schedule advance(age: Number) -> Number { < 12 => 70%  < 24 => 50%  else => 0% }
fn haircut_of(age: Number) -> Number = 1 - advance(age)
collateral gpus "GPU fleet" for g in input.gpus {
  quantity g.count
  price    g.cost
  haircut  haircut_of(g.age)
}
let debt = input.debt
let ltv = debt / gpus.eligible_value
let broken = 1 / input.zero
covenant max_ltv { require ltv <= 80% }
"#;
        let program = Program::compile("counted.cov", source).unwrap();
        let data = r#"{"as_of": "2026-03-31", "debt": "1000000", "zero": 0, "gpus": [{"count": 100, "cost": "30000", "age": 6}, {"count": 40, "cost": "25000", "age": 18}, {"count": 10, "cost": "20000", "age": 30}]}"#;
        let evaluation = program.run(data, None).unwrap();
        let budget = program.limits.budget();
        let mut ev = evaluator(&program, evaluation.input.clone(), budget).with_tracer(Counting::default());
        run_globals(&mut ev);
        let spent = budget.operations - ev.budget_left().operations;
        let (outcome, counted) = ev.into_parts();
        assert_eq!(counted.steps, spent);
        assert!(spent >= 30, "only {spent} steps");
        assert_eq!(counted.globals, program.ir.topo.len());
        // The tracer saw what the store holds: each value's defining expression had its value.
        for (i, def) in program.ir.lets.iter().enumerate() {
            let stored = outcome.lets.get(i).cloned().flatten().unwrap();
            let seen = counted.last.get(&def.body.expr).cloned().unwrap();
            assert_eq!(seen.is_ok(), stored.is_ok(), "{}", def.name);
            if let (Ok(seen), Ok(stored)) = (seen, stored) {
                assert_eq!(seen, stored, "{}", def.name);
            }
        }
        assert!(outcome.lets.iter().any(|l| matches!(l, Some(Err(_)))), "the failing division was not computed");
        // An untraced run spends exactly as much.
        let mut plain = evaluator(&program, evaluation.input.clone(), budget);
        run_globals(&mut plain);
        assert_eq!(budget.operations - plain.budget_left().operations, spent);
    }

    /// A tracer told of every step, which so makes the evaluator step through every clause.
    struct Stepping;

    impl Tracer for Stepping {
        fn evaluated(&mut self, _: ExprId, _: &EvalResult<Value>) {}

        fn computed(&mut self, _: &ir::Ir, _: Global, _: &Outcome) {}
    }

    /// The program evaluated on `input` with `budget` and `depth`, ordinarily and with a
    /// tracer that makes it step through every expression: both spend the same and compute
    /// the same, or the test fails naming `what`. What the ordinary run spent, and its outcome.
    fn against_stepping(program: &Program, input: &Value, budget: eval::Budget, depth: u32, what: &str) -> (u64, Outcome) {
        let mut plain = evaluator(program, input.clone(), budget).with_depth(depth);
        run_globals(&mut plain);
        let mut stepped = evaluator(program, input.clone(), budget).with_depth(depth).with_tracer(Stepping);
        run_globals(&mut stepped);
        let (left, stepped_left) = (plain.budget_left(), stepped.budget_left());
        let (plain, stepped) = (plain.into_outcome(), stepped.into_parts().0);
        assert_eq!(left.operations, stepped_left.operations, "{what}, budget {}, depth {depth}", budget.operations);
        assert_eq!(format!("{plain:?}"), format!("{stepped:?}"), "{what}, budget {}, depth {depth}", budget.operations);
        (budget.operations - left.operations, plain)
    }

    /// Pool clauses computed without steps (`ir::numeric`) spend what stepping through them
    /// spends, compute what it computes, and at every budget from none to enough run out
    /// where it runs out: on the reference facility's pool, and on one whose price overflows
    /// in its third position, after the shared age was computed (which is then undone and
    /// the clause stepped through, to the same failure).
    #[test]
    fn clauses_without_steps_spend_compute_and_run_out_as_steps_do() {
        let source = r#"
import std.lending
input {
  as_of: Date
  loan: { outstanding: Money(USD) }
  gpus: List<{ count: Number, purchase_date: Date, unit_cost: Money(USD) }>
}
schedule advance_rate(age: Number) -> Number { < 12 => 70%  < 24 => 50%  < 36 => 30%  else => 0% }
schedule residual(age: Number) -> Number interpolate { 0 => 100%  12 => 65%  24 => 40%  48 => 10% }
fn age(d: Date) -> Number = months_between(d, as_of)
collateral gpus "GPU fleet" for g in input.gpus {
  quantity g.count
  price    g.unit_cost * residual(age(g.purchase_date)) * 2
  haircut  1 - advance_rate(age(g.purchase_date))
}
let ltv = input.loan.outstanding / gpus.eligible_value
covenant max_ltv { require ltv <= 80% }
"#;
        let program = Program::compile("numeric.cov", source).unwrap();
        let pool = &program.ir.pools[0];
        assert!(program.ir.fast.numeric(pool.price.expr).is_some() && pool.haircut.is_some_and(|h| program.ir.fast.numeric(h.expr).is_some()));
        let position = |cost: &str, date: &str| format!(r#"{{"count": 100, "purchase_date": "{date}", "unit_cost": "{cost}"}}"#);
        let books = [
            [position("30000", "2025-02-15"), position("28000", "2024-06-15"), position("25000", "2023-11-15"), position("31000", "2026-01-15")],
            [position("30000", "2025-02-15"), position("28000", "2024-06-15"), position("79228162514264337593543950335", "2026-03-15"), position("31000", "2026-01-15")],
        ];
        let mut compared = 0;
        for (k, book) in books.iter().enumerate() {
            let data = format!(r#"{{"as_of": "2026-03-31", "loan": {{"outstanding": "5000000"}}, "gpus": [{}]}}"#, book.join(","));
            let input = program.bind_text(&data).unwrap();
            let full = program.limits.budget();
            let run = |budget: eval::Budget| against_stepping(&program, &input, budget, eval::MAX_DEPTH, &format!("book {k}"));
            let (spent, outcome) = run(full);
            let pool_failed = matches!(outcome.pools.first(), Some(Some(Err(_))));
            assert_eq!(pool_failed, k == 1, "book {k}: {:?}", outcome.pools.first());
            assert!(spent > 40, "book {k} spent only {spent}");
            for operations in 0..=spent + 1 {
                run(eval::Budget { operations, ..full });
                compared += 1;
            }
        }
        assert!(compared > 80, "only {compared} budgets compared");
    }

    /// Bodies computed in place (`Evaluator::number_in_place`: `let`s, a covenant's sides, a
    /// margin call's trigger, amount, minimum and step) spend what stepping through them
    /// spends, compute what it computes, and run out where it runs out, at every budget from
    /// none to enough and at every depth from none to enough. The program holds each kind of
    /// body taken in place (a read, arithmetic on two reads, a schedule's table, a call of a
    /// function on a rule's figure, a comparison) and some that are not: a division by zero
    /// in place, which the steps then report, and a `let` of another type.
    #[test]
    fn bodies_in_place_spend_compute_and_run_out_as_steps_do() {
        use crate::eval::Fail;
        use rust_decimal::Decimal;
        let source = r#"
import std.lending
input {
  as_of: Date
  loan: { outstanding: Money(USD), cash: Money(USD) }
  ttm: { ebitda: Money(USD), debt_service: Money(USD) }
  gpus: List<{ count: Number, purchase_date: Date, unit_cost: Money(USD) }>
}
schedule advance_rate(age: Number) -> Number { < 12 => 70%  < 24 => 50%  < 36 => 30%  else => 0% }
fn age(d: Date) -> Number = months_between(d, as_of)
collateral gpus "GPU fleet" for g in input.gpus {
  quantity g.count
  price    g.unit_cost
  haircut  1 - advance_rate(age(g.purchase_date))
}
let debt = input.loan.outstanding
let ltv = debt / gpus.eligible_value
let dscr = input.ttm.ebitda / input.ttm.debt_service
let rate = advance_rate(18)
let spare = input.loan.cash / (input.loan.outstanding - debt)
let review = as_of + 30 days
covenant min_dscr { require dscr >= 1.25x }
covenant max_ltv { require ltv <= 80% }
margin_call ltv_call {
  trigger ltv > 75%
  amount collateral_to_restore(debt, gpus.eligible_value, 65% * rate / 50%)
  minimum_transfer 250_000 USD
  rounding up 10_000 USD
  due 2 business days
}
"#;
        let program = Program::compile("in_place.cov", source).unwrap();
        let data = r#"{"as_of": "2026-03-31", "loan": {"outstanding": "5000000", "cash": "100"}, "ttm": {"ebitda": "60000000", "debt_service": "45000000"},
            "gpus": [{"count": 100, "purchase_date": "2025-02-15", "unit_cost": "30000"}, {"count": 120, "purchase_date": "2023-11-15", "unit_cost": "28000"}]}"#;
        let input = program.bind_text(data).unwrap();
        let full = program.limits.budget();
        let run = |budget: eval::Budget, depth: u32| against_stepping(&program, &input, budget, depth, "in place");
        let (spent, outcome) = run(full, eval::MAX_DEPTH);
        // What the program computes, so that the comparisons below compare real figures: the
        // pool's eligible value is 100 × 30,000 × 50% + 120 × 28,000 × 30% = 2,508,000.
        let num = |i: usize| match outcome.lets.get(i) {
            Some(Some(Ok(Value::Num(n)))) => Some(*n),
            _ => None,
        };
        assert_eq!(num(1), Some(Decimal::from(5_000_000) / Decimal::from(2_508_000)));
        assert_eq!(num(3), Some(Decimal::new(50, 2)));
        assert!(matches!(outcome.lets.get(4), Some(Some(Err(Fail::Here(f)))) if f.message == "division by zero"), "{:?}", outcome.lets.get(4));
        assert!(matches!(outcome.lets.get(5), Some(Some(Ok(Value::Date(_))))));
        let call = match outcome.margin_calls.first() {
            Some(Some(Ok(m))) => m.clone(),
            other => panic!("{other:?}"),
        };
        // 5,000,000 / 65% − 2,508,000 = 5,184,307.69…, rounded up to 5,190,000.
        assert_eq!((call.status, call.amount), (crate::eval::outcome::MarginStatus::Called, Decimal::from(5_190_000)));
        assert!(spent > 40, "spent only {spent}");
        // The bodies meant to be taken in place are, so that the comparisons below compare
        // the two paths and not the steps with themselves.
        let mut ev = evaluator(&program, input.clone(), full);
        run_globals(&mut ev);
        let in_place: Vec<Option<Decimal>> = program.ir.lets.iter().map(|l| ev.number_in_place(l.body)).collect();
        assert_eq!(in_place, [num(0), num(1), num(2), num(3), None, None]);
        let amount = ev.number_in_place(program.ir.margin_calls[0].amount);
        assert_eq!(amount.map(|a| a.round_dp(2)), Some(Decimal::new(518_430_769, 2)));
        for operations in 0..=spent + 1 {
            run(eval::Budget { operations, ..full }, eval::MAX_DEPTH);
        }
        for depth in 0..=8 {
            run(full, depth);
        }
    }

    /// A recording run computes what an ordinary run does: the report built from the
    /// recorded values is the ordinary run's report, on every example, data file and scenario.
    #[test]
    fn a_recording_run_reports_what_an_ordinary_run_does_on_every_example() {
        let mut compared = 0;
        let mut programs: Vec<_> = std::fs::read_dir("examples").unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "cov")).collect();
        programs.sort();
        for file in programs {
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap().to_string();
            let program = Program::compile_file(&file).unwrap();
            let data = std::fs::read_dir("examples/data").unwrap().flatten().map(|e| e.path()).filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&stem)));
            for data in data {
                let text = std::fs::read_to_string(&data).unwrap();
                for scenario in std::iter::once(None).chain(program.scenario_names().map(Some)) {
                    let Ok(evaluation) = program.run(&text, scenario) else { continue };
                    let ev = evaluator(&program, evaluation.input.clone(), program.limits.budget());
                    let recording = Recording::new(&program.ir, ev.as_of);
                    let mut ev = ev.with_tracer(recording);
                    run_globals(&mut ev);
                    let (outcome, mut recording) = ev.into_parts();
                    recording.finish(&outcome);
                    assert_eq!(recording.order().collect::<Vec<_>>(), program.ir.topo, "{}", data.display());
                    let report = |out: &Outcome| serde_json::to_string(&crate::report::build(&program.ir, program.sources(), out, evaluation.scenario, usize::MAX).unwrap()).unwrap();
                    assert_eq!(report(recording.values()), report(&evaluation.outcome), "{} with {} ({scenario:?})", file.display(), data.display());
                    for &g in &program.ir.topo {
                        assert_eq!(recording.reads_of(g), program.ir.dependencies_of(g));
                    }
                    compared += 1;
                }
            }
        }
        assert!(compared > 20, "only {compared} runs compared");
    }
}
