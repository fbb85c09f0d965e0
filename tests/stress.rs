//! `covenant stress`: the scenarios CSV, the aggregates against per-facility evaluations, the
//! rows written, bad lines, and independence from the thread count.

use std::collections::BTreeMap;
use std::process::Command;

use covenant::analysis::stress::{self, Scenario, ScenarioKind};
use covenant::analysis::statuses;
use covenant::Program;
use rust_decimal::Decimal;

const FILE: &str = "examples/miner_facility.cov";
const BOOK: &str = "examples/stress/portfolio.jsonl";
const SCENARIOS: &str = "examples/stress/miner_scenarios.csv";

fn miner() -> Program {
    Program::compile_file(std::path::Path::new(FILE)).unwrap()
}

fn covenant(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_covenant")).args(args).output().unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn csv_error(program: &Program, text: &str) -> String {
    stress::parse_scenarios(program, text).unwrap_err().to_string()
}

#[test]
fn scenario_csv_mistakes_name_their_line_and_column() {
    let p = miner();
    let cases = [
        "",
        "# only a comment\n",
        "name,input.btc.price *=\nx,50%\n",
        "scenario\nx\n",
        "scenario,input.btc.price\nx,50%\n",
        "scenario,input.btc.prise *=\nx,50%\n",
        "scenario,input.gpus.count *=\nx,50%\n",
        "scenario,input.as_of *=\nx,2026-01-01\n",
        "scenario,input.gpus[*].model =\nx,A100\n",
        "scenario,input.btc.price *=\n",
        "scenario,input.btc.price *=\nx,50%,1\n",
        "scenario,input.btc.price *=\n,50%\n",
        "scenario,input.btc.price *=\nx,50%\n\nx,60%\n",
        "scenario,input.btc.price *=\nx,half\n",
        "scenario,input.btc.price =\nx,50%\n",
        "scenario,input.btc.price =\nx,50000 EUR\n",
        "scenario,input.btc.price *=\nx,50000 USD\n",
        "scenario,input.as_of =\nx,2026-02-30\n",
        "scenario,input.btc.price *=\n\"x,50%\n",
        "scenario,input.btc.price *=\n\"x\" y,50%\n",
    ];
    let all: Vec<String> = cases.iter().map(|c| format!("{c:?}\n  {}", csv_error(&p, c))).collect();
    insta::assert_snapshot!("scenario_csv_errors", all.join("\n"));
}

#[test]
fn scenario_csv_cells_are_read_by_the_input_type() {
    let p = miner();
    let text = "# comment\nscenario, \"input.btc.price *=\" ,input.loan.outstanding =,input.as_of =,input.gpus[*].utilisation -=\n\
                \"crash, hard\",70%,,,\nset,,\"80000000 USD\",2026-06-30,5%\nnone,,,,\n";
    let s = stress::parse_scenarios(&p, text).unwrap();
    assert_eq!(s.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["crash, hard", "set", "none"]);
    assert_eq!(s[0].line, 3);
    let ScenarioKind::Data(crash) = &s[0].kind else { panic!("a data scenario") };
    assert_eq!(crash.len(), 1);
    assert_eq!(crash[0].path.text, "input.btc.price");
    assert_eq!(crash[0].op, stress::ShockOp::Scale);
    assert_eq!(crash[0].value, covenant::value::Value::Num(Decimal::new(7, 1)));
    let ScenarioKind::Data(set) = &s[1].kind else { panic!("a data scenario") };
    assert_eq!(set.len(), 3);
    assert_eq!(set[0].value, covenant::value::Value::Num(Decimal::from(80_000_000)));
    assert_eq!(set[1].value, covenant::value::Value::Date(covenant::dates::Date::parse("2026-06-30").unwrap()));
    assert_eq!(set[2].value, covenant::value::Value::Num(Decimal::new(5, 2)));
    assert_eq!(s[2].kind, ScenarioKind::Data(vec![]));
    // The paths each scenario changes, as the IR writes them: btc is field 2, price field 1.
    assert_eq!(format!("{:?}", s[0].changed_paths(&p)), "[[Field(2), Field(1)]]");
    assert_eq!(format!("{:?}", Scenario::script(&p, "convergence").unwrap().changed_paths(&p)), "[[Field(2), Field(1)], [Field(5), All, Field(4)]]");
}

