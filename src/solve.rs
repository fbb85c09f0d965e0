//! The one solver behind every "how far until it flips" question: the cure search today, the
//! break-even and sweep commands next.
//!
//! The unknown is an integer count of steps (cents for money, a tolerance unit for numbers),
//! so the answer is exact to one step and the search never compares decimals that only
//! approximate each other. A probe says which side of the boundary a step count lies on, or
//! that the program cannot be evaluated there (an overflow, a budget); the solver never mistakes
//! the last for an answer.
//!
//! This room depends on nothing else of the crate, so the lending rules and the engine can both
//! use it without either reaching up.
//!
//! [`bisect`] is the one bisection loop of the crate: the searches above, and the liquidation's
//! lot searches (the proceeds peak, the least covering sale, the least sale to a target), which
//! count lots as decimals because a pool may hold more lots than an `i64` counts. [`steered`]
//! and [`least_after_steered`] find the same boundaries in fewer probes where a probe also
//! says how far it is from the boundary: the cure search, by the gap between a covenant's
//! sides. The lot searches stay on [`bisect`], whose probe order a non-monotone discount
//! model's figures depend on.

use std::ops::{Add, Sub};

use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

/// A count a bisection can halve: whole steps, as an `i64` or as a whole decimal.
pub trait Count: Copy + PartialOrd + Add<Output = Self> + Sub<Output = Self> {
    const ONE: Self;
    /// Half of a positive gap, rounded down.
    fn half(self) -> Self;
    /// The count as a float, for estimates only.
    fn estimate(self) -> f64;
    /// The least count at or above a finite estimate, if a count holds it.
    fn at_or_above(x: f64) -> Option<Self>;
}

impl Count for i64 {
    const ONE: i64 = 1;
    fn half(self) -> i64 {
        self / 2
    }
    fn estimate(self) -> f64 {
        self as f64
    }
    fn at_or_above(x: f64) -> Option<i64> {
        // 2^63 is the first float beyond an i64.
        let x = x.ceil();
        (x.is_finite() && x.abs() < 9.2e18).then_some(x as i64)
    }
}

/// A decimal as a float, to aim a search or bound an estimate: the mantissa, rounded once to
/// a float, over a power of ten, within three units of the last place (rust_decimal's own
/// conversion goes digit by digit, and a search calls this in every probe).
pub fn float(d: Decimal) -> f64 {
    const POWERS: [f64; 29] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26,
        1e27, 1e28,
    ];
    match POWERS.get(d.scale() as usize) {
        Some(power) => d.mantissa() as f64 / power,
        None => f64::NAN,
    }
}

impl Count for Decimal {
    const ONE: Decimal = Decimal::ONE;
    fn half(self) -> Decimal {
        (self / Decimal::TWO).floor()
    }
    fn estimate(self) -> f64 {
        float(self)
    }
    fn at_or_above(x: f64) -> Option<Decimal> {
        // Through an integer where one holds it: converting a float to a decimal digit by
        // digit is most of a probe's cost in the searches that aim.
        match i64::at_or_above(x) {
            Some(n) => Some(Decimal::from(n)),
            None => Decimal::from_f64(x.ceil()).map(|d| d.ceil()),
        }
    }
}

