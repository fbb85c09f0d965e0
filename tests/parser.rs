//! The parser alone: text → AST, snapshotted as JSON. Spans are stripped from the snapshots
//! (one test keeps them) and one-field wrappers are unwrapped — an `Expr { kind, span }`
//! becomes its kind, an `Ident { name, span }` its name — so each snapshot shows the shape of
//! the tree and nothing else.

use std::sync::Arc;

use covenant::span::FileId;
use covenant::syntax::{ast, SyntaxError};
use serde_json::{json, Map, Value};

fn parse(text: &str) -> Result<ast::Module, SyntaxError> {
    covenant::syntax::parse(text, FileId(0), &miette::NamedSource::new("t.cov", Arc::<str>::from(text)), 128)
}

fn parses(text: &str) -> bool {
    parse(text).is_ok()
}

fn strip(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(strip).collect()),
        Value::Object(fields) => {
            let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
            if keys == ["file", "start", "end"] {
                return Value::Null; // a bare span, as in `PathStep::All`
            }
            let kept: Map<String, Value> = fields.into_iter().filter(|(k, _)| k != "span").map(|(k, v)| (k, strip(v))).collect();
            if kept.len() == 1 {
                if let Some(inner) = kept.get("kind") {
                    return inner.clone();
                }
                if let Some(name @ Value::String(_)) = kept.get("name") {
                    return name.clone();
                }
            }
            Value::Object(kept)
        }
        other => other,
    }
}

/// A stripped tree as insta should print it. serde_json's `arbitrary_precision` (which the
/// crate enables) would otherwise print every integer as `{"$serde_json::private::Number": …}`.
struct Plain<'a>(&'a Value);

impl serde::Serialize for Plain<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => s.serialize_i64(i),
                None => s.serialize_str(&n.to_string()),
            },
            Value::String(t) => s.serialize_str(t),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(&Plain(i))?;
                }
                seq.end()
            }
            Value::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, &Plain(v))?;
                }
                map.end()
            }
        }
    }
}

/// The module's items, without spans.
fn items(text: &str) -> Value {
    let module = parse(text).unwrap_or_else(|e| panic!("{text:?} does not parse: {e}"));
    strip(serde_json::to_value(&module).unwrap())["items"].clone()
}

/// The expression of `let p = EXPR`, without spans.
fn expr(text: &str) -> Value {
    items(&format!("let p = {text}\n"))[0]["Let"]["value"].clone()
}

// ---------------------------------------------------------------------------------------------
// Precedence

#[test]
fn arithmetic_precedence() {
    let e = expr("2 + 3 * 4 - 10 / 4");
    // Left-associative `-` at the top: (2 + 3 * 4) - (10 / 4).
    assert_eq!(e["Binary"][0], "Sub");
    insta::assert_json_snapshot!(Plain(&e));
}

#[test]
fn logical_precedence() {
    let e = expr("not a == b and c or d");
    // `or` is loosest, `not` binds looser than `==`.
    assert_eq!(e["Binary"][0], "Or");
    assert_eq!(e["Binary"][1]["Binary"][1]["Unary"][0], "Not");
    insta::assert_json_snapshot!(Plain(&e));
}

#[test]
fn coalesce_chain() {
    let e = expr("a ?? b ?? c");
    assert_eq!(e["Binary"][0], "Coalesce");
    insta::assert_json_snapshot!(Plain(&e));
}

#[test]
fn coalesce_binds_tighter_than_comparison_and_looser_than_addition() {
    let e = expr("a ?? b + 1 > c");
    assert_eq!(e["Binary"][0], json!({"Cmp": "Gt"}));
    assert_eq!(e["Binary"][1]["Binary"][0], "Coalesce");
    assert_eq!(e["Binary"][1]["Binary"][2]["Binary"][0], "Add");
}

#[test]
fn unary_minus_and_postfix() {
    let e = expr("-input.loan.outstanding[0]");
    insta::assert_json_snapshot!(Plain(&e));
    assert_eq!(e["Unary"][0], "Neg");
}

// ---------------------------------------------------------------------------------------------
// Literals

#[test]
fn literals() {
    let e = expr(
        "[35%, 2.5%, 1.25x, 1_250_000, 250_000 USD, 0.5 EUR, 2026-03-31, 30 days, 1 day, \
         2 business days, 1 business day, 3 months, 1 quarter, 1 year, \"H100\", true, []]",
    );
    insta::assert_json_snapshot!(Plain(&e));
    assert_eq!(e["List"][6], json!({"Date": "2026-03-31"}), "a date literal wins over subtraction");
}

#[test]
fn spans_point_into_the_text() {
    let text = "let p = a.b + 1\n";
    let module = parse(text).unwrap();
    let ast::Item::Let(l) = &module.items[0] else { panic!("not a let") };
    let at = |s: covenant::span::Span| &text[s.start as usize..s.end as usize];
    assert_eq!(at(l.name.span), "p");
    assert_eq!(at(l.value.span), "a.b + 1");
    insta::assert_json_snapshot!(&l.value);
}

// ---------------------------------------------------------------------------------------------
// Items

#[test]
fn schedules() {
    let v = items(
        "schedule max_leverage(d: Date) -> Number {\n  <= 2026-06-30 => 5.00x\n  else => 4.00x\n}\n\
         schedule residual(age: Number) -> Number interpolate {\n  0 => 100%\n  12 => 65%\n}\n",
    );
    insta::assert_json_snapshot!(Plain(&v));
    assert_eq!(v[0]["Schedule"]["interpolate"], false);
    assert_eq!(v[1]["Schedule"]["interpolate"], true);
}

