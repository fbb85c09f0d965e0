//! Re-evaluating only what a change to the data reaches. A scenario or a shocked copy of the
//! data starts from an evaluation already made: the globals whose input reads overlap a
//! changed path (`crate::ir::reads`), and everything downstream of them, are evaluated again
//! in the evaluation order; every other global is read from the base. The result is the
//! evaluation from scratch, to the byte, including the order of its errors and where it
//! runs into its budget:
//!
//! - a base run keeps a [`Ledger`]: what each global spent of the budget and where its
//!   errors end, so that a global taken from the base is charged its spend, and its errors
//!   placed, exactly where a run from scratch would have spent and pushed them;
//! - the holidays are computed once per evaluator, by the first global to need them, which
//!   pays for them and reports their failure; so when any global that may count business
//!   days is evaluated again, all of them are, and the first of them pays and reports again;
//! - anything a rerun cannot promise to reproduce (`as_of` moved, a limit reached, a base
//!   without a ledger) is evaluated from scratch instead.

use crate::eval::{Budget, Evaluator, KnownHolidays, Outcome};
use crate::evaluation::Evaluation;
use crate::ir::{Global, Ir, PathStep};
use crate::value::Value;
use crate::{lending, EvalError, Program};

/// What each global of one run spent and reported, by its place in the evaluation order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ledger {
    steps: Vec<Step>,
    /// The holiday lists the run computed, for a rerun whose holidays are the same.
    holidays: Option<Box<KnownHolidays>>,
    /// What each check spends on the run's data, worked out when a rerun first needs it;
    /// `None` inside when a check fails there.
    checks_spent: std::sync::OnceLock<Option<Box<[Budget]>>>,
}

#[derive(Clone, Copy, Debug)]
struct Step {
    operations: u64,
    values: u64,
    /// The length of the error list once the global was computed: its errors end here and
    /// start where the previous global's end.
    errors_end: usize,
}

/// Every global of `ev`'s program, into its outcome store, with what each spent.
pub(crate) fn run_recorded(ev: &mut Evaluator<'_>) -> Ledger {
    let mut steps = Vec::with_capacity(ev.ir.topo.len());
    for &g in &ev.ir.topo {
        let before = ev.budget_left();
        lending::global(ev, g);
        steps.push(step(before, ev.budget_left(), ev.out.errors.len()));
    }
    let holidays = ev.take_known_holidays();
    Ledger { steps, holidays, checks_spent: Default::default() }
}

fn step(before: Budget, after: Budget, errors_end: usize) -> Step {
    Step { operations: before.operations.saturating_sub(after.operations), values: before.values.saturating_sub(after.values), errors_end }
}

/// A change to a program's data at some input paths, worked out once for any number of
/// evaluations it is applied to (a stress run applies each scenario to every facility): the
/// globals it makes evaluate again, and whether it reaches what the `check`s read.
#[derive(Clone, Debug)]
pub struct Changes {
    /// By place in the evaluation order; `None` when the program carries no input reads.
    dirty: Option<Vec<bool>>,
    reaches_checks: bool,
    /// By check, in program order: whether the change reaches what it reads.
    checks_reached: Vec<bool>,
    /// Neither the holidays' input nor a global they read is changed: the base's holiday
    /// lists stand.
    keeps_holidays: bool,
}

impl Changes {
    pub(crate) fn of(ir: &Ir, changed: &[&[PathStep]]) -> Changes {
        let calendars = ir.input_reads.calendars().touches(changed);
        let checks = ir.input_reads.checks();
        let dirty = invalidated(ir, changed);
        let keeps_holidays = !calendars
            && dirty.as_ref().is_some_and(|d| ir.input_reads.calendar_globals().iter().all(|&g| ir.dependencies.position(g).and_then(|p| d.get(p)).is_some_and(|x| !x)));
        let checks_reached = ir.input_reads.each_check().iter().map(|r| r.touches(changed) || (r.calendars && calendars)).collect();
        Changes { dirty, reaches_checks: checks.touches(changed) || (checks.calendars && calendars), checks_reached, keeps_holidays }
    }

