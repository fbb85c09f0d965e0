//! A fixed amount of typed evaluation, for counting instructions (BENCHMARKS.md, "The
//! tracer"): the benchmark's reference facility with `POSITIONS` positions, evaluated
//! `ITERATIONS` times through `run_bound`, or explained when the third argument is `explain`.
//!
//!     cargo build --release --example typed_loop
//!     valgrind --tool=callgrind target/release/examples/typed_loop 50 200

use std::time::Instant;

use covenant::Program;

/// The reference facility of `benches/evaluate.rs`.
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

fn facility_with(positions: usize, as_of: &str, outstanding: u64, ebitda: u64) -> String {
    let gpus: Vec<String> =
        (0..positions).map(|i| format!(r#"{{"count": {}, "purchase_date": "202{}-0{}-15", "unit_cost": "30000"}}"#, 100 + i, 3 + i % 3, 1 + i % 9)).collect();
    format!(
        r#"{{"as_of": "{as_of}", "loan": {{"outstanding": "{outstanding}"}}, "ttm": {{"ebitda": "{ebitda}", "debt_service": "45000000"}}, "gpus": [{}]}}"#,
        gpus.join(",")
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let positions: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let iterations: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let explain = args.get(3).is_some_and(|a| a == "explain");
    let program = Program::compile("bench.cov", PROGRAM).unwrap();
    let data = facility_with(positions, "2026-03-31", positions as u64 * 1_000_000, 50_000_000);
    let json: serde_json::Value = serde_json::from_str(&data).unwrap();
    let bound = program.bind(&json).unwrap();
    let started = Instant::now();
    let mut breached = 0usize;
    for _ in 0..iterations {
        let evaluation = program.run_bound(std::hint::black_box(bound.clone()), None).unwrap();
        breached += evaluation.covenants().filter(|(_, c)| c.headroom.is_some_and(|h| h.is_sign_negative())).count();
        if explain {
            let why = evaluation.explain("ltv_call.amount").unwrap();
            breached += why.walk().len();
        }
    }
    let per = started.elapsed() / u32::try_from(iterations.max(1)).unwrap();
    println!("{positions} positions, {iterations} iterations{}: {per:?} each ({breached})", if explain { ", explained" } else { "" });
}
