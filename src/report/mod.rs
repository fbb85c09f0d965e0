//! The report model: what one evaluation says, in declaration order, ready for serde. The
//! table rendering for people is in `table`.

pub mod table;

use crate::syntax::ast::{DisplayForm, LiteralStyle};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value as Json;

use crate::eval::Outcome;
use crate::ir::{Global, Ir};
use crate::span::SourceMap;
use crate::types::{Ccy, Type};
use crate::value::Value;
use crate::OutputError;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Money {
    pub amount: String,
    pub currency: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolReport {
    #[serde(skip)]
    pub title: Option<String>,
    pub quantity: Option<String>,
    pub market_value: Option<Money>,
    pub eligible_value: Option<Money>,
    pub realisable_value: Option<Money>,
    pub haircut: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CureReport {
    pub available: bool,
    pub amount: Option<Money>,
    pub blocked_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CovenantReport {
    pub title: Option<String>,
    pub status: &'static str,
    pub value: Option<Json>,
    pub limit: Option<Json>,
    pub headroom: Option<String>,
    pub cure: Option<CureReport>,
    /// How the limit was written (`%`, `x` or plain), for the table.
    #[serde(skip)]
    pub style: NumberStyle,
    #[serde(skip)]
    pub op: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MarginCallReport {
    pub title: Option<String>,
    pub status: &'static str,
    pub raw_amount: Option<Money>,
    pub amount: Option<Money>,
    pub due: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SaleReport {
    pub pool: String,
    pub units: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount: Option<String>,
    pub proceeds: Money,
    /// Units kept back because selling them would lower the proceeds; absent when none were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_back: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiquidationReport {
    pub title: Option<String>,
    /// `"error"` when the sale could not be computed; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    pub triggered: Option<bool>,
    pub debt: Option<Money>,
    pub proceeds: Option<Money>,
    pub shortfall: Option<Money>,
    pub surplus: Option<Money>,
    pub recovery: Option<String>,
    pub sales: Vec<SaleReport>,
    /// For a liquidation to a target (`until`): whether the sale reached it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_met: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DefaultReport {
    pub title: Option<String>,
    pub status: &'static str,
    /// The events that hold, in declaration order.
    pub events: Vec<String>,
    /// Their titles, for people; not in the JSON report.
    #[serde(skip)]
    pub event_titles: Vec<Option<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorReport {
    pub name: String,
    pub message: String,
    /// The source file of the failing expression: the program's own, an import, or a
    /// standard-library module (`<std.lending>`) when a library function failed.
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// How a number was written in the program, so the table can show it the same way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NumberStyle {
    #[default]
    Plain,
    Percent,
    Multiple,
}

/// One evaluation of a program against one facility, under one scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub facility: Option<String>,
    pub as_of: String,
    pub scenario: Option<String>,
    pub values: IndexMap<String, Json>,
    pub collateral: IndexMap<String, PoolReport>,
    pub covenants: IndexMap<String, CovenantReport>,
    pub margin_calls: IndexMap<String, MarginCallReport>,
    pub liquidations: IndexMap<String, LiquidationReport>,
    pub defaults: IndexMap<String, DefaultReport>,
    pub errors: Vec<ErrorReport>,
    #[serde(skip)]
    pub scenario_title: Option<String>,
    #[serde(skip)]
    pub value_styles: IndexMap<String, NumberStyle>,
}

/// A decimal as the report writes it: normalised, no exponent, no trailing zeros.
pub fn number(d: Decimal) -> String {
    // Written digit by digit from the mantissa: reports format every figure of every
    // evaluation, and this is several times cheaper than normalising and `to_string`.
    let mantissa = d.mantissa().unsigned_abs();
    if mantissa == 0 {
        return "0".to_string();
    }
    // Least significant digit first; a mantissa has at most 29 digits. 128-bit division is
    // slow, so the mantissa is split once into two 64-bit halves of decimal digits.
    const TEN_POW_19: u128 = 10_000_000_000_000_000_000;
    let mut reversed = [0u8; 40];
    let mut len = 0;
    let mut push_digits = |mut part: u64, min_digits: usize| {
        let start = len;
        while part > 0 || len - start < min_digits {
            if let Some(slot) = reversed.get_mut(len) {
                *slot = b'0' + (part % 10) as u8;
            }
            part /= 10;
            len += 1;
        }
    };
    match u64::try_from(mantissa) {
        Ok(small) => push_digits(small, 0),
        Err(_) => {
            push_digits((mantissa % TEN_POW_19) as u64, 19);
            push_digits(u64::try_from(mantissa / TEN_POW_19).unwrap_or(u64::MAX), 0);
        }
    }
    let mut scale = d.scale() as usize;
    let mut trailing = 0;
    while scale > 0 && reversed.get(trailing) == Some(&b'0') {
        trailing += 1;
        scale -= 1;
    }
    let written = reversed.get(trailing..len).unwrap_or(&[]);
    let integer_digits = written.get(scale..).unwrap_or(&[]);
    let fraction_digits = written.get(..scale.min(written.len())).unwrap_or(&[]);
    let mut out = Vec::with_capacity(written.len() + scale + 3);
    if d.is_sign_negative() {
        out.push(b'-');
    }
    if integer_digits.is_empty() {
        out.push(b'0');
    }
    out.extend(integer_digits.iter().rev());
    if scale > 0 {
        out.push(b'.');
        out.resize(out.len() + scale.saturating_sub(written.len()), b'0');
        out.extend(fraction_digits.iter().rev());
    }
    String::from_utf8(out).unwrap_or_default()
}

fn money(d: Decimal, ty: &Type) -> Option<Money> {
    match ty {
        Type::Money(Ccy::Code(c)) => Some(Money { amount: number(d), currency: c.to_string() }),
        _ => None,
    }
}

/// A duration as the language writes it: `1 day`, `2 business days`, `3 months`.
fn duration_text(d: &crate::value::Duration) -> String {
    use crate::syntax::ast::DurationUnit;
    let one = d.count.unsigned_abs() == 1;
    let unit = match (d.unit, one) {
        (DurationUnit::Days, true) => "day",
        (DurationUnit::Days, false) => "days",
        (DurationUnit::BusinessDays, true) => "business day",
        (DurationUnit::BusinessDays, false) => "business days",
        (DurationUnit::Months, true) => "month",
        (DurationUnit::Months, false) => "months",
    };
    format!("{} {unit}", d.count)
}

/// A value as JSON, given its checked type.
pub fn value_json(v: &Value, ty: &Type) -> Json {
    let mut unbounded = usize::MAX;
    value_json_within(v, ty, &mut unbounded).unwrap_or(Json::Null)
}

/// A value as JSON, spending from `bytes` at least what its compact JSON text would take:
/// `None` once that passes, before the rest is built. Lists share their elements at run
/// time, so a small program can make a value far larger written out than held.
pub fn value_json_within(v: &Value, ty: &Type, bytes: &mut usize) -> Option<Json> {
    fn spend(bytes: &mut usize, n: usize) -> Option<()> {
        *bytes = bytes.checked_sub(n)?;
        Some(())
    }
    // The quotes of a string, or a separator.
    const PUNCTUATION: usize = 2;
    let text = |t: String, bytes: &mut usize| spend(bytes, t.len() + PUNCTUATION).map(|()| Json::String(t));
    Some(match (v, ty) {
        (Value::Null, _) => {
            spend(bytes, 4)?;
            Json::Null
        }
        // An optional is written as its value.
        (v, Type::Optional(inner)) => value_json_within(v, inner, bytes)?,
        (Value::Num(d), Type::Money(Ccy::Code(c))) => {
            let amount = number(*d);
            spend(bytes, amount.len() + c.len() + "{\"amount\":\"\",\"currency\":\"\"}".len())?;
            serde_json::json!({"amount": amount, "currency": &**c})
        }
        (Value::Num(d), _) => text(number(*d), bytes)?,
        (Value::Bool(b), _) => {
            spend(bytes, 5)?;
            Json::Bool(*b)
        }
        (Value::Text(t), _) => text(t.to_string(), bytes)?,
        (Value::Date(d), _) => text(d.to_string(), bytes)?,
        (Value::Duration(d), _) => text(duration_text(d), bytes)?,
        (Value::List(items), t) => {
            let elem = match t {
                Type::List(e) => (**e).clone(),
                _ => Type::Error,
            };
            spend(bytes, PUNCTUATION + items.len())?;
            Json::Array(items.iter().map(|i| value_json_within(i, &elem, bytes)).collect::<Option<_>>()?)
        }
        (Value::Record(fields), Type::Record(r)) => {
            let mut map = serde_json::Map::new();
            spend(bytes, PUNCTUATION)?;
            for ((name, t), v) in r.fields.iter().zip(fields.iter()) {
                spend(bytes, name.len() + PUNCTUATION + 2)?;
                map.insert(name.to_string(), value_json_within(v, t, bytes)?);
            }
            Json::Object(map)
        }
        (Value::Record(_), _) => Json::Null,
    })
}

/// How a value is shown when no display form is given: as its expression was written
/// (`written`), or, for a limit read from a schedule, as the schedule writes its values.
fn style_of(ir: &Ir, expr: crate::ir::ExprId, written: LiteralStyle) -> NumberStyle {
    if let Some(crate::ir::Node::CallFn { func, .. }) = ir.arena.node(expr) {
        if let Some(f) = ir.fns.get(*func as usize) {
            if let Some(crate::ir::Node::Schedule { rows, .. }) = ir.arena.node(f.body.expr) {
                if let Some(row) = rows.first() {
                    return style_of(ir, row.value, row.written_style);
                }
            }
        }
    }
    match written {
        LiteralStyle::Percent => NumberStyle::Percent,
        LiteralStyle::Multiple => NumberStyle::Multiple,
        LiteralStyle::Plain => NumberStyle::Plain,
    }
}

/// The report of an evaluation, refused when its values alone would pass `max_output_bytes`
/// written as JSON.
pub fn build(ir: &Ir, sources: &SourceMap, out: &Outcome, scenario: Option<&crate::ir::ScenarioDef>, max_output_bytes: usize) -> Result<Report, OutputError> {
    let mut bytes = max_output_bytes;
    let mut report = Report {
        facility: ir.facility.clone(),
        as_of: out.as_of.to_string(),
        scenario: scenario.map(|s| s.name.to_string()),
        scenario_title: scenario.and_then(|s| s.title.clone()),
        values: IndexMap::new(),
        collateral: IndexMap::new(),
        covenants: IndexMap::new(),
        margin_calls: IndexMap::new(),
        liquidations: IndexMap::new(),
        defaults: IndexMap::new(),
        errors: Vec::new(),
        value_styles: IndexMap::new(),
    };
    for (i, def) in ir.lets.iter().enumerate() {
        if !def.reported {
            continue;
        }
        let v = match out.lets.get(i) {
            Some(Some(Ok(v))) => value_json_within(v, &def.ty, &mut bytes).ok_or(OutputError::TooLarge { limit: max_output_bytes })?,
            _ => Json::Null,
        };
        report.values.insert(def.name.to_string(), v);
        let style = match def.display {
            Some(DisplayForm::Percent) => NumberStyle::Percent,
            Some(DisplayForm::Multiple) => NumberStyle::Multiple,
            Some(DisplayForm::Number) => NumberStyle::Plain,
            None => style_of(ir, def.body.expr, def.written_style),
        };
        report.value_styles.insert(def.name.to_string(), style);
    }
    for g in &ir.order {
        match *g {
            Global::Pool(i) => {
                let Some(def) = ir.pools.get(i as usize) else { continue };
                let r = match out.pools.get(i as usize) {
                    Some(Some(Ok(p))) => PoolReport {
                        title: def.title.clone(),
                        quantity: Some(number(p.quantity)),
                        market_value: money(p.market_value, &def.price_ty),
                        eligible_value: money(p.eligible_value, &def.price_ty),
                        realisable_value: money(p.realisable_value, &def.price_ty),
                        haircut: Some(number(p.haircut())),
                        status: None,
                    },
                    _ => PoolReport {
                        title: def.title.clone(),
                        quantity: None,
                        market_value: None,
                        eligible_value: None,
                        realisable_value: None,
                        haircut: None,
                        status: Some("error"),
                    },
                };
                report.collateral.insert(def.name.to_string(), r);
            }
            Global::Covenant(i) => {
                let Some(def) = ir.covenants.get(i as usize) else { continue };
                let Some(Some(c)) = out.covenants.get(i as usize) else { continue };
                let show = |d: Option<Decimal>| d.map(|d| value_json(&Value::Num(d), &def.value_ty));
                let cure = c.cure.as_ref().map(|cure| CureReport {
                    available: cure.available,
                    amount: cure.amount.and_then(|a| def.cure.as_ref().and_then(|cd| money(a, &cd.ty))),
                    blocked_by: cure.blocked_by.clone(),
                    note: cure.note.clone(),
                });
                report.covenants.insert(
                    def.name.to_string(),
                    CovenantReport {
                        title: def.title.clone(),
                        status: c.status.as_str(),
                        value: show(c.value),
                        limit: show(c.limit),
                        headroom: c.headroom().map(number),
                        cure,
                        style: style_of(ir, def.rhs.expr, def.rhs_style),
                        op: def.op.symbol(),
                    },
                );
            }
            Global::MarginCall(i) => {
                let Some(def) = ir.margin_calls.get(i as usize) else { continue };
                let r = match out.margin_calls.get(i as usize) {
                    Some(Some(Ok(m))) => MarginCallReport {
                        title: def.title.clone(),
                        status: m.status.as_str(),
                        raw_amount: money(m.raw_amount, &def.amount_ty),
                        amount: money(m.amount, &def.amount_ty),
                        due: Some(m.due.to_string()),
                    },
                    _ => MarginCallReport { title: def.title.clone(), status: "error", raw_amount: None, amount: None, due: None },
                };
                report.margin_calls.insert(def.name.to_string(), r);
            }
            Global::Liquidation(i) => {
                let Some(def) = ir.liquidations.get(i as usize) else { continue };
                let r = match out.liquidations.get(i as usize) {
                    Some(Some(Ok(l))) => LiquidationReport {
                        title: def.title.clone(),
                        status: None,
                        triggered: Some(l.triggered),
                        debt: money(l.debt, &def.debt_ty),
                        proceeds: money(l.proceeds, &def.debt_ty),
                        shortfall: money(l.shortfall, &def.debt_ty),
                        surplus: money(l.surplus, &def.debt_ty),
                        recovery: Some(number(l.recovery)),
                        sales: l
                            .sales
                            .iter()
                            .filter_map(|s| {
                                let pool = ir.pools.get(s.pool as usize)?;
                                Some(SaleReport {
                                    pool: pool.name.to_string(),
                                    units: number(s.units),
                                    discount: s.discount.map(number),
                                    proceeds: money(s.proceeds, &def.debt_ty)?,
                                    held_back: (!s.held_back.is_zero()).then(|| number(s.held_back)),
                                })
                            })
                            .collect(),
                        target_met: l.target_met,
                    },
                    _ => LiquidationReport {
                        title: def.title.clone(),
                        status: Some("error"),
                        triggered: None,
                        debt: None,
                        proceeds: None,
                        shortfall: None,
                        surplus: None,
                        recovery: None,
                        sales: Vec::new(),
                        target_met: None,
                    },
                };
                report.liquidations.insert(def.name.to_string(), r);
            }
            Global::Default(i) => {
                let Some(def) = ir.defaults.get(i as usize) else { continue };
                let (status, fired) = match out.defaults.get(i as usize) {
                    Some(Some(d)) => (d.status.as_str(), d.events.iter().filter_map(|&e| def.events.get(e as usize)).collect()),
                    _ => ("error", Vec::new()),
                };
                let r = DefaultReport {
                    title: def.title.clone(),
                    status,
                    events: fired.iter().map(|e| e.name.to_string()).collect(),
                    event_titles: fired.iter().map(|e| e.title.clone()).collect(),
                };
                report.defaults.insert(def.name.to_string(), r);
            }
            Global::Let(_) => {}
        }
    }
    for e in &out.errors {
        let (line, column) = sources.line_column(e.span);
        let file = sources.file(e.span.file).map_or_else(String::new, |f| f.name.clone());
        report.errors.push(ErrorReport { name: e.name.to_string(), message: e.message.clone(), file, line, column });
    }
    Ok(report)
}

/// Whether any tested covenant is in breach (for `--fail-on-breach`).
pub fn has_breach(r: &Report) -> bool {
    r.covenants.values().any(|c| c.status == "breach")
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use rust_decimal::Decimal;

    #[test]
    fn numbers_are_written_as_normalised_decimals() {
        let cases = [
            ("0", "0"), ("-0.000", "0"), ("1.500", "1.5"), ("-12.340", "-12.34"), ("0.0001", "0.0001"),
            ("-0.05", "-0.05"), ("100", "100"), ("1000.000", "1000"), ("79228162514264337593543950335", "79228162514264337593543950335"),
            ("-7.9228162514264337593543950335", "-7.9228162514264337593543950335"), ("0.0000000000000000000000000001", "0.0000000000000000000000000001"),
            ("18446744073709551616.5", "18446744073709551616.5"),
        ];
        for (input, written) in cases {
            assert_eq!(super::number(Decimal::from_str(input).unwrap()), written, "{input}");
        }
    }

    #[test]
    fn numbers_agree_with_rust_decimal_display() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mantissa = i128::from(x as i64) * i128::from((x >> 40) as i32);
            let d = Decimal::from_i128_with_scale(mantissa, (x % 29) as u32);
            let expected = if d.is_zero() { "0".to_string() } else { d.normalize().to_string() };
            assert_eq!(super::number(d), expected);
        }
    }
}
