//! The facility rules as a rhai script, over rhai's Decimal (rust_decimal) throughout.

use rhai::{Array, Dynamic, Engine, Map, OptimizationLevel, Scope, AST};
use serde_json::Value as Json;

use super::{date_from_day_number, date_parts, decimal, text, Verdict};

/// Float literals would be f64 in rhai, so every fractional constant is written with
/// `parse_decimal`; full optimisation evaluates those calls once, at compile time.
const SCRIPT: &str = r#"
fn advance_rate(age) {
    if age < 12 { parse_decimal("0.70") }
    else if age < 24 { parse_decimal("0.50") }
    else if age < 36 { parse_decimal("0.30") }
    else { parse_decimal("0") }
}

// Between points: the same operations, in the same order, as Covenant's interpolated
// schedule, so the result matches it to the last digit.
fn residual(age) {
    let x = to_decimal(age);
    if age <= 0 { parse_decimal("1") }
    else if age >= 48 { parse_decimal("0.10") }
    else if age <= 12 { parse_decimal("1") + (parse_decimal("0.65") - parse_decimal("1")) * ((x - 0) / (12 - 0)) }
    else if age <= 24 { parse_decimal("0.65") + (parse_decimal("0.40") - parse_decimal("0.65")) * ((x - 12) / (24 - 12)) }
    else { parse_decimal("0.40") + (parse_decimal("0.10") - parse_decimal("0.40")) * ((x - 24) / (48 - 24)) }
}

fn days_in_month(year, month) {
    if month == 2 {
        if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 { 29 } else { 28 }
    } else if month == 4 || month == 6 || month == 9 || month == 11 { 30 }
    else { 31 }
}

// Covenant's months_until: the largest n with from + n months <= to, where adding months
// clamps the day to the month's end; negative when the dates are reversed.
fn months_until(from_year, from_month, from_day, from_number, to_year, to_month, to_day, to_number) {
    if to_number < from_number {
        return -months_until(to_year, to_month, to_day, to_number, from_year, from_month, from_day, from_number);
    }
    let months = (to_year - from_year) * 12 + (to_month - from_month);
    let landing_day = from_day;
    let month_end = days_in_month(to_year, to_month);
    if month_end < landing_day { landing_day = month_end; }
    if months > 0 && landing_day > to_day { months - 1 } else { months }
}

// 1970-01-01, day 0, was a Thursday; 5 and 6 are Saturday and Sunday.
fn is_weekend(day_number) {
    ((day_number % 7) + 10) % 7 >= 5
}

fn add_business_days(day_number, count) {
    let left = count;
    while left > 0 {
        day_number += 1;
        if !is_weekend(day_number) { left -= 1; }
    }
    day_number
}

let eligible = to_decimal(0);
// Indexing the scope's array reads it in place; `for g in gpus` would copy it first.
for i in 0..gpus.len() {
    let age = months_until(gpus[i].purchase_year, gpus[i].purchase_month, gpus[i].purchase_day, gpus[i].purchase_day_number,
                           as_of.year, as_of.month, as_of.day, as_of.day_number);
    let price = gpus[i].unit_cost * residual(age);
    let haircut = 1 - advance_rate(age);
    let market = gpus[i].count * price;
    eligible += market * (1 - haircut);
}

let debt = outstanding;
let ltv = debt / eligible;
let dscr = ebitda / debt_service;
let due = add_business_days(as_of.day_number, 2);

let call_amount = to_decimal(0);
if ltv > parse_decimal("0.75") {
    let raw = debt / parse_decimal("0.65") - eligible;
    if raw < 0 { raw = to_decimal(0); }
    if raw >= 250000 { call_amount = ceiling(raw / 10000) * 10000; }
}

#{
    eligible: eligible,
    ltv: ltv,
    dscr_ok: dscr >= parse_decimal("1.25"),
    ltv_ok: ltv <= parse_decimal("0.80"),
    call_amount: call_amount,
    due: due,
}
"#;

