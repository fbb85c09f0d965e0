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
//! count lots as decimals because a pool may hold more lots than an `i64` counts.

use std::ops::{Add, Sub};

use rust_decimal::Decimal;

/// A count a bisection can halve: whole steps, as an `i64` or as a whole decimal.
pub trait Count: Copy + PartialOrd + Add<Output = Self> + Sub<Output = Self> {
    const ONE: Self;
    /// Half of a positive gap, rounded down.
    fn half(self) -> Self;
}

impl Count for i64 {
    const ONE: i64 = 1;
    fn half(self) -> i64 {
        self / 2
    }
}

impl Count for Decimal {
    const ONE: Decimal = Decimal::ONE;
    fn half(self) -> Decimal {
        (self / Decimal::TWO).floor()
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

    #[test]
    fn bisects_a_known_bracket() {
        assert_eq!(boundary_within(-1000, 1000, threshold(-7)), Found::At { first_after: -7, last_before: -8 });
        assert_eq!(boundary_within(0, 10, threshold(11)), Found::NotInRange { max: 10 });
    }
}
