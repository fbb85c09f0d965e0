//! The sale rule of §14.2 (no sale past the proceeds peak) and exact proceeds, with the
//! arithmetic worked out in each test's comments.

use covenant::{Program, Report};
use serde_json::Value as Json;

fn report(src: &str, data: &str) -> Report {
    let program = Program::compile("test.cov", src).unwrap_or_else(|e| panic!("compile: {e:?}"));
    program.evaluate(data, None).unwrap_or_else(|e| panic!("evaluate: {e}"))
}

fn sale(r: &Report, liquidation: &str, i: usize) -> Json {
    serde_json::to_value(&r.liquidations[liquidation].sales[i]).unwrap_or_default()
}

const FLEET: &str = r#"
import std.liquidity
input { as_of: Date  debt: Money(USD)  units: Number  absorption: Number }
collateral gpus {
  quantity input.units
  price    10_000 USD
  liquidation discount absorption_discount(sold, input.absorption, 10%, 5%)
}
liquidation enforcement {
  debt input.debt
  sell gpus
}
"#;

fn fleet(debt: &str, units: u32, absorption: u32) -> Report {
    report(FLEET, &format!(r#"{{"as_of": "2026-03-31", "debt": "{debt}", "units": {units}, "absorption": {absorption}}}"#))
}

#[test]
fn a_thin_market_is_sold_to_its_peak_and_the_rest_held_back() {
    // Selling n > 100 units fetches n × 10,000 × (1 − 0.10 − 0.05 × (n / 100 − 1))
    // = n × 10,000 × (0.95 − 0.0005 n), which peaks at n = 0.95 / 0.001 = 950:
    // 950 × 10,000 × 0.475 = 4,512,500 (949 and 951 fetch 4,512,499.5).
    // A debt of 10m is not covered by the peak: 950 sold, 1,050 of 2,000 held back.
    // Dumping all 2,000 would fetch 2,000 × 10,000 × (0.95 − 1) → discount clamped to 1: 0.
    let r = fleet("10000000", 2000, 100);
    let s = sale(&r, "enforcement", 0);
    assert_eq!(s["units"], "950");
    assert_eq!(s["held_back"], "1050");
    assert_eq!(s["discount"], "0.525");
    assert_eq!(s["proceeds"]["amount"], "4512500");
    assert_eq!(r.collateral["gpus"].realisable_value.as_ref().map(|m| m.amount.as_str()), Some("4512500"));
    let l = &r.liquidations["enforcement"];
    assert_eq!(l.shortfall.as_ref().map(|m| m.amount.as_str()), Some("5487500"));
}

#[test]
fn a_debt_the_peak_covers_sells_the_least_lots_below_the_peak() {
    // 3m to raise: least n with n × 10,000 × (0.95 − 0.0005 n) ≥ 3,000,000:
    // 0.0005 n² − 0.95 n + 300 ≤ 0 → n ≥ (0.95 − sqrt(0.9025 − 0.6)) / 0.001 = 400.04...
    // 400 fetch 400 × 10,000 × 0.75 = 3,000,000 exactly; 399 fetch 399 × 10,000 × 0.7505
    // = 2,994,495. So 400, nothing held back (the field is absent).
    let r = fleet("3000000", 2000, 100);
    let s = sale(&r, "enforcement", 0);
    assert_eq!(s["units"], "400");
    assert_eq!(s["proceeds"]["amount"], "3000000");
    assert!(s.get("held_back").is_none(), "{s}");
}

#[test]
fn a_pool_that_rises_throughout_is_sold_whole_when_it_cannot_cover() {
    // Absorption 10,000 a month: 2,000 units are within the first month, discount 10%
    // flat; the whole pool fetches 2,000 × 10,000 × 0.9 = 18m < 20m, so all is sold and
    // nothing is held back.
    let r = fleet("20000000", 2000, 10000);
    let s = sale(&r, "enforcement", 0);
    assert_eq!(s["units"], "2000");
    assert_eq!(s["proceeds"]["amount"], "18000000");
    assert!(s.get("held_back").is_none(), "{s}");
}

#[test]
fn proceeds_are_the_units_share_of_the_market_value_exactly() {
    // Three GPUs, two at 20,000 and one at 30,000: 70,000 in all, an average price of
    // 23,333.33… that no decimal holds. Selling all three must gross exactly 70,000 and
    // cover a 70,000 debt, leaving the BTC untouched. A rounded average price × 3 fell
    // 1e-24 short and sold a BTC lot as well.
    let src = r#"
input { as_of: Date  gpus: List<{ count: Number, price: Money(USD) }> }
collateral gpus for g in input.gpus {
  quantity g.count
  price    g.price
}
collateral btc {
  quantity 10
  price    50_000 USD
  lot      0.01
}
liquidation enforcement {
  debt 70_000 USD
  sell gpus, btc
}
"#;
    let data = r#"{"as_of": "2026-03-31", "gpus": [{"count": 2, "price": "20000"}, {"count": 1, "price": "30000"}]}"#;
    let r = report(src, data);
    let gpus = sale(&r, "enforcement", 0);
    let btc = sale(&r, "enforcement", 1);
    assert_eq!(gpus["units"], "3");
    assert_eq!(btc["units"], "0", "{btc}");
    let l = &r.liquidations["enforcement"];
    assert_eq!(l.shortfall.as_ref().map(|m| m.amount.as_str()), Some("0"));
}

#[test]
fn an_unsold_pool_whose_discount_fails_at_zero_does_not_fail_the_sale() {
    // The reserve covers the 1m debt, so the fleet is reached with nothing left to raise.
    // Its model divides by `sold` and cannot be evaluated at 0 units: the sale is still
    // reported, the fleet with 0 units and no discount.
    let src = r#"
input { as_of: Date }
collateral reserve {
  quantity 1_000_000
  price    1 USD
}
collateral fleet {
  quantity 100
  price    10_000 USD
  liquidation discount 1 / sold
}
liquidation enforcement {
  debt 1_000_000 USD
  sell reserve, fleet
}
"#;
    let r = report(src, r#"{"as_of": "2026-03-31"}"#);
    let l = &r.liquidations["enforcement"];
    assert_eq!(l.status, None, "{:?}", r.errors);
    let fleet = sale(&r, "enforcement", 1);
    assert_eq!(fleet["units"], "0");
    assert!(fleet.get("discount").is_none(), "{fleet}");
    assert_eq!(l.proceeds.as_ref().map(|m| m.amount.as_str()), Some("1000000"));
}

/// A discount that rises and falls many times over (its schedule cycles every three units
/// through 5%, 60%, 20%, 85%, 40%, 95%), so proceeds have many local peaks: the lots found
/// depend on exactly which counts the searches probe, and in what order. The searches (the
/// proceeds peak, the least covering sale, the least sale to a target) run on the crate's
/// one bisection (`covenant::solve::bisect`); these figures are the ones the loops they
/// replaced found, and pin the probe order.
#[test]
fn a_discount_with_many_peaks_pins_the_searches_probe_order() {
    let rates = [5, 60, 20, 85, 40, 95];
    let rows: String = (0..133).map(|i| format!("  < {} => {}%\n", 1 + 3 * i, rates[i % rates.len()])).collect();
    let source = format!(
        r#"
input {{ as_of: Date  coins: Number  debt: Money(USD) }}
schedule wiggle(s: Number) -> Number {{
{rows}  else => 50%
}}
collateral a {{ quantity input.coins  price 100 USD  lot 1  liquidation discount wiggle(sold) }}
collateral b {{ quantity input.coins  price 100 USD  lot 1  liquidation discount wiggle(sold + 5) }}
let ltv = input.debt / (a.market_value + b.market_value)
liquidation all_out {{ debt input.debt  sell a, b }}
liquidation partial {{ debt input.debt  sell a, b  until ltv <= 30% }}
"#
    );
    let facts = |coins: u32, debt: u32| {
        let r = report(&source, &format!(r#"{{"as_of": "2026-03-31", "coins": {coins}, "debt": "{debt}"}}"#));
        let units = |l: &str| (0..2).map(|i| sale(&r, l, i)["units"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>().join(" ");
        (units("all_out"), units("partial"), r.collateral["a"].realisable_value.clone(), r.collateral["b"].realisable_value.clone())
    };
    let money = |amount: &str| Some(covenant::report::Money { amount: amount.into(), currency: "USD".into() });
    // (units sold of a and b: to cover the debt, to the LTV target; a's and b's realisable value)
    assert_eq!(facts(300, 20_000), ("300 119".into(), "100 0".into(), money("18000"), money("28500")));
    assert_eq!(facts(377, 5_000), ("232 0".into(), "0 0".into(), money("35815"), money("30160")));
    assert_eq!(facts(120, 9_000), ("120 29".into(), "52 0".into(), money("7200"), money("11400")));
    assert_eq!(facts(1_000, 100_000), ("1000 1000".into(), "1000 1000".into(), money("50000"), money("50000")));
    assert_eq!(facts(250, 1_234), ("70 0".into(), "0 0".into(), money("23750"), money("10000")));
}

/// A pool whose discount is a standard-library model has its lot searches aimed by the
/// proceeds; the same model written as the program's own function is searched by bisection.
/// Over quantities, lot sizes, debts and market depths where the proceeds peak inside the
/// pool, at its end, or where the discount reaches 1, both find the same lots, discounts and
/// proceeds, and the same peak.
#[test]
fn aimed_lot_searches_find_what_a_bisection_finds() {
    let program = |impact: &str, absorb: &str| {
        let source = format!(
            r#"
import std.liquidity
input {{ as_of: Date  coins: Number  lot: Number  volume: Number  vol: Number  units: Number  absorption: Number  per_month: Number  debt: Money(USD) }}
fn own_sqrt_impact(sold: Number, daily_volume: Number, daily_vol: Number) -> Number =
  if daily_volume <= 0 then 1 else daily_vol * sqrt(sold / daily_volume)
fn own_absorption(sold: Number, monthly_absorption: Number, base: Number, per_month: Number) -> Number =
  if monthly_absorption <= 0 then 1
  else min(1, base + per_month * max(0, sold / monthly_absorption - 1))
collateral coins {{ quantity input.coins  price 40_000 USD  lot input.lot  liquidation discount {impact}(sold, input.volume, input.vol) }}
collateral gpus {{ quantity input.units  price 12_500 USD  liquidation discount {absorb}(sold, input.absorption, 12%, input.per_month) }}
liquidation coins_first {{ debt input.debt  sell coins, gpus }}
liquidation gpus_first {{ debt input.debt  sell gpus, coins }}
"#
        );
        Program::compile("aimed.cov", &source).unwrap_or_else(|e| panic!("compile: {e:?}"))
    };
    let aimed = program("sqrt_impact", "absorption_discount");
    let bisected = program("own_sqrt_impact", "own_absorption");
    let mut compared = 0;
    let mut covered_inside = 0;
    for (coins, lot) in [("1500", "0.01"), ("37.5", "0.5"), ("250000", "1"), ("0.3", "0.01")] {
        for (volume, vol) in [("25000", "0.035"), ("40", "0.08"), ("0", "0.04"), ("1000", "0.6")] {
            for (units, absorption, per_month) in [("3072", "400", "0.03"), ("10000", "120", "0.05"), ("50", "0", "0.02"), ("700", "300", "0")] {
                for debt in ["1", "750000", "19999999.99", "75750000", "5000000000"] {
                    let data = format!(
                        r#"{{"as_of": "2026-03-31", "coins": {coins}, "lot": {lot}, "volume": {volume}, "vol": {vol}, "units": {units}, "absorption": {absorption}, "per_month": {per_month}, "debt": "{debt}"}}"#
                    );
                    let a = aimed.evaluate(&data, None).unwrap_or_else(|e| panic!("{data}: {e}"));
                    let b = bisected.evaluate(&data, None).unwrap_or_else(|e| panic!("{data}: {e}"));
                    let json = |r: &Report| serde_json::to_string(&(&r.collateral, &r.liquidations)).unwrap_or_default();
                    assert_eq!(json(&a), json(&b), "{data}");
                    let held = |r: &Report, l: &str| r.liquidations[l].sales.iter().any(|s| serde_json::to_value(s).unwrap_or_default().get("held_back").is_some());
                    let first = sale(&a, "coins_first", 0);
                    if first["units"] != serde_json::json!("0") && first["units"].as_str() != Some(coins) && !held(&a, "coins_first") {
                        covered_inside += 1;
                    }
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 320);
    // The comparisons reach the searches: many debts are covered by part of the first pool.
    assert!(covered_inside >= 40, "{covered_inside} covered inside the pool");
}

/// Only a standard-library model of `sold` itself is aimed: not the program's own function
/// of the same name's shape, not a model of something else than `sold`, not a model whose
/// other arguments read `sold`.
#[test]
fn only_a_standard_model_of_sold_is_a_standard_discount() {
    let flagged = |discount: &str, own: &str| {
        let source = format!(
            "import std.liquidity\ninput {{ as_of: Date  n: Number }}\n{own}\ncollateral c {{ quantity input.n  price 1 USD  liquidation discount {discount} }}\n"
        );
        let program = Program::compile("flag.cov", &source).unwrap_or_else(|e| panic!("{discount}: {e:?}"));
        program.ir().pools[0].standard_discount
    };
    assert!(flagged("sqrt_impact(sold, 100, 4%)", ""));
    assert!(flagged("absorption_discount(sold, input.n / 2, 15%, 3%)", ""));
    assert!(flagged("fixed_discount(sold, 20%)", ""));
    assert!(!flagged("sqrt_impact(sold * 2, 100, 4%)", ""));
    assert!(!flagged("sqrt_impact(sold, sold + 100, 4%)", ""));
    assert!(!flagged("min(1, sqrt_impact(sold, 100, 4%))", ""));
    assert!(!flagged("own(sold)", "fn own(s: Number) -> Number = s / 1000"));
}

/// Where the proceeds peak at, just before or just after the pool's last lot, the last lot
/// adds almost nothing: the one-probe shortcut for a pool still clearly rising must step
/// aside, and the aimed search find what a bisection of the program's own function finds.
/// sqrt impact with a daily volume of 40 and a 0.08 volatility peaks at 4 × 40 ÷ (9 × 0.08²)
/// = 2,777.78 coins.
#[test]
fn a_pool_ending_at_its_proceeds_peak_is_searched_as_a_bisection_searches_it() {
    let program = |impact: &str| {
        let source = format!(
            r#"
import std.liquidity
input {{ as_of: Date  coins: Number  debt: Money(USD) }}
fn own_sqrt_impact(sold: Number, daily_volume: Number, daily_vol: Number) -> Number =
  if daily_volume <= 0 then 1 else daily_vol * sqrt(sold / daily_volume)
collateral coins {{ quantity input.coins  price 40_000 USD  lot 0.01  liquidation discount {impact}(sold, 40, 0.08) }}
liquidation sale {{ debt input.debt  sell coins }}
"#
        );
        Program::compile("peak.cov", &source).unwrap_or_else(|e| panic!("compile: {e:?}"))
    };
    let (aimed, bisected) = (program("sqrt_impact"), program("own_sqrt_impact"));
    let mut held_back = 0;
    for coins in ["2777.70", "2777.76", "2777.77", "2777.78", "2777.79", "2777.80", "2777.9", "2700", "2790"] {
        let data = format!(r#"{{"as_of": "2026-03-31", "coins": {coins}, "debt": "1000000000"}}"#);
        let a = aimed.evaluate(&data, None).unwrap_or_else(|e| panic!("{data}: {e}"));
        let b = bisected.evaluate(&data, None).unwrap_or_else(|e| panic!("{data}: {e}"));
        let json = |r: &Report| serde_json::to_string(&(&r.collateral, &r.liquidations)).unwrap_or_default();
        assert_eq!(json(&a), json(&b), "{data}");
        if sale(&a, "sale", 0).get("held_back").is_some() {
            held_back += 1;
        }
    }
    // The lots past 2,777.78 are held back: in the pools of 2,777.79, 2,777.80, 2,777.9 and
    // 2,790 coins; the lot from 2,777.77 to 2,777.78 still adds, its middle before the peak.
    assert_eq!(held_back, 4, "pools held back");
}
