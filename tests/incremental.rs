//! Re-evaluating only what a change reaches gives what evaluating from scratch gives, to the
//! byte: on every example and its data, under random shocks to numeric and date inputs (list
//! elements through `[*]` and `as_of` included), chained, and under every script scenario;
//! failures included, and at the edge of the operation budget.

use std::sync::OnceLock;

use covenant::analysis::InputPath;
use covenant::ir::PathStep;
use covenant::types::Type;
use covenant::value::Value;
use covenant::{EvalError, Evaluation, Limits, Program};
use proptest::prelude::*;
use proptest::sample::Index;
use rust_decimal::Decimal;

struct Example {
    name: String,
    program: Program,
    data: Vec<(String, Value)>,
    /// Input paths of the numeric and date leaves, list elements through `[*]`.
    leaves: Vec<String>,
}

fn examples() -> &'static [Example] {
    static EXAMPLES: OnceLock<Vec<Example>> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let mut files: Vec<_> = std::fs::read_dir("examples").unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "cov")).collect();
        files.sort();
        let mut out = Vec::new();
        for file in files {
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap().to_string();
            let program = Program::compile_file(&file).unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
            let mut data_files: Vec<_> = std::fs::read_dir("examples/data").unwrap().flatten().map(|e| e.path()).filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&stem))).collect();
            data_files.sort();
            let data: Vec<(String, Value)> = data_files.iter().map(|d| (d.display().to_string(), program.bind_text(&std::fs::read_to_string(d).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", d.display())))).collect();
            if data.is_empty() {
                continue;
            }
            let mut leaves = Vec::new();
            let Type::Record(input) = Type::Record(program.ir().input.clone()) else { unreachable!() };
            collect_leaves(&input.fields, "input", &mut leaves);
            out.push(Example { name: stem, program, data, leaves });
        }
        assert!(out.len() >= 6, "only {} examples with data", out.len());
        out
    })
}

fn collect_leaves(fields: &[(std::sync::Arc<str>, Type)], prefix: &str, out: &mut Vec<String>) {
    for (name, ty) in fields {
        let path = format!("{prefix}.{name}");
        leaf(ty, path, out);
    }
}

