//! `covenant repl`: scripted sessions through the release binary (stdin not a terminal), as
//! insta transcripts, and one session through a real pseudo-terminal (tmux).
//!
//! A transcript is the inputs, then what the session printed, stdout and stderr merged in
//! the order written, then the exit code.

use std::io::Write as _;
use std::process::{Command, Stdio};

const MINER: &[&str] = &["examples/miner_facility.cov", "--data", "examples/data/miner_facility.json"];

/// Runs a scripted session; returns the transcript and the exit code.
fn session(args: &[&str], input: &str) -> (String, i32) {
    let bin = env!("CARGO_BIN_EXE_covenant");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    // One pipe for both streams keeps results and diagnostics in the order written.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("'{bin}' repl {} 2>&1", quoted.join(" ")))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("input written");
    let out = child.wait_with_output().expect("the session ends");
    let code = out.status.code().unwrap_or(-1);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    (format!("── input ──\n{input}── output ──\n{text}── exit {code} ──\n"), code)
}

#[test]
fn expressions_print_as_the_report_prints_them() {
    let input = "\
eligible_ltv
eligible_ltv as percent
btc.eligible_value
ltv_call.amount
ltv_call
residual(14)
sum(g.count for g in input.gpus)
input.btc.price * 80%
:type eligible_ltv
:type ltv_call.due
";
    let (transcript, code) = session(MINER, input);
    assert_eq!(code, 0, "{transcript}");
    // LTV = 75,000,000 / 122,818,562.5 = 61.07%; BTC eligible 123,750,000 * (1 - 0.24465).
    assert!(transcript.contains("\n0.6107\n61.07%\n93,474,562.50 USD\n0.00 USD\n"), "{transcript}");
    // residual(14): between 12 => 65% and 24 => 40%: 65% - 25% * 2/12 = 60.83%.
    assert!(transcript.contains("\n60.83%\n3,072\n66,000.00 USD\n"), "{transcript}");
    assert!(transcript.contains("eligible_ltv: Number\nltv_call.due: Date\n"), "{transcript}");
    insta::assert_snapshot!(transcript);
}

#[test]
fn multi_line_input_and_an_error_the_session_survives() {
    let input = "\
let stressed_eligible = (btc.eligible_value * 50%
    + gpus.eligible_value)
ltv(debt,
    stressed_eligible)
eligible_ltv + 1 USD
nonsense_name * 2
1 / 0
stressed_eligible
let broken = (1 +
";
    let (transcript, code) = session(MINER, input);
    assert_eq!(code, 1, "three inputs failed: {transcript}");
    // 93,474,562.50 / 2 + 29,344,000 = 76,081,281.25; 75,000,000 / 76,081,281.25 = 0.98579.
    assert!(transcript.contains("defined `stressed_eligible`\n  stressed_eligible: 76,081,281.25 USD\n0.9858\n"), "{transcript}");
    assert!(transcript.contains("`+` does not apply to Number and Money(USD)"), "{transcript}");
    assert!(transcript.contains("unknown name `nonsense_name`"), "{transcript}");
    assert!(transcript.contains("division by zero"), "{transcript}");
    // The input left open at the end of the input is reported, pointing into the typed text.
    assert!(transcript.contains("<repl>"), "{transcript}");
    // The session went on with its state: the definition still answers.
    assert!(transcript.contains("division by zero (at <repl>:1:1)\n76,081,281.25 USD\n"), "{transcript}");
    insta::assert_snapshot!(transcript);
}

