//! The reference facility of the benchmarks (BENCHMARKS.md, "The reference facility"): the
//! program, its data with N positions, and the same rules by hand in Rust, the floor. Shared
//! by `benches/evaluate.rs` and `examples/typed_loop.rs`, which includes it by path.

use crate::peers::{self, Verdict};

/// A GPU asset-backed facility: age-based advance rates, a residual curve, DSCR and LTV
/// covenants, an LTV margin call.
pub const PROGRAM: &str = r#"
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

pub fn facility_with(positions: usize, as_of: &str, outstanding: u64, ebitda: u64) -> String {
    let gpus: Vec<String> =
        (0..positions).map(|i| format!(r#"{{"count": {}, "purchase_date": "202{}-0{}-15", "unit_cost": "30000"}}"#, 100 + i, 3 + i % 3, 1 + i % 9)).collect();
    format!(
        r#"{{"as_of": "{as_of}", "loan": {{"outstanding": "{outstanding}"}}, "ttm": {{"ebitda": "{ebitda}", "debt_service": "45000000"}}, "gpus": [{}]}}"#,
        gpus.join(",")
    )
}

/// The same rules by hand: the floor an interpreter is measured against. The residual curve
/// divides in Covenant's order; a position's eligible value is the plain product, where the
/// program goes through price, market value and haircut. Multiplication in another order
/// may round differently at the 28th digit, and the setup checks that it does not here.
pub mod native {
    use covenant::dates::Date;
    use rust_decimal::Decimal;

    use crate::peers::Verdict;

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

    /// `due 2 business days`: counted from the day after as_of, weekends skipped (the
    /// program declares no holidays).
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

    pub fn evaluate(facility: &Facility) -> Verdict {
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
        Verdict { eligible, ltv, dscr_ok: dscr >= Decimal::new(125, 2), ltv_ok: ltv <= Decimal::new(80, 2), call, due }
    }
}

pub fn native_facility(json: &serde_json::Value) -> native::Facility {
    let date = |v: &serde_json::Value| covenant::dates::Date::parse(peers::text(v)).expect("a date");
    native::Facility {
        as_of: date(&json["as_of"]),
        outstanding: peers::decimal(&json["loan"]["outstanding"]),
        ebitda: peers::decimal(&json["ttm"]["ebitda"]),
        debt_service: peers::decimal(&json["ttm"]["debt_service"]),
        gpus: json["gpus"]
            .as_array()
            .expect("gpus is a list")
            .iter()
            .map(|g| native::Gpu { count: peers::decimal(&g["count"]), purchase: date(&g["purchase_date"]), unit_cost: peers::decimal(&g["unit_cost"]) })
            .collect(),
    }
}

/// The verdict read from Covenant's typed results, as an embedding system acts on them.
pub fn covenant_typed_verdict(evaluation: &covenant::Evaluation<'_>) -> Verdict {
    use covenant::lending::CovenantStatus;
    let call = evaluation.margin_call("ltv_call").expect("a margin call");
    Verdict {
        eligible: evaluation.pool("gpus").expect("a pool").eligible_value,
        ltv: evaluation.value("ltv").and_then(covenant::value::Value::num).expect("an ltv"),
        dscr_ok: evaluation.covenant("min_dscr").expect("a covenant").status == CovenantStatus::Pass,
        ltv_ok: evaluation.covenant("max_ltv").expect("a covenant").status == CovenantStatus::Pass,
        call: call.amount,
        due: call.due,
    }
}
