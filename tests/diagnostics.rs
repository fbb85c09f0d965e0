//! Diagnostics, one situation a test: each renders the error as a user would see it (no
//! colours, 100 columns) and snapshots it, and also asserts one plain fact about it, so a
//! test still means something if its snapshot is re-recorded carelessly.

use std::time::{Duration, Instant};

use covenant::Program;
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

fn render(d: &dyn Diagnostic) -> String {
    let h = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    let mut s = String::new();
    h.render_report(&mut s, d).unwrap();
    s
}

/// Every diagnostic of the compile error, rendered and joined; panics if the program compiles.
fn compile_error(src: &str) -> String {
    let e = Program::compile("t.cov", src).err().expect("the program should not compile");
    assert!(!e.diagnostics.is_empty(), "a compile error carries at least one diagnostic");
    e.diagnostics.iter().map(|d| render(&**d)).collect::<Vec<_>>().join("\n")
}

/// The rendered data error; panics if the program does not compile or the data is accepted.
fn data_error(src: &str, data: &str) -> String {
    let p = Program::compile("t.cov", src).unwrap_or_else(|e| panic!("compile: {}", e.diagnostics.iter().map(|d| render(&**d)).collect::<String>()));
    render(&p.evaluate(data, None).err().expect("the data should be rejected"))
}

// ---------------------------------------------------------------------------------------------
// Syntax

#[test]
fn syntax_unexpected_token() {
    let text = compile_error("input { as_of: Date }\nlet x = 1 + * 2\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::syntax::unexpected"));
    assert!(text.contains("t.cov:2:"), "points at line 2");
}

#[test]
fn unclosed_brace_at_end_of_file() {
    let text = compile_error("input { as_of: Date }\ncovenant c \"C\" {\n  require 1 >= 0\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::syntax::unexpected"));
    assert!(text.contains("end of the file"));
}

#[test]
fn chained_comparison() {
    let text = compile_error("input { as_of: Date }\nlet a = 1\nlet b = 2\nlet c = 3\nlet x = a < b < c\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::syntax::chained_comparison"));
}

#[test]
fn impossible_date_literal() {
    let text = compile_error("input { as_of: Date }\nlet d = 2026-02-30\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::syntax::literal"));
    assert!(text.contains("2026-02-30"));
}

#[test]
fn deep_nesting_is_refused_fast() {
    let n = 100_000;
    let src = format!("input {{ as_of: Date }}\nlet x = {}1{}\n", "(".repeat(n), ")".repeat(n));
    let start = Instant::now();
    let text = compile_error(&src);
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(2), "refused in {elapsed:?}");
    assert!(text.contains("covenant::limit::nesting"));
    assert!(text.contains("t.cov:2:137"), "points at the 129th parenthesis");
    // The source line is 200,000 characters: snapshot the message, the position and the help,
    // without the source excerpt.
    let excerpt = |l: &str| l.contains('·') || l.trim_start().split(' ').next().is_some_and(|w| w.parse::<u32>().is_ok());
    let summary: Vec<&str> = text.lines().filter(|l| !excerpt(l)).collect();
    insta::assert_snapshot!(summary.join("\n"));
}

#[test]
fn reserved_word_as_name() {
    let text = compile_error("input { as_of: Date }\nlet if = 1\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::syntax"));
}

#[test]
fn duplicate_clause() {
    let text = compile_error("input { as_of: Date }\ncovenant c \"C\" {\n  require 1 >= 0\n  require 2 >= 0\n}\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::syntax::duplicate_clause"));
    assert!(text.contains("require"));
}

#[test]
fn schedule_without_else() {
    let text = compile_error(
        "input { as_of: Date }\nschedule advance(age: Number) -> Number {\n  < 12 => 70%\n  < 24 => 50%\n}\nlet r = advance(3)\n",
    );
    insta::assert_snapshot!(text);
    assert!(text.contains("else"));
}

// ---------------------------------------------------------------------------------------------
// Names

#[test]
fn unknown_name_suggests_the_closest() {
    let text = compile_error(
        "input { as_of: Date  loan: { outstanding: Money(USD) } }\nlet outstanding = input.loan.outstanding\nlet x = outstandng * 2\n",
    );
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::resolve::unknown_name"));
    assert!(text.contains("outstandng") && text.contains("`outstanding`"));
}

#[test]
fn unknown_function() {
    let text = compile_error("input { as_of: Date }\nlet x = sqr(4)\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::resolve::unknown_function"));
    assert!(text.contains("sqr"));
}

#[test]
fn duplicate_definition() {
    let text = compile_error("input { as_of: Date }\nlet limit = 1\nlet limit = 2\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::resolve::duplicate"));
    assert!(text.contains("`limit` is defined twice"));
}

