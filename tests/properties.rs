//! Properties of the lending rules that must hold for any data: collateral is monotone in
//! what is pledged and in its haircut, a cure is the least amount that restores
//! compliance, a liquidation sells the fewest lots that cover the debt, and evaluation is
//! deterministic to the byte. Every figure is built from whole cents, so the expected
//! values can be computed exactly in the test.

use std::str::FromStr;

use covenant::report::Money;
use covenant::{Program, Report};
use proptest::prelude::*;
use proptest::sample::Index;
use rust_decimal::Decimal;
use serde_json::{json, Value as Json};

// ------------------------------------------------------------------ helpers

fn compile(src: &str) -> Program {
    Program::compile("property.cov", src).unwrap_or_else(|e| panic!("compile: {e:?}\n{src}"))
}

fn evaluate(program: &Program, data: &Json) -> Report {
    program.evaluate(&data.to_string(), None).unwrap_or_else(|e| panic!("evaluate: {e}\n{data}"))
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap_or_else(|e| panic!("`{text}` is not a decimal: {e}"))
}

fn amount(m: &Money) -> Decimal {
    assert_eq!(m.currency, "USD");
    dec(&m.amount)
}

fn usd(m: &Option<Money>) -> Decimal {
    amount(m.as_ref().expect("a figure the report should have computed"))
}

/// Decimals go into the data as strings, so nothing passes through a binary float.
fn text(d: Decimal) -> Json {
    Json::String(d.to_string())
}

fn cents(range: std::ops::Range<i64>) -> impl Strategy<Value = Decimal> {
    range.prop_map(|c| Decimal::new(c, 2))
}

/// A fraction in basis points: 10_000 is 1.
fn basis_points(range: std::ops::Range<i64>) -> impl Strategy<Value = Decimal> {
    range.prop_map(|bp| Decimal::new(bp, 4))
}

fn cent() -> Decimal {
    Decimal::new(1, 2)
}

fn clamp01(x: Decimal) -> Decimal {
    x.max(Decimal::ZERO).min(Decimal::ONE)
}

// ------------------------------------------------------------------ collateral pools

const BOOK: &str = "input { as_of: Date  positions: List<{ quantity: Number, price: Money(USD), haircut: Number }> }
collateral book \"Pledged book\" for p in input.positions {
  quantity p.quantity
  price    p.price
  haircut  p.haircut
}
";

#[derive(Clone, Debug)]
struct Position {
    quantity: Decimal,
    price: Decimal,
    haircut: Decimal,
}

fn position() -> impl Strategy<Value = Position> {
    // Haircuts run past both ends of [0, 1] so that clamping is exercised.
    (cents(0..100_000_000), cents(0..1_000_000_000), basis_points(-2_000..12_000))
        .prop_map(|(quantity, price, haircut)| Position { quantity, price, haircut })
}

fn book_data(positions: &[Position]) -> Json {
    let list: Vec<Json> =
        positions.iter().map(|p| json!({"quantity": text(p.quantity), "price": text(p.price), "haircut": text(p.haircut)})).collect();
    json!({"as_of": "2026-03-31", "positions": list})
}

fn eligible_value(program: &Program, positions: &[Position]) -> Decimal {
    usd(&evaluate(program, &book_data(positions)).collateral["book"].eligible_value)
}

/// The pool's rule as the reference states it: Σ quantity × price × (1 − clamp(haircut)).
fn expected_eligible_value(positions: &[Position]) -> Decimal {
    positions.iter().map(|p| p.quantity * p.price * (Decimal::ONE - clamp01(p.haircut))).sum()
}

#[derive(Clone, Debug)]
enum MoreCollateral {
    AddPosition(Position),
    RaiseQuantity(Index, Decimal),
    RaisePrice(Index, Decimal),
}

fn more_collateral() -> impl Strategy<Value = MoreCollateral> {
    prop_oneof![
        position().prop_map(MoreCollateral::AddPosition),
        (any::<Index>(), cents(0..10_000_000)).prop_map(|(i, by)| MoreCollateral::RaiseQuantity(i, by)),
        (any::<Index>(), cents(0..100_000_000)).prop_map(|(i, by)| MoreCollateral::RaisePrice(i, by)),
    ]
}

