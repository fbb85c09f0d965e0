//! Exact and correctly rounded decimal results, computed on wide integers: multiples of a
//! step, square roots, logarithms, exponentials, powers and the conversion of scientific
//! notation. A 96-bit decimal cannot hold the intermediate figures these need, and
//! rust_decimal's own `maths` functions lose up to a few hundred units in the last place.
//!
//! Every result is rounded once, to the nearest decimal (ties to even): the one with the
//! most digits after the point (at most 28) whose mantissa fits 96 bits. `sqrt`, whole
//! powers, multiples and scientific notation are computed exactly before that rounding,
//! so they are correctly rounded. `ln`, `exp` and fractional powers are computed in
//! fixed point with 256 fractional bits (an error near 10^-75, relative for `exp`), far
//! below the half unit of the 28th digit, so they are correctly rounded except when the
//! exact value lies within about 10^-45 of a half unit, and never off by a whole unit.

use std::sync::OnceLock;

use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use rust_decimal::Decimal;

/// Fractional bits of the fixed-point figures in `ln` and `exp`.
const BITS: u64 = 256;

/// One more than the largest mantissa a decimal holds.
fn mantissa_limit() -> BigUint {
    BigUint::from(1u8) << 96u32
}

fn ten_pow(n: u64) -> BigUint {
    power_of(BigUint::from(10u8), n)
}

fn power_of(base: BigUint, n: u64) -> BigUint {
    let mut result = BigUint::from(1u8);
    let mut square = base;
    let mut n = n;
    while n > 0 {
        if n & 1 == 1 {
            result *= &square;
        }
        n >>= 1;
        if n > 0 {
            square = &square * &square;
        }
    }
    result
}

/// |d| as an integer mantissa and its scale: |d| = mantissa ÷ 10^scale.
fn parts(d: Decimal) -> (BigUint, u32) {
    (BigUint::from(d.mantissa().unsigned_abs()), d.scale())
}

fn decimal(negative: bool, mantissa: &BigUint, scale: u32) -> Option<Decimal> {
    let m = i128::try_from(mantissa).ok()?;
    let d = Decimal::try_from_i128_with_scale(if negative { -m } else { m }, scale).ok()?;
    Some(d.normalize())
}

/// The decimal nearest to ±num ÷ den (ties to even); 0 for a value below half the
/// smallest step, `None` beyond the decimal range.
pub fn nearest(negative: bool, num: &BigUint, den: &BigUint) -> Option<Decimal> {
    if den.bits() == 0 {
        return None;
    }
    let limit = mantissa_limit();
    let mut scale: u32 = 28;
    loop {
        let (q, r) = (num * ten_pow(u64::from(scale))).div_rem(den);
        let twice = r << 1u32;
        let q = if twice > *den || (twice == *den && q.is_odd()) { q + 1u8 } else { q };
        if q < limit {
            return decimal(negative, &q, scale);
        }
        if scale == 0 {
            return None;
        }
        // Too many digits for 96 bits: drop the excess at once (each 10 bits are at least
        // three digits), then one at a time.
        let excess = ((q.bits() - 96) * 3 / 10).max(1);
        scale = scale.saturating_sub(u32::try_from(excess).unwrap_or(u32::MAX));
    }
}

/// ±value ÷ 10^scale exactly, or `None` when no decimal holds it.
fn exact(value: &BigInt, scale: u32) -> Option<Decimal> {
    let negative = value.sign() == Sign::Minus;
    let mut m = value.magnitude().clone();
    let mut scale = scale;
    let limit = mantissa_limit();
    let ten = BigUint::from(10u8);
    while (m >= limit || scale > 28) && scale > 0 {
        let (q, r) = m.div_rem(&ten);
        if r.bits() != 0 {
            return None;
        }
        m = q;
        scale -= 1;
    }
    if m >= limit {
        return None;
    }
    decimal(negative, &m, scale)
}

/// How a quotient is taken to a whole number of steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toward {
    Down,
    Up,
    /// The nearest multiple, ties away from zero.
    NearestAway,
}