#[test]
fn dependency_cycle_names_every_member() {
    let text = compile_error("input { as_of: Date }\nlet a = b + 1\nlet b = c + 1\nlet c = a + 1\nlet d = 4\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::resolve::cycle"));
    let message = text.lines().find(|l| l.contains("dependency cycle")).unwrap_or_default();
    for m in ["`a`", "`b`", "`c`"] {
        assert!(message.contains(m), "{m} named in {message:?}");
    }
    assert!(!message.contains("`d`"), "`d` is not in the cycle");
}

#[test]
fn every_error_is_reported() {
    let text = compile_error("input { as_of: Date }\nlet x = undefined_one + 1\nlet y = undefined_two + 1\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("undefined_one") && text.contains("undefined_two"));
}

#[test]
fn function_recursion() {
    let text = compile_error("input { as_of: Date }\nfn countdown(n: Number) -> Number = if n <= 0 then 0 else countdown(n - 1)\nlet x = countdown(3)\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::resolve::cycle"));
    assert!(text.contains("countdown"));
}

#[test]
fn unknown_std_module() {
    let text = compile_error("import std.lendng\ninput { as_of: Date }\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::resolve::import"));
    assert!(text.contains("lendng"));
}

#[test]
fn missing_as_of() {
    let text = compile_error("input { debt: Money(USD) }\nlet d = input.debt\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::check::as_of"));
}

// ---------------------------------------------------------------------------------------------
// Types and currencies

#[test]
fn currency_mismatch_names_both() {
    let text = compile_error("input { as_of: Date  usd: Money(USD)  eur: Money(EUR) }\nlet total = input.usd + input.eur\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::check::currency"));
    assert!(text.contains("USD") && text.contains("EUR"));
}

#[test]
fn money_plus_number() {
    let text = compile_error("input { as_of: Date  usd: Money(USD) }\nlet total = input.usd + 1\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::check::operands"));
    assert!(text.contains("Money(USD)") && text.contains("Number"));
}

#[test]
fn date_minus_date() {
    let text = compile_error("input { as_of: Date  start: Date }\nlet gap = as_of - input.start\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("days_between"), "points to days_between");
}

#[test]
fn optional_without_default() {
    let text = compile_error("input { as_of: Date  floor: Number? }\nlet x = input.floor * 2\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::check::optional"));
    assert!(text.contains("??"));
}

#[test]
fn unknown_record_field_suggests() {
    let text = compile_error("input { as_of: Date  loan: { outstanding: Money(USD) } }\nlet x = input.loan.outstandng\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::check::unknown_field"));
    assert!(text.contains("`outstanding`"));
}

#[test]
fn wrong_argument_count() {
    let text = compile_error("input { as_of: Date }\nfn double(x: Number) -> Number = x * 2\nlet y = double(1, 2)\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::check::arity"));
    assert!(text.contains("double"));
}

#[test]
fn impossible_covenant_status() {
    let text = compile_error(
        "input { as_of: Date }\ncovenant c \"C\" { require 1 >= 0 }\nlet broken = c.status == \"breached\"\n",
    );
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::check::status"));
    assert!(text.contains("breached") && text.contains("breach"));
}

// ---------------------------------------------------------------------------------------------
// Lending constructs

#[test]
fn cure_into_non_money_path() {
    let text = compile_error(
        "input { as_of: Date  ratio: Number  cures: List<Date> }\ncovenant c \"C\" {\n  require input.ratio >= 1.25x\n  cure equity into input.ratio { history input.cures }\n}\n",
    );
    insta::assert_snapshot!(text);
    assert!(text.contains("Money"));
    assert!(text.contains("input.ratio") || text.contains("ratio"));
}

#[test]
fn sell_names_a_non_pool() {
    let text = compile_error(
        "input { as_of: Date  debt: Money(USD) }\nlet owed = input.debt\nliquidation l \"L\" {\n  trigger true\n  debt owed\n  sell owed\n}\n",
    );
    insta::assert_snapshot!(text);
    assert!(text.contains("owed"));
    assert!(text.contains("pool") || text.contains("collateral"));
}

#[test]
fn liquidation_discount_without_sold() {
    let text = compile_error(
        "input { as_of: Date  coins: Number  price: Money(USD) }\ncollateral btc \"BTC\" {\n  quantity input.coins\n  price input.price\n  haircut 50%\n  liquidation discount 5%\n}\n",
    );
    insta::assert_snapshot!(text);
    assert!(text.contains("sold"));
}

// ---------------------------------------------------------------------------------------------
// Data

const LOAN: &str = "input { as_of: Date  loan: { outstanding: Money(USD), start: Date } }\nlet debt = input.loan.outstanding\n";