pub struct RhaiRules {
    engine: Engine,
    ast: AST,
}

impl RhaiRules {
    pub fn new() -> RhaiRules {
        let mut engine = Engine::new();
        engine.set_optimization_level(OptimizationLevel::Full);
        let ast = engine.compile(SCRIPT).unwrap_or_else(|e| panic!("the rhai rules do not compile: {e}"));
        RhaiRules { engine, ast }
    }

    /// The facility as rhai values in a scope: the bound form, made once and reused.
    pub fn bind(&self, facility: &Json) -> Scope<'static> {
        let as_of = date_parts(text(&facility["as_of"]));
        let mut as_of_map = Map::new();
        as_of_map.insert("year".into(), Dynamic::from_int(as_of.year));
        as_of_map.insert("month".into(), Dynamic::from_int(as_of.month));
        as_of_map.insert("day".into(), Dynamic::from_int(as_of.day));
        as_of_map.insert("day_number".into(), Dynamic::from_int(as_of.day_number));
        let gpus: Array = facility["gpus"]
            .as_array()
            .expect("gpus is a list")
            .iter()
            .map(|gpu| {
                let purchase = date_parts(text(&gpu["purchase_date"]));
                let mut map = Map::new();
                map.insert("count".into(), Dynamic::from_decimal(decimal(&gpu["count"])));
                map.insert("unit_cost".into(), Dynamic::from_decimal(decimal(&gpu["unit_cost"])));
                map.insert("purchase_year".into(), Dynamic::from_int(purchase.year));
                map.insert("purchase_month".into(), Dynamic::from_int(purchase.month));
                map.insert("purchase_day".into(), Dynamic::from_int(purchase.day));
                map.insert("purchase_day_number".into(), Dynamic::from_int(purchase.day_number));
                Dynamic::from_map(map)
            })
            .collect();
        let mut scope = Scope::new();
        scope.push_dynamic("as_of", Dynamic::from_map(as_of_map));
        scope.push_dynamic("outstanding", Dynamic::from_decimal(decimal(&facility["loan"]["outstanding"])));
        scope.push_dynamic("ebitda", Dynamic::from_decimal(decimal(&facility["ttm"]["ebitda"])));
        scope.push_dynamic("debt_service", Dynamic::from_decimal(decimal(&facility["ttm"]["debt_service"])));
        scope.push_dynamic("gpus", Dynamic::from_array(gpus));
        scope
    }

    /// The script's own `let`s land in the scope, so they are dropped again afterwards and
    /// a bound scope can be evaluated any number of times.
    pub fn evaluate_bound(&self, scope: &mut Scope<'static>) -> Map {
        let bound_len = scope.len();
        let result = self.engine.eval_ast_with_scope::<Map>(scope, &self.ast);
        scope.rewind(bound_len);
        result.unwrap_or_else(|e| panic!("the rhai rules failed: {e}"))
    }

    /// Parsed and converted per evaluation, as `bind` does it.
    pub fn evaluate_text(&self, facility_text: &str) -> Map {
        let facility: Json = serde_json::from_str(facility_text).expect("the facility is JSON");
        self.evaluate_bound(&mut self.bind(&facility))
    }
}

pub fn verdict(result: &Map) -> Verdict {
    let field = |name: &str| result.get(name).unwrap_or_else(|| panic!("the rhai rules return no `{name}`"));
    Verdict {
        eligible: field("eligible").as_decimal().expect("eligible is a decimal"),
        ltv: field("ltv").as_decimal().expect("ltv is a decimal"),
        dscr_ok: field("dscr_ok").as_bool().expect("dscr_ok is a bool"),
        ltv_ok: field("ltv_ok").as_bool().expect("ltv_ok is a bool"),
        call: field("call_amount").as_decimal().expect("call_amount is a decimal"),
        due: date_from_day_number(field("due").as_int().expect("due is a day number")),
    }
}
