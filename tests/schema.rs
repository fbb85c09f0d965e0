//! `Program::input_schema` and `covenant schema`: the JSON Schema of the facility data agrees
//! with the binder, on the shipped data, on the conformance cases of bad data, and on
//! hand-written documents at the edges of what the binder reads.

use std::path::{Path, PathBuf};

use covenant::Program;
use miette::Diagnostic;
use serde_json::Value as Json;

fn validator(program: &Program) -> jsonschema::Validator {
    // Formats asserted, as the schema's dates rely on `format: date` for days that exist.
    jsonschema::options().should_validate_formats(true).build(&program.input_schema()).expect("the schema is a valid draft 2020-12 schema")
}

fn parsed(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The program each data file belongs to: `sponsor_loan_q3.json` goes with `sponsor_loan.cov`.
fn program_for(data: &Path) -> PathBuf {
    let stem = data.file_stem().and_then(|s| s.to_str()).unwrap();
    let base = match stem.rsplit_once("_q") {
        Some((base, quarter)) if quarter.chars().all(|c| c.is_ascii_digit()) => base,
        _ => stem,
    };
    Path::new("examples").join(format!("{base}.cov"))
}

#[test]
fn every_shipped_data_file_fits_its_programs_schema() {
    let mut data: Vec<PathBuf> = std::fs::read_dir("examples/data").unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    data.sort();
    assert!(data.len() >= 10, "{data:?}");
    for file in data {
        let program = Program::compile_file(&program_for(&file)).unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
        let text = std::fs::read_to_string(&file).unwrap();
        let errors: Vec<String> = validator(&program).iter_errors(&parsed(&text)).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
        assert!(program.bind_text(&text).is_ok(), "{}", file.display());
    }
}

/// Each data file of the bad-data case is sorted by the binder's own verdict: refused for its
/// shape (a type, a missing field, a currency, a date that does not exist), which the schema
/// must refuse too; refused by a `check`, or accepted, which the schema must accept, since a
/// schema cannot express a check. A file that is not JSON is no instance to validate.
#[test]
fn the_schema_refuses_the_bad_data_the_binder_refuses_for_its_shape() {
    let dir = Path::new("../shared/conformance/11_bad_data");
    if !dir.is_dir() {
        eprintln!("skipped: {} is not here", dir.display());
        return;
    }
    let program = Program::compile_file(&dir.join("program.cov")).unwrap();
    let validator = validator(&program);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("case.json")).collect();
    files.sort();
    let (mut refused_for_shape, mut left_to_the_binder) = (Vec::new(), Vec::new());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let Ok(json) = serde_json::from_str::<Json>(&text) else { continue };
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let code = program.bind_text(&text).err().map(|e| e.code().unwrap().to_string());
        match code.as_deref() {
            None | Some("covenant::data::check") => {
                assert!(validator.is_valid(&json), "{name}: the schema refuses data the binder takes, or that only a check refuses");
                left_to_the_binder.push(name);
            }
            Some(_) => {
                assert!(!validator.is_valid(&json), "{name}: the binder refuses it ({code:?}), the schema does not");
                refused_for_shape.push(name);
            }
        }
    }
    assert_eq!(refused_for_shape, ["bad_date.json", "missing.json", "text_amount.json", "wrong_currency.json"]);
    assert_eq!(left_to_the_binder, ["good.json", "negative.json"]);
}

/// Every type the schema can hold, named and anonymous records, optionals at each place.
const EVERY_TYPE: &str = r#"
input {
  as_of: Date
  rate: Number
  debt: Money(USD)
  open: Bool
  name: Text
  fee: Money(EUR)?
  lots: List<Lot>
  marks: List<Number?>
  bank: { cash: Money(USD), note: Text? }
  backup: Lot?
}
type Lot = { size: Number, when: Date? }
"#;

/// A document with one field replaced: `rate` set to `value`, say.
fn with(field: &str, value: Json) -> Json {
    let mut doc = parsed(
        r#"{"as_of": "2026-03-31", "rate": "0.05", "debt": 100, "open": true, "name": "Atlas",
            "lots": [{"size": 1}], "marks": [], "bank": {"cash": "5"}}"#,
    );
    match value {
        Json::Null if field.starts_with('-') => {
            doc.as_object_mut().unwrap().remove(&field[1..]);
        }
        v => {
            doc[field] = v;
        }
    }
    doc
}

