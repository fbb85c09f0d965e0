//! Figures that are exactly right: multiples of a step, powers, roots, logarithms and
//! exponentials, tie-breaking and the cure search. Expected values come from Python's
//! `decimal` module at 60 digits, rounded once to the nearest decimal (ties to even) with
//! the most places that fit 96 bits; each comment gives the Python expression.

use covenant::{Program, Report};
use serde_json::Value as Json;

fn report(src: &str, data: &str) -> Report {
    let program = Program::compile("test.cov", src).unwrap_or_else(|e| panic!("compile: {e:?}"));
    program.evaluate(data, None).unwrap_or_else(|e| panic!("evaluate: {e}"))
}

/// The values of several expressions from one program, with only `as_of` as input.
fn nums(exprs: &[String]) -> Vec<String> {
    let lets: String = exprs.iter().enumerate().map(|(i, e)| format!("let v{i} = {e}\n")).collect();
    let r = report(&format!("input {{ as_of: Date }}\n{lets}"), r#"{"as_of": "2026-03-31"}"#);
    (0..exprs.len())
        .map(|i| match &r.values[&format!("v{i}")] {
            Json::String(s) => s.clone(),
            other => panic!("`{}` gave {other}: {:?}", exprs[i], r.errors),
        })
        .collect()
}

fn num(expr: &str) -> String {
    nums(&[expr.to_string()]).remove(0)
}

fn error(expr: &str) -> Option<String> {
    let r = report(&format!("input {{ as_of: Date }}\nlet v = {expr}\n"), r#"{"as_of": "2026-03-31"}"#);
    r.errors.first().map(|e| e.message.clone())
}

#[test]
fn floor_and_ceil_never_land_on_the_wrong_side() {
    // x // 3 * 3 with x = Decimal("2999999.9999999999999999999999"): 2999997. The quotient
    // 999999.99999999999999999999996… rounded to 28 digits is 1,000,000, which gave 3,000,000.
    assert_eq!(num("floor(2999999.9999999999999999999999, 3)"), "2999997");
    assert_eq!(num("ceil(2999999.9999999999999999999999, 3)"), "3000000");
    assert_eq!(num("ceil(-2999999.9999999999999999999999, 3)"), "-2999997");
    // 0.01 / 10^27 is below the smallest decimal and used to give 0 × 10^27 = 0.
    assert_eq!(num("ceil(0.01, 1_000_000_000_000_000_000_000_000_000)"), "1000000000000000000000000000");
    assert_eq!(num("floor(0.01, 1_000_000_000_000_000_000_000_000_000)"), "0");
    // The largest decimal is a multiple of 0.5; the quotient 2x overflowed.
    assert_eq!(num("floor(79_228_162_514_264_337_593_543_950_335, 0.5)"), "79228162514264337593543950335");
    // A multiple beyond the range is still an overflow: ceil(2^96 − 1, 2) = 2^96.
    assert!(error("ceil(79_228_162_514_264_337_593_543_950_335, 2)").unwrap_or_default().contains("overflow"));
}

fn margin(raw: &str, rounding: &str) -> String {
    let src = format!("input {{ as_of: Date }}\nmargin_call top_up {{ trigger true  amount {raw} USD  {rounding} }}\nlet called = top_up.amount\n");
    let r = report(&src, r#"{"as_of": "2026-03-31"}"#);
    r.values["called"]["amount"].as_str().unwrap_or_default().to_string()
}

#[test]
fn margin_call_rounding_is_exact() {
    // Decimal("2999999.9999999999999999999999") // 250000 * 250000 = 2750000; the rounded
    // quotient 12 called 3,000,000, more than the raw amount.
    assert_eq!(margin("2_999_999.9999999999999999999999", "rounding down 250_000 USD"), "2750000");
    assert_eq!(margin("2_999_999.9999999999999999999999", "rounding up 250_000 USD"), "3000000");
    // 2,875,000 is a tie between 2,750,000 and 3,000,000: away from zero. One unit of the
    // 28th place below it goes down: the rounded quotient 11.5 used to go up.
    assert_eq!(margin("2_875_000", "rounding nearest 250_000 USD"), "3000000");
    assert_eq!(margin("2_874_999.9999999999999999999999", "rounding nearest 250_000 USD"), "2750000");
}

#[test]
fn negative_whole_powers_keep_full_precision() {
    // Decimal("1.0000001") ** -1000000 → 0.9048374225601463730420631038 (the old result was
    // off by 1.9e-4 relative).
    assert_eq!(num("pow(1.0000001, -1_000_000)"), "0.9048374225601463730420631038");
    // Decimal(3) ** -40 → 0.0000000000000000000822526334
    assert_eq!(num("pow(3, -40)"), "0.0000000000000000000822526334");
    // Decimal("1.5") ** -100 → 0.0000000000000000024596544266
    assert_eq!(num("pow(1.5, -100)"), "0.0000000000000000024596544266");
    // Decimal("1.0000001") ** 1000000 → 1.1051709125497934166383827093
    assert_eq!(num("pow(1.0000001, 1_000_000)"), "1.1051709125497934166383827093");
    assert_eq!(num("pow(-2, -3)"), "-0.125");
}

#[test]
fn a_power_below_the_range_is_zero() {
    // 10^-29 and 0.1^29 are both below half of 10^-28.
    assert_eq!(num("pow(10, -29)"), "0");
    assert_eq!(num("pow(0.1, 29)"), "0");
    assert_eq!(num("pow(1_000_000, -5)"), "0");
    assert_eq!(num("pow(10, -28)"), "0.0000000000000000000000000001");
    assert!(error("pow(10, 29)").unwrap_or_default().contains("overflow"));
}

#[test]
fn roots_logarithms_and_exponentials_are_correctly_rounded() {
    // Decimal(2).sqrt(), Decimal(2) ** Decimal("0.5"): both 1.4142135623730950488016887242.
    assert_eq!(num("sqrt(2)"), "1.4142135623730950488016887242");
    assert_eq!(num("pow(2, 0.5)"), "1.4142135623730950488016887242");
    // Decimal(10).ln(), Decimal(1).exp(), Decimal("0.5").exp()
    assert_eq!(num("ln(10)"), "2.3025850929940456840179914547");
    assert_eq!(num("exp(1)"), "2.7182818284590452353602874714");
    assert_eq!(num("exp(0.5)"), "1.6487212707001281468486507878");
    // Decimal(66).exp() → 46071866343312915426773184428
    assert_eq!(num("exp(66)"), "46071866343312915426773184428");
    // Below the range is 0, as for pow.
    assert_eq!(num("exp(-66.6)"), "0");
    assert_eq!(num("exp(-1000)"), "0");
    assert!(error("exp(66.6)").unwrap_or_default().contains("overflow"));
    assert_eq!(num("exp(ln(10))"), "10");
}

/// tests/data/maths_table.txt, generated by tests/data/maths_table.py (Python `decimal` at
/// 60 digits, rounded once). `sqrt` is correctly rounded by construction; `ln`, `exp` and
/// fractional `pow` are guaranteed within one unit, and are correctly rounded unless the
/// exact value lies within about 10^-45 of a tie, which no random argument comes near.
#[test]
fn sqrt_ln_exp_and_pow_against_a_table_computed_at_60_digits() {
    let table = include_str!("data/maths_table.txt");
    let rows: Vec<Vec<&str>> = table.lines().filter(|l| !l.starts_with('#')).map(|l| l.split(' ').collect()).collect();
    assert_eq!(rows.len(), 800);
    let exprs: Vec<String> = rows
        .iter()
        .map(|r| match r.as_slice() {
            [f, x, _] => format!("{f}({x})"),
            [f, x, p, _] => format!("{f}({x}, {p})"),
            _ => panic!("bad row {r:?}"),
        })
        .collect();
    for ((row, expr), got) in rows.iter().zip(&exprs).zip(nums(&exprs)) {
        assert_eq!(Some(&got.as_str()), row.last(), "{expr}");
    }
}

#[test]
fn sqrt_of_negative_zero_is_zero() {
    assert_eq!(num("sqrt(-0)"), "0");
    assert_eq!(num("sqrt(-0.000)"), "0");
    assert!(error("sqrt(-0.0000000000000000000000000001)").unwrap_or_default().contains("negative"));
}

#[test]
fn an_over_precise_percent_is_refused() {
    for literal in ["7.9228162514264337593543950335%", "1.2345678901234567890123456789%", "1.23456789012345678901234567891%"] {
        let err = Program::compile("t.cov", &format!("input {{ as_of: Date }}\nlet v = {literal}\n")).err();
        let text = format!("{err:?}");
        assert!(text.contains("cannot be held exactly"), "{literal}: {text}");
    }
    // 26 places ÷ 100 is 28 places: exact.
    assert_eq!(num("1.23456789012345678901234567%"), "0.0123456789012345678901234567");
    assert_eq!(num("79_228_162_514_264_337_593_543_950_335%"), "792281625142643375935439503.35");
}

#[test]
fn ties_go_to_even_in_arithmetic_and_data() {
    // Decimal("0.0000000000000000000000000025") / 10 = 2.5e-28: a tie, to the even 2e-28.
    assert_eq!(num("0.0000000000000000000000000025 / 10"), "0.0000000000000000000000000002");
    assert_eq!(num("0.0000000000000000000000000035 / 10"), "0.0000000000000000000000000004");
    // A number in scientific notation with a 29th digit of exactly 5 is a tie, to even.
    let src = "input { as_of: Date  x: Number  y: Number }\nlet x = input.x\nlet y = input.y\n";
    let r = report(src, r#"{"as_of": "2026-03-31", "x": 1.00000000000000000000000000025e0, "y": "1.00000000000000000000000000035E0"}"#);
    assert_eq!(r.values["x"], "1.0000000000000000000000000002");
    assert_eq!(r.values["y"], "1.0000000000000000000000000004");
    // 1.0e-28 is exactly the smallest step (scale 1 + 28 used to be refused).
    let r = report(src, r#"{"as_of": "2026-03-31", "x": 1.0e-28, "y": 2.5e-3}"#);
    assert_eq!(r.values["x"], "0.0000000000000000000000000001");
    assert_eq!(r.values["y"], "0.0025");
}

#[test]
fn the_cure_search_reads_an_overflow_as_out_of_range() {
    // ebitda × 10^14 ≥ 10^15 USD holds from 10 USD; the old search probed 10^15 first, where
    // 10^15 × 10^14 = 10^29 overflows, and reported that no amount restores compliance.
    let src = "input { as_of: Date  ebitda: Money(USD)  cures: List<Date> }
        covenant scaled { require input.ebitda * 100_000_000_000_000 >= 1_000_000_000_000_000 USD  cure equity into input.ebitda { history input.cures } }";
    let r = report(src, r#"{"as_of": "2026-03-31", "ebitda": "0", "cures": []}"#);
    let cure = r.covenants["scaled"].cure.clone().expect("a breach has a cure entry");
    assert_eq!(cure.amount.map(|a| a.amount).as_deref(), Some("10"), "{:?}", cure.note);
    // ebitda × 10^14 ≥ 10^28 USD needs 10^14 USD, found below the 10^15 USD probe, which
    // overflows.
    let big = src.replace("1_000_000_000_000_000 USD", "10_000_000_000_000_000_000_000_000_000 USD");
    assert_eq!(cure_amount(&big), (Some("100000000000000".into()), None));
    // ebitda × 10^15 ≥ 7.9·10^28 USD needs 7.9·10^13 USD, between 10^13 USD (in breach) and
    // 10^14 USD (overflows): Decimal("7.9e28") / Decimal("1e15") = 79000000000000.
    let edge = src.replace("100_000_000_000_000 >= 1_000_000_000_000_000 USD", "1_000_000_000_000_000 >= 79_000_000_000_000_000_000_000_000_000 USD");
    assert_eq!(cure_amount(&edge), (Some("79000000000000".into()), None));
    // ebitda × 10^27 ≥ 2^96 − 1 USD: 79.22 USD is in breach and 79.23 USD overflows, so no
    // amount restores compliance, and the note says where the range ends.
    let none = src.replace("100_000_000_000_000 >= 1_000_000_000_000_000 USD", "1_000_000_000_000_000_000_000_000_000 >= 79_228_162_514_264_337_593_543_950_335 USD");
    let (amount, note) = cure_amount(&none);
    assert_eq!(amount, None);
    assert_eq!(note.as_deref(), Some("no amount up to 79.22 added to `input.ebitda` restores compliance, and the requirement cannot be evaluated with 79.23 added"));
}

fn cure_amount(src: &str) -> (Option<String>, Option<String>) {
    let r = report(src, r#"{"as_of": "2026-03-31", "ebitda": "0", "cures": []}"#);
    let cure = r.covenants["scaled"].cure.clone().expect("a breach has a cure entry");
    (cure.amount.map(|a| a.amount), cure.note)
}
