//! The facility report as one HTML page for a credit committee: covenants with headroom bars,
//! LTVs against the margin-call and enforcement triggers, the collateral, margin calls and
//! the liquidation waterfall; with several scenarios, a stress table and each scenario beside
//! the base case. Every figure written is the report's own, formatted as the table formats
//! it; the figures are read as `f64` only to place bars.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::Value as Json;

use super::svg::{self, Bar, Marker, Step, Tone};
use super::{page, Html};
use crate::ir::{Global, Node};
use crate::report::table::{grouped, json_cell, money, percent};
use crate::report::{Money, NumberStyle, Report};
use crate::syntax::ast::CmpOp;
use crate::value::Value;
use crate::Program;

/// A comparison of a value with a constant in a margin call's or liquidation's trigger
/// (`bb_ltv > 100%`): drawn as a marker on that value's bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    /// The margin call or liquidation.
    pub rule: String,
    pub is_call: bool,
    /// The `let` compared.
    pub value: String,
    /// Read as "value OP threshold".
    pub op: CmpOp,
    pub threshold: Decimal,
}

/// Every `value OP constant` in the program's trigger conditions, in declaration order, found
/// through `and`, `or` and `not`.
pub fn triggers(program: &Program) -> Vec<Trigger> {
    let ir = program.ir();
    let calls = ir.margin_calls.iter().map(|m| (&m.name, true, Some(m.trigger.expr)));
    let sales = ir.liquidations.iter().map(|l| (&l.name, false, l.trigger.map(|t| t.expr)));
    let mut found = Vec::new();
    for (rule, is_call, expr) in calls.chain(sales) {
        let mut pending: Vec<_> = expr.into_iter().collect();
        // A condition is a tree of at most a source file's nodes; bounded all the same.
        let mut budget = 10_000usize;
        while let Some(e) = pending.pop() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                break;
            }
            match ir.arena.node(e) {
                Some(Node::And(a, b) | Node::Or(a, b)) => pending.extend([*b, *a]),
                Some(Node::Not(a)) => pending.push(*a),
                Some(Node::Compare { op, lhs, rhs }) => {
                    let side = |id| ir.arena.node(id);
                    let (value, op, threshold) = match (side(*lhs), side(*rhs)) {
                        (Some(Node::Global(Global::Let(i))), Some(Node::Const(Value::Num(d)))) => (*i, *op, *d),
                        (Some(Node::Const(Value::Num(d))), Some(Node::Global(Global::Let(i)))) => (*i, flipped(*op), *d),
                        _ => continue,
                    };
                    if let Some(def) = ir.lets.get(value as usize) {
                        found.push(Trigger { rule: rule.to_string(), is_call, value: def.name.to_string(), op, threshold });
                    }
                }
                _ => {}
            }
        }
    }
    found
}