/// Narrows a bracket to adjacent counts: `lo` is on the starting side, `hi` past the boundary,
/// and `past(n)` says which side `n` is on (assumed monotone). Probes `lo + ⌊(hi − lo) / 2⌋`
/// until `hi − lo` is one step, and returns `(lo, hi)`. A probe may keep state, as the searches
/// above do to treat an undefined count as past the boundary only until one is found.
pub fn bisect<N: Count>(mut lo: N, mut hi: N, mut past: impl FnMut(N) -> bool) -> (N, N) {
    while hi - lo > N::ONE {
        let mid = lo + (hi - lo).half();
        if past(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (lo, hi)
}

/// Rounds of [`steered`] that follow the probes' values before it falls back to halving.
const STEERED_ROUNDS: u32 = 8;

/// [`bisect`] for a boundary where a smooth measure changes sign: `past(n)` also returns a
/// value that is negative before the boundary and zero or more past it (`f_lo` and `f_hi` are
/// the values at the ends, NaN where unknown). While an end's value is unknown the probe is
/// the midpoint, as in [`bisect`]; the other probes are where the line through the two ends of the bracket crosses zero (regula falsi,
/// halving the value kept at an end that stays twice in a row, the Illinois rule, so that both
/// ends move), with the least count at or past that point and, once the estimates agree to
/// within a count, its neighbour on the other side, which usually closes the bracket. After
/// [`STEERED_ROUNDS`] rounds it halves like [`bisect`].
///
/// Only the side a probe reports moves the bracket; the values only choose where to probe.
/// So for a monotone `past` the result is the one [`bisect`] returns, whatever the values
/// are, and an unusable value (infinite, NaN, or on the wrong side) only costs probes.
pub fn steered<N: Count>(mut lo: N, mut hi: N, (mut f_lo, mut f_hi): (f64, f64), mut past: impl FnMut(N) -> (bool, f64)) -> (N, N) {
    let mut kept: Option<bool> = None;
    let mut previous: Option<f64> = None;
    let mut rounds = 0;
    while hi - lo > N::ONE {
        let midpoint = lo + (hi - lo).half();
        let (a, b) = (lo.estimate(), hi.estimate());
        let usable = rounds < STEERED_ROUNDS && f_lo < 0.0 && f_hi >= 0.0 && f_lo.is_finite() && f_hi.is_finite() && a.is_finite() && b.is_finite();
        let estimate = usable.then(|| a + (b - a) * (f_lo / (f_lo - f_hi)));
        rounds += 1;
        let at = estimate.and_then(N::at_or_above).map_or(midpoint, |n| clamp_inside(n, lo, hi));
        let is_past = narrow(&mut (&mut lo, &mut hi, &mut f_lo, &mut f_hi), at, &mut past);
        if kept == Some(is_past) {
            if is_past { f_lo /= 2.0 } else { f_hi /= 2.0 }
        }
        kept = Some(is_past);
        // Two estimates within a count of each other: the boundary is next to this probe,
        // so its neighbour on the other side most likely closes the bracket.
        let settled = match (estimate, previous) {
            (Some(x), Some(p)) => (x - p).abs() < 1.0,
            _ => false,
        };
        previous = estimate;
        if settled {
            probe_neighbour(&mut (&mut lo, &mut hi, &mut f_lo, &mut f_hi), at, is_past, &mut past);
        }
    }
    (lo, hi)
}

/// A bracket being narrowed: its ends and the probes' values at them.
type Bracket<'a, N> = (&'a mut N, &'a mut N, &'a mut f64, &'a mut f64);

/// Probes `at` and moves the bracket's end on the side it reports, which it returns.
fn narrow<N: Count>((lo, hi, f_lo, f_hi): &mut Bracket<'_, N>, at: N, past: &mut impl FnMut(N) -> (bool, f64)) -> bool {
    let (is_past, value) = past(at);
    if is_past {
        (**hi, **f_hi) = (at, value);
    } else {
        (**lo, **f_lo) = (at, value);
    }
    is_past
}

/// When the bracket still holds a count, probes the neighbour of `at` on the other side of
/// what `at` reported (`at_past`): the probe that closes the bracket when the boundary is next
/// to `at`.
fn probe_neighbour<N: Count>(bracket: &mut Bracket<'_, N>, at: N, at_past: bool, past: &mut impl FnMut(N) -> (bool, f64)) {
    if *bracket.1 - *bracket.0 > N::ONE {
        let neighbour = if at_past { at - N::ONE } else { at + N::ONE };
        narrow(bracket, neighbour, past);
    }
}

/// [`steered`] from a guess at the boundary: `first` (moved inside the bracket) is probed,
/// then its neighbour on the other side of what it reports, which closes the bracket when the
/// guess was right; what is left is narrowed by [`steered`]. Sides alone move the bracket, so
/// for a monotone `past` the result is the one [`bisect`] returns, whatever the guess.
pub fn steered_from<N: Count>(mut lo: N, mut hi: N, (mut f_lo, mut f_hi): (f64, f64), first: N, mut past: impl FnMut(N) -> (bool, f64)) -> (N, N) {
    if hi - lo > N::ONE {
        let at = clamp_inside(first, lo, hi);
        let bracket = &mut (&mut lo, &mut hi, &mut f_lo, &mut f_hi);
        let is_past = narrow(bracket, at, &mut past);
        probe_neighbour(bracket, at, is_past, &mut past);
    }
    steered(lo, hi, (f_lo, f_hi), past)
}

/// `n` moved strictly inside `(lo, hi)`, which holds at least one count.
fn clamp_inside<N: Count>(n: N, lo: N, hi: N) -> N {
    if n <= lo {
        lo + N::ONE
    } else if n >= hi {
        hi - N::ONE
    } else {
        n
    }
}

/// A probe for [`bisect`] from one that says `Side`: `After` is past the boundary, and so is
/// `Undefined` while no count has been found `After` (`found` starts as whether `hi` is).
fn sided<'a>(mut probe: impl FnMut(i64) -> Side + 'a, found: &'a mut bool) -> impl FnMut(i64) -> bool + 'a {
    move |n| match probe(n) {
        Side::After => {
            *found = true;
            true
        }
        Side::Undefined => !*found,
        Side::Before => false,
    }
}

/// Where a probed step count lies relative to the boundary being searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Still on the starting side: the condition does not hold yet.
    Before,
    /// Past the boundary: the condition holds.
    After,
    /// The program cannot be evaluated at this count.
    Undefined,
}

/// What a search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The least step count on the `After` side; `last_before` is the count just below it.
    At { first_after: i64, last_before: i64 },
    /// Nothing up to `max` is on the `After` side.
    NotInRange { max: i64 },
    /// The range ends where the program stops being evaluable: `last_before` was the last count
    /// known to be `Before`, `undefined_at` the least count found undefined above it.
    Undefined { last_before: i64, undefined_at: i64 },
}

