//! HTML for people: a self-contained page (inline CSS and SVG, no script, no network
//! reference) and hand-written SVG charts (`svg`), with the facility report built on them
//! (`report`).
//!
//! Plain string building with one escaping function rather than a template crate: the pages
//! are a handful of sections and charts are arithmetic on coordinates, which a template
//! language does not help with, and the library stays free of proc-macro dependencies. Every
//! text from the program or the data passes through [`escape`] (or [`Html::text`]); markup
//! is only ever written from literals in this module's code.

pub mod report;
pub mod svg;

use std::fmt::Write as _;

/// Text made safe for HTML element content and quoted attribute values: `&`, `<`, `>`, `"`
/// and `'` become character references, and control characters (which HTML forbids) become
/// U+FFFD, so a facility named `</style><script>` is shown as those characters.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A growing HTML document: [`text`](Html::text) escapes, [`raw`](Html::raw) takes markup
/// this crate wrote.
#[derive(Default)]
pub struct Html {
    out: String,
}

impl Html {
    pub fn new() -> Html {
        Html::default()
    }

    pub fn raw(&mut self, markup: &str) -> &mut Html {
        self.out.push_str(markup);
        self
    }

    pub fn text(&mut self, text: &str) -> &mut Html {
        self.out.push_str(&escape(text));
        self
    }

    /// `<tag class="class">text</tag>`, the text escaped; no class when it is empty.
    pub fn element(&mut self, tag: &str, class: &str, text: &str) -> &mut Html {
        if class.is_empty() {
            let _ = write!(self.out, "<{tag}>{}</{tag}>", escape(text));
        } else {
            let _ = write!(self.out, "<{tag} class=\"{}\">{}</{tag}>", escape(class), escape(text));
        }
        self
    }

    pub fn len(&self) -> usize {
        self.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    pub fn into_string(self) -> String {
        self.out
    }
}

/// The stylesheet every page shares: print-friendly, system fonts, tabular figures.
const STYLE: &str = r#"
:root { --pass: #2e7d32; --breach: #c62828; --warn: #e08a00; --muted: #6b7280; --line: #d9dde3; --ink: #1f2933; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); margin: 0; padding: 28px 36px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 26px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { color: var(--muted); margin: 0 0 10px; }
.summary { display: flex; gap: 8px; flex-wrap: wrap; margin: 10px 0 0; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; margin: 4px 0 8px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.date { white-space: nowrap; }
td.breach { color: var(--breach); font-weight: 600; }
td.warn { color: #b45f00; font-weight: 600; }
td.case { min-width: 180px; }
table.stress { font-size: 12.5px; }
table.stress th.num { white-space: normal; }
table.stress td.num { white-space: normal; min-width: 90px; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; background: #eef0f3; color: var(--muted); }
.pill.pass, .pill.clear { background: #e6f4ea; color: var(--pass); }
.pill.breach, .pill.error, .pill.triggered { background: #fdecea; color: var(--breach); }
.pill.called, .pill.below_minimum { background: #fff3e0; color: #b45f00; }
.rule { margin: 10px 0 14px; }
.rule-head { display: flex; justify-content: space-between; gap: 12px; align-items: baseline; }
.rule-name { font-weight: 600; }
.rule-figures { font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: var(--muted); }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 28px; }
.cols > section { min-width: 0; }
.cols table { font-size: 12px; }
.cols th, .cols td { padding: 3px 5px; }
.cols td.num, .cols th.num { white-space: normal; }
.note { font-size: 12px; color: var(--muted); }
svg { display: block; max-width: 100%; height: auto; font-family: inherit; }
svg text { font-size: 12px; fill: var(--ink); }
footer { margin-top: 30px; font-size: 11px; color: var(--muted); }
@media print { body { padding: 0; } .cols { gap: 16px; } }
"#;

/// A whole page: the title (escaped) and the body markup.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_is_shown_not_run() {
        assert_eq!(escape("</style><script>alert('x')</script>"), "&lt;/style&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
        assert_eq!(escape("a \"b\" & c\u{0}"), "a &quot;b&quot; &amp; c\u{FFFD}");
        let p = page("<b>", "");
        assert!(p.contains("<title>&lt;b&gt;</title>"));
    }
}