/// The schema and the binder give the same verdict on documents at the edges of each type:
/// number texts, money objects, dates, optionals absent and null, lists, extra keys. Numbers
/// stay inside the decimal range, which the schema does not express.
#[test]
fn the_schemas_verdict_is_the_binders_verdict() {
    let program = Program::compile("every_type.cov", EVERY_TYPE).unwrap();
    let validator = validator(&program);
    let number_texts = [
        "0.035", "5", "-5", "+5", " +5 ", "\t7\n", "\u{a0}7\u{3000}", "\u{85}7", "\u{feff}7", "5.", ".5", "-.5", "+.5", ".", "-", "+", "",
        "1e3", "1E3", "1.5e-2", "+.5E1", "1e+3", "1e+-3", "1e++3", "1e", "e3", ".e3", "1e3.5", "1.2.3", "--1", "+-1", "1-", "1,000", "1_000",
        "0x10", "n/a", "١٢", "00012", "-0", "1 000", "5e0 ",
    ];
    let mut cases: Vec<(String, Json)> = number_texts.iter().map(|t| (format!("rate = {t:?}"), with("rate", Json::String(t.to_string())))).collect();
    let more = [
        ("rate", r#"12"#),
        ("rate", r#"-1.5e2"#),
        ("rate", r#"null"#),
        ("rate", r#"true"#),
        ("rate", r#"[1]"#),
        ("debt", r#"{"amount": "100", "currency": "USD"}"#),
        ("debt", r#"{"amount": 100, "currency": "USD", "note": "extra keys are ignored"}"#),
        ("debt", r#"{"amount": "100", "currency": "EUR"}"#),
        ("debt", r#"{"amount": "100"}"#),
        ("debt", r#"{"currency": "USD"}"#),
        ("debt", r#"{"amount": null, "currency": "USD"}"#),
        ("debt", r#"{"amount": "n/a", "currency": "USD"}"#),
        ("debt", r#"{"amount": 1, "currency": "usd"}"#),
        ("debt", r#""1,000""#),
        ("fee", r#"{"amount": 1, "currency": "EUR"}"#),
        ("fee", r#"{"amount": 1, "currency": "USD"}"#),
        ("fee", r#"null"#),
        ("fee", r#"" 2.5 ""#),
        ("as_of", r#""2026-02-28""#),
        ("as_of", r#""2024-02-29""#),
        ("as_of", r#""2026-02-29""#),
        ("as_of", r#""2026-02-30""#),
        ("as_of", r#""2026-13-01""#),
        ("as_of", r#""0000-01-01""#),
        ("as_of", r#""0001-01-01""#),
        ("as_of", r#""9999-12-31""#),
        ("as_of", r#""2026-+3-31""#),
        ("as_of", r#""2026-3-31""#),
        ("as_of", r#""2026-03-31T00:00:00Z""#),
        ("as_of", r#"" 2026-03-31""#),
        ("as_of", r#""２０２６-03-31""#),
        ("as_of", r#"20260331"#),
        ("open", r#"false"#),
        ("open", r#""true""#),
        ("open", r#"1"#),
        ("name", r#""""#),
        ("name", r#"5"#),
        ("lots", r#"[]"#),
        ("lots", r#"[{"size": 1, "when": null}, {"size": "2", "when": "2026-01-01", "x": [1]}]"#),
        ("lots", r#"[{"when": "2026-01-01"}]"#),
        ("lots", r#"[null]"#),
        ("lots", r#"{"size": 1}"#),
        ("marks", r#"[1, null, "2"]"#),
        ("marks", r#"[1, "x"]"#),
        ("bank", r#"{"cash": 1, "note": null}"#),
        ("bank", r#"{"cash": 1, "note": 7}"#),
        ("bank", r#"{}"#),
        ("bank", r#"null"#),
        ("backup", r#"{"size": 3}"#),
        ("backup", r#"null"#),
        ("backup", r#"{"when": "2026-01-01"}"#),
        ("unknown", r#"{"anything": [1, 2]}"#),
    ];
    cases.extend(more.iter().map(|(field, value)| (format!("{field} = {value}"), with(field, parsed(value)))));
    for field in ["as_of", "rate", "debt", "open", "name", "fee", "lots", "marks", "bank", "backup"] {
        cases.push((format!("{field} absent"), with(&format!("-{field}"), Json::Null)));
    }
    cases.push(("a list, not an object".into(), parsed("[1]")));
    let (mut accepted, mut refused) = (0, 0);
    for (what, doc) in &cases {
        let binder = program.bind_text(&doc.to_string());
        assert_eq!(validator.is_valid(doc), binder.is_ok(), "{what}: the binder says {:?}", binder.as_ref().err().map(ToString::to_string));
        if binder.is_ok() {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    // Both verdicts are well represented: neither side passes by saying yes (or no) to all.
    assert!(accepted >= 30 && refused >= 40, "{accepted} accepted, {refused} refused");
}

#[test]
fn the_gpu_abl_schema() {
    let program = Program::compile_file(Path::new("examples/gpu_abl.cov")).unwrap();
    insta::assert_snapshot!(serde_json::to_string_pretty(&program.input_schema()).unwrap());
}

#[test]
fn covenant_schema_prints_the_programs_schema() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_covenant")).args(["schema", "examples/sponsor_loan.cov"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Json = serde_json::from_slice(&out.stdout).unwrap();
    let program = Program::compile_file(Path::new("examples/sponsor_loan.cov")).unwrap();
    assert_eq!(printed, program.input_schema());
    assert_eq!(printed["required"], serde_json::json!(["as_of", "loans", "cash", "ttm", "fy_growth_capex", "cures"]));

    let dir = std::env::temp_dir().join(format!("covenant-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.cov");
    std::fs::write(&bad, "input { as_of: Date  wait: Duration }\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_covenant")).arg("schema").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Duration"), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).ok();
}