#[test]
fn collateral_pool_for_each() {
    let v = items(
        "collateral gpus \"GPU fleet\" for g in input.gpus {\n  quantity g.count\n  price g.unit_cost\n  haircut 30%\n  \
         liquidation discount absorption_discount(sold, 400, 15%, 3%)\n}\n",
    );
    insta::assert_json_snapshot!(Plain(&v));
    assert_eq!(v[0]["Collateral"]["each"][0], "g");
}

#[test]
fn covenant_with_cure() {
    let v = items(
        "covenant min_dscr \"Minimum DSCR\" {\n  require dscr >= 1.25x\n  tested quarterly\n  \
         cure equity into input.ttm.ebitda { history input.cures limit 2 in 4 quarters limit 5 total no consecutive }\n}\n",
    );
    insta::assert_json_snapshot!(Plain(&v));
    assert_eq!(v[0]["Covenant"]["cure"]["limits"].as_array().map(Vec::len), Some(3));
}

#[test]
fn scenario_with_every_element() {
    let v = items("scenario convergence \"BTC -50%\" {\n  input.btc.price *= 50%\n  input.gpus[*].rent_per_hour -= 1 USD\n}\n");
    insta::assert_json_snapshot!(Plain(&v));
    assert_eq!(v[0]["Scenario"]["shocks"][1]["path"]["steps"][1], json!({"All": null}));
}

#[test]
fn generator_with_filter() {
    let e = expr("sum(g.count for g in input.gpus if g.model == \"H100\")");
    insta::assert_json_snapshot!(Plain(&e));
    assert_eq!(e["Call"]["args"][0]["Generator"]["var"], "g");
}

// ---------------------------------------------------------------------------------------------
// Clause words and reserved words

#[test]
fn clause_words_are_names_elsewhere() {
    assert!(parses("let debt = 1\n"));
    assert!(parses("let total = 1\nlet limit = total\nlet sold = limit\n"));
    assert!(parses("covenant monthly \"x\" { require 1 >= 0 }\n"));
    assert!(parses("fn f(months: Number) -> Number = months\n"), "duration units are names except after a number");
    let v = items("let debt = 1\n");
    assert_eq!(v[0]["Let"]["name"], "debt");
}

#[test]
fn reserved_words_are_not_names() {
    assert!(!parses("let if = 1\n"));
    assert!(!parses("let input = 1\n"));
    assert!(!parses("fn not(x: Number) -> Number = x\n"));
}

#[test]
fn chained_comparison_is_refused() {
    assert!(matches!(parse("let p = a < b < c\n"), Err(SyntaxError::ChainedComparison { .. })));
    assert!(parses("let p = (a < b) == c\n"));
}

/// Runs `f` on a thread with a large stack. The nesting limit (128) is meant to keep the
/// parser's recursion safe, but in debug builds about 80 nested brackets already overflow a
/// default 2 MiB thread (see `allowed_nesting_fits_a_default_thread`), so the limit itself
/// is tested where the stack cannot be the problem.
fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(64 << 20).spawn(f).unwrap().join().unwrap()
}

fn nested_parens(n: usize) -> String {
    format!("let p = {}1{}\n", "(".repeat(n), ")".repeat(n))
}

#[test]
fn nesting_limit_boundary() {
    on_big_stack(|| {
        assert!(parses(&nested_parens(128)), "128 levels are allowed");
        assert!(matches!(parse(&nested_parens(129)), Err(SyntaxError::TooDeep { limit: 128, .. })));
        let list = |n: usize| format!("let p = {}1{}\n", "[".repeat(n), "]".repeat(n));
        assert!(parses(&list(128)));
        assert!(matches!(parse(&list(129)), Err(SyntaxError::TooDeep { .. })));
        let nots = |n: usize| format!("let p = {}true\n", "not ".repeat(n));
        assert!(matches!(parse(&nots(129)), Err(SyntaxError::TooDeep { .. })));
    });
}

/// A program inside the nesting limit must parse on an ordinary thread (2 MiB stack, the
/// default for spawned threads and test threads) rather than abort the process. The parse
/// runs in a child process so that a stack overflow fails this test instead of killing the
/// whole test binary.
#[test]
fn allowed_nesting_fits_a_default_thread() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "parse_nested_in_child", "--nocapture"])
        .env("COVENANT_NESTED_CHILD", "128")
        .output()
        .unwrap();
    assert!(out.status.success(), "the child crashed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("parsed: true"));
}

#[test]
#[ignore = "helper of allowed_nesting_fits_a_default_thread"]
fn parse_nested_in_child() {
    let Ok(n) = std::env::var("COVENANT_NESTED_CHILD") else { return };
    let n: usize = n.parse().unwrap();
    // Through the public API, which compiles on a thread of its own, then evaluates on this
    // small one.
    let ok = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let source = format!("input {{ as_of: Date }}\nlet p = {}1{}\n", "(".repeat(n), ")".repeat(n));
            let program = covenant::Program::compile("t.cov", &source).unwrap();
            let report = program.evaluate(r#"{"as_of": "2026-03-31"}"#, None).unwrap();
            report.values["p"] == "1"
        })
        .unwrap()
        .join()
        .unwrap();
    println!("parsed: {ok}");
}
