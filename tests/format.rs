//! `covenant fmt`: the formatter's invariants over every program in the repository and the
//! shared conformance cases (after roc's `check_invariants`): formatting is idempotent, keeps
//! the syntax tree (spans aside, literals as written included), and keeps every comment in
//! order. Snapshots show the canonical layout of a few programs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use covenant::format::format_source;
use covenant::span::FileId;
use miette::NamedSource;
use serde_json::Value;

fn cov_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            cov_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "cov") {
            out.push(path);
        }
    }
}

/// The repository's own programs: examples, the standard library, test data.
fn repository_programs() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["examples", "stdlib", "tests/data"] {
        cov_files(Path::new(dir), &mut files);
    }
    files.sort();
    files
}

/// The syntax tree as JSON with every span removed, literals as written kept.
fn tree(text: &str) -> Option<Value> {
    let src = NamedSource::new("x.cov", Arc::<str>::from(text));
    let module = covenant::syntax::parse(text, FileId(0), &src, 256).ok()?;
    let mut json = serde_json::to_value(&module).expect("a syntax tree serialises");
    strip_spans(&mut json);
    Some(json)
}

fn strip_spans(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let is_span = map.len() == 3 && ["file", "start", "end"].iter().all(|k| map.contains_key(*k));
            if is_span {
                *v = Value::Null;
                return;
            }
            map.remove("span");
            map.values_mut().for_each(strip_spans);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_spans),
        _ => {}
    }
}

/// Every comment's text (after `#`, trailing blanks dropped), in order; strings skipped.
fn comments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                while let Some((_, d)) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' | '\n' => break,
                        _ => {}
                    }
                }
            }
            '#' => {
                let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                out.push(text[i..end].trim_end().to_string());
                while chars.peek().is_some_and(|(j, _)| *j < end) {
                    chars.next();
                }
            }
            _ => {}
        }
    }
    out
}

/// Formats `text` and checks the invariants; gives the formatted text.
fn check_invariants(name: &str, text: &str) -> String {
    let once = format_source(name, text).unwrap_or_else(|e| panic!("{name} does not format: {e:?}"));
    let twice = format_source(name, &once).unwrap_or_else(|e| panic!("{name} formatted does not parse again: {e:?}\n{once}"));
    assert_eq!(once, twice, "{name}: formatting is not idempotent");
    assert_eq!(tree(text), tree(&once), "{name}: formatting changed the syntax tree\n{once}");
    assert_eq!(comments(text), comments(&once), "{name}: formatting lost, changed or moved a comment");
    once
}

#[test]
fn formatting_every_repository_program_keeps_its_meaning_and_is_idempotent() {
    let files = repository_programs();
    assert!(files.len() >= 11, "examples and stdlib found: {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        check_invariants(&file.display().to_string(), &text);
    }
}

#[test]
fn the_repository_programs_are_formatted() {
    for file in repository_programs() {
        let text = std::fs::read_to_string(&file).expect("readable");
        let formatted = format_source(&file.display().to_string(), &text).expect("formats");
        assert!(formatted == text, "{} is not formatted: run `covenant fmt {}`", file.display(), file.display());
    }
}

#[test]
fn formatting_every_conformance_program_keeps_its_meaning_and_is_idempotent() {
    let mut files = Vec::new();
    cov_files(Path::new("../shared/conformance"), &mut files);
    cov_files(Path::new("/work/shared/conformance"), &mut files);
    // The two paths may be one directory.
    let mut files: Vec<PathBuf> = files.into_iter().filter_map(|f| f.canonicalize().ok()).collect();
    files.sort();
    files.dedup();
    let mut formatted = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        // The compile-error cases include programs that do not parse: they are refused alike.
        if tree(&text).is_none() {
            assert!(format_source("bad.cov", &text).is_err(), "{} does not parse but formats", file.display());
            continue;
        }
        check_invariants(&file.display().to_string(), &text);
        formatted += 1;
    }
    // The cases are optional (they live outside the repository); when present, most parse.
    if formatted > 0 {
        assert!(formatted >= 10, "only {formatted} conformance programs formatted");
    }
}

/// Every construct, written untidily: wrong indentation, extra and missing spaces, clauses
/// on one line, blank lines in runs, comments of both kinds everywhere.
const UNTIDY: &str = r#"# A header comment.


import   std.lending
facility    "Untidy - test"   # trailing on an item

input {
    as_of : Date
  loan: { outstanding: Money(USD), rate: Number }   # inline record kept inline
  fleet: List<Unit>?
  meta: {
     name: Text,      # a field comment
     tags: List<Text>
  }?
}
type Unit = {count: Number, cost: Money(USD)}
let  big=10_000_000 USD
let a   =  50%   as   number
let m = 1.25x
let span = 3 quarters
let when_due = 2026-03-31 + ( 2 ) business days
let neg = - 5 + -(big / 1 USD) * 2
let pick = if big>0 USD then [ 1,2 ,3 ][0] else max( 1 , 2 )
let total = sum(u.count for u in input.fleet ?? [] if u.count > 0)
fn f( x : Number , y : Number )->Number=
      x*y     # why
        + 1
