//! A driver for instruction counts: the benchmark's reference facility (5 positions),
//! bound once and evaluated N times to typed results.
//! `valgrind --tool=callgrind target/release/examples/profile_eval 2000`

use covenant::Program;

const PROGRAM: &str = r#"
import std.lending
input {
  as_of: Date
  loan: { outstanding: Money(USD) }
  ttm: { ebitda: Money(USD), debt_service: Money(USD) }
  gpus: List<{ count: Number, purchase_date: Date, unit_cost: Money(USD) }>
}
schedule advance_rate(age: Number) -> Number { < 12 => 70%  < 24 => 50%  < 36 => 30%  else => 0% }
schedule residual(age: Number) -> Number interpolate { 0 => 100%  12 => 65%  24 => 40%  48 => 10% }
fn age(d: Date) -> Number = months_between(d, as_of)
collateral gpus "GPU fleet" for g in input.gpus {
  quantity g.count
  price    g.unit_cost * residual(age(g.purchase_date))
  haircut  1 - advance_rate(age(g.purchase_date))
}
let debt = input.loan.outstanding
let ltv = debt / gpus.eligible_value
let dscr = input.ttm.ebitda / input.ttm.debt_service
covenant min_dscr { require dscr >= 1.25x }
covenant max_ltv { require ltv <= 80% }
margin_call ltv_call {
  trigger ltv > 75%
  amount collateral_to_restore(debt, gpus.eligible_value, 65%)
  minimum_transfer 250_000 USD
  rounding up 10_000 USD
  due 2 business days
}
"#;

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let positions: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let gpus: Vec<String> =
        (0..positions).map(|i| format!(r#"{{"count": {}, "purchase_date": "202{}-0{}-15", "unit_cost": "30000"}}"#, 100 + i, 3 + i % 3, 1 + i % 9)).collect();
    let data = format!(
        r#"{{"as_of": "2026-03-31", "loan": {{"outstanding": "{}"}}, "ttm": {{"ebitda": "50000000", "debt_service": "45000000"}}, "gpus": [{}]}}"#,
        positions * 1_000_000,
        gpus.join(",")
    );
    let program = Program::compile("bench.cov", PROGRAM).unwrap();
    let json: serde_json::Value = serde_json::from_str(&data).unwrap();
    let bound = program.bind(&json).unwrap();
    let mut eligible = rust_decimal::Decimal::ZERO;
    for _ in 0..runs {
        let evaluation = program.run_bound(std::hint::black_box(bound.clone()), None).unwrap();
        eligible += evaluation.pool("gpus").unwrap().eligible_value;
    }
    println!("{eligible}");
}