fn flipped(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

fn holds(value: f64, op: CmpOp, threshold: f64) -> bool {
    match op {
        CmpOp::Lt => value < threshold,
        CmpOp::Le => value <= threshold,
        CmpOp::Gt => value > threshold,
        CmpOp::Ge => value >= threshold,
        CmpOp::Eq => value == threshold,
        CmpOp::Ne => value != threshold,
    }
}

/// The page for one facility's reports: the base case and any scenarios, in the order run.
pub fn render(program: &Program, reports: &[Report]) -> String {
    let triggers = triggers(program);
    let Some(first) = reports.first() else { return page("Covenant report", "") };
    let facility = first.facility.as_deref().unwrap_or("Facility");
    let mut h = Html::new();
    h.raw("<header>").element("h1", "", facility);
    let base = reports.iter().find(|r| r.scenario.is_none());
    let scenarios: Vec<&Report> = reports.iter().filter(|r| r.scenario.is_some()).collect();
    h.raw("<p class=\"sub\">").text(&format!("as of {}", first.as_of));
    if reports.len() > 1 {
        h.text(&format!(" · {} case{} evaluated", reports.len(), if reports.len() == 1 { "" } else { "s" }));
    } else {
        h.text(&format!(" · {}", case_name(first)));
    }
    h.raw("</p>");
    if reports.len() == 1 {
        summary(&mut h, first);
    }
    h.raw("</header>\n");
    if reports.len() > 1 {
        stress_table(&mut h, reports, &triggers);
    }
    match base {
        Some(base) => {
            if reports.len() > 1 {
                h.element("h2", "", "Base case");
            }
            sections(&mut h, base, None, &triggers);
            for s in &scenarios {
                h.raw("<section class=\"compare\">");
                h.element("h2", "", &format!("{} beside the base case", case_name(s)));
                h.raw("<div class=\"cols\"><section>").element("h3", "muted", "Base case");
                summary(&mut h, base);
                sections(&mut h, base, Some(s), &triggers);
                h.raw("</section><section>").element("h3", "", &format!("Scenario {}", s.scenario.as_deref().unwrap_or_default()));
                summary(&mut h, s);
                sections(&mut h, s, Some(base), &triggers);
                h.raw("</section></div></section>\n");
            }
        }
        None => {
            for s in &scenarios {
                // One case alone is named in the header already.
                if scenarios.len() > 1 {
                    h.element("h2", "", &case_name(s));
                    summary(&mut h, s);
                }
                sections(&mut h, s, None, &triggers);
            }
        }
    }
    h.raw("<footer>").text(&format!("Covenant {} report. Figures as the table output writes them; bars are drawn to scale from them.", env!("CARGO_PKG_VERSION"))).raw("</footer>");
    // A line per block, for diffs and reviewed snapshots; escaped text cannot hold a tag.
    let mut body = h.into_string();
    for tag in ["</tr>", "</h2>", "</h3>", "</svg>", "</div>", "</table>", "</p>", "<tbody>"] {
        body = body.replace(tag, &format!("{tag}\n"));
    }
    page(&format!("{facility} — as of {}", first.as_of), &body)
}

fn case_name(r: &Report) -> String {
    match (&r.scenario, &r.scenario_title) {
        (Some(n), Some(t)) => format!("Scenario {n}: {t}"),
        (Some(n), None) => format!("Scenario {n}"),
        _ => "Base case".into(),
    }
}

fn label(name: &str, title: &Option<String>) -> String {
    match title {
        Some(t) => format!("{name} — {t}"),
        None => name.to_string(),
    }
}

fn pill(h: &mut Html, status: &str) {
    let text = match status {
        "pass" => "pass".to_string(),
        "breach" => "BREACH".into(),
        "called" => "CALLED".into(),
        "triggered" => "TRIGGERED".into(),
        "error" => "ERROR".into(),
        other => other.replace('_', " "),
    };
    h.element("span", &format!("pill {status}"), &text);
}

/// Breaches, calls and enforcement at a glance.
fn summary(h: &mut Html, r: &Report) {
    h.raw("<div class=\"summary\">");
    let breached = r.covenants.values().filter(|c| c.status == "breach").count();
    let tested = r.covenants.values().filter(|c| c.status == "pass" || c.status == "breach").count();
    let plural = |n: usize, word: &str| if n == 1 { word.to_string() } else { format!("{word}s") };
    if breached > 0 {
        h.element("span", "pill breach", &format!("{breached} of {tested} {} breached", plural(tested, "covenant")));
    } else if tested == 1 {
        h.element("span", "pill pass", "the tested covenant passes");
    } else if tested > 0 {
        h.element("span", "pill pass", &format!("all {tested} tested covenants pass"));
    }
    for (name, m) in r.margin_calls.iter().filter(|(_, m)| m.status == "called") {
        let amount = m.amount.as_ref().map_or_else(String::new, |a| format!(" {}", money(a)));
        h.element("span", "pill called", &format!("{name} called{amount}"));
    }
    for name in r.liquidations.iter().filter(|(_, l)| l.triggered == Some(true)).map(|(n, _)| n) {
        h.element("span", "pill triggered", &format!("{name} triggered"));
    }
    for name in r.defaults.iter().filter(|(_, d)| d.status == "triggered").map(|(n, _)| n) {
        h.element("span", "pill triggered", &format!("{name}: event of default"));
    }
    if !r.errors.is_empty() {
        h.element("span", "pill error", &format!("{} {}", r.errors.len(), plural(r.errors.len(), "error")));
    }
    h.raw("</div>");
}

/// A figure of the report (a decimal text or a money object) as a position.
fn position(v: &Json) -> Option<f64> {
    let text = match v {
        Json::String(s) => s.as_str(),
        Json::Object(o) => o.get("amount")?.as_str()?,
        _ => return None,
    };
    Decimal::from_str_exact(text).ok()?.to_f64()
}

fn money_opt(m: &Option<Money>) -> String {
    m.as_ref().map_or_else(|| "—".into(), money)
}

/// How an LTV-like value is written: a ratio named `…ltv…` as a percentage, anything else as
/// the program writes it.
fn ratio_style(r: &Report, name: &str) -> NumberStyle {
    if name.to_ascii_lowercase().contains("ltv") {
        NumberStyle::Percent
    } else {
        r.value_styles.get(name).copied().unwrap_or_default()
    }
}

/// The values drawn against triggers: those named like an LTV, and any other a trigger tests.
fn ltv_names<'r>(r: &'r Report, triggers: &[Trigger]) -> Vec<&'r String> {
    r.values
        .iter()
        .filter(|(name, v)| (name.to_ascii_lowercase().contains("ltv") || triggers.iter().any(|t| &t.value == *name)) && position(v).is_some())
        .map(|(name, _)| name)
        .collect()
}

