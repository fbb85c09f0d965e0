//! The binary: exit codes, stdout/stderr split, and batch's one-line-out-per-line-in promise.

use std::process::Command;

fn covenant(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_covenant")).args(args).output().expect("the binary runs")
}

const PROGRAM: &str = "input { as_of: Date  debt: Money(USD)  ebitda: Money(USD) }
let leverage = input.debt / input.ebitda
covenant max_lev \"Maximum leverage\" { require leverage <= 4.00x }
scenario stress { input.ebitda *= 50% }
";

fn temp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("covenant-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn run_exit_codes() {
    let program = temp("p.cov", PROGRAM);
    let data = temp("d.json", r#"{"as_of": "2026-03-31", "debt": "300", "ebitda": "100"}"#);
    let ok = covenant(&["run", &program, "--data", &data, "--format", "json"]);
    assert_eq!(ok.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(report["covenants"]["max_lev"]["status"], "pass");
    assert_eq!(report["covenants"]["max_lev"]["headroom"], "0.25");
    let breach = covenant(&["run", &program, "--data", &data, "--scenario", "stress", "--fail-on-breach"]);
    assert_eq!(breach.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&breach.stdout).contains("BREACH"));
    let bad = temp("bad.json", r#"{"as_of": "2026-03-31", "debt": "n/a", "ebitda": "100"}"#);
    let invalid = covenant(&["run", &program, "--data", &bad]);
    assert_eq!(invalid.status.code(), Some(2));
    assert!(invalid.stdout.is_empty(), "no partial report on invalid data");
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("input.debt"));
    let unknown = covenant(&["run", &program, "--data", &data, "--scenario", "stres"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("did you mean `stress`"));
}

#[test]
fn all_scenarios_gives_base_then_each_scenario() {
    let program = temp("p2.cov", PROGRAM);
    let data = temp("d2.json", r#"{"as_of": "2026-03-31", "debt": "300", "ebitda": "100"}"#);
    let out = covenant(&["run", &program, "--data", &data, "--format", "json", "--all-scenarios"]);
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports[0]["scenario"], serde_json::Value::Null);
    assert_eq!(reports[1]["scenario"], "stress");
    assert_eq!(reports[1]["values"]["leverage"], "6");
}

#[test]
fn batch_gives_one_line_per_input_line_whatever_fails() {
    let program = temp("p3.cov", &format!("{PROGRAM}let ratio = 1 / (amount(input.ebitda) - 100)\n"));
    let lines = [
        r#"{"as_of": "2026-03-31", "debt": "300", "ebitda": "200"}"#,
        "{ not json",
        r#"{"as_of": "2026-03-31", "debt": "300"}"#,
        r#"{"as_of": "2026-03-31", "debt": {"amount": "300", "currency": "EUR"}, "ebitda": "100"}"#,
        r#"{"as_of": "2026-03-31", "debt": "300", "ebitda": "100"}"#,
        "",
        r#"{"as_of": "2026-02-30", "debt": "300", "ebitda": "100"}"#,
    ];
    let data = temp("f.jsonl", &(lines.join("\n") + "\n"));
    let out = covenant(&["batch", &program, "--data", &data]);
    assert_eq!(out.status.code(), Some(0));
    let got: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(got.len(), lines.len());
    assert_eq!(got[0]["covenants"]["max_lev"]["status"], "pass");
    assert_eq!(got[1]["error"]["code"], "covenant::data::json");
    assert_eq!(got[2]["error"]["code"], "covenant::data::missing");
    assert_eq!(got[3]["error"]["code"], "covenant::data::currency");
    // A rule error is a report with an error entry, not a failed line.
    assert_eq!(got[4]["values"]["ratio"], serde_json::Value::Null);
    assert_eq!(got[4]["errors"][0]["name"], "ratio");
    assert_eq!(got[5]["line"], 6);
    assert_eq!(got[6]["error"]["code"], "covenant::data::type_mismatch");
}

#[test]
fn batch_output_is_the_same_on_any_number_of_threads() {
    let program = temp("p4.cov", PROGRAM);
    let mut lines = Vec::new();
    for i in 0..10_000 {
        lines.push(if i % 7 == 3 { "{ bad".to_string() } else { format!(r#"{{"as_of": "2026-03-31", "debt": "{i}", "ebitda": "100"}}"#) });
    }
    let data = temp("many.jsonl", &(lines.join("\n") + "\n"));
    let base = covenant(&["batch", &program, "--data", &data, "--scenario", "stress"]);
    assert_eq!(base.status.code(), Some(0));
    assert!(base.stderr.is_empty(), "no progress display when stderr is not a terminal");
    assert_eq!(String::from_utf8_lossy(&base.stdout).lines().count(), lines.len());
    for threads in ["1", "3"] {
        let out = covenant(&["batch", &program, "--data", &data, "--scenario", "stress", "--threads", threads]);
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout == base.stdout, "--threads {threads} changes nothing but speed");
    }
    let zero = covenant(&["batch", &program, "--data", &data, "--threads", "0"]);
    assert_eq!(zero.status.code(), Some(2));
}

#[test]
fn check_reports_every_error_with_exit_2() {
    let program = temp("bad.cov", "input { as_of: Date  a: Money(USD)  b: Money(EUR) }\nlet x = input.a + input.b\nlet y = colateral\n");
    let out = covenant(&["check", &program]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("colateral"), "{err}");
}

#[test]
fn the_analysis_commands_run_on_the_shipped_examples() {
    let out = covenant(&["breakeven", "examples/miner_facility.cov", "--data", "examples/data/miner_facility.json", "--input", "input.btc.price", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // 70,656,000 / 1,133.025 = 62,360.4951...: the last called price to the cent.
    assert_eq!(json["rules"]["ltv_call"]["flips_at"]["amount"], "62360.49");
    let out = covenant(&["sweep", "examples/miner_facility.cov", "--data", "examples/data/miner_facility.json", "--vary", "btc.price=60000..70000:10000", "--show", "ltv_call.amount", "--format", "csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // At 60,000: eligible 67,981,500 + 29,344,000 = 97,325,500; 115,384,615.38 - 97,325,500
    // = 18,059,115.38, rounded up to 10,000: 18,060,000.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "input.btc.price,min_dscr,ltv_call,ltv_return,enforcement,ltv_call.amount\n60000,pass,called,none,clear,18060000\n70000,pass,none,none,clear,0\n");
    let out = covenant(&["project", "examples/gpu_abl.cov", "--data", "examples/data/gpu_abl.json", "--path", "examples/paths/gpu_rent_deflation.csv", "--format", "html"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("first breach: 2026-12-31 (min_dscr)"));
    let out = covenant(&["breakeven", "examples/miner_facility.cov", "--data", "examples/data/miner_facility.json", "--input", "btc.prise"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `price`"));
}
