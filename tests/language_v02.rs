//! Language v0.2 (§14 of the design): liquidation price, events of default, shocks inside
//! tests, `is_business_day` and `weekday`. Figures are worked out in the comments.

use covenant::{Program, Report};
use serde_json::{json, Value as Json};

fn compile(src: &str) -> Program {
    Program::compile("test.cov", src).unwrap_or_else(|e| panic!("compile: {e:?}"))
}

fn report(src: &str, data: &Json) -> Report {
    compile(src).evaluate(&data.to_string(), None).unwrap_or_else(|e| panic!("evaluate: {e}"))
}

fn json_of(r: &Report) -> Json {
    serde_json::to_value(r).unwrap_or_default()
}

const FLEET: &str = r#"
import std.liquidity
input { as_of: Date  units: Number  cost: Money(USD)  secondary: Money(USD)  debt: Money(USD) }
collateral gpus for g in [input] {
  quantity g.units
  price    g.cost
  haircut  50%
  liquidation price    input.secondary
  liquidation discount fixed_discount(sold, 10%)
}
liquidation enforcement {
  debt input.debt
  sell gpus
}
"#;

#[test]
fn the_borrowing_base_uses_the_price_and_the_sale_the_liquidation_price() {
    // 1,000 GPUs at a cost of 30,000: market value 30,000,000, eligible 50% = 15,000,000.
    // The secondary market pays 12,000 a unit less 10%: realisable 1,000 × 12,000 × 0.9
    // = 10,800,000. A 5,400,000 debt needs 5,400,000 / 10,800 = 500 units exactly.
    let data = json!({"as_of": "2026-03-31", "units": 1000, "cost": "30000", "secondary": "12000", "debt": "5400000"});
    let r = json_of(&report(FLEET, &data));
    let gpus = &r["collateral"]["gpus"];
    assert_eq!(gpus["market_value"]["amount"], "30000000");
    assert_eq!(gpus["eligible_value"]["amount"], "15000000");
    assert_eq!(gpus["realisable_value"]["amount"], "10800000");
    let sale = &r["liquidations"]["enforcement"]["sales"][0];
    assert_eq!(sale["units"], "500");
    assert_eq!(sale["proceeds"]["amount"], "5400000");
}

#[test]
fn a_liquidation_price_in_another_currency_does_not_compile() {
    let src = FLEET.replace("secondary: Money(USD)", "secondary: Money(EUR)");
    let err = Program::compile("test.cov", &src).err().map(|e| format!("{e:?}")).unwrap_or_default();
    assert!(err.contains("Money(EUR)") && err.contains("Money(USD)"), "{err}");
}

const EOD: &str = r#"
input { as_of: Date  debt: Money(USD)  value: Money(USD)  overdue_calls: Number  zero: Number }
let ltv = input.debt / input.value
default eod "Events of default" {
  event ltv_breach  "LTV above 90%"                          when ltv > 90%
  event unpaid_call "Margin call unpaid after its due date"  when input.overdue_calls > 0
}
collateral c { quantity 1  price input.value }
liquidation enforcement {
  trigger eod.triggered
  debt    input.debt
  sell    c
}
let fired = len(eod.events)
"#;

fn eod(debt: &str, overdue: u32) -> Json {
    json_of(&report(EOD, &json!({"as_of": "2026-03-31", "debt": debt, "value": "100", "overdue_calls": overdue, "zero": 0})))
}

#[test]
fn events_of_default_report_the_events_that_hold_in_declaration_order() {
    // LTV 95 / 100 = 95% > 90% and one overdue call: both events hold.
    let r = eod("95", 1);
    assert_eq!(r["defaults"]["eod"], json!({"title": "Events of default", "status": "triggered", "events": ["ltv_breach", "unpaid_call"]}));
    assert_eq!(r["liquidations"]["enforcement"]["triggered"], true);
    assert_eq!(r["values"]["fired"], "2");
    // LTV 80%, no overdue call: clear, and the liquidation is not triggered.
    let r = eod("80", 0);
    assert_eq!(r["defaults"]["eod"]["status"], "clear");
    assert_eq!(r["defaults"]["eod"]["events"], json!([]));
    assert_eq!(r["liquidations"]["enforcement"]["triggered"], false);
    // Only the unpaid call.
    assert_eq!(eod("80", 2)["defaults"]["eod"]["events"], json!(["unpaid_call"]));
}