/// The sections of one case; beside `peer` (drawn next to it), compact and on the scales the
/// two cases share.
fn sections(h: &mut Html, r: &Report, peer: Option<&Report>, triggers: &[Trigger]) {
    let width = if peer.is_some() { 560.0 } else { 1200.0 };
    covenants(h, r, peer, width);
    ltvs(h, r, peer, triggers, width);
    margin_calls(h, r);
    defaults(h, r);
    liquidations(h, r, peer, if peer.is_some() { 560.0 } else { 1000.0 });
    collateral(h, r);
    values(h, r);
    errors(h, r);
}

fn covenants(h: &mut Html, r: &Report, peer: Option<&Report>, width: f64) {
    if r.covenants.is_empty() {
        return;
    }
    h.element("h2", "", "Covenants");
    for (name, c) in &r.covenants {
        let value = c.value.as_ref().map_or("—".into(), |v| json_cell(v, c.style));
        let limit = c.limit.as_ref().map_or("—".into(), |v| format!("{} {}", c.op, json_cell(v, c.style)));
        let headroom = c.headroom.as_deref().map_or("—".into(), percent);
        h.raw("<div class=\"rule\"><div class=\"rule-head\"><span>");
        h.element("span", "rule-name", &label(name, &c.title)).raw(" ");
        pill(h, c.status);
        h.raw("</span>").element("span", "rule-figures", &format!("{value} · test {limit} · headroom {headroom}")).raw("</div>");
        let tone = match c.status {
            "pass" => Tone::Pass,
            "breach" => Tone::Breach,
            _ => Tone::Neutral,
        };
        match (c.value.as_ref().and_then(position), c.limit.as_ref().and_then(position)) {
            (Some(v), Some(l)) => {
                let other = peer.and_then(|p| p.covenants.get(name));
                let scale_to = other.and_then(|o| o.value.as_ref().and_then(position)).unwrap_or(0.0).max(other.and_then(|o| o.limit.as_ref().and_then(position)).unwrap_or(0.0));
                let b = Bar { value: v, label: value.clone(), tone, markers: vec![Marker { at: l, label: limit.clone(), tone: Tone::Neutral }], scale_to };
                h.raw(&svg::bar(&b, width, &format!("{name}: {value}, test {limit}")));
            }
            _ => {
                h.element("p", "note", "no bar: the covenant has no value to draw");
            }
        }
        if let Some(cure) = &c.cure {
            let amount = cure.amount.as_ref().map_or_else(|| "no amount restores compliance".into(), money);
            let text = if cure.available { format!("cure: {amount}") } else { format!("cure: {amount}, blocked by {}", cure.blocked_by.join(", ")) };
            h.element("p", "note", &text);
        }
        h.raw("</div>");
    }
}