/// The least count in `(lo, max]` on the `After` side, where `lo` is known to be `Before` and the
/// condition is assumed monotone (once `After`, always `After`). The search brackets upward by
/// powers of ten from `lo + 1`, so an answer near `lo` costs a few probes whatever `max` is, then
/// bisects: at most about 2·log2(max - lo) probes.
///
/// Until a count is found `After`, an undefined count bounds the range from above; after that,
/// it counts as `Before`, which keeps the upper end a count known to be `After`.
pub fn least_after(lo: i64, max: i64, mut probe: impl FnMut(i64) -> Side) -> Found {
    let (mut lo, mut hi) = (lo, lo.saturating_add(1).min(max));
    if hi <= lo {
        return Found::NotInRange { max };
    }
    let mut found = loop {
        match probe(hi) {
            Side::After => break true,
            Side::Undefined => break false,
            Side::Before if hi < max => {
                let step = (hi - lo).saturating_mul(10);
                (lo, hi) = (hi, hi.saturating_add(step).min(max));
            }
            Side::Before => return Found::NotInRange { max },
        }
    };
    let (lo, hi) = bisect(lo, hi, sided(probe, &mut found));
    if found {
        Found::At { first_after: hi, last_before: lo }
    } else {
        Found::Undefined { last_before: lo, undefined_at: hi }
    }
}

