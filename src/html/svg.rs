//! Hand-written SVG charts: a horizontal bar against limit markers, a waterfall, lines over
//! dates and a heatmap grid. Each takes positions as `f64` (where to draw) and labels as
//! text already formatted by the caller (what to read), so a chart never shows a figure the
//! report did not write. Every label is escaped.

use std::fmt::Write as _;

use super::escape;

/// What a mark means, as its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Pass,
    Breach,
    Warn,
    Neutral,
}

impl Tone {
    pub fn colour(self) -> &'static str {
        match self {
            Tone::Pass => "#2e7d32",
            Tone::Breach => "#c62828",
            Tone::Warn => "#e08a00",
            Tone::Neutral => "#607d9b",
        }
    }
}

/// A limit drawn across a bar or a chart: where, and what it says.
#[derive(Clone, Debug)]
pub struct Marker {
    pub at: f64,
    pub label: String,
    pub tone: Tone,
}

/// A value drawn as a bar from zero, against markers.
#[derive(Clone, Debug)]
pub struct Bar {
    pub value: f64,
    pub label: String,
    pub tone: Tone,
    pub markers: Vec<Marker>,
    /// A figure the scale must reach besides these (the same figure in another case), so
    /// that bars drawn side by side share a scale; 0 when none.
    pub scale_to: f64,
}

/// A coordinate as SVG writes it; what is not finite is drawn at 0 rather than breaking the
/// document.
fn c(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}", x)
    } else {
        "0".into()
    }
}

/// `lo..hi` mapped onto `0..span` pixels.
#[derive(Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
    span: f64,
}

impl Scale {
    fn new(lo: f64, hi: f64, span: f64) -> Scale {
        let (lo, hi) = if lo.is_finite() && hi.is_finite() && hi > lo { (lo, hi) } else { (0.0, 1.0) };
        Scale { lo, hi, span }
    }

    fn at(self, v: f64) -> f64 {
        let v = if v.is_finite() { v.clamp(self.lo, self.hi) } else { self.lo };
        (v - self.lo) / (self.hi - self.lo) * self.span
    }
}

/// Inline in HTML, where the parser gives `<svg>` its namespace: no `xmlns`, so that the page
/// holds no URL at all.
fn svg_open(out: &mut String, width: f64, height: f64, label: &str) {
    let _ = write!(
        out,
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">",
        escape(label),
        w = c(width),
        h = c(height)
    );
}

fn text(out: &mut String, x: f64, y: f64, anchor: &str, extra: &str, label: &str) {
    let _ = write!(out, "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\"{extra}>{}</text>", c(x), c(y), escape(label));
}

/// Roughly how wide a label is at 12px, to keep labels apart.
fn text_width(label: &str) -> f64 {
    label.chars().count() as f64 * 6.6
}

/// One value as a bar from zero, with a vertical line per marker (a covenant's limit, a
/// trigger) labelled above the bar, or below when it would overlap the previous label. The
/// scale runs from zero (or the lowest value) to a little past the largest figure drawn.
pub fn bar(b: &Bar, width: f64, title: &str) -> String {
    const LEFT: f64 = 4.0;
    const BAR_TOP: f64 = 20.0;
    const BAR_HEIGHT: f64 = 16.0;
    let right_room = text_width(&b.label) + 12.0;
    let plot = (width - LEFT - right_room).max(40.0);
    let figures = [b.value, b.scale_to].into_iter().chain(b.markers.iter().map(|m| m.at)).filter(|v| v.is_finite());
    let (lo, hi) = figures.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let scale = Scale::new(lo, if hi > 0.0 { hi * 1.15 } else { 1.0 }, plot);
    let height = 58.0;
    let mut out = String::new();
    svg_open(&mut out, width, height, title);
    let _ = write!(out, "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#eef0f3\" rx=\"2\"/>", c(LEFT), c(BAR_TOP), c(plot), c(BAR_HEIGHT));
    let zero = LEFT + scale.at(0.0);
    let end = LEFT + scale.at(b.value);
    let (x0, x1) = if end >= zero { (zero, end) } else { (end, zero) };
    let _ = write!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" rx=\"2\"/>",
        c(x0),
        c(BAR_TOP),
        c((x1 - x0).max(1.0)),
        c(BAR_HEIGHT),
        b.tone.colour()
    );
    let mut markers: Vec<&Marker> = b.markers.iter().collect();
    markers.sort_by(|a, b| a.at.total_cmp(&b.at));
    let mut last_above = f64::NEG_INFINITY;
    let mut last_below = f64::NEG_INFINITY;
    for m in markers {
        let x = LEFT + scale.at(m.at);
        let half = text_width(&m.label) / 2.0;
        let centre = x.clamp(LEFT + half, LEFT + plot - half + right_room.min(half));
        let above = centre - half > last_above + 6.0;
        let _ = write!(
            out,
            "<line x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2.5\"/>",
            c(BAR_TOP - 5.0),
            c(BAR_TOP + BAR_HEIGHT + 5.0),
            m.tone.colour(),
            x = c(x)
        );
        let style = format!(" fill=\"{}\" font-size=\"11\"", m.tone.colour());
        if above || centre - half <= last_below + 6.0 {
            text(&mut out, centre, BAR_TOP - 8.0, "middle", &style, &m.label);
            last_above = centre + half;
        } else {
            text(&mut out, centre, BAR_TOP + BAR_HEIGHT + 17.0, "middle", &style, &m.label);
            last_below = centre + half;
        }
    }
    // Written last, with a white halo, so that no marker line strikes through it.
    text(&mut out, x1.max(zero) + 6.0, BAR_TOP + 12.5, "start", " font-weight=\"600\" stroke=\"#fff\" stroke-width=\"4\" paint-order=\"stroke\"", &b.label);
    out.push_str("</svg>");
    out
}

