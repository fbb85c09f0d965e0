//! The optimisation pass changes no figure: every example and conformance program, on its
//! data, in the base case and under every scenario, reports the same JSON optimised and as
//! written.

use std::path::{Path, PathBuf};

use covenant::Program;

fn reports(program: &Program, data: &str) -> Vec<String> {
    let mut out = vec![program.report_json(&program.evaluate(data, None).unwrap()).unwrap()];
    let scenarios: Vec<String> = program.scenario_names().map(String::from).collect();
    for s in &scenarios {
        out.push(program.report_json(&program.evaluate(data, Some(s)).unwrap()).unwrap());
    }
    out
}

/// Compares one program on one data file; true when the pass rewrote anything.
fn compare(program_path: &Path, data_path: &Path) -> bool {
    let optimised = Program::compile_file(program_path).unwrap_or_else(|e| panic!("{}: {e:?}", program_path.display()));
    let rewrote = !optimised.ir().fast.is_empty();
    let plain = Program::compile_file(program_path).unwrap().unoptimised();
    assert!(plain.ir().fast.is_empty());
    let data = std::fs::read_to_string(data_path).unwrap();
    let (a, b) = (reports(&optimised, &data), reports(&plain, &data));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "{} on {}", program_path.display(), data_path.display());
    }
    rewrote
}

#[test]
fn every_example_reports_the_same_optimised_and_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let programs: Vec<PathBuf> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "cov")).collect();
    let mut compared = Vec::new();
    let mut rewritten = 0;
    for entry in std::fs::read_dir(root.join("data")).unwrap() {
        let data = entry.unwrap().path();
        let stem = data.file_stem().unwrap().to_string_lossy().to_string();
        // The program is the one whose name the data file's name starts with (`sponsor_loan_q1`).
        let Some(program) = programs.iter().filter(|p| stem.starts_with(&*p.file_stem().unwrap().to_string_lossy())).max_by_key(|p| p.as_os_str().len()) else { continue };
        if compare(program, &data) {
            rewritten += 1;
        }
        compared.push(stem);
    }
    assert!(compared.len() >= 10, "compared only {compared:?}");
    assert!(rewritten >= 1, "the pass rewrote {rewritten} of {compared:?}");
}

#[test]
fn every_conformance_program_reports_the_same_optimised_and_as_written() {
    let root = Path::new("/work/shared/conformance");
    if !root.exists() {
        return;
    }
    let mut compared = 0;
    for entry in std::fs::read_dir(root).unwrap() {
        let dir = entry.unwrap().path();
        let (program, data) = (dir.join("program.cov"), dir.join("data.json"));
        if !program.exists() || !data.exists() || Program::compile_file(&program).is_err() {
            continue;
        }
        compare(&program, &data);
        compared += 1;
    }
    assert!(compared >= 8, "compared {compared}");
}

const POOL: &str = r#"
input {
  as_of: Date
  gpus: List<{ count: Number, purchase_date: Date, unit_cost: Money(USD) }>
}
schedule advance_rate(age: Number) -> Number { < 12 => 70%  < 24 => 50%  else => 0% }
fn age(d: Date) -> Number = months_between(d, as_of)
collateral gpus for g in input.gpus {
  quantity g.count
  price    g.unit_cost * (1 + 2 * 0.5) / 2
  haircut  1 - advance_rate(age(g.purchase_date)) + age(g.purchase_date) / 1000
}
let total = gpus.eligible_value
"#;

const DATA: &str = r#"{"as_of": "2026-03-31", "gpus": [
  {"count": 10, "purchase_date": "2025-09-15", "unit_cost": "30000"},
  {"count": 4, "purchase_date": "2024-11-15", "unit_cost": "25000.50"},
  {"count": 3, "purchase_date": "2023-01-15", "unit_cost": "1"}]}"#;

