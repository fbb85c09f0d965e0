//! `explain`: every figure of every example report is explained, the explanation's root
//! holds the report's value, and its leaves are data, literals or figures shown above.

use std::path::{Path, PathBuf};

use covenant::explain::Explanation;
use covenant::Program;
use serde_json::Value as Json;

/// Each shipped example with the data files written for it (`data/NAME*.json`).
fn examples_with_data() -> Vec<(PathBuf, Vec<PathBuf>)> {
    let mut out = Vec::new();
    let mut programs: Vec<PathBuf> = std::fs::read_dir("examples").into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "cov")).collect();
    programs.sort();
    for program in programs {
        let stem = program.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let mut data: Vec<PathBuf> = std::fs::read_dir("examples/data")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&stem) && n.ends_with(".json")))
            .collect();
        data.sort();
        if !data.is_empty() {
            out.push((program, data));
        }
    }
    out
}

/// The report's value for a figure name, read from the JSON report.
fn reported(report: &Json, name: &str) -> Json {
    if let Some(v) = report["values"].get(name) {
        return v.clone();
    }
    let (rule, field) = name.split_once('.').map_or((name, None), |(r, f)| (r, Some(f)));
    for (section, headline) in [("collateral", "eligible_value"), ("covenants", "status"), ("margin_calls", "status"), ("liquidations", "proceeds"), ("defaults", "status")] {
        let Some(r) = report[section].get(rule) else { continue };
        return match (section, field) {
            (_, None) => r[headline].clone(),
            ("covenants", Some("cure_amount")) => r.pointer("/cure/amount").cloned().unwrap_or(Json::Null),
            ("defaults", Some("triggered")) => Json::Bool(r["status"] == "triggered"),
            (_, Some(f)) => r[f].clone(),
        };
    }
    panic!("`{name}` is not in the report");
}

fn leaves(n: &Explanation) -> Vec<&Explanation> {
    n.walk().into_iter().filter(|x| x.children.is_empty()).collect()
}

#[test]
fn every_figure_of_every_example_is_explained_down_to_its_data() {
    let mut explained = 0;
    for (file, data_files) in examples_with_data() {
        let program = Program::compile_file(&file).unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
        for data_file in data_files {
            let data = std::fs::read_to_string(&data_file).unwrap_or_default();
            let scenarios = std::iter::once(None).chain(program.scenario_names().map(Some)).collect::<Vec<_>>();
            for scenario in scenarios {
                let Ok(evaluation) = program.run(&data, scenario) else { continue };
                let report = serde_json::to_value(evaluation.report().unwrap_or_else(|e| panic!("{e}"))).unwrap_or_default();
                for name in evaluation.figure_names() {
                    let why = evaluation.explain(&name).unwrap_or_else(|| panic!("{}: no explanation of `{name}`", file.display()));
                    let at = format!("{} with {} ({scenario:?}): `{name}`", file.display(), data_file.display());
                    assert_eq!(why.value, reported(&report, &name), "{at}: the root is not the report's value");
                    for leaf in leaves(&why) {
                        assert!(
                            matches!(leaf.kind, "input" | "literal" | "step") || leaf.shown_above,
                            "{at}: a leaf that is neither data, a literal, a lending step nor shown above: {leaf:?}"
                        );
                    }
                    explained += 1;
                }
            }
        }
    }
    assert!(explained > 500, "only {explained} figures explained");
}