/// The markers of the triggers that test value `name` (at `at`), and the bar's colour: red
/// when an enforcement trigger holds, amber when a call does, green when none does, neutral
/// when no trigger tests it.
fn against_triggers(name: &str, at: f64, style: NumberStyle, triggers: &[Trigger]) -> (Tone, Vec<Marker>) {
    let mut tone = Tone::Neutral;
    let mut markers = Vec::new();
    for t in triggers.iter().filter(|t| t.value == name) {
        let threshold = json_cell(&Json::String(crate::report::number(t.threshold)), style);
        let Some(limit) = t.threshold.to_f64() else { continue };
        // A release trigger (`ltv < 55%`) returns collateral: not a warning.
        let releases = matches!(t.op, CmpOp::Lt | CmpOp::Le);
        let marker_tone = match (t.is_call, releases) {
            (_, true) => Tone::Neutral,
            (true, false) => Tone::Warn,
            (false, false) => Tone::Breach,
        };
        // Green once a trigger is drawn and none holds; a value with no trigger stays neutral.
        if holds(at, t.op, limit) && marker_tone != Tone::Neutral {
            if tone != Tone::Breach {
                tone = marker_tone;
            }
        } else if tone == Tone::Neutral {
            tone = Tone::Pass;
        }
        markers.push(Marker { at: limit, label: format!("{} {} {threshold}", t.rule, t.op.symbol()), tone: marker_tone });
    }
    (tone, markers)
}

fn ltvs(h: &mut Html, r: &Report, peer: Option<&Report>, triggers: &[Trigger], width: f64) {
    let names = ltv_names(r, triggers);
    if names.is_empty() {
        return;
    }
    h.element("h2", "", "LTV against the triggers");
    for name in names {
        let Some(v) = r.values.get(name.as_str()) else { continue };
        let Some(at) = position(v) else { continue };
        let style = ratio_style(r, name);
        let shown = json_cell(v, style);
        let (tone, markers) = against_triggers(name, at, style, triggers);
        h.raw("<div class=\"rule\"><div class=\"rule-head\">").element("span", "rule-name", name).element("span", "rule-figures", &shown).raw("</div>");
        let scale_to = peer.and_then(|p| p.values.get(name.as_str())).and_then(position).unwrap_or(0.0);
        let b = Bar { value: at, label: shown.clone(), tone, markers, scale_to };
        h.raw(&svg::bar(&b, width, &format!("{name}: {shown}")));
        h.raw("</div>");
    }
}

fn table_head(h: &mut Html, head: &[(&str, bool)]) {
    h.raw("<table><thead><tr>");
    for (title, numeric) in head {
        h.element("th", if *numeric { "num" } else { "" }, title);
    }
    h.raw("</tr></thead><tbody>");
}

fn cells(h: &mut Html, row: &[(String, bool)]) {
    h.raw("<tr>");
    for (text, numeric) in row {
        h.element("td", if *numeric { "num" } else { "" }, text);
    }
    h.raw("</tr>");
}

fn margin_calls(h: &mut Html, r: &Report) {
    if r.margin_calls.is_empty() {
        return;
    }
    h.element("h2", "", "Margin calls");
    table_head(h, &[("call", false), ("status", false), ("required", true), ("amount", true), ("due", false)]);
    for (name, m) in &r.margin_calls {
        h.raw("<tr>").element("td", "", &label(name, &m.title)).raw("<td>");
        pill(h, m.status);
        h.raw("</td>");
        h.element("td", "num", &money_opt(&m.raw_amount)).element("td", "num", &money_opt(&m.amount));
        h.element("td", "date", m.due.as_deref().unwrap_or("—")).raw("</tr>");
    }
    h.raw("</tbody></table>");
}

fn defaults(h: &mut Html, r: &Report) {
    if r.defaults.is_empty() {
        return;
    }
    h.element("h2", "", "Events of default");
    table_head(h, &[("rule", false), ("status", false), ("events that hold", false)]);
    for (name, d) in &r.defaults {
        let events: Vec<String> = d.events.iter().zip(&d.event_titles).map(|(e, t)| label(e, t)).collect();
        h.raw("<tr>").element("td", "", &label(name, &d.title)).raw("<td>");
        pill(h, d.status);
        h.raw("</td>").element("td", "", &if events.is_empty() { "—".into() } else { events.join("; ") }).raw("</tr>");
    }
    h.raw("</tbody></table>");
}

