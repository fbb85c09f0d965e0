//! Checked operations on values: arithmetic that turns overflow and division by zero into
//! evaluation errors, comparisons, and the built-in functions.

use rust_decimal::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};

use super::{fail, wide, EvalResult, Evaluator, Tracer};
use crate::dates::Date;
use crate::ir::{ArithOp, Builtin};
use crate::span::Span;
use crate::syntax::ast::CmpOp;
use crate::value::Value;

/// Inlined, so that a caller with a known operation (a pool's sums, a schedule's
/// interpolation) goes straight to it; the failures are built out of line.
#[inline]
pub fn arith(op: ArithOp, a: Decimal, b: Decimal, span: Span) -> EvalResult<Decimal> {
    let r = match op {
        ArithOp::Add => a.checked_add(b),
        ArithOp::Sub => a.checked_sub(b),
        ArithOp::Mul => a.checked_mul(b),
        ArithOp::Div => {
            if b.is_zero() {
                return division_by_zero(span);
            }
            a.checked_div(b)
        }
    };
    match r {
        Some(d) => Ok(d),
        None => overflow(span),
    }
}

#[cold]
#[inline(never)]
fn division_by_zero(span: Span) -> EvalResult<Decimal> {
    fail(span, "division by zero")
}

#[cold]
#[inline(never)]
fn overflow(span: Span) -> EvalResult<Decimal> {
    fail(span, "arithmetic overflow: the result exceeds the decimal range")
}

/// The order of two decimals: their mantissas when the scales agree, as a schedule's keys and
/// the ages read against them usually do; when they do not and the one with fewer places has
/// a mantissa of 32 bits (a limit such as `80%` against a quotient's 28 places), that one's
/// mantissa brought to the other's scale, which fits 128 bits; else rust_decimal's
/// comparison, which rescales.
#[inline]
pub fn order(a: Decimal, b: Decimal) -> std::cmp::Ordering {
    let (sa, sb) = (a.scale(), b.scale());
    if sa == sb {
        return a.mantissa().cmp(&b.mantissa());
    }
    // 2^32 · 10^28 < 2^126: the product cannot overflow.
    let small = |m: i128| m.unsigned_abs() <= u128::from(u32::MAX);
    if sa < sb && small(a.mantissa()) {
        if let Some(p) = wide::POWERS_OF_TEN.get((sb - sa) as usize) {
            return (a.mantissa() * p).cmp(&b.mantissa());
        }
    } else if sb < sa && small(b.mantissa()) {
        if let Some(p) = wide::POWERS_OF_TEN.get((sa - sb) as usize) {
            return a.mantissa().cmp(&(b.mantissa() * p));
        }
    }
    a.cmp(&b)
}