    /// How many globals the change makes evaluate again, of how many; `None` when every
    /// evaluation it is applied to is from scratch.
    pub fn evaluated_again(&self) -> Option<(usize, usize)> {
        self.dirty.as_ref().map(|d| (d.iter().filter(|x| **x).count(), d.len()))
    }
}

/// The globals, by place in the evaluation order, that a change to the data at `changed`
/// makes evaluate again: those reading an overlapping path, those reading one of those, and,
/// when any global that may count business days is among them or the holidays read a
/// changed path, every such global. `None` when the program carries no input reads.
pub(crate) fn invalidated(ir: &Ir, changed: &[&[PathStep]]) -> Option<Vec<bool>> {
    if !ir.input_reads.covers(ir.topo.len()) {
        return None;
    }
    let calendars = ir.input_reads.calendars();
    let holidays_changed = calendars.touches(changed);
    let mut dirty = mark(ir, changed, |reads_calendars| reads_calendars && holidays_changed);
    let calendar_users_dirty = ir.topo.iter().zip(&dirty).any(|(&g, &d)| d && ir.input_reads_of(g).is_some_and(|r| r.calendars));
    let calendar_globals_dirty = ir.input_reads.calendar_globals().iter().any(|&g| ir.dependencies.position(g).and_then(|p| dirty.get(p)).copied().unwrap_or(true));
    if calendar_users_dirty || calendar_globals_dirty {
        dirty = mark(ir, changed, |reads_calendars| reads_calendars);
    }
    Some(dirty)
}

/// One pass in evaluation order: a global is dirty when it reads a changed path, when
/// `seed` says so (given whether it reads the calendars), or when anything it reads is.
fn mark(ir: &Ir, changed: &[&[PathStep]], seed: impl Fn(bool) -> bool) -> Vec<bool> {
    let mut dirty = vec![false; ir.topo.len()];
    for (position, &g) in ir.topo.iter().enumerate() {
        let reads = ir.input_reads_of(g);
        let own = reads.is_none_or(|r| r.touches(changed) || seed(r.calendars));
        let upstream = reads_globals(ir, g).any(|d| ir.dependencies.position(d).and_then(|p| dirty.get(p)).copied().unwrap_or(true));
        if let Some(slot) = dirty.get_mut(position) {
            *slot = own || upstream;
        }
    }
    dirty
}

/// The globals `g`'s result depends on: its dependency edges, and, to be safe, what its
/// searches evaluate again (a cure's requirement, a liquidation's target and pools).
fn reads_globals(ir: &Ir, g: Global) -> impl Iterator<Item = Global> + '_ {
    let mut extra = Vec::new();
    match g {
        Global::Covenant(i) => {
            if let Some(c) = ir.covenants.get(i as usize) {
                extra.extend_from_slice(&c.requirement_deps);
                extra.extend(c.cure.as_ref().and_then(|c| c.into_let).map(Global::Let));
            }
        }
        Global::Liquidation(i) => {
            if let Some(l) = ir.liquidations.get(i as usize) {
                extra.extend(l.sell.iter().map(|&p| Global::Pool(p)));
                if let Some(u) = &l.until {
                    extra.extend_from_slice(&u.deps);
                    if let crate::ir::DebtTarget::Let(t) = u.debt_target {
                        extra.push(Global::Let(t));
                    }
                }
            }
        }
        _ => {}
    }
    ir.dependencies_of(g).iter().copied().chain(extra)
}

/// What a rerun produced: the outcome, its ledger, and how many globals it evaluated.
pub(crate) struct Rerun {
    pub outcome: Outcome,
    pub ledger: Ledger,
    /// Read by the tests that count the work saved.
    #[cfg_attr(not(test), allow(dead_code))]
    pub evaluated: usize,
    /// How many sales it took from the base instead of searching again.
    #[cfg_attr(not(test), allow(dead_code))]
    pub reused_sales: usize,
}