fn with_more(positions: &[Position], change: &MoreCollateral) -> Vec<Position> {
    let mut more = positions.to_vec();
    match change {
        MoreCollateral::AddPosition(p) => more.push(p.clone()),
        // With nothing to raise, the only way to pledge more is a new position.
        MoreCollateral::RaiseQuantity(_, by) | MoreCollateral::RaisePrice(_, by) if more.is_empty() => {
            more.push(Position { quantity: *by, price: *by, haircut: Decimal::ZERO })
        }
        MoreCollateral::RaiseQuantity(i, by) => more[i.index(positions.len())].quantity += *by,
        MoreCollateral::RaisePrice(i, by) => more[i.index(positions.len())].price += *by,
    }
    more
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn more_collateral_never_lowers_eligible_value(
        positions in prop::collection::vec(position(), 0..20),
        change in more_collateral(),
    ) {
        let program = compile(BOOK);
        let before = eligible_value(&program, &positions);
        let more = with_more(&positions, &change);
        let after = eligible_value(&program, &more);
        prop_assert_eq!(before, expected_eligible_value(&positions));
        prop_assert_eq!(after, expected_eligible_value(&more));
        prop_assert!(after >= before, "pledging more ({change:?}) lowered eligible value from {before} to {after}");
    }

    #[test]
    fn a_higher_haircut_never_raises_eligible_value(
        positions in prop::collection::vec(position(), 1..20),
        which in any::<Index>(),
        raise in basis_points(0..10_000),
    ) {
        let program = compile(BOOK);
        let mut harsher = positions.clone();
        harsher[which.index(positions.len())].haircut += raise;
        let before = eligible_value(&program, &positions);
        let after = eligible_value(&program, &harsher);
        prop_assert_eq!(after, expected_eligible_value(&harsher));
        prop_assert!(after <= before, "raising a haircut by {raise} raised eligible value from {before} to {after}");
    }
}

// ------------------------------------------------------------------ equity cures

/// A date as (year, month, day); days stop at 28 so every triple is a real date.
type Ymd = (i32, u32, u32);

fn ymd() -> impl Strategy<Value = Ymd> {
    (2024..2028i32, 1..13u32, 1..29u32)
}

fn iso((y, m, d): Ymd) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

fn quarter_index((y, m, _): Ymd) -> i64 {
    i64::from(y) * 4 + i64::from((m - 1) / 3)
}

/// The four shapes a requirement takes in practice, each monotone in EBITDA over the
/// data generated for it, which is what the cure search assumes.
#[derive(Clone, Copy, Debug)]
enum Requirement {
    /// `ebitda / debt_service >= L`
    MinCoverage,
    /// `outstanding / ebitda <= L`, with positive EBITDA
    MaxLeverage,
    /// `ebitda - capex >= floor`, in money
    MinFreeCashFlow,
    /// a strict `>` read through a `let`
    StrictCoverageViaLet,
}

#[derive(Clone, Debug)]
struct CureCase {
    requirement: Requirement,
    /// The limit, in basis points for ratios and cents for money.
    limit: Decimal,
    ebitda: Decimal,
    debt_service: Decimal,
    outstanding: Decimal,
    capex: Decimal,
    as_of: Ymd,
    history: Vec<Ymd>,
}

