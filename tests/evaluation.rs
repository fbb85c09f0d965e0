//! Evaluation, one fact a line: each helper compiles a tiny program and reads one value.

use covenant::{Program, Report};
use serde_json::{json, Value as Json};

const AS_OF: &str = r#"{"as_of": "2026-03-31"}"#;

fn report(src: &str, data: &str) -> Report {
    let program = Program::compile("test.cov", src).unwrap_or_else(|e| panic!("compile: {e:?}"));
    program.evaluate(data, None).unwrap_or_else(|e| panic!("evaluate: {e}"))
}

/// The value of one expression, with only `as_of` (2026-03-31) as input.
fn val(expr: &str) -> Json {
    let src = format!("import std.lending\nimport std.liquidity\nimport std.gpu\nimport std.crypto\ninput {{ as_of: Date }}\nlet v = {expr}\n");
    report(&src, AS_OF).values["v"].clone()
}

fn num(expr: &str) -> String {
    match val(expr) {
        Json::String(s) => s,
        other => panic!("`{expr}` is not a number: {other}"),
    }
}

fn usd(expr: &str) -> String {
    let v = val(expr);
    assert_eq!(v["currency"], "USD", "`{expr}`");
    v["amount"].as_str().unwrap_or_default().to_string()
}

fn fails(expr: &str) -> String {
    let src = format!("input {{ as_of: Date  zero: Number }}\nlet v = {expr}\nlet other = 1\n");
    let r = report(&src, r#"{"as_of": "2026-03-31", "zero": 0}"#);
    assert_eq!(r.values["v"], Json::Null, "`{expr}` should fail");
    assert_eq!(r.values["other"], "1", "a failure must stay inside its value");
    r.errors.first().map(|e| e.message.clone()).unwrap_or_default()
}

#[test]
fn literals_and_precedence() {
    assert_eq!(num("35%"), "0.35");
    assert_eq!(num("2.5%"), "0.025");
    assert_eq!(num("1.25x"), "1.25");
    assert_eq!(num("1_250_000"), "1250000");
    assert_eq!(num("2 + 3 * 4 - 10 / 4"), "11.5");
    assert_eq!(num("-2 * -3"), "6");
    assert_eq!(num("(2 + 3) * 4"), "20");
    assert_eq!(val("not 1 > 2 and 3 >= 3"), json!(true));
    assert_eq!(val("1 > 2 or 2 > 1"), json!(true));
    assert_eq!(val("if 1 > 2 then \"a\" else \"b\""), json!("b"));
    assert_eq!(val("[1, 2, 3][1]"), json!("2"));
}

#[test]
fn exact_decimals() {
    assert_eq!(num("0.1 + 0.2"), "0.3");
    assert_eq!(num("1 / 3"), "0.3333333333333333333333333333");
    // 2/3 is rounded to 28 digits, so the product carries that rounding: nothing is hidden.
    assert_eq!(num("2 / 3 * 3"), "2.0000000000000000000000000001");
    assert_eq!(num("0.035 * 1_000_000"), "35000");
}

#[test]
fn rounding_builtins() {
    assert_eq!(num("round(2.345, 2)"), "2.35");
    assert_eq!(num("round(-2.345, 2)"), "-2.35");
    assert_eq!(num("round_even(2.345, 2)"), "2.34");
    assert_eq!(num("round_even(2.355, 2)"), "2.36");
    assert_eq!(usd("floor(1_234_567 USD, 10_000 USD)"), "1230000");
    assert_eq!(usd("ceil(1_234_567 USD, 10_000 USD)"), "1240000");
    assert_eq!(num("floor(-1.5, 1)"), "-2");
}

#[test]
fn numeric_builtins() {
    assert_eq!(num("abs(-3)"), "3");
    assert_eq!(usd("abs(-3 USD)"), "3");
    assert_eq!(num("min(3, 4)"), "3");
    assert_eq!(num("max(3, 4)"), "4");
    assert_eq!(num("clamp(1.5, 0, 1)"), "1");
    assert_eq!(num("sqrt(16)"), "4");
    assert_eq!(num("pow(2, 10)"), "1024");
    assert_eq!(num("amount(5 USD)"), "5");
    assert_eq!(usd("money(5, USD)"), "5");
    assert_eq!(num("len([1, 2, 3])"), "3");
    assert_eq!(num("round(exp(ln(10)), 10)"), "10");
}

#[test]
fn money_arithmetic_keeps_its_currency() {
    assert_eq!(usd("3 USD + 2 USD"), "5");
    assert_eq!(usd("3 USD * 2"), "6");
    assert_eq!(usd("2 * 3 USD"), "6");
    assert_eq!(usd("3 USD / 2"), "1.5");
    assert_eq!(num("3 USD / 2 USD"), "1.5");
}

#[test]
fn aggregates() {
    assert_eq!(num("sum(x * 2 for x in [1, 2, 3])"), "12");
    assert_eq!(num("sum(x for x in [1, 2, 3] if x > 1)"), "5");
    assert_eq!(num("count(x for x in [1, 2, 3] if x > 1)"), "2");
    assert_eq!(num("min(x for x in [3, 1, 2])"), "1");
    assert_eq!(num("max(x for x in [3, 1, 2])"), "3");
    assert_eq!(num("min(x for x in [1] if x > 5, default: 0)"), "0");
    assert_eq!(val("any(x > 2 for x in [1, 2, 3])"), json!(true));
    assert_eq!(val("all(x > 2 for x in [1, 2, 3])"), json!(false));
    assert_eq!(val("list(x * 10 for x in [1, 2])"), json!(["10", "20"]));
    assert_eq!(usd("sum(x for x in [1 USD, 2 USD])"), "3");
}

#[test]
fn dates_and_calendars() {
    assert_eq!(val("2026-01-31 + 1 month"), json!("2026-02-28"));
    assert_eq!(val("2024-01-31 + 1 month"), json!("2024-02-29"));
    assert_eq!(val("2026-11-30 + 1 quarter"), json!("2027-02-28"));
    assert_eq!(val("2024-02-29 + 1 year"), json!("2025-02-28"));
    assert_eq!(val("2026-03-31 - 1 month"), json!("2026-02-28"));
    assert_eq!(val("2026-03-31 + 30 days"), json!("2026-04-30"));
    assert_eq!(val("as_of + 2 business days"), json!("2026-04-02"));
    assert_eq!(val("2026-04-06 - 1 business day"), json!("2026-04-03"));
    assert_eq!(num("months_between(2024-03-15, 2026-03-31)"), "24");
    assert_eq!(num("months_between(2026-03-31, 2025-06-30)"), "-9");
    assert_eq!(num("days_between(2026-01-01, 2026-03-01)"), "59");
    assert_eq!(num("year_fraction(2026-01-31, 2026-03-31, \"30/360\")"), "0.1666666666666666666666666667");
    assert_eq!(val("quarter_end(2026-05-15)"), json!("2026-06-30"));
    assert_eq!(val("is_quarter_end(as_of)"), json!(true));
    assert_eq!(val("is_month_end(2024-02-28)"), json!(false));
}

#[test]
fn holidays_come_from_the_calendar() {
    let src = "input { as_of: Date  holidays: List<Date>? }\ncalendar { holidays input.holidays ?? [] }\nlet due = add_business_days(as_of, 1)\n";
    let with = report(src, r#"{"as_of": "2026-04-02", "holidays": ["2026-04-03"]}"#);
    assert_eq!(with.values["due"], "2026-04-06");
    let without = report(src, r#"{"as_of": "2026-04-02"}"#);
    assert_eq!(without.values["due"], "2026-04-03");
}

#[test]
fn schedules() {
    let src = "input { as_of: Date }
        schedule rate(age: Number) -> Number { < 12 => 70%  < 24 => 50%  else => 0% }
        schedule curve(age: Number) -> Number interpolate { 0 => 100%  12 => 65%  24 => 40% }
        let a = rate(11.99)
        let b = rate(12)
        let c = curve(6)
        let d = curve(100)";
    let r = report(src, AS_OF);
    assert_eq!(r.values["a"], "0.7");
    assert_eq!(r.values["b"], "0.5");
    assert_eq!(r.values["c"], "0.825");
    assert_eq!(r.values["d"], "0.4");
}

#[test]
fn generic_money_functions() {
    assert_eq!(num("ltv(60 USD, 100 USD)"), "0.6");
    assert_eq!(usd("collateral_to_restore(30_000_000 USD, 36_000_000 USD, 65%)"), "10153846.153846153846153846154");
    assert_eq!(usd("prepayment_to_restore(30 USD, 36 USD, 50%)"), "12");
    assert_eq!(num("sqrt_impact(2000, 20000, 4%)"), "0.0126491106406735173279955742");
    assert_eq!(num("absorption_discount(10000, 400, 15%, 3%)"), "0.87");
    assert_eq!(num("absorption_discount(100, 400, 15%, 3%)"), "0.15");
}

#[test]
fn evaluation_errors_stay_inside_their_value() {
    assert!(fails("1 / input.zero").contains("division by zero"));
    assert!(fails("sqrt(-1 + input.zero)").contains("negative"));
    assert!(fails("79_228_162_514_264_337_593_543_950_335 * (2 + input.zero)").contains("overflow"));
    assert!(fails("[1, 2][5 + input.zero]").contains("outside"));
    assert!(fails("min(x for x in [1] if x > 5 + input.zero)").contains("empty"));
}

#[test]
fn dependents_of_a_failed_value_fail_without_a_second_error() {
    let src = "input { as_of: Date  b: Number }
        let ratio = 1 / input.b
        let doubled = ratio * 2
        covenant uses { require doubled >= 1 }
        covenant fine { require input.b >= 0 }";
    let r = report(src, r#"{"as_of": "2026-03-31", "b": 0}"#);
    assert_eq!(r.values["ratio"], Json::Null);
    assert_eq!(r.values["doubled"], Json::Null);
    assert_eq!(r.covenants["uses"].status, "error");
    assert_eq!(r.covenants["fine"].status, "pass");
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].name, "ratio");
    assert_eq!((r.errors[0].line, r.errors[0].column), (2, 21));
}

#[test]
fn covenant_headroom_both_directions() {
    let src = "input { as_of: Date }
        covenant floor_test { require 1.5 >= 1.25x }
        covenant cap_test { require 4 <= 5.00x }
        covenant eq_test { require 1 == 1 }";
    let r = report(src, AS_OF);
    assert_eq!(r.covenants["floor_test"].headroom.as_deref(), Some("0.2"));
    assert_eq!(r.covenants["cap_test"].headroom.as_deref(), Some("0.2"));
    assert_eq!(r.covenants["eq_test"].headroom, None);
}

/// The headroom is computed when read (`CovenantOutcome::headroom`): typed, in the report and
/// from the script itself, in each direction, in breach, untested, and with a zero limit.
#[test]
fn covenant_headroom_read_every_way() {
    let src = "input { as_of: Date  cover: Number }
        covenant cover_test { require input.cover >= 1.25x }
        covenant cap_test { require input.cover < 2 }
        covenant zero_test { require input.cover >= 0 }
        covenant march_test { require input.cover >= 1.6x  tested on [2026-03-01] }
        let cover_room = cover_test.headroom
        let cap_room = cap_test.headroom
        let zero_room = zero_test.headroom ?? -1";
    let program = Program::compile("h.cov", src).unwrap();
    let data = r#"{"as_of": "2026-03-31", "cover": "1.5"}"#;
    let evaluation = program.run(data, None).unwrap();
    let headroom = |name: &str| evaluation.covenant(name).unwrap().headroom();
    // (1.5 − 1.25) ÷ 1.25 and (2 − 1.5) ÷ 2; (1.5 − 1.6) ÷ 1.6 for the one not tested today.
    assert_eq!(headroom("cover_test"), Some("0.2".parse().unwrap()));
    assert_eq!(headroom("cap_test"), Some("0.25".parse().unwrap()));
    assert_eq!(headroom("zero_test"), None);
    assert_eq!(headroom("march_test"), Some("-0.0625".parse().unwrap()));
    let r = program.evaluate(data, None).unwrap();
    assert_eq!(r.covenants["march_test"].status, "not_tested");
    assert_eq!(r.covenants["march_test"].headroom.as_deref(), Some("-0.0625"));
    assert_eq!(r.values["cover_room"], "0.2");
    assert_eq!(r.values["cap_room"], "0.25");
    assert_eq!(r.values["zero_room"], "-1");
    // In breach the headroom is negative: (2 − 2.5) ÷ 2.
    let breach = program.run(r#"{"as_of": "2026-03-31", "cover": "2.5"}"#, None).unwrap();
    assert_eq!(breach.covenant("cap_test").unwrap().headroom(), Some("-0.25".parse().unwrap()));
}

/// A pool's haircut, 1 − eligible ÷ market, computed when read where it cannot fail and with
/// the pool where the eligible value exceeds the market value (a position of negative price):
/// the same figure either way, typed, in the report and read by the script.
#[test]
fn pool_haircut_read_every_way() {
    let src = "input { as_of: Date  lots: List<{ q: Number, p: Money(USD), h: Number }> }
        collateral book for l in input.lots { quantity l.q  price l.p  haircut l.h }
        let haircut = book.haircut";
    let program = Program::compile("p.cov", src).unwrap();
    let cases = [
        // Market 100 + 300 = 400, eligible 100 × 0.8 + 300 × 0.5 = 230: 1 − 230 ÷ 400.
        (r#"[{"q": 1, "p": "100", "h": "0.2"}, {"q": 3, "p": "100", "h": "0.5"}]"#, "0.425"),
        // Market 100 − 99.99 = 0.01, eligible 100 + 0: 1 − 100 ÷ 0.01.
        (r#"[{"q": 1, "p": "100", "h": "0"}, {"q": 1, "p": "-99.99", "h": "1"}]"#, "-9999"),
        // No market value: no haircut.
        (r#"[{"q": 0, "p": "100", "h": "0.2"}]"#, "0"),
    ];
    for (lots, expected) in cases {
        let data = format!(r#"{{"as_of": "2026-03-31", "lots": {lots}}}"#);
        let evaluation = program.run(&data, None).unwrap();
        assert_eq!(evaluation.pool("book").unwrap().haircut(), expected.parse().unwrap(), "{lots}");
        let r = program.evaluate(&data, None).unwrap();
        assert_eq!(r.collateral["book"].haircut.as_deref(), Some(expected), "{lots}");
        assert_eq!(r.values["haircut"], expected, "{lots}");
    }
}

#[test]
fn rule_results_are_values() {
    let src = "input { as_of: Date  ltv: Number }
        covenant max_ltv { require input.ltv <= 75% }
        margin_call top_up { trigger not max_ltv.passed  amount 1_000 USD  due 1 day }
        let status = max_ltv.status
        let called = top_up.amount";
    let r = report(src, r#"{"as_of": "2026-03-31", "ltv": "0.8"}"#);
    assert_eq!(r.values["status"], "breach");
    assert_eq!(r.values["called"], json!({"amount": "1000", "currency": "USD"}));
    assert_eq!(r.margin_calls["top_up"].due.as_deref(), Some("2026-04-01"));
}

#[test]
fn cure_reports_no_amount_when_none_restores() {
    let src = "input { as_of: Date  ebitda: Money(USD)  cures: List<Date> }
        covenant impossible { require input.ebitda / input.ebitda >= 2  cure equity into input.ebitda { history input.cures } }";
    let r = report(src, r#"{"as_of": "2026-03-31", "ebitda": "10", "cures": []}"#);
    let cure = r.covenants["impossible"].cure.clone().expect("a breach has a cure entry");
    assert_eq!(cure.amount, None);
    assert!(cure.note.unwrap_or_default().contains("10^15"));
}

#[test]
fn scenarios_never_stack() {
    let src = "input { as_of: Date  price: Money(USD) }
        let p = input.price
        scenario half { input.price *= 50% }
        scenario less { input.price -= 10 USD }";
    let program = Program::compile("s.cov", src).unwrap();
    let data = r#"{"as_of": "2026-03-31", "price": "100"}"#;
    let half = program.evaluate(data, Some("half")).unwrap();
    let less = program.evaluate(data, Some("less")).unwrap();
    assert_eq!(half.values["p"]["amount"], "50");
    assert_eq!(less.values["p"]["amount"], "90");
    assert!(program.evaluate(data, Some("halve")).unwrap_err().to_string().contains("halve"));
}

#[test]
fn same_program_and_data_give_identical_output() {
    let src = std::fs::read_to_string("../shared/conformance/07_liquidation/program.cov")
        .unwrap_or_else(|_| include_str!("../examples/liquidation_study.cov").to_string());
    let program = Program::compile("../shared/conformance/07_liquidation/program.cov", &src);
    if let Ok(program) = program {
        let data = std::fs::read_to_string("../shared/conformance/07_liquidation/data.json").unwrap_or_default();
        if let (Ok(a), Ok(b)) = (program.evaluate(&data, None), program.evaluate(&data, None)) {
            assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        }
    }
}

#[test]
fn durations_are_reported_as_written() {
    assert_eq!(val("2 business days"), "2 business days");
    assert_eq!(val("1 day"), "1 day");
    assert_eq!(val("3 months"), "3 months");
}

#[test]
fn an_aggregate_inside_a_schedule_row_leaves_the_call_arguments_alone() {
    // The aggregate's variable is a local of the schedule's frame; the arguments of `add` sit
    // just above it on the stack and must not be overwritten by it.
    let src = "input { as_of: Date  xs: List<Number> }
fn add(a: Number, b: Number) -> Number = a * 1000 + b
schedule s(k: Number) -> Number { < 5 => add(k, sum(x for x in input.xs))  else => 0 }
let v = s(1)
";
    let r = report(src, r#"{"as_of": "2026-03-31", "xs": [1, 2, 3]}"#);
    assert_eq!(r.values["v"], "1006");
}

// ---------------------------------------------------------------- hardening: found by reading

fn compile_error(src: &str) -> Vec<(String, String)> {
    let err = Program::compile("test.cov", src).expect_err("should not compile");
    err.diagnostics.iter().map(|d| (d.code().map(|c| c.to_string()).unwrap_or_default(), d.to_string())).collect()
}

/// Thursday 2026-04-02 + 2 business days, Friday 04-03 a holiday: Monday 04-06 is the first,
/// Tuesday 04-07 the second (2 calendar days would give Saturday 04-04).
#[test]
fn business_day_shock_counts_business_days_by_the_calendar() {
    let src = "input { as_of: Date  due: Date  holidays: List<Date> }
calendar { holidays input.holidays }
let due = input.due
scenario late { input.due += 2 business days }
scenario early { input.due -= 1 business day }
";
    let program = Program::compile("test.cov", src).unwrap();
    let data = r#"{"as_of": "2026-03-31", "due": "2026-04-02", "holidays": ["2026-04-03"]}"#;
    assert_eq!(program.evaluate(data, Some("late")).unwrap().values["due"], "2026-04-07");
    // 04-02 − 1 business day: Wednesday 04-01.
    assert_eq!(program.evaluate(data, Some("early")).unwrap().values["due"], "2026-04-01");
}

#[test]
fn as_of_cannot_be_defined() {
    let errors = compile_error("input { as_of: Date }\nlet as_of = 2020-01-01\nlet d = as_of\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "covenant::resolve::reserved");
    assert!(errors[0].1.contains("`as_of` is reserved"), "{errors:?}");
}

#[test]
fn duration_in_the_schema_is_refused() {
    for schema in ["notice: Duration", "notice: { period: Duration? }", "notices: List<Duration>"] {
        let errors = compile_error(&format!("input {{ as_of: Date  {schema} }}\n"));
        assert_eq!(errors.len(), 1, "{schema}: {errors:?}");
        assert_eq!(errors[0].0, "covenant::check::invalid", "{schema}");
        assert!(errors[0].1.contains("is a Duration, which no data can supply"), "{schema}: {errors:?}");
    }
    let errors = compile_error("input { as_of: Date  notice: { period: Duration? } }\n");
    assert!(errors[0].1.contains("`input.notice.period`"), "{errors:?}");
}

#[test]
fn optional_money_keeps_its_currency_in_the_report() {
    let src = "input { as_of: Date  cash: Money(USD)? }\nlet read = input.cash\nlet declared: Money(USD)? = input.cash\nlet absent: Money(USD)? = input.cash\n";
    let r = report(src, r#"{"as_of": "2026-03-31", "cash": "5"}"#);
    assert_eq!(r.values["read"], json!({"amount": "5", "currency": "USD"}));
    assert_eq!(r.values["declared"], json!({"amount": "5", "currency": "USD"}));
    let r = report(src, AS_OF);
    assert_eq!(r.values["absent"], Json::Null);
}

/// A check evaluates the values its condition reads, not the whole program: a costly value
/// elsewhere (2^10 calls of `f0`, some 3,000 steps) does not count against binding. The two
/// calls in each body differ, so that the optimisation pass cannot compute them once.
#[test]
fn check_evaluates_only_what_it_reads() {
    let mut src = String::from("input { as_of: Date  cash: Number }\nfn f0(x: Number) -> Number = x\n");
    for i in 1..=10 {
        src.push_str(&format!("fn f{i}(x: Number) -> Number = f{p}(x) + f{p}(x + 1)\n", p = i - 1));
    }
    src.push_str("let costly = f10(input.cash)\nlet floor = 0\ncheck input.cash >= floor else \"cash cannot be negative\"\n");
    let limits = covenant::Limits::default().with_max_operations(1_000);
    let program = Program::compile_with("test.cov", &src, limits, &covenant::resolve::FsLoader::new()).unwrap();
    let input = program.bind_text(r#"{"as_of": "2026-03-31", "cash": "1"}"#).unwrap();
    let err = program.evaluate_bound(input, None).unwrap_err();
    assert!(matches!(err, covenant::EvalError::Operations { limit: 1_000 }), "{err}");
    let err = program.bind_text(r#"{"as_of": "2026-03-31", "cash": "-1"}"#).unwrap_err();
    assert_eq!(err.to_string(), "check failed: cash cannot be negative");
}

#[test]
fn checks_run_on_shocked_data() {
    let src = "input { as_of: Date  cash: Money(USD) }
let cash = input.cash
check input.cash >= 0 USD else \"cash cannot be negative\"
scenario drain \"Cash −150\" { input.cash -= 150 USD }
scenario dip { input.cash -= 50 USD }
";
    let program = Program::compile("test.cov", src).unwrap();
    let data = r#"{"as_of": "2026-03-31", "cash": "100"}"#;
    // 100 − 50 = 50 passes the check; 100 − 150 = −50 does not.
    assert_eq!(program.evaluate(data, Some("dip")).unwrap().values["cash"]["amount"], "50");
    let err = program.evaluate(data, Some("drain")).unwrap_err();
    assert_eq!(err.to_string(), "scenario `drain`: the shocked data fails the check at line 3: cash cannot be negative");
    assert!(program.evaluate(data, None).is_ok());
}

/// A headroom of (1 − 10^-28) ÷ 10^-28 ≈ 10^28 is past the decimal range once multiplied by
/// 100 for the table's percentage.
#[test]
fn table_renders_a_headroom_near_the_decimal_range() {
    let src = "input { as_of: Date  x: Number }\ncovenant tiny { require input.x >= 0.0000000000000000000000000001 }\n";
    let r = report(src, r#"{"as_of": "2026-03-31", "x": "1"}"#);
    assert_eq!(r.covenants["tiny"].headroom.as_deref(), Some("9999999999999999999999999999"));
    let table = covenant::report::table::render(&r);
    assert!(table.contains("999,999,999,999,999,999,999,999,999,900.00%"), "{table}");
}

/// A value is shown as a percent or multiple when it was written ending in such a literal,
/// read from the syntax tree: a name ending in `x` is no multiple (`2 * idx` was shown as
/// `6.00x` when the style was guessed from the source text), brackets hide the literal, and a
/// limit read from a schedule takes the style of its values.
#[test]
fn values_are_shown_in_the_style_of_the_literal_they_end_with() {
    use covenant::report::NumberStyle::{Multiple, Percent, Plain};
    let src = "input { as_of: Date }\nlet idx = 3\nlet by_name = 2 * idx\nlet pct = idx - 5%\nlet bracketed = (idx - 5%)\nlet mult = 2 * 1.25x\nlet named_mult = idx * 1.25x\nschedule cap(d: Date) -> Number { else => 65% }\nlet from_schedule = cap(as_of)\n";
    let styles = report(src, AS_OF).value_styles;
    let style = |name: &str| styles[name];
    assert_eq!(style("by_name"), Plain);
    assert_eq!(style("pct"), Percent);
    assert_eq!(style("bracketed"), Plain);
    assert_eq!(style("mult"), Multiple);
    assert_eq!(style("named_mult"), Plain);
    assert_eq!(style("from_schedule"), Percent);
}