fn liquidations(h: &mut Html, r: &Report, peer: Option<&Report>, width: f64) {
    for (name, l) in &r.liquidations {
        h.element("h2", "", &format!("Liquidation {}", label(name, &l.title)));
        if l.status == Some("error") {
            h.element("p", "note", "could not be computed: see the errors below");
            continue;
        }
        h.raw("<p>");
        if l.triggered == Some(true) {
            pill(h, "triggered");
            h.text(" the lender may enforce now");
        } else {
            h.element("span", "pill", "not triggered");
            h.text(" what a sale would fetch today");
        }
        match l.target_met {
            Some(true) => {
                h.text(" · target met: the sale restores the condition");
            }
            Some(false) => {
                h.text(" · TARGET NOT MET: selling everything listed does not restore the condition");
            }
            None => {}
        }
        h.raw("</p>");
        // Sales stack up to the proceeds; the shortfall (or surplus) closes the gap to the debt.
        let mut steps: Vec<Step> = l
            .sales
            .iter()
            .filter_map(|s| {
                let at = Decimal::from_str_exact(&s.proceeds.amount).ok()?.to_f64()?;
                Some(Step { label: format!("sale of {}", s.pool), value: at, text: money(&s.proceeds), total: false, tone: Tone::Pass })
            })
            .collect();
        let figure = |m: &Option<Money>| m.as_ref().and_then(|m| Decimal::from_str_exact(&m.amount).ok()).and_then(|d| d.to_f64());
        if let (Some(proceeds), Some(debt)) = (figure(&l.proceeds), figure(&l.debt)) {
            if l.sales.len() > 1 {
                steps.push(Step { label: "proceeds".into(), value: proceeds, text: money_opt(&l.proceeds), total: true, tone: Tone::Pass });
            }
            match (figure(&l.shortfall), figure(&l.surplus)) {
                (Some(short), _) if short > 0.0 => steps.push(Step { label: "shortfall".into(), value: short, text: money_opt(&l.shortfall), total: false, tone: Tone::Breach }),
                (_, Some(surplus)) if surplus > 0.0 => steps.push(Step { label: "surplus".into(), value: -surplus, text: money_opt(&l.surplus), total: false, tone: Tone::Neutral }),
                _ => {}
            }
            steps.push(Step { label: "debt".into(), value: debt, text: money_opt(&l.debt), total: true, tone: Tone::Neutral });
            let other = peer.and_then(|p| p.liquidations.get(name));
            let scale_to = other.map_or(0.0, |o| figure(&o.debt).unwrap_or(0.0).max(figure(&o.proceeds).unwrap_or(0.0)));
            h.raw(&svg::waterfall(&steps, width, &format!("liquidation {name}: proceeds against debt"), scale_to));
        }
        let any_held_back = l.sales.iter().any(|s| s.held_back.is_some());
        let units = |u: &str| Decimal::from_str_exact(u).map_or(u.to_string(), |d| grouped(d, 8));
        let mut head = vec![("sale", false), ("units", true), ("discount", true), ("proceeds", true)];
        if any_held_back {
            head.push(("held back", true));
        }
        table_head(h, &head);
        for s in &l.sales {
            let mut row = vec![(s.pool.clone(), false), (units(&s.units), true), (s.discount.as_deref().map_or("—".into(), percent), true), (money(&s.proceeds), true)];
            if any_held_back {
                row.push((s.held_back.as_deref().map_or_else(String::new, units), true));
            }
            cells(h, &row);
        }
        h.raw("</tbody></table>");
        table_head(h, &[("debt", true), ("proceeds", true), ("shortfall", true), ("surplus", true), ("recovery", true)]);
        cells(
            h,
            &[
                (money_opt(&l.debt), true),
                (money_opt(&l.proceeds), true),
                (money_opt(&l.shortfall), true),
                (money_opt(&l.surplus), true),
                (l.recovery.as_deref().map_or("—".into(), percent), true),
            ],
        );
        h.raw("</tbody></table>");
    }
}