/// The multiple of `step` (> 0) next to `x` in the given direction, exactly; `None` when
/// that multiple is beyond the decimal range.
pub fn multiple(x: Decimal, step: Decimal, toward: Toward) -> Option<Decimal> {
    if step <= Decimal::ZERO {
        return None;
    }
    multiple_narrow(x, step, toward).or_else(|| multiple_wide(x, step, toward))
}

fn multiple_wide(x: Decimal, step: Decimal, toward: Toward) -> Option<Decimal> {
    let scale = x.scale().max(step.scale());
    let widen = |d: Decimal| BigInt::from(d.mantissa()) * BigInt::from(ten_pow(u64::from(scale - d.scale())));
    let (xs, ss) = (widen(x), widen(step));
    let (q, r) = xs.div_mod_floor(&ss);
    let q = match toward {
        Toward::Down => q,
        Toward::Up if r.sign() == Sign::NoSign => q,
        Toward::Up => q + 1,
        Toward::NearestAway => {
            let twice: BigInt = r << 1u32;
            // q is below x: a tie goes up for a positive x and stays for a negative one.
            if twice > ss || (twice == ss && xs.sign() == Sign::Plus) {
                q + 1
            } else {
                q
            }
        }
    };
    exact(&(q * ss), scale)
}

/// 10^0 to 10^28, the factors that bring a decimal to another of its scales.
pub(crate) static POWERS_OF_TEN: [i128; 29] = [
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000, 10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000, 1000000000000000, 10000000000000000, 100000000000000000, 1000000000000000000, 10000000000000000000, 100000000000000000000, 1000000000000000000000, 10000000000000000000000, 100000000000000000000000, 1000000000000000000000000, 10000000000000000000000000, 100000000000000000000000000, 1000000000000000000000000000, 10000000000000000000000000000,
];

/// `multiple` in 128-bit integers, for the usual case where the widened operands and the
/// product fit: the same exact result without a big-integer allocation. `None` when they do
/// not fit, and the big-integer path decides.
fn multiple_narrow(x: Decimal, step: Decimal, toward: Toward) -> Option<Decimal> {
    let scale = x.scale().max(step.scale());
    let widen = |d: Decimal| d.mantissa().checked_mul(*POWERS_OF_TEN.get((scale - d.scale()) as usize)?);
    let (xs, ss) = (widen(x)?, widen(step)?);
    let q = xs.checked_div_euclid(ss)?;
    // The remainder, 0 ≤ r < ss, fits; wrapping arithmetic gives it exactly from the quotient
    // without a second 128-bit division.
    let r = xs.wrapping_sub(q.wrapping_mul(ss));
    let q = match toward {
        Toward::Down => q,
        Toward::Up if r == 0 => q,
        Toward::Up => q.checked_add(1)?,
        Toward::NearestAway => {
            let twice = r.checked_mul(2)?;
            if twice > ss || (twice == ss && xs > 0) {
                q.checked_add(1)?
            } else {
                q
            }
        }
    };
    let product = q.checked_mul(ss)?;
    Decimal::try_from_i128_with_scale(product, scale).ok()?;
    // The same value at the step's own scale: normalising it strips only the step's trailing
    // zeros, not every place `x` brought (a quotient's 28), one division by ten each.
    let at_step_scale = q.checked_mul(step.mantissa())?;
    Decimal::try_from_i128_with_scale(at_step_scale, step.scale()).ok().map(|d| d.normalize())
}