fn leaf(ty: &Type, path: String, out: &mut Vec<String>) {
    match ty {
        Type::Number | Type::Money(_) | Type::Date => out.push(path),
        Type::Optional(inner) => leaf(inner, path, out),
        Type::Record(r) => collect_leaves(&r.fields, &path, out),
        Type::List(inner) => match &**inner {
            Type::Record(r) => collect_leaves(&r.fields, &format!("{path}[*]"), out),
            // A holiday list, moved whole.
            Type::Date => out.push(path),
            _ => {}
        },
        _ => {}
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    /// × basis points / 10,000.
    Scale(i64),
    Add(i64),
    Zero,
    /// Dates move by days; numbers ignore it.
    Days(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (3_000i64..17_000).prop_map(Op::Scale),
        2 => (-100_000i64..100_000).prop_map(Op::Add),
        1 => Just(Op::Zero),
        2 => (-40i64..40).prop_map(Op::Days),
    ]
}

fn changed(v: &Value, op: Op) -> Option<Value> {
    match (v, op) {
        (Value::Num(x), Op::Scale(bp)) => x.checked_mul(Decimal::new(bp, 4)).map(Value::Num),
        (Value::Num(x), Op::Add(n)) => x.checked_add(Decimal::from(n)).map(Value::Num),
        (Value::Num(_), Op::Zero) => Some(Value::Num(Decimal::ZERO)),
        (Value::Num(x), Op::Days(n)) => x.checked_add(Decimal::new(n, 1)).map(Value::Num),
        (Value::Date(d), Op::Days(n) | Op::Add(n)) => d.add_days(n % 400).map(Value::Date),
        (Value::Date(d), _) => d.add_days(1).map(Value::Date),
        (Value::List(items), op) => items.iter().map(|v| changed(v, op)).collect::<Option<Vec<_>>>().map(|v| Value::List(v.into())),
        (other, _) => Some(other.clone()),
    }
}

/// The data shocked at the leaves chosen, and the paths changed.
fn shock(example: &Example, input: &Value, shocks: &[(Index, Op)]) -> (Value, Vec<Vec<PathStep>>) {
    let mut shocked = input.clone();
    let mut paths = Vec::new();
    for (at, op) in shocks {
        let text = at.get(&example.leaves);
        // A path through an optional record is not one an analysis can move.
        let Ok(path) = InputPath::parse_any(&example.program, text) else { continue };
        if let Ok(next) = path.map(&shocked, &mut |v| changed(v, *op)) {
            shocked = next;
            paths.push(path.ir_path());
        }
    }
    (shocked, paths)
}

/// Everything an evaluation shows: its report as JSON and its errors, or its error.
fn shown(r: &Result<Evaluation<'_>, EvalError>) -> String {
    match r {
        Ok(e) => {
            let report = e.report().map(|r| serde_json::to_string(&r).unwrap()).unwrap_or_else(|err| format!("report refused: {err}"));
            format!("ok {:?} {report} {:?}", e.scenario(), e.errors())
        }
        Err(e) => format!("error {e}"),
    }
}

fn assert_same(scratch: &Result<Evaluation<'_>, EvalError>, incremental: &Result<Evaluation<'_>, EvalError>, what: &str) {
    let (a, b) = (shown(scratch), shown(incremental));
    assert!(a == b, "{what}\nfrom scratch: {a}\nincremental:  {b}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random shocks, then a second round on top of the first rerun: each rerun is the run
    /// from scratch of the same data.
    #[test]
    fn a_rerun_is_a_run_from_scratch(example in any::<Index>(), data in any::<Index>(), first in prop::collection::vec((any::<Index>(), op()), 1..4), second in prop::collection::vec((any::<Index>(), op()), 1..3)) {
        let example = example.get(examples());
        let (file, input) = data.get(&example.data);
        let program = &example.program;
        let base = program.run_bound(input.clone(), None).unwrap();
        let (shocked, paths) = shock(example, input, &first);
        let scratch = program.run_changed(shocked.clone(), None);
        let rerun = base.rerun_with(shocked.clone(), &paths);
        assert_same(&scratch, &rerun, &format!("{} with {file}, shocked at {paths:?} by {first:?}", example.name));
        if let Ok(rerun) = rerun {
            let (again, more) = shock(example, &shocked, &second);
            let scratch = program.run_changed(again.clone(), None);
            let chained = rerun.rerun_with(again, &more);
            assert_same(&scratch, &chained, &format!("{} with {file}, then shocked at {more:?} by {second:?}", example.name));
        }
    }
}

/// Every scenario of every example, on every data file: the same as running it from scratch.
#[test]
fn every_script_scenario_incrementally_is_the_scenario_from_scratch() {
    let mut compared = 0;
    for example in examples() {
        let program = &example.program;
        for (file, input) in &example.data {
            let base = program.run_bound(input.clone(), None).unwrap();
            for name in program.scenario_names() {
                let scratch = program.run_bound(input.clone(), Some(name));
                let incremental = program.run_scenario_incremental(&base, name);
                assert_same(&scratch, &incremental, &format!("{} with {file} under {name}", example.name));
                compared += 1;
            }
        }
    }
    assert!(compared >= 25, "only {compared} scenarios compared");
}

/// Around the least operation budget a scenario needs, from scratch and incrementally agree
/// on whether it fits, and on the figures when it does.
#[test]
fn at_the_edge_of_the_operation_budget_a_scenario_fails_or_succeeds_as_from_scratch() {
    let source = std::fs::read_to_string("examples/miner_facility.cov").unwrap();
    let data = std::fs::read_to_string("examples/data/miner_facility.json").unwrap();
    let compile = |operations: u64| Program::compile_with("examples/miner_facility.cov", &source, Limits { max_operations: operations, ..Limits::default() }, &covenant::resolve::FsLoader::new()).unwrap();
    let ample = compile(Limits::default().max_operations);
    let input = ample.bind_text(&data).unwrap();
    let mut edges = 0;
    for name in ample.scenario_names() {
        // The least budget the scenario fits in, from scratch.
        let fits = |ops: u64| compile(ops).run_bound(input.clone(), Some(name)).is_ok();
        let (mut lo, mut hi) = (1u64, Limits::default().max_operations);
        assert!(fits(hi) && !fits(lo));
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        for ops in [hi - 2, hi - 1, hi, hi + 1] {
            let program = compile(ops);
            let Ok(base) = program.run_bound(input.clone(), None) else { continue };
            let scratch = program.run_bound(input.clone(), Some(name));
            assert_eq!(scratch.is_ok(), ops >= hi);
            let incremental = program.run_scenario_incremental(&base, name);
            assert_same(&scratch, &incremental, &format!("{name} with {ops} operations"));
            edges += 1;
        }
    }
    assert!(edges >= 8, "only {edges} budgets compared");
}
