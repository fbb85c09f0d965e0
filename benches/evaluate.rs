//! Compile and evaluation speed, with the same rules written by hand in Rust as the floor.
//! Run: `cargo bench --bench evaluate`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rust_decimal::Decimal;

use covenant::Program;

/// A GPU asset-backed facility: age-based advance rates, a residual curve, DSCR and LTV
/// covenants, an LTV margin call.
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

fn facility(positions: usize) -> String {
    let gpus: Vec<String> = (0..positions)
        .map(|i| format!(r#"{{"count": {}, "purchase_date": "202{}-0{}-15", "unit_cost": "30000"}}"#, 100 + i, 3 + i % 3, 1 + i % 9))
        .collect();
    format!(
        r#"{{"as_of": "2026-03-31", "loan": {{"outstanding": "{}"}}, "ttm": {{"ebitda": "50000000", "debt_service": "45000000"}}, "gpus": [{}]}}"#,
        positions * 1_000_000,
        gpus.join(",")
    )
}

/// The same rules by hand: the floor an interpreter is measured against.
mod native {
    use covenant::dates::Date;
    use rust_decimal::Decimal;

    pub struct Gpu {
        pub count: Decimal,
        pub purchase: Date,
        pub unit_cost: Decimal,
    }

    fn advance(age: i64) -> Decimal {
        match age {
            a if a < 12 => Decimal::new(70, 2),
            a if a < 24 => Decimal::new(50, 2),
            a if a < 36 => Decimal::new(30, 2),
            _ => Decimal::ZERO,
        }
    }

    fn residual(age: i64) -> Decimal {
        let pts = [(0i64, Decimal::ONE), (12, Decimal::new(65, 2)), (24, Decimal::new(40, 2)), (48, Decimal::new(10, 2))];
        if age <= 0 {
            return Decimal::ONE;
        }
        for w in pts.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            if age <= x1 {
                return y0 + (y1 - y0) * Decimal::from(age - x0) / Decimal::from(x1 - x0);
            }
        }
        Decimal::new(10, 2)
    }

    pub fn evaluate(as_of: Date, debt: Decimal, ebitda: Decimal, service: Decimal, gpus: &[Gpu]) -> (bool, bool, Decimal) {
        let mut eligible = Decimal::ZERO;
        for g in gpus {
            let age = g.purchase.months_until(as_of);
            let market = g.count * g.unit_cost * residual(age);
            eligible += market * advance(age);
        }
        let ltv = debt / eligible;
        let dscr = ebitda / service;
        let call = if ltv > Decimal::new(75, 2) {
            let raw = (debt / Decimal::new(65, 2) - eligible).max(Decimal::ZERO);
            (raw / Decimal::from(10_000)).ceil() * Decimal::from(10_000)
        } else {
            Decimal::ZERO
        };
        (dscr >= Decimal::new(125, 2), ltv <= Decimal::new(80, 2), call)
    }
}

fn native_facility(positions: usize) -> Vec<native::Gpu> {
    (0..positions)
        .map(|i| native::Gpu {
            count: Decimal::from(100 + i),
            purchase: covenant::dates::Date::from_ymd(2023 + (i % 3) as i32, 1 + (i % 9) as u32, 15).unwrap(),
            unit_cost: Decimal::from(30_000),
        })
        .collect()
}

fn bench_compile(c: &mut Criterion) {
    c.bench_function("compile/reference", |b| b.iter(|| Program::compile("bench.cov", black_box(PROGRAM)).unwrap()));
    let mut big = String::from("input { as_of: Date  x: Number }\nlet v0 = input.x\n");
    for i in 1..10_000 {
        big.push_str(&format!("let v{i} = v{} * 1.0001 + {i}\n", i - 1));
    }
    c.bench_function("compile/10000_lines", |b| b.iter(|| Program::compile("big.cov", black_box(&big)).unwrap()));
}

fn bench_evaluate(c: &mut Criterion) {
    let program = Program::compile("bench.cov", PROGRAM).unwrap();
    let mut group = c.benchmark_group("evaluate");
    for positions in [5usize, 50, 1000] {
        let data = facility(positions);
        let json: serde_json::Value = serde_json::from_str(&data).unwrap();
        let bound = program.bind(&json).unwrap();
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("covenant_from_text", positions), &data, |b, d| b.iter(|| program.evaluate(black_box(d), None).unwrap()));
        group.bench_with_input(BenchmarkId::new("covenant_bound", positions), &bound, |b, d| {
            b.iter(|| program.evaluate_bound(black_box(d.clone()), None).unwrap())
        });
        let gpus = native_facility(positions);
        let as_of = covenant::dates::Date::from_ymd(2026, 3, 31).unwrap();
        group.bench_with_input(BenchmarkId::new("native_rust", positions), &gpus, |b, g| {
            b.iter(|| {
                native::evaluate(
                    as_of,
                    Decimal::from(positions as i64 * 1_000_000),
                    Decimal::from(50_000_000),
                    Decimal::from(45_000_000),
                    black_box(g),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_compile, bench_evaluate);
criterion_main!(benches);