impl CureCase {
    fn program(&self) -> String {
        let require = match self.requirement {
            Requirement::MinCoverage => format!("input.ttm.ebitda / input.ttm.debt_service >= {}x", self.limit),
            Requirement::MaxLeverage => format!("input.loan.outstanding / input.ttm.ebitda <= {}x", self.limit),
            Requirement::MinFreeCashFlow => format!("input.ttm.ebitda - input.ttm.capex >= {} USD", self.limit),
            Requirement::StrictCoverageViaLet => format!("coverage > {}x", self.limit),
        };
        format!(
            "input {{ as_of: Date  loan: {{ outstanding: Money(USD) }}
  ttm: {{ ebitda: Money(USD), debt_service: Money(USD), capex: Money(USD) }}
  cures: List<Date> }}
let coverage = input.ttm.ebitda / input.ttm.debt_service
covenant tested_covenant \"Generated covenant\" {{
  require {require}
  cure equity into input.ttm.ebitda {{ history input.cures  limit 2 in 4 quarters  limit 5 total  no consecutive }}
}}
"
        )
    }

    fn data(&self, ebitda: Decimal) -> Json {
        json!({
            "as_of": iso(self.as_of),
            "loan": {"outstanding": text(self.outstanding)},
            "ttm": {"ebitda": text(ebitda), "debt_service": text(self.debt_service), "capex": text(self.capex)},
            "cures": self.history.iter().map(|d| iso(*d)).collect::<Vec<_>>(),
        })
    }

    /// The least whole-cent amount that restores compliance, where it can be stated
    /// without a search.
    fn expected_amount(&self) -> Option<Decimal> {
        match self.requirement {
            Requirement::MinCoverage => Some(ceil_to_cent(self.limit * self.debt_service - self.ebitda)),
            Requirement::MinFreeCashFlow => Some(ceil_to_cent(self.limit + self.capex - self.ebitda)),
            // Strictly above: reaching the threshold exactly is not enough.
            Requirement::StrictCoverageViaLet => Some(floor_to_cent(self.limit * self.debt_service - self.ebitda) + cent()),
            // outstanding ÷ limit is rarely exact, so only the search can say.
            Requirement::MaxLeverage => None,
        }
    }

    fn expected_blocks(&self) -> Vec<String> {
        let q = quarter_index(self.as_of);
        let mut blocks = Vec::new();
        if self.history.iter().filter(|d| (q - 3..=q).contains(&quarter_index(**d))).count() >= 2 {
            blocks.push("2 in 4 quarters".to_string());
        }
        if self.history.len() >= 5 {
            blocks.push("5 total".to_string());
        }
        if self.history.iter().any(|d| quarter_index(*d) == q - 1) {
            blocks.push("no consecutive".to_string());
        }
        blocks
    }
}

fn ceil_to_cent(x: Decimal) -> Decimal {
    (x * Decimal::ONE_HUNDRED).ceil() / Decimal::ONE_HUNDRED
}

fn floor_to_cent(x: Decimal) -> Decimal {
    (x * Decimal::ONE_HUNDRED).floor() / Decimal::ONE_HUNDRED
}

