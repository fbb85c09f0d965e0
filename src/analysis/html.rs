//! Self-contained HTML pages with inline SVG for the analysis commands (no script, no
//! external resource). Kept apart so they can move onto the shared HTML room.

use std::fmt::Write as _;

use rust_decimal::prelude::ToPrimitive;

use super::project::Projection;
use super::sweep::Sweep;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// How bad a status is, for the cell's colour: 0 fine, 1 not tested, 2 a warning, 3 a
/// breach, call or trigger, 4 an error.
fn severity(status: &str) -> u8 {
    match status {
        "pass" | "none" | "clear" => 0,
        "not_tested" => 1,
        "below_minimum" => 2,
        "breach" | "called" | "triggered" => 3,
        _ => 4,
    }
}

/// A covenant's value and limit on one date.
type Pair = (Option<f64>, Option<f64>);

const COLOURS: [&str; 5] = ["#cfe8cf", "#e6e6e6", "#f6e7b0", "#f0b4ae", "#c9c9f0"];

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}td,th{{padding:2px 6px}}svg text{{font:11px system-ui,sans-serif}}</style></head>\n<body><h1>{t}</h1>\n{body}</body></html>\n",
        t = escape(title)
    )
}

/// Each cell coloured by the worst status of any rule there, the first `--show` figure
/// written in it, every status in its tooltip.
pub fn sweep_page(s: &Sweep) -> String {
    let (rows_axis, cols_axis) = match s.vary.as_slice() {
        [a] => (a, None),
        [a, b] => (a, Some(b)),
        _ => return page("sweep", "<p>no axes</p>"),
    };
    let columns = cols_axis.map_or(1, |b| b.values.len().max(1));
    let (cell_w, cell_h, left, top) = (140usize, 24usize, 130usize, 40usize);
    let width = left + cell_w * columns + 10;
    let height = top + cell_h * rows_axis.values.len() + 10;
    let mut svg = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\">\n");
    if let Some(b) = cols_axis {
        let _ = writeln!(svg, "<text x=\"{left}\" y=\"12\">{} →</text>", escape(&b.input));
        for (j, v) in b.values.iter().enumerate() {
            let _ = writeln!(svg, "<text x=\"{}\" y=\"32\">{}</text>", left + j * cell_w + 4, escape(&b.text(*v)));
        }
    }
    let _ = writeln!(svg, "<text x=\"4\" y=\"32\">{} ↓</text>", escape(&rows_axis.input));
    for (i, p) in s.points.iter().enumerate() {
        let (r, c) = (i / columns, i % columns);
        let (x, y) = (left + c * cell_w, top + r * cell_h);
        if c == 0 {
            let label = p.at.first().map(|v| rows_axis.text(*v)).unwrap_or_default();
            let _ = writeln!(svg, "<text x=\"4\" y=\"{}\">{}</text>", y + 16, escape(&label));
        }
        let worst = if p.error.is_some() { 4 } else { p.rules.values().map(|s| severity(s)).max().unwrap_or(0) };
        let colour = COLOURS.get(usize::from(worst)).copied().unwrap_or("#fff");
        let tip = match &p.error {
            Some(e) => e.clone(),
            None => p.rules.iter().map(|(n, s)| format!("{n}: {s}")).collect::<Vec<_>>().join("\n"),
        };
        let shown = s.show.first().and_then(|n| p.values.get(n)).map(super::table_cell).unwrap_or_default();
        let _ = writeln!(
            svg,
            "<g><title>{}</title><rect x=\"{x}\" y=\"{y}\" width=\"{cell_w}\" height=\"{cell_h}\" fill=\"{colour}\" stroke=\"#fff\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            escape(&tip),
            x + 4,
            y + 16,
            escape(&shown)
        );
    }
    svg.push_str("</svg>\n");
    let legend = "<p><span style=\"background:#cfe8cf\">&nbsp;all clear&nbsp;</span> <span style=\"background:#e6e6e6\">&nbsp;not tested&nbsp;</span> <span style=\"background:#f6e7b0\">&nbsp;below minimum&nbsp;</span> <span style=\"background:#f0b4ae\">&nbsp;breach, call or trigger&nbsp;</span> <span style=\"background:#c9c9f0\">&nbsp;error&nbsp;</span> (the worst status of any rule; hover a cell for each)</p>\n";
    let figure = s.show.first().map_or(String::new(), |n| format!("<p>In each cell: <code>{}</code>.</p>\n", escape(n)));
    page("Sweep", &(legend.to_string() + figure.as_str() + svg.as_str()))
}

