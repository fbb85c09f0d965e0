//! A fixed amount of typed evaluation, for counting instructions (BENCHMARKS.md, "The
//! tracer"): the benchmark's reference facility with `POSITIONS` positions, evaluated
//! `ITERATIONS` times through `run_bound`, or explained when the third argument is `explain`.
//! With `native` as the third argument it runs the benchmark's hand-written Rust floor
//! instead, so that the interpreter's cost can be read as a ratio of instructions.
//!
//!     cargo build --release --example typed_loop
//!     valgrind --tool=callgrind target/release/examples/typed_loop 50 200
//!     valgrind --tool=callgrind target/release/examples/typed_loop 50 200 native
//!
//! With `ratio` (and a number of rounds, 31 unless given) it times the two in alternating
//! rounds of `ITERATIONS` evaluations each, in one process, and prints the ratio of their
//! fastest rounds and the median of the rounds' ratios: on a shared machine the fastest
//! round is the one least disturbed, and a ratio taken round by round compares the two
//! under the same disturbance.
//!
//!     target/release/examples/typed_loop 5 20000 ratio

use std::time::Instant;

use covenant::dates::Date;
use covenant::Program;
use rust_decimal::Decimal;

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

/// The hand-written floor of `benches/evaluate.rs` (`native::evaluate`), returning the
/// eligible value, the LTV, the DSCR test, the call and its due date.
mod native {
    use covenant::dates::Date;
    use rust_decimal::Decimal;

    pub struct Gpu {
        pub count: Decimal,
        pub purchase: Date,
        pub unit_cost: Decimal,
    }

    pub struct Facility {
        pub as_of: Date,
        pub outstanding: Decimal,
        pub ebitda: Decimal,
        pub debt_service: Decimal,
        pub gpus: Vec<Gpu>,
    }

    fn advance_rate(age: i64) -> Decimal {
        match age {
            a if a < 12 => Decimal::new(70, 2),
            a if a < 24 => Decimal::new(50, 2),
            a if a < 36 => Decimal::new(30, 2),
            _ => Decimal::ZERO,
        }
    }

    fn residual(age: i64) -> Decimal {
        const POINTS: [(i64, Decimal); 4] = [
            (0, Decimal::ONE),
            (12, Decimal::from_parts(65, 0, 0, false, 2)),
            (24, Decimal::from_parts(40, 0, 0, false, 2)),
            (48, Decimal::from_parts(10, 0, 0, false, 2)),
        ];
        let (first_age, first_value) = POINTS[0];
        let (last_age, last_value) = POINTS[POINTS.len() - 1];
        if age <= first_age {
            return first_value;
        }
        if age >= last_age {
            return last_value;
        }
        let x = Decimal::from(age);
        for pair in POINTS.windows(2) {
            let [(xa, ya), (xb, yb)] = [pair[0], pair[1]];
            if age <= xb {
                let t = (x - Decimal::from(xa)) / Decimal::from(xb - xa);
                return ya + (yb - ya) * t;
            }
        }
        last_value
    }

    fn add_business_days(from: Date, count: u32) -> Date {
        let mut day = from;
        let mut left = count;
        while left > 0 {
            day = day.add_days(1).expect("the due date stays within years 1 to 9999");
            if !day.is_weekend() {
                left -= 1;
            }
        }
        day
    }

    pub fn evaluate(facility: &Facility) -> (Decimal, Decimal, bool, Decimal, Date) {
        let mut eligible = Decimal::ZERO;
        for g in &facility.gpus {
            let age = g.purchase.months_until(facility.as_of);
            eligible += g.count * g.unit_cost * residual(age) * advance_rate(age);
        }
        let debt = facility.outstanding;
        let ltv = debt / eligible;
        let dscr = facility.ebitda / facility.debt_service;
        let due = add_business_days(facility.as_of, 2);
        let call = if ltv > Decimal::new(75, 2) {
            let raw = (debt / Decimal::new(65, 2) - eligible).max(Decimal::ZERO);
            let increment = Decimal::from(10_000);
            if raw < Decimal::from(250_000) {
                Decimal::ZERO
            } else {
                (raw / increment).ceil() * increment
            }
        } else {
            Decimal::ZERO
        };
        (eligible, ltv, dscr >= Decimal::new(125, 2), call, due)
    }
}

