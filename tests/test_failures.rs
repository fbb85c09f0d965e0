//! What a failing `expect` says (the value each side had, or each part of an `and`, `or`,
//! `not`), and `covenant test --format json`.

use std::path::PathBuf;
use std::process::Command;

use covenant::Program;

/// A directory of its own for each test, holding `files`.
fn dir_with(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("covenant-test-failures-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

/// debt 195,600,000 against collateral 244,500,000: ltv = 195.6 / 244.5 = 0.8, and the call
/// asks for half the debt, 97,800,000.
const PROGRAM: &str = r#"
input { as_of: Date  debt: Money(USD)  pledged: Money(USD)  name: Text  secured: Bool }
let ltv = input.debt / input.pledged
margin_call ltv_call "LTV call" {
  trigger ltv > 70%
  amount input.debt * 0.5
  due 2 business days
}

test "every kind of expectation fails" {
  data "facility.json"
  expect ltv_call.amount == 97_700_000 USD
  expect ltv <= 75%
  expect 0.9 < ltv
  expect input.debt >= input.pledged
  expect input.name == "Borealis"
  expect input.as_of == 2026-06-30
  expect ltv_call.triggered == false
  expect input.secured and ltv < 1
  expect input.secured or ltv > 0.9 or ltv < 0.5
  expect not (ltv < 1)
  expect (ltv + 0) * 2 > 2
  expect input.secured
  expect ltv_call.amount + 0.004 USD == ltv_call.amount
}

test "every expectation holds" {
  data "facility.json"
  expect ltv_call.amount == 97_800_000 USD
  expect ltv == 80%
}
"#;

const DATA: &str = r#"{"as_of": "2026-03-31", "debt": "195600000", "pledged": "244500000", "name": "Atlas", "secured": false}"#;

#[test]
fn a_failed_expect_shows_the_values_it_compared() {
    let dir = dir_with("values", &[("facility.cov", PROGRAM), ("facility.json", DATA)]);
    let program = Program::compile_file(&dir.join("facility.cov")).unwrap();
    let outcomes = program.run_tests(&dir);
    assert_eq!(outcomes.len(), 2);
    let expected = [
        // 195,600,000 × 0.5 = 97,800,000: money as the table shows it.
        "expected `ltv_call.amount` == 97,700,000.00 USD, got 97,800,000.00 USD",
        "expected `ltv` <= 0.75, got 0.8",
        // A literal on the left: the other side is the one that was got.
        "expected 0.9 < `ltv`, got 0.8",
        "expected `input.debt >= input.pledged`: `input.debt` was 195,600,000.00 USD, `input.pledged` was 244,500,000.00 USD",
        r#"expected `input.name` == "Borealis", got "Atlas""#,
        "expected `input.as_of` == 2026-06-30, got 2026-03-31",
        "expected `ltv_call.triggered` == false, got true",
        "expected `input.secured and ltv < 1`: `input.secured` was false, `ltv < 1` was true (`ltv` was 0.8)",
        // A chain of one operator is shown part by part.
        "expected `input.secured or ltv > 0.9 or ltv < 0.5`: `input.secured` was false, `ltv > 0.9` was false (`ltv` was 0.8), `ltv < 0.5` was false (`ltv` was 0.8)",
        "expected `not (ltv < 1)`: `(ltv < 1)` was true (`ltv` was 0.8)",
        // The brackets are part of the text quoted: 0.8 × 2 = 1.6.
        "expected `(ltv + 0) * 2` > 2, got 1.6",
        "expected `input.secured`, which was false",
        // Every digit a figure has: 97,800,000.004 would not read as 97,800,000.00.
        "expected `ltv_call.amount + 0.004 USD == ltv_call.amount`: `ltv_call.amount + 0.004 USD` was 97,800,000.004 USD, `ltv_call.amount` was 97,800,000.00 USD",
    ];
    assert_eq!(outcomes[0].failures, expected);
    assert!(outcomes[1].failures.is_empty(), "{:?}", outcomes[1].failures);
}

#[test]
fn an_expect_that_cannot_be_evaluated_says_so() {
    let program = "input { as_of: Date  n: Number }\nlet ratio = 1 / input.n\n\
                   test \"division\" {\n  data \"d.json\"\n  expect ratio > 1\n}\n";
    let dir = dir_with("unevaluable", &[("p.cov", program), ("d.json", r#"{"as_of": "2026-03-31", "n": 0}"#)]);
    let outcomes = Program::compile_file(&dir.join("p.cov")).unwrap().run_tests(&dir);
    assert_eq!(outcomes[0].failures, ["`ratio > 1` could not be evaluated (a value it reads failed)"]);
}

fn covenant(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_covenant")).args(args).output().expect("the binary runs")
}

#[test]
fn test_format_json_is_one_document_for_ci() {
    let passing = "input { as_of: Date }\ntest \"as of\" {\n  data \"d.json\"\n  expect input.as_of == 2026-03-31\n}\n";
    let dir = dir_with(
        "json",
        &[("facility.cov", PROGRAM), ("facility.json", DATA), ("passing.cov", passing), ("d.json", r#"{"as_of": "2026-03-31"}"#), ("broken.cov", "input { as_of: Date }\nlet x = nope\n")],
    );
    let path = |f: &str| dir.join(f).display().to_string();
    let out = covenant(&["test", &path("passing.cov"), &path("facility.cov"), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "a failed test exits 1, as in the text form");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["passed"], 2);
    assert_eq!(doc["failed"], 1);
    assert_eq!(
        doc["tests"][0],
        serde_json::json!({"file": path("passing.cov"), "line": 2, "title": "as of", "passed": true, "failures": []})
    );
    let failing = &doc["tests"][1];
    assert_eq!((failing["file"].as_str(), &failing["line"], &failing["title"], &failing["passed"]), (Some(path("facility.cov").as_str()), &serde_json::json!(10), &serde_json::json!("every kind of expectation fails"), &serde_json::json!(false)));
    assert_eq!(failing["failures"][0], "expected `ltv_call.amount` == 97,700,000.00 USD, got 97,800,000.00 USD");
    assert_eq!(failing["failures"].as_array().map(Vec::len), Some(13));
    assert_eq!(doc["tests"][2]["passed"], true);
    assert_eq!(doc["tests"].as_array().map(Vec::len), Some(3));

    let ok = covenant(&["test", &path("passing.cov"), "--format", "json"]);
    assert_eq!(ok.status.code(), Some(0));
    let broken = covenant(&["test", &path("broken.cov"), &path("passing.cov"), "--format", "json"]);
    assert_eq!(broken.status.code(), Some(2), "a file that does not compile exits 2, as in the text form");
    let doc: serde_json::Value = serde_json::from_slice(&broken.stdout).unwrap();
    assert_eq!((doc["passed"].as_u64(), doc["failed"].as_u64()), (Some(1), Some(0)));
    assert!(String::from_utf8_lossy(&broken.stderr).contains("nope"));
}

#[test]
fn the_text_form_prints_the_values_escaped() {
    let program = "input { as_of: Date  name: Text }\ntest \"name\" {\n  data \"d.json\"\n  expect input.name == \"Atlas\"\n}\n";
    let dir = dir_with("text", &[("p.cov", program), ("d.json", r#"{"as_of": "2026-03-31", "name": "Atlas\nok  forged"}"#)]);
    let out = covenant(&["test", &dir.join("p.cov").display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[1], r#"     expected `input.name` == "Atlas", got "Atlas\nok  forged""#);
    assert_eq!(lines[2], "0 passed, 1 failed");
}
