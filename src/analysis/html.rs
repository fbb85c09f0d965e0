//! Self-contained HTML pages with inline SVG for the analysis commands. Kept apart so they
//! can move onto the shared HTML room.

use super::sweep::Sweep;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn colour(status: &str) -> &'static str {
    match status {
        "pass" | "none" | "clear" => "#cfe8cf",
        "not_tested" => "#e6e6e6",
        "below_minimum" => "#f6e7b0",
        "breach" | "called" | "triggered" => "#f0b4ae",
        _ => "#c9c9f0",
    }
}

pub fn sweep_page(s: &Sweep) -> String {
    let _ = s;
    String::new()
}

pub fn projection_page(p: &super::project::Projection) -> String {
    let _ = p;
    String::new()
}
