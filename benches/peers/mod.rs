//! Peer rules engines running the reference facility program's rules, so the benchmark
//! compares Covenant with what a team would otherwise embed, on identical work.
//!
//! Every engine returns a [`Verdict`], and the benchmark refuses to time anything until all
//! engines agree on it. The program's haircut clamp to [0, 1] is left out of the peers:
//! the advance rates are literals within [0, 1], so it can never change a result.

pub mod rhai_rules;
pub mod zen_rules;

use std::fmt;

use covenant::dates::Date;
use rust_decimal::Decimal;

/// What the program decides about one facility, as every engine reports it.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub eligible: Decimal,
    pub ltv: Decimal,
    pub dscr_ok: bool,
    pub ltv_ok: bool,
    /// The margin call after the minimum transfer and rounding: 0 when none is made.
    pub call: Decimal,
    pub due: Date,
}

impl Verdict {
    /// Decimal equality is by value, so 0.70 and 0.7 already agree. Every engine here does
    /// its arithmetic with rust_decimal's checked operations in Covenant's order, so the
    /// values must match to the last of the 28 digits; no rounding is allowed for.
    pub fn agrees_with(&self, other: &Verdict) -> bool {
        self.eligible == other.eligible
            && self.ltv == other.ltv
            && self.dscr_ok == other.dscr_ok
            && self.ltv_ok == other.ltv_ok
            && self.call == other.call
            && self.due == other.due
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "eligible {} ltv {} dscr_ok {} ltv_ok {} call {} due {}",
            self.eligible.normalize(),
            self.ltv.normalize(),
            self.dscr_ok,
            self.ltv_ok,
            self.call.normalize(),
            self.due
        )
    }
}

/// A date as the peers take it: calendar fields for month arithmetic, and the day number
/// for ordering and for counting business days.
pub struct DateParts {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub day_number: i64,
}

pub fn date_parts(text: &str) -> DateParts {
    let date = Date::parse(text).unwrap_or_else(|| panic!("not a date: {text}"));
    let (year, month, day) = date.ymd();
    DateParts { year: i64::from(year), month: i64::from(month), day: i64::from(day), day_number: i64::from(date.days()) }
}

pub fn date_from_day_number(day_number: i64) -> Date {
    Date::EPOCH.add_days(day_number).expect("the due date stays within years 1 to 9999")
}

/// Money in the facility JSON is text, and counts are JSON numbers: both are read as
/// exact decimals, never through f64.
pub fn decimal(value: &serde_json::Value) -> Decimal {
    match value {
        serde_json::Value::String(text) => text.parse().unwrap_or_else(|_| panic!("not a decimal: {text}")),
        serde_json::Value::Number(number) => number.to_string().parse().unwrap_or_else(|_| panic!("not a decimal: {number}")),
        other => panic!("not a decimal: {other}"),
    }
}

pub fn text(value: &serde_json::Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not text: {value}"))
}