pub fn compare(op: CmpOp, a: &Value, b: &Value, span: Span) -> EvalResult<bool> {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (a, b) {
        (Value::Num(x), Value::Num(y)) => Some(order(*x, *y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    };
    let Some(ord) = ord else {
        return match op {
            CmpOp::Eq => Ok(a == b),
            CmpOp::Ne => Ok(a != b),
            _ => fail(span, "these values cannot be ordered"),
        };
    };
    Ok(holds(op, ord))
}

pub fn compare_numbers(op: CmpOp, a: Decimal, b: Decimal) -> bool {
    holds(op, order(a, b))
}

fn holds(op: CmpOp, ord: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering;
    match op {
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
    }
}

/// A day-count convention of `year_fraction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayCount {
    Act360,
    Act365F,
    Thirty360,
}

impl DayCount {
    pub fn parse(s: &str) -> Option<DayCount> {
        match s {
            "ACT/360" => Some(DayCount::Act360),
            "ACT/365F" => Some(DayCount::Act365F),
            "30/360" => Some(DayCount::Thirty360),
            _ => None,
        }
    }

    /// The days from `a` to `b` that the basis counts: the numerator of the year fraction.
    pub fn days(self, a: Date, b: Date) -> i64 {
        match self {
            DayCount::Act360 | DayCount::Act365F => i64::from(b.days()) - i64::from(a.days()),
            DayCount::Thirty360 => {
                // Bond basis, ISDA 2006 4.16(f).
                let (y1, m1, mut d1) = a.ymd();
                let (y2, m2, mut d2) = b.ymd();
                if d1 == 31 {
                    d1 = 30;
                }
                if d2 == 31 && d1 == 30 {
                    d2 = 30;
                }
                360 * (i64::from(y2) - i64::from(y1)) + 30 * (i64::from(m2) - i64::from(m1)) + (i64::from(d2) - i64::from(d1))
            }
        }
    }

    /// The days of a year under the basis: the denominator of the year fraction.
    pub fn year_days(self) -> i64 {
        match self {
            DayCount::Act360 | DayCount::Thirty360 => 360,
            DayCount::Act365F => 365,
        }
    }

    pub fn year_fraction(self, a: Date, b: Date) -> Decimal {
        Decimal::from(self.days(a, b)) / Decimal::from(self.year_days())
    }
}

pub fn whole(n: Decimal, span: Span, what: &str) -> EvalResult<i64> {
    if !n.fract().is_zero() {
        return fail(span, format!("{what} must be a whole number, found {}", n.normalize()));
    }
    n.to_i64().ok_or_else(|| super::Fail::here(span, format!("{what} is too large")))
}

fn places(n: Decimal, span: Span) -> EvalResult<u32> {
    let p = whole(n, span, "the number of decimal places")?;
    if !(0..=28).contains(&p) {
        return fail(span, format!("decimal places run from 0 to 28, found {p}"));
    }
    Ok(p as u32)
}

fn step_multiple(x: Decimal, step: Decimal, toward: wide::Toward, span: Span) -> EvalResult<Decimal> {
    if step <= Decimal::ZERO {
        return fail(span, format!("the step must be positive, found {}", step.normalize()));
    }
    // Exact: a quotient rounded to 28 digits could land on the wrong side of `x`.
    wide::multiple(x, step, toward).ok_or_else(|| super::Fail::here(span, "arithmetic overflow: the result exceeds the decimal range"))
}

/// Rounds to a multiple of `step` in the given direction, exactly; `nearest` breaks ties
/// away from zero.
pub fn round_to_increment(x: Decimal, step: Decimal, mode: crate::syntax::ast::RoundingMode, span: Span) -> EvalResult<Decimal> {
    use crate::syntax::ast::RoundingMode;
    let toward = match mode {
        RoundingMode::Up => wide::Toward::Up,
        RoundingMode::Down => wide::Toward::Down,
        RoundingMode::Nearest => wide::Toward::NearestAway,
    };
    step_multiple(x, step, toward, span)
}

fn num(v: &Value, span: Span) -> EvalResult<Decimal> {
    match v {
        Value::Num(n) => Ok(*n),
        _ => fail(span, "expected a number"),
    }
}

fn date(v: &Value, span: Span) -> EvalResult<Date> {
    match v {
        Value::Date(d) => Ok(*d),
        _ => fail(span, "expected a date"),
    }
}

pub fn builtin<T: Tracer>(ev: &mut Evaluator<'_, T>, b: Builtin, args: &[Value], span: Span) -> EvalResult<Value> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    let n = |i: usize| num(&arg(i), span);
    let d = |i: usize| date(&arg(i), span);
    let number = |x: Decimal| Ok(Value::Num(x));
    match b {
        Builtin::Abs => number(n(0)?.abs()),
        Builtin::Min => number(n(0)?.min(n(1)?)),
        Builtin::Max => number(n(0)?.max(n(1)?)),
        Builtin::Clamp => {
            let (x, lo, hi) = (n(0)?, n(1)?, n(2)?);
            if lo > hi {
                return fail(span, format!("clamp bounds are reversed: {} > {}", lo.normalize(), hi.normalize()));
            }
            number(x.max(lo).min(hi))
        }
        Builtin::Round => number(n(0)?.round_dp_with_strategy(places(n(1)?, span)?, RoundingStrategy::MidpointAwayFromZero)),
        Builtin::RoundEven => number(n(0)?.round_dp_with_strategy(places(n(1)?, span)?, RoundingStrategy::MidpointNearestEven)),
        Builtin::Floor => number(step_multiple(n(0)?, n(1)?, wide::Toward::Down, span)?),
        Builtin::Ceil => number(step_multiple(n(0)?, n(1)?, wide::Toward::Up, span)?),
        Builtin::Sqrt => {
            let x = n(0)?;
            match wide::sqrt(x) {
                Some(r) => number(r),
                None => fail(span, format!("square root of a negative number ({})", x.normalize())),
            }
        }
        Builtin::Ln => {
            let x = n(0)?;
            match wide::ln(x) {
                Some(r) => number(r),
                None => fail(span, format!("logarithm of a number that is not positive ({})", x.normalize())),
            }
        }
        Builtin::Exp => wide::exp(n(0)?).map_or_else(|| fail(span, "arithmetic overflow: exp exceeds the decimal range above 66.54"), number),
        Builtin::Pow => match wide::pow(n(0)?, n(1)?) {
            Ok(r) => number(r),
            Err(wide::PowError::ZeroToNegative) => fail(span, "division by zero: 0 to a negative power"),
            Err(wide::PowError::NegativeToFractional) => fail(span, "a negative number to a fractional power"),
            Err(wide::PowError::Overflow) => fail(span, "arithmetic overflow in pow: the result exceeds the decimal range"),
        },
        Builtin::Amount | Builtin::Money => number(n(0)?),
        Builtin::Len => match arg(0) {
            Value::List(items) => number(Decimal::from(items.len())),
            _ => fail(span, "expected a list"),
        },
        Builtin::DaysBetween => number(Decimal::from(i64::from(d(1)?.days()) - i64::from(d(0)?.days()))),
        Builtin::MonthsBetween => number(Decimal::from(d(0)?.months_until(d(1)?))),
        Builtin::YearFraction | Builtin::DayCount | Builtin::BasisDays => {
            let basis_arg = if b == Builtin::BasisDays { 0 } else { 2 };
            let Value::Text(basis) = arg(basis_arg) else { return fail(span, "expected a day count") };
            let Some(dc) = DayCount::parse(&basis) else {
                return fail(span, format!("unknown day count `{basis}`: use \"ACT/360\", \"ACT/365F\" or \"30/360\""));
            };
            match b {
                Builtin::YearFraction => number(dc.year_fraction(d(0)?, d(1)?)),
                Builtin::DayCount => number(Decimal::from(dc.days(d(0)?, d(1)?))),
                _ => number(Decimal::from(dc.year_days())),
            }
        }
        Builtin::IsMonthEnd => Ok(Value::Bool(d(0)?.is_month_end())),
        Builtin::IsQuarterEnd => Ok(Value::Bool(d(0)?.is_quarter_end())),
        Builtin::QuarterEnd => Ok(Value::Date(d(0)?.quarter_end())),
        Builtin::MonthEnd => Ok(Value::Date(d(0)?.month_end())),
        Builtin::AddBusinessDays => {
            let count = whole(n(1)?, span, "the number of business days")?;
            ev.add_business_days(d(0)?, count, 0, span).map(Value::Date)
        }
        Builtin::IsBusinessDay => ev.is_business_day(d(0)?, 0).map(Value::Bool),
        Builtin::IsBusinessDayIn => {
            let calendars = n(1)?.to_u64().unwrap_or(0);
            ev.is_business_day(d(0)?, calendars).map(Value::Bool)
        }
        Builtin::Weekday => number(Decimal::from(d(0)?.weekday() + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// The comparison gives rust_decimal's order over operands of every scale from whole to 28
    /// places, equal scales or not.
    #[test]
    fn order_agrees_with_rust_decimal() {
        let values = [
            "0", "1", "-1", "0.70", "0.7", "-0.30", "12", "30000", "25000.50", "0.0350", "1.25", "-7.125", "100000000000", "0.0000000001",
            "123456789.123456789", "-0.000000000000000000000000001", "79228162514264337593543950335", "-79228162514264337593543950335",
            "3.1415926535897932384626433832", "0.5000000000000000000000000000", "39614081257132168796771975168", "1000000000000000000",
            "-0", "-0.00", "0.000", "4294967295", "-4294967295", "4294967296", "0.4294967295", "0.7500000000000000000000000001", "0.7499999999999999999999999999",
        ];
        let mut compared = 0;
        for a in values {
            for b in values {
                let (a, b) = (Decimal::from_str(a).unwrap(), Decimal::from_str(b).unwrap());
                assert_eq!(order(a, b), a.cmp(&b), "{a} against {b}");
                compared += 1;
            }
        }
        assert_eq!(compared, 31 * 31);
    }
}