#[test]
fn the_shipped_scenarios_parse_and_name_fifty() {
    let p = miner();
    let s = stress::parse_scenarios(&p, &std::fs::read_to_string(SCENARIOS).unwrap()).unwrap();
    assert_eq!(s.len(), 50);
    assert!(s.iter().all(|s| matches!(&s.kind, ScenarioKind::Data(shocks) if !shocks.is_empty())));
}

/// Each facility under each scenario, evaluated incrementally from its base case as the stress
/// run evaluates it, reports what evaluating from scratch reports, to the byte: the data
/// scenarios of the shipped CSV (through lists with `[*]` among them) and the script's own.
#[test]
fn incremental_scenarios_report_what_evaluating_from_scratch_reports() {
    let p = miner();
    let mut scenarios = stress::parse_scenarios(&p, &std::fs::read_to_string(SCENARIOS).unwrap()).unwrap();
    scenarios.extend(Scenario::all_scripts(&p));
    let book = std::fs::read_to_string(BOOK).unwrap();
    let (mut compared, mut refused) = (0, 0);
    for line in book.lines().take(60) {
        let Ok(base) = p.run(line, None) else { continue };
        for s in &scenarios {
            let incremental = stress::evaluate_scenario(&p, &base, s).map(|e| serde_json::to_string(&e.report().unwrap()).unwrap()).map_err(|e| e.to_string());
            let scratch = stress::evaluate_scenario_from_scratch(&p, &base, s).map(|e| serde_json::to_string(&e.report().unwrap()).unwrap()).map_err(|e| e.to_string());
            refused += usize::from(scratch.is_err());
            assert_eq!(incremental, scratch, "{} under {line}", s.name);
            compared += 1;
        }
    }
    assert!(compared > 50 * 50, "only {compared} compared");
    eprintln!("{compared} facility-scenarios compared, {refused} refused by both");
}

/// What a stress must count, worked out facility by facility through the reports.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    facilities: u64,
    bad: u64,
    statuses: Vec<BTreeMap<(String, String), u64>>,
    called: Vec<BTreeMap<String, Decimal>>,
    shortfall: Vec<Decimal>,
    errors: Vec<u64>,
}

fn expected(p: &Program, book: &str, scenarios: &[Scenario]) -> Expected {
    let mut e = Expected { statuses: vec![BTreeMap::new(); scenarios.len()], called: vec![BTreeMap::new(); scenarios.len()], shortfall: vec![Decimal::ZERO; scenarios.len()], errors: vec![0; scenarios.len()], ..Default::default() };
    for line in book.lines() {
        let Ok(base) = p.run(line, None) else {
            e.bad += 1;
            continue;
        };
        e.facilities += 1;
        for (i, s) in scenarios.iter().enumerate() {
            let report = match stress::evaluate_scenario_from_scratch(p, &base, s) {
                Ok(ev) => ev.report().unwrap(),
                Err(_) => {
                    e.errors[i] += 1;
                    continue;
                }
            };
            for (rule, status) in statuses(&report) {
                *e.statuses[i].entry((rule, status.to_string())).or_insert(0) += 1;
            }
            for (name, m) in &report.margin_calls {
                if m.status == "called" {
                    *e.called[i].entry(name.clone()).or_insert(Decimal::ZERO) += m.amount.as_ref().unwrap().amount.parse::<Decimal>().unwrap();
                }
            }
            for l in report.liquidations.values().filter(|l| l.triggered == Some(true)) {
                e.shortfall[i] += l.shortfall.as_ref().unwrap().amount.parse::<Decimal>().unwrap();
            }
        }
    }
    e
}