/// The outcome of evaluating `input` with `budget`, given that it differs from the data
/// `base` was computed from only at `changed`; `None` when only a run from scratch can
/// promise the same result.
pub(crate) fn rerun(program: &Program, base: &Outcome, ledger: &Ledger, input: Value, changes: &Changes, budget: Budget) -> Option<Rerun> {
    let ir = &program.ir;
    if ledger.steps.len() != ir.topo.len() {
        return None;
    }
    let mut ev = super::evaluator(program, input, budget);
    // `as_of` reaches the rules other than through expressions (test dates, cure limits,
    // due dates): when it moves, everything moves.
    if ev.as_of != base.as_of {
        return None;
    }
    let dirty = changes.dirty.as_ref()?;
    let clean = |g: Global| ir.dependencies.position(g).and_then(|p| dirty.get(p)).is_some_and(|d| !d);
    ev.reusable_sales = base.sale_searches.iter().filter(|s| clean(Global::Pool(s.sale.pool))).cloned().collect();
    let reusable = ev.reusable_sales.len();
    if changes.keeps_holidays {
        if let Some(known) = &ledger.holidays {
            ev.know_holidays(known);
        }
    }
    let mut steps = Vec::with_capacity(ir.topo.len());
    // Spends of globals taken from the base, not yet taken off the evaluator's budget.
    let mut owed = Budget { operations: 0, values: 0 };
    let mut errors_start = 0;
    let mut evaluated = 0;
    for ((&g, &again), recorded) in ir.topo.iter().zip(dirty).zip(&ledger.steps) {
        if again {
            if owed != (Budget { operations: 0, values: 0 }) {
                let left = ev.budget_left();
                let after = Budget { operations: left.operations.checked_sub(owed.operations)?, values: left.values.checked_sub(owed.values)? };
                ev.set_budget_left(after);
                owed = Budget { operations: 0, values: 0 };
            }
            let before = ev.budget_left();
            lending::global(&mut ev, g);
            if ev.exceeded().is_some() {
                return None;
            }
            steps.push(step(before, ev.budget_left(), ev.out.errors.len()));
            evaluated += 1;
        } else {
            owed.operations = owed.operations.checked_add(recorded.operations)?;
            owed.values = owed.values.checked_add(recorded.values)?;
            // From scratch this global would run out of budget partway.
            let left = ev.budget_left();
            if owed.operations > left.operations || owed.values > left.values {
                return None;
            }
            ev.out.copy_slot(base, g);
            if let Global::Liquidation(l) = g {
                ev.out.sale_searches.extend(base.sale_searches.iter().filter(|s| s.liquidation == l).cloned());
            }
            ev.out.errors.extend_from_slice(base.errors.get(errors_start..recorded.errors_end)?);
            steps.push(Step { errors_end: ev.out.errors.len(), ..*recorded });
        }
        errors_start = recorded.errors_end;
    }
    let reused_sales = reusable - ev.reusable_sales.len();
    let holidays = ev.take_known_holidays();
    Some(Rerun { outcome: ev.into_outcome(), ledger: Ledger { steps, holidays, checks_spent: Default::default() }, evaluated, reused_sales })
}

/// [`Evaluation::rerun_changed`].
pub(crate) fn rerun_changed<'p>(base: &Evaluation<'p>, input: Value, changes: &Changes) -> Result<Evaluation<'p>, EvalError> {
    let program = base.program;
    // As `Program::run_changed` does: the checks first, on a budget of their own. Checks that
    // read nothing changed pass as they did for the base, spending what they spent then; so
    // only those the change reaches run, when the base's spends show that to be enough.
    if changes.reaches_checks || changes.dirty.is_none() {
        let reached = base
            .ledger
            .as_ref()
            .filter(|_| changes.dirty.is_some())
            .and_then(|l| l.checks_spent.get_or_init(|| super::checks::spends(program, &base.input).map(Vec::into_boxed_slice)).as_deref())
            .and_then(|spent| super::checks::run_reached(program, &input, &changes.checks_reached, spent));
        match reached {
            Some(result) => result?,
            None => super::checks::run(program, &input, &mut program.limits.budget())?,
        }
    }
    let done = base.ledger.as_ref().and_then(|ledger| rerun(program, &base.outcome, ledger, input.clone(), changes, program.limits.budget()));
    match done {
        Some(r) => Ok(Evaluation { program, scenario: None, outcome: r.outcome, input, base_input: None, ledger: Some(r.ledger) }),
        None => super::run(program, input, None),
    }
}

