//! Language v0.3 (§15 of the design): named calendars and joint business days, computed due
//! dates and durations, list concatenation. Dates are worked out in the comments.

use covenant::{Program, Report};
use serde_json::{json, Value as Json};

fn report(src: &str, data: &Json) -> Report {
    let program = Program::compile("test.cov", src).unwrap_or_else(|e| panic!("compile: {e:?}"));
    program.evaluate(&data.to_string(), None).unwrap_or_else(|e| panic!("evaluate: {e}"))
}

fn json_of(r: &Report) -> Json {
    serde_json::to_value(r).unwrap_or_default()
}

/// Every diagnostic's message and help, rendered as text.
fn compile_error(src: &str) -> String {
    let Some(e) = Program::compile("test.cov", src).err() else { return String::new() };
    e.diagnostics.iter().map(|d| format!("{d} / {}\n", d.help().map(|h| h.to_string()).unwrap_or_default())).collect()
}

const CENTRES: &str = r#"
input { as_of: Date  holidays: { new_york: List<Date>, london: List<Date> }  grace: Number }
calendar new_york { holidays input.holidays.new_york }
calendar london   { holidays input.holidays.london }
let ny        = as_of + 1 business day in new_york
let both      = as_of + 1 business day in new_york and london
let weekdays  = as_of + 1 business day
let computed  = as_of + (input.grace) business days in london
let back      = 2026-04-07 - 1 business day in london
let lon_open  = is_business_day(2026-04-06, london)
let ny_open   = is_business_day(2026-04-06, new_york)
let every     = input.holidays.new_york + input.holidays.london
let later     = as_of + (input.grace) quarters
margin_call on_a_date { trigger true  amount 1 USD  due 2026-05-01 }
margin_call joint     { trigger true  amount 1 USD  due (input.grace) business days in new_york and london }
"#;

fn centres(grace: &str) -> Json {
    // Thursday 2026-04-02. Good Friday 04-03 is a holiday in both centres, Easter Monday
    // 04-06 in London only.
    let data = json!({"as_of": "2026-04-02", "holidays": {"new_york": ["2026-04-03"], "london": ["2026-04-03", "2026-04-06"]}, "grace": grace});
    json_of(&report(CENTRES, &data))
}

#[test]
fn business_days_are_counted_in_the_named_calendars() {
    let r = centres("2");
    let v = &r["values"];
    // New York: Friday is a holiday, the weekend is skipped: Monday 04-06.
    assert_eq!(v["ny"], "2026-04-06");
    // Both centres open: Monday is closed in London, so Tuesday 04-07.
    assert_eq!(v["both"], "2026-04-07");
    // No default calendar is declared, so the default counts weekends only: Friday 04-03.
    assert_eq!(v["weekdays"], "2026-04-03");
    // Two London business days: Tuesday 04-07, Wednesday 04-08.
    assert_eq!(v["computed"], "2026-04-08");
    // One London business day before Tuesday 04-07: Monday and Friday are holidays,
    // the weekend is skipped, so Thursday 04-02.
    assert_eq!(v["back"], "2026-04-02");
    assert_eq!((&v["lon_open"], &v["ny_open"]), (&json!(false), &json!(true)));
    assert_eq!(v["every"], json!(["2026-04-03", "2026-04-03", "2026-04-06"]));
    // Two quarters are six months: 2026-10-02.
    assert_eq!(v["later"], "2026-10-02");
}

#[test]
fn a_margin_call_is_due_on_a_date_or_a_computed_joint_duration() {
    let r = centres("2");
    assert_eq!(r["margin_calls"]["on_a_date"]["due"], "2026-05-01");
    // Two days open in both centres after Thursday 04-02: Tuesday 04-07, Wednesday 04-08.
    assert_eq!(r["margin_calls"]["joint"]["due"], "2026-04-08");
}

#[test]
fn a_computed_count_must_be_whole() {
    let r = centres("1.5");
    assert_eq!(r["values"]["computed"], Json::Null);
    assert_eq!(r["margin_calls"]["joint"]["status"], "error");
    let messages: Vec<&str> = r["errors"].as_array().into_iter().flatten().filter_map(|e| e["message"].as_str()).collect();
    assert!(messages.contains(&"a duration's count must be a whole number, found 1.5"), "{messages:?}");
    // The values that do not read the count are untouched.
    assert_eq!(r["values"]["both"], "2026-04-07");
}

#[test]
fn calendar_mistakes_are_compile_errors() {
    let base = "input { as_of: Date }\ncalendar london { holidays [] }\n";
    let unknown = compile_error(&format!("{base}let a = as_of + 1 business day in lundon\n"));
    assert!(unknown.contains("unknown calendar `lundon`") && unknown.contains("london"), "{unknown}");
    let days = compile_error(&format!("{base}let a = as_of + 1 day in london\n"));
    assert!(days.contains("only business days are counted in a calendar"), "{days}");
    let twice = compile_error("input { as_of: Date }\ncalendar { holidays []  holidays [] }\n");
    assert!(twice.contains("`holidays` is given twice in `calendar`"), "{twice}");
    let named_twice = compile_error(&format!("{base}calendar london {{ holidays [] }}\n"));
    assert!(named_twice.contains("london"), "{named_twice}");
    let not_a_name = compile_error(&format!("{base}let a = is_business_day(as_of, 3)\n"));
    assert!(not_a_name.contains("the second argument of `is_business_day` is a calendar's name"), "{not_a_name}");
    let mixed = compile_error("input { as_of: Date }\nlet a = [1] + [2026-01-01]\n");
    assert!(mixed.contains("`+` joins lists whose elements have one type"), "{mixed}");
    let due = compile_error("input { as_of: Date }\nmargin_call c { trigger true  amount 1 USD  due 5 }\n");
    assert!(due.contains("a Duration or a Date"), "{due}");
}