/// [`least_after`] aimed by the probes' values, as [`steered`] aims [`bisect`]: `probe` also
/// returns a value that is negative on the `Before` side and zero or more on the `After` side
/// (NaN where it has none), and `f_lo` is the value at `lo`. The search still starts at
/// `lo + 1`; while counts are `Before`, the next is where the line through the last two
/// values reaches zero (never nearer than the next count, at most [`STEERED_ROUNDS`] times,
/// then steps of ten times the last as [`least_after`] takes), and the bracket found is
/// narrowed by [`steered`]. Sides alone decide the answer, so for a monotone condition it is
/// the one [`least_after`] finds, an undefined count ending the range in the same way.
pub fn least_after_steered(lo: i64, f_lo: f64, max: i64, mut probe: impl FnMut(i64) -> (Side, f64)) -> Found {
    let (mut lo, mut f_lo, mut hi) = (lo, f_lo, lo.saturating_add(1).min(max));
    if hi <= lo {
        return Found::NotInRange { max };
    }
    let mut rounds = 0;
    let (mut found, f_hi) = loop {
        match probe(hi) {
            (Side::After, value) => break (true, value),
            (Side::Undefined, _) => break (false, f64::NAN),
            (Side::Before, value) if hi < max => {
                let tenfold = hi.saturating_add((hi - lo).saturating_mul(10)).min(max);
                let rising = value < 0.0 && f_lo.is_finite() && value > f_lo;
                let aimed = if rounds < STEERED_ROUNDS && rising {
                    let x = hi as f64 + (hi - lo) as f64 * (-value / (value - f_lo));
                    i64::at_or_above(x).map(|n| n.clamp(hi.saturating_add(1), max))
                } else {
                    None
                };
                rounds += 1;
                (lo, f_lo) = (hi, value);
                hi = aimed.unwrap_or(tenfold);
            }
            (Side::Before, _) => return Found::NotInRange { max },
        }
    };
    let (lo, hi) = steered(lo, hi, (f_lo, f_hi), |n| match probe(n) {
        (Side::After, value) => {
            found = true;
            (true, value)
        }
        (Side::Undefined, _) => (!found, f64::NAN),
        (Side::Before, value) => (false, value),
    });
    if found {
        Found::At { first_after: hi, last_before: lo }
    } else {
        Found::Undefined { last_before: lo, undefined_at: hi }
    }
}

