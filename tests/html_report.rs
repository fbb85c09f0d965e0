//! `run --format html`: the page for a credit committee. Structure and escaping are asserted
//! on the base case and a stressed run of two examples, the pages are snapshotted, and each
//! is screenshotted in headless Chromium when it is installed (required under `CI`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use covenant::report::table::{json_cell, money, percent};
use covenant::html::escape;
use covenant::{Program, Report};

fn page(example: &str, cases: &[Option<&str>]) -> (String, Vec<Report>) {
    let program = Program::compile_file(Path::new(&format!("examples/{example}.cov"))).unwrap();
    let data = std::fs::read_to_string(format!("examples/data/{example}.json")).unwrap();
    let reports: Vec<Report> = cases.iter().map(|s| program.evaluate(&data, *s).unwrap()).collect();
    (covenant::html::report::render(&program, &reports), reports)
}

/// What every page must hold: each covenant with its status and headroom as the table
/// writes them, each margin call and pool, and no reference out of the file.
fn assert_structure(html: &str, reports: &[Report]) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    for bad in ["http://", "https://", "<script", "<link", "<img", "src=", "url("] {
        assert!(!html.contains(bad), "the page holds `{bad}`");
    }
    for r in reports {
        for (name, c) in &r.covenants {
            let status = if c.status == "breach" { "BREACH" } else { c.status };
            let headroom = percent(c.headroom.as_deref().unwrap());
            let value = json_cell(c.value.as_ref().unwrap(), c.style);
            assert!(html.contains(&format!("class=\"pill {}\">{status}</span>", c.status)), "{name} status {status}");
            let figures = format!("{value} · test {} {} · headroom {headroom}", c.op, json_cell(c.limit.as_ref().unwrap(), c.style));
            assert!(html.contains(&escape(&figures)), "{name}: {figures}");
        }
        for (name, m) in &r.margin_calls {
            assert!(html.contains(name.as_str()), "{name}");
            assert!(html.contains(&money(m.amount.as_ref().unwrap())), "{name} amount");
        }
        for p in r.collateral.values() {
            assert!(html.contains(&money(p.realisable_value.as_ref().unwrap())));
        }
        for (name, l) in &r.liquidations {
            assert!(html.contains(&format!("Liquidation {name}")));
            assert!(html.contains(&money(l.shortfall.as_ref().unwrap())));
        }
    }
    // One headroom bar per covenant per case drawn, plus an LTV bar per LTV.
    assert!(html.matches("<svg ").count() >= reports.iter().map(|r| r.covenants.len()).sum::<usize>());
}

#[test]
fn gpu_abl_base_case() {
    let (html, reports) = page("gpu_abl", &[None]);
    assert_structure(&html, &reports);
    assert!(html.contains("<h1>Atlas Compute - GPU ABL</h1>"));
    assert!(html.contains("as of 2026-03-31 · Base case"));
    // 1.7462 against 1.30x: headroom 1.7462 / 1.30 − 1 = 34.32%, as the table writes it.
    assert!(html.contains("1.75x · test &gt;= 1.30x · headroom 34.32%"));
    // The triggers drawn on the LTVs: `bb_ltv > 100%` (the call), `book_ltv > 85%` (enforcement).
    assert!(html.contains(">ltv_call &gt; 100.00%<") && html.contains(">enforcement &gt; 85.00%<"));
    // Shortfall 78,090,000 − 48,340,076.03 = 29,749,923.97 USD in the waterfall.
    assert!(html.contains(">29,749,923.97 USD</text>"));
    insta::assert_snapshot!("gpu_abl_base", html);
}

#[test]
fn gpu_abl_rent_decline() {
    let (html, reports) = page("gpu_abl", &[Some("rent_decline")]);
    assert_structure(&html, &reports);
    // DSCR 1.0925 against 1.30x: 1.0925 / 1.30 − 1 = −15.96%; the bar is red.
    assert!(html.contains("1.09x · test &gt;= 1.30x · headroom -15.96%"));
    assert!(html.contains("2 of 2 covenants breached") && html.contains("enforcement triggered"));
    assert!(html.contains("fill=\"#c62828\""));
    insta::assert_snapshot!("gpu_abl_rent_decline", html);
}

#[test]
fn miner_facility_base_case() {
    let (html, reports) = page("miner_facility", &[None]);
    assert_structure(&html, &reports);
    // Both margin calls (top-up over 75%, return under 55%) mark the eligible LTV of 61.07%.
    assert!(html.contains(">ltv_call &gt; 75.00%<") && html.contains(">ltv_return &lt; 55.00%<") && html.contains(">61.07%<"));
    insta::assert_snapshot!("miner_facility_base", html);
}