/// The age is computed once per position and the literal arithmetic once per program: the
/// optimised evaluation spends fewer operations, to the same figures. (The doubling functions
/// of tests/limits.rs are still refused: calls repeated inside a function are not shared.)
#[test]
fn a_repeated_call_and_literal_arithmetic_cost_less_and_give_the_same_figures() {
    let optimised = Program::compile("pool.cov", POOL).unwrap();
    let plain = Program::compile("pool.cov", POOL).unwrap().unoptimised();
    assert!(!optimised.ir().fast.is_empty());
    let (a, b) = (optimised.evaluate(DATA, None).unwrap(), plain.evaluate(DATA, None).unwrap());
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    // Ages 6, 16 and 38 months: 300,000 × (1 − 0.30 + 0.006) + 100,002 × (1 − 0.50 + 0.016) + 0
    // (the third haircut, 1.038, is clamped to 100%).
    let eligible: rust_decimal::Decimal = a.collateral["gpus"].eligible_value.as_ref().unwrap().amount.parse().unwrap();
    assert_eq!(eligible, rust_decimal::Decimal::new(256_600_968, 3));
    // Both fit a budget the plain program needs exactly; the optimised one fits in less.
    let spent = |p: &Program, ops: u64| {
        let limited = Program::compile_with("pool.cov", POOL, p.limits().with_max_operations(ops), &covenant::resolve::FsLoader::new()).unwrap();
        let limited = if p.ir().fast.is_empty() { limited.unoptimised() } else { limited };
        limited.evaluate(DATA, None).is_ok()
    };
    let least = |p: &Program| {
        let (mut lo, mut hi) = (1u64, 100_000u64);
        assert!(spent(p, hi) && !spent(p, lo));
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if spent(p, mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    };
    let (fast, slow) = (least(&optimised), least(&plain));
    assert!(fast < slow, "optimised {fast} operations, as written {slow}");
}

const SCHEDULES: &str = r#"
input { as_of: Date  x: Number  d: Date }
schedule step(k: Number) -> Number { < -5 => -1.5  == 0 => 2  <= 12 => 70%  != 20 => 0.5  else => -0.25 }
schedule by_date(k: Date) -> Number { < 2025-01-01 => 1  >= 2026-03-31 => 3  else => 2 }
schedule curve(k: Number) -> Number interpolate { -10 => -1  0 => 100%  12 => 65%  24.5 => 40%  48 => -10% }
schedule disorder(k: Number) -> Number interpolate { 0 => 1  10 => 2  5 => 3 }
let s = step(input.x)
let by_date = by_date(input.d)
let c = curve(input.x)
let twice = curve(input.x / 3) + step(input.x * 2)
let broken = disorder(input.x)
"#;

/// Schedules written in literals are read from tables built at compile time: the figures,
/// and the failure of a schedule whose points do not increase (left to the evaluator), are
/// those of the rows read on every call, at keys before, on, between and past the points.
#[test]
fn schedules_read_from_tables_give_the_figures_of_their_rows() {
    let optimised = Program::compile("schedules.cov", SCHEDULES).unwrap();
    let plain = Program::compile("schedules.cov", SCHEDULES).unwrap().unoptimised();
    assert!(!optimised.ir().fast.is_empty());
    let tables = (0..optimised.ir().fns.len() as u32).filter(|f| optimised.ir().fast.table(*f).is_some()).count();
    assert_eq!(tables, 3, "the schedule whose points do not increase has no table");
    let mut compared = 0;
    for x in ["-20", "-10", "-9", "-7", "-5", "-0", "0", "0.0", "5", "12", "12.00", "13", "20", "24.5", "30", "47", "48", "100", "0.000000001"] {
        for d in ["2024-12-31", "2025-01-01", "2026-03-31"] {
            let data = format!(r#"{{"as_of": "2026-03-31", "x": "{x}", "d": "{d}"}}"#);
            let (a, b) = (optimised.evaluate(&data, None).unwrap(), plain.evaluate(&data, None).unwrap());
            assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap(), "x = {x}, d = {d}");
            assert_eq!(a.errors.len(), 1, "x = {x}: only `broken` fails");
            compared += 1;
        }
    }
    assert_eq!(compared, 57);
    let at = |x: &str| optimised.evaluate(&format!(r#"{{"as_of": "2026-03-31", "x": "{x}", "d": "2025-06-01"}}"#), None).unwrap();
    // 18 months: 65% + (40% − 65%) × (6 ÷ 12.5); on a point, its value as written.
    assert_eq!(at("18").values["c"], "0.53");
    assert_eq!(at("12").values["c"], "0.65");
    assert_eq!(at("-7").values["s"], "-1.5");
    assert_eq!(at("20").values["s"], "-0.25");
}

const CALLS: &str = r#"
input { as_of: Date  x: Number  zero: Number  d: Date }
fn ratio(a: Number, b: Number) -> Number = a / b
fn months(d: Date) -> Number = months_between(d, as_of)
fn swapped(a: Number, b: Number) -> Number = b - a
fn twice_plus(a: Number) -> Number = a * 2 + a
let body_fails = ratio(input.x, input.zero)
let first_fails = ratio(1 / input.zero, input.x * 79_228_162_514_264_337_593_543_950_335 * 10)
let second_fails = ratio(input.x, 1 / input.zero)
let m = months(input.d)
let s = swapped(input.x, 3)
let t = twice_plus(input.x)
let sum = ratio(input.x, 4) + months(input.d) + months(input.as_of)
"#;

/// Calls of a function whose body is one operation on its parameters, in order, are
/// evaluated as that operation on the arguments: the same figures, the same failures at the
/// same places (an argument's before the body's), in fewer operations.
#[test]
fn calls_evaluated_in_place_give_the_figures_and_failures_of_the_calls() {
    let optimised = Program::compile("calls.cov", CALLS).unwrap();
    let plain = Program::compile("calls.cov", CALLS).unwrap().unoptimised();
    let mut compared = 0;
    for (x, zero, d) in [("8", "0", "2025-01-31"), ("8", "2", "2026-06-30"), ("-1.5", "0", "2026-03-31")] {
        let data = format!(r#"{{"as_of": "2026-03-31", "x": "{x}", "zero": "{zero}", "d": "{d}"}}"#);
        let (a, b) = (optimised.evaluate(&data, None).unwrap(), plain.evaluate(&data, None).unwrap());
        assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap(), "{data}");
        compared += 1;
    }
    assert_eq!(compared, 3);
    let report = optimised.evaluate(r#"{"as_of": "2026-03-31", "x": "8", "zero": "0", "d": "2025-01-31"}"#, None).unwrap();
    assert_eq!((report.values["m"].as_str(), report.values["s"].as_str(), report.values["t"].as_str(), report.values["sum"].as_str()), (Some("14"), Some("-5"), Some("24"), Some("16")));
    let failed: Vec<(&str, usize, usize)> = report.errors.iter().map(|e| (e.name.as_str(), e.line, e.column)).collect();
    // The body's division fails in the body; the arguments' divisions where they are written.
    assert_eq!(failed, [("body_fails", 3, 44), ("first_fails", 8, 25), ("second_fails", 9, 35)]);
    let fits = |p: &Program, ops: u64| {
        let limited = Program::compile_with("calls.cov", CALLS, p.limits().with_max_operations(ops), &covenant::resolve::FsLoader::new()).unwrap();
        let limited = if p.ir().fast.is_empty() { limited.unoptimised() } else { limited };
        limited.evaluate(r#"{"as_of": "2026-03-31", "x": "8", "zero": "2", "d": "2025-01-31"}"#, None).is_ok()
    };
    let least = |p: &Program| (1..10_000u64).find(|ops| fits(p, *ops)).unwrap();
    let (fast, slow) = (least(&optimised), least(&plain));
    assert!(fast < slow, "optimised {fast} operations, as written {slow}");
}