/// The correctly rounded square root of `x` ≥ 0: the decimal nearest to √x with the most
/// digits after the point (at most 28) whose mantissa fits 96 bits.
///
/// With x = m ÷ 10^s, the root in units of 10^-t is √n for the whole n = m·10^(2t−s), and
/// the answer is the largest t in 14..=28 whose rounded root is below 2^96 (the root of any
/// decimal fits at t = 14). Rounded roots grow with t, so the search for t may start at any
/// t at or above that one: f64 logarithms pick t_est, one above the largest t whose root is
/// below 2^96 give or take their error, and the loop walks down from t_est + 1 (or 28).
///
/// Why the result is correctly rounded whatever f64 does: for a whole n ≥ 1 the nearest
/// whole q to √n is the one with (q − ½)² < n < (q + ½)², that is q² − q < n ≤ q² + q (n
/// and q whole, and no n equals (q ± ½)², which is not whole, so there are no ties). Those
/// intervals (q² − q, q² + q] for q = 1, 2, … tile the positive integers, so exactly one
/// q passes both tests, and [`nearest_root`] returns only a q it has checked against both
/// in exact 256-bit integer arithmetic. f64 (a seed, then one Newton step on the exact
/// residual n − q0²) only decides how few ±1 corrections are needed: its error is well
/// under one unit for the 100-bit roots that arise, so one or two corrections suffice,
/// and should they not, the BigUint computation answers instead.
pub fn sqrt(x: Decimal) -> Option<Decimal> {
    if x.is_zero() {
        return Some(Decimal::ZERO);
    }
    if x.is_sign_negative() {
        return None;
    }
    let m = x.mantissa().unsigned_abs();
    let s = x.scale();
    // √x·10^t < 2^96 ⇔ t < log10(2^96) − ½·log10(x).
    let x_f64 = m as f64 / 10f64.powi(s as i32);
    let t_est = (96.0 * std::f64::consts::LOG10_2 - 0.5 * x_f64.log10()).floor();
    let start = if t_est.is_finite() && t_est < 28.0 { (t_est as i64 + 1).clamp(14, 28) as u32 } else { 28 };
    for t in (14..=start).rev() {
        // n ≥ 2^256 has a root beyond 2^96 as well: the next t down.
        let Some(n) = U256::scaled(m, 2 * t - s) else { continue };
        let Some(q) = nearest_root(n) else { return sqrt_reference(x) };
        if q < 1u128 << 96 {
            return decimal_u128(q, t);
        }
    }
    None
}

fn decimal_u128(q: u128, scale: u32) -> Option<Decimal> {
    let d = Decimal::try_from_i128_with_scale(i128::try_from(q).ok()?, scale).ok()?;
    Some(d.normalize())
}

/// The whole number nearest to √n for n ≥ 1: the q with q² − q < n ≤ q² + q, or `None` if
/// f64 left it further than a few corrections away (it never does).
fn nearest_root(n: U256) -> Option<u128> {
    let r = n.to_f64().sqrt();
    let q0 = r as u128;
    if q0 == 0 {
        return None;
    }
    // One Newton step, q0 + (n − q0²) ÷ 2q0, on the residual computed exactly.
    let square = U256::product(q0, q0);
    let twice = 2.0 * q0 as f64;
    let mut q = if n >= square {
        q0.checked_add((n.minus(square).to_f64() / twice).round() as u128)?
    } else {
        q0.checked_sub((square.minus(n).to_f64() / twice).round() as u128)?
    };
    for _ in 0..4 {
        let square = U256::product(q, q);
        if n > square.plus(q)? {
            q = q.checked_add(1)?;
        } else if n <= square.minus(U256::small(q)) {
            q = q.checked_sub(1)?;
        } else {
            return Some(q);
        }
    }
    None
}

/// An unsigned 256-bit integer, high half first so that the derived order is numeric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct U256 {
    hi: u128,
    lo: u128,
}

impl U256 {
    fn small(lo: u128) -> U256 {
        U256 { hi: 0, lo }
    }

    /// a × b, exactly.
    fn product(a: u128, b: u128) -> U256 {
        let (a1, a0) = (a >> 64, a & u128::from(u64::MAX));
        let (b1, b0) = (b >> 64, b & u128::from(u64::MAX));
        let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
        // At most 3·(2^64 − 1): no overflow.
        let mid = (p00 >> 64) + (p01 & u128::from(u64::MAX)) + (p10 & u128::from(u64::MAX));
        U256 { hi: p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64), lo: (p00 & u128::from(u64::MAX)) | (mid << 64) }
    }

    /// m·10^k, or `None` from 2^256 up.
    fn scaled(m: u128, k: u32) -> Option<U256> {
        let first = k.min(38);
        let n = U256::product(m, 10u128.pow(first));
        if k == first {
            return Some(n);
        }
        // k ≤ 56: the rest is at most 10^18.
        let rest = 10u128.checked_pow(k - first)?;
        let low = U256::product(n.lo, rest);
        let hi = n.hi.checked_mul(rest)?.checked_add(low.hi)?;
        Some(U256 { hi, lo: low.lo })
    }

    fn plus(self, b: u128) -> Option<U256> {
        let (lo, carry) = self.lo.overflowing_add(b);
        Some(U256 { hi: self.hi.checked_add(u128::from(carry))?, lo })
    }

    /// self − b for b ≤ self.
    fn minus(self, b: U256) -> U256 {
        let (lo, borrow) = self.lo.overflowing_sub(b.lo);
        U256 { hi: self.hi.wrapping_sub(b.hi).wrapping_sub(u128::from(borrow)), lo }
    }

    fn to_f64(self) -> f64 {
        self.hi as f64 * 2f64.powi(128) + self.lo as f64
    }
}