check big >= 0 USD
     else "never negative"
calendar{holidays []}
schedule rate(age: Number) -> Number {
    < 12 => 75%
  else=>0%
}
collateral pool "Pool" { quantity 1 price big haircut (10%)
# own-line inside a block

  liquidation discount 5% }
covenant c "C" { tested quarterly require ( a ) <= 60%  cure equity into input.loan.outstanding { history [] limit 2 in 4 quarters  no consecutive } }
margin_call mc { trigger m > 1 amount big rounding up 10 USD due 2 business days }
liquidation l { trigger false debt big sell pool }
default d { event e "E" when a > 1 and
  m < 2 }
scenario s "S" { input.loan.rate *= 110% input.fleet[*].count = 0 }
scenario empty {}
test "t" { data "d.json" scenario s expect a == 0.5 }
# The end.
"#;

#[test]
fn an_untidy_program_takes_the_canonical_layout() {
    insta::assert_snapshot!(check_invariants("untidy.cov", UNTIDY));
}

/// Comments in every position: before and after braces, inside argument lists and clauses,
/// before a closing brace, after the last item.
const COMMENTED: &str = r#"# lead
input { as_of: Date   # trailing after first field
  x: Number }  # after input
calendar { # inside calendar
  holidays [] }
let a = 1 # one
# between
let b = f(1, # in args
  2)
fn f(p: Number, # param comment
     q: Number) -> Number = p + q
covenant c { # after brace
  require a <= 2 # req
  # before tested
  tested quarterly # tq
  cure equity into input.x { # cure open
    limit 2 total # lim
  } # cure close
  # before close
} # after close
schedule s(k: Number) -> Number {
  # first
  < 1 => 1 # row
  else => 2
}
test "t" {
  expect a == 1
  expect b ==
    3 # end
}
"#;

#[test]
fn comments_stay_where_they_were_written() {
    insta::assert_snapshot!(check_invariants("commented.cov", COMMENTED));
}

#[test]
fn a_standard_library_module_in_canonical_layout() {
    let text = std::fs::read_to_string("stdlib/crypto.cov").expect("readable");
    insta::assert_snapshot!(check_invariants("crypto.cov", &text));
}

#[test]
fn literals_stay_as_written() {
    let text = "let a = 50%\nlet b = 1.25x\nlet c = 3 quarters\nlet d = 10_000_000\nlet e = 250_000.50 USD\nlet f = 2026-03-31\nlet g = 0.50\n";
    assert_eq!(check_invariants("literals.cov", text), text);
}

#[test]
fn a_program_that_does_not_parse_is_refused() {
    let e = format_source("bad.cov", "let x = (1 +\n").expect_err("unclosed bracket");
    assert_eq!(e.diagnostics.len(), 1);
}

#[test]
fn fmt_check_exits_1_with_a_diff_and_fmt_rewrites_the_file() {
    let dir = std::env::temp_dir().join(format!("covenant-fmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("p.cov");
    std::fs::write(&file, "let  x=1\nlet y = 2\n").expect("write");
    let bin = env!("CARGO_BIN_EXE_covenant");
    let check = std::process::Command::new(bin).args(["fmt", "--check"]).arg(&file).output().expect("runs");
    assert_eq!(check.status.code(), Some(1));
    let diff = String::from_utf8_lossy(&check.stdout);
    assert!(diff.contains("@@ -1,2 +1,2 @@\n-let  x=1\n+let x = 1\n let y = 2\n"), "{diff}");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "let  x=1\nlet y = 2\n", "--check changes nothing");
    let write = std::process::Command::new(bin).arg("fmt").arg(&file).output().expect("runs");
    assert_eq!(write.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "let x = 1\nlet y = 2\n");
    let again = std::process::Command::new(bin).args(["fmt", "--check"]).arg(&file).output().expect("runs");
    assert_eq!(again.status.code(), Some(0));
    assert!(again.stdout.is_empty());
    let bad = dir.join("bad.cov");
    std::fs::write(&bad, "let x = \n").expect("write");
    let refused = std::process::Command::new(bin).arg("fmt").arg(&bad).output().expect("runs");
    assert_eq!(refused.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_untidy_simulation_takes_the_canonical_layout() {
    let untidy = "input { as_of: Date  price: Money(USD) }\nsimulation   s   \"S\"{\nfactor   btc   normal( mean : -5% , sd:45%)   # one year\n    correlation btc,rent=0.6\n  factor rent uniform(low: -10%, high: 10%)\ninput.price   *=   1+btc\n}\n";
    let tidy = check_invariants("untidy_simulation.cov", untidy);
    assert_eq!(
        tidy,
        "input {\n  as_of: Date\n  price: Money(USD)\n}\n\nsimulation s \"S\" {\n  factor btc normal(mean: -5%, sd: 45%)  # one year\n  correlation btc, rent = 0.6\n  factor rent uniform(low: -10%, high: 10%)\n  input.price *= 1 + btc\n}\n"
    );
}