#[test]
fn miner_facility_convergence() {
    let (html, reports) = page("miner_facility", &[Some("convergence")]);
    assert_structure(&html, &reports);
    // The call rounded up to 10,000: 42,888,696.05 → 42,890,000 USD.
    assert!(html.contains("ltv_call called 42,890,000.00 USD"));
    insta::assert_snapshot!("miner_facility_convergence", html);
}

#[test]
fn every_scenario_beside_the_base_case() {
    let program = Program::compile_file(Path::new("examples/miner_facility.cov")).unwrap();
    let mut cases = vec![None];
    cases.extend(program.scenario_names().map(Some));
    let (html, reports) = page("miner_facility", &cases);
    assert_eq!(reports.len(), 5);
    assert_structure(&html, &reports);
    assert!(html.contains("Stress table"));
    // A stress-table row per case, and each scenario in two columns beside the base case.
    assert_eq!(html.matches("<td class=\"case\">").count(), 5);
    assert_eq!(html.matches("beside the base case</h2>").count(), 4);
    assert_eq!(html.matches("<div class=\"cols\">").count(), 4);
    // An LTV over a trigger is coloured in the stress table: convergence's eligible LTV of
    // 103.45% is over enforcement's 90% (red); the base case's 61.07% over none.
    assert!(html.contains("<td class=\"num breach\">103.45%</td>"));
    assert!(html.contains("<td class=\"num\">61.07%</td>"));
}

#[test]
fn markup_in_names_and_titles_is_shown_as_text() {
    let src = r#"
        facility "</style><script>alert(1)</script>"
        input { as_of: Date  debt: Money(USD)  pledged: Money(USD) }
        let ltv = input.debt / input.pledged
        covenant max_ltv "<img src=x onerror=alert(2)>" { require ltv <= 80% }
        scenario crash "<b>crash</b> & burn" { input.pledged *= 50% }
    "#;
    let program = Program::compile("f.cov", src).unwrap();
    let data = r#"{"as_of": "2026-03-31", "debt": "50", "pledged": "100"}"#;
    let reports = vec![program.evaluate(data, None).unwrap(), program.evaluate(data, Some("crash")).unwrap()];
    let html = covenant::html::report::render(&program, &reports);
    assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("<b>"), "{html}");
    assert!(html.contains("<title>&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt; — as of 2026-03-31</title>"));
    assert!(html.contains("<h1>&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;</h1>"));
    assert!(html.contains("max_ltv — &lt;img src=x onerror=alert(2)&gt;"));
    assert!(html.contains("&lt;b&gt;crash&lt;/b&gt; &amp; burn"));
    // The stylesheet is closed once, by the page itself.
    assert_eq!(html.matches("</style>").count(), 1);
}

#[test]
fn the_command_writes_the_page() {
    let out = Command::new(env!("CARGO_BIN_EXE_covenant"))
        .args(["run", "examples/gpu_abl.cov", "--data", "examples/data/gpu_abl.json", "--all-scenarios", "--format", "html"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("<td class=\"case\">").count(), 4);
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name))).find(|p| p.is_file())
}

/// Width and height from a PNG's header chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(bytes.get(..8), Some(&b"\x89PNG\r\n\x1a\n"[..]), "not a PNG");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn pages_render_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "chromium is not installed: CI must install it (apt-get install chromium)");
        eprintln!("skipped: chromium is not installed (apt-get install chromium); CI requires it");
        return;
    };
    let dir = std::env::temp_dir().join(format!("covenant-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, &str, Option<&str>); 4] = [
        ("gpu_base", "gpu_abl", None),
        ("gpu_rent_decline", "gpu_abl", Some("rent_decline")),
        ("miner_base", "miner_facility", None),
        ("miner_convergence", "miner_facility", Some("convergence")),
    ];
    for (name, example, scenario) in cases {
        let (html, _) = page(example, &[scenario]);
        let file = dir.join(format!("{name}.html"));
        let png = dir.join(format!("{name}.png"));
        std::fs::write(&file, html).unwrap();
        let profile = dir.join(format!("{name}-profile"));
        let mut child = Command::new(&chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--screenshot={}", png.display()))
            .arg("--window-size=1280,2400")
            .arg(format!("file://{}", file.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                panic!("chromium took over 120 s on {name}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot of {name}: {e}"));
        assert_eq!(png_size(&bytes), (1280, 2400), "{name}");
        // A blank page of that size is about 14 KB; these pages of charts and tables over 100 KB.
        assert!(bytes.len() > 60_000, "{name}: a {} byte screenshot looks blank", bytes.len());
        eprintln!("screenshot {}", png.display());
    }
}
