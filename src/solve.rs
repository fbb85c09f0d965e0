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
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match probe(mid) {
            Side::After => (hi, found) = (mid, true),
            Side::Undefined if !found => hi = mid,
            Side::Before | Side::Undefined => lo = mid,
        }
    }
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
            let (mut lo, mut hi, mut found) = (lo, hi, first == Side::After);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                match probe(mid) {
                    Side::After => (hi, found) = (mid, true),
                    Side::Undefined if !found => hi = mid,
                    Side::Before | Side::Undefined => lo = mid,
                }
            }
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

    #[test]
    fn bisects_a_known_bracket() {
        assert_eq!(boundary_within(-1000, 1000, threshold(-7)), Found::At { first_after: -7, last_before: -8 });
        assert_eq!(boundary_within(0, 10, threshold(11)), Found::NotInRange { max: 10 });
    }
}
