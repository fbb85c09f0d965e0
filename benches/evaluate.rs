//! Compile and evaluation speed, with the same rules written by hand in Rust as the floor.
//! Run: `cargo bench --bench evaluate`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rust_decimal::Decimal;

use covenant::Program;

mod peers;
mod reference;

use peers::Verdict;
use reference::{covenant_typed_verdict, facility_with, native, native_facility, PROGRAM};

/// The as_of of the timed facilities.
const AS_OF: &str = "2026-03-31";

/// Dates the engines must also agree on before anything is timed: every weekday and a
/// weekend for the business-day count, month ends and days before the 15th for the whole
/// months, and as_of dates before some purchases for negative ages.
const CHECKED_AS_OF: [&str; 12] = [
    "2026-03-31",
    "2026-04-01",
    "2026-04-02",
    "2026-04-03",
    "2026-04-04",
    "2026-04-05",
    "2026-04-06",
    "2026-04-10",
    "2026-02-28",
    "2024-02-29",
    "2023-06-01",
    "2022-12-31",
];

fn facility(positions: usize) -> String {
    facility_with(positions, AS_OF, positions as u64 * 1_000_000, 50_000_000)
}

/// Covenant's verdict, read from its report the way a caller would read it.
fn covenant_verdict(report: &covenant::report::Report) -> Verdict {
    assert!(report.errors.is_empty(), "the program reported errors: {:?}", report.errors);
    let decimal = |text: &str| text.parse::<Decimal>().unwrap_or_else(|_| panic!("not a decimal: {text}"));
    let pool = &report.collateral["gpus"];
    let call = &report.margin_calls["ltv_call"];
    let ltv = match &report.values["ltv"] {
        serde_json::Value::String(text) => decimal(text),
        other => panic!("ltv is not a number: {other}"),
    };
    Verdict {
        eligible: decimal(&pool.eligible_value.as_ref().expect("an eligible value").amount),
        ltv,
        dscr_ok: report.covenants["min_dscr"].status == "pass",
        ltv_ok: report.covenants["max_ltv"].status == "pass",
        call: decimal(&call.amount.as_ref().expect("a call amount").amount),
        due: covenant::dates::Date::parse(call.due.as_deref().expect("a due date")).expect("a due date"),
    }
}

/// Every engine's verdict on one facility; panics, with all of them, unless they agree.
fn assert_engines_agree(program: &Program, rhai: &peers::rhai_rules::RhaiRules, zen: &peers::zen_rules::ZenRules, data: &str) -> Verdict {
    let json: serde_json::Value = serde_json::from_str(data).unwrap();
    let mut vm = zen_expression::vm::VM::new();
    let reference = covenant_verdict(&program.evaluate(data, None).unwrap());
    let others = [
        ("covenant_bound", covenant_verdict(&program.evaluate_bound(program.bind(&json).unwrap(), None).unwrap())),
        ("covenant_typed", covenant_typed_verdict(&program.run_bound(program.bind(&json).unwrap(), None).unwrap())),
        ("covenant_typed_from_text", covenant_typed_verdict(&program.run(data, None).unwrap())),
        ("native_rust", native::evaluate(&native_facility(&json))),
        ("rhai_prepared", peers::rhai_rules::verdict(&rhai.evaluate_bound(&mut rhai.bind(&json)))),
        ("rhai_from_text", peers::rhai_rules::verdict(&rhai.evaluate_text(data))),
        ("zen_prepared", peers::zen_rules::verdict(&zen.evaluate_bound(&zen.bind(&json), &mut vm))),
        ("zen_from_text", peers::zen_rules::verdict(&zen.evaluate_text(data, &mut vm))),
    ];
    let disagreeing: Vec<String> = others.iter().filter(|(_, v)| !v.agrees_with(&reference)).map(|(name, v)| format!("  {name}: {v}")).collect();
    assert!(disagreeing.is_empty(), "engines disagree with Covenant on {data:.120}…\n  covenant: {reference}\n{}", disagreeing.join("\n"));
    reference
}

fn bench_compile(c: &mut Criterion) {
    c.bench_function("compile/reference", |b| b.iter(|| Program::compile("bench.cov", black_box(PROGRAM)).unwrap()));
    let mut big = String::from("input { as_of: Date  x: Number }\nlet v0 = input.x\n");
    for i in 1..10_000 {
        big.push_str(&format!("let v{i} = v{} * 1.0001 + {i}\n", i - 1));
    }
    c.bench_function("compile/10000_lines", |b| b.iter(|| Program::compile("big.cov", black_box(&big)).unwrap()));
}