/// A covenant in breach: EBITDA is drawn as a share (below 100%) of the EBITDA that would
/// just comply, so every case exercises the cure.
fn cure_case() -> impl Strategy<Value = CureCase> {
    let requirement =
        prop_oneof![Just(Requirement::MinCoverage), Just(Requirement::MaxLeverage), Just(Requirement::MinFreeCashFlow), Just(Requirement::StrictCoverageViaLet)];
    (
        requirement,
        basis_points(1..60_000),
        cents(1..10_000_000_000),
        cents(1..10_000_000_000),
        cents(0..1_000_000_000),
        basis_points(1..9_999),
        ymd(),
        prop::collection::vec(ymd(), 0..8),
    )
        .prop_map(|(requirement, ratio, debt_service, outstanding, capex, share, as_of, history)| {
            let (limit, complying_ebitda) = match requirement {
                Requirement::MinCoverage | Requirement::StrictCoverageViaLet => (ratio, ratio * debt_service),
                Requirement::MaxLeverage => (ratio, outstanding / ratio),
                // The floor is drawn in cents from the same range as the debt service.
                Requirement::MinFreeCashFlow => (debt_service, debt_service + capex),
            };
            let ebitda = floor_to_cent(complying_ebitda * share).max(cent());
            CureCase { requirement, limit, ebitda, debt_service, outstanding, capex, as_of, history }
        })
        .prop_filter("EBITDA must fall short of compliance", |c| match c.requirement {
            Requirement::MaxLeverage => c.outstanding / c.ebitda > c.limit,
            Requirement::MinCoverage => c.ebitda < c.limit * c.debt_service,
            Requirement::StrictCoverageViaLet => c.ebitda <= c.limit * c.debt_service,
            Requirement::MinFreeCashFlow => c.ebitda - c.capex < c.limit,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_cure_amount_restores_compliance_and_a_cent_less_does_not(case in cure_case()) {
        let program = compile(&case.program());
        let breached = evaluate(&program, &case.data(case.ebitda));
        let covenant = &breached.covenants["tested_covenant"];
        prop_assert_eq!(covenant.status, "breach");
        let cure = covenant.cure.as_ref().expect("a breach reports a cure");
        let amount = usd(&cure.amount);
        prop_assert!(amount >= cent(), "a breach needs a cure of at least a cent, got {amount}");
        prop_assert_eq!(amount, floor_to_cent(amount), "the cure is in whole cents");
        if let Some(expected) = case.expected_amount() {
            prop_assert_eq!(amount, expected);
        }
        prop_assert_eq!(&cure.blocked_by, &case.expected_blocks());
        prop_assert_eq!(cure.available, cure.blocked_by.is_empty());

        let cured = evaluate(&program, &case.data(case.ebitda + amount));
        prop_assert_eq!(cured.covenants["tested_covenant"].status, "pass", "adding the cure of {} should comply", amount);
        prop_assert!(cured.covenants["tested_covenant"].cure.is_none());

        let short = evaluate(&program, &case.data(case.ebitda + amount - cent()));
        prop_assert_eq!(short.covenants["tested_covenant"].status, "breach", "a cent less than the cure of {} should not comply", amount);
    }
}

// ------------------------------------------------------------------ liquidation

/// Lots and flat discounts as facilities write them; each pool's lot and discount are
/// literals of the generated program.
const LOTS: &[&str] = &["1", "0.01", "0.5", "2.5", "3", "10", "100"];

#[derive(Clone, Debug)]
struct PoolTerms {
    lot: &'static str,
    /// A flat discount in whole percent, or none.
    discount: Option<u32>,
}

fn pool_terms() -> impl Strategy<Value = PoolTerms> {
    (prop::sample::select(LOTS), prop::option::of(0..80u32)).prop_map(|(lot, discount)| PoolTerms { lot, discount })
}

impl PoolTerms {
    fn clauses(&self) -> String {
        let discount = self.discount.map(|d| format!("\n  liquidation discount fixed_discount(sold, {d}%)")).unwrap_or_default();
        format!("  lot      {}{discount}", self.lot)
    }

    fn rate(&self) -> Decimal {
        Decimal::new(i64::from(self.discount.unwrap_or(0)), 2)
    }
}

#[derive(Clone, Debug)]
struct Sale {
    fleet_terms: PoolTerms,
    reserve_terms: PoolTerms,
    debt: Decimal,
    /// (quantity, price) of each fleet position.
    fleet: Vec<(Decimal, Decimal)>,
    reserve: (Decimal, Decimal),
}

fn sale() -> impl Strategy<Value = Sale> {
    let holding = || (cents(0..10_000_00), cents(0..100_000_00));
    (pool_terms(), pool_terms(), cents(-100_00..2_000_000_000), prop::collection::vec(holding(), 0..20), holding()).prop_map(
        |(fleet_terms, reserve_terms, debt, fleet, reserve)| Sale { fleet_terms, reserve_terms, debt, fleet, reserve },
    )
}

impl Sale {
    fn program(&self) -> String {
        format!(
            "import std.liquidity
input {{ as_of: Date  debt: Money(USD)
  fleet: List<{{ quantity: Number, price: Money(USD) }}>
  reserve: {{ quantity: Number, price: Money(USD) }} }}
collateral fleet for f in input.fleet {{
  quantity f.quantity
  price    f.price
{}
}}
collateral reserve {{
  quantity input.reserve.quantity
  price    input.reserve.price
{}
}}
liquidation enforcement {{
  debt input.debt
  sell fleet, reserve
}}
",
            self.fleet_terms.clauses(),
            self.reserve_terms.clauses()
        )
    }

    fn data(&self) -> Json {
        let holding = |(q, p): &(Decimal, Decimal)| json!({"quantity": text(*q), "price": text(*p)});
        json!({"as_of": "2026-03-31", "debt": text(self.debt), "fleet": self.fleet.iter().map(holding).collect::<Vec<_>>(),
               "reserve": holding(&self.reserve)})
    }
}

/// What the reference says selling `units` of a pool fetches: the units' share of the
/// market value (units × market value ÷ quantity, multiplied first, so the whole pool grosses
/// its market value exactly) × (1 − discount), from the pool's reported figures.
fn proceeds_of(units: Decimal, quantity: Decimal, market_value: Decimal, discount: Decimal) -> Decimal {
    let gross = if quantity.is_zero() || units.is_zero() {
        Decimal::ZERO
    } else if units == quantity {
        market_value
    } else {
        units * market_value / quantity
    };
    gross * (Decimal::ONE - clamp01(discount))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_liquidation_sells_the_fewest_lots_that_cover_the_debt(sale in sale()) {
        let program = compile(&sale.program());
        let report = evaluate(&program, &sale.data());
        let liquidation = &report.liquidations["enforcement"];
        prop_assert_eq!(liquidation.status, None);
        prop_assert_eq!(liquidation.sales.len(), 2);
        let debt = usd(&liquidation.debt);
        prop_assert_eq!(debt, sale.debt);

        let mut remaining = debt;
        let mut total = Decimal::ZERO;
        for (sold, terms) in liquidation.sales.iter().zip([&sale.fleet_terms, &sale.reserve_terms]) {
            let pool = &report.collateral[&sold.pool];
            let quantity = dec(pool.quantity.as_deref().expect("the pool was valued"));
            let market_value = usd(&pool.market_value);
            let lot = dec(terms.lot);
            let units = dec(&sold.units);
            let proceeds = amount(&sold.proceeds);
            let fetch = |u: Decimal| proceeds_of(u, quantity, market_value, terms.rate());
            prop_assert_eq!(dec(sold.discount.as_deref().expect("a discount")), terms.rate());
            prop_assert_eq!(proceeds, fetch(units), "reported proceeds of {} units", units);

            if remaining <= Decimal::ZERO {
                prop_assert_eq!(units, Decimal::ZERO, "nothing is sold once the debt is covered");
            } else if fetch(quantity) < remaining {
                prop_assert_eq!(units, quantity, "a pool that cannot cover the debt is sold whole");
            } else {
                let lots = (units / lot).ceil();
                prop_assert!(lots >= Decimal::ONE);
                prop_assert_eq!(units, (lots * lot).min(quantity), "units sold are whole lots, capped at the pool");
                prop_assert!(proceeds >= remaining, "{} units fetch {}, short of {}", units, proceeds, remaining);
                let one_lot_fewer = ((lots - Decimal::ONE) * lot).min(quantity);
                prop_assert!(fetch(one_lot_fewer) < remaining,
                    "{} units (one lot fewer than the {} sold) already fetch {}, which covers {}",
                    one_lot_fewer, units, fetch(one_lot_fewer), remaining);
            }
            remaining -= proceeds;
            total += proceeds;
        }
        prop_assert_eq!(usd(&liquidation.proceeds), total);
        prop_assert_eq!(usd(&liquidation.shortfall), (debt - total).max(Decimal::ZERO));
        prop_assert_eq!(usd(&liquidation.surplus), (total - debt).max(Decimal::ZERO));
        let recovery = if debt <= Decimal::ZERO { Decimal::ONE } else { total.min(debt) / debt };
        prop_assert_eq!(dec(liquidation.recovery.as_deref().expect("a recovery")), recovery);
    }
}

// ------------------------------------------------------------------ determinism

/// Every kind of rule, a value that can fail, and a scenario, so that the whole report
/// shape takes part.
const FACILITY: &str = "import std.lending
import std.liquidity
facility \"Determinism\"
input { as_of: Date  loan: { outstanding: Money(USD) }  ttm: { ebitda: Money(USD), debt_service: Money(USD) }
  gpus: List<{ count: Number, unit_cost: Money(USD), purchase_date: Date }>  cures: List<Date> }
schedule advance_rate(age: Number) -> Number { < 12 => 70%  < 24 => 50%  else => 0% }
schedule residual(age: Number) -> Number interpolate { 0 => 100%  12 => 65%  24 => 40%  48 => 10% }
collateral gpus \"GPU fleet\" for g in input.gpus {
  quantity g.count
  price    g.unit_cost * residual(months_between(g.purchase_date, as_of))
  haircut  1 - advance_rate(months_between(g.purchase_date, as_of))
  lot      8
  liquidation discount absorption_discount(sold, 400, 15%, 3%)
}
let debt = input.loan.outstanding
let ltv = debt / gpus.eligible_value
let dscr = input.ttm.ebitda / input.ttm.debt_service
let third = amount(debt) / 3
covenant min_dscr \"Minimum DSCR\" {
  require dscr >= 1.25x
  cure equity into input.ttm.ebitda { history input.cures  limit 2 in 4 quarters }
}
covenant max_ltv { require ltv <= 75% }
margin_call ltv_call { trigger ltv > 65%  amount collateral_to_restore(debt, gpus.eligible_value, 60%)
  minimum_transfer 1_000 USD  rounding up 1_000 USD  due 2 business days }
