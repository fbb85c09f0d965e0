//! Calendar arithmetic on plain day numbers. Shared by the parser (date literals), data
//! binding and evaluation, so it knows nothing of any of them.

use std::fmt;

/// A calendar date, held as the number of days since 1970-01-01 (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

/// The earliest and latest years a date may have: four-digit years, as the literal syntax.
const MIN_YEAR: i32 = 1;
const MAX_YEAR: i32 = 9999;
/// The day numbers of the first and last supported dates.
const FIRST_DAY: i32 = days_from_civil(MIN_YEAR, 1, 1);
const LAST_DAY: i32 = days_from_civil(MAX_YEAR, 12, 31);

impl Date {
    pub const EPOCH: Date = Date(0);

    /// The date of a year, month and day, or `None` when it is not a real calendar date.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// Parses exactly `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Date> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
            return None;
        }
        // Digits only: `parse` alone would take a sign (`2026-+3-31`).
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = bytes.get(range)?;
            part.iter().try_fold(0u32, |n, &b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
        };
        let year = i32::try_from(number(0..4)?).ok()?;
        Date::from_ymd(year, number(5..7)?, number(8..10)?)
    }

    pub fn days(self) -> i32 {
        self.0
    }

    /// The date `days` after this one, when it stays within the supported years.
    pub fn add_days(self, days: i64) -> Option<Date> {
        let n = i64::from(self.0).checked_add(days)?;
        let n = i32::try_from(n).ok()?;
        // Within the supported years exactly when between their first and last days, which
        // a business-day count asks of every day it steps through without working out its year.
        (FIRST_DAY..=LAST_DAY).contains(&n).then_some(Date(n))
    }

    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// 0 = Monday … 6 = Sunday.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (i64::from(self.0) + 3).rem_euclid(7) as u32
    }

    pub fn is_weekend(self) -> bool {
        self.weekday() >= 5
    }

    /// Adds whole months, keeping the day of month clamped to the month's end.
    pub fn add_months(self, months: i64) -> Option<Date> {
        let (y, m, d) = self.ymd();
        let index = i64::from(y).checked_mul(12)?.checked_add(i64::from(m) - 1)?.checked_add(months)?;
        let year = i32::try_from(index.div_euclid(12)).ok()?;
        let month = (index.rem_euclid(12) + 1) as u32;
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return None;
        }
        let day = d.min(days_in_month(year, month));
        Date::from_ymd(year, month, day)
    }

    pub fn is_month_end(self) -> bool {
        let (y, m, d) = self.ymd();
        d == days_in_month(y, m)
    }

    pub fn is_quarter_end(self) -> bool {
        let (_, m, _) = self.ymd();
        m % 3 == 0 && self.is_month_end()
    }

    pub fn month_end(self) -> Date {
        let (y, m, _) = self.ymd();
        Date(days_from_civil(y, m, days_in_month(y, m)))
    }

    pub fn quarter_end(self) -> Date {
        let (y, m, _) = self.ymd();
        let qm = m.div_ceil(3) * 3;
        Date(days_from_civil(y, qm, days_in_month(y, qm)))
    }

    /// A running quarter number (year × 4 + quarter index), for counting quarters apart.
    pub fn quarter_index(self) -> i64 {
        let (y, m, _) = self.ymd();
        i64::from(y) * 4 + i64::from((m - 1) / 3)
    }

    /// Whole months from `self` to `later`: for self ≤ later the largest n with
    /// self + n months ≤ later, so that it undoes `add_months`; negative when reversed.
    pub fn months_until(self, later: Date) -> i64 {
        Date::months_between(self, self.ymd(), later, later.ymd())
    }

    /// `a.months_until(b)`, with both dates' calendar fields (`ymd`) given: an evaluation
    /// reads every position's age against the one as_of, whose fields it works out once.
    pub fn months_between(a: Date, a_ymd: (i32, u32, u32), b: Date, b_ymd: (i32, u32, u32)) -> i64 {
        if b < a {
            return -Date::months_forward(b_ymd, a_ymd);
        }
        Date::months_forward(a_ymd, b_ymd)
    }

    fn months_forward((y1, m1, d1): (i32, u32, u32), (y2, m2, d2): (i32, u32, u32)) -> i64 {
        let n = (i64::from(y2) - i64::from(y1)) * 12 + (i64::from(m2) - i64::from(m1));
        // self + n months lands in later's month on day min(d1, month length); when that is
        // past later's day, one month fewer is the answer.
        if n > 0 && d1.min(days_in_month(y2, m2)) > d2 {
            n - 1
        } else {
            n
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

// Howard Hinnant's civil-date algorithms: exact over the whole supported range.
const fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// The calendar fields of a day number: by Neri and Schneider's algorithm ("Euclidean affine
/// functions and their application to calendar algorithms", 2022) for the supported years,
/// a handful of multiplications where [`civil_from_days_any`] divides, and by that for any
/// other day (none is made, but the type holds any `i32`). A test compares the two on every
/// supported day.
fn civil_from_days(z: i32) -> (i32, u32, u32) {
    if !(FIRST_DAY..=LAST_DAY).contains(&z) {
        return civil_from_days_any(z);
    }
    // Days since 0000-03-01 of the proleptic calendar, which starts its years in March so
    // that a leap day ends one; never negative from the year 1 on.
    let n = (z + 719_468) as u32;
    let n1 = 4 * n + 3;
    let century = n1 / 146_097;
    let day_of_century = n1 % 146_097 / 4;
    let p2 = 2_939_745u64 * u64::from(4 * day_of_century + 3);
    let year_of_century = (p2 >> 32) as u32;
    let day_of_year = (p2 & u64::from(u32::MAX)) as u32 / 2_939_745 / 4;
    let n3 = 2_141 * day_of_year + 197_913;
    let (month, day) = (n3 >> 16, (n3 & 0xffff) / 2_141 + 1);
    // January and February close the computational year: they belong to the next one.
    let january_or_february = day_of_year >= 306;
    let year = (100 * century + year_of_century) as i32 + i32::from(january_or_february);
    (year, if january_or_february { month - 12 } else { month }, day)
}

fn civil_from_days_any(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn round_trips_and_rejects_impossible_dates() {
        assert_eq!(d("2024-02-29").to_string(), "2024-02-29");
        assert_eq!(Date::parse("2026-02-30"), None);
        assert_eq!(Date::parse("2026-13-01"), None);
        assert_eq!(Date::parse("26-01-01"), None);
        assert_eq!(d("1970-01-01").days(), 0);
    }

    #[test]
    fn only_digits_make_a_date() {
        for text in ["2026-+3-31", "2026-03-+1", "+026-03-31", "2026- 3-31", "2026-03-3\u{0}", "２０２６-03-31"] {
            assert_eq!(Date::parse(text), None, "{text}");
        }
        assert_eq!(Date::parse("0001-01-01").map(Date::ymd), Some((1, 1, 1)));
    }

    /// The fast calendar fields are the general algorithm's on every supported day, and on
    /// either side of them.
    #[test]
    fn calendar_fields_agree_on_every_supported_day() {
        for z in FIRST_DAY - 800..=LAST_DAY + 800 {
            assert_eq!(civil_from_days(z), civil_from_days_any(z), "day {z}");
        }
        assert_eq!(civil_from_days(FIRST_DAY), (1, 1, 1));
        assert_eq!(civil_from_days(LAST_DAY), (9999, 12, 31));
    }

    /// Day arithmetic stops at the first and last days of the supported years.
    #[test]
    fn day_addition_stays_within_the_supported_years() {
        assert_eq!(d("0001-01-02").add_days(-1), Some(d("0001-01-01")));
        assert_eq!(d("0001-01-01").add_days(-1), None);
        assert_eq!(d("9999-12-30").add_days(1), Some(d("9999-12-31")));
        assert_eq!(d("9999-12-31").add_days(1), None);
        assert_eq!(d("2026-03-31").add_days(i64::from(i32::MAX)), None);
        assert_eq!(d("2026-03-31").add_days(2), Some(d("2026-04-02")));
        assert_eq!(d("0001-01-01").add_days(i64::from(LAST_DAY - FIRST_DAY)), Some(d("9999-12-31")));
        assert_eq!(d("2026-03-31").add_days(i64::MAX), None);
    }

    #[test]
    fn month_addition_clamps_to_month_end() {
        assert_eq!(d("2026-01-31").add_months(1), Some(d("2026-02-28")));
        assert_eq!(d("2024-01-31").add_months(1), Some(d("2024-02-29")));
        assert_eq!(d("2026-03-31").add_months(-1), Some(d("2026-02-28")));
    }

    #[test]
    fn months_until_undoes_month_addition() {
        assert_eq!(d("2024-03-15").months_until(d("2026-03-31")), 24);
        assert_eq!(d("2026-01-31").months_until(d("2026-02-28")), 1);
        assert_eq!(d("2026-03-31").months_until(d("2025-06-30")), -9);
        assert_eq!(d("2026-03-31").months_until(d("2026-04-29")), 0);
    }

    #[test]
    fn months_until_agrees_with_its_definition() {
        // The definition: the largest n with self + n months <= later, searched by brute force.
        let start = d("2023-12-28");
        for i in 0..70 {
            for j in 0..800 {
                let (a, b) = (start.add_days(i).unwrap(), start.add_days(i + j).unwrap());
                let by_search = (0..40).take_while(|n| a.add_months(*n).is_some_and(|x| x <= b)).last().unwrap();
                assert_eq!(a.months_until(b), by_search, "{a} to {b}");
            }
        }
    }

    #[test]
    fn weekdays_and_quarters() {
        assert_eq!(d("2026-04-03").weekday(), 4); // a Friday
        assert!(d("2026-04-04").is_weekend());
        assert_eq!(d("2026-05-15").quarter_end(), d("2026-06-30"));
        assert!(d("2026-06-30").is_quarter_end());
        assert!(!d("2024-02-28").is_month_end());
    }
}