fn collateral(h: &mut Html, r: &Report) {
    if r.collateral.is_empty() {
        return;
    }
    h.element("h2", "", "Collateral");
    table_head(h, &[("pool", false), ("quantity", true), ("market value", true), ("haircut", true), ("eligible value", true), ("realisable value", true)]);
    for (name, p) in &r.collateral {
        cells(
            h,
            &[
                (label(name, &p.title), false),
                (p.quantity.as_deref().and_then(|q| Decimal::from_str_exact(q).ok()).map_or("ERROR".into(), |d| grouped(d, 8)), true),
                (money_opt(&p.market_value), true),
                (p.haircut.as_deref().map_or("—".into(), percent), true),
                (money_opt(&p.eligible_value), true),
                (money_opt(&p.realisable_value), true),
            ],
        );
    }
    h.raw("</tbody></table>");
}

fn values(h: &mut Html, r: &Report) {
    if r.values.is_empty() {
        return;
    }
    h.element("h2", "", "Figures");
    table_head(h, &[("name", false), ("value", true)]);
    for (name, v) in &r.values {
        let style = r.value_styles.get(name).copied().unwrap_or_default();
        cells(h, &[(name.clone(), false), (json_cell(v, style), true)]);
    }
    h.raw("</tbody></table>");
}

fn errors(h: &mut Html, r: &Report) {
    if r.errors.is_empty() {
        return;
    }
    h.element("h2", "", "Errors");
    h.raw("<ul>");
    for e in &r.errors {
        h.element("li", "", &format!("{} ({}:{}:{}): {}", e.name, e.file, e.line, e.column, e.message));
    }
    h.raw("</ul>");
}

/// One row per case: each covenant's status and value, each LTV, each call and liquidation.
fn stress_table(h: &mut Html, reports: &[Report], triggers: &[Trigger]) {
    let Some(first) = reports.first() else { return };
    h.element("h2", "", "Stress table");
    let ltv = ltv_names(first, triggers);
    h.raw("<table class=\"stress\"><thead><tr>").element("th", "", "case").element("th", "", "as of");
    for name in first.covenants.keys().chain(ltv.iter().copied()).chain(first.margin_calls.keys()) {
        h.element("th", "num", name);
    }
    for name in first.liquidations.keys() {
        h.element("th", "num", &format!("{name} shortfall"));
    }
    h.raw("</tr></thead><tbody>");
    for r in reports {
        let name = r.scenario.clone().unwrap_or_else(|| "base case".into());
        h.raw("<tr><td class=\"case\">").element("strong", "", &name);
        if let Some(t) = &r.scenario_title {
            h.raw("<br>").element("span", "note", t);
        }
        h.raw("</td>").element("td", "date", &r.as_of);
        for (name, c) in &first.covenants {
            h.raw("<td class=\"num\">");
            match r.covenants.get(name) {
                Some(c2) => {
                    h.text(&c2.value.as_ref().map_or("—".into(), |v| json_cell(v, c.style))).raw(" ");
                    pill(h, c2.status);
                }
                None => {
                    h.text("—");
                }
            }
            h.raw("</td>");
        }
        for name in &ltv {
            let value = r.values.get(name.as_str());
            let shown = value.map_or("—".into(), |v| json_cell(v, ratio_style(r, name)));
            let tone = value.and_then(position).map_or(Tone::Neutral, |at| against_triggers(name, at, ratio_style(r, name), triggers).0);
            let class = match tone {
                Tone::Breach => "num breach",
                Tone::Warn => "num warn",
                _ => "num",
            };
            h.element("td", class, &shown);
        }
        for name in first.margin_calls.keys() {
            h.raw("<td class=\"num\">");
            if let Some(m) = r.margin_calls.get(name) {
                if m.status == "called" {
                    h.text(&money_opt(&m.amount)).raw(" ");
                }
                pill(h, m.status);
            }
            h.raw("</td>");
        }
        for name in first.liquidations.keys() {
            h.raw("<td class=\"num\">");
            if let Some(l) = r.liquidations.get(name) {
                h.text(&money_opt(&l.shortfall));
                if l.triggered == Some(true) {
                    h.raw(" ");
                    pill(h, "triggered");
                }
            }
            h.raw("</td>");
        }
        h.raw("</tr>");
    }
    h.raw("</tbody></table>");
}
