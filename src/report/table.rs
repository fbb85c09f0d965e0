//! The report as a credit analyst reads it: aligned columns, thousands separators, money
//! with its currency, ratios as percentages or multiples as the program wrote them.

// Rendering runs on every report: no arithmetic here may panic on an extreme figure.
#![deny(clippy::arithmetic_side_effects)]

use std::fmt::Write as _;

use rust_decimal::prelude::*;
use serde_json::Value as Json;

use super::{Money, NumberStyle, Report};
use crate::text::escape_controls;

/// Groups the integer part in thousands and keeps at most `places` decimals.
pub fn grouped(d: Decimal, places: u32) -> String {
    group(d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero).normalize())
}

/// Groups the integer part in thousands and shows exactly `places` decimals.
pub fn fixed(d: Decimal, places: u32) -> String {
    let mut r = d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(places);
    group(r)
}

/// The decimals to show a ratio with: at least `places`, and more while the rounded figure
/// would end in two zeros the exact one does not have, reading as a round figure it is not.
/// 0.5999973 shown as `0.6000` beside a 60% limit reads as the limit itself; it is shown as
/// `0.599997`. One trailing zero (`9.20%` for 9.204%) is ordinary rounding and stays.
fn honest_places(d: Decimal, places: u32) -> u32 {
    let mut p = places;
    while p < 28 {
        let mut r = d.round_dp_with_strategy(p, RoundingStrategy::MidpointAwayFromZero);
        r.rescale(p);
        let looks_round = r.mantissa() % 100 == 0;
        if r == d || !looks_round {
            break;
        }
        p = p.saturating_add(1);
    }
    p
}

fn group(r: Decimal) -> String {
    group_text(&r.abs().to_string(), r.is_sign_negative() && !r.is_zero())
}