fn counted(s: &stress::Stress) -> Expected {
    let mut e = Expected { facilities: s.facilities, bad: s.bad_lines, ..Default::default() };
    for sc in &s.scenarios {
        let mut st = BTreeMap::new();
        for (rule, counts) in &sc.rules {
            for (status, n) in counts.iter().filter(|(_, n)| **n > 0) {
                st.insert((rule.clone(), status.clone()), *n);
            }
        }
        e.statuses.push(st);
        let called = sc.margin_calls.iter().map(|(n, j)| (n.clone(), j["amount"].as_str().unwrap().parse::<Decimal>().unwrap())).filter(|(_, d)| !d.is_zero()).collect();
        e.called.push(called);
        e.shortfall.push(sc.shortfall.as_ref().unwrap().total["amount"].as_str().unwrap().parse().unwrap());
        e.errors.push(sc.errors);
    }
    e
}

#[test]
fn counts_and_sums_equal_the_facilities_evaluated_one_by_one() {
    let p = miner();
    let mut scenarios = stress::parse_scenarios(&p, &std::fs::read_to_string(SCENARIOS).unwrap()).unwrap();
    scenarios.extend(Scenario::all_scripts(&p));
    let book = std::fs::read_to_string(BOOK).unwrap();
    let s = stress::run(&p, &scenarios, book.as_bytes(), None, &Default::default()).unwrap();
    let want = expected(&p, &book, &scenarios);
    assert_eq!(counted(&s), want);
    assert_eq!((s.facilities, s.bad_lines), (196, 4));
    assert_eq!(s.evaluations, 196 * 54);
    // The book is stressed for real: some scenario breaches, calls and sells at a loss.
    let total = |rule: &str, status: &str| want.statuses.iter().map(|m| m.get(&(rule.to_string(), status.to_string())).copied().unwrap_or(0)).sum::<u64>();
    assert!(total("min_dscr", "breach") > 100, "{}", total("min_dscr", "breach"));
    assert!(total("ltv_call", "called") > 100);
    assert!(total("enforcement", "triggered") > 100);
    assert!(want.shortfall.iter().any(|d| *d > Decimal::ZERO));
    // The CSV's `convergence_50_30` row is the program's `convergence` scenario, shock for shock.
    let row = scenarios.iter().position(|x| x.name == "convergence_50_30").unwrap();
    let script = scenarios.iter().position(|x| x.name == "convergence").unwrap();
    assert_eq!(s.scenarios[row].rules, s.scenarios[script].rules);
    assert_eq!(s.scenarios[row].shortfall, s.scenarios[script].shortfall);
    // Each facility is the worst case of at most one scenario.
    let worst_for: u64 = s.scenarios.iter().map(|x| x.worst_for).sum();
    assert_eq!(worst_for + s.unharmed, s.facilities);
}

#[test]
fn bad_lines_are_counted_by_reason_and_never_stop_the_run() {
    let p = miner();
    let scenarios = vec![Scenario::script(&p, "btc_crash").unwrap()];
    let book = std::fs::read_to_string(BOOK).unwrap();
    let s = stress::run(&p, &scenarios, book.as_bytes(), None, &Default::default()).unwrap();
    assert_eq!(s.bad_lines, 4);
    let reasons: Vec<(&str, u64)> = s.bad_line_reasons.iter().map(|(r, n)| (r.as_str(), *n)).collect();
    insta::assert_debug_snapshot!("bad_line_reasons", (reasons, &s.first_bad_lines));
    // A scenario whose shocked data fails a check counts as an error of that scenario only.
    let csv = "scenario,input.btc.price =\nfree_coins,0\nfine,50000\n";
    let scenarios = stress::parse_scenarios(&p, csv).unwrap();
    let s = stress::run(&p, &scenarios, book.as_bytes(), None, &Default::default()).unwrap();
    assert_eq!((s.scenarios[0].errors, s.scenarios[0].evaluated), (196, 0));
    assert_eq!(s.scenarios[0].error_reasons.len(), 1);
    assert!(s.scenarios[0].error_reasons.keys().next().unwrap().contains("the BTC price must be positive"));
    assert_eq!((s.scenarios[1].errors, s.scenarios[1].evaluated), (0, 196));
}