/// One column of a waterfall: a total drawn from zero, or a change drawn from the running
/// total.
#[derive(Clone, Debug)]
pub struct Step {
    pub label: String,
    pub value: f64,
    /// The figure written above the column.
    pub text: String,
    pub total: bool,
    pub tone: Tone,
}

/// Splits a label into at most two lines near its middle space.
fn two_lines(label: &str) -> (String, Option<String>) {
    if label.chars().count() <= 14 {
        return (label.to_string(), None);
    }
    let middle = label.len() / 2;
    let split = label.char_indices().filter(|(_, ch)| *ch == ' ').map(|(i, _)| i).min_by_key(|i| i.abs_diff(middle));
    match split {
        Some(i) => (label.get(..i).unwrap_or(label).to_string(), label.get(i + 1..).map(str::to_string)),
        None => (label.to_string(), None),
    }
}

/// A waterfall: columns left to right, changes floating from the running total, with a
/// dashed line carrying each column's top to the next.
///
/// `scale_to` is a figure the scale must reach besides the columns (the same chart in another
/// case), 0 when none. A figure wider than its column is written on two lines, the amount
/// over its currency.
pub fn waterfall(steps: &[Step], width: f64, title: &str, scale_to: f64) -> String {
    const TOP: f64 = 38.0;
    const PLOT: f64 = 200.0;
    const LEFT: f64 = 8.0;
    let height = TOP + PLOT + 40.0;
    let mut running = 0.0f64;
    let mut spans = Vec::with_capacity(steps.len());
    for s in steps {
        let (from, to) = if s.total { (0.0, s.value) } else { (running, running + s.value) };
        running = to;
        spans.push((from, to));
    }
    let lo = spans.iter().fold(0.0f64, |m, (a, b)| m.min(*a).min(*b));
    let hi = spans.iter().fold(scale_to.max(0.0), |m, (a, b)| m.max(*a).max(*b));
    let scale = Scale::new(lo, if hi > lo { hi } else { lo + 1.0 }, PLOT);
    let y = |v: f64| TOP + PLOT - scale.at(v);
    let slot = ((width - 2.0 * LEFT) / steps.len().max(1) as f64).max(40.0);
    let column = (slot * 0.6).min(110.0);
    let mut out = String::new();
    svg_open(&mut out, width, height, title);
    let _ = write!(out, "<line x1=\"{}\" x2=\"{}\" y1=\"{y0}\" y2=\"{y0}\" stroke=\"#9aa5b1\"/>", c(LEFT), c(width - LEFT), y0 = c(y(0.0)));
    let mut previous_top: Option<(f64, f64)> = None;
    for (i, (s, (from, to))) in steps.iter().zip(&spans).enumerate() {
        let x = LEFT + slot * i as f64 + (slot - column) / 2.0;
        let (top, bottom) = (y(from.max(*to)), y(from.min(*to)));
        if let Some((px, py)) = previous_top {
            let _ = write!(out, "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#9aa5b1\" stroke-dasharray=\"4 3\"/>", c(px), c(x), y = c(py));
        }
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}/>",
            c(x),
            c(top),
            c(column),
            c((bottom - top).max(1.0)),
            s.tone.colour(),
            if s.total { "" } else { " fill-opacity=\"0.8\"" }
        );
        let centre = x + column / 2.0;
        match s.text.rsplit_once(' ') {
            Some((amount, unit)) if text_width(&s.text) > slot - 6.0 => {
                text(&mut out, centre, top - 19.0, "middle", " font-weight=\"600\"", amount);
                text(&mut out, centre, top - 6.0, "middle", "", unit);
            }
            _ => text(&mut out, centre, top - 6.0, "middle", " font-weight=\"600\"", &s.text),
        }
        let (first, second) = two_lines(&s.label);
        text(&mut out, x + column / 2.0, TOP + PLOT + 16.0, "middle", "", &first);
        if let Some(second) = second {
            text(&mut out, x + column / 2.0, TOP + PLOT + 31.0, "middle", "", &second);
        }
        previous_top = Some((x + column, y(*to)));
    }
    out.push_str("</svg>");
    out
}