liquidation enforcement { trigger not max_ltv.passed  debt debt  sell gpus }
scenario crash { input.gpus[*].unit_cost *= 50%  input.ttm.ebitda *= 70% }
";

fn facility_data() -> impl Strategy<Value = Json> {
    let gpu = (0..2_000i64, cents(0..5_000_000), (2020..2027i32, 1..13u32, 1..29u32));
    (cents(0..1_000_000_000), cents(-100_000_00..100_000_000), cents(0..10_000_000), prop::collection::vec(gpu, 0..20), prop::collection::vec(ymd(), 0..4))
        .prop_map(|(outstanding, ebitda, debt_service, gpus, cures)| {
            json!({
                "as_of": "2026-03-31",
                "loan": {"outstanding": text(outstanding)},
                "ttm": {"ebitda": text(ebitda), "debt_service": text(debt_service)},
                "gpus": gpus.iter().map(|(count, cost, bought)| json!({"count": count, "unit_cost": text(*cost), "purchase_date": iso(*bought)})).collect::<Vec<_>>(),
                "cures": cures.iter().map(|d| iso(*d)).collect::<Vec<_>>(),
            })
        })
}

/// The report as JSON bytes, from two evaluations on this thread and one on each of two
/// other threads sharing the program.
fn report_bytes_four_ways(program: &Program, data: &str, scenario: Option<&str>) -> [String; 4] {
    let bytes = || serde_json::to_string(&program.evaluate(data, scenario).expect("valid data")).expect("a report serialises");
    let (from_a, from_b) = std::thread::scope(|s| {
        let a = s.spawn(bytes);
        let b = s.spawn(bytes);
        (a.join().expect("thread a"), b.join().expect("thread b"))
    });
    [bytes(), bytes(), from_a, from_b]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_same_program_and_data_give_the_same_bytes(data in facility_data(), scenario in prop::option::of(Just("crash"))) {
        let program = compile(FACILITY);
        let data = data.to_string();
        let report = program.evaluate(&data, scenario).expect("valid data");
        // Serialising one report twice is the cheapest place for nondeterminism to hide.
        prop_assert_eq!(serde_json::to_string(&report).unwrap(), serde_json::to_string(&report).unwrap());
        let [first, rest @ ..] = report_bytes_four_ways(&program, &data, scenario);
        for other in rest {
            prop_assert_eq!(&first, &other);
        }
        // A program compiled a second time from the same text reports the same bytes too.
        let recompiled = compile(FACILITY);
        prop_assert_eq!(&first, &serde_json::to_string(&recompiled.evaluate(&data, scenario).unwrap()).unwrap());
    }
}