/// One chart a covenant: its value on each date (solid) against its limit (dashed).
pub fn projection_page(p: &Projection) -> String {
    let names: Vec<String> = p.rows.iter().find(|r| r.error.is_none()).map(|r| r.covenants.keys().cloned().collect()).unwrap_or_default();
    let mut body = String::new();
    let events = [("first breach", &p.first_breach), ("first default", &p.first_default), ("first liquidation trigger", &p.first_liquidation_trigger)];
    body.push_str("<ul>\n");
    for (what, e) in events {
        let text = e.as_ref().map_or("none on this path".to_string(), |e| format!("{} ({})", e.date, e.rules.join(", ")));
        let _ = writeln!(body, "<li>{what}: {}</li>", escape(&text));
    }
    body.push_str("</ul>\n");
    let number = |j: &Option<serde_json::Value>| j.as_ref().and_then(|v| v.as_str()).and_then(super::parse_decimal).and_then(|d| d.to_f64());
    for name in names {
        let series: Vec<Pair> = p.rows.iter().map(|r| r.covenants.get(&name).map_or((None, None), |c| (number(&c.value), number(&c.limit)))).collect();
        let all: Vec<f64> = series.iter().flat_map(|(a, b)| [*a, *b]).flatten().collect();
        let (lo, hi) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
        if !lo.is_finite() || !hi.is_finite() {
            continue;
        }
        let span = if hi > lo { hi - lo } else { 1.0 };
        let (w, h, left, top) = (720.0, 220.0, 60.0, 20.0);
        let n = series.len().max(2) as f64 - 1.0;
        let x = |i: usize| left + (w - left - 20.0) * i as f64 / n;
        let y = |v: f64| top + (h - top - 30.0) * (hi - v) / span;
        let line = |pick: &dyn Fn(&Pair) -> Option<f64>| -> String {
            series.iter().enumerate().filter_map(|(i, s)| pick(s).map(|v| format!("{:.1},{:.1}", x(i), y(v)))).collect::<Vec<_>>().join(" ")
        };
        let _ = writeln!(body, "<h2>{}</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\">", escape(&name));
        let _ = writeln!(body, "<text x=\"4\" y=\"{:.1}\">{hi:.2}</text><text x=\"4\" y=\"{:.1}\">{lo:.2}</text>", y(hi) + 4.0, y(lo) + 4.0);
        let _ = writeln!(body, "<polyline fill=\"none\" stroke=\"#b03020\" stroke-dasharray=\"6 4\" points=\"{}\"/>", line(&|s| s.1));
        let _ = writeln!(body, "<polyline fill=\"none\" stroke=\"#2050a0\" stroke-width=\"2\" points=\"{}\"/>", line(&|s| s.0));
        for (i, r) in p.rows.iter().enumerate() {
            if i % (p.rows.len() / 5).max(1) == 0 {
                let _ = writeln!(body, "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>", x(i) - 28.0, h - 8.0, escape(&r.date));
            }
        }
        body.push_str("</svg>\n<p>solid: the value; dashed: the limit.</p>\n");
    }
    page("Projection", &body)
}

/// Each rule's status probabilities as a stacked bar coloured by severity; the quantiles of
/// every figure and the shortfall as tables.
pub fn simulation_page(s: &super::simulate::Simulated) -> String {
    let mut body = format!("<p>{} paths, seed {}", s.paths, s.seed);
    if s.failed_paths > 0 {
        let _ = write!(body, "; {} path(s) could not be evaluated (a check refused the shocked data) and are left out", s.failed_paths);
    }
    body.push_str("</p>\n");
    let (bar, left, row) = (500.0, 160usize, 26usize);
    let height = row * s.rules.len() + 10;
    let _ = writeln!(body, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\">", left + 520);
    for (i, (name, statuses)) in s.rules.iter().enumerate() {
        let y = i * row + 4;
        let _ = writeln!(body, "<text x=\"4\" y=\"{}\">{}</text>", y + 15, escape(name));
        let mut x = left as f64;
        for (status, p) in statuses {
            let share = super::parse_decimal(p).and_then(|d| d.to_f64()).unwrap_or(0.0);
            let w = share * bar;
            let colour = COLOURS.get(usize::from(severity(status))).unwrap_or(&"#ccc");
            let _ = writeln!(body, "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"20\" fill=\"{colour}\"><title>{}: {}</title></rect>", escape(status), escape(p));
            if w > 60.0 {
                let _ = writeln!(body, "<text x=\"{:.1}\" y=\"{}\">{} {:.1}%</text>", x + 4.0, y + 15, escape(status), share * 100.0);
            }
            x += w;
        }
    }
    body.push_str("</svg>\n");
    if !s.values.is_empty() {
        body.push_str("<table><tr><th>value</th><th>mean</th><th>p01</th><th>p05</th><th>p50</th><th>p95</th><th>p99</th></tr>\n");
        for (name, q) in &s.values {
            let _ = write!(body, "<tr><td>{}</td>", escape(name));
            for v in [&q.mean, &q.p01, &q.p05, &q.p50, &q.p95, &q.p99] {
                let shown = super::parse_decimal(v).map_or(v.clone(), |d| crate::report::table::grouped(d, 4));
                let _ = write!(body, "<td style=\"text-align:right\">{}</td>", escape(&shown));
            }
            body.push_str("</tr>\n");
        }
        body.push_str("</table>\n");
    }
    if let Some(f) = &s.shortfall {
        let money = |v: &str| super::parse_decimal(v).map_or(v.to_string(), |d| crate::report::table::fixed(d, 2));
        let percent = |v: &str| super::parse_decimal(v).map_or(v.to_string(), |d| format!("{}%", crate::report::table::fixed(d.checked_mul(rust_decimal::Decimal::ONE_HUNDRED).unwrap_or(d), 2)));
        let _ = writeln!(body, "<p>Forced-sale shortfall: probability {}, expected {}, p99 {}.</p>", escape(&percent(&f.probability)), escape(&money(&f.expected)), escape(&money(&f.p99)));
    }
    page(&format!("Simulation {}", s.simulation), &body)
}