/// The boundary inside a known bracket: `lo` is `Before` and `hi` is `After` (or undefined, which
/// then bounds the search as in [`least_after`]). Used where the bracket comes from a grid scan,
/// as when a rule flips more than once in range.
pub fn boundary_within(lo: i64, hi: i64, mut probe: impl FnMut(i64) -> Side) -> Found {
    if hi <= lo {
        return Found::NotInRange { max: hi };
    }
    match probe(hi) {
        Side::Before => Found::NotInRange { max: hi },
        first => {
            let mut found = first == Side::After;
            let (lo, hi) = bisect(lo, hi, sided(&mut probe, &mut found));
            if found {
                Found::At { first_after: hi, last_before: lo }
            } else {
                Found::Undefined { last_before: lo, undefined_at: hi }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick conversion is within a few units of the last place of rust_decimal's.
    #[test]
    fn a_decimal_as_a_float_is_within_three_units_of_the_last_place() {
        use rust_decimal::prelude::ToPrimitive;
        for text in ["0", "1", "-1", "0.01", "525", "89100.00", "0.0000000000000000000000000001", "79228162514264337593543950335", "-7.9228162514264337593543950335", "3.1415926535897932384626433833", "123456789.987654321"] {
            let d: Decimal = text.parse().unwrap();
            let (quick, exact) = (float(d), d.to_f64().unwrap());
            assert!((quick - exact).abs() <= 3.0 * f64::EPSILON * exact.abs(), "{text}: {quick} against {exact}");
        }
    }

    /// A guess, right, near or far off, only changes how many probes `steered_from` takes.
    #[test]
    fn steered_from_a_guess_finds_what_bisect_finds() {
        for t in [1_i64, 2, 77, 4_999, 9_999, 10_000] {
            let mut bisected = 0;
            let expected = bisect(0_i64, 10_000, |n| {
                bisected += 1;
                n >= t
            });
            for guess in [t - 1, t, t + 1, t + 40, 0, 10_000, -5, 20_000] {
                let mut probes = 0;
                let found = steered_from(0_i64, 10_000, (-(t as f64), (10_000 - t) as f64), guess, |n| {
                    probes += 1;
                    (n >= t, (n - t) as f64 + 0.5)
                });
                assert_eq!(found, expected, "t {t} guess {guess}");
                if guess == t && t > 1 && t < 10_000 {
                    assert_eq!(probes, 2, "t {t}");
                }
                assert!(probes <= bisected + 2, "t {t} guess {guess}: {probes} probes");
            }
        }
    }

    fn threshold(t: i64) -> impl FnMut(i64) -> Side {
        move |n| if n >= t { Side::After } else { Side::Before }
    }

    #[test]
    fn finds_the_least_count_after_the_boundary() {
        for t in [1, 2, 9, 10, 11, 999, 123_456_789, 10_i64.pow(17)] {
            assert_eq!(least_after(0, 10_i64.pow(17), threshold(t)), Found::At { first_after: t, last_before: t - 1 }, "t = {t}");
        }
    }

    #[test]
    fn probes_grow_with_the_logarithm_of_the_answer() {
        let mut probes = 0;
        least_after(0, 10_i64.pow(17), |n| {
            probes += 1;
            if n >= 37 { Side::After } else { Side::Before }
        });
        // bracket 1, 11, 111 (3 probes), then bisect (11, 111]: 7 probes.
        assert!(probes <= 10, "{probes} probes");
    }

    #[test]
    fn reports_no_answer_up_to_the_maximum() {
        assert_eq!(least_after(0, 1000, threshold(1001)), Found::NotInRange { max: 1000 });
        assert_eq!(least_after(5, 5, threshold(0)), Found::NotInRange { max: 5 });
    }

    #[test]
    fn an_undefined_region_ends_the_range_and_is_never_the_answer() {
        // After from 500, undefined from 300: the range ends before any count is After.
        let probe = |n: i64| match n {
            n if n >= 300 => Side::Undefined,
            n if n >= 500 => Side::After,
            _ => Side::Before,
        };
        assert_eq!(least_after(0, 10_000, probe), Found::Undefined { last_before: 299, undefined_at: 300 });
        // Undefined only above the boundary: the answer is still found.
        let probe = |n: i64| match n {
            n if n >= 5000 => Side::Undefined,
            n if n >= 42 => Side::After,
            _ => Side::Before,
        };
        assert_eq!(least_after(0, 10_000, probe), Found::At { first_after: 42, last_before: 41 });
    }

    /// The same probes, in the same order, whether counted as integers or as decimals.
    #[test]
    fn bisect_probes_the_floor_midpoint() {
        let mut seen = Vec::new();
        assert_eq!(bisect(0_i64, 100, |n| {
            seen.push(n);
            n >= 37
        }), (36, 37));
        assert_eq!(seen, [50, 25, 37, 31, 34, 35, 36]);
        let mut decimals = Vec::new();
        bisect(Decimal::ZERO, Decimal::from(100), |n| {
            decimals.push(n);
            n >= Decimal::from(37)
        });
        assert_eq!(decimals, seen.iter().map(|&n| Decimal::from(n)).collect::<Vec<_>>());
    }

    /// Whatever the values say, the bracket only moves by the sides: the answer is the
    /// bisection's for every boundary, with values that are exact, noisy, or wrong.
    #[test]
    fn steering_finds_what_bisection_finds() {
        let measures: [fn(i64, i64) -> f64; 4] = [
            |n, t| (n - t) as f64 + 0.5,
            |n, t| ((n - t) as f64 + 0.5).powi(3),
            |n, t| if n >= t { 1.0 } else { -1e9 },
            |n, _| if n % 3 == 0 { f64::NAN } else { -(n as f64) },
        ];
        for (k, measure) in measures.iter().enumerate() {
            for t in [1, 2, 3, 7, 500, 9_999, 10_000] {
                let (mut probes, mut bisected) = (0, 0);
                let steered = steered(0_i64, 10_000, (measure(0, t), measure(10_000, t)), |n| {
                    probes += 1;
                    (n >= t, measure(n, t))
                });
                let plain = bisect(0_i64, 10_000, |n| {
                    bisected += 1;
                    n >= t
                });
                assert_eq!(steered, plain, "measure {k}, t = {t}");
                assert_eq!(steered, (t - 1, t));
                assert!(probes <= 2 * bisected + 2, "measure {k}, t = {t}: {probes} probes");
                if k == 0 {
                    assert!(probes <= 3, "t = {t}: {probes} probes on a straight line");
                }
            }
        }
    }

    #[test]
    fn steering_counts_decimals_too() {
        let t = Decimal::from(123_457);
        let mut probes = 0;
        let found = steered(Decimal::ZERO, Decimal::from(150_000), (-1.0, 1.0), |n| {
            probes += 1;
            // Proceeds of a square-root impact sale: concave, so the line misses at first.
            let x = n.estimate();
            let f = |x: f64| x * (1.0 - 0.035 * (x / 25_000.0).sqrt());
            (n >= t, f(x) - f(123_456.5))
        });
        assert_eq!(found, (t - Decimal::ONE, t));
        assert!(probes <= 8, "{probes} probes");
    }

    #[test]
    fn steered_least_after_finds_what_least_after_finds() {
        let boundaries = [1, 2, 9, 10, 11, 999, 123_456_789, 10_i64.pow(17)];
        for t in boundaries {
            let mut probes = 0;
            let found = least_after_steered(0, -(t as f64), 10_i64.pow(17), |n| {
                probes += 1;
                (if n >= t { Side::After } else { Side::Before }, (n - t) as f64 + 0.5)
            });
            assert_eq!(found, least_after(0, 10_i64.pow(17), threshold(t)), "t = {t}");
            // Beyond 2^53 a float no longer tells neighbouring counts apart.
            assert!(probes <= if t < 1 << 53 { 4 } else { 12 }, "t = {t}: {probes} probes on a straight line");
            // A value that says nothing: the steps of ten and halving, as least_after takes.
            let blind = least_after_steered(0, f64::NAN, 10_i64.pow(17), |n| (if n >= t { Side::After } else { Side::Before }, f64::NAN));
            assert_eq!(blind, Found::At { first_after: t, last_before: t - 1 });
            // A curve: 1 / (1 + n) against a limit, as an LTV falls with cash added.
            let curve = |n: i64| 1.0 / (t as f64 - 0.5) - 1.0 / n.max(1) as f64;
            let curved = least_after_steered(0, f64::NEG_INFINITY, 10_i64.pow(17), |n| (if n >= t { Side::After } else { Side::Before }, curve(n)));
            assert_eq!(curved, Found::At { first_after: t, last_before: t - 1 });
        }
        assert_eq!(least_after_steered(0, -1001.0, 1000, |n| (if n >= 1001 { Side::After } else { Side::Before }, (n - 1001) as f64)), Found::NotInRange { max: 1000 });
        // Undefined from 300 before After from 500: the range ends at 300, aimed or not.
        let probe = |n: i64| match n {
            n if n >= 300 => (Side::Undefined, f64::NAN),
            n => (Side::Before, (n - 500) as f64),
        };
        assert_eq!(least_after_steered(0, -500.0, 10_000, probe), Found::Undefined { last_before: 299, undefined_at: 300 });
        let probe = |n: i64| match n {
            n if n >= 5000 => (Side::Undefined, f64::NAN),
            n if n >= 42 => (Side::After, (n - 42) as f64),
            n => (Side::Before, n as f64 - 42.0),
        };
        assert_eq!(least_after_steered(0, -42.0, 10_000, probe), Found::At { first_after: 42, last_before: 41 });
    }

    #[test]
    fn bisects_a_known_bracket() {
        assert_eq!(boundary_within(-1000, 1000, threshold(-7)), Found::At { first_after: -7, last_before: -8 });
        assert_eq!(boundary_within(0, 10, threshold(11)), Found::NotInRange { max: 10 });
    }
}