#[test]
fn a_redefinition_changes_the_rules_that_depend_on_it() {
    let input = "\
ltv_call.status
let debt = input.loan.outstanding * 130%
ltv_call.status
ltv_call.amount
:explain debt 1
covenant max_ltv \"LTV at most 70%\" {
  require eligible_ltv <= 70%
}
max_ltv.status
covenant max_ltv \"LTV at most 80%\" {
  require eligible_ltv <= 80%
}
";
    let (transcript, code) = session(MINER, input);
    assert_eq!(code, 0, "{transcript}");
    // Debt 97,500,000: LTV 97.5m / 122,818,562.5 = 79.39% > 75%: called.
    // 97,500,000 / 65% - 122,818,562.50 = 27,181,437.50, rounded up to 27,190,000.
    assert!(transcript.contains("none\nredefined `debt`\n"), "{transcript}");
    assert!(transcript.contains("  ltv_call.status: none → called\n  ltv_call.amount: 0.00 USD → 27,190,000.00 USD\n"), "{transcript}");
    assert!(transcript.contains("\ncalled\n27,190,000.00 USD\n"), "{transcript}");
    // An explanation points at the text typed, not past the end of the script.
    assert!(transcript.contains("debt = input.loan.outstanding * 130%  →  97,500,000.00 USD  (<repl>:1:5)\n"), "{transcript}");
    assert!(transcript.contains("└─ 130%  →  1.3  (<repl>:1:37)\n"), "{transcript}");
    // 79.39% breaches a 70% limit and passes an 80% one.
    assert!(transcript.contains("breach\nredefined `max_ltv`\n"), "{transcript}");
    assert!(transcript.contains("  max_ltv.status: breach → pass\n"), "{transcript}");
    insta::assert_snapshot!(transcript);
}

#[test]
fn a_shock_changes_the_margin_call_and_unshock_restores_it() {
    let input = "\
ltv_call.amount
:shock input.btc.price *= 50%
ltv_call.amount
:shock input.btc.price *= 2 USD
:unshock
ltv_call.amount
:scenario btc_crash
ltv_call.amount
:shock input.gpus[*].rent_per_hour *= 70%
ltv_call.amount
:scenario none
:unshock
";
    let (transcript, code) = session(MINER, input);
    assert_eq!(code, 1, "the shock by money fails: {transcript}");
    // BTC at 41,250: eligible 46,737,281.25 + 29,344,000 = 76,081,281.25 (LTV 98.58%);
    // 115,384,615.38 - 76,081,281.25 = 39,303,334.13, rounded up: 39,310,000 (as btc_crash).
    assert!(transcript.contains("  ltv_call.status: none → called\n  ltv_call.amount: 0.00 USD → 39,310,000.00 USD\n"), "{transcript}");
    assert!(transcript.contains("\n39,310,000.00 USD\n"), "{transcript}");
    assert!(transcript.contains("expected Number, found Money(USD)"), "{transcript}");
    assert!(transcript.contains("shocks removed\n"), "{transcript}");
    // A what-if adds to the scenario: btc_crash plus rent -30% is the convergence case, 42,890,000.
    assert!(transcript.contains("\n42,890,000.00 USD\n"), "{transcript}");
    insta::assert_snapshot!(transcript);
}

#[test]
fn every_meta_command() {
    let input = "\
:help
:rules
:explain ltv_call.amount 1
:explain ltv_cal
:inputs
:data examples/data/gpu_abl.json
:load examples/gpu_abl.cov
:data examples/data/gpu_abl.json
let debt = input.loan.outstanding * 2
:reload
debt
:s
:scenario nonesuch
:frobnicate
:type
:quit
debt
";
    let (transcript, code) = session(MINER, input);
    assert_eq!(code, 1, "{transcript}");
    assert!(transcript.contains(":shock PATH OP VALUE"), "{transcript}");
    assert!(transcript.contains("Margin calls"), "{transcript}");
    assert!(transcript.contains("ltv_call.amount = margin_call ltv_call"), "{transcript}");
    assert!(transcript.contains("did you mean `ltv_call`"), "{transcript}");
    assert!(transcript.contains("input.btc.price "), "{transcript}");
    assert!(transcript.contains("loaded examples/gpu_abl.cov\n"), "{transcript}");
    assert!(transcript.contains("`:s` is ambiguous: :scenario"), "{transcript}");
    assert!(transcript.contains("unknown command `:frobnicate`"), "{transcript}");
    // After :quit nothing more is read.
    assert!(transcript.trim_end().ends_with("── exit 1 ──"), "{transcript}");
    insta::assert_snapshot!(transcript);
}