#[test]
fn data_text_where_a_decimal_is_expected() {
    let text = data_error(LOAN, r#"{"as_of": "2026-03-31", "loan": {"outstanding": "n/a", "start": "2025-01-01"}}"#);
    insta::assert_snapshot!(text);
    assert!(text.contains("input.loan.outstanding"));
    assert!(text.contains("\"n/a\""));
}

#[test]
fn data_missing_field() {
    let text = data_error(LOAN, r#"{"as_of": "2026-03-31", "loan": {"start": "2025-01-01"}}"#);
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::data::missing"));
    assert!(text.contains("input.loan.outstanding"));
}

#[test]
fn data_wrong_currency() {
    let text = data_error(
        LOAN,
        r#"{"as_of": "2026-03-31", "loan": {"outstanding": {"amount": "100", "currency": "EUR"}, "start": "2025-01-01"}}"#,
    );
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::data::currency"));
    assert!(text.contains("EUR") && text.contains("USD"));
}

#[test]
fn data_impossible_date() {
    let text = data_error(LOAN, r#"{"as_of": "2026-03-31", "loan": {"outstanding": "100", "start": "2026-02-30"}}"#);
    insta::assert_snapshot!(text);
    assert!(text.contains("input.loan.start"));
    assert!(text.contains("2026-02-30"));
}

#[test]
fn data_failing_check() {
    let src = format!("{LOAN}check input.loan.outstanding >= 0 USD else \"outstanding cannot be negative\"\n");
    let text = data_error(&src, r#"{"as_of": "2026-03-31", "loan": {"outstanding": "-5", "start": "2025-01-01"}}"#);
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::data::check"));
    assert!(text.contains("outstanding cannot be negative"));
}

#[test]
fn data_not_json() {
    let text = data_error(LOAN, "{ \"as_of\": \"2026-03-31\", loan }");
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::data::json"));
}

#[test]
fn unknown_scenario_suggests() {
    let p = Program::compile("t.cov", &format!("{LOAN}scenario stress {{ input.loan.outstanding *= 2 }}\n")).unwrap();
    let e = p.evaluate(r#"{"as_of": "2026-03-31", "loan": {"outstanding": "100", "start": "2025-01-01"}}"#, Some("stres")).unwrap_err();
    let text = render(&e);
    insta::assert_snapshot!(text);
    assert!(text.contains("covenant::usage::scenario"));
    assert!(text.contains("`stress`"));
}

#[test]
fn a_shock_cannot_read_a_value_computed_after_it() {
    let out = compile_error(
        "input { as_of: Date  price: Number }\nlet stressed = input.price * 50%\nscenario crash {\n  input.price = stressed\n}\n",
    );
    assert!(out.contains("reads `stressed`"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn a_shock_that_overflows_refuses_the_scenario() {
    let src = "input { as_of: Date  price: Number }\nlet p = input.price\nscenario boom {\n  input.price *= 79_228_162_514_264_337_593_543_950_335\n}\n";
    let program = Program::compile("t.cov", src).unwrap();
    let data = r#"{"as_of": "2026-03-31", "price": "10"}"#;
    assert_eq!(program.evaluate(data, None).unwrap().values["p"], "10", "the base case is unaffected");
    let e = program.evaluate(data, Some("boom")).err().expect("the scenario should be refused");
    let out = render(&e);
    assert!(out.contains("scenario `boom`") && out.contains("line 4"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn a_calendar_cannot_read_a_computed_value() {
    let out = compile_error(
        "input { as_of: Date  days: List<Date> }\ncalendar { holidays extra }\nlet extra = input.days\nlet due = as_of + 2 business days\n",
    );
    assert!(out.contains("the calendar reads `extra`"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn a_rule_on_its_own_is_not_a_value() {
    let out = compile_error("input { as_of: Date  q: Number }\ncollateral gpus { quantity input.q  price 10 USD }\nlet v = if input.q > 1 then gpus else gpus\n");
    assert!(out.contains("is a collateral pool, not a value") && out.contains("`gpus.eligible_value`"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn a_covenant_over_dates_is_refused() {
    let out = compile_error("input { as_of: Date  maturity: Date }\ncovenant not_matured { require input.maturity == as_of }\n");
    assert!(out.contains("expected a Number or Money, found Date"), "{out}");
    insta::assert_snapshot!(out);
}

// ---------------------------------------------------------------------------------------------
// Language v0.2

#[test]
fn a_display_form_on_money_is_refused() {
    let text = compile_error("input { as_of: Date }\nlet fee = 3 USD as percent\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("this value is Money(USD)"));
}

#[test]
fn a_default_without_events_is_refused() {
    let text = compile_error("input { as_of: Date }\ndefault eod \"Events of default\" { }\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("event"));
}

#[test]
fn a_liquidation_price_in_another_currency_is_refused() {
    let text = compile_error(
        "input { as_of: Date  eur: Money(EUR) }\ncollateral c {\n  quantity 1\n  price 10 USD\n  liquidation price input.eur\n}\n",
    );
    insta::assert_snapshot!(text);
    assert!(text.contains("Money(USD)"));
}

#[test]
fn a_cure_into_a_figure_the_requirement_does_not_read() {
    let text = compile_error(
        "input { as_of: Date  debt: Money(USD)  ebitda: Money(USD)  opex: Money(USD) }\nlet cfads = input.ebitda - input.opex\ncovenant max_lev {\n  require input.debt / input.ebitda <= 4.0x\n  cure equity into cfads\n}\n",
    );
    insta::assert_snapshot!(text);
    assert!(text.contains("it reads `input.debt`, `input.ebitda`"));
}

#[test]
fn a_count_compared_with_an_amount_in_a_unit() {
    let text = compile_error("input { as_of: Date  coins: Number }\nlet big = input.coins > 500 BTC\n");
    insta::assert_snapshot!(text);
    assert!(text.contains("drop the unit (`500`)") && text.contains("money(input.coins, BTC)"));
}

// Simulations

const SIM_INPUT: &str = "input { as_of: Date  price: Money(USD)  rent: Money(USD) }\n";

#[test]
fn a_simulation_whose_correlations_cannot_hold_together() {
    // a-b 0.9 and b-c 0.9 force a and c close together; -0.9 between them is impossible
    // (the matrix's determinant is 1 - 3(0.81) - 2(0.729) < 0).
    let text = compile_error(&format!(
        "{SIM_INPUT}simulation s {{\n  factor a normal(mean: 0, sd: 10%)\n  factor b normal(mean: 0, sd: 10%)\n  factor c normal(mean: 0, sd: 10%)\n  correlation a, b = 0.9\n  correlation b, c = 0.9\n  correlation a, c = -0.9\n  input.price *= 1 + a\n}}\n"
    ));
    insta::assert_snapshot!(text);
    assert!(text.contains("the correlations of simulation `s` are not possible together"));
}

#[test]
fn a_simulation_correlating_an_unknown_factor() {
    let text = compile_error(&format!("{SIM_INPUT}simulation s {{\n  factor btc normal(mean: 0, sd: 10%)\n  factor rent normal(mean: 0, sd: 10%)\n  correlation btc, rnt = 0.5\n  input.price *= 1 + btc\n}}\n"));
    insta::assert_snapshot!(text);
    assert!(text.contains("`rnt` is not a factor of simulation `s`") && text.contains("did you mean `rent`"));
}

#[test]
fn a_simulation_correlation_outside_minus_one_to_one() {
    let text = compile_error(&format!("{SIM_INPUT}simulation s {{\n  factor a normal(mean: 0, sd: 10%)\n  factor b normal(mean: 0, sd: 10%)\n  correlation a, b = 1.2\n  input.price *= 1 + a\n}}\n"));
    insta::assert_snapshot!(text);
    assert!(text.contains("a correlation of 1.2 is outside -1 … 1"));
}

#[test]
fn a_simulation_factor_with_a_negative_sd() {
    let text = compile_error(&format!("{SIM_INPUT}simulation s {{\n  factor a normal(mean: -5%, sd: -45%)\n  input.price *= 1 + a\n}}\n"));
    insta::assert_snapshot!(text);
    assert!(text.contains("the factor `a` has a negative `sd`") && text.contains("`sd: 0.45`"));
}

#[test]
fn a_simulation_factor_declared_twice() {
    let text = compile_error(&format!("{SIM_INPUT}simulation s {{\n  factor a normal(mean: 0, sd: 10%)\n  factor a uniform(low: -10%, high: 0)\n  input.price *= 1 + a\n}}\n"));
    insta::assert_snapshot!(text);
    assert!(text.contains("the factor `a` is declared twice"));
}

#[test]
fn a_simulation_shock_other_than_one_plus_a_factor() {
    let text = compile_error(&format!("{SIM_INPUT}simulation s {{\n  factor a normal(mean: 0, sd: 10%)\n  input.price *= 2 * a\n}}\n"));
    insta::assert_snapshot!(text);
    assert!(text.contains("one plus a factor") && text.contains("`input.btc.price *= 1 + btc`"));
}

#[test]
fn a_simulation_shocking_an_input_that_is_not_a_number() {
    let text = compile_error(&format!("{SIM_INPUT}simulation s {{\n  factor a normal(mean: 0, sd: 10%)\n  input.as_of *= 1 + a\n}}\n"));
    insta::assert_snapshot!(text);
    assert!(text.contains("a simulation scales this input, which holds Date"));
}

#[test]
fn an_unknown_distribution() {
    let text = compile_error(&format!("{SIM_INPUT}simulation s {{\n  factor a student(df: 3)\n  input.price *= 1 + a\n}}\n"));
    insta::assert_snapshot!(text);
    assert!(text.contains("`student` is not a distribution"));
}