#[test]
fn chunks_and_threads_do_not_change_the_aggregates() {
    let p = miner();
    let scenarios = stress::parse_scenarios(&p, &std::fs::read_to_string(SCENARIOS).unwrap()).unwrap();
    let book = std::fs::read_to_string(BOOK).unwrap();
    let one = stress::run(&p, &scenarios, book.as_bytes(), None, &stress::Options { chunk_lines: 7, threads: Some(1), ..Default::default() }).unwrap();
    let many = stress::run(&p, &scenarios, book.as_bytes(), None, &stress::Options { threads: Some(3), ..Default::default() }).unwrap();
    assert_eq!(one, many);
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("covenant-stress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// `covenant run --format json` on one line of the book under a program scenario.
fn run_line(line: usize, scenario: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(BOOK).unwrap().lines().nth(line - 1).unwrap().to_string();
    let data = temp(&format!("line{line}.json"));
    std::fs::write(&data, text).unwrap();
    let out = covenant(&["run", FILE, "--data", data.to_str().unwrap(), "--scenario", scenario, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn rows_as_json_lines_and_csv_match_run() {
    let jsonl = temp("rows.jsonl");
    let csv = temp("rows.csv");
    for (out, threads) in [(&jsonl, "1"), (&csv, "2")] {
        let done = covenant(&["stress", FILE, "--data", BOOK, "--all-scenarios", "--show", "eligible_ltv", "ltv_call.amount", "--out", out.to_str().unwrap(), "--threads", threads, "--format", "json"]);
        assert!(done.status.success(), "{}", stderr(&done));
    }
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 200 * 4);
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let csv_lines: Vec<&str> = csv_text.lines().collect();
    assert_eq!(csv_lines.len(), 1 + 200 * 4);
    assert_eq!(csv_lines[0], "line,scenario,min_dscr,ltv_call,ltv_return,enforcement,shortfall,eligible_ltv,ltv_call.amount,worst,error");
    // Lines 1 and 2 under `convergence` (rows 0 and 4 are their `convergence`), as `run` gives them.
    for line in [1usize, 2] {
        let row = &rows[(line - 1) * 4];
        assert_eq!(row["line"], line);
        assert_eq!(row["scenario"], "convergence");
        let report = run_line(line, "convergence");
        assert_eq!(row["statuses"]["min_dscr"], report["covenants"]["min_dscr"]["status"]);
        assert_eq!(row["statuses"]["ltv_call"], report["margin_calls"]["ltv_call"]["status"]);
        assert_eq!(row["statuses"]["enforcement"], if report["liquidations"]["enforcement"]["triggered"] == true { "triggered" } else { "clear" });
        assert_eq!(row["figures"]["eligible_ltv"], report["values"]["eligible_ltv"]);
        assert_eq!(row["figures"]["ltv_call.amount"], report["margin_calls"]["ltv_call"]["amount"]);
        let shortfall = &report["liquidations"]["enforcement"]["shortfall"]["amount"];
        assert_eq!(row["shortfall"], if report["liquidations"]["enforcement"]["triggered"] == true { shortfall.clone() } else { "0".into() });
        let amount = report["margin_calls"]["ltv_call"]["amount"]["amount"].as_str().unwrap();
        assert!(csv_lines[1 + (line - 1) * 4].starts_with(&format!("{line},convergence,{},{},", report["covenants"]["min_dscr"]["status"].as_str().unwrap(), report["margin_calls"]["ltv_call"]["status"].as_str().unwrap())));
        assert!(csv_lines[1 + (line - 1) * 4].contains(&format!(",{amount} USD,")), "{}", csv_lines[1 + (line - 1) * 4]);
    }
    // A bad line gives a row per scenario with its error and no statuses.
    let bad: Vec<&serde_json::Value> = rows.iter().filter(|r| !r["error"].is_null()).collect();
    assert_eq!(bad.len(), 4 * 4);
    assert!(bad.iter().all(|r| r["statuses"].as_object().unwrap().is_empty() && r["shortfall"].is_null()));
    // Each facility has at most one worst row.
    let mut worst = BTreeMap::new();
    for r in rows.iter().filter(|r| r["worst"] == true) {
        *worst.entry(r["line"].as_u64().unwrap()).or_insert(0) += 1;
    }
    assert!(!worst.is_empty() && worst.values().all(|n| *n == 1));
}

#[cfg(feature = "parquet")]
#[test]
fn rows_as_parquet_match_the_csv() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let pq = temp("rows.parquet");
    let csv = temp("rows-for-parquet.csv");
    for out in [&pq, &csv] {
        let done = covenant(&["stress", FILE, "--data", BOOK, "--scenarios", SCENARIOS, "--show", "fwd_dscr", "--out", out.to_str().unwrap()]);
        assert!(done.status.success(), "{}", stderr(&done));
    }
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&pq).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 200 * 50);
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let mut csv_rows = csv_text.lines().skip(1);
    let mut n = 0;
    for batch in reader.build().unwrap() {
        let batch = batch.unwrap();
        // line, scenario, four rules, shortfall, fwd_dscr, worst, error
        assert_eq!(batch.num_columns(), 10);
        for i in 0..batch.num_rows() {
            let cells: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| {
                    let s = arrow_cast_text(c.as_ref(), i);
                    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
                })
                .collect();
            assert_eq!(cells.join(","), csv_rows.next().unwrap(), "row {n}");
            n += 1;
        }
    }
    assert_eq!(n, 200 * 50);
}