/// A line over dates: points as (day number, value), drawn in the given colour.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(i64, f64)>,
    pub tone: Tone,
}

/// Lines over dates, with the axis labels the caller wrote (`(day, "2026-06-30")`,
/// `(0.75, "75%")`), horizontal markers (a trigger) and a legend.
pub fn line_chart(series: &[Series], x_ticks: &[(i64, String)], y_ticks: &[(f64, String)], markers: &[Marker], width: f64, title: &str) -> String {
    const LEFT: f64 = 64.0;
    const TOP: f64 = 28.0;
    const PLOT_HEIGHT: f64 = 220.0;
    let plot_width = (width - LEFT - 16.0).max(40.0);
    let days = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).chain(x_ticks.iter().map(|t| t.0));
    let (first, last) = days.fold((i64::MAX, i64::MIN), |(a, b), d| (a.min(d), b.max(d)));
    let xs = Scale::new(first as f64, last as f64, plot_width);
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).chain(y_ticks.iter().map(|t| t.0)).chain(markers.iter().map(|m| m.at));
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let ys = Scale::new(lo.min(0.0), hi, PLOT_HEIGHT);
    let x = |d: i64| LEFT + xs.at(d as f64);
    let y = |v: f64| TOP + PLOT_HEIGHT - ys.at(v);
    let mut out = String::new();
    svg_open(&mut out, width, TOP + PLOT_HEIGHT + 30.0, title);
    for (v, label) in y_ticks {
        let _ = write!(out, "<line x1=\"{}\" x2=\"{}\" y1=\"{yy}\" y2=\"{yy}\" stroke=\"#eef0f3\"/>", c(LEFT), c(LEFT + plot_width), yy = c(y(*v)));
        text(&mut out, LEFT - 6.0, y(*v) + 4.0, "end", "", label);
    }
    for (d, label) in x_ticks {
        text(&mut out, x(*d), TOP + PLOT_HEIGHT + 18.0, "middle", "", label);
    }
    for m in markers {
        let _ = write!(
            out,
            "<line x1=\"{}\" x2=\"{}\" y1=\"{yy}\" y2=\"{yy}\" stroke=\"{}\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>",
            c(LEFT),
            c(LEFT + plot_width),
            m.tone.colour(),
            yy = c(y(m.at))
        );
        text(&mut out, LEFT + plot_width, y(m.at) - 4.0, "end", &format!(" fill=\"{}\" font-size=\"11\"", m.tone.colour()), &m.label);
    }
    let mut legend_x = LEFT;
    for s in series {
        let points: Vec<String> = s.points.iter().map(|(d, v)| format!("{},{}", c(x(*d)), c(y(*v)))).collect();
        let _ = write!(out, "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>", points.join(" "), s.tone.colour());
        let _ = write!(out, "<rect x=\"{}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{}\"/>", c(legend_x), s.tone.colour());
        text(&mut out, legend_x + 16.0, 16.0, "start", "", &s.name);
        legend_x += text_width(&s.name) + 36.0;
    }
    out.push_str("</svg>");
    out
}

/// A grid of cells, each coloured by its tone with its text written in it, under column
/// labels and beside row labels.
#[derive(Clone, Debug)]
pub struct Heatmap {
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// Row by row; a missing cell is left blank.
    pub cells: Vec<Vec<Option<(Tone, String)>>>,
}