fn bench_evaluate(c: &mut Criterion) {
    let program = Program::compile("bench.cov", PROGRAM).unwrap();
    let rhai = peers::rhai_rules::RhaiRules::new();
    let zen = peers::zen_rules::ZenRules::new();
    for as_of in CHECKED_AS_OF {
        assert_engines_agree(&program, &rhai, &zen, &facility_with(50, as_of, 50_000_000, 50_000_000));
    }
    // The timed facilities never pass the DSCR covenant nor fall below the minimum transfer.
    // Three positions have 1,346,737.50 eligible: 76% LTV triggers a call of about 228,000,
    // which is below the 250,000 minimum.
    let below_minimum = assert_engines_agree(&program, &rhai, &zen, &facility_with(3, AS_OF, 1_023_520, 60_000_000));
    assert!(below_minimum.dscr_ok && below_minimum.ltv > Decimal::new(75, 2) && below_minimum.call.is_zero(), "not the case meant: {below_minimum}");
    let mut group = c.benchmark_group("evaluate");
    for positions in [5usize, 50, 1000] {
        let data = facility(positions);
        assert_engines_agree(&program, &rhai, &zen, &data);
        let json: serde_json::Value = serde_json::from_str(&data).unwrap();
        group.throughput(Throughput::Elements(1));

        let bound = program.bind(&json).unwrap();
        group.bench_with_input(BenchmarkId::new("covenant_from_text", positions), &data, |b, d| b.iter(|| program.evaluate(black_box(d), None).unwrap()));
        group.bench_with_input(BenchmarkId::new("covenant_bound", positions), &bound, |b, d| {
            b.iter(|| program.evaluate_bound(black_box(d.clone()), None).unwrap())
        });

        group.bench_with_input(BenchmarkId::new("covenant_typed", positions), &bound, |b, d| {
            b.iter(|| covenant_typed_verdict(&program.run_bound(black_box(d.clone()), None).unwrap()))
        });
        // Explanation on: the evaluation, then one figure explained (a recording run of its own).
        group.bench_with_input(BenchmarkId::new("covenant_typed_explained", positions), &bound, |b, d| {
            b.iter(|| program.run_bound(black_box(d.clone()), None).unwrap().explain("ltv_call.amount").unwrap())
        });
        group.bench_with_input(BenchmarkId::new("covenant_typed_from_text", positions), &data, |b, d| {
            b.iter(|| covenant_typed_verdict(&program.run(black_box(d), None).unwrap()))
        });

        let native_input = native_facility(&json);
        group.bench_with_input(BenchmarkId::new("native_rust", positions), &native_input, |b, f| b.iter(|| native::evaluate(black_box(f))));

        let mut rhai_scope = rhai.bind(&json);
        group.bench_function(BenchmarkId::new("rhai_prepared", positions), |b| b.iter(|| rhai.evaluate_bound(black_box(&mut rhai_scope))));
        group.bench_with_input(BenchmarkId::new("rhai_from_text", positions), &data, |b, d| b.iter(|| rhai.evaluate_text(black_box(d))));

        let zen_context = zen.bind(&json);
        let mut vm = zen_expression::vm::VM::new();
        group.bench_with_input(BenchmarkId::new("zen_prepared", positions), &zen_context, |b, context| {
            b.iter(|| zen.evaluate_bound(black_box(context), &mut vm))
        });
        group.bench_with_input(BenchmarkId::new("zen_from_text", positions), &data, |b, d| b.iter(|| zen.evaluate_text(black_box(d), &mut vm)));
    }
    group.finish();
}

/// `covenant::batch` over JSON Lines held in memory (reports written to a sink), on one
/// thread and on two.
fn bench_batch(c: &mut Criterion) {
    const FACILITIES: usize = 2_000;
    let program = Program::compile("bench.cov", PROGRAM).unwrap();
    let one = facility(5);
    let lines: String = (0..FACILITIES).map(|_| format!("{one}\n")).collect();
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Elements(FACILITIES as u64));
    group.sample_size(20);
    for threads in [1usize, 2] {
        let options = covenant::batch::Options { threads: Some(threads), ..Default::default() };
        group.bench_with_input(BenchmarkId::new("threads", threads), &lines, |b, text| {
            b.iter(|| {
                let summary = covenant::batch::run(&program, black_box(text.as_bytes()), std::io::sink(), &options, None).unwrap();
                assert_eq!(summary.ok, FACILITIES);
            })
        });
    }
    group.finish();
}

/// Each of the miner facility's script scenarios, from scratch and incrementally from the
/// base case (only what the scenario's shocks reach is evaluated again).
fn bench_scenarios(c: &mut Criterion) {
    let program = Program::compile_file(std::path::Path::new("examples/miner_facility.cov")).expect("the example compiles");
    let input = program.bind_text(&std::fs::read_to_string("examples/data/miner_facility.json").expect("the example's data")).expect("the data binds");
    let base = program.run_bound(input.clone(), None).expect("the base case evaluates");
    let mut group = c.benchmark_group("scenarios");
    for name in program.scenario_names() {
        group.bench_with_input(BenchmarkId::new("from_scratch", name), &name, |b, name| b.iter(|| black_box(program.run_bound(input.clone(), Some(name)).expect("evaluates"))));
        group.bench_with_input(BenchmarkId::new("incremental", name), &name, |b, name| b.iter(|| black_box(program.run_scenario_incremental(&base, name).expect("evaluates"))));
    }
    group.finish();
}

criterion_group!(benches, bench_compile, bench_evaluate, bench_batch, bench_scenarios);
criterion_main!(benches);