/// Groups the integer part of an unsigned decimal text.
fn group_text(text: &str, negative: bool) -> String {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && int.len().saturating_sub(i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if negative {
        out.insert(0, '-');
    }
    out
}

fn dec(s: &str) -> Option<Decimal> {
    Decimal::from_str_exact(s).ok()
}

pub fn money(m: &Money) -> String {
    match dec(&m.amount) {
        Some(d) => format!("{} {}", fixed(d, 2), m.currency),
        None => format!("{} {}", m.amount, m.currency),
    }
}

/// A value as a failed test shows it: as in the table (money with its currency and
/// separators, dates, a missing value as `—`), text quoted, and every digit a figure has, so
/// that two values that differ never read alike. Lists and records are compact JSON, cut
/// short past 200 bytes.
pub fn value_text(v: &crate::value::Value, ty: &crate::types::Type) -> String {
    use crate::types::{Ccy, Type};
    use crate::value::Value;
    const SHOWN: usize = 200;
    match (v, ty) {
        (Value::Null, _) => "—".into(),
        (v, Type::Optional(inner)) => value_text(v, inner),
        (Value::Num(d), Type::Money(Ccy::Code(c))) => format!("{} {c}", fixed(*d, d.normalize().scale().max(2))),
        (Value::Num(d), _) => grouped(*d, 28),
        (Value::Bool(b), _) => b.to_string(),
        // Quoted as written: whoever prints it escapes control characters (the CLI does).
        (Value::Text(t), _) if t.len() > SHOWN => format!("\"{}…\"", t.chars().take(SHOWN).collect::<String>()),
        (Value::Text(t), _) => format!("\"{t}\""),
        (Value::Date(d), _) => d.to_string(),
        _ => match super::value_json_within(v, ty, &mut { SHOWN }) {
            Some(Json::String(s)) => s,
            Some(j) => j.to_string(),
            None => "(a value too long to show)".into(),
        },
    }
}

fn money_opt(m: &Option<Money>) -> String {
    m.as_ref().map_or_else(|| "—".into(), money)
}

pub fn percent(s: &str) -> String {
    let Some(d) = dec(s) else { return s.to_string() };
    match d.checked_mul(Decimal::ONE_HUNDRED) {
        Some(p) => format!("{}%", fixed(p, honest_places(p, 2))),
        // Only a ratio of 10^26 or more leaves the decimal range when multiplied by 100 (a
        // headroom over a tiny limit), and its fraction is nothing: the point moves by text.
        None => format!("{}%", group_text(&format!("{}00.00", d.round().abs()), d.is_sign_negative())),
    }
}

fn styled(s: &str, style: NumberStyle) -> String {
    let Some(d) = dec(s) else { return s.to_string() };
    match style {
        NumberStyle::Percent => percent(s),
        NumberStyle::Multiple => format!("{}x", fixed(d, honest_places(d, 2))),
        NumberStyle::Plain => {
            let places = if d.abs() >= Decimal::from(1000) { 2 } else { 4 };
            grouped(d, honest_places(d, places))
        }
    }
}

/// A report value as the table shows it, numbers plain.
pub fn cell(v: &Json) -> String {
    json_cell(v, NumberStyle::Plain)
}

/// A report value as the table shows it, numbers in the style the program wrote them.
pub fn json_cell(v: &Json, style: NumberStyle) -> String {
    match v {
        Json::Null => "—".into(),
        Json::String(s) => {
            if dec(s).is_some() {
                styled(s, style)
            } else {
                s.clone()
            }
        }
        Json::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Json::Object(o) => match (o.get("amount").and_then(Json::as_str), o.get("currency").and_then(Json::as_str)) {
            (Some(a), Some(c)) => money(&Money { amount: a.into(), currency: c.into() }),
            _ => v.to_string(),
        },
        Json::Array(items) => format!("[{}]", items.iter().map(|i| json_cell(i, style)).collect::<Vec<_>>().join(", ")),
        Json::Number(n) => n.to_string(),
    }
}

/// Columns; `true` marks a right-aligned (numeric) column.
struct Table {
    head: Vec<(&'static str, bool)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(head: &[(&'static str, bool)]) -> Table {
        Table { head: head.to_vec(), rows: Vec::new() }
    }

    /// Adds a row; text from the data or the program is escaped, so a cell is one line.
    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.into_iter().map(|c| escape_controls(&c).into_owned()).collect());
    }

    fn render(&self, out: &mut String) {
        let mut widths: Vec<usize> = self.head.iter().map(|(h, _)| h.chars().count()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: Vec<&str>, out: &mut String| {
            let mut s = String::from("  ");
            for ((cell, (_, right)), w) in cells.iter().zip(&self.head).zip(&widths) {
                let pad = w.saturating_sub(cell.chars().count());
                if *right {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                } else {
                    s.push_str(cell);
                    s.push_str(&" ".repeat(pad));
                }
                s.push_str("  ");
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(self.head.iter().map(|(h, _)| *h).collect(), out);
        let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
        line(rule.iter().map(String::as_str).collect(), out);
        for r in &self.rows {
            line(r.iter().map(String::as_str).collect(), out);
        }
    }
}

fn status_mark(status: &str) -> String {
    match status {
        "pass" => "pass".into(),
        "breach" => "BREACH".into(),
        "called" => "CALLED".into(),
        "triggered" => "TRIGGERED".into(),
        "error" => "ERROR".into(),
        other => other.replace('_', " "),
    }
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let title = escape_controls(r.facility.as_deref().unwrap_or("Facility"));
    let _ = writeln!(out, "{title}");
    let scenario = match (&r.scenario, &r.scenario_title) {
        (Some(n), Some(t)) => format!("scenario {n}: {t}"),
        (Some(n), None) => format!("scenario {n}"),
        _ => "base case".into(),
    };
    let _ = writeln!(out, "as of {} · {}", escape_controls(&r.as_of), escape_controls(&scenario));

    if !r.values.is_empty() {
        let _ = writeln!(out, "\nValues");
        let mut t = Table::new(&[("name", false), ("value", true)]);
        for (name, v) in &r.values {
            let style = r.value_styles.get(name).copied().unwrap_or_default();
            t.row(vec![name.clone(), json_cell(v, style)]);
        }
        t.render(&mut out);
    }
    if !r.collateral.is_empty() {
        let _ = writeln!(out, "\nCollateral");
        let mut t = Table::new(&[
            ("pool", false),
            ("quantity", true),
            ("market value", true),
            ("haircut", true),
            ("eligible value", true),
            ("realisable value", true),
        ]);
        for (name, p) in &r.collateral {
            t.row(vec![
                label(name, &p.title),
                p.quantity.as_deref().and_then(dec).map_or("ERROR".into(), |d| grouped(d, 8)),
                money_opt(&p.market_value),
                p.haircut.as_deref().map_or("—".into(), percent),
                money_opt(&p.eligible_value),
                money_opt(&p.realisable_value),
            ]);
        }
        t.render(&mut out);
    }
    if !r.covenants.is_empty() {
        let _ = writeln!(out, "\nCovenants");
        let mut t = Table::new(&[("covenant", false), ("status", false), ("value", true), ("test", true), ("headroom", true), ("cure", false)]);
        for (name, c) in &r.covenants {
            let value = c.value.as_ref().map_or("—".into(), |v| json_cell(v, c.style));
            let limit = c.limit.as_ref().map_or("—".into(), |v| format!("{} {}", c.op, json_cell(v, c.style)));
            let cure = match &c.cure {
                None => String::new(),
                Some(cure) => {
                    let amount = cure.amount.as_ref().map_or_else(|| "no amount restores compliance".into(), money);
                    if cure.available {
                        format!("cure {amount}")
                    } else {
                        format!("cure {amount}, blocked by {}", cure.blocked_by.join(", "))
                    }
                }
            };
            t.row(vec![label(name, &c.title), status_mark(c.status), value, limit, c.headroom.as_deref().map_or("—".into(), percent), cure]);
        }
        t.render(&mut out);
    }
    if !r.margin_calls.is_empty() {
        let _ = writeln!(out, "\nMargin calls");
        let mut t = Table::new(&[("call", false), ("status", false), ("required", true), ("amount", true), ("due", false)]);
        for (name, m) in &r.margin_calls {
            t.row(vec![
                label(name, &m.title),
                status_mark(m.status),
                money_opt(&m.raw_amount),
                money_opt(&m.amount),
                m.due.clone().unwrap_or_else(|| "—".into()),
            ]);
        }
        t.render(&mut out);
    }
    if !r.defaults.is_empty() {
        let _ = writeln!(out, "\nEvents of default");
        let mut t = Table::new(&[("rule", false), ("status", false), ("events that hold", false)]);
        for (name, d) in &r.defaults {
            let events = d.events.iter().zip(&d.event_titles).map(|(e, title)| label(e, title)).collect::<Vec<_>>();
            t.row(vec![label(name, &d.title), status_mark(d.status), if events.is_empty() { "—".into() } else { events.join("; ") }]);
        }
        t.render(&mut out);
    }
    for (name, l) in &r.liquidations {
        let _ = writeln!(out, "\nLiquidation {}", escape_controls(&label(name, &l.title)));
        if l.status == Some("error") {
            let _ = writeln!(out, "  ERROR: see errors below");
            continue;
        }
        let triggered = if l.triggered == Some(true) { "triggered: the lender may enforce now" } else { "not triggered" };
        let _ = writeln!(out, "  {triggered}");
        match l.target_met {
            Some(true) => { let _ = writeln!(out, "  target met: the sale below restores the condition"); }
            Some(false) => { let _ = writeln!(out, "  TARGET NOT MET: selling everything listed does not restore the condition"); }
            None => {}
        }
        let units = |u: &String| dec(u).map_or(u.clone(), |d| grouped(d, 8));
        let any_held_back = l.sales.iter().any(|s| s.held_back.is_some());
        let mut columns = vec![("sale", false), ("units", true), ("discount", true), ("proceeds", true)];
        if any_held_back {
            columns.push(("held back", true));
        }
        let mut t = Table::new(&columns);
        for s in &l.sales {
            let mut row = vec![s.pool.clone(), units(&s.units), s.discount.as_ref().map_or_else(|| "—".to_string(), |d| percent(d)), money(&s.proceeds)];
            if any_held_back {
                row.push(s.held_back.as_ref().map_or_else(String::new, units));
            }
            t.row(row);
        }
        t.render(&mut out);
        let mut totals = Table::new(&[("", false), ("", true)]);
        totals.row(vec!["debt".into(), money_opt(&l.debt)]);
        totals.row(vec!["proceeds".into(), money_opt(&l.proceeds)]);
        totals.row(vec!["shortfall".into(), money_opt(&l.shortfall)]);
        totals.row(vec!["surplus".into(), money_opt(&l.surplus)]);
        totals.row(vec!["recovery".into(), l.recovery.as_deref().map_or("—".into(), percent)]);
        let mut s = String::new();
        totals.render(&mut s);
        // The totals need no header.
        for line in s.lines().skip(2) {
            let _ = writeln!(out, "{line}");
        }
    }
    if !r.errors.is_empty() {
        let _ = writeln!(out, "\nErrors");
        for e in &r.errors {
            let line = format!("{} ({}:{}:{}): {}", e.name, e.file, e.line, e.column, e.message);
            let _ = writeln!(out, "  {}", escape_controls(&line));
        }
    }
    out
}

fn label(name: &str, title: &Option<String>) -> String {
    match title {
        Some(t) => format!("{name} — {t}"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands_and_rounds() {
        assert_eq!(grouped(Decimal::from(1_250_000), 2), "1,250,000");
        assert_eq!(grouped(Decimal::new(-12345678, 2), 2), "-123,456.78");
        assert_eq!(grouped(Decimal::new(100, 0), 2), "100");
        assert_eq!(fixed(Decimal::new(13, 1), 2), "1.30");
        assert_eq!(fixed(Decimal::new(-5, 1), 2), "-0.50");
        assert_eq!(percent("0.7123"), "71.23%");
        assert_eq!(percent("0.5"), "50.00%");
        // 79,228,162,514,264,337,593,543,950,335 × 100 is past the decimal range: moved by text.
        assert_eq!(percent("79228162514264337593543950335"), "7,922,816,251,426,433,759,354,395,033,500.00%");
        assert_eq!(percent("-79228162514264337593543950335"), "-7,922,816,251,426,433,759,354,395,033,500.00%");
    }
}