/// The correctly rounded square root through BigUint: the reference [`sqrt`] is tested
/// against, and its answer should f64 ever leave the fast path short.
pub(crate) fn sqrt_reference(x: Decimal) -> Option<Decimal> {
    if x.is_zero() {
        return Some(Decimal::ZERO);
    }
    if x.is_sign_negative() {
        return None;
    }
    let (m, s) = parts(x);
    let limit = mantissa_limit();
    // The root of m·10^(2t−s) is the root in units of 10^-t; t ≥ 14 keeps 2t − s ≥ 0, and
    // the largest root (2.8·10^14) fits 96 bits at t = 14.
    for t in (14..=28u32).rev() {
        let n = &m * ten_pow(u64::from(2 * t - s));
        let q = n.sqrt();
        // Round up when n > (q + ½)², that is n > q² + q (n and q are whole; no ties).
        let q = if n > &q * &q + &q { q + 1u8 } else { q };
        if q < limit {
            return decimal(false, &q, t);
        }
    }
    None
}

/// ln 2 and ln 10 in fixed point.
fn constants() -> &'static (BigInt, BigInt) {
    static CONSTANTS: OnceLock<(BigInt, BigInt)> = OnceLock::new();
    CONSTANTS.get_or_init(|| {
        let one = BigInt::from(1u8) << BITS;
        // ln 2 = 2·atanh(1/3); ln 10 = 3·ln 2 + ln 1.25 = 3·ln 2 + 2·atanh(1/9).
        let ln2 = atanh(&(&one / 3)) << 1u32;
        let ln10 = &ln2 * 3 + (atanh(&(&one / 9)) << 1u32);
        (ln2, ln10)
    })
}

/// atanh(z) for fixed-point |z| ≤ 0.18: z + z³/3 + z⁵/5 + …
fn atanh(z: &BigInt) -> BigInt {
    let z2 = (z * z) >> BITS;
    let mut power = z.clone();
    let mut sum = z.clone();
    let mut n = 1u32;
    loop {
        power = (power * &z2) >> BITS;
        n += 2;
        let term = &power / n;
        if term.sign() == Sign::NoSign {
            return sum;
        }
        sum += term;
    }
}

/// ln x in fixed point, for x > 0.
fn ln_fixed(x: Decimal) -> BigInt {
    let (ln2, ln10) = constants();
    let (m, s) = parts(x);
    // m = y·2^k with y in [1/√2, √2]: ln m = k·ln 2 + 2·atanh((y − 1)/(y + 1)).
    let mut k = i64::try_from(m.bits()).unwrap_or(0) - 1;
    let one = BigInt::from(1u8) << BITS;
    let mut y = BigInt::from(m) << BITS;
    y >>= k;
    // 1.5 between the two halves, √2 ≈ 1.414: y below 1.5 keeps |z| ≤ 0.2.
    if y > (&one * 3) >> 1u32 {
        y >>= 1u32;
        k += 1;
    }
    let z = ((&y - &one) << BITS) / (&y + &one);
    (atanh(&z) << 1u32) + ln2 * k - ln10 * i64::from(s)
}