#[cfg(feature = "parquet")]
fn arrow_cast_text(array: &dyn arrow_array::Array, i: usize) -> String {
    use arrow_array::cast::AsArray;
    use arrow_array::types::UInt64Type;
    if array.is_null(i) {
        return String::new();
    }
    match array.data_type() {
        arrow_schema::DataType::UInt64 => array.as_primitive::<UInt64Type>().value(i).to_string(),
        arrow_schema::DataType::Boolean => array.as_boolean().value(i).to_string(),
        _ => array.as_string::<i32>().value(i).to_string(),
    }
}

#[test]
fn output_bytes_do_not_depend_on_the_thread_count() {
    let mut seen = Vec::new();
    for threads in ["1", "2", "5"] {
        let out = temp(&format!("threads{threads}.csv"));
        let done = covenant(&["stress", FILE, "--data", BOOK, "--scenarios", SCENARIOS, "--scenario", "convergence_x", "--threads", threads, "--format", "json", "--out", out.to_str().unwrap()]);
        // `convergence_x` is not a scenario of the program: a usage error, nothing written.
        assert_eq!(done.status.code(), Some(2));
        assert!(stderr(&done).contains("did you mean `convergence`"), "{}", stderr(&done));
        let done = covenant(&["stress", FILE, "--data", BOOK, "--scenarios", SCENARIOS, "--scenario", "btc_crash", "--threads", threads, "--format", "json", "--out", out.to_str().unwrap()]);
        assert!(done.status.success(), "{}", stderr(&done));
        seen.push((done.stdout, std::fs::read(&out).unwrap()));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn show_takes_the_names_explain_takes() {
    let out = covenant(&["stress", FILE, "--data", BOOK, "--all-scenarios", "--show", "eligble_ltv"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "error: no figure `eligble_ltv` in the report; did you mean `eligible_ltv`?\n");
    let out = covenant(&["stress", FILE, "--data", BOOK, "--all-scenarios", "--out", "/tmp/x.xlsx"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`.parquet`, `.csv` or `.jsonl`"));
    let out = covenant(&["stress", FILE, "--data", BOOK]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no scenario to run"));
    let out = covenant(&["stress", FILE, "--data", BOOK, "--scenarios", "examples/paths/none.csv"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_table_on_the_small_book() {
    let out = covenant(&["stress", FILE, "--data", BOOK, "--scenarios", SCENARIOS, "--all-scenarios", "--top", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("stress_table", String::from_utf8(out.stdout).unwrap());
}
