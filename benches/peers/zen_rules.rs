//! The facility rules as one zen expression, compiled once. Zen numbers are rust_decimal.
//!
//! Zen has no user functions and no loops, so the schedules are written inline as
//! conditionals, the whole months are computed from calendar fields with a closed form of
//! Covenant's months_until, and the business days with a closed form of its day-by-day
//! count (no holidays: the program declares no calendar).

use rust_decimal::prelude::ToPrimitive;
use serde_json::Value as Json;
use zen_expression::variable::{Variable, VariableMap};
use zen_expression::vm::VM;
use zen_expression::Expression;

use super::{date_from_day_number, date_parts, decimal, text, DateParts, Verdict};

/// Assignments run in order and later ones read earlier ones; the last line is the result.
///
/// `age`: the month count, less one when purchase + n months (whose day is the purchase day
/// clamped to the month's end) passes as_of, which happens only when both the purchase day
/// and the month end exceed as_of's day. `due`: a weekend as_of counts from the Friday
/// before; each weekend crossed adds two days.
const RULES: &str = r#"
as_of_month_days = as_of.month == 2
    ? (((as_of.year % 4 == 0 and as_of.year % 100 != 0) or as_of.year % 400 == 0) ? 29 : 28)
    : (as_of.month in [4, 6, 9, 11] ? 30 : 31);
aged = map(gpus, {
    count: #.count,
    unit_cost: #.unit_cost,
    age: #.purchase_day_number <= as_of.day_number
        ? (as_of.year - #.purchase_year) * 12 + (as_of.month - #.purchase_month)
            - (((as_of.year - #.purchase_year) * 12 + (as_of.month - #.purchase_month) > 0
                and #.purchase_day > as_of.day and as_of_month_days > as_of.day) ? 1 : 0)
        : 0 - ((#.purchase_year - as_of.year) * 12 + (#.purchase_month - as_of.month)
            - (((#.purchase_year - as_of.year) * 12 + (#.purchase_month - as_of.month) > 0
                and as_of.day > #.purchase_day
                and (#.purchase_month == 2
                    ? (((#.purchase_year % 4 == 0 and #.purchase_year % 100 != 0) or #.purchase_year % 400 == 0) ? 29 : 28)
                    : (#.purchase_month in [4, 6, 9, 11] ? 30 : 31)) > #.purchase_day) ? 1 : 0))
});
eligible = sum(map(aged,
    #.count * (#.unit_cost * (#.age <= 0 ? 1
        : (#.age >= 48 ? 0.10
        : (#.age <= 12 ? 1 + (0.65 - 1) * ((#.age - 0) / (12 - 0))
        : (#.age <= 24 ? 0.65 + (0.40 - 0.65) * ((#.age - 12) / (24 - 12))
        : 0.40 + (0.10 - 0.40) * ((#.age - 24) / (48 - 24)))))))
    * (1 - (1 - (#.age < 12 ? 0.70 : (#.age < 24 ? 0.50 : (#.age < 36 ? 0.30 : 0)))))
));
debt = outstanding;
ltv = debt / eligible;
dscr = ebitda / debt_service;
as_of_weekday = (as_of.day_number % 7 + 10) % 7;
due = as_of.day_number - (as_of_weekday >= 5 ? as_of_weekday - 4 : 0)
    + 2 + 2 * floor(((as_of_weekday >= 5 ? 4 : as_of_weekday) + 2) / 5);
raw = max([debt / 0.65 - eligible, 0]);
call = (ltv > 0.75 and raw >= 250000) ? ceil(raw / 10000) * 10000 : 0;
{eligible: eligible, ltv: ltv, dscr_ok: dscr >= 1.25, ltv_ok: ltv <= 0.80, call: call, due: due}
"#;

pub struct ZenRules {
    rules: Expression<zen_expression::expression::Standard>,
}

fn number(value: impl Into<rust_decimal::Decimal>) -> Variable {
    Variable::Number(value.into())
}

fn object(fields: impl IntoIterator<Item = (&'static str, Variable)>) -> Variable {
    let mut map = VariableMap::new();
    for (name, value) in fields {
        map.insert_str(name, value);
    }
    Variable::from_object(map)
}

impl ZenRules {
    pub fn new() -> ZenRules {
        let rules = zen_expression::compile_expression(RULES).unwrap_or_else(|e| panic!("the zen rules do not compile: {e}"));
        ZenRules { rules }
    }

    /// The facility as a zen context: the bound form, made once and reused.
    pub fn bind(&self, facility: &Json) -> Variable {
        let DateParts { year, month, day, day_number } = date_parts(text(&facility["as_of"]));
        let as_of = object([("year", number(year)), ("month", number(month)), ("day", number(day)), ("day_number", number(day_number))]);
        let gpus = facility["gpus"]
            .as_array()
            .expect("gpus is a list")
            .iter()
            .map(|gpu| {
                let purchase = date_parts(text(&gpu["purchase_date"]));
                object([
                    ("count", number(decimal(&gpu["count"]))),
                    ("unit_cost", number(decimal(&gpu["unit_cost"]))),
                    ("purchase_year", number(purchase.year)),
                    ("purchase_month", number(purchase.month)),
                    ("purchase_day", number(purchase.day)),
                    ("purchase_day_number", number(purchase.day_number)),
                ])
            })
            .collect();
        object([
            ("as_of", as_of),
            ("outstanding", number(decimal(&facility["loan"]["outstanding"]))),
            ("ebitda", number(decimal(&facility["ttm"]["ebitda"]))),
            ("debt_service", number(decimal(&facility["ttm"]["debt_service"]))),
            ("gpus", Variable::from_array(gpus)),
        ])
    }

    /// Cloning a context clones a reference, not the data.
    pub fn evaluate_bound(&self, context: &Variable, vm: &mut VM) -> Variable {
        self.rules.evaluate_with(context.clone(), vm).unwrap_or_else(|e| panic!("the zen rules failed: {e}"))
    }

    /// Parsed and converted per evaluation, as `bind` does it: money arrives as JSON text,
    /// which zen would otherwise keep as strings.
    pub fn evaluate_text(&self, facility_text: &str, vm: &mut VM) -> Variable {
        let facility: Json = serde_json::from_str(facility_text).expect("the facility is JSON");
        self.evaluate_bound(&self.bind(&facility), vm)
    }
}

pub fn verdict(result: &Variable) -> Verdict {
    let field = |name: &str| result.dot(name).unwrap_or_else(|| panic!("the zen rules return no `{name}` in {result:?}"));
    let number = |name: &str| field(name).as_number().unwrap_or_else(|| panic!("`{name}` is not a number: {:?}", field(name)));
    let flag = |name: &str| field(name).as_bool().unwrap_or_else(|| panic!("`{name}` is not a bool: {:?}", field(name)));
    let due = number("due");
    Verdict {
        eligible: number("eligible"),
        ltv: number("ltv"),
        dscr_ok: flag("dscr_ok"),
        ltv_ok: flag("ltv_ok"),
        call: number("call"),
        due: date_from_day_number(due.is_integer().then(|| due.to_i64()).flatten().unwrap_or_else(|| panic!("due is not a whole day number: {due}"))),
    }
}