fn native_facility(json: &serde_json::Value) -> native::Facility {
    let decimal = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.parse::<Decimal>().unwrap(),
        other => other.to_string().parse::<Decimal>().unwrap(),
    };
    let date = |v: &serde_json::Value| Date::parse(v.as_str().unwrap()).unwrap();
    native::Facility {
        as_of: date(&json["as_of"]),
        outstanding: decimal(&json["loan"]["outstanding"]),
        ebitda: decimal(&json["ttm"]["ebitda"]),
        debt_service: decimal(&json["ttm"]["debt_service"]),
        gpus: json["gpus"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| native::Gpu { count: decimal(&g["count"]), purchase: date(&g["purchase_date"]), unit_cost: decimal(&g["unit_cost"]) })
            .collect(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let positions: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let iterations: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let explain = args.get(3).is_some_and(|a| a == "explain");
    if args.get(3).is_some_and(|a| a == "ratio") {
        ratio(positions, iterations, args.get(4).and_then(|a| a.parse().ok()).unwrap_or(31));
        return;
    }
    if args.get(3).is_some_and(|a| a == "native") {
        let data = facility_with(positions, "2026-03-31", positions as u64 * 1_000_000, 50_000_000);
        let facility = native_facility(&serde_json::from_str(&data).unwrap());
        let started = Instant::now();
        let mut breached = 0usize;
        for _ in 0..iterations {
            let (_, _, dscr_ok, _, _) = native::evaluate(std::hint::black_box(&facility));
            breached += usize::from(!dscr_ok);
        }
        let per = started.elapsed() / u32::try_from(iterations.max(1)).unwrap();
        println!("{positions} positions, {iterations} iterations, native: {per:?} each ({breached})");
        return;
    }
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

fn ratio(positions: usize, iterations: usize, rounds: usize) {
    let program = Program::compile("bench.cov", PROGRAM).unwrap();
    let data = facility_with(positions, "2026-03-31", positions as u64 * 1_000_000, 50_000_000);
    let json: serde_json::Value = serde_json::from_str(&data).unwrap();
    let bound = program.bind(&json).unwrap();
    let facility = native_facility(&json);
    let typed_round = || {
        let started = Instant::now();
        let mut breached = 0usize;
        for _ in 0..iterations {
            let evaluation = program.run_bound(std::hint::black_box(bound.clone()), None).unwrap();
            breached += evaluation.covenants().filter(|(_, c)| c.headroom.is_some_and(|h| h.is_sign_negative())).count();
        }
        std::hint::black_box(breached);
        started.elapsed().as_secs_f64() / iterations as f64
    };
    let native_round = || {
        let started = Instant::now();
        let mut breached = 0usize;
        for _ in 0..iterations {
            let (_, _, dscr_ok, _, _) = native::evaluate(std::hint::black_box(&facility));
            breached += usize::from(!dscr_ok);
        }
        std::hint::black_box(breached);
        started.elapsed().as_secs_f64() / iterations as f64
    };
    let (mut typed, mut floor, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so neither always follows the other's cache state.
        let (t, n) = if round % 2 == 0 {
            let t = typed_round();
            (t, native_round())
        } else {
            let n = native_round();
            (typed_round(), n)
        };
        typed.push(t);
        floor.push(n);
        ratios.push(t / n);
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    println!(
        "{positions} positions, {rounds} rounds of {iterations}: typed {:.3} µs, floor {:.3} µs (fastest rounds): {:.2}×; round by round median {:.2}× ({:.2}–{:.2}×)",
        min(&typed) * 1e6,
        min(&floor) * 1e6,
        min(&typed) / min(&floor),
        median,
        ratios[0],
        ratios[ratios.len() - 1]
    );
}