pub fn heatmap(h: &Heatmap, title: &str) -> String {
    const CELL_HEIGHT: f64 = 26.0;
    let label_width = h.rows.iter().map(|r| text_width(r)).fold(40.0, f64::max) + 12.0;
    let cell_width = h
        .columns
        .iter()
        .map(|l| text_width(l))
        .chain(h.cells.iter().flatten().flatten().map(|(_, t)| text_width(t)))
        .fold(48.0, f64::max)
        + 14.0;
    let width = label_width + cell_width * h.columns.len() as f64 + 4.0;
    let height = CELL_HEIGHT * (h.rows.len() as f64 + 1.0) + 4.0;
    let mut out = String::new();
    svg_open(&mut out, width, height, title);
    for (j, col) in h.columns.iter().enumerate() {
        text(&mut out, label_width + cell_width * (j as f64 + 0.5), CELL_HEIGHT - 9.0, "middle", " font-weight=\"600\"", col);
    }
    for (i, (row, cells)) in h.rows.iter().zip(&h.cells).enumerate() {
        let top = CELL_HEIGHT * (i as f64 + 1.0);
        text(&mut out, label_width - 8.0, top + 17.0, "end", "", row);
        for (j, cell) in cells.iter().enumerate().take(h.columns.len()) {
            let Some((tone, label)) = cell else { continue };
            let left = label_width + cell_width * j as f64;
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" fill-opacity=\"0.85\" stroke=\"#fff\"/>",
                c(left),
                c(top),
                c(cell_width),
                c(CELL_HEIGHT),
                tone.colour()
            );
            text(&mut out, left + cell_width / 2.0, top + 17.0, "middle", " fill=\"#fff\" font-weight=\"600\"", label);
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_puts_its_marker_at_the_limit_and_escapes_labels() {
        // Scale 0 .. 2 × 1.15 = 2.3 over the plot; the value 1 sits left of the limit 2.
        let b = Bar { value: 1.0, label: "<1.00x>".into(), tone: Tone::Breach, markers: vec![Marker { at: 2.0, label: ">= 2.00x".into(), tone: Tone::Neutral }], scale_to: 0.0 };
        let svg = bar(&b, 400.0, "dscr");
        assert!(svg.contains("&lt;1.00x&gt;") && svg.contains("&gt;= 2.00x"));
        assert!(!svg.contains("<1.00x"));
        assert_eq!(svg.matches("<line").count(), 1);
        assert!(svg.contains(Tone::Breach.colour()));
    }

    #[test]
    fn a_waterfall_floats_changes_from_the_running_total() {
        // 100 debt, −60 proceeds: the change's column spans 40..100, the shortfall 0..40.
        let steps = [
            Step { label: "debt".into(), value: 100.0, text: "100".into(), total: true, tone: Tone::Neutral },
            Step { label: "proceeds".into(), value: -60.0, text: "60".into(), total: false, tone: Tone::Pass },
            Step { label: "shortfall".into(), value: 40.0, text: "40".into(), total: true, tone: Tone::Breach },
        ];
        // Three slots of (316 − 2 × 8) / 3 = 100 px, columns 60 px wide.
        let svg = waterfall(&steps, 316.0, "w", 0.0);
        // Plot 200 px tall from y 38: 100 at 38, 40 at 38 + 200 × 0.6 = 158, 0 at 238.
        assert!(svg.contains("y=\"38.0\" width=\"60.0\" height=\"120.0\""), "{svg}");
        assert!(svg.contains("y=\"158.0\" width=\"60.0\" height=\"80.0\""), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 3);
    }

    #[test]
    fn a_line_chart_and_a_heatmap_draw_every_series_and_cell() {
        let s = Series { name: "ltv <book>".into(), points: vec![(0, 0.5), (90, 0.7)], tone: Tone::Neutral };
        let svg = line_chart(&[s], &[(0, "2026-03-31".into()), (90, "2026-06-29".into())], &[(0.5, "50%".into())], &[], 500.0, "ltv");
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("ltv &lt;book&gt;"));
        let h = Heatmap {
            rows: vec!["-10%".into(), "-20%".into()],
            columns: vec!["a".into()],
            cells: vec![vec![Some((Tone::Pass, "pass".into()))], vec![None]],
        };
        assert_eq!(heatmap(&h, "grid").matches("<rect").count(), 1);
    }
}