/// Input that never completes (a bracket left open, then 20,000 lines each ending in `+`) is
/// taken in bounded pieces, each reported, rather than parsed again at every line (which took
/// minutes); a meta-command never continues onto the next line.
#[test]
fn unfinished_input_from_a_pipe_costs_bounded_work() {
    let mut input = String::from(":type 1 +\nmax(1,\n");
    input.push_str(&"  1 +\n".repeat(20_000));
    let started = std::time::Instant::now();
    let (transcript, code) = session(MINER, &input);
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(code, 1);
    assert!(seconds < 20.0, "{seconds} s");
    // `:type 1 +` is one input of its own, reported as unfinished.
    let first = transcript.split("── output ──\n").nth(1).unwrap_or("");
    assert!(first.starts_with("covenant::syntax::unexpected"), "{}", &first[..first.len().min(400)]);
    // 20,001 lines, at most 1,000 an input: at least 21 failures, each a diagnostic.
    assert!(transcript.matches("covenant::syntax::unexpected").count() >= 21);
}

/// Drives the REPL on a real pseudo-terminal (util-linux `script` allocates it and passes
/// the keys typed): Tab completes a rule name, a rule field and an input field, an open
/// bracket continues the input, Ctrl-C cancels a line, keywords and numbers are coloured,
/// Ctrl-D quits, and the history is
/// written where `COVENANT_HISTORY` says.
#[test]
fn on_a_terminal_completion_continuation_and_ctrl_c() {
    use std::io::Read as _;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    if Command::new("script").arg("--version").output().is_err() {
        println!("skipped: `script` (util-linux) is not installed, so no pseudo-terminal can be had");
        return;
    }
    let dir = std::env::temp_dir().join(format!("covenant-repl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let history = dir.join("history");
    let command = format!("stty cols 160 rows 50; exec '{}' repl {}", env!("CARGO_BIN_EXE_covenant"), MINER.join(" "));
    let mut child = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TERM", "xterm")
        .env("COVENANT_HISTORY", &history)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let screen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let screen = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        })
    };
    // What the terminal showed, without its control sequences.
    let text = || strip_terminal_codes(&String::from_utf8_lossy(&screen.lock().expect("lock")));
    let wait_for = |expected: &str| {
        for _ in 0..200 {
            if text().contains(expected) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("`{expected}` never appeared on the terminal:\n{}", text());
    };
    let mut keys = |keys: &str| {
        stdin.write_all(keys.as_bytes()).expect("keys sent");
        stdin.flush().expect("keys sent");
        std::thread::sleep(Duration::from_millis(200));
    };
    wait_for("covenant> ");
    // A rule name, then one of its fields: `ltv_ca⇥.am⇥` is `ltv_call.amount`.
    keys("ltv_ca\t");
    keys(".am\t");
    keys("\r");
    wait_for("ltv_call.amount\n0.00 USD");
    // An input path, through the schema.
    keys("input.btc.pr\t");
    keys("\r");
    wait_for("input.btc.price\n82,500.00 USD");
    // An open bracket continues on the next line; the two lines are one input.
    keys("max(1,\r");
    keys("2)\r");
    wait_for("2)\n2\n");
    // Ctrl-C drops the line, and the session goes on.
    keys("this is never evaluated\x03");
    keys("residual(14)\r");
    wait_for("60.83%");
    // Keywords and numbers are coloured as they are typed.
    keys("if true then 5% else 2\r");
    wait_for("else 2\n0.05");
    let raw = String::from_utf8_lossy(&screen.lock().expect("lock")).into_owned();
    assert!(raw.contains("\x1b[1;35mif\x1b[0m") && raw.contains("\x1b[33m5%\x1b[0m"), "{raw:?}");
    keys("\x04");
    let status = child.wait().expect("the session ends");
    reader.join().expect("reader");
    assert!(status.success(), "{}", text());
    let shown = text();
    assert!(!shown.contains("unknown name `this`"), "{shown}");
    let saved = std::fs::read_to_string(&history).unwrap_or_default();
    assert!(saved.contains("ltv_call.amount") && saved.contains("max(1,") && saved.contains("residual(14)"), "history: {saved:?}");
    assert!(!saved.contains("never evaluated"), "history: {saved:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Terminal output as text: escape sequences dropped, carriage returns removed.
fn strip_terminal_codes(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    while let Some(x) = chars.next() {
                        if x.is_ascii_alphabetic() || x == '~' {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}