#[test]
fn lists_compared_whole_get_a_help_that_says_how_to_compare_them() {
    let err = compile_error("input { as_of: Date }\nlet a = [1] == [1]\n");
    assert!(err.contains("not compared whole") && err.contains("len(xs) == 2"), "{err}");
}

const PARTIAL: &str = r#"
input { as_of: Date  debt: Money(USD)  coins: Number  price: Money(USD)  cash: Money(USD)  haircut: Number }
let debt = input.debt
collateral cash { quantity amount(input.cash)  price 1 USD  lot 0.01 }
collateral btc  { quantity input.coins  price input.price  haircut input.haircut }
let ltv = debt / (cash.eligible_value + btc.eligible_value)
liquidation partial_sale "Sell until LTV is back at 60%" {
  trigger ltv > 85%
  debt    debt
  sell    cash, btc
  until   ltv <= 60%
}
let sold_btc = partial_sale.units.btc
let met = partial_sale.target_met
"#;

fn partial(debt: &str, cash: &str, haircut: &str) -> Json {
    let data = json!({"as_of": "2026-03-31", "debt": debt, "coins": 1000, "price": "60000", "cash": cash, "haircut": haircut});
    json_of(&report(PARTIAL, &data))
}

fn units(r: &Json) -> Vec<(String, String)> {
    let sales = r["liquidations"]["partial_sale"]["sales"].as_array().cloned().unwrap_or_default();
    sales.iter().map(|s| (s["pool"].as_str().unwrap_or("").to_string(), s["units"].as_str().unwrap_or("").to_string())).collect()
}

#[test]
fn a_partial_liquidation_sells_the_least_that_restores_the_target() {
    // 1,000 BTC at 60,000 against 54m: LTV 90%. Selling u coins (no haircut, no discount)
    // leaves (54m − 60,000 u) / (60,000 (1,000 − u)) ≤ 0.6 ⇔ 18m ≤ 24,000 u ⇔ u ≥ 750:
    // 749 coins leave 9.06m / 15.06m = 60.16%, 750 leave 9m / 15m = 60% exactly.
    let r = partial("54000000", "0", "0");
    assert_eq!(units(&r), [("cash".to_string(), "0".to_string()), ("btc".to_string(), "750".to_string())]);
    assert_eq!(r["liquidations"]["partial_sale"]["target_met"], true);
    assert_eq!(r["values"]["sold_btc"], "750");
    assert_eq!(r["liquidations"]["partial_sale"]["proceeds"]["amount"], "45000000");
    // 3m of cash first: LTV 54 / 63 = 85.7%. All the cash leaves 51m against 60m (85%),
    // then 51m − 60,000 u ≤ 0.6 × 60,000 (1,000 − u) ⇔ u ≥ 625.
    let r = partial("54000000", "3000000", "0");
    assert_eq!(units(&r), [("cash".to_string(), "3000000".to_string()), ("btc".to_string(), "625".to_string())]);
}

#[test]
fn a_target_that_selling_cannot_reach_sells_everything_and_says_so() {
    // With a 50% haircut the LTV is 130m / 30m = 433%, above 1 / (1 − 50%) = 200%: each coin
    // sold cuts the debt by 60,000 but the eligible value by only 30,000, so the LTV rises
    // with every sale and no sale reaches 60%. Everything listed is sold.
    let r = partial("130000000", "0", "0.5");
    assert_eq!(r["liquidations"]["partial_sale"]["target_met"], false);
    assert_eq!(r["values"]["met"], false);
    assert_eq!(units(&r), [("cash".to_string(), "0".to_string()), ("btc".to_string(), "1000".to_string())]);
}

#[test]
fn a_liquidation_to_a_target_needs_a_named_debt_and_a_condition() {
    let base = "input { as_of: Date  d: Money(USD) }\ncollateral c { quantity 1  price 1 USD }\n";
    let expr = compile_error(&format!("{base}liquidation l {{ debt input.d * 2  sell c  until true }}\n"));
    assert!(expr.contains("pays down a named figure"), "{expr}");
    let cond = compile_error(&format!("{base}liquidation l {{ debt input.d  sell c  until 1 }}\n"));
    assert!(cond.contains("Bool"), "{cond}");
    let units = compile_error(&format!("{base}collateral e {{ quantity 1  price 1 USD }}\nliquidation l {{ debt input.d  sell c }}\nlet x = l.units.e\n"));
    assert!(units.contains("`e`"), "{units}");
}