#[test]
fn an_event_that_fails_makes_the_default_error_only_when_none_holds() {
    let src = EOD.replace("when input.overdue_calls > 0", "when input.overdue_calls / input.zero > 0");
    let data = |debt: &str| json!({"as_of": "2026-03-31", "debt": debt, "value": "100", "overdue_calls": 1, "zero": 0});
    // LTV 80%: the LTV event is false and the other divides by zero, so nothing is known.
    let r = json_of(&report(&src, &data("80")));
    assert_eq!(r["defaults"]["eod"]["status"], "error");
    assert_eq!(r["liquidations"]["enforcement"]["status"], "error");
    assert_eq!(r["values"]["fired"], Json::Null);
    let messages: Vec<&str> = r["errors"].as_array().into_iter().flatten().filter_map(|e| e["message"].as_str()).collect();
    assert_eq!(messages, ["event `unpaid_call`: division by zero"]);
    // LTV 95%: one event holds, which is enough; the failure is still reported.
    let r = json_of(&report(&src, &data("95")));
    assert_eq!(r["defaults"]["eod"]["status"], "triggered");
    assert_eq!(r["defaults"]["eod"]["events"], json!(["ltv_breach"]));
    assert_eq!(r["errors"].as_array().map(Vec::len), Some(1));
}

#[test]
fn the_table_names_the_events_that_fired() {
    let program = compile(EOD);
    let data = json!({"as_of": "2026-03-31", "debt": "95", "value": "100", "overdue_calls": 0, "zero": 0}).to_string();
    let table = covenant::report::table::render(&program.evaluate(&data, None).unwrap_or_else(|e| panic!("{e}")));
    let line = table.lines().find(|l| l.contains("eod — Events of default")).unwrap_or_default();
    assert!(line.contains("TRIGGERED") && line.contains("ltv_breach — LTV above 90%") && !line.contains("unpaid_call"), "{table}");
}

#[test]
fn a_default_needs_an_event_and_a_boolean_condition() {
    let err = |src: &str| Program::compile("test.cov", src).err().map(|e| format!("{e:?}")).unwrap_or_default();
    let empty = err("input { as_of: Date }\ndefault eod { }\n");
    assert!(empty.contains("event"), "{empty}");
    let number = err("input { as_of: Date }\ndefault eod { event e when 1 + 1 }\n");
    assert!(number.contains("Bool"), "{number}");
    let twice = err("input { as_of: Date }\ndefault eod { event e when true\n event e when false }\n");
    assert!(twice.contains("event e"), "{twice}");
}