fn explain_case(case: &str, name: &str) -> (String, String) {
    let dir = Path::new("../shared/conformance").join(case);
    let bin = env!("CARGO_BIN_EXE_covenant");
    let run = |format: &str| {
        let out = std::process::Command::new(bin)
            .current_dir(&dir)
            .args(["explain", "program.cov", "--data", "data.json", name, "--format", format])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    (run("tree"), run("json"))
}

#[test]
fn the_margin_call_is_explained_from_the_bitcoin_price_to_the_rounding() {
    if !Path::new("../shared/conformance/04_margin_call").exists() {
        return;
    }
    let (tree, json) = explain_case("04_margin_call", "ltv_call.amount");
    assert!(tree.contains("input.btc.price  →  60,000.00 USD"), "{tree}");
    assert!(tree.contains("rounded up to a multiple of the increment: 10,160,000.00 USD"), "{tree}");
    insta::assert_snapshot!("margin_call_tree", tree);
    insta::assert_snapshot!("margin_call_json", json);
}

#[test]
fn the_liquidation_is_explained_sale_by_sale() {
    if !Path::new("../shared/conformance/07_liquidation").exists() {
        return;
    }
    let (tree, json) = explain_case("07_liquidation", "enforcement");
    // The units per pool as the run report gives them (2,000 BTC; 5,867 GPUs, 4,133 held back).
    assert!(tree.contains("units sold  →  2,000") && tree.contains("units sold  →  5,867"), "{tree}");
    assert!(tree.contains("4,133 units held back"), "{tree}");
    assert!(tree.contains("input.btc.price  →  80,000.00 USD"), "{tree}");
    insta::assert_snapshot!("liquidation_tree", tree);
    insta::assert_snapshot!("liquidation_json", json);
}

#[test]
fn a_shocked_input_says_what_it_was_before_the_scenario() {
    let src = "input { as_of: Date  price: Money(USD) }\nlet value = input.price * 10\nscenario crash { input.price *= 50% }\n";
    let program = Program::compile("t.cov", src).unwrap_or_else(|e| panic!("{e:?}"));
    let evaluation = program.run(r#"{"as_of": "2026-03-31", "price": "80000"}"#, Some("crash")).unwrap_or_else(|e| panic!("{e}"));
    let why = evaluation.explain("value").unwrap_or_else(|| panic!("explained"));
    let price = why.walk().into_iter().find(|n| n.name.as_deref() == Some("input.price")).cloned().unwrap_or_else(|| panic!("{why:?}"));
    assert_eq!(price.value["amount"], "40000");
    assert_eq!(price.note.as_deref(), Some("shocked by scenario `crash`; 80000 before the shock"));
}

#[test]
fn an_unknown_figure_is_refused_with_a_suggestion() {
    let dir = std::env::temp_dir().join(format!("covenant-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("p.cov"), "input { as_of: Date  debt: Number }\nlet leverage = input.debt / 2\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("d.json"), r#"{"as_of": "2026-03-31", "debt": 4}"#).unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_covenant"))
        .current_dir(&dir)
        .args(["explain", "p.cov", "--data", "d.json", "leverag"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no figure `leverag`") && err.contains("did you mean `leverage`?"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_schedule_says_which_row_or_segment_gave_its_value() {
    // Age 14 months: the step schedule's first row `< 12` fails, `< 24 => 50%` matches; the
    // curve lies between its points 12 => 65% and 24 => 40%: 65% − 25% × 2/12 = 0.6083….
    let src = r#"
input { as_of: Date  age: Number }
schedule advance_rate(age: Number) -> Number {
  < 12 => 70%
  < 24 => 50%
  else => 0%
}
schedule residual(age: Number) -> Number interpolate {
  0  => 100%
  12 => 65%
  24 => 40%
}
let rate = advance_rate(input.age)
let value = residual(input.age)
"#;
    let program = Program::compile("t.cov", src).unwrap_or_else(|e| panic!("{e:?}"));
    let evaluation = program.run(r#"{"as_of": "2026-03-31", "age": 14}"#, None).unwrap_or_else(|e| panic!("{e}"));
    let note = |name: &str| evaluation.explain(name).and_then(|w| w.note).unwrap_or_default();
    assert_eq!(note("rate"), "row `< 24 => 50%` of `advance_rate`");
    assert_eq!(note("value"), "interpolated between the points `12 => 65%` and `24 => 40%` of `residual`");
}