/// e^x for a fixed-point x: `None` when it overflows, 0 when it is below the decimal range.
fn exp_fixed(x: &BigInt) -> Option<Decimal> {
    let (ln2, _) = constants();
    let one = BigInt::from(1u8) << BITS;
    // e^67 > 10^29 is beyond the range; e^-70 < 10^-30 rounds to 0.
    if *x > &one * 67u8 {
        return None;
    }
    if *x < -(&one * 70u8) {
        return Some(Decimal::ZERO);
    }
    // x = k·ln 2 + r with |r| ≤ ln 2 / 2: e^x = 2^k·e^r, and e^r is a short series.
    let k = (x + (ln2 >> 1u32)).div_floor(ln2);
    let r = x - &k * ln2;
    let mut term = one.clone();
    let mut sum = one;
    let mut n = 0u32;
    loop {
        n += 1;
        term = ((term * &r) >> BITS) / n;
        if term.sign() == Sign::NoSign {
            break;
        }
        sum += &term;
    }
    let k = i64::try_from(&k).ok()?;
    let num = sum.magnitude().clone();
    let den = BigUint::from(1u8) << BITS;
    if k >= 0 {
        nearest(false, &(num << k), &den)
    } else {
        nearest(false, &num, &(den << k.unsigned_abs()))
    }
}

/// ln x for x > 0, within one unit of the last digit.
pub fn ln(x: Decimal) -> Option<Decimal> {
    if x <= Decimal::ZERO {
        return None;
    }
    let l = ln_fixed(x);
    nearest(l.sign() == Sign::Minus, l.magnitude(), &(BigUint::from(1u8) << BITS))
}

/// e^x within one unit of the last digit; `None` beyond the decimal range.
pub fn exp(x: Decimal) -> Option<Decimal> {
    let (m, s) = parts(x);
    let fixed = BigInt::from_biguint(if x.is_sign_negative() { Sign::Minus } else { Sign::Plus }, (m << BITS) / ten_pow(u64::from(s)));
    exp_fixed(&fixed)
}

/// Why a power has no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowError {
    ZeroToNegative,
    NegativeToFractional,
    Overflow,
}

/// Whole powers whose exact value has at most this many bits are computed exactly.
const EXACT_POWER_BITS: u64 = 4096;

/// x^p: exact then rounded for a whole p of moderate size, through 256-bit logarithms
/// otherwise. A result below the decimal range is 0.
pub fn pow(x: Decimal, p: Decimal) -> Result<Decimal, PowError> {
    let whole = p.fract().is_zero();
    if x.is_zero() {
        return match p.cmp(&Decimal::ZERO) {
            std::cmp::Ordering::Less if whole => Err(PowError::ZeroToNegative),
            std::cmp::Ordering::Equal => Ok(Decimal::ONE),
            _ => Ok(Decimal::ZERO),
        };
    }
    if !whole && x.is_sign_negative() {
        return Err(PowError::NegativeToFractional);
    }
    let odd = whole && !(p % Decimal::TWO).is_zero();
    let negative = x.is_sign_negative() && odd;
    if whole {
        let (m, s) = parts(x);
        let (pm, ps) = parts(p.normalize());
        if ps == 0 {
            if let Ok(n) = u64::try_from(&pm) {
                let digits_bits = u64::from(s) * 10 / 3 + 1;
                if n.saturating_mul(m.bits().max(digits_bits)) <= EXACT_POWER_BITS {
                    let num = power_of(m, n);
                    let den = ten_pow(u64::from(s) * n);
                    let r = if p.is_sign_negative() { nearest(negative, &den, &num) } else { nearest(negative, &num, &den) };
                    return r.ok_or(PowError::Overflow);
                }
            }
        }
    }
    // |x|^p = e^(p·ln|x|), with p applied to the fixed-point logarithm exactly.
    let (pm, ps) = parts(p);
    let l = ln_fixed(x.abs());
    let t = BigInt::from_biguint(if p.is_sign_negative() { Sign::Minus } else { Sign::Plus }, pm) * l;
    let t = t.div_floor(&BigInt::from(ten_pow(u64::from(ps))));
    let r = exp_fixed(&t).ok_or(PowError::Overflow)?;
    Ok(if negative { -r } else { r })
}