/// [`Program::run_scenario_incremental`].
pub(crate) fn run_scenario<'p>(program: &'p Program, base: &Evaluation<'_>, name: &str) -> Result<Evaluation<'p>, EvalError> {
    let from_scratch = || super::run(program, base.input.clone(), Some(name));
    let (Some(ledger), true) = (&base.ledger, std::ptr::eq(base.program, program)) else { return from_scratch() };
    let Some(scenario) = super::find_scenario(program, Some(name))? else { return from_scratch() };
    // As a run from scratch spends it: the shocks, the checks on shocked data, the rules.
    let mut budget = program.limits.budget();
    let shocked = super::shocked(program, base.input.clone(), scenario, &mut budget)?;
    let changed: Vec<&[PathStep]> = scenario.shocks.iter().map(|s| s.path.as_slice()).collect();
    match rerun(program, &base.outcome, ledger, shocked.clone(), &Changes::of(&program.ir, &changed), budget) {
        Some(r) => Ok(Evaluation { program, scenario: Some(scenario), outcome: r.outcome, input: shocked, base_input: Some(base.input.clone()), ledger: Some(r.ledger) }),
        None => from_scratch(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::InputPath;

    /// The globals downstream of `roots` by the IR's own edges, roots included.
    fn downstream(ir: &Ir, roots: Vec<Global>) -> Vec<Global> {
        let mut seen = roots.clone();
        let mut work = roots;
        while let Some(g) = work.pop() {
            for &d in ir.dependents_of(g) {
                if !seen.contains(&d) {
                    seen.push(d);
                    work.push(d);
                }
            }
        }
        seen.sort_by_key(|g| ir.dependencies.position(*g));
        seen
    }

    /// The miner example and its data, bound.
    fn miner_facility() -> (Program, Value) {
        let program = Program::compile_file(std::path::Path::new("examples/miner_facility.cov")).unwrap();
        let input = program.bind_text(&std::fs::read_to_string("examples/data/miner_facility.json").unwrap()).unwrap();
        (program, input)
    }

    /// A BTC price shock on the miner facility evaluates again the globals that read the
    /// price and those downstream of them, and nothing else: not the GPU fleet's pool (and
    /// its proceeds-peak search), nor the hosting cash flow.
    #[test]
    fn a_price_shock_evaluates_only_the_cone_of_the_price_reads() {
        let (program, input) = miner_facility();
        let ir = &program.ir;
        let base = program.run_bound(input.clone(), None).unwrap();
        let price = InputPath::parse(&program, "input.btc.price").unwrap();
        let shocked = price.map(&input, &mut |v| v.num().map(|p| Value::Num(p / rust_decimal::Decimal::TWO))).unwrap();
        let changed = [price.ir_path()];
        let paths: Vec<&[PathStep]> = changed.iter().map(Vec::as_slice).collect();

        let readers: Vec<Global> = ir.topo.iter().copied().filter(|&g| ir.input_reads_of(g).unwrap().touches(&paths)).collect();
        let pool = |n: &str| Global::Pool(u32::try_from(ir.pools.iter().position(|p| &*p.name == n).unwrap()).unwrap());
        let value = |n: &str| Global::Let(u32::try_from(ir.lets.iter().position(|l| &*l.name == n).unwrap()).unwrap());
        assert!(readers.contains(&pool("btc")) && readers.contains(&value("mining_margin")), "{:?}", readers);
        let cone = downstream(ir, readers);

        let dirty = invalidated(ir, &paths).unwrap();
        let again: Vec<Global> = ir.topo.iter().zip(&dirty).filter(|(_, d)| **d).map(|(g, _)| *g).collect();
        assert_eq!(again, cone);
        assert!(!again.contains(&pool("gpus")) && !again.contains(&value("hosting_rent")));

        let ledger = base.ledger.as_ref().unwrap();
        let r = rerun(&program, &base.outcome, ledger, shocked.clone(), &Changes::of(ir, &paths), program.limits.budget()).unwrap();
        assert_eq!(r.evaluated, cone.len());
        assert!(r.evaluated < ir.topo.len());
        // The work, in evaluator steps: what the globals evaluated again spent, against a
        // whole run (the BTC pool's lot search, which the price reaches, is most of it).
        let operations = |l: &Ledger, only: &dyn Fn(usize) -> bool| -> u64 { l.steps.iter().enumerate().filter(|(i, _)| only(*i)).map(|(_, s)| s.operations).sum() };
        let spent_again = operations(&r.ledger, &|i| dirty[i]);
        let rerun = Evaluation { program: &program, scenario: None, outcome: r.outcome, input: shocked.clone(), base_input: None, ledger: Some(r.ledger) };
        let scratch = program.run_changed(shocked, None).unwrap();
        let spent_from_scratch = operations(scratch.ledger.as_ref().unwrap(), &|_| true);
        eprintln!("{} of {} globals, {spent_again} of {spent_from_scratch} operations evaluated again", cone.len(), ir.topo.len());
        assert!(spent_again < spent_from_scratch, "{spent_again} of {spent_from_scratch} operations");
        let json = |e: &Evaluation<'_>| serde_json::to_string(&e.report().unwrap()).unwrap();
        assert_eq!(json(&rerun), json(&scratch));
        assert_ne!(json(&rerun), json(&base));
    }

    /// A shock to the GPU rents leaves the BTC pool as it was: the enforcement sale, which
    /// sells BTC first, takes the base's BTC sale instead of searching again, and is charged
    /// what that search spent, so the rerun spends what a run from scratch spends. A BTC
    /// price shock changes the pool, and its sale is searched for again.
    #[test]
    fn a_sale_from_an_unchanged_pool_is_taken_from_the_base() {
        let (program, input) = miner_facility();
        let ir = &program.ir;
        let base = program.run_bound(input.clone(), None).unwrap();
        assert_eq!(base.outcome.sale_searches.len(), 1, "{:?}", base.outcome.sale_searches);
        let rerun_of = |path: &str, factor: rust_decimal::Decimal| {
            let at = InputPath::parse(&program, path).unwrap();
            let shocked = at.map(&input, &mut |v| v.num().map(|p| Value::Num(p * factor))).unwrap();
            let changed = [at.ir_path()];
            let paths: Vec<&[PathStep]> = changed.iter().map(Vec::as_slice).collect();
            let r = rerun(&program, &base.outcome, base.ledger.as_ref().unwrap(), shocked.clone(), &Changes::of(ir, &paths), program.limits.budget()).unwrap();
            let scratch = program.run_changed(shocked, None).unwrap();
            assert_eq!(r.outcome.sale_searches, scratch.outcome.sale_searches, "{path}");
            let spent = |l: &Ledger| -> Vec<u64> { l.steps.iter().map(|s| s.operations).collect() };
            assert_eq!(spent(&r.ledger), spent(scratch.ledger.as_ref().unwrap()), "{path}");
            r.reused_sales
        };
        assert_eq!(rerun_of("input.gpus[*].rent_per_hour", rust_decimal::Decimal::new(7, 1)), 1);
        assert_eq!(rerun_of("input.btc.price", rust_decimal::Decimal::new(5, 1)), 0);
    }

    /// When the holidays change, every global that may count business days is evaluated
    /// again, and nothing that cannot.
    #[test]
    fn a_holiday_change_evaluates_the_business_day_users_again() {
        let program = crate::Program::compile("h.cov", r#"
            input { as_of: Date  debt: Money(USD)  holidays: List<Date> }
            calendar { holidays input.holidays }
            let settles = as_of + 2 business days
            let later = settles + 1 day
            let debt = input.debt * 2
            margin_call call { trigger input.debt > 0 USD  amount input.debt  due 1 business day }
        "#).unwrap();
        let ir = &program.ir;
        let holidays = InputPath::parse_any(&program, "input.holidays").unwrap().ir_path();
        let debt = InputPath::parse(&program, "input.debt").unwrap().ir_path();
        let again = |changed: &[&[PathStep]]| -> usize { invalidated(ir, changed).unwrap().iter().filter(|d| **d).count() };
        // settles, later (downstream) and the call; not `debt`.
        assert_eq!(again(&[&holidays]), 3);
        // The call reads the debt, and counts business days: so every business-day user
        // goes again with it, and `later` downstream of `settles`.
        assert_eq!(again(&[&debt]), 4);
        let input = program.bind_text(r#"{"as_of": "2026-03-27", "debt": "10", "holidays": ["2026-03-30"]}"#).unwrap();
        let base = program.run_bound(input.clone(), None).unwrap();
        let moved = InputPath::parse_any(&program, "input.holidays").unwrap().map(&input, &mut |_| Some(Value::List(vec![Value::Date(crate::dates::Date::from_ymd(2026, 3, 31).unwrap())].into()))).unwrap();
        let rerun = base.rerun_with(moved.clone(), &[holidays]).unwrap();
        assert_eq!(rerun.value("settles"), Some(&Value::Date(crate::dates::Date::from_ymd(2026, 4, 1).unwrap())));
        assert_eq!(rerun.margin_call("call").unwrap().due.to_string(), "2026-03-30");
        assert_eq!(serde_json::to_string(&rerun.report().unwrap()).unwrap(), serde_json::to_string(&program.run_changed(moved, None).unwrap().report().unwrap()).unwrap());
    }

    /// A change that leaves the holidays alone hands the base's holiday list to the rerun:
    /// the first business-day user pays what computing it cost, so every global spends
    /// what it spends from scratch, and a budget one operation short runs out as it would.
    #[test]
    fn unchanged_holidays_are_taken_from_the_base_and_paid_for_where_they_are_first_needed() {
        let program = crate::Program::compile("h.cov", r#"
            input { as_of: Date  debt: Money(USD)  holidays: List<Date> }
            calendar { holidays input.holidays }
            let debt = input.debt * 2
            let settles = as_of + 2 business days
            margin_call call { trigger input.debt > 0 USD  amount input.debt  due 1 business day }
        "#).unwrap();
        let ir = &program.ir;
        let debt = InputPath::parse(&program, "input.debt").unwrap().ir_path();
        let holidays = InputPath::parse_any(&program, "input.holidays").unwrap().ir_path();
        assert!(!Changes::of(ir, &[&holidays]).keeps_holidays);
        let changes = Changes::of(ir, &[&debt]);
        assert!(changes.keeps_holidays);
        let input = program.bind_text(r#"{"as_of": "2026-03-27", "debt": "10", "holidays": ["2026-04-02", "2026-03-30", "2026-03-31"]}"#).unwrap();
        let base = program.run_bound(input.clone(), None).unwrap();
        let moved = InputPath::parse(&program, "input.debt").unwrap().scale(&input, rust_decimal::Decimal::TWO).unwrap();
        let scratch = program.run_bound(moved.clone(), None).unwrap();
        let spent = |l: &Ledger| -> Vec<u64> { l.steps.iter().map(|s| s.operations).collect() };
        let budget = program.limits.budget();
        let r = rerun(&program, &base.outcome, base.ledger.as_ref().unwrap(), moved.clone(), &changes, budget).unwrap();
        assert_eq!(spent(&r.ledger), spent(scratch.ledger.as_ref().unwrap()));
        assert_eq!(r.outcome.margin_calls, scratch.outcome.margin_calls);
        // Monday 30 and Tuesday 31 are holidays: two business days after Friday 27 is Thursday.
        assert_eq!(r.outcome.lets.get(1), Some(&Some(Ok(Value::Date(crate::dates::Date::from_ymd(2026, 4, 3).unwrap())))));
        let total: u64 = spent(&r.ledger).iter().sum();
        let short = crate::eval::Budget { operations: total - 1, values: budget.values };
        assert!(rerun(&program, &base.outcome, base.ledger.as_ref().unwrap(), moved.clone(), &changes, short).is_none());
        let exact = crate::eval::Budget { operations: total, values: budget.values };
        assert!(rerun(&program, &base.outcome, base.ledger.as_ref().unwrap(), moved, &changes, exact).is_some());
    }

    /// A change that reaches one check runs that one alone, on what the others' spends leave
    /// of the budget; its failure is the one a run of every check reports, and when the
    /// others' spends leave too little, only a run of every check can tell.
    #[test]
    fn only_the_checks_a_change_reaches_run_again() {
        let program = crate::Program::compile("c.cov", r#"
            input { as_of: Date  price: Money(USD)  counts: List<Number> }
            check input.price > 0 USD else "the price must be positive"
            check all(c >= 0 for c in input.counts) else "counts cannot be negative"
            let value = input.price * 2
        "#).unwrap();
        let ir = &program.ir;
        let price = InputPath::parse(&program, "input.price").unwrap();
        let changes = Changes::of(ir, &[&price.ir_path()]);
        assert_eq!(changes.checks_reached, vec![true, false]);
        let input = program.bind_text(r#"{"as_of": "2026-03-31", "price": "10", "counts": [1, 2, 3]}"#).unwrap();
        let base = program.run_bound(input.clone(), None).unwrap();
        let spent = super::super::checks::spends(&program, &base.input).unwrap();
        assert_eq!(spent.len(), 2);
        // The list check steps through three counts; the price check is one comparison.
        assert!(spent[1].operations > spent[0].operations, "{spent:?}");
        let up = price.scale(&input, rust_decimal::Decimal::TWO).unwrap();
        assert_eq!(base.rerun_changed(up.clone(), &changes).unwrap().value("value").and_then(Value::num), Some(rust_decimal::Decimal::from(40)));
        assert!(matches!(super::super::checks::run_reached(&program, &up, &changes.checks_reached, &spent), Some(Ok(()))));
        let negative = price.scale(&input, -rust_decimal::Decimal::ONE).unwrap();
        let every_check = super::super::checks::run(&program, &negative, &mut program.limits.budget()).unwrap_err().to_string();
        assert!(every_check.contains("the price must be positive"), "{every_check}");
        assert_eq!(base.rerun_changed(negative.clone(), &changes).unwrap_err().to_string(), every_check);
        let all_taken = vec![Budget { operations: 0, values: 0 }, Budget { operations: program.limits.budget().operations, values: 0 }];
        assert!(super::super::checks::run_reached(&program, &up, &changes.checks_reached, &all_taken).is_none());
    }

    /// A check that reads a `let` is reached through it, and runs on an evaluator with slots
    /// for globals; the one that does not read the shocked input passes as it did.
    #[test]
    fn a_check_reading_a_let_is_reached_through_it() {
        let program = crate::Program::compile("c.cov", r#"
            input { as_of: Date  price: Money(USD)  floor: Money(USD) }
            let value = input.price * 2
            check input.floor >= 0 USD else "the floor cannot be negative"
            check value > input.floor else "the value must clear the floor"
        "#).unwrap();
        let price = InputPath::parse(&program, "input.price").unwrap();
        let changes = Changes::of(&program.ir, &[&price.ir_path()]);
        assert_eq!(changes.checks_reached, vec![false, true]);
        let input = program.bind_text(r#"{"as_of": "2026-03-31", "price": "10", "floor": "15"}"#).unwrap();
        let base = program.run_bound(input.clone(), None).unwrap();
        let half = price.scale(&input, rust_decimal::Decimal::new(5, 1)).unwrap();
        let every_check = super::super::checks::run(&program, &half, &mut program.limits.budget()).unwrap_err().to_string();
        assert!(every_check.contains("the value must clear the floor"), "{every_check}");
        assert_eq!(base.rerun_changed(half, &changes).unwrap_err().to_string(), every_check);
        let double = price.scale(&input, rust_decimal::Decimal::TWO).unwrap();
        assert_eq!(base.rerun_changed(double, &changes).unwrap().value("value").and_then(Value::num), Some(rust_decimal::Decimal::from(40)));
    }
}