#[test]
fn shocks_inside_a_test_apply_after_its_scenario() {
    let dir = std::env::temp_dir().join(format!("covenant-test-shocks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("d.json"), r#"{"as_of": "2026-03-31", "price": "100", "coins": "10"}"#).unwrap_or_else(|e| panic!("{e}"));
    // Base value 10 × 100 = 1,000. The scenario halves the price (500); the test's own shock
    // then takes 20% off what the scenario left: 10 × 50 × 0.8 = 400. The second test sets
    // the coins to 3 without a scenario: 300. The third expects the wrong figure.
    let src = r#"
input { as_of: Date  price: Money(USD)  coins: Number }
let value = input.coins * input.price
scenario crash { input.price *= 50% }
test "scenario, then the test's shock" {
  data "d.json"
  scenario crash
  input.price *= 80%
  expect value == 400 USD
}
test "a set without a scenario" {
  data "d.json"
  input.coins = 3
  expect value == 300 USD
}
test "shocks really apply" {
  data "d.json"
  input.coins = 3
  expect value == 1_000 USD
}
"#;
    let outcomes = compile(src).run_tests(&dir);
    let failures: Vec<usize> = outcomes.iter().map(|o| o.failures.len()).collect();
    assert_eq!(failures, [0, 0, 1], "{outcomes:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_test_shock_is_checked_like_a_scenario_shock() {
    let src = "input { as_of: Date  price: Money(USD) }\ntest \"t\" {\n  data \"d.json\"\n  input.prize *= 50%\n  expect true\n}\n";
    let err = Program::compile("test.cov", src).err().map(|e| format!("{e:?}")).unwrap_or_default();
    assert!(err.contains("no field `prize`"), "{err}");
}

#[test]
fn business_days_follow_the_calendar_and_weekdays_are_iso() {
    // 2026-04-03 is Good Friday (a holiday in the calendar), 2026-04-04 a Saturday,
    // 2026-04-06 a Monday; weekday counts Monday as 1 and Sunday as 7.
    let src = r#"
input { as_of: Date  holidays: List<Date> }
calendar { holidays input.holidays }
let friday = is_business_day(2026-04-03)
let thursday = is_business_day(2026-04-02)
let saturday = is_business_day(2026-04-04)
let monday = is_business_day(2026-04-06)
let days = [weekday(2026-04-06), weekday(2026-04-03), weekday(2026-04-05)]
"#;
    let r = json_of(&report(src, &json!({"as_of": "2026-03-31", "holidays": ["2026-04-03"]})));
    let v = &r["values"];
    assert_eq!((&v["friday"], &v["thursday"], &v["saturday"], &v["monday"]), (&json!(false), &json!(true), &json!(false), &json!(true)));
    assert_eq!(v["days"], json!(["1", "5", "7"]));
}

#[test]
fn accrual_multiplies_before_it_divides() {
    // 130,000,000 × 10.80% = 14,040,000 a year; × 91 days (2026-01-01 → 2026-04-02) = 1,277,640,000;
    // ÷ 360 = 3,549,000 exactly. Multiplying by year_fraction (91 / 360 = 0.2527…, rounded at
    // 28 digits) first gives 3,549,000.0000000000000000000003.
    // 30/360 from 2026-01-31 (day 31 → 30) to 2026-04-30: 30 × 3 = 90 days; 14,040,000 × 90 / 360 = 3,510,000.
    // ACT/365F: 73,000,000 × 5% × 91 / 365 = 3,650,000 × 91 / 365 = 910,000.
    let src = r#"
import std.lending
input { as_of: Date }
let act360 = interest_for(130_000_000 USD, 10.80%, 2026-01-01, 2026-04-02, "ACT/360")
let bond = interest_for(130_000_000 USD, 10.80%, 2026-01-31, 2026-04-30, "30/360")
let act365 = interest_for(73_000_000 USD, 5%, 2026-01-01, 2026-04-02, "ACT/365F")
let naive = 130_000_000 USD * 10.80% * year_fraction(2026-01-01, 2026-04-02, "ACT/360")
let parts = [day_count(2026-01-31, 2026-04-30, "30/360"), basis_days("ACT/365F")]
"#;
    let r = json_of(&report(src, &json!({"as_of": "2026-03-31"})));
    let v = &r["values"];
    assert_eq!(v["act360"]["amount"], "3549000");
    assert_eq!(v["bond"]["amount"], "3510000");
    assert_eq!(v["act365"]["amount"], "910000");
    assert_eq!(v["naive"]["amount"], "3549000.0000000000000000000003");
    assert_eq!(v["parts"], json!(["90", "365"]));
}

#[test]
fn display_forms_change_the_table_and_not_the_json() {
    // 0.834 as percent is 83.40%; 1.4444 as multiple is 1.44x; 35% as number is 0.35. The JSON
    // report writes the decimals as always.
    let src = "input { as_of: Date }\nlet ltv = 0.834 as percent\nlet dscr = 1.4444 as multiple\nlet share = 35% as number\n";
    let r = report(src, &json!({"as_of": "2026-03-31"}));
    let table = covenant::report::table::render(&r);
    let shown = |name: &str| table.lines().find(|l| l.trim_start().starts_with(name)).map(|l| l.split_whitespace().last().unwrap_or("").to_string());
    assert_eq!(shown("ltv").as_deref(), Some("83.40%"));
    assert_eq!(shown("dscr").as_deref(), Some("1.44x"));
    assert_eq!(shown("share").as_deref(), Some("0.35"));
    assert_eq!(json_of(&r)["values"], json!({"ltv": "0.834", "dscr": "1.4444", "share": "0.35"}));
}

#[test]
fn the_table_never_rounds_a_ratio_into_a_rounder_one() {
    // 0.5999973 at four places is 0.6000, which reads as a 60% limit exactly: shown with
    // digits until the last is not a rounding zero (0.599997). 59.99973% likewise; 0.6 and
    // 1.25x stay short.
    let src = "input { as_of: Date }\nlet a = 0.5999973\nlet b = 0.5999973 as percent\nlet c = 0.6\nlet d = 1.25x\n";
    let table = covenant::report::table::render(&report(src, &json!({"as_of": "2026-03-31"})));
    let shown = |name: &str| table.lines().find(|l| l.trim_start().starts_with(&format!("{name} "))).map(|l| l.split_whitespace().last().unwrap_or("").to_string());
    assert_eq!(shown("a").as_deref(), Some("0.599997"));
    assert_eq!(shown("b").as_deref(), Some("59.9997%"));
    assert_eq!(shown("c").as_deref(), Some("0.6"));
    assert_eq!(shown("d").as_deref(), Some("1.25x"));
}

const CURES: &str = r#"
input { as_of: Date  gpus: List<{ count: Number, rate: Money(USD) }>  opex: Money(USD)
        debt_service: Money(USD)  debt: Money(USD)  ebitda: Money(USD)  cures: List<Date> }
let revenue = sum(g.count * g.rate for g in input.gpus)
let cfads   = revenue - input.opex
covenant min_dscr "Minimum DSCR" {
  require cfads / input.debt_service >= 1.30x
  tested quarterly
  cure equity into cfads {
    history input.cures
    limit 2 in 4 quarters
  }
}
covenant max_lev "Maximum leverage" {
  require input.debt / input.ebitda <= 4.0x
  cure equity into input.ebitda
}
let one_injection = max(min_dscr.cure_amount, max_lev.cure_amount)
let dscr_cure_allowed = min_dscr.cure_available
"#;

fn cures(debt_service: &str, debt: &str, cures: &[&str]) -> Json {
    let data = json!({"as_of": "2026-03-31", "gpus": [{"count": 100, "rate": "10000"}], "opex": "200000",
                      "debt_service": debt_service, "debt": debt, "ebitda": "1000000", "cures": cures});
    json_of(&report(CURES, &data))
}

#[test]
fn a_cure_into_a_computed_figure_is_sized_on_that_figure() {
    // Revenue 100 × 10,000 = 1,000,000; CFADS = 1,000,000 − 200,000 = 800,000.
    // DSCR = 800,000 / 700,000 = 1.142857… < 1.30x: CFADS must reach 1.30 × 700,000 = 910,000,
    // so the cure is 110,000. Leverage 5,000,000 / 1,000,000 = 5.0x > 4.0x: EBITDA must reach
    // 1,250,000, a cure of 250,000. One injection curing both is the larger, 250,000.
    let r = cures("700000", "5000000", &["2025-12-31"]);
    assert_eq!(r["covenants"]["min_dscr"]["cure"]["amount"]["amount"], "110000");
    assert_eq!(r["covenants"]["max_lev"]["cure"]["amount"]["amount"], "250000");
    assert_eq!(r["values"]["one_injection"]["amount"], "250000");
    // One cure in the last four quarters: the 2-in-4 limit still allows one.
    assert_eq!(r["values"]["dscr_cure_allowed"], true);
}

#[test]
fn cure_fields_are_zero_when_passing_and_follow_the_limits() {
    // Debt service 500,000: DSCR 1.6x passes; leverage 3,000,000 / 1,000,000 = 3.0x passes.
    // Both cure amounts are 0. Two cures in the last four quarters: the limit forbids a third.
    let r = cures("500000", "3000000", &["2025-06-30", "2025-12-31"]);
    assert_eq!(r["covenants"]["min_dscr"]["status"], "pass");
    assert_eq!(r["values"]["one_injection"]["amount"], "0");
    assert_eq!(r["values"]["dscr_cure_allowed"], false);
}

#[test]
fn reading_a_cure_amount_that_does_not_exist_is_an_error_for_that_value() {
    // A debt of 10^16 against 1,000,000 of EBITDA needs EBITDA of 2.5 × 10^15 for 4.0x, a cure
    // beyond the search's 10^15 ceiling: no amount restores compliance, so reading
    // `max_lev.cure_amount` fails, and only the values that read it.
    let data = json!({"as_of": "2026-03-31", "gpus": [{"count": 100, "rate": "10000"}], "opex": "200000",
                      "debt_service": "500000", "debt": "10000000000000000", "ebitda": "1000000", "cures": []});
    let r = json_of(&report(CURES, &data));
    assert_eq!(r["covenants"]["max_lev"]["status"], "breach");
    assert_eq!(r["values"]["one_injection"], Json::Null);
    assert_eq!(r["values"]["cfads"]["amount"], "800000");
    let messages: Vec<&str> = r["errors"].as_array().into_iter().flatten().filter_map(|e| e["message"].as_str()).collect();
    assert!(messages.iter().any(|m| m.starts_with("`max_lev` has no cure amount")), "{messages:?}");
}

#[test]
fn a_cure_target_the_requirement_does_not_read_is_refused_naming_what_it_reads() {
    let src = CURES.replace("cure equity into input.ebitda", "cure equity into cfads");
    let err = Program::compile("test.cov", &src).err().map(|e| format!("{e:?}")).unwrap_or_default();
    assert!(err.contains("does not depend on `cfads`"), "{err}");
    assert!(err.contains("`input.debt`, `input.ebitda`"), "{err}");
    // An input the requirement does not read is refused the same way.
    let src = CURES.replace("cure equity into input.ebitda", "cure equity into input.opex");
    let err = Program::compile("test.cov", &src).err().map(|e| format!("{e:?}")).unwrap_or_default();
    assert!(err.contains("does not depend on `input.opex`"), "{err}");
}

#[test]
fn cure_fields_exist_only_with_a_cure_clause() {
    let src = "input { as_of: Date  x: Number }\ncovenant c { require input.x >= 1 }\nlet a = c.cure_amount\n";
    let err = Program::compile("test.cov", src).err().map(|e| format!("{e:?}")).unwrap_or_default();
    assert!(err.contains("cure_amount"), "{err}");
}