/// A number in scientific notation (`1.5e3`, `-2.5E-2`, `+.5e1`), rounded to the nearest
/// decimal (ties to even). `None` when it is malformed, beyond the decimal range, or a
/// nonzero value that rounds to 0.
pub fn scientific(text: &str) -> Option<Decimal> {
    let (mantissa, exponent) = text.split_once(['e', 'E'])?;
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // One sign at most, then digits: `1e++3` and `1e+-3` are no numbers.
    let (exponent_negative, exponent_digits) = match exponent.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, exponent.strip_prefix('+').unwrap_or(exponent)),
    };
    if exponent_digits.is_empty() || !exponent_digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let exponent: i64 = exponent_digits.parse().ok()?;
    let exponent = if exponent_negative { exponent.checked_neg()? } else { exponent };
    let m: BigUint = format!("{int}{frac}").parse().ok()?;
    if m.bits() == 0 {
        return Some(Decimal::ZERO);
    }
    // value = m·10^e lies in [10^(digits+e−1), 10^(digits+e)): out of range above 10^29,
    // and below 10^-29 it rounds to 0.
    let e = exponent.checked_sub(i64::try_from(frac.len()).ok()?)?;
    let magnitude = e.checked_add(i64::try_from(m.to_string().len()).ok()?)?;
    if !(-28..=29).contains(&magnitude) {
        return None;
    }
    let r = if e >= 0 { nearest(negative, &(m * ten_pow(e.unsigned_abs())), &BigUint::from(1u8)) } else { nearest(negative, &m, &ten_pow(e.unsigned_abs())) }?;
    (!r.is_zero()).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn an_exponent_has_one_sign_at_most() {
        assert_eq!(scientific("1e-3"), Decimal::from_str("0.001").ok());
        assert_eq!(scientific("1E+3"), Decimal::from_str("1000").ok());
        for bad in ["1e++3", "1e+-3", "1e--3", "1e", "1e+", "1e3.0"] {
            assert_eq!(scientific(bad), None, "{bad}");
        }
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn nearest_rounds_half_to_even_and_keeps_the_most_digits() {
        let n = |a: u64, b: u64| nearest(false, &BigUint::from(a), &BigUint::from(b)).map(|x| x.to_string());
        assert_eq!(n(1, 3).as_deref(), Some("0.3333333333333333333333333333"));
        assert_eq!(n(2, 3).as_deref(), Some("0.6666666666666666666666666667"));
        // 1/8·10^-25 = 1.25·10^-26: 0.00000000000000000000000001|25 at 28 places, a tie to even.
        assert_eq!(nearest(false, &BigUint::from(125u8), &ten_pow(28)).map(|x| x.to_string()).as_deref(), Some("0.0000000000000000000000000125"));
        assert_eq!(nearest(false, &BigUint::from(125u8), &ten_pow(30)).map(|x| x.to_string()).as_deref(), Some("0.0000000000000000000000000001"));
        assert_eq!(nearest(false, &BigUint::from(135u8), &ten_pow(30)).map(|x| x.to_string()).as_deref(), Some("0.0000000000000000000000000001"));
        assert_eq!(nearest(false, &BigUint::from(155u8), &ten_pow(30)).map(|x| x.to_string()).as_deref(), Some("0.0000000000000000000000000002"));
        assert_eq!(n(1, 1), Some("1".into()));
        assert_eq!(nearest(false, &(BigUint::from(1u8) << 96u32), &BigUint::from(1u8)), None);
    }

    #[test]
    fn the_narrow_multiple_agrees_with_the_wide_one() {
        let values = ["0", "1", "-1", "0.5", "-0.5", "2.5", "-2.5", "1234567.891", "-1234567.891", "250000", "10000", "0.01", "3", "7.0000",
            "79228162514264337593543950335", "-79228162514264337593543950335", "0.0000000000000000000000000001", "123456789012345678.9012345678"];
        let mut compared = 0;
        for x in values {
            for step in values {
                let (x, step) = (Decimal::from_str(x).unwrap(), Decimal::from_str(step).unwrap());
                if step <= Decimal::ZERO {
                    continue;
                }
                for toward in [Toward::Down, Toward::Up, Toward::NearestAway] {
                    if let Some(narrow) = multiple_narrow(x, step, toward) {
                        let wide = multiple_wide(x, step, toward);
                        assert_eq!(Some(narrow), wide, "{x} to {step} {toward:?}");
                        assert_eq!(Some(narrow.to_string()), wide.map(|w| w.to_string()), "{x} to {step} {toward:?}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 200, "{compared}");
    }

    #[test]
    fn multiples_are_exact() {
        assert_eq!(multiple(d("2999999.9999999999999999999999"), d("3"), Toward::Down), Some(d("2999997")));
        assert_eq!(multiple(d("0.01"), d("1000000000000000000000000000"), Toward::Up), Some(d("1000000000000000000000000000")));
        assert_eq!(multiple(d("-7"), d("2"), Toward::Down), Some(d("-8")));
        assert_eq!(multiple(d("-7"), d("2"), Toward::Up), Some(d("-6")));
        assert_eq!(multiple(d("-7"), d("2"), Toward::NearestAway), Some(d("-8")));
        assert_eq!(multiple(d("7"), d("2"), Toward::NearestAway), Some(d("8")));
        assert_eq!(multiple(d("6.9"), d("2"), Toward::NearestAway), Some(d("6")));
    }

    /// The narrow path normalises at the step's scale: the digits and the scale are those of
    /// the product at the wider scale, normalised, as computed before.
    #[test]
    fn multiples_keep_their_digits_and_scale() {
        fn before(x: Decimal, step: Decimal, toward: Toward) -> Option<Decimal> {
            let scale = x.scale().max(step.scale());
            let widen = |d: Decimal| d.mantissa().checked_mul(10i128.checked_pow(scale - d.scale())?);
            let (xs, ss) = (widen(x)?, widen(step)?);
            let (q, r) = (xs.checked_div_euclid(ss)?, xs.checked_rem_euclid(ss)?);
            let q = match toward {
                Toward::Down => q,
                Toward::Up if r == 0 => q,
                Toward::Up => q.checked_add(1)?,
                Toward::NearestAway if r.checked_mul(2)? > ss || (r.checked_mul(2)? == ss && xs > 0) => q.checked_add(1)?,
                Toward::NearestAway => q,
            };
            Decimal::try_from_i128_with_scale(q.checked_mul(ss)?, scale).ok().map(|d| d.normalize())
        }
        let xs = ["0", "-0.000", "7", "-7", "6.9", "1234567.891", "-99999.99995", "2999999.9999999999999999999999", "0.0000000000000000000000000001", "1538461.5384615384615384615385", "79228162514264337593543950335"];
        let steps = ["1", "2", "0.05", "10000", "10000.000", "0.0001", "2500.50", "3", "0.0000000000000000000000000003"];
        let mut compared = 0;
        for x in xs {
            for step in steps {
                for toward in [Toward::Down, Toward::Up, Toward::NearestAway] {
                    let (x, step) = (d(x), d(step));
                    let (got, expected) = (multiple_narrow(x, step, toward), before(x, step, toward));
                    assert_eq!(got.map(|g| (g.mantissa(), g.scale(), g.is_sign_negative())), expected.map(|e| (e.mantissa(), e.scale(), e.is_sign_negative())), "{x} to {step} {toward:?}");
                    compared += usize::from(got.is_some());
                }
            }
        }
        assert!(compared > 200, "{compared}");
    }

    #[test]
    fn scientific_rounds_half_to_even() {
        assert_eq!(scientific("1.5e3"), Some(d("1500")));
        assert_eq!(scientific("+.5E1"), Some(d("5")));
        assert_eq!(scientific("-2.5e-2"), Some(d("-0.025")));
        assert_eq!(scientific("1e30"), None);
        assert_eq!(scientific("1e-29"), None);
        assert_eq!(scientific("0e-99"), Some(Decimal::ZERO));
        // The 29th significant digit is a 5 followed by nothing: a tie, kept even.
        assert_eq!(scientific("1.00000000000000000000000000025e0"), Some(d("1.0000000000000000000000000002")));
        assert_eq!(scientific("1.00000000000000000000000000035e0"), Some(d("1.0000000000000000000000000004")));
    }
}

#[cfg(test)]
mod sqrt_tests {
    use super::*;
    use proptest::prelude::*;

    const MAX_MANTISSA: u128 = (1 << 96) - 1;

    fn same(m: u128, scale: u32) {
        let x = Decimal::from_i128_with_scale(m as i128, scale);
        let (fast, reference) = (sqrt(x), sqrt_reference(x));
        // Equal as decimals and in their digits: the scale is part of the answer.
        assert_eq!(fast.map(|d| (d.mantissa(), d.scale())), reference.map(|d| (d.mantissa(), d.scale())), "sqrt({x})");
    }

    #[test]
    fn every_small_mantissa_at_every_parity_of_scale() {
        for scale in [0, 1, 2, 15, 27, 28] {
            for m in 1..=1_000_000u128 {
                same(m, scale);
            }
        }
    }

    #[test]
    fn perfect_squares_and_their_neighbours() {
        let mut roots: Vec<u128> = (1..=2_000u128).collect();
        roots.extend((0..2_000u128).map(|i| (1u128 << 48) - 1 - i));
        roots.extend((1..=96).map(|b| 1u128 << (b / 2)));
        roots.extend((0..=14).map(|p| 10u128.pow(p)));
        for r in roots {
            let square = r * r;
            for m in [square - 1, square, square + 1] {
                if (1..=MAX_MANTISSA).contains(&m) {
                    for scale in 0..=28 {
                        same(m, scale);
                    }
                }
            }
        }
    }

    #[test]
    fn mantissas_near_the_96_bit_limit_at_every_scale() {
        for scale in 0..=28 {
            for i in 0..2_000u128 {
                same(MAX_MANTISSA - i, scale);
            }
            for b in 0..96 {
                for m in [(1u128 << b) - 1, 1u128 << b, (1u128 << b) + 1] {
                    if (1..=MAX_MANTISSA).contains(&m) {
                        same(m, scale);
                    }
                }
            }
        }
        assert_eq!(sqrt(Decimal::MAX).map(|d| d.to_string()).as_deref(), Some("281474976710656"));
        assert_eq!(sqrt(Decimal::new(1, 28)).map(|d| d.to_string()).as_deref(), Some("0.00000000000001"));
    }

    /// x = q(q + 1) ÷ 10^28 puts √x·10^28 just below q + ½, the closest a root comes to a
    /// tie; one unit more of the mantissa puts it above.
    #[test]
    fn roots_next_to_a_half_unit() {
        let (two, five) = (1u128 << 28, 5u128.pow(28));
        let modulus = two * five;
        // q ≡ a (mod 2^28) and q ≡ b (mod 5^28), by the Chinese remainder theorem: the
        // inverse of 2^28 modulo 5^28 is ((5^28 + 1) ÷ 2)^28.
        let big = |v: u128| BigUint::from(v);
        let inverse = big((five + 1) / 2).modpow(&big(28), &big(five));
        let crt = |a: u128, b: u128| -> u128 {
            let k = (big((b + five - a % five) % five) * &inverse) % big(five);
            a + two * u128::try_from(k).unwrap()
        };
        let mut seen = 0;
        for (a, b) in [(0, five - 1), (two - 1, 0)] {
            let base = crt(a, b);
            assert_eq!((base % two, base % five), (a, b));
            for k in 0..4u128 {
                let q = base + k * modulus;
                let product = big(q) * big(q + 1);
                assert_eq!(&product % big(modulus), big(0));
                let Ok(m) = u128::try_from(product / big(modulus)) else { continue };
                if m == 0 || m > MAX_MANTISSA {
                    continue;
                }
                seen += 1;
                for m in [m - 1, m, m + 1] {
                    same(m, 28);
                }
                assert_eq!(sqrt(Decimal::from_i128_with_scale(m as i128, 28)).map(|d| d.mantissa() as u128 * 10u128.pow(28 - d.scale())), Some(q));
            }
        }
        assert!(seen >= 4, "{seen} near-ties");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn random_decimals_match_the_reference(m in 1u128..=MAX_MANTISSA, scale in 0u32..=28) {
            let x = Decimal::from_i128_with_scale(m as i128, scale);
            prop_assert_eq!(sqrt(x).map(|d| (d.mantissa(), d.scale())), sqrt_reference(x).map(|d| (d.mantissa(), d.scale())));
        }

        #[test]
        fn random_bit_lengths_match_the_reference(bits in 1u32..=96, raw: u128, scale in 0u32..=28) {
            let m = (raw >> (128 - bits)).max(1);
            let x = Decimal::from_i128_with_scale(m as i128, scale);
            prop_assert_eq!(sqrt(x).map(|d| (d.mantissa(), d.scale())), sqrt_reference(x).map(|d| (d.mantissa(), d.scale())));
        }
    }
}