#[test]
fn the_shipped_examples_give_the_same_bytes_every_time() {
    let examples = [
        ("gpu_abl.cov", "gpu_abl.json"),
        ("gpu_term_loan.cov", "gpu_term_loan.json"),
        ("gpu_term_loan.cov", "gpu_term_loan_q2.json"),
        ("liquidation_study.cov", "liquidation_study.json"),
        ("miner_btc_loan.cov", "miner_btc_loan.json"),
        ("miner_facility.cov", "miner_facility.json"),
        ("sponsor_loan.cov", "sponsor_loan_q1.json"),
        ("sponsor_loan.cov", "sponsor_loan_q4.json"),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for (script, data) in examples {
        let program = Program::compile_file(&dir.join(script)).unwrap_or_else(|e| panic!("{script}: {e:?}"));
        let data = std::fs::read_to_string(dir.join("data").join(data)).expect("example data");
        let scenarios: Vec<Option<String>> = std::iter::once(None).chain(program.scenario_names().map(|s| Some(s.to_string()))).collect();
        for scenario in &scenarios {
            let [first, rest @ ..] = report_bytes_four_ways(&program, &data, scenario.as_deref());
            for other in rest {
                assert_eq!(first, other, "{script} under {scenario:?}");
            }
        }
    }
}
